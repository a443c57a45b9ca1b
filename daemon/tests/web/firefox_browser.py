"""One headless Debian Firefox ESR with a fresh profile, driven over Marionette.

Playwright cannot drive Debian's Firefox (it wants its own patched build, or a
WebDriver BiDi newer than ESR has), and geckodriver is not packaged, so the
test talks to Firefox's own Marionette server with Mozilla's client.
"""

import ctypes
import os
import signal
import subprocess
import tempfile
import time

from marionette_driver.marionette import Marionette

# Firefox writes the port it picked (marionette.port = 0) into this file of
# the profile, so parallel runs never race for a fixed port.
PORT_FILE = "MarionetteActivePort"
START_LIMIT_S = 45

PREFS = {
    "marionette.port": 0,
    # Tests only talk to 127.0.0.1; a proxy from the environment must not.
    "network.proxy.type": 0,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
}

# Runs in Firefox's chrome (privileged) context before any page loads, so an
# error while a module script loads or a CSP refusal is caught too. Only
# messages tied to a content window count: Firefox's own background noise
# (no network for updates, say) is not the page's fault.
WATCH_ERRORS = """
const errors = [];
const scriptErrors = {
  QueryInterface: ChromeUtils.generateQI(["nsIConsoleListener"]),
  observe(msg) {
    if (!(msg instanceof Ci.nsIScriptError) || msg.isFromChromeContext) return;
    if (msg.flags & (Ci.nsIScriptError.warningFlag | Ci.nsIScriptError.infoFlag)) return;
    errors.push(`${msg.category}: ${msg.errorMessage} (${msg.sourceName}:${msg.lineNumber})`);
  },
};
Services.console.registerListener(scriptErrors);
window.__imedgeErrors = errors;
"""


def _die_with_parent():
    """Firefox must not outlive this script, even if it is killed outright."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


class Firefox:
    """A headless Firefox process and a Marionette session to it."""

    def __init__(self, name, width, height):
        self.name = name
        self.profile = tempfile.TemporaryDirectory(prefix=f"imedge-firefox-{name}-")
        with open(os.path.join(self.profile.name, "user.js"), "w") as f:
            for key, value in PREFS.items():
                f.write(f'user_pref("{key}", {_js(value)});\n')
        self.log = open(os.path.join(self.profile.name, "firefox.log"), "w+")
        self.proc = subprocess.Popen(
            ["firefox-esr", "--headless", "--marionette", "--remote-allow-system-access", "--no-remote",
             "--profile", self.profile.name, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        try:
            self.client = Marionette(host="127.0.0.1", port=self._port())
            self.client.start_session(timeout=START_LIMIT_S)
            self.client.set_window_rect(width=width, height=height)
            self.client.set_context(self.client.CONTEXT_CHROME)
            self.client.execute_script(WATCH_ERRORS, new_sandbox=False)
            self.client.set_context(self.client.CONTEXT_CONTENT)
        except BaseException:
            self.close()
            raise

    def _port(self):
        path = os.path.join(self.profile.name, PORT_FILE)
        deadline = time.monotonic() + START_LIMIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: firefox-esr exited with {self.proc.returncode}:\n"
                                   + self.output())
            try:
                with open(path) as f:
                    port = f.read().strip()
                if port:
                    return int(port)
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: Marionette did not start within {START_LIMIT_S} s:\n"
                           + self.output())

    def output(self):
        """What Firefox printed, for failure messages."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def errors(self):
        """Errors pages raised or logged since start, in order."""
        with self.client.using_context(self.client.CONTEXT_CHROME):
            return list(self.client.execute_script("return window.__imedgeErrors", new_sandbox=False))

    def clear_errors(self):
        """Forgets the errors seen so far (after the watcher's self-check)."""
        with self.client.using_context(self.client.CONTEXT_CHROME):
            self.client.execute_script("window.__imedgeErrors.length = 0", new_sandbox=False)

    def close(self):
        """Ends Firefox and all its content processes, and removes the profile."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()
        self.profile.cleanup()


def _js(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value + '"'
