"""Ordered, bounded concurrency: ``async_map``.

``async_map(fn, workers=n)`` calls ``fn`` on up to ``n`` items at once, on
threads, on an executor (processes, a Dask cluster) or on an asyncio loop, and
emits the results in input order (or in completion order with
``ordered=False``).

How one subscription works (the hot path is what makes it cheaper per item
than ``ThreadPoolExecutor.map``):

```python
producer --on_next--> [gate: BoundedQueue, capacity workers + max_pending]
    |                        (blocks the producer when full)
    +--> runner: private threads pulling from a SimpleQueue, or an
         executor, or worker coroutines on an event loop
             |  fn(item) -> result
             v
         reorder buffer (a dict keyed by sequence number)
             |  whichever thread completes the head-of-line item
             v  drains every ready result, outside the lock
         downstream on_next (never two at once)
```

The gate holds every item from acceptance until its result is handed
downstream (queued, running, or finished and waiting for an earlier item), so
``workers + max_pending`` bounds the memory the operator holds even when one
slow item holds back the ones behind it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from queue import SimpleQueue
from types import CoroutineType
from typing import (
    Any,
    Generic,
    NamedTuple,
    Protocol,
    TypedDict,
    TypeVar,
    Unpack,
    cast,
    overload,
)

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._asyncio import escaped, running_loop, scheduler_loop, start_loop
from rxstreamz._failure import Failures, OnFailure, annotate
from rxstreamz._queue import BoundedQueue, QueueCounters
from rxstreamz._typing import Operator
from rxstreamz.errors import BackpressureError

__all__ = ["AsyncMap", "AsyncMapStats", "async_map"]

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class AsyncMapStats(ProcessorStats):
    """Counters of ``async_map``, summed over its subscriptions.

    Every item upstream offered is in exactly one bucket::

        received == completed + failed + dropped + in_flight

    (a producer blocked for room counts once its ``on_next`` is resolved).

    Attributes:
        received: Items upstream offered (every ``on_next``).
        submitted: Items accepted and handed to a worker.
        completed: Results emitted downstream.
        failed: Items whose call raised (in both ``errors`` modes), or whose
            ``on_failure`` raised.
        dropped: Items received that will never be emitted for another reason:
            queued, running or waiting for an earlier item when the
            subscription was disposed or failed, or refused after it ended.
        in_flight: Items held right now: queued, running, or finished and
            waiting for an earlier item (ordered mode).
        high_watermark: The most items one subscription held at once
            (never more than ``workers + max_pending``).
    """

    submitted: int
    completed: int
    in_flight: int
    high_watermark: int


class _Failed:
    """The outcome of a call that raised, waiting in the reorder buffer.

    ``fatal``: the call ended with a ``BaseException`` that is not an
    ``Exception`` (wrapped by ``rxstreamz._asyncio.escaped``); it fails
    the stream in both ``errors`` modes.
    """

    __slots__ = ("error", "fatal", "item", "now")

    def __init__(
        self, error: Exception, item: object, now: datetime, *, fatal: bool = False
    ) -> None:
        self.error = error
        self.item = item
        self.now = now
        self.fatal = fatal


def _raised(error: BaseException, item: object, now: datetime) -> _Failed:
    """The outcome of a call of ``fn`` that raised ``error``.

    An ``Exception`` is the item's failure (``errors`` decides); anything
    else is wrapped by ``rxstreamz._asyncio.escaped`` and fails the stream.
    """
    if isinstance(error, Exception):
        return _Failed(error, item, now)
    return _Failed(escaped(error, "the call of fn"), item, now, fatal=True)


_COROUTINE: type[object] = CoroutineType
"""What a plain ``fn`` must not return (typed loosely: the check must not narrow)."""


def _not_awaited(result: object, item: object, now: datetime) -> _Failed:
    """The outcome of a plain ``fn`` that returned a coroutine instead of a result.

    The coroutine is closed unawaited (so Python does not warn about it) and
    the stream fails in both ``errors`` modes: it is a wiring mistake, not a
    failing item.
    """
    coroutine = cast("CoroutineType[Any, Any, Any]", result)
    coroutine.close()
    error = TypeError(
        f"fn returned a coroutine ({coroutine.__qualname__}) instead of a result; "
        "pass the async def itself (or a functools.partial of it) so that it is awaited"
    )
    return _Failed(error, item, now, fatal=True)


def _must_propagate(error: BaseException) -> bool:
    """Whether ``error`` must go on up its thread once the stream has been failed with it."""
    return isinstance(error, KeyboardInterrupt | SystemExit)


_Report = Callable[[int, object], None]
"""``report(seq, outcome)``: a runner reports a result or a ``_Failed``."""


class _Runner(Protocol):
    """Runs the calls of one subscription; reports each outcome to ``report``."""

    def start(self, seq: int, item: object) -> None:
        """Run ``fn(item)`` now or as soon as a worker is free."""

    def close(self) -> None:
        """Cancel work not yet started and release threads, tasks and loops."""


class _Calls(NamedTuple):
    """What every runner is given: ``fn``, how many calls at once, where each outcome goes."""

    fn: Callable[[Any], Any]
    workers: int
    label: str
    report: _Report
    clock: abc.SchedulerBase


class _RunnerBase:
    """The state every runner keeps: its ``_Calls`` unpacked, a lock, whether it is closed."""

    def __init__(self, calls: _Calls) -> None:
        self._fn, self._workers, self._label, self._report, self._clock = calls
        self._lock = threading.Lock()
        self._closed = False


class _Slots(_RunnerBase):
    """A runner that starts at most ``workers`` calls at once; the other items wait in line."""

    def __init__(self, calls: _Calls) -> None:
        super().__init__(calls)
        self._waiting: deque[tuple[int, object]] = deque()
        self._running = 0  # calls started and not yet ended

    def _take_slot(self, seq: int, item: object) -> bool:
        """Whether item ``seq`` may start now; if not, it waits in line (none once closed)."""
        if self._closed:
            return False
        if self._running >= self._workers:
            self._waiting.append((seq, item))
            return False
        self._running += 1
        return True


class _Threads(_RunnerBase):
    """Private worker threads that pull items from a queue themselves.

    No future per item: the producer puts ``(seq, item)`` on a ``SimpleQueue``,
    a worker takes it, calls ``fn`` and hands the outcome to ``report``. Thread
    ``i`` starts when item ``i`` arrives (at most ``workers`` threads). On
    close every thread gets a stop marker; a thread busy in ``fn`` ends as soon
    as that call returns (``close`` never waits for user code).
    """

    def __init__(self, calls: _Calls) -> None:
        super().__init__(calls)
        self._work: SimpleQueue[tuple[int, object] | None] = SimpleQueue()
        self._threads = 0

    def start(self, seq: int, item: object) -> None:
        if self._threads < self._workers:
            self._spawn()
        self._work.put((seq, item))

    def _spawn(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._threads += 1
            index = self._threads
        thread = threading.Thread(
            target=self._serve, name=f"rxstreamz-{self._label}-{index}", daemon=True
        )
        thread.start()

    def _serve(self) -> None:
        get = self._work.get
        fn = self._fn
        report = self._report
        clock = self._clock
        while True:
            job = get()
            if job is None:
                return
            if self._closed:
                continue  # cancelled: skip until the stop marker
            seq, item = job
            try:
                outcome = fn(item)
            except BaseException as exc:  # not swallowed: it fails the item or the stream
                report(seq, _raised(exc, item, clock.now))
                if _must_propagate(exc):
                    raise
                continue
            if type(outcome) is _COROUTINE:
                outcome = _not_awaited(outcome, item, clock.now)
            report(seq, outcome)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            count = self._threads
        for _ in range(count):
            self._work.put(None)


class _Executor(_Slots):
    """Submits to a user's ``concurrent.futures.Executor``, at most ``workers`` at once.

    Items beyond ``workers`` wait in a deque; each finished future submits the
    next one from its done-callback. The executor is never shut down by us;
    closing cancels the futures still pending.
    """

    def __init__(self, calls: _Calls, executor: concurrent.futures.Executor) -> None:
        super().__init__(calls)
        self._executor = executor
        self._futures: set[concurrent.futures.Future[object]] = set()
        self._callback = threading.local()  # .active: this thread runs one of our callbacks

    def start(self, seq: int, item: object) -> None:
        with self._lock:
            if not self._take_slot(seq, item):
                return
        self._submit(seq, item)

    def _submit(self, seq: int, item: object) -> None:
        while True:
            try:
                future = self._executor.submit(self._fn, item)
            except Exception as exc:  # executor shut down or broken: the item fails
                self._report(seq, _Failed(exc, item, self._clock.now))
                job = self._next()
                if job is None:
                    return
                seq, item = job
                continue
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(functools.partial(self._done, seq, item))
            return

    def _done(self, seq: int, item: object, future: concurrent.futures.Future[object]) -> None:
        self._callback.active = True
        try:
            self._outcome(seq, item, future)
        finally:
            self._callback.active = False

    def _outcome(self, seq: int, item: object, future: concurrent.futures.Future[object]) -> None:
        with self._lock:
            self._futures.discard(future)
            if self._closed:
                return
        if future.cancelled():
            error: BaseException | None = concurrent.futures.CancelledError(
                "the executor cancelled the call"
            )
        else:
            error = future.exception()
        if error is None:
            outcome = future.result()
            if type(outcome) is _COROUTINE:
                outcome = _not_awaited(outcome, item, self._clock.now)
            self._report(seq, outcome)
        else:  # the item fails; a BaseException fails the stream (KeyboardInterrupt goes on up)
            self._report(seq, _raised(error, item, self._clock.now))
            if _must_propagate(error):
                raise error
        job = self._next()
        if job is not None:
            self._submit(*job)

    def _next(self) -> tuple[int, object] | None:
        with self._lock:
            if self._closed or not self._waiting:
                self._running -= 1
                return None
            return self._waiting.popleft()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._waiting.clear()
            futures = list(self._futures)
            self._futures.clear()
        if not futures:
            return
        if getattr(self._callback, "active", False):
            # Inside a done-callback we may be on the executor's own event loop
            # (Dask's client calls back from it, and cancelling from there
            # would need that very loop): cancel from a short-lived thread.
            threading.Thread(
                target=_cancel_all, args=(futures,), name="rxstreamz-cancel", daemon=True
            ).start()
        else:
            _cancel_all(futures)


def _cancel_all(futures: list[concurrent.futures.Future[object]]) -> None:
    for future in futures:
        future.cancel()


class _Loop(_Slots):
    """Runs an ``async def`` fn as ``workers`` long-lived tasks on an event loop.

    The loop is the subscription's (``AsyncIOScheduler``) or a private one on a
    thread of its own, started at the first item and stopped on close. Each
    task takes the next waiting item itself when its call ends, so there is no
    task per item. Everything but ``start``, ``attach`` and ``close`` runs on
    the loop's thread.

    A loop that goes away under a live subscription (closed, or its tasks
    cancelled, as ``asyncio.run`` does when its main coroutine returns) can
    never finish the items held: ``on_lost`` then gets an error naming the
    processor, once, and later items are not started.
    """

    def __init__(
        self,
        calls: _Calls,
        loop: asyncio.AbstractEventLoop | None,
        on_lost: Callable[[Exception], None],
    ) -> None:
        super().__init__(calls)
        self._loop = loop
        self._private = loop is None
        self._on_lost = on_lost
        self._lost = False
        self._loop_thread = 0  # ident of the loop's thread, once known
        self._inbox: list[tuple[int, object]] = []  # from other threads, under _lock
        self._wakeup_pending = False
        self._tasks: set[asyncio.Task[None]] = set()  # the worker tasks alive (_running of them)

    def attach(self) -> None:
        """Learn the subscription loop's thread, so that items from it start at once."""
        loop = self._loop
        if loop is None:
            return
        if running_loop() is loop:
            self._adopt()
        else:
            self._call(self._adopt)

    def _adopt(self) -> None:
        """Runs on the loop's thread: remember it."""
        self._loop_thread = threading.get_ident()

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError as exc:  # the loop is closed: nothing on it will run again
            self._lose(
                exc, f"processor {self._label!r}: the event loop running its async def fn is closed"
            )

    def _lose(self, cause: BaseException, message: str) -> None:
        """Report, once, that the loop can no longer finish the items held."""
        with self._lock:
            if self._closed or self._lost:
                return
            self._lost = True
        error = RuntimeError(message)
        error.__cause__ = cause
        self._on_lost(error)

    def start(self, seq: int, item: object) -> None:
        if self._lost:
            return
        if self._loop is None:
            with self._lock:
                if self._closed:
                    return
                if self._loop is None:
                    self._loop, self._loop_thread = start_loop(f"rxstreamz-{self._label}-loop")
        if threading.get_ident() == self._loop_thread:
            self._launch(seq, item)
            return
        # From another thread: one wake-up of the loop for every run of items
        # that arrive before it gets round to them, not one per item.
        with self._lock:
            self._inbox.append((seq, item))
            if self._wakeup_pending:
                return
            self._wakeup_pending = True
        self._call(self._take_inbox)

    def _take_inbox(self) -> None:
        with self._lock:
            self._wakeup_pending = False
            jobs = list(self._inbox)
            self._inbox.clear()
        for seq, item in jobs:
            self._launch(seq, item)

    def _launch(self, seq: int, item: object) -> None:
        if not self._take_slot(seq, item):
            return
        assert self._loop is not None
        task = self._loop.create_task(self._work(seq, item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, seq: int, item: object) -> None:
        fn = self._fn
        report = self._report
        waiting = self._waiting
        while True:
            try:
                outcome = await fn(item)
            except Exception as exc:
                outcome = _Failed(exc, item, self._clock.now)
            except asyncio.CancelledError as exc:
                if self._closed:
                    raise  # cancelled by close(): the subscription is over
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Not by us: the loop is shutting down (asyncio.run does this).
                    self._running -= 1
                    self._lose(
                        exc,
                        f"processor {self._label!r}: its async def workers were cancelled "
                        "from outside (was the event loop shut down under the stream?)",
                    )
                    raise
                outcome = _raised(exc, item, self._clock.now)  # raised by fn itself
            except BaseException as exc:  # not swallowed: it fails the stream
                self._running -= 1
                report(seq, _raised(exc, item, self._clock.now))
                if _must_propagate(exc):
                    raise
                return
            report(seq, outcome)
            if self._closed or not waiting:
                self._running -= 1
                return
            seq, item = waiting.popleft()

    def _cancel(self) -> None:
        self._waiting.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._private and self._loop is not None:
            self._loop.stop()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if threading.get_ident() == self._loop_thread:
            self._cancel()
        else:
            self._call(self._cancel)


def _is_async(fn: object) -> bool:
    """Whether calling ``fn`` returns a coroutine: ``async def``, or an async ``__call__``."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004 -- the method, not callability
    return call is not None and inspect.iscoroutinefunction(call)


class AsyncMap(Generic[_T, _R]):
    """The operator returned by ``async_map``."""

    def __init__(
        self,
        fn: Callable[[_T], object],
        *,
        is_async: bool,
        workers: int,
        ordered: bool,
        max_pending: int,
        executor: concurrent.futures.Executor | None,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.fn = fn
        self.is_async = is_async
        self.workers = workers
        self.ordered = ordered
        self.max_pending = max_pending
        self.executor = executor
        self.name = failures.processor
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)
        self._queue_counters = QueueCounters()
        self._counts = _Counts()

    def stats(self) -> AsyncMapStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        queue = self._queue_counters.snapshot()
        counts = self._counts
        with counts.lock:
            submitted, completed = counts.submitted, counts.completed
            discarded, refused = counts.discarded, counts.refused
            failed = self._failures.count
        return AsyncMapStats(
            received=submitted + refused,
            submitted=submitted,
            completed=completed,
            failed=failed,
            dropped=discarded + refused,
            in_flight=max(0, submitted - completed - failed - discarded),
            high_watermark=queue.high_watermark,
        )

    def __call__(self, source: Observable[_T]) -> Observable[_R]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[_R], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.resolve(self._scheduler, scheduler)
            # async def workers on the subscription's loop: the gate knows that
            # loop, so a producer running on it fails rather than wait for room.
            loop = scheduler_loop(clock) if self.is_async else None
            gate: BoundedQueue[object] = BoundedQueue(
                self.workers + self.max_pending,
                overflow="block",
                processor=self.name,
                counters=self._queue_counters,
                scheduler=clock if loop is not None else None,
            )
            run = _AsyncMapSubscription(
                self, observer, gate, self._counts, self._failures, clock, loop
            )
            return run.connect(source, scheduler)

        return Observable(subscribe)


class _Counts:
    """The counters of one ``AsyncMap``, shared by its subscriptions (under ``lock``)."""

    __slots__ = ("completed", "discarded", "lock", "refused", "submitted")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.submitted = 0
        self.completed = 0
        self.discarded = 0  # accepted items that will never be emitted
        self.refused = 0  # received items never accepted

    def add(
        self, submitted: int = 0, completed: int = 0, discarded: int = 0, refused: int = 0
    ) -> None:
        """Add to the counters."""
        with self.lock:
            self.submitted += submitted
            self.completed += completed
            self.discarded += discarded
            self.refused += refused


class _AsyncMapSubscription(Generic[_T, _R]):
    """The state of one ``async_map`` subscription, and what happens to it.

    Four kinds of thread meet here, all under ``lock``:

    * the producer, in the ``on_next`` made by ``accepting``: waits for room
      in the gate, numbers the item and hands it to the runner;
    * the runner's threads (or loop), in ``report``: park the outcome, and
      take the emitter's turn if nobody has it and the outcome is due;
    * the emitter, in ``drain``: one thread at a time (``emitting``), claimed
      as the gate's consumer while it hands results on, so that the gate's own
      rule turns feedback from downstream (and cycles through other queues)
      into ``BackpressureError`` instead of a deadlock;
    * whoever ends it: upstream's terminal event (``close``), a lost loop
      (``fail_lost``), a failure (``fail``) or ``dispose``; ``dispose_held`` releases
      the gate, the runner and upstream once.
    """

    __slots__ = (
        "accepted",
        "clock",
        "closed",
        "count",
        "emitting",
        "error",
        "failures",
        "gate",
        "head",
        "label",
        "lock",
        "loop",
        "lost",
        "observer",
        "op",
        "ordered",
        "parked",
        "ready",
        "released",
        "runner",
        "stopped",
        "upstream",
    )

    def __init__(
        self,
        op: AsyncMap[_T, _R],
        observer: abc.ObserverBase[_R],
        gate: BoundedQueue[object],
        counts: _Counts,
        failures: Failures,
        clock: abc.SchedulerBase,
        workers_loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.op = op
        self.observer = observer
        self.gate = gate
        self.count = counts.add
        self.failures = failures
        self.clock = clock
        self.label = op.name
        self.ordered = op.ordered
        self.lock = threading.Lock()
        self.parked: dict[int, object] = {}  # ordered: finished, waiting for an earlier item
        self.ready: deque[object] = deque()  # unordered: finished, in completion order
        self.head = 0  # items finalized (emitted or failed); ordered: next seq to emit
        self.accepted = 0  # items taken from upstream; the next seq
        self.emitting = False  # a thread has the emitter's turn
        self.closed = False  # upstream completed or failed, or we overflowed: accept nothing
        self.error: Exception | None = None
        self.lost = False  # the runner can no longer finish the items held
        self.stopped = False  # terminal sent, failed, or disposed: emit nothing more
        self.released = False  # dispose_held has run
        self.upstream = SingleAssignmentDisposable()
        self.loop: _Loop | None = None
        self.runner = self._make_runner(workers_loop)

    def _make_runner(self, workers_loop: asyncio.AbstractEventLoop | None) -> _Runner:
        """The back-end that runs the calls: an executor, async def workers, or threads."""
        op = self.op
        calls = _Calls(op.fn, op.workers, self.label, self.report, self.clock)
        if op.executor is not None:
            return _Executor(calls, op.executor)
        if op.is_async:
            self.loop = _Loop(calls, workers_loop, self.fail_lost)
            return self.loop
        return _Threads(calls)

    def connect(
        self, source: Observable[_T], scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        """Subscribe upstream; return what disposes the whole subscription."""
        if self.loop is not None:
            self.loop.attach()
        self.upstream.disposable = source.subscribe(
            self.accepting(), self.close, self.close, scheduler=scheduler
        )
        return CompositeDisposable(self.upstream, Disposable(self.dispose))

    # -- the producer --------------------------------------------------------------------

    def accepting(self) -> Callable[[_T], None]:
        """The ``on_next`` given to upstream: accept an item (waiting for room), start its call.

        The one closure of the subscription: the per-item path reads its
        fixed collaborators from cells rather than attributes (measurably
        cheaper than a bound method).
        """
        put = self.gate.put
        lock = self.lock
        count = self.count
        start = self.runner.start

        def on_next(item: _T) -> None:
            if self.closed or self.stopped:
                count(refused=1)
                return
            try:
                if not put(item):
                    count(refused=1)
                    return
            except BackpressureError as exc:  # waiting for room would deadlock
                self.overflow(exc)
                return
            with lock:
                if self.stopped or self.closed:  # disposed or lost while we waited for room
                    count(refused=1)  # type: ignore[unreachable]
                    return
                seq = self.accepted
                self.accepted = seq + 1
                count(submitted=1)
            start(seq, item)

        return on_next

    def overflow(self, error: BackpressureError) -> None:
        """Waiting for room would deadlock: stop pulling, deliver what is held, fail."""
        self.count(refused=1)
        self.upstream.dispose()  # no further pulls
        self.close(error)

    def close(self, error: Exception | None = None) -> None:
        """Upstream ended (or overflowed): accept nothing more; emit what is held, then the end."""
        with self.lock:
            if self.stopped or self.closed:
                return
            self.closed = True
            self.error = error
            turn = self._take_turn()
        if turn:
            self.drain()

    # -- the runner ----------------------------------------------------------------------

    def report(self, seq: int, outcome: object) -> None:
        """Take the outcome of item ``seq``; emit what is due, unless a thread already does.

        Ordered, the outcome is parked until every earlier one has gone
        downstream; unordered, it is queued for emission at once.
        """
        with self.lock:
            if self.stopped:
                return
            if self.ordered:
                self.parked[seq] = outcome
                if seq != self.head:
                    return
            else:
                self.ready.append(outcome)
            turn = self._take_turn()
        if turn:
            self.drain()

    def fail_lost(self, error: Exception) -> None:
        """The runner lost the items it held: deliver what is ready, then fail."""
        self.gate.close()  # release a blocked producer; later items are refused
        self.upstream.dispose()
        with self.lock:
            if self.stopped:
                return
            self.lost = True
            if not self.closed:
                self.closed = True
                self.error = error
            elif self.error is None:  # completed upstream, results still due
                self.error = error
            turn = self._take_turn()
        if turn:
            self.drain()

    # -- the emitter ---------------------------------------------------------------------

    def _take_turn(self) -> bool:
        """Become the emitter unless a thread already is (under ``lock``)."""
        if self.emitting:
            return False
        self.emitting = True
        return True

    def _end_turn(self) -> None:
        """Give the emitter's turn back (under ``lock``, on the emitting thread)."""
        self.emitting = False
        self.gate.release_consumer()

    def drain(self) -> None:
        """Emit every ready result; the caller has taken the emitter's turn."""
        gate = self.gate
        gate.claim_consumer()  # a full put() from this thread now raises, not blocks
        while True:
            with self.lock:
                if self.stopped:
                    self._end_turn()
                    return
                batch = self._take_ready()
                if not batch:
                    if self.closed and (self.head == self.accepted or self.lost):
                        self.stopped = True
                        gate.release_consumer()
                        break
                    self._end_turn()
                    return
            # Free the batch's slots before handing it on: one lock for the
            # taking, none for the release (the gate's items only count).
            gate.pop_all(hold=True)
            gate.release(len(batch))
            if not self._emit(batch):
                return
        # upstream ended and every item is accounted for
        self.dispose_held()
        if self.error is None:
            self.observer.on_completed()
        else:
            self.observer.on_error(self.error)

    def _take_ready(self) -> list[object]:
        """Take the results that may go downstream now, oldest first (under ``lock``)."""
        batch: list[object]
        if not self.ordered:
            batch = list(self.ready)
            self.ready.clear()
            self.head += len(batch)
            return batch
        parked = self.parked
        take = parked.pop
        batch = []
        seq = self.head
        while seq in parked:
            batch.append(take(seq))
            seq += 1
        self.head = seq
        return batch

    def _emit(self, batch: list[object]) -> bool:
        """Hand ``batch`` downstream; ``False`` if the stream failed on the way."""
        on_next = self.observer.on_next
        sent = skipped = 0
        error: Exception | None = None
        try:
            for outcome in batch:
                if self.stopped:  # set by dispose() from downstream
                    break
                if type(outcome) is _Failed:
                    skipped += 1
                    error = self._error_of(outcome)
                    if error is not None:
                        break
                    continue
                on_next(cast(_R, outcome))
                sent += 1
        except BaseException:  # from downstream: the item in hand and the rest are lost
            self.count(completed=sent, discarded=len(batch) - sent - skipped)
            with self.lock:
                self.stopped = True
                self._end_turn()
            self.dispose_held()
            raise
        if error is None:
            self.gate.delivered(sent)
        self.count(completed=sent, discarded=len(batch) - sent - skipped)
        if error is not None:
            self.fail(error)
            return False
        return True

    def _error_of(self, outcome: _Failed) -> Exception | None:
        """The error that fails the stream for a failed call, or ``None`` to skip it."""
        if outcome.fatal:
            self.failures.record()
            return annotate(outcome.error, self.label, outcome.item)
        # errors="skip" returns None; a raising on_failure comes back as the error
        return self.failures.handle(outcome.error, outcome.item, outcome.now)

    # -- the end -------------------------------------------------------------------------

    def fail(self, error: Exception) -> None:
        """Fail the stream now (the emitter, on a failed call in raise mode)."""
        with self.lock:
            self._end_turn()
            if self.stopped:
                return
            self.stopped = True
        self.dispose_held()
        self.observer.on_error(error)

    def dispose_held(self) -> None:
        """Release the gate, the runner and upstream; count the items held as dropped."""
        with self.lock:
            if self.released:
                return
            self.released = True
            leftover = self.accepted - self.head
        self.gate.close()
        self.runner.close()
        self.upstream.dispose()
        if leftover:
            self.count(discarded=leftover)

    def dispose(self) -> None:
        """Downstream disposed: emit nothing more, drop what is held."""
        with self.lock:
            self.stopped = True
        self.dispose_held()


class _AsyncMapOptions(TypedDict, total=False):
    """The keyword options of ``async_map``, for its overloads (defaults: the function's)."""

    workers: int
    ordered: bool
    max_pending: int | None
    executor: concurrent.futures.Executor | None
    errors: _validate.ErrorMode
    on_failure: OnFailure | None
    name: str | None
    scheduler: abc.SchedulerBase | None


@overload
def async_map(
    fn: Callable[[_T], Coroutine[object, object, _R] | _R],
    **options: Unpack[_AsyncMapOptions],
) -> Operator[_T, Observable[_R], AsyncMapStats]: ...


@overload
def async_map(
    fn: Callable[[_T], Coroutine[object, object, _R]],
    **options: Unpack[_AsyncMapOptions],
) -> Operator[_T, Observable[_R], AsyncMapStats]: ...


def async_map(
    fn: Callable[[_T], object],
    *,
    workers: int = 4,
    ordered: bool = True,
    max_pending: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[Any], AsyncMapStats]:
    """Emit ``fn(item)`` for every item, with up to ``workers`` calls running at once.

    Results come out in input order (``ordered=True``) whatever order the
    calls finish in, or as they finish (``ordered=False``). A plain function
    runs on a private pool of ``workers`` threads, or on ``executor`` (a
    ``ThreadPoolExecutor``, a ``ProcessPoolExecutor``, a Dask
    ``Client.get_executor()``...); an ``async def`` runs on the
    subscription's asyncio loop when subscribed with an ``AsyncIOScheduler``,
    else on a private event-loop thread.

    ```text
    source   -1-2-3-4-|
    call 1    [-------]         async_map(slow_double, workers=2): calls 1 and 2
    call 2      [--]            run at once; 2 ends first and its result waits
    output   ----------24---6-8|   for 1's; results in input order, completion
                                   after the last one
    ```

    Backpressure: the operator holds at most ``workers + max_pending``
    items: queued, running, or finished and waiting for an earlier one. When
    it is full the producer's ``on_next`` blocks until the oldest result has
    been emitted. If blocking would deadlock (the producer runs on the
    subscription's event loop, is called back from this operator's own
    downstream, or would close a feedback cycle through other bounded
    queues), the held items are delivered and the stream fails with
    ``BackpressureError`` instead; for a synchronous source on the loop's
    thread its message says so and points to ``from_async_iterable`` or a
    source subscribed on another thread.

    Behavior:
        - Completion: every accepted item is processed and its result emitted,
          then ``on_completed``. An upstream error does the same, then is
          forwarded.
        - A raising ``fn``: ``errors="raise"`` emits the results before the
          failing item (in ordered mode), then forwards the exception
          (unchanged type, with a note naming the processor and the item) and
          cancels the rest; ``errors="skip"`` drops the item, counts it in
          ``stats().failed``, hands a ``DeadLetter`` to ``on_failure`` and
          keeps the order of the others. Exceptions from process or Dask
          workers are forwarded the same way.
        - A ``BaseException`` that is not an ``Exception`` (a
          ``CancelledError`` raised by an ``async def`` fn, say) fails the
          stream in both ``errors`` modes, as a ``RuntimeError`` whose
          ``__cause__`` it is; ``KeyboardInterrupt`` and ``SystemExit`` then
          go on up the worker's thread or event loop. The same holds for
          such an exception from ``on_failure``.
        - A plain ``fn`` that returns a coroutine (a ``lambda`` calling an
          ``async def``, say) fails the stream with ``TypeError`` in both
          ``errors`` modes; the coroutine is closed, never run. Pass the
          ``async def`` itself (or a ``functools.partial`` of it), which is
          awaited.
        - Terminal events: after the stream fails for any reason, upstream is
          disposed at once; later items are ignored (counted as dropped) and
          the producer's ``on_next`` returns normally.
        - A lost event loop: if the loop running an ``async def`` fn is
          closed, or cancels the workers (as ``asyncio.run`` does when its
          coroutine returns without disposing), the results already finished
          are emitted in order, then the stream fails with a ``RuntimeError``
          naming the processor; a producer blocked for room is released.
        - Dispose: queued items are dropped, pending futures and tasks are
          cancelled, nothing more is emitted, a blocked producer is released,
          and the private threads (or loop thread) end as soon as their
          current call returns; dispose never waits for user code.
        - Threads: results are emitted, one at a time, by the worker thread
          that finished the oldest pending item (or the executor's callback
          thread, or the event loop). Each subscription has its own workers,
          queue and reorder buffer; an ``executor`` is shared and never shut
          down by ``async_map``.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4).pipe(async_map(lambda n: n * n, workers=2)))
        [1, 4, 9, 16]
        >>> import asyncio
        >>> async def double(n):
        ...     await asyncio.sleep(0.01 / n)  # later items finish first
        ...     return 2 * n
        >>> collect(rx.of(1, 2, 3).pipe(async_map(double, workers=3)))
        [2, 4, 6]

    Args:
        fn: Called once per item; a plain function or an ``async def``.
        workers: Most calls running at once (>= 1).
        ordered: Emit in input order (``True``) or in completion order.
        max_pending: Items that may wait beyond the running ones (>= 1);
            default ``2 * workers``.
        executor: Run a plain ``fn`` here instead of on private threads; with
            a ``ProcessPoolExecutor`` or Dask, ``fn`` and the items must
            pickle.
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Name in error notes, dead letters, thread names and stats;
            default ``"async_map"``.
        scheduler: Clock for ``DeadLetter.timestamp``; an
            ``AsyncIOScheduler`` here (or at subscribe time) runs an
            ``async def`` fn on its loop.

    Returns:
        An operator for ``pipe()`` with ``stats() -> AsyncMapStats``, where
        ``received == completed + failed + dropped + in_flight``.

    Raises:
        TypeError: ``fn`` or ``on_failure`` is not callable, ``workers`` or
            ``max_pending`` is not an int, ``ordered`` is not a bool, or
            ``executor`` is not a ``concurrent.futures.Executor``.
        ValueError: ``workers`` or ``max_pending`` is less than 1, ``errors``
            is not ``"raise"`` or ``"skip"``, or ``executor`` is given with an
            ``async def`` fn.
    """
    checked_fn = _validate.function("fn", fn)
    checked_workers = _validate.integer("workers", workers)
    _validate.flag("ordered", ordered)
    pending = _validate.optional_integer("max_pending", max_pending)
    is_async = _is_async(checked_fn)
    return AsyncMap[_T, Any](
        checked_fn,
        is_async=is_async,
        workers=checked_workers,
        ordered=ordered,
        max_pending=2 * checked_workers if pending is None else pending,
        executor=_checked_executor(executor, is_async=is_async),
        failures=Failures(_validate.name(name, "async_map"), errors, on_failure),
        scheduler=scheduler,
    )


def _checked_executor(executor: object, *, is_async: bool) -> concurrent.futures.Executor | None:
    """``async_map``'s ``executor``: ``None`` or an ``Executor``, and never for an ``async def``."""
    if executor is None:
        return None
    if not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}"
        )
    if is_async:
        raise ValueError("executor cannot run an async def fn; drop executor= or use a plain fn")
    return executor
