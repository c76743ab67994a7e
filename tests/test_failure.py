"""Failures.forward: the error policy applied and handed to the stream, uncounted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from reactivex.testing import TestScheduler

from rxstreamz._failure import Failures
from rxstreamz.records import DeadLetter
from tests.support import Boom, at


def test_raise_mode_hands_the_noted_exception_to_fail_without_reading_the_clock() -> None:
    failed: list[Exception] = []
    reads: list[int] = []

    def clock() -> datetime:
        reads.append(1)
        return at(0)

    exc = Boom("bad")
    Failures("parse", "raise", None).forward(exc, 7, clock, failed.append)
    assert failed == [exc]
    assert exc.__notes__ == ["rxstreamz: raised in processor 'parse' on item 7"]
    assert reads == []


@pytest.mark.parametrize("clock", ["scheduler", "function"])
def test_skip_mode_dead_letters_the_item_at_the_clocks_time(clock: str) -> None:
    scheduler = TestScheduler()
    scheduler.advance_to(42)
    letters: list[DeadLetter[Any]] = []
    failed: list[Exception] = []
    failures = Failures("parse", "skip", letters.append)
    exc = Boom("bad")
    failures.forward(exc, 7, scheduler if clock == "scheduler" else lambda: at(42), failed.append)
    assert failed == []
    assert letters == [DeadLetter(7, exc, 1, at(42), "parse")]
    assert failures.count == 0, "forward leaves the count to the caller's stats rows"


def test_a_raising_on_failure_is_handed_to_fail() -> None:
    def sink(_: DeadLetter[Any]) -> None:
        raise Boom("sink")

    failed: list[Exception] = []
    Failures("parse", "skip", sink).forward(Boom("bad"), 7, lambda: at(0), failed.append)
    [error] = failed
    assert str(error) == "sink"
    assert error.__notes__ == ["rxstreamz: raised by on_failure of processor 'parse'"]
