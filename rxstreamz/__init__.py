"""rxstreamz: the stream processors of Go streamz as RxPY operators.

Every processor is a factory returning an operator for ``Observable.pipe``:

```python
source.pipe(filter_(is_valid), map_(enrich), chunk(100))
```

The public API is exactly what this module re-exports.
"""

from rxstreamz._typing import (
    BreakerOperator,
    Operator,
)
from rxstreamz.aggregate import (
    AggregateStats,
    Fold,
    aggregate,
    folds,
)
from rxstreamz.batch import (
    BatchStats,
    batch,
)
from rxstreamz.breaker import (
    CircuitBreaker,
    CircuitBreakerOperatorStats,
    CircuitBreakerStats,
    CircuitState,
    circuit_breaker,
)
from rxstreamz.bridges import (
    ObservableAsyncIterator,
    ObservableIterator,
    collect,
    from_async_iterable,
    to_async_iterator,
    to_iterator,
)
from rxstreamz.buffers import (
    QueueStats,
    buffer_,
    dropping_buffer,
    sliding_buffer,
)
from rxstreamz.channel import (
    Channel,
    channel,
)
from rxstreamz.chunk import (
    ChunkStats,
    UnbatchStats,
    chunk,
    flatten,
    unbatch,
)
from rxstreamz.concurrency import (
    AsyncMapStats,
    async_map,
)
from rxstreamz.dead_letters import (
    DeadLetterStats,
    dead_letter,
)
from rxstreamz.debounce import (
    DebounceStats,
    debounce_,
)
from rxstreamz.dedupe import (
    DedupeStats,
    dedupe,
)
from rxstreamz.errors import (
    BackpressureError,
    CircuitOpenError,
    PartitionError,
    RetryExhaustedError,
    RxStreamzError,
)
from rxstreamz.metrics.table import (
    stats_table,
)
from rxstreamz.monitor import (
    MonitorStats,
    monitor,
)
from rxstreamz.progress import (
    Progress,
    ProgressStats,
    progress,
)
from rxstreamz.retry import (
    RetryStats,
    retry_,
)
from rxstreamz.routing import (
    FanInStats,
    FanOutStats,
    PartitionStats,
    RouterStats,
    SplitStats,
    SwitchStats,
    fan_in,
    fan_out,
    fnv1a_32,
    partition_,
    router,
    split,
    switch,
)
from rxstreamz.throttle import (
    ThrottleStats,
    throttle,
)
from rxstreamz.transform import (
    FilterStats,
    SampleStats,
    SkipStats,
    TakeStats,
    TransformStats,
    filter_,
    map_,
    sample_,
    skip_,
    take_,
    tap_,
)
from rxstreamz.types import (
    AggregateWindow,
    DeadLetter,
    StreamStats,
    Window,
)
from rxstreamz.windows import (
    SessionWindowStats,
    TimeWindowStats,
    session_window,
    sliding_window,
    tumbling_window,
)

__version__ = "0.1.0"

__all__ = [
    "AggregateStats",
    "AggregateWindow",
    "AsyncMapStats",
    "BackpressureError",
    "BatchStats",
    "BreakerOperator",
    "Channel",
    "ChunkStats",
    "CircuitBreaker",
    "CircuitBreakerOperatorStats",
    "CircuitBreakerStats",
    "CircuitOpenError",
    "CircuitState",
    "DeadLetter",
    "DeadLetterStats",
    "DebounceStats",
    "DedupeStats",
    "FanInStats",
    "FanOutStats",
    "FilterStats",
    "Fold",
    "MonitorStats",
    "ObservableAsyncIterator",
    "ObservableIterator",
    "Operator",
    "PartitionError",
    "PartitionStats",
    "Progress",
    "ProgressStats",
    "QueueStats",
    "RetryExhaustedError",
    "RetryStats",
    "RouterStats",
    "RxStreamzError",
    "SampleStats",
    "SessionWindowStats",
    "SkipStats",
    "SplitStats",
    "StreamStats",
    "SwitchStats",
    "TakeStats",
    "ThrottleStats",
    "TimeWindowStats",
    "TransformStats",
    "UnbatchStats",
    "Window",
    "aggregate",
    "async_map",
    "batch",
    "buffer_",
    "channel",
    "chunk",
    "circuit_breaker",
    "collect",
    "dead_letter",
    "debounce_",
    "dedupe",
    "dropping_buffer",
    "fan_in",
    "fan_out",
    "filter_",
    "flatten",
    "fnv1a_32",
    "folds",
    "from_async_iterable",
    "map_",
    "monitor",
    "partition_",
    "progress",
    "retry_",
    "router",
    "sample_",
    "session_window",
    "skip_",
    "sliding_buffer",
    "sliding_window",
    "split",
    "stats_table",
    "switch",
    "take_",
    "tap_",
    "throttle",
    "to_async_iterator",
    "to_iterator",
    "tumbling_window",
    "unbatch",
]
