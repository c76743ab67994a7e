"""Smoke-test an installed rxstreamz wheel in an environment with runtime dependencies only.

Run by `make dist-check` with the interpreter of a fresh virtualenv into which
only the built wheel (and what it declares) was installed. Exits non-zero with
a message on the first failed check.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

RUNTIME = {"rxstreamz", "reactivex", "typing-extensions", "typing_extensions"}
INSTALLER = {"pip", "setuptools", "wheel"}
EXTRAS = (
    "aiostream",
    "dask",
    "distributed",
    "opentelemetry",
    "prometheus_client",
    "rich",
    "streamz",
    "tqdm",
)
BENCH = ("cli", "cases", "asyncio_cases", "baselines", "measure", "model", "render")
"""The modules of ``rxstreamz.bench``, the package of the ``rxstreamz`` console script."""


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"wheel smoke test: {message}")


def main() -> None:
    import reactivex as rx

    import rxstreamz
    from rxstreamz import batch, collect, filter_, map_

    package = Path(rxstreamz.__file__).parent
    check("site-packages" in package.parts, f"rxstreamz imported from {package}, not the wheel")
    check((package / "py.typed").is_file(), "py.typed is missing from the wheel")

    installed = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    unexpected = installed - RUNTIME - INSTALLER
    check(not unexpected, f"runtime install pulled in more than it declares: {sorted(unexpected)}")

    evens = collect(rx.range(10).pipe(filter_(lambda n: n % 2 == 0), map_(str), batch(2)))
    check(evens == [["0", "2"], ["4", "6"], ["8"]], f"pipeline gave {evens!r}")

    imported = sorted(name for name in EXTRAS if name in sys.modules)
    check(not imported, f"importing rxstreamz imported optional extras: {imported}")
    check("rxstreamz.bench.cli" not in sys.modules, "importing rxstreamz imported the bench")

    for name in BENCH:
        check((package / "bench" / f"{name}.py").is_file(), f"rxstreamz/bench/{name}.py is missing")
        importlib.import_module(f"rxstreamz.bench.{name}")
    imported = sorted(name for name in EXTRAS if name in sys.modules)
    check(not imported, f"importing rxstreamz.bench imported optional extras: {imported}")

    script = Path(sys.executable).parent / "rxstreamz"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    check(result.returncode == 0, f"`rxstreamz --help` exited {result.returncode}: {result.stderr}")
    check("bench" in result.stdout, "`rxstreamz --help` does not mention `bench`")
    print(f"wheel smoke test: rxstreamz {importlib.metadata.version('rxstreamz')} ok")


if __name__ == "__main__":
    main()
