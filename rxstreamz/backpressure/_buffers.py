"""Buffers, a bounded queue as a thread boundary: buffer_, dropping_buffer, sliding_buffer.

Rx pushes: without a buffer, a producer runs exactly as fast as the slowest
``on_next`` downstream of it. A buffer decouples the two sides. The producer's
``on_next`` only puts the item in a bounded queue (see
``rxstreamz._queue``) and returns; a *drain* takes items out and delivers
them downstream on its own thread (or on ``scheduler=``). When the queue is
full, the overflow policy decides, explicitly, what gives:

==================  ===============  ==========================================
factory             policy           when the queue is full
==================  ===============  ==========================================
``buffer_``         ``"block"``      the producer waits for room (backpressure);
                                     an async producer on a loop is paused
``dropping_buffer`` ``"drop_newest"`` the incoming item is dropped
``sliding_buffer``  ``"drop_oldest"`` the oldest queued item is evicted
``buffer_``         ``"error"``      the buffer fails with ``BackpressureError``
==================  ===============  ==========================================

Every buffer counts what it does: ``stats()`` returns a
``rxstreamz._queue.QueueStats`` whose numbers satisfy
``received == delivered + dropped + queued`` once the drain is idle.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable

from rxstreamz import _validate
from rxstreamz._failure import annotate
from rxstreamz._queue import (
    OVERFLOW_POLICIES,
    BoundedQueue,
    Overflow,
    QueueCounters,
    QueueStats,
)

__all__ = ["Buffer", "QueueStats", "buffer_", "dropping_buffer", "sliding_buffer"]

_X = TypeVar("_X")

OnDrop = Callable[[Any], object]
"""Receives each item a buffer drops."""


class Buffer:
    """The operator returned by ``buffer_``, ``dropping_buffer``, ``sliding_buffer``."""

    def __init__(
        self,
        capacity: int,
        overflow: Overflow,
        on_drop: OnDrop | None,
        name: str,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.capacity = capacity
        self.overflow: Overflow = overflow
        self.on_drop = on_drop
        self.name = name
        self.scheduler = scheduler
        self._counters = QueueCounters()

    def __repr__(self) -> str:
        return f"<Buffer {self.name!r} capacity={self.capacity} overflow={self.overflow!r}>"

    def stats(self) -> QueueStats:
        """Return a snapshot of this operator's counters (all subscriptions).

        ``dropped`` counts every received item that will never be delivered:
        items refused or evicted by the overflow policy (each also handed to
        ``on_drop``), items that arrived after the buffer failed, and items
        still queued when a subscription was disposed.
        """
        return self._counters.snapshot()

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            queue = BoundedQueue[_X](
                self.capacity,
                overflow=self.overflow,
                processor=self.name,
                counters=self._counters,
                on_drop=None if self.on_drop is None else self._notify_drop,
                scheduler=self.scheduler,
            )
            return _BufferSubscription(queue, observer, self.scheduler).connect(source, scheduler)

        return Observable(subscribe)

    def _notify_drop(self, item: object) -> None:
        """``on_drop`` with a failure noted on the item it was given (maybe an evicted one)."""
        assert self.on_drop is not None
        try:
            self.on_drop(item)
        except Exception as exc:
            annotate(exc, self.name, item)
            raise


class _BufferSubscription(Generic[_X]):
    """One subscription of a buffer: its queue, the drain that empties it, and how it stops.

    Three parties meet here, under ``lock`` where they share a flag:

    * the producer, in the ``on_next`` made by ``producer``: puts the item in
      the queue (waiting for room under ``"block"``) and, in scheduler mode,
      makes sure a drain run is on its way (``_schedule_drain``);
    * the drain, on its own thread (``_drain_thread``) or as runs on the
      buffer's scheduler (``_drain_scheduled``): hands the queued items on,
      then the terminal event (``_send_terminal``);
    * whoever stops it: upstream's terminal event (``close``), the buffer's
      own failure (``fail``), a scheduler that refuses the drain
      (``_fail_now``), ``dispose``, or an exception from downstream (the
      drain disposes, then re-raises).
    """

    __slots__ = (
        "batched",
        "closed",
        "drain_run",
        "draining",
        "error",
        "lock",
        "name",
        "observer",
        "queue",
        "scheduler",
        "stopped",
        "terminal_sent",
        "upstream",
    )

    def __init__(
        self,
        queue: BoundedQueue[_X],
        observer: abc.ObserverBase[_X],
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.queue = queue
        self.observer = observer
        self.name = queue.processor
        self.scheduler = scheduler  # the buffer's own: drain there, not on a thread
        # A batch drain keeps its taken items' slots until each is handed on; a
        # drop_oldest queue must be able to evict them, so it drains one by one.
        self.batched = queue.overflow != "drop_oldest"
        self.lock = threading.Lock()
        self.stopped = False  # disposed, or the drain failed: deliver nothing more
        self.closed = False  # upstream ended or the buffer failed: accept nothing more
        self.terminal_sent = False  # the terminal notification went downstream
        self.draining = False  # scheduler mode: a drain run is scheduled or running
        self.error: Exception | None = None
        self.upstream = SingleAssignmentDisposable()
        self.drain_run = SerialDisposable()

    def connect(
        self, source: Observable[_X], scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        """Start the drain, subscribe upstream; return what disposes the subscription."""
        own = self.scheduler
        if own is None:
            threading.Thread(
                target=self._drain_thread, name=f"rxstreamz-{self.name}", daemon=True
            ).start()
        else:
            # Claim the scheduler's thread before any item can come: a producer
            # subscribed on the same single-threaded scheduler (subscribe_on an
            # EventLoopScheduler) then fails when full instead of blocking the
            # drain queued behind it. A drain run replaces this action if it
            # comes first (then it claims its own thread). A scheduler that
            # refuses it refuses the drain too: _schedule_drain reports that.
            with contextlib.suppress(Exception):
                self.drain_run.disposable = own.schedule(self.queue.claim_consumer)
        self.upstream.disposable = source.subscribe(
            self.producer(), self.close, self.close, scheduler=scheduler
        )
        return Disposable(self.dispose)

    # -- the producer side -----------------------------------------------------------

    def producer(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream: queue the item, wake a scheduled drain.

        The one closure of the subscription: the per-item path reads its
        collaborators from cells rather than attributes.
        """
        put = self.queue.put
        fail = self.fail
        schedule_drain = None if self.scheduler is None else self._schedule_drain

        def on_next(item: _X) -> None:
            try:
                put(item)
            except Exception as exc:  # BackpressureError, or on_drop's (noted by _notify_drop)
                fail(exc)
                return
            if schedule_drain is not None:
                schedule_drain()

        return on_next

    def close(self, error: Exception | None = None) -> None:
        """Accept nothing more; the drain delivers the queue, then ``error`` or completion."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.error = error
        self.queue.close()
        self._schedule_drain()

    def fail(self, error: Exception) -> None:
        """The buffer's own failure: stop pulling; deliver what is queued, then ``error``."""
        self.close(error)
        self.upstream.dispose()

    def dispose(self) -> None:
        """Deliver nothing more: drop what is queued, release the producer, end the drain."""
        with self.lock:
            self.stopped = True
        self.queue.close()
        self.queue.discard()
        self.upstream.dispose()
        self.drain_run.dispose()

    # -- the drain ---------------------------------------------------------------------

    def _drain_thread(self) -> None:
        """The drain thread: wait for items, hand them on, then the terminal event."""
        queue = self.queue
        queue.claim_consumer()
        deliver = self._deliver_batches if self.batched else self._deliver_each
        try:
            while queue.wait():
                if not deliver():
                    return
            self._send_terminal()
        except BaseException:
            self.dispose()  # downstream raised: stop everything before re-raising
            raise  # reported by threading.excepthook, like any thread's failure

    def _drain_scheduled(self, _: abc.SchedulerBase, __: object = None) -> None:
        """One drain run on the buffer's scheduler: empty the queue, then stand down."""
        queue = self.queue
        queue.claim_consumer()
        deliver = self._deliver_batches if self.batched else self._deliver_each
        try:
            while deliver():
                with self.lock:
                    if len(queue):
                        continue
                    self.draining = False
                    closed = self.closed
                if closed:
                    self._send_terminal()
                return
        except BaseException:
            self.dispose()  # downstream raised: stop everything before re-raising
            raise

    def _schedule_drain(self) -> None:
        """Scheduler mode: make sure a drain run is on its way."""
        own = self.scheduler
        if own is None:  # the drain thread waits on the queue itself
            return
        with self.lock:
            if self.draining or self.stopped:
                return
            self.draining = True
        try:
            self.drain_run.disposable = own.schedule(self._drain_scheduled)
        except Exception as exc:  # a disposed scheduler, for one
            exc.add_note(
                f"rxstreamz: processor {self.name!r} could not schedule its drain "
                f"on {type(own).__name__}"
            )
            self._fail_now(exc)

    def _deliver_batches(self) -> bool:
        """Hand on everything queued now, a batch at a time; ``False`` once stopped."""
        queue = self.queue
        emit = self.observer.on_next
        release = queue.release
        while True:
            batch = queue.pop_all(hold=True)
            if not batch:
                return True
            handed = 0
            try:
                for item in batch:
                    if self.stopped:
                        break
                    release()
                    handed += 1
                    emit(item)
            except BaseException:
                queue.delivered(handed - 1)
                queue.counters.count_dropped(1)  # the item whose delivery raised
                queue.discard(held=len(batch) - handed)
                raise
            queue.delivered(handed)
            if handed < len(batch):
                queue.discard(held=len(batch) - handed)
                return False

    def _deliver_each(self) -> bool:
        """Hand on everything queued now, one item at a time; ``False`` once stopped."""
        queue = self.queue
        emit = self.observer.on_next
        while not self.stopped:
            try:
                item = queue.pop()
            except IndexError:
                return True
            try:
                emit(item)
            except BaseException:
                queue.counters.count_dropped(1)  # the item whose delivery raised
                raise
            queue.delivered()
        queue.discard()
        return False

    # -- the end ---------------------------------------------------------------------------

    def _send_terminal(self) -> None:
        """Complete, or fail with the recorded error, unless stopped or sent already."""
        with self.lock:
            if self.stopped or self.terminal_sent:
                return
            self.terminal_sent = True
        if self.error is None:
            self.observer.on_completed()
        else:
            self.observer.on_error(self.error)

    def _fail_now(self, error: Exception) -> None:
        """No drain can run: drop what waits and fail at once."""
        with self.lock:
            if self.stopped or self.terminal_sent:
                return
            self.stopped = self.terminal_sent = True
        self.queue.close()
        self.queue.discard()
        self.upstream.dispose()
        self.observer.on_error(error)


def _make(
    capacity: int,
    overflow: object,
    on_drop: OnDrop | None,
    name: str | None,
    scheduler: abc.SchedulerBase | None,
    default_name: str,
) -> Buffer:
    return Buffer(
        _validate.integer("capacity", capacity),
        _validate.choice("overflow", overflow, OVERFLOW_POLICIES),
        _validate.optional_function("on_drop", on_drop),
        _validate.name(name, default_name),
        _validate.scheduler(scheduler),
    )


def buffer_(
    capacity: int,
    *,
    overflow: Overflow = "block",
    on_drop: OnDrop | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Buffer:
    """Put a bounded queue between the producer's thread and a drain that delivers downstream.

    The producer's ``on_next`` returns as soon as the item is queued; a drain
    delivers the items downstream, in order, on a dedicated thread per
    subscription (or on ``scheduler=``). With the default ``overflow="block"``
    a full queue makes the producer *wait*: this is backpressure, and it is
    how a fast producer on its own thread (``from_iterable`` subscribed on a
    thread, a feeder thread) is held to the consumer's pace with at most
    ``capacity`` items in memory:

    ```text
    producer  --1--2--3--4--5--6--|        (its own thread)
    buffer_(2)  [1][2]  full: the producer blocks until the drain takes one
    drain     ---1----2----3----4----5----6--|   (drain thread)
    ```

    Behavior:
        - Order is kept. Completion and upstream errors are delivered after
          every queued item.
        - ``capacity`` counts queued items only: the item being handed
          downstream does not hold a slot. ``stats().high_watermark <=
          capacity``, except by one item per async producer the buffer
          paused (below).
        - ``overflow``: ``"block"`` (wait for room), ``"drop_newest"``,
          ``"drop_oldest"`` (as ``dropping_buffer`` / ``sliding_buffer``)
          or ``"error"`` (fail with ``BackpressureError``). Dropped items go to
          ``on_drop`` and are counted in ``stats().dropped``.
        - An async producer on an event loop (``from_async_iterable``, an
          async channel) is *paused* rather than blocked: the full buffer
          takes its item one over capacity, the producer awaits before its
          next item, and is resumed once the drain has brought the buffer
          down to half its capacity (or the buffer ends).
        - Blocking never deadlocks: if the producer runs on the drain's own
          thread (a feedback loop, or a producer subscribed on the thread of
          a single-threaded ``scheduler`` such as an ``EventLoopScheduler``,
          or a synchronous source on the loop of an ``AsyncIOScheduler``),
          if ``scheduler`` is a virtual-time or same-thread scheduler, or if
          waiting would close a cycle of stages blocked on each other
          (feedback through two or more buffers), a full ``"block"`` buffer
          fails with ``BackpressureError`` (naming the buffer, its capacity,
          the situation and the fix) instead of waiting.
        - On its own ``BackpressureError`` (or an ``on_drop`` that raises, with
          a note naming the buffer), the buffer delivers what was queued, then
          ``on_error``; the producer's ``on_next`` returns normally, upstream is
          disposed and any later item is counted as dropped.
        - Threads: the drain emits on its own daemon thread
          (``rxstreamz-<name>``), started at subscription and ended after the
          terminal notification or dispose; with ``scheduler=`` it emits on
          that scheduler instead. The scheduler given to ``subscribe()`` is
          ignored: a buffer is a thread boundary by design. A ``scheduler``
          that refuses the drain (a disposed one) fails the stream at once
          with its exception, noted with the buffer's name.
        - Dispose stops delivery at once (after the ``on_next`` in progress,
          if any), releases a blocked producer and ends the drain thread; the
          items left are counted as dropped.
        - An exception escaping a downstream ``on_next`` stops the buffer
          (upstream disposed, queue discarded) and is re-raised on the drain,
          where ``threading.excepthook`` reports it.
        - Each subscription has its own queue and drain; ``stats()`` sums them.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.from_iterable(range(5)).pipe(buffer_(2)))
        [0, 1, 2, 3, 4]

    Args:
        capacity: The most items queued at once (>= 1).
        overflow: What a full buffer does: ``"block"``, ``"drop_newest"``,
            ``"drop_oldest"`` or ``"error"``.
        on_drop: Receives each item the overflow policy drops, on the
            producer's thread.
        name: Name in errors and stats; default ``"buffer"``.
        scheduler: Drain on this scheduler instead of a dedicated thread.

    Returns:
        An operator for ``pipe()`` with ``stats() -> QueueStats``.

    Raises:
        TypeError: ``capacity`` is not an int, ``on_drop`` is not callable, or
            ``scheduler`` is not a scheduler.
        ValueError: ``capacity`` is less than 1, or ``overflow`` is unknown.
    """
    return _make(capacity, overflow, on_drop, name, scheduler, "buffer")


def dropping_buffer(
    capacity: int,
    *,
    on_drop: OnDrop | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Buffer:
    """A buffer that never blocks: when it is full, the *incoming* item is dropped.

    ``buffer_`` with ``overflow="drop_newest"``. Use it when the
    producer must never wait and the items already queued matter more than
    new ones (the consumer finishes what it started). Go streamz documents
    its DroppingBuffer as dropping the oldest; this one drops the newest, as
    the name says, and ``sliding_buffer`` drops the oldest.

    ```text
    producer        --0--1--2--3--4--|      (consumer stalled)
    dropping_buffer(2)  [0][1]  2, 3, 4 dropped
    drain           ---------------0--1--|
    ```

    Behavior:
        - Like ``buffer_`` (order, completion after the queued items,
          drain thread, dispose), except that a full buffer refuses the new
          item, hands it to ``on_drop`` and counts it in ``stats().dropped``.

    Examples:
        >>> import reactivex as rx
        >>> from reactivex.testing import TestScheduler
        >>> clock = TestScheduler()  # the drain runs only when the clock advances
        >>> lost, seen = [], []
        >>> keep_first = dropping_buffer(2, on_drop=lost.append, scheduler=clock)
        >>> _ = rx.from_iterable(range(5)).pipe(keep_first).subscribe(seen.append)
        >>> clock.advance_by(1)
        >>> seen, lost, keep_first.stats().dropped
        ([0, 1], [2, 3, 4], 3)

    Args:
        capacity: The most items queued at once (>= 1).
        on_drop: Receives each dropped item, on the producer's thread.
        name: Name in errors and stats; default ``"dropping_buffer"``.
        scheduler: Drain on this scheduler instead of a dedicated thread.

    Returns:
        A ``Buffer`` with ``overflow="drop_newest"``: an operator for
        ``pipe()`` with ``stats() -> QueueStats``.

    Raises:
        TypeError: ``capacity`` is not an int, ``on_drop`` is not callable, or
            ``scheduler`` is not a scheduler.
        ValueError: ``capacity`` is less than 1.
    """
    return _make(capacity, "drop_newest", on_drop, name, scheduler, "dropping_buffer")


def sliding_buffer(
    capacity: int,
    *,
    on_drop: OnDrop | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Buffer:
    """A buffer that never blocks: when it is full, the *oldest* queued item is evicted.

    ``buffer_`` with ``overflow="drop_oldest"``: a slow consumer ends up
    seeing the latest ``capacity`` items. Use it for state-like streams
    (prices, positions, progress) where only recent values matter.

    ```text
    producer        --0--1--2--3--4--|      (consumer stalled)
    sliding_buffer(2)   0, 1, 2 evicted  [3][4]
    drain           ---------------3--4--|
    ```

    Behavior:
        - Like ``buffer_`` (order, completion after the queued items,
          drain thread, dispose), except that a full buffer evicts its oldest
          item, hands it to ``on_drop`` and counts it in ``stats().dropped``.
        - The drain takes one item at a time (so any queued item can still be
          evicted); ``buffer_`` and ``dropping_buffer`` drain in batches.

    Examples:
        >>> import reactivex as rx
        >>> from reactivex.testing import TestScheduler
        >>> clock = TestScheduler()
        >>> latest = sliding_buffer(2, scheduler=clock)
        >>> seen = []
        >>> _ = rx.from_iterable(range(5)).pipe(latest).subscribe(seen.append)
        >>> clock.advance_by(1)
        >>> seen, latest.stats().dropped
        ([3, 4], 3)

    Args:
        capacity: The most items queued at once (>= 1).
        on_drop: Receives each evicted item, on the producer's thread.
        name: Name in errors and stats; default ``"sliding_buffer"``.
        scheduler: Drain on this scheduler instead of a dedicated thread.

    Returns:
        A ``Buffer`` with ``overflow="drop_oldest"``: an operator for
        ``pipe()`` with ``stats() -> QueueStats``.

    Raises:
        TypeError: ``capacity`` is not an int, ``on_drop`` is not callable, or
            ``scheduler`` is not a scheduler.
        ValueError: ``capacity`` is less than 1.
    """
    return _make(capacity, "drop_oldest", on_drop, name, scheduler, "sliding_buffer")
