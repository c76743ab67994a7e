"""throttle: pacing token bucket that delays and never drops."""

from __future__ import annotations

import math
import threading
import time
from typing import Any, TypeVar, cast

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc, typing
from reactivex import operators as ops
from reactivex.scheduler import CurrentThreadScheduler, EventLoopScheduler, ImmediateScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import BackpressureError, ThrottleStats, collect, throttle
from rxstreamz.flow._throttle import Throttle
from tests.support import (
    Boom,
    Recorder,
    failure_of,
    on_completed,
    on_error,
    on_next,
    pushed,
    rejected_at_call_time,
    run,
    subscribe,
    two_subscriptions,
)

_T = TypeVar("_T")

TIMEOUT_MAX = threading.TIMEOUT_MAX


class TimerLog(TestScheduler):
    """A TestScheduler that records the release timers throttle schedules."""

    def __init__(self) -> None:
        super().__init__()
        self.timers: list[tuple[float, abc.DisposableBase]] = []

    def schedule_absolute(
        self, duetime: typing.AbsoluteTime, action: typing.ScheduledAction[Any], state: Any = None
    ) -> abc.DisposableBase:
        disposable = super().schedule_absolute(duetime, action, state)
        if getattr(action, "__name__", "") == "release":
            self.timers.append((float(self.clock), disposable))
        return disposable


# -- pacing -------------------------------------------------------------------------------


def test_ten_per_second_releases_a_burst_every_tenth_of_a_second(scheduler: TestScheduler) -> None:
    paced = throttle(10, scheduler=scheduler)
    messages, subs = run(
        scheduler,
        [on_next(210, n) for n in range(5)] + [on_completed(215)],
        lambda s: s.pipe(paced),
    )
    assert messages == [
        on_next(210.0, 0),
        on_next(210.1, 1),
        on_next(210.2, 2),
        on_next(210.3, 3),
        on_next(210.4, 4),
        on_completed(215),
    ]
    assert subs == [subscribe(200, 215)]
    assert paced.stats() == ThrottleStats(
        received=5, failed=0, dropped=0, delivered=5, queued=0, high_watermark=4
    )


def stalled(scheduler: TestScheduler, at: float, seconds: float) -> Observable[Any]:
    """A source that completes at once but stalls the scheduler at ``at`` for ``seconds``.

    The action moves the virtual clock without running the actions due
    meanwhile, as a busy thread (or a paused process) does: they run late.
    """

    def stall(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
        scheduler.sleep(seconds)

    return rx.defer(lambda _: rx.from_callable(lambda: scheduler.schedule_absolute(at, stall)))


LATE_TIMERS: dict[str, tuple[float, int, float, float, list[Any]]] = {
    # 1000/s: one slot per millisecond. The release due at 210.001 runs 4.5 ms
    # late; the items due at 210.001 .. 210.005 leave together, then the pace
    # resumes on the original slots (so timer latency does not cost rate).
    "a late timer releases every item whose turn has passed": (
        1000,
        8,
        210.0005,
        0.005,
        [
            on_next(210.0, 0),
            *(on_next(210.0055, n) for n in range(1, 6)),
            on_next(210.006, 6),
            on_next(210.007, 7),
        ],
    ),
    # 10/s, the release due at 210.1 runs 0.95 s late: only the slot within
    # 20 ms of now counts, so one item leaves, and the next 80 ms later.
    "a long stall makes up for 20 ms and does not flood": (
        10,
        5,
        210.05,
        1.0,
        [
            on_next(210.0, 0),
            on_next(211.05, 1),
            on_next(211.13, 2),
            on_next(211.23, 3),
            on_next(211.33, 4),
        ],
    ),
}


@pytest.mark.parametrize(
    ("rate", "items", "stall_at", "stall", "expected"), LATE_TIMERS.values(), ids=LATE_TIMERS
)
def test_late_timers(
    scheduler: TestScheduler,
    rate: float,
    items: int,
    stall_at: float,
    stall: float,
    expected: list[Any],
) -> None:
    source = scheduler.create_hot_observable(*[on_next(210, n) for n in range(items)])
    stalling = stalled(scheduler, stall_at, stall)
    result = scheduler.start(
        lambda: rx.merge(stalling.pipe(ops.ignore_elements()), source.pipe(throttle(rate)))
    )
    assert result.messages == expected


def test_a_late_timer_with_a_burst_releases_the_burst_plus_the_passed_turns(
    scheduler: TestScheduler,
) -> None:
    # burst=2 at 100/s: 0 and 1 pass at once, 2 is due at 210.01 (one slot
    # ahead of the bucket), 3 at 210.02 ...; the timer runs at 210.035.
    source = scheduler.create_hot_observable(*[on_next(210, n) for n in range(8)])
    stall = stalled(scheduler, 210.005, 0.03)
    result = scheduler.start(
        lambda: rx.merge(stall.pipe(ops.ignore_elements()), source.pipe(throttle(100, burst=2)))
    )
    # slots: max(tat=210.02, now - 20 ms = 210.015) = 210.02, then .03, .04;
    # an item may leave (burst - 1) intervals ahead of its slot, so from .01,
    # .02, .03: all passed at .035. Item 5 (slot .05) leaves at .04.
    assert result.messages == [
        on_next(210.0, 0),
        on_next(210.0, 1),
        on_next(210.035, 2),
        on_next(210.035, 3),
        on_next(210.035, 4),
        on_next(210.04, 5),
        on_next(210.05, 6),
        on_next(210.06, 7),
    ]


def test_a_fractional_rate_below_one_per_second(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(210, "a"), on_next(210, "b"), on_next(211, "c"), on_completed(220)],
        lambda s: s.pipe(throttle(0.5, scheduler=scheduler)),
    )
    assert messages == [
        on_next(210, "a"),
        on_next(212, "b"),
        on_next(214, "c"),
        on_completed(220),
    ]


def test_items_that_find_a_token_are_not_delayed(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(211, 2), on_next(211.5, 3), on_completed(212)],
        lambda s: s.pipe(throttle(1, scheduler=scheduler)),
    )
    assert messages == [on_next(210, 1), on_next(211, 2), on_next(212, 3), on_completed(212)]


def test_burst_lets_that_many_items_through_back_to_back(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(210, n) for n in range(5)] + [on_next(300, n) for n in range(5, 9)],
        lambda s: s.pipe(throttle(10, burst=3, scheduler=scheduler)),
    )
    assert messages == [
        on_next(210.0, 0),
        on_next(210.0, 1),
        on_next(210.0, 2),
        on_next(210.1, 3),
        on_next(210.2, 4),
        # long idle: the bucket is full again, but never holds more than 3 tokens
        on_next(300.0, 5),
        on_next(300.0, 6),
        on_next(300.0, 7),
        on_next(300.1, 8),
    ]


def test_the_bucket_starts_full_at_subscription(scheduler: TestScheduler) -> None:
    source = scheduler.create_cold_observable(on_next(0, 1), on_next(0, 2), on_next(0, 3))
    result = scheduler.start(lambda: source.pipe(throttle(4, scheduler=scheduler)))
    assert result.messages == [on_next(200, 1), on_next(200.25, 2), on_next(200.5, 3)]


def test_one_timer_at_a_time_never_one_per_item() -> None:
    scheduler = TimerLog()
    messages, _ = run(
        scheduler,
        [on_next(210, n) for n in range(100)],
        lambda s: s.pipe(throttle(100, scheduler=scheduler)),
    )
    assert [m.value.value for m in messages] == list(range(100))
    assert messages[-1].time == pytest.approx(210.99)
    # one timer armed by the burst, then each release arms the next one
    assert [t for t, _ in scheduler.timers][:2] == [210.0, 210.01]
    assert len(scheduler.timers) == 99


# -- completion, errors, dispose ------------------------------------------------------------


def test_completion_follows_the_last_paced_item(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(210, 1), on_next(210, 2), on_next(210, 3), on_completed(210)],
        lambda s: s.pipe(throttle(10, scheduler=scheduler)),
    )
    assert messages == [
        on_next(210.0, 1),
        on_next(210.1, 2),
        on_next(210.2, 3),
        on_completed(210.2),
    ]
    assert subs == [subscribe(200, 210)]  # upstream is done; the queue still paces


def test_upstream_error_waits_for_the_queued_items(scheduler: TestScheduler) -> None:
    error = Boom("upstream")
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(210, 2), on_next(210, 3), on_error(210.05, error)],
        lambda s: s.pipe(throttle(10, scheduler=scheduler)),
    )
    assert messages == [
        on_next(210.0, 1),
        on_next(210.1, 2),
        on_next(210.2, 3),
        on_error(210.2, error),
    ]


def test_empty_and_never_ending_sources(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler, [on_completed(250)], lambda s: s.pipe(throttle(1, scheduler=scheduler))
    )
    assert messages == [on_completed(250)]
    scheduler = TestScheduler()
    messages, subs = run(scheduler, [], lambda s: s.pipe(throttle(1, scheduler=scheduler)))
    assert messages == []
    assert subs == [subscribe(200, 1000)]


def test_dispose_cancels_the_timer_and_emits_nothing_after() -> None:
    scheduler = TimerLog()
    paced = throttle(10, scheduler=scheduler)
    messages, subs = run(
        scheduler,
        [on_next(210, n) for n in range(5)],
        lambda s: s.pipe(paced),
        disposed=210.25,
    )
    assert messages == [on_next(210.0, 0), on_next(210.1, 1), on_next(210.2, 2)]
    assert subs == [subscribe(200, 210.25)]
    *_, (armed_at, last_timer) = scheduler.timers
    assert armed_at == 210.2
    assert last_timer.is_disposed  # type: ignore[attr-defined]
    stats = paced.stats()
    assert stats.queued == 0
    assert (stats.received, stats.delivered) == (5, 3)


def test_max_pending_under_virtual_time_fails_after_the_queued_items(
    scheduler: TestScheduler,
) -> None:
    paced = throttle(10, max_pending=2, name="api", scheduler=scheduler)
    messages, subs = run(scheduler, [on_next(210, n) for n in range(6)], lambda s: s.pipe(paced))
    assert messages[:-1] == [on_next(210.0, 0), on_next(210.1, 1), on_next(210.2, 2)]
    last = messages[-1]
    assert (last.time, last.value.kind) == (210.2, "E")
    error = last.value.exception
    assert isinstance(error, BackpressureError)
    assert (error.processor, error.capacity) == ("api", 2)
    assert subs == [subscribe(200, 210)]  # upstream released at the overflow
    assert paced.stats().high_watermark == 2


def test_two_subscriptions_have_their_own_bucket(scheduler: TestScheduler) -> None:
    paced = throttle(10, scheduler=scheduler)
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(210, 2))
    first, second = two_subscriptions(scheduler, source.pipe(paced), 200, 205)
    expected = [on_next(210.0, 1), on_next(210.1, 2)]
    assert first == expected
    assert second == expected
    assert paced.stats() == ThrottleStats(
        received=4, failed=0, dropped=0, delivered=4, queued=0, high_watermark=1
    )


def test_uses_the_subscribe_time_scheduler_when_none_is_given(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(210, 2))
    result = scheduler.start(lambda: source.pipe(throttle(5)))
    assert result.messages == [on_next(210.0, 1), on_next(210.2, 2)]


def test_real_threads_with_a_bounded_queue_block_the_producer(no_thread_leak: None) -> None:
    active = 0
    overlaps: list[int] = []

    def guard(item: int) -> int:
        nonlocal active
        active += 1
        time.sleep(0)  # let another emitting thread run, if there were one
        if active != 1:
            overlaps.append(item)
        active -= 1
        return item

    paced = throttle(2000, burst=4, max_pending=3)
    items = collect(rx.from_iterable(range(60)).pipe(paced, ops.map(guard)), 30)
    assert items == list(range(60))
    assert overlaps == []
    stats = paced.stats()
    assert (stats.received, stats.delivered, stats.queued) == (60, 60, 0)
    assert 1 <= stats.high_watermark <= 3


def test_a_trampoline_scheduler_runs_the_release_inline_without_deadlocking(
    no_thread_leak: None,
) -> None:
    # Outside any trampoline, CurrentThreadScheduler runs a scheduled release at
    # once, on the producer's thread, from inside on_next (after sleeping until due).
    source: Subject[int] = Subject()
    seen: list[object] = []
    paced = throttle(1000, scheduler=CurrentThreadScheduler())
    source.pipe(paced).subscribe(seen.append, seen.append, lambda: seen.append("done"))

    def produce() -> None:
        for n in range(3):
            source.on_next(n)
        source.on_completed()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    producer.join(10)
    assert not producer.is_alive(), "throttle deadlocked on its own lock"
    assert seen == [0, 1, 2, "done"]
    assert paced.stats() == ThrottleStats(
        received=3, failed=0, dropped=0, delivered=3, queued=0, high_watermark=1
    )


def test_a_scheduler_that_cannot_wait_fails_the_stream_instead_of_hanging() -> None:
    # ImmediateScheduler refuses work due in the future: the release cannot be armed.
    returned: list[int] = []
    recorder = Recorder()
    paced = throttle(10, name="api")
    recorder.subscribe(pushed(4, returned).pipe(paced), scheduler=ImmediateScheduler())
    assert (returned, recorder.items, recorder.completions) == ([0, 1, 2, 3], [0], 0)
    assert failure_of(recorder) == (
        "WouldBlockException",
        "Would block",
        ["rxstreamz: processor 'api' could not schedule a timer on ImmediateScheduler"],
    )
    assert paced.stats() == ThrottleStats(
        received=2, failed=0, dropped=1, delivered=1, queued=0, high_watermark=1
    )


def test_producer_on_the_timers_thread_fails_instead_of_deadlocking(no_thread_leak: None) -> None:
    # The producer runs on the event loop that must also run the releases: with
    # a full max_pending queue, waiting there would block them forever.
    loop = EventLoopScheduler()
    returned: list[int] = []
    seen: list[object] = []
    done = threading.Event()

    def failed(error: Exception) -> None:
        seen.append(error)
        done.set()

    paced = throttle(1000, max_pending=2, name="api", scheduler=loop)
    try:
        pushed(6, returned).pipe(ops.subscribe_on(loop), paced).subscribe(seen.append, failed)
        assert done.wait(10), "the producer deadlocked on the timer's thread"
    finally:
        loop.dispose()
    assert returned == [0, 1, 2, 3, 4, 5]
    assert seen[:-1] == [0, 1, 2]
    error = seen[-1]
    assert isinstance(error, BackpressureError)
    assert (error.processor, error.capacity) == ("api", 2)
    assert "thread that drains it" in str(error)
    assert paced.stats() == ThrottleStats(
        received=4, failed=0, dropped=1, delivered=3, queued=0, high_watermark=2
    )


# -- arguments ----------------------------------------------------------------------------


test_invalid_arguments_fail_at_the_call = rejected_at_call_time(
    (lambda: throttle(0), ValueError, "rate must be > 0, got 0"),
    (lambda: throttle(-2.5), ValueError, "rate must be > 0, got -2.5"),
    (lambda: throttle(math.inf), ValueError, "rate must be finite, got inf"),
    (lambda: throttle(math.nan), ValueError, "rate must not be NaN"),
    (lambda: throttle("fast"), TypeError, "rate must be a number, got str"),  # pyright: ignore[reportArgumentType]
    (lambda: throttle(True), TypeError, "rate must be a number, got bool"),
    (lambda: throttle(1, burst=0), ValueError, "burst must be >= 1, got 0"),
    (
        lambda: throttle(1e-300),
        ValueError,
        f"rate must be >= {1 / TIMEOUT_MAX!r} per second (one per {TIMEOUT_MAX!r} seconds, "
        "threading.TIMEOUT_MAX), got 1e-300",
    ),
    (
        lambda: throttle(10, burst=2**40),
        ValueError,
        f"burst must be <= {int(TIMEOUT_MAX * 1e6) // 100_000 + 1} at rate 10/s (a full "
        f"bucket may cover at most threading.TIMEOUT_MAX = {TIMEOUT_MAX:g} s), got {2**40}",
    ),
    (lambda: throttle(1, burst=1.5), TypeError, "burst must be an int, got float"),  # pyright: ignore[reportArgumentType]
    (lambda: throttle(1, max_pending=0), ValueError, "max_pending must be >= 1, got 0"),
    (lambda: throttle(1, name=3), TypeError, "name must be a str, got int"),  # pyright: ignore[reportArgumentType]
    (
        lambda: throttle(1, scheduler="now"),  # pyright: ignore[reportArgumentType]
        TypeError,
        "scheduler must be a reactivex scheduler, got str",
    ),
    exact=True,
)


def test_defaults_and_interval() -> None:
    paced = throttle(3)
    assert isinstance(paced, Throttle)
    assert paced.name == "throttle"
    assert paced.interval.total_seconds() == 0.333334  # rounded up: never faster than 3/s
    assert cast(Throttle, throttle(0.5)).interval.total_seconds() == 2.0


# -- properties -----------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    rate=st.sampled_from([0.5, 1.0, 3.0, 7.5, 10.0, 40.0]),
    burst=st.integers(1, 3),
    gaps=st.lists(st.integers(0, 40), max_size=25),
    end_gap=st.integers(0, 40),
)
def test_pacing_matches_the_token_bucket_model(
    rate: float, burst: int, gaps: list[int], end_gap: int
) -> None:
    """Arrivals on a 10 ms grid; the model works in integer microseconds."""
    interval = math.ceil(round(1_000_000 / rate, 6))
    tolerance = interval * (burst - 1)
    arrivals: list[int] = []
    at = 210_000_000
    for gap in gaps:
        at += gap * 10_000
        arrivals.append(at)
    completed_at = at + end_gap * 10_000
    tat = 200_000_000
    expected_times: list[int] = []
    for arrival in arrivals:
        emitted = max(arrival, tat - tolerance)
        tat = max(tat, emitted) + interval
        expected_times.append(emitted)
    scheduler = TestScheduler()
    paced = throttle(rate, burst=burst, scheduler=scheduler)
    messages, _ = run(
        scheduler,
        [on_next(t / 1e6, n) for n, t in enumerate(arrivals)] + [on_completed(completed_at / 1e6)],
        lambda s: s.pipe(paced),
        disposed=10_000,
    )
    completes_at = max([completed_at, *expected_times])
    assert messages == [
        *(on_next(t / 1e6, n) for n, t in enumerate(expected_times)),
        on_completed(completes_at / 1e6),
    ]
    # never more than `burst` items within one interval
    for first, later in zip(expected_times, expected_times[burst:], strict=False):
        assert later - first >= interval
    stats = paced.stats()
    assert stats.received == stats.delivered == len(arrivals)
