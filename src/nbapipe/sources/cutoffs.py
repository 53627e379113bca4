"""What the daily run could have known: the cut-off of every raw table, in one place (issue 16).

`nbapipe replay` makes a past range visible day by day: on the morning of day D a raw table
shows only the rows its rule admits for D. The rules are those of the live cycle:
  before    rows dated strictly before D (box scores, logs, shots, play-by-play: they exist
            after the games, so last night's arrive on the morning of D); `pregame` admits
            D's own rows that are published before tip-off (the official inactive list: teams
            name their inactive players before the game, and the injury report's "out" list
            says the same through the day)
  through   rows dated D or earlier (the day's lines and reports, published before tip-off);
            `also` narrows them (a lines snapshot taken after tip-off is not visible)
  always    the whole table from the start (the season's schedule is published in advance)
A raw table with no rule here is not replayed (it stays empty in the replay home): add its
rule when a processor starts reading it. Reference tables (teams, crosswalks, the player
registry, the schedule view) are rebuilt from the raw tables and are static in a replay."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Cutoff:
    column: str | None      # the table's date column (None: `always`)
    rule: str               # before | through | always
    why: str
    also: str = ""          # an extra SQL predicate on the row (always applied)
    pregame: str = ""       # `before` only: D's own rows published before tip-off

    def visible(self) -> str:
        """SQL predicate on a row: visible on the morning of the bound date `?`."""
        extra = f" AND ({self.also})" if self.also else ""
        if self.rule == "always":
            return "true" + extra
        if self.pregame:
            return (f"({self.column} < CAST(? AS DATE) OR ({self.column} = CAST(? AS DATE) "
                    f"AND ({self.pregame}))){extra}")
        op = "<" if self.rule == "before" else "<="
        return f"{self.column} {op} CAST(? AS DATE){extra}"

    def params(self, day: dt.date) -> list:
        if self.rule == "always":
            return []
        return [day, day] if self.pregame else [day]

    def completes(self, d: dt.date, day: dt.date) -> bool:
        """Whether rows of date `d` made visible on the morning of `day` complete that date
        (a Phase 2 completion): not D's own pre-game rows of a `before` table, which are not
        yet its box score."""
        return not (self.rule == "before" and d >= day)


BOX = "box scores exist once the games are over: earlier dates only"
PREGAME_LINES = "snapshot_at < commence_time OR commence_time IS NULL"

CUTOFFS: dict[str, Cutoff] = {
    "nba_raw.nbac_schedule": Cutoff(None, "always", "the schedule is published before the season"),
    "nba_raw.nbac_gamebook_player_stats": Cutoff("game_date", "before", BOX + "; the date's inactive list "
                                                  "before tip-off", pregame="player_status = 'inactive'"),
    "nba_raw.nbac_player_boxscores": Cutoff("game_date", "before", BOX),
    "nba_raw.bdl_player_boxscores": Cutoff("game_date", "before", BOX),
    "nba_raw.nbac_team_boxscore": Cutoff("game_date", "before", BOX),
    "nba_raw.nbac_team_game_logs": Cutoff("game_date", "before", BOX),
    "nba_raw.nbac_shot_chart": Cutoff("game_date", "before", BOX),
    "nba_raw.bigdataball_play_by_play": Cutoff("game_date", "before", BOX),
    "nba_raw.nbac_play_by_play": Cutoff("game_date", "before", BOX),
    "nba_raw.odds_api_player_points_props": Cutoff("game_date", "through", "lines snapped before tip-off",
                                                   also=PREGAME_LINES),
    "nba_raw.bettingpros_player_points_props": Cutoff("game_date", "through", "lines snapped before tip-off",
                                                      also=PREGAME_LINES),
    "nba_raw.odds_api_player_props": Cutoff("game_date", "through", "lines snapped before tip-off",
                                            also=PREGAME_LINES),
    "nba_raw.odds_api_game_lines": Cutoff("game_date", "through", "game lines of the day, before tip-off"),
    "nba_raw.injury_transactions": Cutoff("transaction_date", "before", "transactions dated before the games"),
    "nba_raw.nbac_injury_report": Cutoff("report_date", "through", "the day's injury report, before tip-off"),
}
