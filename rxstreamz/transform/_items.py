"""Per-item processors: filter_, map_, tap_, take_, skip_, sample_.

All of them are *stages*: piped directly one after another they fuse into a
single subscriber (see ``rxstreamz._fusion``), which is what makes them faster
than the equivalent chain of RxPY operators; ``chunk``, ``unbatch`` and
``batch`` (``rxstreamz.chunk``, ``rxstreamz.batch``) join the same runs.

Each one's ``stats()`` accounts for every item it received, with an identity
written in its stats record (``received == emitted + filtered + failed +
dropped`` for ``filter_``), summed over every subscription and every chain the
operator object is part of.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from reactivex import Observable, abc
from typing_extensions import override

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._fusion import Stage
from rxstreamz._typing import Operator

__all__ = [
    "Filter",
    "FilterStats",
    "Map",
    "Sample",
    "SampleStats",
    "Skip",
    "SkipStats",
    "Take",
    "TakeStats",
    "Tap",
    "TransformStats",
    "filter_",
    "map_",
    "sample_",
    "skip_",
    "take_",
    "tap_",
]

_T = TypeVar("_T")
_R = TypeVar("_R")
_X = TypeVar("_X")


@dataclass(frozen=True, slots=True)
class FilterStats(ProcessorStats):
    """Counters of ``filter_``: ``received == emitted + filtered + failed + dropped``.

    Attributes:
        emitted: Items passed on.
        filtered: Items the predicate rejected.
    """

    emitted: int
    filtered: int


@dataclass(frozen=True, slots=True)
class TransformStats(ProcessorStats):
    """Counters of ``map_`` and ``tap_``: ``received == emitted + failed + dropped``.

    Attributes:
        emitted: Items passed on (``map_``: the results).
    """

    emitted: int


@dataclass(frozen=True, slots=True)
class TakeStats(ProcessorStats):
    """Counters of ``take_``: ``received == emitted + dropped``.

    Attributes:
        emitted: Items passed on, at most ``n`` per subscription.
    """

    emitted: int


@dataclass(frozen=True, slots=True)
class SkipStats(ProcessorStats):
    """Counters of ``skip_``: ``received == emitted + skipped + dropped``.

    Attributes:
        emitted: Items passed on.
        skipped: Items left out at the start of each subscription.
    """

    emitted: int
    skipped: int


@dataclass(frozen=True, slots=True)
class SampleStats(ProcessorStats):
    """Counters of ``sample_``: ``received == kept + discarded + dropped``.

    Attributes:
        kept: Items the draw kept, passed on.
        discarded: Items the draw left out (the processor's job, so not ``dropped``).
    """

    kept: int
    discarded: int


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


class Filter(_UserStage[_T, _T]):
    """The operator returned by ``filter_``."""

    kind = "filter"
    param = "predicate"
    default_name = "filter"

    def stats(self) -> FilterStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(FilterStats)


class Map(_UserStage[_T, _R]):
    """The operator returned by ``map_``."""

    kind = "map"
    default_name = "map"

    def stats(self) -> TransformStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(TransformStats)


class Tap(_UserStage[_T, _T]):
    """The operator returned by ``tap_``."""

    kind = "tap"
    default_name = "tap"

    def stats(self) -> TransformStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(TransformStats)


def filter_(
    predicate: Callable[[_T], object],
    *,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_T], FilterStats]:
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
          ``skip_``/``sample_``/``chunk``/``unbatch``: one call per item for
          the whole run.
        - Emits on the thread that delivered the item; no state of its own.
        - ``stats()``: ``received == emitted + filtered + failed + dropped``;
          ``dropped`` counts only items a misbehaving source delivered after
          the subscription stopped.

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
        An operator for ``pipe()`` with ``stats() -> FilterStats``.

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
        - ``stats()``: ``received == emitted + failed + dropped``.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> tenfold = map_(lambda n: n * 10)
        >>> collect(rx.of(1, 2, 3).pipe(tenfold))
        [10, 20, 30]
        >>> tenfold.stats()
        TransformStats(received=3, failed=0, dropped=0, emitted=3)

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
        - ``stats()``: ``received == emitted + failed + dropped``.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> seen = []
        >>> collect(rx.of("a", "b").pipe(tap_(seen.append)))
        ['a', 'b']
        >>> seen
        ['a', 'b']

    Args:
        fn: Called once per item for its side effect; what it returns is ignored.
        errors: As for ``map_``.
        on_failure: As for ``map_``.
        name: Default ``"tap"``.
        scheduler: As for ``map_``.

    Returns:
        A ``pipe()`` operator that emits the items it received; its
        ``stats()`` is a ``TransformStats``.

    Raises:
        TypeError: ``fn`` is not callable, or ``on_failure`` is given and is not.
        ValueError: ``errors`` names no error mode.
    """
    return Tap(fn, errors, on_failure, name, scheduler)


class _Passing(Stage[Any, Any]):
    """A stage without a user function whose items go on unchanged, if at all."""

    def __init__(self, name: str) -> None:
        super().__init__(name, None, None)

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        return super().__call__(source)


class _Counting(_Passing):
    """``take_`` and ``skip_``: a count of items per subscription."""

    def __init__(self, count: int, name: str) -> None:
        super().__init__(name)
        self.count = count


class Take(_Counting):
    """The operator returned by ``take_``."""

    kind = "take"

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

    def stats(self) -> TakeStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(TakeStats)


def take_(n: int, *, name: str | None = None) -> Take:
    """Emit the first ``n`` items, then complete at once and dispose upstream.

    ```text
    --1--2--3--4--5--
    take_(2)
    --1--2|              upstream disposed after the 2nd item
    ```

    Unlike Go streamz, completion does not wait for upstream to end.
    ``take_(0)`` completes on subscription without subscribing upstream.
    ``stats()``: ``received == emitted + dropped``, where ``dropped`` counts an
    item pushed back into the source while the last one was being emitted
    (ignored, as RxPY's ``take`` ignores it).

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.interval(0.001).pipe(take_(3)))
        [0, 1, 2]

    Args:
        n: How many items to emit (>= 0).
        name: Default ``"take"``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> TakeStats``; fuses like
        ``filter_``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is negative.
    """
    return Take(_validate.integer("n", n, minimum=0), _validate.name(name, "take"))


class Skip(_Counting):
    """The operator returned by ``skip_``."""

    kind = "filter"
    removed_as = "skipped"

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

    def stats(self) -> SkipStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(SkipStats)


def skip_(n: int, *, name: str | None = None) -> Skip:
    """Drop the first ``n`` items and emit the rest.

    ```text
    --1--2--3--4--|
    skip_(2)
    --------3--4--|
    ```

    ``stats()``: ``received == emitted + skipped + dropped``.

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> collect(rx.of(1, 2, 3, 4).pipe(skip_(2)))
        [3, 4]

    Args:
        n: How many items to drop (>= 0); counted per subscription.
        name: Default ``"skip"``.

    Returns:
        A fusable operator (as ``filter_``), ``stats() -> SkipStats``.

    Raises:
        TypeError: ``n`` is not an int (``True`` is refused too).
        ValueError: ``n`` is below zero.
    """
    return Skip(_validate.integer("n", n, minimum=0), _validate.name(name, "skip"))


class Sample(_Passing):
    """The operator returned by ``sample_``."""

    kind = "filter"
    removed_as = "discarded"

    def __init__(self, rate: float, seed: int | None, name: str) -> None:
        super().__init__(name)
        self.rate = rate
        self.seed = seed

    @override
    def bind(self) -> Callable[[object], bool]:
        draw = random.Random(self.seed).random
        rate = self.rate

        def keep(_item: object) -> bool:
            return draw() < rate

        return keep

    def stats(self) -> SampleStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        return self.snapshot(SampleStats, kept="emitted")


def sample_(rate: float, *, seed: int | None = None, name: str | None = None) -> Sample:
    """Keep each item independently with probability ``rate``.

    A random draw per item, not a periodic sample: ``sample_(0.1)`` keeps about
    one item in ten, at random. Each subscription draws from its own
    ``random.Random(seed)``, so a fixed ``seed`` reproduces the same selection.
    ``stats()``: ``received == kept + discarded + dropped``; the items the draw
    leaves out are ``discarded`` (the processor's job), not ``dropped``.

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
        SampleStats(received=3, failed=0, dropped=0, kept=3, discarded=0)

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
