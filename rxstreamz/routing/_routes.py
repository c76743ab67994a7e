"""What ``router`` and ``switch`` share: their routes or cases, and how a branch is chosen."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

_T = TypeVar("_T")


def _callable(where: str, value: object) -> Callable[[Any], Any]:
    if not callable(value):
        raise TypeError(f"{where} must be callable, got {type(value).__name__}")
    return value


def entries(
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


def first_match(
    predicates: Sequence[Callable[[_T], object]], fallback: int | None
) -> Callable[[_T], int | None]:
    """Return the function giving the index of the first predicate an item satisfies.

    ``fallback`` when none does: the default branch, or ``None`` (nowhere).
    """
    indexed = tuple(enumerate(predicates))

    def choose(item: _T) -> int | None:
        for index, predicate in indexed:
            if predicate(item):
                return index
        return fallback

    return choose


def every_match(
    predicates: Sequence[Callable[[_T], object]], fallback: int | None
) -> Callable[[_T], list[int]]:
    """Return the function giving the indexes of every predicate an item satisfies.

    ``[fallback]`` when none does (the default branch), or ``[]`` when
    ``fallback`` is ``None``.
    """
    indexed = tuple(enumerate(predicates))
    otherwise = [] if fallback is None else [fallback]

    def choose(item: _T) -> list[int]:
        targets = [index for index, predicate in indexed if predicate(item)]
        return targets or otherwise

    return choose
