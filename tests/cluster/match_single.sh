#!/usr/bin/env bash
# match_single.sh -- ttt-match against one ttt-server process: its command
# line, hundreds of judged games with --resume-chaos and spectators, the
# perfect-play rules, a restart of a Redis-backed process during a run, and
# a short load figure. Everything runs on free loopback ports in a temporary
# directory and is stopped by PID on exit.
#
#   bash tests/cluster/match_single.sh path/to/ttt-server path/to/ttt-match
#
# Ends with "N passed, N failed"; exit status 1 when anything failed.
set -uo pipefail

SERVER=${1:?usage: match_single.sh TTT_SERVER TTT_MATCH}
MATCH=${2:?usage: match_single.sh TTT_SERVER TTT_MATCH}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
# shared helpers: counters, ports, waits, stop by PID
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttt-match-single.XXXXXX")
cleanup() {
    local p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    drop_tmp_unless_failed
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOOPBACK_UNLIMITED="--max-connections-per-ip 0 --ip-rate-limit 0 --max-waiting-per-ip 0"

# start_server NAME PORT ARGS...: a ttt-server on 127.0.0.1:PORT; its PID in
# the variable NAME_pid.
start_server() {
    local name=$1 port=$2 pid
    shift 2
    # every ttt-match client comes from 127.0.0.1: the per-address limits,
    # sized for one person, would throttle the load runs
    "$SERVER" --host 127.0.0.1 --port "$port" --log-level warn $LOOPBACK_UNLIMITED "$@" \
        >>"$tmp/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    printf -v "${name}_pid" '%s' "$pid"
    wait_for 15 port_open "$port"
}

MATCH_TIMEOUT=20   # ttt-match's own time-out per game (lib.sh's run)
rc_of() { cat "$tmp/$1.rc"; }

# ---- the command line -----------------------------------------------------------

if "$MATCH" --help | grep -q -- "--resume-chaos" && "$MATCH" --version | grep -q "ttt-match"; then
    ok "ttt-match --help and --version"
else
    fail "ttt-match --help and --version"
fi
"$MATCH" --bogus >/dev/null 2>&1
rc=$?
"$MATCH" --url http://x/ws >/dev/null 2>&1
rc2=$?
if [ "$rc" = 2 ] && [ "$rc2" = 2 ]; then
    ok "a bad option or URL exits 2"
else
    fail "a bad option or URL exits 2" "got $rc and $rc2"
fi

dead=$(free_port)
"$MATCH" --url "ws://127.0.0.1:$dead/ws" --games 2 --timeout 1 --json --no-progress \
    >"$tmp/dead.json" 2>"$tmp/dead.err"
rc=$?
if [ "$rc" = 1 ] && [ "$(jnum lost "$tmp/dead.json")" = 2 ]; then
    ok "no server: both games reported lost, exit 1"
else
    fail "no server: both games reported lost, exit 1" "rc $rc, lost $(jnum lost "$tmp/dead.json")"
fi

# ---- one process, games in memory -------------------------------------------------

port=$(free_port)
if ! start_server mem "$port"; then
    fail "ttt-server starts" "$(tail -n 5 "$tmp/mem.log")"
    summary
    exit 1
fi
url=ws://127.0.0.1:$port/ws

run chaos --url "$url" --games 300 --concurrency 16 --resume-chaos 0.05 --spectate --seed 1
expect "300 games with --resume-chaos 0.05 and spectators: all judged correct" \
    "$tmp/chaos.json" completed=300 lost=0 aborted=0 violations=0 unexpected=0 "resumes>0"
[ "$(rc_of chaos)" = 0 ] || fail "ttt-match exit status 0 after a clean run" "$(rc_of chaos)"

run heavy --url "$url" --games 100 --concurrency 8 --resume-chaos 0.5 --games-per-conn 3 --seed 2
expect "100 games with --resume-chaos 0.5 and fresh connections every 3 games" \
    "$tmp/heavy.json" completed=100 lost=0 violations=0 unexpected=0

run perfect --url "$url" --games 100 --concurrency 8 --strategy perfect --spectate --seed 3
expect "perfect against perfect: 100 draws" "$tmp/perfect.json" completed=100 draw=100 violations=0

run cpu_perfect --url "$url" --games 100 --concurrency 8 --strategy random --vs-computer perfect --seed 4
expect "random against the perfect computer: the computer never loses" \
    "$tmp/cpu_perfect.json" completed=100 x_win=0 violations=0

run cpu_easy --url "$url" --games 100 --concurrency 8 --strategy perfect --vs-computer easy \
    --resume-chaos 0.1 --spectate --seed 5
expect "perfect against the easy computer, with chaos: the bot never loses" \
    "$tmp/cpu_easy.json" completed=100 o_win=0 violations=0

start=$(date +%s)
run duration --url "$url" --duration 2 --concurrency 4 --seed 6
took=$(($(date +%s) - start))
if [ "$(rc_of duration)" = 0 ] && [ "$took" -le 15 ] && [ "$(jnum completed "$tmp/duration.json")" != 0 ]; then
    ok "--duration 2 plays games and stops (${took} s)"
else
    fail "--duration 2 plays games and stops" "rc $(rc_of duration), ${took} s"
fi

# --workers: the games split over three processes, one summary, the judging of each
run workers --url "$url" --games 300 --concurrency 15 --workers 3 --resume-chaos 0.05 --seed 7
expect "--workers 3: 300 games over three processes, one merged summary, all judged correct" \
    "$tmp/workers.json" completed=300 lost=0 violations=0 unexpected=0 workers=3 "resumes>0" \
    "moves>1500"
[ "$(rc_of workers)" = 0 ] || fail "ttt-match --workers exit status 0 after a clean run" \
    "$(rc_of workers)"

# ---- one process with Redis, restarted during a run ---------------------------------

if [ -x "$REDIS_SERVER" ]; then
    rport=$(free_port)
    mkdir -p "$tmp/redis"
    "$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --save "" \
        --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    wait_for 10 port_open "$rport"
    port=$(free_port)
    if start_server red "$port" --redis "redis://127.0.0.1:$rport"; then
        url=ws://127.0.0.1:$port/ws
        run redis --url "$url" --games 200 --concurrency 16 --resume-chaos 0.05 --spectate --seed 7
        expect "one process with Redis: 200 games with chaos" \
            "$tmp/redis.json" completed=200 lost=0 violations=0 unexpected=0

        # restart it while games are in flight: clients get 1012, retry with
        # backoff until it is back, and resume every game from Redis
        base=$(metric "$port" ttt_moves_total)
        run restart --url "$url" --duration 8 --concurrency 16 --resume-chaos 0.05 --spectate --seed 8 &
        mpid=$!
        # games under way (ttt-match plays for 8 s), then the restart
        wait_for 20 metric_above "$port" ttt_moves_total $((${base:-0} + 300)) ||
            fail "games get going before the restart"
        stop_pid "$red_pid"
        start_server red "$port" --redis "redis://127.0.0.1:$rport" ||
            fail "ttt-server restarts on its port"
        wait "$mpid"
        expect "SIGTERM + restart of a Redis-backed process mid-run: every game resumes" \
            "$tmp/restart.json" lost=0 aborted=0 violations=0 unexpected=0 "close_1012>0" "completed>0"

        # Redis gone, then SIGTERM: the store's goodbye and reconnects run
        # while lws tears down, and the process still exits 0 (it aborted in
        # libuv when a new Redis socket got a descriptor lws closed again)
        stop_pid "$redis_pid"
        kill -TERM "$red_pid" 2>/dev/null
        wait "$red_pid"
        rc=$?
        if [ "$rc" = 0 ]; then
            ok "SIGTERM with Redis gone: the process exits 0"
        else
            fail "SIGTERM with Redis gone: the process exits 0" "exit status $rc"
        fi
    else
        fail "ttt-server starts with --redis" "$(tail -n 5 "$tmp/red.log")"
    fi
else
    fail "redis-server is installed" "not found"
fi

# ---- the load figure (not asserted) ---------------------------------------------------

port=$(free_port)
if start_server fast "$port" --rate-limit 0; then
    run load --url "ws://127.0.0.1:$port/ws" --games 2000 --concurrency 32 --strategy random --seed 9
    expect "load run: 2000 games" "$tmp/load.json" completed=2000 violations=0
    load_line "one process in memory (this build)" "$tmp/load.json"
fi

summary
