#!/usr/bin/env bash
# match_rcluster.sh -- ttt-match against a deployment on a Redis Cluster,
# started by deploy/cluster.sh up --redis-cluster 3 (3 primaries + 3
# replicas, two ttt-server processes, nginx): 500 games through nginx with
# --resume-chaos 0.05, then 150 with the players of each game on different
# processes, then a kill -9 of a primary during a run (--redis-wait 1). Free
# loopback ports, a temporary run directory, everything stopped by PID.
#
#   bash tests/cluster/match_rcluster.sh path/to/ttt-server path/to/ttt-match
#
# Ends with "N passed, N failed"; exit status 1 when anything failed.
set -uo pipefail

SERVER=${1:?usage: match_rcluster.sh TTT_SERVER TTT_MATCH}
MATCH=${2:?usage: match_rcluster.sh TTT_SERVER TTT_MATCH}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLUSTER=$root/deploy/cluster.sh
source "$here/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttt-match-rcluster.XXXXXX")
dir=$tmp/cluster
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
if bash "$CLUSTER" up -n 2 --redis-cluster 3 --port "$port" --host 127.0.0.1 --dir "$dir" \
        --server "$SERVER" --server-args "--log-level warn --redis-wait 1 \
        --max-connections-per-ip 0 --ip-rate-limit 0 --max-waiting-per-ip 0" \
        >"$tmp/up.out" 2>&1 &&
   grep -q "a Redis Cluster of 3 primaries" "$tmp/up.out"; then
    ok "cluster.sh up --redis-cluster 3: 6 redis nodes, 2 servers, nginx"
else
    fail "cluster.sh up --redis-cluster 3" "$(tail -n 20 "$tmp/up.out")"
    summary
    exit 1
fi
s1=$(cat "$dir/server-1.port")
s2=$(cat "$dir/server-2.port")
url=ws://127.0.0.1:$port/ws

if [ "$(metric "$s1" ttt_store_cluster)" = 1 ] && [ "$(metric "$s2" ttt_store_cluster)" = 1 ]; then
    ok "both servers report cluster mode on /metrics"
else
    fail "both servers report cluster mode on /metrics"
fi

run nginx --url "$url" --games 500 --concurrency 16 --resume-chaos 0.05 --seed 21
expect "through nginx: 500 games with --resume-chaos 0.05" \
    "$tmp/nginx.json" completed=500 lost=0 aborted=0 violations=0 unexpected=0 "resumes>0"

run cross --url "ws://127.0.0.1:$s1/ws" --url "ws://127.0.0.1:$s2/ws" --games 150 \
    --concurrency 16 --resume-chaos 0.05 --seed 22
expect "across processes: 150 games, X and O on different servers" \
    "$tmp/cross.json" completed=150 lost=0 aborted=0 violations=0 unexpected=0

# kill -9 of a primary during a run: its replica takes over (node timeout 5 s);
# games on its slots see `unavailable` meanwhile and go on after
run failover --url "ws://127.0.0.1:$s1/ws" --url "ws://127.0.0.1:$s2/ws" --duration 10 \
    --concurrency 8 --seed 23 --timeout 40 &
mpid=$!
sleep 3
victim=$(cat "$dir/redis-1.pid")
kill -KILL "$victim" 2>/dev/null
wait "$mpid"
expect "kill -9 of a primary during a run (--redis-wait 1): no violation, no lost game" \
    "$tmp/failover.json" lost=0 violations=0 "completed>0"

summary
