"""Bridges between push (Rx) and pull (iterators, asyncio): collect."""

from __future__ import annotations

import threading
from typing import TypeVar

from reactivex import Observable

from rxstreamz import _validate

__all__ = ["collect"]

_T = TypeVar("_T")


def collect(observable: Observable[_T], timeout: float | None = None) -> list[_T]:
    """Run ``observable`` to completion and return its items.

    Blocks the calling thread until the pipeline completes. An error from the
    pipeline is re-raised here, unchanged.

    Examples:
        >>> import reactivex as rx
        >>> collect(rx.of(1, 2, 3))
        [1, 2, 3]

    Args:
        observable: The pipeline to run.
        timeout: Seconds to wait at most; ``None`` waits forever.

    Returns:
        Every item, in order.

    Raises:
        TimeoutError: ``timeout`` passed before completion (the subscription
            is disposed first).
        TypeError: ``observable`` is not an ``Observable``.
        ValueError: ``timeout`` is not positive.
    """
    if not isinstance(observable, Observable):
        raise TypeError(f"observable must be an Observable, got {type(observable).__name__}")
    limit = _validate.optional_duration("timeout", timeout)
    items: list[_T] = []
    failure: list[Exception] = []
    done = threading.Event()

    def on_error(exc: Exception) -> None:
        failure.append(exc)
        done.set()

    subscription = observable.subscribe(items.append, on_error, done.set)
    if not done.wait(limit):
        subscription.dispose()
        raise TimeoutError(f"collect: the pipeline did not complete within {limit:g} s")
    if failure:
        raise failure[0]
    return items
