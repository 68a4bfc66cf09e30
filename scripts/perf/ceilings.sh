#!/usr/bin/env bash
# The cluster's two ceilings, on NOTIFY and on Redis, side by side in one sitting, each on a
# throwaway PostgreSQL and redis-server started here:
#
#   scripts/perf/ceilings.sh [bus|checkout|cpu|all]
#
# bus:      `sneakers-bench bus-ceiling` on NOTIFY, then on Redis: sales per second rising
#           (RATES, default 25,50,100,200,400,800; SECS per rate, default 5) on one node and on
#           NODES (default 3); the ceiling is the highest rate at which every node's pages show
#           each change within 1.2x of the single node's median delay.
# checkout: `sneakers-bench checkout` with BUYERS (default 64) buyers at once for as many pairs,
#           on NOTIFY and on Redis (paid orders per second), then pgbench running a transaction
#           of the same shape (an order, its line and its event written, the pair's guarded
#           decrement last) with as many clients for PGBENCH_SECS (default 10): the database's
#           own limit.
# cpu:      `sneakers-bench fanout` on 2 nodes, CLIENTS (default 2000) shoppers split over them
#           and EVENTS (default 101) sales on the first, on NOTIFY and on Redis: each node's
#           server CPU per delivery (the second node's includes hearing every sale on the bus).
#
# A measurement, not a test: run it on a quiet machine. Builds target/release (both binaries);
# SNEAKERS_BIN=path uses another build of the store (sneakers-bench is taken from beside it).
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
nodes=${NODES:-3}
buyers=${BUYERS:-64}

if [ -n "${SNEAKERS_BIN:-}" ]; then
  bin=$(realpath "$SNEAKERS_BIN")
else
  echo "== cargo build --release --workspace" >&2
  cargo build --release --quiet --workspace
  bin=$PWD/target/release/sneakers
fi
bench=$(dirname "$bin")/sneakers-bench
[ -x "$bench" ] || { echo "error: no sneakers-bench beside $bin: cargo build --workspace" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "error: redis-server is missing: apt-get install redis-server" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
pg_bin=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pg_bin" ] && [ -f "$tmp/pg/PG_VERSION" ]; then runuser -u postgres -- "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A throwaway PostgreSQL (initdb refuses root: it runs as postgres), with room for the nodes'
# pools; sets pg_url, pg_port. Not in a subshell: cleanup needs pg_bin.
start_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$pg_bin/initdb" ] || { echo "error: no PostgreSQL server binaries: apt-get install postgresql" >&2; exit 1; }
  pg_port=$(free_port)
  mkdir -p "$tmp/pg" && chown postgres "$tmp" "$tmp/pg"
  runuser -u postgres -- "$pg_bin/initdb" -D "$tmp/pg" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/log" -w \
    -o "-p $pg_port -k $tmp/pg -h 127.0.0.1 -c max_connections=300" start >/dev/null
  runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres ceilings
  pg_url="postgres://postgres@127.0.0.1:$pg_port/ceilings?sslmode=disable"
}

# A throwaway redis-server, nothing persisted; sets redis_url.
start_redis() {
  local port; port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --loglevel warning > "$tmp/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis_url="redis://127.0.0.1:$port/0"
}

start_postgres
start_redis
echo "PostgreSQL $pg_url, Redis $redis_url, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

bus() {
  local rates=(); [ -n "${RATES:-}" ] && rates=(--rates "$RATES")
  for bus in notify redis; do
    local redis=(); [ "$bus" = redis ] && redis=(--redis-url "$redis_url")
    echo "== bus ceiling on $bus"
    "$bench" --server-bin "$bin" bus-ceiling --database-url "$pg_url" "${redis[@]}" \
      --nodes "$nodes" --seconds "${SECS:-5}" "${rates[@]}"
  done
}

checkout() {
  for bus in notify redis; do
    local redis=(); [ "$bus" = redis ] && redis=(--redis-url "$redis_url")
    echo "== checkout: $buyers buyers at once on $bus"
    "$bench" --server-bin "$bin" checkout --database-url "$pg_url" "${redis[@]}" \
      --buyers "$buyers" --stock "$buyers" --concurrency "$buyers"
  done
  echo "== pgbench: the checkout's transaction, $buyers clients"
  local psql=(psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -d ceilings -tA)
  local item; item=$("${psql[@]}" -c "select item_id from item_availabilities order by item_id limit 1")
  "${psql[@]}" -c "update item_availabilities set available_count = 900000000 where item_id = $item"
  cat > "$tmp/checkout.sql" <<SQL
BEGIN;
INSERT INTO orders (cart_id, total_cents, node) VALUES ('pgbench', 18000, 'pgbench') RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, item_id, price_cents) VALUES (:order_id, $item, 18000);
INSERT INTO order_events (order_id, state) VALUES (:order_id, 'paid');
UPDATE item_availabilities SET available_count = available_count - 1, version = version + 1, updated_at = now() WHERE item_id = $item AND available_count >= 1 RETURNING available_count, version;
COMMIT;
SQL
  "$pg_bin/pgbench" -n -h 127.0.0.1 -p "$pg_port" -U postgres -c "$buyers" -j 2 \
    -T "${PGBENCH_SECS:-10}" -f "$tmp/checkout.sql" ceilings | grep -E 'tps|latency|transactions'
}

cpu() {
  for bus in notify redis; do
    local redis=(); [ "$bus" = redis ] && redis=(--redis-url "$redis_url")
    echo "== CPU per delivery on $bus: ${CLIENTS:-2000} shoppers on 2 nodes, ${EVENTS:-101} sales on the first"
    "$bench" --server-bin "$bin" fanout --clients "${CLIENTS:-2000}" --events "${EVENTS:-101}" \
      --nodes 2 --no-floor --database-url "$pg_url" "${redis[@]}"
  done
}

case $what in
  bus) bus ;;
  checkout) checkout ;;
  cpu) cpu ;;
  all) bus; checkout; cpu ;;
  *) echo "usage: $0 [bus|checkout|cpu|all]" >&2; exit 2 ;;
esac
