"""``Operator``: the declared type of the operators built around a user function.

An operator is what ``Observable.pipe`` calls (``Observable[T]`` in, ``R``
out) and what ``stats()`` is read from. Its declared type has to serve both:
give ``stats()`` its record type, and let an inline ``lambda`` in
``source.pipe(filter_(lambda n: n > 0))`` take its parameter type from
``source``.

Pyright infers that lambda's parameter only when the factory's return type
is callable *as a type*: a ``Callable``, or a protocol with no member but
``__call__`` (a callback protocol). A ``Callable`` has no ``stats()``, and a
protocol that declares ``stats()`` is no longer a callback protocol. Pyright
looks for extra members only in the protocol classes of the MRO, so, for the
type checkers, ``stats()`` (and a breaker's ``state``) comes from a plain
base class: ``Operator`` stays a callback protocol for inference, and
``op.stats()`` still finds its method and type. A protocol may derive only
from protocols: both checkers report it on those lines (silenced there), and
Python refuses it at run time, so at run time ``Operator`` is an ordinary
protocol with both members. ``docs/design.md`` ("Types") gives the
alternatives and their costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from reactivex import Observable

if TYPE_CHECKING:
    from rxstreamz.resilience._breaker import CircuitBreakerOperatorStats, CircuitState

_In_contra = TypeVar("_In_contra", contravariant=True)
_Out_co = TypeVar("_Out_co", covariant=True)
_S_co = TypeVar("_S_co", covariant=True)

if TYPE_CHECKING:

    class _Stats(Generic[_S_co]):
        """Gives ``Operator`` its ``stats()`` without making it a non-callable protocol."""

        def stats(self) -> _S_co:
            """Return a snapshot of the operator's counters (all subscriptions)."""
            raise NotImplementedError

    class Operator(_Stats[_S_co], Protocol[_In_contra, _Out_co, _S_co]):  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues]
        """An operator for ``pipe()``: ``Observable[In]`` in, ``Out`` out, and ``stats() -> S``.

        ``filter_(is_valid)`` on ``int`` items is an
        ``Operator[int, Observable[int], TransformStats]``; ``split(is_valid)``
        an ``Operator[int, tuple[Observable[int], Observable[int]], SplitStats]``.
        """

        def __call__(self, source: Observable[_In_contra], /) -> _Out_co:
            """Apply the operator to ``source``."""
            ...

    class _State:
        """Gives ``BreakerOperator`` its ``state`` the way ``_Stats`` gives ``stats()``."""

        @property
        def state(self) -> CircuitState:
            """The breaker's state."""
            raise NotImplementedError

    class BreakerOperator(  # type: ignore[misc]
        _State,  # pyright: ignore[reportGeneralTypeIssues]
        Operator[_In_contra, Observable[_Out_co], CircuitBreakerOperatorStats],
        Protocol[_In_contra, _Out_co],
    ):
        """What ``circuit_breaker`` returns: an ``Operator`` with the breaker's ``state``."""

else:

    class Operator(Protocol[_In_contra, _Out_co, _S_co]):
        """An operator for ``pipe()``: ``Observable[In]`` in, ``Out`` out, and ``stats() -> S``.

        ``filter_(is_valid)`` on ``int`` items is an
        ``Operator[int, Observable[int], TransformStats]``; ``split(is_valid)``
        an ``Operator[int, tuple[Observable[int], Observable[int]], SplitStats]``.
        """

        def __call__(self, source: Observable[_In_contra], /) -> _Out_co:
            """Apply the operator to ``source``."""
            ...

        def stats(self) -> _S_co:
            """Return a snapshot of the operator's counters (all subscriptions)."""
            ...

    class BreakerOperator(Operator[_In_contra, Observable[_Out_co], object], Protocol):
        """What ``circuit_breaker`` returns: an ``Operator`` with the breaker's ``state``."""

        @property
        def state(self) -> CircuitState:
            """The breaker's state."""
            ...
