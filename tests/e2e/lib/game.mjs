/* game.mjs -- checks and moves shared by the cases: the finished game as the page shows it
 * against its own board and the server's /api/games/{id}, move choices, playing a turn in one
 * tab, and a whole game against the computer. */

import { check, apiState } from './procs.mjs';
import { snapshot, waitSnap, clickTestid, openHome, sel } from './browser.mjs';

export const LINES = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8],
                      [0, 4, 8], [2, 4, 6]];

export function linesOf(board, mark) {
  return LINES.filter((ln) => ln.every((i) => board[i] === mark));
}

const sorted = (a) => [...a].sort((x, y) => x - y);
const same = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

// The marks are drawn and labelled as the board says.
export function checkBoardConsistent(s) {
  for (let i = 0; i < 9; i++) {
    const m = s.board[i];
    check(s.drawn[i] === (m === '.' ? '0' : '1'), `cell ${i} is ${m} but draws ${s.drawn[i]} marks`);
    const r = Math.floor(i / 3) + 1, c = i % 3 + 1, word = m === '.' ? 'empty' : m;
    check(s.labels[i].startsWith(`row ${r} column ${c}, ${word}`),
          `cell ${i} aria-label ${JSON.stringify(s.labels[i])} does not say row ${r} column ${c}, ${word}`);
  }
}

// The finished game as shown matches its own board and the server's state.
export async function checkFinal(page, port, gid, expectResult, expectWinner) {
  const s = await waitSnap(page, (x) => x.status === 'over' && x.id === String(gid),
                           `game ${gid} shown as over`);
  check(s.gameIdText.includes(String(gid)), `game id ${gid} not in ${JSON.stringify(s.gameIdText)}`);
  checkBoardConsistent(s);
  const api = await apiState(port, gid);
  check(api.board === s.board, `page board ${s.board} != server board ${api.board}`);
  check(api.status === 'over', `server says status ${api.status}`);
  for (const k of ['result', 'winner']) {
    check(s[k] === (api[k] || ''), `page ${k} ${JSON.stringify(s[k])} != server ${k} ${api[k]}`);
  }
  if (expectResult) check(s.result === expectResult, `result ${s.result}, expected ${expectResult}`);
  if (expectWinner !== undefined) {
    check(s.winner === expectWinner, `winner ${s.winner}, expected ${expectWinner}`);
  }
  // The highlight is the three-in-a-row on the board (the page's own board, not its claim).
  if (s.result === 'win') {
    const lines = linesOf(s.board, s.winner);
    check(lines.length >= 1, `result win for ${s.winner} but no line on ${s.board}`);
    check(same(s.win, api.line || []), `highlighted ${s.win}, server line ${api.line}`);
    check(lines.some((ln) => same(ln, s.win)), `highlighted ${s.win} is not a line of ${s.winner}`);
  } else {
    check(s.win.length === 0, `cells ${s.win} highlighted without a win`);
  }
  const text = s.statusText;
  if (s.role === 'spectator') {
    const want = { win: 'won', draw: 'Draw' }[s.result] || '';
    check(text.includes('Watching') && text.includes(want), `spectator status ${JSON.stringify(text)}, want ${want}`);
  } else if (s.result === 'draw') {
    check(text.includes('Draw'), `status ${JSON.stringify(text)} for a draw`);
  } else if (s.winner === s.mark) {
    check(text.includes('You won'), `status ${JSON.stringify(text)} but ${s.mark} won`);
  } else {
    check(text.includes('You lost'), `status ${JSON.stringify(text)} but ${s.mark} lost`);
  }
  check(!s.resign, 'Resign still shown after the game ended');
  check(s.replayLink, 'no Replay link on a finished game');
  return s;
}

export function firstEmpty(board) {
  return board.indexOf('.');
}

// Win, else block, else centre, else a corner, else anything.
export function sensible(board, me) {
  const them = me === 'X' ? 'O' : 'X';
  for (const who of [me, them]) {
    for (const ln of LINES) {
      const marks = ln.map((i) => board[i]);
      if (marks.filter((m) => m === who).length === 2 && marks.includes('.')) {
        return ln[marks.indexOf('.')];
      }
    }
  }
  for (const i of [4, 0, 2, 6, 8]) if (board[i] === '.') return i;
  return board.indexOf('.');
}

// Reach `cell` from cell 0 with arrow keys and press Enter, as a keyboard user would.
export async function keyboardTo(page, cell) {
  await page.focus(sel('cell-0'));
  for (let i = 0; i < Math.floor(cell / 3); i++) await page.keyboard.press('ArrowDown');
  for (let i = 0; i < cell % 3; i++) await page.keyboard.press('ArrowRight');
  const focused = await page.evaluate(() => document.activeElement.dataset.testid || '');
  check(focused === `cell-${cell}`, `arrow keys reached ${focused}, expected cell-${cell}`);
  await page.keyboard.press('Enter');
}

export async function playVsComputer(page, base, level, choose, useKeyboard) {
  await openHome(page, base);
  await clickTestid(page, `new-computer-${level}`);
  let s = await waitSnap(page, (x) => x.game && x.status === 'playing' && x.turn === 'me',
                         'a new game vs the computer, my turn');
  const gid = Number(s.id);
  check(s.mark === 'X' && s.board === '.........', `new game: mark ${s.mark} board ${s.board}`);
  check(s.url.endsWith(`/?game=${gid}`), `URL ${s.url} does not name game ${gid}`);
  check(s.gameIdText.includes(String(gid)), `game id ${gid} not shown (${s.gameIdText})`);
  check(s.statusText.includes('Your turn'), `status ${JSON.stringify(s.statusText)} on my turn`);
  const mine = [];
  for (let k = 0; k < 5; k++) {
    s = await snapshot(page);
    if (s.status === 'over') break;
    check(s.turn === 'me', `not my turn in a playing game: ${JSON.stringify(s)}`);
    const cell = choose(s.board, 'X');
    mine.push(cell);
    if (useKeyboard) await keyboardTo(page, cell);
    else await page.click(sel(`cell-${cell}`));
    s = await waitSnap(page, (x) => x.board[cell] === 'X' && (x.status === 'over' || x.turn === 'me'),
                       `my X in cell ${cell}, then the computer's answer or the end`);
    const xs = [...s.board].map((m, i) => (m === 'X' ? i : -1)).filter((i) => i >= 0);
    check(same(xs, mine), `X cells on ${s.board} are not my clicks ${mine}`);
  }
  return gid;
}

// In tab `page`, wait for `mark`'s turn and play `cell`.
export async function playTurn(page, mark, cell) {
  await page.bringToFront();
  await waitSnap(page, (x) => x.turn === 'me' && x.mark === mark, `${mark}'s turn in its tab`);
  await page.click(sel(`cell-${cell}`));
  await waitSnap(page, (x) => x.board[cell] === mark, `${mark} shown in cell ${cell}`);
}
