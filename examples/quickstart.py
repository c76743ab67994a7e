"""Quickstart: orders filtered, enriched concurrently, and batched for a bulk write.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import reactivex as rx

from rxstreamz import async_map, batch, collect, filter_, map_


@dataclass(frozen=True)
class Order:
    id: int
    customer: str
    total: float


@dataclass(frozen=True)
class EnrichedOrder:
    order: Order
    tier: str


def is_valid(order: Order) -> bool:
    return order.total > 0


def enrich(order: Order) -> EnrichedOrder:
    time.sleep(0.002)  # stands in for a lookup over the network
    return EnrichedOrder(order, "gold" if order.total > 500 else "standard")


def main() -> None:
    orders = [Order(n, f"cust-{n % 7}", float((n * 37) % 1000 - 100)) for n in range(1000)]
    batches = collect(
        rx.from_iterable(orders).pipe(
            filter_(is_valid, name="valid"),
            async_map(enrich, workers=10, name="enrich"),  # 10 lookups at a time, order kept
            map_(lambda e: (e.order.id, e.tier)),
            batch(100, max_latency=0.5),  # at most 100 rows, or whatever arrived in 0.5 s
        )
    )
    rows = [row for chunk in batches for row in chunk]
    expected = [o.id for o in orders if is_valid(o)]
    assert [order_id for order_id, _ in rows] == expected, "order preserved end to end"
    print(f"{len(orders)} orders -> {len(rows)} valid, written in {len(batches)} batches")
    print("batch sizes:", [len(b) for b in batches])
    print("first rows:", rows[:3])


if __name__ == "__main__":
    main()
