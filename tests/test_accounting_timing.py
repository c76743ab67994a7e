"""Every item accounted for: the stats identities of the time, size and window processors.

Each property drives one processor in virtual time with items at random
times, ends the run by completion, by an upstream error or by a dispose at a
random moment (and, where there is a user function, makes it fail on random
items), then checks every counter against what the run really did, and the
processor's identity. A probe in the middle of the run checks ``held``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex.testing import TestScheduler
from reactivex.testing.recorded import Recorded

from rxstreamz import (
    AggregateWindow,
    Window,
    aggregate,
    batch,
    debounce_,
    dedupe,
    monitor,
    session_window,
    sliding_window,
    throttle,
    tumbling_window,
)
from rxstreamz._accounting import ProcessorStats
from tests.support import Boom, on_completed, on_error, on_next

End = Literal["complete", "error", "dispose"]


@dataclass
class Run:
    """What one virtual-time run did: items sent, outputs and the stats at the probe."""

    sent: list[tuple[float, int]]  # (time, item) the processor received
    outputs: list[tuple[float, Any]] = field(default_factory=list[tuple[float, Any]])
    probe: ProcessorStats | None = None
    probe_time: float = 0.0
    end: End = "complete"

    def before_probe(self) -> list[Any]:
        return [value for time, value in self.outputs if time < self.probe_time]

    def received_before_probe(self) -> list[int]:
        return [item for time, item in self.sent if time < self.probe_time]


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[int], int, End, int]:
    """Item times (whole seconds after 200), the end time and kind, the probe time."""
    times = sorted(draw(st.lists(st.integers(1, 60), max_size=25)))
    end_at = draw(st.integers(1, 80))
    end: End = draw(st.sampled_from(["complete", "error", "dispose"]))
    probe = draw(st.integers(0, 80))
    return [200 + t for t in times], 200 + end_at, end, 200 + probe


def drive(
    operator: Callable[[Observable[int]], Observable[Any]],
    stats: Callable[[], ProcessorStats],
    times: list[int],
    end_at: int,
    end: End,
    probe_at: int,
    *,
    stops: Callable[[int], bool] = lambda _: False,
) -> Run:
    """Run ``operator`` over items ``0, 1, ...`` at ``times``; ``stops(item)``: it fails there."""
    scheduler = TestScheduler()
    # Items strictly before the end; the end and the probe fall between whole seconds.
    kept = [t for t in times if t < end_at + 0.5]
    messages: list[Recorded[Any]] = [on_next(t, n) for n, t in enumerate(kept)]
    if end == "complete":
        messages.append(on_completed(end_at + 0.5))
    elif end == "error":
        messages.append(on_error(end_at + 0.5, Boom("upstream")))
    source: Observable[int] = scheduler.create_hot_observable(messages)
    run = Run(sent=[], probe_time=probe_at + 0.25, end=end)
    for n, t in enumerate(kept):
        run.sent.append((t, n))
        if stops(n):  # the user function fails the stream here: no item after it
            break

    def take_probe(_: abc.SchedulerBase, __: object = None) -> None:
        run.probe = stats()

    scheduler.schedule_absolute(cast(Any, run.probe_time), take_probe)
    disposed = end_at + 0.5 if end == "dispose" else 1000
    observer = scheduler.start(lambda: source.pipe(operator), disposed=cast(int, disposed))
    notifications = [
        (float(message.time), cast(Any, message.value)) for message in observer.messages
    ]
    run.outputs = [(time, note.value) for time, note in notifications if note.kind == "N"]
    return run


def identity(stats: ProcessorStats, *parts: int) -> None:
    assert stats.received == sum(parts) + stats.failed + stats.dropped


# -- batch ----------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(run=runs(), max_size=st.integers(1, 5), latency=st.none() | st.integers(1, 20))
def test_batch_accounts_for_every_item(
    run: tuple[list[int], int, End, int], max_size: int, latency: int | None
) -> None:
    op = batch(max_size, max_latency=latency)
    result = drive(op, op.stats, *run)
    received = [item for _, item in result.sent]
    emitted = [item for _, lst in result.outputs for item in lst]
    assert emitted == received[: len(emitted)]
    stats = op.stats()
    assert (stats.received, stats.emitted, stats.batches) == (
        len(received),
        len(emitted),
        len(result.outputs),
    )
    assert stats.held == 0
    assert stats.dropped == (len(received) - len(emitted) if result.end == "dispose" else 0)
    assert stats.failed == 0
    identity(stats, stats.emitted, stats.held)
    if result.probe is not None and result.probe_time < run[1] + 0.5:
        probe = cast(Any, result.probe)
        open_items = len(result.received_before_probe()) - sum(map(len, result.before_probe()))
        assert (probe.received, probe.held, probe.dropped) == (
            len(result.received_before_probe()),
            open_items,
            0,
        )


# -- debounce_ ------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(run=runs(), quiet=st.integers(1, 15))
def test_debounce_accounts_for_every_item(run: tuple[list[int], int, End, int], quiet: int) -> None:
    op = debounce_(quiet)
    result = drive(op, op.stats, *run)
    received = [item for _, item in result.sent]
    emitted = [item for _, item in result.outputs]
    pending = bool(received) and received[-1] not in emitted
    stats = op.stats()
    assert (stats.received, stats.emitted, stats.held) == (len(received), len(emitted), 0)
    assert stats.dropped == int(result.end == "dispose" and pending)
    assert stats.superseded == len(received) - len(emitted) - stats.dropped
    identity(stats, stats.emitted, stats.superseded, stats.held)
    if result.probe is not None and result.probe_time < run[1] + 0.5:
        probe = cast(Any, result.probe)
        so_far = result.received_before_probe()
        waiting = bool(so_far) and so_far[-1] not in result.before_probe()
        assert (probe.received, probe.held) == (len(so_far), int(waiting))
        identity(probe, probe.emitted, probe.superseded, probe.held)


# -- tumbling_window / sliding_window ---------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(run=runs(), size=st.integers(1, 12), slide_part=st.integers(1, 12))
def test_time_windows_account_for_every_item(
    run: tuple[list[int], int, End, int], size: int, slide_part: int
) -> None:
    slide = min(size, slide_part)
    op = sliding_window(size, slide) if slide < size else tumbling_window(size)
    result = drive(op, op.stats, *run)
    times = {item: time for time, item in result.sent}

    def last_windows(outputs: list[Window[int]]) -> list[int]:
        # Items whose last window (the newest one open when they came) was emitted.
        return [
            item
            for window in outputs
            for item in window.items
            if times[item] // slide * slide == window.start.timestamp()
        ]

    windows: list[Window[int]] = [value for _, value in result.outputs]
    emitted = last_windows(windows)
    assert sorted(emitted) == sorted(set(emitted))
    stats = op.stats()
    assert (stats.received, stats.emitted, stats.held) == (len(times), len(emitted), 0)
    assert stats.placements == sum(len(window.items) for window in windows)
    assert stats.windows == len(windows)
    assert stats.dropped == (len(times) - len(emitted) if result.end == "dispose" else 0)
    identity(stats, stats.emitted, stats.held)
    if result.probe is not None and result.probe_time < run[1] + 0.5:
        probe = cast(Any, result.probe)
        so_far = len(result.received_before_probe())
        assert (probe.received, probe.held) == (
            so_far,
            so_far - len(last_windows(result.before_probe())),
        )


# -- session_window -------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    run=runs(),
    gap=st.integers(1, 12),
    failing=st.frozensets(st.integers(0, 24)),
    mode=st.sampled_from(["raise", "skip"]),
)
def test_session_window_accounts_for_every_item(
    run: tuple[list[int], int, End, int],
    gap: int,
    failing: frozenset[int],
    mode: Literal["raise", "skip"],
) -> None:
    def key(item: int) -> str:
        if item in failing:
            raise Boom(item)
        return "ab"[item % 2]

    op = session_window(gap, key=key, errors=mode)
    result = drive(op, op.stats, *run, stops=lambda n: mode == "raise" and n in failing)
    received = [item for _, item in result.sent]
    failed = [item for item in received if item in failing]
    emitted = [item for _, window in result.outputs for item in window.items]
    good = [item for item in received if item not in failing]
    ended_early = mode == "raise" and bool(failed)
    disposed = result.end == "dispose" and not ended_early
    # Each item at most once; all of them unless a dispose threw open sessions away.
    assert len(set(emitted)) == len(emitted)
    assert set(emitted) <= set(good)
    assert disposed or sorted(emitted) == good
    stats = op.stats()
    assert (stats.received, stats.failed, stats.held) == (len(received), len(failed), 0)
    assert (stats.emitted, stats.windows) == (len(emitted), len(result.outputs))
    assert stats.dropped == (len(received) - len(emitted) - len(failed) if disposed else 0)
    identity(stats, stats.emitted, stats.held)


# -- aggregate ------------------------------------------------------------------------------


def add_unless(failing: frozenset[int]) -> Callable[[int, int], int]:
    def add(total: int, item: int) -> int:
        if item in failing:
            raise Boom(item)
        return total + item

    return add


@settings(max_examples=80, deadline=None)
@given(
    run=runs(),
    count=st.none() | st.integers(1, 4),
    interval=st.none() | st.integers(1, 15),
    empty=st.booleans(),
    failing=st.frozensets(st.integers(0, 24)),
    mode=st.sampled_from(["raise", "skip"]),
)
def test_aggregate_accounts_for_every_item(
    run: tuple[list[int], int, End, int],
    count: int | None,
    interval: int | None,
    empty: bool,
    failing: frozenset[int],
    mode: Literal["raise", "skip"],
) -> None:
    op = aggregate(
        add_unless(failing),
        0,
        count=count,
        interval=interval,
        emit_empty=empty and interval is not None,
        errors=mode,
    )
    result = drive(op, op.stats, *run, stops=lambda n: mode == "raise" and n in failing)
    received = [item for _, item in result.sent]
    failed = [item for item in received if item in failing]
    windows: list[AggregateWindow[int]] = [value for _, value in result.outputs]
    folded = sum(window.count for window in windows)
    assert sum(window.result for window in windows) == sum(
        [item for item in received if item not in failing][:folded]
    )
    stats = op.stats()
    assert (stats.received, stats.failed, stats.held) == (len(received), len(failed), 0)
    assert (stats.emitted, stats.windows) == (folded, len(windows))
    ended_early = mode == "raise" and bool(failed)
    disposed = result.end == "dispose" and not ended_early
    assert stats.dropped == (len(received) - folded - len(failed) if disposed else 0)
    identity(stats, stats.emitted, stats.held)


# -- monitor, throttle, dedupe --------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(run=runs(), every=st.integers(1, 20))
def test_monitor_accounts_for_every_item(run: tuple[list[int], int, End, int], every: int) -> None:
    op = monitor(every, lambda _: None)
    result = drive(op, op.stats, *run)
    stats = op.stats()
    assert (stats.received, stats.emitted, stats.dropped, stats.failed) == (
        len(result.sent),
        len(result.outputs),
        0,
        0,
    )
    identity(stats, stats.emitted)


@settings(max_examples=50, deadline=None)
@given(run=runs(), rate=st.sampled_from([0.25, 0.5, 1.0, 2.0]), burst=st.integers(1, 3))
def test_throttle_accounts_for_every_item(
    run: tuple[list[int], int, End, int], rate: float, burst: int
) -> None:
    op = throttle(rate, burst=burst)
    result = drive(op, op.stats, *run)
    stats = op.stats()
    assert (stats.received, stats.delivered, stats.queued) == (
        len(result.sent),
        len(result.outputs),
        0,
    )
    waiting = len(result.sent) - len(result.outputs)
    assert stats.dropped == (waiting if result.end == "dispose" else 0)
    identity(stats, stats.delivered, stats.queued)


@settings(max_examples=50, deadline=None)
@given(
    run=runs(),
    keys=st.lists(st.integers(0, 3), min_size=25, max_size=25),
    ttl=st.none() | st.integers(1, 20),
    failing=st.frozensets(st.integers(0, 24)),
)
def test_dedupe_accounts_for_every_item(
    run: tuple[list[int], int, End, int],
    keys: list[int],
    ttl: int | None,
    failing: frozenset[int],
) -> None:
    def key(item: int) -> int:
        if item in failing:
            raise Boom(item)
        return keys[item]

    op = dedupe(key, ttl=ttl, errors="skip")
    result = drive(op, op.stats, *run)
    received = [item for _, item in result.sent]
    failed = [item for item in received if item in failing]
    stats = op.stats()
    assert (stats.received, stats.passed, stats.failed, stats.dropped) == (
        len(received),
        len(result.outputs),
        len(failed),
        0,
    )
    identity(stats, stats.passed, stats.duplicates)
