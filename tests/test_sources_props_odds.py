"""Loaders for props/, game_odds/, injuries/ and crosswalks/.

Expected numbers come from the CSV files themselves (DuckDB's read_csv straight on the file, or
the csv module), never from the loaders' output; hand-checked values were read off the files."""
from __future__ import annotations

import csv
import gzip
from datetime import date, datetime
from pathlib import Path

import pytest

from nbapipe import ids
from nbapipe.sources import IngestError
from nbapipe.sources.ingest import ingest, recognise
from nbapipe.warehouse import ensure_schema, open_warehouse

realdata = pytest.mark.realdata


def raw(path: Path) -> str:
    """The file as all-text rows, for counting independently of the loaders."""
    return f"read_csv('{path}', all_varchar = true, header = true)"


def load(wh, path: Path) -> dict[str, dict]:
    """Ingest one file; loader name -> its LoadResult as a dict. The small hand-made files
    here are mostly bad rows on purpose: the quarantine share limit is not under test."""
    [out] = ingest(wh, [path], accept_partial=True)
    assert out.status == "loaded", out.message
    return {l.loader: l.as_dict() for l in out.loaders}


def one(wh, sql: str, params=None) -> dict:
    rows = wh.rows(sql, params)
    assert len(rows) == 1, rows
    return rows[0]


def quarantine_reasons(wh) -> dict[str, int]:
    return {r["reason"]: r["n"] for r in
            wh.rows("SELECT reason, count(*) AS n FROM nba_raw.quarantine GROUP BY reason")}


# --- recognition -------------------------------------------------------------------------------

EXPECTED_LOADERS = {
    "props/player_points_2024_odds_api.csv.gz": {"odds_api_points_csv"},
    "props/player_points_2025_26_snapshots.csv.gz": {"odds_api_snapshots_points",
                                                     "odds_api_snapshots_markets"},
    "props/all_markets_2025_26_snapshots.csv.gz": {"odds_api_snapshots_points",
                                                   "odds_api_snapshots_markets"},
    "props/player_threes_2025_26.csv.gz": {"odds_api_threes_csv"},
    "props/pra_2023_24.csv.gz": {"odds_api_pra_csv"},
    "props/player_points_2021_betfinder.csv.gz": {"betfinder_points_csv"},
    "game_odds/sbr_lines_2008_2023jan.csv.gz": {"sbr_game_lines"},
    "game_odds/sbr_spreads_2008_2025.csv.gz": {"sbr_game_spreads"},
    "injuries/prosports_transactions_2015_2025.csv.gz": {"prosports_injuries"},
    "crosswalks/team_codes.csv": {"team_code_crosswalk"},
    "crosswalks/player_id_crosswalk.csv": {"player_id_crosswalk"},
}
OURS = set().union(*EXPECTED_LOADERS.values())


@realdata
def test_each_file_is_recognised_by_exactly_its_loaders(data_dir):
    folders = {"props", "game_odds", "injuries", "crosswalks"}
    found = {str(p.relative_to(data_dir)) for f in folders for p in (data_dir / f).iterdir()}
    assert found == set(EXPECTED_LOADERS)
    for rel, expected in EXPECTED_LOADERS.items():
        r = recognise(data_dir / rel)
        assert r is not None and {l.name for l in r.loaders} == expected, rel


@realdata
def test_our_loaders_take_no_other_csv(data_dir):
    for folder in ("bbref", "nba_api", "shots", "source-samples"):
        for path in sorted((data_dir / folder).rglob("*.csv*")):
            try:
                r = recognise(path)
            except IngestError as e:        # another loader's refusal: just not one of ours
                assert not any(name in e.problem for name in OURS), e
                continue
            assert r is None or not ({l.name for l in r.loaders} & OURS), path


# --- props: The Odds API points 2024 ---------------------------------------------------------

@realdata
def test_points_2024(wh, data_dir):
    path = data_dir / "props/player_points_2024_odds_api.csv.gz"
    expected = one(wh, f"SELECT count(*) AS n, count(*) FILTER (WHERE is_main_line = 'True') AS main, "
                       f"count(*) FILTER (WHERE commence_time IS NULL) AS no_tip FROM {raw(path)}")
    res = load(wh, path)["odds_api_points_csv"]
    assert (res["inserted"], res["quarantined"], res["filtered"]) == (expected["n"], 0, 0)
    got = one(wh, "SELECT count(*) AS n, count(*) FILTER (WHERE is_main_line) AS main, "
                  "count(*) FILTER (WHERE commence_time IS NULL) AS no_tip, "
                  "count(DISTINCT game_id) AS games FROM nba_raw.odds_api_player_points_props")
    assert got == {**expected, "games": 220}
    # LeBron James at BetMGM, 2024-03-02 DEN @ LAL (file line: 25.5, -120 / -110, one line).
    row = one(wh, "SELECT * FROM nba_raw.odds_api_player_points_props WHERE player_lookup = 'lebronjames' "
                  "AND bookmaker = 'betmgm' AND game_date = DATE '2024-03-02'")
    assert row["game_id"] == "20240302_DEN_LAL"
    assert (row["points_line"], row["over_price"], row["under_price"], row["is_main_line"]) == \
        (25.5, -120.0, -110.0, True)
    assert row["snapshot_at"] == datetime(2024, 3, 2, 13, 57, 45)
    assert row["commence_time"] == datetime(2024, 3, 3, 1, 40)
    assert row["data_source"] == "odds_api"
    # BetRivers posts a ladder: 8 lines, one of them main.
    ladder = one(wh, "SELECT count(*) AS n, count(*) FILTER (WHERE is_main_line) AS main "
                     "FROM nba_raw.odds_api_player_points_props WHERE player_lookup = 'lebronjames' "
                     "AND bookmaker = 'betrivers' AND game_date = DATE '2024-03-02'")
    assert ladder == {"n": 8, "main": 1}


# --- props: 2025-26 snapshots ----------------------------------------------------------------

@realdata
def test_snapshots_split_by_market(wh, data_dir):
    all_markets = data_dir / "props/all_markets_2025_26_snapshots.csv.gz"
    points_only = data_dir / "props/player_points_2025_26_snapshots.csv.gz"
    exp = one(wh, f"""SELECT count(*) FILTER (WHERE market = 'player_points') AS points,
                             count(*) FILTER (WHERE market <> 'player_points') AS other,
                             count(*) FILTER (WHERE line IS NULL) AS no_line,
                             count(DISTINCT game || game_time) AS games
                      FROM {raw(all_markets)}""")
    res = load(wh, all_markets)
    assert res["odds_api_snapshots_points"]["inserted"] == exp["points"] == 28416
    assert res["odds_api_snapshots_points"]["filtered"] == exp["other"]
    assert res["odds_api_snapshots_markets"]["inserted"] == exp["other"]
    assert res["odds_api_snapshots_markets"]["filtered"] == exp["points"]
    assert wh.scalar("SELECT count(*) FROM nba_raw.quarantine") == 0
    # The points-only file is the same snapshots' player_points rows: nothing new.
    again = load(wh, points_only)
    assert again["odds_api_snapshots_points"]["unchanged"] == one(
        wh, f"SELECT count(*) AS n FROM {raw(points_only)}")["n"] == exp["points"]
    assert again["odds_api_snapshots_markets"]["filtered"] == exp["points"]

    props = one(wh, "SELECT count(*) AS n, count(*) FILTER (WHERE line IS NULL) AS no_line, "
                    "count(*) FILTER (WHERE line IS NULL AND market NOT IN "
                    "('player_double_double', 'player_triple_double')) AS bad "
                    "FROM nba_raw.odds_api_player_props")
    assert props == {"n": exp["other"], "no_line": exp["no_line"], "bad": 0}
    assert wh.scalar("SELECT count(DISTINCT game_id) FROM nba_raw.odds_api_player_points_props") == exp["games"]

    # Stephen Curry, GSW @ LAL, tip-off 2025-10-22T02:00Z = the evening of 21 October Eastern.
    row = one(wh, "SELECT * FROM nba_raw.odds_api_player_points_props WHERE player_lookup = 'stephencurry' "
                  "AND bookmaker = 'draftkings' AND snapshot_at = TIMESTAMP '2025-10-21 17:00:00'")
    assert (row["game_id"], row["game_date"]) == ("20251021_GSW_LAL", date(2025, 10, 21))
    assert (row["points_line"], row["over_price"], row["under_price"], row["is_main_line"]) == \
        (26.5, -112.0, -114.0, True)
    assert row["commence_time"] == datetime(2025, 10, 22, 2, 0)
    bovada = wh.tuples("SELECT points_line FROM nba_raw.odds_api_player_points_props "
                       "WHERE player_lookup = 'stephencurry' AND bookmaker = 'bovada' "
                       "AND snapshot_at = TIMESTAMP '2025-10-21 17:00:00' AND is_main_line")
    assert bovada == [(26.5,)]
    assists = one(wh, "SELECT * FROM nba_raw.odds_api_player_props WHERE player_lookup = 'stephencurry' "
                      "AND bookmaker = 'betmgm' AND market = 'player_assists' "
                      "AND snapshot_at = TIMESTAMP '2025-10-21 17:00:00'")
    assert (assists["line"], assists["over_price"], assists["under_price"]) == (5.5, 105.0, -140.0)


@realdata
def test_threes(wh, data_dir):
    path = data_dir / "props/player_threes_2025_26.csv.gz"
    n = one(wh, f"SELECT count(*) AS n FROM {raw(path)}")["n"]
    res = load(wh, path)["odds_api_threes_csv"]
    assert (res["inserted"], res["quarantined"]) == (n, 0)
    assert wh.scalar("SELECT count(*) FROM nba_raw.odds_api_player_props "
                     "WHERE market = 'player_threes' AND is_main_line") == n
    row = one(wh, "SELECT * FROM nba_raw.odds_api_player_props WHERE player_lookup = 'stephencurry' "
                  "AND bookmaker = 'draftkings' AND game_date = DATE '2025-10-21'")
    assert (row["game_id"], row["line"], row["over_price"], row["under_price"]) == \
        ("20251021_GSW_LAL", 4.5, -115.0, -113.0)
    assert row["snapshot_at"] == datetime(2025, 10, 21, 14, 55, 8)


@realdata
def test_pra_exact_repeats_are_filtered(wh, data_dir):
    path = data_dir / "props/pra_2023_24.csv.gz"
    exp = one(wh, f"SELECT count(*) AS n, (SELECT count(*) FROM (SELECT DISTINCT * FROM {raw(path)})) AS distinct_rows "
                  f"FROM {raw(path)}")
    res = load(wh, path)["odds_api_pra_csv"]
    assert res["inserted"] == exp["distinct_rows"] == 28769
    assert res["filtered"] == exp["n"] - exp["distinct_rows"] == 823
    assert res["quarantined"] == 0
    # Display titles become The Odds API keys.
    books = {r[0] for r in wh.tuples("SELECT DISTINCT bookmaker FROM nba_raw.odds_api_player_props")}
    assert books == {"draftkings", "fanduel", "williamhill_us", "betrivers", "barstool", "bovada",
                     "betonlineag", "betmgm", "unibet_us", "pointsbetus"}
    row = one(wh, "SELECT * FROM nba_raw.odds_api_player_props WHERE player_lookup = 'nikolajokic' "
                  "AND bookmaker = 'williamhill_us' AND game_date = DATE '2023-10-24'")   # 'Caesars'
    assert (row["game_id"], row["market"], row["line"], row["over_price"], row["under_price"]) == \
        ("20231024_LAL_DEN", "player_points_rebounds_assists", 47.5, -104.0, -131.0)
    assert row["snapshot_at"] == datetime(2023, 10, 24, 23, 25, 44)


# --- props: betfinder 2021 (long format) ----------------------------------------------------------

@realdata
def test_betfinder_pivot(wh, data_dir):
    path = data_dir / "props/player_points_2021_betfinder.csv.gz"
    exp = one(wh, f"""SELECT count(DISTINCT (home_team, away_team, book, player, commit_time, line))
                               FILTER (WHERE market = 'points_ou') AS lines,
                             count(DISTINCT (home_team, away_team, book, player, commit_time))
                               FILTER (WHERE market = 'points_ou') AS player_books
                      FROM {raw(path)}""")
    res = load(wh, path)["betfinder_points_csv"]
    assert (res["inserted"], res["quarantined"]) == (exp["lines"], 0)
    assert res["inserted"] == 348
    got = one(wh, "SELECT count(*) AS n, count(*) FILTER (WHERE is_main_line) AS main, "
                  "count(DISTINCT game_date) AS dates FROM nba_raw.odds_api_player_points_props")
    # One main line per player, book and snapshot; the three slates only (no 11-01 / 11-03).
    assert got == {"n": exp["lines"], "main": exp["player_books"], "dates": 3}

    rows = wh.rows("SELECT points_line, over_price, under_price, is_main_line, snapshot_at, game_id "
                   "FROM nba_raw.odds_api_player_points_props WHERE player_lookup = 'milesbridges' "
                   "AND bookmaker = 'draftkings' ORDER BY points_line")
    # DraftKings showed two over/under lines: 19.5 at -110/-110 is the balanced (main) one.
    assert [(r["points_line"], r["over_price"], r["under_price"], r["is_main_line"]) for r in rows] == \
        [(19.5, -110.0, -110.0, True), (20.5, 105.0, -125.0, False)]
    assert rows[0]["snapshot_at"] == datetime(2021, 10, 31, 18, 12, 11)     # 13:12:11 -0500
    assert rows[0]["game_id"] == "20211031_POR_CHA"
    # The slug name loads and normalises like the real name; PointsBet's 'Sun 10-31 11:00 PM'
    # game (game_date_et 2021-11-01 in the file) is the 31 October game.
    slug = one(wh, "SELECT * FROM nba_raw.odds_api_player_points_props WHERE player_name = 'jalengreen' "
                   "AND bookmaker = 'pointsbetus' AND game_date = DATE '2021-10-31'")
    assert slug["player_lookup"] == ids.player_lookup("Jalen Green")
    assert (slug["game_id"], slug["points_line"], slug["over_price"], slug["under_price"]) == \
        ("20211031_HOU_LAL", 13.5, -110.0, -120.0)
    # An over without an under keeps the over.
    kpj = one(wh, "SELECT over_price, under_price FROM nba_raw.odds_api_player_points_props "
                  "WHERE player_lookup = 'kevinporterjr' AND bookmaker = 'draftkings'")
    assert kpj == {"over_price": -105.0, "under_price": None}


# --- game odds -----------------------------------------------------------------------------------

@realdata
def test_sbr_lines_and_spreads(wh, data_dir):
    lines = data_dir / "game_odds/sbr_lines_2008_2023jan.csv.gz"
    spreads = data_dir / "game_odds/sbr_spreads_2008_2025.csv.gz"
    bad_ml = "abs(CAST(moneyline_home AS DOUBLE)) < 100 OR abs(CAST(moneyline_away AS DOUBLE)) < 100"
    exp = one(wh, f"""SELECT (SELECT count(*) FROM {raw(lines)}) AS lines,
                             (SELECT count(*) FROM {raw(lines)} WHERE {bad_ml}) AS bad_ml,
                             (SELECT count(*) FROM {raw(spreads)}) AS spreads,
                             (SELECT count(*) FROM {raw(spreads)} WHERE spread IS NULL) AS no_spread,
                             (SELECT count(*) FROM (
                                 SELECT date, away_nba, home_nba FROM {raw(lines)} WHERE NOT ({bad_ml})
                                 UNION
                                 SELECT date, away_nba, home_nba FROM {raw(spreads)} WHERE spread IS NOT NULL)) AS games""")
    assert (exp["bad_ml"], exp["no_spread"]) == (1, 3)
    res = load(wh, lines)["sbr_game_lines"]
    assert (res["inserted"], res["quarantined"]) == (exp["lines"] - 1, 1)
    res = load(wh, spreads)["sbr_game_spreads"]
    assert res["quarantined"] == 3 and res["updated"] == 0
    assert wh.scalar("SELECT count(*) FROM nba_raw.odds_api_game_lines") == exp["games"] == 21627
    assert wh.scalar("SELECT count(*) FROM nba_raw.odds_api_game_lines WHERE bookmaker <> 'consensus' "
                     "OR snapshot_at IS NOT NULL") == 0
    assert quarantine_reasons(wh) == {"impossible American odds in column moneyline_away: 8": 1,
                                      "missing value in column spread": 3}

    def game(gid: str) -> tuple:
        r = one(wh, "SELECT * FROM nba_raw.odds_api_game_lines WHERE game_id = ?", [gid])
        return r["home_spread"], r["total"], r["home_moneyline"], r["away_moneyline"], r["nba_game_id"]

    # Opening night 2021-22: MIL favoured by 1.5 at home, total 233.5, -125 / +105.
    assert game("20211019_BKN_MIL") == (-1.5, 233.5, -125.0, 105.0, "0022100001")
    assert game("20211019_GSW_LAL") == (-3.5, 226.5, -160.0, 140.0, "0022100002")
    # Away favourite: HOU by 5 at LAL -> the home team gets +5.
    assert game("20071030_HOU_LAL") == (5.0, 199.0, 190.0, -230.0, None)
    # Only in the spreads file (2023-24): spread, no total.
    assert game("20231024_LAL_DEN") == (-4.5, None, None, None, "0022300061")
    # The spreads file has no spread here: the full file's 11.5 (DEN favoured) stays.
    assert game("20220224_DEN_SAC")[0] == 11.5
    # A pick'em is 0.0, not -0.0.
    assert wh.scalar("SELECT count(*) FROM nba_raw.odds_api_game_lines "
                     "WHERE home_spread = 0 AND CAST(home_spread AS VARCHAR) = '-0.0'") == 0


@realdata
def test_sbr_load_order_does_not_matter(wh, data_dir):
    files = [data_dir / "game_odds/sbr_lines_2008_2023jan.csv.gz",
             data_dir / "game_odds/sbr_spreads_2008_2025.csv.gz"]
    cols = ("game_id, nba_game_id, game_date, away_team_abbr, home_team_abbr, bookmaker, snapshot_at, "
            "home_spread, total, home_moneyline, away_moneyline")
    for f in files:
        load(wh, f)
    forward = wh.tuples(f"SELECT {cols} FROM nba_raw.odds_api_game_lines ORDER BY game_id")
    with open_warehouse(None) as other:
        ensure_schema(other)
        for f in reversed(files):
            load(other, f)
        backward = other.tuples(f"SELECT {cols} FROM nba_raw.odds_api_game_lines ORDER BY game_id")
    assert forward == backward


# --- injuries --------------------------------------------------------------------------------------

@realdata
def test_injury_transactions(wh, data_dir):
    path = data_dir / "injuries/prosports_transactions_2015_2025.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [(r["Acquired"] or r["Relinquished"]).replace("•", "").strip() for r in rows]
    no_player = sum(1 for n in names if not n)
    one_word = sum(1 for n in names if n and len(n.split()) == 1)
    assert (no_player, one_word) == (3, 2)          # the README's five rows without a player
    res = load(wh, path)["prosports_injuries"]
    # ... plus one duplicate transaction (Doug McDermott 2022-12-08, listed twice).
    assert (res["inserted"], res["quarantined"]) == (len(rows) - 5 - 1, 6)
    assert quarantine_reasons(wh) == {
        "no player named (Acquired and Relinquished are empty)": 3,
        "not a player name (one word): Heat": 1,
        "not a player name (one word): Yes": 1,
        "duplicate key (2022-12-08, SAS, dougmcdermott, returned, activated from IL) first seen at line 8040": 1,
    }
    placed = sum(1 for r in rows if not r["Acquired"] and r["Relinquished"])
    assert wh.scalar("SELECT count(*) FROM nba_raw.injury_transactions WHERE action = 'placed'") == placed - 2
    assert wh.scalar("SELECT count(DISTINCT team_abbr) FROM nba_raw.injury_transactions") == 30
    assert wh.scalar("SELECT count(*) FROM nba_raw.injury_transactions WHERE player_name LIKE '%•%' "
                     "OR player_name LIKE '%  %'") == 0

    embiid = one(wh, "SELECT * FROM nba_raw.injury_transactions WHERE player_lookup = 'joelembiid' "
                     "AND transaction_date = DATE '2022-04-29'")
    assert (embiid["team_abbr"], embiid["player_name"], embiid["action"], embiid["notes"]) == \
        ("PHI", "Joel Embiid", "placed", "placed on IL with orbital fracture, concussion")
    ajinca = one(wh, "SELECT * FROM nba_raw.injury_transactions WHERE player_lookup = 'alexajinca' "
                     "AND transaction_date = DATE '2015-12-28'")
    assert (ajinca["team_abbr"], ajinca["action"], ajinca["estimated_days_out"]) == ("NOP", "returned", 8)
    # The duplicate kept is the first line, the one with the days-out estimate.
    mcd = one(wh, "SELECT estimated_days_out FROM nba_raw.injury_transactions "
                  "WHERE player_lookup = 'dougmcdermott' AND transaction_date = DATE '2022-12-08'")
    assert mcd["estimated_days_out"] == 6
    # Named in both columns with 'returned to lineup': returned.
    collins = one(wh, "SELECT action, team_abbr FROM nba_raw.injury_transactions "
                      "WHERE player_lookup = 'johncollins' AND transaction_date = DATE '2018-03-23'")
    assert collins == {"action": "returned", "team_abbr": "ATL"}


# --- crosswalks ----------------------------------------------------------------------------------

@realdata
def test_crosswalks(wh, data_dir):
    teams = data_dir / "crosswalks/team_codes.csv"
    players = data_dir / "crosswalks/player_id_crosswalk.csv"
    with open(teams, newline="") as f:
        expected = sorted((r["nba"], r["bbref"], r["odds_dataset"]) for r in csv.DictReader(f))
    assert load(wh, teams)["team_code_crosswalk"]["inserted"] == 30
    assert wh.tuples("SELECT team_abbr, bbref_code, odds_code FROM nba_reference.team_code_crosswalk "
                     "ORDER BY team_abbr") == expected
    assert ("BKN", "BRK", "bkn") in expected and ("UTA", "UTA", "utah") in expected

    exp = one(wh, f"SELECT count(*) AS n, count(nba_player_id) AS matched FROM {raw(players)}")
    assert load(wh, players)["player_id_crosswalk"]["inserted"] == exp["n"] == 926
    got = one(wh, "SELECT count(*) AS n, count(nba_player_id) AS matched FROM nba_reference.player_id_crosswalk")
    assert got == exp and got["matched"] == 766
    row = one(wh, "SELECT * FROM nba_reference.player_id_crosswalk WHERE bbref_player_id = 'achiupr01'")
    assert (row["nba_player_id"], row["games_matched"], row["how"]) == ("1630173", 185, "name+game")


# --- all four folders --------------------------------------------------------------------------

@realdata
def test_whole_folders_load_and_reload_unchanged(wh, data_dir):
    roots = [data_dir / f for f in ("props", "game_odds", "injuries", "crosswalks")]
    first = ingest(wh, roots)
    assert {o.status for o in first} == {"loaded"}, [(o.path, o.message) for o in first if o.status != "loaded"]
    assert len(first) == len(EXPECTED_LOADERS)
    counts = {t: wh.scalar(f"SELECT count(*) FROM {t}") for t in (
        "nba_raw.odds_api_player_points_props", "nba_raw.odds_api_player_props",
        "nba_raw.odds_api_game_lines", "nba_raw.injury_transactions")}
    # points: 2024 (37,464) + 2025-26 snapshots (28,416) + betfinder (348);
    # other markets: snapshots (74,475) + threes (11,835) + PRA (28,769).
    assert counts == {"nba_raw.odds_api_player_points_props": 66228,
                      "nba_raw.odds_api_player_props": 115079,
                      "nba_raw.odds_api_game_lines": 21627,
                      "nba_raw.injury_transactions": 25083}
    again = ingest(wh, roots)
    assert {o.status for o in again} == {"unchanged"}


# --- small synthetic files (no real data needed) -------------------------------------------------

THREES_HEADER = "slate_date,player,game,game_time,market,line,bookmaker,over_odds,under_odds,market_last_update\n"


def test_props_key_with_line_quarantines_a_conflicting_duplicate(wh, tmp_path):
    # odds_api_player_props has a key column called `line`; a second price for the same key
    # is a clash (quarantined), not silently dropped.
    path = tmp_path / "threes.csv"
    game = "Golden State Warriors @ Los Angeles Lakers,2025-10-22T02:00:00Z,player_threes"
    path.write_text(THREES_HEADER
                    + f"2025-10-21,Stephen Curry,{game},4.5,draftkings,-115,-113,2025-10-21T14:55:08Z\n"
                    + f"2025-10-21,Stephen Curry,{game},4.5,draftkings,-120,-110,2025-10-21T14:55:08Z\n"
                    + f"2025-10-21,Stephen Curry,{game},4.5,fanduel,8,-110,2025-10-21T14:55:08Z\n")
    res = load(wh, path)["odds_api_threes_csv"]
    assert (res["inserted"], res["quarantined"]) == (1, 2)
    reasons = quarantine_reasons(wh)
    assert reasons["impossible American odds in column over_odds: 8"] == 1
    assert [r for r in reasons if r.startswith("duplicate key (20251021_GSW_LAL, player_threes, draftkings")]


def test_snapshot_row_without_market_is_quarantined_once(wh, tmp_path):
    path = tmp_path / "snap.csv"
    path.write_text(
        "snapshot_utc,source_file,event_id,player,market,line,bookmaker,game,game_time,over_odds,under_odds,"
        "n_lines_same_book,is_main_line\n"
        "2025-10-21T17:00:00Z,x,e1,Stephen Curry,,26.5,draftkings,Golden State Warriors @ Los Angeles Lakers,"
        "2025-10-22T02:00:00Z,-112,-114,1,True\n"
        "2025-10-21T17:00:00Z,x,e1,Stephen Curry,player_points,26.5,draftkings,Golden State Warriors @ Los Angeles Lakers,"
        "2025-10-22T02:00:00Z,-112,-114,1,True\n")
    res = load(wh, path)
    assert res["odds_api_snapshots_points"]["inserted"] == 1
    assert res["odds_api_snapshots_points"]["quarantined"] == 0
    assert res["odds_api_snapshots_markets"]["quarantined"] == 1
    assert quarantine_reasons(wh) == {"missing value in column market": 1}
