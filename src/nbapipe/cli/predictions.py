"""Phase 5 commands: predict, grade and evaluate."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import typer
from rich.table import Table

from nbapipe.cli import JSON_HELP, app, dates_option, emit_json, err, fail, out, synthetic_banner


@app.command()
def predict(ctx: typer.Context,
            start_date: Optional[str] = typer.Option(None, "--start-date", help="First date (YYYY-MM-DD)."),
            end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
            dates: Optional[str] = typer.Option(None, "--dates", help="Explicit dates D1,D2,... instead of a range."),
            skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no completion events."),
            dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and write nothing."),
            no_resume: bool = typer.Option(False, "--no-resume", help="Recompute dates already predicted with unchanged inputs."),
            verbose: bool = typer.Option(False, "--verbose", "-v", help="Every unit with its reason."),
            as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Predict every player's points for the dates with each system (moving-average baseline,
    walk-forward gradient boosting), with a confidence and OVER/UNDER/PASS where a line exists.
    Trains the monthly models it needs (stored under <home>/models) or reuses them. Same as
    `nbapipe backfill --phase 5 --processors player_prop_predictions`."""
    from nbapipe.cli.backfill import finish
    report = _run_phase5(ctx, "player_prop_predictions", dates_option(start_date, end_date, dates),
                         resume=not no_resume, dry_run=dry_run, skip=skip_downstream_trigger,
                         quiet=as_json, command="predict")
    finish(report, dry_run, verbose, as_json, ctx.obj.ws)


@app.command()
def grade(ctx: typer.Context,
          start_date: Optional[str] = typer.Option(None, "--start-date", help="First date (YYYY-MM-DD)."),
          end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
          dates: Optional[str] = typer.Option(None, "--dates", help="Explicit dates D1,D2,..."),
          season: Optional[str] = typer.Option(None, "--season", help="A whole season, e.g. 2023-24."),
          systems: Optional[str] = typer.Option(None, "--systems", help="Only these system ids, comma-separated."),
          edges: str = typer.Option(None, "--edges", help="Edge thresholds in points, comma-separated (default: 0,1,2,3,5 from config)."),
          skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no completion events for units it runs."),
          as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Grade the predictions of a range against the box scores and real lines, then report per
    system and per month: MAE, bias, within-3/5 rates, and hit rate with its count and a 95%
    Wilson interval at each edge threshold. Runs grading (and missing predictions) first."""
    from nbapipe.processors.predictions.evaluation import grade_report
    ds = _grade_dates(ctx, start_date, end_date, dates, season)
    thresholds = _parse_edges(edges)
    wanted = [s.strip() for s in systems.split(",") if s.strip()] if systems else None
    run = _run_phase5(ctx, "prediction_accuracy", ds, resume=True, dry_run=False,
                      skip=skip_downstream_trigger, quiet=True, command="grade")
    with ctx.obj.ws.reader() as wh:
        report = grade_report(wh, ds, thresholds, wanted) if wh.table_exists(
            "nba_predictions.prediction_accuracy") else {"systems": [], "edge_thresholds": thresholds}
    report["units"] = run.counts()
    report["failed"] = [r.as_dict() for r in run.failed]
    if as_json:
        emit_json(report)
    else:
        _print_grade(report)
    if run.failed:
        err.print(f"[bold red]{len(run.failed)} grading units failed[/] (see `nbapipe status`)")
    if not report["systems"]:
        from nbapipe.cli.backfill import nothing_done, why_nothing_done
        why = why_nothing_done(run, ctx.obj.ws) if nothing_done(run) else \
            ", ".join(f"{k} {v}" for k, v in run.counts().items() if v) or "no game dates"
        err.print(f"no graded predictions in this range: {why}")
    raise typer.Exit(1 if run.failed or not report["systems"] else 0)


@app.command()
def evaluate(ctx: typer.Context,
             start_date: Optional[str] = typer.Option(None, "--start-date", help="First date (YYYY-MM-DD)."),
             end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
             dates: Optional[str] = typer.Option(None, "--dates", help="Explicit dates D1,D2,..."),
             season: Optional[str] = typer.Option(None, "--season", help="A whole season, e.g. 2023-24."),
             systems: Optional[str] = typer.Option(None, "--systems", help="Only these system ids, comma-separated."),
             ablation: bool = typer.Option(False, "--ablation", help="Also run the walk-forward ablation of learners and feature groups (trains models: a few minutes a season)."),
             png: Optional[str] = typer.Option(None, "--png", help="Write calibration.png and mae_by_month.png into this folder."),
             skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no completion events for units it runs."),
             as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Evaluate the systems walk-forward over a range: per system and month, MAE, bias and
    within 3/5 beside the last-10 average and the last-5/10/season blend on the same
    player-games; on lined rows MAE against the line's, Brier score against the books'
    vig-free probability, a reliability table, and the picks' hit rate (95% Wilson interval)
    and ROI at the quoted prices. Grades (and predicts) what is missing first."""
    from nbapipe.processors.predictions.evaluation import evaluate_report, write_png
    ds = _grade_dates(ctx, start_date, end_date, dates, season)
    wanted = [s.strip() for s in systems.split(",") if s.strip()] if systems else None
    run = _run_phase5(ctx, "prediction_accuracy", ds, resume=True, dry_run=False,
                      skip=skip_downstream_trigger, quiet=True, command="evaluate")
    from nbapipe.processors.predictions.ablation import load_ablation, run_ablation
    data = None
    with ctx.obj.ws.reader() as wh:
        if not wh.table_exists("nba_predictions.prediction_accuracy"):
            report = {"systems": []}
        else:
            report = evaluate_report(wh, ds, wanted)
            if ablation and report["systems"]:
                data = load_ablation(wh)
    if ablation and report["systems"]:
        report["ablation"] = run_ablation(data)     # trains with the warehouse released
    report["units"] = run.counts()
    report["failed"] = [r.as_dict() for r in run.failed]
    if png and report["systems"]:
        report["png"] = [str(p) for p in write_png(report, png)]
    if as_json:
        emit_json(report)
    else:
        _print_evaluation(report)
    if run.failed:
        err.print(f"[bold red]{len(run.failed)} grading units failed[/] (see `nbapipe status`)")
    if not report["systems"]:
        err.print("nothing to evaluate in this range (no graded predictions of played games with an earlier game)")
    raise typer.Exit(1 if run.failed or not report["systems"] else 0)


# --- helpers ------------------------------------------------------------------------------------

def _run_phase5(ctx, processor: str, ds: list[dt.date], resume: bool, dry_run: bool, skip: bool,
                quiet: bool, command: str):
    from nbapipe.cli.backfill import _run_with_progress
    from nbapipe.orchestration.backfill import BackfillError
    from nbapipe.orchestration.runner import Request
    ws = ctx.obj.ws
    synthetic_banner(ws)
    req = Request(dates=ds, phases=[5], processors=[processor], resume=resume, dry_run=dry_run,
                  skip_downstream_trigger=skip, command=command)
    try:
        return _run_with_progress(ws, req, quiet=quiet)
    except BackfillError as e:
        fail(str(e))


def _grade_dates(ctx, start_date, end_date, dates, season) -> list[dt.date]:
    if season:
        if start_date or end_date or dates:
            fail("give either --season or --start-date/--end-date or --dates, not several")
        from nbapipe.calendar import Calendar
        cal = Calendar.from_state(ctx.obj.ws.state)
        try:
            first, last = cal.season_dates(season)
        except KeyError as e:
            fail(str(e.args[0]))
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return dates_option(start_date, end_date, dates)


def _parse_edges(edges: Optional[str]) -> list[float]:
    from nbapipe import config
    if not edges:
        return [float(e) for e in config.GRADE_EDGE_THRESHOLDS]
    try:
        values = sorted({float(x) for x in edges.split(",") if x.strip()})
    except ValueError:
        fail(f"--edges must be numbers like 0,1,2,3,5, got {edges!r}")
    if not values or values[0] < 0:
        fail("--edges must be non-negative numbers")
    return values


def _print_grade(report: dict) -> None:
    if not report["systems"]:
        return
    out.print(f"graded {report['graded_dates']} dates, {report['first_date']}..{report['last_date']}")
    acc = Table(title="accuracy (played games; DNP voided)")
    for c in ("system", "month", "predictions", "graded", "MAE", "bias", "within 3", "within 5",
              "with line", "MAE (line rows)", "line's MAE", "PASS"):
        acc.add_column(c, justify="left" if c in ("system", "month") else "right")
    picks = Table(title="picks against real lines: hit rate (count) [95% Wilson interval]; PASS, DNP and pushes excluded")
    picks.add_column("system")
    picks.add_column("month")
    for e in report["edge_thresholds"]:
        picks.add_column(f"edge >= {e:g}", justify="right")
    for s in report["systems"]:
        months = [(m["month"], m) for m in s["months"]] if len(s["months"]) > 1 else []
        for label, block in [("all", s["overall"])] + months:
            acc.add_row(s["system_id"], label, f"{block['predictions']:,}", f"{block['graded']:,}",
                        _f(block["mae"], 2), _f(block["bias"], 2), _pct(block["within_3_rate"]),
                        _pct(block["within_5_rate"]), f"{block['with_line']:,}",
                        _f(block["mae_with_line"], 2), _f(block["line_mae"], 2), f"{block['passes']:,}")
            if block["with_line"]:
                picks.add_row(s["system_id"], label, *[_pick_cell(p) for p in block["picks"]])
    out.print(acc)
    if picks.row_count:
        out.print(picks)
        out.print("[dim]Real points lines cover only a few slates, so pick counts are small: read the "
                  "95% interval, not the rate (a 52.4% hit rate is break-even at -110 odds).[/]")
    else:
        out.print("no predictions with a real points line in this range (hit rates need lines)")


def _pick_cell(p: dict) -> str:
    if not p["picks"]:
        return "-"
    lo, hi = p["ci95"]
    push = f", {p['pushes']} push" if p["pushes"] else ""
    return f"{p['hit_rate'] * 100:.1f}% ({p['picks']}{push}) [{lo * 100:.0f}-{hi * 100:.0f}]"


def _f(v, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _print_evaluation(report: dict) -> None:
    if not report["systems"]:
        return
    out.print(f"evaluated {report['dates']} dates, {report['first_date']}..{report['last_date']}: "
              f"played games (minutes > 0) with an earlier game that season")
    acc = Table(title="MAE / bias / within 3 / within 5 on the same player-games: system | last-10 average | blend")
    for c in ("system", "month", "rows", "MAE", "last-10", "blend", "vs last-10", "bias", "l10 bias",
              "within 3", "l10 w3", "within 5", "l10 w5"):
        acc.add_column(c, justify="left" if c in ("system", "month") else "right")
    lined = Table(title="lined rows: MAE against the line's; Brier score of P(over) against the books' vig-free P(over); picks by probability and price")
    for c in ("system", "month", "lined", "MAE", "line's MAE", "vs line", "Brier n", "Brier", "books' Brier",
              "picks", "hit rate [95%]", "ROI"):
        lined.add_column(c, justify="left" if c in ("system", "month") else "right")
    for s in report["systems"]:
        months = [(m["month"], m) for m in s["months"]] if len(s["months"]) > 1 else []
        for label, b in [("all", s["overall"])] + months:
            acc.add_row(s["system_id"], label, f"{b['rows']:,}", _f(b["mae"], 3), _f(b["last_10"]["mae"], 3),
                        _f(b["blend"]["mae"], 3), _f(b["mae_vs_last_10"], 3), _f(b["bias"], 2),
                        _f(b["last_10"]["bias"], 2), _pct(b["within_3"]), _pct(b["last_10"]["within_3"]),
                        _pct(b["within_5"]), _pct(b["last_10"]["within_5"]))
            if b["lined"]["rows"]:
                p = b["picks"]
                hit = "-" if not p["picks"] else (f"{p['hit_rate'] * 100:.1f}% ({p['picks']}) "
                                                  f"[{p['ci95'][0] * 100:.0f}-{p['ci95'][1] * 100:.0f}]")
                lined.add_row(s["system_id"], label, f"{b['lined']['rows']:,}", _f(b["lined"]["mae"], 3),
                              _f(b["lined"]["line_mae"], 3), _f(b["lined"]["mae_vs_line"], 3),
                              f"{b['calibration']['rows']:,}", _f(b["calibration"]["brier"], 4),
                              _f(b["calibration"]["line_brier"], 4), f"{p['picks']:,}", hit, _pct(p["roi"]))
    out.print(acc)
    if lined.row_count:
        out.print(lined)
    for s in report["systems"]:
        if not s["reliability"]:
            continue
        rel = Table(title=f"reliability of {s['system_id']} P(over) on lined rows (books' mean P(over) in the same rows)")
        for c in ("P(over)", "rows", "mean P(over)", "went over", "books' P(over)"):
            rel.add_column(c, justify="right")
        for b in s["reliability"]:
            rel.add_row(b["bin"], f"{b['rows']:,}", _f(b["mean_p_over"], 3), _f(b["observed_over"], 3),
                        _f(b["mean_line_p_over"], 3))
        out.print(rel)
    if report.get("ablation"):
        ab = Table(title="walk-forward ablation (monthly retraining, trained only before each month; same player-games)")
        for c in ("variant", "loss", "features", "rows", "MAE", "last-10 MAE", "vs last-10"):
            ab.add_column(c, justify="left" if c in ("variant", "loss") else "right")
        for r in report["ablation"]:
            ab.add_row(r["variant"], r["loss"], str(r["features"]), f"{r['rows']:,}", _f(r["mae"], 3),
                       _f(r["last_10_mae"], 3), _f(r["mae_vs_last_10"], 4))
        out.print(ab)
    for p in report.get("png", []):
        out.print(f"wrote {p}")
