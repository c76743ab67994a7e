"""Scheduler helpers shared by every time-based processor (SPEC rule 1.5).

Precedence: the processor's own ``scheduler=``, else the scheduler passed to
``subscribe()``, else the process-wide ``TimeoutScheduler``. Processors read
the time through ``clock_reader`` and terminate through
``flushing_terminals``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
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


def clock_reader(scheduler: abc.SchedulerBase) -> Callable[[], datetime]:
    """Return a function that reads ``scheduler.now``, as cheaply as possible.

    Processors that read the clock once per item (``debounce_``,
    ``dedupe(ttl=...)``, ``monitor(latency=True)``, the windows, ``aggregate``
    with ``interval``) call the returned function instead of the property.

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
    if not isinstance(scheduler, VirtualTimeScheduler) and type(scheduler).now is _WALL_CLOCK:
        return functools.partial(datetime.now, UTC)
    return lambda: scheduler.now


def flushing_terminals(
    flush: Callable[[], bool], observer: abc.ObserverBase[_T]
) -> tuple[Callable[[Exception], None], Callable[[], None]]:
    """Return ``(on_error, on_completed)`` that flush first, then forward (SPEC 1.7, 1.8).

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
