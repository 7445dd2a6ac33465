"""End to end: `plumbctl plan` shows what a branch would change on each node of a live fleet,
grouped by change, with diffs (never of sensitive content), compile errors and untouched nodes,
exits 0/2/1 for CI, and changes nothing: no revision served, no file on any host touched."""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
  - name: db
    labels: {role: db}
    modules: [db]
"""

BASE = """resources:
  - file: /etc/secret
    content: "password={password}\\n"
    mode: "0600"
    sensitive: true
"""

WEB = """vars: {{workers: 2}}
resources:
  - file: /etc/web.conf
    template: web.conf.mustache
    mode: "{mode}"
    notify: [exec:reload-web]
  - exec: reload-web
    command: "echo reloaded >> $PLUMB_ROOT/etc/web.reloads"
    refreshonly: true
"""

DB = """resources:
  - file: /etc/db.conf
    content: "port=5432\\n"
"""


class PlanTest(PlumbTestCase):

    def write(self, workers="2", password="hunter2", mode='0644'):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE.format(password=password))
        self.repo.write("modules/web/module.yaml", WEB.format(mode=mode))
        self.repo.write("modules/web/templates/web.conf.mustache",
                        "user www\nworkers %s\nlog /var/log/web\n" % workers)
        self.repo.write("modules/db/module.yaml", DB)

    def branch(self, name, **changes):
        """Commits `changes` on a new branch `name` (pushed, never followed); back to main."""
        git = self.repo.git
        git("checkout", "-q", "-b", name, cwd=self.repo.work)
        self.write(**changes)
        git("add", "-A", cwd=self.repo.work)
        git("commit", "-q", "-m", "branch " + name, cwd=self.repo.work)
        git("push", "-q", "origin", name, cwd=self.repo.work)
        sha = git("rev-parse", "HEAD", cwd=self.repo.work)
        git("checkout", "-q", "main", cwd=self.repo.work)
        return sha

    def plan(self, *args):
        return self.ctl("plan", *args, check=False)

    def snapshot(self):
        files = {}
        for node in ("w1", "d1"):
            root = self.root_of(node)
            for dirpath, _, names in os.walk(root):
                for name in names:
                    path = os.path.join(dirpath, name)
                    files[path] = (self.read(path), os.stat(path).st_mtime_ns)
        return files

    def test_plan_of_branches(self):
        self.write()
        rev1 = self.repo.commit("first")
        self.start_server()
        self.start_agent("w1", labels=["role=web"])
        self.start_agent("d1", labels=["role=db"])
        self.wait_node("w1", revision=rev1)
        self.wait_node("d1", revision=rev1)
        before = self.snapshot()
        self.assertIn("workers 2\n", self.read(self.root_of("w1") + "/etc/web.conf"))

        # The serving revision, by branch or by sha, changes nothing: exit 0.
        r = self.plan("--to", "main")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("untouched: 2 nodes: d1, w1", r.stdout)
        self.assertEqual(self.plan("--to", rev1[:12]).returncode, 0)
        # A usage error of plan is an error (1), never "changes" (2).
        r = self.plan()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")

        # A template only the web group uses: w1 changes (with the diff), d1 is untouched.
        feature = self.branch("feature/workers", workers="4")
        r = self.plan("--to", "feature/workers")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("plan of feature/workers (%s) against the serving revision %s"
                      % (feature[:12], rev1[:12]), r.stdout)
        self.assertIn("1 node: file:/etc/web.conf content, exec:reload-web refresh\n  w1\n",
                      r.stdout)
        self.assertIn("-workers 2\n", r.stdout)
        self.assertIn("+workers 4\n", r.stdout)
        self.assertIn("untouched: 1 node: d1", r.stdout)
        plan = json.loads(self.plan("-o", "json", "--to", "feature/workers").stdout)
        self.assertEqual(plan["to_revision"], feature)
        self.assertEqual(plan["serving_revision"], rev1)
        self.assertEqual([g["nodes"] for g in plan["groups"]], [["w1"]])
        self.assertEqual(plan["groups"][0]["changes"][0]["id"], "file:/etc/web.conf")
        self.assertTrue(plan["groups"][0]["changes"][0]["content"])
        self.assertEqual(plan["unchanged"], ["d1"])
        # --selector narrows the nodes; --from compares two refs.
        self.assertEqual(self.plan("--to", "feature/workers", "--selector", "role=db").returncode,
                         0)
        r = self.plan("--to", "main", "--from", "feature/workers")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("-workers 4\n", r.stdout)

        # A sensitive file's change: every node, content never shown.
        self.branch("rotate", password="correct-horse")
        r = self.plan("--to", "rotate")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("2 nodes: file:/etc/secret content\n  d1, w1\n", r.stdout)
        self.assertIn("file:/etc/secret: content changed (sensitive)", r.stdout)
        out = self.plan("-o", "json", "--to", "rotate").stdout
        for secret in ("hunter2", "correct-horse"):
            self.assertNotIn(secret, r.stdout)
            self.assertNotIn(secret, out)

        # A branch that does not compile: exit 1, naming file:line.
        self.branch("broken", mode="bad")
        r = self.plan("--to", "broken")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("against the serving revision %s" % rev1[:12], r.stdout)
        self.assertRegex(r.stdout, r"modules/web/module\.yaml:\d+:\d+: ")
        # Refs that are not plain names, or that do not exist: exit 1 with one clear line.
        r = self.plan("--to", "main~1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a branch, tag or commit id", r.stderr)
        r = self.plan("--to", "no-such-branch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no-such-branch", r.stderr)

        # Planning changed nothing: same serving revision, no planned sha recorded, nodes and
        # their files as they were.
        revisions = self.ctl_json("revisions")["revisions"]
        self.assertEqual([r["sha"] for r in revisions if r.get("serving")], [rev1])
        self.assertNotIn(feature, [r["sha"] for r in revisions])
        for name, node in self.nodes().items():
            self.assertEqual(node["desired_revision"], rev1, name)
            self.assertEqual(node["applied_revision"], rev1, name)
        self.assertEqual(self.snapshot(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
