"""Exporters that connect rxstreamz pipelines to the monitoring you already run.

Each backend is an optional extra, imported only when you import its module:

- ``rxstreamz.metrics.prometheus`` (``pip install rxstreamz[prometheus]``)
- ``rxstreamz.metrics.otel`` (``pip install rxstreamz[otel]``, API only)

Both offer the same three feeds, labelled by processor name only:

- ``instrument(name)``: a pass-through operator counting items and timing the
  downstream ``on_next`` of each one (a latency histogram);
- ``on_stats``: the callback for ``rxstreamz.monitor``;
- ``track(operator)``: reads a processor's ``stats()`` whenever metrics are
  collected (no polling thread) and exports every numeric field under its
  own name: the common ``received``, ``failed`` and ``dropped`` counters,
  the processor's own counters (``emitted``, ``retried`` ...) and levels
  (``queued``, ``in_flight`` ...), and a circuit breaker's state.

Without any extra, ``rxstreamz.stats_table`` (from ``rxstreamz.metrics.table``)
prints the same snapshots as a table.
"""
