"""Fusion is invisible: a fused chain behaves as the same stages subscribed one by one.

The chains mix every fusable stage, ``chunk`` and ``unbatch`` included, with
failing user functions in both error modes; the comparison covers the items,
the terminal event and every stage's ``stats()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from hypothesis import given
from hypothesis import strategies as st
from reactivex import Observable, abc
from reactivex.subject import Subject

from rxstreamz import chunk, filter_, map_, sample_, skip_, take_, tap_, unbatch
from rxstreamz._fusion import FusedObservable, Stage

StepKind = Literal["filter", "map", "tap", "take", "skip", "sample", "chunk", "unbatch", "boom"]
Step = tuple[StepKind, int]
End = Literal["complete", "error", "dispose"]


class Boom(Exception):
    pass


def size(x: Any) -> int:
    """An int's value, a list's summed size (so every stage works at any nesting)."""
    return sum(size(v) for v in x) if isinstance(x, list) else x


def scaled(k: int) -> Callable[[Any], Any]:
    def scale(x: Any) -> Any:
        return [scale(v) for v in x] if isinstance(x, list) else x * k - 1

    return scale


def build(step: Step, mode: Literal["raise", "skip"]) -> Any:
    kind, arg = step
    if kind == "filter":
        return filter_(lambda x: size(x) % arg != 0)
    if kind == "map":
        return map_(scaled(arg))
    if kind == "tap":
        return tap_(lambda _: None)
    if kind == "take":
        return take_(arg)
    if kind == "skip":
        return skip_(arg)
    if kind == "sample":
        return sample_(0.5, seed=arg)
    if kind == "chunk":
        return chunk(arg)
    if kind == "unbatch":
        return unbatch()

    def boom(x: Any) -> Any:
        if size(x) % 5 == arg:
            raise Boom(x)
        return x

    return map_(boom, errors=mode)


@st.composite
def chains(draw: st.DrawFn) -> list[Step]:
    """Random chains where ``unbatch`` only follows a ``chunk`` (items stay iterable)."""
    steps: list[Step] = []
    open_chunks = 0
    for _ in range(draw(st.integers(1, 7))):
        choices: list[StepKind] = [
            "filter",
            "map",
            "tap",
            "take",
            "skip",
            "sample",
            "chunk",
            "boom",
        ]
        if open_chunks:
            choices.append("unbatch")
        kind = draw(st.sampled_from(choices))
        if kind == "chunk":
            open_chunks += 1
            steps.append((kind, draw(st.integers(1, 4))))
        elif kind == "unbatch":
            open_chunks -= 1
            steps.append((kind, 0))
        elif kind in ("take", "skip"):
            steps.append((kind, draw(st.integers(0, 8))))
        else:
            steps.append((kind, draw(st.integers(2, 5))))
    return steps


def apart(stage: Stage[Any, Any]) -> Callable[[Observable[Any]], Observable[Any]]:
    """Apply ``stage`` to a plain observable, so that it starts a run of its own."""

    def apply(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return source.subscribe(observer, scheduler=scheduler)

        return stage(Observable(subscribe))

    return apply


def counted(stage: Stage[Any, Any]) -> dict[str, int]:
    """The stage's non-zero counters (a stage never subscribed has none)."""
    return {field: value for field, value in stage.figures().items() if value}


def run(
    operators: list[Callable[[Observable[Any]], Observable[Any]]],
    items: list[int],
    end: End,
    end_at: int,
) -> list[object]:
    subject: Subject[int] = Subject()
    log: list[object] = []
    pipeline: Observable[Any] = subject
    for operator in operators:
        pipeline = operator(pipeline)
    subscription = pipeline.subscribe(
        log.append, lambda e: log.append(("error", type(e).__name__)), lambda: log.append("|")
    )
    for item in items[:end_at]:
        subject.on_next(item)
    if end == "complete":
        subject.on_completed()
    elif end == "error":
        subject.on_error(Boom("upstream"))
    else:
        subscription.dispose()
    return log


@given(
    items=st.lists(st.integers(0, 30), max_size=25),
    steps=chains(),
    mode=st.sampled_from(["raise", "skip"]),
    end=st.sampled_from(["complete", "error", "dispose"]),
    end_at=st.integers(0, 25),
)
def test_a_fused_chain_equals_its_stages_one_by_one(
    items: list[int],
    steps: list[Step],
    mode: Literal["raise", "skip"],
    end: End,
    end_at: int,
) -> None:
    fused = [build(step, mode) for step in steps]
    single = [build(step, mode) for step in steps]
    fused_pipeline: Observable[Any] = Subject()
    for stage in fused:
        fused_pipeline = stage(fused_pipeline)
    assert isinstance(fused_pipeline, FusedObservable)
    assert len(fused_pipeline.stages) == len(steps)
    assert run(list(fused), items, end, end_at) == run(
        [apart(s) for s in single], items, end, end_at
    )
    assert list(map(counted, fused)) == list(map(counted, single))


def test_chunk_in_a_run_flushes_into_the_stages_after_it() -> None:
    total = map_(sum)
    operators: list[Callable[[Observable[Any]], Observable[Any]]] = [
        filter_(lambda n: n % 3 != 0),
        map_(lambda n: n * 2),
        chunk(4),
        total,
    ]
    assert run(operators, list(range(20)), "complete", 20) == [24, 72, 120, 38, "|"]
    assert run(operators, list(range(20)), "error", 20)[-2:] == [38, ("error", "Boom")]
    assert run(operators, list(range(20)), "dispose", 20) == [24, 72, 120]


def test_a_take_after_a_chunk_ends_the_flush_it_receives() -> None:
    operators: list[Callable[[Observable[Any]], Observable[Any]]] = [
        chunk(3),
        unbatch(),
        chunk(2),
        take_(4),
        chunk(2),
    ]
    # Upstream completes while the first chunk holds [6]; its flush reaches
    # take_ as a 4th list, the last: take_ ends the run from within the flush
    # and the chunk after it emits [[4, 5], [6]] before the completion.
    assert run(operators, list(range(7)), "complete", 7) == [[[0, 1], [2, 3]], [[4, 5], [6]], "|"]
