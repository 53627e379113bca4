"""Identifier normalisation: player_lookup (Python and its DuckDB twin), game ids, team codes,
NBA ids, game types and season labels."""
from __future__ import annotations

import csv
import datetime as dt
import re

import duckdb
import pytest

from nbapipe import ids


@pytest.fixture(scope="module")
def con():
    """A plain DuckDB connection to evaluate the SQL twins (and to read the CSVs)."""
    c = duckdb.connect()
    yield c
    c.close()


def sql_lookup_many(con, names: list[str | None]) -> dict:
    """player_lookup_sql over `names`, as {name: result} (one set-based query)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _names AS SELECT unnest(?::VARCHAR[]) AS name",
                [names])
    rows = con.execute(f"SELECT name, {ids.player_lookup_sql('name')} FROM _names").fetchall()
    return dict(rows)


def sql_eval(con, expr_of, value, type_: str = "VARCHAR"):
    """Evaluate the SQL twin `expr_of(column)` on one value (bound, as column `v`)."""
    return con.execute(f"SELECT {expr_of('v')} FROM (SELECT ?::{type_} AS v)", [value]).fetchone()[0]


def sql_lookup(con, name: str | None) -> str | None:
    return sql_eval(con, ids.player_lookup_sql, name)


# --- player_lookup ---------------------------------------------------------------------------

AWKWARD = {
    "Nikola Jokić": "nikolajokic",
    "Nikola Jokic": "nikolajokic",
    "nikolajokic": "nikolajokic",
    "NIKOLA JOKIĆ": "nikolajokic",
    "Michael Porter Jr.": "michaelporterjr",
    "Michael Porter Jr": "michaelporterjr",
    "Michael Porter Junior": "michaelporterjr",
    "Michael Porter, Jr.": "michaelporterjr",
    "Xavier Tillman Sr.": "xaviertillmansr",
    "Xavier Tillman Senior": "xaviertillmansr",
    "Trey Murphy III": "treymurphyiii",
    "Jaren Jackson Jr.": "jarenjacksonjr",
    "Gary Payton II": "garypaytonii",
    "Kristaps Porziņģis": "kristapsporzingis",
    "Alperen Şengün": "alperensengun",
    "Ersan İlyasova": "ersanilyasova",
    "Dāvis Bertāns": "davisbertans",
    "D.J. Stewart Jr.": "djstewartjr",
    "De'Andre Hunter": "deandrehunter",
    "De\u2019Andre Hunter": "deandrehunter",   # typographic apostrophe
    "Mãozinha Pereira": "maozinhapereira",
    "  Luka   Dončić  ": "lukadoncic",
    "Bogdan Bogdanović": "bogdanbogdanovic",
    "Jusuf Nurkić": "jusufnurkic",
    "Dennis Schröder": "dennisschroder",
    "Nicolò Melli": "nicolomelli",
    "Juancho Hernangómez": "juanchohernangomez",
    "Vlatko Čančar": "vlatkocancar",
    "Théo Maledon": "theomaledon",
    "Karl-Anthony Towns": "karlanthonytowns",
    "O.G. Anunoby": "oganunoby",
    "Royce O'Neale": "royceoneale",
}


@pytest.mark.parametrize("name,expected", sorted(AWKWARD.items()))
def test_player_lookup_awkward_names(con, name, expected):
    assert ids.player_lookup(name) == expected
    assert sql_lookup(con, name) == expected


def test_player_lookup_spelling_variants_collide():
    assert ids.player_lookup("Nikola Jokić") == ids.player_lookup("Nikola Jokic") \
        == ids.player_lookup("nikolajokic")
    assert len({ids.player_lookup(n) for n in
                ("Michael Porter Jr.", "Michael Porter Jr", "Michael Porter Junior")}) == 1


def test_player_lookup_keeps_roman_numerals_and_distinguishes_suffixes():
    # roman numerals are part of the name, not a suffix to drop
    assert ids.player_lookup("Trey Murphy III") != ids.player_lookup("Trey Murphy")
    assert ids.player_lookup("Trey Murphy III") != ids.player_lookup("Trey Murphy II")
    # Jr. and Sr. are kept, and stay different
    assert ids.player_lookup("Xavier Tillman Sr.") != ids.player_lookup("Xavier Tillman Jr.")
    # only whole words fold: 'Juniors' / 'Seniority' are not suffixes
    assert ids.player_lookup("Juniors Smith") == "juniorssmith"
    assert ids.player_lookup("Seniority Jones") == "seniorityjones"


@pytest.mark.parametrize("empty", [None, "", "   ", ".'-", "\u2019", "😀"])
def test_player_lookup_empty_is_none(con, empty):
    assert ids.player_lookup(empty) is None
    assert sql_lookup(con, empty) is None


SYNTHETIC = {
    "ﬁnn ﬂoyd": "finnfloyd",            # PDF-extracted ligatures
    "Jeﬀ Baﬄe": "jeffbaffle",
    "ﬃ ﬄ ﬅ ﬆ": "ffifflstst",
    "Straße": "strasse",
    "STRAẞE": "strasse",               # capital sharp s
    "Øystein Ødegaard": "oysteinodegaard",
    "Łukasz Kołodziej": "lukaszkolodziej",
    "Þór Ðórsson": "thordorsson",
    "Đorđe Ğürbüz": "dordegurbuz",
    "Æsop Œuvre": "aesopoeuvre",
    "Ĳsbrand": "ijsbrand",
    "Ǆemal Ǉubo Ǌego": "dzemalljubonjego",
    "Ŀluís": "lluis",
    "Ǣ Ǿ": "aeo",                      # ligature/stroke letters that carry an accent
    "🏀 Joel Embiid 🔥": "joelembiid",
    "Player 2": "player2",
    "Player 2 Jr.": "player2jr",
    "42": "42",
    "Junior Junior": "jrjr",           # adjacent whole words both fold
    "Senior Junior Senior": "srjrsr",
    "a\u0301b\u0327c": "abc",           # combining marks already decomposed
    "Ａｂｃ Smith": "smith",              # fullwidth: a compatibility form, dropped on both sides
}


@pytest.mark.parametrize("name,expected", sorted(SYNTHETIC.items()))
def test_player_lookup_synthetic_odd_strings(con, name, expected):
    assert ids.player_lookup(name) == expected
    assert sql_lookup(con, name) == expected


def test_player_lookup_output_alphabet(con):
    names = list(AWKWARD) + list(SYNTHETIC)
    for n in names:
        out = ids.player_lookup(n)
        assert out is None or re.fullmatch(r"[a-z0-9]+", out), (n, out)


def test_player_lookup_sql_equals_python_for_every_character(con):
    """Every code point outside ASCII, embedded in a name and standing alone: the SQL twin and
    the Python function agree (this is what makes the twin safe on names not in the data)."""
    chars = [chr(c) for c in range(0x80, 0x30000) if not 0xD800 <= c < 0xE000]
    names = [f"Jo{c}e Jr" for c in chars] + chars
    got = sql_lookup_many(con, names)
    bad = [(n, ids.player_lookup(n), got[n]) for n in names if ids.player_lookup(n) != got[n]]
    assert not bad, f"{len(bad)} mismatches, e.g. {bad[:20]}"


def test_player_lookup_sql_null_and_column_expression(con):
    assert sql_lookup(con, None) is None
    # works on an arbitrary expression, not only a bare column
    expr = ids.player_lookup_sql("(n || ' Jr.')")
    assert con.execute(f"SELECT {expr} FROM (SELECT 'Dāvis Bertāns' AS n)").fetchone()[0] == \
        "davisbertansjr"


# (file, name columns): every file and column of the data that carries a player name
NAME_SOURCES = [
    ("bbref/player_box.csv.gz", ["player"]),
    ("bbref/inactives.csv.gz", ["player"]),
    ("shots/shots_2021_22.csv.gz", ["player_name"]),
    ("shots/shots_2022_23.csv.gz", ["PLAYER_NAME"]),
    ("shots/shots_2023_24.csv.gz", ["PLAYER_NAME"]),
    ("props/player_points_2025_26_snapshots.csv.gz", ["player"]),
    ("props/all_markets_2025_26_snapshots.csv.gz", ["player"]),
    ("props/player_threes_2025_26.csv.gz", ["player"]),
    ("props/player_points_2021_betfinder.csv.gz", ["player"]),
    ("props/player_points_2024_odds_api.csv.gz", ["player"]),
    ("props/pra_2023_24.csv.gz", ["player_name"]),
    ("injuries/prosports_transactions_2015_2025.csv.gz", ["Acquired", "Relinquished", "Player"]),
]


@pytest.mark.realdata
def test_player_lookup_sql_equals_python_on_every_name_in_the_data(con, data_dir):
    per_source: dict[str, int] = {}
    names: set[str] = set()
    for rel, cols in NAME_SOURCES:
        path = data_dir / rel
        assert path.exists(), path
        for col in cols:
            got = [r[0] for r in con.execute(
                f'SELECT DISTINCT "{col}" FROM read_csv(?, all_varchar = true, header = true) '
                f'WHERE "{col}" IS NOT NULL', [str(path)]).fetchall()]
            per_source[f"{rel}:{col}"] = len(got)
            names.update(got)
    empty = [k for k, v in per_source.items() if v == 0]
    assert not empty, f"no names read from {empty}"
    assert len(names) > 2000, per_source

    ordered = sorted(names)
    got = sql_lookup_many(con, ordered)
    mismatches = [(n, ids.player_lookup(n), got[n]) for n in ordered if ids.player_lookup(n) != got[n]]
    assert not mismatches, (
        f"{len(mismatches)} of {len(ordered)} names differ (name, python, sql): "
        + "; ".join(repr(m) for m in mismatches[:50]))
    # the data's own awkward spellings come out as expected
    py = {n: ids.player_lookup(n) for n in ordered}
    assert py.get("Nikola Jokić") == "nikolajokic"
    assert "kristapsporzingis" in py.values()
    assert all(v is None or re.fullmatch(r"[a-z0-9]+", v) for v in py.values())


# --- teams and game ids ----------------------------------------------------------------------

def test_game_id_basic():
    assert ids.game_id("2021-10-19", "GSW", "LAL") == "20211019_GSW_LAL"
    assert ids.game_id(dt.date(2021, 10, 19), "GSW", "LAL") == "20211019_GSW_LAL"


@pytest.mark.parametrize("away,home,expected", [
    ("BRK", "PHO", "20220105_BKN_PHX"),        # bbref codes
    ("CHO", "BRK", "20220105_CHA_BKN"),
    ("gs", "no", "20220105_GSW_NOP"),          # odds codes
    ("ny", "sa", "20220105_NYK_SAS"),
    ("utah", "wsh", "20220105_UTA_WAS"),
    ("Los Angeles Clippers", "Portland Trail Blazers", "20220105_LAC_POR"),   # full names
    ("LA Clippers", "Los Angeles Lakers", "20220105_LAC_LAL"),
    ("Blazers", "76ers", "20220105_POR_PHI"),  # nicknames
    ("Trail Blazers", "Sixers", "20220105_POR_PHI"),
    ("bkn", "PHX", "20220105_BKN_PHX"),
    (1610612744, "1610612747", "20220105_GSW_LAL"),   # NBA team ids
])
def test_game_id_accepts_every_code_family(away, home, expected):
    assert ids.game_id("2022-01-05", away, home) == expected


@pytest.mark.parametrize("away,home", [("XXX", "LAL"), ("GSW", "Los Angeles"), ("GSW", ""),
                                       ("GSW", None), ("Seattle SuperSonics", "LAL")])
def test_game_id_unknown_code_raises(away, home):
    with pytest.raises(ValueError, match="unknown team code"):
        ids.game_id("2021-10-19", away, home)


def test_team_abbr_unknown_and_none():
    assert ids.team_abbr(None) is None
    assert ids.team_abbr("") is None
    assert ids.team_abbr("XYZ") is None
    assert ids.team_abbr("Los Angeles") is None     # ambiguous city, not a team


def test_teams_table_is_consistent():
    rows = ids.teams()
    assert len(rows) == 30
    assert len({r["team_abbr"] for r in rows}) == 30
    assert len({r["nba_team_id"] for r in rows}) == 30
    for r in rows:
        for code in (r["team_abbr"], r["bbref_code"], r["odds_code"], r["nba_team_id"],
                     r["team_full_name"], r["team_nickname"]):
            assert ids.team_abbr(code) == r["team_abbr"], (code, r)


def test_team_alias_key_sql_matches_python(con):
    for alias, abbr in ids.team_aliases():
        for spelling in (alias, alias.upper(), f"  {alias} "):
            key = sql_eval(con, ids.team_alias_key_sql, spelling)
            assert key == alias, spelling
    key = sql_eval(con, ids.team_alias_key_sql, "Portland Trail-Blazers")
    assert dict(ids.team_aliases())[key] == "POR"


@pytest.mark.realdata
def test_team_codes_crosswalk_all_map_to_nba_code(data_dir):
    with open(data_dir / "crosswalks" / "team_codes.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30
    for r in rows:
        for col in ("nba", "bbref", "odds_dataset"):
            assert ids.team_abbr(r[col]) == r["nba"], (col, r)
    assert {r["nba"] for r in rows} == {t["team_abbr"] for t in ids.teams()}


def test_game_id_sql_matches_python(con):
    got = con.execute(f"SELECT {ids.game_id_sql('DATE ' + repr('2021-10-19'), repr('GSW'), repr('LAL'))}"
                      ).fetchone()[0]
    assert got == ids.game_id("2021-10-19", "GSW", "LAL")


# --- NBA ids, game types, seasons --------------------------------------------------------------

def test_nba_game_id_pads_and_validates():
    assert ids.nba_game_id("22200004") == "0022200004"
    assert ids.nba_game_id(22200004) == "0022200004"
    assert ids.nba_game_id(" 0022100001 ") == "0022100001"
    assert ids.nba_game_id("0022100001") == "0022100001"
    assert ids.nba_game_id(None) is None
    assert ids.nba_game_id("") is None
    for bad in ("abc", "12345678901", "00221-0001", "2.2e7"):
        with pytest.raises(ValueError):
            ids.nba_game_id(bad)


def test_nba_game_id_sql_matches_python(con):
    for v in ("22200004", "0022200004", " 42100406 ", "abc", "12345678901"):
        got = sql_eval(con, ids.nba_game_id_sql, v)
        try:
            expected = ids.nba_game_id(v)
        except ValueError:
            expected = None
        assert got == expected, v


@pytest.mark.parametrize("nid,kind", [
    ("0022100001", "regular"), ("0042100406", "playoffs"), ("0052100001", "play-in"),
    ("0062300001", "in-season-final"), ("0012100001", "preseason"), ("0032100001", "all-star"),
    ("22200004", "regular"),          # shot-file form without leading zeros
])
def test_game_type_of(con, nid, kind):
    assert ids.game_type_of(nid) == kind
    padded = ids.nba_game_id(nid)
    assert sql_eval(con, ids.game_type_sql, padded) == kind


def test_game_type_of_none_and_unknown():
    assert ids.game_type_of(None) is None
    assert ids.game_type_of("0092100001") is None


def test_season_label_round_trip():
    assert ids.season_label(2021) == "2021-22"
    assert ids.season_label(1999) == "1999-00"
    assert ids.season_label(2009) == "2009-10"
    assert ids.season_start_year("2021-22") == 2021
    assert ids.season_start_year(" 1999-00 ") == 1999
    for y in range(1946, 2100):
        assert ids.season_start_year(ids.season_label(y)) == y


@pytest.mark.parametrize("bad", ["2021-23", "2021/22", "21-22", "2021-2022", "2021", "", "abcd-ef",
                                 "2021-22-23", "1999-99"])
def test_season_start_year_rejects_bad_labels(bad):
    with pytest.raises(ValueError, match="season label"):
        ids.season_start_year(bad)


def test_season_year_sql_helpers(con):
    assert sql_eval(con, ids.season_year_from_nba_id_sql, "0022100001") == 2021
    for d, y in (("2021-10-19", 2021), ("2022-04-10", 2021), ("2020-10-11", 2020), ("2022-08-01", 2022)):
        got = sql_eval(con, ids.season_year_from_date_sql, d, "DATE")
        assert got == y, d
