"""Settings and constants: the one place every module reads them from."""
from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The repository root, when running from a checkout (src/nbapipe/config.py -> ../../..).
REPO_ROOT = Path(__file__).resolve().parents[2]

SCHEMA_VERSION = 1
SCHEMAS = ("nba_raw", "nba_reference", "nba_analytics", "nba_precompute", "nba_predictions")

# Days from season start (inclusive) in which Phase 4 writes nothing: early-season rolling
# windows are too thin to be meaningful.
DEFAULT_BOOTSTRAP_DAYS = 7

# The backfill guide's test window (season start of 2021-22, bootstrap included).
QUICKSTART_START = "2021-10-15"
QUICKSTART_END = "2021-10-28"

# `nbapipe ingest` refuses a file whose quarantined rows exceed this share of its rows in scope
# (a file that is mostly bad is more likely the wrong file or a broken export than a few bad
# rows); --accept-partial loads the good rows anyway.
MAX_QUARANTINE_SHARE = 0.5

# A lease not renewed within this many seconds has lapsed (its holder died). Env
# NBAPIPE_LEASE_TTL_SECONDS overrides it (tests shorten it to outlast it in an outage).
LEASE_TTL_SECONDS = 30.0
# A holder that has not renewed its lease stops writing this long before the lease would lapse
# (a fraction of the TTL), so a lapsed lease never leaves two writers.
LEASE_STOP_MARGIN = 0.25
# How long a command keeps retrying a state store that refuses connections (a server restart,
# a failover) before it gives up with exit 2. Env NBAPIPE_STATE_RETRY_SECONDS.
STATE_RETRY_SECONDS = 30.0

# The most triggers a worker claims and runs as one run (a season's dates of a phase fit).
TRIGGER_BATCH_MAX = 1000

# Which Phase 2 sources must have reported a date before the phase2->3 orchestrator triggers
# Phase 3 for it (env NBAPIPE_PHASE2_REQUIRED, comma-separated). Each item is `calendar` (the
# schedule lists league games that date, as in the state store's calendar copy), a fallback
# chain `chain:<name>` (any of its source tables), a raw table name, or `a|b` (any of them).
DEFAULT_PHASE2_REQUIRED = "calendar,chain:player_boxscores"

# --- Phase 5: predictions ---------------------------------------------------------------------
# A pick is OVER/UNDER only when |predicted - line| >= PREDICTION_MIN_EDGE points and the
# prediction's confidence (0-100) >= PREDICTION_MIN_CONFIDENCE; otherwise PASS (voided in grading).
PREDICTION_MIN_EDGE = 1.0
PREDICTION_MIN_CONFIDENCE = 60.0
# A system with a calibrated P(over) (gradient boosting) picks by probability and price
# instead: OVER when P(over) >= the break-even of the books' over price + this margin, UNDER
# likewise, else PASS. Set before any scoring (not fitted): 3 points of probability is about
# the books' margin on a -110/-110 market, so a pick must clear the vig twice over.
PICK_MIN_PROBABILITY_MARGIN = 0.03
# The American odds assumed for a line quoted without a price (the usual -110).
PREDICTION_DEFAULT_PRICE = -110.0
# `nbapipe grade` reports hit rate and count at each of these edges (|predicted - line| >= t).
GRADE_EDGE_THRESHOLDS = (0.0, 1.0, 2.0, 3.0, 5.0)
# The moving-average baseline has no training residuals: its confidence uses this typical spread
# of a points prediction's error (the gradient-boosting models' training residual std: 5.7-5.9).
BASELINE_REFERENCE_STD = 5.8
# Walk-forward models: one per (system, month), trained on the most recent rows before the
# month's first day. A month with fewer labelled rows than the minimum has no model (its dates
# are upstream_missing: model). The row cap bounds a model's cost, and so the full-history
# Phase 5 backfill's (< 60 s on 2 cores): 60k rows is about two seasons; walk-forward on 2023-24,
# every earlier row was 0.06% of MAE better, the most recent 40k 0.15% worse.
MODEL_MIN_TRAINING_ROWS = 500
MODEL_MAX_TRAINING_ROWS = 60_000
# OpenMP threads a model trains and predicts with. One: on this 2-core machine a 60k-row fit
# took 2.45 s on one thread, 4.7 s on two with idle threads sleeping (OMP_WAIT_POLICY=PASSIVE)
# and 2.1 s with them spinning, which a busy machine turns into 10-20x slower.
MODEL_THREADS = 1
# Processes that fit the models of one run side by side when it needs two or more (a backfill
# trains a model per month; a daily run at most one, in its own process). A fit is one process's
# work on one thread, so one process per core: on 2 cores the full-history Phase 5 backfill's
# 26 fits took half the time. The trees do not depend on which process fits them.
MODEL_PROCESSES = max(1, min(4, os.cpu_count() or 1))
# A run of at most this many dates runs DuckDB on one thread (see Runner._threads_for).
SINGLE_THREAD_MAX_DATES = 7


@dataclass(frozen=True)
class Settings:
    home: Path
    bootstrap_days: int = DEFAULT_BOOTSTRAP_DAYS
    phase2_required: str = DEFAULT_PHASE2_REQUIRED
    state_url: str | None = None    # a postgresql:// state store instead of state.sqlite
    extra: dict = field(default_factory=dict)

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def state_path(self) -> Path:
        return self.home / "state.sqlite"

    @property
    def state_location(self) -> str | Path:
        """Where the state store is: the server URL when one is set, else the home's file."""
        return self.state_url or self.state_path

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


def resolve_home(home: str | Path | None = None) -> Path:
    """--home beats NBAPIPE_HOME beats ./.nbapipe."""
    value = home or os.environ.get("NBAPIPE_HOME") or ".nbapipe"
    return Path(value).expanduser().resolve()


def resolve_data_dir(data: str | Path | None = None) -> Path | None:
    """--data beats NBAPIPE_DATA beats ../shared/nba-data beside the repository.

    Returns None when no folder exists (quickstart then generates a synthetic league)."""
    candidates = [data, os.environ.get("NBAPIPE_DATA"), REPO_ROOT.parent / "shared" / "nba-data"]
    for c in candidates:
        if c:
            p = Path(c).expanduser().resolve()
            if p.is_dir():
                return p
            if c is data or c == os.environ.get("NBAPIPE_DATA"):
                # An explicit folder that does not exist is a usage error, not a fallback.
                raise FileNotFoundError(f"data folder not found: {p}")
    return None


def load_settings(home: str | Path | None = None) -> Settings:
    days = int(os.environ.get("NBAPIPE_BOOTSTRAP_DAYS", DEFAULT_BOOTSTRAP_DAYS))
    required = os.environ.get("NBAPIPE_PHASE2_REQUIRED") or DEFAULT_PHASE2_REQUIRED
    return Settings(home=resolve_home(home), bootstrap_days=days, phase2_required=required,
                    state_url=os.environ.get("NBAPIPE_STATE_URL") or None)


def _env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None


def lease_ttl() -> float:
    """Seconds a lease lasts unless renewed [env NBAPIPE_LEASE_TTL_SECONDS, default 30]."""
    return _env_seconds("NBAPIPE_LEASE_TTL_SECONDS", LEASE_TTL_SECONDS) or LEASE_TTL_SECONDS


_state_retry_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar("state_retry_limit", default=None)


def state_retry_seconds() -> float:
    """Seconds to keep retrying a refused state store [env NBAPIPE_STATE_RETRY_SECONDS, default 30];
    less inside `state_retry_limit` (a heartbeat, a process that is stopping)."""
    from nbapipe import cancel
    seconds = _env_seconds("NBAPIPE_STATE_RETRY_SECONDS", STATE_RETRY_SECONDS)
    # A process that is stopping (a lost lease, a signal) only tidies up: one try, no waiting.
    limit = 0.0 if cancel.requested() else _state_retry_limit.get()
    return seconds if limit is None else min(seconds, limit)


@contextmanager
def state_retry_limit(seconds: float):
    """Retry a refused state store for at most `seconds` in this block (this thread)."""
    token = _state_retry_limit.set(seconds)
    try:
        yield
    finally:
        _state_retry_limit.reset(token)


def host_name() -> str:
    """This host's name in leases, runs and workers: NBAPIPE_HOST_NAME (a container's stable
    name, or a test posing as another host), else the system's."""
    import socket
    return os.environ.get("NBAPIPE_HOST_NAME") or socket.gethostname()


# DuckDB's memory for one process (its memory_limit; beyond it, it spills to <warehouse>.tmp).
# DuckDB's own default, 80% of RAM, is also what it keeps as cache: Phase 4's window queries over
# three seasons held 1.8 GB, and the backfill's peak passed the 2 GiB budget (DESIGN section 12).
# At 1 GB Phase 4 took the same 9.8 s (peak 1.15 GB), at 512 MB 11.9 s, at 256 MB 21 s.
DUCKDB_MEMORY_LIMIT = "1GB"


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit [env NBAPIPE_DUCKDB_MEMORY, e.g. 4GB; default 1GB]."""
    return os.environ.get("NBAPIPE_DUCKDB_MEMORY") or DUCKDB_MEMORY_LIMIT


# --- engines (DuckDB embedded default; Spark for users who outgrow one machine) -------------
ENGINE_NAMES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"
# Local mode on every core unless a cluster master is given (spark://host:7077, yarn, k8s://...).
DEFAULT_SPARK_MASTER = "local[*]"


def engine_name(name: str | None = None) -> str:
    """--engine beats NBAPIPE_ENGINE beats duckdb."""
    value = (name or os.environ.get("NBAPIPE_ENGINE") or DEFAULT_ENGINE).lower()
    if value not in ENGINE_NAMES:
        raise ValueError(f"unknown engine {value!r}; engines: {', '.join(ENGINE_NAMES)}")
    return value


def spark_master() -> str:
    return os.environ.get("NBAPIPE_SPARK_MASTER") or DEFAULT_SPARK_MASTER


def spark_warehouse(home: Path) -> Path:
    """Where the Spark engine keeps its Parquet tables: NBAPIPE_SPARK_WAREHOUSE, else
    <home>/spark-warehouse. On a cluster it must be a folder every executor sees (a shared mount)."""
    value = os.environ.get("NBAPIPE_SPARK_WAREHOUSE")
    return Path(value).expanduser().resolve() if value else home / "spark-warehouse"
