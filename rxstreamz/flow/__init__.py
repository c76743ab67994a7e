"""Flow control.

``debounce_`` (``_debounce``), ``throttle`` (``_throttle``), ``dedupe`` (``_dedupe``).
The modules are private: this package is their surface. Users import the processors and
their stats from ``rxstreamz``.
"""

from rxstreamz.flow._debounce import Debounce, DebounceStats, debounce_
from rxstreamz.flow._dedupe import Dedupe, DedupeStats, KeyedDedupe, dedupe
from rxstreamz.flow._throttle import Throttle, ThrottleStats, throttle

__all__ = [
    "Debounce",
    "DebounceStats",
    "Dedupe",
    "DedupeStats",
    "KeyedDedupe",
    "Throttle",
    "ThrottleStats",
    "debounce_",
    "dedupe",
    "throttle",
]
