"""Shared fixtures. Real-data tests are marked `realdata`: with CI=true a missing data folder
is an error, elsewhere a skip with the reason."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nbapipe.config import REPO_ROOT

DATA_DIR = Path(os.environ.get("NBAPIPE_DATA") or REPO_ROOT.parent / "shared" / "nba-data")


def _require_data() -> Path:
    if DATA_DIR.is_dir():
        return DATA_DIR
    msg = f"real data folder not found at {DATA_DIR} (set NBAPIPE_DATA)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require_data()


@pytest.fixture
def wh():
    """An empty in-memory warehouse with the schema."""
    from nbapipe.warehouse import ensure_schema, open_warehouse
    with open_warehouse(None) as w:
        ensure_schema(w)
        yield w


@pytest.fixture(scope="session")
def real_home(tmp_path_factory, data_dir):
    """A home with all of the real data ingested once per test session (read-only for tests:
    tests that change data copy it or use their own home)."""
    from nbapipe.sources.ingest import run_ingest
    from nbapipe.workspace import Workspace
    home = tmp_path_factory.mktemp("real-home")
    ws = Workspace.at(home)
    summary = run_ingest(ws, [data_dir])
    ws.close()
    assert not summary.refused, [o.as_dict() for o in summary.refused]
    return home


@pytest.fixture
def real_wh(real_home):
    """Read-only connection to the session's real-data warehouse."""
    from nbapipe.warehouse import open_warehouse
    with open_warehouse(real_home / "warehouse.duckdb", read_only=True) as w:
        yield w
