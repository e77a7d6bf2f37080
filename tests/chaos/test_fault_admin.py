"""PHALANX FAULT on real nodes: refused unless raft.fault_injection is on;
with it on, isolating the leader makes the others elect a new one, and the
isolated node serves no write until HEAL. Needs PHALANX_BIN (CTest sets it).
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import redis  # noqa: E402

from phalanx_cluster import Cluster, retry  # noqa: E402


def admin(node, *args):
    return node.client(timeout=5).execute_command("PHALANX", *args)


class FaultAdmin(unittest.TestCase):
    def make(self, enabled):
        c = Cluster(3)
        self.addCleanup(c.teardown)
        if enabled:
            members = ["%s=127.0.0.1:%d" % (x.name, x.raft_port) for x in c.nodes]
            for x in c.nodes:
                x.write_config(members, raft={"fault_injection": True})
        c.start()
        return c, c.wait_ready()

    def test_refused_when_disabled(self):
        c, leader = self.make(enabled=False)
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "fault injection is disabled"):
            admin(leader, "FAULT", "ISOLATE", "n2")
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "fault injection is disabled"):
            admin(leader, "FAULT", "HEAL")

    def test_isolated_leader_is_replaced_and_heals(self):
        c, leader = self.make(enabled=True)
        others = [x for x in c.nodes if x is not leader]
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "wrong number"):
            admin(leader, "FAULT", "ISOLATE")
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "itself"):
            admin(leader, "FAULT", "ISOLATE", leader.name)
        self.assertEqual(admin(leader, "FAULT", "STATUS"), "in=[] out=[]")
        # Symmetric cut, set from both sides as the chaos harness does.
        admin(leader, "FAULT", "ISOLATE", *[x.name for x in others])
        for x in others:
            admin(x, "FAULT", "ISOLATE", leader.name, "BOTH")

        def new_leader():
            i = others[0].raft_info()
            return i and i.get("role") in ("leader", "follower") and \
                str(i.get("leader_id")) not in ("", leader.name)
        retry(new_leader, timeout=20, what="a new leader among the majority")
        self.assertTrue(others[0].client().set("k", "majority"))
        # The isolated old leader cannot commit: an error or a timeout, never OK.
        try:
            ok = leader.client(timeout=8).set("k", "minority")
        except (redis.exceptions.ResponseError, redis.exceptions.TimeoutError,
                redis.exceptions.ConnectionError):
            ok = False
        self.assertFalse(ok)
        for x in c.nodes:
            admin(x, "FAULT", "HEAL")
        retry(lambda: leader.client().get("k") == "majority", timeout=20,
              what="the healed node reads the majority's write")
        # Cumulative one-way rule and STATUS.
        admin(others[0], "FAULT", "ISOLATE", leader.name, "IN")
        self.assertIn("out=[]", admin(others[0], "FAULT", "STATUS"))
        admin(others[0], "FAULT", "HEAL")
        time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
