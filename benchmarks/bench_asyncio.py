"""One asyncio pipeline on one event loop, beside aiostream, python-streamz and asyncio.

The case of ``rxstreamz bench --table asyncio``
(``rxstreamz.bench.asyncio_cases``): an async generator yields records in
bursts (50, then a 10 ms pause), an ``async def enrich`` awaits a 5 ms call
with 8 calls in flight and the output kept in input order, then batches of
50 go to a sink on the loop's thread. The implementations:

* ``rxstreamz``: ``from_async_iterable``, ``async_map(enrich, workers=8)``,
  ``batch(50, max_latency=0.2)``, subscribed with ``AsyncIOScheduler``;
* ``aiostream``: ``stream.iterate | pipe.map(enrich, task_limit=8) |
  pipe.chunks(50)`` (ordered; a chunk has no time bound);
* ``streamz`` (python-streamz): ``await source.emit(record)`` into
  ``map_async(enrich, parallelism=7)`` (7 queued plus the one awaited: 8
  calls at once) and ``partition(50, timeout=0.2)``;
* ``plain``: hand-written asyncio, a ``Semaphore(8)``, tasks awaited in
  order from a bounded queue, timed batches, in a ``TaskGroup``;
* ``ceiling``: no pipeline, 8 tasks that only await ``enrich`` on the same
  records: the most the event loop attains here.

The nominal throughput is ``workers / latency`` = 1,600 items/s; the sleep's
own overshoot keeps even the ceiling below it. Each case stores in
``extra_info`` its ``items_per_s``, ``ideal_ratio`` (items/s over the nominal
rate) and ``read_ahead`` (the most records pulled from the source but not yet
written, sampled at each pull); compare a pipeline's ``items_per_s`` with the
ceiling's of the same run. ``N`` (default 4,000, ``RXSTREAMZ_BENCH_N``
overrides it) is the record count, read when a case runs. Run with
``pytest benchmarks/bench_asyncio.py --benchmark-enable``.
"""

from __future__ import annotations

import os

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from rxstreamz.bench.asyncio_cases import ASYNCIO_IDEAL, ASYNCIO_IMPLS, asyncio_cases
from rxstreamz.bench.model import Impl

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "4000"))
(CASE,) = asyncio_cases()


@pytest.mark.benchmark(group="asyncio-pipeline-8-workers-5ms")
@pytest.mark.parametrize("impl", ASYNCIO_IMPLS)
def test_asyncio_pipeline(benchmark: BenchmarkFixture, impl: Impl) -> None:
    data = list(range(1, N + 1))
    batches = benchmark.pedantic(CASE.impls[impl](data), rounds=3, iterations=1, warmup_rounds=1)
    assert [row for rows in batches for row in rows] == [2 * n for n in data]
    if benchmark.stats is not None:  # None under --benchmark-disable (a plain test run)
        items_per_s = N / benchmark.stats.stats.min
        benchmark.extra_info["items_per_s"] = round(items_per_s)
        benchmark.extra_info["ideal_ratio"] = round(items_per_s / ASYNCIO_IDEAL, 4)
        benchmark.extra_info["read_ahead"] = CASE.gauges[impl].most
