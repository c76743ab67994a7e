"""The ``asyncio`` table: one pipeline on one event loop, beside its rivals and its ceiling.

The pipeline an asyncio service runs: ``records`` yields records in bursts
of ``ASYNCIO_BURST`` with ``ASYNCIO_BURST_GAP`` between them (a peak rate
well above what the pipeline can take, so the source is never the limit),
``enrich`` awaits ``asyncio.sleep(ASYNCIO_LATENCY)`` on ``ASYNCIO_WORKERS``
concurrent calls with the output in input order, then batches of
``ASYNCIO_BATCH`` go to a sink on the loop's thread, all on one event loop
(a new one per run, ``asyncio.run``). It runs as:

* ``rxstreamz``: ``from_async_iterable``, ``async_map``, ``batch``;
* ``aiostream``: ``stream.iterate | pipe.map(task_limit=...) | pipe.chunks``;
* ``streamz`` (python-streamz): ``await emit`` into ``map_async`` and
  ``partition(timeout=...)``;
* ``plain``: hand-written asyncio (a semaphore, tasks awaited in order,
  timed batches);
* ``ceiling``: no pipeline at all, ``ASYNCIO_WORKERS`` tasks that only
  await ``enrich`` on the same records, with no source pacing and no
  batching: the most this loop attains on this machine.

Every row reports its items/s over the nominal ``ASYNCIO_IDEAL``
(``workers / latency``, Little's law) and over the ceiling measured in the
same run: the event loop's sleep overshoots, so even the ceiling stays below
the nominal rate, and the gap between a pipeline and the ceiling is what the
pipeline costs.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, cast

from reactivex import Observable
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxstreamz.bench.model import Case, Gauge, Impl, Prepare, Run, Unavailable, processor

if TYPE_CHECKING:  # an optional extra: imported where it runs, inside aiostream_pipeline
    from aiostream.stream.combine import MapCallable

__all__ = [
    "ASYNCIO_DIVISOR",
    "ASYNCIO_IDEAL",
    "ASYNCIO_IMPLS",
    "ASYNCIO_RIVALS",
    "Pipeline",
    "aiostream_pipeline",
    "asyncio_cases",
    "plain_pipeline",
    "run_asyncio_pipeline",
    "run_ceiling",
    "rxstreamz_pipeline",
    "streamz_pipeline",
]

ASYNCIO_IMPLS: tuple[Impl, ...] = ("rxstreamz", "aiostream", "streamz", "plain", "ceiling")
"""The implementations of the ``asyncio`` table, in report order."""
ASYNCIO_RIVALS: tuple[Impl, ...] = ("aiostream", "streamz", "plain")
"""The pipelines rxstreamz is compared with (speed-ups); the ceiling is not one."""
ASYNCIO_WORKERS = 8
"""Calls of ``enrich`` in flight at once, in every implementation."""
ASYNCIO_LATENCY = 0.005
"""What each ``enrich`` call awaits (``asyncio.sleep``): a network call, say.

Long enough that the loop's own overshoot on each sleep (a fraction of a
millisecond) is a small share of it."""
ASYNCIO_IDEAL = ASYNCIO_WORKERS / ASYNCIO_LATENCY
"""Items per second with every worker always waiting on a call (Little's law)."""
ASYNCIO_BATCH = 50
"""The batch size of the sink."""
ASYNCIO_MAX_LATENCY = 0.2
"""The longest a batch waits for more items, where the implementation has a bound."""
ASYNCIO_BURST = 50
"""The source yields its records in bursts of this many ..."""
ASYNCIO_BURST_GAP = 0.01
"""... with this pause between bursts (a peak rate well above ``ASYNCIO_IDEAL``)."""
ASYNCIO_DIVISOR = 50
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
    from_async_iterable = processor("from_async_iterable")
    async_map = processor("async_map")
    batch = processor("batch")
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


async def _ceiling(data: Sequence[int], gauge: Gauge) -> list[int]:
    """Await ``enrich`` on every record from ``ASYNCIO_WORKERS`` tasks; return the results."""
    out = [0] * len(data)
    todo = enumerate(data)

    async def worker() -> None:
        for index, record in todo:
            gauge.pull()
            out[index] = await enrich(record)
            gauge.write(1)

    async with asyncio.TaskGroup() as group:
        for _ in range(ASYNCIO_WORKERS):
            group.create_task(worker())
    return out


def run_ceiling(data: Sequence[int], gauge: Gauge) -> list[Any]:
    """Run the ceiling over ``data`` in a new event loop.

    Returns:
        The results in input order, as one batch.
    """
    gauge.start()
    return [asyncio.run(_ceiling(data, gauge))]


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


Runner = Callable[[Sequence[int], Gauge], list[Any]]
"""Runs one implementation over the data in a new event loop, reporting to the gauge."""


def _prepare(runner: Runner, gauge: Gauge, check: Callable[[], None]) -> Prepare:
    """Prepare runs of ``runner``; ``check`` raises ``Unavailable`` when something is missing."""

    def prepare(data: list[int]) -> Run:
        check()
        return functools.partial(runner, data, gauge)

    return prepare


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
        processor(name)


def _nothing() -> None:
    """Require nothing (the hand-written pipeline and the ceiling)."""


def _notes() -> dict[Impl, str]:
    calls = f"{ASYNCIO_WORKERS} calls of {ASYNCIO_LATENCY * 1e3:g} ms at once"
    return {
        "rxstreamz": f"from_async_iterable, async_map(workers={ASYNCIO_WORKERS}), "
        f"batch({ASYNCIO_BATCH}, max_latency={ASYNCIO_MAX_LATENCY:g})",
        "aiostream": f"map(task_limit={ASYNCIO_WORKERS}), chunks({ASYNCIO_BATCH}): "
        "no time bound on a batch",
        "streamz": f"await emit, map_async(parallelism={ASYNCIO_WORKERS - 1}: {calls}), "
        f"partition({ASYNCIO_BATCH}, timeout={ASYNCIO_MAX_LATENCY:g})",
        "plain": f"Semaphore({ASYNCIO_WORKERS}) + TaskGroup, tasks awaited in order, "
        "hand-written timed batches",
        "ceiling": f"{ASYNCIO_WORKERS} tasks awaiting enrich only: no source pacing, "
        "no pipeline, no batches",
    }


def asyncio_cases() -> list[Case]:
    """Return the case of the ``asyncio`` table (fresh gauges on every call)."""
    gauges: dict[Impl, Gauge] = {impl: Gauge() for impl in ASYNCIO_IMPLS}
    runners: dict[Impl, tuple[Runner, Callable[[], None]]] = {
        "rxstreamz": (
            functools.partial(run_asyncio_pipeline, rxstreamz_pipeline),
            functools.partial(_processors, "from_async_iterable", "async_map", "batch"),
        ),
        "aiostream": (
            functools.partial(run_asyncio_pipeline, aiostream_pipeline),
            functools.partial(_package, "aiostream"),
        ),
        "streamz": (functools.partial(run_asyncio_pipeline, streamz_pipeline), _streamz_map_async),
        "plain": (functools.partial(run_asyncio_pipeline, plain_pipeline), _nothing),
        "ceiling": (run_ceiling, _nothing),
    }
    return [
        Case(
            "asyncio",
            f"async source, enrich x{ASYNCIO_WORKERS}, batch({ASYNCIO_BATCH})",
            {
                impl: _prepare(runner, gauges[impl], check)
                for impl, (runner, check) in runners.items()
            },
            divisor=ASYNCIO_DIVISOR,
            notes=_notes(),
            ideal=ASYNCIO_IDEAL,
            ceiling="ceiling",
            gauges=gauges,
        )
    ]
