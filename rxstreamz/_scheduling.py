"""Scheduler helpers shared by every time-based processor.

Time comes from the scheduler (see docs/design.md, "Schedulers").

Precedence: the processor's own ``scheduler=``, else the scheduler passed to
``subscribe()``, else the process-wide ``TimeoutScheduler``. Timed processors
read the time and wait through a ``Clock`` (one per subscription) and
terminate through ``flushing_terminals``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TypeVar

from reactivex import abc
from reactivex.scheduler import TimeoutScheduler, VirtualTimeScheduler
from reactivex.scheduler.scheduler import Scheduler

_T = TypeVar("_T")


def resolve(
    own: abc.SchedulerBase | None, subscribed: abc.SchedulerBase | None
) -> abc.SchedulerBase:
    """Return the scheduler a subscription must use for time and timers."""
    if own is not None:
        return own
    return subscribed if subscribed is not None else TimeoutScheduler.singleton()


_WALL_CLOCK: object = Scheduler.now
"""The ``now`` property that RxPY's real-time schedulers inherit unchanged."""

_ZERO = timedelta(0)
_MICROSECOND = timedelta(microseconds=1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # for a scheduler whose clock is naive

monotonic: Callable[[], float] = time.monotonic
"""The steady clock behind real-time ``Clock`` readings (a seam for tests)."""


def _keeps_wall_clock(scheduler: abc.SchedulerBase) -> bool:
    """Tell whether ``scheduler`` is real-time with RxPY's inherited wall-clock ``now``."""
    return not isinstance(scheduler, VirtualTimeScheduler) and type(scheduler).now is _WALL_CLOCK


class Clock:
    """One subscription's time: ``now()`` reads it, ``schedule_at()`` waits for it.

    On a virtual-time scheduler, or any scheduler with its own ``now``, this is
    the scheduler's clock unchanged: ``now()`` reads ``scheduler.now`` and
    ``schedule_at`` is ``schedule_absolute``, so behaviour under
    ``TestScheduler`` is exact.

    On RxPY's real-time schedulers, whose ``now`` is the wall clock, a
    deadline computed from the wall clock does not survive a clock step: after
    an NTP step backwards of ``d`` seconds, a timer that wakes on time finds
    its deadline ``d`` seconds away and waits again. So there the clock is
    *steady*: it reads the wall clock once, at construction (the
    subscription), and from then on adds the elapsed time of the monotonic
    clock. Readings are still UTC datetimes close to the wall clock, they never
    run backwards, and a step of the wall clock during the subscription moves
    neither deadlines nor readings (the readings then differ from the wall
    clock by the step until the next subscription). Waits are relative
    (``schedule_relative`` for ``due - now()``), which real-time schedulers
    run on the monotonic clock too.
    """

    __slots__ = ("_epoch", "micros", "now", "scheduler", "steady")

    now: Callable[[], datetime]
    """Read the clock (a UTC ``datetime`` for real-time schedulers)."""

    micros: Callable[[], int]
    """Read the clock as whole microseconds since the epoch (of ``now``'s flavour).

    Cheaper than ``now`` on real-time schedulers (no ``datetime`` is built),
    for processors that compare times and build labels only now and then.
    Within 1 µs of ``now()`` (truncated rather than rounded).
    """

    def __init__(self, scheduler: abc.SchedulerBase) -> None:
        self.scheduler = scheduler
        self.steady = _keeps_wall_clock(scheduler)
        self._epoch: datetime | None = None
        if not self.steady:
            epoch = self._epoch = _UTC_EPOCH if scheduler.now.tzinfo else _NAIVE_EPOCH

            def now() -> datetime:
                return scheduler.now

            def micros() -> int:
                return (scheduler.now - epoch) // _MICROSECOND

            self.now, self.micros = now, micros
            return
        offset = scheduler.now.timestamp() - monotonic()

        def steady_micros(read: Callable[[], float] = monotonic) -> int:
            return int((read() + offset) * 1_000_000)

        self.micros = steady_micros

        def steady_now(
            read: Callable[[], float] = monotonic,
            at: Callable[[float, tzinfo], datetime] = datetime.fromtimestamp,
        ) -> datetime:
            return at(read() + offset, UTC)

        self.now = steady_now

    def schedule_at(self, due: datetime, action: abc.ScheduledAction[_T]) -> abc.DisposableBase:
        """Run ``action`` once the clock reads ``due`` (at once when it has passed)."""
        if self.steady:
            return self.scheduler.schedule_relative(max(due - self.now(), _ZERO), action)
        return self.scheduler.schedule_absolute(due, action)

    def schedule_at_micros(self, due: int, action: abc.ScheduledAction[_T]) -> abc.DisposableBase:
        """Run ``action`` once ``micros()`` reads ``due`` (at once when it has passed)."""
        if self._epoch is None:
            wait = max(due - self.micros(), 0)
            return self.scheduler.schedule_relative(timedelta(microseconds=wait), action)
        return self.scheduler.schedule_absolute(self._epoch + timedelta(microseconds=due), action)


def clock_reader(scheduler: abc.SchedulerBase) -> Callable[[], datetime]:
    """Return a function that reads ``scheduler.now``, as cheaply as possible.

    ``aggregate`` with ``interval`` reads the clock through it once per item;
    the other timed processors use ``Clock``, which also survives wall-clock
    steps.

    RxPY's real-time schedulers (timeout, thread, thread pool, event loop,
    asyncio, ...) do not override ``now``: they inherit the one property of
    ``Scheduler``, documented as the UTC wall clock and implemented as
    ``datetime.now(timezone.utc)``. For them the reader is exactly that call,
    which skips the two Python frames of the property (about half the cost of
    a clock read). Every other scheduler is read through its own ``now``
    property: a scheduler that overrides it (a wrapper such as
    ``CatchScheduler``, a custom clock), and always any virtual-time scheduler
    (``TestScheduler``, ``HistoricalScheduler``, every ``VirtualTimeScheduler``),
    whose clock only moves when the scheduler advances it.
    """
    if _keeps_wall_clock(scheduler):
        return functools.partial(datetime.now, UTC)
    return lambda: scheduler.now


def flushing_terminals(
    flush: Callable[[], bool], observer: abc.ObserverBase[_T]
) -> tuple[Callable[[Exception], None], Callable[[], None]]:
    """Return ``(on_error, on_completed)`` that flush what is held first, then forward.

    ``flush`` emits what the processor holds and stops it, under whatever lock
    the processor needs; it returns ``False`` when the subscription had already
    stopped (completed, failed or disposed), and then nothing is forwarded.
    """

    def on_error(exc: Exception) -> None:
        if flush():
            observer.on_error(exc)

    def on_completed() -> None:
        if flush():
            observer.on_completed()

    return on_error, on_completed
