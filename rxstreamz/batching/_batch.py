"""Grouping by size and latency: batch.

**One timer per subscription**, re-armed, never one per batch or per item:
the timer carries no identity of its own; when it fires it compares the
clock with the deadline of the batch open *now* and either emits it or waits
again for the rest (``_fusion.Deadline``). A timer that outlived its batch
therefore never emits anything early, and a synchronous burst of any length
schedules O(1) timers. The clock is the subscription's ``_scheduling.Clock``,
which a wall-clock step does not move on real-time schedulers.

The item path takes no lock (it is the hot path); the timer and the source
thread hand the open batch to each other through flags whose reads and
writes the GIL orders, and every emission the timer makes happens under one
re-entrant lock per subscription while no item is being added. So downstream
``on_next`` calls are serialized whichever thread makes them, and no item is
lost or emitted twice when the timer races the source.

Piped right after a run of fused stages (``filter_``, ``map_``, ...),
``batch`` joins the run: its list is filled inline in the run's generated
``on_next``, and the stages after it join too (``rxstreamz._fusion``, which
generates the same hand-off with the timer). Elsewhere it subscribes on its
own (``_BatchRun``). Both count in the same ``stats()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from reactivex import Observable, abc
from typing_extensions import override

from rxstreamz import _lifecycle, _scheduling, _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._fusion import Deadline, FusedObservable, Latency, Stage, fuse
from rxstreamz._lifecycle import HeldRun
from rxstreamz.transform._chunk import Chunk

__all__ = ["Batch", "BatchStats", "batch"]

_X = TypeVar("_X")


@dataclass(frozen=True, slots=True)
class BatchStats(ProcessorStats):
    """Counters of ``batch``, summed over its subscriptions.

    ``received == emitted + dropped + held`` (``batch`` calls no user
    function, so ``failed`` stays 0). ``dropped`` counts the items of a
    partial batch thrown away by dispose; completion and upstream errors
    emit it instead.

    Attributes:
        emitted: Items passed on inside lists.
        batches: Lists passed on, the partial ones flushed at the end included.
        held: Items in the batch being filled right now.
    """

    emitted: int
    batches: int
    held: int


class _BatchRow(Row):
    # `received` counts the items of closed batches (emitted or dropped) and
    # `held` the open batch's: one store per item, no read-modify-write.
    __slots__ = ("batches", "emitted", "held")
    batches: int
    emitted: int
    held: int


class _TimedStage(Stage[Any, Any]):
    """``batch`` with ``max_latency`` inside a fused run."""

    kind = "batch"

    def __init__(self, latency: Latency, name: str) -> None:
        super().__init__(name, None, latency.scheduler)
        self.latency = latency

    @override
    def bind(self) -> Latency:
        return self.latency


class Batch:
    """The operator returned by ``batch``."""

    def __init__(
        self,
        max_size: int,
        max_latency: float | None,
        name: str,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.max_size = max_size
        self.max_latency = max_latency
        self.name = name
        self.scheduler = scheduler
        self._ledger = Ledger(_BatchRow)
        self._latency = None if max_latency is None else timedelta(seconds=max_latency)
        # In a fused run: without a latency, exactly a `chunk`.
        self._stage: Stage[Any, Any] = (
            Chunk(max_size, name)
            if self._latency is None
            else _TimedStage(Latency(max_size, self._latency, scheduler), name)
        )

    def __repr__(self) -> str:
        return f"<Batch {self.name!r} max_size={self.max_size} max_latency={self.max_latency}>"

    def stats(self) -> BatchStats:
        """Return the counters of every subscription, past and present, fused or not."""
        totals = self._ledger.totals()
        fused = self._stage.figures()  # empty until a fused run subscribed
        return BatchStats(
            received=totals["received"] + totals["held"] + fused.get("received", 0),
            failed=totals["failed"] + fused.get("failed", 0),
            dropped=totals["dropped"] + fused.get("dropped", 0),
            emitted=totals["emitted"] + fused.get("emitted", 0),
            batches=totals["batches"] + fused.get("chunks", 0),
            held=totals["held"] + fused.get("held", 0),
        )

    def __call__(self, source: Observable[_X]) -> Observable[list[_X]]:
        """Apply the operator to ``source``: fused when it is a run of stages."""
        if isinstance(source, FusedObservable):
            return fuse(source, self._stage)
        max_size = self.max_size
        latency = self._latency
        own = self.scheduler
        ledger = self._ledger

        def subscribe(
            observer: abc.ObserverBase[list[_X]], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(own, scheduler))
            run = _BatchRun(ledger, observer, clock, max_size, latency)
            return run.connect(source, run.accepting(), scheduler)

        return Observable(subscribe)


class _BatchRun(HeldRun[_BatchRow, list[_X]]):
    """One ``batch`` subscription: the open batch, its deadline and the timer.

    The item path takes no lock. ``active`` counts the items in flight (a
    cell of ``on_next``, read here through ``in_flight``). A timer touches
    ``current`` only while no item is in flight: it sets ``wants`` before
    reading ``active``; the source thread raises ``active`` before reading
    ``wants`` and re-reads ``wants`` after lowering it. So either the timer
    sees the item in flight and leaves the batch to the source thread (which
    settles it on the way out), or the source thread sees ``wants`` and waits
    for the lock (the GIL makes these reads and writes ordered). Dispose
    takes no lock either: it sets ``stopped`` before reading ``active``, and
    the source thread reads ``stopped`` after lowering ``active``, so
    whoever comes last counts the held items as dropped (``release``, once).
    """

    __slots__ = ("current", "due", "in_flight", "max_size", "wants")

    def __init__(
        self,
        ledger: Ledger[_BatchRow],
        observer: abc.ObserverBase[list[_X]],
        clock: _scheduling.Clock,
        max_size: int,
        latency: timedelta | None,
    ) -> None:
        super().__init__(ledger, observer)
        self.max_size = max_size
        self.current: list[_X] = []
        # When `current` is due, and the timer (None: size only).
        self.due = None if latency is None else Deadline(clock, latency, self.timer, self.fire)
        self.in_flight = _lifecycle.nothing_in_flight  # reads the on_next calls in progress
        self.wants = False  # a timer fired: settle the open batch under the lock

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream (the one closure: cheaper than a method)."""
        lock = self.lock
        row = self.row
        emit = self.observer.on_next
        max_size = self.max_size
        timed = self.due is not None
        active = 0  # on_next calls in progress: a cell, cheaper than an attribute

        def in_flight() -> int:
            return active

        self.in_flight = in_flight

        def on_next(item: _X, run: _BatchRun[_X] = self) -> None:
            nonlocal active
            active += 1  # before reading `wants`
            try:
                if run.wants or run.stopped:
                    with lock:
                        if run.stopped:
                            return
                        if run.wants:
                            run.settle()
                        run.add(item)
                    return
                current = run.current  # the fast path: `add` inlined
                current.append(item)
                size = len(current)
                if size >= max_size:
                    run.current = []
                    run.count_out(size)
                    emit(current)
                else:
                    row.held = size
                    if size == 1 and timed:
                        run.open_batch()
            finally:
                active -= 1
                if run.wants or run.stopped:  # a timer fired or dispose came meanwhile
                    run.catch_up()

        return on_next

    def add(self, item: _X) -> None:
        """Add ``item`` on the slow path (lock held)."""
        current = self.current
        current.append(item)
        size = len(current)
        if size >= self.max_size:
            self.current = []
            self.count_out(size)
            self.observer.on_next(current)
            return
        self.row.held = size
        if size == 1 and self.due is not None:
            self.due.open()

    def catch_up(self) -> None:
        """After an item: release if disposed meanwhile, else settle for a timer that fired."""
        if not self.stopped:
            with self.lock:
                if self.wants and not self.in_flight():
                    self.settle()
        if self.stopped:  # disposed before or while this held the lock: the release is ours
            self.release()

    def count_out(self, size: int) -> None:
        """A batch of ``size`` leaves: its items are accounted for."""
        row = self.row
        row.received += size
        row.emitted += size
        row.batches += 1
        row.held = 0

    # -- the timer -----------------------------------------------------------------------

    def open_batch(self) -> None:
        """The first item of a batch has arrived: make sure a timer waits for its deadline."""
        assert self.due is not None
        with self.lock:
            self.due.open()

    def fire(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        """The timer: settle the open batch unless an item is in flight."""
        assert self.due is not None
        with self.lock:
            self.due.fired()
            self.wants = True  # before reading `active`
            if not self.in_flight():
                self.settle()
        if self.stopped:  # disposed while the timer held the lock
            self.release()

    def settle(self) -> None:
        """Emit the open batch if it is due, else make sure a timer waits for it.

        Lock held, no item in flight on another thread; only after a timer fired.
        """
        current = self.current
        if not self.stopped and current and self.due is not None and self.due.passed():
            self.current = []
            self.count_out(len(current))
            self.observer.on_next(current)
        self.wants = False  # last: until now, new items wait for the lock

    # -- the end -------------------------------------------------------------------------

    def flush_held(self) -> bool:
        """Emit the partial batch (lock held)."""
        self.stopped = True
        rest = self.current
        if rest:
            self.current = []
            self.count_out(len(rest))
            self.observer.on_next(rest)
        return True

    def drop_held(self) -> None:
        """Count the open batch as dropped (lock held, once)."""
        row = self.row
        row.received += len(self.current)
        row.dropped += len(self.current)
        row.held = 0
        self.current = []

    def idle(self) -> bool:
        """No item in flight: dispose may release now."""
        return not self.in_flight()


def batch(
    max_size: int,
    *,
    max_latency: _validate.Duration | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Batch:
    """Group items into lists of at most ``max_size``, emitted when full or after ``max_latency``.

    The latency timer starts at the **first item of each batch** (nothing runs
    while no batch is open). A batch leaves when it reaches ``max_size`` or when
    ``max_latency`` has passed since its first item, whichever comes first; the
    next batch starts its own timer at its own first item. Never emits an empty
    list:

    ```text
    time   0 1 2 3 4 5 6 7 8 9 10 11 12
    input  a b c . . . d . e . .  f  |
    batch(3, max_latency=4)
    output . . X . . . . . . . Y  .  Z|

    X = [a, b, c] at 2: full          Y = [d, e] at 6 + 4 = 10: latency
    Z = [f] at 12: completion flush   no timer runs while no batch is open
    ```

    Behavior:
        - A size-triggered emission retires that batch's deadline: nothing is
          emitted at the old deadline.
        - Completion emits the partial batch, then completes; an upstream error
          emits the partial batch first, then forwards the error.
        - Dispose drops the partial batch and cancels the timer; it takes no
          lock, so it never waits for a downstream that is receiving a batch.
        - Full batches are emitted on the thread that delivered the last item;
          latency batches on the scheduler's timer thread (or on the source's
          thread, when the timer fired while an item was being added).
          Downstream calls are never concurrent either way.
        - One timer per subscription at most, re-armed lazily: a stream of many
          batches does not schedule one timer per batch, and never one per item.
        - Each subscription has its own batch and timer.
        - ``stats()`` (``BatchStats``) sums the subscriptions:
          ``received == emitted + dropped + held``, where ``dropped`` is the
          partial batches thrown away by dispose.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4, 5).pipe(batch(2)))
        [[1, 2], [3, 4], [5]]

        With virtual time, a partial batch leaves ``max_latency`` after its first
        item:

        >>> from reactivex.testing import ReactiveTest, TestScheduler
        >>> test = TestScheduler()
        >>> source = test.create_hot_observable(
        ...     ReactiveTest.on_next(210, "a"),
        ...     ReactiveTest.on_next(220, "b"),
        ...     ReactiveTest.on_completed(400),
        ... )
        >>> test.start(lambda: source.pipe(batch(10, max_latency=50))).messages
        [OnNext(['a', 'b'])@260.0, OnCompleted()@400.0]

    Args:
        max_size: Most items per list (>= 1); a full list leaves at once.
        max_latency: Seconds (or ``timedelta``) a list may wait after its first
            item; ``None`` groups by size only.
        name: Default ``"batch"``.
        scheduler: Clock and timers; default: the subscribe-time scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` turning ``Observable[T]`` into
        ``Observable[list[T]]``, with ``stats() -> BatchStats``.

    Raises:
        TypeError: ``max_size`` is not an int, ``max_latency`` not a duration,
            ``scheduler`` not a reactivex scheduler.
        ValueError: ``max_size`` < 1, or ``max_latency`` under 1 microsecond
            (or not positive).
    """
    return Batch(
        _validate.integer("max_size", max_size),
        _validate.optional_timer_duration("max_latency", max_latency),
        _validate.name(name, "batch"),
        _validate.scheduler(scheduler),
    )
