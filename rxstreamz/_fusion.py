"""Fusion of consecutive per-item stages into one subscriber.

``filter_``, ``map_``, ``tap_``, ``take_``, ``skip_`` and ``sample_`` return
``Stage`` objects. A stage applied to a ``FusedObservable`` returns a
new ``FusedObservable`` over the same upstream with one more stage; applied to
any other observable it starts a new run. So:

```python
source.pipe(filter_(p), map_(f), ops.distinct(), map_(g))
```

subscribes to ``source`` with one function running ``p`` and ``f`` inline,
then RxPY's ``distinct``, then a second fused run holding ``g``.

Each fused observable is immutable, so an intermediate observable stays usable
on its own and every subscription gets its own counters (``take_``/``skip_``)
and random generator (``sample_``).

The per-item function of a chain is generated as Python source once per chain
*shape* (the sequence of stage kinds), compiled and cached. For
``filter -> map`` it reads:

```python
def on_next(x):
    if run.stopped:
        return  # completed, failed or disposed
    try:
        if not f0(x):  # the truth test too: a result's __bool__ may raise
            return  # filtered out
    except Exception as exc:
        fail(0, exc, x)
        return  # the item failed
    try:
        x = f1(x)
    except Exception as exc:
        fail(1, exc, x)
        return  # the item failed
    emit(x)
```

``try`` costs nothing on the success path (CPython 3.11+), so each stage costs
exactly its user call. Tracebacks through fused code show the generated source.

A ``take_`` wraps the rest of the chain in ``try``/``finally`` so the run
completes after its last item whatever the later stages do with it. Python
allows 20 nested blocks, so a run holds at most ``MAX_TAKES`` of them; the
next ``take_`` starts a new run.
"""

from __future__ import annotations

import functools
import linecache
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Literal, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import SingleAssignmentDisposable

from rxstreamz import _scheduling, _validate
from rxstreamz._failure import Failures

_T = TypeVar("_T")
_R = TypeVar("_R")

Kind = Literal["filter", "map", "tap", "take"]
"""How the generated code calls a stage's bound function.

* ``filter``: ``f(x)`` decides whether ``x`` goes on (also ``skip_``, ``sample_``).
* ``map``: ``x = f(x)``.
* ``tap``: ``f(x)``, ``x`` goes on unchanged.
* ``take``: ``f()`` counts the item and says whether it is the last one
  (``True``), or ``None`` once the last one has gone by: an item pushed back
  into the source while the last one was being emitted is ignored, as RxPY's
  ``take`` does. The run completes once the last item has gone through the
  rest of the chain.
"""

MAX_TAKES = 16
"""The most ``take_`` stages one fused run nests (see the module docstring)."""


class Stage(ABC, Generic[_T, _R]):
    """One fusable per-item processor: an operator usable in ``pipe()``.

    Subclasses set ``kind`` and implement ``bind``.
    """

    kind: ClassVar[Kind]

    def __init__(
        self, name: str, failures: Failures | None, scheduler: abc.SchedulerBase | None
    ) -> None:
        self.name = name
        self._failures = failures
        self._scheduler = _validate.scheduler(scheduler)

    @abstractmethod
    def bind(self) -> Callable[..., Any]:
        """Return the function the fused code calls, fresh for one subscription."""

    def opens(self) -> bool:
        """Return False when a subscription must complete at once (``take_(0)``)."""
        return True

    def __call__(self, source: Observable[_T]) -> Observable[_R]:
        """Apply the stage to ``source``, fusing it with a preceding stage run."""
        return fuse(source, self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def fuse(source: Observable[Any], stage: Stage[Any, Any]) -> Observable[Any]:
    """Return ``stage`` applied to ``source``, fused with it when possible."""
    if isinstance(source, FusedObservable) and not (
        stage.kind == "take" and [s.kind for s in source.stages].count("take") >= MAX_TAKES
    ):
        return FusedObservable(source.upstream, (*source.stages, stage))
    return FusedObservable(source, (stage,))


class FusedObservable(Observable[_T]):
    """An upstream observable followed by a run of stages, subscribed as one."""

    def __init__(self, upstream: Observable[Any], stages: tuple[Stage[Any, Any], ...]) -> None:
        super().__init__(self._subscribe_run)
        self.upstream = upstream
        self.stages = stages
        self._make = _compile(tuple(stage.kind for stage in stages))

    def _subscribe_run(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        run = _Run(observer, self.stages, scheduler)
        if not all(stage.opens() for stage in self.stages):
            run.finish()
            return run
        on_next = self._make(run, observer.on_next, *(stage.bind() for stage in self.stages))
        run.upstream.disposable = self.upstream.subscribe(
            on_next, run.on_error, run.finish, scheduler=scheduler
        )
        return run


class _Run(abc.DisposableBase):
    """The state of one subscription to a fused chain."""

    __slots__ = ("observer", "scheduler", "stages", "stopped", "upstream")

    def __init__(
        self,
        observer: abc.ObserverBase[Any],
        stages: tuple[Stage[Any, Any], ...],
        scheduler: abc.SchedulerBase | None,
    ) -> None:
        self.observer = observer
        self.stages = stages
        self.scheduler = scheduler
        self.stopped = False
        self.upstream = SingleAssignmentDisposable()

    def fail(self, index: int, exc: Exception, item: object) -> None:
        """Apply the failing stage's error policy to ``exc``."""
        stage = self.stages[index]
        failures = stage._failures  # pyright: ignore[reportPrivateUsage]
        if failures is None:  # a stage without user code cannot fail by itself
            self.on_error(exc)
            return
        now = _scheduling.resolve(stage._scheduler, self.scheduler).now  # pyright: ignore[reportPrivateUsage]
        forwarded = failures.handle(exc, item, now)
        if forwarded is not None:
            self.on_error(forwarded)

    def on_error(self, exc: Exception) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.upstream.dispose()
        self.observer.on_error(exc)

    def finish(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.upstream.dispose()
        self.observer.on_completed()

    def dispose(self) -> None:
        self.stopped = True
        self.upstream.dispose()


# A filter's truth test runs inside the ``try``: the object a predicate returns
# may raise from ``__bool__`` (a numpy array, a pandas Series), and that is a
# failure of the predicate, handled by the error model like any other.
_CALLS: dict[Kind, tuple[str, ...]] = {
    "filter": ("if not f{i}(x):", "    return"),
    "map": ("x = f{i}(x)",),
    "tap": ("f{i}(x)",),
}


@functools.lru_cache(maxsize=256)
def _compile(kinds: tuple[Kind, ...]) -> Callable[..., Callable[[Any], None]]:
    """Generate, compile and cache the subscriber factory for one chain shape."""
    params = "".join(f", f{i}" for i in range(len(kinds)))
    lines = [
        f"def make(run, emit{params}):",
        "    fail = run.fail",
        "    def on_next(x):",
        "        if run.stopped:",
        "            return",
    ]
    depth = 8
    takes: list[tuple[int, int]] = []
    for i, kind in enumerate(kinds):
        pad = " " * depth
        if kind == "take":
            lines += [
                f"{pad}last{i} = f{i}()",
                f"{pad}if last{i} is None:",
                f"{pad}    return",
                f"{pad}try:",
            ]
            takes.append((depth, i))
            depth += 4
            continue
        lines.append(f"{pad}try:")
        lines += [f"{pad}    {line.format(i=i)}" for line in _CALLS[kind]]
        lines += [
            f"{pad}except Exception as exc:",
            f"{pad}    fail({i}, exc, x)",
            f"{pad}    return",
        ]
    lines.append(" " * depth + "emit(x)")
    for pad_width, i in reversed(takes):
        pad = " " * pad_width
        lines += [f"{pad}finally:", f"{pad}    if last{i}:", f"{pad}        run.finish()"]
    lines.append("    return on_next")
    source = "\n".join(lines) + "\n"
    filename = f"<rxstreamz fused {'-'.join(kinds)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    make: Callable[..., Callable[[Any], None]] = namespace["make"]
    return make
