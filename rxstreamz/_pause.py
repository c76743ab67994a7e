"""Flow control for async producers: pause instead of block on the event loop.

A producer on another thread is slowed by a full ``"block"`` queue the plain
way: its ``on_next`` waits for room. A producer that runs *on* an event loop
cannot wait like that, because the loop it would block is often the one that
drains the queue. An async source therefore pushes each item inside
``producing(flow)``:

```text
  async source (on the loop)          queue (somewhere downstream, same call)
  ---------------------------         ---------------------------------------
  with producing(flow):
      observer.on_next(item)  ----->  full, on the loop's thread:
                                        take the item anyway (one over),
                                        flow.pause(queue)
  await flow.wait()           <-----  ... drained below its low watermark:
  (pull the next item)                  flow.resume(queue)
```

``on_next`` runs synchronously down the chain, so a ``ContextVar`` set around
it is visible to every queue the item reaches. The same idea as asyncio
transports' ``pause_reading()`` / ``resume_reading()``: the producer stops
reading until the consumer catches up, and no thread ever blocks the loop.

A flow can be paused by several queues at once; it runs again when every one
of them has resumed it. ``resume`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Generator

__all__ = ["FlowControl", "current", "producing"]


class FlowControl:
    """The pause/resume handle of one async producer on one event loop.

    Args:
        loop: The loop the producer runs on.
    """

    __slots__ = ("_lock", "_pausers", "_resumed", "loop", "thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread = threading.current_thread()
        self._lock = threading.Lock()
        self._pausers: set[object] = set()
        self._resumed = asyncio.Event()
        self._resumed.set()

    @property
    def paused(self) -> bool:
        """Whether any queue holds this producer paused."""
        return bool(self._pausers)

    def pause(self, by: object) -> None:
        """Pause the producer until ``by`` resumes it (call on the loop's thread)."""
        with self._lock:
            self._pausers.add(by)
            self._resumed.clear()

    def resume(self, by: object) -> None:
        """Withdraw ``by``'s pause; the producer runs once no pause is left (any thread)."""
        with self._lock:
            if by not in self._pausers:
                return
            self._pausers.discard(by)
            if self._pausers:
                return
        if threading.current_thread() is self.thread:
            self._wake()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to wake
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        with self._lock:
            idle = not self._pausers
        if idle:
            self._resumed.set()

    async def wait(self) -> None:
        """Return once no queue holds the producer paused."""
        while self.paused:
            await self._resumed.wait()


_CURRENT: contextvars.ContextVar[FlowControl | None] = contextvars.ContextVar(
    "rxstreamz_flow", default=None
)


def current() -> FlowControl | None:
    """The flow of the async producer whose ``on_next`` is running, if any, on this thread."""
    flow = _CURRENT.get()
    if flow is None or flow.thread is not threading.current_thread():
        return None
    return flow


@contextlib.contextmanager
def producing(flow: FlowControl) -> Generator[None]:
    """Publish ``flow`` to the queues downstream for the duration of one push."""
    token = _CURRENT.set(flow)
    try:
        yield
    finally:
        _CURRENT.reset(token)
