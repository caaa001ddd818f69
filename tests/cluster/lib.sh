# lib.sh -- shared by match_single.sh and match_cluster.sh (sourced, not run):
# pass/fail counting with the closing "N passed, N failed" line, free ports,
# waiting on ports and processes with deadlines, and stopping by PID.
passed=0
failed=0
pids=()             # everything we started; stopped by cleanup
keep_tmp=0

# ok NAME / fail NAME DETAIL
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1${2:+: $2}"; keep_tmp=1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

taken=" "
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        case "$taken" in *" $p "*) continue ;; esac
        if ! port_open "$p"; then
            taken="$taken$p "
            echo "$p"
            return 0
        fi
    done
    echo "no free port" >&2
    return 1
}

# alive PID: running (an exited child of ours that is not reaped yet is a
# zombie, which kill -0 still finds).
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
        ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# wait_for SECONDS COMMAND...: run COMMAND every 50 ms until it succeeds.
wait_for() {
    local limit=$(($1 * 20)) i
    shift
    for i in $(seq 1 "$limit"); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# stop_pid PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait_for 10 eval "! alive $1" || kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# metric PORT NAME: a value from a ttt-server's /metrics (empty if none).
metric() {
    curl -s -m 2 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v k="$2" '$1 == k { print $2; exit }'
}
# metric_above PORT NAME N: that value is above N.
metric_above() {
    local v
    v=$(metric "$1" "$2")
    [ -n "$v" ] && awk -v v="$v" -v n="$3" 'BEGIN { exit !(v + 0 > n + 0) }'
}

# jnum KEY FILE: the number after "KEY": in a one-line JSON summary (every key
# ttt-match writes is unique, so no parser is needed).
jnum() {
    local v
    v=$(grep -o "\"$1\":[0-9.]*" "$2" 2>/dev/null | head -n 1 | cut -d: -f2)
    echo "${v:-missing}"
}

# expect NAME FILE KEY=VALUE...: each KEY of the summary in FILE equals
# VALUE (or, written KEY>VALUE, is above it).
expect() {
    local name=$1 file=$2 cond key want got bad=""
    shift 2
    for cond in "$@"; do
        if [[ "$cond" == *">"* ]]; then
            key=${cond%%>*}; want=${cond#*>}; got=$(jnum "$key" "$file")
            awk -v g="$got" -v w="$want" 'BEGIN { exit !(g != "missing" && g + 0 > w + 0) }' ||
                bad="$bad $key=$got (want >$want)"
        else
            key=${cond%%=*}; want=${cond#*=}; got=$(jnum "$key" "$file")
            [ "$got" = "$want" ] || bad="$bad $key=$got (want $want)"
        fi
    done
    if [ -z "$bad" ]; then
        ok "$name"
    else
        fail "$name" "${bad# }"
        [ -f "${file%.json}.err" ] && head -n 40 "${file%.json}.err" | sed 's/^/    | /'
    fi
}

# load_line LABEL FILE: the short figure for the log of the test run.
load_line() {
    echo "load: $1: $(jnum games_per_s "$2") games/s, $(jnum moves_per_s "$2") moves/s, move p99 $(jnum p99 "$2") ms"
}

summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# The end of every cleanup: logs stay when something failed (or KEEP_TMP is
# set in the environment), else the temporary directory goes.
drop_tmp_unless_failed() {
    [ -n "${KEEP_TMP:-}" ] && keep_tmp=1
    if [ "$keep_tmp" = 1 ]; then
        echo "logs kept in $tmp"
    else
        rm -rf "$tmp"
    fi
}

# For the scripts on deploy/cluster.sh: stop the cluster in $dir, then by PID
# file whatever `down` could not reach (a broken state file), then the logs.
cluster_cleanup() {
    local f
    bash "$CLUSTER" down --dir "$dir" >/dev/null 2>&1
    for f in "$dir"/*.pid "$dir"/nginx/nginx.pid; do
        [ -f "$f" ] && stop_pid "$(cat "$f")"
    done
    drop_tmp_unless_failed
}

# run NAME ARGS...: ttt-match --json ($MATCH, time-out $MATCH_TIMEOUT s, 30 by
# default), summary in $tmp/NAME.json, stderr in $tmp/NAME.err, exit status
# in $tmp/NAME.rc
run() {
    local name=$1
    shift
    "$MATCH" --json --no-progress --timeout "${MATCH_TIMEOUT:-30}" "$@" >"$tmp/$name.json" \
        2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}
