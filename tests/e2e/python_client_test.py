"""End to end: the fleet API is usable from another language. Python stubs are generated from
the project's .proto files (and grpc-proto's health and reflection protos) with Debian's
python3-grpc-tools into a temp dir, then talk to a real plumb-server over real gRPC:
FleetService.ListNodes/GetNode/ListResourceEvents, grpc.health.v1 Health.Check and server
reflection's list of services."""

import glob
import importlib
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import SOURCE, PlumbTestCase, wait_until  # noqa: E402

GRPC_PROTO = "/usr/share/grpc-proto/grpc"

PLUMB_YAML = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [base]
"""
BASE = """resources:
  - file: /etc/motd
    content: "from python's point of view\\n"
"""


def generate_stubs(out):
    """Generates Python modules for plumb/v1/*.proto, health and reflection under `out`.

    grpc-proto's files are copied under other directory names: generated modules named
    grpc.health... would collide with the installed `grpc` package. The proto packages (and so
    the service names on the wire) stay grpc.health.v1 and grpc.reflection.v1alpha."""
    protos = os.path.join(out, "protos")
    os.makedirs(os.path.join(protos, "ext_health"))
    os.makedirs(os.path.join(protos, "ext_reflection"))
    shutil.copy(os.path.join(GRPC_PROTO, "health/v1/health.proto"),
                os.path.join(protos, "ext_health"))
    shutil.copy(os.path.join(GRPC_PROTO, "reflection/v1alpha/reflection.proto"),
                os.path.join(protos, "ext_reflection"))
    proto_root = os.path.join(SOURCE, "proto")
    plumb = sorted(os.path.relpath(p, proto_root)
                   for p in glob.glob(os.path.join(proto_root, "plumb/v1/*.proto")))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_root, "-I", protos,
                    "--python_out", out, "--grpc_python_out", out,
                    *plumb, "ext_health/health.proto", "ext_reflection/reflection.proto"],
                   check=True, capture_output=True, text=True)
    for package in ("plumb", "plumb/v1", "ext_health", "ext_reflection"):
        open(os.path.join(out, package, "__init__.py"), "a").close()


class PythonClientTest(PlumbTestCase):

    def setUp(self):
        super().setUp()
        try:
            import grpc  # noqa: F401
            import grpc_tools  # noqa: F401
        except ImportError as e:
            self.fail("python3-grpcio and python3-grpc-tools are required: %s" % e)
        stubs = os.path.join(self.tmp, "stubs")
        generate_stubs(stubs)
        sys.path.insert(0, stubs)
        self.addCleanup(sys.path.remove, stubs)

    def modules(self):
        m = {}
        for name in ("plumb.v1.fleet_pb2", "plumb.v1.fleet_pb2_grpc", "plumb.v1.types_pb2",
                     "ext_health.health_pb2", "ext_health.health_pb2_grpc",
                     "ext_reflection.reflection_pb2", "ext_reflection.reflection_pb2_grpc"):
            m[name.split(".")[-1]] = importlib.import_module(name)
        return m

    def test_list_nodes_health_and_reflection_from_python(self):
        import grpc
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/base/module.yaml", BASE)
        rev = self.repo.commit("initial")
        self.start_server()
        self.start_agent("py-1", labels=["role=web", "lang=python"])
        self.start_agent("py-2", labels=["role=db"])
        self.wait_node("py-1", revision=rev)
        self.wait_node("py-2", revision=rev)
        m = self.modules()

        with grpc.insecure_channel("127.0.0.1:%d" % self.port) as channel:
            fleet = m["fleet_pb2_grpc"].FleetServiceStub(channel)
            resp = fleet.ListNodes(m["fleet_pb2"].ListNodesRequest(), timeout=10)
            self.assertEqual(sorted(n.name for n in resp.nodes), ["py-1", "py-2"])
            for n in resp.nodes:
                self.assertEqual(n.status, m["types_pb2"].NODE_CONVERGED)
                self.assertEqual(n.applied_revision, rev)
            web = fleet.ListNodes(m["fleet_pb2"].ListNodesRequest(selector={"lang": "python"}),
                                  timeout=10)
            self.assertEqual([n.name for n in web.nodes], ["py-1"])
            node = fleet.GetNode(m["fleet_pb2"].GetNodeRequest(name="py-1"), timeout=10)
            self.assertEqual(node.labels["role"], "web")
            self.assertEqual(node.last_run.changed, 1)
            events = fleet.ListResourceEvents(
                m["fleet_pb2"].ListResourceEventsRequest(resource_id="file:/etc/motd"), timeout=10)
            self.assertEqual(sorted(e.node for e in events.events), ["py-1", "py-2"])
            with self.assertRaises(grpc.RpcError) as missing:
                fleet.GetNode(m["fleet_pb2"].GetNodeRequest(name="nobody"), timeout=10)
            self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)

            health = m["health_pb2_grpc"].HealthStub(channel)
            HCR = m["health_pb2"].HealthCheckRequest
            SERVING = m["health_pb2"].HealthCheckResponse.SERVING
            self.assertEqual(health.Check(HCR(service=""), timeout=10).status, SERVING)
            self.assertEqual(health.Check(HCR(service="plumb.v1.FleetService"), timeout=10).status,
                             SERVING)
            with self.assertRaises(grpc.RpcError) as unknown:
                health.Check(HCR(service="no.such.Service"), timeout=10)
            self.assertEqual(unknown.exception.code(), grpc.StatusCode.NOT_FOUND)

            # The server as a whole ("") follows /readyz: a repository that cannot be fetched
            # makes it NOT_SERVING, while its services keep serving the last good revision.
            NOT_SERVING = m["health_pb2"].HealthCheckResponse.NOT_SERVING
            moved = self.repo.bare + ".away"
            os.rename(self.repo.bare, moved)
            self.assertEqual(self.ctl("sync", check=False).returncode, 1)
            self.assertEqual(health.Check(HCR(service=""), timeout=10).status, NOT_SERVING)
            self.assertEqual(health.Check(HCR(service="plumb.v1.AgentService"), timeout=10).status,
                             SERVING)
            os.rename(moved, self.repo.bare)
            self.ctl("sync")
            self.assertEqual(health.Check(HCR(service=""), timeout=10).status, SERVING)

            reflection = m["reflection_pb2_grpc"].ServerReflectionStub(channel)
            request = m["reflection_pb2"].ServerReflectionRequest(list_services="*")
            replies = list(reflection.ServerReflectionInfo(iter([request]), timeout=10))
            services = {s.name for s in replies[0].list_services_response.service}
            self.assertLessEqual({"plumb.v1.FleetService", "plumb.v1.AgentService",
                                  "grpc.health.v1.Health"}, services)


if __name__ == "__main__":
    unittest.main()
