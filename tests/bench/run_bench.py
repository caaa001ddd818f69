#!/usr/bin/env python3
"""run_bench.py -- the table of `make bench` (issue 11; docs/benchmarks.md).

Rows, each in the same run so that they compare:
  floor    ttt-bench-floor: epoll, one recv, two sends per move, nothing else
  memory   one ttt-server on the memory store
  redis    one ttt-server on one redis-server (server and Redis CPU apart)
  nginx    two ttt-server processes on one redis-server behind nginx

For each server row, ttt-match (--workers, so the runner is not the limit)
plays random games for a while; after a warm-up the script measures two
windows of the steady state: first CPU (/proc/PID/stat), moves (the servers'
own /metrics counter) and heap allocations (tests/bench/alloc_count.c,
LD_PRELOAD), then system calls (`perf stat` of the syscall tracepoints on the
server PIDs; apart because tracing costs CPU). Round trips are ttt-match's.
Every process is started here on free loopback ports in a scratch directory
and stopped by PID. Speed is printed, never judged.

  run_bench.py --build build/bench [--rows floor,memory,redis,nginx]
               [--profile] [--json build/bench/bench.json]
               [--repeat N] [--baseline OLD/ttt-server]

--baseline measures a second ttt-server binary (an older build) in every
server row of the same run, its runs alternating with this build's (ABBA
over --repeat), as rows NAME-base: before and after under the same load.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")
SERVER_ARGS = ["--host", "127.0.0.1", "--rate-limit", "0", "--log-level", "warn",
               "--max-connections-per-ip", "0", "--ip-rate-limit", "0",
               "--max-waiting-per-ip", "0"]
WARMUP_S = 1.0
CPU_WINDOW_S = 3.0
SYSCALL_WINDOW_S = 2.0
PROFILE_WINDOW_S = 3.0
CONCURRENCY = 64
SERVER = None       # --server: another ttt-server binary (an older build, to compare)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def cpu_s(pid):
    """(user, system) seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def moves_total(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        m = re.search(rb"^ttt_moves_total (\d+)$", r.read(), re.M)
    return int(m.group(1)) if m else 0


def alloc_total(path):
    with open(path, "rb") as f:
        b = f.read(32)
    return sum(int.from_bytes(b[i:i + 8], "little") for i in range(0, len(b), 8))


# The calls a server makes, one tracepoint each, and raw_syscalls for the total
# (so that "other" is counted too): attaching all ~350 syscalls:sys_enter_*
# tracepoints took perf 14 s per row here.
NAMED = ("recvfrom", "recvmsg", "recvmmsg", "read", "readv", "sendto", "sendmsg", "sendmmsg",
         "write", "writev", "epoll_wait", "epoll_pwait", "epoll_ctl", "getrandom", "brk",
         "mmap", "munmap", "madvise", "futex", "openat", "close", "accept4", "ioctl", "fcntl",
         "setsockopt", "getsockopt", "getpeername", "clock_gettime", "poll", "shutdown")


def tracepoints():
    have = "/sys/kernel/tracing/events/syscalls"
    names = [n for n in NAMED if os.path.isdir(os.path.join(have, "sys_enter_" + n))]
    return ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + n for n in names]


def syscalls(pids, seconds, moves_now):
    """({syscall: count}, moves) of the PIDs (all their threads) over about
    seconds. perf starts with its counters off and is switched on and off
    through its control FIFO, acknowledged, so that the moves counted are
    those of exactly the window perf counted (attaching ~350 tracepoints
    takes longer than the window itself)."""
    d = tempfile.mkdtemp(prefix="ttt-perf-")
    ctl, ack = os.path.join(d, "ctl"), os.path.join(d, "ack")
    os.mkfifo(ctl)
    os.mkfifo(ack)
    cmd = ["perf", "stat", "-x", ",", "--no-big-num", "-e", ",".join(tracepoints()),
           "-D", "-1", "--control", "fifo:%s,%s" % (ctl, ack),
           "-p", ",".join(str(p) for p in pids)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with open(ctl, "w") as c, open(ack) as a:
            def say(what):
                c.write(what + "\n")
                c.flush()
                a.readline()
            say("enable")
            m0 = moves_now()
            time.sleep(seconds)
            m1 = moves_now()
            say("disable")
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=30)[1]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)
    out, total = {}, 0
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].isdigit():
            if f[2] == "raw_syscalls:sys_enter":
                total = int(f[0])
            elif f[2].startswith("syscalls:sys_enter_") and int(f[0]):
                out[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
    named = sum(out.values())
    if total > named:
        out["other"] = total - named
    return out, m1 - m0


RECV = ("recvfrom", "recvmsg", "recvmmsg", "read", "readv")
SEND = ("sendto", "sendmsg", "sendmmsg", "write", "writev")


def syscall_summary(counts, moves):
    per = lambda names: sum(counts.get(n, 0) for n in names) / max(moves, 1)
    total = sum(counts.values()) / max(moves, 1)
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
    return {"total": round(total, 3), "recv": round(per(RECV), 3), "send": round(per(SEND), 3),
            "epoll_wait": round(per(("epoll_wait", "epoll_pwait")), 3),
            "epoll_ctl": round(per(("epoll_ctl",)), 3),
            "top": {k: round(v / max(moves, 1), 3) for k, v in top}}


class Row:
    """Processes of one row: servers (measured), helpers (Redis, nginx), a scratch dir."""

    def __init__(self, name, tmp):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)   # tmp may be new: makedirs makes it
        self.servers = []      # (Popen, http port, alloc count file)
        self.helpers = {}      # role -> [pid, ...]
        self.procs = []
        self.cleanup = []

    def start_server(self, build, extra, port=None):
        port = port or free_port()
        count_file = os.path.join(self.dir, "allocs-%d" % port)
        env = dict(os.environ, TTT_ALLOC_COUNT_FILE=count_file,
                   LD_PRELOAD=os.path.join(build, "libttt-alloc-count.so"))
        log = open(os.path.join(self.dir, "server-%d.log" % port), "w")
        p = subprocess.Popen([SERVER or os.path.join(build, "ttt-server"), "--port", str(port)]
                             + SERVER_ARGS + extra, env=env, stdout=log, stderr=log)
        wait_port(port, p)
        self.servers.append((p, port, count_file))
        self.procs.append(p)
        return port

    def start_redis(self):
        port = free_port()
        d = os.path.join(self.dir, "redis")
        os.makedirs(d)
        p = subprocess.Popen(["redis-server", os.path.join(ROOT, "deploy", "redis.conf"),
                              "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                              "--daemonize", "no", "--supervised", "no",
                              "--logfile", os.path.join(d, "redis.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port, p)
        self.procs.append(p)
        self.helpers["redis"] = [p.pid]
        return port

    def stop(self):
        for f in self.cleanup:
            f()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def measure(row, build, url, workers, profile):
    # ttt-match plays until the windows are measured, then gets SIGTERM: it
    # finishes the games in flight and prints its summary (perf stat takes
    # a few seconds to attach, so a fixed --duration would be a guess)
    duration = 300
    out = os.path.join(row.dir, "match.json")
    with open(out, "w") as f:
        match = subprocess.Popen([os.path.join(build, "ttt-match"), "--url", url,
                                  "--duration", str(duration), "--concurrency", str(CONCURRENCY),
                                  "--strategy", "random", "--seed", "1", "--workers",
                                  str(workers), "--games-per-conn", "1000000", "--json",
                                  "--no-progress"],
                                 stdout=f, stderr=subprocess.DEVNULL)
    time.sleep(WARMUP_S)
    spids = [p.pid for p, _, _ in row.servers]
    hpids = {k: v + [c for pid in v for c in children(pid)] for k, v in row.helpers.items()}

    def snap():
        return {"t": time.monotonic(),
                "moves": sum(moves_total(port) for _, port, _ in row.servers),
                "allocs": sum(alloc_total(cf) for _, _, cf in row.servers),
                "server": [sum(x) for x in zip(*(cpu_s(p) for p in spids))],
                "helpers": {k: [sum(x) for x in zip(*(cpu_s(p) for p in v))]
                            for k, v in hpids.items()}}
    a = snap()
    time.sleep(CPU_WINDOW_S)
    b = snap()
    calls, cmoves = syscalls(spids, SYSCALL_WINDOW_S,
                             lambda: sum(moves_total(port) for _, port, _ in row.servers))
    prof = None
    if profile:
        prof = record_profile(row, spids[0], build)
    match.send_signal(signal.SIGTERM)
    match.wait(timeout=60)
    with open(out) as f:
        mj = json.loads(f.read().strip().splitlines()[-1])
    # stopped on purpose, so "interrupted" is expected; what counts is the
    # judging: no violation, no unexpected error, no lost game
    mj["ok"] = mj["violations"] == 0 and mj["unexpected"] == 0 and mj["lost"] == 0
    moves = b["moves"] - a["moves"]
    el = b["t"] - a["t"]
    us = lambda x0, x1: round((x1 - x0) * 1e6 / max(moves, 1), 2)
    r = {"row": row.name, "moves": moves, "moves_per_s": round(moves / el, 1),
         "rtt_p50_ms": mj["rtt_ms"]["p50"], "rtt_p99_ms": mj["rtt_ms"]["p99"],
         "server_user_us": us(a["server"][0], b["server"][0]),
         "server_sys_us": us(a["server"][1], b["server"][1]),
         "syscalls_per_move": syscall_summary(calls, cmoves),
         "allocs_per_move": round((b["allocs"] - a["allocs"]) / max(moves, 1), 3),
         "match_cpu_us": round((mj["cpu_user_s"] + mj["cpu_sys_s"]) * 1e6 / max(mj["moves"], 1), 2),
         "match_ok": mj["ok"], "match_violations": mj["violations"],
         "match_workers": mj.get("workers", workers)}
    r["server_cpu_us"] = round(r["server_user_us"] + r["server_sys_us"], 2)
    for k in a["helpers"]:
        r[k + "_cpu_us"] = round(sum(b["helpers"][k]) * 1e6 / max(moves, 1)
                                 - sum(a["helpers"][k]) * 1e6 / max(moves, 1), 2)
    if prof:
        r["profile"] = prof
    return r


def record_profile(row, pid, keep_dir):
    """perf record -g of the server for PROFILE_WINDOW_S; the top symbols
    (self time, user and kernel) go into the row and keep_dir/profile-ROW.txt."""
    data = os.path.join(row.dir, "perf.data")
    subprocess.run(["perf", "record", "-g", "-o", data, "-p", str(pid), "--", "sleep",
                    str(PROFILE_WINDOW_S)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rep = []
    for sort in ("dso", "dso,symbol"):
        out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--sort", sort, "-g", "none"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        lines = [re.sub(r"\s+-\s+-\s*$", "", l.rstrip()) for l in out.splitlines()
                 if l.strip() and not l.startswith("#")]
        rep += lines[:10 if sort == "dso" else 30] + [""]
    with open(os.path.join(keep_dir, "profile-%s.txt" % row.name), "w") as f:
        f.write("\n".join(rep))
    return rep


def row_floor(build, tmp):
    r = subprocess.run([os.path.join(build, "ttt-bench-floor"), "--json", "--pairs",
                        str(CONCURRENCY), "--seconds", str(CPU_WINDOW_S)],
                       stdout=subprocess.PIPE, check=True, text=True)
    f = json.loads(r.stdout)
    return {"row": "floor", "moves": int(f["moves"]), "moves_per_s": f["moves_per_s"],
            "server_user_us": round(f["user_us"], 2), "server_sys_us": round(f["sys_us"], 2),
            "server_cpu_us": round(f["cpu_us"], 2),
            "syscalls_per_move": {"total": round(2 + 1 + f["epoll_wait_per_move"], 3),
                                  "recv": 1, "send": 2,
                                  "epoll_wait": round(f["epoll_wait_per_move"], 3)},
            "allocs_per_move": 0, "match_cpu_us": round(f["players_cpu_us"], 2)}


def row_memory(build, tmp, workers, profile):
    row = Row("memory", tmp)
    try:
        port = row.start_server(build, [])
        return measure(row, build, "ws://127.0.0.1:%d/ws" % port, workers, profile)
    finally:
        row.stop()


def row_redis(build, tmp, workers, profile):
    row = Row("redis", tmp)
    try:
        rport = row.start_redis()
        port = row.start_server(build, ["--redis", "redis://127.0.0.1:%d" % rport])
        return measure(row, build, "ws://127.0.0.1:%d/ws" % port, workers, profile)
    finally:
        row.stop()


def row_nginx(build, tmp, workers, profile):
    """Two servers on one Redis behind nginx, built by deploy/cluster.sh's
    nginx config; the servers are started here so that they carry the
    allocation counter and their PIDs are ours."""
    row = Row("nginx", tmp)
    try:
        rport = row.start_redis()
        ports = [row.start_server(build, ["--redis", "redis://127.0.0.1:%d" % rport,
                                          "--trusted-proxy", "127.0.0.1",
                                          "--instance", "ttt-%d" % k]) for k in (1, 2)]
        nport = free_port()
        nd = os.path.join(row.dir, "nginx")
        os.makedirs(os.path.join(nd, "logs"))
        with open(os.path.join(ROOT, "deploy", "nginx.conf")) as f:
            site = f.read()
        servers = "".join("    server 127.0.0.1:%d max_fails=0;\n" % p for p in ports)
        site = re.sub(r"^.*# cluster:server\n", "", site, flags=re.M)
        site = re.sub(r"^(\s*upstream\s+\S+\s*\{\n)", lambda m: m.group(1) + servers, site,
                      count=1, flags=re.M)
        site = re.sub(r"^(\s*)listen .*# cluster:listen", r"\g<1>listen 127.0.0.1:%d;" % nport,
                      site, flags=re.M)
        conf = os.path.join(nd, "nginx.conf")
        with open(conf, "w") as f:
            f.write("worker_processes auto;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/logs/error.log;\n"
                    "events { worker_connections 4096; }\nhttp {\naccess_log off;\n"
                    "client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
                    "fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n%s\n}\n"
                    % ((nd,) * 7 + (site,)))
        os.makedirs(os.path.join(nd, "tmp"))
        p = subprocess.Popen(["nginx", "-p", nd, "-c", conf], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(nd, "logs", "stderr"), "w"))
        wait_port(nport, p)
        row.procs.append(p)
        row.helpers["nginx"] = [p.pid]
        return measure(row, build, "ws://127.0.0.1:%d/ws" % nport, workers, profile)
    finally:
        row.stop()


def fmt_table(rows):
    head = ("row", "moves/s", "rtt p50/p99 ms", "srv user us", "srv sys us", "srv cpu us",
            "x floor", "syscalls/move (recv send ep_wait ep_ctl)", "allocs/move",
            "other cpu us", "match cpu us")
    floor = next((r["server_cpu_us"] for r in rows if r["row"] == "floor"), None)
    out = [head]
    for r in rows:
        sc = r["syscalls_per_move"]
        other = "; ".join("%s %.1f" % (k[:-7], r[k]) for k in ("redis_cpu_us", "nginx_cpu_us")
                          if k in r)
        out.append((r["row"], "%.0f" % r["moves_per_s"],
                    "%.2f / %.2f" % (r["rtt_p50_ms"], r["rtt_p99_ms"]) if "rtt_p50_ms" in r else "-",
                    "%.2f" % r["server_user_us"], "%.2f" % r["server_sys_us"],
                    "%.2f" % r["server_cpu_us"],
                    "%.2f" % (r["server_cpu_us"] / floor) if floor else "-",
                    "%.2f (%.2f %.2f %.2f %.2f)" % (sc["total"], sc["recv"], sc["send"],
                                                    sc["epoll_wait"], sc.get("epoll_ctl", 0)),
                    "%.2f" % r["allocs_per_move"], other or "-", "%.2f" % r["match_cpu_us"]))
    w = [max(len(x[i]) for x in out) for i in range(len(head))]
    lines = ["| " + " | ".join(x[i].ljust(w[i]) for i in range(len(head))) + " |" for x in out]
    lines.insert(1, "|" + "|".join("-" * (n + 2) for n in w) + "|")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--rows", default="floor,memory,redis,nginx")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true",
                    help="perf record -g the first server of each row; top symbols in the JSON")
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each server row N times and keep the least disturbed run")
    ap.add_argument("--server", default=None,
                    help="measure this ttt-server binary instead of BUILD's (the tools stay BUILD's)")
    ap.add_argument("--baseline", default=None,
                    help="also measure this ttt-server binary (an older build) in each server "
                         "row, alternating with BUILD's run by run: rows NAME-base")
    a = ap.parse_args()
    global SERVER
    SERVER = os.path.abspath(a.server) if a.server else None
    build = os.path.abspath(a.build)
    t0 = time.monotonic()
    for tool in ("perf", "redis-server", "nginx"):
        if not shutil.which(tool):
            sys.exit("bench: %s is missing (deploy/install-deps.sh --test)" % tool)
    tmp = tempfile.mkdtemp(prefix="ttt-bench-")
    rows = []
    try:
        for name in a.rows.split(","):
            if name == "floor":
                runs = [row_floor(build, tmp) for _ in range(a.repeat)]
                rows.append(min(runs, key=lambda r: r["server_cpu_us"]))
            else:
                fn = {"memory": row_memory, "redis": row_redis, "nginx": row_nginx}[name]
                # --baseline: the other binary's runs interleaved with ours
                # (ABBA), so that both see the same machine
                variants = [(name, SERVER)]
                if a.baseline:
                    variants.append((name + "-base", os.path.abspath(a.baseline)))
                runs = {label: [] for label, _ in variants}
                for k in range(a.repeat):
                    for label, binary in (variants if k % 2 == 0 else variants[::-1]):
                        SERVER = binary
                        r = fn(build, tmp + "/%s-%d" % (label, k), a.workers, a.profile)
                        r["row"] = label
                        runs[label].append(r)
                SERVER = os.path.abspath(a.server) if a.server else None
                # --repeat: the run with the least server CPU per move, the
                # one least disturbed by whatever else the machine ran
                for label, _ in variants:
                    rows.append(min(runs[label], key=lambda r: r["server_cpu_us"]))
                    if "profile" in rows[-1]:   # the kept run's, under the row's label
                        with open(os.path.join(build, "profile-%s.txt" % label), "w") as f:
                            f.write("\n".join(rows[-1]["profile"]))
            for r in rows[-(2 if name != "floor" and a.baseline else 1):]:
                print("bench: %-11s %8.0f moves/s, server %.2f us/move, %.2f syscalls/move, "
                      "%.2f allocs/move" % (r["row"], r["moves_per_s"], r["server_cpu_us"],
                                            r["syscalls_per_move"]["total"], r["allocs_per_move"]),
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    el = time.monotonic() - t0
    print(fmt_table(rows))
    for r in rows:
        if "syscalls_per_move" in r and "top" in r["syscalls_per_move"]:
            print("syscalls per move, %s: %s" % (r["row"], ", ".join(
                "%s %.2f" % kv for kv in r["syscalls_per_move"]["top"].items())))
        if "profile" in r:
            print("profile, %s (perf record -g, top symbols):" % r["row"])
            print("\n".join("  " + l for l in r["profile"]))
        if r.get("match_ok") is False:
            print("bench: ttt-match judged the %s row NOT ok (%d violations)"
                  % (r["row"], r["match_violations"]))
    print("bench: the table took %.1f s (the same run for every row: compare within it)" % el)
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": round(el, 1),
           "load_before": os.getloadavg()[0], "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    return 0 if all(r.get("match_ok", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
