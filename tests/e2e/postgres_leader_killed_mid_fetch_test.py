"""End to end: the leader replica is killed (SIGKILL) while it is provably inside a git fetch
(issue 16). The upstream is `git daemon` on 127.0.0.1; the leader reaches it through a small TCP
proxy that, once told to stall, accepts each new connection, reads the client's git:// request
and forwards nothing until released. The leader is asked to fetch (`plumbctl sync`), the proxy
holds its upload-pack request, the leader dies; the follower takes the advisory lock, fetches the
commit itself and serves it (and the next one) to every agent, including the one that was on the
killed leader and failed over. No revision is recorded twice or half-recorded. About 10 s."""

import os
import signal
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, Process, free_port, wait_until  # noqa: E402
from postgres_store_test import PostgresCase  # noqa: E402

LEADER = "this replica now fetches and records revisions (leader)"


class StallingProxy:
    """A TCP proxy on 127.0.0.1 in front of 127.0.0.1:`upstream_port`. It passes connections
    through until stall(); from then on it accepts each new connection, reads the first bytes
    the client sends (a git:// client speaks first: "git-upload-pack /repo.git") and holds it,
    forwarding nothing, until release(). Thread-safe; close() ends every connection."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.cond = threading.Condition()
        self.stalling = False
        self.closed = False
        self.held = []      # the first bytes of each connection held so far
        self.sockets = []   # every socket opened, closed by close()
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self):
        with self.cond:
            self.stalling = True

    def release(self):
        """Forwards the held connections (what they sent first, then both ways) and every new
        one."""
        with self.cond:
            self.stalling = False
            self.cond.notify_all()

    def held_requests(self):
        with self.cond:
            return list(self.held)

    def close(self):
        with self.cond:
            self.closed = True
            self.stalling = False
            self.cond.notify_all()
            sockets = list(self.sockets)
        self.listener.close()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _track(self, s):
        with self.cond:
            self.sockets.append(s)
            return not self.closed

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self._track(client):
                client.close()
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        first = b""
        with self.cond:
            stalling = self.stalling
        if stalling:
            client.settimeout(30)
            try:
                first = client.recv(4096)
            except OSError:
                pass
            client.settimeout(None)
            with self.cond:
                self.held.append(first)
                self.cond.notify_all()
                self.cond.wait_for(lambda: not self.stalling or self.closed)
                if self.closed:
                    return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        if not self._track(upstream):
            return
        try:
            if first:
                upstream.sendall(first)
        except OSError:
            pass
        pumps = [threading.Thread(target=self._pump, args=(a, b), daemon=True)
                 for a, b in ((client, upstream), (upstream, client))]
        for p in pumps:
            p.start()
        for p in pumps:
            p.join()
        client.close()
        upstream.close()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class LeaderKilledMidFetch(PostgresCase):

    def start_git_daemon(self):
        """`git daemon` serving self.tmp (so repo.git) on 127.0.0.1; returns its port."""
        port = free_port()
        argv = ["git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
                "--base-path=" + self.tmp, "--listen=127.0.0.1", "--port=%d" % port]
        self.processes.append(Process("git daemon", argv, os.path.join(self.tmp, "daemon.log")))
        url = "git://127.0.0.1:%d/repo.git" % port
        wait_until(lambda: subprocess.run(["git", "ls-remote", url], capture_output=True,
                                          timeout=10).returncode == 0,
                   what="git daemon to serve the repository")
        return port

    def start_replica(self, name, url, poll):
        """A replica on its own ports and state_dir fetching `url`; returns (process, port)."""
        self.port = None
        self.http_port = None
        p = self.start_server(poll=poll, extra=["--store.url", self.url, "--repo.url", url],
                              state_dir=os.path.join(self.tmp, name))
        return p, self.port

    def agent(self, node, ports):
        self.port = ports[0]
        return self.start_agent(node, extra=["--server",
                                             ",".join("127.0.0.1:%d" % p for p in ports)])

    def holder(self, node):
        """The replica id holding `node`'s stream (host-pid-suffix), or ''."""
        return self.sql("SELECT replica FROM node_streams WHERE node = '%s'" % node)

    def test_follower_takes_over_when_the_leader_dies_inside_a_fetch(self):
        self.write_repo("one")
        rev1 = self.repo.commit("first")
        daemon_port = self.start_git_daemon()
        proxy = StallingProxy(daemon_port)
        self.addCleanup(proxy.close)
        # A fetches through the proxy, and only when asked (its poll is an hour); B directly.
        a, port_a = self.start_replica("replica-a", "git://127.0.0.1:%d/repo.git" % proxy.port,
                                       poll="1h")
        wait_until(lambda: self.sql("SELECT sha FROM env_serving WHERE environment = ''") == rev1,
                   what="A (the leader) records rev1")
        b, port_b = self.start_replica("replica-b", "git://127.0.0.1:%d/repo.git" % daemon_port,
                                       poll="1s")
        self.assertIn(LEADER, a.output())
        self.agent("web-1", [port_a, port_b])  # on the leader; fails over to B
        self.agent("web-2", [port_b])
        for n in ("web-1", "web-2"):
            self.on_port(port_b).wait_node(n, revision=rev1)
        wait_until(lambda: "-%d-" % a.proc.pid in self.holder("web-1"), what="web-1 held by A")

        # The leader is asked to fetch rev2; the proxy holds its upload-pack request.
        proxy.stall()
        self.write_repo("two")
        rev2 = self.repo.commit("second")
        sync = subprocess.Popen([os.path.join(BIN, "plumbctl"), "--insecure", "--server",
                                 "127.0.0.1:%d" % port_a, "sync"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (sync.kill(), sync.wait(), sync.stderr.close()))
        wait_until(lambda: any(b"git-upload-pack /repo.git" in r for r in proxy.held_requests()),
                   what="the leader's fetch held by the proxy")
        self.assertIsNone(sync.poll(), "plumbctl sync returned while the fetch was held")
        self.assertEqual(self.sql("SELECT count(*) FROM revisions WHERE sha = '%s'" % rev2), "0")
        a.kill(signal.SIGKILL)
        proxy.release()
        # The caller of the sync learns the leader is gone (it does not hang).
        self.assertNotEqual(sync.wait(timeout=30), 0)

        # B takes the lock, fetches rev2 itself and serves it; web-1 comes over from A.
        wait_until(lambda: LEADER in b.output(), what="B to become the leader")
        for n in ("web-2", "web-1"):
            self.on_port(port_b).wait_node(n, revision=rev2, timeout=60)
        wait_until(lambda: "-%d-" % b.proc.pid in self.holder("web-1"), what="web-1 held by B")
        # And the next commit.
        self.write_repo("three")
        rev3 = self.repo.commit("third")
        for n in ("web-1", "web-2"):
            self.on_port(port_b).wait_node(n, revision=rev3)
            self.assertEqual(self.read(os.path.join(self.root_of(n), "etc/demo/motd")),
                             "three\n")

        # Each revision recorded once and whole: compiled, the last one serving.
        rows = self.sql("SELECT sha, status, count(*) OVER (PARTITION BY sha) FROM revisions"
                        " ORDER BY seq").split()
        self.assertEqual(rows, ["%s|1|1" % r for r in (rev1, rev2, rev3)])
        self.assertEqual(self.sql("SELECT sha FROM env_serving WHERE environment = ''"), rev3)
        listed = self.on_port(port_b).ctl_json("revisions")["revisions"]
        self.assertEqual(sorted(r["sha"] for r in listed), sorted([rev1, rev2, rev3]))
        self.assertTrue(all(r["status"] == "REVISION_OK" for r in listed), listed)
        self.assertEqual([r["sha"] for r in listed if r.get("serving")], [rev3])
        # A never got as far as recording rev2: B did, after the takeover.
        self.assertNotIn("rev=%s" % rev2[:12], a.output())
        self.assertIn("serving new revision\" rev=%s" % rev2[:12], b.output())

    def on_port(self, port):
        self.port = port
        return self


if __name__ == "__main__":
    unittest.main()
