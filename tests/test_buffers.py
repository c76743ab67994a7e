"""Buffers: buffer_, dropping_buffer, sliding_buffer."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler, ImmediateScheduler, NewThreadScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    BackpressureError,
    QueueStats,
    buffer_,
    collect,
    dropping_buffer,
    sliding_buffer,
)
from rxstreamz._queue import Overflow
from rxstreamz.backpressure._buffers import Buffer
from tests.support import (
    Boom,
    Recorder,
    on_completed,
    on_error,
    on_next,
    pushed,
    start_thread,
    subscribe,
    wait_until,
)


def failure(messages: list[Any], *, at: float) -> Exception:
    """The exception of the final message, which must be an on_error at time ``at``."""
    last = messages[-1]
    assert last.time == at
    assert last.value.kind == "E"
    exc = last.value.exception
    assert isinstance(exc, Exception)
    return exc


# -- happy path, completion, errors (thread drain) -----------------------------------------


def test_buffer_delivers_everything_in_order_on_its_drastart_thread(no_thread_leak: None) -> None:
    buffered = buffer_(4)
    recorder = Recorder()
    recorder.subscribe(rx.from_iterable(range(1000)).pipe(buffered))
    assert recorder.done.wait(30)
    assert recorder.items == list(range(1000))
    assert recorder.completed
    assert recorder.threads == {"rxstreamz-buffer"}
    stats = buffered.stats()
    assert 1 <= stats.high_watermark <= 4  # how deep it got depends on the threads
    assert dataclasses.replace(stats, high_watermark=0) == QueueStats(
        received=1000, failed=0, delivered=1000, dropped=0, queued=0, high_watermark=0
    )


def test_buffer_of_an_empty_source_completes(no_thread_leak: None) -> None:
    assert collect(rx.empty().pipe(buffer_(1)), timeout=30) == []


def test_buffer_of_a_never_ending_source_emits_nothing_and_dispose_ends_the_thread(
    no_thread_leak: None,
) -> None:
    recorder = Recorder()
    subscription = recorder.subscribe(rx.never().pipe(buffer_(2)))
    assert any(t.name == "rxstreamz-buffer" for t in threading.enumerate())
    subscription.dispose()
    assert recorder.items == []
    assert not recorder.done.is_set()


def test_upstream_error_arrives_after_the_queued_items(no_thread_leak: None) -> None:
    recorder = Recorder()
    source: Observable[int] = rx.concat(rx.from_iterable(range(5)), rx.throw(Boom("late")))
    recorder.subscribe(source.pipe(buffer_(8)))
    assert recorder.done.wait(30)
    assert recorder.items == [0, 1, 2, 3, 4]
    assert isinstance(recorder.error, Boom)


def test_subscribe_time_scheduler_is_ignored_by_the_drain(no_thread_leak: None) -> None:
    recorder = Recorder()
    rx.of(1, 2).pipe(buffer_(2)).subscribe(
        recorder.on_next, recorder.on_error, recorder.on_completed, scheduler=ImmediateScheduler()
    )
    assert recorder.done.wait(30)
    assert recorder.items == [1, 2]
    assert recorder.threads == {"rxstreamz-buffer"}


# -- backpressure ---------------------------------------------------------------------------


def test_a_gated_consumer_blocks_the_producer_after_exactly_capacity_items(
    no_thread_leak: None,
) -> None:
    gate = threading.Event()
    holding = threading.Event()

    def stall_on_first(item: int) -> None:
        if item == 0:
            holding.set()
            gate.wait(30)

    buffered = buffer_(3)
    recorder = Recorder(stall_on_first)
    producer = start_thread(
        lambda: recorder.subscribe(rx.from_iterable(range(10_000)).pipe(buffered))
    )
    assert holding.wait(30)
    # Item 0 is in hand; the producer fills the 3 slots and then waits in on_next.
    assert wait_until(lambda: buffered.stats().received == 4)
    assert buffered.stats() == QueueStats(
        received=4, failed=0, delivered=0, dropped=0, queued=3, high_watermark=3
    )
    assert producer.is_alive()
    gate.set()
    assert recorder.done.wait(60)
    producer.join(30)
    assert recorder.items == list(range(10_000))
    assert buffered.stats() == QueueStats(
        received=10_000, failed=0, delivered=10_000, dropped=0, queued=0, high_watermark=3
    )


def test_dispose_mid_way_stops_at_once_and_releases_the_producer(no_thread_leak: None) -> None:
    gate = threading.Event()
    holding = threading.Event()
    source: Subject[int] = Subject()

    def stall_on_first(item: int) -> None:
        if item == 0:
            holding.set()
            gate.wait(30)

    buffered = buffer_(2)
    recorder = Recorder(stall_on_first)
    subscription = recorder.subscribe(source.pipe(buffered))
    returned: list[int] = []

    def produce() -> None:
        for n in range(10):
            source.on_next(n)
            returned.append(n)

    producer = start_thread(produce)
    assert holding.wait(30)
    assert wait_until(lambda: buffered.stats().received == 3)  # 0 in hand, 1 and 2 queued
    subscription.dispose()  # releases the producer blocked on item 3
    producer.join(30)
    assert returned == list(range(10))
    gate.set()
    assert wait_until(lambda: not any(t.name == "rxstreamz-buffer" for t in threading.enumerate()))
    assert recorder.items == [0]  # nothing after dispose
    assert not recorder.done.is_set()
    stats = buffered.stats()
    assert stats.queued == 0
    assert stats.received == stats.delivered + stats.dropped


@pytest.mark.parametrize(
    ("make", "lost_items", "delivered_items"),
    [
        (dropping_buffer, [3, 4], [0, 1, 2]),  # the newest items are dropped
        (sliding_buffer, [1, 2], [0, 3, 4]),  # the oldest queued items are evicted
    ],
)
def test_lossy_buffers_with_a_stalled_consumer(
    no_thread_leak: None,
    make: Callable[..., Buffer],
    lost_items: list[int],
    delivered_items: list[int],
) -> None:
    gate = threading.Event()
    holding = threading.Event()
    source: Subject[int] = Subject()
    lost: list[int] = []

    def stall_on_first(item: int) -> None:
        if item == 0:
            holding.set()
            gate.wait(30)

    buffered = make(2, on_drop=lost.append)
    recorder = Recorder(stall_on_first)
    recorder.subscribe(source.pipe(buffered))
    source.on_next(0)
    assert holding.wait(30)  # 0 in hand: the two slots are free
    for n in range(1, 5):
        source.on_next(n)  # never blocks
    source.on_completed()
    assert lost == lost_items
    gate.set()
    assert recorder.done.wait(30)
    assert recorder.items == delivered_items
    assert buffered.stats() == QueueStats(
        received=5, failed=0, delivered=3, dropped=2, queued=0, high_watermark=2
    )


def test_dropping_and_sliding_buffers_before_the_drain_runs(scheduler: TestScheduler) -> None:
    # Virtual time: the drain runs only once the producer's burst is over, so the
    # consumer has taken nothing yet (a stalled consumer, as in the docstrings' diagrams).
    lost: list[int] = []
    dropping = dropping_buffer(2, on_drop=lost.append, scheduler=scheduler)
    first = scheduler.start(lambda: rx.from_iterable(range(5)).pipe(dropping))
    assert first.messages == [on_next(200, 0), on_next(200, 1), on_completed(200)]
    assert lost == [2, 3, 4]
    assert dropping.stats() == QueueStats(
        received=5, failed=0, delivered=2, dropped=3, queued=0, high_watermark=2
    )
    scheduler = TestScheduler()
    sliding = sliding_buffer(2, scheduler=scheduler)
    second = scheduler.start(lambda: rx.from_iterable(range(5)).pipe(sliding))
    assert second.messages == [on_next(200, 3), on_next(200, 4), on_completed(200)]
    assert sliding.stats().dropped == 3


def test_overflow_error_delivers_the_queued_items_then_fails(scheduler: TestScheduler) -> None:
    returned: list[int] = []
    buffered = buffer_(2, overflow="error", name="ingest", scheduler=scheduler)
    result = scheduler.start(lambda: pushed(5, returned).pipe(buffered))
    error = failure(result.messages, at=200)
    assert result.messages[:-1] == [on_next(200, 0), on_next(200, 1)]
    assert isinstance(error, BackpressureError)
    assert error.processor == "ingest"
    assert "capacity 2" in str(error)
    assert returned == [0, 1, 2, 3, 4]
    assert buffered.stats() == QueueStats(
        received=5, failed=0, delivered=2, dropped=3, queued=0, high_watermark=2
    )


def test_block_under_virtual_time_fails_instead_of_hanging(scheduler: TestScheduler) -> None:
    buffered = buffer_(3, scheduler=scheduler)
    result = scheduler.start(lambda: rx.from_iterable(range(10)).pipe(buffered))
    assert result.messages[:-1] == [on_next(200, 0), on_next(200, 1), on_next(200, 2)]
    error = failure(result.messages, at=200)
    assert isinstance(error, BackpressureError)
    assert (error.processor, error.capacity) == ("buffer", 3)
    assert "virtual time" in str(error)
    stats = buffered.stats()
    assert stats.received == stats.delivered + stats.dropped


def test_producer_on_the_drain_thread_fails_instead_of_deadlocking(no_thread_leak: None) -> None:
    source: Subject[int] = Subject()
    feedback_returned = threading.Event()

    def feed_back(item: int) -> None:
        if item == 0:  # runs on the drain thread: it becomes the producer
            for n in range(1, 6):
                source.on_next(n)
            feedback_returned.set()

    buffered = buffer_(1)
    recorder = Recorder(feed_back)
    recorder.subscribe(source.pipe(buffered))
    source.on_next(0)
    assert recorder.done.wait(30)
    assert feedback_returned.is_set()
    assert recorder.items == [0, 1]
    assert isinstance(recorder.error, BackpressureError)
    assert recorder.error.capacity == 1
    assert "thread that drains it" in str(recorder.error)
    # Item 2 overflowed; the failed buffer disposed its upstream, so 3..5 never reached it.
    assert buffered.stats() == QueueStats(
        received=3, failed=0, delivered=2, dropped=1, queued=0, high_watermark=1
    )


def test_producer_on_the_drain_schedulers_thread_fails_instead_of_deadlocking(
    no_thread_leak: None,
) -> None:
    # The producer runs on the event loop before any drain run could: the drain,
    # queued behind it on the same thread, could never make room.
    loop = EventLoopScheduler()
    returned: list[int] = []
    buffered = buffer_(2, scheduler=loop)
    recorder = Recorder()
    try:
        recorder.subscribe(pushed(5, returned).pipe(ops.subscribe_on(loop), buffered))
        assert recorder.done.wait(10), "the producer deadlocked on the drain's thread"
    finally:
        loop.dispose()
    assert returned == [0, 1, 2, 3, 4]
    assert recorder.items == [0, 1]
    assert isinstance(recorder.error, BackpressureError)
    assert (recorder.error.processor, recorder.error.capacity) == ("buffer", 2)
    assert "thread that drains it" in str(recorder.error)
    # Item 2 overflowed; the failed buffer disposed its upstream, so 3 and 4 never reached it.
    assert buffered.stats() == QueueStats(
        received=3, failed=0, delivered=2, dropped=1, queued=0, high_watermark=2
    )


def test_on_drop_that_raises_fails_the_buffer_with_a_note(scheduler: TestScheduler) -> None:
    def refuse(item: int) -> None:
        raise Boom(f"no room for {item}")

    buffered = dropping_buffer(1, on_drop=refuse, name="lossy", scheduler=scheduler)
    result = scheduler.start(lambda: rx.from_iterable(range(4)).pipe(buffered))
    assert result.messages[:-1] == [on_next(200, 0)]
    error = failure(result.messages, at=200)
    assert isinstance(error, Boom)
    assert str(error) == "no room for 1"
    assert error.__notes__ == ["rxstreamz: raised in processor 'lossy' on item 1"]
    stats = buffered.stats()
    assert stats.received == stats.delivered + stats.dropped == 2  # upstream disposed after 1


def test_sliding_buffer_on_drop_that_raises_names_the_evicted_item(
    scheduler: TestScheduler,
) -> None:
    def refuse(item: int) -> None:
        raise Boom(f"cannot drop {item}")

    buffered = sliding_buffer(1, on_drop=refuse, name="latest", scheduler=scheduler)
    result = scheduler.start(lambda: rx.from_iterable(range(4)).pipe(buffered))
    # Item 1 evicted item 0 (on_drop raised on 0), so 1 is what was queued before the failure.
    assert result.messages[:-1] == [on_next(200, 1)]
    error = failure(result.messages, at=200)
    assert isinstance(error, Boom)
    assert str(error) == "cannot drop 0"
    assert error.__notes__ == ["rxstreamz: raised in processor 'latest' on item 0"]
    assert buffered.stats() == QueueStats(
        received=2, failed=0, delivered=1, dropped=1, queued=0, high_watermark=1
    )


# -- scheduler drain ------------------------------------------------------------------------


def test_buffer_on_a_test_scheduler_is_deterministic(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(220, 3), on_completed(230)
    )
    result = scheduler.start(lambda: source.pipe(buffer_(2, scheduler=scheduler)))
    assert result.messages == [
        on_next(210, 1),
        on_next(220, 2),
        on_next(220, 3),
        on_completed(230),
    ]
    assert source.subscriptions == [subscribe(200, 230)]


def test_scheduler_drain_flushes_before_an_upstream_error(scheduler: TestScheduler) -> None:
    error = Boom("upstream")
    source: Observable[int] = rx.concat(rx.of(1, 2), rx.throw(error))
    result = scheduler.start(lambda: source.pipe(buffer_(4, scheduler=scheduler)))
    assert result.messages == [on_next(200, 1), on_next(200, 2), on_error(200, error)]


def test_scheduler_drain_dispose_emits_nothing_after(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(300, 2), on_completed(400))
    result = scheduler.start(lambda: source.pipe(buffer_(2, scheduler=scheduler)), disposed=250)
    assert result.messages == [on_next(210, 1)]
    assert source.subscriptions == [subscribe(200, 250)]


def test_a_scheduler_that_refuses_the_drain_fails_the_stream() -> None:
    loop = EventLoopScheduler()
    loop.dispose()  # takes no more work
    returned: list[int] = []
    recorder = Recorder()
    buffered = buffer_(2, name="ingest", scheduler=loop)
    recorder.subscribe(pushed(3, returned).pipe(buffered))
    assert returned == [0, 1, 2]  # the producer is not hit by the scheduler's exception
    assert recorder.items == []
    error = recorder.error
    assert error is not None
    assert (type(error).__name__, str(error), error.__notes__) == (
        "DisposedException",
        "Object has been disposed",
        ["rxstreamz: processor 'ingest' could not schedule its drain on EventLoopScheduler"],
    )
    assert buffered.stats() == QueueStats(
        received=3, failed=0, delivered=0, dropped=3, queued=0, high_watermark=1
    )


def test_drain_on_a_thread_scheduler(no_thread_leak: None) -> None:
    scheduler = NewThreadScheduler()
    assert collect(rx.from_iterable(range(500)).pipe(buffer_(3, scheduler=scheduler)), 30) == list(
        range(500)
    )


# -- subscriptions, arguments ----------------------------------------------------------------


def test_two_subscriptions_are_independent_and_stats_add_up(no_thread_leak: None) -> None:
    buffered = buffer_(2)
    pipeline = rx.from_iterable(range(300)).pipe(buffered)
    assert collect(pipeline, 30) == list(range(300))
    assert collect(pipeline, 30) == list(range(300))
    stats = buffered.stats()
    assert (stats.received, stats.delivered, stats.dropped, stats.queued) == (600, 600, 0, 0)


def test_buffer_is_usable_beside_rx_operators(no_thread_leak: None) -> None:
    pipeline = rx.from_iterable(range(10)).pipe(
        buffer_(2), ops.map(lambda n: n * 2), dropping_buffer(100)
    )
    assert collect(pipeline, 30) == [n * 2 for n in range(10)]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: buffer_(0), ValueError, "capacity must be >= 1, got 0"),
        (lambda: buffer_(True), TypeError, "capacity must be an int, got bool"),
        (lambda: buffer_(2.5), TypeError, "capacity must be an int, got float"),  # pyright: ignore[reportArgumentType]
        (
            lambda: buffer_(2, overflow="drop"),  # pyright: ignore[reportArgumentType]
            ValueError,
            "overflow must be one of 'block', 'drop_newest', 'drop_oldest', 'error', got 'drop'",
        ),
        (lambda: dropping_buffer(-1), ValueError, "capacity must be >= 1, got -1"),
        (lambda: sliding_buffer(2, on_drop=5), TypeError, "on_drop must be callable, got int"),  # pyright: ignore[reportArgumentType]
        (lambda: sliding_buffer(2, name=""), ValueError, "name must not be empty"),
    ],
)
def test_invalid_arguments_fail_at_the_call(
    build: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        build()


def test_default_names() -> None:
    assert buffer_(1).name == "buffer"
    assert dropping_buffer(1).name == "dropping_buffer"
    assert sliding_buffer(1).name == "sliding_buffer"
    assert buffer_(1, name="ingest").name == "ingest"


# -- properties and stress ------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    capacity=st.integers(1, 6),
    overflow=st.sampled_from(["block", "drop_newest", "drop_oldest", "error"]),
    bursts=st.lists(st.integers(0, 9), max_size=8),
)
def test_books_balance_and_the_queue_never_exceeds_capacity(
    capacity: int, overflow: Overflow, bursts: list[int]
) -> None:
    """Bursts of items at the same virtual time accumulate before the drain runs."""
    scheduler = TestScheduler()
    messages: list[Any] = []
    expected: list[int] = []
    failed = False
    n = 0
    for index, size in enumerate(bursts):
        burst = list(range(n, n + size))
        n += size
        messages.extend(on_next(300 + 10 * index, item) for item in burst)
        if failed:
            continue
        if len(burst) <= capacity:
            expected.extend(burst)
        elif overflow == "drop_newest":
            expected.extend(burst[:capacity])
        elif overflow == "drop_oldest":
            expected.extend(burst[-capacity:])
        else:
            expected.extend(burst[:capacity])
            failed = True
    source = scheduler.create_hot_observable(*messages, on_completed(900))
    buffered = buffer_(capacity, overflow=overflow, scheduler=scheduler)
    recorded: list[Any] = scheduler.start(lambda: source.pipe(buffered)).messages
    values = [m.value.value for m in recorded if m.value.kind == "N"]
    assert values == expected
    assert recorded[-1].value.kind == ("E" if failed else "C")
    stats = buffered.stats()
    assert stats.received == stats.delivered + stats.dropped
    assert stats.queued == 0
    assert stats.high_watermark <= capacity


@settings(max_examples=10, deadline=None)
@given(capacity=st.integers(1, 8), count=st.integers(0, 3000))
def test_threaded_stress_loses_nothing_and_leaves_no_thread(capacity: int, count: int) -> None:
    before = set(threading.enumerate())
    buffered = buffer_(capacity)
    assert collect(rx.from_iterable(range(count)).pipe(buffered), 30) == list(range(count))
    stats = buffered.stats()
    assert stats.received == stats.delivered == count
    assert stats.high_watermark <= capacity
    assert wait_until(lambda: not [t for t in threading.enumerate() if t not in before])


@settings(max_examples=100, deadline=None)
@given(
    capacity=st.integers(1, 4),
    overflow=st.sampled_from(["block", "drop_newest", "drop_oldest", "error"]),
    bursts=st.lists(st.integers(0, 6), max_size=6),
    dispose_at=st.integers(300, 370),
)
def test_every_item_is_accounted_for_whatever_the_dispose_point(
    capacity: int, overflow: Overflow, bursts: list[int], dispose_at: int
) -> None:
    """``received == delivered + dropped + queued`` at every moment; nothing queued at the end."""
    scheduler = TestScheduler()
    messages: list[Any] = []
    n = 0
    for index, size in enumerate(bursts):
        messages.extend(on_next(301 + 10 * index, item) for item in range(n, n + size))
        n += size
    source = scheduler.create_hot_observable(*messages)
    # The drain runs one tick after its items: dispose may land between the two.
    drain = TestScheduler()
    buffered = buffer_(capacity, overflow=overflow, scheduler=drain)
    taken = 0
    unbalanced: list[Any] = []

    def count(_: int) -> None:
        nonlocal taken
        taken += 1

    def check(*_: Any) -> None:
        stats = buffered.stats()
        if stats.received != stats.delivered + stats.dropped + stats.queued:
            unbalanced.append(stats)

    def tick(*_: Any) -> None:
        drain.advance_by(1)
        check()

    for moment in range(300, 380, 5):
        scheduler.schedule_absolute(moment, tick)
    recorded: list[Any] = scheduler.start(
        lambda: source.pipe(ops.do_action(count), buffered), disposed=dispose_at
    ).messages
    stats = buffered.stats()
    assert unbalanced == []
    assert stats.failed == 0
    assert stats.received == taken
    assert stats.delivered == sum(1 for m in recorded if m.value.kind == "N")
    assert stats.queued == 0  # disposed: what was queued is counted as dropped
    assert stats.received == stats.delivered + stats.dropped
