import dataclasses
import threading

import pytest

from rxstreamz._accounting import Ledger, ProcessorStats, Row, fields_of


class QueueRow(Row):
    __slots__ = ("emitted", "high_watermark")
    emitted: int
    high_watermark: int


def test_fields_are_the_common_ones_first() -> None:
    assert fields_of(Row) == ("dropped", "failed", "received")
    assert fields_of(QueueRow) == ("dropped", "failed", "received", "emitted", "high_watermark")


def test_a_new_row_starts_at_zero() -> None:
    row = QueueRow()
    assert [getattr(row, name) for name in fields_of(QueueRow)] == [0, 0, 0, 0, 0]


def test_totals_span_live_and_retired_rows() -> None:
    ledger = Ledger(QueueRow, maxima=("high_watermark",))
    first, second = ledger.open(), ledger.open()
    first.received, first.emitted, first.high_watermark = 5, 4, 3
    second.received, second.dropped, second.high_watermark = 2, 2, 7
    ledger.retire(first)
    ledger.retire(first)  # retiring twice counts once
    assert ledger.totals() == {
        "dropped": 2,
        "failed": 0,
        "received": 7,
        "emitted": 4,
        "high_watermark": 7,
    }
    ledger.retire(second)
    second.received += 100  # a retired row no longer counts
    assert ledger.totals()["received"] == 7


def test_maxima_must_name_fields() -> None:
    with pytest.raises(ValueError, match=r"maxima names fields Row lacks: \['depth'\]"):
        Ledger(Row, maxima=("depth",))


def test_snapshots_while_rows_open_and_retire_on_other_threads() -> None:
    ledger = Ledger(Row)

    def run() -> None:
        for _ in range(200):
            row = ledger.open()
            row.received += 3
            row.failed += 1
            ledger.retire(row)

    workers = [threading.Thread(target=run) for _ in range(4)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        totals = ledger.totals()
        assert totals["received"] >= totals["failed"]
    for worker in workers:
        worker.join(10)
    assert ledger.totals() == {"dropped": 0, "failed": 800, "received": 2400}


def test_the_common_record_is_frozen() -> None:
    stats = ProcessorStats(received=1, failed=0, dropped=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.received = 2  # pyright: ignore[reportAttributeAccessIssue]
