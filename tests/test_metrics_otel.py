"""OpenTelemetry exporter, read back through the SDK's in-memory reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")

import reactivex as rx
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from reactivex.testing import TestScheduler

from rxstreamz import StreamStats, async_map, collect, dedupe, map_, retry_, sample_
from rxstreamz._accounting import ProcessorStats
from rxstreamz.metrics._sources import read
from rxstreamz.metrics.otel import OpenTelemetryMetrics
from tests.support import on_completed, on_next


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


def points(reader: InMemoryMetricReader) -> dict[Key, float]:
    """Every data point ``reader`` holds: its value (a histogram's sum), by name and attributes."""
    data = reader.get_metrics_data()
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


@dataclass
class Telemetry:
    reader: InMemoryMetricReader
    meter: Meter

    def points(self) -> dict[Key, float]:
        return points(self.reader)

    def kinds(self) -> dict[str, str]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return {
            metric.name: type(metric.data).__name__
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(reader, provider.get_meter("rxstreamz-tests"))
    provider.shutdown()


def key(name: str, **attributes: str) -> Key:
    return (name, frozenset(attributes.items()))


def fields(got: dict[Key, float], processor: str, *names: str) -> dict[str, float]:
    """The points of ``processor``'s ``rxstreamz.<name>`` instruments, by name."""
    return {name: got[key(f"rxstreamz.{name}", processor=processor)] for name in names}


def test_tracked_stats_become_observable_instruments(otel: Telemetry) -> None:
    telemetry = OpenTelemetryMetrics(otel.meter)
    parse = telemetry.track(map_(parse_int, errors="skip", name="parse"))
    thin = telemetry.track(sample_(0.0, name="thin"))
    telemetry.track(FakeBreaker())
    assert collect(rx.of("1", "x", "3").pipe(parse)) == [1, 3]
    assert collect(rx.range(4).pipe(thin)) == []
    got = otel.points()
    assert fields(got, "parse", "failed") == {"failed": 1}
    assert fields(got, "thin", "discarded", "dropped") == {"discarded": 4, "dropped": 0}
    # A breaker's requests/failures reset when it closes: gauges, never counters.
    assert fields(got, "breaker", "requests", "failures", "rejected") == {
        "requests": 20,
        "failures": 11,
        "rejected": 4,
    }
    assert otel.kinds()["rxstreamz.requests"] == "Gauge"
    assert otel.kinds()["rxstreamz.rejected"] == "Sum"
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


@dataclass(frozen=True, slots=True)
class QueueLike(ProcessorStats):
    emitted: int
    held: int
    per_shard: tuple[int, ...]


class FakeQueue:
    name = "queue"

    def __init__(self) -> None:
        self.current = QueueLike(5, 1, 1, 2, 1, (2, 0))

    def stats(self) -> QueueLike:
        return self.current


def test_common_fields_and_a_processors_own_fields(otel: Telemetry) -> None:
    telemetry = OpenTelemetryMetrics(otel.meter)
    fake = telemetry.track(FakeQueue())
    got = otel.points()
    assert fields(got, "queue", "received", "failed", "dropped", "emitted", "held") == {
        "received": 5,
        "failed": 1,
        "dropped": 1,
        "emitted": 2,
        "held": 1,
    }
    assert got[key("rxstreamz.per_shard", processor="queue", key="0")] == 2
    fake.current = QueueLike(9, 1, 1, 7, 0, (6, 1))
    got = otel.points()
    assert fields(got, "queue", "emitted", "held") == {"emitted": 7, "held": 0}
    assert got[key("rxstreamz.per_shard", processor="queue", key="1")] == 1
    kinds = otel.kinds()
    assert [kinds[f"rxstreamz.{n}"] for n in ("received", "emitted", "per_shard", "held")] == [
        "Sum",
        "Sum",
        "Sum",
        "Gauge",
    ]


def test_real_processors_export_every_numeric_field(otel: Telemetry) -> None:
    telemetry = OpenTelemetryMetrics(otel.meter)
    once = telemetry.track(dedupe(name="once"))
    slow = telemetry.track(async_map(lambda n: n * 2, workers=2, name="slow"))
    again = telemetry.track(retry_(flaky(), max_attempts=3, base_delay=0.001, name="again"))
    assert collect(rx.of(1, 1, 2).pipe(once)) == [1, 2]
    assert collect(rx.range(6).pipe(slow)) == [0, 2, 4, 6, 8, 10]
    assert collect(rx.of(1, 2).pipe(again)) == [1, 2]
    got = otel.points()
    for label, operator in (("once", once), ("slow", slow), ("again", again)):
        reading = read(label, operator.stats())
        for field, expected in reading.values.items():
            assert got[key(f"rxstreamz.{field}", processor=label)] == expected, (label, field)
    assert got[key("rxstreamz.duplicates", processor="once")] == 1
    assert got[key("rxstreamz.completed", processor="slow")] == 6
    assert got[key("rxstreamz.retried", processor="again")] == 1


def flaky() -> Callable[[int], int]:
    calls = 0

    def call(n: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("first call fails")
        return n

    return call


def test_a_processor_without_the_common_fields_exports_what_it_has(otel: Telemetry) -> None:
    telemetry = OpenTelemetryMetrics(otel.meter)
    telemetry.track(FakeBreaker())
    got = otel.points()
    assert got[key("rxstreamz.rejected", processor="breaker")] == 4
    assert key("rxstreamz.received", processor="breaker") not in got
