"""Per-item transforms.

``map_``, ``filter_``, ``tap_``, ``take_``, ``skip_`` and ``sample_`` (``_items``, fused
into one ``on_next`` by ``rxstreamz._fusion``), ``chunk``, ``unbatch`` and ``flatten``
(``_chunk``). The modules are private: this package is their surface. Users import the
processors and their stats from ``rxstreamz``.
"""

from rxstreamz.transform._chunk import (
    Chunk,
    ChunkStats,
    Unbatch,
    UnbatchStats,
    chunk,
    flatten,
    unbatch,
)
from rxstreamz.transform._items import (
    Filter,
    FilterStats,
    Map,
    Sample,
    SampleStats,
    Skip,
    SkipStats,
    Take,
    TakeStats,
    Tap,
    TransformStats,
    filter_,
    map_,
    sample_,
    skip_,
    take_,
    tap_,
)

__all__ = [
    "Chunk",
    "ChunkStats",
    "Filter",
    "FilterStats",
    "Map",
    "Sample",
    "SampleStats",
    "Skip",
    "SkipStats",
    "Take",
    "TakeStats",
    "Tap",
    "TransformStats",
    "Unbatch",
    "UnbatchStats",
    "chunk",
    "filter_",
    "flatten",
    "map_",
    "sample_",
    "skip_",
    "take_",
    "tap_",
    "unbatch",
]
