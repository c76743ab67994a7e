"""``retry_``: call a function per item, retrying failures with exponential back-off."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, TypedDict, TypeVar, overload

from reactivex import Observable, abc
from typing_extensions import Unpack, override

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure, short_repr
from rxstreamz._typing import Operator
from rxstreamz.errors import RetryExhaustedError
from rxstreamz.resilience import _runner

__all__ = ["Retry", "RetryStats", "retry_"]

_T = TypeVar("_T")
_R = TypeVar("_R")

_MAX_DOUBLINGS = 1000  # 2.0 ** 1024 overflows; by then max_delay has long capped the wait


@dataclass(frozen=True, slots=True)
class RetryStats(ProcessorStats):
    """Counters of ``retry_``, summed over its subscriptions.

    Every item taken is accounted for:
    ``received == succeeded + failed + dropped + queued + in_flight``
    (a snapshot taken while items flow may be one item apart).

    Attributes:
        received: Items taken from upstream.
        failed: Items given up on, in both ``errors`` modes: attempts
            exhausted, an exception that ``retry_on`` did not accept, or a
            call that ended with a ``BaseException``.
        dropped: Items that will never be emitted because the subscription
            was disposed or failed while they were queued, in progress (a
            call still running, or a wait for a retry) or arriving; and items
            refused by the queue (``BackpressureError``).
        succeeded: Items whose call eventually succeeded (result emitted).
        retried: Calls beyond the first one of each item.
        queued: Items waiting now behind the ones being processed.
        high_watermark: The most items that waited at once in one subscription.
        in_flight: Items being processed now (a call running, or a wait for
            the next attempt), at most one per subscription.
    """

    succeeded: int
    retried: int
    queued: int
    high_watermark: int
    in_flight: int


class Retry(_runner.Operator[_T, _R]):
    """The operator returned by ``retry_``."""

    def __init__(
        self,
        fn: Callable[[_T], Any],
        *,
        max_attempts: int,
        base_delay: float,
        max_delay: float,
        jitter: bool,
        retry_on: Callable[[Exception], object] | None,
        max_pending: int | None,
        seed: int | None,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        super().__init__(fn, name=failures.processor, max_pending=max_pending, scheduler=scheduler)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.jitter = jitter
        self.retry_on = retry_on
        self.seed = seed
        self._failures = failures

    def delay(self, attempt: int, draw: Callable[[], float] | None = None) -> float:
        """Return the wait in seconds before call number ``attempt`` (>= 2).

        ``min(max_delay, base_delay * 2 ** (attempt - 2))``, times ``draw()``
        (a factor in ``[0.5, 1.0]``) when given.
        """
        doublings = min(attempt - 2, _MAX_DOUBLINGS)
        wait = min(self.max_delay, self.base_delay * 2.0**doublings)
        return wait * draw() if draw is not None else wait

    def stats(self) -> RetryStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return RetryStats(**asdict(self._totals()))

    @override
    def _step(self, clock: abc.SchedulerBase) -> _runner.Step[_T, _R]:
        draw: Callable[[], float] | None = None
        if self.jitter:  # each subscription draws from its own generator
            draw = functools.partial(random.Random(self.seed).uniform, 0.5, 1.0)
        return _RetryStep(self, self._failures, clock, draw)


class _RetryStep(_runner.Step[_T, _R]):
    """What ``retry_`` does with each item of one subscription."""

    __slots__ = ("_clock", "_draw", "_failures", "_op")

    def __init__(
        self,
        op: Retry[_T, _R],
        failures: Failures,
        clock: abc.SchedulerBase,
        draw: Callable[[], float] | None,
    ) -> None:
        super().__init__(op.fn)
        self._op = op
        self._failures = failures
        self._clock = clock
        self._draw = draw

    @override
    def failed(self, item: _T, error: Exception, attempts: int) -> _runner.Verdict:
        op = self._op
        failures = self._failures
        if op.retry_on is not None:
            try:  # the truth test too: a result's __bool__ may raise
                accepted = bool(op.retry_on(error))
            except Exception as exc:  # a broken retry_on is a failing user function
                return failures.handle(exc, item, self._clock.now, attempts=attempts)
            if not accepted:
                return failures.handle(error, item, self._clock.now, attempts=attempts)
        if attempts >= op.max_attempts:
            exhausted = RetryExhaustedError(
                f"{op.name}: all {attempts} attempts failed on item {short_repr(item)}; "
                f"last error: {type(error).__name__}: {error}",
                attempts=attempts,
                item=item,
            )
            exhausted.__cause__ = error
            return failures.handle(exhausted, item, self._clock.now, attempts=attempts)
        return op.delay(attempts + 1, self._draw)

    @override
    def failed_fatally(self, item: _T) -> None:
        self._failures.record()


class _RetryOptions(TypedDict, total=False):
    """The keyword options of ``retry_`` (its overloads differ only in ``fn``)."""

    max_attempts: int
    base_delay: float | timedelta
    max_delay: float | timedelta
    jitter: bool
    retry_on: Callable[[Exception], object] | None
    max_pending: int | None
    seed: int | None
    errors: _validate.ErrorMode
    on_failure: OnFailure | None
    name: str | None
    scheduler: abc.SchedulerBase | None


@overload
def retry_(
    fn: Callable[[_T], Coroutine[Any, Any, _R] | _R], **options: Unpack[_RetryOptions]
) -> Operator[_T, Observable[_R], RetryStats]: ...


@overload
def retry_(
    fn: Callable[[_T], Coroutine[Any, Any, _R]], **options: Unpack[_RetryOptions]
) -> Operator[_T, Observable[_R], RetryStats]: ...


def retry_(
    fn: Callable[[Any], Any],
    *,
    max_attempts: int = 3,
    base_delay: float | timedelta = 0.1,
    max_delay: float | timedelta = 30.0,
    jitter: bool = True,
    retry_on: Callable[[Exception], object] | None = None,
    max_pending: int | None = None,
    seed: int | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[Any, Observable[Any], RetryStats]:
    """Emit ``fn(item)`` for every item, retrying a failing call with exponential back-off.

    Items are processed one at a time, in order. When a call raises an
    exception that ``retry_on`` accepts (default: any ``Exception``), the item
    is tried again after a wait scheduled on the scheduler, up to
    ``max_attempts`` calls in all. The wait before call *k* (k >= 2) is
    ``min(max_delay, base_delay * 2 ** (k - 2))``: 0.1 s, 0.2 s, 0.4 s, ...
    with the defaults, each multiplied by a random factor in ``[0.5, 1.0]``
    when ``jitter`` is on. Items that arrive meanwhile wait in a bounded queue.

    ```text
    --a--b--------c--|        fn(a) fails once; b arrives during the wait
    retry_(fn, base_delay=4, jitter=False)
    ------(AB)----C--|        A = fn(a) after the 4 s wait, then B = fn(b) at once
    ```

    Behavior:
        - Attempts exhausted: ``RetryExhaustedError`` (``attempts``, ``item``,
          the last exception as ``__cause__``) under the error model:
          ``errors="raise"`` fails the stream with it; ``errors="skip"`` drops
          the item, counts it in ``stats().failed`` and hands ``on_failure`` a
          ``DeadLetter`` whose ``error`` is that ``RetryExhaustedError``.
        - An exception that ``retry_on`` rejects is not retried: it is handled
          the same way, unchanged in type (with the note naming the processor
          and the item). A ``retry_on`` that raises, or whose answer raises
          when tested for truth (a numpy array), counts as a failing user
          function in the same way.
        - Completion and upstream error wait for the item in progress (its
          retries included) and every queued item, then complete or forward
          the error.
        - ``max_pending`` bounds the queue (``None``: unbounded); a full queue
          blocks a producer running on another thread. Where blocking would
          deadlock (a virtual-time scheduler, a producer on the thread that
          is processing items, such as a downstream feeding items back, or
          on the ``AsyncIOScheduler``'s loop) the stream fails with
          ``BackpressureError`` instead, after the items queued before.
        - A ``BaseException`` that is not an ``Exception`` (raised by ``fn``,
          or a coroutine cancelled from outside) fails the stream in both
          ``errors`` modes with a ``RuntimeError`` whose ``__cause__`` it is
          (``KeyboardInterrupt`` and ``SystemExit`` then go on up the thread).
        - Dispose cancels the pending wait (or coroutine) and the queue; nothing
          is emitted afterwards.
        - ``fn`` may be ``async def``: each coroutine runs to completion on the
          subscription's ``AsyncIOScheduler`` loop, else on a private event loop
          thread that lives as long as the subscription.
        - Emits on the thread that made the successful call: the upstream thread,
          the scheduler's timer thread after a wait, or the event loop's thread.
        - Each subscription has its own queue and random generator
          (``random.Random(seed)``, so a ``seed`` reproduces the waits).

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> calls = []
        >>> def flaky(n):
        ...     calls.append(n)
        ...     if calls.count(n) < 2:
        ...         raise ConnectionError("try again")
        ...     return n * 10
        >>> fetch = retry_(flaky, base_delay=0.001, jitter=False)
        >>> collect(rx.of(1, 2).pipe(fetch))
        [10, 20]
        >>> stats = fetch.stats()
        >>> stats.succeeded, stats.retried, stats.failed
        (2, 2, 0)

    Args:
        fn: Called per item (``item -> result``); may be ``async def``.
        max_attempts: Calls per item at most, the first included (>= 1).
        base_delay: Wait before the second call, seconds or ``timedelta`` (>= 0).
        max_delay: Cap on each wait, before jitter (> 0).
        jitter: Multiply each wait by a uniform random factor in ``[0.5, 1.0]``.
        retry_on: ``exception -> bool``: whether to retry after it; default
            retries every ``Exception``.
        max_pending: How many items may wait behind the one in progress
            (>= 1); ``None`` is unbounded.
        seed: Seed of each subscription's jitter generator.
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Name in error notes, dead letters and stats; default ``"retry"``.
        scheduler: Where waits are scheduled and the clock for dead letters;
            default: the subscription's scheduler, else ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> RetryStats``.

    Raises:
        TypeError: ``fn``, ``retry_on`` or ``on_failure`` is not callable, or
            another argument has the wrong type.
        ValueError: ``max_attempts`` or ``max_pending`` < 1, a negative
            ``base_delay``, a ``max_delay`` that is not positive, a delay
            longer than ``threading.TIMEOUT_MAX`` seconds, or a bad ``errors``.
    """
    checked_fn = _validate.function("fn", fn)
    attempts = _validate.integer("max_attempts", max_attempts)
    base = _validate.duration("base_delay", base_delay, allow_zero=True)
    cap = _validate.duration("max_delay", max_delay)
    _validate.flag("jitter", jitter)
    checked_retry_on = _validate.optional_function("retry_on", retry_on)
    pending = _validate.optional_integer("max_pending", max_pending)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    label = _validate.name(name, "retry")
    return Retry[Any, Any](
        checked_fn,
        max_attempts=attempts,
        base_delay=base,
        max_delay=cap,
        jitter=jitter,
        retry_on=checked_retry_on,
        max_pending=pending,
        seed=seed,
        failures=Failures(label, errors, on_failure),
        scheduler=scheduler,
    )
