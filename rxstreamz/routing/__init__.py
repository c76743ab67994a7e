"""Routing: fan_in, fan_out, partition_, split, router, switch.

``fan_in`` merges several observables into one. The others are *branching*
processors: applied to one source they return several branch observables
(a tuple or a dict), or, for ``switch``, run each item through one of several
operators and merge the results back into one observable.

Every branching processor follows the same rules:

* Upstream is subscribed **once**, and only when every branch has been
  subscribed, so no branch misses an item. **A branch that is never
  subscribed holds everything back: nothing flows.** (So do not ``collect``
  one branch alone: it would wait forever for the others.)
* Each item is delivered synchronously on the upstream's thread, in branch
  order (branch 0 first, whatever order the branches were subscribed in): a
  slow branch slows them all.
* Completion and errors, including a routing function that raises, reach
  every branch. Disposing every branch disposes upstream; disposing some of
  them does not (a disposed branch simply stops receiving).
* Once a run has ended (completed, failed, or every branch disposed),
  subscribing all the branches again subscribes upstream again: a fresh run.

Every item taken from upstream is accounted for in ``stats()``: it is
emitted on one branch (several for ``fan_out`` and ``router(mode="all")``),
left unrouted by design (``unrouted``, ``unmatched``), failed, or dropped.
Nothing is ever held, so the only drops are an item whose branch has lost
every subscriber and an item offered after its run stopped. Each stats
record states its identity, such as ``received == sum(per_partition) +
failed + dropped``.

One module per processor, each with its stats record: ``_fan.py``
(``fan_in``, ``fan_out``), ``_partition.py`` (``partition_``, ``fnv1a_32``),
``_split.py``, ``_router.py``, ``_switch.py``. ``_hub.py`` is the shared
upstream of the branching ones and their counters; ``_routes.py`` what
``router`` and ``switch`` share. The modules are private (this package is
their public surface): a submodule named ``split`` would shadow the
function ``split`` (``import rxstreamz.routing.split`` and the API docs
would find the module).
"""

from rxstreamz.routing._fan import FanIn, FanInStats, FanOut, FanOutStats, fan_in, fan_out
from rxstreamz.routing._partition import Partition, PartitionStats, fnv1a_32, partition_
from rxstreamz.routing._router import RouteMode as RouteMode
from rxstreamz.routing._router import Router, RouterStats, router
from rxstreamz.routing._split import Split, SplitStats, split
from rxstreamz.routing._switch import Case as Case
from rxstreamz.routing._switch import Switch, SwitchStats, switch

__all__ = [
    "FanIn",
    "FanInStats",
    "FanOut",
    "FanOutStats",
    "Partition",
    "PartitionStats",
    "Router",
    "RouterStats",
    "Split",
    "SplitStats",
    "Switch",
    "SwitchStats",
    "fan_in",
    "fan_out",
    "fnv1a_32",
    "partition_",
    "router",
    "split",
    "switch",
]
