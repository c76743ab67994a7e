"""``python -m rxstreamz``: the ``rxstreamz`` command line (``rxstreamz.bench.cli``)."""

import sys

from rxstreamz.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
