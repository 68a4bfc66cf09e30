#!/usr/bin/env bash
# The arrival spread of a crowd of pages reconnecting after a node restart, with the shim's own
# connection code (scripts/perf/reconnect-spread.mjs), then with phoenix.js's back-off for
# comparison. Usage: scripts/perf/reconnect_spread.sh [PAGES] [shim|phoenix|both]
# Builds target/release/sneakers (SNEAKERS_BIN=path uses another build). Needs `ws`
# (npm ci --prefix tests/js). One node holds about 19,000 sockets here (20,000 files).
set -euo pipefail
cd "$(dirname "$0")/../.."
pages=${1:-19000}
which=${2:-both}
if [ ! -d tests/js/node_modules/ws ]; then npm ci --prefix tests/js --no-audit --no-fund --silent; fi
if [ -n "${SNEAKERS_BIN:-}" ]; then bin=$(realpath "$SNEAKERS_BIN"); else
  cargo build --release --quiet --bin sneakers; bin=$PWD/target/release/sneakers; fi
ulimit -n "$(ulimit -Hn)"
for policy in shim phoenix; do
  [ "$which" = both ] || [ "$which" = "$policy" ] || continue
  node --max-old-space-size=4096 scripts/perf/reconnect-spread.mjs --bin "$bin" --pages "$pages" --policy "$policy"
done
