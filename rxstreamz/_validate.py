"""Argument checks shared by every factory.

Each check raises at the factory call, naming the parameter and the rule:
``TypeError`` for a value of the wrong type, ``ValueError`` for a wrong value.
Nothing is ever clamped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

from reactivex import abc

_C = TypeVar("_C", bound=Callable[..., Any])
_S = TypeVar("_S", bound=str)

Duration = float | timedelta
"""A length of time: seconds as ``int``/``float``, or a ``timedelta``."""

ErrorMode = Literal["raise", "skip"]


def _type_name(value: object) -> str:
    return type(value).__name__


def integer(param: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{param} must be an int, got {_type_name(value)}")
    if value < minimum:
        raise ValueError(f"{param} must be >= {minimum}, got {value}")
    return value


def optional_integer(param: str, value: object, *, minimum: int = 1) -> int | None:
    """Like ``integer``, letting ``None`` through."""
    return None if value is None else integer(param, value, minimum=minimum)


def number(
    param: str, value: object, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Return ``value`` as a finite ``float`` within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{param} must be a number, got {_type_name(value)}")
    result = float(value)
    if math.isnan(result):
        raise ValueError(f"{param} must not be NaN")
    if minimum is not None and result < minimum:
        raise ValueError(f"{param} must be >= {minimum:g}, got {value}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{param} must be <= {maximum:g}, got {value}")
    return result


def duration(param: str, value: object, *, allow_zero: bool = False) -> float:
    """Return a duration in seconds; it must be > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"{param} must be seconds (int or float) or a timedelta, got {_type_name(value)}"
        )
    else:
        seconds = float(value)
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{param} must be a finite duration, got {value!r}")
    if allow_zero and seconds < 0:
        raise ValueError(f"{param} must be >= 0, got {value!r}")
    if not allow_zero and seconds <= 0:
        raise ValueError(f"{param} must be > 0, got {value!r}")
    return seconds


def optional_duration(param: str, value: object, *, allow_zero: bool = False) -> float | None:
    """Like ``duration``, letting ``None`` through."""
    return None if value is None else duration(param, value, allow_zero=allow_zero)


_MICROSECOND = timedelta(microseconds=1)


def timer_duration(param: str, value: object) -> float:
    """Return a duration in seconds that a scheduler can wait for: at least 1 microsecond.

    Scheduler time is a ``datetime``, whose resolution is the microsecond: a
    shorter duration would round to zero, and a timer re-armed for "zero
    later" would fire at the same instant for ever. Larger than a
    ``timedelta`` can hold is rejected too.
    """
    seconds = duration(param, value)
    try:
        exact = value if isinstance(value, timedelta) else timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{param} is too long for a timedelta, got {value!r}") from None
    if exact < _MICROSECOND:
        raise ValueError(f"{param} must be at least 1 microsecond, got {value!r}")
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


def error_mode(value: object) -> ErrorMode:
    """Return a valid ``errors=`` policy."""
    return choice("errors", value, ("raise", "skip"))


def scheduler(value: object) -> abc.SchedulerBase | None:
    """Return ``value`` if it is ``None`` or a reactivex scheduler (the ``scheduler=`` option)."""
    if value is not None and not isinstance(value, abc.SchedulerBase):
        raise TypeError(f"scheduler must be a reactivex scheduler, got {_type_name(value)}")
    return value
