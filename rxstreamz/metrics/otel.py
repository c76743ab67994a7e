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
at each collection, one observable instrument per stats field:
``rxstreamz.received``, ``.failed``, ``.dropped`` and every other numeric
field under its own name (``rxstreamz.emitted``, ``rxstreamz.queued`` ...),
an observable counter for a count, an observable gauge for a level
(``queued``, ``held``, ``in_flight``, ``high_watermark``, ``tracked_keys``,
``balance``, a circuit breaker's counts since it last closed); a field
with one number per branch (``per_partition``, ``per_route``) adds the
attribute ``key``; and ``rxstreamz.circuit_state`` (attribute ``state``). The instruments of a
processor's own fields are created when the first processor that has them
is tracked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from typing_extensions import override

from rxstreamz import _validate
from rxstreamz.metrics._sources import (
    COMMON,
    DESCRIPTIONS,
    STATES,
    Exporter,
    Reading,
    describe,
    kind,
)
from rxstreamz.records import StreamStats

try:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.metrics import CallbackOptions, Meter, Observation
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rxstreamz.metrics.otel needs opentelemetry-api: pip install 'rxstreamz[otel]'"
    ) from exc

__all__ = ["OpenTelemetryMetrics"]

_UNITS = {
    "balance": "1",
    "requests": "{call}",
    "successes": "{call}",
    "failures": "{call}",
    "consecutive_failures": "{call}",
    "retried": "{call}",
    "tracked_keys": "{key}",
}
"""Units of the stats fields that do not count items."""


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
        self._meter = meter
        self._lock = threading.Lock()
        self._observed: set[str] = set()
        for field in COMMON:
            self._observe(field)
        meter.create_observable_gauge(
            f"{p}.circuit_state", [self._state_callback], "1", DESCRIPTIONS["circuit_state"]
        )

    @override
    def on_stats(self, stats: StreamStats) -> None:
        attributes = {"processor": stats.name}
        self._items.add(stats.count, attributes)
        self._rate.set(stats.rate, attributes)

    @override
    def _prepare(self, reading: Reading) -> None:
        for field in (*reading.values, *reading.parts):
            self._observe(field)

    def _observe(self, field: str) -> None:
        """Create the observable instrument of stats field ``field`` once."""
        with self._lock:
            if field in self._observed:
                return
            self._observed.add(field)
        create = (
            self._meter.create_observable_gauge
            if kind(field) == "gauge"
            else self._meter.create_observable_counter
        )
        create(
            f"{self._prefix}.{field}",
            [self._callback(field)],
            _UNITS.get(field, "{item}"),
            describe(field),
        )

    @override
    def _recorder(self, processor: str) -> Callable[[float], None]:
        attributes = {"processor": processor}

        def record(seconds: float) -> None:
            self._items.add(1, attributes)
            self._latency.record(seconds, attributes)

        return record

    def _callback(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """Return the collection callback of the observable instrument of ``field``."""

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            observations: list[Observation] = []
            for reading in self._tracked.readings():
                processor = reading.processor
                if field in reading.values:
                    observations.append(
                        Observation(reading.values[field], {"processor": processor})
                    )
                for key, value in reading.parts.get(field, {}).items():
                    observations.append(Observation(value, {"processor": processor, "key": key}))
            return observations

        return observe

    def _state_callback(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(float(state == r.state), {"processor": r.processor, "state": state})
            for r in self._tracked.readings()
            if r.state is not None
            for state in STATES
        ]
