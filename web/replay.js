/* replay.js -- a game as a replay: its moves and their times (state.moves and state.times, from
 * GET /api/games/{id}) as steps, the board after each step, the wait before each one and the
 * result at the end. Pure: no DOM, no timer, no network. The state comes from the network, so
 * it is checked here and anything malformed is refused (or, for times, left out). */

export const DEFAULT_STEP_MS = 1000;  // the pace when the server sends no times (older servers)

function isCell(v) {
  return Number.isInteger(v) && v >= 0 && v <= 8;
}

// Moves: at most 9 distinct cells. Times: parallel to moves, non-negative, never decreasing.
function checkMoves(moves) {
  return Array.isArray(moves) && moves.length <= 9 && moves.every(isCell) &&
    new Set(moves).size === moves.length;
}

function checkTimes(times, n) {
  if (!Array.isArray(times) || times.length !== n) return false;
  let prev = 0;
  for (const t of times) {
    if (!Number.isSafeInteger(t) || t < prev) return false;
    prev = t;
  }
  return true;
}

function str(v) { return typeof v === 'string' && v.length > 0 ? v : null; }

/* The replay of state `st` (a `state` object), or null when it is not one. The fields the
 * view uses are copied, so nothing else of the network's object is kept. */
export function parseReplay(st) {
  if (!st || typeof st !== 'object' || !Number.isSafeInteger(st.game_id)) return null;
  if (!checkMoves(st.moves)) return null;
  const names = st.names && typeof st.names === 'object' ? st.names : {};
  const line = Array.isArray(st.line) && st.line.length === 3 && st.line.every(isCell) ?
    st.line.slice() : null;
  return {
    id: st.game_id,
    moves: st.moves.slice(),
    times: checkTimes(st.times, st.moves.length) ? st.times.slice() : null,
    names: { X: str(names.X), O: str(names.O) },
    over: st.status === 'over',
    result: str(st.result),
    winner: st.winner === 'X' || st.winner === 'O' ? st.winner : null,
    line: line
  };
}

export function stepCount(r) { return r.moves.length; }

// The mark of move k (0-based): X always moves first, then the marks alternate.
export function markOf(k) { return k % 2 === 0 ? 'X' : 'O'; }

// The board after the first `step` moves, as 9 characters of X, O and '.'.
export function boardAt(r, step) {
  const b = '.........'.split('');
  for (let k = 0; k < step && k < r.moves.length; k++) b[r.moves[k]] = markOf(k);
  return b.join('');
}

// Milliseconds of play before step `step` (1-based: the move that step makes) at real pace.
export function waitBefore(r, step) {
  if (!r.times) return DEFAULT_STEP_MS;
  const k = step - 1;
  return r.times[k] - (k > 0 ? r.times[k - 1] : 0);
}

// The game's clock after `step` moves (ms since it began), or null without times.
export function clockAt(r, step) {
  if (!r.times) return null;
  return step > 0 ? r.times[step - 1] : 0;
}

// The winning line, shown at the end only.
export function lineAt(r, step) {
  return step === r.moves.length && r.line ? r.line : [];
}
