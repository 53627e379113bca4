#!/usr/bin/env python3
"""Backfill upcoming_player_game_context (Phase 3 analytics) over a date range.

    PYTHONPATH=$(pwd) python3 backfill_jobs/analytics/upcoming_player_game_context/upcoming_player_game_context_analytics_backfill.py \
        --start-date 2021-10-19 --end-date 2021-10-28 [--dates D1,D2] [--skip-downstream-trigger] \
        [--dry-run] [--verbose]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bin"))
import _bootstrap  # noqa: E402,F401  (src/ on the path; re-exec under .venv when needed)

from nbapipe.entrypoints import processor_backfill  # noqa: E402

sys.exit(processor_backfill("upcoming_player_game_context", sys.argv[1:]))
