"""Identifier normalisation: player_lookup, game ids, team codes. One of each, used everywhere.

`player_lookup_sql` is the same normalisation as `player_lookup`, written as a DuckDB
expression so loaders stay set-based; a test checks both agree on every name in the data.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

# (tricode, bbref code, odds-dataset code, NBA team id, city/region, nickname, other names)
_TEAMS = [
    ("ATL", "ATL", "atl", 1610612737, "Atlanta", "Hawks", ()),
    ("BOS", "BOS", "bos", 1610612738, "Boston", "Celtics", ()),
    ("BKN", "BRK", "bkn", 1610612751, "Brooklyn", "Nets", ("BRK", "NJN")),
    ("CHA", "CHO", "cha", 1610612766, "Charlotte", "Hornets", ("CHO", "CHH")),
    ("CHI", "CHI", "chi", 1610612741, "Chicago", "Bulls", ()),
    ("CLE", "CLE", "cle", 1610612739, "Cleveland", "Cavaliers", ()),
    ("DAL", "DAL", "dal", 1610612742, "Dallas", "Mavericks", ()),
    ("DEN", "DEN", "den", 1610612743, "Denver", "Nuggets", ()),
    ("DET", "DET", "det", 1610612765, "Detroit", "Pistons", ()),
    ("GSW", "GSW", "gs", 1610612744, "Golden State", "Warriors", ("GS",)),
    ("HOU", "HOU", "hou", 1610612745, "Houston", "Rockets", ()),
    ("IND", "IND", "ind", 1610612754, "Indiana", "Pacers", ()),
    ("LAC", "LAC", "lac", 1610612746, "Los Angeles", "Clippers", ("LA Clippers",)),
    ("LAL", "LAL", "lal", 1610612747, "Los Angeles", "Lakers", ()),
    ("MEM", "MEM", "mem", 1610612763, "Memphis", "Grizzlies", ()),
    ("MIA", "MIA", "mia", 1610612748, "Miami", "Heat", ()),
    ("MIL", "MIL", "mil", 1610612749, "Milwaukee", "Bucks", ()),
    ("MIN", "MIN", "min", 1610612750, "Minnesota", "Timberwolves", ()),
    ("NOP", "NOP", "no", 1610612740, "New Orleans", "Pelicans", ("NO", "NOR")),
    ("NYK", "NYK", "ny", 1610612752, "New York", "Knicks", ("NY",)),
    ("OKC", "OKC", "okc", 1610612760, "Oklahoma City", "Thunder", ()),
    ("ORL", "ORL", "orl", 1610612753, "Orlando", "Magic", ()),
    ("PHI", "PHI", "phi", 1610612755, "Philadelphia", "76ers", ("Sixers",)),
    ("PHX", "PHO", "phx", 1610612756, "Phoenix", "Suns", ("PHO",)),
    ("POR", "POR", "por", 1610612757, "Portland", "Trail Blazers", ("Blazers",)),
    ("SAC", "SAC", "sac", 1610612758, "Sacramento", "Kings", ()),
    ("SAS", "SAS", "sa", 1610612759, "San Antonio", "Spurs", ("SA",)),
    ("TOR", "TOR", "tor", 1610612761, "Toronto", "Raptors", ()),
    ("UTA", "UTA", "utah", 1610612762, "Utah", "Jazz", ("UTAH",)),
    ("WAS", "WAS", "wsh", 1610612764, "Washington", "Wizards", ("WSH",)),
]


def teams() -> list[dict]:
    """The 30 teams as rows for nba_reference.teams."""
    return [
        {"team_abbr": t, "bbref_code": b, "odds_code": o, "nba_team_id": i,
         "team_city": c, "team_nickname": n, "team_full_name": f"{c} {n}"}
        for t, b, o, i, c, n, _ in _TEAMS
    ]


def _alias_key(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(code).lower())


def _build_aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for t, b, o, i, c, n, other in _TEAMS:
        for alias in (t, b, o, str(i), n, f"{c} {n}", *other):
            out[_alias_key(alias)] = t
    return out


_ALIASES = _build_aliases()


def team_aliases() -> list[tuple[str, str]]:
    """(normalised alias, tricode) pairs; loaders join on `team_alias_key_sql(col)`."""
    return sorted(_ALIASES.items())


def team_abbr(code: str | int | None) -> str | None:
    """Map an NBA, Basketball-Reference or odds code, a full name, a nickname or an NBA team id
    to the NBA tricode; None when unknown."""
    if code is None:
        return None
    return _ALIASES.get(_alias_key(code))


def team_alias_key_sql(col: str) -> str:
    return f"regexp_replace(lower(trim({col})), '[^a-z0-9]', '', 'g')"


# --- players -------------------------------------------------------------------------------

# Letters canonical decomposition (NFD) does not reduce to ASCII: folded explicitly. The same
# table drives `player_lookup` and `player_lookup_sql`, so both agree on every string (a test
# sweeps every code point). Compatibility forms (fullwidth letters, superscripts, ...) are not
# folded on either side: DuckDB's strip_accents has no NFKD, so they are dropped on both.
_FOLD = {
    "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i", "ð": "d", "Ð": "d",
    "ŀ": "l", "Ŀ": "l", "ŉ": "n", "ſ": "s",
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th",
    "ĳ": "ij", "Ĳ": "ij", "ǆ": "dz", "ǅ": "dz", "Ǆ": "dz", "ǳ": "dz", "ǲ": "dz", "Ǳ": "dz",
    "ǉ": "lj", "ǈ": "lj", "Ǉ": "lj", "ǌ": "nj", "ǋ": "nj", "Ǌ": "nj",
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st",
}
_FOLD_TABLE = str.maketrans(_FOLD)
_SUFFIX_WORDS = {"junior": "jr", "senior": "sr"}


def player_lookup(name: str | None) -> str | None:
    """Normalised player key: lowercase ASCII letters and digits only.

    Diacritics are stripped ("Nikola Jokić" == "Nikola Jokic"), "Jr."/"Jr"/"Junior" fold to
    "jr" (likewise "sr"), roman numerals stay ("Trey Murphy III" -> "treymurphyiii")."""
    if name is None:
        return None
    s = unicodedata.normalize("NFD", str(name))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.translate(_FOLD_TABLE).lower()
    words = re.split(r"[^a-z0-9]+", s)
    out = "".join(_SUFFIX_WORDS.get(w, w) for w in words if w)
    return out or None


def player_lookup_sql(col: str) -> str:
    """DuckDB expression equal to `player_lookup(col)` (tested on every name in the data and
    on every code point). `col` appears more than once: pass a column, not a `?` parameter."""
    single = {k: v for k, v in _FOLD.items() if len(v) == 1}
    f = f"translate(strip_accents({col}), '{''.join(single)}', '{''.join(single.values())}')"
    multi: dict[str, str] = {}
    for k, v in _FOLD.items():
        if len(v) > 1:
            multi[v] = multi.get(v, "") + k
    for v, chars in multi.items():
        f = (f"regexp_replace({f}, '[{chars}]', '{v}', 'g')" if len(chars) > 1
             else f"replace({f}, '{chars}', '{v}')")
    # The folding chain only for names with a non-ASCII character (bytes <> characters).
    s = f"lower(CASE WHEN strlen({col}) = length({col}) THEN {col} ELSE {f} END)"
    # Words separated by two spaces and padded, so ' junior ' matches every whole word even
    # when two are adjacent (a non-overlapping regexp would skip the second).
    s = f"(' ' || regexp_replace({s}, '[^a-z0-9]+', '  ', 'g') || ' ')"
    for word, short in _SUFFIX_WORDS.items():
        s = f"replace({s}, ' {word} ', ' {short} ')"
    return f"nullif(replace({s}, ' ', ''), '')"


# --- games ---------------------------------------------------------------------------------

GAME_TYPES = {"1": "preseason", "2": "regular", "3": "all-star", "4": "playoffs",
              "5": "play-in", "6": "in-season-final"}


def game_id(game_date: date | str, away: str, home: str) -> str:
    """Standard game id `YYYYMMDD_AWAY_HOME` (NBA tricodes)."""
    d = game_date if isinstance(game_date, str) else game_date.isoformat()
    a, h = team_abbr(away), team_abbr(home)
    if not a or not h:
        raise ValueError(f"unknown team code in game {away!r} @ {home!r}")
    return f"{d.replace('-', '')[:8]}_{a}_{h}"


def game_id_sql(date_expr: str, away_expr: str, home_expr: str) -> str:
    return f"strftime({date_expr}, '%Y%m%d') || '_' || {away_expr} || '_' || {home_expr}"


def nba_game_id(value: str | int | None) -> str | None:
    """The 10-character NBA.com id; the shot files dropped the leading zeros."""
    if value is None or str(value).strip() == "":
        return None
    s = str(value).strip()
    if not s.isdigit() or len(s) > 10:
        raise ValueError(f"not an NBA game id: {value!r}")
    return s.zfill(10)


def nba_game_id_sql(col: str) -> str:
    return f"CASE WHEN regexp_matches(trim({col}), '^[0-9]{{1,10}}$') THEN lpad(trim({col}), 10, '0') END"


def game_type_of(nba_id: str) -> str | None:
    """Game type from the third digit of the NBA id (2 regular, 4 playoffs, 5 play-in, ...)."""
    nid = nba_game_id(nba_id)
    return GAME_TYPES.get(nid[2]) if nid else None


def game_type_sql(col: str) -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in GAME_TYPES.items())
    return f"CASE substr({col}, 3, 1) {cases} END"


def season_label(start_year: int) -> str:
    """2021 -> '2021-22'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def season_start_year(label: str) -> int:
    """'2021-22' -> 2021; raises on anything else."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", label.strip())
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise ValueError(f"not a season label like 2021-22: {label!r}")
    return int(m.group(1))


def season_year_from_nba_id_sql(col: str) -> str:
    """Season start year from digits 4-5 of the NBA id ('0022100001' -> 2021)."""
    return f"2000 + TRY_CAST(substr({col}, 4, 2) AS INTEGER)"


def season_year_from_date_sql(col: str) -> str:
    """Date rule, only for dates without a scheduled game: seasons start in autumn."""
    return f"CASE WHEN month({col}) >= 8 THEN year({col}) ELSE year({col}) - 1 END"
