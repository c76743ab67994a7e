"""async_map on a Dask cluster through ``Client.get_executor()`` (the ``rxstreamz[dask]`` extra).

The tests start their own clusters, on loopback only and without dashboards,
and close them when done.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

import pytest
import reactivex as rx
from distributed import Client, LocalCluster

from rxstreamz import DeadLetter, async_map, chunk, collect, unbatch

TIMEOUT = 60.0


def slow_negate(i: int) -> int:
    """Later items finish first (module level: process workers import it by name)."""
    time.sleep((5 - i % 6) * 0.01)
    return -i


def total(numbers: list[int]) -> int:
    return sum(numbers)


def squares(numbers: list[int]) -> list[int]:
    return [n * n for n in numbers]


@contextmanager
def dask_executor(*, processes: bool) -> Generator[Executor]:
    """A one-worker cluster without dashboards, in this process or on loopback TCP."""
    extra: dict[str, Any] = {}
    if processes:
        # The scheduler serves HTTP (health, metrics) even without a dashboard,
        # by default on port 8787: take any free port instead.
        extra = {"host": "127.0.0.1", "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1,
        threads_per_worker=4,
        processes=processes,
        dashboard_address=None,  # pyright: ignore[reportArgumentType]  (None: no dashboard)
        worker_dashboard_address=None,
        silence_logs=logging.CRITICAL,
        **extra,
    )
    try:
        client = Client(cluster)  # type: ignore[no-untyped-call]
        try:
            yield client.get_executor(pure=False)  # type: ignore[no-untyped-call]
        finally:
            client.close()  # type: ignore[no-untyped-call]
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with dask_executor(processes=False) as dask:
        yield dask


def test_dask_results_keep_input_order(executor: Executor) -> None:
    op = async_map(slow_negate, workers=4, executor=executor)
    assert collect(rx.from_iterable(range(12)).pipe(op), TIMEOUT) == [-i for i in range(12)]
    stats = op.stats()
    assert (stats.submitted, stats.completed, stats.failed, stats.in_flight) == (12, 12, 0, 0)
    assert stats.high_watermark <= 4 + 8


def test_dask_errors_are_forwarded_with_the_note(executor: Executor) -> None:
    op = async_map(math.sqrt, workers=2, executor=executor, name="roots")
    with pytest.raises(ValueError, match="math domain error") as info:
        collect(rx.of(4.0, 9.0, -1.0, 16.0, 25.0).pipe(op), TIMEOUT)
    assert info.value.__notes__[-1] == "rxstreamz: raised in processor 'roots' on item -1.0"


def test_dask_skip_mode_keeps_order_and_sends_dead_letters(executor: Executor) -> None:
    letters: list[DeadLetter[object]] = []
    op = async_map(
        math.sqrt, workers=3, executor=executor, errors="skip", on_failure=letters.append
    )
    out = collect(rx.of(4.0, -1.0, 9.0, -4.0, 16.0).pipe(op), TIMEOUT)
    assert out == [2.0, 3.0, 4.0]
    assert [letter.item for letter in letters] == [-1.0, -4.0]
    assert all(isinstance(letter.error, ValueError) for letter in letters)
    assert op.stats().failed == 2


def test_dask_chunking_pattern_for_cheap_items(executor: Executor) -> None:
    # One Dask task per 50 items instead of one per item.
    pipeline = rx.from_iterable(range(1000)).pipe(
        chunk(50), async_map(squares, workers=4, executor=executor), unbatch()
    )
    assert collect(pipeline, TIMEOUT) == [n * n for n in range(1000)]
    sums = rx.from_iterable(range(1000)).pipe(
        chunk(100), async_map(total, workers=4, executor=executor)
    )
    assert collect(sums, TIMEOUT) == [sum(range(k, k + 100)) for k in range(0, 1000, 100)]


def test_dask_two_subscriptions_share_the_executor(executor: Executor) -> None:
    op = async_map(slow_negate, workers=2, executor=executor)
    pipeline = rx.from_iterable(range(6)).pipe(op)
    assert collect(pipeline, TIMEOUT) == collect(pipeline, TIMEOUT) == [-i for i in range(6)]
    assert op.stats().completed == 12


def test_dask_process_cluster() -> None:
    with dask_executor(processes=True) as executor:
        op = async_map(slow_negate, workers=4, executor=executor)
        assert collect(rx.from_iterable(range(8)).pipe(op), TIMEOUT) == [-i for i in range(8)]
        with pytest.raises(ValueError, match="math domain error") as info:
            collect(rx.of(1.0, -1.0).pipe(async_map(math.sqrt, executor=executor)), TIMEOUT)
        assert info.value.__notes__[-1] == (
            "rxstreamz: raised in processor 'async_map' on item -1.0"
        )
