"""Integration: no request of any size can make the cluster unavailable.

A value is either replicated (and read back identically on every node) or
refused before it enters the log, with an error naming raft.max_entry_bytes.
After each large request, ordinary writes through every node succeed within
one election timeout. The same holds with a follower killed and restarted
while large values are in the log, and when it catches up by a snapshot that
carries large values while more arrive.

Prints each node's peak RSS (VmHWM) after the largest accepted value.
"""
import hashlib
import os
import sys
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster, retry  # noqa: E402

MIB = 1 << 20
LIMIT = 16 * MIB  # raft.max_entry_bytes, the default
# The largest value a SET may carry: the entry adds the key and a few bytes of framing.
LARGEST = LIMIT - 1024


def value_of(size, seed):
    """`size` bytes that differ from one seed to the next (not all one byte)."""
    block = hashlib.sha256(b"%d" % seed).digest() * (MIB // 32)
    out = block * (size // len(block)) + block[: size % len(block)]
    assert len(out) == size
    return out


def peak_rss_kb(node):
    with open("/proc/%d/status" % node.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


class LargeValues(unittest.TestCase):
    def setUp(self):
        # The default timing (100 ms ticks, 10-tick elections): what users run.
        self.cluster = Cluster(3, tick_ms=100, election_ticks=10, request_timeout_ms=10000,
                               snapshot_entries=200).start()
        self.leader = self.cluster.wait_ready()
        self.et = self.cluster.election_timeout_s()

    def tearDown(self):
        self.cluster.teardown()

    def client(self, node, timeout=60):
        return redis.Redis(host="127.0.0.1", port=node.resp_port, socket_timeout=timeout,
                           socket_connect_timeout=10)

    def followers(self):
        return [n for n in self.cluster.nodes if n is not self.leader and n.alive()]

    def assert_cluster_writes(self, what):
        """Ordinary writes through every live node succeed within one election timeout."""
        for n in self.cluster.nodes:
            if not n.alive():
                continue
            start = time.monotonic()
            c = self.client(n, timeout=self.et * 2)
            ok = False
            last = None
            while time.monotonic() - start < self.et and not ok:
                try:
                    ok = c.set("small", "after " + what) is True
                except (redis.exceptions.ResponseError, redis.exceptions.ConnectionError,
                        redis.exceptions.TimeoutError) as e:
                    last = e
                    time.sleep(0.02)
            self.assertTrue(ok, "after %s, a small write through %s failed for one election "
                            "timeout (last error: %r); logs in %s" % (what, n.name, last,
                                                                      self.cluster.dir))

    def assert_everywhere(self, key, want):
        digest = hashlib.sha256(want).hexdigest()
        for n in self.cluster.nodes:
            if not n.alive():
                continue
            got = retry(lambda: self.client(n).get(key), timeout=30, what=key + " on " + n.name)
            self.assertEqual(len(got), len(want), key + " on " + n.name)
            self.assertEqual(hashlib.sha256(got).hexdigest(), digest, key + " on " + n.name)

    def test_every_size_is_replicated_or_refused_through_leader_and_follower(self):
        seed = 0
        for via in ("leader", "follower"):
            node = self.leader if via == "leader" else self.followers()[0]
            for size in (1 * MIB, 4 * MIB, LARGEST):
                seed += 1
                key = "v-%s-%d" % (via, size)
                v = value_of(size, seed)
                self.assertTrue(self.client(node).set(key, v), key)
                self.assert_everywhere(key, v)
                self.assert_cluster_writes("%d B via the %s" % (size, via))
            for size in (LIMIT + 1, 64 * MIB, 256 * MIB):
                key = "refused-%s-%d" % (via, size)
                before = peak_rss_kb(node)
                c = self.client(node)
                with self.assertRaises(redis.exceptions.ResponseError) as cm:
                    c.set(key, b"r" * size)
                self.assertIn("raft.max_entry_bytes (%d)" % LIMIT, str(cm.exception))
                self.assertTrue(str(cm.exception).startswith("request is too large"),
                                str(cm.exception))
                # Read and dropped as it arrived: the node never held it whole,
                # and the same connection goes on.
                grown_mib = (peak_rss_kb(node) - before) / 1024
                self.assertLess(grown_mib, 32, "refusing %d B raised the peak RSS of %s by "
                                "%.0f MiB" % (size, node.name, grown_mib))
                self.assertTrue(c.ping())
                for n in self.cluster.nodes:
                    self.assertIsNone(self.client(n).get(key), "a refused value is absent")
                self.assert_cluster_writes("a refused %d B SET via the %s" % (size, via))
        # One pipeline of several large values: cut into batches, all applied in order.
        p = self.client(self.followers()[0]).pipeline(transaction=False)
        values = [value_of(6 * MIB, 100 + i) for i in range(5)]
        for i, v in enumerate(values):
            p.set("piped-%d" % i, v)
        p.set("piped-too-large", b"x" * (LIMIT + 1))
        p.append("piped-0", b"tail")
        results = p.execute(raise_on_error=False)
        self.assertEqual(results[:5], [True] * 5)
        self.assertIsInstance(results[5], redis.exceptions.ResponseError)
        self.assertEqual(results[6], 6 * MIB + 4)
        self.assert_everywhere("piped-0", values[0] + b"tail")
        self.assert_everywhere("piped-4", values[4])
        self.assert_cluster_writes("a pipeline of large values")
        print("peak RSS per node after %d B values (kB): %s" % (
            LARGEST, ", ".join("%s=%d" % (n.name, peak_rss_kb(n)) for n in self.cluster.nodes)),
            flush=True)

    def test_restarted_follower_catches_up_by_appends_and_by_snapshot(self):
        victim = self.followers()[0]
        # 1. Killed with large values in the log: it catches up by appends.
        victim.kill()
        a = value_of(LARGEST, 1)
        self.assertTrue(self.client(self.leader).set("while-down", a))
        self.assert_cluster_writes("a large value with a follower down")
        victim.start()
        self.assert_everywhere("while-down", a)
        self.assert_cluster_writes("the follower's restart")

        # 2. Down again while the leader compacts its log past it: it comes back
        # through a snapshot that carries large records (sent in pieces), and
        # more large values arrive while the snapshot streams.
        victim.kill()
        values = {}
        c = self.client(self.leader)
        for i in range(3):
            values["snap-%d" % i] = value_of(8 * MIB, 10 + i)
            self.assertTrue(c.set("snap-%d" % i, values["snap-%d" % i]))
        p = c.pipeline(transaction=False)
        for i in range(400):
            p.set("filler-%d" % i, "x" * 100)
        self.assertEqual(p.execute(), [True] * 400)
        self.assertEqual(c.execute_command("PHALANX", "SNAPSHOT"), b"OK")
        victim.start()
        during = value_of(LARGEST, 99)
        self.assertTrue(c.set("during-snapshot", during))
        for key, v in values.items():
            self.assert_everywhere(key, v)
        self.assert_everywhere("during-snapshot", during)
        self.assertIn("installed snapshot", victim.log_text(),
                      "the follower caught up by a snapshot")
        self.assert_cluster_writes("a snapshot catch-up with large values")


if __name__ == "__main__":
    unittest.main(verbosity=2)
