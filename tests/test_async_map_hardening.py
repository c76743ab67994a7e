"""async_map never wedges and never loses an item without counting it.

Each test pins one way a stream used to hang or lose items silently: an event
loop closed under the workers, a ``BaseException`` from ``on_failure``, a plain
function that returns a coroutine, a synchronous source on the workers' own
loop, and the accounting of everything received.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import random
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, Literal

import pytest
import reactivex as rx
from reactivex import Observable, Subject
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOScheduler, AsyncIOThreadSafeScheduler

from rxstreamz import BackpressureError, DeadLetter, Operator, collect
from rxstreamz.concurrency._async_map import AsyncMap, AsyncMapStats, async_map
from tests.support import TIMEOUT, Abort, Boom, Recorder, start_thread, wait_until


def assert_accounted(stats: AsyncMapStats) -> None:
    """Every item received is in exactly one bucket."""
    assert stats.received == stats.completed + stats.failed + stats.dropped + stats.in_flight


# -- an event loop closed under the stream ------------------------------------------------


def test_a_loop_closed_under_idle_workers_fails_the_stream_on_the_next_item() -> None:
    async def echo(i: int) -> int:
        await asyncio.sleep(0)
        return i

    subject: Subject[int] = Subject()
    recorder = Recorder()
    op = async_map(echo, workers=2, max_pending=2, name="enrich")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        subject.pipe(op).subscribe(recorder, scheduler=AsyncIOThreadSafeScheduler(loop))
        for i in range(3):
            subject.on_next(i)
        while len(recorder.items) < 3:
            await asyncio.sleep(0.001)
        # returns without disposing: asyncio.run closes the loop

    asyncio.run(main())

    def feed() -> None:
        for i in range(3, 50):
            subject.on_next(i)

    feeder = start_thread(feed)
    feeder.join(TIMEOUT)
    assert not feeder.is_alive(), "the producer blocked on a closed loop"
    recorder.wait()
    assert recorder.items == [0, 1, 2]
    assert isinstance(recorder.error, RuntimeError)
    assert str(recorder.error) == (
        "processor 'enrich': the event loop running its async def fn is closed"
    )
    assert isinstance(recorder.error.__cause__, RuntimeError)  # "Event loop is closed"
    stats = op.stats()  # upstream was disposed at the failure: the rest never arrived
    assert (stats.received, stats.completed, stats.dropped, stats.in_flight) == (4, 3, 1, 0)
    assert_accounted(stats)


def test_a_loop_shut_down_under_running_workers_fails_and_releases_a_feeding_thread() -> None:
    started = threading.Semaphore(0)

    async def stuck(i: int) -> int:
        started.release()
        await asyncio.Event().wait()  # never set: only the loop's shutdown ends it
        return i

    subject: Subject[int] = Subject()
    recorder = Recorder()
    op = async_map(stuck, workers=2, max_pending=2, name="enrich")
    pushed = 0

    def feed() -> None:
        nonlocal pushed
        for i in range(30):
            subject.on_next(i)  # blocks once 4 are held, until the loop goes away
            pushed += 1

    async def main() -> None:
        loop = asyncio.get_running_loop()
        subject.pipe(op).subscribe(recorder, scheduler=AsyncIOThreadSafeScheduler(loop))
        start_thread(feed)
        for _ in range(2):
            while not started.acquire(blocking=False):
                await asyncio.sleep(0.001)
        while op.stats().submitted < 4:
            await asyncio.sleep(0.001)
        # returns without disposing: asyncio.run cancels the workers, closes the loop

    asyncio.run(main())
    recorder.wait()
    assert wait_until(lambda: pushed == 30)  # the producer was released, later items refused
    assert recorder.items == []
    assert isinstance(recorder.error, RuntimeError)
    assert "processor 'enrich'" in str(recorder.error)
    assert "event loop" in str(recorder.error)
    assert isinstance(recorder.error.__cause__, asyncio.CancelledError)
    stats = op.stats()  # 4 held, maybe a 5th blocked for room; upstream disposed after that
    assert stats.received in (4, 5)
    assert (stats.completed, stats.dropped, stats.in_flight) == (0, stats.received, 0)
    assert_accounted(stats)


# -- a BaseException from on_failure -------------------------------------------------------


def fail_on_two(n: int) -> int:
    if n == 2:
        raise Boom("bad")
    return n


async def fail_on_two_async(n: int) -> int:
    await asyncio.sleep(0)
    return fail_on_two(n)


@pytest.fixture
def thread_pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize(
    ("runner", "escape"),
    [
        ("threads", SystemExit),
        ("threads", Abort),
        ("executor", Abort),
        ("async", Abort),
    ],
)
def test_a_base_exception_from_on_failure_fails_the_stream(
    runner: Literal["threads", "executor", "async"],
    escape: type[BaseException],
    thread_pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    def sink(_letter: DeadLetter[object]) -> None:
        raise escape("sink gave up")

    op: Operator[int, Observable[int], AsyncMapStats]
    if runner == "async":
        op = async_map(fail_on_two_async, workers=1, errors="skip", on_failure=sink, name="g")
    else:
        executor = thread_pool if runner == "executor" else None
        op = async_map(
            fail_on_two, workers=1, errors="skip", on_failure=sink, executor=executor, name="g"
        )
    recorder = Recorder()
    rx.of(1, 2, 3).pipe(op).subscribe(recorder)
    recorder.wait()  # used to hang: the emitting thread died with nothing sent downstream
    assert recorder.items == [1]
    assert isinstance(recorder.error, RuntimeError)
    assert isinstance(recorder.error.__cause__, escape)
    assert recorder.error.__notes__ == ["rxstreamz: raised by on_failure of processor 'g'"]
    assert wait_until(lambda: op.stats().in_flight == 0)
    stats = op.stats()
    assert (stats.completed, stats.failed) == (1, 1)
    assert_accounted(stats)


# -- a plain function that returns a coroutine ---------------------------------------------


async def double(n: int) -> int:
    await asyncio.sleep(0)
    return 2 * n


async def scale(n: int, *, k: int) -> int:
    await asyncio.sleep(0)
    return k * n


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("errors", ["raise", "skip"])
@pytest.mark.parametrize("use_executor", [False, True])
def test_a_plain_fn_returning_a_coroutine_fails_the_stream(
    errors: Literal["raise", "skip"],
    use_executor: bool,
    thread_pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    def call_double(n: int) -> Coroutine[Any, Any, int]:  # a plain def: not awaited
        return double(n)

    op = async_map(
        call_double,
        workers=1,
        errors=errors,
        executor=thread_pool if use_executor else None,
        name="wrap",
    )
    with pytest.raises(TypeError, match=r"^fn returned a coroutine \(double\)") as info:
        collect(rx.of(1, 2, 3).pipe(op), TIMEOUT)  # used to emit coroutine objects
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'wrap' on item 1"]
    assert op.stats().failed == 1


@pytest.mark.usefixtures("no_thread_leak")
def test_a_partial_of_an_async_def_is_awaited() -> None:
    op = async_map(functools.partial(scale, k=3), workers=2)
    assert isinstance(op, AsyncMap)
    assert op.is_async
    assert collect(rx.of(1, 2, 3).pipe(op), TIMEOUT) == [3, 6, 9]


# -- a terminal event: deliver what is held, stop pulling, count the rest ---------------------


def test_a_sync_source_on_the_workers_loop_stops_being_pulled_at_the_overflow() -> None:
    pulls = 0

    def numbers() -> Iterator[int]:
        nonlocal pulls
        for i in range(10_000):  # a source as good as endless for this pipeline
            pulls += 1
            yield i

    async def echo(i: int) -> int:
        await asyncio.sleep(0)
        return i

    op = async_map(echo, workers=4, name="enrich")

    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        recorder = Recorder()
        rx.from_iterable(numbers()).pipe(op).subscribe(recorder, scheduler=AsyncIOScheduler(loop))
        while not recorder.done.is_set():
            await asyncio.sleep(0.001)
        return recorder

    recorder = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert pulls == 13  # 12 held, the 13th refused; no pull after it (was 10,000)
    assert recorder.items == list(range(12))  # what was held is delivered first
    assert isinstance(recorder.error, BackpressureError)
    assert str(recorder.error) == (
        "processor 'enrich': queue full (capacity 12); blocking would deadlock: the producer "
        "runs on the event loop that drains it, as a synchronous source; use "
        "from_async_iterable or subscribe the source on another thread"
    )
    stats = op.stats()
    assert (stats.received, stats.completed, stats.dropped, stats.in_flight) == (13, 12, 1, 0)
    assert_accounted(stats)


def test_a_raising_downstream_leaves_every_item_accounted_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))
    release = threading.Event()

    def fn(i: int) -> int:
        if i == 0:
            assert release.wait(TIMEOUT)  # items 1..3 finish first, held behind item 0
        return i

    def explode(value: object) -> None:
        if value == 1:
            raise Boom("downstream")

    op = async_map(fn, workers=4, max_pending=1)
    rx.of(0, 1, 2, 3).pipe(op).subscribe(explode)
    assert wait_until(lambda: op.stats().submitted == 4)
    release.set()  # item 0's thread emits 0, then 1 raises with 2 and 3 in the same batch
    assert wait_until(lambda: len(reported) == 1)
    assert isinstance(reported[0], Boom)
    stats = op.stats()
    assert (stats.received, stats.completed, stats.dropped, stats.in_flight) == (4, 1, 3, 0)
    assert_accounted(stats)


@pytest.mark.usefixtures("no_thread_leak")
def test_a_failing_item_counts_the_items_held_behind_it_as_dropped() -> None:
    others_done = threading.Barrier(4)

    def fn(i: int) -> int:
        others_done.wait(TIMEOUT)  # all four calls run; item 0 fails last
        if i == 0:
            raise Boom("head")
        return i

    op = async_map(fn, workers=4)
    with pytest.raises(Boom):
        collect(rx.of(0, 1, 2, 3).pipe(op), TIMEOUT)
    assert wait_until(lambda: op.stats().in_flight == 0)
    stats = op.stats()
    assert (stats.received, stats.completed, stats.failed, stats.dropped) == (4, 0, 1, 3)


def run_and_dispose_at_random(rng: random.Random) -> None:
    """One run fed from a thread, disposed at a random point (or not at all)."""
    total = rng.randrange(20, 120)
    stop_after = rng.randrange(0, total + 10)  # beyond total: no dispose at all
    from_downstream = rng.random() < 0.5
    errors: Literal["raise", "skip"] = rng.choice(["raise", "skip"])
    letters: list[DeadLetter[object]] = []

    def fn(i: int) -> int:
        if i % 2:
            time.sleep(0)
        if i % 17 == 16:
            raise Boom(i)
        return i

    op = async_map(
        fn,
        workers=rng.randrange(1, 5),
        max_pending=rng.randrange(1, 4),
        ordered=rng.random() < 0.5,
        errors=errors,
        on_failure=letters.append,
    )
    subject: Subject[int] = Subject()
    recorder = Recorder()
    stream = subject.pipe(op)
    if from_downstream:
        stream = stream.pipe(ops.take(stop_after))  # disposes from a worker thread
    subscription = stream.subscribe(recorder)

    def feed() -> None:
        for i in range(total):
            if not from_downstream and i == stop_after:
                subscription.dispose()  # from the producer's thread
            subject.on_next(i)
        subject.on_completed()

    feeder = start_thread(feed)
    feeder.join(TIMEOUT)
    assert not feeder.is_alive(), "the producer was left blocked"
    assert wait_until(lambda: op.stats().in_flight == 0)
    stats = op.stats()
    assert_accounted(stats)
    assert stats.received <= total
    assert stats.completed == len(recorder.items)
    if errors == "skip":
        assert stats.failed == len(letters)
    else:
        assert stats.failed <= 1
    subscription.dispose()


@pytest.mark.usefixtures("no_thread_leak")
def test_every_received_item_is_accounted_for_whatever_the_dispose_point() -> None:
    rng = random.Random(20261207)
    for _ in range(30):
        run_and_dispose_at_random(rng)
