"""OpenTelemetry exporter, read back through the SDK's in-memory reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")

import reactivex as rx
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from reactivex.testing import ReactiveTest, TestScheduler

from rxstreamz import StreamStats, collect, map_, sample_
from rxstreamz.metrics.otel import OpenTelemetryMetrics

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed


def parse_int(text: str) -> int:
    return int(text)


Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class BreakerLike:
    requests: int
    failures: int
    rejected: int
    state: str


class FakeBreaker:
    name = "breaker"

    def stats(self) -> BreakerLike:
        return BreakerLike(requests=20, failures=11, rejected=4, state="open")


@dataclass
class Telemetry:
    reader: InMemoryMetricReader
    meter: Meter

    def points(self) -> dict[Key, float]:
        data = self.reader.get_metrics_data()
        assert data is not None
        found: dict[Key, float] = {}
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        attributes = frozenset(
                            (str(k), str(v)) for k, v in (point.attributes or {}).items()
                        )
                        found[(metric.name, attributes)] = float(
                            getattr(point, "value", getattr(point, "sum", 0.0))
                        )
        return found


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(reader, provider.get_meter("rxstreamz-tests"))
    provider.shutdown()


def key(name: str, **attributes: str) -> Key:
    return (name, frozenset(attributes.items()))


def test_tracked_stats_become_observable_instruments(otel: Telemetry) -> None:
    telemetry = OpenTelemetryMetrics(otel.meter)
    parse = telemetry.track(map_(parse_int, errors="skip", name="parse"))
    thin = telemetry.track(sample_(0.0, name="thin"))
    telemetry.track(FakeBreaker())
    assert collect(rx.of("1", "x", "3").pipe(parse)) == [1, 3]
    assert collect(rx.range(4).pipe(thin)) == []
    got = otel.points()
    assert got[key("rxstreamz.failed", processor="parse")] == 1
    assert got[key("rxstreamz.dropped", processor="thin")] == 4
    # A breaker's requests/failures reset when it closes: gauges, never counters.
    assert got[key("rxstreamz.circuit_requests", processor="breaker")] == 20
    assert got[key("rxstreamz.circuit_failures", processor="breaker")] == 11
    assert key("rxstreamz.received", processor="breaker") not in got
    assert key("rxstreamz.failed", processor="breaker") not in got
    assert got[key("rxstreamz.rejected", processor="breaker")] == 4
    assert got[key("rxstreamz.circuit_state", processor="breaker", state="open")] == 1
    assert got[key("rxstreamz.circuit_state", processor="breaker", state="closed")] == 0


def test_instrument_and_monitor_feeds(otel: Telemetry, scheduler: TestScheduler) -> None:
    telemetry = OpenTelemetryMetrics(otel.meter, prefix="shop")
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2), on_completed(230))
    source.pipe(telemetry.instrument("sink")).subscribe(
        lambda n: scheduler.sleep(float(n)), scheduler=scheduler
    )
    scheduler.start()
    telemetry.on_stats(StreamStats("out", 5, 5, 2.5, 2.0, scheduler.now))
    got = otel.points()
    assert got[key("shop.items", processor="sink")] == 2
    assert got[key("shop.latency", processor="sink")] == 3.0  # histogram sum: 1 s + 2 s
    assert got[key("shop.items", processor="out")] == 5
    assert got[key("shop.rate", processor="out")] == 2.5
