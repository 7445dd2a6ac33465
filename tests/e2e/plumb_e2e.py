"""Shared harness for Plumb's end-to-end tests: real git repositories made with the git CLI,
the real plumb-server and plumb-agent binaries on 127.0.0.1, plumbctl for assertions.

Every process started here is killed when the test ends (even on failure)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("PLUMB_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("PLUMB_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=30.0, interval=0.1, what="condition"):
    """Polls predicate until it returns a truthy value; fails the test after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # keep polling: the server may be starting
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class GitRepo:
    """A bare repository plus a work clone to commit into."""

    def __init__(self, root):
        self.bare = os.path.join(root, "repo.git")
        self.work = os.path.join(root, "work")
        self.git("init", "-q", "--bare", "-b", "main", self.bare, cwd=root)
        self.git("clone", "-q", self.bare, self.work, cwd=root)

    @staticmethod
    def git(*args, cwd):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
        return subprocess.run(["git", *args], cwd=cwd, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def write(self, path, content):
        full = os.path.join(self.work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)

    def copy_tree(self, src):
        shutil.copytree(src, self.work, dirs_exist_ok=True)

    def commit(self, message):
        self.git("add", "-A", cwd=self.work)
        self.git("commit", "-q", "-m", message, cwd=self.work)
        self.git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        return self.git("rev-parse", "HEAD", cwd=self.work)


class Process:
    """A started binary with its log file."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def terminate(self):
        """SIGTERM and wait; returns the exit status."""
        self.kill(signal.SIGTERM)
        return self.proc.returncode

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class TlsHelpers:
    """TLS-mode helpers of PlumbTestCase (mixed in): the built-in CA, operator credentials,
    join tokens and enrollment."""

    def server_state(self):
        return os.path.join(self.tmp, "server")

    def ca_pem(self):
        return os.path.join(self.server_state(), "ca", "ca.pem")

    def ca_init(self):
        if not os.path.exists(self.ca_pem()):
            subprocess.run([os.path.join(BIN, "plumb-server"), "ca", "init",
                            "--state_dir", self.server_state()],
                           check=True, capture_output=True, text=True)
            subprocess.run([os.path.join(BIN, "plumb-server"), "ca", "issue-operator", "ops",
                            "--state_dir", self.server_state()],
                           check=True, capture_output=True, text=True)

    def operator_files(self):
        d = os.path.join(self.server_state(), "operators")
        return os.path.join(d, "ops.pem"), os.path.join(d, "ops.key")

    def ca_fingerprint(self):
        return subprocess.run([os.path.join(BIN, "plumb-server"), "ca", "fingerprint",
                               "--state_dir", self.server_state()],
                              check=True, capture_output=True, text=True).stdout.strip()

    def create_token(self, *args):
        return self.ctl("token", "create", *args).stdout.strip()

    def enroll(self, node, token=None, extra=()):
        """Runs plumb-agent enroll for `node` (with a fresh one-use token unless given);
        returns the CompletedProcess."""
        if token is None:
            token = self.create_token()
        _, state = self.agent_dirs(node)
        argv = [os.path.join(BIN, "plumb-agent"), "enroll",
                "--server", "127.0.0.1:%d" % self.port, "--node", node, "--state_dir", state,
                "--token", token]
        if "--ca" not in extra:
            argv += ["--ca-fingerprint", self.ca_fingerprint()]
        return subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=60)

    def agent_tls(self, node):
        """(ca, cert, key) an enrolled agent holds."""
        d = os.path.join(self.agent_dirs(node)[1], "tls")
        return (os.path.join(d, "ca.pem"), os.path.join(d, "agent.pem"),
                os.path.join(d, "agent.key"))



class PlumbTestCase(TlsHelpers, unittest.TestCase):
    """Gives each test a temp dir, a git repo, and helpers to start server and agents.

    By default everything runs with --insecure (plaintext on 127.0.0.1). A subclass that sets
    `tls = True` gets real TLS: start_server() runs `plumb-server ca init` first, plumbctl uses
    an operator certificate from `ca issue-operator`, and agents must be enrolled (enroll())
    before start_agent()."""

    tls = False

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="plumb_e2e_")
        self.repo = GitRepo(self.tmp)
        self.processes = []
        self.port = None
        self.http_port = None  # the server's http_listen port, kept across restarts
        result = getattr(self._outcome, "result", None)
        self._failures_before = len(result.failures) + len(result.errors) if result else 0

    def tearDown(self):
        for p in self.processes:
            p.kill()
        result = getattr(self._outcome, "result", None)
        failed = result is not None and (
            len(result.failures) + len(result.errors) > self._failures_before)
        if failed:
            for p in self.processes:
                print("\n===== log of %s =====\n%s" % (p.name, p.output()[-6000:]))
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_server(self, poll="1s", extra=(), state_dir=None):
        if self.port is None:
            self.port = free_port()
        if self.http_port is None:
            self.http_port = free_port()
        if self.tls:
            self.ca_init()
        argv = [os.path.join(BIN, "plumb-server"), *([] if self.tls else ["--insecure"]),
                "--listen", "127.0.0.1:%d" % self.port,
                "--http_listen", "127.0.0.1:%d" % self.http_port,
                "--repo.url", self.repo.bare, "--repo.poll", poll,
                "--state_dir", state_dir or os.path.join(self.tmp, "server")] + list(extra)
        n = sum(1 for p in self.processes if p.name == "plumb-server") + 1
        p = Process("plumb-server", argv, os.path.join(self.tmp, "server-%d.log" % n))
        self.processes.append(p)
        wait_until(lambda: self.ctl_ok("revisions"), timeout=30, what="server to answer")
        return p

    def agent_dirs(self, node):
        root = os.path.join(self.tmp, "roots", node)
        state = os.path.join(self.tmp, "state", node)
        os.makedirs(root, exist_ok=True)
        return root, state

    def agent_argv(self, node, labels=(), extra=()):
        root, state = self.agent_dirs(node)
        argv = [os.path.join(BIN, "plumb-agent"), *([] if self.tls else ["--insecure"]),
                "--server", "127.0.0.1:%d" % self.port, "--node", node,
                "--root", root, "--state_dir", state, "--interval", "1h", "--splay", "0s"]
        for label in labels:
            argv += ["--label", label]
        return argv + list(extra)

    def start_agent(self, node, labels=(), extra=()):
        n = sum(1 for p in self.processes if p.name == "agent " + node) + 1
        p = Process("agent " + node, self.agent_argv(node, labels, extra),
                    os.path.join(self.tmp, "agent-%s-%d.log" % (node, n)))
        self.processes.append(p)
        return p

    def root_of(self, node):
        return self.agent_dirs(node)[0]

    def ctl(self, *args, check=True, credential=None):
        """Runs plumbctl. With TLS, `credential` replaces the operator's certificate flags
        (e.g. ["--ca", ca] for none, or an agent's --cert/--key)."""
        if not self.tls:
            security = ["--insecure"]
        elif credential is not None:
            security = list(credential)
        else:
            security = ["--ca", self.ca_pem(), "--cert", self.operator_files()[0],
                        "--key", self.operator_files()[1]]
        argv = [os.path.join(BIN, "plumbctl"), *security,
                "--server", "127.0.0.1:%d" % self.port, *args]
        # Never the developer's own ~/.config/plumb/plumbctl.yaml.
        env = dict(os.environ, PLUMBCTL_CONFIG=os.path.join(self.tmp, "no-plumbctl.yaml"))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        if check and r.returncode != 0:
            raise AssertionError("plumbctl %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r

    def ctl_ok(self, *args):
        return self.ctl(*args, check=False).returncode == 0

    def ctl_json(self, *args):
        return json.loads(self.ctl("-o", "json", *args).stdout)

    def nodes(self):
        return {n["name"]: n for n in self.ctl_json("nodes").get("nodes", [])}

    def wait_node(self, name, status="NODE_CONVERGED", revision=None, timeout=30):
        def ok():
            n = self.nodes().get(name)
            if not n or n["status"] != status:
                return False
            return revision is None or n["applied_revision"] == revision
        return wait_until(ok, timeout=timeout,
                          what="node %s %s at %s" % (name, status, revision))

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read()

    @staticmethod
    def mode(path):
        return oct(os.stat(path).st_mode & 0o7777)

