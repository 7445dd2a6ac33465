"""End to end, over real TLS on 127.0.0.1: the built-in CA, enrollment with join tokens, node
identity from certificates, operator access, revocation and renewal (docs/security.md).
Secrets (`sensitive: true`) are covered by sensitive_test.py."""

import hashlib
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, SOURCE, PlumbTestCase, Process, free_port, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
  - name: prod
    labels: {env: prod}
    modules: [prod]
"""
BASE = """resources:
  - file: /etc/base.txt
    content: "base\\n"
"""
WEB_CONTENT = "web only: role=web nodes get this\n"
WEB = """resources:
  - file: /etc/web.txt
    content: "web only: role=web nodes get this\\n"
"""
PROD_SECRET = "prod-db-password-5f1e0c"
PROD = """resources:
  - file: /etc/prod-secret
    content: "%s"
    sensitive: true
""" % PROD_SECRET


class SecurityTest(PlumbTestCase):
    tls = True

    def write_repo(self):
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE)
        self.repo.write("modules/web/module.yaml", WEB)
        self.repo.write("modules/prod/module.yaml", PROD)
        return self.repo.commit("initial")

    def server_log(self):
        return "".join(p.output() for p in self.processes if p.name == "plumb-server")

    def run_agent_once(self, node, extra=()):
        argv = self.agent_argv(node, extra=["--once"] + list(extra))
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    # ---- the server's transport ----

    def test_server_without_tls_and_without_insecure_exits_with_a_clear_message(self):
        argv = [os.path.join(BIN, "plumb-server"), "--listen", "127.0.0.1:%d" % free_port(),
                "--repo.url", self.repo.bare, "--state_dir", os.path.join(self.tmp, "bare")]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("no TLS configured", r.stderr)
        self.assertIn("--insecure", r.stderr)

    def test_insecure_binds_loopback_only_unless_asked(self):
        self.write_repo()
        self.tls = False
        self.port = free_port()
        server = self.start_server(extra=["--listen", "0.0.0.0:%d" % self.port])
        self.assertIn("binding loopback only", server.output())
        self.assertIn("listen=127.0.0.1:%d" % self.port, server.output())

    # ---- enrollment ----

    def test_enrollment_binds_identity_and_labels(self):
        rev = self.write_repo()
        self.start_server()
        token = self.create_token("--label", "role=web", "--node-glob", "web-*")
        r = self.enroll("web-1", token)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("enrolled web-1", r.stdout)
        ca, cert, key = self.agent_tls("web-1")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        with open(key) as f:
            key_text = f.read()
        self.assertNotIn(key_text.strip().splitlines()[1], self.server_log())
        # The agent claims role=db in Hello; the label bound at enrollment wins.
        self.start_agent("web-1", labels=["role=db"])
        node = self.wait_node("web-1", revision=rev)
        self.assertEqual(self.nodes()["web-1"]["labels"], {"role": "web"})
        self.assertEqual(self.read(os.path.join(self.root_of("web-1"), "etc/web.txt")), WEB_CONTENT)
        self.assertTrue(node)

    def test_hello_labels_the_token_did_not_allow_are_ignored(self):
        """An agent enrolled with role=web that claims env=prod does not get the prod catalog
        (nor its sensitive file); a token with --allow-label env lets its agent set env."""
        rev = self.write_repo()
        self.start_server()
        token = self.create_token("--label", "role=web")
        self.assertEqual(self.enroll("web-1", token).returncode, 0)
        env = dict(os.environ, PLUMBCTL_CONFIG=os.path.join(self.tmp, "none.yaml"))
        ops = ["--ca", self.ca_pem(), "--cert", self.operator_files()[0],
               "--key", self.operator_files()[1]]
        watch = subprocess.Popen([os.path.join(BIN, "plumbctl"), "--server",
                                  "127.0.0.1:%d" % self.port, *ops, "-o", "json", "watch",
                                  "--kind", "node_connected", "--count", "1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env)
        try:
            wait_until(lambda: self.metric_watchers() == 1, timeout=20, what="watch to subscribe")
            self.start_agent("web-1", labels=["role=web", "env=prod"])
            event, _ = watch.communicate(timeout=30)
        finally:
            if watch.poll() is None:
                watch.kill()
        self.assertIn("labels not allowed by its join token ignored: env=prod", event)
        self.wait_node("web-1", revision=rev)
        self.assertEqual(self.nodes()["web-1"]["labels"], {"role": "web"})
        root = self.root_of("web-1")
        self.assertTrue(os.path.exists(os.path.join(root, "etc/web.txt")))
        self.assertFalse(os.path.exists(os.path.join(root, "etc/prod-secret")))
        log = self.server_log()
        self.assertIn("Hello labels ignored", log)
        self.assertIn("env=prod", log)
        self.assertNotIn(PROD_SECRET, log)

        r = self.ctl("token", "create", "--label", "role=web", "--allow-label", "env")
        self.assertIn("agents may add labels env", r.stderr)
        r = self.enroll("web-2", r.stdout.strip())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("its config may set labels env", r.stdout)
        # role is bound: the Hello's role=db is ignored, its env=prod is taken.
        self.start_agent("web-2", labels=["role=db", "env=prod"])
        self.wait_node("web-2", revision=rev)
        self.assertEqual(self.nodes()["web-2"]["labels"], {"role": "web", "env": "prod"})
        self.assertEqual(self.read(os.path.join(self.root_of("web-2"), "etc/prod-secret")),
                         PROD_SECRET)

    def test_bad_tokens_and_taken_names_are_refused_clearly(self):
        self.write_repo()
        self.start_server()
        expired = self.create_token("--ttl", "1s")
        time.sleep(1.5)
        r = self.enroll("web-1", expired)
        self.assertEqual(r.returncode, 1)
        self.assertIn("join token expired", r.stderr)

        once = self.create_token("--uses", "1")
        self.assertEqual(self.enroll("web-1", once).returncode, 0)
        r = self.enroll("web-2", once)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no uses left", r.stderr)

        glob = self.create_token("--node-glob", "web-*")
        r = self.enroll("db-1", glob)
        self.assertEqual(r.returncode, 1)
        self.assertIn("outside the token's node glob", r.stderr)

        r = self.enroll("web-1", "plumb-join-" + "0" * 64)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown join token", r.stderr)

        # Same name, another host (another key): refused until the name is revoked.
        other_state = os.path.join(self.tmp, "other-host")
        argv_extra = ["--state_dir", other_state]
        r = self.enroll("web-1", self.create_token(), extra=argv_extra)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already enrolled with another key", r.stderr)
        # The same host enrolling again keeps its key and is welcome.
        self.assertEqual(self.enroll("web-1").returncode, 0)

    def test_enrollment_refuses_a_server_that_does_not_match_the_pin(self):
        self.write_repo()
        self.start_server()
        r = self.enroll("web-1", extra=["--ca-fingerprint", "ab" * 32])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot verify the server", r.stderr)
        self.assertFalse(os.path.exists(self.agent_tls("web-1")[1]))
        # A CA file of another CA: the chain is what is wrong, and the error says so.
        other_key = os.path.join(self.tmp, "other-ca.key")
        other_ca = os.path.join(self.tmp, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", other_key,
                        "-out", other_ca, "-days", "1", "-subj", "/CN=other-ca"],
                       check=True, capture_output=True)
        r = self.enroll("web-1", extra=["--ca", other_ca])
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not chain to the CA", r.stderr)
        self.assertFalse(os.path.exists(self.agent_tls("web-1")[1]))
        # Something that is not a TLS server: a failed handshake, not a wrong chain.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        stop = threading.Event()

        def answer_in_plain_text():
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        threading.Thread(target=answer_in_plain_text, daemon=True).start()
        try:
            _, state = self.agent_dirs("web-1")
            r = subprocess.run(
                [os.path.join(BIN, "plumb-agent"), "enroll", "--server",
                 "127.0.0.1:%d" % listener.getsockname()[1], "--node", "web-1",
                 "--state_dir", state, "--token", self.create_token(), "--ca", self.ca_pem()],
                capture_output=True, text=True, timeout=60)
            # A server list whose first entry does not answer as a server: the next one
            # enrolls the node (replicas share enrollments).
            bad = "127.0.0.1:%d" % listener.getsockname()[1]
            good = "127.0.0.1:%d" % self.port
            _, state2 = self.agent_dirs("web-2")
            listed = subprocess.run(
                [os.path.join(BIN, "plumb-agent"), "enroll", "--server", bad + "," + good,
                 "--node", "web-2", "--state_dir", state2, "--token", self.create_token(),
                 "--ca", self.ca_pem()],
                capture_output=True, text=True, timeout=60)
        finally:
            stop.set()
            listener.close()
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("does not chain", r.stderr)
        self.assertIn("plumb-agent: enroll failed: ", r.stderr)  # no server answered
        self.assertNotIn("refused", r.stderr)
        self.assertFalse(os.path.exists(self.agent_tls("web-1")[1]))
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("enrolled web-2 with " + good, listed.stdout)
        self.assertTrue(os.path.exists(self.agent_tls("web-2")[1]))
        # With the CA file instead of the pin it works.
        r = self.enroll("web-1", extra=["--ca", self.ca_pem()])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_pinned_enrollment_refuses_a_peer_presenting_an_agent_certificate(self):
        """A host holding an agent certificate of the same CA (every enrolled host does) poses
        as the server: the pin alone would accept its chain; the server role check refuses."""
        self.write_repo()
        self.start_server()
        self.assertEqual(self.enroll("web-1").returncode, 0)
        ca, cert, key = self.agent_tls("web-1")
        impostor_port = free_port()
        impostor = [os.path.join(BIN, "plumb-server"), "--listen", "127.0.0.1:%d" % impostor_port,
                    "--http_listen", "127.0.0.1:%d" % free_port(), "--repo.url", self.repo.bare,
                    "--state_dir", os.path.join(self.tmp, "impostor"),
                    "--tls.ca", ca, "--tls.cert", cert, "--tls.key", key]
        self.processes.append(Process("impostor", impostor,
                                      os.path.join(self.tmp, "impostor.log")))
        _, state = self.agent_dirs("web-9")
        argv = [os.path.join(BIN, "plumb-agent"), "enroll",
                "--server", "127.0.0.1:%d" % impostor_port, "--node", "web-9",
                "--state_dir", state, "--token", self.create_token(),
                "--ca-fingerprint", self.ca_fingerprint()]
        wait_until(lambda: "listening" in self.processes[-1].output(), timeout=30,
                   what="the impostor to listen")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not a server certificate", r.stderr)
        self.assertFalse(os.path.exists(self.agent_tls("web-9")[1]))

    # ---- identity ----

    def test_certificate_of_a_cannot_speak_for_b(self):
        self.write_repo()
        self.start_server()
        self.assertEqual(self.enroll("web-1").returncode, 0)
        ca, cert, key = self.agent_tls("web-1")
        r = self.run_agent_once("web-2", extra=["--tls.ca", ca, "--tls.cert", cert,
                                                "--tls.key", key])
        self.assertEqual(r.returncode, 1)
        self.assertIn("PERMISSION_DENIED", r.stderr)
        self.assertIn("may not speak for", r.stderr)
        self.assertNotIn("web-2", self.nodes())
        self.assertIn("Hello names another node than the certificate", self.server_log())

    def test_agent_gets_only_blobs_its_catalog_names(self):
        import grpc
        stubs = generate_stubs(os.path.join(self.tmp, "stubs"))
        self.write_repo()
        self.start_server()
        # web-1 makes the server hold the web file's blob; db-1 must still not get it.
        self.assertEqual(self.enroll("web-1", self.create_token("--label", "role=web")).returncode, 0)
        self.assertEqual(self.enroll("db-1").returncode, 0)
        self.start_agent("web-1")
        self.start_agent("db-1")
        self.wait_node("web-1")
        self.wait_node("db-1")
        ca, cert, key = self.agent_tls("db-1")
        creds = grpc.ssl_channel_credentials(slurp(ca), slurp(key), slurp(cert))
        with grpc.secure_channel("127.0.0.1:%d" % self.port, creds) as channel:
            agent = stubs.agent_pb2_grpc.AgentServiceStub(channel)

            def fetch(content):
                digest = hashlib.sha256(content.encode()).hexdigest()
                req = stubs.agent_pb2.GetBlobRequest(digest=digest)
                return b"".join(c.data for c in agent.GetBlob(req, timeout=10))

            self.assertEqual(fetch("base\n"), b"base\n")
            with self.assertRaises(grpc.RpcError) as denied:
                fetch(WEB_CONTENT)  # web nodes' file: not in db-1's catalog
            self.assertEqual(denied.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    # ---- operators ----

    def test_operator_credentials(self):
        self.write_repo()
        token = "ops-bearer-token-0123456789abcdef"
        self.start_server(extra=["--operator_tokens", token])
        ca = self.ca_pem()
        self.assertEqual(self.ctl("nodes", credential=["--ca", ca, "--token", token]).returncode, 0)

        r = self.ctl("nodes", check=False, credential=["--ca", ca])
        self.assertEqual(r.returncode, 1)
        self.assertIn("no operator credential", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

        r = self.ctl("nodes", check=False, credential=["--ca", ca, "--token", "wrong-token-0123456789"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("not one of the server's operator_tokens", r.stderr)

        # An agent's certificate is refused on FleetService.
        self.assertEqual(self.enroll("web-1").returncode, 0)
        ca, cert, key = self.agent_tls("web-1")
        r = self.ctl("nodes", check=False, credential=["--ca", ca, "--cert", cert, "--key", key])
        self.assertEqual(r.returncode, 1)
        self.assertIn("may not call FleetService", r.stderr)

    def test_plumbctl_reads_its_config_file(self):
        self.write_repo()
        self.start_server()
        cert, key = self.operator_files()
        config = os.path.join(self.tmp, "plumbctl.yaml")
        with open(config, "w") as f:
            f.write("server: 127.0.0.1:%d\nca: %s\ncert: %s\nkey: %s\n"
                    % (self.port, self.ca_pem(), cert, key))
        env = dict(os.environ, PLUMBCTL_CONFIG=config)
        r = subprocess.run([os.path.join(BIN, "plumbctl"), "revisions"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("serving", r.stdout)

    # ---- revocation and renewal ----

    def test_revoked_node_is_cut_off_at_once_and_refused_until_it_enrolls_again(self):
        rev = self.write_repo()
        self.start_server()
        self.assertEqual(self.enroll("web-1").returncode, 0)
        agent = self.start_agent("web-1")
        self.wait_node("web-1", revision=rev)
        r = self.ctl("node", "revoke", "web-1")
        self.assertIn("revoked node web-1", r.stdout)
        self.wait_node("web-1", status="NODE_REVOKED")
        wait_until(lambda: "has been revoked" in agent.output(), what="agent to be cut off")
        self.assertFalse(self.nodes()["web-1"]["connected"])
        once = self.run_agent_once("web-1")
        self.assertEqual(once.returncode, 1)
        self.assertIn("revoked", once.stderr)
        self.assertEqual(self.nodes()["web-1"]["status"], "NODE_REVOKED")
        self.assertEqual(self.ctl("node", "revoke", "nobody", check=False).returncode, 1)
        # A new token lets the host back in; the running agent reconnects by itself (with the
        # new certificate: credentials are read for every connection).
        self.assertEqual(self.enroll("web-1").returncode, 0)
        wait_until(lambda: self.nodes()["web-1"]["connected"], timeout=60,
                   what="web-1 to reconnect after enrolling again")
        self.ctl("run", "web-1")
        self.wait_node("web-1", revision=rev)

    def test_forgetting_an_enrolled_node_revokes_it_first(self):
        rev = self.write_repo()
        self.start_server()
        self.assertEqual(self.enroll("web-1").returncode, 0)
        agent = self.start_agent("web-1")
        self.wait_node("web-1", revision=rev)
        self.ctl("node", "forget", "web-1")
        wait_until(lambda: "web-1" not in self.nodes(), what="web-1 to be forgotten")
        wait_until(lambda: "revoked" in agent.output() or "removed" in agent.output(),
                   what="the forgotten agent to be cut off")
        # Its certificate is revoked: it cannot come back by reconnecting.
        once = self.run_agent_once("web-1")
        self.assertEqual(once.returncode, 1)
        self.assertIn("revoked", once.stderr)
        self.assertNotIn("web-1", self.nodes())

    def issue_operator(self, name):
        subprocess.run([os.path.join(BIN, "plumb-server"), "ca", "issue-operator", name,
                        "--state_dir", self.server_state()],
                       check=True, capture_output=True, text=True, timeout=60)
        d = os.path.join(self.server_state(), "operators")
        return ["--ca", self.ca_pem(), "--cert", os.path.join(d, name + ".pem"),
                "--key", os.path.join(d, name + ".key")]

    def test_an_operator_is_revoked_alone_at_once_and_after_restarts(self):
        self.write_repo()
        server = self.start_server()
        # Issued while the server runs: the server learns of bob's certificate from the database.
        bob = self.issue_operator("bob")
        self.assertEqual(self.ctl("nodes", credential=bob).returncode, 0)
        ops = self.ctl_json("operator", "list")["certificates"]
        self.assertEqual(sorted(c["name"] for c in ops), ["bob", "ops"])
        self.assertTrue(all(c["revoked_unix_ms"] == "0" for c in ops), ops)

        # bob watches, and so does ops (for the revocation event); revoking bob ends bob's
        # watch at once and ops sees a credential_revoked event.
        env = dict(os.environ, PLUMBCTL_CONFIG=os.path.join(self.tmp, "none.yaml"))
        ctl = [os.path.join(BIN, "plumbctl"), "--server", "127.0.0.1:%d" % self.port]
        ops = ["--ca", self.ca_pem(), "--cert", self.operator_files()[0],
               "--key", self.operator_files()[1]]
        watch = subprocess.Popen(ctl + bob + ["watch"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
        ops_watch = subprocess.Popen(ctl + ops + ["-o", "json", "watch", "--kind",
                                                  "credential_revoked", "--count", "1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        try:
            wait_until(lambda: self.metric_watchers() == 2, timeout=20,
                       what="both watches to subscribe")
            r = self.ctl("operator", "revoke", "bob")
            self.assertIn("revoked operator bob (1 certificate)", r.stdout)
            _, err = watch.communicate(timeout=20)
            event, _ = ops_watch.communicate(timeout=20)
        finally:
            for p in (watch, ops_watch):
                if p.poll() is None:
                    p.kill()
        self.assertEqual(watch.returncode, 1)
        self.assertIn("has been revoked", err)
        self.assertEqual(ops_watch.returncode, 0)
        self.assertIn("EVENT_CREDENTIAL_REVOKED", event)
        self.assertIn("operator bob", event)

        r = self.ctl("nodes", check=False, credential=bob)
        self.assertEqual(r.returncode, 1)
        self.assertIn("has been revoked", r.stderr)
        self.assertEqual(self.ctl("nodes").returncode, 0)  # the other operator is unaffected
        r = self.ctl("operator", "revoke", "mallory", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no operator certificate was issued to \"mallory\"", r.stderr)
        listed = {c["name"]: c for c in self.ctl_json("operator", "list")["certificates"]}
        self.assertNotEqual(listed["bob"]["revoked_unix_ms"], "0")
        self.assertIn("bob", self.ctl("operator", "list").stdout)

        # Still refused after a restart; a new certificate for bob works.
        server.terminate()
        self.start_server()
        self.assertEqual(self.ctl("nodes", check=False, credential=bob).returncode, 1)
        bob2 = self.issue_operator("bob")
        self.assertEqual(self.ctl("nodes", credential=bob2).returncode, 0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_ca_commands_run_as_root_keep_the_state_dir_owners_files(self):
        state = os.path.join(self.tmp, "owned")
        os.makedirs(state)
        nobody = 65534
        os.chown(state, nobody, nobody)
        os.chmod(self.tmp, 0o755)
        for args in (["init"], ["issue-operator", "alice"]):
            r = subprocess.run([os.path.join(BIN, "plumb-server"), "ca", *args,
                                "--state_dir", state], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        for root, dirs, files in os.walk(state):
            for name in dirs + files:
                st = os.stat(os.path.join(root, name))
                self.assertEqual((st.st_uid, st.st_gid), (nobody, nobody), name)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(state, "ca", "ca.key")).st_mode), 0o600)
        self.assertTrue(os.path.exists(os.path.join(state, "plumb.db")))

    def metric_watchers(self):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port,
                                    timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("plumb_event_watchers "):
                    return float(line.split()[1])
        return -1

    def test_agent_renews_its_certificate_and_keeps_working_after_the_old_one_expired(self):
        self.write_repo()
        self.start_server(extra=["--tls.agent_cert_lifetime", "12s"])
        self.assertEqual(self.enroll("web-1").returncode, 0)
        cert = self.agent_tls("web-1")[1]
        first = self.read(cert)
        enrolled_at = time.time()
        # The first server of its list answers nothing (a dead replica): renewal skips it.
        dead = "127.0.0.1:%d" % free_port()
        self.start_agent("web-1", extra=["--server", "%s,127.0.0.1:%d" % (dead, self.port)])
        self.wait_node("web-1")
        wait_until(lambda: self.read(cert) != first, timeout=30, what="certificate renewal")
        self.assertGreater(time.time() - enrolled_at, 6)  # not before 2/3 of its lifetime
        self.assertIn("certificate renewed", self.server_log())
        # Past the first certificate's end, a fresh connection must use the renewed one.
        time.sleep(max(0.0, enrolled_at + 14 - time.time()))
        self.processes[0].kill()
        self.start_server(extra=["--tls.agent_cert_lifetime", "12s"])
        self.repo.write("modules/base/module.yaml", BASE.replace("base\\n", "renewed\\n"))
        rev2 = self.repo.commit("after renewal")
        self.wait_node("web-1", revision=rev2, timeout=40)


def slurp(path):
    with open(path, "rb") as f:
        return f.read()


def generate_stubs(out):
    """Python modules for plumb/v1/*.proto under `out` (python3-grpc-tools); returns a
    namespace with agent_pb2 and agent_pb2_grpc."""
    import importlib
    import types
    os.makedirs(out, exist_ok=True)
    proto_root = os.path.join(SOURCE, "proto")
    protos = ["plumb/v1/%s.proto" % n for n in ("types", "agent", "fleet")]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_root,
                    "--python_out", out, "--grpc_python_out", out, *protos],
                   check=True, capture_output=True, text=True)
    for package in ("plumb", "plumb/v1"):
        open(os.path.join(out, package, "__init__.py"), "a").close()
    sys.path.insert(0, out)
    return types.SimpleNamespace(
        agent_pb2=importlib.import_module("plumb.v1.agent_pb2"),
        agent_pb2_grpc=importlib.import_module("plumb.v1.agent_pb2_grpc"))


if __name__ == "__main__":
    unittest.main()
