"""The marble diagrams in docs/assets/marbles are what the processors really do.

Each SVG embeds, in its ``<desc>``, the messages it was drawn from. Every test
here runs the processor again on ``TestScheduler`` and compares, so a change
in behaviour that is not followed by ``make docs`` (which redraws them) fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tools import marbles

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.stem for p in (ROOT / "docs" / "processors").glob("*.md"))
SVG = "{http://www.w3.org/2000/svg}"


def embedded(page: str) -> object:
    tree = ElementTree.fromstring(marbles.path_for(page).read_text(encoding="utf-8"))
    desc = tree.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text is not None
    return json.loads(desc.text)


def test_every_processor_page_has_a_diagram() -> None:
    assert PAGES
    assert sorted(marbles.DIAGRAMS) == PAGES


@pytest.mark.parametrize("page", PAGES)
def test_page_shows_its_diagram_near_the_top(page: str) -> None:
    lines = (ROOT / "docs" / "processors" / f"{page}.md").read_text(encoding="utf-8").splitlines()
    image = f"(../assets/marbles/{page}-marble.svg)"
    assert any(image in line for line in lines[:5]), f"{page}.md must show {image} near the top"


@pytest.mark.parametrize("page", PAGES)
def test_diagram_is_drawn_from_what_the_processor_does(page: str) -> None:
    diagram = marbles.DIAGRAMS[page]()
    fresh = json.loads(json.dumps(diagram.data()))
    assert embedded(page) == fresh
    assert diagram.page == page


@pytest.mark.parametrize("page", PAGES)
def test_svg_is_up_to_date(page: str) -> None:
    committed = marbles.path_for(page).read_text(encoding="utf-8")
    assert committed == marbles.render(marbles.DIAGRAMS[page]()), (
        f"{page}: run `python tools/marbles.py` (or `make docs`) and commit the SVG"
    )


def test_recorded_run_matches_a_hand_written_expectation() -> None:
    # One diagram spelled out, so the recording itself is checked, not only its stability.
    lines = {line.label: line.messages for line in marbles.DIAGRAMS["batch"]().lines}
    assert lines["output"] == [
        (2.0, "N", [1, 2, 3]),
        (6.0, "N", [4]),
        (11.0, "N", [5, 6]),
        (11.0, "C", None),
    ]


def test_async_map_diagram_keeps_input_order() -> None:
    output = next(line for line in marbles.DIAGRAMS["async_map"]().lines if line.label == "output")
    assert [(t, v) for t, kind, v in output.messages if kind == "N"] == [
        (4.0, 10),
        (4.0, 20),
        (4.0, 30),
        (6.0, 40),
    ]


def test_render_draws_each_kind_of_message() -> None:
    diagram = marbles.Diagram(
        page="example",
        code="example()",
        caption="every shape",
        lines=[
            marbles.Line("in", "in", [(1.0, "N", 7), (2.0, "N", [1, 2]), (3.0, "E", "Boom: no")]),
            marbles.Line(
                "out",
                "out",
                [
                    (1.0, "N", {"start": 0.0, "end": 5.0, "items": [1], "key": None}),
                    (4.0, "C", None),
                ],
            ),
        ],
        end=5,
    )
    svg = marbles.render(diagram)
    root = ElementTree.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "7" in texts  # an item: a labelled circle
    assert len(list(root.iter(f"{SVG}circle"))) == 1
    assert "[1, 2]" in texts  # a list: a rounded box listing its items
    assert "[0, 5) s" in texts  # a window: its items and its span
    assert "Boom: no" in texts  # an error: a cross and its message
    assert re.search(r'<path d="M[^"]+" stroke="#c0392b"', svg)
    assert re.search(r'stroke="#222" stroke-width="3"', svg)  # completion: a bar
    assert json.loads(root.find(f"{SVG}desc").text or "") == json.loads(  # type: ignore[union-attr]
        json.dumps(diagram.data())
    )


def test_items_at_the_same_time_do_not_overlap() -> None:
    line = marbles.Line("out", "out", [(1.0, "N", 1), (1.0, "N", 2), (1.0, "C", None)])
    svg = marbles.render(marbles.Diagram("x", "x()", "same time", [line], 4))
    centres = [float(x) for x in re.findall(r'<g transform="translate\(([\d.]+),', svg)]
    assert len(centres) == 2
    assert centres[1] - centres[0] >= 30  # two circles of radius 15 side by side


def test_plain_makes_windows_and_errors_json_ready() -> None:
    assert marbles.plain(ValueError("bad")) == "ValueError: bad"
    assert marbles.plain(marbles.EPOCH) == 0.0
    assert marbles.plain((1, [2, "a"])) == [1, [2, "a"]]
