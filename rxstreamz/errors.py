"""Exceptions raised by rxstreamz itself.

Every exception rxstreamz creates derives from one base class:

```text
RxStreamzError            catch-all for failures that rxstreamz itself detects
├── BackpressureError     a bounded queue is full under overflow="error", or
│                         blocking the producer would deadlock
├── CircuitOpenError      a circuit breaker rejected an item while open
├── RetryExhaustedError   retry_ made max_attempts calls and all failed;
│                         the last failure is its __cause__
└── PartitionError        a partitioner returned an index outside [0, n)
```

Exceptions raised by *your* functions (predicates, mappers, key functions,
callbacks) are never wrapped: they reach ``on_error`` unchanged in type, with a
PEP 678 note naming the processor and the item, so ``except ValueError`` keeps
working and ``traceback`` shows where in the pipeline the failure happened.

Invalid arguments to a factory raise the builtin ``TypeError`` or ``ValueError``
at call time; they are not ``RxStreamzError`` subclasses.
"""

from __future__ import annotations

__all__ = [
    "BackpressureError",
    "CircuitOpenError",
    "PartitionError",
    "RetryExhaustedError",
    "RxStreamzError",
]


class RxStreamzError(Exception):
    """Base class of every exception that rxstreamz raises on its own."""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword-only attributes, which Exception's own
        # pickling (``cls(*args)``) cannot pass back: rebuild from the state.
        return (_rebuild, (type(self), self.args, self.__dict__))


class BackpressureError(RxStreamzError):
    """A bounded queue could not take another item.

    Raised (through ``on_error``) when a queue with ``overflow="error"`` is
    full, or when a ``"block"`` queue is full and blocking would deadlock: the
    producer runs on the thread that drains the queue, or under a virtual-time
    scheduler.

    Attributes:
        processor: The name of the processor whose queue overflowed.
        capacity: The queue's capacity.
    """

    def __init__(self, message: str, *, processor: str, capacity: int) -> None:
        super().__init__(message)
        self.processor = processor
        self.capacity = capacity


class CircuitOpenError(RxStreamzError):
    """A circuit breaker rejected an item because the circuit is open."""


class RetryExhaustedError(RxStreamzError):
    """``retry_`` made every allowed attempt and the last one failed.

    Attributes:
        attempts: How many calls were made.
        item: The item that could not be processed.
    """

    def __init__(self, message: str, *, attempts: int, item: object) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.item = item


class PartitionError(RxStreamzError):
    """A partitioner returned an index outside ``[0, n)``.

    Attributes:
        index: The index the partitioner returned.
        partitions: The number of partitions.
    """

    def __init__(self, message: str, *, index: object, partitions: int) -> None:
        super().__init__(message)
        self.index = index
        self.partitions = partitions


def _rebuild(
    cls: type[RxStreamzError], args: tuple[object, ...], state: dict[str, object]
) -> RxStreamzError:
    """Recreate an exception with keyword-only attributes (for pickling across processes)."""
    exc = RxStreamzError.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc
