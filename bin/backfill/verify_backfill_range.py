#!/usr/bin/env python3
"""The backfill guide's verify_backfill_range: `nbapipe verify` with the guide's flags.

    PYTHONPATH=$(pwd) python3 bin/backfill/verify_backfill_range.py --start-date 2021-10-15 --end-date 2021-10-28 [--verbose] [--json]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bootstrap  # noqa: E402,F401  (src/ on the path; re-exec under .venv when needed)

from nbapipe.entrypoints import verify_backfill_range  # noqa: E402

sys.exit(verify_backfill_range(sys.argv[1:]))
