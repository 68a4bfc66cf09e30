#!/usr/bin/env bash
# probe_store.sh BIN N page|pagecart|bare EVENTS
. $(dirname "${BASH_SOURCE[0]}")/common.sh
BIN=$1 N=$2 STYLE=$3 EV=${4:-10}
dir=$(mktemp -d /tmp/pstore.XXXX)
start_store "$BIN" 4501 "$dir" || exit 1
j=$(curl -s -c $dir/jar localhost:4501/session/token)
tok=$(echo "$j" | json_field token)
cart=$(echo "$j" | json_field cart_id)
args=(--url "ws://127.0.0.1:4501/socket/websocket?vsn=2.0.0&token=$tok" --mode phoenix --topic product:1 --event stock_change --clients $N --events $EV --src-ips 16
  --trigger "http://127.0.0.1:4501/admin/items/1/restock|count=1,http://127.0.0.1:4501/admin/items/1/sell" --auth admin:$PASS --pid $SPID)
case $STYLE in
  page) args+=(--join-payload '{"sizes_shown":true}');;
  pagecart) args+=(--join-payload '{"sizes_shown":true}' --also-topic cart:$cart --also-payload '{"page":"/"}');;
  bare) args+=(--join-payload '{}');;
esac
if [ -n "$PERF" ]; then (sleep ${PERFDELAY:-5}; perf record -F ${PERFHZ:-499} ${PERFCG:---call-graph dwarf} -p $SPID -o $PERF -- sleep ${PERFSECS:-10} >/dev/null 2>&1) & fi
$PROBE "${args[@]}"
kill $SPID; wait $SPID 2>/dev/null; rm -rf $dir
