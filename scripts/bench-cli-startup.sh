#!/usr/bin/env bash
# Client command start-up: median wall time of N runs of commands that do no network I/O, so the
# figure is start-up alone (Node, tsx, module loading, argument parsing).
#   bash scripts/bench-cli-startup.sh [N=15]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-15}
NODE=${NODE:-node}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
measure() {
  local label=$1; shift
  local t
  for _ in $(seq "$N"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
  done | median | xargs printf '%-58s %6s ms\n' "$label"
}
echo "node $($NODE --version), N=$N, load average $(cut -d' ' -f1-3 /proc/loadavg)"
measure "node -e '' (the floor)" "$NODE" -e ''
measure "meshlet --help (loads the client help)" "$NODE" "$ROOT/bin/meshlet.mjs" --help
measure "meshlet ls --bogus (client commands module, flag error)" "$NODE" "$ROOT/bin/meshlet.mjs" ls --bogus
measure "meshlet ls (no credentials: usage error, exit 2)" env -u MESHLET_USER -u MESHLET_OWNER "$NODE" "$ROOT/bin/meshlet.mjs" ls
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
