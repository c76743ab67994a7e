"""Plain helpers the tests share: virtual-time builders, a recording observer, bounded waits.

Fixtures live in ``tests/conftest.py``; everything here is imported explicitly
(``from tests.support import Recorder, on_next``).

Virtual time: ``TestScheduler`` counts seconds from the epoch, and a test
written against ``scheduler.start()`` sees three fixed instants, named below
after RxPY's ``ReactiveTest``: the observable is created at ``CREATED``,
subscribed at ``SUBSCRIBED`` and disposed at ``DISPOSED``. The message
builders take those seconds as floats (RxPY annotates them as ``int``).

Real time: nothing here sleeps for an outcome. ``wait_until`` polls a
condition with a deadline, ``Recorder.wait`` waits for the terminal event
with one, and ``wait_for_threads`` waits for threads to end.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Collection, Generator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import reactivex
from reactivex import Observable, abc, typing
from reactivex.disposable import Disposable, SingleAssignmentDisposable
from reactivex.notification import OnError
from reactivex.subject import Subject
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.recorded import Recorded
from reactivex.testing.subscription import Subscription

from rxstreamz import _pause

# -- virtual time ---------------------------------------------------------------------------

CREATED = float(ReactiveTest.created)
"""When ``TestScheduler.start()`` creates the observable under test (100 s)."""
SUBSCRIBED = float(ReactiveTest.subscribed)
"""When ``TestScheduler.start()`` subscribes to it (200 s)."""
DISPOSED = float(ReactiveTest.disposed)
"""When ``TestScheduler.start()`` disposes the subscription by default (1000 s)."""


def on_next(seconds: float, value: Any) -> Recorded[Any]:
    """An item ``value`` at virtual time ``seconds`` (a message of a hot source or a result)."""
    return ReactiveTest.on_next(cast(int, seconds), value)


def on_completed(seconds: float) -> Recorded[Any]:
    """Completion at virtual time ``seconds``."""
    return ReactiveTest.on_completed(cast(int, seconds))


def on_error(seconds: float, error: Exception | str) -> Recorded[Any]:
    """An error at virtual time ``seconds`` (a string matches any exception of that message)."""
    return ReactiveTest.on_error(cast(int, seconds), error)


def subscribe(start: float, end: float = DISPOSED) -> Subscription:
    """A subscription from ``start`` to ``end`` virtual seconds, as a source records it."""
    return ReactiveTest.subscribe(cast(int, start), cast(int, end))


def at(seconds: float) -> datetime:
    """The ``datetime`` TestScheduler reports at virtual time ``seconds``.

    >>> at(1.5)
    datetime.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=datetime.timezone.utc)
    """
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


@dataclass
class Timer:
    """One action a ``SpyScheduler`` was asked to schedule."""

    due: float
    """Virtual time it is due at."""
    armed: float
    """Virtual time at which it was scheduled."""
    name: str
    """The ``__name__`` of the scheduled action (``""`` when it has none)."""
    handle: abc.DisposableBase
    ran: bool = False

    @property
    def cancelled(self) -> bool:
        """Whether it was disposed (an action that ran and was disposed counts too)."""
        return isinstance(self.handle, SingleAssignmentDisposable) and self.handle.is_disposed


class SpyScheduler(TestScheduler):
    """A TestScheduler that records every action it schedules, as a ``Timer``.

    ``watch()`` starts a fresh record, so a test can leave out what
    ``scheduler.start()`` and the hot source's messages scheduled.
    """

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.timers: list[Timer] = []

    def watch(self) -> None:
        """Forget the timers recorded so far; record only those scheduled from now on."""
        self.timers = []

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[Any],
        state: Any = None,
    ) -> abc.DisposableBase:
        """Schedule ``action`` as TestScheduler does, recording it."""
        timer: Timer | None = None

        def run(scheduler: abc.SchedulerBase, state: Any = None) -> abc.DisposableBase | None:
            if timer is not None:
                timer.ran = True
            return action(scheduler, state)

        handle = super().schedule_absolute(duetime, run, state)
        timer = Timer(
            due=self.to_seconds(duetime),
            armed=float(self.clock),
            name=getattr(action, "__name__", ""),
            handle=handle,
        )
        self.timers.append(timer)
        return handle

    def pending(self) -> int:
        """How many recorded timers have neither run nor been cancelled."""
        return sum(1 for timer in self.timers if not timer.ran and not timer.cancelled)

    def live_timers_after(self, when: float) -> list[float]:
        """Due times of the recorded timers later than ``when`` that were never cancelled."""
        return [timer.due for timer in self.timers if timer.due > when and not timer.cancelled]

    def cancelled(self, due: float) -> list[bool]:
        """For each recorded timer due at ``due``, in order: whether it was cancelled."""
        return [timer.cancelled for timer in self.timers if timer.due == due]


def run(
    scheduler: TestScheduler,
    messages: list[Any],
    build: Callable[[Observable[Any]], Observable[Any]],
    disposed: float = DISPOSED,
) -> tuple[list[Any], list[Subscription]]:
    """Run ``build(hot source of messages)`` on ``scheduler``; return messages and subscriptions."""
    source = scheduler.create_hot_observable(*messages)
    result = scheduler.start(lambda: build(source), disposed=disposed)
    return result.messages, source.subscriptions


def dispose_while_emitting(
    operator: Callable[[Observable[int]], Observable[Any]], clock: TestScheduler, until: float
) -> tuple[bool, int]:
    """Dispose from this thread while downstream is inside an ``on_next`` made by a timer.

    ``operator`` must use ``clock``; one item is pushed at the start, then
    another thread advances ``clock`` to ``until`` so that a timer emits on that
    thread. Its downstream ``on_next`` waits (at most 2 s) until this thread's
    ``dispose()`` has returned.

    Returns:
        Whether ``dispose()`` returned while that ``on_next`` was still running
        (it did not wait for downstream), and how many items downstream got.
    """
    subject: Subject[int] = Subject()
    inside = threading.Event()
    released = threading.Event()
    outcome: list[bool] = []

    def on_next(_value: object) -> None:
        inside.set()
        outcome.append(released.wait(2))

    subscription = subject.pipe(operator).subscribe(on_next)
    subject.on_next(1)
    worker = threading.Thread(target=clock.advance_to, args=(until,))
    worker.start()
    assert inside.wait(5), "no timer emission reached downstream"
    subscription.dispose()
    released.set()
    worker.join(5)
    assert not worker.is_alive()
    return outcome[0], len(outcome)


# -- errors -----------------------------------------------------------------------------------


class Boom(Exception):
    """The exception the tests raise on purpose."""


class Abort(BaseException):
    """Neither an ``Exception`` nor ``KeyboardInterrupt``/``SystemExit``."""


class Ambiguous:
    """A result whose truth value raises, as a numpy array's or a pandas Series' does."""

    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")


def ambiguous_on(bad: int) -> Callable[[int], object]:
    """A predicate that answers ``True``, except an ``Ambiguous`` result for ``bad``."""

    def predicate(n: int) -> object:
        return Ambiguous() if n == bad else True

    return predicate


# -- sources ----------------------------------------------------------------------------------


def pushed(count: int, returned: list[int]) -> Observable[int]:
    """``count`` ints pushed in one loop that records each ``on_next`` that returned."""

    def push(observer: abc.ObserverBase[int], _: abc.SchedulerBase | None = None) -> Disposable:
        for n in range(count):
            observer.on_next(n)  # returns normally, also after the stream failed
            returned.append(n)
        observer.on_completed()
        return Disposable()

    return reactivex.create(push)


# -- real time --------------------------------------------------------------------------------

TIMEOUT = 10.0
"""Seconds a wait on a real thread may take before the test fails (reached only on failure)."""


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Poll ``predicate`` until it holds; whether it did within ``timeout`` seconds.

    For a state another thread reaches (not a timing assumption): returns as
    soon as it holds. Use it as ``assert wait_until(...)``.

    >>> wait_until(lambda: True)
    True
    >>> wait_until(lambda: False, timeout=0.01)
    False
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def wait_for_threads(
    before: Collection[threading.Thread], timeout: float = 5.0
) -> list[threading.Thread]:
    """Wait until no thread outside ``before`` is alive; return the ones still alive."""

    def extra() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]

    wait_until(lambda: not extra(), timeout)
    return extra()


@contextmanager
def no_new_threads(message: str = "threads outlived the test") -> Generator[None]:
    """Fail if the block leaves a thread running that was not there before it."""
    before = set(threading.enumerate())
    yield
    leaked = wait_for_threads(before)
    assert not leaked, f"{message}: {leaked}"


def produce(subject: Subject[int], seconds: float, pause_every: int = 0) -> int:
    """Push 0, 1, 2, ... for about ``seconds``; optionally idle briefly every few items."""
    idle = threading.Event()
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        subject.on_next(count)
        count += 1
        if pause_every and count % pause_every == 0:
            idle.wait(0.004)  # shapes the load (creates gaps); nothing waits on it
    subject.on_completed()
    return count


def start_thread(target: Callable[[], object]) -> threading.Thread:
    """Run ``target`` on a new daemon thread (a hung one cannot keep the run alive)."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


class Recorder(abc.ObserverBase[Any]):
    """An observer that records what it gets, from any thread, and signals the end.

    Attributes:
        items: The items, in arrival order.
        errors: Every ``on_error`` (a well-behaved stream sends at most one).
        completions: How many ``on_completed`` calls arrived.
        done: Set by the first terminal event.
        threads: Names of the threads that delivered items.
        thread_ids: Their ``threading.get_ident()``.
        overlapped: Whether two ``on_next`` calls ever ran at the same time.
    """

    def __init__(
        self,
        on_item: Callable[[Any], object] | None = None,
        on_end: Callable[[], object] | None = None,
    ) -> None:
        """``on_item`` runs with each item before it is recorded; ``on_end`` after the end."""
        self._on_item = on_item
        self._on_end = on_end
        self.items: list[Any] = []
        self.errors: list[Exception] = []
        self.completions = 0
        self.done = threading.Event()
        self.threads: set[str] = set()
        self.thread_ids: set[int] = set()
        self.overlapped = False
        self._lock = threading.Lock()
        self._busy = False

    @property
    def error(self) -> Exception | None:
        """The last error received, or None."""
        return self.errors[-1] if self.errors else None

    @property
    def completed(self) -> bool:
        """Whether the stream completed."""
        return self.completions > 0

    def on_next(self, value: Any) -> None:
        with self._lock:
            if self._busy:
                self.overlapped = True
            self._busy = True
        try:
            self.threads.add(threading.current_thread().name)
            self.thread_ids.add(threading.get_ident())
            if self._on_item is not None:
                self._on_item(value)
            with self._lock:
                self.items.append(value)
        finally:
            with self._lock:
                self._busy = False

    def on_error(self, error: Exception) -> None:
        with self._lock:
            self.errors.append(error)
        self._end()

    def on_completed(self) -> None:
        with self._lock:
            self.completions += 1
        self._end()

    def _end(self) -> None:
        self.done.set()
        if self._on_end is not None:
            self._on_end()

    def wait(self, timeout: float = TIMEOUT) -> None:
        """Fail unless the stream ends within ``timeout`` seconds."""
        assert self.done.wait(timeout), "the stream did not end"

    def subscribe(
        self, source: Observable[Any], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        """Subscribe this recorder to ``source``."""
        return source.subscribe(self, scheduler=scheduler)


class Pausing(Recorder):
    """A Recorder that pauses the flow published with chosen items, as a full queue would.

    A source that publishes its flow control (``_pause.current()``) while it
    pushes is paused by this observer after each item in ``pause_on``;
    ``resume()`` resumes every flow it paused.
    """

    def __init__(self, pause_on: Collection[object] = ()) -> None:
        super().__init__()
        self.pause_on = pause_on
        self.flows: list[_pause.FlowControl] = []

    def on_next(self, value: Any) -> None:
        super().on_next(value)
        if value in self.pause_on:
            flow = _pause.current()
            assert flow is not None, "the source publishes its flow while it pushes"
            flow.pause(self)
            self.flows.append(flow)

    def resume(self) -> None:
        """Resume every flow this observer paused."""
        for flow in self.flows:
            flow.resume(self)
        self.flows.clear()


def arrivals(gaps: list[int], start: int = 201) -> list[int]:
    """Virtual times of items arriving ``gaps`` apart, the first ``gaps[0]`` after ``start``.

    >>> arrivals([0, 5, 2])
    [201, 206, 208]
    """
    return list(itertools.accumulate(gaps, initial=start))[1:]


# -- argument checks --------------------------------------------------------------------------

Rejection = tuple[Callable[[], object], type[Exception], str]
"""A factory call, the exception it must raise, and a regular expression its message matches."""


def rejected_at_call_time(
    *cases: Rejection, exact: bool = False
) -> Callable[[Callable[[], object], type[Exception], str], None]:
    """A test, one case per ``Rejection``: the call raises at once, with that message.

    The message is a regular expression the error's message matches or, with
    ``exact``, the whole message. Bind the test to a ``test_`` name in the
    test module: ``test_monitor_rejects_invalid_arguments = rejected_at_call_time(...)``.
    """
    import pytest  # here, not at the top: the helpers above stay importable without it

    @pytest.mark.parametrize(("call", "error", "message"), cases)
    def test(call: Callable[[], object], error: type[Exception], message: str) -> None:
        with pytest.raises(error, match=None if exact else message) as info:
            call()
        if exact:
            assert str(info.value) == message

    return test


def failure_of(recorder: Recorder) -> tuple[str, str, list[str]]:
    """The one error ``recorder`` got, as (type name, message, notes): for exceptions not ours."""
    [error] = recorder.errors
    return type(error).__name__, str(error), getattr(error, "__notes__", [])


def two_subscriptions(
    scheduler: TestScheduler, piped: Observable[Any], first_at: float, second_at: float
) -> tuple[list[Recorded[Any]], list[Recorded[Any]]]:
    """Subscribe to ``piped`` at ``first_at`` and ``second_at``, run ``scheduler`` to the end.

    Returns what each subscription received, to show that they share no state.
    """
    first, second = subscribe_at(scheduler, (first_at, piped), (second_at, piped))
    return first, second


# -- resilience: retry_, dead_letter, circuit_breaker ---------------------------------------


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

    producer = start_thread(produce)
    assert done.wait(timeout), "the stream did not end"
    producer.join(timeout)
    return results


_Stats = TypeVar("_Stats")


def zeroed(record: Callable[..., _Stats], **counts: object) -> _Stats:
    """A stats record (``RetryStats``...) with ``counts`` and every other field 0.

    >>> from rxstreamz import RetryStats
    >>> zeroed(RetryStats, received=2, succeeded=2).in_flight
    0
    """
    names = [field.name for field in fields(cast(Any, record))]
    unknown = set(counts) - set(names)
    assert not unknown, f"{record} has no field {sorted(unknown)}"
    return record(**{**dict.fromkeys(names, 0), **counts})


def raising_on(bad: int, error: Callable[[int], BaseException] = Abort) -> Callable[[int], int]:
    """A function returning its argument, except ``bad``, for which it raises ``error(bad)``."""

    def fn(n: int) -> int:
        if n == bad:
            raise error(n)
        return n

    return fn


def run_escaping(
    scheduler: TestScheduler, op: Callable[[Observable[int]], Observable[Any]]
) -> RuntimeError:
    """Run 1, 2, 3 (at 210, 220, 230) through ``op``, whose ``fn`` raises ``Abort`` on 2.

    Checks that 1 went through and that the stream failed at 220 with the
    ``RuntimeError`` wrapping the ``Abort``, and returns that error.
    """
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2), on_next(230, 3))
    messages = scheduler.start(lambda: source.pipe(op)).messages
    assert messages[:-1] == [on_next(210, 1)]
    assert messages[-1].time == 220
    error = error_of(messages)
    assert isinstance(error, RuntimeError)
    assert isinstance(error.__cause__, Abort)
    return error


def subscribe_at(
    scheduler: TestScheduler, *plan: tuple[float, Observable[Any]]
) -> list[list[Recorded[Any]]]:
    """Subscribe to each observable at its virtual time (passing ``scheduler``), run, and
    return what each subscription received."""
    observers = [scheduler.create_observer() for _ in plan]
    for (when, observable), observer in zip(plan, observers, strict=True):

        def start(
            _: abc.SchedulerBase, __: Any = None, o: Observable[Any] = observable, s: Any = observer
        ) -> abc.DisposableBase:
            return o.subscribe(s, scheduler=scheduler)

        scheduler.schedule_absolute(when, start)
    scheduler.start()
    return [observer.messages for observer in observers]
