"""End to end: a hostile client, written with Python gRPC stubs generated from proto/, sends
Sync messages over the wire limits (docs/protocol.md) to a real plumb-server: a Hello whose
fact key has a million dots (it used to segfault the server), too many facts, over-long keys
and values, an oversized report field, an over-long NACK error, bytes that are no AgentMessage. Each stream ends with
INVALID_ARGUMENT naming the field, the server logs one line per refusal, stays up, never
records the hostile nodes, and real agents keep converging."""

import importlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase  # noqa: E402
from python_client_test import generate_stubs  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [base]
"""
BASE = """resources:
  - file: /etc/motd
    content: "bounded\\n"
"""


class WireLimitsTest(PlumbTestCase):

    def setUp(self):
        super().setUp()
        stubs = os.path.join(self.tmp, "stubs")
        generate_stubs(stubs)
        sys.path.insert(0, stubs)
        self.addCleanup(sys.path.remove, stubs)
        self.agent_pb2 = importlib.import_module("plumb.v1.agent_pb2")
        self.agent_grpc = importlib.import_module("plumb.v1.agent_pb2_grpc")
        self.types_pb2 = importlib.import_module("plumb.v1.types_pb2")

    def hello(self, node, **fields):
        pb = self.agent_pb2
        h = pb.Hello(node=node)
        for name, entries in fields.items():
            getattr(h, name).update(entries)
        return pb.AgentMessage(hello=h)

    def sync(self, channel, *messages):
        """Sends `messages` on one Sync stream; returns (code, details) of how it ended."""
        import grpc
        stub = self.agent_grpc.AgentServiceStub(channel)
        try:
            for _ in stub.Sync(iter(messages), timeout=30):
                pass
        except grpc.RpcError as e:
            return e.code(), e.details()
        return grpc.StatusCode.OK, ""

    def test_hostile_messages_end_their_stream_and_nothing_else(self):
        import grpc
        pb = self.agent_pb2
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE)
        rev = self.repo.commit("initial")
        server = self.start_server()
        self.start_agent("good-1")
        self.wait_node("good-1", revision=rev)

        million_dots = "a" + ".a" * 1000000
        types = self.types_pb2
        report = types.Report(id="r1", results=[types.ResourceResult(id="file:/etc/motd",
                                                                     diff="d" * (2 << 20))])
        cases = [
            ("million-dot fact key", [self.hello("evil-1", facts={million_dots: "x"})],
             'hello.facts key "a.a.a'),
            ("deep label key", [self.hello("evil-2", labels={"a." * 20 + "a": "x"})],
             'hello.labels key "a.a.a'),
            ("too many facts", [self.hello("evil-3", facts={"f%d" % i: "v"
                                                            for i in range(5000)})],
             "hello.facts: 5000 entries, limit 1024"),
            ("long label value", [self.hello("evil-4", labels={"role": "x" * 5000})],
             'hello.labels value of "role": 5000 bytes, limit 1024'),
            ("long resource id", [self.hello("evil-5",
                                             resource_versions={"file:/" + "p" * 9000: "v"})],
             'hello.resource_versions key "file:/ppp'),
            ("long node name", [self.hello("n" * 300)], "hello.node: 300 bytes, limit 253"),
            ("oversized diff", [self.hello("evil-6"), pb.AgentMessage(report=report)],
             "report.results[0].diff: 2097152 bytes, limit 1048576"),
            ("long NACK error", [self.hello("evil-7"),
                                 pb.AgentMessage(ack=pb.Ack(nonce="1", error="e" * 20000))],
             "ack.error: 20000 bytes, limit 16384"),
        ]
        with grpc.insecure_channel("127.0.0.1:%d" % self.port,
                                   options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
            for what, messages, expected in cases:
                code, details = self.sync(ch, *messages)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, what)
                self.assertTrue(details.startswith(expected), "%s: %r" % (what, details[:200]))
                self.assertLess(len(details), 200, what)
            # Bytes that are no AgentMessage at all (a truncated field): the server parses the
            # stream's messages itself (one serialized delta per group), so it must refuse them.
            raw = ch.stream_stream("/plumb.v1.AgentService/Sync")  # no (de)serializers: bytes
            for junk in (b"\x0a\xff\xff\xff\xff\x0f", b"\xff" * 64):
                try:
                    for _ in raw(iter([junk]), timeout=30):
                        pass
                    code, details = grpc.StatusCode.OK, ""
                except grpc.RpcError as e:
                    code, details = e.code(), e.details()
                self.assertEqual((code, details),
                                 (grpc.StatusCode.INVALID_ARGUMENT, "malformed AgentMessage"))
            # Over the whole-message limit (16 MiB): gRPC itself refuses it.
            code, _ = self.sync(ch, self.hello("evil-8", facts={"big": "x" * (17 << 20)}))
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)

        self.assertTrue(server.alive())
        # A refused Hello leaves no trace. evil-6 and evil-7 said a valid Hello first, but their
        # streams end right after it: the hub drops messages of a closed stream, so whether
        # their Hello was handled first depends on the machine's load.
        nodes = set(self.nodes())
        self.assertIn("good-1", nodes)
        self.assertLessEqual(nodes, {"good-1", "evil-6", "evil-7"})
        log = server.output()
        self.assertEqual(log.count("agent message over a wire limit"), len(cases), log[-3000:])
        self.start_agent("good-2")
        self.wait_node("good-2", revision=rev)
        self.wait_node("good-1", revision=rev)


if __name__ == "__main__":
    unittest.main()
