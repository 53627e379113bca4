"""The Odds API event JSON (source-samples/odds_api_historical_game_lines, oddsa_player_props_his).

An event is {id, commence_time, home_team, away_team, bookmakers: [{key, last_update,
markets: [{key, last_update, outcomes}]}]}; the historical endpoint wraps it as
{timestamp, previous_timestamp, next_timestamp, data: event}. Both forms are read; the
snapshot time is the wrapper's timestamp, else the market's / bookmaker's last_update.
Files are recognised by the markets they hold, not by folder: a "player props" folder file
holding spreads and totals is a game-lines document.

- game lines (h2h, spreads, totals) -> odds_api_game_lines, one row per (game, bookmaker,
  snapshot). One loader per market, each writing only its own columns, so documents that
  split one snapshot's markets (moneylines in one file, spreads + totals in another) fill
  the same row instead of overwriting each other with NULLs.
- player props (player_points*, player_rebounds, ...) -> odds_api_player_points_props and
  odds_api_player_props, Over/Under paired into one row per player, book, line and snapshot.

Prices: the API answers in decimal odds unless asked for American; the tables hold American
odds (as every other odds source here), converted by native.american_odds_sql. Spread and
total prices have no column and are not kept.
"""
from __future__ import annotations

from typing import Any, Callable

from nbapipe import ids
from nbapipe.sources.columns import Bool, Num, Team, Text, Timestamp, et_date
from nbapipe.sources.native import (american_odds_check, american_odds_sql,
                                    implied_probability_sql, json_loader)
# odds_api_player_props has a key column named `line`, which base.Loader's duplicate check
# cannot take yet; props.py carries the one workaround.

FAMILY = "odds_api"


def _event(doc: Any) -> tuple[dict, str | None]:
    """The event and the snapshot time of a wrapped ({timestamp, data}) or bare event."""
    if isinstance(doc.get("data"), dict):
        return doc["data"], doc.get("timestamp")
    return doc, None


def _market_keys(doc: Any) -> set[str]:
    event, _ = _event(doc)
    if not (event["commence_time"] and event["home_team"] and event["away_team"]):
        return set()
    return {m["key"] for b in event["bookmakers"] for m in b["markets"]}


def _event_fields(event: dict) -> dict:
    return {"event_id": event.get("id"), "commence_time": event.get("commence_time"),
            "home_team": event.get("home_team"), "away_team": event.get("away_team")}


# --- game lines -------------------------------------------------------------------------------

def _line_records(market: str) -> Callable[[dict], list[dict]]:
    """One record per bookmaker quoting `market`: the home/away price and point, the Over point."""
    def records(doc: dict) -> list[dict]:
        event, snapshot = _event(doc)
        out = []
        for book in event.get("bookmakers") or []:
            for m in book.get("markets") or []:
                if m.get("key") != market:
                    continue
                by_name = {o.get("name"): o for o in m.get("outcomes") or []}
                home, away = by_name.get(event["home_team"], {}), by_name.get(event["away_team"], {})
                total = by_name.get("Over") or by_name.get("Under") or {}
                out.append({**_event_fields(event), "bookmaker": book.get("key"),
                             "snapshot": snapshot or book.get("last_update"),
                             "home_price": home.get("price"), "away_price": away.get("price"),
                             "home_point": home.get("point"), "total_point": total.get("point")})
        return out
    return records


_GAME = {
    "_commence": Timestamp("commence_time", required=True),
    "away_team_abbr": Team("away_team", required=True),
    "home_team_abbr": Team("home_team", required=True),
    "bookmaker": Text("bookmaker", required=True),
    "snapshot_at": Timestamp("snapshot", required=True),
}
_GAME_DERIVED = {
    "game_date": et_date("_commence"),
    "game_id": ids.game_id_sql(et_date("_commence"), "away_team_abbr", "home_team_abbr"),
}


def _lines_loader(market: str, description: str, columns: dict, derived: dict,
                  checks: list | None = None):
    return json_loader(
        name=f"odds_api_game_lines_{market}", family=FAMILY, table="nba_raw.odds_api_game_lines",
        description=description,
        matches=lambda doc: market in _market_keys(doc),
        records=_line_records(market),
        columns={**_GAME, **columns}, derived={**_GAME_DERIVED, **derived}, checks=checks or [],
    )


moneylines = _lines_loader(
    "h2h", "The Odds API game moneylines (h2h), decimal or American prices -> American",
    columns={"_home_price": Num("home_price", minimum=None),
             "_away_price": Num("away_price", minimum=None)},
    derived={"home_moneyline": american_odds_sql("_home_price"),
             "away_moneyline": american_odds_sql("_away_price")},
    checks=[american_odds_check("_home_price", "home_price"),
            american_odds_check("_away_price", "away_price")],
)
spreads = _lines_loader(
    "spreads", "The Odds API game spreads (the home team's point)",
    columns={"home_spread": Num("home_point", minimum=None)}, derived={},
)
totals = _lines_loader(
    "totals", "The Odds API game totals (the Over/Under point)",
    columns={"total": Num("total_point", minimum=0)}, derived={},
)


# --- player props ------------------------------------------------------------------------------

def _base_market(key: str) -> str:
    return key.removesuffix("_alternate")


def _prop_records(wanted: Callable[[str], bool]) -> Callable[[dict], list[dict]]:
    """Outcomes of the wanted player markets paired into one record per (book, market, player,
    line); main markets before their _alternate ladders."""
    def records(doc: dict) -> list[dict]:
        event, snapshot = _event(doc)
        out = []
        for book in event.get("bookmakers") or []:
            markets = [m for m in book.get("markets") or [] if wanted(_base_market(m.get("key", "")))]
            markets.sort(key=lambda m: m["key"].endswith("_alternate"))
            for m in markets:
                pairs: dict[tuple, dict] = {}
                for o in m.get("outcomes") or []:
                    rec = pairs.setdefault((o.get("description"), o.get("point")), {
                        **_event_fields(event), "bookmaker": book.get("key"),
                        "snapshot": snapshot or m.get("last_update") or book.get("last_update"),
                        "market": _base_market(m["key"]), "alternate": m["key"].endswith("_alternate"),
                        "player": o.get("description"), "line": o.get("point"),
                        "over_price": None, "under_price": None})
                    side = str(o.get("name", "")).lower()
                    if side in ("over", "under"):
                        rec[f"{side}_price"] = o.get("price")
                out.extend(pairs.values())
        return out
    return records


def _is_points(market: str) -> bool:
    return market == "player_points"


def _is_other_prop(market: str) -> bool:
    return market.startswith("player_") and market != "player_points"


def _props_loader(name: str, table: str, wanted: Callable[[str], bool], line_col: str,
                  market_col: str, description: str):
    # A book's main line for a player is the one its standard market quotes; should it quote
    # several, the most balanced one (Over and Under closest in implied probability).
    over, under = american_odds_sql("_over"), american_odds_sql("_under")
    balance = f"abs(({implied_probability_sql(over)}) - ({implied_probability_sql(under)}))"
    main = (f"CASE WHEN _alt THEN false ELSE row_number() OVER (PARTITION BY event_id, bookmaker, "
            f"{market_col}, player_lookup, snapshot_at, _alt ORDER BY {balance} NULLS LAST, "
            f"{line_col}) = 1 END")
    return json_loader(
        name=name, family=FAMILY, table=table, description=description,
        matches=lambda doc: any(wanted(_base_market(k)) for k in _market_keys(doc)),
        records=_prop_records(wanted),
        columns={
            "event_id": Text("event_id"),
            "commence_time": Timestamp("commence_time", required=True),
            "away_team_abbr": Team("away_team", required=True),
            "home_team_abbr": Team("home_team", required=True),
            "bookmaker": Text("bookmaker", required=True),
            "snapshot_at": Timestamp("snapshot", required=True),
            market_col: Text("market", required=True),
            "_alt": Bool("alternate"),
            "player_name": Text("player", required=True),
            line_col: Num("line", minimum=0, required=True),
            "_over": Num("over_price", minimum=None),
            "_under": Num("under_price", minimum=None),
        },
        derived={
            "game_date": et_date("commence_time"),
            "game_id": ids.game_id_sql(et_date("commence_time"), "away_team_abbr", "home_team_abbr"),
            "player_lookup": ids.player_lookup_sql("player_name"),
            "over_price": over,
            "under_price": under,
            "is_main_line": main,
        },
        checks=[american_odds_check("_over", "over_price"), american_odds_check("_under", "under_price")],
    )


points_props = _props_loader(
    "odds_api_player_points_props", "nba_raw.odds_api_player_points_props", _is_points,
    line_col="points_line", market_col="_market",
    description="The Odds API player_points (and _alternate) Over/Under lines",
)
other_props = _props_loader(
    "odds_api_player_props", "nba_raw.odds_api_player_props", _is_other_prop,
    line_col="line", market_col="market",
    description="The Odds API player prop markets other than points (rebounds, assists, ...)",
)

LOADERS = [moneylines, spreads, totals, points_props, other_props]
