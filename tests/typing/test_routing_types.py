"""Static proof (pyright and mypy strict) that routing types flow through pipe(); also run."""

from __future__ import annotations

from typing import assert_type

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops

import rxstreamz as rz
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
    assert_type(source.pipe(rz.split(is_even)), tuple[Observable[int], Observable[int]])
    assert_type(rz.split(is_even)(source), tuple[Observable[int], Observable[int]])
    evens, odds = source.pipe(rz.split(is_even))
    assert_type(evens, Observable[int])
    assert_type(odds, Observable[int])


def test_router_gives_a_dict_of_the_item_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(rz.router({"even": is_even})), dict[str, Observable[int]])
    assert_type(rz.router({"even": is_even, "big": is_big})(source), dict[str, Observable[int]])


def test_fan_out_and_partition_give_tuples_of_the_item_type() -> None:
    source: Observable[str] = rx.of("a", "b")
    assert_type(source.pipe(rz.fan_out(3)), tuple[Observable[str], ...])
    assert_type(rz.fan_out(2)(source), tuple[Observable[str], ...])
    numbers: Observable[int] = rx.of(1, 2)
    assert_type(numbers.pipe(rz.partition_(identity)), tuple[Observable[int], ...])
    assert_type(rz.partition_(identity, 2)(numbers), tuple[Observable[int], ...])


def test_fan_in_keeps_the_item_type() -> None:
    left: Observable[int] = rx.of(1)
    right: Observable[int] = rx.of(2)
    merged = rz.fan_in(left, right)
    assert_type(merged, FanIn[int])
    as_observable: Observable[int] = merged  # an Observable, with stats()
    assert rz.collect(as_observable) == [1, 2]


def test_switch_is_an_operator_to_the_case_output_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    labelled = source.pipe(rz.switch([(is_even, ops.map(label))], default=ops.map(label)))
    assert_type(labelled, Observable[str])
    assert rz.collect(labelled) == ["#1", "#2", "#3"]
    named = rz.switch({"even": (is_even, ops.map(label))})(source)
    assert_type(named, Observable[str])


def test_stats_records_are_typed() -> None:
    assert_type(rz.split(is_even).stats(), rz.SplitStats)
    assert_type(rz.router({"even": is_even}).stats(), rz.RouterStats)
    assert_type(rz.partition_(identity).stats(), rz.PartitionStats)
    assert_type(rz.switch([(is_even, ops.map(label))]).stats(), rz.SwitchStats)
    assert_type(rz.fan_out(2).stats(), rz.FanOutStats)
    assert_type(rz.fan_in(rx.of(1)).stats(), rz.FanInStats)
