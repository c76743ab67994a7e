"""monitor: report grid, idle intervals, final reports, latency, failing on_stats."""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
import tracemalloc
from datetime import timedelta
from typing import Any, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import TimeoutScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler
from reactivex.testing.subscription import Subscription

from rxstreamz import StreamStats, collect, monitor
from rxstreamz.observability._monitor import Monitor
from tests.support import (
    at,
    on_completed,
    on_error,
    on_next,
    rejected_at_call_time,
    two_subscriptions,
)


def report(
    count: int, total: int, seconds: float, when: float, name: str = "monitor"
) -> StreamStats:
    rate = count / seconds if seconds > 0 else 0.0
    return StreamStats(name, count, total, rate, seconds, at(when))


def test_monitor_reports_every_interval_from_subscription_idle_ones_too(
    scheduler: TestScheduler,
) -> None:
    source = scheduler.create_hot_observable(
        on_next(150, "early"),  # before subscription: not seen
        on_next(210, "a"),
        on_next(220, "b"),
        on_next(240, "c"),
        on_completed(300),
    )
    reports: list[StreamStats] = []
    results = scheduler.start(lambda: source.pipe(monitor(30, reports.append)))
    assert results.messages == [
        on_next(210, "a"),
        on_next(220, "b"),
        on_next(240, "c"),
        on_completed(300),
    ]
    assert reports == [
        report(2, 2, 30.0, 230),  # created at 100, measured from subscription at 200
        report(1, 3, 30.0, 260),
        report(0, 3, 30.0, 290),  # idle interval
        report(0, 3, 10.0, 300),  # final report at completion
    ]
    assert reports[0].rate == pytest.approx(2 / 30)
    assert all(r.latency_avg is None and r.latency_max is None for r in reports)


def test_monitor_empty_source_reports_once_at_completion(scheduler: TestScheduler) -> None:
    reports: list[StreamStats] = []
    empty: Observable[int] = rx.empty()
    results = scheduler.start(lambda: empty.pipe(monitor(30, reports.append, latency=True)))
    assert results.messages == [on_completed(200)]
    assert reports == [report(0, 0, 0.0, 200)]  # zero-length interval: rate 0.0


def test_monitor_never_ending_source_keeps_reporting_until_disposed(
    scheduler: TestScheduler,
) -> None:
    source: Observable[int] = scheduler.create_hot_observable()
    reports: list[StreamStats] = []
    results = scheduler.start(
        lambda: source.pipe(monitor(100, reports.append, name="idle")), disposed=450
    )
    assert results.messages == []
    assert reports == [report(0, 0, 100.0, 300, "idle"), report(0, 0, 100.0, 400, "idle")]


def test_monitor_final_report_then_upstream_error(scheduler: TestScheduler) -> None:
    boom = ValueError("boom")
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(235, 2), on_error(245, boom))
    reports: list[StreamStats] = []
    results = scheduler.start(lambda: source.pipe(monitor(30, reports.append)))
    assert results.messages == [on_next(210, 1), on_next(235, 2), on_error(245, "boom")]
    assert results.messages[-1].value.exception is boom  # type: ignore[union-attr]
    assert reports == [report(1, 1, 30.0, 230), report(1, 2, 15.0, 245)]


def test_monitor_dispose_cancels_timer_and_skips_final_report(
    scheduler: TestScheduler,
) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(300, 2))
    reports: list[StreamStats] = []
    results = scheduler.start(lambda: source.pipe(monitor(30, reports.append)), disposed=250)
    assert results.messages == [on_next(210, 1)]
    assert source.subscriptions == [Subscription(200, 250)]
    assert reports == [report(1, 1, 30.0, 230)]  # nothing at 260, 290, ... nor at 250


def test_monitor_latency_figures_are_exact_in_virtual_time(scheduler: TestScheduler) -> None:
    # downstream "works" by advancing the virtual clock: 0.4, 0.1, 0.3, 0.2 s
    source = scheduler.create_hot_observable(
        on_next(210, 0.4), on_next(215, 0.1), on_next(220, 0.3), on_next(225, 0.2),
        on_completed(270),
    )  # fmt: skip
    reports: list[StreamStats] = []

    def create() -> Observable[float]:
        return source.pipe(
            monitor(30, reports.append, latency=True),
            ops.do_action(lambda seconds: scheduler.sleep(seconds)),
        )

    scheduler.start(create)
    first, idle, final = reports
    assert (first.count, first.total, first.interval_seconds, first.timestamp) == (
        4,
        4,
        30.0,
        at(230),
    )
    assert first.latency_avg == math.fsum([0.1, 0.2, 0.3, 0.4]) / 4 == 0.25
    assert first.latency_p50 == 0.2  # nearest rank: ceil(0.50 * 4) = 2nd smallest
    assert first.latency_p99 == 0.4  # ceil(0.99 * 4) = 4th
    assert first.latency_max == 0.4
    assert idle == report(0, 4, 30.0, 260)  # no items: latency None
    assert final == report(0, 4, 10.0, 270)


def latency_run(items: int, *, trace: bool = False) -> tuple[StreamStats, int]:
    """``items`` items whose downstream takes 1..1000 µs of virtual time, each value
    equally often, in a scrambled order; returns the final report and the peak
    memory allocated meanwhile."""
    scheduler = TestScheduler()
    subject: Subject[int] = Subject()
    reports: list[StreamStats] = []
    subject.pipe(
        monitor(10**6, reports.append, latency=True, scheduler=scheduler),
        ops.do_action(lambda micros: scheduler.sleep(micros / 1e6)),
    ).subscribe()
    peak = 0
    if trace:
        tracemalloc.start()
    try:
        for n in range(items):
            subject.on_next((n * 7919) % 1000 + 1)
        subject.on_completed()
        if trace:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        if trace:
            tracemalloc.stop()
    (final,) = reports
    return final, peak


def test_monitor_latency_memory_is_bounded_and_avg_and_max_stay_exact() -> None:
    final, peak = latency_run(25_000, trace=True)
    assert final.count == 25_000
    assert final.latency_avg == 500.5e-6  # exact: sum and count are kept
    assert final.latency_max == 1000e-6
    # Percentiles come from a uniform sample of 4096 (exact: p50 = 500 µs,
    # p99 = 990 µs); the sample is seeded, so these bounds (about 4 standard
    # deviations of the rank error) hold on every run.
    assert final.latency_p50 is not None
    assert final.latency_p99 is not None
    assert abs(final.latency_p50 - 500e-6) <= 31e-6
    assert abs(final.latency_p99 - 990e-6) <= 7e-6
    # 25,000 float samples alone would take 200 kB (and 800 kB more to sort).
    assert peak < 300_000


def test_monitor_latency_percentiles_are_exact_up_to_the_reservoir_size() -> None:
    final, _ = latency_run(4000)  # values 1..1000 µs, each 4 times
    assert final.latency_p50 == 500e-6
    assert final.latency_p99 == 990e-6
    assert final.latency_avg == 500.5e-6


def test_monitor_latency_sampling_replays_exactly() -> None:
    assert latency_run(10_000)[0] == latency_run(10_000)[0]


def test_monitor_without_latency_reports_none_even_with_items(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(220))
    reports: list[StreamStats] = []
    scheduler.start(lambda: source.pipe(monitor(30, reports.append)))
    assert reports == [report(1, 1, 20.0, 220)]
    assert reports[0].latency_p50 is None


def test_monitor_late_timer_skips_missed_grid_points(scheduler: TestScheduler) -> None:
    # The downstream of the item at 210 takes 100 s, so the tick due at 230
    # runs at 310: it reports what happened since 200 and the next tick is 320.
    source = scheduler.create_hot_observable(on_next(210, 100.0), on_completed(330))
    reports: list[StreamStats] = []
    scheduler.start(
        lambda: source.pipe(
            monitor(30, reports.append), ops.do_action(lambda s: scheduler.sleep(s))
        )
    )
    assert reports == [
        report(1, 1, 110.0, 310),
        report(0, 1, 10.0, 320),
        report(0, 1, 10.0, 330),
    ]


def test_monitor_raising_on_stats_fails_the_stream(scheduler: TestScheduler) -> None:
    calls: list[StreamStats] = []

    def on_stats(stats: StreamStats) -> None:
        calls.append(stats)
        if stats.total >= 2:
            raise RuntimeError("metrics backend down")

    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(240, 2), on_next(270, 3), on_completed(400)
    )
    results = scheduler.start(lambda: source.pipe(monitor(30, on_stats, name="ingest")))
    assert results.messages == [
        on_next(210, 1),
        on_next(240, 2),
        on_error(260, "metrics backend down"),
    ]
    error = results.messages[-1].value.exception  # type: ignore[union-attr]
    assert type(error) is RuntimeError
    assert error.__notes__ == [
        "rxstreamz: raised by on_stats of processor 'ingest' on report "
        + repr(report(1, 2, 30.0, 260, "ingest"))[:197]
        + "..."
    ]
    assert source.subscriptions == [Subscription(200, 260)]
    assert len(calls) == 2  # no report after the failure, not even a final one


def test_monitor_on_stats_raising_at_completion_becomes_the_error(
    scheduler: TestScheduler,
) -> None:
    def on_stats(stats: StreamStats) -> None:
        raise KeyError("final")

    source = scheduler.create_hot_observable(on_next(210, 1), on_completed(220))
    results = scheduler.start(lambda: source.pipe(monitor(30, on_stats)))
    assert results.messages == [on_next(210, 1), on_error(220, "'final'")]


def test_monitor_on_stats_raising_at_upstream_error_adds_a_note(
    scheduler: TestScheduler,
) -> None:
    boom = ValueError("boom")

    def on_stats(stats: StreamStats) -> None:
        raise KeyError("final")

    source = scheduler.create_hot_observable(on_next(210, 1), on_error(220, boom))
    results = scheduler.start(lambda: source.pipe(monitor(30, on_stats)))
    assert results.messages == [on_next(210, 1), on_error(220, "boom")]
    assert boom.__notes__ == [
        "rxstreamz: on_stats of processor 'monitor' also raised KeyError('final')"
    ]


def test_monitor_two_subscriptions_are_independent(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 2), on_completed(250))
    reports: list[StreamStats] = []
    piped = source.pipe(monitor(20, reports.append))
    first, second = two_subscriptions(scheduler, piped, 205, 215)
    assert first == [on_next(210, 1), on_next(220, 2), on_completed(250)]
    assert second == [on_next(220, 2), on_completed(250)]
    assert sorted(reports, key=lambda r: (r.timestamp, r.total)) == [
        report(2, 2, 20.0, 225),  # first: grid 225, 245
        report(1, 1, 20.0, 235),  # second: grid 235
        report(0, 2, 20.0, 245),
        report(0, 1, 15.0, 250),  # final reports
        report(0, 2, 5.0, 250),
    ]


def test_monitor_own_scheduler_wins_and_timedelta_interval() -> None:
    own = TestScheduler()
    subscribed = TestScheduler()
    subject: Subject[int] = Subject()
    reports: list[StreamStats] = []
    subject.pipe(monitor(timedelta(seconds=2), reports.append, scheduler=own)).subscribe(
        lambda _: None, scheduler=subscribed
    )
    subject.on_next(1)
    subscribed.advance_to(100.0)
    assert reports == []
    own.advance_to(2.0)
    assert reports == [report(1, 1, 2.0, 2)]


untyped_monitor: Any = monitor  # to pass wrongly typed arguments on purpose


test_monitor_rejects_invalid_arguments = rejected_at_call_time(
    (lambda: monitor(0, print), ValueError, "interval must be > 0, got 0"),
    (lambda: untyped_monitor("1s", print), TypeError, "interval must be seconds"),
    (lambda: untyped_monitor(1, None), TypeError, "on_stats must be callable, got NoneType"),
    (
        lambda: untyped_monitor(1, print, latency=1),
        TypeError,
        "latency must be a bool, got int",
    ),
    (lambda: monitor(1, print, name=""), ValueError, "name must not be empty"),
    (
        lambda: untyped_monitor(1, print, scheduler=1),
        TypeError,
        "scheduler must be a reactivex scheduler, got int",
    ),
)


def test_monitor_repr_and_default_name() -> None:
    operator = monitor(5, print, latency=True)
    assert isinstance(operator, Monitor)
    assert operator.name == "monitor"
    assert repr(operator) == "<Monitor 'monitor' interval=5.0 latency=True>"


def test_monitor_real_scheduler_pass_through_and_no_thread_leak(no_thread_leak: None) -> None:
    reports: list[StreamStats] = []
    items = collect(rx.from_iterable(range(1000)).pipe(monitor(30, reports.append, latency=True)))
    assert items == list(range(1000))
    [final] = reports
    assert (final.count, final.total) == (1000, 1000)
    assert final.latency_max is not None
    assert final.latency_max >= 0.0


def test_monitor_dispose_on_real_scheduler_leaves_no_thread(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    subscription = subject.pipe(monitor(30, print)).subscribe(
        lambda _: None, scheduler=TimeoutScheduler.singleton()
    )
    subject.on_next(1)
    subscription.dispose()


def test_monitor_failing_report_never_overlaps_items_on_real_threads(
    no_thread_leak: None,
) -> None:
    """A report failing on the timer thread while items flow on another thread."""
    reports = 0
    inside = False
    overlapping = False
    after_error = False
    errors: list[Exception] = []
    failed = threading.Event()

    def on_stats(_stats: StreamStats) -> None:
        nonlocal reports
        reports += 1
        if reports == 3:
            raise RuntimeError("third report fails")

    def downstream(_item: int) -> None:
        nonlocal inside, overlapping, after_error
        if inside:
            overlapping = True
        if errors:
            after_error = True
        inside = True
        time.sleep(0)  # yield the GIL: give the timer thread a chance to overlap
        inside = False

    def on_error_(exc: Exception) -> None:
        nonlocal overlapping
        if inside:
            overlapping = True
        errors.append(exc)
        failed.set()

    subject: Subject[int] = Subject()
    subscription = subject.pipe(monitor(0.002, on_stats)).subscribe(
        downstream, on_error_, scheduler=TimeoutScheduler.singleton()
    )

    def produce() -> None:
        i = 0
        while not failed.is_set() and i < 5_000_000:
            subject.on_next(i)
            i += 1

    producer = threading.Thread(target=produce)
    producer.start()
    assert failed.wait(10)
    producer.join(10)
    subscription.dispose()
    assert [str(e) for e in errors] == ["third report fails"]
    assert not overlapping
    assert not after_error


def test_types_flow_through_pipe() -> None:
    piped = rx.of("a", "b").pipe(monitor(60, lambda _: None))
    assert_type(piped, Observable[str])
    assert collect(piped) == ["a", "b"]


@settings(max_examples=50, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=40), max_size=40),
    interval=st.integers(min_value=1, max_value=50),
)
def test_monitor_property_reports_account_for_every_item(gaps: list[int], interval: int) -> None:
    scheduler = TestScheduler()
    times = list(itertools.accumulate(gaps, initial=201))[1:]  # `gaps` apart, from 201
    end = 202 + sum(gaps)
    source = scheduler.create_hot_observable(
        [on_next(t, i) for i, t in enumerate(times)] + [on_completed(end)]
    )
    reports: list[StreamStats] = []
    results = scheduler.start(
        lambda: source.pipe(monitor(interval, reports.append)), disposed=10_000
    )
    assert [m.value.value for m in results.messages[:-1]] == list(range(len(times)))  # type: ignore[union-attr]
    assert sum(r.count for r in reports) == reports[-1].total == len(times)
    assert math.fsum(r.interval_seconds for r in reports) == end - 200
    grid = [r.timestamp for r in reports[:-1]]
    assert grid == [at(200 + k * interval) for k in range(1, len(grid) + 1)]
    assert reports[-1].timestamp == at(end)


def test_monitor_rejects_an_interval_below_scheduler_resolution() -> None:
    # Regression: interval=1e-7 became timedelta(0) and the first report looped
    # for ever looking for the next grid point (a hang).
    with pytest.raises(
        ValueError, match=re.escape("interval must be at least 1 microsecond, got 1e-07")
    ):
        monitor(1e-7, print)


def test_monitor_smallest_interval_reports_on_its_grid(scheduler: TestScheduler) -> None:
    reports: list[StreamStats] = []
    source = scheduler.create_hot_observable(on_completed(200.000003))
    scheduler.start(lambda: source.pipe(monitor(timedelta(microseconds=1), reports.append)))
    assert [r.timestamp for r in reports] == [
        at(200.000001),
        at(200.000002),
        at(200.000003),  # completion (scheduled first) reports before the grid timer runs
    ]
