"""What the benchmarks share: their command line (--data, --json) and the data folder."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbapipe.config import resolve_data_dir


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    return ap


def data_folder(args) -> Path:
    """The real data folder, or exit 2 saying how to give one."""
    try:
        data = resolve_data_dir(args.data)
    except FileNotFoundError as e:
        data, reason = None, str(e)
    else:
        reason = "no data folder (set NBAPIPE_DATA or pass --data)"
    if data is None:
        print(reason, file=sys.stderr)
        raise SystemExit(2)
    return data
