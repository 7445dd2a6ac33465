"""End to end: `sensitive: true` contents never reach the server's database, its logs, the
agent's logs, reports, resource events or anything plumbctl shows — even when the resource
drifts, is checked in noop, or fails; a sensitive exec's command and output neither. The secret does reach the managed file (so the test is
not vacuous). Runs over real TLS with an enrolled agent, as in production."""

import glob
import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import PlumbTestCase, wait_until  # noqa: E402

PLUMB_YAML = """version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [app]
"""

APP = """resources:
  - directory: /etc/app
  - file: /etc/app/secret.conf
    content: "password=@SECRET@\\n"
    sensitive: true
    mode: "0600"
    require: [directory:/etc/app]
  - file: /etc/app/templated.conf
    template: secret.mustache
    sensitive: true
    require: [directory:/etc/app]
  - file: /etc/app/bad-owner.conf
    content: "token=@SECRET@\\n"
    sensitive: true
    owner: no-such-user-for-plumb
    require: [directory:/etc/app]
  - exec: use-secret
    command: "echo token=@SECRET@; echo err=@SECRET@ >&2; exit 3"
    sensitive: true
"""


class SensitiveTest(PlumbTestCase):
    tls = True

    def test_secret_is_nowhere_but_in_the_managed_file(self):
        secret = "s3cr3t-" + secrets.token_hex(12)
        self.repo.write("plumb.yaml", PLUMB_YAML)
        self.repo.write("modules/app/module.yaml", APP.replace("@SECRET@", secret))
        self.repo.write("modules/app/templates/secret.mustache", "key=" + secret + "\n")
        self.repo.commit("app with secrets")
        self.start_server()
        self.assertEqual(self.enroll("app-1").returncode, 0)
        self.start_agent("app-1")
        self.wait_node("app-1", status="NODE_FAILED")  # the bad owner
        conf = os.path.join(self.root_of("app-1"), "etc/app/secret.conf")
        self.assertIn(secret, self.read(conf))

        # Drift, seen in noop and then repaired; the reports carry messages, never contents.
        with open(conf, "w") as f:
            f.write("password=changed-by-hand\n")
        self.ctl("run", "app-1", "--noop", check=False)  # exit 1: bad-owner fails
        self.ctl("run", "app-1", check=False)
        wait_until(lambda: secret in self.read(conf), what="drift repaired")

        shown = []
        for args in (["nodes"], ["node", "app-1"], ["reports", "app-1"], ["resources"],
                     ["revisions"], ["resources", "--status", "failed"]):
            shown.append(self.ctl(*args, check=False).stdout)
            shown.append(self.ctl("-o", "json", *args, check=False).stdout)
        reports = self.ctl_json("reports", "app-1")["reports"]
        self.assertGreaterEqual(len(reports), 3)
        for r in reports:
            shown.append(self.ctl("report", r["id"]).stdout)
            shown.append(self.ctl("-o", "json", "report", r["id"]).stdout)
        everything = "\n".join(shown)
        # The reports did say what happened, without the content.
        self.assertIn("file:/etc/app/secret.conf", everything)
        self.assertIn("file:/etc/app/bad-owner.conf", everything)
        self.assertIn("exec:use-secret", everything)
        self.assertIn("exit 3", everything)  # the failure is explained, without the output

        self.processes[0].terminate()  # the server flushes its WAL on a clean stop
        places = {"plumbctl output": everything}
        for path in glob.glob(os.path.join(self.server_state(), "plumb.db*")):
            with open(path, "rb") as f:
                places[path] = f.read().decode("latin-1")
        for p in self.processes:
            places["log of " + p.name] = p.output()
        self.assertIn("plumb.db", " ".join(places))
        for where, text in places.items():
            self.assertNotIn(secret, text, "the secret leaked into %s" % where)


if __name__ == "__main__":
    unittest.main()
