"""Bulk insert into SQLite: batches of 500, nothing lost when a batch fails.

Events are batched (500 rows, or whatever arrived within 0.2 s) and written
with one transaction per batch. A batch containing a row the database rejects
fails as a whole and is rolled back; its dead letter is fed to a second
pipeline that writes the rows one by one, so only the truly bad rows end up
as dead letters. At the end every event is either in the table or accounted
for as a dead letter.

Run: python examples/bulk_insert_sqlite.py
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

import reactivex as rx
from reactivex.subject import Subject

from rxstreamz import DeadLetter, batch, collect, dead_letter, map_, unbatch

Row = tuple[int, str, float]

SCHEMA = """
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    amount REAL NOT NULL CHECK (amount >= 0)
)
"""


class Database:
    """One SQLite connection; pipelines may call it from timer threads, so it is locked."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False)
        self._connection.execute(SCHEMA)
        self._lock = threading.Lock()

    def insert_many(self, rows: list[Row]) -> int:
        with self._lock, self._connection:  # one transaction: all rows or none
            self._connection.executemany("INSERT INTO payments VALUES (?, ?, ?)", rows)
        return len(rows)

    def insert_one(self, row: Row) -> int:
        return self.insert_many([row])

    def count(self) -> int:
        with self._lock:
            (rows,) = self._connection.execute("SELECT COUNT(*) FROM payments").fetchone()
        return int(rows)

    def close(self) -> None:
        self._connection.close()


def events(n: int) -> list[Row]:
    # Every 997th payment has a negative amount, which the CHECK constraint rejects.
    return [(i, f"acct-{i % 50}", -1.0 if i % 997 == 0 else i * 0.5) for i in range(1, n + 1)]


def main() -> None:
    rows = events(10_000)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "payments.db")

        bad_rows: list[DeadLetter[Any]] = []
        failed_batches: Subject[DeadLetter[list[Row]]] = Subject()
        row_by_row = failed_batches.pipe(
            map_(lambda letter: letter.item),
            unbatch(),
            dead_letter(db.insert_one, sink=bad_rows.append, name="insert-row"),
        )
        rescued: list[int] = []
        row_by_row.subscribe(rescued.append)

        written = collect(
            rx.from_iterable(rows).pipe(
                batch(500, max_latency=0.2),
                dead_letter(db.insert_many, sink=failed_batches, name="insert-batch"),
            )
        )
        failed_batches.on_completed()

        stored = db.count()
        db.close()

    print(f"{len(rows)} events: {sum(written)} written in {len(written)} batches,")
    print(f"{len(rescued)} rescued row by row, {len(bad_rows)} dead letters:")
    for letter in bad_rows:
        print(f"  {letter.item} -> {type(letter.error).__name__}: {letter.error}")
    assert stored == sum(written) + len(rescued)
    assert stored + len(bad_rows) == len(rows), "every event is stored or dead-lettered"
    assert [letter.item[0] for letter in bad_rows] == [i for i in range(1, 10_001) if i % 997 == 0]


if __name__ == "__main__":
    main()
