"""batch, dedupe and debounce_ beside RxPY and plain loops.

Run: ``pytest benchmarks/bench_timing.py --benchmark-enable``.

``N`` (default 1,000,000, ``RXSTREAMZ_BENCH_N`` overrides it) sets every size,
read when a case runs:

* ``batch``: ``N`` ints through ``batch(100, max_latency=1.0)`` beside RxPY
  ``buffer_with_time_or_count(1.0, 100)`` (which also emits empty lists on its
  1 s tick; one round instead of three, it is that slow) and a plain loop
  building lists of 100.
* ``dedupe``: ``N // 5`` (200,000) distinct keys through ``dedupe()`` and
  ``dedupe(ttl=3600)`` beside a plain loop over a ``set``.
* ``dedupe-curve``: RxPY ``distinct()`` is quadratic (it keeps seen keys in a
  list), so it runs at ``N // 1000``, ``N // 500`` and ``N // 250`` items,
  each beside ``dedupe()`` on the same sizes: the ratio grows with the size.
* ``debounce``: a synchronous burst of ``N // 10`` (100,000) items through
  ``debounce_(1.0)`` (one timer for the whole burst) beside a plain loop that
  keeps the latest item and reads the clock per item; RxPY ``debounce(1.0)``
  starts a timer thread per item and runs the same burst once.

Every case stores ``items_per_s`` in ``extra_info``; within a group every
implementation runs the same items, so the ratios pytest-benchmark prints
compare like with like.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import reactivex as rx
from harness import measure
from reactivex import Observable
from reactivex import operators as ops

from rxstreamz import batch, collect, debounce_, dedupe
from rxstreamz.bench.baselines import loop_batch, loop_debounce, loop_dedupe

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))


def sized(divisor: int = 1) -> int:
    return max(1, N // divisor)


def ints(count: int) -> Observable[int]:
    return rx.from_iterable(range(count))


# -- batch -----------------------------------------------------------------------------


def test_batch_rxstreamz(benchmark: Any) -> None:
    n = sized()
    result = measure(
        benchmark, "batch", lambda: collect(ints(n).pipe(batch(100, max_latency=1.0))), n
    )
    assert sum(len(group) for group in result) == n


def test_batch_rxpy_buffer_with_time_or_count(benchmark: Any) -> None:
    n = sized()
    result = measure(
        benchmark,
        "batch",
        lambda: collect(ints(n).pipe(ops.buffer_with_time_or_count(1.0, 100))),
        n,
        rounds=1,
    )
    assert sum(len(group) for group in result) == n


def test_batch_plain_loop(benchmark: Any) -> None:
    n = sized()
    data = list(range(n))
    result = measure(benchmark, "batch", lambda: loop_batch(data), n)
    assert sum(len(group) for group in result) == n


# -- dedupe ----------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [None, 3600.0])
def test_dedupe_rxstreamz(benchmark: Any, ttl: float | None) -> None:
    n = sized(5)
    benchmark.extra_info["ttl"] = ttl
    result = measure(benchmark, "dedupe", lambda: collect(ints(n).pipe(dedupe(ttl=ttl))), n)
    assert len(result) == n


def test_dedupe_plain_set_loop(benchmark: Any) -> None:
    n = sized(5)
    data = list(range(n))
    result = measure(benchmark, "dedupe", lambda: loop_dedupe(data), n)
    assert len(result) == n


@pytest.mark.parametrize("divisor", [1000, 500, 250])
@pytest.mark.parametrize("impl", ["rxstreamz", "rxpy"])
def test_dedupe_curve(benchmark: Any, impl: str, divisor: int) -> None:
    n = sized(divisor)
    operator: Callable[[Observable[int]], Observable[int]] = (
        dedupe() if impl == "rxstreamz" else ops.distinct()
    )
    benchmark.extra_info["impl"] = impl
    result = measure(
        benchmark, f"dedupe-curve-{n}", lambda: collect(ints(n).pipe(operator)), n, rounds=1
    )
    assert len(result) == n


# -- debounce --------------------------------------------------------------------------


def test_debounce_rxstreamz_burst(benchmark: Any) -> None:
    n = sized(10)
    result = measure(benchmark, "debounce", lambda: collect(ints(n).pipe(debounce_(1.0))), n)
    assert result == [n - 1]


def test_debounce_rxpy_burst(benchmark: Any) -> None:
    n = sized(10)
    result = measure(
        benchmark, "debounce", lambda: collect(ints(n).pipe(ops.debounce(1.0))), n, rounds=1
    )
    assert result == [n - 1]


def test_debounce_plain_loop(benchmark: Any) -> None:
    n = sized(10)
    data = list(range(n))
    result = measure(benchmark, "debounce", lambda: loop_debounce(data), n)
    assert result == [n - 1]
