"""CircuitBreaker and circuit_breaker: the state machine in virtual time, sharing, stress."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import abc
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    BreakerOperator,
    CircuitBreaker,
    CircuitBreakerOperatorStats,
    CircuitBreakerStats,
    CircuitOpenError,
    CircuitState,
    DeadLetter,
    circuit_breaker,
    collect,
)
from rxstreamz.resilience._breaker import _CountWindow  # pyright: ignore[reportPrivateUsage]
from tests.support import (
    DisposedDuringCall,
    at,
    error_of,
    on_completed,
    on_error,
    on_next,
    raising_on,
    run_escaping,
    subscribe_at,
    zeroed,
)


def fails_on_negative(n: int) -> int:
    if n < 0:
        raise ConnectionError(f"refused {n}")
    return n


def shared(stats: CircuitBreakerOperatorStats) -> CircuitBreakerStats:
    """The breaker's part of an operator's snapshot."""
    names = [field.name for field in fields(CircuitBreakerStats)]
    return CircuitBreakerStats(**{name: getattr(stats, name) for name in names})


def own(stats: CircuitBreakerOperatorStats) -> tuple[int, int, int, int, int, int]:
    """The operator's own counts: received, failed, dropped, emitted, queued, in_flight."""
    return (
        stats.received,
        stats.failed,
        stats.dropped,
        stats.emitted,
        stats.queued,
        stats.in_flight,
    )


def state_of(breaker: CircuitBreaker) -> CircuitState:
    """``breaker.state``, read through a call so type checkers do not narrow it."""
    return breaker.state


def call(breaker: CircuitBreaker, success: bool) -> bool:
    """One call through ``breaker``; False when it was rejected."""
    ticket = breaker.acquire()
    if ticket is None:
        return False
    breaker.record(ticket, success=success)
    return True


def recording_breaker(
    scheduler: TestScheduler, **options: Any
) -> tuple[CircuitBreaker, list[tuple[float, CircuitState, CircuitState]]]:
    changes: list[tuple[float, CircuitState, CircuitState]] = []

    def on_state_change(old: CircuitState, new: CircuitState) -> None:
        changes.append((scheduler.clock, old, new))

    breaker = CircuitBreaker(on_state_change=on_state_change, scheduler=scheduler, **options)
    return breaker, changes


def tripped(
    scheduler: TestScheduler, **options: Any
) -> tuple[CircuitBreaker, list[tuple[float, CircuitState, CircuitState]]]:
    """A ``recording_breaker`` opened at 0 by failing calls, its recovery timeout now passed."""
    breaker, changes = recording_breaker(scheduler, **options)
    while state_of(breaker) == "closed":
        call(breaker, False)
    scheduler.advance_to(breaker.recovery_timeout.total_seconds())
    return breaker, changes


# --------------------------------------------------------------------------- state machine


def test_opens_exactly_when_the_ratio_reaches_the_threshold_after_min_requests(
    scheduler: TestScheduler,
) -> None:
    breaker, changes = recording_breaker(scheduler, min_requests=4, failure_threshold=0.5)
    for success in (True, False, False):  # 2/3 failed, but only 3 requests
        assert call(breaker, success)
        assert state_of(breaker) == "closed"
    assert call(breaker, True)  # 2/4 >= 0.5, but the ratio is checked after failures only
    assert state_of(breaker) == "closed"
    assert call(breaker, False)  # 3/5 >= 0.5 after a failure: open
    assert state_of(breaker) == "open"
    assert changes == [(0.0, "closed", "open")]
    assert breaker.stats() == CircuitBreakerStats(
        requests=5, successes=2, failures=3, rejected=0, state="open", consecutive_failures=1
    )


@pytest.mark.parametrize(
    ("min_requests", "threshold", "outcomes", "state", "consecutive_failures"),
    [
        (4, 0.5, (True, True, False), "closed", 1),  # 1/3
        (4, 0.5, (True, True, False, False), "open", 2),  # 2/4 == 0.5
        (2, 0.75, (True, False, True, False, False), "closed", 2),  # worst ratio 3/5 < 0.75
    ],
    ids=["below", "equal-opens", "stays-below"],
)
def test_the_ratio_opens_once_it_reaches_the_threshold(
    scheduler: TestScheduler,
    min_requests: int,
    threshold: float,
    outcomes: tuple[bool, ...],
    state: CircuitState,
    consecutive_failures: int,
) -> None:
    breaker, _ = recording_breaker(
        scheduler, min_requests=min_requests, failure_threshold=threshold
    )
    for success in outcomes:
        call(breaker, success)
    assert state_of(breaker) == state
    assert breaker.stats().consecutive_failures == consecutive_failures


def test_open_rejects_until_recovery_timeout_then_half_open(scheduler: TestScheduler) -> None:
    breaker, changes = recording_breaker(
        scheduler, min_requests=1, failure_threshold=1.0, recovery_timeout=30
    )
    scheduler.advance_to(10)
    call(breaker, False)
    assert state_of(breaker) == "open"
    scheduler.advance_to(39.999999)  # one microsecond (the clock's resolution) early
    assert breaker.acquire() is None
    assert state_of(breaker) == "open"
    scheduler.advance_to(40)
    assert state_of(breaker) == "open"  # lazily: nothing happens until a call is asked for
    ticket = breaker.acquire()
    assert ticket is not None
    assert state_of(breaker) == "half-open"
    assert changes == [(10.0, "closed", "open"), (40.0, "open", "half-open")]
    assert breaker.stats().rejected == 1


def test_half_open_closes_after_its_trial_successes_and_resets_counters(
    scheduler: TestScheduler,
) -> None:
    breaker, changes = tripped(scheduler, min_requests=2, recovery_timeout=5, half_open_requests=3)
    assert call(breaker, True)
    assert call(breaker, True)
    assert state_of(breaker) == "half-open"
    assert call(breaker, True)
    assert state_of(breaker) == "closed"
    assert breaker.stats() == CircuitBreakerStats(
        requests=0, successes=0, failures=0, rejected=0, state="closed", consecutive_failures=0
    )
    assert [(old, new) for _, old, new in changes] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]
    # a closed breaker needs min_requests again before it can open
    call(breaker, False)
    assert state_of(breaker) == "closed"


def test_first_half_open_failure_reopens_at_once(scheduler: TestScheduler) -> None:
    breaker, changes = tripped(scheduler, min_requests=1, recovery_timeout=5, half_open_requests=3)
    assert call(breaker, True)
    scheduler.advance_to(6)
    assert call(breaker, False)
    assert state_of(breaker) == "open"
    scheduler.advance_to(10.5)  # 4.5 s after reopening: still open
    assert not call(breaker, True)
    scheduler.advance_to(11)
    assert call(breaker, True)
    assert changes == [
        (0.0, "closed", "open"),
        (5.0, "open", "half-open"),
        (6.0, "half-open", "open"),
        (11.0, "open", "half-open"),
    ]


def test_half_open_lets_at_most_half_open_requests_trials_through(
    scheduler: TestScheduler,
) -> None:
    breaker, _ = tripped(scheduler, min_requests=1, recovery_timeout=1, half_open_requests=2)
    first, second = breaker.acquire(), breaker.acquire()
    assert first is not None
    assert second is not None
    assert breaker.acquire() is None  # both trial slots are taken
    breaker.abandon(second)  # e.g. the subscription was disposed mid-call
    third = breaker.acquire()
    assert third is not None
    breaker.record(first, success=True)
    breaker.record(third, success=True)
    assert state_of(breaker) == "closed"


def test_a_result_from_an_earlier_state_is_counted_but_changes_nothing(
    scheduler: TestScheduler,
) -> None:
    breaker, _ = recording_breaker(
        scheduler, min_requests=1, recovery_timeout=1, half_open_requests=1
    )
    slow = breaker.acquire()  # admitted while closed
    assert slow is not None
    call(breaker, False)
    assert state_of(breaker) == "open"
    scheduler.advance_to(1)
    trial = breaker.acquire()
    assert trial is not None
    breaker.record(slow, success=True)  # not a trial: no transition
    assert state_of(breaker) == "half-open"
    breaker.record(trial, success=True)
    assert state_of(breaker) == "closed"


def test_raising_on_state_change_propagates_after_the_transition(
    scheduler: TestScheduler,
) -> None:
    bug = RuntimeError("listener")

    def on_state_change(old: CircuitState, new: CircuitState) -> None:
        raise bug

    breaker = CircuitBreaker(min_requests=1, on_state_change=on_state_change, scheduler=scheduler)
    ticket = breaker.acquire()
    assert ticket is not None
    with pytest.raises(RuntimeError) as info:
        breaker.record(ticket, success=False)
    assert info.value is bug
    assert bug.__notes__ == ["rxstreamz: raised by on_state_change ('closed' -> 'open')"]
    assert state_of(breaker) == "open"


def test_on_state_change_may_read_the_breaker(scheduler: TestScheduler) -> None:
    seen: list[tuple[CircuitState, int]] = []
    breaker: CircuitBreaker

    def on_state_change(old: CircuitState, new: CircuitState) -> None:
        seen.append((breaker.state, breaker.stats().failures))

    breaker = CircuitBreaker(min_requests=1, on_state_change=on_state_change, scheduler=scheduler)
    call(breaker, False)
    assert seen == [("open", 1)]


def test_wall_clock_when_no_scheduler_is_given() -> None:
    breaker = CircuitBreaker(min_requests=1, recovery_timeout=timedelta(hours=1))
    call(breaker, False)
    assert breaker.acquire() is None
    assert breaker.acquire(now=datetime.now(UTC) + timedelta(hours=2)) is not None
    assert state_of(breaker) == "half-open"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"failure_threshold": 0}, ValueError, "failure_threshold must be > 0, got 0"),
        ({"failure_threshold": 1.5}, ValueError, "failure_threshold must be <= 1, got 1.5"),
        ({"failure_threshold": "x"}, TypeError, "failure_threshold must be a number, got str"),
        ({"min_requests": 0}, ValueError, "min_requests must be >= 1, got 0"),
        ({"min_requests": 2.0}, TypeError, "min_requests must be an int, got float"),
        ({"recovery_timeout": 0}, ValueError, "recovery_timeout must be > 0, got 0"),
        ({"half_open_requests": 0}, ValueError, "half_open_requests must be >= 1, got 0"),
        ({"on_state_change": 1}, TypeError, "on_state_change must be callable, got int"),
        ({"window_size": 0}, ValueError, "window_size must be >= 1, got 0"),
        ({"window_size": 2.0}, TypeError, "window_size must be an int, got float"),
        (
            {"window_size": 9},
            ValueError,
            "window_size must be >= min_requests (10), got 9: "
            "a smaller window never holds enough calls to open the circuit",
        ),
        (
            {"window_size": None},
            ValueError,
            "window_size and window_duration cannot both be None: "
            "the failure rate is measured over a window of recent calls",
        ),
        ({"window_duration": 0}, ValueError, "window_duration must be > 0, got 0"),
        (
            {"window_duration": "1"},
            TypeError,
            "window_duration must be seconds (int or float) or a timedelta, got str",
        ),
        (
            {"window_duration": timedelta(microseconds=9)},
            ValueError,
            "window_duration must be at least 10 microseconds (one per slice of the window), "
            "got datetime.timedelta(microseconds=9)",
        ),
        (
            {"window_duration": 1e10},
            ValueError,
            "window_duration must be <= 9223372036.0 seconds (threading.TIMEOUT_MAX), "
            "got 10000000000.0",
        ),
        (
            {"recovery_timeout": 1e14},
            ValueError,
            "recovery_timeout is too long for a timedelta, got 100000000000000.0",
        ),
        (
            {"recovery_timeout": timedelta(days=999_999_999)},
            ValueError,
            "recovery_timeout must be <= 9223372036.0 seconds (threading.TIMEOUT_MAX), "
            "got datetime.timedelta(days=999999999)",
        ),
    ],
)
def test_invalid_breaker_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """The same check, and the same message, from CircuitBreaker and circuit_breaker."""
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        CircuitBreaker(**kwargs)
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        circuit_breaker(fails_on_negative, **kwargs)


# --------------------------------------------------------------------------- rolling window


def test_a_long_healthy_history_does_not_keep_the_circuit_closed(
    scheduler: TestScheduler,
) -> None:
    breaker, changes = recording_breaker(scheduler)  # defaults: window of 100, threshold 0.5
    for _ in range(100_000):
        call(breaker, True)
    for _ in range(49):  # the window holds 51 successes and 49 failures
        call(breaker, False)
    assert state_of(breaker) == "closed"
    call(breaker, False)  # 50 of the last 100 calls failed
    assert state_of(breaker) == "open"
    assert changes == [(0.0, "closed", "open")]
    # the counters are not windowed: they cover every call since the breaker was made
    assert breaker.stats() == CircuitBreakerStats(
        requests=100_050,
        successes=100_000,
        failures=50,
        rejected=0,
        state="open",
        consecutive_failures=50,
    )


def test_count_window_drops_the_oldest_call(scheduler: TestScheduler) -> None:
    breaker, _ = recording_breaker(scheduler, window_size=4, min_requests=2, failure_threshold=0.5)
    for success in (False, True, True, True, True):  # the first failure leaves the window
        call(breaker, success)
    call(breaker, False)  # window: S S S F, 1/4
    assert state_of(breaker) == "closed"
    call(breaker, False)  # window: S S F F, 2/4 (over every call it would be 3/7)
    assert state_of(breaker) == "open"


def test_min_requests_counts_the_calls_in_the_window(scheduler: TestScheduler) -> None:
    breaker, changes = recording_breaker(
        scheduler, window_size=None, window_duration=10, min_requests=3, failure_threshold=0.5
    )
    call(breaker, False)
    scheduler.advance_to(1)
    call(breaker, False)
    scheduler.advance_to(20)  # both failures have left the window
    call(breaker, False)
    scheduler.advance_to(21)
    call(breaker, False)  # 2 calls in the window: fewer than min_requests
    assert state_of(breaker) == "closed"
    scheduler.advance_to(22)
    call(breaker, False)
    assert changes == [(22.0, "closed", "open")]


@pytest.mark.parametrize(
    ("first_failure", "last_failure", "state"),
    [
        (0.0, 9.9, "open"),  # slice 0 is 9 slices behind slice 9: it still counts
        (0.0, 10.0, "closed"),  # slice 10: slice 0 has left the window
        (0.9, 9.999999, "open"),  # 9.1 s old, and still counted
        (0.9, 10.0, "closed"),  # 9.1 s old, no longer counted: the same slice as above
        (1.0, 10.0, "open"),  # slice 1 is still in the window at slice 10
    ],
)
def test_time_window_forgets_calls_older_than_its_slices(
    scheduler: TestScheduler, first_failure: float, last_failure: float, state: CircuitState
) -> None:
    breaker, _ = recording_breaker(
        scheduler,
        window_size=None,
        window_duration=timedelta(seconds=10),  # 10 slices of 1 s, from the first call
        min_requests=3,
        failure_threshold=0.5,
    )
    call(breaker, True)  # at 0: the slices start here
    scheduler.advance_to(first_failure)
    call(breaker, False)
    scheduler.advance_to(9.5)
    call(breaker, True)
    scheduler.advance_to(last_failure)
    # with the first failure: 2 of 4 (or 2 of 3 once the success at 0 has left);
    # without it: 2 calls, fewer than min_requests
    call(breaker, False)
    assert state_of(breaker) == state
    assert breaker.stats().failures == 2


def test_time_window_slices_start_at_the_first_call(scheduler: TestScheduler) -> None:
    breaker, _ = recording_breaker(
        scheduler, window_size=None, window_duration=10, min_requests=3, failure_threshold=0.5
    )
    scheduler.advance_to(0.5)
    call(breaker, True)  # slices of 1 s from 0.5
    scheduler.advance_to(0.6)
    call(breaker, False)
    scheduler.advance_to(10.4)  # slice 9: the calls of slice 0 still count
    call(breaker, False)
    assert state_of(breaker) == "open"  # 2 of 3


def test_time_window_counts_a_call_from_a_clock_gone_back_in_the_latest_slice() -> None:
    breaker = CircuitBreaker(
        window_size=None, window_duration=10, min_requests=3, failure_threshold=1.0
    )

    def fail_at(seconds: float) -> None:
        ticket = breaker.acquire(now=at(seconds))
        assert ticket is not None
        breaker.record(ticket, success=False, now=at(seconds))

    fail_at(100)  # slice 0
    fail_at(50)  # the clock went back: slice 0 too
    assert state_of(breaker) == "closed"
    fail_at(109.5)  # slice 9: all three count
    assert state_of(breaker) == "open"


def test_time_window_after_a_long_quiet_time_holds_only_new_calls(
    scheduler: TestScheduler,
) -> None:
    breaker, _ = recording_breaker(
        scheduler, window_size=None, window_duration=5, min_requests=2, failure_threshold=1.0
    )
    for _ in range(1_000):
        call(breaker, True)
    scheduler.advance_to(1_000)  # far beyond the window: every bucket is emptied
    call(breaker, False)
    assert state_of(breaker) == "closed"  # 1 call in the window
    call(breaker, False)  # 2 of 2 failed
    assert state_of(breaker) == "open"


def test_both_windows_count_a_call_only_while_it_is_in_both(scheduler: TestScheduler) -> None:
    options: dict[str, Any] = {"min_requests": 3, "failure_threshold": 0.5}
    both, changes = recording_breaker(scheduler, window_size=3, window_duration=10, **options)
    by_count = CircuitBreaker(window_size=3, scheduler=scheduler, **options)
    by_time = CircuitBreaker(window_size=None, window_duration=10, scheduler=scheduler, **options)

    def everywhere(success: bool) -> tuple[CircuitState, CircuitState, CircuitState]:
        for breaker in (both, by_count, by_time):
            call(breaker, success)
        return state_of(both), state_of(by_count), state_of(by_time)

    for success in (False, False, True, True, True):
        assert everywhere(success) == ("closed", "closed", "closed")
    scheduler.advance_to(2)
    # last 3 calls: S S F (1/3); last 10 s: F F S S S F (3/6): the count window rules
    assert everywhere(False) == ("closed", "closed", "open")
    scheduler.advance_to(20)
    # last 3 calls: S F F (2/3); last 10 s: this call alone: the time window rules
    assert everywhere(False) == ("closed", "open", "open")
    scheduler.advance_to(21)
    assert everywhere(False) == ("closed", "open", "open")  # F F: fewer than min_requests
    scheduler.advance_to(22)
    assert everywhere(False) == ("open", "open", "open")  # F F F
    assert changes == [(22.0, "closed", "open")]


@pytest.mark.parametrize(
    "window",
    [
        {"window_size": 10},
        {"window_size": None, "window_duration": 60},
        {"window_size": 10, "window_duration": 60},
    ],
    ids=["count", "time", "count-and-time"],
)
def test_closing_empties_the_window(scheduler: TestScheduler, window: dict[str, Any]) -> None:
    breaker, changes = recording_breaker(
        scheduler,
        min_requests=2,
        failure_threshold=0.5,
        recovery_timeout=5,
        half_open_requests=1,
        **window,
    )
    call(breaker, False)
    call(breaker, False)  # 2/2: open
    scheduler.advance_to(5)
    assert call(breaker, True)  # the trial succeeds: closed, window emptied
    scheduler.advance_to(6)
    call(breaker, False)  # kept, the window would hold F F S F (3/4)
    assert state_of(breaker) == "closed"  # emptied: 1 call, fewer than min_requests
    call(breaker, False)
    assert [(t, new) for t, _, new in changes] == [
        (0.0, "open"),
        (5.0, "half-open"),
        (5.0, "closed"),
        (6.0, "open"),
    ]


def test_a_late_result_from_an_earlier_state_stays_out_of_the_window(
    scheduler: TestScheduler,
) -> None:
    breaker, _ = recording_breaker(
        scheduler, min_requests=3, failure_threshold=0.75, recovery_timeout=1, half_open_requests=1
    )
    slow = breaker.acquire()  # admitted before the circuit opened
    assert slow is not None
    for _ in range(3):
        call(breaker, False)  # open
    scheduler.advance_to(1)
    assert call(breaker, True)  # closed, window emptied
    call(breaker, False)
    breaker.record(slow, success=False)  # counted in stats(), not in the window
    call(breaker, True)
    call(breaker, False)  # window: F S F (2/3 < 0.75); with the late failure it would be 3/4
    assert state_of(breaker) == "closed"
    assert breaker.stats().failures == 3


def test_operator_time_window_runs_on_the_subscription_clock(scheduler: TestScheduler) -> None:
    letters: list[DeadLetter[int]] = []
    source = scheduler.create_hot_observable(
        on_next(210, -1),  # the window's slices (1 s each) start here
        on_next(220, -2),  # -1 is 10 slices behind: 1 call in the window
        on_next(221, -3),  # 2 of 2 failed: open
        on_next(222, 4),  # rejected
        on_completed(230),
    )
    op = circuit_breaker(
        fails_on_negative,
        window_size=None,
        window_duration=10,
        min_requests=2,
        errors="skip",
        on_failure=letters.append,
    )
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_completed(230)]
    assert [(d.item, d.attempts, d.timestamp) for d in letters] == [
        (-1, 1, at(210)),
        (-2, 1, at(220)),
        (-3, 1, at(221)),
        (4, 0, at(222)),
    ]
    assert shared(op.stats()) == CircuitBreakerStats(
        requests=3, successes=0, failures=3, rejected=1, state="open", consecutive_failures=3
    )
    assert own(op.stats()) == (4, 4, 0, 0, 0, 0)  # three calls failed, one item rejected


def test_shared_breaker_window_holds_the_calls_of_every_pipeline(
    scheduler: TestScheduler,
) -> None:
    breaker = CircuitBreaker(
        window_size=4, min_requests=4, failure_threshold=0.75, scheduler=scheduler
    )
    orders = scheduler.create_hot_observable(on_next(210, 1), on_next(230, 2), on_next(255, 3))
    refunds = scheduler.create_hot_observable(
        on_next(220, -1), on_next(240, -2), on_next(250, -3), on_next(260, -4)
    )
    a = circuit_breaker(fails_on_negative, breaker=breaker, errors="skip", name="orders")
    b = circuit_breaker(fails_on_negative, breaker=breaker, errors="skip", name="refunds")
    first, second = subscribe_at(scheduler, (200, orders.pipe(a)), (200, refunds.pipe(b)))
    # window at 240: S F S F (2/4); at 250: F S F F (3/4): open
    assert first == [on_next(210, 1), on_next(230, 2)]  # 3 is rejected
    assert second == []
    assert breaker.stats() == CircuitBreakerStats(
        requests=5, successes=2, failures=3, rejected=2, state="open", consecutive_failures=2
    )


def test_window_options_accept_their_bounds(scheduler: TestScheduler) -> None:
    breaker = CircuitBreaker(
        min_requests=1,
        window_size=1,
        window_duration=timedelta(microseconds=10),
        recovery_timeout=threading.TIMEOUT_MAX,
        scheduler=scheduler,
    )
    call(breaker, False)
    assert state_of(breaker) == "open"
    assert breaker.recovery_timeout == timedelta(seconds=threading.TIMEOUT_MAX)


@settings(max_examples=200, deadline=None)
@given(
    runs=st.lists(st.tuples(st.booleans(), st.integers(1, 9)), max_size=16),
    window_size=st.sampled_from([3, 5, 7, None]),
    window_duration=st.sampled_from([None, 4.0]),
    subscriptions=st.integers(1, 3),
)
def test_the_operator_moves_the_breaker_exactly_as_calls_recorded_one_by_one(
    runs: list[tuple[bool, int]],
    window_size: int | None,
    window_duration: float | None,
    subscriptions: int,
) -> None:
    """Closed-state successes are tallied without a lock; the state machine cannot tell."""
    outcomes = [success for success, length in runs for _ in range(length)]
    if window_size is None and window_duration is None:
        window_size = 4
    options: dict[str, Any] = {
        "window_size": window_size,
        "window_duration": window_duration,
        "min_requests": 3,
        "failure_threshold": 0.5,
        "recovery_timeout": 3,
        "half_open_requests": 2,
    }
    clock = TestScheduler()
    reference, expected_changes = recording_breaker(clock, **options)
    passed: list[int] = []
    for n, success in enumerate(outcomes):
        clock.advance_to(210 + n)
        if call(reference, success) and success:
            passed.append(n)

    scheduler = TestScheduler()
    breaker, changes = recording_breaker(scheduler, **options)
    letters: list[DeadLetter[int]] = []
    sources: list[Subject[int]] = [Subject() for _ in range(subscriptions)]

    def fn(n: int) -> int:
        if not outcomes[n]:
            raise ConnectionError(n)
        return n

    op = circuit_breaker(fn, breaker=breaker, errors="skip", on_failure=letters.append)
    emitted: list[int] = []
    for source in sources:
        source.pipe(op).subscribe(emitted.append)
    for n in range(len(outcomes)):  # each item from one subscription in turn
        scheduler.advance_to(210 + n)
        sources[n % subscriptions].on_next(n)
    assert changes == expected_changes
    assert emitted == passed
    assert breaker.stats() == reference.stats()
    assert len(letters) == len(outcomes) - len(passed)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.one_of(st.booleans(), st.integers(1, 15)), max_size=30),
    size=st.integers(1, 7),
)
def test_a_run_of_tallied_successes_enters_the_count_window_as_if_one_by_one(
    steps: list[bool | int], size: int
) -> None:
    bulk, single = _CountWindow(size), _CountWindow(size)
    for step in steps:
        if isinstance(step, bool):  # one call: True failed
            bulk.add(int(step), None)
            single.add(int(step), None)
        else:  # a run of successes, folded in at once
            bulk.add_successes(step)
            for _ in range(step):
                single.add(0, None)
        assert (bulk.calls, bulk.failures) == (single.calls, single.failures)
    for _ in range(size):  # what each slot holds shows as the calls are pushed out
        bulk.add(0, None)
        single.add(0, None)
        assert bulk.failures == single.failures


# --------------------------------------------------------------------------- operator


def test_happy_path_emits_results(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2), on_completed(230))
    op: BreakerOperator[int, int] = circuit_breaker(lambda n: n * 2)
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(210, 2),
        on_next(220, 4),
        on_completed(230),
    ]
    assert shared(op.stats()) == CircuitBreakerStats(
        requests=2, successes=2, failures=0, rejected=0, state="closed", consecutive_failures=0
    )
    assert own(op.stats()) == (2, 0, 0, 2, 0, 0)


def test_raise_mode_forwards_the_failure_with_a_note(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, -2), on_next(230, 3))
    op = circuit_breaker(fails_on_negative, name="payments")
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert messages[0] == on_next(210, 1)
    assert messages[1].time == 220
    error = error_of(messages)
    assert type(error) is ConnectionError
    assert error.__notes__ == ["rxstreamz: raised in processor 'payments' on item -2"]
    assert len(messages) == 2
    assert op.stats().failures == 1


def test_raise_mode_rejection_fails_the_stream_with_circuit_open(
    scheduler: TestScheduler,
) -> None:
    breaker = CircuitBreaker(min_requests=1, recovery_timeout=1000, scheduler=scheduler)
    call(breaker, False)
    source = scheduler.create_hot_observable(on_next(210, 1))
    messages = scheduler.start(lambda: source.pipe(circuit_breaker(lambda n: n, breaker=breaker)))
    error = error_of(messages.messages)
    assert type(error) is CircuitOpenError
    assert str(error) == "circuit_breaker: the circuit is open, item rejected"
    assert error.__notes__ == ["rxstreamz: raised in processor 'circuit_breaker' on item 1"]


def test_full_cycle_in_virtual_time_with_dead_letters(scheduler: TestScheduler) -> None:
    letters: list[DeadLetter[int]] = []
    changes: list[tuple[float, CircuitState, CircuitState]] = []
    source = scheduler.create_hot_observable(
        on_next(210, 1),
        on_next(211, -1),
        on_next(212, -2),  # 2 failures of 3 requests >= 0.5: opens at 212
        on_next(213, 4),  # rejected
        on_next(221.999, 5),  # rejected, a millisecond before the recovery timeout
        on_next(222, 6),  # half-open trial 1
        on_next(223, 7),  # trial 2: closes
        on_next(224, -3),  # closed again, counters reset: 1/1 failed but < min_requests
        on_completed(230),
    )
    op = circuit_breaker(
        fails_on_negative,
        min_requests=3,
        recovery_timeout=10,
        half_open_requests=2,
        on_state_change=lambda old, new: changes.append((scheduler.clock, old, new)),
        errors="skip",
        on_failure=letters.append,
        name="api",
    )
    assert scheduler.start(lambda: source.pipe(op)).messages == [
        on_next(210, 1),
        on_next(222, 6),
        on_next(223, 7),
        on_completed(230),
    ]
    assert changes == [
        (212, "closed", "open"),
        (222, "open", "half-open"),
        (223, "half-open", "closed"),
    ]
    assert [(d.item, type(d.error).__name__, d.attempts, d.timestamp) for d in letters] == [
        (-1, "ConnectionError", 1, at(211)),
        (-2, "ConnectionError", 1, at(212)),
        (4, "CircuitOpenError", 0, at(213)),
        (5, "CircuitOpenError", 0, at(221.999)),
        (-3, "ConnectionError", 1, at(224)),
    ]
    assert {d.processor for d in letters} == {"api"}
    assert shared(op.stats()) == CircuitBreakerStats(
        requests=1, successes=0, failures=1, rejected=2, state="closed", consecutive_failures=1
    )
    # the operator's counts are never reset: 3 emitted, 3 calls failed, 2 rejected
    assert own(op.stats()) == (8, 5, 0, 3, 0, 0)
    assert op.state == "closed"


def test_one_breaker_shared_by_two_pipelines(scheduler: TestScheduler) -> None:
    breaker = CircuitBreaker(min_requests=2, failure_threshold=0.6, recovery_timeout=100)
    orders = scheduler.create_hot_observable(on_next(210, -1), on_next(211, -2))
    refunds = scheduler.create_hot_observable(on_next(205, 10), on_next(220, 20))
    rejected: list[DeadLetter[int]] = []
    a = circuit_breaker(fails_on_negative, breaker=breaker, errors="skip", name="orders")
    b = circuit_breaker(
        fails_on_negative,
        breaker=breaker,
        errors="skip",
        on_failure=rejected.append,
        name="refunds",
    )
    _, second = subscribe_at(scheduler, (200, orders.pipe(a)), (200, refunds.pipe(b)))
    # orders' failures opened the breaker; refunds' next item is rejected by it
    assert second == [on_next(205, 10)]
    assert [(d.item, d.attempts, d.processor) for d in rejected] == [(20, 0, "refunds")]
    assert shared(a.stats()) == shared(b.stats()) == breaker.stats()
    assert breaker.stats() == CircuitBreakerStats(
        requests=3, successes=1, failures=2, rejected=1, state="open", consecutive_failures=2
    )
    # each operator counts its own items: orders' two failed, refunds' one passed, one rejected
    assert own(a.stats()) == (2, 2, 0, 0, 0, 0)
    assert own(b.stats()) == (2, 1, 0, 1, 0, 0)


def test_two_subscriptions_of_one_operator_share_its_breaker(scheduler: TestScheduler) -> None:
    source = scheduler.create_cold_observable(on_next(10, -1), on_next(20, 2), on_completed(30))
    op = circuit_breaker(fails_on_negative, min_requests=2, errors="skip")
    first, second = subscribe_at(scheduler, (200, source.pipe(op)), (201, source.pipe(op)))
    # the two failures at 210 and 211 open the breaker shared by both runs
    assert first == [on_completed(230)]
    assert second == [on_completed(231)]
    assert op.stats().rejected == 2


def test_upstream_error_and_completion_pass_through(scheduler: TestScheduler) -> None:
    boom = ValueError("upstream")
    source = scheduler.create_hot_observable(on_next(210, 1), on_error(220, boom))
    messages = scheduler.start(lambda: source.pipe(circuit_breaker(fails_on_negative))).messages
    assert messages[0] == on_next(210, 1)
    assert messages[1].time == 220
    assert error_of(messages) is boom


def test_dispose_stops_emission(scheduler: TestScheduler) -> None:
    calls: list[int] = []

    def fn(n: int) -> int:
        calls.append(n)
        return n

    source = scheduler.create_hot_observable(on_next(210, 1), on_next(230, 2))
    messages = scheduler.start(lambda: source.pipe(circuit_breaker(fn)), disposed=220).messages
    assert messages == [on_next(210, 1)]
    assert calls == [1]


def test_breaker_and_breaker_options_together_is_an_error() -> None:
    breaker = CircuitBreaker()
    with pytest.raises(
        ValueError,
        match=r"^pass either breaker= or the breaker options, not both; "
        r"got breaker= and min_requests, on_state_change$",
    ):
        circuit_breaker(fails_on_negative, breaker=breaker, min_requests=3, on_state_change=print)
    with pytest.raises(
        ValueError,
        match=r"^pass either breaker= or the breaker options, not both; "
        r"got breaker= and window_size, window_duration$",
    ):
        circuit_breaker(fails_on_negative, breaker=breaker, window_size=50, window_duration=5)
    with pytest.raises(TypeError, match=r"^breaker must be a CircuitBreaker, got dict$"):
        circuit_breaker(fails_on_negative, breaker={})  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType, reportCallIssue]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"errors": "drop"}, ValueError, "errors must be one of 'raise', 'skip', got 'drop'"),
        ({"on_failure": 2}, TypeError, "on_failure must be callable, got int"),
        ({"name": 3}, TypeError, "name must be a str, got int"),
    ],
)
def test_invalid_operator_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        circuit_breaker(fails_on_negative, **kwargs)


def test_async_function(no_thread_leak: None) -> None:
    async def fn(n: int) -> int:
        await asyncio.sleep(0)
        if n < 0:
            raise ConnectionError
        return n * 3

    letters: list[DeadLetter[int]] = []
    op = circuit_breaker(
        fn, min_requests=1, failure_threshold=0.3, errors="skip", on_failure=letters.append
    )
    assert collect(rx.of(1, 2, -1, 3).pipe(op), timeout=10) == [3, 6]
    assert [(d.item, d.attempts) for d in letters] == [(-1, 1), (3, 0)]
    assert op.stats().state == "open"


def test_dispose_during_an_async_trial_gives_the_slot_back(no_thread_leak: None) -> None:
    breaker = CircuitBreaker(min_requests=1, recovery_timeout=0.001, half_open_requests=1)
    call(breaker, False)
    started = threading.Event()

    async def slow(n: int) -> int:
        started.set()
        await asyncio.sleep(60)
        return n

    threading.Event().wait(0.01)  # let the recovery timeout pass on the wall clock
    subscription = rx.of(1).pipe(circuit_breaker(slow, breaker=breaker)).subscribe()
    assert started.wait(10)
    assert state_of(breaker) == "half-open"
    assert breaker.acquire() is None  # the only trial slot is held by the running call
    subscription.dispose()
    assert breaker.acquire() is not None


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize("fail", [False, True])
def test_dispose_during_a_sync_trial_gives_the_slot_back_and_counts_nothing(fail: bool) -> None:
    clock = TestScheduler()
    breaker = CircuitBreaker(
        min_requests=1, recovery_timeout=1, half_open_requests=1, scheduler=clock
    )
    call(breaker, False)
    clock.advance_by(1)  # the next item turns the circuit half-open
    letters: list[DeadLetter[int]] = []
    run = DisposedDuringCall(fail=fail)
    run.run(circuit_breaker(run.call, breaker=breaker, errors="skip", on_failure=letters.append))
    assert (run.items, run.ended, letters) == ([], [], [])
    assert breaker.stats() == CircuitBreakerStats(
        requests=1, successes=0, failures=1, rejected=0, state="half-open", consecutive_failures=1
    )
    assert breaker.acquire() is not None  # the trial slot came back, exactly once
    assert breaker.acquire() is None


class PausingBreaker(CircuitBreaker):
    """Stops in ``acquire``, after the ticket is issued, until the test lets it go on."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.issued = threading.Event()
        self.go_on = threading.Event()

    def acquire(self, now: Any = None) -> int | None:
        ticket = super().acquire(now)
        self.issued.set()
        assert self.go_on.wait(5)
        return ticket


def test_a_trial_slot_acquired_while_the_subscription_is_disposed_is_given_back(
    no_thread_leak: None,
) -> None:
    clock = TestScheduler()
    breaker = PausingBreaker(
        min_requests=1, recovery_timeout=1, half_open_requests=1, scheduler=clock
    )
    ticket = CircuitBreaker.acquire(breaker)
    assert ticket is not None
    breaker.record(ticket, success=False)
    clock.advance_by(1)
    results: list[int] = []
    source: Subject[int] = Subject()
    subscription = source.pipe(circuit_breaker(fails_on_negative, breaker=breaker)).subscribe(
        results.append
    )
    producer = threading.Thread(target=source.on_next, args=(1,))
    producer.start()
    assert breaker.issued.wait(5)  # the trial slot is taken, the ticket not yet held
    subscription.dispose()
    breaker.go_on.set()
    producer.join(5)
    assert not producer.is_alive()
    assert results == []
    assert breaker.stats() == CircuitBreakerStats(
        requests=1, successes=0, failures=1, rejected=0, state="half-open", consecutive_failures=1
    )
    breaker.go_on.set()
    assert breaker.acquire() is not None  # the slot came back, exactly once
    assert breaker.acquire() is None


class CountingBreaker(CircuitBreaker):
    """Counts the calls of ``acquire`` and ``record`` made on it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.asked = 0
        self.recorded: list[bool] = []

    def acquire(self, now: Any = None) -> int | None:
        self.asked += 1
        return super().acquire(now)

    def record(self, ticket: int, *, success: bool, now: Any = None) -> None:
        self.recorded.append(success)
        super().record(ticket, success=success, now=now)


def test_a_breaker_that_overrides_acquire_and_record_sees_every_call(
    scheduler: TestScheduler,
) -> None:
    breaker = CountingBreaker(min_requests=3, scheduler=scheduler)
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, -2), on_next(230, 3))
    op = circuit_breaker(fails_on_negative, breaker=breaker, errors="skip")
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_next(210, 1), on_next(230, 3)]
    assert (breaker.asked, breaker.recorded) == (3, [True, False, True])


# --------------------------------------------------------------------------- thread safety


def test_stress_many_threads_one_breaker_counters_stay_consistent() -> None:
    threads, per_thread = 8, 2_000
    changes: list[tuple[CircuitState, CircuitState]] = []
    breaker = CircuitBreaker(
        min_requests=500,
        window_size=1_000,
        failure_threshold=0.3,
        recovery_timeout=3600,  # never half-opens during the test: no counter reset
        on_state_change=lambda old, new: changes.append((old, new)),
    )
    barrier = threading.Barrier(threads)
    tallies: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        ok = failed = rejected = 0
        barrier.wait()
        for _ in range(per_thread):
            ticket = breaker.acquire()
            if ticket is None:
                rejected += 1
                continue
            success = rng.random() < 0.6
            breaker.record(ticket, success=success)
            ok += success
            failed += not success
        with lock:
            tallies.append((ok, failed, rejected))

    workers = [threading.Thread(target=hammer, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ok = sum(t[0] for t in tallies)
    failed = sum(t[1] for t in tallies)
    rejected = sum(t[2] for t in tallies)
    stats = breaker.stats()
    assert ok + failed + rejected == threads * per_thread
    assert stats.successes == ok
    assert stats.failures == failed
    assert stats.requests == ok + failed
    assert stats.rejected == rejected
    assert stats.state == "open"
    assert changes == [("closed", "open")]  # exactly one transition, whatever the interleaving


def test_stress_half_open_admits_exactly_half_open_requests_trials(
    scheduler: TestScheduler,
) -> None:
    threads = 16
    breaker, changes = tripped(scheduler, min_requests=1, recovery_timeout=1, half_open_requests=4)
    barrier = threading.Barrier(threads)
    tickets: list[int | None] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        ticket = breaker.acquire()
        with lock:
            tickets.append(ticket)

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    admitted = [t for t in tickets if t is not None]
    assert len(admitted) == 4
    assert breaker.stats().rejected == threads - 4

    def succeed(ticket: int) -> None:
        barrier_2.wait()
        breaker.record(ticket, success=True)

    barrier_2 = threading.Barrier(len(admitted))
    finishers = [threading.Thread(target=succeed, args=(t,)) for t in admitted]
    for worker in finishers:
        worker.start()
    for worker in finishers:
        worker.join()
    assert state_of(breaker) == "closed"
    assert [(old, new) for _, old, new in changes] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]


def test_stress_dispose_racing_a_trial_settles_its_slot_exactly_once(
    no_thread_leak: None,
) -> None:
    for _ in range(100):
        clock = TestScheduler()
        breaker = CircuitBreaker(
            min_requests=1, recovery_timeout=1, half_open_requests=1, scheduler=clock
        )
        call(breaker, False)
        clock.advance_by(1)
        source: Subject[int] = Subject()
        subscription = source.pipe(circuit_breaker(fails_on_negative, breaker=breaker)).subscribe()
        barrier = threading.Barrier(2)

        def push(source: Subject[int] = source, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(5)
            source.on_next(1)

        def dispose(
            subscription: abc.DisposableBase = subscription, barrier: threading.Barrier = barrier
        ) -> None:
            barrier.wait(5)
            subscription.dispose()

        workers = [threading.Thread(target=push), threading.Thread(target=dispose)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(5)
        assert not any(worker.is_alive() for worker in workers)
        stats = breaker.stats()
        if stats.state == "closed":  # the trial's success was recorded
            assert stats.successes == 1
        else:  # no call, or its result dropped: exactly one trial slot is free
            assert stats.successes == 0
            assert breaker.acquire() is not None
            assert breaker.acquire() is None


def test_stress_pipelines_on_threads_sharing_one_breaker(no_thread_leak: None) -> None:
    breaker = CircuitBreaker(min_requests=50, failure_threshold=0.9, recovery_timeout=3600)
    results: list[list[int]] = [[] for _ in range(4)]
    letters: list[DeadLetter[int]] = []
    lock = threading.Lock()

    def sink(letter: DeadLetter[int]) -> None:
        with lock:
            letters.append(letter)

    def run(index: int) -> None:
        op = circuit_breaker(fails_on_negative, breaker=breaker, errors="skip", on_failure=sink)
        items = [n if n % 10 else -n - 1 for n in range(1_000)]
        results[index] = collect(rx.from_iterable(items).pipe(op), timeout=30)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = breaker.stats()
    assert stats.state == "closed"  # 10 % failures never reach 90 %
    assert stats.requests == 4_000
    assert stats.failures == len(letters) == 400
    assert all(r == [n for n in range(1_000) if n % 10] for r in results)


def test_stress_stats_read_while_pipelines_on_threads_tally_successes(
    no_thread_leak: None,
) -> None:
    breaker = CircuitBreaker()
    seen: list[int] = []
    running = threading.Event()
    running.set()

    def read() -> None:
        while running.is_set():
            seen.append(breaker.stats().successes)

    def run() -> None:
        op = circuit_breaker(lambda n: n, breaker=breaker)
        assert collect(rx.range(5_000).pipe(op), timeout=30) == list(range(5_000))

    reader = threading.Thread(target=read)
    workers = [threading.Thread(target=run) for _ in range(3)]
    reader.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    running.clear()
    reader.join(5)
    assert seen == sorted(seen)  # a snapshot never loses a success it showed
    expected = zeroed(CircuitBreakerStats, requests=15_000, successes=15_000, state="closed")
    assert breaker.stats() == expected


def test_a_base_exception_from_fn_fails_the_stream_and_counts_as_a_failure(
    scheduler: TestScheduler,
) -> None:
    op = circuit_breaker(raising_on(2), errors="skip")
    run_escaping(scheduler, op)
    assert shared(op.stats()) == CircuitBreakerStats(
        requests=2, successes=1, failures=1, rejected=0, state="closed", consecutive_failures=1
    )
    assert own(op.stats()) == (2, 1, 0, 1, 0, 0)  # the item that raised Abort failed
