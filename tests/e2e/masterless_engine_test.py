"""End to end: masterless `plumb-agent apply` over every resource type on this real Debian
machine as root: files, directories, symlinks, an exec guarded by `creates`, a throwaway user and
group (created, then removed, leaving the machine as it was), a service through a fake
`systemctl` first on PATH (no systemd here) restarted only when its config changes. The first
run converges, the second changes nothing, noop touches nothing."""

import json
import os
import pwd
import grp
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN  # noqa: E402

USER = "plumbe2e%d" % (os.getpid() % 100000)

PLUMB_YAML = """version: 1
targets:
  - name: all
    nodes: "*"
    modules: [m]
"""

MODULE = """resources:
  - directory: /opt/app
    mode: "0750"
  - file: /opt/app/app.conf
    content: "{conf}"
    mode: "0640"
    require: [directory:/opt/app]
    notify: [service:fakeapp]
  - symlink: /opt/app/current
    target: /opt/app/app.conf
    require: [file:/opt/app/app.conf]
  - exec: seed
    command: "echo seeded > $PLUMB_ROOT/opt/app/seed"
    creates: /opt/app/seed
    require: [directory:/opt/app]
  - group: {user}
    ensure: {ensure}
  - user: {user}
    ensure: {ensure}
    gid: {user}
    shell: /bin/sh
    home: /nonexistent
    groups: [{user}]
    require: [group:{user}]
  - service: fakeapp
    ensure: running
    enabled: true
"""

FAKE_SYSTEMCTL = """#!/bin/sh
# Records every call; keeps service state in files next to it.
dir=$(dirname "$0")
echo "$@" >> "$dir/calls"
cmd=$1; shift
for last; do unit=$last; done
case "$cmd" in
  is-active) [ -f "$dir/active.$unit" ] ;;
  is-enabled) if [ -f "$dir/enabled.$unit" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  start|restart) touch "$dir/active.$unit" ;;
  stop) rm -f "$dir/active.$unit" ;;
  enable) touch "$dir/enabled.$unit" ;;
  disable) rm -f "$dir/enabled.$unit" ;;
  *) exit 0 ;;
esac
"""


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


class MasterlessEngineTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="plumb_masterless_")
        self.repo = os.path.join(self.tmp, "repo")
        self.root = os.path.join(self.tmp, "root")
        self.fakebin = os.path.join(self.tmp, "bin")
        os.makedirs(os.path.join(self.repo, "modules/m"))
        os.makedirs(self.root)
        os.makedirs(self.fakebin)
        with open(os.path.join(self.fakebin, "systemctl"), "w") as f:
            f.write(FAKE_SYSTEMCTL)
        os.chmod(os.path.join(self.fakebin, "systemctl"), 0o755)
        with open(os.path.join(self.repo, "plumb.yaml"), "w") as f:
            f.write(PLUMB_YAML)

    def tearDown(self):
        subprocess.run(["userdel", USER], capture_output=True)
        subprocess.run(["groupdel", USER], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_module(self, conf="v1", ensure="present"):
        with open(os.path.join(self.repo, "modules/m/module.yaml"), "w") as f:
            f.write(MODULE.format(conf=conf, user=USER, ensure=ensure))

    def apply(self, *extra):
        env = dict(os.environ, PATH=self.fakebin + ":" + os.environ["PATH"])
        argv = [os.path.join(BIN, "plumb-agent"), "apply", self.repo, "--node", "m1",
                "--root", self.root, "--state_dir", os.path.join(self.tmp, "state"),
                "-o", "json", *extra]
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        report = json.loads(r.stdout) if r.stdout.strip().startswith("{") else None
        return r.returncode, report, r.stderr

    def outcomes(self, report):
        return {x["id"]: x["outcome"] for x in report["results"]}

    def calls(self):
        path = os.path.join(self.fakebin, "calls")
        return open(path).read().splitlines() if os.path.exists(path) else []

    def test_converges_then_idempotent_then_noop_then_cleanup(self):
        self.assertFalse(user_exists(USER))
        self.write_module()
        rc, report, err = self.apply()
        self.assertEqual(rc, 0, err)
        changed = [i for i, o in self.outcomes(report).items() if o == "CHANGED"]
        self.assertEqual(len(changed), len(report["results"]), self.outcomes(report))
        self.assertEqual(oct(os.stat(self.root + "/opt/app").st_mode & 0o777), "0o750")
        self.assertEqual(open(self.root + "/opt/app/app.conf").read(), "v1")
        self.assertEqual(os.readlink(self.root + "/opt/app/current"), "/opt/app/app.conf")
        self.assertEqual(open(self.root + "/opt/app/seed").read(), "seeded\n")
        self.assertTrue(user_exists(USER) and group_exists(USER))
        self.assertIn(USER, [g.gr_name for g in grp.getgrall() if USER in g.gr_mem] + [USER])
        self.assertTrue(os.path.exists(os.path.join(self.fakebin, "active.fakeapp")))
        # Started in this run: the notify from the new config adds no restart.
        self.assertNotIn("restart fakeapp", " ".join(self.calls()))

        rc, report, err = self.apply()
        self.assertEqual(rc, 0, err)
        self.assertEqual(set(self.outcomes(report).values()), {"UNCHANGED"}, self.outcomes(report))
        # Nothing the compile read changed: the compile cache in state_dir served it.
        self.assertIn("compile=cached", err)

        self.write_module(conf="v2")
        rc, report, err = self.apply("--noop")
        self.assertEqual(rc, 0, err)
        self.assertIn("compile=compiled", err)
        self.assertEqual(self.outcomes(report)["file:/opt/app/app.conf"], "WOULD_CHANGE")
        with open(self.root + "/opt/app/app.conf") as f:
            self.assertEqual(f.read(), "v1")
        calls_before = len(self.calls())
        self.assertFalse(any(c.startswith(("restart", "start", "stop")) for c in
                             self.calls()[calls_before:]))

        rc, report, err = self.apply()
        self.assertEqual(rc, 0, err)
        self.assertEqual(open(self.root + "/opt/app/app.conf").read(), "v2")
        self.assertEqual(self.outcomes(report)["service:fakeapp"], "CHANGED")
        self.assertTrue(any("restart" in c and "fakeapp" in c for c in self.calls()))

        # ensure: absent removes the throwaway user, then its group (ordered explicitly, as a
        # group cannot go while it is a user's primary group): the machine is as it was.
        with open(os.path.join(self.repo, "modules/m/module.yaml"), "w") as f:
            f.write("resources:\n  - user: %s\n    ensure: absent\n  - group: %s\n"
                    "    ensure: absent\n    require: [user:%s]\n" % (USER, USER, USER))
        rc, report, err = self.apply()
        self.assertEqual(rc, 0, err)
        self.assertFalse(user_exists(USER))
        self.assertFalse(group_exists(USER))

    def test_failed_resource_skips_dependents_and_exits_one(self):
        with open(os.path.join(self.repo, "modules/m/module.yaml"), "w") as f:
            f.write("""resources:
  - exec: broken
    command: "exit 3"
  - file: /after-broken
    content: "x"
    require: [exec:broken]
  - file: /independent
    content: "y"
""")
        rc, report, err = self.apply()
        self.assertEqual(rc, 1)
        out = self.outcomes(report)
        self.assertEqual(out["exec:broken"], "FAILED")
        self.assertEqual(out["file:/after-broken"], "SKIPPED")
        self.assertEqual(out["file:/independent"], "CHANGED")
        self.assertFalse(os.path.exists(self.root + "/after-broken"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
