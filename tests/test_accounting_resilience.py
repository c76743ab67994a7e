"""Every item accounted for in retry_, dead_letter and circuit_breaker; the queue's deadlock rule.

Each property runs a random stream through the processor (random failures, a
random dispose point) and checks the identity its docstring states, at every
virtual moment and at the end, against what was observed from outside: the
items handed to the operator, the results emitted, the dead letters.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex import operators as ops
from reactivex.notification import OnError, OnNext
from reactivex.scheduler import TimeoutScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    BackpressureError,
    DeadLetter,
    Operator,
    buffer_,
    circuit_breaker,
    dead_letter,
    from_async_iterable,
    retry_,
)
from rxstreamz.resilience._breaker import CircuitBreakerOperatorStats
from rxstreamz.resilience._dead_letter import DeadLetterStats
from rxstreamz.resilience._retry import RetryStats
from tests.support import SpyScheduler, on_next, wait_until, zeroed

ErrorMode = Literal["raise", "skip"]

# Without the rules under test a producer would block for ever: a watchdog per test.
pytestmark = pytest.mark.timeout(60)


AnyStats = RetryStats | DeadLetterStats | CircuitBreakerOperatorStats


def emitted(stats: AnyStats) -> int:
    return stats.emitted if isinstance(stats, CircuitBreakerOperatorStats) else stats.succeeded


def balances(stats: AnyStats) -> bool:
    """``received == emitted + failed + dropped + queued + in_flight``."""
    parts = emitted(stats) + stats.failed + stats.dropped + stats.queued + stats.in_flight
    return stats.received == parts


class Script:
    """A user function failing a scripted number of times per item (virtual time)."""

    def __init__(self, failures: list[int]) -> None:
        self.failures = failures
        self.calls = [0] * len(failures)

    def __call__(self, item: int) -> int:
        self.calls[item] += 1
        if self.calls[item] <= self.failures[item]:
            raise ConnectionError(f"down {item}")
        return item * 10


class Run:
    """One virtual-time run of ``op`` over items spaced by ``gaps``, disposed at ``dispose_at``."""

    def __init__(
        self,
        op: Callable[[Observable[int]], Observable[int]],
        stats: Callable[[], AnyStats],
        gaps: list[float],
        dispose_at: float | None,
    ) -> None:
        self.scheduler = TestScheduler()
        self.taken = 0  # items handed to the operator, seen from outside
        self.unbalanced: list[tuple[float, AnyStats]] = []
        times: list[float] = []
        clock = 201.0
        for gap in gaps:
            clock += gap
            times.append(clock)
        source = self.scheduler.create_hot_observable(*(on_next(t, n) for n, t in enumerate(times)))

        def count(_: int) -> None:
            self.taken += 1

        def check(*_: Any) -> None:
            snapshot = stats()
            if not balances(snapshot) or snapshot.in_flight > 1:
                self.unbalanced.append((self.scheduler.clock, snapshot))

        # The books balance at every virtual moment, not only at the end.
        for moment in range(201, 260):
            self.scheduler.schedule_absolute(moment + 0.05, check)
        observer = self.scheduler.start(
            lambda: source.pipe(ops.do_action(count), op),
            disposed=1000.0 if dispose_at is None else dispose_at,
        )
        self.messages = observer.messages
        self.values = [m.value.value for m in self.messages if isinstance(m.value, OnNext)]
        self.errors = [m.value.exception for m in self.messages if isinstance(m.value, OnError)]
        self.final = stats()


gaps_strategy = st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0, 4.0]), min_size=0, max_size=8)
dispose_strategy = st.one_of(st.none(), st.floats(201.0, 230.0))


def check_final(run: Run, failed_outside: int) -> None:
    stats = run.final
    assert run.unbalanced == []
    assert stats.received == run.taken
    assert emitted(stats) == len(run.values)
    assert stats.failed == failed_outside
    assert (stats.queued, stats.in_flight) == (0, 0)  # the subscription is over
    assert balances(stats)


@settings(max_examples=150, deadline=None)
@given(
    failures=st.lists(st.integers(0, 4), min_size=8, max_size=8),
    gaps=gaps_strategy,
    max_attempts=st.integers(1, 4),
    errors=st.sampled_from(["raise", "skip"]),
    max_pending=st.sampled_from([None, 1, 3]),
    dispose_at=dispose_strategy,
)
def test_retry_accounts_for_every_item(
    failures: list[int],
    gaps: list[float],
    max_attempts: int,
    errors: ErrorMode,
    max_pending: int | None,
    dispose_at: float | None,
) -> None:
    letters: list[DeadLetter[Any]] = []
    op = retry_(
        Script(failures),
        max_attempts=max_attempts,
        base_delay=1.0,
        jitter=False,
        errors=errors,
        on_failure=letters.append,
        max_pending=max_pending,
    )
    run = Run(op, op.stats, gaps, dispose_at)
    # Each error is one failed item, except a queue overflow, whose item is dropped.
    failed_items = [e for e in run.errors if not isinstance(e, BackpressureError)]
    check_final(run, len(letters) + len(failed_items))
    if dispose_at is None and not run.errors:
        assert run.final.dropped == 0  # completed: nothing lost
        assert run.final.received == len(gaps)


@settings(max_examples=150, deadline=None)
@given(
    failures=st.lists(st.integers(0, 4), min_size=8, max_size=8),
    gaps=gaps_strategy,
    max_retries=st.integers(0, 3),
    max_pending=st.sampled_from([None, 1, 3]),
    dispose_at=dispose_strategy,
)
def test_dead_letter_accounts_for_every_item(
    failures: list[int],
    gaps: list[float],
    max_retries: int,
    max_pending: int | None,
    dispose_at: float | None,
) -> None:
    letters: list[DeadLetter[Any]] = []
    op = dead_letter(
        Script(failures),
        sink=letters.append,
        max_retries=max_retries,
        retry_delay=1.5,
        max_pending=max_pending,
    )
    run = Run(op, op.stats, gaps, dispose_at)
    check_final(run, len(letters))
    final = op.stats()
    assert final.processed == final.succeeded + final.failed
    if dispose_at is None and not run.errors:
        assert run.final.dropped == 0
        assert run.final.received == len(gaps)


@settings(max_examples=150, deadline=None)
@given(
    failures=st.lists(st.integers(0, 1), min_size=8, max_size=8),
    gaps=gaps_strategy,
    errors=st.sampled_from(["raise", "skip"]),
    dispose_at=dispose_strategy,
)
def test_circuit_breaker_accounts_for_every_item(
    failures: list[int], gaps: list[float], errors: ErrorMode, dispose_at: float | None
) -> None:
    letters: list[DeadLetter[Any]] = []
    op = circuit_breaker(
        Script(failures),
        min_requests=2,
        recovery_timeout=3,
        half_open_requests=1,
        errors=errors,
        on_failure=letters.append,
    )
    run = Run(op, op.stats, gaps, dispose_at)
    check_final(run, len(letters) + len(run.errors))
    # Rejections are failures of the operator, and the breaker's own count.
    rejected = [letter for letter in letters if letter.attempts == 0]
    assert op.stats().rejected == len(rejected) + sum(
        1 for error in run.errors if type(error).__name__ == "CircuitOpenError"
    )


def test_an_item_waiting_for_its_retry_at_dispose_is_dropped() -> None:
    scheduler = SpyScheduler()
    source = scheduler.create_hot_observable(on_next(210, 0), on_next(211, 1))
    op = retry_(Script([9, 0]), base_delay=5, jitter=False)
    scheduler.start(lambda: source.pipe(op), disposed=212)
    # 0 waits for its second call (due at 215), 1 waits behind it
    assert op.stats() == zeroed(RetryStats, received=2, dropped=2, high_watermark=1)
    assert scheduler.pending() == 0  # the retry due at 215 was cancelled


def test_items_queued_at_a_terminal_error_are_dropped() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, 0), on_next(211, 1), on_next(212, 2))
    op: Operator[int, Observable[int], DeadLetterStats] = dead_letter(
        Script([9, 0, 0]), sink=lambda _: 1 / 0, max_retries=1, retry_delay=5
    )
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert [m.time for m in messages] == [215]  # the sink raised: the stream failed
    stats = op.stats()
    # 0 failed for good; 1 and 2 waited behind it when the stream failed
    assert (stats.received, stats.failed, stats.dropped, stats.queued) == (3, 1, 2, 0)


def test_in_flight_and_queued_show_while_items_wait() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, 0), on_next(211, 1), on_next(212, 2))
    op = retry_(Script([1, 0, 0]), base_delay=10, jitter=False)
    seen: list[RetryStats] = []
    scheduler.schedule_absolute(213, lambda *_: seen.append(op.stats()))
    scheduler.start(lambda: source.pipe(op))
    [stats] = seen
    assert (stats.received, stats.in_flight, stats.queued) == (3, 1, 2)
    final = op.stats()
    assert (final.received, final.succeeded, final.in_flight, final.queued) == (3, 3, 0, 0)


# -- real threads ------------------------------------------------------------------------


def run_disposed_from_another_thread(
    op: Operator[int, Observable[int], Any], count: int, dispose_after: int
) -> tuple[int, list[int]]:
    """Push ``count`` items from one thread, dispose from this one once ``dispose_after``
    was reached, and wait until no call is left running; return (items taken, results)."""
    results: list[int] = []
    taken = 0

    def count_taken(_: int) -> None:
        nonlocal taken
        taken += 1

    source: Subject[int] = Subject()
    subscription = source.pipe(ops.do_action(count_taken), op).subscribe(results.append)
    reached = threading.Event()

    def produce() -> None:
        for n in range(count):
            if n == dispose_after:
                reached.set()
            source.on_next(n)
        reached.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert reached.wait(10)
    subscription.dispose()
    producer.join(10)
    assert not producer.is_alive()
    # A call still running at dispose counts its item when it returns.
    assert wait_until(lambda: op.stats().in_flight == 0)
    return taken, results


ON_THREADS = given(
    count=st.integers(1, 40),
    dispose_after=st.integers(0, 40),
    failing=st.sets(st.integers(0, 39), max_size=10),
    max_pending=st.sampled_from([None, 2]),
)
"""Calls on the producer's thread and on timer threads, disposed from a third one."""


@pytest.mark.usefixtures("no_thread_leak")
@settings(max_examples=15, deadline=None)
@ON_THREADS
def test_retry_on_threads_accounts_for_every_item_whatever_the_dispose_point(
    count: int, dispose_after: int, failing: set[int], max_pending: int | None
) -> None:
    calls: dict[int, int] = {}

    def fn(n: int) -> int:
        calls[n] = calls.get(n, 0) + 1
        time.sleep(0.0005)  # room for dispose to land while a call runs
        if n in failing and calls[n] == 1:
            raise ConnectionError(n)
        return n

    op = retry_(
        fn, base_delay=0.001, jitter=False, max_pending=max_pending, scheduler=TimeoutScheduler()
    )
    taken, results = run_disposed_from_another_thread(op, count, dispose_after)
    stats = op.stats()
    assert stats.received == taken
    assert stats.succeeded == len(results)
    assert stats.queued == 0
    assert stats.failed == 0
    assert balances(stats)


@pytest.mark.usefixtures("no_thread_leak")
@settings(max_examples=15, deadline=None)
@ON_THREADS
def test_dead_letter_on_threads_accounts_for_every_item_whatever_the_dispose_point(
    count: int, dispose_after: int, failing: set[int], max_pending: int | None
) -> None:
    letters: list[DeadLetter[int]] = []

    def fn(n: int) -> int:
        time.sleep(0.0005)  # room for dispose to land while a call runs
        if n in failing:
            raise ConnectionError(n)
        return n

    op = dead_letter(
        fn,
        sink=letters.append,
        max_retries=1,
        retry_delay=0.001,
        max_pending=max_pending,
        scheduler=TimeoutScheduler(),
    )
    taken, results = run_disposed_from_another_thread(op, count, dispose_after)
    stats = op.stats()
    assert stats.received == taken
    assert stats.succeeded == len(results)
    assert stats.failed == len(letters)
    assert stats.queued == 0
    assert balances(stats)


# -- the queue decides who may wait --------------------------------------------------------


@pytest.mark.usefixtures("no_thread_leak")
def test_an_async_producer_on_the_loop_is_paused_by_a_full_retry_queue_not_failed() -> None:
    calls: dict[int, int] = {}

    def fn(n: int) -> int:
        calls[n] = calls.get(n, 0) + 1
        if calls[n] == 1 and n % 3 == 0:
            raise ConnectionError(n)  # its retry waits on the loop
        return n

    async def numbers() -> AsyncIterator[int]:
        for n in range(20):
            yield n

    async def main() -> tuple[list[int], list[Exception]]:
        loop = asyncio.get_running_loop()
        clock = AsyncIOScheduler(loop)
        items: list[int] = []
        errors: list[Exception] = []
        done = asyncio.Event()

        def failed(exc: Exception) -> None:
            errors.append(exc)
            done.set()

        op = retry_(fn, base_delay=0.001, jitter=False, max_pending=2)
        from_async_iterable(numbers()).pipe(op).subscribe(
            items.append, failed, done.set, scheduler=clock
        )
        await asyncio.wait_for(done.wait(), 10)
        stats = op.stats()
        assert stats.high_watermark <= 3  # capacity, plus the paused producer's one item
        assert (stats.received, stats.succeeded, stats.dropped) == (20, 20, 0)
        return items, errors

    items, errors = asyncio.run(main())
    assert errors == []
    assert items == list(range(20))


@pytest.mark.usefixtures("no_thread_leak")
def test_a_feedback_cycle_through_retry_and_a_buffer_fails_instead_of_hanging() -> None:
    """The sink feeds items back into the source while retry_'s owner waits on the buffer."""
    source: Subject[int] = Subject()
    busy = threading.Event()

    def fn(n: int) -> int:
        if n == 1:  # hold the owner's thread until the feedback has begun
            assert busy.wait(5)
        return n

    errors: list[Exception] = []
    done = threading.Event()

    def sink(n: int) -> None:
        if n == 0:  # on the buffer's drain thread: feed ten items back
            for k in range(10):
                source.on_next(100 + k)
                busy.set()

    def failed(exc: Exception) -> None:
        errors.append(exc)
        done.set()

    subscription = source.pipe(retry_(fn, max_pending=1), buffer_(1)).subscribe(
        sink, failed, done.set
    )

    def produce() -> None:
        source.on_next(0)
        source.on_next(1)

    producer = threading.Thread(target=produce)
    producer.start()
    finished = done.wait(10)
    subscription.dispose()  # releases whoever a wrong implementation left blocked
    producer.join(5)
    assert finished, "the feedback cycle deadlocked"
    [error] = errors
    assert isinstance(error, BackpressureError)
    assert "a feedback cycle through queueing stages" in str(error)


def test_a_full_bounded_retry_queue_fed_back_by_its_owner_fails_with_the_queue_message() -> None:
    source: Subject[int] = Subject()
    errors: list[Exception] = []

    def feed_back(n: int) -> None:
        if n == 0:
            for k in range(1, 4):
                source.on_next(k)  # on the owner's thread, while it emits 0

    slow: Operator[int, Observable[int], RetryStats] = retry_(
        lambda n: n, max_pending=1, name="slow"
    )

    def run() -> None:
        source.pipe(slow).subscribe(feed_back, errors.append)
        source.on_next(0)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    [error] = errors
    assert str(error) == (
        "processor 'slow': queue full (capacity 1); blocking would deadlock: the producer "
        "runs on the thread that drains it (feedback); use a thread boundary or a larger "
        "capacity"
    )
    stats = slow.stats()
    # 0 emitted, 1 queued then emitted before the error, 2 refused (3 never came:
    # the failed processor disposed its upstream)
    assert (stats.received, stats.succeeded, stats.dropped) == (3, 2, 1)


def test_rx_range_through_retry_counts_every_item() -> None:
    op: Operator[int, Observable[int], RetryStats] = retry_(lambda n: n)
    out: list[int] = []
    rx.range(1000).pipe(op).subscribe(out.append)
    assert len(out) == 1000
    stats = op.stats()
    assert (stats.received, stats.succeeded, stats.dropped, stats.in_flight) == (1000, 1000, 0, 0)
