#!/usr/bin/env python3
"""Backfill ml_feature_store (Phase 4 precompute) over a date range.

    PYTHONPATH=$(pwd) python3 backfill_jobs/precompute/ml_feature_store/ml_feature_store_precompute_backfill.py \
        --start-date 2021-10-26 --end-date 2021-11-30 [--dates D1,D2] [--skip-downstream-trigger] \
        [--dry-run] [--verbose] [--include-bootstrap]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bin"))
import _bootstrap  # noqa: E402,F401  (src/ on the path; re-exec under .venv when needed)

from nbapipe.entrypoints import processor_backfill  # noqa: E402

sys.exit(processor_backfill("ml_feature_store", sys.argv[1:]))
