"""Pacing: ``throttle`` delays items to at most ``rate`` per second and never drops one.

A token bucket of ``burst`` tokens refills at ``rate`` tokens per second and
starts full. An item that finds a token passes at once (on the producer's
thread); otherwise it waits, in order, in the bounded queue every waiting processor
uses (``max_pending``), and **one** timer per subscription releases the queue's
head when the next token is due, then re-arms for the next one. A burst of any
length costs one timer at a time, never one per item. While items wait, their
turns are slots one interval apart; a timer that runs late releases every item
whose slot has passed, so the time a timer takes to wake does not lower the
rate (at 10,000/s one timer per release reached 41 % of it).

The bucket is kept as a *theoretical arrival time* (the generic cell rate
algorithm, equivalent to a token bucket): an item may pass at ``now`` when
``now >= tat - (burst - 1) * interval``, and passing moves ``tat`` to
``max(tat, now) + interval``. All instants are whole microseconds of the
scheduler's clock (the resolution of its datetimes), so the release times are
exact under ``TestScheduler`` (``interval`` is ``1 / rate`` seconds rounded
*up* to the microsecond, so the rate is never exceeded), and an item that
finds a token costs no ``datetime``.
"""

from __future__ import annotations

import contextlib
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable
from typing_extensions import TypeVar

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._queue import BoundedQueue, QueueCounters
from rxstreamz._typing import Operator
from rxstreamz.errors import BackpressureError

__all__ = ["Throttle", "ThrottleStats", "throttle"]

_X = TypeVar("_X")
_T = TypeVar("_T", default=Any)
"""The item type of a ``throttle``: solved from ``pipe()`` (see ``throttle``)."""

_CATCH_UP = 20_000
"""How much of a late timer's delay the schedule makes up for, in µs (see ``throttle``)."""

_MICROSECOND = timedelta(microseconds=1)


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


class Throttle(Generic[_T]):
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
        self._passed = Ledger(_PassedRow)

    def __repr__(self) -> str:
        return (
            f"<Throttle {self.name!r} rate={self.rate:g}/s burst={self.burst} "
            f"max_pending={self.max_pending}>"
        )

    def stats(self) -> ThrottleStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        passed = self._passed.totals()["passed"]
        snapshot = self._counters.snapshot()
        return ThrottleStats(
            received=snapshot.received + passed,
            failed=0,
            dropped=snapshot.dropped,
            delivered=snapshot.delivered + passed,
            queued=snapshot.queued,
            high_watermark=snapshot.high_watermark,
        )

    def __call__(self, source: Observable[_T]) -> Observable[_T]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            timers = _scheduling.resolve(self.scheduler, scheduler)
            run = _Pacer(self, observer, timers, self._counters, self._passed)
            return run.connect(source, scheduler)

        return Observable(subscribe)


class _PassedRow(Row):
    """One subscription's count of the items that found a token (never queued)."""

    __slots__ = ("passed",)
    passed: int


class _Pacer(Generic[_X]):
    """The state of one ``throttle`` subscription, and what happens to it.

    Times are whole microseconds of the subscription's ``Clock``. Two threads
    meet here: the producer, in the ``on_next`` made by ``accepting`` (an item
    that finds a token passes at once; otherwise it is queued and, if no
    release is pending, the timer is armed), and the timer, in ``release``
    (emits the items whose slots have come, re-arms while items wait). State
    they share is changed under ``lock``, re-entrant because a trampoline
    runs ``release`` inside ``arm``.
    """

    __slots__ = (
        "__weakref__",
        "clock",
        "counters",
        "direct",
        "error",
        "input_closed",
        "interval",
        "label",
        "ledger",
        "lock",
        "observer",
        "pacing",
        "queue",
        "row",
        "stopped",
        "tat",
        "terminal_sent",
        "timer",
        "timers",
        "tolerance",
        "upstream",
    )

    def __init__(
        self,
        op: Throttle,
        observer: abc.ObserverBase[_X],
        timers: abc.SchedulerBase,
        counters: QueueCounters,
        passed: Ledger[_PassedRow],
    ) -> None:
        self.observer = observer
        self.timers = timers
        self.clock = _scheduling.Clock(timers)
        self.label = op.name
        self.counters = counters
        self.ledger = passed
        self.row = self.ledger.open()
        # Folded into the totals once nothing can count in it any more (the
        # direct path counts without a lock, so not at dispose).
        weakref.finalize(self, self.ledger.retire, self.row)
        self.queue = BoundedQueue[_X](
            op.max_pending, processor=op.name, counters=self.counters, scheduler=timers
        )
        self.interval = op.interval // _MICROSECOND
        self.tolerance = self.interval * (op.burst - 1)  # how far ahead of tat an item may pass
        self.lock = threading.RLock()
        self.tat = self.clock.micros()  # theoretical arrival time: the bucket starts full
        self.pacing = False  # a release is scheduled or emitting: it owns the output
        self.direct = True  # neither pacing, input closed nor stopped: an item may pass at once
        self.input_closed = False  # upstream completed or failed (or the queue overflowed)
        self.terminal_sent = False
        self.stopped = False  # disposed, or the timer could not be scheduled
        self.error: Exception | None = None
        self.timer = SerialDisposable()
        self.upstream = SingleAssignmentDisposable()

    def connect(self, source: Observable[_X], scheduler: abc.SchedulerBase | None) -> Disposable:
        """Subscribe upstream; return what disposes the whole subscription."""
        if self.queue.capacity is not None:
            # Claim the timers' thread before any item can come: a producer
            # subscribed on the same single-threaded scheduler then fails when
            # the queue is full instead of blocking the releases queued behind
            # it. The first release timer replaces this action if it comes first.
            # A scheduler that refuses it refuses the timers too: arm() reports that.
            with contextlib.suppress(Exception):
                self.timer.disposable = self.timers.schedule(self.queue.claim_consumer)
        self.upstream.disposable = source.subscribe(
            self.accepting(), self.close_input, self.complete, scheduler=scheduler
        )
        return Disposable(self.dispose)

    # -- the producer --------------------------------------------------------------------

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream: pass the item if it finds a token, else queue it.

        The one closure of the subscription (cheaper per item than a bound
        method). The direct path takes no lock: ``direct`` is set only on the
        producer's thread, and while it is set no release is pending or
        running, so ``tat`` is the producer's alone.
        """
        micros = self.clock.micros
        interval = self.interval
        tolerance = self.tolerance
        row = self.row
        emit = self.observer.on_next
        wait_turn = self.wait_turn

        def on_next(item: _X) -> None:
            if self.direct:
                now = micros()
                tat = self.tat
                if now >= tat - tolerance:
                    self.tat = (tat if tat > now else now) + interval
                    row.passed += 1
                    emit(item)
                    return
            wait_turn(item)

        return on_next

    def wait_turn(self, item: _X) -> None:
        """Queue an item that found no token; arm the timer unless a release is pending."""
        with self.lock:
            if self.input_closed or self.stopped:
                return
        try:
            self.queue.put(item)  # may wait for room when max_pending is set
        except BackpressureError as exc:
            self.close_input(exc)
            self.upstream.dispose()
            return
        with self.lock:
            if self.pacing or self.stopped or not len(self.queue):
                return
            self.pacing = True
            self.direct = False
            refused = self.arm()
        if refused is not None:
            self.fail(refused)

    def close_input(self, error: Exception | None) -> None:
        """Take no more items; complete (or fail with ``error``) once nothing waits.

        Upstream completed or failed, or the queue overflowed.
        """
        with self.lock:
            if self.input_closed:
                return
            self.input_closed = True
            self.direct = False
            self.error = error
            idle = not self.pacing
        if idle:
            self.send_terminal()

    def complete(self) -> None:
        """Upstream completed."""
        self.close_input(None)

    # -- the timer -----------------------------------------------------------------------

    def arm(self) -> Exception | None:
        """Schedule the release of the queue's head (``lock`` held, ``pacing`` set).

        Returns what the scheduler raised if it refused (``ImmediateScheduler``
        cannot wait, a disposed scheduler takes no work); the caller then fails
        the stream with it, once the lock is released.
        """
        clock = self.clock
        due = max(self.tat - self.tolerance, clock.micros())
        try:
            self.timer.disposable = clock.schedule_at_micros(due, self.release)
        except Exception as exc:
            exc.add_note(
                f"rxstreamz: processor {self.label!r} could not schedule a timer "
                f"on {type(self.timers).__name__}"
            )
            return exc
        return None

    def release(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        """The timer: emit the items whose turn has come, then re-arm or send the terminal event."""
        self.queue.claim_consumer()
        with self.lock:
            if self.stopped:
                return
            out = self.take_due()
        if not self.hand_on(out):
            return
        with self.lock:
            if self.stopped:  # disposed since hand_on looked
                return  # type: ignore[unreachable]
            if len(self.queue):
                refused = self.arm()
                done = False
            else:
                refused = None
                self.pacing = False
                self.direct = not self.input_closed
                done = self.input_closed
        if refused is not None:
            self.fail(refused)
        elif done:
            self.send_terminal()

    def take_due(self) -> list[_X]:
        """Take the waiting items whose slots have come (``lock`` held).

        While items wait, their slots are one interval apart. A timer that runs
        late takes every item whose slot has passed, so timer latency does not
        lower the rate; it makes up for at most ``_CATCH_UP`` of its delay (a
        longer stall is not flooded).
        """
        queue = self.queue
        now = self.clock.micros()
        ready = now + self.tolerance
        slot = max(self.tat, now - _CATCH_UP)
        out: list[_X] = []
        while len(queue) and slot <= ready:
            out.append(queue.pop())
            slot += self.interval
        self.tat = slot
        return out

    def hand_on(self, out: list[_X]) -> bool:
        """Emit ``out``; ``False`` if the subscription was disposed on the way."""
        emit = self.observer.on_next
        sent = 0
        try:
            for item in out:
                if self.stopped:
                    self.counters.count_dropped(len(out) - sent)
                    return False
                emit(item)
                sent += 1
        finally:
            self.queue.delivered(sent)  # one count per release, not one per item
        return not self.stopped

    # -- the end -------------------------------------------------------------------------

    def send_terminal(self) -> None:
        """Forward the terminal event, once, when nothing waits any more."""
        with self.lock:
            if self.stopped or self.terminal_sent:
                return
            self.terminal_sent = True
        self.queue.close()
        if self.error is None:
            self.observer.on_completed()
        else:
            self.observer.on_error(self.error)

    def fail(self, error: Exception) -> None:
        """Pacing cannot go on: drop what waits and fail at once."""
        with self.lock:
            if self.stopped or self.terminal_sent:
                return
            self.stopped = True
            self.direct = False
        self.queue.close()
        self.queue.discard()
        self.upstream.dispose()
        self.observer.on_error(error)

    def dispose(self) -> None:
        """Downstream disposed: cancel the timer, drop what waits, release a blocked producer."""
        with self.lock:
            self.stopped = True
            self.direct = False
        self.queue.close()
        self.queue.discard()
        self.timer.dispose()
        self.upstream.dispose()


def throttle(
    rate: float,
    *,
    burst: int = 1,
    max_pending: int | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_T], ThrottleStats]:
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
