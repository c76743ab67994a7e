"""Static proof (pyright and mypy strict) that every family's operators type-check in pipe()."""

from __future__ import annotations

from typing import assert_type

import reactivex as rx
from reactivex import Observable

import rxstreamz as rz


def label(n: int) -> str:
    return f"#{n}"


async def label_later(n: int) -> str:
    return f"#{n}"


def report(_stats: rz.StreamStats) -> None:
    return None


def lost(_letter: rz.DeadLetter[int]) -> None:
    return None


def test_time_and_size() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(rz.batch(10)), Observable[list[int]])
    assert_type(source.pipe(rz.debounce_(0.1)), Observable[int])
    assert_type(source.pipe(rz.throttle(100.0)), Observable[int])
    assert_type(source.pipe(rz.dedupe()), Observable[int])
    assert_type(source.pipe(rz.dedupe(label, ttl=5.0)), Observable[int])
    assert_type(source.pipe(rz.monitor(1.0, report)), Observable[int])
    assert rz.collect(source.pipe(rz.batch(2))) == [[1, 2], [3]]


def test_windows_and_aggregate() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(rz.tumbling_window(1.0)), Observable[rz.Window[int]])
    assert_type(source.pipe(rz.sliding_window(2.0, 1.0)), Observable[rz.Window[int]])
    assert_type(source.pipe(rz.session_window(1.0)), Observable[rz.Window[int]])
    assert_type(source.pipe(rz.aggregate(rz.folds.mean())), Observable[rz.AggregateWindow[float]])
    assert_type(source.pipe(rz.aggregate(rz.folds.count())), Observable[rz.AggregateWindow[int]])


def test_buffers_keep_the_item_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(rz.buffer_(10)), Observable[int])
    assert_type(source.pipe(rz.dropping_buffer(10)), Observable[int])
    assert_type(source.pipe(rz.sliding_buffer(10)), Observable[int])


def test_concurrency_and_resilience_map_the_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(rz.async_map(label)), Observable[str])
    assert_type(source.pipe(rz.async_map(label_later)), Observable[str])
    assert_type(source.pipe(rz.retry_(label)), Observable[str])
    assert_type(source.pipe(rz.retry_(label_later)), Observable[str])
    assert_type(source.pipe(rz.circuit_breaker(label)), Observable[str])
    assert_type(source.pipe(rz.dead_letter(label, sink=lost)), Observable[str])
    assert_type(source.pipe(rz.batch(2), rz.async_map(len)), Observable[int])


def test_a_pass_through_kept_for_its_stats_is_declared_with_its_item_type() -> None:
    paced: rz.Operator[int, Observable[int], rz.ThrottleStats] = rz.throttle(1e6)
    once: rz.Operator[int, Observable[int], rz.DedupeStats] = rz.dedupe()
    minutes: rz.Operator[int, Observable[rz.Window[int]], rz.TimeWindowStats]
    minutes = rz.tumbling_window(60.0)
    source: Observable[int] = rx.of(1, 1, 2)
    assert_type(source.pipe(paced, once), Observable[int])
    assert_type(source.pipe(minutes), Observable[rz.Window[int]])
    assert rz.collect(source.pipe(paced, once)) == [1, 2]
    assert_type(once.stats(), rz.DedupeStats)
