"""The four pipelines of the throughput table, each beside RxPY and a plain loop.

Run: ``pytest benchmarks/bench_pipeline.py --benchmark-enable``.

* ``simple``: ``filter_(n > 0) -> map_(n * 2)``.
* ``batched``: ``batch(100)`` then a sum per batch (RxPY:
  ``buffer_with_count(100)``).
* ``async``: ``async_map(io_call, workers=10)`` where each call waits
  ``IO_SECONDS`` like a network call (RxPY: ``flat_map`` onto futures of a
  10-thread pool; plain: ``ThreadPoolExecutor.map``). It runs ``N // 100``
  items.
* ``complex``: filter, map, ``batch(100)``, sum per batch.

``N`` is the item count, read when a case runs (the smoke test in
``tests/test_benchmarks_smoke.py`` sets it to a tiny value).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import reactivex as rx
from reactivex import operators as ops

import rxstreamz
from rxstreamz import collect, filter_, map_
from rxstreamz.bench.baselines import double, positive, total

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))
IO_SECONDS = 0.0001


def io_call(n: int) -> int:
    time.sleep(IO_SECONDS)
    return n * 2


def data(divisor: int = 1) -> list[int]:
    return list(range(1, max(1, N // divisor) + 1))


def batches(items: Iterable[int], size: int) -> Iterator[list[int]]:
    current: list[int] = []
    for n in items:
        current.append(n)
        if len(current) == size:
            yield current
            current = []
    if current:
        yield current


# -- simple filter + map -------------------------------------------------------------------


def test_simple_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "simple"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(filter_(positive), map_(double)))
    )
    assert len(result) == len(items)


def test_simple_rxpy(benchmark: Any) -> None:
    benchmark.group = "simple"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(ops.filter(positive), ops.map(double)))
    )
    assert len(result) == len(items)


def plain_filter_map(items: list[int]) -> list[int]:
    out: list[int] = []
    append = out.append
    for n in items:
        if positive(n):
            append(double(n))
    return out


def test_simple_plain(benchmark: Any) -> None:
    benchmark.group = "simple"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(plain_filter_map, items)
    assert len(result) == len(items)


# -- batched: batch(100) + per-batch work --------------------------------------------------


def test_batched_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "batched"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(rxstreamz.batch(100), map_(total)))
    )
    assert sum(result) == sum(items)


def test_batched_rxpy(benchmark: Any) -> None:
    benchmark.group = "batched"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(ops.buffer_with_count(100), ops.map(total)))
    )
    assert sum(result) == sum(items)


def test_batched_plain(benchmark: Any) -> None:
    benchmark.group = "batched"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(lambda: [total(b) for b in batches(items, 100)])
    assert sum(result) == sum(items)


# -- async: 10 workers on an I/O-like call -------------------------------------------------


def test_async_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "async-10"
    items = data(100)
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(rxstreamz.async_map(io_call, workers=10)))
    )
    assert result == [n * 2 for n in items]


def test_async_rxpy(benchmark: Any) -> None:
    benchmark.group = "async-10"
    items = data(100)
    benchmark.extra_info["items"] = len(items)

    def run() -> list[int]:
        with ThreadPoolExecutor(max_workers=10) as pool:
            return collect(
                rx.from_iterable(items).pipe(
                    ops.flat_map(lambda n: rx.from_future(pool.submit(io_call, n)))
                )
            )

    result = benchmark(run)
    assert sorted(result) == [n * 2 for n in items]  # flat_map does not keep order


def test_async_plain(benchmark: Any) -> None:
    benchmark.group = "async-10"
    items = data(100)
    benchmark.extra_info["items"] = len(items)

    def run() -> list[int]:
        with ThreadPoolExecutor(max_workers=10) as pool:
            return list(pool.map(io_call, items))

    result = benchmark(run)
    assert result == [n * 2 for n in items]


# -- complex: filter -> map -> batch(100) -> per-batch sum ----------------------------------


def test_complex_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "complex"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(
            rx.from_iterable(items).pipe(
                filter_(positive), map_(double), rxstreamz.batch(100), map_(total)
            )
        )
    )
    assert sum(result) == 2 * sum(items)


def test_complex_rxpy(benchmark: Any) -> None:
    benchmark.group = "complex"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(
            rx.from_iterable(items).pipe(
                ops.filter(positive), ops.map(double), ops.buffer_with_count(100), ops.map(total)
            )
        )
    )
    assert sum(result) == 2 * sum(items)


def test_complex_plain(benchmark: Any) -> None:
    benchmark.group = "complex"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: [total(b) for b in batches((double(n) for n in items if positive(n)), 100)]
    )
    assert sum(result) == 2 * sum(items)
