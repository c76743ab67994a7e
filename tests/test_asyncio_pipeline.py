"""One event loop: an async source that pauses when the pipeline is full.

Every test runs on a real asyncio loop, with every wait bounded by
``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
from reactivex import Observable, abc
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxstreamz import _flow, from_async_iterable

_R = TypeVar("_R")

TOTAL = 2_000
BURST = 50


def run(main: Callable[[], Awaitable[_R]], timeout: float = 30) -> _R:
    async def bounded() -> _R:
        return await asyncio.wait_for(main(), timeout)

    return asyncio.run(bounded())


class Records:
    """A bursty async source of ``total`` records that measures how far it runs ahead."""

    def __init__(self, total: int = TOTAL, *, fail_after: int | None = None) -> None:
        self.total = total
        self.fail_after = fail_after
        self.pulled = 0
        self.written = 0
        self.lead: list[int] = []  # pulled - written, at each pull
        self.closed = False
        self.error = ValueError("the feed broke")

    async def stream(self) -> AsyncIterator[dict[str, int]]:
        try:
            for n in range(self.total):
                if n == self.fail_after:
                    raise self.error
                if n % BURST == 0 and n:
                    await asyncio.sleep(0.002)  # the next burst
                self.pulled += 1
                self.lead.append(self.pulled - self.written)
                yield {"id": n}
        finally:
            self.closed = True


# -- from_async_iterable on the loop: pause, dispose, shutdown ------------------------------------


class Pausing:
    """An observer that pauses the published flow at chosen items, as a full queue would."""

    def __init__(self, records: Records, pause_on: set[int]) -> None:
        self.records = records
        self.pause_on = pause_on
        self.items: list[int] = []
        self.pulled_at: list[int] = []
        self.flows: list[_flow.FlowControl] = []
        self.error: Exception | None = None
        self.completed = False

    def on_next(self, record: dict[str, int]) -> None:
        self.items.append(record["id"])
        if record["id"] in self.pause_on:
            flow = _flow.current()
            assert flow is not None, "from_async_iterable publishes its flow while it pushes"
            flow.pause(self)
            self.flows.append(flow)

    def on_error(self, error: Exception) -> None:
        self.error = error

    def on_completed(self) -> None:
        self.completed = True

    def resume(self) -> None:
        for flow in self.flows:
            flow.resume(self)
        self.flows.clear()

    def subscribe(self, source: Observable[dict[str, int]]) -> abc.DisposableBase:
        return source.subscribe(
            self.on_next,
            self.on_error,
            self.on_completed,
            scheduler=AsyncIOScheduler(asyncio.get_running_loop()),
        )


async def spin(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def test_from_async_iterable_pulls_nothing_while_paused() -> None:
    async def main() -> tuple[int, Pausing]:
        records = Records(total=5)
        observer = Pausing(records, pause_on={2})
        observer.subscribe(from_async_iterable(records.stream()))
        await spin()
        pulled_while_paused = records.pulled
        observer.resume()
        while not observer.completed:
            await asyncio.sleep(0)
        return pulled_while_paused, observer

    pulled_while_paused, observer = run(main)
    assert pulled_while_paused == 3
    assert observer.items == [0, 1, 2, 3, 4]


def test_from_async_iterable_dispose_while_paused_stops_and_closes_the_generator() -> None:
    async def main() -> tuple[Records, Pausing]:
        records = Records(total=5)
        observer = Pausing(records, pause_on={1})
        subscription = observer.subscribe(from_async_iterable(records.stream()))
        await spin()
        subscription.dispose()
        await spin()
        return records, observer

    records, observer = run(main)
    assert records.pulled == 2
    assert records.closed
    assert observer.items == [0, 1]
    assert observer.error is None
    assert not observer.completed


@pytest.mark.parametrize("paused", [False, True], ids=["pulling", "paused"])
def test_from_async_iterable_reports_a_loop_shutdown_to_the_observer(paused: bool) -> None:
    records = Records(total=1_000_000)
    observer = Pausing(records, pause_on={3} if paused else set())

    async def stalled() -> AsyncIterator[dict[str, int]]:
        async for record in records.stream():
            yield record
            if record["id"] == 3:
                await asyncio.Event().wait()  # a pull that never completes

    async def main() -> None:
        observer.subscribe(from_async_iterable(stalled(), name="feed"))
        while len(observer.items) < 4:
            await asyncio.sleep(0)
        # return with the pull pending: asyncio.run cancels it

    asyncio.run(main())
    assert observer.items == [0, 1, 2, 3]
    assert isinstance(observer.error, RuntimeError)
    assert str(observer.error).startswith(
        "processor 'feed': the task pulling the async iterable was cancelled after 4 items"
    )
    assert isinstance(observer.error.__cause__, asyncio.CancelledError)
    assert records.closed
