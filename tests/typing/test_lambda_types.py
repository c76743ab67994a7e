"""Static proof (pyright strict) that an inline lambda in pipe() takes its type from the source.

Every family is here, as the user writes it: ``source.pipe(filter_(lambda n: ...))``.
Pyright infers the lambda's parameter from ``source``, as it does for
``reactivex.operators``. mypy does not infer a lambda's parameter inside
``pipe()``, not even for ``reactivex.operators``, so this file is pyright's;
``test_operator_types.py`` proves for both checkers what mypy can do.
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import assert_type

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops

from rxstreamz import (
    AggregateWindow,
    Window,
    aggregate,
    async_map,
    batch,
    buffer_,
    chunk,
    circuit_breaker,
    collect,
    dead_letter,
    debounce_,
    dedupe,
    dropping_buffer,
    filter_,
    flatten,
    map_,
    monitor,
    partition_,
    retry_,
    router,
    sample_,
    session_window,
    skip_,
    sliding_buffer,
    sliding_window,
    split,
    switch,
    take_,
    tap_,
    throttle,
    tumbling_window,
    unbatch,
)

Order = dict[str, int]


def numbers() -> Observable[int]:
    return rx.of(1, 2, 3, 4)


def orders() -> Observable[Order]:
    return rx.of({"id": 1, "total": 5}, {"id": 2, "total": 0})


async def double_later(n: int) -> int:
    return n * 2


def test_filter_map_tap_infer_the_item_type() -> None:
    seen: list[int] = []
    assert_type(numbers().pipe(filter_(lambda n: n % 2 == 0)), Observable[int])
    assert_type(orders().pipe(filter_(lambda o: o["total"] > 0)), Observable[Order])
    assert_type(numbers().pipe(map_(lambda n: f"#{n:02d}")), Observable[str])
    assert_type(numbers().pipe(tap_(lambda n: seen.append(n))), Observable[int])
    chained = numbers().pipe(
        map_(lambda n: n * 10), filter_(lambda n: n > 10), map_(lambda n: n.bit_length())
    )
    assert_type(chained, Observable[int])
    assert collect(chained) == [5, 5, 6]


def test_count_and_size_stages_hand_their_type_to_the_next_lambda() -> None:
    assert_type(numbers().pipe(take_(2), map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(skip_(1), map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(sample_(0.5), map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(chunk(2), map_(lambda xs: sum(xs))), Observable[int])
    assert_type(numbers().pipe(chunk(2), unbatch(), map_(lambda n: -n)), Observable[int])
    assert_type(numbers().pipe(chunk(2), flatten(), map_(lambda n: -n)), Observable[int])
    assert collect(numbers().pipe(chunk(3), map_(lambda xs: len(xs)))) == [3, 1]


def test_timing_and_flow_control() -> None:
    assert_type(numbers().pipe(batch(2), map_(lambda xs: xs[0])), Observable[int])
    assert_type(numbers().pipe(debounce_(0.1), map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(throttle(10.0), map_(lambda n: n + 1)), Observable[int])
    assert_type(orders().pipe(dedupe(lambda o: o["id"])), Observable[Order])
    assert_type(orders().pipe(dedupe(lambda o: o["id"], ttl=5.0)), Observable[Order])


def test_windows_and_aggregate() -> None:
    assert_type(
        numbers().pipe(tumbling_window(1.0), map_(lambda w: w.items)), Observable[list[int]]
    )
    assert_type(
        numbers().pipe(sliding_window(2.0, 1.0), map_(lambda w: len(w.items))), Observable[int]
    )
    keyed = orders().pipe(session_window(1.0, key=lambda o: str(o["id"])))
    assert_type(keyed, Observable[Window[Order]])
    assert_type(
        numbers().pipe(aggregate(lambda total, n: total + n, 0)),
        Observable[AggregateWindow[int]],
    )
    assert_type(
        orders().pipe(aggregate(lambda best, o: max(best, o["total"]), 0, count=10)),
        Observable[AggregateWindow[int]],
    )


def test_concurrency_and_resilience() -> None:
    assert_type(numbers().pipe(async_map(lambda n: n * 2)), Observable[int])
    assert_type(numbers().pipe(async_map(lambda n: double_later(n))), Observable[int])
    assert_type(numbers().pipe(retry_(lambda n: n.bit_length())), Observable[int])
    assert_type(numbers().pipe(circuit_breaker(lambda n: n * 2)), Observable[int])
    assert_type(
        numbers().pipe(dead_letter(lambda n: 10 // n, sink=lambda letter: print(letter.item))),
        Observable[int],
    )


def test_buffers_and_monitor_hand_their_type_on() -> None:
    assert_type(numbers().pipe(buffer_(10), map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(dropping_buffer(10), map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(sliding_buffer(10), map_(lambda n: n + 1)), Observable[int])
    assert_type(
        numbers().pipe(monitor(1.0, lambda stats: print(stats.rate)), map_(lambda n: n + 1)),
        Observable[int],
    )


def test_routing() -> None:
    assert_type(numbers().pipe(partition_(lambda n: n % 2, 2)), tuple[Observable[int], ...])
    assert_type(
        orders().pipe(split(lambda o: o["total"] > 0)),
        tuple[Observable[Order], Observable[Order]],
    )
    assert_type(
        numbers().pipe(router({"small": lambda n: n < 3, "even": lambda n: n % 2 == 0})),
        dict[str, Observable[int]],
    )
    labelled = numbers().pipe(
        switch([(lambda n: n > 2, map_(lambda n: f"big {n}"))], default=ops.map(lambda n: str(n)))
    )
    assert_type(labelled, Observable[str])
    assert collect(labelled) == ["1", "2", "big 3", "big 4"]
