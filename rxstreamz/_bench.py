"""The measurements behind ``rxstreamz bench``.

Three tables, each case run by three implementations on the same data in the
same process, one after the other:

* ``processor``: the cost of one processor per item (ns, bytes and memory
  blocks per item) for ``filter_``, ``map_``, ``async_map`` with 1 and 10
  workers, ``batch(100)`` and ``buffer_(1000)``;
* ``throughput``: items per second and peak memory of whole pipelines (the
  last, ``CHUNKED``, a fused run holding a ``chunk``);
* ``fusion``: a chain of 1, 2, 4 and 6 ``filter_``/``map_`` stages, where the
  gain of fusion shows as the chain grows.

The implementations are ``rxstreamz``, ``rxpy`` (the nearest composition of
``reactivex`` built-ins) and ``plain`` (a Python loop calling the same user
functions; ``ThreadPoolExecutor.map`` for the concurrent cases, a
``queue.Queue`` and a consumer thread for the buffer).

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

Processors that are not part of this installation are reported as not
available instead of failing the run.
"""

from __future__ import annotations

import functools
import gc
import os
import platform
import queue
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Literal

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler

import rxstreamz

__all__ = [
    "IMPLS",
    "TABLES",
    "Case",
    "Clock",
    "Row",
    "Unavailable",
    "cases",
    "machine",
    "measure",
    "steps",
]

Table = Literal["processor", "throughput", "fusion"]
Impl = Literal["rxstreamz", "rxpy", "plain"]
Run = Callable[[], list[Any]]
"""Runs one pipeline over the prepared data to completion; returns its output."""
Prepare = Callable[[list[int]], Run]
"""Builds a fresh ``Run`` over ``data`` (not timed)."""

TABLES: tuple[Table, ...] = ("processor", "throughput", "fusion")
IMPLS: tuple[Impl, ...] = ("rxstreamz", "rxpy", "plain")

IO_SECONDS = 0.0001
"""The simulated I/O call of the async throughput case (``time.sleep``)."""
ASYNC_DIVISOR = 50
"""The async cases run ``items // ASYNC_DIVISOR`` items: each costs a thread hand-off."""
IO_DIVISOR = 100
"""The simulated I/O case runs ``items // IO_DIVISOR`` items."""
OBSERVE_ON_CAP = 20_000
"""RxPY's ``observe_on`` queue is unbounded: past this size it only measures swapping."""
WARMUP_ITEMS = 1_000
"""Items of the untimed run made before a row is timed (imports, caches, threads)."""
_WAIT_SECONDS = 600.0


class Unavailable(Exception):
    """A processor this case needs is not part of this installation."""


@dataclass(frozen=True, slots=True)
class Case:
    """One benchmark case: a name and how each implementation runs it.

    Attributes:
        table: The table the case belongs to.
        name: The row label.
        impls: For each implementation, how to prepare a run over some data.
        divisor: The case runs ``items // divisor`` items (slow per-item work).
        caps: Per implementation, the most items it is given.
        notes: Per implementation, a remark printed beside its row.
        memory: Whether to make the extra ``tracemalloc`` run.
    """

    table: Table
    name: str
    impls: Mapping[Impl, Prepare]
    divisor: int = 1
    caps: Mapping[Impl, int] = field(default_factory=dict[Impl, int])
    notes: Mapping[Impl, str] = field(default_factory=dict[Impl, str])
    memory: bool = True

    def items_for(self, impl: Impl, items: int) -> int:
        """Return how many items ``impl`` runs when the user asked for ``items``."""
        count = max(1, items // self.divisor)
        return min(count, self.caps.get(impl, count))


@dataclass(frozen=True, slots=True)
class Row:
    """One measured (case, implementation) pair; ``None`` where not measured."""

    table: Table
    case: str
    impl: Impl
    items: int
    seconds: float | None
    items_per_s: float | None
    ns_per_item: float | None
    bytes_per_item: float | None
    allocs_per_item: float | None
    peak_bytes: int | None
    note: str

    def as_dict(self) -> dict[str, object]:
        """Return the row as a JSON-ready mapping."""
        return asdict(self)


# -- the user functions every implementation calls -------------------------------------


def positive(n: int) -> bool:
    """Return whether ``n`` is positive (the filter of every case)."""
    return n > 0


def double(n: int) -> int:
    """Return ``2 * n`` (the map of every case)."""
    return n * 2


def io_double(n: int) -> int:
    """Return ``2 * n`` after a simulated I/O call of ``IO_SECONDS``."""
    time.sleep(IO_SECONDS)
    return n * 2


def total(batch: list[int]) -> int:
    """Return the sum of a batch (the per-batch work)."""
    return sum(batch)


def _not_sevens(n: int) -> bool:
    return n % 7 != 0


def _plus_one(n: int) -> int:
    return n + 1


def _not_elevens(n: int) -> bool:
    return n % 11 != 0


def _minus_three(n: int) -> int:
    return n - 3


STAGES: tuple[Callable[[int], Any], ...] = (
    positive,
    double,
    _not_sevens,
    _plus_one,
    _not_elevens,
    _minus_three,
)
"""The fusion chain: filter, map, filter, map, ... (a prefix of it per case)."""


# -- helpers ---------------------------------------------------------------------------


def _processor(name: str) -> Callable[..., Any]:
    """Return the public rxstreamz factory ``name`` or raise ``Unavailable``."""
    factory: Callable[..., Any] | None = getattr(rxstreamz, name, None)
    if factory is None:
        raise Unavailable(f"{name} not available in this installation")
    return factory


def _drain(observable: Observable[Any]) -> list[Any]:
    """Subscribe, wait for the end and return the items (re-raising an error)."""
    out: list[Any] = []
    done = threading.Event()
    failure: Exception | None = None

    def on_error(exc: Exception) -> None:
        nonlocal failure
        failure = exc
        done.set()

    subscription = observable.subscribe(out.append, on_error, done.set)
    finished = done.wait(_WAIT_SECONDS)
    subscription.dispose()
    if not finished:
        raise TimeoutError(f"benchmark pipeline did not finish within {_WAIT_SECONDS:g} s")
    if failure is not None:
        raise failure
    return out


def _rx(*operators: Callable[[Any], Any]) -> Prepare:
    """Prepare a run of ``from_iterable(data).pipe(*operators)``."""

    def prepare(data: list[int]) -> Run:
        return lambda: _drain(rx.from_iterable(data).pipe(*operators))

    return prepare


def _rxstreamz(build: Callable[[], Sequence[Callable[[Any], Any]]]) -> Prepare:
    """Like ``_rx``, the operators made by ``build`` (which may be unavailable)."""

    def prepare(data: list[int]) -> Run:
        operators = build()
        return lambda: _drain(rx.from_iterable(data).pipe(*operators))

    return prepare


def _plain(loop: Callable[[list[int]], list[Any]]) -> Prepare:
    """Prepare a run of ``loop(data)``."""
    return lambda data: lambda: loop(data)


def _loop_filter(data: list[int]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for n in data:
        if positive(n):
            append(n)
    return out


def _loop_map(data: list[int]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for n in data:
        append(double(n))
    return out


def _loop_filter_map(data: list[int]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for n in data:
        if positive(n):
            append(double(n))
    return out


def _batches(items: Iterator[int] | list[int], size: int) -> Iterator[list[int]]:
    """Yield lists of ``size`` items and a partial last one (the plain batcher)."""
    current: list[int] = []
    for n in items:
        current.append(n)
        if len(current) == size:
            yield current
            current = []
    if current:
        yield current


def _loop_batch(data: list[int]) -> list[Any]:
    return list(_batches(data, 100))


def _loop_batch_total(data: list[int]) -> list[Any]:
    return [total(b) for b in _batches(data, 100)]


def _loop_complex(data: list[int]) -> list[Any]:
    return [total(b) for b in _batches((double(n) for n in data if positive(n)), 100)]


def _loop_chain_1(data: list[int]) -> list[Any]:
    f0 = STAGES[0]
    out: list[Any] = []
    append = out.append
    for n in data:
        if f0(n):
            append(n)
    return out


def _loop_chain_2(data: list[int]) -> list[Any]:
    f0, f1 = STAGES[:2]
    out: list[Any] = []
    append = out.append
    for n in data:
        if f0(n):
            append(f1(n))
    return out


def _loop_chain_4(data: list[int]) -> list[Any]:
    f0, f1, f2, f3 = STAGES[:4]
    out: list[Any] = []
    append = out.append
    for n in data:
        if f0(n):
            x = f1(n)
            if f2(x):
                append(f3(x))
    return out


def _loop_chain_6(data: list[int]) -> list[Any]:
    f0, f1, f2, f3, f4, f5 = STAGES
    out: list[Any] = []
    append = out.append
    for n in data:
        if f0(n):
            x = f1(n)
            if f2(x):
                x = f3(x)
                if f4(x):
                    append(f5(x))
    return out


_LOOP_CHAINS = {1: _loop_chain_1, 2: _loop_chain_2, 4: _loop_chain_4, 6: _loop_chain_6}

CHUNKED = "Fused chunk pipeline"
"""filter, map, chunk(100), sum per chunk: one fused run, the list filled inline."""


def _loop_chunked(data: list[int]) -> list[Any]:
    """The same calls as ``CHUNKED``, written as one loop."""
    out: list[Any] = []
    current: list[int] = []
    for n in data:
        if positive(n):
            current.append(double(n))
            if len(current) == 100:
                out.append(total(current))
                current = []
    if current:
        out.append(total(current))
    return out


def _chain_ops(stages: int, filter_op: Callable[..., Any], map_op: Callable[..., Any]) -> list[Any]:
    return [(filter_op if i % 2 == 0 else map_op)(fn) for i, fn in enumerate(STAGES[:stages])]


def _fused_chain(stages: int) -> list[Any]:
    return _chain_ops(stages, rxstreamz.filter_, rxstreamz.map_)


def _pool_map(fn: Callable[[int], int], workers: int) -> Prepare:
    def loop(data: list[int]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, data))

    return _plain(loop)


def _rxpy_async(fn: Callable[[int], int], workers: int) -> Prepare:
    """RxPY's nearest composition: ``flat_map`` onto futures of a thread pool."""

    def prepare(data: list[int]) -> Run:
        def run() -> list[Any]:
            with ThreadPoolExecutor(max_workers=workers) as pool:

                def submit(n: int) -> Observable[int]:
                    return rx.from_future(pool.submit(fn, n))

                return _drain(rx.from_iterable(data).pipe(ops.flat_map(submit)))

        return run

    return prepare


def _rxstreamz_async(fn: Callable[[int], int], workers: int) -> Prepare:
    return _rxstreamz(lambda: [_processor("async_map")(fn, workers=workers)])


def _rxpy_observe_on(data: list[int]) -> Run:
    def run() -> list[Any]:
        loop = EventLoopScheduler(exit_if_empty=True)
        try:
            return _drain(rx.from_iterable(data).pipe(ops.observe_on(loop)))
        finally:
            loop.dispose()

    return run


def _plain_buffer(data: list[int]) -> list[Any]:
    """A producer (this thread) and a consumer thread around a ``Queue(1000)``."""
    channel: queue.Queue[int | None] = queue.Queue(maxsize=1000)
    out: list[Any] = []

    def consume() -> None:
        append = out.append
        get = channel.get
        while (item := get()) is not None:
            append(item)

    consumer = threading.Thread(target=consume, name="bench-plain-buffer", daemon=True)
    consumer.start()
    put = channel.put
    for n in data:
        put(n)
    put(None)
    consumer.join()
    return out


# -- the cases -------------------------------------------------------------------------


def cases() -> list[Case]:
    """Return every case of every table, in report order."""
    async_note = f"items / {ASYNC_DIVISOR} (a thread hand-off per item)"
    io_note = f"items / {IO_DIVISOR}; each call sleeps {IO_SECONDS * 1e6:.0f} us"
    result = [
        Case(
            "processor",
            "filter_",
            {
                "rxstreamz": _rxstreamz(lambda: [rxstreamz.filter_(positive)]),
                "rxpy": _rx(ops.filter(positive)),
                "plain": _plain(_loop_filter),
            },
        ),
        Case(
            "processor",
            "map_",
            {
                "rxstreamz": _rxstreamz(lambda: [rxstreamz.map_(double)]),
                "rxpy": _rx(ops.map(double)),
                "plain": _plain(_loop_map),
            },
        ),
        Case(
            "processor",
            "async_map(workers=1)",
            {
                "rxstreamz": _rxstreamz_async(double, 1),
                "rxpy": _rxpy_async(double, 1),
                "plain": _pool_map(double, 1),
            },
            divisor=ASYNC_DIVISOR,
            notes=dict.fromkeys(IMPLS, async_note),
        ),
        Case(
            "processor",
            "async_map(workers=10)",
            {
                "rxstreamz": _rxstreamz_async(double, 10),
                "rxpy": _rxpy_async(double, 10),
                "plain": _pool_map(double, 10),
            },
            divisor=ASYNC_DIVISOR,
            notes=dict.fromkeys(IMPLS, async_note),
        ),
        Case(
            "processor",
            "batch(100)",
            {
                "rxstreamz": _rxstreamz(lambda: [_processor("batch")(100)]),
                "rxpy": _rx(ops.buffer_with_count(100)),
                "plain": _plain(_loop_batch),
            },
        ),
        Case(
            "processor",
            "buffer_(1000)",
            {
                "rxstreamz": _rxstreamz(lambda: [_processor("buffer_")(1000)]),
                "rxpy": _rxpy_observe_on,
                "plain": _plain(_plain_buffer),
            },
            caps={"rxpy": OBSERVE_ON_CAP},
            notes={
                "rxpy": f"observe_on(EventLoopScheduler()), unbounded: at most "
                f"{OBSERVE_ON_CAP:,} items",
                "plain": "queue.Queue(1000) + consumer thread",
            },
        ),
        Case(
            "throughput",
            "Simple filter+map",
            {
                "rxstreamz": _rxstreamz(
                    lambda: [rxstreamz.filter_(positive), rxstreamz.map_(double)]
                ),
                "rxpy": _rx(ops.filter(positive), ops.map(double)),
                "plain": _plain(_loop_filter_map),
            },
        ),
        Case(
            "throughput",
            "Batched processing",
            {
                "rxstreamz": _rxstreamz(lambda: [_processor("batch")(100), rxstreamz.map_(total)]),
                "rxpy": _rx(ops.buffer_with_count(100), ops.map(total)),
                "plain": _plain(_loop_batch_total),
            },
            notes=dict.fromkeys(IMPLS, "batch(100) then sum per batch"),
        ),
        Case(
            "throughput",
            "Async processing (10 workers)",
            {
                "rxstreamz": _rxstreamz_async(io_double, 10),
                "rxpy": _rxpy_async(io_double, 10),
                "plain": _pool_map(io_double, 10),
            },
            divisor=IO_DIVISOR,
            notes=dict.fromkeys(IMPLS, io_note),
        ),
        Case(
            "throughput",
            "Complex pipeline",
            {
                "rxstreamz": _rxstreamz(
                    lambda: [
                        rxstreamz.filter_(positive),
                        rxstreamz.map_(double),
                        _processor("batch")(100),
                        rxstreamz.map_(total),
                    ]
                ),
                "rxpy": _rx(
                    ops.filter(positive),
                    ops.map(double),
                    ops.buffer_with_count(100),
                    ops.map(total),
                ),
                "plain": _plain(_loop_complex),
            },
            notes=dict.fromkeys(IMPLS, "filter, map, batch(100), sum per batch"),
        ),
    ]
    result.append(
        Case(
            "throughput",
            CHUNKED,
            {
                "rxstreamz": _rxstreamz(
                    lambda: [
                        rxstreamz.filter_(positive),
                        rxstreamz.map_(double),
                        rxstreamz.chunk(100),
                        rxstreamz.map_(total),
                    ]
                ),
                "rxpy": _rx(
                    ops.filter(positive),
                    ops.map(double),
                    ops.buffer_with_count(100),
                    ops.map(total),
                ),
                "plain": _plain(_loop_chunked),
            },
            notes=dict.fromkeys(IMPLS, "chunk fused into the run"),
        )
    )
    result.extend(
        Case(
            "fusion",
            f"{stages} stage{'s' if stages > 1 else ''}",
            {
                "rxstreamz": _rxstreamz(functools.partial(_fused_chain, stages)),
                "rxpy": _rx(*_chain_ops(stages, ops.filter, ops.map)),
                "plain": _plain(_LOOP_CHAINS[stages]),
            },
            memory=False,
        )
        for stages in (1, 2, 4, 6)
    )
    return result


# -- measuring -------------------------------------------------------------------------


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
) -> list[Row]:
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
    rows: list[Row] = []
    tick: Progress = progress if progress is not None else _silent
    for case in selected:
        rows += _measure_case(case, items=items, repeat=repeat, tick=tick, clock=_CLOCKS[clock])
    return rows


def _measure_case(
    case: Case, *, items: int, repeat: int, tick: Progress, clock: Callable[[], float]
) -> list[Row]:
    """Measure one case; the timed runs of its implementations alternate.

    Alternating (rxstreamz, rxpy, plain, rxstreamz, ...) rather than timing
    each implementation in a block keeps a change in machine load from
    favouring one of them.
    """
    data: dict[Impl, list[int]] = {}
    missing: dict[Impl, str] = {}
    best: dict[Impl, float] = {}
    for impl in IMPLS:
        data[impl] = list(range(1, case.items_for(impl, items) + 1))
        try:
            warm_up = case.impls[impl](data[impl][:WARMUP_ITEMS])
        except Unavailable as exc:
            missing[impl] = str(exc)
            continue
        warm_up()
        best[impl] = float("inf")
    for round_ in range(repeat):
        for impl in IMPLS:
            label = f"{case.table}: {case.name} [{impl}]"
            if impl in missing:
                if round_ == 0:
                    tick(f"{label} not available")
                continue
            if round_ == 0:
                tick(f"{label} time")
            best[impl] = min(best[impl], _time(case.impls[impl](data[impl]), clock))
    rows: list[Row] = []
    for impl in IMPLS:
        label = f"{case.table}: {case.name} [{impl}]"
        count = len(data[impl])
        if impl in missing:
            if case.memory:
                tick(f"{label} not available")
            rows.append(_missing(case, impl, count, missing[impl]))
            continue
        memory: tuple[int, int, int] | None = None
        if case.memory:
            tick(f"{label} memory")
            memory = _memory(case.impls[impl](data[impl]))
        seconds = max(best[impl], 1e-9)
        rows.append(
            Row(
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
            )
        )
    return rows


def _silent(message: str) -> None:
    del message


def _missing(case: Case, impl: Impl, count: int, note: str) -> Row:
    return Row(
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
        "platform": platform.platform(terse=True),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "reactivex": _version("reactivex"),
        "rxstreamz": rxstreamz.__version__,
        "gil": _gil(),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _gil() -> bool:
    enabled: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if enabled is None else enabled()
