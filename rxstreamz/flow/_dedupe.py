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
from typing import Any, Generic

from reactivex import Observable, abc
from typing_extensions import TypeVar

from rxstreamz import _scheduling, _validate
from rxstreamz._accounting import ProcessorStats
from rxstreamz._failure import Failures, OnFailure
from rxstreamz._lifecycle import TimedRun
from rxstreamz._typing import Operator

__all__ = ["Dedupe", "DedupeStats", "KeyedDedupe", "dedupe"]

_T = TypeVar("_T", default=Any)
"""The item type of a ``dedupe``: from ``key``, else solved from ``pipe()`` (see ``dedupe``)."""
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
        self._passed = 0  # of retired subscriptions; live ones are read via _live
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
        """Fold a retired subscription's counters into the totals (once)."""
        with self._lock:
            if counts in self._live:
                self._live.discard(counts)
                passed, duplicates, _ = counts()
                self._passed += passed
                self._duplicates += duplicates

    def _apply(self, source: Observable[_X]) -> Observable[_X]:
        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = _scheduling.Clock(_scheduling.resolve(self.scheduler, scheduler))
            run: _DedupeRun[_X] = _DedupeRun(
                observer,
                clock,
                self.key,
                ttl=self.ttl,
                max_keys=self.max_keys,
                failures=self._failures,
                retire=self._retire,
            )
            self._register(run.counts)
            return run.connect(source, run.accepting(), scheduler)

        return Observable(subscribe)


class _DedupeRun(TimedRun[_X]):
    """One ``dedupe`` subscription: the keys that passed, its counts and the purge timer.

    Keys are kept in pass order (duplicates never refresh), so the first entry
    of ``seen`` is always the least recently passed: eviction and purge pop
    it. With ``ttl``, ``lock`` guards ``seen`` against the purge timer.
    """

    __slots__ = (
        "clock",
        "duplicates",
        "failures",
        "forever",
        "key",
        "lock",
        "max_keys",
        "oldest_expiry",
        "passed",
        "purge_armed",
        "retire",
        "seen",
        "ttl",
        "ttl_delay",
    )

    def __init__(
        self,
        observer: abc.ObserverBase[_X],
        clock: _scheduling.Clock,
        key: Callable[[Any], Hashable] | None,
        *,
        ttl: float | None,
        max_keys: int | None,
        failures: Failures,
        retire: Callable[[_Counts], None],
    ) -> None:
        super().__init__(observer)
        self.clock = clock
        self.key = key
        self.max_keys = max_keys
        self.failures = failures
        self.retire = retire
        self.ttl_delay = None if ttl is None else timedelta(seconds=ttl)
        # Whole microseconds, compared with the clock's cheapest reading.
        self.ttl = None if self.ttl_delay is None else self.ttl_delay // _MICROSECOND
        self.lock = threading.Lock()
        self.seen: OrderedDict[Hashable, int] = OrderedDict()  # key -> expiry (ttl)
        self.forever: set[Hashable] = set()  # ttl=None and max_keys=None: a plain set
        self.passed = 0
        self.duplicates = 0
        # A lower bound of the first entry's expiry; None when `seen` is empty.
        self.oldest_expiry: int | None = None
        self.purge_armed = False

    def counts(self) -> tuple[int, int, int]:
        """This subscription's (passed, duplicates, tracked_keys)."""
        return self.passed, self.duplicates, len(self.seen) + len(self.forever)

    def accepting(self) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream: one closure per kind of memory."""
        if self.ttl is not None:
            return self._on_next_ttl()
        return self._on_next_untimed()

    def fail(self, exc: Exception, item: _X) -> None:
        """The key of ``item`` failed: skip it or fail the stream (``errors``)."""
        forwarded = self.failures.handle(exc, item, self.clock.now())
        if forwarded is not None and self.flush():
            self.observer.on_error(forwarded)

    def _on_next_untimed(self) -> Callable[[_X], None]:
        """Without ``ttl``: a plain set, or, with ``max_keys``, the keys in pass order."""
        key = self.key
        emit = self.observer.on_next
        known: set[Hashable] | OrderedDict[Hashable, int]
        remember: Callable[[Hashable], None]
        if self.max_keys is None:
            known, remember = self.forever, self.forever.add
        else:
            known = seen = self.seen
            most = self.max_keys
            popitem = seen.popitem

            def remember_bounded(k: Hashable) -> None:
                seen[k] = 0  # no ttl: the value is unused
                if len(seen) > most:  # forget the least recently passed
                    popitem(False)

            remember = remember_bounded

        def on_next(item: _X, run: _DedupeRun[_X] = self) -> None:
            if run.stopped:
                return
            try:
                k = item if key is None else key(item)
                if k in known:
                    run.duplicates += 1
                    return
                remember(k)
            except Exception as exc:
                run.fail(exc, item)
                return
            run.passed += 1
            emit(item)

        return on_next

    def _on_next_ttl(self) -> Callable[[_X], None]:
        key = self.key
        emit = self.observer.on_next
        admit = self.admit

        def on_next(item: _X, run: _DedupeRun[_X] = self) -> None:
            try:  # user code runs outside the lock: it may dispose this subscription
                k = item if key is None else key(item)
            except Exception as exc:
                run.fail(exc, item)
                return
            verdict = admit(k)
            if verdict is True:
                emit(item)
            elif verdict is not False:  # an unhashable key
                run.fail(verdict, item)

        return on_next

    def admit(self, k: Hashable) -> bool | Exception:
        """Whether key ``k`` passes now (``ttl``), remembering it if so.

        Returns:
            ``True`` if it passes, ``False`` for a duplicate (or once
            stopped), the exception if ``k`` cannot be hashed.
        """
        assert self.ttl is not None
        seen = self.seen
        with self.lock:
            if self.stopped:
                return False
            now = self.clock.micros()
            try:
                expiry = seen.get(k)  # an unhashable key raises here
            except Exception as exc:
                return exc
            if expiry is not None:
                if now <= expiry:
                    self.duplicates += 1
                    return False
                del seen[k]  # passes again: it moves to the end (pass order)
            seen[k] = now + self.ttl
            if self.max_keys is not None and len(seen) > self.max_keys:
                seen.popitem(last=False)
            if self.oldest_expiry is None or now > self.oldest_expiry:
                self.purge(now)
            if not self.purge_armed:
                self.arm_purge()
            self.passed += 1
            return True

    # -- the purge timer (ttl) -----------------------------------------------------------

    def purge(self, now: int) -> None:
        """Drop the keys expired at ``now`` (lock held)."""
        seen = self.seen
        while seen:
            first = next(iter(seen))
            expiry = seen[first]
            if expiry >= now:  # strictly: expired once now - passed > ttl
                self.oldest_expiry = expiry
                return
            del seen[first]
        self.oldest_expiry = None

    def purge_tick(self, _scheduler: abc.SchedulerBase, _state: object = None) -> None:
        """The purge timer: drop expired keys, and wait again while keys are held."""
        with self.lock:
            self.purge_armed = False
            if self.stopped:
                return
            self.purge(self.clock.micros())
            if self.seen:
                self.arm_purge()

    def arm_purge(self) -> None:
        """Purge at least once per ``ttl`` while keys are held (lock held)."""
        assert self.ttl_delay is not None
        self.purge_armed = True
        self.timer.disposable = self.clock.scheduler.schedule_relative(
            self.ttl_delay, self.purge_tick
        )

    # -- the end -------------------------------------------------------------------------

    def flush(self) -> bool:
        """Nothing is held back: just stop; ``False`` if already stopped."""
        if self.stopped:
            return False
        self.stopped = True
        self.timer.dispose()
        with self.lock:
            self.retire(self.counts)
            self.seen.clear()
            self.forever.clear()
        return True

    def dispose(self) -> None:
        """Stop and release the keys."""
        self.flush()


class Dedupe(_DedupeCore, Generic[_T]):
    """The operator returned by ``dedupe`` without ``key``: items are their own keys."""

    def __call__(self, source: Observable[_T]) -> Observable[_T]:
        """Apply the operator to ``source``."""
        return self._apply(source)


class KeyedDedupe(Dedupe[_T]):
    """The operator returned by ``dedupe`` with a ``key`` function of the items."""


def dedupe(
    key: Callable[[_T], Hashable] | None = None,
    *,
    ttl: _validate.Duration | None = None,
    max_keys: int | None = None,
    errors: _validate.ErrorMode = "raise",
    on_failure: OnFailure | None = None,
    name: str | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Operator[_T, Observable[_T], DedupeStats]:
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
