"""rxstreamz: the stream processors of Go streamz as RxPY operators.

Every processor is a factory returning an operator for ``Observable.pipe``::

    source.pipe(filter_(is_valid), map_(enrich), chunk(100))

The public API is exactly what this module re-exports.
"""

from rxstreamz.bridges import (
    collect,
)
from rxstreamz.errors import (
    BackpressureError,
    CircuitOpenError,
    PartitionError,
    RetryExhaustedError,
    RxStreamzError,
)
from rxstreamz.progress import (
    Progress,
    progress,
)
from rxstreamz.transform import (
    SampleStats,
    TransformStats,
    chunk,
    filter_,
    flatten,
    map_,
    sample_,
    skip_,
    take_,
    tap_,
    unbatch,
)
from rxstreamz.types import (
    AggregateWindow,
    DeadLetter,
    StreamStats,
    Window,
)

__version__ = "0.1.0"

__all__ = [
    "AggregateWindow",
    "BackpressureError",
    "CircuitOpenError",
    "DeadLetter",
    "PartitionError",
    "Progress",
    "RetryExhaustedError",
    "RxStreamzError",
    "SampleStats",
    "StreamStats",
    "TransformStats",
    "Window",
    "chunk",
    "collect",
    "filter_",
    "flatten",
    "map_",
    "progress",
    "sample_",
    "skip_",
    "take_",
    "tap_",
    "unbatch",
]
