"""End to end: `plumbctl plan --noop-sample N` asks connected agents of each change
group to run the planned catalog in noop mode. A file edited by hand on one host shows up in
that host's sample although the plan's diff does not predict it; a sensitive file's content
never shows; and the plan changes nothing anywhere: no file touched, no report stored, no
node's status or last report changed, the agents still hold their own catalogs (with TLS, so
the candidate's blobs go through GetBlob's per-node check). An agent that does not know the
message shows as "no answer" after --noop-timeout (PlanNoopOldAgentTest)."""

import hashlib
import importlib
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase, wait_until  # noqa: E402
from python_client_test import generate_stubs  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
"""

BASE = """resources:
  - file: /etc/motd
    content: "managed by plumb\\n"
  - file: /etc/secret
    content: "password={password}\\n"
    mode: "0600"
    sensitive: true
"""

WEB = """resources:
  - file: /etc/web.conf
    template: web.conf.mustache
"""


class PlanNoopTest(PlumbTestCase):
    tls = True

    def write(self, workers="2", password="hunter2"):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE.format(password=password))
        self.repo.write("modules/web/module.yaml", WEB)
        self.repo.write("modules/web/templates/web.conf.mustache", "workers %s\n" % workers)

    def branch(self, name, **changes):
        git = self.repo.git
        git("checkout", "-q", "-b", name, cwd=self.repo.work)
        self.write(**changes)
        git("add", "-A", cwd=self.repo.work)
        git("commit", "-q", "-m", "branch " + name, cwd=self.repo.work)
        git("push", "-q", "origin", name, cwd=self.repo.work)
        git("checkout", "-q", "main", cwd=self.repo.work)

    def snapshot(self):
        files = {}
        for node in ("w1", "w2", "d1"):
            # The host's files and the agent's state (but its blob cache, where the planned
            # catalog's contents may land: the next catalog update drops them).
            for base in self.agent_dirs(node):
                for dirpath, _, names in os.walk(base):
                    if os.path.basename(dirpath) == "blobs" or "/blobs/" in dirpath:
                        continue
                    for name in names:
                        path = os.path.join(dirpath, name)
                        with open(path, "rb") as f:
                            files[path] = (f.read(), os.stat(path).st_mtime_ns)
        return files

    def fleet(self):
        keep = ("status", "last_report_id", "applied_revision", "desired_revision", "last_error")
        return {name: {k: n.get(k) for k in keep} for name, n in self.nodes().items()}

    def reports(self):
        return {n: self.ctl_json("reports", n).get("reports", []) for n in ("w1", "w2", "d1")}

    def test_noop_sample_shows_real_host_state_and_changes_nothing(self):
        self.write()
        rev1 = self.repo.commit("first")
        self.start_server()
        for node, role in (("w1", "web"), ("w2", "web"), ("d1", "db")):
            r = self.enroll(node, self.create_token("--label", "role=" + role))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.start_agent(node)
        for node in ("w1", "w2", "d1"):
            self.wait_node(node, revision=rev1)

        # Someone edits w2's motd by hand while its agent is down: the agent, back, has not
        # repaired it yet (no catalog change, the next interval is an hour away).
        w2 = [p for p in self.processes if p.name == "agent w2"][0]
        w2.terminate()
        wait_until(lambda: not self.nodes()["w2"].get("connected"), what="w2 offline")
        motd = self.root_of("w2") + "/etc/motd"
        with open(motd, "w") as f:
            f.write("edited by hand\n")
        self.start_agent("w2")
        wait_until(lambda: self.nodes()["w2"].get("connected")
                   and self.nodes()["w2"]["status"] == "NODE_CONVERGED", what="w2 back")

        self.branch("feature", workers="4", password="correct-horse")
        before_files, before_fleet = self.snapshot(), self.fleet()
        before_reports = self.reports()

        r = self.ctl("plan", "--to", "feature", "--noop-sample", "5", "--noop-timeout", "60s",
                     check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        out = r.stdout
        # The web group: both sampled, each would change web.conf and the secret; only w2
        # reports motd, which the plan's diff does not predict.
        self.assertIn("2 nodes: file:/etc/secret content, file:/etc/web.conf content\n"
                      "  w1, w2\n", out)
        self.assertIn("  noop sample:\n", out)
        self.assertIn("    w1: 2 would change or fail, 1 unchanged\n", out)
        self.assertIn("    w2: 3 would change or fail, 0 unchanged\n", out)
        self.assertIn("      file:/etc/motd: would change (not in the plan: the host differs)",
                      out)
        self.assertIn("-edited by hand\n", out)
        self.assertIn("+managed by plumb\n", out)
        self.assertIn("+workers 4\n", out)
        # d1's group (the secret only) is sampled too.
        self.assertIn("1 node: file:/etc/secret content\n  d1\n", out)
        self.assertIn("    d1: 1 would change or fail, 1 unchanged\n", out)
        for secret in ("hunter2", "correct-horse"):
            self.assertNotIn(secret, out)

        r = self.ctl("-o", "json", "plan", "--to", "feature", "--noop-sample", "1",
                     check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        plan = json.loads(r.stdout)
        web = [g for g in plan["groups"] if g["nodes"] == ["w1", "w2"]][0]
        self.assertEqual([s["node"] for s in web["noop_samples"]], ["w1"])  # N=1 per group
        sample = web["noop_samples"][0]
        self.assertTrue(sample["answered"])
        by_id = {res["id"]: res for res in sample["results"]}
        self.assertEqual(by_id["file:/etc/web.conf"]["outcome"], "WOULD_CHANGE")
        self.assertEqual(by_id["file:/etc/secret"].get("diff", ""), "")  # sensitive: no diff
        self.assertNotIn("correct-horse", r.stdout)
        self.assertNotIn("hunter2", r.stdout)

        # Nothing changed: files and agent state on every host, nodes, stored reports.
        self.assertEqual(self.read(motd), "edited by hand\n")
        self.assertEqual(self.snapshot(), before_files)
        self.assertEqual(self.fleet(), before_fleet)
        self.assertEqual(self.reports(), before_reports)


class PlanNoopOldAgentTest(PlumbTestCase):
    """An agent that does not know NoopRequest (a raw Sync stream from Python stubs that only
    reads) is shown as "no answer" after --noop-timeout; its stream stays up, and it was sent
    its own catalog only."""

    def setUp(self):
        super().setUp()
        stubs = os.path.join(self.tmp, "stubs")
        generate_stubs(stubs)
        sys.path.insert(0, stubs)
        self.addCleanup(sys.path.remove, stubs)
        self.agent_pb2 = importlib.import_module("plumb.v1.agent_pb2")
        self.agent_grpc = importlib.import_module("plumb.v1.agent_pb2_grpc")

    def silent_agent(self, node, labels):
        """Opens a Sync stream as `node`, says Hello and then only reads. Returns the list the
        server's messages are appended to."""
        import grpc
        pb = self.agent_pb2
        hello = pb.Hello(node=node)
        hello.labels.update(labels)
        done = threading.Event()
        self.addCleanup(done.set)
        received = []

        def messages():
            yield pb.AgentMessage(hello=hello)
            done.wait(120)

        def read():
            channel = grpc.insecure_channel("127.0.0.1:%d" % self.port)
            try:
                for msg in self.agent_grpc.AgentServiceStub(channel).Sync(messages(), timeout=120):
                    received.append(msg)
            except grpc.RpcError:
                pass
        threading.Thread(target=read, daemon=True).start()
        return received

    def test_an_agent_that_does_not_answer_is_no_answer(self):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE.format(password="hunter2"))
        self.repo.write("modules/web/module.yaml", WEB)
        self.repo.write("modules/web/templates/web.conf.mustache", "workers {{node.name}}\n")
        rev1 = self.repo.commit("first")
        self.start_server()
        self.start_agent("w1", labels=["role=web"])
        self.wait_node("w1", revision=rev1)
        received = self.silent_agent("old-1", {"role": "web"})
        wait_until(lambda: self.nodes().get("old-1", {}).get("connected"), what="old-1 up")

        self.repo.write("modules/web/templates/web.conf.mustache", "workers 4 {{node.name}}\n")
        self.repo.git("checkout", "-q", "-b", "feature", cwd=self.repo.work)
        self.repo.git("commit", "-q", "-am", "feature", cwd=self.repo.work)
        self.repo.git("push", "-q", "origin", "feature", cwd=self.repo.work)
        r = self.ctl("plan", "--to", "feature", "--noop-sample", "5", "--noop-timeout", "2s",
                     check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("    old-1: no answer\n", r.stdout)
        self.assertIn("    w1: 1 would change or fail, 2 unchanged\n", r.stdout)
        self.assertIn("+workers 4 w1\n", r.stdout)
        # The silent agent got a NoopRequest with its own catalog only, and is still connected.
        noops = [m.noop for m in received if m.HasField("noop")]
        self.assertEqual(len(noops), 1)
        contents = [res.content_digest for res in noops[0].catalog.resources]
        self.assertEqual(len(contents), 3)
        self.assertIn(hashlib.sha256(b"workers 4 old-1\n").hexdigest(), contents)
        self.assertNotIn(hashlib.sha256(b"workers 4 w1\n").hexdigest(), contents)
        self.assertTrue(self.nodes()["old-1"].get("connected"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
