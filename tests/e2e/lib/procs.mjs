/* procs.mjs -- the real processes an end-to-end run needs: ttt-server and redis-server, each
 * started on a free loopback port in the run's temp dir and stopped by its PID, plus the
 * server's HTTP API as the tests read it. */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/sbin/redis-server']
  .find((p) => fs.existsSync(p)) || '/usr/bin/redis-server';
const START_S = 20;               // a sanitized server on a loaded 2-core machine

/** A check failed; the message says what was seen and what was expected. */
export class Failure extends Error {}

export function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port nobody listens on now (the kernel's choice, released before use).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function connects(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port: port });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => { c.destroy(); resolve(false); });
  });
}

// A child process with its exit awaited once: `exited` resolves to the exit code (or signal).
function launch(cmd, args, cwd, logPath) {
  const fd = fs.openSync(logPath, 'w');
  const child = spawn(cmd, args, { cwd: cwd, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const p = { child: child, pid: child.pid, log: logPath, code: undefined };
  p.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { p.code = code === null ? signal : code; resolve(p.code); });
    child.once('error', (e) => { p.code = 'spawn error: ' + e.message; resolve(p.code); });
  });
  return p;
}

// Bounded poll of a port until the process listens (a port, not the page).
async function waitPort(p, port, what) {
  const deadline = Date.now() + START_S * 1000;
  for (;;) {
    if (p.code !== undefined) throw new Failure(`${what} exited with ${p.code} before listening; see ${p.log}`);
    if (await connects(port)) return;
    if (Date.now() > deadline) {
      await stop(p);
      throw new Failure(`${what} did not answer on port ${port} within ${START_S} s`);
    }
    await sleep(50);
  }
}

export async function startServer(bin, web, tmp, opts = {}) {
  const port = opts.port || await freePort();
  const log = path.join(tmp, opts.log || 'server.log');
  const p = launch(bin, ['--host', '127.0.0.1', '--port', String(port), '--web', web,
                         ...(opts.extra || [])], tmp, log);
  await waitPort(p, port, 'ttt-server');
  p.port = port;
  return p;
}

export async function startRedis(tmp) {
  const port = await freePort();
  const p = launch(REDIS_SERVER, ['--bind', '127.0.0.1', '--port', String(port), '--save', '',
                                  '--appendonly', 'no', '--dir', tmp],
                   tmp, path.join(tmp, `redis-${port}.log`));
  await waitPort(p, port, 'redis-server');
  p.port = port;
  return p;
}

// SIGTERM, then SIGKILL after 10 s; resolves to the exit code, or a sentence when it was killed.
export async function stop(p) {
  if (!p || p.code !== undefined) return p ? p.code : null;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => { if (p.code === undefined) p.child.kill('SIGKILL'); }, 10000);
  const code = await p.exited;
  clearTimeout(t);
  return code === 'SIGKILL' ? 'killed after SIGTERM timeout' : code;
}

// Wait for a process to end by itself (after a signal the test sent).
export async function waitExit(p, ms, what) {
  let t;
  const timeout = new Promise((resolve) => { t = setTimeout(() => resolve('timeout'), ms); });
  const r = await Promise.race([p.exited, timeout]);
  clearTimeout(t);
  check(r !== 'timeout', `${what} still runs ${ms / 1000} s after SIGTERM`);
  return r;
}

export async function apiState(port, gid) {
  const url = `http://127.0.0.1:${port}/api/games/${gid}`;
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new Failure(`GET ${url}: ${e.message}`);
  }
  check(res.ok, `GET ${url}: HTTP ${res.status}`);
  try {
    return await res.json();
  } catch (e) {
    throw new Failure(`GET ${url}: not JSON (${e.message})`);
  }
}
