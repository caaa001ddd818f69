/* app.js -- the tic-tac-toe browser client's entry point: wires the connection (conn.js), the
 * model (model.js), the view (view.js) and the replay screen (replay.js, replay_view.js), and
 * holds what spans them: what each player action sends, what each message does to the model and
 * the page, taking seats back after a reconnect, the lobby refresh, loading a replay and the
 * browser's history. Protocol v1 with its additions (names, series, replays), docs/protocol.md;
 * a server without the additions still works, only without names, score and replay pacing. */

import { createConnection } from './conn.js';
import { createModel, cleanName, PROTOCOL } from './model.js';
import { parseReplay } from './replay.js';
import { createReplayView } from './replay_view.js';
import { createView, pageGameId, pageReplayId, setPageGame, setPageReplay } from './view.js';

const LIST_EVERY_MS = 3000;       // lobby refresh; the list is small and cheap to send
const REPLAY_LOAD_MS = 10000;     // a replay that has not loaded by then is reported as failed

const model = createModel();
let listTimer = 0;
let joinAfterName = 0;            // a linked game to join once the player was asked for a name
const conn = createConnection({ onStateChange: onStateChange, onMessage: onMessage });
const view = createView(model, {
  create: create, quick: quick, join: joinFromLobby, open: (id) => showGame(id),
  lobby: () => showLobby(), move: move, resign: resign, rematch: rematch,
  replay: (id) => showReplay(id), name: setName
});
const replayView = createReplayView({ lobby: () => showLobby(), game: openFromReplay });

// Send a request (conn.js tracks it); tell the player when there is no connection.
function send(msg, req) {
  if (conn.request(msg, req)) return true;
  view.toast('Not connected. Trying again…');
  return false;
}

/* ---- The connection's state ------------------------------------------------------------- */

function onStateChange(next, prev) {
  model.setLink(next);
  view.renderConn();
  if (next === 'open') {
    view.setButtons();
    return;
  }
  if (prev === 'open' || prev === 'connecting') {
    // The socket is gone (closed, or the page left): requests in flight went with it.
    stopList();
    view.setButtons();
    if (model.screen !== null) view.render();
  }
}

/* ---- Incoming messages ------------------------------------------------------------------ */

function onMessage(m, req) {
  switch (m.type) {
    case 'welcome': onWelcome(m); break;
    case 'joined': onJoined(m, req); break;
    case 'watching': onWatching(m, req); break;
    case 'state': onState(m); break;
    case 'rematch_offer': onRematchOffer(m); break;
    case 'games': model.setOpenGames(m.games); view.renderOpenGames(); break;
    case 'error': onError(m, req); break;
    default: break;             // pong and anything newer: nothing to do
  }
}

function onWelcome(m) {
  model.welcome(m);
  view.renderConn();
  if (m.protocol !== PROTOCOL) {
    view.toast('This page speaks protocol ' + PROTOCOL + ', the server ' + m.protocol +
               '. Reload the page.');
  }
  // Take back every seat and spectator place this page holds, on whatever process we reached.
  if (conn.opens > 1) {
    model.games.forEach((g) => {
      if (g.token) resume(g, g.id === model.screen || g.id === model.wanted);
      else if (g.watching) send({ type: 'watch', game_id: g.id }, { show: false });
    });
  }
  if (model.wanted && !model.games.has(model.wanted)) enterFromUrl(model.wanted);
  if (model.screen === null) startList();
}

function onJoined(m, req) {
  const g = model.joined(m, req);
  if (!g) return;
  // A `joined` nobody asked for is the opponent accepting our rematch: follow it.
  if (!req || req.show) showGame(g.id);
  else if (g.id === model.screen) view.render();
  view.renderMine();
}

function onWatching(m, req) {
  const g = model.watching(m);
  if (!g) return;
  if (!req || req.show) showGame(g.id);
  view.renderMine();
}

function onState(m) {
  const g = model.state(m);
  if (!g) return;
  if (g.id === model.screen) view.render();
  view.renderMine();
}

function onRematchOffer(m) {
  const g = model.rematchOffer(m);
  if (!g) return;
  if (g.id === model.screen) view.render();
  else view.toast('Your opponent in game ' + g.id + ' wants a rematch.');
  view.renderMine();
}

// A request's own onError returns true when it handled the error; else the player is told.
function onError(m, req) {
  const text = typeof m.message === 'string' && m.message ? m.message : String(m.code || 'error');
  if (req && req.onError && req.onError(m) === true) return;
  view.toast(text);
}

/* ---- The player's name ---------------------------------------------------------------- */

// The name the player typed (or '' for none): kept when the contract allows it, else the
// player is told why. True when it was kept.
function setName(text) {
  const c = cleanName(text);
  if (c.error) {
    view.toast(c.error);
    return false;
  }
  model.setName(c.name);
  view.renderName();
  const id = joinAfterName;
  joinAfterName = 0;
  if (id && model.wanted === id) {
    if (model.connected) joinOrWatch(id);
  }
  return true;
}

// `name` goes with every request that takes a seat; none is sent when the player gave none.
function named(msg) {
  if (model.name) msg.name = model.name;
  return msg;
}

/* ---- Requests. `req.show`: put the game on screen when the reply comes. ----------------- */

// The player chose something else than the linked game waiting for their name.
function dropLinkedJoin() {
  if (!joinAfterName) return;
  model.unwant(joinAfterName);
  joinAfterName = 0;
}

function create(vs, level) {
  dropLinkedJoin();
  const msg = { type: 'create', vs: vs };
  if (vs === 'computer') msg.level = level;
  send(named(msg), { show: true, vs: vs, level: level });
}

function quick() {
  dropLinkedJoin();
  send(named({ type: 'quick' }), { show: true, vs: 'human' });
}

function resume(g, show) {
  send({ type: 'resume', game_id: g.id, token: g.token }, {
    show: show, vs: g.vs, level: g.level,
    onError: (e) => {
      if (e.code !== 'bad_token' && e.code !== 'no_such_game') return false;
      // The seat is gone for good (expired or never ours): fall back to watching.
      model.seatLost(g);
      const shown = model.screen === g.id || model.wanted === g.id;
      if (e.code === 'no_such_game') {
        model.drop(g.id);
        if (shown) { view.toast('Game ' + g.id + ' no longer exists.'); showLobby(); }
        return true;
      }
      send({ type: 'watch', game_id: g.id }, { show: shown });
      return true;
    }
  });
}

// Opening /?game=ID: the seat this tab holds, else the free seat, else a spectator's place.
// A player who follows a link before ever being asked for a name is asked first: the seat
// would keep no name for good.
function enterFromUrl(id) {
  model.want(id);
  const g = model.seatFromStorage(id);
  if (g) resume(g, true);
  else if (!model.nameAsked) {
    joinAfterName = id;
    view.askName(id);
  } else joinOrWatch(id);
}

function joinFromLobby(id) {
  dropLinkedJoin();
  joinOrWatch(id);
}

function joinOrWatch(id) {
  send(named({ type: 'join', game_id: id }), {
    show: true, vs: 'human',
    onError: (e) => {
      if (e.code === 'game_full' || e.code === 'game_over' || e.code === 'not_playing') {
        send({ type: 'watch', game_id: id }, { show: true, onError: enterFailed(id) });
        return true;
      }
      return enterFailed(id)(e);
    }
  });
}

function enterFailed(id) {
  return (e) => {
    model.unwant(id);
    if (e.code === 'no_such_game') {
      view.toast('There is no game ' + id + '.');
      if (model.screen === null) setPageGame(null);
      return true;
    }
    return false;
  };
}

function move(i) {
  const g = model.current();
  if (!g || !model.canPlay(g) || g.state.board.charAt(i) !== '.') return;
  model.setPendingMove(g, i);
  // `ply` is the board the player saw: if it changed meanwhile, the server answers `stale`
  // instead of applying a click aimed at another position.
  send({ type: 'move', game_id: g.id, cell: i, ply: g.state.ply }, {
    onError: () => {
      model.setPendingMove(g, -1);
      if (g.id === model.screen) view.render();
      return false;
    }
  });
  view.render();
}

function resign() {
  const g = model.current();
  if (!g || !g.mark) return;
  send({ type: 'resign', game_id: g.id }, {});
}

function rematch() {
  const g = model.current();
  if (!g || !g.mark) return;
  const sent = send(named({ type: 'rematch', game_id: g.id }), {
    show: true, vs: g.vs, level: g.level,
    onError: () => {
      model.setRematchSent(g, false);
      if (g.id === model.screen) view.render();
      return false;
    }
  });
  if (sent) {
    model.setRematchSent(g, true);
    view.render();
  }
}

/* ---- Lobby refresh ---------------------------------------------------------------------- */

function inLobby() {
  return model.screen === null && !replayView.id;
}

function startList() {
  stopList();
  if (!model.connected || !inLobby()) return;
  send({ type: 'list' }, {});
  listTimer = setInterval(() => {
    if (model.connected && inLobby()) send({ type: 'list' }, {});
  }, LIST_EVERY_MS);
}

function stopList() {
  clearInterval(listTimer);
  listTimer = 0;
}

/* ---- Screens and history ---------------------------------------------------------------- */

// `fromHistory`: the address bar already says so (back/forward, or the page's first address).
function showGame(id, fromHistory) {
  const changed = model.screen !== id;
  model.show(id);
  replayView.hide();
  stopList();
  if (!fromHistory) setPageGame(id, changed && pageGameId() !== id);
  view.showGame(changed);
}

function showLobby(fromHistory) {
  dropLinkedJoin();
  model.show(null);
  replayView.hide();
  if (!fromHistory) setPageGame(null, pageGameId() !== 0 || pageReplayId() !== 0);
  view.showLobby();
  startList();
}

/* ---- Replays ------------------------------------------------------------------------------ */

// The replay screen for game `id`, loaded over HTTP (GET /api/games/{id}): it needs no seat and
// no WebSocket, so a link works on any process for as long as the game is readable.
function showReplay(id, fromHistory) {
  dropLinkedJoin();
  model.show(null);
  model.want(0);
  stopList();
  view.hideAll();
  if (!fromHistory) setPageReplay(id, pageReplayId() !== id);
  replayView.show(id);
  loadReplay(id);
}

async function loadReplay(id) {
  let text = 'The replay could not be loaded. Reload the page to try again.';
  try {
    const res = await fetch(new URL('api/games/' + id, location.href),
                            { cache: 'no-store', signal: AbortSignal.timeout(REPLAY_LOAD_MS) });
    if (res.status === 404) {
      text = 'There is no game ' + id + ' (or it ended more than a day ago).';
    } else if (res.ok) {
      const r = parseReplay(await res.json());
      if (r && r.id === id) {
        replayView.load(id, r);
        return;
      }
    }
  } catch (e) { /* the network or a body that is not JSON: the sentence above */ }
  replayView.fail(id, text);
}

// "The game" on the replay screen: the seat or the spectator's place this page has, else
// join or watch it as a link to it would.
function openFromReplay(id) {
  if (model.games.has(id)) { showGame(id); return; }
  setPageGame(id, true);
  replayView.hide();
  view.showLobby();
  if (model.connected) enterFromUrl(id);
  else model.want(id);
}

function init() {
  model.pruneSeats();
  window.addEventListener('popstate', () => {
    const rid = pageReplayId();
    if (rid) { showReplay(rid, true); return; }
    const id = pageGameId();
    if (!id) { showLobby(true); return; }
    if (model.games.has(id)) showGame(id, true);
    else if (model.connected) enterFromUrl(id);
    else model.want(id);
  });
  window.addEventListener('online', () => conn.retryNow());
  // Leaving the page (or entering the back-forward cache): close the socket ourselves rather
  // than let the browser cut it, and come back with `resume` if the page is shown again.
  window.addEventListener('pagehide', () => conn.hide());
  window.addEventListener('pageshow', (ev) => { if (ev.persisted) conn.start(); });

  const rid = pageReplayId();
  if (rid) showReplay(rid, true);
  else {
    model.want(pageGameId());
    if (!model.wanted) showLobby(true);
  }
  conn.start();
}

init();
