"""Time windows: tumbling_window, sliding_window, session_window.

Each processor groups items by the scheduler time at which they arrive and
emits a ``rxstreamz.types.Window`` (``start``, ``end``, ``items``, and
``key`` for sessions) when the window ends. Windows are never emitted empty.

Tumbling and sliding windows are aligned to the epoch, as in Flink and Beam: a
window of ``size`` seconds starts at a whole multiple of ``size`` (or of
``slide``) since 1970-01-01 UTC, whatever the subscription time. Boundaries are
computed in whole microseconds (the resolution of ``datetime``), so an item
that arrives exactly on a boundary always belongs to the window that starts
there, never to the one that ends there.

Timers are per window, never per item: one timer waits for the earliest open
window (or session) to end and is re-armed for the next one when it fires.

Time is read through ``_scheduling.Clock``: on real-time schedulers a steady
clock (the wall clock at subscription plus monotonic time), so a wall-clock
step moves neither deadlines nor boundaries; the labels then differ from the
wall clock by the step until the next subscription.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, overload

from reactivex import Observable, abc
from reactivex.disposable import (
    CompositeDisposable,
    Disposable,
    SerialDisposable,
    SingleAssignmentDisposable,
)

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator
from rxstreamz.types import Window

__all__ = [
    "KeyedSessionWindow",
    "SessionWindow",
    "SessionWindowStats",
    "TimeWindow",
    "TimeWindowStats",
    "session_window",
    "sliding_window",
    "tumbling_window",
]

_T = TypeVar("_T")
_X = TypeVar("_X")

_MICROSECOND = timedelta(microseconds=1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # for a scheduler whose clock is naive


def duration_micros(param: str, value: object) -> int:
    """Validate a duration and return it in whole microseconds (>= 1).

    Window arithmetic is done on integers so that boundaries are exact; a
    ``timedelta`` converts without rounding, seconds are rounded to the
    nearest microsecond (as ``timedelta`` rounds them).
    """
    seconds = _validate.timer_duration(param, value)
    exact = value if isinstance(value, timedelta) else timedelta(seconds=seconds)
    return exact // _MICROSECOND


def epoch_of(now: datetime) -> datetime:
    """Return the epoch in the same flavour (aware or naive) as the clock reading ``now``."""
    return _UTC_EPOCH if now.tzinfo is not None else _NAIVE_EPOCH


class _WindowRow(Row):
    __slots__ = ("emitted", "placements", "windows")
    emitted: int
    placements: int
    windows: int


def _held(totals: dict[str, int]) -> int:
    """Items taken and not yet emitted, failed or dropped (live subscriptions only).

    A live row is written without the reader's lock, so a snapshot may catch
    a window counted as emitted just before its last item is counted as
    received: hence the floor.
    """
    return max(0, totals["received"] - totals["emitted"] - totals["failed"] - totals["dropped"])


# -- tumbling_window / sliding_window ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeWindowStats(ProcessorStats):
    """Counters of ``tumbling_window`` and ``sliding_window``, summed over subscriptions.

    ``received == emitted + dropped + held`` (no user function, so ``failed``
    stays 0). In a sliding window an item sits in several windows; it counts
    once, as ``emitted`` when the last window holding it is emitted (until
    then it is ``held``), and once per window in ``placements``. ``dropped``
    counts the items of the windows thrown away by dispose; completion and
    upstream errors emit them instead.

    Attributes:
        emitted: Items whose last window has been emitted.
        placements: Items in emitted windows, an item once per window it is
            in (equal to ``emitted`` for tumbling windows).
        windows: Windows emitted.
        held: Items in open windows right now that are still to be emitted.
    """

    emitted: int
    placements: int
    windows: int
    held: int


class TimeWindow:
    """The operator returned by ``tumbling_window`` and ``sliding_window``."""

    def __init__(
        self, size: int, slide: int, name: str, scheduler: abc.SchedulerBase | None
    ) -> None:
        self.size_micros = size
        self.slide_micros = slide
        self.name = name
        self._scheduler = scheduler
        self._ledger = Ledger(_WindowRow)

    def stats(self) -> TimeWindowStats:
        """Return the counters of every subscription, past and present."""
        totals = self._ledger.totals()
        return TimeWindowStats(**totals, held=_held(totals))

    def __call__(self, source: Observable[_X]) -> Observable[Window[_X]]:
        """Apply the operator to ``source``."""
        size = self.size_micros
        slide = self.slide_micros
        own = self._scheduler
        ledger = self._ledger

        def subscribe(
            observer: abc.ObserverBase[Window[_X]], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(own, scheduler))
            read_clock = clock.micros  # microseconds since the epoch: no datetime per item
            epoch = epoch_of(clock.now())
            never = -(2**63)
            lock = threading.RLock()
            # Open windows as (start, items), in start order (hence end order too).
            windows: deque[tuple[int, list[_X]]] = deque()
            newest: int | None = None  # index (start // slide) of the newest window opened
            latest = read_clock()  # latest clock reading, microseconds
            # Until ``boundary`` (microseconds) an arriving item belongs to exactly
            # the open windows: the fast path. ``never`` forces the slow path.
            boundary = never
            timer = SerialDisposable()
            timer_due: int | None = None  # window end the pending timer waits for
            stopped = False
            # Counters: `received` per item under the lock, the others per window.
            # An item counts as emitted with the newest window open when it
            # arrived (its last one). When a newer window opens, the previous
            # newest one's count of such items is fixed here, by start.
            row = ledger.open()
            owned: dict[int, int] = {}
            released = False

            def at(micros: int) -> datetime:
                return epoch + timedelta(microseconds=micros)

            def emit(start: int, items: list[_X]) -> None:
                mine = owned.pop(start, None)
                row.emitted += len(items) if mine is None else mine
                row.placements += len(items)
                row.windows += 1
                observer.on_next(Window(at(start), at(start + size), items))

            def release() -> None:
                # Count what the open windows hold as dropped and retire the row (once).
                nonlocal released
                with lock:
                    if released:
                        return
                    released = True
                    row.dropped = row.received - row.emitted
                    windows.clear()
                ledger.retire(row)

            def reading(micros: int) -> int:
                # The clock in microseconds, never earlier than a previous reading.
                nonlocal latest
                if micros > latest:
                    latest = micros
                return latest

            def emit_due(now: int) -> bool:
                # Emit every window that ended at or before ``now``, oldest first.
                # False if the subscription was disposed meanwhile (by downstream).
                while windows and windows[0][0] + size <= now:
                    start, items = windows.popleft()
                    emit(start, items)
                return not stopped

            def refresh() -> None:
                # After the open windows changed: move the boundary, re-arm the timer.
                nonlocal boundary, timer_due
                if windows and newest is not None:
                    due = windows[0][0] + size
                    boundary = min(due, (newest + 1) * slide)
                    if due != timer_due:
                        timer_due = due
                        timer.disposable = clock.schedule_at_micros(due, fire)
                else:
                    boundary = never
                    if timer_due is not None:
                        timer_due = None
                        timer.disposable = Disposable()

            def fire(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
                nonlocal timer_due
                with lock:
                    if not stopped:
                        timer_due = None
                        # Only what has ended by the clock: a real-time timer may wake
                        # a hair early, and refresh() then waits again for the rest.
                        if emit_due(reading(read_clock())):
                            refresh()
                if stopped:  # disposed while the timer held the lock
                    release()

            def advance(now: int) -> bool:
                # Slow path: emit the ended windows, open the ones containing ``now``.
                nonlocal newest
                if windows and windows[0][0] + size <= now and not emit_due(now):
                    return False
                last = now // slide
                if newest is None or last > newest:
                    first = (now - size) // slide + 1
                    if newest is not None and first <= newest:
                        first = newest + 1
                    if newest is not None and windows and windows[-1][0] == newest * slide:
                        # The newest window so far is no longer the newest.
                        owned[windows[-1][0]] = len(windows[-1][1])
                    owned.update((index * slide, 0) for index in range(first, last))
                    windows.extend((index * slide, []) for index in range(first, last + 1))
                    newest = last
                refresh()
                return True

            def on_next(item: _X) -> None:
                with lock:
                    if not stopped:
                        row.received += 1
                        now = read_clock()
                        if now < boundary or advance(reading(now)):
                            for _start, items in windows:
                                items.append(item)
                if stopped:  # disposed meanwhile (perhaps by a downstream of advance)
                    release()

            def stop() -> None:
                # No lock: a timer holds it while downstream receives a window,
                # and disposal must not wait for downstream (nor deadlock on it).
                # Whoever holds the lock releases the row on its way out.
                nonlocal stopped
                stopped = True
                timer.dispose()
                if lock.acquire(blocking=False):
                    try:
                        release()
                    finally:
                        lock.release()

            def flush() -> bool:
                nonlocal stopped
                with lock:
                    if stopped:  # disposed: the release may have been left to us
                        release()
                        return False
                    stopped = True
                    timer.dispose()
                    while windows:
                        start, items = windows.popleft()
                        emit(start, items)
                    release()
                    return True

            on_error, on_completed = _scheduling.flushing_terminals(flush, observer)

            upstream = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)
            return CompositeDisposable(upstream, Disposable(stop))

        return Observable(subscribe)


def tumbling_window(
    size: _validate.Duration,
    *,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> TimeWindow:
    """Group items into consecutive, non-overlapping windows of ``size`` seconds.

    Window ``k`` covers the scheduler-time interval ``[k * size, (k + 1) * size)``
    counted from the epoch (1970-01-01 UTC), as in Flink and Beam, so windows of
    ``size=60`` are whole clock minutes whenever you subscribe. A window is
    emitted when its interval ends; intervals without items emit nothing.

    ```text
    time   0         10        20        30        40
    in     --a----b----c---------------------d---|
    tumbling_window(10)
    out    ----------A---------B-----------------C|

    A=[a, b] over [0, 10)    B=[c] over [10, 20)
    (nothing for the empty [20, 30))    C=[d] over [30, 40), flushed at |
    ```

    Behavior:
        - An item that arrives exactly at a boundary belongs to the window that
          starts there.
        - Completion emits the open window (with its planned ``end``), then
          completes; an upstream error does the same, then forwards the error.
        - One timer per window, armed by the window's first item; none while
          no window is open. Dispose cancels it; nothing is emitted after. Dispose
          takes no lock: it never waits for a downstream receiving a window.
        - Windows are emitted on the timer's thread (the scheduler's) or, when
          an item arrives after a window's end before its timer ran, on the
          item's thread; emissions are serialized.
        - Each subscription has its own windows.
        - ``stats()`` (``TimeWindowStats``) sums the subscriptions:
          ``received == emitted + dropped + held``, where ``dropped`` is the
          items of the windows thrown away by dispose.

    Examples:
        >>> import reactivex as rx
        >>> from reactivex import operators as ops
        >>> from reactivex.testing import TestScheduler
        >>> clock = TestScheduler()
        >>> ticks = rx.interval(4, scheduler=clock).pipe(ops.take(5))  # 0..4 at 4, 8, .. 20 s
        >>> out = []
        >>> _ = ticks.pipe(tumbling_window(10, scheduler=clock)).subscribe(out.append)
        >>> clock.advance_by(60)
        >>> [(f"{w.start:%S}-{w.end:%S}", w.items) for w in out]
        [('00-10', [0, 1]), ('10-20', [2, 3]), ('20-30', [4])]

    Args:
        size: Window length: seconds (``int``/``float``) or a ``timedelta``;
            at least one microsecond.
        name: Default ``"tumbling_window"``.
        scheduler: Clock and timers; default the subscribe-time scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` turning ``Observable[T]`` into
        ``Observable[Window[T]]``, with ``stats() -> TimeWindowStats``.

    Raises:
        TypeError: ``size`` is not a number or ``timedelta``; ``scheduler`` is
            not a reactivex scheduler.
        ValueError: ``size`` is not positive (or below a microsecond).
    """
    micros = duration_micros("size", size)
    return TimeWindow(
        micros, micros, _validate.name(name, "tumbling_window"), _validate.scheduler(scheduler)
    )


def sliding_window(
    size: _validate.Duration,
    slide: _validate.Duration,
    *,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> TimeWindow:
    """Group items into overlapping windows of ``size`` seconds, one starting every ``slide``.

    Windows start at whole multiples of ``slide`` since the epoch and cover
    ``[start, start + size)``. An item belongs to every window whose interval
    contains its arrival time, so each item appears in ``size / slide``
    windows (rounded down or up, depending on where it falls). With
    ``slide == size`` this is ``tumbling_window``.

    ```text
    time   0    5    10   15   20
    in     ---a----b----|
    sliding_window(10, 5)
    out    -----A----B--C|

    A=[a]    over [-5, 5)
    B=[a, b] over [0, 10)
    C=[b]    over [5, 15), flushed at |
    ```

    Behavior:
        - Windows are emitted when they end; windows ending at the same time
          come out in ``start`` order. Windows with no item are never emitted.
        - Completion emits every open window in ``start`` order (with its
          planned ``end``), then completes; an upstream error does the same,
          then forwards the error.
        - One timer at a time, for the end of the earliest open window (no
          timer per item); dispose cancels it.
        - Threads and serialization as in ``tumbling_window``.
        - ``stats()`` (``TimeWindowStats``): ``received == emitted + dropped +
          held``, an item counting once, as emitted when the last window
          holding it is emitted; ``placements`` counts it once per window.

    Examples:
        >>> import reactivex as rx
        >>> from reactivex import operators as ops
        >>> from reactivex.testing import TestScheduler
        >>> clock = TestScheduler()
        >>> ticks = rx.interval(4, scheduler=clock).pipe(ops.take(3))  # 0, 1, 2 at 4, 8, 12 s
        >>> out = []
        >>> _ = ticks.pipe(sliding_window(10, 5, scheduler=clock)).subscribe(out.append)
        >>> clock.advance_by(60)
        >>> [(f"{w.start:%S}-{w.end:%S}", w.items) for w in out]
        [('55-05', [0]), ('00-10', [0, 1]), ('05-15', [1, 2]), ('10-20', [2])]

    Args:
        size: Window length (seconds or ``timedelta``), at least a microsecond.
        slide: Distance between window starts; ``0 < slide <= size``.
        name: Default ``"sliding_window"``.
        scheduler: Clock and timers; default the subscribe-time scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` turning ``Observable[T]`` into
        ``Observable[Window[T]]``, with ``stats() -> TimeWindowStats``.

    Raises:
        TypeError: ``size`` or ``slide`` is not a number or ``timedelta``;
            ``scheduler`` is not a reactivex scheduler.
        ValueError: ``size`` or ``slide`` is not positive, or ``slide > size``
            (items between windows would be lost).
    """
    size_micros = duration_micros("size", size)
    slide_micros = duration_micros("slide", slide)
    if slide_micros > size_micros:
        raise ValueError(
            f"slide must be <= size, got slide={slide!r} > size={size!r} "
            "(items between windows would be lost)"
        )
    return TimeWindow(
        size_micros,
        slide_micros,
        _validate.name(name, "sliding_window"),
        _validate.scheduler(scheduler),
    )


# -- session_window ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionWindowStats(ProcessorStats):
    """Counters of ``session_window``, summed over its subscriptions.

    ``received == emitted + failed + dropped + held``. ``failed`` counts the
    items whose ``key`` function raised or returned a non-``str`` (in both
    ``errors`` modes); ``dropped`` the items of the sessions thrown away by
    dispose. Completion, upstream errors and a failing ``key`` in ``"raise"``
    mode emit the open sessions instead.

    Attributes:
        emitted: Items in emitted sessions.
        windows: Sessions emitted.
        held: Items in open sessions right now.
    """

    emitted: int
    windows: int
    held: int


class _SessionRow(Row):
    __slots__ = ("emitted", "windows")
    emitted: int
    windows: int


class _Session(Generic[_T]):
    """One open session: its key, first and last arrival (clock microseconds) and items."""

    __slots__ = ("first", "items", "key", "last")

    def __init__(self, key: str | None, now: int, item: _T) -> None:
        self.key = key
        self.first = now
        self.last = now
        self.items = [item]


class _SessionOperator:
    """What both session operators share: options, counters and the subscription logic."""

    def __init__(
        self,
        gap: int,
        key: Callable[[Any], str] | None,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
        max_sessions: int | None = None,
        max_duration: int | None = None,
    ) -> None:
        self.gap_micros = gap
        self.max_sessions = max_sessions
        self.max_duration_micros = max_duration
        self.name = failures.processor
        self._key = key
        self._failures = failures
        self._scheduler = scheduler
        self._ledger = Ledger(_SessionRow)

    def stats(self) -> SessionWindowStats:
        """Return the counters of every subscription, past and present."""
        totals = self._ledger.totals()
        return SessionWindowStats(**totals, held=_held(totals))

    def _apply(self, source: Observable[_X]) -> Observable[Window[_X]]:
        gap = self.gap_micros
        longest = self.max_duration_micros
        most = self.max_sessions
        key_fn = self._key
        failures = self._failures
        own = self._scheduler
        ledger = self._ledger

        def subscribe(
            observer: abc.ObserverBase[Window[_X]], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(own, scheduler))
            # Whole microseconds since the epoch: no datetime per item; the
            # labels are built once per session.
            read_clock = clock.micros
            epoch = epoch_of(clock.now())
            latest = read_clock()  # time never runs backwards for a subscription
            lock = threading.RLock()
            sessions: dict[str | None, _Session[_X]] = {}
            # One entry per open session: (deadline, first, key for sorting, seq, session).
            # A deadline moves later as items arrive; the entry is corrected lazily
            # when it reaches the top of the heap. A session closed early (the
            # max_sessions limit) leaves its entry behind until it reaches the top
            # or the heap is rebuilt. With max_sessions, `sessions` is kept in
            # order of last item (oldest first).
            deadlines: list[tuple[int, int, str, int, _Session[_X]]] = []
            seq = 0
            timer = SerialDisposable()
            timer_due: int | None = None
            upstream = SingleAssignmentDisposable()
            stopped = False
            row = ledger.open()  # `received` and `failed` per item, the rest per session
            released = False

            def release() -> None:
                # Count what the open sessions hold as dropped and retire the row (once).
                nonlocal released
                with lock:
                    if released:
                        return
                    released = True
                    row.dropped = row.received - row.emitted - row.failed
                    sessions.clear()
                    deadlines.clear()
                ledger.retire(row)

            def at(micros: int) -> datetime:
                return epoch + timedelta(microseconds=micros)

            def reading() -> int:
                nonlocal latest
                now = read_clock()
                if now > latest:
                    latest = now
                return latest

            def end_of(session: _Session[_X]) -> int:
                # When the session expires: `gap` after its last item, or
                # `max_duration` after its first, whichever comes first.
                end = session.last + gap
                if longest is not None:
                    end = min(end, session.first + longest)
                return end

            def emit(session: _Session[_X], end: int) -> None:
                del sessions[session.key]
                row.emitted += len(session.items)
                row.windows += 1
                observer.on_next(Window(at(session.first), at(end), session.items, session.key))

            def expire(now: int) -> bool:
                # Emit every session whose deadline is at or before ``now``, in
                # (deadline, start, key) order. False if disposed meanwhile.
                while deadlines and deadlines[0][0] <= now:
                    deadline, first, sort_key, number, session = heapq.heappop(deadlines)
                    if sessions.get(session.key) is not session:
                        continue  # closed early
                    actual = end_of(session)
                    if actual != deadline:
                        heapq.heappush(deadlines, (actual, first, sort_key, number, session))
                    else:
                        emit(session, actual)
                        if stopped:
                            return False
                return True

            def close_oldest(now: int) -> bool:
                # The max_sessions limit: close the session whose last item is the
                # oldest, ending it now. False if disposed meanwhile.
                nonlocal deadlines
                emit(sessions[next(iter(sessions))], now)
                if len(deadlines) > 2 * len(sessions) + 16:  # drop the entries left behind
                    deadlines = [
                        entry for entry in deadlines if sessions.get(entry[4].key) is entry[4]
                    ]
                    heapq.heapify(deadlines)
                return not stopped

            def arm() -> None:
                nonlocal timer_due
                if deadlines:
                    due = deadlines[0][0]
                    if timer_due is None or due < timer_due:
                        timer_due = due
                        timer.disposable = clock.schedule_at_micros(due, fire)

            def fire(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
                nonlocal timer_due
                with lock:
                    if not stopped:
                        timer_due = None
                        # Only what has expired by the clock (a real-time timer may wake
                        # early).
                        if expire(reading()):
                            arm()
                if stopped:  # disposed while the timer held the lock
                    release()

            def running() -> bool:
                return not stopped

            def on_next(item: _X) -> None:
                if not running():
                    return
                row.received += 1
                take(item)
                if stopped:  # disposed meanwhile (by the key function, or downstream)
                    release()

            def take(item: _X) -> None:
                nonlocal seq, latest
                key: str | None = None
                if key_fn is not None:
                    try:
                        result: object = key_fn(item)
                        if not isinstance(result, str):
                            raise TypeError(
                                f"session_window key must return a str, got {type(result).__name__}"
                            )
                        key = result
                    except Exception as exc:
                        row.failed += 1
                        failure = failures.handle(exc, item, clock.now())
                        if failure is not None:
                            fail(failure)
                        return
                with lock:
                    if stopped:  # disposed while the key function ran
                        return
                    now = read_clock()
                    if now > latest:
                        latest = now
                    else:
                        now = latest
                    if deadlines and deadlines[0][0] <= now and not expire(now):
                        return
                    session = sessions.get(key)
                    if session is None:
                        if most is not None and len(sessions) >= most and not close_oldest(now):
                            return
                        session = sessions[key] = _Session(key, now, item)
                        seq += 1
                        due = now + gap if longest is None else now + min(gap, longest)
                        heapq.heappush(deadlines, (due, now, key or "", seq, session))
                        arm()
                    else:
                        session.last = now
                        session.items.append(item)
                        if most is not None:  # keep `sessions` in order of last item
                            del sessions[key]
                            sessions[key] = session

            def stop() -> None:
                # No lock: a timer holds it while downstream receives a window,
                # and disposal must not wait for downstream (nor deadlock on it).
                # Whoever holds the lock releases the row on its way out.
                nonlocal stopped
                stopped = True
                timer.dispose()
                if lock.acquire(blocking=False):
                    try:
                        release()
                    finally:
                        lock.release()

            def flush() -> bool:
                nonlocal stopped
                with lock:
                    if stopped:  # disposed: the release may have been left to us
                        release()
                        return False
                    stopped = True
                    timer.dispose()
                    order = sorted(sessions.values(), key=lambda s: (s.first, s.key or ""))
                    for session in order:
                        if sessions.get(session.key) is session:  # not disposed meanwhile
                            emit(session, end_of(session))
                    release()
                    return True

            def fail(exc: Exception) -> None:
                if flush():
                    observer.on_error(exc)
                upstream.dispose()

            on_error, on_completed = _scheduling.flushing_terminals(flush, observer)

            upstream.disposable = source.subscribe(
                on_next, on_error, on_completed, scheduler=scheduler
            )
            return CompositeDisposable(upstream, Disposable(stop))

        return Observable(subscribe)


class SessionWindow(_SessionOperator):
    """The operator returned by ``session_window`` without ``key``."""

    def __call__(self, source: Observable[_X]) -> Observable[Window[_X]]:
        """Apply the operator to ``source``."""
        return self._apply(source)


class KeyedSessionWindow(_SessionOperator, Generic[_T]):
    """The operator returned by ``session_window`` with ``key``."""

    def __call__(self, source: Observable[_T]) -> Observable[Window[_T]]:
        """Apply the operator to ``source``."""
        return self._apply(source)


@overload
def session_window(
    gap: _validate.Duration,
    *,
    key: None = None,
    max_sessions: int | None = None,
    max_duration: _validate.Duration | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> SessionWindow: ...


@overload
def session_window(
    gap: _validate.Duration,
    *,
    key: Callable[[_T], str],
    max_sessions: int | None = None,
    max_duration: _validate.Duration | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[Window[_T]], SessionWindowStats]: ...


def session_window(
    gap: _validate.Duration,
    *,
    key: Callable[[_T], str] | None = None,
    max_sessions: int | None = None,
    max_duration: _validate.Duration | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> SessionWindow | Operator[_T, Observable[Window[_T]], SessionWindowStats]:
    """Group items into sessions that close after ``gap`` seconds without an item.

    Without ``key`` there is one session at a time (``Window.key`` is
    ``None``); with ``key`` each key has its own session, and sessions of
    different keys open and close independently. A session expires when
    ``now - last_item >= gap``: an item arriving exactly ``gap`` after the
    previous one starts a new session. ``Window.start`` is the first item's
    arrival, ``Window.end`` the last item's arrival plus ``gap``.

    ```text
    time   0    5    10   15   20
    in     -a--b-----------c--|
    session_window(4)
    out    --------A----------B|

    A=[a, b] over [1, 8), emitted at 8 (4 s after b)
    B=[c] over [16, 20), flushed at |
    ```

    Behavior:
        - Sessions are emitted when they expire, in expiry order; sessions
          expiring at the same time come out by start, then key.
        - Completion emits every open session ordered by start, then key (with
          ``end = last + gap``), then completes; an upstream error does the
          same, then forwards the error.
        - A ``key`` function that raises, or returns something other than a
          ``str``: ``errors="raise"`` emits the open sessions as on completion,
          then forwards the exception (with a note naming the processor and
          the item) and disposes upstream; ``errors="skip"`` drops the item,
          counts it in ``stats().failed`` and hands a ``DeadLetter`` to
          ``on_failure``.
        - One timer at a time, for the earliest session deadline, corrected
          lazily when the session got more items meanwhile: no timer per item.
          Dispose cancels it (without waiting for a downstream receiving a
          window); nothing is emitted after.
        - Memory: each open session holds its items, and each open key one
          session, until the session expires. A key that never goes quiet
          for ``gap`` keeps one session, and its items, forever; unbounded
          keys keep unbounded sessions. ``max_duration`` and
          ``max_sessions`` bound both.
        - ``max_duration``: a session that has been open that long is emitted
          with ``end = start + max_duration`` (at that moment, by the timer),
          and the key's next item starts a new session; an item arriving
          exactly then belongs to the new one.
        - ``max_sessions``: when an item for a new key would open one session
          too many, the open session whose last item is the oldest (ties: the
          one whose last item came first) is emitted first, closed early, with
          ``end`` = the moment it was closed (so ``end - last`` may be less
          than ``gap``); then the new session opens.
        - Each subscription has its own sessions.
        - ``stats()`` (``SessionWindowStats``) sums the subscriptions:
          ``received == emitted + failed + dropped + held``, where
          ``dropped`` is the items of the sessions thrown away by dispose.

    Examples:
        >>> import reactivex as rx
        >>> from reactivex import operators as ops
        >>> from reactivex.testing import TestScheduler
        >>> clock = TestScheduler()
        >>> arrivals = rx.merge(
        ...     rx.timer(1, scheduler=clock).pipe(ops.map(lambda _: "a")),
        ...     rx.timer(3, scheduler=clock).pipe(ops.map(lambda _: "b")),
        ...     rx.timer(10, scheduler=clock).pipe(ops.map(lambda _: "c")),
        ... )
        >>> out = []
        >>> _ = arrivals.pipe(session_window(4, scheduler=clock)).subscribe(out.append)
        >>> clock.advance_by(60)
        >>> [(f"{w.start:%S}-{w.end:%S}", w.items) for w in out]
        [('01-07', ['a', 'b']), ('10-14', ['c'])]

    Args:
        gap: Idle time that closes a session (seconds or ``timedelta``).
        key: Session key of an item (a ``str``); ``None`` for one session.
        max_sessions: Most sessions open at once (>= 1); ``None`` for no
            limit. See Behavior.
        max_duration: Longest a session stays open (seconds or
            ``timedelta``, at least a microsecond); ``None`` for no limit.
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"session_window"``.
        scheduler: Clock and timers; default the subscribe-time scheduler, else
            ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` turning ``Observable[T]`` into
        ``Observable[Window[T]]``, with ``stats() -> SessionWindowStats``.

    Raises:
        TypeError: ``gap`` or ``max_duration`` is not a number or ``timedelta``;
            ``max_sessions`` is not an int; ``key`` or
            ``on_failure`` is not callable; ``scheduler`` is not a reactivex
            scheduler.
        ValueError: ``gap`` or ``max_duration`` is not positive (or below a
            microsecond); ``max_sessions`` < 1; ``errors`` is not ``"raise"``
            or ``"skip"``.
    """
    gap_micros = duration_micros("gap", gap)
    key_fn: Callable[[_T], str] | None = _validate.optional_function("key", key)
    most = _validate.optional_integer("max_sessions", max_sessions)
    longest = None if max_duration is None else duration_micros("max_duration", max_duration)
    failures = Failures(_validate.name(name, "session_window"), errors, on_failure)
    own = _validate.scheduler(scheduler)
    if key_fn is None:
        return SessionWindow(gap_micros, None, failures, own, most, longest)
    return KeyedSessionWindow(gap_micros, key_fn, failures, own, most, longest)
