"""The daily loop on the real data (issue 16): a replay of one December 2023 week, day by day,
equals the backfill table by table, with a box score two days late, a corrected stat line and a
lines file after tip-off injected on the way; then `nbapipe daily` with files in its inbox."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil

import pytest

from conftest import copy_home
from orchestration_support import wait_until
from nbapipe.orchestration.backfill import run_backfill
from nbapipe.orchestration.replay import _sqlite_ws, replay
from nbapipe.orchestration.runner import Request
from nbapipe.state import ledger

pytestmark = pytest.mark.realdata

START, END = dt.date(2023, 12, 4), dt.date(2023, 12, 10)
LATE = dt.date(2023, 12, 5)          # one game's box score arrives on the 8th, not the 6th
CORRECTED = dt.date(2023, 12, 7)     # a stat line corrected on the 9th
LINES = dt.date(2023, 12, 9)         # a lines file snapped after tip-off arrives on the 10th
BOX_TABLES = ("nba_raw.nbac_gamebook_player_stats", "nba_raw.nbac_team_boxscore",
              "nba_raw.nbac_team_game_logs", "nba_raw.nbac_shot_chart")


def _late_game(wh) -> str:
    return wh.scalar("SELECT min(game_id) FROM nba_raw.nbac_schedule WHERE game_date = ?", [LATE])


def _correct(wh) -> dict:
    key = wh.tuples("SELECT game_id, player_lookup FROM nba_raw.nbac_gamebook_player_stats "
                    "WHERE game_date = ? AND data_source = 'bbref' AND points > 10 ORDER BY 1, 2 LIMIT 1", [CORRECTED])[0]
    wh.execute("UPDATE nba_raw.nbac_gamebook_player_stats SET points = points + 2, ingested_at = current_timestamp "
               "WHERE game_id = ? AND player_lookup = ? AND data_source = 'bbref'", list(key))
    return {"nba_raw.nbac_gamebook_player_stats": {CORRECTED.isoformat(): 1}}


def _lines_after_tipoff(wh) -> dict:
    # A real game and player of that night, a line seen an hour after tip-off (UTC).
    wh.execute("""
        INSERT INTO nba_raw.odds_api_player_points_props
            (game_id, game_date, event_id, commence_time, snapshot_at, bookmaker, player_name, player_lookup,
             points_line, over_price, under_price, is_main_line, away_team_abbr, home_team_abbr, data_source,
             source_file, ingested_at)
        SELECT s.game_id, s.game_date, 'late-file', CAST(s.game_date AS TIMESTAMP) + INTERVAL 24 HOUR,
               CAST(s.game_date AS TIMESTAMP) + INTERVAL 25 HOUR, 'draftkings', p.player_name, p.player_lookup,
               20.5, -110, -110, true, s.away_team_abbr, s.home_team_abbr, 'odds_api', 'late.csv', current_timestamp
        FROM nba_raw.nbac_schedule s
        JOIN nba_raw.nbac_gamebook_player_stats p ON p.game_id = s.game_id AND p.data_source = 'bbref'
        WHERE s.game_date = ? ORDER BY s.game_id, p.player_lookup LIMIT 1""", [LINES])
    return {"nba_raw.odds_api_player_points_props": {LINES.isoformat(): 1}}


def _hook(staging_db):
    def hook(wh, day: dt.date) -> dict:
        if day == LATE + dt.timedelta(days=1):          # the game's rows did not come
            g = _late_game(wh)
            for t in BOX_TABLES:
                wh.execute(f"DELETE FROM {t} WHERE game_id = ?", [g])
        if day == LATE + dt.timedelta(days=3):          # ... they come two days late
            wh.execute(f"ATTACH '{staging_db}' AS late (READ_ONLY)")
            try:
                g = _late_game(wh)
                for t in BOX_TABLES:
                    wh.execute(f"INSERT INTO {t} BY NAME SELECT * REPLACE (CAST(current_timestamp AS TIMESTAMP) "
                               f"AS ingested_at) FROM late.{t} WHERE game_id = ?", [g])
            finally:
                wh.execute("DETACH late")
            return {"nba_raw.nbac_gamebook_player_stats": {LATE.isoformat(): 1}}
        if day == CORRECTED + dt.timedelta(days=2):
            return _correct(wh)
        if day == LINES + dt.timedelta(days=1):
            return _lines_after_tipoff(wh)
        return {}
    return hook


def _final(wh) -> None:
    _correct(wh)
    _lines_after_tipoff(wh)


@pytest.fixture(scope="module")
def replayed(real_home, tmp_path_factory):
    work = tmp_path_factory.mktemp("replay")
    copy_home(real_home, work / "staging")
    stale_after: dict[str, int] = {}

    def on_day(t) -> None:
        # After each morning, nothing computed before the day may be stale (inputs changed
        # since its success) and not recomputed.
        ws = _sqlite_ws(work / "live")
        try:
            first = dt.date(2023, 10, 24)
            d = dt.date.fromisoformat(t.date)
            plan = run_backfill(ws, Request(dates=[first + dt.timedelta(days=i) for i in range((d - first).days)],
                                            phases=[3, 4, 5], dry_run=True)).plan
            stale_after[t.date] = sum(u.action == "run" and "inputs changed" in u.reason for u in plan)
        finally:
            ws.close()

    # The season only (not the default previous season too): the fixture's cost.
    report = replay(work, START, END, history_from=dt.date(2023, 10, 24), hook=_hook(work / "staging" / "warehouse.duckdb"), final=_final,
                    on_day=on_day, on_note=lambda m: None)
    return work, report, stale_after


def test_replay_equals_the_backfill_table_by_table(replayed):
    work, report, stale_after = replayed
    assert report.identical, [d.as_dict() for d in report.differences][:10]
    assert len(report.days) == (END - START).days + 2          # and the morning after
    assert all(d.report.failed == 0 for d in report.days)
    # Every Phase 3-5 table was compared, with rows in the range.
    assert len(report.tables) == 12 and min(report.tables.values()) > 300, report.tables
    # Players first listed in a night's box score (not in its pre-game universe): known, counted.
    assert sum(report.known.values()) > 0
    assert all(n < 40 for n in report.known.values()), report.known
    assert stale_after and set(stale_after.values()) == {0}, stale_after


def test_replay_predictions_are_the_backfills(replayed):
    work, report, _ = replayed
    assert report.tables["nba_predictions.player_prop_predictions"] > 0
    assert not [d for d in report.differences if d.table.startswith("nba_predictions.")]


def test_late_box_score_recomputes_its_date_and_later_dates_only(replayed):
    work, report, _ = replayed
    day = LATE + dt.timedelta(days=3)
    redone = _day_units(work, report, day)
    assert ("player_game_summary", LATE.isoformat()) in redone
    assert ("team_offense_game_summary", LATE.isoformat()) in redone
    assert min(d for _, d in redone) == LATE.isoformat()
    # The dates after it that read its rows (the season lookback) are recomputed too.
    assert any(p == "upcoming_player_game_context" and d > LATE.isoformat() for p, d in redone)


def test_corrected_stat_line_recomputes_from_its_date(replayed):
    work, report, _ = replayed
    redone = _day_units(work, report, CORRECTED + dt.timedelta(days=2))
    assert ("player_game_summary", CORRECTED.isoformat()) in redone
    assert min(d for _, d in redone) == CORRECTED.isoformat()
    # The team totals of that date read the team box score, which did not change: not recomputed.
    assert ("team_offense_game_summary", CORRECTED.isoformat()) not in redone


def test_lines_after_tipoff_recompute_the_units_reading_that_nights_lines(replayed):
    work, report, _ = replayed
    redone = _day_units(work, report, LINES + dt.timedelta(days=1))
    assert ("upcoming_player_game_context", LINES.isoformat()) in redone
    assert min(d for _, d in redone) == LINES.isoformat()
    # Nothing from before that night is recomputed.
    assert not [u for u in redone if u[1] < LINES.isoformat()]


def _day_units(work, report, day: dt.date) -> set[tuple[str, str]]:
    """(processor, date) of every unit computed on that morning (its rows in the ledger)."""
    t = next(x for x in report.days if x.date == day.isoformat())
    ws = _sqlite_ws(work / "live")
    try:
        rows = ws.state.rows("SELECT processor, game_date FROM run_ledger WHERE status IN ('success', 'partial') "
                             "AND finished_at BETWEEN ? AND ?", [t.report.started_at, t.report.finished_at])
    finally:
        ws.close()
    return {(r["processor"], r["game_date"]) for r in rows}


def test_daily_ingests_the_inbox_and_runs_the_next_day(replayed, data_dir, tmp_path):
    work, report, _ = replayed
    home = copy_home(work / "live", tmp_path / "home")
    night = END + dt.timedelta(days=1)            # its box scores arrive on the next morning
    day = night + dt.timedelta(days=1)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("player_box", "team_box"):
        _subset(data_dir / "bbref" / f"{name}.csv.gz", inbox / f"{name}_{night}.csv.gz", night)
    (inbox / "notes.txt").write_text("not data\n")
    from typer.testing import CliRunner
    from nbapipe.cli import app
    r = CliRunner().invoke(app, ["--home", str(home), "daily", "--date", day.isoformat(),
                                 "--inbox", str(inbox), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    steps = {s["name"]: s for s in out["steps"]}
    assert sorted(p.name for p in (inbox / "done" / day.isoformat()).iterdir()) == \
        [f"player_box_{night}.csv.gz", f"team_box_{night}.csv.gz"]
    assert (inbox / "notes.txt").exists()
    assert steps["ingest"]["detail"]["completions"] > 0
    assert steps["events"]["detail"]["triggers"] >= 1
    ws = _sqlite_ws(home)
    try:
        latest = ledger.latest_map(ws.state, start=night, end=day)
        msgs = ws.state.rows("SELECT acked_at, dead_at FROM bus_messages WHERE msg_key = ? "
                             "AND topic = 'nba-phase3-trigger'", [night.isoformat()])
    finally:
        ws.close()
    assert latest[("player_game_summary", night)]["status"] == "success"
    assert latest[("ml_feature_store", day)]["status"] == "success"
    assert latest[("player_prop_predictions", day)]["status"] == "success"
    assert latest[("prediction_accuracy", night)]["status"] == "success"
    assert len(msgs) == 1 and msgs[0]["acked_at"] is not None and msgs[0]["dead_at"] is None, msgs
    # The same day again: nothing new in the inbox, nothing to recompute.
    again = CliRunner().invoke(app, ["--home", str(home), "daily", "--date", day.isoformat(),
                                     "--inbox", str(inbox), "--json"])
    assert again.exit_code == 0, again.output
    pre = {s["name"]: s for s in json.loads(again.stdout)["steps"]}["pregame"]
    assert pre["detail"]["counts"].get("success", 0) == 0 and pre["detail"]["counts"]["already_done"] > 0


def _subset(src, dst, day: dt.date) -> None:
    """The rows of one date of a real file, as a file of its own (same header)."""
    with gzip.open(src, "rt") as f, gzip.open(dst, "wt") as out:
        header = f.readline()
        out.write(header)
        col = header.rstrip("\n").split(",").index("game_date")
        for line in f:
            if line.split(",")[col] == day.isoformat():
                out.write(line)


def test_serve_inbox_runs_the_cycle_when_files_arrive_and_not_again_for_a_refused_one(replayed, data_dir, tmp_path):
    """`serve --inbox`'s loop (watch_inbox), in a thread with the day fixed: the day's cycle at
    start, once more when settled files arrive, and not again for a refused file left behind."""
    import os
    import threading
    import time
    from nbapipe import cancel
    from nbapipe.orchestration.daily import watch_inbox
    work, _, _ = replayed
    home = copy_home(work / "live", tmp_path / "home")
    night = END + dt.timedelta(days=1)
    day = night + dt.timedelta(days=1)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cycles: list = []
    ws = _sqlite_ws(home)

    def serve() -> None:
        try:
            watch_inbox(ws, inbox, lambda: day, interval=0.1, on_cycle=cycles.append)
        except cancel.Cancelled:
            pass
    t = threading.Thread(target=serve)
    t.start()
    try:
        wait_until(lambda: cycles, 120, "the day's first cycle")
        assert cycles[0].steps[0].did.endswith("no new files"), cycles[0].as_dict()
        for name in ("player_box", "team_box"):
            _subset(data_dir / "bbref" / f"{name}.csv.gz", inbox / f"{name}_{night}.csv.gz", night)
        (inbox / "broken.csv.gz").write_bytes(b"\x1f\x8b not really gzip")
        for p in inbox.iterdir():                              # settled: written a while ago
            os.utime(p, (time.time() - 60, time.time() - 60))
        wait_until(lambda: len(cycles) >= 2, 120, "the cycle of the new files")
        time.sleep(1.0)                                        # ten more looks at the folder
        assert len(cycles) == 2, [c.as_dict() for c in cycles]
    finally:
        cancel.request("test over", 0)
        t.join(timeout=60)
        cancel.reset()
    second = cycles[1]
    assert second.failed == 0 and not second.error, second.as_dict()
    ingest = second.steps[0].detail
    assert ingest["files"] == 3 and ingest["moved"] == 2 and ingest["completions"] > 0, ingest
    assert sorted(p.name for p in (inbox / "done" / day.isoformat()).iterdir()) == \
        [f"player_box_{night}.csv.gz", f"team_box_{night}.csv.gz"]
    assert (inbox / "broken.csv.gz").exists()
    latest = ledger.latest_map(ws.state, start=night, end=day)
    ws.close()
    assert latest[("player_game_summary", night)]["status"] == "success"
    assert latest[("player_prop_predictions", day)]["status"] == "success"
    assert latest[("prediction_accuracy", night)]["status"] == "success"

