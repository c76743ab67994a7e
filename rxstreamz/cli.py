"""The ``rxstreamz`` command line: ``rxstreamz bench``.

``rxstreamz bench`` measures the processors of this installation beside
RxPY's nearest built-ins and a plain Python loop (in the asyncio table:
aiostream, python-streamz and hand-written asyncio), on this machine, and
prints the tables of the performance guide (``docs/performance.md``):

```text
rxstreamz bench                 # a few minutes on 2 cores (the asyncio table waits on its calls)
rxstreamz bench --quick         # a few seconds, for a smoke check
rxstreamz bench --items 1000000 --repeat 5 --json bench.json
rxstreamz bench --markdown      # tables ready for a docs page
```

Tables go to stdout, progress to stderr (rich if installed, else tqdm, else
plain lines).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rxstreamz import _bench
from rxstreamz._bench import Case, Row, Table

__all__ = ["main"]

DEFAULT_ITEMS = 200_000
QUICK_ITEMS = 20_000
DEFAULT_REPEAT = 3

ProgressKind = Literal["auto", "rich", "tqdm", "plain", "none"]

_TITLES: dict[Table, str] = {
    "processor": "Per-processor cost",
    "throughput": "Pipeline throughput",
    "fusion": "Fusion: a chain of filter_/map_ stages",
    "growth": "Growth: buffer_ beside observe_on as the stream grows",
    "workers": "Workers: async_map on a waiting call",
    "asyncio": "asyncio: one event loop, an async source to batches",
}
_IMPL_LABELS = {"rxstreamz": "rxstreamz", "rxpy": "RxPY", "plain": "plain loop"}


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxstreamz", description="Tools for rxstreamz pipelines.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = commands.add_parser(
        "bench",
        help="measure the processors beside RxPY and a plain loop",
        description=(
            "Measure rxstreamz processors and pipelines beside RxPY's nearest built-ins "
            "and a plain Python loop on the same data, and print the tables of "
            "docs/performance.md. Ratios are speed-ups: rxstreamz items/s divided by "
            "the other implementation's items/s (above 1 means rxstreamz is faster)."
        ),
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help=f"a few seconds: {QUICK_ITEMS:,} items, one timed run per row",
    )
    bench.add_argument(
        "--items",
        type=_positive_int,
        metavar="N",
        help=f"items per case (default {DEFAULT_ITEMS:,}; slow cases use a fraction)",
    )
    bench.add_argument(
        "--repeat",
        type=_positive_int,
        metavar="K",
        help=f"timed runs per row, the best is kept (default {DEFAULT_REPEAT})",
    )
    bench.add_argument(
        "--table",
        action="append",
        choices=_bench.TABLES,
        help=(
            "only this table (repeatable; default: processor, throughput and fusion; "
            "growth and workers feed the charts of the performance guide)"
        ),
    )
    bench.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help=(
            "wall: elapsed time (default); cpu: CPU time of the process, steadier on a busy "
            "machine but blind to waiting, so concurrent cases look faster than they are"
        ),
    )
    bench.add_argument("--json", type=Path, metavar="PATH", help="also write the rows as JSON")
    bench.add_argument(
        "--markdown", action="store_true", help="print markdown tables instead of aligned text"
    )
    bench.add_argument(
        "--progress",
        choices=("auto", "rich", "tqdm", "plain", "none"),
        default="auto",
        help="progress display on stderr (default: rich, else tqdm, else plain lines)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rxstreamz`` command line.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` if ``None``.

    Returns:
        The exit status.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "bench":
        if args.json is not None and not args.json.parent.is_dir():
            parser.error(f"argument --json: no directory {str(args.json.parent)!r}")
        return _bench_command(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _bench_command(args: argparse.Namespace) -> int:
    quick: bool = args.quick
    items: int = args.items or (QUICK_ITEMS if quick else DEFAULT_ITEMS)
    repeat: int = args.repeat or (1 if quick else DEFAULT_REPEAT)
    tables: list[Table] = args.table or list(_bench.DEFAULT_TABLES)
    selected = [case for case in _bench.cases() if case.table in tables]
    machine = _bench.machine()
    busy = _busy_warning()
    if busy:
        print(busy, file=sys.stderr, flush=True)
    with _progress(args.progress, _bench.steps(selected)) as progress:
        rows = _bench.measure(
            selected, items=items, repeat=repeat, progress=progress, clock=args.clock
        )
    output = render(
        rows,
        selected,
        machine,
        items=items,
        repeat=repeat,
        markdown=args.markdown,
        clock=args.clock,
    )
    sys.stdout.write(output)
    sys.stdout.flush()
    if args.json is not None:
        document = to_json(rows, machine, items=items, repeat=repeat, clock=args.clock)
        args.json.write_text(document, encoding="utf-8")
    return 0


def _busy_warning() -> str:
    """Return a warning when other work keeps the CPUs busy (numbers get noisy)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        return ""
    cpus = os.cpu_count() or 1
    if load <= cpus:
        return ""
    return (
        f"warning: load average {load:.1f} on {cpus} CPUs; other work shares this machine, "
        "expect noisy numbers"
    )


# -- progress --------------------------------------------------------------------------


@contextlib.contextmanager
def _progress(kind: ProgressKind, total: int) -> Generator[Callable[[str], None], None, None]:
    if kind == "auto":
        if importlib.util.find_spec("rich") is not None:
            kind = "rich"
        elif importlib.util.find_spec("tqdm") is not None:
            kind = "tqdm"
        else:
            kind = "plain"
    if kind == "rich":
        with _rich_progress(total) as progress:
            yield progress
    elif kind == "tqdm":
        with _tqdm_progress(total) as progress:
            yield progress
    elif kind == "plain":
        yield _plain_progress(total)
    else:
        yield _no_progress


def _no_progress(message: str) -> None:
    del message


def _plain_progress(total: int) -> Callable[[str], None]:
    done = 0

    def report(message: str) -> None:
        nonlocal done
        done += 1
        print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)

    return report


@contextlib.contextmanager
def _rich_progress(total: int) -> Generator[Callable[[str], None], None, None]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=total)
        started = False

        def report(message: str) -> None:
            nonlocal started
            bar.update(task, description=message, advance=1 if started else 0)
            started = True

        yield report
        bar.update(task, completed=total)


@contextlib.contextmanager
def _tqdm_progress(total: int) -> Generator[Callable[[str], None], None, None]:
    from tqdm import tqdm

    with tqdm(total=total, file=sys.stderr, unit="run", leave=False) as bar:
        started = False

        def report(message: str) -> None:
            nonlocal started
            bar.set_description_str(message, refresh=False)
            if started:
                bar.update(1)
            started = True

        yield report
        bar.update(total - bar.n)


# -- output ----------------------------------------------------------------------------


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
    rows: Sequence[Row],
    machine: dict[str, object],
    *,
    items: int,
    repeat: int,
    clock: _bench.Clock = "wall",
) -> str:
    """Return the JSON document of a run (sorted keys, rounded numbers, today's date)."""
    document = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine,
        "settings": {"clock": clock, "items": items, "repeat": repeat},
        "rows": [_rounded(row) for row in rows],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _rounded(row: Row) -> dict[str, object]:
    data = row.as_dict()
    digits = {
        "seconds": 6,
        "items_per_s": 0,
        "ns_per_item": 1,
        "bytes_per_item": 2,
        "allocs_per_item": 4,
        "ideal_ratio": 4,
    }
    for key, places in digits.items():
        value = data[key]
        if isinstance(value, float):
            data[key] = round(value, places) if places else round(value)
    return data


def render(
    rows: Sequence[Row],
    selected: Sequence[Case],
    machine: dict[str, object],
    *,
    items: int,
    repeat: int,
    markdown: bool,
    clock: _bench.Clock = "wall",
) -> str:
    """Return the report: the machine line and one table per table present."""
    timing = "wall time" if clock == "wall" else "CPU time, waiting excluded"
    lines = [
        f"Machine: {describe(machine)}",
        *([""] if markdown else []),
        f"Items per case: {items:,} (best of {repeat}, {timing}); ratios are speed-ups of "
        "rxstreamz (its items/s divided by the other's).",
    ]
    for table in _bench.TABLES:
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
    table: Table, rows: Sequence[Row], selected: Sequence[Case]
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
        for impl in _bench.IMPLS:
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


def _metric(name: str, row: Row) -> str:
    if row.seconds is None:
        return "n/a"
    if name == "of ideal":
        return "-" if row.ideal_ratio is None else f"{row.ideal_ratio:.0%}"
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
    return "-" if row.peak_bytes is None else _size(row.peak_bytes)


_ASYNCIO_LABELS = {
    "rxstreamz": "rxstreamz",
    "aiostream": "aiostream",
    "streamz": "python-streamz",
    "plain": "plain asyncio",
}


def _asyncio_table(
    rows: Sequence[Row], selected: Sequence[Case]
) -> tuple[list[str], list[list[str]]]:
    """The ``asyncio`` table: throughput against the ideal, read-ahead, ratios."""
    by_key = {(row.case, row.impl): row for row in rows}
    metrics = ["items/s", "of ideal", "read-ahead", "peak memory"]
    others = _bench.ASYNCIO_IMPLS[1:]
    header = ["Pipeline", "impl", "items", *metrics]
    header += [f"vs {_ASYNCIO_LABELS[impl]}" for impl in others]
    header.append("note")
    body: list[list[str]] = []
    for case in selected:
        if case.table != "asyncio":
            continue
        mine = by_key.get((case.name, "rxstreamz"))
        for impl in _bench.ASYNCIO_IMPLS:
            row = by_key.get((case.name, impl))
            if row is None:
                continue
            first = case.name if impl == "rxstreamz" else ""
            cells = [first, _ASYNCIO_LABELS[impl], f"{row.items:,}"]
            cells += [_metric(name, row) for name in metrics]
            if impl == "rxstreamz" and mine is not None:
                cells += [_ratio(mine, by_key.get((case.name, other))) for other in others]
            else:
                cells += [""] * len(others)
            cells.append(row.note)
            body.append(cells)
    return header, body


def _ratio(mine: Row, other: Row | None) -> str:
    if other is None or mine.ns_per_item is None or other.ns_per_item is None:
        return "n/a"
    return f"{other.ns_per_item / mine.ns_per_item:.2f}x"


def _size(n: int) -> str:
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


if __name__ == "__main__":  # pragma: no cover - `python -m rxstreamz.cli bench`
    sys.exit(main())
