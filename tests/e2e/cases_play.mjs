/* cases_play.mjs -- the end-to-end cases of play itself: against the computer (perfect and, by
 * keyboard on a phone-sized screen, easy), two players and a spectator with a reload and a
 * rematch, quick match with resign, a restart across two servers sharing Redis, and shutdown. */

import fs from 'node:fs';
import { check, startServer, startRedis, stop, waitExit, REDIS_SERVER } from './lib/procs.mjs';
import { newTab, waitSnap, waitFor, clickTestid, openHome, sel, valueOf,
         checkNoConsoleErrors, overflowsX, shot, passNamePrompt, PHONE, DESKTOP } from './lib/browser.mjs';
import { checkFinal, firstEmpty, sensible, playVsComputer, playTurn } from './lib/game.mjs';

async function perfect(c) {
  const page = c.page;
  // Naive first-empty play makes the computer win, so the highlighted line gets checked too.
  const gid = await playVsComputer(page, c.base, 'perfect', firstEmpty, false);
  let s = await checkFinal(page, c.port, gid);
  check(['draw', 'win'].includes(s.result) && ['', 'O'].includes(s.winner),
        `perfect computer lost: result ${s.result} winner ${s.winner}`);
  check(s.rematch, 'no Rematch button after a finished game');
  await shot(page, c.shots, 'perfect-final-desktop');
  // Rematch against the computer starts at once with marks swapped: it opens as X.
  await clickTestid(page, 'rematch');
  s = await waitSnap(page, (x) => x.id !== String(gid) && x.turn === 'me',
                     "the rematch game, my turn after the computer's first move");
  check(s.mark === 'O' && s.board.split('X').length === 2 && !s.board.includes('O'),
        `rematch vs computer: mark ${s.mark} board ${s.board}`);
  checkNoConsoleErrors(page, 'perfect game');
}

async function easy(c) {
  const page = c.page;
  // Played with the keyboard on a phone-sized screen.
  await page.setViewport(PHONE);
  try {
    const gid = await playVsComputer(page, c.base, 'easy', sensible, true);
    await checkFinal(page, c.port, gid);
    check(!(await overflowsX(page)), `the page scrolls sideways on a ${PHONE.width} px wide screen`);
    await shot(page, c.shots, 'easy-final-phone');
  } finally {
    await page.setViewport(DESKTOP);
  }
  checkNoConsoleErrors(page, 'easy game');
}

async function friend(c) {
  const a = c.page;
  await openHome(a, c.base);
  await clickTestid(a, 'new-friend');
  let s = await waitSnap(a, (x) => x.game && x.status === 'waiting', 'a waiting game in tab A');
  const gid = Number(s.id);
  check(s.mark === 'X', `creator is ${s.mark}, expected X`);
  check(s.statusText.includes('Waiting for an opponent'), `waiting status ${JSON.stringify(s.statusText)}`);
  const share = await valueOf(a, 'share-link');
  check(share === `${c.base}/?game=${gid}`, `share link ${share}, expected ${c.base}/?game=${gid}`);
  check(await a.$eval(sel('copy-link'), (e) => e.offsetParent !== null), 'no copy button next to the share link');

  // Tab B sees the game in the lobby's open list, then opens the share link.
  const b = await newTab(c.ctx);
  await openHome(b, c.base);
  const row = await waitFor(b, (p) => p.evaluate((id) => {
    const e = document.querySelector(`[data-testid="join-${id}"]`);
    return e ? e.parentElement.textContent : null;
  }, gid), `game ${gid} in the open games list`);
  check(row.includes('waiting'), `open games row ${JSON.stringify(row)} shows no age`);
  await b.goto(share);
  // Nobody in this browser gave a name yet: the link asks before it takes the seat.
  await passNamePrompt(b, gid, true);
  s = await waitSnap(b, (x) => x.game && x.status === 'playing', 'tab B joined and playing');
  check(s.mark === 'O' && s.turn === 'opponent', `B: mark ${s.mark} turn ${s.turn}`);

  // Tab C asks to join by id from the lobby when the game is full, and watches instead.
  const cc = await newTab(c.ctx);
  await openHome(cc, c.base);
  await cc.type(sel('join-id'), String(gid));
  await clickTestid(cc, 'join-go');
  s = await waitSnap(cc, (x) => x.game && x.role === 'spectator' && x.status === 'playing', 'tab C watching');
  check(s.statusText.includes('Watching'), `spectator status ${JSON.stringify(s.statusText)}`);
  check(!s.resign && !s.rematch, 'spectator has Resign/Rematch controls');

  await playTurn(a, 'X', 0);
  await playTurn(b, 'O', 3);
  // A reload keeps B in its seat (token in sessionStorage, `resume`).
  await b.bringToFront();
  await b.reload();
  s = await waitSnap(b, (x) => x.game && x.mark === 'O' && x.board === 'X..O.....',
                     'tab B back in its seat after a reload');
  check(s.url.endsWith(`/?game=${gid}`), `B's URL after reload: ${s.url}`);
  await playTurn(a, 'X', 1);
  await playTurn(b, 'O', 4);
  await playTurn(a, 'X', 2);

  const sa = await checkFinal(a, c.port, gid, 'win', 'X');
  check(JSON.stringify(sa.win) === '[0,1,2]', `A highlights ${sa.win}, expected [0, 1, 2]`);
  await shot(a, c.shots, 'friend-final-desktop');
  const sb = await checkFinal(b, c.port, gid, 'win', 'X');
  check(JSON.stringify(sb.win) === '[0,1,2]', `B highlights ${sb.win}, expected [0, 1, 2]`);
  await checkFinal(cc, c.port, gid, 'win', 'X');
  // The share link of a finished game opens its replay.
  const done = await valueOf(a, 'share-link');
  check(done === `${c.base}/?replay=${gid}`, `share link of a finished game ${done}`);

  // Rematch: A offers, B sees the offer and accepts; both land in a new game, marks swapped.
  await a.bringToFront();
  await clickTestid(a, 'rematch');
  await b.bringToFront();
  await waitSnap(b, (x) => x.offer, "B sees 'opponent wants a rematch'");
  await clickTestid(b, 'rematch');
  s = await waitSnap(b, (x) => x.id !== String(gid) && x.status === 'playing', 'B in the rematch game');
  check(s.mark === 'X' && s.turn === 'me', `B in rematch: mark ${s.mark} turn ${s.turn}`);
  const newId = s.id;
  s = await waitSnap(a, (x) => x.id === newId && x.status === 'playing', 'A follows into the rematch game');
  check(s.mark === 'O' && s.turn === 'opponent', `A in rematch: mark ${s.mark} turn ${s.turn}`);

  for (const p of [a, b, cc]) checkNoConsoleErrors(p, 'friend game tab');
  // B goes away (its tab closes): A is told the opponent is away.
  await b.close();
  await cc.close();
  await waitSnap(a, (x) => x.statusText.includes('away'), "A's status says the opponent is away");
}

async function quick(c) {
  const a = c.page;
  await openHome(a, c.base);
  await clickTestid(a, 'quick');
  let s = await waitSnap(a, (x) => x.game && x.status === 'waiting', 'A waits for a quick match');
  const gid = s.id;
  const b = await newTab(c.ctx);
  await openHome(b, c.base);
  await clickTestid(b, 'quick');
  s = await waitSnap(b, (x) => x.game && x.status === 'playing', 'B seated by quick match');
  check(s.id === gid && s.mark === 'O', `B got game ${s.id} as ${s.mark}, want ${gid} O`);
  await playTurn(a, 'X', 4);
  // B resigns; the button asks for a second press so a stray tap does not end the game.
  await b.bringToFront();
  await waitSnap(b, (x) => x.turn === 'me', "B's turn");
  await b.click(sel('resign'));
  const armed = await b.$eval(sel('resign'), (e) => e.textContent);
  check(armed.includes('again'), `Resign did not ask for confirmation (button says ${armed})`);
  await b.click(sel('resign'));
  const sb = await checkFinal(b, c.port, gid, 'resign', 'X');
  check(sb.statusText.includes('You resigned'), `B status ${JSON.stringify(sb.statusText)}`);
  const sa = await checkFinal(a, c.port, gid, 'resign', 'X');
  check(sa.statusText.includes('resigned'), `A status ${JSON.stringify(sa.statusText)}`);
  for (const p of [a, b]) checkNoConsoleErrors(p, 'quick match tab');
  await b.close();
}

/* Two server processes share one Redis. The first stops (SIGTERM: close code 1012) in the
 * middle of a game; the second takes over its port. Both tabs come back by themselves with
 * `resume` and finish the game. */
async function restart(c) {
  check(fs.existsSync(REDIS_SERVER), `no ${REDIS_SERVER}`);
  const procs = [];
  try {
    const redis = await startRedis(c.tmp);
    procs.push(redis);
    const extra = ['--redis', `redis://127.0.0.1:${redis.port}`];
    const first = await startServer(c.serverBin, c.web, c.tmp, { extra: extra, log: 'server-1.log' });
    procs.push(first);
    const base = `http://127.0.0.1:${first.port}`;
    const a = c.page;
    await openHome(a, base);
    await clickTestid(a, 'new-friend');
    const gid = (await waitSnap(a, (x) => x.game && x.status === 'waiting', 'A waits')).id;
    const b = await newTab(c.ctx);
    await b.goto(`${base}/?game=${gid}`);
    await passNamePrompt(b, gid, false);
    await waitSnap(b, (x) => x.game && x.mark === 'O', 'B joined');
    await playTurn(a, 'X', 0);
    await playTurn(b, 'O', 4);

    first.child.kill('SIGTERM');
    for (const p of [a, b]) await waitSnap(p, (x) => x.conn === 'down', 'the page notices the restart');
    const firstRc = await waitExit(first, 10000, 'the first server');
    const second = await startServer(c.serverBin, c.web, c.tmp,
                                     { port: first.port, extra: extra, log: 'server-2.log' });
    procs.push(second);
    for (const p of [a, b]) {
      const s = await waitSnap(p, (x) => x.conn === 'up' && x.board === 'X...O....' &&
                               x.status === 'playing' && !x.statusText.includes('away'),
                               'back on the new process, the game as it was', 25000);
      check(s.id === gid, `after the restart the page shows game ${s.id}, not ${gid}`);
    }
    await playTurn(a, 'X', 1);
    await playTurn(b, 'O', 8);
    await playTurn(a, 'X', 2);
    await checkFinal(b, second.port, gid, 'win', 'X');
    await checkFinal(a, second.port, gid, 'win', 'X');
    await b.close();
    check(firstRc === 0, `the first server (Redis store) exit status ${firstRc} after SIGTERM, ` +
          `expected 0; see ${first.log}`);
  } finally {
    for (const p of procs.reverse()) await stop(p);
  }
}

/* SIGTERM with the page connected: it is told 1012 and shows it is reconnecting; the server
 * exits 0 (a sanitizer report would make it exit non-zero). */
async function shutdown(c) {
  const page = c.page;
  await openHome(page, c.base);
  c.proc.child.kill('SIGTERM');
  await waitSnap(page, (x) => x.conn === 'down', 'the page notices the shutdown');
  const text = await page.$eval(sel('conn'), (e) => e.textContent);
  check(text.includes('Reconnecting'), `connection indicator says ${text}`);
  const rc = await waitExit(c.proc, 10000, 'the server');
  check(rc === 0, `server exit status ${rc} after SIGTERM, expected 0 (see the server log)`);
}

export const PLAY_CASES = [['perfect', perfect], ['easy', easy], ['friend', friend],
                           ['quick', quick], ['restart', restart]];
export const LAST_CASES = [['shutdown', shutdown]];
