"""The public surface: naming rule, a sorted and complete __all__, py.typed."""

from __future__ import annotations

import builtins
import importlib.resources
import types

import reactivex.operators

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
