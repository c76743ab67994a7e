"""Importing rxstreamz never imports an optional extra."""

from __future__ import annotations

import subprocess
import sys


def test_import_has_no_optional_dependencies() -> None:
    code = (
        "import sys, rxstreamz; "
        "print(sorted(m for m in ('tqdm', 'prometheus_client', 'opentelemetry', 'dask', "
        "'distributed', 'rich', 'aiostream') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
