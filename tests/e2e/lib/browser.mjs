/* browser.mjs -- one real browser for a run, Chromium (CDP) or Firefox ESR (WebDriver BiDi),
 * both from Debian's packages and driven by puppeteer-core (no driver, no download), and the
 * page helpers every case uses: a snapshot of what the page shows, waits on conditions,
 * clicks, keys, console errors and screenshots. */

import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { Failure, check, sleep } from './procs.mjs';

export const WAIT_MS = 15000;     // any single page condition; generous for a loaded machine
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 360, height: 740 };

const BROWSERS = {
  chromium: {
    exe: '/usr/bin/chromium',
    launch: (dir) => ({
      browser: 'chrome', headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--disable-dev-shm-usage', '--user-data-dir=' + dir]
    })
  },
  firefox: {
    exe: '/usr/bin/firefox-esr',
    launch: (dir) => ({
      browser: 'firefox', headless: true, userDataDir: dir,
      extraPrefsFirefox: {
        // Quiet and offline apart from the page: no updates, telemetry or first-run pages.
        'app.update.enabled': false, 'browser.shell.checkDefaultBrowser': false,
        'datareporting.policy.dataSubmissionEnabled': false,
        'toolkit.telemetry.enabled': false, 'network.captive-portal-service.enabled': false
      }
    })
  }
};

export async function launchBrowser(kind, tmp) {
  const b = BROWSERS[kind];
  check(b, `unknown browser ${kind}`);
  check(fs.existsSync(b.exe), `${b.exe} is missing (deploy/install-deps.sh --test)`);
  const dir = path.join(tmp, kind + '-profile');
  fs.mkdirSync(dir, { recursive: true });
  const browser = await puppeteer.launch({ executablePath: b.exe, protocolTimeout: 60000,
                                           ...b.launch(dir) });
  return browser;
}

/* A tab. `errors` collects what the page's console said at error level and every uncaught
 * exception, for check_no_console_errors(). */
export async function newTab(ctx, size = DESKTOP) {
  const page = await ctx.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e && e.message || e)));
  await page.setViewport(size);
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);
  return page;
}

// Connection-level noise a reload, restart or closed socket legitimately produces.
const EXPECTED_NOISE = /WebSocket|was interrupted while the page was loading|ws:\/\//;

export function checkNoConsoleErrors(page, where) {
  const errs = page.errors.filter((e) => !EXPECTED_NOISE.test(e));
  check(errs.length === 0, `console errors in ${where}: ${JSON.stringify(errs)}`);
}

/* What the page shows, read from the DOM only. Runs in the page. */
function snapshotInPage() {
  const q = (t) => document.querySelector('[data-testid="' + t + '"]');
  const vis = (t) => { const e = q(t); return !!e && !e.hidden && e.offsetParent !== null; };
  const text = (t) => { const e = q(t); return e ? e.textContent : null; };
  const g = q('game');
  const cells = [];
  for (let i = 0; i < 9; i++) cells.push(q('cell-' + i));
  return {
    lobby: vis('lobby'), game: vis('game'), replay: vis('replay'),
    id: g.dataset.gameId || '', status: g.dataset.status || '', result: g.dataset.result || '',
    winner: g.dataset.winner || '', turn: g.dataset.turn || '', mark: g.dataset.mark || '',
    role: g.dataset.role || '',
    board: cells.map((c) => c.dataset.mark || '.').join(''),
    drawn: cells.map((c) => c.querySelectorAll('svg').length).join(''),
    win: cells.map((c, i) => c.classList.contains('win') ? i : -1).filter((i) => i >= 0),
    labels: cells.map((c) => c.getAttribute('aria-label')),
    statusText: text('status'), gameIdText: text('game-id'),
    seatX: text('seat-X'), seatO: text('seat-O'), series: vis('series') ? text('series') : '',
    resign: vis('resign'), rematch: vis('rematch'), offer: vis('rematch-offer'),
    replayLink: vis('replay-link'),
    conn: q('conn').dataset.state || '',
    url: location.href
  };
}

export function snapshot(page) {
  return page.evaluate(snapshotInPage);
}

/* Poll `probe(page)` until it returns something truthy and return that; fail naming the
 * condition and what the page showed. A bounded wait on a condition, never on time. */
export async function waitFor(page, probe, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let lastErr = null;
  for (;;) {
    try {
      const v = await probe(page);
      if (v) return v;
    } catch (e) {
      if (e instanceof Failure) throw e;
      lastErr = e;      // a navigation in progress destroys the context: try again
    }
    if (Date.now() > deadline) {
      let snap = null;
      try { snap = await snapshot(page); } catch (e) { snap = String(e.message); }
      throw new Failure(`timed out after ${timeout / 1000} s waiting for: ${what}; page: ` +
                        JSON.stringify(snap) + (lastErr ? `; last error: ${lastErr.message}` : ''));
    }
    await sleep(50);
  }
}

export function waitSnap(page, pred, what, timeout = WAIT_MS) {
  return waitFor(page, async (p) => { const s = await snapshot(p); return pred(s) ? s : null; },
                 what, timeout);
}

export const sel = (tid) => `[data-testid="${tid}"]`;

// Wait until the element is shown and enabled, then click it as a mouse would.
export async function clickTestid(page, tid) {
  await waitFor(page, (p) => p.evaluate((s) => {
    const e = document.querySelector(s);
    return !!e && !e.disabled && e.offsetParent !== null;
  }, sel(tid)), `button ${tid} clickable`);
  await page.click(sel(tid));
}

export function textOf(page, tid) {
  return page.$eval(sel(tid), (e) => e.textContent);
}

export function valueOf(page, tid) {
  return page.$eval(sel(tid), (e) => e.value);
}

export async function openHome(page, base) {
  await page.goto(base + '/');
  await waitSnap(page, (s) => s.lobby, 'the lobby is shown');
  // Buttons are enabled once the WebSocket said welcome.
  await waitFor(page, (p) => p.$eval(sel('new-friend'), (e) => !e.disabled),
                'lobby buttons enabled');
}

/* After following a link to a game: a player never asked for a name is asked before the page
 * takes a seat. `expect` true: the question must come (and is answered "Not now"); false: it
 * may (a case run alone, before any other in this browser); either way the page goes on. */
export async function passNamePrompt(page, gid, expect) {
  const seen = await waitFor(page, (p) => p.evaluate((id) => {
    const f = document.querySelector('[data-testid="name-form"]');
    const ask = document.querySelector('[data-testid="name-ask"]');
    if (f && !f.hidden && ask && !ask.hidden && ask.textContent.includes('join game ' + id)) return 'ask';
    const g = document.querySelector('[data-testid="game"]');
    return g && !g.hidden && g.dataset.gameId === String(id) ? 'game' : null;
  }, gid), `game ${gid} or the name question before joining it`);
  check(seen === 'ask' || !expect, `joined game ${gid} without asking for a name first`);
  if (seen === 'ask') await page.click(sel('name-skip'));
}

// The page scrolls sideways: something is wider than the screen.
export function overflowsX(page) {
  return page.evaluate(() => document.documentElement.scrollWidth >
                             document.documentElement.clientWidth);
}

export async function shot(page, dir, name) {
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, name + '.png'), fullPage: true });
}
