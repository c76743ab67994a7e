"""The cases of ``rxstreamz bench``: one builder per table.

Four tables are measured by default:

* ``processor``: the cost of one processor per item (ns, bytes and memory
  blocks per item) for ``filter_``, ``map_``, ``async_map`` with 1 and 10
  workers, ``batch(100)``, ``buffer_(1000)``, ``dedupe()`` and ``debounce_``
  on a synchronous burst (RxPY's ``distinct()`` and ``debounce`` run at most a
  few thousand items there: one is quadratic, the other starts a timer per item),
  then ``circuit_breaker``, ``retry_`` and ``dead_letter`` on the success path
  (beside ``ops.map``), ``throttle`` with a token always there (RxPY has no
  pacing operator: not measured) and ``tumbling_window`` on a burst;
* ``throughput``: items per second and peak memory of whole pipelines (among
  them ``TIMED``, the fused run holding a ``batch`` with ``max_latency``, and
  ``CHUNKED``, a fused run holding a ``chunk``);
* ``fusion``: a chain of 1, 2, 4 and 6 ``filter_``/``map_`` stages, where the
  gain of fusion shows as the chain grows;
* ``asyncio``: one pipeline on one event loop, see ``asyncio_cases``.

Two more are measured only when asked for (``--table``), for the charts of
the performance guide:

* ``growth``: ``buffer_(1000)`` beside ``observe_on`` (unbounded) and a
  ``queue.Queue(1000)`` at a tenth, a quarter, half and all of the items, so
  time and peak memory show how each grows with the stream;
* ``workers``: ``async_map`` on a call that waits ``IO_SECONDS``, with 1, 2,
  4, 8 and 16 workers.

The implementations are ``rxstreamz``, ``rxpy`` (the nearest composition of
``reactivex`` built-ins) and ``plain`` (a Python loop calling the same user
functions, see ``baselines``; ``ThreadPoolExecutor.map`` for the concurrent
cases, a ``queue.Queue`` and a consumer thread for the buffer). Processors
are looked up by name on the public ``rxstreamz`` package when a run is
prepared, so one missing from an installation is reported as not available
instead of failing the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler

from rxstreamz.bench.asyncio_cases import asyncio_cases
from rxstreamz.bench.baselines import (
    IO_SECONDS,
    LOOP_CHAINS,
    STAGES,
    Loop,
    breaker_loop,
    double,
    guarded_loop,
    io_double,
    loop_batch,
    loop_batch_total,
    loop_chunked,
    loop_complex,
    loop_debounce,
    loop_dedupe,
    loop_filter,
    loop_filter_map,
    loop_map,
    plain_buffer,
    pool_map,
    positive,
    retry_loop,
    throttle_loop,
    total,
    tumbling_windows,
)
from rxstreamz.bench.model import (
    IMPLS,
    TABLES,
    Case,
    Impl,
    Prepare,
    Run,
    Table,
    Unavailable,
    processor,
)

__all__ = [
    "ASYNC_DIVISOR",
    "BUILDERS",
    "CHUNKED",
    "GROWTH_DIVISORS",
    "IO_DIVISOR",
    "TIMED",
    "WORKER_COUNTS",
    "cases",
    "drain",
    "fusion_cases",
    "growth_cases",
    "processor_cases",
    "throughput_cases",
    "workers_cases",
]

ASYNC_DIVISOR = 50
"""The async cases run ``items // ASYNC_DIVISOR`` items: each costs a thread hand-off."""
IO_DIVISOR = 100
"""The simulated I/O cases run ``items // IO_DIVISOR`` items."""
OBSERVE_ON_CAP = 20_000
"""RxPY's ``observe_on`` queue is unbounded: past this size it only measures swapping."""
DISTINCT_CAP = 4_000
"""RxPY's ``distinct()`` runs at most this many (all distinct) items: it is quadratic."""
DEBOUNCE_CAP = 2_000
"""RxPY's ``debounce`` runs at most this many items: it starts a timer thread per item."""
DEBOUNCE_SECONDS = 1.0
"""The quiet period of the debounce case; the synchronous burst never waits for it."""
GROWTH_DIVISORS = (10, 4, 2, 1)
"""The ``growth`` table runs ``items // d`` items for each of these ``d``."""
WORKER_COUNTS = (1, 2, 4, 8, 16)
"""The ``workers`` table runs ``async_map`` with each of these worker counts."""
CHUNKED = "Fused chunk pipeline"
"""filter, map, chunk(100), sum per chunk: one fused run, the list filled inline."""
TIMED = "Complex pipeline, timed batch"
"""filter, map, batch(100, max_latency=1.0), sum per batch: the fused timed batch."""
BATCH_LATENCY = 1.0
"""The ``max_latency`` of the timed batch; a synchronous burst fills every batch first."""
THROTTLE_RATE = 1e9
THROTTLE_BURST = 1_000_000
"""``throttle``'s interval is whole microseconds (at most 1e6 items/s per bucket): a
bucket this deep never empties during a run, so the row measures the path that passes."""
WINDOW_SECONDS = 1.0
"""The length of the tumbling windows; a synchronous burst mostly falls in one."""
_WAIT_SECONDS = 600.0

Operator = Callable[[Any], Any]
Step = tuple[str, Any]
"""One stage of a chain: a name of ``_STEPS`` and its argument."""

_STEPS: dict[str, tuple[str, dict[str, Any], Callable[..., Operator]]] = {
    "filter": ("filter_", {}, ops.filter),
    "map": ("map_", {}, ops.map),
    "batch": ("batch", {}, ops.buffer_with_count),
    "timed batch": ("batch", {"max_latency": BATCH_LATENCY}, ops.buffer_with_count),
    "chunk": ("chunk", {}, ops.buffer_with_count),
}
"""Step name -> (the rxstreamz factory, its keyword options, RxPY's operator) that run it."""


# -- how each implementation is prepared -------------------------------------------------


def drain(observable: Observable[Any]) -> list[Any]:
    """Subscribe, wait for the end and return the items (re-raising an error)."""
    out: list[Any] = []
    done = threading.Event()
    failure: Exception | None = None

    def on_error(exc: Exception) -> None:
        nonlocal failure
        failure = exc
        done.set()

    subscription = observable.subscribe(out.append, on_error, done.set)
    completed = done.wait(_WAIT_SECONDS)
    subscription.dispose()
    if not completed:
        raise TimeoutError(f"benchmark pipeline did not complete within {_WAIT_SECONDS:g} s")
    if failure is not None:
        raise failure
    return out


def _pipe(build: Callable[[], Sequence[Operator]]) -> Prepare:
    """Prepare runs of ``from_iterable(data).pipe(*build())`` (``build`` may be unavailable)."""

    def prepare(data: list[int]) -> Run:
        operators = build()
        return lambda: drain(rx.from_iterable(data).pipe(*operators))

    return prepare


def _plain(loop: Loop) -> Prepare:
    """Prepare a run of ``loop(data)``."""
    return lambda data: lambda: loop(data)


def _rxpy_async(fn: Callable[[int], int], workers: int) -> Prepare:
    """RxPY's nearest composition: ``flat_map`` onto futures of a thread pool."""

    def prepare(data: list[int]) -> Run:
        def run() -> list[Any]:
            with ThreadPoolExecutor(max_workers=workers) as pool:

                def submit(n: int) -> Observable[int]:
                    return rx.from_future(pool.submit(fn, n))

                return drain(rx.from_iterable(data).pipe(ops.flat_map(submit)))

        return run

    return prepare


def _rxpy_observe_on(data: list[int]) -> Run:
    def run() -> list[Any]:
        loop = EventLoopScheduler(exit_if_empty=True)
        try:
            return drain(rx.from_iterable(data).pipe(ops.observe_on(loop)))
        finally:
            loop.dispose()

    return run


def _none(reason: str) -> Prepare:
    """An implementation that does not exist: its row is reported as not measured."""

    def prepare(data: list[int]) -> Run:
        del data
        raise Unavailable(reason)

    return prepare


def _notes(note: str) -> dict[Impl, str]:
    return dict.fromkeys(IMPLS, note) if note else {}


def _chain(
    table: Table, name: str, steps: Sequence[Step], loop: Loop, *, note: str = "", **options: Any
) -> Case:
    """A case run as the same chain of ``steps`` by rxstreamz and RxPY, and as ``loop``."""

    def mine() -> list[Operator]:
        return [processor(_STEPS[step][0])(arg, **_STEPS[step][1]) for step, arg in steps]

    theirs = [_STEPS[step][2](arg) for step, arg in steps]
    impls: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(mine),
        "rxpy": _pipe(lambda: theirs),
        "plain": _plain(loop),
    }
    return Case(table, name, impls, notes=_notes(note), **options)


def _async_map(
    table: Table, name: str, fn: Callable[[int], int], workers: int, **options: Any
) -> Case:
    """``async_map(fn, workers=...)`` beside ``flat_map`` onto a pool and ``pool.map``."""
    impls: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(lambda: [processor("async_map")(fn, workers=workers)]),
        "rxpy": _rxpy_async(fn, workers),
        "plain": _plain(pool_map(fn, workers)),
    }
    return Case(table, name, impls, **options)


def _buffer(table: Table, name: str, rxpy_note: str, **options: Any) -> Case:
    """``buffer_(1000)`` beside ``observe_on`` and a ``Queue(1000)`` with a consumer thread."""
    impls: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(lambda: [processor("buffer_")(1000)]),
        "rxpy": _rxpy_observe_on,
        "plain": _plain(plain_buffer),
    }
    notes: dict[Impl, str] = {
        "rxstreamz": "buffer_(1000)" if table == "growth" else "",
        "rxpy": rxpy_note,
        "plain": "queue.Queue(1000) + consumer thread",
    }
    return Case(table, name, impls, notes=notes, **options)


def _fusion_steps(stages: int) -> list[Step]:
    return [("filter" if i % 2 == 0 else "map", fn) for i, fn in enumerate(STAGES[:stages])]


# -- the tables --------------------------------------------------------------------------


def processor_cases() -> list[Case]:
    """Return the cases of the ``processor`` table: one processor each."""
    async_note = f"items / {ASYNC_DIVISOR} (a thread hand-off per item)"
    observe_on = f"observe_on(EventLoopScheduler()), unbounded: at most {OBSERVE_ON_CAP:,} items"
    return [
        _chain("processor", "filter_", [("filter", positive)], loop_filter),
        _chain("processor", "map_", [("map", double)], loop_map),
        *(
            _async_map(
                "processor",
                f"async_map(workers={workers})",
                double,
                workers,
                divisor=ASYNC_DIVISOR,
                notes=_notes(async_note),
            )
            for workers in (1, 10)
        ),
        _chain("processor", "batch(100)", [("batch", 100)], loop_batch),
        _buffer("processor", "buffer_(1000)", observe_on, caps={"rxpy": OBSERVE_ON_CAP}),
        *_keyed_and_timed_cases(),
        *_resilience_cases(),
        *_paced_and_windowed_cases(),
    ]


def _keyed_and_timed_cases() -> list[Case]:
    """Return ``dedupe()`` and ``debounce_``: RxPY's nearest operators scale badly.

    ``distinct()`` keeps the keys it has seen in a list (quadratic in distinct
    keys) and ``debounce`` starts a timer per item, so their rows run at most a
    few thousand items.
    """
    dedupe: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(lambda: [processor("dedupe")()]),
        "rxpy": _pipe(lambda: [ops.distinct()]),
        "plain": _plain(loop_dedupe),
    }
    debounce: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(lambda: [processor("debounce_")(DEBOUNCE_SECONDS)]),
        "rxpy": _pipe(lambda: [ops.debounce(DEBOUNCE_SECONDS)]),
        "plain": _plain(loop_debounce),
    }
    dedupe_notes: dict[Impl, str] = {
        "rxstreamz": "every item a new key",
        "rxpy": f"distinct(), quadratic: at most {DISTINCT_CAP:,} items",
        "plain": "a set and a loop",
    }
    debounce_notes: dict[Impl, str] = {
        "rxstreamz": "a synchronous burst: only the last item comes out",
        "rxpy": f"debounce(1.0), a timer per item: at most {DEBOUNCE_CAP:,} items",
        "plain": "the latest item and a clock reading per item",
    }
    return [
        Case("processor", "dedupe()", dedupe, caps={"rxpy": DISTINCT_CAP}, notes=dedupe_notes),
        Case(
            "processor",
            "debounce_(1.0) burst",
            debounce,
            caps={"rxpy": DEBOUNCE_CAP},
            notes=debounce_notes,
        ),
    ]


def _resilience_cases() -> list[Case]:
    """Return ``circuit_breaker``, ``retry_`` and ``dead_letter`` on the success path.

    Each calls ``double``, as the ``map_`` row does, so the difference between
    the rows is what the protection costs; RxPY's nearest per-item step is
    ``ops.map`` itself (``ops.retry`` resubscribes the whole source).
    """

    def guarded(name: str, build: Callable[[], Operator], loop: Loop, plain_note: str) -> Case:
        impls: dict[Impl, Prepare] = {
            "rxstreamz": _pipe(lambda: [build()]),
            "rxpy": _pipe(lambda: [ops.map(double)]),
            "plain": _plain(loop),
        }
        notes: dict[Impl, str] = {
            "rxstreamz": "success path, nothing fails",
            "rxpy": "ops.map(fn): no protection at all",
            "plain": plain_note,
        }
        return Case("processor", name, impls, notes=notes)

    def drop(letter: object) -> None:
        del letter

    return [
        guarded(
            "circuit_breaker(fn)",
            lambda: processor("circuit_breaker")(double),
            breaker_loop(double),
            "try/except and a failure counter",
        ),
        guarded(
            "retry_(fn)", lambda: processor("retry_")(double), retry_loop(double), "try/except"
        ),
        guarded(
            "dead_letter(fn)",
            lambda: processor("dead_letter")(double, sink=drop),
            guarded_loop(double),
            "try/except, failures set aside",
        ),
    ]


def _paced_and_windowed_cases() -> list[Case]:
    """Return ``throttle`` with a token always there and ``tumbling_window`` on a burst."""
    throttle: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(lambda: [processor("throttle")(THROTTLE_RATE, burst=THROTTLE_BURST)]),
        "rxpy": _none("RxPY has no pacing operator (throttle_first and sample drop items)"),
        "plain": _plain(throttle_loop(THROTTLE_RATE, THROTTLE_BURST)),
    }
    throttle_notes: dict[Impl, str] = {
        "rxstreamz": f"burst={THROTTLE_BURST:,}: never waits",
        "plain": "a token bucket checked per item",
    }
    window: dict[Impl, Prepare] = {
        "rxstreamz": _pipe(lambda: [processor("tumbling_window")(WINDOW_SECONDS)]),
        "rxpy": _pipe(lambda: [ops.buffer_with_time(WINDOW_SECONDS)]),
        "plain": _plain(lambda data: tumbling_windows(data, WINDOW_SECONDS)),
    }
    window_notes: dict[Impl, str] = {
        "rxstreamz": "a synchronous burst: a clock reading per item",
        "rxpy": "buffer_with_time(1.0): window_with_time, then a list per window",
        "plain": "time.time() per item, a list per window",
    }
    return [
        Case("processor", "throttle(1e9) full bucket", throttle, notes=throttle_notes),
        Case("processor", "tumbling_window(1.0) burst", window, notes=window_notes),
    ]


def throughput_cases() -> list[Case]:
    """Return the cases of the ``throughput`` table: whole pipelines."""
    filter_map: list[Step] = [("filter", positive), ("map", double)]
    io_note = f"items / {IO_DIVISOR}; each call sleeps {IO_SECONDS * 1e6:.0f} us"
    return [
        _chain("throughput", "Simple filter+map", filter_map, loop_filter_map),
        _chain(
            "throughput",
            "Batched processing",
            [("batch", 100), ("map", total)],
            loop_batch_total,
            note="batch(100) then sum per batch",
        ),
        _async_map(
            "throughput",
            "Async processing (10 workers)",
            io_double,
            10,
            divisor=IO_DIVISOR,
            notes=_notes(io_note),
        ),
        _chain(
            "throughput",
            "Complex pipeline",
            [*filter_map, ("batch", 100), ("map", total)],
            loop_complex,
            note="filter, map, batch(100), sum per batch",
        ),
        _chain(
            "throughput",
            TIMED,
            [*filter_map, ("timed batch", 100), ("map", total)],
            loop_complex,
            note="filter, map, batch(100, max_latency=1.0), sum per batch",
        ),
        _chain(
            "throughput",
            CHUNKED,
            [*filter_map, ("chunk", 100), ("map", total)],
            loop_chunked,
            note="chunk fused into the run",
        ),
    ]


def fusion_cases() -> list[Case]:
    """Return the cases of the ``fusion`` table: chains of 1, 2, 4 and 6 stages."""
    return [
        _chain(
            "fusion",
            f"{stages} stage{'s' if stages > 1 else ''}",
            _fusion_steps(stages),
            LOOP_CHAINS[stages],
            memory=False,
        )
        for stages in LOOP_CHAINS
    ]


def growth_cases() -> list[Case]:
    """Return the cases of the ``growth`` table: ``buffer_`` as the stream grows."""
    observe_on = "observe_on(EventLoopScheduler()), unbounded"
    return [
        _buffer("growth", f"items / {divisor}", observe_on, divisor=divisor)
        for divisor in GROWTH_DIVISORS
    ]


def workers_cases() -> list[Case]:
    """Return the cases of the ``workers`` table: ``async_map`` on a waiting call."""
    io_note = f"items / {IO_DIVISOR}; each call sleeps {IO_SECONDS * 1e6:.0f} us"
    return [
        _async_map(
            "workers",
            f"workers={workers}",
            io_double,
            workers,
            divisor=IO_DIVISOR,
            notes=_notes(io_note),
            memory=False,
        )
        for workers in WORKER_COUNTS
    ]


BUILDERS: dict[Table, Callable[[], list[Case]]] = {
    "processor": processor_cases,
    "throughput": throughput_cases,
    "fusion": fusion_cases,
    "asyncio": asyncio_cases,
    "growth": growth_cases,
    "workers": workers_cases,
}
"""How the cases of each table are built."""


def cases(tables: Sequence[Table] = TABLES) -> list[Case]:
    """Return the cases of ``tables`` (default: every table), in report order."""
    return [case for table in TABLES if table in tables for case in BUILDERS[table]()]
