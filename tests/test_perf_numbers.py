"""Every measured figure in the README and docs is written from the committed bench run.

``tools/perf_numbers.py`` rewrites the blocks between ``<!-- bench:NAME -->``
and ``<!-- /bench -->`` from ``docs/assets/bench.json``. A block edited by
hand, or left stale after the JSON changed, fails here; so does a speed-up
ratio typed anywhere else on a page.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rxstreamz.bench.render import ASYNCIO_LABELS
from tools import perf_numbers

ROOT = Path(__file__).resolve().parent.parent
BENCH_JSON = ROOT / "docs" / "assets" / "bench.json"
PAGES = perf_numbers.pages(ROOT)

X = perf_numbers.TIMES
RATIO = re.compile(rf"\d+(?:\.\d+)?(?:{X}|x\b)")
"""A speed-up written as a figure, ``12`` then the sign, or ``1.4x``; not ``2 x workers``."""

ALLOWED: set[tuple[str, str]] = set()
"""(page, match) pairs where a ratio pattern is not a measurement; none today."""


def committed() -> perf_numbers.Bench:
    return perf_numbers.load(BENCH_JSON)


def test_the_docs_ask_for_blocks() -> None:
    names = {
        match["name"]
        for page in PAGES
        for match in perf_numbers.BLOCK.finditer(page.read_text(encoding="utf-8"))
    }
    assert {"readme-summary", "processor-time", "fusion", "concurrency-costs"} <= names
    assert {"resilience", "pacing"} <= names
    assert names <= set(perf_numbers.BLOCKS)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_blocks_match_the_committed_json(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert perf_numbers.rewrite(text, committed()) == text, (
        f"{page.relative_to(ROOT)}: a bench block differs from docs/assets/bench.json; "
        "run `python tools/perf_numbers.py docs/assets/bench.json` (or `make charts`)"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_ratio_typed_outside_the_blocks(page: Path) -> None:
    name = str(page.relative_to(ROOT))
    text = perf_numbers.outside_blocks(page.read_text(encoding="utf-8"))
    typed = [m for m in RATIO.findall(text) if (name, m) not in ALLOWED]
    assert typed == [], f"{name}: measured ratios belong in a generated block: {typed}"


def test_the_ratio_pattern_catches_what_it_should() -> None:
    assert RATIO.findall(f"12{X} faster, 1.45x, 0.67{X}") == [f"12{X}", "1.45x", f"0.67{X}"]
    assert RATIO.findall(f"`2 {X} workers`, 16 {X} 1000 records, 0x7f, 3 x 4") == []


def test_a_hand_edit_inside_a_block_is_undone() -> None:
    page = (ROOT / "README.md").read_text(encoding="utf-8")
    match = perf_numbers.BLOCK.search(page)
    assert match is not None
    edited = page.replace(match["body"], match["body"].replace(X, f"{X} (and more)", 1))
    assert edited != page
    assert perf_numbers.rewrite(edited, committed()) == page


def test_a_new_run_changes_the_blocks() -> None:
    document: dict[str, Any] = copy.deepcopy(committed().document)
    document["date"] = "2000-01-01"
    for row in document["rows"]:
        if row["table"] == "fusion" and row["impl"] == "rxpy":
            row["ns_per_item"] *= 10
    text = "<!-- bench:fusion -->\n<!-- /bench -->\n"
    before = perf_numbers.rewrite(text, committed())
    after = perf_numbers.rewrite(text, perf_numbers.Bench(document))
    assert "2000-01-01" in after
    assert before != after
    old = [line.split(" | ")[3] for line in before.splitlines() if line.startswith("| 1 stage")]
    new = [line.split(" | ")[3] for line in after.splitlines() if line.startswith("| 1 stage")]
    assert old != new


def test_blocks_name_the_machine_and_the_baselines() -> None:
    bench = committed()
    machine = bench.document["machine"]
    summary = perf_numbers.BLOCKS["readme-summary"](bench, None)
    assert bench.document["date"] in summary
    assert str(machine["cpu_model"]) in summary
    assert "`ThreadPoolExecutor(10).map`" in summary
    assert "plain loop" not in summary
    assert summary.count(bench.document["date"]) == 1


def test_tables_stay_narrow() -> None:
    bench = committed()
    for name, render in perf_numbers.BLOCKS.items():
        arg = "processor/batch(100)" if name == "case" else None
        for line in render(bench, arg).splitlines():
            if line.startswith("|"):
                assert line.count(" | ") + 1 <= 6, f"{name}: {line}"


def test_an_unknown_block_or_row_fails_loudly() -> None:
    with pytest.raises(KeyError, match="unknown bench block"):
        perf_numbers.rewrite("<!-- bench:nonsense -->\n<!-- /bench -->", committed())
    with pytest.raises(KeyError, match="no baseline label for processor/teleport"):
        perf_numbers.rewrite("<!-- bench:case processor/teleport -->\n<!-- /bench -->", committed())
    document: dict[str, Any] = copy.deepcopy(committed().document)
    document["rows"] = [row for row in document["rows"] if row["case"] != "dedupe()"]
    with pytest.raises(KeyError, match=re.escape("no row processor/dedupe() [rxstreamz]")):
        perf_numbers.rewrite(
            "<!-- bench:case processor/dedupe() -->\n<!-- /bench -->",
            perf_numbers.Bench(document),
        )


def test_check_mode_reports_stale_pages(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("<!-- bench:fusion -->\nstale\n<!-- /bench -->\n")
    source = tmp_path / "bench.json"
    source.write_text(json.dumps(committed().document), encoding="utf-8")
    args = [str(source), "--root", str(tmp_path)]
    assert perf_numbers.main([*args, "--check"]) == 1
    assert "stale" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert perf_numbers.main(args) == 0
    assert perf_numbers.main([*args, "--check"]) == 0
    assert "stale" not in (tmp_path / "README.md").read_text(encoding="utf-8")


def _row(case: str, impl: str, ns_per_item: float | None, note: str = "") -> dict[str, Any]:
    measured = ns_per_item is not None
    return {
        "table": "processor",
        "case": case,
        "impl": impl,
        "items": 1000,
        "ns_per_item": ns_per_item,
        "items_per_s": 1e9 / ns_per_item if measured else None,
        "peak_bytes": 2048 if measured else None,
        "note": note,
    }


def _processor_run(rows: list[dict[str, Any]]) -> perf_numbers.Bench:
    document: dict[str, Any] = copy.deepcopy(committed().document)
    document["rows"] = [_row("map_", "rxstreamz", 200.0), *rows]
    return perf_numbers.Bench(document)


def test_a_baseline_with_nothing_to_run_reads_n_a() -> None:
    bench = _processor_run(
        [
            _row("throttle(1e9) full bucket", "rxstreamz", 400.0),
            _row("throttle(1e9) full bucket", "rxpy", None, "RxPY has no pacing operator"),
            _row("throttle(1e9) full bucket", "plain", 100.0),
            _row("tumbling_window(1.0) burst", "rxstreamz", 500.0),
            _row("tumbling_window(1.0) burst", "rxpy", 1000.0),
            _row("tumbling_window(1.0) burst", "plain", 100.0),
        ]
    )
    lines = perf_numbers.BLOCKS["pacing"](bench, None).splitlines()
    throttle = next(line for line in lines if line.startswith("| `throttle(1e9)`"))
    assert throttle.split(" | ")[1:] == [
        "400 ns",
        f"2.0{X}",
        "none (`throttle_first` and `sample` drop items): n/a",
        f"a loop taking a token from a bucket per item: 0.25{X} |",
    ]
    window = next(line for line in lines if line.startswith("| `tumbling_window(1.0)`"))
    assert window.split(" | ")[2:4] == [f"2.5{X}", f"`buffer_with_time(1.0)`: 2.0{X}"]
    assert "`map_` took 200 ns per item in the same run" in lines[0]
    with pytest.raises(ValueError, match="was not measured: RxPY has no pacing operator"):
        bench.speedup("processor", "throttle(1e9) full bucket", "rxpy")


def test_the_resilience_block_is_each_row_over_map() -> None:
    rows = [
        _row(case, impl, ns)
        for case in perf_numbers.RESILIENCE
        for impl, ns in (("rxstreamz", 300.0), ("rxpy", 150.0), ("plain", 60.0))
    ]
    block = perf_numbers.BLOCKS["resilience"](_processor_run(rows), None)
    body = [line for line in block.splitlines() if line.startswith("| `")]
    assert [line.split(" | ")[:3] for line in body] == [
        [f"| `{case}`", "300 ns", f"1.5{X}"] for case in perf_numbers.RESILIENCE
    ]
    assert all(f"`ops.map`, no protection: 0.50{X}" in line for line in body)


def test_the_asyncio_block_gives_each_implementation_its_shares_of_nominal_and_ceiling() -> None:
    bench = committed()
    (pipeline,) = bench.cases("asyncio")
    block = perf_numbers.BLOCKS["asyncio"](bench, None)
    for impl, label in ASYNCIO_LABELS.items():
        row = bench.row("asyncio", pipeline, impl)
        cells = f"| {label} | {row['items_per_s']:,} | {row['ideal_ratio']:.0%} | "
        assert cells + f"{row['ceiling_ratio']:.0%} | {row['read_ahead']} |" in block
    ceiling = bench.row("asyncio", pipeline, "ceiling")
    assert ceiling["ceiling_ratio"] == 1.0
