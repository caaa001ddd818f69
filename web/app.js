/* app.js -- the tic-tac-toe browser client: lobby, board, and one WebSocket session speaking
 * protocol v1 (docs/protocol.md) with reconnect-and-resume. No framework, no build step. */
(function () {
  'use strict';

  var PROTOCOL = 1;
  var LIST_EVERY_MS = 3000;       // lobby refresh; the list is small and cheap to send
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var JITTER = 0.3;               // +-30%, so a restarted server is not hit by everyone at once
  var RESTART_JITTER_MS = 250;    // close code 1012: come back at once, but not all in one instant
  var TOAST_MS = 3500;
  var RESIGN_CONFIRM_MS = 3000;
  var SEAT_KEY = 'ttt.seat.';     // sessionStorage is per tab: two tabs can hold both seats
  var SEAT_MAX_AGE_MS = 24 * 3600 * 1000;

  /* ---- DOM ---------------------------------------------------------------------------- */

  function $(id) { return document.getElementById(id); }

  var ui = {
    conn: $('conn'), lobby: $('lobby'), game: $('game'), lobbyTitle: $('lobby-title'),
    newFriend: $('new-friend'), quick: $('quick'),
    newEasy: $('new-computer-easy'), newPerfect: $('new-computer-perfect'),
    joinForm: $('join-form'), joinId: $('join-id'), joinGo: $('join-go'),
    minePanel: $('mine-panel'), mine: $('mine'), openGames: $('open-games'), noOpen: $('no-open'),
    gameTitle: $('game-title'), gameId: $('game-id'), role: $('role'), status: $('status'),
    offer: $('rematch-offer'), board: $('board'), seatX: $('seat-X'), seatO: $('seat-O'),
    resign: $('resign'), rematch: $('rematch'), toLobby: $('to-lobby'), controls: $('controls'),
    share: $('share'), shareLink: $('share-link'), copyLink: $('copy-link'),
    server: $('server'), toast: $('toast')
  };
  var cells = [];

  var MARK_SVG = {
    X: '<svg viewBox="0 0 100 100" aria-hidden="true" focusable="false">' +
       '<path d="M24 24 L76 76 M76 24 L24 76"/></svg>',
    O: '<svg viewBox="0 0 100 100" aria-hidden="true" focusable="false">' +
       '<circle cx="50" cy="50" r="28"/></svg>'
  };

  /* ---- Session state ------------------------------------------------------------------ */

  var ws = null;
  var ready = false;              // true between `welcome` and close
  var everConnected = false;
  var attempt = 0;                // reconnects since the last `welcome`
  var retryTimer = 0;
  var nextId = 1;
  var pending = new Map();        // request id -> {kind, gameId, show, vs, level, onError}
  var games = new Map();          // game id -> game record, see gameRecord()
  var view = null;                // null = lobby, else the game id on screen
  var wanted = 0;                 // a game id from the URL not entered yet (survives reconnects)
  var listTimer = 0;
  var toastTimer = 0;
  var resignTimer = 0;
  var resignArmed = false;

  function gameRecord(id) {
    var g = games.get(id);
    if (!g) {
      g = { id: id, mark: null, token: null, watching: false, vs: 'human', level: null,
            state: null, pendingMove: -1, rematchSent: false, rematchOffered: false };
      games.set(id, g);
    }
    return g;
  }

  /* ---- Seat tokens in sessionStorage (a reload keeps the seat; storage may be disabled) -- */

  function seatSave(g) {
    try {
      sessionStorage.setItem(SEAT_KEY + g.id, JSON.stringify({
        token: g.token, mark: g.mark, vs: g.vs, level: g.level, t: Date.now() }));
    } catch (e) { /* no storage: the seat just does not survive a reload */ }
  }

  function seatLoad(id) {
    try {
      var v = JSON.parse(sessionStorage.getItem(SEAT_KEY + id) || 'null');
      if (v && typeof v.token === 'string') return v;
    } catch (e) { /* ignore a corrupt or unreadable entry */ }
    return null;
  }

  function seatForget(id) {
    try { sessionStorage.removeItem(SEAT_KEY + id); } catch (e) { /* ignore */ }
  }

  function seatPrune() {
    try {
      var now = Date.now(), drop = [];
      for (var i = 0; i < sessionStorage.length; i++) {
        var k = sessionStorage.key(i);
        if (!k || k.indexOf(SEAT_KEY) !== 0) continue;
        var v = null;
        try { v = JSON.parse(sessionStorage.getItem(k)); } catch (e) { v = null; }
        if (!v || typeof v.t !== 'number' || now - v.t > SEAT_MAX_AGE_MS) drop.push(k);
      }
      drop.forEach(function (k) { sessionStorage.removeItem(k); });
    } catch (e) { /* ignore */ }
  }

  /* ---- Connection -------------------------------------------------------------------- */

  // Resolve "ws" against the page address, so the page works under a path prefix, behind a
  // proxy, and over https (wss) without configuration.
  function wsUrl() {
    var u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    u.hash = '';
    return u.href;
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws) return;
    setConn(everConnected ? 'Reconnecting…' : 'Connecting…');
    var sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect(0);
      return;
    }
    ws = sock;
    sock.onmessage = function (ev) { if (ws === sock) onMessage(ev.data); };
    sock.onclose = function (ev) { if (ws === sock) onClose(ev.code); };
    sock.onerror = function () { /* a close event follows; handled there */ };
  }

  function onClose(code) {
    ws = null;
    ready = false;
    stopList();
    // Requests in flight are lost with the connection; a move in flight is re-decided by the
    // player once the state comes back after `resume`.
    pending.clear();
    games.forEach(function (g) { g.pendingMove = -1; });
    setButtons();
    if (view !== null) render();
    scheduleReconnect(code);
  }

  function scheduleReconnect(code) {
    var delay;
    if (code === 1012) {
      delay = Math.random() * RESTART_JITTER_MS;
    } else {
      var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
      delay = base * (1 - JITTER + Math.random() * 2 * JITTER);
      attempt++;
    }
    setConn('Reconnecting…');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  function setConn(text) {
    if (text) {
      ui.conn.textContent = text;
      ui.conn.classList.remove('ok');
      ui.conn.dataset.state = 'down';
    } else {
      ui.conn.textContent = 'Connected';
      ui.conn.classList.add('ok');
      ui.conn.dataset.state = 'up';
    }
  }

  // Send one message. With `req`, the message gets an id and the reply is routed back to it.
  function send(msg, req) {
    if (!ready || !ws) {
      toast('Not connected. Trying again…');
      return false;
    }
    if (req) {
      msg.id = nextId++;
      req.kind = msg.type;
      pending.set(msg.id, req);
    }
    ws.send(JSON.stringify(msg));
    return true;
  }

  /* ---- Incoming messages ------------------------------------------------------------- */

  function onMessage(data) {
    var m;
    try { m = JSON.parse(data); } catch (e) { return; }
    if (!m || typeof m !== 'object') return;
    var req = null;
    if (m.id !== undefined && m.id !== null && pending.has(m.id)) {
      req = pending.get(m.id);
      pending.delete(m.id);
    }
    switch (m.type) {
      case 'welcome': onWelcome(m); break;
      case 'joined': onJoined(m, req); break;
      case 'watching': onWatching(m, req); break;
      case 'state': onState(m); break;
      case 'rematch_offer': onRematchOffer(m); break;
      case 'games': renderOpenGames(Array.isArray(m.games) ? m.games : []); break;
      case 'error': onError(m, req); break;
      default: break;           // pong and anything newer: nothing to do
    }
  }

  function onWelcome(m) {
    var first = !everConnected;
    ready = true;
    everConnected = true;
    attempt = 0;
    setConn(null);
    setButtons();
    ui.server.textContent = m.server ? 'server ' + m.server : '';
    if (m.protocol !== PROTOCOL) {
      toast('This page speaks protocol ' + PROTOCOL + ', the server ' + m.protocol +
            '. Reload the page.');
    }
    // Take back every seat and spectator place this page holds, on whatever process we reached.
    if (!first) {
      games.forEach(function (g) {
        if (g.token) resume(g, g.id === view || g.id === wanted);
        else if (g.watching) send({ type: 'watch', game_id: g.id }, { gameId: g.id, show: false });
      });
    }
    if (wanted && !games.has(wanted)) enterFromUrl(wanted);
    if (view === null) startList();
  }

  function onJoined(m, req) {
    if (typeof m.game_id !== 'number') return;
    var g = gameRecord(m.game_id);
    g.mark = m.mark;
    g.token = m.token;
    g.watching = false;
    g.pendingMove = -1;
    if (req && req.vs) { g.vs = req.vs; g.level = req.level || null; }
    seatSave(g);
    if (wanted === g.id) wanted = 0;
    // A `joined` nobody asked for is the opponent accepting our rematch: follow it.
    if (!req) forgetPending(null, 'rematch');
    if (!req || req.show) showGame(g.id);
    else if (g.id === view) render();
    renderMine();
  }

  function onWatching(m, req) {
    if (typeof m.game_id !== 'number') return;
    var g = gameRecord(m.game_id);
    g.watching = true;
    g.mark = null;
    g.token = null;
    if (wanted === g.id) wanted = 0;
    if (!req || req.show) showGame(g.id);
    renderMine();
  }

  function onState(m) {
    if (typeof m.game_id !== 'number' || typeof m.board !== 'string') return;
    var g = gameRecord(m.game_id);
    g.state = m;
    g.pendingMove = -1;
    // `move` and `resign` get no reply of their own when they succeed: a new state settles them.
    forgetPending(g.id, 'move', 'resign');
    // Rematch talk only concerns a finished game.
    if (m.status !== 'over') { g.rematchSent = false; g.rematchOffered = false; }
    if (g.id === view) render();
    renderMine();
  }

  function onRematchOffer(m) {
    var g = games.get(m.game_id);
    if (!g) return;
    g.rematchOffered = true;
    if (g.id === view) render();
    else toast('Your opponent in game ' + g.id + ' wants a rematch.');
    renderMine();
  }

  function forgetPending(gameId, kind1, kind2) {
    pending.forEach(function (r, id) {
      if ((gameId === null || r.gameId === gameId) && (r.kind === kind1 || r.kind === kind2)) {
        pending.delete(id);
      }
    });
  }

  function onError(m, req) {
    var text = typeof m.message === 'string' && m.message ? m.message : String(m.code || 'error');
    if (req && req.onError && req.onError(m) === true) return;
    toast(text);
  }

  /* ---- Requests ---------------------------------------------------------------------- */

  function create(vs, level) {
    var msg = { type: 'create', vs: vs };
    if (vs === 'computer') msg.level = level;
    send(msg, { show: true, vs: vs, level: level });
  }

  function quick() {
    send({ type: 'quick' }, { show: true, vs: 'human' });
  }

  function resume(g, show) {
    send({ type: 'resume', game_id: g.id, token: g.token }, {
      gameId: g.id, show: show, vs: g.vs, level: g.level,
      onError: function (e) {
        if (e.code !== 'bad_token' && e.code !== 'no_such_game') return false;
        // The seat is gone for good (expired or never ours): fall back to watching.
        seatForget(g.id);
        g.token = null;
        g.mark = null;
        var shown = view === g.id || wanted === g.id;
        if (e.code === 'no_such_game') {
          games.delete(g.id);
          if (wanted === g.id) wanted = 0;
          if (shown) { toast('Game ' + g.id + ' no longer exists.'); showLobby(); }
          return true;
        }
        send({ type: 'watch', game_id: g.id }, { gameId: g.id, show: shown });
        return true;
      }
    });
  }

  // Opening /?game=ID: the seat this tab holds, else the free seat, else a spectator's place.
  function enterFromUrl(id) {
    wanted = id;
    var seat = seatLoad(id);
    if (seat) {
      var g = gameRecord(id);
      g.token = seat.token;
      g.mark = seat.mark;
      g.vs = seat.vs || 'human';
      g.level = seat.level || null;
      resume(g, true);
      return;
    }
    joinOrWatch(id);
  }

  function joinOrWatch(id) {
    send({ type: 'join', game_id: id }, {
      gameId: id, show: true, vs: 'human',
      onError: function (e) {
        if (e.code === 'game_full' || e.code === 'game_over' || e.code === 'not_playing') {
          send({ type: 'watch', game_id: id },
               { gameId: id, show: true, onError: enterFailed(id) });
          return true;
        }
        return enterFailed(id)(e);
      }
    });
  }

  function enterFailed(id) {
    return function (e) {
      if (wanted === id) wanted = 0;
      if (e.code === 'no_such_game') {
        toast('There is no game ' + id + '.');
        if (view === null) replaceUrl(null);
        return true;
      }
      return false;
    };
  }

  function move(i) {
    var g = games.get(view);
    if (!g || !canPlay(g) || g.state.board.charAt(i) !== '.') return;
    g.pendingMove = i;
    // `ply` is the board the player saw: if it changed meanwhile, the server answers `stale`
    // instead of applying a click aimed at another position.
    send({ type: 'move', game_id: g.id, cell: i, ply: g.state.ply }, {
      gameId: g.id,
      onError: function () { g.pendingMove = -1; if (g.id === view) render(); return false; }
    });
    render();
  }

  function resign() {
    var g = games.get(view);
    if (!g || !g.mark) return;
    if (!resignArmed) {
      // A second press confirms: a stray tap on a phone should not end the game.
      resignArmed = true;
      ui.resign.textContent = 'Resign? Tap again';
      clearTimeout(resignTimer);
      resignTimer = setTimeout(disarmResign, RESIGN_CONFIRM_MS);
      return;
    }
    disarmResign();
    send({ type: 'resign', game_id: g.id }, { gameId: g.id });
  }

  function disarmResign() {
    resignArmed = false;
    clearTimeout(resignTimer);
    ui.resign.textContent = 'Resign';
  }

  function rematch() {
    var g = games.get(view);
    if (!g || !g.mark) return;
    var sent = send({ type: 'rematch', game_id: g.id }, {
      gameId: g.id, show: true, vs: g.vs, level: g.level,
      onError: function () { g.rematchSent = false; if (g.id === view) render(); return false; }
    });
    if (sent) {
      g.rematchSent = true;
      render();
    }
  }

  /* ---- Lobby ------------------------------------------------------------------------- */

  function startList() {
    stopList();
    if (!ready || view !== null) return;
    send({ type: 'list' }, {});
    listTimer = setInterval(function () {
      if (ready && view === null) send({ type: 'list' }, {});
    }, LIST_EVERY_MS);
  }

  function stopList() {
    clearInterval(listTimer);
    listTimer = 0;
  }

  function fmtAge(s) {
    s = Math.max(0, Math.floor(Number(s) || 0));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h';
  }

  // One lobby row: "Game ID <note>" and a button. Both lists are made of these.
  function gameRow(id, noteText, buttonText, ariaLabel, testid, onClick) {
    var li = document.createElement('li');
    li.dataset.gameId = String(id);
    var label = document.createElement('span');
    label.textContent = 'Game ' + id + ' ';
    var note = document.createElement('span');
    note.className = 'age';
    note.textContent = noteText;
    label.appendChild(note);
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = buttonText;
    if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
    if (testid) b.dataset.testid = testid;
    b.addEventListener('click', onClick);
    li.appendChild(label);
    li.appendChild(b);
    return li;
  }

  function renderOpenGames(list) {
    var frag = document.createDocumentFragment();
    list.forEach(function (e) {
      if (!e || typeof e.game_id !== 'number') return;
      var own = games.get(e.game_id);
      var note = 'waiting ' + fmtAge(e.age_s);
      if (own && own.mark)
        frag.appendChild(gameRow(e.game_id, note, 'Yours', 'Open your game ' + e.game_id, null,
                                 function () { showGame(e.game_id); }));
      else
        frag.appendChild(gameRow(e.game_id, note, 'Join', 'Join game ' + e.game_id,
                                 'join-' + e.game_id, function () { joinOrWatch(e.game_id); }));
    });
    ui.openGames.replaceChildren(frag);
    ui.noOpen.hidden = ui.openGames.children.length > 0;
  }

  // Games this page still takes part in, so leaving for the lobby does not lose them.
  function renderMine() {
    var frag = document.createDocumentFragment();
    games.forEach(function (g) {
      if (!g.state || (!g.mark && !g.watching)) return;
      if (g.state.status === 'over' && !g.rematchOffered) return;
      var note = g.watching ? 'watching' :
        g.state.status === 'over' ? 'rematch offered' : 'you are ' + g.mark;
      frag.appendChild(gameRow(g.id, note, 'Open', null, 'open-' + g.id,
                               function () { showGame(g.id); }));
    });
    ui.mine.replaceChildren(frag);
    ui.minePanel.hidden = ui.mine.children.length === 0;
  }

  function setButtons() {
    [ui.newFriend, ui.quick, ui.newEasy, ui.newPerfect, ui.joinGo].forEach(function (b) {
      b.disabled = !ready;
    });
  }

  /* ---- Views and URL ----------------------------------------------------------------- */

  function gameUrl(id) {
    var u = new URL(location.href);
    u.search = '?game=' + id;
    u.hash = '';
    return u.href;
  }

  function replaceUrl(id, push) {
    var u = new URL(location.href);
    u.search = id ? '?game=' + id : '';
    u.hash = '';
    if (u.href === location.href) return;
    if (push) history.pushState(null, '', u.href);
    else history.replaceState(null, '', u.href);
  }

  function urlGame() {
    var v = new URLSearchParams(location.search).get('game');
    if (!v || !/^[0-9]{1,15}$/.test(v)) return 0;
    var n = Number(v);
    return n >= 1 ? n : 0;
  }

  function showGame(id, fromHistory) {
    var changed = view !== id;
    view = id;
    stopList();
    disarmResign();
    if (!fromHistory) replaceUrl(id, changed && urlGame() !== id);
    ui.lobby.hidden = true;
    ui.game.hidden = false;
    render();
    if (changed) ui.gameTitle.focus({ preventScroll: true });
  }

  function showLobby(fromHistory) {
    view = null;
    document.title = 'Tic-tac-toe';
    disarmResign();
    if (!fromHistory) replaceUrl(null, urlGame() !== 0);
    ui.game.hidden = true;
    ui.lobby.hidden = false;
    renderMine();
    startList();
    ui.lobbyTitle.focus({ preventScroll: true });
  }

  /* ---- Game rendering ---------------------------------------------------------------- */

  function canPlay(g) {
    var s = g.state;
    return !!(ready && g.mark && s && s.status === 'playing' && s.turn === g.mark &&
              g.pendingMove < 0);
  }

  function other(mark) { return mark === 'X' ? 'O' : 'X'; }

  // The status line and a tone for it (good / bad / none).
  function describe(g) {
    var s = g.state;
    if (!s) return { text: 'Loading game…', tone: '' };
    var me = g.mark;
    var comp = g.vs === 'computer';
    var them = comp ? 'The computer' : 'Your opponent';
    if (!me) {
      // Spectator.
      if (s.status === 'waiting') {
        return { text: 'Watching · waiting for a second player', tone: '' };
      }
      if (s.status === 'playing') {
        var away = s.players && s.players[s.turn] === 'away' ? ' (' + s.turn + ' is away)' : '';
        return { text: 'Watching · ' + s.turn + ' to move' + away, tone: '' };
      }
      return { text: 'Watching · ' + overText(s, null, comp), tone: '' };
    }
    if (s.status === 'waiting') {
      return { text: 'Waiting for an opponent: share the link.', tone: '' };
    }
    if (s.status === 'playing') {
      var t = s.turn === me ? 'Your turn (' + me + ')' : them + "'s turn (" + other(me) + ')';
      if (s.players && s.players[other(me)] === 'away') {
        t += '. ' + them + ' is away; waiting for them to come back.';
      }
      return { text: t, tone: '' };
    }
    var tone = s.winner === me ? 'good' : s.winner ? 'bad' : '';
    return { text: overText(s, me, comp), tone: tone };
  }

  function overText(s, me, comp) {
    var w = s.winner, l = w ? other(w) : null;
    if (!me) {
      switch (s.result) {
        case 'win': return w + ' won';
        case 'draw': return 'Draw';
        case 'resign': return l + ' resigned, ' + w + ' wins';
        case 'abandon': return w ? l + ' left, ' + w + ' wins' : 'Abandoned: nobody joined';
        default: return 'Game over';
      }
    }
    var them = comp ? 'the computer' : 'your opponent';
    switch (s.result) {
      case 'win': return w === me ? 'You won!' : 'You lost. ' + cap(them) + ' wins.';
      case 'draw': return 'Draw. Nobody wins.';
      case 'resign':
        return w === me ? cap(them) + ' resigned. You won!' : 'You resigned. You lost.';
      case 'abandon':
        if (!w) return 'Nobody joined; the game was abandoned.';
        return w === me ? cap(them) + ' left. You won!' : 'You were away too long. You lost.';
      default: return 'Game over.';
    }
  }

  function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  function cellName(i) {
    return 'row ' + (Math.floor(i / 3) + 1) + ' column ' + (i % 3 + 1);
  }

  function presence(p) {
    return p === 'connected' ? 'connected' : p === 'away' ? 'away' : 'open seat';
  }

  function render() {
    var g = games.get(view);
    if (!g) return;
    var s = g.state;
    var me = g.mark;
    var playing = canPlay(g);
    var line = s && Array.isArray(s.line) ? s.line : [];
    var last = s && Array.isArray(s.moves) && s.moves.length ? s.moves[s.moves.length - 1] : -1;

    ui.gameId.textContent = 'Game ' + g.id;
    ui.role.textContent = g.watching ? 'Watching' :
      me ? 'You are ' + me + (g.vs === 'computer' ? ' · vs computer' +
           (g.level ? ' (' + g.level + ')' : '') : '') : '';

    var d = describe(g);
    ui.status.textContent = d.text;
    ui.status.className = 'status' + (d.tone ? ' ' + d.tone : '');
    // The tab title tells a player in another tab that it is their turn.
    document.title = d.text + ' · Tic-tac-toe';

    for (var i = 0; i < 9; i++) {
      var c = cells[i];
      var mk = s ? s.board.charAt(i) : '.';
      if (mk !== 'X' && mk !== 'O') mk = '';
      if (c.dataset.mark !== mk) {
        c.dataset.mark = mk;
        c.innerHTML = mk ? MARK_SVG[mk] : '';
      }
      var win = line.indexOf(i) >= 0;
      var can = playing && !mk;
      c.classList.toggle('win', win);
      c.classList.toggle('last', i === last && !win);
      c.classList.toggle('playable', can);
      c.setAttribute('aria-disabled', can ? 'false' : 'true');
      c.setAttribute('aria-label', cellName(i) + ', ' + (mk || 'empty') +
                     (win ? ', winning line' : ''));
    }
    ui.board.classList.toggle('busy', g.pendingMove >= 0);
    ui.board.setAttribute('aria-busy', g.pendingMove >= 0 ? 'true' : 'false');

    // Hooks for tests and styling: the state as attributes of the view.
    var ds = ui.game.dataset;
    ds.gameId = String(g.id);
    ds.role = me ? 'player' : 'spectator';
    ds.mark = me || '';
    ds.status = s ? s.status : '';
    ds.result = s && s.result ? s.result : '';
    ds.winner = s && s.winner ? s.winner : '';
    ds.turn = s && s.status === 'playing' ? (me && s.turn === me ? 'me' : 'opponent') : '';

    var players = (s && s.players) || {};
    ['X', 'O'].forEach(function (k) {
      var el = k === 'X' ? ui.seatX : ui.seatO;
      var who = k === me ? 'you' : me && g.vs === 'computer' ? 'computer' : '';
      el.dataset.presence = players[k] || 'open';
      el.textContent = k + (who ? ' (' + who + ')' : '') + ': ' + presence(players[k]);
    });

    var over = s && s.status === 'over';
    ui.resign.hidden = !(me && s && s.status === 'playing');
    ui.resign.disabled = !ready;
    var canRematch = me && over && !(s.result === 'abandon' && !s.winner);
    ui.rematch.hidden = !canRematch;
    ui.rematch.disabled = !ready || g.rematchSent;
    ui.rematch.textContent = g.rematchOffered ? 'Accept rematch' :
      g.rematchSent ? 'Rematch offered…' : 'Rematch';
    ui.offer.hidden = !(canRematch && g.rematchOffered);

    var waiting = !!(s && s.status === 'waiting');
    ui.shareLink.value = gameUrl(g.id);
    ui.share.classList.toggle('primary', waiting);
    ui.share.hidden = g.vs === 'computer' && !!me;
    // While waiting, sharing the link is the one thing to do: put it above the board.
    // Moved only when that changes, so a focused Copy button keeps its focus.
    var place = waiting ? 'top' : 'bottom';
    if (ui.share.dataset.place !== place) {
      ui.share.dataset.place = place;
      if (waiting) ui.board.before(ui.share);
      else ui.controls.after(ui.share);
    }
  }

  /* ---- Misc UI ----------------------------------------------------------------------- */

  function toast(text) {
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { ui.toast.hidden = true; }, TOAST_MS);
  }

  function copyLink() {
    var text = ui.shareLink.value;
    function fallback() {
      ui.shareLink.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      toast(ok ? 'Link copied.' : 'Select the link and copy it.');
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { toast('Link copied.'); }, fallback);
    } else {
      fallback();
    }
  }

  function buildBoard() {
    for (var i = 0; i < 9; i++) {
      var b = document.createElement('button');
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
    // walk the whole board; a click on such a cell is simply ignored.
    ui.board.addEventListener('click', function (ev) {
      var c = ev.target.closest('.cell');
      if (c) move(Number(c.dataset.index));
    });
    ui.board.addEventListener('keydown', function (ev) {
      var c = ev.target.closest('.cell');
      if (!c) return;
      var i = Number(c.dataset.index), r = Math.floor(i / 3), col = i % 3;
      switch (ev.key) {
        case 'ArrowUp': r = (r + 2) % 3; break;
        case 'ArrowDown': r = (r + 1) % 3; break;
        case 'ArrowLeft': col = (col + 2) % 3; break;
        case 'ArrowRight': col = (col + 1) % 3; break;
        default: return;
      }
      ev.preventDefault();
      cells[r * 3 + col].focus();
    });
  }

  function init() {
    buildBoard();
    seatPrune();
    setButtons();
    ui.newFriend.addEventListener('click', function () { create('human'); });
    ui.quick.addEventListener('click', quick);
    ui.newEasy.addEventListener('click', function () { create('computer', 'easy'); });
    ui.newPerfect.addEventListener('click', function () { create('computer', 'perfect'); });
    ui.joinForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = ui.joinId.value.trim().replace(/^#/, '');
      if (!/^[0-9]{1,15}$/.test(v) || Number(v) < 1) {
        toast('A game id is a number, like 100.');
        return;
      }
      joinOrWatch(Number(v));
    });
    ui.resign.addEventListener('click', resign);
    ui.rematch.addEventListener('click', rematch);
    ui.toLobby.addEventListener('click', function () { showLobby(); });
    ui.copyLink.addEventListener('click', copyLink);
    ui.shareLink.addEventListener('focus', function () { ui.shareLink.select(); });
    $('home').addEventListener('click', function (ev) { ev.preventDefault(); showLobby(); });

    window.addEventListener('popstate', function () {
      var id = urlGame();
      if (!id) { showLobby(true); return; }
      if (games.has(id)) showGame(id, true);
      else if (ready) enterFromUrl(id);
      else wanted = id;
    });
    // Back online after a network change: skip the rest of the backoff.
    window.addEventListener('online', function () { if (!ws) { attempt = 0; connect(); } });
    // Leaving the page (or entering the back-forward cache): close the socket ourselves rather
    // than let the browser cut it, and come back with `resume` if the page is shown again.
    window.addEventListener('pagehide', function () {
      var sock = ws;
      if (!sock) return;
      ws = null;
      ready = false;
      stopList();
      pending.clear();
      clearTimeout(retryTimer);
      sock.onclose = null;
      sock.close(1000);
    });
    window.addEventListener('pageshow', function (ev) { if (ev.persisted && !ws) connect(); });

    wanted = urlGame();
    if (!wanted) showLobby(true);
    connect();
  }

  init();
})();
