#!/usr/bin/env bash
# Puts `meshlet` on PATH in one step: links scripts/bin/meshlet (which runs the CLI with Node 24
# from .tools/, see that file) into the first writable of ~/.local/bin and /usr/local/bin.
# Without linking anything: export PATH="$PWD/scripts/bin:$PATH"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for dir in "$HOME/.local/bin" /usr/local/bin; do
  if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then
    ln -sf "$ROOT/scripts/bin/meshlet" "$dir/meshlet"
    echo "linked $dir/meshlet -> $ROOT/scripts/bin/meshlet" >&2
    case ":$PATH:" in *":$dir:"*) ;; *) echo "note: $dir is not on your PATH: export PATH=\"$dir:\$PATH\"" >&2 ;; esac
    exit 0
  fi
done
echo "no writable ~/.local/bin or /usr/local/bin; use: export PATH=\"$ROOT/scripts/bin:\$PATH\"" >&2
exit 1
