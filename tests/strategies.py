"""Hypothesis strategies shared by the test suite."""

from __future__ import annotations

from typing import Literal

from hypothesis import strategies as st

Kind = Literal["filter", "map", "take", "skip"]
Step = tuple[Kind, int]
"""A stateless stage and its argument: modulus, multiplier or count."""


def chains(max_size: int = 6) -> st.SearchStrategy[list[Step]]:
    """Random chains of filter/map/take/skip stages."""
    filters: list[Kind] = ["filter"]
    maps: list[Kind] = ["map"]
    counts: list[Kind] = ["take", "skip"]
    step: st.SearchStrategy[Step] = st.one_of(
        st.tuples(st.sampled_from(filters), st.integers(2, 5)),
        st.tuples(st.sampled_from(maps), st.integers(-3, 3)),
        st.tuples(st.sampled_from(counts), st.integers(0, 10)),
    )
    return st.lists(step, min_size=1, max_size=max_size)
