#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it lacks, then typechecks and runs every test
# (unit, simulation, and integration against real PLC + PDS + Docker engine).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
npx tsc -p . --noEmit
npx vitest run "$@"
