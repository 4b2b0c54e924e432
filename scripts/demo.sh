#!/usr/bin/env bash
# The main job: a local commune (PLC + 2 PDS + 3 meshlet peers + the Docker engine) that schedules
# and runs a workload published from a plain AT client, printing what each peer does.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec npx tsx src/demo/commune.ts "$@"
