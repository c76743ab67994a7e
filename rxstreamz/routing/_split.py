"""``split``: items where a predicate is true to one branch, the others to a second."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reactivex import Observable, abc

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator
from rxstreamz.routing._hub import Accounts, Hub, HubRun, RouteRow, route_totals, to_one_branch

_T = TypeVar("_T")


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
        self._accounts = Accounts(RouteRow, 2)  # matched, unmatched

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
        outcomes = route_totals(self._accounts, one_branch=True)
        matched, unmatched = outcomes.counts
        return SplitStats(
            *outcomes.common, total=outcomes.received, matched=matched, unmatched=unmatched
        )

    def _bind(self, run: HubRun[_T]) -> Callable[[_T], None]:
        predicate = self.predicate

        def choose(item: _T) -> int:
            return 0 if predicate(item) else 1

        return to_one_branch(run, self._accounts, choose, self._failures, self._scheduler)


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
