import pickle

import pytest

from rxstreamz.errors import (
    BackpressureError,
    CircuitOpenError,
    PartitionError,
    RetryExhaustedError,
    RxStreamzError,
)

ERRORS = [
    BackpressureError("queue full", processor="buffer", capacity=8),
    CircuitOpenError("circuit 'db' is open"),
    RetryExhaustedError("gave up", attempts=3, item={"id": 7}),
    PartitionError("index 9 out of range", index=9, partitions=4),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling_with_attributes_and_notes(error: RxStreamzError) -> None:
    error.add_note("rxstreamz: raised in processor 'p'")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    assert copy.__notes__ == ["rxstreamz: raised in processor 'p'"]


def test_every_error_derives_from_the_base() -> None:
    assert all(isinstance(error, RxStreamzError) for error in ERRORS)
