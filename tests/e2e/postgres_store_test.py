"""End to end on PostgreSQL: a real plumb-server with `store.url` on a throwaway cluster
(tests/testing/pg_cluster.sh), a real agent converging; the fleet state (serving revision,
nodes, reports, resource events) is in the database, not in SQLite, and a second server with an
empty state_dir on the same database serves the same revision and history."""

import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import SOURCE, PlumbTestCase, wait_until  # noqa: E402

CLUSTER = os.path.join(SOURCE, "tests", "testing", "pg_cluster.sh")

PLUMB_YAML = """version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
"""

BASE = """resources:
  - file: /etc/demo/motd
    content: "{content}\\n"
    mode: "0644"
"""


class PostgresCase(PlumbTestCase):
    """A fresh cluster and database `plumb` per test (about 1 s)."""

    def setUp(self):
        super().setUp()
        out = subprocess.run([CLUSTER, "start", str(os.getpid())], check=True,
                             capture_output=True, text=True).stdout.strip()
        self.pg_dir = out.splitlines()[-1]
        self.addCleanup(subprocess.run, [CLUSTER, "stop", self.pg_dir], check=False)
        self.sql("CREATE DATABASE plumb", db="postgres")
        self.url = "postgresql://plumb@/plumb?host=" + self.pg_dir

    def sql(self, query, db="plumb"):
        r = subprocess.run(["psql", "-h", self.pg_dir, "-U", "plumb", "-d", db, "-Atc", query],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip()

    def write_repo(self, content):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE.format(content=content))


class PostgresStoreTest(PostgresCase):

    def test_agent_converges_with_fleet_state_in_postgresql(self):
        self.write_repo("one")
        rev1 = self.repo.commit("first")
        server = self.start_server(extra=["--store.url", self.url])
        self.start_agent("web-1")
        self.wait_node("web-1", revision=rev1)
        motd = os.path.join(self.root_of("web-1"), "etc/demo/motd")
        self.assertEqual(self.read(motd), "one\n")

        # The state is in PostgreSQL: no SQLite file (insecure mode has no identity store).
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "server", "plumb.db")))
        self.assertEqual(self.sql("SELECT sha FROM env_serving WHERE environment = ''"), rev1)
        self.assertEqual(self.sql("SELECT name FROM nodes"), "web-1")
        wait_until(lambda: int(self.sql("SELECT count(*) FROM reports WHERE node = 'web-1'")) >= 1,
                   what="the agent's report in PostgreSQL")
        self.assertGreaterEqual(
            int(self.sql("SELECT count(*) FROM resource_events WHERE resource_id ="
                         " 'file:/etc/demo/motd'")), 1)
        # Every migration applied once, in order (at least the node status columns of replicas).
        versions = [int(v) for v in
                    self.sql("SELECT version FROM plumb_schema_version ORDER BY version").split()]
        self.assertEqual(versions, list(range(1, len(versions) + 1)))
        self.assertGreaterEqual(len(versions), 8)
        reports = self.ctl_json("reports", "web-1")["reports"]
        self.assertGreaterEqual(len(reports), 1)

        # Another server on the same database, with an empty state_dir (its own new mirror):
        # it serves the revision the database says and keeps the history; a new commit reaches
        # the agent through it.
        server.kill()
        self.start_server(extra=["--store.url", self.url],
                          state_dir=os.path.join(self.tmp, "server-2"))
        self.assertEqual(self.ctl_json("reports", "web-1")["reports"][-1]["id"],
                         reports[-1]["id"])
        self.write_repo("two")
        rev2 = self.repo.commit("second")
        self.wait_node("web-1", revision=rev2)
        self.assertEqual(self.read(motd), "two\n")
        self.assertEqual(self.sql("SELECT sha FROM env_serving WHERE environment = ''"), rev2)

    def readyz(self):
        url = "http://127.0.0.1:%d/readyz" % self.http_port
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_database_outage_shows_in_readyz_and_the_server_recovers(self):
        self.write_repo("one")
        rev1 = self.repo.commit("first")
        self.start_server(extra=["--store.url", self.url])
        self.start_agent("web-1")
        self.wait_node("web-1", revision=rev1)
        wait_until(lambda: self.readyz()[0] == 200, what="/readyz 200")

        subprocess.run([CLUSTER, "pause", self.pg_dir], check=True)
        status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(self.readyz()),
                                  what="/readyz 503 while the database is down")
        self.assertIn("database", body)
        # A commit pushed during the outage cannot be recorded yet...
        self.write_repo("two")
        rev2 = self.repo.commit("second")
        log = self.processes[0]
        wait_until(lambda: "repository sync failed" in log.output(),
                   what="the server to try the new commit and fail to record it")

        subprocess.run([CLUSTER, "resume", self.pg_dir], check=True)
        wait_until(lambda: self.readyz()[0] == 200, what="/readyz 200 after the outage")
        # ...and is once the database is back: recorded, served and reported.
        self.wait_node("web-1", revision=rev2)
        self.assertEqual(self.read(os.path.join(self.root_of("web-1"), "etc/demo/motd")), "two\n")
        self.assertEqual(self.sql("SELECT sha FROM env_serving WHERE environment = ''"), rev2)


class PostgresTlsTest(PostgresCase):
    """With TLS: join tokens live in PostgreSQL (shared by the servers on the database);
    enrolled identities stay in state_dir/plumb.db."""

    tls = True

    def test_join_token_is_stored_in_postgresql_and_enrolls_an_agent(self):
        self.write_repo("one")
        rev1 = self.repo.commit("first")
        self.start_server(extra=["--store.url", self.url])
        token = self.create_token("--uses", "2", "--label", "role=web")
        self.assertEqual(self.sql("SELECT uses_left FROM join_tokens"), "2")
        r = self.enroll("web-1", token)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.sql("SELECT uses_left FROM join_tokens"), "1")
        # Only the token's hash is in the database.
        self.assertNotIn(token, self.sql("SELECT t::text FROM join_tokens t"))
        self.start_agent("web-1")
        self.wait_node("web-1", revision=rev1)
        self.assertEqual(self.nodes()["web-1"]["labels"]["role"], "web")


if __name__ == "__main__":
    unittest.main()
