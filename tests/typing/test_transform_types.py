"""Static proof (pyright and mypy strict) that types flow through pipe(); also run by pytest."""

from __future__ import annotations

from typing import assert_type

import reactivex as rx
from reactivex import Observable

import rxstreamz as rz
from rxstreamz import batch, chunk, collect, filter_, flatten, map_, sample_, skip_, take_, tap_


def positive(n: int) -> bool:
    return n > 0


def label(n: int) -> str:
    return f"#{n}"


def test_filter_map_chunk_infers_list_of_mapped_type() -> None:
    source: Observable[int] = rx.of(-1, 1, 2, 3)
    out = source.pipe(filter_(positive), map_(label), chunk(3))
    assert_type(out, Observable[list[str]])
    assert collect(out) == [["#1", "#2", "#3"]]


def test_a_batch_fused_after_stages_keeps_the_list_type() -> None:
    source: Observable[int] = rx.of(-1, 1, 2, 3)
    out = source.pipe(filter_(positive), map_(label), batch(2, max_latency=1.0), map_(len))
    assert_type(out, Observable[int])
    assert collect(out) == [2, 1]


def test_count_based_stages_keep_the_item_type() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    seen: list[int] = []
    out = source.pipe(skip_(1), take_(1), sample_(1.0), tap_(seen.append))
    assert_type(out, Observable[int])


def test_unbatch_and_flatten_restore_the_element_type() -> None:
    source: Observable[list[str]] = rx.of(["a"], ["b", "c"])
    assert_type(source.pipe(rz.unbatch()), Observable[str])
    assert_type(source.pipe(flatten()), Observable[str])


def test_stats_records_are_typed() -> None:
    assert_type(filter_(positive).stats(), rz.FilterStats)
    assert_type(map_(label).stats(), rz.TransformStats)
    assert_type(sample_(0.5).stats(), rz.SampleStats)
