"""``switch``: run each item through the operator of the first case it matches; merge."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from reactivex import Observable, abc

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator
from rxstreamz.routing._fan import merge
from rxstreamz.routing._hub import Accounts, Hub, HubRun, RouteRow, route_totals, to_one_branch
from rxstreamz.routing._routes import entries, first_match

_T = TypeVar("_T")
_R = TypeVar("_R")

Case: TypeAlias = tuple[Callable[[_T], object], Callable[[Observable[_T]], Observable[_R]]]
"""One ``switch`` case: a predicate and the operator its items go through."""


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
        self._accounts = Accounts(RouteRow, len(self._operators))
        self._choose = first_match(predicates, None if default is None else len(predicates))

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
            return merge(outputs).subscribe(observer, scheduler=scheduler)

        return Observable(subscribe)

    def __repr__(self) -> str:
        return f"<Switch {self.name!r} cases={len(self._predicates)}>"

    def stats(self) -> SwitchStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        outcomes = route_totals(self._accounts, one_branch=True)
        counts, cases = outcomes.counts, len(self._predicates)
        return SwitchStats(
            *outcomes.common,
            total=outcomes.received,
            per_case=counts[:cases],
            defaulted=counts[cases] if self._default is not None else 0,
            unmatched=outcomes.unrouted,
        )

    def _bind(self, run: HubRun[_T]) -> Callable[[_T], None]:
        return to_one_branch(run, self._accounts, self._choose, self._failures, self._scheduler)


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
          output, or an upstream error, fails the result.
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
    names, predicates, operators = entries("cases", cases, pairs=True)
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
