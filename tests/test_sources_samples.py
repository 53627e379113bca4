"""Loaders of the production sources' native formats, on the real single-response samples in
shared/nba-data/source-samples: recognition by shape/header, exact row counts computed here
from the files themselves, hand-checked values, and idempotent re-ingest."""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from nbapipe.sources.ingest import ingest, recognise, walk

pytestmark = pytest.mark.realdata

NBA_TEAM_IDS = range(1610612737, 1610612767)

# Every sample file -> exactly the loaders that must take it (None: no loader, skipped).
EXPECTED_LOADERS = {
    "bdl_box_scores/raw_7a649e12.json": ["bdl_box_scores"],
    "bdl_player_box_scores/raw_1db4c01e.json": ["bdl_player_stats"],
    "bigdataball_pbp/raw_746cfbef.csv": ["bigdataball_pbp"],
    "bp_events/raw_75470647.json": None,              # BettingPros events: no target table
    "nbac_gamebook_pdf/exp_0173bcd1.json": ["nbac_gamebook"],
    "nbac_injury_report/exp_f4391904.json": ["nbac_injury_report"],
    "nbac_play_by_play/raw_14ecf360.json.gz": ["nbac_play_by_play"],
    "nbac_player_boxscore/raw_2ad17718.json": ["nbac_leaguegamelog_players"],
    "nbac_schedule_cdn/raw_68953816.json": ["nbac_schedule_cdn"],
    "nbac_team_boxscore/exp_12f99055.json": ["nbac_boxscore_teams", "nbac_boxscore_players"],
    "nbac_team_boxscore/raw_12f99055.json": ["nbac_boxscore_teams", "nbac_boxscore_players"],
    "odds_api_historical_game_lines/raw_9221b91f.json": ["odds_api_game_lines_h2h"],
    # A game-lines document despite its folder: recognised by its markets.
    "oddsa_player_props_his/raw_815b3ee3.json": ["odds_api_game_lines_spreads", "odds_api_game_lines_totals"],
    "oddsa_player_props_his/fixture_player_props.json": ["odds_api_player_points_props", "odds_api_player_props"],
}
PDFS = ["nbac_gamebook_pdf/raw_0173bcd1.pdf", "nbac_injury_report/raw_f4391904.pdf"]

RAW_TABLES = ["nbac_schedule", "nbac_team_boxscore", "nbac_player_boxscores", "nbac_play_by_play",
              "nbac_gamebook_player_stats", "nbac_injury_report", "bdl_player_boxscores",
              "bigdataball_play_by_play", "odds_api_game_lines", "odds_api_player_points_props",
              "odds_api_player_props", "quarantine"]


@pytest.fixture(scope="module")
def samples(data_dir) -> Path:
    return data_dir / "source-samples"


def read_json(path: Path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def result_set(doc: dict, name: str) -> list[dict]:
    rs = next(r for r in doc["resultSets"] if r["name"] == name)
    return [dict(zip(rs["headers"], row)) for row in rs["rowSet"]]


def load(wh, *paths: Path):
    outcomes = ingest(wh, list(paths))
    assert not [o for o in outcomes if o.status == "refused"], [o.as_dict() for o in outcomes]
    return outcomes


def count(wh, table: str, where: str = "true", params=None) -> int:
    return wh.scalar(f"SELECT count(*) FROM nba_raw.{table} WHERE {where}", params)


def one(wh, sql: str, params=None) -> dict:
    rows = wh.rows(sql, params)
    assert len(rows) == 1, rows
    return rows[0]


def counts(wh) -> dict[str, int]:
    return {t: count(wh, t) for t in RAW_TABLES}


# --- recognition ------------------------------------------------------------------------------

def test_each_sample_is_recognised_by_exactly_the_intended_loaders(samples):
    files = {str(p.relative_to(samples)) for p in walk(samples)}
    assert files == set(EXPECTED_LOADERS) | set(PDFS)
    for rel, expected in EXPECTED_LOADERS.items():
        r = recognise(samples / rel)
        got = None if r is None else sorted(l.name for l in r.loaders)
        assert got == (None if expected is None else sorted(expected)), rel


def test_pdfs_are_skipped_and_bettingpros_events_unrecognised(wh, samples):
    outcomes = {str(Path(o.path).relative_to(samples)): o.status
                for o in load(wh, samples / "nbac_gamebook_pdf", samples / "bp_events")}
    assert outcomes == {"nbac_gamebook_pdf/raw_0173bcd1.pdf": "not_data",
                        "nbac_gamebook_pdf/exp_0173bcd1.json": "loaded",
                        "bp_events/raw_75470647.json": "unrecognised"}


# --- NBA.com JSON -----------------------------------------------------------------------------

def test_schedule_cdn(wh, samples):
    path = samples / "nbac_schedule_cdn/raw_68953816.json"
    doc = read_json(path)
    games = [g for d in doc["leagueSchedule"]["gameDates"] for g in d["games"]]
    nba = [g for g in games if g["awayTeam"]["teamId"] in NBA_TEAM_IDS and g["homeTeam"]["teamId"] in NBA_TEAM_IDS]
    (res,) = load(wh, path)[0].loaders
    assert count(wh, "nbac_schedule") == len(nba) == 11
    assert res.filtered == len(games) - len(nba) == 2      # vs Melbourne United / SE Melbourne Phoenix
    # game_date is the Eastern date: it equals the feed's own Eastern day on every game.
    got = dict(wh.tuples("SELECT nba_game_id, CAST(game_date AS VARCHAR) FROM nba_raw.nbac_schedule"))
    assert got == {g["gameId"]: g["gameDateEst"][:10] for g in nba}
    g = one(wh, "SELECT * FROM nba_raw.nbac_schedule WHERE nba_game_id = '0012500008'")
    assert (g["game_id"], g["season"], g["season_year"], g["game_type"]) == \
        ("20251002_PHI_NYK", "2025-26", 2025, "preseason")
    assert (g["game_time_et"], g["neutral_site"], g["arena"], g["data_source"]) == \
        ("12:00 PM", True, "Etihad Arena", "nbac")
    # Not played yet when scraped: the feed's 0-0 is not a score.
    assert g["away_team_score"] is None and g["home_team_score"] is None
    # A 5:30 am ET tip-off in Melbourne (09:30 UTC) keeps its Eastern date.
    assert count(wh, "nbac_schedule", "game_id = '20251003_PHX_LAL'") == 1


def test_boxscore_without_schedule_is_quarantined_with_the_reason(wh, samples):
    path = samples / "nbac_team_boxscore/raw_12f99055.json"
    doc = read_json(path)
    n_teams, n_players = len(result_set(doc, "TeamStats")), len(result_set(doc, "PlayerStats"))
    (outcome,) = load(wh, path)
    assert count(wh, "nbac_team_boxscore") == count(wh, "nbac_player_boxscores") == 0
    assert [l.quarantined for l in outcome.loaders] == [n_teams, n_players] == [2, 25]
    assert wh.scalar("SELECT count(DISTINCT line) FROM nba_raw.quarantine") == n_players
    assert wh.tuples("SELECT DISTINCT reason FROM nba_raw.quarantine") == \
        [("game 0022400561 not in nba_raw.nbac_schedule (ingest the schedule first)",)]


def _schedule_fixture(tmp_path: Path) -> Path:
    """The schedule row of game 0022400561 (NYK at PHI, 2025-01-15): the boxscore resource
    carries neither the date nor the venue, and the sample schedule is another season."""
    path = tmp_path / "schedule.csv"
    path.write_text("game_id,season,game_type,game_date,home_team,away_team,home_team_id,away_team_id\n"
                    "0022400561,2024-25,regular,2025-01-15,PHI,NYK,1610612755,1610612752\n")
    return path


def test_boxscore_teams_and_players(wh, samples, tmp_path):
    raw, exp = samples / "nbac_team_boxscore/raw_12f99055.json", samples / "nbac_team_boxscore/exp_12f99055.json"
    doc = read_json(raw)
    teams, players = result_set(doc, "TeamStats"), result_set(doc, "PlayerStats")
    load(wh, _schedule_fixture(tmp_path))
    first, second = load(wh, raw), load(wh, exp)
    assert count(wh, "nbac_team_boxscore") == len(teams) == 2
    assert count(wh, "nbac_player_boxscores") == len(players) == 25
    # The parsed twin has the same content: its rows are all unchanged.
    assert [(l.inserted, l.unchanged) for l in first[0].loaders] == [(2, 0), (25, 0)]
    assert [(l.inserted, l.updated, l.unchanged) for l in second[0].loaders] == [(0, 0, 2), (0, 0, 25)]

    nyk = one(wh, "SELECT * FROM nba_raw.nbac_team_boxscore WHERE team_abbr = 'NYK'")
    assert (nyk["game_id"], nyk["home_away"], nyk["opponent_team_abbr"], str(nyk["game_date"])) == \
        ("20250115_NYK_PHI", "away", "PHI", "2025-01-15")
    assert (nyk["points"], nyk["win_flag"], nyk["minutes"], nyk["overtime_periods"]) == (125, True, 265, 1)
    assert (nyk["turnovers"], nyk["total_rebounds"], nyk["season_year"], nyk["game_type"]) == (13, 45, 2024, "regular")
    assert one(wh, "SELECT points, win_flag FROM nba_raw.nbac_team_boxscore WHERE team_abbr = 'PHI'") == \
        {"points": 119, "win_flag": False}

    brunson = one(wh, "SELECT * FROM nba_raw.nbac_player_boxscores WHERE player_lookup = 'jalenbrunson'")
    assert (brunson["points"], brunson["fg_makes"], brunson["fg_attempts"], brunson["plus_minus"]) == (38, 14, 22, 7)
    assert brunson["minutes_played"] == pytest.approx(45 + 28 / 60, abs=1e-3)   # '45:28'
    assert (brunson["starter_flag"], brunson["nba_player_id"], brunson["game_id"]) == (True, "1628973", "20250115_NYK_PHI")
    # Players with a COMMENT did not play: listed, with NULL minutes and stats (not zeros).
    dnp = [p["PLAYER_NAME"] for p in players if p["COMMENT"]]
    got = wh.tuples("SELECT player_name FROM nba_raw.nbac_player_boxscores WHERE minutes_played IS NULL "
                    "AND points IS NULL ORDER BY player_name")
    assert [n for (n,) in got] == sorted(dnp) and len(dnp) == 8
    # Player points add up to the team totals.
    assert dict(wh.tuples("SELECT team_abbr, sum(points) FROM nba_raw.nbac_player_boxscores GROUP BY 1")) == \
        {t["TEAM_ABBREVIATION"]: t["PTS"] for t in teams}
    assert count(wh, "nbac_player_boxscores", "starter_flag") == 10


def test_leaguegamelog_players(wh, samples):
    path = samples / "nbac_player_boxscore/raw_2ad17718.json"
    rows = result_set(read_json(path), "LeagueGameLog")
    load(wh, path)
    assert count(wh, "nbac_player_boxscores") == len(rows) == 157
    assert count(wh, "nbac_player_boxscores", "data_source = 'nbac_gamelog'") == len(rows)
    curry = one(wh, "SELECT * FROM nba_raw.nbac_player_boxscores WHERE player_lookup = 'stephencurry'")
    assert (curry["game_id"], curry["home_away"], curry["opponent_team_abbr"], curry["nba_game_id"]) == \
        ("20250315_NYK_GSW", "home", "NYK", "0022400974")
    assert (curry["points"], curry["three_pt_makes"], curry["minutes_played"], curry["game_type"]) == (28, 4, 35.0, "regular")
    # Both teams of a game agree on its id.
    assert wh.scalar("SELECT count(DISTINCT game_id) FROM nba_raw.nbac_player_boxscores") == \
        len({r["GAME_ID"] for r in rows}) == 8


def test_play_by_play(wh, samples):
    path = samples / "nbac_play_by_play/raw_14ecf360.json.gz"
    actions = read_json(path)["game"]["actions"]
    load(wh, path)
    assert count(wh, "nbac_play_by_play") == len(actions) == 571
    # Tip-off 2025-0107 01:10 UTC = Jan 6, 8:10 pm ET; Minnesota's baskets raise scoreHome.
    assert wh.tuples("SELECT DISTINCT game_id, CAST(game_date AS VARCHAR), nba_game_id FROM nba_raw.nbac_play_by_play") == \
        [("20250106_LAC_MIN", "2025-01-06", "0022400500")]
    last = actions[-1]
    assert wh.scalar("SELECT sum(shot_value) FROM nba_raw.nbac_play_by_play WHERE shot_made") == \
        int(last["scoreHome"]) + int(last["scoreAway"]) == 214
    assert count(wh, "nbac_play_by_play", "shot_zone IS NOT NULL") == sum(a["isFieldGoal"] == 1 for a in actions)
    shot = one(wh, "SELECT * FROM nba_raw.nbac_play_by_play WHERE event_number = 7")
    assert (shot["clock"], shot["team_abbr"], shot["player_name"], shot["nba_player_id"]) == \
        ("11:42.00", "LAC", "I. Zubac", "1627826")
    assert (shot["action_type"], shot["shot_made"], shot["shot_value"], shot["shot_zone"], shot["shot_distance_ft"]) == \
        ("2pt", False, 2, "paint", 5.57)


# --- NBA.com PDFs, parsed ---------------------------------------------------------------------

def test_gamebook(wh, samples):
    path = samples / "nbac_gamebook_pdf/exp_0173bcd1.json"
    doc = read_json(path)
    # The parser ran the Grizzlies' inactive list into the Cavaliers' (Merrill and Wade are
    # listed under both teams): each inactive player once.
    inactive_names = {p["name"] for p in doc["inactive_players"]}
    load(wh, path)
    n = len(doc["active_players"]) + len(doc["dnp_players"]) + len(inactive_names)
    assert count(wh, "nbac_gamebook_player_stats") == n == 39
    by_status = dict(wh.tuples("SELECT player_status, count(*) FROM nba_raw.nbac_gamebook_player_stats GROUP BY 1"))
    assert by_status == {"active": len(doc["active_players"]), "dnp": len(doc["dnp_players"]),
                         "inactive": len(inactive_names)}
    gg = one(wh, "SELECT * FROM nba_raw.nbac_gamebook_player_stats WHERE player_lookup = 'ggjackson'")
    assert (gg["points"], gg["fg_makes"], gg["fg_attempts"], gg["three_pt_makes"], gg["plus_minus"]) == (22, 7, 21, 2, -13)
    assert gg["minutes_played"] == pytest.approx(35.7)            # '35:42'
    assert (gg["game_id"], gg["team_abbr"], gg["opponent_team_abbr"], gg["home_away"], gg["starter_flag"]) == \
        ("20240410_MEM_CLE", "MEM", "CLE", "away", True)
    assert (str(gg["game_date"]), gg["season_year"], gg["data_source"]) == ("2024-04-10", 2023, "nbac_gamebook")
    aldama = one(wh, "SELECT * FROM nba_raw.nbac_gamebook_player_stats WHERE player_lookup = 'santialdama'")
    assert (aldama["player_status"], aldama["dnp_reason"], aldama["minutes_played"], aldama["points"]) == \
        ("dnp", "NWT - Injury/Illness - Right Foot; Strain", None, None)
    assert wh.tuples("SELECT team_abbr, dnp_reason FROM nba_raw.nbac_gamebook_player_stats "
                     "WHERE player_name IN ('Merrill', 'Williams Jr.') ORDER BY player_name") == \
        [("CLE", "Injury/Illness - Neck; Strain"), ("MEM", "Injury/Illness - Left Patellar; Tendonitis")]
    assert dict(wh.tuples("SELECT team_abbr, count(*) FROM nba_raw.nbac_gamebook_player_stats "
                          "WHERE starter_flag GROUP BY 1")) == {"MEM": 5, "CLE": 5}
    # The stored points are the parsed ones, team by team.
    totals = {}
    for p in doc["active_players"]:
        totals[p["team"]] = totals.get(p["team"], 0) + p["stats"]["points"]
    assert dict(wh.tuples("SELECT team_abbr, sum(points) FROM nba_raw.nbac_gamebook_player_stats "
                          "WHERE points IS NOT NULL GROUP BY 1")) == \
        {"MEM": totals["Memphis Grizzlies"], "CLE": totals["Cleveland Cavaliers"]}


def test_injury_report(wh, samples):
    path = samples / "nbac_injury_report/exp_f4391904.json"
    records = read_json(path)["records"]
    load(wh, path)
    assert count(wh, "nbac_injury_report") == len(records) == 14
    assert dict(wh.tuples("SELECT injury_status, count(*) FROM nba_raw.nbac_injury_report GROUP BY 1")) == \
        {"out": 10, "questionable": 2, "doubtful": 1, "probable": 1}
    duke = one(wh, "SELECT * FROM nba_raw.nbac_injury_report WHERE player_lookup = 'daviddukejr'")
    assert (duke["player_name"], duke["team_abbr"], duke["game_id"], duke["injury_status"]) == \
        ("David Duke Jr.", "SAS", "20240104_MIL_SAS", "out")
    assert (str(duke["report_date"]), duke["report_hour"], str(duke["game_date"])) == ("2024-01-04", 12, "2024-01-04")
    green = one(wh, "SELECT * FROM nba_raw.nbac_injury_report WHERE player_name = 'Draymond Green'")
    assert (green["game_id"], green["reason"]) == ("20240104_DEN_GSW", "League Suspension")
    assert count(wh, "nbac_injury_report", "player_name = 'Gary Payton II'") == 1


# --- Ball Don't Lie ----------------------------------------------------------------------------

STAT_KEYS = ("pts", "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl",
             "blk", "turnover", "pf")


def played(p: dict) -> bool:
    """BDL lists the whole roster; '00' minutes and no stat at all = did not get in."""
    return float(p["min"] or 0) > 0 or any(p[k] for k in STAT_KEYS)


def test_bdl_box_scores(wh, samples):
    path = samples / "bdl_box_scores/raw_7a649e12.json"
    games = read_json(path)["data"]
    listed = [p for g in games for side in ("home_team", "visitor_team") for p in g[side]["players"]]
    (res,) = load(wh, path)[0].loaders
    assert count(wh, "bdl_player_boxscores") == sum(map(played, listed)) == 229
    assert res.filtered == len(listed) - 229
    # Every team's player points add up to its score in the same file.
    expected = {}
    for g in games:
        day = g["date"].replace("-", "")
        gid = f"{day}_{g['visitor_team']['abbreviation']}_{g['home_team']['abbreviation']}"
        expected[(gid, g["home_team"]["abbreviation"])] = g["home_team_score"]
        expected[(gid, g["visitor_team"]["abbreviation"])] = g["visitor_team_score"]
    got = {(gid, t): pts for gid, t, pts in wh.tuples(
        "SELECT game_id, team_abbr, sum(points) FROM nba_raw.bdl_player_boxscores GROUP BY 1, 2")}
    assert got == expected and len(got) == 22
    batum = one(wh, "SELECT * FROM nba_raw.bdl_player_boxscores WHERE player_lookup = 'nicolasbatum'")
    assert (batum["game_id"], batum["home_away"], batum["opponent_team_abbr"], batum["points"]) == \
        ("20240115_HOU_PHI", "home", "HOU", 5)
    assert (batum["minutes_played"], batum["bdl_player_id"], batum["season_year"], batum["game_type"]) == \
        (28.0, "33", 2023, "regular")


def test_bdl_player_stats(wh, samples):
    path = samples / "bdl_player_box_scores/raw_1db4c01e.json"
    rows = read_json(path)["data"]
    load(wh, path)
    assert count(wh, "bdl_player_boxscores") == sum(map(played, rows)) == 24
    game = rows[0]["game"]
    # BDL `date` is the Eastern game date; `datetime` 2025-06-23T00:00Z is 8 pm ET on the 22nd.
    assert game["date"] == "2025-06-22" and game["datetime"].startswith("2025-06-23T00:00")
    assert dict(wh.tuples("SELECT home_away, sum(points) FROM nba_raw.bdl_player_boxscores GROUP BY 1")) == \
        {"home": game["home_team_score"], "away": game["visitor_team_score"]}
    sga = one(wh, "SELECT * FROM nba_raw.bdl_player_boxscores WHERE player_lookup = 'shaigilgeousalexander'")
    assert (sga["game_id"], sga["bdl_game_id"], sga["points"], sga["assists"], sga["game_type"], sga["season_year"]) == \
        ("20250622_IND_OKC", "18444564", 29, 12, "playoffs", 2024)


# --- BigDataBall -------------------------------------------------------------------------------

def test_bigdataball_play_by_play(wh, samples):
    path = samples / "bigdataball_pbp/raw_746cfbef.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    load(wh, path)
    assert count(wh, "bigdataball_play_by_play") == len(rows) == 510
    # IND players fill a1..a5, OKC players h1..h5: Indiana at Oklahoma City.
    assert wh.tuples("SELECT DISTINCT game_id, nba_game_id, CAST(game_date AS VARCHAR) "
                     "FROM nba_raw.bigdataball_play_by_play") == [("20250622_IND_OKC", "0042400407", "2025-06-22")]
    final = rows[-1]
    assert wh.scalar("SELECT sum(points) FROM nba_raw.bigdataball_play_by_play WHERE shot_made") == \
        int(final["home_score"]) + int(final["away_score"]) == 194
    play = one(wh, "SELECT * FROM nba_raw.bigdataball_play_by_play WHERE event_number = 3")
    assert (play["team_abbr"], play["player_lookup"], play["shot_made"], play["points"], play["shot_distance_ft"]) == \
        ("IND", "andrewnembhard", True, 2, 14.0)


# --- The Odds API -----------------------------------------------------------------------------

def test_game_lines_fill_one_row_per_book_and_snapshot(wh, samples):
    h2h = samples / "odds_api_historical_game_lines/raw_9221b91f.json"
    lines = samples / "oddsa_player_props_his/raw_815b3ee3.json"
    docs = [read_json(h2h), read_json(lines)]
    books = {(d["timestamp"], b["key"]) for d in docs for b in d["data"]["bookmakers"]}
    load(wh, h2h, lines)
    assert count(wh, "odds_api_game_lines") == len(books) == 2
    dk = one(wh, "SELECT * FROM nba_raw.odds_api_game_lines WHERE bookmaker = 'draftkings'")
    # Tip-off 2024-01-25 03:20 UTC is the evening of Jan 24 in New York.
    assert (dk["game_id"], str(dk["game_date"]), str(dk["snapshot_at"])) == \
        ("20240124_ATL_GSW", "2024-01-24", "2024-01-25 03:55:40")
    assert (dk["home_spread"], dk["total"]) == (-6.5, 248.5)
    # Decimal prices as American odds: 1.32 -> -312 (favourite), 3.3 -> +230.
    assert (dk["home_moneyline"], dk["away_moneyline"]) == (-312, 230)
    fd = one(wh, "SELECT * FROM nba_raw.odds_api_game_lines WHERE bookmaker = 'fanduel'")
    assert (fd["home_spread"], fd["total"], fd["home_moneyline"], fd["away_moneyline"]) == (-7.5, 247.5, -385, 280)


def _prop_pairs(doc: dict, wanted) -> set:
    return {(b["key"], m["key"], o["description"], o["point"]) for b in doc["bookmakers"]
            for m in b["markets"] if wanted(m["key"]) for o in m["outcomes"]}


def test_player_props_event(wh, samples):
    path = samples / "oddsa_player_props_his/fixture_player_props.json"
    doc = read_json(path)
    load(wh, path)
    assert count(wh, "odds_api_player_points_props") == len(_prop_pairs(doc, lambda k: k == "player_points")) == 3
    assert count(wh, "odds_api_player_props") == len(_prop_pairs(doc, lambda k: k != "player_points")) == 2
    lebron = one(wh, "SELECT * FROM nba_raw.odds_api_player_points_props "
                     "WHERE player_lookup = 'lebronjames' AND bookmaker = 'draftkings'")
    assert (lebron["points_line"], lebron["over_price"], lebron["under_price"], lebron["is_main_line"]) == \
        (25.5, -115, -105, True)
    assert (lebron["game_id"], str(lebron["snapshot_at"]), str(lebron["commence_time"])) == \
        ("20250120_BOS_LAL", "2025-01-20 18:00:00", "2025-01-21 00:30:00")
    # FanDuel's market has no last_update: the bookmaker's is the snapshot time.
    assert str(wh.scalar("SELECT snapshot_at FROM nba_raw.odds_api_player_points_props "
                         "WHERE bookmaker = 'fanduel'")) == "2025-01-20 17:55:00"
    ad = one(wh, "SELECT * FROM nba_raw.odds_api_player_props WHERE market = 'player_rebounds'")
    assert (ad["player_name"], ad["line"], ad["over_price"], ad["under_price"]) == ("Anthony Davis", 11.5, -120, 100)


def test_wrapped_player_props_take_the_snapshot_timestamp(wh, samples, tmp_path):
    event = read_json(samples / "oddsa_player_props_his/fixture_player_props.json")
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"timestamp": "2025-01-20T19:00:00Z", "data": event}))
    assert sorted(l.name for l in recognise(path).loaders) == ["odds_api_player_points_props",
                                                               "odds_api_player_props"]
    load(wh, path)
    assert wh.tuples("SELECT DISTINCT CAST(snapshot_at AS VARCHAR) FROM nba_raw.odds_api_player_points_props") == \
        [("2025-01-20 19:00:00",)]


# --- idempotency ------------------------------------------------------------------------------

def test_reingesting_the_whole_folder_changes_nothing(wh, samples):
    first = load(wh, samples)
    before = counts(wh)
    assert before["nbac_play_by_play"] == 571 and before["bdl_player_boxscores"] == 229 + 24
    keys = {t: wh.rows(f"SELECT * EXCLUDE (ingested_at) FROM nba_raw.{t} ORDER BY ALL") for t in RAW_TABLES
            if t != "quarantine"}
    again = load(wh, samples)
    # Only the box score, whose rows wait for their game in the schedule, is read again.
    retried = {Path(o.path).parent.name for o in again if o.status == "loaded"}
    assert retried == {"nbac_team_boxscore"}
    assert all(l.inserted == 0 and l.updated == 0 for o in again for l in o.loaders)
    assert {o.status for o in again} - {"loaded"} == {"unchanged", "not_data", "unrecognised"}
    assert counts(wh) == before
    # Forced: every row is read and compared again, and none is inserted or changed.
    forced = ingest(wh, [samples], force=True)
    assert not [o for o in forced if o.status == "refused"]
    assert all(l.inserted == 0 and l.updated == 0 for o in forced for l in o.loaders)
    assert counts(wh) == before
    assert {t: wh.rows(f"SELECT * EXCLUDE (ingested_at) FROM nba_raw.{t} ORDER BY ALL") for t in keys} == keys
    assert len(first) == len(again) == len(forced)
