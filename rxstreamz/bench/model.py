"""The records of a benchmark run: cases, rows, read-ahead gauges, table names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import rxstreamz

__all__ = [
    "DEFAULT_TABLES",
    "IMPLS",
    "TABLES",
    "Case",
    "Gauge",
    "Impl",
    "Prepare",
    "Result",
    "Run",
    "Table",
    "Unavailable",
    "processor",
]

Table = Literal["processor", "throughput", "fusion", "asyncio", "growth", "workers"]
Impl = Literal["rxstreamz", "rxpy", "plain", "aiostream", "streamz", "ceiling"]
Run = Callable[[], list[Any]]
"""Runs one pipeline over the prepared data to completion; returns its output."""
Prepare = Callable[[list[int]], Run]
"""Builds a fresh ``Run`` over ``data`` (not timed)."""

TABLES: tuple[Table, ...] = ("processor", "throughput", "fusion", "asyncio", "growth", "workers")
DEFAULT_TABLES: tuple[Table, ...] = ("processor", "throughput", "fusion", "asyncio")
"""The tables measured when none is named (``growth`` and ``workers`` are for the charts)."""
IMPLS: tuple[Impl, ...] = ("rxstreamz", "rxpy", "plain")
"""The implementations of every table but ``asyncio`` (see ``asyncio_cases.ASYNCIO_IMPLS``)."""


class Unavailable(Exception):
    """A processor or package this case needs is not part of this installation."""


def processor(name: str) -> Callable[..., Any]:
    """Return the public rxstreamz factory ``name`` or raise ``Unavailable``."""
    factory: Callable[..., Any] | None = getattr(rxstreamz, name, None)
    if factory is None:
        raise Unavailable(f"{name} not available in this installation")
    return factory


class Gauge:
    """How far a source runs ahead of its sink: items pulled minus items written.

    The source calls ``pull`` before it hands each item on, the sink calls
    ``write`` with the number of items it received; ``most`` is the largest
    gap seen at a pull over every run since the gauge was made.
    """

    __slots__ = ("most", "pulled", "written")

    def __init__(self) -> None:
        self.pulled = 0
        self.written = 0
        self.most = 0

    def start(self) -> None:
        """Begin a run: nothing pulled nor written yet (``most`` is kept)."""
        self.pulled = 0
        self.written = 0

    def pull(self) -> None:
        """Count one item taken from the source."""
        self.pulled += 1
        self.most = max(self.most, self.pulled - self.written)

    def write(self, count: int) -> None:
        """Count ``count`` items handed to the sink."""
        self.written += count


@dataclass(frozen=True, slots=True)
class Case:
    """One benchmark case: a name and how each implementation runs it.

    Attributes:
        table: The table the case belongs to.
        name: The row label.
        impls: For each implementation, how to prepare a run over some data.
        divisor: The case runs ``items // divisor`` items (slow per-item work).
        caps: Per implementation, the most items it is given.
        notes: Per implementation, a remark printed beside its row.
        memory: Whether to make the extra ``tracemalloc`` run.
        ideal: The items per second the case reaches at best, if it has such
            a bound (``workers / latency`` for concurrent calls that wait).
        ceiling: The implementation that measures the attainable bound of
            the case on this machine (the bare calls, no pipeline), if any.
        gauges: Per implementation, the ``Gauge`` its runs report to.
    """

    table: Table
    name: str
    impls: Mapping[Impl, Prepare]
    divisor: int = 1
    caps: Mapping[Impl, int] = field(default_factory=dict[Impl, int])
    notes: Mapping[Impl, str] = field(default_factory=dict[Impl, str])
    memory: bool = True
    ideal: float | None = None
    ceiling: Impl | None = None
    gauges: Mapping[Impl, Gauge] = field(default_factory=dict[Impl, Gauge])

    def items_for(self, impl: Impl, items: int) -> int:
        """Return how many items ``impl`` runs when the user asked for ``items``."""
        count = max(1, items // self.divisor)
        return min(count, self.caps.get(impl, count))


@dataclass(frozen=True, slots=True)
class Result:
    """One measured (case, implementation) pair; ``None`` where not measured.

    ``ideal_ratio`` (items/s over the case's ideal), ``ceiling_ratio``
    (items/s over the items/s of the case's ceiling, measured in the same
    run) and ``read_ahead`` (the most items pulled from the source but not
    yet written) are measured by the ``asyncio`` table only.
    """

    table: Table
    case: str
    impl: Impl
    items: int
    seconds: float | None
    items_per_s: float | None
    ns_per_item: float | None
    bytes_per_item: float | None
    allocs_per_item: float | None
    peak_bytes: int | None
    note: str
    ideal_ratio: float | None = None
    ceiling_ratio: float | None = None
    read_ahead: int | None = None

    def as_dict(self) -> dict[str, object]:
        """Return the row as a JSON-ready mapping."""
        return asdict(self)
