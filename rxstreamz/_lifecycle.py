"""The end of a timed processor's subscription, written once: flush, stop, dispose.

``batch``, ``debounce_``, ``dedupe``, ``aggregate``, ``monitor``, ``progress``
and the windows keep one subscription's state in a slotted ``TimedRun`` with
a method per concern, and end the same way (see docs/design.md, "Timers"):

* completion or an upstream error **flushes** what is held, stops, then
  forwards the terminal event (``_scheduling.flushing_terminals``);
* **dispose** stops at once and cancels the timer;
* for the processors that hold items (``HeldRun``), dispose takes no lock (a
  timer may hold it while downstream receives what it emitted), and whoever
  comes last **releases** the subscription's ``Row``: counts what is still
  held as dropped and retires the row, exactly once.

The per-item ``on_next`` stays each processor's own closure (cheaper than a
bound method on the hot path), with the run bound as a positional default
argument (``def on_next(item, run=self)``): a fast local, which upstream
never passes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import (
    CompositeDisposable,
    Disposable,
    SerialDisposable,
    SingleAssignmentDisposable,
)

from rxstreamz import _scheduling
from rxstreamz._accounting import Ledger, Row

__all__ = ["HeldRun", "TimedRun", "nothing_in_flight"]

_Row = TypeVar("_Row", bound=Row)
_X = TypeVar("_X")
_O = TypeVar("_O")


def nothing_in_flight() -> int:
    """The count of items in flight before an ``on_next`` exists (a run's initial reader).

    A run whose timer must not touch state while an item is in flight counts
    the items in a cell of its ``on_next`` closure (cheaper per item than an
    attribute) and lets its methods read it through a reader closure.
    """
    return 0


class TimedRun(Generic[_O]):
    """One subscription of a timed processor: its observer, timer and end.

    Attributes:
        observer: Downstream.
        timer: The subscription's one timer.
        upstream: The subscription to the source.
        stopped: Terminated or disposed: emit nothing more.
    """

    __slots__ = ("observer", "stopped", "timer", "upstream")

    def __init__(self, observer: abc.ObserverBase[_O]) -> None:
        self.observer = observer
        self.timer = SerialDisposable()
        self.upstream = SingleAssignmentDisposable()
        self.stopped = False

    def flush(self) -> bool:
        """Emit what is held and stop; ``False`` if already stopped (forward nothing)."""
        raise NotImplementedError

    def dispose(self) -> None:
        """Stop at once: emit nothing more, cancel the timer."""
        raise NotImplementedError

    def terminals(self) -> tuple[Callable[[Exception], None], Callable[[], None]]:
        """The ``(on_error, on_completed)`` given to upstream: flush first, then forward."""
        return _scheduling.flushing_terminals(self.flush, self.observer)

    def connect(
        self,
        source: Observable[_X],
        on_next: Callable[[_X], None],
        scheduler: abc.SchedulerBase | None,
    ) -> abc.DisposableBase:
        """Subscribe upstream with ``on_next``; return what disposes the subscription."""
        on_error, on_completed = self.terminals()
        self.upstream.disposable = source.subscribe(
            on_next, on_error, on_completed, scheduler=scheduler
        )
        return CompositeDisposable(self.upstream, Disposable(self.dispose))


class HeldRun(TimedRun[_O], Generic[_Row, _O]):
    """A ``TimedRun`` that holds items under a lock shared with its timer, and counts them.

    Attributes:
        ledger: The operator's counters.
        row: This subscription's counters.
        lock: Guards the held state against the timer (re-entrant: downstream
            may call back in while a timer emits).
        released: The row is retired and what was held is counted.
    """

    __slots__ = ("ledger", "lock", "released", "row")

    def __init__(self, ledger: Ledger[_Row], observer: abc.ObserverBase[_O]) -> None:
        super().__init__(observer)
        self.ledger = ledger
        self.row = ledger.open()
        self.lock = threading.RLock()
        self.released = False

    # -- what a processor fills in -------------------------------------------------------

    def flush_held(self) -> bool:
        """Emit what is held (lock held; ``flush`` sets ``stopped`` afterwards).

        Returns:
            ``False`` when the stream failed on the way (the terminal event
            has then been sent).
        """
        return True

    def drop_held(self) -> None:
        """Count what is still held as dropped and forget it (lock held, once)."""

    def idle(self) -> bool:
        """Whether dispose may release now (no item in flight on the source thread)."""
        return True

    # -- the shared end ------------------------------------------------------------------

    def release(self) -> None:
        """Count what is held as dropped and retire the row (once, whoever comes last)."""
        with self.lock:
            if self.released:
                return
            self.released = True
            self.drop_held()
        self.ledger.retire(self.row)

    def flush(self) -> bool:
        """Emit what is held, stop and release; ``False`` if already stopped or failed."""
        with self.lock:
            if self.stopped:  # disposed: dispose may have left the release to us
                self.release()
                return False
            self.timer.dispose()
            ok = self.flush_held()
            self.stopped = True
            self.release()
            return ok

    def dispose(self) -> None:
        """Stop at once: cancel the timer, release unless a holder of the lock will.

        Takes no lock: a slow downstream must not delay disposal. ``stopped``
        is set before ``idle`` is read; a timer holding the lock, or an item
        in flight, releases on its way out, and a non-blocking attempt never
        waits for it.
        """
        self.stopped = True
        self.timer.dispose()
        if self.idle() and self.lock.acquire(blocking=False):
            try:
                self.release()
            finally:
                self.lock.release()
