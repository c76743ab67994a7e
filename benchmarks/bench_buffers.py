"""buffer_ across threads beside RxPY observe_on and a plain queue.Queue loop.

Run: ``pytest benchmarks/bench_buffers.py --benchmark-enable``.

``N`` (default 1,000,000, ``RXSTREAMZ_BENCH_N`` overrides it) sets every size,
read when a case runs:

* ``buffer-<n>``: two groups, ``n`` = ``N // 10`` and ``3 * N // 10``, each
  running every implementation on the same ``n`` ints: ``buffer_(1024)`` from
  ``from_iterable`` (the caller's thread) to a counting consumer on the drain
  thread, the same into ``collect`` (which keeps every item), RxPY
  ``observe_on(EventLoopScheduler())`` (the nearest RxPY thread hop; its
  ``ScheduledObserver`` keeps pending items in a list and takes them with
  ``pop(0)``, so its cost per item grows with the backlog: compare the two
  groups; one round, it is slow), and a producer and a consumer thread
  around ``queue.Queue(maxsize=1024)``.
* ``memory``: a fast producer into a slow consumer (a little work per item),
  ``N // 10`` items, peak traced memory (``tracemalloc``) in ``extra_info``:
  behind ``buffer_(1000)`` it stays near a thousand items whatever ``N``; RxPY
  ``observe_on`` queues the whole stream.

Every case stores ``items_per_s`` in ``extra_info``; compare them within one
run.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

import harness
import pytest
import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler

from rxstreamz import buffer_, collect

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))


def sized(divisor: int = 1, factor: int = 1) -> int:
    return max(1, N * factor // divisor)


measure = functools.partial(harness.measure, warmup_rounds=0)
"""Every case without a warm-up round."""


def ints(count: int) -> Observable[int]:
    return rx.from_iterable(range(count))


def observe_on(count: int, consumer: Callable[[int], object] | None = None) -> int:
    """Run ``count`` ints through RxPY observe_on(EventLoopScheduler()); return how many arrived."""
    loop = EventLoopScheduler()
    seen = 0
    done = threading.Event()

    def on_next(item: int) -> None:
        nonlocal seen
        seen += 1
        if consumer is not None:
            consumer(item)

    ints(count).pipe(ops.observe_on(loop)).subscribe(on_next, on_completed=done.set)
    done.wait()
    loop.dispose()
    return seen


def slow(item: int) -> int:
    """A consumer that does a little work per item, so the producer outruns it."""
    return sum(range(item % 7 + 20))


# -- throughput ---------------------------------------------------------------------------


def through_buffer(count: int) -> int:
    """Run ``count`` ints through buffer_(1024); return how many arrived (counted, not kept)."""
    seen = 0
    done = threading.Event()

    def on_next(_: int) -> None:
        nonlocal seen
        seen += 1

    ints(count).pipe(buffer_(1024)).subscribe(on_next, on_completed=done.set)
    done.wait()
    return seen


SIZES = pytest.mark.parametrize("tenths", [1, 3], ids=["tenth", "three-tenths"])
"""Each ``buffer-<n>`` group runs every implementation on the same ``n`` items."""


@SIZES
def test_buffer_rxstreamz(benchmark: Any, tenths: int) -> None:
    n = sized(10, tenths)
    assert measure(benchmark, f"buffer-{n}", lambda: through_buffer(n), n) == n


@SIZES
def test_buffer_rxstreamz_collect(benchmark: Any, tenths: int) -> None:
    n = sized(10, tenths)
    result = measure(benchmark, f"buffer-{n}", lambda: collect(ints(n).pipe(buffer_(1024))), n)
    assert len(result) == n


@SIZES
def test_buffer_rxpy_observe_on(benchmark: Any, tenths: int) -> None:
    n = sized(10, tenths)
    assert measure(benchmark, f"buffer-{n}", lambda: observe_on(n), n, rounds=1) == n


@SIZES
def test_buffer_plain_queue(benchmark: Any, tenths: int) -> None:
    n = sized(10, tenths)

    def run() -> int:
        pipe: queue.Queue[int | None] = queue.Queue(maxsize=1024)
        seen = 0

        def consume() -> None:
            nonlocal seen
            while pipe.get() is not None:
                seen += 1

        consumer = threading.Thread(target=consume)
        consumer.start()
        for item in range(n):
            pipe.put(item)
        pipe.put(None)
        consumer.join()
        return seen

    assert measure(benchmark, f"buffer-{n}", run, n) == n


# -- memory -------------------------------------------------------------------------------


def traced_peak(run: Callable[[], int]) -> tuple[int, int]:
    """Run ``run`` under tracemalloc; return its result and the peak traced bytes."""
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_memory_buffer_rxstreamz(benchmark: Any) -> None:
    n = sized(10)
    buffered = buffer_(1000)

    def run() -> tuple[int, int]:
        def pipeline() -> int:
            done = threading.Event()
            seen = 0

            def on_next(item: int) -> None:
                nonlocal seen
                seen += 1
                slow(item)

            ints(n).pipe(buffered).subscribe(on_next, on_completed=done.set)
            done.wait()
            return seen

        return traced_peak(pipeline)

    seen, peak = measure(benchmark, "memory", run, n, rounds=1)
    assert seen == n
    benchmark.extra_info["peak_bytes"] = peak
    assert buffered.stats().high_watermark <= 1000


def test_memory_rxpy_observe_on(benchmark: Any) -> None:
    n = sized(10)
    seen, peak = measure(
        benchmark, "memory", lambda: traced_peak(lambda: observe_on(n, slow)), n, rounds=1
    )
    assert seen == n
    benchmark.extra_info["peak_bytes"] = peak
