#!/usr/bin/env python3
"""The backfill guide's preflight_check: `nbapipe preflight` with the guide's flags.

    PYTHONPATH=$(pwd) python3 bin/backfill/preflight_check.py --start-date 2021-10-15 --end-date 2021-10-28 [--date D] [--phase 3] [--verbose] [--json]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bootstrap  # noqa: E402,F401  (src/ on the path; re-exec under .venv when needed)

from nbapipe.entrypoints import preflight_check  # noqa: E402

sys.exit(preflight_check(sys.argv[1:]))
