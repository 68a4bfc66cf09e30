#!/usr/bin/env bash
# probe_floor.sh N EVENTS
. $(dirname "${BASH_SOURCE[0]}")/common.sh
N=$1; EV=${2:-10}
PORT=4102 $FLOOR > /tmp/floor.log 2>&1 & FP=$!
for i in $(seq 50); do curl -s -o /dev/null localhost:4102/ && break; sleep 0.1; done; sleep 0.3
$PROBE --url ws://127.0.0.1:4102/ --mode raw --trigger http://127.0.0.1:4102/trigger --clients $N --events $EV --src-ips 16 --pid $FP
kill $FP; wait $FP 2>/dev/null
