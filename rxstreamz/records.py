"""Records that flow through pipelines: windows, aggregates, dead letters, monitor reports.

All of them are frozen dataclasses: safe to share between threads, hashable
where their contents are, and printable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["AggregateWindow", "DeadLetter", "StreamStats", "Window"]

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)
_A = TypeVar("_A")


@dataclass(frozen=True, slots=True)
class Window(Generic[_T]):
    """The items that arrived in one time window.

    Attributes:
        start: Start of the window (inclusive), scheduler time.
        end: End of the window (exclusive), scheduler time.
        items: The items in arrival order; never empty.
        key: The session key for ``session_window`` with ``key=``; ``None`` otherwise.
    """

    start: datetime
    end: datetime
    items: list[_T]
    key: str | None = None


@dataclass(frozen=True, slots=True)
class AggregateWindow(Generic[_A]):
    """The result of folding one window of items with ``aggregate``.

    Attributes:
        result: The folded value.
        start: When the window started, scheduler time.
        end: When the window was emitted, scheduler time.
        count: How many items were folded into ``result``.
    """

    result: _A
    start: datetime
    end: datetime
    count: int


@dataclass(frozen=True, slots=True)
class DeadLetter(Generic[_T_co]):
    """An item that could not be processed, with why and where.

    Covariant in the item type (it is frozen): a ``DeadLetter[int]`` is a
    ``DeadLetter[object]``, so one sink typed for ``DeadLetter[object]``
    takes the dead letters of every processor.

    Attributes:
        item: The item, exactly as it reached the processor.
        error: The exception that ``errors="raise"`` would have forwarded.
        attempts: How many times the user function was called for this item
            (0 when it was rejected without a call, as by an open circuit).
        timestamp: Scheduler time of the final failure.
        processor: The ``name=`` of the processor that gave up on the item.
    """

    item: _T_co
    error: BaseException
    attempts: int
    timestamp: datetime
    processor: str


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One report from ``monitor``.

    Attributes:
        name: The monitor's ``name=``.
        count: Items seen since the previous report.
        total: Items seen since subscription.
        rate: ``count / interval_seconds`` (items per second).
        interval_seconds: Scheduler time since the previous report (or subscription).
        timestamp: Scheduler time of this report.
        latency_avg: Mean seconds spent in downstream ``on_next`` this interval,
            or ``None`` without ``latency=True`` or without items.
        latency_p50: Median of the same.
        latency_p99: 99th percentile of the same.
        latency_max: Maximum of the same.
    """

    name: str
    count: int
    total: int
    rate: float
    interval_seconds: float
    timestamp: datetime
    latency_avg: float | None = None
    latency_p50: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None
