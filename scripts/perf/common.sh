PROBE=/work/target-tools/release/fanout-probe
FLOOR=/work/target-tools/release/axum-floor
PASS=benchpass-1234567
# start_store BIN PORT DIR [DATABASE_URL]: starts a store, sets $SPID
start_store() {
  local bin=$1 port=$2 dir=$3 db=${4:-sqlite://$3/s.db}
  mkdir -p "$dir"
  (cd "$dir" && RATE_LIMIT=off PORT=$port DATABASE_URL=$db SECRET_KEY_BASE=$(printf 'k%.0s' $(seq 70)) ADMIN_USERNAME=admin ADMIN_PASSWORD=$PASS NODE_NAME=n$port exec "$bin" serve > "$dir/log.$port" 2>&1) &
  SPID=$!
  for i in $(seq 150); do curl -sf "localhost:$port/healthz" >/dev/null && return 0; sleep 0.2; done
  echo "store on $port did not start" >&2; kill $SPID; cat "$dir/log.$port" >&2; return 1
}
# json_field FIELD: FIELD of the JSON object on stdin (the last line, for the probe's output)
json_field() { python3 -c 'import json,sys;v=json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]];print(round(v,1) if isinstance(v,float) else v)' "$1"; }
# event_cost RUN: `RUN EVENTS` runs a timed probe of EVENTS events. Prints what one event costs the
# whole machine (servers, probes, PostgreSQL, the kernel): busy CPU over a run of 22 events minus
# one of 2, over 20, less what the machine burns idle for the extra run time. Over the two cores:
# how long that work keeps the whole machine busy, to set beside the measured last-client time
# (the run is CPU-bound when they match). Each run starts on a quiet machine: after a probe exits,
# the servers spend seconds closing its sockets, which must not count as idle. Even counts, so a
# sell/restock trigger leaves the item where it found it.
event_cost() {
  local run=$1 b0 t0 idle per
  busy() { awk '/^cpu / {print ($2+$3+$4+$7+$8+$9)/100}' /proc/stat; }
  now() { date +%s.%N; }
  # quiet: waits (at most 30 s) for a second in which the machine uses under 0.2 cores; sets idle.
  quiet() {
    local i b
    for i in $(seq 30); do
      b=$(busy); sleep 1; idle=$(echo "$(busy) - $b" | bc -l)
      [ $(echo "$idle < 0.2" | bc) = 1 ] && return
    done
  }
  for ev in 2 22; do
    quiet; b0=$(busy); t0=$(now)
    $run $ev > /tmp/event_cost.$ev.json
    eval "local cpu$ev=$(echo "$(busy) - $b0" | bc) wall$ev=$(echo "$(now) - $t0" | bc)"
  done
  per=$(echo "(($cpu22 - $cpu2) - $idle * ($wall22 - $wall2)) / 20" | bc -l)
  printf 'machine CPU per event: %.3f s (22 events %.2f s in %.1f s, 2 events %.2f s in %.1f s, idle %.3f cores), %.0f ms of both cores; last p50 over the 22: %s ms\n' \
    $per $cpu22 $wall22 $cpu2 $wall2 $idle $(echo "$per * 500" | bc -l) $(json_field last_ms_p50 < /tmp/event_cost.22.json)
}
# fanout_target floor|pagecart [BIN]: starts the bare floor or a store (page + cart joins) and sets
# $SPID and FANOUT_ARGS, the probe's arguments for it (without --clients/--events).
fanout_target() {
  if [ $1 = floor ]; then
    PORT=4102 $FLOOR > /dev/null 2>&1 & SPID=$!; sleep 0.5
    FANOUT_ARGS=(--url ws://127.0.0.1:4102/ --mode raw --trigger http://127.0.0.1:4102/trigger)
  else
    local dir j tok cart
    dir=$(mktemp -d); start_store "$2" 4501 $dir || return 1
    j=$(curl -s localhost:4501/session/token); tok=$(echo "$j" | json_field token); cart=$(echo "$j" | json_field cart_id)
    FANOUT_ARGS=(--url "ws://127.0.0.1:4501/socket/websocket?vsn=2.0.0&token=$tok" --mode phoenix --topic product:1 --event stock_change --join-payload '{"sizes_shown":true}'
       --trigger "http://127.0.0.1:4501/admin/items/1/restock|count=1,http://127.0.0.1:4501/admin/items/1/sell" --auth admin:$PASS --also-topic cart:$cart --also-payload '{"page":"/"}')
  fi
}
