#!/usr/bin/env bash
# match_cluster.sh -- ttt-match against a cluster started by deploy/cluster.sh
# (redis-server, two ttt-server processes, nginx): games through nginx and
# across processes with --resume-chaos, a rolling restart during a run, a
# kill -9 of one process during a run, status/down, and a short load figure.
# Everything runs on free loopback ports in a temporary run directory; the
# cluster is stopped by PID on exit whatever happens.
#
#   bash tests/cluster/match_cluster.sh path/to/ttt-server path/to/ttt-match
#
# Ends with "N passed, N failed"; exit status 1 when anything failed.
set -uo pipefail

SERVER=${1:?usage: match_cluster.sh TTT_SERVER TTT_MATCH}
MATCH=${2:?usage: match_cluster.sh TTT_SERVER TTT_MATCH}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLUSTER=$root/deploy/cluster.sh
# shared helpers: counters, ports, waits, stop by PID
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttt-match-cluster.XXXXXX")
dir=$tmp/cluster
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

for tool in redis-server nginx curl; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        fail "$tool is installed" "not found (deploy/install-deps.sh --test)"
        summary
        exit 1
    fi
done

# ---- up ----------------------------------------------------------------------------

port=$(free_port)
if bash "$CLUSTER" up -n 2 --port "$port" --host 127.0.0.1 --dir "$dir" --server "$SERVER" \
        --server-args "--log-level warn --max-connections-per-ip 0 --ip-rate-limit 0 --max-waiting-per-ip 0" \
        >"$tmp/up.out" 2>&1 &&
   grep -q "open http://127.0.0.1:$port/" "$tmp/up.out"; then
    ok "cluster.sh up -n 2 prints the URL"
else
    fail "cluster.sh up -n 2 prints the URL" "$(tail -n 20 "$tmp/up.out")"
    summary
    exit 1
fi
s1=$(cat "$dir/server-1.port")
s2=$(cat "$dir/server-2.port")
url=ws://127.0.0.1:$port/ws

if bash "$CLUSTER" status --dir "$dir" >"$tmp/status.out" 2>&1 &&
   [ "$(grep -c "healthz 200" "$tmp/status.out")" = 2 ] &&
   [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ]; then
    ok "status: redis, 2 healthy servers, nginx serving /"
else
    fail "status: redis, 2 healthy servers, nginx serving /" "$(cat "$tmp/status.out")"
fi

# ---- games -----------------------------------------------------------------------------

run nginx --url "$url" --games 300 --concurrency 16 --resume-chaos 0.05 --spectate --seed 11
expect "through nginx: 300 games with --resume-chaos 0.05 and spectators" \
    "$tmp/nginx.json" completed=300 lost=0 aborted=0 violations=0 unexpected=0 "resumes>0"

run cross --url "ws://127.0.0.1:$s1/ws" --url "ws://127.0.0.1:$s2/ws" --games 300 \
    --concurrency 16 --resume-chaos 0.05 --spectate --seed 12
expect "across processes (the players of a game on different servers): 300 games with chaos" \
    "$tmp/cross.json" completed=300 lost=0 aborted=0 violations=0 unexpected=0

# ---- rolling restart during a run -------------------------------------------------------

run rolling --url "$url" --duration 12 --concurrency 16 --resume-chaos 0.05 --spectate --seed 13 &
mpid=$!
if wait_for 20 metric_above "$s1" ttt_connections 0 && wait_for 20 metric_above "$s2" ttt_connections 0; then
    old1=$(cat "$dir/server-1.pid")
    old2=$(cat "$dir/server-2.pid")
    bash "$CLUSTER" restart --dir "$dir" >"$tmp/restart.out" 2>&1
    rrc=$?
    if [ "$rrc" = 0 ] && [ "$(cat "$dir/server-1.pid")" != "$old1" ] &&
       [ "$(cat "$dir/server-2.pid")" != "$old2" ]; then
        ok "cluster.sh restart replaces both processes, one at a time"
    else
        fail "cluster.sh restart replaces both processes, one at a time" "$(cat "$tmp/restart.out")"
    fi
else
    fail "both processes hold clients before the restart"
fi
wait "$mpid"
expect "rolling restart during a run: zero violations, zero games lost" \
    "$tmp/rolling.json" lost=0 aborted=0 violations=0 unexpected=0 "close_1012>0" "completed>0"

# ---- kill -9 of one process during a run ---------------------------------------------------

run kill9 --url "$url" --duration 8 --concurrency 16 --resume-chaos 0.05 --spectate --seed 14 &
mpid=$!
if wait_for 20 metric_above "$s1" ttt_connections 0; then
    kill -KILL "$(cat "$dir/server-1.pid")"
else
    fail "server-1 holds clients before kill -9"
fi
wait "$mpid"
# a join whose reply died with the process cannot be resumed (no token):
# "aborted" is allowed here, and only here
expect "kill -9 of one process: its players' games resume on the other" \
    "$tmp/kill9.json" lost=0 violations=0 unexpected=0 "close_other>0" "resumes>0" "completed>0"

if bash "$CLUSTER" restart --dir "$dir" >"$tmp/restart2.out" 2>&1 &&
   bash "$CLUSTER" status --dir "$dir" >/dev/null 2>&1; then
    ok "cluster.sh restart brings a killed process back"
else
    fail "cluster.sh restart brings a killed process back" "$(cat "$tmp/restart2.out")"
fi

# ---- the load figure (not asserted) -----------------------------------------------------------

run load --url "$url" --games 1000 --concurrency 32 --strategy random --seed 15
expect "load run through nginx: 1000 games" "$tmp/load.json" completed=1000 violations=0
load_line "two processes with Redis behind nginx (this build)" "$tmp/load.json"

# ---- down ------------------------------------------------------------------------------

pidlist="$(cat "$dir/redis.pid" "$dir/server-1.pid" "$dir/server-2.pid" "$dir/nginx/nginx.pid" 2>/dev/null)"
bash "$CLUSTER" down --dir "$dir" >"$tmp/down.out" 2>&1
left=""
for p in $pidlist; do alive "$p" && left="$left $p"; done
if [ -z "$left" ] && [ -n "$pidlist" ] && ! port_open "$port"; then
    ok "cluster.sh down stops every process"
else
    fail "cluster.sh down stops every process" "still running:$left"
fi

summary
