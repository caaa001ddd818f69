/* conn.js -- the connection to the server: one WebSocket at a time, its life as one state
 * machine, reconnect with jittered backoff, and the requests in flight with the rules that say
 * which incoming message completes which request. It knows the envelope of protocol v1
 * (docs/protocol.md: `type`, `id`, `game_id`, close code 1012) and nothing of games or the page. */

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const JITTER = 0.3;               // +-30%, so a restarted server is not hit by everyone at once
const RESTART_JITTER_MS = 250;    // close code 1012: come back at once, but not all in one instant
const CLOSE_NORMAL = 1000;
const CLOSE_RESTART = 1012;       // "service restart": the server asks us to come back

/* The states, and the one thing each owns:
 *   idle        nothing: before start(), and after hide() (page left or put in the bfcache)
 *   connecting  a socket, `welcome` not received yet; nothing may be sent
 *   open        the socket after `welcome`: requests may be sent
 *   backoff     no socket; a timer that goes back to connecting
 * Every change goes through go(), which runs the exit of the old state and the entry of the new
 * one. Losing the socket (closed by the server or the network, or by hide()) is one exit, so the
 * requests in flight are dropped the same way whatever the reason. */
const NEXT = {
  idle: ['connecting'],
  connecting: ['open', 'backoff', 'idle'],
  open: ['backoff', 'idle'],
  backoff: ['connecting', 'idle']
};

/* Which incoming message completes which request, besides the direct reply:
 *   1. A message whose `id` is a request's id completes that request. The server echoes the id
 *      on `joined`, `watching`, `games`, `pong` and `error` (docs/protocol.md, Transport).
 *   2. `move` and `resign` get no reply of their own when they succeed: a `state` of their game
 *      completes them (an `error` still completes them by rule 1).
 *   3. A `joined` that names no request is the opponent accepting our rematch (or the server
 *      seating us in its new game): it completes every `rematch` in flight. A first `rematch`
 *      that the opponent never answers stays in flight until this or rule 4.
 *   4. Leaving connecting or open drops every request without calling anyone back: a request
 *      never outlives its socket. The app takes its seats back with `resume` after the next
 *      `welcome`, and a move in flight is decided again by the player.
 * `list`, `create`, `quick`, `join`, `watch` and `resume` are completed only by rule 1 or 4. */
const IMPLIED = [
  { type: 'state',
    completes: (m, r) => r.gameId === m.game_id && (r.kind === 'move' || r.kind === 'resign') },
  { type: 'joined', unsolicitedOnly: true,
    completes: (m, r) => r.kind === 'rematch' }
];

// Resolve "ws" against the page address, so the page works under a path prefix, behind a
// proxy, and over https (wss) without configuration.
function wsUrl() {
  const u = new URL('ws', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  return u.href;
}

/* hooks.onStateChange(next, prev): after every transition, the new state in place.
 * hooks.onMessage(m, req): every parsed message object, with the request it completes by
 * rule 1 (or null). `welcome` arrives here after the state is already open. */
export function createConnection(hooks) {
  let state = 'idle';
  let socket = null;
  let timer = 0;
  let attempt = 0;                // failed connections since the last `welcome`
  let opens = 0;                  // how many times the connection reached open
  let nextId = 1;
  const pending = new Map();      // request id -> request; see request()

  function backoffDelay(code) {
    if (code === CLOSE_RESTART) return Math.random() * RESTART_JITTER_MS;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
    attempt++;
    return base * (1 - JITTER + Math.random() * 2 * JITTER);
  }

  // Make the socket; false when the browser refuses at once (a bad URL, too many sockets).
  function openSocket() {
    let sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      return false;
    }
    socket = sock;
    // A socket we let go of may still fire: only the current one speaks. An `error` event is
    // always followed by `close`, so close is the one place a lost socket is handled.
    sock.onmessage = (ev) => { if (socket === sock) receive(ev.data); };
    sock.onclose = (ev) => { if (socket === sock) go('backoff', ev.code); };
    return true;
  }

  // Let go of the socket; close it ourselves if it still lives (hide() leaving the page,
  // rather than letting the browser cut it).
  function dropSocket() {
    const sock = socket;
    socket = null;
    if (!sock) return;
    sock.onmessage = null;
    sock.onclose = null;
    if (sock.readyState === WebSocket.CONNECTING || sock.readyState === WebSocket.OPEN) {
      sock.close(CLOSE_NORMAL);
    }
  }

  // The single transition function. A transition not in NEXT is ignored and returns false
  // (a `welcome` while open, start() while connecting).
  function go(next, code) {
    const prev = state;
    if (NEXT[prev].indexOf(next) < 0) return false;
    switch (prev) {             // leave prev
      case 'connecting':
        if (next === 'open') break;   // the same socket, now greeted
        // fall through: the socket is lost
      case 'open':
        dropSocket();
        pending.clear();        // completion rule 4
        break;
      case 'backoff':
        clearTimeout(timer);
        timer = 0;
        break;
      case 'idle':
        break;
      default:
        throw new Error('conn: unknown state ' + prev);
    }
    state = next;
    let failed = false;
    switch (next) {             // enter next
      case 'connecting':
        failed = !openSocket();
        break;
      case 'open':
        attempt = 0;
        opens++;
        break;
      case 'backoff':
        timer = setTimeout(() => go('connecting'), backoffDelay(code));
        break;
      case 'idle':
        break;
      default:
        throw new Error('conn: unknown state ' + next);
    }
    hooks.onStateChange(next, prev);
    if (failed) go('backoff', 0);
    return true;
  }

  // Apply the completion rules to one incoming message; return the request rule 1 completes.
  function complete(m) {
    let req = null;
    if (m.id !== undefined && m.id !== null && pending.has(m.id)) {
      req = pending.get(m.id);
      pending.delete(m.id);
    }
    if (typeof m.game_id !== 'number') return req;
    IMPLIED.forEach((rule) => {
      if (rule.type !== m.type || (rule.unsolicitedOnly && req)) return;
      pending.forEach((r, id) => { if (rule.completes(m, r)) pending.delete(id); });
    });
    return req;
  }

  function receive(data) {
    let m;
    try { m = JSON.parse(data); } catch (e) { return; }
    if (!m || typeof m !== 'object') return;
    if (m.type === 'welcome') go('open');
    const req = complete(m);
    hooks.onMessage(m, req);
  }

  return {
    get state() { return state; },
    get opens() { return opens; },
    get isOpen() { return state === 'open'; },

    // Connect now if there is no socket (from idle, or cutting a backoff short).
    start() { go('connecting'); },

    // Back online after a network change: skip the rest of the backoff.
    retryNow() {
      if (state !== 'idle' && state !== 'backoff') return;
      attempt = 0;
      go('connecting');
    },

    // Leaving the page: close the socket ourselves and stay idle until start().
    hide() { go('idle'); },

    // Send a message with a fresh `id`; `req` is handed back with the message that completes
    // it by rule 1. req.kind and req.gameId are set here from the message, for rules 2 and 3.
    // False when not open (nothing is sent, nothing is tracked).
    request(msg, req) {
      if (state !== 'open') return false;
      msg.id = nextId++;
      req.kind = msg.type;
      req.gameId = msg.game_id;
      pending.set(msg.id, req);
      socket.send(JSON.stringify(msg));
      return true;
    }
  };
}
