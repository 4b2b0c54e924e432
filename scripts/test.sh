#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it lacks, then typechecks and runs every test
# (unit, simulation, and integration against real PLC + PDS + Docker engine).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
npx tsc -p . --noEmit
# The layering rules (.dependency-cruiser.cjs; docs/architecture.md): seconds, and a readable list of
# the imports that break them.
npx depcruise src --config .dependency-cruiser.cjs --output-type err
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi
# Everything that can share the machine runs in parallel; tests that restart the Docker engine or
# need the whole machine run after it, one file at a time.
npx vitest run --exclude 'test/serial/**'
if [ -d test/serial ] && ls test/serial/*.test.ts >/dev/null 2>&1; then
  npx vitest run test/serial --maxWorkers=1
fi
