"""End to end: the Sync protocol under real outages. Drift repair with inotify, offline
enforcement, kill -9 of either side without lost or duplicated reports, deltas after a server
restart, large files by digest, run-now with selector and noop."""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

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


def module(files):
    lines = ["resources:", "  - directory: /srv/app", '    mode: "0755"']
    for path, content in files:
        lines += ["  - file: " + path, '    content: "%s"' % content, '    mode: "0644"',
                  "    require: [directory:/srv/app]"]
    return "\n".join(lines) + "\n"


class SyncResilienceTest(PlumbTestCase):

    def setup_repo(self, n_files=3, web_extra=""):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml",
                        module([("/srv/app/f%d" % i, "content %d" % i) for i in range(n_files)]))
        self.repo.write("modules/web/module.yaml",
                        "resources:\n  - file: /srv/app/web.conf\n    content: \"web\"\n" + web_extra)
        return self.repo.commit("initial")

    def reports(self, node):
        return self.ctl_json("reports", node, "--limit", "500").get("reports", [])

    def upserts_logged(self, server):
        return [int(m) for m in re.findall(r"catalog update sent\W.*?upserted=(\d+)", server.output())]

    def test_hand_edit_is_repaired_by_drift_watch_and_reported_once(self):
        rev = self.setup_repo()
        self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev)
        path = self.root_of("web-1") + "/srv/app/f1"
        with open(path, "w") as f:
            f.write("hand edit")
        wait_until(lambda: self.read(path) == "content 1", timeout=5, what="drift repair")
        wait_until(lambda: any(r["trigger"] == "DRIFT" for r in self.reports("web-1")),
                   timeout=10, what="drift report")
        self.wait_node("web-1", status="NODE_DRIFTED")

        # A burst of 100 edits causes a bounded number of runs, and ends repaired.
        before = len(self.reports("web-1"))
        for i in range(100):
            with open(path, "w") as f:
                f.write("edit %d" % i)
        wait_until(lambda: self.read(path) == "content 1", timeout=10, what="repair after burst")
        time.sleep(3)  # let any trailing debounced run finish and report
        runs = len(self.reports("web-1")) - before
        self.assertGreaterEqual(runs, 1)
        self.assertLessEqual(runs, 6, "a burst of 100 edits caused %d runs" % runs)
        self.assertEqual(self.read(path), "content 1")

    def test_server_kill9_agent_repairs_offline_reports_arrive_once(self):
        rev = self.setup_repo()
        server = self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev)
        server.kill(signal.SIGKILL)
        path = self.root_of("web-1") + "/srv/app/f2"
        os.remove(path)
        wait_until(lambda: os.path.exists(path) and self.read(path) == "content 2", timeout=5,
                   what="offline repair")
        queue = os.path.join(self.tmp, "state", "web-1", "reports")
        wait_until(lambda: len(os.listdir(queue)) >= 1, timeout=5, what="queued offline report")
        queued = sorted(f[:-len(".report")] for f in os.listdir(queue) if f.endswith(".report"))

        self.start_server()
        wait_until(lambda: not any(f.endswith(".report") for f in os.listdir(queue)), timeout=30,
                   what="queue drained after reconnect")
        ids = [r["id"] for r in self.reports("web-1")]
        for report_id in queued:
            self.assertEqual(ids.count(report_id), 1, "report %s stored %d times" %
                             (report_id, ids.count(report_id)))
        self.assertEqual(len(ids), len(set(ids)))
        self.assertTrue(any(r["trigger"] == "DRIFT" for r in self.reports("web-1")))

    def test_agent_kill9_before_ack_resends_without_duplicate(self):
        rev = self.setup_repo()
        server = self.start_server()
        agent = self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev)
        # Freeze the server so the next report is written to the queue and sent, never acked.
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            path = self.root_of("web-1") + "/srv/app/f0"
            with open(path, "w") as f:
                f.write("drift")
            wait_until(lambda: self.read(path) == "content 0", timeout=5, what="repair")
            queue = os.path.join(self.tmp, "state", "web-1", "reports")
            wait_until(lambda: any(f.endswith(".report") for f in os.listdir(queue)), timeout=5,
                       what="report queued")
            agent.kill(signal.SIGKILL)
            queued = [f[:-len(".report")] for f in os.listdir(queue) if f.endswith(".report")]
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        self.assertTrue(queued)
        self.start_agent("web-1", labels=["role=web"])
        wait_until(lambda: not any(f.endswith(".report") for f in os.listdir(queue)), timeout=30,
                   what="queue drained")
        ids = [r["id"] for r in self.reports("web-1")]
        for report_id in queued:
            self.assertEqual(ids.count(report_id), 1)
        self.assertEqual(len(ids), len(set(ids)))

    def test_restart_resumes_with_delta_and_one_change_sends_one_resource(self):
        rev = self.setup_repo(n_files=1000)
        server = self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev, timeout=60)
        self.assertEqual(self.upserts_logged(server), [1002])  # dir + 1000 files + web.conf
        server.terminate()
        server2 = self.start_server()
        wait_until(lambda: self.upserts_logged(server2), timeout=30, what="update after restart")
        self.assertEqual(self.upserts_logged(server2)[0], 0)  # resumed: nothing to send
        self.repo.write("modules/base/module.yaml",
                        module([("/srv/app/f%d" % i, "changed" if i == 500 else "content %d" % i)
                                for i in range(1000)]))
        rev2 = self.repo.commit("one file")
        self.wait_node("web-1", revision=rev2, timeout=30)
        self.assertEqual(self.upserts_logged(server2)[-1], 1)
        self.assertEqual(self.read(self.root_of("web-1") + "/srv/app/f500"), "changed")

    def test_fifty_mib_file_travels_by_digest(self):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        big = os.path.join(self.repo.work, "modules/base/files/big.bin")
        os.makedirs(os.path.dirname(big), exist_ok=True)
        with open(big, "wb") as f:
            for i in range(50):
                f.write(bytes([i % 251]) * (1 << 20))
        self.repo.write("modules/base/module.yaml",
                        "resources:\n  - file: /srv/big.bin\n    source: big.bin\n")
        self.repo.write("modules/web/module.yaml", "resources: []\n")
        rev = self.repo.commit("big file")
        self.start_server()
        self.start_agent("web-1")
        self.wait_node("web-1", revision=rev, timeout=120)
        target = self.root_of("web-1") + "/srv/big.bin"
        self.assertEqual(os.path.getsize(target), 50 << 20)
        with open(big, "rb") as a, open(target, "rb") as b:
            self.assertTrue(a.read() == b.read())

    def test_run_now_with_selector_and_noop(self):
        rev = self.setup_repo()
        self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.start_agent("db-1", labels=["role=db"])
        self.wait_node("web-1", revision=rev)
        self.wait_node("db-1", revision=rev)
        with open(self.root_of("web-1") + "/srv/app/web.conf", "w") as f:
            f.write("x")
        # Noop run on web nodes only: reports the drift, changes nothing... unless the drift
        # watch repaired it first, which it does within a second: so edit after stopping it.
        r = self.ctl("-o", "json", "run", "--selector", "role=web", "--noop", check=False)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        import json
        results = json.loads(r.stdout)["results"]
        self.assertEqual([x["node"] for x in results], ["web-1"])
        self.assertTrue(results[0]["reported"])
        self.assertTrue(results[0]["report"]["noop"])
        # Run by name on every node, for real.
        r = self.ctl("run", "web-1", "db-1")
        self.assertRegex(r.stdout, r"web-1\s+(changed|unchanged)")
        self.assertRegex(r.stdout, r"db-1\s+unchanged")
        # A node that is not connected is reported, with exit status 1.
        r = self.ctl("run", "ghost-1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not connected", r.stdout)

    def test_killed_agent_shows_offline(self):
        rev = self.setup_repo()
        self.start_server()
        agent = self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev)
        agent.kill(signal.SIGKILL)
        self.wait_node("web-1", status="NODE_OFFLINE", timeout=30)
        self.assertRegex(self.ctl("nodes").stdout, r"web-1\s+offline")

    def test_restarted_agent_gets_its_last_run_status_back(self):
        rev = self.setup_repo()
        self.start_server()
        agent = self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev)
        agent.kill(signal.SIGKILL)
        self.wait_node("web-1", status="NODE_OFFLINE")
        self.start_agent("web-1", labels=["role=web"])
        # Same catalog, nothing to run: the node is converged again, not "unknown".
        self.wait_node("web-1", status="NODE_CONVERGED", revision=rev)
        self.assertTrue(self.nodes()["web-1"]["connected"])

    def test_second_server_on_a_taken_port_fails_to_start(self):
        self.setup_repo()
        self.start_server()
        argv = [os.path.join(BIN, "plumb-server"), "--insecure", "--listen", "127.0.0.1:%d" % self.port, "--http_listen", "127.0.0.1:0",
            "--repo.url", self.repo.bare, "--state_dir", os.path.join(self.tmp, "server2")]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("127.0.0.1:%d" % self.port, r.stderr + r.stdout)

    def test_sigterm_stops_both_daemons_cleanly(self):
        rev = self.setup_repo()
        server = self.start_server()
        agent = self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev)
        self.assertEqual(agent.terminate(), 0)
        self.assertEqual(server.terminate(), 0)
        self.assertIn("stopped", agent.output())
        self.assertIn("stopped", server.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
