"""The ``rxstreamz`` command line: ``rxstreamz bench`` output, JSON schema, arguments."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

import rxstreamz
from rxstreamz.bench import asyncio_cases as aio
from rxstreamz.bench import cases as tables
from rxstreamz.bench.cli import main
from rxstreamz.bench.measure import machine, measure, over_ceiling, steps
from rxstreamz.bench.model import (
    DEFAULT_TABLES,
    IMPLS,
    Case,
    Gauge,
    Impl,
    Result,
    Run,
    Unavailable,
    processor,
)
from rxstreamz.bench.render import render
from tests.support import no_new_threads

ROW_KEYS = {
    "allocs_per_item",
    "bytes_per_item",
    "case",
    "ceiling_ratio",
    "ideal_ratio",
    "impl",
    "items",
    "items_per_s",
    "note",
    "ns_per_item",
    "peak_bytes",
    "read_ahead",
    "seconds",
    "table",
}

EXPECTED_CASES = {
    "processor": [
        "filter_",
        "map_",
        "async_map(workers=1)",
        "async_map(workers=10)",
        "batch(100)",
        "buffer_(1000)",
        "dedupe()",
        "debounce_(1.0) burst",
        "circuit_breaker(fn)",
        "retry_(fn)",
        "dead_letter(fn)",
        "throttle(1e9) full bucket",
        "tumbling_window(1.0) burst",
    ],
    "throughput": [
        "Simple filter+map",
        "Batched processing",
        "Async processing (10 workers)",
        "Complex pipeline",
        "Complex pipeline, timed batch",
        "Fused chunk pipeline",
    ],
    "fusion": ["1 stage", "2 stages", "4 stages", "6 stages"],
    "asyncio": ["async source, enrich x8, batch(50)"],
}
UNMEASURED = {("processor", "throttle(1e9) full bucket", "rxpy"): "RxPY has no pacing operator"}
"""Rows with no implementation to run: (table, case, impl) -> the start of their note."""
IMPLS_OF = {
    "processor": ("rxstreamz", "rxpy", "plain"),
    "throughput": ("rxstreamz", "rxpy", "plain"),
    "fusion": ("rxstreamz", "rxpy", "plain"),
    "asyncio": ("rxstreamz", "aiostream", "streamz", "plain", "ceiling"),
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    """One quick run of every table, shared by the tests (capsys is per test)."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    out, err = io.StringIO(), io.StringIO()
    with (
        no_new_threads("a benchmark run left threads behind"),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        status = main(
            ["bench", "--quick", "--items", "2000", "--progress", "plain", "--json", str(path)]
        )
    assert status == 0
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document, out.getvalue(), err.getvalue()


def test_json_has_the_stable_schema(quick_run: tuple[dict[str, Any], str, str]) -> None:
    document, _, _ = quick_run
    assert set(document) == {"date", "machine", "rows", "settings"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["date"])
    assert set(document["machine"]) == {
        "cpu_model",
        "cpus",
        "gil",
        "platform",
        "python",
        "reactivex",
        "rxstreamz",
    }
    assert document["settings"] == {"clock": "wall", "items": 2000, "repeat": 1}
    for row in document["rows"]:
        assert set(row) == ROW_KEYS


def test_json_is_written_with_sorted_keys(tmp_path: Path) -> None:
    path = tmp_path / "fusion.json"
    args = ["bench", "--quick", "--items", "100", "--table", "fusion", "--progress", "none"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--json", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert list(document["rows"][0]) == sorted(ROW_KEYS)


def test_every_case_has_all_its_impls_with_positive_numbers(
    quick_run: tuple[dict[str, Any], str, str],
) -> None:
    document, _, _ = quick_run
    rows = document["rows"]
    seen = [(row["table"], row["case"], row["impl"]) for row in rows]
    expected = [
        (table, case, impl)
        for table, names in EXPECTED_CASES.items()
        for case in names
        for impl in IMPLS_OF[table]
    ]
    assert seen == expected
    for row in rows:
        where = f"{row['table']}/{row['case']}/{row['impl']}: {row['note']}"
        assert row["items"] >= 1, where
        if (row["table"], row["case"], row["impl"]) in UNMEASURED:
            assert row["note"].startswith(UNMEASURED[row["table"], row["case"], row["impl"]])
            assert {row[key] for key in ROW_KEYS - {"table", "case", "impl", "items", "note"}} == {
                None
            }, where
            continue
        measured = ["seconds", "items_per_s", "ns_per_item"]
        if row["table"] == "fusion":
            assert row["peak_bytes"] is None, where
        else:
            measured.append("peak_bytes")
            # A debounced burst keeps one item: rounded per item, that is 0.
            for key in ("bytes_per_item", "allocs_per_item"):
                assert isinstance(row[key], int | float), where
                assert row[key] >= 0, where
        if row["table"] == "asyncio":
            measured += ["ideal_ratio", "ceiling_ratio", "read_ahead"]
        else:
            ratios = (row["ideal_ratio"], row["ceiling_ratio"], row["read_ahead"])
            assert ratios == (None, None, None), where
        for key in measured:
            assert isinstance(row[key], int | float), f"{key} missing in {where}"
            assert row[key] > 0, f"{key} in {where}"


def test_slow_cases_run_fewer_items(quick_run: tuple[dict[str, Any], str, str]) -> None:
    document, _, _ = quick_run
    items = {(row["case"], row["impl"]): row["items"] for row in document["rows"]}
    assert items["filter_", "rxstreamz"] == 2000
    for case in ("circuit_breaker(fn)", "retry_(fn)", "dead_letter(fn)"):
        assert items[case, "rxstreamz"] == items[case, "rxpy"] == items[case, "plain"] == 2000
    assert items["throttle(1e9) full bucket", "plain"] == 2000
    assert items["tumbling_window(1.0) burst", "rxpy"] == 2000
    assert items["Complex pipeline, timed batch", "rxstreamz"] == 2000
    assert items["async_map(workers=10)", "plain"] == 2000 // tables.ASYNC_DIVISOR
    assert items["Async processing (10 workers)", "rxpy"] == 2000 // tables.IO_DIVISOR
    assert items["async source, enrich x8, batch(50)", "streamz"] == 2000 // aio.ASYNCIO_DIVISOR


def test_text_report_has_machine_line_and_tables(
    quick_run: tuple[dict[str, Any], str, str],
) -> None:
    _, out, _ = quick_run
    lines = out.splitlines()
    assert lines[0].startswith("Machine: ")
    assert " CPUs, " in lines[0]
    assert "reactivex 6." in lines[0]
    for title in ("Per-processor cost", "Pipeline throughput", "Fusion", "asyncio: one"):
        assert any(line.startswith(title) for line in lines), title
    header = next(line for line in lines if line.startswith("Processor"))
    assert header.split() == [
        "Processor",
        "impl",
        "items",
        "ns/item",
        "B/item",
        "allocs/item",
        "peak",
        "memory",
        "vs",
        "RxPY",
        "vs",
        "plain",
        "note",
    ]
    assert any(line.lstrip().startswith("RxPY") for line in lines)
    assert any(line.lstrip().startswith("plain loop") for line in lines)


def test_plain_progress_goes_to_stderr(quick_run: tuple[dict[str, Any], str, str]) -> None:
    _, out, err = quick_run
    progress = [line for line in err.splitlines() if not line.startswith("warning: load average")]
    total = steps(tables.cases(DEFAULT_TABLES))
    assert progress[0] == f"[1/{total}] processor: filter_ [rxstreamz] time"
    assert progress[-1] == (
        f"[{total}/{total}] asyncio: async source, enrich x8, batch(50) [ceiling] memory"
    )
    assert "[1/" not in out


def test_markdown_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--items", "500", "--table", "fusion", "--markdown"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "## Fusion: a chain of filter_/map_ stages" in lines
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| Chain | impl | items | items/s | ns/item | vs RxPY | vs plain | note |"
    assert table[1] == "| :--- | :--- | ---: | ---: | ---: | ---: | ---: | :--- |"
    assert len(table) == 2 + 4 * 3
    assert table[2].startswith("| 1 stage | rxstreamz | 500 | ")
    assert table[2].split(" | ")[5].endswith("x")  # speed-up vs RxPY


def test_asyncio_table_in_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--items", "300", "--table", "asyncio", "--markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "## asyncio: one event loop, an async source to batches" in lines
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == (
        "| Pipeline | impl | items | items/s | of nominal | of ceiling | read-ahead "
        "| peak memory | vs aiostream | vs python-streamz | vs plain asyncio | note |"
    )
    assert [cells.split(" | ")[1] for cells in table[2:]] == [
        "rxstreamz",
        "aiostream",
        "python-streamz",
        "plain asyncio",
        "ceiling",
    ]
    first = table[2].split(" | ")
    assert first[0] == "| async source, enrich x8, batch(50)"
    assert first[2] == str(300 // aio.ASYNCIO_DIVISOR)
    assert first[4].endswith("%")  # of the nominal rate
    assert first[5].endswith("%")  # of the ceiling
    assert all(cell.endswith("x") for cell in first[8:11])  # speed-ups
    ceiling = table[-1].split(" | ")
    assert ceiling[5] == "100%"
    assert ceiling[8:11] == ["", "", ""]


@pytest.mark.parametrize("impl", aio.ASYNCIO_IMPLS[:-1])
def test_asyncio_pipelines_write_every_record_in_order(impl: Impl) -> None:
    assert impl != "ceiling"
    (case,) = aio.asyncio_cases()
    data = list(range(1, 121))  # two full batches and a partial one
    batches = case.impls[impl](data)()
    assert [len(rows) for rows in batches] == [50, 50, 20]
    assert [n for rows in batches for n in rows] == [2 * n for n in data]
    gauge = case.gauges[impl]
    assert (gauge.pulled, gauge.written) == (120, 120)
    assert 1 <= gauge.most <= 120


def test_the_ceiling_awaits_every_record_on_as_many_tasks_as_workers() -> None:
    (case,) = aio.asyncio_cases()
    assert case.ceiling == "ceiling"
    data = list(range(1, 121))
    (results,) = case.impls["ceiling"](data)()
    assert results == [2 * n for n in data]
    gauge = case.gauges["ceiling"]
    assert (gauge.pulled, gauge.written, gauge.most) == (120, 120, aio.ASYNCIO_WORKERS)


def _rate(impl: Impl, items_per_s: float | None) -> Result:
    return Result("asyncio", "c", impl, 10, None, items_per_s, None, None, None, None, "")


def test_every_measured_row_is_divided_by_the_ceiling_of_its_run() -> None:
    case = Case("asyncio", "c", {}, ceiling="ceiling")
    rows = [_rate("rxstreamz", 450.0), _rate("aiostream", None), _rate("ceiling", 600.0)]
    ratios = [row.ceiling_ratio for row in over_ceiling(case, rows)]
    assert ratios == [0.75, None, 1.0]
    assert over_ceiling(case, rows[:2]) == rows[:2]  # no ceiling measured: nothing to divide
    no_ceiling = Case("asyncio", "c", {})
    assert over_ceiling(no_ceiling, rows) == rows


def test_gauge_keeps_the_largest_gap_across_runs() -> None:
    gauge = Gauge()
    for _ in range(3):
        gauge.pull()
    gauge.write(2)
    gauge.pull()
    assert (gauge.pulled, gauge.written, gauge.most) == (4, 2, 3)
    gauge.start()
    gauge.pull()
    assert (gauge.pulled, gauge.written, gauge.most) == (1, 0, 3)


def test_a_missing_package_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="no_such_package_xyz is not installed"):
        aio._package("no_such_package_xyz")  # pyright: ignore[reportPrivateUsage]


@pytest.mark.parametrize("kind", ["rich", "tqdm", "none"])
def test_other_progress_displays(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["bench", "--quick", "--items", "200", "--table", "fusion", "--progress", kind]) == 0
    )
    captured = capsys.readouterr()
    assert "Fusion" in captured.out
    assert "[1/" not in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--items", "0"], "argument --items: must be >= 1, got 0"),
        (["bench", "--items", "lots"], "argument --items: expected a whole number, got 'lots'"),
        (["bench", "--repeat", "-2"], "argument --repeat: must be >= 1, got -2"),
        (["bench", "--table", "nope"], "argument --table: invalid choice: 'nope'"),
        (["bench", "--progress", "fancy"], "argument --progress: invalid choice: 'fancy'"),
        (["bench", "--clock", "sundial"], "argument --clock: invalid choice: 'sundial'"),
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["bench", "--json", "no/such/dir/x.json"], "argument --json: no directory 'no/such/dir'"),
    ],
)
def test_bad_arguments_exit_with_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    options = ("--quick", "--items", "--repeat", "--table", "--clock", "--json", "--markdown")
    for option in (*options, "--progress"):
        assert option in out


def test_a_missing_processor_is_reported_not_fatal() -> None:
    def unavailable(data: list[int]) -> Run:
        del data
        raise Unavailable("teleport not available in this installation")

    def plain(data: list[int]) -> Run:
        return lambda: [n * 2 for n in data]

    case = Case(
        "processor", "teleport(3)", {"rxstreamz": unavailable, "rxpy": plain, "plain": plain}
    )
    ticks: list[str] = []
    rows = measure([case], items=10, repeat=2, progress=ticks.append)
    assert len(ticks) == steps([case]) == 6
    assert ticks[0] == "processor: teleport(3) [rxstreamz] not available"
    missing, rxpy, _ = rows
    assert missing.note == "teleport not available in this installation"
    assert (missing.seconds, missing.ns_per_item, missing.peak_bytes) == (None, None, None)
    assert rxpy.seconds is not None
    assert rxpy.allocs_per_item is not None
    text = render(rows, [case], machine(), items=10, repeat=2, markdown=False)
    line = next(line for line in text.splitlines() if line.startswith("teleport(3)"))
    assert line.split()[3:5] == ["n/a", "n/a"]
    assert line.endswith("teleport not available in this installation")


def test_factory_lookup() -> None:
    with pytest.raises(Unavailable, match="no_such_thing not available"):
        processor("no_such_thing")
    assert processor("batch") is rxstreamz.batch


def test_cpu_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cpu.json"
    argv = ["bench", "--quick", "--items", "300", "--table", "fusion", "--clock", "cpu"]
    assert main([*argv, "--progress", "none", "--json", str(path)]) == 0
    assert "(best of 1, CPU time, waiting excluded)" in capsys.readouterr().out
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["settings"]["clock"] == "cpu"
    assert all(row["seconds"] > 0 for row in document["rows"])


def test_chart_tables_run_only_when_named(tmp_path: Path) -> None:
    path = tmp_path / "charts.json"
    argv = ["bench", "--quick", "--items", "400", "--table", "growth", "--table", "workers"]
    with (
        no_new_threads("a benchmark run left threads behind"),
        contextlib.redirect_stdout(io.StringIO()) as out,
    ):
        assert main([*argv, "--progress", "none", "--json", str(path)]) == 0
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    growth = [(r["case"], r["impl"], r["items"]) for r in rows if r["table"] == "growth"]
    assert growth == [
        (f"items / {d}", impl, 400 // d)
        for d in tables.GROWTH_DIVISORS
        for impl in ("rxstreamz", "rxpy", "plain")
    ]
    assert all(r["peak_bytes"] > 0 for r in rows if r["table"] == "growth")
    workers = [r["case"] for r in rows if r["table"] == "workers" and r["impl"] == "rxstreamz"]
    assert workers == [f"workers={n}" for n in tables.WORKER_COUNTS]
    assert "Growth: buffer_ beside observe_on" in out.getvalue()
    assert {r["table"] for r in rows} == {"growth", "workers"}


def _flat(windows: list[Any]) -> list[Any]:
    """The items of a run's windows (``Window`` records or RxPY's lists), in order."""
    return [n for w in windows for n in (w if isinstance(w, list) else w.items)]


@pytest.mark.parametrize(
    "name",
    [
        "circuit_breaker(fn)",
        "retry_(fn)",
        "dead_letter(fn)",
        "throttle(1e9) full bucket",
        "tumbling_window(1.0) burst",
    ],
)
def test_each_implementation_of_a_processor_row_does_the_same_job(name: str) -> None:
    (case,) = [case for case in tables.processor_cases() if case.name == name]
    data = list(range(1, 301))
    outputs: list[list[Any]] = []
    with no_new_threads("a benchmark run left threads behind"):
        for impl in IMPLS:
            try:
                run = case.impls[impl](data)
            except Unavailable:
                assert ("processor", name, impl) in UNMEASURED
                continue
            output = run()
            outputs.append(_flat(output) if name.startswith("tumbling_window") else output)
    expected = data if name.startswith(("throttle", "tumbling")) else [2 * n for n in data]
    assert outputs == [expected] * len(outputs)
    assert len(outputs) >= 2


def test_the_timed_batch_pipeline_is_the_complex_one_with_a_latency_bound() -> None:
    (case,) = [case for case in tables.throughput_cases() if case.name == tables.TIMED]
    data = list(range(-50, 451))
    results = [case.impls[impl](data)() for impl in IMPLS]
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 5
