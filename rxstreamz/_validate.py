"""Argument checks shared by every factory.

Each check raises at the factory call, naming the parameter and the rule:
``TypeError`` for a value of the wrong type, ``ValueError`` for a wrong value.
Nothing is ever clamped.

Numbers are accepted in every form that behaves as one: a size is an ``int``
or any integer scalar with ``__index__`` (a numpy ``int64``), a duration or a
rate any real number (``numbers.Real``: a numpy ``float32``, a ``Fraction``);
each is converted once to a plain ``int`` or ``float``. A ``bool`` (Python's or
numpy's) is never a number here.

Every duration is bounded by what a scheduler can wait for:
``threading.TIMEOUT_MAX`` seconds (the longest wait of a lock, hence of a timer
thread; about 292 years on 64-bit platforms), and by the range of
``timedelta`` (scheduler time is a ``datetime``). A longer duration would be
accepted here and fail later, far from the call: at subscription, at the first
item, or inside a timer thread.
"""

from __future__ import annotations

import math
import numbers
import operator
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

from reactivex import abc

_C = TypeVar("_C", bound=Callable[..., Any])
_S = TypeVar("_S", bound=str)

Duration = float | timedelta
"""A length of time: seconds as a real number (``int``, ``float``...), or a ``timedelta``."""

ErrorMode = Literal["raise", "skip"]

_TIMEDELTA_SECONDS = timedelta.max.total_seconds()

MAX_SECONDS: float = min(threading.TIMEOUT_MAX, _TIMEDELTA_SECONDS)
"""The longest duration any factory accepts, in seconds: ``threading.TIMEOUT_MAX``."""

_MAX_SECONDS_RULE = (
    "threading.TIMEOUT_MAX" if MAX_SECONDS == threading.TIMEOUT_MAX else "the timedelta range"
)
_BIG_INT_BITS = 64  # beyond this, an int is shown by its size, not its digits
_MICROSECOND = timedelta(microseconds=1)


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_bool(value: object) -> bool:
    """Return True for ``bool`` and numpy's ``bool_`` (named ``bool`` in numpy 2)."""
    return isinstance(value, bool) or _type_name(value) in ("bool", "bool_")


def _show(value: object) -> str:
    """Return ``repr(value)`` for a message; a huge int by its size (its repr may not fit)."""
    if isinstance(value, int) and not isinstance(value, bool):
        bits = value.bit_length()
        if bits > _BIG_INT_BITS:
            return f"{'a negative' if value < 0 else 'an'} int of {bits} bits"
    return repr(value)


def _real(value: object) -> float:
    """Return a real number as a float: ``inf`` (with its sign) for an int beyond float range."""
    try:
        return float(value)  # type: ignore[arg-type]  # a numbers.Real
    except OverflowError:  # float(value) cannot be had: compare exactly
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def integer(
    param: str,
    value: object,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    rule: str | None = None,
) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    Any object with ``__index__`` counts as an integer (a numpy ``int64``).
    ``rule`` explains where ``maximum`` comes from, in the message.
    """
    if _is_bool(value) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{param} must be an int, got {_type_name(value)}")
    try:
        result = int(operator.index(value))  # type: ignore[arg-type]  # has __index__
    except TypeError:  # an __index__ that refuses (a numpy array of several items)
        raise TypeError(f"{param} must be an int, got {_type_name(value)}") from None
    if result < minimum:
        raise ValueError(f"{param} must be >= {minimum}, got {_show(result)}")
    if maximum is not None and result > maximum:
        why = f" ({rule})" if rule else ""
        raise ValueError(f"{param} must be <= {maximum}{why}, got {_show(result)}")
    return result


def optional_integer(
    param: str,
    value: object,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    rule: str | None = None,
) -> int | None:
    """Like ``integer``, letting ``None`` through."""
    if value is None:
        return None
    return integer(param, value, minimum=minimum, maximum=maximum, rule=rule)


def number(
    param: str, value: object, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Return ``value`` as a finite ``float`` within ``[minimum, maximum]``.

    Any ``numbers.Real`` but a bool is a number (an ``int``, a numpy ``float32``).
    """
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{param} must be a number, got {_type_name(value)}")
    result = _real(value)
    if math.isnan(result):
        raise ValueError(f"{param} must not be NaN")
    if minimum is not None and result < minimum:
        raise ValueError(f"{param} must be >= {minimum:g}, got {_show(value)}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{param} must be <= {maximum:g}, got {_show(value)}")
    if math.isinf(result):
        raise ValueError(f"{param} must be finite, got {_show(value)}")
    return result + 0.0  # -0.0 becomes 0.0


def rate(param: str, value: object) -> float:
    """Return a frequency in events per second: finite and at least one per ``MAX_SECONDS``.

    The period ``1 / rate`` is a duration a scheduler must be able to wait.
    """
    result = number(param, value)
    if result <= 0:
        raise ValueError(f"{param} must be > 0, got {_show(value)}")
    if 1 / result > MAX_SECONDS:
        raise ValueError(
            f"{param} must be >= {1 / MAX_SECONDS!r} per second (one per {MAX_SECONDS!r} "
            f"seconds, {_MAX_SECONDS_RULE}), got {_show(value)}"
        )
    return result


def duration(param: str, value: object, *, allow_zero: bool = False) -> float:
    """Return a duration in seconds; > 0 (or >= 0 with ``allow_zero``), at most ``MAX_SECONDS``."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{param} must be seconds (int or float) or a timedelta, got {_type_name(value)}"
        )
    else:
        seconds = _real(value)
        # An int too big for a float is finite, only too long (checked below).
        if math.isinf(seconds) and not isinstance(value, numbers.Integral):
            raise ValueError(f"{param} must be a finite duration, got {_show(value)}")
    if math.isnan(seconds):
        raise ValueError(f"{param} must be a finite duration, got {_show(value)}")
    if allow_zero and seconds < 0:
        raise ValueError(f"{param} must be >= 0, got {_show(value)}")
    if not allow_zero and seconds <= 0:
        raise ValueError(f"{param} must be > 0, got {_show(value)}")
    if seconds > _TIMEDELTA_SECONDS:
        raise ValueError(f"{param} is too long for a timedelta, got {_show(value)}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{param} must be <= {MAX_SECONDS!r} seconds ({_MAX_SECONDS_RULE}), got {_show(value)}"
        )
    return seconds + 0.0  # -0.0 becomes 0.0


def optional_duration(param: str, value: object, *, allow_zero: bool = False) -> float | None:
    """Like ``duration``, letting ``None`` through."""
    return None if value is None else duration(param, value, allow_zero=allow_zero)


def timer_duration(param: str, value: object) -> float:
    """Return a duration in seconds that a scheduler can wait for: at least 1 microsecond.

    Scheduler time is a ``datetime``, whose resolution is the microsecond: a
    shorter duration would round to zero, and a timer re-armed for "zero
    later" would fire at the same instant for ever. The upper bound is
    ``duration``'s.
    """
    seconds = duration(param, value)
    exact = value if isinstance(value, timedelta) else timedelta(seconds=seconds)
    if exact < _MICROSECOND:
        raise ValueError(f"{param} must be at least 1 microsecond, got {_show(value)}")
    return seconds


def optional_timer_duration(param: str, value: object) -> float | None:
    """Like ``timer_duration``, letting ``None`` through."""
    return None if value is None else timer_duration(param, value)


def function(param: str, value: _C) -> _C:
    """Return ``value`` if it is callable."""
    if not callable(value):
        raise TypeError(f"{param} must be callable, got {_type_name(value)}")
    return value


def optional_function(param: str, value: _C | None) -> _C | None:
    """Like ``function``, letting ``None`` through."""
    return None if value is None else function(param, value)


def choice(param: str, value: object, allowed: tuple[_S, ...]) -> _S:
    """Return ``value`` if it is one of the ``allowed`` strings."""
    for option in allowed:
        if value == option:
            return option
    options = ", ".join(repr(option) for option in allowed)
    raise ValueError(f"{param} must be one of {options}, got {value!r}")


def name(value: object, default: str) -> str:
    """Return the processor name: ``value`` if given, else ``default``."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise TypeError(f"name must be a str, got {_type_name(value)}")
    if not value:
        raise ValueError("name must not be empty")
    return value


def flag(param: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool`` (a truthy object is not a yes)."""
    if not isinstance(value, bool):
        raise TypeError(f"{param} must be a bool, got {_type_name(value)}")
    return value


def optional_text(param: str, value: object) -> str | None:
    """Return ``value`` if it is ``None`` or a ``str``."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{param} must be a str or None, got {_type_name(value)}")
    return value


def error_mode(value: object) -> ErrorMode:
    """Return a valid ``errors=`` policy."""
    return choice("errors", value, ("raise", "skip"))


def scheduler(value: object) -> abc.SchedulerBase | None:
    """Return ``value`` if it is ``None`` or a reactivex scheduler (the ``scheduler=`` option)."""
    if value is not None and not isinstance(value, abc.SchedulerBase):
        raise TypeError(f"scheduler must be a reactivex scheduler, got {_type_name(value)}")
    return value
