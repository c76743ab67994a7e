"""Batching and windows.

``batch`` (``_batch``), ``tumbling_window``, ``sliding_window`` and ``session_window``
(``_windows``), ``aggregate`` and ``folds`` (``_aggregate``). The modules are private:
this package is their surface. Users import the processors and their stats from
``rxstreamz``.
"""

from rxstreamz.batching._aggregate import Aggregate, AggregateStats, Fold, aggregate, folds
from rxstreamz.batching._batch import Batch, BatchStats, batch
from rxstreamz.batching._windows import (
    KeyedSessionWindow,
    SessionWindow,
    SessionWindowStats,
    TimeWindow,
    TimeWindowStats,
    session_window,
    sliding_window,
    tumbling_window,
)

__all__ = [
    "Aggregate",
    "AggregateStats",
    "Batch",
    "BatchStats",
    "Fold",
    "KeyedSessionWindow",
    "SessionWindow",
    "SessionWindowStats",
    "TimeWindow",
    "TimeWindowStats",
    "aggregate",
    "batch",
    "folds",
    "session_window",
    "sliding_window",
    "tumbling_window",
]
