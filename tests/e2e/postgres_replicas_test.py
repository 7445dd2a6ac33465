"""End to end: two plumb-server replicas on one PostgreSQL (issue 16). One is the leader (it
fetches, validates and records revisions); the other follows the serving revision the database
records, compiles it from its own mirror and serves its own agents. Equal nodes get identical
catalogs on both; when the leader is killed the follower takes over and serves the next commit,
and an agent listing both servers fails over to it. About 10 s (a throwaway cluster, two
servers, two agents)."""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import wait_until  # noqa: E402
from postgres_store_test import PostgresCase  # noqa: E402

LEADER = "this replica now fetches and records revisions (leader)"


class PostgresReplicasTest(PostgresCase):

    def start_replica(self, name):
        """Starts a replica on its own ports and state_dir; returns (process, port)."""
        self.port = None
        self.http_port = None
        p = self.start_server(extra=["--store.url", self.url],
                              state_dir=os.path.join(self.tmp, name))
        return p, self.port

    def start_agent_on(self, port, node, extra=()):
        self.port = port
        return self.start_agent(node, extra=extra)

    def digest(self, node, revision):
        """The catalog digest of `node`'s latest report at `revision`."""
        for summary in reversed(self.ctl_json("reports", node).get("reports", [])):
            if summary.get("revision") == revision:
                return self.ctl_json("report", summary["id"]).get("catalog_digest")
        return None

    def test_two_replicas_serve_one_revision_and_the_follower_takes_over(self):
        self.write_repo("one")
        rev1 = self.repo.commit("first")
        a, port_a = self.start_replica("replica-a")
        wait_until(lambda: self.sql("SELECT sha FROM env_serving WHERE environment = ''") == rev1,
                   what="A records rev1")
        b, port_b = self.start_replica("replica-b")
        self.assertIn(LEADER, a.output())
        self.assertNotIn(LEADER, b.output())
        # web-1 lists both replicas (A first): when A dies it fails over to B.
        self.start_agent_on(port_a, "web-1",
                            extra=["--server", "127.0.0.1:%d,127.0.0.1:%d" % (port_a, port_b)])
        self.start_agent_on(port_b, "web-2")
        self.wait_node("web-1", revision=rev1)
        self.wait_node("web-2", revision=rev1)

        # A commit reaches both: A records it, B hears the NOTIFY and serves it.
        self.write_repo("two")
        rev2 = self.repo.commit("second")
        self.wait_node("web-1", revision=rev2)
        self.wait_node("web-2", revision=rev2)
        for node in ("web-1", "web-2"):
            motd = os.path.join(self.root_of(node), "etc/demo/motd")
            self.assertEqual(self.read(motd), "two\n")
        # Compiled independently on each replica, the catalogs of equal nodes are identical.
        d1 = wait_until(lambda: self.digest("web-1", rev2), what="web-1's digest at rev2")
        d2 = wait_until(lambda: self.digest("web-2", rev2), what="web-2's digest at rev2")
        self.assertEqual(d1, d2)
        # Only the leader recorded revisions.
        self.assertNotIn("serving new revision", b.output())
        self.assertIn("serving the leader's revision", b.output())

        # The leader dies; B takes the lock within seconds and records the next commit itself.
        a.kill(signal.SIGKILL)
        wait_until(lambda: LEADER in b.output(), what="B to become the leader")
        self.write_repo("three")
        rev3 = self.repo.commit("third")
        self.port = port_b
        self.wait_node("web-2", revision=rev3)
        # web-1's stream to A ended; it reconnected to the next server in its list.
        self.wait_node("web-1", revision=rev3, timeout=60)
        for node in ("web-1", "web-2"):
            self.assertEqual(self.read(os.path.join(self.root_of(node), "etc/demo/motd")),
                             "three\n")
        self.assertEqual(self.sql("SELECT sha FROM env_serving WHERE environment = ''"), rev3)
        self.assertIn("serving new revision", b.output())


if __name__ == "__main__":
    unittest.main()
