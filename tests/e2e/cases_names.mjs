/* cases_names.mjs -- the end-to-end cases of issue 12: the replay screen (buttons, arrow keys,
 * play, the result at the end); names asked once and kept, shown as text (a name made of HTML
 * stays those characters) in the open-games list, on the seats and in the status line; and two
 * named players on two processes sharing Redis playing three games with rematches, the running
 * score on both sides, then, after both servers were restarted, the replay of the first game.
 * Screenshots at phone and desktop widths along the way. */

import fs from 'node:fs';
import { check, startServer, startRedis, stop, waitExit, apiState, REDIS_SERVER } from './lib/procs.mjs';
import { newTab, waitSnap, waitFor, clickTestid, openHome, sel, valueOf, textOf,
         checkNoConsoleErrors, overflowsX, shot, passNamePrompt, PHONE, DESKTOP } from './lib/browser.mjs';
import { checkFinal, firstEmpty, playVsComputer, playTurn } from './lib/game.mjs';

const HTML_NAME = '<svg onload=alert(1)>';        // 21 characters: the contract allows it
const TOO_LONG = '<img src=x onerror=alert(1)>';  // 28: over 24, refused by the page itself
const LONG = 'Wolfgang-Amadeus-Mozart!';          // 24, no space to wrap at

/* ---- The replay screen ------------------------------------------------------------------- */

function replaySnapshotInPage() {
  const q = (t) => document.querySelector('[data-testid="' + t + '"]');
  const r = q('replay');
  const ds = r.dataset;
  const cells = [];
  for (let i = 0; i < 9; i++) cells.push(q('rcell-' + i));
  return {
    shown: !r.hidden && r.offsetParent !== null, loaded: ds.loaded === 'yes',
    id: ds.gameId || '', step: Number(ds.step), steps: Number(ds.steps), board: ds.board || '',
    drawn: cells.map((c) => (c.dataset.mark || '.')).join(''),
    win: cells.map((c, i) => c.classList.contains('win') ? i : -1).filter((i) => i >= 0),
    playing: ds.playing === 'yes', plays: Number(ds.plays), ticks: Number(ds.ticks),
    end: ds.end === 'yes',
    status: q('replay-status').textContent, players: q('replay-players').textContent,
    stepText: q('replay-step').textContent, url: location.href
  };
}

const rsnap = (page) => page.evaluate(replaySnapshotInPage);

function waitReplay(page, pred, what, timeout) {
  return waitFor(page, async (p) => { const s = await rsnap(p); return s.shown && pred(s) ? s : null; },
                 what, timeout);
}

function boardAfter(moves, k) {
  const b = '.........'.split('');
  for (let i = 0; i < k; i++) b[moves[i]] = i % 2 ? 'O' : 'X';
  return b.join('');
}

/* The replay on screen is game `gid` as the server has it: every step by buttons and by arrow
 * keys shows the board after that many moves, the end shows the result and the line, and Play
 * (at `speed`) runs to the end by itself. Returns the last snapshot. */
async function checkReplay(page, port, gid, speed) {
  const api = await apiState(port, gid);
  const moves = api.moves, n = moves.length;
  let s = await waitReplay(page, (x) => x.loaded && x.id === String(gid), `the replay of game ${gid} loaded`);
  check(s.url.endsWith(`/?replay=${gid}`), `replay URL ${s.url}`);
  check(s.steps === n && s.step === 0 && s.board === '.........',
        `replay opens at step ${s.step} of ${s.steps} on ${s.board}, want 0 of ${n}`);
  for (let k = 1; k <= n; k++) {
    await page.click(sel('replay-next'));
    s = await waitReplay(page, (x) => x.step === k, `replay step ${k} by the button`);
    check(s.board === boardAfter(moves, k) && s.drawn === s.board,
          `step ${k}: board ${s.board} drawn ${s.drawn}, want ${boardAfter(moves, k)}`);
    check(s.stepText.includes(`Move ${k} of ${n}`), `step text ${JSON.stringify(s.stepText)}`);
  }
  check(s.end, 'the last step is not the end');
  if (api.result === 'win') {
    check(JSON.stringify([...s.win].sort()) === JSON.stringify([...api.line].sort()),
          `replay end highlights ${s.win}, the server's line is ${api.line}`);
    check(s.status.includes('won'), `replay end says ${JSON.stringify(s.status)} for a win`);
  } else if (api.result === 'draw') {
    check(s.status.includes('Draw'), `replay end says ${JSON.stringify(s.status)} for a draw`);
  }
  // Arrow keys and Home/End, from the page with no control focused.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('Home');
  await waitReplay(page, (x) => x.step === 0 && x.win.length === 0, 'Home goes back to the start');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  s = await waitReplay(page, (x) => x.step === 2, 'two Right arrows: step 2');
  check(s.board === boardAfter(moves, 2), `after two Right arrows: ${s.board}`);
  await page.keyboard.press('ArrowLeft');
  await waitReplay(page, (x) => x.step === 1 && x.board === boardAfter(moves, 1), 'Left arrow: step 1');
  await page.keyboard.press('End');
  s = await waitReplay(page, (x) => x.step === n && x.end, 'End: the last step');
  // Play from the start, faster than real pace: it runs to the end and stops by itself.
  // (A fast replay may be over before a poll sees it playing: the count of plays tells.)
  await page.select(sel('replay-speed'), String(speed));
  const { plays, ticks } = s;
  await page.click(sel('replay-play'));
  s = await waitReplay(page, (x) => x.plays === plays + 1 && x.ticks === ticks + n && !x.playing && x.end,
                       `Play made all ${n} steps from the start, then stopped`, 30000);
  check(s.board === boardAfter(moves, n), `after playing: ${s.board}`);
  return { snap: s, api: api };
}

async function replay(c) {
  const page = c.page;
  const gid = await playVsComputer(page, c.base, 'perfect', firstEmpty, false);
  await checkFinal(page, c.port, gid);
  // "Replay" on the finished game opens it in place.
  await clickTestid(page, 'replay-link');
  await checkReplay(page, c.port, gid, 8);
  await shot(page, c.shots, 'replay-end-desktop');
  // Back in history is the game again; the lobby button leaves.
  await page.goBack();
  await waitSnap(page, (x) => x.game && x.id === String(gid), 'Back returns to the game');
  await page.goForward();
  await waitReplay(page, (x) => x.loaded && x.id === String(gid), 'Forward returns to the replay');
  checkNoConsoleErrors(page, 'replay');
  // A game that does not exist says so in words (the browser logs the 404 itself).
  await page.goto(`${c.base}/?replay=999999`);
  await waitReplay(page, (x) => !x.loaded && x.status.includes('no game 999999'),
                   'an unknown game says there is none');
  await clickTestid(page, 'replay-lobby');
  await waitSnap(page, (x) => x.lobby && !x.replay, 'the lobby after the replay');
  page.errors.length = 0;
}

/* ---- Names ------------------------------------------------------------------------------- */

// A fresh browser context: its own localStorage, so each player has their own name.
async function player(c, size) {
  const ctx = await c.browser.createBrowserContext();
  const page = await newTab(ctx, size);
  page.dialogs = [];
  page.on('dialog', (d) => { page.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  return page;
}

// The first visit asks for a name; it is kept (a reload does not ask again).
async function setName(page, base, name) {
  await openHome(page, base);
  await waitFor(page, (p) => p.$eval(sel('name-form'), (e) => !e.hidden), 'the page asks for a name');
  await page.type(sel('name-input'), name);
  await page.click(sel('name-save'));
  await waitFor(page, (p) => p.$eval(sel('name-text'), (e, n) => e.textContent === n &&
                                      e.offsetParent !== null, name), `"Playing as ${name}"`);
}

// Text nodes only: nothing made of a name became an element, and no script ran.
async function checkNoMarkup(page, where) {
  const found = await page.evaluate(() =>
    ['status', 'matchup', 'seat-X', 'seat-O', 'open-games', 'series', 'name-text', 'replay-players',
     'replay-status'].filter((t) => {
      const e = document.querySelector('[data-testid="' + t + '"]');
      return e && e.querySelector('svg, img');
    }));
  check(found.length === 0, `${where}: a name became markup in ${found}`);
  check(page.dialogs.length === 0, `${where}: a name ran script (dialogs ${page.dialogs})`);
}

// The board is square, inside the screen, and the page does not scroll sideways.
async function checkLayout(page, where) {
  const r = await page.evaluate(() => {
    const b = document.querySelector('.view:not([hidden]) .board').getBoundingClientRect();
    return { w: b.width, h: b.height, left: b.left, right: b.right, vw: document.documentElement.clientWidth };
  });
  check(Math.abs(r.w - r.h) <= 1, `${where}: the board is ${r.w}x${r.h}, not square`);
  check(r.left >= 0 && r.right <= r.vw && r.w >= 200, `${where}: the board spans ${r.left}..${r.right} of ${r.vw}`);
  check(!(await overflowsX(page)), `${where}: the page scrolls sideways`);
}

async function names(c) {
  const a = await player(c, PHONE), h = await player(c, PHONE);
  // The page refuses what the contract refuses, before sending anything.
  await openHome(h, c.base);
  await waitFor(h, (p) => p.$eval(sel('name-form'), (e) => !e.hidden), 'the page asks for a name');
  check(!(await overflowsX(h)), 'the name prompt scrolls sideways at 360 px');
  await shot(h, c.shots, 'lobby-ask-phone');
  await h.type(sel('name-input'), TOO_LONG);
  await h.click(sel('name-save'));
  await waitFor(h, (p) => p.$eval(sel('toast'), (e) => !e.hidden && e.textContent.includes('24')),
                'a 28-character name is refused with a reason');
  await h.$eval(sel('name-input'), (e) => { e.value = ''; });
  await setName(h, c.base, HTML_NAME);
  await setName(a, c.base, 'Ana');
  await h.reload();
  await waitFor(h, (p) => p.$eval(sel('name-text'), (e, n) => e.textContent === n, HTML_NAME),
                'the name is kept across a reload');
  check(await h.$eval(sel('name-form'), (e) => e.hidden), 'the page asks for a name a second time');
  await shot(h, c.shots, 'lobby-named-phone');

  await clickTestid(h, 'new-friend');
  const s0 = await waitSnap(h, (x) => x.game && x.status === 'waiting', 'the HTML-named player waits');
  const gid = s0.id;
  // Ana sees the creator's name, as those characters, in the open-games list.
  await a.bringToFront();
  const row = await waitFor(a, (p) => p.evaluate((id) => {
    const e = document.querySelector(`[data-testid="open-name-${id}"]`);
    return e ? e.textContent : null;
  }, gid), `game ${gid} in Ana's open list with its creator's name`);
  check(row === HTML_NAME, `open-games list shows ${JSON.stringify(row)}, want ${HTML_NAME}`);
  await checkNoMarkup(a, 'open-games list');
  await clickTestid(a, `join-${gid}`);
  let s = await waitSnap(a, (x) => x.game && x.status === 'playing' && x.mark === 'O', 'Ana joined as O');
  check(s.seatX.includes(HTML_NAME) && s.seatO.includes('Ana'), `seats ${s.seatX} / ${s.seatO}`);
  check(s.statusText.includes(HTML_NAME), `Ana's status ${JSON.stringify(s.statusText)} lacks X's name`);
  s = await waitSnap(h, (x) => x.statusText.includes('Your turn') && x.seatO.includes('Ana'),
                     'the creator sees Ana on the O seat');
  check(s.seatX.includes(HTML_NAME), `creator's seats ${s.seatX}`);
  const api = await apiState(c.port, gid);
  check(api.names && api.names.X === HTML_NAME && api.names.O === 'Ana',
        `server names ${JSON.stringify(api.names)}`);
  await checkLayout(h, 'game at 360 px');
  await shot(h, c.shots, 'game-named-phone');
  await playTurn(h, 'X', 4);
  s = await waitSnap(a, (x) => x.turn === 'me', "Ana's turn");
  check(s.statusText.includes('Your turn'), `Ana's status ${JSON.stringify(s.statusText)}`);
  await a.click(sel('resign'));
  await a.click(sel('resign'));
  s = await checkFinal(h, c.port, gid, 'resign', 'X');
  check(s.statusText.includes('Ana resigned'), `winner's status ${JSON.stringify(s.statusText)}`);
  check(s.series.includes(`${HTML_NAME} 1 \u2013 0 Ana`), `series ${JSON.stringify(s.series)}`);
  for (const p of [a, h]) await checkNoMarkup(p, 'game');

  // A new name in the lobby goes with the next rematch (the contract: rematch sets the
  // caller's name in the new game); 24 characters without a space still fit a phone.
  await h.bringToFront();
  await clickTestid(h, 'to-lobby');
  await clickTestid(h, 'name-change');
  await h.$eval(sel('name-input'), (e) => { e.value = ''; });
  await h.type(sel('name-input'), LONG);
  await h.click(sel('name-save'));
  await waitFor(h, (p) => p.$eval(sel('name-text'), (e, n) => e.textContent === n, LONG), 'the new name');
  check(!(await overflowsX(h)), 'the lobby scrolls sideways with a 24-character name');
  await h.goBack();
  await waitSnap(h, (x) => x.game && x.id === gid && x.status === 'over', 'back to the finished game');
  await clickTestid(h, 'rematch');
  await a.bringToFront();
  await waitSnap(a, (x) => x.offer, 'Ana sees the rematch offer');
  await clickTestid(a, 'rematch');
  s = await waitSnap(h, (x) => x.id !== gid && x.status === 'playing', 'the rematch with the new name');
  check(s.mark === 'O' && s.seatO.includes(LONG) && s.seatX.includes('Ana'),
        `rematch seats ${s.seatX} / ${s.seatO}`);
  check(s.series === `Series: ${LONG} 1 \u2013 0 Ana`, `rematch series ${JSON.stringify(s.series)}`);
  await checkLayout(h, 'a 24-character name at 360 px');
  await shot(h, c.shots, 'game-long-name-phone');
  for (const p of [a, h]) checkNoConsoleErrors(p, 'names');
  await h.setViewport(DESKTOP);
  await shot(h, c.shots, 'game-named-desktop');
  for (const p of [a, h]) await p.browserContext().close();
}

/* ---- Three games on two processes, the score, and a replay after a restart -------------- */

const G1 = [0, 3, 1, 4, 2];                       // X wins on the top row
const G3 = [0, 4, 8, 2, 6, 3, 5, 7, 1];           // nobody wins

// Play `cells` in turn: X from the tab holding X, O from the other.
async function playGame(byMark, cells) {
  for (let i = 0; i < cells.length; i++) {
    const mark = i % 2 ? 'O' : 'X';
    await playTurn(byMark[mark], mark, cells[i]);
  }
}

async function rematchBoth(offer, accept, gid) {
  await offer.bringToFront();
  await clickTestid(offer, 'rematch');
  await accept.bringToFront();
  await waitSnap(accept, (x) => x.offer, 'the rematch offer arrives');
  await clickTestid(accept, 'rematch');
  const s = await waitSnap(accept, (x) => x.id !== String(gid) && x.status === 'playing', 'in the rematch');
  await waitSnap(offer, (x) => x.id === s.id && x.status === 'playing', 'both in the rematch');
  return s.id;
}

async function seriesSeen(page, want, what) {
  const s = await waitSnap(page, (x) => x.series === 'Series: ' + want,
                           `${what}: the series reads ${JSON.stringify(want)}`);
  return s;
}

async function series(c) {
  check(fs.existsSync(REDIS_SERVER), `no ${REDIS_SERVER}`);
  const procs = [];
  try {
    const redis = await startRedis(c.tmp);
    procs.push(redis);
    const extra = ['--redis', `redis://127.0.0.1:${redis.port}`];
    const one = await startServer(c.serverBin, c.web, c.tmp, { extra: extra, log: 'series-1.log' });
    const two = await startServer(c.serverBin, c.web, c.tmp, { extra: extra, log: 'series-2.log' });
    procs.push(one, two);
    const baseA = `http://127.0.0.1:${one.port}`, baseB = `http://127.0.0.1:${two.port}`;
    const ana = await player(c, DESKTOP), ben = await player(c, PHONE);
    await setName(ana, baseA, 'Ana');
    await setName(ben, baseB, 'Ben');

    // Game 1: Ana (X) on process one, Ben (O) on process two. Ana wins.
    await clickTestid(ana, 'new-friend');
    const g1 = (await waitSnap(ana, (x) => x.game && x.status === 'waiting', 'Ana waits')).id;
    await ben.goto(`${baseB}/?game=${g1}`);
    await waitSnap(ben, (x) => x.game && x.mark === 'O' && x.seatX.includes('Ana'), 'Ben joined, sees Ana');
    await waitSnap(ana, (x) => x.turn === 'me' && x.seatO.includes('Ben'), 'Ana sees Ben');
    // A spectator (asked for a name like anyone who follows a link, then watching the full
    // game) reads both names.
    const fan = await player(c, PHONE);
    await fan.goto(`${baseB}/?game=${g1}`);
    await passNamePrompt(fan, g1, true);
    // role comes with "watching", the status line with the state after it
    let s = await waitSnap(fan, (x) => x.game && x.role === 'spectator' && x.status === 'playing',
      'the spectator watches game 1');
    check(s.statusText === 'Watching \u00b7 Ana (X) to move', `spectator status ${JSON.stringify(s.statusText)}`);
    check(s.seatX.includes('Ana') && s.seatO.includes('Ben'), `spectator seats ${s.seatX} / ${s.seatO}`);
    await playGame({ X: ana, O: ben }, G1);
    s = await waitSnap(fan, (x) => x.status === 'over', 'the spectator sees the end');
    check(s.statusText === 'Watching \u00b7 Ana (X) won', `spectator status ${JSON.stringify(s.statusText)}`);
    check(s.series === 'Series: Ana 1 \u2013 0 Ben', `spectator series ${JSON.stringify(s.series)}`);
    await fan.browserContext().close();
    await checkFinal(ana, one.port, g1, 'win', 'X');
    await checkFinal(ben, two.port, g1, 'win', 'X');
    await seriesSeen(ana, 'Ana 1 \u2013 0 Ben', 'Ana after game 1');
    await seriesSeen(ben, 'Ben 0 \u2013 1 Ana', 'Ben after game 1');
    const link = await valueOf(ana, 'share-link');
    check(link === `${baseA}/?replay=${g1}`, `game 1's share link ${link}`);

    // Game 2: marks swap, Ben is X and wins; the score is per player, not per mark.
    const g2 = await rematchBoth(ana, ben, g1);
    s = await waitSnap(ben, (x) => x.id === g2 && x.mark === 'X', 'Ben is X in game 2');
    check(s.seatX.includes('Ben') && s.seatO.includes('Ana'), `game 2 seats ${s.seatX} / ${s.seatO}`);
    await seriesSeen(ben, 'Ben 0 \u2013 1 Ana', 'Ben while game 2 runs');
    // A reload resumes the seat with its name and the score.
    await ben.reload();
    await waitSnap(ben, (x) => x.id === g2 && x.mark === 'X' && x.seatX.includes('Ben') &&
                   x.seatO.includes('Ana') && x.series === 'Series: Ben 0 \u2013 1 Ana',
                   'Ben back in game 2 after a reload, names and score as they were');
    await playGame({ X: ben, O: ana }, G1);
    await checkFinal(ben, two.port, g2, 'win', 'X');
    await seriesSeen(ana, 'Ana 1 \u2013 1 Ben', 'Ana after game 2');
    await seriesSeen(ben, 'Ben 1 \u2013 1 Ana', 'Ben after game 2');

    // Game 3: Ana is X again; a draw.
    const g3 = await rematchBoth(ben, ana, g2);
    await waitSnap(ana, (x) => x.id === g3 && x.mark === 'X', 'Ana is X in game 3');
    await playGame({ X: ana, O: ben }, G3);
    await checkFinal(ana, one.port, g3, 'draw', '');
    await seriesSeen(ana, 'Ana 1 \u2013 1 Ben, 1 draw', 'Ana after game 3');
    s = await seriesSeen(ben, 'Ben 1 \u2013 1 Ana, 1 draw', 'Ben after game 3');
    const api3 = await apiState(two.port, g3);
    check(JSON.stringify(api3.series) === JSON.stringify({ games: 3, X: 1, O: 1, draws: 1 }),
          `game 3's series on the server: ${JSON.stringify(api3.series)}`);
    await checkLayout(ben, 'Ben at 360 px');
    await shot(ben, c.shots, 'series-phone');
    await shot(ana, c.shots, 'series-desktop');
    for (const p of [ana, ben]) checkNoConsoleErrors(p, 'series');

    // Both servers restart; the replay of game 1 is read from Redis by the new processes.
    for (const p of [one, two]) p.child.kill('SIGTERM');
    for (const p of [one, two]) check(await waitExit(p, 10000, 'a series server') === 0,
                                      `a series server exit status ${p.code}, see ${p.log}`);
    procs.push(await startServer(c.serverBin, c.web, c.tmp, { port: one.port, extra: extra, log: 'series-1b.log' }));
    procs.push(await startServer(c.serverBin, c.web, c.tmp, { port: two.port, extra: extra, log: 'series-2b.log' }));
    await ana.bringToFront();
    await ana.goto(link);
    const r = await checkReplay(ana, one.port, g1, 4);
    check(r.snap.players === 'Ana (X) vs Ben (O)', `replay players ${JSON.stringify(r.snap.players)}`);
    check(r.snap.status === 'Ana (X) won', `replay result ${JSON.stringify(r.snap.status)}`);
    check(Array.isArray(r.api.times) && r.api.times.length === G1.length,
          `game 1's times ${JSON.stringify(r.api.times)}`);
    await shot(ana, c.shots, 'replay-desktop');
    // The same link on the other process, at phone width.
    await ben.goto(`${baseB}/?replay=${g1}`);
    await waitReplay(ben, (x) => x.loaded && x.players === 'Ana (X) vs Ben (O)', "Ben opens game 1's replay");
    await ben.click(sel('replay-last'));
    await waitReplay(ben, (x) => x.end && x.status === 'Ana (X) won', 'the end of the replay on process two');
    await checkLayout(ben, 'replay at 360 px');
    await shot(ben, c.shots, 'replay-phone');
    check((await textOf(ben, 'replay-clock')).length > 0, 'no game clock on the replay');
    for (const p of [ana, ben]) {
      checkNoConsoleErrors(p, 'replay after restart');
      await p.browserContext().close();
    }
  } finally {
    for (const p of procs.reverse()) await stop(p);
  }
}

export const NAME_CASES = [['replay', replay], ['names', names], ['series', series]];
