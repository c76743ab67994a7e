"""pytest setup for the benchmark suites: ``pytest benchmarks/ --benchmark-enable``.

* Collects ``bench_*.py`` (the project's ``python_files`` only matches
  ``test_*.py``, and ``make test`` must never run these).
* ``--quick``: every size from ``RXSTREAMZ_BENCH_N=10000`` unless that
  variable is already set, and at most 0.2 s of rounds per case unless
  ``--benchmark-max-time`` / ``--benchmark-min-rounds`` say otherwise: a
  smoke run for CI.
* Every case that records ``extra_info["items"]`` also gets
  ``extra_info["items_per_s"]`` (from the fastest round) when its module did
  not compute it; within a group every implementation runs the same items.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SIZE_VARIABLE = "RXSTREAMZ_BENCH_N"
QUICK_N = 10_000


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help=f"small sizes for a smoke run: {SIZE_VARIABLE}={QUICK_N} unless already set",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config: pytest.Config) -> None:
    # Modules read the size when imported, after this hook and before collection.
    if not config.getoption("--quick", default=False):
        return
    os.environ.setdefault(SIZE_VARIABLE, str(QUICK_N))
    option = config.option
    max_time = getattr(option, "benchmark_max_time", None)
    if max_time is not None and float(max_time) == 1.0:  # pytest-benchmark's default
        option.benchmark_max_time = type(max_time)("0.2")
    if getattr(option, "benchmark_min_rounds", None) == 5:
        option.benchmark_min_rounds = 1


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(autouse=True)
def _items_per_second(request: pytest.FixtureRequest) -> Iterator[None]:
    if "benchmark" not in request.fixturenames:
        yield
        return
    # Requested here, so the benchmark fixture is torn down after this one.
    benchmark = request.getfixturevalue("benchmark")
    yield
    info = benchmark.extra_info
    stats = getattr(benchmark, "stats", None)
    if stats is None or "items" not in info or "items_per_s" in info:
        return  # not timed (--benchmark-disable), no item count, or computed already
    info["items_per_s"] = round(info["items"] / stats.stats.min)
