"""Every command of docs/backfill-runbook.md, run in order from the repository root on a home
with the real data: each exits as the runbook says (0 unless marked `# exit N`), each `text`
block's lines appear in its commands' output, and the continuous monitor runs beside the
backfill and ends cleanly on Ctrl-C."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field

import pytest

from conftest import copy_home
from nbapipe.config import REPO_ROOT

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

RUNBOOK = REPO_ROOT / "docs" / "backfill-runbook.md"


@dataclass
class Block:
    commands: list[tuple[str, int]]                 # (command, expected exit code)
    expect: list[str] = field(default_factory=list)


def parse(text: str) -> list[Block]:
    """The ```bash blocks in order; a ```text block right after one holds lines it must print."""
    blocks: list[Block] = []
    for kind, body in re.findall(r"```(bash|text)\n(.*?)```", text, flags=re.S):
        if kind == "text":
            blocks[-1].expect += [l.strip() for l in body.splitlines() if l.strip()]
            continue
        commands = []
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.search(r"#\s*exit (\d+)\s*$", line)
            commands.append((line, int(m.group(1)) if m else 0))
        blocks.append(Block(commands))
    return blocks


def test_runbook_parses():
    blocks = parse(RUNBOOK.read_text(encoding="utf-8"))
    commands = [c for b in blocks for c, _ in b.commands]
    assert len(commands) >= 20
    assert any("preflight_check.py" in c for c in commands) and any("verify_backfill_range.py" in c for c in commands)
    assert any("--continuous" in c for c in commands) and any("preflight_verification.sh" in c for c in commands)


def test_every_runbook_command(real_home, tmp_path):
    home = copy_home(real_home, tmp_path / "home")
    env = dict(os.environ, NBAPIPE_HOME=str(home), PATH=f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    env.pop("NBAPIPE_REEXEC", None)
    env.pop("PYTHONPATH", None)
    background: list[tuple[str, subprocess.Popen, object]] = []
    timings = []
    try:
        for block in parse(RUNBOOK.read_text(encoding="utf-8")):
            output = ""
            for command, expected in block.commands:
                if "--continuous" in command:     # "in a second terminal": runs beside the rest
                    log = open(tmp_path / f"bg{len(background)}.log", "w+")
                    background.append((command, subprocess.Popen(["bash", "-c", command], cwd=REPO_ROOT, env=env, stdout=log,
                                                                 stderr=subprocess.STDOUT, text=True, start_new_session=True), log))
                    continue
                t0 = time.time()
                r = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
                timings.append((round(time.time() - t0, 1), command[:90]))
                assert r.returncode == expected, f"{command}\nexit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
                assert "Traceback" not in r.stderr, r.stderr
                output += r.stdout
            flat = " ".join(output.split())
            for line in block.expect:
                assert " ".join(line.split()) in flat, f"expected line not printed: {line}\n--- output ---\n{output[-4000:]}"
        assert background, "the runbook starts the monitor in a second terminal"
        for command, proc, log in background:
            assert proc.poll() is None, f"{command} ended early"
            os.killpg(proc.pid, signal.SIGINT)    # Ctrl-C in that terminal (its own process group)
            assert proc.wait(timeout=120) == 0     # (after its reading: over 30 s on a loaded machine)
            log.seek(0)
            text = log.read()
            assert "backfill progress 2021-22" in text and "Traceback" not in text, text[-3000:]
    finally:
        for _, proc, log in background:
            if proc.poll() is None:
                proc.kill()
            log.close()
        print("\n".join(f"{s:6.1f}s  {c}" for s, c in timings))
