"""Fusion: consecutive stages run as one subscriber, invisibly."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any, Literal

import pytest
import reactivex as rx
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

import rxstreamz as rz
from rxstreamz import batch, collect, filter_, map_, sample_, skip_, take_, tap_
from rxstreamz._fusion import FusedObservable
from rxstreamz.batching._batch import Batch
from tests.strategies import Step, chains
from tests.support import Boom, ambiguous_on, arrivals, on_completed, on_error, on_next, subscribe
from tests.test_fusion_properties import End, apart, build, counted
from tests.test_fusion_properties import Step as StageStep
from tests.test_fusion_properties import chains as stage_chains


def counting_source(items: list[int]) -> tuple[Observable[int], list[int]]:
    """A synchronous source that counts its subscriptions."""
    subscriptions: list[int] = []

    def subscribe(
        observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        subscriptions.append(1)
        return rx.from_iterable(items).subscribe(observer, scheduler=scheduler)

    return Observable(subscribe), subscriptions


def test_a_run_of_stages_is_one_subscriber_over_the_upstream() -> None:
    source, subscriptions = counting_source([1, 2, 3, 4])
    pipeline = source.pipe(
        filter_(lambda n: n > 1), map_(lambda n: n * 2), tap_(lambda _: None), skip_(1)
    )
    assert isinstance(pipeline, FusedObservable)
    assert pipeline.upstream is source
    assert [stage.name for stage in pipeline.stages] == ["filter", "map", "tap", "skip"]
    assert subscriptions == []
    assert collect(pipeline) == [6, 8]
    assert subscriptions == [1]


def count_on_next_calls(pipeline: Observable[Any]) -> int:
    """Run ``pipeline`` and count every Python frame named ``on_next``."""
    calls = 0

    def profile(frame: types.FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "call" and frame.f_code.co_name == "on_next":
            calls += 1

    sys.setprofile(profile)
    try:
        pipeline.subscribe(lambda _: None)
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("stages", [1, 2, 6])
def test_on_next_calls_per_item_do_not_grow_with_stages(stages: int) -> None:
    items = list(range(100))
    ops_chain = [map_(lambda n: n) if i % 2 else filter_(lambda _: True) for i in range(stages)]
    fused = count_on_next_calls(rx.from_iterable(items).pipe(*ops_chain))
    bare = count_on_next_calls(rx.from_iterable(items))
    # The source calls the one fused on_next per item directly, and that
    # function inlines the subscriber's AutoDetachObserver.on_next (the one
    # call of the bare subscription): one call per item whatever the stages.
    assert bare == len(items)
    assert fused == len(items)
    native = [ops.map(lambda n: n) if i % 2 else ops.filter(lambda _: True) for i in range(stages)]
    rx_calls = count_on_next_calls(rx.from_iterable(items).pipe(*native))
    assert rx_calls - bare == 2 * stages * len(items)


def test_fusion_stops_at_a_foreign_operator() -> None:
    source = rx.of(1, 2, 3)
    pipeline = source.pipe(map_(lambda n: n + 1), ops.map(lambda n: n * 2), map_(str))
    assert isinstance(pipeline, FusedObservable)
    assert pipeline.upstream is not source
    assert len(pipeline.stages) == 1
    assert collect(pipeline) == ["4", "6", "8"]


def test_intermediate_observables_stay_independent() -> None:
    base = rx.of(1, 2, 3).pipe(map_(lambda n: n * 10))
    left = base.pipe(filter_(lambda n: n > 10))
    right = base.pipe(map_(str))
    assert collect(base) == [10, 20, 30]
    assert collect(left) == [20, 30]
    assert collect(right) == ["10", "20", "30"]


def test_failing_stage_is_named_in_a_fused_run() -> None:
    pipeline = rx.of(1, 2, 3).pipe(
        map_(lambda n: n, name="first"),
        map_(lambda n: 1 // (n - 2), name="second"),
        map_(lambda n: n, name="third"),
    )
    with pytest.raises(ZeroDivisionError) as info:
        collect(pipeline)
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'second' on item 2"]


def test_skip_mode_in_the_middle_of_a_run_lets_later_stages_continue() -> None:
    seen: list[int] = []
    pipeline = rx.of(1, 2, 3).pipe(
        map_(lambda n: 10 // (n - 2), errors="skip"), tap_(seen.append), take_(1)
    )
    assert collect(pipeline) == [-10]
    assert seen == [-10]


def test_a_filter_truth_test_that_raises_is_handled_by_its_own_stage() -> None:
    check = ambiguous_on(2)
    raising = rx.of(1, 2, 3).pipe(
        map_(lambda n: n, name="first"), filter_(check, name="check"), map_(lambda n: n * 10)
    )
    with pytest.raises(ValueError, match="the truth value is ambiguous") as info:
        collect(raising)
    assert info.value.__notes__ == ["rxstreamz: raised in processor 'check' on item 2"]

    seen: list[int] = []
    lenient = filter_(check, errors="skip", name="check")
    pipeline = rx.of(1, 2, 3).pipe(map_(lambda n: n), lenient, tap_(seen.append))
    assert collect(pipeline) == [1, 3]
    assert seen == [1, 3]
    assert lenient.stats().failed == 1


def test_take_in_a_run_disposes_upstream_at_once(scheduler: TestScheduler) -> None:
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 2), on_next(230, 3), on_completed(300)
    )
    result = scheduler.start(lambda: source.pipe(map_(lambda n: n * 2), take_(2), map_(str)))
    assert result.messages == [on_next(210, "2"), on_next(220, "4"), on_completed(220)]
    assert source.subscriptions == [subscribe(200, 220)]


def test_two_takes_in_one_run() -> None:
    assert collect(rx.range(10).pipe(take_(5), skip_(1), take_(2))) == [1, 2]
    assert collect(rx.range(10).pipe(take_(2), take_(5))) == [0, 1]


def test_synchronous_source_emitting_during_subscribe_is_stopped_after_error() -> None:
    calls: list[int] = []

    def eager(
        observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        for n in range(5):  # ignores disposal, like a careless custom source
            observer.on_next(n)
        observer.on_completed()
        return Disposable()

    errors: list[Exception] = []
    Observable(eager).pipe(tap_(calls.append), map_(lambda n: 1 // (n - 1))).subscribe(
        on_error=errors.append
    )
    assert calls == [0, 1]
    assert len(errors) == 1


def test_sample_fuses_and_keeps_its_own_random_stream_per_subscription() -> None:
    pipeline = rx.range(200).pipe(map_(lambda n: n), sample_(0.5, seed=3), map_(lambda n: n))
    assert isinstance(pipeline, FusedObservable)
    assert len(pipeline.stages) == 3
    assert collect(pipeline) == collect(pipeline)


def test_generated_code_shows_in_tracebacks() -> None:
    import traceback

    with pytest.raises(ZeroDivisionError) as info:
        collect(rx.of(0).pipe(map_(lambda n: 1 // n)))
    text = "".join(traceback.format_exception(info.value))
    assert "<rxstreamz fused map inline>" in text
    assert "x = f0(x)" in text


def rx_equivalent(step: Step) -> Callable[[Observable[Any]], Observable[Any]]:
    kind, arg = step
    if kind == "filter":
        return ops.filter(lambda n: n % arg != 0)
    if kind == "map":
        return ops.map(lambda n: n * arg - 1)
    if kind == "take":
        return ops.take(arg)
    return ops.skip(arg)


def ours(step: Step) -> Callable[[Observable[Any]], Observable[Any]]:
    kind, arg = step
    if kind == "filter":
        return filter_(lambda n: n % arg != 0)
    if kind == "map":
        return map_(lambda n: n * arg - 1)
    if kind == "take":
        return take_(arg)
    return skip_(arg)


def materialize(observable: Observable[Any]) -> tuple[list[Any], str | None]:
    items: list[Any] = []
    errors: list[Exception] = []
    observable.subscribe(items.append, errors.append)
    return items, (type(errors[0]).__name__ if errors else None)


@given(data=st.lists(st.integers(-50, 50), max_size=40), steps=chains())
def test_fused_chain_equals_the_rxpy_chain(data: list[int], steps: list[Step]) -> None:
    fused: Observable[Any] = rx.from_iterable(data)
    native: Observable[Any] = rx.from_iterable(data)
    for step in steps:
        fused = ours(step)(fused)
        native = rx_equivalent(step)(native)
    assert materialize(fused) == materialize(native)


@given(data=st.lists(st.integers(-5, 5), max_size=30), bad=st.integers(-5, 5))
def test_fused_errors_equal_the_rxpy_chain(data: list[int], bad: int) -> None:
    def check(n: int) -> int:
        if n == bad:
            raise Boom(n)
        return n

    fused = rx.from_iterable(data).pipe(map_(lambda n: n + 1), map_(check), filter_(bool))
    native = rx.from_iterable(data).pipe(ops.map(lambda n: n + 1), ops.map(check), ops.filter(bool))
    assert materialize(fused) == materialize(native)


def run_with_feedback(
    operator: Callable[[Observable[int]], Observable[Any]], items: list[int]
) -> list[object]:
    """Push ``items`` into a subject; the subscriber pushes up to 5 items back into it."""
    subject: Subject[int] = Subject()
    log: list[object] = []
    pushes = 0

    def on_item(n: int) -> None:
        nonlocal pushes
        log.append(n)
        if pushes < 5:
            pushes += 1
            subject.on_next(n + 100)  # re-entrant: arrives while on_next is running

    subject.pipe(operator).subscribe(
        on_item, lambda e: log.append(repr(e)), lambda: log.append("|")
    )
    for n in items:
        subject.on_next(n)
    return log


def test_take_ignores_an_item_pushed_back_during_its_last_emission() -> None:
    seen: list[int] = []
    assert run_with_feedback(take_(1), [1, 2]) == [1, "|"]
    assert run_with_feedback(take_(1), [1, 2]) == run_with_feedback(ops.take(1), [1, 2])
    # Mid-chain: the stage before take_ still sees the pushed-back item, as in RxPY.
    assert run_with_feedback(rx.compose(tap_(seen.append), take_(1)), [1, 2]) == [1, "|"]
    assert seen == [1, 101]
    assert run_with_feedback(take_(3), [1]) == [1, 101, 201, "|"]


@given(data=st.lists(st.integers(0, 50), max_size=20), steps=chains())
def test_fused_chain_equals_the_rxpy_chain_under_reentrancy(
    data: list[int], steps: list[Step]
) -> None:
    assert run_with_feedback(rx.compose(*map(ours, steps)), data) == run_with_feedback(
        rx.compose(*map(rx_equivalent, steps)), data
    )


def test_a_long_run_of_takes_still_compiles() -> None:
    pipeline = rx.range(100)
    for n in range(40, 10, -1):  # 30 takes: more nesting than Python's 20 blocks
        pipeline = pipeline.pipe(take_(n))
    assert collect(pipeline) == list(range(11))
    assert collect(pipeline.pipe(map_(str), take_(3))) == ["0", "1", "2"]


# -- subscribing upstream ---------------------------------------------------------------


def test_an_error_raised_while_subscribing_upstream_reaches_on_error() -> None:
    def broken(
        observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        raise Boom("cannot connect")

    items: list[int] = []
    errors: list[Exception] = []
    Observable(broken).pipe(map_(lambda n: n)).subscribe(items.append, errors.append)
    assert items == []
    assert [str(e) for e in errors] == ["cannot connect"]
    native: list[Exception] = []
    Observable(broken).pipe(ops.map(lambda n: n)).subscribe(items.append, native.append)
    assert [type(e) for e in native] == [Boom]


def test_a_subscribe_function_returning_a_callable_is_disposed_at_the_end() -> None:
    released: list[str] = []

    def source(observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None) -> Any:
        observer.on_next(1)
        observer.on_next(2)
        return lambda: released.append("released")

    subject_items: list[int] = []
    subscription = Observable(source).pipe(map_(lambda n: n * 2)).subscribe(subject_items.append)
    assert subject_items == [2, 4]
    assert released == []
    subscription.dispose()
    assert released == ["released"]


def test_an_upstream_that_overrides_subscribe_is_subscribed_through_it() -> None:
    calls: list[str] = []

    class Logged(Observable[int]):
        def subscribe(
            self,
            on_next: Any = None,
            on_error: Any = None,
            on_completed: Any = None,
            *,
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            calls.append("subscribe")
            return super().subscribe(on_next, on_error, on_completed, scheduler=scheduler)

    class Child(Logged):
        pass

    source = Child(lambda observer, _=None: rx.of(1, 2).subscribe(observer))
    assert collect(source.pipe(map_(lambda n: n + 1))) == [2, 3]
    assert calls == ["subscribe"]


def test_items_after_a_failure_in_an_eager_source_are_counted_as_dropped() -> None:
    def eager(
        observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        for n in range(5):  # ignores disposal and the error it caused
            observer.on_next(n)
        return Disposable()

    step: rz.Operator[int, Observable[int], rz.TransformStats] = map_(lambda n: 1 // (n - 1))
    Observable(eager).pipe(step).subscribe(on_error=lambda _: None)
    stats = step.stats()
    assert (stats.received, stats.failed, stats.dropped, stats.emitted) == (5, 1, 3, 1)


def test_nothing_reaches_a_subscriber_that_disposed_while_the_item_was_in_the_run() -> None:
    def run_with(stop_on_two: Callable[..., Any], then: Callable[..., Any]) -> list[int]:
        subject: Subject[int] = Subject()
        got: list[int] = []
        subscription: list[abc.DisposableBase] = []

        def dispose_on_2(n: int) -> None:
            if n == 2:
                subscription[0].dispose()

        pipeline = subject.pipe(stop_on_two(dispose_on_2), then(lambda n: n * 10))
        subscription.append(pipeline.subscribe(got.append))
        for n in (1, 2, 3):
            subject.on_next(n)
        return got

    assert run_with(tap_, map_) == [10]
    assert run_with(ops.do_action, ops.map) == [10]


def test_a_run_subscribed_by_another_run_emits_to_it_directly() -> None:
    first = rx.range(10).pipe(*[take_(9) for _ in range(16)])  # a full run
    second = first.pipe(take_(5), map_(str))  # cannot join it: a run of its own
    assert isinstance(second, FusedObservable)
    assert second.upstream is first
    assert collect(second) == ["0", "1", "2", "3", "4"]


def test_the_failing_stage_is_found_even_for_an_exception_raised_before() -> None:
    stored = Boom("again")

    def reraise(n: int) -> int:
        if n == 3:
            raise stored  # carries the traceback of its earlier raise
        return n

    with pytest.raises(Boom):
        collect(rx.of(3).pipe(map_(reraise)))  # the first raise, elsewhere
    stored.__notes__ = []
    letters: list[str] = []
    pipeline = rx.of(1, 3).pipe(
        map_(lambda n: n, name="first"),
        filter_(lambda _: True, name="second"),
        map_(
            reraise, name="third", errors="skip", on_failure=lambda d: letters.append(d.processor)
        ),
        map_(lambda n: n * 10, name="fourth"),
    )
    assert collect(pipeline) == [10]
    assert letters == ["third"]


# -- batch in a fused run -------------------------------------------------------------------


def test_batch_after_a_run_of_stages_joins_it_and_so_do_the_stages_after_it() -> None:
    source = rx.range(1, 8)
    grouped = batch(3, max_latency=60)
    pipeline = source.pipe(filter_(lambda n: n % 2), map_(lambda n: n * 10), grouped, map_(sum))
    assert isinstance(pipeline, FusedObservable)
    assert pipeline.upstream is source
    assert [stage.name for stage in pipeline.stages] == ["filter", "map", "batch", "map"]
    assert collect(pipeline) == [90, 70]
    assert grouped.stats() == rz.BatchStats(
        received=4, failed=0, dropped=0, emitted=4, batches=2, held=0
    )
    # One call per item for the whole run, the inlined AutoDetachObserver included.
    items = list(range(100))
    sized = rx.from_iterable(items).pipe(map_(lambda n: n), batch(10), map_(len))
    assert count_on_next_calls(sized) == len(items)


def test_batch_alone_or_after_another_timed_batch_subscribes_on_its_own() -> None:
    alone = rx.of(1, 2, 3).pipe(batch(2, max_latency=5))
    assert not isinstance(alone, FusedObservable)
    twice = rx.of(1, 2, 3).pipe(map_(lambda n: n), batch(2, max_latency=5), batch(1, max_latency=5))
    assert isinstance(twice, FusedObservable)
    assert [stage.name for stage in twice.stages] == ["batch"]  # a run of its own
    assert collect(twice) == [[[1, 2]], [[3]]]


BatchStep = tuple[Literal["batch"], int, int | None]
"""``batch(max_size, max_latency=...)`` in a chain of ``tests.test_fusion_properties`` steps."""


@st.composite
def chains_with_batches(draw: st.DrawFn) -> list[StageStep | BatchStep]:
    """Up to four fusable stages, then a timed ``batch`` after one of them, maybe a second."""
    steps: list[StageStep | BatchStep] = list(draw(stage_chains())[: draw(st.integers(1, 4))])
    latency = draw(st.integers(1, 20))
    steps.insert(draw(st.integers(1, len(steps))), ("batch", draw(st.integers(1, 4)), latency))
    if draw(st.booleans()):  # a second one: sized only, or timed (it starts a run of its own)
        latency_or_none = draw(st.none() | st.integers(1, 20))
        at = draw(st.integers(0, len(steps)))
        steps.insert(at, ("batch", draw(st.integers(1, 4)), latency_or_none))
    return steps


def made(step: StageStep | BatchStep, mode: Literal["raise", "skip"]) -> Any:
    if step[0] == "batch":
        return batch(step[1], max_latency=step[2])
    return build(step, mode)


def figures(operator: Any) -> object:
    return operator.stats() if isinstance(operator, Batch) else counted(operator)


def in_virtual_time(
    operators: list[Callable[[Observable[Any]], Observable[Any]]],
    times: list[int],
    end: End,
    end_at: int,
) -> list[tuple[object, ...]]:
    """Run item ``n`` at ``times[n]`` through ``operators``; every message, errors with notes."""
    scheduler = TestScheduler()
    messages = [on_next(t, n) for n, t in enumerate(times) if t < end_at]
    if end == "complete":
        messages.append(on_completed(end_at))
    elif end == "error":
        messages.append(on_error(end_at, Boom("upstream")))
    source = scheduler.create_hot_observable(messages)
    disposed = end_at if end == "dispose" else 10_000
    observer = scheduler.start(lambda: rx.compose(*operators)(source), disposed=disposed)
    seen: list[tuple[object, ...]] = []
    for message in observer.messages:
        note: Any = message.value
        if note.kind == "E":
            exc = note.exception
            seen.append((message.time, type(exc).__name__, getattr(exc, "__notes__", [])))
        else:
            seen.append((message.time, note.kind, note.value if note.kind == "N" else None))
    return seen


@settings(max_examples=200)
@given(
    gaps=st.lists(st.integers(0, 12), max_size=40),
    steps=chains_with_batches(),
    mode=st.sampled_from(["raise", "skip"]),
    end=st.sampled_from(["complete", "error", "dispose"]),
    end_at=st.integers(201, 400),
)
def test_a_fused_chain_with_batch_equals_its_stages_one_by_one_in_virtual_time(
    gaps: list[int],
    steps: list[StageStep | BatchStep],
    mode: Literal["raise", "skip"],
    end: End,
    end_at: int,
) -> None:
    times = arrivals(gaps)
    fused = [made(step, mode) for step in steps]
    single = [made(step, mode) for step in steps]
    assert in_virtual_time(fused, times, end, end_at) == in_virtual_time(
        [apart(s) for s in single], times, end, end_at
    )
    assert list(map(figures, fused)) == list(map(figures, single))
