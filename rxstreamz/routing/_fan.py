"""``fan_in`` (merge several observables) and ``fan_out`` (broadcast to several branches)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats, Row
from rxstreamz._failure import Failures
from rxstreamz.routing._hub import Accounts, Count, Hub, HubRun, RouteRow, route_totals, to_branches

_T = TypeVar("_T")
_X = TypeVar("_X")


@dataclass(frozen=True, slots=True)
class FanInStats(ProcessorStats):
    """Counters of one ``fan_in`` observable (all its subscriptions).

    Every item taken from a source is passed on or dropped::

        received == sum(per_source) == emitted + dropped

    Attributes:
        emitted: Items passed downstream.
        per_source: Items taken from each source, in argument order.
        received: Items taken from the sources.
        failed: Always 0: ``fan_in`` calls no user function.
        dropped: Items a source delivered after the result had stopped (an
            error from another source, or a dispose racing the source's
            thread).
    """

    emitted: int
    per_source: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FanOutStats(ProcessorStats):
    """Counters of ``fan_out`` (all runs of the operator).

    An item is broadcast: it counts once in ``delivered`` however many
    branches it reached, and once in each branch it reached::

        received == delivered + dropped
        per_branch[i] <= delivered     (equal while branch i keeps a subscriber)

    Attributes:
        delivered: Items emitted on at least one branch.
        per_branch: Items emitted on each branch, by index; ``delivered -
            per_branch[i]`` items reached other branches after every
            subscriber of branch ``i`` had disposed.
        received: Items taken from upstream.
        failed: Always 0: ``fan_out`` calls no user function.
        dropped: Items that reached no branch: each had lost every subscriber,
            or the run had stopped (an item racing a dispose on another thread).
    """

    delivered: int
    per_branch: tuple[int, ...]


class _MergeRow(Row):
    __slots__ = ("emitted",)
    emitted: int


# --------------------------------------------------------------------------- fan_in


def _merging(
    sources: Sequence[Observable[_T]], accounts: Accounts[_MergeRow] | None
) -> Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase]:
    """Return the subscribe function merging ``sources``; see ``fan_in``.

    ``accounts`` gets each subscription's counts (``None``: counted in rows
    nobody reads, for the merge inside ``switch``).
    """

    def subscribe(
        observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        if not sources:
            observer.on_completed()
            return Disposable()
        # Reentrant: a downstream on_next may make another source emit on this thread.
        lock = threading.RLock()
        if accounts is None:
            row, counts = _MergeRow(), tuple(Count() for _ in sources)
        else:
            row, counts = rows = accounts.open()
            accounts.watch(lock, rows)  # every writer below holds the lock
        group = CompositeDisposable()
        active = len(sources)
        stopped = False

        def forward(taken: Count) -> Callable[[_T], None]:
            def on_next(item: _T) -> None:
                with lock:
                    taken.count += 1
                    if stopped:
                        row.dropped += 1
                        return
                    row.emitted += 1
                    observer.on_next(item)

            return on_next

        def on_error(exc: Exception) -> None:
            nonlocal stopped
            with lock:
                if stopped:
                    return
                stopped = True
                observer.on_error(exc)
            group.dispose()

        def on_completed() -> None:
            nonlocal active, stopped
            with lock:
                if stopped:
                    return
                active -= 1
                if active:
                    return
                stopped = True
                observer.on_completed()

        def on_dispose() -> None:
            # Not under the lock: a downstream blocked in on_next must not
            # block the dispose that releases it. A source racing this on its
            # own thread may pass the check first and emit once more.
            nonlocal stopped
            stopped = True

        group.add(Disposable(on_dispose))
        for source, taken in zip(sources, counts, strict=True):
            if stopped:
                break
            inner = SingleAssignmentDisposable()
            group.add(inner)
            inner.disposable = source.subscribe(
                forward(taken), on_error, on_completed, scheduler=scheduler
            )
        return group

    return subscribe


def merge(sources: Sequence[Observable[_T]]) -> Observable[_T]:
    """Merge ``sources`` (already validated) without counting; see ``fan_in``."""
    return Observable(_merging(sources, None))


class FanIn(Observable[_T]):
    """The observable returned by ``fan_in``: the merged sources, with ``stats()``."""

    def __init__(self, sources: tuple[Observable[_T], ...], name: str = "fan_in") -> None:
        self.sources = sources
        self.name = name
        self._accounts = Accounts(_MergeRow, len(sources))
        super().__init__(_merging(sources, self._accounts))

    def __repr__(self) -> str:
        return f"<FanIn sources={len(self.sources)}>"

    def stats(self) -> FanInStats:
        """Return a snapshot of this observable's counters (all subscriptions)."""
        totals, per_source = self._accounts.totals()
        return FanInStats(
            received=sum(per_source),
            failed=0,
            dropped=totals["dropped"],
            emitted=totals["emitted"],
            per_source=per_source,
        )


def fan_in(*sources: Observable[_T], name: str | None = None) -> FanIn[_T]:
    """Merge several observables into one.

    ```text
    a: --1-----3--|
    b: ----2-----------4--|
    fan_in(a, b)
       --1-2---3-------4--|
    ```

    Behavior:
        - Every source is subscribed, in argument order, when the result is.
        - Items are passed on as they arrive; calls downstream are serialized
          (never two at once, whichever threads the sources emit on).
        - Completes when every source has completed; ``fan_in()`` completes
          at once.
        - The first error from any source is forwarded and every other source
          is disposed. Disposing the result disposes every source.
        - Each subscription is an independent run; ``stats()`` sums them all.
        - Accounting: ``received == sum(per_source) == emitted + dropped``;
          an item is dropped only when a source delivers it after the result
          has stopped (see ``FanInStats``).

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> merged = fan_in(rx.of(1, 2), rx.of(3))
        >>> collect(merged)
        [1, 2, 3]
        >>> merged.stats()
        FanInStats(received=3, failed=0, dropped=0, emitted=3, per_source=(2, 1))

    Args:
        *sources: The observables to merge.
        name: Names the result in metric labels (its ``name``); default
            ``"fan_in"``.

    Returns:
        One observable of every source's items (a ``FanIn``, an
        ``Observable`` with ``stats() -> FanInStats``).

    Raises:
        TypeError: A source is not an ``Observable``, or ``name`` is not a str.
        ValueError: ``name`` is empty.
    """
    for index, source in enumerate(sources):
        if not isinstance(source, Observable):
            raise TypeError(f"sources[{index}] must be an Observable, got {type(source).__name__}")
    return FanIn(sources, _validate.name(name, "fan_in"))


# --------------------------------------------------------------------------- fan_out


class FanOut:
    """The operator returned by ``fan_out``."""

    def __init__(self, n: int, name: str = "fan_out") -> None:
        self.n = n
        self.name = name
        self._accounts = Accounts(RouteRow, n)
        self._failures = Failures(name, "raise", None)  # unused: nothing user-made can fail
        everyone = tuple(range(n))
        self._everyone: Callable[[object], tuple[int, ...]] = lambda _item: everyone

    def __call__(self, source: Observable[_X]) -> tuple[Observable[_X], ...]:
        """Apply the operator to ``source``: ``n`` branches."""
        labels = tuple(f"{self.name!r}[{index}]" for index in range(self.n))
        return Hub(source, labels, self._bind).branches

    def __repr__(self) -> str:
        return f"<FanOut n={self.n}>"

    def stats(self) -> FanOutStats:
        """Return a snapshot of this operator's counters (all runs)."""
        outcomes = route_totals(self._accounts, one_branch=False)
        return FanOutStats(*outcomes.common, delivered=outcomes.routed, per_branch=outcomes.counts)

    def _bind(self, run: HubRun[_X]) -> Callable[[_X], None]:
        return to_branches(run, self._accounts, self._everyone, self._failures, None)


def fan_out(n: int, *, name: str | None = None) -> FanOut:
    """Broadcast every item to ``n`` branches.

    ```text
    --1--2--|
    fan_out(2)
    [0] --1--2--|
    [1] --1--2--|      each item reaches [0] first, then [1]
    ```

    Behavior:
        - Upstream is subscribed once, when the last of the ``n`` branches is
          subscribed; **if a branch is never subscribed, nothing flows**.
        - Each item is delivered synchronously to branch 0, then branch 1, ...
          on the upstream's thread (a slow branch slows all).
        - Completion and errors reach every branch; disposing every branch
          disposes upstream, disposing some of them does not.
        - After a run ends, subscribing every branch again starts a new run.
        - Accounting: ``received == delivered + dropped``, where ``delivered``
          counts items that reached at least one branch and ``per_branch``
          what each branch received (see ``FanOutStats``).

    Examples:
        >>> import reactivex as rx
        >>> copies = fan_out(2)
        >>> left, right = rx.of(1, 2).pipe(copies)
        >>> log = []
        >>> _ = right.subscribe(lambda n: log.append(("right", n)))
        >>> _ = left.subscribe(lambda n: log.append(("left", n)))
        >>> log
        [('left', 1), ('right', 1), ('left', 2), ('right', 2)]
        >>> copies.stats()
        FanOutStats(received=2, failed=0, dropped=0, delivered=2, per_branch=(2, 2))

    Args:
        n: The number of branches (>= 1).
        name: Names the branches (``<Branch 'fan_out'[0]>``) and the
            operator in metric labels; default ``"fan_out"``.

    Returns:
        An operator for ``pipe()`` returning a tuple of ``n`` observables,
        with ``stats() -> FanOutStats``.

    Raises:
        TypeError: ``n`` is not an int, or ``name`` is not a str.
        ValueError: ``n`` is less than 1, or ``name`` is empty.
    """
    return FanOut(_validate.integer("n", n), _validate.name(name, "fan_out"))
