"""The fleet benchmark's own harness, small: bench/fleet.sh with FLEET_TLS=1 runs a real server
on its built-in CA and loadgen's simulated agents over mutual TLS (each its own connection and
a certificate minted from that CA), through connect, a commit and its reports. Keeps the
benchmark that measures issue 18's TLS rows working; the numbers themselves are not checked."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from plumb_e2e import BIN  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class FleetBenchTest(unittest.TestCase):

    def test_small_fleet_over_mutual_tls_gets_the_commit_everywhere(self):
        env = dict(os.environ, FLEET_TLS="1", FLEET_DURATION="120s", FLEET_RAMP="0",
                   PLUMB_BUILD_DIR=os.path.dirname(BIN))
        run = subprocess.run(["bash", os.path.join(SRC, "bench", "fleet.sh"), "30"], env=env,
                             cwd=SRC, capture_output=True, text=True, timeout=240)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("mutual TLS: 1", run.stdout)
        self.assertIn("minted 30 agent certificates", run.stdout)
        # Every agent received the commit's catalog and had its report acknowledged.
        self.assertRegex(run.stdout, r"commit: server fetched -> report acked \| 30/30")
        self.assertRegex(run.stdout, r"broken streams: 0")

    def test_a_missing_ca_directory_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            run = subprocess.run([os.path.join(BIN, "loadgen"), "--agents", "2",
                                  "--server", "127.0.0.1:1", "--duration", "5s",
                                  "--tls-ca-dir", tmp], capture_output=True, text=True,
                                 timeout=60)
        self.assertEqual(run.returncode, 1)
        self.assertTrue(re.search(r"--tls-ca-dir: cannot read .*/ca\.pem", run.stdout),
                        run.stdout + run.stderr)


if __name__ == "__main__":
    unittest.main()
