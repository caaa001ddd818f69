/* view.js -- the page: renders the model (model.js) into the DOM of index.html, and turns clicks
 * and keys into calls of the handlers the app (app.js) passes in. It reads the model and never
 * changes it, and it never sees the connection. Also here: the page's URL (?game=ID, ?replay=ID).
 * Names come from other players: they only ever reach the DOM as textContent, never as HTML. */

import { wireName } from './model.js';

const TOAST_MS = 3500;
const RESIGN_CONFIRM_MS = 3000;

export const MARK_SVG = {
  X: '<svg viewBox="0 0 100 100" aria-hidden="true" focusable="false">' +
     '<path d="M24 24 L76 76 M76 24 L24 76"/></svg>',
  O: '<svg viewBox="0 0 100 100" aria-hidden="true" focusable="false">' +
     '<circle cx="50" cy="50" r="28"/></svg>'
};

/* ---- URL --------------------------------------------------------------------------------- */

// The page's address for `what` ('game' or 'replay') of game `id`; the lobby for a null id.
function pageUrl(what, id) {
  const u = new URL(location.href);
  u.search = id ? '?' + what + '=' + id : '';
  u.hash = '';
  return u.href;
}

export function gameUrl(id) { return pageUrl('game', id); }

export function replayUrl(id) { return pageUrl('replay', id); }

function setPage(href, push) {
  if (href === location.href) return;
  if (push) history.pushState(null, '', href);
  else history.replaceState(null, '', href);
}

// Point the address bar at game `id` (or the lobby for null); `push` makes a history entry.
export function setPageGame(id, push) { setPage(pageUrl('game', id), push); }

export function setPageReplay(id, push) { setPage(pageUrl('replay', id), push); }

function pageId(what) {
  const v = new URLSearchParams(location.search).get(what);
  if (!v || !/^[0-9]{1,15}$/.test(v)) return 0;
  const n = Number(v);
  return n >= 1 ? n : 0;
}

// The game the address names, or 0.
export function pageGameId() { return pageId('game'); }

// The game whose replay the address asks for, or 0.
export function pageReplayId() { return pageId('replay'); }

// A game id typed by a player ("100" or "#100"), or 0.
function parseGameId(text) {
  const v = text.trim().replace(/^#/, '');
  return /^[0-9]{1,15}$/.test(v) && Number(v) >= 1 ? Number(v) : 0;
}

/* ---- Words --------------------------------------------------------------------------------- */

function other(mark) { return mark === 'X' ? 'O' : 'X'; }

function cellName(i) {
  return 'row ' + (Math.floor(i / 3) + 1) + ' column ' + (i % 3 + 1);
}

function presence(p) {
  return p === 'connected' ? 'connected' : p === 'away' ? 'away' : 'open seat';
}

function fmtAge(s) {
  s = Math.max(0, Math.floor(Number(s) || 0));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  return Math.floor(s / 3600) + ' h';
}

// The name of the seat `mark` in a state, or null (none given, an open seat, an older server).
export function nameOf(s, mark) {
  return s && s.names && typeof s.names === 'object' ? wireName(s.names[mark]) : null;
}

// A seat for a spectator's or a replay's sentence: "Ana (X)", or just "X" without a name.
export function seatLabel(s, mark) {
  const n = nameOf(s, mark);
  return n ? n + ' (' + mark + ')' : mark;
}

// How the result reads to someone who holds no seat (a spectator, a replay).
export function resultText(s) {
  const w = s.winner === 'X' || s.winner === 'O' ? s.winner : null, l = w ? other(w) : null;
  if (!w && s.result !== 'draw' && s.result !== 'abandon') return 'Game over';
  switch (s.result) {
    case 'win': return seatLabel(s, w) + ' won';
    case 'draw': return 'Draw';
    case 'resign': return seatLabel(s, l) + ' resigned, ' + seatLabel(s, w) + ' wins';
    case 'abandon':
      return w ? seatLabel(s, l) + ' left, ' + seatLabel(s, w) + ' wins' : 'Abandoned: nobody joined';
    default: return 'Game over';
  }
}

// The opponent as a sentence starts with them: their name, else "Your opponent" / "The computer".
function themOf(g) {
  if (g.vs === 'computer') return 'The computer';
  return nameOf(g.state, other(g.mark)) || 'Your opponent';
}

function overText(s, me, them) {
  const w = s.winner;
  switch (s.result) {
    case 'win': return w === me ? 'You won!' : 'You lost. ' + them + ' wins.';
    case 'draw': return 'Draw. Nobody wins.';
    case 'resign':
      return w === me ? them + ' resigned. You won!' : 'You resigned. You lost.';
    case 'abandon':
      if (!w) return 'Nobody joined; the game was abandoned.';
      return w === me ? them + ' left. You won!' : 'You were away too long. You lost.';
    default: return 'Game over.';
  }
}

// The running score of the rematch chain, the viewer first: "Ana 2 – 1 Ben, 1 draw"; null
// before the first game of the chain is over, or from a server that sends no series.
function seriesText(g) {
  const s = g.state, r = s && s.series;
  if (!r || typeof r !== 'object') return null;
  const num = (v) => (Number.isInteger(v) && v >= 0 ? v : 0);
  if (num(r.games) < 1) return null;
  const first = g.mark || 'X', second = other(first);
  const who = (mark) => {
    const n = nameOf(s, mark);
    if (n) return n;
    if (!g.mark) return mark;
    return mark === g.mark ? 'You' : g.vs === 'computer' ? 'Computer' : 'Opponent';
  };
  const d = num(r.draws);
  return who(first) + ' ' + num(r[first]) + ' \u2013 ' + num(r[second]) + ' ' + who(second) +
    (d ? ', ' + d + (d === 1 ? ' draw' : ' draws') : '');
}

// "X: Ana (you) vs O: Ben" over the status line, once anyone in the game has a name.
function matchupText(g) {
  const s = g.state;
  if (!nameOf(s, 'X') && !nameOf(s, 'O')) return '';
  const side = (mark) => {
    const n = nameOf(s, mark);
    const me = mark === g.mark;
    const who = n ? n + (me ? ' (you)' : '') : me ? 'you' :
      s.players && s.players[mark] === 'open' ? 'nobody yet' : 'no name';
    return mark + ': ' + who;
  };
  return side('X') + ' vs ' + side('O');
}

// The status line of a game and a tone for it (good / bad / none).
function describe(g) {
  const s = g.state;
  if (!s) return { text: 'Loading game…', tone: '' };
  const me = g.mark;
  if (!me) {
    // Spectator.
    if (s.status === 'waiting') {
      return { text: 'Watching · waiting for a second player', tone: '' };
    }
    if (s.status === 'playing') {
      const away = s.players && s.players[s.turn] === 'away' ? ' (' + s.turn + ' is away)' : '';
      return { text: 'Watching · ' + seatLabel(s, s.turn) + ' to move' + away, tone: '' };
    }
    return { text: 'Watching · ' + resultText(s), tone: '' };
  }
  const them = themOf(g);
  if (s.status === 'waiting') {
    return { text: 'Waiting for an opponent: share the link.', tone: '' };
  }
  if (s.status === 'playing') {
    let t = s.turn === me ? 'Your turn (' + me + ')' : them + "'s turn (" + other(me) + ')';
    if (s.players && s.players[other(me)] === 'away') {
      t += '. ' + them + ' is away; waiting for them to come back.';
    }
    return { text: t, tone: '' };
  }
  const tone = s.winner === me ? 'good' : s.winner ? 'bad' : '';
  return { text: overText(s, me, them), tone: tone };
}

function connText(model) {
  if (model.connected) return null;
  return model.link === 'backoff' || model.everConnected ? 'Reconnecting…' : 'Connecting…';
}

/* ---- The view ------------------------------------------------------------------------------ */

/* on: the app's handlers for what the player does:
 *   create(vs, level), quick(), join(id), open(id), lobby(), move(cell), resign(), rematch(),
 *   replay(id), name(text) (true when the name was taken) */
export function createView(model, on) {
  function $(id) { return document.getElementById(id); }

  const ui = {
    conn: $('conn'), lobby: $('lobby'), game: $('game'), lobbyTitle: $('lobby-title'),
    newFriend: $('new-friend'), quick: $('quick'),
    newEasy: $('new-computer-easy'), newPerfect: $('new-computer-perfect'),
    joinForm: $('join-form'), joinId: $('join-id'), joinGo: $('join-go'),
    minePanel: $('mine-panel'), mine: $('mine'), openGames: $('open-games'), noOpen: $('no-open'),
    gameTitle: $('game-title'), gameId: $('game-id'), role: $('role'), status: $('status'),
    offer: $('rematch-offer'), board: $('board'), seatX: $('seat-X'), seatO: $('seat-O'),
    resign: $('resign'), rematch: $('rematch'), toLobby: $('to-lobby'), controls: $('controls'),
    share: $('share'), shareLink: $('share-link'), copyLink: $('copy-link'),
    server: $('server'), toast: $('toast'), home: $('home'),
    nameForm: $('name-form'), nameInput: $('name-input'), nameAsk: $('name-ask'),
    nameSkip: $('name-skip'), nameShow: $('name-show'), nameText: $('name-text'),
    nameChange: $('name-change'), namePrefix: $('name-prefix'), matchup: $('matchup'),
    series: $('series'), replayLink: $('replay-link'), shareLabel: $('share-label')
  };
  const cells = [];
  let toastTimer = 0;
  let resignTimer = 0;
  let resignArmed = false;
  let editingName = false;
  let askFor = 0;                 // the game a link asked to join, waiting for the name

  function toast(text) {
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.hidden = true; }, TOAST_MS);
  }

  /* ---- Lobby ---------------------------------------------------------------------------- */

  // One lobby row: "Game ID <who> <note>" and a button. Both lists are made of these.
  function gameRow(id, noteText, buttonText, ariaLabel, testid, onClick, who) {
    const li = document.createElement('li');
    li.dataset.gameId = String(id);
    const label = document.createElement('span');
    label.className = 'row-label';
    label.textContent = 'Game ' + id + ' ';
    if (who) {
      const w = document.createElement('span');
      w.className = 'who';
      w.dataset.testid = 'open-name-' + id;
      w.textContent = who;
      label.appendChild(w);
      label.appendChild(document.createTextNode(' '));
    }
    const note = document.createElement('span');
    note.className = 'age';
    note.textContent = noteText;
    label.appendChild(note);
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = buttonText;
    if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
    if (testid) b.dataset.testid = testid;
    b.addEventListener('click', onClick);
    li.appendChild(label);
    li.appendChild(b);
    return li;
  }

  function renderOpenGames() {
    const frag = document.createDocumentFragment();
    model.openGames.forEach((e) => {
      const own = model.games.get(e.game_id);
      const note = 'waiting ' + fmtAge(e.age_s);
      const who = wireName(e.name);
      if (own && own.mark)
        frag.appendChild(gameRow(e.game_id, note, 'Yours', 'Open your game ' + e.game_id, null,
                                 () => on.open(e.game_id), who));
      else
        frag.appendChild(gameRow(e.game_id, note, 'Join',
                                 'Join game ' + e.game_id + (who ? ' with ' + who : ''),
                                 'join-' + e.game_id, () => on.join(e.game_id), who));
    });
    ui.openGames.replaceChildren(frag);
    ui.noOpen.hidden = ui.openGames.children.length > 0;
  }

  // Games this page still takes part in, so leaving for the lobby does not lose them.
  function renderMine() {
    const frag = document.createDocumentFragment();
    model.games.forEach((g) => {
      if (!g.state || (!g.mark && !g.watching)) return;
      if (g.state.status === 'over' && !g.rematchOffered) return;
      const note = g.watching ? 'watching' :
        g.state.status === 'over' ? 'rematch offered' : 'you are ' + g.mark;
      frag.appendChild(gameRow(g.id, note, 'Open', null, 'open-' + g.id, () => on.open(g.id)));
    });
    ui.mine.replaceChildren(frag);
    ui.minePanel.hidden = ui.mine.children.length === 0;
  }

  /* ---- The player's name ---------------------------------------------------------------- */

  // Asked once (nothing stored yet), then "Playing as Ana" with a Change button.
  function renderName() {
    if (model.nameAsked) askFor = 0;
    const asking = !model.nameAsked || editingName;
    ui.nameForm.hidden = !asking;
    ui.nameShow.hidden = asking;
    ui.nameAsk.hidden = model.nameAsked;
    ui.nameAsk.textContent = (askFor ? 'Before you join game ' + askFor + ': what' : 'What') +
      ' should other players call you? It is kept in this browser.';
    ui.nameSkip.textContent = model.nameAsked ? 'Cancel' : 'Not now';
    ui.namePrefix.textContent = model.name ? 'Playing as ' : '';
    ui.nameText.textContent = model.name || 'No name: others see you as X or O';
    ui.nameText.classList.toggle('muted', !model.name);
    ui.nameChange.textContent = model.name ? 'Change' : 'Set a name';
  }

  // A link to game `id` is about to take a seat for a player never asked for a name: ask first,
  // on the lobby (its open list and buttons stay usable), since a seat's name cannot change.
  function askName(id) {
    askFor = id;
    disarmResign();
    ui.game.hidden = true;
    ui.lobby.hidden = false;
    renderName();
    ui.nameInput.focus({ preventScroll: true });
  }

  function editName(editing) {
    editingName = editing;
    renderName();
    if (editing) {
      ui.nameInput.value = model.name;
      ui.nameInput.focus();
    }
  }

  /* ---- Connection indicator and buttons ------------------------------------------------- */

  function renderConn() {
    const text = connText(model);
    ui.conn.textContent = text || 'Connected';
    ui.conn.classList.toggle('ok', !text);
    ui.conn.dataset.state = text ? 'down' : 'up';
    ui.server.textContent = model.server ? 'server ' + model.server : '';
  }

  function setButtons() {
    [ui.newFriend, ui.quick, ui.newEasy, ui.newPerfect, ui.joinGo].forEach((b) => {
      b.disabled = !model.connected;
    });
  }

  /* ---- Game ----------------------------------------------------------------------------- */

  function renderBoard(g, s, playing) {
    const line = s && Array.isArray(s.line) ? s.line : [];
    const last = s && Array.isArray(s.moves) && s.moves.length ? s.moves[s.moves.length - 1] : -1;
    for (let i = 0; i < 9; i++) {
      const c = cells[i];
      let mk = s ? s.board.charAt(i) : '.';
      if (mk !== 'X' && mk !== 'O') mk = '';
      if (c.dataset.mark !== mk) {
        c.dataset.mark = mk;
        c.innerHTML = mk ? MARK_SVG[mk] : '';
      }
      const win = line.indexOf(i) >= 0;
      const can = playing && !mk;
      c.classList.toggle('win', win);
      c.classList.toggle('last', i === last && !win);
      c.classList.toggle('playable', can);
      c.setAttribute('aria-disabled', can ? 'false' : 'true');
      c.setAttribute('aria-label', cellName(i) + ', ' + (mk || 'empty') +
                     (win ? ', winning line' : ''));
    }
    ui.board.classList.toggle('busy', g.pendingMove >= 0);
    ui.board.setAttribute('aria-busy', g.pendingMove >= 0 ? 'true' : 'false');
  }

  // Hooks for tests and styling: the state as attributes of the view.
  function renderDataset(g, s) {
    const me = g.mark;
    const ds = ui.game.dataset;
    ds.gameId = String(g.id);
    ds.role = me ? 'player' : 'spectator';
    ds.mark = me || '';
    ds.status = s ? s.status : '';
    ds.result = s && s.result ? s.result : '';
    ds.winner = s && s.winner ? s.winner : '';
    ds.turn = s && s.status === 'playing' ? (me && s.turn === me ? 'me' : 'opponent') : '';
  }

  function renderControls(g, s) {
    const me = g.mark;
    const ready = model.connected;
    const over = s && s.status === 'over';
    ui.resign.hidden = !(me && s && s.status === 'playing');
    ui.resign.disabled = !ready;
    const canRematch = me && over && !(s.result === 'abandon' && !s.winner);
    ui.rematch.hidden = !canRematch;
    ui.rematch.disabled = !ready || g.rematchSent;
    ui.rematch.textContent = g.rematchOffered ? 'Accept rematch' :
      g.rematchSent ? 'Rematch offered…' : 'Rematch';
    ui.offer.hidden = !(canRematch && g.rematchOffered);

    // A finished game is shared, and watched again, as its replay.
    ui.replayLink.hidden = !over;
    ui.replayLink.href = replayUrl(g.id);
    const waiting = !!(s && s.status === 'waiting');
    ui.shareLink.value = over ? replayUrl(g.id) : gameUrl(g.id);
    ui.shareLabel.textContent = over ? 'Share the replay' : 'Share this game';
    ui.share.classList.toggle('primary', waiting);
    ui.share.hidden = g.vs === 'computer' && !!me && !over;
    // While waiting, sharing the link is the one thing to do: put it above the board.
    // Moved only when that changes, so a focused Copy button keeps its focus.
    const place = waiting ? 'top' : 'bottom';
    if (ui.share.dataset.place !== place) {
      ui.share.dataset.place = place;
      if (waiting) ui.board.before(ui.share);
      else ui.controls.after(ui.share);
    }
  }

  // The game on screen, as the model has it.
  function render() {
    const g = model.current();
    if (!g) return;
    const s = g.state;
    const me = g.mark;

    ui.gameId.textContent = 'Game ' + g.id;
    ui.role.textContent = g.watching ? 'Watching' :
      me ? 'You are ' + me + (g.vs === 'computer' ? ' · vs computer' +
           (g.level ? ' (' + g.level + ')' : '') : '') : '';

    const d = describe(g);
    ui.status.textContent = d.text;
    ui.status.className = 'status' + (d.tone ? ' ' + d.tone : '');
    // The tab title tells a player in another tab that it is their turn.
    document.title = d.text + ' · Tic-tac-toe';

    renderBoard(g, s, model.canPlay(g));
    renderDataset(g, s);

    const players = (s && s.players) || {};
    ['X', 'O'].forEach((k) => {
      const el = k === 'X' ? ui.seatX : ui.seatO;
      const n = nameOf(s, k);
      const who = k === me ? 'you' : me && g.vs === 'computer' && !n ? 'computer' : '';
      el.dataset.presence = players[k] || 'open';
      el.textContent = k + (n ? ' ' + n : '') + (who ? ' (' + who + ')' : '') + ': ' +
        presence(players[k]);
    });
    const mu = s ? matchupText(g) : '';
    ui.matchup.textContent = mu;
    ui.matchup.hidden = !mu;
    const st = s ? seriesText(g) : null;
    ui.series.textContent = st ? 'Series: ' + st : '';
    ui.series.hidden = !st;

    renderControls(g, s);
  }

  /* ---- Screens -------------------------------------------------------------------------- */

  function disarmResign() {
    resignArmed = false;
    clearTimeout(resignTimer);
    ui.resign.textContent = 'Resign';
  }

  // Neither the lobby nor a game: another screen (the replay) is shown.
  function hideAll() {
    disarmResign();
    ui.lobby.hidden = true;
    ui.game.hidden = true;
  }

  // The game view, for model.screen; `changed` when another game (or the lobby) was shown.
  function showGame(changed) {
    disarmResign();
    ui.lobby.hidden = true;
    ui.game.hidden = false;
    render();
    if (changed) ui.gameTitle.focus({ preventScroll: true });
  }

  function showLobby() {
    document.title = 'Tic-tac-toe';
    disarmResign();
    ui.game.hidden = true;
    ui.lobby.hidden = false;
    renderName();
    renderMine();
    ui.lobbyTitle.focus({ preventScroll: true });
  }

  /* ---- Input ---------------------------------------------------------------------------- */

  // A second press confirms: a stray tap on a phone should not end the game.
  function onResign() {
    const g = model.current();
    if (!g || !g.mark) return;
    if (!resignArmed) {
      resignArmed = true;
      ui.resign.textContent = 'Resign? Tap again';
      clearTimeout(resignTimer);
      resignTimer = setTimeout(disarmResign, RESIGN_CONFIRM_MS);
      return;
    }
    disarmResign();
    on.resign();
  }

  function copyLink() {
    const text = ui.shareLink.value;
    function fallback() {
      ui.shareLink.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      toast(ok ? 'Link copied.' : 'Select the link and copy it.');
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => toast('Link copied.'), fallback);
    } else {
      fallback();
    }
  }

  // Arrow keys walk the board, wrapping at the edges.
  function onBoardKey(ev) {
    const c = ev.target.closest('.cell');
    if (!c) return;
    const i = Number(c.dataset.index);
    let r = Math.floor(i / 3), col = i % 3;
    switch (ev.key) {
      case 'ArrowUp': r = (r + 2) % 3; break;
      case 'ArrowDown': r = (r + 1) % 3; break;
      case 'ArrowLeft': col = (col + 2) % 3; break;
      case 'ArrowRight': col = (col + 1) % 3; break;
      default: return;
    }
    ev.preventDefault();
    cells[r * 3 + col].focus();
  }

  function buildBoard() {
    for (let i = 0; i < 9; i++) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'cell';
      b.dataset.index = String(i);
      b.dataset.testid = 'cell-' + i;
      b.dataset.mark = '';
      b.setAttribute('aria-disabled', 'true');
      b.setAttribute('aria-label', cellName(i) + ', empty');
      ui.board.appendChild(b);
      cells.push(b);
    }
    // Cells stay focusable when not playable (aria-disabled, not disabled) so arrow keys can
    // walk the whole board; a click on such a cell is simply ignored (by on.move).
    ui.board.addEventListener('click', (ev) => {
      const c = ev.target.closest('.cell');
      if (c) on.move(Number(c.dataset.index));
    });
    ui.board.addEventListener('keydown', onBoardKey);
  }

  function bind() {
    ui.newFriend.addEventListener('click', () => on.create('human'));
    ui.quick.addEventListener('click', () => on.quick());
    ui.newEasy.addEventListener('click', () => on.create('computer', 'easy'));
    ui.newPerfect.addEventListener('click', () => on.create('computer', 'perfect'));
    ui.joinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const id = parseGameId(ui.joinId.value);
      if (!id) {
        toast('A game id is a number, like 100.');
        return;
      }
      on.join(id);
    });
    ui.resign.addEventListener('click', onResign);
    ui.rematch.addEventListener('click', () => on.rematch());
    ui.toLobby.addEventListener('click', () => on.lobby());
    ui.copyLink.addEventListener('click', copyLink);
    ui.shareLink.addEventListener('focus', () => ui.shareLink.select());
    ui.home.addEventListener('click', (ev) => { ev.preventDefault(); on.lobby(); });
    ui.replayLink.addEventListener('click', (ev) => {
      // A plain click stays in the page; a middle click or "open in new tab" uses the href.
      if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      const g = model.current();
      if (g) on.replay(g.id);
    });
    ui.nameForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (on.name(ui.nameInput.value)) editName(false);
    });
    ui.nameSkip.addEventListener('click', () => {
      if (!model.nameAsked) on.name('');
      editName(false);
    });
    ui.nameChange.addEventListener('click', () => editName(true));
  }

  buildBoard();
  bind();
  setButtons();
  renderName();

  return { render, renderMine, renderOpenGames, renderConn, renderName, askName, setButtons,
           showGame, showLobby, hideAll, toast };
}
