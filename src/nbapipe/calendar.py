"""Seasons, season starts, bootstrap windows and game dates, from the schedule.

Season start = the first regular-season game (2021-22: 2021-10-19; the guide's "Oct 15" is
preseason). A game's season comes from the schedule; the date rule (seasons start in autumn)
is only the fallback for dates without games. Preseason and All-Star games are not game dates.
The calendar is rebuilt at ingest into nba_reference and copied into the state store, where
tools that must not open the warehouse (monitor, status, orchestrator) read it."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from nbapipe.state import StateStore
from nbapipe.warehouse import Warehouse

LEAGUE_GAME_TYPES = ("regular", "play-in", "playoffs", "in-season-final")
# The state store's meta key naming the calendar's copy (copy_to_state), and the calendar this
# process last read per store location: (version, Calendar).
CALENDAR_VERSION = "calendar_version"
_READ: dict[str, tuple[str, "Calendar"]] = {}


def build_calendar(wh: Warehouse, bootstrap_days: int) -> None:
    types = ", ".join(f"'{t}'" for t in LEAGUE_GAME_TYPES)
    wh.execute(f"""
        CREATE OR REPLACE TABLE nba_reference.game_dates AS
        WITH games AS (SELECT * FROM nba_reference.schedule WHERE game_type IN ({types})),
        starts AS (SELECT season, min(game_date) FILTER (WHERE game_type = 'regular') AS season_start
                   FROM games GROUP BY season)
        SELECT g.game_date, g.season, count(*) AS games,
               list(DISTINCT g.game_type ORDER BY g.game_type) AS game_types,
               g.game_date < s.season_start + CAST(? AS INTEGER) AS is_bootstrap
        FROM games g JOIN starts s USING (season)
        GROUP BY g.game_date, g.season, s.season_start
        ORDER BY g.game_date""", [bootstrap_days])
    wh.execute(f"""
        CREATE OR REPLACE TABLE nba_reference.season_calendar AS
        WITH games AS (SELECT * FROM nba_reference.schedule WHERE game_type IN ({types}))
        SELECT season,
               min(season_year) AS season_year,
               min(game_date) FILTER (WHERE game_type = 'regular') AS season_start,
               max(game_date) FILTER (WHERE game_type = 'regular') AS regular_season_end,
               min(game_date) FILTER (WHERE game_type = 'regular') + CAST(? AS INTEGER) - 1 AS bootstrap_end,
               CAST(? AS INTEGER) AS bootstrap_days,
               min(game_date) AS first_game_date,
               max(game_date) AS last_game_date,
               count(DISTINCT game_date) AS game_date_count,
               count(*) AS games,
               list(DISTINCT game_date ORDER BY game_date) FILTER (WHERE game_type = 'play-in') AS play_in_dates,
               list(DISTINCT game_date ORDER BY game_date) FILTER (WHERE game_type = 'playoffs') AS playoff_dates,
               list(DISTINCT game_date ORDER BY game_date) FILTER (WHERE game_type = 'in-season-final') AS in_season_final_dates,
               -- a season is complete when every scheduled game has a final score
               count(*) FILTER (WHERE home_team_score IS NULL) = 0 AS complete
        FROM games GROUP BY season ORDER BY season""", [bootstrap_days, bootstrap_days])


def copy_to_state(wh: Warehouse, st: StateStore) -> None:
    seasons = wh.rows("SELECT season, season_year, season_start, regular_season_end, bootstrap_end, "
                      "bootstrap_days, first_game_date, last_game_date, game_date_count, complete "
                      "FROM nba_reference.season_calendar")
    dates = wh.rows("SELECT game_date, season, games, array_to_string(game_types, ',') AS game_types, "
                    "is_bootstrap FROM nba_reference.game_dates")
    with st.tx() as con:
        con.execute("DELETE FROM calendar_seasons")
        con.execute("DELETE FROM calendar_dates")
        con.executemany("INSERT INTO calendar_seasons VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [[_iso(v) for v in r.values()] for r in seasons])
        con.executemany("INSERT INTO calendar_dates VALUES (?, ?, ?, ?, ?)",
                        [[_iso(v) for v in r.values()] for r in dates])
        # A new version with every copy: readers keep the calendar they read until it changes.
        st.set_meta(con, CALENDAR_VERSION, uuid.uuid4().hex)


def _iso(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


@dataclass(frozen=True)
class Calendar:
    """The calendar as the runner and the tools see it (read from the state store)."""
    seasons: dict[str, dict]
    dates: dict[dt.date, dict]

    @classmethod
    def from_state(cls, st: StateStore) -> "Calendar":
        """The calendar of the state store: read again only when its version changed since this
        process last read it (a daily morning plans ~6 runs: one 3 ms read each, ~600 rows)."""
        version = st.get_meta(CALENDAR_VERSION)
        kept = _READ.get(str(st.location))
        if version is not None and kept is not None and kept[0] == version:
            return kept[1]
        seasons = {r["season"]: r for r in st.rows("SELECT * FROM calendar_seasons ORDER BY season")}
        dates = {dt.date.fromisoformat(r["game_date"]): r
                 for r in st.rows("SELECT * FROM calendar_dates ORDER BY game_date")}
        cal = cls(seasons, dates)
        if version is not None:     # a calendar written without one (an older home) is read every time
            _READ[str(st.location)] = (version, cal)
        return cal

    def is_game_date(self, d: dt.date) -> bool:
        return d in self.dates

    def is_bootstrap(self, d: dt.date) -> bool:
        r = self.dates.get(d)
        return bool(r and r["is_bootstrap"])

    def season_of(self, d: dt.date) -> str:
        r = self.dates.get(d)
        if r:
            return r["season"]
        for s in self.seasons.values():
            if s["first_game_date"] <= d.isoformat() <= s["last_game_date"]:
                return s["season"]
        y = d.year if d.month >= 8 else d.year - 1
        return f"{y}-{(y + 1) % 100:02d}"

    def season_dates(self, season: str) -> tuple[dt.date, dt.date]:
        s = self.seasons.get(season)
        if not s:
            known = ", ".join(self.seasons) or "none (run nbapipe ingest)"
            raise KeyError(f"season {season!r} is not in the calendar; known seasons: {known}")
        return dt.date.fromisoformat(s["first_game_date"]), dt.date.fromisoformat(s["last_game_date"])

    def game_dates(self, start: dt.date, end: dt.date) -> list[dt.date]:
        return [d for d in self.dates if start <= d <= end]


def season_rows(st: StateStore, season: str | None = None) -> list[dict]:
    """The calendar of one or all seasons, from the state store copy (JSON-ready)."""
    seasons = st.rows("SELECT * FROM calendar_seasons WHERE ? IS NULL OR season = ? ORDER BY season",
                      [season, season])
    out = []
    for s in seasons:
        dates = st.rows("SELECT game_date, game_types, is_bootstrap FROM calendar_dates "
                        "WHERE season = ? ORDER BY game_date", [s["season"]])

        def with_type(t: str) -> list[str]:
            return [d["game_date"] for d in dates if t in d["game_types"].split(",")]

        out.append({
            "season": s["season"], "season_year": s["season_year"],
            "season_start": s["season_start"], "regular_season_end": s["regular_season_end"],
            "bootstrap_days": s["bootstrap_days"], "bootstrap_end": s["bootstrap_end"],
            "bootstrap_dates": [d["game_date"] for d in dates if d["is_bootstrap"]],
            "first_game_date": s["first_game_date"], "last_game_date": s["last_game_date"],
            "game_date_count": s["game_date_count"],
            "play_in_dates": with_type("play-in"), "playoff_dates": with_type("playoffs"),
            "in_season_final_dates": with_type("in-season-final"),
            "complete": bool(s["complete"]),
        })
    return out


# --- date lists in words (the one formatter every tool uses) --------------------------------

def date_runs(ds) -> str:
    """Dates (ISO strings or dates) as their runs of consecutive days: `2021-10-15..2021-10-18`
    is every day between, `2021-10-26, 2021-10-28` two dates. `..` never bridges a gap: with
    more than three runs, the first and last date and how many separate spans there are."""
    days = sorted({d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in ds})
    runs: list[list[dt.date]] = []
    for d in days:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    if len(runs) > 3:
        return f"first {days[0]}, last {days[-1]}, in {len(runs)} separate spans"
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def dates_text(ds) -> str:
    """A date list with its count when it is longer than three: `12 dates (2021-11-01..2021-11-12)`."""
    ds = list(ds)
    return date_runs(ds) if len(ds) <= 3 else f"{len(ds)} dates ({date_runs(ds)})"
