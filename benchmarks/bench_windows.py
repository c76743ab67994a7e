"""Windows and aggregate beside RxPY and plain loops: the per-item cost.

Run: ``pytest benchmarks/bench_windows.py --benchmark-enable``.

Every case pushes ``N`` items (default 1,000,000) through in well under the
window length (one hour), on the real clock, so no timer fires: the numbers
are the per-item bookkeeping (reading the clock, finding the window, folding)
plus the completion flush.

* ``tumbling``: ``tumbling_window(3600)`` beside RxPY
  ``buffer_with_time(3600)`` (``window_with_time`` + ``to_list``) and a loop
  that reads ``time.time()`` per item and appends to the current window.
* ``sliding``: ``sliding_window(3600, 1800)`` (every item in two windows)
  beside ``buffer_with_time(3600, 1800)`` and the same loop with two lists.
* ``session``: ``session_window(3600)``; RxPY has no session window, the loop
  reads the clock and appends.
* ``aggregate-total``: ``aggregate(add, 0)`` (one window at completion)
  beside ``ops.reduce(add, 0)`` and ``sum``-by-loop.
* ``aggregate-count``: ``aggregate(add, 0, count=1000)`` beside
  ``buffer_with_count(1000)`` + ``sum`` and a loop.
* ``aggregate-interval``: ``aggregate(add, 0, interval=3600)`` (reads the
  clock per item) beside ``window_with_time(3600)`` + ``reduce`` and a loop
  reading ``time.time()`` per item.

``N`` is read when a case runs (``RXSTREAMZ_BENCH_N`` overrides it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops

from rxstreamz import aggregate, collect, session_window, sliding_window, tumbling_window
from rxstreamz.bench.baselines import tumbling_windows

HOUR = 3600.0


def item_count() -> int:
    return int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))


def add(total: int, n: int) -> int:
    return total + n


def measure(benchmark: Any, group: str, run: Callable[[], object]) -> Any:
    benchmark.group = group
    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["items_per_s"] = round(item_count() / benchmark.stats.stats.min)
    return result


def source() -> Observable[int]:
    return rx.from_iterable(range(item_count()))


def window_sizes(windows: list[Any]) -> int:
    return sum(len(w.items) for w in windows)


# -- tumbling -----------------------------------------------------------------------------


def test_tumbling_rxstreamz(benchmark: Any) -> None:
    windows = measure(benchmark, "tumbling", lambda: collect(source().pipe(tumbling_window(HOUR))))
    assert window_sizes(windows) == item_count()


def test_tumbling_rxpy(benchmark: Any) -> None:
    buffers = measure(
        benchmark, "tumbling", lambda: collect(source().pipe(ops.buffer_with_time(HOUR)))
    )
    assert sum(len(b) for b in buffers) == item_count()


def test_tumbling_plain(benchmark: Any) -> None:
    windows = measure(benchmark, "tumbling", lambda: tumbling_windows(range(item_count()), HOUR))
    assert sum(len(w) for w in windows) == item_count()


# -- sliding ------------------------------------------------------------------------------


def test_sliding_rxstreamz(benchmark: Any) -> None:
    windows = measure(
        benchmark, "sliding", lambda: collect(source().pipe(sliding_window(HOUR, HOUR / 2)))
    )
    assert window_sizes(windows) == 2 * item_count()


def test_sliding_rxpy(benchmark: Any) -> None:
    buffers = measure(
        benchmark, "sliding", lambda: collect(source().pipe(ops.buffer_with_time(HOUR, HOUR / 2)))
    )
    # RxPY opens its windows at subscription, not on the epoch grid: one or two hold items.
    assert sum(len(b) for b in buffers) in (item_count(), 2 * item_count())


def plain_sliding(items: range, size: float, slide: float) -> list[list[int]]:
    done: list[list[int]] = []
    open_windows: dict[float, list[int]] = {}
    for n in items:
        t = time.time()
        done.extend(open_windows.pop(s) for s in [s for s in open_windows if s + size <= t])
        last = t // slide
        for k in (last - 1, last):
            start = k * slide
            if start + size > t:
                open_windows.setdefault(start, []).append(n)
    done.extend(open_windows.values())
    return done


def test_sliding_plain(benchmark: Any) -> None:
    windows = measure(
        benchmark, "sliding", lambda: plain_sliding(range(item_count()), HOUR, HOUR / 2)
    )
    assert sum(len(w) for w in windows) == 2 * item_count()


# -- session ------------------------------------------------------------------------------


def test_session_rxstreamz(benchmark: Any) -> None:
    windows = measure(benchmark, "session", lambda: collect(source().pipe(session_window(HOUR))))
    assert window_sizes(windows) == item_count()


def plain_session(items: range, gap: float) -> list[list[int]]:
    sessions: list[list[int]] = []
    current: list[int] = []
    last = -gap
    for n in items:
        t = time.time()
        if t - last >= gap and current:
            sessions.append(current)
            current = []
        current.append(n)
        last = t
    if current:
        sessions.append(current)
    return sessions


def test_session_plain(benchmark: Any) -> None:
    windows = measure(benchmark, "session", lambda: plain_session(range(item_count()), HOUR))
    assert sum(len(w) for w in windows) == item_count()


# -- aggregate ----------------------------------------------------------------------------


def expected_total() -> int:
    n = item_count()
    return n * (n - 1) // 2


def test_aggregate_total_rxstreamz(benchmark: Any) -> None:
    windows = measure(
        benchmark, "aggregate-total", lambda: collect(source().pipe(aggregate(add, 0)))
    )
    assert [w.result for w in windows] == [expected_total()]


def test_aggregate_total_rxpy(benchmark: Any) -> None:
    totals = measure(
        benchmark, "aggregate-total", lambda: collect(source().pipe(ops.reduce(add, 0)))
    )
    assert totals == [expected_total()]


def plain_total(items: range) -> int:
    total = 0
    for n in items:
        total = add(total, n)
    return total


def test_aggregate_total_plain(benchmark: Any) -> None:
    total = measure(benchmark, "aggregate-total", lambda: plain_total(range(item_count())))
    assert total == expected_total()


def test_aggregate_count_rxstreamz(benchmark: Any) -> None:
    windows = measure(
        benchmark,
        "aggregate-count",
        lambda: collect(source().pipe(aggregate(add, 0, count=1000))),
    )
    assert sum(w.result for w in windows) == expected_total()


def list_total(numbers: list[int]) -> int:
    return sum(numbers)


def test_aggregate_count_rxpy(benchmark: Any) -> None:
    totals = measure(
        benchmark,
        "aggregate-count",
        lambda: collect(source().pipe(ops.buffer_with_count(1000), ops.map(list_total))),
    )
    assert sum(totals) == expected_total()


def plain_counted(items: range, count: int) -> list[int]:
    totals: list[int] = []
    total = seen = 0
    for n in items:
        total = add(total, n)
        seen += 1
        if seen == count:
            totals.append(total)
            total = seen = 0
    if seen:
        totals.append(total)
    return totals


def test_aggregate_count_plain(benchmark: Any) -> None:
    totals = measure(benchmark, "aggregate-count", lambda: plain_counted(range(item_count()), 1000))
    assert sum(totals) == expected_total()


def test_aggregate_interval_rxstreamz(benchmark: Any) -> None:
    windows = measure(
        benchmark,
        "aggregate-interval",
        lambda: collect(source().pipe(aggregate(add, 0, interval=HOUR))),
    )
    assert sum(w.result for w in windows) == expected_total()


def window_total(window: Observable[int]) -> Observable[int]:
    return window.pipe(ops.reduce(add, 0))


def test_aggregate_interval_rxpy(benchmark: Any) -> None:
    totals = measure(
        benchmark,
        "aggregate-interval",
        lambda: collect(source().pipe(ops.window_with_time(HOUR), ops.flat_map(window_total))),
    )
    assert sum(totals) == expected_total()


def plain_interval(items: range, interval: float) -> list[int]:
    totals: list[int] = []
    total = 0
    deadline = time.time() + interval
    for n in items:
        if time.time() >= deadline:
            totals.append(total)
            total, deadline = 0, deadline + interval
        total = add(total, n)
    totals.append(total)
    return totals


def test_aggregate_interval_plain(benchmark: Any) -> None:
    totals = measure(
        benchmark, "aggregate-interval", lambda: plain_interval(range(item_count()), HOUR)
    )
    assert sum(totals) == expected_total()
