"""Every item accounted for: the stats() identities of the per-item processors.

Each property pushes random items through a hot ``Subject`` into the
processor under test, with random neighbours fused before and after it (a
``map_`` that passes items on, a ``take_`` that may end the run from
downstream), random failures and a random end: completion, an upstream
error, or a dispose at a random point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import reactivex as rx
from hypothesis import given
from hypothesis import strategies as st
from reactivex import Observable
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

import rxstreamz as rz
from rxstreamz import chunk, collect, filter_, flatten, map_, sample_, skip_, take_, tap_, unbatch
from rxstreamz._validate import ErrorMode
from tests.support import Boom, on_completed, on_next

End = Literal["complete", "error", "dispose", "open"]
ENDS: list[End] = ["complete", "error", "dispose", "open"]


def fails_on(bad: int, fn: Callable[[int], Any]) -> Callable[[int], Any]:
    def call(n: int) -> Any:
        if n % 7 == bad:
            raise Boom(n)
        return fn(n)

    return call


@dataclass(frozen=True)
class Scenario:
    """Where the processor under test sits in its run, and how the run ends."""

    before: bool  # a ``map_`` fused before it
    after: int | None  # a ``take_(after)`` fused after it
    end: End
    end_at: int  # how many items are pushed before the end

    def offered(self, items: list[Any]) -> list[Any]:
        """The items pushed while the subscription was live."""
        return items[: min(self.end_at, len(items))] if self.end != "open" else items


def scenarios(most: int = 30) -> st.SearchStrategy[Scenario]:
    """Scenarios that end after at most ``most`` items."""
    return st.builds(
        Scenario,
        before=st.booleans(),
        after=st.none() | st.integers(0, 12),
        end=st.sampled_from(ENDS),
        end_at=st.integers(0, most),
    )


def drive(
    stage: Callable[[Observable[Any]], Observable[Any]], items: list[Any], run: Scenario
) -> list[Any]:
    """Push ``items`` through ``[map_] -> stage -> [take_(after)]``; end after ``end_at`` items."""
    subject: Subject[Any] = Subject()
    chain: list[Callable[[Observable[Any]], Observable[Any]]] = []
    if run.before:
        chain.append(map_(lambda x: x))
    chain.append(stage)
    if run.after is not None:
        chain.append(take_(run.after))
    out: list[Any] = []
    subscription = subject.pipe(*chain).subscribe(out.append, lambda _: None)
    cut = min(run.end_at, len(items))
    for item in items[:cut]:
        subject.on_next(item)
    if run.end == "complete":
        subject.on_completed()
    elif run.end == "error":
        subject.on_error(Boom("upstream"))
    elif run.end == "dispose":
        subscription.dispose()
    for item in items[cut:]:  # a well-behaved subject drops these once ended
        subject.on_next(item)
    return out


ints = st.lists(st.integers(-20, 20), max_size=30)
MODES: list[ErrorMode] = ["raise", "skip"]
modes = st.sampled_from(MODES)


@given(
    items=ints,
    mode=modes,
    bad=st.integers(0, 7),
    run=scenarios(),
)
def test_filter_accounts_for_every_item(
    items: list[int],
    mode: ErrorMode,
    bad: int,
    run: Scenario,
) -> None:
    step = filter_(fails_on(bad, lambda n: n % 2 == 0), errors=mode)
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.FilterStats)
    assert stats.received == stats.emitted + stats.filtered + stats.failed + stats.dropped
    assert stats.dropped == 0
    if run.after is None:
        assert stats.emitted == len(out)
        offered = run.offered(items)
        expected = offered if mode == "skip" else offered[: _first_failure(offered, bad) + 1]
        assert stats.received == len(expected)


def _first_failure(items: list[int], bad: int) -> int:
    return next((i for i, n in enumerate(items) if n % 7 == bad), len(items))


@pytest.mark.parametrize("factory", [map_, tap_])
@given(
    items=ints,
    mode=modes,
    bad=st.integers(0, 7),
    run=scenarios(),
)
def test_map_and_tap_account_for_every_item(
    factory: Callable[..., Any],
    items: list[int],
    mode: ErrorMode,
    bad: int,
    run: Scenario,
) -> None:
    step = factory(fails_on(bad, lambda n: n * 3), errors=mode)
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.TransformStats)
    assert stats.received == stats.emitted + stats.failed + stats.dropped
    if run.after is None:
        assert stats.emitted == len(out)
    if mode == "raise":
        assert stats.failed <= 1


@given(
    items=ints,
    n=st.integers(0, 10),
    run=scenarios(),
)
def test_take_accounts_for_every_item(items: list[int], n: int, run: Scenario) -> None:
    step = take_(n)
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.TakeStats)
    assert stats.received == stats.emitted + stats.dropped
    assert stats.emitted <= n
    assert stats.failed == 0
    if run.after is None:
        assert stats.emitted == len(out)


@given(
    items=ints,
    n=st.integers(0, 10),
    run=scenarios(),
)
def test_skip_accounts_for_every_item(items: list[int], n: int, run: Scenario) -> None:
    step = skip_(n)
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.SkipStats)
    assert stats.received == stats.emitted + stats.skipped + stats.dropped
    assert stats.skipped == min(n, stats.received)
    if run.after is None:
        assert stats.emitted == len(out)


@given(
    items=ints,
    rate=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.integers(0, 5),
    run=scenarios(),
)
def test_sample_accounts_for_every_item(
    items: list[int],
    rate: float,
    seed: int,
    run: Scenario,
) -> None:
    step = sample_(rate, seed=seed)
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.SampleStats)
    assert stats.received == stats.kept + stats.discarded + stats.dropped
    if run.after is None:
        assert stats.kept == len(out)


@given(
    items=ints,
    size=st.integers(1, 5),
    run=scenarios(),
)
def test_chunk_accounts_for_every_item(items: list[int], size: int, run: Scenario) -> None:
    step = chunk(size)
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.ChunkStats)
    assert stats.received == stats.emitted + stats.held + stats.dropped
    assert stats.failed == 0
    if run.end == "open":
        assert stats.held < size
        if run.after is None:
            assert (stats.held, stats.dropped) == (stats.received % size, 0)
    else:
        assert stats.held == 0  # the subscription ended: flushed or dropped
    if run.end in ("complete", "error") and run.after is None:
        assert stats.dropped == 0
    if run.after is None:
        assert stats.chunks == len(out)
        assert stats.emitted == sum(map(len, out))
    if run.end == "dispose" and run.after is None:
        assert stats.dropped == stats.received % size


class Broken:
    """An iterable that yields ``good`` elements, then raises."""

    def __init__(self, good: int) -> None:
        self.good = good

    def __iter__(self) -> Iterator[int]:
        yield from range(self.good)
        raise Boom("iteration")


batches = st.lists(
    st.one_of(
        st.lists(st.integers(0, 9), max_size=4),
        st.integers(0, 3).map(Broken),
        st.just(5),  # not iterable
    ),
    max_size=12,
)


@pytest.mark.parametrize("factory", [unbatch, flatten])
@given(items=batches, run=scenarios(12))
def test_unbatch_accounts_for_every_iterable(
    factory: Callable[[], Any],
    items: list[Any],
    run: Scenario,
) -> None:
    step = factory()
    out = drive(step, items, run)
    stats = step.stats()
    assert isinstance(stats, rz.UnbatchStats)
    if run.end != "open" or run.after is not None or stats.failed:
        assert stats.received == stats.unpacked + stats.failed + stats.dropped
    else:  # still running: every iterable so far was read to its end
        assert (stats.received, stats.dropped) == (stats.unpacked, 0)
    assert stats.failed <= 1
    if run.after is None:
        assert stats.emitted == len(out)


# -- exact figures --------------------------------------------------------------------


def test_filter_stats_after_a_dispose_in_virtual_time(scheduler: TestScheduler) -> None:
    step: rz.Operator[int, Observable[int], rz.FilterStats] = filter_(lambda n: n > 1)
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_next(400, 4), on_completed(500)
    )
    result = scheduler.start(lambda: source.pipe(step), disposed=300)
    assert result.messages == [on_next(220, 2), on_next(230, 3)]
    assert step.stats() == rz.FilterStats(received=3, failed=0, dropped=0, emitted=2, filtered=1)


def test_chunk_drops_what_it_holds_at_dispose(scheduler: TestScheduler) -> None:
    step = chunk(3)
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_next(240, 4), on_completed(500)
    )
    result = scheduler.start(lambda: source.pipe(step), disposed=300)
    assert result.messages == [on_next(230, [1, 2, 3])]
    assert step.stats() == rz.ChunkStats(
        received=4, failed=0, dropped=1, emitted=3, chunks=1, held=0
    )


def test_chunk_counts_what_it_holds_while_open() -> None:
    subject: Subject[int] = Subject()
    step = chunk(3)
    subject.pipe(step).subscribe(lambda _: None, lambda _: None)
    for n in range(5):
        subject.on_next(n)
    assert step.stats() == rz.ChunkStats(
        received=5, failed=0, dropped=0, emitted=3, chunks=1, held=2
    )
    subject.on_error(Boom("late"))  # flushes the partial list first
    assert step.stats() == rz.ChunkStats(
        received=5, failed=0, dropped=0, emitted=5, chunks=2, held=0
    )


def test_take_counts_an_item_pushed_back_after_its_last_as_dropped() -> None:
    subject: Subject[int] = Subject()
    step = take_(1)

    def push_back(n: int) -> None:
        subject.on_next(n + 100)  # arrives while the last item is being emitted

    subject.pipe(step).subscribe(push_back)
    subject.on_next(1)
    assert step.stats() == rz.TakeStats(received=2, failed=0, dropped=1, emitted=1)


def test_unbatch_counts_an_iterable_left_unfinished_as_dropped() -> None:
    step = unbatch()
    assert collect(rx.of([1, 2, 3], [4]).pipe(step, take_(2))) == [1, 2]
    assert step.stats() == rz.UnbatchStats(received=1, failed=0, dropped=1, emitted=2, unpacked=0)


def test_unbatch_counts_a_failed_iterable() -> None:
    step = unbatch()
    with pytest.raises(Boom):
        collect(rx.of([1], Broken(2), [3]).pipe(step))
    assert step.stats() == rz.UnbatchStats(received=2, failed=1, dropped=0, emitted=3, unpacked=1)


def test_a_stage_sums_over_chains_and_subscriptions() -> None:
    step: rz.Operator[int, Observable[int], rz.FilterStats] = filter_(lambda n: n % 2 == 0)
    first = rx.range(10).pipe(step)
    second = rx.range(4).pipe(map_(lambda n: n + 1), step, take_(1))
    assert collect(first) == [0, 2, 4, 6, 8]
    assert collect(first) == [0, 2, 4, 6, 8]
    assert collect(second) == [2]
    assert step.stats() == rz.FilterStats(received=22, failed=0, dropped=0, emitted=11, filtered=11)


def test_a_stage_used_twice_in_one_chain_counts_both_places() -> None:
    step: rz.Operator[int, Observable[int], rz.TransformStats] = map_(lambda n: n + 1)
    assert collect(rx.range(3).pipe(step, step)) == [2, 3, 4]
    assert step.stats() == rz.TransformStats(received=6, failed=0, dropped=0, emitted=6)


def test_stats_of_a_stage_never_subscribed_are_zero() -> None:
    assert skip_(3).stats() == rz.SkipStats(received=0, failed=0, dropped=0, emitted=0, skipped=0)
