"""End to end: a commit in a real bare git repository reaches two real agents over gRPC on
127.0.0.1, is applied under their sandbox roots, reported, and visible through plumbctl."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
vars:
  greeting: hello
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
    vars: {port: 8080}
"""

BASE = """vars:
  greeting: module-default
resources:
  - directory: /etc/demo
    mode: "0755"
  - file: /etc/demo/motd
    template: motd.mustache
    mode: "0640"
    require: [directory:/etc/demo]
"""

WEB = """resources:
  - file: /etc/demo/web.conf
    content: "listen 80\\n"
    mode: "0600"
"""


class WalkingSkeletonTest(PlumbTestCase):

    def write_repo(self, greeting="hello", web_content="listen 80\\n"):
        self.repo.write("plumb.yaml", PLUMB_YAML.replace("greeting: hello", "greeting: " + greeting))
        self.repo.write("modules/base/module.yaml", BASE)
        self.repo.write("modules/base/templates/motd.mustache",
                        "{{vars.greeting}} from {{node.name}} role={{labels.role}}\n")
        self.repo.write("modules/web/module.yaml", WEB.replace("listen 80\\n", web_content))

    def test_commit_reaches_both_agents_and_plumbctl_shows_them_converged(self):
        self.write_repo()
        rev1 = self.repo.commit("first")
        self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.start_agent("db-1", labels=["role=db"])

        self.wait_node("web-1", revision=rev1)
        self.wait_node("db-1", revision=rev1)
        web_root, db_root = self.root_of("web-1"), self.root_of("db-1")
        self.assertEqual(self.read(web_root + "/etc/demo/motd"), "hello from web-1 role=web\n")
        self.assertEqual(self.read(db_root + "/etc/demo/motd"), "hello from db-1 role=db\n")
        self.assertEqual(self.mode(web_root + "/etc/demo/motd"), "0o640")
        self.assertEqual(self.mode(web_root + "/etc/demo"), "0o755")
        # The label-targeted module lands only on the matching node.
        self.assertEqual(self.read(web_root + "/etc/demo/web.conf"), "listen 80\n")
        self.assertEqual(self.mode(web_root + "/etc/demo/web.conf"), "0o600")
        self.assertFalse(os.path.exists(db_root + "/etc/demo/web.conf"))

        # A second commit reaches both agents without restarting anything.
        self.write_repo(greeting="howdy", web_content="listen 8080\\n")
        rev2 = self.repo.commit("second")
        self.wait_node("web-1", revision=rev2)
        self.wait_node("db-1", revision=rev2)
        self.assertEqual(self.read(web_root + "/etc/demo/motd"), "howdy from web-1 role=web\n")
        self.assertEqual(self.read(db_root + "/etc/demo/motd"), "howdy from db-1 role=db\n")
        self.assertEqual(self.read(web_root + "/etc/demo/web.conf"), "listen 8080\n")

        nodes = self.nodes()
        for name in ("web-1", "db-1"):
            self.assertEqual(nodes[name]["status"], "NODE_CONVERGED")
            self.assertEqual(nodes[name]["applied_revision"], rev2)
            self.assertEqual(nodes[name]["desired_revision"], rev2)
            self.assertTrue(nodes[name]["connected"])

        # Reports are stored and listed newest first; the table view is readable.
        reports = self.ctl_json("reports", "web-1")["reports"]
        self.assertGreaterEqual(len(reports), 2)
        self.assertEqual(reports[0]["revision"], rev2)
        table = self.ctl("nodes").stdout
        self.assertRegex(table, r"web-1\s+converged\s+" + rev2[:12])
        revisions = self.ctl_json("revisions")["revisions"]
        self.assertEqual([r["sha"] for r in revisions][:2], [rev2, rev1])
        self.assertTrue(revisions[0]["serving"])

    def test_agent_once_applies_and_exits_zero(self):
        self.write_repo()
        rev = self.repo.commit("first")
        self.start_server()
        import subprocess
        r = subprocess.run(self.agent_argv("once-1", labels=["role=web"], extra=["--once"]),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read(self.root_of("once-1") + "/etc/demo/web.conf"), "listen 80\n")
        node = self.ctl_json("node", "once-1")
        self.assertEqual(node["applied_revision"], rev)

    def test_agent_reconnects_after_server_restart(self):
        self.write_repo()
        rev1 = self.repo.commit("first")
        server = self.start_server()
        self.start_agent("web-1", labels=["role=web"])
        self.wait_node("web-1", revision=rev1)
        server.kill()
        self.write_repo(greeting="after-restart")
        rev2 = self.repo.commit("second")
        self.start_server()
        self.wait_node("web-1", revision=rev2, timeout=60)
        self.assertEqual(self.read(self.root_of("web-1") + "/etc/demo/motd"),
                         "after-restart from web-1 role=web\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
