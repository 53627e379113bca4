"""Make a guide entry script work from the repository root with the system python3:
put src/ on the path and, when the dependencies are not importable there, re-execute the
script under .venv/bin/python (created by `make demo` or `make test`)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

try:
    import duckdb, pyarrow, rich, typer  # noqa: E401,F401
except ImportError:
    venv_python = ROOT / ".venv" / "bin" / "python"
    # Compare prefixes, not executables: the venv's python is a symlink to the same binary.
    in_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    if venv_python.exists() and not in_venv and not os.environ.get("NBAPIPE_REEXEC"):
        os.environ["NBAPIPE_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python), os.path.abspath(sys.argv[0]), *sys.argv[1:]])
    sys.exit("nbapipe's dependencies are not installed: run `make test` or `make demo` once "
             "(they create .venv), then run this script again")
