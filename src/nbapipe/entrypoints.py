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
    from nbapipe.cancel import Cancelled
    from nbapipe.cli import app, stopped
    try:
        app(args=argv, prog_name="nbapipe", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0)
    except Cancelled as e:              # SIGINT / SIGTERM: 130 / 143, one line, no traceback
        return stopped(e)
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


# --- the guide's validation and monitoring scripts (bin/...) ----------------------------------

def _flags(args, names: tuple[str, ...]) -> list[str]:
    """argparse values -> the same `nbapipe` flags (booleans as switches, others with a value)."""
    out = []
    for name in names:
        v = getattr(args, name, None)
        if v is True:
            out.append(f"--{name.replace('_', '-')}")
        elif v not in (None, False):
            out += [f"--{name.replace('_', '-')}", str(v)]
    return out


def preflight_check(argv: list[str] | None = None) -> int:
    """bin/backfill/preflight_check.py"""
    ap = argparse.ArgumentParser(
        prog="preflight_check.py",
        description="Before a backfill: per table, game dates present / expected, the missing dates and "
                    "why, and what the backfill will do per phase. Same as `nbapipe preflight`.")
    ap.add_argument("--date", help="one date (YYYY-MM-DD)")
    ap.add_argument("--start-date", help="first date")
    ap.add_argument("--end-date", help="last date, inclusive")
    ap.add_argument("--phase", type=int, choices=(2, 3, 4, 5), help="only the tables of this phase")
    ap.add_argument("--verbose", "-v", action="store_true", help="every missing date with its reason")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--home", help="nbapipe home directory [env NBAPIPE_HOME, default ./.nbapipe]")
    args = ap.parse_args(argv)
    return _run(_home(args) + ["preflight"] + _flags(args, ("date", "start_date", "end_date", "phase", "verbose", "json")))


def verify_backfill_range(argv: list[str] | None = None) -> int:
    """bin/backfill/verify_backfill_range.py"""
    ap = argparse.ArgumentParser(
        prog="verify_backfill_range.py",
        description="After a backfill: exit 0 when the range is complete, 1 naming each problem. "
                    "Same as `nbapipe verify`.")
    ap.add_argument("--start-date", required=True, help="first date (YYYY-MM-DD)")
    ap.add_argument("--end-date", required=True, help="last date, inclusive")
    ap.add_argument("--phase", type=int, choices=(3, 4, 5), help="only this phase")
    ap.add_argument("--verbose", "-v", action="store_true", help="every date of every problem")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--home", help="nbapipe home directory [env NBAPIPE_HOME, default ./.nbapipe]")
    args = ap.parse_args(argv)
    return _run(_home(args) + ["verify"] + _flags(args, ("start_date", "end_date", "phase", "verbose", "json")))


def progress_monitor(argv: list[str] | None = None) -> int:
    """bin/infrastructure/monitoring/backfill_progress_monitor.py"""
    ap = argparse.ArgumentParser(
        prog="backfill_progress_monitor.py",
        description="Backfill progress per phase, table and season, rate, ETA and failures, from the "
                    "state store (works while a backfill runs). Same as `nbapipe monitor`.")
    ap.add_argument("--season", help="one season, e.g. 2021-22 (default: every season)")
    ap.add_argument("--start-date", help="first date of the scope")
    ap.add_argument("--end-date", help="last date of the scope")
    ap.add_argument("--detailed", action="store_true", help="per table as well as per phase")
    ap.add_argument("--continuous", action="store_true", help="refresh until Ctrl-C")
    ap.add_argument("--interval", type=float, help="seconds between refreshes (default 30)")
    ap.add_argument("--count", type=int, help="with --continuous: stop after N refreshes")
    ap.add_argument("--failures-only", action="store_true", help="only the recent failures")
    ap.add_argument("--json", action="store_true", help="machine-readable output (JSON lines when continuous)")
    ap.add_argument("--home", help="nbapipe home directory [env NBAPIPE_HOME, default ./.nbapipe]")
    args = ap.parse_args(argv)
    return _run(_home(args) + ["monitor"] + _flags(args, ("season", "start_date", "end_date", "detailed", "continuous",
                                                           "interval", "count", "failures_only", "json")))
