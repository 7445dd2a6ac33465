"""End to end in a real browser: the web console (console_listen) of a real plumb-server over
TLS with two real enrolled agents on 127.0.0.1, driven by Debian's chromium through
chromium-driver and python3-selenium.

Checks: every page and API refuses unauthenticated requests (303 to /login, 401); a wrong
token is refused, the right one signs in; two nodes converge on the fleet page without a
reload; a tampered managed file is repaired and the repair appears on the node page's drift
timeline without a reload; "Run now" (a CSRF-checked POST) runs the node; a failed revision
shows its file:line error; no page ever contains a sensitive file's content; a hostile fact
(markup and script) is shown as text; an operator certificate signs in; the page reconnects its
live updates after a server restart, still signed in.
Screenshots of each page go to <build>/console-screenshots/. Takes about 15 s (bounded: every
wait has a deadline, the whole test fails past 120 s)."""

import http.client
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, PlumbTestCase, free_port, wait_until  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # deploy/install-deps.sh --with-tests installs it
    webdriver = None

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SUITE_DEADLINE = 120.0
HOSTILE = ('<img src=x onerror="window.__plumbPwned=1"><script>window.__plumbPwned=2;alert(1)'
           '</script>')
SCREENSHOTS = os.path.join(BIN, "..", "console-screenshots")

PLUMB_YAML = """version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
"""

BASE = """resources:
  - directory: /etc/app
  - file: /etc/motd
    content: "hello from plumb\\n"
  - file: /etc/app/secret.conf
    content: "password=@SECRET@\\n"
    sensitive: true
    require: [directory:/etc/app]
"""

# `mode` must be a quoted octal string: this revision fails to compile, naming file:line:col.
BROKEN = BASE + """  - file: /etc/broken
    content: "x"
    mode: 644
"""


@unittest.skipIf(webdriver is None or not os.path.exists(CHROMIUM) or
                 not os.path.exists(CHROMEDRIVER),
                 "needs chromium, chromium-driver and python3-selenium "
                 "(deploy/install-deps.sh --with-tests)")
class ConsoleBrowserTest(PlumbTestCase):
    tls = True

    def setUp(self):
        super().setUp()
        self.started = time.time()
        self.secret = "s3cr3t-" + secrets.token_hex(12)
        self.token = "console-" + secrets.token_hex(16)
        self.console_port = free_port()
        self.browser = None
        self.profile = tempfile.mkdtemp(prefix="plumb_chromium_")
        os.makedirs(SCREENSHOTS, exist_ok=True)
        if os.path.exists(os.path.join(SCREENSHOTS, "failed.png")):
            os.remove(os.path.join(SCREENSHOTS, "failed.png"))

    def tearDown(self):
        if self.browser is not None:
            self.browser.quit()
        shutil.rmtree(self.profile, ignore_errors=True)
        super().tearDown()

    # ---- helpers ----

    def left(self):
        """Seconds left of the suite's budget (at least 1, so a last wait can report)."""
        return max(1.0, SUITE_DEADLINE - (time.time() - self.started))

    def start_console_server(self):
        return self.start_server(extra=["--console_listen", "127.0.0.1:%d" % self.console_port,
                                        "--operator_tokens", self.token])

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.console_port, path)

    def raw(self, method, path, body=None, cookie=None, cert=None):
        """One request without following redirects: (status, Location, body). `cert`: a
        (certificate, key) pair to present."""
        ctx = ssl.create_default_context(cafile=self.ca_pem())
        if cert:
            ctx.load_cert_chain(*cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.console_port, context=ctx,
                                           timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        out = (r.status, r.getheader("Location"), r.read().decode(errors="replace"))
        conn.close()
        return out

    def open_browser(self):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--user-data-dir=" + self.profile,
                    # The server's certificate is signed by the test's own CA.
                    "--ignore-certificate-errors"]:
            options.add_argument(arg)
        self.browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.browser.set_page_load_timeout(20)

    def click(self, by, selector, what):
        """Clicks an element of a live page: a live update may swap it out between finding and
        clicking it (stale), which only means "find it again"."""
        def clicked(d):
            d.find_element(by, selector).click()
            return True
        self.wait(clicked, what)

    def wait(self, predicate, what, timeout=30):
        try:
            # A live update swaps the page's <main> at any time: elements found a moment ago
            # may be gone, which only means "look again".
            return WebDriverWait(self.browser, min(timeout, self.left()), poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,
                                                     NoSuchElementException)) \
                .until(lambda d: predicate(d), message=what)
        except Exception:
            self.browser.save_screenshot(os.path.join(SCREENSHOTS, "failed.png"))
            raise

    def text(self, css):
        return self.browser.find_element(By.CSS_SELECTOR, css).text

    def mark_page(self):
        """Sets a marker a reload would lose."""
        self.browser.execute_script("window.__plumbNoReload = 42;")

    def assert_not_reloaded(self):
        self.assertEqual(self.browser.execute_script("return window.__plumbNoReload;"), 42)

    def assert_no_secret(self):
        self.assertNotIn(self.secret, self.browser.page_source)

    def shot(self, name):
        self.browser.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))

    def live_state(self):
        return self.browser.execute_script("return document.body.dataset.liveState || '';")

    # ---- the test ----

    def test_console_in_a_browser(self):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE.replace("@SECRET@", self.secret))
        self.repo.commit("base with a secret")
        self.start_console_server()
        wait_until(lambda: self.raw("GET", "/login")[0] == 200, timeout=20, what="console")

        self.check_unauthenticated()
        self.open_browser()
        self.sign_in()
        self.see_two_nodes_converge()
        self.see_drift_repaired_on_node_page()
        self.see_failed_revision_error()
        self.see_resources_query()
        self.reconnect_after_restart()
        self.assertLess(time.time() - self.started, SUITE_DEADLINE)

    def check_unauthenticated(self):
        for page in ["/", "/?status=failed", "/nodes/web-1", "/revisions", "/revisions/abcd",
                     "/resources", "/nosuchpage"]:
            status, location, _ = self.raw("GET", page)
            self.assertEqual((status, location), (303, "/login"), page)
        for api in ["/api/fleet", "/api/events"]:
            self.assertEqual(self.raw("GET", api)[0], 401, api)
        for action in ["/nodes/web-1/run", "/logout"]:
            self.assertEqual(self.raw("POST", action, body="csrf=x")[0], 401, action)
        self.assertEqual(self.raw("GET", "/", cookie="plumb_session=forged")[0], 303)
        self.assertEqual(self.raw("POST", "/login", body="token=wrong")[0], 401)
        # An operator certificate signs in by itself (the page, not a redirect).
        status, _, body = self.raw("GET", "/", cert=self.operator_files())
        self.assertEqual(status, 200)
        self.assertIn('id="nodes"', body)

    def sign_in(self):
        b = self.browser
        b.get(self.url("/"))
        self.wait(lambda d: d.current_url.endswith("/login"), "redirect to sign-in")
        b.find_element(By.ID, "token").send_keys("not-the-token")
        b.find_element(By.ID, "signin").click()
        self.wait(lambda d: "not one of the server" in d.page_source, "wrong token refused")
        self.assertTrue(b.current_url.endswith("/login"))
        self.shot("signin")
        b.find_element(By.ID, "token").send_keys(self.token)
        b.find_element(By.ID, "signin").click()
        self.wait(lambda d: d.find_elements(By.ID, "nodes"), "the fleet page after sign-in")
        cookies = {c["name"]: c for c in b.get_cookies()}
        session = cookies["plumb_session"]
        self.assertTrue(session["httpOnly"] and session["secure"])
        self.assertEqual(session.get("sameSite"), "Strict")
        self.assertEqual(b.execute_script("return document.cookie;"), "")  # HttpOnly

    def see_two_nodes_converge(self):
        b = self.browser
        self.wait(lambda d: self.live_state() == "open", "the event stream to open")
        self.mark_page()
        for node in ["web-1", "web-2"]:
            self.assertEqual(self.enroll(node).returncode, 0)
            # Every host is hostile: web-2 sends markup and script in a fact.
            extra = ["--fact", "motto=" + HOSTILE] if node == "web-2" else []
            self.start_agent(node, labels=["role=web"], extra=extra)

        def converged(d):
            rows = d.find_elements(By.CSS_SELECTOR, "#nodes tbody tr")
            done = [r.get_attribute("data-node") for r in rows if "converged" in r.text]
            return sorted(done) == ["web-1", "web-2"]
        self.wait(converged, "both nodes converged on the fleet page", timeout=45)
        self.assert_not_reloaded()
        self.assertEqual(self.text('b[data-count="converged"]'), "2")
        self.assert_no_secret()
        self.shot("fleet")

    def see_drift_repaired_on_node_page(self):
        b = self.browser
        self.click(By.LINK_TEXT, "web-1", "the link to web-1")
        self.wait(lambda d: d.find_elements(By.ID, "summary"), "the node page")
        self.wait(lambda d: self.live_state() == "open", "the node page's event stream")
        self.assertIn("changed (sensitive)", b.page_source)
        self.assertIn("os.id", self.text("#facts"))
        self.mark_page()
        motd = os.path.join(self.root_of("web-1"), "etc/motd")
        with open(motd, "w") as f:
            f.write("tampered by hand\n")

        def repaired(d):
            items = d.find_elements(By.CSS_SELECTOR, "#timeline li[data-kind=corrective]")
            return any("file:/etc/motd" in i.text for i in items)
        self.wait(repaired, "the repair of /etc/motd on the drift timeline", timeout=45)
        self.assert_not_reloaded()
        self.assertEqual(self.read(motd), "hello from plumb\n")
        self.assertIn("tampered by hand", b.page_source)  # the repair's diff, escaped
        self.assert_no_secret()
        self.shot("node")
        # "Run now" is a POST with the session's CSRF token (from the page's form).
        runs_before = len(b.find_elements(By.CSS_SELECTOR, "#runs section.run"))
        self.click(By.CSS_SELECTOR, "form.run-now button", "the run-now button")
        self.wait(lambda d: any("request" in h.text for h in
                                d.find_elements(By.CSS_SELECTOR, "#runs section.run h3")),
                  "the requested run on the node page", timeout=30)
        self.assertGreater(len(b.find_elements(By.CSS_SELECTOR, "#runs section.run")),
                           runs_before - 1)

    def see_failed_revision_error(self):
        b = self.browser
        b.get(self.url("/revisions"))
        self.wait(lambda d: d.find_elements(By.ID, "revisions"), "the revisions page")
        self.wait(lambda d: self.live_state() == "open", "the revisions page's event stream")
        self.mark_page()
        self.repo.write("modules/base/module.yaml", BROKEN.replace("@SECRET@", self.secret))
        self.repo.commit("broken: unquoted mode")
        self.wait(lambda d: "failed" in self.text("#revisions tbody tr:first-child"),
                  "the failed revision to appear without reload", timeout=45)
        self.assert_not_reloaded()
        self.shot("revisions")
        self.click(By.CSS_SELECTOR, "#revisions tbody tr:first-child a", "the newest revision")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "code.loc"), "compile errors")
        location = self.text("code.loc")
        self.assertRegex(location, r"^modules/base/module\.yaml:\d+(:\d+)?$")
        self.assertIn("mode", self.text("ul.errors"))
        self.assert_no_secret()
        self.shot("revision-failed")

    def see_resources_query(self):
        b = self.browser
        b.get(self.url("/resources?id=file%3A%2Fetc%2Fmotd&since=1h&drift=1"))
        self.wait(lambda d: d.find_elements(By.ID, "events"), "the resources page")
        rows = b.find_elements(By.CSS_SELECTOR, "#events tbody tr")
        self.assertTrue(any("web-1" in r.text and "drift" in r.text for r in rows),
                        [r.text for r in rows])
        self.assert_no_secret()
        self.shot("resources")
        b.get(self.url("/nodes/web-2"))
        self.wait(lambda d: d.find_elements(By.ID, "summary"), "web-2's page")
        self.assert_no_secret()
        # The hostile fact is shown as text: no element, no script ran (an alert would fail
        # the next command).
        self.assertIn(HOSTILE, self.text("#facts"))
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "#facts img, #facts script"), [])
        self.assertIsNone(b.execute_script("return window.__plumbPwned;"))

    def reconnect_after_restart(self):
        server = next(p for p in self.processes if p.name == "plumb-server")
        self.wait(lambda d: self.live_state() == "open", "the stream before the restart")
        self.mark_page()
        self.browser.execute_script("delete document.body.dataset.refreshed;")
        server.terminate()
        self.wait(lambda d: self.live_state() == "reconnecting", "the stream to notice the stop")
        self.start_console_server()
        self.wait(lambda d: self.live_state() == "open", "the stream to reconnect", timeout=30)
        # The session survived the restart: the page refreshes itself, still signed in.
        self.wait(lambda d: d.execute_script("return document.body.dataset.refreshed || '';"),
                  "a refresh after reconnecting")
        self.assertFalse(self.browser.current_url.endswith("/login"))
        self.assert_not_reloaded()


if __name__ == "__main__":
    unittest.main()
