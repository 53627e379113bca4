"""NBA.com shot chart detail (the `shots/` folder), two layouts -> nbac_shot_chart.

Zones follow the issue's definition: paint = Restricted Area + In The Paint (Non-RA);
mid-range = Mid-Range; three = both corner threes, above the break and backcourt."""
from __future__ import annotations

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Bool, Date, Int, NbaGameId, Num, Team, Text

FAMILY = "nba_api"

ZONE = ("CASE shot_zone_basic WHEN 'Restricted Area' THEN 'paint' WHEN 'In The Paint (Non-RA)' "
        "THEN 'paint' WHEN 'Mid-Range' THEN 'mid_range' WHEN 'Left Corner 3' THEN 'three' "
        "WHEN 'Right Corner 3' THEN 'three' WHEN 'Above the Break 3' THEN 'three' "
        "WHEN 'Backcourt' THEN 'three' END")
ZONE_CHECK = (f"({ZONE}) IS NULL", "'unknown shot zone: ' || coalesce(shot_zone_basic, 'empty')")


def _common_derived() -> dict[str, str]:
    return {
        "game_id": ids.game_id_sql("game_date", "_away", "_home"),
        "season_year": ids.season_year_from_nba_id_sql("nba_game_id"),
        "game_type": ids.game_type_sql("nba_game_id"),
        "player_lookup": ids.player_lookup_sql("player_name"),
        "shot_zone": ZONE,
    }


shots_2021 = Loader(
    name="shots_detail_2021", family=FAMILY, table="nba_raw.nbac_shot_chart",
    description="shot chart, 2021-22 layout (has game_event_id and feet coordinates)",
    signature=frozenset({"nba_game_id", "game_event_id", "shot_zone_basic", "shot_made_flag"}),
    optional=frozenset({"loc_x_ft", "loc_y_ft", "action_type", "shot_distance_ft"}),
    columns={
        "nba_game_id": NbaGameId("nba_game_id", required=True),
        "game_date": Date("game_date", required=True),
        "_home": Team("home_team", required=True),
        "_away": Team("away_team", required=True),
        "team_abbr": Team("team_nba", required=True),
        "nba_player_id": Text("player_id"),
        "player_name": Text("player_name", required=True),
        "shot_key": Text("game_event_id", required=True),
        "period": Int("period"),
        "_min": Int("minutes_remaining"),
        "_sec": Int("seconds_remaining"),
        "action_type": Text("action_type"),
        "shot_made": Bool("shot_made_flag", required=True),
        "shot_value": Int("shot_value_derived"),
        "shot_zone_basic": Text("shot_zone_basic"),
        "shot_distance_ft": Num("shot_distance_ft", minimum=0),
        "loc_x_ft": Num("loc_x_ft", minimum=None),
        "loc_y_ft": Num("loc_y_ft", minimum=None),
    },
    derived={**_common_derived(), "seconds_remaining": "_min * 60 + _sec"},
    checks=[ZONE_CHECK],
)

# The 2022-23 and 2023-24 files have no event id: a shot is identified by its signature
# (time, shooter, spot, result) plus its order among identical signatures in the game.
_SIGNATURE = ["period", "_min", "_sec", "nba_player_id", "_x", "_y", "action_type", "shot_made"]
_SIG_TEXT = " || '|' || ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in _SIGNATURE)

shots_2022 = Loader(
    name="shots_detail_2022", family=FAMILY, table="nba_raw.nbac_shot_chart",
    description="shot chart, 2022-23 / 2023-24 layout (upper-case columns, MM-DD-YYYY dates)",
    signature=frozenset({"GAME_ID", "BASIC_ZONE", "SHOT_MADE", "PLAYER_ID"}),
    optional=frozenset({"ACTION_TYPE", "SHOT_DISTANCE"}),
    columns={
        "nba_game_id": NbaGameId("GAME_ID", required=True),
        "game_date": Date("GAME_DATE", fmt="%m-%d-%Y", required=True),
        "_home": Team("HOME_TEAM", required=True),
        "_away": Team("AWAY_TEAM", required=True),
        "team_abbr": Team("TEAM_NAME", required=True),
        "nba_player_id": Text("PLAYER_ID"),
        "player_name": Text("PLAYER_NAME", required=True),
        "period": Int("QUARTER"),
        "_min": Int("MINS_LEFT"),
        "_sec": Int("SECS_LEFT"),
        "action_type": Text("ACTION_TYPE"),
        "shot_made": Bool("SHOT_MADE", required=True),
        "_shot_type": Text("SHOT_TYPE"),
        "shot_zone_basic": Text("BASIC_ZONE"),
        "shot_distance_ft": Num("SHOT_DISTANCE", minimum=0),
        "_x": Num("LOC_X", minimum=None),
        "_y": Num("LOC_Y", minimum=None),
    },
    derived={
        **_common_derived(),
        "seconds_remaining": "_min * 60 + _sec",
        "loc_x_ft": "_x", "loc_y_ft": "_y",
        "shot_value": "CASE WHEN _shot_type LIKE '3PT%' THEN 3 WHEN _shot_type LIKE '2PT%' THEN 2 END",
        "_signature": _SIG_TEXT,
    },
    windows={"shot_key": "_signature || '#' || row_number() OVER (PARTITION BY nba_game_id, _signature ORDER BY __line)"},
    checks=[ZONE_CHECK],
)

LOADERS = [shots_2021, shots_2022]
