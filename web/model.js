/* model.js -- what the page knows: the games it takes part in, as records built from the wire
 * messages (docs/protocol.md, "Server to client"), the seats it holds (kept in sessionStorage so
 * a reload keeps them), the player's name (localStorage), which screen is shown and how the
 * connection stands. No DOM and no socket: the app (app.js) feeds it messages and user choices,
 * the view (view.js) reads it. Scalars are getters, so only the functions below change them. */

export const PROTOCOL = 1;

const SEAT_KEY = 'ttt.seat.';     // sessionStorage is per tab: two tabs can hold both seats
const SEAT_MAX_AGE_MS = 24 * 3600 * 1000;
const NAME_KEY = 'ttt.name';      // localStorage: one name for every tab; '' = asked, none given
export const NAME_MAX = 24;       // code points, as the contract counts them

/* ---- The player's name ------------------------------------------------------------------ */

/* A name as the contract accepts it: trimmed, 1 to 24 code points, no control character
 * (U+0000-U+001F, U+007F-U+009F); an empty result is no name. Returns { name } ('' for none)
 * or { error } with a sentence for the player. Checked here so a typo never costs a request. */
export function cleanName(text) {
  const name = String(text == null ? '' : text).trim();
  if ([...name].length > NAME_MAX) return { error: 'A name has at most ' + NAME_MAX + ' characters.' };
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return { error: 'A name cannot hold control characters.' };
  return { name: name };
}

// null when the player was never asked; else the stored name ('' when they chose none).
function nameLoad() {
  try {
    const v = localStorage.getItem(NAME_KEY);
    if (v === null) return null;
    const c = cleanName(v);
    return c.error ? '' : c.name;
  } catch (e) {
    return '';                    // no storage: do not ask on every load
  }
}

function nameSave(name) {
  try { localStorage.setItem(NAME_KEY, name); } catch (e) { /* kept for this page only */ }
}

// A wire name: a string the server sent, or null (absent on older servers, or an open seat).
export function wireName(v) {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/* ---- Seat tokens in sessionStorage (a reload keeps the seat; storage may be disabled) ----- */

function seatSave(g) {
  try {
    sessionStorage.setItem(SEAT_KEY + g.id, JSON.stringify({
      token: g.token, mark: g.mark, vs: g.vs, level: g.level, t: Date.now() }));
  } catch (e) { /* no storage: the seat just does not survive a reload */ }
}

function seatLoad(id) {
  try {
    const v = JSON.parse(sessionStorage.getItem(SEAT_KEY + id) || 'null');
    if (v && typeof v.token === 'string') return v;
  } catch (e) { /* ignore a corrupt or unreadable entry */ }
  return null;
}

function seatForget(id) {
  try { sessionStorage.removeItem(SEAT_KEY + id); } catch (e) { /* ignore */ }
}

function seatPrune() {
  try {
    const now = Date.now(), drop = [];
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i);
      if (!k || k.indexOf(SEAT_KEY) !== 0) continue;
      let v = null;
      try { v = JSON.parse(sessionStorage.getItem(k)); } catch (e) { v = null; }
      if (!v || typeof v.t !== 'number' || now - v.t > SEAT_MAX_AGE_MS) drop.push(k);
    }
    drop.forEach((k) => sessionStorage.removeItem(k));
  } catch (e) { /* ignore */ }
}

/* ---- The model ----------------------------------------------------------------------------- */

export function createModel() {
  /* One record per game this page has seen:
   *   mark, token      our seat (null when watching or not seated)
   *   watching         we spectate it
   *   vs, level        'human' | 'computer', and the computer's level
   *   state            the last `state` message, as received (board checked to be a string)
   *   pendingMove      the cell of our move in flight, -1 when none
   *   rematchSent, rematchOffered   rematch talk about this finished game */
  const games = new Map();
  let screen = null;              // null = the lobby, else the id of the game on screen
  let wanted = 0;                 // a game id from the URL not entered yet (survives reconnects)
  let link = 'idle';              // the connection's state (conn.js)
  let everConnected = false;
  let server = '';
  let openGames = [];             // the lobby's open list, as last received
  let name = nameLoad();          // null until asked; then the player's name or ''

  function record(id) {
    let g = games.get(id);
    if (!g) {
      g = { id: id, mark: null, token: null, watching: false, vs: 'human', level: null,
            state: null, pendingMove: -1, rematchSent: false, rematchOffered: false };
      games.set(id, g);
    }
    return g;
  }

  function unwant(id) {
    if (wanted === id) wanted = 0;
  }

  return {
    get games() { return games; },
    get screen() { return screen; },
    get wanted() { return wanted; },
    get link() { return link; },
    get connected() { return link === 'open'; },
    get everConnected() { return everConnected; },
    get server() { return server; },
    get openGames() { return openGames; },
    // The player's name ('' for none) and whether they were ever asked for one.
    get name() { return name || ''; },
    get nameAsked() { return name !== null; },

    // Store a name the player typed (already cleaned) or chose not to give ('').
    setName(n) {
      name = n;
      nameSave(n);
    },

    // The game on screen, or null in the lobby.
    current() { return screen === null ? null : games.get(screen) || null; },

    // True when our move would be accepted now (and none is in flight).
    canPlay(g) {
      const s = g.state;
      return !!(link === 'open' && g.mark && s && s.status === 'playing' && s.turn === g.mark &&
                g.pendingMove < 0);
    },

    /* ---- Wire messages. Each returns the record it changed, or null for a malformed one. ---- */

    // `joined`: a seat is ours. `req` is the request it answers (create, join, quick, resume,
    // rematch), or null for a rematch the opponent accepted.
    joined(m, req) {
      if (typeof m.game_id !== 'number') return null;
      const g = record(m.game_id);
      g.mark = m.mark;
      g.token = m.token;
      g.watching = false;
      g.pendingMove = -1;
      if (req && req.vs) { g.vs = req.vs; g.level = req.level || null; }
      seatSave(g);
      unwant(g.id);
      return g;
    },

    watching(m) {
      if (typeof m.game_id !== 'number') return null;
      const g = record(m.game_id);
      g.watching = true;
      g.mark = null;
      g.token = null;
      unwant(g.id);
      return g;
    },

    state(m) {
      if (typeof m.game_id !== 'number' || typeof m.board !== 'string') return null;
      const g = record(m.game_id);
      g.state = m;
      g.pendingMove = -1;
      // Rematch talk only concerns a finished game.
      if (m.status !== 'over') { g.rematchSent = false; g.rematchOffered = false; }
      return g;
    },

    rematchOffer(m) {
      const g = games.get(m.game_id);
      if (!g) return null;
      g.rematchOffered = true;
      return g;
    },

    // `games`: keep the well-formed entries.
    setOpenGames(list) {
      openGames = (Array.isArray(list) ? list : []).filter((e) => e && typeof e.game_id === 'number');
    },

    welcome(m) { server = m.server ? String(m.server) : ''; },

    /* ---- The connection and the page ------------------------------------------------------ */

    // Not open any more: a move in flight is lost with its request (conn.js, rule 4).
    setLink(state) {
      link = state;
      if (state === 'open') everConnected = true;
      else games.forEach((g) => { g.pendingMove = -1; });
    },

    show(id) { screen = id; },
    want(id) { wanted = id; },
    unwant: unwant,

    /* ---- Our own requests ----------------------------------------------------------------- */

    setPendingMove(g, cell) { g.pendingMove = cell; },
    setRematchSent(g, sent) { g.rematchSent = sent; },

    // The seat this tab held in game `id` (sessionStorage), as a record ready to `resume`, or
    // null when it holds none.
    seatFromStorage(id) {
      const seat = seatLoad(id);
      if (!seat) return null;
      const g = record(id);
      g.token = seat.token;
      g.mark = seat.mark;
      g.vs = seat.vs || 'human';
      g.level = seat.level || null;
      return g;
    },

    // The seat is gone for good (expired or never ours).
    seatLost(g) {
      seatForget(g.id);
      g.token = null;
      g.mark = null;
    },

    // The game no longer exists.
    drop(id) {
      games.delete(id);
      unwant(id);
    },

    pruneSeats: seatPrune
  };
}
