"""Unit tests of the linearizability checker on hand-made histories: fast, no
cluster. Run: python3 tests/chaos/test_checker.py"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402
from checker import INFO, OK, Op  # noqa: E402


def reg(p, f, v=None, r=None, t0=0.0, t1=None, st=OK, key="k"):
    return Op(p, "register", key, f, value=v, result=r, status=st, invoke=t0,
              complete=t1 if st == OK else None)


def verdict(ops):
    for i, o in enumerate(ops):
        o.id = i
    by = {}
    for o in ops:
        by.setdefault(o.key, []).append(o)
    return {k: checker.check_key(v, budget_s=5)[0] for k, v in by.items()}


class Register(unittest.TestCase):
    def test_sequential_good(self):
        h = [reg(0, "write", "a", t0=0, t1=1), reg(1, "read", r="a", t0=2, t1=3),
             reg(0, "write", "b", t0=4, t1=5), reg(1, "read", r="b", t0=6, t1=7)]
        self.assertEqual(verdict(h), {"k": "ok"})

    def test_read_of_absent_key(self):
        self.assertEqual(verdict([reg(0, "read", r=None, t0=0, t1=1)]), {"k": "ok"})

    def test_concurrent_read_may_see_either(self):
        for seen in ("a", "b"):
            h = [reg(0, "write", "a", t0=0, t1=1), reg(0, "write", "b", t0=2, t1=6),
                 reg(1, "read", r=seen, t0=3, t1=4)]
            self.assertEqual(verdict(h), {"k": "ok"}, seen)

    def test_stale_read(self):
        h = [reg(0, "write", "a", t0=0, t1=1), reg(0, "write", "b", t0=2, t1=3),
             reg(1, "read", r="a", t0=4, t1=5)]
        self.assertEqual(verdict(h), {"k": "violation"})

    def test_lost_write(self):
        # An acknowledged write, then a read of the state before it.
        h = [reg(0, "write", "a", t0=0, t1=1), reg(1, "read", r=None, t0=2, t1=3)]
        self.assertEqual(verdict(h), {"k": "violation"})

    def test_value_never_written(self):
        h = [reg(0, "write", "a", t0=0, t1=1), reg(1, "read", r="zzz", t0=0.5, t1=3)]
        self.assertEqual(verdict(h), {"k": "violation"})

    def test_read_your_write_violation(self):
        h = [reg(0, "write", "a", t0=0, t1=1), reg(0, "write", "b", t0=2, t1=3),
             reg(0, "read", r="a", t0=3.5, t1=4)]
        self.assertEqual(verdict(h), {"k": "violation"})

    def test_nonmonotonic_reads(self):
        # Two concurrent writes; reads that flip back violate.
        h = [reg(0, "write", "a", t0=0, t1=10), reg(1, "write", "b", t0=0, t1=10),
             reg(2, "read", r="a", t0=1, t1=2), reg(2, "read", r="b", t0=3, t1=4),
             reg(2, "read", r="a", t0=5, t1=6)]
        self.assertEqual(verdict(h), {"k": "violation"})

    def test_indeterminate_write_may_appear_late_or_never(self):
        base = [reg(0, "write", "a", t0=0, t1=1), reg(1, "write", "x", t0=2, st=INFO)]
        self.assertEqual(verdict(base + [reg(2, "read", r="x", t0=50, t1=51)]), {"k": "ok"})
        self.assertEqual(verdict(base + [reg(2, "read", r="a", t0=50, t1=51)]), {"k": "ok"})
        # but not before it was invoked
        h = [reg(0, "write", "a", t0=0, t1=1), reg(2, "read", r="x", t0=1.5, t1=1.8),
             reg(1, "write", "x", t0=2, st=INFO)]
        self.assertEqual(verdict(h), {"k": "violation"})
        # and it cannot take effect, vanish and come back
        h = base + [reg(2, "read", r="x", t0=3, t1=4), reg(2, "read", r="a", t0=5, t1=6)]
        self.assertEqual(verdict(h), {"k": "violation"})

    def test_keys_are_independent(self):
        h = [reg(0, "write", "a", t0=0, t1=1, key="k1"), reg(0, "read", r="a", t0=2, t1=3, key="k1"),
             reg(0, "write", "b", t0=0, t1=1, key="k2"), reg(0, "read", r=None, t0=2, t1=3, key="k2")]
        self.assertEqual(verdict(h), {"k1": "ok", "k2": "violation"})

    def test_budget_gives_unknown(self):
        # Many fully concurrent writes and a read nobody wrote: exhaustive search.
        h = [reg(i, "write", "v%d" % i, t0=0, t1=100) for i in range(40)]
        h.append(reg(99, "read", r="nope", t0=0, t1=100))
        for i, o in enumerate(h):
            o.id = i
        try:
            v, _ = checker.check_key(h, budget_s=0.2)
        except checker.Unknown:
            v = "unknown"
        self.assertIn(v, ("unknown", "violation"))  # never "ok"


class Counter(unittest.TestCase):
    def c(self, p, f, r=None, t0=0.0, t1=None, st=OK):
        return Op(p, "counter", "c", f, result=r, status=st, invoke=t0,
                  complete=t1 if st == OK else None)

    def test_good_with_indeterminate(self):
        h = [self.c(0, "incr", 1, 0, 1), self.c(1, "incr", st=INFO, t0=2),
             self.c(0, "incr", 3, 3, 4), self.c(2, "read", 3, 5, 6)]
        self.assertEqual(verdict(h), {"c": "ok"})

    def test_many_indeterminate_increments_stay_fast(self):
        h = [self.c(i, "incr", st=INFO, t0=i * 0.01) for i in range(60)]
        h.append(self.c(99, "read", 25, 10, 11))
        self.assertEqual(verdict(h), {"c": "ok"})
        h[-1] = self.c(99, "read", 61, 10, 11)  # more than were ever invoked
        self.assertEqual(verdict(h), {"c": "violation"})
        h[-1] = self.c(99, "read", 3, 0.001, 0.002)  # before the 3rd was invoked
        self.assertEqual(verdict(h), {"c": "violation"})

    def test_duplicate_result(self):
        h = [self.c(0, "incr", 1, 0, 1), self.c(1, "incr", 1, 2, 3)]
        self.assertEqual(verdict(h), {"c": "violation"})

    def test_lost_increment_after_recovery(self):
        h = [self.c(0, "incr", 1, 0, 1), self.c(0, "incr", 2, 2, 3)]
        self.assertEqual(checker.lost_writes(h, {"c": "1"}),
                         ["c: final counter 1 < 2 acknowledged INCRs"])
        self.assertEqual(checker.lost_writes(h, {"c": "2"}), [])


class Append(unittest.TestCase):
    def a(self, p, f, v=None, r=None, t0=0.0, t1=None, st=OK):
        return Op(p, "append", "l", f, value=v, result=r, status=st, invoke=t0,
                  complete=t1 if st == OK else None)

    def test_good(self):
        h = [self.a(0, "append", "x;", 2, 0, 1), self.a(1, "append", "y;", 4, 0.5, 2),
             self.a(2, "read", r="x;", t0=0.6, t1=0.9), self.a(2, "read", r="x;y;", t0=3, t1=4)]
        self.assertEqual(verdict(h), {"l": "ok"})
        self.assertEqual(checker.check_appends(h), [])
        self.assertEqual(checker.lost_writes(h, {"l": "x;y;"}), [])

    def test_not_a_prefix(self):
        h = [self.a(0, "append", "x;", 2, 0, 1), self.a(1, "append", "y;", 4, 0, 1),
             self.a(2, "read", r="x;y;", t0=2, t1=3), self.a(2, "read", r="y;x;", t0=4, t1=5)]
        self.assertEqual(verdict(h), {"l": "violation"})
        self.assertTrue(checker.check_appends(h))

    def test_duplicate_and_unknown_token(self):
        h = [self.a(0, "append", "x;", 2, 0, 1), self.a(2, "read", r="x;x;q;", t0=2, t1=3)]
        probs = checker.check_appends(h)
        self.assertTrue(any("duplicate" in p for p in probs))
        self.assertTrue(any("never appended" in p for p in probs))

    def test_lost_append(self):
        h = [self.a(0, "append", "x;", 2, 0, 1), self.a(0, "append", "y;", 4, 2, 3)]
        self.assertEqual(checker.lost_writes(h, {"l": "x;"}), ["l: acknowledged append 'y;' missing"])


class Durability(unittest.TestCase):
    def test_register_final_value(self):
        h = [reg(0, "write", "a", t0=0, t1=1), reg(0, "write", "b", t0=2, t1=3),
             reg(1, "write", "c", t0=4, st=INFO)]
        self.assertEqual(checker.lost_writes(h, {"k": "b"}), [])
        self.assertEqual(checker.lost_writes(h, {"k": "c"}), [])
        self.assertEqual(len(checker.lost_writes(h, {"k": "a"})), 1)
        self.assertEqual(len(checker.lost_writes(h, {"k": None})), 1)

    def test_check_history_reports_and_excerpts(self):
        h = [reg(0, "write", "a", t0=0, t1=1), reg(0, "write", "b", t0=2, t1=3),
             reg(1, "read", r="a", t0=4, t1=5)]
        lines = []
        res = checker.check_history(h, out=lines.append)
        self.assertEqual(res["violations"], 1)
        self.assertTrue(any("cannot be linearized" in x for x in lines))

    def test_history_roundtrip(self):
        import tempfile
        h = [reg(0, "write", "a", t0=0, t1=1), reg(1, "write", "x", t0=2, st=INFO)]
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as f:
            checker.save_history(h, f.name)
            back = checker.load_history(f.name)
        self.assertEqual([o.to_dict() for o in back], [o.to_dict() for o in h])


if __name__ == "__main__":
    unittest.main()
