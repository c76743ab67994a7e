"""The code blocks of README.md and docs/ type-check under pyright strict.

Each page's python blocks (the ones ``test_docs.py`` runs) become one module,
and pyright checks them all in one run, as a user's editor would; on a page
in ``PROGRAMS`` every block is a whole program, so each is a module of its
own. The README and every page outside ``NOT_YET_STRICT`` must be clean; a
page in that set must still have errors, so that the set only shrinks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_docs import PAGES, ROOT, python_blocks

NOT_YET_STRICT: set[str] = set()
"""Pages whose examples use untyped helpers or build operators from lambdas outside pipe()."""

PROGRAMS = {
    "docs/concepts/asyncio.md",
}
"""Pages whose python blocks are each a complete program (imports, ``main``, ``asyncio.run``)."""

PYRIGHT = Path(sys.executable).with_name("pyright")


def module_name(page: Path) -> str:
    return str(page.relative_to(ROOT).with_suffix("")).replace("/", "__").replace("-", "_")


@pytest.fixture(scope="module")
def errors_by_page(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    if not PYRIGHT.exists():
        pytest.skip("pyright is not installed next to this interpreter")
    folder = tmp_path_factory.mktemp("doc_blocks")
    pages: dict[str, str] = {}
    for page in PAGES:
        blocks = python_blocks(page)
        if not blocks:
            continue
        relative = str(page.relative_to(ROOT))
        name = module_name(page)
        modules = (
            {f"{name}__{n}": block for n, block in enumerate(blocks, start=1)}
            if relative in PROGRAMS
            else {name: "\n\n".join(blocks)}
        )
        for module, text in modules.items():
            pages[module] = relative
            (folder / f"{module}.py").write_text(text, encoding="utf-8")
    config = {"typeCheckingMode": "strict", "pythonVersion": "3.11", "extraPaths": [str(ROOT)]}
    (folder / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    run = subprocess.run(
        [str(PYRIGHT), "--outputjson", "--pythonpath", sys.executable, str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=100,
    )
    report = json.loads(run.stdout)
    found: dict[str, list[str]] = {page: [] for page in pages.values()}
    assert PROGRAMS.issubset(found), "a page in PROGRAMS has no python blocks"
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            where = pages[Path(diagnostic["file"]).stem]
            line = diagnostic["range"]["start"]["line"] + 1
            found[where].append(f"line {line}: {diagnostic['message']}")
    return found


def test_the_readme_examples_are_strict_clean(errors_by_page: dict[str, list[str]]) -> None:
    assert errors_by_page["README.md"] == []


def test_every_other_page_is_strict_clean_or_listed(errors_by_page: dict[str, list[str]]) -> None:
    failing = {page for page, errors in errors_by_page.items() if errors}
    assert failing - NOT_YET_STRICT == set(), {
        p: errors_by_page[p] for p in failing - NOT_YET_STRICT
    }
    assert NOT_YET_STRICT - failing == set(), "now strict-clean: drop them from NOT_YET_STRICT"
