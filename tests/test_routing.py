"""Routing: fan_in, fan_out, partition_, split, router, switch."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import reactivex as rx
from hypothesis import given
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.notification import OnError, OnNext
from reactivex.subject import Subject
from reactivex.testing import TestScheduler
from reactivex.testing.mockobserver import MockObserver

from rxstreamz import (
    DeadLetter,
    Operator,
    PartitionError,
    PartitionStats,
    RouterStats,
    SplitStats,
    SwitchStats,
    chunk,
    collect,
    fan_in,
    fan_out,
    fnv1a_32,
    map_,
    partition_,
    router,
    split,
    switch,
    take_,
)
from rxstreamz.metrics._sources import Tracked
from rxstreamz.routing import Case, RouteMode
from tests.support import (
    Ambiguous,
    Boom,
    ambiguous_on,
    on_completed,
    on_error,
    on_next,
    subscribe,
)

Partitioned = Operator[int, tuple[Observable[int], ...], PartitionStats]
"""A ``partition_`` of ints: the declared type lets a ``lambda`` key infer ``int``."""


def raise_on(bad: int, result: object = True) -> Callable[[int], Any]:
    def fn(n: int) -> object:
        if n == bad:
            raise Boom(f"bad {n}")
        return result

    return fn


def attach(
    scheduler: TestScheduler, branch: Observable[Any], at: float, until: float | None = None
) -> MockObserver[Any]:
    """Subscribe a recording observer to ``branch`` at ``at``; dispose it at ``until``."""
    observer: MockObserver[Any] = scheduler.create_observer()
    held: list[abc.DisposableBase] = []

    def do_subscribe(_: abc.SchedulerBase, __: object = None) -> None:
        held.append(branch.subscribe(observer, scheduler=scheduler))

    def do_dispose(_: abc.SchedulerBase, __: object = None) -> None:
        held[0].dispose()

    scheduler.schedule_absolute(at, do_subscribe)
    if until is not None:
        scheduler.schedule_absolute(until, do_dispose)
    return observer


class Log:
    """A global delivery log over several branches: (branch, kind, value)."""

    def __init__(self) -> None:
        self.entries: list[tuple[object, str, object]] = []

    def follow(self, label: object, branch: Observable[Any]) -> abc.DisposableBase:
        return branch.subscribe(
            lambda v: self.entries.append((label, "next", v)),
            lambda e: self.entries.append((label, "error", e)),
            lambda: self.entries.append((label, "completed", None)),
        )

    def items(self, label: object) -> list[object]:
        return [v for lab, kind, v in self.entries if lab == label and kind == "next"]


def run_all(branches: Sequence[Observable[Any]]) -> list[list[Any]]:
    """Subscribe every branch (in order) to a synchronous source and return their items."""
    log = Log()
    for index, branch in enumerate(branches):
        log.follow(index, branch)
    return [log.items(index) for index in range(len(branches))]


# -- fan_out -------------------------------------------------------------------------------


def test_fan_out_delivers_every_item_to_every_branch_branch_0_first() -> None:
    log = Log()
    first, second, third = rx.of(1, 2, 3).pipe(fan_out(3))
    log.follow("c", third)
    log.follow("b", second)
    assert log.entries == [], "nothing flows before the last branch is subscribed"
    log.follow("a", first)  # branch 0 is subscribed last, yet served first
    assert log.entries == [
        ("a", "next", 1),
        ("b", "next", 1),
        ("c", "next", 1),
        ("a", "next", 2),
        ("b", "next", 2),
        ("c", "next", 2),
        ("a", "next", 3),
        ("b", "next", 3),
        ("c", "next", 3),
        ("a", "completed", None),
        ("b", "completed", None),
        ("c", "completed", None),
    ]


def test_fan_out_subscribes_upstream_once_when_the_last_branch_subscribes(
    scheduler: TestScheduler,
) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(260, 2), on_next(310, 3), on_completed(400)
    )
    branches = source.pipe(fan_out(3))
    a = attach(scheduler, branches[0], 200)
    b = attach(scheduler, branches[1], 250)
    c = attach(scheduler, branches[2], 300)
    scheduler.start()
    assert source.subscriptions == [subscribe(300, 400)]
    for observer in (a, b, c):
        assert observer.messages == [on_next(310, 3), on_completed(400)]


def test_fan_out_never_subscribed_branch_holds_everything_back(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(300))
    branches = source.pipe(fan_out(2))
    a = attach(scheduler, branches[0], 200)
    scheduler.start()
    assert source.subscriptions == []
    assert a.messages == []


def test_fan_out_disposing_every_branch_disposes_upstream(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(310, 2), on_next(410, 3), on_completed(500)
    )
    branches = source.pipe(fan_out(3))
    a = attach(scheduler, branches[0], 200, until=300)
    b = attach(scheduler, branches[1], 200, until=400)
    c = attach(scheduler, branches[2], 200, until=400)
    scheduler.start()
    assert a.messages == [on_next(210, 1)], "a disposed branch stops receiving"
    assert b.messages == [on_next(210, 1), on_next(310, 2)]
    assert c.messages == b.messages
    assert source.subscriptions == [subscribe(200, 400)], "upstream outlives partial disposal"


def test_fan_out_upstream_error_reaches_every_branch_in_order() -> None:
    err = Boom("upstream")
    log = Log()
    left, right = rx.concat(rx.of(1), rx.throw(err)).pipe(fan_out(2))
    log.follow("right", right)
    log.follow("left", left)
    assert log.entries == [
        ("left", "next", 1),
        ("right", "next", 1),
        ("left", "error", err),
        ("right", "error", err),
    ]
    assert not getattr(err, "__notes__", None)


def test_fan_out_empty_and_never_sources(scheduler: TestScheduler) -> None:
    assert run_all(rx.empty().pipe(fan_out(2))) == [[], []]
    source = scheduler.create_hot_observable(on_next(150, 0))
    branches = rx.never().pipe(fan_out(2))
    observers = [attach(scheduler, branch, 200) for branch in branches]
    scheduler.start()
    assert [o.messages for o in observers] == [[], []]
    assert source.subscriptions == []


def test_fan_out_resubscribing_every_branch_starts_a_fresh_run(scheduler: TestScheduler) -> None:
    source = scheduler.create_cold_observable(on_next(10, "x"), on_completed(20))
    first, second = source.pipe(fan_out(2))
    run1 = [attach(scheduler, first, 200), attach(scheduler, second, 200)]
    run2 = [attach(scheduler, second, 300), attach(scheduler, first, 350)]
    scheduler.start()
    assert source.subscriptions == [subscribe(200, 220), subscribe(350, 370)]
    assert [o.messages for o in run1] == [[on_next(210, "x"), on_completed(220)]] * 2
    assert [o.messages for o in run2] == [[on_next(360, "x"), on_completed(370)]] * 2


def test_fan_out_two_subscribers_of_one_branch_share_the_run(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(310, 2), on_completed(400))
    first, second = source.pipe(fan_out(2))
    a1 = attach(scheduler, first, 200)
    a2 = attach(scheduler, first, 200)
    late = attach(scheduler, first, 300)  # joins the running run: sees items from then on
    b = attach(scheduler, second, 200)
    scheduler.start()
    assert source.subscriptions == [subscribe(200, 400)]
    assert a1.messages == a2.messages == b.messages
    assert a1.messages == [on_next(210, 1), on_next(310, 2), on_completed(400)]
    assert late.messages == [on_next(310, 2), on_completed(400)]


def test_fan_out_branch_disposed_by_an_earlier_branch_misses_the_item() -> None:
    subject: Subject[int] = Subject()
    first, second = subject.pipe(fan_out(2))
    got: list[tuple[str, int]] = []
    later: list[abc.DisposableBase] = []

    def on_first(n: int) -> None:
        got.append(("first", n))
        if n == 2:
            later[0].dispose()

    first.subscribe(on_first)
    later.append(second.subscribe(lambda n: got.append(("second", n))))
    for n in (1, 2, 3):
        subject.on_next(n)
    assert got == [("first", 1), ("second", 1), ("first", 2), ("first", 3)]


def test_fan_out_subscribers_that_take_a_few_items_end_the_run() -> None:
    source: Subject[int] = Subject()
    first, second = source.pipe(fan_out(2))
    out1: list[int] = []
    out2: list[int] = []
    first.pipe(take_(1)).subscribe(out1.append)
    second.pipe(take_(2)).subscribe(out2.append)
    for n in (1, 2, 3):
        source.on_next(n)
    assert (out1, out2) == ([1], [1, 2])
    assert not source.observers, "the last branch's disposal disposed upstream"


def test_fan_out_a_raising_subscriber_on_error_does_not_hide_the_error_from_later_branches() -> (
    None
):
    err = Boom("upstream")
    first, second = rx.throw(err).pipe(fan_out(2))
    seen: list[Exception] = []
    first.subscribe(lambda _: None)  # no on_error: RxPY re-raises the error here
    with pytest.raises(Boom):
        second.subscribe(on_error=seen.append)
    assert seen == [err]


def test_fan_out_invalid_n() -> None:
    with pytest.raises(ValueError, match=r"^n must be >= 1, got 0$"):
        fan_out(0)
    with pytest.raises(TypeError, match=r"^n must be an int, got bool$"):
        fan_out(True)
    with pytest.raises(TypeError, match=r"^n must be an int, got str$"):
        fan_out("3")  # pyright: ignore[reportArgumentType]


def test_branch_repr_names_the_processor() -> None:
    branches = rx.of(1).pipe(fan_out(2))
    assert repr(branches[1]) == "<Branch 'fan_out'[1]>"
    routes = rx.of(1).pipe(router({"a": bool}, default=True, name="r"))
    assert repr(routes["default"]) == "<Branch 'r'['default']>"


def test_fan_out_name_labels_its_branches_and_its_metrics() -> None:
    default, named = fan_out(2), fan_out(2, name="copies")
    assert (default.name, named.name) == ("fan_out", "copies")
    assert repr(rx.of(1).pipe(named)[1]) == "<Branch 'copies'[1]>"
    assert Tracked().add(default, None) == "fan_out"
    assert Tracked().add(named, None) == "copies"


def test_fan_in_name_labels_its_metrics() -> None:
    default, named = fan_in(rx.of(1)), fan_in(rx.of(1), rx.of(2), name="merged")
    assert (default.name, named.name) == ("fan_in", "merged")
    assert Tracked().add(default, None) == "fan_in"
    assert Tracked().add(named, None) == "merged"
    assert collect(named) == [1, 2]


@pytest.mark.parametrize(
    "factory",
    [lambda name: fan_out(2, name=name), lambda name: fan_in(rx.of(1), name=name)],
    ids=["fan_out", "fan_in"],
)
def test_fan_name_is_checked(factory: Callable[[Any], object]) -> None:
    with pytest.raises(ValueError, match=r"^name must not be empty$"):
        factory("")
    with pytest.raises(TypeError, match=r"^name must be a str, got int$"):
        factory(3)


# -- fan_in --------------------------------------------------------------------------------


def test_fan_in_completes_only_when_every_source_completes(scheduler: TestScheduler) -> None:
    a = scheduler.create_hot_observable(on_next(210, "a1"), on_completed(250))
    b = scheduler.create_hot_observable(on_next(220, "b1"), on_next(300, "b2"), on_completed(400))
    c = scheduler.create_hot_observable(on_completed(230))
    result = scheduler.start(lambda: fan_in(a, b, c))
    assert result.messages == [
        on_next(210, "a1"),
        on_next(220, "b1"),
        on_next(300, "b2"),
        on_completed(400),
    ]
    assert a.subscriptions == [subscribe(200, 250)]
    assert b.subscriptions == [subscribe(200, 400)]


def test_fan_in_without_sources_completes_at_once(scheduler: TestScheduler) -> None:
    result = scheduler.start(lambda: fan_in())
    assert result.messages == [on_completed(200)]
    assert collect(fan_in()) == []


def test_fan_in_error_fails_the_merge_and_disposes_the_others(scheduler: TestScheduler) -> None:
    err = Boom("b")
    a = scheduler.create_hot_observable(on_next(210, 1), on_next(400, 2), on_completed(500))
    b = scheduler.create_hot_observable(on_error(300, err))
    result = scheduler.start(lambda: fan_in(a, b))
    assert result.messages == [on_next(210, 1), on_error(300, err)]
    assert a.subscriptions == [subscribe(200, 300)]


def test_fan_in_dispose_disposes_every_source(scheduler: TestScheduler) -> None:
    a = scheduler.create_hot_observable(on_next(210, 1), on_next(400, 2))
    b = scheduler.create_hot_observable(on_next(220, 3))
    result = scheduler.start(lambda: fan_in(a, b), disposed=300)
    assert result.messages == [on_next(210, 1), on_next(220, 3)]
    assert a.subscriptions == [subscribe(200, 300)]
    assert b.subscriptions == [subscribe(200, 300)]


def test_fan_in_subscriptions_are_independent_runs() -> None:
    merged = fan_in(rx.of(1, 2), rx.of(3))
    assert collect(merged) == [1, 2, 3]
    assert collect(merged) == [1, 2, 3]


def test_fan_in_rejects_non_observables() -> None:
    with pytest.raises(TypeError, match=r"^sources\[1\] must be an Observable, got list$"):
        fan_in(rx.of(1), [2])  # pyright: ignore[reportArgumentType]


def test_fan_in_serializes_items_from_threads(no_thread_leak: None) -> None:
    count = 2_000
    start = threading.Barrier(2)
    subjects: list[Subject[int]] = [Subject(), Subject()]
    inside = 0
    overlaps = 0
    received: list[int] = []
    done = threading.Event()
    guard = threading.Lock()

    def on_item(n: int) -> None:
        nonlocal inside, overlaps
        with guard:
            inside += 1
            overlaps += inside > 1
        received.append(n)
        with guard:
            inside -= 1

    fan_in(*subjects).subscribe(on_item, on_completed=done.set)

    def produce(subject: Subject[int], offset: int) -> None:
        start.wait()
        for n in range(count):
            subject.on_next(offset + n)
        subject.on_completed()

    threads = [
        threading.Thread(target=produce, args=(subject, i * count))
        for i, subject in enumerate(subjects)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert done.wait(5)
    assert overlaps == 0
    assert sorted(received) == list(range(2 * count))


# -- partition_ ----------------------------------------------------------------------------


def test_fnv1a_32_known_values() -> None:
    assert fnv1a_32("cust-1") == 1492871556
    assert fnv1a_32("a") == 0xE40C292C
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(bytearray(b"cust-1")) == 1492871556
    assert fnv1a_32(memoryview(b"cust-1")) == 1492871556
    assert fnv1a_32("") == 0x811C9DC5, "the offset basis"
    assert fnv1a_32(7) == fnv1a_32("7"), "other keys hash as str(key)"
    assert fnv1a_32("é") == fnv1a_32("é".encode()), "str keys hash as UTF-8"
    assert fnv1a_32("\ud800") == fnv1a_32(b"\xed\xa0\x80"), "a lone surrogate does not fail"


def test_fnv1a_32_is_stable_across_processes() -> None:
    # Another interpreter with another str-hash seed than this one: same results.
    code = "from rxstreamz import fnv1a_32; print(fnv1a_32('cust-1'), fnv1a_32('key-42'))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONHASHSEED": seed},
    ).stdout
    assert output == f"1492871556 {fnv1a_32('key-42')}\n"


def test_partition_1000_keys_over_4_partitions() -> None:
    keys = [f"key-{i}" for i in range(1000)]
    spread: Operator[str, tuple[Observable[str], ...], PartitionStats] = partition_(lambda k: k)
    got = run_all(rx.from_iterable(keys).pipe(spread))
    assert [len(items) for items in got] == [249, 251, 251, 249]
    for index, items in enumerate(got):
        assert all(fnv1a_32(k) % 4 == index for k in items)
    stats = spread.stats()
    assert (stats.total, stats.per_partition, stats.failed) == (1000, (249, 251, 251, 249), 0)
    assert stats.balance == pytest.approx(0.004), "variance 1 / mean 250"


def test_partition_routes_by_key_consistently_across_runs() -> None:
    orders = [(f"cust-{i % 7}", i) for i in range(50)]

    def customer(order: tuple[str, int]) -> str:
        return order[0]

    spread = partition_(customer, 3)
    branches = rx.from_iterable(orders).pipe(spread)
    first = run_all(branches)
    second = run_all(branches)  # a fresh run of the same branches
    third = run_all(rx.from_iterable(orders).pipe(partition_(customer, 3)))
    assert first == second == third
    for index, items in enumerate(first):
        assert {fnv1a_32(customer(o)) % 3 for o in items} <= {index}
    assert "cust-1" in {customer(o) for o in first[1492871556 % 3]}
    assert spread.stats().total == 100


def test_partition_custom_partitioner_and_int_subclass_index() -> None:
    class Lane(enum.IntEnum):
        LOW = 0
        HIGH = 1

    def by_size(key: int, n: int) -> int:
        assert n == 2
        return Lane.HIGH if key >= 10 else Lane.LOW

    spread: Partitioned = partition_(lambda n: n, 2, partitioner=by_size)
    assert run_all(rx.of(1, 20, 3, 40).pipe(spread)) == [[1, 3], [20, 40]]
    assert spread.stats().per_partition == (2, 2)


@pytest.mark.parametrize("index", [4, -1, "1", 1.0, True, None])
def test_partition_invalid_index_fails_every_branch(index: object) -> None:
    log = Log()

    def bad(key: int, _n: int) -> int:
        return 0 if key == 1 else cast(int, index)

    spread: Partitioned = partition_(lambda n: n, 4, partitioner=bad)
    branches = rx.of(1, 2, 3).pipe(spread)
    for position, branch in enumerate(branches):
        log.follow(position, branch)
    errors = [v for _, kind, v in log.entries if kind == "error"]
    assert len(errors) == 4
    exc = errors[0]
    assert all(e is exc for e in errors)
    assert isinstance(exc, PartitionError)
    assert exc.index == index
    assert exc.partitions == 4
    assert str(exc) == f"partitioner of 'partition' returned {index!r}; expected an int in [0, 4)"
    assert exc.__notes__ == ["rxstreamz: raised in processor 'partition' on item 2"]
    assert log.items(0) == [1]
    assert spread.stats() == PartitionStats(
        received=2, failed=1, dropped=0, total=2, per_partition=(1, 0, 0, 0), balance=0.75
    )


def test_partition_key_error_raise_mode_reaches_every_branch(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(300)
    )
    branches = source.pipe(partition_(raise_on(2, "k"), 2, name="shard"))
    observers = [attach(scheduler, b, 200) for b in branches]
    scheduler.start()
    routed = [m for o in observers for m in o.messages if isinstance(m.value, OnNext)]
    assert routed == [on_next(210, 1)]
    for observer in observers:
        last = observer.messages[-1]
        assert last.time == 220
        assert isinstance(last.value, OnError)
        exc = last.value.exception
        assert type(exc) is Boom
        assert exc.__notes__ == ["rxstreamz: raised in processor 'shard' on item 2"]
    assert source.subscriptions == [subscribe(200, 220)]


def test_partition_skip_mode_drops_counts_and_dead_letters(scheduler: TestScheduler) -> None:
    letters: list[DeadLetter[Any]] = []
    spread = partition_(
        raise_on(2, "k"),
        2,
        partitioner=lambda k, n: 9 if k == 3 else 0,
        errors="skip",
        on_failure=letters.append,
    )
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 4), on_completed(300)
    )
    observers = [attach(scheduler, b, 200) for b in source.pipe(spread)]
    scheduler.start()
    assert observers[0].messages == [on_next(210, 1), on_next(230, 4), on_completed(300)]
    assert observers[1].messages == [on_completed(300)]
    [letter] = letters
    assert (letter.item, type(letter.error), letter.attempts) == (2, Boom, 1)
    assert letter.processor == "partition"
    assert letter.timestamp == datetime.fromtimestamp(220, UTC)
    assert spread.stats() == PartitionStats(
        received=3, failed=1, dropped=0, total=3, per_partition=(2, 0), balance=1.0
    )


def test_partition_skip_mode_dead_letters_invalid_indexes() -> None:
    letters: list[DeadLetter[Any]] = []
    spread = partition_(
        lambda n: n, 2, partitioner=lambda k, n: k, errors="skip", on_failure=letters.append
    )
    assert run_all(rx.of(0, 5, 1).pipe(spread)) == [[0], [1]]
    [letter] = letters
    assert letter.item == 5
    assert isinstance(letter.error, PartitionError)
    assert letter.error.index == 5


class Slippery(int):
    """An int whose comparisons answer with an ``Ambiguous`` result."""

    def __ge__(self, other: object) -> Any:
        return Ambiguous()

    def __le__(self, other: object) -> Any:
        return Ambiguous()


def test_partition_index_whose_comparison_raises_is_a_failing_partitioner() -> None:
    log = Log()
    spread = partition_(lambda n: n, 2, partitioner=lambda k, n: Slippery(0) if k == 2 else 0)
    for position, branch in enumerate(rx.of(1, 2, 3).pipe(spread)):
        log.follow(position, branch)
    assert [(label, kind) for label, kind, _ in log.entries] == [
        (0, "next"),
        (0, "error"),
        (1, "error"),
    ]
    exc = log.entries[-1][2]
    assert type(exc) is ValueError
    assert exc.__notes__ == ["rxstreamz: raised in processor 'partition' on item 2"]

    letters: list[DeadLetter[Any]] = []
    lenient: Partitioned = partition_(
        lambda n: n,
        2,
        partitioner=lambda k, n: Slippery(0) if k == 2 else 0,
        errors="skip",
        on_failure=letters.append,
    )
    assert run_all(rx.of(1, 2, 3).pipe(lenient)) == [[1, 3], []]
    assert [(letter.item, type(letter.error)) for letter in letters] == [(2, ValueError)]
    assert lenient.stats().failed == 1


def test_partition_dispose_mid_way_and_stats_with_nothing_routed(
    scheduler: TestScheduler,
) -> None:
    spread = partition_(str, 2)
    assert spread.stats() == PartitionStats(
        received=0, failed=0, dropped=0, total=0, per_partition=(0, 0), balance=0.0
    )
    source = scheduler.create_hot_observable(on_next(210, "a"), on_next(400, "b"))
    observers = [attach(scheduler, b, 200, until=300) for b in source.pipe(spread)]
    scheduler.start()
    assert [m for o in observers for m in o.messages] == [on_next(210, "a")]
    assert source.subscriptions == [subscribe(200, 300)]
    assert spread.stats().total == 1


def test_partition_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"^n must be >= 1, got 0$"):
        partition_(str, 0)
    with pytest.raises(TypeError, match=r"^n must be an int, got bool$"):
        partition_(str, True)
    with pytest.raises(TypeError, match=r"^key must be callable, got str$"):
        partition_("id")  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^partitioner must be callable, got int$"):
        partition_(str, partitioner=3)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match=r"^errors must be one of 'raise', 'skip', got 'drop'$"):
        partition_(str, errors="drop")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match=r"^name must not be empty$"):
        partition_(str, name="")


@given(
    items=st.lists(st.integers(-50, 50), max_size=60),
    n=st.integers(1, 6),
)
def test_partition_is_a_disjoint_cover_that_keeps_order(items: list[int], n: int) -> None:
    tagged = list(enumerate(items))  # (position, value): positions are unique

    def value(pair: tuple[int, int]) -> int:
        return pair[1]

    got = run_all(rx.from_iterable(tagged).pipe(partition_(value, n)))
    positions = [pos for part in got for pos, _ in part]
    assert sorted(positions) == list(range(len(items))), "every item exactly once"
    for index, part in enumerate(got):
        assert [pos for pos, _ in part] == sorted(pos for pos, _ in part), "order kept"
        assert all(fnv1a_32(value) % n == index for _, value in part)


# -- split ---------------------------------------------------------------------------------


def test_split_sends_matches_left_and_the_rest_right(scheduler: TestScheduler) -> None:
    parity: Operator[int, tuple[Observable[int], Observable[int]], SplitStats]
    parity = split(lambda n: n % 2 == 0)
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_next(240, 4), on_completed(250)
    )
    matched, unmatched = source.pipe(parity)
    odd = attach(scheduler, unmatched, 200)
    even = attach(scheduler, matched, 205)
    scheduler.start()
    assert even.messages == [on_next(220, 2), on_next(240, 4), on_completed(250)]
    assert odd.messages == [on_next(210, 1), on_next(230, 3), on_completed(250)]
    assert source.subscriptions == [subscribe(205, 250)]
    assert parity.stats() == SplitStats(
        received=4, failed=0, dropped=0, total=4, matched=2, unmatched=2
    )


@pytest.mark.parametrize(
    ("predicate", "error"),
    [(raise_on(2), Boom), (ambiguous_on(2), ValueError)],
    ids=["predicate-raises", "truth-test-of-its-answer-raises"],
)
def test_split_failing_predicate_both_modes(
    predicate: Callable[[int], object], error: type[Exception]
) -> None:
    log = Log()
    matched, unmatched = rx.of(1, 2, 3).pipe(split(predicate, name="check"))
    log.follow("m", matched)
    log.follow("u", unmatched)
    assert [(label, kind) for label, kind, _ in log.entries] == [
        ("m", "next"),
        ("m", "error"),
        ("u", "error"),
    ]
    exc = log.entries[-1][2]
    assert type(exc) is error
    assert exc.__notes__ == ["rxstreamz: raised in processor 'check' on item 2"]

    letters: list[DeadLetter[Any]] = []
    lenient = split(predicate, errors="skip", on_failure=letters.append)
    assert run_all(rx.of(1, 2, 3).pipe(lenient)) == [[1, 3], []]
    assert [(letter.item, type(letter.error)) for letter in letters] == [(2, error)]
    assert lenient.stats() == SplitStats(
        received=3, failed=1, dropped=0, total=3, matched=2, unmatched=0
    )


def test_split_empty_source_and_upstream_error() -> None:
    assert run_all(rx.empty().pipe(split(bool))) == [[], []]
    err = Boom("up")
    log = Log()
    matched, unmatched = rx.throw(err).pipe(split(bool))
    log.follow("m", matched)
    log.follow("u", unmatched)
    assert log.entries == [("m", "error", err), ("u", "error", err)]


def test_split_invalid_arguments() -> None:
    with pytest.raises(TypeError, match=r"^predicate must be callable, got NoneType$"):
        split(None)  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^on_failure must be callable, got int$"):
        split(bool, on_failure=1)  # pyright: ignore[reportArgumentType]


@given(items=st.lists(st.integers(-20, 20), max_size=50), modulus=st.integers(1, 5))
def test_split_and_router_cover_the_input_in_order(items: list[int], modulus: int) -> None:
    def divisible(n: int) -> bool:
        return n % modulus == 0

    def odd(n: int) -> bool:
        return n % 2 == 1

    matched, unmatched = run_all(rx.from_iterable(items).pipe(split(divisible)))
    assert matched == [n for n in items if divisible(n)]
    assert unmatched == [n for n in items if not divisible(n)]
    routing = router({"div": divisible, "odd": odd}, mode="all")
    div, odds = run_all(list(rx.from_iterable(items).pipe(routing).values()))
    assert div == [n for n in items if divisible(n)]
    assert odds == [n for n in items if odd(n)]
    assert routing.stats().unrouted == sum(1 for n in items if not divisible(n) and not odd(n))


# -- router --------------------------------------------------------------------------------

DIVISORS = {"2": lambda n: n % 2 == 0, "3": lambda n: n % 3 == 0}


def test_router_first_match_only() -> None:
    routing = router(DIVISORS)
    routes = rx.of(6, 7, 9, 4).pipe(routing)
    assert list(routes) == ["2", "3"]
    assert run_all(list(routes.values())) == [[6, 4], [9]]
    assert routing.stats() == RouterStats(
        received=4, failed=0, dropped=0, total=4, per_route={"2": 2, "3": 1}, routed=3, unrouted=1
    )


def test_router_all_matches() -> None:
    routing = router(DIVISORS, mode="all")
    routes = rx.of(6, 7, 9, 4).pipe(routing)
    log = Log()
    log.follow("3", routes["3"])
    log.follow("2", routes["2"])
    assert log.entries[:3] == [("2", "next", 6), ("3", "next", 6), ("3", "next", 9)]
    assert log.items("2") == [6, 4]
    assert log.items("3") == [6, 9]
    assert routing.stats() == RouterStats(
        received=4, failed=0, dropped=0, total=4, per_route={"2": 2, "3": 2}, routed=3, unrouted=1
    )


def test_router_default_route_takes_the_unmatched() -> None:
    routing = router(DIVISORS, default=True)
    routes = rx.of(6, 7, 9, 5).pipe(routing)
    assert list(routes) == ["2", "3", "default"]
    assert run_all(list(routes.values())) == [[6], [9], [7, 5]]
    per_route = {"2": 1, "3": 1, "default": 2}
    assert routing.stats() == RouterStats(
        received=4, failed=0, dropped=0, total=4, per_route=per_route, routed=4, unrouted=0
    )


def test_router_waits_for_every_route_including_default(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 2), on_next(310, 5), on_completed(400))
    routes = source.pipe(router(DIVISORS, default=True))
    two = attach(scheduler, routes["2"], 200)
    attach(scheduler, routes["3"], 200)
    default = attach(scheduler, routes["default"], 300)
    scheduler.start()
    assert source.subscriptions == [subscribe(300, 400)]
    assert two.messages == [on_completed(400)]
    assert default.messages == [on_next(310, 5), on_completed(400)]


def test_router_predicate_error_raise_and_skip() -> None:
    failing = {"a": raise_on(3, False), "b": lambda n: True}
    log = Log()
    routes = rx.of(1, 3, 5).pipe(router(failing))
    for name_, branch in routes.items():
        log.follow(name_, branch)
    assert log.entries[:2] == [("b", "next", 1), ("a", "error", log.entries[1][2])]
    assert log.entries[2][:2] == ("b", "error")

    letters: list[DeadLetter[Any]] = []
    # With mode="all" the predicates run before any delivery: a failure drops the item
    # from every route, even one it had already matched.
    everything = {"yes": lambda n: True, "boom": raise_on(3, False)}
    lenient = router(everything, mode="all", errors="skip", on_failure=letters.append)
    assert run_all(list(rx.of(1, 3, 5).pipe(lenient).values())) == [[1, 5], []]
    assert [letter.item for letter in letters] == [3]
    per_route = {"yes": 2, "boom": 0}
    assert lenient.stats() == RouterStats(
        received=3, failed=1, dropped=0, total=3, per_route=per_route, routed=2, unrouted=0
    )


@pytest.mark.parametrize("mode", ["first", "all"])
def test_router_predicate_result_whose_truth_test_raises_both_modes(mode: RouteMode) -> None:
    routes = {"a": ambiguous_on(2)}
    log = Log()
    log.follow("a", rx.of(1, 2, 3).pipe(router(routes, mode=mode))["a"])
    assert [(label, kind) for label, kind, _ in log.entries] == [("a", "next"), ("a", "error")]
    exc = log.entries[-1][2]
    assert type(exc) is ValueError
    assert exc.__notes__ == ["rxstreamz: raised in processor 'router' on item 2"]

    letters: list[DeadLetter[Any]] = []
    lenient = router(routes, mode=mode, errors="skip", on_failure=letters.append)
    assert run_all(list(rx.of(1, 2, 3).pipe(lenient).values())) == [[1, 3]]
    assert [(letter.item, type(letter.error)) for letter in letters] == [(2, ValueError)]
    assert lenient.stats() == RouterStats(
        received=3, failed=1, dropped=0, total=3, per_route={"a": 2}, routed=2, unrouted=0
    )


def test_router_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r'^routes must not contain "default" when default=True$'):
        router({"default": bool}, default=True)
    assert list(rx.of(1).pipe(router({"default": bool}))) == ["default"]
    with pytest.raises(ValueError, match=r"^routes must not be empty$"):
        router({})
    with pytest.raises(TypeError, match=r"^routes must be a mapping, got list$"):
        router([bool])  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^routes\['x'\] must be callable, got int$"):
        router({"x": 1})  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^routes keys must be str, got int$"):
        router({1: bool})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match=r"^mode must be one of 'first', 'all', got 'any'$"):
        router({"x": bool}, mode="any")  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^default must be a bool, got str$"):
        router({"x": bool}, default="yes")  # pyright: ignore[reportArgumentType]


# -- switch --------------------------------------------------------------------------------


def tens(n: int) -> int:
    return n * 10


def negate(n: int) -> int:
    return -n


def test_switch_first_match_wins_and_outputs_merge_in_input_order(
    scheduler: TestScheduler,
) -> None:
    chooser = switch(
        [
            (lambda n: n % 2 == 0, ops.map(tens)),
            (lambda n: n % 3 == 0, ops.map(negate)),
        ]
    )
    source = scheduler.create_hot_observable(
        on_next(210, 1),
        on_next(220, 2),
        on_next(230, 3),
        on_next(240, 6),
        on_next(250, 9),
        on_completed(300),
    )
    result = scheduler.start(lambda: source.pipe(chooser))
    assert result.messages == [
        on_next(220, 20),
        on_next(230, -3),
        on_next(240, 60),
        on_next(250, -9),
        on_completed(300),
    ]
    assert source.subscriptions == [subscribe(200, 300)]
    assert chooser.stats() == SwitchStats(
        received=5, failed=0, dropped=0, total=5, per_case=(2, 2), defaulted=0, unmatched=1
    )


def test_switch_default_and_named_cases() -> None:
    chooser = switch(
        {"big": (lambda n: n > 10, map_(negate))},
        default=ops.map(tens),
    )
    assert collect(rx.of(1, 20, 2).pipe(chooser)) == [10, -20, 20]
    assert chooser.stats() == SwitchStats(
        received=3, failed=0, dropped=0, total=3, per_case=(1,), defaulted=2, unmatched=0
    )


def test_switch_stateful_case_operators_flush_at_completion() -> None:
    chooser = switch([(lambda n: n < 0, chunk(2))], default=chunk(3))
    assert collect(rx.of(-1, 1, -2, 2, -3, 3, 4).pipe(chooser)) == [
        [-1, -2],
        [1, 2, 3],
        [-3],
        [4],
    ]


def test_switch_subscriptions_are_independent_runs(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(310, 2), on_completed(400))
    switched = source.pipe(switch([(bool, ops.map(tens))]))
    first = attach(scheduler, switched, 200)
    second = attach(scheduler, switched, 300)
    scheduler.start()
    assert first.messages == [on_next(210, 10), on_next(310, 20), on_completed(400)]
    assert second.messages == [on_next(310, 20), on_completed(400)]
    assert source.subscriptions == [subscribe(200, 400), subscribe(300, 400)]


def test_switch_dispose_mid_way_disposes_upstream(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(400, 2))
    result = scheduler.start(
        lambda: source.pipe(switch([(bool, ops.map(tens))], default=ops.map(negate))),
        disposed=300,
    )
    assert result.messages == [on_next(210, 10)]
    assert source.subscriptions == [subscribe(200, 300)]


def test_switch_empty_never_and_upstream_error(scheduler: TestScheduler) -> None:
    chooser = switch([(bool, ops.map(tens))], default=ops.map(negate))
    assert collect(rx.empty().pipe(chooser)) == []
    never = scheduler.start(lambda: rx.never().pipe(chooser))
    assert never.messages == []
    err = Boom("up")
    with pytest.raises(Boom) as info:
        collect(rx.concat(rx.of(1), rx.throw(err)).pipe(chooser))
    assert info.value is err


@pytest.mark.parametrize(
    ("predicate", "error", "name"),
    [(raise_on(2), Boom, "sw"), (ambiguous_on(2), ValueError, None)],
    ids=["predicate-raises", "truth-test-of-its-answer-raises"],
)
def test_switch_failing_predicate_both_modes(
    predicate: Callable[[int], object], error: type[Exception], name: str | None
) -> None:
    cases: list[Case[int, int]] = [(predicate, ops.map(tens))]
    with pytest.raises(error) as info:
        collect(rx.of(1, 2, 3).pipe(switch(cases, name=name)))
    label = name or "switch"
    assert info.value.__notes__ == [f"rxstreamz: raised in processor {label!r} on item 2"]

    letters: list[DeadLetter[Any]] = []
    lenient = switch(cases, errors="skip", on_failure=letters.append)
    assert collect(rx.of(1, 2, 3).pipe(lenient)) == [10, 30]
    assert [(letter.item, type(letter.error)) for letter in letters] == [(2, error)]
    assert lenient.stats() == SwitchStats(
        received=3, failed=1, dropped=0, total=3, per_case=(2,), defaulted=0, unmatched=0
    )


def test_switch_case_that_completes_early_keeps_the_others_running() -> None:
    chooser: Operator[int, Observable[int], SwitchStats]
    chooser = switch([(lambda n: n < 0, ops.take(1))], default=ops.map(tens))
    assert collect(rx.of(-1, 1, -2, 2).pipe(chooser)) == [-1, 10, 20]
    stats = chooser.stats()
    assert (stats.per_case, stats.defaulted, stats.dropped) == ((1,), 2, 1), (
        "an item for a case that has stopped listening is dropped"
    )


def test_switch_operator_returning_a_non_observable_fails_the_subscription() -> None:
    def broken(_: Observable[int]) -> Observable[int]:
        return [1]  # type: ignore[return-value]  # pyright: ignore[reportReturnType]

    with pytest.raises(TypeError, match=r"^the operator of 'switch'\['0'\] returned list"):
        collect(rx.of(1).pipe(switch([(bool, broken)])))


def test_switch_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"^cases must not be empty$"):
        switch([])
    with pytest.raises(TypeError, match=r"^cases\[0\] must be a \(predicate, operator\) pair"):
        switch([bool])  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^cases\[0\] operator must be callable, got int$"):
        switch([(bool, 1)])  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^cases\['a'\] predicate must be callable, got int$"):
        switch({"a": (1, ops.map(tens))})  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^cases must be a mapping or a sequence of"):
        switch(bool)  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match=r"^default must be callable, got int$"):
        switch([(bool, ops.map(tens))], default=1)  # pyright: ignore[reportArgumentType]


# -- threads -------------------------------------------------------------------------------


def test_branches_subscribed_and_disposed_from_threads(no_thread_leak: None) -> None:
    items = 500
    for _ in range(30):
        subject: Subject[int] = Subject()
        upstream_subscriptions = 0

        def counting(
            observer: abc.ObserverBase[int],
            scheduler: abc.SchedulerBase | None = None,
            subject: Subject[int] = subject,
        ) -> abc.DisposableBase:
            nonlocal upstream_subscriptions
            upstream_subscriptions += 1
            return subject.subscribe(observer)

        branches = Observable(counting).pipe(fan_out(3))
        got: list[list[int]] = [[], [], []]
        held: list[abc.DisposableBase | None] = [None, None, None]
        barrier = threading.Barrier(4)

        def attach_and_dispose(
            index: int,
            branches: tuple[Observable[int], ...] = branches,
            got: list[list[int]] = got,
            held: list[abc.DisposableBase | None] = held,
            barrier: threading.Barrier = barrier,
        ) -> None:
            held[index] = branches[index].subscribe(got[index].append)
            barrier.wait()  # every branch subscribed
            barrier.wait()  # the producer is running
            subscription = held[index]
            assert subscription is not None
            subscription.dispose()

        def produce(subject: Subject[int] = subject, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            barrier.wait()
            for n in range(items):
                subject.on_next(n)

        threads = [threading.Thread(target=attach_and_dispose, args=(i,)) for i in range(3)]
        threads.append(threading.Thread(target=produce))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert upstream_subscriptions == 1
        assert not subject.observers, "disposing every branch disposed upstream"
        for received in got:
            assert received == list(range(len(received))), "in order, nothing repeated"


def test_stats_add_up_over_concurrent_runs_and_include_live_ones(no_thread_leak: None) -> None:
    items = 5_000
    spread: Partitioned = partition_(lambda n: n, 3, partitioner=lambda k, n: k % n)
    live: Subject[int] = Subject()
    log = Log()
    for index, branch in enumerate(live.pipe(spread)):  # a run that stays open
        log.follow(index, branch)
    live.on_next(1)
    live.on_next(2)
    assert spread.stats().per_partition == (0, 1, 1), "a live run counts at once"
    start = threading.Barrier(2)

    def one_run() -> None:
        start.wait()
        run_all(rx.from_iterable(range(items)).pipe(spread))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    stats = spread.stats()
    assert stats.total == 2 * items + 2
    assert sum(stats.per_partition) == 2 * items + 2
    live.on_completed()
    assert spread.stats() == stats, "retiring a run keeps its counts"
    assert [log.items(index) for index in range(3)] == [[], [1], [2]]


def test_switch_dead_letters_carry_the_subscription_schedulers_time(
    scheduler: TestScheduler,
) -> None:
    letters: list[DeadLetter[Any]] = []
    chooser = switch(
        {"odd": (raise_on(2, True), ops.map(tens))}, errors="skip", on_failure=letters.append
    )
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)
    )
    result = scheduler.start(lambda: source.pipe(chooser))
    assert result.messages == [on_next(210, 10), on_next(230, 30), on_completed(240)]
    [letter] = letters
    assert (letter.item, letter.processor) == (2, "switch")
    assert letter.timestamp == datetime.fromtimestamp(220, UTC)


def test_router_disposing_every_route_disposes_upstream(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 2), on_next(310, 3), on_next(410, 4))
    routes = source.pipe(router(DIVISORS))
    two = attach(scheduler, routes["2"], 200, until=400)
    three = attach(scheduler, routes["3"], 200, until=300)
    scheduler.start()
    assert two.messages == [on_next(210, 2)]
    assert three.messages == []
    assert source.subscriptions == [subscribe(200, 400)]
