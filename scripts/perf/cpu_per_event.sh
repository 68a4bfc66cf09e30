#!/usr/bin/env bash
# cpu_per_event.sh floor|page|pagecart EV: CPU seconds of the probe and of the server over a whole
# run. Run with EV=1 and EV=21: the difference over 20 is what one event costs each side.
. $(dirname "${BASH_SOURCE[0]}")/common.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KIND=$1 EV=$2 N=19000
sj() { awk '{print ($14+$15)/100}' /proc/$1/stat; }
if [ $KIND = floor ]; then
  PORT=4102 $FLOOR > /dev/null 2>&1 & SPID=$!; sleep 0.5
  args=(--url ws://127.0.0.1:4102/ --mode raw --trigger http://127.0.0.1:4102/trigger)
else
  dir=$(mktemp -d); start_store ${BIN:-$ROOT/target/release/sneakers} 4501 $dir
  j=$(curl -s localhost:4501/session/token); tok=$(echo "$j" | json_field token); cart=$(echo "$j" | json_field cart_id)
  args=(--url "ws://127.0.0.1:4501/socket/websocket?vsn=2.0.0&token=$tok" --mode phoenix --topic product:1 --event stock_change --join-payload '{"sizes_shown":true}'
     --trigger "http://127.0.0.1:4501/admin/items/1/restock|count=1,http://127.0.0.1:4501/admin/items/1/sell" --auth admin:$PASS)
  [ $KIND = pagecart ] && args+=(--also-topic cart:$cart --also-payload '{"page":"/"}')
fi
s0=$(sj $SPID)
out=$( { /usr/bin/time -f "TIME %U %S" $PROBE "${args[@]}" --clients $N --events $EV --src-ips 16 --pid $SPID; } 2>&1 )
s1=$(sj $SPID)
kill $SPID; wait $SPID 2>/dev/null
pc=$(echo "$out" | awk '/^TIME/ {print $2+$3}')
p50=$(echo "$out" | grep '^{' | json_field last_ms_p50)
echo "$KIND EV=$EV probe_cpu=$pc server_cpu=$(echo "$s1 - $s0" | bc) last_p50=$p50"
