"""async_map beside ThreadPoolExecutor.map, RxPY flat_map onto a pool, and aiostream.

``N`` (default 100,000, ``RXSTREAMZ_BENCH_N`` overrides it) sets every size,
read when a case runs. Three workloads:

* ``trivial``: ``N`` items, ``n + 1``, 10 workers: the per-item overhead.
* ``io``: ``N // 50`` items (2,000), ``time.sleep(0.001)`` per call, 10
  workers: the ideal is ``workers / call_time`` = 10,000 items/s, less the
  sleep's own overshoot, which ``test_io_sleep_call_time`` measures (in a
  group of its own: it runs one worker's share of the items).
* ``aio``: ``N // 50`` items, ``await asyncio.sleep(0.001)``, 100 workers,
  beside aiostream's ``stream.map(task_limit=100, ordered=True)`` and a plain
  ``asyncio.gather`` under a semaphore.

Each case stores ``items_per_s`` in ``extra_info``. Run with
``pytest benchmarks/bench_concurrency.py --benchmark-enable``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import reactivex as rx
from aiostream import stream
from pytest_benchmark.fixture import BenchmarkFixture
from reactivex import operators as ops
from reactivex.scheduler import NewThreadScheduler
from reactivex.scheduler.eventloop import AsyncIOThreadSafeScheduler

from rxstreamz import async_map, collect

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "100000"))
WORKERS = 10
ASYNC_WORKERS = 100


def io_items() -> int:
    return max(1, N // 50)


def bump(n: int) -> int:
    return n + 1


def sleepy(n: int) -> int:
    time.sleep(0.001)
    return n


async def async_sleepy(n: int) -> int:
    await asyncio.sleep(0.001)
    return n


def measure(
    benchmark: BenchmarkFixture, run: Callable[[], list[int]], items: int, *, rounds: int = 3
) -> None:
    result = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=min(1, rounds - 1))
    assert len(result) == items
    if benchmark.stats is not None:  # None under --benchmark-disable (a plain test run)
        benchmark.extra_info["items_per_s"] = round(items / benchmark.stats.stats.min)


def with_async_map(fn: Callable[[int], int], items: int) -> Callable[[], list[int]]:
    return lambda: collect(rx.from_iterable(range(items)).pipe(async_map(fn, workers=WORKERS)))


def with_thread_pool(fn: Callable[[int], int], items: int) -> Callable[[], list[int]]:
    def run() -> list[int]:
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(fn, range(items)))

    return run


def with_rxpy_flat_map(fn: Callable[[int], int], items: int) -> Callable[[], list[int]]:
    def run() -> list[int]:
        with ThreadPoolExecutor(WORKERS) as pool:
            out: list[int] = []
            done = threading.Event()
            rx.from_iterable(range(items)).pipe(
                ops.flat_map(lambda n: rx.from_future(pool.submit(fn, n)))
            ).subscribe(out.append, on_completed=done.set)
            done.wait()
            return out

    return run


# -- trivial function: per-item overhead -----------------------------------------------


@pytest.mark.benchmark(group="trivial-100k-10-workers")
def test_trivial_async_map(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, with_async_map(bump, N), N)


@pytest.mark.benchmark(group="trivial-100k-10-workers")
def test_trivial_thread_pool_map(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, with_thread_pool(bump, N), N)


@pytest.mark.benchmark(group="trivial-100k-10-workers")
@pytest.mark.timeout(600)
def test_trivial_rxpy_flat_map(benchmark: BenchmarkFixture) -> None:
    # About 30 s a run on a small machine: two runs, no warm-up.
    measure(benchmark, with_rxpy_flat_map(bump, N), N, rounds=2)


@pytest.mark.benchmark(group="trivial-100k-10-workers")
def test_trivial_plain_loop(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, lambda: [bump(n) for n in range(N)], N)


# -- blocking I/O: time.sleep(0.001) -----------------------------------------------------


@pytest.mark.benchmark(group="io-2k-sleep-1ms-10-workers")
def test_io_async_map(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, with_async_map(sleepy, io_items()), io_items())


@pytest.mark.benchmark(group="io-2k-sleep-1ms-10-workers")
def test_io_thread_pool_map(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, with_thread_pool(sleepy, io_items()), io_items())


@pytest.mark.benchmark(group="io-2k-sleep-1ms-10-workers")
def test_io_rxpy_flat_map(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, with_rxpy_flat_map(sleepy, io_items()), io_items())


@pytest.mark.benchmark(group="io-sleep-1ms-call-time")
def test_io_sleep_call_time(benchmark: BenchmarkFixture) -> None:
    """One worker's worth: 200 sleeps in a row, to know the real call time."""

    def run() -> list[int]:
        return [sleepy(n) for n in range(max(1, io_items() // WORKERS))]

    result = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(result) == max(1, io_items() // WORKERS)
    if benchmark.stats is not None:
        call_time = benchmark.stats.stats.min / len(result)
        benchmark.extra_info["call_time_ms"] = round(call_time * 1000, 4)
        benchmark.extra_info["ideal_items_per_s"] = round(WORKERS / call_time)


# -- async def: asyncio.sleep(0.001) -------------------------------------------------------


@pytest.mark.benchmark(group="aio-2k-sleep-1ms-100-workers")
def test_aio_async_map(benchmark: BenchmarkFixture) -> None:
    def run() -> list[int]:
        op = async_map(async_sleepy, workers=ASYNC_WORKERS)
        return collect(rx.from_iterable(range(io_items())).pipe(op))

    measure(benchmark, run, io_items())


@pytest.mark.benchmark(group="aio-2k-sleep-1ms-100-workers")
def test_aio_async_map_on_running_loop(benchmark: BenchmarkFixture) -> None:
    """The same, on the caller's loop (AsyncIOThreadSafeScheduler), fed from a thread."""

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        out: list[int] = []

        def on_error(error: Exception) -> None:
            loop.call_soon_threadsafe(done.set_exception, error)

        def on_completed() -> None:
            loop.call_soon_threadsafe(done.set_result, None)

        source = rx.from_iterable(range(io_items())).pipe(ops.subscribe_on(NewThreadScheduler()))
        source.pipe(async_map(async_sleepy, workers=ASYNC_WORKERS)).subscribe(
            out.append, on_error, on_completed, scheduler=AsyncIOThreadSafeScheduler(loop)
        )
        await done
        return out

    measure(benchmark, lambda: asyncio.run(main()), io_items())


@pytest.mark.benchmark(group="aio-2k-sleep-1ms-100-workers")
def test_aio_aiostream_map(benchmark: BenchmarkFixture) -> None:
    async def main() -> list[int]:
        mapped = stream.map(
            stream.iterate(range(io_items())), async_sleepy, task_limit=ASYNC_WORKERS, ordered=True
        )
        return await stream.list(mapped)

    measure(benchmark, lambda: asyncio.run(main()), io_items())


@pytest.mark.benchmark(group="aio-2k-sleep-1ms-100-workers")
def test_aio_plain_gather_with_semaphore(benchmark: BenchmarkFixture) -> None:
    async def main() -> list[int]:
        limit = asyncio.Semaphore(ASYNC_WORKERS)

        async def bounded(n: int) -> int:
            async with limit:
                return await async_sleepy(n)

        return list(await asyncio.gather(*(bounded(n) for n in range(io_items()))))

    measure(benchmark, lambda: asyncio.run(main()), io_items())
