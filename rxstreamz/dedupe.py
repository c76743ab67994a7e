"""dedupe: drop items whose key already passed, for ever or within a time-to-live.

Memory is bounded by ``max_keys`` (least-recently-passed key evicted) and, with
``ttl``, by purging expired keys: amortised on the item path (while the
oldest-passed key has expired, drop it) plus one purge timer per subscription
for idle periods, never a timer per item or per key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._typing import Operator

__all__ = ["Dedupe", "DedupeStats", "KeyedDedupe", "dedupe"]

_T = TypeVar("_T")
_X = TypeVar("_X")

_Counts = Callable[[], tuple[int, int, int]]
"""Reads one live subscription's (passed, duplicates, tracked_keys)."""

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DedupeStats(ProcessorStats):
    """Counters of ``dedupe``, summed over its subscriptions.

    ``received == passed + duplicates + failed``: ``dedupe`` decides on each
    item as it arrives and holds none, so ``dropped`` stays 0. ``failed``
    counts the items whose key could not be computed or hashed (both
    ``errors`` modes).

    Attributes:
        passed: Items emitted (their key had not passed within ``ttl``).
        duplicates: Items left out as duplicates: the processor's job.
        tracked_keys: Keys held right now by live subscriptions.
    """

    passed: int
    duplicates: int
    tracked_keys: int


class _DedupeCore:
    """Everything of ``dedupe`` except the typing of ``__call__``."""

    def __init__(
        self,
        key: Callable[[Any], Hashable] | None,
        ttl: float | None,
        max_keys: int | None,
        failures: Failures,
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.key = key
        self.ttl = ttl
        self.max_keys = max_keys
        self.name = failures.processor
        self.scheduler = scheduler
        self._failures = failures
        self._lock = threading.Lock()
        self._passed = 0  # of finished subscriptions; live ones are read via _live
        self._duplicates = 0
        self._live: set[_Counts] = set()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ttl={self.ttl} max_keys={self.max_keys}>"

    def stats(self) -> DedupeStats:
        """Return a snapshot of this operator's counters (all subscriptions)."""
        with self._lock:
            passed, duplicates, tracked = self._passed, self._duplicates, 0
            for counts in self._live:
                run_passed, run_duplicates, run_tracked = counts()
                passed += run_passed
                duplicates += run_duplicates
                tracked += run_tracked
        failed = self._failures.count
        return DedupeStats(
            received=passed + duplicates + failed,
            failed=failed,
            dropped=0,
            passed=passed,
            duplicates=duplicates,
            tracked_keys=tracked,
        )

    def _register(self, counts: _Counts) -> None:
        with self._lock:
            self._live.add(counts)

    def _retire(self, counts: _Counts) -> None:
        """Fold a finished subscription's counters into the totals (once)."""
        with self._lock:
            if counts in self._live:
                self._live.discard(counts)
                passed, duplicates, _ = counts()
                self._passed += passed
                self._duplicates += duplicates

    def _apply(self, source: Observable[_X]) -> Observable[_X]:
        key = self.key
        # Whole microseconds, compared with the clock's cheapest reading.
        ttl = None if self.ttl is None else timedelta(seconds=self.ttl) // _MICROSECOND
        ttl_delay = None if self.ttl is None else timedelta(seconds=self.ttl)
        max_keys = self.max_keys
        failures = self._failures
        own = self.scheduler

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(own, scheduler))
            now_of = clock.micros
            emit = observer.on_next
            lock = threading.Lock()  # guards `seen` against the purge timer (ttl only)
            # Keys in pass order (duplicates never refresh), so the first entry
            # is always the least recently passed: eviction and purge pop it.
            seen: OrderedDict[Hashable, int] = OrderedDict()  # key -> expiry (ttl)
            forever: set[Hashable] = set()  # ttl=None and max_keys=None: a plain set
            passed = 0
            duplicates = 0
            stopped = False
            # A lower bound of the first entry's expiry; None when `seen` is empty.
            oldest_expiry: int | None = None
            purge_armed = False
            purge_timer = SerialDisposable()

            def counts() -> tuple[int, int, int]:
                return passed, duplicates, len(seen) + len(forever)

            def fail(exc: Exception, item: _X) -> None:
                forwarded = failures.handle(exc, item, clock.now())
                if forwarded is not None and finish():
                    observer.on_error(forwarded)

            def on_next_forever(item: _X) -> None:
                nonlocal passed, duplicates
                if stopped:
                    return
                try:
                    k = item if key is None else key(item)
                    if k in forever:
                        duplicates += 1
                        return
                    forever.add(k)
                except Exception as exc:
                    fail(exc, item)
                    return
                passed += 1
                emit(item)

            def on_next_bounded(item: _X) -> None:
                nonlocal passed, duplicates
                if stopped:
                    return
                try:
                    k = item if key is None else key(item)
                    if k in seen:
                        duplicates += 1
                        return
                    seen[k] = 0  # no ttl: the value is unused
                except Exception as exc:
                    fail(exc, item)
                    return
                if max_keys is not None and len(seen) > max_keys:
                    seen.popitem(last=False)
                passed += 1
                emit(item)

            def purge(now: int) -> None:  # lock held
                nonlocal oldest_expiry
                while seen:
                    first = next(iter(seen))
                    expiry = seen[first]
                    if expiry >= now:  # strictly: expired once now - passed > ttl
                        oldest_expiry = expiry
                        return
                    del seen[first]
                oldest_expiry = None

            def purge_tick(_scheduler: abc.SchedulerBase, _state: object = None) -> None:
                nonlocal purge_armed
                with lock:
                    purge_armed = False
                    if stopped:
                        return
                    purge(now_of())
                    if seen:
                        arm_purge()

            def arm_purge() -> None:  # lock held; at least one purge per ttl while keys are held
                nonlocal purge_armed
                assert ttl is not None
                purge_armed = True
                assert ttl_delay is not None
                purge_timer.disposable = clock.scheduler.schedule_relative(ttl_delay, purge_tick)

            def on_next_ttl(item: _X) -> None:
                nonlocal passed, duplicates
                assert ttl is not None
                try:  # user code runs outside the lock: it may dispose this subscription
                    k = item if key is None else key(item)
                except Exception as exc:
                    fail(exc, item)
                    return
                failure: Exception | None = None
                lock.acquire()
                try:
                    if stopped:
                        return
                    now = now_of()
                    try:
                        expiry = seen.get(k)  # an unhashable key raises here
                    except Exception as exc:
                        failure = exc
                    else:
                        if expiry is not None:
                            if now <= expiry:
                                duplicates += 1
                                return
                            del seen[k]  # passes again: it moves to the end (pass order)
                        seen[k] = now + ttl
                        if max_keys is not None and len(seen) > max_keys:
                            seen.popitem(last=False)
                        if oldest_expiry is None or now > oldest_expiry:
                            purge(now)
                        if not purge_armed:
                            arm_purge()
                        passed += 1
                finally:
                    lock.release()
                if failure is not None:
                    fail(failure, item)
                else:
                    emit(item)

            def retire() -> None:
                with lock:
                    self._retire(counts)
                    seen.clear()
                    forever.clear()

            def finish() -> bool:  # nothing is held back: just stop; False if already stopped
                nonlocal stopped
                if stopped:
                    return False
                stopped = True
                purge_timer.dispose()
                retire()
                return True

            on_error, on_completed = _scheduling.flushing_terminals(finish, observer)

            def dispose() -> None:
                finish()

            self._register(counts)
            if ttl is not None:
                on_next = on_next_ttl
            elif max_keys is not None:
                on_next = on_next_bounded
            else:
                on_next = on_next_forever
            upstream = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)
            return CompositeDisposable(upstream, Disposable(dispose))

        return Observable(subscribe)


class Dedupe(_DedupeCore):
    """The operator returned by ``dedupe`` without ``key``: items are their own keys."""

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""
        return self._apply(source)


class KeyedDedupe(_DedupeCore, Generic[_T]):
    """The operator returned by ``dedupe`` with a ``key`` function of the items."""

    def __call__(self, source: Observable[_T]) -> Observable[_T]:
        """Apply the operator to ``source``."""
        return self._apply(source)


@overload
def dedupe(
    key: None = None,
    *,
    ttl: _validate.Duration | None = None,
    max_keys: int | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Dedupe: ...


@overload
def dedupe(
    key: Callable[[_T], Hashable],
    *,
    ttl: _validate.Duration | None = None,
    max_keys: int | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_T], DedupeStats]: ...


def dedupe(
    key: Callable[[Any], Hashable] | None = None,
    *,
    ttl: _validate.Duration | None = None,
    max_keys: int | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Dedupe | Operator[Any, Observable[Any], DedupeStats]:
    """Drop every item whose key already passed (within ``ttl``, when given).

    The key is ``key(item)``, or the item itself. A key passes again only once
    ``now - last_pass > ttl`` (strictly: exactly ``ttl`` later is still a
    duplicate). Duplicates do not refresh the time:

    ```text
    time   0 1 2 3 4 5 6
    input  a b a a b a |
    dedupe(ttl=3)
    output a b . . . a |

    a at 2, 3: 3 - 0 = 3 is not > 3, still a duplicate (and no refresh)
    b at 4: 4 - 1 = 3, duplicate;   a at 5: 5 - 0 > 3, passes again
    ```

    Behavior:
        - ``ttl=None`` remembers keys for ever, unless ``max_keys`` bounds
          memory: then the least-recently-passed key is forgotten first.
        - Expired keys are purged without a timer per item: on the item path
          (while the oldest-passed key has expired it is dropped, amortised
          O(1)) and by one purge timer per subscription, at least once per
          ``ttl`` while keys are held (so an idle stream releases them too).
        - A ``key`` that raises, or a key that cannot be hashed: ``errors="raise"``
          forwards the exception (unchanged type, with a note naming the
          processor and the item); ``errors="skip"`` drops the item, counts it
          in ``stats().failed`` and hands a ``DeadLetter`` to ``on_failure``.
        - Completion and upstream errors pass straight through (nothing is
          held back); the subscription's keys are released.
        - Emits on the thread that delivered the item. Each subscription
          remembers its own keys; ``stats()`` sums them:
          ``received == passed + duplicates + failed`` (nothing is held).
        - Time (``ttl``) has microsecond resolution (the scheduler clock).

    Examples:
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> unique = dedupe(key=str.lower)
        >>> collect(rx.of("a", "B", "A", "b", "c").pipe(unique))
        ['a', 'B', 'c']
        >>> unique.stats()
        DedupeStats(received=5, failed=0, dropped=0, passed=3, duplicates=2, tracked_keys=0)

    Args:
        key: Maps an item to a hashable key; default: the item itself.
        ttl: Seconds (or ``timedelta``) a passed key blocks its duplicates;
            ``None``: for ever.
        max_keys: Most keys remembered per subscription (>= 1); ``None``: no
            bound (with ``ttl=None`` memory then grows with distinct keys).
        errors: ``"raise"`` or ``"skip"`` (see Behavior).
        on_failure: Receives a ``DeadLetter`` per skipped item.
        name: Default ``"dedupe"``.
        scheduler: Clock for ``ttl`` and dead letters; default: the
            subscribe-time scheduler, else ``TimeoutScheduler``.

    Returns:
        An operator for ``pipe()`` with ``stats() -> DedupeStats``; item type
        unchanged.

    Raises:
        TypeError: ``key`` or ``on_failure`` is not callable, ``ttl`` not a
            duration, ``max_keys`` not an int, ``scheduler`` not a reactivex
            scheduler.
        ValueError: ``ttl`` under 1 microsecond (or not positive), ``max_keys``
            < 1, or ``errors`` unknown.
    """
    label = _validate.name(name, "dedupe")
    options = (
        _validate.optional_timer_duration("ttl", ttl),
        _validate.optional_integer("max_keys", max_keys),
        Failures(label, errors, on_failure),
        _validate.scheduler(scheduler),
    )
    if key is None:
        return Dedupe(None, *options)
    return KeyedDedupe(_validate.function("key", key), *options)
