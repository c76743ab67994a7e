"""One item at a time, with scheduled retries: the loop behind the resilience processors.

``retry_``, ``dead_letter`` and ``circuit_breaker`` share it.

Each subscription processes its items strictly in order, one at a time. An item
may need several calls of the user function, separated by waits scheduled on the
scheduler (never slept), and a call may return a coroutine that completes later
on an event loop. Items that arrive meanwhile wait in the processor's bounded
queue (``rxstreamz._queue``).

Whoever holds the item in progress is its *owner*, and holds the owner token
(taken without blocking, never waited for): the upstream thread for an item that
found the processor idle, the timer thread after a scheduled wait, the event
loop's thread after a coroutine. Only the owner calls the user function, takes
items from the queue and emits downstream, so emissions are serialized and no
lock is held while calling out. When the owner is done with an item it takes the
next one from the queue; when the queue is empty it lets go, then looks again
(an item may have arrived in between), or, if upstream has completed or failed,
sends the completion (or the upstream error) downstream. On the success path an
item costs no lock: the token is a one-element list, taken by an atomic
``pop`` and given back by ``append``.

A processor plugs in a ``Step``: how to make an item's first call (``call``,
which may ask for the slow path: ``admit`` first, then ``fn``), what to count
on success, and what a failure means (wait and retry, give up and go on, or
fail the stream). Its operator class derives from ``Operator``, which builds
each subscription's queue and step and a ``SequentialRun``.

Blocking never deadlocks: the queue decides (``BoundedQueue.wait_error``), and
its ``BackpressureError`` (with the queue's message) fails the stream after
the items queued before. The owner claims the queue's consumer role while it
works on a bounded queue (``claim_consumer``) and gives it up when it parks
(``release_consumer``), which is what the queue needs to tell a producer that
would wait for room only it could make (the owner's own thread, fed back by
downstream or by ``fn``; the ``AsyncIOScheduler`` loop that runs the owner's
timers and coroutines; a cycle of queueing stages) from one that may wait. An
async producer on the loop is paused, not failed.

Every item is accounted for (``Counts``, one row per subscription, summed by
the operator's ``Ledger``; the queue counts the items that waited):

```text
received == succeeded + failed + dropped + queued + in_flight
```

An item is ``dropped`` when it was queued, in progress or waiting for a retry
(or a coroutine) as the subscription was disposed or failed. The row is
written without a lock by the owner; once the subscription has stopped, the
last holder of the owner token retires it (and never lets go), so no count
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
from typing import Any, ClassVar, Final, Generic, TypeVar, cast

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable
from reactivex.observer import AutoDetachObserver
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


class _Gated:
    """The type of ``GATED``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "GATED"


GATED: Final = _Gated()
"""Returned by ``Step.call`` (without calling ``fn``) to send the item through
``Step.admit`` and then ``Step.fn``."""


class Step(ABC, Generic[_T, _R]):
    """What one processor does with each item; one instance per subscription.

    Every hook runs on the item's owner (never two at once for one subscription).
    An exception raised by a hook fails the stream with that exception.
    """

    __slots__ = ("call", "fn")

    watches_success: ClassVar[bool] = False
    """Whether ``succeeded`` is called after a successful call of ``fn``."""

    def __init__(self, fn: Callable[[_T], _R | Coroutine[Any, Any, _R]]) -> None:
        self.fn = fn  # the user function, for the calls after the first
        # An item's first call: ``fn`` itself, or a guard around it that does
        # its own accounting for a synchronous success (``succeeded`` is then
        # not called for it) or returns GATED without calling ``fn``.
        self.call: Callable[[_T], Any] = fn

    def admit(self, item: _T) -> Exception | None:
        """After ``call`` returned GATED: an exception to reject ``item`` with, or ``None``."""
        del item
        return None

    def succeeded(self, item: _T) -> None:
        """React to a successful call of ``fn``, or of a coroutine (its result is emitted next)."""
        del item

    @abstractmethod
    def failed(self, item: _T, error: Exception, attempts: int) -> Verdict:
        """Decide what the failure of call number ``attempts`` means (0: rejected)."""

    def failed_fatally(self, item: _T) -> None:
        """Count a call that failed with a ``BaseException`` beyond ``Exception``.

        The stream fails with it whatever the step would decide, so there is
        no verdict to give; this only keeps the counts honest.
        """
        del item

    def dispose(self) -> None:
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
    """Base of the resilience operators: one ``SequentialRun`` per subscription.

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
            return SequentialRun(observer, clock, queue, self._step(clock), self._ledger).subscribe(
                source, scheduler
            )

        return Observable(subscribe)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class _Running:
    """Stands for a downstream observer that is not an ``AutoDetachObserver``."""

    __slots__ = ()
    is_stopped: Final = False


_RUNNING: Final = _Running()


class SequentialRun(Generic[_T, _R]):
    """One subscription of a resilience operator: its items, one at a time, by ``step``.

    Args:
        observer: The downstream observer.
        clock: The scheduler for waits and for coroutines (``AsyncIOScheduler``).
        queue: Where items wait behind the one in progress.
        step: The processor's per-item logic.
        ledger: Where this subscription counts what happens to its items.
    """

    __slots__ = (
        "_awaiter",
        "_bounded",
        "_closed",
        "_error",
        "_flushing",
        "_ledger",
        "_lock",
        "_observer",
        "_on_success",
        "_owner",
        "_parked",
        "_queue",
        "_row",
        "_scheduler",
        "_step",
        "_stopped",
        "_timer",
        "_upstream",
        "_waiting",
    )

    def __init__(
        self,
        observer: abc.ObserverBase[_R],
        clock: abc.SchedulerBase,
        queue: BoundedQueue[_T],
        step: Step[_T, _R],
        ledger: Ledger[Counts],
    ) -> None:
        self._observer = observer
        self._scheduler = clock
        self._queue = queue
        self._step = step
        self._ledger = ledger
        self._row = ledger.open()
        self._lock = threading.Lock()  # guards the end-of-stream flags below
        # The owner token: taken (pop) without blocking by the upstream thread
        # that finds the processor idle, kept across a scheduled wait or a
        # running coroutine (whose callback carries on), given back (append)
        # when the queue is empty, by whichever thread holds it then. Once the
        # subscription has stopped, whoever holds it last retires the counts
        # and never gives it back.
        self._owner: list[None] = [None]
        # One token per item put in the queue, taken by the owner before the item:
        # deque appends and pops are atomic, so "is anything waiting?" needs no lock.
        self._waiting: deque[None] = deque()
        # One token while the item in progress waits for a timer or a coroutine:
        # whoever pops it (the callback carrying on, or dispose counting the item
        # as dropped) settles the item, exactly once (list.pop is atomic).
        self._parked: list[None] = []
        self._closed = False  # no more input is accepted
        self._flushing = False  # input closed: process what is queued, then complete or fail
        self._error: Exception | None = None  # to forward once idle; None: complete
        self._stopped = False  # terminal notification sent, or disposed
        self._timer = SerialDisposable()
        self._upstream = SingleAssignmentDisposable()
        self._awaiter = Awaiter(clock)
        # Only a full queue asks who its consumer is, and an unbounded one is never
        # full: the owner claims the consumer role (so that a producer on its
        # thread, fed back by downstream or by fn, fails rather than waits for
        # itself) only when the queue is bounded.
        self._bounded = queue.capacity is not None
        self._on_success = step.succeeded if step.watches_success else None

    def subscribe(
        self, source: Observable[_T], scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        """Subscribe to ``source`` (passing it ``scheduler``); return the subscription.

        Disposing it cancels the pending wait or coroutine, releases the
        queue's blocked producer and disposes upstream.
        """
        self._upstream.disposable = source.subscribe(
            self._hot_on_next(), self._close_input, self._input_completed, scheduler=scheduler
        )
        return Disposable(self.dispose)

    # -- the hot path ----------------------------------------------------------------

    def _hot_on_next(self) -> Callable[[_T], None]:
        """Build the upstream ``on_next``, the one closure.

        An item that finds the processor idle is called and emitted right
        here, without a lock; anything else goes to a method.
        """
        take, give_back = self._owner.pop, self._owner.append
        waiting = self._waiting
        row = self._row
        call = self._step.call
        # The subscriber's AutoDetachObserver is inlined (as in _fusion): its
        # on_next only checks is_stopped before calling the function it wraps.
        observer: Any = self._observer
        emit: Callable[[_R], None]
        if type(observer) is AutoDetachObserver:
            emit = cast(Callable[[_R], None], observer._on_next)  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType]
        else:
            emit, observer = observer.on_next, _RUNNING
        claim = self._queue.claim_consumer if self._bounded else None
        run = self

        def on_next(item: _T) -> None:
            if run._closed:  # after dispose or our own failure: counted, not taken
                run._queue.counters.count_refused()
                return
            try:
                take()
            except IndexError:  # busy with another item: queue behind it
                run._enqueue(item)
                return
            if waiting:  # older items wait (an owner just let go): queue behind them
                give_back(None)
                run._enqueue_behind_waiting(item)
                return
            if claim is not None:
                claim()
            row.received += 1
            try:
                result = call(item)
            except Exception as exc:
                if run._settle(item, exc, 1):
                    run._drain()
                return
            except BaseException as exc:
                if run._fail_fatally(item, exc):
                    raise
                return
            if result is GATED or type(result) is CoroutineType or run._stopped:
                if run._after_call(item, 1, cast(object, result), hooked=False):
                    run._drain()
                return
            row.succeeded += 1
            if not observer.is_stopped:
                emit(result)
            # _drain(), inlined for the common case: nothing waits, input open.
            if waiting or run._closed:
                run._drain()
                return
            give_back(None)
            # An item (or the completion, or a dispose) may have come after the check
            # and found us busy: whoever takes the token now handles it.
            if (waiting or run._closed) and run._own():
                run._drain()

        return on_next

    # -- the owner token -------------------------------------------------------------

    def _take(self) -> bool:
        """Take the owner token if it is free."""
        try:
            self._owner.pop()
        except IndexError:
            return False
        return True

    def _own(self) -> bool:
        """Take the owner token if it is free, and claim the queue's consumer role."""
        if not self._take():
            return False
        if self._bounded:
            self._queue.claim_consumer()
        return True

    # -- items -----------------------------------------------------------------------

    def _enqueue_behind_waiting(self, item: _T) -> None:
        """Queue ``item`` behind older waiting items, having given the token back."""
        if self._stopped and self._take():
            self._retire()  # disposed while we held the token: nobody else will
        self._enqueue(item)

    def _enqueue(self, item: _T) -> None:
        """Queue ``item``; take it on at once if the owner let go meanwhile."""
        try:
            # May block while the owner works (max_pending); the queue fails
            # instead where nobody could make room (the owner's own thread, the
            # loop that runs its waits, a cycle of queues), and pauses an async
            # producer on the loop rather than blocking it.
            accepted = self._queue.put(item)
        except BackpressureError as exc:
            self._close_input(exc)  # deliver what was queued before, then fail with it
            self._upstream.dispose()
            return
        if not accepted:  # disposed meanwhile: counted by the queue
            return
        self._waiting.append(None)
        if self._own():
            self._drain()  # the owner let go while we were putting

    def _drain(self) -> None:
        """Owner: process queued items, then let go (or, input closed, complete or fail)."""
        waiting = self._waiting
        while not self._stopped:
            if waiting:
                waiting.popleft()
                try:
                    item = self._queue.pop()  # only the owner takes items
                except IndexError:  # discarded by a dispose on another thread
                    continue
                self._queue.delivered()
                if not self._call(item, 1, self._step.call):
                    return  # parked on a wait or a coroutine, or stopped
                continue
            if self._flushing:
                self._complete_or_fail()
                return
            # The claim stays while idle: nobody waits on an empty queue, and
            # whoever takes the owner role next claims it again.
            self._owner.append(None)
            # An item (or the completion, or a dispose) may have come after the check
            # and found us busy: whoever takes the token now handles it.
            if not (waiting or self._flushing or self._stopped) or not self._own():
                return
        self._retire()

    def _call(self, item: _T, number: int, function: Callable[[_T], object]) -> bool:
        """Make call number ``number`` of ``item``; True if it is done and the owner may go on."""
        try:
            result = function(item)
        except Exception as exc:
            return self._settle(item, exc, number)
        except BaseException as exc:
            if self._fail_fatally(item, exc):
                raise
            return False
        # A success through the step's own ``call`` is accounted for by it.
        return self._after_call(item, number, result, hooked=function is self._step.fn)

    def _after_call(self, item: _T, number: int, result: object, *, hooked: bool) -> bool:
        """A call returned ``result``; True if the item is done and the owner may go on."""
        if result is GATED:
            return self._admit(item)
        if type(result) is CoroutineType:
            self._park()
            coroutine = cast(Coroutine[Any, Any, _R], result)
            self._awaiter.submit(
                coroutine, lambda value, error: self._resume(item, number, value, error)
            )
            self._drop_parked_if_stopped()
            return False
        return self._succeed(item, cast(_R, result), hooked=hooked)

    def _admit(self, item: _T) -> bool:
        """Ask the step whether ``item`` may be called, then call ``fn`` (or reject it)."""
        try:
            rejection = self._step.admit(item)
        except Exception as exc:
            self._row.failed += 1
            self._fail(exc)
            return False
        if rejection is not None:
            return self._settle(item, rejection, 0)
        return self._call(item, 1, self._step.fn)

    def _succeed(self, item: _T, value: _R, *, hooked: bool) -> bool:
        """Count a success and emit its result; True if the owner may go on."""
        if self._stopped:  # disposed during the call: the result is dropped
            self._drop_in_hand()
            return False
        if hooked and self._on_success is not None:
            try:
                self._on_success(item)
            except Exception as exc:
                self._row.failed += 1
                self._fail(exc)
                return False
        self._row.succeeded += 1
        self._observer.on_next(value)
        return True

    def _settle(self, item: _T, error: Exception, attempts: int) -> bool:
        """Apply the step's verdict on a failure; True if the owner may go on."""
        if self._stopped:  # disposed during the call: no verdict, no dead letter
            self._drop_in_hand()
            return False
        try:
            verdict = self._step.failed(item, error, attempts)
        except Exception as exc:
            verdict = exc
        if verdict is None:
            self._row.failed += 1
            return True
        if isinstance(verdict, Exception):
            self._row.failed += 1
            self._fail(verdict)
            return False
        self._park()
        # Put the slot in place before scheduling: the timer may fire, and the
        # next wait be set, before schedule_relative returns on this thread.
        # A slot already replaced (or disposed) cancels what it is given.
        slot = SingleAssignmentDisposable()
        self._timer.disposable = slot
        slot.disposable = self._scheduler.schedule_relative(
            verdict, lambda _s, _st: self._retry(item, attempts + 1)
        )
        self._drop_parked_if_stopped()
        return False

    def _fail_fatally(self, item: _T, error: BaseException, what: str = "the call of fn") -> bool:
        """Owner: a call failed with a ``BaseException`` beyond ``Exception``: fail the stream.

        Returns whether the caller must raise it again (``KeyboardInterrupt``,
        ``SystemExit``), after the stream has failed.
        """
        self._row.failed += 1
        with contextlib.suppress(Exception):  # the stream fails with the BaseException anyway
            self._step.failed_fatally(item)
        self._fail(annotate(escaped(error, what), self._queue.processor, item))
        return isinstance(error, KeyboardInterrupt | SystemExit)

    # -- waits and coroutines --------------------------------------------------------

    def _park(self) -> None:
        """Owner: hand the item in progress to a timer or a coroutine's callback."""
        if self._bounded:
            self._queue.release_consumer()  # the thread that carries on claims it again
        self._parked.append(None)

    def _drop_parked_if_stopped(self) -> None:
        """Owner, after parking: if stopped meanwhile, settle the parked item here."""
        if self._stopped:
            try:
                self._parked.pop()
            except IndexError:  # dispose (or the callback) took it
                return
            self._drop_in_hand()

    def _unpark(self) -> bool:
        """A timer or a coroutine's callback: take the parked item back; False if dispose did."""
        try:
            self._parked.pop()
        except IndexError:  # disposed: counted as dropped there
            return False
        if self._bounded:
            self._queue.claim_consumer()
        if self._stopped:
            self._drop_in_hand()
            return False
        return True

    def _retry(self, item: _T, number: int) -> None:
        if not self._unpark():
            return
        self._row.retried += 1
        if self._call(item, number, self._step.fn):
            self._drain()

    def _resume(self, item: _T, number: int, value: Any, error: BaseException | None) -> None:
        if not self._unpark():
            return
        if error is None:
            going_on = self._succeed(item, value, hooked=True)
        elif isinstance(error, Exception):
            going_on = self._settle(item, error, number)
        else:  # the coroutine was cancelled from outside, or raised a BaseException
            self._fail_fatally(item, error, "the coroutine for an item")
            return
        if going_on:
            self._drain()

    # -- completion, failure, dispose -------------------------------------------------

    def _retire(self) -> None:
        """Fold this subscription's counts into the operator's (after its last write)."""
        self._ledger.retire(self._row)

    def _drop_in_hand(self) -> None:
        """Owner, once stopped: the item in progress will never be emitted."""
        self._row.dropped += 1
        self._retire()

    def _dispose_resources(self) -> None:
        self._timer.dispose()
        self._awaiter.dispose()
        self._queue.close()
        self._queue.discard()  # left behind by a failure or dispose: counted as dropped
        self._upstream.dispose()
        self._step.dispose()

    def _fail(self, error: Exception) -> None:
        """Owner: fail the stream with ``error`` (the item in progress is counted)."""
        with self._lock:
            if self._stopped:  # disposed meanwhile: the owner retires the counts
                self._retire()
                return
            self._stopped = self._closed = True
        self._dispose_resources()
        self._retire()
        self._observer.on_error(error)

    def _complete_or_fail(self) -> None:
        """Owner, input closed and nothing left: complete, or forward the upstream error."""
        with self._lock:
            if self._stopped:
                self._retire()
                return
            self._stopped = True
        self._dispose_resources()
        self._retire()
        if self._error is None:
            self._observer.on_completed()
        else:
            self._observer.on_error(self._error)

    def _close_input(self, error: Exception | None) -> None:
        """Upstream completed (``None``) or failed, or our queue overflowed: no more input.

        The items queued before are processed first; then the stream completes
        or fails with ``error``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = self._flushing = True
            self._error = error
        if self._own():
            self._drain()  # idle: now; otherwise the owner does it after the queue

    def _input_completed(self) -> None:
        self._close_input(None)

    def dispose(self) -> None:
        """Stop at once: cancel the wait or coroutine, drop what is held, dispose upstream."""
        with self._lock:
            self._stopped = self._closed = True
        self._dispose_resources()
        try:
            self._parked.pop()
        except IndexError:
            # Nothing parked: retire now if nobody is at work; otherwise the
            # owner retires once it sees ``stopped``.
            if self._take():
                self._retire()
            return
        self._row.dropped += 1  # the item that waited for a retry or a coroutine
        self._retire()


Done = Callable[[Any, BaseException | None], None]
"""Receives a coroutine's result, or the exception it ended with."""


class Awaiter:
    """Runs one subscription's coroutines to completion, one at a time.

    On the loop of an ``AsyncIOScheduler`` when that is the subscription's
    scheduler (the task is started through the scheduler, so on the loop's
    thread); otherwise on a private event loop in a thread of its own, started
    at the first coroutine and stopped by ``dispose``.
    """

    __slots__ = ("_coroutine", "_disposed", "_lock", "_loop", "_pending", "_scheduler")

    def __init__(self, scheduler: abc.SchedulerBase) -> None:
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._disposed = False
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
                if self._coroutine is None:  # disposed before the loop got to it
                    return
                task = asyncio.ensure_future(self._coroutine)
                self._coroutine = None
                self._pending = task
            task.add_done_callback(deliver)

        on_scheduler_loop = isinstance(self._scheduler, AsyncIOScheduler)
        with self._lock:
            if self._disposed:
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

    def dispose(self) -> None:
        """Cancel the coroutine in progress and stop the private loop, if any."""
        with self._lock:
            if self._disposed:
                return
            self._disposed = True
            pending, self._pending = self._pending, None
            coroutine, self._coroutine = self._coroutine, None
            loop, self._loop = self._loop, None
        if coroutine is not None:
            coroutine.close()
        if pending is not None:
            pending.cancel()
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
