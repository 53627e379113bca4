#!/usr/bin/env bash
# The backfill guide's pre-flight verification: `nbapipe checks` (14 checks; add --quick to skip
# the dry runs and the monitor process). Exit 0 all pass, 1 a failure, 2 only warnings.
root="$(cd "$(dirname "$0")/../.." && pwd)"
nbapipe="$root/.venv/bin/nbapipe"
[ -x "$nbapipe" ] || nbapipe=nbapipe
"$nbapipe" checks "$@"
exit $?
