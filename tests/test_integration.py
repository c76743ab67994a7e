"""Cross-family integration tests: realistic pipelines on real threads and in virtual time.

Each family has its own unit tests; these combine them the way users do
(buffers feeding worker pools feeding timed batches, branches feeding
bridges) and check the end-to-end promises: every item exactly once and in
order, the ``stats()`` invariants of every stage, errors crossing stage and
thread boundaries unchanged, disposal stopping everything, and no thread
outliving its pipeline. Threads are synchronized with Events and bounded
joins; no outcome depends on a sleep.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops
from reactivex.notification import OnError
from reactivex.scheduler import NewThreadScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    DeadLetter,
    RetryExhaustedError,
    async_map,
    batch,
    buffer_,
    collect,
    dead_letter,
    dropping_buffer,
    fan_in,
    fan_out,
    from_async_iterable,
    map_,
    partition_,
    retry_,
    sliding_buffer,
    take_,
    throttle,
    to_async_iterator,
    to_iterator,
    unbatch,
)
from tests.support import (
    DISPOSED,
    TIMEOUT,
    Boom,
    Recorder,
    on_completed,
    on_next,
    wait_for_threads,
)


def threaded_source(items: Any) -> Observable[Any]:
    """``items`` emitted on a fresh thread of their own (the producer is not the caller).

    (``ops.subscribe_on(NewThreadScheduler())`` is not used: RxPY disposes its
    inner subscription through yet another scheduled action, so an endless
    source behind it keeps looping after dispose.)
    """
    return rx.from_iterable(items, scheduler=NewThreadScheduler())


def double_slowly(x: int) -> int:
    """A worker function that yields the GIL now and then, so workers interleave."""
    if x % 97 == 0:
        threading.Event().wait(0.0005)
    return 2 * x


# -- the happy path across families ----------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_buffer_async_map_batch_unbatch_delivers_every_item_once_in_order() -> None:
    count = 10_000
    buffer = buffer_(64)
    pool = async_map(double_slowly, workers=8)
    batches = batch(100, max_latency=0.01)
    sizes: list[int] = []
    recorder = Recorder()

    threaded_source(range(count)).pipe(
        buffer,
        pool,
        batches,
        ops.do_action(lambda b: sizes.append(len(b))),
        unbatch(),
    ).subscribe(recorder)

    assert recorder.done.wait(TIMEOUT), "pipeline did not complete"
    assert recorder.errors == []
    assert recorder.completions == 1
    assert recorder.items == [2 * x for x in range(count)]
    assert all(1 <= size <= 100 for size in sizes)

    b = buffer.stats()
    assert b.received == count
    assert b.received == b.delivered + b.dropped
    assert b.dropped == 0
    assert b.queued == 0
    assert 1 <= b.high_watermark <= 64

    p = pool.stats()
    assert p.submitted == count
    assert p.completed == p.submitted - p.failed == count
    assert p.in_flight == 0
    assert 1 <= p.high_watermark <= 8 + 2 * 8


@pytest.mark.usefixtures("no_thread_leak")
def test_two_subscriptions_of_one_threaded_pipeline_are_independent() -> None:
    pipeline = threaded_source(range(2_000)).pipe(
        buffer_(16), async_map(lambda x: x + 1, workers=4), batch(50, max_latency=0.01), unbatch()
    )
    first, second = Recorder(), Recorder()
    pipeline.subscribe(first)
    pipeline.subscribe(second)
    assert first.done.wait(TIMEOUT)
    assert second.done.wait(TIMEOUT)
    assert first.items == second.items == list(range(1, 2_001))


# -- dispose from another thread ------------------------------------------------------------


@pytest.mark.parametrize("stop_after", [1, 137, 1_000, 2_500])
def test_dispose_mid_stream_from_another_thread_stops_everything(stop_after: int) -> None:
    before = set(threading.enumerate())
    reached = threading.Event()
    disposed = threading.Event()
    late: list[int] = []
    seen: list[int] = []

    def on_next(value: int) -> None:
        # An emission that *starts* after dispose() has returned breaks the contract
        # (one already running when dispose is called may finish).
        if disposed.is_set():
            late.append(value)
        seen.append(value)
        if len(seen) == stop_after:
            reached.set()

    source = threaded_source(itertools.count())  # endless: only dispose can stop it
    subscription = source.pipe(
        buffer_(64), async_map(double_slowly, workers=8), batch(100, max_latency=0.01), unbatch()
    ).subscribe(on_next)

    assert reached.wait(TIMEOUT), "the pipeline never got going"

    def stop() -> None:
        subscription.dispose()
        disposed.set()

    stopper = threading.Thread(target=stop)
    stopper.start()
    stopper.join(TIMEOUT)
    assert not stopper.is_alive(), "dispose() did not return"
    # Quiescence: once every pipeline thread (source, drain, workers, timers) is
    # gone, nothing can emit any more.
    assert wait_for_threads(before) == []
    assert late == []
    assert seen == [2 * x for x in range(len(seen))]


@pytest.mark.usefixtures("no_thread_leak")
def test_take_after_async_map_disposes_from_a_worker_thread() -> None:
    pool = async_map(double_slowly, workers=4)
    got = collect(
        threaded_source(itertools.count()).pipe(buffer_(16), pool, take_(300)), timeout=TIMEOUT
    )
    assert got == [2 * x for x in range(300)]
    assert pool.stats().completed >= 300


# -- errors crossing families ----------------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_failing_map_after_async_map_reaches_subscriber_once_unchanged() -> None:
    error = Boom("bad item")

    def parse(x: int) -> int:
        if x == 1_234:
            raise error
        return x

    recorder = Recorder()
    threaded_source(itertools.count()).pipe(
        buffer_(32),
        async_map(double_slowly, workers=4),
        map_(parse, name="parse"),
        batch(10, max_latency=0.01),
        unbatch(),
    ).subscribe(recorder)

    assert recorder.done.wait(TIMEOUT)
    assert recorder.errors == [error]
    assert recorder.completions == 0
    assert type(recorder.errors[0]) is Boom
    notes = getattr(recorder.errors[0], "__notes__", [])
    assert any("'parse'" in note and "1234" in note for note in notes), notes
    # batch flushes what it held before forwarding the error: everything before it
    assert recorder.items == [2 * x for x in range(617)]


@pytest.mark.usefixtures("no_thread_leak")
def test_failing_worker_function_in_async_map_stops_the_threaded_source() -> None:
    def enrich(x: int) -> int:
        if x == 300:
            raise Boom(x)
        return x

    recorder = Recorder()
    pool = async_map(enrich, workers=4, name="enrich")
    threaded_source(itertools.count()).pipe(buffer_(8), pool, map_(str)).subscribe(recorder)

    assert recorder.done.wait(TIMEOUT)
    assert len(recorder.errors) == 1
    assert isinstance(recorder.errors[0], Boom)
    assert any("'enrich'" in note for note in getattr(recorder.errors[0], "__notes__", []))
    assert recorder.items == [str(x) for x in range(300)]
    assert pool.stats().failed == 1


@pytest.mark.usefixtures("no_thread_leak")
def test_skip_mode_across_families_counts_dead_letters_and_keeps_order() -> None:
    letters: list[DeadLetter[Any]] = []
    lock = threading.Lock()

    def on_failure(letter: DeadLetter[Any]) -> None:
        with lock:
            letters.append(letter)

    def enrich(x: int) -> int:
        if x % 10 == 3:
            raise Boom(x)
        return x

    def parse(x: int) -> int:
        if x % 10 == 7:
            raise ValueError(x)
        return x

    pool = async_map(enrich, workers=4, errors="skip", on_failure=on_failure, name="enrich")
    parser = map_(parse, errors="skip", on_failure=on_failure, name="parse")
    buffer = buffer_(32)
    recorder = Recorder()
    threaded_source(range(1_000)).pipe(
        buffer, pool, parser, batch(25, max_latency=0.01), unbatch()
    ).subscribe(recorder)

    assert recorder.done.wait(TIMEOUT)
    assert recorder.errors == []
    assert recorder.items == [x for x in range(1_000) if x % 10 not in (3, 7)]
    assert sorted((d.processor, d.item) for d in letters) == sorted(
        [("enrich", x) for x in range(3, 1_000, 10)] + [("parse", x) for x in range(7, 1_000, 10)]
    )
    assert all(
        isinstance(d.error, Boom if d.processor == "enrich" else ValueError) for d in letters
    )
    p = pool.stats()
    assert (p.submitted, p.failed, p.completed) == (1_000, 100, 900)
    assert parser.stats().failed == 100
    b = buffer.stats()
    assert b.received == b.delivered + b.dropped == 1_000


# -- resilience in virtual time --------------------------------------------------------------


def test_throttle_retry_dead_letter_in_virtual_time(scheduler: TestScheduler) -> None:
    calls: list[tuple[str, int, float]] = []
    letters: list[DeadLetter[int]] = []

    def flaky(x: int) -> int:
        # item 2 fails once (recovered by retry_), item 4 always fails (exhausted)
        calls.append(("flaky", x, scheduler.clock))
        attempts = sum(1 for c in calls if c[:2] == ("flaky", x))
        if (x == 2 and attempts == 1) or x == 4:
            raise Boom(x)
        return x * 10

    def store(x: int) -> int:
        calls.append(("store", x, scheduler.clock))
        if x == 30:
            raise ConnectionError(x)
        return x + 1

    pacer = throttle(1.0, scheduler=scheduler)
    retrier = retry_(
        flaky, max_attempts=2, base_delay=0.25, jitter=False, errors="skip", scheduler=scheduler
    )
    sink = dead_letter(
        store, sink=letters.append, max_retries=1, retry_delay=0.5, scheduler=scheduler
    )
    source = scheduler.create_hot_observable(
        on_next(300.0, 1),
        on_next(300.0, 2),
        on_next(300.0, 3),
        on_next(300.0, 4),
        on_next(300.0, 5),
        on_completed(300.0),
    )
    result = scheduler.start(lambda: source.pipe(pacer, retrier, sink), disposed=DISPOSED)

    # throttle releases one item per second from 300; item 2 is retried 0.25 s
    # later; item 4 exhausts retry_ at 303.25 (skipped); store fails on 30 at
    # 302, is retried 0.5 s later, fails again and 30 goes to the sink.
    assert result.messages == [
        on_next(300.0, 11),
        on_next(301.25, 21),
        on_next(304.0, 51),
        on_completed(304.0),
    ]
    assert [(x, t) for kind, x, t in calls if kind == "store"] == [
        (10, 300.0),
        (20, 301.25),
        (30, 302.0),
        (30, 302.5),
        (50, 304.0),
    ]
    assert [(x, t) for kind, x, t in calls if kind == "flaky"] == [
        (1, 300.0),
        (2, 301.0),
        (2, 301.25),
        (3, 302.0),
        (4, 303.0),
        (4, 303.25),
        (5, 304.0),
    ]
    assert [(d.item, d.attempts, type(d.error)) for d in letters] == [(30, 2, ConnectionError)]
    r = retrier.stats()
    assert (r.succeeded, r.failed, r.retried) == (4, 1, 2)
    s = sink.stats()
    assert (s.processed, s.succeeded, s.failed, s.retried) == (4, 3, 1, 1)
    t = pacer.stats()
    assert (t.received, t.delivered, t.queued) == (5, 5, 0)


def test_throttle_retry_raise_mode_forwards_exhaustion_after_earlier_items(
    scheduler: TestScheduler,
) -> None:
    def always_fails(x: int) -> int:
        if x == 2:
            raise Boom(x)
        return x

    source = scheduler.create_hot_observable(
        on_next(300.0, 1), on_next(300.0, 2), on_next(300.0, 3), on_completed(300.0)
    )
    result = scheduler.start(
        lambda: source.pipe(
            throttle(2.0, scheduler=scheduler),
            retry_(always_fails, max_attempts=3, base_delay=0.1, jitter=False, scheduler=scheduler),
        ),
        disposed=DISPOSED,
    )
    assert len(result.messages) == 2
    assert result.messages[0] == on_next(300.0, 1)
    # item 2 released at 300.5, retried at 300.6 and 300.8
    assert result.messages[1].time == pytest.approx(300.8)  # 300.5 + 0.1 + 0.2, in float seconds
    failure = result.messages[1].value
    assert isinstance(failure, OnError)
    error = failure.exception
    assert isinstance(error, RetryExhaustedError)
    assert isinstance(error.__cause__, Boom)


# -- branches on real threads -----------------------------------------------------------------


def _drain(iterator: Any, into: list[Any], started: threading.Barrier) -> None:
    started.wait(TIMEOUT)
    into.extend(iterator)


@pytest.mark.usefixtures("no_thread_leak")
def test_partition_branches_through_buffers_into_iterators_on_threads() -> None:
    count = 6_000
    branches = rx.from_iterable(range(count)).pipe(
        partition_(lambda x: x % 3, 3, partitioner=lambda k, n: k % n)
    )
    buffers = [buffer_(16) for _ in branches]
    iterators = [
        to_iterator(b.pipe(buf), maxsize=8) for b, buf in zip(branches, buffers, strict=True)
    ]
    results: list[list[int]] = [[] for _ in branches]
    started = threading.Barrier(len(branches))
    consumers = [
        threading.Thread(target=_drain, args=(it, out, started))
        for it, out in zip(iterators, results, strict=True)
    ]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join(TIMEOUT)
    assert not any(c.is_alive() for c in consumers), "deadlock: a consumer never finished"
    for index, got in enumerate(results):
        assert got == list(range(index, count, 3))
    for buf in buffers:
        s = buf.stats()
        assert s.received == s.delivered == count // 3
        assert s.high_watermark <= 16


@pytest.mark.usefixtures("no_thread_leak")
def test_fan_out_branches_with_slow_and_fast_consumers_lose_nothing() -> None:
    count = 3_000
    fast, slow = threaded_source(range(count)).pipe(fan_out(2))
    fast_items: list[int] = []
    slow_items: list[int] = []
    started = threading.Barrier(2)

    def slow_drain(iterator: Any) -> None:
        started.wait(TIMEOUT)
        for index, item in enumerate(iterator):
            if index % 500 == 0:
                threading.Event().wait(0.005)  # makes this consumer the slow one
            slow_items.append(item)

    fast_it = to_iterator(fast.pipe(buffer_(8), async_map(lambda x: -x, workers=2)), maxsize=4)
    slow_it = to_iterator(slow.pipe(buffer_(8)), maxsize=4)
    threads = [
        threading.Thread(target=_drain, args=(fast_it, fast_items, started)),
        threading.Thread(target=slow_drain, args=(slow_it,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "deadlock between branches"
    assert fast_items == [-x for x in range(count)]
    assert slow_items == list(range(count))


# -- pull bridges ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_to_iterator_early_break_disposes_async_map_pipeline() -> None:
    pipeline = rx.from_iterable(itertools.count()).pipe(
        async_map(double_slowly, workers=4), batch(10, max_latency=0.01), unbatch()
    )
    taken: list[int] = []
    with to_iterator(pipeline, maxsize=16) as iterator:
        for item in iterator:
            taken.append(item)
            if len(taken) == 200:
                break
    assert taken == [2 * x for x in range(200)]


@pytest.mark.usefixtures("no_thread_leak")
def test_to_iterator_abandoned_after_break_is_disposed_by_garbage_collection() -> None:
    pipeline = rx.from_iterable(itertools.count()).pipe(
        buffer_(8), async_map(double_slowly, workers=4)
    )
    iterator = to_iterator(pipeline, maxsize=16)
    taken: list[int] = []
    for item in iterator:
        taken.append(item)
        if len(taken) == 100:
            break
    assert taken == [2 * x for x in range(100)]
    del iterator
    gc.collect()
    # no_thread_leak: the feeder, the buffer's drain and the workers are gone
    # closing the iterator disposed the whole pipeline: no_thread_leak proves the
    # feeder and the workers are gone


@pytest.mark.usefixtures("no_thread_leak")
def test_collect_of_threaded_pipeline_reraises_a_worker_error_with_its_note() -> None:
    def check(x: int) -> int:
        if x == 50:
            raise Boom(x)
        return x

    with pytest.raises(Boom) as caught:
        collect(
            threaded_source(range(100)).pipe(buffer_(4), async_map(check, workers=3)),
            timeout=TIMEOUT,
        )
    assert any("'async_map'" in note for note in getattr(caught.value, "__notes__", []))


# -- backpressure across families --------------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_dispose_releases_async_map_blocked_on_a_full_downstream_buffer() -> None:
    gate = threading.Event()
    entered = threading.Event()
    seen: list[int] = []

    def slow_consumer(value: int) -> None:
        seen.append(value)
        entered.set()
        gate.wait(TIMEOUT)  # holds the buffer's drain until the test releases it

    downstream = buffer_(4)
    pool = async_map(lambda x: x, workers=4)
    subscription = (
        threaded_source(itertools.count())
        .pipe(buffer_(8), pool, downstream)
        .subscribe(slow_consumer)
    )
    assert entered.wait(TIMEOUT)
    # Everything upstream fills up and blocks: the drain holds one item, the
    # downstream buffer 4, async_map its whole bound, the first buffer 8.
    stopper = threading.Thread(target=subscription.dispose)
    stopper.start()
    stopper.join(TIMEOUT)
    assert not stopper.is_alive(), "dispose() blocked behind a full buffer"
    gate.set()
    assert seen == list(range(len(seen)))
    s = downstream.stats()
    assert s.high_watermark <= 4


@pytest.mark.usefixtures("no_thread_leak")
def test_upstream_error_flushes_through_buffer_async_map_and_batch_in_order() -> None:
    error = Boom("upstream")
    source = rx.concat(threaded_source(range(1_000)), rx.throw(error))
    recorder = Recorder()
    source.pipe(
        buffer_(16), async_map(double_slowly, workers=4), batch(64, max_latency=5.0), unbatch()
    ).subscribe(recorder)
    assert recorder.done.wait(TIMEOUT)
    assert recorder.errors == [error]
    assert recorder.items == [2 * x for x in range(1_000)]


@pytest.mark.parametrize("make", [dropping_buffer, sliding_buffer])
@pytest.mark.usefixtures("no_thread_leak")
def test_lossy_buffers_after_async_map_count_every_item(make: Any) -> None:
    overflowed = threading.Event()
    dropped: list[int] = []

    def on_drop(item: int) -> None:
        dropped.append(item)
        overflowed.set()

    lossy = make(4, on_drop=on_drop)
    recorder = Recorder()

    def consume(value: int) -> None:
        if not recorder.items:
            # the first item stalls the drain until the buffer has overflowed
            assert overflowed.wait(TIMEOUT)
        recorder.on_next(value)

    threaded_source(range(500)).pipe(async_map(lambda x: x, workers=4), lossy).subscribe(
        consume, recorder.on_error, recorder.on_completed
    )
    assert recorder.done.wait(TIMEOUT)
    assert recorder.errors == []
    s = lossy.stats()
    assert s.received == 500
    assert s.received == s.delivered + s.dropped
    assert s.dropped == len(dropped) >= 1
    assert s.delivered == len(recorder.items)
    assert s.high_watermark <= 4
    assert sorted(recorder.items + dropped) == list(range(500))
    assert recorder.items == sorted(recorder.items)


# -- resilience and routing on real threads ------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_partition_into_async_map_per_branch_and_fan_in_keeps_per_key_order() -> None:
    branches = threaded_source(range(3_000)).pipe(partition_(lambda x: f"k{x % 7}", 3))
    merged = fan_in(*(b.pipe(buffer_(16), async_map(lambda x: x, workers=2)) for b in branches))
    got = collect(merged, timeout=TIMEOUT)
    assert sorted(got) == list(range(3_000))
    for key in range(7):
        mine = [x for x in got if x % 7 == key]
        assert mine == sorted(mine)


@pytest.mark.usefixtures("no_thread_leak")
def test_retry_on_real_timers_after_async_map_recovers_in_order() -> None:
    failed_once: set[int] = set()
    lock = threading.Lock()

    def flaky(x: int) -> int:
        with lock:
            if x % 50 == 0 and x not in failed_once:
                failed_once.add(x)
                raise Boom(x)
        return x

    retrier = retry_(flaky, max_attempts=2, base_delay=0.001, jitter=False)
    got = collect(
        threaded_source(range(500)).pipe(async_map(lambda x: x, workers=4), retrier),
        timeout=TIMEOUT,
    )
    assert got == list(range(500))
    r = retrier.stats()
    assert (r.succeeded, r.retried, r.failed, r.queued) == (500, 10, 0, 0)


@pytest.mark.usefixtures("no_thread_leak")
def test_dispose_with_retry_waits_and_throttle_pacing_pending_on_real_timers() -> None:
    first = threading.Event()

    def always_fails(x: int) -> int:
        first.set()
        raise Boom(x)

    subscription = (
        threaded_source(range(100))
        .pipe(
            throttle(10_000.0),
            retry_(always_fails, max_attempts=5, base_delay=0.5, jitter=False, errors="skip"),
            dead_letter(lambda x: x, sink=lambda _letter: None, retry_delay=0.5),
        )
        .subscribe()
    )
    assert first.wait(TIMEOUT)
    subscription.dispose()
    # no_thread_leak: the 0.5 s back-off timer is cancelled, not left to fire


@pytest.mark.usefixtures("no_thread_leak")
def test_throttle_then_take_stops_an_endless_threaded_source() -> None:
    got = collect(
        threaded_source(itertools.count()).pipe(throttle(20_000.0, burst=10), take_(100)),
        timeout=TIMEOUT,
    )
    assert got == list(range(100))


@pytest.mark.usefixtures("no_thread_leak")
def test_dead_letter_subject_sink_on_worker_threads() -> None:
    sink: Subject[DeadLetter[int]] = Subject()
    letters: list[int] = []
    sink.subscribe(lambda letter: letters.append(letter.item))

    def store(x: int) -> int:
        if x % 9 == 0:
            raise ConnectionError(x)
        return x

    got = collect(
        threaded_source(range(300)).pipe(
            async_map(lambda x: x, workers=4), dead_letter(store, sink=sink)
        ),
        timeout=TIMEOUT,
    )
    assert got == [x for x in range(300) if x % 9]
    assert letters == list(range(0, 300, 9))


def test_to_async_iterator_over_async_map_with_early_break() -> None:
    before = set(threading.enumerate())

    async def main() -> list[int]:
        taken: list[int] = []
        iterator = to_async_iterator(
            rx.from_iterable(itertools.count()).pipe(async_map(double_slowly, workers=4)), maxsize=8
        )
        async for item in iterator:
            taken.append(item)
            if len(taken) == 50:
                break
        await iterator.aclose()
        return taken

    assert asyncio.run(main()) == [2 * x for x in range(50)]
    assert wait_for_threads(before) == []


@pytest.mark.usefixtures("no_thread_leak")
def test_async_source_into_async_def_workers_is_held_to_their_pace() -> None:
    async def numbers() -> AsyncIterator[int]:
        for number in range(300):
            yield number

    async def enrich(x: int) -> int:
        await asyncio.sleep(0.001)
        return 2 * x

    pool = async_map(enrich, workers=8)
    got = collect(
        from_async_iterable(numbers()).pipe(pool, batch(16, max_latency=0.01), unbatch()),
        timeout=TIMEOUT,
    )
    assert got == [2 * x for x in range(300)]
    # the source runs on its own loop thread and is paused by the bounded queue,
    # which takes the item that finds it full (one over) before pausing it
    assert pool.stats().high_watermark <= 8 + 16 + 1
