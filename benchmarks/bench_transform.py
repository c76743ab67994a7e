"""Per-item transforms: rxstreamz (fused) beside RxPY operators and a plain loop.

Run: ``pytest benchmarks/bench_transform.py --benchmark-enable``.

Every group runs the same user functions over the same list of ints three
ways, so the pytest-benchmark table shows the ratios directly (the figures in
parentheses are relative to the fastest of the group):

* ``filter+map``: ``filter_(n > 0) -> map_(n * 2)``.
* ``chain-K``: ``K`` alternating filter/map stages; fusion calls one
  ``on_next`` per item for the whole run, RxPY one per stage, so the gap grows
  with ``K``.
* ``chunk``: ``chunk(100)`` beside ``ops.buffer_with_count(100)``.
* ``fused-chunk``: ``filter_ -> map_ -> chunk(100) -> map_(sum)``, one fused
  run, beside the RxPY chain and a loop making the same calls.

``N`` is the item count, read when a case runs (the smoke test in
``tests/test_benchmarks_smoke.py`` sets it to a tiny value).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import reactivex as rx
from reactivex import operators as ops

from rxstreamz import chunk, collect, filter_, map_
from rxstreamz.bench.baselines import (
    STAGES,
    double,
    loop_chunked,
    positive,
    total,
)

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))


def data() -> list[int]:
    return list(range(1, N + 1))


def expected_chain(items: list[int], stages: int) -> list[int]:
    out = []
    for n in items:
        x = n
        for i, fn in enumerate(STAGES[:stages]):
            if i % 2 == 0:
                if not fn(x):
                    break
            else:
                x = fn(x)
        else:
            out.append(x)
    return out


# -- filter_(n > 0) -> map_(n * 2): 1,000,000 ints ---------------------------------------


def test_filter_map_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "filter+map"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(filter_(positive), map_(double)))
    )
    assert len(result) == N


def test_filter_map_rxpy(benchmark: Any) -> None:
    benchmark.group = "filter+map"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(
        lambda: collect(rx.from_iterable(items).pipe(ops.filter(positive), ops.map(double)))
    )
    assert len(result) == N


def plain_filter_map(items: list[int]) -> list[int]:
    out: list[int] = []
    append = out.append
    for n in items:
        if positive(n):
            append(double(n))
    return out


def test_filter_map_plain(benchmark: Any) -> None:
    benchmark.group = "filter+map"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(plain_filter_map, items)
    assert len(result) == N


# -- longer chains: the gain of fusion grows with the number of stages ------------------

CHAIN_LENGTHS = (2, 4, 6)


@pytest.mark.parametrize("stages", CHAIN_LENGTHS)
def test_chain_rxstreamz(benchmark: Any, stages: int) -> None:
    benchmark.group = f"chain-{stages}"
    items = data()
    benchmark.extra_info["items"] = len(items)
    operators = [(filter_ if i % 2 == 0 else map_)(fn) for i, fn in enumerate(STAGES[:stages])]
    result = benchmark(lambda: collect(rx.from_iterable(items).pipe(*operators)))
    assert result == expected_chain(items, stages)


@pytest.mark.parametrize("stages", CHAIN_LENGTHS)
def test_chain_rxpy(benchmark: Any, stages: int) -> None:
    benchmark.group = f"chain-{stages}"
    items = data()
    benchmark.extra_info["items"] = len(items)
    operators = [
        (ops.filter if i % 2 == 0 else ops.map)(fn) for i, fn in enumerate(STAGES[:stages])
    ]
    result = benchmark(lambda: collect(rx.from_iterable(items).pipe(*operators)))
    assert result == expected_chain(items, stages)


def plain_chain(items: list[int], stages: int) -> list[int]:
    """The loop a user would write by hand for the first ``stages`` stages."""
    f0, f1, f2, f3, f4, f5 = STAGES
    out: list[int] = []
    append = out.append
    if stages == 2:
        for n in items:
            if f0(n):
                append(f1(n))
        return out
    if stages == 4:
        for n in items:
            if f0(n):
                x = f1(n)
                if f2(x):
                    append(f3(x))
        return out
    for n in items:
        if f0(n):
            x = f1(n)
            if f2(x):
                x = f3(x)
                if f4(x):
                    append(f5(x))
    return out


@pytest.mark.parametrize("stages", CHAIN_LENGTHS)
def test_chain_plain(benchmark: Any, stages: int) -> None:
    benchmark.group = f"chain-{stages}"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(plain_chain, items, stages)
    assert result == expected_chain(items, stages)


# -- chunk(100) ----------------------------------------------------------------------------


def test_chunk_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "chunk-100"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(lambda: collect(rx.from_iterable(items).pipe(chunk(100))))
    assert sum(map(len, result)) == N


def test_chunk_rxpy(benchmark: Any) -> None:
    benchmark.group = "chunk-100"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(lambda: collect(rx.from_iterable(items).pipe(ops.buffer_with_count(100))))
    assert sum(map(len, result)) == N


def test_chunk_plain(benchmark: Any) -> None:
    benchmark.group = "chunk-100"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(lambda: [items[i : i + 100] for i in range(0, len(items), 100)])
    assert sum(map(len, result)) == N


# -- filter -> map -> chunk(100) -> sum: the chunk fused into the run ----------------------


def test_fused_chunk_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "fused-chunk"
    items = data()
    operators = [filter_(positive), map_(double), chunk(100), map_(total)]
    result = benchmark(lambda: collect(rx.from_iterable(items).pipe(*operators)))
    assert result == loop_chunked(items)


def test_fused_chunk_rxpy(benchmark: Any) -> None:
    benchmark.group = "fused-chunk"
    items = data()
    operators = [ops.filter(positive), ops.map(double), ops.buffer_with_count(100), ops.map(total)]
    result = benchmark(lambda: collect(rx.from_iterable(items).pipe(*operators)))
    assert result == loop_chunked(items)


def test_fused_chunk_plain(benchmark: Any) -> None:
    benchmark.group = "fused-chunk"
    items = data()
    result = benchmark(loop_chunked, items)
    assert sum(result) == 2 * sum(items)
