"""An awaitable channel: asyncio code sends into an Rx pipeline, with backpressure.

``channel(maxsize)`` is the push-side counterpart of ``from_async_iterable``:
instead of the pipeline pulling from an async iterator, producer coroutines
``await ch.send(item)``. The channel is an ``Observable``, so a pipeline is
built on it with ``ch.pipe(...)``:

```text
  producer task(s) on the loop              the channel's one subscription
  ----------------------------              ------------------------------
  await ch.send(1)  --------------------->  on_next(1)  (inside send, on the loop)
  await ch.send(2)  --------------------->  on_next(2)  a queue downstream is full:
       (waits: the pipeline has no room)      it takes 2 and pauses the channel
       ...                                  drained below its low watermark
  (send returns)    <---------------------  resumed
  ch.close()        --------------------->  on_completed()
```

Before a subscriber arrives, up to ``maxsize`` sent items wait in the
channel; a ``send`` beyond that waits for the subscriber. Once subscribed,
those items are handed on first, in order, and ``send`` then pushes each item
straight into the pipeline and returns when the pipeline has room for the
next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.scheduler import CurrentThreadScheduler

from rxstreamz import _asyncio, _pause, _validate
from rxstreamz._queue import QueueStats
from rxstreamz.errors import BackpressureError

__all__ = ["Channel", "channel"]

_T = TypeVar("_T")

DEFAULT_MAXSIZE = 1024
"""Default number of items a channel holds before its subscriber arrives."""


class Channel(Observable[_T]):
    """An ``Observable`` fed by ``await send(item)``; made by ``channel()``.

    See ``channel`` for the semantics. ``send``, ``send_nowait`` and the
    delivery of items run on the event loop the channel is bound to: the
    loop of its first ``send``, or of its subscription when that comes first
    (from the loop's thread, or with an ``AsyncIOScheduler``). ``close``,
    ``fail``, ``stats`` and disposal may be called from any thread.
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, *, name: str | None = None) -> None:
        """Make an open channel (``Channel[int](64)`` is ``channel(64)`` typed at the call).

        Raises:
            TypeError: ``maxsize`` is not an ``int`` (a ``bool`` is not), or
                ``name`` is not a string.
            ValueError: ``maxsize`` is < 1.
        """
        super().__init__()
        self._maxsize = _validate.integer("maxsize", maxsize)
        self._name = _validate.name(name, "channel")
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer: deque[_T] = deque()
        self._observer: abc.ObserverBase[_T] | None = None
        self._subscribed = False  # ever: a channel serves one subscription
        self._gone = False  # the subscription was disposed or downstream failed
        self._closed = False  # close() or fail() was called
        self._error: Exception | None = None
        self._terminal_sent = False  # the terminal event was delivered
        self._flow: _pause.FlowControl | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._high_watermark = 0

    @property
    def name(self) -> str:
        """The channel's name, used in error messages."""
        return self._name

    @property
    def maxsize(self) -> int:
        """The most items the channel holds while nothing can take them."""
        return self._maxsize

    def stats(self) -> QueueStats:
        """Return a snapshot of the channel's counters.

        ``received`` counts the items ``send``/``send_nowait`` accepted,
        ``delivered`` the items handed to the subscriber, ``dropped`` the
        items accepted but never delivered (held when the subscription was
        disposed, or when the subscriber failed), ``queued`` the items held
        right now and ``high_watermark`` the most held at once (never more
        than ``maxsize``). ``received == delivered + dropped + queued``.
        """
        with self._lock:
            return QueueStats(
                received=self._received,
                failed=0,
                dropped=self._dropped,
                delivered=self._delivered,
                queued=len(self._buffer),
                high_watermark=self._high_watermark,
            )

    # -- the producer side: on the loop -------------------------------------------

    def _bind(self, call: str) -> asyncio.AbstractEventLoop:
        loop = _asyncio.running_loop()
        if loop is None:
            raise RuntimeError(
                f"channel {self._name!r}: {call} must be called on an event loop's thread"
            )
        with self._lock:
            if self._loop is None:
                self._loop = loop
        if loop is not self._loop:
            raise RuntimeError(
                f"channel {self._name!r}: {call} must run on the loop the channel is bound to; "
                "from another thread use "
                "asyncio.run_coroutine_threadsafe(ch.send(item), loop)"
            )
        return loop

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"channel {self._name!r} is closed: nothing more can be sent")
        if self._gone:
            raise RuntimeError(
                f"channel {self._name!r}: its subscriber has gone (disposed or failed); "
                "nothing more can be sent"
            )

    def _accept(self, item: _T) -> None:
        """Hold ``item`` until the subscription can take it (the caller checked the room)."""
        with self._lock:
            self._buffer.append(item)
            self._received += 1
            self._high_watermark = max(self._high_watermark, len(self._buffer))

    async def send(self, item: _T) -> None:
        """Send ``item`` into the pipeline; return once the pipeline has room for the next.

        Subscribed, and nothing held: the item goes downstream inside this
        call; if a queue downstream became full with it, ``send`` waits until
        that queue has drained. Not subscribed yet (or held items still
        being handed on): the item is held in the channel; ``send`` waits
        while the channel already holds ``maxsize`` items.

        Raises:
            RuntimeError: The channel is closed or failed, its subscriber has
                gone, or ``send`` runs on a loop other than the channel's.
                The item was then not taken.
        """
        loop = self._bind("send()")
        while True:
            self._check_open()
            if self._observer is None or self._buffer:
                if len(self._buffer) < self._maxsize:
                    self._accept(item)
                    return
                await self._changed(loop)
                continue
            flow = self._ensure_flow(loop)
            if flow.paused:  # another sender's item filled the pipeline
                await self._until_resumed(loop, flow)
                continue
            with self._lock:
                self._received += 1
            self._push(item)
            await self._until_resumed(loop, flow)
            return

    def send_nowait(self, item: _T) -> None:
        """Send ``item`` if that needs no waiting, else raise ``BackpressureError``.

        Call it on the channel's loop (from a coroutine or a callback). It
        takes the item when ``send`` would not have to wait before taking it:
        the pipeline is not paused, or the channel holds fewer than
        ``maxsize`` items.

        Raises:
            BackpressureError: No room: the item was not taken (and is not
                counted); retry later or ``await send(item)``.
            RuntimeError: As ``send``.
        """
        loop = self._bind("send_nowait()")
        self._check_open()
        if self._observer is None or self._buffer:
            if len(self._buffer) >= self._maxsize:
                raise self._full()
            self._accept(item)
            return
        flow = self._ensure_flow(loop)
        if flow.paused:
            raise self._full()
        with self._lock:
            self._received += 1
        self._push(item)

    def _full(self) -> BackpressureError:
        return BackpressureError(
            f"channel {self._name!r}: no room (maxsize {self._maxsize}, or the pipeline is "
            "paused); the item was not taken",
            processor=self._name,
            capacity=self._maxsize,
        )

    def _ensure_flow(self, loop: asyncio.AbstractEventLoop) -> _pause.FlowControl:
        if self._flow is None:
            self._flow = _pause.FlowControl(loop)
        return self._flow

    def _push(self, item: _T) -> bool:
        """Hand ``item`` to the subscriber, publishing the flow (on the loop)."""
        observer = self._observer
        flow = self._flow
        if observer is None or flow is None:
            with self._lock:
                self._dropped += 1
            return False
        try:
            with _pause.producing(flow):
                observer.on_next(item)
        except Exception as exc:  # the subscriber failed: nothing more goes through
            with self._lock:
                self._dropped += 1
            self._fail_now(exc)
            return False
        with self._lock:
            self._delivered += 1
        return True

    async def _changed(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for the next change: room, a subscriber, close, disposal."""
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)

    def _notify(self) -> None:
        """Wake every waiting sender (on the loop)."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _until_resumed(
        self, loop: asyncio.AbstractEventLoop, flow: _pause.FlowControl
    ) -> None:
        """Wait while the pipeline holds the flow paused, unless the subscription ends."""
        while flow.paused and not (self._gone or self._terminal_sent):
            changed: asyncio.Future[None] = loop.create_future()
            self._waiters.add(changed)  # now, so that a dispose before we run wakes us
            resumed = loop.create_task(flow.wait())
            try:
                await asyncio.wait((resumed, changed), return_when=asyncio.FIRST_COMPLETED)
            finally:
                resumed.cancel()
                self._waiters.discard(changed)

    # -- terminal events -------------------------------------------------------------

    def close(self) -> None:
        """Complete the stream after the items already sent; later sends raise.

        Senders waiting for room raise ``RuntimeError``. Calling ``close`` or
        ``fail`` again does nothing. Any thread.
        """
        self._close(None)

    def fail(self, error: Exception) -> None:
        """End the stream with ``error`` after the items already sent; later sends raise.

        Raises:
            TypeError: ``error`` is not an ``Exception``.
        """
        if not isinstance(error, Exception):
            raise TypeError(f"error must be an Exception, got {type(error).__name__}")
        self._close(error)

    def _close(self, error: Exception | None) -> None:
        """Accept nothing more; the terminal event follows the items held (any thread)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._error = error
        self._on_loop(self._settle)

    def _settle(self) -> None:
        """Wake senders; deliver the terminal event if nothing is held (on the loop)."""
        self._notify()
        with self._lock:
            observer = self._observer
            due = (
                observer is not None
                and self._closed
                and not self._terminal_sent
                and not self._buffer
                and self._flusher is None
            )
            if due:
                self._terminal_sent = True
        if due and observer is not None:
            if self._error is None:
                observer.on_completed()
            else:
                observer.on_error(self._error)

    def _on_loop(self, action: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or _asyncio.running_loop() is loop:
            action()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to wake
            loop.call_soon_threadsafe(action)

    # -- the subscription ---------------------------------------------------------------

    def _subscribe_core(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        loop = _asyncio.running_loop() or _asyncio.scheduler_loop(scheduler)
        with self._lock:
            if self._subscribed:
                raise RuntimeError(
                    f"channel {self._name!r} serves one subscription and already has had one; "
                    "share it with ops.share() or fan_out()"
                )
            self._subscribed = True
            self._observer = observer
            if self._loop is None:
                self._loop = loop
            bound = self._loop
        # Never deliver inside subscribe(): downstream does not hold its
        # disposable yet. Held items and a terminal event go out just after.
        if bound is not None:
            bound.call_soon_threadsafe(self._start)
        else:
            CurrentThreadScheduler.singleton().schedule(self._settle_action)
        return Disposable(self._dispose)

    def _settle_action(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        self._settle()

    def _start(self) -> None:
        """Hand on what was held before the subscription (on the loop)."""
        with self._lock:
            if self._gone or self._terminal_sent:
                return
            backlog = bool(self._buffer) and self._flusher is None
            if backlog:
                assert self._loop is not None
                self._flusher = self._loop.create_task(
                    self._flush(), name=f"rxstreamz-{self._name}-flush"
                )
        if not backlog:
            self._settle()

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        flow = self._ensure_flow(loop)
        try:
            while True:
                with self._lock:
                    if self._gone or not self._buffer:
                        break
                    item = self._buffer.popleft()
                self._notify()  # room for a waiting sender
                if not self._push(item):
                    break
                await flow.wait()
        except asyncio.CancelledError as cancelled:
            if self._gone:  # disposed: ending quietly is the point
                return
            problem = RuntimeError(
                f"channel {self._name!r}: the task handing on held items was cancelled "
                "without the subscription being disposed (its event loop is shutting down?)"
            )
            problem.__cause__ = cancelled
            self._fail_now(problem)
            raise
        finally:
            self._flusher = None
        self._settle()

    def _fail_now(self, error: Exception) -> None:
        """The subscriber failed or was cut off: drop what is held and tell it (on the loop)."""
        with self._lock:
            observer, self._observer = self._observer, None
            self._gone = True
            self._terminal_sent = True
            self._dropped += len(self._buffer)
            self._buffer.clear()
        self._notify()
        if observer is not None:
            observer.on_error(error)

    def _dispose(self) -> None:
        with self._lock:
            if self._gone:
                return
            self._gone = True
            self._observer = None
            self._dropped += len(self._buffer)
            self._buffer.clear()
            flusher = self._flusher
        if flusher is not None:
            self._on_loop(flusher.cancel)
        self._on_loop(self._notify)


def channel(maxsize: int = DEFAULT_MAXSIZE, *, name: str | None = None) -> Channel[_T]:  # pyright: ignore[reportInvalidTypeVarUse]
    """Make an awaitable channel: an ``Observable`` that asyncio code sends items into.

    The channel is a source with backpressure for producers *on* the event
    loop. ``await ch.send(item)`` pushes the item into the pipeline, inside
    the call, and returns once the pipeline has room for the next one: a
    bounded queue downstream that fills up (``async_map``'s in-flight work,
    a ``buffer_``) takes the item and pauses the channel, and ``send`` waits
    until that queue has drained. The loop never blocks and nothing fails
    with ``BackpressureError``.

    ```text
    send:          1   2   3.........(paused)......4   close()
    observable:   -1---2---3----------------------4---|
                           ^ a queue downstream is full with 3
    ```

    Behavior:
        - Before the subscription: sent items are held (at most ``maxsize``;
          a further ``send`` waits for the subscriber). They are handed on
          just after ``subscribe()`` returns, in order, before any later item.
        - One subscription: a second ``subscribe()`` gets ``on_error``
          with ``RuntimeError`` (share it with ``ops.share()`` or
          ``fan_out``).
        - ``close()`` completes and ``fail(exc)`` errors the stream after
          the items already sent; then ``send`` raises ``RuntimeError``.
        - Dispose: held items are dropped (counted in ``stats().dropped``),
          a paused ``send`` returns, and later sends raise ``RuntimeError``
          (the subscriber has gone: stop producing). An exception from
          downstream's ``on_next`` becomes ``on_error`` and ends it the same way.
        - Threads: ``send``/``send_nowait`` run on the channel's loop (the
          loop of the first send, or of the subscription). From another
          thread, ``asyncio.run_coroutine_threadsafe(ch.send(item), loop)``.
          ``close``, ``fail``, ``stats`` and dispose work from any thread.
        - ``send_nowait(item)`` takes the item only if no wait is needed,
          else raises ``BackpressureError`` (the item not taken).
        - Items are emitted on the loop's thread. Declare the item type at
          the call: ``ch: Channel[Order] = channel(64)``, or
          ``ch = Channel[Order](64)``.

    Examples:
        >>> import asyncio
        >>> async def main() -> list[int]:
        ...     ch: Channel[int] = channel(8)
        ...     seen: list[int] = []
        ...     ch.subscribe(seen.append)
        ...     for n in range(3):
        ...         await ch.send(n)
        ...     ch.close()
        ...     return seen
        >>> asyncio.run(main())
        [0, 1, 2]

    Args:
        maxsize: Items held while nothing can take them, before a
            subscriber arrives (>= 1).
        name: Name in errors and ``BackpressureError``; default ``"channel"``.

    Returns:
        A ``Channel``: an ``Observable`` with ``send``, ``send_nowait``,
        ``close``, ``fail`` and ``stats``.

    Raises:
        TypeError: ``maxsize`` is not an ``int`` (a ``bool`` is not), or
            ``name`` is not a string.
        ValueError: ``maxsize`` is < 1.
    """
    return Channel(maxsize, name=name)
