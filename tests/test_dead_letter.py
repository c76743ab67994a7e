"""dead_letter: failed items go to a sink, the stream goes on; virtual time, properties."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex.notification import OnNext
from reactivex.observer import Observer
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    BackpressureError,
    DeadLetter,
    DeadLetterStats,
    Operator,
    collect,
    dead_letter,
)
from tests.support import (
    Ambiguous,
    DisposedDuringCall,
    Flaky,
    at,
    error_of,
    on_completed,
    on_error,
    on_next,
    produce_on_a_thread,
    raising_on,
    run_escaping,
    subscribe_at,
    zeroed,
)


def test_failures_become_dead_letters_and_the_stream_continues(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {2: 1, 4: 1})
    letters: list[DeadLetter[int]] = []
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_next(240, 4), on_completed(250)
    )
    op = dead_letter(fn, sink=letters.append, name="enrich")
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(210, 10),
        on_next(230, 30),
        on_completed(250),
    ]
    assert letters == [
        DeadLetter(2, fn.raised[0], 1, at(220), "enrich"),
        DeadLetter(4, fn.raised[1], 1, at(240), "enrich"),
    ]
    assert letters[0].error is fn.raised[0]
    assert not hasattr(letters[0].error, "__notes__")  # delivered as raised
    assert op.stats() == zeroed(DeadLetterStats, received=4, failed=2, processed=4, succeeded=2)


def test_retries_at_a_fixed_scheduled_delay(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 2, 2: 9})
    letters: list[DeadLetter[int]] = []
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2), on_completed(230))
    op = dead_letter(fn, sink=letters.append, max_retries=2, retry_delay=0.5)
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(211, 10),
        on_completed(230),
    ]
    assert fn.calls == [(210, 1), (210.5, 1), (211, 1), (220, 2), (220.5, 2), (221, 2)]
    [letter] = letters
    assert (letter.item, letter.attempts, letter.timestamp) == (2, 3, at(221))
    assert letter.error is fn.raised[-1]
    assert letter.processor == "dead_letter"
    assert op.stats() == zeroed(
        DeadLetterStats, received=2, failed=1, processed=2, succeeded=1, retried=4
    )


def test_completion_waits_for_retries_and_queued_items(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210.5, 2), on_next(210.6, 3), on_completed(210.7)
    )
    op: Operator[int, Observable[int], DeadLetterStats]
    op = dead_letter(fn, sink=lambda _: None, max_retries=1, retry_delay=timedelta(seconds=1))
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(211, 10),
        on_next(211, 20),
        on_next(211, 30),
        on_completed(211),
    ]
    assert op.stats().high_watermark == 2


def test_upstream_error_is_forwarded_after_the_pending_items(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    boom = RuntimeError("upstream")
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210.5, 2), on_error(210.6, boom)
    )
    op = dead_letter(fn, sink=lambda _: None, max_retries=1, retry_delay=1)
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert messages[:2] == [on_next(211, 10), on_next(211, 20)]
    assert messages[2].time == 211
    assert error_of(messages) is boom


def test_retry_on_rejection_sends_the_item_at_once(scheduler: TestScheduler) -> None:
    calls: list[float] = []

    def fn(n: int) -> int:
        calls.append(scheduler.clock)
        raise ValueError(n) if len(calls) > 1 else ConnectionError(n)

    letters: list[DeadLetter[int]] = []
    source = scheduler.create_hot_observable(on_next(210, 1))
    op = dead_letter(
        fn,
        sink=letters.append,
        max_retries=5,
        retry_delay=2,
        retry_on=lambda exc: isinstance(exc, ConnectionError),
    )
    assert scheduler.start(lambda: source.pipe(op)).messages == []
    assert calls == [210, 212]
    [letter] = letters
    assert type(letter.error) is ValueError
    assert letter.attempts == 2  # the calls actually made, not max_retries + 1
    assert letter.timestamp == at(212)


def test_raising_retry_on_sends_the_item_with_that_exception(scheduler: TestScheduler) -> None:
    bug = ZeroDivisionError("retry_on")

    def retry_on(_: Exception) -> bool:
        raise bug

    letters: list[DeadLetter[int]] = []
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    op = dead_letter(fn, sink=letters.append, max_retries=3, retry_on=retry_on)
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_next(220, 20)]
    assert [(d.item, d.error, d.attempts) for d in letters] == [(1, bug, 1)]


def test_retry_on_result_whose_truth_test_raises_sends_the_item_with_that_exception(
    scheduler: TestScheduler,
) -> None:
    letters: list[DeadLetter[int]] = []
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    op = dead_letter(fn, sink=letters.append, max_retries=3, retry_on=lambda _: Ambiguous())
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_next(220, 20)]
    [letter] = letters
    assert (letter.item, type(letter.error), letter.attempts) == (1, ValueError, 1)
    assert op.stats() == zeroed(DeadLetterStats, received=2, failed=1, processed=2, succeeded=1)


def test_sink_as_a_subject(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    letters: Subject[DeadLetter[int]] = Subject()
    received: list[tuple[int, int]] = []
    letters.subscribe(lambda d: received.append((d.item, d.attempts)))
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    op = dead_letter(fn, sink=letters)
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_next(220, 20)]
    assert received == [(1, 1)]


def test_sink_as_an_observer(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    received: list[int] = []
    source = scheduler.create_hot_observable(on_next(210, 1))
    sink: Observer[DeadLetter[int]] = Observer(lambda d: received.append(d.item))
    scheduler.start(lambda: source.pipe(dead_letter(fn, sink=sink)))
    assert received == [1]


def test_a_raising_sink_fails_the_stream(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    bug = OSError("disk full")

    def sink(_: DeadLetter[int]) -> None:
        raise bug

    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    messages = scheduler.start(lambda: source.pipe(dead_letter(fn, sink=sink, name="dlq")))
    assert len(messages.messages) == 1
    assert error_of(messages.messages) is bug
    assert bug.__notes__ == ["rxstreamz: raised by the sink of processor 'dlq'"]


def test_dispose_mid_retry_cancels_the_timer(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 9})
    letters: list[DeadLetter[int]] = []
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(211, 2))
    op = dead_letter(fn, sink=letters.append, max_retries=1, retry_delay=5)
    messages = scheduler.start(lambda: source.pipe(op), disposed=212).messages
    assert messages == []
    assert letters == []  # the retry due at 215 never ran, nothing reached the sink
    assert fn.calls == [(210, 1)]


def test_two_subscriptions_do_not_share_state(scheduler: TestScheduler) -> None:
    letters: list[DeadLetter[int]] = []

    def fn(n: int) -> int:
        if n == 2:
            raise KeyError(n)
        return n

    source = scheduler.create_cold_observable(on_next(10, 1), on_next(20, 2), on_completed(30))
    op = dead_letter(fn, sink=letters.append, max_retries=1, retry_delay=3)
    first, second = subscribe_at(scheduler, (200, source.pipe(op)), (202, source.pipe(op)))
    assert first == [on_next(210, 1), on_completed(230)]
    assert second == [on_next(212, 1), on_completed(232)]
    assert [(d.item, d.attempts, d.timestamp) for d in letters] == [
        (2, 2, at(223)),
        (2, 2, at(225)),
    ]
    assert op.stats() == zeroed(
        DeadLetterStats, received=4, failed=2, processed=4, succeeded=2, retried=2
    )


def test_max_pending_overflow_under_virtual_time(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(210.1, 2), on_next(210.2, 3))
    op = dead_letter(fn, sink=lambda _: None, max_retries=1, retry_delay=1, max_pending=1)
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert messages[:2] == [on_next(211, 10), on_next(211, 20)]
    assert isinstance(error_of(messages), BackpressureError)


@settings(max_examples=60, deadline=None)
@given(
    failures=st.lists(st.integers(min_value=0, max_value=4), max_size=30),
    max_retries=st.integers(min_value=0, max_value=3),
)
def test_every_item_is_emitted_or_dead_lettered_exactly_once(
    failures: list[int], max_retries: int
) -> None:
    scheduler = TestScheduler()
    fn = Flaky(scheduler, dict(enumerate(failures)))
    letters: list[DeadLetter[int]] = []
    records = [on_next(210 + i, i) for i in range(len(failures))]
    source = scheduler.create_hot_observable(*records, on_completed(500))
    op = dead_letter(fn, sink=letters.append, max_retries=max_retries, retry_delay=0.25)
    messages = scheduler.start(lambda: source.pipe(op), disposed=10_000).messages
    assert messages[-1] == on_completed(500)
    emitted = [m.value.value for m in messages if isinstance(m.value, OnNext)]
    passing = [i for i, f in enumerate(failures) if f <= max_retries]
    failing = [i for i, f in enumerate(failures) if f > max_retries]
    assert emitted == [i * 10 for i in passing]
    assert [d.item for d in letters] == failing
    assert all(d.attempts == max_retries + 1 for d in letters)
    stats = op.stats()
    assert stats.processed == stats.succeeded + stats.failed == len(failures)
    assert stats.failed == len(failing)
    assert stats.retried == sum(min(f, max_retries) for f in failures)


def test_async_function(no_thread_leak: None) -> None:
    async def parse(text: str) -> int:
        await asyncio.sleep(0)
        return int(text)

    letters: list[DeadLetter[str]] = []
    op = dead_letter(parse, sink=letters.append, max_retries=1, retry_delay=0.001)
    assert collect(rx.of("1", "x", "3").pipe(op), timeout=10) == [1, 3]
    assert [(d.item, type(d.error), d.attempts) for d in letters] == [("x", ValueError, 2)]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sink": 3}, TypeError, "sink must be callable or an Observer, got int"),
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0, got -1"),
        ({"max_retries": 1.0}, TypeError, "max_retries must be an int, got float"),
        ({"retry_delay": -0.5}, ValueError, "retry_delay must be >= 0, got -0.5"),
        ({"retry_on": "x"}, TypeError, "retry_on must be callable, got str"),
        ({"max_pending": 0}, ValueError, "max_pending must be >= 1, got 0"),
        ({"name": ""}, ValueError, "name must not be empty"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    arguments: dict[str, Any] = {"sink": print, **kwargs}
    with pytest.raises(error, match=f"^{message}$"):
        dead_letter(int, **arguments)


def test_stress_threaded_producer_with_real_timer_retries(no_thread_leak: None) -> None:
    rng = random.Random(3)
    failures = {n: rng.choice((0, 0, 0, 1, 2, 3)) for n in range(400)}
    remaining = dict(failures)
    letters: list[DeadLetter[int]] = []

    def fn(n: int) -> int:
        if remaining[n] > 0:
            remaining[n] -= 1
            raise ConnectionError(n)
        return n

    op = dead_letter(fn, sink=letters.append, max_retries=2, retry_delay=0, max_pending=4)
    results = produce_on_a_thread(op, 400)
    assert results == [n for n in range(400) if failures[n] <= 2]
    assert [d.item for d in letters] == [n for n in range(400) if failures[n] > 2]
    stats = op.stats()
    assert stats.processed == stats.succeeded + stats.failed == 400
    assert stats.high_watermark <= 4


@pytest.mark.usefixtures("no_thread_leak")
def test_a_call_failing_after_dispose_sends_nothing_to_the_sink() -> None:
    letters: list[DeadLetter[int]] = []
    run = DisposedDuringCall(fail=True)
    op = dead_letter(run.call, sink=letters.append)
    run.run(op)
    assert letters == []  # the subscription was over when the call failed
    assert (run.items, run.ended) == ([], [])
    assert op.stats() == zeroed(DeadLetterStats, received=1, dropped=1)  # in progress at dispose


@pytest.mark.usefixtures("no_thread_leak")
def test_a_call_succeeding_after_dispose_is_neither_emitted_nor_counted() -> None:
    run = DisposedDuringCall(fail=False)
    op: Operator[int, Observable[int], DeadLetterStats]
    op = dead_letter(run.call, sink=lambda _: None)
    run.run(op)
    assert (run.items, run.ended) == ([], [])
    stats = op.stats()
    assert (stats.received, stats.succeeded, stats.dropped, stats.in_flight) == (1, 0, 1, 0)


def test_a_base_exception_from_fn_fails_the_stream_instead_of_wedging_it(
    scheduler: TestScheduler,
) -> None:
    letters: list[DeadLetter[int]] = []
    run_escaping(scheduler, dead_letter(raising_on(2), sink=letters.append))
    assert letters == []  # not an item failure: the stream itself fails
