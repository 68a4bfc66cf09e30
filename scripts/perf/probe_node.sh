#!/usr/bin/env bash
# probe_node.sh ws|socketio N EVENTS
. $(dirname "${BASH_SOURCE[0]}")/common.sh
KIND=$1 N=$2 EV=${3:-10}
cd ${PEERS:-/work/perf/peers} && PORT=4103 exec node $KIND-peer.mjs > /tmp/node.log 2>&1 & NP=$!
for i in $(seq 50); do curl -s -o /dev/null localhost:4103/ && break; sleep 0.1; done; sleep 0.5
if [ $KIND = ws ]; then
  $PROBE --url ws://127.0.0.1:4103/ --mode raw --trigger http://127.0.0.1:4103/trigger --clients $N --events $EV --src-ips 16 --pid $NP
else
  $PROBE --url 'ws://127.0.0.1:4103/socket.io/?EIO=4&transport=websocket' --mode socketio --topic product:1 --trigger http://127.0.0.1:4103/trigger --clients $N --events $EV --src-ips 16 --pid $NP
fi
kill $NP; wait $NP 2>/dev/null
