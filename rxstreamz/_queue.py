"""The one bounded queue behind every place where items wait.

``buffer_`` and its drain, ``throttle`` pacing, ``async_map``, ``retry_``,
``dead_letter`` and the bridges all hold waiting items in a
``BoundedQueue``. It is a deque guarded by one lock, with two conditions
(room for a producer, items for the consumer):

* **Producer side**: ``BoundedQueue.put``. What happens when the queue is
  full is the queue's declared *overflow policy*:

  ``"block"``        wait for room: real backpressure for a producer on
                     another thread (an async producer on an event loop is
                     paused instead, see below);
  ``"drop_newest"``  refuse the incoming item;
  ``"drop_oldest"``  evict the oldest queued item and take the new one;
  ``"error"``        raise ``rxstreamz.errors.BackpressureError``.

* **Consumer side**: ``BoundedQueue.pop`` / ``BoundedQueue.pop_all``
  (non-blocking) and ``BoundedQueue.wait`` (block until there is
  something to take). ``pop_all`` drains in batches: one lock round-trip for
  everything queued, which is what makes a thread hop cheap. With
  ``pop_all(hold=True)`` the taken items keep their slots until the consumer
  hands each one on and calls ``BoundedQueue.release`` (lock-free), so
  only the item in hand is out of the queue while a batch is worked through.

* **Async producers pause, they do not block.** An async source on an event
  loop pushes each item inside ``rxstreamz._pause.producing(flow)``. A full
  ``"block"`` queue reached by such a push (on the loop's thread) takes the
  item anyway, one over capacity, and pauses the flow; the producer awaits
  ``flow.wait()`` before it pulls again. Once the consumer has brought the
  depth down to the *low watermark* (a quarter of the capacity free:
  ``capacity - max(1, capacity // 4)``) the queue resumes
  every flow it paused; ``close`` and ``discard`` resume them too, so no
  producer is left paused for ever. A paused producer that pushes again in the
  same pull (one pull that becomes several items) gets no second overdraft:
  that item follows the thread rules below.

* **Blocking never deadlocks.** ``BoundedQueue.wait_error`` decides whether
  the calling thread may wait for room, and ``put`` asks it before blocking.
  Nobody could ever make room, and a full ``"block"`` queue raises
  ``BackpressureError`` instead of waiting, when:

  - the queue's scheduler runs its work on the calling thread or in virtual
    time (``VirtualTimeScheduler`` such as ``TestScheduler``,
    ``TrampolineScheduler``/``CurrentThreadScheduler``, ``ImmediateScheduler``);
  - the producer is the consumer's own thread (see
    ``BoundedQueue.claim_consumer`` and ``BoundedQueue.draining``), or runs the
    event loop of the queue's ``AsyncIOScheduler``;
  - waiting would close a *cycle*: the queue's consumer thread is itself
    blocked on a full queue whose consumer is blocked ... on a queue that only
    the calling thread drains (feedback through two or more queueing stages).
    Every thread blocked in ``put`` is recorded, with the queue it waits for,
    in one wait-for table; the check and the record happen under one lock, so
    of two threads closing a cycle at once the second one sees the first.

  After raising it once the queue is *sealed*: later puts are refused and
  counted as dropped, while what was queued before can still be taken, so a
  processor delivers it before failing.

* ``BoundedQueue.close`` releases every blocked producer and waiting
  consumer. Queued items stay takeable (a completing processor drains them);
  ``BoundedQueue.discard`` throws them away, counted as dropped.

Accounting, kept by a ``QueueCounters`` that may be shared by every
queue of one operator (one per subscription; the queues then share its lock):

```text
received == delivered + dropped + queued + (taken, not yet reported delivered)
```

``received`` counts every ``put`` once it is resolved (a blocked ``put`` when
it returns); ``dropped`` every item that will never be
delivered (overflow, refused after close/seal, discarded); ``queued`` is the
live depth summed over the live queues; ``high_watermark`` the largest depth a
single queue reached, so it never exceeds the capacity, except by the one-item
overdraft of each async producer it paused.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Generator, Sized
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from reactivex import abc
from reactivex.scheduler import ImmediateScheduler, TrampolineScheduler, VirtualTimeScheduler

from rxstreamz import _pause, _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._asyncio import running_loop, scheduler_loop
from rxstreamz.errors import BackpressureError

__all__ = [
    "OVERFLOW_POLICIES",
    "BoundedQueue",
    "Overflow",
    "QueueCounters",
    "QueueStats",
]

_T = TypeVar("_T")

Overflow = Literal["block", "drop_newest", "drop_oldest", "error"]
"""What a full queue does with one more item (see the module docstring)."""

OVERFLOW_POLICIES: tuple[Overflow, ...] = ("block", "drop_newest", "drop_oldest", "error")

_NO_LIMIT = sys.maxsize
"""A limit no depth reaches: an unbounded queue's capacity, a wake-up nobody waits for."""

_SAME_THREAD_SCHEDULERS = (VirtualTimeScheduler, TrampolineScheduler, ImmediateScheduler)

# Why a thread may not wait for room (the tail of a BackpressureError's message).
_VIRTUAL_TIME = (
    "blocking would deadlock: the scheduler runs on the producer's thread or in virtual "
    "time; use a thread boundary or a larger capacity"
)
_SAME_THREAD = (
    "blocking would deadlock: the producer runs on the thread that drains it (feedback); "
    "use a thread boundary or a larger capacity"
)
_LOOP_THREAD = (
    "blocking would deadlock: the producer runs on the event loop that drains it, as a "
    "synchronous source; use from_async_iterable or subscribe the source on another thread"
)
_PAUSED_PUSH = (
    "blocking would deadlock: a paused async producer pushed again on the event loop that "
    "drains it (one pull became several items); use a larger capacity or a thread boundary"
)

# The wait-for table: the queue each thread is blocked on in ``put`` right now.
# Read and written only under ``_WAITS_LOCK``, which is taken after a queue's
# lock, never before one.
_WAITS_LOCK = threading.Lock()
_WAITING_ON: dict[threading.Thread, BoundedQueue[Any]] = {}


@dataclass(frozen=True, slots=True)
class QueueStats(ProcessorStats):
    """A snapshot of a bounded queue's counters (``buffer_(...).stats()``).

    Once the consumer is idle,
    ``received == delivered + dropped + queued``; while it works, the items
    taken and not yet reported delivered make up the difference.

    Attributes:
        received: Items offered by the producer (every ``put``), including
            those offered after the queue stopped.
        failed: Always 0: a queue calls no user function per item (an
            ``on_drop`` that raises fails the stream; the item it was given
            is counted in ``dropped``).
        dropped: Items that will never be delivered: refused or evicted by the
            overflow policy, refused after the queue failed or closed, still
            queued when the subscription was disposed or failed, or handed to
            a downstream ``on_next`` that raised.
        delivered: Items handed downstream.
        queued: Items waiting right now, summed over live subscriptions.
        high_watermark: The most items one queue held at once: never more
            than its capacity, except by one item per async producer the
            queue paused (a paused producer's last push is taken over
            capacity; see ``docs/concepts/backpressure.md``).
    """

    delivered: int
    queued: int
    high_watermark: int


class QueueCounters:
    """Thread-safe counters of one operator, shared by the queues of its subscriptions.

    The queues that report here share its lock: one lock round-trip per
    ``put`` covers both the queue and the counts, and a snapshot is
    consistent across every subscription. The public attributes are written
    only under ``lock``; read them through ``snapshot``.
    """

    __slots__ = (
        "__weakref__",
        "_queues",
        "delivered",
        "dropped",
        "high_watermark",
        "lock",
        "received",
    )

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.delivered = 0
        self.dropped = 0
        self.high_watermark = 0
        self._queues: weakref.WeakSet[Sized] = weakref.WeakSet()

    def snapshot(self) -> QueueStats:
        """Return the current counts as a frozen record."""
        with self.lock:
            return QueueStats(
                received=self.received,
                failed=0,
                dropped=self.dropped,
                delivered=self.delivered,
                queued=sum(len(queue) for queue in self._queues),
                high_watermark=self.high_watermark,
            )

    def record_passed(self, n: int = 1) -> None:
        """Count ``n`` items that went straight through, never queued (received and delivered)."""
        with self.lock:
            self.received += n
            self.delivered += n

    def count_refused(self, n: int = 1) -> None:
        """Count ``n`` items offered after their processor stopped (received and dropped)."""
        with self.lock:
            self.received += n
            self.dropped += n

    def count_dropped(self, n: int = 1) -> None:
        """Count ``n`` items that will never be delivered."""
        with self.lock:
            self.dropped += n

    def count_delivered(self, n: int = 1) -> None:
        """Count ``n`` items handed downstream."""
        with self.lock:
            self.delivered += n

    def register(self, queue: Sized) -> None:
        """Include ``queue``'s live depth in ``queued`` while it exists (``BoundedQueue`` only)."""
        with self.lock:
            self._queues.add(queue)


class BoundedQueue(Generic[_T]):
    """A FIFO queue of at most ``capacity`` items with an explicit overflow policy.

    One consumer; any number of producers (Rx serializes them anyway).
    Thread-safe. See the module docstring for the model.

    Args:
        capacity: The most items queued at once; ``None`` = unbounded (its
            depth still shows in ``high_watermark``).
        overflow: ``"block"``, ``"drop_newest"``, ``"drop_oldest"`` or ``"error"``.
        processor: The owning processor's name (for ``BackpressureError``).
        counters: Shared counters (whose lock the queue uses); default: private ones.
        on_drop: Receives each item dropped by the overflow policy (the refused
            newest item or the evicted oldest one), on the producer's thread,
            outside the lock. An exception from it propagates out of ``put``
            once the queue is consistent again.
        scheduler: The scheduler the consumer runs on; a virtual-time or
            same-thread scheduler makes a full ``"block"`` queue raise, and an
            ``AsyncIOScheduler`` makes it raise for a synchronous producer on
            that scheduler's loop.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: ``capacity < 1`` or an unknown ``overflow``.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_consumer",
        "_consumer_waiting",
        "_counters",
        "_held",
        "_items",
        "_limit",
        "_lock",
        "_loop",
        "_low",
        "_not_empty",
        "_not_full",
        "_paused",
        "_producers_waiting",
        "_refusing",
        "_released",
        "_resume",
        "_same_thread",
        "_sealed",
        "_wake_at",
        "capacity",
        "on_drop",
        "overflow",
        "processor",
    )

    def __init__(
        self,
        capacity: int | None,
        *,
        overflow: Overflow = "block",
        processor: str,
        counters: QueueCounters | None = None,
        on_drop: Callable[[_T], object] | None = None,
        scheduler: abc.SchedulerBase | None = None,
    ) -> None:
        self.capacity = _validate.optional_integer("capacity", capacity)
        self.overflow: Overflow = _validate.choice("overflow", overflow, OVERFLOW_POLICIES)
        self.processor = processor
        self.on_drop = _validate.optional_function("on_drop", on_drop)
        self._counters = counters if counters is not None else QueueCounters()
        self._same_thread = isinstance(scheduler, _SAME_THREAD_SCHEDULERS)
        self._loop = scheduler_loop(scheduler)  # the consumer's event loop, if any
        self._items: deque[_T] = deque()
        self._lock = self._counters.lock
        self._not_full = threading.Condition(self._lock)
        self._not_empty = threading.Condition(self._lock)
        self._closed = False
        self._sealed = False
        self._refusing = False  # closed or sealed: every put is refused
        # The fast path's one test: the capacity, or -1 once refusing.
        self._limit = _NO_LIMIT if self.capacity is None else self.capacity
        # The consumer's Thread object, not its ident: a finished thread's ident
        # is soon given to a new thread, which must not inherit the claim.
        self._consumer: threading.Thread | None = None
        # Set by a waiting consumer, cleared by the one put that notifies it: the
        # puts that follow before the consumer runs again skip the notify.
        self._consumer_waiting = False
        self._producers_waiting = 0
        # Items taken with pop_all(hold=True) keep their slot until release():
        # ``_held`` is written under the lock, ``_released`` without it, both
        # only by the consumer thread (single writer), so release() is lock-free.
        self._held = 0
        self._released = 0
        self._wake_at = _NO_LIMIT  # release() wakes producers once _released reaches it
        # Blocked producers are woken at the first free slot. (Waking them only
        # once half the queue is free was measured: no faster, since the GIL
        # already lets a woken producer refill every free slot in one go.)
        self._resume = 0 if self.capacity is None else self.capacity - 1
        # Async producers paused by this queue, resumed once the depth is down to
        # the low watermark: a quarter of the capacity free, so that a resumed
        # producer has room for a run of pushes rather than one push per pause,
        # and the queue still holds three quarters of its items while the
        # producer takes its time to bring the next one (a fetch, a sleep).
        self._paused: list[_pause.FlowControl] = []
        self._low = 0 if self.capacity is None else self.capacity - max(1, self.capacity // 4)
        self._counters.register(self)

    @property
    def counters(self) -> QueueCounters:
        """The counters this queue reports to."""
        return self._counters

    def __len__(self) -> int:
        """Items queued, including taken-and-held ones not yet released."""
        return len(self._items) + self._held - self._released

    def _depth(self) -> int:
        return len(self._items) + self._held - self._released

    def _full(self) -> bool:
        return self.capacity is not None and self._depth() >= self.capacity

    def _error(self, reason: str) -> BackpressureError:
        """Seal the queue and build the error that fails its processor (lock held)."""
        self._sealed = self._refusing = True
        self._limit = -1
        self._resume_flows()  # a paused producer finds the queue refusing, not stuck
        return self._make_error(reason)

    def _make_error(self, reason: str) -> BackpressureError:
        capacity = -1 if self.capacity is None else self.capacity
        return BackpressureError(
            f"processor {self.processor!r}: queue full (capacity {capacity}); {reason}",
            processor=self.processor,
            capacity=capacity,
        )

    # -- may this thread wait? -----------------------------------------------

    def wait_error(self) -> BackpressureError | None:
        """The error to fail with instead of waiting for room here, or ``None`` if it is safe.

        The one place that decides whether the calling thread may block on
        this queue (``put`` asks it before blocking): not when the scheduler
        runs on the producer's thread or in virtual time, not when the calling
        thread is the consumer (``claim_consumer``, ``draining``) or runs the
        consumer's event loop, and not when waiting would close a cycle of
        threads blocked on each other's queues. ``None`` also when ``put``
        would pause the calling async producer rather than wait. The message
        names the processor, its capacity, the situation and the fix. Calling
        it does not change the queue; call it without holding the queue's lock
        (nor its counters' lock, which is the same).
        """
        me = threading.current_thread()
        flow = _pause.current()
        with self._lock:
            if flow is not None and flow not in self._paused:
                return None  # put() would pause this async producer: nobody waits
            reason = self._hazard(me, flow)
            if reason is None:
                with _WAITS_LOCK:
                    reason = self._cycle(me)
        return None if reason is None else self._make_error(reason)

    def _hazard(self, me: threading.Thread, flow: _pause.FlowControl | None) -> str | None:
        """Why ``me`` may not wait for room, cycles aside; ``None`` if it may."""
        if self._same_thread:
            return _VIRTUAL_TIME
        if self._consumer is me or (self._loop is not None and running_loop() is self._loop):
            if flow is not None:
                return _PAUSED_PUSH
            if running_loop() is not None:
                return _LOOP_THREAD
            return _SAME_THREAD
        return None

    def _cycle(self, me: threading.Thread) -> str | None:
        """Why ``me`` waiting here would close a cycle of blocked threads (``_WAITS_LOCK`` held).

        Follows this queue's consumer to the queue it is blocked on, that
        queue's consumer to the next, and so on: a chain, since a thread waits
        on one queue at a time and a queue has one consumer.
        """
        path: list[BoundedQueue[Any]] = [self]
        queue: BoundedQueue[Any] = self
        while True:
            consumer = queue._consumer
            if consumer is None:
                return None
            if consumer is me:
                break
            blocked_on = _WAITING_ON.get(consumer)
            if blocked_on is None or blocked_on in path:
                return None
            path.append(blocked_on)
            queue = blocked_on
        stages = ", drained by a thread waiting for ".join(repr(q.processor) for q in path)
        return (
            "blocking would deadlock: a feedback cycle through queueing stages (this thread "
            f"would wait for {stages}, drained by this thread); use a larger capacity, a "
            "dropping_buffer or sliding_buffer, or break the feedback with a thread boundary"
        )

    # -- producer side -------------------------------------------------------

    def put(self, item: _T) -> bool:
        """Offer ``item``; return ``True`` if it was queued.

        ``False`` means it was dropped: refused by ``"drop_newest"``, or the
        queue is closed or failed. ``"drop_oldest"`` evicts the oldest queued
        item instead (handed to ``on_drop``) and returns ``True``. ``"block"``
        waits for room, or until ``close``.

        Raises:
            BackpressureError: The queue is full under ``"error"``, or under
                ``"block"`` when waiting would deadlock. The item counts as
                dropped and the queue refuses every later item.
        """
        with self._lock:
            depth = len(self._items) + self._held - self._released
            if depth < self._limit:  # the fast path: room, and not refusing
                self._items.append(item)
                counters = self._counters
                counters.received += 1
                if depth >= counters.high_watermark:
                    counters.high_watermark = depth + 1
                if self._consumer_waiting:
                    self._consumer_waiting = False
                    self._not_empty.notify()
                return True
            queued, dropped = self._put_full(item)
        if dropped and self.on_drop is not None:
            self.on_drop(dropped[0])
        return queued

    def _put_full(self, item: _T) -> tuple[bool, list[_T]]:
        """``put`` on a full queue, lock held: apply the overflow policy.

        Returns whether ``item`` was queued, and the item to hand to
        ``on_drop`` (at most one) once the lock is released.
        """
        counters = self._counters
        policy = self.overflow
        if self._refusing or policy != "block":
            counters.received += 1  # a blocked put counts once it is resolved
        if self._refusing:
            counters.dropped += 1
            return False, []
        if policy == "drop_newest":
            counters.dropped += 1
            return False, [item]
        if policy == "drop_oldest":
            # Full implies a queued item: hold=True is refused under drop_oldest.
            evicted = self._items.popleft()
            self._items.append(item)
            counters.dropped += 1
            return True, [evicted]
        if policy == "error":
            counters.dropped += 1
            raise self._error("overflow='error'")
        return self._put_blocking(item)

    def _put_blocking(self, item: _T) -> tuple[bool, list[_T]]:
        """``put`` on a full ``"block"`` queue, lock held: pause, wait for room, or raise.

        An async producer is paused (``_overdraw``); any other producer waits
        for room unless waiting would deadlock (``_hazard``, ``_cycle``).
        """
        counters = self._counters
        me = threading.current_thread()
        flow = _pause.current()
        if flow is not None and flow not in self._paused:
            self._overdraw(item, flow)
            return True, []
        reason = self._hazard(me, flow)
        if reason is None:
            with _WAITS_LOCK:  # check and record at once: of two closing a cycle, one sees it
                reason = self._cycle(me)
                if reason is None:
                    _WAITING_ON[me] = self
        if reason is not None:
            counters.received += 1
            counters.dropped += 1
            raise self._error(reason)
        self._producers_waiting += 1
        try:
            while not self._closed:
                # Arm release()'s lock-free check *before* re-checking for room:
                # wake when the queue has drained to ``_resume`` items. While
                # producers wait, pop_all(hold=True) only moves items from the
                # deque to the held count, so the target stays right.
                self._arm()
                if not self._full():
                    break
                self._not_full.wait()
        finally:
            self._producers_waiting -= 1
            self._arm()
            with _WAITS_LOCK:
                del _WAITING_ON[me]
        counters.received += 1
        if self.closed:  # woken by close(), not by room
            counters.dropped += 1
            return False, []
        self._items.append(item)
        depth = self._depth()
        if depth > counters.high_watermark:
            counters.high_watermark = depth
        if self._consumer_waiting:
            self._consumer_waiting = False
            self._not_empty.notify()
        return True, []

    def _overdraw(self, item: _T, flow: _pause.FlowControl) -> None:
        """Take ``item`` over capacity and pause the async producer that pushed it (lock held)."""
        counters = self._counters
        counters.received += 1
        self._items.append(item)
        depth = self._depth()
        if depth > counters.high_watermark:
            counters.high_watermark = depth
        self._paused.append(flow)
        flow.pause(self)
        self._arm()
        if self._consumer_waiting:
            self._consumer_waiting = False
            self._not_empty.notify()

    def _arm(self) -> None:
        """Point ``release``'s lock-free check at the depth someone waits for (lock held)."""
        target = self._resume if self._producers_waiting else -1
        if self._paused and self._low > target:
            target = self._low
        self._wake_at = _NO_LIMIT if target < 0 else len(self._items) + self._held - target

    def _on_room(self) -> None:
        """The depth went down: wake producers and resume flows that it concerns (lock held)."""
        depth = self._depth()
        if self._producers_waiting and depth <= self._resume:
            self._not_full.notify_all()
        if self._paused and depth <= self._low:
            self._resume_flows()
        self._arm()

    def _resume_flows(self) -> None:
        """Resume every async producer this queue paused (lock held)."""
        paused, self._paused = self._paused, []
        for flow in paused:
            flow.resume(self)

    # -- consumer side -------------------------------------------------------

    def claim_consumer(self, _scheduler: object = None, _state: object = None) -> None:
        """Declare the calling thread the consumer: a full ``put()`` from it never blocks.

        The optional arguments make it a scheduled action:
        ``scheduler.schedule(queue.claim_consumer)`` claims the scheduler's
        thread before any item comes.
        """
        self._consumer = threading.current_thread()

    def release_consumer(self) -> None:
        """Withdraw the calling thread's claim; a claim made since by another thread stays.

        For a consumer role handed from thread to thread (whoever owns the work
        at the moment): claim on taking it, release on letting go.
        """
        if self._consumer is threading.current_thread():
            self._consumer = None

    @contextlib.contextmanager
    def draining(self) -> Generator[None]:
        """Claim the calling thread as the consumer for the ``with`` block, then restore the claim.

        For a consumer that is not one fixed thread (whichever thread hands
        results on at the moment): inside the block a full ``put()`` from this
        thread raises instead of blocking, and a producer about to block here
        follows this thread in the cycle check.
        """
        previous = self._consumer
        self._consumer = threading.current_thread()
        try:
            yield
        finally:
            self._consumer = previous

    def pop(self) -> _T:
        """Take the oldest item without blocking; wake a blocked producer.

        Raises:
            IndexError: The queue is empty.
        """
        with self._lock:
            if not self._items:
                raise IndexError("pop from an empty BoundedQueue")
            item = self._items.popleft()
            if self._producers_waiting or self._paused:
                self._on_room()
            return item

    def pop_all(self, *, hold: bool = False) -> list[_T]:
        """Take everything queued, oldest first, without blocking (may be empty).

        Args:
            hold: Keep the taken items' slots (and count them as queued) until
                the consumer hands each one on and calls ``release``. A
                consumer that works through a batch one item at a time uses
                this so that only the item in hand is out of the queue. Not
                allowed under ``"drop_oldest"`` (held items cannot be evicted).

        Raises:
            ValueError: ``hold=True`` on a ``"drop_oldest"`` queue.
        """
        if hold and self.overflow == "drop_oldest":
            raise ValueError("pop_all(hold=True) is not supported with overflow='drop_oldest'")
        with self._lock:
            items = list(self._items)
            self._items.clear()
            if hold:
                self._held += len(items)
            elif self._producers_waiting or self._paused:
                self._on_room()
            return items

    def release(self, n: int = 1) -> None:
        """Free the slots of ``n`` items taken with ``pop_all(hold=True)`` (consumer only).

        Lock-free unless a producer is waiting for room or an async producer
        is paused.
        """
        self._released += n
        if self._released >= self._wake_at:
            with self._lock:
                self._on_room()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until there are items to take (``True``), or close/timeout (``False``).

        Items left in a closed queue still count: ``wait`` returns ``True``
        until they are taken.
        """
        with self._lock:
            if self._items:
                return True
            if self._closed:
                return False
            try:
                self._not_empty.wait_for(self._ready, timeout)
            finally:
                self._consumer_waiting = False
            return bool(self._items)

    def _ready(self) -> bool:
        """``wait``'s predicate (lock held): asks the next put to notify while not ready."""
        if self._items or self._closed:
            return True
        self._consumer_waiting = True
        return False

    def delivered(self, n: int = 1) -> None:
        """Report ``n`` items handed downstream (for ``stats().delivered``)."""
        if n:
            self._counters.count_delivered(n)

    # -- lifecycle -----------------------------------------------------------

    @property
    def blocked_producers(self) -> int:
        """How many producers are waiting for room right now."""
        return self._producers_waiting

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def close(self) -> None:
        """Refuse further items; wake blocked producers and the consumer, resume paused ones.

        Queued items stay takeable; see ``discard``.
        """
        with self._lock:
            self._closed = self._refusing = True
            self._limit = -1
            self._not_full.notify_all()
            self._not_empty.notify_all()
            self._resume_flows()

    def discard(self, held: int = 0) -> int:
        """Throw away everything queued, counted as dropped (``on_drop`` is not called).

        Args:
            held: Items the consumer took with ``pop_all(hold=True)`` and will
                not hand on; only the consumer thread may pass it.

        Returns:
            How many items were discarded.
        """
        with self._lock:
            n = len(self._items) + held
            self._items.clear()
            if held:
                self._released += held
            if self._producers_waiting or self._paused:
                self._on_room()
            self._counters.dropped += n
        return n
