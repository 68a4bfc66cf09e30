#!/usr/bin/env bash
# One sitting: every figure of issue 11's closing note, one after the other.
ROOT=$(cd "$(dirname "$0")/../.." && pwd); B=$ROOT/target/release/sneakers; BENCH=$ROOT/target/release/sneakers-bench
N=19000; EV=10
cd "$(dirname "$0")"
gap() { sleep 20; }
for round in 1 2 3; do
  echo "### round $round $(date +%T)"
  echo "floor: $(./probe_floor.sh $N $EV)"; gap
  echo "node-ws: $(./probe_node.sh ws $N $EV)"; gap
  echo "socketio: $(./probe_node.sh socketio $N $EV)"; gap
  for s in page pagecart bare; do echo "store-$s: $(./probe_store.sh $B $N $s $EV 2>/dev/null)"; gap; done
done
echo "### bench fanout $(date +%T)"
$BENCH fanout --clients $N --events 11 2>/dev/null; gap
echo "### bench against the probe on the same server $(date +%T)"
./honesty.sh $N 11 2; gap
echo "### pages $(date +%T)"
./pages.sh $B 5 / /products/1 2>&1 | grep -v warn
echo "### checkout sqlite $(date +%T)"
for i in 1 2; do $BENCH checkout --buyers 2000 --stock 100 2>/dev/null | grep -E "errors|p50|p99|max|last pair|server memory|orders in|verdict"; done
DB=$(./pg.sh)
echo "### checkout postgres $(date +%T)"
for i in 1 2; do $BENCH checkout --buyers 2000 --stock 100 --database-url $DB 2>/dev/null | grep -E "errors|p50|p99|max|last pair|server memory|orders in|verdict"; done
gap
echo "### one node on postgres $(date +%T)"
COST=1 ./nodes.sh $B 1 $N $EV 2>&1; gap
echo "### three nodes on postgres $(date +%T)"
COST=1 ./nodes.sh $B 3 $N $EV 2>&1; gap
echo "### one and three bare floors $(date +%T)"
echo "1 floor: $(COST=1 ./floors.sh 1 $N $EV)"; gap
echo "3 floors: $(COST=1 ./floors.sh 3 $N $EV)"; gap
echo "### server CPU per delivery $(date +%T)"
for i in 1 2; do ./cpu_per_send.sh floor; gap; BIN=$B ./cpu_per_send.sh pagecart; gap; done
echo "### where the busy time goes $(date +%T)"
./profile.sh floor; gap; BIN=$B ./profile.sh pagecart
echo "### done $(date +%T)"
