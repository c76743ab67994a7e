"""Argument bounds of every public factory: the exact exception at the call.

Durations are bounded by what a scheduler can wait for (``threading.TIMEOUT_MAX``
seconds, and the ``timedelta`` range), sizes must be integers (a numpy-like
scalar with ``__index__`` counts, a bool never does), rates and thresholds
finite numbers in range. A value out of bounds is refused on the user's line,
never later at ``pipe()``, at subscription or inside a timer thread.
"""

from __future__ import annotations

import math
import numbers
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from fractions import Fraction
from typing import Any, cast

import pytest
import reactivex as rx
from reactivex.scheduler import TimeoutScheduler
from reactivex.subject import Subject
from reactivex.testing import ReactiveTest, TestScheduler

import rxstreamz as rz
from rxstreamz import _validate

MAX = threading.TIMEOUT_MAX
TOO_LONG = 1e10  # beyond threading.TIMEOUT_MAX, within the timedelta range
_MICROSECOND = timedelta(microseconds=1)
HUGE = 10**400  # beyond float range
HUGE_SHOWN = "an int of 1329 bits"
NEGATIVE_HUGE_SHOWN = "a negative int of 1329 bits"


def _same(value: object) -> object:
    return value


def untyped(value: object) -> Any:
    """``value`` where the annotations promise less than the factories accept."""
    return value


class IntScalar:
    """An integer scalar that is not an ``int`` (as ``numpy.int64``)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"IntScalar({self.value})"


class bool_:  # named like numpy's bool scalar on purpose
    """A bool scalar that is not a ``bool`` (as ``numpy.bool_``), with ``__index__``."""

    def __index__(self) -> int:
        return 1


class FloatScalar:
    """A real scalar that is not a ``float`` (as ``numpy.float32``)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"FloatScalar({self.value})"


numbers.Real.register(FloatScalar)
numbers.Integral.register(IntScalar)  # as numpy registers its integer types

# --------------------------------------------------------------------------- durations

Build = Callable[[Any], object]

# (label, build(value), parameter, zero allowed, at least one microsecond)
DURATIONS: list[tuple[str, Build, str, bool, bool]] = [
    ("batch", lambda v: rz.batch(10, max_latency=v), "max_latency", False, True),
    ("debounce_", lambda v: rz.debounce_(v), "duration", False, True),
    ("dedupe", lambda v: rz.dedupe(ttl=v), "ttl", False, True),
    ("tumbling_window", lambda v: rz.tumbling_window(v), "size", False, True),
    ("sliding_window.size", lambda v: rz.sliding_window(v, _MICROSECOND), "size", False, True),
    ("sliding_window.slide", lambda v: rz.sliding_window(MAX, v), "slide", False, True),
    ("session_window", lambda v: rz.session_window(v), "gap", False, True),
    ("aggregate", lambda v: rz.aggregate(_add, 0, interval=v), "interval", False, True),
    ("monitor", lambda v: rz.monitor(v, _same), "interval", False, True),
    ("retry_.base_delay", lambda v: rz.retry_(_same, base_delay=v), "base_delay", True, False),
    ("retry_.max_delay", lambda v: rz.retry_(_same, max_delay=v), "max_delay", False, False),
    (
        "dead_letter",
        lambda v: rz.dead_letter(_same, sink=_same, retry_delay=v),
        "retry_delay",
        True,
        False,
    ),
    (
        "circuit_breaker",
        lambda v: rz.circuit_breaker(_same, recovery_timeout=v),
        "recovery_timeout",
        False,
        False,
    ),
    (
        "CircuitBreaker",
        lambda v: rz.CircuitBreaker(recovery_timeout=v),
        "recovery_timeout",
        False,
        False,
    ),
    ("collect", lambda v: rz.collect(rx.empty(), timeout=v), "timeout", False, False),
]


def _add(total: int, item: int) -> int:
    return total + item


def _duration_cases() -> Iterator[Any]:
    bound = f"must be <= {MAX!r} seconds (threading.TIMEOUT_MAX)"
    for label, build, param, zero_ok, timer in DURATIONS:
        sign = ">= 0" if zero_ok else "> 0"
        rows: list[tuple[object, type[Exception], str]] = [
            ("1", TypeError, "must be seconds (int or float) or a timedelta, got str"),
            (True, TypeError, "must be seconds (int or float) or a timedelta, got bool"),
            (bool_(), TypeError, "must be seconds (int or float) or a timedelta, got bool_"),
            (math.nan, ValueError, "must be a finite duration, got nan"),
            (math.inf, ValueError, "must be a finite duration, got inf"),
            (-math.inf, ValueError, "must be a finite duration, got -inf"),
            (FloatScalar(math.nan), ValueError, "must be a finite duration, got FloatScalar(nan)"),
            (-1, ValueError, f"must be {sign}, got -1"),
            (timedelta.min, ValueError, f"must be {sign}, got {timedelta.min!r}"),
            (-HUGE, ValueError, f"must be {sign}, got {NEGATIVE_HUGE_SHOWN}"),
            (TOO_LONG, ValueError, f"{bound}, got {TOO_LONG!r}"),
            (math.nextafter(MAX, math.inf), ValueError, f"{bound}, got 9223372036.000002"),
            (timedelta.max, ValueError, f"{bound}, got {timedelta.max!r}"),
            (1e14, ValueError, "is too long for a timedelta, got 100000000000000.0"),
            (1e300, ValueError, "is too long for a timedelta, got 1e+300"),
            (HUGE, ValueError, f"is too long for a timedelta, got {HUGE_SHOWN}"),
        ]
        if not zero_ok:
            rows += [
                (0, ValueError, "must be > 0, got 0"),
                (-0.0, ValueError, "must be > 0, got -0.0"),
                (timedelta(0), ValueError, "must be > 0, got datetime.timedelta(0)"),
            ]
        if timer:
            rows.append((1e-7, ValueError, "must be at least 1 microsecond, got 1e-07"))
        for value, error, rule in rows:
            yield pytest.param(build, value, error, f"{param} {rule}", id=f"{label}={value!r}")


@pytest.mark.parametrize(("build", "value", "error", "message"), list(_duration_cases()))
def test_invalid_duration_raises_at_the_call(
    build: Build, value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build(value)
    assert str(info.value) == message


def _accepted_durations() -> Iterator[Any]:
    for label, build, _param, zero_ok, timer in DURATIONS:
        values: list[object] = [
            MAX,
            int(MAX),
            timedelta(seconds=MAX),
            FloatScalar(0.5),
            Fraction(1, 4),
            IntScalar(2),  # an integer scalar is a real number too
        ]
        if zero_ok:
            values += [0, -0.0, timedelta(0)]
        if timer:
            values.append(timedelta(microseconds=1))
        for value in values:
            yield pytest.param(build, value, id=f"{label}={value!r}")


@pytest.mark.parametrize(("build", "value"), list(_accepted_durations()))
def test_durations_within_bounds_are_accepted(build: Build, value: object) -> None:
    build(value)


# --------------------------------------------------------------------------- sizes

# (label, build(value), parameter, minimum)
SIZES: list[tuple[str, Build, str, int]] = [
    ("batch", lambda v: rz.batch(v), "max_size", 1),
    ("chunk", lambda v: rz.chunk(v), "size", 1),
    ("take_", lambda v: rz.take_(v), "n", 0),
    ("skip_", lambda v: rz.skip_(v), "n", 0),
    ("dedupe", lambda v: rz.dedupe(max_keys=v), "max_keys", 1),
    ("throttle.burst", lambda v: rz.throttle(1, burst=v), "burst", 1),
    ("throttle.max_pending", lambda v: rz.throttle(1, max_pending=v), "max_pending", 1),
    ("aggregate", lambda v: rz.aggregate(_add, 0, count=v), "count", 1),
    ("buffer_", lambda v: rz.buffer_(v), "capacity", 1),
    ("dropping_buffer", lambda v: rz.dropping_buffer(v), "capacity", 1),
    ("sliding_buffer", lambda v: rz.sliding_buffer(v), "capacity", 1),
    ("async_map.workers", lambda v: rz.async_map(_same, workers=v), "workers", 1),
    ("async_map.max_pending", lambda v: rz.async_map(_same, max_pending=v), "max_pending", 1),
    ("retry_.max_attempts", lambda v: rz.retry_(_same, max_attempts=v), "max_attempts", 1),
    ("retry_.max_pending", lambda v: rz.retry_(_same, max_pending=v), "max_pending", 1),
    (
        "dead_letter.max_retries",
        lambda v: rz.dead_letter(_same, sink=_same, max_retries=v),
        "max_retries",
        0,
    ),
    (
        "dead_letter.max_pending",
        lambda v: rz.dead_letter(_same, sink=_same, max_pending=v),
        "max_pending",
        1,
    ),
    (
        "circuit_breaker.min_requests",
        lambda v: rz.circuit_breaker(_same, min_requests=v),
        "min_requests",
        1,
    ),
    (
        "circuit_breaker.half_open_requests",
        lambda v: rz.circuit_breaker(_same, half_open_requests=v),
        "half_open_requests",
        1,
    ),
    ("CircuitBreaker.min_requests", lambda v: rz.CircuitBreaker(min_requests=v), "min_requests", 1),
    (
        "CircuitBreaker.half_open_requests",
        lambda v: rz.CircuitBreaker(half_open_requests=v),
        "half_open_requests",
        1,
    ),
    ("fan_out", lambda v: rz.fan_out(v), "n", 1),
    ("partition_", lambda v: rz.partition_(_same, v), "n", 1),
    ("to_iterator", lambda v: rz.to_iterator(rx.empty(), maxsize=v), "maxsize", 1),
    ("to_async_iterator", lambda v: rz.to_async_iterator(rx.empty(), maxsize=v), "maxsize", 1),
    ("progress", lambda v: rz.progress(total=v), "total", 0),
]


def _size_cases() -> Iterator[Any]:
    for label, build, param, minimum in SIZES:
        rows: list[tuple[object, type[Exception], str]] = [
            ("3", TypeError, "must be an int, got str"),
            (3.0, TypeError, "must be an int, got float"),
            (FloatScalar(3.0), TypeError, "must be an int, got FloatScalar"),
            (math.nan, TypeError, "must be an int, got float"),
            (True, TypeError, "must be an int, got bool"),
            (bool_(), TypeError, "must be an int, got bool_"),
            (minimum - 1, ValueError, f"must be >= {minimum}, got {minimum - 1}"),
            (IntScalar(minimum - 1), ValueError, f"must be >= {minimum}, got {minimum - 1}"),
            (-HUGE, ValueError, f"must be >= {minimum}, got {NEGATIVE_HUGE_SHOWN}"),
        ]
        for value, error, rule in rows:
            yield pytest.param(build, value, error, f"{param} {rule}", id=f"{label}={value!r}")


@pytest.mark.parametrize(("build", "value", "error", "message"), list(_size_cases()))
def test_invalid_size_raises_at_the_call(
    build: Build, value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build(value)
    assert str(info.value) == message


def test_integer_scalars_are_accepted_as_plain_ints() -> None:
    assert rz.chunk(untyped(IntScalar(3))).size == 3
    assert type(rz.chunk(untyped(IntScalar(3))).size) is int
    assert rz.collect(rx.of(1, 2, 3, 4).pipe(rz.take_(untyped(IntScalar(2))))) == [1, 2]


# --------------------------------------------------------------------------- rates, thresholds

# (label, build(value), the exact message expected)
NUMBERS: list[tuple[str, Build, object, type[Exception], str]] = [
    ("sample_", lambda v: rz.sample_(v), "x", TypeError, "rate must be a number, got str"),
    ("sample_", lambda v: rz.sample_(v), True, TypeError, "rate must be a number, got bool"),
    ("sample_", lambda v: rz.sample_(v), bool_(), TypeError, "rate must be a number, got bool_"),
    ("sample_", lambda v: rz.sample_(v), math.nan, ValueError, "rate must not be NaN"),
    ("sample_", lambda v: rz.sample_(v), math.inf, ValueError, "rate must be <= 1, got inf"),
    ("sample_", lambda v: rz.sample_(v), -math.inf, ValueError, "rate must be >= 0, got -inf"),
    ("sample_", lambda v: rz.sample_(v), 1.5, ValueError, "rate must be <= 1, got 1.5"),
    ("sample_", lambda v: rz.sample_(v), HUGE, ValueError, f"rate must be <= 1, got {HUGE_SHOWN}"),
    (
        "sample_",
        lambda v: rz.sample_(v),
        -HUGE,
        ValueError,
        f"rate must be >= 0, got {NEGATIVE_HUGE_SHOWN}",
    ),
    (
        "CircuitBreaker",
        lambda v: rz.CircuitBreaker(failure_threshold=v),
        math.nan,
        ValueError,
        "failure_threshold must not be NaN",
    ),
    (
        "CircuitBreaker",
        lambda v: rz.CircuitBreaker(failure_threshold=v),
        HUGE,
        ValueError,
        f"failure_threshold must be <= 1, got {HUGE_SHOWN}",
    ),
    (
        "circuit_breaker",
        lambda v: rz.circuit_breaker(_same, failure_threshold=v),
        -math.inf,
        ValueError,
        "failure_threshold must be finite, got -inf",
    ),
    ("throttle", lambda v: rz.throttle(v), True, TypeError, "rate must be a number, got bool"),
    ("throttle", lambda v: rz.throttle(v), math.nan, ValueError, "rate must not be NaN"),
    ("throttle", lambda v: rz.throttle(v), math.inf, ValueError, "rate must be finite, got inf"),
    ("throttle", lambda v: rz.throttle(v), 0, ValueError, "rate must be > 0, got 0"),
]


@pytest.mark.parametrize(
    ("build", "value", "error", "message"),
    [pytest.param(*row[1:], id=f"{row[0]}={row[2]!r}") for row in NUMBERS],
)
def test_invalid_number_raises_at_the_call(
    build: Build, value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build(value)
    assert str(info.value) == message


def test_real_scalars_are_accepted_as_plain_floats() -> None:
    assert rz.sample_(untyped(FloatScalar(0.5))).rate == 0.5
    assert type(rz.sample_(untyped(Fraction(1, 2))).rate) is float
    assert math.copysign(1.0, rz.sample_(-0.0).rate) == 1.0, "-0.0 is normalised to 0.0"


def test_throttle_rate_is_bounded_by_what_a_timer_can_wait() -> None:
    message = (
        f"rate must be >= {1 / MAX!r} per second (one per {MAX!r} seconds, "
        "threading.TIMEOUT_MAX), got 1e-300"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        rz.throttle(1e-300)


def test_throttle_burst_is_bounded_by_the_clock_range() -> None:
    with pytest.raises(
        ValueError, match=r"^burst must be <= \d+ at rate 10/s \(.+\), got 1099511627776$"
    ):
        rz.throttle(10, burst=2**40)


# --------------------------------------------------------------------------- the helpers


def test_duration_returns_plain_seconds() -> None:
    assert _validate.duration("d", timedelta(milliseconds=1500)) == 1.5
    assert type(_validate.duration("d", IntScalar(2))) is float
    zero = _validate.duration("d", -0.0, allow_zero=True)
    assert zero == 0.0
    assert math.copysign(1.0, zero) == 1.0, "-0.0 is normalised to 0.0"


def test_integer_maximum_names_its_rule() -> None:
    assert _validate.integer("k", 5, maximum=5) == 5
    with pytest.raises(ValueError, match=r"^k must be <= 5 \(k periods fit\), got 6$"):
        _validate.integer("k", 6, maximum=5, rule="k periods fit")
    with pytest.raises(ValueError, match=r"^k must be <= 5, got an int of 71 bits$"):
        _validate.optional_integer("k", 2**70, maximum=5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "rate must be > 0, got 0"),
        (-1.5, "rate must be > 0, got -1.5"),
        (math.inf, "rate must be finite, got inf"),
        (HUGE, f"rate must be finite, got {HUGE_SHOWN}"),
        (
            math.nextafter(1 / MAX, 0.0),
            f"rate must be >= {1 / MAX!r} per second (one per {MAX!r} seconds, "
            f"threading.TIMEOUT_MAX), got {math.nextafter(1 / MAX, 0.0)!r}",
        ),
        (
            5e-324,
            f"rate must be >= {1 / MAX!r} per second (one per {MAX!r} seconds, "
            "threading.TIMEOUT_MAX), got 5e-324",
        ),
    ],
)
def test_rate_period_must_be_a_wait_a_timer_can_do(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _validate.rate("rate", value)


def test_rate_within_bounds() -> None:
    assert _validate.rate("rate", 1 / MAX) == 1 / MAX
    assert _validate.rate("rate", 1e300) == 1e300


# --------------------------------------------------------------------------- the bound is right


def test_the_longest_accepted_wait_runs_on_a_real_timer_thread(no_thread_leak: None) -> None:
    """A retry wait of exactly the bound is scheduled on a timer thread without failing.

    Past the bound the timer thread would die of ``OverflowError`` (pytest turns
    an exception in a thread into a failure) and the item would never finish.
    """
    errors: list[Exception] = []
    calls: list[int] = []

    def fails(item: int) -> int:
        calls.append(item)
        raise ConnectionError("down")

    subject: Subject[int] = Subject()
    op = rz.retry_(fails, base_delay=MAX, max_delay=MAX, jitter=False)
    subscription = subject.pipe(op).subscribe(
        on_error=errors.append, scheduler=TimeoutScheduler.singleton()
    )
    subject.on_next(1)  # fails once: the retry waits MAX seconds on a timer thread
    assert calls == [1]
    assert any(isinstance(t, threading.Timer) and t.is_alive() for t in threading.enumerate())
    subscription.dispose()  # cancels the timer: its thread ends
    assert errors == []


def test_the_longest_accepted_duration_works_in_virtual_time() -> None:
    clock = TestScheduler()
    source = clock.create_hot_observable(ReactiveTest.on_next(210, 1))
    end = cast(int, MAX + 1000)  # RxPY annotates virtual times as int
    result = clock.start(lambda: source.pipe(rz.batch(2, max_latency=MAX)), disposed=end)
    assert result.messages == [ReactiveTest.on_next(cast(int, 210 + MAX), [1])]


FLAGS: list[tuple[str, Callable[[object], object]]] = [
    ("latency", lambda v: rz.monitor(1.0, print, latency=cast(Any, v))),
    ("ordered", lambda v: rz.async_map(abs, ordered=cast(Any, v))),
    ("default", lambda v: rz.router({"a": bool}, default=cast(Any, v))),
    ("emit_empty", lambda v: rz.aggregate(rz.folds.count(), interval=1.0, emit_empty=cast(Any, v))),
    ("leave", lambda v: rz.progress(leave=cast(Any, v))),
    ("count_elements", lambda v: rz.progress(count_elements=cast(Any, v))),
    ("jitter", lambda v: rz.retry_(abs, jitter=cast(Any, v))),
]


@pytest.mark.parametrize(("param", "build"), FLAGS, ids=[param for param, _ in FLAGS])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_a_flag_takes_a_bool_only(
    param: str, build: Callable[[object], object], value: object
) -> None:
    with pytest.raises(TypeError, match=f"^{param} must be a bool, got {type(value).__name__}$"):
        build(value)


def test_flag_and_optional_text_return_what_they_accept() -> None:
    assert _validate.flag("leave", False) is False
    assert _validate.optional_text("desc", None) is None
    assert _validate.optional_text("desc", "rows") == "rows"
    with pytest.raises(TypeError, match=r"^desc must be a str or None, got int$"):
        _validate.optional_text("desc", 3)
