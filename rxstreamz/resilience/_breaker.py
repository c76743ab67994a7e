"""``CircuitBreaker`` and ``circuit_breaker``: stop calling a failing dependency for a while.

The state machine:

```text
           failures / calls >= failure_threshold over the window
           of recent calls (once it holds min_requests calls,
           checked after a failure)
    closed ------------------------------------------------> open
      ^                                                       |  ^
      | half_open_requests trial                              |  |
      | calls succeed (counters and                           |  |
      | window reset)                      an item arrives    |  | a trial
      |                                    recovery_timeout   |  | call fails
      |                                    after opening      v  |
      +--------------------------------------------------- half-open
```

The window (``window_size`` calls, ``window_duration`` seconds, or both) is
what keeps a long healthy history from holding the circuit closed: only recent
calls count.
"""

from __future__ import annotations

import inspect
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from types import CoroutineType
from typing import Any, ClassVar, Literal, TypedDict, TypeVar, overload

from reactivex import abc
from reactivex.scheduler import TimeoutScheduler
from typing_extensions import Unpack, override

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import BreakerOperator
from rxstreamz.errors import CircuitOpenError
from rxstreamz.resilience import _runner

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerOperator",
    "CircuitBreakerOperatorStats",
    "CircuitBreakerStats",
    "CircuitState",
    "circuit_breaker",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

CircuitState = Literal["closed", "open", "half-open"]
"""The state of a circuit breaker."""

OnStateChange = Callable[[CircuitState, CircuitState], object]
"""Called with ``(old, new)`` on every transition."""

Now = datetime | Callable[[], datetime] | None
"""The time, a function returning it, or ``None`` (the breaker's own clock)."""


@dataclass(frozen=True, slots=True)
class CircuitBreakerStats:
    """A snapshot of a circuit breaker.

    ``requests``, ``successes``, ``failures`` and ``consecutive_failures`` are
    reset when the circuit closes again after a half-open trial; ``rejected``
    is never reset. They count every call since then, not only the calls of
    the rolling window that decides when the circuit opens.

    Attributes:
        requests: Calls made (rejected items excluded) since the last reset.
        successes: Calls that returned.
        failures: Calls that raised (in both ``errors`` modes).
        rejected: Items refused without a call while the circuit was open (or
            while every half-open trial slot was taken).
        state: ``"closed"``, ``"open"`` or ``"half-open"``.
        consecutive_failures: Failures since the last success.
    """

    requests: int
    successes: int
    failures: int
    rejected: int
    state: CircuitState
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class CircuitBreakerOperatorStats(ProcessorStats):
    """A snapshot of a ``circuit_breaker`` operator: its own counts and its breaker's.

    ``received``, ``failed``, ``dropped``, ``emitted``, ``queued`` and
    ``in_flight`` belong to the operator (summed over its subscriptions,
    never reset), with
    ``received == emitted + failed + dropped + queued + in_flight``
    (a snapshot taken while items flow may be one item apart). The other
    fields are the breaker's ``CircuitBreakerStats``, shared with every
    operator and caller using the same breaker, and reset as it closes.

    Attributes:
        received: Items taken from upstream.
        failed: Items that ended in an exception, in both ``errors`` modes: a
            call that raised, or a rejection (``CircuitOpenError``).
        dropped: Items that will never be emitted because the subscription
            was disposed or failed while they were queued (behind an
            ``async def`` call) or in progress.
        state: The breaker's ``state``.
        requests: The breaker's ``requests``.
        successes: The breaker's ``successes``.
        failures: The breaker's ``failures``.
        rejected: The breaker's ``rejected``.
        consecutive_failures: The breaker's ``consecutive_failures``.
        emitted: Items whose call succeeded (result emitted).
        queued: Items waiting now behind an ``async def`` call in progress.
        in_flight: Items whose call is running now, at most one per
            subscription.
    """

    state: CircuitState
    requests: int
    successes: int
    failures: int
    rejected: int
    consecutive_failures: int
    emitted: int
    queued: int
    in_flight: int


_SLICES = 10
"""A time window is kept as this many slices of ``window_duration / _SLICES``."""


class _Window(ABC):
    """The outcomes of the latest calls made in the closed state.

    ``calls`` and ``failures`` are what the failure rate is computed from;
    ``add`` records one outcome (``failed`` is 0 or 1) and drops what left the
    window, in O(1).
    """

    __slots__ = ("calls", "failures")

    timed: ClassVar[bool] = False
    """Whether ``add`` needs the time of the call."""

    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0

    @abstractmethod
    def add(self, failed: int, now: datetime | None) -> None:
        """Record one call's outcome at ``now`` (``None`` unless ``timed``)."""

    @abstractmethod
    def clear(self) -> None:
        """Forget every call."""


class _CountWindow(_Window):
    """The last ``size`` calls: a ring of outcomes and its running failure count."""

    __slots__ = ("_head", "_ring", "_size")

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._ring = [0] * size  # 1 for a failure; a slot not yet used holds 0
        self._head = 0  # the slot of the oldest call, overwritten next

    @override
    def add(self, failed: int, now: datetime | None) -> None:
        head = self._head
        ring = self._ring
        self.failures += failed - ring[head]
        ring[head] = failed
        head += 1
        self._head = 0 if head == self._size else head
        if self.calls < self._size:
            self.calls += 1

    def add_successes(self, n: int) -> None:
        """Record ``n`` successful calls at once (slices of the ring zeroed in C)."""
        size, head, ring = self._size, self._head, self._ring
        self.calls = min(size, self.calls + n)
        if n >= size:
            ring[:] = [0] * size
            self.failures = 0
        else:
            end = head + n
            if end > size:  # wraps: the tail of the ring, then its start
                self.failures -= sum(ring[head:]) + sum(ring[: end - size])
                ring[head:] = [0] * (size - head)
                ring[: end - size] = [0] * (end - size)
            else:
                self.failures -= sum(ring[head:end])
                ring[head:end] = [0] * n
        self._head = (head + n) % size

    @override
    def clear(self) -> None:
        self._ring = [0] * self._size
        self._head = self.calls = self.failures = 0


class _Tally:
    """The successes one operator subscription made in the closed state, not yet folded in.

    Written without a lock: ``successes`` only by the subscription (one
    owner at a time), ``folded`` and ``generation`` only under the breaker's
    lock (the subscription changes ``generation`` there too). The breaker
    folds every tally in before it looks at its window or its counters.
    """

    __slots__ = ("folded", "generation", "successes")

    def __init__(self, generation: int) -> None:
        self.generation = generation  # of every pending success
        self.successes = 0
        self.folded = 0


class _SlicedWindow(_Window):
    """A time window: the calls of the current slice and of the ``_SLICES - 1`` before it.

    Time is cut into slices of ``duration / _SLICES``, counted from the first
    call added since the window was created or cleared. A call stops counting
    once its slice is ``_SLICES`` slices behind the latest call's: between
    ``duration * (1 - 1 / _SLICES)`` and ``duration`` after it was made. A
    clock that goes back counts the call in the latest slice.
    """

    __slots__ = ("_current", "_origin", "_width")

    timed = True

    def __init__(self, duration: timedelta) -> None:
        super().__init__()
        self._width = duration / _SLICES
        self._origin: datetime | None = None
        self._current = 0  # the latest slice, counted from the origin

    def _slice(self, now: datetime) -> int:
        if self._origin is None:
            self._origin = now
        return max(self._current, (now - self._origin) // self._width)

    @override
    def clear(self) -> None:
        self._origin = None
        self._current = self.calls = self.failures = 0


class _TimeWindow(_SlicedWindow):
    """A time window alone: one bucket of counts per slice, in a ring."""

    __slots__ = ("_bucket_calls", "_bucket_failures")

    def __init__(self, duration: timedelta) -> None:
        super().__init__(duration)
        self._bucket_calls = [0] * _SLICES
        self._bucket_failures = [0] * _SLICES

    @override
    def add(self, failed: int, now: datetime | None) -> None:
        assert now is not None
        current = self._slice(now)
        calls, failures = self._bucket_calls, self._bucket_failures
        # Empty the buckets of the slices that begin between the previous call's
        # slice and this one (at most _SLICES of them): their old calls expire.
        for passed in range(max(self._current + 1, current - _SLICES + 1), current + 1):
            slot = passed % _SLICES
            self.calls -= calls[slot]
            self.failures -= failures[slot]
            calls[slot] = failures[slot] = 0
        self._current = current
        slot = current % _SLICES
        calls[slot] += 1
        failures[slot] += failed
        self.calls += 1
        self.failures += failed

    @override
    def clear(self) -> None:
        super().clear()
        self._bucket_calls = [0] * _SLICES
        self._bucket_failures = [0] * _SLICES


class _CountAndTimeWindow(_SlicedWindow):
    """Both windows: the last ``size`` calls, minus those older than the time window."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int, duration: timedelta) -> None:
        super().__init__(duration)
        self._size = size
        self._entries: deque[tuple[int, int]] = deque()  # (slice, failed), oldest first

    @override
    def add(self, failed: int, now: datetime | None) -> None:
        assert now is not None
        current = self._current = self._slice(now)
        entries = self._entries
        while entries and (entries[0][0] <= current - _SLICES or len(entries) >= self._size):
            self.failures -= entries.popleft()[1]
        entries.append((current, failed))
        self.calls = len(entries)
        self.failures += failed

    @override
    def clear(self) -> None:
        super().clear()
        self._entries.clear()


def _window(size: int | None, duration: timedelta | None) -> _Window:
    if duration is None:
        assert size is not None
        return _CountWindow(size)
    return _TimeWindow(duration) if size is None else _CountAndTimeWindow(size, duration)


def _window_duration(value: object) -> timedelta | None:
    """Check ``window_duration``: ``None``, or long enough for its slices and not too long."""
    if value is None:
        return None
    seconds = _validate.duration("window_duration", value)
    span = value if isinstance(value, timedelta) else timedelta(seconds=seconds)
    if span < timedelta(microseconds=_SLICES):
        raise ValueError(
            f"window_duration must be at least {_SLICES} microseconds "
            f"(one per slice of the window), got {value!r}"
        )
    return span


class CircuitBreaker:
    """A thread-safe circuit breaker, shareable by several pipelines.

    Pass one object to several ``circuit_breaker(fn, breaker=...)`` operators
    (or use it from your own code) and they all see the same state: when calls
    to a dependency fail often enough, every pipeline stops calling it until
    ``recovery_timeout`` has passed.

    Rules:
        - **closed**: calls pass, and their outcomes go into a rolling
          window of recent calls. After a failure, once the window holds at
          least ``min_requests`` calls, the circuit opens if
          ``failures / calls >= failure_threshold`` over the window.
        - **open**: calls are rejected. When a call is asked for and
          ``recovery_timeout`` has passed since opening, the circuit turns
          half-open (lazily: no timer runs).
        - **half-open**: at most ``half_open_requests`` trial calls are let
          through (more are rejected); the first failure reopens the circuit at
          once; ``half_open_requests`` successes close it, empty the window
          and reset ``requests``, ``successes``, ``failures`` and
          ``consecutive_failures``.

    The window is the last ``window_size`` calls (default 100), or the calls of
    the last ``window_duration`` seconds of the breaker's clock, or, with both,
    the calls in both. The time window is kept in 10 slices of
    ``window_duration / 10`` (to the microsecond), counted from the first call
    after the circuit (re)closed: a call stops counting when its slice is 10 slices behind the
    latest call's, so between ``0.9 * window_duration`` and
    ``window_duration`` after it was made. Memory and work per call are O(1)
    whatever the traffic. The counters of ``stats()`` are not windowed.

    ``on_state_change(old, new)`` is called on every transition, under the
    breaker's lock (so in transition order): keep it short, and do not wait in
    it for another thread that uses the breaker. If it raises, the transition
    stands and the exception goes to whoever triggered it.

    A result counts in the statistics whenever it arrives, but only a call let
    through in the current state may change the state: a slow call started
    before the circuit opened does not count as a half-open trial.

    Time comes from ``scheduler`` if given, else from the ``now`` the caller
    passes (the operators pass their scheduler's), else the wall clock of
    ``TimeoutScheduler``.

    Examples:
        >>> breaker = CircuitBreaker(min_requests=2, failure_threshold=0.5)
        >>> ticket = breaker.acquire()
        >>> breaker.record(ticket, success=True)
        >>> breaker.record(breaker.acquire(), success=False)
        >>> breaker.state
        'open'
        >>> breaker.acquire() is None
        True
        >>> stats = breaker.stats()
        >>> stats.requests, stats.failures, stats.rejected
        (2, 1, 1)

    Args:
        failure_threshold: Failure ratio that opens the circuit, in ``(0, 1]``.
        min_requests: Calls the window must hold before the ratio is looked
            at (>= 1).
        window_size: The window's length in calls (>= ``min_requests``), or
            ``None`` for no count limit (then ``window_duration`` is needed).
        window_duration: The window's length in seconds (or ``timedelta``) of
            the breaker's clock, at least 10 microseconds; ``None`` (default):
            no time limit.
        recovery_timeout: Seconds (or ``timedelta``) to stay open (> 0).
        half_open_requests: Trial calls in half-open; that many successes
            close the circuit (>= 1).
        on_state_change: Called with ``(old, new)`` state strings.
        scheduler: The clock (see above).

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range (durations are bounded by
            ``threading.TIMEOUT_MAX``), ``window_size`` is below
            ``min_requests``, or both windows are ``None``.
    """

    def __init__(
        self,
        *,
        failure_threshold: float = 0.5,
        min_requests: int = 10,
        window_size: int | None = 100,
        window_duration: float | timedelta | None = None,
        recovery_timeout: float | timedelta = 30.0,
        half_open_requests: int = 3,
        on_state_change: OnStateChange | None = None,
        scheduler: abc.SchedulerBase | None = None,
    ) -> None:
        threshold = _validate.number("failure_threshold", failure_threshold, maximum=1.0)
        if threshold <= 0:
            raise ValueError(f"failure_threshold must be > 0, got {failure_threshold}")
        self.failure_threshold = threshold
        self.min_requests = _validate.integer("min_requests", min_requests)
        self.window_size = _validate.optional_integer("window_size", window_size)
        if self.window_size is not None and self.window_size < self.min_requests:
            raise ValueError(
                f"window_size must be >= min_requests ({self.min_requests}), got {window_size}: "
                "a smaller window never holds enough calls to open the circuit"
            )
        self.window_duration = _window_duration(window_duration)
        if self.window_size is None and self.window_duration is None:
            raise ValueError(
                "window_size and window_duration cannot both be None: "
                "the failure rate is measured over a window of recent calls"
            )
        self.recovery_timeout = timedelta(
            seconds=_validate.duration("recovery_timeout", recovery_timeout)
        )
        self.half_open_requests = _validate.integer("half_open_requests", half_open_requests)
        self.on_state_change = _validate.optional_function("on_state_change", on_state_change)
        self.scheduler = _validate.scheduler(scheduler)
        self._lock = threading.RLock()  # on_state_change may read the breaker
        self._state: CircuitState = "closed"
        self._generation = 0  # bumped by every transition; a ticket is the generation
        # The generation while closed, else None: what a lock-free acquire reads.
        self._closed_ticket: int | None = 0
        self._opened_at: datetime | None = None
        self._trials = 0  # half-open calls let through
        self._trial_successes = 0
        self._window = _window(self.window_size, self.window_duration)
        self._requests = 0
        self._successes = 0
        self._failures = 0
        self._consecutive_failures = 0
        self._rejected = 0
        self._tallies: set[_Tally] = set()  # of the operators' live subscriptions

    @property
    def state(self) -> CircuitState:
        """``"closed"``, ``"open"`` or ``"half-open"`` (open turns half-open lazily)."""
        return self._state

    def stats(self) -> CircuitBreakerStats:
        """Return a consistent snapshot of the counters and the state."""
        with self._lock:
            self._fold()
            return CircuitBreakerStats(
                requests=self._requests,
                successes=self._successes,
                failures=self._failures,
                rejected=self._rejected,
                state=self._state,
                consecutive_failures=self._consecutive_failures,
            )

    def acquire(self, now: Now = None) -> int | None:
        """Ask to make one call.

        Args:
            now: The current time, or a function returning it (only called
                when the time matters); ignored when the breaker has a
                ``scheduler``.

        Returns:
            A ticket to hand to ``record`` (or ``abandon``) when the
            call ends, or ``None`` when the call is rejected (counted in
            ``rejected``).
        """
        # Closed: no lock. A transition racing with this read at worst hands
        # out a ticket of the previous state, which counts but changes nothing,
        # exactly as if this call had been asked for a moment earlier.
        ticket = self._closed_ticket
        if ticket is not None:
            return ticket
        with self._lock:
            if self._state == "open":
                assert self._opened_at is not None
                if self._now(now) - self._opened_at < self.recovery_timeout:
                    self._rejected += 1
                    return None
                self._transition("half-open")
            if self._state == "half-open":
                if self._trials >= self.half_open_requests:
                    self._rejected += 1
                    return None
                self._trials += 1
            return self._generation

    def record(self, ticket: int, *, success: bool, now: Now = None) -> None:
        """Report how the call allowed by ``ticket`` ended, and apply the rules.

        Args:
            ticket: What ``acquire`` returned for the call.
            success: Whether the call succeeded.
            now: As for ``acquire``.
        """
        with self._lock:
            self._apply(ticket, success, now)

    def _apply(self, ticket: int, success: bool, now: Now) -> None:
        """``record``, lock held."""
        self._fold()
        self._requests += 1
        if success:
            self._successes += 1
            self._consecutive_failures = 0
        else:
            self._failures += 1
            self._consecutive_failures += 1
        if ticket != self._generation:
            return  # admitted under an earlier state: counted, no transition
        if self._state == "closed":
            window = self._window
            window.add(not success, self._now(now) if window.timed else None)
            if (
                not success
                and window.calls >= self.min_requests
                and window.failures / window.calls >= self.failure_threshold
            ):
                self._open(now)
        elif self._state == "half-open":
            if not success:
                self._open(now)
                return
            self._trial_successes += 1
            if self._trial_successes >= self.half_open_requests:
                self._requests = self._successes = self._failures = 0
                self._consecutive_failures = 0
                self._window.clear()
                self._transition("closed")

    def abandon(self, ticket: int) -> None:
        """Give back the ticket of a call that was never made or whose result is lost.

        Frees the half-open trial slot it held; nothing is counted.
        """
        with self._lock:
            if ticket == self._generation and self._state == "half-open":
                self._trials -= 1

    def _closed_path(
        self, fn: Callable[[Any], Any], hold: Callable[[int], object], now: Now
    ) -> tuple[Callable[[Any], Any], Callable[[], None]] | None:
        """The fast path of one operator subscription, and what to call when it ends.

        The path makes an item's call if the circuit is closed (reading the
        ticket as ``acquire`` does), and counts a success in the
        subscription's ``_Tally``, without a lock (a time window, which needs
        the time of each call, records it under the lock at once); otherwise
        it returns ``GATED``. A failure, or a coroutine, leaves its ticket to
        ``hold``, for ``record`` under the lock.

        ``None`` when a subclass overrides ``acquire`` or ``record``: it must
        see every call.
        """
        if (
            type(self).acquire is not CircuitBreaker.acquire
            or type(self).record is not CircuitBreaker.record
        ):
            return None
        timed = self._window.timed
        with self._lock:
            tally = _Tally(self._generation)
            self._tallies.add(tally)
        breaker = self

        def call(item: Any) -> Any:
            ticket = breaker._closed_ticket
            if ticket is None:
                return _runner.GATED
            try:
                result: object = fn(item)
            except BaseException:
                hold(ticket)
                raise
            if type(result) is CoroutineType:
                hold(ticket)
            elif timed:
                breaker._record_success(tally, ticket, now)
            elif ticket == tally.generation:
                tally.successes += 1
            else:  # the first success under a new generation
                breaker._retally(tally, ticket)
            return result  # pyright: ignore[reportUnknownVariableType] (narrowed above)

        def retire() -> None:  # what is tallied after this is lost, as a result after dispose
            with breaker._lock:
                if tally in breaker._tallies:
                    breaker._fold()
                    breaker._tallies.discard(tally)

        return call, retire

    def _record_success(self, tally: _Tally, ticket: int, now: Now) -> None:
        """``record`` a success of the fast path, unless its subscription is over."""
        with self._lock:
            if tally in self._tallies:  # else lost, as a result after dispose
                self._apply(ticket, True, now)

    def _retally(self, tally: _Tally, ticket: int) -> None:
        """Record a success admitted under ``ticket``, not ``tally``'s generation."""
        with self._lock:
            self._fold()
            tally.generation = ticket
            tally.successes += 1

    def _fold(self) -> None:
        """Count the successes of every tally not counted yet (lock held).

        Those of the current generation, in the closed state, go into the
        window; the others were admitted under an earlier state, and count
        in the counters only (as in ``record``).
        """
        for tally in self._tallies:
            n = tally.successes - tally.folded
            if n:
                tally.folded += n
                self._requests += n
                self._successes += n
                self._consecutive_failures = 0
                if tally.generation == self._generation and self._state == "closed":
                    assert isinstance(self._window, _CountWindow)
                    self._window.add_successes(n)

    def _now(self, given: Now) -> datetime:
        if self.scheduler is not None:
            return self.scheduler.now
        if given is None:
            return TimeoutScheduler.singleton().now
        return given if isinstance(given, datetime) else given()

    def _open(self, now: Now) -> None:
        self._opened_at = self._now(now)
        self._transition("open")

    def _transition(self, new: CircuitState) -> None:
        self._fold()  # what happened before the transition counts under the old state
        self._generation += 1
        old, self._state = self._state, new
        # One attribute, written at once: a lock-free acquire() reads the
        # ticket of the closed state it sees, or None.
        self._closed_ticket = self._generation if new == "closed" else None
        self._trials = self._trial_successes = 0
        if self.on_state_change is not None:
            try:
                self.on_state_change(old, new)
            except Exception as exc:
                exc.add_note(f"rxstreamz: raised by on_state_change ({old!r} -> {new!r})")
                raise

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self._state}>"


class CircuitBreakerOperator(_runner.Operator[_T, _R]):
    """The operator returned by ``circuit_breaker``."""

    def __init__(
        self,
        fn: Callable[[_T], Any],
        breaker: CircuitBreaker,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        # Items wait only behind an ``async def`` call (a sync call never
        # queues); circuit_breaker has no max_pending option: unbounded.
        super().__init__(fn, name=failures.processor, max_pending=None, scheduler=scheduler)
        self.breaker = breaker
        self._failures = failures

    @property
    def state(self) -> CircuitState:
        """The breaker's state."""
        return self.breaker.state

    def stats(self) -> CircuitBreakerOperatorStats:
        """Return this operator's counts together with its breaker's snapshot.

        The breaker's fields are shared with every operator using the same
        breaker; ``received``, ``failed``, ``dropped``, ``emitted``,
        ``queued`` and ``in_flight`` are this operator's alone.
        """
        totals = asdict(self._totals())
        own = {key: totals[key] for key in ("received", "failed", "dropped", "queued", "in_flight")}
        shared = asdict(self.breaker.stats())
        return CircuitBreakerOperatorStats(emitted=totals["succeeded"], **own, **shared)

    @override
    def _step(self, clock: abc.SchedulerBase) -> _runner.Step[_T, _R]:
        return _BreakerStep(self, self._failures, clock)

    @override
    def __repr__(self) -> str:
        return f"<CircuitBreakerOperator {self.name!r} {self.breaker.state}>"


class _BreakerStep(_runner.Step[_T, _R]):
    """What ``circuit_breaker`` does with each item of one subscription.

    In the closed state an item takes the fast path, ``call``
    (``CircuitBreaker._closed_path``): it reads the ticket as ``acquire``
    does, calls ``fn``, and counts a success in the subscription's
    ``_Tally``, without a lock (a time window records it at once, under the
    lock). Otherwise ``call`` returns GATED and the item goes through
    ``admit`` (``acquire``), ``fn`` and ``succeeded`` (``record``). A
    failure is recorded under the lock either way.
    """

    __slots__ = (
        "_breaker",
        "_clock",
        "_disposed",
        "_failures",
        "_held",
        "_name",
        "_now",
        "_retire",
    )

    watches_success = True

    def __init__(
        self, op: CircuitBreakerOperator[_T, _R], failures: Failures, clock: abc.SchedulerBase
    ) -> None:
        super().__init__(op.fn)
        self._breaker = op.breaker
        self._name = op.name
        self._failures = failures
        self._clock = clock
        # The ticket of the item in progress (at most one) when its outcome is
        # recorded under the lock. The owner's outcome and a dispose may race
        # to hand it back: whoever pops it settles it, exactly once (list.pop
        # is atomic, and cheaper than a lock round trip on every item); a
        # ticket held after dispose() is given back at once (see _hold).
        self._held: list[int] = []
        self._disposed = False
        self._now: Callable[[], datetime] = lambda: clock.now  # read only when needed
        self._retire: Callable[[], None] | None = None
        fast = op.breaker._closed_path(self.fn, self._hold, self._now)  # pyright: ignore[reportPrivateUsage]
        if fast is None:
            self.call = _gated
        else:
            self.call, self._retire = fast

    @override
    def admit(self, item: _T) -> Exception | None:
        ticket = self._breaker.acquire(self._now)
        if ticket is None:
            return CircuitOpenError(f"{self._name}: the circuit is open, item rejected")
        self._hold(ticket)
        return None

    @override
    def succeeded(self, item: _T) -> None:
        self._record(success=True)

    @override
    def failed(self, item: _T, error: Exception, attempts: int) -> _runner.Verdict:
        if attempts:  # 0: rejected, no call was made
            self._record(success=False)
        return self._failures.handle(error, item, self._clock.now, attempts=attempts)

    @override
    def failed_fatally(self, item: _T) -> None:
        self._record(success=False)

    @override
    def dispose(self) -> None:
        self._disposed = True
        ticket = self._take_ticket()
        if ticket is not None:
            self._breaker.abandon(ticket)
        if self._retire is not None:
            self._retire()

    def _hold(self, ticket: int) -> None:
        self._held.append(ticket)
        if self._disposed:  # disposed meanwhile: no outcome will be recorded
            self.dispose()

    def _take_ticket(self) -> int | None:
        try:
            return self._held.pop()
        except IndexError:  # settled, or given back by dispose(): the result is lost
            return None

    def _record(self, *, success: bool) -> None:
        ticket = self._take_ticket()
        if ticket is not None:
            self._breaker.record(ticket, success=success, now=self._now)


def _gated(item: object) -> object:
    """The ``call`` of a breaker without a tally: every item goes through ``admit``."""
    del item
    return _runner.GATED


class _BreakerOptions(TypedDict, total=False):
    """The options of a ``CircuitBreaker`` that ``circuit_breaker`` passes on."""

    failure_threshold: float
    min_requests: int
    window_size: int | None
    window_duration: float | timedelta | None
    recovery_timeout: float | timedelta
    half_open_requests: int
    on_state_change: OnStateChange | None


class _CircuitBreakerOptions(_BreakerOptions, total=False):
    """The keyword options of ``circuit_breaker`` (its overloads differ only in ``fn``)."""

    breaker: CircuitBreaker | None
    errors: _validate.ErrorMode
    on_failure: OnFailure | None
    name: str | None
    scheduler: abc.SchedulerBase | None


@overload
def circuit_breaker(
    fn: Callable[[_T], Coroutine[Any, Any, _R] | _R], **options: Unpack[_CircuitBreakerOptions]
) -> BreakerOperator[_T, _R]: ...


@overload
def circuit_breaker(
    fn: Callable[[_T], Coroutine[Any, Any, _R]], **options: Unpack[_CircuitBreakerOptions]
) -> BreakerOperator[_T, _R]: ...


def circuit_breaker(
    fn: Callable[[Any], Any],
    *,
    breaker: CircuitBreaker | None = None,
    failure_threshold: float = 0.5,
    min_requests: int = 10,
    window_size: int | None = 100,
    window_duration: float | timedelta | None = None,
    recovery_timeout: float | timedelta = 30.0,
    half_open_requests: int = 3,
    on_state_change: OnStateChange | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> BreakerOperator[Any, Any]:
    """Emit ``fn(item)`` for every item, guarded by a circuit breaker.

    Each call's outcome feeds the breaker (see ``CircuitBreaker`` for the
    closed / open / half-open rules). While the circuit is open, items are
    rejected without calling ``fn``, with ``CircuitOpenError``, which the error
    model handles like any failure: ``errors="raise"`` fails the stream;
    ``errors="skip"`` with ``on_failure`` routes the item to a dead-letter sink
    (``DeadLetter.attempts`` is 0 for a rejected item).

    ```text
    --a--b--c--d--e--.....--f--|     fn fails on a and b
    circuit_breaker(fn, min_requests=2, recovery_timeout=10, errors="skip")
    --x--x--r--r--r--.....--F--|     x: failed and skipped, r: rejected,
                                     F = fn(f): 10 s later, a half-open trial
    ```

    Behavior:
        - The failure rate is measured over a rolling window of recent calls:
          the last ``window_size`` (default 100) and/or those of the last
          ``window_duration`` seconds, so a long healthy history never keeps
          the circuit closed.
        - ``breaker=`` shares one state machine (thread-safe) between operators
          and pipelines; without it each operator creates its own, shared by
          all its subscriptions. ``stats()`` is the breaker's.
        - A failing call counts as a failure in the breaker in both ``errors``
          modes; a rejection counts as ``rejected``.
        - A sync ``fn`` runs on the upstream thread and emits there. An
          ``async def`` ``fn`` runs each coroutine to completion (one at a
          time, items waiting in order behind it) on the subscription's
          ``AsyncIOScheduler`` loop, else on a private event loop thread.
        - Completion and upstream error wait for the call in progress.
          Dispose cancels it (a half-open trial slot it held is given back).

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> letters = []
        >>> def fragile(n):
        ...     if n < 3:
        ...         raise TimeoutError("slow dependency")
        ...     return n
        >>> guarded = circuit_breaker(
        ...     fragile, min_requests=2, errors="skip", on_failure=letters.append
        ... )
        >>> collect(rx.of(1, 2, 3, 4).pipe(guarded))
        []
        >>> for letter in letters:
        ...     print(letter.item, type(letter.error).__name__, letter.attempts)
        1 TimeoutError 1
        2 TimeoutError 1
        3 CircuitOpenError 0
        4 CircuitOpenError 0
        >>> guarded.state, guarded.stats().rejected
        ('open', 2)

    Args:
        fn: Called per item (``item -> result``); may be ``async def``.
        breaker: A shared ``CircuitBreaker``; excludes the breaker options.
        failure_threshold: See ``CircuitBreaker``.
        min_requests: See ``CircuitBreaker``.
        window_size: See ``CircuitBreaker``.
        window_duration: See ``CircuitBreaker``.
        recovery_timeout: See ``CircuitBreaker``.
        half_open_requests: See ``CircuitBreaker``.
        on_state_change: See ``CircuitBreaker``.
        errors: ``"raise"`` or ``"skip"``.
        on_failure: Receives a ``DeadLetter`` per skipped or rejected item.
        name: Name in error notes, dead letters and messages; default
            ``"circuit_breaker"``.
        scheduler: The clock of the breaker the operator creates, and of
            dead letters; default: the subscription's scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> CircuitBreakerOperatorStats`` and
        ``state``.

    Raises:
        TypeError: ``fn`` or a callback is not callable, ``breaker`` is not a
            ``CircuitBreaker``, or an option has the wrong type.
        ValueError: ``breaker`` is given together with breaker options, or an
            option is out of range.
    """
    checked_fn = _validate.function("fn", fn)
    label = _validate.name(name, "circuit_breaker")
    failures = Failures(label, errors, on_failure)
    options: _BreakerOptions = {
        "failure_threshold": failure_threshold,
        "min_requests": min_requests,
        "window_size": window_size,
        "window_duration": window_duration,
        "recovery_timeout": recovery_timeout,
        "half_open_requests": half_open_requests,
        "on_state_change": on_state_change,
    }
    if breaker is None:
        breaker = CircuitBreaker(**options, scheduler=scheduler)
    elif not isinstance(breaker, CircuitBreaker):
        raise TypeError(f"breaker must be a CircuitBreaker, got {type(breaker).__name__}")
    else:
        defaults = inspect.signature(CircuitBreaker).parameters
        clashing = [key for key, value in options.items() if value != defaults[key].default]
        if clashing:
            raise ValueError(
                "pass either breaker= or the breaker options, not both; "
                f"got breaker= and {', '.join(clashing)}"
            )
    return CircuitBreakerOperator[Any, Any](checked_fn, breaker, failures, scheduler)
