"""Routing: fan_in, fan_out, partition_, split, router, switch.

``fan_in`` merges several observables into one. The others are *branching*
processors: applied to one source they return several branch observables
(a tuple or a dict), or, for ``switch``, run each item through one of several
operators and merge the results back into one observable.

Every branching processor follows the same rules:

* Upstream is subscribed **once**, and only when every branch has been
  subscribed, so no branch misses an item. **A branch that is never
  subscribed holds everything back: nothing flows.** (So do not ``collect``
  one branch alone: it would wait forever for the others.)
* Each item is delivered synchronously on the upstream's thread, in branch
  order (branch 0 first, whatever order the branches were subscribed in): a
  slow branch slows them all.
* Completion and errors, including a routing function that raises, reach
  every branch. Disposing every branch disposes upstream; disposing some of
  them does not (a disposed branch simply stops receiving).
* Once a run has ended (completed, failed, or every branch disposed),
  subscribing all the branches again subscribes upstream again: a fresh run.

Every item taken from upstream is accounted for in ``stats()``: it is
emitted on one branch (several for ``fan_out`` and ``router(mode="all")``),
left unrouted by design (``unrouted``, ``unmatched``), failed, or dropped.
Nothing is ever held, so the only drops are an item whose branch has lost
every subscriber and an item offered after its run stopped. Each stats
record states its identity, such as ``received == sum(per_partition) +
failed + dropped``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats, Row
from rxstreamz._branches import Accounts, Count, Hub, Run
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator
from rxstreamz.errors import PartitionError

__all__ = [
    "FanIn",
    "FanInStats",
    "FanOut",
    "FanOutStats",
    "Partition",
    "PartitionStats",
    "Router",
    "RouterStats",
    "Split",
    "SplitStats",
    "Switch",
    "SwitchStats",
    "fan_in",
    "fan_out",
    "fnv1a_32",
    "partition_",
    "router",
    "split",
    "switch",
]

_T = TypeVar("_T")
_R = TypeVar("_R")
_X = TypeVar("_X")

RouteMode = Literal["first", "all"]
"""``router`` delivery: to the first matching route only, or to every match."""

_MODES: tuple[RouteMode, ...] = ("first", "all")

Case: TypeAlias = tuple[Callable[[_T], object], Callable[[Observable[_T]], Observable[_R]]]
"""One ``switch`` case: a predicate and the operator its items go through."""


# --------------------------------------------------------------------------- stats


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


@dataclass(frozen=True, slots=True)
class PartitionStats(ProcessorStats):
    """Counters of ``partition_`` (all runs of the operator).

    Each item has exactly one outcome::

        received == sum(per_partition) + failed + dropped

    Attributes:
        total: The same as ``received`` (the name the first releases used).
        per_partition: Items emitted on each partition, by index.
        balance: Population variance / mean of ``per_partition`` (0 when
            nothing was routed): 0 for a perfectly even spread.
        received: Items taken from upstream.
        failed: Items whose key function or partitioner failed, or whose
            partition index was invalid (in both ``errors`` modes).
        dropped: Items routed to a partition that had lost every subscriber,
            or offered after the run had stopped.
    """

    total: int
    per_partition: tuple[int, ...]
    balance: float


@dataclass(frozen=True, slots=True)
class SplitStats(ProcessorStats):
    """Counters of ``split`` (all runs of the operator).

    Each item has exactly one outcome::

        received == matched + unmatched + failed + dropped

    Attributes:
        total: The same as ``received`` (the name the first releases used).
        matched: Items emitted on the first branch.
        unmatched: Items emitted on the second branch.
        received: Items taken from upstream.
        failed: Items whose predicate raised (in both ``errors`` modes).
        dropped: Items whose branch had lost every subscriber, or offered
            after the run had stopped.
    """

    total: int
    matched: int
    unmatched: int


@dataclass(frozen=True, slots=True)
class RouterStats(ProcessorStats):
    """Counters of ``router`` (all runs of the operator).

    Each item has exactly one outcome; under ``mode="all"`` a routed item
    may be emitted on several routes, and counts in each of them::

        received == routed + unrouted + failed + dropped
        sum(per_route) >= routed       (equal under mode="first")

    Attributes:
        total: The same as ``received`` (the name the first releases used).
        per_route: Items emitted per route name, in route order (with
            ``"default"`` last when the router has one).
        routed: Items emitted on at least one route.
        unrouted: Items that matched no route, without a default route.
        received: Items taken from upstream.
        failed: Items whose predicate raised (in both ``errors`` modes).
        dropped: Items whose every matching route had lost all its
            subscribers, or offered after the run had stopped.
    """

    total: int
    per_route: dict[str, int]
    routed: int
    unrouted: int


@dataclass(frozen=True, slots=True)
class SwitchStats(ProcessorStats):
    """Counters of ``switch`` (all subscriptions).

    Each item has exactly one outcome::

        received == sum(per_case) + defaulted + unmatched + failed + dropped

    The counts are of items handed to the case operators; what those
    operators emit, hold or filter is theirs to count.

    Attributes:
        total: The same as ``received`` (the name the first releases used).
        per_case: Items handed to each case's operator, in case order.
        defaulted: Items handed to the default operator.
        unmatched: Items that matched no case, without a default.
        received: Items taken from upstream.
        failed: Items whose predicate raised (in both ``errors`` modes).
        dropped: Items for a case whose operator had stopped listening (it
            completed early, like ``take_``), or offered after the
            subscription had stopped.
    """

    total: int
    per_case: tuple[int, ...]
    defaulted: int
    unmatched: int


class _MergeRow(Row):
    __slots__ = ("emitted",)
    emitted: int


class _BroadcastRow(Row):
    __slots__ = ("delivered",)
    delivered: int


class _RouteRow(Row):
    __slots__ = ("routed", "unrouted")
    routed: int
    unrouted: int


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

        def stop() -> None:
            # Not under the lock: a downstream blocked in on_next must not
            # block the dispose that releases it. A source racing this on its
            # own thread may pass the check first and emit once more.
            nonlocal stopped
            stopped = True

        group.add(Disposable(stop))
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


def _merge(sources: Sequence[Observable[_T]]) -> Observable[_T]:
    """Merge ``sources`` (already validated) without counting; see ``fan_in``."""
    return Observable(_merging(sources, None))


class FanIn(Observable[_T]):
    """The observable returned by ``fan_in``: the merged sources, with ``stats()``."""

    def __init__(self, sources: tuple[Observable[_T], ...]) -> None:
        self.sources = sources
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


def fan_in(*sources: Observable[_T]) -> FanIn[_T]:
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

    Returns:
        One observable of every source's items (a ``FanIn``, an
        ``Observable`` with ``stats() -> FanInStats``).

    Raises:
        TypeError: A source is not an ``Observable``.
    """
    for index, source in enumerate(sources):
        if not isinstance(source, Observable):
            raise TypeError(f"sources[{index}] must be an Observable, got {type(source).__name__}")
    return FanIn(sources)


# --------------------------------------------------------------------------- fan_out


class FanOut:
    """The operator returned by ``fan_out``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._accounts = Accounts(_BroadcastRow, n)

    def __call__(self, source: Observable[_X]) -> tuple[Observable[_X], ...]:
        """Apply the operator to ``source``: ``n`` branches."""
        labels = tuple(f"'fan_out'[{index}]" for index in range(self.n))
        return Hub(source, labels, self._bind).branches

    def __repr__(self) -> str:
        return f"<FanOut n={self.n}>"

    def stats(self) -> FanOutStats:
        """Return a snapshot of this operator's counters (all runs)."""
        totals, per_branch = self._accounts.totals()
        return FanOutStats(
            received=totals["received"],
            failed=0,
            dropped=totals["dropped"],
            delivered=totals["delivered"],
            per_branch=per_branch,
        )

    def _bind(self, run: Run[_X]) -> Callable[[_X], None]:
        rows = self._accounts.open()
        row, counts = rows
        slots = run.slots

        def on_next(item: _X) -> None:
            row.received += 1
            reached = False
            if not run.stopped:
                # zip reads each slot when it gets there: an earlier branch's
                # subscriber may dispose a later branch while handling the item.
                for emitted, observers in zip(counts, slots, strict=True):
                    if observers:
                        emitted.count += 1
                        reached = True
                        for observer in observers:
                            observer.on_next(item)
            if reached:
                row.delivered += 1
            else:
                row.dropped += 1

        self._accounts.watch(on_next, rows)
        return on_next


def fan_out(n: int) -> FanOut:
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

    Returns:
        An operator for ``pipe()`` returning a tuple of ``n`` observables,
        with ``stats() -> FanOutStats``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is less than 1.
    """
    return FanOut(_validate.integer("n", n))


# --------------------------------------------------------------------------- partition_


def fnv1a_32(key: object) -> int:
    """Return the 32-bit FNV-1a hash of ``key``, the default partition hash.

    A ``str`` is hashed as its UTF-8 bytes, ``bytes``/``bytearray``/
    ``memoryview`` as they are, anything else as ``str(key)`` (so ``7`` and
    ``"7"`` hash alike). Unlike the builtin ``hash()``, the result is the same
    in every process and on every run.

    Examples:
        >>> fnv1a_32("cust-1")
        1492871556
        >>> hex(fnv1a_32(b"a"))
        '0xe40c292c'

    Args:
        key: The value to hash.

    Returns:
        An int in ``[0, 2**32)``.
    """
    if isinstance(key, str):
        return _fnv1a_str(key)
    if isinstance(key, bytes):
        return _fnv1a_bytes(key)
    if isinstance(key, bytearray | memoryview):
        return _fnv1a_bytes(bytes(cast("bytearray | memoryview[int]", key)))
    return _fnv1a_str(str(key))


def _fnv1a_bytes(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


@functools.lru_cache(maxsize=4096)
def _fnv1a_str(key: str) -> int:
    # Cached: partition keys (customer ids, tenants, ...) usually repeat.
    return _fnv1a_bytes(key.encode("utf-8", "surrogatepass"))


class Partition(Generic[_T]):
    """The operator returned by ``partition_``."""

    def __init__(
        self,
        key: Callable[[_T], object],
        n: int,
        partitioner: Callable[[Any, int], int] | None,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.key = key
        self.n = n
        self.partitioner = partitioner
        self.name = failures.processor
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)
        self._accounts = Accounts(Row, n)

    def __call__(self, source: Observable[_T]) -> tuple[Observable[_T], ...]:
        """Apply the operator to ``source``: ``n`` partition branches."""
        labels = tuple(f"{self.name!r}[{index}]" for index in range(self.n))
        return Hub(source, labels, self._bind).branches

    def __repr__(self) -> str:
        return f"<Partition {self.name!r} n={self.n}>"

    def stats(self) -> PartitionStats:
        """Return a snapshot of this operator's counters (all runs)."""
        totals, counts = self._accounts.totals()
        routed = sum(counts)
        mean = routed / len(counts)
        balance = 0.0 if routed == 0 else sum((c - mean) ** 2 for c in counts) / len(counts) / mean
        return PartitionStats(
            received=totals["received"],
            failed=totals["failed"],
            dropped=totals["dropped"],
            total=totals["received"],
            per_partition=counts,
            balance=balance,
        )

    def _invalid(self, index: object) -> PartitionError:
        return PartitionError(
            f"partitioner of {self.name!r} returned {index!r}; expected an int in [0, {self.n})",
            index=index,
            partitions=self.n,
        )

    def _bind(self, run: Run[_T]) -> Callable[[_T], None]:
        key = self.key
        n = self.n
        partitioner = self.partitioner
        rows = self._accounts.open()
        row, counts = rows
        slots = run.slots
        failures = self._failures
        own_scheduler = self._scheduler

        def on_next(item: _T) -> None:
            row.received += 1
            if run.stopped:
                row.dropped += 1
                return
            try:
                if partitioner is None:
                    index = fnv1a_32(key(item)) % n
                else:
                    index = partitioner(key(item), n)
                    if type(index) is not int or not 0 <= index < n:
                        # Checked inside the try: an int subclass may raise from
                        # its comparisons, a failure of the partitioner like any other.
                        if (
                            isinstance(index, bool)
                            or not isinstance(index, int)
                            or not 0 <= index < n
                        ):
                            raise self._invalid(index)
                        index = int(index)  # an int subclass such as IntEnum
            except Exception as exc:
                row.failed += 1
                run.fail(failures, own_scheduler, exc, item)
                return
            observers = slots[index]
            if observers:
                counts[index].count += 1
                for observer in observers:
                    observer.on_next(item)
            else:
                row.dropped += 1

        self._accounts.watch(on_next, rows)
        return on_next


def partition_(
    key: Callable[[_T], object],
    n: int = 4,
    *,
    partitioner: Callable[[Any, int], int] | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, tuple[Observable[_T], ...], PartitionStats]:
    """Route each item to one of ``n`` branches chosen by its key.

    The branch is ``partitioner(key(item), n)``; by default
    ``fnv1a_32(key(item)) % n`` (FNV-1a 32-bit of the key's UTF-8 bytes; see
    ``fnv1a_32``), so a key always lands in the same partition, in every
    process. Items of one partition keep their order.

    ```text
    --a1--b1--a2--c1--|          key = the letter
    partition_(key, 2)
    [0] --a1------a2------|
    [1] ------b1------c1--|
    ```

    Behavior:
        - Upstream is subscribed once, when the last branch is subscribed;
          **if a branch is never subscribed, nothing flows**.
        - Items are delivered synchronously on the upstream's thread; a slow
          partition slows all.
        - Completion and errors reach every branch; disposing every branch
          disposes upstream, disposing some of them does not (an item routed
          to a branch that has lost every subscriber is counted as dropped).
        - A partitioner result that is not an int in ``[0, n)`` (Go silently
          uses 0) is a failure of that item: a ``PartitionError`` with
          ``index`` and ``partitions``.
        - A failing key function or partitioner, or an invalid index:
          ``errors="raise"`` sends the exception (with a note naming the
          processor and the item) to every branch and disposes upstream;
          ``errors="skip"`` drops the item, counts it in ``stats().failed``
          and hands a ``DeadLetter`` to ``on_failure``.
        - After a run ends, subscribing every branch again starts a new run.
        - Accounting: each item has one outcome,
          ``received == sum(per_partition) + failed + dropped``; nothing is
          held, so a dispose drops nothing in flight (see ``PartitionStats``).

    Examples:
        >>> import reactivex as rx
        >>> by_parity = partition_(lambda n: n, 2, partitioner=lambda k, n: k % n)
        >>> even, odd = rx.of(1, 2, 3, 4, 5).pipe(by_parity)
        >>> got = {0: [], 1: []}
        >>> _ = even.subscribe(got[0].append)
        >>> _ = odd.subscribe(got[1].append)
        >>> got
        {0: [2, 4], 1: [1, 3, 5]}
        >>> stats = by_parity.stats()
        >>> stats.per_partition, stats.balance, stats.received
        ((2, 3), 0.1, 5)

    Args:
        key: Returns the routing key of an item.
        n: Number of partitions (>= 1).
        partitioner: ``partitioner(key, n)`` returns the partition index;
            default FNV-1a 32-bit modulo ``n``.
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Name in error notes, dead letters and stats; default ``"partition"``.
        scheduler: Clock for ``DeadLetter.timestamp``; default the scheduler
            given to ``subscribe()``.

    Returns:
        An operator for ``pipe()`` returning a tuple of ``n`` observables,
        with ``stats() -> PartitionStats``.

    Raises:
        TypeError: ``key``, ``partitioner`` or ``on_failure`` is not callable,
            or ``n`` is not an int.
        ValueError: ``n`` is less than 1, or ``errors`` is not ``"raise"`` or ``"skip"``.
    """
    checked_key = _validate.function("key", key)
    count = _validate.integer("n", n)
    checked_partitioner = _validate.optional_function("partitioner", partitioner)
    label = _validate.name(name, "partition")
    return Partition(
        checked_key, count, checked_partitioner, Failures(label, errors, on_failure), scheduler
    )


# --------------------------------------------------------------------------- split


class Split(Generic[_T]):
    """The operator returned by ``split``."""

    def __init__(
        self,
        predicate: Callable[[_T], object],
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.predicate = predicate
        self.name = failures.processor
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)
        self._accounts = Accounts(Row, 2)  # matched, unmatched

    def __call__(self, source: Observable[_T]) -> tuple[Observable[_T], Observable[_T]]:
        """Apply the operator to ``source``: ``(matched, unmatched)``."""
        label = repr(self.name)
        matched, unmatched = Hub(
            source, (f"{label}.matched", f"{label}.unmatched"), self._bind
        ).branches
        return matched, unmatched

    def __repr__(self) -> str:
        return f"<Split {self.name!r}>"

    def stats(self) -> SplitStats:
        """Return a snapshot of this operator's counters (all runs)."""
        totals, (matched, unmatched) = self._accounts.totals()
        return SplitStats(
            received=totals["received"],
            failed=totals["failed"],
            dropped=totals["dropped"],
            total=totals["received"],
            matched=matched,
            unmatched=unmatched,
        )

    def _bind(self, run: Run[_T]) -> Callable[[_T], None]:
        predicate = self.predicate
        rows = self._accounts.open()
        row, counts = rows
        slots = run.slots
        failures = self._failures
        own_scheduler = self._scheduler

        def on_next(item: _T) -> None:
            row.received += 1
            if run.stopped:
                row.dropped += 1
                return
            try:
                branch = 0 if predicate(item) else 1
            except Exception as exc:
                row.failed += 1
                run.fail(failures, own_scheduler, exc, item)
                return
            observers = slots[branch]
            if observers:
                counts[branch].count += 1
                for observer in observers:
                    observer.on_next(item)
            else:
                row.dropped += 1

        self._accounts.watch(on_next, rows)
        return on_next


def split(
    predicate: Callable[[_T], object],
    *,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, tuple[Observable[_T], Observable[_T]], SplitStats]:
    """Send items where ``predicate`` is true to one branch, the others to a second.

    ```text
    --1--2--3--4--|
    split(is_even)
    matched   -----2-----4--|
    unmatched --1-----3-----|
    ```

    Behavior:
        - The same branching rules as ``partition_``: upstream is
          subscribed once both branches are (**if one is never subscribed,
          nothing flows**); synchronous delivery; completion and errors reach
          both; disposing both disposes upstream.
        - A raising ``predicate`` (or one whose answer raises when tested for
          truth, as a numpy array does): ``errors="raise"`` sends the exception to
          both branches; ``errors="skip"`` drops the item, counts it and hands
          a ``DeadLetter`` to ``on_failure``.
        - Accounting: ``received == matched + unmatched + failed + dropped``,
          where ``dropped`` counts items whose branch had lost every
          subscriber (see ``SplitStats``).

    Examples:
        >>> import reactivex as rx
        >>> parity = split(lambda n: n % 2 == 0)
        >>> evens, odds = rx.of(1, 2, 3, 4, 5).pipe(parity)
        >>> log = []
        >>> _ = evens.subscribe(lambda n: log.append(("even", n)))
        >>> _ = odds.subscribe(lambda n: log.append(("odd", n)))
        >>> log
        [('odd', 1), ('even', 2), ('odd', 3), ('even', 4), ('odd', 5)]
        >>> parity.stats()
        SplitStats(received=5, failed=0, dropped=0, total=5, matched=2, unmatched=3)

    Args:
        predicate: Called once per item; truthy sends it to ``matched``.
        errors: ``"raise"`` or ``"skip"``.
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"split"``.
        scheduler: Clock for ``DeadLetter.timestamp``.

    Returns:
        An operator for ``pipe()`` returning ``(matched, unmatched)``, with
        ``stats() -> SplitStats``.

    Raises:
        TypeError: ``predicate`` or ``on_failure`` is not callable.
        ValueError: ``errors`` is not ``"raise"`` or ``"skip"``.
    """
    checked = _validate.function("predicate", predicate)
    label = _validate.name(name, "split")
    return Split(checked, Failures(label, errors, on_failure), scheduler)


# --------------------------------------------------------------------------- router


def _callable(where: str, value: object) -> Callable[[Any], Any]:
    if not callable(value):
        raise TypeError(f"{where} must be callable, got {type(value).__name__}")
    return value


def _entries(
    param: str, entries: object, *, pairs: bool
) -> tuple[tuple[str, ...], tuple[Callable[[Any], Any], ...], tuple[Callable[[Any], Any], ...]]:
    """Validate ``routes``/``cases``: their names, predicates and (for pairs) operators."""
    items: list[tuple[str, str, object]]  # (name, where, entry)
    if isinstance(entries, Mapping):
        items = []
        for label, entry in cast("Mapping[object, object]", entries).items():
            if not isinstance(label, str):
                raise TypeError(f"{param} keys must be str, got {type(label).__name__}")
            items.append((label, f"{param}[{label!r}]", entry))
    elif pairs and isinstance(entries, Sequence) and not isinstance(entries, str | bytes):
        sequence = cast("Sequence[object]", entries)
        items = [(str(index), f"{param}[{index}]", entry) for index, entry in enumerate(sequence)]
    else:
        expected = (
            "a mapping or a sequence of (predicate, operator) pairs" if pairs else "a mapping"
        )
        raise TypeError(f"{param} must be {expected}, got {type(entries).__name__}")
    if not items:
        raise ValueError(f"{param} must not be empty")
    names: list[str] = []
    predicates: list[Callable[[Any], Any]] = []
    operators: list[Callable[[Any], Any]] = []
    for label, where, entry in items:
        names.append(label)
        if not pairs:
            predicates.append(_callable(where, entry))
            continue
        got = type(entry).__name__
        pair = cast("tuple[object, ...]", entry) if isinstance(entry, tuple) else None
        if pair is None or len(pair) != 2:
            raise TypeError(f"{where} must be a (predicate, operator) pair, got {got}")
        predicate, operator = pair
        predicates.append(_callable(f"{where} predicate", predicate))
        operators.append(_callable(f"{where} operator", operator))
    return tuple(names), tuple(predicates), tuple(operators)


class Router(Generic[_T]):
    """The operator returned by ``router``."""

    def __init__(
        self,
        names: tuple[str, ...],
        predicates: tuple[Callable[[_T], object], ...],
        default: bool,
        mode: RouteMode,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.names = (*names, "default") if default else names
        self.default = default
        self.mode: RouteMode = mode
        self.name = failures.processor
        self._predicates = predicates
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)
        self._accounts = Accounts(_RouteRow, len(self.names))

    def __call__(self, source: Observable[_T]) -> dict[str, Observable[_T]]:
        """Apply the operator to ``source``: one observable per route name."""
        labels = tuple(f"{self.name!r}[{route!r}]" for route in self.names)
        branches = Hub(source, labels, self._bind).branches
        return dict(zip(self.names, branches, strict=True))

    def __repr__(self) -> str:
        return f"<Router {self.name!r} routes={list(self.names)!r} mode={self.mode!r}>"

    def stats(self) -> RouterStats:
        """Return a snapshot of this operator's counters (all runs)."""
        totals, counts = self._accounts.totals()
        # Under "first" an emitted item reached one route: the per-route
        # counts already say how many were routed, so on_next skips that count.
        routed = sum(counts) if self.mode == "first" else totals["routed"]
        return RouterStats(
            received=totals["received"],
            failed=totals["failed"],
            dropped=totals["dropped"],
            total=totals["received"],
            per_route=dict(zip(self.names, counts, strict=True)),
            routed=routed,
            unrouted=totals["unrouted"],
        )

    def _bind(self, run: Run[_T]) -> Callable[[_T], None]:
        fallback = len(self._predicates) if self.default else None
        rows = self._accounts.open()
        failures = self._failures
        own_scheduler = self._scheduler
        if self.mode == "first":
            on_next = _first_match(run, self._predicates, fallback, rows, failures, own_scheduler)
            self._accounts.watch(on_next, rows)
            return on_next
        row, counts = rows
        predicates = tuple(enumerate(self._predicates))
        slots = run.slots

        def every_match(item: _T) -> None:
            row.received += 1
            if run.stopped:
                row.dropped += 1
                return
            try:  # every predicate runs before any delivery
                targets = [index for index, predicate in predicates if predicate(item)]
            except Exception as exc:
                row.failed += 1
                run.fail(failures, own_scheduler, exc, item)
                return
            if not targets:
                if fallback is None:
                    row.unrouted += 1
                    return
                targets.append(fallback)
            reached = False
            for index in targets:
                observers = slots[index]  # read now: a delivery may dispose a later route
                if observers:
                    counts[index].count += 1
                    reached = True
                    for observer in observers:
                        observer.on_next(item)
            if reached:
                row.routed += 1
            else:
                row.dropped += 1

        self._accounts.watch(every_match, rows)
        return every_match


def router(
    routes: Mapping[str, Callable[[_T], object]],
    *,
    default: bool = False,
    mode: RouteMode = "first",
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, dict[str, Observable[_T]], RouterStats]:
    """Send each item to the named route(s) whose predicate it satisfies.

    Predicates are tried in the mapping's order. ``mode="first"`` delivers to
    the first match only; ``mode="all"`` to every match (in route order).
    An item that matches nothing goes to the ``"default"`` route when
    ``default=True``, else it is dropped and counted in ``stats().unrouted``.

    ```text
    --2--3--6--7--|
    router({"two": div2, "three": div3}, mode="all")
    two   --2-----6-----|
    three -----3--6-----|        7: unrouted
    ```

    Behavior:
        - The same branching rules as ``partition_``: upstream is
          subscribed once every route (and ``"default"``) is (**if one is
          never subscribed, nothing flows**); synchronous delivery in route
          order; completion and errors reach every route; disposing every
          route disposes upstream.
        - A raising predicate: ``errors="raise"`` sends the exception to every
          route; ``errors="skip"`` drops the item (even from routes it had
          already matched under ``mode="all"``: predicates run before any
          delivery), counts it and hands a ``DeadLetter`` to ``on_failure``.
        - Accounting: ``received == routed + unrouted + failed + dropped``,
          each item counted once. ``per_route`` counts emissions: under
          ``mode="all"`` one item emitted on two routes counts once in
          ``routed`` and once in each route, so ``sum(per_route) >= routed``.
          An item whose matching routes have all lost their subscribers is
          dropped (see ``RouterStats``).

    Examples:
        >>> import reactivex as rx
        >>> by_size = router({"small": lambda n: n < 10}, default=True)
        >>> routes = rx.of(3, 30, 4).pipe(by_size)
        >>> log = []
        >>> _ = routes["default"].subscribe(lambda n: log.append(("default", n)))
        >>> _ = routes["small"].subscribe(lambda n: log.append(("small", n)))
        >>> log
        [('small', 3), ('default', 30), ('small', 4)]
        >>> stats = by_size.stats()
        >>> stats.per_route, stats.routed, stats.received
        ({'small': 2, 'default': 1}, 3, 3)

    Args:
        routes: Route name -> predicate, tried in insertion order (not empty).
        default: Add a ``"default"`` route for items that match nothing.
        mode: ``"first"`` or ``"all"`` (see above).
        errors: ``"raise"`` or ``"skip"``.
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"router"``.
        scheduler: Clock for ``DeadLetter.timestamp``.

    Returns:
        An operator for ``pipe()`` returning a dict route name -> observable
        (``"default"`` last), with ``stats() -> RouterStats``.

    Raises:
        TypeError: ``routes`` is not a mapping of str to callables, ``default``
            is not a bool, or ``on_failure`` is not callable.
        ValueError: ``routes`` is empty, a route is named ``"default"`` while
            ``default=True``, or ``mode``/``errors`` is not an allowed value.
    """
    names, predicates, _ = _entries("routes", routes, pairs=False)
    if not isinstance(default, bool):
        raise TypeError(f"default must be a bool, got {type(default).__name__}")
    if default and "default" in names:
        raise ValueError('routes must not contain "default" when default=True')
    checked_mode: RouteMode = _validate.choice("mode", mode, _MODES)
    label = _validate.name(name, "router")
    return Router(
        names, predicates, default, checked_mode, Failures(label, errors, on_failure), scheduler
    )


# --------------------------------------------------------------------------- switch


class Switch(Generic[_T, _R]):
    """The operator returned by ``switch``."""

    def __init__(
        self,
        names: tuple[str, ...],
        predicates: tuple[Callable[[_T], object], ...],
        operators: tuple[Callable[[Observable[_T]], Observable[_R]], ...],
        default: Callable[[Observable[_T]], Observable[_R]] | None,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.names = names
        self.name = failures.processor
        self._predicates = predicates
        self._operators = operators if default is None else (*operators, default)
        self._default = default
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)
        self._accounts = Accounts(_RouteRow, len(self._operators))

    def __call__(self, source: Observable[_T]) -> Observable[_R]:
        """Apply the operator to ``source``: the merged outputs of every case."""
        labels = tuple(f"{self.name!r}[{case!r}]" for case in self.names)
        if self._default is not None:
            labels = (*labels, f"{self.name!r}[default]")
        operators = self._operators

        def subscribe(
            observer: abc.ObserverBase[_R], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            # A hub per subscription: two subscriptions are two independent runs.
            branches = Hub(source, labels, self._bind).branches
            outputs: list[Observable[_R]] = []
            for label, operator, branch in zip(labels, operators, branches, strict=True):
                output = operator(branch)
                if not isinstance(output, Observable):
                    raise TypeError(
                        f"the operator of {label} returned {type(output).__name__}, "
                        "not an Observable"
                    )
                outputs.append(output)
            return _merge(outputs).subscribe(observer, scheduler=scheduler)

        return Observable(subscribe)

    def __repr__(self) -> str:
        return f"<Switch {self.name!r} cases={len(self._predicates)}>"

    def stats(self) -> SwitchStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        totals, counts = self._accounts.totals()
        cases = len(self._predicates)
        return SwitchStats(
            received=totals["received"],
            failed=totals["failed"],
            dropped=totals["dropped"],
            total=totals["received"],
            per_case=counts[:cases],
            defaulted=counts[cases] if self._default is not None else 0,
            unmatched=totals["unrouted"],
        )

    def _bind(self, run: Run[_T]) -> Callable[[_T], None]:
        fallback = len(self._predicates) if self._default is not None else None
        rows = self._accounts.open()
        on_next = _first_match(
            run, self._predicates, fallback, rows, self._failures, self._scheduler
        )
        self._accounts.watch(on_next, rows)
        return on_next


def _first_match(
    run: Run[_T],
    predicates: Sequence[Callable[[_T], object]],
    fallback: int | None,
    rows: tuple[_RouteRow, tuple[Count, ...]],
    failures: Failures,
    own_scheduler: abc.SchedulerBase | None,
) -> Callable[[_T], None]:
    """Return the upstream ``on_next`` that routes each item to its first matching branch.

    The branch of the first predicate that accepts the item, else ``fallback``
    (the default branch, or ``None``: nowhere, counted as unrouted). ``rows``
    are the run's outcome row and its per-branch counts; ``routed`` is left
    to the per-branch counts (one branch per emitted item).
    """
    indexed = tuple(enumerate(predicates))
    slots = run.slots
    row, counts = rows

    def on_next(item: _T) -> None:
        row.received += 1
        if run.stopped:
            row.dropped += 1
            return
        target = fallback
        try:
            for index, predicate in indexed:
                if predicate(item):
                    target = index
                    break
        except Exception as exc:
            row.failed += 1
            run.fail(failures, own_scheduler, exc, item)
            return
        if target is None:
            row.unrouted += 1
            return
        observers = slots[target]
        if observers:
            counts[target].count += 1
            for observer in observers:
                observer.on_next(item)
        else:
            row.dropped += 1

    return on_next


def switch(
    cases: Sequence[Case[_T, _R]] | Mapping[str, Case[_T, _R]],
    *,
    default: Callable[[Observable[_T]], Observable[_R]] | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_R], SwitchStats]:
    """Run each item through the operator of the first case it matches; merge the results.

    ``cases`` is an ordered sequence of ``(predicate, operator)`` pairs, or a
    mapping name -> pair. An item goes to the first case whose predicate is
    true, else to ``default`` (an operator) if given, else it is dropped and
    counted in ``stats().unmatched``. Every case's output (and the
    default's) is merged into the one result observable.

    ```text
    --1--2--3--4--|
    switch([(is_even, ops.map(lambda n: n * 10))], default=ops.map(str))
    --'1'--20--'3'--40--|
    ```

    Behavior:
        - Each subscription applies every case operator to its own branch,
          subscribes their outputs, and subscribes upstream once all the
          branches are subscribed (a case operator that never subscribes its
          input therefore holds everything back).
        - With synchronous case operators the output keeps the input order.
        - Upstream completion completes every branch; the result completes
          when every case output has completed (so operators that flush, like
          ``chunk``, emit their rest first). The first error from a case
          output, or an upstream error, ends the result.
        - A raising predicate: ``errors="raise"`` fails the result (the
          exception reaches every case); ``errors="skip"`` drops the item,
          counts it and hands a ``DeadLetter`` to ``on_failure``.
        - Disposing the result disposes every case and upstream. Items for a
          case whose operator has stopped listening (``take_`` completed) are
          counted as dropped.
        - Accounting: each item has one outcome, ``received == sum(per_case)
          + defaulted + unmatched + failed + dropped``; ``per_case`` and
          ``defaulted`` count items handed to the case operators, which
          account for what they hold or filter themselves (see ``SwitchStats``).

    Examples:
        >>> import reactivex as rx
        >>> from reactivex import operators as ops
        >>> from rxstreamz import collect
        >>> by_sign = switch(
        ...     [(lambda n: n < 0, ops.map(lambda n: f"neg {-n}"))],
        ...     default=ops.map(lambda n: f"pos {n}"),
        ... )
        >>> collect(rx.of(1, -2, 3).pipe(by_sign))
        ['pos 1', 'neg 2', 'pos 3']
        >>> stats = by_sign.stats()
        >>> stats.per_case, stats.defaulted, stats.received
        ((1,), 2, 3)

    Args:
        cases: ``(predicate, operator)`` pairs in priority order, or a mapping
            name -> pair (insertion order); not empty.
        default: Operator for items that match no case.
        errors: ``"raise"`` or ``"skip"``.
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"switch"``.
        scheduler: Clock for ``DeadLetter.timestamp``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> SwitchStats``.

    Raises:
        TypeError: ``cases`` is not a sequence of pairs or a mapping of str to
            pairs of callables, or ``default``/``on_failure`` is not callable.
        ValueError: ``cases`` is empty or ``errors`` is not an allowed value.
    """
    names, predicates, operators = _entries("cases", cases, pairs=True)
    checked_default = _validate.optional_function("default", default)
    label = _validate.name(name, "switch")
    return Switch(
        names,
        predicates,
        operators,
        checked_default,
        Failures(label, errors, on_failure),
        scheduler,
    )
