"""Log alerts: per-minute error rates over a log file, with an alert above a threshold.

The script writes a day's worth of synthetic access-log lines to a temporary
file, then replays them at their own timestamps on a HistoricalScheduler: the
pipeline runs in virtual time, so a whole day of per-minute windows is
computed in a fraction of a second and the result is exactly reproducible.
Run the same pipeline on a live tail with the default scheduler instead.

Run: python examples/log_alerts.py
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import reactivex as rx
from reactivex import abc
from reactivex.scheduler import HistoricalScheduler

from rxstreamz import StreamStats, Window, filter_, map_, monitor, tumbling_window

START = datetime(2026, 3, 1, tzinfo=UTC)
THRESHOLD = 0.20  # alert when more than 20 % of a minute's requests failed


@dataclass(frozen=True)
class Request:
    at: datetime
    status: int
    path: str


def write_log(path: Path, minutes: int = 120, seed: int = 7) -> int:
    """Write a log with an outage between minutes 40 and 44; return the line count."""
    rng = random.Random(seed)
    lines: list[str] = []
    for minute in range(minutes):
        failure_rate = 0.6 if 40 <= minute < 44 else 0.02
        for _ in range(rng.randint(20, 60)):
            at = START + timedelta(minutes=minute, seconds=rng.uniform(0, 60))
            status = 500 if rng.random() < failure_rate else 200
            lines.append(f"{at.isoformat()} {status} /api/orders/{rng.randint(1, 999)}")
    lines.sort()
    lines.insert(17, "garbage line that no parser understands")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def parse(line: str) -> Request:
    stamp, status, path = line.split(" ")
    return Request(datetime.fromisoformat(stamp), int(status), path)


def replay(lines: list[str], scheduler: HistoricalScheduler) -> rx.Observable[str]:
    """Emit each line at its own timestamp on the virtual clock."""

    def subscribe(
        observer: abc.ObserverBase[str], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        for line in lines:
            due = datetime.fromisoformat(line.split(" ", 1)[0]) if line[:4].isdigit() else None
            scheduler.schedule_absolute(
                due or scheduler.now, lambda *_, v=line: observer.on_next(v)
            )
        last = datetime.fromisoformat(lines[-1].split(" ", 1)[0])
        return scheduler.schedule_absolute(last, lambda *_: observer.on_completed())

    return rx.Observable(subscribe)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        total = write_log(log)
        lines = log.read_text().splitlines()

    scheduler = HistoricalScheduler(START)
    skipped: list[object] = []
    reports: list[StreamStats] = []
    alerts: list[str] = []

    def check(window: Window[Request]) -> None:
        errors = sum(1 for r in window.items if r.status >= 500)
        rate = errors / len(window.items)
        if rate > THRESHOLD:
            seen = len(window.items)
            alerts.append(
                f"ALERT {window.start:%H:%M}: {errors}/{seen} requests failed ({rate:.0%})"
            )

    replay(lines, scheduler).pipe(
        map_(parse, errors="skip", on_failure=skipped.append, name="parse"),
        filter_(lambda r: r.path.startswith("/api/")),
        monitor(timedelta(minutes=30), reports.append, name="requests"),
        tumbling_window(timedelta(minutes=1)),
    ).subscribe(check, scheduler=scheduler)
    scheduler.start()

    print(f"{total} log lines, {len(skipped)} unparseable line skipped")
    for report in reports:
        print(
            f"monitor {report.timestamp:%H:%M}: {report.count} requests "
            f"({report.rate:.1f}/s), {report.total} so far"
        )
    print("\n".join(alerts))
    assert len(skipped) == 1
    assert [a[6:11] for a in alerts] == ["00:40", "00:41", "00:42", "00:43"]
    assert reports[-1].total == total - 1


if __name__ == "__main__":
    main()
