"""When a full "block" queue must not block: paused async producers and cycles of queues."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

import pytest
import reactivex as rx
from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import buffer_
from rxstreamz._pause import FlowControl, producing
from rxstreamz._queue import BoundedQueue
from rxstreamz.backpressure._buffers import Buffer
from rxstreamz.errors import BackpressureError
from tests.support import start_thread, wait_until

# Without the rules under test a producer would block for ever: a watchdog per test.
pytestmark = pytest.mark.timeout(30)


WAIT = 5.0  # upper bound for waiting on a state another thread reaches


def push_async(queue: BoundedQueue[int], items: Iterable[int]) -> FlowControl:
    """Put ``items`` as one pull of an async producer on the running loop; return its flow.

    Every put is accepted: a full queue takes the item over capacity and pauses the flow.
    """
    flow = FlowControl(asyncio.get_running_loop())
    with producing(flow):
        accepted = [queue.put(n) for n in items]
    assert accepted == [True] * len(accepted)
    return flow


async def push_all(
    subject: Subject[int], items: range, flow: FlowControl, buffered: Buffer | None = None
) -> list[int]:
    """A minimal async source: one push per pull, and no pull while paused; then complete.

    Returns the depth of ``buffered`` after each push (nothing without one).
    """
    depths: list[int] = []
    for item in items:
        await flow.wait()
        with producing(flow):
            subject.on_next(item)
        if buffered is not None:
            depths.append(buffered.stats().queued)
    subject.on_completed()
    return depths


# -- an async producer on the loop is paused, not blocked ---------------------------------


def test_a_full_queue_takes_one_item_over_and_pauses_the_async_producer() -> None:
    queue = BoundedQueue[int](4, processor="q")

    async def main() -> FlowControl:
        return push_async(queue, range(5))

    flow = asyncio.run(main())
    assert flow.paused
    assert len(queue) == 5
    counts = queue.counters.snapshot()
    assert (counts.received, counts.high_watermark) == (5, 5)


def test_the_flow_resumes_once_a_quarter_of_the_capacity_is_free() -> None:
    queue = BoundedQueue[int](8, processor="q")

    async def main() -> list[tuple[int, bool]]:
        flow = push_async(queue, range(9))
        seen: list[tuple[int, bool]] = []
        for _ in range(3):
            queue.pop()
            seen.append((len(queue), flow.paused))
        await asyncio.wait_for(flow.wait(), 5)
        return seen

    assert asyncio.run(main()) == [(8, True), (7, True), (6, False)]


@pytest.mark.parametrize(
    ("capacity", "low"), [(1, 0), (2, 1), (3, 2), (4, 3), (8, 6), (24, 18), (100, 75)]
)
def test_the_low_watermark_leaves_a_quarter_of_the_capacity_free(capacity: int, low: int) -> None:
    queue = BoundedQueue[int](capacity, processor="q")

    async def main() -> int:
        flow = push_async(queue, range(capacity + 1))
        while flow.paused:
            queue.pop()
        return len(queue)

    assert asyncio.run(main()) == low


def test_releasing_held_slots_resumes_the_flow_at_the_low_watermark() -> None:
    queue = BoundedQueue[int](4, processor="q")

    async def main() -> list[tuple[int, bool]]:
        flow = push_async(queue, range(5))
        assert queue.pop_all(hold=True) == [0, 1, 2, 3, 4]
        seen: list[tuple[int, bool]] = []
        for _ in range(3):
            queue.release()
            seen.append((len(queue), flow.paused))
        return seen

    assert asyncio.run(main()) == [(4, True), (3, False), (2, False)]


def test_a_capacity_of_one_resumes_when_empty() -> None:
    queue = BoundedQueue[int](1, processor="q")

    async def main() -> list[bool]:
        flow = push_async(queue, [0, 1])
        seen = [flow.paused]
        queue.pop()
        seen.append(flow.paused)
        queue.pop()
        seen.append(flow.paused)
        return seen

    assert asyncio.run(main()) == [True, True, False]


@pytest.mark.parametrize("end", ["close", "discard"])
def test_close_and_discard_resume_a_paused_producer(end: str) -> None:
    queue = BoundedQueue[int](2, processor="q")

    async def main() -> bool:
        flow = push_async(queue, range(3))
        assert flow.paused
        queue.close() if end == "close" else queue.discard()
        await asyncio.wait_for(flow.wait(), 5)
        return flow.paused

    assert asyncio.run(main()) is False


def test_each_paused_producer_gets_one_item_of_overdraft() -> None:
    queue = BoundedQueue[int](2, processor="q")

    async def main() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        first, second = FlowControl(loop), FlowControl(loop)
        for flow, items in ((first, (0, 1, 2)), (second, (3,))):
            with producing(flow):
                for n in items:
                    queue.put(n)
        assert len(queue) == 4
        assert queue.pop_all() == [0, 1, 2, 3]
        return first.paused, second.paused

    assert asyncio.run(main()) == (False, False)
    assert queue.counters.snapshot().high_watermark == 4


def test_a_paused_producer_pushing_again_on_the_consumers_loop_fails() -> None:
    queue = BoundedQueue[int](2, processor="q")

    flows: list[FlowControl] = []

    async def main() -> None:
        queue.claim_consumer()  # the loop's thread drains the queue
        flow = FlowControl(asyncio.get_running_loop())
        flows.append(flow)
        with producing(flow):
            for n in range(3):
                queue.put(n)
            queue.put(3)  # one pull, several items: no second overdraft

    with pytest.raises(BackpressureError, match="a paused async producer pushed again") as info:
        asyncio.run(main())
    assert (info.value.processor, info.value.capacity) == ("q", 2)
    assert not flows[0].paused  # the failed queue lets go of it
    assert queue.pop_all() == [0, 1, 2]


def test_a_synchronous_producer_on_the_consumers_loop_is_pointed_to_async_sources() -> None:
    async def main() -> None:
        queue = BoundedQueue[int](
            1, processor="buffer", scheduler=AsyncIOScheduler(asyncio.get_running_loop())
        )
        queue.put(0)
        queue.put(1)

    with pytest.raises(BackpressureError) as info:
        asyncio.run(main())
    assert str(info.value) == (
        "processor 'buffer': queue full (capacity 1); blocking would deadlock: the producer "
        "runs on the event loop that drains it, as a synchronous source; use "
        "from_async_iterable or subscribe the source on another thread"
    )


def test_a_synchronous_source_on_the_buffers_loop_fails_before_its_drain_could_run() -> None:
    received: list[int] = []
    errors: list[Exception] = []

    async def main() -> None:
        buffered = buffer_(2, scheduler=AsyncIOScheduler(asyncio.get_running_loop()))
        failed = asyncio.Event()

        def on_error(exc: Exception) -> None:
            errors.append(exc)
            failed.set()

        # from_iterable pushes everything inside subscribe(), on the loop's thread,
        # before the drain (scheduled on that loop) could ever run.
        rx.from_iterable(range(5)).pipe(buffered).subscribe(received.append, on_error)
        await asyncio.wait_for(failed.wait(), 5)

    asyncio.run(main())
    assert received == [0, 1]
    assert len(errors) == 1
    assert isinstance(errors[0], BackpressureError)
    assert "use from_async_iterable or subscribe the source on another thread" in str(errors[0])


def test_wait_error_is_none_for_an_async_producer_that_would_be_paused() -> None:
    queue = BoundedQueue[int](1, processor="q")

    async def main() -> list[bool]:
        queue.claim_consumer()
        queue.put(0)
        flow = FlowControl(asyncio.get_running_loop())
        with producing(flow):
            seen = [queue.wait_error() is None]
            queue.put(1)
            seen.append(queue.wait_error() is None)
        return seen

    assert asyncio.run(main()) == [True, False]


def test_same_thread_and_virtual_time_errors_point_to_the_fix() -> None:
    claimed = BoundedQueue[int](1, processor="a")
    claimed.claim_consumer()
    virtual = BoundedQueue[int](1, processor="b", scheduler=TestScheduler())
    messages: list[str] = []
    for queue in (claimed, virtual):
        queue.put(0)
        with pytest.raises(BackpressureError) as info:
            queue.put(1)
        messages.append(str(info.value))
    assert messages == [
        "processor 'a': queue full (capacity 1); blocking would deadlock: the producer runs "
        "on the thread that drains it (feedback); use a thread boundary or a larger capacity",
        "processor 'b': queue full (capacity 1); blocking would deadlock: the scheduler runs "
        "on the producer's thread or in virtual time; use a thread boundary or a larger capacity",
    ]


def test_an_async_producer_into_a_thread_drained_buffer_is_paused(no_thread_leak: None) -> None:
    buffered = buffer_(4)
    received: list[int] = []
    errors: list[Exception] = []
    done = threading.Event()
    paused_seen: list[bool] = []
    depths: list[int] = []
    flows: list[FlowControl] = []

    def sink(item: int) -> None:
        if item == 0:  # hold the drain until the producer has filled the buffer
            paused_seen.append(wait_until(lambda: flows[0].paused, WAIT))
        received.append(item)

    async def main() -> None:
        flow = FlowControl(asyncio.get_running_loop())
        flows.append(flow)
        subject: Subject[int] = Subject()
        subject.pipe(buffered).subscribe(sink, errors.append, done.set)
        depths.extend(await push_all(subject, range(40), flow, buffered))

    asyncio.run(main())
    assert done.wait(10)
    assert paused_seen == [True]
    assert errors == []
    assert received == list(range(40))
    assert max(depths) <= 5
    stats = buffered.stats()
    assert (stats.received, stats.delivered, stats.dropped) == (40, 40, 0)
    assert stats.high_watermark == 5


def test_an_async_producer_and_its_drain_share_the_loop() -> None:
    received: list[int] = []
    errors: list[Exception] = []
    depths: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        buffered = buffer_(4, scheduler=AsyncIOScheduler(loop))
        finished = asyncio.Event()
        flow = FlowControl(loop)
        subject: Subject[int] = Subject()
        subject.pipe(buffered).subscribe(received.append, errors.append, finished.set)
        await asyncio.sleep(0)  # the drain claims the loop's thread
        depths.extend(await push_all(subject, range(40), flow, buffered))
        await asyncio.wait_for(finished.wait(), 5)
        assert buffered.stats().high_watermark == 5

    asyncio.run(main())
    assert errors == []
    assert received == list(range(40))
    assert max(depths) == 5


def test_disposing_a_buffer_resumes_its_paused_producer() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        flow = FlowControl(loop)
        subject: Subject[int] = Subject()
        buffered = buffer_(2, scheduler=AsyncIOScheduler(loop))
        subscription = subject.pipe(buffered).subscribe(lambda _: None)
        with producing(flow):
            for item in range(3):
                subject.on_next(item)
        assert flow.paused
        subscription.dispose()
        await asyncio.wait_for(flow.wait(), 5)
        return flow.paused

    assert asyncio.run(main()) is False


# -- cycles of queues ---------------------------------------------------------------------


def test_the_second_thread_to_close_a_cycle_fails(no_thread_leak: None) -> None:
    first = BoundedQueue[int](1, processor="first")
    second = BoundedQueue[int](1, processor="second")
    first.claim_consumer()  # this thread drains first ...
    first.put(0)
    second.put(0)
    outcome: list[bool] = []

    def other() -> None:  # ... the other thread drains second and feeds first
        second.claim_consumer()
        outcome.append(first.put(1))

    thread = start_thread(other)
    assert wait_until(lambda: first.blocked_producers == 1, WAIT)
    with pytest.raises(BackpressureError) as info:
        second.put(1)
    assert str(info.value) == (
        "processor 'second': queue full (capacity 1); blocking would deadlock: a feedback "
        "cycle through queueing stages (this thread would wait for 'second', drained by a "
        "thread waiting for 'first', drained by this thread); use a larger capacity, a "
        "dropping_buffer or sliding_buffer, or break the feedback with a thread boundary"
    )
    assert first.pop() == 0  # the first blocker gets its room: nothing hangs
    thread.join(5)
    assert outcome == [True]
    assert second.put(2) is False  # sealed by its error


def test_a_cycle_through_three_queues_is_detected(no_thread_leak: None) -> None:
    queues = [BoundedQueue[int](1, processor=name) for name in ("a", "b", "c")]
    for queue in queues:
        queue.put(0)
    queues[0].claim_consumer()
    claimed = threading.Barrier(3)

    def drain_then_feed(drained: BoundedQueue[int], fed: BoundedQueue[int]) -> None:
        drained.claim_consumer()
        claimed.wait(5)
        fed.put(1)

    c_thread = start_thread(lambda: drain_then_feed(queues[2], queues[0]))  # c's drain feeds a
    b_thread = start_thread(lambda: drain_then_feed(queues[1], queues[2]))  # b's drain feeds c
    claimed.wait(5)
    assert wait_until(
        lambda: queues[0].blocked_producers == 1 and queues[2].blocked_producers == 1, WAIT
    )
    error = queues[1].wait_error()
    assert error is not None
    assert "'b', drained by a thread waiting for 'c', drained by a thread waiting for 'a'" in str(
        error
    )
    with pytest.raises(BackpressureError, match="feedback cycle"):
        queues[1].put(1)
    queues[0].pop()
    c_thread.join(5)
    queues[2].pop()
    b_thread.join(5)
    assert not c_thread.is_alive()
    assert not b_thread.is_alive()


def test_a_chain_of_waits_that_ends_elsewhere_still_blocks(no_thread_leak: None) -> None:
    first = BoundedQueue[int](1, processor="first")
    second = BoundedQueue[int](1, processor="second")
    first.put(0)
    second.put(0)
    drainer_ready = threading.Event()
    release_first = threading.Event()

    def drain_first() -> None:  # first's consumer: not blocked on any queue
        first.claim_consumer()
        drainer_ready.set()
        release_first.wait(5)
        first.pop()

    def drain_second_feeding_first() -> None:
        second.claim_consumer()
        first.put(1)
        second.pop()

    drainer = start_thread(drain_first)
    assert drainer_ready.wait(5)
    feeder = start_thread(drain_second_feeding_first)
    assert wait_until(lambda: first.blocked_producers == 1, WAIT)
    assert second.wait_error() is None
    producer = start_thread(lambda: second.put(1))  # waits on second -> first -> a free thread
    assert wait_until(lambda: second.blocked_producers == 1, WAIT)
    release_first.set()
    for thread in (drainer, feeder, producer):
        thread.join(5)
        assert not thread.is_alive()
    assert first.pop_all() == [1]
    assert second.pop_all() == [1]


def test_draining_claims_the_thread_for_the_block_only() -> None:
    queue = BoundedQueue[int](1, processor="q")
    queue.put(0)
    with queue.draining():
        error = queue.wait_error()
        assert error is not None
        assert "the producer runs on the thread that drains it" in str(error)
    assert queue.wait_error() is None  # the claim is gone: a put here would wait


def test_release_consumer_withdraws_only_the_callers_own_claim(no_thread_leak: None) -> None:
    queue = BoundedQueue[int](1, processor="q")
    queue.put(0)
    queue.claim_consumer()
    assert queue.wait_error() is not None
    other = start_thread(queue.release_consumer)  # not the claimant: no effect
    other.join(5)
    assert queue.wait_error() is not None
    queue.release_consumer()
    assert queue.wait_error() is None


def test_feedback_through_two_buffers_fails_instead_of_deadlocking(no_thread_leak: None) -> None:
    source: Subject[int] = Subject()
    first, second = buffer_(2, name="first"), buffer_(2, name="second")
    received: list[int] = []
    errors: list[Exception] = []
    done = threading.Event()

    def feed_back(item: int) -> None:
        received.append(item)
        if item == -1:  # on second's drain: push more than both buffers hold
            for n in range(20):
                source.on_next(n)

    def failed(exc: Exception) -> None:
        errors.append(exc)
        done.set()

    subscription = source.pipe(first, second).subscribe(feed_back, failed, done.set)
    source.on_next(-1)
    assert done.wait(10), "the feedback cycle deadlocked"
    subscription.dispose()
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, BackpressureError)
    assert error.processor in ("first", "second")
    assert error.capacity == 2
    assert "feedback cycle through queueing stages" in str(error)
    assert received[0] == -1
    assert received[1:] == list(range(len(received) - 1))  # in order, up to the failure
    for buffered in (first, second):
        stats = buffered.stats()
        assert stats.received == stats.delivered + stats.dropped
