#!/usr/bin/python3
"""Chaos runs against real phalanx clusters on loopback (issue #7).

A run starts a 3- or 5-node cluster with raft.fault_injection = true, drives
registers (SET/GET), counters (INCR/GET) and list-append (APPEND/GET) from
concurrent clients against random nodes while a nemesis kills, pauses,
restarts, partitions (via PHALANX FAULT) and reconfigures nodes; then heals,
crash-restarts every node, reads every key, and checks the history
(checker.py): linearizability per key and no lost acknowledged write.

  chaos.py --short                       CI: a few schedules x ~20 s (CTest label chaos)
  chaos.py --schedule mixed --nodes 5 --seconds 60 --seed 7
  chaos.py --minutes 30                  long mode: rotates through every schedule
  chaos.py --list                        the schedules

One line per run:
  run=<schedule> nodes=<n> seed=<s> ops=.. ok=.. indeterminate=.. violations=.. lost_writes=.. unknown=..
Histories and node logs are kept (path printed) when a run fails or with --keep.
Exit status: 0 when every run had no violation and no lost write.
"""
import argparse
import os
import random
import signal
import sys
import threading
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import redis  # noqa: E402

import checker  # noqa: E402
from checker import FAIL, INFO, OK, Op  # noqa: E402
import phalanx_cluster as pc  # noqa: E402

NET_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

REGISTER_KEYS = ["r0", "r1", "r2"]
COUNTER_KEYS = ["c0"]
APPEND_KEYS = ["a0", "a1"]
MODEL_OF = {**{k: "register" for k in REGISTER_KEYS}, **{k: "counter" for k in COUNTER_KEYS},
            **{k: "append" for k in APPEND_KEYS}}


def log(msg):
    print("[%8.3f] %s" % (time.monotonic() % 100000, msg), flush=True)


# ---------------------------------------------------------------------------
# Cluster control


class ChaosCluster:
    def __init__(self, n, rng, keep=False, extra_raft=()):
        self.c = pc.Cluster(n, tick_ms=50, election_ticks=10, request_timeout_ms=3000,
                            snapshot_entries=300, keep=keep)
        members = ["%s=127.0.0.1:%d" % (x.name, x.raft_port) for x in self.c.nodes]
        raft = {"fault_injection": True}
        for line in extra_raft:  # "key = value" TOML lines from --raft
            raft.update(tomllib.loads(line))
        for x in self.c.nodes:
            x.write_config(members, raft=raft)
        self.rng = rng
        self.paused = set()
        self.removed = set()  # names removed from the Raft configuration
        self.lock = threading.Lock()

    @property
    def nodes(self):
        return [x for x in self.c.nodes if x.name not in self.removed]

    def start(self):
        self.c.start()
        self.c.wait_ready(timeout=30)

    def reachable(self):
        return [x for x in self.nodes if x.alive() and x.name not in self.paused]

    def admin(self, node, *args, timeout=3):
        cl = redis.Redis(host="127.0.0.1", port=node.resp_port, socket_timeout=timeout,
                         socket_connect_timeout=timeout, decode_responses=True)
        try:
            return cl.execute_command("PHALANX", *args)
        finally:
            cl.close()

    def leader(self):
        """The leader most reachable nodes name, or None."""
        votes = {}
        for x in self.reachable():
            try:
                cl = redis.Redis(host="127.0.0.1", port=x.resp_port, socket_timeout=1,
                                 socket_connect_timeout=1, decode_responses=True)
                info = cl.info("raft")
                cl.close()
            except (redis.exceptions.RedisError, OSError):
                continue
            lid = str(info.get("leader_id") or "")
            if lid and info.get("role") == "leader" and lid == x.name:
                return x
            if lid:
                votes[lid] = votes.get(lid, 0) + 1
        if not votes:
            return None
        name = max(votes, key=votes.get)
        return next((x for x in self.nodes if x.name == name), None)

    # -- faults ---------------------------------------------------------
    def kill(self, x):
        log("nemesis: kill -9 %s" % x.name)
        self.cont(x)
        x.kill()

    def restart(self, x):
        if not x.alive():
            log("nemesis: start %s" % x.name)
            x.start()

    def pause(self, x):
        if x.alive() and x.name not in self.paused:
            log("nemesis: SIGSTOP %s" % x.name)
            x.proc.send_signal(signal.SIGSTOP)
            self.paused.add(x.name)

    def cont(self, x):
        if x.name in self.paused:
            log("nemesis: SIGCONT %s" % x.name)
            if x.alive():
                x.proc.send_signal(signal.SIGCONT)
            self.paused.discard(x.name)

    def isolate(self, x, peers, direction="BOTH"):
        if not peers or not x.alive() or x.name in self.paused:
            return
        try:
            self.admin(x, "FAULT", "ISOLATE", *[p.name for p in peers], direction)
        except (redis.exceptions.RedisError, OSError) as e:
            log("nemesis: FAULT ISOLATE on %s failed: %r" % (x.name, e))

    def partition(self, a, b):
        """Symmetric: nothing crosses between groups a and b."""
        log("nemesis: partition %s | %s" % ([x.name for x in a], [x.name for x in b]))
        for x in a:
            self.isolate(x, b)
        for x in b:
            self.isolate(x, a)

    def heal(self):
        for x in self.c.nodes:
            if x.alive() and x.name not in self.paused:
                try:
                    self.admin(x, "FAULT", "HEAL")
                except redis.exceptions.ConnectionError:
                    pass  # still starting: a new process drops nothing anyway
                except (redis.exceptions.RedisError, OSError) as e:
                    log("nemesis: FAULT HEAL on %s failed: %r" % (x.name, e))

    def recover_all(self):
        """Heal every fault: SIGCONT, start the dead, drop partitions."""
        for x in self.c.nodes:
            self.cont(x)
        for x in self.nodes:
            self.restart(x)
        self.heal()

    def teardown(self):
        for x in self.c.nodes:
            self.cont(x)
        self.c.teardown()


# ---------------------------------------------------------------------------
# Nemeses: each applies a fault, holds it, and undoes it. Bounded in time.


def hold(rng, stop, lo=1.0, hi=3.0):
    stop.wait(rng.uniform(lo, hi))


def n_leader_kill(cc, rng, stop):
    x = cc.leader()
    if x is None:
        return
    cc.kill(x)
    hold(rng, stop)
    cc.restart(x)


def n_random_kill(cc, rng, stop):
    victims = rng.sample(cc.nodes, rng.randint(1, (len(cc.nodes) - 1) // 2))
    for x in victims:
        cc.kill(x)
    hold(rng, stop)
    for x in victims:
        cc.restart(x)


def n_pause(cc, rng, stop):
    x = cc.leader() if rng.random() < 0.5 else rng.choice(cc.nodes)
    if x is None:
        return
    cc.pause(x)
    hold(rng, stop, 1.0, 4.0)  # longer than an election timeout (0.5 s)
    cc.cont(x)


def n_partition_leader(cc, rng, stop):
    x = cc.leader()
    if x is None:
        return
    cc.partition([x], [y for y in cc.nodes if y is not x])
    hold(rng, stop, 1.5, 4.0)
    cc.heal()


def n_partition_majority(cc, rng, stop):
    nodes = list(cc.nodes)
    rng.shuffle(nodes)
    k = len(nodes) // 2  # minority size
    cc.partition(nodes[:k], nodes[k:])
    hold(rng, stop, 1.5, 4.0)
    cc.heal()


def n_partition_asymmetric(cc, rng, stop):
    """One node's traffic flows one way only: it hears the others but they
    do not hear it (or the reverse). The node is the leader half the time."""
    x = cc.leader() if rng.random() < 0.5 else rng.choice(cc.nodes)
    if x is None:
        return
    others = [y for y in cc.nodes if y is not x]
    direction = rng.choice(["OUT", "IN"])
    log("nemesis: asymmetric: %s drops %s traffic with %s" %
        (x.name, direction, [y.name for y in others]))
    cc.isolate(x, others, direction)
    hold(rng, stop, 1.5, 4.0)
    cc.heal()


def n_partition_bridge(cc, rng, stop):
    """Non-transitive: two sides that cannot talk, both seeing one bridge node."""
    nodes = list(cc.nodes)
    rng.shuffle(nodes)
    bridge, rest = nodes[0], nodes[1:]
    half = len(rest) // 2
    a, b = rest[:half], rest[half:]
    log("nemesis: bridge %s between %s and %s" %
        (bridge.name, [x.name for x in a], [x.name for x in b]))
    cc.partition(a, b)
    hold(rng, stop, 1.5, 4.0)
    cc.heal()


def n_partition_then_kill(cc, rng, stop):
    """Faults that overlap: isolate the leader, then kill -9 the leader the
    majority elects, restart it, and only then heal."""
    x = cc.leader()
    if x is None:
        return
    rest = [y for y in cc.nodes if y is not x]
    cc.partition([x], rest)
    stop.wait(rng.uniform(1.0, 2.0))
    votes = {}
    for y in rest:
        i = y.raft_info()
        if i and i.get("leader_id"):
            votes[str(i["leader_id"])] = votes.get(str(i["leader_id"]), 0) + 1
    new = next((y for y in rest if votes and y.name == max(votes, key=votes.get)), None)
    if new is not None:
        cc.kill(new)
        hold(rng, stop, 0.5, 2.0)
        cc.restart(new)
    hold(rng, stop, 0.5, 2.0)
    cc.heal()


def n_partition_snapshot(cc, rng, stop):
    """A follower cut off while the leader snapshots and compacts its log:
    after the heal it can only catch up through a snapshot transfer."""
    leader = cc.leader()
    if leader is None:
        return
    x = rng.choice([y for y in cc.nodes if y is not leader])
    cc.partition([x], [y for y in cc.nodes if y is not x])
    stop.wait(rng.uniform(1.0, 2.5))
    try:
        log("nemesis: PHALANX SNAPSHOT on %s" % leader.name)
        cc.admin(leader, "SNAPSHOT", timeout=10)
    except (redis.exceptions.RedisError, OSError) as e:
        log("nemesis: SNAPSHOT failed: %r" % e)
    stop.wait(rng.uniform(0.5, 1.5))
    cc.heal()


def n_rolling_restart(cc, rng, stop):
    for x in list(cc.nodes):
        if stop.is_set():
            break
        log("nemesis: rolling restart %s" % x.name)
        cc.cont(x)
        try:
            x.stop(timeout=20)
        except Exception as e:  # a stuck shutdown was killed by stop()
            log("nemesis: clean stop of %s failed: %r" % (x.name, e))
        x.start()
        stop.wait(1.0)


def n_crash_all(cc, rng, stop):
    log("nemesis: crash every node")
    for x in cc.nodes:
        cc.kill(x)
    stop.wait(rng.uniform(0.2, 1.0))
    for x in cc.nodes:
        cc.restart(x)
    hold(rng, stop)


def n_membership(cc, rng, stop):
    """PHALANX REMOVE a follower (only while > 3 voters remain). The node has
    no admin command to re-add a removed member (AddLearner exists inside
    Node but is not reachable), so the removed node is stopped for good."""
    if len(cc.nodes) <= 3:
        return
    leader = cc.leader()
    if leader is None:
        return
    x = rng.choice([y for y in cc.nodes if y is not leader])
    try:
        log("nemesis: PHALANX REMOVE %s" % x.name)
        cc.admin(leader, "REMOVE", x.name, timeout=5)
    except (redis.exceptions.RedisError, OSError) as e:
        log("nemesis: REMOVE %s failed: %r" % (x.name, e))
        return
    with cc.lock:
        cc.removed.add(x.name)
    cc.cont(x)
    x.kill()
    hold(rng, stop)


NEMESES = {
    "leader-kill": n_leader_kill,
    "random-kill": n_random_kill,
    "pause": n_pause,
    "partition-leader": n_partition_leader,
    "partition-majority": n_partition_majority,
    "partition-asymmetric": n_partition_asymmetric,
    "partition-bridge": n_partition_bridge,
    "partition-then-kill": n_partition_then_kill,
    "partition-snapshot": n_partition_snapshot,
    "rolling-restart": n_rolling_restart,
    "crash-all": n_crash_all,
    "membership": n_membership,
}
SCHEDULES = dict({k: [k] for k in NEMESES}, **{
    "none": [],
    "partitions": ["partition-leader", "partition-majority", "partition-asymmetric",
                   "partition-bridge", "partition-then-kill", "partition-snapshot"],
    "kills": ["leader-kill", "random-kill", "crash-all"],
    "mixed": [k for k in NEMESES if k != "membership"],
    "mixed-membership": list(NEMESES),
})


def nemesis_loop(cc, schedule, rng, stop):
    faults = SCHEDULES[schedule]
    if not faults:
        return
    for _ in range(100000):  # bounded; stop ends it
        if stop.wait(rng.uniform(0.5, 1.5)):
            break
        name = rng.choice(faults)
        try:
            NEMESES[name](cc, rng, stop)
        except Exception as e:  # a failing nemesis must not end the run
            log("nemesis %s raised %r" % (name, e))
        cc.recover_all()


# ---------------------------------------------------------------------------
# Workload


class History:
    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def add(self, op):
        with self.lock:
            op.id = len(self.ops)
            self.ops.append(op)


def client_loop(proc, cc, hist, rng, stop, timeout):
    conn = None
    conn_node = None
    seq = 0
    for _ in range(10 ** 7):  # bounded; stop ends it
        if stop.is_set():
            break
        if conn is None:
            targets = cc.reachable() or cc.nodes
            x = rng.choice(targets)
            conn_node = x.name
            conn = redis.Redis(host="127.0.0.1", port=x.resp_port, socket_timeout=timeout,
                               socket_connect_timeout=1, decode_responses=True)
        key = rng.choice(list(MODEL_OF))
        model = MODEL_OF[key]
        seq += 1
        if rng.random() < 0.5:
            f = "read"
        else:
            f = {"register": "write", "counter": "incr", "append": "append"}[model]
        value = None
        if f == "write":
            value = "p%d-%d" % (proc, seq)
        elif f == "append":
            value = "p%d-%d%s" % (proc, seq, checker.TOKEN_END)
        op = Op(proc, model, key, f, value=value, invoke=time.monotonic(), node=conn_node)
        try:
            if f == "read":
                op.result = conn.get(key)
                if model == "counter" and op.result is not None:
                    op.result = int(op.result)
            elif f == "write":
                if conn.set(key, value) is not True:
                    raise redis.exceptions.ResponseError("SET did not answer OK")
            elif f == "incr":
                op.result = conn.incr(key)
            else:
                op.result = conn.append(key, value)
            op.complete = time.monotonic()
            op.status = OK
        except redis.exceptions.ResponseError as e:
            # CLUSTERDOWN promises the write was never proposed (node.cc:
            # "requests never proposed: safe to report as not done"), so it
            # counts as failed and the checker holds the node to it. Any
            # other error ("ERR outcome unknown ...") is indeterminate.
            definite = str(e).startswith("CLUSTERDOWN")
            op.status = FAIL if (f == "read" or definite) else INFO
        except NET_ERRORS as e:
            # Refused or timed out while connecting: nothing was sent.
            not_sent = "connecting to" in str(e) or "Timeout connecting" in str(e)
            op.status = FAIL if (f == "read" or not_sent) else INFO
            try:
                conn.close()
            except Exception:
                pass
            conn = None  # next op goes to another random node
            stop.wait(0.05)
        if op.status == INFO:
            op.complete = None
        hist.add(op)
        if op.status != OK:
            stop.wait(0.02)


# ---------------------------------------------------------------------------
# One run


def final_reads(cc, hist, deadline_s=60):
    """After recovery: GET every key (linearizable) and record it."""
    final = {}
    deadline = time.monotonic() + deadline_s
    for key in MODEL_OF:
        for _ in range(1000):
            if time.monotonic() > deadline:
                raise TimeoutError("final reads did not finish in %ss" % deadline_s)
            x = cc.rng.choice(cc.nodes)
            try:
                cl = redis.Redis(host="127.0.0.1", port=x.resp_port, socket_timeout=5,
                                 socket_connect_timeout=2, decode_responses=True)
                t0 = time.monotonic()
                v = cl.get(key)
                t1 = time.monotonic()
                cl.close()
            except (redis.exceptions.RedisError, OSError):
                time.sleep(0.2)
                continue
            r = int(v) if (MODEL_OF[key] == "counter" and v is not None) else v
            hist.add(Op(-1, MODEL_OF[key], key, "read", result=r, status=OK, invoke=t0,
                        complete=t1, node=x.name))
            final[key] = v
            break
    return final


def run_once(schedule, nodes, seconds, seed, clients, keep, out_dir, extra_raft=()):
    rng = random.Random(seed)
    cc = ChaosCluster(nodes, rng, keep=True, extra_raft=extra_raft)
    hist = History()
    stop = threading.Event()
    failed = True
    summary = None
    try:
        # Node logs use wall-clock times, the history monotonic ones.
        log("clock: monotonic %.3f is wall %s UTC" %
            (time.monotonic(), time.strftime("%H:%M:%S", time.gmtime())) +
            (".%03d" % (int(time.time() * 1000) % 1000)))
        cc.start()
        threads = [threading.Thread(target=client_loop,
                                    args=(i, cc, hist, random.Random(seed * 1000 + i), stop, 5.0),
                                    daemon=True) for i in range(clients)]
        nem = threading.Thread(target=nemesis_loop, args=(cc, schedule, rng, stop), daemon=True)
        for t in threads:
            t.start()
        nem.start()
        stop.wait(seconds)
        stop.set()
        nem.join(timeout=60)
        for t in threads:
            t.join(timeout=30)
        # Durability: heal, crash-restart every node, read every key.
        cc.recover_all()
        log("recovery: crash-restart every node")
        for x in cc.nodes:
            x.kill()
        for x in cc.nodes:
            x.start()
        cc.c.wait_ready(timeout=60)
        final = final_reads(cc, hist)
        ops = [o for o in hist.ops if o.process >= 0]
        path = os.path.join(out_dir or cc.c.dir, "history-%s-%d.jsonl" % (schedule, seed))
        checker.save_history(hist.ops, path)
        res = checker.check_history(hist.ops, budget_s=20.0)
        lost = checker.lost_writes(hist.ops, final)
        for line in lost[:20]:
            print("LOST WRITE: " + line)
        n_ok = sum(1 for o in ops if o.status == OK)
        n_info = sum(1 for o in ops if o.status == INFO)
        summary = ("run=%s nodes=%d seed=%d ops=%d ok=%d indeterminate=%d violations=%d "
                   "lost_writes=%d unknown=%d" % (schedule, nodes, seed, len(ops), n_ok, n_info,
                                                  res["violations"], len(lost), res["unknown"]))
        failed = res["violations"] > 0 or len(lost) > 0
        if failed or keep:
            print("history: %s (node logs and data in %s)" % (path, cc.c.dir))
    except Exception as e:
        summary = "run=%s nodes=%d seed=%d ERROR %r (logs in %s)" % (schedule, nodes, seed, e,
                                                                    cc.c.dir)
    finally:
        stop.set()
        cc.c.keep = failed or keep
        cc.teardown()
    print(summary, flush=True)
    return not failed


SHORT = [("partitions", 3), ("kills", 3), ("pause", 3), ("mixed-membership", 5)]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="CI mode: %s x --seconds" % SHORT)
    ap.add_argument("--schedule", default="mixed", choices=sorted(SCHEDULES))
    ap.add_argument("--nodes", type=int, default=3, choices=[3, 5])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--minutes", type=float, default=None,
                    help="long mode: runs of --seconds rotating through schedules for N minutes")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep histories and logs of passing runs")
    ap.add_argument("--out", default=None, help="directory for history files")
    ap.add_argument("--raft", action="append", default=[], metavar="KEY=VALUE",
                    help='extra [raft] TOML line, e.g. --raft \'read_mode = "lease"\' '
                         '(to check that the checker catches a known-unsafe mode)')
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for k, v in sorted(SCHEDULES.items()):
            print("%-22s %s" % (k, ", ".join(v)))
        return 0
    seed = a.seed if a.seed is not None else int(time.time()) % 100000
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    runs = []
    if a.short:
        runs = [(s, n) for s, n in SHORT]
    elif a.minutes:
        rot = ["mixed", "partitions", "kills", "pause", "rolling-restart", "crash-all",
               "mixed-membership"]
        end = time.monotonic() + a.minutes * 60
        i = 0
        all_ok = True
        while time.monotonic() < end and i < 10000:
            s = rot[i % len(rot)]
            n = 5 if s == "mixed-membership" or i % 2 else 3
            all_ok &= run_once(s, n, a.seconds, seed + i, a.clients, a.keep, a.out, a.raft)
            i += 1
        return 0 if all_ok else 1
    else:
        runs = [(a.schedule, a.nodes)]
    all_ok = True
    for i, (s, n) in enumerate(runs):
        all_ok &= run_once(s, n, a.seconds, seed + i, a.clients, a.keep, a.out, a.raft)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
