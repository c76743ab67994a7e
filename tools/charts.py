"""Charts for the performance guide, drawn from ``rxstreamz bench --json``.

Usage::

    rxstreamz bench --table processor --table fusion --table growth --table workers \\
        --json docs/assets/bench.json
    python tools/charts.py docs/assets/bench.json      # writes docs/assets/charts/*-chart.svg

(``make charts`` does both.) Every chart is plain SVG text and carries the
machine (CPU model, cores, Python) and the date of the run it was drawn from.
A table missing from the JSON is skipped with a message.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "assets" / "charts"

IMPLS = ("rxstreamz", "rxpy", "plain")
NAMES = {"rxstreamz": "rxstreamz", "rxpy": "RxPY", "plain": "plain loop"}
COLOURS = {"rxstreamz": "#4e79a7", "rxpy": "#e15759", "plain": "#a0a0a0"}
FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""
WIDTH = 720


@dataclass(frozen=True, slots=True)
class Series:
    """One implementation's points: ``(x, y)`` or ``(category, y)``."""

    impl: str
    points: list[tuple[Any, float]]


def esc(text: object) -> str:
    return html.escape(str(text))


def text(
    x: float, y: float, body: object, *, size: int = 12, anchor: str = "middle", **attrs: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{esc(body)}</text>"
    )


def footer(document: dict[str, Any]) -> str:
    """Return the line naming the machine and the run a chart was drawn from."""
    machine: dict[str, Any] = document.get("machine", {})
    settings: dict[str, Any] = document.get("settings", {})
    model = machine.get("cpu_model", "unknown CPU")
    return (
        f"{model}, {machine.get('cpus', '?')} CPUs, {machine.get('python', '?')}, "
        f"reactivex {machine.get('reactivex', '?')}, rxstreamz {machine.get('rxstreamz', '?')}"
        f" | {document.get('date', 'undated')} | {settings.get('items', '?'):,} items, "
        f"best of {settings.get('repeat', '?')}, {settings.get('clock', 'wall')} time"
    )


def frame(
    title: str,
    subtitle: str,
    document: dict[str, Any],
    height: int,
    body: list[str],
    legend: Sequence[str] = IMPLS,
) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title" {FONT}>',
        f'<title id="title">{esc(title)}</title>',
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
        text(20, 26, title, size=16, anchor="start", font_weight="600", fill="#222"),
        text(20, 46, subtitle, size=12, anchor="start", fill="#555"),
        *body,
        text(20, height - 12, footer(document), size=10, anchor="start", fill="#777"),
    ]
    for index, impl in enumerate(legend):
        x = 20 + 110 * index
        parts.insert(
            -3,
            f'<rect x="{x}" y="58" width="12" height="12" rx="2" fill="{COLOURS[impl]}"/>'
            + text(x + 18, 68, NAMES[impl], size=12, anchor="start", fill="#333"),
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def nice_ticks(low: float, high: float, log: bool) -> list[float]:
    """Return axis ticks covering ``[low, high]``: powers of ten on a log axis."""
    if log:
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
        return [10.0**e for e in range(first, last + 1)]
    step = 10 ** math.floor(math.log10(high / 4))
    for factor in (1, 2, 5, 10):
        if high / (step * factor) <= 6:
            step *= factor
            break
    return [step * i for i in range(math.ceil(high / step) + 1)]


def short(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def size_label(value: float) -> str:
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{round(value / size, 3):g} {unit}"
    return f"{value:g} B"


@dataclass(frozen=True, slots=True)
class Panel:
    """A plot area in the chart's coordinates."""

    left: float
    top: float
    width: float
    height: float


def y_axis(
    panel: Panel,
    high: float,
    label: str,
    *,
    low: float = 0.0,
    log: bool = False,
    fmt: Callable[[float], str] = short,
) -> tuple[list[str], Callable[[float], float]]:
    scale = 1.0
    if fmt is size_label:
        scale = 2.0**20 if high >= 2**20 else 2.0**10 if high >= 2**10 else 1.0
    ticks = [t * scale for t in nice_ticks(low / scale, high / scale, log)]
    top_value = ticks[-1]
    bottom_value = ticks[0] if log else 0.0

    def y_of(value: float) -> float:
        if log:
            span = math.log10(top_value) - math.log10(bottom_value)
            share = (math.log10(max(value, bottom_value)) - math.log10(bottom_value)) / span
        else:
            share = value / top_value
        return panel.top + panel.height * (1 - share)

    parts = []
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{panel.left}" y1="{y:.1f}" x2="{panel.left + panel.width}" '
            f'y2="{y:.1f}" stroke="#e6e6e6"/>'
        )
        parts.append(text(panel.left - 6, y + 4, fmt(tick), size=10, anchor="end", fill="#666"))
    middle = panel.top + panel.height / 2
    parts.append(
        f'<text x="{panel.left - 44}" y="{middle:.1f}" font-size="11" text-anchor="middle" '
        f'fill="#444" transform="rotate(-90 {panel.left - 44} {middle:.1f})">{esc(label)}</text>'
    )
    return parts, y_of


def bars(
    panel: Panel,
    categories: Sequence[str],
    series: Sequence[Series],
    label: str,
    *,
    log: bool = False,
    values: Callable[[float], str] = short,
    slant: bool = False,
) -> list[str]:
    """Grouped vertical bars: one group per category, one bar per series.

    ``slant`` writes the category labels at an angle, for many or long ones
    (the frame then needs about 90 px more below the panel).
    """
    found = [y for s in series for _, y in s.points if y > 0]
    parts, y_of = y_axis(panel, max(found), label, low=min(found), log=log)
    group = panel.width / len(categories)
    bar = min(26.0, group * 0.8 / len(series))
    base = panel.top + panel.height
    for index, category in enumerate(categories):
        centre = panel.left + group * (index + 0.5)
        if slant:
            turn = f"rotate(-35 {centre + 4:.1f} {base + 14:.1f})"
            parts.append(
                text(
                    centre + 4,
                    base + 14,
                    category,
                    size=11,
                    anchor="end",
                    fill="#333",
                    transform=turn,
                )
            )
        else:
            parts.append(text(centre, base + 16, category, size=11, fill="#333"))
        for position, one in enumerate(series):
            value = dict(one.points).get(category)
            if not value:
                continue
            x = centre + (position - len(series) / 2) * bar
            y = y_of(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{base - y:.1f}" '
                f'fill="{COLOURS[one.impl]}"><title>{esc(NAMES[one.impl])}: '
                f"{esc(values(value))}</title></rect>"
            )
    parts.append(
        f'<line x1="{panel.left}" y1="{base}" x2="{panel.left + panel.width}" y2="{base}" '
        'stroke="#555"/>'
    )
    return parts


def lines(
    panel: Panel,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    *,
    y_format: Callable[[float], str] = short,
) -> list[str]:
    """One polyline with dots per series over a linear x axis of the points' x values."""
    xs = sorted({float(x) for s in series for x, _ in s.points})
    high = max(y for s in series for _, y in s.points)
    parts, y_of = y_axis(panel, high, y_label, fmt=y_format)
    x_high = xs[-1]

    def x_of(value: float) -> float:
        return panel.left + panel.width * value / x_high

    base = panel.top + panel.height
    for x in xs:
        parts.append(text(x_of(x), base + 16, short(x), size=10, fill="#666"))
    parts.append(text(panel.left + panel.width / 2, base + 32, x_label, size=11, fill="#444"))
    parts.append(
        f'<line x1="{panel.left}" y1="{base}" x2="{panel.left + panel.width}" y2="{base}" '
        'stroke="#555"/>'
    )
    for one in series:
        points = [(x_of(float(x)), y_of(y)) for x, y in sorted(one.points)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        colour = COLOURS[one.impl]
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>' for x, y in points
        )
    return parts


# -- the charts ---------------------------------------------------------------------------


def rows_of(document: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return [r for r in document.get("rows", []) if r["table"] == table and r["items_per_s"]]


def by_impl(
    rows: Sequence[dict[str, Any]], x: Callable[[dict[str, Any]], Any], y: str
) -> list[Series]:
    return [
        Series(impl, [(x(r), float(r[y])) for r in rows if r["impl"] == impl and r[y]])
        for impl in IMPLS
    ]


def fusion_chart(document: dict[str, Any]) -> str | None:
    rows = rows_of(document, "fusion")
    if not rows:
        return None
    categories = list(dict.fromkeys(r["case"] for r in rows))
    speed = {(r["case"], r["impl"]): float(r["items_per_s"]) for r in rows}
    gains = [
        (case, speed[case, "rxstreamz"] / speed[case, "rxpy"])
        for case in categories
        if (case, "rxpy") in speed and (case, "rxstreamz") in speed
    ]
    panel = Panel(80, 90, WIDTH - 110, 230)
    body = bars(
        panel,
        categories,
        [Series("rxstreamz", gains)],
        "speed-up over RxPY",
        values=lambda v: f"{v:.2f}x",
    )
    _, y_of = y_axis(panel, max(g for _, g in gains), "")
    one = y_of(1.0)
    body.append(
        f'<line x1="{panel.left}" y1="{one:.1f}" x2="{panel.left + panel.width}" y2="{one:.1f}" '
        'stroke="#e15759" stroke-dasharray="6 4" stroke-width="1.5"/>'
    )
    body.append(
        text(
            panel.left + panel.width - 4,
            one - 6,
            "RxPY = 1x",
            size=10,
            anchor="end",
            fill="#e15759",
        )
    )
    group = panel.width / len(categories)
    for index, (_, gain) in enumerate(gains):
        x = panel.left + group * (index + 0.5)
        body.append(text(x, y_of(gain) - 6, f"{gain:.2f}x", size=11, fill="#333"))
    return frame(
        "Fusion: rxstreamz over RxPY by length of a filter_/map_ chain",
        "items/s of rxstreamz divided by items/s of the same chain of RxPY operators",
        document,
        380,
        body,
        legend=("rxstreamz", "rxpy"),
    )


def processor_chart(document: dict[str, Any]) -> str | None:
    rows = rows_of(document, "processor")
    if not rows:
        return None
    categories = list(dict.fromkeys(r["case"] for r in rows))
    panel = Panel(80, 90, WIDTH - 110, 230)
    body = bars(
        panel,
        categories,
        by_impl(rows, lambda r: r["case"], "items_per_s"),
        "items/s (log scale)",
        log=True,
        slant=True,
    )
    return frame(
        "One processor: throughput beside RxPY and a plain loop",
        "items/s, higher is better (async_map: a thread hand-off per item, fewer items;"
        " throttle: no RxPY operator)",
        document,
        470,
        [
            part.replace("async_map(workers=", "async_map/").replace(")</text>", "</text>")
            if "async_map(workers=" in part
            else part
            for part in body
        ],
    )


def growth_chart(document: dict[str, Any]) -> str | None:
    rows = rows_of(document, "growth")
    if not rows:
        return None
    left = Panel(80, 100, 260, 210)
    right = Panel(450, 100, 250, 210)
    body = [
        text(left.left + left.width / 2, 92, "time per item", size=12, fill="#333"),
        *lines(left, by_impl(rows, lambda r: r["items"], "ns_per_item"), "items", "ns per item"),
        text(right.left + right.width / 2, 92, "peak memory", size=12, fill="#333"),
        *lines(
            right,
            by_impl(rows, lambda r: r["items"], "peak_bytes"),
            "items",
            "peak memory",
            y_format=size_label,
        ),
    ]
    return frame(
        "buffer_(1000) beside observe_on as the stream grows",
        "RxPY: observe_on(EventLoopScheduler()), unbounded; plain: queue.Queue(1000)",
        document,
        380,
        body,
    )


def workers_chart(document: dict[str, Any]) -> str | None:
    rows = rows_of(document, "workers")
    if not rows:
        return None
    panel = Panel(80, 90, WIDTH - 110, 220)

    def workers(row: dict[str, Any]) -> int:
        return int(str(row["case"]).removeprefix("workers="))

    note = next((r["note"] for r in rows if r["note"]), "")
    body = lines(panel, by_impl(rows, workers, "items_per_s"), "workers", "items/s")
    return frame(
        "async_map: throughput by number of workers",
        f"items/s, higher is better; {note}; RxPY: flat_map onto a thread pool",
        document,
        380,
        body,
    )


CHARTS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "fusion": fusion_chart,
    "processor": processor_chart,
    "growth": growth_chart,
    "workers": workers_chart,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the performance charts from bench JSON.")
    parser.add_argument("json", type=Path, help="the file written by `rxstreamz bench --json`")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="directory of the SVGs")
    args = parser.parse_args(argv)
    document: dict[str, Any] = json.loads(args.json.read_text(encoding="utf-8"))
    args.output.mkdir(parents=True, exist_ok=True)
    for name, draw in CHARTS.items():
        svg = draw(document)
        target = args.output / f"{name}-chart.svg"
        if svg is None:
            print(f"{name}: no rows in {args.json}, {target.name} not written", file=sys.stderr)
            continue
        target.write_text(svg, encoding="utf-8")
        print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
