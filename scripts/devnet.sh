#!/usr/bin/env bash
# A local commune that stays up until Ctrl-C: PLC, 2 PDS, 3 meshlet peers and the Docker engine,
# on fixed loopback ports, state kept in .meshlet-dev/ between runs. Installs what it lacks first
# (scripts/bootstrap.sh). The printed variables put scripts/bin (the `meshlet` command) on PATH.
#   bash scripts/devnet.sh [meshlet dev flags]      e.g. --peers 2, --fresh, --plc-port 3582
#   bash scripts/devnet.sh env alice                alice's variables, for: eval "$(...)"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = env ]; then
  # Fast path for eval: no install check, just the member's file (or the reason there is none).
  . "$ROOT/scripts/bootstrap.sh" 2>/dev/null >/dev/null || true
  exec node "$ROOT/bin/meshlet.mjs" dev "$@"
fi
. "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec node bin/meshlet.mjs dev "$@"
