"""End to end: rollouts are enforced (docs/rollouts.md). Ten real agents on 127.0.0.1 and a
three-wave policy with short bakes: waves go in order and respect the bake; an offline node does
not block its wave and gets the revision when it comes back after completion. A commit with a
failing resource halts after the canary, the other nine never see it, and with
`on_failure: rollback` the canary's file is back (its run reports trigger ROLLBACK). A failing
health check halts the same way. A server killed mid-rollout resumes where it was. Pins. A newer
commit supersedes a rollout; pause, resume, promote, abort; rollback --now and --to; an invalid
policy is a failed revision. Bounded: well under a minute on a loaded 2-core machine, every wait on a condition."""

import os
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase, wait_until  # noqa: E402

CANARY = "web-canary-1"
SECOND = ["web-01", "web-02", "web-03"]
REST = ["web-04", "web-05", "web-06", "web-07", "web-08", "web-09"]
ALL = [CANARY] + SECOND + REST

BASE = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [app]
"""

POLICY = """rollout:
  waves:
    - name: canary
      nodes: ["web-canary-*"]
      bake: {canary_bake}
    - name: second
      nodes: ["web-01", "web-02", "web-03"]
      bake: 2s
    - percent: 100
  max_failed: 0
  on_failure: {on_failure}
{health}"""

MODULE = """resources:
  - file: /etc/app.conf
    content: "{content}\\n"
    mode: "0644"
{extra}"""

FAILING_EXEC = """  - exec: break-the-host
    command: "echo broken >&2; exit 7"
    require: ["file:/etc/app.conf"]
"""


class RolloutTest(PlumbTestCase):

    def commit(self, content, policy=True, on_failure="rollback", health="", extra="",
               canary_bake="3s"):
        text = BASE
        if policy:
            text += POLICY.format(on_failure=on_failure, health=health, canary_bake=canary_bake)
        self.repo.write("plumb.yaml", text)
        self.repo.write("modules/app/module.yaml", MODULE.format(content=content, extra=extra))
        sha = self.repo.commit(content)
        if self.port is not None:
            self.ctl("sync", check=False)  # fetch now (exit 1 is fine: we look at the nodes)
        return sha

    def conf(self, node):
        return self.read(self.root_of(node) + "/etc/app.conf")

    def status(self):
        return self.ctl_json("rollout", "status")

    def wait_phase(self, phase, timeout=30):
        return wait_until(lambda: self.status()["phase"] == phase, timeout=timeout,
                          what="rollout %s" % phase)

    def desired(self):
        return {name: n.get("desired_revision", "") for name, n in self.nodes().items()}

    def wait_all(self, names, rev, timeout=40):
        for name in names:
            self.wait_node(name, revision=rev, timeout=timeout)

    def test_waves_halt_rollback_health_and_restart(self):
        rev1 = self.commit("v1", policy=False)
        server = self.start_server()
        for name in ALL:
            self.start_agent(name)
        self.wait_all(ALL, rev1)
        self.assertEqual(self.status()["phase"], "ROLLOUT_PHASE_UNSPECIFIED")

        # 1. Waves in order, with the bake; web-03 offline does not block the second wave.
        offline = [p for p in self.processes if p.name == "agent web-03"][0]
        offline.terminate()
        self.wait_node("web-03", status="NODE_OFFLINE")
        rev2 = self.commit("v2")
        self.wait_node(CANARY, revision=rev2)
        canary_done = time.monotonic()
        self.assertEqual(self.conf(CANARY), "v2\n")
        for name in SECOND + REST:
            self.assertEqual(self.conf(name), "v1\n", name)
        status = self.status()
        self.assertEqual(status["revision"], rev2)
        self.assertEqual(status["previous"], rev1)
        self.assertEqual(status["wave"], 0)
        self.wait_node("web-01", revision=rev2)
        self.assertGreaterEqual(time.monotonic() - canary_done, 2.0, "canary bake not respected")
        self.assertEqual(self.conf("web-09"), "v1\n")  # the last wave waits for the second
        self.wait_all(["web-01", "web-02"] + REST, rev2)
        self.wait_phase("ROLLOUT_COMPLETED")
        self.start_agent("web-03")  # back after completion: gets the revision
        self.wait_node("web-03", revision=rev2)
        table = self.ctl("rollout", "status").stdout
        self.assertIn("completed", table)

        # 2. A failing resource halts after the canary; rollback restores its file.
        rev3 = self.commit("v3", extra=FAILING_EXEC)
        status = self.wait_phase("ROLLOUT_ROLLED_BACK")
        status = self.status()
        self.assertIn(CANARY, status["halt_reason"])
        self.assertIn("exec:break-the-host", status["halt_reason"])
        self.assertEqual([f["node"] for f in status["failures"]], [CANARY])
        wait_until(lambda: self.conf(CANARY) == "v2\n", timeout=30, what="canary rolled back")
        self.wait_node(CANARY, revision=rev2)
        # The rollback run is one of the canary's latest reports (a drift or interval run may
        # come after it).
        wait_until(lambda: any(r["trigger"] == "ROLLBACK"
                               for r in self.ctl_json("reports", CANARY)["reports"][:5]),
                   timeout=20, what="the canary's rollback run reported")
        desired = self.desired()
        for name in SECOND + REST:
            self.assertEqual(self.conf(name), "v2\n", name)
            self.assertEqual(desired[name], rev2, name)
            for r in self.ctl_json("reports", name).get("reports", []):
                self.assertNotEqual(r["revision"], rev3, name)
        self.assertIn("halted:", self.ctl("rollout", "status").stdout)

        # 3. A failing health check halts (on_failure: halt keeps the canary on it).
        rev4 = self.commit("v4", on_failure="halt",
                           health="  health: {exec: \"echo unhealthy; exit 3\", timeout: 10s}\n")
        self.wait_phase("ROLLOUT_HALTED")
        status = self.status()
        self.assertIn("health check exited 3: unhealthy", status["halt_reason"])
        health_run = self.ctl_json("reports", CANARY)["reports"][0]
        self.assertEqual(health_run["revision"], rev4)
        self.assertIn("health check: exit 3: unhealthy", self.ctl("report", health_run["id"]).stdout)
        self.assertEqual(self.conf(CANARY), "v4\n")
        for name in SECOND + REST:
            self.assertEqual(self.conf(name), "v2\n", name)
        self.assertEqual(self.desired()["web-05"], rev2)
        metrics = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % self.http_port, timeout=10).read().decode()
        self.assertIn("plumb_rollouts_halted 1", metrics)

        # 4. The server killed mid-rollout resumes where it was.
        rev5 = self.commit("v5", canary_bake="4s")
        self.wait_node(CANARY, revision=rev5)
        server.kill()
        server = self.start_server()
        status = self.status()
        self.assertEqual(status["revision"], rev5)
        self.assertIn(status["phase"], ("ROLLOUT_PROGRESSING", "ROLLOUT_COMPLETED"))
        self.wait_all(ALL, rev5, timeout=60)
        self.wait_phase("ROLLOUT_COMPLETED")
        for name in ALL:
            self.assertEqual(self.conf(name), "v5\n", name)

        # 5. A pinned node stays on its revision (loaded from the mirror) until unpinned.
        self.assertIn("web-09 pinned to", self.ctl("pin", "web-09", "--to", rev2[:10]).stdout)
        wait_until(lambda: self.conf("web-09") == "v2\n", timeout=30, what="web-09 pinned")
        self.assertEqual(self.nodes()["web-09"]["pinned_revision"], rev2)
        self.assertIn("(pinned)", self.ctl("nodes").stdout)
        self.ctl("unpin", "web-09")
        wait_until(lambda: self.conf("web-09") == "v5\n", timeout=30, what="web-09 unpinned")

    def test_supersede_operator_actions_and_invalid_policy(self):
        few = [CANARY, "web-01", "web-02", "web-04"]
        rev1 = self.commit("v1", policy=False)
        self.start_server()
        for name in few:
            self.start_agent(name)
        self.wait_all(few, rev1)

        # A newer commit supersedes: the canary goes on to it, nobody else ever gets the first.
        rev2 = self.commit("v2", canary_bake="60s")
        self.wait_node(CANARY, revision=rev2)
        rev3 = self.commit("v3", canary_bake="60s")
        self.wait_node(CANARY, revision=rev3)
        status = self.status()
        self.assertEqual((status["revision"], status["previous"], status["wave"]), (rev3, rev1, 0))

        # pause / resume / promote / abort.
        self.assertIn("paused", self.ctl("rollout", "pause").stdout)
        self.assertEqual(self.status()["phase"], "ROLLOUT_PAUSED")
        self.assertNotEqual(self.ctl("rollout", "pause", check=False).returncode, 0)
        self.ctl("rollout", "resume")
        self.assertEqual(self.status()["phase"], "ROLLOUT_PROGRESSING")
        self.ctl("rollout", "promote")  # the second wave now, without the 60s bake
        self.wait_node("web-01", revision=rev3)
        self.wait_node("web-02", revision=rev3)
        self.ctl("rollout", "abort")
        self.assertEqual(self.status()["phase"], "ROLLOUT_ABORTED")
        self.ctl("rollout", "status")
        self.assertEqual(self.conf("web-04"), "v1\n")
        self.assertEqual(self.desired()["web-04"], rev1)
        for name in few[1:]:  # only the canary ever had the superseded revision
            for r in self.ctl_json("reports", name).get("reports", []):
                self.assertNotEqual(r["revision"], rev2, name)

        # rollback --now: every node back on the previous good revision at once; rollback --to
        # through the policy: the canary first.
        self.assertIn("every node at once", self.ctl("rollback", "--now").stdout)
        for name in few:
            wait_until(lambda: self.conf(name) == "v1\n", timeout=30, what="%s rolled back" % name)
        # The runs that moved them back report trigger ROLLBACK, as an automatic rollback's do
        # (web-04 never left rev1: it has nothing to run).
        for name in few[:3]:
            wait_until(lambda: any(r["trigger"] == "ROLLBACK" and r["revision"] == rev1
                                   for r in self.ctl_json("reports", name)["reports"][:5]),
                       timeout=20, what="%s's operator rollback run reported" % name)
        self.assertEqual(self.status()["revision"], rev1)
        self.ctl("rollback", "--to", rev3[:10])
        wait_until(lambda: self.conf(CANARY) == "v3\n", timeout=30, what="canary on rev3 again")
        status = self.status()
        self.assertEqual((status["revision"], status["wave"]), (rev3, 0))
        self.assertEqual(self.conf("web-01"), "v1\n")

        # An invalid policy is a failed revision with file:line, never served.
        self.repo.write("plumb.yaml", BASE + "rollout:\n  waves: []\n")
        bad = self.repo.commit("bad policy")
        self.assertNotEqual(self.ctl("sync", check=False).returncode, 0)
        rev = self.ctl_json("revision", bad)
        self.assertEqual(rev["status"], "REVISION_FAILED")
        self.assertTrue(rev["errors"][0]["location"].startswith("plumb.yaml:"), rev["errors"])
        self.assertEqual(self.status()["revision"], rev3)
        self.assertEqual(self.conf("web-04"), "v1\n")


if __name__ == "__main__":
    unittest.main()
