-- Phase 2 raw tables and reference tables. Created idempotently by `Warehouse.ensure_schema`.
-- Each table's natural key is the `-- key:` line above it; loaders upsert on it and the
-- validation tools check it. Raw tables keep every source's rows (data_source is part of the
-- key); Phase 3 picks one source per game by the fallback chains in processors/.
-- Every raw row carries data_source (the loader family), source_file and ingested_at.

-- key: nba_game_id, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_schedule (
    game_id            VARCHAR,     -- YYYYMMDD_AWAY_HOME
    nba_game_id        VARCHAR,     -- 10-character NBA.com id
    bbref_game_id      VARCHAR,
    season             VARCHAR,     -- '2021-22'
    season_year        INTEGER,     -- 2021 for 2021-22
    game_type          VARCHAR,     -- preseason | regular | play-in | playoffs | in-season-final | all-star
    game_date          DATE,        -- US Eastern date
    game_time_et       VARCHAR,
    away_team_abbr     VARCHAR,
    home_team_abbr     VARCHAR,
    away_team_score    INTEGER,
    home_team_score    INTEGER,
    overtime_periods   INTEGER,
    neutral_site       BOOLEAN,
    arena              VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, player_lookup, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_gamebook_player_stats (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    season_year        INTEGER,
    game_type          VARCHAR,
    team_abbr          VARCHAR,
    opponent_team_abbr VARCHAR,
    home_away          VARCHAR,     -- home | away
    player_lookup      VARCHAR,
    player_name        VARCHAR,
    bbref_player_id    VARCHAR,
    nba_player_id      VARCHAR,
    player_status      VARCHAR,     -- active | dnp | inactive
    dnp_reason         VARCHAR,     -- the status text for dnp / inactive players
    starter_flag       BOOLEAN,
    minutes_played     DOUBLE,      -- decimal minutes
    points             INTEGER,
    fg_makes           INTEGER,
    fg_attempts        INTEGER,
    three_pt_makes     INTEGER,
    three_pt_attempts  INTEGER,
    ft_makes           INTEGER,
    ft_attempts        INTEGER,
    offensive_rebounds INTEGER,
    defensive_rebounds INTEGER,
    total_rebounds     INTEGER,
    assists            INTEGER,
    steals             INTEGER,
    blocks             INTEGER,
    turnovers          INTEGER,
    personal_fouls     INTEGER,
    plus_minus         INTEGER,
    bbref_usage_rate   DOUBLE,      -- Basketball-Reference usg_pct (percent), kept for checks
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, team_abbr, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_team_boxscore (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    season_year        INTEGER,
    game_type          VARCHAR,
    team_abbr          VARCHAR,
    opponent_team_abbr VARCHAR,
    home_away          VARCHAR,
    win_flag           BOOLEAN,
    minutes            INTEGER,     -- team minutes: 240 + 25 per overtime
    points             INTEGER,
    fg_makes           INTEGER,
    fg_attempts        INTEGER,
    three_pt_makes     INTEGER,
    three_pt_attempts  INTEGER,
    ft_makes           INTEGER,
    ft_attempts        INTEGER,
    offensive_rebounds INTEGER,
    defensive_rebounds INTEGER,
    total_rebounds     INTEGER,
    assists            INTEGER,
    steals             INTEGER,
    blocks             INTEGER,
    turnovers          INTEGER,
    personal_fouls     INTEGER,
    q1_points          INTEGER,     -- from the line scores
    q2_points          INTEGER,
    q3_points          INTEGER,
    q4_points          INTEGER,
    ot_points          INTEGER,
    overtime_periods   INTEGER,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, team_abbr, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_team_game_logs (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    season_year        INTEGER,
    game_type          VARCHAR,
    team_abbr          VARCHAR,
    opponent_team_abbr VARCHAR,
    home_away          VARCHAR,
    win_flag           BOOLEAN,
    minutes            INTEGER,
    points             INTEGER,
    fg_makes           INTEGER,
    fg_attempts        INTEGER,
    three_pt_makes     INTEGER,
    three_pt_attempts  INTEGER,
    ft_makes           INTEGER,
    ft_attempts        INTEGER,
    offensive_rebounds INTEGER,
    defensive_rebounds INTEGER,
    total_rebounds     INTEGER,
    assists            INTEGER,
    steals             INTEGER,
    blocks             INTEGER,
    turnovers          INTEGER,
    personal_fouls     INTEGER,
    plus_minus         INTEGER,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, player_lookup, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_player_boxscores (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    season_year        INTEGER,
    game_type          VARCHAR,
    team_abbr          VARCHAR,
    opponent_team_abbr VARCHAR,
    home_away          VARCHAR,
    player_lookup      VARCHAR,
    player_name        VARCHAR,
    nba_player_id      VARCHAR,
    starter_flag       BOOLEAN,
    minutes_played     DOUBLE,
    points             INTEGER,
    fg_makes           INTEGER,
    fg_attempts        INTEGER,
    three_pt_makes     INTEGER,
    three_pt_attempts  INTEGER,
    ft_makes           INTEGER,
    ft_attempts        INTEGER,
    offensive_rebounds INTEGER,
    defensive_rebounds INTEGER,
    total_rebounds     INTEGER,
    assists            INTEGER,
    steals             INTEGER,
    blocks             INTEGER,
    turnovers          INTEGER,
    personal_fouls     INTEGER,
    plus_minus         INTEGER,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, player_lookup, data_source
CREATE TABLE IF NOT EXISTS nba_raw.bdl_player_boxscores (
    game_id            VARCHAR,
    bdl_game_id        VARCHAR,
    game_date          DATE,
    season_year        INTEGER,
    game_type          VARCHAR,
    team_abbr          VARCHAR,
    opponent_team_abbr VARCHAR,
    home_away          VARCHAR,
    player_lookup      VARCHAR,
    player_name        VARCHAR,
    bdl_player_id      VARCHAR,
    minutes_played     DOUBLE,
    points             INTEGER,
    fg_makes           INTEGER,
    fg_attempts        INTEGER,
    three_pt_makes     INTEGER,
    three_pt_attempts  INTEGER,
    ft_makes           INTEGER,
    ft_attempts        INTEGER,
    offensive_rebounds INTEGER,
    defensive_rebounds INTEGER,
    total_rebounds     INTEGER,
    assists            INTEGER,
    steals             INTEGER,
    blocks             INTEGER,
    turnovers          INTEGER,
    personal_fouls     INTEGER,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: nba_game_id, shot_key, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_shot_chart (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    season_year        INTEGER,
    game_type          VARCHAR,
    shot_key           VARCHAR,     -- game_event_id where the layout has one, else a stable event signature
    team_abbr          VARCHAR,
    player_lookup      VARCHAR,
    player_name        VARCHAR,
    nba_player_id      VARCHAR,
    period             INTEGER,
    seconds_remaining  INTEGER,     -- in the period
    action_type        VARCHAR,
    shot_value         INTEGER,     -- 2 or 3
    shot_made          BOOLEAN,
    shot_zone_basic    VARCHAR,     -- NBA.com basic zone
    shot_zone          VARCHAR,     -- paint | mid_range | three
    shot_distance_ft   DOUBLE,
    loc_x_ft           DOUBLE,
    loc_y_ft           DOUBLE,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, event_number, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_play_by_play (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    event_number       INTEGER,
    period             INTEGER,
    clock              VARCHAR,
    team_abbr          VARCHAR,
    player_lookup      VARCHAR,     -- NULL for NBA.com live feeds (they name players 'I. Zubac')
    player_name        VARCHAR,
    nba_player_id      VARCHAR,     -- NBA person id: links play-by-play players to box scores
    action_type        VARCHAR,
    sub_type           VARCHAR,
    shot_made          BOOLEAN,
    shot_value         INTEGER,
    shot_zone          VARCHAR,
    shot_distance_ft   DOUBLE,
    score_home         INTEGER,
    score_away         INTEGER,
    description        VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, event_number, data_source
CREATE TABLE IF NOT EXISTS nba_raw.bigdataball_play_by_play (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    event_number       INTEGER,
    period             INTEGER,
    remaining_time     VARCHAR,
    team_abbr          VARCHAR,
    player_lookup      VARCHAR,
    player_name        VARCHAR,
    event_type         VARCHAR,
    shot_type          VARCHAR,
    shot_made          BOOLEAN,
    points             INTEGER,
    shot_distance_ft   DOUBLE,
    away_score         INTEGER,
    home_score         INTEGER,
    description        VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: game_id, bookmaker, player_lookup, snapshot_at, points_line, data_source
CREATE TABLE IF NOT EXISTS nba_raw.odds_api_player_points_props (
    game_id            VARCHAR,
    game_date          DATE,        -- US Eastern date of tip-off
    event_id           VARCHAR,
    commence_time      TIMESTAMP,   -- tip-off, UTC
    snapshot_at        TIMESTAMP,   -- when the line was seen, UTC
    bookmaker          VARCHAR,
    player_name        VARCHAR,
    player_lookup      VARCHAR,
    points_line        DOUBLE,
    over_price         DOUBLE,      -- American odds
    under_price        DOUBLE,
    is_main_line       BOOLEAN,
    away_team_abbr     VARCHAR,
    home_team_abbr     VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP,
    snapshot_imputed   BOOLEAN      -- snapshot_at not in the file: the slate's date (00:00 ET) stands in
);

-- key: game_id, bookmaker, player_lookup, snapshot_at, points_line, data_source
CREATE TABLE IF NOT EXISTS nba_raw.bettingpros_player_points_props (
    game_id            VARCHAR,
    game_date          DATE,
    event_id           VARCHAR,
    commence_time      TIMESTAMP,
    snapshot_at        TIMESTAMP,
    bookmaker          VARCHAR,
    player_name        VARCHAR,
    player_lookup      VARCHAR,
    points_line        DOUBLE,
    over_price         DOUBLE,
    under_price        DOUBLE,
    is_main_line       BOOLEAN,
    away_team_abbr     VARCHAR,
    home_team_abbr     VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP,
    snapshot_imputed   BOOLEAN      -- snapshot_at not in the file: the slate's date (00:00 ET) stands in
);

-- key: game_id, market, bookmaker, player_lookup, snapshot_at, line, data_source
CREATE TABLE IF NOT EXISTS nba_raw.odds_api_player_props (
    game_id            VARCHAR,
    game_date          DATE,
    event_id           VARCHAR,
    commence_time      TIMESTAMP,
    snapshot_at        TIMESTAMP,
    market             VARCHAR,     -- player_threes, player_points_rebounds_assists, ...
    bookmaker          VARCHAR,
    player_name        VARCHAR,
    player_lookup      VARCHAR,
    line               DOUBLE,
    over_price         DOUBLE,
    under_price        DOUBLE,
    is_main_line       BOOLEAN,
    away_team_abbr     VARCHAR,
    home_team_abbr     VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP,
    snapshot_imputed   BOOLEAN      -- snapshot_at not in the file: the slate's date (00:00 ET) stands in
);

-- key: game_id, bookmaker, snapshot_at, data_source
CREATE TABLE IF NOT EXISTS nba_raw.odds_api_game_lines (
    game_id            VARCHAR,
    nba_game_id        VARCHAR,
    game_date          DATE,
    away_team_abbr     VARCHAR,
    home_team_abbr     VARCHAR,
    bookmaker          VARCHAR,     -- 'consensus' for SportsbookReview closing lines
    snapshot_at        TIMESTAMP,   -- NULL for closing lines without a time
    home_spread        DOUBLE,      -- points the home team gives (-) or gets (+)
    total              DOUBLE,
    home_moneyline     DOUBLE,      -- American odds
    away_moneyline     DOUBLE,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: transaction_date, team_abbr, player_lookup, action, notes, data_source
CREATE TABLE IF NOT EXISTS nba_raw.injury_transactions (
    transaction_date   DATE,
    team_abbr          VARCHAR,
    player_name        VARCHAR,
    player_lookup      VARCHAR,
    action             VARCHAR,     -- placed | returned | note
    notes              VARCHAR,
    estimated_days_out INTEGER,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: report_date, report_hour, game_id, team_abbr, player_lookup, data_source
CREATE TABLE IF NOT EXISTS nba_raw.nbac_injury_report (
    report_date        DATE,
    report_hour        INTEGER,     -- ET hour (0-23) of the report: NBA.com publishes several a day
    game_id            VARCHAR,
    game_date          DATE,
    team_abbr          VARCHAR,
    player_name        VARCHAR,
    player_lookup      VARCHAR,
    injury_status      VARCHAR,     -- out | questionable | doubtful | probable | available
    reason             VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: source_sha256, loader, line, reason
CREATE TABLE IF NOT EXISTS nba_raw.quarantine (
    source_file        VARCHAR,
    source_sha256      VARCHAR,
    loader             VARCHAR,
    target_table       VARCHAR,
    line               INTEGER,     -- 1-based line in the file (header = 1); record number for JSON
    reason             VARCHAR,
    raw_row            VARCHAR,     -- the offending row, as JSON
    quarantined_at     TIMESTAMP
);

-- key: source_sha256, loader
CREATE TABLE IF NOT EXISTS nba_raw.ingested_files (
    source_file        VARCHAR,
    source_sha256      VARCHAR,
    loader             VARCHAR,
    loader_version     INTEGER,
    rows_read          INTEGER,
    rows_inserted      INTEGER,
    rows_updated       INTEGER,
    rows_unchanged     INTEGER,
    rows_filtered      INTEGER,     -- rows outside the loader's scope (e.g. preseason), not errors
    rows_quarantined   INTEGER,
    ingested_at        TIMESTAMP
);

-- key: team_abbr
CREATE TABLE IF NOT EXISTS nba_reference.teams (
    team_abbr          VARCHAR,
    bbref_code         VARCHAR,
    odds_code          VARCHAR,
    nba_team_id        BIGINT,
    team_city          VARCHAR,
    team_nickname      VARCHAR,
    team_full_name     VARCHAR
);

-- key: bbref_player_id
CREATE TABLE IF NOT EXISTS nba_reference.player_id_crosswalk (
    bbref_player_id    VARCHAR,
    bbref_name         VARCHAR,
    nba_player_id      VARCHAR,
    nba_name           VARCHAR,
    games_matched      INTEGER,
    how                VARCHAR,
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: team_abbr
CREATE TABLE IF NOT EXISTS nba_reference.team_code_crosswalk (
    team_abbr          VARCHAR,     -- NBA tricode (BKN, CHA, PHX)
    bbref_code         VARCHAR,     -- Basketball-Reference code (BRK, CHO, PHO)
    odds_code          VARCHAR,     -- lowercase code of the odds datasets (gs, no, ny, sa, utah, wsh)
    data_source        VARCHAR,
    source_file        VARCHAR,
    ingested_at        TIMESTAMP
);

-- key: source_sha256, loader, line, rule
CREATE TABLE IF NOT EXISTS nba_raw.contract_corrections (
    source_file        VARCHAR,
    source_sha256      VARCHAR,
    loader             VARCHAR,
    target_table       VARCHAR,
    line               INTEGER,     -- as in nba_raw.quarantine
    rule               VARCHAR,     -- the contract rule that corrected the row (sources/contracts.py)
    detail             VARCHAR,     -- 'game_date 2023-01-21 -> 2023-01-20; ...'
    corrected_at       TIMESTAMP
);
