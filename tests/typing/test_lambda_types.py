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

import rxstreamz as rz

Order = dict[str, int]


def numbers() -> Observable[int]:
    return rx.of(1, 2, 3, 4)


def orders() -> Observable[Order]:
    return rx.of({"id": 1, "total": 5}, {"id": 2, "total": 0})


async def double_later(n: int) -> int:
    return n * 2


def test_filter_map_tap_infer_the_item_type() -> None:
    seen: list[int] = []
    assert_type(numbers().pipe(rz.filter_(lambda n: n % 2 == 0)), Observable[int])
    assert_type(orders().pipe(rz.filter_(lambda o: o["total"] > 0)), Observable[Order])
    assert_type(numbers().pipe(rz.map_(lambda n: f"#{n:02d}")), Observable[str])
    assert_type(numbers().pipe(rz.tap_(lambda n: seen.append(n))), Observable[int])
    chained = numbers().pipe(
        rz.map_(lambda n: n * 10), rz.filter_(lambda n: n > 10), rz.map_(lambda n: n.bit_length())
    )
    assert_type(chained, Observable[int])
    assert rz.collect(chained) == [5, 5, 6]


def test_count_and_size_stages_hand_their_type_to_the_next_lambda() -> None:
    assert_type(numbers().pipe(rz.take_(2), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(rz.skip_(1), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(rz.sample_(0.5), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(rz.chunk(2), rz.map_(lambda xs: sum(xs))), Observable[int])
    assert_type(numbers().pipe(rz.chunk(2), rz.unbatch(), rz.map_(lambda n: -n)), Observable[int])
    assert_type(numbers().pipe(rz.chunk(2), rz.flatten(), rz.map_(lambda n: -n)), Observable[int])
    assert rz.collect(numbers().pipe(rz.chunk(3), rz.map_(lambda xs: len(xs)))) == [3, 1]


def test_timing_and_flow_control() -> None:
    assert_type(numbers().pipe(rz.batch(2), rz.map_(lambda xs: xs[0])), Observable[int])
    assert_type(numbers().pipe(rz.debounce_(0.1), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(rz.throttle(10.0), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(orders().pipe(rz.dedupe(lambda o: o["id"])), Observable[Order])
    assert_type(orders().pipe(rz.dedupe(lambda o: o["id"], ttl=5.0)), Observable[Order])


def test_windows_and_aggregate() -> None:
    assert_type(
        numbers().pipe(rz.tumbling_window(1.0), rz.map_(lambda w: w.items)), Observable[list[int]]
    )
    assert_type(
        numbers().pipe(rz.sliding_window(2.0, 1.0), rz.map_(lambda w: len(w.items))),
        Observable[int],
    )
    keyed = orders().pipe(rz.session_window(1.0, key=lambda o: str(o["id"])))
    assert_type(keyed, Observable[rz.Window[Order]])
    assert_type(
        numbers().pipe(rz.aggregate(lambda total, n: total + n, 0)),
        Observable[rz.AggregateWindow[int]],
    )
    assert_type(
        orders().pipe(rz.aggregate(lambda best, o: max(best, o["total"]), 0, count=10)),
        Observable[rz.AggregateWindow[int]],
    )


def test_concurrency_and_resilience() -> None:
    assert_type(numbers().pipe(rz.async_map(lambda n: n * 2)), Observable[int])
    assert_type(numbers().pipe(rz.async_map(lambda n: double_later(n))), Observable[int])
    assert_type(numbers().pipe(rz.retry_(lambda n: n.bit_length())), Observable[int])
    assert_type(numbers().pipe(rz.circuit_breaker(lambda n: n * 2)), Observable[int])
    assert_type(
        numbers().pipe(rz.dead_letter(lambda n: 10 // n, sink=lambda letter: print(letter.item))),
        Observable[int],
    )


def test_buffers_and_monitor_hand_their_type_on() -> None:
    assert_type(numbers().pipe(rz.buffer_(10), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(rz.dropping_buffer(10), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(numbers().pipe(rz.sliding_buffer(10), rz.map_(lambda n: n + 1)), Observable[int])
    assert_type(
        numbers().pipe(rz.monitor(1.0, lambda stats: print(stats.rate)), rz.map_(lambda n: n + 1)),
        Observable[int],
    )


def test_routing() -> None:
    assert_type(numbers().pipe(rz.partition_(lambda n: n % 2, 2)), tuple[Observable[int], ...])
    assert_type(
        orders().pipe(rz.split(lambda o: o["total"] > 0)),
        tuple[Observable[Order], Observable[Order]],
    )
    assert_type(
        numbers().pipe(rz.router({"small": lambda n: n < 3, "even": lambda n: n % 2 == 0})),
        dict[str, Observable[int]],
    )
    labelled = numbers().pipe(
        rz.switch(
            [(lambda n: n > 2, rz.map_(lambda n: f"big {n}"))], default=ops.map(lambda n: str(n))
        )
    )
    assert_type(labelled, Observable[str])
    assert rz.collect(labelled) == ["1", "2", "big 3", "big 4"]
