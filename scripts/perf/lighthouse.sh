#!/usr/bin/env bash
# Lighthouse (mobile profile, simulated throttling) on `/` and a product page of a fresh, seeded
# store: performance, accessibility and best-practices scores, on SQLite and on PostgreSQL.
# A measurement, not a test: run it on a quiet machine (Lighthouse times the page).
#
#   scripts/perf/lighthouse.sh [sqlite|postgres|both] [RUNS]
#
# Builds target/release/sneakers, installs Lighthouse 12.2.3 (scripts/perf/lighthouse, pinned
# with its lock; 12.2.3 runs on Node 20) and drives /usr/bin/chromium. PostgreSQL: the store
# named by DATABASE_URL (reset and seeded!), or a throwaway server started from the local
# binaries as the postgres user. Each page is audited RUNS times (default 3); the median score
# is reported. Reports land in target/lighthouse/. SNEAKERS_BIN=path uses that build instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
which=${1:-both}
runs=${2:-3}
out=$PWD/target/lighthouse
mkdir -p "$out"

[ -x /usr/bin/chromium ] || { echo "error: /usr/bin/chromium is missing: apt-get install chromium" >&2; exit 1; }
command -v node >/dev/null || { echo "error: node is missing: apt-get install nodejs npm" >&2; exit 1; }
if [ ! -x scripts/perf/lighthouse/node_modules/.bin/lighthouse ]; then
  echo "== npm ci --prefix scripts/perf/lighthouse" >&2
  npm ci --prefix scripts/perf/lighthouse --no-audit --no-fund --silent
fi
# SNEAKERS_BIN names another build (e.g. target/debug/sneakers for a quick look).
if [ -n "${SNEAKERS_BIN:-}" ]; then
  bin=$(realpath "$SNEAKERS_BIN")
else
  echo "== cargo build --release --bin sneakers" >&2
  cargo build --release --quiet --bin sneakers
  bin=$PWD/target/release/sneakers
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_bin" ] && [ -f "$tmp/pg/PG_VERSION" ]; then runuser -u postgres -- "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A throwaway PostgreSQL (initdb refuses root: it runs as postgres); sets pg_url. Not run in a
# subshell: cleanup needs pg_bin to stop it.
pg_bin=
start_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$pg_bin/initdb" ] || { echo "error: no PostgreSQL server binaries: apt-get install postgresql" >&2; exit 1; }
  local port; port=$(free_port)
  mkdir -p "$tmp/pg" && chown postgres "$tmp" "$tmp/pg"
  runuser -u postgres -- "$pg_bin/initdb" -D "$tmp/pg" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/log" -w \
    -o "-p $port -k $tmp/pg -h 127.0.0.1" start >/dev/null
  runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres lighthouse
  pg_url="postgres://postgres@127.0.0.1:$port/lighthouse?sslmode=disable"
}

# audit NAME URL: RUNS Lighthouse runs; prints the median of each category's score.
audit() {
  local name=$1 url=$2 i
  for i in $(seq "$runs"); do
    CHROME_PATH=/usr/bin/chromium scripts/perf/lighthouse/node_modules/.bin/lighthouse "$url" \
      --quiet --output=json --output-path="$out/$name.$i.json" \
      --only-categories=performance,accessibility,best-practices \
      --chrome-flags="--headless=new --no-sandbox --disable-dev-shm-usage" >/dev/null 2>"$out/$name.$i.log" \
      || { echo "lighthouse failed on $url (see $out/$name.$i.log)" >&2; return 1; }
  done
  node -e '
    const fs = require("fs");
    const [name, runs, dir] = process.argv.slice(1);
    const reports = [...Array(Number(runs)).keys()].map(i => JSON.parse(fs.readFileSync(`${dir}/${name}.${i + 1}.json`)));
    const median = xs => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const line = ["performance", "accessibility", "best-practices"].map(c =>
      `${c} ${Math.round(100 * median(reports.map(r => r.categories[c].score)))}`);
    const m = id => median(reports.map(r => r.audits[id].numericValue));
    console.log(`${name}: ${line.join(", ")} (median of ${runs}; FCP ${Math.round(m("first-contentful-paint"))} ms, LCP ${Math.round(m("largest-contentful-paint"))} ms, TBT ${Math.round(m("total-blocking-time"))} ms, CLS ${m("cumulative-layout-shift").toFixed(3)})`);
  ' "$name" "$runs" "$out"
}

# run_store KIND DATABASE_URL: a seeded store, both pages audited, the store stopped.
run_store() {
  local kind=$1 db=$2 port secrets
  port=$(free_port)
  DATABASE_URL=$db "$bin" migrate >/dev/null
  DATABASE_URL=$db "$bin" seed --reset >/dev/null
  (cd "$tmp" && RATE_LIMIT=off PORT=$port HOST=127.0.0.1 DATABASE_URL=$db \
    SECRET_KEY_BASE=$(printf 'k%.0s' $(seq 70)) ADMIN_USERNAME=admin ADMIN_PASSWORD=lighthouse-admin \
    exec "$bin" serve >"$out/store-$kind.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the store did not start (see $out/store-$kind.log)" >&2; exit 1; }
  local product
  product=$(curl -s -u admin:lighthouse-admin "http://127.0.0.1:$port/admin/inventory" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).products.find(p=>p.released).id))')
  audit "$kind-index" "http://127.0.0.1:$port/"
  audit "$kind-product" "http://127.0.0.1:$port/products/$product"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

case $which in
  sqlite|both) run_store sqlite "sqlite://$tmp/lighthouse.db" ;;&
  postgres|both)
    if [ -n "${DATABASE_URL:-}" ]; then pg_url=$DATABASE_URL; else start_postgres; fi
    run_store postgres "$pg_url" ;;
  sqlite) ;;
  *) echo "usage: scripts/perf/lighthouse.sh [sqlite|postgres|both] [RUNS]" >&2; exit 2 ;;
esac
