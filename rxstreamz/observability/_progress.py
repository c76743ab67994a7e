"""A progress bar for a running pipeline (extra ``rxstreamz[progress]``, tqdm)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Generic

from reactivex import Observable, abc
from typing_extensions import TypeVar

from rxstreamz import _validate
from rxstreamz._accounting import Ledger, ProcessorStats, Row
from rxstreamz._lifecycle import TimedRun
from rxstreamz._typing import Operator

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["Progress", "ProgressStats", "progress"]

_X = TypeVar("_X")
_T = TypeVar("_T", default=Any)
"""The item type of a ``progress``: solved from ``pipe()`` (see ``progress``)."""


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


class Progress(Generic[_T]):
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

    def __call__(self, source: Observable[_T]) -> Observable[_T]:
        """Apply the operator to ``source``."""

        def subscribe(
            observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            bar = self._bar_type(
                total=self.total,
                desc=self.desc,
                file=self.file,
                leave=self.leave,
                unit="item",
                dynamic_ncols=self.file is None,
            )
            run = _ProgressRun(observer, bar, self._ledger)
            return run.connect(source, run.accepting(self.count_elements), scheduler)

        return Observable(subscribe)


class _ProgressRun(TimedRun[_X]):
    """One ``progress`` subscription: its bar, its counters and its end.

    Items may come from any thread: ``lock`` guards the bar and ``stopped``
    (the bar is closed). Nothing is held, so completion and errors only close
    the bar before they are forwarded.
    """

    __slots__ = ("bar", "ledger", "lock", "row")

    def __init__(
        self, observer: abc.ObserverBase[_X], bar: tqdm[Any], ledger: Ledger[_ProgressRow]
    ) -> None:
        super().__init__(observer)
        self.bar = bar
        self.lock = threading.Lock()
        self.ledger = ledger
        self.row = ledger.open()

    def accepting(self, count_elements: bool) -> Callable[[_X], None]:
        """The ``on_next`` given to upstream: advance the bar, pass the item on."""
        lock, row, bar, emit = self.lock, self.row, self.bar, self.observer.on_next

        def on_next(item: _X, run: _ProgressRun[_X] = self) -> None:
            step = len(item) if count_elements and isinstance(item, Sized) else 1
            with lock:
                row.received += 1
                if not run.stopped:
                    bar.update(step)
                row.emitted += 1
            emit(item)

        return on_next

    def flush(self) -> bool:
        """Close the bar and retire the row; ``False`` if already closed."""
        with self.lock:
            if self.stopped:
                return False
            self.stopped = True
            self.bar.close()
        self.ledger.retire(self.row)
        return True

    def dispose(self) -> None:
        """Close the bar and retire the row (once)."""
        self.flush()


def progress(
    total: int | None = None,
    *,
    desc: str | None = None,
    count_elements: bool = False,
    file: IO[str] | None = None,
    leave: bool = True,
    name: str | None = None,
) -> Operator[_T, Observable[_T], ProgressStats]:
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
    _validate.optional_text("desc", desc)
    _validate.flag("count_elements", count_elements)
    _validate.flag("leave", leave)
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file must have a write() method, got {type(file).__name__}")
    try:
        return Progress(
            checked_total, desc, count_elements, file, leave, _validate.name(name, "progress")
        )
    except ImportError as exc:
        raise ImportError("progress() needs tqdm: pip install 'rxstreamz[progress]'") from exc
