#!/usr/bin/env node
/* run.mjs -- end to end: a real headless browser (Chromium or Firefox ESR, Debian's own,
 * driven by puppeteer-core) plays the page served by ttt-server.
 *
 *   node tests/e2e/run.mjs --browser chromium|firefox --server build/ttt-server --web web \
 *        [--shots DIR] [--only CASE] [--keep]
 *
 * Starts the server on a free loopback port in a temp dir, drives the page like players would
 * (clicks, keys, several tabs and browser contexts), and checks what the page shows against
 * the board it rendered and against the server's /api/games/{id}. Screenshots at phone and
 * desktop widths go to --shots. Exit status 0 only if every case passes; the temp dir (logs)
 * is kept on failure or with --keep. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer, stop } from './lib/procs.mjs';

// puppeteer-core is installed next to this file by `deploy/install-deps.sh --test` (npm ci);
// without it, say so instead of failing on an import.
const HERE = path.dirname(fileURLToPath(import.meta.url));
if (!fs.existsSync(path.join(HERE, 'node_modules', 'puppeteer-core', 'package.json'))) {
  console.error(`run.mjs: no puppeteer-core in ${HERE}/node_modules: run deploy/install-deps.sh --test`);
  console.log('e2e: 0 passed, 1 failed (setup)');
  process.exit(1);
}
const { launchBrowser, newTab, openHome, shot } = await import('./lib/browser.mjs');
const { PLAY_CASES, LAST_CASES } = await import('./cases_play.mjs');
const { NAME_CASES } = await import('./cases_names.mjs');

const CASES = [...PLAY_CASES, ...NAME_CASES, ...LAST_CASES];

function usage(msg) {
  console.error(`run.mjs: ${msg}\nusage: run.mjs --browser chromium|firefox --server BIN --web DIR ` +
                `[--shots DIR] [--only CASE] [--keep]\ncases: ${CASES.map((x) => x[0]).join(', ')}`);
  process.exit(2);
}

async function closeExtraTabs(c) {
  for (const ctx of c.browser.browserContexts()) {
    for (const p of await ctx.pages()) if (p !== c.page) await p.close().catch(() => {});
    if (ctx !== c.ctx) await ctx.close().catch(() => {});
  }
}

async function main() {
  const { values: a } = parseArgs({ options: {
    browser: { type: 'string' }, server: { type: 'string' }, web: { type: 'string' },
    shots: { type: 'string' }, only: { type: 'string' }, keep: { type: 'boolean' } } });
  if (!['chromium', 'firefox'].includes(a.browser)) usage('--browser must be chromium or firefox');
  if (!a.server || !a.web) usage('--server and --web are required');
  const serverBin = path.resolve(a.server), web = path.resolve(a.web);
  if (!fs.existsSync(serverBin)) usage(`no server binary at ${serverBin}`);
  if (!fs.existsSync(path.join(web, 'index.html'))) usage(`no index.html in ${web}`);
  if (a.only && !CASES.some((x) => x[0] === a.only)) usage(`no case ${a.only}`);
  const tag = `e2e_${a.browser}`;
  const shots = a.shots ? path.resolve(a.shots, a.browser) : null;

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `ttt-${tag}-`));
  const passed = [], failed = [];
  let proc = null, browser = null;
  try {
    proc = await startServer(serverBin, web, tmp);
    browser = await launchBrowser(a.browser, tmp);
    const ctx = browser.defaultBrowserContext();
    const old = await ctx.pages();
    const page = await newTab(ctx);
    for (const p of old) await p.close();
    const c = { browser: browser, ctx: ctx, page: page, kind: a.browser, tmp: tmp, shots: shots,
                base: `http://127.0.0.1:${proc.port}`, port: proc.port, proc: proc,
                serverBin: serverBin, web: web };
    await openHome(page, c.base);
    await shot(page, shots, 'lobby-desktop');
    for (const [name, fn] of CASES) {
      if (a.only && name !== a.only) continue;
      const t0 = Date.now();
      try {
        await fn(c);
        passed.push(name);
        console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed.push(name);
        console.error(`FAIL ${name}: ${e.message}`);
        if (!(e.name === 'Failure')) console.error(e.stack);
        await page.screenshot({ path: path.join(tmp, `fail-${name}.png`) }).catch(() => {});
      }
      // Later cases start from one clean tab.
      await closeExtraTabs(c).catch(() => {});
    }
  } catch (e) {
    failed.push('setup');
    console.error(`FAIL setup: ${e.stack || e.message}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stop(proc);
  }

  const log = path.join(tmp, 'server.log');
  if (failed.length && fs.existsSync(log)) {
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    const tail = lines.filter((l) => l.includes('SUMMARY:') || l.includes('ERROR:')).slice(0, 5)
      .concat(lines.slice(-30));
    console.error('---- server log (last lines) ----\n' + tail.join('\n'));
  }
  if (failed.length || a.keep) console.log(`${tag}: artifacts kept in ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  if (shots) console.log(`${tag}: screenshots in ${shots}`);
  console.log(`${tag}: ${passed.length} passed, ${failed.length} failed` +
              (failed.length ? ` (${failed.join(', ')})` : ''));
  process.exit(failed.length ? 1 : 0);
}

main();
