"""Every figure the README and the docs quote, written from ``rxstreamz bench --json``.

Usage::

    python tools/perf_numbers.py docs/assets/bench.json          # rewrite the blocks
    python tools/perf_numbers.py docs/assets/bench.json --check  # exit 1 if one is stale

(``make charts`` runs it after drawing the charts.) A Markdown page asks for
figures with a pair of comments; everything between them is replaced::

    <!-- bench:fusion -->
    (generated: a sentence naming the machine and the date, then a table)
    <!-- /bench -->

A block may take an argument: ``<!-- bench:case processor/batch(100) -->``
is the three rows of one case. ``BLOCKS`` lists the names. Each block states
once which machine ran the benchmark, when, and how (items, repeats, clock),
and names every baseline by what actually ran (``ThreadPoolExecutor.map``,
``observe_on(EventLoopScheduler())``...), never as a generic "plain loop".

Ratios are speed-ups of rxstreamz: the baseline's time per item divided by
rxstreamz's. Above 1, rxstreamz is faster. Where a baseline ran fewer items
(RxPY's ``observe_on``, ``distinct()`` and ``debounce`` are capped, see
``rxstreamz/bench/cases.py``), the table says how many.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rxstreamz.bench import render
from rxstreamz.bench.asyncio_cases import ASYNCIO_IMPLS, ASYNCIO_LATENCY, ASYNCIO_WORKERS
from rxstreamz.bench.cases import THROTTLE_BURST
from rxstreamz.bench.model import IMPLS

ROOT = Path(__file__).resolve().parent.parent
TIMES = "\N{MULTIPLICATION SIGN}"
"""What follows a speed-up in the generated text."""

BLOCK = re.compile(
    r"(?P<open><!-- bench:(?P<name>[a-z0-9-]+)(?: (?P<arg>[^>]*?))? -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /bench -->)",
    re.DOTALL,
)
"""A generated block: its opening comment, the generated text, the closing comment."""


def pages(root: Path = ROOT) -> list[Path]:
    """Return the Markdown pages that may hold blocks: the README and every page of docs/."""
    return sorted([root / "README.md", *(root / "docs").rglob("*.md")])


# -- what each baseline really is ------------------------------------------------------

_POOL = "`ThreadPoolExecutor({w}).map`"
_FLAT_MAP = "`flat_map` onto `ThreadPoolExecutor({w})` futures"

BASELINES: dict[tuple[str, str], tuple[str, str]] = {
    ("processor", "filter_"): ("`ops.filter`", "a `for` loop"),
    ("processor", "map_"): ("`ops.map`", "a `for` loop"),
    ("processor", "async_map(workers=1)"): (_FLAT_MAP.format(w=1), _POOL.format(w=1)),
    ("processor", "async_map(workers=10)"): (_FLAT_MAP.format(w=10), _POOL.format(w=10)),
    ("processor", "batch(100)"): ("`buffer_with_count(100)`", "a loop building lists of 100"),
    ("processor", "buffer_(1000)"): (
        "`observe_on(EventLoopScheduler())`",
        "`queue.Queue(1000)` and a consumer thread",
    ),
    ("processor", "dedupe()"): ("`distinct()`", "a `set` and a loop"),
    ("processor", "debounce_(1.0) burst"): (
        "`debounce(1.0)`",
        "a loop keeping the latest item and its time",
    ),
    ("processor", "circuit_breaker(fn)"): (
        "`ops.map`, no protection",
        "a loop with `try`/`except` and a failure counter",
    ),
    ("processor", "retry_(fn)"): ("`ops.map`, no protection", "a loop with `try`/`except`"),
    ("processor", "dead_letter(fn)"): (
        "`ops.map`, no protection",
        "a loop with `try`/`except`, failures set aside",
    ),
    ("processor", "throttle(1e9) full bucket"): (
        "none (`throttle_first` and `sample` drop items)",
        "a loop taking a token from a bucket per item",
    ),
    ("processor", "tumbling_window(1.0) burst"): (
        "`buffer_with_time(1.0)`",
        "a loop reading `time.time()` per item, a list per window",
    ),
    ("throughput", "Simple filter+map"): ("`ops.filter`, `ops.map`", "a `for` loop"),
    ("throughput", "Batched processing"): (
        "`buffer_with_count(100)`, `ops.map`",
        "a loop building lists of 100",
    ),
    ("throughput", "Async processing (10 workers)"): (
        _FLAT_MAP.format(w=10),
        _POOL.format(w=10),
    ),
    ("throughput", "Complex pipeline"): (
        "`ops.filter`, `ops.map`, `buffer_with_count(100)`, `ops.map`",
        "a generator and a loop building lists of 100",
    ),
    ("throughput", "Complex pipeline, timed batch"): (
        "`ops.filter`, `ops.map`, `buffer_with_count(100)`, `ops.map`",
        "a generator and a loop building lists of 100",
    ),
    ("throughput", "Fused chunk pipeline"): (
        "`ops.filter`, `ops.map`, `buffer_with_count(100)`, `ops.map`",
        "a `for` loop making the same calls",
    ),
}
"""(table, case) -> (what ran as "rxpy", what ran as "plain")."""

FUSION_BASELINES = ("the same chain of `ops.filter`/`ops.map`", "one `for` loop calling each stage")
GROWTH_BASELINES = (
    "`observe_on(EventLoopScheduler())`",
    "`queue.Queue(1000)` and a consumer thread",
)
WORKERS_BASELINES = ("`flat_map` onto pool futures", "`ThreadPoolExecutor.map`")


def baselines(table: str, case: str) -> tuple[str, str]:
    """Return what ran as the RxPY and the plain baseline of a case."""
    if table == "fusion":
        return FUSION_BASELINES
    if table == "growth":
        return GROWTH_BASELINES
    if table == "workers":
        return WORKERS_BASELINES
    try:
        return BASELINES[table, case]
    except KeyError:
        raise KeyError(
            f"no baseline label for {table}/{case}: add it to BASELINES in tools/perf_numbers.py"
        ) from None


# -- reading the run -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bench:
    """One ``rxstreamz bench --json`` document, looked up by (table, case, impl)."""

    document: dict[str, Any]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [row for row in self.document["rows"] if row["table"] == table]

    def cases(self, table: str) -> list[str]:
        return list(dict.fromkeys(row["case"] for row in self.rows(table)))

    def row(self, table: str, case: str, impl: str) -> dict[str, Any]:
        row = self.measured(table, case, impl)
        if row is None:
            note = self.unmeasured(table, case, impl)["note"]
            raise ValueError(f"{table}/{case} [{impl}] was not measured: {note}")
        return row

    def measured(self, table: str, case: str, impl: str) -> dict[str, Any] | None:
        """Return the row, or ``None`` where the run had nothing to measure (see its note)."""
        row = self.unmeasured(table, case, impl)
        return None if row["ns_per_item"] is None else row

    def unmeasured(self, table: str, case: str, impl: str) -> dict[str, Any]:
        """Return the row, measured or not."""
        for row in self.document["rows"]:
            if (row["table"], row["case"], row["impl"]) == (table, case, impl):
                return row
        raise KeyError(
            f"the bench JSON has no row {table}/{case} [{impl}]: run `make charts` "
            "(it measures every table the docs quote)"
        )

    def speedup(self, table: str, case: str, impl: str) -> float:
        """Return how many times faster rxstreamz ran than ``impl`` (per item)."""
        mine = self.row(table, case, "rxstreamz")["ns_per_item"]
        return float(self.row(table, case, impl)["ns_per_item"]) / float(mine)

    def speedup_or_na(self, table: str, case: str, impl: str) -> str:
        """Return the formatted speed-up over ``impl``, ``n/a`` where it has no row to run."""
        if self.measured(table, case, impl) is None:
            return "n/a"
        return times(self.speedup(table, case, impl))

    def source(self) -> str:
        """Return the sentence naming the run: machine, date, items, repeats, clock."""
        machine = self.document.get("machine", {})
        settings = self.document.get("settings", {})
        return (
            f"Measured by `rxstreamz bench` on {self.document.get('date', 'an unknown date')}: "
            f"{machine.get('cpu_model', 'unknown CPU')}, {machine.get('cpus', '?')} CPUs, "
            f"{machine.get('python', '?')}, reactivex {machine.get('reactivex', '?')}, "
            f"rxstreamz {machine.get('rxstreamz', '?')}; up to {settings.get('items', 0):,} "
            f"items per case, best of {settings.get('repeat', '?')}, "
            f"{settings.get('clock', 'wall')} time."
        )


# -- formatting ------------------------------------------------------------------------


def times(value: float) -> str:
    """Format a speed-up: two significant digits, then ``TIMES``."""
    if value >= 10:
        return f"{value:,.0f}{TIMES}"
    if value >= 1:
        return f"{value:.1f}{TIMES}"
    return f"{value:.2f}{TIMES}"


def rate(row: dict[str, Any]) -> str:
    return f"{row['items_per_s']:,.0f}"


def per_item(row: dict[str, Any]) -> str:
    """Format the time per item in the unit that reads best."""
    ns = float(row["ns_per_item"])
    if ns >= 1_000_000:
        return f"{ns / 1e6:,.1f} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:,.1f} µs"
    return f"{ns:,.0f} ns"


def size(n: int | None) -> str:
    """Format a number of bytes as the bench report does, ``-`` where not measured."""
    return "-" if n is None else render.size(n)


def code(case: str) -> str:
    """Return a case name with its operator as code: ``debounce_(1.0) burst``."""
    operator, _, rest = case.partition(" ")
    return f"`{operator}` {rest}" if rest else f"`{operator}`"


def count(row: dict[str, Any]) -> str:
    return f"{row['items']:,}"


def table(header: Sequence[str], body: Iterable[Sequence[str]], right: Sequence[int]) -> str:
    """Return a Markdown table; the columns in ``right`` are right-aligned."""
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(cells) + " |" for cells in [header, rule, *body]]
    return "\n".join(lines)


def fewer(bench: Bench, table_name: str, case: str, impl: str) -> str:
    """Return `` (N items)`` when ``impl`` ran fewer items than rxstreamz, else ``""``."""
    mine = bench.row(table_name, case, "rxstreamz")["items"]
    theirs = bench.measured(table_name, case, impl)
    return "" if theirs is None or theirs["items"] == mine else f" ({theirs['items']:,} items)"


# -- the blocks ------------------------------------------------------------------------

SUMMARY = (
    ("fusion", "2 stages", "rxpy", "fused `filter_` → `map_`"),
    ("fusion", "6 stages", "rxpy", "a fused chain of 6 `filter_`/`map_` stages"),
    ("processor", "batch(100)", "rxpy", "`batch(100)`"),
    ("processor", "buffer_(1000)", "rxpy", "`buffer_(1000)` across threads"),
    ("processor", "buffer_(1000)", "plain", "`buffer_(1000)` across threads"),
    ("processor", "async_map(workers=10)", "rxpy", "`async_map(workers=10)`, cheap calls"),
    ("processor", "async_map(workers=10)", "plain", "`async_map(workers=10)`, cheap calls"),
    (
        "throughput",
        "Async processing (10 workers)",
        "rxpy",
        "`async_map(workers=10)`, 100 µs calls",
    ),
    ("processor", "dedupe()", "rxpy", "`dedupe()`, every item a new key"),
    ("processor", "debounce_(1.0) burst", "rxpy", "`debounce_(1.0)` on a synchronous burst"),
)
"""The README's rows: (table, case, baseline impl, what rxstreamz ran)."""


def readme_summary(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for table_name, case, impl, label in SUMMARY:
        against = baselines(table_name, case)[IMPLS.index(impl) - 1]
        body.append(
            [
                label,
                against + fewer(bench, table_name, case, impl),
                rate(bench.row(table_name, case, "rxstreamz")),
                times(bench.speedup(table_name, case, impl)),
            ]
        )
    return "\n\n".join(
        [
            bench.source() + f" Above 1{TIMES}, rxstreamz is faster than the baseline.",
            table(["rxstreamz", "baseline", "rxstreamz items/s", "speed-up"], body, [2, 3]),
        ]
    )


def processor_time(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for case in bench.cases("processor"):
        rxpy, plain = baselines("processor", case)
        body.append(
            [
                code(case),
                per_item(bench.row("processor", case, "rxstreamz")),
                rxpy + fewer(bench, "processor", case, "rxpy"),
                bench.speedup_or_na("processor", case, "rxpy"),
                plain + fewer(bench, "processor", case, "plain"),
                bench.speedup_or_na("processor", case, "plain"),
            ]
        )
    header = ["processor", "rxstreamz per item", "RxPY baseline", "speed-up", "plain baseline"]
    return "\n\n".join(
        [bench.source(), table([*header, "speed-up"], body, [1, 3, 5])],
    )


def processor_memory(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for case in bench.cases("processor"):
        rows = [bench.unmeasured("processor", case, impl) for impl in IMPLS]
        body.append([code(case), count(rows[0]), *(size(row["peak_bytes"]) for row in rows)])
    return "\n\n".join(
        [
            bench.source() + " Peak memory above the start of each run, the output included;"
            " the baselines as in the table above.",
            table(["processor", "items", "rxstreamz", "RxPY", "plain"], body, [1, 2, 3, 4]),
        ]
    )


def throughput(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for case in bench.cases("throughput"):
        _, plain = baselines("throughput", case)
        body.append(
            [
                case,
                rate(bench.row("throughput", case, "rxstreamz")),
                times(bench.speedup("throughput", case, "rxpy")),
                plain,
                times(bench.speedup("throughput", case, "plain")),
            ]
        )
    header = ["pipeline", "rxstreamz items/s", "vs RxPY", "plain baseline", "vs plain"]
    return "\n\n".join([bench.source(), table(header, body, [1, 2, 4])])


def fusion(bench: Bench, arg: str | None) -> str:
    del arg
    body = [
        [
            case,
            rate(bench.row("fusion", case, "rxstreamz")),
            rate(bench.row("fusion", case, "rxpy")),
            times(bench.speedup("fusion", case, "rxpy")),
            times(bench.speedup("fusion", case, "plain")),
        ]
        for case in bench.cases("fusion")
    ]
    rxpy, plain = FUSION_BASELINES
    header = ["chain", "rxstreamz items/s", "RxPY items/s", "vs RxPY", "vs the loop"]
    return "\n\n".join(
        [
            bench.source() + f" RxPY runs {rxpy}; the loop is {plain}.",
            table(header, body, [1, 2, 3, 4]),
        ]
    )


def growth(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for case in bench.cases("growth"):
        rows = [bench.row("growth", case, impl) for impl in IMPLS]
        body.append(
            [
                count(rows[0]),
                *(per_item(row) for row in rows),
                f"{size(rows[0]['peak_bytes'])} / {size(rows[1]['peak_bytes'])}",
            ]
        )
    rxpy, plain = GROWTH_BASELINES
    header = ["items", "`buffer_(1000)`", rxpy, plain, "peak: `buffer_` / `observe_on`"]
    return "\n\n".join(
        [bench.source() + " Time per item of each.", table(header, body, [0, 1, 2, 3, 4])]
    )


def workers(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for case in bench.cases("workers"):
        rows = [bench.row("workers", case, impl) for impl in IMPLS]
        body.append([case.removeprefix("workers="), *(rate(row) for row in rows)])
    note = bench.row("workers", bench.cases("workers")[0], "rxstreamz")["note"]
    rxpy, plain = WORKERS_BASELINES
    header = ["workers", "`async_map` items/s", f"{rxpy} items/s", f"{plain} items/s"]
    return "\n\n".join([bench.source() + f" Every row: {note}.", table(header, body, [0, 1, 2, 3])])


RESILIENCE = ("circuit_breaker(fn)", "retry_(fn)", "dead_letter(fn)")
"""The rows of the ``resilience`` block: the success path of each, ``fn`` the ``map_`` row's."""
PACING = ("throttle(1e9) full bucket", "tumbling_window(1.0) burst")
"""The rows of the ``pacing`` block: the per-item path of the timed processors."""


def beside_map(bench: Bench, cases: Sequence[str], sentence: str) -> str:
    """Time per item of processor rows, as a multiple of ``map_``'s, beside their baselines."""
    reference = bench.row("processor", "map_", "rxstreamz")
    body: list[list[str]] = []
    for case_name in cases:
        mine = bench.row("processor", case_name, "rxstreamz")
        rxpy, plain = baselines("processor", case_name)
        body.append(
            [
                code(case_name),
                per_item(mine),
                times(float(mine["ns_per_item"]) / float(reference["ns_per_item"])),
                f"{rxpy}: {bench.speedup_or_na('processor', case_name, 'rxpy')}",
                f"{plain}: {bench.speedup_or_na('processor', case_name, 'plain')}",
            ]
        )
    header = ["processor", "per item", "time over `map_`'s", "vs RxPY", "vs plain"]
    lead = (
        f" `map_` took {per_item(reference)} per item in the same run; {sentence} The third"
        " column is a cost, each row's time per item over `map_`'s; the last two are speed-ups"
        f" (above 1{TIMES}, rxstreamz is faster)."
    )
    return "\n\n".join([bench.source() + lead, table(header, body, [1, 2])])


def resilience(bench: Bench, arg: str | None) -> str:
    del arg
    return beside_map(
        bench, RESILIENCE, "every row calls the same `fn` on the success path (nothing fails)."
    )


def pacing(bench: Bench, arg: str | None) -> str:
    del arg
    return beside_map(
        bench,
        PACING,
        f"`throttle` with a bucket of {THROTTLE_BURST:,} tokens (never waits), "
        "`tumbling_window` on a synchronous burst.",
    )


CONCURRENCY = (
    ("map_", "plain", "a `for` loop calling `fn` (no concurrency)"),
    ("map_", "rxstreamz", "`map_(fn)` (no concurrency)"),
    ("async_map(workers=10)", "rxstreamz", "`async_map(fn, workers=10)`, private threads"),
    ("async_map(workers=1)", "rxstreamz", "`async_map(fn, workers=1)`, private threads"),
    ("async_map(workers=10)", "plain", "`ThreadPoolExecutor(10).map(fn, items)`"),
    ("async_map(workers=1)", "plain", "`ThreadPoolExecutor(1).map(fn, items)`"),
    ("async_map(workers=10)", "rxpy", "RxPY `flat_map` onto `ThreadPoolExecutor(10)` futures"),
)


def concurrency_costs(bench: Bench, arg: str | None) -> str:
    del arg
    body: list[list[str]] = []
    for case, impl, label in CONCURRENCY:
        row = bench.row("processor", case, impl)
        body.append([label, count(row), per_item(row), rate(row)])
    return "\n\n".join(
        [
            bench.source() + " `fn` doubles its argument, so the figures are the plumbing.",
            table(["back-end", "items", "per item", "items/s"], body, [1, 2, 3]),
        ]
    )


def asyncio_pipeline(bench: Bench, arg: str | None) -> str:
    """The one-loop pipeline: items/s as a share of ``workers / latency`` and of the ceiling."""
    del arg
    (pipeline,) = bench.cases("asyncio")
    body: list[list[str]] = []
    for impl in ASYNCIO_IMPLS:
        row = bench.row("asyncio", pipeline, impl)
        body.append(
            [
                render.ASYNCIO_LABELS[impl],
                rate(row),
                f"{row['ideal_ratio']:.0%}",
                f"{row['ceiling_ratio']:.0%}",
                str(row["read_ahead"]),
                size(row["peak_bytes"]),
            ]
        )
    nominal = f"{ASYNCIO_WORKERS} / {ASYNCIO_LATENCY * 1e3:g} ms"
    header = ["implementation", "items/s", f"of {nominal}", "of the ceiling", "read ahead", "peak"]
    return "\n\n".join(
        [
            bench.source()
            + f" rxstreamz runs `{bench.row('asyncio', pipeline, 'rxstreamz')['note']}`"
            + " on one event loop; every row writes the same records in order.",
            table(header, body, [1, 2, 3, 4, 5]),
        ]
    )


def case(bench: Bench, arg: str | None) -> str:
    """The three rows of one case: ``<!-- bench:case TABLE/CASE -->``."""
    if not arg or "/" not in arg:
        raise ValueError("a case block names its row: <!-- bench:case TABLE/CASE -->")
    table_name, case_name = arg.split("/", 1)
    labels = {"rxstreamz": f"rxstreamz {code(case_name)}"}
    labels["rxpy"], labels["plain"] = baselines(table_name, case_name)
    body: list[list[str]] = []
    for impl in IMPLS:
        row = bench.row(table_name, case_name, impl)
        ratio = "" if impl == "rxstreamz" else times(bench.speedup(table_name, case_name, impl))
        body.append([labels[impl], count(row), rate(row), ratio])
    header = ["implementation", "items", "items/s", "rxstreamz is faster by"]
    return "\n\n".join([bench.source(), table(header, body, [1, 2, 3])])


BLOCKS: dict[str, Callable[[Bench, str | None], str]] = {
    "readme-summary": readme_summary,
    "processor-time": processor_time,
    "processor-memory": processor_memory,
    "throughput": throughput,
    "fusion": fusion,
    "growth": growth,
    "workers": workers,
    "concurrency-costs": concurrency_costs,
    "resilience": resilience,
    "pacing": pacing,
    "asyncio": asyncio_pipeline,
    "case": case,
}
"""Block name -> how to write it from the run."""


# -- rewriting pages -------------------------------------------------------------------


def rewrite(text: str, bench: Bench) -> str:
    """Return ``text`` with every block rewritten from ``bench``."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise KeyError(f"unknown bench block {name!r}; known: {', '.join(sorted(BLOCKS))}")
        generated = BLOCKS[name](bench, match["arg"])
        return f"{match['open']}{generated}\n{match['close']}"

    return BLOCK.sub(replace, text)


def outside_blocks(text: str) -> str:
    """Return ``text`` with the generated part of every block removed."""
    return BLOCK.sub(lambda m: m["open"] + m["close"], text)


def load(path: Path) -> Bench:
    return Bench(json.loads(path.read_text(encoding="utf-8")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("json", type=Path, help="the output of `rxstreamz bench --json`")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to rewrite")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a block is stale"
    )
    args = parser.parse_args(argv)
    bench = load(args.json)
    stale: list[Path] = []
    for page in pages(args.root):
        text = page.read_text(encoding="utf-8")
        new = rewrite(text, bench)
        if new == text:
            continue
        stale.append(page.relative_to(args.root))
        if not args.check:
            page.write_text(new, encoding="utf-8")
    verb = "stale" if args.check else "rewrote"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
