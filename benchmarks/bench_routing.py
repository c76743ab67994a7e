"""Routing beside RxPY and plain loops: partition_, router, fan_out.

Run: ``pytest benchmarks/bench_routing.py --benchmark-enable``.

Every case routes ``N`` items (default 1,000,000) and consumes each branch
with ``list.append``, so the numbers compare the routing machinery alone:

* ``partition_int``: ``partition_(identity, 4, partitioner=k % n)`` beside
  RxPY ``group_by(n % 4)`` (one subscriber per group) and a loop into four
  lists.
* ``partition_str``: string keys from 1,000 customers with the default FNV-1a
  partitioner, beside ``group_by(fnv1a_32(k) % 4)`` and a loop computing the
  same hash.
* ``router``: two divisibility routes plus a default, ``mode="first"``,
  beside ``group_by(first matching route)`` and a loop.
* ``fan_out``: three branches each receiving every item, beside RxPY
  ``publish()`` + ``connect()`` on the same cold source, ``share()`` over a
  ``Subject`` fed by a loop (``share`` on a cold synchronous source would run
  the whole source for its first subscriber alone), and a loop appending to
  three lists.

``N`` is read when a case runs (``RXSTREAMZ_BENCH_N`` overrides it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest
import reactivex as rx
from pytest_benchmark.fixture import BenchmarkFixture
from reactivex import GroupedObservable, Observable
from reactivex import operators as ops
from reactivex.observable import ConnectableObservable
from reactivex.subject import Subject

from rxstreamz import fan_in, fan_out, fnv1a_32, partition_, router, switch

PARTITIONS = 4

_T = TypeVar("_T")


def item_count() -> int:
    return int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))


def measure(benchmark: BenchmarkFixture, run: Callable[[], list[list[object]]]) -> None:
    n = item_count()
    result: list[list[object]] = benchmark.pedantic(  # type: ignore[no-untyped-call]
        run, rounds=3, iterations=1, warmup_rounds=1
    )
    assert sum(len(part) for part in result) in (n, 3 * n)
    stats: Any = benchmark.stats
    if stats is not None:  # None under --benchmark-disable (a smoke run)
        benchmark.extra_info["items_per_s"] = round(n / stats.stats.min)


def consume(branches: Sequence[Observable[_T]]) -> list[list[object]]:
    parts: list[list[object]] = [[] for _ in branches]
    for part, branch in zip(parts, branches, strict=True):
        branch.subscribe(part.append)
    return parts


def consume_groups(
    source: Observable[_T], key: Callable[[_T], object], keys: list[object]
) -> list[list[object]]:
    parts: dict[object, list[object]] = {k: [] for k in keys}

    def on_group(group: GroupedObservable[object, _T]) -> None:
        group.subscribe(parts[group.key].append)

    source.pipe(ops.group_by(key)).subscribe(on_group)
    return list(parts.values())


# -- partition_ with int keys ----------------------------------------------------------------


def identity(n: _T) -> _T:
    return n


def modulo(key: int, n: int) -> int:
    return key % n


def by_modulo(n: int) -> int:
    return n % PARTITIONS


@pytest.mark.benchmark(group="partition_int")
def test_partition_int_rxstreamz(benchmark: BenchmarkFixture) -> None:
    measure(
        benchmark,
        lambda: consume(
            rx.from_iterable(range(item_count())).pipe(
                partition_(identity, PARTITIONS, partitioner=modulo)
            )
        ),
    )


@pytest.mark.benchmark(group="partition_int")
def test_partition_int_rxpy_group_by(benchmark: BenchmarkFixture) -> None:
    measure(
        benchmark,
        lambda: consume_groups(
            rx.from_iterable(range(item_count())), by_modulo, list(range(PARTITIONS))
        ),
    )


@pytest.mark.benchmark(group="partition_int")
def test_partition_int_plain_loop(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        parts: list[list[object]] = [[] for _ in range(PARTITIONS)]
        for n in range(item_count()):
            parts[n % PARTITIONS].append(n)
        return parts

    measure(benchmark, run)


# -- partition_ with str keys (default FNV-1a partitioner) ---------------------------------------


def customers() -> list[str]:
    return [f"cust-{i % 1000}" for i in range(item_count())]


def by_fnv(key: str) -> int:
    return fnv1a_32(key) % PARTITIONS


@pytest.mark.benchmark(group="partition_str")
def test_partition_str_rxstreamz(benchmark: BenchmarkFixture) -> None:
    keys = customers()
    measure(benchmark, lambda: consume(rx.from_iterable(keys).pipe(partition_(identity))))


@pytest.mark.benchmark(group="partition_str")
def test_partition_str_rxpy_group_by(benchmark: BenchmarkFixture) -> None:
    keys = customers()
    measure(
        benchmark,
        lambda: consume_groups(rx.from_iterable(keys), by_fnv, list(range(PARTITIONS))),
    )


@pytest.mark.benchmark(group="partition_str")
def test_partition_str_plain_loop(benchmark: BenchmarkFixture) -> None:
    keys = customers()

    def run() -> list[list[object]]:
        parts: list[list[object]] = [[] for _ in range(PARTITIONS)]
        for key in keys:
            parts[fnv1a_32(key) % PARTITIONS].append(key)
        return parts

    measure(benchmark, run)


# -- router ------------------------------------------------------------------------------------


def even(n: int) -> bool:
    return n % 2 == 0


def triple(n: int) -> bool:
    return n % 3 == 0


ROUTES: dict[str, Callable[[int], object]] = {"even": even, "triple": triple}


def route_of(n: int) -> str:
    for label, predicate in ROUTES.items():
        if predicate(n):
            return label
    return "default"


@pytest.mark.benchmark(group="router")
def test_router_rxstreamz(benchmark: BenchmarkFixture) -> None:
    measure(
        benchmark,
        lambda: consume(
            list(rx.from_iterable(range(item_count())).pipe(router(ROUTES, default=True)).values())
        ),
    )


@pytest.mark.benchmark(group="router")
def test_router_rxpy_group_by(benchmark: BenchmarkFixture) -> None:
    measure(
        benchmark,
        lambda: consume_groups(
            rx.from_iterable(range(item_count())), route_of, ["even", "triple", "default"]
        ),
    )


@pytest.mark.benchmark(group="router")
def test_router_plain_loop(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        parts: dict[object, list[object]] = {"even": [], "triple": [], "default": []}
        for n in range(item_count()):
            parts[route_of(n)].append(n)
        return list(parts.values())

    measure(benchmark, run)


# -- fan_out(3) --------------------------------------------------------------------------------


@pytest.mark.benchmark(group="fan_out")
def test_fan_out_rxstreamz(benchmark: BenchmarkFixture) -> None:
    measure(benchmark, lambda: consume(rx.from_iterable(range(item_count())).pipe(fan_out(3))))


@pytest.mark.benchmark(group="fan_out")
def test_fan_out_rxpy_publish(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        published: ConnectableObservable[int] = rx.from_iterable(range(item_count())).pipe(
            ops.publish()
        )
        parts = consume([published, published, published])
        published.connect()
        return parts

    measure(benchmark, run)


@pytest.mark.benchmark(group="fan_out")
def test_fan_out_rxpy_share_over_subject(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        subject: Subject[object] = Subject()
        shared = subject.pipe(ops.share())
        parts = consume([shared, shared, shared])
        for n in range(item_count()):
            subject.on_next(n)
        subject.on_completed()
        return parts

    measure(benchmark, run)


@pytest.mark.benchmark(group="fan_out")
def test_fan_out_plain_loop(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        parts: list[list[object]] = [[], [], []]
        first, second, third = (part.append for part in parts)
        for n in range(item_count()):
            first(n)
            second(n)
            third(n)
        return parts

    measure(benchmark, run)


# -- switch and fan_in -------------------------------------------------------------------------


def halve(n: int) -> int:
    return n // 2


@pytest.mark.benchmark(group="switch")
def test_switch_rxstreamz(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        out: list[object] = []
        rx.from_iterable(range(item_count())).pipe(
            switch([(even, ops.map(halve))], default=ops.map(identity))
        ).subscribe(out.append)
        return [out]

    measure(benchmark, run)


@pytest.mark.benchmark(group="switch")
def test_switch_rxpy_group_by_flat_map(benchmark: BenchmarkFixture) -> None:
    def per_group(group: GroupedObservable[bool, int]) -> Observable[int]:
        return group.pipe(ops.map(halve)) if group.key else group.pipe(ops.map(identity))

    def run() -> list[list[object]]:
        out: list[object] = []
        rx.from_iterable(range(item_count())).pipe(
            ops.group_by(even), ops.flat_map(per_group)
        ).subscribe(out.append)
        return [out]

    measure(benchmark, run)


@pytest.mark.benchmark(group="switch")
def test_switch_plain_loop(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        out: list[object] = [halve(n) if even(n) else n for n in range(item_count())]
        return [out]

    measure(benchmark, run)


def halves() -> tuple[Observable[int], Observable[int]]:
    n = item_count()
    return rx.from_iterable(range(n // 2)), rx.from_iterable(range(n // 2, n))


@pytest.mark.benchmark(group="fan_in")
def test_fan_in_rxstreamz(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        out: list[object] = []
        fan_in(*halves()).subscribe(out.append)
        return [out]

    measure(benchmark, run)


@pytest.mark.benchmark(group="fan_in")
def test_fan_in_rxpy_merge(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        out: list[object] = []
        rx.merge(*halves()).subscribe(out.append)
        return [out]

    measure(benchmark, run)


@pytest.mark.benchmark(group="fan_in")
def test_fan_in_plain_loop(benchmark: BenchmarkFixture) -> None:
    def run() -> list[list[object]]:
        out: list[object] = []
        n = item_count()
        for part in (range(n // 2), range(n // 2, n)):
            out.extend(part)
        return [out]

    measure(benchmark, run)
