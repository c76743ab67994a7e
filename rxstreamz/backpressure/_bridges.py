"""Bridges between push (Rx) and pull (iterators, asyncio).

Four ways across the boundary:

```text
collect(obs)                -> list             run to completion, return items
to_iterator(obs)            -> Iterator         blocking pull, bounded (backpressure)
to_async_iterator(obs)      -> AsyncIterator    ``async for``, bounded (backpressure)
from_async_iterable(ait)    -> Observable       pull one item at a time on a loop
```

The push side of ``collect``, ``to_iterator`` and ``to_async_iterator`` runs on
a background *feeder* thread that subscribes inside a fresh RxPY trampoline
(``CurrentThreadScheduler``). So a synchronous source such as
``rx.from_iterable`` never runs on the consumer's thread, and disposing the
subscription stops it between two items, even while it is still looping inside
``subscribe()``. Whatever ends the feeder thread reaches the consumer as a
terminal event, a ``SystemExit`` raised by a user function included, so a
bridge never waits for ever on a thread that is gone.

The iterators hold at most ``maxsize`` items in a bounded queue with the
``"block"`` policy: when the consumer lags, the producer's ``on_next`` waits
for room. An iterator is returned once its subscription is in place, so a hot
source's items are queued from then on. Closing an iterator (``close()``,
``aclose()``, leaving a ``with`` block, or dropping the last reference to it)
disposes the subscription and releases a producer blocked in ``on_next``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable
from reactivex.scheduler import CurrentThreadScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxstreamz import _pause, _scheduling, _validate
from rxstreamz._asyncio import running_loop
from rxstreamz._queue import BoundedQueue, QueueCounters, QueueStats
from rxstreamz.errors import BackpressureError

__all__ = [
    "ObservableAsyncIterator",
    "ObservableIterator",
    "collect",
    "from_async_iterable",
    "to_async_iterator",
    "to_iterator",
]

_T = TypeVar("_T")

DEFAULT_MAXSIZE = 1024
"""Default bound of ``to_iterator`` / ``to_async_iterator``."""


def _check_observable(value: object) -> None:
    if not isinstance(value, Observable):
        raise TypeError(f"observable must be an Observable, got {type(value).__name__}")


def _checked_maxsize(observable: object, maxsize: object) -> int:
    """The arguments of ``to_iterator`` / ``to_async_iterator`` checked; ``maxsize`` returned."""
    _check_observable(observable)
    return _validate.integer("maxsize", maxsize)


# -- the feeder thread ----------------------------------------------------------------


class _Feeder(Generic[_T]):
    """Subscribes an observer on a thread of its own, inside a fresh trampoline.

    The subscription is created from an action on the thread's
    ``CurrentThreadScheduler``, so ``subscribe()`` returns (and its disposable
    is known) before a trampolined synchronous source starts its loop;
    ``dispose`` from any thread then stops that loop between two items.

    ``wait_started`` returns once the subscription is in place: ``subscribe()``
    has returned, or the source has already sent its first notification (a
    source that emits from inside ``subscribe()`` may never return from it
    while the consumer does not pull), or the thread has ended.

    Whatever escapes the thread instead of arriving through ``on_error`` (a
    ``SystemExit`` from a user function, a source that raises outside the Rx
    protocol) disposes the subscription and is handed to ``on_error``:
    ``KeyboardInterrupt`` and ``SystemExit`` as they are, so the consumer
    re-raises the same object, and any other ``BaseException`` that is not an
    ``Exception`` wrapped in a ``RuntimeError`` whose ``__cause__`` it is. So
    the consumer always gets a terminal event.
    """

    __slots__ = (
        "_observable",
        "_on_completed",
        "_on_error",
        "_on_exit",
        "_on_next",
        "_processor",
        "_started",
        "_subscription",
        "thread",
    )

    def __init__(
        self,
        observable: Observable[_T],
        on_next: Callable[[_T], None],
        on_error: Callable[[BaseException], None],
        on_completed: Callable[[], None],
        *,
        processor: str,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self._observable = observable
        self._on_next = on_next
        self._on_error = on_error
        self._on_completed = on_completed
        self._on_exit = on_exit
        self._processor = processor
        self._subscription = SingleAssignmentDisposable()
        self._started = threading.Event()
        # The pipeline runs in a copy of the creator's context (contextvars such
        # as tracing spans), as it would have on the creator's own thread.
        context = contextvars.copy_context()
        self.thread = threading.Thread(
            target=context.run, args=(self._run,), name=f"rxstreamz-{processor}", daemon=True
        )

    def start(self) -> None:
        """Start the feeder thread."""
        self.thread.start()

    def started(self) -> None:
        """Record that the subscription is in place (any thread, idempotent)."""
        self._started.set()

    def wait_started(self) -> None:
        """Block until the subscription is in place or the feeder thread has ended."""
        self._started.wait()

    def dispose(self) -> None:
        """Dispose the subscription (also before it exists: it is then disposed at once)."""
        self._subscription.dispose()

    def join(self) -> None:
        """Wait for the feeder thread to end, unless called from it."""
        if threading.current_thread() is not self.thread and self.thread.ident is not None:
            self.thread.join()

    def _run(self) -> None:
        try:
            CurrentThreadScheduler.singleton().schedule(self._subscribe)
        except BaseException as exc:  # outside the Rx protocol: still a terminal event
            self._subscription.dispose()
            if not isinstance(exc, Exception | KeyboardInterrupt | SystemExit):
                exc = _escaped(exc, self._processor)
            self._on_error(exc)
        finally:
            self._started.set()
            if self._on_exit is not None:
                self._on_exit()

    def _subscribe(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        if self._subscription.is_disposed:
            return
        self._subscription.disposable = self._observable.subscribe(
            self._on_next, self._on_error, self._on_completed
        )
        self._started.set()


def _escaped(error: BaseException, processor: str) -> RuntimeError:
    """Wrap a ``BaseException`` that left the feeder thread, for the consumer to raise."""
    problem = RuntimeError(f"{processor}: the pipeline ended with {error!r} on the feeder thread")
    problem.__cause__ = error
    return problem


# -- collect ----------------------------------------------------------------------------


def collect(observable: Observable[_T], timeout: _validate.Duration | None = None) -> list[_T]:
    """Run ``observable`` to completion and return its items.

    Blocks the calling thread until the pipeline completes; the pipeline itself
    runs on a feeder thread (see the module docstring), so ``collect`` also
    works inside another pipeline's callback and a ``timeout`` also stops a
    synchronous source.

    ```text
    --1--2--3--|
    collect(...)  ->  [1, 2, 3]
    ```

    Behavior:
        - Completion: returns every item, in order.
        - Error: the pipeline's exception object is raised here, unchanged.
        - Escape: a ``KeyboardInterrupt`` or ``SystemExit`` that leaves the
          feeder thread (raised by a user function of a synchronous
          processor, which does not catch it) disposes the subscription and is
          raised here, the same object; another ``BaseException`` that is not
          an ``Exception`` is raised as a ``RuntimeError`` whose ``__cause__``
          it is. Whichever terminal event comes first wins.
        - Timeout: the subscription is disposed, then ``TimeoutError`` is
          raised; a cooperative source stops at its next item.
        - An exception in the waiting thread (``KeyboardInterrupt``) disposes
          the subscription before it propagates.

    Examples:
        >>> import reactivex as rx
        >>> collect(rx.of(1, 2, 3))
        [1, 2, 3]

    Args:
        observable: The pipeline to run.
        timeout: Seconds (or a ``timedelta``) to wait at most, up to
            ``threading.TIMEOUT_MAX``; ``None`` waits forever.

    Returns:
        Every item, in order.

    Raises:
        TimeoutError: ``timeout`` passed before completion.
        TypeError: ``observable`` is not an ``Observable``, or ``timeout`` is
            not a number of seconds or a ``timedelta``.
        ValueError: ``timeout`` is not positive, not finite, or longer than
            ``threading.TIMEOUT_MAX``.
    """
    _check_observable(observable)
    limit = _validate.optional_duration("timeout", timeout)
    items: list[_T] = []
    failure: BaseException | None = None
    done = threading.Event()

    def on_error(exc: BaseException) -> None:
        nonlocal failure
        if not done.is_set():
            failure = exc
            done.set()

    feeder = _Feeder(observable, items.append, on_error, done.set, processor="collect")
    feeder.start()
    try:
        in_time = done.wait(limit)
    except BaseException:
        feeder.dispose()
        raise
    if not in_time:
        feeder.dispose()
        raise TimeoutError(f"collect: the pipeline did not complete within {limit:g} s")
    feeder.join()
    if failure is not None:
        raise failure
    return items


# -- to_iterator / to_async_iterator ------------------------------------------------------


class _Channel(Generic[_T]):
    """The state an iterator shares with its feeder; never refers to the iterator.

    Keeping the iterator out of every callback the feeder (and the source's
    threads) hold is what lets the iterator be garbage collected, and its
    finalizer dispose the subscription, while the producer still runs.
    """

    __slots__ = (
        "_error",
        "_exit_waiter",
        "_exited",
        "_lock",
        "_signalled",
        "_waiter",
        "closed",
        "consumer",
        "feeder",
        "parking",
        "queue",
        "source_done",
        "starting",
    )

    def __init__(
        self,
        observable: Observable[_T],
        maxsize: int,
        processor: str,
        counters: QueueCounters,
        *,
        asynchronous: bool,
    ) -> None:
        self.queue: BoundedQueue[_T] = BoundedQueue(
            maxsize, overflow="block", processor=processor, counters=counters
        )
        self._lock = threading.Lock()
        self.source_done = False  # completed, failed or overflowed; set before queue.close()
        self.closed = False  # the iterator was closed (or collected): stop at once
        self.consumer = 0  # thread id of the consumer, once claimed
        self.starting = True  # until the source's first notification (see _Feeder)
        self._error: BaseException | None = None
        # The async consumer parks on a future that the producer completes through
        # loop.call_soon_threadsafe. It raises ``parking`` and looks at the queue
        # once more before it parks, and the producer reads ``parking`` after
        # each put: one of the two always sees the other, so the producer takes
        # the lock only while the consumer may be parked. ``_signalled`` records
        # a move made before the future existed, so the consumer looks again.
        self.parking = False
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self._signalled = False
        self._exit_waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self._exited = False
        self.feeder = _Feeder(
            observable,
            self._on_next_async if asynchronous else self._on_next,
            self._on_error,
            self._on_completed,
            processor=processor,
            on_exit=self._on_exit,
        )

    # -- producer side (the feeder thread, or the source's own threads) --

    def _on_next(self, item: _T) -> None:
        if self.starting:  # emitted from inside subscribe(): the subscription is in place
            self.starting = False
            self.feeder.started()
        try:
            self.queue.put(item)  # blocks while the queue is full; False once closed
        except BackpressureError as exc:  # emitted on the consumer's own thread, queue full
            self.feeder.dispose()
            self._close(exc)

    def _on_next_async(self, item: _T) -> None:
        self._on_next(item)
        if self.parking:
            self._wake()

    def _on_error(self, exc: BaseException) -> None:
        self._close(exc)

    def _on_completed(self) -> None:
        self._close(None)

    def _close(self, error: BaseException | None) -> None:
        """The source ended (or overflowed): accept nothing more; the consumer takes the rest."""
        self.feeder.started()
        with self._lock:
            if self.source_done:
                return
            self._error = error
            self.source_done = True
        self.queue.close()  # wakes a waiting consumer; queued items stay takeable
        self._wake()

    def _on_exit(self) -> None:
        with self._lock:
            self._exited = True
            waiter, self._exit_waiter = self._exit_waiter, None
        if waiter is not None:
            _call_soon(waiter)

    def _wake(self) -> None:
        with self._lock:
            waiter, self._waiter = self._waiter, None
            self._signalled = waiter is None
        if waiter is not None:
            _call_soon(waiter)

    # -- consumer side --

    def claim(self) -> None:
        """Make the calling thread the queue's consumer (a put from it never blocks)."""
        self.consumer = threading.get_ident()
        self.queue.claim_consumer()

    def take(self) -> list[_T]:
        """Everything queued (each item keeps its slot until released); claims the thread."""
        if threading.get_ident() != self.consumer:
            self.claim()
        return self.queue.pop_all(hold=True)

    def error(self) -> BaseException | None:
        """Return the stream's error once (``None`` afterwards, or after completion)."""
        with self._lock:
            error, self._error = self._error, None
        return error

    def dispose(self) -> None:
        """Dispose the subscription and release a blocked producer (any thread, idempotent)."""
        self.closed = True
        self.feeder.dispose()
        self.queue.close()
        self.queue.discard()
        self._wake()

    def park(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None] | None:
        """Return a future the producer completes on its next move, or ``None`` if it moved."""
        future: asyncio.Future[None] = loop.create_future()
        waiter = (loop, future)  # allocated outside the lock (a GC pass must not run under it)
        with self._lock:
            if self._signalled or self.source_done or self.closed:
                self._signalled = False
                return None
            self._waiter = waiter
        return future

    def park_until_exit(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None] | None:
        """Return a future completed when the feeder thread ends, or ``None`` if it has."""
        future: asyncio.Future[None] = loop.create_future()
        waiter = (loop, future)
        with self._lock:
            if self._exited:
                return None
            self._exit_waiter = waiter
        return future


def _call_soon(waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]) -> None:
    loop, future = waiter
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Pull(Generic[_T]):
    """The consumer half shared by both iterators: batches taken from the queue.

    ``pop_all(hold=True)`` takes everything queued in one lock round-trip. The
    items of a batch keep their slots until the consumer comes back for the
    next batch, so the producer is never more than ``maxsize`` items ahead of
    the consumer, and a blocked producer resumes with room for a whole batch
    rather than one slot at a time: under the GIL, freeing slots one by one
    turns every item into a thread switch (measured 2.6 times slower).

    Handing out an item of the batch takes no lock: the consumer bumps
    ``_index`` and only then reads ``closed``. Closing (from any thread) sets
    ``closed`` first, then *settles* the batch under ``_lock``: the items
    before ``_index`` count as delivered, the rest as dropped. Because the
    two sides write and read in opposite orders, an item the consumer hands
    out is always one the settlement counted as delivered; a consumer that
    sees ``closed`` after bumping asks ``_kept`` whether its item was counted
    so. The slots are freed by whoever accounts for them, always under
    ``_lock``, so the queue's lock-free ``release`` still has one writer at a
    time.
    """

    __slots__ = (
        "__weakref__",
        "_batch",
        "_channel",
        "_counters",
        "_finalizer",
        "_index",
        "_kept",
        "_lock",
        "_settled",
    )

    def __init__(
        self, observable: Observable[_T], maxsize: int, processor: str, *, asynchronous: bool
    ) -> None:
        self._counters = QueueCounters()
        channel: _Channel[_T] = _Channel(
            observable, maxsize, processor, self._counters, asynchronous=asynchronous
        )
        self._channel = channel
        self._batch: list[_T] = []
        self._index = 0  # items of the batch handed out
        self._lock = threading.Lock()
        self._settled = False  # the batch was accounted for at close: nothing more is taken
        self._kept = 0  # items of the batch counted as delivered when it was settled
        self._finalizer = weakref.finalize(self, channel.dispose)
        channel.claim()
        channel.feeder.start()
        try:
            channel.feeder.wait_started()  # so that a hot source's next item is not missed
        except BaseException:  # interrupted while waiting: leave nothing running
            self._finalizer()
            raise

    def _refill(self) -> list[_T]:
        """Account for the batch handed out and take the next one (consumer thread).

        Returns the new batch with its first item already counted as handed
        out, or an empty list when nothing is queued right now or the
        iterator was closed.
        """
        channel = self._channel
        queue = channel.queue
        with self._lock:
            if self._settled:
                return []
            if self._index:
                queue.delivered(self._index)
                queue.release(self._index)
            self._batch = batch = channel.take()
            self._index = 1 if batch else 0
        return batch

    def _keeps(self, index: int) -> bool:
        """Whether item ``index``, handed out as the iterator was closed, may be returned."""
        with self._lock:
            if not self._settled:  # the closer has not settled yet: take the item back
                self._settle_locked(index)
                return False
            return index < self._kept

    def _settle(self) -> None:
        """Account for the batch in hand once the iterator is closed (any thread, once)."""
        with self._lock:
            if not self._settled:
                self._settle_locked(self._index)

    def _settle_locked(self, handed: int) -> None:
        self._settled = True
        batch, self._batch = self._batch, []
        handed = min(handed, len(batch))
        self._kept = handed
        queue = self._channel.queue
        if handed:
            queue.delivered(handed)
            queue.release(handed)
        if len(batch) > handed:
            queue.discard(len(batch) - handed)

    def _complete(self) -> None:
        """The stream ended and everything was handed out: raise its error, if any."""
        self._finalizer()
        error = self._channel.error()
        if error is not None:
            raise error

    def stats(self) -> QueueStats:
        """Return a snapshot of the queue counters.

        ``delivered`` counts the items handed out, reported once per batch;
        ``queued`` counts every item holding a slot (see the class docstring).
        Once the iterator is closed, ``queued`` is 0 and every item is counted
        as delivered or dropped.
        """
        return self._counters.snapshot()


class ObservableIterator(_Pull[_T]):
    """A blocking iterator over an observable; returned by ``to_iterator``.

    Iterate it, or call ``next()``; ``close()`` (or leaving a ``with`` block)
    disposes the subscription early.
    """

    __slots__ = ()

    def __init__(self, observable: Observable[_T], maxsize: int) -> None:
        super().__init__(observable, maxsize, "to_iterator", asynchronous=False)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> _T:
        channel = self._channel
        index = self._index
        batch = self._batch
        if index < len(batch):  # the fast path
            self._index = index + 1  # handed out first, then closed is read (see _Pull)
            if not channel.closed or self._keeps(index):
                return batch[index]
            raise StopIteration
        while True:
            if channel.closed:
                self._settle()
                raise StopIteration
            done = channel.source_done  # read before taking: no item can follow it
            batch = self._refill()
            if batch:
                return batch[0]
            if done:
                self._complete()
                raise StopIteration
            channel.queue.wait()

    def close(self) -> None:
        """Dispose the subscription, release the producer and wait for the feeder thread.

        Idempotent, and allowed from any thread; the items of the batch in
        hand that were not handed out yet and the items still queued are
        counted as dropped, and iteration stops. The feeder thread ends as
        soon as the source honours the disposal, so this call also waits for
        a user function running on it (a slow ``map_`` step of a synchronous
        source) to return; a source that ignores the disposal, such as an
        ``rx.create`` loop that never checks, keeps the thread, and this call,
        until it returns.
        """
        self._finalizer()
        self._settle()
        self._channel.feeder.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ObservableAsyncIterator(_Pull[_T]):
    """An async iterator over an observable; returned by ``to_async_iterator``.

    Use it with ``async for``; ``aclose()`` (or leaving an ``async with``
    block) disposes the subscription early.
    """

    __slots__ = ()

    def __init__(self, observable: Observable[_T], maxsize: int) -> None:
        super().__init__(observable, maxsize, "to_async_iterator", asynchronous=True)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        channel = self._channel
        index = self._index
        batch = self._batch
        if index < len(batch):
            self._index = index + 1  # handed out first, then closed is read (see _Pull)
            if not channel.closed or self._keeps(index):
                return batch[index]
            raise StopAsyncIteration
        while True:
            if channel.closed:
                self._settle()
                raise StopAsyncIteration
            done = channel.source_done
            batch = self._refill()
            if batch:
                channel.parking = False
                return batch[0]
            if done:
                self._complete()
                raise StopAsyncIteration
            if not channel.parking:
                channel.parking = True
                continue  # look once more: a put made before the flag was up is seen now
            waiter = channel.park(asyncio.get_running_loop())
            if waiter is not None:
                await waiter

    async def aclose(self) -> None:
        """Dispose the subscription, release the producer and await the feeder thread's end.

        Idempotent; as ``close`` of ``ObservableIterator``, without blocking
        the event loop while it waits.
        """
        self.close()
        channel = self._channel
        waiter = channel.park_until_exit(asyncio.get_running_loop())
        if waiter is not None:
            await waiter
        channel.feeder.join()  # returns at once: the thread has run its last callback

    def close(self) -> None:
        """Dispose and release like ``aclose``, without awaiting the feeder thread (any thread)."""
        self._finalizer()
        self._settle()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def to_iterator(
    observable: Observable[_T], *, maxsize: int = DEFAULT_MAXSIZE
) -> ObservableIterator[_T]:
    """Turn an observable into a blocking iterator with real backpressure.

    The observable is subscribed at once on a feeder thread, and the iterator
    is returned once the subscription is in place; the items wait in a
    bounded queue until ``next()`` takes them. The producer is never more than
    ``maxsize`` items ahead of the consumer: its ``on_next`` blocks until the
    consumer catches up.

    ```text
    source:    --1--2--3--4--5--|
    queue:     [1 2 3]  (maxsize=3): the producer waits in on_next(4)
    consumer:  next() -> 1, 2, 3; the next next() frees the three slots,
               4 and 5 go in; next() -> 4, 5, then StopIteration
    ```

    Behavior:
        - Backpressure: ``next()`` takes everything queued at once; those
          items keep their slots until it comes back for more, so a blocked
          producer resumes with room for a whole batch (one thread switch per
          batch, not per item).
        - Completion: the queued items are delivered, then iteration stops.
        - Error: the queued items are delivered, then the pipeline's
          exception object is raised from ``next()``, unchanged (once; later
          calls stop the iteration). A ``KeyboardInterrupt`` or
          ``SystemExit`` that leaves the feeder thread is raised the same
          way, the same object (another non-``Exception`` as a
          ``RuntimeError`` whose ``__cause__`` it is), as in ``collect``.
        - Subscription: in place when ``to_iterator`` returns, that is once
          the source's ``subscribe()`` has returned or the source has sent
          its first notification, whichever comes first. A source that
          blocks inside ``subscribe()`` without emitting holds the call.
        - Dispose: ``close()`` (from any thread), leaving a ``with`` block,
          or garbage collection of the iterator (for example after ``break``
          out of ``for x in to_iterator(...)``) disposes the subscription,
          counts the queued items and the rest of the batch in hand as
          dropped (``stats().queued`` is then 0) and releases a producer
          blocked in ``on_next``. ``close()`` also waits for the feeder
          thread to end, hence for a user function running on it.
        - Threads: the feeder thread subscribes and runs a synchronous
          source; it ends when the source's ``subscribe()`` returns. If a
          source emits on the consumer's own thread while the queue is full,
          blocking would deadlock: the iterator then fails with
          ``BackpressureError`` after the queued items.
        - ``stats()`` returns the queue's ``QueueStats``. One consumer at a
          time.

    Examples:
        >>> import reactivex as rx
        >>> with to_iterator(rx.range(5), maxsize=2) as items:
        ...     [n * n for n in items]
        [0, 1, 4, 9, 16]

    Args:
        observable: The pipeline to pull from.
        maxsize: Items the queue holds before the producer blocks (>= 1).

    Returns:
        An ``ObservableIterator``, also a context manager.

    Raises:
        TypeError: ``observable`` is not an ``Observable`` or ``maxsize`` is
            not an ``int``.
        ValueError: ``maxsize`` is < 1.
    """
    return ObservableIterator(observable, _checked_maxsize(observable, maxsize))


def to_async_iterator(
    observable: Observable[_T], *, maxsize: int = DEFAULT_MAXSIZE
) -> ObservableAsyncIterator[_T]:
    """Turn an observable into an async iterator with real backpressure.

    Same semantics as ``to_iterator``, for ``async for``. The observable is
    subscribed at once on a feeder thread (the call returns once the
    subscription is in place); the consumer awaits items without blocking its
    event loop, and the producer blocks in ``on_next`` while ``maxsize`` items
    wait.

    ```text
    source:      --1--2--3--|
    async for:   --1--2--3--| (StopAsyncIteration)
    ```

    Behavior:
        - Completion, error and escape as ``to_iterator`` (the exception
          object is raised from ``__anext__``).
        - Dispose: ``aclose()``, ``close()`` (from any thread), leaving an
          ``async with`` block, or garbage collection (``break`` out of
          ``async for x in to_async_iterator(...)``) disposes the
          subscription, counts what was not handed out as dropped and
          releases a blocked producer. ``aclose()`` also awaits the end of
          the feeder thread.
        - Creating it blocks the loop until the subscription is in place;
          a source's ``subscribe()`` must therefore not wait for the
          consumer's loop (scheduling on it, as ``AsyncIOThreadSafeScheduler``
          does, is fine).
        - Loop hops: the producer touches the event loop only through
          ``loop.call_soon_threadsafe``, and only when the consumer waits.
        - A source that schedules on the consumer's loop must use
          ``AsyncIOThreadSafeScheduler`` (it is subscribed from the feeder
          thread). Emitting on the loop's thread while the queue is full fails
          the iterator with ``BackpressureError`` instead of deadlocking.

    Examples:
        >>> import asyncio
        >>> import reactivex as rx
        >>> async def main() -> list[int]:
        ...     return [n async for n in to_async_iterator(rx.of(1, 2, 3))]
        >>> asyncio.run(main())
        [1, 2, 3]

    Args:
        observable: The pipeline to pull from.
        maxsize: Items the queue holds before the producer blocks (>= 1).

    Returns:
        An ``ObservableAsyncIterator``, also an async context manager.

    Raises:
        TypeError: ``observable`` is not an ``Observable`` or ``maxsize`` is
            not an ``int``.
        ValueError: ``maxsize`` is < 1.
    """
    return ObservableAsyncIterator(observable, _checked_maxsize(observable, maxsize))


# -- from_async_iterable ------------------------------------------------------------------


def from_async_iterable(
    aiterable: AsyncIterable[_T],
    *,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Observable[_T]:
    """Turn an async iterable into an observable that pulls one item at a time.

    Each subscription iterates ``aiterable`` in a task on an asyncio loop and
    emits each item; the next ``__anext__`` starts only after ``on_next`` of
    the previous item has returned, so it never reads ahead and a slow
    observer slows the iteration. A bounded queue downstream that fills up on
    the loop's thread does not block the loop (nor fail): it takes the item
    and *pauses* the pull, which resumes once that queue has drained.

    ```text
    async iterable:  1 . . 2 . . 3 . . . . . . . . 4 . . (end)
    observable:      --1-----2-----3-----------------4-----|
                                   ^ a queue downstream is full: paused
                                               ^ drained: the next pull
    ```

    Behavior:
        - Backpressure: each ``on_next`` runs with the pull's flow-control
          handle published; a full ``"block"`` queue on the loop's thread
          accepts that item (one over its capacity) and pauses the pull until
          it drains below its low watermark. The pull awaits; the loop runs on.
        - Loop: the loop of an ``AsyncIOScheduler`` /
          ``AsyncIOThreadSafeScheduler`` given as ``scheduler=`` or, failing
          that, to ``subscribe()``; otherwise a private event loop on a thread
          of its own per subscription. Items are emitted on that loop's thread.
        - Completion: the end of the iterable completes the observable.
        - Error: an exception of the iterable goes to ``on_error`` unchanged in
          type, with a note naming the processor and how many items it had
          produced. An exception raised by the observer's ``on_next`` also
          ends the stream through ``on_error``.
        - Dispose: cancels the pending ``__anext__`` or the wait for room
          (``task.cancel()``), so nothing more is pulled, and calls
          ``aclose()`` on the iterator if it has one (async generators do);
          the private loop thread then ends. Nothing is emitted after.
        - Cancelled otherwise (``asyncio.run`` returning with the pull still
          pending, a task group cancelling its tasks): the observer gets
          ``on_error(RuntimeError)`` naming the processor and the items
          produced, with the ``CancelledError`` as ``__cause__``; the
          cancellation then proceeds. A loop closed *without* cancelling its
          tasks never runs the pull again, so no event can be delivered: stop
          loops with ``asyncio.run`` or cancel their tasks first.
        - Each subscription calls ``aiterable.__aiter__()`` afresh: an async
          *generator* can be iterated by one subscription only, an iterable
          class that returns a new iterator each time by many.

    Examples:
        >>> from rxstreamz import collect
        >>> async def numbers():
        ...     for n in range(3):
        ...         yield n
        >>> collect(from_async_iterable(numbers()))
        [0, 1, 2]

    Args:
        aiterable: The async iterable (an async generator, for example).
        name: Name in error notes; default ``"from_async_iterable"``.
        scheduler: An ``AsyncIOScheduler`` whose loop runs the iteration.

    Returns:
        An observable of the items.

    Raises:
        TypeError: ``aiterable`` is not an async iterable, or ``scheduler`` is
            not an ``AsyncIOScheduler``.
    """
    if not hasattr(aiterable, "__aiter__"):
        raise TypeError(f"aiterable must be an async iterable, got {type(aiterable).__name__}")
    label = _validate.name(name, "from_async_iterable")
    if scheduler is not None and not isinstance(scheduler, AsyncIOScheduler):
        raise TypeError(
            "scheduler must be an AsyncIOScheduler or AsyncIOThreadSafeScheduler, "
            f"got {type(scheduler).__name__}"
        )

    def subscribe(
        observer: abc.ObserverBase[_T], subscribed: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        chosen = _scheduling.resolve(scheduler, subscribed)
        loop_scheduler = chosen if isinstance(chosen, AsyncIOScheduler) else None
        pump = _Pump(aiterable, observer, label, loop_scheduler)
        # Trampolined: starts once the outermost subscribe() has returned.
        launched = CurrentThreadScheduler.singleton().schedule(pump.launch)
        return CompositeDisposable(Disposable(pump.dispose), launched)

    return Observable(subscribe)


class _Pump(Generic[_T]):
    """One subscription of ``from_async_iterable``: the task that pulls and pushes.

    ``launch`` starts the task on the chosen loop (or a private one); the task
    (``run``) pulls an item, pushes it with the flow-control handle published,
    waits while a queue downstream has paused it, and pulls again. ``dispose``
    cancels the task from any thread.
    """

    __slots__ = ("aiterable", "count", "disposed", "label", "lock", "observer", "scheduler", "task")

    def __init__(
        self,
        aiterable: AsyncIterable[_T],
        observer: abc.ObserverBase[_T],
        label: str,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.aiterable = aiterable
        self.observer = observer
        self.label = label
        self.scheduler = scheduler  # an AsyncIOScheduler, or None for a private loop
        self.lock = threading.Lock()
        self.disposed = False
        self.task: asyncio.Task[None] | None = None
        self.count = 0  # items pulled

    def launch(
        self, _scheduler: abc.SchedulerBase, _state: object = None
    ) -> abc.DisposableBase | None:
        """Start pulling (on the subscriber's trampoline).

        Every operator downstream holds its disposable by now, so a dispose in
        between prevents the start altogether.
        """
        if self.disposed:
            return None
        if self.scheduler is not None:
            return self.scheduler.schedule(self._start)
        context = contextvars.copy_context()  # the subscriber's contextvars, as on a loop
        threading.Thread(
            target=context.run,
            args=(_run_loop, self._main),
            name=f"rxstreamz-{self.label}-loop",
            daemon=True,
        ).start()
        return None

    def _start(self, _scheduler: abc.SchedulerBase | None = None, _state: object = None) -> None:
        """Create the task (on the scheduler loop's thread)."""
        with self.lock:
            if self.disposed:
                return
            loop = asyncio.get_running_loop()
            self.task = loop.create_task(self.run(), name=f"rxstreamz-{self.label}")

    async def _main(self) -> None:
        """The private loop's main coroutine: this task is the pull."""
        with self.lock:
            if self.disposed:
                return
            self.task = asyncio.current_task()
        await self.run()

    def dispose(self) -> None:
        """Stop pulling: cancel the task (from any thread); nothing is emitted after."""
        with self.lock:
            if self.disposed:
                return
            self.disposed = True
            pending = self.task
        if pending is not None:
            _cancel(pending)

    def _is_disposed(self) -> bool:
        """Whether ``dispose`` has run (a call, so that checkers do not narrow it across one)."""
        return self.disposed

    async def run(self) -> None:
        """Iterate to the end, an error, a dispose or a cancellation; then close the iterator."""
        observer = self.observer
        iterator: AsyncIterator[_T] | None = None
        try:
            iterator = aiter(self.aiterable)
            await self._forward(iterator)
        except asyncio.CancelledError as cancelled:
            if self._is_disposed():  # disposed: ending quietly is the point
                return
            # Cancelled by someone else (the loop shutting down, a task group):
            # the observer must hear of it, then the cancellation goes on.
            observer.on_error(_interrupted(self.label, self.count, cancelled))
            raise
        except Exception as exc:  # aiter() refused the iterable
            observer.on_error(exc)
        finally:
            if iterator is not None:
                try:
                    await _aclose(iterator)
                except Exception as exc:  # ignored once the observer has stopped
                    observer.on_error(exc)

    async def _forward(self, iterator: AsyncIterator[_T]) -> None:
        """Pull and push one item at a time until the end, an error or a dispose."""
        observer = self.observer
        flow = _pause.FlowControl(asyncio.get_running_loop())
        while True:
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                observer.on_completed()
                return
            except Exception as exc:
                count = self.count
                exc.add_note(
                    f"rxstreamz: raised by the async iterable of processor {self.label!r} "
                    f"after {count} item{'' if count == 1 else 's'}"
                )
                observer.on_error(exc)
                return
            if self._is_disposed():
                return
            self.count += 1
            try:
                with _pause.producing(flow):
                    observer.on_next(item)
            except Exception as exc:  # the observer failed: end the stream
                observer.on_error(exc)
                return
            if self._is_disposed():  # by the observer, from inside on_next
                return
            await flow.wait()  # a full queue downstream paused us: wait for room


def _run_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with contextlib.suppress(asyncio.CancelledError):  # cancelled as the pump ended
        asyncio.run(main())


def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` from any thread."""
    loop = task.get_loop()
    if running_loop() is loop:
        if asyncio.current_task() is not task:  # from inside the pump its flag suffices
            task.cancel()
        return
    with contextlib.suppress(RuntimeError):  # the loop is closed: the task has ended
        loop.call_soon_threadsafe(task.cancel)


def _interrupted(label: str, count: int, cancelled: asyncio.CancelledError) -> RuntimeError:
    """The error an observer gets when the pull was cancelled by something other than dispose."""
    problem = RuntimeError(
        f"processor {label!r}: the task pulling the async iterable was cancelled after "
        f"{count} item{'' if count == 1 else 's'} without the subscription being disposed "
        "(its event loop is shutting down, or another task cancelled it)"
    )
    problem.__cause__ = cancelled
    return problem


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
