"""Every public processor can be tracked by both exporters with the three common counters.

Each factory is built with minimal arguments, run over a few items to
completion, then read through a real Prometheus registry: ``received``,
``failed`` and ``dropped`` must be exported with the values of its
``stats()``, which must be a ``ProcessorStats``, and ``stats_table`` must
show them.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable
from typing import Any, cast

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("opentelemetry.sdk")

import reactivex as rx
from prometheus_client import CollectorRegistry
from reactivex.testing import TestScheduler

import rxstreamz
from rxstreamz._accounting import ProcessorStats
from rxstreamz.metrics._sources import COMMON
from rxstreamz.metrics.prometheus import PrometheusMetrics

Builder = Callable[[TestScheduler], Any]


def _ignore(_: object) -> None:
    return None


def _double(n: int) -> int:
    return n * 2


def _small(n: int) -> bool:
    return n < 2


VIRTUAL_TIME: dict[str, Builder] = {
    "aggregate": lambda s: rxstreamz.aggregate(rxstreamz.folds.count(), count=2, scheduler=s),
    "batch": lambda s: rxstreamz.batch(2, max_latency=1.0, scheduler=s),
    "chunk": lambda _: rxstreamz.chunk(2),
    "circuit_breaker": lambda s: rxstreamz.circuit_breaker(_double, scheduler=s),
    "dead_letter": lambda s: rxstreamz.dead_letter(_double, sink=_ignore, scheduler=s),
    "debounce_": lambda s: rxstreamz.debounce_(1.0, scheduler=s),
    "dedupe": lambda s: rxstreamz.dedupe(scheduler=s),
    "fan_out": lambda _: rxstreamz.fan_out(2),
    "filter_": lambda s: rxstreamz.filter_(_small, scheduler=s),
    "flatten": lambda _: rxstreamz.flatten(),
    "map_": lambda s: rxstreamz.map_(_double, scheduler=s),
    "monitor": lambda s: rxstreamz.monitor(1.0, _ignore, scheduler=s),
    "partition_": lambda s: rxstreamz.partition_(_double, 2, scheduler=s),
    "retry_": lambda s: rxstreamz.retry_(_double, scheduler=s),
    "router": lambda s: rxstreamz.router({"small": _small}, default=True, scheduler=s),
    "sample_": lambda _: rxstreamz.sample_(0.5, seed=3),
    "session_window": lambda s: rxstreamz.session_window(1.0, scheduler=s),
    "skip_": lambda _: rxstreamz.skip_(1),
    "sliding_window": lambda s: rxstreamz.sliding_window(2.0, 1.0, scheduler=s),
    "split": lambda s: rxstreamz.split(_small, scheduler=s),
    "switch": lambda s: rxstreamz.switch([(_small, rxstreamz.map_(str))], scheduler=s),
    "take_": lambda _: rxstreamz.take_(2),
    "tap_": lambda s: rxstreamz.tap_(_ignore, scheduler=s),
    "throttle": lambda s: rxstreamz.throttle(10.0, scheduler=s),
    "tumbling_window": lambda s: rxstreamz.tumbling_window(1.0, scheduler=s),
    "unbatch": lambda _: rxstreamz.unbatch(),
}
"""Processors run on a TestScheduler, source and all."""

THREADED: dict[str, Builder] = {
    "async_map": lambda _: rxstreamz.async_map(_double, workers=2),
    "buffer_": lambda _: rxstreamz.buffer_(8),
    "dropping_buffer": lambda _: rxstreamz.dropping_buffer(8),
    "progress": lambda _: rxstreamz.progress(file=io.StringIO()),
    "sliding_buffer": lambda _: rxstreamz.sliding_buffer(8),
}
"""Processors that hand items to threads of their own; run in real time."""

NOT_PROCESSORS = {
    "collect",  # bridges between push and pull: nothing to count in between
    "fnv1a_32",
    "folds",
    "from_async_iterable",
    "to_async_iterator",
    "to_iterator",
    "stats_table",
}

SOURCES = {"channel", "fan_in"}
"""Sources with stats() of their own (see the tests at the end)."""

ITEMS: dict[str, list[Any]] = {"flatten": [[0, 1], [2], []], "unbatch": [[0, 1], [2], []]}
"""Inputs other than 0, 1, 2, 3."""


def test_every_public_factory_is_covered() -> None:
    factories = {
        name
        for name in rxstreamz.__all__
        if name[0].islower() and callable(getattr(rxstreamz, name))
    } | {"folds"}
    assert factories == {*VIRTUAL_TIME, *THREADED, *SOURCES, *NOT_PROCESSORS}


def branches(output: object) -> list[rx.Observable[Any]]:
    """The observables a processor's output is: one, or a routing factory's several."""
    if isinstance(output, rx.Observable):
        return [output]
    if isinstance(output, dict):
        return list(cast("dict[str, rx.Observable[Any]]", output).values())
    assert isinstance(output, tuple | list), type(output)
    return list(cast("tuple[rx.Observable[Any], ...]", output))


def run(operator: Any, items: list[Any], scheduler: TestScheduler | None) -> None:
    """Subscribe every branch of ``operator`` applied to ``items`` and run it to the end."""
    done: list[threading.Event] = []
    source: rx.Observable[Any] = rx.from_iterable(items)
    for branch in branches(source.pipe(operator)):
        finished = threading.Event()
        done.append(finished)
        branch.subscribe(
            _ignore,
            lambda _error, event=finished: event.set(),
            finished.set,
            scheduler=scheduler,
        )
    if scheduler is not None:
        scheduler.start()
    assert all(event.wait(30) for event in done), "the run did not finish"


def check_exported(name: str, operator: Any) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    assert metrics.track(operator, name=name) is operator
    stats = operator.stats()
    assert isinstance(stats, ProcessorStats), f"{name}.stats() is {type(stats).__name__}"
    assert stats.received > 0
    for field in COMMON:
        got = registry.get_sample_value(f"rxstreamz_{field}_total", {"processor": name})
        assert got == getattr(stats, field), field
    row = rxstreamz.stats_table({name: operator}).splitlines()[1].split()
    assert [row[2], row[4], row[5]] == [str(stats.received), str(stats.failed), str(stats.dropped)]
    check_exported_by_opentelemetry(name, operator, stats)


def check_exported_by_opentelemetry(name: str, operator: Any, stats: ProcessorStats) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from rxstreamz.metrics.otel import OpenTelemetryMetrics
    from tests.test_metrics_otel import points

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        assert (
            OpenTelemetryMetrics(provider.get_meter("every")).track(operator, name=name) is operator
        )
        got = points(reader)
    finally:
        provider.shutdown()
    for field in COMMON:
        assert got[(f"rxstreamz.{field}", frozenset({("processor", name)}))] == getattr(
            stats, field
        )


@pytest.mark.parametrize("name", sorted(VIRTUAL_TIME))
def test_tracked_on_virtual_time(name: str) -> None:
    scheduler = TestScheduler()
    operator = VIRTUAL_TIME[name](scheduler)
    run(operator, ITEMS.get(name, [0, 1, 2, 3]), scheduler)
    check_exported(name, operator)


@pytest.mark.parametrize("name", sorted(THREADED))
def test_tracked_across_threads(name: str, no_thread_leak: None) -> None:
    operator = THREADED[name](TestScheduler())
    run(operator, ITEMS.get(name, [0, 1, 2, 3]), None)
    check_exported(name, operator)


def test_fan_in_is_tracked() -> None:
    merged = rxstreamz.fan_in(rx.of(0, 1), rx.of(2))
    got: list[int] = []
    merged.subscribe(got.append)
    assert sorted(got) == [0, 1, 2]
    check_exported("fan_in", merged)


def test_channel_is_tracked() -> None:
    async def feed() -> rxstreamz.Channel[int]:
        sent: rxstreamz.Channel[int] = rxstreamz.channel(4)
        sent.subscribe(_ignore)
        for n in range(3):
            await sent.send(n)
        sent.close()
        return sent

    check_exported("channel", asyncio.run(feed()))
