"""Bridges under stress: no lost item, no hang, a clean close.

Every wait here is bounded: a bridge that hangs fails the test instead of
blocking the suite.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import pytest
import reactivex as rx
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.subject import Subject

from rxstreamz import (
    DeadLetter,
    buffer_,
    collect,
    dead_letter,
    map_,
    monitor,
    to_async_iterator,
    to_iterator,
)
from rxstreamz._failure import Failures
from rxstreamz.backpressure._bridges import ObservableAsyncIterator, ObservableIterator
from tests.test_bridges import WAIT, Counting, Probe, thread_safe


class Fatal(BaseException):
    """A ``BaseException`` that is neither ``KeyboardInterrupt`` nor ``SystemExit``."""


def bounded(run: Callable[[], object]) -> tuple[object, BaseException | None]:
    """Call ``run`` on a thread of its own; fail if it has not ended within ``WAIT``.

    Returns what it returned, or what it raised (``BaseException`` included).
    """
    outcome: list[object] = [None]
    raised: list[BaseException | None] = [None]

    def target() -> None:
        try:
            outcome[0] = run()
        except BaseException as exc:  # the point: SystemExit must reach the consumer
            raised[0] = exc

    thread = threading.Thread(target=target, name="test-consumer", daemon=True)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "the bridge hung"
    return outcome[0], raised[0]


def pull_all(items: ObservableIterator[Any], got: list[Any]) -> Callable[[], None]:
    def run() -> None:
        with items:
            got.extend(items)

    return run


def pull_all_async(
    factory: Callable[[], ObservableAsyncIterator[Any]], got: list[Any]
) -> Callable[[], None]:
    async def main() -> None:
        async with factory() as items:
            async for item in items:  # not a comprehension: keep what came before an error
                got.append(item)  # noqa: PERF401

    return lambda: asyncio.run(main())


def bridge_run(bridge: str, source: Observable[Any], got: list[Any]) -> Callable[[], object]:
    """A call that runs ``source`` through ``bridge`` and puts the items into ``got``."""
    if bridge == "collect":
        return lambda: got.extend(collect(source))
    if bridge == "to_iterator":
        return lambda: pull_all(to_iterator(source), got)()
    return pull_all_async(lambda: to_async_iterator(source), got)


def exit_on(bad: int, code: str = "bye") -> Callable[[int], int]:
    def fn(n: int) -> int:
        if n == bad:
            sys.exit(code)
        return n

    return fn


# -- the subscription is in place when the iterator is returned -----------------------


def hot_variants(subject: Subject[int]) -> list[Observable[int]]:
    """The subject alone, behind a buffer, behind a monitor (timer armed at subscription)."""
    return [subject, subject.pipe(buffer_(10)), subject.pipe(monitor(60, lambda _: None))]


@thread_safe
def test_to_iterator_keeps_every_item_a_hot_source_emits_right_after_creation() -> None:
    # Bounded: 240 rounds, some through processors whose subscription takes longer.
    for round_ in range(240):
        subject: Subject[int] = Subject()
        source = hot_variants(subject)[round_ % 3]
        items = to_iterator(source)
        for n in range(10):
            subject.on_next(n)
        subject.on_completed()
        _, raised = bounded(lambda items=items: list(items))
        assert raised is None
        with items:
            stats = items.stats()
        assert stats.received == stats.delivered == 10, f"round {round_}: {stats}"


@thread_safe
def test_to_async_iterator_keeps_every_item_a_hot_source_emits_right_after_creation() -> None:
    async def main() -> list[list[int]]:
        rounds: list[list[int]] = []
        for round_ in range(120):
            subject: Subject[int] = Subject()
            source = hot_variants(subject)[round_ % 3]
            async with to_async_iterator(source) as items:
                for n in range(10):
                    subject.on_next(n)
                subject.on_completed()
                rounds.append([n async for n in items])
        return rounds

    rounds, raised = bounded(lambda: asyncio.run(main()))
    assert raised is None
    assert rounds == [list(range(10))] * 120


@thread_safe
def test_to_iterator_creation_does_not_wait_for_a_source_that_loops_inside_subscribe() -> None:
    # rx.create emits from inside subscribe() without a trampoline: the queue fills
    # up long before subscribe() returns, so creation must not wait for the return.
    def emit(
        observer: abc.ObserverBase[int], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        for n in range(20):
            observer.on_next(n)
        observer.on_completed()
        return Disposable()

    got: list[int] = []
    _, raised = bounded(lambda: got.extend(to_iterator(rx.create(emit), maxsize=2)))
    assert raised is None
    assert got == list(range(20))


@thread_safe
def test_to_iterator_creation_returns_when_the_source_fails_inside_subscribe() -> None:
    def refuse(observer: abc.ObserverBase[int], _: abc.SchedulerBase | None = None) -> NoReturn:
        raise LookupError("no such topic")

    def run() -> list[int]:
        return list(to_iterator(rx.create(refuse)))

    _, raised = bounded(run)
    assert isinstance(raised, LookupError)


# -- a BaseException on the feeder thread reaches the consumer --------------------------


@thread_safe
def test_collect_reraises_system_exit_from_a_user_function_instead_of_hanging() -> None:
    mapper = map_(exit_on(2))
    _, raised = bounded(lambda: collect(rx.from_iterable(range(5)).pipe(mapper)))
    assert isinstance(raised, SystemExit)
    assert raised.code == "bye"


@thread_safe
def test_to_iterator_delivers_the_items_before_a_system_exit_then_reraises_it() -> None:
    got: list[int] = []
    probe = Probe(rx.from_iterable(itertools.count()))
    items = to_iterator(probe.observable().pipe(map_(exit_on(3))), maxsize=2)
    _, raised = bounded(pull_all(items, got))
    assert isinstance(raised, SystemExit)
    assert got == [0, 1, 2]
    assert probe.disposed.wait(WAIT)  # the rest of the source is not left running


@thread_safe
def test_to_async_iterator_delivers_the_items_before_a_system_exit_then_reraises_it() -> None:
    got: list[int] = []
    source = rx.from_iterable(range(10)).pipe(map_(exit_on(3)))
    _, raised = bounded(pull_all_async(lambda: to_async_iterator(source, maxsize=2), got))
    assert isinstance(raised, SystemExit)
    assert got == [0, 1, 2]


@thread_safe
def test_bridges_reraise_the_same_keyboard_interrupt_object() -> None:
    interrupt = KeyboardInterrupt()

    def interrupted(n: int) -> int:
        raise interrupt

    _, raised = bounded(lambda: collect(rx.of(1).pipe(map_(interrupted))))
    assert raised is interrupt


@thread_safe
@pytest.mark.parametrize("bridge", ["collect", "to_iterator", "to_async_iterator"])
def test_bridges_wrap_another_base_exception_in_a_runtime_error(bridge: str) -> None:
    fatal = Fatal("stop")

    def fail(n: int) -> int:
        raise fatal

    source = rx.of(1, 2).pipe(map_(fail))
    _, raised = bounded(bridge_run(bridge, source, []))
    assert isinstance(raised, RuntimeError)
    assert raised.__cause__ is fatal
    assert str(raised) == f"{bridge}: the pipeline ended with Fatal('stop') on the feeder thread"


# -- a BaseException from on_failure fails the stream -----------------------------------


def exiting_sink(letters: list[DeadLetter[Any]]) -> Callable[[DeadLetter[Any]], None]:
    def sink(letter: DeadLetter[Any]) -> None:
        letters.append(letter)
        sys.exit("sink gave up")

    return sink


@thread_safe
@pytest.mark.parametrize("bridge", ["collect", "to_iterator", "to_async_iterator"])
def test_a_system_exit_from_on_failure_fails_the_stream_through_every_bridge(bridge: str) -> None:
    letters: list[DeadLetter[Any]] = []
    parse = map_(int, errors="skip", on_failure=exiting_sink(letters), name="parse")
    source = rx.of("1", "x", "3").pipe(parse)
    got: list[int] = []
    _, raised = bounded(bridge_run(bridge, source, got))
    assert isinstance(raised, RuntimeError)
    assert str(raised) == "on_failure of processor 'parse' ended with SystemExit('sink gave up')"
    assert isinstance(raised.__cause__, SystemExit)
    assert raised.__notes__ == ["rxstreamz: raised by on_failure of processor 'parse'"]
    assert [letter.item for letter in letters] == ["x"]
    assert parse.stats().failed == 1
    assert got == ([] if bridge == "collect" else [1])


@thread_safe
def test_a_system_exit_from_on_failure_on_a_timer_thread_still_ends_the_stream() -> None:
    # The item reaches map_ on a timer thread, which a propagating SystemExit would
    # end silently: the stream must fail instead of waiting for ever.
    sink = exiting_sink([])
    source = rx.timer(0.001).pipe(map_(lambda _: 1 // 0, errors="skip", on_failure=sink))
    with pytest.raises(RuntimeError) as info:
        collect(source, timeout=WAIT)
    assert isinstance(info.value.__cause__, SystemExit)


@thread_safe
def test_a_system_exit_from_the_dead_letter_sink_on_a_timer_thread_still_ends_the_stream() -> None:
    # The retry waits on a timer thread, so the sink runs there.
    def fail(n: int) -> int:
        raise ValueError(n)

    letters: list[DeadLetter[Any]] = []
    router = dead_letter(fail, sink=exiting_sink(letters), max_retries=1, retry_delay=0.001)
    with pytest.raises(RuntimeError) as info:
        collect(rx.of(1, 2).pipe(router), timeout=WAIT)
    assert (
        str(info.value)
        == "the sink of processor 'dead_letter' ended with SystemExit('sink gave up')"
    )
    assert info.value.__notes__ == ["rxstreamz: raised by the sink of processor 'dead_letter'"]
    assert [letter.item for letter in letters] == [1]


def test_failures_wraps_every_base_exception_of_on_failure() -> None:
    fatal = Fatal("gone")

    def sink(letter: DeadLetter[Any]) -> None:
        raise fatal

    failures = Failures("enrich", "skip", sink)
    error = failures.handle(ValueError("bad"), 7, datetime(2026, 1, 1, tzinfo=UTC))
    assert isinstance(error, RuntimeError)
    assert error.__cause__ is fatal
    assert str(error) == "on_failure of processor 'enrich' ended with Fatal('gone')"
    assert failures.count == 1


# -- close() from another thread ----------------------------------------------------------


@thread_safe
def test_to_iterator_close_from_another_thread_mid_batch_counts_the_batch_at_once() -> None:
    source = Counting()
    items = to_iterator(source.observable(), maxsize=8)
    assert source.reached(9).wait(WAIT)  # 8 queued, the producer blocked on the 9th
    assert next(items) == 0  # takes the batch of 8, hands out 1
    closer = threading.Thread(target=items.close)
    closer.start()
    closer.join(WAIT)
    assert not closer.is_alive()
    stats = items.stats()
    assert stats.queued == 0
    assert (stats.delivered, stats.dropped) == (1, 7 + 1)  # the batch's rest, the blocked 9th
    with pytest.raises(StopIteration):
        next(items)
    assert items.stats() == stats


@thread_safe
def test_to_iterator_stress_close_from_another_thread_leaves_nothing_queued() -> None:
    # Bounded: 300 rounds; the consumer keeps pulling while another thread closes.
    for round_ in range(300):
        items = to_iterator(Counting().observable(), maxsize=1 + round_ % 64)
        started = threading.Event()
        pulled: list[int] = []

        def consume(
            items: ObservableIterator[int] = items,
            started: threading.Event = started,
            pulled: list[int] = pulled,
        ) -> None:
            for n in items:
                pulled.append(n)
                if len(pulled) == 50:
                    started.set()
                if len(pulled) % 7 == 0:
                    os.sched_yield()  # let the closer in, often in the middle of a batch

        consumer = threading.Thread(target=consume)
        consumer.start()
        assert started.wait(WAIT)
        items.close()
        consumer.join(WAIT)
        assert not consumer.is_alive()
        stats = items.stats()
        assert stats.queued == 0, f"round {round_}: {stats}"
        assert stats.received == stats.delivered + stats.dropped
        assert pulled == list(range(len(pulled)))
        assert stats.delivered == len(pulled), f"round {round_}: {stats}, {len(pulled)} pulled"


@thread_safe
def test_to_async_iterator_close_from_another_thread_mid_batch_counts_the_batch_at_once() -> None:
    source = Counting()

    async def main() -> None:
        items = to_async_iterator(source.observable(), maxsize=8)
        assert source.reached(9).wait(WAIT)
        assert await anext(items) == 0
        closer = threading.Thread(target=items.close)
        closer.start()
        closer.join(WAIT)
        assert items.stats().queued == 0
        with pytest.raises(StopAsyncIteration):
            await anext(items)
        await items.aclose()  # the blocked producer has counted its refused item now
        stats = items.stats()
        assert (stats.delivered, stats.dropped, stats.queued) == (1, 7 + 1, 0)

    _, raised = bounded(lambda: asyncio.run(main()))
    assert raised is None


# -- close() and a user function in progress; argument bounds -----------------------------


@thread_safe
def test_to_iterator_close_waits_for_the_user_function_in_progress_then_stops() -> None:
    entered = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def slow(n: int) -> int:
        calls.append(n)
        if n == 1:
            entered.set()
            assert release.wait(WAIT)
        return n

    items = to_iterator(rx.from_iterable(range(100)).pipe(map_(slow)), maxsize=1)
    assert next(items) == 0
    assert entered.wait(WAIT)  # the feeder thread is inside slow(1)
    closer = threading.Thread(target=items.close)
    closer.start()
    closer.join(0.05)
    assert closer.is_alive()  # close() waits for the feeder thread, hence for slow(1)
    release.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert calls == [0, 1]  # disposed: the source stopped before the next item


def test_collect_rejects_a_timeout_beyond_what_threads_can_wait() -> None:
    before = threading.active_count()
    with pytest.raises(
        ValueError, match=r"^timeout must be <= 9223372036.0 seconds \(threading.TIMEOUT_MAX\), "
    ) as info:
        collect(rx.never(), timeout=1e10)
    assert str(info.value).endswith("got 10000000000.0")
    assert threading.active_count() == before  # refused before any thread started
    assert collect(rx.of(1), timeout=threading.TIMEOUT_MAX) == [1]
