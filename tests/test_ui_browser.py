"""The dashboard in a real browser: Debian's headless Chromium, driven over its DevTools
protocol (`--remote-debugging-pipe`: JSON messages on fds 3 and 4, no websocket library), opens
`nbapipe serve --ui-only` on a home with a finished Phase 3 backfill while a Phase 4 backfill
runs in another process. It checks that sampled cells carry the ledger's status and the
legend's colour, that the progress numbers advance while the backfill runs without the page
being reloaded, that the page asks nothing of any other host, and keeps screenshots under
test-artifacts/. `make test` installs chromium (apt-get); missing, this test fails under
CI=true and skips elsewhere."""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_home
from nbapipe import processors as registry
from nbapipe.config import REPO_ROOT
from nbapipe.state import connect, ledger
from nbapipe.validation.report import COLOURS

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

ARTIFACTS = REPO_ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
         "--window-size=1400,1100"]
SEASON = ("2023-24", "2023-10-24", "2024-06-17")       # the page's default: the last season
NBAPIPE = [sys.executable, "-m", "nbapipe.cli"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Checked before the real-data home is built (a missing browser fails or skips at once)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    msg = "chromium not found: `make test` installs Debian's package (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


class Browser:
    """One headless Chromium and one page, over the DevTools protocol on a pipe."""

    def __init__(self, chromium: str, profile: Path, log: Path):
        to_chrome, self._from_chrome = os.pipe(), os.pipe()
        # Chromium reads commands on fd 3 and writes answers on fd 4: our pipe ends go in as
        # the shell's stdin and stdout, which it moves there (no preexec_fn, unsafe beside threads).
        cmd = ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null',
               chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(cmd, stdin=to_chrome[0], stdout=self._from_chrome[1], stderr=self._log)
        os.close(to_chrome[0])
        os.close(self._from_chrome[1])
        self._w, self._r = to_chrome[1], self._from_chrome[0]
        self._buf, self._id, self.events, self.session = b"", 0, [], None

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for m in self._messages(deadline):
                if m.get("id") == self._id:
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    return m.get("result", {})
                self.events.append(m)

    def _messages(self, deadline: float) -> list[dict]:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self._r], [], [], left)[0]:
            raise TimeoutError("chromium did not answer")
        chunk = os.read(self._r, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed its DevTools pipe (see test-artifacts/chromium.log)")
        self._buf += chunk
        *done, self._buf = self._buf.split(b"\0")
        return [json.loads(m) for m in done]

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Network.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1100, "deviceScaleFactor": 1,
                                                         "mobile": False})
        self.send("Page.navigate", {"url": url})

    def js(self, expression: str):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"page never satisfied: {expression}")

    def screenshot(self, path: Path, height: int | None = None) -> None:
        params = {"format": "png", "captureBeyondViewport": height is None}
        if height:
            params["clip"] = {"x": 0, "y": 0, "width": 1400, "height": height, "scale": 1}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._w)
        os.close(self._r)
        self._log.close()


def _serve(home: Path) -> tuple[subprocess.Popen, str]:
    """`nbapipe serve --ui-only` as the README says, on a free port: (process, url)."""
    proc = subprocess.Popen([*NBAPIPE, "--home", str(home), "serve", "--ui-only", "--port", "0"],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "dashboard: http://127.0.0.1:" in line, line
    return proc, line.split()[1]


PHASE_DONE = "(() => { const r = document.querySelector('tr.phase-row[data-phase=\"%d\"]'); " \
             "return r ? Number(r.dataset.done) : null; })()"
RUNNING_CELLS = "document.querySelectorAll('.cell[data-status=\"running\"]').length"


def _sample(home: Path, phase: int) -> dict[tuple[str, str], str]:
    """The ledger's latest status of every processor of `phase` on sampled dates of the
    season: every 11th day, so game dates, no-game dates and (Phase 4) bootstrap dates."""
    st = connect(home / "state.sqlite", read_only=True)
    try:
        latest = ledger.latest(st, start=dt.date.fromisoformat(SEASON[1]), end=dt.date.fromisoformat(SEASON[2]),
                               phase=phase)
    finally:
        st.close()
    days = sorted({r["game_date"] for r in latest})[::11] + [SEASON[1], "2023-10-25"]
    return {(r["processor"], r["game_date"]): r["status"] for r in latest if r["game_date"] in days}


def _check_cells(browser: Browser, expected: dict[tuple[str, str], str]) -> None:
    """Each sampled cell says the ledger's status and is painted in the legend's colour."""
    keys = sorted(expected)
    got = browser.js("(%s).map(([p, d]) => { const c = document.querySelector("
                     "`.cell[data-processor=\"${p}\"][data-date=\"${d}\"]`); "
                     "return c ? [c.dataset.status, getComputedStyle(c).backgroundColor] : null; })"
                     % json.dumps([list(k) for k in keys]))
    assert len(keys) >= 20 and {expected[k] for k in keys} >= {"success"}
    for key, cell in zip(keys, got):
        assert cell is not None, f"no cell for {key}"
        assert cell == [expected[key], "rgb({}, {}, {})".format(*COLOURS[expected[key]])], (key, cell)


def test_dashboard_in_chromium(chromium, phase3_home, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    home = copy_home(phase3_home, tmp_path / "home")
    server, url = _serve(home)
    browser = Browser(chromium, tmp_path / "profile", ARTIFACTS / "chromium.log")
    backfill = None
    try:
        browser.open(url)
        browser.wait_for("document.body && document.body.dataset.polls >= 1 && document.querySelectorAll('.cell[data-status]').length > 0")
        assert browser.js("document.getElementById('season').value") == SEASON[0]
        _check_cells(browser, _sample(home, 3))                       # the finished backfill
        _check_detail(browser, home, "player_game_summary", "2024-01-15")
        p4_before = browser.js(PHASE_DONE % 4)
        assert p4_before == 0
        browser.js("window.__sameDocument = true")                    # gone if the page reloads

        backfill = subprocess.Popen([*NBAPIPE, "--home", str(home), "backfill", "--phase", "4", "--start-date",
                                     "2021-10-01", "--end-date", "2024-06-30", "--skip-downstream-trigger"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen, shot = [], False
        while backfill.poll() is None:
            done, running = browser.js(PHASE_DONE % 4), browser.js(RUNNING_CELLS)
            seen.append((done, running))
            if running and done and not shot:                         # mid-run: some done, some running
                browser.screenshot(ARTIFACTS / "ui-dashboard-running.png", height=1100)
                shot = True
            time.sleep(0.25)
        assert backfill.returncode == 0
        expected_done = _ledger_done(home, 4)
        browser.wait_for(f"{PHASE_DONE % 4} === {expected_done} && {RUNNING_CELLS} === 0", timeout=15)

        dones = [d for d, _ in seen]
        assert dones == sorted(dones), dones                           # never goes back
        during = {d for d in dones if 0 < d < expected_done}
        assert during, f"no intermediate progress seen while the backfill ran: {seen}"
        assert max(r for _, r in seen) > 0, "no cell was shown running"
        assert browser.js("window.__sameDocument") is True            # live updates, no reload
        _check_cells(browser, _sample(home, 4))                       # the backfill that ran
        browser.screenshot(ARTIFACTS / "ui-dashboard.png")
        # Nothing but the dashboard was asked for (no CDN, works offline).
        urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
        assert urls and all(u.startswith(url) for u in urls), sorted(set(urls))[:5]
    finally:
        if backfill and backfill.poll() is None:
            backfill.kill()
        browser.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def _check_detail(browser: Browser, home: Path, processor: str, day: str) -> None:
    """Clicking a cell pins its ledger entry: rows, expected, source and run as recorded."""
    browser.js(f"document.querySelector('.cell[data-processor=\"{processor}\"][data-date=\"{day}\"]').click()")
    shown = dict(browser.wait_for(f"(() => {{ const d = document.querySelector('#unit-detail[data-date=\"{day}\"]'); "
                                  "return d && [...d.querySelectorAll('dt')].map((t) => "
                                  "[t.textContent, t.nextElementSibling.textContent]); })()"))
    st = connect(home / "state.sqlite", read_only=True)
    try:
        row = ledger.latest(st, dates=[dt.date.fromisoformat(day)], processors=[processor])[0]
    finally:
        st.close()
    assert row["status"] == "success" and row["rows"] > 0
    facts = {"rows": f"{row['rows']:,}", "expected entities": f"{row['expected']:,}", "source": row["source_used"],
             "run": row["run_id"], "status": "complete"}
    assert all(facts.values()) and {k: shown.get(k) for k in facts} == facts, shown


def _ledger_done(home: Path, phase: int) -> int:
    """Phase `phase` units of the page's season whose latest ledger status is success."""
    st = connect(home / "state.sqlite", read_only=True)
    try:
        rows = ledger.latest(st, start=dt.date.fromisoformat(SEASON[1]), end=dt.date.fromisoformat(SEASON[2]),
                             phase=phase)
    finally:
        st.close()
    names = {n for n, p in registry.all_processors().items() if p.phase == phase}
    return sum(r["status"] == "success" and r["processor"] in names for r in rows)
