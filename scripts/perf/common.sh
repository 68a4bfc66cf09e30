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
