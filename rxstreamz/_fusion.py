"""Fusion of consecutive per-item stages into one subscriber.

``filter_``, ``map_``, ``tap_``, ``take_``, ``skip_``, ``sample_``, ``chunk``
and ``unbatch``/``flatten`` return ``Stage`` objects, and ``batch`` applies one
when it follows a run (alone it subscribes on its own). A stage applied to a
``FusedObservable`` returns a new ``FusedObservable`` over the same upstream
with one more stage; applied to any other observable it starts a new run. So:

```python
source.pipe(filter_(p), map_(f), ops.distinct(), map_(g))
```

subscribes to ``source`` with one function running ``p`` and ``f`` inline,
then RxPY's ``distinct``, then a second fused run holding ``g``.

Each fused observable is immutable, so an intermediate observable stays usable
on its own and every subscription gets its own counters, lists and random
generator.

The per-item function of a chain is generated as Python source once per chain
*shape* (the sequence of stage kinds), compiled and cached. For
``filter -> map`` it reads:

```python
def on_next(x):
    nonlocal received, r0
    if stopped:  # completed, failed or disposed
        late()  # counted as dropped by the first stage
        return
    received += 1
    try:
        if not f0(x):  # the truth test too: a result's __bool__ may raise
            r0 += 1  # filtered out
            return
        x = f1(x)
    except Exception as exc:  # the line it went through names the stage
        fail(AT[exc.__traceback__.tb_lineno], exc, x)  # counts, applies the policy
        return  # the item failed
    if down.is_stopped:  # the subscriber's AutoDetachObserver.on_next, inlined
        return
    emit(x)
```

``try`` costs nothing on the success path (CPython 3.11+), and consecutive
calls share one, so each stage costs its user call and nothing else; a
failing stage is found from the line number in the exception's traceback
(the entry of this very function), and ``x`` still holds the item it failed
on. Tracebacks through fused code show the generated source.

Counting. The run counts ``received`` once, at its head, and each stage only
the items it removes (``r0``: filtered, skipped, discarded by the draw, or
ignored by a finished ``take_``); failures are counted by ``fail``, off the
per-item path. A stage's own figures are derived when ``stats()`` is read:
stage *i* received what the head received minus what the stages before it
removed. ``chunk`` and ``unbatch`` change the count of what flows on, so they
count what they emit (lists, elements).

Other shapes:

* ``take_`` wraps the rest of the chain in ``try``/``finally`` so the run
  completes after its last item whatever the later stages do with it.
* ``chunk(n)`` appends to the subscription's list and goes on only when it
  holds ``n`` items; a generated ``flush`` function runs the partial list
  through the rest of the chain when the run ends.
* ``unbatch`` loops over the iterable, running the rest of the chain on each
  element and checking ``stopped`` before each pull, so a ``take_`` after it
  stops even an endless iterable.
* ``batch`` without ``max_latency`` is a ``chunk``. With it, the list is
  filled the same way and its first item opens a ``Deadline``, whose timer
  runs ``settle`` on a scheduler thread. The timer and the item path hand the
  lists over as the unfused ``batch`` does (the comment above
  ``_timed_on_next``): ``on_next`` counts the calls in flight, the timer
  emits only when none is, and ``end`` holds the run's lock while it
  flushes. A run holds one such ``batch``; a second one starts a new run.

Python allows 20 nested blocks, so a run nests at most ``MAX_DEPTH`` of them
(a ``take_`` nests one, an ``unbatch`` two); the stage that would exceed it
starts a new run.

Upstream. A run subscribes to a plain ``Observable`` through its
``_subscribe_core`` with an observer of its own, doing what
``Observable.subscribe`` does around that call (the current-thread
trampoline, an exception raised while subscribing reaches ``on_error``), but
without RxPY's ``AutoDetachObserver``: that wrapper costs a Python call per
item and guards only what the run guards itself (nothing goes through after
the run stopped; the run disposes upstream when it ends). A subclass that
overrides ``subscribe`` is subscribed through it.

Downstream. When the run's own subscriber is RxPY's ``AutoDetachObserver``
(it is whenever it was subscribed through ``Observable.subscribe``), the
generated code inlines its ``on_next``: ``if down.is_stopped: return`` then a
direct call of the function it wraps, the very check that method makes,
without its call.
"""

from __future__ import annotations

import dataclasses
import functools
import linecache
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable
from reactivex.observer import AutoDetachObserver
from reactivex.scheduler import CurrentThreadScheduler

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures

_T = TypeVar("_T")
_R = TypeVar("_R")
_S = TypeVar("_S", bound=ProcessorStats)

Kind = Literal["filter", "map", "tap", "take", "chunk", "batch", "unbatch"]
"""How the generated code uses a stage's bound value ``f``.

* ``filter``: ``f(x)`` decides whether ``x`` goes on (also ``skip_``, ``sample_``).
* ``map``: ``x = f(x)``.
* ``tap``: ``f(x)``, ``x`` goes on unchanged.
* ``take``: ``f()`` counts the item and says whether it is the last one
  (``True``), or ``None`` once the last one has gone by: an item pushed back
  into the source while the last one was being emitted is ignored, as RxPY's
  ``take`` does. The run completes once the last item has gone through the
  rest of the chain.
* ``chunk``: ``f`` is the list size (also ``batch`` without ``max_latency``).
* ``batch``: ``f`` is a ``Latency``: a list filled as ``chunk`` fills its
  own, emitted when full or, by a timer, ``max_latency`` after its first item.
  A run holds at most one.
* ``unbatch``: no ``f``; ``x`` is iterated.
"""

MAX_DEPTH = 16
"""The most nested blocks one fused run holds (see the module docstring)."""

_NESTING: dict[Kind, int] = {"take": 1, "batch": 1, "unbatch": 2}
"""Blocks a stage nests (a ``batch``: the ``try`` around the whole ``on_next``)."""


class Stage(ABC, Generic[_T, _R]):
    """One fusable per-item processor: an operator usable in ``pipe()``.

    Subclasses set ``kind`` and implement ``bind``. A stage keeps the
    counters of every subscription it is part of, in any chain: the live ones
    are read when ``stats()`` is called, the finished ones were added to its
    totals when they ended.
    """

    kind: ClassVar[Kind]
    removed_as: ClassVar[str] = "filtered"
    """The name of the items a ``filter``-kind stage leaves out, in its figures."""

    def __init__(
        self, name: str, failures: Failures | None, scheduler: abc.SchedulerBase | None
    ) -> None:
        self.name = name
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)
        self._lock = threading.Lock()
        self._live: dict[tuple[_Run, int], None] = {}
        self._retired: dict[str, int] = {}

    @abstractmethod
    def bind(self) -> Any:
        """Return the value the fused code uses, fresh for one subscription."""

    def opens(self) -> bool:
        """Return False when a subscription must complete at once (``take_(0)``)."""
        return True

    def __call__(self, source: Observable[_T]) -> Observable[_R]:
        """Apply the stage to ``source``, fusing it with a preceding stage run."""
        return fuse(source, self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def figures(self) -> dict[str, int]:
        """Return this stage's counters summed over every subscription, past and present."""
        with self._lock:
            totals = dict(self._retired)
            live = list(self._live)
        for run, index in live:
            _add(totals, run.figures()[index])
        return totals

    def snapshot(self, stats_type: type[_S], **renamed: str) -> _S:
        """Return ``figures()`` as a ``stats_type``; ``renamed`` maps a field to its figure."""
        figures = self.figures()
        values = {
            field.name: figures.get(renamed.get(field.name, field.name), 0)
            for field in dataclasses.fields(stats_type)
        }
        return stats_type(**values)

    def _enter(self, run: _Run, index: int) -> None:
        with self._lock:
            self._live[run, index] = None

    def _leave(self, run: _Run, index: int, figures: dict[str, int]) -> None:
        with self._lock:
            if self._live.pop((run, index), 0) is None:
                _add(self._retired, figures)

    def _late(self) -> None:
        """Count an item offered after a finished run stopped (first stage only)."""
        with self._lock:
            _add(self._retired, {"received": 1, "dropped": 1})


def _add(totals: dict[str, int], figures: dict[str, int]) -> None:
    for field, value in figures.items():
        totals[field] = totals.get(field, 0) + value


def _fits(kinds: list[Kind]) -> bool:
    """Whether one run can hold stages of ``kinds``: nesting, and one timed ``batch``."""
    return sum(_NESTING.get(kind, 0) for kind in kinds) <= MAX_DEPTH and kinds.count("batch") < 2


def fuse(source: Observable[Any], stage: Stage[Any, Any]) -> Observable[Any]:
    """Return ``stage`` applied to ``source``, fused with it when possible."""
    if isinstance(source, FusedObservable):
        kinds: list[Kind] = [s.kind for s in source.stages]
        if _fits([*kinds, stage.kind]):
            return FusedObservable(source.upstream, (*source.stages, stage))
    return FusedObservable(source, (stage,))


class FusedObservable(Observable[_T]):
    """An upstream observable followed by a run of stages, subscribed as one."""

    def __init__(self, upstream: Observable[Any], stages: tuple[Stage[Any, Any], ...]) -> None:
        super().__init__(self._subscribe_run)
        self.upstream = upstream
        self.stages = stages
        self._kinds = tuple(stage.kind for stage in stages)

    def _subscribe_run(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        run = _Run(observer, self.stages, scheduler)
        if not all(stage.opens() for stage in self.stages):
            run.end(-1, None)
            return run
        # The subscriber's AutoDetachObserver is inlined: its on_next only
        # checks is_stopped before calling the function it wraps.
        inline = type(observer) is AutoDetachObserver
        emit = observer._on_next if inline else observer.on_next  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue,reportUnknownMemberType]
        make = _compile(self._kinds, inline=inline)
        parts = make(run, observer, emit, *(stage.bind() for stage in self.stages))
        run.start(*parts)
        sink = cast(abc.ObserverBase[Any], run.sink)
        upstream = self.upstream
        if getattr(type(upstream), "subscribe", None) is not _SUBSCRIBE:
            run.upstream.disposable = upstream.subscribe(sink, scheduler=scheduler)
            return run

        def attach(_: abc.SchedulerBase | None = None, __: Any = None) -> None:
            try:
                found: object = upstream._subscribe_core(  # pyright: ignore[reportPrivateUsage]
                    sink, scheduler
                )
            except Exception as exc:
                if run.stopped:
                    raise
                run.on_error(exc)
                return
            run.upstream.disposable = _as_disposable(found)

        # As Observable.subscribe: the first subscription on a thread sets up
        # the trampoline, so a synchronous source's disposable is assigned
        # before it starts emitting.
        trampoline = CurrentThreadScheduler.singleton()
        if trampoline.schedule_required():
            trampoline.schedule(attach)
        else:
            attach()
        return run


_SUBSCRIBE: object = vars(Observable)["subscribe"]
"""``Observable.subscribe``: an upstream class that overrides it is subscribed through it."""


def _as_disposable(found: object) -> abc.DisposableBase:
    """What ``Observable.subscribe`` makes of a subscribe function's result."""
    if isinstance(found, abc.DisposableBase) or hasattr(found, "dispose"):
        return cast(abc.DisposableBase, found)
    return Disposable(cast(Callable[[], None] | None, found))


class _Sink:
    """The observer a run hands its upstream: the generated ``on_next`` and the terminals.

    Its three methods are instance attributes (slots), so a source calls the
    generated function directly. It is registered as a virtual
    ``ObserverBase``: sources that test for an observer (``Notification.accept``)
    treat it as one.
    """

    __slots__ = ("on_completed", "on_error", "on_next")

    def __init__(
        self,
        on_next: Callable[[Any], None],
        on_error: Callable[[Exception], None],
        on_completed: Callable[[], None],
    ) -> None:
        self.on_next = on_next
        self.on_error = on_error
        self.on_completed = on_completed


abc.ObserverBase.register(_Sink)


class _Run(abc.DisposableBase):
    """The state of one subscription to a fused chain."""

    __slots__ = (
        "_counts",
        "_ended",
        "_flushes",
        "_generation",
        "_idle",
        "_stop",
        "done",
        "failed",
        "late",
        "lock",
        "observer",
        "scheduler",
        "sink",
        "stages",
        "stopped",
        "upstream",
    )

    def __init__(
        self,
        observer: abc.ObserverBase[Any],
        stages: tuple[Stage[Any, Any], ...],
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.observer = observer
        self.stages = stages
        self.scheduler = scheduler
        self.stopped = False  # no more items go in
        self.done = False  # the counters are final and retired
        self.upstream = SingleAssignmentDisposable()
        self.failed = [0] * len(stages)
        self.late = 0
        self._generation = 0
        self._ended: list[dict[str, int]] | None = None
        self._counts: Callable[[], tuple[int, ...]] = lambda: (0,) * _counter_count(stages)
        self._stop: Callable[[], None] = _nothing
        self._flushes: tuple[tuple[int, Callable[[], None]], ...] = ()
        self._idle: Callable[[], bool] | None = None
        # Guards the lists against a timed batch's timer; also held by `end`.
        self.lock = threading.RLock()
        self.sink = _Sink(_nothing_with, self.on_error, self.on_completed)
        for index, stage in enumerate(stages):
            stage._enter(self, index)  # pyright: ignore[reportPrivateUsage]

    def start(
        self,
        on_next: Callable[[Any], None],
        stop: Callable[[], None],
        counts: Callable[[], tuple[int, ...]],
        flushes: tuple[tuple[int, Callable[[], None]], ...],
        idle: Callable[[], bool] | None,
    ) -> None:
        """Install the generated functions of this run.

        ``idle`` (a run with a timed ``batch`` only) tells whether no item is
        in flight: then a dispose may retire the counters at once.
        """
        self.sink.on_next = on_next
        self._stop = stop
        self._counts = counts
        self._flushes = flushes
        self._idle = idle

    # -- called by the generated code ----------------------------------------------------

    def offered_late(self) -> None:
        """Count an item the upstream delivered after the run stopped."""
        if self.done:
            self.stages[0]._late()  # pyright: ignore[reportPrivateUsage]
        else:
            self.late += 1

    def fail(self, index: int, exc: Exception, item: object) -> None:
        """Count a failure of stage ``index`` and apply its error policy to ``exc``."""
        self.failed[index] += 1
        stage = self.stages[index]
        failures = stage._failures  # pyright: ignore[reportPrivateUsage]
        if failures is None:  # a stage without user code cannot fail by itself
            self.end(index, exc)
            return
        clock = _scheduling.resolve(stage._scheduler, self.scheduler)  # pyright: ignore[reportPrivateUsage]
        failures.forward(exc, item, clock, functools.partial(self.end, index))

    def end(self, position: int, exc: Exception | None) -> None:
        """End the run from stage ``position`` (``-1``: upstream), completing or failing.

        As the unfused chain would: the lists of the ``chunk`` stages after
        ``position`` are flushed, in order, and those before it are dropped
        (that part of the chain is disposed). A stage that ends the run while
        a flush runs (a ``take_``, a failure) takes over: its own end is the
        one delivered.
        """
        with self.lock:  # a timer does not emit meanwhile
            if self.done:
                return
            self._stop()  # every end halts the loops running now, a flush starts new ones
            if not self.stopped:
                self.stopped = True
                self.upstream.dispose()
            self._generation += 1
            generation = self._generation
            for index, flush in self._flushes:
                if index > position:
                    flush()
                    if self._generation != generation:
                        return  # superseded by a later stage's end
            self._retire()
        if exc is None:
            self.observer.on_completed()
        else:
            self.observer.on_error(exc)

    # -- the upstream's terminals and the subscriber's dispose -----------------------------

    def on_error(self, exc: Exception) -> None:
        """Flush the held lists, then forward the upstream's error."""
        self.end(-1, exc)

    def on_completed(self) -> None:
        """Flush the held lists, then complete."""
        self.end(-1, None)

    def dispose(self) -> None:
        """Stop at once; held items are dropped.

        Takes no lock, so it never waits for a downstream receiving what a
        timer emitted. With a timed ``batch``, whoever comes last retires the
        counters (``release``): this call when no item is in flight and no
        timer holds the lock, else the item's ``on_next`` or the timer on its
        way out.
        """
        self.stopped = True
        self._stop()
        self._generation += 1
        self.upstream.dispose()
        idle = self._idle
        if idle is None:
            self._retire()
        elif idle() and self.lock.acquire(blocking=False):
            try:
                self._retire()
            finally:
                self.lock.release()

    def release(self) -> None:
        """Retire the counters once the run stopped (an item or a timer on its way out)."""
        with self.lock:
            self._retire()

    # -- counting --------------------------------------------------------------------------

    def _retire(self) -> None:
        if self.done:
            return
        self.done = True
        ended = self.figures()
        self._ended = ended
        for index, stage in enumerate(self.stages):
            stage._leave(self, index, ended[index])  # pyright: ignore[reportPrivateUsage]

    def figures(self) -> list[dict[str, int]]:
        """Return each stage's counters for this run, derived from the chain's counts."""
        if self._ended is not None:
            return self._ended
        return _derive(self.stages, self._counts(), self.failed, self.late, ended=self.done)


def _nothing() -> None:
    pass


def _nothing_with(_item: object) -> None:
    pass


def _counter_count(stages: tuple[Stage[Any, Any], ...]) -> int:
    return 1 + sum(_COUNTERS[stage.kind] for stage in stages)


_COUNTERS: dict[Kind, int] = {
    "filter": 1,
    "map": 0,
    "tap": 0,
    "take": 1,
    "chunk": 2,
    "batch": 2,
    "unbatch": 2,
}
"""How many counters the generated ``counts()`` reports per stage, after ``received``."""


def _derive(
    stages: tuple[Stage[Any, Any], ...],
    counts: tuple[int, ...],
    failed: list[int],
    late: int,
    *,
    ended: bool,
) -> list[dict[str, int]]:
    """Turn one run's raw counts into each stage's figures.

    ``counts`` is ``(received, *per-stage counters)`` in the order of
    ``_COUNTERS``: filter and take their removals; chunk and batch their lists
    and held items; unbatch its elements and the iterables it read to the end.
    """
    flow = counts[0] + late
    cursor = 1
    result: list[dict[str, int]] = []
    for index, stage in enumerate(stages):
        received = flow
        failed_here = failed[index]
        dropped = late if index == 0 else 0
        kind = stage.kind
        figures: dict[str, int]
        if kind == "filter":
            removed = counts[cursor]
            cursor += 1
            flow = received - removed - failed_here - dropped
            figures = {stage.removed_as: removed, "emitted": flow}
        elif kind == "take":
            ignored = counts[cursor]
            cursor += 1
            dropped += ignored
            flow = received - dropped
            figures = {"emitted": flow}
        elif kind in ("chunk", "batch"):
            chunks, held = counts[cursor : cursor + 2]
            cursor += 2
            if ended:  # the lists still held were never emitted
                dropped += held
                held = 0
            flow = chunks
            emitted = received - held - dropped
            figures = {"emitted": emitted, "chunks": chunks, "held": held}
        elif kind == "unbatch":
            elements, unpacked = counts[cursor : cursor + 2]
            cursor += 2
            if ended:  # an iterable neither read to the end nor failed was left unfinished
                dropped = received - unpacked - failed_here
            flow = elements
            figures = {"emitted": elements, "unpacked": unpacked}
        else:  # map, tap
            flow = received - failed_here - dropped
            figures = {"emitted": flow}
        result.append({"received": received, "failed": failed_here, "dropped": dropped} | figures)
    return result


# -- the latency of a timed batch -----------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The epoch: what ``Deadline.at`` holds before the first list opens (never compared)."""


class Deadline:
    """When a ``batch``'s open list is due, and the one timer that waits for it.

    The timer is re-armed lazily, never one per list: when it fires, the list
    is emitted only if its own deadline has passed (``passed``), else the
    timer waits again for the rest. A size-triggered emission therefore needs
    no cancel, and a stream of many lists schedules few timers. Every method
    runs under the owner's lock; ``fire`` is the owner's timer action.
    """

    __slots__ = ("armed_for", "at", "clock", "fire", "latency", "timer")

    def __init__(
        self,
        clock: _scheduling.Clock,
        latency: timedelta,
        timer: SerialDisposable,
        fire: abc.ScheduledAction[Any],
    ) -> None:
        self.clock = clock
        self.latency = latency
        self.timer = timer
        self.fire = fire
        self.at = _EPOCH  # when the open list is due; meaningful while it holds items
        self.armed_for: datetime | None = None  # due time of the pending timer, if any

    def open(self) -> None:
        """A list has its first item: it is due ``latency`` from now."""
        self.at = at = self.clock.now() + self.latency
        if self.armed_for is None or self.armed_for > at:
            self._arm(at)

    def passed(self) -> bool:
        """Whether the open list is due; if not, make sure the timer waits for it."""
        at = self.at
        if self.clock.now() >= at:
            return True
        if self.armed_for is None or self.armed_for > at:
            self._arm(at)
        return False

    def fired(self) -> None:
        """The timer ran: none is pending now."""
        self.armed_for = None

    def _arm(self, due: datetime) -> None:
        self.armed_for = due
        self.timer.disposable = self.clock.schedule_at(due, self.fire)


@dataclass(frozen=True, slots=True)
class Latency:
    """What a timed ``batch`` stage binds into a run: its size and its latency.

    Attributes:
        max_size: Items per list.
        latency: How long a list may wait after its first item.
        scheduler: The stage's own scheduler, else the run's subscribe-time one.
    """

    max_size: int
    latency: timedelta
    scheduler: abc.SchedulerBase | None

    def deadline(
        self, subscribed: abc.SchedulerBase | None, fire: abc.ScheduledAction[Any]
    ) -> Deadline:
        """Return the deadline of one subscription, whose timer runs ``fire``."""
        clock = _scheduling.Clock(_scheduling.resolve(self.scheduler, subscribed))
        return Deadline(clock, self.latency, SerialDisposable(), fire)


# -- code generation ----------------------------------------------------------------------

# A filter's truth test runs inside the ``try``: the object a predicate returns
# may raise from ``__bool__`` (a numpy array, a pandas Series), and that is a
# failure of the predicate, handled by the error model like any other.


class _Writer:
    """Generates the body for the stages from ``start`` on, one line at a time."""

    def __init__(self, kinds: tuple[Kind, ...], *, inline: bool) -> None:
        self.kinds = kinds
        self.inline = inline
        self.lines: list[str] = []
        self.at: dict[int, int] = {}

    def _calls(self, start: int, pad: str, leave: str) -> list[int]:
        """Write the calls of the ``filter``/``map``/``tap`` stages from ``start`` on.

        They share one ``try``: its handler finds the failing stage from the
        line the exception went through (``AT``), so the success path has no
        block set-up and jump per stage.
        """
        segment: list[int] = []
        lines = self.lines
        for i in range(start, len(self.kinds)):
            kind = self.kinds[i]
            if kind not in ("filter", "map", "tap"):
                break
            segment.append(i)
            self.at[len(lines) + 1] = i  # the line of the call, numbered from 1
            if kind == "filter":
                lines += [f"{pad}if not f{i}(x):", f"{pad}    r{i} += 1", f"{pad}    {leave}"]
            elif kind == "map":
                lines.append(f"{pad}x = f{i}(x)")
            else:
                lines.append(f"{pad}f{i}(x)")
        return segment

    def rest(self, start: int, depth: int, *, in_loop: bool) -> None:
        """Write stages ``start..`` and the final ``emit`` at indentation ``depth``."""
        leave = "continue" if in_loop else "return"
        takes: list[tuple[int, int]] = []
        lines = self.lines
        skip_to = start
        for i in range(start, len(self.kinds)):
            if i < skip_to:  # written with the segment of calls it belongs to
                continue
            kind = self.kinds[i]
            pad = " " * depth
            if kind == "take":
                lines += [
                    f"{pad}last{i} = f{i}()",
                    f"{pad}if last{i} is None:",
                    f"{pad}    r{i} += 1",
                    f"{pad}    {leave}",
                    f"{pad}try:",
                ]
                takes.append((depth, i))
                depth += 4
            elif kind == "chunk":
                lines += [
                    f"{pad}b{i}.append(x)",
                    f"{pad}if len(b{i}) < f{i}:",
                    f"{pad}    {leave}",
                    f"{pad}x = b{i}",
                    f"{pad}b{i} = []",
                    f"{pad}c{i} += 1",
                ]
            elif kind == "batch":  # as chunk, and the first item of a list opens its deadline
                lines += [
                    f"{pad}b{i}.append(x)",
                    f"{pad}n{i} = len(b{i})",
                    f"{pad}if n{i} < m{i}:",
                    f"{pad}    if n{i} == 1:",
                    f"{pad}        open{i}()",
                    f"{pad}    {leave}",
                    f"{pad}x = b{i}",
                    f"{pad}b{i} = []",
                    f"{pad}c{i} += 1",
                ]
            elif kind == "unbatch":
                lines += [
                    f"{pad}try:",
                    f"{pad}    it{i} = iter(x)",
                    f"{pad}except Exception as exc:",
                    f"{pad}    fail({i}, exc, x)",
                    f"{pad}    {leave}",
                    f"{pad}s{i} = x",
                    f"{pad}t{i} = token",
                    f"{pad}while True:",
                    f"{pad}    if token is not t{i}:",  # the run ended since: stop pulling
                    f"{pad}        break",
                    f"{pad}    try:",
                    f"{pad}        x = next(it{i})",
                    f"{pad}    except StopIteration:",
                    f"{pad}        u{i} += 1",
                    f"{pad}        break",
                    f"{pad}    except Exception as exc:",
                    f"{pad}        fail({i}, exc, s{i})",
                    f"{pad}        break",
                    f"{pad}    e{i} += 1",
                ]
                depth += 4
                leave = "continue"
            else:
                lines.append(f"{pad}try:")
                segment = self._calls(i, pad + "    ", leave)
                # One stage is known; in several, the line the exception went
                # through names the stage.
                failing = f"{i}" if len(segment) == 1 else "AT[exc.__traceback__.tb_lineno]"
                lines += [
                    f"{pad}except Exception as exc:",
                    f"{pad}    fail({failing}, exc, x)",
                    f"{pad}    {leave}",
                ]
                skip_to = i + len(segment)
        pad = " " * depth
        if self.inline:  # AutoDetachObserver.on_next, inlined
            lines += [f"{pad}if down.is_stopped:", f"{pad}    {leave}"]
        lines.append(f"{pad}emit(x)")
        for pad_width, i in reversed(takes):
            pad = " " * pad_width
            lines += [f"{pad}finally:", f"{pad}    if last{i}:", f"{pad}        end({i}, None)"]


def _counter_names(kinds: tuple[Kind, ...]) -> list[str]:
    """The generated counters, in the order ``counts()`` returns them (``_COUNTERS``)."""
    names = ["received"]
    for i, kind in enumerate(kinds):
        if kind in ("filter", "take"):
            names.append(f"r{i}")
        elif kind in ("chunk", "batch"):
            names += [f"c{i}", f"len(b{i})"]
        elif kind == "unbatch":
            names += [f"e{i}", f"u{i}"]
    return names


@functools.lru_cache(maxsize=512)
def _compile(kinds: tuple[Kind, ...], *, inline: bool) -> Callable[..., tuple[Any, ...]]:
    """Generate, compile and cache the subscriber factory for one chain shape.

    With ``inline``, ``emit`` is the function an ``AutoDetachObserver``
    wraps and ``down`` that observer, whose ``on_next`` the code inlines.
    The factory returns ``(on_next, stop, counts, flushes, idle)``: the
    per-item function, the function that stops it, the one that reads its
    counters, one flush function per ``chunk`` or ``batch`` stage, as
    ``(index, flush)`` pairs, and, with a timed ``batch``, the function
    telling whether no item is in flight (else ``None``).
    """
    timed = kinds.index("batch") if "batch" in kinds else None
    counters = _counter_names(kinds)
    cells = [name for name in counters if not name.startswith("len(")]
    lists = [f"b{i}" for i, kind in enumerate(kinds) if kind in ("chunk", "batch")]
    writer = _Writer(kinds, inline=inline)
    lines = writer.lines
    lines += [
        f"def make(run, down, emit{''.join(f', f{i}' for i in range(len(kinds)))}):",
        "    fail = run.fail",
        "    end = run.end",
        "    late = run.offered_late",
        "    stopped = False",
        "    token = object()",
        *(f"    {name} = 0" for name in cells),
        *(f"    {name} = []" for name in lists),
    ]
    declare = f"        nonlocal {', '.join(cells + lists)}"
    if timed is None:
        lines += [
            "    def on_next(x):",
            declare,
            "        if stopped:",
            "            late()",
            "            return",
            "        received += 1",
        ]
        writer.rest(0, 8, in_loop=False)
    else:
        _timed_on_next(writer, timed, declare)
    lines += [
        "    def stop():",
        "        nonlocal stopped, token",
        "        stopped = True",
        "        token = object()",
        *([f"        t{timed}.timer.dispose()"] if timed is not None else []),
        "    def counts():",
        f"        return ({', '.join(counters)},)",
    ]
    flushes: list[str] = []
    for name in lists:
        i = int(name[1:])
        lines += [
            f"    def flush{i}():",
            declare,
            f"        if not b{i}:",
            "            return",
            f"        x = b{i}",
            f"        b{i} = []",
            f"        c{i} += 1",
        ]
        writer.rest(i + 1, 8, in_loop=False)
        flushes.append(f"({i}, flush{i}), ")
    idle = "None"
    if timed is not None:
        _timer_functions(writer, timed)
        idle = "idle"
    lines.append(f"    return on_next, stop, counts, ({''.join(flushes)}), {idle}")
    source = "\n".join(lines) + "\n"
    filename = f"<rxstreamz fused {'-'.join(kinds)}{' inline' if inline else ''}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"AT": writer.at}
    exec(compile(source, filename, "exec"), namespace)
    make: Callable[..., tuple[Any, ...]] = namespace["make"]
    return make


# A timed batch shares its list with a timer thread, as the unfused ``batch``
# does (``rxstreamz/batching/_batch.py``, ``_BatchRun``), and in the same way: the item
# path takes no lock. ``active`` counts the ``on_next`` calls in progress; a
# timer touches the lists only while none is in flight: it sets ``wants``
# before reading ``active``, and ``on_next`` raises ``active`` before reading
# ``wants`` and reads it again after lowering it. So either the timer sees
# the item and leaves the list to ``on_next`` (which settles it on its way
# out), or ``on_next`` sees ``wants`` and waits for the lock (the GIL orders
# these reads and writes). Dispose takes no lock either: it sets ``stopped``
# before reading ``active``, and ``on_next`` reads ``stopped`` after lowering
# it, so whoever comes last retires the counters (``run.release``).


def _timed_on_next(writer: _Writer, timed: int, declare: str) -> None:
    """Write the ``on_next`` of a run holding a timed ``batch`` (stage ``timed``)."""
    writer.lines += [
        f"    m{timed} = f{timed}.max_size",
        "    lock = run.lock",
        "    release = run.release",
        "    active = 0  # on_next calls in progress",
        "    wants = False  # a timer fired: settle the open list under the lock",
        "    def on_next(x):",
        declare + ", active",
        "        active += 1  # before reading `wants`",
        "        try:",
        "            if wants or stopped:",
        "                with lock:",
        "                    if stopped:",
        "                        late()",
        "                        return",
        "                    if wants:",
        "                        settle()",
        "            received += 1",
    ]
    writer.rest(0, 12, in_loop=False)
    writer.lines += [
        "        finally:",
        "            active -= 1",
        "            if wants or stopped:  # a timer fired or a dispose came meanwhile",
        "                catch_up()",
    ]


def _timer_functions(writer: _Writer, timed: int) -> None:
    """Write the functions a timed ``batch`` (stage ``timed``) shares with its timer."""
    t = timed
    writer.lines += [
        f"    def open{t}():",  # the first item of a list: its deadline starts
        "        with lock:",
        "            if not stopped:",
        f"                t{t}.open()",
        "    def settle():",  # lock held, no item in flight elsewhere
        "        nonlocal wants",
        f"        if not stopped and b{t} and t{t}.passed():",
        f"            flush{t}()",
        "        wants = False  # last: until now, new items wait for the lock",
        "    def fire(_scheduler, _state=None):",
        "        nonlocal wants",
        "        with lock:",
        f"            t{t}.fired()",
        "            wants = True  # before reading `active`",
        "            if not active:",
        "                settle()",
        "        if stopped:  # disposed while the timer held the lock",
        "            release()",
        "    def catch_up():",
        "        if stopped:",
        "            release()",
        "            return",
        "        with lock:",
        "            if wants and not active:",
        "                settle()",
        "        if stopped:  # disposed while this held the lock",
        "            release()",
        "    def idle():",
        "        return not active",
        f"    t{t} = f{t}.deadline(run.scheduler, fire)",
    ]
