"""batch and debounce_: virtual-time specification, properties, thread stress."""

from __future__ import annotations

import random
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import HistoricalScheduler, TimeoutScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler
from reactivex.testing.recorded import Recorded

from rxstreamz import batch, collect, debounce_, tap_
from rxstreamz._scheduling import clock_reader
from tests.support import (
    TIMEOUT,
    SpyScheduler,
    arrivals,
    dispose_while_emitting,
    on_completed,
    on_error,
    on_next,
    start_thread,
    subscribe,
    two_subscriptions,
    wait_until,
)


def messages_of(
    scheduler: TestScheduler,
    create: Callable[[], Observable[Any]],
    disposed: float | None = None,
) -> list[Recorded[Any]]:
    return scheduler.start(create, disposed=disposed).messages


FUSED = pytest.mark.parametrize("fused", [False, True], ids=["alone", "fused"])
"""Runs a ``batch`` test twice: ``batch`` subscribed alone, and fused into a run."""


def batch_of(fused: bool, max_size: int, **options: Any) -> Callable[[Observable[Any]], Any]:
    """``batch(max_size, **options)``; with ``fused``, after a stage that passes items on."""
    operator = batch(max_size, **options)
    return rx.compose(tap_(lambda _: None), operator) if fused else operator


# --------------------------------------------------------------------------- batch


@FUSED
def test_batch_empty_source_completes_without_a_batch(
    fused: bool, scheduler: TestScheduler
) -> None:
    source = scheduler.create_hot_observable(on_completed(250))
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 3, max_latency=10))) == [
        on_completed(250)
    ]


@FUSED
def test_batch_never_ending_source_emits_nothing_without_items(
    fused: bool, scheduler: TestScheduler
) -> None:
    source: Observable[int] = scheduler.create_hot_observable()
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 3, max_latency=10))) == []


@FUSED
def test_batch_size_only_groups_and_flushes(fused: bool, scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1),
        on_next(220, 2),
        on_next(230, 3),
        on_next(240, 4),
        on_next(250, 5),
        on_completed(600),
    )
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 2))) == [
        on_next(220, [1, 2]),
        on_next(240, [3, 4]),
        on_next(600, [5]),
        on_completed(600),
    ]


@FUSED
def test_batch_timer_starts_at_first_item_and_restarts_only_at_next_first_item(
    fused: bool, scheduler: TestScheduler
) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(220, "b"),
        # idle from 260 to 300: no timer runs, nothing is emitted at 310
        on_next(300, "c"),
        on_next(330, "d"),
        on_completed(500),
    )
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 10, max_latency=50))) == [
        on_next(260, ["a", "b"]),
        on_next(350, ["c", "d"]),
        on_completed(500),
    ]


@FUSED
def test_batch_size_trigger_retires_the_deadline(fused: bool, scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1),
        on_next(220, 2),
        on_next(230, 3),  # full: [1, 2, 3] at 230; its deadline 260 is void
        on_next(250, 4),  # next batch: due at 300
        on_completed(500),
    )
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 3, max_latency=50))) == [
        on_next(230, [1, 2, 3]),
        on_next(300, [4]),
        on_completed(500),
    ]


@FUSED
def test_batch_timer_and_size_at_the_same_instant(fused: bool, scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1),
        on_next(260, 2),  # arrives when the batch is due: joins it (sent first)
        on_next(270, 3),
        on_completed(400),
    )
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 5, max_latency=50))) == [
        on_next(260, [1, 2]),
        on_next(320, [3]),
        on_completed(400),
    ]


@FUSED
def test_batch_never_emits_empty_lists(fused: bool, scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(900))
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 3, max_latency=10))) == [
        on_next(220, [1]),
        on_completed(900),
    ]


@FUSED
def test_batch_flushes_before_upstream_error(fused: bool, scheduler: TestScheduler) -> None:
    boom = ValueError("boom")
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2), on_error(230, boom))
    results = scheduler.start(lambda: source.pipe(batch_of(fused, 5, max_latency=50)))
    assert results.messages == [on_next(230, [1, 2]), on_error(230, "boom")]
    assert results.messages[-1].value.exception is boom  # type: ignore[union-attr]


@FUSED
def test_batch_dispose_drops_partial_batch_and_cancels_timer(fused: bool) -> None:
    scheduler = SpyScheduler()
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    scheduler.watch()
    results = scheduler.start(lambda: source.pipe(batch_of(fused, 5, max_latency=50)), disposed=230)
    assert results.messages == []
    assert source.subscriptions == [subscribe(200, 230)]
    assert scheduler.live_timers_after(230) == []


@FUSED
def test_batch_nothing_after_completion(fused: bool, scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(220), on_next(230, 2))
    assert messages_of(scheduler, lambda: source.pipe(batch_of(fused, 5, max_latency=50))) == [
        on_next(220, [1]),
        on_completed(220),
    ]


@FUSED
def test_batch_schedules_no_timer_per_batch_on_a_burst(fused: bool) -> None:
    scheduler = SpyScheduler()
    scheduler.watch()

    def create() -> Observable[list[int]]:
        return rx.from_iterable(range(10_000), scheduler=scheduler).pipe(
            batch_of(fused, 10, max_latency=5)
        )

    results = scheduler.start(create)
    assert len(results.messages) == 1_001  # 1000 batches + completion
    batch_timers = [t.due for t in scheduler.timers if t.due not in (100, 200, 1000)]
    assert len(batch_timers) <= 2  # not one per batch (1000), not one per item


@FUSED
def test_batch_two_subscriptions_are_independent(fused: bool, scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(260, 2), on_next(270, 3), on_completed(400)
    )
    piped = source.pipe(batch_of(fused, 2, max_latency=100))  # one operator, two runs
    first, second = two_subscriptions(scheduler, piped, 205, 255)
    assert first == [on_next(260, [1, 2]), on_next(370, [3]), on_completed(400)]
    assert second == [on_next(270, [2, 3]), on_completed(400)]


@FUSED
def test_batch_timedelta_latency_and_own_scheduler_wins(fused: bool) -> None:
    own = TestScheduler()
    subscribed = TestScheduler()
    subject: Subject[int] = Subject()
    out: list[list[int]] = []
    subject.pipe(batch_of(fused, 10, max_latency=timedelta(seconds=5), scheduler=own)).subscribe(
        out.append, scheduler=subscribed
    )
    subject.on_next(1)
    subscribed.advance_to(100.0)
    assert out == []
    own.advance_to(5.0)
    assert out == [[1]]


@FUSED
def test_batch_uses_subscribe_time_scheduler(fused: bool, scheduler: TestScheduler) -> None:
    subject: Subject[int] = Subject()
    out: list[list[int]] = []
    subject.pipe(batch_of(fused, 10, max_latency=5)).subscribe(out.append, scheduler=scheduler)
    subject.on_next(1)
    scheduler.advance_to(4.999)
    assert out == []
    scheduler.advance_to(5.0)
    assert out == [[1]]


@FUSED
def test_batch_reentrant_downstream(fused: bool, scheduler: TestScheduler) -> None:
    subject: Subject[int] = Subject()
    out: list[list[int]] = []

    def feed_back(items: list[int]) -> None:
        out.append(items)
        if items[0] < 3:
            subject.on_next(items[0] + 10)  # re-enters batch from its own emission

    subject.pipe(batch_of(fused, 1)).subscribe(feed_back, scheduler=scheduler)
    subject.on_next(1)
    assert out == [[1], [11]]


@FUSED
def test_batch_reentrant_downstream_of_a_timer_emission(
    fused: bool, scheduler: TestScheduler
) -> None:
    subject: Subject[int] = Subject()
    out: list[tuple[float, list[int]]] = []

    def feed_back(items: list[int]) -> None:
        out.append((scheduler.clock, items))
        if items[0] < 30:
            subject.on_next(items[0] + 10)  # re-enters while the timer emits

    subject.pipe(batch_of(fused, 3, max_latency=5)).subscribe(feed_back, scheduler=scheduler)
    subject.on_next(1)
    scheduler.advance_to(100)
    for n in (2, 3, 4):
        subject.on_next(n)
    scheduler.advance_to(200)
    assert out == [
        (5.0, [1]),
        (10.0, [11]),
        (15.0, [21]),
        (20.0, [31]),
        (100.0, [2, 3, 4]),
        (105.0, [12]),
        (110.0, [22]),
        (115.0, [32]),
    ]


def test_batch_default_name_and_repr() -> None:
    assert batch(3).name == "batch"
    assert repr(batch(3, max_latency=0.5, name="orders")) == (
        "<Batch 'orders' max_size=3 max_latency=0.5>"
    )


@FUSED
@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=30), max_size=60),
    max_size=st.integers(min_value=1, max_value=7),
    latency=st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
)
def test_batch_property_concatenates_back_and_respects_bounds(
    fused: bool,
    gaps: list[int],
    max_size: int,
    latency: int | None,
) -> None:
    scheduler = TestScheduler()
    times = arrivals(gaps)
    now = times[-1] if times else 201
    source = scheduler.create_hot_observable(
        [on_next(t, i) for i, t in enumerate(times)] + [on_completed(now + 1)]
    )
    results = scheduler.start(
        lambda: source.pipe(batch_of(fused, max_size, max_latency=latency)), disposed=10_000
    )
    batches: list[list[int]] = [m.value.value for m in results.messages[:-1]]  # type: ignore[union-attr]
    assert [item for group in batches for item in group] == list(range(len(times)))
    assert all(1 <= len(group) <= max_size for group in batches)
    if latency is not None:  # no item waits longer than the latency
        for record, group in zip(results.messages, batches, strict=False):
            assert record.time - times[group[0]] <= latency


@FUSED
def test_batch_thread_stress_no_item_lost_or_duplicated(fused: bool, no_thread_leak: None) -> None:
    rng = random.Random(7)
    done = threading.Event()
    received: list[tuple[int, ...]] = []
    overlapping = False
    inside = False

    def record(group: list[int]) -> None:
        nonlocal inside, overlapping
        if inside:
            overlapping = True
        inside = True
        snapshot = tuple(group)  # a list changed after its emission would show below
        time.sleep(0)  # yield the GIL: an unserialized timer emission would overlap
        received.append(snapshot)
        inside = False

    subject: Subject[int] = Subject()
    subscription = subject.pipe(batch_of(fused, 5, max_latency=0.0002)).subscribe(
        record, on_completed=done.set, scheduler=TimeoutScheduler.singleton()
    )
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over often: timer and source interleave
    try:
        for i in range(10_000):
            subject.on_next(i)
            if rng.random() < 0.01:
                time.sleep(rng.uniform(0.0, 0.001))
        subject.on_completed()
    finally:
        sys.setswitchinterval(interval)
    assert done.wait(5)
    subscription.dispose()
    flat = [item for group in received for item in group]
    assert flat == list(range(10_000))
    assert all(1 <= len(group) <= 5 for group in received)
    assert any(len(group) < 5 for group in received[:-1])  # the timer did fire
    assert not overlapping


@FUSED
def test_batch_dispose_on_real_scheduler_leaves_no_thread(
    fused: bool, no_thread_leak: None
) -> None:
    subject: Subject[int] = Subject()
    subscription = subject.pipe(batch_of(fused, 10, max_latency=30)).subscribe(
        lambda _: None, scheduler=TimeoutScheduler.singleton()
    )
    subject.on_next(1)  # arms a 30 s timer thread
    subscription.dispose()  # must cancel it


def dispose_while_pushing(operator: Callable[[Observable[int]], Observable[Any]]) -> None:
    """Dispose a subscription to ``operator`` while another thread pushes items into it."""
    subject: Subject[int] = Subject()
    disposed = threading.Event()
    pushed = 0

    def push() -> None:
        nonlocal pushed
        while not disposed.is_set() and pushed < 1_000_000:
            subject.on_next(pushed)
            pushed += 1

    subscription = subject.pipe(operator).subscribe(
        lambda _: None, scheduler=TimeoutScheduler.singleton()
    )
    pusher = start_thread(push)
    assert wait_until(lambda: pushed > 500)
    subscription.dispose()  # while items flow and timers fire
    disposed.set()
    pusher.join(TIMEOUT)
    assert not pusher.is_alive()


@FUSED
def test_batch_dispose_racing_the_source_and_the_timer_accounts_for_every_item(
    fused: bool, no_thread_leak: None
) -> None:
    operator = batch(7, max_latency=0.0001)
    for _ in range(20):
        dispose_while_pushing(rx.compose(tap_(lambda _: None), operator) if fused else operator)
    # Dispose leaves the release to an item or a timer still running: it comes soon after.
    assert wait_until(lambda: operator.stats().held == 0)
    stats = operator.stats()
    assert stats.received == stats.emitted + stats.dropped
    assert stats.received > 20 * 500


@FUSED
def test_batch_collect_default_scheduler(fused: bool) -> None:
    assert collect(rx.of(1, 2, 3, 4, 5).pipe(batch_of(fused, 2, max_latency=10))) == [
        [1, 2],
        [3, 4],
        [5],
    ]


# ------------------------------------------------------------------------ debounce_


def test_debounce_empty_source(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_completed(250))
    assert messages_of(scheduler, lambda: source.pipe(debounce_(10))) == [on_completed(250)]


def test_debounce_never_ending_source(scheduler: TestScheduler) -> None:
    source: Observable[int] = scheduler.create_hot_observable()
    assert messages_of(scheduler, lambda: source.pipe(debounce_(10))) == []


def test_debounce_each_item_restarts_the_wait(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1),
        on_next(215, 2),
        on_next(235, 3),  # 215 + 20 = 235: not yet due when 3 arrives
        on_next(300, 4),
        on_next(310, 5),
        on_completed(400),
    )
    assert messages_of(scheduler, lambda: source.pipe(debounce_(20))) == [
        on_next(255, 3),
        on_next(330, 5),
        on_completed(400),
    ]


def test_debounce_matches_rxpy_without_errors(scheduler: TestScheduler) -> None:
    recorded = [on_next(210 + 7 * i + (i % 3) * 11, i) for i in range(30)]
    source = scheduler.create_hot_observable([*recorded, on_completed(600)])
    ours = messages_of(scheduler, lambda: source.pipe(debounce_(12)))
    reference_scheduler = TestScheduler()
    reference_source = reference_scheduler.create_hot_observable([*recorded, on_completed(600)])
    theirs = reference_scheduler.start(lambda: reference_source.pipe(ops.debounce(12))).messages
    assert ours == theirs


def test_debounce_flushes_pending_item_on_completion(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(220))
    assert messages_of(scheduler, lambda: source.pipe(debounce_(50))) == [
        on_next(220, 1),
        on_completed(220),
    ]


def test_debounce_emits_each_item_at_most_once(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(300))
    assert messages_of(scheduler, lambda: source.pipe(debounce_(50))) == [
        on_next(260, 1),  # not flushed again at completion
        on_completed(300),
    ]


def test_debounce_same_object_twice_is_emitted_twice(scheduler: TestScheduler) -> None:
    item = object()
    source = scheduler.create_hot_observable(
        on_next(210, item), on_next(300, item), on_completed(400)
    )
    assert messages_of(scheduler, lambda: source.pipe(debounce_(10))) == [
        on_next(220, item),
        on_next(310, item),
        on_completed(400),
    ]


def test_debounce_flushes_pending_item_before_upstream_error(scheduler: TestScheduler) -> None:
    boom = RuntimeError("boom")
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(215, 2), on_error(220, boom))
    results = scheduler.start(lambda: source.pipe(debounce_(50)))
    assert results.messages == [on_next(220, 2), on_error(220, "boom")]
    assert results.messages[-1].value.exception is boom  # type: ignore[union-attr]


def test_debounce_dispose_drops_pending_item_and_cancels_timer() -> None:
    scheduler = SpyScheduler()
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(300, 2))
    scheduler.watch()
    results = scheduler.start(lambda: source.pipe(debounce_(50)), disposed=320)
    assert results.messages == [on_next(260, 1)]
    assert source.subscriptions == [subscribe(200, 320)]
    assert scheduler.live_timers_after(320) == []


def test_debounce_burst_schedules_o1_timers() -> None:
    scheduler = SpyScheduler()
    scheduler.watch()

    def create() -> Observable[int]:
        return rx.from_iterable(range(100_000), scheduler=scheduler).pipe(debounce_(5))

    results = scheduler.start(create)
    assert results.messages == [on_next(200, 99_999), on_completed(200)]
    debounce_timers = [t.due for t in scheduler.timers if t.due not in (100, 200, 1000)]
    assert debounce_timers == [205.0]


def test_debounce_spaced_items_rearm_once_per_wait_not_per_item() -> None:
    scheduler = SpyScheduler()
    source = scheduler.create_hot_observable(
        [on_next(210 + i, i) for i in range(100)] + [on_completed(400)]
    )
    scheduler.watch()
    results = scheduler.start(lambda: source.pipe(debounce_(10)))
    assert results.messages == [on_next(319, 99), on_completed(400)]
    debounce_timers = [t.due for t in scheduler.timers if t.due not in (100, 200, 1000)]
    assert len(debounce_timers) <= 12  # about one per 10 s of items, not 100


def test_debounce_two_subscriptions_are_independent() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(250, 2), on_completed(400))
    first, second = two_subscriptions(scheduler, source.pipe(debounce_(20)), 205, 240)
    assert first == [on_next(230, 1), on_next(270, 2), on_completed(400)]
    assert second == [on_next(270, 2), on_completed(400)]


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=25), max_size=50),
    duration=st.integers(min_value=1, max_value=20),
)
def test_debounce_property_matches_rxpy_and_reference(gaps: list[int], duration: int) -> None:
    times = arrivals(gaps)
    now = times[-1] if times else 201
    end = now + 1
    recorded = [on_next(t, i) for i, t in enumerate(times)] + [on_completed(end)]

    ours_scheduler = TestScheduler()
    ours_source = ours_scheduler.create_hot_observable(recorded)
    ours = ours_scheduler.start(lambda: ours_source.pipe(debounce_(duration)), disposed=10_000)
    rxpy_scheduler = TestScheduler()
    rxpy_source = rxpy_scheduler.create_hot_observable(recorded)
    theirs = rxpy_scheduler.start(lambda: rxpy_source.pipe(ops.debounce(duration)), disposed=10_000)
    assert ours.messages == theirs.messages
    # reference: item i leaves at t_i + duration if the next item comes later
    # than that (a tie goes to the new item), the last one at completion at the latest
    expected = [
        on_next(t + duration, i)
        for i, t in enumerate(times[:-1])
        if times[i + 1] > t + duration and t + duration < end
    ]
    if times:
        expected.append(on_next(min(times[-1] + duration, end), len(times) - 1))
    assert ours.messages == [*expected, on_completed(end)]


def test_debounce_default_name_and_timedelta() -> None:
    operator = debounce_(timedelta(milliseconds=250))
    assert operator.name == "debounce"
    assert operator.duration == 0.25


def test_debounce_thread_stress_no_item_duplicated_last_kept(no_thread_leak: None) -> None:
    rng = random.Random(11)
    done = threading.Event()
    received: list[int] = []
    inside = False
    overlapping = False

    def record(item: int) -> None:
        nonlocal inside, overlapping
        if inside:
            overlapping = True
        inside = True
        time.sleep(0)  # yield the GIL: an unserialized timer emission would overlap
        received.append(item)
        inside = False

    subject: Subject[int] = Subject()
    subscription = subject.pipe(debounce_(0.0005)).subscribe(
        record, on_completed=done.set, scheduler=TimeoutScheduler.singleton()
    )
    for i in range(10_000):
        subject.on_next(i)
        if rng.random() < 0.02:
            time.sleep(rng.uniform(0.0, 0.002))
    subject.on_completed()
    assert done.wait(5)
    subscription.dispose()
    assert received == sorted(set(received))  # in order, each at most once
    assert received[-1] == 9_999  # the last item is never lost
    assert len(received) > 1  # the timer emitted during the run, not only the flush
    assert not overlapping


def test_debounce_dispose_on_real_scheduler_leaves_no_thread(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    subscription = subject.pipe(debounce_(30)).subscribe(
        lambda _: None, scheduler=TimeoutScheduler.singleton()
    )
    subject.on_next(1)
    subscription.dispose()


def test_types_flow_through_pipe() -> None:
    piped = rx.of(1, 2, 3).pipe(batch(2), debounce_(1.0))
    assert_type(piped, Observable[list[int]])
    assert collect(piped) == [[3]]


def test_clock_reader_reads_the_scheduler_clock() -> None:
    wall = TimeoutScheduler.singleton()
    read_wall = clock_reader(wall)
    before = wall.now
    reading = read_wall()
    assert before <= reading <= wall.now
    assert reading.tzinfo is not None
    assert reading.utcoffset() == timedelta(0)

    virtual = TestScheduler()
    read_virtual = clock_reader(virtual)
    virtual.advance_to(42.5)
    assert read_virtual() == virtual.now == datetime.fromtimestamp(42.5, UTC)

    class FrozenScheduler(TestScheduler):
        @property
        def now(self) -> datetime:
            return datetime(2000, 1, 1, tzinfo=UTC)

    assert clock_reader(FrozenScheduler())() == datetime(2000, 1, 1, tzinfo=UTC)

    naive = HistoricalScheduler(datetime(2020, 1, 1))  # a virtual clock, naive datetimes
    read_naive = clock_reader(naive)
    naive.advance_by(1.5)
    assert read_naive() == naive.now == datetime(2020, 1, 1, 0, 0, 1, 500000)

    class CustomClock(TimeoutScheduler):  # a real-time scheduler with its own clock
        @property
        def now(self) -> datetime:
            return datetime(2001, 1, 1, tzinfo=UTC)

    assert clock_reader(CustomClock())() == datetime(2001, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "make",
    [
        lambda clock: batch(10, max_latency=5, scheduler=clock),
        lambda clock: batch_of(True, 10, max_latency=5, scheduler=clock),
        lambda clock: debounce_(5, scheduler=clock),
    ],
    ids=["batch", "fused batch", "debounce"],
)
def test_dispose_does_not_wait_for_a_downstream_receiving_a_timer_emission(
    make: Callable[[TestScheduler], Callable[[Observable[int]], Observable[Any]]],
) -> None:
    clock = TestScheduler()
    returned_at_once, received = dispose_while_emitting(make(clock), clock, until=30)
    assert returned_at_once
    assert received == 1


INVALID_CALLS: list[tuple[Callable[[], object], type[Exception], str]] = [
    (lambda: batch(0), ValueError, "max_size must be >= 1, got 0"),
    (lambda: batch(-3), ValueError, "max_size must be >= 1, got -3"),
    (lambda: batch(True), TypeError, "max_size must be an int, got bool"),
    (lambda: batch(2.0), TypeError, "max_size must be an int, got float"),  # pyright: ignore[reportArgumentType]
    (lambda: batch(2, max_latency=0), ValueError, "max_latency must be > 0, got 0"),
    (lambda: batch(2, max_latency=-1.5), ValueError, "max_latency must be > 0, got -1.5"),
    (
        lambda: batch(2, max_latency=timedelta(0)),
        ValueError,
        r"max_latency must be > 0, got datetime.timedelta\(0\)",
    ),
    (
        lambda: batch(2, max_latency="1"),  # pyright: ignore[reportArgumentType]
        TypeError,
        "max_latency must be seconds",
    ),
    (lambda: batch(2, name=""), ValueError, "name must not be empty"),
    (
        lambda: batch(2, scheduler=object()),  # pyright: ignore[reportArgumentType]
        TypeError,
        "scheduler must be a reactivex scheduler, got object",
    ),
    (lambda: debounce_(0), ValueError, "duration must be > 0, got 0"),
    (lambda: debounce_(-1), ValueError, "duration must be > 0, got -1"),
    (lambda: debounce_(float("nan")), ValueError, "duration must be a finite duration"),
    (lambda: debounce_(None), TypeError, "duration must be seconds"),  # pyright: ignore[reportArgumentType]
    (lambda: debounce_(True), TypeError, "duration must be seconds"),
    (lambda: debounce_(1, name=3), TypeError, "name must be a str, got int"),  # pyright: ignore[reportArgumentType]
    # Regression: a duration under 1 microsecond became timedelta(0) (scheduler
    # time is a datetime), silently clamping max_latency/duration to zero.
    (
        lambda: batch(2, max_latency=1e-7),
        ValueError,
        re.escape("max_latency must be at least 1 microsecond, got 1e-07"),
    ),
    (
        lambda: batch(2, max_latency=1e300),
        ValueError,
        re.escape("max_latency is too long for a timedelta, got 1e+300"),
    ),
    (
        lambda: debounce_(4e-7),
        ValueError,
        re.escape("duration must be at least 1 microsecond, got 4e-07"),
    ),
    (
        lambda: debounce_(1e300),
        ValueError,
        re.escape("duration is too long for a timedelta, got 1e+300"),
    ),
]
"""Calls with an invalid argument, the exception each raises and its message (a regex)."""


@pytest.mark.parametrize(("call", "error", "message"), INVALID_CALLS)
def test_batch_and_debounce_reject_invalid_arguments_at_call_time(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()
