"""Static proof (pyright and mypy strict) of what an ``Operator`` offers; also run by pytest."""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_type

import pytest
import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops

from rxstreamz import (
    AggregateStats,
    AsyncMapStats,
    BreakerOperator,
    CircuitBreakerOperatorStats,
    CircuitState,
    DeadLetter,
    DeadLetterStats,
    DedupeStats,
    FilterStats,
    Operator,
    PartitionStats,
    RetryStats,
    RouterStats,
    SessionWindowStats,
    SplitStats,
    SwitchStats,
    TransformStats,
    aggregate,
    async_map,
    circuit_breaker,
    collect,
    dead_letter,
    dedupe,
    filter_,
    map_,
    partition_,
    retry_,
    router,
    session_window,
    split,
    switch,
    tap_,
)


def is_even(n: int) -> bool:
    return n % 2 == 0


def label(n: int) -> str:
    return f"#{n}"


def add(total: int, n: int) -> int:
    return total + n


def lost(_letter: DeadLetter[int]) -> None:
    return None


def test_stats_keep_their_record_type() -> None:
    assert_type(filter_(is_even).stats(), FilterStats)
    assert_type(map_(label).stats(), TransformStats)
    assert_type(tap_(print).stats(), TransformStats)
    assert_type(dedupe(label).stats(), DedupeStats)
    assert_type(session_window(1.0, key=label).stats(), SessionWindowStats)
    assert_type(aggregate(add, 0).stats(), AggregateStats)
    assert_type(async_map(label).stats(), AsyncMapStats)
    assert_type(retry_(label).stats(), RetryStats)
    assert_type(dead_letter(label, sink=lost).stats(), DeadLetterStats)
    assert_type(partition_(label).stats(), PartitionStats)
    assert_type(split(is_even).stats(), SplitStats)
    assert_type(router({"even": is_even}).stats(), RouterStats)
    assert_type(switch([(is_even, ops.map(label))]).stats(), SwitchStats)


def test_circuit_breaker_keeps_its_state() -> None:
    breaker = circuit_breaker(label)
    assert_type(breaker, BreakerOperator[int, str])
    assert_type(breaker.state, CircuitState)
    assert_type(breaker.stats(), CircuitBreakerOperatorStats)
    assert breaker.state == "closed"


def test_the_declared_type_names_input_output_and_stats() -> None:
    assert_type(filter_(is_even), Operator[int, Observable[int], FilterStats])
    assert_type(map_(label), Operator[int, Observable[str], TransformStats])
    assert_type(split(is_even), Operator[int, tuple[Observable[int], Observable[int]], SplitStats])


def test_an_operator_is_an_rxpy_operator() -> None:
    as_rxpy: Callable[[Observable[int]], Observable[str]] = map_(label)
    assert collect(rx.of(1, 2).pipe(as_rxpy)) == ["#1", "#2"]


def test_a_declared_operator_types_a_lambda_outside_pipe() -> None:
    evens: Operator[int, Observable[int], FilterStats] = filter_(lambda n: n % 2 == 0)
    halves: Operator[int, Observable[float], TransformStats] = map_(lambda n: n / 2)
    source: Observable[int] = rx.of(1, 2, 3, 4)
    out = source.pipe(evens, halves)
    assert_type(out, Observable[float])
    assert collect(out) == [1.0, 2.0]
    assert_type(evens.stats(), FilterStats)


def test_a_metrics_exporter_tracks_an_operator_in_place() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry

    from rxstreamz.metrics.prometheus import PrometheusMetrics

    metrics = PrometheusMetrics(registry=CollectorRegistry())
    evens = metrics.track(filter_(is_even, name="evens"))
    assert_type(evens, Operator[int, Observable[int], FilterStats])
    source: Observable[int] = rx.of(1, 2, 3)
    assert collect(source.pipe(evens)) == [2]
