"""One event loop, end to end: an async source, async workers, batches, a sink on the loop.

Every test runs on a real asyncio loop, with every wait bounded by
``asyncio.wait_for``. The source pauses (it never blocks the loop, nor fails
with ``BackpressureError``) when a queue downstream fills on the loop's thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOScheduler, AsyncIOThreadSafeScheduler
from reactivex.subject import Subject

from rxstreamz import async_map, batch, from_async_iterable, to_async_iterator
from tests.support import Pausing

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


async def enrich(record: dict[str, int]) -> dict[str, int]:
    await asyncio.sleep(0.001 if record["id"] % 7 else 0.003)  # uneven: completion order varies
    return {**record, "score": record["id"] * 2}


class Writer:
    """The sink, on the loop's thread: records batches and how the stream ended."""

    def __init__(self, records: Records, write: Callable[[list[dict[str, int]]], None]) -> None:
        self.records = records
        self.write = write
        self.ended: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def on_next(self, rows: list[dict[str, int]]) -> None:
        self.write(rows)
        self.records.written += len(rows)

    def on_error(self, error: Exception) -> None:
        self.ended.set_result(error)

    def on_completed(self) -> None:
        self.ended.set_result(None)

    def subscribe(self, source: Observable[list[dict[str, int]]]) -> abc.DisposableBase:
        """Subscribe from the running loop, with its ``AsyncIOScheduler``."""
        return source.subscribe(
            self.on_next,
            self.on_error,
            self.on_completed,
            scheduler=AsyncIOScheduler(asyncio.get_running_loop()),
        )


def pipeline(
    source: Observable[dict[str, int]], scheduler: abc.SchedulerBase | None = None
) -> Observable[list[dict[str, int]]]:
    """Enrich on 8 workers, then batches of 50 (or what came within 0.2 s)."""
    return source.pipe(
        async_map(enrich, workers=8, scheduler=scheduler),
        batch(BURST, max_latency=0.2, scheduler=scheduler),
    )


def test_two_thousand_records_arrive_in_order_with_the_source_kept_close() -> None:
    async def main() -> tuple[Records, list[dict[str, int]], Exception | None]:
        records = Records()
        rows: list[dict[str, int]] = []
        writer = Writer(records, rows.extend)
        writer.subscribe(pipeline(from_async_iterable(records.stream())))
        return records, rows, await writer.ended

    records, rows, error = run(main)
    assert error is None
    assert rows == [{"id": n, "score": 2 * n} for n in range(TOTAL)]
    assert max(records.lead) <= 100  # async_map holds 24 (+1 over), batch 49


def test_the_pipeline_writes_into_sqlite_on_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "scores.db"

    async def main() -> Exception | None:
        records = Records()
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE scores (id INTEGER PRIMARY KEY, score INTEGER)")

            def insert(rows: list[dict[str, int]]) -> None:
                db.executemany("INSERT INTO scores VALUES (:id, :score)", rows)
                db.commit()

            writer = Writer(records, insert)
            writer.subscribe(pipeline(from_async_iterable(records.stream())))
            error = await writer.ended
        db.close()
        return error

    assert run(main) is None
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT COUNT(*), SUM(score), MAX(id) FROM scores").fetchone()
    db.close()
    assert found == (TOTAL, TOTAL * (TOTAL - 1), TOTAL - 1)


def test_a_graceful_stop_writes_every_record_pulled() -> None:
    async def main() -> tuple[Records, list[dict[str, int]], Exception | None]:
        records = Records(total=1_000_000)
        rows: list[dict[str, int]] = []
        writer = Writer(records, rows.extend)
        stop: Subject[bool] = Subject()
        writer.subscribe(pipeline(from_async_iterable(records.stream()).pipe(ops.take_until(stop))))
        while records.written < 300:
            await asyncio.sleep(0.001)
        stop.on_next(True)
        return records, rows, await writer.ended

    records, rows, error = run(main)
    assert error is None
    assert records.closed
    assert len(rows) == records.pulled
    assert rows == [{"id": n, "score": 2 * n} for n in range(records.pulled)]


def test_dispose_stops_pulling_at_once_and_the_loop_runs_on() -> None:
    async def main() -> tuple[Records, int, int]:
        records = Records(total=1_000_000)
        rows: list[dict[str, int]] = []
        writer = Writer(records, rows.extend)
        subscription = writer.subscribe(pipeline(from_async_iterable(records.stream())))
        while records.written < 200:
            await asyncio.sleep(0.001)
        subscription.dispose()
        pulled = records.pulled
        ticks = 0

        async def other_work() -> None:
            nonlocal ticks
            for _ in range(20):
                await asyncio.sleep(0.001)
                ticks += 1

        await asyncio.wait_for(other_work(), 5)
        assert not writer.ended.done()  # nothing after dispose, not even a terminal event
        return records, pulled, ticks

    records, pulled_at_dispose, ticks = run(main)
    assert records.pulled == pulled_at_dispose
    assert records.closed
    assert ticks == 20


def test_a_source_error_flushes_what_was_pulled_then_errors() -> None:
    async def main() -> tuple[Records, list[dict[str, int]], Exception | None]:
        records = Records(fail_after=777)
        rows: list[dict[str, int]] = []
        writer = Writer(records, rows.extend)
        writer.subscribe(pipeline(from_async_iterable(records.stream())))
        return records, rows, await writer.ended

    records, rows, error = run(main)
    assert error is records.error
    assert rows == [{"id": n, "score": 2 * n} for n in range(777)]


def test_async_for_over_the_pipeline_on_the_same_loop() -> None:
    async def main() -> tuple[Records, list[int]]:
        records = Records()
        # to_async_iterator subscribes from its feeder thread, without a
        # scheduler: each stage is given the loop's thread-safe scheduler.
        loop_scheduler = AsyncIOThreadSafeScheduler(asyncio.get_running_loop())
        source = from_async_iterable(records.stream(), scheduler=loop_scheduler)
        ids: list[int] = []
        async with to_async_iterator(pipeline(source, loop_scheduler), maxsize=4) as batches:
            async for rows in batches:
                ids.extend(row["id"] for row in rows)
                records.written += len(rows)
        return records, ids

    records, ids = run(main)
    assert ids == list(range(TOTAL))
    # async_map holds 24 (+1 over), batch 49, the iterator 4 batches (+1 over).
    assert max(records.lead) <= 25 + 49 + 5 * BURST


# -- from_async_iterable on the loop: pause, dispose, shutdown ------------------------------------


class IdPausing(Pausing):
    """A ``Pausing`` observer of records: it keeps their ids and pauses at chosen ids."""

    def on_next(self, value: dict[str, int]) -> None:
        super().on_next(value["id"])


async def spin(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def test_from_async_iterable_pulls_nothing_while_paused() -> None:
    async def main() -> tuple[int, IdPausing]:
        records = Records(total=5)
        observer = IdPausing({2})
        observer.subscribe(
            from_async_iterable(records.stream()), AsyncIOScheduler(asyncio.get_running_loop())
        )
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
    async def main() -> tuple[Records, IdPausing]:
        records = Records(total=5)
        observer = IdPausing({1})
        subscription = observer.subscribe(
            from_async_iterable(records.stream()), AsyncIOScheduler(asyncio.get_running_loop())
        )
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
    observer = IdPausing({3} if paused else set())

    async def stalled() -> AsyncIterator[dict[str, int]]:
        async for record in records.stream():
            yield record
            if record["id"] == 3:
                await asyncio.Event().wait()  # a pull that never completes

    async def main() -> None:
        observer.subscribe(
            from_async_iterable(stalled(), name="feed"),
            AsyncIOScheduler(asyncio.get_running_loop()),
        )
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
