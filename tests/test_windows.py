"""Time windows: tumbling_window, sliding_window, session_window (virtual time)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex.subject import Subject
from reactivex.testing import TestScheduler
from typing_extensions import override

from rxstreamz import (
    DeadLetter,
    SessionWindowStats,
    Window,
    collect,
    session_window,
    sliding_window,
    tumbling_window,
)
from rxstreamz.batching._windows import TimeWindow
from tests import support
from tests.support import Boom, SpyScheduler, at, on_completed, on_error, on_next, run, subscribe

NOT_A_SCHEDULER: Any = 1  # passes the type checkers, so the runtime check is exercised


def win(start: float, end: float, *items: Any, key: str | None = None) -> Window[Any]:
    return Window(at(start), at(end), list(items), key)


def first_letter(text: str) -> str:
    return text[0]


# -- tumbling_window ----------------------------------------------------------------------


def test_tumbling_emits_each_interval_at_its_end_and_skips_empty_ones(
    scheduler: TestScheduler,
) -> None:
    messages, subs = run(
        scheduler,
        [
            on_next(203, "a"),
            on_next(207, "b"),
            on_next(212, "c"),
            on_next(235, "d"),
            on_completed(250),
        ],
        lambda s: s.pipe(tumbling_window(10)),
    )
    assert messages == [
        on_next(210, win(200, 210, "a", "b")),
        on_next(220, win(210, 220, "c")),
        on_next(240, win(230, 240, "d")),
        on_completed(250),
    ]
    assert subs == [subscribe(200, 250)]


def test_tumbling_windows_are_aligned_to_the_epoch_not_the_subscription(
    scheduler: TestScheduler,
) -> None:
    source = scheduler.create_hot_observable(on_next(204, 1), on_next(216, 2), on_completed(217))
    result = scheduler.start(lambda: source.pipe(tumbling_window(15)), subscribed=201)
    assert result.messages == [
        on_next(210, win(195, 210, 1)),
        on_next(217, win(210, 225, 2)),
        on_completed(217),
    ]


def test_tumbling_item_exactly_on_a_boundary_opens_the_next_window(
    scheduler: TestScheduler,
) -> None:
    messages, _ = run(
        scheduler,
        [on_next(205, 1), on_next(210, 2), on_next(220, 3), on_completed(225)],
        lambda s: s.pipe(tumbling_window(10)),
    )
    assert messages == [
        on_next(210, win(200, 210, 1)),
        on_next(220, win(210, 220, 2)),
        on_next(225, win(220, 230, 3)),  # flushed with its planned end
        on_completed(225),
    ]


def test_tumbling_fractional_boundaries_are_exact(scheduler: TestScheduler) -> None:
    # 200.3 is not exact in binary floating point; it must still open [200.3, 200.4).
    messages, _ = run(
        scheduler,
        [on_next(200.25, "a"), on_next(200.3, "b"), on_next(200.35, "c"), on_completed(200.5)],
        lambda s: s.pipe(tumbling_window(0.1)),
    )
    assert messages == [
        on_next(200.3, Window(at(200.2), at(200.3), ["a"])),
        on_next(200.4, Window(at(200.3), at(200.4), ["b", "c"])),
        on_completed(200.5),
    ]
    assert at(200.3) == datetime(1970, 1, 1, 0, 3, 20, 300000, tzinfo=UTC)


def test_tumbling_accepts_a_timedelta(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_next(205, 2), on_completed(206)],
        lambda s: s.pipe(tumbling_window(timedelta(seconds=4))),
    )
    assert messages == [
        on_next(204, win(200, 204, 1)),
        on_next(206, win(204, 208, 2)),
        on_completed(206),
    ]


def test_tumbling_empty_source_completes_without_windows(scheduler: TestScheduler) -> None:
    messages, _ = run(scheduler, [on_completed(250)], lambda s: s.pipe(tumbling_window(10)))
    assert messages == [on_completed(250)]


def test_tumbling_never_ending_source_emits_by_timer_only(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(201, 1), on_next(302, 2)],
        lambda s: s.pipe(tumbling_window(10)),
    )
    assert messages == [on_next(210, win(200, 210, 1)), on_next(310, win(300, 310, 2))]
    assert subs == [subscribe(200, 1000)]


def test_tumbling_upstream_error_flushes_the_open_window_first(
    scheduler: TestScheduler,
) -> None:
    error = Boom("upstream")
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_next(212, 2), on_error(215, error)],
        lambda s: s.pipe(tumbling_window(10)),
    )
    assert messages == [
        on_next(210, win(200, 210, 1)),
        on_next(215, win(210, 220, 2)),
        on_error(215, error),
    ]


def test_tumbling_uses_one_timer_per_window_and_dispose_cancels_it() -> None:
    scheduler = SpyScheduler()
    items = [on_next(200 + 0.5 * k, k) for k in range(1, 40)]  # 39 items over 3 windows
    messages, subs = run(scheduler, items, lambda s: s.pipe(tumbling_window(10)), disposed=215)
    assert [m.value.value.items for m in messages] == [list(range(1, 20))]
    assert subs == [subscribe(200, 215)]
    assert len(scheduler.timers) - len(items) - 3 == 2  # minus hot items and start's 3 actions
    assert scheduler.pending() == 0


def test_tumbling_dispose_mid_window_emits_nothing_more(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_next(203, 2), on_completed(230)],
        lambda s: s.pipe(tumbling_window(10)),
        disposed=205,
    )
    assert messages == []


def test_tumbling_two_subscriptions_are_independent(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(203, 1), on_next(213, 2), on_next(223, 3), on_completed(230)
    )
    windows = tumbling_window(10, scheduler=scheduler)
    first, second = support.two_subscriptions(scheduler, source.pipe(windows), 200, 211)
    assert first == [
        on_next(210, win(200, 210, 1)),
        on_next(220, win(210, 220, 2)),
        on_next(230, win(220, 230, 3)),
        on_completed(230),
    ]
    assert second == [
        on_next(220, win(210, 220, 2)),
        on_next(230, win(220, 230, 3)),
        on_completed(230),
    ]


def test_tumbling_uses_the_subscribe_scheduler_when_none_is_given() -> None:
    scheduler = TestScheduler()
    out: list[Window[int]] = []
    rx.from_iterable([1, 2]).pipe(tumbling_window(5)).subscribe(out.append, scheduler=scheduler)
    scheduler.start()
    assert out == [Window(at(0), at(5), [1, 2])]


def test_tumbling_real_time_flush() -> None:
    out = collect(rx.of(1, 2, 3).pipe(tumbling_window(3600)), timeout=5)
    assert [w.items for w in out] == [[1, 2, 3]]
    assert out[0].end - out[0].start == timedelta(hours=1)
    assert out[0].start.timestamp() % 3600 == 0


def test_tumbling_infers_window_of_item_type() -> None:
    source: Observable[int] = rx.of(1, 2)
    assert_type(source.pipe(tumbling_window(1)), Observable[Window[int]])
    assert_type(source.pipe(sliding_window(2, 1)), Observable[Window[int]])
    assert_type(source.pipe(session_window(1)), Observable[Window[int]])


test_invalid_arguments_fail_at_call_time = support.rejected_at_call_time(
    (lambda: tumbling_window(0), ValueError, "size must be > 0, got 0"),
    (lambda: tumbling_window(-1.5), ValueError, r"size must be > 0, got -1\.5"),
    (lambda: tumbling_window(1e-9), ValueError, "size must be at least 1 microsecond"),
    (lambda: tumbling_window(float("inf")), ValueError, "size must be a finite duration"),
    (lambda: tumbling_window("1"), TypeError, "size must be seconds"),  # pyright: ignore[reportArgumentType]
    (lambda: tumbling_window(True), TypeError, "size must be seconds"),
    (lambda: tumbling_window(1, name=""), ValueError, "name must not be empty"),
    (lambda: sliding_window(10, 0), ValueError, "slide must be > 0, got 0"),
    (lambda: sliding_window(0, 1), ValueError, "size must be > 0, got 0"),
    (
        lambda: sliding_window(5, 10),
        ValueError,
        r"slide must be <= size, got slide=10 > size=5 \(items between windows would be lost\)",
    ),
    (lambda: sliding_window(5, None), TypeError, "slide must be seconds"),  # pyright: ignore[reportArgumentType]
    (lambda: session_window(0), ValueError, "gap must be > 0, got 0"),
    (lambda: session_window(1, max_sessions=0), ValueError, "max_sessions must be >= 1, got 0"),
    (
        lambda: session_window(1, max_sessions=2.0),  # pyright: ignore[reportArgumentType]
        TypeError,
        "max_sessions must be an int, got float",
    ),
    (lambda: session_window(1, max_duration=0), ValueError, "max_duration must be > 0, got 0"),
    (
        lambda: session_window(1, max_duration="1s"),  # pyright: ignore[reportArgumentType]
        TypeError,
        "max_duration must be",
    ),
    (lambda: session_window(1, key=3), TypeError, "key must be callable, got int"),  # pyright: ignore[reportArgumentType]
    (lambda: session_window(1, errors="ignore"), ValueError, "errors must be one of"),  # pyright: ignore[reportArgumentType]
    (
        lambda: session_window(1, on_failure=1),  # pyright: ignore[reportArgumentType]
        TypeError,
        "on_failure must be callable, got int",
    ),
    # Regression: scheduler= was not checked, failing at subscription with AttributeError.
    (
        lambda: tumbling_window(1, scheduler=NOT_A_SCHEDULER),
        TypeError,
        "scheduler must be a reactivex scheduler, got int",
    ),
    (
        lambda: sliding_window(2, 1, scheduler=NOT_A_SCHEDULER),
        TypeError,
        "scheduler must be a reactivex scheduler, got int",
    ),
    (
        lambda: session_window(1, scheduler=NOT_A_SCHEDULER),
        TypeError,
        "scheduler must be a reactivex scheduler, got int",
    ),
)


# -- sliding_window -----------------------------------------------------------------------


def test_sliding_item_belongs_to_every_overlapping_window(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(203, "a"), on_next(208, "b"), on_next(213, "c"), on_completed(240)],
        lambda s: s.pipe(sliding_window(10, 5)),
    )
    assert messages == [
        on_next(205, win(195, 205, "a")),
        on_next(210, win(200, 210, "a", "b")),
        on_next(215, win(205, 215, "b", "c")),
        on_next(220, win(210, 220, "c")),
        on_completed(240),
    ]


def test_sliding_with_slide_equal_to_size_is_tumbling(scheduler: TestScheduler) -> None:
    messages = [on_next(203, 1), on_next(210, 2), on_next(231, 3), on_completed(233)]
    sliding, _ = run(scheduler, messages, lambda s: s.pipe(sliding_window(10, 10)))
    tumbling, _ = run(TestScheduler(), messages, lambda s: s.pipe(tumbling_window(10)))
    assert sliding == tumbling
    assert sliding == [
        on_next(210, win(200, 210, 1)),
        on_next(220, win(210, 220, 2)),
        on_next(233, win(230, 240, 3)),
        on_completed(233),
    ]


def test_sliding_flush_emits_open_windows_in_start_order(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_next(207, 2), on_completed(208)],
        lambda s: s.pipe(sliding_window(9, 3)),
    )
    # 201 falls in windows starting 195, 198, 201; 207 in 201, 204, 207.
    assert messages == [
        on_next(204, win(195, 204, 1)),
        on_next(207, win(198, 207, 1)),
        on_next(208, win(201, 210, 1, 2)),
        on_next(208, win(204, 213, 2)),
        on_next(208, win(207, 216, 2)),
        on_completed(208),
    ]


def test_sliding_upstream_error_flushes_in_start_order(scheduler: TestScheduler) -> None:
    error = Boom("upstream")
    messages, _ = run(
        scheduler,
        [on_next(202, 1), on_error(203, error)],
        lambda s: s.pipe(sliding_window(4, 2)),
    )
    assert messages == [
        on_next(203, win(200, 204, 1)),
        on_next(203, win(202, 206, 1)),
        on_error(203, error),
    ]


def test_sliding_arms_one_timer_per_window_not_per_item() -> None:
    scheduler = SpyScheduler()
    items = [on_next(200 + 0.25 * k, k) for k in range(1, 40)]  # 200.25 .. 209.75
    messages, _ = run(
        scheduler, [*items, on_completed(209.9)], lambda s: s.pipe(sliding_window(4, 2))
    )
    assert len(messages) == 7  # windows starting 198, 200, ..., 208 and the completion
    own = len(scheduler.timers) - len(items) - 1 - 3
    assert own == 5  # windows ending 202, 204, 206, 208, 210 (the last one cancelled)
    assert scheduler.pending() == 0


def test_sliding_dispose_cancels_the_timer() -> None:
    scheduler = SpyScheduler()
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_completed(300)],
        lambda s: s.pipe(sliding_window(10, 5)),
        disposed=202,
    )
    assert messages == []
    assert scheduler.pending() == 0


# -- session_window -----------------------------------------------------------------------


def test_session_closes_after_gap_without_items(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(201, "a"), on_next(204, "b"), on_next(216, "c"), on_completed(219)],
        lambda s: s.pipe(session_window(4)),
    )
    assert messages == [
        on_next(208, win(201, 208, "a", "b")),
        on_next(219, win(216, 220, "c")),
        on_completed(219),
    ]
    assert subs == [subscribe(200, 219)]


def test_session_item_exactly_at_last_plus_gap_starts_a_new_session(
    scheduler: TestScheduler,
) -> None:
    messages, _ = run(
        scheduler,
        [on_next(210, "x"), on_next(220, "y"), on_completed(225)],
        lambda s: s.pipe(session_window(10)),
    )
    assert messages == [
        on_next(220, win(210, 220, "x")),
        on_next(225, win(220, 230, "y")),
        on_completed(225),
    ]


def test_sessions_of_two_keys_expire_independently(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [
            on_next(201, "a1"),
            on_next(203, "b1"),
            on_next(208, "a2"),
            on_next(216, "b2"),
            on_completed(240),
        ],
        lambda s: s.pipe(session_window(10, key=first_letter)),
    )
    assert messages == [
        on_next(213, win(203, 213, "b1", key="b")),
        on_next(218, win(201, 218, "a1", "a2", key="a")),
        on_next(226, win(216, 226, "b2", key="b")),
        on_completed(240),
    ]


def test_same_time_expiries_come_out_by_start_then_key(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [
            on_next(201, "z0"),
            on_next(205, "z1"),
            on_next(205, "c0"),  # arrives before b0, sorts after it
            on_next(205, "b0"),
            on_completed(230),
        ],
        lambda s: s.pipe(session_window(5, key=first_letter)),
    )
    assert messages == [
        on_next(210, win(201, 210, "z0", "z1", key="z")),
        on_next(210, win(205, 210, "b0", key="b")),
        on_next(210, win(205, 210, "c0", key="c")),
        on_completed(230),
    ]


def test_session_max_duration_cuts_a_session_that_never_goes_quiet(
    scheduler: TestScheduler,
) -> None:
    # An item every 2 s with gap 5 would be one endless session; max_duration
    # 7 ends it at start + 7 (by the timer), and the next item starts a new one.
    messages, _ = run(
        scheduler,
        [*(on_next(t, t) for t in range(201, 216, 2)), on_next(226, 226), on_completed(240)],
        lambda s: s.pipe(session_window(5, max_duration=7)),
    )
    assert messages == [
        on_next(208, win(201, 208, 201, 203, 205, 207)),
        on_next(216, win(209, 216, 209, 211, 213, 215)),
        on_next(231, win(226, 231, 226)),  # a quiet session still ends at last + gap
        on_completed(240),
    ]


def test_session_max_duration_item_exactly_at_the_cap_starts_the_next_session(
    scheduler: TestScheduler,
) -> None:
    messages, _ = run(
        scheduler,
        [on_next(201, "a"), on_next(204, "b"), on_next(205, "c"), on_completed(207)],
        lambda s: s.pipe(session_window(10, key=first_letter, max_duration=4)),
    )
    # "a" is capped at 205; "b" and "c" are their own keys.
    assert messages == [
        on_next(205, win(201, 205, "a", key="a")),
        on_next(207, win(204, 208, "b", key="b")),
        on_next(207, win(205, 209, "c", key="c")),
        on_completed(207),
    ]


def test_session_max_sessions_closes_the_one_with_the_oldest_last_item(
    scheduler: TestScheduler,
) -> None:
    messages, _ = run(
        scheduler,
        [
            on_next(201, "a1"),
            on_next(202, "b1"),
            on_next(203, "a2"),  # now "b" has the oldest last item
            on_next(204, "c1"),  # a third key: "b" is closed early, at 204
            on_next(205, "b2"),  # "b" again: "a" (last at 203) is closed
            on_completed(207),
        ],
        lambda s: s.pipe(session_window(10, key=first_letter, max_sessions=2)),
    )
    assert messages == [
        on_next(204, win(202, 204, "b1", key="b")),
        on_next(205, win(201, 205, "a1", "a2", key="a")),
        on_next(207, win(204, 214, "c1", key="c")),
        on_next(207, win(205, 215, "b2", key="b")),
        on_completed(207),
    ]


def test_session_max_sessions_one_and_expiry_after_an_early_close(
    scheduler: TestScheduler,
) -> None:
    # The early-closed session's deadline (212) passes without a second emission.
    messages, _ = run(
        scheduler,
        [on_next(202, "a"), on_next(203, "b"), on_completed(230)],
        lambda s: s.pipe(session_window(10, key=first_letter, max_sessions=1)),
    )
    assert messages == [
        on_next(203, win(202, 203, "a", key="a")),
        on_next(213, win(203, 213, "b", key="b")),
        on_completed(230),
    ]


def test_session_max_sessions_keeps_memory_bounded_under_endless_new_keys() -> None:
    scheduler = TestScheduler()
    subject: Subject[str] = Subject()
    out: list[Window[str]] = []
    subject.pipe(session_window(1000, key=str.strip, max_sessions=3)).subscribe(
        out.append, scheduler=scheduler
    )
    for n in range(10_000):
        subject.on_next(str(n))
    assert len(out) == 10_000 - 3
    assert [w.items for w in out[:2]] == [["0"], ["1"]]
    subject.on_completed()
    assert [w.items for w in out[-3:]] == [["9997"], ["9998"], ["9999"]]


def test_session_flush_orders_by_start_then_key(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(202, "z"), on_next(204, "m"), on_next(204, "a"), on_completed(206)],
        lambda s: s.pipe(session_window(60, key=first_letter)),
    )
    assert messages == [
        on_next(206, win(202, 262, "z", key="z")),
        on_next(206, win(204, 264, "a", key="a")),
        on_next(206, win(204, 264, "m", key="m")),
        on_completed(206),
    ]


def test_session_upstream_error_flushes_first(scheduler: TestScheduler) -> None:
    error = Boom("upstream")
    messages, _ = run(
        scheduler,
        [on_next(201, "b"), on_next(202, "a"), on_error(203, error)],
        lambda s: s.pipe(session_window(5, key=first_letter)),
    )
    assert messages == [
        on_next(203, win(201, 206, "b", key="b")),
        on_next(203, win(202, 207, "a", key="a")),
        on_error(203, error),
    ]


def test_session_empty_and_never_ending_sources(scheduler: TestScheduler) -> None:
    empty, _ = run(scheduler, [on_completed(250)], lambda s: s.pipe(session_window(5)))
    assert empty == [on_completed(250)]
    never, subs = run(TestScheduler(), [on_next(201, 1)], lambda s: s.pipe(session_window(5)))
    assert never == [on_next(206, win(201, 206, 1))]
    assert subs == [subscribe(200, 1000)]


def bad_key(text: str) -> str:
    if text == "boom":
        raise Boom("no key")
    return text[0]


def test_session_key_error_raise_mode_flushes_then_fails(scheduler: TestScheduler) -> None:
    sessions = session_window(10, key=bad_key, name="sessions")
    messages, subs = run(
        scheduler,
        [on_next(201, "a"), on_next(203, "boom"), on_next(204, "b"), on_completed(250)],
        lambda s: s.pipe(sessions),
    )
    assert messages[0] == on_next(203, win(201, 211, "a", key="a"))
    assert len(messages) == 2
    error = messages[1].value.exception
    assert isinstance(error, Boom)
    assert messages[1].time == 203
    assert error.__notes__ == ["rxstreamz: raised in processor 'sessions' on item 'boom'"]
    assert subs == [subscribe(200, 203)]
    assert sessions.stats() == SessionWindowStats(
        received=2, failed=1, dropped=0, emitted=1, windows=1, held=0
    )


def test_session_key_error_skip_mode_dead_letters(scheduler: TestScheduler) -> None:
    letters: list[DeadLetter[Any]] = []
    sessions = session_window(10, key=bad_key, errors="skip", on_failure=letters.append)
    messages, _ = run(
        scheduler,
        [on_next(201, "a"), on_next(203, "boom"), on_next(204, "a2"), on_completed(250)],
        lambda s: s.pipe(sessions),
    )
    assert messages == [on_next(214, win(201, 214, "a", "a2", key="a")), on_completed(250)]
    assert [(d.item, type(d.error), d.attempts, d.timestamp, d.processor) for d in letters] == [
        ("boom", Boom, 1, at(203), "session_window")
    ]
    assert sessions.stats() == SessionWindowStats(
        received=3, failed=1, dropped=0, emitted=2, windows=1, held=0
    )


def not_a_str(item: int) -> str:
    return item  # type: ignore[return-value]


def test_session_key_must_return_a_str(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(201, 1), on_completed(250)],
        lambda s: s.pipe(session_window(10, key=not_a_str)),
    )
    error = messages[0].value.exception
    assert isinstance(error, TypeError)
    assert str(error) == "session_window key must return a str, got int"


def test_session_timer_is_not_per_item_and_dispose_cancels_it() -> None:
    scheduler = SpyScheduler()
    items = [on_next(200 + k, k) for k in range(1, 21)]  # one item a second for 20 s
    messages, _ = run(scheduler, items, lambda s: s.pipe(session_window(5)), disposed=215)
    assert messages == []
    own = len(scheduler.timers) - len(items) - 3
    assert 1 <= own <= 4  # re-armed lazily about once per gap, not once per item
    assert scheduler.pending() == 0


def test_session_two_subscriptions_are_independent(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_next(201, 1), on_next(207, 2), on_completed(209))
    sessions = session_window(4, scheduler=scheduler)
    first, second = support.two_subscriptions(scheduler, source.pipe(sessions), 200, 202)
    assert first == [
        on_next(205, win(201, 205, 1)),
        on_next(209, win(207, 211, 2)),
        on_completed(209),
    ]
    assert second == [on_next(209, win(207, 211, 2)), on_completed(209)]
    assert sessions.stats() == SessionWindowStats(
        received=3, failed=0, dropped=0, emitted=3, windows=3, held=0
    )


def test_session_downstream_dispose_while_receiving_stops_everything(
    scheduler: TestScheduler,
) -> None:
    source = scheduler.create_hot_observable(
        on_next(201, "a"), on_next(201, "b"), on_next(230, "c"), on_completed(240)
    )
    received: list[Window[str]] = []
    subscription: abc.DisposableBase | None = None

    def receive(window: Window[str]) -> None:
        received.append(window)
        assert subscription is not None
        subscription.dispose()

    def start(*_: object) -> None:
        nonlocal subscription
        subscription = source.pipe(
            session_window(5, key=first_letter, scheduler=scheduler)
        ).subscribe(receive)

    scheduler.schedule_absolute(200, start)
    scheduler.start()
    assert received == [win(201, 206, "a", key="a")]


# -- properties ---------------------------------------------------------------------------


arrivals = st.lists(st.integers(1, 5_000), max_size=40).map(sorted)
"""Arrival offsets in milliseconds after subscription, in order."""


def run_times(build: Callable[[Observable[Any]], Observable[Any]], offsets: list[int]) -> list[Any]:
    scheduler = TestScheduler()
    messages = [on_next(200 + ms / 1000, n) for n, ms in enumerate(offsets)]
    end = round(200 + (offsets[-1] if offsets else 0) / 1000 + 0.5, 3)
    result = run(scheduler, [*messages, on_completed(end)], build)[0]
    assert result[-1] == on_completed(end)
    return [m.value.value for m in result[:-1]]


@settings(max_examples=60, deadline=None)
@given(offsets=arrivals, size_ms=st.integers(1, 900))
def test_tumbling_windows_partition_the_input_in_order(offsets: list[int], size_ms: int) -> None:
    windows: list[Window[int]] = run_times(
        lambda s: s.pipe(tumbling_window(size_ms / 1000)), offsets
    )
    assert [n for w in windows for n in w.items] == list(range(len(offsets)))
    size = timedelta(milliseconds=size_ms)
    for w in windows:
        assert w.items
        assert w.end - w.start == size
        assert (w.start - at(0)) % size == timedelta(0)
        for n in w.items:
            assert w.start <= at(200 + offsets[n] / 1000) < w.end
    assert all(a.end <= b.start for a, b in itertools.pairwise(windows))


@settings(max_examples=60, deadline=None)
@given(
    offsets=arrivals,
    slide_ms=st.integers(1, 300),
    factor=st.integers(1, 4),
    extra=st.integers(0, 299),
)
def test_sliding_each_item_is_in_every_window_covering_it(
    offsets: list[int], slide_ms: int, factor: int, extra: int
) -> None:
    size_ms = slide_ms * factor + min(extra, slide_ms - 1)
    windows: list[Window[int]] = run_times(
        lambda s: s.pipe(sliding_window(size_ms / 1000, slide_ms / 1000)), offsets
    )
    lo, hi = size_ms // slide_ms, -(-size_ms // slide_ms)
    for n, ms in enumerate(offsets):
        t = at(200 + ms / 1000)
        containing = [w for w in windows if n in w.items]
        assert lo <= len(containing) <= hi
        assert all(w.start <= t < w.end for w in containing)
        # every epoch-aligned window that covers t holds n
        arrival = 200_000 + ms  # milliseconds since the epoch
        expected = arrival // slide_ms - (arrival - size_ms) // slide_ms
        assert len(containing) == expected
    starts = [w.start for w in windows]
    ends = [w.end for w in windows]
    assert starts == sorted(starts)
    assert ends == sorted(ends)
    assert all(w.items == sorted(w.items) and w.items for w in windows)


@settings(max_examples=40, deadline=None)
@given(offsets=arrivals, size_ms=st.integers(1, 900))
def test_sliding_with_equal_slide_matches_tumbling(offsets: list[int], size_ms: int) -> None:
    seconds = size_ms / 1000
    assert run_times(lambda s: s.pipe(sliding_window(seconds, seconds)), offsets) == run_times(
        lambda s: s.pipe(tumbling_window(seconds)), offsets
    )


@settings(max_examples=60, deadline=None)
@given(offsets=arrivals, gap_ms=st.integers(1, 900))
def test_sessions_partition_the_input_at_gaps(offsets: list[int], gap_ms: int) -> None:
    windows: list[Window[int]] = run_times(lambda s: s.pipe(session_window(gap_ms / 1000)), offsets)
    assert [n for w in windows for n in w.items] == list(range(len(offsets)))
    for w in windows:
        inner = [offsets[n] for n in w.items]
        assert all(b - a < gap_ms for a, b in itertools.pairwise(inner))
        assert w.end == at(200 + inner[-1] / 1000) + timedelta(milliseconds=gap_ms)
    for a, b in itertools.pairwise(windows):
        assert offsets[b.items[0]] - offsets[a.items[-1]] >= gap_ms


# -- real time (threads) ------------------------------------------------------------------


class Serialized(abc.ObserverBase[Window[int]]):
    """An observer that records windows and notices overlapping on_next calls."""

    def __init__(self) -> None:
        self.windows: list[Window[int]] = []
        self.overlaps = 0
        self.done = threading.Event()
        self.error: Exception | None = None
        self._busy = threading.Lock()

    @override
    def on_next(self, value: Window[int]) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            return
        try:
            self.windows.append(value)
        finally:
            self._busy.release()

    @override
    def on_error(self, error: Exception) -> None:
        self.error = error
        self.done.set()

    @override
    def on_completed(self) -> None:
        self.done.set()


@pytest.mark.parametrize(
    "make",
    [lambda: tumbling_window(0.003), lambda: sliding_window(0.004, 0.004)],
    ids=["tumbling", "sliding"],
)
def test_real_time_windows_partition_items_with_serialized_output(
    make: Callable[[], TimeWindow], no_thread_leak: None
) -> None:
    subject: Subject[int] = Subject()
    observer = Serialized()
    subject.pipe(make()).subscribe(observer)
    count = support.produce(subject, 0.3, pause_every=200)
    assert observer.done.wait(5)
    assert observer.error is None
    assert observer.overlaps == 0
    assert [n for w in observer.windows for n in w.items] == list(range(count))
    assert all(w.items for w in observer.windows)
    assert all(a.end <= b.start for a, b in itertools.pairwise(observer.windows))


def residue(n: int) -> str:
    return str(n % 3)


def test_real_time_sessions_keep_every_item_once(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    observer = Serialized()
    subject.pipe(session_window(0.002, key=residue)).subscribe(observer)
    count = support.produce(subject, 0.3, pause_every=100)
    assert observer.done.wait(5)
    assert observer.error is None
    assert observer.overlaps == 0
    for key in "012":
        got = [n for w in observer.windows if w.key == key for n in w.items]
        assert got == [n for n in range(count) if str(n % 3) == key]


def test_real_time_dispose_releases_timers(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    observer = Serialized()
    subscriptions = [
        subject.pipe(tumbling_window(60)).subscribe(observer),
        subject.pipe(sliding_window(60, 30)).subscribe(observer),
        subject.pipe(session_window(60)).subscribe(observer),
    ]
    for n in range(10):
        subject.on_next(n)
    assert threading.active_count() > 1  # the timers are waiting
    for subscription in subscriptions:
        subscription.dispose()
    subject.on_completed()
    assert observer.windows == []
    assert not observer.done.is_set()


@pytest.mark.parametrize(
    "make",
    [
        lambda clock: tumbling_window(10, scheduler=clock),
        lambda clock: sliding_window(10, 5, scheduler=clock),
        lambda clock: session_window(10, scheduler=clock),
    ],
    ids=["tumbling", "sliding", "session"],
)
def test_dispose_does_not_wait_for_a_downstream_that_is_receiving_a_window(
    make: Callable[[TestScheduler], Callable[[Observable[int]], Observable[Window[int]]]],
) -> None:
    # Regression: dispose took the subscription lock, which a timer holds while
    # it emits, so disposing from another thread waited for downstream (and
    # deadlocked when downstream waited for the disposing thread).
    clock = TestScheduler()
    returned_at_once, received = support.dispose_while_emitting(make(clock), clock, until=30)
    assert returned_at_once
    assert received == 1  # nothing after dispose


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda clock: tumbling_window(10, scheduler=clock), [win(100, 110, "a")]),
        (
            lambda clock: sliding_window(10, 5, scheduler=clock),
            [win(95, 105, "a"), win(100, 110, "a")],
        ),
        (lambda clock: session_window(10, scheduler=clock), [win(100, 110, "a")]),
    ],
    ids=["tumbling", "sliding", "session"],
)
def test_own_scheduler_wins_over_the_subscribe_time_scheduler(
    make: Callable[[TestScheduler], Callable[[Observable[str]], Observable[Window[str]]]],
    expected: list[Window[str]],
) -> None:
    own, subscribed = TestScheduler(), TestScheduler()
    own.advance_to(100)
    subject: Subject[str] = Subject()
    out: list[Window[str]] = []
    subject.pipe(make(own)).subscribe(out.append, scheduler=subscribed)
    subject.on_next("a")
    subscribed.advance_to(1000)
    assert out == []  # the subscribe-time scheduler runs no timer of ours
    own.advance_to(120)
    assert out == expected
