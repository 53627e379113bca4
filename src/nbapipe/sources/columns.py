"""Typed column specs for loaders: each turns a raw text column into a typed SQL expression
plus the checks that send a bad value to quarantine (with a reason a person can act on).

Loaders read every source column as text, so a bad cell never fails a whole file: the typed
expression yields NULL and the check names the column and the value."""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from nbapipe import ids


def q(col: str) -> str:
    """Quote a source column name for DuckDB."""
    return '"' + col.replace('"', '""') + '"'


def raw(col: str, pre: str = "{}") -> str:
    """The trimmed source text (after the SQL template `pre`), NULL when empty."""
    return f"NULLIF(trim({pre.format(q(col))}), '')"


@dataclass(frozen=True)
class Col:
    """A target column computed from source column `src`; `pre` is an SQL template applied to
    the text first (e.g. the part of 'BOS @ NYK' after the '@')."""
    src: str
    required: bool = False
    pre: str = "{}"
    # Where the text is already computed: Loader._stage computes every column's text once, in
    # a layer before the typed values, so value and checks read a column, not the expression
    # again (smaller expressions: DuckDB plans and runs them faster).
    text_column: str | None = None

    @property
    def text(self) -> str:
        return self.text_column or raw(self.src, self.pre)

    def reading(self, text_column: str) -> Col:
        """This spec with its text read from `text_column`."""
        return dataclasses.replace(self, text_column=text_column)

    @property
    def shown(self) -> str:
        return "'''' || " + self.text + " || ''''"

    def expr(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def checks(self, target: str) -> list[tuple[str, str]]:
        """(condition that marks the row bad, reason expression) pairs."""
        out = []
        if self.required:
            out.append((f"{self.text} IS NULL", f"'missing value in column {self.src}'"))
        return out

    def sources(self) -> set[str]:
        return {self.src}

    def joins(self) -> list[str]:
        """Joins of the file the value reads (a lookup table)."""
        return []


@dataclass(frozen=True)
class Text(Col):
    def expr(self) -> str:
        return self.text


@dataclass(frozen=True)
class Num(Col):
    """A number; `minimum` rejects impossible values (negative points, negative minutes)."""
    minimum: float | None = None
    sql_type: str = "DOUBLE"

    def _double(self) -> str:
        # Thousands separators do not occur in these sources; a '1,234' is text, not a number.
        return f"TRY_CAST({self.text} AS DOUBLE)"

    def expr(self) -> str:
        if self.sql_type == "DOUBLE":
            return self._double()
        return f"TRY_CAST(round({self._double()}) AS {self.sql_type})"

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND {self._double()} IS NULL",
                    f"'text in number column {self.src}: ' || {self.shown}"))
        if self.minimum is not None:
            out.append((f"{self._double()} < {self.minimum}",
                        f"'impossible value in column {self.src}: ' || {self.text} "
                        f"|| ' (below {self.minimum:g})'"))
        return out


def Int(src: str, minimum: float | None = 0, required: bool = False, pre: str = "{}") -> Num:
    """A count (never negative unless minimum=None)."""
    return Num(src, required=required, pre=pre, minimum=minimum, sql_type="INTEGER")


@dataclass(frozen=True)
class Date(Col):
    fmt: str = "%Y-%m-%d"

    def expr(self) -> str:
        return f"TRY_CAST(TRY_STRPTIME({self.text}, '{self.fmt}') AS DATE)"

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND {self.expr()} IS NULL",
                    f"'impossible date in column {self.src}: ' || {self.shown}"))
        return out


@dataclass(frozen=True)
class Timestamp(Col):
    """A timestamp with or without offset ('2025-10-21T17:00:00Z', '2021-10-31 13:12:11 -0500'),
    stored as naive UTC (the warehouse session runs in UTC)."""

    def expr(self) -> str:
        return (f"CAST(coalesce(TRY_CAST({self.text} AS TIMESTAMPTZ), "
                f"TRY_STRPTIME({self.text}, '%Y-%m-%d %H:%M:%S %z')) AS TIMESTAMP)")

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND {self.expr()} IS NULL",
                    f"'impossible timestamp in column {self.src}: ' || {self.shown}"))
        return out


@dataclass(frozen=True)
class Team(Col):
    """Any known team code or name, mapped to the NBA tricode (table _team_alias). The file is
    joined to the tricode of each of its distinct source values (joins), so the value and its
    check read one lookup, and the text is normalised once per distinct value, not per row
    (a scalar subquery per use cost DuckDB a join over every column staged so far)."""

    @property
    def _alias(self) -> str:      # one join per source column and template, named after them
        return "_team_" + hashlib.md5(f"{self.src}\0{self.pre}".encode()).hexdigest()[:10]

    def joins(self) -> list[str]:
        a, col = self._alias, q(self.src)
        return [f"LEFT JOIN (SELECT d.{col} AS {a}_raw, t.team_abbr AS {a}_abbr "
                f"FROM (SELECT DISTINCT {col} FROM src) d JOIN _team_alias t "
                f"ON t.alias = {ids.team_alias_key_sql(raw(self.src, self.pre))}) {a} ON {a}.{a}_raw = {col}"]

    def expr(self) -> str:
        return f"{self._alias}.{self._alias}_abbr"

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND {self.expr()} IS NULL",
                    f"'unknown team in column {self.src}: ' || {self.shown}"))
        return out


@dataclass(frozen=True)
class NbaGameId(Col):
    def expr(self) -> str:
        return ids.nba_game_id_sql(self.text)

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND {self.expr()} IS NULL",
                    f"'not an NBA game id in column {self.src}: ' || {self.shown}"))
        return out


@dataclass(frozen=True)
class Bool(Col):
    def expr(self) -> str:
        return (f"CASE lower({self.text}) WHEN 'true' THEN true WHEN '1' THEN true "
                f"WHEN '1.0' THEN true WHEN 'false' THEN false WHEN '0' THEN false "
                f"WHEN '0.0' THEN false END")

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND ({self.expr()}) IS NULL",
                    f"'not a true/false value in column {self.src}: ' || {self.shown}"))
        return out


@dataclass(frozen=True)
class Sql(Col):
    """A raw SQL expression over source columns (for what the typed specs do not cover)."""
    sql: str = ""
    uses: tuple[str, ...] = ()

    def expr(self) -> str:
        return self.sql

    def sources(self) -> set[str]:
        return set(self.uses)


def sql(expression: str, *uses: str) -> Sql:
    return Sql(src="", sql=expression, uses=tuple(uses))


def et_date(utc_ts: str) -> str:
    """The US Eastern date of a naive-UTC timestamp expression (game dates are Eastern)."""
    return f"CAST(timezone('America/New_York', CAST({utc_ts} AS TIMESTAMPTZ)) AS DATE)"


# --- layouts by meaning ----------------------------------------------------------------------
# Other names files give a loader's column: a loader that needs the key and finds none of its
# own name takes the first synonym the file has (and does not itself need under that name).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "over_odds": ("over_price", "over_american", "odds_over"),
    "under_odds": ("under_price", "under_american", "odds_under"),
    "over_price": ("over_odds",),
    "under_price": ("under_odds",),
    "event_id": ("odds_api_event_id", "oddsapi_event_id"),
    "game_date_et": ("game_date", "event_date", "date"),
    "event_date": ("game_date_et", "game_date", "date"),
    "commence_time": ("game_time", "tipoff_utc", "start_time_utc", "tip_off_utc"),
    "game_time": ("commence_time", "tipoff_utc", "start_time_utc", "tip_off_utc"),
    "snapshot_utc": ("snapshot_at", "snapshot_time", "snapshot_timestamp"),
    "bookmaker": ("book", "sportsbook", "bookmaker_key"),
    "player": ("player_name", "description"),
    "player_name": ("player",),
    "line": ("point", "points_line"),
}
# A long layout: one row per side, the side's name and its American price.
LONG_SIDE = ("side", "outcome", "over_under")
LONG_PRICE = ("american_odds", "odds", "price")
# The wide columns a long file's sides become (the loader's own names).
PRICE_PAIRS = (("over_odds", "under_odds"), ("over_price", "under_price"))
