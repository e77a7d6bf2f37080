"""Integration: real phalanx processes on loopback, talked to with redis-py.

What a user relies on: a write through any node is readable through every
node; killing the leader loses no acknowledged write and a new leader comes
quickly; a follower that was down catches up (through a snapshot when the log
was compacted); a node of another cluster is refused; a full restart keeps
everything.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster, Node, free_ports, retry  # noqa: E402


class ThreeNodeCluster(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, snapshot_entries=64).start()
        self.leader = self.cluster.wait_ready()

    def tearDown(self):
        self.cluster.teardown()

    def test_write_through_any_node_is_readable_through_every_node(self):
        for i, n in enumerate(self.cluster.nodes):
            self.assertTrue(n.client().set("key-%d" % i, "value-%d" % i))
        for n in self.cluster.nodes:
            c = n.client()
            for i in range(len(self.cluster.nodes)):
                self.assertEqual(c.get("key-%d" % i), "value-%d" % i, "read on " + n.name)

    def test_leader_kill_elects_new_leader_and_loses_no_acknowledged_write(self):
        acked = {}
        c = self.cluster.nodes[0].client()
        for i in range(100):
            key, value = "k%d" % i, "v%d" % i
            if c.set(key, value):
                acked[key] = value
        self.assertEqual(len(acked), 100)
        old = self.leader
        killed_at = time.monotonic()
        old.kill()
        survivors = [n for n in self.cluster.nodes if n is not old]

        def new_leader():
            infos = [n.raft_info() for n in survivors]
            leaders = {i.get("leader_id") for i in infos if i}
            if len(leaders) == 1 and "" not in leaders and old.name not in leaders:
                return leaders.pop()
            return None

        name = retry(new_leader, timeout=30, interval=0.02, what="a new leader")
        elapsed = time.monotonic() - killed_at
        # An election timeout is randomized in [T, 2T); allow two of the longest.
        bound = 2 * 2 * self.cluster.election_timeout_s()
        print("new leader %s after %.3fs (bound %.3fs)" % (name, elapsed, bound))
        self.assertLess(elapsed, bound)
        for n in survivors:
            c = n.client()
            for key, value in acked.items():
                self.assertEqual(c.get(key), value, "after failover, on " + n.name)
        # The cluster still takes writes with one node down.
        self.assertTrue(survivors[0].client().set("after", "failover"))

    def test_restarted_follower_catches_up_through_a_snapshot(self):
        follower = next(n for n in self.cluster.nodes if n is not self.leader)
        follower.kill()
        c = self.leader.client()
        for i in range(400):  # several snapshots' worth at snapshot_entries=64
            self.assertTrue(c.set("s%d" % i, "x" * 100 + str(i)))
        persistence = self.leader.client().info("persistence")
        self.assertGreater(int(persistence.get("log_entries_compacted", 0)), 0, persistence)
        follower.start()
        leader_commit = int(self.leader.raft_info()["commit_index"])
        retry(lambda: (follower.raft_info() or {}).get("applied_index", 0) >= leader_commit,
              timeout=30, what="follower catching up")
        fc = follower.client()
        for i in (0, 199, 399):
            self.assertEqual(fc.get("s%d" % i), "x" * 100 + str(i))
        self.assertIn("installed snapshot", follower.log_text())

    def test_node_of_another_cluster_is_refused(self):
        term_before = int(self.leader.raft_info()["term"])
        resp, raft, swim = free_ports(3)
        target = self.cluster.nodes[0]
        stranger = Node(self.cluster, "n2", resp, raft, swim)  # a name our cluster knows
        stranger.name = "n2"
        stranger.log_path = os.path.join(self.cluster.dir, "stranger.log")
        stranger.config_path = os.path.join(self.cluster.dir, "stranger.toml")
        stranger.data_dir = os.path.join(self.cluster.dir, "data", "stranger")
        stranger.write_config(["n2=127.0.0.1:%d" % raft, "n1=127.0.0.1:%d" % target.raft_port])
        stranger.start()
        try:
            retry(lambda: "cluster" in target.log_text() and "refus" in target.log_text().lower(),
                  timeout=20, what="the stranger being refused")
            time.sleep(4 * self.cluster.election_timeout_s())
            info = self.cluster.leader().raft_info()
            self.assertEqual(info["leader_id"], self.leader.name)
            self.assertEqual(int(info["term"]), term_before)
            self.assertEqual(info["voters"], "n1,n2,n3")
        finally:
            stranger.kill()

    def test_admin_commands_snapshot_transfer_and_remove(self):
        leader = self.cluster.leader()
        c = leader.client()
        self.assertIn("SNAPSHOT", c.execute_command("PHALANX", "HELP"))
        for i in range(20):
            c.set("a%d" % i, i)
        self.assertTrue(c.execute_command("PHALANX", "SNAPSHOT"))
        with self.assertRaises(Exception) as e:
            c.execute_command("PHALANX", "TRANSFER", "nobody")
        self.assertIn("no such node", str(e.exception))
        with self.assertRaises(Exception) as e:
            c.execute_command("PHALANX", "FROB")
        self.assertIn("unknown subcommand", str(e.exception))
        target = next(n for n in self.cluster.nodes if n is not leader)
        self.assertTrue(c.execute_command("PHALANX", "TRANSFER", target.name))
        retry(lambda: (target.raft_info() or {}).get("role") == "leader", timeout=15,
              what="leadership moved to " + target.name)
        # Remove the old leader through the new one; the rest keep serving.
        tc = target.client()
        self.assertTrue(tc.execute_command("PHALANX", "REMOVE", leader.name))
        retry(lambda: leader.name not in (target.raft_info() or {}).get("voters", ""), timeout=15,
              what=leader.name + " removed")
        self.assertTrue(tc.set("after-remove", "1"))
        other = next(n for n in self.cluster.nodes if n not in (leader, target))
        retry(lambda: other.client().get("after-remove") == "1", timeout=15,
              what="write visible on the remaining follower")

    def test_full_cluster_restart_keeps_everything(self):
        c = self.leader.client()
        for i in range(50):
            self.assertTrue(c.set("r%d" % i, str(i)))
        self.assertEqual(c.incr("counter"), 1)
        for n in self.cluster.nodes:
            self.assertEqual(n.stop(), 0, "clean exit of " + n.name)
        self.cluster.start()
        self.cluster.wait_ready()
        for n in self.cluster.nodes:
            cl = n.client()
            self.assertEqual([cl.get("r%d" % i) for i in range(50)], [str(i) for i in range(50)])
        self.assertEqual(self.cluster.nodes[1].client().incr("counter"), 2)


class FiveNodeCluster(unittest.TestCase):
    def test_five_nodes_replicate_and_survive_two_failures(self):
        cluster = Cluster(5).start()
        try:
            leader = cluster.wait_ready()
            self.assertTrue(cluster.nodes[4].client().set("five", "nodes"))
            followers = [n for n in cluster.nodes if n is not leader]
            followers[0].kill()
            followers[1].kill()
            self.assertTrue(leader.client().set("three", "left"))
            for n in cluster.nodes:
                if n.alive():
                    self.assertEqual(n.client().get("five"), "nodes")
                    self.assertEqual(n.client().get("three"), "left")
        finally:
            cluster.teardown()


if __name__ == "__main__":
    unittest.main(verbosity=2)
