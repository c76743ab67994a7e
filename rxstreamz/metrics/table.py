"""``stats_table``: every processor's counters, one aligned row each.

No extra needed: this reads the same ``stats()`` snapshots as the exporters and
prints them as plain text, for a terminal, a log line or a debugger session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO, cast

from rxstreamz.metrics._sources import COMMON, HasStats, is_number, snapshot_fields, type_name

__all__ = ["stats_table"]

OUT_FIELDS: tuple[str, ...] = ("emitted", "delivered", "completed", "succeeded", "passed", "kept")
"""What the ``emitted`` column shows: the first of these fields the snapshot has."""

_HEADER = ("processor", "type", "received", "emitted", "failed", "dropped", "other")
_NUMERIC = frozenset({2, 3, 4, 5})
"""Columns aligned to the right."""


def stats_table(*operators: HasStats | Mapping[str, HasStats], file: IO[str] | None = None) -> str:
    """Return one row per processor with its ``stats()`` counters, column-aligned.

    The columns are the processor's name and type, the common counters
    ``received``, ``failed`` and ``dropped``, what it passed on, and every
    other field of its snapshot as ``field=value``. When a pipeline is
    stuck, the row whose ``queued`` or ``in_flight`` stays up while
    ``received`` stops moving is where items wait; ``received`` against the
    other columns shows where items went.

    ```text
    processor  type    received  emitted  failed  dropped  other
    ingest     Buffer        10        4       0        6  queued=0 high_watermark=4
    ```

    Behavior:
        - Rows in the order given; a mapping names its processors by its keys,
          otherwise a processor's ``name`` is used (its type if it has none).
        - The ``emitted`` column shows ``emitted`` or, for a processor that
          calls it otherwise, the first of ``delivered``, ``completed``,
          ``succeeded``, ``passed``, ``kept``; that field is then not
          repeated under ``other``.
        - A missing common field shows as ``-``: a processor of another
          library still gets its row.
        - Reads each ``stats()`` once, on the calling thread; safe while the
          pipeline runs (each snapshot is consistent on its own).

    Examples:
        >>> class Stuck:
        ...     name = "enrich"
        ...
        ...     def stats(self) -> dict[str, int]:
        ...         counts = dict(received=12, failed=1, dropped=0, completed=3)
        ...         return counts | dict(in_flight=8, high_watermark=8)
        >>> print(stats_table(Stuck(), {"lookup": Stuck()}))
        processor  type   received  emitted  failed  dropped  other
        enrich     Stuck        12        3       1        0  in_flight=8 high_watermark=8
        lookup     Stuck        12        3       1        0  in_flight=8 high_watermark=8

    Args:
        *operators: Processors with ``stats()``, or mappings of names to them.
        file: Also write the table (and a final newline) to this stream.

    Returns:
        The table, lines joined by newlines, without a final newline.

    Raises:
        TypeError: an argument has no ``stats()`` method, or ``file`` has no
            ``write()``.
    """
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file must have a write() method, got {type(file).__name__}")
    named: list[tuple[str, HasStats]] = []
    for argument in operators:
        if isinstance(argument, Mapping):
            named += [(str(label), op) for label, op in argument.items()]
        else:
            named.append((_own_name(argument), argument))
    for label, operator in named:
        if not callable(getattr(operator, "stats", None)):
            raise TypeError(f"{label!r} must have a stats() method, got {type(operator).__name__}")
    rows = [_HEADER, *(_row(label, operator) for label, operator in named)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADER))]
    text = "\n".join(
        "  ".join(
            cell.rjust(width) if column in _NUMERIC else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )
    if file is not None:
        file.write(text + "\n")
    return text


def _own_name(operator: object) -> str:
    own = getattr(operator, "name", None)
    return own if isinstance(own, str) and own else type_name(operator)


def _row(label: str, operator: HasStats) -> tuple[str, ...]:
    values = snapshot_fields(operator.stats())
    out = next((field for field in OUT_FIELDS if field in values), None)
    received, failed, dropped = (_cell(values.get(field)) for field in COMMON)
    other = " ".join(
        f"{field}={_cell(value)}"
        for field, value in values.items()
        if field not in COMMON and field != out
    )
    emitted = _cell(values.get(out)) if out is not None else "-"
    return (label, type_name(operator), received, emitted, failed, dropped, other)


def _cell(value: object) -> str:
    """Format one value compactly: no spaces, so a row splits on whitespace."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    if is_number(value) or isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        pairs = cast("Mapping[object, object]", value).items()
        return "{" + ",".join(f"{k}:{_cell(v)}" for k, v in pairs) + "}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_cell(v) for v in cast("Iterable[object]", value)) + ")"
    return repr(value).replace(" ", "")
