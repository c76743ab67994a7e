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
import os
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Literal

from rxstreamz.bench.cases import cases
from rxstreamz.bench.measure import machine, measure, steps
from rxstreamz.bench.model import DEFAULT_TABLES, TABLES, Table
from rxstreamz.bench.render import render, to_json

__all__ = ["main"]

DEFAULT_ITEMS = 200_000
QUICK_ITEMS = 20_000
DEFAULT_REPEAT = 3

ProgressKind = Literal["auto", "rich", "tqdm", "plain", "none"]


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
        choices=TABLES,
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
    tables: list[Table] = args.table or list(DEFAULT_TABLES)
    selected = cases(tables)
    described = machine()
    busy = _busy_warning()
    if busy:
        print(busy, file=sys.stderr, flush=True)
    with _progress(args.progress, steps(selected)) as progress:
        rows = measure(selected, items=items, repeat=repeat, progress=progress, clock=args.clock)
    output = render(
        rows,
        selected,
        described,
        items=items,
        repeat=repeat,
        markdown=args.markdown,
        clock=args.clock,
    )
    sys.stdout.write(output)
    sys.stdout.flush()
    if args.json is not None:
        document = to_json(rows, described, items=items, repeat=repeat, clock=args.clock)
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


if __name__ == "__main__":  # pragma: no cover - `python -m rxstreamz.bench.cli bench`
    sys.exit(main())
