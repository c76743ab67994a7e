"""Backpressure and bridges.

``buffer_``, ``dropping_buffer`` and ``sliding_buffer`` (``_buffers``), ``collect``,
``to_iterator``, ``to_async_iterator`` and ``from_async_iterable`` (``_bridges``),
``channel`` (``_channel``). The bounded queue they share is ``rxstreamz._queue``. The
modules are private: this package is their surface. Users import the processors and
their stats from ``rxstreamz``.
"""

from rxstreamz.backpressure._bridges import (
    ObservableAsyncIterator,
    ObservableIterator,
    collect,
    from_async_iterable,
    to_async_iterator,
    to_iterator,
)
from rxstreamz.backpressure._buffers import (
    Buffer,
    QueueStats,
    buffer_,
    dropping_buffer,
    sliding_buffer,
)
from rxstreamz.backpressure._channel import Channel, channel

__all__ = [
    "Buffer",
    "Channel",
    "ObservableAsyncIterator",
    "ObservableIterator",
    "QueueStats",
    "buffer_",
    "channel",
    "collect",
    "dropping_buffer",
    "from_async_iterable",
    "sliding_buffer",
    "to_async_iterator",
    "to_iterator",
]
