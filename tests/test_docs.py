"""Every Python code block in README.md and docs/ runs.

Blocks fenced as ``python`` are executed in order, one namespace per page,
so a page may build an example across several blocks. Anything that is not
meant to run is fenced as ``text``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    """The page's python blocks, dedented when they sit inside a list item."""
    return [
        textwrap.dedent("\n".join(line[len(indent) :] for line in body.splitlines()))
        for indent, body in FENCE.findall(page.read_text(encoding="utf-8"))
    ]


def test_pages_are_found() -> None:
    assert ROOT / "README.md" in PAGES
    assert python_blocks(ROOT / "README.md"), "the README quickstart must be a runnable block"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(python_blocks(page), start=1):
        code = compile(block, f"{page.relative_to(ROOT)} (python block {number})", "exec")
        exec(code, namespace)


README_LINK = re.compile(r"\]\(([^)\s]+)\)")
REPOSITORY = "https://github.com/rxstreamz/rxstreamz/"


def test_readme_links_work_outside_the_repository() -> None:
    """The README is the PyPI page: every link is absolute, and ours point at real files."""
    links = README_LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    for link in links:
        assert link.startswith("https://"), f"relative link in README.md: {link}"
        if link.startswith(REPOSITORY):
            path = link.removeprefix(REPOSITORY).split("/", 2)[2]  # drop "blob/main/"
            assert (ROOT / path).exists(), f"README.md links to a missing file: {link}"
