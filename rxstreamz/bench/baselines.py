"""The user functions every implementation calls, and the plain-Python baselines.

A case runs the same user functions (``positive``, ``double``, ``total``...)
in rxstreamz, in RxPY and in a plain loop, so the difference between rows is
the plumbing. The loops here are what a user would write by hand; the
pytest-benchmark suites of ``benchmarks/`` run the same ones.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = [
    "IO_SECONDS",
    "LOOP_CHAINS",
    "STAGES",
    "Loop",
    "batches",
    "breaker_loop",
    "double",
    "guarded_loop",
    "io_double",
    "loop_batch",
    "loop_batch_total",
    "loop_chunked",
    "loop_complex",
    "loop_debounce",
    "loop_dedupe",
    "loop_filter",
    "loop_filter_map",
    "loop_map",
    "plain_buffer",
    "pool_map",
    "positive",
    "retry_loop",
    "throttle_loop",
    "total",
    "tumbling_windows",
]

Loop = Callable[[list[int]], list[Any]]
"""A plain baseline: runs over the data and returns the output as a list."""

IO_SECONDS = 0.0001
"""The simulated I/O call of the concurrent cases (``time.sleep``)."""


# -- the user functions ------------------------------------------------------------------


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


# -- the plain loops ---------------------------------------------------------------------


def loop_filter(data: list[int]) -> list[Any]:
    """``filter_(positive)`` as a loop."""
    out: list[Any] = []
    append = out.append
    for n in data:
        if positive(n):
            append(n)
    return out


def loop_map(data: list[int]) -> list[Any]:
    """``map_(double)`` as a loop."""
    out: list[Any] = []
    append = out.append
    for n in data:
        append(double(n))
    return out


def loop_filter_map(data: list[int]) -> list[Any]:
    """``filter_(positive)``, ``map_(double)`` as one loop."""
    out: list[Any] = []
    append = out.append
    for n in data:
        if positive(n):
            append(double(n))
    return out


def batches(items: Iterable[int], size: int) -> Iterator[list[int]]:
    """Yield lists of ``size`` items and a partial last one (the plain batcher)."""
    current: list[int] = []
    for n in items:
        current.append(n)
        if len(current) == size:
            yield current
            current = []
    if current:
        yield current


def loop_batch(data: list[int]) -> list[Any]:
    """``batch(100)`` as a generator of lists."""
    return list(batches(data, 100))


def loop_batch_total(data: list[int]) -> list[Any]:
    """``batch(100)``, ``map_(total)``."""
    return [total(b) for b in batches(data, 100)]


def loop_complex(data: list[int]) -> list[Any]:
    """Filter, map, ``batch(100)``, sum per batch: a generator and the batcher."""
    return [total(b) for b in batches((double(n) for n in data if positive(n)), 100)]


def loop_chunked(data: list[int]) -> list[Any]:
    """Filter, map, ``chunk(100)``, sum per chunk, written as one loop."""
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


def _chain_1(data: list[int]) -> list[Any]:
    f0 = STAGES[0]
    return [n for n in data if f0(n)]


def _chain_2(data: list[int]) -> list[Any]:
    f0, f1 = STAGES[:2]
    return [f1(n) for n in data if f0(n)]


def _chain_4(data: list[int]) -> list[Any]:
    f0, f1, f2, f3 = STAGES[:4]
    return [f3(x) for n in data if f0(n) and f2(x := f1(n))]


def _chain_6(data: list[int]) -> list[Any]:
    f0, f1, f2, f3, f4, f5 = STAGES
    return [f5(y) for n in data if f0(n) and f2(x := f1(n)) and f4(y := f3(x))]


LOOP_CHAINS: dict[int, Loop] = {1: _chain_1, 2: _chain_2, 4: _chain_4, 6: _chain_6}
"""The first ``k`` ``STAGES`` as the one loop (a comprehension) a user would write, by ``k``."""


def pool_map(fn: Callable[[int], int], workers: int) -> Loop:
    """Return a loop calling ``fn`` on a ``ThreadPoolExecutor(workers)`` (``map``)."""

    def loop(data: list[int]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, data))

    return loop


def plain_buffer(data: list[int]) -> list[Any]:
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


def loop_dedupe(data: list[int]) -> list[Any]:
    """``dedupe()`` as a set and a loop."""
    seen: set[int] = set()
    out: list[Any] = []
    for n in data:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def loop_debounce(data: list[int]) -> list[Any]:
    """Keep the latest item and the time it came; emit it at the end of the burst."""
    clock = time.monotonic
    latest: tuple[int, float] | None = None
    for n in data:
        latest = (n, clock())
    return [] if latest is None else [latest[0]]


# -- resilience, pacing and windows: loops around a user function -------------------------


def retry_loop(fn: Callable[[int], Any], attempts: int = 3) -> Loop:
    """Return a loop retrying each call of ``fn`` up to ``attempts`` times (``retry_``)."""

    def loop(data: list[int]) -> list[Any]:
        out: list[Any] = []
        append = out.append
        for n in data:
            for attempt in range(attempts):
                try:
                    append(fn(n))
                except Exception:
                    if attempt == attempts - 1:
                        raise
                else:
                    break
        return out

    return loop


def guarded_loop(fn: Callable[[int], Any]) -> Loop:
    """Return a loop with a ``try``/``except`` per call, failures set aside (``dead_letter``)."""

    def loop(data: list[int]) -> list[Any]:
        out: list[Any] = []
        letters: list[tuple[int, Exception]] = []
        append = out.append
        for n in data:
            try:
                append(fn(n))
            except Exception as exc:
                letters.append((n, exc))
        return out

    return loop


def breaker_loop(fn: Callable[[int], Any], threshold: int = 5) -> Loop:
    """Return a loop counting failures in a row, giving up at ``threshold`` of them."""

    def loop(data: list[int]) -> list[Any]:
        out: list[Any] = []
        append = out.append
        failures = 0
        for n in data:
            try:
                append(fn(n))
            except Exception:
                failures += 1
                if failures >= threshold:
                    raise
            else:
                failures = 0
        return out

    return loop


def throttle_loop(rate: float, burst: int) -> Loop:
    """Return a loop taking a token per item from a bucket of ``burst`` refilled at ``rate``/s."""

    def loop(data: list[int]) -> list[Any]:
        clock = time.monotonic
        out: list[Any] = []
        append = out.append
        tokens, last = float(burst), clock()
        for n in data:
            now = clock()
            tokens = min(burst, tokens + (now - last) * rate)
            last = now
            if tokens < 1:
                time.sleep((1 - tokens) / rate)
                tokens, last = 1.0, clock()
            tokens -= 1
            append(n)
        return out

    return loop


def tumbling_windows(items: Iterable[int], size: float) -> list[list[int]]:
    """Read ``time.time()`` per item; start a new list when it enters a new ``size`` window."""
    windows: list[list[int]] = []
    current: list[int] = []
    index = None
    for n in items:
        k = time.time() // size
        if k != index:
            if current:
                windows.append(current)
            current, index = [], k
        current.append(n)
    if current:
        windows.append(current)
    return windows
