"""Helpers shared by the tests of retry_, dead_letter and circuit_breaker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from reactivex import Observable
from reactivex.notification import OnError
from reactivex.subject import Subject
from reactivex.testing import TestScheduler
from reactivex.testing.recorded import Recorded

from tests.support import Abort as Abort
from tests.support import at as at
from tests.support import on_completed as on_completed
from tests.support import on_error as on_error
from tests.support import on_next as on_next


def error_of(messages: list[Recorded[Any]]) -> Exception:
    """The exception of the ``on_error`` that ends ``messages``."""
    last = messages[-1].value
    assert isinstance(last, OnError)
    return last.exception


class Flaky:
    """Fails the first ``failures[item]`` calls for an item, then returns ``item * 10``.

    Records the scheduler time of every call and every exception raised.
    """

    def __init__(
        self,
        scheduler: TestScheduler,
        failures: dict[int, int],
        error: Callable[[int], Exception] = lambda n: ConnectionError(f"down {n}"),
    ) -> None:
        self.scheduler = scheduler
        self.failures = dict(failures)
        self.error = error
        self.calls: list[tuple[float, int]] = []
        self.raised: list[Exception] = []

    def __call__(self, item: int) -> int:
        self.calls.append((self.scheduler.clock, item))
        if self.failures.get(item, 0) > 0:
            self.failures[item] -= 1
            exc = self.error(item)
            self.raised.append(exc)
            raise exc
        return item * 10


class Feedback:
    """Runs ``op`` on a ``Subject`` whose downstream feeds two items back upstream.

    When the result of item 0 arrives, the observer calls ``source.on_next(1)``
    and ``source.on_next(2)`` on the emitting thread (a feedback loop). With
    ``max_pending=1`` the second one finds the queue full on the very thread
    that would have to drain it.
    """

    def __init__(self, op: Callable[[Observable[int]], Observable[int]]) -> None:
        self.source: Subject[int] = Subject()
        self.items: list[int] = []
        self.errors: list[Exception] = []
        self.done = threading.Event()
        self.source.pipe(op).subscribe(self._on_next, self._on_error, self.done.set)

    def _on_next(self, value: int) -> None:
        self.items.append(value)
        if value == 0:
            self.source.on_next(1)
            self.source.on_next(2)

    def _on_error(self, error: Exception) -> None:
        self.errors.append(error)
        self.done.set()

    def send_first(self, timeout: float = 5.0) -> bool:
        """Send item 0 from a helper thread; whether that ``on_next`` returned in time."""
        producer = threading.Thread(target=self.source.on_next, args=(0,), daemon=True)
        producer.start()
        producer.join(timeout)
        return not producer.is_alive()


class DisposedDuringCall:
    """Disposes a subscription while ``fn`` is running, then lets ``fn`` finish.

    ``fn`` (pass :meth:`call` to the operator) signals that it has started,
    waits until the test has disposed, then returns ``item * 10`` or raises
    ``ConnectionError`` (``fail=True``). Everything is synchronized with
    events, so the order is deterministic.
    """

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.entered = threading.Event()
        self.release = threading.Event()
        self.items: list[int] = []
        self.ended: list[str] = []

    def call(self, item: int) -> int:
        self.entered.set()
        assert self.release.wait(5)
        if self.fail:
            raise ConnectionError(item)
        return item * 10

    def run(self, op: Callable[[Observable[int]], Observable[int]]) -> None:
        """Subscribe, start one item on a producer thread, dispose mid-call, finish the call."""
        source: Subject[int] = Subject()
        subscription = source.pipe(op).subscribe(
            self.items.append,
            lambda e: self.ended.append(repr(e)),
            lambda: self.ended.append("done"),
        )
        producer = threading.Thread(target=source.on_next, args=(1,), daemon=True)
        producer.start()
        assert self.entered.wait(5)
        subscription.dispose()
        self.release.set()
        producer.join(5)
        assert not producer.is_alive()


def produce_on_a_thread(
    op: Callable[[Observable[int]], Observable[int]], count: int, timeout: float = 60.0
) -> list[int]:
    """Push ``0 .. count - 1`` and completion through ``op`` from a producer thread.

    Returns the items that came out, once the stream has ended (an error ends
    it too: compare the items to see it).
    """
    source: Subject[int] = Subject()
    results: list[int] = []
    done = threading.Event()
    source.pipe(op).subscribe(results.append, lambda _: done.set(), done.set)

    def produce() -> None:
        for n in range(count):
            source.on_next(n)
        source.on_completed()

    producer = threading.Thread(target=produce)
    producer.start()
    assert done.wait(timeout), "the stream did not end"
    producer.join(timeout)
    return results
