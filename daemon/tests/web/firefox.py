"""End-to-end test of the built-in web client in Debian's Firefox ESR.

Usage: python firefox.py <daemon base URL> <screenshot dir>
Run by daemon/tests/web_client.rs against a freshly started daemon, in a venv
with requirements-firefox.txt; exits non-zero on the first failed expectation.
Two Firefox processes with their own profiles are two users on two devices.
"""

import os
import re
import signal
import sys
import time

from marionette_driver import By, Wait
from marionette_driver.errors import StaleElementException, TimeoutException
from marionette_driver.keys import Keys

from firefox_browser import Firefox

WAIT_S = 15
# The run ends by itself even if a step hangs; the finally block still
# closes every Firefox.
RUN_LIMIT_S = 120
DESKTOP = (1280, 800)
PHONE = (390, 760)

# Whether a message whose text contains arguments[0] is shown; with
# arguments[1], only our own message in that ack state.
MESSAGE_SHOWN = """
const [text, state] = arguments;
return [...document.querySelectorAll('#messages li.msg')].some((li) =>
  li.textContent.includes(text) &&
  (!state || (li.classList.contains('mine') && li.dataset.state === state)));
"""


def step(name):
    print(f"firefox: {name}", flush=True)


def check(ok, what):
    if not ok:
        raise AssertionError(what)


class User:
    """One person in their own Firefox."""

    def __init__(self, name, mobile, size):
        self.name = name
        self.mobile = mobile
        self.ff = Firefox(name.lower(), *size)
        self.m = self.ff.client
        self.id = None

    def js(self, script, *args):
        return self.m.execute_script(script, script_args=list(args))

    def wait(self, script, *args, what):
        try:
            return Wait(self.m, timeout=WAIT_S, interval=0.1).until(
                lambda _: self.js(script, *args))
        except TimeoutException:
            raise AssertionError(f"{self.name}: timed out waiting until {what}") from None

    def el(self, css):
        return self.m.find_element(By.CSS_SELECTOR, css)

    def on(self, css, act):
        """Applies `act` to the element at `css`, finding it again if the
        client re-rendered it in between (lists are rebuilt on updates)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                return act(self.el(css))
            except StaleElementException:
                if time.monotonic() > deadline:
                    raise

    def click(self, css):
        self.on(css, lambda e: e.click())

    def type(self, css, text):
        field = self.el(css)
        field.clear()
        field.send_keys(text)

    def enter(self, css, text):
        """Types `text` and presses Enter: the client is keyboard-only."""
        self.type(css, text)
        self.el(css).send_keys(Keys.ENTER)

    def shown(self, css):
        return self.js("const e = document.querySelector(arguments[0]);"
                       "return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;",
                       css)

    def wait_shown(self, css):
        self.wait("const e = document.querySelector(arguments[0]);"
                  "return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;",
                  css, what=f"{css} shows")

    def register(self):
        self.type("#login-mobile", self.mobile)
        self.type("#login-password", f"pw-{self.mobile}")
        self.type("#login-nickname", self.name)
        self.click("#register-button")
        self.wait_shown("#chat-view")
        self.wait_shown('#conn-state[data-state="online"]')
        self.id = int(self.el("#me-id").text)
        check(self.id > 0, f"{self.name} has an id")

    def open(self, conv):
        css = f'#sidebar button[data-conv="{conv}"]'
        self.wait_shown(css)
        self.click(css)
        self.wait_shown("#composer")

    def kind(self, kind):
        self.click(f'#msg-kind option[value="{kind}"]')

    def say(self, text):
        self.kind("text")
        self.enter("#msg-text", text)

    def seen(self, text, state=None):
        what = f"message {text!r} shows" + (f" as {state}" if state else "")
        self.wait(MESSAGE_SHOWN, text, state, what=what)

    def badge(self, conv):
        css = f'#sidebar button[data-conv="{conv}"] .badge'
        self.wait_shown(css)
        return self.on(css, lambda e: e.text.strip())

    def shot(self, dir, name):
        png = self.m.screenshot(format="binary", full=False)
        with open(os.path.join(dir, f"firefox-{name}.png"), "wb") as f:
            f.write(png)


def watcher_sees_errors(u):
    """The error check can fail: a page that throws is noticed."""
    u.m.navigate("data:text/html,<!doctype html><script>"
                 "Promise.reject(new Error('imedge-watch-check'))</script>")
    u.wait("return document.readyState === 'complete'", what="the check page loads")
    deadline = time.monotonic() + WAIT_S
    while not any("imedge-watch-check" in e for e in u.ff.errors()):
        check(time.monotonic() < deadline, f"{u.name}: the error watcher saw nothing")
        time.sleep(0.1)
    u.ff.clear_errors()


def scenario(base, shots, users):
    run = int(time.time() * 1000) % 1_000_000
    step("start Firefox twice")
    alice = User("Alice", f"1370{run}1", DESKTOP)
    users.append(alice)
    bob = User("Bob", f"1370{run}2", PHONE)
    users.append(bob)
    version = alice.m.session_capabilities["browserVersion"]
    step(f"Firefox {version}")

    step("the page loads its module scripts under the CSP")
    for u in (alice, bob):
        watcher_sees_errors(u)
        u.m.navigate(base + "/")
        u.wait_shown("#login-view")
        u.wait("return document.activeElement?.id === 'login-mobile'",
               what="app.js ran and focused the mobile field")
    alice.shot(shots, "login")

    step("register two users")
    for u in (alice, bob):
        u.register()

    step("befriend by mobile")
    alice.enter("#add-friend-value", bob.mobile)
    alice.wait_shown(f'#sidebar button[data-conv="u{bob.id}"]')

    step("chat both ways")
    alice.open(f"u{bob.id}")
    alice.say("hello bob from firefox")
    alice.seen("hello bob from firefox", "sent")
    check(bob.badge(f"u{alice.id}") == "1", "Bob sees one unread message from Alice")
    bob.open(f"u{alice.id}")
    bob.seen("hello bob from firefox")
    bob.say("hi alice, firefox here too")
    alice.seen("hi alice, firefox here too")
    bob.seen("hi alice, firefox here too", "sent")

    step("an image message renders as an image")
    image = alice.js("return document.querySelector('link[rel=icon]').href")
    alice.kind("image")
    alice.type("#msg-url", image)
    alice.enter("#msg-text", "a picture")
    bob.seen("a picture")
    bob.wait("""
      const li = [...document.querySelectorAll('#messages li.msg')]
        .find((l) => l.textContent.includes('a picture'));
      const img = li && li.querySelector('img');
      if (img) img.scrollIntoView();
      return !!img && img.getAttribute('src') === arguments[0] && img.complete && img.naturalWidth > 0;
    """, image, what="the image message shows a loaded <img>")

    step("markup in a message is shown as text")
    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    bob.say(evil)
    alice.seen("<script>")
    body = alice.js("""
      const li = [...document.querySelectorAll('#messages li.msg')]
        .find((l) => l.textContent.includes('<script>'));
      return li.querySelector('.body').textContent.trim();
    """)
    check(body == evil, f"the message text is shown verbatim, got {body!r}")
    check(alice.js("return document.querySelectorAll("
                   "'#messages script, #messages img[src=\"x\"]').length") == 0,
          "no markup from the message made it into the page")
    check(alice.js("return window.wrappedJSObject.__pwned") is None, "no injected script ran")
    alice.shot(shots, "conversation-desktop")

    step("one pane at a time on a phone")
    check(bob.shown("#composer") and not bob.shown("#sidebar"),
          "Bob's phone shows the conversation alone")
    # Firefox keeps windows at least 450-500 px wide, still a phone layout
    # (<= 700 px), so the page is measured against its own viewport.
    width, viewport = bob.js("return [document.documentElement.scrollWidth, window.innerWidth]")
    check(viewport <= 700, f"Bob's window is phone-sized ({viewport}px)")
    check(width <= viewport, f"no horizontal scrolling on a phone ({width}px in {viewport}px)")
    bob.shot(shots, "conversation-phone")

    for u in (alice, bob):
        errors = u.ff.errors()
        check(not errors, f"{u.name}: the page raised errors:\n" + "\n".join(errors))
    print("firefox: all scenarios passed", flush=True)


def main():
    if len(sys.argv) != 3 or not re.fullmatch(r"http://127\.\d+\.\d+\.\d+:\d+", sys.argv[1]):
        print("usage: python firefox.py http://127.0.0.1:<port> <screenshot dir>", file=sys.stderr)
        return 2
    base, shots = sys.argv[1], sys.argv[2]
    os.makedirs(shots, exist_ok=True)

    def give_up(*_):
        raise TimeoutError(f"gave up after {RUN_LIMIT_S} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(RUN_LIMIT_S)
    users = []
    try:
        scenario(base, shots, users)
        return 0
    except Exception as e:
        print(f"firefox: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        for u in users:
            print(f"--- {u.name}'s Firefox said:\n{u.ff.output()}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        for u in users:
            u.ff.close()


if __name__ == "__main__":
    sys.exit(main())
