"""The measurements behind ``rxstreamz bench``.

Four tables, each case run by its implementations on the same data in the
same process, one after the other:

* ``processor``: the cost of one processor per item (ns, bytes and memory
  blocks per item) for ``filter_``, ``map_``, ``async_map`` with 1 and 10
  workers, ``batch(100)``, ``buffer_(1000)``, ``dedupe()`` and ``debounce_``
  on a synchronous burst (RxPY's ``distinct()`` and ``debounce`` run at most a
  few thousand items there: one is quadratic, the other starts a timer per item);
* ``throughput``: items per second and peak memory of whole pipelines (the
  last, ``CHUNKED``, a fused run holding a ``chunk``);
* ``fusion``: a chain of 1, 2, 4 and 6 ``filter_``/``map_`` stages, where the
  gain of fusion shows as the chain grows;
* ``asyncio``: one pipeline on one event loop (a bursty async source, an
  ``async def`` call on 8 workers, batches of 50), with its throughput
  against the ideal ``workers / latency`` and how far its source reads ahead.

Two more tables are measured only when asked for (``--table``), for the
charts of the performance guide:

* ``growth``: ``buffer_(1000)`` beside ``observe_on`` (unbounded) and a
  ``queue.Queue(1000)`` at a tenth, a quarter, half and all of the items, so
  time and peak memory show how each grows with the stream;
* ``workers``: ``async_map`` on a call that waits ``IO_SECONDS``, with 1, 2,
  4, 8 and 16 workers.

The implementations are ``rxstreamz``, ``rxpy`` (the nearest composition of
``reactivex`` built-ins) and ``plain`` (a Python loop calling the same user
functions; ``ThreadPoolExecutor.map`` for the concurrent cases, a
``queue.Queue`` and a consumer thread for the buffer).

The ``asyncio`` table has ``rxstreamz``, ``aiostream``, ``streamz``
(python-streamz) and ``plain`` (hand-written asyncio); see ``asyncio_cases``.

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

import asyncio
import functools
import gc
import importlib
import importlib.util
import os
import platform
import queue
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal, cast

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

import rxstreamz

if TYPE_CHECKING:  # an optional extra: imported where it runs, inside aiostream_pipeline
    from aiostream.stream.combine import MapCallable

__all__ = [
    "ASYNCIO_IMPLS",
    "DEFAULT_TABLES",
    "IMPLS",
    "TABLES",
    "Case",
    "Clock",
    "Gauge",
    "Row",
    "Unavailable",
    "asyncio_cases",
    "cases",
    "machine",
    "measure",
    "steps",
]

Table = Literal["processor", "throughput", "fusion", "asyncio", "growth", "workers"]
Impl = Literal["rxstreamz", "rxpy", "plain", "aiostream", "streamz"]
Run = Callable[[], list[Any]]
"""Runs one pipeline over the prepared data to completion; returns its output."""
Prepare = Callable[[list[int]], Run]
"""Builds a fresh ``Run`` over ``data`` (not timed)."""

TABLES: tuple[Table, ...] = ("processor", "throughput", "fusion", "asyncio", "growth", "workers")
DEFAULT_TABLES: tuple[Table, ...] = ("processor", "throughput", "fusion", "asyncio")
"""The tables measured when none is named (``growth`` and ``workers`` are for the charts)."""
IMPLS: tuple[Impl, ...] = ("rxstreamz", "rxpy", "plain")
"""The implementations of every table but ``asyncio`` (see ``ASYNCIO_IMPLS``)."""

IO_SECONDS = 0.0001
"""The simulated I/O call of the async throughput case (``time.sleep``)."""
ASYNC_DIVISOR = 50
"""The async cases run ``items // ASYNC_DIVISOR`` items: each costs a thread hand-off."""
IO_DIVISOR = 100
"""The simulated I/O case runs ``items // IO_DIVISOR`` items."""
OBSERVE_ON_CAP = 20_000
"""RxPY's ``observe_on`` queue is unbounded: past this size it only measures swapping."""
GROWTH_DIVISORS = (10, 4, 2, 1)
"""The ``growth`` table runs ``items // d`` items for each of these ``d``."""
WORKER_COUNTS = (1, 2, 4, 8, 16)
"""The ``workers`` table runs ``async_map`` with each of these worker counts."""
WARMUP_ITEMS = 1_000
"""Items of the untimed run made before a row is timed (imports, caches, threads)."""
_WAIT_SECONDS = 600.0


class Unavailable(Exception):
    """A processor this case needs is not part of this installation."""


class Gauge:
    """How far a source runs ahead of its sink: items pulled minus items written.

    The source calls ``pull`` before it hands each item on, the sink calls
    ``write`` with the number of items it received; ``most`` is the largest
    gap seen at a pull over every run since the gauge was made.
    """

    __slots__ = ("most", "pulled", "written")

    def __init__(self) -> None:
        self.pulled = 0
        self.written = 0
        self.most = 0

    def start(self) -> None:
        """Begin a run: nothing pulled nor written yet (``most`` is kept)."""
        self.pulled = 0
        self.written = 0

    def pull(self) -> None:
        """Count one item taken from the source."""
        self.pulled += 1
        self.most = max(self.most, self.pulled - self.written)

    def write(self, count: int) -> None:
        """Count ``count`` items handed to the sink."""
        self.written += count


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
        ideal: The items per second the case reaches at best, if it has such
            a bound (``workers / latency`` for concurrent calls that wait).
        gauges: Per implementation, the ``Gauge`` its runs report to.
    """

    table: Table
    name: str
    impls: Mapping[Impl, Prepare]
    divisor: int = 1
    caps: Mapping[Impl, int] = field(default_factory=dict[Impl, int])
    notes: Mapping[Impl, str] = field(default_factory=dict[Impl, str])
    memory: bool = True
    ideal: float | None = None
    gauges: Mapping[Impl, Gauge] = field(default_factory=dict[Impl, Gauge])

    def items_for(self, impl: Impl, items: int) -> int:
        """Return how many items ``impl`` runs when the user asked for ``items``."""
        count = max(1, items // self.divisor)
        return min(count, self.caps.get(impl, count))


@dataclass(frozen=True, slots=True)
class Row:
    """One measured (case, implementation) pair; ``None`` where not measured.

    ``ideal_ratio`` (items/s over the case's ideal) and ``read_ahead`` (the
    most items pulled from the source but not yet written) are measured by
    the ``asyncio`` table only.
    """

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
    ideal_ratio: float | None = None
    read_ahead: int | None = None

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


def loop_chunked(data: list[int]) -> list[Any]:
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
                "plain": _plain(loop_chunked),
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
    result.extend(
        Case(
            "growth",
            f"items / {divisor}",
            {
                "rxstreamz": _rxstreamz(lambda: [_processor("buffer_")(1000)]),
                "rxpy": _rxpy_observe_on,
                "plain": _plain(_plain_buffer),
            },
            divisor=divisor,
            notes={
                "rxstreamz": "buffer_(1000)",
                "rxpy": "observe_on(EventLoopScheduler()), unbounded",
                "plain": "queue.Queue(1000) + consumer thread",
            },
        )
        for divisor in GROWTH_DIVISORS
    )
    result.extend(
        Case(
            "workers",
            f"workers={workers}",
            {
                "rxstreamz": _rxstreamz_async(io_double, workers),
                "rxpy": _rxpy_async(io_double, workers),
                "plain": _pool_map(io_double, workers),
            },
            divisor=IO_DIVISOR,
            notes=dict.fromkeys(IMPLS, io_note),
            memory=False,
        )
        for workers in WORKER_COUNTS
    )
    result.extend(_keyed_and_timed_cases())
    result.extend(asyncio_cases())
    return sorted(result, key=lambda case: TABLES.index(case.table))  # stable: report order


# -- the asyncio table: one event loop, beside aiostream, python-streamz and asyncio ----

ASYNCIO_IMPLS: tuple[Impl, ...] = ("rxstreamz", "aiostream", "streamz", "plain")
"""The implementations of the ``asyncio`` table, in report order."""
ASYNCIO_WORKERS = 8
"""Calls of ``enrich`` in flight at once, in every implementation."""
ASYNCIO_LATENCY = 0.001
"""What each ``enrich`` call awaits (``asyncio.sleep``): a network call, say."""
ASYNCIO_IDEAL = ASYNCIO_WORKERS / ASYNCIO_LATENCY
"""Items per second with every worker always waiting on a call (Little's law)."""
ASYNCIO_BATCH = 50
"""The batch size of the sink."""
ASYNCIO_MAX_LATENCY = 0.2
"""The longest a batch waits for more items, where the implementation has a bound."""
ASYNCIO_BURST = 50
"""The source yields its records in bursts of this many ..."""
ASYNCIO_BURST_GAP = 0.002
"""... with this pause between bursts (a peak rate well above ``ASYNCIO_IDEAL``)."""
ASYNCIO_DIVISOR = 10
"""The asyncio case runs ``items // ASYNCIO_DIVISOR`` items (each waits on a call)."""

Write = Callable[[Sequence[int]], None]
"""The sink: called on the loop's thread with each batch, in order."""
Pipeline = Callable[[AsyncIterator[int], Write, int], Coroutine[Any, Any, None]]
"""Runs ``source`` through enrich and batching into ``write`` on the running loop;
returns once every one of the ``total`` items has been written."""


async def records(data: Sequence[int], gauge: Gauge) -> AsyncIterator[int]:
    """Yield ``data`` in bursts of ``ASYNCIO_BURST``, counting each pull in ``gauge``."""
    for index, record in enumerate(data):
        if index and index % ASYNCIO_BURST == 0:
            await asyncio.sleep(ASYNCIO_BURST_GAP)
        gauge.pull()
        yield record


async def enrich(record: int) -> int:
    """Return ``2 * record`` after waiting ``ASYNCIO_LATENCY`` (the per-item call)."""
    await asyncio.sleep(ASYNCIO_LATENCY)
    return record * 2


async def rxstreamz_pipeline(source: AsyncIterator[int], write: Write, total: int) -> None:
    """``from_async_iterable``, ``async_map``, ``batch``, all on the running loop."""
    del total  # the pipeline completes when the source does
    from_async_iterable = _processor("from_async_iterable")
    async_map = _processor("async_map")
    batch = _processor("batch")
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    pipeline: Observable[list[int]] = from_async_iterable(source).pipe(
        async_map(enrich, workers=ASYNCIO_WORKERS),
        batch(ASYNCIO_BATCH, max_latency=ASYNCIO_MAX_LATENCY),
    )
    pipeline.subscribe(
        write,
        done.set_exception,
        lambda: done.set_result(None),
        scheduler=AsyncIOScheduler(loop),
    )
    await done


async def aiostream_pipeline(source: AsyncIterator[int], write: Write, total: int) -> None:
    """``stream.iterate | pipe.map(task_limit=...) | pipe.chunks``: ordered, no time bound."""
    del total  # the stream ends when the source does
    from aiostream import pipe, stream

    chunks = (
        stream.iterate(source)
        | pipe.map(cast("MapCallable[int, int]", enrich), task_limit=ASYNCIO_WORKERS)
        | pipe.chunks(ASYNCIO_BATCH)
    )
    async with chunks.stream() as batches:
        async for rows in batches:
            write(rows)


async def streamz_pipeline(source: AsyncIterator[int], write: Write, total: int) -> None:
    """python-streamz: ``await emit`` into ``map_async`` and ``partition(timeout=...)``.

    ``map_async(parallelism=p)`` keeps ``p`` calls queued while it awaits the
    oldest one, so ``p = ASYNCIO_WORKERS - 1`` makes ``ASYNCIO_WORKERS`` calls
    at once. A python-streamz stream has no end: the run is over when
    ``total`` items have been written.
    """
    from streamz import Stream  # type: ignore[import-untyped]

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    written = 0

    def sink(rows: tuple[int, ...]) -> None:
        nonlocal written
        write(rows)
        written += len(rows)
        if written == total:
            done.set_result(None)

    head: Any = Stream(asynchronous=True)
    head.map_async(enrich, parallelism=ASYNCIO_WORKERS - 1).partition(
        ASYNCIO_BATCH, timeout=ASYNCIO_MAX_LATENCY
    ).sink(sink)
    async for record in source:
        await head.emit(record)
    await done


async def plain_pipeline(source: AsyncIterator[int], write: Write, total: int) -> None:
    """Hand-written asyncio: a semaphore, tasks awaited in order, timed batches.

    A producer takes a slot of ``Semaphore(ASYNCIO_WORKERS)`` per record and
    queues its task (at most ``2 * ASYNCIO_WORKERS`` waiting, as
    ``async_map``'s default ``max_pending``); a consumer awaits the tasks in
    order and writes a batch when it is full or its first item has waited
    ``ASYNCIO_MAX_LATENCY``. Both run in one ``TaskGroup``.
    """
    del total  # the producer ends the queue when the source ends
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(ASYNCIO_WORKERS)
    pending: asyncio.Queue[asyncio.Task[int] | None] = asyncio.Queue(2 * ASYNCIO_WORKERS)

    async def call(record: int) -> int:
        try:
            return await enrich(record)
        finally:
            slots.release()

    async def produce() -> None:
        async for record in source:
            await slots.acquire()
            await pending.put(asyncio.create_task(call(record)))
        await pending.put(None)

    async def consume() -> None:
        rows: list[int] = []
        deadline = 0.0
        while True:
            try:
                task = pending.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    timeout = max(0.0, deadline - loop.time()) if rows else None
                    task = await asyncio.wait_for(pending.get(), timeout)
                except TimeoutError:
                    write(rows)
                    rows = []
                    continue
            if task is None:
                break
            rows.append(await task)
            if len(rows) == 1:
                deadline = loop.time() + ASYNCIO_MAX_LATENCY
            if len(rows) == ASYNCIO_BATCH:
                write(rows)
                rows = []
        if rows:
            write(rows)

    async with asyncio.TaskGroup() as group:
        group.create_task(produce())
        group.create_task(consume())


def _package(name: str) -> None:
    """Raise ``Unavailable`` unless the package ``name`` can be imported."""
    if importlib.util.find_spec(name) is None:
        raise Unavailable(f"{name} is not installed (pip install rxstreamz[bench])")


def _streamz_map_async() -> None:
    """Raise ``Unavailable`` unless python-streamz has ``map_async`` (0.6.6 and later)."""
    _package("streamz")
    if not hasattr(importlib.import_module("streamz").Stream, "map_async"):
        raise Unavailable("streamz has no map_async (pip install 'streamz>=0.6.6')")


def _processors(*names: str) -> None:
    """Raise ``Unavailable`` unless every processor of ``names`` is installed."""
    for name in names:
        _processor(name)


def _nothing() -> None:
    """Require nothing (the hand-written pipeline)."""


def _asyncio_prepare(pipeline: Pipeline, gauge: Gauge, check: Callable[[], None]) -> Prepare:
    """Prepare runs of ``pipeline`` in a new event loop, over ``records(data)``.

    ``check`` raises ``Unavailable`` (at preparation) when something the
    pipeline needs is missing.
    """

    def prepare(data: list[int]) -> Run:
        check()
        return functools.partial(run_asyncio_pipeline, pipeline, data, gauge)

    return prepare


def run_asyncio_pipeline(pipeline: Pipeline, data: Sequence[int], gauge: Gauge) -> list[Any]:
    """Run ``pipeline`` over ``records(data, gauge)`` in a new event loop.

    Returns:
        The batches written, in order (each counted in ``gauge``).
    """
    out: list[Any] = []

    def write(rows: Sequence[int]) -> None:
        out.append(rows)
        gauge.write(len(rows))

    gauge.start()
    asyncio.run(pipeline(records(data, gauge), write, len(data)))
    return out


def asyncio_cases() -> list[Case]:
    """Return the case of the ``asyncio`` table (fresh gauges on every call).

    One pipeline, as an asyncio service runs it: ``records`` (bursts of
    ``ASYNCIO_BURST`` with ``ASYNCIO_BURST_GAP`` between them), ``enrich`` on
    ``ASYNCIO_WORKERS`` concurrent calls with the output in input order, then
    batches of ``ASYNCIO_BATCH`` to a sink, all on one event loop (a new one
    per run, ``asyncio.run``).
    """
    gauges: dict[Impl, Gauge] = {impl: Gauge() for impl in ASYNCIO_IMPLS}
    pipelines: dict[Impl, tuple[Pipeline, Callable[[], None]]] = {
        "rxstreamz": (
            rxstreamz_pipeline,
            functools.partial(_processors, "from_async_iterable", "async_map", "batch"),
        ),
        "aiostream": (aiostream_pipeline, functools.partial(_package, "aiostream")),
        "streamz": (streamz_pipeline, _streamz_map_async),
        "plain": (plain_pipeline, _nothing),
    }
    calls = f"{ASYNCIO_WORKERS} calls of {ASYNCIO_LATENCY * 1e3:g} ms at once"
    return [
        Case(
            "asyncio",
            f"async source, enrich x{ASYNCIO_WORKERS}, batch({ASYNCIO_BATCH})",
            {
                impl: _asyncio_prepare(pipeline, gauges[impl], check)
                for impl, (pipeline, check) in pipelines.items()
            },
            divisor=ASYNCIO_DIVISOR,
            notes={
                "rxstreamz": f"from_async_iterable, async_map(workers={ASYNCIO_WORKERS}), "
                f"batch({ASYNCIO_BATCH}, max_latency={ASYNCIO_MAX_LATENCY:g})",
                "aiostream": f"map(task_limit={ASYNCIO_WORKERS}), chunks({ASYNCIO_BATCH}): "
                "no time bound on a batch",
                "streamz": f"await emit, map_async(parallelism={ASYNCIO_WORKERS - 1}: {calls}), "
                f"partition({ASYNCIO_BATCH}, timeout={ASYNCIO_MAX_LATENCY:g})",
                "plain": f"Semaphore({ASYNCIO_WORKERS}) + TaskGroup, tasks awaited in order, "
                "hand-written timed batches",
            },
            ideal=ASYNCIO_IDEAL,
            gauges=gauges,
        )
    ]


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
    impls = tuple(case.impls)
    data: dict[Impl, list[int]] = {}
    missing: dict[Impl, str] = {}
    best: dict[Impl, float] = {}
    for impl in impls:
        data[impl] = list(range(1, case.items_for(impl, items) + 1))
        try:
            warm_up = case.impls[impl](data[impl][:WARMUP_ITEMS])
        except Unavailable as exc:
            missing[impl] = str(exc)
            continue
        warm_up()
        best[impl] = float("inf")
    for round_ in range(repeat):
        for impl in impls:
            label = f"{case.table}: {case.name} [{impl}]"
            if impl in missing:
                if round_ == 0:
                    tick(f"{label} not available")
                continue
            if round_ == 0:
                tick(f"{label} time")
            best[impl] = min(best[impl], _time(case.impls[impl](data[impl]), clock))
    rows: list[Row] = []
    for impl in impls:
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
        gauge = case.gauges.get(impl)
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
                ideal_ratio=None if case.ideal is None else count / seconds / case.ideal,
                read_ahead=None if gauge is None else gauge.most,
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


# -- dedupe_ and debounce_: RxPY's nearest operators scale badly ---------------------------
#
# ``distinct()`` keeps the keys it has seen in a list (quadratic in distinct keys) and
# ``debounce`` starts a timer per item, so their rows run at most a few thousand items.

DISTINCT_CAP = 4_000
"""RxPY's ``distinct()`` runs at most this many (all distinct) items: it is quadratic."""
DEBOUNCE_CAP = 2_000
"""RxPY's ``debounce`` runs at most this many items: it starts a timer thread per item."""
DEBOUNCE_SECONDS = 1.0
"""The quiet period of the debounce case; the synchronous burst never waits for it."""


def _loop_dedupe(data: list[int]) -> list[Any]:
    seen: set[int] = set()
    out: list[Any] = []
    for n in data:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def _loop_debounce(data: list[int]) -> list[Any]:
    """Keep the latest item and the time it came; emit it at the end of the burst."""
    clock = time.monotonic
    latest: tuple[int, float] | None = None
    for n in data:
        latest = (n, clock())
    return [] if latest is None else [latest[0]]


def _keyed_and_timed_cases() -> list[Case]:
    """Return the ``dedupe()`` and ``debounce_`` rows of the ``processor`` table."""
    return [
        Case(
            "processor",
            "dedupe()",
            {
                "rxstreamz": _rxstreamz(lambda: [_processor("dedupe")()]),
                "rxpy": _rx(ops.distinct()),
                "plain": _plain(_loop_dedupe),
            },
            caps={"rxpy": DISTINCT_CAP},
            notes={
                "rxstreamz": "every item a new key",
                "rxpy": f"distinct(), quadratic: at most {DISTINCT_CAP:,} items",
                "plain": "a set and a loop",
            },
        ),
        Case(
            "processor",
            "debounce_(1.0) burst",
            {
                "rxstreamz": _rxstreamz(lambda: [_processor("debounce_")(DEBOUNCE_SECONDS)]),
                "rxpy": _rx(ops.debounce(DEBOUNCE_SECONDS)),
                "plain": _plain(_loop_debounce),
            },
            caps={"rxpy": DEBOUNCE_CAP},
            notes={
                "rxstreamz": "a synchronous burst: only the last item comes out",
                "rxpy": f"debounce(1.0), a timer per item: at most {DEBOUNCE_CAP:,} items",
                "plain": "the latest item and a clock reading per item",
            },
        ),
    ]
