"""End to end: branch environments (server.yaml `environments:`, docs/configuration.md). A real
server follows two branches of a real git repository, staging for nodes labelled env=staging
and main for everyone else, with real agents on 127.0.0.1. A commit on staging reaches only the
staging agent; main reaches the rest; a staging commit whose plumb.yaml targets the prod hosts
by name still reaches only staging nodes; a failing staging commit leaves main alone;
`plumbctl revisions --env staging`, `plumbctl revisions` (ENV column), `plumbctl nodes` and
`plumbctl node` show the environment; a node whose labels change moves to the other line.
Bounded: about 20 s on a loaded 2-core machine, every wait on a condition."""

import hashlib
import hmac
import json
import os
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [app]
"""

CLAIM_PROD = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [app]
  - name: prod-hosts
    nodes: ["prod-1", "prod-2"]
    labels: {env: prod}
    modules: [claim]
"""

MODULE = """resources:
  - file: /etc/app.conf
    content: "{content}\\n"
    mode: "0644"
"""

CLAIM = """resources:
  - file: /etc/claimed.conf
    content: "staging claims prod\\n"
    mode: "0644"
"""

ENVIRONMENTS = """environments:
  - {branch: staging, labels: {env: staging}}
  - {branch: main}
"""


class EnvironmentsTest(PlumbTestCase):

    def commit_on(self, branch, content, plumb_yaml=PLUMB_YAML, claim=False):
        git = self.repo.git
        git("checkout", "-q", "-B", branch, cwd=self.repo.work)
        self.repo.write("plumb.yaml", plumb_yaml)
        self.repo.write("modules/app/module.yaml", MODULE.format(content=content))
        if claim:
            self.repo.write("modules/claim/module.yaml", CLAIM)
        git("add", "-A", cwd=self.repo.work)
        git("commit", "-q", "--allow-empty", "-m", "%s: %s" % (branch, content), cwd=self.repo.work)
        git("push", "-q", "-f", "origin", "HEAD:" + branch, cwd=self.repo.work)
        sha = git("rev-parse", "HEAD", cwd=self.repo.work)
        if self.port is not None:
            self.ctl("sync", check=False)
        return sha

    def conf(self, node, name="app.conf"):
        return self.read(self.root_of(node) + "/etc/" + name)

    def test_each_branch_reaches_only_its_environment(self):
        main1 = self.commit_on("main", "main-1")
        self.repo.git("push", "-q", "origin", "HEAD:staging", cwd=self.repo.work)
        config = os.path.join(self.tmp, "environments.yaml")
        with open(config, "w") as f:
            f.write(ENVIRONMENTS)
        self.start_server(extra=["--config", config])
        self.start_agent("stage-1", labels=["env=staging"])
        self.start_agent("prod-1", labels=["env=prod"])
        self.start_agent("prod-2", labels=["env=prod"])
        for node in ("stage-1", "prod-1", "prod-2"):
            self.wait_node(node, revision=main1)
            self.assertEqual(self.conf(node), "main-1\n")

        # A staging commit reaches the staging node only.
        staging2 = self.commit_on("staging", "staging-2")
        self.wait_node("stage-1", revision=staging2)
        self.assertEqual(self.conf("stage-1"), "staging-2\n")
        for node in ("prod-1", "prod-2"):
            n = self.nodes()[node]
            self.assertEqual(n["applied_revision"], main1)
            self.assertEqual(n["desired_revision"], main1)
            self.assertEqual(self.conf(node), "main-1\n")

        # A staging branch naming the prod hosts in its targets cannot claim them.
        claim = self.commit_on("staging", "staging-3", plumb_yaml=CLAIM_PROD, claim=True)
        self.wait_node("stage-1", revision=claim)
        self.assertEqual(self.conf("stage-1"), "staging-3\n")
        for node in ("prod-1", "prod-2"):
            self.assertEqual(self.nodes()[node]["desired_revision"], main1)
            self.assertFalse(os.path.exists(self.root_of(node) + "/etc/claimed.conf"))

        # A failing staging commit is recorded in staging's line; main is untouched.
        broken = self.commit_on("staging", "staging-4", plumb_yaml="version: 1\ntargets: [\n")
        staging_revs = self.ctl_json("revisions", "--env", "staging")["revisions"]
        self.assertEqual(staging_revs[0]["sha"], broken)
        self.assertEqual(staging_revs[0]["status"], "REVISION_FAILED")

        # Main reaches the rest, not the staging node.
        main5 = self.commit_on("main", "main-5")
        for node in ("prod-1", "prod-2"):
            self.wait_node(node, revision=main5)
            self.assertEqual(self.conf(node), "main-5\n")
        self.assertEqual(self.nodes()["stage-1"]["applied_revision"], claim)
        self.assertEqual(self.conf("stage-1"), "staging-3\n")

        # The lines as plumbctl shows them.
        staging_revs = self.ctl_json("revisions", "--env", "staging")["revisions"]
        self.assertEqual({r["environment"] for r in staging_revs}, {"staging"})
        self.assertEqual([r["sha"] for r in staging_revs if r.get("serving")], [claim])
        main_revs = self.ctl_json("revisions", "--env", "main")["revisions"]
        self.assertEqual([r["sha"] for r in main_revs if r.get("serving")], [main5])
        table = self.ctl("revisions").stdout
        self.assertIn("ENV", table.splitlines()[0])
        self.assertIn("staging", table)
        nodes = self.ctl("nodes").stdout.splitlines()
        self.assertIn("ENV", nodes[0])
        row = {line.split()[0]: line for line in nodes[1:]}
        self.assertIn(" staging ", row["stage-1"])
        self.assertIn(" main ", row["prod-1"])
        self.assertIn("environment", self.ctl("node", "stage-1").stdout)
        self.assertEqual(self.nodes()["prod-2"]["environment"], "main")

        # A plan without --from compares each node with its own line's serving revision:
        # main's head changes nothing on main's nodes, and staging's node would get main's file.
        r = self.ctl("-o", "json", "plan", "--to", "main", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        plan = json.loads(r.stdout)
        self.assertEqual(plan["environment_serving"], {"main": main5, "staging": claim})
        self.assertEqual([g["nodes"] for g in plan["groups"]], [["stage-1"]])
        self.assertIn("file:/etc/app.conf", json.dumps(plan["groups"][0]))
        self.assertEqual(sorted(plan["unchanged"]), ["prod-1", "prod-2"])
        self.assertIn("each environment's serving revision",
                      self.ctl("plan", "--to", "main", check=False).stdout)

        # A staging node can be pinned to an earlier revision of its own line.
        self.ctl("pin", "stage-1", "--to", staging2)
        self.wait_node("stage-1", revision=staging2)
        self.assertEqual(self.conf("stage-1"), "staging-2\n")
        self.ctl("unpin", "stage-1")
        self.wait_node("stage-1", revision=claim)

        # prod-2's labels change: it follows staging's line now.
        for p in self.processes:
            if p.name == "agent prod-2":
                p.kill()
        self.start_agent("prod-2", labels=["env=staging"])
        self.wait_node("prod-2", revision=claim)
        self.assertEqual(self.conf("prod-2"), "staging-3\n")
        self.assertEqual(self.nodes()["prod-2"]["environment"], "staging")

        # Rollback in one line: staging goes back to staging-2; main keeps main-5.
        r = self.ctl("rollback", "--env", "staging", "--to", staging2, "--now")
        self.assertIn("rolling back to", r.stdout)
        for node in ("stage-1", "prod-2"):
            self.wait_node(node, revision=staging2)
            self.assertEqual(self.conf(node), "staging-2\n")
        self.assertEqual(self.nodes()["prod-1"]["desired_revision"], main5)
        self.assertEqual(self.conf("prod-1"), "main-5\n")
        r = self.ctl("rollback", "--env", "nosuch", "--to", staging2, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no environment nosuch", r.stderr)

    def test_no_default_leaves_unmatched_nodes_without_a_catalog(self):
        main1 = self.commit_on("main", "main-1")
        self.repo.git("push", "-q", "origin", "HEAD:staging", cwd=self.repo.work)
        config = os.path.join(self.tmp, "environments.yaml")
        with open(config, "w") as f:
            f.write("environments:\n  - {branch: staging, labels: {env: staging}}\n")
        self.start_server(extra=["--config", config])
        self.start_agent("stage-1", labels=["env=staging"])
        self.start_agent("other-1", labels=["env=prod"])
        self.wait_node("stage-1", revision=main1)

        def unmatched():
            n = self.nodes().get("other-1")
            return n is not None and n.get("environment") == "-" and "no entry" in n.get(
                "last_error", "")
        wait_until(unmatched, what="other-1 shown without an environment")
        self.assertFalse(os.path.exists(self.root_of("other-1") + "/etc/app.conf"))
        self.assertEqual(self.nodes()["other-1"].get("desired_revision", ""), "")

    def test_a_push_to_an_environments_branch_fetches_that_line(self):
        main1 = self.commit_on("main", "main-1")
        self.repo.git("push", "-q", "origin", "HEAD:staging", cwd=self.repo.work)
        config = os.path.join(self.tmp, "environments.yaml")
        with open(config, "w") as f:
            f.write(ENVIRONMENTS)
        secret = "env-webhook-secret"
        # A poll of an hour: only the webhook makes the server fetch again.
        self.start_server(poll="1h", extra=["--config", config, "--webhook_secret", secret])
        serving = lambda env: [r["sha"] for r in self.ctl_json("revisions", "--env", env).get(
            "revisions", []) if r.get("serving")]
        wait_until(lambda: serving("staging") == [main1] and serving("main") == [main1],
                   what="first fetch of both branches")
        port, self.port = self.port, None  # commit without `plumbctl sync`
        staging2 = self.commit_on("staging", "staging-2")
        self.port = port
        body = json.dumps({"ref": "refs/heads/staging", "after": staging2}).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request("http://127.0.0.1:%d/hooks/git" % self.http_port, data=body,
                                     headers={"X-Hub-Signature-256": signature}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 202)
        wait_until(lambda: serving("staging") == [staging2], what="webhook fetch of staging")
        self.assertEqual(serving("main"), [main1])


if __name__ == "__main__":
    unittest.main()
