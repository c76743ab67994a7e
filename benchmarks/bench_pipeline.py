"""The pipelines of the ``throughput`` table, each beside RxPY and a plain loop.

Run: ``pytest benchmarks/bench_pipeline.py --benchmark-enable``.

The cases are those of ``rxstreamz bench --table throughput``
(``rxstreamz.bench.cases.throughput_cases``): one group per pipeline, in it
one case per implementation on the same items, so the pytest-benchmark table
shows the ratios directly:

* ``Simple filter+map``: ``filter_(n > 0) -> map_(n * 2)``.
* ``Batched processing``: ``batch(100)`` then a sum per batch (RxPY:
  ``buffer_with_count(100)``).
* ``Async processing (10 workers)``: ``async_map(io_call, workers=10)`` where
  each call waits ``IO_SECONDS`` like a network call (RxPY: ``flat_map`` onto
  futures of a 10-thread pool; plain: ``ThreadPoolExecutor.map``). It runs
  ``N // 100`` items.
* ``Complex pipeline``: filter, map, ``batch(100)``, sum per batch.
* ``Complex pipeline, timed batch``: the same with ``batch(100,
  max_latency=1.0)``, the fused timed batch (one in-flight count per item for
  the hand-off with its timer); the same RxPY and plain baselines.
* ``Fused chunk pipeline``: filter, map, ``chunk(100)``, sum per chunk (one
  fused run).

``N`` is the item count, read when a case runs (the smoke test in
``tests/test_benchmarks_smoke.py`` sets it to a tiny value).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from rxstreamz.bench.cases import throughput_cases
from rxstreamz.bench.model import IMPLS, Impl

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))
CASES = {case.name: case for case in throughput_cases()}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(CASES))
def test_pipeline(benchmark: Any, name: str, impl: Impl) -> None:
    case = CASES[name]
    items = list(range(1, case.items_for(impl, N) + 1))
    benchmark.group = name
    benchmark.extra_info["items"] = len(items)
    result = benchmark(case.impls[impl](items))
    expected = case.impls["plain"](items)()
    assert sorted(result) == sorted(expected)  # RxPY's flat_map does not keep order
