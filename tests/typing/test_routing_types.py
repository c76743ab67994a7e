"""Static proof (pyright and mypy strict) that routing types flow through pipe(); also run."""

from __future__ import annotations

from typing import assert_type

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops

from rxstreamz import (
    FanInStats,
    FanOutStats,
    PartitionStats,
    RouterStats,
    SplitStats,
    SwitchStats,
    collect,
    fan_in,
    fan_out,
    partition_,
    router,
    split,
    switch,
)
from rxstreamz.routing import FanIn


def is_even(n: int) -> bool:
    return n % 2 == 0


def is_big(n: int) -> bool:
    return n > 2


def identity(n: int) -> int:
    return n


def label(n: int) -> str:
    return f"#{n}"


def test_split_gives_a_pair_of_the_item_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(split(is_even)), tuple[Observable[int], Observable[int]])
    assert_type(split(is_even)(source), tuple[Observable[int], Observable[int]])
    evens, odds = source.pipe(split(is_even))
    assert_type(evens, Observable[int])
    assert_type(odds, Observable[int])


def test_router_gives_a_dict_of_the_item_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(router({"even": is_even})), dict[str, Observable[int]])
    assert_type(router({"even": is_even, "big": is_big})(source), dict[str, Observable[int]])


def test_fan_out_and_partition_give_tuples_of_the_item_type() -> None:
    source: Observable[str] = rx.of("a", "b")
    assert_type(source.pipe(fan_out(3)), tuple[Observable[str], ...])
    assert_type(fan_out(2)(source), tuple[Observable[str], ...])
    numbers: Observable[int] = rx.of(1, 2)
    assert_type(numbers.pipe(partition_(identity)), tuple[Observable[int], ...])
    assert_type(partition_(identity, 2)(numbers), tuple[Observable[int], ...])


def test_fan_in_keeps_the_item_type() -> None:
    left: Observable[int] = rx.of(1)
    right: Observable[int] = rx.of(2)
    merged = fan_in(left, right)
    assert_type(merged, FanIn[int])
    as_observable: Observable[int] = merged  # an Observable, with stats()
    assert collect(as_observable) == [1, 2]


def test_switch_is_an_operator_to_the_case_output_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    labelled = source.pipe(switch([(is_even, ops.map(label))], default=ops.map(label)))
    assert_type(labelled, Observable[str])
    assert collect(labelled) == ["#1", "#2", "#3"]
    named = switch({"even": (is_even, ops.map(label))})(source)
    assert_type(named, Observable[str])


def test_stats_records_are_typed() -> None:
    assert_type(split(is_even).stats(), SplitStats)
    assert_type(router({"even": is_even}).stats(), RouterStats)
    assert_type(partition_(identity).stats(), PartitionStats)
    assert_type(switch([(is_even, ops.map(label))]).stats(), SwitchStats)
    assert_type(fan_out(2).stats(), FanOutStats)
    assert_type(fan_in(rx.of(1)).stats(), FanInStats)
