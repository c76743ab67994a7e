"""Observability.

``monitor`` (``_monitor``), ``progress`` (``_progress``). The exporters are in
``rxstreamz.metrics``. The modules are private: this package is their surface. Users
import the processors and their stats from ``rxstreamz``.
"""

from rxstreamz.observability._monitor import Monitor, MonitorStats, monitor
from rxstreamz.observability._progress import Progress, ProgressStats, progress

__all__ = [
    "Monitor",
    "MonitorStats",
    "Progress",
    "ProgressStats",
    "monitor",
    "progress",
]
