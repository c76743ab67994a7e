"""Time windows: tumbling_window, sliding_window, session_window.

Each processor groups items by the scheduler time at which they arrive and
emits a ``rxstreamz.records.Window`` (``start``, ``end``, ``items``, and
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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic

from reactivex import Observable, abc
from reactivex.disposable import Disposable
from typing_extensions import TypeVar

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._lifecycle import HeldRun
from rxstreamz._typing import Operator
from rxstreamz.records import Window

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

_T = TypeVar("_T", default=Any)
"""The item type of a window operator: from ``key``, else solved from ``pipe()``."""
_X = TypeVar("_X")
_C = TypeVar("_C", bound="_CountRow")

_MICROSECOND = timedelta(microseconds=1)
_BELOW_ANY_READING = -(2**63)
"""A window boundary below every clock reading: ``now < boundary`` never holds."""
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


class _CountRow(Row):
    __slots__ = ("emitted", "windows")
    emitted: int
    windows: int


class _WindowRow(_CountRow):
    __slots__ = ("placements",)
    placements: int


def _held(totals: dict[str, int]) -> int:
    """Items taken and not yet emitted, failed or dropped (live subscriptions only).

    A live row is written without the reader's lock, so a snapshot may catch
    a window counted as emitted just before its last item is counted as
    received: hence the floor.
    """
    return max(0, totals["received"] - totals["emitted"] - totals["failed"] - totals["dropped"])


class _WindowRun(HeldRun[_C, Window[_X]], Generic[_X, _C]):
    """What every window subscription shares: clock, lock, counters, the timer and the end.

    Times are whole microseconds since the epoch (``Clock.micros``): no
    ``datetime`` per item; labels are built once per window. Two threads meet
    here, under ``lock`` (re-entrant: a downstream that disposes while it
    receives a window re-enters ``dispose``): the producer, in the ``on_next``
    that a subclass's ``accepting`` makes, and the timer, in ``fire``.
    Subclasses keep the open windows and say what is due (``on_timer``), what
    completion emits (``emit_all``) and how to forget the rest (``clear``);
    the end (flush, dispose, release) is ``HeldRun``'s.
    """

    __slots__ = ("clock", "epoch", "latest", "read_clock", "timer_due")

    def __init__(
        self, observer: abc.ObserverBase[Window[_X]], clock: _scheduling.Clock, ledger: Ledger[_C]
    ) -> None:
        super().__init__(
            ledger, observer
        )  # `received` (and `failed`) per item, the rest per window
        self.clock = clock
        self.read_clock = clock.micros
        self.epoch = epoch_of(clock.now())
        self.latest = self.read_clock()  # time never runs backwards for a subscription
        self.timer_due: int | None = None  # what the pending timer waits for

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream.

        The one closure of the subscription (cheaper per item than a bound
        method), with what it reads bound to its locals.
        """
        raise NotImplementedError

    def at(self, micros: int) -> datetime:
        """The label of clock reading ``micros``."""
        return self.epoch + timedelta(microseconds=micros)

    def reading(self, micros: int) -> int:
        """The clock reading ``micros``, never earlier than a previous reading."""
        if micros > self.latest:
            self.latest = micros
        return self.latest

    # -- the timer -----------------------------------------------------------------------

    def schedule(self, due: int) -> None:
        """Arm the timer for ``due``, replacing the pending one (``lock`` held)."""
        self.timer_due = due
        self.timer.disposable = self.clock.schedule_at_micros(due, self.fire)

    def fire(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        """The timer: emit what is due by the clock, re-arm for what is next."""
        with self.lock:
            if not self.stopped:
                self.timer_due = None
                # Only what is due by the clock: a real-time timer may wake a
                # hair early, and the subclass then waits again for the rest.
                self.on_timer(self.reading(self.read_clock()))
        if self.stopped:  # disposed while the timer held the lock
            self.release()

    def on_timer(self, now: int) -> None:
        """Emit what is due at ``now`` and re-arm (``lock`` held)."""
        raise NotImplementedError

    # -- the end -------------------------------------------------------------------------

    def emit_all(self) -> None:
        """Emit every open window, in completion order (``lock`` held)."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget the open windows (``lock`` held)."""
        raise NotImplementedError

    def flush_held(self) -> bool:
        """Upstream ended: stop taking items, emit every open window (``lock`` held)."""
        self.stopped = True  # an item sent back by downstream meanwhile is not taken
        self.emit_all()
        return True

    def drop_held(self) -> None:
        """Count what the open windows hold as dropped and forget them (``lock`` held, once)."""
        row = self.row
        row.dropped = row.received - row.emitted - row.failed
        self.clear()


class _WindowOperator(Generic[_C]):
    """What the window operators share: name, scheduler, counters, one run per subscription."""

    def __init__(self, name: str, scheduler: abc.SchedulerBase | None, row: type[_C]) -> None:
        self.name = name
        self._scheduler = scheduler
        self._ledger = Ledger(row)

    def _totals(self) -> dict[str, int]:
        """The counters of every subscription, past and present, with ``held``."""
        totals = self._ledger.totals()
        totals["held"] = _held(totals)
        return totals

    def _windowed(
        self,
        source: Observable[_X],
        start: Callable[[abc.ObserverBase[Window[_X]], _scheduling.Clock], _WindowRun[_X, _C]],
    ) -> Observable[Window[_X]]:
        """The windowed ``source``: each subscription gets its own clock and ``_WindowRun``."""
        own = self._scheduler

        def subscribe(
            observer: abc.ObserverBase[Window[_X]], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            run = start(observer, _scheduling.Clock(_scheduling.resolve(own, scheduler)))
            return run.connect(source, run.accepting(), scheduler)

        return Observable(subscribe)


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


class TimeWindow(_WindowOperator[_WindowRow], Generic[_T]):
    """The operator returned by ``tumbling_window`` and ``sliding_window``."""

    def __init__(
        self, size: int, slide: int, name: str, scheduler: abc.SchedulerBase | None
    ) -> None:
        super().__init__(name, scheduler, _WindowRow)
        self.size_micros = size
        self.slide_micros = slide

    def stats(self) -> TimeWindowStats:
        """Return the counters of every subscription, past and present."""
        return TimeWindowStats(**self._totals())

    def __call__(self, source: Observable[_T]) -> Observable[Window[_T]]:
        """Apply the operator to ``source``."""
        ledger = self._ledger
        return self._windowed(
            source, lambda observer, clock: _TimeWindows(self, observer, clock, ledger)
        )


class _TimeWindows(_WindowRun[_X, _WindowRow]):
    """One ``tumbling_window`` / ``sliding_window`` subscription.

    Open windows are ``(start, items)`` in start order (hence end order too).
    Until ``boundary`` an arriving item belongs to exactly the open windows:
    the per-item path is one clock reading and one append per open window.

    Counting: ``received`` per item, the rest per window. An item counts as
    emitted with the newest window open when it arrived (its last one); when
    a newer window opens, the previous newest one's count of such items is
    fixed in ``owned``, by start.
    """

    __slots__ = ("boundary", "newest", "owned", "size", "slide", "windows")

    def __init__(
        self,
        op: TimeWindow,
        observer: abc.ObserverBase[Window[_X]],
        clock: _scheduling.Clock,
        ledger: Ledger[_WindowRow],
    ) -> None:
        super().__init__(observer, clock, ledger)
        self.size = op.size_micros
        self.slide = op.slide_micros
        self.windows: deque[tuple[int, list[_X]]] = deque()
        self.newest: int | None = None  # index (start // slide) of the newest window opened
        self.boundary = _BELOW_ANY_READING  # forces the slow path
        self.owned: dict[int, int] = {}

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream: add the item to every window open at its arrival."""
        lock, row, read_clock = self.lock, self.row, self.read_clock
        windows = self.windows
        advance = self.advance
        release = self.release

        def on_next(item: _X) -> None:
            with lock:
                if not self.stopped:
                    row.received += 1
                    now = read_clock()
                    if now < self.boundary or advance(now):
                        for _start, items in windows:
                            items.append(item)
            if self.stopped:  # disposed meanwhile (perhaps by a downstream of advance)
                release()

        return on_next

    def advance(self, now: int) -> bool:
        """Slow path: emit the ended windows, open the ones containing ``now``.

        ``False`` if the subscription was disposed meanwhile (by downstream).
        """
        now = self.reading(now)
        windows = self.windows
        if windows and windows[0][0] + self.size <= now and not self.emit_due(now):
            return False
        slide, newest = self.slide, self.newest
        last = now // slide
        if newest is None or last > newest:
            first = (now - self.size) // slide + 1
            if newest is not None and first <= newest:
                first = newest + 1
            if newest is not None and windows and windows[-1][0] == newest * slide:
                # The newest window so far is no longer the newest.
                self.owned[windows[-1][0]] = len(windows[-1][1])
            self.owned.update((index * slide, 0) for index in range(first, last))
            windows.extend((index * slide, []) for index in range(first, last + 1))
            self.newest = last
        self.refresh()
        return True

    def emit(self, start: int, items: list[_X]) -> None:
        """Emit one window and count it."""
        row = self.row
        mine = self.owned.pop(start, None)
        row.emitted += len(items) if mine is None else mine
        row.placements += len(items)
        row.windows += 1
        self.observer.on_next(Window(self.at(start), self.at(start + self.size), items))

    def emit_due(self, now: int) -> bool:
        """Emit every window that ended at or before ``now``, oldest first.

        ``False`` if the subscription was disposed meanwhile (by downstream).
        """
        windows, size = self.windows, self.size
        while windows and windows[0][0] + size <= now:
            start, items = windows.popleft()
            self.emit(start, items)
        return not self.stopped

    def refresh(self) -> None:
        """After the open windows changed: move the boundary, re-arm the timer."""
        windows = self.windows
        if windows and self.newest is not None:
            due = windows[0][0] + self.size
            self.boundary = min(due, (self.newest + 1) * self.slide)
            if due != self.timer_due:
                self.schedule(due)
        else:
            self.boundary = _BELOW_ANY_READING
            if self.timer_due is not None:
                self.timer_due = None
                self.timer.disposable = Disposable()

    def on_timer(self, now: int) -> None:
        """Emit the windows ended by ``now``; re-arm for the next one."""
        if self.emit_due(now):
            self.refresh()

    def emit_all(self) -> None:
        """Emit every open window in start order."""
        windows = self.windows
        while windows:
            start, items = windows.popleft()
            self.emit(start, items)

    def clear(self) -> None:
        """Forget the open windows."""
        self.windows.clear()


def tumbling_window(
    size: _validate.Duration,
    *,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[Window[_T]], TimeWindowStats]:
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
) -> Operator[_T, Observable[Window[_T]], TimeWindowStats]:
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
        scheduler: Clock and timers, as in ``tumbling_window``.

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


class _SessionRow(_CountRow):
    __slots__ = ()


class _Session(Generic[_T]):
    """One open session: its key, first and last arrival (clock microseconds) and items."""

    __slots__ = ("first", "items", "key", "last")

    def __init__(self, key: str | None, now: int, item: _T) -> None:
        self.key = key
        self.first = now
        self.last = now
        self.items = [item]


class _SessionOperator(_WindowOperator[_SessionRow]):
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
        super().__init__(failures.processor, scheduler, _SessionRow)
        self.gap_micros = gap
        self.max_sessions = max_sessions
        self.max_duration_micros = max_duration
        self._key = key
        self._failures = failures

    def stats(self) -> SessionWindowStats:
        """Return the counters of every subscription, past and present."""
        return SessionWindowStats(**self._totals())

    def _apply(self, source: Observable[_X]) -> Observable[Window[_X]]:
        ledger, key, failures = self._ledger, self._key, self._failures
        return self._windowed(
            source,
            lambda observer, clock: _Sessions(self, observer, clock, ledger, key, failures),
        )


class _Sessions(_WindowRun[_X, _SessionRow]):
    """One ``session_window`` subscription.

    ``deadlines`` holds one entry per open session: ``(deadline, first, key
    for sorting, seq, session)``. A deadline moves later as items arrive; the
    entry is corrected lazily when it reaches the top of the heap. A session
    closed early (the ``max_sessions`` limit) leaves its entry behind until it
    reaches the top or the heap is rebuilt. With ``max_sessions``,
    ``sessions`` is kept in order of last item (oldest first).
    """

    __slots__ = ("deadlines", "failures", "gap", "key_fn", "longest", "most", "seq", "sessions")

    def __init__(
        self,
        op: _SessionOperator,
        observer: abc.ObserverBase[Window[_X]],
        clock: _scheduling.Clock,
        ledger: Ledger[_SessionRow],
        key_fn: Callable[[Any], str] | None,
        failures: Failures,
    ) -> None:
        super().__init__(observer, clock, ledger)
        self.gap = op.gap_micros
        self.longest = op.max_duration_micros
        self.most = op.max_sessions
        self.key_fn = key_fn
        self.failures = failures
        self.sessions: dict[str | None, _Session[_X]] = {}
        self.deadlines: list[tuple[int, int, str, int, _Session[_X]]] = []
        self.seq = 0

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream: add the item to its key's session."""
        lock, row, read_clock = self.lock, self.row, self.read_clock
        sessions = self.sessions
        keyed = self.key_fn is not None
        key_of = self.key_of
        expire = self.expire
        open_session = self.open_session
        release = self.release
        ordered = self.most is not None  # keep `sessions` in order of last item

        def on_next(item: _X) -> None:
            if self.stopped:
                return
            row.received += 1
            key = key_of(item) if keyed else None
            if key is not None or not keyed:  # None from key_of: the key function failed
                with lock:
                    if not self.stopped:  # not disposed while the key function ran
                        now = read_clock()
                        if now > self.latest:
                            self.latest = now
                        else:
                            now = self.latest
                        deadlines = self.deadlines
                        if not deadlines or deadlines[0][0] > now or expire(now):
                            session = sessions.get(key)
                            if session is None:
                                open_session(key, item, now)
                            else:
                                session.last = now
                                session.items.append(item)
                                if ordered:
                                    del sessions[key]
                                    sessions[key] = session
            if self.stopped:  # disposed meanwhile (by the key function, or downstream)
                release()  # type: ignore[unreachable]

        return on_next

    def key_of(self, item: _X) -> str | None:
        """The item's session key, or ``None`` if the key function failed (counted)."""
        assert self.key_fn is not None
        try:
            result: object = self.key_fn(item)
            if not isinstance(result, str):
                raise TypeError(
                    f"session_window key must return a str, got {type(result).__name__}"
                )
        except Exception as exc:
            self.row.failed += 1
            self.failures.forward(exc, item, self.clock.now, self.fail)
            return None
        return result

    def open_session(self, key: str | None, item: _X, now: int) -> None:
        """Open a session for ``key`` with its first item (``lock`` held)."""
        most = self.most
        if most is not None and len(self.sessions) >= most and not self.close_oldest(now):
            return
        session = self.sessions[key] = _Session(key, now, item)
        self.seq += 1
        gap, longest = self.gap, self.longest
        due = now + gap if longest is None else now + min(gap, longest)
        heapq.heappush(self.deadlines, (due, now, key or "", self.seq, session))
        self.arm()

    def end_of(self, session: _Session[_X]) -> int:
        """When ``session`` expires: ``gap`` after its last item, or sooner by ``max_duration``."""
        end = session.last + self.gap
        if self.longest is not None:
            end = min(end, session.first + self.longest)
        return end

    def emit(self, session: _Session[_X], end: int) -> None:
        """Emit one session, ending at ``end``, and count it."""
        del self.sessions[session.key]
        self.row.emitted += len(session.items)
        self.row.windows += 1
        window = Window(self.at(session.first), self.at(end), session.items, session.key)
        self.observer.on_next(window)

    def expire(self, now: int) -> bool:
        """Emit every session whose deadline is at or before ``now``, by (deadline, start, key).

        ``False`` if the subscription was disposed meanwhile (by downstream).
        """
        deadlines, sessions = self.deadlines, self.sessions
        while deadlines and deadlines[0][0] <= now:
            deadline, first, sort_key, number, session = heapq.heappop(deadlines)
            if sessions.get(session.key) is not session:
                continue  # closed early
            actual = self.end_of(session)
            if actual != deadline:
                heapq.heappush(deadlines, (actual, first, sort_key, number, session))
            else:
                self.emit(session, actual)
                if self.stopped:
                    return False
        return True

    def close_oldest(self, now: int) -> bool:
        """The ``max_sessions`` limit: close the session whose last item is the oldest, ending now.

        ``False`` if the subscription was disposed meanwhile (by downstream).
        """
        sessions = self.sessions
        self.emit(sessions[next(iter(sessions))], now)
        if len(self.deadlines) > 2 * len(sessions) + 16:  # drop the entries left behind
            self.deadlines = [
                entry for entry in self.deadlines if sessions.get(entry[4].key) is entry[4]
            ]
            heapq.heapify(self.deadlines)
        return not self.stopped

    def arm(self) -> None:
        """Arm the timer for the earliest deadline, unless it is armed for an earlier one."""
        if self.deadlines:
            due = self.deadlines[0][0]
            if self.timer_due is None or due < self.timer_due:
                self.schedule(due)

    def on_timer(self, now: int) -> None:
        """Emit the sessions expired by ``now``; re-arm for the next deadline."""
        if self.expire(now):
            self.arm()

    def emit_all(self) -> None:
        """Emit every open session ordered by start, then key."""
        sessions = self.sessions
        for session in sorted(sessions.values(), key=lambda s: (s.first, s.key or "")):
            if sessions.get(session.key) is session:  # not disposed meanwhile
                self.emit(session, self.end_of(session))

    def clear(self) -> None:
        """Forget the open sessions."""
        self.sessions.clear()
        self.deadlines.clear()

    def fail(self, error: Exception) -> None:
        """A key function failed in ``"raise"`` mode: emit the open sessions, then fail."""
        if self.flush():
            self.observer.on_error(error)
        self.upstream.dispose()


class SessionWindow(_SessionOperator, Generic[_T]):
    """The operator returned by ``session_window`` without ``key``."""

    def __call__(self, source: Observable[_T]) -> Observable[Window[_T]]:
        """Apply the operator to ``source``."""
        return self._apply(source)


class KeyedSessionWindow(SessionWindow[_T]):
    """The operator returned by ``session_window`` with ``key``."""


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
) -> Operator[_T, Observable[Window[_T]], SessionWindowStats]:
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
        scheduler: Clock and timers, as in ``tumbling_window``.

    Returns:
        An operator for ``pipe()``: ``Observable[T]`` in, one
        ``Window[T]`` per session out (its ``key`` the session's key, or
        ``None``); ``stats() -> SessionWindowStats``.

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
