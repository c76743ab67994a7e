"""Routing accounting: every item a routing processor takes shows up in its stats().

Each processor gets a Hypothesis property over a hot ``Subject``: random items,
some of whose routing calls fail (in either errors mode), and branches
disposed at random points. The property checks the identity the stats record
documents, and that the per-branch counts are what the subscribers saw.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable
from reactivex.subject import Subject

from rxstreamz import (
    FanInStats,
    FanOutStats,
    Operator,
    PartitionStats,
    RouterStats,
    SplitStats,
    SwitchStats,
    collect,
    fan_in,
    fan_out,
    partition_,
    router,
    split,
    switch,
)
from rxstreamz._accounting import ProcessorStats, Row
from rxstreamz.routing._hub import Accounts
from tests.support import Boom, pushed

Item = tuple[int, bool]
"""A value and whether the routing function fails on it."""

Event = tuple[Literal["item"], Item] | tuple[Literal["dispose"], int]
"""Push an item into the source, or dispose one branch (by index)."""

ErrorMode = Literal["raise", "skip"]


def _push(item: Item) -> Event:
    return ("item", item)


def _dispose(branch: int) -> Event:
    return ("dispose", branch)


def events(branches: int) -> st.SearchStrategy[list[Event]]:
    """Random pushes, some failing, mixed with disposals of random branches."""
    item = st.builds(_push, st.tuples(st.integers(0, 11), st.booleans()))
    dispose = st.builds(_dispose, st.integers(0, branches - 1))
    return st.lists(st.one_of(item, item, item, dispose), max_size=40)


errors_modes = st.sampled_from(["raise", "skip"])


def fails(item: Item) -> Item:
    if item[1]:
        raise Boom(item[0])
    return item


def even_or_fail(item: Item) -> bool:
    return fails(item)[0] % 2 == 0


def triple(item: Item) -> bool:
    return item[0] % 3 == 0


def big(item: Item) -> bool:
    return item[0] > 8


@dataclass
class Drive:
    """What happened when a list of events was played into branches."""

    seen: list[list[Item]]
    received: int = 0
    failing: int = 0
    errors: list[Exception] = field(default_factory=list[Exception])


def play(
    subject: Subject[Item], branches: Sequence[Observable[Item]], script: list[Event]
) -> Drive:
    """Subscribe every branch, play ``script``, then complete the source."""
    drive = Drive(seen=[[] for _ in branches])
    subscriptions = [
        branch.subscribe(seen.append, drive.errors.append)
        for branch, seen in zip(branches, drive.seen, strict=True)
    ]
    for event in script:
        if event[0] == "dispose":
            subscriptions[event[1]].dispose()
            continue
        item = event[1]
        if subject.observers:  # upstream is still subscribed: the item is taken
            drive.received += 1
            drive.failing += item[1]
        subject.on_next(item)
    subject.on_completed()
    return drive


def assert_common(stats: ProcessorStats, drive: Drive, mode: ErrorMode) -> None:
    assert stats.received == drive.received
    if mode == "skip":
        assert stats.failed == drive.failing
        assert drive.errors == []
    else:
        assert stats.failed == len({id(e) for e in drive.errors}) <= 1


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(script=events(3), mode=errors_modes)
def test_partition_every_item_is_emitted_failed_or_dropped(
    script: list[Event], mode: ErrorMode
) -> None:
    spread = partition_(fails, 3, partitioner=lambda item, n: item[0] % n, errors=mode)
    subject: Subject[Item] = Subject()
    drive = play(subject, subject.pipe(spread), script)
    stats = spread.stats()
    assert_common(stats, drive, mode)
    assert stats.received == sum(stats.per_partition) + stats.failed + stats.dropped
    assert stats.total == stats.received
    assert stats.per_partition == tuple(len(seen) for seen in drive.seen)
    for index, seen in enumerate(drive.seen):
        assert all(value % 3 == index and not bad for value, bad in seen)


@settings(max_examples=60, deadline=None)
@given(script=events(2), mode=errors_modes)
def test_split_every_item_is_matched_unmatched_failed_or_dropped(
    script: list[Event], mode: ErrorMode
) -> None:
    parity = split(even_or_fail, errors=mode)
    subject: Subject[Item] = Subject()
    drive = play(subject, subject.pipe(parity), script)
    stats = parity.stats()
    assert_common(stats, drive, mode)
    assert stats.received == stats.matched + stats.unmatched + stats.failed + stats.dropped
    assert stats.total == stats.received
    assert (stats.matched, stats.unmatched) == (len(drive.seen[0]), len(drive.seen[1]))


@settings(max_examples=80, deadline=None)
@given(
    script=events(3),
    mode=errors_modes,
    route_mode=st.sampled_from(["first", "all"]),
    default=st.booleans(),
)
def test_router_every_item_is_routed_unrouted_failed_or_dropped(
    script: list[Event], mode: ErrorMode, route_mode: Literal["first", "all"], default: bool
) -> None:
    routing = router(
        {
            "even": even_or_fail,
            "triple": triple,
            "big": big,
        },
        default=default,
        mode=route_mode,
        errors=mode,
    )
    subject: Subject[Item] = Subject()
    routes = subject.pipe(routing)
    # Disposals name one of the first three routes; "default" stays subscribed.
    drive = play(subject, list(routes.values()), script)
    stats = routing.stats()
    assert_common(stats, drive, mode)
    assert stats.received == stats.routed + stats.unrouted + stats.failed + stats.dropped
    assert stats.total == stats.received
    assert list(stats.per_route.values()) == [len(seen) for seen in drive.seen]
    emitted_items = {id(item) for seen in drive.seen for item in seen}
    assert stats.routed == len(emitted_items)
    if route_mode == "first":
        assert sum(stats.per_route.values()) == stats.routed
    else:
        assert sum(stats.per_route.values()) >= stats.routed
    if default:
        assert stats.unrouted == 0


@settings(max_examples=60, deadline=None)
@given(script=events(3))
def test_fan_out_every_item_is_delivered_or_dropped(script: list[Event]) -> None:
    copies = fan_out(3)
    subject: Subject[Item] = Subject()
    drive = play(subject, subject.pipe(copies), script)
    stats = copies.stats()
    assert_common(stats, drive, "raise")
    assert stats.failed == 0
    assert stats.received == stats.delivered + stats.dropped
    assert stats.per_branch == tuple(len(seen) for seen in drive.seen)
    assert stats.delivered == len({id(item) for seen in drive.seen for item in seen})
    assert all(count <= stats.delivered for count in stats.per_branch)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(0, 11), st.booleans()), max_size=30),
    mode=errors_modes,
    limit=st.integers(0, 4),
    stop_at=st.integers(0, 30),
    default=st.booleans(),
)
def test_switch_every_item_is_handed_over_unmatched_failed_or_dropped(
    items: list[Item], mode: ErrorMode, limit: int, stop_at: int, default: bool
) -> None:
    handed: list[list[Item]] = [[], [], []]

    def case(
        index: int, then: Callable[[Observable[Item]], Observable[Item]]
    ) -> Callable[[Observable[Item]], Observable[Item]]:
        return lambda branch: branch.pipe(ops.do_action(handed[index].append), then)

    chooser = switch(
        [
            (even_or_fail, case(0, ops.take(limit))),  # stops listening early
            (triple, case(1, ops.map(lambda item: item))),
        ],
        default=case(2, ops.map(lambda item: item)) if default else None,
        errors=mode,
    )
    subject: Subject[Item] = Subject()
    out: list[Item] = []
    errors: list[Exception] = []
    subscription = subject.pipe(chooser).subscribe(out.append, errors.append)
    received = failing = 0
    for position, item in enumerate(items):
        if position == stop_at:
            subscription.dispose()
        if subject.observers:
            received += 1
            failing += item[1]
        subject.on_next(item)
    subject.on_completed()
    stats = chooser.stats()
    drive = Drive(seen=[], received=received, failing=failing, errors=errors)
    assert_common(stats, drive, mode)
    assert stats.received == (
        sum(stats.per_case) + stats.defaulted + stats.unmatched + stats.failed + stats.dropped
    )
    assert stats.total == stats.received
    # take_ lets through the first `limit` items and then stops listening.
    assert stats.per_case == (len(handed[0]), len(handed[1]))
    assert len(handed[0]) <= max(limit, 1)
    assert stats.defaulted == len(handed[2])
    if default:
        assert stats.unmatched == 0


FanInEvent = (
    tuple[Literal["item"], int, int]
    | tuple[Literal["complete"], int]
    | tuple[Literal["error"], int]
    | tuple[Literal["dispose"]]
)


@settings(max_examples=60, deadline=None)
@given(
    script=st.lists(
        st.one_of(
            st.tuples(st.just("item"), st.integers(0, 2), st.integers()),
            st.tuples(st.just("item"), st.integers(0, 2), st.integers()),
            st.tuples(st.just("item"), st.integers(0, 2), st.integers()),
            st.tuples(st.just("complete"), st.integers(0, 2)),
            st.tuples(st.just("error"), st.integers(0, 2)),
            st.tuples(st.just("dispose")),
        ),
        max_size=40,
    )
)
def test_fan_in_every_item_is_emitted_or_dropped(script: list[FanInEvent]) -> None:
    subjects: list[Subject[int]] = [Subject(), Subject(), Subject()]
    merged = fan_in(*subjects)
    out: list[int] = []
    subscription = merged.subscribe(out.append, lambda _: None)
    taken = [0, 0, 0]
    for event in script:
        if event[0] == "dispose":
            subscription.dispose()
            continue
        subject = subjects[event[1]]
        if event[0] == "complete":
            subject.on_completed()
        elif event[0] == "error":
            subject.on_error(Boom())
        else:
            taken[event[1]] += bool(subject.observers)
            subject.on_next(event[2])
    stats = merged.stats()
    assert stats.per_source == tuple(taken)
    assert stats.received == sum(stats.per_source) == stats.emitted + stats.dropped
    assert stats.emitted == len(out)
    assert stats.failed == 0


# --------------------------------------------------------------------------- drops


def test_an_item_for_a_partition_without_subscribers_is_dropped() -> None:
    spread: Operator[int, tuple[Observable[int], ...], PartitionStats] = partition_(
        lambda n: n, 2, partitioner=lambda key, n: key % n
    )
    subject: Subject[int] = Subject()
    evens, odds = subject.pipe(spread)
    got: list[int] = []
    evens.subscribe(got.append)
    odd_subscription = odds.subscribe(got.append)
    subject.on_next(1)
    odd_subscription.dispose()
    for n in (2, 3, 5, 4):
        subject.on_next(n)
    stats = spread.stats()
    assert got == [1, 2, 4]
    assert (stats.received, stats.per_partition, stats.dropped) == (5, (2, 1), 2)


def test_split_counts_an_item_for_a_disposed_branch_as_dropped() -> None:
    parity: Operator[int, tuple[Observable[int], Observable[int]], SplitStats] = split(
        lambda n: n % 2 == 0
    )
    subject: Subject[int] = Subject()
    evens, odds = subject.pipe(parity)
    evens.subscribe()
    odds.subscribe().dispose()
    for n in range(5):
        subject.on_next(n)
    assert parity.stats() == SplitStats(
        received=5, failed=0, dropped=2, total=5, matched=3, unmatched=0
    )


def test_router_all_counts_an_item_once_and_each_route_it_reached() -> None:
    routing = router({"even": lambda n: n % 2 == 0, "triple": lambda n: n % 3 == 0}, mode="all")
    subject: Subject[int] = Subject()
    routes = subject.pipe(routing)
    routes["even"].subscribe()
    triple = routes["triple"].subscribe()
    subject.on_next(6)  # both routes
    triple.dispose()
    subject.on_next(12)  # both match; only "even" is listening
    subject.on_next(9)  # only "triple" matches, and it has gone
    subject.on_next(7)  # nothing matches
    per_route = {"even": 2, "triple": 1}
    assert routing.stats() == RouterStats(
        received=4, failed=0, dropped=1, total=4, per_route=per_route, routed=2, unrouted=1
    )


def test_fan_out_counts_deliveries_per_branch_and_items_that_reached_none() -> None:
    copies = fan_out(2)
    subject: Subject[int] = Subject()
    first, second = subject.pipe(copies)
    one = first.subscribe()
    two = second.subscribe()
    subject.on_next(1)
    one.dispose()
    subject.on_next(2)
    assert copies.stats() == FanOutStats(
        received=2, failed=0, dropped=0, delivered=2, per_branch=(1, 2)
    )
    two.dispose()  # the run ends: upstream is disposed
    subject.on_next(3)
    assert copies.stats().received == 2


def test_fan_out_counts_a_branch_disposed_by_an_earlier_one_mid_item() -> None:
    copies = fan_out(2)
    subject: Subject[int] = Subject()
    first, second = subject.pipe(copies)
    later: abc.DisposableBase = Disposable()

    def on_first(n: int) -> None:
        if n == 2:
            later.dispose()

    first.subscribe(on_first)
    later = second.subscribe()
    subject.on_next(1)
    subject.on_next(2)  # branch 0 disposes branch 1 before 2 reaches it
    assert copies.stats().per_branch == (2, 1)


def test_a_case_that_stopped_listening_drops_its_items() -> None:
    chooser: Operator[int, Observable[int], SwitchStats] = switch(
        [(lambda n: n < 0, ops.take(1))], default=ops.map(lambda n: n)
    )
    assert collect(rx.of(-1, 1, -2, -3).pipe(chooser)) == [-1, 1]
    stats = chooser.stats()
    assert (stats.received, stats.per_case, stats.defaulted, stats.dropped) == (4, (1,), 1, 2)


@pytest.mark.parametrize("mode", ["raise", "skip"])
def test_items_offered_after_a_raise_mode_failure_are_dropped(mode: ErrorMode) -> None:
    def predicate(n: int) -> bool:
        if n == 1:
            raise Boom(n)
        return n % 2 == 0

    parity = split(predicate, errors=mode)
    evens, odds = pushed(4, []).pipe(parity)  # keeps pushing after the failure
    evens.subscribe(on_error=lambda _: None)
    odds.subscribe(on_error=lambda _: None)
    stats = parity.stats()
    expected = {"raise": (4, 1, 2, 1, 0), "skip": (4, 1, 0, 2, 1)}[mode]
    assert (stats.received, stats.failed, stats.dropped, stats.matched, stats.unmatched) == (
        expected
    )


def test_fan_in_counts_items_a_source_sends_after_the_result_failed() -> None:
    late: Subject[int] = Subject()
    failing: Subject[int] = Subject()
    merged = fan_in(failing, late)
    out: list[int] = []
    merged.subscribe(out.append, lambda _: late.on_next(99))  # re-entrant, before disposal
    late.on_next(1)
    failing.on_error(Boom())
    assert out == [1]
    assert merged.stats() == FanInStats(
        received=2, failed=0, dropped=1, emitted=1, per_source=(0, 2)
    )


# --------------------------------------------------------------------------- totals


def test_counts_outlive_the_runs_that_made_them() -> None:
    parity: Operator[int, tuple[Observable[int], Observable[int]], SplitStats] = split(
        lambda n: n % 2 == 0
    )
    for _ in range(3):
        for branch in rx.range(10).pipe(parity):
            branch.subscribe()
    gc.collect()  # the runs' on_next functions are gone: their rows are retired
    stats = parity.stats()
    assert (stats.received, stats.matched, stats.unmatched) == (30, 15, 15)
    assert parity.stats() == stats, "folding retired rows keeps the totals"


def test_fan_in_stats_sum_every_subscription() -> None:
    merged = fan_in(rx.of(1, 2), rx.of(3))
    assert collect(merged) == [1, 2, 3]
    assert collect(merged) == [1, 2, 3]
    assert merged.stats() == FanInStats(
        received=6, failed=0, dropped=0, emitted=6, per_source=(4, 2)
    )
    assert repr(merged) == "<FanIn sources=2>"
    assert fan_in().stats() == FanInStats(received=0, failed=0, dropped=0, emitted=0, per_source=())


def test_stats_balance_while_branches_are_disposed_on_another_thread(
    no_thread_leak: None,
) -> None:
    for _ in range(20):
        spread: Operator[int, tuple[Observable[int], ...], PartitionStats] = partition_(
            lambda n: n, 3, partitioner=lambda key, n: key % n
        )
        subject: Subject[int] = Subject()
        branches = subject.pipe(spread)
        subscriptions = [branch.subscribe() for branch in branches]
        started = threading.Event()

        def push(source: Subject[int] = subject, ready: threading.Event = started) -> None:
            ready.set()
            for n in range(3000):
                source.on_next(n)

        producer = threading.Thread(target=push)
        producer.start()
        started.wait(5)
        for subscription in subscriptions:
            subscription.dispose()
        producer.join(10)
        assert not producer.is_alive()
        stats = spread.stats()
        assert stats.received == sum(stats.per_partition) + stats.failed + stats.dropped
        assert stats.failed == 0


def test_a_runs_rows_retire_once_its_writer_is_collected() -> None:
    accounts = Accounts(Row, 2)
    row, counts = rows = accounts.open()

    def writer() -> None:
        return None

    accounts.watch(writer, rows)
    row.received += 2
    counts[1].count += 1
    assert accounts.totals() == ({"dropped": 0, "failed": 0, "received": 2}, (0, 1))
    del writer
    gc.collect()
    assert accounts.totals() == ({"dropped": 0, "failed": 0, "received": 2}, (0, 1))
    row.received += 100  # folded into the totals: the row no longer counts
    counts[1].count += 100
    assert accounts.totals() == ({"dropped": 0, "failed": 0, "received": 2}, (0, 1))
