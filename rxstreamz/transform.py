"""Per-item processors: filter_, map_, tap_, take_, skip_, sample_, chunk, unbatch, flatten.

``filter_``, ``map_``, ``tap_``, ``take_``, ``skip_`` and ``sample_`` are
*stages*: piped directly one after another they fuse into a single subscriber
(see ``rxstreamz._fusion``), which is what makes them faster than the
equivalent chain of RxPY operators. ``chunk``, ``unbatch`` and ``flatten``
change the shape of the stream and end a fused run.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable
from typing_extensions import override

from rxstreamz import _scheduling, _validate
from rxstreamz._failure import Failures, OnFailure, annotate
from rxstreamz._fusion import Stage
from rxstreamz._typing import Operator

__all__ = [
    "Chunk",
    "Filter",
    "Map",
    "Sample",
    "SampleStats",
    "Skip",
    "Take",
    "Tap",
    "TransformStats",
    "Unbatch",
    "chunk",
    "filter_",
    "flatten",
    "map_",
    "sample_",
    "skip_",
    "take_",
    "tap_",
    "unbatch",
]

_T = TypeVar("_T")
_R = TypeVar("_R")
_X = TypeVar("_X")


@dataclass(frozen=True, slots=True)
class TransformStats:
    """Counters of ``filter_``, ``map_`` and ``tap_``.

    Attributes:
        failed: Items whose user function raised (in both ``errors`` modes).
    """

    failed: int


@dataclass(frozen=True, slots=True)
class SampleStats:
    """Counters of ``sample_``.

    Attributes:
        kept: Items passed on.
        dropped: Items left out by the draw.
    """

    kept: int
    dropped: int


class _UserStage(Stage[_T, _R]):
    """A stage that calls one user function per item, under the error model.

    Subclasses set ``kind``, ``param`` (the function's parameter name in
    messages) and ``default_name``.
    """

    param: ClassVar[str] = "fn"
    default_name: ClassVar[str]

    def __init__(
        self,
        fn: Callable[[Any], Any],
        errors: _validate.ErrorMode,
        on_failure: OnFailure | None,
        name: str | None,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self._fn = _validate.function(self.param, fn)
        label = _validate.name(name, self.default_name)
        super().__init__(label, Failures(label, errors, on_failure), scheduler)

    @override
    def bind(self) -> Callable[..., Any]:
        return self._fn

    def stats(self) -> TransformStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        assert self._failures is not None
        return TransformStats(failed=self._failures.count)


class Filter(_UserStage[_T, _T]):
    """The operator returned by ``filter_``."""

    kind = "filter"
    param = "predicate"
    default_name = "filter"


class Map(_UserStage[_T, _R]):
    """The operator returned by ``map_``."""

    kind = "map"
    default_name = "map"


class Tap(_UserStage[_T, _T]):
    """The operator returned by ``tap_``."""

    kind = "tap"
    default_name = "tap"


def filter_(
    predicate: Callable[[_T], object],
    *,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_T], TransformStats]:
    """Keep the items for which ``predicate`` is true, in order.

    ```text
    --1--2--3--4--|
    filter_(is_even)
    -----2-----4--|
    ```

    Behavior:
        - Upstream error and completion pass straight through.
        - A raising ``predicate`` (or one whose answer raises when tested for
          truth, as a numpy array does): ``errors="raise"`` forwards the exception
          (unchanged type, with a note naming the processor and the item) and
          disposes upstream; ``errors="skip"`` drops the item, counts it in
          ``stats().failed`` and hands a ``DeadLetter`` to ``on_failure``.
        - Fuses with neighbouring ``filter_``/``map_``/``tap_``/``take_``/
          ``skip_``/``sample_``: one call per item for the whole run.
        - Emits on the thread that delivered the item; no state of its own.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4).pipe(filter_(lambda n: n % 2 == 0)))
        [2, 4]

    Args:
        predicate: Called once per item; a truthy result keeps it.
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Name in error notes, dead letters and stats; default ``"filter"``.
        scheduler: Clock for ``DeadLetter.timestamp``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> TransformStats``.

    Raises:
        TypeError: ``predicate`` or ``on_failure`` is not callable.
        ValueError: ``errors`` is not ``"raise"`` or ``"skip"``.
    """
    return Filter(predicate, errors, on_failure, name, scheduler)


def map_(
    fn: Callable[[_T], _R],
    *,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_R], TransformStats]:
    """Emit ``fn(item)`` for every item.

    ```text
    --1--2--3--|
    map_(lambda n: n * 10)
    --10-20-30-|
    ```

    Behavior:
        - Same error model, fusion and threading as ``filter_``.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3).pipe(map_(lambda n: n * 10)))
        [10, 20, 30]

    Args:
        fn: Called once per item; its result is emitted.
        errors: ``"raise"`` or ``"skip"``.
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"map"``.
        scheduler: Clock for ``DeadLetter.timestamp``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> TransformStats``.

    Raises:
        TypeError: ``fn`` or ``on_failure`` is not callable.
        ValueError: ``errors`` is not ``"raise"`` or ``"skip"``.
    """
    return Map[_T, _R](fn, errors, on_failure, name, scheduler)


def tap_(
    fn: Callable[[_T], object],
    *,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_T], TransformStats]:
    """Call ``fn(item)`` for its side effect and emit the same item unchanged.

    ```text
    --a--b--|
    tap_(print)      prints a, b
    --a--b--|
    ```

    Behavior:
        - Same error model, fusion and threading as ``filter_``. With
          ``errors="skip"`` an item whose ``fn`` raised is *not* emitted.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> seen = []
        >>> collect(rx.of("a", "b").pipe(tap_(seen.append)))
        ['a', 'b']
        >>> seen
        ['a', 'b']

    Args:
        fn: Called once per item; its result is ignored.
        errors: ``"raise"`` or ``"skip"``.
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"tap"``.
        scheduler: Clock for ``DeadLetter.timestamp``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> TransformStats``.

    Raises:
        TypeError: ``fn`` or ``on_failure`` is not callable.
        ValueError: ``errors`` is not ``"raise"`` or ``"skip"``.
    """
    return Tap(fn, errors, on_failure, name, scheduler)


class Take(Stage[Any, Any]):
    """The operator returned by ``take_``."""

    kind = "take"

    def __init__(self, count: int, name: str) -> None:
        super().__init__(name, None, None)
        self.count = count

    @override
    def bind(self) -> Callable[[], bool | None]:
        remaining = self.count

        def last() -> bool | None:
            nonlocal remaining
            if not remaining:  # an item pushed back while the last one was emitted
                return None
            remaining -= 1
            return remaining == 0

        return last

    @override
    def opens(self) -> bool:
        return self.count > 0

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        return super().__call__(source)


def take_(n: int, *, name: str | None = None) -> Take:
    """Emit the first ``n`` items, then complete at once and dispose upstream.

    ```text
    --1--2--3--4--5--
    take_(2)
    --1--2|              upstream disposed after the 2nd item
    ```

    Unlike Go streamz, completion does not wait for upstream to end.
    ``take_(0)`` completes on subscription without subscribing upstream.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.interval(0.001).pipe(take_(3)))
        [0, 1, 2]

    Args:
        n: How many items to emit (>= 0).
        name: Default ``"take"``.

    Returns:
        An operator for ``pipe()``; fuses like ``filter_``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is negative.
    """
    return Take(_validate.integer("n", n, minimum=0), _validate.name(name, "take"))


class Skip(Stage[Any, Any]):
    """The operator returned by ``skip_``."""

    kind = "filter"

    def __init__(self, count: int, name: str) -> None:
        super().__init__(name, None, None)
        self.count = count

    @override
    def bind(self) -> Callable[[object], bool]:
        remaining = self.count

        def past_skip(_item: object) -> bool:
            nonlocal remaining
            if remaining:
                remaining -= 1
                return False
            return True

        return past_skip

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        return super().__call__(source)


def skip_(n: int, *, name: str | None = None) -> Skip:
    """Drop the first ``n`` items and emit the rest.

    ```text
    --1--2--3--4--|
    skip_(2)
    --------3--4--|
    ```

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4).pipe(skip_(2)))
        [3, 4]

    Args:
        n: How many items to drop (>= 0); counted per subscription.
        name: Default ``"skip"``.

    Returns:
        An operator for ``pipe()``; fuses like ``filter_``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is negative.
    """
    return Skip(_validate.integer("n", n, minimum=0), _validate.name(name, "skip"))


class Sample(Stage[Any, Any]):
    """The operator returned by ``sample_``."""

    kind = "filter"

    def __init__(self, rate: float, seed: int | None, name: str) -> None:
        super().__init__(name, None, None)
        self.rate = rate
        self.seed = seed
        # The per-item path counts with next() on itertools.count: one C call,
        # atomic under the GIL, so concurrent subscriptions need no lock.
        # Reading a count also advances it; stats() subtracts its own reads.
        self._kept = itertools.count()
        self._dropped = itertools.count()
        self._reads = 0
        self._read_lock = threading.Lock()

    @override
    def bind(self) -> Callable[[object], bool]:
        draw = random.Random(self.seed).random
        rate = self.rate
        count_kept, count_dropped = self._kept.__next__, self._dropped.__next__

        def keep(_item: object) -> bool:
            if draw() < rate:
                count_kept()
                return True
            count_dropped()
            return False

        return keep

    def stats(self) -> SampleStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        with self._read_lock:
            reads = self._reads
            self._reads += 1
            return SampleStats(kept=next(self._kept) - reads, dropped=next(self._dropped) - reads)

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        return super().__call__(source)


def sample_(rate: float, *, seed: int | None = None, name: str | None = None) -> Sample:
    """Keep each item independently with probability ``rate``.

    A random draw per item, not a periodic sample: ``sample_(0.1)`` keeps about
    one item in ten, at random. Each subscription draws from its own
    ``random.Random(seed)``, so a fixed ``seed`` reproduces the same selection.

    ```text
    --1--2--3--4--5--|
    sample_(0.5, seed=7)
    --1-----3--4-----|      (one possible draw)
    ```

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> keep_all = sample_(1.0)
        >>> collect(rx.of(1, 2, 3).pipe(keep_all))
        [1, 2, 3]
        >>> keep_all.stats()
        SampleStats(kept=3, dropped=0)

    Args:
        rate: Probability of keeping an item, in ``[0, 1]``.
        seed: Seed of each subscription's random generator.
        name: Default ``"sample"``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> SampleStats``; fuses like
        ``filter_``.

    Raises:
        TypeError: ``rate`` is not a number or ``seed`` not an int.
        ValueError: ``rate`` is outside ``[0, 1]``.
    """
    checked = _validate.number("rate", rate, minimum=0.0, maximum=1.0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    return Sample(checked, seed, _validate.name(name, "sample"))


class Chunk:
    """The operator returned by ``chunk``."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name

    def __call__(self, source: Observable[_X]) -> Observable[list[_X]]:
        """Apply the operator to ``source``."""
        size = self.size

        def subscribe(
            observer: abc.ObserverBase[list[_X]], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            current: list[_X] = []

            def on_next(item: _X) -> None:
                nonlocal current
                current.append(item)
                if len(current) == size:
                    full, current = current, []
                    observer.on_next(full)

            def flush() -> bool:  # chunk never stops by itself: always forward
                nonlocal current
                if current:
                    rest, current = current, []
                    observer.on_next(rest)
                return True

            on_error, on_completed = _scheduling.flushing_terminals(flush, observer)
            return source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)


def chunk(size: int, *, name: str | None = None) -> Chunk:
    """Group items into lists of exactly ``size``; the last list may be shorter.

    Size only, no timer: use ``batch`` to bound latency as well.

    ```text
    --1--2--3--4--5--|
    chunk(2)
    -----a-----b-----c|     a=[1, 2]  b=[3, 4]  c=[5]
    ```

    Behavior:
        - Completion and upstream error first flush the partial list.
        - Each subscription has its own list; emits on the upstream's thread.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4, 5).pipe(chunk(2)))
        [[1, 2], [3, 4], [5]]

    Args:
        size: Items per list (>= 1).
        name: Default ``"chunk"``.

    Returns:
        An operator for ``pipe()``.

    Raises:
        TypeError: ``size`` is not an int.
        ValueError: ``size`` is less than 1.
    """
    return Chunk(_validate.integer("size", size), _validate.name(name, "chunk"))


class Unbatch:
    """The operator returned by ``unbatch`` and ``flatten``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, source: Observable[Iterable[_X]]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        label = self.name

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            stopped = False

            def stop() -> None:
                nonlocal stopped
                stopped = True

            def fail(exc: Exception, items: Iterable[_X]) -> None:
                stop()
                observer.on_error(annotate(exc, label, items))

            def on_next(items: Iterable[_X]) -> None:
                if stopped:
                    return
                try:
                    iterator = iter(items)
                except Exception as exc:
                    fail(exc, items)
                    return
                while not stopped:  # lazily: a take_ downstream stops an endless iterable
                    try:
                        element = next(iterator)
                    except StopIteration:
                        return
                    except Exception as exc:
                        fail(exc, items)
                        return
                    observer.on_next(element)

            subscription = source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )
            return CompositeDisposable(subscription, Disposable(stop))

        return Observable(subscribe)


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

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of([1, 2], [], [3]).pipe(unbatch()))
        [1, 2, 3]

    Args:
        name: Default ``"unbatch"``.

    Returns:
        An operator for ``pipe()``.
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
        An operator for ``pipe()``.
    """
    return Unbatch(_validate.name(name, "flatten"))
