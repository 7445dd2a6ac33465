"""End to end: what an operator and Prometheus see. plumbctl nodes filters, node with its last
run and failing resources, fleet-wide resource queries (failed, drifted), watch -o json as
things happen, /metrics through promtool, /healthz and /readyz, and the signed git webhook."""

import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, PlumbTestCase, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
"""

BASE = """resources:
  - directory: /srv/app
    mode: "0755"
  - file: /srv/app/motd
    content: "managed by plumb\\n"
    mode: "0644"
    require: [directory:/srv/app]
"""

WEB = """resources:
  - exec: health-check
    command: "echo probe failed >&2; exit 3"
"""

SECRET = "webhook-test-secret"


class ObservabilityTest(PlumbTestCase):

    def setup_repo(self, web=WEB):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE)
        self.repo.write("modules/web/module.yaml", web)
        return self.repo.commit("initial")

    def http(self, path, data=None, headers=None):
        """Returns (status, body) of a request to the server's http_listen."""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path),
                                     data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        """The value of an unlabeled sample (or `name{labels}` exactly), or None."""
        for line in self.http("/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return float(line.split(" ")[1])
        return None

    def test_failing_and_drifted_resources_are_found_fleet_wide(self):
        rev = self.setup_repo()
        self.start_server()
        self.start_agent("web-1", labels=["role=web", "env=prod"])
        self.start_agent("db-1", labels=["role=db", "env=prod"])
        self.wait_node("web-1", status="NODE_FAILED")
        self.wait_node("db-1", revision=rev)

        # nodes: status and selector filters, alone and together.
        names = lambda *a: sorted(n["name"] for n in self.ctl_json("nodes", *a).get("nodes", []))
        self.assertEqual(names("--status", "failed"), ["web-1"])
        self.assertEqual(names("--status", "converged"), ["db-1"])
        self.assertEqual(names("--selector", "env=prod"), ["db-1", "web-1"])
        self.assertEqual(names("--selector", "role=web", "--status", "converged"), [])
        self.assertEqual(names("--selector", "role=db,env=prod", "--status", "converged"), ["db-1"])
        bad = self.ctl("nodes", "--status", "sideways", check=False)
        self.assertEqual(bad.returncode, 2)

        # node: the last run and what failed, with the message, in one command.
        out = self.ctl("node", "web-1").stdout
        self.assertRegex(out, r"last run\s+.* catalog run of %s in \d+ ms: \d+ changed, 1 failed"
                         % rev[:12])
        self.assertIn("failing resources", out)
        self.assertRegex(out, r"exec:health-check\s+.*exit 3.*probe failed")
        node = self.ctl_json("node", "web-1")
        self.assertEqual(node["last_run"]["failed"], 1)
        self.assertEqual([r["id"] for r in node["failing_resources"]], ["exec:health-check"])

        # "which hosts are failing, on what, since which commit": one command.
        failed = self.ctl_json("resources", "--status", "failed")["events"]
        self.assertTrue(failed)
        self.assertEqual({(e["node"], e["resource_id"], e["revision"]) for e in failed},
                         {("web-1", "exec:health-check", rev)})
        table = self.ctl("resources", "--status", "failed").stdout
        self.assertIn("web-1", table)
        self.assertIn("exec:health-check", table)

        # "who drifted on file X": hand-edit on db-1, the drift watch repairs it.
        path = self.root_of("db-1") + "/srv/app/motd"
        with open(path, "w") as f:
            f.write("hand edit\n")
        wait_until(lambda: self.read(path) == "managed by plumb\n", timeout=10, what="repair")
        drifted = wait_until(lambda: self.ctl_json(
            "resources", "--id", "file:/srv/app/motd", "--status", "drifted",
            "--since", "1h")["events"], timeout=15, what="drift event")
        self.assertEqual([(e["node"], e["outcome"]) for e in drifted], [("db-1", "CHANGED")])
        self.assertIn(drifted[0]["trigger"], ("DRIFT", "INTERVAL"))
        # The initial apply changed the file on both nodes too, but that was no drift.
        changed = self.ctl_json("resources", "--id", "file:/srv/app/motd", "--status", "changed")
        self.assertEqual(sorted({e["node"] for e in changed["events"]}), ["db-1", "web-1"])
        globbed = self.ctl_json("resources", "--id", "file:/srv/*", "--node", "web-1")["events"]
        self.assertEqual({e["resource_id"] for e in globbed}, {"file:/srv/app/motd"})
        self.assertEqual(self.ctl_json("resources", "--node", "nobody").get("events", []), [])
        self.assertEqual(self.ctl("resources", "--status", "bogus", check=False).returncode, 2)
        self.assertEqual(self.ctl("resources", "--since", "yesterday", check=False).returncode, 2)

    def test_watch_prints_one_json_object_per_event(self):
        self.setup_repo(web="resources: []\n")
        self.start_server()
        self.assertEqual(self.metric("plumb_event_watchers"), 0)
        argv = [os.path.join(BIN, "plumbctl"), "--insecure", "--server",
                "127.0.0.1:%d" % self.port, "-o", "json", "watch"]
        watch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in watch.stdout], daemon=True).start()
        try:
            wait_until(lambda: self.metric("plumb_event_watchers") == 1, timeout=10,
                       what="watch subscribed")
            self.start_agent("web-1", labels=["role=web"])
            self.repo.write("modules/base/module.yaml", BASE.replace("managed by", "owned by"))
            rev2 = self.repo.commit("second")
            self.ctl("sync")
            events = []

            def seen(kind, **match):
                while not lines.empty():
                    events.append(json.loads(lines.get()))
                return any(e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
                           for e in events)
            wait_until(lambda: seen("EVENT_NODE_CONNECTED", node="web-1"), timeout=15,
                       what="node_connected")
            wait_until(lambda: seen("EVENT_REVISION_FETCHED", revision=rev2), timeout=15,
                       what="revision_fetched")
            wait_until(lambda: seen("EVENT_REVISION_COMPILED", revision=rev2), timeout=15,
                       what="revision_compiled")
            wait_until(lambda: seen("EVENT_RUN_FINISHED", node="web-1", revision=rev2),
                       timeout=20, what="run_finished for rev2")
            finished = [e for e in events if e["kind"] == "EVENT_RUN_FINISHED"
                        and e["revision"] == rev2][0]
            self.assertEqual(finished["report"]["changed"], 1)
            self.assertEqual(finished["report"]["node"], "web-1")
            seqs = [int(e["seq"]) for e in events]
            self.assertEqual(seqs, sorted(seqs))
            self.assertEqual(len(seqs), len(set(seqs)))
        finally:
            watch.kill()
            watch.wait()
            watch.stdout.close()

        # Table output: one line per event, and --count ends the watch by itself. First let the
        # server notice the killed watcher, so the count below is the new one's.
        wait_until(lambda: self.metric("plumb_event_watchers") == 0, timeout=10, what="unwatch")
        r = subprocess.Popen(argv[:-3] + ["watch", "--count", "1", "--kind", "run_requested"],
                             stdout=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: self.metric("plumb_event_watchers") == 1, timeout=10,
                       what="watch 2")
            self.ctl("run", "web-1")
            out, _ = r.communicate(timeout=30)
        finally:
            r.kill()
            r.wait()
            r.stdout.close()
        self.assertEqual(r.returncode, 0)
        self.assertRegex(out, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d run_requested node=web-1 run requested")
        self.assertEqual(len(out.splitlines()), 1)

    def test_metrics_pass_promtool_and_health_endpoints(self):
        rev = self.setup_repo()
        self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", status="NODE_FAILED")
        status, body = self.http("/metrics")
        self.assertEqual(status, 200)
        for name in ("plumb_connected_agents 1", 'plumb_nodes{status="failed"} 1',
                     'plumb_reports_received_total{outcome="failed"} 1',
                     "plumb_catalog_updates_sent_total 1", "plumb_compile_duration_seconds_count 1",
                     "plumb_apply_duration_seconds_count 1", "plumb_report_queue_lag_seconds_count 1",
                     "plumb_revision_age_seconds "):
            self.assertIn(name, body)
        self.assertIn('plumb_apply_duration_seconds_bucket{le="+Inf"} 1', body)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool missing: apt-get install prometheus")
        check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, "", "promtool lint findings")

        self.assertEqual(self.http("/healthz")[0], 200)
        self.assertEqual(self.http("/readyz"), (200, "ready\n"))
        # The repository vanishes: the next fetch fails and the server is no longer ready.
        moved = self.repo.bare + ".moved"
        os.rename(self.repo.bare, moved)
        self.assertEqual(self.ctl("sync", check=False).returncode, 1)
        status, body = self.http("/readyz")
        self.assertEqual(status, 503)
        self.assertIn("last fetch failed", body)
        self.assertEqual(self.metric("plumb_repository_fetch_ok"), 0)
        os.rename(moved, self.repo.bare)
        self.ctl("sync")
        self.assertEqual(self.http("/readyz")[0], 200)
        self.assertGreater(self.metric("plumb_revision_age_seconds"), 0)
        self.assertEqual(self.ctl_json("revisions")["revisions"][0]["sha"], rev)

    def test_webhook_fetches_only_with_the_right_signature(self):
        rev1 = self.setup_repo()
        # A poll of an hour: only the webhook (or plumbctl sync) makes the server fetch.
        self.start_server(poll="1h", extra=["--webhook_secret", SECRET])
        wait_until(lambda: self.ctl_json("revisions").get("revisions"), timeout=15,
                   what="first fetch")
        self.repo.write("modules/base/module.yaml", BASE.replace("managed by", "pushed by"))
        rev2 = self.repo.commit("pushed")
        body = json.dumps({"ref": "refs/heads/main", "after": rev2}).encode()
        good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        wrong = "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()

        self.assertEqual(self.http("/hooks/git", body, {"X-Hub-Signature-256": wrong})[0], 401)
        self.assertEqual(self.http("/hooks/git", body)[0], 401)
        self.assertEqual(self.http("/hooks/git", body + b" ", {"X-Hub-Signature-256": good})[0],
                         401)
        head = lambda: self.ctl_json("revisions")["revisions"][0]["sha"]
        self.assertEqual(head(), rev1)

        # A push to a branch this server does not follow fetches nothing.
        other = json.dumps({"ref": "refs/heads/feature-x", "after": rev2}).encode()
        other_sig = "sha256=" + hmac.new(SECRET.encode(), other, hashlib.sha256).hexdigest()
        status, text = self.http("/hooks/git", other, {"X-Hub-Signature-256": other_sig})
        self.assertEqual((status, text.strip()),
                         (202, "ignored: no environment follows refs/heads/feature-x"))

        status, text = self.http("/hooks/git", body, {"X-Hub-Signature-256": good,
                                                      "X-GitHub-Event": "push"})
        self.assertEqual((status, text.strip()), (202, "fetch scheduled: main"))
        wait_until(lambda: head() == rev2, timeout=15, what="webhook fetch of %s" % rev2)
        self.assertEqual(self.metric('plumb_webhook_requests_total{result="unauthorized"}'), 3)
        self.assertEqual(self.metric('plumb_webhook_requests_total{result="accepted"}'), 1)
        self.assertEqual(self.metric('plumb_webhook_requests_total{result="ignored"}'), 1)
        server_log = self.processes[0].output()
        self.assertNotIn(SECRET, server_log)
        self.assertIn("webhook rejected", server_log)


if __name__ == "__main__":
    unittest.main()
