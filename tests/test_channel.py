"""channel: an awaitable source with backpressure for producers on an event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxstreamz import BackpressureError, Channel, QueueStats, channel, take_
from tests.support import Pausing, Recorder

_R = TypeVar("_R")


def run(main: Callable[[], Awaitable[_R]]) -> _R:
    async def bounded() -> _R:
        return await asyncio.wait_for(main(), 10)

    return asyncio.run(bounded())


# -- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"maxsize": 0}, ValueError, r"^maxsize must be >= 1, got 0$"),
        ({"maxsize": True}, TypeError, r"^maxsize must be an int, got bool$"),
        ({"maxsize": 2.0}, TypeError, r"^maxsize must be an int, got float$"),
        ({"name": 3}, TypeError, r"^name must be a str, got int$"),
    ],
)
def test_invalid_arguments_raise_at_the_call(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        channel(**kwargs)  # pyright: ignore[reportArgumentType]


def test_the_class_checks_its_arguments_too() -> None:
    with pytest.raises(ValueError, match=r"^maxsize must be >= 1, got 0$"):
        Channel[int](0)
    ch = Channel[int](3, name="typed")
    assert (ch.maxsize, ch.name) == (3, "typed")


def test_fail_takes_an_exception_only() -> None:
    ch: Channel[int] = channel(1)
    with pytest.raises(TypeError, match=r"^error must be an Exception, got str$"):
        ch.fail("boom")  # pyright: ignore[reportArgumentType]


# -- happy path -------------------------------------------------------------------------------


def test_subscribed_send_delivers_inside_the_call() -> None:
    async def main() -> Recorder:
        ch: Channel[int] = channel(4)
        sink = Recorder()
        sink.subscribe(ch)
        for n in range(3):
            await ch.send(n)
            assert sink.items[-1] == n  # delivered before send returned
        ch.close()
        return sink

    sink = run(main)
    assert sink.items == [0, 1, 2]
    assert sink.completed


def test_items_sent_before_the_subscription_are_held_then_handed_on_first() -> None:
    async def main() -> tuple[Recorder, QueueStats, QueueStats]:
        ch: Channel[int] = channel(4)
        for n in range(3):
            await ch.send(n)
        held = ch.stats()
        sink = Recorder()
        sink.subscribe(ch)
        assert sink.items == []  # never inside subscribe()
        await ch.send(3)  # queued behind the held items
        ch.close()
        while not sink.completed:
            await asyncio.sleep(0)
        return sink, held, ch.stats()

    sink, held, final = run(main)
    assert held == QueueStats(
        received=3, failed=0, delivered=0, dropped=0, queued=3, high_watermark=3
    )
    assert sink.items == [0, 1, 2, 3]
    assert final == QueueStats(
        received=4, failed=0, delivered=4, dropped=0, queued=0, high_watermark=4
    )


def test_send_waits_for_the_subscriber_once_maxsize_items_are_held() -> None:
    async def main() -> tuple[list[str], Recorder]:
        ch: Channel[int] = channel(2)
        events: list[str] = []

        async def producer() -> None:
            for n in range(4):
                await ch.send(n)
                events.append(f"sent {n}")
            ch.close()

        task = asyncio.create_task(producer())
        for _ in range(5):
            await asyncio.sleep(0)
        events.append("subscribe")
        sink = Recorder()
        sink.subscribe(ch)
        await asyncio.wait_for(task, 5)
        while not sink.completed:
            await asyncio.sleep(0)
        return events, sink

    events, sink = run(main)
    assert events[:3] == ["sent 0", "sent 1", "subscribe"]
    assert sink.items == [0, 1, 2, 3]


def test_a_subscription_with_an_asyncio_scheduler_from_another_thread() -> None:
    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        ch: Channel[int] = channel(4)
        sink = Recorder()
        await ch.send(1)
        await asyncio.to_thread(
            lambda: ch.subscribe(sink.on_next, sink.on_error, sink.on_completed)
        )
        ch.close()
        while not sink.completed:
            await asyncio.sleep(0)
        assert loop is asyncio.get_running_loop()
        return sink

    assert run(main).items == [1]


def test_close_before_the_subscription_completes_after_the_held_items() -> None:
    async def main() -> Recorder:
        ch: Channel[int] = channel(4)
        await ch.send(7)
        ch.close()
        sink = Recorder()
        sink.subscribe(ch.pipe(ops.map(lambda n: n * 2)))
        while not sink.completed:
            await asyncio.sleep(0)
        return sink

    assert run(main).items == [14]


def test_a_closed_channel_subscribed_without_a_loop_completes() -> None:
    ch: Channel[int] = channel(1)
    ch.close()
    sink = Recorder()
    sink.subscribe(ch)
    assert sink.completed


def test_fail_errors_after_the_held_items() -> None:
    boom = ValueError("boom")

    async def main() -> Recorder:
        ch: Channel[int] = channel(4)
        await ch.send(1)
        ch.fail(boom)
        ch.close()  # the first terminal call wins
        sink = Recorder()
        sink.subscribe(ch)
        while sink.error is None:
            await asyncio.sleep(0)
        return sink

    sink = run(main)
    assert sink.items == [1]
    assert sink.error is boom
    assert not sink.completed


# -- backpressure -------------------------------------------------------------------------------


def test_send_waits_while_the_pipeline_holds_the_flow_paused() -> None:
    async def main() -> list[str]:
        ch: Channel[int] = channel(4)
        sink = Pausing({1})
        sink.subscribe(ch)
        events: list[str] = []

        async def producer() -> None:
            for n in range(3):
                await ch.send(n)
                events.append(f"sent {n}")

        task = asyncio.create_task(producer())
        for _ in range(10):
            await asyncio.sleep(0)
        events.append("resume")
        sink.resume()
        await asyncio.wait_for(task, 5)
        assert sink.items == [0, 1, 2]
        return events

    assert run(main) == ["sent 0", "resume", "sent 1", "sent 2"]


def test_a_second_sender_waits_while_the_first_one_paused_the_pipeline() -> None:
    async def main() -> Recorder:
        ch: Channel[int] = channel(4)
        sink = Pausing({0})
        sink.subscribe(ch)
        first = asyncio.create_task(ch.send(0))
        await asyncio.sleep(0)
        second = asyncio.create_task(ch.send(1))
        for _ in range(10):
            await asyncio.sleep(0)
        assert sink.items == [0]  # one item over, no more
        sink.resume()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        return sink

    assert run(main).items == [0, 1]


def test_send_nowait_refuses_without_counting_when_it_would_wait() -> None:
    async def main() -> tuple[QueueStats, Recorder]:
        ch: Channel[int] = channel(1)
        ch.send_nowait(0)  # held: no subscriber yet
        with pytest.raises(BackpressureError, match=r"channel 'channel': no room \(maxsize 1"):
            ch.send_nowait(1)
        sink = Pausing({2})
        sink.subscribe(ch)
        while not sink.items:
            await asyncio.sleep(0)
        ch.send_nowait(2)  # delivered, and pauses the pipeline
        with pytest.raises(BackpressureError):
            ch.send_nowait(3)
        return ch.stats(), sink

    stats, sink = run(main)
    assert sink.items == [0, 2]
    assert stats == QueueStats(
        received=2, failed=0, delivered=2, dropped=0, queued=0, high_watermark=1
    )


# -- errors and misuse -----------------------------------------------------------------------------


def test_a_second_subscription_gets_an_error() -> None:
    ch: Channel[int] = channel(1)
    Recorder().subscribe(ch)
    second = Recorder()
    second.subscribe(ch)
    assert isinstance(second.error, RuntimeError)
    assert "serves one subscription" in str(second.error)


@pytest.mark.parametrize(("name", "label"), [(None, "channel"), ("jobs", "jobs")])
def test_send_after_close_raises(name: str | None, label: str) -> None:
    async def main() -> None:
        ch: Channel[int] = channel(1, name=name)
        ch.close()
        with pytest.raises(RuntimeError, match=rf"^channel '{label}' is closed"):
            await ch.send(1)

    run(main)


def test_close_wakes_a_sender_waiting_for_room_with_an_error() -> None:
    async def main() -> None:
        ch: Channel[int] = channel(1)
        await ch.send(0)
        waiting = asyncio.create_task(ch.send(1))
        await asyncio.sleep(0)
        ch.close()
        with pytest.raises(RuntimeError, match="is closed"):
            await asyncio.wait_for(waiting, 5)

    run(main)


def test_send_on_another_loop_raises_and_run_coroutine_threadsafe_works() -> None:
    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        ch: Channel[int] = channel(4)
        sink = Recorder()
        sink.subscribe(ch)
        await ch.send(0)  # binds the channel to this loop

        def elsewhere() -> None:
            with pytest.raises(RuntimeError, match="must run on the loop the channel is bound to"):
                asyncio.run(ch.send(99))
            asyncio.run_coroutine_threadsafe(ch.send(1), loop).result(5)

        await asyncio.to_thread(elsewhere)
        return sink

    assert run(main).items == [0, 1]


def test_send_nowait_off_the_loop_raises() -> None:
    ch: Channel[int] = channel(1)
    with pytest.raises(RuntimeError, match=r"send_nowait\(\) must be called on an event loop"):
        ch.send_nowait(1)


def test_dispose_drops_the_held_items_releases_a_paused_sender_and_refuses_more() -> None:
    async def main() -> tuple[QueueStats, Recorder]:
        ch: Channel[int] = channel(4)
        sink = Pausing({0})
        subscription = sink.subscribe(ch)
        paused = asyncio.create_task(ch.send(0))
        await asyncio.sleep(0)
        assert not paused.done()
        subscription.dispose()
        await asyncio.wait_for(paused, 5)  # returns: its item was taken
        with pytest.raises(RuntimeError, match="its subscriber has gone"):
            await ch.send(1)
        return ch.stats(), sink

    stats, sink = run(main)
    assert sink.items == [0]
    assert stats.received == stats.delivered + stats.dropped + stats.queued == 1


def test_dispose_while_handing_on_held_items_counts_them_dropped() -> None:
    async def main() -> QueueStats:
        ch: Channel[int] = channel(8)
        for n in range(6):
            await ch.send(n)
        seen: list[int] = []
        done = asyncio.Event()
        ch.pipe(take_(2)).subscribe(seen.append, on_completed=done.set)
        await asyncio.wait_for(done.wait(), 5)
        assert seen == [0, 1]
        return ch.stats()

    stats = run(main)
    assert stats == QueueStats(
        received=6, failed=0, delivered=2, dropped=4, queued=0, high_watermark=6
    )


def test_a_failing_subscriber_ends_the_stream_and_the_sends() -> None:
    boom = ValueError("downstream")

    def explode(_: int) -> None:
        raise boom

    async def main() -> tuple[list[Exception], QueueStats]:
        ch: Channel[int] = channel(4)
        errors: list[Exception] = []
        ch.subscribe(explode, errors.append)
        await ch.send(1)
        with pytest.raises(RuntimeError, match="its subscriber has gone"):
            await ch.send(2)
        return errors, ch.stats()

    errors, stats = run(main)
    assert errors == [boom]
    assert stats == QueueStats(
        received=1, failed=0, delivered=0, dropped=1, queued=0, high_watermark=0
    )


def test_loop_shutdown_while_handing_on_held_items_errors_the_subscriber() -> None:
    sink = Pausing({0})

    async def main() -> None:
        ch: Channel[int] = channel(4)
        await ch.send(0)
        await ch.send(1)
        sink.subscribe(ch)
        while not sink.items:
            await asyncio.sleep(0)
        # return with the hand-on task paused: asyncio.run cancels it

    asyncio.run(main())
    assert sink.items == [0]
    assert isinstance(sink.error, RuntimeError)
    assert "cancelled without the subscription being disposed" in str(sink.error)
    assert isinstance(sink.error.__cause__, asyncio.CancelledError)


def test_a_scheduler_given_to_subscribe_binds_the_loop() -> None:
    async def main() -> list[str]:
        ch: Channel[int] = channel(2)
        threads: list[str] = []
        ch.subscribe(
            lambda _: threads.append(threading.current_thread().name),
            scheduler=AsyncIOScheduler(asyncio.get_running_loop()),
        )
        await ch.send(1)
        return threads

    assert run(main) == [threading.current_thread().name]
