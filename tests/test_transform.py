"""Per-item processors: filter_, map_, tap_, take_, skip_, sample_, chunk, unbatch, flatten."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import reactivex as rx
from reactivex import Observable
from reactivex import operators as ops
from reactivex.testing import TestScheduler

import rxstreamz as rz
from rxstreamz import chunk, collect, filter_, flatten, map_, sample_, skip_, take_, tap_, unbatch
from tests.support import Boom, ambiguous_on, on_completed, on_error, on_next, run, subscribe


def raise_on(bad: int) -> Callable[[int], int]:
    def fn(n: int) -> int:
        if n == bad:
            raise Boom(f"bad {n}")
        return n

    return fn


# -- filter_ / map_ / tap_ --------------------------------------------------------------


def test_filter_keeps_matching_items_in_order(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_next(240, 4), on_completed(250)],
        lambda s: s.pipe(filter_(lambda n: n % 2 == 0)),
    )
    assert messages == [on_next(220, 2), on_next(240, 4), on_completed(250)]
    assert subs == [subscribe(200, 250)]


def test_map_and_tap(scheduler: TestScheduler) -> None:
    seen: list[int] = []
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_completed(230)],
        lambda s: s.pipe(tap_(seen.append), map_(lambda n: n * 10)),
    )
    assert messages == [on_next(210, 10), on_next(220, 20), on_completed(230)]
    assert seen == [1, 2]


def test_tap_emits_the_same_object() -> None:
    item = {"id": 1}
    out = collect(rx.of(item).pipe(tap_(lambda _: None)))
    assert out[0] is item


def test_empty_and_never_sources(scheduler: TestScheduler) -> None:
    messages, _ = run(scheduler, [on_completed(300)], lambda s: s.pipe(filter_(bool), map_(str)))
    assert messages == [on_completed(300)]
    never = scheduler.start(lambda: rx.never().pipe(map_(str), take_(3)))
    assert never.messages == []


def test_upstream_error_passes_through(scheduler: TestScheduler) -> None:
    err = Boom("upstream")
    messages, _ = run(
        scheduler, [on_next(210, 1), on_error(220, err)], lambda s: s.pipe(map_(lambda n: n + 1))
    )
    assert messages == [on_next(210, 2), on_error(220, err)]
    assert not getattr(err, "__notes__", None)


@pytest.mark.parametrize("factory", [filter_, map_, tap_])
def test_raising_function_is_forwarded_unchanged_with_note(
    scheduler: TestScheduler, factory: Callable[..., Any]
) -> None:
    failing = raise_on(2)
    messages, subs = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)],
        lambda s: s.pipe(factory(failing, name="step")),
    )
    assert len(messages) == 2
    exc = messages[1].value.exception
    assert type(exc) is Boom
    assert exc.__notes__ == ["rxstreamz: raised in processor 'step' on item 2"]
    assert messages[1].time == 220
    assert subs == [subscribe(200, 220)], "upstream is disposed at the failure"


def test_default_names_appear_in_notes() -> None:
    for factory, label in ((filter_, "filter"), (map_, "map"), (tap_, "tap")):
        with pytest.raises(Boom) as info:
            collect(rx.of(2).pipe(factory(raise_on(2))))
        assert info.value.__notes__ == [f"rxstreamz: raised in processor {label!r} on item 2"]


def test_note_cuts_long_reprs() -> None:
    item = "x" * 500
    with pytest.raises(Boom) as info:
        collect(rx.of(item).pipe(map_(lambda _: (_ for _ in ()).throw(Boom()))))
    note = info.value.__notes__[0]
    assert note.endswith("...")
    assert len(note) == len("rxstreamz: raised in processor 'map' on item ") + 200


def test_skip_mode_drops_counts_and_dead_letters(scheduler: TestScheduler) -> None:
    letters: list[rz.DeadLetter[Any]] = []
    step = map_(raise_on(2), errors="skip", on_failure=letters.append, name="parse")
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)],
        lambda s: s.pipe(step),
    )
    assert messages == [on_next(210, 1), on_next(230, 3), on_completed(240)]
    assert step.stats() == rz.TransformStats(received=3, failed=1, dropped=0, emitted=2)
    [letter] = letters
    assert letter.item == 2
    assert type(letter.error) is Boom
    assert letter.attempts == 1
    assert letter.processor == "parse"
    assert letter.timestamp == datetime.fromtimestamp(220, UTC)


def test_skip_mode_without_sink_still_counts() -> None:
    step = filter_(raise_on(1), errors="skip")
    assert collect(rx.of(1, 2, 3).pipe(step)) == [2, 3]
    assert step.stats().failed == 1


def test_raise_mode_counts_failures_too() -> None:
    step = map_(raise_on(1))
    with pytest.raises(Boom):
        collect(rx.of(1).pipe(step))
    assert step.stats() == rz.TransformStats(received=1, failed=1, dropped=0, emitted=0)


def test_failing_on_failure_fails_the_stream() -> None:
    def sink(_letter: rz.DeadLetter[Any]) -> None:
        raise RuntimeError("sink down")

    with pytest.raises(RuntimeError, match="sink down") as info:
        collect(rx.of(1, 2).pipe(map_(raise_on(1), errors="skip", on_failure=sink)))
    assert info.value.__notes__ == ["rxstreamz: raised by on_failure of processor 'map'"]


def test_tap_skip_mode_does_not_emit_the_failed_item() -> None:
    assert collect(rx.of(1, 2, 3).pipe(tap_(raise_on(2), errors="skip"))) == [1, 3]


def test_predicate_result_whose_truth_test_raises_is_a_failing_predicate(
    scheduler: TestScheduler,
) -> None:
    step = filter_(ambiguous_on(2), name="check")
    messages, subs = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)],
        lambda s: s.pipe(step),
    )
    assert messages[0] == on_next(210, 1)
    assert len(messages) == 2
    assert messages[1].time == 220
    exc = messages[1].value.exception
    assert type(exc) is ValueError
    assert str(exc) == "the truth value is ambiguous"
    assert exc.__notes__ == ["rxstreamz: raised in processor 'check' on item 2"]
    assert subs == [subscribe(200, 220)]
    assert step.stats() == rz.FilterStats(received=2, failed=1, dropped=0, emitted=1, filtered=0)


def test_skip_mode_counts_a_predicate_result_whose_truth_test_raises(
    scheduler: TestScheduler,
) -> None:
    letters: list[rz.DeadLetter[Any]] = []
    step = filter_(ambiguous_on(2), errors="skip", on_failure=letters.append)
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)],
        lambda s: s.pipe(step),
    )
    assert messages == [on_next(210, 1), on_next(230, 3), on_completed(240)]
    assert step.stats() == rz.FilterStats(received=3, failed=1, dropped=0, emitted=2, filtered=0)
    [letter] = letters
    assert (letter.item, type(letter.error), letter.attempts) == (2, ValueError, 1)
    assert letter.processor == "filter"
    assert letter.timestamp == datetime.fromtimestamp(220, UTC)


def test_nothing_is_called_after_a_failure() -> None:
    calls: list[int] = []
    subject: rx.subject.Subject[int] = rx.subject.Subject()
    errors: list[Exception] = []
    subject.pipe(tap_(calls.append), map_(raise_on(2))).subscribe(on_error=errors.append)
    for n in (1, 2, 3, 4):
        subject.on_next(n)
    assert calls == [1, 2]
    assert len(errors) == 1


def test_dispose_mid_stream_stops_emission(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(400, 3), on_completed(500)],
        lambda s: s.pipe(map_(lambda n: n * 2)),
        disposed=300,
    )
    assert messages == [on_next(210, 2), on_next(220, 4)]
    assert subs == [subscribe(200, 300)]


# -- take_ / skip_ --------------------------------------------------------------------


def test_take_completes_at_once_and_disposes_upstream(scheduler: TestScheduler) -> None:
    messages, subs = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(900)],
        lambda s: s.pipe(take_(2)),
    )
    assert messages == [on_next(210, 1), on_next(220, 2), on_completed(220)]
    assert subs == [subscribe(200, 220)]


def test_take_zero_completes_without_subscribing(scheduler: TestScheduler) -> None:
    messages, subs = run(scheduler, [on_next(210, 1)], lambda s: s.pipe(map_(str), take_(0)))
    assert messages == [on_completed(200)]
    assert subs == []


def test_take_counts_items_that_later_stages_drop() -> None:
    # take_ counts its own input; the run completes after the 2nd item even
    # though the filter after it dropped that item.
    assert collect(rx.of(1, 2, 3, 4).pipe(take_(2), filter_(lambda n: n != 2))) == [1]


def test_take_with_short_source_completes_with_upstream(scheduler: TestScheduler) -> None:
    messages, _ = run(scheduler, [on_next(210, 1), on_completed(220)], lambda s: s.pipe(take_(5)))
    assert messages == [on_next(210, 1), on_completed(220)]


def test_skip(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)],
        lambda s: s.pipe(skip_(2)),
    )
    assert messages == [on_next(230, 3), on_completed(240)]
    assert collect(rx.of(1, 2).pipe(skip_(0))) == [1, 2]


def test_take_and_skip_state_is_per_subscription() -> None:
    pipeline = rx.of(1, 2, 3, 4, 5).pipe(skip_(1), take_(2))
    assert collect(pipeline) == [2, 3]
    assert collect(pipeline) == [2, 3]


def test_take_from_infinite_source_terminates() -> None:
    assert collect(rx.interval(0.001).pipe(take_(3)), timeout=5) == [0, 1, 2]


# -- sample_ --------------------------------------------------------------------------


def test_sample_is_reproducible_with_a_seed_and_counts() -> None:
    step = sample_(0.3, seed=42)
    first = collect(rx.range(1000).pipe(step))
    second = collect(rx.range(1000).pipe(step))
    assert first == second
    assert 200 < len(first) < 400
    assert step.stats() == rz.SampleStats(
        received=2000, failed=0, dropped=0, kept=2 * len(first), discarded=2 * (1000 - len(first))
    )


def test_sample_counts_exactly_under_concurrent_subscriptions(no_thread_leak: None) -> None:
    step = sample_(0.5, seed=1)
    per_run = len(collect(rx.range(20_000).pipe(step)))  # same seed: same draw every run
    start = threading.Barrier(4)
    stats_seen: list[rz.SampleStats] = []

    def sample_once() -> None:
        start.wait()
        collect(rx.range(20_000).pipe(step))
        stats_seen.append(step.stats())  # reads interleaved with other runs' counting

    threads = [threading.Thread(target=sample_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert step.stats() == rz.SampleStats(
        received=100_000, failed=0, dropped=0, kept=5 * per_run, discarded=5 * (20_000 - per_run)
    )
    assert step.stats() == step.stats()  # reading does not change the counts
    assert all(40_000 <= s.received == s.kept + s.discarded <= 100_000 for s in stats_seen)


def test_sample_extremes() -> None:
    assert collect(rx.range(50).pipe(sample_(1.0))) == list(range(50))
    none = sample_(0.0)
    assert collect(rx.range(50).pipe(none)) == []
    assert none.stats() == rz.SampleStats(received=50, failed=0, dropped=0, kept=0, discarded=50)


# -- chunk / unbatch / flatten ---------------------------------------------------------


def test_chunk_flushes_partial_on_completion(scheduler: TestScheduler) -> None:
    messages, _ = run(
        scheduler,
        [on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(240)],
        lambda s: s.pipe(chunk(2)),
    )
    assert messages == [on_next(220, [1, 2]), on_next(240, [3]), on_completed(240)]


def test_chunk_flushes_before_upstream_error(scheduler: TestScheduler) -> None:
    err = Boom("late")
    messages, _ = run(scheduler, [on_next(210, 1), on_error(220, err)], lambda s: s.pipe(chunk(5)))
    assert messages == [on_next(220, [1]), on_error(220, err)]


def test_chunk_empty_source_and_per_subscription_state() -> None:
    assert collect(rx.empty().pipe(chunk(3))) == []
    pipeline = rx.of(1, 2, 3).pipe(chunk(2))
    assert collect(pipeline) == collect(pipeline) == [[1, 2], [3]]


def test_unbatch_and_flatten() -> None:
    assert collect(rx.of([1, 2], [], (3,)).pipe(unbatch())) == [1, 2, 3]
    assert collect(rx.of("ab", [1]).pipe(flatten())) == ["a", "b", 1]


def test_unbatch_non_iterable_fails_with_note() -> None:
    source: Observable[Any] = rx.of([1], 5, [2])
    with pytest.raises(TypeError) as info:
        collect(source.pipe(flatten(name="explode")))
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'explode' on item 5"]


def test_unbatch_is_lazy_so_take_stops_an_endless_iterable() -> None:
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        for n in itertools.count():
            pulled += 1
            yield n

    assert collect(rx.of(endless()).pipe(unbatch(), take_(3)), timeout=5) == [0, 1, 2]
    assert pulled == 3


def test_unbatch_delivers_elements_before_a_failing_iteration() -> None:
    def broken() -> Iterator[int]:
        yield 1
        yield 2
        raise Boom("disk gone")

    items: list[int] = []
    errors: list[Exception] = []
    rx.of(broken(), [3]).pipe(unbatch()).subscribe(items.append, errors.append)
    assert items == [1, 2]
    assert type(errors[0]) is Boom
    assert (
        errors[0]
        .__notes__[0]
        .startswith("rxstreamz: raised in processor 'unbatch' on item <generator")
    )


def test_chunk_then_unbatch_round_trips() -> None:
    data = list(range(23))
    assert collect(rx.from_iterable(data).pipe(chunk(5), unbatch())) == data


# -- argument validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: filter_(3), TypeError, "predicate must be callable, got int"),  # pyright: ignore[reportArgumentType]
        (lambda: map_(None), TypeError, "fn must be callable, got NoneType"),  # pyright: ignore[reportArgumentType]
        (
            lambda: tap_(print, errors="ignore"),  # pyright: ignore[reportArgumentType]
            ValueError,
            "errors must be one of 'raise', 'skip', got 'ignore'",
        ),
        (lambda: tap_(print, on_failure=1), TypeError, "on_failure must be callable, got int"),  # pyright: ignore[reportArgumentType]
        (lambda: map_(str, name=""), ValueError, "name must not be empty"),
        (lambda: take_(-1), ValueError, "n must be >= 0, got -1"),
        (lambda: take_(True), TypeError, "n must be an int, got bool"),
        (lambda: skip_(1.5), TypeError, "n must be an int, got float"),  # pyright: ignore[reportArgumentType]
        (lambda: sample_(1.5), ValueError, "rate must be <= 1, got 1.5"),
        (lambda: sample_(-0.1), ValueError, "rate must be >= 0, got -0.1"),
        (lambda: sample_("half"), TypeError, "rate must be a number, got str"),  # pyright: ignore[reportArgumentType]
        (lambda: sample_(0.5, seed="x"), TypeError, "seed must be an int or None, got str"),  # pyright: ignore[reportArgumentType]
        (lambda: chunk(0), ValueError, "size must be >= 1, got 0"),
        (lambda: chunk(False), TypeError, "size must be an int, got bool"),
    ],
)
def test_invalid_arguments_raise_at_call_time(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_mixes_with_rxpy_operators() -> None:
    out = collect(
        rx.of(1, 1, 2, 3, 3, 4).pipe(
            filter_(lambda n: n > 1), ops.distinct_until_changed(), map_(lambda n: n * 10)
        )
    )
    assert out == [20, 30, 40]
