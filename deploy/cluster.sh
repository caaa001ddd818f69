#!/usr/bin/env bash
# cluster.sh -- a whole deployment on one machine, without root: one
# redis-server (or a Redis Cluster), N ttt-server processes sharing it, and
# nginx in front, all in one run directory, started and stopped by PID.
#
#   deploy/cluster.sh up      [-n N] [--port P] [--dir DIR] [--host ADDR]
#                             [--server PATH] [--web DIR] [--server-args "..."]
#                             [--redis-cluster M]
#   deploy/cluster.sh status  [--dir DIR]
#   deploy/cluster.sh restart [--dir DIR]   rolling: one ttt-server at a time
#   deploy/cluster.sh down    [--dir DIR]
#
# Defaults: N=2, nginx on port 8080 (all interfaces; --port 0 picks a free
# port), run directory build/cluster, server build/ttt-server. Redis and the
# ttt-server processes get free loopback ports. The nginx config is made from
# deploy/nginx.conf (the lines tagged cluster:server / cluster:listen) and a
# main config with its own pid, log and temp paths under DIR/nginx, so nginx
# runs as the calling user. `up` prints the URL to open.
#
# restart: SIGTERM drains a process (its clients get close code 1012 and
# resume through nginx on the others); the script waits for it to exit,
# starts it again on the same port and waits until it answers /healthz
# before it moves on to the next one. A process that died (kill -9) is
# simply started again.
#
# --redis-cluster M: instead of one redis-server, a Redis Cluster of M
# primaries with one replica each (2M redis-server processes with
# cluster-enabled, joined by redis-cli --cluster create); the ttt-servers get
# every primary as a seed (redis://h1:p1,h2:p2,...). A node's cluster bus is
# its port + 10000, so node ports stay at or below 55535.
set -Eeuo pipefail   # -E: the ERR trap of `up` also fires inside functions

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli || echo /usr/bin/redis-cli)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

die() { echo "cluster: $*" >&2; exit 1; }
say() { echo "cluster: $*"; }

usage() {
    sed -n '6,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

# ---- arguments ---------------------------------------------------------------

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
case "$cmd" in
    up|down|status|restart) ;;
    -h|--help|help) usage 0 ;;
    *) echo "cluster: unknown command '$cmd'" >&2; usage ;;
esac

n=2
port=8080
dir=$root/build/cluster
host=
server=$root/build/ttt-server
web=$root/web
server_args=
rcluster=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n) n=${2:?}; shift 2 ;;
        --port) port=${2:?}; shift 2 ;;
        --dir) dir=${2:?}; shift 2 ;;
        --host) host=${2:?}; shift 2 ;;
        --server) server=${2:?}; shift 2 ;;
        --web) web=${2:?}; shift 2 ;;
        --server-args) server_args=${2?}; shift 2 ;;
        --redis-cluster) rcluster=${2:?}; shift 2 ;;
        -h|--help) usage 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number"
[[ "$rcluster" =~ ^[0-9]+$ ]] && [ "$rcluster" -ne 1 ] && [ "$rcluster" -le 16 ] ||
    die "--redis-cluster wants 0 (one redis-server) or 2..16 primaries (3 is the usual)"
[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -le 65535 ] || die "--port wants a port number"
if [ "$cmd" = up ]; then
    mkdir -p "$dir"
elif [ ! -d "$dir" ]; then
    [ "$cmd" = down ] && { say "nothing to stop in $dir"; exit 0; }
    die "no cluster in $dir"
fi
dir=$(cd "$dir" && pwd)
state=$dir/cluster.env

# ---- helpers -------------------------------------------------------------------

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "$dir/$1.pid" 2>/dev/null || true; }

# A TCP connect to 127.0.0.1:$1 succeeds.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nobody listens on, from a range away from the usual ephemeral one;
# skips ports already handed out by this script ($taken).
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
    die "no free port found"
}

# wait_port PORT PID SECONDS: until something listens on PORT; fails early
# if PID exits.
wait_port() {
    local i
    for i in $(seq 1 $(($3 * 20))); do
        port_open "$1" && return 0
        alive "$2" || return 1
        sleep 0.05
    done
    return 1
}

# wait_exit PID SECONDS: until PID is gone (it may not be our child).
wait_exit() {
    local i
    for i in $(seq 1 $(($2 * 20))); do
        alive "$1" || return 0
        sleep 0.05
    done
    return 1
}

# stop PIDFILE: SIGTERM that PID, SIGKILL after 10 s; remove the file.
stop() {
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_exit "$pid" 10; then
            echo "cluster: pid $pid ($1) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait_exit "$pid" 5 || true
        fi
    fi
    rm -f "$1"
}

# Until nothing listens on port $1 any more (at most 5 s).
wait_port_free() {
    local i
    for i in $(seq 1 100); do
        port_open "$1" || return 0
        sleep 0.05
    done
    return 1
}

# http_status PORT PATH: the HTTP status code, or 000.
http_status() {
    if command -v curl >/dev/null; then
        curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2" || true
    else
        # no curl: a bare HTTP/1.0 request over bash's /dev/tcp
        (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
         printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 &&
         head -c 12 <&3 | sed -n 's/^HTTP\/1\.[01] \([0-9]*\).*/\1/p') 2>/dev/null || echo 000
    fi
}

tail_log() {
    [ -f "$1" ] && { echo "--- last lines of $1:" >&2; tail -n 15 "$1" >&2; }
    return 0
}

load_state() {
    [ -f "$state" ] || die "no cluster in $dir (run: $0 up --dir $dir)"
    # shellcheck disable=SC1090
    . "$state"
}

# start_server K PORT: one ttt-server, detached into its own session so that
# ^C in the terminal that ran `up` does not reach it. setsid from a
# background job execs in place, so $! is the server's PID.
start_server() {
    local k=$1 p=$2 pid
    # shellcheck disable=SC2086
    # nginx connects from 127.0.0.1: trusting it makes the per-address
    # limits count nginx's X-Real-IP / X-Forwarded-For, the real clients
    setsid "$SERVER" --host 127.0.0.1 --port "$p" --redis "$REDIS_URL" \
        --instance "ttt-$k" --web "$WEB" --trusted-proxy 127.0.0.1 $SERVER_ARGS \
        </dev/null >>"$dir/server-$k.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/server-$k.pid"
    if ! wait_port "$p" "$pid" 15; then
        tail_log "$dir/server-$k.log"
        return 1
    fi
}

# The process answers /healthz with 200 (it reaches Redis), for at most 10 s.
wait_healthy() {
    local i
    for i in $(seq 1 100); do
        [ "$(http_status "$1" /healthz)" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

nginx_config() {
    local conf=$dir/nginx/conf lines="" k p listen
    mkdir -p "$conf" "$dir/nginx/logs" "$dir/nginx/tmp"
    for k in $(seq 1 "$N"); do
        p=$(cat "$dir/server-$k.port")
        lines="${lines}    server 127.0.0.1:$p max_fails=0;\n"
    done
    listen="    listen ${HOST:+$HOST:}$PORT;"
    # the site: deploy/nginx.conf with our upstream and listen lines
    awk -v lines="$lines" -v listen="$listen" '
        /^[ \t]*server .*# cluster:server/ { if (!done) { printf "%s", lines; done = 1 } next }
        /^[ \t]*listen .*# cluster:listen/ { print listen; next }
        { print }' "$here/nginx.conf" >"$conf/ttt-site.conf"
    cat >"$conf/nginx.conf" <<EOF
# Generated by deploy/cluster.sh from deploy/nginx.conf; do not edit.
daemon on;
worker_processes auto;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/logs/error.log notice;

events {
    worker_connections 8192;
}

http {
    access_log $dir/nginx/logs/access.log;
    client_body_temp_path $dir/nginx/tmp/body;
    proxy_temp_path $dir/nginx/tmp/proxy;
    fastcgi_temp_path $dir/nginx/tmp/fastcgi;
    uwsgi_temp_path $dir/nginx/tmp/uwsgi;
    scgi_temp_path $dir/nginx/tmp/scgi;
    include $conf/ttt-site.conf;
}
EOF
}

nginx_cmd() {
    "$NGINX" -p "$dir/nginx/" -c "$dir/nginx/conf/nginx.conf" -e "$dir/nginx/logs/error.log" "$@"
}

url() {
    local h=${HOST:-localhost}
    [ "$h" = 0.0.0.0 ] && h=localhost
    echo "http://$h:$PORT/"
}

# A free port p <= 55535 whose cluster bus port p + 10000 is free too.
free_cluster_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(free_port)
        [ "$p" -le 55535 ] && ! port_open $((p + 10000)) && { echo "$p"; return 0; }
    done
    die "no free port pair for a cluster node"
}

# The Redis Cluster of --redis-cluster: 2 * RCLUSTER nodes (pid files
# redis-<i>.pid), created with one replica per primary; waits for
# cluster_state:ok on every node.
start_redis_cluster() {
    local i p hosts="" seeds="" k ok try
    [ -x "$REDIS_CLI" ] || die "no redis-cli (apt-get install redis-tools)"
    for i in $(seq 1 $((RCLUSTER * 2))); do
        # a port (or its bus port) taken between our look and the bind: another one
        for try in 1 2 3 4 5; do
            p=$(free_cluster_port)
            echo "$p" >"$dir/redis-$i.port"
            rm -rf "$dir/redis-$i"
            mkdir -p "$dir/redis-$i"
            "$REDIS_SERVER" "$here/redis.conf" --port "$p" --bind 127.0.0.1 \
                --cluster-enabled yes --cluster-config-file "$dir/redis-$i/nodes.conf" \
                --cluster-node-timeout 5000 \
                --dir "$dir/redis-$i" --pidfile "$dir/redis-$i.pid" --logfile "$dir/redis-$i.log" \
                --daemonize yes --supervised no >/dev/null || true
            for k in $(seq 1 100); do
                alive "$(pid_of "redis-$i")" && port_open "$p" && break
                sleep 0.05
            done
            port_open "$p" && break
        done
        port_open "$p" || { tail_log "$dir/redis-$i.log"; false; }
        hosts="$hosts 127.0.0.1:$p"
        [ "$i" -le "$RCLUSTER" ] && seeds="$seeds${seeds:+,}127.0.0.1:$p"
    done
    # shellcheck disable=SC2086
    "$REDIS_CLI" --cluster create $hosts --cluster-replicas 1 --cluster-yes \
        >"$dir/redis-create.log" 2>&1 || { tail_log "$dir/redis-create.log"; false; }
    for k in $(seq 1 300); do
        ok=1
        for i in $(seq 1 $((RCLUSTER * 2))); do
            "$REDIS_CLI" -p "$(cat "$dir/redis-$i.port")" cluster info 2>/dev/null |
                grep -q 'cluster_state:ok' || { ok=0; break; }
        done
        [ "$ok" = 1 ] && break
        sleep 0.1
    done
    [ "$ok" = 1 ] || die "the Redis Cluster did not reach cluster_state:ok"
    # the first RCLUSTER nodes are the primaries redis-cli made
    sed -i "s#^REDIS_URL=.*#REDIS_URL=redis://$seeds#" "$state"
    load_state
}

# ---- commands --------------------------------------------------------------------

cmd_up() {
    local k p
    if [ -f "$state" ]; then
        load_state
        if { alive "$(pid_of redis)" || alive "$(pid_of redis-1)"; } &&
           alive "$(cat "$dir/nginx/nginx.pid" 2>/dev/null)"; then
            say "already up in $dir"
            url
            return 0
        fi
        die "a cluster in $dir is partly down; run: $0 down --dir $dir"
    fi
    [ -x "$server" ] || die "no ttt-server at $server (build it: make build)"
    [ -x "$REDIS_SERVER" ] || die "no redis-server (apt-get install redis-server)"
    [ -x "$NGINX" ] || die "no nginx (apt-get install nginx-light)"
    server=$(cd "$(dirname "$server")" && pwd)/$(basename "$server")
    web=$(cd "$web" && pwd)

    [ "$port" = 0 ] && port=$(free_port)
    port_open "$port" && die "port $port is in use (pick another with --port)"
    taken=" $port "
    local redis_port
    redis_port=$(free_port)
    cat >"$state" <<EOF
N=$n
PORT=$port
HOST='$host'
REDIS_PORT=$redis_port
REDIS_URL=redis://127.0.0.1:$redis_port
SERVER='$server'
WEB='$web'
SERVER_ARGS='$server_args'
RCLUSTER=$rcluster
EOF
    load_state
    # from here on, a failure takes down what was started
    trap 'echo "cluster: up failed; stopping what was started" >&2; cmd_down >/dev/null 2>&1 || true' ERR

    if [ "$RCLUSTER" -gt 0 ]; then
        start_redis_cluster
    else
    mkdir -p "$dir/redis"
    "$REDIS_SERVER" "$here/redis.conf" --port "$REDIS_PORT" --bind 127.0.0.1 \
        --dir "$dir/redis" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --daemonize yes --supervised no >/dev/null
    # it daemonizes: wait for its pid file and its port
    for k in $(seq 1 200); do
        alive "$(pid_of redis)" && port_open "$REDIS_PORT" && break
        sleep 0.05
    done
    if ! port_open "$REDIS_PORT"; then
        tail_log "$dir/redis.log"
        false
    fi
    fi

    for k in $(seq 1 "$N"); do
        p=$(free_port)
        echo "$p" >"$dir/server-$k.port"
        start_server "$k" "$p"
    done
    for k in $(seq 1 "$N"); do
        if ! wait_healthy "$(cat "$dir/server-$k.port")"; then
            echo "cluster: ttt-server $k is not healthy (does it reach Redis?)" >&2
            tail_log "$dir/server-$k.log"
            false
        fi
    done

    nginx_config
    if ! nginx_cmd -q -t 2>"$dir/nginx/logs/config-test.log"; then
        cat "$dir/nginx/logs/config-test.log" >&2
        false
    fi
    nginx_cmd
    if ! wait_port "$PORT" "$(cat "$dir/nginx/nginx.pid" 2>/dev/null)" 10; then
        tail_log "$dir/nginx/logs/error.log"
        false
    fi
    trap - ERR

    local where="redis on 127.0.0.1:$REDIS_PORT"
    [ "$RCLUSTER" -gt 0 ] && where="a Redis Cluster of $RCLUSTER primaries + $RCLUSTER replicas (${REDIS_URL#redis://})"
    say "$where, $N ttt-server on $(for k in $(seq 1 "$N"); do printf '%s ' "$(cat "$dir/server-$k.port")"; done)behind nginx on port $PORT (run dir $dir)"
    say "ttt-match: ws://${HOST:-localhost}:$PORT/ws; stop: $0 down --dir $dir"
    echo "open $(url)"
}

cmd_status() {
    local k pid p ok=0 h
    load_state
    if [ "${RCLUSTER:-0}" -gt 0 ]; then
        for k in $(seq 1 $((RCLUSTER * 2))); do
            pid=$(pid_of "redis-$k")
            p=$(cat "$dir/redis-$k.port" 2>/dev/null || echo '?')
            if alive "$pid"; then
                echo "redis-$k   pid $pid  port $p  up ($("$REDIS_CLI" -p "$p" role 2>/dev/null | head -n 1))"
            else
                echo "redis-$k   port $p  down"; ok=1
            fi
        done
    else
    pid=$(pid_of redis)
    if alive "$pid"; then
        echo "redis     pid $pid  port $REDIS_PORT  up"
    else
        echo "redis     down"; ok=1
    fi
    fi
    for k in $(seq 1 "$N"); do
        pid=$(pid_of "server-$k")
        p=$(cat "$dir/server-$k.port" 2>/dev/null || echo '?')
        if alive "$pid"; then
            h=$(http_status "$p" /healthz)
            echo "server-$k  pid $pid  port $p  up (healthz $h)"
            [ "$h" = 200 ] || ok=1
        else
            echo "server-$k  port $p  down"; ok=1
        fi
    done
    pid=$(cat "$dir/nginx/nginx.pid" 2>/dev/null || true)
    if alive "$pid"; then
        echo "nginx     pid $pid  port $PORT  up"
    else
        echo "nginx     down"; ok=1
    fi
    echo "url       $(url)"
    return $ok
}

cmd_restart() {
    local k pid p
    load_state
    for k in $(seq 1 "$N"); do
        pid=$(pid_of "server-$k")
        p=$(cat "$dir/server-$k.port")
        if alive "$pid"; then
            say "restarting server-$k (pid $pid, port $p)"
            kill -TERM "$pid"
            if ! wait_exit "$pid" 15; then
                echo "cluster: server-$k did not drain in 15 s; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
                wait_exit "$pid" 5 || true
            fi
        else
            say "server-$k (port $p) was down; starting it"
        fi
        wait_port_free "$p" || die "port $p still taken after server-$k exited"
        start_server "$k" "$p" || die "server-$k did not come back on port $p"
        wait_healthy "$p" || die "server-$k is back on port $p but not healthy"
        say "server-$k is back (pid $(pid_of "server-$k"))"
    done
}

cmd_down() {
    local k
    [ -f "$state" ] || { say "nothing to stop in $dir"; return 0; }
    load_state
    # nginx first (no new clients), then the servers (they drain), then Redis
    stop "$dir/nginx/nginx.pid"
    for k in $(seq 1 "$N"); do
        stop "$dir/server-$k.pid"
    done
    stop "$dir/redis.pid"
    for k in $(seq 1 $((${RCLUSTER:-0} * 2))); do
        stop "$dir/redis-$k.pid"
    done
    rm -f "$state"
    say "stopped (logs and data stay in $dir)"
}

case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    restart) cmd_restart ;;
esac
