"""Pacing: ``throttle`` delays items to at most ``rate`` per second and never drops one.

A token bucket of ``burst`` tokens refills at ``rate`` tokens per second and
starts full. An item that finds a token passes at once (on the producer's
thread); otherwise it waits, in order, in the bounded queue of SPEC 3
(``max_pending``), and **one** timer per subscription releases the queue's
head when the next token is due, then re-arms for the next one. A burst of any
length costs one timer at a time, never one per item. While items wait, their
turns are slots one interval apart; a timer that runs late releases every item
whose slot has passed, so the time a timer takes to wake does not lower the
rate (at 10,000/s one timer per release reached 41 % of it).

The bucket is kept as a *theoretical arrival time* (the generic cell rate
algorithm, equivalent to a token bucket): an item may pass at ``now`` when
``now >= tat - (burst - 1) * interval``, and passing moves ``tat`` to
``max(tat, now) + interval``. All instants are scheduler datetimes, so the
release times are exact under ``TestScheduler`` (``interval`` is ``1 / rate``
seconds rounded *up* to the microsecond, the clock's resolution, so the rate
is never exceeded).
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._queue import BoundedQueue, QueueCounters
from rxstreamz.errors import BackpressureError

__all__ = ["Throttle", "ThrottleStats", "throttle"]

_X = TypeVar("_X")

_CATCH_UP = timedelta(milliseconds=20)
"""How much of a late timer's delay the schedule makes up for (see ``throttle``)."""


def _interval_micros(rate: float) -> int:
    """``1 / rate`` seconds in whole microseconds, rounded up (never faster than ``rate``)."""
    return max(1, math.ceil(round(1_000_000 / rate, 6)))


@dataclass(frozen=True, slots=True)
class ThrottleStats(ProcessorStats):
    """Counters of ``throttle`` (all subscriptions).

    ``received == delivered + dropped + queued`` once no release is under
    way (a release hands items downstream between the two counts).
    ``throttle`` calls no user function, so ``failed`` stays 0; ``dropped``
    counts the items still waiting when the subscription was disposed or
    when a scheduler refused the timer.

    Attributes:
        delivered: Items emitted downstream.
        queued: Items waiting for a token right now.
        high_watermark: The most items one subscription held waiting at once
            (never more than ``max_pending``).
    """

    delivered: int
    queued: int
    high_watermark: int


class Throttle:
    """The operator returned by ``throttle``."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_pending: int | None,
        name: str,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_pending = max_pending
        self.name = name
        self.scheduler = scheduler
        self.interval = timedelta(microseconds=_interval_micros(rate))
        self._counters = QueueCounters()

    def __repr__(self) -> str:
        return (
            f"<Throttle {self.name!r} rate={self.rate:g}/s burst={self.burst} "
            f"max_pending={self.max_pending}>"
        )

    def stats(self) -> ThrottleStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        snapshot = self._counters.snapshot()
        return ThrottleStats(
            received=snapshot.received,
            failed=0,
            dropped=snapshot.dropped,
            delivered=snapshot.delivered,
            queued=snapshot.queued,
            high_watermark=snapshot.high_watermark,
        )

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        interval, name, own, counters = self.interval, self.name, self.scheduler, self._counters
        tolerance = interval * (self.burst - 1)  # how far ahead of tat an item may pass
        max_pending = self.max_pending

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            timers = _scheduling.resolve(own, scheduler)
            clock = _scheduling.Clock(timers)
            now_of = clock.now
            queue = BoundedQueue[_X](
                max_pending, processor=name, counters=counters, scheduler=timers
            )
            # Re-entrant: a trampoline (CurrentThreadScheduler outside any
            # trampoline run) runs the release at once, inside ``arm``.
            lock = threading.RLock()
            tat: datetime = now_of()  # the bucket starts full
            pacing = False  # a release is scheduled or emitting: it owns the output
            ended = False  # upstream ended (or throttle failed): accept nothing more
            terminated = False
            stopped = False  # disposed, or the timer could not be scheduled
            error: Exception | None = None
            timer = SerialDisposable()
            upstream = SingleAssignmentDisposable()

            def disposed() -> bool:
                return stopped

            def finish() -> None:
                nonlocal terminated
                with lock:
                    if stopped or terminated:
                        return
                    terminated = True
                queue.close()
                if error is None:
                    observer.on_completed()
                else:
                    observer.on_error(error)

            def arm(now: datetime) -> Exception | None:
                """Schedule the release of the queue's head (lock held, ``pacing`` set).

                Returns what the scheduler raised if it refused (``ImmediateScheduler``
                cannot wait, a disposed scheduler takes no work); the caller then
                fails the stream with it, once the lock is released.
                """
                try:
                    timer.disposable = clock.schedule_at(max(tat - tolerance, now), release)
                except Exception as exc:
                    exc.add_note(
                        f"rxstreamz: processor {name!r} could not schedule a timer "
                        f"on {type(timers).__name__}"
                    )
                    return exc
                return None

            def abort(exc: Exception) -> None:
                """Pacing cannot go on: drop what waits and fail at once."""
                nonlocal stopped
                with lock:
                    if stopped or terminated:
                        return
                    stopped = True
                queue.close()
                queue.discard()
                upstream.dispose()
                observer.on_error(exc)

            def release(_: abc.SchedulerBase, __: object = None) -> None:
                nonlocal tat, pacing
                queue.claim_consumer()
                out: list[_X] = []
                with lock:
                    if stopped:
                        return
                    now = now_of()
                    # While items wait, their slots are one interval apart. A timer
                    # that runs late releases every item whose slot has passed, so
                    # timer latency does not lower the rate; it makes up for at most
                    # `_CATCH_UP` of its delay (a longer stall is not flooded).
                    slot = max(tat, now - _CATCH_UP)
                    while len(queue) and now >= slot - tolerance:
                        out.append(queue.pop())
                        slot += interval
                    tat = slot
                for index, item in enumerate(out):
                    if disposed():
                        counters.count_dropped(len(out) - index)
                        return
                    observer.on_next(item)
                    queue.delivered()
                with lock:
                    if disposed():
                        return
                    if len(queue):
                        refused = arm(now_of())
                        done = False
                    else:
                        refused = None
                        pacing = False
                        done = ended
                if refused is not None:
                    abort(refused)
                elif done:
                    finish()

            def end(exc: Exception | None) -> None:
                nonlocal ended, error
                with lock:
                    if ended:
                        return
                    ended = True
                    error = exc
                    idle = not pacing
                if idle:
                    finish()

            def on_next(item: _X) -> None:
                nonlocal tat, pacing
                with lock:
                    if ended or stopped:
                        return
                    now = now_of()
                    direct = not pacing and now >= tat - tolerance
                    if direct:
                        tat = max(tat, now) + interval
                if direct:
                    counters.record_passed()
                    observer.on_next(item)
                    return
                try:
                    queue.put(item)  # may wait for room when max_pending is set
                except BackpressureError as exc:
                    end(exc)
                    upstream.dispose()
                    return
                with lock:
                    if pacing or stopped or not len(queue):
                        return
                    pacing = True
                    refused = arm(now_of())
                if refused is not None:
                    abort(refused)

            def dispose() -> None:
                nonlocal stopped
                with lock:
                    stopped = True
                queue.close()
                queue.discard()
                timer.dispose()
                upstream.dispose()

            if max_pending is not None:
                # Claim the timers' thread before any item can come: a producer
                # subscribed on the same single-threaded scheduler then fails when
                # the queue is full instead of blocking the releases queued behind
                # it. The first release timer replaces this action if it comes first.
                # A scheduler that refuses it refuses the timers too: arm() reports that.
                with contextlib.suppress(Exception):
                    timer.disposable = timers.schedule(queue.claim_consumer)
            upstream.disposable = source.subscribe(
                on_next, end, lambda: end(None), scheduler=scheduler
            )
            return Disposable(dispose)

        return Observable(subscribe)


def throttle(
    rate: float,
    *,
    burst: int = 1,
    max_pending: int | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Throttle:
    """Pace items to at most ``rate`` per second, delaying them, never dropping one.

    A token bucket holds ``burst`` tokens, refills at ``rate`` tokens per
    second and starts full: the first item (the first ``burst`` items) passes
    at once, later ones wait their turn in order. ``rate`` is a float, so
    ``throttle(0.5)`` lets one item through every two seconds:

    ```text
    --abcde-------------|
    throttle(10)            (10 per second; each dash is 0.1 s here)
    --abcde-------------|   input all at t=0 ...
    --a-b-c-d-e---------|   ... leaves at t = 0, 0.1, 0.2, 0.3, 0.4 s
    ```

    Behavior:
        - Waiting items sit in one bounded queue per subscription:
          ``max_pending=None`` (default) does not bound it (its depth shows in
          ``stats().high_watermark``); a number bounds it with the ``"block"``
          policy, so a producer on another thread waits in ``on_next`` until a
          slot frees. Where waiting would deadlock (virtual time, same-thread
          schedulers, or the producer on the timers' own thread, as when it
          is subscribed on the same ``EventLoopScheduler``) a full queue
          fails the stream with ``BackpressureError`` instead, after the items
          already waiting have been released at their pace.
        - Completion: items still waiting keep their pace; completion follows
          the last one. An upstream error likewise waits for the queued items,
          then is forwarded.
        - One timer at a time per subscription, armed for the moment the next
          token is due; dispose cancels it and releases a blocked producer;
          nothing is emitted after dispose.
        - Catch-up: while items wait, each has a slot, one interval after the
          previous one. A timer that runs late (a busy or paused process)
          releases at once every waiting item whose slot has passed, then the
          pace resumes on the same slots, so the long-run rate is ``rate``
          even when timers wake late. It makes up for at most 20 ms of
          lateness: after a longer stall the slots restart 20 ms in the past,
          so a stall never releases more than ``burst`` items plus
          ``rate * 0.02`` at once. An idle bucket still never holds more than
          ``burst`` tokens.
        - Threads: an item that finds a token is emitted on the producer's
          thread; queued items on the scheduler's thread. Emissions never
          overlap. A trampoline (``CurrentThreadScheduler`` outside any
          trampoline run) releases the queue inside the producer's ``on_next``.
        - A scheduler that refuses the timer (``ImmediateScheduler`` cannot
          wait; a disposed scheduler takes no work) fails the stream at once
          with the scheduler's exception, noted with the processor's name;
          the waiting items are dropped.
        - Leading-edge *dropping* (keep the first item per window, discard
          the rest) is RxPY's ``throttle_first``, not this.
        - Each subscription has its own bucket and queue; ``stats()`` sums
          them: ``received == delivered + dropped + queued`` between releases,
          where ``dropped`` is the items still waiting at dispose.

    Examples:
        >>> import reactivex as rx
        >>> from reactivex.testing import TestScheduler
        >>> clock = TestScheduler()
        >>> times = []
        >>> paced = rx.of(1, 2, 3).pipe(throttle(2, scheduler=clock))
        >>> _ = paced.subscribe(lambda n: times.append((n, float(clock.clock))))
        >>> clock.advance_by(5)
        >>> times
        [(1, 0.0), (2, 0.5), (3, 1.0)]

    Args:
        rate: Items per second (> 0, may be fractional).
        burst: Bucket size: how many items may pass back to back (>= 1).
        max_pending: Bound of the waiting queue (>= 1), ``None`` for unbounded.
        name: Name in errors and stats; default ``"throttle"``.
        scheduler: Clock and timers; default: the subscribe-time scheduler,
            else ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> ThrottleStats``.

    Raises:
        TypeError: ``rate`` is not a number, ``burst``/``max_pending`` is not
            an int, or ``scheduler`` is not a scheduler.
        ValueError: ``rate`` is not a finite number > 0 or is below
            ``1 / threading.TIMEOUT_MAX``; ``burst`` / ``max_pending`` is
            less than 1, or ``burst`` covers more than
            ``threading.TIMEOUT_MAX`` seconds at ``rate``.
    """
    value = _validate.rate("rate", rate)
    tokens = _validate.integer("burst", burst)
    # A full bucket covers (burst - 1) intervals of scheduler time; keep it a
    # span that timers and datetime arithmetic hold.
    most = int(threading.TIMEOUT_MAX * 1_000_000) // _interval_micros(value) + 1
    if tokens > most:
        raise ValueError(
            f"burst must be <= {most} at rate {value:g}/s (a full bucket may cover at "
            f"most threading.TIMEOUT_MAX = {threading.TIMEOUT_MAX:g} s), got {burst!r}"
        )
    return Throttle(
        value,
        tokens,
        _validate.optional_integer("max_pending", max_pending),
        _validate.name(name, "throttle"),
        _validate.scheduler(scheduler),
    )
