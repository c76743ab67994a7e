"""One item at a time, with scheduled retries: the loop behind the resilience processors.

``retry_``, ``dead_letter`` and ``circuit_breaker`` share it.

Each subscription processes its items strictly in order, one at a time. An item
may need several calls of the user function, separated by waits scheduled on the
scheduler (never slept), and a call may return a coroutine that completes later
on an event loop. Items that arrive meanwhile wait in the processor's bounded
queue (``rxstreamz._queue``).

Whoever holds the item in progress is its *owner*, and holds the owner lock
(taken without blocking, never waited for): the upstream thread for an item that
found the processor idle, the timer thread after a scheduled wait, the event
loop's thread after a coroutine. Only the owner calls the user function, takes
items from the queue and emits downstream, so emissions are serialized and no
lock is held while calling out. When the owner finishes an item it takes the
next one from the queue; when the queue is empty it lets go, then looks again
(an item may have arrived in between), or, if upstream has ended, sends the
completion (or the upstream error) downstream. On the success path an item costs
one lock round trip.

A processor plugs in a ``Step``: what to check before the first call, how to
call, what to count on success, and what a failure means (wait and retry, give up
and go on, or fail the stream). Its operator class derives from ``Operator``,
which builds each subscription's queue and step and calls ``run``.

Blocking never deadlocks: the queue decides (``BoundedQueue.wait_error``).
The owner claims the queue's consumer role while it works on a bounded queue
(``claim_consumer``) and gives it up when it lets go or parks
(``release_consumer``), so a producer that would wait for room only it could
make (the owner's own thread, fed back by downstream or by ``fn``; the
``AsyncIOScheduler`` loop that runs the owner's timers and coroutines; a
virtual-time scheduler; a cycle of queueing stages whose drains wait on each
other) fails the stream with ``BackpressureError`` instead, after the items
queued before. An async producer on the loop is paused, not failed.

Every item is accounted for (``Counts``, one row per subscription, summed by
the operator's ``Ledger``; the queue counts the items that waited):

```text
received == succeeded + failed + dropped + queued + in_flight
```

An item is ``dropped`` when it was queued, in progress or waiting for a retry
(or a coroutine) as the subscription was disposed or failed. The row is
written without a lock by the owner; once the subscription has stopped, the
last holder of the owner lock retires it (and never lets go), so no count
comes after it is folded in. A call still running at dispose counts its item
as dropped when it returns; an item parked on a timer or a coroutine is
settled by whichever of the callback and dispose takes its token first.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import CoroutineType
from typing import Any, ClassVar, Generic, TypeVar, cast

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import Ledger, Row
from rxstreamz._asyncio import escaped, start_loop
from rxstreamz._failure import annotate
from rxstreamz._queue import BoundedQueue, QueueCounters
from rxstreamz.errors import BackpressureError

_T = TypeVar("_T")
_R = TypeVar("_R")

Verdict = float | Exception | None
"""What a failed call means: retry after this many seconds (``float``), fail the
stream with this exception, or ``None``: the item is done (skipped, dead-lettered)
and the next one may start."""


class Step(ABC, Generic[_T, _R]):
    """What one processor does with each item; one instance per subscription.

    Every hook runs on the item's owner (never two at once for one subscription).
    An exception raised by a hook fails the stream with that exception.
    """

    __slots__ = ("fn",)

    gated: ClassVar[bool] = False
    """Whether ``admit`` is called before an item's first call."""

    watches_success: ClassVar[bool] = False
    """Whether ``succeeded`` is called after a successful call."""

    def __init__(self, fn: Callable[[_T], _R | Coroutine[Any, Any, _R]]) -> None:
        self.fn = fn  # the user function, called directly on the hot path

    def admit(self, item: _T) -> Exception | None:
        """Return an exception to reject ``item`` without calling (attempts 0), or ``None``."""
        del item
        return None

    def succeeded(self, item: _T) -> None:
        """React to a successful call (its result is emitted next)."""
        del item

    @abstractmethod
    def failed(self, item: _T, error: Exception, attempts: int) -> Verdict:
        """Decide what the failure of call number ``attempts`` means (0: rejected)."""

    def aborted(self, item: _T) -> None:
        """Count a call that ended with a ``BaseException`` beyond ``Exception``.

        The stream fails with it whatever the step would decide, so there is
        no verdict to give; this only keeps the counts honest.
        """
        del item

    def close(self) -> None:
        """Release what the item in progress holds; the subscription is over."""


class Counts(Row):
    """One subscription's counts, written only by whoever holds its item in progress.

    ``received`` counts the items taken straight from upstream (the queue
    counts those that waited), ``dropped`` the items lost in progress (the
    queue counts those lost while waiting).
    """

    __slots__ = ("retried", "succeeded")
    retried: int
    succeeded: int


@dataclass(frozen=True, slots=True)
class Totals:
    """An operator's counts over every subscription, the queue's included."""

    received: int
    failed: int
    dropped: int
    succeeded: int
    retried: int
    queued: int
    high_watermark: int
    in_flight: int


class Operator(ABC, Generic[_T, _R]):
    """Base of the resilience operators: one ``run`` per subscription.

    Holds what every subscription shares: the name, the user function, the
    optional scheduler, the queue counters and the tallies. A subclass says
    how each subscription treats its items (``_step``).
    """

    def __init__(
        self,
        fn: Callable[[_T], Any],
        *,
        name: str,
        max_pending: int | None,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.max_pending = max_pending
        self._scheduler = _validate.scheduler(scheduler)
        self._queue_counters = QueueCounters()
        self._ledger = Ledger(Counts)

    def _totals(self) -> Totals:
        """Return the counts over every subscription, past and present."""
        queue = self._queue_counters.snapshot()
        counts = self._ledger.totals()
        succeeded, failed, lost = counts["succeeded"], counts["failed"], counts["dropped"]
        # Taken in hand: straight from upstream, or from the queue.
        taken = counts["received"] + queue.delivered
        return Totals(
            received=counts["received"] + queue.received,
            failed=failed,
            dropped=lost + queue.dropped,
            succeeded=succeeded,
            retried=counts["retried"],
            queued=queue.queued,
            high_watermark=queue.high_watermark,
            in_flight=max(0, taken - succeeded - failed - lost),
        )

    @abstractmethod
    def _step(self, clock: abc.SchedulerBase) -> Step[_T, _R]:
        """Return the per-item logic of a new subscription that runs on ``clock``."""

    def __call__(self, source: Observable[_T]) -> Observable[_R]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[_R], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.resolve(self._scheduler, scheduler)
            queue: BoundedQueue[_T] = BoundedQueue(
                self.max_pending,
                processor=self.name,
                counters=self._queue_counters,
                scheduler=clock,
            )
            return run(source, observer, clock, queue, self._step(clock), scheduler, self._ledger)

        return Observable(subscribe)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def run(
    source: Observable[_T],
    observer: abc.ObserverBase[_R],
    clock: abc.SchedulerBase,
    queue: BoundedQueue[_T],
    step: Step[_T, _R],
    subscribed: abc.SchedulerBase | None,
    ledger: Ledger[Counts],
) -> abc.DisposableBase:
    """Subscribe ``observer`` to ``source`` processed one item at a time by ``step``.

    Args:
        source: The upstream observable.
        observer: The downstream observer.
        clock: The scheduler for waits and for coroutines (``AsyncIOScheduler``).
        queue: Where items wait behind the one in progress.
        step: The processor's per-item logic.
        subscribed: The scheduler given to ``subscribe()``, passed upstream.
        ledger: Where this subscription counts what happens to its items.

    Returns:
        The subscription; disposing it cancels the pending wait or coroutine,
        releases the queue's blocked producer and disposes upstream.
    """
    lock = threading.Lock()  # guards the end-of-stream flags below
    # Held by whoever processes items: taken without blocking by the upstream
    # thread that finds the processor idle, kept across a scheduled wait or a
    # running coroutine (whose callback carries on), released when the queue is
    # empty. A threading.Lock may be released by another thread than its taker.
    # Once the subscription has stopped, whoever holds it last retires the
    # counts and never lets go.
    owner = threading.Lock()
    # One token per item put in the queue, taken by the owner before the item:
    # deque appends and pops are atomic, so "is anything waiting?" needs no lock.
    waiting: deque[None] = deque()
    # One token while the item in progress waits for a timer or a coroutine:
    # whoever pops it (the callback carrying on, or dispose counting the item
    # as dropped) settles the item, exactly once (list.pop is atomic).
    parked: list[None] = []
    closed = False  # no more input is accepted
    ended = False  # upstream (or our own queue) has ended the input
    ending: Exception | None = None  # the error to forward once idle; None: complete
    stopped = False  # terminal notification sent, or disposed
    timer = SerialDisposable()
    upstream = SingleAssignmentDisposable()
    awaiter = Awaiter(clock)
    row = ledger.open()
    counters = queue.counters
    fn = step.fn
    # Only a full queue asks who its consumer is, and an unbounded one is never
    # full: the owner claims the consumer role (so that a producer on its
    # thread, fed back by downstream or by fn, fails rather than waits for
    # itself) only when the queue is bounded.
    bounded = queue.capacity is not None
    claim, unclaim = queue.claim_consumer, queue.release_consumer
    admit = step.admit if step.gated else None
    on_success = step.succeeded if step.watches_success else None

    def shutdown() -> None:
        timer.dispose()
        awaiter.close()
        queue.close()
        queue.discard()  # left behind by a failure or dispose: counted as dropped
        upstream.dispose()
        step.close()

    def retire() -> None:
        """Fold this subscription's counts into the operator's (after its last write)."""
        ledger.retire(row)

    def drop_in_hand() -> None:
        """Owner, once stopped: the item in progress will never be emitted."""
        row.dropped += 1
        retire()

    def fail(error: Exception) -> None:
        """Owner: fail the stream with ``error`` (the item in progress is counted)."""
        nonlocal stopped, closed
        with lock:
            if stopped:  # disposed meanwhile: the owner retires the counts
                retire()
                return
            stopped = closed = True
        shutdown()
        retire()
        observer.on_error(error)

    def terminate(error: Exception | None) -> None:
        shutdown()
        retire()
        if error is None:
            observer.on_completed()
        else:
            observer.on_error(error)

    def park() -> None:
        """Owner: hand the item in progress to a timer or a coroutine's callback."""
        if bounded:
            unclaim()  # the thread that carries on claims the queue again
        parked.append(None)

    def parked_item_dropped() -> None:
        """Owner, after parking: if stopped meanwhile, settle the parked item here."""
        if stopped:
            try:
                parked.pop()
            except IndexError:  # dispose (or the callback) took it
                return
            drop_in_hand()

    def settle(item: _T, error: Exception, attempts: int) -> bool:
        """Apply the step's verdict on a failure; True if the owner may go on."""
        if stopped:  # disposed during the call: no verdict, no dead letter
            drop_in_hand()
            return False
        try:
            verdict = step.failed(item, error, attempts)
        except Exception as exc:
            row.failed += 1
            fail(exc)
            return False
        if verdict is None:
            row.failed += 1
            return True
        if isinstance(verdict, Exception):
            row.failed += 1
            fail(verdict)
            return False
        park()
        # Put the slot in place before scheduling: the timer may fire, and the
        # next wait be set, before schedule_relative returns on this thread.
        # A slot already replaced (or disposed) cancels what it is given.
        slot = SingleAssignmentDisposable()
        timer.disposable = slot
        slot.disposable = clock.schedule_relative(
            verdict, lambda _s, _st: retry(item, attempts + 1)
        )
        parked_item_dropped()
        return False

    def succeed(item: _T, value: _R) -> bool:
        """Count a success and emit its result; True if the owner may go on."""
        if stopped:  # disposed during the call: the result is dropped
            drop_in_hand()
            return False
        if on_success is not None:
            try:
                on_success(item)
            except Exception as exc:
                row.failed += 1
                fail(exc)
                return False
        row.succeeded += 1
        observer.on_next(value)
        return True

    def attempt(item: _T, number: int) -> bool:
        """Make one call; True if the item is finished and the owner may go on."""
        if number > 1:
            row.retried += 1
        try:
            result = fn(item)
        except Exception as exc:
            return settle(item, exc, number)
        except BaseException as exc:  # not swallowed, and the stream is not left wedged
            abort(item)
            fail(annotate(escaped(exc, "the call of fn"), queue.processor, item))
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return False
        if isinstance(result, CoroutineType):
            park()
            coroutine = cast(Coroutine[Any, Any, _R], result)
            awaiter.submit(coroutine, lambda value, error: resume(item, number, value, error))
            parked_item_dropped()
            return False
        if on_success is not None:
            return succeed(item, cast(_R, result))
        if stopped:  # succeed(), inlined: this is the hot path
            drop_in_hand()
            return False
        row.succeeded += 1
        observer.on_next(cast(_R, result))
        return True

    def abort(item: _T) -> None:
        """Owner: count a call that ended with a ``BaseException`` beyond ``Exception``."""
        row.failed += 1
        with contextlib.suppress(Exception):  # the stream fails with the BaseException anyway
            step.aborted(item)

    def start(item: _T) -> bool:
        if admit is not None:
            try:
                rejection = admit(item)
            except Exception as exc:
                row.failed += 1
                fail(exc)
                return False
            if rejection is not None:
                return settle(item, rejection, 0)
        return attempt(item, 1)

    def unpark() -> bool:
        """A timer or a coroutine's callback: take the parked item back; False if dispose did."""
        try:
            parked.pop()
        except IndexError:  # disposed: counted as dropped there
            return False
        if bounded:
            claim()
        if stopped:
            drop_in_hand()
            return False
        return True

    def retry(item: _T, number: int) -> None:
        if unpark() and attempt(item, number):
            drain()

    def resume(item: _T, number: int, value: Any, error: BaseException | None) -> None:
        if not unpark():
            return
        if error is None:
            going_on = succeed(item, value)
        elif isinstance(error, Exception):
            going_on = settle(item, error, number)
        else:  # the coroutine was cancelled from outside, or raised a BaseException
            abort(item)
            fail(annotate(escaped(error, "the coroutine for an item"), queue.processor, item))
            return
        if going_on:
            drain()

    def drain() -> None:
        """Owner: process queued items, then let go, or end the stream once input ended."""
        while not stopped:
            if waiting:
                waiting.popleft()
                try:
                    item = queue.pop()  # only the owner takes items
                except IndexError:  # discarded by a dispose on another thread
                    continue
                queue.delivered()
                if not start(item):
                    return  # parked on a wait or a coroutine, or stopped
                continue
            if ended:
                finish()
                return
            # The claim stays while idle: nobody waits on an empty queue, and
            # whoever takes the owner role next claims it again.
            owner.release()
            # An item (or the end, or a dispose) may have come after the check
            # and found us busy: whoever wins the lock now handles it.
            if not (waiting or ended or stopped) or not owner.acquire(False):
                return
            if bounded:
                claim()
        retire()

    def finish() -> None:
        nonlocal stopped
        with lock:
            if stopped:
                retire()
                return
            stopped = True
        terminate(ending)

    def end_input(error: Exception | None) -> None:
        nonlocal closed, ended, ending
        with lock:
            if closed:
                return
            closed = True
            ending = error
            ended = True
        if owner.acquire(False):
            if bounded:
                claim()
            drain()  # idle: end now; otherwise the owner ends after the queue

    def on_next(item: _T) -> None:
        if closed:  # after dispose or our own failure: counted, not taken
            counters.count_refused()
            return
        if owner.acquire(False):
            if not waiting:  # nothing older is waiting: process it right here
                if bounded:
                    claim()
                row.received += 1
                if attempt(item, 1) if admit is None else start(item):
                    drain()
                return
            owner.release()  # older items wait (an owner just let go): queue behind them
            if stopped and owner.acquire(False):
                retire()  # disposed while we held the lock: nobody else will
        try:
            # May block while the owner works (max_pending); the queue fails
            # instead where nobody could make room (the owner's own thread, the
            # loop that runs its waits, a cycle of queues), and pauses an async
            # producer on the loop rather than blocking it.
            accepted = queue.put(item)
        except BackpressureError as exc:
            end_input(exc)  # deliver what was queued before, then fail with it
            upstream.dispose()
            return
        if not accepted:  # disposed meanwhile: counted by the queue
            return
        waiting.append(None)
        if owner.acquire(False):
            if bounded:
                claim()
            drain()  # the owner let go while we were putting

    def dispose() -> None:
        nonlocal stopped, closed
        with lock:
            stopped = closed = True
        shutdown()
        try:
            parked.pop()
        except IndexError:
            # Nothing parked: retire now if nobody is at work; otherwise the
            # owner retires once it sees ``stopped``.
            if owner.acquire(False):
                retire()
            return
        row.dropped += 1  # the item that waited for a retry or a coroutine
        retire()

    upstream.disposable = source.subscribe(
        on_next, end_input, lambda: end_input(None), scheduler=subscribed
    )
    return Disposable(dispose)


Done = Callable[[Any, BaseException | None], None]
"""Receives a coroutine's result, or the exception it ended with."""


class Awaiter:
    """Runs one subscription's coroutines to completion, one at a time.

    On the loop of an ``AsyncIOScheduler`` when that is the subscription's
    scheduler (the task is started through the scheduler, so on the loop's
    thread); otherwise on a private event loop in a thread of its own, started
    at the first coroutine and stopped by ``close``.
    """

    __slots__ = ("_closed", "_coroutine", "_lock", "_loop", "_pending", "_scheduler")

    def __init__(self, scheduler: abc.SchedulerBase) -> None:
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: Any = None  # the Task or concurrent Future of the coroutine in progress
        self._coroutine: Coroutine[Any, Any, Any] | None = None  # submitted, not yet started

    def submit(self, coroutine: Coroutine[Any, Any, Any], done: Done) -> None:
        """Start ``coroutine``; ``done`` gets its outcome on the loop's thread."""

        def deliver(future: Any) -> None:
            if future.cancelled():
                done(None, asyncio.CancelledError())
                return
            error = future.exception()
            done(None if error is not None else future.result(), error)

        def begin(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
            with self._lock:
                if self._coroutine is None:  # closed before the loop got to it
                    return
                task = asyncio.ensure_future(self._coroutine)
                self._coroutine = None
                self._pending = task
            task.add_done_callback(deliver)

        on_scheduler_loop = isinstance(self._scheduler, AsyncIOScheduler)
        with self._lock:
            if self._closed:
                coroutine.close()
                return
            if on_scheduler_loop:
                self._coroutine = coroutine
                future = None
            else:
                if self._loop is None:
                    self._loop, _ = start_loop("rxstreamz-event-loop")
                future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
                self._pending = future
        if future is None:
            self._scheduler.schedule(begin)
        else:
            future.add_done_callback(deliver)

    def close(self) -> None:
        """Cancel the coroutine in progress and stop the private loop, if any."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending, self._pending = self._pending, None
            coroutine, self._coroutine = self._coroutine, None
            loop, self._loop = self._loop, None
        if coroutine is not None:
            coroutine.close()
        if pending is not None:
            pending.cancel()
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
