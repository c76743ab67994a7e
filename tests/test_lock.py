"""The development lock covers every dependency that pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, list[Version]]:
    pins: dict[str, list[Version]] = {}
    for name, version in PIN.findall((ROOT / "requirements" / "dev.lock").read_text("utf-8")):
        pins.setdefault(canonical(name), []).append(Version(version))
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    tools = (ROOT / "requirements" / "tools.in").read_text("utf-8").splitlines()
    lines += [line for line in tools if line.strip() and not line.startswith("#")]
    return [Requirement(line) for line in lines if not line.startswith("rxstreamz")]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        versions = pins.get(canonical(requirement.name))
        assert versions, f"{requirement.name} is not in requirements/dev.lock: run `make lock`"
        assert any(requirement.specifier.contains(v, prereleases=True) for v in versions), (
            f"requirements/dev.lock pins {requirement.name} outside {requirement}: run `make lock`"
        )


def test_every_pin_is_exact() -> None:
    text = (ROOT / "requirements" / "dev.lock").read_text("utf-8")
    packages = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert packages
    loose = [line for line in packages if not PIN.match(line)]
    assert not loose, f"unpinned lines in requirements/dev.lock: {loose}"
