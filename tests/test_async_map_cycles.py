"""async_map in feedback cycles through buffer_: a BackpressureError, never a hang.

The sink feeds the pipeline's own source, so each stage's thread ends up
waiting for room in a queue that only the other stage's thread drains. The
queues' cycle rule sees it (async_map's emitter is the consumer of its gate
while it hands results on), and whichever thread would close the cycle
fails instead of blocking. Every run happens on a driver thread joined with
a timeout, so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from reactivex import Observable, Subject

from rxstreamz import AsyncMapStats, BackpressureError, Operator, async_map, buffer_

TIMEOUT = 10.0  # seconds any single wait may take before the test fails
FEEDBACK = 20  # items the sink feeds back: far more than the two queues hold

CYCLE = re.compile(
    r"processor '(map|buf)': queue full \(capacity [12]\); blocking would deadlock: a "
    r"feedback cycle through queueing stages \(this thread would wait for '(map|buf)', "
    r"drained by a thread waiting for '(map|buf)', drained by this thread\)"
)


class Run:
    """The outcome of one feedback run: what the sink got, and how it ended."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self.error: Exception | None = None
        self.completed = False
        self.done = threading.Event()


def identity(n: int) -> int:
    return n


def run_with_feedback(build: Callable[[Subject[int]], Observable[object]]) -> Run:
    """Subscribe ``build(source)``; on item 0 the sink feeds ``FEEDBACK`` items back to source."""
    source: Subject[int] = Subject()
    run = Run()

    def on_next(value: object) -> None:
        run.items.append(value)
        if value == 0:  # on the last stage's thread: feed the source
            for i in range(1, FEEDBACK + 1):
                source.on_next(i)

    def on_error(error: Exception) -> None:
        run.error = error
        run.done.set()

    def on_completed() -> None:
        run.completed = True
        run.done.set()

    def drive() -> None:
        build(source).subscribe(on_next, on_error, on_completed)
        source.on_next(0)
        run.done.wait(TIMEOUT)

    driver = threading.Thread(target=drive, name="feedback-driver", daemon=True)
    driver.start()
    driver.join(TIMEOUT)
    assert not driver.is_alive(), "the feedback cycle hung"
    assert run.done.is_set(), "the pipeline did not end"
    return run


def assert_cycle_error(run: Run) -> None:
    assert isinstance(run.error, BackpressureError)
    assert CYCLE.match(str(run.error)), str(run.error)
    assert not run.completed


def assert_settled(stats: AsyncMapStats) -> None:
    assert stats.in_flight == 0
    assert stats.received == stats.completed + stats.failed + stats.dropped


@pytest.mark.usefixtures("no_thread_leak")
def test_async_map_into_a_buffer_feeding_back_fails_instead_of_hanging() -> None:
    mapped: Operator[int, Observable[int], AsyncMapStats] = async_map(
        identity, workers=1, max_pending=1, name="map"
    )

    def build(source: Subject[int]) -> Observable[object]:
        return source.pipe(mapped, buffer_(1, name="buf"))

    run = run_with_feedback(build)
    assert_cycle_error(run)
    assert run.items[:2] == [0, 1]
    assert run.items == list(range(len(run.items)))  # in order, nothing lost before the end
    assert_settled(mapped.stats())


@pytest.mark.usefixtures("no_thread_leak")
def test_a_buffer_into_async_map_feeding_back_fails_instead_of_hanging() -> None:
    mapped: Operator[int, Observable[int], AsyncMapStats] = async_map(
        identity, workers=1, max_pending=1, name="map"
    )

    def build(source: Subject[int]) -> Observable[object]:
        return source.pipe(buffer_(1, name="buf"), mapped)

    run = run_with_feedback(build)
    assert_cycle_error(run)
    assert run.items[:1] == [0]
    assert run.items == list(range(len(run.items)))
    assert_settled(mapped.stats())


@pytest.mark.usefixtures("no_thread_leak")
def test_feedback_that_fits_completes() -> None:
    """The rule only refuses what would hang: feedback within capacity flows through."""
    mapped: Operator[int, Observable[int], AsyncMapStats] = async_map(
        identity, workers=1, max_pending=1, name="map"
    )
    source: Subject[int] = Subject()
    items: list[object] = []
    done = threading.Event()

    def on_next(value: object) -> None:
        items.append(value)
        if value == 0:
            source.on_next(1)  # one item: the buffer has room for it
        elif value == 1:
            source.on_completed()

    def drive() -> None:
        source.pipe(mapped, buffer_(4, name="buf")).subscribe(
            on_next, lambda _: done.set(), done.set
        )
        source.on_next(0)
        done.wait(TIMEOUT)

    driver = threading.Thread(target=drive, name="feedback-driver", daemon=True)
    driver.start()
    driver.join(TIMEOUT)
    assert not driver.is_alive()
    assert items == [0, 1]
    assert_settled(mapped.stats())
