"""Folding windows of items: aggregate, and the ready-made folds in ``folds``.

``aggregate(fn, initial)`` folds items with ``state = fn(state, item)`` and
emits an ``rxstreamz.records.AggregateWindow`` every ``count`` items
and/or every ``interval`` seconds. A ``Fold`` bundles a step function,
an initial state and a finishing step, so common statistics read as one
argument:

```python
source.pipe(aggregate(folds.mean(), interval=60))   # AggregateWindow[float]
```
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, Generic, Protocol, TypedDict, TypeVar, Unpack, overload

from reactivex import Observable, abc

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._failure import Failures, OnFailure, annotate
from rxstreamz._lifecycle import HeldRun
from rxstreamz._typing import Operator
from rxstreamz.records import AggregateWindow

__all__ = ["Aggregate", "AggregateStats", "Fold", "aggregate", "folds"]

_T = TypeVar("_T")
_S = TypeVar("_S")
_R = TypeVar("_R")
_A = TypeVar("_A")
_N = TypeVar("_N", bound="_Addable")
_C = TypeVar("_C", bound="_Comparable")

# Initial states that deepcopy would return unchanged: copying them is skipped.
_IMMUTABLE: frozenset[type] = frozenset(
    {int, float, complex, bool, str, bytes, type(None), Decimal, Fraction}
)


class _Addable(Protocol):
    def __add__(self, other: Any, /) -> Any: ...


class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class Fold(Generic[_T, _S, _R]):
    """A reusable fold for ``aggregate``: ``step``, ``initial`` state and ``finish``.

    ``aggregate(Fold(step, initial, finish))`` folds each window with
    ``state = step(state, item)`` from a fresh deep copy of ``initial`` and
    emits ``finish(state)`` as the window's ``result``. The finishing step is
    what lets a mean carry ``(total, count)`` while folding and still emit a
    plain number.

    Attributes:
        step: ``(state, item) -> state``.
        initial: The state of an empty window (deep-copied per window).
        finish: ``state -> result``, applied once per emitted window.
    """

    step: Callable[[_S, _T], _S]
    initial: _S
    finish: Callable[[_S], _R]


def _identity(state: _S) -> _S:
    return state


def _add(total: _N, item: _N) -> _N:
    result: _N = total + item
    return result


def _count(total: int, _item: object) -> int:
    return total + 1


def _add_to_mean(state: tuple[float, int], item: float) -> tuple[float, int]:
    return state[0] + item, state[1] + 1


def _finish_mean(state: tuple[float, int]) -> float:
    total, n = state
    return total / n if n else math.nan


def _lower(best: _C | None, item: _C) -> _C | None:
    return item if best is None or item < best else best


def _higher(best: _C | None, item: _C) -> _C | None:
    return item if best is None or best < item else best


def _lower_by(key: Callable[[_T], _Comparable]) -> Callable[[_T | None, _T], _T | None]:
    def step(best: _T | None, item: _T) -> _T | None:
        return item if best is None or key(item) < key(best) else best

    return step


def _higher_by(key: Callable[[_T], _Comparable]) -> Callable[[_T | None, _T], _T | None]:
    def step(best: _T | None, item: _T) -> _T | None:
        return item if best is None or key(best) < key(item) else best

    return step


class _Pick(Protocol):
    """The type of ``folds.min`` and ``folds.max``: numbers, or any items compared by ``key``."""

    @overload
    def __call__(self) -> Fold[float, float | None, float | None]: ...

    @overload
    def __call__(self, *, key: Callable[[_T], _Comparable]) -> Fold[_T, _T | None, _T | None]: ...


class _Extreme:
    """``folds.min`` / ``folds.max``: ``plain`` compares items, ``by(key)`` compares their keys."""

    def __init__(
        self,
        plain: Callable[[Any, Any], Any],
        by: Callable[[Callable[[Any], _Comparable]], Callable[[Any, Any], Any]],
        doc: str,
    ) -> None:
        self.plain = plain
        self.by = by
        self.__doc__ = doc

    def __call__(self, *, key: Callable[[Any], _Comparable] | None = None) -> Fold[Any, Any, Any]:
        step = self.plain if key is None else self.by(_validate.function("key", key))
        return Fold(step, None, _identity)


class folds:  # a namespace, used as ``folds.mean()``
    """Ready-made folds for ``aggregate``: ``sum``, ``count``, ``mean``, ``min``, ``max``.

    Each returns a ``Fold``; pass it as ``aggregate``'s only positional
    argument. Results of an empty window (``emit_empty=True``): ``sum`` the
    start value, ``count`` 0, ``mean`` ``nan``, ``min``/``max`` ``None``.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> numbers = rx.of(4, 8, 15, 16, 23, 42)
        >>> [w.result for w in collect(numbers.pipe(aggregate(folds.sum(), count=3)))]
        [27, 81]
        >>> [w.result for w in collect(numbers.pipe(aggregate(folds.mean())))]
        [18.0]
        >>> [w.result for w in collect(numbers.pipe(aggregate(folds.max(), count=4)))]
        [16, 42]
        >>> words = rx.of("kiwi", "fig", "banana")
        >>> [w.result for w in collect(words.pipe(aggregate(folds.min(key=len))))]
        ['fig']
    """

    __slots__ = ()

    @overload
    @staticmethod
    def sum() -> Fold[float, float, float]: ...

    @overload
    @staticmethod
    def sum(start: _N) -> Fold[_N, _N, _N]: ...

    @staticmethod
    def sum(start: Any = 0) -> Fold[Any, Any, Any]:
        """Total of the items, from ``start`` (default ``0``).

        Typed for numbers; pass ``start`` (``0``, ``Decimal(0)``, ...) to fix
        the result type, or any value supporting ``+`` with the items.
        """
        return Fold(_add, start, _identity)

    @staticmethod
    def count() -> Fold[object, int, int]:
        """Number of items in the window."""
        return Fold(_count, 0, _identity)

    @staticmethod
    def mean() -> Fold[float, tuple[float, int], float]:
        """Arithmetic mean of the items; ``nan`` for an empty window."""
        return Fold(_add_to_mean, (0.0, 0), _finish_mean)

    min: Final[_Pick] = _Extreme(
        _lower,
        _lower_by,
        "Smallest item (the first of equals); by ``key(item)`` if given; ``None`` if empty.",
    )
    max: Final[_Pick] = _Extreme(
        _higher,
        _higher_by,
        "Largest item (the first of equals); by ``key(item)`` if given; ``None`` if empty.",
    )


@dataclass(frozen=True, slots=True)
class AggregateStats(ProcessorStats):
    """Counters of ``aggregate``, summed over its subscriptions.

    ``received == emitted + failed + dropped + held``. ``failed`` counts the
    items whose ``fn`` raised (in both ``errors`` modes); ``dropped`` the
    items folded into a window that will never be emitted: the open window
    at dispose, or a window whose ``finish`` raised. Completion, upstream
    errors and a failing ``fn`` in ``"raise"`` mode emit the open window
    instead.

    Attributes:
        emitted: Items folded into emitted windows (the sum of their
            ``count``).
        windows: Windows emitted, empty interval windows included.
        held: Items folded into the open window right now.
    """

    emitted: int
    windows: int
    held: int


class _AggregateRow(Row):
    __slots__ = ("emitted", "windows")
    emitted: int
    windows: int


class Aggregate(Generic[_T, _R]):
    """The operator returned by ``aggregate``."""

    def __init__(
        self,
        step: Callable[[Any, _T], Any],
        initial: object,
        finish: Callable[[Any], _R] | None,
        *,
        count: int | None,
        interval: timedelta | None,
        emit_empty: bool,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.name = failures.processor
        self.count = count
        self.interval = interval
        self.emit_empty = emit_empty
        self._step = step
        self._initial = initial
        self._finish = finish
        self._failures = failures
        self._scheduler = scheduler
        self._ledger = Ledger(_AggregateRow)

    def stats(self) -> AggregateStats:
        """Return the counters of every subscription, past and present."""
        totals = self._ledger.totals()
        # A live row is written without the reader's lock: a snapshot may catch
        # a window counted as emitted before its last item is counted as received.
        accounted = totals["emitted"] + totals["failed"] + totals["dropped"]
        return AggregateStats(**totals, held=max(0, totals["received"] - accounted))

    def __call__(self, source: Observable[_T]) -> Observable[AggregateWindow[_R]]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[AggregateWindow[_R]],
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(self._scheduler, scheduler))
            run: _AggregateRun[_T, _R] = _AggregateRun(
                observer,
                clock,
                self._ledger,
                _Plan(self._step, self._initial, self._finish, self._failures),
                count=self.count,
                interval=self.interval,
                emit_empty=self.emit_empty,
            )
            if run.next_tick is not None:
                run.arm()
            return run.connect(source, run.accepting(), scheduler)

        return Observable(subscribe)


@dataclass(frozen=True, slots=True)
class _Plan(Generic[_T, _R]):
    """What every window of an ``aggregate`` does: fold, start, finish, fail."""

    step: Callable[[Any, _T], Any]
    initial: object
    finish: Callable[[Any], _R] | None
    failures: Failures


def _fresh_of(initial: object) -> Callable[[], Any]:
    """Return what makes a window's initial state: ``initial`` itself, or a deep copy."""
    if type(initial) in _IMMUTABLE:
        return lambda: initial
    return functools.partial(copy.deepcopy, initial)


class _AggregateRun(HeldRun[_AggregateRow, AggregateWindow[_R]], Generic[_T, _R]):
    """One ``aggregate`` subscription: the open window, the interval grid and the timer.

    ``row.received`` and ``row.failed`` are counted per item, the rest per
    window. Without an interval no timer touches the window, so items fold
    without the lock (upstream calls are serialized, Rx contract); with one,
    items fold under the lock shared with the timer.
    """

    __slots__ = (
        "clock",
        "emit_empty",
        "failures",
        "finish",
        "fresh",
        "interval",
        "label",
        "limit",
        "n",
        "next_tick",
        "origin",
        "start",
        "state",
        "step",
        "ticks",
    )

    def __init__(
        self,
        observer: abc.ObserverBase[AggregateWindow[_R]],
        clock: _scheduling.Clock,
        ledger: Ledger[_AggregateRow],
        plan: _Plan[_T, _R],
        *,
        count: int | None,
        interval: timedelta | None,
        emit_empty: bool,
    ) -> None:
        super().__init__(ledger, observer)
        self.clock = clock
        self.step = plan.step
        self.finish = plan.finish
        self.fresh = _fresh_of(plan.initial)
        self.failures = plan.failures
        self.label = plan.failures.processor
        self.limit = count
        self.interval = interval
        self.emit_empty = emit_empty
        self.origin = origin = clock.now()
        self.start = origin  # start of the current window
        self.state: Any = self.fresh()
        self.n = 0  # items folded into ``state``
        self.ticks = 1  # number of the next interval tick
        self.next_tick = origin + interval if interval is not None else None

    # -- items ---------------------------------------------------------------------------

    def accepting(self) -> Callable[[_T], None]:
        """The ``on_next`` given to upstream (closures: cheaper than methods per item)."""
        row = self.row
        step = self.step
        limit = self.limit
        read_clock = self.clock.now

        def fold(item: _T, run: _AggregateRun[_T, _R] = self) -> None:
            if run.stopped:
                return
            row.received += 1
            try:
                run.state = step(run.state, item)
            except Exception as exc:
                run.step_failed(exc, item)
                return
            run.n = n = run.n + 1
            if n == limit:
                run.close(read_clock(), empty=False)

        if self.next_tick is None:
            return fold
        lock = self.lock

        def fold_timed(item: _T, run: _AggregateRun[_T, _R] = self) -> None:
            with lock:
                if not run.stopped and run.next_tick is not None:
                    now = read_clock()
                    if now < run.next_tick or run.tick(now):  # else the stream has stopped
                        fold(item)
            if run.stopped:
                run.release()

        return fold_timed

    def step_failed(self, exc: Exception, item: _T) -> None:
        """``fn`` raised on ``item``: skip it or fail the stream (``errors``)."""
        self.row.failed += 1
        self.failures.forward(exc, item, self.clock.now, functools.partial(self.fail, flush=True))

    # -- windows -------------------------------------------------------------------------

    def close(self, end: datetime, *, empty: bool) -> bool:
        """End the current window at ``end``, emitting it if it has items (or if ``empty``).

        Returns:
            ``False`` when the stream stopped (failed, or disposed from
            downstream).
        """
        folded, size, began = self.state, self.n, self.start
        self.state, self.n, self.start = self.fresh(), 0, end
        if not (size or empty):
            return True
        if self.finish is None:
            result = folded
        else:
            try:
                result = self.finish(folded)
            except Exception as exc:
                self.fail(annotate(exc, self.label, folded), flush=False)
                return False
        row = self.row
        row.emitted += size
        row.windows += 1
        self.observer.on_next(AggregateWindow(result, began, end, size))
        return not self.stopped

    def tick(self, now: datetime) -> bool:
        """The interval boundary ``next_tick`` has come: close the window at ``now``.

        ``now`` is at or past it, or a real-time timer woke a hair early.
        """
        interval = self.interval
        assert interval is not None
        if not self.close(now, empty=self.emit_empty):
            return False
        # Free-running from the subscription; ticks missed while late are skipped.
        self.ticks = max(self.ticks + 1, (now - self.origin) // interval + 1)
        self.next_tick = self.origin + interval * self.ticks
        self.arm()
        return True

    def arm(self) -> None:
        """Arm the timer for ``next_tick``."""
        planned = self.next_tick
        assert planned is not None

        def fire(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
            with self.lock:
                if not self.stopped and planned == self.next_tick:
                    self.tick(self.clock.now())
            if self.stopped:  # disposed while the timer held the lock
                self.release()

        self.timer.disposable = self.clock.schedule_at(planned, fire)

    # -- the end -------------------------------------------------------------------------

    def flush_held(self) -> bool:
        """Emit the partial window (lock held)."""
        return self.close(self.clock.now(), empty=False)

    def drop_held(self) -> None:
        """Count the open window's items as dropped (lock held, once)."""
        row = self.row
        row.dropped = row.received - row.emitted - row.failed

    def fail(self, exc: Exception, *, flush: bool) -> None:
        """Fail the stream with ``exc``, emitting the open window first if ``flush``."""
        with self.lock:
            if self.stopped:
                return
            if flush and not self.flush():
                return
            self.stopped = True
            self.timer.dispose()
            self.release()
        self.observer.on_error(exc)
        self.upstream.dispose()


class _NoInitial:
    """The default of ``aggregate``'s ``initial``: none given (a ``Fold`` brings its own)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no initial>"


_NO_INITIAL: Any = _NoInitial()


class _AggregateOptions(TypedDict, total=False):
    """The keyword options of ``aggregate``, for its overloads (defaults: the function's)."""

    count: int | None
    interval: _validate.Duration | None
    emit_empty: bool
    errors: _validate.ErrorMode
    on_failure: OnFailure | None
    name: str | None
    scheduler: abc.SchedulerBase | None


@overload
def aggregate(
    fn: Fold[_T, _S, _R],
    /,
    **options: Unpack[_AggregateOptions],
) -> Operator[_T, Observable[AggregateWindow[_R]], AggregateStats]: ...


@overload
def aggregate(
    fn: Callable[[_A, _T], _A],
    initial: _A,
    /,
    **options: Unpack[_AggregateOptions],
) -> Operator[_T, Observable[AggregateWindow[_A]], AggregateStats]: ...


def aggregate(
    fn: Fold[_T, Any, Any] | Callable[[Any, _T], Any],
    initial: object = _NO_INITIAL,
    /,
    *,
    count: int | None = None,
    interval: _validate.Duration | None = None,
    emit_empty: bool = False,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[AggregateWindow[Any]], AggregateStats]:
    """Fold items into one result per window: every ``count`` items and/or every ``interval``.

    ``state = fn(state, item)`` for each item, starting every window from a
    fresh deep copy of ``initial`` (mutating the state in ``fn`` is safe: no
    window sees another's changes, and ``initial`` itself never changes). Each
    window is emitted as ``AggregateWindow(result, start, end, count)``.

    - ``count=n``: a window closes after its ``n``-th item.
    - ``interval=s``: a window closes every ``s`` seconds, counted from the
      subscription (free-running; a count-triggered window does not move the
      ticks). An item arriving exactly at a tick belongs to the next window.
    - Both: whichever comes first.
    - Neither: one window, emitted at completion.

    The first window starts at subscription, each next one where the previous
    one ended; ``end`` is the emission time. Windows without items are not
    emitted, except at interval ticks with ``emit_empty=True`` (``result`` is
    then ``initial``, or the fold's finished empty state, and ``count`` 0).

    ```text
    time   0    5    10   15   20
    in     --1--2--3----4----|
    aggregate(lambda s, x: s + x, 0, interval=10)      subscribed at 0
    out    ----------A-------B|

    A=(result=6, start=0, end=10, count=3)
    B=(result=4, start=10, end=18, count=1), flushed at |
    ```

    Behavior:
        - Completion emits the partial window (if it has items), then
          completes; an upstream error does the same, then forwards the error.
        - ``fn`` raising: ``errors="raise"`` emits the partial window (without
          the failing item), then forwards the exception (with a note naming
          the processor and the item) and disposes upstream; ``errors="skip"``
          drops the item (the state is kept), counts it in ``stats().failed``
          and hands a ``DeadLetter`` to ``on_failure``. A raising ``finish`` of
          a ``Fold`` fails the stream in both modes.
        - With ``interval``: one periodic timer per subscription, re-armed for
          the next tick of the grid (no drift); on real-time schedulers the
          ticks follow a steady clock, so a wall-clock step moves none of
          them. Dispose cancels it (without waiting for a
          downstream receiving a window) and nothing is emitted after.
        - Emits on the upstream's thread (count, completion) or the scheduler's
          (interval ticks), serialized. Each subscription has its own state.
        - ``stats()`` (``AggregateStats``) sums the subscriptions:
          ``received == emitted + failed + dropped + held``, where
          ``emitted`` counts the items of emitted windows and ``dropped``
          those of a window thrown away by dispose or whose ``finish`` raised.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> windows = collect(rx.of(1, 2, 3, 4, 5).pipe(aggregate(lambda s, x: s + x, 0, count=2)))
        >>> [(w.result, w.count) for w in windows]
        [(3, 2), (7, 2), (5, 1)]
        >>> collect(rx.of(3, 1, 2).pipe(aggregate(folds.mean())))[0].result
        2.0

    Args:
        fn: ``(state, item) -> state``, or a ``Fold`` (then without
            ``initial``), such as ``folds.mean()``.
        initial: The state each window starts from (deep-copied per window).
        count: Items per window (>= 1).
        interval: Seconds (or ``timedelta``) per window, > 0.
        emit_empty: Emit windows without items at interval ticks.
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"aggregate"``.
        scheduler: Clock and timer; default the subscribe-time scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` turning ``Observable[T]`` into
        ``Observable[AggregateWindow[R]]``, with ``stats() -> AggregateStats``.

    Raises:
        TypeError: ``fn`` is neither callable nor a ``Fold``; ``initial`` is
            missing (or given with a ``Fold``) or cannot be deep-copied;
            ``count``, ``interval``, ``emit_empty``, ``on_failure`` or
            ``scheduler`` has the wrong type.
        ValueError: ``count < 1``; ``interval`` not positive; ``emit_empty``
            without ``interval``; ``errors`` is not ``"raise"`` or ``"skip"``.
    """
    finish: Callable[[Any], Any] | None
    if isinstance(fn, Fold):
        if initial is not _NO_INITIAL:
            raise TypeError("initial must not be given with a Fold (the Fold has its own)")
        fold: Fold[_T, Any, Any] = fn  # pyright: ignore[reportUnknownVariableType]
        step = _validate.function("fn.step", fold.step)
        start = fold.initial
        finish = None if fold.finish is _identity else _validate.function("fn.finish", fold.finish)
    else:
        step = _validate.function("fn", fn)
        if initial is _NO_INITIAL:
            raise TypeError("aggregate() needs initial when fn is a function (or pass a Fold)")
        start = initial
        finish = None
    try:
        start = copy.deepcopy(start)
    except Exception as exc:
        raise TypeError(f"initial must be deep-copyable, got {type(start).__name__}") from exc
    checked_count = _validate.optional_integer("count", count)
    seconds = _validate.optional_timer_duration("interval", interval)
    every: timedelta | None = None
    if seconds is not None:
        every = interval if isinstance(interval, timedelta) else timedelta(seconds=seconds)
    _validate.flag("emit_empty", emit_empty)
    if emit_empty and every is None:
        raise ValueError("emit_empty requires interval (empty windows exist only at ticks)")
    label = _validate.name(name, "aggregate")
    return Aggregate(
        step,
        start,
        finish,
        count=checked_count,
        interval=every,
        emit_empty=emit_empty,
        failures=Failures(label, errors, on_failure),
        scheduler=_validate.scheduler(scheduler),
    )
