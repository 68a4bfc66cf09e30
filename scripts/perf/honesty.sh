#!/usr/bin/env bash
# honesty.sh N EVENTS ROUNDS: issue 11 item 7, the project's bench against the shared probe on
# the same server. Store: one store process; the probe (page join) and `sneakers-bench fanout
# --no-floor --url` take turns on it. Floor: the probe against the bench's own floor
# (`sneakers-bench baseline-server`), then `sneakers-bench fanout --baseline`, which spawns it.
. $(dirname "${BASH_SOURCE[0]}")/common.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$ROOT/target/release/sneakers; BENCH=$ROOT/target/release/sneakers-bench
N=${1:-19000} EV=${2:-11} R=${3:-2}
p50() { echo "$(json_field last_ms_p50) ms"; }
dir=$(mktemp -d /tmp/honesty.XXXX)
start_store "$B" 4501 "$dir" || exit 1
for r in $(seq $R); do
  tok=$(curl -s localhost:4501/session/token | json_field token)
  echo "store r$r probe: $($PROBE --url "ws://127.0.0.1:4501/socket/websocket?vsn=2.0.0&token=$tok" --mode phoenix --topic product:1 \
    --event stock_change --clients $N --events $EV --src-ips 16 --join-payload '{"sizes_shown":true}' \
    --trigger "http://127.0.0.1:4501/admin/items/1/restock|count=1,http://127.0.0.1:4501/admin/items/1/sell" \
    --auth admin:$PASS --pid $SPID | p50)"; sleep 20
  echo "store r$r bench: $(ADMIN_USERNAME=admin ADMIN_PASSWORD=$PASS $BENCH fanout --clients $N --events $EV --no-floor \
    --url http://127.0.0.1:4501 --pid $SPID 2>/dev/null | grep -E 'last client p50' | awk '{print $(NF-1), $NF}')"; sleep 20
done
kill $SPID; wait $SPID 2>/dev/null; rm -rf $dir
for r in $(seq $R); do
  $BENCH baseline-server --port 4103 > /dev/null 2>&1 & BP=$!
  for i in $(seq 50); do curl -s -o /dev/null localhost:4103/ && break; sleep 0.1; done
  echo "floor r$r probe: $($PROBE --url ws://127.0.0.1:4103/ --mode raw --trigger http://127.0.0.1:4103/trigger \
    --clients $N --events $EV --src-ips 16 --pid $BP | p50)"
  kill $BP; wait $BP 2>/dev/null; sleep 20
  echo "floor r$r bench: $($BENCH fanout --baseline --clients $N --events $EV 2>/dev/null | grep -E 'last client p50' | awk '{print $(NF-1), $NF}')"; sleep 20
done
