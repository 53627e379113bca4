"""The README's tour, run as documented: every fenced block marked `<!-- doc-test -->` is run in
order on one home with the real data (a copy of the session's ingested home), from the
repository root. A line starting with `$ ` is a command (it must exit 0 unless it ends in
`# exit N`); the lines after it are what it prints, and each must appear in its output, with
only run ids, timings and the ingest counts (which depend on what the home had) masked. So a
documented output that drifts fails here (as tests/test_runbook.py does for the runbook)."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

import pytest

from conftest import copy_home
from nbapipe.config import REPO_ROOT

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

README = REPO_ROOT / "README.md"
MARK = "<!-- doc-test -->"


@dataclass
class Step:
    command: str
    code: int = 0
    expect: list[str] = field(default_factory=list)


def parse(text: str) -> list[Step]:
    steps: list[Step] = []
    for body in re.findall(re.escape(MARK) + r"\s*```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in body.splitlines():
            if line.startswith("$ "):
                m = re.search(r"#\s*exit (\d+)\s*$", line)
                command = re.sub(r"\s+#.*$", "", line[2:]).strip()
                steps.append(Step(command, int(m.group(1)) if m else 0))
            elif line.strip() and steps:
                steps[-1].expect.append(line)
    return steps


def normalise(text: str) -> str:
    """Whitespace collapsed; run ids, seconds and ingest counts masked."""
    text = re.sub(r"\d{8}T\d{6}-[0-9a-f]{8}", "RUN", text)
    text = re.sub(r"\(ingest [^)]*\)", "(ingest ...)", text)
    text = re.sub(r"\b\d+(\.\d+)?s\b", "Ns", text)
    text = re.sub(r"^data: \S+", "data: DIR", text, flags=re.M)
    return " ".join(text.split())


def test_readme_parses():
    steps = parse(README.read_text(encoding="utf-8"))
    commands = [s.command for s in steps]
    assert any(c.startswith("nbapipe quickstart") for c in commands)
    assert any(c.startswith("nbapipe predict") for c in commands) and any(c.startswith("nbapipe grade") for c in commands)
    assert sum(len(s.expect) for s in steps) >= 20


def test_readme_tour_prints_what_it_documents(real_home, tmp_path):
    home = copy_home(real_home, tmp_path / "home")
    env = dict(os.environ, NBAPIPE_HOME=str(home), PATH=f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    for k in ("NBAPIPE_REEXEC", "PYTHONPATH", "NBAPIPE_ENGINE"):
        env.pop(k, None)
    for step in parse(README.read_text(encoding="utf-8")):
        r = subprocess.run(["bash", "-c", step.command], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == step.code, f"{step.command}\nexit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        assert "Traceback" not in r.stderr, r.stderr
        printed = normalise(r.stdout + "\n" + r.stderr)
        for line in step.expect:
            assert normalise(line) in printed, f"{step.command}: documented line not printed:\n{line}\n--- printed ---\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
