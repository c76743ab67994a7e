"""stats_table(): one aligned row of counters per processor, in the order given."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
import reactivex as rx
from reactivex.testing import ReactiveTest, TestScheduler

from rxstreamz import buffer_, collect, partition_, sample_, stats_table
from rxstreamz._accounting import ProcessorStats


@dataclass(frozen=True, slots=True)
class WorkStats(ProcessorStats):
    emitted: int
    queued: int
    high_watermark: int


class Work:
    def __init__(self, name: str, stats: WorkStats) -> None:
        self.name = name
        self._stats = stats

    def stats(self) -> WorkStats:
        return self._stats


class Legacy(NamedTuple):
    processed: int
    ratio: float
    per_route: dict[str, int]
    state: str


class LegacyProcessor:
    """Another library's processor: no name, no common fields."""

    def stats(self) -> Legacy:
        return Legacy(processed=7, ratio=0.125, per_route={"a": 3, "b": 4}, state="open")


def test_rows_are_aligned_and_in_the_order_given() -> None:
    parse = Work("parse", WorkStats(1200, 3, 0, 1197, 0, 0))
    store = Work("store", WorkStats(1197, 0, 12, 1177, 8, 8))
    assert stats_table(store, parse) == (
        "processor  type  received  emitted  failed  dropped  other\n"
        "store      Work      1197     1177       0       12  queued=8 high_watermark=8\n"
        "parse      Work      1200     1197       3        0  queued=0 high_watermark=0"
    )


def test_a_mapping_names_its_processors() -> None:
    work = Work("ignored", WorkStats(2, 0, 0, 2, 0, 1))
    table = stats_table({"first": work}, Work("solo", WorkStats(1, 0, 0, 1, 0, 1)), {"last": work})
    assert [line.split()[0] for line in table.splitlines()] == [
        "processor",
        "first",
        "solo",
        "last",
    ]


def test_missing_fields_show_a_dash_and_other_fields_stay_compact() -> None:
    table = stats_table(LegacyProcessor())
    header, row = table.splitlines()
    assert header.split() == [
        "processor",
        "type",
        "received",
        "emitted",
        "failed",
        "dropped",
        "other",
    ]
    assert row.split() == [
        "LegacyProcessor",
        "LegacyProcessor",
        "-",
        "-",
        "-",
        "-",
        "processed=7",
        "ratio=0.125",
        "per_route={a:3,b:4}",
        "state=open",
    ]


def test_mapping_and_plain_object_snapshots() -> None:
    class Plain:
        def __init__(self) -> None:
            self.received = 4
            self.dropped = 1
            self._private = 99

    class FromMapping:
        name = "mapped"

        def stats(self) -> dict[str, int]:
            return {"kept": 2, "received": 3}

    class FromObject:
        name = "plain"

        def stats(self) -> Plain:
            return Plain()

    rows = [line.split() for line in stats_table(FromMapping(), FromObject()).splitlines()[1:]]
    assert rows == [
        ["mapped", "FromMapping", "3", "2", "-", "-"],
        ["plain", "FromObject", "4", "-", "-", "1"],
    ]


def test_a_buffer_shows_delivered_as_emitted_once(scheduler: TestScheduler) -> None:
    ingest = buffer_(4, overflow="drop_newest", name="ingest", scheduler=scheduler)
    source = scheduler.create_hot_observable(*(ReactiveTest.on_next(210, n) for n in range(6)))
    seen: list[int] = []
    source.pipe(ingest).subscribe(seen.append, scheduler=scheduler)
    scheduler.advance_to(220)
    assert seen == [0, 1, 2, 3]
    name, kind, received, emitted, failed, dropped, *other = (
        stats_table(ingest).splitlines()[1].split()
    )
    assert (name, kind, received, emitted, dropped) == ("ingest", "Buffer", "6", "4", "2")
    assert failed in ("-", "0")
    assert "queued=0" in other
    assert not any(cell.startswith("delivered=") for cell in other)


def test_real_processors_read_while_other_processors_run() -> None:
    thin = sample_(0.0, name="thin")
    shards = partition_(lambda n: n, 2, name="shards")
    assert collect(rx.range(5).pipe(thin)) == []
    table = stats_table(thin, shards)
    thin_row, shard_row = (line.split() for line in table.splitlines()[1:])
    assert (thin_row[0], thin_row[1], thin_row[3]) == ("thin", "Sample", "0"), "none kept"
    assert shard_row[:2] == ["shards", "Partition"]
    assert "per_partition=(0,0)" in shard_row


def test_file_receives_the_table_and_a_newline() -> None:
    out = io.StringIO()
    table = stats_table(Work("w", WorkStats(1, 0, 0, 1, 0, 1)), file=out)
    assert out.getvalue() == table + "\n"


def test_no_processors_is_a_header() -> None:
    assert stats_table() == "processor  type  received  emitted  failed  dropped  other"


def test_arguments_are_checked() -> None:
    untyped: Any = 3
    with pytest.raises(TypeError, match=r"'int' must have a stats\(\) method, got int"):
        stats_table(untyped)
    with pytest.raises(TypeError, match=r"'x' must have a stats\(\) method, got int"):
        stats_table({"x": untyped})
    with pytest.raises(TypeError, match=r"file must have a write\(\) method, got int"):
        stats_table(file=untyped)
