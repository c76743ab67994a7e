"""A progress bar for a running pipeline (extra ``rxstreamz[progress]``, tqdm)."""

from __future__ import annotations

import threading
from collections.abc import Sized
from dataclasses import dataclass
from typing import IO, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

from rxstreamz import _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row

__all__ = ["Progress", "ProgressStats", "progress"]

_X = TypeVar("_X")


@dataclass(frozen=True, slots=True)
class ProgressStats(ProcessorStats):
    """Counters of a ``progress`` operator, summed over its subscriptions.

    ``progress`` passes every item on, so ``received == emitted`` between
    items; it calls no user function and holds nothing, so ``failed`` and
    ``dropped`` stay 0.

    Attributes:
        emitted: Items passed downstream.
    """

    emitted: int


class _ProgressRow(Row):
    __slots__ = ("emitted",)
    emitted: int


class Progress:
    """The operator returned by ``progress``."""

    def __init__(
        self,
        total: int | None,
        desc: str | None,
        count_elements: bool,
        file: IO[str] | None,
        leave: bool,
        name: str,
    ) -> None:
        from tqdm import tqdm  # the optional extra, imported only when used

        class Bar(tqdm):  # type: ignore[type-arg]  # pyright: ignore[reportMissingTypeArgument]
            # No tqdm monitor thread: it would outlive the subscription.
            monitor_interval = 0

        self._bar_type = Bar
        self.total = total
        self.desc = desc
        self.count_elements = count_elements
        self.file = file
        self.leave = leave
        self.name = name
        self._ledger = Ledger(_ProgressRow)

    def stats(self) -> ProgressStats:
        """Return the counters of every subscription, past and present."""
        return ProgressStats(**self._ledger.totals())

    def __call__(self, source: Observable[_X]) -> Observable[_X]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[_X], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            bar = self._bar_type(
                total=self.total,
                desc=self.desc,
                file=self.file,
                leave=self.leave,
                unit="item",
                dynamic_ncols=self.file is None,
            )
            lock = threading.Lock()
            closed = False
            count_elements = self.count_elements
            ledger = self._ledger
            row = ledger.open()

            def close() -> None:
                nonlocal closed
                with lock:
                    if closed:
                        return
                    closed = True
                    bar.close()
                ledger.retire(row)

            def on_next(item: _X) -> None:
                step = len(item) if count_elements and isinstance(item, Sized) else 1
                with lock:
                    row.received += 1
                    if not closed:
                        bar.update(step)
                    row.emitted += 1
                observer.on_next(item)

            def on_error(exc: Exception) -> None:
                close()
                observer.on_error(exc)

            def on_completed() -> None:
                close()
                observer.on_completed()

            subscription = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)
            return CompositeDisposable(subscription, Disposable(close))

        return Observable(subscribe)


def progress(
    total: int | None = None,
    *,
    desc: str | None = None,
    count_elements: bool = False,
    file: IO[str] | None = None,
    leave: bool = True,
    name: str | None = None,
) -> Progress:
    """Show a tqdm progress bar advanced by every item that passes.

    Pass-through: items are emitted unchanged. By default the bar advances by
    one per item, so after ``batch`` it counts batches; with
    ``count_elements=True`` it advances by ``len(item)`` for sized items, so it
    keeps counting the records inside the batches.

    ```text
    --a--b--c--|
    progress(total=3)        [███████] 3/3
    --a--b--c--|
    ```

    Behavior:
        - One bar per subscription, created at subscribe; closed on
          completion, on error and on dispose.
        - Thread-safe: items may arrive from any thread.
        - ``stats()`` counts the items received and emitted over every
          subscription (``ProgressStats``); nothing is ever failed or
          dropped.
        - Needs the ``progress`` extra (tqdm); it is imported when you call
          ``progress()``, never when rxstreamz is imported.

    Examples:
        >>> import io
        >>> import reactivex as rx
        >>> from rxstreamz import collect
        >>> out = io.StringIO()
        >>> collect(rx.of(1, 2, 3).pipe(progress(total=3, file=out)))
        [1, 2, 3]
        >>> "3/3" in out.getvalue()
        True
        >>> bar = progress(file=out)
        >>> collect(rx.of("a", "b").pipe(bar))
        ['a', 'b']
        >>> bar.stats()
        ProgressStats(received=2, failed=0, dropped=0, emitted=2)

    Args:
        total: Expected number of steps, if known (enables percentage and ETA).
        desc: Label shown before the bar.
        count_elements: Advance by ``len(item)`` for sized items.
        file: Where to draw the bar; default ``sys.stderr``.
        leave: Keep the finished bar on screen.
        name: Default ``"progress"``.

    Returns:
        An operator for ``pipe()``.

    Raises:
        ImportError: tqdm is not installed.
        TypeError: ``total`` is not an int, ``desc`` not a str,
            ``count_elements`` or ``leave`` not a bool, or ``file`` has no
            ``write()``.
        ValueError: ``total`` is negative.
    """
    checked_total = _validate.optional_integer("total", total, minimum=0)
    if desc is not None and not isinstance(desc, str):
        raise TypeError(f"desc must be a str or None, got {type(desc).__name__}")
    for param, flag in (("count_elements", count_elements), ("leave", leave)):
        if not isinstance(flag, bool):
            raise TypeError(f"{param} must be a bool, got {type(flag).__name__}")
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file must have a write() method, got {type(file).__name__}")
    try:
        return Progress(
            checked_total, desc, count_elements, file, leave, _validate.name(name, "progress")
        )
    except ImportError as exc:
        raise ImportError("progress() needs tqdm: pip install 'rxstreamz[progress]'") from exc
