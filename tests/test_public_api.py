"""The public surface: naming rule, a sorted and complete __all__, py.typed."""

from __future__ import annotations

import builtins
import importlib
import importlib.resources
import inspect
import types
from collections.abc import Callable
from typing import Any

import pytest
import reactivex.operators
from reactivex.testing import TestScheduler

import rxstreamz


def public_names() -> set[str]:
    return {
        name
        for name, value in vars(rxstreamz).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_is_sorted_and_complete() -> None:
    assert rxstreamz.__all__ == sorted(rxstreamz.__all__)
    assert len(set(rxstreamz.__all__)) == len(rxstreamz.__all__)
    assert set(rxstreamz.__all__) == public_names()


def test_no_public_name_shadows_a_builtin_or_an_rxpy_operator() -> None:
    rx_names = {name for name in dir(reactivex.operators) if not name.startswith("_")}
    clashes = [n for n in rxstreamz.__all__ if hasattr(builtins, n) or n in rx_names]
    assert clashes == []


def test_trailing_underscore_only_where_needed() -> None:
    rx_names = {name for name in dir(reactivex.operators) if not name.startswith("_")}
    for name in rxstreamz.__all__:
        if name.endswith("_"):
            bare = name[:-1]
            assert hasattr(builtins, bare) or bare in rx_names, name


def test_package_ships_py_typed() -> None:
    assert importlib.resources.files("rxstreamz").joinpath("py.typed").is_file()


def _print(_: object) -> None:
    return None


WITH_SCHEDULER: dict[str, Callable[[Any], object]] = {
    "aggregate": lambda s: rxstreamz.aggregate(rxstreamz.folds.count(), scheduler=s),
    "async_map": lambda s: rxstreamz.async_map(str, scheduler=s),
    "batch": lambda s: rxstreamz.batch(2, scheduler=s),
    "buffer_": lambda s: rxstreamz.buffer_(2, scheduler=s),
    "circuit_breaker": lambda s: rxstreamz.circuit_breaker(str, scheduler=s),
    "CircuitBreaker": lambda s: rxstreamz.CircuitBreaker(scheduler=s),
    "dead_letter": lambda s: rxstreamz.dead_letter(str, sink=_print, scheduler=s),
    "debounce_": lambda s: rxstreamz.debounce_(1.0, scheduler=s),
    "dedupe": lambda s: rxstreamz.dedupe(scheduler=s),
    "dropping_buffer": lambda s: rxstreamz.dropping_buffer(2, scheduler=s),
    "filter_": lambda s: rxstreamz.filter_(bool, scheduler=s),
    "map_": lambda s: rxstreamz.map_(str, scheduler=s),
    "monitor": lambda s: rxstreamz.monitor(1.0, _print, scheduler=s),
    "partition_": lambda s: rxstreamz.partition_(str, scheduler=s),
    "retry_": lambda s: rxstreamz.retry_(str, scheduler=s),
    "router": lambda s: rxstreamz.router({"a": bool}, scheduler=s),
    "session_window": lambda s: rxstreamz.session_window(1.0, scheduler=s),
    "sliding_buffer": lambda s: rxstreamz.sliding_buffer(2, scheduler=s),
    "sliding_window": lambda s: rxstreamz.sliding_window(2.0, 1.0, scheduler=s),
    "split": lambda s: rxstreamz.split(bool, scheduler=s),
    "switch": lambda s: rxstreamz.switch([(bool, rxstreamz.map_(str))], scheduler=s),
    "tap_": lambda s: rxstreamz.tap_(_print, scheduler=s),
    "throttle": lambda s: rxstreamz.throttle(1.0, scheduler=s),
    "tumbling_window": lambda s: rxstreamz.tumbling_window(1.0, scheduler=s),
}


ASYNCIO_ONLY = {"from_async_iterable"}  # needs an asyncio scheduler: checked in test_bridges.py


def takes_scheduler(value: object) -> bool:
    if not callable(value) or (isinstance(value, type) and issubclass(value, BaseException)):
        return False
    return "scheduler" in inspect.signature(value).parameters


def test_every_factory_with_a_scheduler_option_is_covered() -> None:
    taking = {name for name in rxstreamz.__all__ if takes_scheduler(getattr(rxstreamz, name))}
    assert taking == set(WITH_SCHEDULER) | ASYNCIO_ONLY


@pytest.mark.parametrize("name", sorted(WITH_SCHEDULER))
def test_a_wrong_scheduler_is_a_type_error_at_call_time(name: str) -> None:
    with pytest.raises(TypeError, match=r"^scheduler must be a reactivex scheduler, got int$"):
        WITH_SCHEDULER[name](1)
    WITH_SCHEDULER[name](TestScheduler())  # a real scheduler is accepted


FAMILIES = (
    "transform",
    "batching",
    "flow",
    "backpressure",
    "concurrency",
    "resilience",
    "routing",
    "observability",
)
"""The packages the processors live in, one per family (docs/design.md, "Where to change what")."""


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_package_is_the_surface_of_its_private_modules(family: str) -> None:
    package = importlib.import_module(f"rxstreamz.{family}")
    assert list(package.__all__) == sorted(package.__all__)
    for name in package.__all__:
        value = getattr(package, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue  # a type alias, such as CircuitState
        home = value.__module__
        # Its own private module, or a shared one (QueueStats is the queue's).
        assert home.startswith((f"rxstreamz.{family}._", "rxstreamz._")), (name, home)
    modules = importlib.resources.files(package)
    assert all(
        entry.name.startswith("_") for entry in modules.iterdir() if entry.name.endswith(".py")
    ), "the modules behind a family package are private"


def test_every_processor_lives_in_exactly_one_family() -> None:
    homes: dict[str, list[str]] = {}
    for family in FAMILIES:
        for name in importlib.import_module(f"rxstreamz.{family}").__all__:
            homes.setdefault(name, []).append(family)
    factories = [
        name
        for name in rxstreamz.__all__
        if inspect.isfunction(getattr(rxstreamz, name))
        and not getattr(rxstreamz, name).__module__.startswith("rxstreamz.metrics")
    ]
    assert {name: homes.get(name) for name in factories if len(homes.get(name, [])) != 1} == {}
