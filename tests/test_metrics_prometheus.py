"""Prometheus exporter: counters, gauges and histograms from real pipelines."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass

import pytest

pytest.importorskip("prometheus_client")

import reactivex as rx
from prometheus_client import CollectorRegistry
from reactivex.testing import ReactiveTest, TestScheduler

import rxstreamz
from rxstreamz import (
    StreamStats,
    circuit_breaker,
    collect,
    dedupe,
    filter_,
    map_,
    sample_,
    split,
)
from rxstreamz.metrics._sources import read
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


def test_circuit_breaker_counts_that_reset_are_gauges_not_counters() -> None:
    # requests, successes and failures go back to 0 when the circuit closes again:
    # a counter must never decrease, so they are exported as gauges.
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    scheduler = TestScheduler()
    outcomes = iter([False, False, True, True])  # fail, fail (open), then two good trials

    def call(n: int) -> int:
        if not next(outcomes):
            raise ConnectionError(n)
        return n

    breaker = metrics.track(
        circuit_breaker(
            call,
            min_requests=2,
            recovery_timeout=20.0,
            half_open_requests=2,
            errors="skip",
            name="svc",
            scheduler=scheduler,
        )
    )
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_next(245, 4), on_next(250, 5)
    )
    source.pipe(breaker).subscribe(lambda _: None, scheduler=scheduler)
    scheduler.advance_to(225)
    assert breaker.stats().failures == 2
    assert value(registry, "rxstreamz_circuit_failures", processor="svc") == 2
    assert value(registry, "rxstreamz_circuit_requests", processor="svc") == 2
    assert value(registry, "rxstreamz_rejected_total", processor="svc") == 0
    scheduler.advance_to(235)  # item 3 is rejected by the open circuit
    assert value(registry, "rxstreamz_rejected_total", processor="svc") == 1
    scheduler.advance_to(260)  # items 4 and 5: two good trials close it, counts reset
    assert breaker.stats().state == "closed"
    assert breaker.stats().failures == 0
    assert value(registry, "rxstreamz_circuit_failures", processor="svc") == 0
    assert value(registry, "rxstreamz_circuit_state", processor="svc", state="closed") == 1
    for counter in ("received", "delivered", "failed"):
        assert value(registry, f"rxstreamz_{counter}_total", processor="svc") is None, counter


def test_split_sends_unmatched_items_on_so_they_are_not_dropped() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    parity = metrics.track(split(lambda n: n % 2 == 0, name="parity"))
    evens, odds = rx.range(5).pipe(parity)
    seen: list[int] = []
    evens.subscribe(seen.append)
    odds.subscribe(seen.append)
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert value(registry, "rxstreamz_received_total", processor="parity") == 5
    assert value(registry, "rxstreamz_delivered_total", processor="parity") == 5
    assert value(registry, "rxstreamz_dropped_total", processor="parity") is None


STATS_RECORDS: list[type[object]] = [
    getattr(rxstreamz, name)
    for name in rxstreamz.__all__
    if name.endswith("Stats") and name != "StreamStats"  # StreamStats feeds on_stats
]


def example_value(annotation: object, seed: int) -> object:
    text = str(annotation)
    if text.startswith("tuple"):
        return (seed, seed + 1)
    if text.startswith("dict"):
        return {"a": seed}
    if text == "float":
        return seed / 2
    if text == "int":
        return seed
    return "open" if seed < 10 else "closed"  # the breaker state


@pytest.mark.parametrize("record", STATS_RECORDS, ids=lambda record: record.__name__)
def test_every_stats_field_reaches_an_instrument(record: type[object]) -> None:
    assert len(STATS_RECORDS) >= 15
    assert is_dataclass(record)
    names = [f.name for f in fields(record)]
    base = {f.name: example_value(f.type, 3 + i) for i, f in enumerate(fields(record))}
    reading = read("p", record(**base))
    for changed in names:
        other = dict(base, **{changed: example_value(fields_by_name(record)[changed], 50)})
        assert read("p", record(**other)) != reading, f"{record.__name__}.{changed} is not exported"


def fields_by_name(record: type[object]) -> dict[str, object]:
    assert is_dataclass(record)
    return {f.name: f.type for f in fields(record)}


def test_sample_and_dedupe_export_what_they_received() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    thin = metrics.track(sample_(0.5, seed=1, name="thin"))
    once = metrics.track(dedupe(name="once"))
    kept = collect(rx.range(40).pipe(thin))
    assert collect(rx.of(1, 1, 2, 1).pipe(once)) == [1, 2]
    assert value(registry, "rxstreamz_received_total", processor="thin") == 40
    assert value(registry, "rxstreamz_delivered_total", processor="thin") == len(kept)
    assert value(registry, "rxstreamz_received_total", processor="once") == 4
    assert value(registry, "rxstreamz_dropped_total", processor="once") == 2
    assert value(registry, "rxstreamz_tracked_keys", processor="once") == 0
