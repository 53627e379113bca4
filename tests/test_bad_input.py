"""Bad input, nothing lost: corrupt files are refused whole (warehouse unchanged, exit 1),
bad rows go to quarantine with file, line and reason while the good rows load."""
from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nbapipe.cli import app
from nbapipe.sources.ingest import ingest

HEADER = ["bbref_game_id", "nba_game_id", "game_type", "game_date", "season", "team", "team_nba",
          "opponent", "home_away", "bbref_player_id", "player", "starter", "status", "mp", "fg", "fga",
          "fg3", "fg3a", "ft", "fta", "orb", "drb", "trb", "ast", "stl", "blk", "tov", "pf", "pts",
          "plus_minus", "minutes", "usg_pct"]


def player(name, pts=10, team="GSW", opp="LAL", ha="away", date="2021-10-19", nba_id="0022100002", **kw):
    row = {"bbref_game_id": "202110190LAL", "nba_game_id": nba_id, "game_type": "regular",
           "game_date": date, "season": "2021-22", "team": team, "team_nba": team, "opponent": opp,
           "home_away": ha, "bbref_player_id": name.lower().replace(" ", "")[:7] + "01", "player": name,
           "starter": "1", "status": "Played", "mp": "30:00", "fg": "4", "fga": "9", "fg3": "1",
           "fg3a": "3", "ft": "1", "fta": "2", "orb": "1", "drb": "3", "trb": "4", "ast": "2",
           "stl": "1", "blk": "0", "tov": "1", "pf": "2", "pts": str(pts), "plus_minus": "3",
           "minutes": "30.0", "usg_pct": "20.1"}
    row.update(kw)
    return row


def write_csv(path: Path, rows: list[dict], header=HEADER, gz=True, encoding="utf-8") -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    data = buf.getvalue().encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def count(wh, table="nba_raw.nbac_gamebook_player_stats"):
    return wh.scalar(f"SELECT count(*) FROM {table}")


def refused(outcomes):
    return {Path(o.path).name: o.message for o in outcomes if o.status == "refused"}


GOOD = [player("Stephen Curry", 21), player("Draymond Green", 6), player("LeBron James", 34, team="LAL", opp="GSW", ha="home")]


def test_truncated_gzip_is_refused_and_warehouse_unchanged(wh, tmp_path):
    ingest(wh, [write_csv(tmp_path / "ok" / "player_box.csv.gz", GOOD)])
    before = count(wh)
    rows = [player(f"Player {i}", i) for i in range(3000)]
    p = write_csv(tmp_path / "bad" / "player_box.csv.gz", rows)
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    out = ingest(wh, [p])
    msg = refused(out)["player_box.csv.gz"]
    assert "decompress" in msg or "gzip" in msg.lower()
    assert count(wh) == before == 3
    assert count(wh, "nba_raw.quarantine") == 0


def test_required_column_missing_is_refused(wh, tmp_path):
    p = write_csv(tmp_path / "player_box.csv.gz", GOOD, header=[c for c in HEADER if c != "pts"])
    msg = refused(ingest(wh, [p]))["player_box.csv.gz"]
    assert "bbref_player_box" in msg and "required column(s) missing: pts" in msg
    assert count(wh) == 0


def test_extra_and_unused_columns_are_fine(wh, tmp_path):
    """A season whose file lacks an optional column (usg_pct) and has extra ones still loads."""
    header = [c for c in HEADER if c != "usg_pct"] + ["some_new_column"]
    rows = [dict(r, some_new_column="x") for r in GOOD]
    out = ingest(wh, [write_csv(tmp_path / "player_box.csv.gz", rows, header=header)])
    assert not refused(out)
    assert count(wh) == 3
    assert wh.scalar("SELECT count(*) FROM nba_raw.nbac_gamebook_player_stats WHERE bbref_usage_rate IS NULL") == 3


def test_not_utf8_is_refused(wh, tmp_path):
    rows = [player("Théo Maledon", 8, team="OKC", opp="UTA")] + GOOD
    p = write_csv(tmp_path / "player_box.csv", rows, gz=False, encoding="latin-1")
    msg = refused(ingest(wh, [p]))["player_box.csv"]
    assert "UTF-8" in msg
    assert count(wh) == 0


def test_ragged_row_is_quarantined_with_its_line_and_unparseable_json_refused(wh, tmp_path):
    """A row with the wrong number of fields is not a record: it is quarantined with its line
    number and text (issue 18: the refusal gave no line), the good rows load."""
    p = write_csv(tmp_path / "player_box.csv", GOOD, gz=False)
    p.write_text(p.read_text() + "1,2,3\n")          # line 5: a row with the wrong number of fields
    j = tmp_path / "box.json"
    j.write_text('{"resultSets": [ {"name": "PlayerStats", ')
    outcomes = ingest(wh, [p, j])
    out = refused(outcomes)
    assert set(out) == {"box.json"} and "unparseable JSON" in out["box.json"]
    assert count(wh) == 3
    [q] = wh.rows("SELECT line, reason, raw_row FROM nba_raw.quarantine")
    assert q["line"] == 5 and q["reason"] == f"ragged row: 3 field(s) where the header has {len(HEADER)}"
    assert json.loads(q["raw_row"]) == {"__text": "1,2,3"}
    [res] = [l for o in outcomes for l in o.loaders]
    assert (res.rows_read, res.loaded, res.quarantined) == (4, 3, 1)


def test_bad_rows_go_to_quarantine_good_rows_load(wh, tmp_path):
    rows = GOOD + [
        player("Text Points", "twelve"),                       # line 5
        player("Negative Points", -4),                         # line 6
        player("Unknown Team", 5, team="XYZ"),                 # line 7
        player("Impossible Date", 5, date="2021-02-30"),       # line 8
        player("Stephen Curry", 99),                           # line 9: duplicate key of line 2
    ]
    p = write_csv(tmp_path / "player_box.csv.gz", rows)
    # 5 of 8 rows bad is over the 50% share: refused whole, nothing written ...
    assert "5 of 8 rows quarantined (62%, over the 50% limit" in refused(ingest(wh, [p]))["player_box.csv.gz"]
    assert count(wh) == 0 and count(wh, "nba_raw.quarantine") == 0
    # ... unless the user accepts a partial file.
    out = ingest(wh, [p], accept_partial=True)
    assert not refused(out)
    res = out[0].loaders[0]
    assert res.rules == {r: {"quarantined": 1} for r in (
        "duplicate key", "impossible date in column game_date", "impossible value in column pts",
        "text in number column pts", "unknown team in column team_nba")}
    assert (res.rows_read, res.inserted, res.quarantined) == (8, 3, 5)
    q = {r["line"]: r for r in wh.rows("SELECT * FROM nba_raw.quarantine ORDER BY line")}
    assert set(q) == {5, 6, 7, 8, 9}
    assert q[5]["reason"] == "text in number column pts: 'twelve'"
    assert q[6]["reason"].startswith("impossible value in column pts: -4")
    assert q[7]["reason"] == "unknown team in column team_nba: 'XYZ'"
    assert q[8]["reason"] == "impossible date in column game_date: '2021-02-30'"
    assert "duplicate key" in q[9]["reason"] and "first seen at line 2" in q[9]["reason"]
    assert all(r["source_file"] == str(p) and r["target_table"] == "nba_raw.nbac_gamebook_player_stats"
               for r in q.values())
    assert json.loads(q[5]["raw_row"])["player"] == "Text Points"
    # The first occurrence of the duplicated key is the one kept.
    assert wh.scalar("SELECT points FROM nba_raw.nbac_gamebook_player_stats WHERE player_lookup = 'stephencurry'") == 21
    # Re-ingesting the same file quarantines nothing twice.
    ingest(wh, [p], force=True, accept_partial=True)
    assert count(wh, "nba_raw.quarantine") == 5


def test_same_file_name_in_two_folders_both_load(wh, tmp_path):
    write_csv(tmp_path / "2021-22" / "player_box.csv.gz", GOOD)
    write_csv(tmp_path / "2022-23" / "player_box.csv.gz",
                  [player("Stephen Curry", 33, date="2022-10-18", nba_id="0022200002", opp="LAL"),
                   player("Klay Thompson", 12, date="2022-10-18", nba_id="0022200002", opp="LAL")])
    out = ingest(wh, [tmp_path])
    assert [o.status for o in out if o.status != "not_data"] == ["loaded", "loaded"]
    assert count(wh) == 5
    assert dict(wh.tuples("SELECT game_date::VARCHAR, count(*) FROM nba_raw.nbac_gamebook_player_stats GROUP BY 1")) == \
        {"2021-10-19": 3, "2022-10-18": 2}


def test_identical_content_under_another_name_changes_nothing(wh, tmp_path):
    a = write_csv(tmp_path / "a" / "player_box.csv.gz", GOOD)
    ingest(wh, [a])
    before = wh.rows("SELECT * FROM nba_raw.nbac_gamebook_player_stats ORDER BY player_lookup")
    b = write_csv(tmp_path / "b" / "box_copy.csv", GOOD, gz=False)      # same rows, other file
    out = ingest(wh, [b])
    r = out[0].loaders[0]
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 3)
    assert wh.rows("SELECT * FROM nba_raw.nbac_gamebook_player_stats ORDER BY player_lookup") == before


def test_corrected_row_updates_in_place(wh, tmp_path):
    ingest(wh, [write_csv(tmp_path / "a" / "player_box.csv.gz", GOOD)])
    fixed = [player("Stephen Curry", 23)] + GOOD[1:]
    out = ingest(wh, [write_csv(tmp_path / "b" / "player_box.csv.gz", fixed)])
    r = out[0].loaders[0]
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 2)
    assert count(wh) == 3
    assert wh.scalar("SELECT points FROM nba_raw.nbac_gamebook_player_stats WHERE player_lookup = 'stephencurry'") == 23


def test_unrecognised_file_is_a_warning_not_an_error(wh, tmp_path):
    (tmp_path / "notes.csv").write_text("colour,shape\nred,circle\n")
    out = ingest(wh, [tmp_path])
    assert [(Path(o.path).name, o.status) for o in out] == [("notes.csv", "unrecognised")]


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    good = write_csv(tmp_path / "in" / "player_box.csv.gz", GOOD)
    bad = write_csv(tmp_path / "bad" / "player_box.csv.gz", GOOD, header=[c for c in HEADER if c != "pts"])
    home = tmp_path / "home"
    r = runner.invoke(app, ["--home", str(home), "ingest", str(good), "--json", "--skip-downstream-trigger"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["--home", str(home), "ingest", str(bad), "--skip-downstream-trigger"])
    assert r.exit_code == 1
    assert "required column(s) missing: pts" in r.output
    r = runner.invoke(app, ["--home", str(home), "sql", "SELECT count(*) AS n FROM nba_raw.nbac_gamebook_player_stats", "--json"])
    assert r.exit_code == 0 and '"n": 3' in r.output
    r = runner.invoke(app, ["--home", str(home), "ingest", str(tmp_path / "missing")])
    assert r.exit_code == 2
    r = runner.invoke(app, ["--home", str(home), "ingest", str(good), "--format", "no_such_format"])
    assert r.exit_code == 2 and "unknown format" in r.output
    r = runner.invoke(app, ["--home", str(home), "sql", "DELETE FROM nba_raw.nbac_gamebook_player_stats"])
    assert r.exit_code == 2 and "is read-only" in r.output


def test_format_option_loads_one_file_without_recognition(wh, tmp_path):
    """--format NAME: a file whose header alone would not be recognised (no 'status' column
    is needed by the inactives format) is loaded as that format."""
    from nbapipe.sources.ingest import recognise
    p = write_csv(tmp_path / "x.csv", GOOD, gz=False)
    r = recognise(p, "bbref_player_box")
    assert [l.name for l in r.loaders] == ["bbref_player_box"]
