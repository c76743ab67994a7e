"""Shared fixtures: virtual time, message builders, thread-leak checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from reactivex.testing import TestScheduler


@pytest.fixture
def scheduler() -> TestScheduler:
    """A fresh virtual-time scheduler (its clock counts seconds from the epoch)."""
    return TestScheduler()


def wait_for_threads(before: set[threading.Thread], timeout: float = 5.0) -> list[threading.Thread]:
    """Wait until no thread outside ``before`` is alive; return the ones still alive.

    Bounded polling (not a sleep-and-hope): returns as soon as the threads are
    gone, fails after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.005)


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fail the test if it leaves a thread running that was not there before it."""
    before = set(threading.enumerate())
    yield
    leaked = wait_for_threads(before)
    assert not leaked, f"threads outlived the test: {leaked}"
