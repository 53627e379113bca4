"""Ingest contracts (sources/contracts.py), neutral sites, identity keys that survive
corrections, and expected entities per team: all built from real rows of the data folder,
mutated the way a user's files arrive. Small per-case homes start from one session home with
only the schedules loaded; the Phase 3 case copies `phase3_home`."""
from __future__ import annotations

import copy
import csv
import datetime as dt
import gzip
import json
from pathlib import Path

import duckdb
import pytest

from conftest import backfill, copy_home, read_wh, state_at

pytestmark = pytest.mark.realdata

PARIS = "0022300527"          # 2024-01-11 BKN @ CLE, AccorHotels Arena, Paris
MEXICO = "0022200439"         # 2022-12-17 MIA @ SAS, Mexico City Arena
IST_FINAL = "0062300001"      # 2023-12-09 IND @ LAL, Las Vegas (NBA Cup final)


# --- helpers -------------------------------------------------------------------------------

def _read_csv(path: Path, keep) -> tuple[list[str], list[dict]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames), [row for row in r if keep(row)]


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def _ingest(home: Path, *paths: Path, replace: bool = False):
    from nbapipe.sources.ingest import run_ingest
    from nbapipe.workspace import Workspace
    ws = Workspace.at(home)
    try:
        s = run_ingest(ws, list(paths), replace=replace)
    finally:
        ws.close()
    assert not s.refused, [o.as_dict() for o in s.refused]
    return s


def _result(summary, loader: str):
    return [l for o in summary.outcomes for l in o.loaders if l.loader == loader][0]


def _rows(home: Path, sql: str, params=None) -> list[dict]:
    with read_wh(home) as wh:
        return wh.rows(sql, params or [])


def _raw_differences(home_a: Path, home_b: Path, table: str) -> int:
    """Rows of a raw table that differ between two homes (ingest times aside)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{home_a / 'warehouse.duckdb'}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{home_b / 'warehouse.duckdb'}' AS b (READ_ONLY)")
        stamp = [c for c in ("ingested_at", "quarantined_at", "corrected_at")
                 if c in [r[0] for r in con.execute(f"DESCRIBE a.{table}").fetchall()]]
        q = f"SELECT * EXCLUDE ({', '.join(stamp)}) FROM {{db}}.{table}" if stamp else f"SELECT * FROM {{db}}.{table}"
        return con.execute(f"SELECT (SELECT count(*) FROM ({q.format(db='a')} EXCEPT ALL {q.format(db='b')})) + "
                           f"(SELECT count(*) FROM ({q.format(db='b')} EXCEPT ALL {q.format(db='a')}))").fetchone()[0]
    finally:
        con.close()


RAW_TABLES = ["nba_raw.nbac_gamebook_player_stats", "nba_raw.nbac_team_boxscore", "nba_raw.quarantine",
              "nba_raw.contract_corrections"]


@pytest.fixture(scope="module")
def sched_home(tmp_path_factory, data_dir):
    """A home with only the two schedules of 2021-22..2023-24 loaded."""
    home = tmp_path_factory.mktemp("sched") / "home"
    _ingest(home, data_dir / "bbref" / "games.csv.gz", data_dir / "nba_api" / "schedule_2021_22_to_2023_24.csv.gz")
    return home


@pytest.fixture
def home(sched_home, tmp_path):
    return copy_home(sched_home, tmp_path / "home")


def _game_rows(data_dir: Path, rel: str, nba_id: str, col: str = "nba_game_id"):
    return _read_csv(data_dir / rel, lambda r: r[col].zfill(10) == nba_id)


# --- impossible rows ------------------------------------------------------------------------

def test_impossible_rows_are_quarantined_by_rule_and_good_rows_load(home, data_dir, tmp_path):
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    played = [r for r in rows if r["status"] == "Played"]
    played[0]["pts"] = "900"
    played[1]["minutes"] = "4000"
    pbox = _write_csv(tmp_path / "player_box.csv", header, rows)
    th, trows = _game_rows(data_dir, "bbref/team_box.csv.gz", PARIS)
    trows[0]["pts"] = "900"
    tbox = _write_csv(tmp_path / "team_box.csv", th, trows)
    ph, prows = _read_csv(data_dir / "props/player_points_2024_odds_api.csv.gz", lambda r: r["game_date_et"] == "2024-02-29")
    prows[3]["line"] = "900.5"
    props = _write_csv(tmp_path / "props.csv", ph, prows)
    # A game of 2030: an NBA id no schedule has, dated beyond the last scheduled game.
    gh, grows = _game_rows(data_dir, "nba_api/team_game_logs_2023_24.csv.gz", PARIS, "GAME_ID")
    for r in grows:
        r["GAME_ID"], r["GAME_DATE"] = "0022900527", "2030-01-11"
    logs = _write_csv(tmp_path / "logs_2030.csv", gh, grows)

    s = _ingest(home, pbox, tbox, props, logs)
    pb, tb, pr, lg = (_result(s, n) for n in ("bbref_player_box", "bbref_team_box", "odds_api_points_csv",
                                                 "nba_api_team_game_logs"))
    assert (pb.quarantined, pb.inserted) == (2, len(rows) - 2)
    assert pb.rules == {"range_points": {"quarantined": 1}, "range_minutes_played": {"quarantined": 1}}
    assert (tb.quarantined, tb.inserted, tb.rules) == (1, 1, {"range_points": {"quarantined": 1}})
    assert (pr.quarantined, pr.inserted) == (1, len(prows) - 1)
    assert pr.rules == {"range_points_line": {"quarantined": 1}}
    assert (lg.quarantined, lg.inserted, lg.rules) == (2, 0, {"not_after_last_game": {"quarantined": 2}})
    reasons = sorted(r["reason"] for r in _rows(home, "SELECT reason FROM nba_raw.quarantine"))
    assert reasons[0].startswith("not_after_last_game: game date 2030-01-11")
    assert "range_points: points 900 outside 0..100" in reasons
    assert "range_points: points 900 outside 50..200" in reasons
    assert "range_minutes_played: minutes_played 4000.0 outside 0..70" in reasons
    assert "range_points_line: points_line 900.5 outside 0..80" in reasons
    assert _rows(home, "SELECT max(points) AS p FROM nba_raw.nbac_gamebook_player_stats")[0]["p"] < 100


def test_misdated_game_and_home_equals_away_are_corrected_to_the_schedule(home, data_dir, tmp_path):
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    for r in rows:
        r["game_date"] = "2024-01-12"                          # a day late
    pbox = _write_csv(tmp_path / "player_box.csv", header, rows)
    gh, grows = _game_rows(data_dir, "nba_api/team_game_logs_2023_24.csv.gz", PARIS, "GAME_ID")
    grows[0]["MATCHUP"] = f"{grows[0]['TEAM_ABBREVIATION']} vs. {grows[0]['TEAM_ABBREVIATION']}"
    logs = _write_csv(tmp_path / "logs.csv", gh, grows)
    s = _ingest(home, pbox, logs)
    assert _result(s, "bbref_player_box").rules == {"agrees_with_schedule": {"corrected": len(rows)}}
    assert _result(s, "nba_api_team_game_logs").rules == {"agrees_with_schedule": {"corrected": 1}}
    got = _rows(home, "SELECT DISTINCT game_date, game_id FROM nba_raw.nbac_gamebook_player_stats")
    assert got == [{"game_date": dt.date(2024, 1, 11), "game_id": "20240111_BKN_CLE"}]
    logs_rows = _rows(home, "SELECT team_abbr, opponent_team_abbr, home_away, game_id FROM nba_raw.nbac_team_game_logs ORDER BY 1")
    assert logs_rows == [{"team_abbr": "BKN", "opponent_team_abbr": "CLE", "home_away": "away", "game_id": "20240111_BKN_CLE"},
                         {"team_abbr": "CLE", "opponent_team_abbr": "BKN", "home_away": "home", "game_id": "20240111_BKN_CLE"}]
    fixes = _rows(home, "SELECT loader, rule, detail FROM nba_raw.contract_corrections WHERE loader = 'nba_api_team_game_logs'")
    assert fixes == [{"loader": "nba_api_team_game_logs", "rule": "agrees_with_schedule",
                      "detail": "game_id 20240111_CLE_CLE -> 20240111_BKN_CLE; opponent_team_abbr CLE -> BKN"}]


def test_home_equals_away_without_a_schedule_is_quarantined(data_dir, tmp_path):
    gh, grows = _game_rows(data_dir, "nba_api/team_game_logs_2023_24.csv.gz", PARIS, "GAME_ID")
    grows[0]["MATCHUP"] = "CLE vs. CLE"
    grows[0]["TEAM_ABBREVIATION"] = "CLE"
    s = _ingest(tmp_path / "h", _write_csv(tmp_path / "logs.csv", gh, grows))
    r = _result(s, "nba_api_team_game_logs")
    assert (r.inserted, r.quarantined) == (1, 1)
    assert r.rules == {"game_id_well_formed": {"quarantined": 1}}


def test_exhibition_against_a_non_nba_club_is_skipped_not_bad(home, data_dir, tmp_path):
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    rows = [r for r in rows if r["team_nba"] == "BKN"]
    for r in rows:              # the same rows as a preseason game against Real Madrid
        r["nba_game_id"], r["opponent"] = "0012300005", "Real Madrid"
    s = _ingest(home, _write_csv(tmp_path / "exhibition.csv", header, rows))
    r = _result(s, "bbref_player_box")
    assert (r.inserted, r.quarantined, r.filtered) == (0, 0, len(rows))
    assert r.rules == {"exhibition_non_nba": {"filtered": len(rows)}}


# --- neutral sites: one test per loader, from a real row of such a game ---------------------

def _one(home: Path, sql: str) -> list[tuple]:
    with read_wh(home) as wh:
        return wh.tuples(sql)


def test_neutral_team_game_log_written_from_the_other_side(data_dir, tmp_path, sched_home):
    """NBA.com writes 'BKN @ CLE' on the CLE row of the Paris game: CLE is still home."""
    gh, grows = _game_rows(data_dir, "nba_api/team_game_logs_2023_24.csv.gz", PARIS, "GAME_ID")
    for r in grows:
        r["MATCHUP"] = "BKN @ CLE"
    f = _write_csv(tmp_path / "logs.csv", gh, grows)
    for home in (tmp_path / "no_schedule", copy_home(sched_home, tmp_path / "with_schedule")):
        r = _result(_ingest(home, f), "nba_api_team_game_logs")
        assert (r.inserted, r.quarantined) == (2, 0)
        assert _one(home, "SELECT team_abbr, opponent_team_abbr, home_away, game_id FROM nba_raw.nbac_team_game_logs "
                          "ORDER BY 1") == [("BKN", "CLE", "away", "20240111_BKN_CLE"), ("CLE", "BKN", "home", "20240111_BKN_CLE")]


def test_neutral_nba_cup_final_in_las_vegas(data_dir, tmp_path, home):
    gh, grows = _game_rows(data_dir, "nba_api/team_game_logs_2023_24.csv.gz", IST_FINAL, "GAME_ID")
    for r in grows:
        r["MATCHUP"] = "IND @ LAL"
    r = _result(_ingest(home, _write_csv(tmp_path / "logs.csv", gh, grows)), "nba_api_team_game_logs")
    assert (r.inserted, r.quarantined) == (2, 0)
    assert _one(home, "SELECT DISTINCT game_id, game_type FROM nba_raw.nbac_team_game_logs") == \
        [("20231209_IND_LAL", "in-season-final")]


def test_neutral_player_game_log(data_dir, tmp_path):
    header, rows = _read_csv(data_dir / "nba_api/player_game_logs_2025_26.csv.gz",
                             lambda r: r["date"] == "2025-10-21" and r["matchup"] == "GSW @ LAL")
    rows = rows[:3]
    rows[0] = {**rows[0], "player": "X Test", "player_id": "1", "team": "LAL"}   # a LAL player: 'GSW @ LAL'
    r = _result(_ingest(tmp_path / "h", _write_csv(tmp_path / "pl.csv", header, rows)), "nba_api_player_game_logs")
    assert (r.inserted, r.quarantined) == (3, 0)
    got = _one(tmp_path / "h", "SELECT team_abbr, home_away, opponent_team_abbr, game_id FROM nba_raw.nbac_player_boxscores "
                               "WHERE player_name = 'X Test'")
    assert got == [("LAL", "home", "GSW", "20251021_GSW_LAL")]


def test_neutral_league_game_log_json(data_dir, tmp_path):
    src = next((data_dir / "source-samples").rglob("raw_2ad17718.json"))
    doc = json.loads(src.read_text())
    rs = [x for x in doc["resultSets"] if x["name"] == "LeagueGameLog"][0]
    h = rs["headers"]
    row = rs["rowSet"][0]
    team, matchup = row[h.index("TEAM_ABBREVIATION")], row[h.index("MATCHUP")]
    first, sep, last = matchup.split(" ", 2)[0], " @ " if "@" in matchup else " vs. ", matchup.split()[-1]
    home_side = last if "@" in matchup else first
    away_side = first if "@" in matchup else last
    # From the other team's side: the same game, written as the opponent's row would be.
    row[h.index("MATCHUP")] = f"{away_side} @ {home_side}" if team == home_side else f"{home_side} vs. {away_side}"
    f = tmp_path / "lgl.json"
    f.write_text(json.dumps(doc))
    r = _result(_ingest(tmp_path / "h", f), "nbac_leaguegamelog_players")
    assert r.quarantined == 0
    date = row[h.index("GAME_DATE")].replace("-", "")[:8]
    got = _one(tmp_path / "h", f"SELECT home_away, game_id FROM nba_raw.nbac_player_boxscores "
                               f"WHERE nba_player_id = '{row[h.index('PLAYER_ID')]}'")
    assert got == [("home" if team == home_side else "away", f"{date}_{away_side}_{home_side}")]


def test_neutral_bbref_box_scores_marked_from_the_wrong_side(data_dir, tmp_path, home):
    """Both box-score files with home/away flipped for the Paris game: the schedule decides."""
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    th, trows = _game_rows(data_dir, "bbref/team_box.csv.gz", PARIS)
    for r in rows + trows:
        r["home_away"] = "home" if r["home_away"] == "away" else "away"
    s = _ingest(home, _write_csv(tmp_path / "pb.csv", header, rows), _write_csv(tmp_path / "tb.csv", th, trows))
    assert _result(s, "bbref_player_box").rules == {"agrees_with_schedule": {"corrected": len(rows)}}
    assert _result(s, "bbref_team_box").rules == {"agrees_with_schedule": {"corrected": 2}}
    assert _one(home, "SELECT DISTINCT team_abbr, home_away, game_id FROM nba_raw.nbac_gamebook_player_stats ORDER BY 1") == \
        [("BKN", "away", "20240111_BKN_CLE"), ("CLE", "home", "20240111_BKN_CLE")]
    assert _one(home, "SELECT team_abbr, home_away, game_id FROM nba_raw.nbac_team_boxscore ORDER BY 1") == \
        [("BKN", "away", "20240111_BKN_CLE"), ("CLE", "home", "20240111_BKN_CLE")]


@pytest.mark.parametrize("rel, nba_id, home_col, away_col, id_col, loader, game", [
    ("shots/shots_2023_24.csv.gz", PARIS, "HOME_TEAM", "AWAY_TEAM", "GAME_ID", "shots_detail_2022", "20240111_BKN_CLE"),
    ("shots/shots_2021_22.csv.gz", "0022100001", "home_team", "away_team", "nba_game_id", "shots_detail_2021", "20211019_BKN_MIL"),
])
def test_neutral_shot_chart_with_sides_swapped(data_dir, tmp_path, home, rel, nba_id, home_col, away_col, id_col, loader, game):
    header, rows = _read_csv(data_dir / rel, lambda r: r[id_col].zfill(10) == nba_id)
    for r in rows:
        r[home_col], r[away_col] = r[away_col], r[home_col]
    r = _result(_ingest(home, _write_csv(tmp_path / "shots.csv", header, rows)), loader)
    assert (r.inserted, r.quarantined, r.rules) == (len(rows), 0, {"agrees_with_schedule": {"corrected": len(rows)}})
    assert _one(home, "SELECT DISTINCT game_id FROM nba_raw.nbac_shot_chart") == [(game,)]


def test_neutral_game_line_with_sides_swapped_is_quarantined(data_dir, tmp_path, home):
    """A spread is the home side's: a Mexico City line with the sides swapped cannot be fixed."""
    header, rows = _read_csv(data_dir / "game_odds/sbr_lines_2008_2023jan.csv.gz",
                             lambda r: r["date"] in ("2022-12-17",))
    bad = [r for r in rows if r["nba_game_id"] == MEXICO][0]
    bad["away"], bad["home"] = bad["home"], bad["away"]
    r = _result(_ingest(home, _write_csv(tmp_path / "lines.csv", header, rows)), "sbr_game_lines")
    assert (r.inserted, r.quarantined) == (len(rows) - 1, 1)
    assert r.rules == {"sides_agree_with_schedule": {"quarantined": 1}}


def _schedule_csv(tmp_path: Path, nba_id: str, date: str, away: str, home: str) -> Path:
    header = ["game_id", "season", "game_type", "game_date", "home_team", "away_team", "home_team_id",
              "away_team_id", "home_pts", "away_pts", "home_team_minutes", "neutral_site_matchup_text", "bbref_game_id"]
    from nbapipe import ids
    tid = {t["team_abbr"]: t["nba_team_id"] for t in ids.teams()}
    y = int(date[:4]) if int(date[5:7]) >= 8 else int(date[:4]) - 1
    row = {"game_id": nba_id, "season": ids.season_label(y), "game_type": "regular", "game_date": date,
           "home_team": home, "away_team": away, "home_team_id": tid[home], "away_team_id": tid[away],
           "home_pts": "", "away_pts": "", "home_team_minutes": "", "neutral_site_matchup_text": "True",
           "bbref_game_id": ""}
    return _write_csv(tmp_path / f"schedule_{nba_id}.csv", header, [row])


def test_neutral_bdl_box_scores_written_from_the_other_side(data_dir, tmp_path):
    src = next((data_dir / "source-samples").rglob("raw_7a649e12.json"))
    doc = json.loads(src.read_text())
    g = doc["data"][0]
    away, home = g["visitor_team"]["abbreviation"], g["home_team"]["abbreviation"]
    date = g["date"][:10]
    g["home_team"], g["visitor_team"] = g["visitor_team"], g["home_team"]       # the other side's view
    doc["data"] = [g]
    f = tmp_path / "bdl.json"
    f.write_text(json.dumps(doc))
    h = tmp_path / "h"
    _ingest(h, _schedule_csv(tmp_path, "0022499001", date, away, home))
    r = _result(_ingest(h, f), "bdl_box_scores")
    assert r.quarantined == 0 and r.inserted > 0 and r.rules["agrees_with_schedule"]["corrected"] == r.inserted
    got = _one(h, "SELECT DISTINCT game_id, team_abbr, home_away FROM nba_raw.bdl_player_boxscores ORDER BY 2")
    gid = f"{date.replace('-', '')}_{away}_{home}"
    assert got == sorted([(gid, away, "away"), (gid, home, "home")], key=lambda x: x[1])


def test_neutral_gamebook_written_from_the_other_side(data_dir, tmp_path):
    from nbapipe import ids
    src = next((data_dir / "source-samples").rglob("exp_0173bcd1.json"))
    doc = json.loads(src.read_text())
    away, home = ids.team_abbr(doc["away_team"]), ids.team_abbr(doc["home_team"])
    date = doc["date"][:10]
    swapped = copy.deepcopy(doc)
    swapped["away_team"], swapped["home_team"] = doc["home_team"], doc["away_team"]
    f = tmp_path / "gamebook.json"
    f.write_text(json.dumps(swapped))
    h = tmp_path / "h"
    _ingest(h, _schedule_csv(tmp_path, "0022499002", date, away, home))
    r = _result(_ingest(h, f), "nbac_gamebook")
    assert r.quarantined == 0 and r.rules["agrees_with_schedule"]["corrected"] == r.inserted > 0
    got = _one(h, "SELECT DISTINCT game_id, nba_game_id IS NULL, team_abbr, home_away FROM nba_raw.nbac_gamebook_player_stats ORDER BY 3")
    gid = f"{date.replace('-', '')}_{away}_{home}"
    assert {(x[0], x[2], x[3]) for x in got} == {(gid, away, "away"), (gid, home, "home")}


# --- identity keys: bad then corrected = clean ----------------------------------------------

def _misdate_csv(rows):
    out = [dict(r) for r in rows]
    for r in out:
        r["game_date"] = "2024-01-12"
    return out


def _rename_csv(rows):
    out = [dict(r) for r in rows]
    for r in out:
        if r["player"] == "Nic Claxton":
            r["player"] = "Nic"
    return out


@pytest.mark.parametrize("mutate", [_misdate_csv, _rename_csv], ids=["misdate", "name_fix"])
def test_bbref_bad_then_corrected_equals_clean(data_dir, tmp_path, sched_home, mutate):
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    f = tmp_path / "player_box.csv"
    clean = copy_home(sched_home, tmp_path / "clean")
    _ingest(clean, _write_csv(f, header, rows))
    healed = copy_home(sched_home, tmp_path / "healed")
    _ingest(healed, _write_csv(f, header, mutate(rows)))
    _ingest(healed, _write_csv(f, header, rows))
    for t in RAW_TABLES:
        assert _raw_differences(clean, healed, t) == 0, t
    assert _one(healed, "SELECT count(*) FROM nba_raw.nbac_gamebook_player_stats WHERE player_name = 'Nic Claxton'") == [(1,)]


def _gamebook_misdate(doc):
    d = copy.deepcopy(doc)
    d["date"] = (dt.date.fromisoformat(doc["date"][:10]) + dt.timedelta(days=1)).isoformat()
    return d


def _gamebook_rename(doc):
    d = copy.deepcopy(doc)
    d["active_players"][0]["name"] = d["active_players"][0]["name"].split()[0]
    return d


@pytest.mark.parametrize("mutate", [_gamebook_misdate, _gamebook_rename], ids=["misdate", "name_fix"])
def test_gamebook_bad_then_corrected_equals_clean(data_dir, tmp_path, mutate):
    """No ids in the document: the corrected file replaces the rows its earlier version left."""
    doc = json.loads(next((data_dir / "source-samples").rglob("exp_0173bcd1.json")).read_text())
    f = tmp_path / "gamebook.json"
    f.write_text(json.dumps(doc))
    _ingest(tmp_path / "clean", f)
    f.write_text(json.dumps(mutate(doc)))
    _ingest(tmp_path / "healed", f)
    f.write_text(json.dumps(doc))
    r = _result(_ingest(tmp_path / "healed", f), "nbac_gamebook")
    assert r.removed >= 1
    for t in RAW_TABLES + ["nba_raw.ingested_files"]:
        if t != "nba_raw.ingested_files":
            assert _raw_differences(tmp_path / "clean", tmp_path / "healed", t) == 0, t


def test_replace_with_a_corrected_file_under_another_name(data_dir, tmp_path):
    doc = json.loads(next((data_dir / "source-samples").rglob("exp_0173bcd1.json")).read_text())
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(_gamebook_rename(doc)))
    good.write_text(json.dumps(doc))
    _ingest(tmp_path / "clean", good)
    _ingest(tmp_path / "healed", bad)
    _ingest(tmp_path / "healed", good)            # without --replace the stale row stays beside
    assert _raw_differences(tmp_path / "clean", tmp_path / "healed", "nba_raw.nbac_gamebook_player_stats") > 0
    r = _result(_ingest(tmp_path / "healed", good, replace=True), "nbac_gamebook")
    assert r.removed == 1
    assert _raw_differences(tmp_path / "clean", tmp_path / "healed", "nba_raw.nbac_gamebook_player_stats") == 0


def test_home_of_the_previous_version_can_be_reingested(data_dir, tmp_path, sched_home):
    """A home without the contracts' table (built before them) takes a re-ingest."""
    home = copy_home(sched_home, tmp_path / "old")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("DROP TABLE nba_raw.contract_corrections")
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    r = _result(_ingest(home, _write_csv(tmp_path / "pb.csv", header, rows)), "bbref_player_box")
    assert r.inserted == len(rows)
    assert _one(home, "SELECT count(*) FROM nba_raw.contract_corrections") == [(0,)]


# --- quarantine command -------------------------------------------------------------------

def test_quarantine_list_explain_drop(home, data_dir, tmp_path):
    from typer.testing import CliRunner
    from nbapipe.cli import app
    header, rows = _game_rows(data_dir, "bbref/player_box.csv.gz", PARIS)
    [r for r in rows if r["status"] == "Played"][0]["pts"] = "900"
    f = _write_csv(tmp_path / "pb.csv", header, rows)
    _ingest(home, f)
    run = CliRunner().invoke
    r = run(app, ["--home", str(home), "quarantine", "list", "--json"])
    assert r.exit_code == 1
    listed = json.loads(r.stdout)
    assert [(x["loader"], x["rule"], x["quarantined"]) for x in listed] == [("bbref_player_box", "range_points", 1)]
    r = run(app, ["--home", str(home), "quarantine", "explain", "range_points", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["quarantined"] == 1
    line = json.loads(r.stdout)["examples"][0]["line"]
    r = run(app, ["--home", str(home), "quarantine", "explain", str(f), "--line", str(line), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"][0]["reason"].startswith("range_points:")
    assert run(app, ["--home", str(home), "quarantine", "explain", "no_such_rule"]).exit_code == 2
    r = run(app, ["--home", str(home), "quarantine", "drop", str(f), "--loaded", "--json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["raw_rows"] == {"nba_raw.nbac_gamebook_player_stats": len(rows) - 1}
    assert _one(home, "SELECT (SELECT count(*) FROM nba_raw.quarantine), (SELECT count(*) FROM "
                      "nba_raw.nbac_gamebook_player_stats), (SELECT count(*) FROM nba_raw.ingested_files "
                      f"WHERE source_file = '{f}')") == [(0, 0, 0)]
    r = run(app, ["--home", str(home), "contracts", "--json"])
    assert r.exit_code == 0 and {"range_points", "agrees_with_schedule", "five_starters"} <= {x["rule"] for x in json.loads(r.stdout)}


# --- table rules and expected entities per team (Phase 3) ---------------------------------

def test_table_rules_mark_the_date_suspect_in_checks_and_verify(real_home, tmp_path):
    from nbapipe.validation.checks import run_checks
    from nbapipe.validation.verify import verify
    from nbapipe.warehouse import open_warehouse
    from nbapipe.workspace import Workspace
    home = copy_home(real_home, tmp_path / "home")
    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute("UPDATE nba_raw.nbac_team_boxscore SET points = points + 1 "
                   "WHERE nba_game_id = '0022100100' AND home_away = 'home'")
        wh.execute("UPDATE nba_raw.nbac_gamebook_player_stats SET starter_flag = false "
                   "WHERE nba_game_id = '0022100200' AND bbref_player_id = (SELECT min(bbref_player_id) "
                   "FROM nba_raw.nbac_gamebook_player_stats WHERE nba_game_id = '0022100200' AND starter_flag)")
        day1, day2 = (wh.scalar("SELECT min(game_date) FROM nba_raw.nbac_schedule WHERE nba_game_id = ?", [g])
                      for g in ("0022100100", "0022100200"))
    ws = Workspace.at(home)
    try:
        c = [x for x in run_checks(ws, season="2021-22", quick=True)["checks"] if x["name"] == "ingest contracts"][0]
        assert c["status"] == "fail" and day1.isoformat() in c["summary"] and day2.isoformat() in c["summary"]
        assert "player_points_sum_to_team" in c["summary"] and "five_starters" in c["summary"]
        v = verify(ws, day1, day1, phases=[3])
    finally:
        ws.close()
    suspect = [p for p in v["problems"] if p["kind"] == "suspect"]
    assert [(p["dates"], p["detail"].split(":")[0]) for p in suspect] == \
        [([day1.isoformat()], "contract player_points_sum_to_team")]


def test_a_quarantined_team_roster_makes_the_date_partial_naming_the_team(phase3_home, data_dir, tmp_path):
    from nbapipe.state import open_state
    from nbapipe.state import ledger
    home = copy_home(phase3_home, tmp_path / "home")
    header, rows = _read_csv(data_dir / "bbref/player_box.csv.gz",
                             lambda r: r["game_date"] == "2023-01-20" and "OKC" in (r["team_nba"], r["opponent"]))
    okc = [r for r in rows if r["team_nba"] == "OKC"]
    assert len(okc) >= 12
    for r in okc:
        r["team_nba"] = "OKX"                      # an unknown team code
    s = _ingest(home, _write_csv(tmp_path / "okc.csv", header, rows), replace=True)
    res = _result(s, "bbref_player_box")
    assert (res.quarantined, res.removed) == (len(okc), len(okc))
    report = backfill(home, "2023-01-20", "2023-01-20", skip_downstream_trigger=True)
    assert not report.failed
    with open_state(state_at(home)) as st:
        row = ledger.latest_map(st, start=dt.date(2023, 1, 20), end=dt.date(2023, 1, 20))[
            ("player_game_summary", dt.date(2023, 1, 20))]
    assert row["status"] == "partial"
    assert "OKC in 20230120_" in row["detail"] and row["detail"].startswith(f"{row['expected'] - 1} of {row['expected']}")
