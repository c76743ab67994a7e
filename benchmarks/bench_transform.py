"""Per-item transforms: rxstreamz (fused) beside RxPY operators and a plain loop.

Run: ``pytest benchmarks/bench_transform.py --benchmark-enable``.

Every group runs the same user functions over the same list of ints three
ways, so the pytest-benchmark table shows the ratios directly (the figures in
parentheses are relative to the fastest of the group):

* ``K stages``: the cases of ``rxstreamz bench --table fusion``
  (``rxstreamz.bench.cases.fusion_cases``), ``K`` alternating filter/map
  stages; fusion calls one ``on_next`` per item for the whole run, RxPY one
  per stage, so the gap grows with ``K``.
* ``chunk-100``: ``chunk(100)`` beside ``ops.buffer_with_count(100)`` and
  list slicing.

The fused chunk pipeline (filter, map, ``chunk(100)``, sum per chunk) is in
``bench_pipeline.py``, with the other pipelines of the ``throughput`` table.

``N`` is the item count, read when a case runs (the smoke test in
``tests/test_benchmarks_smoke.py`` sets it to a tiny value).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import reactivex as rx
from reactivex import operators as ops

from rxstreamz import chunk, collect
from rxstreamz.bench.cases import fusion_cases
from rxstreamz.bench.model import IMPLS, Impl

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))
CHAINS = {case.name: case for case in fusion_cases()}


def data() -> list[int]:
    return list(range(1, N + 1))


# -- chains of filter/map stages: the gain of fusion grows with the number of stages ----


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(CHAINS))
def test_chain(benchmark: Any, name: str, impl: Impl) -> None:
    case = CHAINS[name]
    items = data()
    benchmark.group = name
    benchmark.extra_info["items"] = len(items)
    result = benchmark(case.impls[impl](items))
    assert result == case.impls["plain"](items)()


# -- chunk(100) ----------------------------------------------------------------------------

CHUNKERS: dict[str, Callable[[list[int]], list[list[int]]]] = {
    "rxstreamz": lambda items: collect(rx.from_iterable(items).pipe(chunk(100))),
    "rxpy": lambda items: collect(rx.from_iterable(items).pipe(ops.buffer_with_count(100))),
    "plain": lambda items: [items[i : i + 100] for i in range(0, len(items), 100)],
}


@pytest.mark.parametrize("impl", list(CHUNKERS))
def test_chunk(benchmark: Any, impl: str) -> None:
    benchmark.group = "chunk-100"
    items = data()
    benchmark.extra_info["items"] = len(items)
    result = benchmark(CHUNKERS[impl], items)
    assert [n for rows in result for n in rows] == items
