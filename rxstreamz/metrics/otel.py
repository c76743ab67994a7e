"""OpenTelemetry metrics for rxstreamz pipelines (extra ``rxstreamz[otel]``).

Depends on ``opentelemetry-api`` only: bring your own SDK and exporter.

```python
from opentelemetry import metrics
from rxstreamz.metrics.otel import OpenTelemetryMetrics

telemetry = OpenTelemetryMetrics(metrics.get_meter("orders"))
source.pipe(
    telemetry.track(async_map(enrich, workers=10, name="enrich")),
    telemetry.instrument("sink"),
).subscribe(write)
```

The instruments mirror ``rxstreamz.metrics.prometheus``, with dotted
names and the attribute ``processor`` (never an item):
``rxstreamz.items`` (counter), ``rxstreamz.latency`` (histogram, s),
``rxstreamz.rate`` (gauge, from ``monitor``), and, read from ``stats()``
at each collection, the observable counters ``rxstreamz.received``,
``.submitted``, ``.delivered``, ``.dropped``, ``.failed``, ``.retried``, ``.rejected`` and
the observable gauges ``rxstreamz.queue_depth``, ``.in_flight``,
``.high_watermark``, ``.tracked_keys``, ``.partition_balance``, a circuit
breaker's ``.circuit_requests``, ``.circuit_successes``,
``.circuit_failures``, ``.circuit_consecutive_failures`` (gauges because
the breaker resets them when it closes) and ``.circuit_state`` (attribute
``state``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from typing_extensions import override

from rxstreamz import _validate
from rxstreamz.metrics._sources import (
    COUNTERS,
    DESCRIPTIONS,
    GAUGES,
    STATES,
    Exporter,
)
from rxstreamz.types import StreamStats

try:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.metrics import CallbackOptions, Meter, Observation
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rxstreamz.metrics.otel needs opentelemetry-api: pip install 'rxstreamz[otel]'"
    ) from exc

__all__ = ["OpenTelemetryMetrics"]

_UNITS = {
    "partition_balance": "1",
    "circuit_requests": "{call}",
    "circuit_successes": "{call}",
    "circuit_failures": "{call}",
    "circuit_consecutive_failures": "{call}",
}
"""Units of the gauges that do not count items."""


class OpenTelemetryMetrics(Exporter):
    """OpenTelemetry instruments for the processors of one or more pipelines.

    Args:
        meter: The meter to create instruments on; default
            ``opentelemetry.metrics.get_meter("rxstreamz")``.
        prefix: Prefix of every instrument name.
    """

    def __init__(self, meter: Meter | None = None, *, prefix: str = "rxstreamz") -> None:
        self._prefix = _validate.name(prefix, "rxstreamz")
        meter = otel_metrics.get_meter("rxstreamz") if meter is None else meter
        super().__init__()
        p = self._prefix
        self._items = meter.create_counter(f"{p}.items", "{item}", DESCRIPTIONS["items"])
        self._latency = meter.create_histogram(f"{p}.latency", "s", DESCRIPTIONS["latency"])
        self._rate = meter.create_gauge(f"{p}.rate", "{item}/s", DESCRIPTIONS["rate"])
        for key in COUNTERS:
            meter.create_observable_counter(
                f"{p}.{key}", [self._callback(key)], "{item}", DESCRIPTIONS[key]
            )
        for key in GAUGES:
            meter.create_observable_gauge(
                f"{p}.{key}", [self._callback(key)], _UNITS.get(key, "{item}"), DESCRIPTIONS[key]
            )
        meter.create_observable_gauge(
            f"{p}.circuit_state", [self._state_callback], "1", DESCRIPTIONS["circuit_state"]
        )

    @override
    def on_stats(self, stats: StreamStats) -> None:
        attributes = {"processor": stats.name}
        self._items.add(stats.count, attributes)
        self._rate.set(stats.rate, attributes)

    @override
    def _recorder(self, processor: str) -> Callable[[float], None]:
        attributes = {"processor": processor}

        def record(seconds: float) -> None:
            self._items.add(1, attributes)
            self._latency.record(seconds, attributes)

        return record

    def _callback(self, key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """Return the collection callback of the observable instrument ``key``."""

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(r.values[key], {"processor": r.processor})
                for r in self._tracked.readings()
                if key in r.values
            ]

        return observe

    def _state_callback(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(float(state == r.state), {"processor": r.processor, "state": state})
            for r in self._tracked.readings()
            if r.state is not None
            for state in STATES
        ]
