#!/usr/bin/env bash
# nodes.sh BIN NODES N EVENTS: NODES stores on one PostgreSQL, N page+cart shoppers per node;
# sales on node 1, timed at node 2 (or node 1 when NODES=1); the other nodes' shoppers are held
# by probes whose own trigger does nothing. COST=1: also what one sale costs
# the whole machine (event_cost in common.sh).
. $(dirname "${BASH_SOURCE[0]}")/common.sh
BIN=$1 NODES=$2 N=$3 EV=${4:-10}
DB=$($(dirname "${BASH_SOURCE[0]}")/pg.sh)
dir=$(mktemp -d /tmp/nodes.XXXX)
(cd $dir && DATABASE_URL=$DB SECRET_KEY_BASE=$(printf 'k%.0s' $(seq 70)) ADMIN_USERNAME=admin ADMIN_PASSWORD=$PASS $BIN seed --reset >/dev/null 2>&1) || { echo seed failed; exit 1; }
pids=()
for k in $(seq $NODES); do start_store "$BIN" $((4510+k)) $dir $DB || exit 1; pids+=($SPID); done
read PID_ ITEM < <(curl -s -u admin:$PASS localhost:4511/admin/inventory | python3 -c '
import json,sys
d=json.load(sys.stdin)
p=[p for p in d["products"] if p["released"]][0]
i=([i for i in p["items"] if i["available_count"]==0] or p["items"])[0]
print(p["id"], i["id"])')
echo "product $PID_, item $ITEM" >&2
timed=$([ $NODES = 1 ] && echo 1 || echo 2)
probe_args() { # node events trigger
  local port=$((4510+$1))
  local j=$(curl -s -c $dir/jar$1 localhost:$port/session/token)
  local tok=$(echo "$j" | json_field token)
  local cart=$(echo "$j" | json_field cart_id)
  echo "--url ws://127.0.0.1:$port/socket/websocket?vsn=2.0.0&token=$tok --mode phoenix --topic product:$PID_ --event stock_change --clients $N --events $2 --src-ips 16 --join-payload {\"sizes_shown\":true} --also-topic cart:$cart --also-payload {\"page\":\"/\"} --trigger $3 --auth admin:$PASS --pid ${pids[$(($1-1))]}"
}
holders=()
for k in $(seq $NODES); do
  [ $k = $timed ] && continue
  $PROBE $(probe_args $k 120 http://127.0.0.1:9/none) > $dir/holder$k.json 2>&1 & holders+=($!)
done
# let the holders connect before the timed probe starts
sleep $(( NODES > 1 ? 12 : 0 ))
pub0=$(curl -s -u admin:$PASS localhost:4511/metrics | awk '/^sneakers_cluster_published_total/ {print $2}')
echo "timed probe: $(probe_args $timed 1 x)" | cut -c1-150 >&2; $PROBE $(probe_args $timed $EV "http://127.0.0.1:4511/admin/items/$ITEM/restock|count=1,http://127.0.0.1:4511/admin/items/$ITEM/sell")
pub1=$(curl -s -u admin:$PASS localhost:4511/metrics | awk '/^sneakers_cluster_published_total/ {print $2}')
echo "node 1 cluster messages published during the timed run: ${pub0:-0} -> ${pub1:-0} (for $EV sales)"
for k in $(seq $NODES); do echo "node $k rss $(awk '/VmRSS/ {print $2}' /proc/${pids[$((k-1))]}/status) KiB, sockets $(ls /proc/${pids[$((k-1))]}/fd | wc -l) fds"; done
cost_run() { $PROBE $(probe_args $timed $1 "http://127.0.0.1:4511/admin/items/$ITEM/restock|count=1,http://127.0.0.1:4511/admin/items/$ITEM/sell"); }
# The timed run's EVENTS must be even too: the cost runs expect the item at 0 pairs.
[ -n "$COST" ] && event_cost cost_run
kill ${holders[@]} 2>/dev/null; kill ${pids[@]}; wait 2>/dev/null; grep -iE "warn|error" $dir/log.4511 | tail -3 >&2; rm -rf $dir
