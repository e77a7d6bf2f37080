"""The `phalanx` binary's contract with whoever runs it: flags, exit codes,
configuration errors, and signals.

- --help and --version exit 0.
- A bad flag or a bad configuration (unknown key, wrong type, bad address,
  missing file) exits 2 with one line on stderr that names the problem, and
  starts nothing.
- SIGTERM drains and exits 0; a second signal while draining exits at once.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster, binary, free_ports, node_toml, retry  # noqa: E402


def run(args, timeout=20):
    return subprocess.run([binary()] + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class Flags(unittest.TestCase):
    def test_help_and_version_exit_zero(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--config", r.stdout)
        r = run(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^phalanx \S+\n$")

    def test_bad_flag_exits_2_naming_it(self):
        r = run(["--no-such-flag"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--no-such-flag", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_missing_config_flag_exits_2(self):
        r = run([])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--config", r.stderr)


class BadConfig(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="phalanx-cli-")
        self.data = os.path.join(self.dir, "data")
        resp, raft, swim = free_ports(3)
        # The bad configs below are edits of this text (its last section is
        # [membership]; each header is followed by its keys).
        self.good = node_toml({
            "node": {"id": "n1", "data_dir": self.data},
            "resp": {"listen": "127.0.0.1:%d" % resp},
            "raft": {"listen": "127.0.0.1:%d" % raft,
                     "initial_cluster": ["n1=127.0.0.1:%d" % raft]},
            "membership": {"listen": "127.0.0.1:%d" % swim},
        })

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def expect_refused(self, text, *needles):
        path = os.path.join(self.dir, "bad.toml")
        with open(path, "w") as f:
            f.write(text)
        r = run(["--config", path])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertFalse(os.path.exists(self.data), "a refused config must create nothing")

    def test_unknown_key(self):
        self.expect_refused(self.good + "tick_mss = 5\n", "membership.tick_mss")

    def test_unknown_section(self):
        self.expect_refused(self.good + "[rafts]\n", "[rafts]")

    def test_wrong_type(self):
        self.expect_refused(self.good.replace("[raft]\n", '[raft]\ntick_ms = "fast"\n'),
                            "raft.tick_ms", "integer")

    def test_bad_address(self):
        self.expect_refused(self.good.replace('[resp]\nlisten = "127.0.0.1:',
                                              '[resp]\nlisten = "127.0.0.1:9999'),
                            "resp.listen", "bad address")

    def test_syntax_error(self):
        self.expect_refused(self.good + "[raft\n", "bad.toml")

    def test_missing_file(self):
        r = run(["--config", os.path.join(self.dir, "nope.toml")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope.toml", r.stderr)

    def test_the_good_config_starts(self):
        # The control: the same text without the defect runs and stops cleanly.
        path = os.path.join(self.dir, "good.toml")
        with open(path, "w") as f:
            f.write(self.good)
        p = subprocess.Popen([binary(), "--config", path], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not os.path.exists(self.data):
                time.sleep(0.05)
            self.assertTrue(os.path.exists(self.data))
            time.sleep(0.5)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


class Signals(unittest.TestCase):
    def test_second_signal_while_draining_exits_at_once(self):
        # One node of a three-node cluster, alone: a write waits for a quorum
        # that never comes, so SIGTERM's drain has in-flight work to wait for.
        c = Cluster(3, request_timeout_ms=8000)
        try:
            c.start()
            n1 = c.nodes[0]
            for n in c.nodes[1:]:
                n.kill()
            retry(lambda: n1.client(timeout=2).ping(), what="n1 answers PING")
            result = {}

            def write():
                try:
                    result["reply"] = n1.client(timeout=15).set("k", "v")
                except Exception as e:  # noqa: BLE001: any outcome; only the exit matters
                    result["error"] = e
            t = threading.Thread(target=write)
            t.start()
            time.sleep(0.5)  # the write is in flight
            n1.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertTrue(n1.alive(), "drain should still be waiting for the write")
            start = time.monotonic()
            n1.proc.send_signal(signal.SIGTERM)
            rc = n1.proc.wait(timeout=10)
            elapsed = time.monotonic() - start
            t.join(timeout=20)
            self.assertEqual(rc, 1)
            self.assertLess(elapsed, 5, "the second signal must not wait for the drain")
            self.assertIn("second signal", n1.log_text())
        finally:
            c.teardown()

    def test_sigterm_stops_cleanly_and_keeps_acknowledged_writes(self):
        c = Cluster(1)
        try:
            c.start()
            n1 = c.wait_ready()
            self.assertTrue(n1.client().set("kept", "yes"))
            self.assertEqual(n1.stop(), 0)
            self.assertIn("stopped cleanly", n1.log_text())
            n1.start()
            c.wait_ready()
            self.assertEqual(n1.client().get("kept"), "yes")
        finally:
            c.teardown()


if __name__ == "__main__":
    unittest.main()
