"""Marble diagrams for the processor pages, drawn from real runs.

Every diagram is the record of one run on ``reactivex.testing.TestScheduler``:
hot sources emit at exact virtual times (seconds), the processor runs, and an
observer records what comes out and when. Input and output timelines are
drawn as hand-written SVG: items are labelled circles on a time axis, lists
and windows are rounded boxes listing their items, completion is a vertical
bar and an error a cross. The recorded messages are embedded as JSON in the
SVG's ``<desc>``, and ``tests/test_marbles.py`` runs every processor again and
compares, so a diagram cannot drift from the code.

Usage::

    python tools/marbles.py            # write docs/assets/marbles/<page>-marble.svg
    python tools/marbles.py --check    # exit 1 if a committed diagram is out of date
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import html
import io
import json
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from reactivex import Observable
from reactivex import operators as ops
from reactivex.notification import OnError, OnNext
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.recorded import Recorded

import rxstreamz as rs

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "assets" / "marbles"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Kind = Literal["N", "E", "C"]
Message = tuple[float, Kind, Any]
"""One recorded notification: virtual time in seconds, kind, JSON-ready value."""


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    """One timeline of a diagram: a source, an output or a side channel."""

    label: str
    role: Literal["in", "out"]
    messages: list[Message]


@dataclasses.dataclass(frozen=True, slots=True)
class Diagram:
    """What a run produced, ready to draw.

    Attributes:
        page: The processor page (``docs/processors/<page>.md``) it illustrates.
        code: The call shown between the input and output lines.
        caption: One sentence saying what to look at.
        lines: Input lines first, then output lines.
        end: The virtual time the axis runs to.
    """

    page: str
    code: str
    caption: str
    lines: list[Line]
    end: float

    def data(self) -> dict[str, object]:
        """Return the JSON-ready record embedded in the SVG."""
        return {
            "page": self.page,
            "code": self.code,
            "lines": [
                {
                    "label": line.label,
                    "role": line.role,
                    "messages": [list(m) for m in line.messages],
                }
                for line in self.lines
            ],
        }


# -- recording ----------------------------------------------------------------------------

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
on_error = ReactiveTest.on_error


def plain(value: object) -> object:
    """Return ``value`` as JSON-ready data (windows and records become dicts)."""
    if isinstance(value, datetime):
        return round((value - EPOCH).total_seconds(), 6)
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 6)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in cast(Sequence[object], value)]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in cast(Mapping[object, object], value).items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def messages(recorded: Sequence[Recorded[Any]]) -> list[Message]:
    """Return recorded notifications as ``(time, kind, value)`` messages."""
    out: list[Message] = []
    for record in recorded:
        note = record.value
        time = round(float(record.time), 6)
        if isinstance(note, OnNext):
            out.append((time, "N", plain(note.value)))
        elif isinstance(note, OnError):
            out.append((time, "E", plain(note.exception)))
        else:
            out.append((time, "C", None))
    return out


class Run:
    """A virtual-time run: hot sources, observers subscribed at time 0."""

    def __init__(self) -> None:
        self.scheduler = TestScheduler()
        self.lines: list[Line] = []
        self._observers: list[tuple[str, Any]] = []

    def source(self, label: str, *notes: Recorded[Any]) -> Observable[Any]:
        """Return a hot source emitting ``notes`` and draw it as an input line."""
        self.lines.append(Line(label, "in", messages(notes)))
        return self.scheduler.create_hot_observable(*notes)

    def output(self, label: str, observable: Observable[Any], at: float = 0.0) -> None:
        """Record ``observable`` (subscribed at time ``at``) as an output line."""
        observer = self.scheduler.create_observer()
        self._observers.append((label, observer))
        self.scheduler.schedule_absolute(at, lambda *_: observable.subscribe(observer))

    def side(self, label: str) -> Callable[[object], None]:
        """Return a callback that records its argument, at the current time, as a line."""
        seen: list[Message] = []
        self.lines.append(Line(label, "out", seen))

        def record(value: object) -> None:
            seen.append((round(float(self.scheduler.clock), 6), "N", plain(value)))

        return record

    def finish(self, page: str, code: str, caption: str, end: float) -> Diagram:
        """Run virtual time to ``end`` and return the diagram."""
        self.scheduler.advance_to(end)
        outputs = [Line(label, "out", messages(obs.messages)) for label, obs in self._observers]
        inputs = [line for line in self.lines if line.role == "in"]
        sides = [line for line in self.lines if line.role == "out"]
        return Diagram(page, code, caption, [*inputs, *outputs, *sides], end)


# -- the diagrams -------------------------------------------------------------------------


def numbers(*times: float, end: float | None = None, start: int = 1) -> list[Recorded[Any]]:
    """Return ``on_next(t, n)`` for consecutive ``n`` at ``times``, then completion."""
    notes = [on_next(cast(int, t), start + i) for i, t in enumerate(times)]
    if end is not None:
        notes.append(on_completed(cast(int, end)))
    return notes


def at(t: float, value: object) -> Recorded[Any]:
    """``on_next`` at a fractional virtual time."""
    return on_next(cast(int, t), value)


def done(t: float) -> Recorded[Any]:
    """``on_completed`` at a fractional virtual time."""
    return on_completed(cast(int, t))


def _filter() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, 6, end=7))
    run.output("output", src.pipe(rs.filter_(lambda n: n % 2 == 0)))
    return run.finish(
        "filter", "filter_(lambda n: n % 2 == 0)", "Odd items are dropped, in order.", 8
    )


def _map() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 3, 5, end=6))
    run.output("output", src.pipe(rs.map_(lambda n: n * 10)))
    return run.finish("map", "map_(lambda n: n * 10)", "Each item is replaced by fn(item).", 7)


def _tap() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 3, 4, end=6))
    log = run.side("log")
    run.output("output", src.pipe(rs.tap_(log)))
    return run.finish(
        "tap", "tap_(log)", "log sees every item; the items pass through unchanged.", 7
    )


def _take() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, end=6))
    run.output("output", src.pipe(rs.take_(2)))
    return run.finish("take", "take_(2)", "Completes right after the second item.", 7)


def _skip() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, end=6))
    run.output("output", src.pipe(rs.skip_(2)))
    return run.finish("skip", "skip_(2)", "The first two items are dropped.", 7)


def _sample() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, 6, 7, 8, end=9))
    run.output("output", src.pipe(rs.sample_(0.5, seed=3)))
    return run.finish(
        "sample", "sample_(0.5, seed=3)", "Each item is kept with probability 0.5 (seeded).", 10
    )


def _chunk() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, end=6))
    run.output("output", src.pipe(rs.chunk(2)))
    return run.finish(
        "chunk", "chunk(2)", "Lists of two; the last, shorter one is flushed at completion.", 7
    )


def _unbatch() -> Diagram:
    run = Run()
    src = run.source("source", at(1, [1, 2]), at(3, []), at(4, [3]), at(6, [4, 5, 6]), done(8))
    run.output("output", src.pipe(rs.unbatch()))
    return run.finish(
        "unbatch", "unbatch()", "Each list is emitted item by item; an empty list emits nothing.", 9
    )


class VirtualCalls(concurrent.futures.Executor):
    """An executor whose calls take virtual time: ``fn(item)`` finishes ``delay(item)`` later.

    The result is computed at submission; the future completes on the
    scheduler, so the run is deterministic.
    """

    def __init__(self, scheduler: TestScheduler, delay: Callable[[Any], float]) -> None:
        self.scheduler = scheduler
        self.delay = delay

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        result = fn(*args, **kwargs)

        def complete(*_: object) -> None:
            if not future.done():
                future.set_result(result)

        self.scheduler.schedule_relative(self.delay(args[0]), complete)
        return future


def _async_map() -> Diagram:
    run = Run()
    durations = {1: 3.0, 2: 1.0, 3: 1.0, 4: 2.0}
    calls = VirtualCalls(run.scheduler, lambda n: durations[n])
    src = run.source("source", *numbers(1, 2, 3, 4, end=5))
    run.output(
        "output", src.pipe(rs.async_map(lambda n: n * 10, workers=2, executor=calls, ordered=True))
    )
    return run.finish(
        "async_map",
        "async_map(fn, workers=2)  # calls of 1, 2, 3, 4 take 3, 1, 1, 2 s",
        "Results leave in input order: 20 waits for 10, though its call finished first.",
        9,
    )


def _batch() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 1.5, 2, 4, 9, 9.5, end=11))
    run.output("output", src.pipe(rs.batch(3, max_latency=2, scheduler=run.scheduler)))
    return run.finish(
        "batch",
        "batch(3, max_latency=2)",
        "A list leaves when it holds 3 items or its first item has waited 2 s.",
        12,
    )


def _debounce() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 1.5, 2, 5, 7, 7.5, end=10))
    run.output("output", src.pipe(rs.debounce_(1, scheduler=run.scheduler)))
    return run.finish(
        "debounce", "debounce_(1)", "An item leaves once 1 s has passed without a newer one.", 11
    )


def _throttle() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 1.5, 2, 2.5, 7, end=8))
    run.output("output", src.pipe(rs.throttle(1, scheduler=run.scheduler)))
    return run.finish(
        "throttle",
        "throttle(1)  # 1 item/s, burst 1",
        "Items that come too fast wait their turn; none is dropped.",
        9,
    )


def _dedupe() -> Diagram:
    run = Run()
    notes = [at(t, v) for t, v in zip((1, 2, 3, 4, 5, 6), "abacbd", strict=True)]
    src = run.source("source", *notes, done(7))
    run.output("output", src.pipe(rs.dedupe(scheduler=run.scheduler)))
    return run.finish("dedupe", "dedupe()", "An item whose key already passed is dropped.", 8)


def _tumbling_window() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 4, 6, 7, 11, end=13))
    run.output("output", src.pipe(rs.tumbling_window(5, scheduler=run.scheduler)))
    return run.finish(
        "tumbling_window",
        "tumbling_window(5)",
        "One Window per 5 s of the epoch grid, emitted when it ends; the last at completion.",
        14,
    )


def _sliding_window() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 3, 5, 7, end=9))
    run.output("output", src.pipe(rs.sliding_window(4, 2, scheduler=run.scheduler)))
    return run.finish(
        "sliding_window",
        "sliding_window(4, 2)",
        "Windows of 4 s start every 2 s, so each item is in two of them.",
        12,
    )


def _session_window() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 1.5, 2, 6, 6.5, 11, end=12))
    run.output("output", src.pipe(rs.session_window(2, scheduler=run.scheduler)))
    return run.finish(
        "session_window",
        "session_window(2)",
        "A session closes once 2 s pass without an item.",
        15,
    )


def _window_result(window: rs.AggregateWindow[int]) -> int:
    return window.result


def _aggregate() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, 6, 7, end=8))
    summed = src.pipe(
        rs.aggregate(lambda total, n: total + n, 0, count=3, scheduler=run.scheduler),
        ops.map(_window_result),
    )
    run.output("output", summed)
    return run.finish(
        "aggregate",
        "aggregate(add, 0, count=3)  # shown: AggregateWindow.result",
        "Every 3 items fold into one result; the partial last window at completion.",
        9,
    )


def _buffer_() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, end=5))
    run.output("output", src.pipe(rs.buffer_(2, scheduler=run.scheduler)))
    return run.finish(
        "buffer",
        "buffer_(2, scheduler=...)",
        "The drain delivers on the scheduler, in order; with room to spare nothing waits.",
        6,
    )


def _dropping_buffer() -> Diagram:
    return _burst_buffer(
        "dropping_buffer",
        "dropping_buffer(2)",
        "A burst into a full buffer: the incoming items are dropped.",
        rs.dropping_buffer,
    )


def _sliding_buffer() -> Diagram:
    return _burst_buffer(
        "sliding_buffer",
        "sliding_buffer(2)",
        "A burst into a full buffer: the oldest queued items are evicted.",
        rs.sliding_buffer,
    )


def _burst_buffer(page: str, code: str, caption: str, make: Callable[..., Any]) -> Diagram:
    """Five items at the same instant into a capacity-2 buffer that drains on the scheduler.

    The drain runs as a later step on the scheduler, so the whole burst meets
    a full buffer.
    """
    run = Run()
    src = run.source("source", *[at(1, n) for n in range(1, 6)], done(3))
    dropped = run.side("on_drop")
    run.output("output", src.pipe(make(2, on_drop=dropped, scheduler=run.scheduler)))
    return run.finish(page, code, caption, 4)


def _collect() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, end=4))
    result = run.side("collect(source)")

    def advance() -> None:
        while not src.observers:  # type: ignore[attr-defined]
            threading.Event().wait(0.001)
        run.scheduler.advance_to(4)

    driver = threading.Thread(target=advance, name="marbles-collect")
    driver.start()
    items = rs.collect(src, timeout=10)
    driver.join()
    result(items)
    return run.finish(
        "bridges",
        "collect(source)",
        "collect blocks until completion and returns every item as one list.",
        5,
    )


def _channel() -> Diagram:
    """Sends from the event loop at virtual times; the loop runs between steps."""
    run = Run()
    ch: rs.Channel[int] = rs.channel(2)
    sent: list[Message] = []
    run.lines.append(Line("send_nowait", "in", sent))
    refused = run.side("refused")

    def send(item: int) -> Callable[..., None]:
        def action(*_: object) -> None:
            sent.append((float(run.scheduler.clock), "N", item))
            try:
                ch.send_nowait(item)
            except rs.BackpressureError:
                refused(item)

        return action

    def close(*_: object) -> None:
        sent.append((float(run.scheduler.clock), "C", None))
        ch.close()

    for time, item in ((1.0, 1), (1.5, 2), (2.0, 3), (4.0, 4)):
        run.scheduler.schedule_absolute(time, send(item))
    run.scheduler.schedule_absolute(5.0, close)
    run.output("output", ch, at=3.0)

    async def drive() -> None:
        for step in range(1, 13):  # half a second of virtual time, then let the loop deliver
            run.scheduler.advance_to(step / 2)
            for _ in range(5):
                await asyncio.sleep(0)

    asyncio.run(drive())
    return run.finish(
        "channel",
        "ch = channel(2); ch.send_nowait(...) from the loop; subscribed at 3 s",
        "Kept until subscription up to maxsize; the item beyond is refused; close() completes.",
        7,
    )


def _retry() -> Diagram:
    run = Run()
    failed: set[int] = set()

    def flaky(n: int) -> int:
        if n == 2 and n not in failed:
            failed.add(n)
            raise ConnectionError("timeout")
        return n * 10

    src = run.source("source", *numbers(1, 2, 3, end=4))
    run.output(
        "output",
        src.pipe(rs.retry_(flaky, base_delay=2, jitter=False, scheduler=run.scheduler)),
    )
    return run.finish(
        "retry",
        "retry_(fn, base_delay=2, jitter=False)  # fn(2) fails once",
        "The failed call is retried 2 s later; the next item waits its turn.",
        8,
    )


def _circuit_breaker() -> Diagram:
    run = Run()

    def call(n: int) -> int:
        if n == 2:
            raise ConnectionError("down")
        return n * 10

    src = run.source("source", *numbers(1, 2, 3, 4, 5, 6, end=7))
    failed = run.side("failed")
    rejected = run.side("rejected")

    def on_failure(letter: rs.DeadLetter[Any]) -> None:
        (rejected if isinstance(letter.error, rs.CircuitOpenError) else failed)(letter.item)

    breaker = rs.circuit_breaker(
        call,
        min_requests=2,
        recovery_timeout=3,
        errors="skip",
        on_failure=on_failure,
        scheduler=run.scheduler,
    )
    run.output("output", src.pipe(breaker))
    return run.finish(
        "circuit_breaker",
        "circuit_breaker(fn, min_requests=2, recovery_timeout=3, errors='skip')",
        "fn(2) fails and opens the circuit; 3 and 4 are rejected uncalled; 3 s later trial calls"
        " close it.",
        8,
    )


def _dead_letter() -> Diagram:
    run = Run()

    def parse(text: str) -> int:
        return int(text)

    notes = [at(t, v) for t, v in ((1, "1"), (2, "x"), (3, "3"), (4, "?"))]
    src = run.source("source", *notes, done(5))
    letters = run.side("sink (item)")
    run.output(
        "output",
        src.pipe(
            rs.dead_letter(
                parse,
                sink=lambda letter: letters(letter.item),
                scheduler=run.scheduler,
            )
        ),
    )
    return run.finish(
        "dead_letter",
        "dead_letter(int, sink=...)",
        "A failed item goes to the sink as a DeadLetter (item, error, ...); the stream goes on.",
        6,
    )


def _fan_in() -> Diagram:
    run = Run()
    left = run.source("a", at(1, "a1"), at(3, "a2"), done(6))
    right = run.source("b", at(2, "b1"), at(4, "b2"), at(5, "b3"), done(7))
    run.output("output", rs.fan_in(left, right))
    return run.finish(
        "fan_in", "fan_in(a, b)", "Items in arrival order; completes when both have.", 8
    )


def _fan_out() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, end=4))
    first, second = src.pipe(rs.fan_out(2))
    run.output("branch 0", first)
    run.output("branch 1", second)
    return run.finish("fan_out", "fan_out(2)", "Every branch receives every item.", 5)


def _partition() -> Diagram:
    run = Run()
    notes = [at(t, v) for t, v in zip((1, 2, 3, 4, 5), (11, 22, 31, 12, 21), strict=True)]
    src = run.source("source", *notes, done(6))
    branches: tuple[Observable[int], ...] = src.pipe(
        rs.partition_(lambda n: n // 10, 2, partitioner=lambda k, n: k % n)
    )
    for index, branch in enumerate(branches):
        run.output(f"branch {index}", branch)
    return run.finish(
        "partition",
        "partition_(lambda n: n // 10, 2, partitioner=lambda key, n: key % n)",
        "Same key, same branch, in order.",
        7,
    )


def _split() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, 5, end=6))
    matched: Observable[int]
    unmatched: Observable[int]
    matched, unmatched = src.pipe(rs.split(lambda n: n % 2 == 0))
    run.output("matched", matched)
    run.output("unmatched", unmatched)
    return run.finish(
        "split", "split(lambda n: n % 2 == 0)", "Every item goes to exactly one branch.", 7
    )


def _router() -> Diagram:
    run = Run()
    notes = [at(t, v) for t, v in zip((1, 2, 3, 4, 5), (5, 120, 40, 300, 7), strict=True)]
    src = run.source("source", *notes, done(6))
    routes = src.pipe(
        rs.router({"small": lambda n: n < 10, "large": lambda n: n >= 100}, default=True)
    )
    for name, branch in routes.items():
        run.output(name, branch)
    return run.finish(
        "router",
        "router({'small': n < 10, 'large': n >= 100}, default=True)",
        "First matching route wins; the rest go to 'default'.",
        7,
    )


def _switch() -> Diagram:
    run = Run()
    notes = [at(t, v) for t, v in zip((1, 2, 3, 4), (1, "a", 2, "b"), strict=True)]
    src = run.source("source", *notes, done(5))
    cases: list[tuple[Callable[[Any], object], Callable[[Observable[Any]], Observable[Any]]]] = [
        (lambda v: isinstance(v, int), ops.map(lambda n: n * 10)),
        (lambda v: isinstance(v, str), ops.map(lambda s: s.upper())),
    ]
    run.output("output", src.pipe(rs.switch(cases)))
    return run.finish(
        "switch",
        "switch([(is_int, map(n * 10)), (is_str, map(upper))])",
        "Each item through the operator of its case, merged back.",
        6,
    )


def _monitor() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 1.5, 2, 3, 6, end=7))
    reports = run.side("on_stats (count)")
    run.output(
        "output",
        src.pipe(
            rs.monitor(
                3,
                lambda stats: reports(stats.count),
                scheduler=run.scheduler,
            )
        ),
    )
    return run.finish(
        "monitor",
        "monitor(3, on_stats)  # shown: StreamStats.count of each report",
        "Items pass through; a report every 3 s (items since the last one) and one at completion.",
        8,
    )


def _progress() -> Diagram:
    run = Run()
    src = run.source("source", *numbers(1, 2, 3, 4, end=5))
    bar = io.StringIO()
    run.output("output", src.pipe(rs.progress(total=4, file=bar)))
    return run.finish(
        "progress",
        "progress(total=4)",
        "A pass-through: the bar (not drawn) advances by one per item and closes at completion.",
        6,
    )


DIAGRAMS: dict[str, Callable[[], Diagram]] = {
    "aggregate": _aggregate,
    "async_map": _async_map,
    "batch": _batch,
    "bridges": _collect,
    "buffer": _buffer_,
    "channel": _channel,
    "chunk": _chunk,
    "circuit_breaker": _circuit_breaker,
    "dead_letter": _dead_letter,
    "debounce": _debounce,
    "dedupe": _dedupe,
    "dropping_buffer": _dropping_buffer,
    "fan_in": _fan_in,
    "fan_out": _fan_out,
    "filter": _filter,
    "map": _map,
    "monitor": _monitor,
    "partition": _partition,
    "progress": _progress,
    "retry": _retry,
    "router": _router,
    "sample": _sample,
    "session_window": _session_window,
    "skip": _skip,
    "sliding_buffer": _sliding_buffer,
    "sliding_window": _sliding_window,
    "split": _split,
    "switch": _switch,
    "take": _take,
    "tap": _tap,
    "throttle": _throttle,
    "tumbling_window": _tumbling_window,
    "unbatch": _unbatch,
}
"""Page name (``docs/processors/<page>.md``) to the run that draws it."""


# -- drawing ------------------------------------------------------------------------------

LEFT = 130  # line labels
PLOT = 620  # the time axis
RIGHT = 30
WIDTH = LEFT + PLOT + RIGHT
TOP = 16
ROW = 64
OPERATOR = 46
FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""
MONO = " font-family=\"'SFMono-Regular', Consolas, 'Liberation Mono', Menlo, monospace\""
CHAR = 7.2  # average width of a 12 px character
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
)


def colour(value: object) -> str:
    """Return a stable fill for ``value``, so an item keeps its colour from line to line."""
    if isinstance(value, bool) or not isinstance(value, int):
        value = sum(ord(c) for c in str(value))
    return PALETTE[value % len(PALETTE)]


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def label(value: object) -> tuple[str, str | None]:
    """Return the text of an item's shape and, for windows, a second line (its span)."""
    if isinstance(value, dict):
        fields = cast(dict[str, object], value)
        if {"start", "end", "items"} <= fields.keys():
            span = f"[{_number(fields['start'])}, {_number(fields['end'])}) s"
            return label(fields["items"])[0], span
        return " ".join(f"{k}={label(v)[0]}" for k, v in fields.items()), None
    if isinstance(value, list):
        return "[" + ", ".join(label(v)[0] for v in cast(list[object], value)) + "]", None
    return _number(value), None


def _text(x: float, y: float, text: str, *, size: int = 12, extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="middle" '
        f'dominant-baseline="central"{extra}>{html.escape(text)}</text>'
    )


def _shape(x: float, y: float, value: object) -> tuple[str, float]:
    """Return the SVG of one item centred at ``(x, y)`` and its half width."""
    text, span = label(value)
    grouped = isinstance(value, list | dict)
    if not grouped and len(text) <= 3:
        return (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="15" fill="{colour(value)}" '
            'stroke="#333" stroke-width="1.2"/>'
            + _text(x, y, text, extra=' fill="#fff" font-weight="600"'),
            15.0,
        )
    half = max(len(text), len(span or "")) * CHAR / 2 + 9
    height = 38 if span else 28
    fill = "#f4f1e8" if grouped else colour(value)
    ink = "#222" if grouped else "#fff"
    parts = [
        f'<rect x="{x - half:.1f}" y="{y - height / 2:.1f}" width="{2 * half:.1f}" '
        f'height="{height}" rx="{8 if grouped else 14}" fill="{fill}" stroke="#333" '
        'stroke-width="1.2"/>'
    ]
    if span:
        parts.append(_text(x, y - 7, text, extra=f' fill="{ink}"'))
        parts.append(_text(x, y + 9, span, size=10, extra=' fill="#666"'))
    else:
        parts.append(_text(x, y, text, extra=f' fill="{ink}"'))
    return "".join(parts), half


def _line(diagram: Diagram, line: Line, y: float) -> list[str]:
    def x_of(t: float) -> float:
        return LEFT + t * PLOT / diagram.end

    parts = [
        _text(LEFT / 2, y, line.label, size=12, extra=' fill="#444"'),
        f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT + 12}" y2="{y}" stroke="#555" '
        'stroke-width="1.5" marker-end="url(#arrow)"/>',
    ]
    right = float(LEFT)  # right edge of the last shape drawn on this line
    for time, kind, value in line.messages:
        true_x = x_of(time)
        if kind == "N":
            svg, half = _shape(0, 0, value)
            x = max(true_x, right + 3 + half)
            if x != true_x:
                parts.append(
                    f'<line x1="{true_x:.1f}" y1="{y + 18}" x2="{x:.1f}" y2="{y + 18}" '
                    'stroke="#999" stroke-width="1"/>'
                )
            parts.append(f'<g transform="translate({x:.1f},{y})">{svg}</g>')
            right = x + half
        elif kind == "C":
            x = max(true_x, right + 6)
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 16}" x2="{x:.1f}" y2="{y + 16}" '
                'stroke="#222" stroke-width="3"/>'
            )
            right = x
        else:
            x = max(true_x, right + 12)
            parts.append(
                f'<path d="M{x - 9:.1f} {y - 9}L{x + 9:.1f} {y + 9}M{x - 9:.1f} {y + 9}'
                f'L{x + 9:.1f} {y - 9}" stroke="#c0392b" stroke-width="3"/>'
            )
            parts.append(_text(x, y + 24, str(value), size=10, extra=' fill="#c0392b"'))
            right = x + 9
    return parts


def render(diagram: Diagram) -> str:
    """Return the SVG of ``diagram`` (deterministic: same run, same bytes)."""
    inputs = [line for line in diagram.lines if line.role == "in"]
    outputs = [line for line in diagram.lines if line.role == "out"]
    height = TOP + ROW * len(inputs) + OPERATOR + ROW * len(outputs) + 62
    data = json.dumps(diagram.data(), sort_keys=True, separators=(",", ":"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title" {FONT}>',
        f'<title id="title">{html.escape(diagram.code)}: {html.escape(diagram.caption)}</title>',
        f'<desc id="marble-data">{html.escape(data, quote=False)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" fill="#555"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
    ]
    y = TOP + ROW / 2
    for line in inputs:
        parts += _line(diagram, line, y)
        y += ROW
    box_top = y - ROW / 2 + 4
    parts.append(
        f'<rect x="{LEFT}" y="{box_top}" width="{PLOT}" height="{OPERATOR - 8}" rx="4" '
        'fill="#eef3fa" stroke="#4e79a7" stroke-width="1.2"/>'
    )
    size = min(13, int(PLOT * 0.95 / (0.62 * len(diagram.code))))
    parts.append(
        _text(LEFT + PLOT / 2, box_top + (OPERATOR - 8) / 2, diagram.code, size=size, extra=MONO)
    )
    y += OPERATOR
    for line in outputs:
        parts += _line(diagram, line, y)
        y += ROW
    ruler = y - ROW / 2 + 8
    step = 1 if diagram.end <= 16 else 2
    for second in range(0, int(diagram.end) + 1, step):
        x = LEFT + second * PLOT / diagram.end
        parts.append(
            f'<line x1="{x:.1f}" y1="{ruler}" x2="{x:.1f}" y2="{ruler + 5}" stroke="#999"/>'
        )
        parts.append(_text(x, ruler + 13, str(second), size=10, extra=' fill="#888"'))
    parts.append(_text(LEFT - 40, ruler + 13, "time (s)", size=10, extra=' fill="#888"'))
    parts.append(_text(WIDTH / 2, ruler + 36, diagram.caption, size=12, extra=' fill="#333"'))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def path_for(page: str) -> Path:
    """Return where the diagram of ``page`` is written."""
    return OUTPUT / f"{page}-marble.svg"


def main(argv: Sequence[str] | None = None) -> int:
    """Write every diagram, or with ``--check`` report the ones out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("pages", nargs="*", help="only these pages (default: all)")
    args = parser.parse_args(argv)
    pages: list[str] = args.pages or sorted(DIAGRAMS)
    stale: list[str] = []
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for page in pages:
        svg = render(DIAGRAMS[page]())
        target = path_for(page)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == svg:
            continue
        stale.append(page)
        if not args.check:
            target.write_text(svg, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for page in stale:
        print(f"{path_for(page).relative_to(ROOT)}: {verb}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
