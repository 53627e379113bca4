"""The main job without a data folder: a deterministic synthetic league, labelled as such,
ingested and processed end to end."""
from __future__ import annotations

import hashlib

from typer.testing import CliRunner

from nbapipe import quickstart, synthetic
from nbapipe.cli import app
from nbapipe.workspace import Workspace


def test_synthetic_league_is_deterministic(tmp_path):
    a = synthetic.generate(tmp_path / "a")
    b = synthetic.generate(tmp_path / "b")
    digest = lambda root: {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                           for p in sorted((root / "bbref").iterdir())}
    assert digest(a) == digest(b)
    assert set(digest(a)) == {"games.csv.gz", "player_box.csv.gz", "team_box.csv.gz",
                              "line_scores.csv.gz", "inactives.csv.gz"}


def test_quickstart_without_data_runs_end_to_end_and_says_synthetic(tmp_path, monkeypatch):
    monkeypatch.setattr(quickstart, "resolve_data_dir", lambda data: None)
    ws = Workspace.at(tmp_path / "home")
    try:
        result = quickstart.run_quickstart(ws, None, on_step=lambda s: None)
        assert result["synthetic"] is True
        assert synthetic.is_synthetic(ws.state)
        assert not result["ingest"]["refused"] and not result["backfill"]["failed"]
        window = result["window"]
        assert window["days"] == 14 and window["bootstrap_dates"][0] == "2021-10-19"
        tables = {t["table"]: t for t in result["tables"]}
        pgs = tables["nba_analytics.player_game_summary"]
        assert pgs["expected"] == len(window["game_dates"]) > 0 and pgs["present"] == pgs["expected"]
        assert pgs["rows"] > 0
        # Phase 4 only after the synthetic season's bootstrap window.
        fs = tables["nba_predictions.ml_feature_store"]
        assert fs["expected"] == len([d for d in window["game_dates"] if d > "2021-10-25"])
    finally:
        ws.close()
    # Every command says the home is synthetic.
    r = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "calendar"])
    assert r.exit_code == 0 and "SYNTHETIC" in r.output
