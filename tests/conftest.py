"""Shared fixtures. Real-data tests are marked `realdata`: with CI=true a missing data folder
is an error, elsewhere a skip with the reason.

State store backends: a test module marked `both_states` runs every test twice, on the home's
SQLite file and on PostgreSQL (param `postgres`, marker `postgres`): the fixture `state_backend`
points NBAPIPE_STATE_URL at a fresh schema of the test server (NBAPIPE_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/test) for that test and the processes it starts, and
`copy_home` moves a prepared home's state into it. An unreachable server fails under CI=true
and skips elsewhere."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from nbapipe.config import REPO_ROOT

DATA_DIR = Path(os.environ.get("NBAPIPE_DATA") or REPO_ROOT.parent / "shared" / "nba-data")
TEST_POSTGRES = os.environ.get("NBAPIPE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# Tests choose their state store themselves; a developer's shell setting must not leak in.
os.environ.pop("NBAPIPE_STATE_URL", None)
os.environ.pop("NBAPIPE_HOST_NAME", None)


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_generate_tests(metafunc):
    if "state_backend" not in metafunc.fixturenames:
        return
    postgres = pytest.param("postgres", marks=pytest.mark.postgres)
    if metafunc.definition.get_closest_marker("postgres_state"):
        metafunc.parametrize("state_backend", [postgres], indirect=True)
    elif metafunc.definition.get_closest_marker("both_states"):
        metafunc.parametrize("state_backend", ["sqlite", postgres], indirect=True)


def postgres_url(schema: str) -> str:
    """The test server, with a schema of its own (created by the store, dropped by the fixture)."""
    try:
        import psycopg
        psycopg.connect(TEST_POSTGRES, connect_timeout=5).close()
    except Exception as e:          # no psycopg, no server: both are failures under CI
        msg = (f"PostgreSQL test server not reachable at {TEST_POSTGRES} ({e.__class__.__name__}: "
               f"{str(e).strip()[:200]}); `make test` starts the local one, or set NBAPIPE_TEST_POSTGRES")
        if _ci():
            pytest.fail(msg)
        pytest.skip(msg)
    sep = "&" if "?" in TEST_POSTGRES else "?"
    return f"{TEST_POSTGRES}{sep}schema={schema}"


def drop_schema(schema: str) -> None:
    import psycopg
    with psycopg.connect(TEST_POSTGRES, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(autouse=True)
def state_backend(request, monkeypatch):
    """`sqlite` (the default everywhere) or, in `both_states` modules, also `postgres`: then
    NBAPIPE_STATE_URL names a fresh schema for this test."""
    kind = getattr(request, "param", "sqlite")
    if kind != "postgres":
        yield kind
        return
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    url = postgres_url(schema)
    monkeypatch.setenv("NBAPIPE_STATE_URL", url)
    try:
        yield url
    finally:
        drop_schema(schema)


def state_at(home):
    """Where `home`'s state store is under the current backend (file or URL)."""
    from nbapipe.config import load_settings
    return load_settings(home).state_location


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
    with read_wh(real_home) as w:
        yield w


def copy_home(src, dst):
    """A private copy of a prepared home (tests that change data work on their own copy). On
    the PostgreSQL backend its state moves into the test's schema (`nbapipe state copy`'s code)
    and the copy keeps no state.sqlite, so nothing can read the file by mistake."""
    import shutil
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
    url = os.environ.get("NBAPIPE_STATE_URL")
    if url:
        from nbapipe.state import open_state
        from nbapipe.state.postgres import copy_store
        with open_state(dst / "state.sqlite") as s, open_state(url) as d:
            copy_store(s, d)
        for f in dst.glob("state.sqlite*"):
            f.unlink()
    return dst


def all_dates(start: str, end: str):
    import datetime as dt
    s, e = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [s + dt.timedelta(days=i) for i in range((e - s).days + 1)]


def backfill(home, start: str, end: str, phases=(3,), **kw):
    """Run the backfill runner in-process on `home` over [start, end]."""
    from nbapipe.orchestration.backfill import run_backfill
    from nbapipe.orchestration.runner import Request
    from nbapipe.workspace import Workspace
    ws = Workspace.at(home)
    try:
        return run_backfill(ws, Request(dates=all_dates(start, end), phases=list(phases), **kw))
    finally:
        ws.close()


def backfilled_home(tmp_path_factory, src, phase: int):
    """A copy of the prepared home `src` with `phase` backfilled over the three bbref seasons."""
    home = copy_home(src, tmp_path_factory.mktemp(f"phase{phase}") / "home")
    report = backfill(home, "2021-10-01", "2024-06-30", phases=(phase,), skip_downstream_trigger=True)
    assert not report.failed, [r.as_dict() for r in report.failed][:3]
    return home


@contextmanager
def read_wh(home):
    """A prepared home's warehouse, read-only."""
    from nbapipe.warehouse import open_warehouse
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as w:
        yield w


@pytest.fixture(scope="session")
def phase3_home(tmp_path_factory, real_home):
    """The real-data home with Phase 3 backfilled over the three bbref seasons."""
    return backfilled_home(tmp_path_factory, real_home, 3)


@pytest.fixture
def phase3_wh(phase3_home):
    with read_wh(phase3_home) as w:
        yield w


PHASE3_TABLES = ["nba_analytics.team_offense_game_summary", "nba_analytics.team_defense_game_summary",
                 "nba_analytics.upcoming_team_game_context", "nba_analytics.player_game_summary",
                 "nba_analytics.upcoming_player_game_context"]


def table_differences(home_a, home_b, table: str, where: str = "true") -> int:
    """Rows of `table` that differ between two homes, ignoring run ids and timestamps
    (the only columns allowed to differ between reruns)."""
    import duckdb
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{home_a / 'warehouse.duckdb'}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{home_b / 'warehouse.duckdb'}' AS b (READ_ONLY)")
        q = (f"SELECT * EXCLUDE (run_id, processed_at) FROM {{db}}.{table} WHERE {where}")
        n = con.execute(f"SELECT (SELECT count(*) FROM ({q.format(db='a')} EXCEPT ALL {q.format(db='b')})) + "
                        f"(SELECT count(*) FROM ({q.format(db='b')} EXCEPT ALL {q.format(db='a')}))").fetchone()[0]
        return n
    finally:
        con.close()


PHASE4_TABLES = {"nba_precompute.team_defense_zone_analysis": "analysis_date",
                 "nba_precompute.player_shot_zone_analysis": "analysis_date",
                 "nba_precompute.player_composite_factors": "game_date",
                 "nba_precompute.player_daily_cache": "cache_date",
                 "nba_predictions.ml_feature_store": "game_date"}


@pytest.fixture(scope="session")
def phase4_home(tmp_path_factory, phase3_home):
    """The real-data home with Phase 3 and Phase 4 backfilled over the three bbref seasons."""
    return backfilled_home(tmp_path_factory, phase3_home, 4)


@pytest.fixture
def phase4_wh(phase4_home):
    with read_wh(phase4_home) as w:
        yield w
