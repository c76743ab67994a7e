"""Fixtures: virtual time and thread-leak checks.

The plain helpers live in ``tests/support.py`` and are imported from there
(``from tests.support import at, on_next``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from reactivex.testing import TestScheduler

from tests.support import no_new_threads

# Properties assert behaviour, never speed: a loaded machine must not turn a
# slow example into a failure (Hypothesis's default deadline is 200 ms).
settings.register_profile("rxstreamz", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rxstreamz")


@pytest.fixture
def scheduler() -> TestScheduler:
    """A fresh virtual-time scheduler (its clock counts seconds from the epoch)."""
    return TestScheduler()


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fail the test if it leaves a thread running that was not there before it."""
    with no_new_threads():
        yield
