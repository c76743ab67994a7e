"""What the exporters read: processors' stats() snapshots and per-item timings."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Protocol, TypeGuard, TypeVar, cast

from reactivex import Observable, abc

from rxstreamz import _scheduling, _validate
from rxstreamz.types import StreamStats

_X = TypeVar("_X")
_S = TypeVar("_S", bound="HasStats")

COUNTERS: dict[str, tuple[str, ...]] = {
    "received": ("received", "submitted", "processed", "total"),
    "submitted": ("submitted",),
    "delivered": ("delivered", "completed", "succeeded", "passed", "kept", "emitted"),
    "dropped": ("dropped", "duplicates", "unrouted", "unmatched"),
    "failed": ("failed",),
    "retried": ("retried",),
    "rejected": ("rejected",),
    "batches": ("chunks", "unpacked"),
}
"""Exported counter -> the first stats field that provides it, in order of preference.

Only fields that never decrease: a counter that goes down reads as a restart.
"""

GAUGES: dict[str, tuple[str, ...]] = {
    "queue_depth": ("queued", "held"),
    "in_flight": ("in_flight",),
    "high_watermark": ("high_watermark",),
    "tracked_keys": ("tracked_keys",),
    "partition_balance": ("balance",),
    # A circuit breaker resets these when it closes again, so they are levels.
    "circuit_requests": ("requests",),
    "circuit_successes": ("successes",),
    "circuit_failures": ("failures",),
    "circuit_consecutive_failures": ("consecutive_failures",),
}
"""Exported gauge -> the stats field that provides it."""

SUMS: dict[str, dict[str, tuple[str, ...]]] = {
    # Items these leave out by design are exported with the dropped ones.
    "FilterStats": {"dropped": ("filtered", "dropped")},
    "SampleStats": {"dropped": ("discarded", "dropped")},
    "SkipStats": {"dropped": ("skipped", "dropped")},
    "DedupeStats": {"received": ("passed", "duplicates", "failed")},
    "PartitionStats": {"delivered": ("per_partition",)},
    "RouterStats": {"delivered": ("per_route",)},
    # split's second branch gets the unmatched items: passed on, not dropped.
    "SplitStats": {"delivered": ("matched", "unmatched"), "dropped": ()},
    "SwitchStats": {"delivered": ("per_case", "defaulted")},
}
"""Per stats record (class name): exported value -> the fields it sums.

Used where no single field says it; an empty tuple exports nothing.
"""

STATES = ("closed", "half-open", "open")
"""The circuit breaker states, exported as one 0/1 series each."""

DESCRIPTIONS = {
    "received": "Items a processor took in",
    "submitted": "Items async_map handed to its workers",
    "delivered": "Items a processor passed on",
    "dropped": "Items a processor dropped by policy (overflow, sampling, duplicates)",
    "failed": "Items whose processing failed",
    "retried": "Calls made again after a failure",
    "rejected": "Items rejected by an open circuit breaker",
    "batches": "Lists chunk emitted, or iterables unbatch read to the end",
    "queue_depth": "Items waiting in a processor's queue",
    "in_flight": "Items being processed right now",
    "high_watermark": "The most items one subscription's queue held at once",
    "tracked_keys": "Keys a dedupe processor remembers right now",
    "partition_balance": "Variance / mean of the items per partition (0: even)",
    "circuit_requests": "Calls through a circuit breaker since it last closed",
    "circuit_successes": "Calls that returned since the circuit breaker last closed",
    "circuit_failures": "Calls that raised since the circuit breaker last closed",
    "circuit_consecutive_failures": "Circuit breaker calls that raised since the last success",
    "circuit_state": "1 for the circuit breaker's current state, 0 for the others",
    "items": "Items that passed an instrumented or monitored point",
    "latency": "Seconds spent in downstream on_next per item",
    "rate": "Items per second over the last monitor interval",
}


class HasStats(Protocol):
    """A processor with a ``stats()`` snapshot (buffers, async_map, retry_, ...)."""

    def stats(self) -> object:
        """Return the current counters."""
        ...


@dataclass(frozen=True, slots=True)
class Reading:
    """The exportable values of one processor at one moment."""

    processor: str
    values: dict[str, float]
    """Exported counter and gauge names (keys of COUNTERS and GAUGES) -> value."""
    state: str | None


def read(processor: str, snapshot: object) -> Reading:
    """Map a stats snapshot's fields to the exported counters and gauges."""
    values: dict[str, object] = (
        {f.name: getattr(snapshot, f.name) for f in fields(snapshot)}
        if is_dataclass(snapshot) and not isinstance(snapshot, type)
        else {}
    )

    def pick(candidates: tuple[str, ...]) -> float | None:
        for field_name in candidates:
            value = values.get(field_name)
            if _is_number(value):
                return float(value)
        return None

    exported = {
        key: value
        for key, names in (*COUNTERS.items(), *GAUGES.items())
        if (value := pick(names)) is not None
    }
    for key, names in SUMS.get(type(snapshot).__name__, {}).items():
        exported.pop(key, None)
        if names:
            exported[key] = float(sum(_total(values.get(n)) for n in names))
    state = values.get("state")
    return Reading(processor, exported, state if isinstance(state, str) else None)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _total(value: object) -> float:
    """Return a number, or the sum of a sequence's or mapping's numbers (0 otherwise)."""
    if isinstance(value, Mapping):
        value = list(cast("Mapping[object, object]", value).values())
    if isinstance(value, tuple | list):
        return float(sum(v for v in cast("Iterable[object]", value) if _is_number(v)))
    return float(value) if _is_number(value) else 0.0


class Tracked:
    """The processors an exporter reads at collection time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[str, HasStats] = {}

    def add(self, operator: HasStats, name: str | None) -> None:
        """Start reading ``operator.stats()`` under ``name`` (default: its ``name``)."""
        if not callable(getattr(operator, "stats", None)):
            raise TypeError(f"operator must have a stats() method, got {type(operator).__name__}")
        label = _validate.name(name, str(getattr(operator, "name", type(operator).__name__)))
        with self._lock:
            if label in self._sources and self._sources[label] is not operator:
                raise ValueError(f"a processor named {label!r} is already tracked")
            self._sources[label] = operator

    def readings(self) -> Iterator[Reading]:
        """Read every tracked processor now."""
        with self._lock:
            sources = list(self._sources.items())
        for label, operator in sources:
            yield read(label, operator.stats())


class Exporter(ABC):
    """What both exporters offer: ``track``, ``instrument`` and ``on_stats``."""

    def __init__(self) -> None:
        self._tracked = Tracked()

    def track(self, operator: _S, *, name: str | None = None) -> _S:
        """Export ``operator.stats()`` whenever metrics are collected; return ``operator``.

        Returning the operator lets ``track`` wrap it in place in ``pipe()``.

        Args:
            operator: Any rxstreamz processor with ``stats()``.
            name: The ``processor`` label; default the operator's ``name``.

        Returns:
            ``operator`` itself.

        Raises:
            TypeError: ``operator`` has no ``stats()``.
            ValueError: another processor is tracked under the same name.
        """
        self._tracked.add(operator, name)
        return operator

    def instrument(self, name: str, *, scheduler: abc.SchedulerBase | None = None) -> Instrument:
        """Return a pass-through operator counting items and timing downstream.

        Each item adds one to the ``items`` counter and records the seconds its
        downstream ``on_next`` took (on the scheduler clock) in the ``latency``
        histogram.

        Args:
            name: The ``processor`` label.
            scheduler: Clock for the latency; default: the subscription's.

        Returns:
            An operator for ``pipe()``.
        """
        label = _validate.name(name, "instrument")
        return Instrument(label, self._recorder(label), scheduler)

    @abstractmethod
    def on_stats(self, stats: StreamStats) -> None:
        """Feed one ``rxstreamz.monitor`` report (pass as ``on_stats=``)."""

    @abstractmethod
    def _recorder(self, processor: str) -> Callable[[float], None]:
        """Return the function recording one item and its latency for ``processor``."""


class Instrument:
    """Pass-through operator reporting each item and its downstream latency."""

    def __init__(
        self,
        name: str,
        record: Callable[[float], None],
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.name = name
        self._record = record
        self._scheduler = scheduler

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        record, own = self._record, self._scheduler

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.resolve(own, scheduler)

            def on_next(item: _X) -> None:
                start = clock.now
                observer.on_next(item)
                record((clock.now - start).total_seconds())

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)
