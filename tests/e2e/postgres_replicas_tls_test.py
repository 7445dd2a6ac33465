"""End to end: two plumb-server replicas on one PostgreSQL with mutual TLS (issue 16). The
replicas share enrolled identities through the database and issue from one CA (its key copied
to each replica's state_dir/ca; a replica with another CA refuses to start). An agent enrolled
through replica A is accepted by B when A dies; `plumbctl node revoke` through B cuts an agent
connected to A within seconds, and it cannot reconnect to either; an operator certificate
issued on B's host and revoked through A is refused by B. About 15 s."""

import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, wait_until  # noqa: E402
from postgres_store_test import PostgresCase  # noqa: E402


class PostgresReplicasTlsTest(PostgresCase):
    tls = True

    def replica_state(self, name, same_ca=True):
        """A state_dir for another replica: the CA's key and certificate copied from the first
        replica's (unless same_ca is false), and its own server certificate (`ca init` keeps
        an existing CA and issues the server's certificate)."""
        state = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(state, "ca"), mode=0o700)
        if same_ca:
            for f in ("ca.pem", "ca.key"):
                shutil.copy2(os.path.join(self.server_state(), "ca", f), os.path.join(state, "ca"))
        subprocess.run([os.path.join(BIN, "plumb-server"), "ca", "init", "--state_dir", state],
                       check=True, capture_output=True, text=True)
        return state

    def start_replica(self, state_dir):
        self.port = None
        self.http_port = None
        p = self.start_server(extra=["--store.url", self.url], state_dir=state_dir)
        return p, self.port

    def run_agent_once(self, node, port):
        self.port = port
        argv = self.agent_argv(node, extra=["--once"])
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    def test_replicas_share_enrollments_and_revocations(self):
        self.write_repo("one")
        rev1 = self.repo.commit("first")
        a, port_a = self.start_replica(self.server_state())
        self.replica_state_dir = self.replica_state("replica-b")
        b, port_b = self.start_replica(self.replica_state_dir)

        # A replica with a CA of its own would issue certificates the others refuse: it does
        # not start.
        other = subprocess.run(
            [os.path.join(BIN, "plumb-server"), "--listen", "127.0.0.1:0",
             "--repo.url", self.repo.bare, "--store.url", self.url,
             "--state_dir", self.replica_state("replica-c", same_ca=False)],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(other.returncode, 0)
        self.assertIn("every replica needs the same CA", other.stderr)

        # Both agents enroll through A and list A first, then B.
        self.port = port_a
        servers = ["--server", "127.0.0.1:%d,127.0.0.1:%d" % (port_a, port_b)]
        for node in ("web-1", "web-2"):
            r = self.enroll(node)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.start_agent("web-1", extra=servers)
        web2 = self.start_agent("web-2", extra=servers)
        self.wait_node("web-1", revision=rev1)
        self.wait_node("web-2", revision=rev1)
        wait_until(lambda: self.nodes()["web-2"]["connected"], what="web-2 connected to A")

        # Revoked through B: A cuts web-2's stream (it polls the shared identities every
        # second), and neither replica lets it back in.
        self.port = port_b
        r = self.ctl("node", "revoke", "web-2")
        self.assertIn("revoked node web-2", r.stdout)
        wait_until(lambda: "has been revoked" in web2.output(), timeout=15,
                   what="web-2's stream on A to be cut")
        self.assertIn("node revoked through another server", a.output())
        self.wait_node("web-2", status="NODE_REVOKED")
        for port in (port_a, port_b):
            once = self.run_agent_once("web-2", port)
            self.assertEqual(once.returncode, 1, once.stderr)
            self.assertIn("revoked", once.stderr)

        # An operator certificate issued on B's host is recorded in the database: listed and
        # revoked through A, it is then refused by B too.
        subprocess.run([os.path.join(BIN, "plumb-server"), "ca", "issue-operator", "bob",
                        "--state_dir", self.replica_state_dir, "--store.url", self.url],
                       check=True, capture_output=True, text=True)
        d = os.path.join(self.replica_state_dir, "operators")
        bob = ["--ca", self.ca_pem(), "--cert", os.path.join(d, "bob.pem"),
               "--key", os.path.join(d, "bob.key")]
        self.assertEqual(self.ctl("nodes", credential=bob).returncode, 0)
        self.port = port_a
        self.assertIn("bob", [c["name"] for c in self.ctl_json("operator", "list")["certificates"]])
        self.assertIn("revoked operator bob", self.ctl("operator", "revoke", "bob").stdout)
        self.port = port_b
        wait_until(lambda: "has been revoked" in self.ctl("nodes", check=False,
                                                           credential=bob).stderr,
                   timeout=15, what="B to refuse bob's certificate")

        # A dies: web-1 (enrolled through A) reconnects to B, which accepts its certificate,
        # and converges on the next commit.
        a.kill(signal.SIGKILL)
        self.port = port_b
        self.write_repo("two")
        rev2 = self.repo.commit("second")
        self.wait_node("web-1", revision=rev2, timeout=60)
        self.assertEqual(self.read(os.path.join(self.root_of("web-1"), "etc/demo/motd")),
                         "two\n")


if __name__ == "__main__":
    unittest.main()
