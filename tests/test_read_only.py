"""Reading is read-only, readers never fail a writer, and the environment's failures are one line.

- Every reading command works on a read-only copy of a complete home (a real read-only bind
  mount: the tests run as root, who ignores file permissions), and `sql` writes no file.
- A backfill that starts while a long `nbapipe sql` query has the DuckDB file open waits for
  it, saying who holds it, and completes.
- A typo in --home: reading commands exit 2 naming the folder and create nothing.
- A corrupt state.sqlite or warehouse.duckdb, a bad ?schema= and a full disk: exit 2, one line
  that says what to do, no traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_home, read_wh
from nbapipe.config import REPO_ROOT


def cli(home, *args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "nbapipe.cli", "--home", str(home), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def _mount(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def mounted(tmp_path):
    """mount(kind, target, *options): a mount undone after the test; skips where mounting is
    not allowed (fails under CI=true, whose machine allows it)."""
    done = []

    def mount(target: Path, *args) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        r = _mount(*args, str(target))
        if r.returncode != 0:
            msg = f"cannot mount here ({r.stderr.strip()})"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(msg)
            pytest.skip(msg)
        done.append(target)
        return target

    yield mount
    for t in reversed(done):
        subprocess.run(["umount", "-l", str(t)], capture_output=True)


def _tree(home: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(home)): (p.stat().st_size, p.stat().st_mtime_ns) for p in home.rglob("*")}


# --- a read-only home -------------------------------------------------------------------------

READS = [  # (command, exit code on the complete phase 4 home)
    ["status", "--start-date", "2021-11-01", "--end-date", "2021-11-07", "--json"],
    ["monitor", "--season", "2021-22", "--json"],
    ["verify", "--phase", "4", "--start-date", "2021-11-01", "--end-date", "2022-04-10"],
    ["preflight", "--start-date", "2021-11-01", "--end-date", "2021-11-07", "--phase", "4"],
    ["calendar", "--json"],
    ["checks", "--season", "2021-22", "--quick"],
    ["orchestrator", "status", "--date", "2021-11-01"],
    ["state", "info", "--json"],
]


@pytest.mark.realdata
def test_every_read_command_works_on_a_read_only_home(phase4_home, tmp_path, mounted):
    src = copy_home(phase4_home, tmp_path / "src")
    home = mounted(tmp_path / "ro", "--bind", str(src))
    assert _mount("-o", "remount,ro,bind", str(home)).returncode == 0
    with pytest.raises(OSError):            # really read-only, even for root
        (home / "probe").write_text("x")
    before = _tree(home)

    codes = {" ".join(c[:2]): cli(home, *c) for c in READS}
    report = cli(home, "report", "--season", "2021-22", "--out", str(tmp_path / "reports"), "--json")
    rows = cli(home, "sql", "--json", "SELECT count(*) AS n FROM nba_precompute.player_composite_factors")
    copy = cli(home, "sql", f"COPY (SELECT 1 AS x) TO '{tmp_path / 'x.csv'}'")
    export = cli(home, "sql", f"EXPORT DATABASE '{tmp_path / 'dump'}'")
    attach = cli(home, "sql", f"ATTACH '{tmp_path / 'other.duckdb'}' AS o")
    hidden = cli(home, "sql", f"SELECT * FROM read_csv('{REPO_ROOT / 'pyproject.toml'}')")

    for name, r in codes.items():
        assert r.returncode == 0, (name, r.stdout[-1500:], r.stderr[-1500:])
        assert "Traceback" not in r.stderr and "readonly" not in r.stderr, name
    assert len(json.loads(codes["status --start-date"].stdout)) > 0
    assert json.loads(codes["state info"].stdout)["rows"]["run_ledger"] > 0
    assert report.returncode == 0, report.stderr[-1500:]
    assert Path(json.loads(report.stdout)["html"]).is_file()
    with read_wh(phase4_home) as wh:
        expected = wh.scalar("SELECT count(*) FROM nba_precompute.player_composite_factors")
    assert rows.returncode == 0 and json.loads(rows.stdout) == [{"n": expected}]
    # sql reads: writing statements are refused before DuckDB sees them, one line, exit 2.
    for r, kind in ((copy, "COPY"), (export, "EXPORT"), (attach, "ATTACH")):
        assert r.returncode == 2 and f"{kind} statements are refused" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    # ... and a query cannot reach another file either (DuckDB's own guard).
    assert hidden.returncode == 2 and "disabled by configuration" in hidden.stderr, hidden.stderr
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "dump").exists()
    assert not (tmp_path / "other.duckdb").exists()
    assert _tree(home) == before


# --- a reader never fails a writer ------------------------------------------------------------

LONG_QUERY = "SELECT count(*) AS n FROM range(60000) a, range(8000) b WHERE (a.range * 7 + b.range) % 1003 = 1"


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == str(path.resolve())
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.mark.realdata
def test_a_backfill_waits_for_a_long_sql_query(phase3_home, tmp_path):
    home = copy_home(phase3_home, tmp_path / "home")
    wh_path = home / "warehouse.duckdb"
    reader = subprocess.Popen([sys.executable, "-m", "nbapipe.cli", "--home", str(home), "sql", "--json", LONG_QUERY],
                              cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    while not _has_open(reader.pid, wh_path):
        assert reader.poll() is None and time.monotonic() < end, reader.communicate()
        time.sleep(0.02)
    t0 = time.monotonic()
    writer = cli(home, "backfill", "--phase", "4", "--start-date", "2021-11-01", "--end-date", "2021-11-07",
                 "--skip-downstream-trigger", "--json")
    waited = time.monotonic() - t0
    out, err = reader.communicate(timeout=300)

    assert reader.returncode == 0, err
    assert json.loads(out)[0]["n"] > 0
    assert writer.returncode == 0, writer.stderr[-3000:]
    assert "Traceback" not in writer.stderr
    # It said whom it waited for: the sql process, by pid and command.
    assert f"pid {reader.pid}" in writer.stderr and "nbapipe sql" in writer.stderr, writer.stderr
    assert "has the DuckDB file open" in writer.stderr
    report = json.loads(writer.stdout)
    assert report["counts"]["success"] > 0 and not report["failed"], report["counts"]
    assert waited > 1.0


# --- a typo in --home -------------------------------------------------------------------------

READING = [["status", "--start-date", "2021-10-19", "--end-date", "2021-10-20"], ["monitor"], ["verify"],
           ["preflight", "--date", "2021-10-19"], ["calendar"], ["report"], ["sql", "SELECT 1"],
           ["grade", "--start-date", "2021-10-19", "--end-date", "2021-10-20"], ["orchestrator", "status"],
           ["state", "info"], ["serve", "--ui-only", "--port", "0"]]


@pytest.mark.parametrize("args", READING, ids=lambda a: " ".join(a[:2]))
def test_a_typo_in_home_creates_nothing(tmp_path, args):
    typo = tmp_path / "typo"
    r = cli(typo, *args, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"{typo} does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not typo.exists()
    # A folder that exists but is no home: named, and left empty.
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli(empty, *args, timeout=60)
    assert r.returncode == 2 and f"{empty} is not an nbapipe home" in r.stderr, r.stderr
    assert list(empty.iterdir()) == []


def test_writers_may_create_a_home(tmp_path):
    """Only writing commands create one (here a dry run of a backfill on an empty home)."""
    home = tmp_path / "new"
    r = cli(home, "backfill", "--start-date", "2021-10-19", "--end-date", "2021-10-20")
    assert r.returncode == 2 and "the calendar is empty" in r.stderr, r.stderr
    assert (home / "state.sqlite").is_file()


# --- the environment's failures: one line, what to do, exit 2 ---------------------------------

def _one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-1500:])
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_a_corrupt_state_store_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.sqlite").write_bytes(os.urandom(200_000))
    for args in (["status", "--start-date", "2021-10-19", "--end-date", "2021-10-20"],
                 ["backfill", "--start-date", "2021-10-19", "--end-date", "2021-10-20"]):
        line = _one_line_error(cli(home, *args))
        assert f"the state store {home / 'state.sqlite'} is not a SQLite database" in line
        assert "restore it from a backup" in line


@pytest.mark.realdata
def test_a_corrupt_warehouse_is_one_line(real_home, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.sqlite").write_bytes((real_home / "state.sqlite").read_bytes())
    (home / "warehouse.duckdb").write_bytes(os.urandom(1_000_000))
    for args in (["sql", "SELECT 1"], ["verify", "--start-date", "2021-11-01", "--end-date", "2021-11-02"],
                 ["backfill", "--start-date", "2021-11-01", "--end-date", "2021-11-02"]):
        line = _one_line_error(cli(home, *args))
        assert f"the warehouse {home / 'warehouse.duckdb'} is not a readable DuckDB database" in line, args
        assert "restore it from a backup" in line


def test_a_bad_schema_in_the_state_url_is_one_line(tmp_path):
    url = "postgresql://postgres@127.0.0.1:5432/test?schema=1bad;drop"
    for args in (["status", "--start-date", "2021-10-19", "--end-date", "2021-10-20"],
                 ["backfill", "--start-date", "2021-10-19", "--end-date", "2021-10-20"]):
        line = _one_line_error(cli(tmp_path / "home", "--state", url, *args))
        assert "schema '1bad;drop' in the state URL" in line and "lower-case letters, digits and _" in line
    assert not (tmp_path / "home").exists()


@pytest.mark.realdata
def test_a_full_disk_is_one_line(real_home, tmp_path, mounted):
    size = sum(p.stat().st_size for p in real_home.iterdir() if p.is_file())
    disk = mounted(tmp_path / "disk", "-t", "tmpfs", "-o", f"size={size // 2**20 + 16}m", "tmpfs")
    home = copy_home(real_home, disk / "home")
    with open(disk / "filler", "wb", buffering=0) as f:         # fill what is left
        try:
            while True:
                f.write(b"\0" * 2**20)
                f.flush()
        except OSError:
            pass
    r = cli(home, "backfill", "--phase", "3", "--start-date", "2021-11-01", "--end-date", "2021-11-30")
    line = _one_line_error(r)
    assert "the disk is full" in line and "Free space on that disk" in line, line


@pytest.mark.realdata
def test_duckdb_memory_is_bounded_and_a_bad_bound_is_one_line(real_home):
    """DuckDB's memory limit is 1 GB (not 80% of RAM), NBAPIPE_DUCKDB_MEMORY sets another, and a
    value that is not a size is one line, exit 2, before anything runs."""
    query = "SELECT current_setting('memory_limit') AS m"
    for env, shown in (({}, "953.6 MiB"), ({"NBAPIPE_DUCKDB_MEMORY": "2GB"}, "1.8 GiB")):
        r = cli(real_home, "sql", query, "--json", env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == [{"m": shown}]
    for args in (["sql", "SELECT 1"], ["backfill", "--dates", "2021-11-01"]):
        line = _one_line_error(cli(real_home, *args, env={"NBAPIPE_DUCKDB_MEMORY": "lots"}))
        assert "NBAPIPE_DUCKDB_MEMORY must be a size such as 1GB or 512MB, got 'lots'" in line, args
