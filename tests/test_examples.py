"""Every script in examples/ runs to completion (each asserts its own results)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def test_examples_exist() -> None:
    names = {path.stem for path in EXAMPLES}
    assert {
        "quickstart",
        "log_alerts",
        "bulk_insert_sqlite",
        "api_enrichment",
        "scale_out_dask",
    } <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "an example shows what it did"
