"""Prometheus exporter: counters, gauges and histograms from real pipelines."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

pytest.importorskip("prometheus_client")

import reactivex as rx
from prometheus_client import CollectorRegistry
from reactivex.testing import ReactiveTest, TestScheduler

from rxstreamz import StreamStats, collect, filter_, map_, sample_
from rxstreamz.metrics.prometheus import PrometheusMetrics

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed


def parse_int(text: str) -> int:
    return int(text)


@dataclass(frozen=True, slots=True)
class FakeStats:
    received: int
    delivered: int
    dropped: int
    queued: int
    in_flight: int
    state: str


class FakeProcessor:
    name = "fake"

    def __init__(self) -> None:
        self.current = FakeStats(0, 0, 0, 0, 0, "closed")

    def stats(self) -> FakeStats:
        return self.current


def value(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


def test_track_exports_stats_at_scrape_time() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    fake = metrics.track(FakeProcessor())
    fake.current = FakeStats(10, 7, 2, 1, 3, "half-open")
    assert value(registry, "rxstreamz_received_total", processor="fake") == 10
    assert value(registry, "rxstreamz_delivered_total", processor="fake") == 7
    assert value(registry, "rxstreamz_dropped_total", processor="fake") == 2
    assert value(registry, "rxstreamz_queue_depth", processor="fake") == 1
    assert value(registry, "rxstreamz_in_flight", processor="fake") == 3
    assert value(registry, "rxstreamz_circuit_state", processor="fake", state="half-open") == 1
    assert value(registry, "rxstreamz_circuit_state", processor="fake", state="open") == 0
    fake.current = FakeStats(12, 12, 2, 0, 0, "closed")
    assert value(registry, "rxstreamz_received_total", processor="fake") == 12
    assert value(registry, "rxstreamz_circuit_state", processor="fake", state="closed") == 1


def test_failed_and_dropped_items_of_a_pipeline() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    parse = metrics.track(map_(parse_int, errors="skip", name="parse"))
    thin = metrics.track(sample_(0.0, name="thin"))
    assert collect(rx.of("1", "x", "3", "y").pipe(parse)) == [1, 3]
    assert collect(rx.range(5).pipe(thin)) == []
    assert value(registry, "rxstreamz_failed_total", processor="parse") == 2
    assert value(registry, "rxstreamz_dropped_total", processor="thin") == 5
    assert value(registry, "rxstreamz_delivered_total", processor="thin") == 0


def test_instrument_counts_items_and_times_downstream(scheduler: TestScheduler) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry, buckets=(0.5, 1.0, 5.0))
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)
    )

    def slow_consumer(n: int) -> None:
        # Under virtual time, "work" is the clock moving while on_next runs.
        scheduler.sleep(float(n))

    def create() -> rx.Observable[int]:
        return source.pipe(metrics.instrument("sink"))

    create().subscribe(slow_consumer, scheduler=scheduler)
    scheduler.start()
    assert value(registry, "rxstreamz_items_total", processor="sink") == 3
    assert value(registry, "rxstreamz_latency_seconds_count", processor="sink") == 3
    assert value(registry, "rxstreamz_latency_seconds_sum", processor="sink") == 6
    assert value(registry, "rxstreamz_latency_seconds_bucket", processor="sink", le="1.0") == 1
    assert value(registry, "rxstreamz_latency_seconds_bucket", processor="sink", le="5.0") == 3


def test_on_stats_feeds_items_and_rate() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    stamp = scheduler_now = TestScheduler().now
    metrics.on_stats(StreamStats("out", 4, 4, 2.0, 2.0, stamp))
    metrics.on_stats(StreamStats("out", 6, 10, 3.0, 2.0, scheduler_now))
    assert value(registry, "rxstreamz_items_total", processor="out") == 10
    assert value(registry, "rxstreamz_rate", processor="out") == 3.0


def test_labels_are_processor_names_only() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry, namespace="shop")
    step = metrics.track(filter_(lambda n: n > 0, name="positive"))
    collect(rx.of(*range(100)).pipe(step, metrics.instrument("out")))
    label_sets = {
        frozenset(sample.labels)
        for family in registry.collect()
        for sample in family.samples
        if sample.name.startswith("shop_")
    }
    assert label_sets <= {frozenset({"processor"}), frozenset({"processor", "le"})}


def test_track_rejects_objects_without_stats_and_duplicate_names() -> None:
    metrics = PrometheusMetrics(registry=CollectorRegistry())
    with pytest.raises(TypeError, match="operator must have a stats\\(\\) method, got int"):
        metrics.track(3)  # type: ignore[type-var]  # pyright: ignore[reportArgumentType]
    metrics.track(map_(str, name="a"))
    with pytest.raises(ValueError, match="a processor named 'a' is already tracked"):
        metrics.track(map_(str, name="a"))


def test_two_exporters_on_one_registry_collide_loudly() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        PrometheusMetrics(registry=registry)
    PrometheusMetrics(registry=registry, namespace="second")
