#!/usr/bin/env bash
# floors.sh K N EVENTS: the physical bound behind issue 11's three-node target. K bare axum
# floors on one machine, N probe clients each, every trigger fanned out to all K floors at once
# (a tiny proxy), timed at floor 2 (floor 1 when K=1): what K x N deliveries cost these cores
# with no store, no database and no cluster bus at all. COST=1: also what one trigger costs the
# whole machine (event_cost in common.sh), on stderr.
. $(dirname "${BASH_SOURCE[0]}")/common.sh
K=$1 N=$2 EV=${3:-10}
ports=(); pids=()
for k in $(seq $K); do
  p=$((4120+k)); PORT=$p $FLOOR > /tmp/floor.$p.log 2>&1 & pids+=($!); ports+=($p)
done
python3 - "${ports[@]}" > /tmp/floors.proxy.log 2>&1 <<'PY' & PROXY=$!
import sys, threading, urllib.request
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
ports = sys.argv[1:]
def fire(p): urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{p}/trigger", data=b"", method="POST")).read()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        ts = [threading.Thread(target=fire, args=(p,)) for p in ports]
        [t.start() for t in ts]; [t.join() for t in ts]
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", 4199), H).serve_forever()
PY
for p in "${ports[@]}" 4199; do for i in $(seq 50); do curl -s -o /dev/null localhost:$p/ && break; sleep 0.1; done; done
timed=$([ $K = 1 ] && echo 1 || echo 2)
holders=()
for k in $(seq $K); do
  [ $k = $timed ] && continue
  $PROBE --url ws://127.0.0.1:${ports[$((k-1))]}/ --mode raw --trigger http://127.0.0.1:9/none --clients $N --events 120 --src-ips 16 > /tmp/floors.holder$k.json 2>&1 & holders+=($!)
done
sleep $(( K > 1 ? 12 : 0 ))
timed_run() { $PROBE --url ws://127.0.0.1:${ports[$((timed-1))]}/ --mode raw --trigger http://127.0.0.1:4199/ --clients $N --events $1 --src-ips 16 --pid ${pids[$((timed-1))]}; }
timed_run $EV
[ -n "$COST" ] && event_cost timed_run >&2
kill ${holders[@]} $PROXY ${pids[@]} 2>/dev/null; wait 2>/dev/null
