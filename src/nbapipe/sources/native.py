"""Helpers shared by the loaders of the production sources' native formats (NBA.com, Ball
Don't Lie, BigDataBall and The Odds API JSON/CSV; see source-samples/ in the data folder).

Nothing here is a loader: the format modules (nbac_json, gamebook_json, bdl_json, bigdataball,
odds_api_json) import these pieces."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Col


def json_loader(**kw: Any) -> Loader:
    """A JSON Loader whose source fields may all be absent: a document with zero records (an
    empty day) then loads nothing instead of failing on a missing column."""
    loader = Loader(**kw)
    loader.optional = frozenset(loader.optional) | frozenset(
        s for c in loader.columns.values() for s in c.sources())
    return loader


# --- NBA.com stats responses {resource, parameters, resultSets: [{name, headers, rowSet}]} ---

def result_set(doc: dict, name: str) -> dict | None:
    for rs in doc.get("resultSets") or []:
        if isinstance(rs, dict) and rs.get("name") == name:
            return rs
    return None


def result_set_records(doc: dict, name: str) -> list[dict]:
    """The rows of one result set as {header: value} records."""
    rs = result_set(doc, name)
    if rs is None:
        return []
    headers = rs["headers"]
    return [dict(zip(headers, row)) for row in rs["rowSet"]]


def is_stats_resource(doc: Any, resource: str, result: str, needs: set[str]) -> bool:
    """An NBA.com stats response of `resource` whose result set `result` has the `needs` headers."""
    if not isinstance(doc, dict) or doc.get("resource") != resource:
        return False
    rs = result_set(doc, result)
    return rs is not None and needs <= set(rs.get("headers") or [])


# --- typed columns the generic specs do not cover -----------------------------------------

_MMSS = r"^[0-9]+:[0-9]{1,2}(\.[0-9]+)?$"          # '49:25', '7:28', '265:00'
_ISO = r"^PT([0-9]+)M([0-9.]+)S$"                   # 'PT49M25.00S' (NBA.com v3 feeds)


@dataclass(frozen=True)
class Minutes(Col):
    """Minutes played as decimal minutes from 'MM:SS', 'PTmmMss.ssS' or a plain number
    ('35', '35.5'). Rounded to 3 decimals, as the Basketball-Reference files write them, so
    the same player-game has the same minutes in every source."""

    def expr(self) -> str:
        t = self.text
        return (f"round(CASE WHEN regexp_matches({t}, '{_MMSS}') "
                f"THEN CAST(split_part({t}, ':', 1) AS DOUBLE) + CAST(split_part({t}, ':', 2) AS DOUBLE) / 60 "
                f"WHEN regexp_matches({t}, '{_ISO}') "
                f"THEN CAST(regexp_extract({t}, '{_ISO}', 1) AS DOUBLE) "
                f"+ CAST(regexp_extract({t}, '{_ISO}', 2) AS DOUBLE) / 60 "
                f"ELSE TRY_CAST({t} AS DOUBLE) END, 3)")

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"{self.text} IS NOT NULL AND ({self.expr()}) IS NULL",
                    f"'not a minutes value in column {self.src}: ' || {self.shown}"))
        out.append((f"({self.expr()}) < 0",
                    f"'impossible value in column {self.src}: ' || {self.shown} || ' (negative minutes)'"))
        return out


def american_odds_sql(price: str) -> str:
    """A price as American odds. The Odds API answers in decimal odds unless asked for
    American: American prices are never strictly between -100 and +100, decimal prices of
    NBA markets always are (1.01 .. ~50). Decimal d becomes +100(d-1) (d >= 2) or
    -100/(d-1) (d < 2), rounded to the integer: the books price in whole American odds and
    the decimal feed is that price rounded (-110 -> 1.91 -> -109.89 -> -110)."""
    return (f"CASE WHEN abs({price}) >= 100 THEN {price} "
            f"WHEN {price} >= 2 THEN round(({price} - 1) * 100) "
            f"WHEN {price} > 1 THEN round(-100 / ({price} - 1)) END")


def american_odds_check(price: str, src: str) -> tuple[str, str]:
    return (f"{price} IS NOT NULL AND ({american_odds_sql(price)}) IS NULL",
            f"'not an odds price in column {src}: ' || CAST({price} AS VARCHAR)")


def implied_probability_sql(american: str) -> str:
    """The bookmaker's implied probability of an American price (for picking main lines)."""
    return (f"CASE WHEN {american} < 0 THEN -{american} / (100.0 - {american}) "
            f"ELSE 100.0 / ({american} + 100.0) END")


# Shot zones as the shot-chart loader defines them (paint | mid_range | three), from the
# NBA.com basic zone text that the play-by-play feeds carry as `area`.
def shot_zone_sql(basic_zone: str) -> str:
    return (f"CASE {basic_zone} WHEN 'Restricted Area' THEN 'paint' "
            f"WHEN 'In The Paint (Non-RA)' THEN 'paint' WHEN 'Mid-Range' THEN 'mid_range' "
            f"WHEN 'Left Corner 3' THEN 'three' WHEN 'Right Corner 3' THEN 'three' "
            f"WHEN 'Above the Break 3' THEN 'three' WHEN 'Backcourt' THEN 'three' END")


def team_lookup_sql(expr: str) -> str:
    """The NBA tricode of any known team code/name expression (NULL when unknown); the same
    lookup as columns.Team, for values computed in the derived stage."""
    return f"(SELECT a.team_abbr FROM _team_alias a WHERE a.alias = {ids.team_alias_key_sql(expr)})"
