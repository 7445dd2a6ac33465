"""End to end: what an operator writes in the repository and what hosts do with it. A broken
commit never reaches a host; noop touches nothing and shows diffs; prune removes only what
Plumb created; notify triggers a refreshonly exec; masterless apply; validate/render."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, PlumbTestCase, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
{prune}targets:
  - name: all
    nodes: "*"
    modules: [app]
"""

APP = """vars:
  message: hello
resources:
  - directory: /srv/app
    mode: "0755"
  - file: /srv/app/config
    template: config.mustache
    mode: "0644"
    require: [directory:/srv/app]
    notify: [exec:reload-app]
{extra}  - exec: reload-app
    command: "echo reloaded >> $PLUMB_ROOT/srv/app/reloads"
    refreshonly: true
"""


class DesiredStateTest(PlumbTestCase):

    def write(self, message="hello", extra="", prune=False):
        self.repo.write("plumb.yaml", PLUMB_YAML.format(prune="prune: true\n" if prune else ""))
        self.repo.write("modules/app/module.yaml", APP.format(extra=extra).replace(
            "message: hello", "message: " + message))
        self.repo.write("modules/app/templates/config.mustache", "message={{vars.message}}\n")

    def test_broken_commit_is_never_served_and_next_good_one_is(self):
        self.write()
        rev1 = self.repo.commit("good")
        self.start_server()
        self.start_agent("n1")
        self.wait_node("n1", revision=rev1)
        root = self.root_of("n1")
        self.assertEqual(self.read(root + "/srv/app/config"), "message=hello\n")
        self.assertEqual(self.read(root + "/srv/app/reloads"), "reloaded\n")

        # A typo in a module: the revision fails to compile and is not served.
        self.repo.write("modules/app/module.yaml",
                        APP.format(extra="").replace("mode: \"0644\"", "mode: 644")
                        .replace("message: hello", "message: broken"))
        bad = self.repo.commit("broken")
        wait_until(lambda: any(r["sha"] == bad for r in self.ctl_json("revisions")["revisions"]),
                   timeout=20, what="broken revision recorded")
        rev = self.ctl_json("revision", bad[:10])
        self.assertEqual(rev["status"], "REVISION_FAILED")
        self.assertFalse(rev["serving"])
        self.assertTrue(any(e["location"].startswith("modules/app/module.yaml:") for e in rev["errors"]),
                        rev["errors"])
        table = self.ctl("revision", bad).stdout
        self.assertIn("failed", table)
        self.assertIn("modules/app/module.yaml:", table)
        self.assertRegex(self.ctl("revisions").stdout, bad[:12] + r"\s+failed")
        self.assertEqual(self.nodes()["n1"]["applied_revision"], rev1)
        self.assertEqual(self.read(root + "/srv/app/config"), "message=hello\n")
        # plumbctl sync reports the failure with exit status 1.
        self.assertEqual(self.ctl("sync", check=False).returncode, 1)

        self.write(message="fixed")
        rev3 = self.repo.commit("fixed")
        self.wait_node("n1", revision=rev3)
        self.assertEqual(self.read(root + "/srv/app/config"), "message=fixed\n")
        # The config changed, so the refreshonly exec ran once more.
        self.assertEqual(self.read(root + "/srv/app/reloads"), "reloaded\nreloaded\n")

    def test_noop_reports_diff_and_touches_nothing(self):
        self.write()
        rev1 = self.repo.commit("good")
        self.start_server()
        r = subprocess.run(self.agent_argv("n1", extra=["--once"]), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        root = self.root_of("n1")
        self.write(message="changed")
        self.repo.commit("change")
        self.ctl("sync")
        r = subprocess.run(self.agent_argv("n1", extra=["--once", "--noop"]), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read(root + "/srv/app/config"), "message=hello\n")
        self.assertEqual(self.read(root + "/srv/app/reloads"), "reloaded\n")
        report_id = self.ctl_json("reports", "n1")["reports"][0]["id"]
        report = self.ctl_json("report", report_id)
        self.assertTrue(report["noop"])
        by_id = {x["id"]: x for x in report["results"]}
        cfg = by_id["file:/srv/app/config"]
        self.assertEqual(cfg["outcome"], "WOULD_CHANGE")
        self.assertIn("-message=hello", cfg["diff"])
        self.assertIn("+message=changed", cfg["diff"])
        self.assertEqual(by_id["exec:reload-app"]["outcome"], "WOULD_CHANGE")
        self.assertEqual(self.nodes()["n1"]["status"], "NODE_DRIFTED")
        self.assertEqual(self.nodes()["n1"]["applied_revision"], rev1)

    def test_prune_removes_only_what_plumb_created(self):
        extra = "  - file: /srv/app/extra\n    content: \"temporary\"\n    require: [directory:/srv/app]\n"
        self.write(extra=extra, prune=True)
        rev1 = self.repo.commit("with extra")
        self.start_server()
        self.start_agent("n1")
        self.wait_node("n1", revision=rev1)
        root = self.root_of("n1")
        self.assertTrue(os.path.exists(root + "/srv/app/extra"))
        with open(root + "/srv/app/not-ours", "w") as f:
            f.write("a human put this here")
        self.write(prune=True)
        rev2 = self.repo.commit("drop extra")
        self.wait_node("n1", revision=rev2)
        wait_until(lambda: not os.path.exists(root + "/srv/app/extra"), timeout=10,
                   what="extra pruned")
        self.assertTrue(os.path.exists(root + "/srv/app/not-ours"))
        self.assertTrue(os.path.exists(root + "/srv/app/config"))

    def test_without_prune_a_dropped_resource_is_left_in_place(self):
        extra = "  - file: /srv/app/extra\n    content: \"temporary\"\n    require: [directory:/srv/app]\n"
        self.write(extra=extra)
        rev1 = self.repo.commit("with extra")
        self.start_server()
        self.start_agent("n1")
        self.wait_node("n1", revision=rev1)
        self.write()
        rev2 = self.repo.commit("drop extra")
        self.wait_node("n1", revision=rev2)
        self.assertEqual(self.read(self.root_of("n1") + "/srv/app/extra"), "temporary")

    def test_masterless_apply_validate_and_render(self):
        self.write()
        checkout = self.repo.work
        root = os.path.join(self.tmp, "masterless-root")
        os.makedirs(root)
        argv = [os.path.join(BIN, "plumb-agent"), "apply", checkout, "--node", "m1", "--root", root,
                "--state_dir", os.path.join(self.tmp, "masterless-state")]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read(root + "/srv/app/config"), "message=hello\n")

        ctl = os.path.join(BIN, "plumbctl")
        r = subprocess.run([ctl, "validate", checkout, "--node", "m1"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([ctl, "-o", "json", "render", checkout, "--node", "m1"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [x["id"] for x in json.loads(r.stdout)["resources"]]
        self.assertEqual(ids, ["directory:/srv/app", "file:/srv/app/config", "exec:reload-app"])

        self.repo.write("modules/app/module.yaml", "resources:\n  - fiel: /x\n")
        r = subprocess.run([ctl, "validate", checkout], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("modules/app/module.yaml:2:5", r.stderr)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([ctl, "render", checkout], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
