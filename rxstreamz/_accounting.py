"""Accounting: the counters behind every processor's ``stats()``.

Every snapshot carries three common fields, whatever the processor does:

```text
received   items taken from upstream
failed     items whose user call failed (in either errors mode)
dropped    items taken that will never be emitted for a reason other than the
           processor's job: dispose, overflow, a terminal error, a closed queue
```

plus the fields of its own job (``filtered``, ``emitted``, ``held`` …), so
that each processor keeps an identity such as
``received == emitted + filtered + failed + dropped + held``, written in its
docstring.

The counting itself is one mechanism, shaped for the per-item path:

* each subscription counts in its own ``Row`` (a slotted object with one int
  attribute per field), written without a lock: the Rx contract serializes
  ``on_next``, and a processor whose timers also write takes its own lock
  around them;
* the operator's ``Ledger`` keeps the live rows and the totals of retired
  ones; ``Ledger.totals`` sums both under the ledger's lock, so a snapshot
  spans every subscription, past and present (a live row may be one item
  apart between two of its fields).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Ledger", "ProcessorStats", "Row"]


@dataclass(frozen=True, slots=True)
class ProcessorStats:
    """The fields every ``stats()`` snapshot has.

    Attributes:
        received: Items taken from upstream.
        failed: Items whose user function failed, in either ``errors`` mode.
        dropped: Items taken that will never be emitted for a reason other
            than the processor's job: disposed while held, refused or evicted
            by an overflow policy, held when the stream failed, or offered
            after the processor stopped.
    """

    received: int
    failed: int
    dropped: int


class Row:
    """One subscription's counters.

    Subclasses add their fields to ``__slots__`` and annotate them (``emitted: int``).
    """

    __slots__ = ("dropped", "failed", "received")
    dropped: int
    failed: int
    received: int

    def __init__(self) -> None:
        for field in fields_of(type(self)):
            setattr(self, field, 0)


_R = TypeVar("_R", bound=Row)


def fields_of(row_type: type[Row]) -> tuple[str, ...]:
    """The counter names of ``row_type``, base fields first."""
    names: list[str] = []
    for klass in reversed(row_type.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return tuple(name for name in names if not name.startswith("__"))


class Ledger(Generic[_R]):
    """The counters of one operator, summed over its subscriptions.

    Args:
        row_type: The ``Row`` subclass each subscription counts in.
        maxima: Fields combined by ``max`` instead of summed (high watermarks).
    """

    __slots__ = ("_fields", "_live", "_lock", "_maxima", "_retired", "_row_type")

    def __init__(self, row_type: type[_R], *, maxima: tuple[str, ...] = ()) -> None:
        self._row_type = row_type
        self._fields = fields_of(row_type)
        unknown = set(maxima) - set(self._fields)
        if unknown:
            raise ValueError(f"maxima names fields {row_type.__name__} lacks: {sorted(unknown)}")
        self._maxima = frozenset(maxima)
        self._lock = threading.Lock()
        self._live: set[_R] = set()
        self._retired = dict.fromkeys(self._fields, 0)

    def open(self) -> _R:
        """Return a new row that counts in the totals from now on."""
        row = self._row_type()
        with self._lock:
            self._live.add(row)
        return row

    def retire(self, row: _R) -> None:
        """Fold a finished subscription's row into the totals (idempotent)."""
        with self._lock:
            if row not in self._live:
                return
            self._live.discard(row)
            self._add(self._retired, row)

    def totals(self) -> dict[str, int]:
        """Return every field summed (or maximised) over retired and live rows."""
        with self._lock:
            totals = dict(self._retired)
            for row in self._live:
                self._add(totals, row)
        return totals

    def _add(self, totals: dict[str, int], row: _R) -> None:
        for field in self._fields:
            value: int = getattr(row, field)
            if field in self._maxima:
                totals[field] = max(totals[field], value)
            else:
                totals[field] += value
