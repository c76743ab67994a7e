"""Shared fixtures and helpers: virtual time, message builders, thread-leak checks.

Test modules import the plain helpers explicitly (``from tests.conftest import
at, on_next``); pytest injects the fixtures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, settings
from reactivex import Observable, abc, typing
from reactivex.subject import Subject
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.recorded import Recorded
from reactivex.testing.subscription import Subscription

# Properties assert behaviour, never speed: a loaded machine must not turn a
# slow example into a failure (Hypothesis's default deadline is 200 ms).
settings.register_profile("rxstreamz", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rxstreamz")


@pytest.fixture
def scheduler() -> TestScheduler:
    """A fresh virtual-time scheduler (its clock counts seconds from the epoch)."""
    return TestScheduler()


def wait_for_threads(before: set[threading.Thread], timeout: float = 5.0) -> list[threading.Thread]:
    """Wait until no thread outside ``before`` is alive; return the ones still alive.

    Bounded polling (not a sleep-and-hope): returns as soon as the threads are
    gone, fails after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.005)


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fail the test if it leaves a thread running that was not there before it."""
    before = set(threading.enumerate())
    yield
    leaked = wait_for_threads(before)
    assert not leaked, f"threads outlived the test: {leaked}"


# -- virtual time -------------------------------------------------------------------------

subscribe = ReactiveTest.subscribe


# Virtual time is in seconds and may be fractional; ReactiveTest annotates ticks as int.
def on_next(ticks: float, value: Any) -> Recorded[Any]:
    """``ReactiveTest.on_next`` accepting fractional virtual seconds."""
    return ReactiveTest.on_next(cast(int, ticks), value)


def on_completed(ticks: float) -> Recorded[Any]:
    """``ReactiveTest.on_completed`` accepting fractional virtual seconds."""
    return ReactiveTest.on_completed(cast(int, ticks))


def on_error(ticks: float, error: Exception | str) -> Recorded[Any]:
    """``ReactiveTest.on_error`` accepting fractional virtual seconds."""
    return ReactiveTest.on_error(cast(int, ticks), error)


def at(seconds: float) -> datetime:
    """Scheduler time ``seconds`` after the epoch, exactly as TestScheduler reports it."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


class Boom(Exception):
    """The exception the tests raise on purpose."""


def run(
    scheduler: TestScheduler,
    messages: list[Any],
    build: Callable[[Observable[Any]], Observable[Any]],
    disposed: float = 1000,
) -> tuple[list[Any], list[Subscription]]:
    """Run ``build(hot source of messages)`` on ``scheduler``; return messages and subscriptions."""
    source = scheduler.create_hot_observable(*messages)
    result = scheduler.start(lambda: build(source), disposed=disposed)
    return result.messages, source.subscriptions


class CountingScheduler(TestScheduler):
    """A TestScheduler that records every timer it is asked for."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.timers: list[abc.DisposableBase] = []
        self.ran: set[int] = set()

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[Any],
        state: Any = None,
    ) -> abc.DisposableBase:
        """Schedule ``action`` as TestScheduler does, recording the timer."""
        number = len(self.timers)

        def run(scheduler: abc.SchedulerBase, state: Any = None) -> abc.DisposableBase | None:
            self.ran.add(number)
            return action(scheduler, state)

        disposable = super().schedule_absolute(duetime, run, state)
        self.timers.append(disposable)
        return disposable

    def pending(self) -> int:
        """How many recorded timers have neither run nor been cancelled."""
        return sum(
            1
            for number, d in enumerate(self.timers)
            if number not in self.ran and not getattr(d, "is_disposed", False)
        )


# -- real time ----------------------------------------------------------------------------


def produce(subject: Subject[int], seconds: float, pause_every: int = 0) -> int:
    """Push 0, 1, 2, ... for about ``seconds``; optionally idle briefly every few items."""
    idle = threading.Event()
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        subject.on_next(count)
        count += 1
        if pause_every and count % pause_every == 0:
            idle.wait(0.004)  # shapes the load (creates gaps); nothing waits on it
    subject.on_completed()
    return count


def dispose_while_emitting(
    operator: Callable[[Observable[int]], Observable[Any]], clock: TestScheduler, until: float
) -> tuple[bool, int]:
    """Dispose from this thread while downstream is inside an ``on_next`` made by a timer.

    ``operator`` must use ``clock``; one item is pushed at the start, then
    another thread advances ``clock`` to ``until`` so that a timer emits on that
    thread. Its downstream ``on_next`` waits (at most 2 s) until this thread's
    ``dispose()`` has returned.

    Returns:
        Whether ``dispose()`` returned while that ``on_next`` was still running
        (it did not wait for downstream), and how many items downstream got.
    """
    subject: Subject[int] = Subject()
    inside = threading.Event()
    released = threading.Event()
    outcome: list[bool] = []

    def on_next(_value: object) -> None:
        inside.set()
        outcome.append(released.wait(2))

    subscription = subject.pipe(operator).subscribe(on_next)
    subject.on_next(1)
    worker = threading.Thread(target=clock.advance_to, args=(until,))
    worker.start()
    assert inside.wait(5), "no timer emission reached downstream"
    subscription.dispose()
    released.set()
    worker.join(5)
    assert not worker.is_alive()
    return outcome[0], len(outcome)
