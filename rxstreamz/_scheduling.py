"""Scheduler resolution, shared by every processor (SPEC rule 1.5).

Precedence: the processor's own ``scheduler=``, else the scheduler passed to
``subscribe()``, else the process-wide ``TimeoutScheduler``.
"""

from __future__ import annotations

from reactivex import abc
from reactivex.scheduler import TimeoutScheduler


def resolve(
    own: abc.SchedulerBase | None, subscribed: abc.SchedulerBase | None
) -> abc.SchedulerBase:
    """Return the scheduler a subscription must use for time and timers."""
    return own or subscribed or TimeoutScheduler.singleton()
