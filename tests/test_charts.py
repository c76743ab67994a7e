"""tools/charts.py draws the performance charts from `rxstreamz bench --json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tools import charts

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def row(table: str, case: str, impl: str, items_per_s: float, **extra: Any) -> dict[str, Any]:
    return {
        "table": table,
        "case": case,
        "impl": impl,
        "items": extra.get("items", 1000),
        "items_per_s": items_per_s,
        "ns_per_item": 1e9 / items_per_s,
        "peak_bytes": extra.get("peak_bytes"),
        "note": "",
    }


DOCUMENT: dict[str, Any] = {
    "date": "2026-01-02",
    "machine": {
        "cpu_model": "Test CPU 9000",
        "cpus": 8,
        "python": "CPython 3.12.1",
        "reactivex": "6.1.0",
        "rxstreamz": "0.1.0",
    },
    "settings": {"clock": "wall", "items": 1000, "repeat": 3},
    "rows": [
        row("fusion", "1 stage", "rxstreamz", 100.0),
        row("fusion", "1 stage", "rxpy", 100.0),
        row("fusion", "4 stages", "rxstreamz", 300.0),
        row("fusion", "4 stages", "rxpy", 100.0),
    ],
}


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ElementTree.fromstring(svg).iter(f"{SVG}text")]


def test_fusion_chart_shows_the_speed_ups_and_the_machine() -> None:
    svg = charts.fusion_chart(DOCUMENT)
    assert svg is not None
    labels = texts(svg)
    assert "1.00x" in labels
    assert "3.00x" in labels
    footer = next(t for t in labels if "Test CPU 9000" in t)
    assert "8 CPUs" in footer
    assert "CPython 3.12.1" in footer
    assert "2026-01-02" in footer


def test_taller_bar_for_the_larger_gain() -> None:
    svg = charts.fusion_chart(DOCUMENT)
    assert svg is not None
    heights = [
        float(r.get("height", "0"))
        for r in ElementTree.fromstring(svg).iter(f"{SVG}rect")
        if r.get("fill") == charts.COLOURS["rxstreamz"] and r.find(f"{SVG}title") is not None
    ]
    assert len(heights) == 2
    assert heights[1] == pytest.approx(3 * heights[0], abs=0.5)


def test_a_table_missing_from_the_json_draws_no_chart() -> None:
    assert charts.workers_chart(DOCUMENT) is None
    assert charts.growth_chart(DOCUMENT) is None


def test_main_writes_the_charts_it_has_data_for(tmp_path: Path) -> None:
    source = tmp_path / "bench.json"
    source.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    assert charts.main([str(source), "--output", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fusion-chart.svg"]


def test_committed_charts_come_from_the_committed_json() -> None:
    document = json.loads((ROOT / "docs" / "assets" / "bench.json").read_text(encoding="utf-8"))
    for name, draw in charts.CHARTS.items():
        svg = draw(document)
        assert svg is not None, f"docs/assets/bench.json has no {name} rows"
        committed = ROOT / "docs" / "assets" / "charts" / f"{name}-chart.svg"
        assert committed.read_text(encoding="utf-8") == svg, f"run tools/charts.py for {name}"
