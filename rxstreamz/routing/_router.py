"""``router``: send each item to the named route(s) whose predicate it satisfies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from reactivex import Observable, abc

from rxstreamz import _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator
from rxstreamz.routing._hub import (
    Accounts,
    Hub,
    HubRun,
    RouteRow,
    route_totals,
    to_branches,
    to_one_branch,
)
from rxstreamz.routing._routes import entries, every_match, first_match

_T = TypeVar("_T")

RouteMode = Literal["first", "all"]
"""``router`` delivery: to the first matching route only, or to every match."""

_MODES: tuple[RouteMode, ...] = ("first", "all")


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
        self._accounts = Accounts(RouteRow, len(self.names))
        fallback = len(predicates) if default else None
        self._first = first_match(predicates, fallback)
        self._every = every_match(predicates, fallback)  # all run before any delivery

    def __call__(self, source: Observable[_T]) -> dict[str, Observable[_T]]:
        """Apply the operator to ``source``: one observable per route name."""
        labels = tuple(f"{self.name!r}[{route!r}]" for route in self.names)
        branches = Hub(source, labels, self._bind).branches
        return dict(zip(self.names, branches, strict=True))

    def __repr__(self) -> str:
        return f"<Router {self.name!r} routes={list(self.names)!r} mode={self.mode!r}>"

    def stats(self) -> RouterStats:
        """Return a snapshot of this operator's counters (all runs)."""
        outcomes = route_totals(self._accounts, one_branch=self.mode == "first")
        return RouterStats(
            *outcomes.common,
            total=outcomes.received,
            per_route=dict(zip(self.names, outcomes.counts, strict=True)),
            routed=outcomes.routed,
            unrouted=outcomes.unrouted,
        )

    def _bind(self, run: HubRun[_T]) -> Callable[[_T], None]:
        if self.mode == "first":
            return to_one_branch(run, self._accounts, self._first, self._failures, self._scheduler)
        return to_branches(run, self._accounts, self._every, self._failures, self._scheduler)


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
    names, predicates, _ = entries("routes", routes, pairs=False)
    _validate.flag("default", default)
    if default and "default" in names:
        raise ValueError('routes must not contain "default" when default=True')
    checked_mode: RouteMode = _validate.choice("mode", mode, _MODES)
    label = _validate.name(name, "router")
    return Router(
        names, predicates, default, checked_mode, Failures(label, errors, on_failure), scheduler
    )
