"""The warehouse lease through a PostgreSQL outage, made real: the state URL points at a TCP
proxy in front of the test server, which the test switches to refuse connections (and drop the
open ones) for 2 s, then for longer than the lease's TTL, while an ingest or a backfill writes
and a second writer waits its turn.

What is checked comes from the server's own view: a trigger on the leases table logs every
acquisition, renewal and release with the server's clock, and from that log no holder took
the lease while another's was live. A 2 s outage fails nothing; a longer one stops the writer
(exit 2, one line) before its lease lapses, and the waiting writer then runs."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import TEST_POSTGRES, copy_home
from nbapipe.config import REPO_ROOT

pytestmark = [pytest.mark.realdata, pytest.mark.postgres_state, pytest.mark.postgres]

TTL = 15.0           # seconds (NBAPIPE_LEASE_TTL_SECONDS): renewed every 5 s, stop 3.75 s before expiry
SHORT, LONG = 2.0, TTL + 5


class RefusingProxy:
    """127.0.0.1:<port> forwarded to the test server, until `refuse()`: then nothing listens
    on the port (connections are refused) and the open ones are cut, as in a server restart."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.accept()

    def accept(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.1)
        self._listener = s
        threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def refuse(self) -> None:
        s, self._listener = self._listener, None
        if s is not None:
            s.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _serve(self, s: socket.socket) -> None:
        while self._listener is s:
            try:
                client, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for c in (src, dst):
                try:
                    c.close()
                except OSError:
                    pass


def _server():
    import psycopg
    return psycopg.connect(TEST_POSTGRES, autocommit=True)


def audit_leases(schema: str) -> None:
    """Log every change of the leases table, with the server's clock (epoch seconds)."""
    with _server() as con:
        con.execute(f"CREATE TABLE {schema}.lease_audit (at DOUBLE PRECISION, op TEXT, name TEXT, holder TEXT, "
                    f"pid BIGINT, expires_at DOUBLE PRECISION)")
        con.execute(f"""CREATE FUNCTION {schema}.audit_lease() RETURNS trigger AS $$ BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO {schema}.lease_audit VALUES (extract(epoch FROM clock_timestamp()), TG_OP,
                    OLD.name, OLD.holder, OLD.pid, OLD.expires_at);
                RETURN OLD;
            END IF;
            INSERT INTO {schema}.lease_audit VALUES (extract(epoch FROM clock_timestamp()), TG_OP,
                NEW.name, NEW.holder, NEW.pid, NEW.expires_at);
            RETURN NEW;
        END $$ LANGUAGE plpgsql""")
        con.execute(f"CREATE TRIGGER lease_audit AFTER INSERT OR UPDATE OR DELETE ON {schema}.leases "
                    f"FOR EACH ROW EXECUTE FUNCTION {schema}.audit_lease()")


def lease_log(schema: str) -> list[dict]:
    with _server() as con:
        cur = con.execute(f"SELECT at, op, holder, pid, expires_at FROM {schema}.lease_audit "
                          f"WHERE name = 'warehouse' ORDER BY at")
        return [dict(zip(("at", "op", "holder", "pid", "expires_at"), r)) for r in cur.fetchall()]


def overlaps(log: list[dict]) -> list[str]:
    """Acquisitions made while another holder's lease was live (neither released nor expired)."""
    bad, current = [], None
    for e in log:
        if e["op"] == "DELETE":
            if current and e["holder"] == current["holder"]:
                current = None
            continue
        if current and e["holder"] != current["holder"] and current["expires_at"] > e["at"]:
            bad.append(f"pid {e['pid']} took the lease at {e['at']:.2f} while pid {current['pid']}'s ran "
                       f"to {current['expires_at']:.2f}")
        current = e
    return bad


def _wait_for(pred, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _waiting(schema: str, pid: int) -> bool:
    with _server() as con:
        return bool(con.execute(f"SELECT count(*) FROM {schema}.lease_waiters WHERE pid = %s", [pid]).fetchone()[0])


def _holding(schema: str, pid: int) -> bool:
    with _server() as con:
        return bool(con.execute(f"SELECT count(*) FROM {schema}.leases WHERE pid = %s", [pid]).fetchone()[0])


class Exit:
    """When a process ended (epoch seconds), watched from a thread while the test sleeps."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.at = proc, None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while self.proc.poll() is None:
            time.sleep(0.02)
        self.at = time.time()

    def wait(self, timeout: float) -> float:
        self._thread.join(timeout)
        if self.at is None:
            self.proc.kill()
            raise AssertionError(f"{self.proc.args[-6:]} did not finish in {timeout:.0f}s")
        return self.at


@pytest.fixture
def outage_home(tmp_path, real_home, state_backend):
    """A copy of the real-data home with its state in this test's schema, the lease audited,
    and the URL through the proxy."""
    home = copy_home(real_home, tmp_path / "home")
    schema = state_backend.rsplit("schema=", 1)[1]
    audit_leases(schema)
    target = urlsplit(TEST_POSTGRES)
    proxy = RefusingProxy((target.hostname, target.port or 5432))
    parts = urlsplit(state_backend)
    url = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{target.port or 5432}", f":{proxy.port}")))
    try:
        yield home, schema, proxy, url
    finally:
        proxy.refuse()


WRITERS = {
    # (command of the writer the outage hits, seconds into its run when the outage starts)
    # + the whole data folder (~12 s idle: one folder alone now ends before a 2 s outage does)
    ("ingest", SHORT): ["ingest", "--force", "--skip-downstream-trigger"],
    ("ingest", LONG): ["ingest", "--force", "--skip-downstream-trigger"],
    ("backfill", SHORT): ["backfill", "--phase", "3", "--start-date", "2021-10-19", "--end-date", "2024-06-30",
                          "--no-resume", "--skip-downstream-trigger"],             # ~12 s
    ("backfill", LONG): ["backfill", "--phase", "all", "--start-date", "2021-10-19", "--end-date", "2024-06-30",
                         "--no-resume", "--skip-downstream-trigger"],             # minutes
}


@pytest.mark.parametrize("outage", [SHORT, LONG], ids=["2s", "longer-than-ttl"])
@pytest.mark.parametrize("kind", ["ingest", "backfill"])
def test_no_two_holders_through_a_state_store_outage(outage_home, data_dir, kind, outage):
    home, schema, proxy, url = outage_home
    env = dict(os.environ, NBAPIPE_STATE_URL=url, NBAPIPE_LEASE_TTL_SECONDS=str(TTL))
    cmd = WRITERS[(kind, outage)]
    if kind == "ingest":
        cmd = cmd + [str(data_dir)]

    def start(args):
        return subprocess.Popen([sys.executable, "-m", "nbapipe.cli", "--home", str(home), *args], cwd=REPO_ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start(cmd)
    first_ended = Exit(first)
    _wait_for(lambda: _holding(schema, first.pid) or first.poll() is not None, 120, "the first writer's lease")
    assert first.poll() is None, first.communicate()
    # A second writer queues for the lease before the outage (it goes through the proxy too).
    second = start(["backfill", "--phase", "3", "--start-date", "2021-10-19", "--end-date", "2021-10-25",
                    "--skip-downstream-trigger"])
    _wait_for(lambda: _waiting(schema, second.pid), 60, "the second writer to wait")
    time.sleep(1.0)
    proxy.refuse()
    t_refused = time.time()
    time.sleep(outage)
    proxy.accept()
    first_exit = first_ended.wait(600)
    out1, err1 = first.communicate()
    out2, err2 = second.communicate()
    log = lease_log(schema)

    assert overlaps(log) == []
    first_id = next(e["holder"] for e in log if e["pid"] == first.pid)
    ours = [e for e in log if e["holder"] == first_id]
    assert "Traceback" not in err1 + err2
    if outage == SHORT:
        # Retried through it: both complete, the first held its lease through the outage (it
        # released it after the server came back; whether a renewal fell after the outage
        # depends on how long the rest of the run took).
        assert first.returncode == 0, err1[-2000:]
        assert ours[-1]["op"] == "DELETE" and ours[-1]["at"] > t_refused + outage, ours
    else:
        # Stopped by its heartbeat before the lease lapsed: exit 2, the reason in one line.
        assert first.returncode == 2, (first.returncode, err1[-2000:])
        assert "lost the warehouse lease: could not renew it" in err1 and "stopped before it lapsed" in err1, err1[-6000:]
        last_expiry = max(e["expires_at"] for e in ours)
        assert first_exit < last_expiry, (first_exit - t_refused, last_expiry - t_refused, err1[-3000:])
        assert first_exit < t_refused + TTL            # stopped within a lease of the outage
    # The waiting writer ran after it, without finding the DuckDB file still open.
    assert second.returncode == 0, err2[-2000:]
    assert "has the DuckDB file open" not in err2
    second_id = next(e["holder"] for e in log if e["pid"] == second.pid)
    assert list(dict.fromkeys(e["holder"] for e in log)) == [first_id, second_id]
