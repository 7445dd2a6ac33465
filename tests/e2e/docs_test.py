"""The docs match the binaries: docs/plumbctl.md carries `plumbctl --help` verbatim, and every
binary reports its version and the git commit it was built from."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN, SOURCE  # noqa: E402


class DocsTest(unittest.TestCase):

    def test_plumbctl_help_matches_docs(self):
        help_text = subprocess.run([os.path.join(BIN, "plumbctl"), "--help"], capture_output=True,
                                   text=True, check=True).stdout
        with open(os.path.join(SOURCE, "docs", "plumbctl.md")) as f:
            doc = f.read()
        m = re.search(r"## `plumbctl --help`.*?```text\n(.*?)```", doc, re.S)
        self.assertIsNotNone(m, "docs/plumbctl.md has no `plumbctl --help` block")
        self.assertEqual(m.group(1), help_text)

    def test_every_binary_prints_version_and_commit(self):
        for name in ("plumb-server", "plumb-agent", "plumbctl"):
            out = subprocess.run([os.path.join(BIN, name), "--version"], capture_output=True,
                                 text=True, check=True).stdout
            self.assertRegex(out, r"^%s \d+\.\d+\.\d+ \((?:[0-9a-f]{7,}|unknown)\)\n$" % name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
