"""Layouts by meaning and counting what is read (issue 15 items 1, 6, 7; issue 18's ingest items),
on small hand-made files in the real layouts' headers. The real files, reshaped, are the
mutation corpus's cases (test_ingest_mutations.py)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from nbapipe.cli import app
from nbapipe.sources.ingest import ingest

SNAPSHOT_HEADER = ("snapshot_utc,source_file,event_id,player,market,line,bookmaker,game,game_time,"
                   "over_odds,under_odds,n_lines_same_book,is_main_line")
GAME = "Houston Rockets @ Oklahoma City Thunder,2025-10-21T23:35:00Z"
SNAPSHOT_ROWS = [
    f"2025-10-21T17:00:00Z,raw.csv,ev1,Shai Gilgeous-Alexander,player_points,32.5,draftkings,{GAME},-115,-105,1,True",
    f"2025-10-21T17:00:00Z,raw.csv,ev1,Shai Gilgeous-Alexander,player_assists,6.5,draftkings,{GAME},-115,-113,1,True",
    f"2025-10-21T17:00:00Z,raw.csv,ev1,Alperen Sengun,player_rebounds,9.5,fanduel,{GAME},-120,-108,1,True",
    f"2025-10-21T17:00:00Z,raw.csv,ev1,Alperen Sengun,player_points,20.5,fanduel,{GAME},-110,-110,1,True",
]

POINTS_2024_HEADER = ("nba_game_id,game_type,game_date_et,commence_time,event_id,home_team,away_team,home_nba,"
                      "away_nba,bookmaker,player,line,over_odds,under_odds,n_lines_same_book,is_main_line,"
                      "market_last_update,snapshot_file")
P24 = ("0022300856,regular,2024-02-29,2024-03-01T03:00:00Z,ev9,Los Angeles Lakers,Washington Wizards,LAL,WAS,"
       "{book},{player},{line},{over},{under},1,True,{snap},data.csv")


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def rows(wh, sql: str) -> list[tuple]:
    return wh.tuples(sql)


def test_synonyms_and_a_market_column_route_rows_by_meaning(wh, tmp_path):
    """An Odds-API export: `odds_api_event_id`, `over_price`/`under_price`, `commence_time`;
    its `market` column sends points rows to the points table and the rest to all-markets."""
    header = (SNAPSHOT_HEADER.replace("event_id", "odds_api_event_id").replace("over_odds", "over_price")
              .replace("under_odds", "under_price").replace("game_time", "commence_time"))
    [o] = ingest(wh, [write(tmp_path / "export.csv", header, SNAPSHOT_ROWS)])
    assert o.status == "loaded", o.message
    assert {l.loader: (l.rows_read, l.loaded, l.filtered) for l in o.loaders} == {
        "odds_api_snapshots_points": (4, 2, 2), "odds_api_snapshots_markets": (4, 2, 2)}
    assert rows(wh, "SELECT player_lookup, points_line, over_price, event_id FROM "
                    "nba_raw.odds_api_player_points_props ORDER BY 1") == [
        ("alperensengun", 20.5, -110.0, "ev1"), ("shaigilgeousalexander", 32.5, -115.0, "ev1")]
    assert rows(wh, "SELECT market, line FROM nba_raw.odds_api_player_props ORDER BY 1") == [
        ("player_assists", 6.5), ("player_rebounds", 9.5)]


def test_long_layout_pivots_to_one_row_per_line_and_quarantines_what_it_cannot_place(wh, tmp_path):
    header = POINTS_2024_HEADER.replace("over_odds,under_odds,", "") + ",side,american_odds"

    def side(player, line, side_name, price, book="betmgm"):
        wide = P24.format(book=book, player=player, line=line, over="X", under="Y", snap="2024-03-01T01:00:00Z")
        return wide.replace("X,Y,", "") + f",{side_name},{price}"
    lines = [side("Anthony Davis", 25.5, "Over", -110), side("Anthony Davis", 25.5, "Under", -120),   # 2, 3
             side("LeBron James", 24.5, "over", 100), side("LeBron James", 24.5, "UNDER", -130),     # 4, 5
             side("LeBron James", 24.5, "Over", 105),                                               # 6: 2nd over
             side("Kyle Kuzma", 20.5, "Push", 300)]                                                 # 7
    [o] = ingest(wh, [write(tmp_path / "long.csv", header, lines)])
    assert o.status == "loaded", o.message
    assert rows(wh, "SELECT player_lookup, points_line, over_price, under_price FROM "
                    "nba_raw.odds_api_player_points_props ORDER BY 1") == [
        ("anthonydavis", 25.5, -110.0, -120.0), ("lebronjames", 24.5, 100.0, -130.0)]
    assert rows(wh, "SELECT line, reason FROM nba_raw.quarantine ORDER BY line") == [
        (6, "a second over price for the same line"), (7, "side is neither over nor under: Push")]
    [l] = o.loaders
    assert (l.rows_read, l.loaded, l.quarantined) == (4, 2, 2)


def test_missing_snapshot_time_is_imputed_flagged_and_used_only_before_tip_off(wh, tmp_path):
    """Empty market_last_update: the line loads with the slate date's 00:00 ET as its time,
    flagged; the points-line chain takes it only where that is before a known tip-off."""
    from nbapipe.processors.sources import _points_line
    from nbapipe.sources.registry import rebuild_reference
    ok = P24.format(book="betmgm", player="Anthony Davis", line=25.5, over=-110, under=-120, snap="")
    # Listed on a slate dated after its game: not provably pre-game.
    late = (P24.replace("2024-02-29", "2024-03-02").replace("2024-03-01T03:00:00Z", "2024-03-01T03:00:00Z")
            .format(book="fanduel", player="Anthony Davis", line=30.5, over=-110, under=-110, snap=""))
    # No tip-off anywhere (neither the file nor the schedule): nothing proves it pre-game.
    unknown = (P24.replace("2024-02-29", "2024-02-28").replace("2024-03-01T03:00:00Z", "")
               .format(book="fanduel", player="Anthony Davis", line=28.5, over=-110, under=-110, snap=""))
    # A real snapshot time is not flagged.
    known = P24.format(book="fanduel", player="Anthony Davis", line=26.5, over=-110, under=-110,
                       snap="2024-03-01T01:00:00Z")
    [o] = ingest(wh, [write(tmp_path / "p.csv", POINTS_2024_HEADER, [ok, late, unknown, known])])
    assert o.status == "loaded" and o.loaders[0].quarantined == 0, o.message
    assert rows(wh, "SELECT game_date::VARCHAR, bookmaker, snapshot_at::VARCHAR, snapshot_imputed FROM "
                    "nba_raw.odds_api_player_points_props ORDER BY 1, 2") == [
        ("2024-02-28", "fanduel", "2024-02-28 05:00:00", True),
        ("2024-02-29", "betmgm", "2024-02-29 05:00:00", True),
        ("2024-02-29", "fanduel", "2024-03-01 01:00:00", False),
        ("2024-03-02", "fanduel", "2024-03-02 05:00:00", True)]
    rebuild_reference(wh)
    wh.execute("CREATE OR REPLACE TEMP TABLE run_dates AS SELECT game_date FROM "
               "(VALUES (DATE '2024-02-28'), (DATE '2024-02-29'), (DATE '2024-03-02')) t(game_date)")
    lines = wh.tuples(f"SELECT game_id, points_line FROM ({_points_line('nba_raw.odds_api_player_points_props')})")
    # 2024-02-29: betmgm's imputed 25.5 and fanduel's 26.5, each its book's latest: median 26.0.
    assert lines == [("20240229_WAS_LAL", 26.0)]


def test_unbalanced_quote_quarantines_its_line_and_loads_the_rest(wh, tmp_path):
    header = "slate_date,player,game,game_time,market,line,bookmaker,over_odds,under_odds"
    game = "Houston Rockets @ Oklahoma City Thunder,2025-10-21T23:35:00Z,player_threes"
    body = [f"2025-10-21,Player {i},{game},{i % 4}.5,draftkings,-110,-110" for i in range(40)]
    body[10] = body[10].replace("Player 10", '"Player 10')
    [o] = ingest(wh, [write(tmp_path / "t.csv", header, body)])
    assert o.status == "loaded", o.message
    assert wh.scalar("SELECT count(*) FROM nba_raw.odds_api_player_props") == 39
    assert rows(wh, "SELECT line, reason FROM nba_raw.quarantine") == [
        (12, 'unbalanced quote ("): the line is not a record')]
    assert o.loaders[0].rules == {'unbalanced quote (")': {"quarantined": 1, "corrected": 0}}


def test_files_that_load_nothing_exit_1_and_change_nothing(tmp_path):
    header = "slate_date,player,game,game_time,market,line,bookmaker,over_odds,under_odds"
    home = tmp_path / "home"
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(gzip.compress(b""))
    header_only = write(tmp_path / "header_only.csv", header, [])
    random_gz = tmp_path / "random.csv.gz"
    random_gz.write_bytes(bytes(range(256)) * 4)
    readme = tmp_path / "README.md"
    readme.write_text("# notes\nnothing to load here\n")
    cases = {empty: (["--format", "odds_api_threes_csv"], "empty file: no header and no rows"),
             header_only: ([], "no rows: the file has a header but no records (0 rows loaded)"),
             random_gz: ([], "not gzip: named .gz but does not start with the gzip signature"),
             readme: ([], "no loader recognises its columns (# notes); the nearest formats: ")}
    runner = CliRunner()
    for path, (extra, message) in cases.items():
        r = runner.invoke(app, ["--home", str(home), "ingest", str(path), "--json", "--skip-downstream-trigger",
                                *extra])
        assert r.exit_code == 1, (path.name, r.output)
        doc = json.loads(r.stdout)
        [f] = doc["files"]
        assert f["status"] == "refused" and f["message"].startswith(message), f
    r = runner.invoke(app, ["--home", str(home), "sql", "SELECT (SELECT count(*) FROM nba_raw.odds_api_player_props)"
                            " + (SELECT count(*) FROM nba_raw.quarantine) AS n", "--json"])
    assert json.loads(r.stdout) == [{"n": 0}]


def test_a_folder_skips_unknown_files_with_what_a_loader_needs(wh, tmp_path):
    write(tmp_path / "notes.csv", "colour,shape", ["red,circle"])
    [o] = ingest(wh, [tmp_path])
    assert o.status == "unrecognised"
    assert o.message.startswith("no loader recognises its columns (colour, shape); the nearest formats: ")
    assert " needs " in o.message and o.message.endswith("(skipped)")


def test_report_has_rows_read_loaded_and_quarantined_per_rule(tmp_path):
    header = "slate_date,player,game,game_time,market,line,bookmaker,over_odds,under_odds"
    game = "Houston Rockets @ Oklahoma City Thunder,2025-10-21T23:35:00Z,player_threes"
    body = [f"2025-10-21,Player {i},{game},1.5,draftkings,-110,-110" for i in range(8)]
    body[2] = body[2].replace("1.5,", "one,")
    body.append("oops")
    path = write(tmp_path / "t.csv", header, body)
    r = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(path), "--json",
                                 "--skip-downstream-trigger"])
    assert r.exit_code == 0, r.output
    [f] = json.loads(r.stdout)["files"]
    [l] = f["loaders"]
    assert (l["rows_read"], l["loaded"], l["quarantined"]) == (9, 7, 2)
    assert l["rules"] == {"text in number column line": {"quarantined": 1, "corrected": 0},
                          "ragged row": {"quarantined": 1, "corrected": 0}}


def test_a_market_column_in_the_2024_layout_routes_other_markets_to_all_markets(wh, tmp_path):
    """The 2024 points layout exported with a `market` column and Odds-API names: points rows
    load as points lines, assists and rebounds as all-markets lines (never as points)."""
    header = (POINTS_2024_HEADER.replace("event_id", "odds_api_event_id").replace("over_odds", "over_price")
              .replace("under_odds", "under_price") + ",market")
    snap = "2024-03-01T01:00:00Z"
    body = [P24.format(book="betmgm", player="Anthony Davis", line=25.5, over=-110, under=-120, snap=snap)
            + ",player_points",
            P24.format(book="betmgm", player="Anthony Davis", line=3.5, over=-130, under=100, snap=snap)
            + ",player_assists",
            P24.format(book="betmgm", player="Anthony Davis", line=12.5, over=-115, under=-115, snap=snap)
            + ",player_rebounds"]
    [o] = ingest(wh, [write(tmp_path / "export.csv", header, body)])
    assert o.status == "loaded", o.message
    assert {l.loader: (l.loaded, l.filtered) for l in o.loaders} == {
        "odds_api_points_csv": (1, 2), "odds_api_markets_csv": (2, 1)}
    assert rows(wh, "SELECT points_line, over_price, event_id FROM nba_raw.odds_api_player_points_props") == [
        (25.5, -110.0, "ev9")]
    assert rows(wh, "SELECT market, line, under_price FROM nba_raw.odds_api_player_props ORDER BY 1") == [
        ("player_assists", 3.5, 100.0), ("player_rebounds", 12.5, -115.0)]
