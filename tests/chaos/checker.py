"""Linearizability and durability checks of a recorded history.

A history is a list of Op. Each key is checked on its own (linearizability is
compositional), with Wing & Gong's search over the call/return order and
Lowe's memoization of (set of linearized ops, model state): a configuration
already seen is never explored twice. An op whose outcome is unknown
(timeout, connection lost, an error on a write) is "info": it may have taken
effect at any time after its call, or never; it gets no return event, so the
search may place it anywhere after its invocation or leave it out.

Verdicts per key: "ok", "violation" (no linearization exists) or "unknown"
(the per-key time budget ran out: reported, never counted as a pass).

Models (state after no write: the key is absent):
  register  write(v) -> OK, read() -> v | None
  counter   incr() -> new value, read() -> int | None (None is 0)
  append    append(tok) -> new length, read() -> str | None (None is "")

Beyond linearizability, `check_appends` applies Elle's list-append rules to
reads of an APPEND key (every read a prefix of every later read, no
duplicate token, every acknowledged token in the final read), and
`lost_writes` counts acknowledged writes missing after recovery.
"""
import json
import time

OK, FAIL, INFO = "ok", "fail", "info"


class Op:
    __slots__ = ("id", "process", "model", "key", "f", "value", "result", "status",
                 "invoke", "complete", "node")

    def __init__(self, process, model, key, f, value=None, result=None, status=OK,
                 invoke=0.0, complete=None, id=None, node=None):
        self.id = id
        self.node = node  # the node the client talked to (for diagnosis only)
        self.process = process  # client number
        self.model = model      # "register" | "counter" | "append"
        self.key = key
        self.f = f              # "write" | "read" | "incr" | "append"
        self.value = value      # written value / appended token
        self.result = result    # read value, INCR result, APPEND length
        self.status = status    # ok | fail | info
        self.invoke = invoke    # time.monotonic() at the call
        self.complete = complete  # time.monotonic() at the answer; None for info

    def to_dict(self):
        return {s: getattr(self, s) for s in self.__slots__}

    @staticmethod
    def from_dict(d):
        return Op(**d)

    def __repr__(self):
        c = "inf" if self.complete is None else "%.4f" % self.complete
        res = self.result
        if isinstance(res, str) and len(res) > 80:
            # A list-append read: its last tokens and its size say enough.
            toks = split_tokens(res)
            res = "...%s (%d tokens)" % ("".join(toks[-5:]), len(toks))
        return "Op(#%s p%s@%s %s %s %s(%r) -> %r [%s] %.4f..%s)" % (
            self.id, self.process, self.node, self.model, self.key, self.f, self.value,
            res, self.status, self.invoke, c)


def save_history(ops, path):
    with open(path, "w") as f:
        for o in ops:
            f.write(json.dumps(o.to_dict()) + "\n")


def load_history(path):
    with open(path) as f:
        return [Op.from_dict(json.loads(line)) for line in f if line.strip()]


# ---------------------------------------------------------------------------
# Models: step(state, op) -> (ok, new_state). States are hashable.

def _step(model, state, op):
    known = op.status == OK
    if model == "register":
        if op.f == "write":
            return True, op.value
        if op.f == "read":
            return (not known or op.result == state), state
    elif model == "counter":
        cur = state or 0
        if op.f == "incr":
            return (not known or op.result == cur + 1), cur + 1
        if op.f == "read":
            r = op.result
            return (not known or (r or 0) == cur), state
    elif model == "append":
        cur = state or ""
        if op.f == "append":
            new = cur + op.value
            return (not known or op.result == len(new)), new
        if op.f == "read":
            return (not known or (op.result or "") == cur), state
    raise ValueError("bad op for model %s: %r" % (model, op))


class Unknown(Exception):
    pass


def check_key(ops, budget_s=10.0):
    """Wing & Gong + Lowe memoization over one key's ops.

    Returns (verdict, detail): verdict "ok" | "violation" | "unknown"; for a
    violation, detail is the largest set of op ids the search managed to
    linearize (to find where it got stuck).
    """
    ops = prune(ops)
    if not ops:
        return "ok", None
    model = ops[0].model
    n = len(ops)
    must = sum(1 for o in ops if o.status == OK)
    # Events: (time, kind, index); a return sorts after a call at the same time
    # only if strictly later, so equal times count as concurrent (kind 0 = call
    # first).
    events = []
    for i, o in enumerate(ops):
        events.append((o.invoke, 0, i))
        if o.status == OK:
            events.append((o.complete, 1, i))
    events.sort()
    m = len(events)
    # Doubly linked list over events; index m is the sentinel (head and end).
    nxt = list(range(1, m + 1)) + [0]
    prv = [m] + list(range(0, m - 1)) + [m - 1]
    kind = [e[1] for e in events]
    opi = [e[2] for e in events]
    ret_of = [-1] * n
    for j in range(m):
        if kind[j] == 1:
            ret_of[opi[j]] = j

    def lift(j):
        nxt[prv[j]] = nxt[j]
        prv[nxt[j]] = prv[j]
        r = ret_of[opi[j]]
        if r >= 0:
            nxt[prv[r]] = nxt[r]
            prv[nxt[r]] = prv[r]

    def unlift(j):
        r = ret_of[opi[j]]
        if r >= 0:
            nxt[prv[r]] = r
            prv[nxt[r]] = r
        nxt[prv[j]] = j
        prv[nxt[j]] = j

    # Indeterminate INCRs are interchangeable but for their invoke times: if a
    # linearization uses j of them, one using the j earliest-invoked is valid
    # too (each can sit where the one it replaces sat). So they are only
    # linearized in invoke order: k of them cost k, not 2**k, configurations.
    prev_info = [-1] * n
    if model == "counter":
        last = -1
        for i in sorted((i for i in range(n) if ops[i].status == INFO),
                        key=lambda i: ops[i].invoke):
            prev_info[i] = last
            last = i

    deadline = time.monotonic() + budget_s
    state = None
    lin = 0  # bitmask of linearized op indexes
    done_ok = 0
    cache = set()
    stack = []
    best = 0
    best_lin = 0
    entry = nxt[m]
    steps = 0
    while True:
        if done_ok == must:
            return "ok", None
        steps += 1
        if steps & 0xFFF == 0 and time.monotonic() > deadline:
            raise Unknown()
        if entry != m and kind[entry] == 0:
            i = opi[entry]
            o = ops[i]
            if prev_info[i] >= 0 and not lin >> prev_info[i] & 1:
                entry = nxt[entry]
                continue
            good, new_state = _step(model, state, o)
            if good:
                new_lin = lin | (1 << i)
                cfg = (new_lin, new_state)
                if cfg not in cache:
                    cache.add(cfg)
                    stack.append((entry, state, lin, done_ok))
                    state, lin = new_state, new_lin
                    if o.status == OK:
                        done_ok += 1
                    if done_ok > best:
                        best, best_lin = done_ok, lin
                    lift(entry)
                    entry = nxt[m]
                    continue
            entry = nxt[entry]
        else:
            # A return of an op not yet linearized (or the end): backtrack.
            if not stack:
                return "violation", {ops[i].id for i in range(n) if best_lin >> i & 1}
            entry, state, lin, done_ok = stack.pop()
            unlift(entry)
            entry = nxt[entry]


def prune(ops):
    """Drops what cannot change the verdict: failed ops (they never
    happened), indeterminate reads (they tell nothing), and indeterminate
    writes/appends whose unique value no ok read ever saw. For a register
    such a write, if it took effect, was overwritten before any read, so
    "it never happened" is as good. For an append its token would be in every
    later read, and the history ends with a read of every key after
    recovery, so it never took effect."""
    seen = set()
    for o in ops:
        if o.status == OK and o.f == "read":
            if o.model == "append":
                seen.update(split_tokens(o.result))
            else:
                seen.add(o.result)
    keep = []
    for o in ops:
        if o.status == FAIL or (o.status == INFO and o.f == "read"):
            continue
        if o.status == INFO and o.f in ("write", "append") and o.value not in seen:
            continue
        keep.append(o)
    return keep


def check_appends(ops):
    """Elle-style list-append checks of one APPEND key's ok reads (in
    completion order). Returns a list of problem strings."""
    problems = []
    reads = sorted((o for o in ops if o.f == "read" and o.status == OK),
                   key=lambda o: o.complete)
    appends = [o for o in ops if o.f == "append"]
    written = {o.value for o in appends}
    for r in reads:
        toks = split_tokens(r.result)
        if len(toks) != len(set(toks)):
            problems.append("duplicate token in read %r" % r)
        for t in toks:
            if t not in written:
                problems.append("token %r never appended, in read %r" % (t, r))
    # Each read is a prefix of every read that starts after it completed.
    for a in reads:
        for b in reads:
            if b.invoke > a.complete and not (b.result or "").startswith(a.result or ""):
                problems.append("read %r is not a prefix of later read %r" % (a, b))
                break
        if len(problems) > 20:
            break
    return problems


TOKEN_END = ";"


def split_tokens(s):
    return [t + TOKEN_END for t in (s or "").split(TOKEN_END) if t]


def lost_writes(ops, final):
    """Acknowledged writes missing from the state read after recovery.

    `final` maps key -> value read after heal and restart of every node.
    register: the final value must come from an ok or info write that no ok
    write strictly follows in real time (else that later ok write was lost);
    counter: final >= number of ok INCRs; append: every ok token present.
    """
    by_key = {}
    for o in ops:
        by_key.setdefault(o.key, []).append(o)
    lost = []
    for key, kops in by_key.items():
        model = kops[0].model
        writes = [o for o in kops if o.f in ("write", "incr", "append") and o.status != FAIL]
        acked = [o for o in writes if o.status == OK]
        if not acked:
            continue
        v = final.get(key)
        if model == "counter":
            n_ok = len(acked)
            if int(v or 0) < n_ok:
                lost.append("%s: final counter %s < %d acknowledged INCRs" % (key, v, n_ok))
        elif model == "append":
            have = set(split_tokens(v))
            for o in acked:
                if o.value not in have:
                    lost.append("%s: acknowledged append %r missing" % (key, o.value))
        else:
            src = [o for o in writes if o.value == v]
            if not src:
                lost.append("%s: final value %r was never written (acked writes lost)" % (key, v))
                continue
            w = src[0]
            later = [o for o in acked if w.complete is not None and o.invoke > w.complete]
            if later:
                lost.append("%s: final value %r from %r, but acknowledged %r came after it" %
                            (key, v, w, later[-1]))
    return lost


def check_history(ops, budget_s=10.0, out=print):
    """Checks every key. Returns a dict of counts and per-key verdicts;
    prints a minimal excerpt for each violation."""
    for i, o in enumerate(ops):
        if o.id is None:
            o.id = i
    by_key = {}
    for o in ops:
        by_key.setdefault(o.key, []).append(o)
    verdicts = {}
    violations = 0
    unknown = 0
    for key in sorted(by_key):
        kops = by_key[key]
        try:
            verdict, lin_ids = check_key(kops, budget_s)
        except Unknown:
            verdict, lin_ids = "unknown", None
        problems = check_appends(kops) if kops[0].model == "append" else []
        if verdict == "violation" or problems:
            violations += 1
            out("VIOLATION on key %r (%s)" % (key, kops[0].model))
            for p in problems[:5]:
                out("  " + p)
            if verdict == "violation":
                for line in excerpt(kops, lin_ids):
                    out("  " + line)
            verdict = "violation"
        elif verdict == "unknown":
            unknown += 1
            out("UNKNOWN on key %r: the search ran out of its %.0fs budget" % (key, budget_s))
        verdicts[key] = verdict
    return {"violations": violations, "unknown": unknown, "verdicts": verdicts}


def excerpt(kops, lin_ids, width=6):
    """The first ok op the search could not linearize, and the ops around it
    in time: usually enough to see the anomaly."""
    live = sorted((o for o in kops if o.status != FAIL), key=lambda o: o.invoke)
    stuck = [o for o in live if o.status == OK and o.id not in lin_ids]
    if not stuck:
        return ["(no excerpt)"]
    s = stuck[0]
    idx = live.index(s)
    lines = ["first op that cannot be linearized: %r" % s, "ops around it (by invoke time):"]
    for o in live[max(0, idx - width):idx + width]:
        lines.append(("-> " if o is s else "   ") + repr(o))
    return lines
