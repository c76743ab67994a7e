"""aggregate and the ready-made folds (virtual time)."""

from __future__ import annotations

import itertools
import math
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxstreamz import (
    AggregateStats,
    AggregateWindow,
    DeadLetter,
    Fold,
    aggregate,
    collect,
    fan_in,
    folds,
)
from tests import support
from tests.support import Boom, SpyScheduler, at, on_completed, on_error, on_next, run, subscribe

NOT_A_SCHEDULER: Any = "timeout"  # passes the type checkers, so the runtime check is exercised


def add(total: int, n: int) -> int:
    return total + n


def append(acc: list[int], n: int) -> list[int]:
    acc.append(n)  # mutates the state in place: must not leak into the next window
    return acc


def add_unless_three(total: int, n: int) -> int:
    if n == 3:
        raise Boom("three")
    return total + n


def agg(result: Any, start: float, end: float, count: int) -> AggregateWindow[Any]:
    return AggregateWindow(result, at(start), at(end), count)


def emitted(*windows: tuple[Any, float, float, int], completed: float) -> list[Any]:
    """The messages of ``windows`` (result, start, end, count), each at its end, then completion."""
    return [*(on_next(window[2], agg(*window)) for window in windows), on_completed(completed)]


def results(windows: list[AggregateWindow[Any]]) -> list[Any]:
    return [w.result for w in windows]


# -- triggers ------------------------------------------------------------------------------


TRIGGERS: dict[str, tuple[dict[str, Any], list[Any], list[Any]]] = {
    "count only: every n items, the rest flushed at completion": (
        {"count": 2},
        [*(on_next(200 + n, n) for n in range(1, 6)), on_completed(210)],
        emitted((3, 200, 202, 2), (7, 202, 204, 2), (5, 204, 210, 1), completed=210),
    ),
    "count only: a multiple of count leaves no partial window": (
        {"count": 2},
        [on_next(201, 1), on_next(202, 2), on_completed(210)],
        emitted((3, 200, 202, 2), completed=210),
    ),
    "interval only: free-running from the subscription, empty intervals skipped": (
        {"interval": 10},
        [on_next(203, 1), on_next(207, 2), on_next(215, 3), on_next(232, 4), on_completed(236)],
        # [220, 230) had no item: nothing emitted, the next window starts at 230
        emitted((3, 200, 210, 2), (3, 210, 220, 1), (4, 230, 236, 1), completed=236),
    ),
    "emit_empty: initial at the empty ticks only": (
        {"interval": timedelta(seconds=10), "emit_empty": True},
        [on_next(203, 1), on_next(232, 4), on_completed(236)],
        emitted(
            (1, 200, 210, 1), (0, 210, 220, 0), (0, 220, 230, 0), (4, 230, 236, 1), completed=236
        ),
    ),
    "emit_empty never applies at completion": (
        {"interval": 10, "emit_empty": True},
        [on_completed(205)],
        [on_completed(205)],
    ),
    "both triggers: whichever comes first, the count not moving the ticks": (
        {"count": 2, "interval": 10},
        [
            *(
                on_next(t, n)
                for t, n in [(202, 1), (204, 2), (206, 3), (213, 4), (214, 5), (215, 6)]
            ),
            on_completed(222),
        ],
        emitted(
            (3, 200, 204, 2), (3, 204, 210, 1), (9, 210, 214, 2), (6, 214, 220, 1), completed=222
        ),
    ),
    "an item exactly at a tick belongs to the next window": (
        {"interval": 10},
        [on_next(205, 1), on_next(210, 2), on_completed(215)],
        emitted((1, 200, 210, 1), (2, 210, 215, 1), completed=215),
    ),
    "no trigger: one window at completion": (
        {},
        [on_next(201, 1), on_next(230, 2), on_completed(250)],
        emitted((3, 200, 250, 2), completed=250),
    ),
    "no items and no trigger: no window": ({}, [on_completed(250)], [on_completed(250)]),
}


@pytest.mark.parametrize(("options", "source", "expected"), TRIGGERS.values(), ids=TRIGGERS)
def test_triggers(
    scheduler: TestScheduler, options: dict[str, Any], source: list[Any], expected: list[Any]
) -> None:
    messages, subs = run(scheduler, source, lambda s: s.pipe(aggregate(add, 0, **options)))
    assert messages == expected
    assert subs == [subscribe(200, source[-1].time)]


def test_never_ending_source_emits_at_ticks_until_disposed(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(201, 1), on_next(215, 2)],
        lambda s: s.pipe(aggregate(add, 0, interval=10)),
        disposed=230,
    )
    assert messages == [on_next(210, agg(1, 200, 210, 1)), on_next(220, agg(2, 210, 220, 1))]
    assert subs == [subscribe(200, 230)]


# -- state ---------------------------------------------------------------------------------


def test_each_window_starts_from_a_fresh_deep_copy_of_initial(scheduler: TestScheduler) -> None:
    initial: list[int] = []
    messages, _ = run(
        scheduler,
        [*(on_next(200 + n, n) for n in range(1, 6)), on_completed(210)],
        lambda s: s.pipe(aggregate(append, initial, count=2)),
    )
    assert messages == [
        on_next(202, agg([1, 2], 200, 202, 2)),
        on_next(204, agg([3, 4], 202, 204, 2)),
        on_next(210, agg([5], 204, 210, 1)),
        on_completed(210),
    ]
    assert initial == []
    first, second = (m.value.value.result for m in messages[:2])
    assert first is not second


def test_initial_is_copied_at_call_time(scheduler: TestScheduler) -> None:
    initial: list[int] = []
    op = aggregate(append, initial)
    initial.append(99)  # later changes by the caller do not reach the operator
    messages, _ = run(scheduler, [on_next(201, 1), on_completed(202)], lambda s: s.pipe(op))
    assert messages == [on_next(202, agg([1], 200, 202, 1)), on_completed(202)]


def test_two_subscriptions_are_independent(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(203, [1]), on_next(213, [2]), on_completed(220)
    )
    op = aggregate(add_lists, [0], interval=10, scheduler=scheduler)
    first, second = support.two_subscriptions(scheduler, source.pipe(op), 200, 205)
    assert first == [
        on_next(210, agg([0, 1], 200, 210, 1)),
        on_next(220, agg([0, 2], 210, 220, 1)),
        on_completed(220),
    ]
    assert second == [on_next(215, agg([0, 2], 205, 215, 1)), on_completed(220)]
    assert op.stats() == AggregateStats(
        received=3, failed=0, dropped=0, emitted=3, windows=3, held=0
    )


def hold_lock(acc: list[threading.Lock], item: int) -> list[threading.Lock]:
    return acc


def add_lists(acc: list[int], item: list[int]) -> list[int]:
    acc.extend(item)
    return acc


# -- errors --------------------------------------------------------------------------------


def test_upstream_error_flushes_the_partial_window_first(scheduler: TestScheduler) -> None:
    error = Boom("upstream")
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_next(202, 2), on_error(205, error)],
        lambda s: s.pipe(aggregate(add, 0, count=5)),
    )
    assert messages == [on_next(205, agg(3, 200, 205, 2)), on_error(205, error)]


def test_raising_fn_flushes_then_fails_with_a_note(scheduler: TestScheduler) -> None:
    op = aggregate(add_unless_three, 0, name="totals")
    messages, subs = run(
        scheduler,
        [*(on_next(200 + n, n) for n in range(1, 5)), on_completed(210)],
        lambda s: s.pipe(op),
    )
    assert messages[0] == on_next(203, agg(3, 200, 203, 2))  # 1 + 2, without the 3
    error = messages[1].value.exception
    assert isinstance(error, Boom)
    assert messages[1].time == 203
    assert error.__notes__ == ["rxstreamz: raised in processor 'totals' on item 3"]
    assert len(messages) == 2
    assert subs == [subscribe(200, 203)]
    assert op.stats() == AggregateStats(
        received=3, failed=1, dropped=0, emitted=2, windows=1, held=0
    )


def test_raising_fn_in_skip_mode_drops_the_item(scheduler: TestScheduler) -> None:
    letters: list[DeadLetter[Any]] = []
    op = aggregate(add_unless_three, 0, count=3, errors="skip", on_failure=letters.append)
    messages, _ = run(
        scheduler,
        [*(on_next(200 + n, n) for n in range(1, 6)), on_completed(210)],
        lambda s: s.pipe(op),
    )
    assert messages == [
        on_next(204, agg(7, 200, 204, 3)),
        on_next(210, agg(5, 204, 210, 1)),
        on_completed(210),
    ]
    assert [(d.item, type(d.error), d.attempts, d.timestamp, d.processor) for d in letters] == [
        (3, Boom, 1, at(203), "aggregate")
    ]
    assert op.stats() == AggregateStats(
        received=5, failed=1, dropped=0, emitted=4, windows=2, held=0
    )


def test_raising_on_failure_fails_the_stream(scheduler: TestScheduler) -> None:
    def sink(letter: DeadLetter[Any]) -> None:
        raise RuntimeError("sink down")

    messages, _ = run(
        scheduler,
        [on_next(201, 3), on_completed(210)],
        lambda s: s.pipe(aggregate(add_unless_three, 0, errors="skip", on_failure=sink)),
    )
    error = messages[0].value.exception
    assert isinstance(error, RuntimeError)
    assert len(messages) == 1


def test_raising_finish_fails_the_stream(scheduler: TestScheduler) -> None:
    def broken(total: int) -> int:
        raise Boom("finish")

    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_completed(210)],
        lambda s: s.pipe(aggregate(Fold(add, 0, broken), name="broken")),
    )
    assert len(messages) == 1
    error = messages[0].value.exception
    assert isinstance(error, Boom)
    assert messages[0].time == 210
    assert error.__notes__ == ["rxstreamz: raised in processor 'broken' on item 1"]


# -- timers --------------------------------------------------------------------------------


def test_one_timer_per_tick_and_dispose_cancels_it() -> None:
    scheduler = SpyScheduler()
    items = [on_next(200 + 0.5 * k, k) for k in range(1, 60)]
    messages, _ = run(
        scheduler, items, lambda s: s.pipe(aggregate(add, 0, interval=10)), disposed=235
    )
    assert [m.value.value.count for m in messages] == [19, 20, 20]
    own = len(scheduler.timers) - len(items) - 3
    assert own == 4  # ticks at 210, 220, 230 and the pending one for 240
    assert scheduler.pending() == 0


def test_dispose_mid_window_emits_nothing_more(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_completed(300)],
        lambda s: s.pipe(aggregate(add, 0, interval=10)),
        disposed=205,
    )
    assert messages == []


# -- folds ---------------------------------------------------------------------------------


def test_folds_compute_their_statistic() -> None:
    numbers: Observable[int] = rx.of(4, 8, 15, 16, 23, 42)
    assert results(collect(numbers.pipe(aggregate(folds.sum(), count=3)))) == [27, 81]
    assert results(collect(numbers.pipe(aggregate(folds.count(), count=4)))) == [4, 2]
    assert results(collect(numbers.pipe(aggregate(folds.mean(), count=2)))) == [6.0, 15.5, 32.5]
    assert results(collect(numbers.pipe(aggregate(folds.min(), count=4)))) == [4, 23]
    assert results(collect(numbers.pipe(aggregate(folds.max(), count=4)))) == [16, 42]


def test_min_and_max_keep_the_first_of_equals_and_accept_a_key() -> None:
    words: Observable[str] = rx.of("kiwi", "fig", "pear", "banana", "yam")
    assert results(collect(words.pipe(aggregate(folds.min(key=len))))) == ["fig"]
    assert results(collect(words.pipe(aggregate(folds.max(key=len))))) == ["banana"]
    assert results(collect(words.pipe(aggregate(folds.max(key=len), count=3)))) == [
        "kiwi",
        "banana",
    ]


def test_sum_with_a_start_value_fixes_the_type() -> None:
    amounts: Observable[Decimal] = rx.of(Decimal("0.10"), Decimal("0.20"))
    out = amounts.pipe(aggregate(folds.sum(Decimal(0))))
    assert_type(out, Observable[AggregateWindow[Decimal]])
    assert results(collect(out)) == [Decimal("0.30")]


def test_fold_results_of_empty_windows() -> None:
    def ticks(fold: Fold[Any, Any, Any]) -> list[Any]:
        messages, _ = run(
            TestScheduler(),
            [on_completed(215)],
            lambda s: s.pipe(aggregate(fold, interval=10, emit_empty=True)),
        )
        return [m.value.value.result for m in messages[:-1]]

    assert ticks(folds.sum()) == [0]
    assert ticks(folds.count()) == [0]
    assert math.isnan(ticks(folds.mean())[0])
    assert ticks(folds.min()) == [None]
    assert ticks(folds.max()) == [None]


def length(word: str) -> int:
    return len(word)


def test_types_flow_through_pipe() -> None:
    source: Observable[int] = rx.of(1, 2, 3)
    assert_type(source.pipe(aggregate(add, 0)), Observable[AggregateWindow[int]])
    assert_type(source.pipe(aggregate(folds.mean())), Observable[AggregateWindow[float]])
    assert_type(source.pipe(aggregate(folds.count())), Observable[AggregateWindow[int]])
    assert_type(source.pipe(aggregate(folds.max())), Observable[AggregateWindow[float | None]])
    words: Observable[str] = rx.of("a")
    assert_type(
        words.pipe(aggregate(folds.min(key=length))), Observable[AggregateWindow[str | None]]
    )


# -- arguments -----------------------------------------------------------------------------


test_invalid_arguments_fail_at_call_time = support.rejected_at_call_time(
    (lambda: aggregate(add, 0, count=0), ValueError, "count must be >= 1, got 0"),
    (lambda: aggregate(add, 0, count=2.0), TypeError, "count must be an int, got float"),  # type: ignore[call-overload]
    (lambda: aggregate(add, 0, count=True), TypeError, "count must be an int, got bool"),
    (lambda: aggregate(add, 0, interval=0), ValueError, "interval must be > 0, got 0"),
    (
        lambda: aggregate(add, 0, interval=1e-9),
        ValueError,
        "interval must be at least 1 microsecond",
    ),
    (
        lambda: aggregate(add, 0, emit_empty=True),
        ValueError,
        r"emit_empty requires interval \(empty windows exist only at ticks\)",
    ),
    (
        lambda: aggregate(add, 0, interval=1, emit_empty=1),  # type: ignore[call-overload]
        TypeError,
        "emit_empty must be a bool, got int",
    ),
    (lambda: aggregate(1, 0), TypeError, "fn must be callable, got int"),  # type: ignore[call-overload]
    (lambda: aggregate(add), TypeError, r"aggregate\(\) needs initial"),  # type: ignore[call-overload]
    (
        lambda: aggregate(folds.sum(), 0),  # type: ignore[call-overload]
        TypeError,
        "initial must not be given with a Fold",
    ),
    (
        lambda: aggregate(hold_lock, [threading.Lock()]),
        TypeError,
        "initial must be deep-copyable, got list",
    ),
    (lambda: aggregate(add, 0, errors="log"), ValueError, "errors must be one of"),  # type: ignore[call-overload]
    (lambda: aggregate(add, 0, name=""), ValueError, "name must not be empty"),
    (lambda: folds.min(key=3), TypeError, "key must be callable, got int"),  # type: ignore[call-overload]
    # Regression: scheduler= was not checked, failing at subscription with AttributeError.
    (
        lambda: aggregate(add, 0, interval=1, scheduler=NOT_A_SCHEDULER),
        TypeError,
        "scheduler must be a reactivex scheduler, got str",
    ),
)


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(items=st.lists(st.integers(-100, 100), max_size=50), count=st.integers(1, 7))
def test_count_windows_fold_consecutive_chunks(items: list[int], count: int) -> None:
    windows = collect(rx.from_iterable(items).pipe(aggregate(append, [], count=count)))
    chunks = [items[i : i + count] for i in range(0, len(items), count)]
    assert [w.result for w in windows] == chunks
    assert [w.count for w in windows] == [len(c) for c in chunks]
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))


# -- real time (threads) -------------------------------------------------------------------


def test_real_time_interval_windows_count_every_item_once(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    windows: list[AggregateWindow[int]] = []
    busy = threading.Lock()
    overlaps = 0
    done = threading.Event()

    def receive(window: AggregateWindow[int]) -> None:
        nonlocal overlaps
        if not busy.acquire(blocking=False):
            overlaps += 1
            return
        windows.append(window)
        busy.release()

    subject.pipe(aggregate(add, 0, count=500, interval=0.003)).subscribe(
        receive, on_completed=done.set
    )
    count = support.produce(subject, 0.3, pause_every=200)
    assert done.wait(5)
    assert overlaps == 0
    assert sum(w.count for w in windows) == count
    assert sum(w.result for w in windows) == sum(range(count))
    assert all(w.count <= 500 for w in windows)
    # contiguous except where an empty interval was skipped
    assert all(a.end <= b.start for a, b in itertools.pairwise(windows))


def test_real_time_dispose_releases_the_interval_timer(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    windows: list[AggregateWindow[int]] = []
    subscription = subject.pipe(aggregate(add, 0, interval=60)).subscribe(windows.append)
    subject.on_next(1)
    subscription.dispose()
    subject.on_completed()
    assert windows == []


def test_dispose_does_not_wait_for_a_downstream_that_is_receiving_a_window() -> None:
    # Regression: dispose took the subscription lock, which the interval timer
    # holds while it emits, so disposing from another thread waited for
    # downstream (and deadlocked when downstream waited for that thread).
    clock = TestScheduler()
    returned_at_once, received = support.dispose_while_emitting(
        aggregate(add, 0, interval=10, emit_empty=True, scheduler=clock), clock, until=60
    )
    assert returned_at_once
    assert received == 1  # nothing after dispose


def test_own_scheduler_wins_over_the_subscribe_time_scheduler() -> None:
    own, subscribed = TestScheduler(), TestScheduler()
    own.advance_to(100)
    subject: Subject[int] = Subject()
    out: list[AggregateWindow[int]] = []
    subject.pipe(aggregate(add, 0, interval=10, scheduler=own)).subscribe(
        out.append, scheduler=subscribed
    )
    subject.on_next(5)
    subscribed.advance_to(1000)
    assert out == []  # the subscribe-time scheduler runs no timer of ours
    own.advance_to(115)
    assert out == [agg(5, 100, 110, 1)]


def test_several_producer_threads_merged_with_fan_in_count_every_item(
    no_thread_leak: None,
) -> None:
    # The documented pattern for several producers: one source each, merged by
    # fan_in, which serializes what reaches aggregate's lock-free fold.
    producers, per_producer = 8, 5_000
    subjects: list[Subject[int]] = [Subject() for _ in range(producers)]
    out: list[AggregateWindow[int]] = []
    fan_in(*subjects).pipe(aggregate(folds.count())).subscribe(out.append)
    start = threading.Barrier(producers)

    def produce(subject: Subject[int]) -> None:
        start.wait(timeout=10)
        for n in range(per_producer):
            subject.on_next(n)
        subject.on_completed()

    threads = [threading.Thread(target=produce, args=(s,)) for s in subjects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert [(w.result, w.count) for w in out] == [(40_000, 40_000)]


def test_the_missing_initial_reads_well_in_the_signature() -> None:
    import inspect

    default = inspect.signature(aggregate).parameters["initial"].default
    assert repr(default) == "<no initial>"
