#!/usr/bin/python3
"""test_browser.py -- end to end: a real headless Chromium plays the page served by ttt-server.

Run with Debian's python3 and python3-selenium (chromedriver from /usr/bin, never downloaded):
    /usr/bin/python3 tests/e2e/test_browser.py --server build/ttt-server --web web
Starts the server on a free loopback port in a temp dir, drives the page like a player
(clicks, keys, a second and third window), and checks what the page shows against the board
it rendered and against the server's /api/games/{id}. Exit status 0 only if every case passes.
The temp dir (server log, screenshots) is kept on failure or with --keep.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import types
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REDIS_SERVER = shutil.which("redis-server", path="/usr/bin:/usr/sbin") or "/usr/bin/redis-server"
WAIT_S = 15            # any single page condition; generous for a loaded 2-core CI machine
SERVER_START_S = 15
LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]


class Failure(Exception):
    """A check failed; the message says what the page showed and what was expected."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---- server process ------------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(proc, port, what, log_path):
    deadline = time.monotonic() + SERVER_START_S
    while True:
        if proc.poll() is not None:
            raise Failure(f"{what} exited with {proc.returncode} before listening; see {log_path}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                stop_server(proc)
                raise Failure(f"{what} did not answer on port {port} within {SERVER_START_S} s")
            time.sleep(0.05)   # bounded poll of a port, not a wait on the page


def start_server(binary, web, tmp, port=None, extra=(), log_name="server.log"):
    port = port or free_port()
    log_path = os.path.join(tmp, log_name)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), "--web", web, *extra],
            cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    wait_port(proc, port, "ttt-server", log_path)
    return proc, port, log_path


def start_redis(tmp):
    port = free_port()
    log_path = os.path.join(tmp, "redis.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", tmp],
            cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    wait_port(proc, port, "redis-server", log_path)
    return proc, port


def stop_server(proc):
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "killed after SIGTERM timeout"


def api_state(port, gid):
    url = f"http://127.0.0.1:{port}/api/games/{gid}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read().decode())
    except (urllib.error.URLError, ValueError) as e:
        raise Failure(f"GET {url}: {e}")


# ---- browser -------------------------------------------------------------------------------

def start_browser(tmp):
    for p in (CHROMIUM, CHROMEDRIVER):
        check(os.access(p, os.X_OK), f"{p} is missing (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--user-data-dir=" + os.path.join(tmp, "chromium-profile")):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER,
                      log_path=os.path.join(tmp, "chromedriver.log"))
    return webdriver.Chrome(service=service, options=opts)


def by_testid(d, tid):
    return d.find_element(By.CSS_SELECTOR, f'[data-testid="{tid}"]')


def wait_for(d, cond, what, timeout=WAIT_S):
    """Wait until cond(d) is truthy and return it; fail naming the condition and the page."""
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.05).until(
            lambda drv: cond(drv), message=what)
    except TimeoutException:
        snap = None
        try:
            snap = snapshot(d)
        except WebDriverException:
            pass
        raise Failure(f"timed out after {timeout} s waiting for: {what}; page: {snap}")


SNAPSHOT_JS = """
const g = document.querySelector('[data-testid="game"]');
const cells = [];
for (let i = 0; i < 9; i++) cells.push(document.querySelector('[data-testid="cell-' + i + '"]'));
const vis = (t) => { const e = document.querySelector('[data-testid="' + t + '"]');
                     return !!e && !e.hidden && e.offsetParent !== null; };
return {
  lobby: vis('lobby'), game: vis('game'),
  id: g.dataset.gameId || '', status: g.dataset.status || '', result: g.dataset.result || '',
  winner: g.dataset.winner || '', turn: g.dataset.turn || '', mark: g.dataset.mark || '',
  role: g.dataset.role || '',
  board: cells.map(c => c.dataset.mark || '.').join(''),
  drawn: cells.map(c => c.querySelectorAll('svg').length).join(''),
  win: cells.map((c, i) => c.classList.contains('win') ? i : -1).filter(i => i >= 0),
  labels: cells.map(c => c.getAttribute('aria-label')),
  statusText: document.querySelector('[data-testid="status"]').textContent,
  gameIdText: document.querySelector('[data-testid="game-id"]').textContent,
  resign: vis('resign'), rematch: vis('rematch'), offer: vis('rematch-offer'),
  conn: document.querySelector('[data-testid="conn"]').dataset.state || '',
  url: location.href
};
"""


def snapshot(d):
    return d.execute_script(SNAPSHOT_JS)


def wait_snap(d, pred, what, timeout=WAIT_S):
    """Wait until pred(snapshot) holds; return that snapshot."""
    return wait_for(d, lambda drv: (lambda x: x if pred(x) else None)(snapshot(drv)), what, timeout)


def lines_of(board, mark):
    return [ln for ln in LINES if all(board[i] == mark for i in ln)]


def click_testid(d, tid):
    el = wait_for(d, lambda drv: (lambda e: e if e.is_displayed() and e.is_enabled() else None)(
        by_testid(drv, tid)), f"button {tid} clickable")
    el.click()


def open_home(d, base):
    d.get(base + "/")
    wait_for(d, lambda drv: snapshot(drv)["lobby"], "the lobby is shown")
    # Buttons are enabled once the WebSocket said welcome.
    wait_for(d, lambda drv: by_testid(drv, "new-friend").is_enabled(), "lobby buttons enabled")


def console_errors(d):
    try:
        return [e["message"] for e in d.get_log("browser") if e.get("level") == "SEVERE"]
    except WebDriverException:
        return []   # a driver without the log endpoint: nothing to check


def check_no_console_errors(d, where):
    errs = console_errors(d)
    check(not errs, f"console errors in {where}: {errs}")


def check_board_consistent(s):
    """The marks are drawn and labelled as the board says."""
    for i, m in enumerate(s["board"]):
        want_svg = "0" if m == "." else "1"
        check(s["drawn"][i] == want_svg, f"cell {i} is {m!r} but draws {s['drawn'][i]} marks")
        r, c = i // 3 + 1, i % 3 + 1
        word = "empty" if m == "." else m
        check(s["labels"][i].startswith(f"row {r} column {c}, {word}"),
              f"cell {i} aria-label {s['labels'][i]!r} does not say row {r} column {c}, {word}")


def check_final(d, port, gid, expect_result=None, expect_winner=None):
    """The finished game as shown matches its own board and the server's state."""
    s = wait_snap(d, lambda x: x["status"] == "over",
                 f"game {gid} shown as over")
    check(s["id"] == str(gid), f"page shows game {s['id']}, expected {gid}")
    check(str(gid) in s["gameIdText"], f"game id {gid} not in {s['gameIdText']!r}")
    check_board_consistent(s)
    api = api_state(port, gid)
    check(api.get("board") == s["board"],
          f"page board {s['board']} != server board {api.get('board')}")
    check(api.get("status") == "over", f"server says status {api.get('status')}")
    for k in ("result", "winner"):
        check(s[k] == (api.get(k) or ""), f"page {k} {s[k]!r} != server {k} {api.get(k)!r}")
    if expect_result:
        check(s["result"] == expect_result, f"result {s['result']}, expected {expect_result}")
    if expect_winner is not None:
        check(s["winner"] == expect_winner, f"winner {s['winner']!r}, expected {expect_winner!r}")
    # The highlight is the three-in-a-row on the board (the page's own board, not its claim).
    if s["result"] == "win":
        lines = lines_of(s["board"], s["winner"])
        check(len(lines) >= 1, f"result win for {s['winner']} but no line on {s['board']}")
        check(sorted(s["win"]) == sorted(api.get("line") or []),
              f"highlighted {s['win']}, server line {api.get('line')}")
        check(tuple(sorted(s["win"])) in lines,
              f"highlighted {s['win']} is not a line of {s['winner']}")
    else:
        check(s["win"] == [], f"cells {s['win']} highlighted without a win")
    text = s["statusText"]
    mine = s["mark"]
    if s["role"] == "spectator":
        want = {"win": f"{s['winner']} won", "draw": "Draw"}.get(s["result"], "")
        check("Watching" in text and want in text, f"spectator status {text!r}, want {want!r}")
    elif s["result"] == "draw":
        check("Draw" in text, f"status {text!r} for a draw")
    elif s["winner"] == mine:
        check("You won" in text, f"status {text!r} but {mine} won")
    else:
        check("You lost" in text, f"status {text!r} but {mine} lost")
    check(not s["resign"], "Resign still shown after the game ended")
    return s


# ---- move choice ---------------------------------------------------------------------------

def first_empty(board, me):
    return board.index(".")


def sensible(board, me):
    """Win, else block, else centre, else a corner, else anything."""
    them = "O" if me == "X" else "X"
    for who in (me, them):
        for ln in LINES:
            marks = [board[i] for i in ln]
            if marks.count(who) == 2 and marks.count(".") == 1:
                return ln[marks.index(".")]
    for i in (4, 0, 2, 6, 8):
        if board[i] == ".":
            return i
    return board.index(".")


def keyboard_to(d, cell):
    """Reach `cell` from cell 0 with arrow keys and press Enter, as a keyboard user would."""
    d.execute_script('document.querySelector(\'[data-testid="cell-0"]\').focus()')
    keys = [Keys.ARROW_DOWN] * (cell // 3) + [Keys.ARROW_RIGHT] * (cell % 3)
    chain = ActionChains(d)
    for k in keys:
        chain.send_keys(k)
    chain.perform()
    focused = d.execute_script("return document.activeElement.dataset.testid || ''")
    check(focused == f"cell-{cell}", f"arrow keys reached {focused!r}, expected cell-{cell}")
    ActionChains(d).send_keys(Keys.ENTER).perform()


def play_vs_computer(d, base, port, level, choose, use_keyboard=False):
    open_home(d, base)
    click_testid(d, f"new-computer-{level}")
    s = wait_snap(d, lambda x: x["game"] and x["status"] == "playing" and x["turn"] == "me",
                 "a new game vs the computer, my turn")
    gid = int(s["id"])
    check(s["mark"] == "X" and s["board"] == ".........",
          f"new game: mark {s['mark']} board {s['board']}")
    check(s["url"].endswith(f"/?game={gid}"), f"URL {s['url']} does not name game {gid}")
    check(str(gid) in s["gameIdText"], f"game id {gid} not shown ({s['gameIdText']!r})")
    check("Your turn" in s["statusText"], f"status {s['statusText']!r} on my turn")
    mine = []
    for _ in range(5):
        s = snapshot(d)
        if s["status"] == "over":
            break
        check(s["turn"] == "me", f"not my turn in a playing game: {s}")
        check(s["board"].count("X") == s["board"].count("O"), f"odd board on my turn: {s['board']}")
        cell = choose(s["board"], "X")
        mine.append(cell)
        if use_keyboard:
            keyboard_to(d, cell)
        else:
            by_testid(d, f"cell-{cell}").click()
        s = wait_snap(d, lambda x: x["board"][cell] == "X" and
                      (x["status"] == "over" or x["turn"] == "me"),
                      f"my X in cell {cell}, then the computer's answer or the end")
        check(sorted(i for i, m in enumerate(s["board"]) if m == "X") == sorted(mine),
              f"X cells on {s['board']} are not my clicks {mine}")
    return gid, mine


# ---- cases ---------------------------------------------------------------------------------

def case_perfect(c):
    d, base, port, tmp = c.d, c.base, c.port, c.tmp
    # Naive first-empty play makes the computer win, so the highlighted line gets checked too.
    gid, _ = play_vs_computer(d, base, port, "perfect", first_empty)
    s = check_final(d, port, gid)
    check(s["result"] in ("draw", "win") and s["winner"] in ("", "O"),
          f"perfect computer lost: result {s['result']} winner {s['winner']}")
    check(s["rematch"], "no Rematch button after a finished game")
    d.save_screenshot(os.path.join(tmp, "perfect-final.png"))
    # Rematch against the computer starts at once with marks swapped: it opens as X.
    click_testid(d, "rematch")
    s = wait_snap(d, lambda x: x["id"] != str(gid) and x["turn"] == "me",
                  "the rematch game, my turn after the computer's first move")
    check(s["mark"] == "O" and s["board"].count("X") == 1 and s["board"].count("O") == 0,
          f"rematch vs computer: mark {s['mark']} board {s['board']}")
    check_no_console_errors(d, "perfect game")


def case_easy(c):
    d, base, port, tmp = c.d, c.base, c.port, c.tmp
    # Played with the keyboard on a phone-sized window.
    d.set_window_size(390, 844)
    try:
        gid, _ = play_vs_computer(d, base, port, "easy", sensible, use_keyboard=True)
        check_final(d, port, gid)
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth")
        check(not overflow, "the page scrolls sideways on a 390 px wide screen")
        d.save_screenshot(os.path.join(tmp, "easy-phone-final.png"))
    finally:
        d.set_window_size(1280, 900)
    check_no_console_errors(d, "easy game")


def play_turn(d, handle, mark, cell):
    d.switch_to.window(handle)
    wait_snap(d, lambda x: x["turn"] == "me" and x["mark"] == mark, f"{mark}'s turn in its window")
    by_testid(d, f"cell-{cell}").click()
    wait_for(d, lambda drv: snapshot(drv)["board"][cell] == mark, f"{mark} shown in cell {cell}")


def case_friend(c):
    d, base, port, tmp = c.d, c.base, c.port, c.tmp
    a = d.current_window_handle
    open_home(d, base)
    click_testid(d, "new-friend")
    s = wait_snap(d, lambda x: x["game"] and x["status"] == "waiting", "a waiting game in window A")
    gid = int(s["id"])
    check(s["mark"] == "X", f"creator is {s['mark']}, expected X")
    check("Waiting for an opponent" in s["statusText"], f"waiting status {s['statusText']!r}")
    share = by_testid(d, "share-link").get_attribute("value")
    check(share == f"{base}/?game={gid}", f"share link {share!r}, expected {base}/?game={gid}")
    check(by_testid(d, "copy-link").is_displayed(), "no copy button next to the share link")

    # Window B sees the game in the lobby's open list, then opens the share link.
    d.switch_to.new_window("window")
    b = d.current_window_handle
    open_home(d, base)
    entry = wait_for(d, lambda drv: drv.find_elements(By.CSS_SELECTOR,
                                                      f'[data-testid="join-{gid}"]'),
                     f"game {gid} in the open games list")[0]
    row = entry.find_element(By.XPATH, "./..").text
    check("waiting" in row, f"open games row {row!r} shows no age")
    d.get(share)
    s = wait_snap(d, lambda x: x["game"] and x["status"] == "playing",
                  "window B joined and playing")
    check(s["mark"] == "O" and s["turn"] == "opponent", f"B: mark {s['mark']} turn {s['turn']}")

    # Window C asks to join by id from the lobby when the game is full, and watches instead.
    d.switch_to.new_window("window")
    c = d.current_window_handle
    open_home(d, base)
    by_testid(d, "join-id").send_keys(str(gid))
    click_testid(d, "join-go")
    s = wait_snap(d, lambda x: x["game"] and x["role"] == "spectator" and x["status"] == "playing",
                 "window C watching")
    check("Watching" in s["statusText"], f"spectator status {s['statusText']!r}")
    check(not s["resign"] and not s["rematch"], "spectator has Resign/Rematch controls")

    play_turn(d, a, "X", 0)
    play_turn(d, b, "O", 3)
    # A reload keeps B in its seat (token in sessionStorage, `resume`).
    d.switch_to.window(b)
    d.refresh()
    s = wait_snap(d, lambda x: x["game"] and x["mark"] == "O" and x["board"] == "X..O.....",
                 "window B back in its seat after a reload")
    check(s["url"].endswith(f"/?game={gid}"), f"B's URL after reload: {s['url']}")
    play_turn(d, a, "X", 1)
    play_turn(d, b, "O", 4)
    play_turn(d, a, "X", 2)

    d.switch_to.window(a)
    check_final(d, port, gid, "win", "X")
    sa = snapshot(d)
    check(sorted(sa["win"]) == [0, 1, 2], f"A highlights {sa['win']}, expected [0, 1, 2]")
    d.save_screenshot(os.path.join(tmp, "friend-final.png"))
    d.switch_to.window(b)
    sb = check_final(d, port, gid, "win", "X")
    check(sorted(sb["win"]) == [0, 1, 2], f"B highlights {sb['win']}, expected [0, 1, 2]")
    d.switch_to.window(c)
    check_final(d, port, gid, "win", "X")

    # Rematch: A offers, B sees the offer and accepts; both land in a new game, marks swapped.
    d.switch_to.window(a)
    click_testid(d, "rematch")
    d.switch_to.window(b)
    wait_for(d, lambda drv: snapshot(drv)["offer"], "B sees 'opponent wants a rematch'")
    click_testid(d, "rematch")
    s = wait_snap(d, lambda x: x["id"] != str(gid) and x["status"] == "playing",
                  "B in the rematch game")
    check(s["mark"] == "X" and s["turn"] == "me",
          f"B in rematch: mark {s['mark']} turn {s['turn']}")
    new_id = s["id"]
    d.switch_to.window(a)
    s = wait_snap(d, lambda x: x["id"] == new_id and x["status"] == "playing",
                  "A follows into the rematch game")
    check(s["mark"] == "O" and s["turn"] == "opponent",
          f"A in rematch: mark {s['mark']} turn {s['turn']}")

    for h in (a, b, c):
        d.switch_to.window(h)
        check_no_console_errors(d, "friend game window")
    # B goes away (its window closes): A is told the opponent is away.
    for h in (b, c):
        d.switch_to.window(h)
        d.close()
    d.switch_to.window(a)
    wait_snap(d, lambda x: "away" in x["statusText"], "A's status says the opponent is away")


def case_quick_resign(c):
    d, base, port = c.d, c.base, c.port
    a = d.current_window_handle
    open_home(d, base)
    click_testid(d, "quick")
    s = wait_snap(d, lambda x: x["game"] and x["status"] == "waiting", "A waits for a quick match")
    gid = s["id"]
    d.switch_to.new_window("window")
    b = d.current_window_handle
    open_home(d, base)
    click_testid(d, "quick")
    s = wait_snap(d, lambda x: x["game"] and x["status"] == "playing", "B seated by quick match")
    check(s["id"] == gid and s["mark"] == "O", f"B got game {s['id']} as {s['mark']}, want {gid} O")
    play_turn(d, a, "X", 4)
    # B resigns; the button asks for a second press so a stray tap does not end the game.
    d.switch_to.window(b)
    wait_snap(d, lambda x: x["turn"] == "me", "B's turn")
    by_testid(d, "resign").click()
    armed = by_testid(d, "resign").text
    check("again" in armed, f"Resign did not ask for confirmation (button says {armed!r})")
    by_testid(d, "resign").click()
    sb = check_final(d, port, gid, "resign", "X")
    check("You resigned" in sb["statusText"], f"B status {sb['statusText']!r}")
    d.switch_to.window(a)
    sa = check_final(d, port, gid, "resign", "X")
    check("resigned" in sa["statusText"], f"A status {sa['statusText']!r}")
    for h in (a, b):
        d.switch_to.window(h)
        check_no_console_errors(d, "quick match window")
    d.switch_to.window(b)
    d.close()
    d.switch_to.window(a)


def case_restart(c):
    """Two server processes share one Redis. The first stops (SIGTERM: close code 1012) in the
    middle of a game; the second takes over its port. Both tabs come back by themselves with
    `resume` and finish the game."""
    d, tmp, server_bin, web = c.d, c.tmp, c.server_bin, c.web
    if not os.access(REDIS_SERVER, os.X_OK):
        print(f"skip restart: no {REDIS_SERVER}")
        return
    procs = []
    try:
        redis, rport = start_redis(tmp)
        procs.append(redis)
        extra = ["--redis", f"redis://127.0.0.1:{rport}"]
        first, sport, _ = start_server(server_bin, web, tmp, extra=extra, log_name="server-1.log")
        procs.append(first)
        sbase = f"http://127.0.0.1:{sport}"
        a = d.current_window_handle
        open_home(d, sbase)
        click_testid(d, "new-friend")
        gid = wait_snap(d, lambda x: x["game"] and x["status"] == "waiting", "A waits")["id"]
        d.switch_to.new_window("window")
        b = d.current_window_handle
        d.get(f"{sbase}/?game={gid}")
        wait_snap(d, lambda x: x["game"] and x["mark"] == "O", "B joined")
        play_turn(d, a, "X", 0)
        play_turn(d, b, "O", 4)

        first.send_signal(signal.SIGTERM)
        for h in (a, b):
            d.switch_to.window(h)
            wait_snap(d, lambda x: x["conn"] == "down", "the page notices the restart")
        try:
            first_rc = first.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failure("the first server still runs 10 s after SIGTERM")
        second, _, _ = start_server(server_bin, web, tmp, port=sport, extra=extra,
                                    log_name="server-2.log")
        procs.append(second)
        for h in (a, b):
            d.switch_to.window(h)
            s = wait_snap(d, lambda x: x["conn"] == "up" and x["board"] == "X...O...." and
                          x["status"] == "playing" and "away" not in x["statusText"],
                          "back on the new process, the game as it was", timeout=WAIT_S + 10)
            check(s["id"] == gid, f"after the restart the page shows game {s['id']}, not {gid}")
        play_turn(d, a, "X", 1)
        play_turn(d, b, "O", 8)
        play_turn(d, a, "X", 2)
        check_final(d, sport, gid, "win", "X")
        d.switch_to.window(a)
        check_final(d, sport, gid, "win", "X")
        d.switch_to.window(b)
        d.close()
        d.switch_to.window(a)
        check(first_rc == 0, f"the first server (Redis store) exit status {first_rc} after "
              f"SIGTERM, expected 0; see {os.path.join(tmp, 'server-1.log')}")
    finally:
        for p in reversed(procs):
            stop_server(p)


def case_shutdown(c):
    """SIGTERM with the page connected: it is told 1012 and shows it is reconnecting; the
    server exits 0 (a sanitizer report would make it exit non-zero)."""
    d, base, proc = c.d, c.base, c.proc
    open_home(d, base)
    proc.send_signal(signal.SIGTERM)
    wait_for(d, lambda drv: snapshot(drv)["conn"] == "down", "the page notices the shutdown")
    text = by_testid(d, "conn").text
    check("Reconnecting" in text, f"connection indicator says {text!r}")
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise Failure("server still running 10 s after SIGTERM")
    check(rc == 0, f"server exit status {rc} after SIGTERM, expected 0 (see the server log)")


CASES = [("perfect", case_perfect), ("easy", case_easy), ("friend", case_friend),
         ("quick", case_quick_resign), ("restart", case_restart), ("shutdown", case_shutdown)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="path to ttt-server")
    ap.add_argument("--web", required=True, help="the web/ directory to serve")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (screenshots, logs)")
    ap.add_argument("--only", help="run one case: " + ", ".join(n for n, _ in CASES))
    args = ap.parse_args()
    server_bin = os.path.abspath(args.server)
    web = os.path.abspath(args.web)
    if not os.access(server_bin, os.X_OK):
        print(f"e2e_browser: FAIL: no server binary at {server_bin}", file=sys.stderr)
        return 2
    if not os.path.isfile(os.path.join(web, "index.html")):
        print(f"e2e_browser: FAIL: no index.html in {web}", file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="ttt-e2e-")
    passed, failed = [], []
    proc = driver = None
    try:
        proc, port, log_path = start_server(server_bin, web, tmp)
        base = f"http://127.0.0.1:{port}"
        driver = start_browser(tmp)
        driver.set_page_load_timeout(WAIT_S)
        open_home(driver, base)
        driver.save_screenshot(os.path.join(tmp, "lobby.png"))
        ctx = types.SimpleNamespace(d=driver, base=base, port=port, tmp=tmp, proc=proc,
                                    server_bin=server_bin, web=web)
        for name, fn in CASES:
            if args.only and name != args.only:
                continue
            t0 = time.monotonic()
            try:
                fn(ctx)
                passed.append(name)
                print(f"ok   {name} ({time.monotonic() - t0:.1f} s)")
            except Exception as e:   # noqa: BLE001 -- any fault fails this case, not the run
                failed.append(name)
                print(f"FAIL {name}: {e}", file=sys.stderr)
                traceback.print_exc(limit=3, file=sys.stderr)
                try:
                    driver.save_screenshot(os.path.join(tmp, f"fail-{name}.png"))
                    # Later cases start from one clean window.
                    handles = driver.window_handles
                    for h in handles[1:]:
                        driver.switch_to.window(h)
                        driver.close()
                    driver.switch_to.window(handles[0])
                except WebDriverException:
                    pass
    except Exception as e:   # noqa: BLE001 -- setup faults are reported like failures
        failed.append("setup")
        print(f"FAIL setup: {e}", file=sys.stderr)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except WebDriverException:
                pass
        stop_server(proc)

    log_path = os.path.join(tmp, "server.log")
    if failed and os.path.exists(log_path):
        with open(log_path, errors="replace") as f:
            lines = f.readlines()
        tail = [ln for ln in lines if "SUMMARY:" in ln or "ERROR:" in ln][:5] + lines[-30:]
        print("---- server log (last lines) ----\n" + "".join(tail), file=sys.stderr)
    if failed or args.keep:
        print(f"e2e_browser: artifacts kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"e2e_browser: {len(passed)} passed, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
