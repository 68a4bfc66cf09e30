#!/usr/bin/env bash
# profile.sh floor|pagecart [OUT]: perf record of the whole machine over 5 s of fan-out (19,000
# probe clients, 60 events), then where the busy time went: server and probe, each split into
# kernel and user space, beside idle; then the server's hottest symbols. Says how much of a
# delivery is the server's own code and how much the kernel's TCP path, which no change to the
# store can remove. OUT keeps perf.data (default a temp file). BIN picks the store binary.
. $(dirname "${BASH_SOURCE[0]}")/common.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ulimit -n 20000
OUT=${2:-$(mktemp /tmp/profile.XXXX)}
fanout_target $1 ${BIN:-$ROOT/target/release/sneakers} || exit 1
# connecting 19,000 clients takes 3-5 s; the window starts after it
(sleep 7; perf record -a -F 999 -o $OUT -- sleep 5 >/dev/null 2>&1) & PR=$!
$PROBE "${FANOUT_ARGS[@]}" --clients 19000 --events 60 --src-ips 16 --pid $SPID > /tmp/profile.probe.json &
PPID_=$!
sleep 6
server_tids=" $(ls /proc/$SPID/task | tr '\n' ' ') "
probe_tids=" $(ls /proc/$PPID_/task | tr '\n' ' ') "
wait $PR; wait $PPID_
kill $SPID; wait $SPID 2>/dev/null
echo "last client p50 $(json_field last_ms_p50 < /tmp/profile.probe.json) ms"
perf report -i $OUT --no-children -g none --sort pid,dso --stdio 2>/dev/null | grep -v '^#' | grep '%' |
  awk -v s="$server_tids" -v p="$probe_tids" '
    { pct=$1; sub("%","",pct); split($2,a,":"); tid=a[1]; k=($0 ~ /kernel/) ? "kernel" : "user"
      who = (tid == 0) ? "idle" : (index(s, " " tid " ") ? "server" : (index(p, " " tid " ") ? "probe" : "other"))
      sh[who " " (who == "idle" ? "" : k)] += pct; tot += pct; if (who != "idle") busy += pct }
    END { for (x in sh) printf "  %-14s %5.1f%% of samples, %5.1f%% of busy\n", x, sh[x], (x ~ /idle/) ? 0 : 100*sh[x]/busy }' | sort
echo "server's hottest symbols (share of all samples):"
perf report -i $OUT --no-children -g none --pid $SPID --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -15
