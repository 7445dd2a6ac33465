"""End to end: containment of bad inputs. A revision that fails only because of one node's
inputs (a label its template reads is missing) fails that node alone: it keeps its last good
catalog and shows failed, everyone else gets the revision. A billion-laughs commit is a failed
revision with file:line:col and the server keeps serving the last good one. `plumbctl node
forget` removes a node."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [app]
"""

MODULE = """resources:
  - file: /etc/app.conf
    template: app.conf.mustache
    mode: "0644"
"""


class NodeFailureTest(PlumbTestCase):

    def commit_template(self, text, message):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/app/module.yaml", MODULE)
        self.repo.write("modules/app/templates/app.conf.mustache", text)
        return self.repo.commit(message)

    def revision(self, sha):
        wait_until(lambda: any(r["sha"] == sha for r in self.ctl_json("revisions")["revisions"]),
                   timeout=20, what="revision %s recorded" % sha[:12])
        return self.ctl_json("revision", sha)

    def test_a_node_fails_alone_and_keeps_its_last_good_catalog(self):
        rev1 = self.commit_template("plain\n", "good")
        self.start_server()
        self.start_agent("with-dc", labels=["dc=ams"])
        self.start_agent("without-dc")
        self.wait_node("with-dc", revision=rev1)
        self.wait_node("without-dc", revision=rev1)
        conf_with = self.root_of("with-dc") + "/etc/app.conf"
        conf_without = self.root_of("without-dc") + "/etc/app.conf"
        self.assertEqual(self.read(conf_without), "plain\n")

        # Only with-dc has the label the template now reads.
        rev2 = self.commit_template("dc={{labels.dc}}\n", "reads labels.dc")
        self.wait_node("with-dc", revision=rev2)
        self.assertEqual(self.read(conf_with), "dc=ams\n")
        self.wait_node("without-dc", status="NODE_FAILED", revision=rev1)
        self.assertEqual(self.read(conf_without), "plain\n")
        node = self.ctl_json("node", "without-dc")
        self.assertIn("labels.dc", node["last_error"])
        self.assertIn(rev2[:12], node["last_error"])
        self.assertIn("labels.dc", self.ctl("node", "without-dc").stdout)
        rev = self.revision(rev2)
        self.assertTrue(rev["serving"])
        self.assertEqual(rev["status"], "REVISION_OK")
        failures = rev.get("node_failures", [])
        self.assertEqual([f["node"] for f in failures], ["without-dc"], rev)
        self.assertEqual(failures[0]["errors"][0]["location"],
                         "modules/app/templates/app.conf.mustache:1:4")
        table = self.ctl("revision", rev2).stdout
        self.assertIn("1 node(s) failed", table)
        self.assertIn("without-dc: modules/app/templates/app.conf.mustache:1:4", table)

        # A commit that compiles for both reaches both.
        rev3 = self.commit_template("v3 dc={{#labels.dc}}{{labels.dc}}{{/labels.dc}}\n",
                                    "optional")
        self.wait_node("with-dc", revision=rev3)
        self.wait_node("without-dc", revision=rev3)
        self.assertEqual(self.read(conf_without), "v3 dc=\n")
        self.assertEqual(self.read(conf_with), "v3 dc=ams\n")
        self.assertEqual(self.ctl_json("node", "without-dc")["last_error"], "")

    def test_billion_laughs_is_a_failed_revision_and_the_last_good_one_stays(self):
        rev1 = self.commit_template("plain\n", "good")
        server = self.start_server()
        self.start_agent("n1")
        self.wait_node("n1", revision=rev1)
        bomb = "version: 1\nvars:\n  l0: &l0 \"lol lol lol lol lol lol lol lol lol lol lol lol\"\n"
        for i in range(1, 10):
            bomb += "  l%d: &l%d [%s]\n" % (i, i, ",".join(["*l%d" % (i - 1)] * 10))
        bomb += "targets:\n  - {name: all, nodes: \"*\", modules: [app]}\n"
        self.repo.write("plumb.yaml", bomb)
        bad = self.repo.commit("billion laughs")
        rev = self.revision(bad)
        self.assertEqual(rev["status"], "REVISION_FAILED")
        self.assertFalse(rev.get("serving", False))
        self.assertRegex(rev["errors"][0]["location"], r"^plumb\.yaml:\d+:\d+$")
        self.assertTrue(server.alive())
        serving = [r for r in self.ctl_json("revisions")["revisions"] if r.get("serving")]
        self.assertEqual([r["sha"] for r in serving], [rev1])
        self.assertEqual(self.nodes()["n1"]["applied_revision"], rev1)
        self.assertEqual(self.read(self.root_of("n1") + "/etc/app.conf"), "plain\n")

    def test_node_forget_removes_a_node(self):
        rev1 = self.commit_template("plain\n", "good")
        self.start_server()
        agent = self.start_agent("gone")
        self.start_agent("stays")
        self.wait_node("gone", revision=rev1)
        self.wait_node("stays", revision=rev1)
        agent.kill()  # the host is gone for good
        wait_until(lambda: self.nodes()["gone"]["status"] == "NODE_OFFLINE", timeout=20,
                   what="node gone offline")
        r = self.ctl("node", "forget", "gone")
        self.assertIn("forgot node gone", r.stdout)
        self.assertEqual(sorted(self.nodes()), ["stays"])
        missing = self.ctl("node", "forget", "gone", check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("gone", missing.stderr)


if __name__ == "__main__":
    unittest.main()
