/* unit_web.mjs -- the browser client's pure parts without a browser (node's test runner): the
 * replay of a fetched state (replay.js), which is hostile input, and the name rule the page
 * applies before it sends a name (model.js cleanName, the contract's rule). */

import test from 'node:test';
import assert from 'node:assert/strict';
import { parseReplay, boardAt, waitBefore, clockAt, lineAt, stepCount, DEFAULT_STEP_MS }
  from '../../web/replay.js';
import { cleanName, wireName } from '../../web/model.js';

const WON = { game_id: 100, moves: [0, 3, 1, 4, 2], times: [900, 2100, 2500, 4000, 4100],
              status: 'over', result: 'win', winner: 'X', line: [0, 1, 2],
              names: { X: 'Ana', O: 'Ben' } };

test('a finished game steps from the empty board to its last move', () => {
  const r = parseReplay(WON);
  assert.equal(stepCount(r), 5);
  assert.equal(boardAt(r, 0), '.........');
  assert.equal(boardAt(r, 1), 'X........');
  assert.equal(boardAt(r, 2), 'X..O.....');
  assert.equal(boardAt(r, 5), 'XXXOO....');
  assert.equal(boardAt(r, 99), 'XXXOO....', 'past the end is the end');
  assert.deepEqual(r.names, { X: 'Ana', O: 'Ben' });
});

test('real pace: each wait is the gap between two move times, the first from the start', () => {
  const r = parseReplay(WON);
  assert.deepEqual([1, 2, 3, 4, 5].map((k) => waitBefore(r, k)), [900, 1200, 400, 1500, 100]);
  assert.equal(clockAt(r, 0), 0);
  assert.equal(clockAt(r, 5), 4100);
});

test('the winning line shows at the end only', () => {
  const r = parseReplay(WON);
  assert.deepEqual(lineAt(r, 4), []);
  assert.deepEqual(lineAt(r, 5), [0, 1, 2]);
});

test('an older server (no times, no names) replays at one move a second', () => {
  const r = parseReplay({ game_id: 7, moves: [4, 0], status: 'playing' });
  assert.equal(r.times, null);
  assert.equal(waitBefore(r, 1), DEFAULT_STEP_MS);
  assert.equal(clockAt(r, 2), null);
  assert.deepEqual(r.names, { X: null, O: null });
  assert.equal(r.over, false);
});

test('malformed states are refused', () => {
  const bad = [null, 'x', [], {}, { game_id: '100', moves: [] }, { game_id: 1.5, moves: [] },
               { game_id: 100 }, { game_id: 100, moves: 'abc' }, { game_id: 100, moves: [9] },
               { game_id: 100, moves: [-1] }, { game_id: 100, moves: [1.5] },
               { game_id: 100, moves: ['1'] }, { game_id: 100, moves: [1, 1] },
               { game_id: 100, moves: [0, 1, 2, 3, 4, 5, 6, 7, 8, 0] }];
  for (const st of bad) assert.equal(parseReplay(st), null, JSON.stringify(st));
});

test('times that are not parallel, negative, fractional or decreasing are left out', () => {
  for (const times of [[1], [1, 2, 3], [-1, 2], [1.5, 2], [5, 4], ['1', '2'], 'x', null]) {
    const r = parseReplay({ game_id: 1, moves: [0, 1], times: times });
    assert.notEqual(r, null);
    assert.equal(r.times, null, JSON.stringify(times));
  }
  assert.deepEqual(parseReplay({ game_id: 1, moves: [0, 1], times: [0, 0] }).times, [0, 0]);
});

test('names and lines of the wrong type are dropped, not shown', () => {
  const r = parseReplay({ game_id: 1, moves: [], names: { X: 5, O: { a: 1 } }, line: [0, 1, 9],
                          winner: 'Z', result: 7 });
  assert.deepEqual(r.names, { X: null, O: null });
  assert.equal(r.line, null);
  assert.equal(r.winner, null);
  assert.equal(r.result, null);
  assert.equal(parseReplay({ game_id: 1, moves: [], names: 'Ana' }).names.X, null);
});

test('a name is trimmed, 1 to 24 code points, with no control character', () => {
  assert.deepEqual(cleanName('  Ana \t'), { name: 'Ana' });
  assert.deepEqual(cleanName('   '), { name: '' }, 'white space only is no name');
  assert.deepEqual(cleanName(''), { name: '' });
  assert.deepEqual(cleanName('x'.repeat(24)), { name: 'x'.repeat(24) });
  assert.ok(cleanName('x'.repeat(25)).error);
  // Code points, not UTF-16 units: 24 astral characters are 48 units and still allowed.
  assert.deepEqual(cleanName('\u{1F600}'.repeat(24)), { name: '\u{1F600}'.repeat(24) });
  assert.ok(cleanName('\u{1F600}'.repeat(25)).error);
  for (const c of ['\u0000', '\u001f', '\u007f', '\u0085', '\u009f', '\n']) {
    assert.ok(cleanName('A' + c + 'B').error, JSON.stringify(c));
  }
  assert.deepEqual(cleanName('Ana\u00a0Ben'), { name: 'Ana\u00a0Ben' }, 'U+00A0 is not a control');
  assert.deepEqual(cleanName('<img src=x>'), { name: '<img src=x>' }, 'markup is just characters');
});

test('a wire name is a non-empty string or nothing', () => {
  assert.equal(wireName('Ana'), 'Ana');
  for (const v of [null, undefined, '', 5, {}, ['Ana']]) assert.equal(wireName(v), null);
});
