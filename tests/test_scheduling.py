"""Scheduler helpers: the steady ``Clock``, and timed processors across wall-clock steps.

RxPY's real-time schedulers report the wall clock as ``now``, and an NTP step
(or a VM resume) moves it while the waits already running keep true time. The
``SteppingScheduler`` below models exactly that, deterministically: it keeps
RxPY's inherited ``now`` (so processors treat it as a real-time scheduler),
runs relative waits on a fake *true* time, and lets a test step the wall clock
while the true time goes on. Times in these tests are whole microseconds of
true time, so every expected output is exact.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import reactivex.scheduler.scheduler as rx_scheduler_module
from reactivex import Observable, abc, typing
from reactivex.disposable import Disposable
from reactivex.scheduler import TimeoutScheduler
from reactivex.scheduler.scheduler import Scheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    StreamStats,
    Window,
    aggregate,
    batch,
    debounce_,
    dedupe,
    folds,
    monitor,
    session_window,
    sliding_window,
    throttle,
    tumbling_window,
)
from rxstreamz._scheduling import Clock

_TState = TypeVar("_TState")

_US = timedelta(microseconds=1)
WALL0 = datetime(2026, 1, 1, tzinfo=UTC)
"""The wall clock at true time 0 (a whole second, so window labels are exact)."""


class FakeTime:
    """True time in microseconds, and a wall clock that is true time plus the steps."""

    def __init__(self) -> None:
        self.true_us = 0
        self.step_us = 0

    def monotonic(self) -> float:
        return self.true_us / 1_000_000

    def wall(self) -> datetime:
        return WALL0 + timedelta(microseconds=self.true_us + self.step_us)

    @property
    def seconds(self) -> float:
        return self.true_us / 1_000_000


class SteppingScheduler(Scheduler):
    """A real-time-like scheduler on fake time: relative waits run on true time.

    ``schedule_absolute`` converts with the (stepping) wall clock, as RxPY's
    real-time schedulers do.
    """

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def schedule(
        self, action: abc.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        return self.schedule_relative(0, action, state)

    def schedule_relative(
        self,
        duetime: typing.RelativeTime,
        action: abc.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        wait = max(0, self.to_timedelta(duetime) // _US)
        cancelled = False

        def run() -> None:
            if not cancelled:
                action(self, state)

        def cancel() -> None:
            nonlocal cancelled
            cancelled = True

        heapq.heappush(self._queue, (self.time.true_us + wait, next(self._seq), run))
        return Disposable(cancel)

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: abc.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self.schedule_relative(self.to_datetime(duetime) - self.now, action, state)

    def call_at(self, seconds: float, action: Callable[[], object]) -> None:
        """Run ``action`` at true time ``seconds``."""
        due = round(seconds * 1_000_000)

        def call() -> None:
            action()

        heapq.heappush(self._queue, (due, next(self._seq), call))

    def step_wall(self, seconds: float, at: float) -> None:
        """Step the wall clock by ``seconds`` at true time ``at``."""

        def step() -> None:
            self.time.step_us += round(seconds * 1_000_000)

        self.call_at(at, step)

    def run_until(self, seconds: float) -> None:
        """Run every action due up to true time ``seconds`` (bounded: at most 10,000)."""
        end = round(seconds * 1_000_000)
        for _ in range(10_000):
            if not self._queue or self._queue[0][0] > end:
                break
            due, _, run = heapq.heappop(self._queue)
            self.time.true_us = max(self.time.true_us, due)
            run()
        else:
            raise AssertionError("more than 10,000 actions: a timer spins")
        self.time.true_us = max(self.time.true_us, end)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> SteppingScheduler:
    """A ``SteppingScheduler`` whose wall clock is RxPY's real-time ``now``."""
    time = FakeTime()
    monkeypatch.setattr(rx_scheduler_module, "default_now", time.wall)
    monkeypatch.setattr("rxstreamz._scheduling.monotonic", time.monotonic)
    return SteppingScheduler(time)


def run(
    fake: SteppingScheduler,
    operator: Callable[[Observable[Any]], Observable[Any]],
    items: list[tuple[float, object]],
    *,
    step: float,
    step_at: float,
    complete_at: float | None = None,
    until: float = 10.0,
) -> list[tuple[float, Any]]:
    """Feed ``items`` (true time, item), step the wall clock once, record (true time, output)."""
    subject: Subject[object] = Subject()
    out: list[tuple[float, Any]] = []
    operator(subject).subscribe(
        lambda value: out.append((fake.time.seconds, value)), scheduler=fake
    )
    for when, item in items:
        fake.call_at(when, lambda item=item: subject.on_next(item))
    fake.step_wall(step, step_at)
    if complete_at is not None:
        fake.call_at(complete_at, subject.on_completed)
    fake.run_until(until)
    return out


def span(window: Window[Any]) -> tuple[float, float, list[Any]]:
    """A window as (start, end) in seconds after ``WALL0``, and its items."""
    return (
        (window.start - WALL0).total_seconds(),
        (window.end - WALL0).total_seconds(),
        window.items,
    )


STEPS = [pytest.param(-3.0, id="back-3s"), pytest.param(3.0, id="forward-3s")]


# -- the Clock ------------------------------------------------------------------------


def test_clock_is_the_scheduler_clock_under_virtual_time() -> None:
    test = TestScheduler()
    clock = Clock(test)
    assert not clock.steady
    test.advance_to(12.5)
    assert clock.now() == test.now
    fired: list[datetime] = []
    clock.schedule_at(test.now + timedelta(seconds=2), lambda _s, _t=None: fired.append(test.now))
    test.advance_by(5)
    assert fired == [test.to_datetime(14.5)]


def test_clock_is_steady_on_real_time_schedulers_and_starts_at_the_wall_clock() -> None:
    clock = Clock(TimeoutScheduler.singleton())
    assert clock.steady
    before = datetime.now(UTC)
    reading = clock.now()
    assert reading.tzinfo is not None
    assert abs((reading - before).total_seconds()) < 1.0  # anchored to the wall clock


def test_clock_ignores_wall_clock_steps(fake: SteppingScheduler) -> None:
    clock = Clock(fake)
    assert clock.steady
    assert clock.now() == WALL0
    fake.time.true_us = 250_000
    fake.time.step_us = -3_000_000  # the wall clock jumps back 3 s
    assert clock.now() == WALL0 + timedelta(milliseconds=250)
    fired: list[float] = []
    clock.schedule_at(
        WALL0 + timedelta(seconds=1), lambda _s, _t=None: fired.append(fake.time.seconds)
    )
    fake.run_until(10)
    assert fired == [1.0]  # 0.75 s after, not 3.75 s


def test_clock_micros_measures_spans_on_both_kinds_of_clock(fake: SteppingScheduler) -> None:
    test = TestScheduler()
    virtual = Clock(test)
    start = virtual.micros()
    test.advance_by(1.5)
    assert virtual.micros() - start == 1_500_000
    steady = Clock(fake)
    start = steady.micros()
    fake.time.true_us += 250_000
    fake.time.step_us -= 3_000_000  # a wall-clock step does not count
    assert steady.micros() - start == 250_000


def test_clock_schedule_at_micros_on_both_kinds_of_clock(fake: SteppingScheduler) -> None:
    test = TestScheduler()
    test.advance_to(10)
    virtual = Clock(test)
    fired: list[float] = []
    virtual.schedule_at_micros(
        virtual.micros() + 2_500_000, lambda _s, _t=None: fired.append(test.clock)
    )
    test.advance_by(5)
    assert fired == [12.5]
    steady = Clock(fake)
    steady.schedule_at_micros(
        steady.micros() + 300_000, lambda _s, _t=None: fired.append(fake.time.seconds)
    )
    fake.step_wall(-3.0, at=0.1)
    fake.run_until(5)
    assert fired == [12.5, 0.3]


def test_clock_micros_counts_from_the_epoch_like_now(fake: SteppingScheduler) -> None:
    test = TestScheduler()
    test.advance_to(12.5)
    assert Clock(test).micros() == 12_500_000
    steady = Clock(fake)
    fake.time.true_us = 1_234_567
    assert steady.micros() == (steady.now() - datetime(1970, 1, 1, tzinfo=UTC)) // _US


def test_clock_runs_an_overdue_action_at_once(fake: SteppingScheduler) -> None:
    clock = Clock(fake)
    fake.time.true_us = 500_000
    fired: list[float] = []
    clock.schedule_at(WALL0, lambda _s, _t=None: fired.append(fake.time.seconds))
    fake.run_until(0.5)
    assert fired == [0.5]


# -- timed processors across a wall-clock step ----------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_debounce_is_not_delayed_by_a_clock_step(fake: SteppingScheduler, step: float) -> None:
    out = run(fake, debounce_(0.2), [(0.0, "a"), (0.05, "b")], step=step, step_at=0.1)
    assert out == [(0.25, "b")]


@pytest.mark.parametrize("step", STEPS)
def test_batch_latency_is_not_delayed_by_a_clock_step(fake: SteppingScheduler, step: float) -> None:
    out = run(
        fake,
        batch(10, max_latency=0.2),
        [(0.0, "a"), (0.05, "b"), (0.3, "c")],
        step=step,
        step_at=0.1,
    )
    assert out == [(0.2, ["a", "b"]), (0.5, ["c"])]


@pytest.mark.parametrize("step", STEPS)
def test_throttle_keeps_its_pace_across_a_clock_step(fake: SteppingScheduler, step: float) -> None:
    out = run(fake, throttle(10), [(0.0, "a"), (0.0, "b"), (0.0, "c")], step=step, step_at=0.05)
    assert out == [(0.0, "a"), (0.1, "b"), (0.2, "c")]


@pytest.mark.parametrize("step", STEPS)
def test_session_window_closes_on_time_across_a_clock_step(
    fake: SteppingScheduler, step: float
) -> None:
    out = run(fake, session_window(0.2), [(0.0, "a"), (0.1, "b")], step=step, step_at=0.15)
    assert [(when, span(window)) for when, window in out] == [(0.3, (0.0, 0.3, ["a", "b"]))]


@pytest.mark.parametrize("step", STEPS)
def test_tumbling_window_ends_on_time_and_keeps_its_labels_across_a_clock_step(
    fake: SteppingScheduler, step: float
) -> None:
    out = run(
        fake, tumbling_window(1), [(0.1, "a"), (0.9, "b"), (1.5, "c")], step=step, step_at=0.5
    )
    # Labels count from the wall clock read at subscription: the step moves
    # neither the boundaries nor the labels.
    assert [(when, span(window)) for when, window in out] == [
        (1.0, (0.0, 1.0, ["a", "b"])),
        (2.0, (1.0, 2.0, ["c"])),
    ]


@pytest.mark.parametrize("step", STEPS)
def test_sliding_window_ends_on_time_across_a_clock_step(
    fake: SteppingScheduler, step: float
) -> None:
    out = run(fake, sliding_window(1, 0.5), [(0.1, "a")], step=step, step_at=0.3)
    assert [(when, span(window)) for when, window in out] == [
        (0.5, (-0.5, 0.5, ["a"])),
        (1.0, (0.0, 1.0, ["a"])),
    ]


@pytest.mark.parametrize("step", STEPS)
def test_monitor_reports_on_its_grid_across_a_clock_step(
    fake: SteppingScheduler, step: float
) -> None:
    reports: list[tuple[float, int, float]] = []

    def record(stats: StreamStats) -> None:
        reports.append((fake.time.seconds, stats.count, stats.interval_seconds))

    run(
        fake,
        monitor(1, record),
        [(0.2, "a"), (1.2, "b")],
        step=step,
        step_at=0.5,
        complete_at=2.5,
    )
    assert reports == [(1.0, 1, 1.0), (2.0, 1, 1.0), (2.5, 0, 0.5)]


@pytest.mark.parametrize("step", STEPS)
def test_dedupe_ttl_is_not_stretched_by_a_clock_step(fake: SteppingScheduler, step: float) -> None:
    out = run(fake, dedupe(ttl=0.5), [(0.0, "a"), (0.4, "a"), (0.6, "a")], step=step, step_at=0.1)
    assert out == [(0.0, "a"), (0.6, "a")]


@pytest.mark.parametrize("step", STEPS)
def test_aggregate_ticks_on_time_across_a_clock_step(fake: SteppingScheduler, step: float) -> None:
    out = run(
        fake,
        aggregate(folds.count(), interval=0.5),
        [(0.1, "a"), (0.2, "b"), (0.7, "c")],
        step=step,
        step_at=0.3,
        complete_at=1.2,
    )
    assert [(time, window.result) for time, window in out] == [(0.5, 2), (1.0, 1)]
