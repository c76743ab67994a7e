"""progress(): a tqdm bar per subscription, closed on every way out."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

pytest.importorskip("tqdm")

import reactivex as rx
from reactivex.subject import Subject

from rxstreamz import ProgressStats, chunk, collect, progress
from tests.support import rejected_at_call_time


def test_bar_reaches_the_total() -> None:
    out = io.StringIO()
    assert collect(rx.range(5).pipe(progress(total=5, desc="rows", file=out))) == list(range(5))
    text = out.getvalue()
    assert "rows" in text
    assert "5/5" in text
    assert "100%" in text


def test_batches_count_as_one_step_or_by_their_elements() -> None:
    per_batch, per_element = io.StringIO(), io.StringIO()
    collect(rx.range(10).pipe(chunk(4), progress(file=per_batch)))
    collect(rx.range(10).pipe(chunk(4), progress(count_elements=True, file=per_element)))
    assert "\r3item " in per_batch.getvalue()
    assert "\r10item " in per_element.getvalue()


def test_bar_closes_on_error_and_on_dispose() -> None:
    out = io.StringIO()
    failing = rx.concat(rx.of(1, 2), rx.throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        collect(failing.pipe(progress(file=out)))
    assert out.getvalue().endswith("\n"), "a closed bar ends its line"

    disposed = io.StringIO()
    subject: Subject[int] = Subject()
    subscription = subject.pipe(progress(file=disposed, leave=True)).subscribe()
    subject.on_next(1)
    subscription.dispose()
    assert disposed.getvalue().endswith("\n")
    subject.on_next(2)  # after dispose: no update, no error


def test_thread_safe_updates(no_thread_leak: None) -> None:
    out = io.StringIO()
    subject: Subject[int] = Subject()
    seen: list[int] = []
    lock = threading.Lock()

    def record(n: int) -> None:
        with lock:
            seen.append(n)

    subscription = subject.pipe(progress(total=4000, file=out)).subscribe(record)

    def push(base: int) -> None:
        for i in range(1000):
            subject.on_next(base + i)

    workers = [threading.Thread(target=push, args=(b,)) for b in range(0, 4000, 1000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    subject.on_completed()
    subscription.dispose()
    assert sorted(seen) == list(range(4000))
    assert "4000/4000" in out.getvalue()


untyped_progress: Any = progress  # to pass wrongly typed arguments on purpose

test_invalid_arguments = rejected_at_call_time(
    (lambda: progress(total=-1), ValueError, "total must be >= 0, got -1"),
    (lambda: untyped_progress(total=2.5), TypeError, "total must be an int, got float"),
    (lambda: untyped_progress(desc=3), TypeError, "desc must be a str or None, got int"),
    (
        lambda: untyped_progress(count_elements=1),
        TypeError,
        "count_elements must be a bool, got int",
    ),
    (lambda: untyped_progress(leave="yes"), TypeError, "leave must be a bool, got str"),
    (lambda: untyped_progress(file=3), TypeError, r"file must have a write\(\) method, got int"),
)


def test_stats_count_every_subscription_live_and_finished() -> None:
    bar = progress(file=io.StringIO())
    assert bar.stats() == ProgressStats(received=0, failed=0, dropped=0, emitted=0)
    assert collect(rx.range(3).pipe(chunk(2), bar)) == [[0, 1], [2]]
    subject: Subject[int] = Subject()
    seen: list[int] = []
    subscription = subject.pipe(bar).subscribe(seen.append)
    subject.on_next(10)
    assert bar.stats() == ProgressStats(received=3, failed=0, dropped=0, emitted=3)
    subscription.dispose()
    subject.on_next(11)  # after dispose: no longer counted
    assert seen == [10]
    assert bar.stats() == ProgressStats(received=3, failed=0, dropped=0, emitted=3)


def test_stats_count_the_items_before_an_error() -> None:
    bar = progress(file=io.StringIO())
    with pytest.raises(RuntimeError):
        collect(rx.concat(rx.of(1, 2), rx.throw(RuntimeError("x"))).pipe(bar))
    stats = bar.stats()
    assert stats == ProgressStats(received=2, failed=0, dropped=0, emitted=2)
    assert stats.received == stats.emitted + stats.failed + stats.dropped
