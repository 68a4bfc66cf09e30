#!/usr/bin/env bash
# instr.sh BIN PATH N [gzip]: callgrind instructions of the store (all threads) per request, for N
# keep-alive GETs as a returning visitor. A second run makes 10 requests and then idles as long
# as the first run's requests took, so the store's clocks (figures, a ticking countdown's
# re-render) are subtracted too: repeatable where req/s moves by a third. BIN must be an absolute
# path. valgrind hides SHA-NI, so HMAC weighs more here than on the CPU.
. $(dirname "${BASH_SOURCE[0]}")/common.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$1 P=$2 N=$3 GZ=$4
# one REQUESTS IDLE_SECONDS: instructions of a whole store life; prints "instructions seconds"
one() {
  local dir=$(mktemp -d /tmp/instr.XXXX) t0 t1
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.out.%%p %s "$@"\n' $dir $BIN > $dir/vg; chmod +x $dir/vg
  start_store $dir/vg 4504 "$dir" >/dev/null 2>&1 || exit 1
  t0=$(date +%s.%N)
  python3 $HERE/reqs.py 4504 $P $1 $GZ >/dev/null
  t1=$(date +%s.%N)
  sleep $2
  kill -INT $SPID; wait $SPID 2>/dev/null
  echo "$(awk '/^summary:/ {s+=$2} END {print s}' $dir/cg.out*) $(echo "$t1 - $t0" | bc)"; rm -rf $dir
}
read -r busy secs <<<"$(one $((N + 10)) 0)"
read -r idle _ <<<"$(one 10 $secs)"
python3 -c "import sys; print(f'{(int(sys.argv[1])-int(sys.argv[2]))/int(sys.argv[3]):.0f} instructions/request')" $busy $idle $N
