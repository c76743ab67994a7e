"""The error model of every processor that calls user code per item.

A user function that raises is reported in one of two ways:

* ``errors="raise"`` (default): the exception is forwarded through
  ``on_error`` unchanged in type, with a PEP 678 note naming the processor and
  the item.
* ``errors="skip"``: the item is dropped, counted in ``stats().failed``, and,
  when ``on_failure`` is given, handed to it as a ``DeadLetter``.

An ``on_failure`` that raises fails the stream instead: an ``Exception``
as it is (with a note), anything else (``SystemExit``, ``KeyboardInterrupt``)
as a ``RuntimeError`` whose ``__cause__`` it is. It is never let through
the processor, because the processor may be running on a thread that nobody
watches (a timer, a worker), and a stream whose error escapes that way never
ends.

A ``Failures`` object owns that decision for one operator: ``handle`` also
keeps its count (for the operators whose ``stats().failed`` reads it),
``forward`` hands the result straight to the stream (for those that count
failures in their own stats rows).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from reactivex import abc

from rxstreamz import _validate
from rxstreamz._asyncio import escaped
from rxstreamz.records import DeadLetter

OnFailure = Callable[[DeadLetter[Any]], object]
"""Receives each item that ``errors="skip"`` dropped."""

_REPR_LIMIT = 200


def short_repr(item: object) -> str:
    """Return ``repr(item)`` cut to 200 characters (never raises)."""
    try:
        text = repr(item)
    except Exception as exc:  # a broken __repr__ must not hide the real failure
        text = f"<{type(item).__name__} with failing repr: {exc!r}>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def annotate(exc: Exception, processor: str, item: object) -> Exception:
    """Add the note that names ``processor`` and ``item`` to ``exc`` and return it."""
    exc.add_note(f"rxstreamz: raised in processor {processor!r} on item {short_repr(item)}")
    return exc


class Failures:
    """Applies one operator's ``errors=`` / ``on_failure=`` policy and counts failures.

    ``handle`` counts what it handles in ``count``; ``forward`` does not (its
    callers count in their stats rows, without a lock). Thread-safe: the
    counter is shared by every subscription of the operator.
    """

    __slots__ = ("_count", "_lock", "mode", "on_failure", "processor")

    def __init__(self, processor: str, errors: object, on_failure: OnFailure | None) -> None:
        self.processor = processor
        self.mode = _validate.error_mode(errors)
        self.on_failure = _validate.optional_function("on_failure", on_failure)
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        """How many items failed, in either mode."""
        return self._count

    def record(self, n: int = 1) -> None:
        """Count ``n`` failures without applying the policy."""
        with self._lock:
            self._count += n

    def handle(
        self, exc: Exception, item: object, now: datetime, *, attempts: int = 1
    ) -> Exception | None:
        """Count one failure and apply the policy.

        Returns:
            The exception to forward through ``on_error`` (raise mode, or a
            failing ``on_failure``), or ``None`` when the item was skipped.
        """
        self.record()
        return self._apply(exc, item, now, attempts)

    def forward(
        self,
        exc: Exception,
        item: object,
        clock: abc.SchedulerBase | Callable[[], datetime],
        fail: Callable[[Exception], None],
    ) -> None:
        """Apply the policy to ``exc``, raised on ``item``; hand ``fail`` what fails the stream.

        For an operator whose ``stats().failed`` comes from its own rows:
        ``count`` is left alone. ``fail`` gets the annotated exception (raise
        mode) or what a failing ``on_failure`` returned; nothing, when the
        item was skipped.

        Args:
            exc: What the user function raised.
            item: The item it raised on.
            clock: Dates the dead letter (read only in skip mode): a
                scheduler (its ``now``, e.g. ``_scheduling.resolve(own,
                subscribed)``), or a function returning the time.
            fail: Fails the stream with an exception.
        """
        error = self._apply(exc, item, clock, 1)
        if error is not None:
            fail(error)

    def _apply(
        self,
        exc: Exception,
        item: object,
        clock: datetime | abc.SchedulerBase | Callable[[], datetime],
        attempts: int,
    ) -> Exception | None:
        """The policy: what fails the stream, or ``None`` (the item was skipped)."""
        if self.mode == "raise":
            return annotate(exc, self.processor, item)
        if isinstance(clock, datetime):
            now = clock
        elif isinstance(clock, abc.SchedulerBase):
            now = clock.now
        else:
            now = clock()
        return self.dead_letter(DeadLetter(item, exc, attempts, now, self.processor))

    def dead_letter(self, letter: DeadLetter[Any]) -> Exception | None:
        """Hand ``letter`` to ``on_failure``; if it raised, return what fails the stream.

        An ``Exception`` is returned as it is; a ``BaseException`` that is not
        one (``SystemExit``, ``KeyboardInterrupt``) is wrapped in a
        ``RuntimeError`` whose ``__cause__`` it is, rather than propagated:
        either way the stream gets its terminal event. Both carry a note naming
        the processor.
        """
        if self.on_failure is None:
            return None
        return call_sink(self.on_failure, letter, f"on_failure of processor {self.processor!r}")


def call_sink(sink: OnFailure, letter: DeadLetter[Any], what: str) -> Exception | None:
    """Hand ``letter`` to ``sink``; if it raised, return what fails the stream.

    An ``Exception`` is returned as it is; a ``BaseException`` that is not one
    is wrapped in a ``RuntimeError`` whose ``__cause__`` it is (see the module
    docstring). Either gets the note ``rxstreamz: raised by {what}``.

    Args:
        sink: ``on_failure``, or the sink of ``dead_letter``.
        letter: The dead letter.
        what: Names the sink in the note and message (``"on_failure of
            processor 'parse'"``).
    """
    try:
        sink(letter)
    except Exception as exc:
        error = exc
    except BaseException as exc:  # the stream must still end (see the module docstring)
        error = escaped(exc, what)
    else:
        return None
    error.add_note(f"rxstreamz: raised by {what}")
    return error
