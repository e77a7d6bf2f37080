"""Integration: existing Redis clients against a real 3-node cluster.

redis-cli (scripted), redis-benchmark (a short run), Python redis with
pipelines; SET on one node and GET on each other; TTL expiry seen on every
node; INCR from 8 concurrent clients sums exactly; INFO's Raft section.
"""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster, retry  # noqa: E402


class RedisClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(3).start()
        cls.leader = cls.cluster.wait_ready()
        cls.nodes = cls.cluster.nodes

    @classmethod
    def tearDownClass(cls):
        cls.cluster.teardown()

    def cli(self, node, *args, stdin=None):
        out = subprocess.run(["redis-cli", "-p", str(node.resp_port)] + list(args),
                             input=stdin, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_redis_cli_set_on_one_node_get_on_each_other(self):
        self.assertEqual(self.cli(self.nodes[0], "SET", "cli-key", "hello world"), "OK\n")
        for n in self.nodes[1:]:
            self.assertEqual(self.cli(n, "GET", "cli-key"), "hello world\n")
        self.assertEqual(self.cli(self.nodes[2], "GET", "no-such-key"), "\n")
        self.assertEqual(self.cli(self.nodes[1], "DEL", "cli-key", "no-such-key"), "1\n")

    def test_redis_cli_pipe_of_scripted_commands(self):
        script = "".join("SET pipe:%d %d\n" % (i, i) for i in range(200)) + "GET pipe:199\n"
        out = self.cli(self.nodes[1], stdin=script)
        lines = out.split("\n")
        self.assertEqual(lines[:200], ["OK"] * 200)
        self.assertEqual(lines[200], "199")

    def test_python_pipeline_replies_in_order(self):
        c = self.nodes[2].client()
        p = c.pipeline(transaction=False)
        for i in range(100):
            p.set("py:%d" % i, "v%d" % i)
            p.get("py:%d" % i)
        replies = p.execute()
        self.assertEqual(replies[0::2], [True] * 100)
        self.assertEqual(replies[1::2], ["v%d" % i for i in range(100)])

    def test_ttl_expiry_is_seen_on_every_node(self):
        self.assertTrue(self.nodes[0].client().set("ttl-key", "x", px=1500))
        for n in self.nodes:
            self.assertEqual(n.client().get("ttl-key"), "x")
            self.assertGreater(n.client().pttl("ttl-key"), 0)
        time.sleep(1.7)
        for n in self.nodes:
            self.assertIsNone(n.client().get("ttl-key"), "expired key visible on " + n.name)
            self.assertEqual(n.client().exists("ttl-key"), 0)

    def test_incr_from_eight_concurrent_clients_sums_exactly(self):
        per_client = 100
        errors = []

        def work(node):
            c = node.client()
            try:
                for _ in range(per_client):
                    c.incr("shared-counter")
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work, args=(self.nodes[i % 3],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        for n in self.nodes:
            self.assertEqual(n.client().get("shared-counter"), str(8 * per_client))

    def test_redis_benchmark_short_run(self):
        out = subprocess.run(["redis-benchmark", "-p", str(self.leader.resp_port), "-t", "set,get",
                              "-n", "2000", "-c", "10", "-q"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.replace("\r", "\n")
        self.assertRegex(text, r"SET: [\d.]+ requests per second")
        self.assertRegex(text, r"GET: [\d.]+ requests per second")

    def test_info_raft_section(self):
        for n in self.nodes:
            info = n.client().info("raft")
            self.assertIn(info["role"], ("leader", "follower"))
            self.assertEqual(info["node_id"], n.name)
            self.assertEqual(info["leader_id"], self.leader.name)
            self.assertEqual(info["voters"], "n1,n2,n3")
            for field in ("term", "commit_index", "applied_index"):
                self.assertIsInstance(info[field], int)

    def test_no_leader_answers_clusterdown_within_the_request_timeout(self):
        cluster = Cluster(3, request_timeout_ms=1500).start()
        try:
            cluster.wait_ready()
            cluster.nodes[0].kill()
            cluster.nodes[1].kill()
            survivor = cluster.nodes[2]
            # A leader left alone steps down (check-quorum) within an election timeout.
            retry(lambda: (survivor.raft_info() or {}).get("leader_id", "x") == "",
                  timeout=20, what="the survivor knowing it has no leader")
            c = survivor.client(timeout=10)
            start = time.monotonic()
            with self.assertRaises(Exception) as ctx:
                c.set("k", "v")
            elapsed = time.monotonic() - start
            self.assertIn("CLUSTERDOWN", str(ctx.exception))
            self.assertLess(elapsed, 5.0)
            with self.assertRaises(Exception) as ctx:
                c.get("k")
            self.assertIn("CLUSTERDOWN", str(ctx.exception))
        finally:
            cluster.teardown()


if __name__ == "__main__":
    unittest.main(verbosity=2)
