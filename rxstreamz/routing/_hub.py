"""The shared upstream behind every branching processor.

``fan_out``, ``partition_``, ``split``, ``router`` and ``switch`` turn one
upstream into several *branch* observables. One ``Hub`` is created each
time such an operator is applied to a source; it owns the branches and the
*run* currently in progress:

* **pending**: a run starts when the first branch is subscribed. Upstream is
  not subscribed yet; subscribers are collected per branch.
* **running**: when every branch has at least one subscriber, upstream is
  subscribed once (with the scheduler given to that last ``subscribe()``).
  Each item is handed to its branch(es) synchronously, in branch order,
  whatever order the branches were subscribed in. A subscriber joining a
  branch now receives the items from then on (as with ``share()``).
* **ended**: upstream completed or failed (the signal reaches every
  subscriber of every branch, in branch order), a routing function failed in
  ``errors="raise"`` mode, or every subscriber of every branch disposed
  (upstream is then disposed). The next subscription starts a fresh pending
  run, so subscribing all branches again re-runs a cold upstream.

A branch that is never subscribed keeps its run pending: nothing flows.

The choice of branches is the processor's: ``Hub`` calls ``bind(run)``
once per run to get the upstream ``on_next``, which ``to_one_branch``
(``partition_``, ``split``, ``router(mode="first")``, ``switch``) or
``to_branches`` (``fan_out``, ``router(mode="all")``) builds around the
processor's ``choose``. That function reads ``run.slots`` (one tuple of
observers per branch, replaced copy-on-write under the hub's lock) without
locking, and counts into the rows that ``Accounts.open`` gave the run, also
without locking: a run's ``on_next`` calls never overlap (the Rx contract),
so only ``stats()`` and the start of a run take the counters' locks. That
keeps a lock acquisition off the per-item path, which measured about a
third of the routing cost. For the same reason each item is counted once,
in its outcome (``received`` is their sum, see ``route_totals``), and the
two loops repeat their first lines (a stopped run, a failing ``choose``):
sharing them would cost a call per item.

A run's rows are folded into the totals once its ``on_next`` has been
garbage collected, not when the run ends: an upstream on another thread may
still be inside ``on_next`` while the last branch is disposed, and the item
it is handling must be counted (emitted or dropped) in a row that still
counts.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, NamedTuple, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SingleAssignmentDisposable
from typing_extensions import override

from rxstreamz import _scheduling
from rxstreamz._accounting import Ledger, Row
from rxstreamz._failure import Failures

_T = TypeVar("_T")
_W = TypeVar("_W", bound=Row)


class Branch(Observable[_T]):
    """One output of a branching processor."""

    def __init__(
        self,
        subscribe: Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase],
        label: str,
    ) -> None:
        super().__init__(subscribe)
        self._label = label

    @override
    def __repr__(self) -> str:
        return f"<Branch {self._label}>"


class HubRun(Generic[_T]):
    """One subscription of upstream, shared by every branch subscriber."""

    __slots__ = ("hub", "scheduler", "slots", "started", "stopped", "upstream")

    def __init__(self, hub: Hub[_T], count: int) -> None:
        self.hub = hub
        self.slots: list[tuple[abc.ObserverBase[_T], ...]] = [()] * count
        self.started = False
        self.stopped = False
        self.scheduler: abc.SchedulerBase | None = None
        self.upstream = SingleAssignmentDisposable()

    def fail(self, exc: Exception) -> None:
        """Fail the run with ``exc`` on every branch (upstream error or raise mode)."""
        self.hub.complete_or_fail(self, exc)

    def complete(self) -> None:
        """Complete the run on every branch."""
        self.hub.complete_or_fail(self, None)

    def handle_failure(
        self,
        failures: Failures,
        own_scheduler: abc.SchedulerBase | None,
        exc: Exception,
        item: object,
    ) -> None:
        """Apply the processor's error policy to a routing function's exception."""
        clock = _scheduling.resolve(own_scheduler, self.scheduler)
        failures.forward(exc, item, clock, self.fail)


class Hub(Generic[_T]):
    """One upstream shared by several branches; see the module docstring."""

    __slots__ = ("_bind", "_lock", "_run", "_source", "branches")

    def __init__(
        self,
        source: Observable[_T],
        labels: tuple[str, ...],
        bind: Callable[[HubRun[_T]], Callable[[_T], None]],
    ) -> None:
        self._source = source
        self._bind = bind
        self._lock = threading.Lock()
        self._run: HubRun[_T] | None = None
        self.branches: tuple[Branch[_T], ...] = tuple(
            Branch(self._subscriber(index), label) for index, label in enumerate(labels)
        )

    def _subscriber(
        self, index: int
    ) -> Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase]:
        def subscribe(
            observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return self._attach(index, observer, scheduler)

        return subscribe

    def _attach(
        self, index: int, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        with self._lock:
            run = self._run
            if run is None:
                run = self._run = HubRun(self, len(self.branches))
            run.slots[index] = (*run.slots[index], observer)
            on_next: Callable[[_T], None] | None = None
            if not run.started and all(run.slots):
                run.started = True
                run.scheduler = scheduler
                on_next = self._bind(run)
        subscription = Disposable(lambda: self._detach(run, index, observer))
        if on_next is not None:
            # Outside the lock: a synchronous upstream delivers from here, and
            # its subscribers may subscribe or dispose branches re-entrantly.
            run.upstream.disposable = self._source.subscribe(
                on_next, run.fail, run.complete, scheduler=scheduler
            )
        return subscription

    def _detach(self, run: HubRun[_T], index: int, observer: abc.ObserverBase[_T]) -> None:
        with self._lock:
            if run.stopped:
                return
            slot = run.slots[index]
            for position, attached in enumerate(slot):
                if attached is observer:
                    run.slots[index] = slot[:position] + slot[position + 1 :]
                    break
            if any(run.slots):
                return
            run.stopped = True  # every subscriber of every branch has gone
            if self._run is run:
                self._run = None
        run.upstream.dispose()

    def complete_or_fail(self, run: HubRun[_T], exc: Exception | None) -> None:
        """Dispose ``run``'s upstream, then complete (``exc`` None) or fail every subscriber.

        Subscribers are signalled in branch order.
        """
        with self._lock:
            if run.stopped:
                return
            run.stopped = True
            if self._run is run:
                self._run = None
            slots = tuple(run.slots)
        run.upstream.dispose()
        # Every subscriber gets the signal even if one of them raises (an
        # observer without on_error re-raises the error): the first such
        # exception propagates once all have been signalled.
        raised: Exception | None = None
        for slot in slots:
            for observer in slot:
                try:
                    if exc is None:
                        observer.on_completed()
                    else:
                        observer.on_error(exc)
                except Exception as failure:
                    raised = raised or failure
        if raised is not None:
            raise raised


class Count(Row):
    """One branch's counter in one run (or one source's, for ``fan_in``)."""

    __slots__ = ("count",)
    count: int


class Accounts(Generic[_W]):
    """An operator's counters: item outcomes in ``_W`` rows, plus one count per branch.

    Each run (or subscription) gets a row of ``row_type`` and one ``Count``
    per branch from ``open``; only that run writes them, without a lock.
    ``watch`` folds them into the totals once the run's writer (its
    ``on_next``, or any object its writers keep alive) is garbage collected,
    when nothing can write them any more. Until then they are live rows,
    which the totals include.

    Args:
        row_type: The row of item outcomes (``received``, ``failed``,
            ``dropped`` and the processor's own fields).
        branches: How many per-branch counts each run keeps.
    """

    __slots__ = ("_branches", "_ledger", "_retiring")

    def __init__(self, row_type: type[_W], branches: int) -> None:
        self._ledger = Ledger(row_type)
        self._branches = tuple(Ledger(Count) for _ in range(branches))
        # Rows whose writer is gone; folded in by the next open() or totals(),
        # never by the finalizer itself, which may run (at garbage collection)
        # on a thread that already holds a ledger's lock.
        self._retiring: deque[tuple[_W, tuple[Count, ...]]] = deque()

    def open(self) -> tuple[_W, tuple[Count, ...]]:
        """Return a new run's outcome row and its per-branch counts."""
        self._fold_retiring()
        return self._ledger.open(), tuple(ledger.open() for ledger in self._branches)

    def watch(self, writer: object, rows: tuple[_W, tuple[Count, ...]]) -> None:
        """Retire ``rows`` once ``writer`` has been garbage collected."""
        weakref.finalize(writer, self._retiring.append, rows)

    def totals(self) -> tuple[dict[str, int], tuple[int, ...]]:
        """Return the outcome fields and the per-branch counts, over every run."""
        self._fold_retiring()
        return self._ledger.totals(), tuple(ledger.totals()["count"] for ledger in self._branches)

    def _fold_retiring(self) -> None:
        while self._retiring:
            try:
                row, counts = self._retiring.popleft()
            except IndexError:  # another thread folded it first
                return
            self._ledger.retire(row)
            for ledger, count in zip(self._branches, counts, strict=True):
                ledger.retire(count)


class RouteRow(Row):
    """A run's item outcomes, for the processors that choose branches per item.

    ``received`` stays 0: every item is counted once, in its outcome, and
    ``route_totals`` adds them up.
    """

    __slots__ = ("routed", "unrouted")
    routed: int
    unrouted: int


def to_one_branch(
    run: HubRun[_T],
    accounts: Accounts[RouteRow],
    choose: Callable[[_T], int | None],
    failures: Failures,
    own_scheduler: abc.SchedulerBase | None,
) -> Callable[[_T], None]:
    """Return ``run``'s upstream ``on_next``, sending each item to the branch ``choose`` picks.

    ``choose(item)`` returns a branch index, or ``None``: the item is counted
    as unrouted. An exception from it is a failure of the item, under the
    processor's policy. An item for a branch without subscribers, or offered
    after the run stopped, is dropped. The run's rows are opened here and
    retired once the returned function is collected.

    ``routed`` is left to the per-branch counts (one branch per emitted
    item): with ``received`` derived, an emitted item costs one increment.
    """
    rows = accounts.open()
    row, counts = rows
    slots = run.slots

    def on_next(item: _T) -> None:
        if run.stopped:
            row.dropped += 1
            return
        try:
            index = choose(item)
        except Exception as exc:
            row.failed += 1
            run.handle_failure(failures, own_scheduler, exc, item)
            return
        if index is None:
            row.unrouted += 1
            return
        observers = slots[index]
        if observers:
            counts[index].count += 1
            for observer in observers:
                observer.on_next(item)
        else:
            row.dropped += 1

    accounts.watch(on_next, rows)
    return on_next


def to_branches(
    run: HubRun[_T],
    accounts: Accounts[RouteRow],
    choose: Callable[[_T], Sequence[int]],
    failures: Failures,
    own_scheduler: abc.SchedulerBase | None,
) -> Callable[[_T], None]:
    """Return ``run``'s upstream ``on_next``, sending each item to every branch ``choose`` picks.

    As ``to_one_branch``, but ``choose(item)`` returns the branch indexes,
    in delivery order (none: unrouted), and is called before any delivery.
    The item counts once in ``routed`` if it reached a branch, else once in
    ``dropped``, and once in the count of each branch it reached.
    """
    rows = accounts.open()
    row, counts = rows
    slots = run.slots

    def on_next(item: _T) -> None:
        if run.stopped:
            row.dropped += 1
            return
        try:
            targets = choose(item)
        except Exception as exc:
            row.failed += 1
            run.handle_failure(failures, own_scheduler, exc, item)
            return
        if not targets:
            row.unrouted += 1
            return
        reached = False
        for index in targets:
            # Read when reached: an earlier branch's subscriber may dispose a
            # later branch while handling the item.
            observers = slots[index]
            if observers:
                counts[index].count += 1
                reached = True
                for observer in observers:
                    observer.on_next(item)
        if reached:
            row.routed += 1
        else:
            row.dropped += 1

    accounts.watch(on_next, rows)
    return on_next


class Outcomes(NamedTuple):
    """A branching processor's outcomes over every run (``route_totals``)."""

    received: int
    failed: int
    dropped: int
    routed: int
    unrouted: int
    counts: tuple[int, ...]
    """Per branch: the items emitted on it."""

    @property
    def common(self) -> tuple[int, int, int]:
        """``(received, failed, dropped)``: the first fields of every stats record."""
        return self.received, self.failed, self.dropped


def route_totals(accounts: Accounts[RouteRow], *, one_branch: bool) -> Outcomes:
    """Add up the rows of ``to_one_branch`` (``one_branch``) or ``to_branches``.

    An item routed by ``to_one_branch`` counts in one branch only, so
    ``routed`` is the sum of the per-branch counts. Every item has exactly
    one outcome: ``received == routed + unrouted + failed + dropped``.
    """
    totals, counts = accounts.totals()
    routed = sum(counts) if one_branch else totals["routed"]
    unrouted, failed, dropped = totals["unrouted"], totals["failed"], totals["dropped"]
    received = routed + unrouted + failed + dropped
    return Outcomes(received, failed, dropped, routed, unrouted, counts)
