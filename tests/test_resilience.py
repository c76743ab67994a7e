"""What retry_, dead_letter and circuit_breaker share: streams without items, a full queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from reactivex import Observable
from reactivex.testing import TestScheduler

from rxstreamz import BackpressureError, circuit_breaker, dead_letter, retry_
from tests.support import Feedback, on_completed

OPERATORS: dict[str, Callable[[], Callable[[Observable[int]], Observable[Any]]]] = {
    "retry_": lambda: retry_(lambda n: n, jitter=False),
    "dead_letter": lambda: dead_letter(lambda n: n, sink=lambda _: None),
    "circuit_breaker": lambda: circuit_breaker(lambda n: n),
}


@pytest.mark.parametrize("make", OPERATORS.values(), ids=OPERATORS.keys())
def test_empty_source_completes(
    scheduler: TestScheduler, make: Callable[[], Callable[[Observable[int]], Observable[Any]]]
) -> None:
    source: Observable[int] = scheduler.create_hot_observable(on_completed(250))
    op = make()
    assert scheduler.start(lambda: source.pipe(op)).messages == [on_completed(250)]


@pytest.mark.parametrize("make", OPERATORS.values(), ids=OPERATORS.keys())
def test_never_ending_source_emits_nothing(
    scheduler: TestScheduler, make: Callable[[], Callable[[Observable[int]], Observable[Any]]]
) -> None:
    source: Observable[int] = scheduler.create_hot_observable()
    op = make()
    assert scheduler.start(lambda: source.pipe(op)).messages == []


QUEUED: dict[str, Callable[[], Callable[[Observable[int]], Observable[int]]]] = {
    "retry": lambda: retry_(lambda n: n, max_pending=1),
    "dead_letter": lambda: dead_letter(lambda n: n, sink=lambda _: None, max_pending=1),
}


@pytest.mark.usefixtures("no_thread_leak")
@pytest.mark.parametrize(("name", "make"), QUEUED.items(), ids=QUEUED.keys())
def test_feedback_from_downstream_into_a_full_queue_fails_instead_of_blocking(
    name: str, make: Callable[[], Callable[[Observable[int]], Observable[int]]]
) -> None:
    run = Feedback(make())
    assert run.send_first(), "the producer blocked forever on its own queue"
    assert run.done.wait(5)
    assert run.items == [0, 1]  # what was queued before the overflow, then the error
    [error] = run.errors
    assert isinstance(error, BackpressureError)
    assert (error.processor, error.capacity) == (name, 1)
