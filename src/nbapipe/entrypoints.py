"""The backfill guide's scripts (backfill_jobs/..., bin/...) as thin wrappers over the CLI:
their own argparse interface with the guide's flags, translated to `nbapipe` commands so
output, progress and exit codes are the same."""
from __future__ import annotations

import argparse
import sys

from nbapipe import processors as registry


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--start-date", help="first date (YYYY-MM-DD)")
    ap.add_argument("--end-date", help="last date, inclusive")
    ap.add_argument("--dates", help="explicit dates D1,D2,... instead of a range")
    ap.add_argument("--home", help="nbapipe home directory [env NBAPIPE_HOME, default ./.nbapipe]")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--verbose", "-v", action="store_true", help="more detail")


def _run(argv: list[str]) -> int:
    from nbapipe.cli import app
    try:
        app(args=argv, prog_name="nbapipe", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def _home(args) -> list[str]:
    return ["--home", args.home] if args.home else []


def _dates(args) -> list[str]:
    out = []
    for flag in ("start_date", "end_date", "dates"):
        v = getattr(args, flag)
        if v:
            out += [f"--{flag.replace('_', '-')}", v]
    return out


def processor_backfill(name: str, argv: list[str] | None = None) -> int:
    """backfill_jobs/<analytics|precompute>/<p>/<p>_<kind>_backfill.py"""
    p = registry.get(name)
    ap = argparse.ArgumentParser(
        prog=f"{name}_backfill",
        description=f"Backfill {name} (Phase {p.phase}): {p.description}. Missing required upstream "
                    f"units of Phase {p.phase} run first. Same as `nbapipe backfill --processors {name}`.")
    _common(ap)
    ap.add_argument("--skip-downstream-trigger", action="store_true",
                    help="publish no completion events (run the next phase by hand)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    ap.add_argument("--no-resume", action="store_true", help="recompute units already done")
    ap.add_argument("--workers", type=int, default=1, help="concurrent independent processors")
    if p.phase == 4:
        ap.add_argument("--include-bootstrap", action="store_true",
                        help="compute the bootstrap window from whatever history exists")
    args = ap.parse_args(argv)
    cmd = _home(args) + ["backfill", "--processors", name] + _dates(args)
    for flag in ("skip_downstream_trigger", "dry_run", "no_resume", "verbose", "json", "include_bootstrap"):
        if getattr(args, flag, False):
            cmd.append(f"--{flag.replace('_', '-')}")
    cmd += ["--workers", str(args.workers)]
    return _run(cmd)


def main_for(script: str) -> None:
    """Dispatch by script file name (used by the generated backfill_jobs scripts)."""
    sys.exit(processor_backfill(script))
