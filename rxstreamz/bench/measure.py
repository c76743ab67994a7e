"""Timing and memory of the cases, and the description of the machine.

Time and memory come from separate runs: the time is the best of ``repeat``
runs with ``time.perf_counter`` (or ``time.process_time``, see ``Clock``);
memory comes from one more run under ``tracemalloc`` (which slows everything
down). Every run keeps the pipeline's output in a list, as ``collect`` does,
so:

* ``bytes_per_item`` / ``allocs_per_item``: bytes and memory blocks allocated
  during the run and still alive at its end (the output and anything the
  pipeline kept), divided by the items fed in. CPython does not count
  allocations that were freed again, so transient objects do not show here;
  they show in the time.
* ``peak_bytes``: the highest traced memory during the run, above the level at
  its start (the input list is built before and not counted).

A case with a ``ceiling`` implementation also gets, on every row, its items/s
over the ceiling's items/s of the same run (``ceiling_ratio``).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Literal

import rxstreamz
from rxstreamz.bench.model import Case, Impl, Result, Run, Unavailable

__all__ = ["WARMUP_ITEMS", "Clock", "Progress", "machine", "measure", "over_ceiling", "steps"]

WARMUP_ITEMS = 1_000
"""Items of the untimed run made before a row is timed (imports, caches, threads)."""

Clock = Literal["wall", "cpu"]
"""``wall``: ``time.perf_counter``. ``cpu``: ``time.process_time``, the CPU time
of every thread of this process, which other jobs on the machine barely
disturb; it leaves out time spent waiting (sleeps, I/O), so it understates
the wall time of the concurrent cases."""

_CLOCKS: dict[Clock, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def _time(run: Run, clock: Callable[[], float]) -> float:
    gc.collect()
    start = clock()
    run()
    return clock() - start


def _memory(run: Run) -> tuple[int, int, int]:
    """Return (bytes, blocks) still allocated after ``run`` and its peak bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        start_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        output = run()
        end_bytes, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    blocks = sum(stat.count_diff for stat in after.compare_to(before, "filename"))
    del output
    return max(0, end_bytes - start_bytes), max(0, blocks), max(0, peak - start_bytes)


Progress = Callable[[str], None]
"""Called before each measurement with a short description of it."""


def steps(selected: Sequence[Case]) -> int:
    """Return how many measurements ``measure`` makes for ``selected``."""
    return sum(len(case.impls) * (2 if case.memory else 1) for case in selected)


def measure(
    selected: Sequence[Case],
    *,
    items: int,
    repeat: int,
    progress: Progress | None = None,
    clock: Clock = "wall",
) -> list[Result]:
    """Run every case of ``selected`` with each implementation; return the rows.

    Args:
        selected: The cases to run.
        items: The number of items a case with ``divisor=1`` is fed.
        repeat: Timed runs per row; the best is kept.
        progress: Called before every measurement (time or memory).
        clock: How the timed runs are timed (see ``Clock``).

    Returns:
        One row per (case, implementation), in order.
    """
    rows: list[Result] = []
    tick: Progress = progress if progress is not None else _silent
    for case in selected:
        rows += _measure_case(case, items=items, repeat=repeat, tick=tick, clock=_CLOCKS[clock])
    return rows


def _measure_case(
    case: Case, *, items: int, repeat: int, tick: Progress, clock: Callable[[], float]
) -> list[Result]:
    """Measure one case; the timed runs of its implementations alternate.

    Alternating (rxstreamz, rxpy, plain, rxstreamz, ...) rather than timing
    each implementation in a block keeps a change in machine load from
    favouring one of them (or the ceiling).
    """
    data: dict[Impl, list[int]] = {
        impl: list(range(1, case.items_for(impl, items) + 1)) for impl in case.impls
    }
    missing: dict[Impl, str] = {}
    best: dict[Impl, float] = {}
    for impl in case.impls:
        try:
            warm_up = case.impls[impl](data[impl][:WARMUP_ITEMS])
        except Unavailable as exc:
            missing[impl] = str(exc)
            continue
        warm_up()
        best[impl] = float("inf")
    for round_ in range(repeat):
        for impl in case.impls:
            if round_ == 0:
                tick(f"{_label(case, impl)} {'not available' if impl in missing else 'time'}")
            if impl not in missing:
                best[impl] = min(best[impl], _time(case.impls[impl](data[impl]), clock))
    rows: list[Result] = []
    for impl in case.impls:
        if impl in missing:
            if case.memory:
                tick(f"{_label(case, impl)} not available")
            rows.append(_missing(case, impl, len(data[impl]), missing[impl]))
            continue
        memory: tuple[int, int, int] | None = None
        if case.memory:
            tick(f"{_label(case, impl)} memory")
            memory = _memory(case.impls[impl](data[impl]))
        rows.append(_row(case, impl, len(data[impl]), best[impl], memory))
    return over_ceiling(case, rows)


def _label(case: Case, impl: Impl) -> str:
    return f"{case.table}: {case.name} [{impl}]"


def _row(
    case: Case, impl: Impl, count: int, best: float, memory: tuple[int, int, int] | None
) -> Result:
    """Return the row of a measured implementation: its best time and its memory run."""
    seconds = max(best, 1e-9)
    gauge = case.gauges.get(impl)
    return Result(
        table=case.table,
        case=case.name,
        impl=impl,
        items=count,
        seconds=seconds,
        items_per_s=count / seconds,
        ns_per_item=seconds * 1e9 / count,
        bytes_per_item=None if memory is None else memory[0] / count,
        allocs_per_item=None if memory is None else memory[1] / count,
        peak_bytes=None if memory is None else memory[2],
        note=case.notes.get(impl, ""),
        ideal_ratio=None if case.ideal is None else count / seconds / case.ideal,
        read_ahead=None if gauge is None else gauge.most,
    )


def over_ceiling(case: Case, rows: list[Result]) -> list[Result]:
    """Return ``rows`` with ``ceiling_ratio`` set, where the case's ceiling was measured."""
    ceiling = next((row for row in rows if row.impl == case.ceiling), None)
    if ceiling is None or ceiling.items_per_s is None:
        return rows
    return [
        row
        if row.items_per_s is None
        else dataclasses.replace(row, ceiling_ratio=row.items_per_s / ceiling.items_per_s)
        for row in rows
    ]


def _silent(message: str) -> None:
    del message


def _missing(case: Case, impl: Impl, count: int, note: str) -> Result:
    return Result(
        table=case.table,
        case=case.name,
        impl=impl,
        items=count,
        seconds=None,
        items_per_s=None,
        ns_per_item=None,
        bytes_per_item=None,
        allocs_per_item=None,
        peak_bytes=None,
        note=note,
    )


def machine() -> dict[str, object]:
    """Describe this machine and the versions measured (stable between runs)."""
    return {
        "cpus": os.cpu_count() or 1,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(terse=True),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "reactivex": _version("reactivex"),
        "rxstreamz": rxstreamz.__version__,
        "gil": _gil(),
    }


def _cpu_model() -> str:
    """Return the processor's model name (``/proc/cpuinfo`` on Linux), or ``"unknown"``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in {"model name", "Hardware", "cpu model"} and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _gil() -> bool:
    enabled: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if enabled is None else enabled()
