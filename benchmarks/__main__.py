"""``python -m benchmarks``: run the suite (benchmarks/run.py)."""

import sys

from benchmarks.run import main

sys.exit(main())
