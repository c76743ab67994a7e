"""Bridges: pulling an observable as an iterator, and pushing an async iterable.

Run: ``pytest benchmarks/bench_bridges.py --benchmark-enable``.

Every group consumes the same list of ints with the same loop body (a running
sum), so the pytest-benchmark table shows the ratios directly:

* ``to_iterator``: ``to_iterator(source)`` (feeder thread, bounded queue of
  1024, real backpressure) beside RxPY's nearest, ``ops.to_iterable()`` +
  ``run()`` (no thread, but collects *everything* before the first item can
  be read: unbounded memory, no streaming), beside the hand-written bounded
  bridge (``queue.Queue(maxsize=1024)`` filled by a subscription on a
  thread), and a plain loop over the list.
* ``to_async_iterator``: ``async for`` over ``to_async_iterator(source)``
  beside ``async for`` over a plain async generator of the same list.
* ``from_async_iterable``: ``collect(from_async_iterable(agen))`` (a private
  event-loop thread, one item pulled at a time) beside ``asyncio.run`` of an
  ``async for`` that appends to a list.

``N`` is the item count, read when a case runs (the smoke test in
``tests/test_benchmarks_smoke.py`` sets it to a tiny value); the async cases
run ``N // 10`` items.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import pytest
import reactivex as rx
from reactivex import operators as ops

from rxstreamz import collect, from_async_iterable, to_async_iterator, to_iterator

N = int(os.environ.get("RXSTREAMZ_BENCH_N", "1000000"))
MAXSIZE = 1024


def data() -> list[int]:
    return list(range(N))


def async_data() -> list[int]:
    return list(range(max(1, N // 10)))


def total(items: Iterable[int]) -> int:
    result = 0
    for n in items:
        result += n
    return result


# -- to_iterator ------------------------------------------------------------------------------


def rxstreamz_to_iterator(items: list[int]) -> int:
    with to_iterator(rx.from_iterable(items), maxsize=MAXSIZE) as pulled:
        return total(pulled)


def rxpy_to_iterable_run(items: list[int]) -> int:
    collected: list[int] = rx.from_iterable(items).pipe(ops.to_iterable()).run()
    return total(collected)


_END = object()


def queue_bridge(items: list[int]) -> int:
    channel: queue.Queue[object] = queue.Queue(maxsize=MAXSIZE)

    def produce() -> None:
        rx.from_iterable(items).subscribe(
            channel.put, lambda _: channel.put(_END), lambda: channel.put(_END)
        )

    producer = threading.Thread(target=produce)
    producer.start()
    result = 0
    while True:
        item = channel.get()
        if item is _END:
            break
        assert isinstance(item, int)
        result += item
    producer.join()
    return result


def plain_loop(items: list[int]) -> int:
    return total(items)


TO_ITERATOR: dict[str, Callable[[list[int]], int]] = {
    "rxstreamz": rxstreamz_to_iterator,
    "rxpy_to_iterable_run": rxpy_to_iterable_run,
    "queue_thread": queue_bridge,
    "plain": plain_loop,
}


@pytest.mark.parametrize("impl", list(TO_ITERATOR))
def test_to_iterator(benchmark: Any, impl: str) -> None:
    benchmark.group = "to_iterator"
    items = data()
    benchmark.extra_info["items"] = len(items)
    assert benchmark(TO_ITERATOR[impl], items) == sum(items)


# -- to_async_iterator --------------------------------------------------------------------------


async def _async_total(source: AsyncIterator[int]) -> int:
    result = 0
    async for n in source:
        result += n
    return result


async def _generate(items: list[int]) -> AsyncIterator[int]:
    for n in items:
        yield n


def rxstreamz_to_async_iterator(items: list[int]) -> int:
    async def main() -> int:
        async with to_async_iterator(rx.from_iterable(items), maxsize=MAXSIZE) as pulled:
            return await _async_total(pulled)

    return asyncio.run(main())


def plain_async_generator(items: list[int]) -> int:
    return asyncio.run(_async_total(_generate(items)))


@pytest.mark.parametrize(
    "impl", [rxstreamz_to_async_iterator, plain_async_generator], ids=["rxstreamz", "plain"]
)
def test_to_async_iterator(benchmark: Any, impl: Callable[[list[int]], int]) -> None:
    benchmark.group = "to_async_iterator"
    items = async_data()
    benchmark.extra_info["items"] = len(items)
    assert benchmark(impl, items) == sum(items)


# -- from_async_iterable ------------------------------------------------------------------------


def rxstreamz_from_async_iterable(items: list[int]) -> list[int]:
    return collect(from_async_iterable(_generate(items)))


def plain_async_for(items: list[int]) -> list[int]:
    async def main() -> list[int]:
        return [n async for n in _generate(items)]

    return asyncio.run(main())


@pytest.mark.parametrize(
    "impl", [rxstreamz_from_async_iterable, plain_async_for], ids=["rxstreamz", "plain"]
)
def test_from_async_iterable(benchmark: Any, impl: Callable[[list[int]], list[int]]) -> None:
    benchmark.group = "from_async_iterable"
    items = async_data()
    benchmark.extra_info["items"] = len(items)
    assert benchmark(impl, items) == items
