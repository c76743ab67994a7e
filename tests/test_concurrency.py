"""async_map: ordered bounded concurrency on threads, executors and asyncio."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import multiprocessing
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Literal, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, Subject, abc
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOScheduler, AsyncIOThreadSafeScheduler
from reactivex.testing import TestScheduler

from rxstreamz import (
    AsyncMapStats,
    BackpressureError,
    DeadLetter,
    Operator,
    async_map,
    collect,
)
from rxstreamz.concurrency._async_map import AsyncMap
from tests.support import TIMEOUT, Abort, Boom, Recorder, wait_until


def square(n: int) -> int:
    """Module level, so a process pool can pickle it."""
    return n * n


def fail_on_three(n: int) -> int:
    if n == 3:
        raise Boom(f"bad {n}")
    return n * n


class InFlight:
    """Counts concurrent calls and remembers the peak."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class Producer:
    """Feeds ``0 .. count - 1`` and then completion into ``op`` from a thread of its own.

    ``returned`` counts the ``on_next`` calls that have returned, so a test
    sees where backpressure stopped the producer.
    """

    def __init__(
        self,
        op: Callable[[Observable[int]], Observable[int]],
        count: int,
        scheduler: abc.SchedulerBase | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.recorder = recorder if recorder is not None else Recorder()
        self.returned = 0
        self._subject: Subject[int] = Subject()
        self._subject.pipe(op).subscribe(self.recorder, scheduler=scheduler)
        self.thread = threading.Thread(target=self._produce, args=(count,))
        self.thread.start()

    def _produce(self, count: int) -> None:
        for i in range(count):
            self._subject.on_next(i)
            self.returned += 1
        self._subject.on_completed()


@pytest.fixture
def thread_pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        yield pool


# -- ordering ------------------------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_results_keep_input_order_when_later_items_finish_first() -> None:
    n = 8

    def slow_first(i: int) -> int:
        time.sleep((n - i) * 0.003)  # item 0 sleeps longest
        return i * 10

    finished: list[int] = []
    lock = threading.Lock()

    def record_finish(i: int) -> int:
        result = slow_first(i)
        with lock:
            finished.append(i)
        return result

    out = collect(rx.from_iterable(range(n)).pipe(async_map(record_finish, workers=n)), TIMEOUT)
    assert out == [i * 10 for i in range(n)]
    assert finished != sorted(finished)  # the calls really did finish out of order


@pytest.mark.usefixtures("no_thread_leak")
def test_unordered_emits_in_completion_order() -> None:
    second_seen = threading.Event()
    recorder = Recorder()

    def fn(i: int) -> int:
        if i == 0:
            assert second_seen.wait(TIMEOUT)  # finishes only after item 1 was emitted
        return i

    def watch(value: object) -> None:
        recorder.on_next(value)
        if value == 1:
            second_seen.set()

    rx.of(0, 1).pipe(async_map(fn, workers=2, ordered=False)).subscribe(
        watch, recorder.on_error, recorder.on_completed
    )
    recorder.wait()
    assert recorder.items == [1, 0]
    assert recorder.completed


@pytest.mark.usefixtures("no_thread_leak")
def test_emissions_never_overlap() -> None:
    recorder = Recorder()
    rx.from_iterable(range(2000)).pipe(async_map(square, workers=8, ordered=False)).subscribe(
        recorder
    )
    recorder.wait()
    assert len(recorder.items) == 2000
    assert set(recorder.items) == {square(i) for i in range(2000)}
    assert not recorder.overlapped


Runner = Literal["threads", "executor", "async"]


@given(
    delays=st.lists(st.integers(0, 3), max_size=24),
    workers=st.integers(1, 5),
    max_pending=st.integers(1, 4),
    ordered=st.booleans(),
    runner=st.sampled_from(["threads", "executor", "async"]),
)
@settings(max_examples=40, deadline=None)
def test_property_output_is_the_input_mapping_whatever_the_completion_order(
    delays: list[int], workers: int, max_pending: int, ordered: bool, runner: Runner
) -> None:
    def fn(pair: tuple[int, int]) -> int:
        index, delay = pair
        time.sleep(delay * 0.0005)
        return index * 3

    async def async_fn(pair: tuple[int, int]) -> int:
        index, delay = pair
        await asyncio.sleep(delay * 0.0005)
        return index * 3

    source = rx.from_iterable(list(enumerate(delays)))
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        op = (
            async_map(async_fn, workers=workers, max_pending=max_pending, ordered=ordered)
            if runner == "async"
            else async_map(
                fn,
                workers=workers,
                max_pending=max_pending,
                ordered=ordered,
                executor=pool if runner == "executor" else None,
            )
        )
        out = collect(source.pipe(op), TIMEOUT)
    expected = [i * 3 for i in range(len(delays))]
    assert (out if ordered else sorted(out)) == expected
    stats = op.stats()
    assert stats.completed == stats.submitted == len(delays)
    assert stats.in_flight == 0
    assert stats.high_watermark <= workers + max_pending


# -- bounded concurrency and backpressure --------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("use_executor", [False, True])
def test_exactly_workers_calls_in_flight_at_the_peak(
    use_executor: bool, thread_pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    workers = 4
    barrier = threading.Barrier(workers, timeout=TIMEOUT)  # passes only with 4 calls at once
    counter = InFlight()

    def fn(i: int) -> int:
        with counter:
            barrier.wait()
        return i

    op = async_map(fn, workers=workers, executor=thread_pool if use_executor else None)
    out = collect(rx.from_iterable(range(5 * workers)).pipe(op), TIMEOUT)
    assert out == list(range(5 * workers))
    assert counter.peak == workers


@pytest.mark.usefixtures("no_thread_leak")
def test_producer_blocks_beyond_workers_plus_max_pending() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)
    calls = InFlight()

    def fn(i: int) -> int:
        with calls:
            started.release()
            assert release.wait(TIMEOUT)
        return i

    op = async_map(fn, workers=2, max_pending=3)
    run = Producer(op, 10)
    assert started.acquire(timeout=TIMEOUT)
    assert started.acquire(timeout=TIMEOUT)
    assert wait_until(lambda: op.stats().submitted == 5)
    run.thread.join(0.2)  # room for a wrong implementation to run ahead
    assert run.thread.is_alive()  # stuck in the 6th on_next
    assert run.returned == 5
    assert calls.now == 2
    assert op.stats() == AsyncMapStats(
        received=5, submitted=5, completed=0, failed=0, dropped=0, in_flight=5, high_watermark=5
    )
    release.set()
    run.thread.join(TIMEOUT)
    run.recorder.wait()
    assert run.recorder.items == list(range(10))
    assert calls.peak == 2
    assert op.stats() == AsyncMapStats(
        received=10, submitted=10, completed=10, failed=0, dropped=0, in_flight=0, high_watermark=5
    )


@pytest.mark.usefixtures("no_thread_leak")
def test_a_slow_head_item_bounds_the_results_held_for_it() -> None:
    release = threading.Event()

    def fn(i: int) -> int:
        if i == 0:
            assert release.wait(TIMEOUT)
        return i

    op = async_map(fn, workers=2, max_pending=2)
    run = Producer(op, 8)
    assert wait_until(lambda: op.stats().submitted == 4)
    run.thread.join(0.2)  # room for a wrong implementation to run ahead
    assert run.thread.is_alive()
    assert run.returned == 4  # items 1..3 are done, but held behind item 0
    assert run.recorder.items == []
    release.set()
    run.thread.join(TIMEOUT)
    run.recorder.wait()
    assert run.recorder.items == list(range(8))
    assert op.stats().high_watermark == 4


@pytest.mark.usefixtures("no_thread_leak")
def test_feedback_from_downstream_fails_instead_of_deadlocking() -> None:
    subject: Subject[int] = Subject()
    recorder = Recorder()

    def on_next(value: object) -> None:
        recorder.on_next(value)
        if value == 0:  # on the emitting worker thread: feed three more items back
            for i in (1, 2, 3):
                subject.on_next(i)

    subject.pipe(async_map(square, workers=1, max_pending=1, name="loop")).subscribe(
        on_next, recorder.on_error, recorder.on_completed
    )
    subject.on_next(0)
    recorder.wait()
    assert recorder.items == [0, 1, 4]  # the two that fitted, then the error
    assert isinstance(recorder.error, BackpressureError)
    assert str(recorder.error) == (
        "processor 'loop': queue full (capacity 2); "
        "blocking would deadlock: the producer runs on the thread that drains it (feedback); "
        "use a thread boundary or a larger capacity"
    )


# -- completion, upstream error, dispose -------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_empty_source_completes_without_starting_threads() -> None:
    before = threading.active_count()
    recorder = Recorder()
    rx.empty().pipe(async_map(square)).subscribe(recorder)
    recorder.wait()
    assert recorder.items == []
    assert recorder.completed
    assert threading.active_count() == before


@pytest.mark.usefixtures("no_thread_leak")
def test_never_ending_source_emits_nothing_until_disposed() -> None:
    recorder = Recorder()
    subscription = rx.never().pipe(async_map(square)).subscribe(recorder)
    assert recorder.items == []
    assert not recorder.done.is_set()
    subscription.dispose()


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("error", [None, Boom("upstream")])
def test_completion_and_upstream_error_wait_for_in_flight_results(
    error: Exception | None,
) -> None:
    release = threading.Event()

    def fn(i: int) -> int:
        assert release.wait(TIMEOUT)
        return i * 2

    subject: Subject[int] = Subject()
    recorder = Recorder()
    subject.pipe(async_map(fn, workers=2)).subscribe(recorder)
    for i in range(5):
        subject.on_next(i)
    if error is None:
        subject.on_completed()
    else:
        subject.on_error(error)
    assert not recorder.done.is_set()  # nothing can have finished yet
    release.set()
    recorder.wait()
    assert recorder.items == [0, 2, 4, 6, 8]
    assert recorder.error is error
    assert recorder.completed is (error is None)


@pytest.mark.usefixtures("no_thread_leak")
def test_dispose_mid_stream_stops_emission_and_releases_threads() -> None:
    release = threading.Event()
    calls: list[int] = []

    def fn(i: int) -> int:
        calls.append(i)
        if i >= 2:
            assert release.wait(TIMEOUT)
        return i

    subject: Subject[int] = Subject()
    recorder = Recorder()
    got_two = threading.Event()

    def on_next(value: object) -> None:
        recorder.on_next(value)
        if value == 1:
            got_two.set()

    op = async_map(fn, workers=2, max_pending=4)
    subscription = subject.pipe(op).subscribe(on_next, recorder.on_error, recorder.on_completed)
    for i in range(6):
        subject.on_next(i)
    assert got_two.wait(TIMEOUT)
    subscription.dispose()
    release.set()
    subject.on_next(99)
    subject.on_completed()
    assert recorder.items == [0, 1]
    assert not recorder.done.is_set()
    assert 99 not in calls
    assert max(calls) <= 3  # queued items 4 and 5 were never started
    assert op.stats().in_flight == 0


@pytest.mark.usefixtures("no_thread_leak")
def test_dispose_releases_a_blocked_producer() -> None:
    release = threading.Event()

    def fn(i: int) -> int:
        assert release.wait(TIMEOUT)
        return i

    subject: Subject[int] = Subject()
    subscription = subject.pipe(async_map(fn, workers=1, max_pending=1)).subscribe()
    subject.on_next(0)
    subject.on_next(1)
    producer = threading.Thread(target=subject.on_next, args=(2,))
    producer.start()
    producer.join(0.1)
    assert producer.is_alive()
    subscription.dispose()
    producer.join(TIMEOUT)
    assert not producer.is_alive()
    release.set()


@pytest.mark.usefixtures("no_thread_leak")
def test_downstream_take_disposes_from_a_worker_thread() -> None:
    out = collect(rx.from_iterable(range(1000)).pipe(async_map(square, workers=4), ops.take(5)))
    assert out == [0, 1, 4, 9, 16]


@pytest.mark.usefixtures("no_thread_leak")
def test_a_raising_downstream_stops_the_operator_and_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: list[BaseException | None] = []
    seen = threading.Event()

    def hook(args: threading.ExceptHookArgs) -> None:
        reported.append(args.exc_value)
        seen.set()

    monkeypatch.setattr(threading, "excepthook", hook)

    def explode(_value: object) -> None:
        raise Boom("downstream")

    producer = threading.Thread(
        target=lambda: rx.from_iterable(range(100)).pipe(async_map(square)).subscribe(explode)
    )
    producer.start()
    assert seen.wait(TIMEOUT)
    producer.join(TIMEOUT)  # released from its blocked on_next
    assert not producer.is_alive()
    assert len(reported) == 1
    assert isinstance(reported[0], Boom)


@pytest.mark.usefixtures("no_thread_leak")
def test_two_subscriptions_are_independent() -> None:
    op = async_map(square, workers=3)
    pipeline: Observable[int] = rx.from_iterable(range(50)).pipe(op)
    results: list[list[int]] = [[], []]
    threads = [
        threading.Thread(target=lambda k=k: results[k].extend(collect(pipeline))) for k in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert results == [[square(i) for i in range(50)]] * 2
    stats = op.stats()
    assert (stats.submitted, stats.completed, stats.in_flight) == (100, 100, 0)
    assert stats.high_watermark <= 3 + 6


# -- errors ----------------------------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("ordered", [True, False])
def test_raise_forwards_the_exception_with_a_note(ordered: bool) -> None:
    op = async_map(fail_on_three, workers=1, ordered=ordered, name="enrich")
    recorder = Recorder()
    rx.from_iterable(range(10)).pipe(op).subscribe(recorder)
    recorder.wait()
    assert recorder.items == [0, 1, 4]
    assert isinstance(recorder.error, Boom)
    assert str(recorder.error) == "bad 3"
    assert recorder.error.__notes__ == ["rxstreamz: raised in processor 'enrich' on item 3"]
    assert op.stats().failed == 1
    assert op.stats().in_flight == 0


@pytest.mark.usefixtures("no_thread_leak")
def test_raise_emits_earlier_results_first_and_cancels_the_rest() -> None:
    calls = InFlight()

    def fn(i: int) -> int:
        with calls:
            if i == 3:
                raise Boom("late")
            return i

    recorder = Recorder()
    rx.from_iterable(range(200)).pipe(async_map(fn, workers=4)).subscribe(recorder)
    recorder.wait()
    assert recorder.items == [0, 1, 2]
    assert isinstance(recorder.error, Boom)


@pytest.mark.usefixtures("no_thread_leak")
def test_skip_keeps_the_order_of_the_rest_and_sends_dead_letters() -> None:
    clock = TestScheduler()
    letters: list[DeadLetter[object]] = []

    def odd_fails(i: int) -> int:
        time.sleep((10 - i) * 0.001)
        if i % 2:
            raise Boom(f"odd {i}")
        return i

    op = async_map(odd_fails, workers=5, errors="skip", on_failure=letters.append, scheduler=clock)
    out = collect(rx.from_iterable(range(10)).pipe(op), TIMEOUT)
    assert out == [0, 2, 4, 6, 8]
    assert [letter.item for letter in letters] == [1, 3, 5, 7, 9]  # in input order
    letter = letters[0]
    assert isinstance(letter.error, Boom)
    assert (letter.attempts, letter.processor) == (1, "async_map")
    assert letter.timestamp == datetime.fromtimestamp(0, UTC)
    stats = op.stats()
    assert dataclasses.replace(stats, high_watermark=0) == AsyncMapStats(
        received=10,
        submitted=10,
        completed=5,
        failed=5,
        dropped=0,
        in_flight=0,
        high_watermark=0,
    )
    # How many were held at once depends on the threads; never more than were received.
    assert 1 <= stats.high_watermark <= 10


@pytest.mark.usefixtures("no_thread_leak")
def test_a_raising_on_failure_fails_the_stream() -> None:
    def sink(_letter: DeadLetter[object]) -> None:
        raise RuntimeError("sink down")

    op = async_map(fail_on_three, workers=2, errors="skip", on_failure=sink)
    with pytest.raises(RuntimeError, match="sink down") as info:
        collect(rx.from_iterable(range(6)).pipe(op), TIMEOUT)
    assert info.value.__notes__ == ["rxstreamz: raised by on_failure of processor 'async_map'"]


# -- executors ---------------------------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_executor_runs_calls_in_order_and_is_not_shut_down(
    thread_pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    op = async_map(square, workers=4, executor=thread_pool)
    assert collect(rx.from_iterable(range(100)).pipe(op), TIMEOUT) == [i * i for i in range(100)]
    assert thread_pool.submit(square, 3).result(TIMEOUT) == 9  # still usable


def test_executor_errors_are_annotated(thread_pool: concurrent.futures.ThreadPoolExecutor) -> None:
    op = async_map(fail_on_three, workers=2, executor=thread_pool)
    with pytest.raises(Boom) as info:
        collect(rx.from_iterable(range(6)).pipe(op), TIMEOUT)
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'async_map' on item 3"]


def test_dispose_cancels_pending_futures() -> None:
    release = threading.Event()
    calls: list[int] = []

    def fn(i: int) -> int:
        calls.append(i)
        assert release.wait(TIMEOUT)
        return i

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        subject: Subject[int] = Subject()
        subscription = subject.pipe(async_map(fn, workers=2, executor=pool)).subscribe()
        subject.on_next(0)  # runs on the pool's only thread
        subject.on_next(1)  # submitted, waits in the pool's queue
        subscription.dispose()
        release.set()
    assert calls == [0]


def test_a_shut_down_executor_fails_the_item() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shutdown") as info:
        collect(rx.of(1).pipe(async_map(square, executor=pool)), TIMEOUT)
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'async_map' on item 1"]


def test_process_pool_runs_cpu_work_and_forwards_its_errors() -> None:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        out = collect(rx.from_iterable(range(20)).pipe(async_map(square, executor=pool)), 60)
        assert out == [i * i for i in range(20)]
        with pytest.raises(Boom, match="bad 3") as info:
            collect(rx.from_iterable(range(6)).pipe(async_map(fail_on_three, executor=pool)), 60)
        assert "rxstreamz: raised in processor 'async_map' on item 3" in info.value.__notes__


# -- async def ---------------------------------------------------------------------------


async def async_triple(i: int) -> int:
    await asyncio.sleep((5 - i) * 0.002)  # later items finish first
    return i * 3


@pytest.mark.usefixtures("no_thread_leak")
def test_async_fn_runs_on_a_private_loop_thread() -> None:
    op = async_map(async_triple, workers=5)
    assert collect(rx.from_iterable(range(5)).pipe(op), TIMEOUT) == [0, 3, 6, 9, 12]


@pytest.mark.usefixtures("no_thread_leak")
def test_async_callable_object_is_detected() -> None:
    class Doubler:
        async def __call__(self, i: int) -> int:
            await asyncio.sleep(0)
            return i * 2

    assert collect(rx.of(1, 2).pipe(async_map(Doubler())), TIMEOUT) == [2, 4]


def test_async_fn_runs_on_the_subscription_loop() -> None:
    async def main() -> tuple[Recorder, int, int, int]:
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        threads_before = threading.active_count()
        called_on: set[int] = set()
        peak = InFlight()

        async def fn(i: int) -> int:
            called_on.add(threading.get_ident())
            with peak:
                await asyncio.sleep((6 - i) * 0.002)
            return -i

        done: asyncio.Future[None] = loop.create_future()
        recorder = Recorder(on_end=lambda: done.set_result(None))
        rx.from_iterable(range(6)).pipe(async_map(fn, workers=3)).subscribe(
            recorder, scheduler=AsyncIOScheduler(loop)
        )
        await asyncio.wait_for(done, TIMEOUT)
        assert called_on == {loop_thread}
        assert recorder.thread_ids == {loop_thread}
        return recorder, peak.peak, threads_before, threading.active_count()

    recorder, peak, threads_before, threads_after = asyncio.run(main())
    assert recorder.items == [0, -1, -2, -3, -4, -5]
    assert recorder.completed
    assert peak == 3
    assert threads_after == threads_before  # no thread of our own


def test_producer_on_the_loop_thread_fails_instead_of_deadlocking() -> None:
    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        go = asyncio.Event()

        async def fn(i: int) -> int:
            await go.wait()
            return i

        done: asyncio.Future[None] = loop.create_future()
        recorder = Recorder(on_end=lambda: done.set_result(None))
        subject: Subject[int] = Subject()
        subject.pipe(async_map(fn, workers=2, max_pending=2, name="enrich")).subscribe(
            recorder, scheduler=AsyncIOScheduler(loop)
        )
        for i in range(6):
            subject.on_next(i)  # the 5th cannot be queued and must not block the loop
        go.set()
        await asyncio.wait_for(done, TIMEOUT)
        return recorder

    recorder = asyncio.run(main())
    assert recorder.items == [0, 1, 2, 3]
    assert isinstance(recorder.error, BackpressureError)
    assert (recorder.error.processor, recorder.error.capacity) == ("enrich", 4)


@pytest.mark.usefixtures("no_thread_leak")
def test_producer_thread_blocks_on_a_thread_safe_loop() -> None:
    async def main() -> tuple[list[object], int, AsyncMapStats]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        go = asyncio.Event()
        calls = InFlight()

        async def fn(i: int) -> int:
            with calls:
                await go.wait()
            return i

        recorder = Recorder(on_end=lambda: loop.call_soon_threadsafe(done.set_result, None))
        op = async_map(fn, workers=4, max_pending=4)
        run = Producer(op, 20, AsyncIOThreadSafeScheduler(loop), recorder)
        while calls.now < 4:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.1)  # room for a wrong implementation to run ahead
        held = run.returned
        stats = op.stats()
        go.set()
        await asyncio.wait_for(done, TIMEOUT)
        run.thread.join(TIMEOUT)
        return recorder.items, held, stats

    items, held, stats = asyncio.run(main())
    assert held == 8  # 4 running + 4 queued, the 9th on_next blocked its thread
    assert stats == AsyncMapStats(
        received=8, submitted=8, completed=0, failed=0, dropped=0, in_flight=8, high_watermark=8
    )
    assert items == list(range(20))


def test_async_fn_errors_are_annotated() -> None:
    async def fn(i: int) -> int:
        if i == 2:
            raise Boom("async bad")
        return i

    with pytest.raises(Boom, match="async bad") as info:
        collect(rx.of(0, 1, 2, 3).pipe(async_map(fn, workers=2)), TIMEOUT)
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'async_map' on item 2"]


@pytest.mark.usefixtures("no_thread_leak")
def test_dispose_cancels_running_coroutines() -> None:
    cancelled = threading.Event()
    started = threading.Event()

    async def fn(i: int) -> int:
        started.set()
        try:
            await asyncio.sleep(TIMEOUT)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return i

    subscription = rx.of(1).pipe(async_map(fn)).subscribe()
    assert started.wait(TIMEOUT)
    subscription.dispose()
    assert cancelled.wait(TIMEOUT)


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"workers": 0}, ValueError, "workers must be >= 1, got 0"),
        ({"workers": True}, TypeError, "workers must be an int, got bool"),
        ({"workers": 2.0}, TypeError, "workers must be an int, got float"),
        ({"max_pending": 0}, ValueError, "max_pending must be >= 1, got 0"),
        ({"max_pending": "3"}, TypeError, "max_pending must be an int, got str"),
        ({"ordered": 1}, TypeError, "ordered must be a bool, got int"),
        (
            {"executor": "pool"},
            TypeError,
            "executor must be a concurrent.futures.Executor, got str",
        ),
        ({"errors": "ignore"}, ValueError, "errors must be one of 'raise', 'skip', got 'ignore'"),
        ({"on_failure": 3}, TypeError, "on_failure must be callable, got int"),
        ({"name": ""}, ValueError, "name must not be empty"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        async_map(square, **kwargs)  # type: ignore[call-overload]


def test_fn_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"^fn must be callable, got int$"):
        async_map(3)  # type: ignore[call-overload]


def test_executor_cannot_run_an_async_fn(
    thread_pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    with pytest.raises(ValueError, match=r"^executor cannot run an async def fn"):
        async_map(async_triple, executor=thread_pool)


def test_defaults() -> None:
    op = async_map(square)
    assert isinstance(op, AsyncMap)  # the settings live on the operator class, not on Operator
    assert (op.workers, op.max_pending, op.ordered, op.name) == (4, 8, True, "async_map")
    assert not op.is_async
    three = async_map(async_triple, workers=3)
    assert isinstance(three, AsyncMap)
    assert three.max_pending == 6
    default = async_map(async_triple)
    assert isinstance(default, AsyncMap)
    assert default.is_async
    assert op.stats() == AsyncMapStats(0, 0, 0, 0, 0, 0, 0)


def test_types_flow_through_pipe() -> None:
    def to_text(i: int) -> str:
        return str(i)

    async def to_len(s: str) -> int:
        return len(s)

    assert_type(async_map(to_text), Operator[int, Observable[str], AsyncMapStats])
    assert_type(async_map(to_len), Operator[str, Observable[int], AsyncMapStats])
    pipeline = rx.of(1, 22).pipe(async_map(to_text), async_map(to_len))
    assert_type(pipeline, Observable[int])
    assert collect(pipeline, TIMEOUT) == [1, 2]


# -- a BaseException from fn (review regression tests) ------------------------------------


def abort_on_two(n: int) -> int:
    if n == 2:
        raise Abort("stop")
    return n


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("errors", ["raise", "skip"])
def test_a_base_exception_on_a_worker_thread_fails_the_stream(
    errors: Literal["raise", "skip"],
) -> None:
    recorder = Recorder()
    op = async_map(abort_on_two, workers=1, errors=errors, name="guard")
    rx.of(1, 2, 3).pipe(op).subscribe(recorder)
    recorder.wait()  # used to hang: the worker thread died and item 2 never finished
    assert recorder.items == [1]
    assert isinstance(recorder.error, RuntimeError)
    assert isinstance(recorder.error.__cause__, Abort)
    assert "guard" in "".join(recorder.error.__notes__)
    assert op.stats().failed == 1


@pytest.mark.usefixtures("no_thread_leak")
def test_a_base_exception_from_an_executor_call_fails_the_stream(
    thread_pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    recorder = Recorder()
    rx.of(1, 2, 3).pipe(async_map(abort_on_two, workers=1, executor=thread_pool)).subscribe(
        recorder
    )
    recorder.wait()
    assert recorder.items == [1]
    assert isinstance(recorder.error, RuntimeError)
    assert isinstance(recorder.error.__cause__, Abort)


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("errors", ["raise", "skip"])
def test_cancelled_error_raised_by_an_async_fn_fails_the_stream(
    errors: Literal["raise", "skip"],
) -> None:
    async def fn(n: int) -> int:
        await asyncio.sleep(0)
        if n == 2:
            raise asyncio.CancelledError  # e.g. an inner task it awaited was cancelled
        return n

    recorder = Recorder()
    op = async_map(fn, workers=2, errors=errors)
    rx.of(1, 2, 3).pipe(op).subscribe(recorder)
    recorder.wait()  # used to hang until dispose
    assert recorder.items == [1]
    assert isinstance(recorder.error, RuntimeError)
    assert isinstance(recorder.error.__cause__, asyncio.CancelledError)
    assert op.stats().failed == 1
