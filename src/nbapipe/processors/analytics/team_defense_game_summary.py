from nbapipe.processors.base import EXPECTED_TEAM_GAMES, Input, processor

PROCESSOR = processor(
    __name__,
    name="team_defense_game_summary", phase=3,
    table="nba_analytics.team_defense_game_summary", key=("game_date", "defending_team_abbr"),
    description="The opponent's offence seen from the defending team, plus steals/blocks/rebounds",
    inputs=(
        Input("team_offense_game_summary"),                 # both teams' offence of the game
        Input("chain:player_boxscores", required=False),    # steals/blocks/dreb from player rows
    ),
    expected_sql=EXPECTED_TEAM_GAMES,
)
