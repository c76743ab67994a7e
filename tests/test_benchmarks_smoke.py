"""Smoke-run every benchmark module once, on tiny sizes.

``make test`` does not collect ``benchmarks/`` (slow by design), so this test
imports every ``benchmarks/bench_*.py`` found at collection time and runs each
of its ``test_*`` cases once with a stub ``benchmark`` fixture. A module added
later is covered without touching this file, provided it follows the
convention:

* **Size**: every item count in the module derives from the environment
  variable ``RXSTREAMZ_BENCH_N`` (default: the module's full size, e.g.
  ``int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))``); slower cases use
  a fraction of it (``max(1, n // 100)``). Read it when a case runs, or keep
  it in a module-level ``int`` named ``N`` and read ``N`` when a case runs.
  This test sets ``RXSTREAMZ_BENCH_N`` to :data:`SMOKE_N` *before* importing
  the module and also sets ``N`` if the module has one, so every case must be
  correct for 50 items. A module that mentions neither is rejected (it would
  run its full size inside ``make test``).
* **Cases**: ``test_*`` functions taking ``benchmark`` and, optionally,
  arguments given by ``@pytest.mark.parametrize`` (no other fixtures). Each
  calls the fixture exactly once: ``benchmark(fn, *args)`` or
  ``benchmark.pedantic(fn, args=..., setup=..., rounds=...)``; it may set
  ``benchmark.group`` and ``benchmark.extra_info`` and read
  ``benchmark.stats.stats.min`` afterwards; it should check the result.
* No thread left running after a case.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

SMOKE_N = 50
SIZE_VARIABLE = "RXSTREAMZ_BENCH_N"
BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
MODULES = sorted(BENCH_DIR.glob("bench_*.py"))

_R = TypeVar("_R")
_PARAMETER_SET = type(pytest.param(None))


@dataclass(frozen=True, slots=True)
class StubStatistics:
    """The timing statistics pytest-benchmark exposes as ``benchmark.stats.stats``."""

    min: float
    max: float
    mean: float
    median: float
    total: float
    rounds: int = 1


@dataclass(frozen=True, slots=True)
class StubMetadata:
    """``benchmark.stats`` after a run."""

    stats: StubStatistics


class StubBenchmark:
    """Stands in for pytest-benchmark's fixture: runs the function once."""

    def __init__(self) -> None:
        self.group: str | None = None
        self.name = "smoke"
        self.extra_info: dict[str, object] = {}
        self.calls = 0
        self.stats: StubMetadata | None = None

    def _timed(
        self, fn: Callable[..., _R], args: Sequence[object], kwargs: dict[str, object]
    ) -> _R:
        self.calls += 1
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = max(time.perf_counter() - start, 1e-9)
        self.stats = StubMetadata(StubStatistics(elapsed, elapsed, elapsed, elapsed, elapsed))
        return result

    def __call__(self, fn: Callable[..., _R], *args: object, **kwargs: object) -> _R:
        return self._timed(fn, args, kwargs)

    def pedantic(
        self,
        target: Callable[..., _R],
        args: Sequence[object] = (),
        kwargs: dict[str, object] | None = None,
        setup: Callable[[], object] | None = None,
        teardown: Callable[..., object] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
    ) -> _R:
        del rounds, warmup_rounds, iterations
        call_args, call_kwargs = tuple(args), dict(kwargs or {})
        if setup is not None:
            made = setup()
            if made is not None:
                assert isinstance(made, tuple), "pedantic setup must return (args, kwargs)"
                made_args: Sequence[object]
                made_kwargs: dict[str, object]
                made_args, made_kwargs = made  # pyright: ignore[reportUnknownVariableType]
                call_args, call_kwargs = tuple(made_args), dict(made_kwargs)
        try:
            return self._timed(target, call_args, call_kwargs)
        finally:
            if teardown is not None:
                teardown(*call_args, **call_kwargs)


def load(path: Path) -> ModuleType:
    """Import a benchmark module from its file (``benchmarks/`` is not a package)."""
    name = f"_smoke_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def parameter_sets(case: Callable[..., object]) -> Iterator[dict[str, object]]:
    """Expand a case's ``parametrize`` marks into keyword arguments (cartesian product)."""
    marks: list[pytest.Mark] = list(getattr(case, "pytestmark", []))
    axes: list[list[dict[str, object]]] = []
    for mark in marks:
        if mark.name != "parametrize":
            continue
        names_arg: str | Sequence[str] = mark.args[0]
        names = (
            [n.strip() for n in names_arg.split(",")]
            if isinstance(names_arg, str)
            else list(names_arg)
        )
        axis: list[dict[str, object]] = []
        for raw in mark.args[1]:
            value: object = raw.values if isinstance(raw, _PARAMETER_SET) else raw
            values: Sequence[object]
            if len(names) == 1:
                values = value[:1] if isinstance(raw, _PARAMETER_SET) else [value]  # type: ignore[index]
            else:
                assert isinstance(value, Sequence)
                values = value  # pyright: ignore[reportUnknownVariableType]
            axis.append(dict(zip(names, values, strict=True)))
        axes.append(axis)
    for combination in itertools.product(*axes):
        merged: dict[str, object] = {}
        for part in combination:
            merged.update(part)
        yield merged


def test_benchmark_modules_exist() -> None:
    assert [p.name for p in MODULES if p.name in {"bench_transform.py", "bench_pipeline.py"}] == [
        "bench_pipeline.py",
        "bench_transform.py",
    ]


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_benchmark_module_runs_on_tiny_sizes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = path.read_text(encoding="utf-8")
    sized = SIZE_VARIABLE in source or re.search(r"^N\b.*=", source, re.MULTILINE) is not None
    assert sized, f"{path.name} must take its sizes from {SIZE_VARIABLE} or a module-level N"
    monkeypatch.setenv(SIZE_VARIABLE, str(SMOKE_N))
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    module = load(path)
    try:
        if hasattr(module, "N"):
            assert isinstance(module.N, int), f"{path.name}: N must be an int"
            monkeypatch.setattr(module, "N", SMOKE_N)
        cases: dict[str, Callable[..., object]] = {
            name: value
            for name, value in vars(module).items()
            if name.startswith("test_") and callable(value)
        }
        assert cases, f"{path.name} has no test_* case"
        for name, case in cases.items():
            allowed = {"benchmark"}
            for params in parameter_sets(case):
                allowed |= params.keys()
                extra = set(inspect.signature(case).parameters) - allowed
                assert not extra, f"{path.name}::{name} takes fixtures {sorted(extra)}"
                stub = StubBenchmark()
                case(benchmark=stub, **params)
                assert stub.calls == 1, f"{path.name}::{name} called benchmark {stub.calls} times"
    finally:
        sys.modules.pop(f"_smoke_{path.stem}", None)


def test_stub_pedantic_runs_setup_and_teardown() -> None:
    seen: list[str] = []
    stub = StubBenchmark()

    def setup() -> tuple[tuple[int], dict[str, Any]]:
        seen.append("setup")
        return (2,), {"factor": 3}

    def target(n: int, factor: int) -> int:
        return n * factor

    def teardown(n: int, factor: int) -> None:
        seen.append(f"teardown {n} {factor}")

    assert stub.pedantic(target, setup=setup, teardown=teardown, rounds=5) == 6
    assert seen == ["setup", "teardown 2 3"]
    assert stub.calls == 1
    assert stub.stats is not None
    assert stub.stats.stats.min > 0


def test_parameter_sets_expand_marks() -> None:
    @pytest.mark.parametrize("a", [1, pytest.param(2, id="two")])
    @pytest.mark.parametrize(("b", "c"), [("x", "y")])
    def case(benchmark: object, a: int, b: str, c: str) -> None:
        del benchmark, a, b, c

    assert sorted(parameter_sets(case), key=lambda p: str(p["a"])) == [
        {"b": "x", "c": "y", "a": 1},
        {"b": "x", "c": "y", "a": 2},
    ]
