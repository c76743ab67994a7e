"""dedupe: keys, ttl boundary, LRU bound, purge, error model, stats."""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Any, assert_type

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable
from reactivex import operators as ops
from reactivex.abc import DisposableBase
from reactivex.scheduler import HistoricalScheduler, TimeoutScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler
from reactivex.testing.subscription import Subscription

from rxstreamz import DeadLetter, DedupeStats, Operator, collect, dedupe
from tests.support import at, on_completed, on_error, on_next, rejected_at_call_time


def test_dedupe_empty_source(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(on_completed(250))
    operator = dedupe(ttl=10)
    assert scheduler.start(lambda: source.pipe(operator)).messages == [on_completed(250)]
    assert operator.stats() == DedupeStats(
        received=0, failed=0, dropped=0, passed=0, duplicates=0, tracked_keys=0
    )


def test_dedupe_never_ending_source(scheduler: TestScheduler) -> None:
    source: Observable[int] = scheduler.create_hot_observable()
    assert scheduler.start(lambda: source.pipe(dedupe())).messages == []


def test_dedupe_default_key_is_the_item_forever() -> None:
    operator = dedupe()
    assert collect(rx.of(1, 2, 1, 3, 2, 1, 4).pipe(operator)) == [1, 2, 3, 4]
    assert operator.stats() == DedupeStats(
        received=7, failed=0, dropped=0, passed=4, duplicates=3, tracked_keys=0
    )


def test_dedupe_key_function() -> None:
    def order_id(order: dict[str, object]) -> Hashable:
        return order["id"]

    orders: list[dict[str, object]] = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1}]
    result = collect(rx.from_iterable(orders).pipe(dedupe(order_id)))
    assert result == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        (10, ["a"]),  # exactly ttl later: still a duplicate
        (timedelta(seconds=10) - timedelta(microseconds=1), ["a", "a"]),  # ttl + 1 us later
    ],
)
def test_dedupe_ttl_boundary_is_strict(
    scheduler: TestScheduler, ttl: float | timedelta, expected: list[str]
) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, "a"), on_next(220, "a"), on_completed(300)
    )
    operator = dedupe(ttl=ttl)
    passed = scheduler.start(lambda: source.pipe(operator)).messages[:-1]
    assert [m.value.value for m in passed] == expected  # type: ignore[union-attr]
    assert operator.stats().duplicates == 2 - len(expected)


def test_dedupe_duplicates_do_not_refresh_the_time(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(215, "a"),  # duplicate: does not move the window
        on_next(219, "a"),
        on_next(221, "a"),  # 221 - 210 > 10: passes
        on_next(231, "a"),  # 231 - 221 = 10: duplicate
        on_completed(300),
    )
    assert scheduler.start(lambda: source.pipe(dedupe(ttl=10))).messages == [
        on_next(210, "a"),
        on_next(221, "a"),
        on_completed(300),
    ]


def test_dedupe_max_keys_evicts_least_recently_passed() -> None:
    operator = dedupe(max_keys=2)
    # a, b pass; a again is a duplicate and does not refresh a, so c evicts a
    # (the least recently *passed*), not b; b is still a duplicate; a passes
    # again (evicting b).
    items = ["a", "b", "a", "c", "b", "a"]
    assert collect(rx.from_iterable(items).pipe(operator)) == ["a", "b", "c", "a"]
    assert operator.stats() == DedupeStats(
        received=6, failed=0, dropped=0, passed=4, duplicates=2, tracked_keys=0
    )


def test_dedupe_max_keys_with_ttl(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(211, "b"),
        on_next(212, "c"),  # evicts a
        on_next(213, "a"),  # passes (evicted), evicts b
        on_next(214, "c"),  # duplicate
        on_completed(300),
    )
    assert scheduler.start(lambda: source.pipe(dedupe(ttl=100, max_keys=2))).messages == [
        on_next(210, "a"),
        on_next(211, "b"),
        on_next(212, "c"),
        on_next(213, "a"),
        on_completed(300),
    ]


def test_dedupe_purge_keeps_tracked_keys_bounded(scheduler: TestScheduler) -> None:
    # one new key per second for 500 s, ttl 10 s: the keys of the last 10 s (11) are held
    source = scheduler.create_hot_observable(
        [on_next(201 + i, i) for i in range(500)] + [on_completed(950)]
    )
    operator = dedupe(ttl=10)
    peak = 0

    def watch(_: int) -> None:
        nonlocal peak
        peak = max(peak, operator.stats().tracked_keys)

    scheduler.start(lambda: source.pipe(operator, ops.do_action(watch)))
    assert peak == 11
    assert operator.stats() == DedupeStats(
        received=500, failed=0, dropped=0, passed=500, duplicates=0, tracked_keys=0
    )


def test_dedupe_purge_timer_releases_keys_while_idle() -> None:
    scheduler = TestScheduler()
    subject: Subject[str] = Subject()
    operator = dedupe(ttl=5)
    out: list[str] = []
    subscription = subject.pipe(operator).subscribe(out.append, scheduler=scheduler)
    subject.on_next("a")
    subject.on_next("b")
    assert operator.stats().tracked_keys == 2
    scheduler.advance_to(5.0)  # expired only once now - pass > 5
    assert operator.stats().tracked_keys == 2
    scheduler.advance_to(10.0)  # purge tick (at least once per ttl) with no items
    assert operator.stats().tracked_keys == 0
    subject.on_next("a")  # passes again
    assert out == ["a", "b", "a"]
    subscription.dispose()
    assert operator.stats() == DedupeStats(
        received=3, failed=0, dropped=0, passed=3, duplicates=0, tracked_keys=0
    )


def test_dedupe_upstream_error_passes_through(scheduler: TestScheduler) -> None:
    boom = ValueError("boom")
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 1), on_error(230, boom))
    results = scheduler.start(lambda: source.pipe(dedupe(ttl=50)))
    assert results.messages == [on_next(210, 1), on_error(230, "boom")]
    assert results.messages[-1].value.exception is boom  # type: ignore[union-attr]


def key_failing_on_3(item: int) -> int:
    if item == 3:
        raise KeyError("no key for 3")
    return item


ONE_THREE_FOUR = [on_next(210, 1), on_next(220, 3), on_next(230, 4), on_completed(300)]


def test_dedupe_raising_key_raise_mode(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(*ONE_THREE_FOUR)
    operator = dedupe(key_failing_on_3, name="ids")
    results = scheduler.start(lambda: source.pipe(operator))
    assert results.messages == [on_next(210, 1), on_error(220, "'no key for 3'")]
    error = results.messages[-1].value.exception  # type: ignore[union-attr]
    assert type(error) is KeyError
    assert error.__notes__ == ["rxstreamz: raised in processor 'ids' on item 3"]
    assert source.subscriptions == [Subscription(200, 220)]
    assert operator.stats() == DedupeStats(
        received=2, failed=1, dropped=0, passed=1, duplicates=0, tracked_keys=0
    )


@pytest.mark.parametrize("ttl", [None, 100.0])
def test_dedupe_raising_key_skip_mode(scheduler: TestScheduler, ttl: float | None) -> None:
    letters: list[DeadLetter[Any]] = []
    source = scheduler.create_hot_observable(*ONE_THREE_FOUR)
    operator = dedupe(key_failing_on_3, ttl=ttl, errors="skip", on_failure=letters.append)
    results = scheduler.start(lambda: source.pipe(operator))
    assert results.messages == [on_next(210, 1), on_next(230, 4), on_completed(300)]
    [letter] = letters
    assert (letter.item, letter.attempts, letter.timestamp, letter.processor) == (
        3,
        1,
        at(220),
        "dedupe",
    )
    assert isinstance(letter.error, KeyError)
    assert operator.stats() == DedupeStats(
        received=3, failed=1, dropped=0, passed=2, duplicates=0, tracked_keys=0
    )


@pytest.mark.parametrize(("ttl", "max_keys"), [(None, None), (None, 5), (10.0, None)])
def test_dedupe_unhashable_item_follows_error_model(
    ttl: float | None, max_keys: int | None
) -> None:
    operator = dedupe(ttl=ttl, max_keys=max_keys, scheduler=TestScheduler())
    with pytest.raises(TypeError, match="unhashable") as caught:
        collect(rx.of([1], [2]).pipe(operator))
    assert caught.value.__notes__ == ["rxstreamz: raised in processor 'dedupe' on item [1]"]
    skipping = dedupe(ttl=ttl, max_keys=max_keys, errors="skip", scheduler=TestScheduler())
    assert collect(rx.of(1, [2], 1, 3).pipe(skipping)) == [1, 3]
    assert skipping.stats() == DedupeStats(
        received=4, failed=1, dropped=0, passed=2, duplicates=1, tracked_keys=0
    )


def test_dedupe_failing_on_failure_fails_the_stream() -> None:
    def sink(_letter: DeadLetter[Any]) -> None:
        raise RuntimeError("sink down")

    operator: Operator[int, Observable[int], DedupeStats]
    operator = dedupe(lambda _: 1 // 0, errors="skip", on_failure=sink)
    with pytest.raises(RuntimeError, match="sink down") as caught:
        collect(rx.of(1, 2).pipe(operator))
    assert caught.value.__notes__ == ["rxstreamz: raised by on_failure of processor 'dedupe'"]
    assert operator.stats().failed == 1


def test_dedupe_dispose_mid_way_cancels_purge_timer(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 1), on_next(260, 2), on_completed(300)
    )
    operator = dedupe(ttl=50)
    results = scheduler.start(lambda: source.pipe(operator), disposed=240)
    assert results.messages == [on_next(210, 1)]
    assert source.subscriptions == [Subscription(200, 240)]
    assert operator.stats() == DedupeStats(
        received=2, failed=0, dropped=0, passed=1, duplicates=1, tracked_keys=0
    )


def test_dedupe_two_subscriptions_keep_their_own_keys() -> None:
    operator = dedupe()
    first = collect(rx.of(1, 2, 2).pipe(operator))
    second = collect(rx.of(2, 1, 1).pipe(operator))
    assert (first, second) == ([1, 2], [2, 1])
    assert operator.stats() == DedupeStats(
        received=6, failed=0, dropped=0, passed=4, duplicates=2, tracked_keys=0
    )


def test_dedupe_stats_count_live_subscriptions() -> None:
    operator = dedupe(max_keys=10)
    subject: Subject[int] = Subject()
    subscription = subject.pipe(operator).subscribe(lambda _: None)
    for item in (1, 2, 3, 3):
        subject.on_next(item)
    assert operator.stats() == DedupeStats(
        received=4, failed=0, dropped=0, passed=3, duplicates=1, tracked_keys=3
    )
    subscription.dispose()
    assert operator.stats() == DedupeStats(
        received=4, failed=0, dropped=0, passed=3, duplicates=1, tracked_keys=0
    )


def test_dedupe_uses_subscribe_time_scheduler_and_own_scheduler_wins() -> None:
    subscribed = TestScheduler()
    own = TestScheduler()
    subject: Subject[str] = Subject()
    out: list[str] = []
    subject.pipe(dedupe(ttl=timedelta(seconds=1), scheduler=own)).subscribe(
        out.append, scheduler=subscribed
    )
    subject.on_next("a")
    subscribed.advance_to(100.0)
    subject.on_next("a")  # the own clock has not moved: duplicate
    own.advance_to(1.5)
    subject.on_next("a")
    assert out == ["a", "a"]


untyped_dedupe: Any = dedupe  # to pass wrongly typed arguments on purpose


test_dedupe_rejects_invalid_arguments = rejected_at_call_time(
    (lambda: untyped_dedupe(key=3), TypeError, "key must be callable, got int"),
    (lambda: dedupe(ttl=0), ValueError, "ttl must be > 0, got 0"),
    (lambda: untyped_dedupe(ttl="1"), TypeError, "ttl must be seconds"),
    (lambda: dedupe(max_keys=0), ValueError, "max_keys must be >= 1, got 0"),
    (lambda: dedupe(max_keys=True), TypeError, "max_keys must be an int, got bool"),
    (
        lambda: untyped_dedupe(errors="ignore"),
        ValueError,
        "errors must be one of 'raise', 'skip', got 'ignore'",
    ),
    (
        lambda: untyped_dedupe(on_failure=1),
        TypeError,
        "on_failure must be callable, got int",
    ),
    (lambda: dedupe(name=""), ValueError, "name must not be empty"),
    (
        lambda: untyped_dedupe(scheduler="now"),
        TypeError,
        "scheduler must be a reactivex scheduler, got str",
    ),
)


def test_dedupe_repr() -> None:
    assert repr(dedupe(ttl=2, max_keys=9, name="ids")) == "<Dedupe 'ids' ttl=2.0 max_keys=9>"


def reference_dedupe(
    events: list[tuple[int, Hashable]], ttl: int | None, max_keys: int | None
) -> list[Hashable]:
    """A slow, obviously correct model: (time, key) events -> passed keys."""
    last_pass: dict[Hashable, int] = {}  # insertion order = pass order
    passed: list[Hashable] = []
    for now, key in events:
        if ttl is not None:
            for old in [k for k, t in last_pass.items() if now - t > ttl]:
                del last_pass[old]
        if key in last_pass:
            continue
        last_pass[key] = now
        if max_keys is not None and len(last_pass) > max_keys:
            del last_pass[next(iter(last_pass))]
        passed.append(key)
    return passed


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=6), st.integers(0, 5)), max_size=60
    ),
    ttl=st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
    max_keys=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
)
def test_dedupe_property_matches_reference_model(
    steps: list[tuple[int, int]], ttl: int | None, max_keys: int | None
) -> None:
    scheduler = TestScheduler()
    events: list[tuple[int, Hashable]] = []
    now = 201
    for gap, key in steps:
        now += gap
        events.append((now, key))
    source = scheduler.create_hot_observable(
        [on_next(t, k) for t, k in events] + [on_completed(now + 1)]
    )
    operator = dedupe(ttl=ttl, max_keys=max_keys)
    results = scheduler.start(lambda: source.pipe(operator), disposed=10_000)
    passed = [m.value.value for m in results.messages[:-1]]  # type: ignore[union-attr]
    assert passed == reference_dedupe(events, ttl, max_keys)
    stats = operator.stats()
    assert stats.passed + stats.duplicates == len(events)


def test_dedupe_dispose_on_real_scheduler_leaves_no_thread(no_thread_leak: None) -> None:
    subject: Subject[int] = Subject()
    subscription = subject.pipe(dedupe(ttl=30)).subscribe(
        lambda _: None, scheduler=TimeoutScheduler.singleton()
    )
    subject.on_next(1)  # arms the 30 s purge timer
    subscription.dispose()  # must cancel it


def test_dedupe_real_scheduler_no_thread_leak(no_thread_leak: None) -> None:
    operator = dedupe(ttl=0.001)
    subject: Subject[int] = Subject()
    done = threading.Event()
    out: list[int] = []
    subscription = subject.pipe(operator).subscribe(
        out.append, on_completed=done.set, scheduler=TimeoutScheduler.singleton()
    )
    for i in range(2_000):
        subject.on_next(i % 50)
    subject.on_completed()
    assert done.wait(5)
    subscription.dispose()
    assert out[:50] == list(range(50))
    assert operator.stats().passed == len(out)


def test_types_flow_through_pipe() -> None:
    def order_id(order: dict[str, int]) -> Hashable:
        return order["id"]

    orders = [{"id": 1}, {"id": 1}]
    by_item = rx.of(1, 1, 2).pipe(dedupe(ttl=5))
    by_key = rx.from_iterable(orders).pipe(dedupe(order_id, max_keys=3))
    assert_type(by_item, Observable[int])
    assert_type(by_key, Observable[dict[str, int]])
    assert collect(by_item) == [1, 2]
    assert collect(by_key) == [{"id": 1}]


def test_dedupe_ttl_works_with_a_naive_virtual_clock() -> None:
    # Regression: the purge bookkeeping compared the clock with an aware
    # datetime, so a scheduler with a naive clock (HistoricalScheduler started
    # at a naive datetime) raised TypeError out of on_next.
    clock = HistoricalScheduler(datetime(2020, 1, 1))
    subject: Subject[str] = Subject()
    out: list[str] = []
    errors: list[Exception] = []
    operator = dedupe(ttl=1, scheduler=clock)
    subject.pipe(operator).subscribe(out.append, errors.append)
    for offset, item in [(0, "a"), (0.5, "a"), (0.75, "b"), (1.0, "a"), (1.5, "a"), (2.5, "b")]:
        clock.schedule_relative(offset, lambda _s, _st, item=item: subject.on_next(item))
    clock.advance_by(3)
    assert errors == []
    assert out == ["a", "b", "a", "b"]  # "a" again at 1.5 (> 0 + 1), not at 1.0 (strict)
    assert operator.stats() == DedupeStats(
        received=6, failed=0, dropped=0, passed=4, duplicates=2, tracked_keys=1
    )


def test_dedupe_rejects_a_ttl_below_scheduler_resolution() -> None:
    # Regression: ttl=1e-7 became timedelta(0); the purge timer then re-armed
    # itself for "0 s later" at the same virtual instant for ever (a hang).
    with pytest.raises(
        ValueError, match=re.escape("ttl must be at least 1 microsecond, got 1e-07")
    ):
        dedupe(ttl=1e-7)
    with pytest.raises(ValueError, match=re.escape("ttl is too long for a timedelta, got 1e+300")):
        dedupe(ttl=1e300)


def test_dedupe_smallest_ttl_does_not_hang(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(201, "a"), on_next(201, "a"), on_next(202, "a"), on_completed(203)
    )
    result = scheduler.start(lambda: source.pipe(dedupe(ttl=timedelta(microseconds=1))))
    assert result.messages == [on_next(201, "a"), on_next(202, "a"), on_completed(203)]


def test_a_key_function_may_dispose_its_own_subscription() -> None:
    # The key function runs outside dedupe's lock, so disposing from inside it
    # (which takes that lock) cannot deadlock.
    subject: Subject[int] = Subject()
    passed: list[int] = []
    subscription: list[DisposableBase] = []

    def key(item: int) -> int:
        if item == 2:
            subscription[0].dispose()
        return item

    subscription.append(subject.pipe(dedupe(key, ttl=10.0)).subscribe(passed.append))

    def push() -> None:
        for n in (1, 2, 3):
            subject.on_next(n)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    pusher.join(5)
    assert not pusher.is_alive(), "dedupe deadlocked on a key function that disposed"
    assert passed == [1]
