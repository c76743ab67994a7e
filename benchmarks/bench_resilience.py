"""Resilience processors on the success path: retry_, circuit_breaker, dead_letter.

Run: ``pytest benchmarks/bench_resilience.py --benchmark-enable``.

What a resilience stage costs when nothing fails, which is almost always:
each group maps the same function over the same ``N`` ints (100,000 by
default) through the rxstreamz processor, through RxPY's ``ops.map`` (no
protection at all) and through the plain ``try``/``except`` loop a user would
write by hand, so the pytest-benchmark table shows the ratios directly.

``N`` is the item count, read when a case runs (the smoke test in
``tests/test_benchmarks_smoke.py`` sets it to a tiny value).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops

from rxstreamz import DeadLetter, circuit_breaker, collect, dead_letter, retry_
from rxstreamz.bench.baselines import breaker_loop, guarded_loop, retry_loop

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "100000"))


def enrich(n: int) -> int:
    return n * 2 + 1


def data() -> list[int]:
    return list(range(N))


def expected() -> list[int]:
    return [enrich(n) for n in range(N)]


def through(operator: Callable[[Observable[int]], Observable[int]]) -> Callable[[], list[int]]:
    items = data()
    return lambda: collect(rx.from_iterable(items).pipe(operator))


def drop_letter(_: DeadLetter[int]) -> None:
    return None


# -- the baselines (``rxstreamz.bench.baselines``, as in ``rxstreamz bench``) ----------------

plain_retry_loop = retry_loop(enrich)
"""What a hand-written retry around each call looks like when nothing fails."""
plain_guarded_loop = guarded_loop(enrich)
"""A try/except per item, failures set aside: the plain form of a dead-letter stage."""
plain_breaker_loop = breaker_loop(enrich)
"""A try/except per item counting failures in a row: a hand-written breaker."""


# -- retry_ -----------------------------------------------------------------------------


def test_retry_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "retry"
    benchmark.extra_info["items"] = N
    assert benchmark(through(retry_(enrich))) == expected()


def test_retry_rxpy_map(benchmark: Any) -> None:
    benchmark.group = "retry"
    benchmark.extra_info["items"] = N
    assert benchmark(through(ops.map(enrich))) == expected()


def test_retry_plain(benchmark: Any) -> None:
    benchmark.group = "retry"
    benchmark.extra_info["items"] = N
    assert benchmark(plain_retry_loop, data()) == expected()


# -- circuit_breaker ----------------------------------------------------------------------


def test_circuit_breaker_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "circuit_breaker"
    benchmark.extra_info["items"] = N
    assert benchmark(through(circuit_breaker(enrich))) == expected()


def test_circuit_breaker_rxpy_map(benchmark: Any) -> None:
    benchmark.group = "circuit_breaker"
    benchmark.extra_info["items"] = N
    assert benchmark(through(ops.map(enrich))) == expected()


def test_circuit_breaker_plain(benchmark: Any) -> None:
    benchmark.group = "circuit_breaker"
    benchmark.extra_info["items"] = N
    assert benchmark(plain_breaker_loop, data()) == expected()


# -- dead_letter --------------------------------------------------------------------------


def test_dead_letter_rxstreamz(benchmark: Any) -> None:
    benchmark.group = "dead_letter"
    benchmark.extra_info["items"] = N
    assert benchmark(through(dead_letter(enrich, sink=drop_letter))) == expected()


def test_dead_letter_rxpy_map(benchmark: Any) -> None:
    benchmark.group = "dead_letter"
    benchmark.extra_info["items"] = N
    assert benchmark(through(ops.map(enrich))) == expected()


def test_dead_letter_plain(benchmark: Any) -> None:
    benchmark.group = "dead_letter"
    benchmark.extra_info["items"] = N
    assert benchmark(plain_guarded_loop, data()) == expected()
