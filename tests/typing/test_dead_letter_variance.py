"""Static proof (pyright and mypy strict) that ``DeadLetter`` is covariant; also run by pytest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import assert_type

import reactivex as rx

from rxstreamz import DeadLetter, circuit_breaker, collect, dead_letter, retry_


def test_one_sink_of_dead_letter_of_object_takes_letters_of_ints_and_strs() -> None:
    letters: list[DeadLetter[object]] = []

    def parse(text: str) -> int:
        return int(text)

    def half(n: int) -> int:
        if n % 2:
            raise ValueError(n)
        return n // 2

    # A sink typed for DeadLetter[object] is a Sink[str] and an OnFailure alike.
    parsed = collect(rx.of("1", "x").pipe(dead_letter(parse, sink=letters.append)))
    halved = collect(
        rx.of(2, 3).pipe(retry_(half, max_attempts=1, errors="skip", on_failure=letters.append))
    )
    guarded = collect(
        rx.of(4, 5).pipe(circuit_breaker(half, errors="skip", on_failure=letters.append))
    )
    assert (parsed, halved, guarded) == ([1], [1], [2])
    assert [letter.item for letter in letters] == ["x", 3, 5]


def test_a_dead_letter_of_int_is_a_dead_letter_of_object() -> None:
    letter = DeadLetter(7, ValueError("no"), 1, datetime(2026, 1, 1, tzinfo=UTC), "parse")
    assert_type(letter, DeadLetter[int])
    assert_type(letter.item, int)
    wider: DeadLetter[object] = letter
    kept: list[DeadLetter[object]] = [letter]
    assert kept == [wider]
