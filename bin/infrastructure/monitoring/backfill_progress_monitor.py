#!/usr/bin/env python3
"""The backfill guide's progress monitor: `nbapipe monitor` with the guide's flags. Reads only
the state store, so run it in a second terminal while a backfill runs.

    PYTHONPATH=$(pwd) python3 bin/infrastructure/monitoring/backfill_progress_monitor.py \
        --season 2021-22 --detailed --continuous --interval 30
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import _bootstrap  # noqa: E402,F401  (src/ on the path; re-exec under .venv when needed)

from nbapipe.entrypoints import progress_monitor  # noqa: E402

sys.exit(progress_monitor(sys.argv[1:]))
