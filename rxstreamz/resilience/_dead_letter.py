"""``dead_letter``: route items whose processing fails to a sink and keep the stream going."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, TypedDict, TypeVar, cast, overload

from reactivex import Observable, abc
from typing_extensions import Unpack, override

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import call_sink
from rxstreamz._typing import Operator
from rxstreamz.records import DeadLetter
from rxstreamz.resilience import _runner

__all__ = ["DeadLetterOperator", "DeadLetterStats", "Sink", "dead_letter"]

_T = TypeVar("_T")
_R = TypeVar("_R")

Sink = Callable[[DeadLetter[_T]], object] | abc.ObserverBase[DeadLetter[_T]]
"""Where ``dead_letter`` sends failed items: a callable, or an Rx ``Observer``/``Subject``."""


@dataclass(frozen=True, slots=True)
class DeadLetterStats(ProcessorStats):
    """Counters of ``dead_letter``, summed over its subscriptions.

    ``processed == succeeded + failed`` at every snapshot, and every item
    taken is accounted for:
    ``received == succeeded + failed + dropped + queued + in_flight``
    (a snapshot taken while items flow may be one item apart).

    Attributes:
        received: Items taken from upstream.
        failed: Items whose calls failed for good: sent to the sink, or (a
            ``BaseException`` beyond ``Exception``) failing the stream.
        dropped: Items that will never be emitted nor sent to the sink
            because the subscription was disposed or failed while they were
            queued, in progress (a call still running, or a wait for a retry)
            or arriving; and items refused by the queue (``BackpressureError``).
        processed: Items finished, either way.
        succeeded: Items whose call eventually succeeded (result emitted).
        retried: Calls beyond the first one of each item.
        queued: Items waiting now behind the ones being processed.
        high_watermark: The most items that waited at once in one subscription.
        in_flight: Items being processed now (a call running, or a wait for
            a retry), at most one per subscription.
    """

    processed: int
    succeeded: int
    retried: int
    queued: int
    high_watermark: int
    in_flight: int


class DeadLetterOperator(_runner.Operator[_T, _R]):
    """The operator returned by ``dead_letter``."""

    def __init__(
        self,
        fn: Callable[[_T], Any],
        *,
        sink: Callable[[DeadLetter[_T]], object],
        max_retries: int,
        retry_delay: float,
        retry_on: Callable[[Exception], object] | None,
        max_pending: int | None,
        name: str,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        super().__init__(fn, name=name, max_pending=max_pending, scheduler=scheduler)
        self.sink = sink
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.retry_on = retry_on

    def stats(self) -> DeadLetterStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        totals = self._totals()
        return DeadLetterStats(processed=totals.succeeded + totals.failed, **asdict(totals))

    @override
    def _step(self, clock: abc.SchedulerBase) -> _runner.Step[_T, _R]:
        return _DeadLetterStep(self, clock)


class _DeadLetterStep(_runner.Step[_T, _R]):
    """What ``dead_letter`` does with each item of one subscription."""

    __slots__ = ("_clock", "_op")

    def __init__(self, op: DeadLetterOperator[_T, _R], clock: abc.SchedulerBase) -> None:
        super().__init__(op.fn)
        self._op = op
        self._clock = clock

    @override
    def failed(self, item: _T, error: Exception, attempts: int) -> _runner.Verdict:
        op = self._op
        retry = attempts <= op.max_retries
        if retry and op.retry_on is not None:
            try:
                retry = bool(op.retry_on(error))
            except Exception as exc:  # a broken retry_on: the item goes to the sink with it
                error, retry = exc, False
        if retry:
            return op.retry_delay
        letter = DeadLetter(item, error, attempts, self._clock.now, op.name)
        # A failing sink would lose letters silently: fail loudly.
        return call_sink(op.sink, letter, f"the sink of processor {op.name!r}")


class _DeadLetterOptions(TypedDict, total=False):
    """The optional keyword options of ``dead_letter`` (its overloads differ only in ``fn``)."""

    max_retries: int
    retry_delay: float | timedelta
    retry_on: Callable[[Exception], object] | None
    max_pending: int | None
    name: str | None
    scheduler: abc.SchedulerBase | None


@overload
def dead_letter(
    fn: Callable[[_T], Coroutine[Any, Any, _R] | _R],
    *,
    sink: Sink[_T],
    **options: Unpack[_DeadLetterOptions],
) -> Operator[_T, Observable[_R], DeadLetterStats]: ...


@overload
def dead_letter(
    fn: Callable[[_T], Coroutine[Any, Any, _R]],
    *,
    sink: Sink[_T],
    **options: Unpack[_DeadLetterOptions],
) -> Operator[_T, Observable[_R], DeadLetterStats]: ...


def dead_letter(
    fn: Callable[[Any], Any],
    *,
    sink: Sink[Any],
    max_retries: int = 0,
    retry_delay: float | timedelta = 1.0,
    retry_on: Callable[[Exception], object] | None = None,
    max_pending: int | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[Any, Observable[Any], DeadLetterStats]:
    """Emit ``fn(item)`` for every item; send the items that fail to ``sink`` and go on.

    Items are processed one at a time, in order. A failing call is retried up
    to ``max_retries`` times, ``retry_delay`` apart (waits scheduled on the
    scheduler). An item that still fails becomes a
    ``rxstreamz.DeadLetter`` (the item, the last exception, the number of
    calls made, the scheduler time, this processor's name) handed to ``sink``,
    and the stream continues with the next item. Successful results flow
    downstream in order.

    ```text
    --a--b--c--|          fn fails on b
    dead_letter(fn, sink=letters.append)
    --A-----C--|          sink got DeadLetter(item=b, attempts=1, ...)
    ```

    Behavior:
        - ``sink`` is a callable or an Rx ``Observer``/``Subject`` (its
          ``on_next`` is called). It is called synchronously on the thread that
          gave up on the item and is never waited for otherwise; a sink that
          raises fails the stream (losing letters silently would be worse),
          with a ``SystemExit`` or other non-``Exception`` wrapped in a
          ``RuntimeError`` whose ``__cause__`` it is.
        - ``retry_on(exc)`` decides whether an exception is worth a retry
          (default: every ``Exception``); a rejected one goes to the sink at
          once. A ``retry_on`` that raises (or whose answer raises when tested
          for truth, as a numpy array's does) sends the item to the sink with
          that exception.
        - Completion and upstream error wait for the item in progress (its
          retries included) and every queued item, then complete or forward
          the error.
        - ``max_pending`` bounds the queue of waiting items (``None``:
          unbounded), as in ``retry_``.
        - Dispose cancels the pending wait (or coroutine); nothing is emitted
          or sent to the sink afterwards.
        - ``fn`` may be ``async def`` (run as in ``retry_``).
        - Each subscription has its own queue; ``stats()`` sums them.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> letters = []
        >>> parse = dead_letter(int, sink=letters.append)
        >>> collect(rx.of("1", "x", "3").pipe(parse))
        [1, 3]
        >>> [(letter.item, letter.attempts, letter.processor) for letter in letters]
        [('x', 1, 'dead_letter')]
        >>> stats = parse.stats()
        >>> stats.received, stats.succeeded, stats.failed, stats.dropped, stats.processed
        (3, 2, 1, 0, 3)

    Args:
        fn: Called per item (``item -> result``); may be ``async def``.
        sink: Receives one ``DeadLetter`` per failed item.
        max_retries: Retries after the first call (>= 0).
        retry_delay: Fixed wait before each retry, seconds or ``timedelta`` (>= 0).
        retry_on: ``exception -> bool``: whether to retry after it.
        max_pending: How many items may wait behind the one in progress
            (>= 1); ``None`` is unbounded.
        name: ``DeadLetter.processor`` and the name in stats; default
            ``"dead_letter"``.
        scheduler: Where waits are scheduled and the clock for
            ``DeadLetter.timestamp``; default: the subscription's scheduler,
            else ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> DeadLetterStats``.

    Raises:
        TypeError: ``fn``, ``retry_on`` or ``sink`` is neither callable nor an
            observer, or another argument has the wrong type.
        ValueError: A negative ``max_retries`` or ``retry_delay``, a
            ``retry_delay`` longer than ``threading.TIMEOUT_MAX`` seconds, or
            ``max_pending`` < 1.
    """
    checked_fn = _validate.function("fn", fn)
    return DeadLetterOperator[Any, Any](
        checked_fn,
        sink=_sink_function(sink),
        max_retries=_validate.integer("max_retries", max_retries, minimum=0),
        retry_delay=_validate.duration("retry_delay", retry_delay, allow_zero=True),
        retry_on=_validate.optional_function("retry_on", retry_on),
        max_pending=_validate.optional_integer("max_pending", max_pending),
        name=_validate.name(name, "dead_letter"),
        scheduler=scheduler,
    )


def _sink_function(sink: object) -> Callable[[DeadLetter[Any]], object]:
    """Return the function that hands a letter to ``sink`` (an observer's ``on_next``)."""
    if isinstance(sink, abc.ObserverBase):
        observer = cast("abc.ObserverBase[DeadLetter[Any]]", sink)
        return observer.on_next
    if callable(sink):
        return cast("Callable[[DeadLetter[Any]], object]", sink)
    raise TypeError(f"sink must be callable or an Observer, got {type(sink).__name__}")
