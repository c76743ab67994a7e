"""``rxstreamz bench``: the measurements behind the performance guide, and its command line.

One module per concern:

* ``model``: the records (``Case``, ``Result``, ``Gauge``), the table and
  implementation names, and the lookup of a processor by name;
* ``baselines``: the user functions every implementation calls, and the
  plain-Python and RxPY baselines (the suites of ``benchmarks/`` import them
  too);
* ``cases``: the cases of every table, one builder per table;
* ``asyncio_cases``: the ``asyncio`` table, one pipeline on one event loop
  beside aiostream, python-streamz, hand-written asyncio and the ceiling;
* ``measure``: timing, memory and the description of the machine;
* ``render``: the report as aligned text or Markdown, and as JSON;
* ``cli``: the ``rxstreamz`` command line (arguments and progress).

``import rxstreamz`` imports none of it, and the optional packages
(aiostream, python-streamz, rich, tqdm) are imported only where they run.
"""
