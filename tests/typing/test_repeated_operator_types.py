"""Static proof (pyright strict) that one factory used twice in a pipe() types each use apart.

``monitor``, ``progress``, ``throttle``, ``dedupe()`` and the windows fix no
item type by their arguments. Their factories are generic in the item type,
which pyright solves from what ``pipe()`` expects at each call, so two
monitors in one pipe, before and after a stage that changes the type, each
get their own (docs/design.md, "Types"). A class with a generic ``__call__``
gave both uses one solution (``int | dict``) and failed the pipe.

mypy solves the item type only for the first operator of a ``pipe()``: after
it, these operators give ``Observable[Any]``, so this file is pyright's;
``test_pipeline_types.py`` proves what both checkers do.
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import Any, assert_type

import reactivex as rx
from reactivex import Observable

import rxstreamz as rz
from rxstreamz import Operator, StreamStats, Window


def numbers() -> Observable[int]:
    return rx.of(1, 2, 3, 4)


def label(n: int) -> str:
    return f"#{n}"


def report(_stats: StreamStats) -> None:
    return None


def test_two_monitors_around_a_stage_that_changes_the_type() -> None:
    out = numbers().pipe(
        rz.monitor(1.0, report, name="in"),
        rz.map_(label),
        rz.monitor(1.0, report, name="out"),
    )
    assert_type(out, Observable[str])
    assert rz.collect(out) == ["#1", "#2", "#3", "#4"]


def test_every_pass_through_types_each_of_its_uses() -> None:
    assert_type(numbers().pipe(rz.throttle(1e6), rz.map_(label), rz.throttle(1e6)), Observable[str])
    assert_type(numbers().pipe(rz.dedupe(), rz.map_(label), rz.dedupe()), Observable[str])
    assert_type(numbers().pipe(rz.progress(), rz.batch(2), rz.progress()), Observable[list[int]])


def test_windows_of_windows() -> None:
    assert_type(
        numbers().pipe(rz.tumbling_window(1.0), rz.tumbling_window(60.0)),
        Observable[Window[Window[int]]],
    )
    assert_type(
        numbers().pipe(rz.sliding_window(2.0, 1.0), rz.session_window(5.0)),
        Observable[Window[Window[int]]],
    )


def test_a_lambda_after_a_pass_through_takes_the_item_type() -> None:
    assert_type(
        numbers().pipe(rz.monitor(1.0, report), rz.map_(lambda n: n + 1), rz.monitor(1.0, report)),
        Observable[int],
    )


def test_an_operator_kept_aside_is_any_unless_declared() -> None:
    kept = rz.throttle(1e6)
    assert_type(kept, Operator[Any, Observable[Any], rz.ThrottleStats])
    declared: Operator[int, Observable[int], rz.ThrottleStats] = rz.throttle(1e6)
    assert_type(numbers().pipe(declared), Observable[int])
    assert_type(declared.stats(), rz.ThrottleStats)
