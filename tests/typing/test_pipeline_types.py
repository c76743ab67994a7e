"""Static proof (pyright and mypy strict) that every family's operators type-check in pipe()."""

from __future__ import annotations

from typing import assert_type

import reactivex as rx
from reactivex import Observable

from rxstreamz import (
    AggregateWindow,
    DeadLetter,
    StreamStats,
    Window,
    aggregate,
    async_map,
    batch,
    buffer_,
    circuit_breaker,
    collect,
    dead_letter,
    debounce_,
    dedupe,
    dropping_buffer,
    folds,
    monitor,
    retry_,
    session_window,
    sliding_buffer,
    sliding_window,
    throttle,
    tumbling_window,
)


def label(n: int) -> str:
    return f"#{n}"


async def label_later(n: int) -> str:
    return f"#{n}"


def report(_stats: StreamStats) -> None:
    return None


def lost(_letter: DeadLetter[int]) -> None:
    return None


def test_time_and_size() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(batch(10)), Observable[list[int]])
    assert_type(source.pipe(debounce_(0.1)), Observable[int])
    assert_type(source.pipe(throttle(100.0)), Observable[int])
    assert_type(source.pipe(dedupe()), Observable[int])
    assert_type(source.pipe(dedupe(label, ttl=5.0)), Observable[int])
    assert_type(source.pipe(monitor(1.0, report)), Observable[int])
    assert collect(source.pipe(batch(2))) == [[1, 2], [3]]


def test_windows_and_aggregate() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(tumbling_window(1.0)), Observable[Window[int]])
    assert_type(source.pipe(sliding_window(2.0, 1.0)), Observable[Window[int]])
    assert_type(source.pipe(session_window(1.0)), Observable[Window[int]])
    assert_type(source.pipe(aggregate(folds.mean())), Observable[AggregateWindow[float]])
    assert_type(source.pipe(aggregate(folds.count())), Observable[AggregateWindow[int]])


def test_buffers_keep_the_item_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(buffer_(10)), Observable[int])
    assert_type(source.pipe(dropping_buffer(10)), Observable[int])
    assert_type(source.pipe(sliding_buffer(10)), Observable[int])


def test_concurrency_and_resilience_map_the_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(async_map(label)), Observable[str])
    assert_type(source.pipe(async_map(label_later)), Observable[str])
    assert_type(source.pipe(retry_(label)), Observable[str])
    assert_type(source.pipe(retry_(label_later)), Observable[str])
    assert_type(source.pipe(circuit_breaker(label)), Observable[str])
    assert_type(source.pipe(dead_letter(label, sink=lost)), Observable[str])
    assert_type(source.pipe(batch(2), async_map(len)), Observable[int])
