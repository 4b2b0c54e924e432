#!/usr/bin/env bash
# Regenerates src/lexicons/ (types + validators) from lexicons/*.json: the JSON is the single source of truth.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/check-node.mjs
npx lex build --lexicons ./lexicons --out ./src/lexicons --clear --index-file --pretty false
