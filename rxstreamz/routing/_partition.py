"""``partition_``: route each item to one of ``n`` branches by its key; ``fnv1a_32``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from reactivex import Observable, abc

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator
from rxstreamz.errors import PartitionError
from rxstreamz.routing._hub import Accounts, Hub, HubRun, RouteRow, route_totals, to_one_branch

_T = TypeVar("_T")


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
        self._accounts = Accounts(RouteRow, n)
        self._choose = self._choosing()

    def __call__(self, source: Observable[_T]) -> tuple[Observable[_T], ...]:
        """Apply the operator to ``source``: ``n`` partition branches."""
        labels = tuple(f"{self.name!r}[{index}]" for index in range(self.n))
        return Hub(source, labels, self._bind).branches

    def __repr__(self) -> str:
        return f"<Partition {self.name!r} n={self.n}>"

    def stats(self) -> PartitionStats:
        """Return a snapshot of this operator's counters (all runs)."""
        outcomes = route_totals(self._accounts, one_branch=True)
        counts, routed = outcomes.counts, outcomes.routed
        mean = routed / len(counts)
        balance = 0.0 if routed == 0 else sum((c - mean) ** 2 for c in counts) / len(counts) / mean
        return PartitionStats(
            *outcomes.common, total=outcomes.received, per_partition=counts, balance=balance
        )

    def _invalid(self, index: object) -> PartitionError:
        return PartitionError(
            f"partitioner of {self.name!r} returned {index!r}; expected an int in [0, {self.n})",
            index=index,
            partitions=self.n,
        )

    def _bind(self, run: HubRun[_T]) -> Callable[[_T], None]:
        return to_one_branch(run, self._accounts, self._choose, self._failures, self._scheduler)

    def _choosing(self) -> Callable[[_T], int]:
        """Return the function giving an item's partition index (validated)."""
        key = self.key
        n = self.n
        partitioner = self.partitioner
        if partitioner is None:
            return lambda item: fnv1a_32(key(item)) % n

        def choose(item: _T) -> int:
            index = partitioner(key(item), n)
            if type(index) is not int or not 0 <= index < n:
                # Checked here, a failure of the partitioner like any other:
                # an int subclass may raise from its comparisons.
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
                    raise self._invalid(index)
                index = int(index)  # an int subclass such as IntEnum
            return index

        return choose


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
