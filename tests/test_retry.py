"""retry_: virtual-time specification of back-off, ordering, error model, stats."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from datetime import timedelta
from typing import Any

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    BackpressureError,
    DeadLetter,
    RetryExhaustedError,
    RetryStats,
    collect,
    retry_,
)
from rxstreamz.resilience._retry import Retry
from tests.support import (
    Ambiguous,
    DisposedDuringCall,
    Feedback,
    Flaky,
    SpyScheduler,
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

# --------------------------------------------------------------------------- basics


def test_happy_path_emits_results_at_once_in_order(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {})
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)
    )
    op = retry_(fn)
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(210, 10),
        on_next(220, 20),
        on_next(230, 30),
        on_completed(240),
    ]
    assert op.stats() == zeroed(RetryStats, received=3, succeeded=3)


def test_success_on_attempt_3_of_3_waits_exactly_100_then_200_ms(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {1: 2})
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(300))
    op = retry_(fn, max_attempts=3, jitter=False)
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(210.3, 10),
        on_completed(300),
    ]
    assert fn.calls == [(210.0, 1), (210.1, 1), (210.3, 1)]
    assert op.stats() == zeroed(RetryStats, received=1, succeeded=1, retried=2)


def test_exhaustion_after_max_attempts_raises_retry_exhausted(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 99})
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(260, 2))
    op = retry_(fn, max_attempts=4, jitter=False, name="fetch")
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert len(messages) == 1
    assert messages[0].time == 210.7
    assert [t for t, _ in fn.calls] == [210.0, 210.1, 210.3, 210.7]
    error = error_of(messages)
    assert type(error) is RetryExhaustedError
    assert error.attempts == 4
    assert error.item == 1
    assert error.__cause__ is fn.raised[-1]
    assert str(error) == (
        "fetch: all 4 attempts failed on item 1; last error: ConnectionError: down 1"
    )
    assert error.__notes__ == ["rxstreamz: raised in processor 'fetch' on item 1"]
    assert op.stats() == zeroed(RetryStats, received=1, failed=1, retried=3)


def test_max_attempts_1_never_retries(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1))
    messages = scheduler.start(lambda: source.pipe(retry_(fn, max_attempts=1))).messages
    assert len(messages) == 1
    assert messages[0].time == 210.0
    error = error_of(messages)
    assert isinstance(error, RetryExhaustedError)
    assert error.attempts == 1
    assert len(fn.calls) == 1


def test_retry_on_rejection_forwards_the_exception_unchanged(scheduler: TestScheduler) -> None:
    errors: list[Exception] = [ConnectionError("blip"), KeyError("bad record")]

    def fn(_: int) -> int:
        raise errors.pop(0)

    source = scheduler.create_hot_observable(on_next(210, 7))
    op = retry_(
        fn, jitter=False, max_attempts=5, retry_on=lambda exc: isinstance(exc, ConnectionError)
    )
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert len(messages) == 1
    assert messages[0].time == 210.1  # one retry, then the KeyError stops it early
    error = error_of(messages)
    assert type(error) is KeyError
    assert error.__notes__ == ["rxstreamz: raised in processor 'retry' on item 7"]
    assert errors == []
    assert op.stats().failed == 1
    assert op.stats().retried == 1


def test_max_delay_caps_the_exponential_wait(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 5})
    source = scheduler.create_hot_observable(on_next(210, 1))
    op = retry_(fn, max_attempts=6, base_delay=1, max_delay=3, jitter=False)
    scheduler.start(lambda: source.pipe(op))
    # waits 1, 2, 3 (4 capped), 3 (8 capped), 3 (16 capped)
    assert [t for t, _ in fn.calls] == [210, 211, 213, 216, 219, 222]


def test_timedelta_durations_and_zero_base_delay(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 2})
    source = scheduler.create_hot_observable(on_next(210, 1))
    op = retry_(fn, base_delay=timedelta(0), max_delay=timedelta(seconds=5), jitter=False)
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_next(210, 10)]
    assert [t for t, _ in fn.calls] == [210, 210, 210]


@pytest.mark.parametrize(
    ("base", "cap", "attempt", "expected"),
    [(0.1, 30.0, 2, 0.1), (0.1, 30.0, 3, 0.2), (0.1, 30.0, 4, 0.4), (1.0, 5.0, 10, 5.0)],
)
def test_delay_formula(base: float, cap: float, attempt: int, expected: float) -> None:
    op = retry_(lambda n: n, base_delay=base, max_delay=cap)
    assert isinstance(op, Retry)  # delay() belongs to the operator class, not to Operator
    assert op.delay(attempt) == pytest.approx(expected)


def test_delay_does_not_overflow_for_huge_attempt_numbers() -> None:
    op = retry_(lambda n: n, max_attempts=10_000, max_delay=7)
    assert isinstance(op, Retry)
    assert op.delay(5_000) == 7


# --------------------------------------------------------------------------- jitter


def jittered_call_times(seed: int, attempts: int) -> list[float]:
    scheduler = TestScheduler()
    fn = Flaky(scheduler, {1: attempts - 1})
    source = scheduler.create_hot_observable(on_next(210, 1))
    op = retry_(fn, max_attempts=attempts, base_delay=1, max_delay=100, seed=seed)
    scheduler.start(lambda: source.pipe(op))
    return [t for t, _ in fn.calls]


def test_jitter_with_a_seed_draws_a_uniform_factor_in_half_to_one() -> None:
    times = jittered_call_times(seed=42, attempts=4)
    waits = [b - a for a, b in itertools.pairwise(times)]
    rng = random.Random(42)
    expected = [nominal * rng.uniform(0.5, 1.0) for nominal in (1, 2, 4)]
    assert waits == pytest.approx(expected, abs=1e-6)  # the clock keeps microseconds
    for wait, nominal in zip(waits, (1, 2, 4), strict=True):
        assert 0.5 * nominal - 1e-6 <= wait <= nominal + 1e-6
    assert jittered_call_times(seed=42, attempts=4) == times  # reproducible


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), attempts=st.integers(2, 6))
def test_jittered_waits_stay_within_bounds(seed: int, attempts: int) -> None:
    times = jittered_call_times(seed, attempts)
    assert len(times) == attempts
    for k, (a, b) in enumerate(itertools.pairwise(times), start=2):
        nominal = min(100.0, 2.0 ** (k - 2))
        assert 0.5 * nominal - 1e-6 <= b - a <= nominal + 1e-6


def test_each_subscription_has_its_own_generator(scheduler: TestScheduler) -> None:
    calls: list[tuple[str, float]] = []
    counts: dict[str, int] = {}

    def fn(tag: str) -> str:
        calls.append((tag, scheduler.clock))
        counts[tag] = counts.get(tag, 0) + 1
        if counts[tag] < 3:
            raise OSError(tag)
        return tag

    op = retry_(fn, base_delay=1, seed=5, scheduler=scheduler)
    scheduler.schedule_absolute(210, lambda *_: rx.of("a").pipe(op).subscribe())
    scheduler.schedule_absolute(210, lambda *_: rx.of("b").pipe(op).subscribe())
    scheduler.start()
    a = [t for tag, t in calls if tag == "a"]
    b = [t for tag, t in calls if tag == "b"]
    assert len(a) == 3
    assert a == b  # same seed, separate generators: the same waits
    assert a[1] != 211  # jittered


# --------------------------------------------------------------------------- ordering


def test_items_arriving_during_back_off_wait_in_order(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 2, 3: 1})
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210.05, 2), on_next(210.2, 3), on_next(210.25, 4)
    )
    op = retry_(fn, jitter=False)
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(210.3, 10),
        on_next(210.3, 20),
        on_next(210.4, 30),
        on_next(210.4, 40),
    ]
    assert fn.calls == [
        (210.0, 1),
        (210.1, 1),
        (210.3, 1),
        (210.3, 2),
        (210.3, 3),
        (210.4, 3),
        (210.4, 4),
    ]
    assert op.stats() == zeroed(RetryStats, received=4, succeeded=4, retried=3, high_watermark=3)


def test_completion_waits_for_the_item_in_flight_and_the_queue(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {1: 2})
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210.05, 2), on_completed(210.15)
    )
    assert scheduler.start(lambda: source.pipe(retry_(fn, jitter=False))).messages == [
        on_next(210.3, 10),
        on_next(210.3, 20),
        on_completed(210.3),
    ]


def test_upstream_error_is_forwarded_after_the_pending_items(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    boom = RuntimeError("upstream")
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210.05, 2), on_error(210.06, boom)
    )
    messages = scheduler.start(lambda: source.pipe(retry_(fn, jitter=False))).messages
    assert messages[:2] == [on_next(210.1, 10), on_next(210.1, 20)]
    assert messages[2].time == 210.1
    assert error_of(messages) is boom
    assert len(messages) == 3


# --------------------------------------------------------------------------- error model


def test_skip_mode_hands_retry_exhausted_dead_letters_and_continues(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {1: 9})
    letters: list[DeadLetter[Any]] = []
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(211, 2), on_completed(212))
    op = retry_(
        fn, max_attempts=2, jitter=False, errors="skip", on_failure=letters.append, name="api"
    )
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(211, 20),
        on_completed(212),
    ]
    [letter] = letters
    assert letter.item == 1
    assert letter.attempts == 2
    assert letter.timestamp == at(210.1)
    assert letter.processor == "api"
    assert isinstance(letter.error, RetryExhaustedError)
    assert letter.error.__cause__ is fn.raised[-1]
    assert op.stats() == zeroed(RetryStats, received=2, failed=1, succeeded=1, retried=1)


def test_skip_mode_dead_letter_error_is_the_rejected_exception(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1}, error=lambda n: ValueError(f"bad {n}"))
    letters: list[DeadLetter[Any]] = []
    source = scheduler.create_hot_observable(on_next(210, 1))
    op = retry_(
        fn,
        retry_on=lambda exc: not isinstance(exc, ValueError),
        errors="skip",
        on_failure=letters.append,
    )
    assert scheduler.start(lambda: source.pipe(op)).messages == []
    [letter] = letters
    assert letter.error is fn.raised[0]
    assert type(letter.error) is ValueError
    assert letter.attempts == 1
    assert letter.timestamp == at(210)


def test_skip_mode_without_on_failure_counts_the_item(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 9})
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(300))
    op = retry_(fn, max_attempts=2, jitter=False, errors="skip")
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_completed(300)]
    assert op.stats().failed == 1


def test_raising_retry_on_is_a_failing_user_function(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    bug = ZeroDivisionError("in retry_on")

    def retry_on(_: Exception) -> bool:
        raise bug

    source = scheduler.create_hot_observable(on_next(210, 1))
    messages = scheduler.start(lambda: source.pipe(retry_(fn, retry_on=retry_on))).messages
    assert error_of(messages) is bug
    assert bug.__notes__ == ["rxstreamz: raised in processor 'retry' on item 1"]


def test_retry_on_result_whose_truth_test_raises_is_a_failing_user_function(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    op = retry_(fn, retry_on=lambda _: Ambiguous(), name="api")
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert len(messages) == 1
    assert messages[0].time == 210
    exc = error_of(messages)
    assert type(exc) is ValueError
    assert exc.__notes__ == ["rxstreamz: raised in processor 'api' on item 1"]
    assert op.stats() == zeroed(RetryStats, received=1, failed=1)


def test_skip_mode_dead_letters_a_retry_on_result_whose_truth_test_raises(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {1: 1})
    letters: list[DeadLetter[Any]] = []
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    op = retry_(fn, retry_on=lambda _: Ambiguous(), errors="skip", on_failure=letters.append)
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_next(220, 20)]
    [letter] = letters
    assert (letter.item, type(letter.error), letter.attempts) == (1, ValueError, 1)
    assert letter.timestamp == at(210)
    assert op.stats() == zeroed(RetryStats, received=2, failed=1, succeeded=1)


def test_raising_on_failure_fails_the_stream(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    bug = LookupError("sink down")

    def sink(_: DeadLetter[Any]) -> None:
        raise bug

    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2))
    op = retry_(fn, max_attempts=1, errors="skip", on_failure=sink)
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert len(messages) == 1
    assert error_of(messages) is bug


# --------------------------------------------------------------------------- lifecycle


def test_dispose_mid_back_off_cancels_the_timer(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(210.02, 2))
    op = retry_(fn, jitter=False)
    messages = scheduler.start(lambda: source.pipe(op), disposed=210.05).messages
    assert messages == []
    assert fn.calls == [(210.0, 1)]  # the retry due at 210.1 never ran
    assert op.stats().queued == 0


def test_dispose_mid_back_off_disposes_the_pending_timer() -> None:
    scheduler = SpyScheduler()
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(on_next(210, 1))
    messages = scheduler.start(lambda: source.pipe(retry_(fn, jitter=False)), disposed=210.05)
    assert messages.messages == []
    assert scheduler.cancelled(210.1) == [True]


def test_two_subscriptions_do_not_share_state(scheduler: TestScheduler) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_cold_observable(on_next(10, 1), on_next(20, 2), on_completed(30))
    op = retry_(fn, jitter=False, base_delay=1)
    first, second = subscribe_at(scheduler, (200, source.pipe(op)), (205, source.pipe(op)))
    # the first run retries item 1 (failing once); the second finds it fixed
    assert first == [on_next(211, 10), on_next(220, 20), on_completed(230)]
    assert second == [on_next(215, 10), on_next(225, 20), on_completed(235)]
    assert op.stats() == zeroed(RetryStats, received=4, succeeded=4, retried=1)


def test_max_pending_overflow_under_virtual_time_fails_after_queued_items(
    scheduler: TestScheduler,
) -> None:
    fn = Flaky(scheduler, {1: 1})
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210.01, 2), on_next(210.02, 3), on_next(210.03, 4)
    )
    op = retry_(fn, jitter=False, max_pending=1, name="guarded")
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert messages[:2] == [on_next(210.1, 10), on_next(210.1, 20)]
    assert len(messages) == 3
    error = error_of(messages)
    assert isinstance(error, BackpressureError)
    assert error.capacity == 1
    assert error.processor == "guarded"
    assert [item for _, item in fn.calls] == [1, 1, 2]
    assert op.stats().high_watermark == 1


def test_blocking_producer_on_another_thread_keeps_order(no_thread_leak: None) -> None:
    failed: set[int] = set()

    def fn(n: int) -> int:
        if n % 3 == 0 and n not in failed:
            failed.add(n)
            raise TimeoutError(n)
        return n

    op = retry_(fn, base_delay=0, jitter=False, max_pending=2)
    results = produce_on_a_thread(op, 300, timeout=30)
    assert results == list(range(300))
    stats = op.stats()
    assert stats.high_watermark <= 2
    assert stats.retried == 100
    assert stats.succeeded == 300


def test_real_time_retry_with_the_default_scheduler(no_thread_leak: None) -> None:
    attempts: list[int] = []

    def fn(n: int) -> int:
        attempts.append(n)
        if len(attempts) < 3:
            raise ConnectionError
        return n

    assert collect(rx.of(5).pipe(retry_(fn, base_delay=0.001)), timeout=10) == [5]
    assert attempts == [5, 5, 5]


# --------------------------------------------------------------------------- async fn


def test_async_function_on_a_private_loop_thread(no_thread_leak: None) -> None:
    seen: list[int] = []
    loops: set[int] = set()

    async def fn(n: int) -> str:
        loops.add(id(asyncio.get_running_loop()))
        seen.append(n)
        await asyncio.sleep(0)
        if seen.count(n) < 2:
            raise ConnectionError(n)
        return f"<{n}>"

    op = retry_(fn, base_delay=0.001, jitter=False)
    assert collect(rx.of(1, 2, 3).pipe(op), timeout=10) == ["<1>", "<2>", "<3>"]
    assert seen == [1, 1, 2, 2, 3, 3]
    assert len(loops) == 1
    assert op.stats().retried == 3


def test_async_function_exhaustion_carries_the_cause(no_thread_leak: None) -> None:
    async def fn(n: int) -> int:
        raise ValueError(f"no {n}")

    with pytest.raises(RetryExhaustedError) as info:
        collect(rx.of(1).pipe(retry_(fn, max_attempts=2, base_delay=0)), timeout=10)
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.attempts == 2


def test_async_function_on_the_asyncio_scheduler_loop() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        calls: list[int] = []

        async def fn(n: int) -> int:
            assert asyncio.get_running_loop() is loop
            calls.append(n)
            if calls.count(n) == 1:
                raise ConnectionError
            return n * 2

        done = loop.create_future()
        results: list[int] = []
        rx.of(1, 2).pipe(retry_(fn, base_delay=0.001, jitter=False)).subscribe(
            results.append,
            lambda exc: done.set_exception(exc),
            lambda: done.set_result(None),
            scheduler=AsyncIOScheduler(loop),
        )
        await asyncio.wait_for(done, 10)
        return results

    assert asyncio.run(main()) == [2, 4]


def test_dispose_cancels_a_running_coroutine(no_thread_leak: None) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    async def fn(n: int) -> int:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return n

    results: list[int] = []
    subscription = rx.of(1).pipe(retry_(fn)).subscribe(results.append)
    assert started.wait(10)
    subscription.dispose()
    assert cancelled.wait(10)
    assert results == []


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts must be >= 1, got 0"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int, got bool"),
        ({"base_delay": -1}, ValueError, "base_delay must be >= 0, got -1"),
        ({"max_delay": 0}, ValueError, "max_delay must be > 0, got 0"),
        ({"max_delay": "1"}, TypeError, "max_delay must be seconds"),
        ({"jitter": 1}, TypeError, "jitter must be a bool, got int"),
        ({"retry_on": 3}, TypeError, "retry_on must be callable, got int"),
        ({"max_pending": 0}, ValueError, "max_pending must be >= 1, got 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int or None, got float"),
        ({"errors": "ignore"}, ValueError, "errors must be one of 'raise', 'skip', got 'ignore'"),
        ({"on_failure": 1}, TypeError, "on_failure must be callable, got int"),
        ({"name": ""}, ValueError, "name must not be empty"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{message}"):
        retry_(lambda n: n, **kwargs)


def test_fn_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"^fn must be callable, got str$"):
        retry_("nope")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]


# --------------------------------------------------------------------------- feedback


@pytest.mark.usefixtures("no_thread_leak")
def test_feedback_on_the_timer_thread_after_a_retry_fails_instead_of_blocking() -> None:
    calls: list[int] = []

    def fn(n: int) -> int:
        calls.append(n)
        if calls.count(n) == 1 and n == 0:
            raise ConnectionError(n)
        return n

    run = Feedback(retry_(fn, base_delay=0.001, jitter=False, max_pending=1))
    assert run.send_first()
    assert run.done.wait(5), "the timer thread blocked forever on its own queue"
    assert run.items == [0, 1]
    [error] = run.errors
    assert isinstance(error, BackpressureError)
    assert calls == [0, 0, 1]


def test_producer_on_the_scheduler_loop_fails_instead_of_blocking_the_loop() -> None:
    outcome: list[tuple[list[int], list[Exception]]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        calls: list[int] = []

        def fn(n: int) -> int:
            calls.append(n)
            if n == 0 and calls.count(0) == 1:
                raise ConnectionError(n)  # the retry waits on a timer of the loop
            return n

        done = loop.create_future()
        items: list[int] = []
        errors: list[Exception] = []

        def on_error(error: Exception) -> None:
            errors.append(error)
            done.set_result(None)

        source: Subject[int] = Subject()
        op = retry_(fn, base_delay=0.001, jitter=False, max_pending=1)
        source.pipe(op).subscribe(
            items.append, on_error, lambda: done.set_result(None), scheduler=AsyncIOScheduler(loop)
        )
        for n in range(3):
            source.on_next(n)  # on the loop's thread: 2 finds the queue full
        await asyncio.wait_for(done, 5)
        outcome.append((items, errors))

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive(), "the producer blocked the event loop forever"
    [(items, errors)] = outcome
    assert items == [0, 1]
    [error] = errors
    assert isinstance(error, BackpressureError)
    assert error.capacity == 1


@pytest.mark.usefixtures("no_thread_leak")
def test_a_call_failing_after_dispose_neither_retries_nor_dead_letters() -> None:
    letters: list[DeadLetter[int]] = []
    run = DisposedDuringCall(fail=True)
    op = retry_(run.call, max_attempts=1, errors="skip", on_failure=letters.append)
    run.run(op)
    assert letters == []
    assert (run.items, run.ended) == ([], [])
    assert op.stats() == zeroed(RetryStats, received=1, dropped=1)


@pytest.mark.usefixtures("no_thread_leak")
def test_dispose_from_another_thread_releases_a_blocked_producer() -> None:
    entered = threading.Event()
    release = threading.Event()

    def fn(n: int) -> int:
        if n == 0:
            entered.set()
            assert release.wait(5)
        return n

    op = retry_(fn, max_pending=1)
    source: Subject[int] = Subject()
    items: list[int] = []
    subscription = source.pipe(op).subscribe(items.append)
    owner = threading.Thread(target=source.on_next, args=(0,))  # item 0 runs on it
    owner.start()
    assert entered.wait(5)
    source.on_next(1)  # fills the queue
    producer = threading.Thread(target=source.on_next, args=(2,))  # blocks: queue full
    producer.start()
    producer.join(0.05)  # room for a wrong implementation to return
    assert producer.is_alive()
    subscription.dispose()  # from this third thread
    producer.join(5)
    assert not producer.is_alive(), "dispose did not release the blocked producer"
    release.set()
    owner.join(5)
    assert items == []  # item 0 finished after dispose: not emitted
    assert op.stats() == zeroed(RetryStats, received=3, dropped=3, high_watermark=1)


def test_a_base_exception_from_fn_fails_the_stream_instead_of_wedging_it(
    scheduler: TestScheduler,
) -> None:
    op = retry_(raising_on(2), errors="skip")
    error = run_escaping(scheduler, op)
    assert "rxstreamz: raised in processor 'retry' on item 2" in error.__notes__
    assert op.stats() == zeroed(RetryStats, received=2, failed=1, succeeded=1)
