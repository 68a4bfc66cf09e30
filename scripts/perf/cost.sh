#!/usr/bin/env bash
# cost.sh BIN PATH [ROUNDS]: the store's CPU per request (us, all threads) and req/s under
# wrk -t2 -c64 for 5 s, plain and gzip, returning visitor; the steadiest figure for comparing
# two builds of the same page (req/s also moves with wrk's share of the 2 cores).
. $(dirname "${BASH_SOURCE[0]}")/common.sh
BIN=$1 P=$2 ROUNDS=${3:-3}
dir=$(mktemp -d /tmp/cost.XXXX)
start_store "$BIN" 4503 "$dir" || exit 1
curl -s -c $dir/jar -o /dev/null localhost:4503/
cookie=$(awk '{sub(/^#HttpOnly_/,"",$1)} !/^# / && NF>=7 {printf "%s=%s; ", $6, $7}' $dir/jar)
ticks() { awk '{print $14+$15}' /proc/$SPID/stat; }
run() {
  local t0 t1 rps
  t0=$(ticks)
  rps=$(wrk -t2 -c64 -d5s -H "Cookie: $cookie" "$@" http://127.0.0.1:4503$P | awk '/Requests\/sec/ {print $2}')
  t1=$(ticks)
  python3 -c "import sys; r=float(sys.argv[1]); print(f'{r:8.0f} req/s {(int(sys.argv[3])-int(sys.argv[2]))*1e6/100/(r*5):6.1f} us/req')" "$rps" "$t0" "$t1"
}
for i in $(seq $ROUNDS); do
  echo "plain $(run)   gzip $(run -H 'Accept-Encoding: gzip, deflate, br, zstd')"
done
kill $SPID; wait $SPID 2>/dev/null; rm -rf $dir
