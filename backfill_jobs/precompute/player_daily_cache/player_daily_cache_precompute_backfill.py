#!/usr/bin/env python3
"""Backfill player_daily_cache (Phase 4 precompute) over a date range.

    PYTHONPATH=$(pwd) python3 backfill_jobs/precompute/player_daily_cache/player_daily_cache_precompute_backfill.py \
        --start-date 2021-10-26 --end-date 2021-11-30 [--dates D1,D2] [--skip-downstream-trigger] \
        [--dry-run] [--verbose] [--include-bootstrap]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bin"))
import _bootstrap  # noqa: E402,F401  (src/ on the path; re-exec under .venv when needed)

from nbapipe.entrypoints import processor_backfill  # noqa: E402

sys.exit(processor_backfill("player_daily_cache", sys.argv[1:]))
