"""Prometheus exporter: counters, gauges and histograms from real pipelines."""

from __future__ import annotations

import io
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, NamedTuple

import pytest

pytest.importorskip("prometheus_client")

import reactivex as rx
from prometheus_client import CollectorRegistry, generate_latest
from reactivex import Observable
from reactivex.testing import TestScheduler

import rxstreamz
from rxstreamz import (
    Operator,
    PartitionStats,
    StreamStats,
    circuit_breaker,
    collect,
    dedupe,
    filter_,
    map_,
    monitor,
    partition_,
    progress,
    router,
    sample_,
    split,
)
from rxstreamz._accounting import ProcessorStats
from rxstreamz.metrics._sources import GAUGES, read
from rxstreamz.metrics.prometheus import PrometheusMetrics
from tests.support import on_completed, on_next


def parse_int(text: str) -> int:
    return int(text)


@dataclass(frozen=True, slots=True)
class FakeStats(ProcessorStats):
    emitted: int
    queued: int
    in_flight: int
    state: str


class FakeProcessor:
    name = "fake"

    def __init__(self) -> None:
        self.current = FakeStats(0, 0, 0, 0, 0, 0, "closed")

    def stats(self) -> FakeStats:
        return self.current


class ThirdPartyStats(NamedTuple):
    """Another library's stats: no common fields, a count, a level, a text."""

    processed: int
    held: int
    mode: str


class ThirdParty:
    def stats(self) -> ThirdPartyStats:
        return ThirdPartyStats(processed=9, held=2, mode="fast")


def value(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


def family_types(registry: CollectorRegistry) -> dict[str, str]:
    return {family.name: family.type for family in registry.collect()}


def assert_exports_its_stats(registry: CollectorRegistry, operator: Any, label: str) -> None:
    """Every numeric field of operator.stats() is exported under its own name."""
    reading = read(label, operator.stats())
    assert reading.values, "nothing to compare"
    for field, expected in reading.values.items():
        metric = f"rxstreamz_{field}" if field in GAUGES else f"rxstreamz_{field}_total"
        assert value(registry, metric, processor=label) == expected, field


def test_track_exports_stats_at_scrape_time() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    fake = metrics.track(FakeProcessor())
    fake.current = FakeStats(10, 1, 2, 7, 1, 3, "half-open")
    assert value(registry, "rxstreamz_received_total", processor="fake") == 10
    assert value(registry, "rxstreamz_failed_total", processor="fake") == 1
    assert value(registry, "rxstreamz_dropped_total", processor="fake") == 2
    assert value(registry, "rxstreamz_emitted_total", processor="fake") == 7
    assert value(registry, "rxstreamz_queued", processor="fake") == 1
    assert value(registry, "rxstreamz_in_flight", processor="fake") == 3
    assert value(registry, "rxstreamz_circuit_state", processor="fake", state="half-open") == 1
    assert value(registry, "rxstreamz_circuit_state", processor="fake", state="open") == 0
    fake.current = FakeStats(12, 1, 2, 9, 0, 0, "closed")
    assert value(registry, "rxstreamz_received_total", processor="fake") == 12
    assert value(registry, "rxstreamz_emitted_total", processor="fake") == 9
    assert value(registry, "rxstreamz_queued", processor="fake") == 0
    assert value(registry, "rxstreamz_circuit_state", processor="fake", state="closed") == 1
    types = family_types(registry)
    assert [types[f"rxstreamz_{n}"] for n in ("received", "failed", "dropped", "emitted")] == [
        "counter"
    ] * 4
    assert types["rxstreamz_queued"] == types["rxstreamz_in_flight"] == "gauge"
    assert "rxstreamz_state" not in types, "the state is the circuit_state series, not a number"


def test_stats_without_the_common_fields_export_what_they_have() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    metrics.track(ThirdParty())  # no name attribute: labelled by its type
    assert value(registry, "rxstreamz_processed_total", processor="ThirdParty") == 9
    assert value(registry, "rxstreamz_held", processor="ThirdParty") == 2
    assert value(registry, "rxstreamz_received_total", processor="ThirdParty") is None
    assert "rxstreamz_mode" not in family_types(registry)


def test_the_common_families_exist_before_anything_is_tracked() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(registry=registry)
    types = family_types(registry)
    assert {name: types[name] for name in types if not name.startswith("rxstreamz_circuit")} == {
        "rxstreamz_items": "counter",
        "rxstreamz_latency_seconds": "histogram",
        "rxstreamz_rate": "gauge",
        "rxstreamz_received": "counter",
        "rxstreamz_failed": "counter",
        "rxstreamz_dropped": "counter",
    }


def test_failed_and_dropped_items_of_a_pipeline() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    parse = metrics.track(map_(parse_int, errors="skip", name="parse"))
    thin = metrics.track(sample_(0.0, name="thin"))
    assert collect(rx.of("1", "x", "3", "y").pipe(parse)) == [1, 3]
    assert collect(rx.range(5).pipe(thin)) == []
    assert value(registry, "rxstreamz_failed_total", processor="parse") == 2
    assert value(registry, "rxstreamz_kept_total", processor="thin") == 0
    assert_exports_its_stats(registry, parse, "parse")
    assert_exports_its_stats(registry, thin, "thin")


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
    assert value(registry, "rxstreamz_failures", processor="svc") == 2
    assert value(registry, "rxstreamz_requests", processor="svc") == 2
    assert value(registry, "rxstreamz_rejected_total", processor="svc") == 0
    scheduler.advance_to(235)  # item 3 is rejected by the open circuit
    assert value(registry, "rxstreamz_rejected_total", processor="svc") == 1
    scheduler.advance_to(260)  # items 4 and 5: two good trials close it, counts reset
    assert breaker.stats().state == "closed"
    assert breaker.stats().failures == 0
    assert value(registry, "rxstreamz_failures", processor="svc") == 0
    assert value(registry, "rxstreamz_circuit_state", processor="svc", state="closed") == 1
    types = family_types(registry)
    for level in ("requests", "successes", "failures", "consecutive_failures"):
        assert types[f"rxstreamz_{level}"] == "gauge", level
    assert_exports_its_stats(registry, breaker, "svc")


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
    assert value(registry, "rxstreamz_matched_total", processor="parity") == 3
    assert value(registry, "rxstreamz_unmatched_total", processor="parity") == 2
    assert value(registry, "rxstreamz_dropped_total", processor="parity") in (None, 0)
    assert "rxstreamz_total_total" not in family_types(registry)


def test_per_branch_counts_get_one_series_per_key() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    shards: Operator[int, tuple[Observable[int], ...], PartitionStats] = metrics.track(
        partition_(lambda n: n, 2, partitioner=lambda n, _: n % 2, name="shards")
    )
    routes = metrics.track(router({"small": lambda n: n < 3}, default=True, name="routes"))
    even, odd = rx.range(5).pipe(shards)
    for branch in (even, odd):
        branch.subscribe(lambda _: None)
    for branch in rx.range(5).pipe(routes).values():
        branch.subscribe(lambda _: None)
    assert value(registry, "rxstreamz_per_partition_total", processor="shards", key="0") == 3
    assert value(registry, "rxstreamz_per_partition_total", processor="shards", key="1") == 2
    assert value(registry, "rxstreamz_per_route_total", processor="routes", key="small") == 3
    exposition = generate_latest(registry).decode()
    assert 'rxstreamz_per_partition_total{key="1",processor="shards"} 2.0' in exposition
    assert value(registry, "rxstreamz_balance", processor="shards") == shards.stats().balance
    assert_exports_its_stats(registry, shards, "shards")
    assert_exports_its_stats(registry, routes, "routes")


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
        if changed == "total" and "received" in names:
            continue  # the routing records' old name for received: left out by design
        other = dict(base, **{changed: example_value(fields_by_name(record)[changed], 50)})
        assert read("p", record(**other)) != reading, f"{record.__name__}.{changed} is not exported"


def fields_by_name(record: type[object]) -> dict[str, object]:
    assert is_dataclass(record)
    return {f.name: f.type for f in fields(record)}


def test_sample_and_dedupe_export_their_own_counters() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    thin = metrics.track(sample_(0.5, seed=1, name="thin"))
    once = metrics.track(dedupe(name="once"))
    kept = collect(rx.range(40).pipe(thin))
    assert collect(rx.of(1, 1, 2, 1).pipe(once)) == [1, 2]
    assert value(registry, "rxstreamz_kept_total", processor="thin") == len(kept)
    assert value(registry, "rxstreamz_passed_total", processor="once") == 2
    assert value(registry, "rxstreamz_duplicates_total", processor="once") == 2
    assert value(registry, "rxstreamz_tracked_keys", processor="once") == 0
    assert_exports_its_stats(registry, thin, "thin")
    assert_exports_its_stats(registry, once, "once")


def test_monitor_feeds_on_stats_beside_tracked_processors(scheduler: TestScheduler) -> None:
    pytest.importorskip("tqdm")
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    bar = metrics.track(progress(file=io.StringIO(), name="bar"))
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(1250, 3), on_completed(1260)
    )
    # A virtual tick is a second: one report at 1000 s, one at completion.
    every_1000s = monitor(1000.0, metrics.on_stats, name="out", scheduler=scheduler)
    source.pipe(bar, every_1000s).subscribe(lambda _: None, scheduler=scheduler)
    scheduler.advance_to(1205)
    assert value(registry, "rxstreamz_items_total", processor="out") == 2
    assert value(registry, "rxstreamz_rate", processor="out") == 2 / 1000
    scheduler.start()  # the final report at completion adds the third
    assert value(registry, "rxstreamz_items_total", processor="out") == 3
    assert value(registry, "rxstreamz_received_total", processor="bar") == 3
    assert value(registry, "rxstreamz_emitted_total", processor="bar") == 3
    assert value(registry, "rxstreamz_dropped_total", processor="bar") == 0


def test_fields_named_like_the_exporters_own_metrics_are_left_out() -> None:
    class Clashing:
        name = "clash"

        def stats(self) -> dict[str, float]:
            return {"received": 3, "items": 5, "rate": 9.5, "circuit_state": 1}

    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    metrics.track(Clashing())
    assert value(registry, "rxstreamz_received_total", processor="clash") == 3
    assert value(registry, "rxstreamz_items_total", processor="clash") is None
    assert value(registry, "rxstreamz_rate", processor="clash") is None
    exposition = generate_latest(registry).decode()
    assert exposition.count("# TYPE rxstreamz_rate ") == 1
    assert exposition.count("# TYPE rxstreamz_circuit_state ") == 1
