"""Trailing-edge debouncing: debounce_.

One timer per subscription, re-armed, never one per item: the timer carries
no identity of its own; when it fires it compares the clock with the arrival
of the latest item plus the quiet time, and either emits that item or waits
again for the rest. A synchronous burst of any length schedules O(1) timers.
The clock is the subscription's ``_scheduling.Clock``, which a wall-clock
step does not move on real-time schedulers.

``on_next`` takes no lock: it stores the latest item and its arrival time in
one store. The timer emits under a re-entrant lock per subscription, so
downstream ``on_next`` calls are serialized whichever thread makes them, and
each pending item leaves at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from reactivex import Observable, abc

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._lifecycle import HeldRun

__all__ = ["Debounce", "DebounceStats", "debounce_"]

_X = TypeVar("_X")

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DebounceStats(ProcessorStats):
    """Counters of ``debounce_``, summed over its subscriptions.

    ``received == emitted + superseded + dropped + held`` (``debounce_``
    calls no user function, so ``failed`` stays 0). ``dropped`` counts a
    pending item thrown away by dispose; completion and upstream errors emit
    it instead.

    Attributes:
        emitted: Items passed on.
        superseded: Items replaced by a newer one before they were due: the
            processor's job.
        held: Items pending right now (at most one per live subscription).
    """

    emitted: int
    superseded: int
    held: int


class _DebounceRow(Row):
    __slots__ = ("emitted", "held")
    emitted: int
    held: int


class Debounce:
    """The operator returned by ``debounce_``."""

    def __init__(self, duration: float, name: str, scheduler: abc.SchedulerBase | None) -> None:
        self.duration = duration
        self.name = name
        self.scheduler = scheduler
        self._ledger = Ledger(_DebounceRow)

    def __repr__(self) -> str:
        return f"<Debounce {self.name!r} duration={self.duration}>"

    def stats(self) -> DebounceStats:
        """Return the counters of every subscription, past and present."""
        totals = self._ledger.totals()
        # Every item that is neither emitted, dropped nor pending was replaced.
        # A live row may be an item apart (an item counted as received before
        # the lock path marks it pending), hence the floor.
        settled = totals["emitted"] + totals["dropped"] + totals["held"]
        return DebounceStats(**totals, superseded=max(0, totals["received"] - settled))

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        quiet = timedelta(seconds=self.duration) // _MICROSECOND  # whole microseconds
        own = self.scheduler
        ledger = self._ledger

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(own, scheduler))
            run = _DebounceRun(ledger, observer, clock, quiet)
            return run.connect(source, run.accepting(), scheduler)

        return Observable(subscribe)


class _DebounceRun(HeldRun[_DebounceRow, _X]):
    """One ``debounce_`` subscription: the latest item and the timer.

    ``received`` is counted by ``on_next``; every other field of the row is
    written under the lock (``held`` whenever the pending item changes hands).
    ``latest`` is the latest item and its arrival time (clock microseconds),
    replaced by ``on_next`` in one store (no lock on the per-item path);
    ``emitted`` is the pair that left last, so a pair is emitted at most once
    (identity check).
    """

    __slots__ = ("armed", "clock", "emitted", "latest", "quiet")

    def __init__(
        self,
        ledger: Ledger[_DebounceRow],
        observer: abc.ObserverBase[_X],
        clock: _scheduling.Clock,
        quiet: int,
    ) -> None:
        super().__init__(ledger, observer)
        self.clock = clock
        self.quiet = quiet
        self.latest: tuple[_X, int] | None = None
        self.emitted: tuple[_X, int] | None = None
        self.armed = False

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream (the one closure: cheaper than a method)."""
        row = self.row
        now = self.clock.micros  # spans only: the cheapest reading

        def on_next(item: _X, run: _DebounceRun[_X] = self) -> None:
            row.received += 1
            run.latest = (item, now())
            if not run.armed:
                run.start_timer()

        return on_next

    def start_timer(self) -> None:
        """Arm the timer for the latest item, unless it is armed already."""
        with self.lock:
            latest = self.latest
            if not (self.armed or self.stopped or latest is None):
                self.armed = True
                self.row.held = 1
                self.timer.disposable = self.clock.schedule_at_micros(
                    latest[1] + self.quiet, self.fire
                )
        if self.stopped:
            self.release()

    def fire(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        """The timer: emit the latest item if it is due, else re-arm for the rest."""
        with self.lock:
            # Disarm *before* reading `latest`: an on_next that stored a
            # newer pair and still saw armed=True is then visible here.
            self.armed = False
            pending = self.latest
            if self.stopped or pending is None or pending is self.emitted:
                pass
            elif self.clock.micros() < (due := pending[1] + self.quiet):
                self.armed = True
                self.row.held = 1
                self.timer.disposable = self.clock.schedule_at_micros(due, self.fire)
            else:
                self.emit(pending)
        if self.stopped:  # disposed while the timer held the lock
            self.release()

    def emit(self, pending: tuple[_X, int]) -> None:
        """Hand the pending pair's item downstream (lock held)."""
        self.emitted = pending
        row = self.row
        row.held = 0
        row.emitted += 1
        self.observer.on_next(pending[0])

    def flush_held(self) -> bool:
        """Emit the pending item (lock held)."""
        self.stopped = True
        pending = self.latest
        if pending is not None and pending is not self.emitted:
            self.emit(pending)
        return True

    def drop_held(self) -> None:
        """Count the pending item as dropped (lock held, once)."""
        pending = self.latest
        if pending is not None and pending is not self.emitted:
            self.emitted = pending
            self.row.dropped += 1
        self.row.held = 0


def debounce_(
    duration: _validate.Duration,
    *,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Debounce:
    """Emit an item only once ``duration`` has passed without a newer one (trailing edge).

    Each item restarts the wait; a burst yields its last item, ``duration``
    after the burst ends:

    ```text
    time   0 1 2 3 4 5 6 7 8 9
    input  a b . . . . c d . |
    debounce_(3)
    output . . . . b . . . . d|

    b at 1 + 3 = 4; d (due at 7 + 3 = 10) is flushed at completion (9)
    ```

    Behavior:
        - Completion emits the pending item (if any), then completes; an
          upstream error emits it first, then forwards the error.
        - Each pending item is emitted at most once; nothing after completion.
        - Dispose drops the pending item and cancels the timer.
        - Items are emitted on the scheduler's timer thread (the completion
          flush on the upstream's thread), never concurrently.
        - No timer per item: one timer per subscription, re-armed for the
          remaining time when newer items arrived (deadline = last item time +
          ``duration``), so a synchronous burst of any length schedules O(1)
          timers. The per-item cost is one clock read and one store.
        - Each subscription has its own pending item and timer.
        - ``stats()`` (``DebounceStats``) sums the subscriptions:
          ``received == emitted + superseded + dropped + held``, where
          ``dropped`` is a pending item thrown away by dispose.

    Examples:
        >>> from reactivex.testing import ReactiveTest, TestScheduler
        >>> test = TestScheduler()
        >>> source = test.create_hot_observable(
        ...     ReactiveTest.on_next(210, "a"),
        ...     ReactiveTest.on_next(220, "b"),
        ...     ReactiveTest.on_next(300, "c"),
        ...     ReactiveTest.on_completed(310),
        ... )
        >>> test.start(lambda: source.pipe(debounce_(30))).messages
        [OnNext(b)@250.0, OnNext(c)@310.0, OnCompleted()@310.0]

    Args:
        duration: Quiet time in seconds (or ``timedelta``), > 0.
        name: Default ``"debounce"``.
        scheduler: Clock and timer; default: the subscribe-time scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()``; item type unchanged; ``stats() ->
        DebounceStats``.

    Raises:
        TypeError: ``duration`` is not a number or ``timedelta``, ``scheduler``
            not a reactivex scheduler.
        ValueError: ``duration`` is under 1 microsecond (or not positive).
    """
    return Debounce(
        _validate.timer_duration("duration", duration),
        _validate.name(name, "debounce"),
        _validate.scheduler(scheduler),
    )
