/* replay_view.js -- the replay screen (?replay=ID): renders a replay (replay.js) step by step,
 * with buttons and keys (Left/Right one move, Home/End, Space play or pause) and a play timer
 * at the game's real pace or faster. It owns the replay section of index.html and that timer;
 * the app (app.js) loads the game and says when the screen is shown. */

import { boardAt, clockAt, lineAt, markOf, stepCount, waitBefore } from './replay.js';
import { MARK_SVG, gameUrl, resultText, seatLabel } from './view.js';

// The game's clock as m:ss.t (rounded to tenths first, so 59.96 s is 1:00.0, not 0:60.0).
function fmtClock(ms) {
  const t = Math.round(ms / 100);
  const m = Math.floor(t / 600), sec = Math.floor(t / 10) % 60;
  return m + ':' + (sec < 10 ? '0' : '') + sec + '.' + (t % 10);
}

function cellName(i) {
  return 'row ' + (Math.floor(i / 3) + 1) + ' column ' + (i % 3 + 1);
}

/* on: the app's handlers: lobby(), game(id) (open the game itself) */
export function createReplayView(on) {
  function $(id) { return document.getElementById(id); }
  const ui = {
    section: $('replay'), title: $('replay-title'), players: $('replay-players'),
    status: $('replay-status'), board: $('replay-board'), first: $('replay-first'),
    prev: $('replay-prev'), play: $('replay-play'), next: $('replay-next'), last: $('replay-last'),
    step: $('replay-step'), clock: $('replay-clock'), speed: $('replay-speed'),
    game: $('replay-game'), lobby: $('replay-lobby')
  };
  const cells = [];
  let r = null;                   // the replay shown, null while loading or after an error
  let id = 0;
  let step = 0;                   // moves on the board
  let playing = false;
  // How many times Play started and how many steps it made: a fast replay may be over before
  // a test (or a person) sees it playing, so the page keeps count.
  let plays = 0;
  let ticks = 0;
  let timer = 0;

  function speed() {
    const v = Number(ui.speed.value);
    return v >= 1 ? v : 1;
  }

  function statusText() {
    if (!r) return '';
    const n = stepCount(r);
    if (step === 0) return n ? 'Before the first move' : 'No move was played';
    if (step < n) return markOf(step) + ' to move · ' + seatLabel(r, markOf(step - 1)) +
      ' played ' + cellName(r.moves[step - 1]);
    return r.over ? resultText(r) : 'The game is still going on';
  }

  function render() {
    const ds = ui.section.dataset;
    ds.gameId = String(id);
    ds.loaded = r ? 'yes' : 'no';
    ui.title.textContent = 'Replay of game ' + id;
    ui.game.href = gameUrl(id);
    const n = r ? stepCount(r) : 0;
    const board = r ? boardAt(r, step) : '.........';
    const line = r ? lineAt(r, step) : [];
    for (let i = 0; i < 9; i++) {
      const c = cells[i];
      const mk = board.charAt(i) === '.' ? '' : board.charAt(i);
      if (c.dataset.mark !== mk) {
        c.dataset.mark = mk;
        c.innerHTML = mk ? MARK_SVG[mk] : '';
      }
      const win = line.indexOf(i) >= 0;
      c.classList.toggle('win', win);
      c.classList.toggle('last', r !== null && step > 0 && r.moves[step - 1] === i && !win);
      c.setAttribute('aria-label', cellName(i) + ', ' + (mk || 'empty') + (win ? ', winning line' : ''));
    }
    ds.step = String(step);
    ds.steps = String(n);
    ds.board = board;
    ds.playing = playing ? 'yes' : 'no';
    ds.plays = String(plays);
    ds.ticks = String(ticks);
    ds.end = r && step === n ? 'yes' : 'no';
    if (r) {
      ui.players.textContent = seatLabel(r, 'X') + ' vs ' + seatLabel(r, 'O');
      ui.status.textContent = statusText();
      ui.step.textContent = 'Move ' + step + ' of ' + n;
      const t = clockAt(r, step);
      ui.clock.textContent = t === null ? '' : fmtClock(t);
    }
    ui.first.disabled = ui.prev.disabled = !r || step === 0;
    ui.next.disabled = ui.last.disabled = !r || step === n;
    ui.play.disabled = !r || n === 0;
    ui.play.textContent = playing ? 'Pause' : 'Play';
    ui.speed.disabled = !r;
  }

  function stopTimer() {
    clearTimeout(timer);
    timer = 0;
  }

  // While playing, the next move comes after its real wait divided by the speed.
  function schedule() {
    stopTimer();
    if (!playing || !r) return;
    if (step >= stepCount(r)) {
      playing = false;
      return;
    }
    timer = setTimeout(() => {
      timer = 0;
      step++;
      ticks++;
      schedule();
      render();
    }, waitBefore(r, step + 1) / speed());
  }

  function go(to) {
    if (!r) return;
    step = Math.max(0, Math.min(stepCount(r), to));
    schedule();
    render();
  }

  function togglePlay() {
    if (!r || !stepCount(r)) return;
    playing = !playing;
    if (playing) plays++;
    if (playing && step === stepCount(r)) step = 0;   // play again from the start
    schedule();
    render();
  }

  function onKey(ev) {
    if (ui.section.hidden || !r || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const t = ev.target;
    // A control that uses these keys itself keeps them.
    if (t && (t.tagName === 'SELECT' || t.tagName === 'INPUT' || t.tagName === 'TEXTAREA')) return;
    const onButton = t && t.tagName === 'BUTTON';
    switch (ev.key) {
      case 'ArrowLeft': go(step - 1); break;
      case 'ArrowRight': go(step + 1); break;
      case 'Home': go(0); break;
      case 'End': go(stepCount(r)); break;
      case ' ':
        if (onButton) return;     // Space presses the focused button already
        togglePlay();
        break;
      default: return;
    }
    ev.preventDefault();
  }

  function build() {
    for (let i = 0; i < 9; i++) {
      const c = document.createElement('div');
      c.className = 'cell';
      c.dataset.testid = 'rcell-' + i;
      c.dataset.mark = '';
      c.setAttribute('role', 'img');
      ui.board.appendChild(c);
      cells.push(c);
    }
    ui.first.addEventListener('click', () => go(0));
    ui.prev.addEventListener('click', () => go(step - 1));
    ui.next.addEventListener('click', () => go(step + 1));
    ui.last.addEventListener('click', () => go(stepCount(r)));
    ui.play.addEventListener('click', togglePlay);
    ui.speed.addEventListener('change', () => { schedule(); render(); });
    ui.lobby.addEventListener('click', () => on.lobby());
    ui.game.addEventListener('click', (ev) => {
      if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      on.game(id);
    });
    document.addEventListener('keydown', onKey);
  }

  build();

  return {
    // Show the screen for game `gid`, loading.
    show(gid) {
      stopTimer();
      id = gid;
      r = null;
      step = 0;
      playing = false;
      ui.status.textContent = 'Loading…';
      ui.players.textContent = '';
      ui.step.textContent = '';
      ui.clock.textContent = '';
      ui.section.hidden = false;
      document.title = 'Replay of game ' + gid + ' · Tic-tac-toe';
      render();
      ui.title.focus({ preventScroll: true });
    },

    // The replay arrived (for game `gid`; a late answer for another one is dropped).
    load(gid, replay) {
      if (gid !== id || ui.section.hidden) return;
      r = replay;
      step = 0;
      render();
    },

    // It could not be loaded: say why, in words.
    fail(gid, text) {
      if (gid !== id) return;
      r = null;
      render();
      ui.status.textContent = text;
    },

    hide() {
      stopTimer();
      playing = false;
      ui.section.hidden = true;
    },

    get id() { return ui.section.hidden ? 0 : id; }
  };
}
