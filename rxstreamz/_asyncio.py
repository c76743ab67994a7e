"""Event loops for ``async def`` user functions, shared by ``async_map`` and the resilience loop.

A coroutine runs on the loop of the subscription's ``AsyncIOScheduler`` when
there is one, else on a private event loop in a daemon thread of its own
(``start_loop``), which ends when the loop is stopped.
"""

from __future__ import annotations

import asyncio
import threading

from reactivex import abc
from reactivex.scheduler.eventloop import AsyncIOScheduler

__all__ = ["escaped", "running_loop", "scheduler_loop", "start_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on the calling thread, or ``None``."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def scheduler_loop(scheduler: abc.SchedulerBase | None) -> asyncio.AbstractEventLoop | None:
    """The loop of an ``AsyncIOScheduler`` (or ``AsyncIOThreadSafeScheduler``), else ``None``.

    RxPY keeps the loop in a protected attribute and has no accessor, so it is
    read here, in one place, and checked.
    """
    if not isinstance(scheduler, AsyncIOScheduler):  # the thread-safe one is a subclass
        return None
    loop = vars(scheduler).get("_loop")
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def start_loop(thread_name: str) -> tuple[asyncio.AbstractEventLoop, int]:
    """Start a new event loop on a daemon thread; stopping the loop ends the thread.

    When the loop stops, the tasks still on it are cancelled and awaited, its
    async generators closed, and the loop closed.

    Returns:
        The running loop and the ident of its thread.
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    ident = 0

    def serve() -> None:
        nonlocal ident
        asyncio.set_event_loop(loop)
        ident = threading.get_ident()
        started.set()
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    threading.Thread(target=serve, name=thread_name, daemon=True).start()
    started.wait()
    return loop, ident


def escaped(error: BaseException, what: str) -> RuntimeError:
    """Wrap a ``BaseException`` that is not an ``Exception`` so that it can fail a stream.

    ``on_error`` takes an ``Exception``; a ``CancelledError`` from a user
    coroutine, or a ``KeyboardInterrupt``/``SystemExit`` raised on a worker
    thread, must still end the stream rather than leave it waiting forever.
    The original is the ``__cause__``.

    Args:
        error: What the call ended with.
        what: The call, for the message (``"the call of fn on an item"``).
    """
    problem = RuntimeError(f"{what} ended with {error!r}")
    problem.__cause__ = error
    return problem
