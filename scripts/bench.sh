#!/usr/bin/env bash
# The benchmarks on a fresh machine: installs what it lacks (Node 24, npm dependencies, the Docker
# engine, the busybox image and the loopback registry), then runs `npm run bench` and writes
# BENCHMARKS.md. Arguments go to the bench: scripts/bench.sh --quick, --n 30, --no-swarm, --help.
# Swarm is initialised on loopback for the baseline and always left again (also on Ctrl-C).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec npx tsx bench/run.ts "$@"
