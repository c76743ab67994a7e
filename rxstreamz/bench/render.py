"""The report of a benchmark run: aligned text or Markdown tables, and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from rxstreamz.bench.asyncio_cases import ASYNCIO_IMPLS, ASYNCIO_RIVALS
from rxstreamz.bench.measure import Clock
from rxstreamz.bench.model import IMPLS, TABLES, Case, Result, Table

__all__ = ["ASYNCIO_LABELS", "describe", "render", "size", "to_json"]

_TITLES: dict[Table, str] = {
    "processor": "Per-processor cost",
    "throughput": "Pipeline throughput",
    "fusion": "Fusion: a chain of filter_/map_ stages",
    "growth": "Growth: buffer_ beside observe_on as the stream grows",
    "workers": "Workers: async_map on a waiting call",
    "asyncio": "asyncio: one event loop, an async source to batches",
}
_IMPL_LABELS = {"rxstreamz": "rxstreamz", "rxpy": "RxPY", "plain": "plain loop"}


def describe(machine: dict[str, object]) -> str:
    """Return the one-line machine description printed above the tables."""
    gil = "" if machine.get("gil", True) else " (free-threaded)"
    model = machine.get("cpu_model")
    cpus = f"{machine['cpus']} CPUs" + (f", {model}" if model else "")
    return (
        f"{machine['python']}{gil}, {cpus}, {machine['platform']}, "
        f"reactivex {machine['reactivex']}, rxstreamz {machine['rxstreamz']}"
    )


def to_json(
    rows: Sequence[Result],
    machine: dict[str, object],
    *,
    items: int,
    repeat: int,
    clock: Clock = "wall",
) -> str:
    """Return the JSON document of a run (sorted keys, rounded numbers, today's date)."""
    document = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine,
        "settings": {"clock": clock, "items": items, "repeat": repeat},
        "rows": [_rounded(row) for row in rows],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _rounded(row: Result) -> dict[str, object]:
    data = row.as_dict()
    digits = {
        "seconds": 6,
        "items_per_s": 0,
        "ns_per_item": 1,
        "bytes_per_item": 2,
        "allocs_per_item": 4,
        "ideal_ratio": 4,
        "ceiling_ratio": 4,
    }
    for key, places in digits.items():
        value = data[key]
        if isinstance(value, float):
            data[key] = round(value, places) if places else round(value)
    return data


def render(
    rows: Sequence[Result],
    selected: Sequence[Case],
    machine: dict[str, object],
    *,
    items: int,
    repeat: int,
    markdown: bool,
    clock: Clock = "wall",
) -> str:
    """Return the report: the machine line and one table per table present."""
    timing = "wall time" if clock == "wall" else "CPU time, waiting excluded"
    lines = [
        f"Machine: {describe(machine)}",
        *([""] if markdown else []),
        f"Items per case: {items:,} (best of {repeat}, {timing}); ratios are speed-ups of "
        "rxstreamz (its items/s divided by the other's).",
    ]
    for table in TABLES:
        table_rows = [row for row in rows if row.table == table]
        if not table_rows:
            continue
        lines += ["", f"## {_TITLES[table]}" if markdown else _TITLES[table], ""]
        if table == "asyncio":
            header, body = _asyncio_table(table_rows, selected)
        else:
            header, body = _table(table, table_rows, selected)
        lines += _markdown(header, body) if markdown else _aligned(header, body)
    return "\n".join(lines) + "\n"


def _table(
    table: Table, rows: Sequence[Result], selected: Sequence[Case]
) -> tuple[list[str], list[list[str]]]:
    by_key = {(row.case, row.impl): row for row in rows}
    first = {
        "processor": "Processor",
        "throughput": "Pipeline",
        "fusion": "Chain",
        "growth": "Stream",
        "workers": "Workers",
    }[table]
    if table == "processor":
        metrics = ["ns/item", "B/item", "allocs/item", "peak memory"]
    elif table in {"throughput", "growth"}:
        metrics = ["items/s", "ns/item", "peak memory"]
    else:
        metrics = ["items/s", "ns/item"]
    header = [first, "impl", "items", *metrics, "vs RxPY", "vs plain", "note"]
    body: list[list[str]] = []
    for case in selected:
        if case.table != table:
            continue
        mine = by_key.get((case.name, "rxstreamz"))
        for impl in IMPLS:
            row = by_key.get((case.name, impl))
            if row is None:
                continue
            cells = [case.name if impl == "rxstreamz" else "", _IMPL_LABELS[impl], f"{row.items:,}"]
            cells += [_metric(name, row) for name in metrics]
            if impl == "rxstreamz" and mine is not None:
                cells += [
                    _ratio(mine, by_key.get((case.name, "rxpy"))),
                    _ratio(mine, by_key.get((case.name, "plain"))),
                ]
            else:
                cells += ["", ""]
            cells.append(row.note)
            body.append(cells)
    return header, body


def _metric(name: str, row: Result) -> str:
    if row.seconds is None:
        return "n/a"
    if name == "of nominal":
        return "-" if row.ideal_ratio is None else f"{row.ideal_ratio:.0%}"
    if name == "of ceiling":
        return "-" if row.ceiling_ratio is None else f"{row.ceiling_ratio:.0%}"
    if name == "read-ahead":
        return "-" if row.read_ahead is None else f"{row.read_ahead:,}"
    if name == "items/s":
        return f"{row.items_per_s:,.0f}"
    if name == "ns/item":
        return f"{row.ns_per_item:,.0f}"
    if name == "B/item":
        return "-" if row.bytes_per_item is None else f"{row.bytes_per_item:,.1f}"
    if name == "allocs/item":
        return "-" if row.allocs_per_item is None else f"{row.allocs_per_item:.2f}"
    return "-" if row.peak_bytes is None else size(row.peak_bytes)


ASYNCIO_LABELS = {
    "rxstreamz": "rxstreamz",
    "aiostream": "aiostream",
    "streamz": "python-streamz",
    "plain": "plain asyncio",
    "ceiling": "ceiling",
}
"""How the asyncio table (and the docs block made from it) names each implementation."""


def _asyncio_table(
    rows: Sequence[Result], selected: Sequence[Case]
) -> tuple[list[str], list[list[str]]]:
    """The ``asyncio`` table: throughput against the nominal rate and the ceiling, ratios."""
    by_key = {(row.case, row.impl): row for row in rows}
    metrics = ["items/s", "of nominal", "of ceiling", "read-ahead", "peak memory"]
    header = ["Pipeline", "impl", "items", *metrics]
    header += [f"vs {ASYNCIO_LABELS[impl]}" for impl in ASYNCIO_RIVALS]
    header.append("note")
    body: list[list[str]] = []
    for case in selected:
        if case.table != "asyncio":
            continue
        mine = by_key.get((case.name, "rxstreamz"))
        for impl in ASYNCIO_IMPLS:
            row = by_key.get((case.name, impl))
            if row is None:
                continue
            first = case.name if impl == "rxstreamz" else ""
            cells = [first, ASYNCIO_LABELS[impl], f"{row.items:,}"]
            cells += [_metric(name, row) for name in metrics]
            if impl == "rxstreamz" and mine is not None:
                cells += [_ratio(mine, by_key.get((case.name, other))) for other in ASYNCIO_RIVALS]
            else:
                cells += [""] * len(ASYNCIO_RIVALS)
            cells.append(row.note)
            body.append(cells)
    return header, body


def _ratio(mine: Result, other: Result | None) -> str:
    if other is None or mine.ns_per_item is None or other.ns_per_item is None:
        return "n/a"
    return f"{other.ns_per_item / mine.ns_per_item:.2f}x"


def size(n: int) -> str:
    """Format a number of bytes in the unit that reads best (B, KiB, MiB, GiB)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _aligned(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    left = {0, 1, len(header) - 1}

    def line(cells: list[str]) -> str:
        parts = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in body)]


def _markdown(header: list[str], body: list[list[str]]) -> list[str]:
    left = {0, 1, len(header) - 1}
    rule = [":---" if i in left else "---:" for i in range(len(header))]
    return ["| " + " | ".join(cells) + " |" for cells in [header, rule, *body]]
