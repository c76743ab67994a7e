"""What the exporters read: processors' stats() snapshots and per-item timings.

One rule maps a snapshot to metrics: every numeric field is exported under its
own name, labelled by processor. The common fields ``received``, ``failed``
and ``dropped`` come first; a field named in ``GAUGES`` is a level (it can go
down) and becomes a gauge, every other one only grows and becomes a counter.
A field holding one number per branch (``per_partition``, ``per_route``) is
exported the same way with one series per branch, labelled ``key``. A
breaker's ``state`` becomes one 0/1 series per state. ``total``, the
routing processors' first name for what they received, counts as
``received`` when a snapshot lacks that field and is left out otherwise.
Other fields, and fields named like the exporters' own instruments
(``RESERVED``), are left out.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Literal, Never, Protocol, TypeGuard, TypeVar, cast

from reactivex import Observable, abc

from rxstreamz import _scheduling, _validate
from rxstreamz._typing import Operator
from rxstreamz.records import StreamStats

_X = TypeVar("_X")
# mypy matches a protocol against a protocol by their own members only, so it
# does not see that an Operator (rxstreamz/_typing.py) has stats(): name it.
_S = TypeVar("_S", bound="HasStats | Operator[Never, object, object]")

COMMON: tuple[str, ...] = ("received", "failed", "dropped")
"""The fields every processor's snapshot has; always exported, as counters."""

GAUGES: frozenset[str] = frozenset(
    {
        "queued",
        "held",
        "in_flight",
        "tracked_keys",
        "high_watermark",
        "balance",
        # A circuit breaker resets these when it closes again, so they are levels.
        "requests",
        "successes",
        "failures",
        "consecutive_failures",
    }
)
"""Stats fields that are levels, exported as gauges; every other number is a counter.

A counter must never decrease (a drop reads as a restart), so any field that
can go down belongs here.
"""

RESERVED: frozenset[str] = frozenset(
    {"items", "latency", "latency_seconds", "rate", "state", "circuit_state"}
)
"""Field names the exporters' own instruments use; such fields are not exported."""

STATES = ("closed", "half-open", "open")
"""The circuit breaker states, exported as one 0/1 series each."""

DESCRIPTIONS = {
    "received": "Items a processor took from upstream",
    "failed": "Items whose user function failed",
    "dropped": "Items a processor took and will never emit (dispose, overflow, error)",
    "emitted": "Items a processor emitted",
    "delivered": "Items a queue handed downstream",
    "filtered": "Items a processor left out by its job",
    "submitted": "Items handed to async_map's workers",
    "completed": "Items whose async_map call returned",
    "succeeded": "Items whose call succeeded",
    "retried": "Calls made again after a failure",
    "rejected": "Items rejected by an open circuit breaker",
    "passed": "Items dedupe let through",
    "duplicates": "Items dedupe recognised as duplicates",
    "kept": "Items sample_ kept",
    "queued": "Items waiting in a processor's queue",
    "held": "Items a processor holds until it can emit them",
    "in_flight": "Items being processed right now",
    "high_watermark": "The most items one subscription's queue held at once",
    "tracked_keys": "Keys a dedupe processor remembers right now",
    "balance": "Variance / mean of the items per partition (0: even)",
    "requests": "Calls through a circuit breaker since it last closed",
    "successes": "Calls that returned since the circuit breaker last closed",
    "failures": "Calls that raised since the circuit breaker last closed",
    "consecutive_failures": "Circuit breaker calls that raised since the last success",
    "circuit_state": "1 for the circuit breaker's current state, 0 for the others",
    "items": "Items that passed an instrumented or monitored point",
    "latency": "Seconds spent in downstream on_next per item",
    "rate": "Items per second over the last monitor interval",
}
"""Help texts of the known metrics; others get a generic one (``describe``)."""


def describe(field: str) -> str:
    """Return the help text of the metric exported for stats field ``field``."""
    what = "level" if field in GAUGES else "count"
    return DESCRIPTIONS.get(field, f"The {field} {what} of a processor's stats()")


def kind(field: str) -> Literal["gauge", "counter"]:
    """Return ``"gauge"`` for a level field, ``"counter"`` for everything else."""
    return "gauge" if field in GAUGES else "counter"


class HasStats(Protocol):
    """A processor with a ``stats()`` snapshot (every rxstreamz processor)."""

    def stats(self) -> object:
        """Return the current counters."""
        ...


def snapshot_fields(snapshot: object) -> dict[str, object]:
    """Return a snapshot's fields by name, in order, the common fields first.

    Reads a dataclass, a named tuple, a mapping, or any object's public
    attributes (a third-party processor's stats).
    """
    found: dict[str, object] = {}
    as_dict: object = getattr(snapshot, "_asdict", None)
    attributes = cast("dict[str, object]", getattr(snapshot, "__dict__", {}))
    if is_dataclass(snapshot) and not isinstance(snapshot, type):
        found = {f.name: getattr(snapshot, f.name) for f in fields(snapshot)}
    elif isinstance(snapshot, tuple) and callable(as_dict):  # a named tuple
        found = dict(cast("Callable[[], Mapping[str, object]]", as_dict)())
    elif isinstance(snapshot, Mapping):
        items = cast("Mapping[object, object]", snapshot).items()
        found = {str(k): v for k, v in items}
    else:
        found = {k: v for k, v in attributes.items() if not k.startswith("_")}
    common = {name: found.pop(name) for name in COMMON if name in found}
    return {**common, **found}


def type_name(operator: object) -> str:
    """Return an operator's type name, the class name without a leading underscore."""
    return type(operator).__name__.lstrip("_")


def is_number(value: object) -> TypeGuard[int | float]:
    """Tell a count or level (int or float, not bool) from anything else."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Reading:
    """The exportable values of one processor at one moment."""

    processor: str
    values: dict[str, float]
    """Numeric stats field -> value (its kind: ``kind(field)``)."""
    parts: dict[str, dict[str, float]]
    """Stats field holding one number per branch (``per_partition``,
    ``per_route`` ...) -> branch key -> value."""
    state: str | None
    """A circuit breaker's state, if the snapshot has one."""


def read(processor: str, snapshot: object) -> Reading:
    """Pick a stats snapshot's exportable fields."""
    values: dict[str, float] = {}
    parts: dict[str, dict[str, float]] = {}
    found = snapshot_fields(snapshot)
    if "total" in found:
        total = found.pop("total")
        found.setdefault("received", total)
    for field, value in found.items():
        if field in RESERVED:
            continue
        if is_number(value):
            values[field] = float(value)
        elif (per_key := _per_key(value)) is not None:
            parts[field] = per_key
    state = found.get("state")
    return Reading(processor, values, parts, state if isinstance(state, str) else None)


def _per_key(value: object) -> dict[str, float] | None:
    """Return a mapping's or sequence's numbers by key (index), or None if not all numbers."""
    if isinstance(value, Mapping):
        pairs = list(cast("Mapping[object, object]", value).items())
    elif isinstance(value, tuple | list):
        pairs = list(enumerate(cast("Iterable[object]", value)))
    else:
        return None
    if not all(is_number(v) for _, v in pairs):
        return None
    return {str(k): float(cast("float", v)) for k, v in pairs}


class Tracked:
    """The processors an exporter reads at collection time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[str, HasStats] = {}

    def add(self, operator: HasStats, name: str | None) -> str:
        """Start reading ``operator.stats()`` under ``name`` (default: its ``name``).

        Returns the name it is tracked under.
        """
        if not callable(getattr(operator, "stats", None)):
            raise TypeError(f"operator must have a stats() method, got {type(operator).__name__}")
        own = getattr(operator, "name", None)
        label = _validate.name(name, own if isinstance(own, str) and own else type_name(operator))
        with self._lock:
            if label in self._sources and self._sources[label] is not operator:
                raise ValueError(f"a processor named {label!r} is already tracked")
            self._sources[label] = operator
        return label

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
            operator: Any processor with ``stats()``: every numeric field
                of its snapshot is exported under its own name (see the
                module docstring), whether or not it has the common fields.
            name: The ``processor`` label; default the operator's ``name``.

        Returns:
            ``operator`` itself.

        Raises:
            TypeError: ``operator`` has no ``stats()``.
            ValueError: another processor is tracked under the same name.
        """
        source = cast("HasStats", operator)
        label = self._tracked.add(source, name)
        self._prepare(read(label, source.stats()))
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
    def _prepare(self, reading: Reading) -> None:
        """Make ready the instruments a newly tracked processor's fields need."""

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
