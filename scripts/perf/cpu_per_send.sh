#!/usr/bin/env bash
# cpu_per_send.sh floor|pagecart: perf stat of the server over 5 s of fan-out (19,000 clients,
# 60 events): its sendto calls (one per delivery) and CPU time; CPU / sendto is what a delivery
# costs the server. BIN picks the store binary.
. $(dirname "${BASH_SOURCE[0]}")/common.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EVS=syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,context-switches,cpu-clock
fanout_target $1 ${BIN:-$ROOT/target/release/sneakers} || exit 1
stat=$(mktemp)
# connecting 19,000 clients takes 3-5 s; the window starts after it
(sleep 7; perf stat -x, -e $EVS -p $SPID -- sleep 5 2> $stat) & PS=$!
p50=$($PROBE "${FANOUT_ARGS[@]}" --clients 19000 --events 60 --src-ips 16 --pid $SPID | json_field last_ms_p50)
wait $PS; kill $SPID; wait $SPID 2>/dev/null
awk -F, -v kind=$1 -v p50=$p50 '/sendto/ {s=$1} /cpu-clock/ {c=$1} /context-switches/ {x=$1}
  END {printf "%s sendto=%d cpu_ms=%.0f us_per_send=%.2f switches=%d last_p50=%s\n", kind, s, c, c*1000/s, x, p50}' $stat
rm -f $stat
