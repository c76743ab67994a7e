"""What the pytest-benchmark suites share (not a suite: only ``bench_*.py`` are collected)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def measure(
    benchmark: Any,
    group: str,
    run: Callable[[], Any],
    items: int,
    rounds: int = 3,
    warmup_rounds: int = 1,
) -> Any:
    """Time ``rounds`` calls of ``run`` in ``group``; record ``items`` and ``items_per_s``."""
    benchmark.group = group
    result = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=warmup_rounds)
    benchmark.extra_info["items"] = items
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["items_per_s"] = round(items / benchmark.stats.stats.min)
    return result
