"""Both exporters report exactly what flowed through buffer_ -> async_map -> circuit_breaker."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("opentelemetry.sdk.metrics")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import async_map, circuit_breaker, dropping_buffer
from rxstreamz.metrics._sources import GAUGES
from rxstreamz.metrics.otel import OpenTelemetryMetrics
from rxstreamz.metrics.prometheus import PrometheusMetrics
from tests.test_metrics_otel import points

Tracker = PrometheusMetrics | OpenTelemetryMetrics


def enrich(n: int) -> int:
    if n == 1:
        raise ValueError("no profile for 1")
    return n


def call(n: int) -> int:
    if n == 2:
        raise ConnectionError("service down")
    return n


@dataclass(frozen=True)
class Run:
    delivered: list[int]


def run_pipeline(tracker: Tracker) -> Run:
    """Push 0..9 into a 4-slot dropping buffer drained in virtual time.

    buffer: 0..3 queued, 4..9 dropped. async_map: 1 fails (skipped).
    circuit_breaker (min_requests=2): 0 succeeds, 2 fails -> open, 3 rejected.
    """
    scheduler = TestScheduler()
    source: Subject[int] = Subject()
    delivered: list[int] = []
    done = threading.Event()
    source.pipe(
        tracker.track(dropping_buffer(4, scheduler=scheduler, name="ingest")),
        tracker.track(async_map(enrich, workers=2, errors="skip", name="enrich")),
        tracker.track(
            circuit_breaker(
                call, min_requests=2, recovery_timeout=3600, errors="skip", name="breaker"
            )
        ),
    ).subscribe(delivered.append, lambda _: done.set(), done.set)
    for n in range(10):
        source.on_next(n)
    source.on_completed()
    scheduler.start()
    assert done.wait(30)
    return Run(delivered)


EXPECTED: dict[tuple[str, str], float] = {
    ("received", "ingest"): 10,
    ("delivered", "ingest"): 4,
    ("dropped", "ingest"): 6,
    ("queued", "ingest"): 0,
    ("high_watermark", "ingest"): 4,
    ("submitted", "enrich"): 4,
    ("completed", "enrich"): 3,
    ("failed", "enrich"): 1,
    ("in_flight", "enrich"): 0,
    ("requests", "breaker"): 2,
    ("successes", "breaker"): 1,
    ("failures", "breaker"): 1,
    ("consecutive_failures", "breaker"): 1,
    ("rejected", "breaker"): 1,
}
"""Fields whose names stay when the processors gain the common fields."""


def test_prometheus_counts_match_the_pipeline() -> None:
    registry = CollectorRegistry()
    run = run_pipeline(PrometheusMetrics(registry=registry))
    assert run.delivered == [0]

    def sample(metric: str, processor: str, **labels: str) -> float | None:
        return registry.get_sample_value(metric, {"processor": processor, **labels})

    for (key, processor), value in EXPECTED.items():
        name = f"rxstreamz_{key}" if key in GAUGES else f"rxstreamz_{key}_total"
        assert sample(name, processor) == value, (key, processor)
    assert sample("rxstreamz_circuit_state", "breaker", state="open") == 1
    assert sample("rxstreamz_circuit_state", "breaker", state="closed") == 0


def test_opentelemetry_counts_match_the_pipeline() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        run = run_pipeline(OpenTelemetryMetrics(provider.get_meter("pipeline-test")))
        got = points(reader)  # asserts that the reader holds data
    finally:
        provider.shutdown()
    assert run.delivered == [0]

    def attrs(**pairs: str) -> frozenset[tuple[str, str]]:
        return frozenset(pairs.items())

    for (key, processor), value in EXPECTED.items():
        assert got[(f"rxstreamz.{key}", attrs(processor=processor))] == value, (key, processor)
    assert got[("rxstreamz.circuit_state", attrs(processor="breaker", state="open"))] == 1
