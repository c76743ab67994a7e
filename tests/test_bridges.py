"""Bridges: collect, to_iterator, to_async_iterator, from_async_iterable."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import itertools
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from datetime import timedelta
from typing import Any, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.scheduler import CurrentThreadScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler, AsyncIOThreadSafeScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    BackpressureError,
    collect,
    from_async_iterable,
    take_,
    to_async_iterator,
    to_iterator,
)
from rxstreamz._queue import QueueStats
from rxstreamz.backpressure._bridges import ObservableAsyncIterator, ObservableIterator
from tests.support import Boom, Recorder

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="none")

NOT_AN_OBSERVABLE: Any = [1, 2]
WAIT = 5.0  # upper bound for waits on events that must happen (never a sleep)

thread_safe = pytest.mark.usefixtures("no_thread_leak")


class Probe:
    """Wraps a source and records its subscription and disposal."""

    def __init__(self, source: Observable[Any]) -> None:
        self.source = source
        self.subscribed = threading.Event()
        self.disposed = threading.Event()

    def observable(self) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            inner = self.source.subscribe(observer, scheduler=scheduler)
            self.subscribed.set()
            return CompositeDisposable(inner, Disposable(self.disposed.set))

        return Observable(subscribe)


class Counting:
    """A synchronous, endless source of 0, 1, 2, ... that counts what it produced."""

    def __init__(self) -> None:
        self.produced = 0
        self._events: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def reached(self, count: int) -> threading.Event:
        """An event set once ``count`` items have been produced."""
        with self._lock:
            event = self._events.setdefault(count, threading.Event())
            if self.produced >= count:
                event.set()
            return event

    def _items(self) -> Iterator[int]:
        for n in itertools.count():
            with self._lock:
                self.produced += 1
                event = self._events.get(self.produced)
            if event is not None:
                event.set()
            yield n

    def observable(self) -> Observable[int]:
        return rx.defer(lambda _: rx.from_iterable(self._items()))


def feeder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("rxstreamz-to_")]


def wait_for_thread_end(name: str) -> bool:
    """Join every thread called ``name`` (bounded); True if none is left alive."""
    for thread in threading.enumerate():
        if thread.name == name:
            thread.join(WAIT)
    return not any(t.name == name for t in threading.enumerate())


# -- collect --------------------------------------------------------------------------------


@thread_safe
def test_collect_returns_items_in_order() -> None:
    assert collect(rx.from_iterable(range(1000))) == list(range(1000))
    assert [t for t in threading.enumerate() if t.name == "rxstreamz-collect"] == []  # joined


@thread_safe
def test_collect_empty_source() -> None:
    assert collect(rx.empty()) == []


@thread_safe
def test_collect_reraises_the_pipeline_error_unchanged() -> None:
    error = Boom("bad")
    with pytest.raises(Boom) as info:
        collect(rx.concat(rx.of(1, 2), rx.throw(error)))
    assert info.value is error


@thread_safe
def test_collect_times_out_and_disposes_an_asynchronous_source() -> None:
    probe = Probe(rx.never())
    with pytest.raises(TimeoutError, match=r"collect: the pipeline did not complete within 0.05 s"):
        collect(probe.observable(), timeout=0.05)
    assert probe.disposed.wait(WAIT) or not probe.subscribed.is_set()


@thread_safe
def test_collect_timeout_stops_an_endless_synchronous_source() -> None:
    # no_thread_leak proves the feeder thread left the endless loop.
    source = Counting()
    probe = Probe(source.observable())
    with pytest.raises(TimeoutError):
        collect(probe.observable(), timeout=0.05)
    assert probe.disposed.wait(WAIT) or not probe.subscribed.is_set()


@thread_safe
def test_collect_inside_another_pipeline_callback_does_not_deadlock() -> None:
    # The callback runs inside the outer pipeline's trampoline: a synchronous
    # inner source subscribed on that thread would wait for it forever.
    seen: list[list[int]] = []
    rx.of(1, 2).subscribe(lambda n: seen.append(collect(rx.of(n, n * 10))))
    assert seen == [[1, 10], [2, 20]]


@thread_safe
def test_collect_accepts_a_timedelta_timeout() -> None:
    assert collect(rx.of(1, 2), timeout=timedelta(seconds=5)) == [1, 2]


@thread_safe
def test_bridges_run_the_pipeline_in_the_callers_context() -> None:
    def current(_: object) -> str:
        return REQUEST_ID.get()

    token = REQUEST_ID.set("req-7")
    try:
        assert collect(rx.of(1).pipe(ops.map(current))) == ["req-7"]
        assert list(to_iterator(rx.of(1).pipe(ops.map(current)))) == ["req-7"]
        assert collect(from_async_iterable(Numbers(1)).pipe(ops.map(current))) == ["req-7"]
    finally:
        REQUEST_ID.reset(token)


@thread_safe
def test_collect_waits_for_an_asynchronous_source() -> None:
    assert collect(rx.timer(0.01).pipe(ops.map(lambda _: "tick"))) == ["tick"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"timeout": 0}, ValueError, "timeout must be > 0, got 0"),
        ({"timeout": -1.5}, ValueError, "timeout must be > 0, got -1.5"),
        ({"timeout": "1"}, TypeError, "timeout must be seconds"),
        ({"timeout": True}, TypeError, "timeout must be seconds"),
    ],
)
def test_collect_rejects_invalid_timeout(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        collect(rx.of(1), **kwargs)


def test_collect_rejects_a_non_observable() -> None:
    with pytest.raises(TypeError, match="observable must be an Observable, got list"):
        collect(NOT_AN_OBSERVABLE)


# -- to_iterator ------------------------------------------------------------------------------


@thread_safe
def test_to_iterator_yields_every_item_in_order() -> None:
    with to_iterator(rx.from_iterable(range(10_000)), maxsize=7) as items:
        assert list(items) == list(range(10_000))
        stats = items.stats()
    assert stats.received == stats.delivered == 10_000
    assert stats.high_watermark <= 7


@thread_safe
def test_to_iterator_empty_source() -> None:
    assert list(to_iterator(rx.empty())) == []


@thread_safe
def test_to_iterator_runs_a_synchronous_source_on_a_feeder_thread() -> None:
    threads: list[str] = []
    source = rx.of(1, 2).pipe(
        ops.do_action(lambda _: threads.append(threading.current_thread().name))
    )
    assert list(to_iterator(source)) == [1, 2]
    assert threads == ["rxstreamz-to_iterator", "rxstreamz-to_iterator"]


@thread_safe
def test_to_iterator_reraises_the_error_after_the_queued_items() -> None:
    error = Boom("bad")
    items = to_iterator(rx.concat(rx.of(1, 2), rx.throw(error)))
    got: list[int] = []
    with pytest.raises(Boom) as info:
        got.extend(items)
    assert info.value is error
    assert got == [1, 2]
    assert list(items) == []  # the error is reported once, then the iterator is exhausted


@thread_safe
def test_to_iterator_error_wakes_a_waiting_consumer() -> None:
    error = Boom("late")
    source: Observable[int] = rx.timer(0.01).pipe(ops.flat_map(lambda _: rx.throw(error)))
    with to_iterator(source) as items, pytest.raises(Boom) as info:
        next(items)
    assert info.value is error


@thread_safe
def test_to_iterator_break_disposes_the_source() -> None:
    source = Counting()
    probe = Probe(source.observable())
    seen: list[int] = []
    for n in to_iterator(probe.observable(), maxsize=4):
        seen.append(n)
        if n == 2:
            break
    assert seen == [0, 1, 2]
    assert probe.disposed.wait(WAIT)


@thread_safe
def test_to_iterator_blocks_the_producer_after_maxsize_items() -> None:
    # The items of a batch keep their slots until the consumer comes back for
    # the next batch, so when the consumer pauses right after taking the first
    # item of a batch, the producer has made exactly: the items handed out
    # before that batch + maxsize + the one it holds, blocked in on_next.
    source = Counting()
    with to_iterator(source.observable(), maxsize=3) as items:
        assert next(items) == 0
        assert source.reached(4).wait(WAIT)
        assert source.produced == 4  # 0..2 hold the 3 slots, 3 is blocked in on_next
        assert items.stats().queued == 3
        # Item 3 was never queued when its predecessors were taken: it starts a batch.
        assert [next(items) for _ in range(3)] == [1, 2, 3]
        assert source.reached(7).wait(WAIT)
        assert source.produced == 7  # 3 handed out before the batch + 3 slots + 1 blocked
        assert [next(items) for _ in range(3)] == [4, 5, 6]
        assert source.reached(10).wait(WAIT)
        assert source.produced == 10
        assert items.stats().high_watermark == 3
    assert feeder_threads() == []  # close() waited for the feeder thread


@thread_safe
def test_to_iterator_close_releases_a_blocked_producer_and_disposes() -> None:
    source = Counting()
    probe = Probe(source.observable())
    items = to_iterator(probe.observable(), maxsize=1)
    assert source.reached(2).wait(WAIT)  # one queued, one blocked in on_next
    items.close()
    assert probe.disposed.is_set()
    assert feeder_threads() == []
    assert source.produced == 2
    assert items.stats().dropped == 2  # the queued item and the refused blocked one
    with pytest.raises(StopIteration):
        next(items)


@thread_safe
def test_to_iterator_close_before_iterating_and_twice() -> None:
    probe = Probe(rx.never())
    items = to_iterator(probe.observable())
    assert probe.subscribed.wait(WAIT)
    items.close()
    items.close()
    assert probe.disposed.is_set()
    assert list(items) == []


@thread_safe
def test_to_iterator_close_after_exhaustion() -> None:
    items = to_iterator(rx.of(1))
    assert list(items) == [1]
    items.close()
    assert list(items) == []


@thread_safe
def test_to_iterator_close_from_another_thread_wakes_the_consumer() -> None:
    probe = Probe(rx.never())
    items = to_iterator(probe.observable())
    outcome: list[str] = []

    def consume() -> None:
        try:
            next(items)
        except StopIteration:
            outcome.append("stopped")

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert probe.subscribed.wait(WAIT)
    items.close()
    consumer.join(WAIT)
    assert outcome == ["stopped"]
    assert probe.disposed.is_set()


@thread_safe
def test_to_iterator_garbage_collection_disposes_and_is_not_kept_alive_by_the_feeder() -> None:
    source = Counting()
    probe = Probe(source.observable())
    items = to_iterator(probe.observable(), maxsize=2)
    assert next(items) == 0
    assert source.reached(3).wait(WAIT)  # 2 slots taken, the feeder thread blocked in on_next
    ref = weakref.ref(items)
    del items
    gc.collect()
    assert ref() is None
    assert probe.disposed.wait(WAIT)


@thread_safe
def test_to_iterator_with_an_asynchronous_source() -> None:
    source = rx.interval(0.001).pipe(ops.take(5))
    assert list(to_iterator(source, maxsize=1)) == [0, 1, 2, 3, 4]


@thread_safe
def test_to_iterator_emission_on_the_consumer_thread_fails_instead_of_deadlocking() -> None:
    subject: Subject[int] = Subject()
    probe = Probe(subject)
    items = to_iterator(probe.observable(), maxsize=2)
    assert probe.subscribed.wait(WAIT)
    for n in range(5):  # this thread is the consumer: the third item cannot wait
        subject.on_next(n)
    got: list[int] = []
    with pytest.raises(BackpressureError) as info:
        got.extend(items)
    assert got == [0, 1]
    assert info.value.processor == "to_iterator"
    assert info.value.capacity == 2
    assert probe.disposed.wait(WAIT)


@thread_safe
def test_to_iterator_subscriptions_are_independent() -> None:
    source = rx.of(1, 2, 3)
    first, second = to_iterator(source), to_iterator(source)
    assert next(first) == 1
    assert list(second) == [1, 2, 3]
    assert list(first) == [2, 3]


@thread_safe
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(), max_size=200), st.integers(1, 8))
def test_to_iterator_delivers_everything_within_the_bound(items: list[int], maxsize: int) -> None:
    with to_iterator(rx.from_iterable(items), maxsize=maxsize) as pulled:
        assert list(pulled) == items
        stats = pulled.stats()
    assert stats.high_watermark <= maxsize
    assert stats.received == stats.delivered == len(items)


@thread_safe
def test_to_iterator_stress_close_while_producing() -> None:
    # Bounded: 200 rounds of a fast producer closed at a random point.
    for round_ in range(200):
        items = to_iterator(Counting().observable(), maxsize=1 + round_ % 5)
        for _ in range(round_ % 7):
            next(items)
        items.close()
    assert feeder_threads() == []


@pytest.mark.parametrize("factory", [to_iterator, to_async_iterator])
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"maxsize": 0}, ValueError, "maxsize must be >= 1, got 0"),
        ({"maxsize": -3}, ValueError, "maxsize must be >= 1, got -3"),
        ({"maxsize": 2.0}, TypeError, "maxsize must be an int, got float"),
        ({"maxsize": True}, TypeError, "maxsize must be an int, got bool"),
    ],
)
def test_iterators_reject_invalid_maxsize(
    factory: Callable[..., object], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        factory(rx.of(1), **kwargs)


@pytest.mark.parametrize("factory", [to_iterator, to_async_iterator])
def test_iterators_reject_a_non_observable(factory: Callable[..., object]) -> None:
    with pytest.raises(TypeError, match="observable must be an Observable, got range"):
        factory(range(3))


# -- to_async_iterator ------------------------------------------------------------------------


@thread_safe
def test_to_async_iterator_yields_every_item() -> None:
    async def main() -> list[int]:
        async with to_async_iterator(rx.from_iterable(range(2000)), maxsize=3) as items:
            return [n async for n in items]

    assert asyncio.run(main()) == list(range(2000))


@thread_safe
def test_to_async_iterator_reraises_the_error_after_the_queued_items() -> None:
    error = Boom("bad")
    got: list[int] = []

    async def main() -> None:
        async for n in to_async_iterator(rx.concat(rx.of(1, 2), rx.throw(error))):
            got.append(n)  # noqa: PERF401 - keeps the items that came before the error

    with pytest.raises(Boom) as info:
        asyncio.run(main())
    assert info.value is error
    assert got == [1, 2]


@thread_safe
def test_to_async_iterator_blocks_the_producer_after_maxsize_items() -> None:
    source = Counting()

    async def main() -> None:
        items = to_async_iterator(source.observable(), maxsize=3)
        assert await anext(items) == 0
        assert await asyncio.to_thread(source.reached(4).wait, WAIT)
        assert source.produced == 4  # 3 slots + 1 blocked in on_next
        assert [await anext(items) for _ in range(3)] == [1, 2, 3]
        assert await asyncio.to_thread(source.reached(7).wait, WAIT)
        assert source.produced == 7
        assert items.stats().high_watermark == 3
        await items.aclose()
        assert feeder_threads() == []  # aclose() awaited the feeder thread

    asyncio.run(main())


@thread_safe
def test_to_async_iterator_stress_no_lost_wakeup() -> None:
    # A producer thread racing the consumer's parking: a lost wake-up would hang
    # (bounded by wait_for). 40 rounds of 300 items, maxsize 1..4.
    async def drain(items: ObservableAsyncIterator[int]) -> list[int]:
        return [n async for n in items]

    async def main() -> None:
        for round_ in range(40):
            subject: Subject[int] = Subject()
            probe = Probe(subject)
            items = to_async_iterator(probe.observable(), maxsize=1 + round_ % 4)
            assert await asyncio.to_thread(probe.subscribed.wait, WAIT)

            def push(subject: Subject[int] = subject) -> None:
                for n in range(300):
                    subject.on_next(n)
                subject.on_completed()

            pusher = threading.Thread(target=push)
            pusher.start()
            assert await asyncio.wait_for(drain(items), WAIT) == list(range(300))
            pusher.join()

    asyncio.run(main())


@thread_safe
def test_to_async_iterator_break_disposes_the_source() -> None:
    probe = Probe(Counting().observable())

    async def main() -> list[int]:
        seen: list[int] = []
        async for n in to_async_iterator(probe.observable(), maxsize=2):
            seen.append(n)
            if n == 3:
                break
        return seen

    assert asyncio.run(main()) == [0, 1, 2, 3]
    assert probe.disposed.wait(WAIT)


@thread_safe
def test_to_async_iterator_aclose_while_the_consumer_waits() -> None:
    probe = Probe(rx.never())

    async def main() -> None:
        items = to_async_iterator(probe.observable())
        assert await asyncio.to_thread(probe.subscribed.wait, WAIT)
        waiting = asyncio.create_task(anext(items))
        await asyncio.sleep(0)  # let the consumer reach its wait
        await items.aclose()
        with pytest.raises(StopAsyncIteration):
            await waiting
        await items.aclose()  # idempotent

    asyncio.run(main())
    assert probe.disposed.is_set()


@thread_safe
def test_to_async_iterator_cancelled_consumer_then_close() -> None:
    probe = Probe(rx.never())

    async def main() -> None:
        items = to_async_iterator(probe.observable())
        waiting = asyncio.create_task(anext(items))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        items.close()
        with pytest.raises(StopAsyncIteration):
            await anext(items)

    asyncio.run(main())
    assert probe.disposed.wait(WAIT) or not probe.subscribed.is_set()


@thread_safe
def test_to_async_iterator_with_a_source_on_the_consumer_loop() -> None:
    async def main() -> list[int]:
        loop_scheduler = AsyncIOThreadSafeScheduler(asyncio.get_running_loop())
        source = rx.interval(0.001, scheduler=loop_scheduler).pipe(ops.take(5))
        return [n async for n in to_async_iterator(source, maxsize=8)]

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


@thread_safe
def test_to_async_iterator_garbage_collection_disposes() -> None:
    source = Counting()
    probe = Probe(source.observable())

    async def main() -> None:
        items = to_async_iterator(probe.observable(), maxsize=2)
        assert await anext(items) == 0
        ref = weakref.ref(items)
        del items
        gc.collect()
        assert ref() is None

    asyncio.run(main())
    assert probe.disposed.wait(WAIT)


# -- from_async_iterable ---------------------------------------------------------------------


class Recording:
    """An async generator factory that records what was pulled and how it ended."""

    def __init__(self, count: int | None, *, fail_after: int | None = None) -> None:
        self.count = count
        self.fail_after = fail_after
        self.pulled = 0
        self.ended: list[str] = []
        self.error = Boom("iterable failed")
        self.paused = threading.Event()

    async def items(self) -> AsyncIterator[int]:
        with self._noting_an_early_end():
            for n in itertools.count() if self.count is None else range(self.count):
                if n == self.fail_after:
                    raise self.error
                self.pulled += 1
                yield n
        self.ended.append("finished")

    async def pause_after(self, n: int) -> AsyncIterator[int]:
        """Yield 0..n-1, then wait forever for a pull that never completes."""
        with self._noting_an_early_end():
            for i in range(n):
                self.pulled += 1
                yield i
            self.paused.set()
            await asyncio.Event().wait()

    @contextlib.contextmanager
    def _noting_an_early_end(self) -> Generator[None]:
        """Record in ``ended`` a cancelled pull or an iterator closed before its end."""
        try:
            yield
        except asyncio.CancelledError:
            self.ended.append("cancelled")
            raise
        except GeneratorExit:
            self.ended.append("closed")
            raise


class Sink(Recorder):
    """A Recorder that also notes, at each item, how many items ``recording`` had pulled."""

    def __init__(self, recording: Recording | None = None) -> None:
        super().__init__(on_item=self._note_pulled)
        self.recording = recording
        self.pulled_at: list[int] = []

    def _note_pulled(self, _item: object) -> None:
        if self.recording is not None:
            self.pulled_at.append(self.recording.pulled)


@thread_safe
def test_from_async_iterable_never_reads_ahead_on_a_private_loop_thread() -> None:
    recording = Recording(5)
    sink = Sink(recording)
    sink.subscribe(from_async_iterable(recording.items()))
    assert sink.done.wait(WAIT)
    assert sink.items == [0, 1, 2, 3, 4]
    assert sink.pulled_at == [1, 2, 3, 4, 5]  # item k emitted before item k+1 is pulled
    assert sink.completed
    assert sink.threads == {"rxstreamz-from_async_iterable-loop"}
    assert recording.ended == ["finished"]


@thread_safe
@pytest.mark.parametrize("given_to", ["from_async_iterable", "subscribe"])
def test_from_async_iterable_on_the_asyncio_scheduler_loop(given_to: str) -> None:
    """The loop of an ``AsyncIOScheduler`` given as ``scheduler=``, or failing that to subscribe."""
    recording = Recording(4)
    sink = Sink(recording)

    async def main() -> None:
        loop_scheduler = AsyncIOScheduler(asyncio.get_running_loop())
        if given_to == "from_async_iterable":
            sink.subscribe(from_async_iterable(recording.items(), scheduler=loop_scheduler))
        else:
            sink.subscribe(from_async_iterable(recording.items()), scheduler=loop_scheduler)
        while not sink.done.is_set():
            await asyncio.sleep(0)

    asyncio.run(main())
    assert sink.items == [0, 1, 2, 3]
    assert sink.pulled_at == [1, 2, 3, 4]
    assert sink.threads == {threading.current_thread().name}  # the loop's own thread
    assert recording.ended == ["finished"]


@thread_safe
def test_from_async_iterable_subscribed_from_another_thread_with_the_thread_safe_scheduler() -> (
    None
):
    recording = Recording(3)
    sink = Sink(recording)

    async def main() -> str:
        loop_scheduler = AsyncIOThreadSafeScheduler(asyncio.get_running_loop())
        source = from_async_iterable(recording.items(), scheduler=loop_scheduler)
        await asyncio.to_thread(sink.subscribe, source)
        while not sink.done.is_set():
            await asyncio.sleep(0)
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert sink.items == [0, 1, 2]
    assert sink.pulled_at == [1, 2, 3]
    assert sink.threads == {loop_thread}


@thread_safe
def test_from_async_iterable_forwards_the_iterable_error_with_a_note() -> None:
    recording = Recording(10, fail_after=2)
    sink = Sink(recording)
    sink.subscribe(from_async_iterable(recording.items(), name="feed"))
    assert sink.done.wait(WAIT)
    assert sink.items == [0, 1]
    assert sink.error is recording.error
    assert recording.error.__notes__ == [
        "rxstreamz: raised by the async iterable of processor 'feed' after 2 items"
    ]


@thread_safe
def test_from_async_iterable_dispose_cancels_the_pending_pull() -> None:
    recording = Recording(None)
    sink = Sink(recording)
    subscription = sink.subscribe(from_async_iterable(recording.pause_after(2)))
    assert recording.paused.wait(WAIT)
    subscription.dispose()
    # the loop thread ends once the cancelled generator has unwound
    assert wait_for_thread_end("rxstreamz-from_async_iterable-loop")
    assert sink.items == [0, 1]
    assert recording.ended == ["cancelled"]
    assert not sink.done.is_set()


@thread_safe
def test_from_async_iterable_dispose_between_items_closes_the_generator() -> None:
    recording = Recording(None)
    seen: list[int] = []
    stop = threading.Event()

    def on_next(n: int) -> None:
        seen.append(n)
        if n == 2:
            stop.set()

    # take_ disposes upstream from inside on_next, on the loop thread.
    from_async_iterable(recording.items()).pipe(take_(3)).subscribe(on_next)
    assert stop.wait(WAIT)
    assert wait_for_thread_end("rxstreamz-from_async_iterable-loop")
    assert seen == [0, 1, 2]
    assert recording.pulled == 3  # no read-ahead: nothing pulled after the last item
    assert recording.ended == ["closed"]


@thread_safe
def test_from_async_iterable_dispose_on_the_asyncio_loop() -> None:
    recording = Recording(None)
    sink = Sink(recording)

    async def main() -> None:
        loop_scheduler = AsyncIOScheduler(asyncio.get_running_loop())
        subscription = sink.subscribe(
            from_async_iterable(recording.pause_after(3), scheduler=loop_scheduler)
        )
        while not recording.paused.is_set():
            await asyncio.sleep(0)
        subscription.dispose()
        for _ in range(5):  # let the cancellation and aclose() run
            await asyncio.sleep(0)
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        assert tasks == set()

    asyncio.run(main())
    assert sink.items == [0, 1, 2]
    assert recording.ended == ["cancelled"]
    assert not sink.done.is_set()


@thread_safe
def test_from_async_iterable_dispose_before_the_pump_starts() -> None:
    # Inside a trampoline (as within any Rx callback) the pump starts only after
    # the current action; disposing before that means it never starts.
    recording = Recording(3)
    sink = Sink(recording)
    before = set(threading.enumerate())

    def subscribe_and_dispose(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
        sink.subscribe(from_async_iterable(recording.items())).dispose()
        assert set(threading.enumerate()) == before

    CurrentThreadScheduler.singleton().schedule(subscribe_and_dispose)
    assert set(threading.enumerate()) == before  # no loop thread was ever started
    assert recording.pulled == 0
    assert not sink.done.is_set()


@thread_safe
def test_from_async_iterable_with_collect_and_take() -> None:
    recording = Recording(None)
    assert collect(from_async_iterable(recording.items()).pipe(take_(4))) == [0, 1, 2, 3]
    assert wait_for_thread_end("rxstreamz-from_async_iterable-loop")
    assert recording.ended == ["closed"]


class Numbers:
    """An async iterable that starts afresh for each iteration."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __aiter__(self) -> AsyncIterator[int]:
        return self._run()

    async def _run(self) -> AsyncIterator[int]:
        for i in range(self.n):
            await asyncio.sleep(0)
            yield i


@thread_safe
def test_from_async_iterable_subscriptions_are_independent() -> None:
    source = from_async_iterable(Numbers(3))
    assert collect(source) == [0, 1, 2]
    assert collect(source) == [0, 1, 2]


@thread_safe
def test_from_async_iterable_observer_error_ends_the_stream() -> None:
    recording = Recording(10)
    error = Boom("observer")
    got: list[Exception] = []
    done = threading.Event()

    def on_next(n: int) -> None:
        if n == 1:
            raise error

    def on_error(exc: Exception) -> None:
        got.append(exc)
        done.set()

    from_async_iterable(recording.items()).subscribe(on_next, on_error)
    assert done.wait(WAIT)
    assert got == [error]
    assert wait_for_thread_end("rxstreamz-from_async_iterable-loop")
    assert recording.ended == ["closed"]


def test_from_async_iterable_rejects_invalid_arguments() -> None:
    with pytest.raises(TypeError, match="aiterable must be an async iterable, got list"):
        from_async_iterable(NOT_AN_OBSERVABLE)
    with pytest.raises(
        TypeError,
        match="scheduler must be an AsyncIOScheduler or AsyncIOThreadSafeScheduler, "
        "got TestScheduler",
    ):
        from_async_iterable(Numbers(1), scheduler=TestScheduler())
    with pytest.raises(ValueError, match="name must not be empty"):
        from_async_iterable(Numbers(1), name="")


@thread_safe
def test_types_flow_through_the_bridges() -> None:
    source: Observable[int] = rx.of(1, 2)
    items = to_iterator(source)
    assert_type(items, ObservableIterator[int])
    assert_type(next(items), int)
    assert_type(items.stats(), QueueStats)
    items.close()
    pulled = to_async_iterator(source)
    assert_type(pulled, ObservableAsyncIterator[int])
    pulled.close()
    assert_type(collect(source), list[int])
    assert_type(from_async_iterable(Numbers(2)), Observable[int])
    assert isinstance(items, ObservableIterator)
    assert isinstance(pulled, ObservableAsyncIterator)
