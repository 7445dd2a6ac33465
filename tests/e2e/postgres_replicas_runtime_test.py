"""End to end: what crosses replicas at run time (issue 16). Two plumb-server replicas on one
PostgreSQL, agents on each: `plumbctl run` through replica A reaches an agent held by B and
returns its report; `plumbctl watch` on A sees B's events once; a node's `connected` follows
whichever replica holds its stream (a killed replica's nodes go offline after the heartbeat
expiry, or come back through the other replica); and reports sent while a replica holding agents
is killed mid-stream are stored exactly once; a node's status follows the replicas that hold
it: a node that moved to A reads online though B wrote its disconnect after A's connect, a
killed replica's nodes read `offline` (status, not only `connected`) through the survivor once
its heartbeat expired, and online again as soon as they reconnect to it, without a report; and
one rollout spans the replicas (the canary on
B, the next wave on A; a failure on B halts the leader A, and B serves its agents from A's
decision; `rollout pause|resume|promote|abort` and `rollback` through the follower B are
forwarded to A and take effect fleet-wide). About 70 s (four pairs of replicas; more on a
loaded machine)."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, wait_until  # noqa: E402
from postgres_store_test import PostgresCase  # noqa: E402

ROLLOUT_PLUMB = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [app]
rollout:
  waves:
    - name: canary
      nodes: ["canary-*"]
      bake: 1s
    - percent: 100
  max_failed: 0
  on_failure: halt
"""

ROLLOUT_MODULE = """resources:
  - file: /etc/app.conf
    content: "{content}\\n"
    mode: "0644"
{extra}"""

FAILING_EXEC = """  - exec: break-the-host
    command: "echo broken >&2; exit 7"
    require: ["file:/etc/app.conf"]
"""


class ReplicasAtRunTime(PostgresCase):

    def start_replica(self, name):
        """Starts a replica on its own ports and state_dir; returns (process, port)."""
        self.port = None
        self.http_port = None
        p = self.start_server(extra=["--store.url", self.url],
                              state_dir=os.path.join(self.tmp, name))
        return p, self.port

    def agent(self, node, ports, extra=()):
        """An agent listing `ports` (tried in order)."""
        self.port = ports[0]
        servers = ",".join("127.0.0.1:%d" % p for p in ports)
        return self.start_agent(node, extra=["--server", servers] + list(extra))

    def on(self, port):
        self.port = port
        return self

    def metric(self, http_port, name):
        """The value of the sample `name` (with its labels) in the replica's /metrics."""
        url = "http://127.0.0.1:%d/metrics" % http_port
        with urllib.request.urlopen(url, timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split(" ")[1])
        return None

    def watchers(self, http_port):
        return self.metric(http_port, "plumb_event_watchers")

    def watch(self, port, http_port):
        """`plumbctl watch` on the replica at `port`, once subscribed; returns a function that
        gives the events seen so far."""
        argv = [os.path.join(BIN, "plumbctl"), "--insecure", "--server", "127.0.0.1:%d" % port,
                "-o", "json", "watch"]
        w = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in w.stdout], daemon=True).start()

        def cleanup():
            w.kill()
            w.wait()
            w.stdout.close()
        self.addCleanup(cleanup)
        wait_until(lambda: self.watchers(http_port) == 1, what="watch subscribed")
        events = []

        def seen():
            while not lines.empty():
                events.append(json.loads(lines.get()))
            return events
        return seen

    def start_leader_then_follower(self, rev):
        """Starts replica-a, waits until it (the leader) records `rev`, then starts replica-b.
        Returns (a, port_a, http_a, b, port_b)."""
        a, port_a = self.start_replica("replica-a")
        wait_until(lambda: self.sql("SELECT sha FROM env_serving WHERE environment = ''") == rev,
                   what="A (the leader) records %s" % rev[:12])
        http_a = self.http_port
        b, port_b = self.start_replica("replica-b")
        return a, port_a, http_a, b, port_b

    def connected(self, port, node):
        self.port = port
        n = self.nodes().get(node)
        return bool(n and n.get("connected"))

    def test_run_through_a_reaches_b_and_watch_on_a_sees_b(self):
        self.write_repo("one")
        rev = self.repo.commit("first")
        a, port_a, http_a, b, port_b = self.start_leader_then_follower(rev)
        events_a = self.watch(port_a, http_a)
        self.agent("web-1", [port_a])
        self.agent("web-2", [port_b])
        self.on(port_a).wait_node("web-1", revision=rev)
        self.on(port_a).wait_node("web-2", revision=rev)
        # B's connect reached A's watchers (through the database).
        wait_until(lambda: any(e["kind"] == "EVENT_NODE_CONNECTED" and e.get("node") == "web-2"
                               for e in events_a()), what="A's watch sees web-2 connect on B")
        wait_until(lambda: self.connected(port_a, "web-2"), what="web-2 connected, seen from A")

        # A holds no stream of web-2: the run goes to B, and the report comes back to A's caller.
        self.port = port_a
        r = self.ctl_json("run", "web-2")
        self.assertEqual(len(r["results"]), 1, r)
        result = r["results"][0]
        self.assertEqual(result["node"], "web-2")
        self.assertTrue(result.get("reported"), r)
        report_id = result["report"]["id"]
        self.assertEqual(self.sql("SELECT node FROM reports WHERE id = '%s'" % report_id), "web-2")
        # Both at once: one local, one remote.
        r = self.ctl_json("run", "web-1", "web-2")
        self.assertEqual(sorted(x["node"] for x in r["results"] if x.get("reported")),
                         ["web-1", "web-2"], r)
        # The same through B, for an agent on A; and an unknown node is "not connected".
        self.port = port_b
        r = json.loads(self.ctl("-o", "json", "run", "web-1", "nobody", check=False).stdout)
        got = {x["node"]: x for x in r["results"]}
        self.assertTrue(got["web-1"].get("reported"), r)
        self.assertEqual(got["nobody"].get("error"), "not connected")

        # A's watch saw B's events once each: the run B's agent finished, exactly once.
        finished = lambda: [e for e in events_a() if e["kind"] == "EVENT_RUN_FINISHED"
                            and e["report"]["id"] == report_id]
        wait_until(lambda: len(finished()) >= 1, what="A's watch sees web-2's run finish on B")
        requested = [e for e in events_a() if e["kind"] == "EVENT_RUN_REQUESTED"]
        self.assertEqual(len(finished()), 1)
        ids = [e["report"]["id"] for e in events_a() if e["kind"] == "EVENT_RUN_FINISHED"]
        self.assertEqual(len(ids), len(set(ids)), "an event reached A twice")
        self.assertGreaterEqual(len(requested), 3)
        seqs = [int(e["seq"]) for e in events_a()]
        self.assertEqual(len(seqs), len(set(seqs)))

    def reports_logged(self, node):
        """The ids of the reports `node`'s agent made, from its logs (all of its processes)."""
        ids = set()
        for p in self.processes:
            if p.name == "agent " + node:
                for line in p.output().splitlines():
                    if "run finished" in line:
                        m = re.search(r"\breport=(\S+)", line)
                        if m and m.group(1) != '""':
                            ids.add(m.group(1))
        return ids

    def queued(self, node):
        return os.listdir(os.path.join(self.tmp, "state", node, "reports"))

    def test_killed_replica_nodes_move_and_reports_are_stored_once(self):
        self.write_repo("one")
        rev = self.repo.commit("first")
        a, port_a, _, b, port_b = self.start_leader_then_follower(rev)
        # lone-1 knows only A; the movers list A then B and report every second.
        movers = ["web-%d" % i for i in range(1, 4)]
        self.agent("lone-1", [port_a])
        for n in movers:
            self.agent(n, [port_a, port_b], extra=["--interval", "1s"])
        self.agent("home-1", [port_b], extra=["--interval", "1s"])
        for n in movers + ["lone-1", "home-1"]:
            self.on(port_b).wait_node(n, revision=rev)
            wait_until(lambda: self.connected(port_b, n), what="%s connected" % n)
        # Reports flow through A; kill it in the middle of that.
        wait_until(lambda: all(len(self.reports_logged(n)) >= 3 for n in movers),
                   what="a few reports through A")
        a.kill(signal.SIGKILL)
        # lone-1 has nowhere to go: offline once A's heartbeat expires (10 s). The movers come
        # back through B and are connected again.
        wait_until(lambda: not self.connected(port_b, "lone-1"), timeout=40,
                   what="lone-1 offline after A's heartbeat expired")
        for n in movers:
            wait_until(lambda: self.connected(port_b, n), timeout=40, what="%s back on B" % n)
            before = len(self.reports_logged(n))
            wait_until(lambda: len(self.reports_logged(n)) >= before + 2, timeout=30,
                       what="%s reporting through B" % n)
        self.assertTrue(self.connected(port_b, "home-1"))
        # Every report an agent made is stored once, or still in its queue to be sent again.
        for p in self.processes:
            if p.name.startswith("agent ") and p.name != "agent lone-1":
                p.terminate()
        for n in movers + ["home-1"]:
            logged = self.reports_logged(n)
            rows = self.sql("SELECT id, count(*) FROM reports WHERE node = '%s' GROUP BY id" % n)
            stored = {}
            for row in rows.split():
                rid, count = row.split("|")
                stored[rid] = int(count)
            self.assertTrue(all(c == 1 for c in stored.values()), stored)
            queued = {f[:-len(".report")] for f in self.queued(n) if f.endswith(".report")}
            self.assertEqual(logged - set(stored) - queued, set(), "%s: reports lost" % n)
            self.assertEqual(set(stored) - logged, set(), "%s: reports not made" % n)
            self.assertLessEqual(len(queued), 2, n)  # the last second's at most

    def status(self, port, node):
        """(status, connected) of `node` as the replica at `port` shows it."""
        n = self.on(port).nodes().get(node) or {}
        return n.get("status"), bool(n.get("connected"))

    def test_a_dead_replicas_nodes_read_offline_then_online_on_the_survivor(self):
        self.write_repo("one")
        rev = self.repo.commit("first")
        a, port_a, http_a, b, port_b = self.start_leader_then_follower(rev)
        # All on B: lone-1 knows only B; mover-1 lists B then A. An hour's interval: no report
        # comes unless a catalog changes.
        self.agent("lone-1", [port_b])
        mover = self.agent("mover-1", [port_b, port_a])
        twin = self.agent("twin", [port_b])
        for n in ("lone-1", "mover-1", "twin"):
            self.on(port_a).wait_node(n, revision=rev)
            wait_until(lambda: self.connected(port_a, n), what="%s connected" % n)

        # twin moves from B to A, and B writes its disconnect after A wrote the connect: a second
        # agent process of the node connects to A (and reports), then the first one dies.
        reports = lambda n: self.sql("SELECT count(*) FROM reports WHERE node = '%s'" % n)
        before = int(reports("twin"))
        self.agent("twin", [port_a], extra=["--root", os.path.join(self.tmp, "twin-2"),
                                           "--state_dir", os.path.join(self.tmp, "twin-2-state")])
        wait_until(lambda: int(reports("twin")) > before, what="twin's report through A")
        wait_until(lambda: self.sql("SELECT count(*) FROM node_streams WHERE node = 'twin'") == "2",
                   what="twin held by both replicas")
        twin.kill(signal.SIGKILL)
        wait_until(lambda: self.sql("SELECT status FROM nodes WHERE name = 'twin'") == "6",
                   what="B's disconnect of twin written (offline) after A's connect")
        for port in (port_a, port_b):
            self.assertEqual(self.status(port, "twin"), ("NODE_CONVERGED", True))

        reports_before = reports("mover-1")
        # mover-1 paused, B killed: nobody holds either node; B wrote no disconnect.
        os.kill(mover.proc.pid, signal.SIGSTOP)
        b.kill(signal.SIGKILL)
        offline = ("NODE_OFFLINE", False)
        wait_until(lambda: self.status(port_a, "lone-1") == offline, timeout=40,
                   what="lone-1 offline, seen from A, once B's heartbeat expired")
        self.assertEqual(self.status(port_a, "mover-1"), offline)
        self.assertEqual(self.on(port_a).ctl_json("node", "lone-1")["status"], "NODE_OFFLINE")
        listed = self.on(port_a).ctl_json("nodes", "--status", "offline").get("nodes", [])
        self.assertEqual(sorted(n["name"] for n in listed), ["lone-1", "mover-1"])
        self.assertEqual(self.metric(http_a, 'plumb_nodes{status="offline"}'), 2)
        # mover-1 resumes, finds B gone and reconnects to A: online at once, no report needed.
        os.kill(mover.proc.pid, signal.SIGCONT)
        wait_until(lambda: self.status(port_a, "mover-1") == ("NODE_CONVERGED", True),
                   timeout=40, what="mover-1 converged and connected on A")
        self.assertEqual(reports("mover-1"), reports_before)
        self.assertEqual(self.status(port_a, "lone-1"), offline)
        self.assertEqual(self.status(port_a, "twin"), ("NODE_CONVERGED", True))

    def commit_app(self, content, extra="", bake="1s"):
        self.repo.write("plumb.yaml", ROLLOUT_PLUMB.replace("bake: 1s", "bake: " + bake))
        self.repo.write("modules/app/module.yaml",
                        ROLLOUT_MODULE.format(content=content, extra=extra))
        return self.repo.commit(content)

    def rollout(self, port):
        return self.on(port).ctl_json("rollout", "status")

    def test_a_rollout_spans_the_replicas(self):
        rev1 = self.commit_app("v1")
        a, port_a, _, b, port_b = self.start_leader_then_follower(rev1)
        self.agent("canary-1", [port_b])
        self.agent("web-1", [port_a])
        self.on(port_a).wait_node("canary-1", revision=rev1)
        self.on(port_a).wait_node("web-1", revision=rev1)

        # 1. The canary wave is on B, the next wave on A: A judges both.
        rev2 = self.commit_app("v2")
        self.on(port_a).ctl("sync", check=False)
        self.on(port_a).wait_node("canary-1", revision=rev2)
        self.on(port_a).wait_node("web-1", revision=rev2)
        wait_until(lambda: self.rollout(port_a)["phase"] == "ROLLOUT_COMPLETED",
                   what="A completes the rollout")
        wait_until(lambda: self.rollout(port_b)["phase"] == "ROLLOUT_COMPLETED",
                   what="B sees A's header")

        # 2. Operator actions through the follower B are forwarded to the leader A and take
        # effect fleet-wide. The canary (on B) bakes for 10 minutes: paused through B, the
        # rollout is paused on A too; resumed through B it goes on; promoted through B, web-1
        # (on A) gets the revision without waiting for the bake.
        rev2b = self.commit_app("v2b", bake="10m")
        self.on(port_a).ctl("sync", check=False)
        wait_until(lambda: self.rollout(port_b)["revision"] == rev2b,
                   what="B takes rev2b's rollout")
        paused = self.on(port_b).ctl_json("rollout", "pause")
        self.assertEqual(paused["phase"], "ROLLOUT_PAUSED")  # the leader's status, through B
        self.assertEqual(self.rollout(port_a)["phase"], "ROLLOUT_PAUSED")
        self.assertEqual(self.rollout(port_b)["phase"], "ROLLOUT_PAUSED")
        self.on(port_a).wait_node("canary-1", revision=rev2b)  # the current wave still gets it
        self.assertEqual(self.on(port_a).nodes()["web-1"].get("desired_revision"), rev2)
        self.assertEqual(self.on(port_b).ctl_json("rollout", "resume")["phase"],
                         "ROLLOUT_PROGRESSING")
        self.assertEqual(self.rollout(port_a)["phase"], "ROLLOUT_PROGRESSING")
        promoted = self.on(port_b).ctl_json("rollout", "promote")
        self.assertEqual(promoted["wave"], 1)
        self.on(port_a).wait_node("web-1", revision=rev2b)
        wait_until(lambda: self.rollout(port_b)["phase"] == "ROLLOUT_COMPLETED",
                   what="B sees A complete the promoted rollout")

        # 3. The canary (on B) fails: A halts, and web-1 (on A) never gets the revision. With
        # each replica judging its own copy, A would start the next wave at once.
        rev3 = self.commit_app("v3", extra=FAILING_EXEC)
        self.on(port_a).ctl("sync", check=False)
        wait_until(lambda: self.rollout(port_a)["phase"] == "ROLLOUT_HALTED", timeout=40,
                   what="A halts on B's canary failure")
        status = self.rollout(port_a)
        self.assertEqual(status["revision"], rev3)
        self.assertIn("canary-1", status["halt_reason"])
        wait_until(lambda: self.rollout(port_b)["phase"] == "ROLLOUT_HALTED",
                   what="B takes A's halt")
        self.assertEqual(self.on(port_a).nodes()["web-1"].get("desired_revision"), rev2b)
        self.assertEqual(self.read(self.root_of("web-1") + "/etc/app.conf"), "v2b\n")

        # 4. An abort through B is the leader's: A aborts, and B serves from A's header.
        self.on(port_b).ctl("rollout", "abort")
        self.assertEqual(self.rollout(port_a)["phase"], "ROLLOUT_ABORTED")
        wait_until(lambda: self.rollout(port_b)["phase"] == "ROLLOUT_ABORTED",
                   what="B takes A's abort")
        r = self.on(port_b).ctl("rollout", "pause", check=False)  # A's refusal, through B
        self.assertEqual(r.returncode, 1)
        self.assertIn("no rollout is progressing", r.stderr)
        self.assertNotIn("ask the leader", r.stderr)

        # 5. A rollback through B (another rollout of the same serving revision) is started by
        # A and reaches both replicas' agents: B takes it up when the header's NOTIFY reaches it.
        self.on(port_b).ctl("rollback", "--now")
        self.assertEqual(self.rollout(port_a)["revision"], rev2b)
        wait_until(lambda: self.rollout(port_b)["revision"] == rev2b, what="B takes A's rollback")
        self.on(port_a).wait_node("canary-1", revision=rev2b)
        self.assertEqual(self.read(self.root_of("canary-1") + "/etc/app.conf"), "v2b\n")


if __name__ == "__main__":
    unittest.main()
