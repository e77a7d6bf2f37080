"""Integration: nodes join through SWIM seeds and the Raft leader takes them in.

Three nodes are bootstrapped with an initial_cluster; two more start with only
`membership.seeds`. They must learn the cluster id by gossip, be added as
learners and promoted to voters while voters < raft.max_voters (learners past
it, still serving reads and forwarding writes). A killed node shows as dead in
INFO "# Membership" and stays a voter unless membership.auto_remove_dead_after
is set; restarted, it is alive again with a higher incarnation and catches
up. PHALANX LEAVE on the leader hands leadership over and removes it. The
joiners start from an empty log: their configuration must list the
bootstrap voters (a node that replayed the log from index 1 would not know
them).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster, retry  # noqa: E402

PERIOD_MS = 100  # SWIM period: detection within a few seconds


def write_config(node, initial_cluster, seeds, max_voters, auto_remove=0, leave=False):
    node.write_config(initial_cluster,
                      resp={"threads": 1},
                      raft={"max_voters": max_voters},
                      membership={"seeds": list(seeds), "period_ms": PERIOD_MS,
                                  "auto_remove_dead_after": auto_remove,
                                  "leave_on_shutdown": leave})


def section(node, name):
    try:
        return node.client(timeout=2).info(name)
    except Exception:
        return None


def raft_ids(node, field):
    """The sorted ids INFO raft lists in `field` ("voters", "learners")."""
    info = section(node, "raft")
    if not info:
        return None
    v = info.get(field)
    return sorted(str(v).split(",")) if v else []


def voters(node):
    return raft_ids(node, "voters")


def learners(node):
    return raft_ids(node, "learners")


def member_states(node):
    """{id: state} from INFO membership."""
    info = section(node, "membership")
    if not info:
        return {}
    out = {}
    for k, v in info.items():
        if k.startswith("member") and isinstance(v, dict):
            out[v["id"]] = v["state"]
    return out


def incarnation(node, member):
    info = section(node, "membership") or {}
    for k, v in info.items():
        if k.startswith("member") and isinstance(v, dict) and v["id"] == member:
            return int(v["incarnation"])
    return None


class GossipJoin(unittest.TestCase):
    def make(self, max_voters, auto_remove=0):
        self.cluster = Cluster(5, tick_ms=50, election_ticks=10)
        nodes = self.cluster.nodes
        boot = ["%s=127.0.0.1:%d" % (x.name, x.raft_port) for x in nodes[:3]]
        seeds = ["127.0.0.1:%d" % x.swim_port for x in nodes[:3]]
        for x in nodes[:3]:
            write_config(x, boot, seeds, max_voters, auto_remove)
        for x in nodes[3:]:
            write_config(x, [], seeds, max_voters, auto_remove)
        for x in nodes[:3]:
            x.start()
        self.cluster.nodes = nodes[:3]
        self.cluster.wait_ready()
        self.cluster.nodes = nodes
        return nodes

    def tearDown(self):
        if hasattr(self, "cluster"):
            self.cluster.keep = bool(os.environ.get("PHALANX_KEEP"))
            self.cluster.teardown()

    def test_joiners_become_voters_and_a_dead_voter_stays(self):
        nodes = self.make(max_voters=5)
        for x in nodes[3:]:
            x.start()
        everyone = ["n1", "n2", "n3", "n4", "n5"]
        for x in nodes:
            retry(lambda: voters(x) == everyone, timeout=40,
                  what="five voters seen by " + x.name)
        # The joiners' configuration came from a snapshot: the bootstrap voters
        # are in it (checked above on n4 and n5 too), and they are not learners.
        self.assertEqual(learners(nodes[3]), [])

        self.assertTrue(retry(lambda: nodes[3].client().set("joined", "yes"), timeout=15,
                              what="write through n4"))
        for x in nodes:
            self.assertEqual(retry(lambda: x.client().get("joined"), timeout=15,
                                   what="read on " + x.name), "yes")
        members = nodes[0].client().execute_command("PHALANX", "MEMBERS")
        self.assertIn("n5 alive", members)
        self.assertIn("role=voter", members)

        nodes[4].kill()
        for x in nodes[:4]:
            retry(lambda: member_states(x).get("n5") == "dead", timeout=30,
                  what="n5 dead on " + x.name)
        # Off by default: a dead voter is shown dead, never removed for it.
        time.sleep(1.0)
        for x in nodes[:4]:
            self.assertEqual(voters(x), everyone)
        self.assertTrue(nodes[1].client().set("after", "kill"))

        # Restarted, it is alive again with a higher incarnation and catches up.
        before = incarnation(nodes[0], "n5")
        seeds = ["127.0.0.1:%d" % x.swim_port for x in nodes[:3]]
        write_config(nodes[4], [], seeds, 5, leave=True)  # for the SIGTERM below
        nodes[4].start()
        retry(lambda: member_states(nodes[0]).get("n5") == "alive", timeout=30, what="n5 back")
        self.assertGreater(incarnation(nodes[0], "n5"), before)
        self.assertEqual(retry(lambda: nodes[4].client().get("after"), timeout=20,
                               what="n5 caught up"), "kill")
        self.assertEqual(voters(nodes[4]), everyone)

        # PHALANX LEAVE on the leader: leadership moves first, then the new
        # leader removes it; the reply comes once it saw its own removal.
        leader = self.cluster.node(section(nodes[0], "raft")["leader_id"])
        self.assertEqual(leader.client(timeout=30).execute_command("PHALANX", "LEAVE"), "OK")
        rest = [x for x in nodes[:4] if x is not leader]
        stay = sorted(x.name for x in rest) + ["n5"]
        rest.append(nodes[4])
        for x in rest:
            retry(lambda: voters(x) == sorted(stay), timeout=20, what="leaver gone on " + x.name)
            retry(lambda: member_states(x).get(leader.name) == "left", timeout=20,
                  what="leaver shown left on " + x.name)
        self.assertTrue(retry(lambda: rest[0].client().set("after", "leave"), timeout=15,
                              what="write after the leave"))

        # membership.leave_on_shutdown: SIGTERM leaves the cluster first.
        self.assertEqual(nodes[4].stop(timeout=30), 0)
        rest.remove(nodes[4])
        for x in rest:
            self.assertNotIn("n5", voters(x))
            retry(lambda: member_states(x).get("n5") == "left", timeout=20,
                  what="n5 shown left on " + x.name)

    def test_a_single_seed_node_grows_into_five_voters(self):
        # Only n1 has an initial_cluster (itself); n2..n5 know only its SWIM
        # address. One conf change at a time, all four join and are promoted.
        self.cluster = Cluster(5, tick_ms=50, election_ticks=10)
        nodes = self.cluster.nodes
        seeds = ["127.0.0.1:%d" % nodes[0].swim_port]
        write_config(nodes[0], ["n1=127.0.0.1:%d" % nodes[0].raft_port], seeds, 5)
        for x in nodes[1:]:
            write_config(x, [], seeds, 5)
        nodes[0].start()
        self.cluster.nodes = nodes[:1]
        self.cluster.wait_ready()
        self.cluster.nodes = nodes
        self.assertTrue(nodes[0].client().set("before-join", "1"))
        for x in nodes[1:]:
            x.start()
        everyone = ["n1", "n2", "n3", "n4", "n5"]
        for x in nodes:
            retry(lambda: voters(x) == everyone, timeout=60, what="five voters seen by " + x.name)
        for x in nodes:
            self.assertEqual(retry(lambda: x.client().get("before-join"), timeout=15,
                                   what="read on " + x.name), "1")
        # Now a real 5-voter cluster: it survives the loss of its founder.
        nodes[0].kill()
        self.assertTrue(retry(lambda: nodes[2].client().set("after-founder", "1"), timeout=30,
                              what="write after n1 died"))
        self.assertEqual(retry(lambda: nodes[4].client().get("after-founder"), timeout=15,
                               what="read on n5"), "1")

    def test_past_max_voters_learner_serves_and_dead_voter_auto_removed(self):
        nodes = self.make(max_voters=4, auto_remove=1)
        nodes[3].start()
        for x in nodes[:4]:
            retry(lambda: voters(x) == ["n1", "n2", "n3", "n4"], timeout=40,
                  what="n4 a voter on " + x.name)
        nodes[4].start()
        for x in nodes:
            retry(lambda: learners(x) == ["n5"], timeout=40, what="n5 a learner on " + x.name)
        self.assertEqual(section(nodes[4], "raft")["role"], "learner")
        # The learner forwards writes and serves linearizable reads.
        self.assertTrue(retry(lambda: nodes[4].client().set("via-learner", "1"), timeout=15,
                              what="write through the learner"))
        self.assertEqual(nodes[0].client().get("via-learner"), "1")
        nodes[0].client().set("to-learner", "2")
        self.assertEqual(nodes[4].client().get("to-learner"), "2")

        # n4 dies: with auto_remove_dead_after it leaves the configuration
        # (4 voters > 3 bootstrapped), then n5 has room and is promoted.
        nodes[3].kill()
        for x in (nodes[0], nodes[1], nodes[2], nodes[4]):
            retry(lambda: voters(x) == ["n1", "n2", "n3", "n5"], timeout=40,
                  what="n4 removed and n5 promoted on " + x.name)
        # n5 dies too: removed (4 voters > 3); then n3: never below the
        # three voters the cluster was bootstrapped with.
        nodes[4].kill()
        retry(lambda: voters(nodes[0]) == ["n1", "n2", "n3"], timeout=40, what="n5 removed")
        nodes[2].kill()
        retry(lambda: member_states(nodes[0]).get("n3") == "dead", timeout=30, what="n3 dead")
        time.sleep(2.0)
        self.assertEqual(voters(nodes[0]), ["n1", "n2", "n3"])
        self.assertEqual(voters(nodes[1]), ["n1", "n2", "n3"])

if __name__ == "__main__":
    unittest.main(verbosity=2)
