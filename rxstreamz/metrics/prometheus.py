"""Prometheus metrics for rxstreamz pipelines (extra ``rxstreamz[prometheus]``).

```python
from prometheus_client import start_http_server
from rxstreamz import buffer_, monitor
from rxstreamz.metrics.prometheus import PrometheusMetrics

metrics = PrometheusMetrics()                     # default registry
source.pipe(
    metrics.track(buffer_(1000, name="ingest")),  # received/delivered/dropped, queue depth
    metrics.instrument("sink"),                   # items + latency histogram
    monitor(10.0, metrics.on_stats, name="out"),  # items + rate every 10 s
).subscribe(write)
start_http_server(9100)
```

Every series is labelled by processor name only, never by item, so the
number of series stays bounded. Exported names (with the default namespace):

==================================  =========  ===========================================
``rxstreamz_items_total``           counter    items through ``instrument``/``monitor``
``rxstreamz_latency_seconds``       histogram  downstream ``on_next`` time per item
``rxstreamz_rate``                  gauge      items/s over the last monitor interval
``rxstreamz_received_total``        counter    ``stats().received``: taken from upstream
``rxstreamz_failed_total``          counter    ``stats().failed``: the user call failed
``rxstreamz_dropped_total``         counter    ``stats().dropped``: taken, never emitted
``rxstreamz_<field>_total``         counter    every other numeric field that only grows
                                               (``emitted``, ``delivered``, ``retried`` ...)
``rxstreamz_<field>``               gauge      a level: ``queued``, ``held``, ``in_flight``,
                                               ``high_watermark``, ``tracked_keys`` ...
``rxstreamz_circuit_state``         gauge      1 for the current state (label ``state``)
==================================  =========  ===========================================

docs/concepts/observability.md lists the gauge fields and the few fields
that are not exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from typing_extensions import override

from rxstreamz import _validate
from rxstreamz.metrics._sources import (
    COMMON,
    DESCRIPTIONS,
    STATES,
    Exporter,
    Reading,
    Tracked,
    describe,
    kind,
)
from rxstreamz.records import StreamStats

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rxstreamz.metrics.prometheus needs prometheus-client: pip install 'rxstreamz[prometheus]'"
    ) from exc

__all__ = ["DEFAULT_BUCKETS", "PrometheusMetrics"]

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Latency buckets in seconds: per-item work spans 100 µs to seconds."""


class PrometheusMetrics(Exporter):
    """Prometheus instruments for the processors of one or more pipelines.

    Args:
        registry: Where to register; default ``prometheus_client.REGISTRY``.
        namespace: Prefix of every metric name.
        buckets: Latency histogram buckets, in seconds.

    Raises:
        ValueError: ``namespace`` is empty or the metric names are already
            registered on ``registry``.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "rxstreamz",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self._namespace = _validate.name(namespace, "rxstreamz")
        target = REGISTRY if registry is None else registry
        super().__init__()
        ns = self._namespace
        self._items = Counter(f"{ns}_items", DESCRIPTIONS["items"], ["processor"], registry=target)
        self._latency = Histogram(
            f"{ns}_latency_seconds",
            DESCRIPTIONS["latency"],
            ["processor"],
            buckets=tuple(buckets),
            registry=target,
        )
        self._rate = Gauge(f"{ns}_rate", DESCRIPTIONS["rate"], ["processor"], registry=target)
        target.register(_StatsCollector(ns, self._tracked))

    @override
    def on_stats(self, stats: StreamStats) -> None:
        self._items.labels(stats.name).inc(stats.count)
        self._rate.labels(stats.name).set(stats.rate)

    @override
    def _prepare(self, reading: Reading) -> None:
        """Nothing to do: the collector builds its families at each scrape."""

    @override
    def _recorder(self, processor: str) -> Callable[[float], None]:
        items, latency = self._items.labels(processor), self._latency.labels(processor)

        def record(seconds: float) -> None:
            items.inc()
            latency.observe(seconds)

        return record


class _StatsCollector(Collector):
    """Reads the tracked processors' stats() at scrape time."""

    def __init__(self, namespace: str, tracked: Tracked) -> None:
        self._namespace = namespace
        self._tracked = tracked

    def describe(self) -> Iterable[Metric]:
        # The fixed families only: the others depend on what gets tracked.
        return [*self._common().values(), self._state_family()]

    def collect(self) -> Iterable[Metric]:
        families, state = self._common(), self._state_family()
        for reading in self._tracked.readings():
            for field, value in reading.values.items():
                self._family(families, field).add_metric([reading.processor], value)
            for field, per_key in reading.parts.items():
                family = self._family(families, field, by_key=True)
                for branch, value in per_key.items():
                    family.add_metric([reading.processor, branch], value)
            if reading.state is not None:
                for candidate in STATES:
                    state.add_metric(
                        [reading.processor, candidate], float(candidate == reading.state)
                    )
        return [*families.values(), state]

    def _common(self) -> dict[str, CounterMetricFamily | GaugeMetricFamily]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for field in COMMON:
            self._family(families, field)
        return families

    def _family(
        self,
        families: dict[str, CounterMetricFamily | GaugeMetricFamily],
        field: str,
        *,
        by_key: bool = False,
    ) -> CounterMetricFamily | GaugeMetricFamily:
        """Return the family of stats field ``field``, adding it to ``families`` if new."""
        if field not in families:
            name, help_text = f"{self._namespace}_{field}", describe(field)
            labels = ["processor", "key"] if by_key else ["processor"]
            families[field] = (
                GaugeMetricFamily(name, help_text, labels=labels)
                if kind(field) == "gauge"
                else CounterMetricFamily(name, help_text, labels=labels)
            )
        return families[field]

    def _state_family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            f"{self._namespace}_circuit_state",
            DESCRIPTIONS["circuit_state"],
            labels=["processor", "state"],
        )
