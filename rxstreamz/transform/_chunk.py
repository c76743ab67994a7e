"""Size grouping and its inverse: chunk, unbatch, flatten.

All three are fusable stages (see ``rxstreamz._fusion``): ``chunk`` fills its
list inline in the fused run, ``unbatch`` loops over the iterable and runs the
stages after it on each element.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from reactivex import Observable
from typing_extensions import override

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures
from rxstreamz._fusion import Stage

__all__ = ["Chunk", "ChunkStats", "Unbatch", "UnbatchStats", "chunk", "flatten", "unbatch"]

_X = TypeVar("_X")


@dataclass(frozen=True, slots=True)
class ChunkStats(ProcessorStats):
    """Counters of ``chunk``: ``received == emitted + held + dropped``.

    Attributes:
        emitted: Items that left inside a list.
        chunks: Lists emitted; a partial one flushed by the end of the stream counts.
        held: Items waiting in a list that is not full yet.
    """

    emitted: int
    chunks: int
    held: int


@dataclass(frozen=True, slots=True)
class UnbatchStats(ProcessorStats):
    """Counters of ``unbatch``/``flatten``: ``received == unpacked + failed + dropped``.

    ``received``, ``unpacked``, ``failed`` and ``dropped`` count iterables;
    ``emitted`` counts elements. The identity holds once a subscription has
    ended; until then the iterable being read is in none of the fields.

    Attributes:
        emitted: Elements passed on.
        unpacked: Iterables read to their end.
    """

    emitted: int
    unpacked: int


class Chunk(Stage[Any, Any]):
    """The operator returned by ``chunk``."""

    kind = "chunk"

    def __init__(self, size: int, name: str) -> None:
        super().__init__(name, None, None)
        self.size = size

    @override
    def bind(self) -> int:
        return self.size

    def stats(self) -> ChunkStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(ChunkStats)

    def __call__(self, source: Observable[_X]) -> Observable[list[_X]]:
        """Apply the operator to ``source``."""
        return super().__call__(source)


def chunk(size: int, *, name: str | None = None) -> Chunk:
    """Group items into lists of exactly ``size``; the last list may be shorter.

    Size only, no timer: use ``batch`` to bound latency as well.

    ```text
    --1--2--3--4--5--|
    chunk(2)
    -----a-----b-----c|     a=[1, 2]  b=[3, 4]  c=[5]
    ```

    Behavior:
        - Completion and upstream error first flush the partial list; a
          dispose drops it.
        - Each subscription has its own list; emits on the upstream's thread.
        - Fuses with neighbouring per-item stages: the list is filled inline
          and the stages after ``chunk`` in the run receive it.
        - ``stats()``: ``received == emitted + held + dropped`` (items), plus
          ``chunks``, the lists emitted.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4, 5).pipe(chunk(2)))
        [[1, 2], [3, 4], [5]]

    Args:
        size: Items per list (>= 1).
        name: Default ``"chunk"``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> ChunkStats``.

    Raises:
        TypeError: ``size`` is not an int.
        ValueError: ``size`` is less than 1.
    """
    return Chunk(_validate.integer("size", size), _validate.name(name, "chunk"))


class Unbatch(Stage[Any, Any]):
    """The operator returned by ``unbatch`` and ``flatten``."""

    kind = "unbatch"

    def __init__(self, name: str) -> None:
        super().__init__(name, Failures(name, "raise", None), None)

    @override
    def bind(self) -> None:
        return None

    def stats(self) -> UnbatchStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(UnbatchStats)

    def __call__(self, source: Observable[Iterable[_X]]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        return super().__call__(source)


def unbatch(*, name: str | None = None) -> Unbatch:
    """Emit each element of each incoming iterable, in order.

    The inverse of ``batch`` and ``chunk``. Empty iterables emit nothing.

    ```text
    --[1,2]--[]--[3]--|
    unbatch()
    --1-2--------3----|
    ```

    Behavior:
        - Each iterable is consumed lazily, element by element: a ``take_``
          downstream stops even an endless one.
        - An item that is not iterable fails the stream with that
          ``TypeError``, noted with the item; an iterable whose iteration
          raises fails it after the elements it yielded before.
        - Fuses with neighbouring per-item stages: a loop over the iterable
          runs the stages after it on each element.
        - ``stats()`` counts iterables: ``received == unpacked + failed +
          dropped`` once the subscription has ended (``dropped``: left
          unfinished by a dispose or a downstream end); ``emitted`` counts
          elements.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of([1, 2], [], [3]).pipe(unbatch()))
        [1, 2, 3]

    Args:
        name: Default ``"unbatch"``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> UnbatchStats``.
    """
    return Unbatch(_validate.name(name, "unbatch"))


def flatten(*, name: str | None = None) -> Unbatch:
    """Emit each element of each incoming iterable: ``unbatch`` under streamz's other name.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of((1, 2), "ab").pipe(flatten()))
        [1, 2, 'a', 'b']

    Args:
        name: Default ``"flatten"``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> UnbatchStats``.
    """
    return Unbatch(_validate.name(name, "flatten"))
