"""Concurrency.

``async_map`` (``_async_map``): threads, processes, Dask or asyncio, results in input
order. The modules are private: this package is their surface, and ``rxstreamz`` re-
exports it.
"""

from rxstreamz.concurrency._async_map import AsyncMap, AsyncMapStats, async_map

__all__ = [
    "AsyncMap",
    "AsyncMapStats",
    "async_map",
]
