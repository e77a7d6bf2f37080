"""Integration: byte-for-byte differential test against the real Redis.

The same command sequences go, raw over a TCP socket as RESP multibulk
requests, to a redis-server 7.0 (Debian's package) and to a real 1-node
phalanx process; every reply must be byte-identical. Each sequence runs twice:
one request at a time, then all pipelined in one write.

Left out on purpose, because they legitimately differ:
- INFO, HELLO, CLIENT ID/LIST/INFO, TIME: server identity, counters, clocks.
- PTTL, PEXPIRETIME and EXPIRETIME after a relative expiry (EX/PX): they
  depend on each server's clock to the millisecond. TTL (whole seconds,
  rounded) after a long relative expiry is compared.
- KEYS, SCAN and RANDOMKEY over more than one key: the order is each server's
  hash order.
- SELECT n>0, READONLY/READWRITE, and Redis types other than strings (Phalanx
  has one database and only strings; see resp/README.md).
Skipped when redis-server is not installed.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster, free_ports  # noqa: E402

REDIS_SERVER = shutil.which("redis-server")
TIMEOUT_S = 10


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class RawConn:
    """A socket that reads exactly one RESP reply at a time, as raw bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return end
            self._fill()

    def _skip_reply(self, pos):
        """Returns where the reply starting at pos ends (reading as needed)."""
        end = self._line(pos)
        kind, head = self.buf[pos:pos + 1], self.buf[pos + 1:end]
        pos = end + 2
        if kind in (b"+", b"-", b":", b"_", b",", b"#", b"("):
            return pos
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return pos
            while len(self.buf) < pos + n + 2:
                self._fill()
            return pos + n + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(head)
            if kind in (b"%", b"|"):
                n *= 2
            for _ in range(max(n, 0)):
                pos = self._skip_reply(pos)
            return pos
        raise ValueError("bad reply type %r in %r" % (kind, self.buf[:200]))

    def reply(self):
        end = self._skip_reply(0)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def call(self, args):
        self.sock.sendall(encode(args))
        return self.reply()

    def pipeline(self, cmds):
        self.sock.sendall(b"".join(encode(c) for c in cmds))
        return [self.reply() for _ in cmds]


def cmd(line):
    """'SET k "a b"' -> ['SET', 'k', 'a b'] (shell-like quoting, "" is empty)."""
    import shlex
    return shlex.split(line)


# Each sequence starts from an empty database.
SEQUENCES = {
    "arity_and_unknown": [
        "GET", "GET a b", "SET k", "GETSET k", "MSET a", "MSET a 1 b", "MSETNX a 1 b", "MGET",
        "DEL", "EXISTS", "INCR", "INCRBY k", "DECRBY k 1 2", "APPEND k", "STRLEN", "GETRANGE k 0",
        "EXPIRE k", "PERSIST", "TTL", "TYPE", "GETDEL", "GETDEL a b", "GETEX", "INCRBYFLOAT k",
        "SETRANGE k 0", "SETEX k 10", "PSETEX k", "SETNX k", "NOSUCH", "NOSUCH a b",
        "nosuch \"a\r\nb\"", "PING a b", "ECHO", "DBSIZE x",
    ],
    "set_grammar": [
        "SET k v NX XX", "SET k v XX NX", "SET k v EX 10 PX 10", "SET k v EX 10 KEEPTTL",
        "SET k v KEEPTTL PXAT 10", "SET k v EX", "SET k v FOO", "SET k v EX 0", "SET k v EX -1",
        "SET k v PX 0", "SET k v EX 9223372036854775", "SET k v EX x", "SET k v EX 010",
        "SET k v EXAT 0", "SET k v PXAT -1", "SETEX k 0 v", "PSETEX k -5 v", "SETEX k x v",
        "SET k v EX 10 EX 2000", "TTL k", "SET k v nx nx", "SET k v2 xx get", "SET k2 v GET",
        "SET k3 v NX GET", "SET k3 w NX GET", "SET k3 x XX", "GET k3", "SET k3 y KEEPTTL",
        "TTL k3", "SET k3 z PX 2000000 XX", "TTL k3", "SET k3 a", "TTL k3", "SET k4 v EXAT 1",
        "EXISTS k4", "GETSET k3 b", "GETSET nk b", "TTL nk", "SETNX k3 c", "SETNX k5 c",
        "SETEX k6 1000 v", "TTL k6", "PSETEX k7 1000000 v", "TTL k7", "SET e \"\"", "GET e",
        "STRLEN e", "SET k v PXAT 4000000000000", "PEXPIRETIME k", "EXPIRETIME k",
        "SET k v EXAT 4000000000 GET", "EXPIRETIME k",
    ],
    "counters": [
        "INCR n", "INCRBY n 41", "DECR n", "DECRBY n -9", "INCRBY n x",
        "INCRBY n 9223372036854775808", "DECRBY n -9223372036854775808",
        "INCRBY n 9223372036854775807", "INCRBY n -9223372036854775808", "GET n",
        "SET s \"hello world\"", "INCR s", "DECR s", "SET z \" 1\"", "INCR z", "SET z 01",
        "INCR z", "SET z -0", "INCR z", "SET z 9223372036854775807", "INCR z", "DECRBY z 1",
        "SET z \"\"", "INCR z",
    ],
    "strings": [
        "SET s \"hello world\"", "APPEND s !", "APPEND new abc", "STRLEN s", "STRLEN none",
        "GETRANGE s 0 4", "GETRANGE s -6 -2", "GETRANGE s -1 -5", "GETRANGE s 5 1",
        "GETRANGE s 0 9223372036854775807", "GETRANGE s -9223372036854775808 2",
        "GETRANGE none 0 1", "GETRANGE s a 1", "GETRANGE s 0 a", "GETRANGE s 100 200",
        "MSET a 1 b 2", "MSETNX a 1 c 3", "MSETNX c 3 d 4", "MGET a zz d", "EXISTS a a zz",
        "DEL a b zz", "UNLINK c", "DEL c", "TYPE d", "TYPE zz", "DBSIZE", "KEYS d*", "KEYS zz*",
    ],
    "getdel_getex": [
        "GETDEL k", "SET k v", "GETDEL k", "GETDEL k", "EXISTS k", "GETEX k", "GETEX k EX -1",
        "GETEX k EX x", "GETEX k EX", "GETEX k FOO", "SET k v", "GETEX k EX 0", "GETEX k PX -5",
        "GETEX k EXAT 0", "GETEX k PXAT -1", "GETEX k EX x", "GETEX k EX 9223372036854775807",
        "GETEX k PX 9223372036854775807", "GETEX k EX 10 PX 10", "GETEX k PERSIST EX 10",
        "GETEX k EX 10 PERSIST", "GETEX k KEEPTTL", "GETEX k EX 10 EX 1000", "TTL k",
        "GETEX k", "TTL k", "GETEX k persist persist", "TTL k", "GETEX k PX 3000000", "TTL k",
        "GETEX k EXAT 4000000000", "EXPIRETIME k", "GETEX k PXAT 4000000000123",
        "PEXPIRETIME k", "GETEX k PERSIST", "TTL k", "GETEX k PXAT 1", "EXISTS k",
        "SET k v EX 100", "GETDEL k", "TTL k",
    ],
    "incrbyfloat": [
        "INCRBYFLOAT f 10.50", "INCRBYFLOAT f 0.1", "INCRBYFLOAT f -5.0e3", "INCRBYFLOAT f 1e300",
        "INCRBYFLOAT f -1e300", "INCRBYFLOAT g 1e-30", "INCRBYFLOAT g 0x10",
        "INCRBYFLOAT g 3.0000", "INCRBYFLOAT g -19", "GET g", "INCRBYFLOAT f abc",
        "INCRBYFLOAT f \" 1\"", "INCRBYFLOAT f \"1 \"", "INCRBYFLOAT f \"\"", "INCRBYFLOAT f nan",
        "INCRBYFLOAT f inf", "INCRBYFLOAT f -inf", "INCRBYFLOAT f 1e5000", "SET s hello",
        "INCRBYFLOAT s 1", "SET b 1e4932", "INCRBYFLOAT b 1e4932", "GET b", "SET n 5",
        "INCRBYFLOAT n 1", "INCR n", "INCRBYFLOAT n 1.5", "INCR n", "SET t 1 EX 1000",
        "INCRBYFLOAT t 2.5", "TTL t", "INCRBYFLOAT big 1.7e308", "INCRBYFLOAT tiny 0.1",
        "INCRBYFLOAT tiny 0.2",
    ],
    "setrange": [
        "SETRANGE s 0 \"\"", "EXISTS s", "SETRANGE s 5 \"\"", "EXISTS s", "SETRANGE s 3 ab",
        "GET s", "SET h \"Hello World\"", "SETRANGE h 6 Redis", "GET h", "SETRANGE h 0 \"\"",
        "SETRANGE h 100 \"\"", "SETRANGE h -1 x", "SETRANGE h x x", "SETRANGE h 536870911 \"\"",
        "SETRANGE h 536870912 x", "SETRANGE h 536870911 xy", "SETRANGE h 9223372036854775807 x",
        "SETRANGE h -9223372036854775808 x", "SETRANGE h 11 !", "GET h", "STRLEN h",
        "SET t abc EX 1000", "SETRANGE t 1 X", "TTL t", "GET t",
    ],
    "expiry": [
        "SET k v", "EXPIRE k 10 NX XX", "EXPIRE k 10 NX GT", "EXPIRE k 10 GT LT",
        "EXPIRE k 10 foo", "EXPIRE k x foo", "EXPIRE k x", "EXPIRE k 9223372036854775807",
        "PEXPIRE k 9223372036854775807", "EXPIREAT k -9223372036854775808", "EXPIRE nokey 10",
        "EXPIRE k 1000 XX", "EXPIRE k 1000 NX", "EXPIRE k 500 GT", "EXPIRE k 500 LT", "TTL k",
        "EXPIRE k 1000 gt", "TTL k", "PERSIST k", "PERSIST k", "TTL k", "TTL nokey",
        "PTTL nokey", "PTTL k", "EXPIRETIME nokey", "PEXPIRETIME nokey", "EXPIREAT k 4000000000",
        "EXPIRETIME k", "PEXPIRETIME k", "PEXPIREAT k 4000000000123", "PEXPIRETIME k",
        "PEXPIREAT k 1", "EXISTS k", "SET k v", "EXPIRE k -1", "EXISTS k", "SET k v",
        "EXPIRE k 0 XX", "SET k v", "PERSIST k", "EXPIRE k 10 LT", "TTL k",
    ],
    "connection": [
        "PING", "PING hello", "ECHO \"\"", "ECHO abc", "SELECT 0", "SELECT x", "DBSIZE",
        "FLUSHALL x", "FLUSHALL SYNC", "FLUSHDB ASYNC", "DBSIZE",
    ],
}


@unittest.skipIf(REDIS_SERVER is None, "redis-server not installed")
class RedisDifferential(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="phalanx-diff-")
        (cls.redis_port,) = free_ports(1)
        log = open(os.path.join(cls.dir, "redis.log"), "wb")
        # Stopped by PID in tearDownClass; no persistence, its own directory.
        cls.redis = subprocess.Popen(
            [REDIS_SERVER, "--port", str(cls.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", cls.dir],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        cls.cluster = Cluster(1).start()
        try:
            cls.cluster.wait_ready()
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                try:
                    RawConn(cls.redis_port).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.teardown()
        if cls.redis.poll() is None:
            cls.redis.terminate()
            try:
                cls.redis.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.redis.kill()
                cls.redis.wait(timeout=10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def connect(self):
        r, p = RawConn(self.redis_port), RawConn(self.cluster.nodes[0].resp_port)
        self.addCleanup(r.close)
        self.addCleanup(p.close)
        return r, p

    def compare(self, name, lines):
        cmds = [cmd(line) for line in lines]
        r, p = self.connect()
        for mode in ("one at a time", "pipelined"):
            self.assertEqual(r.call(["FLUSHALL"]), p.call(["FLUSHALL"]))
            if mode == "pipelined":
                got_r, got_p = r.pipeline(cmds), p.pipeline(cmds)
            else:
                got_r = [r.call(c) for c in cmds]
                got_p = [p.call(c) for c in cmds]
            for line, want, got in zip(lines, got_r, got_p):
                self.assertEqual(got, want, "%s (%s): %s" % (name, mode, line))

    def test_every_sequence_replies_byte_identical(self):
        for name, lines in SEQUENCES.items():
            with self.subTest(sequence=name):
                self.compare(name, lines)

    def test_resp3_replies_byte_identical(self):
        lines = ["HELLO 3", "SET k v", "GET k", "GET nokey", "GETDEL nokey", "GETEX nokey",
                 "MGET k nokey", "INCRBYFLOAT f 1.5", "SETRANGE k 1 x", "EXISTS k", "TTL k"]
        cmds = [cmd(line) for line in lines]
        r, p = self.connect()
        self.assertEqual(r.call(["FLUSHALL"]), p.call(["FLUSHALL"]))
        got_r, got_p = [r.call(c) for c in cmds], [p.call(c) for c in cmds]
        # HELLO's map names the server (id, version, mode): only its type is compared.
        self.assertEqual(got_r[0][:1], got_p[0][:1])
        for line, want, got in list(zip(lines, got_r, got_p))[1:]:
            self.assertEqual(got, want, line)

    def test_binary_and_large_values(self):
        big = os.urandom(300000)
        lines = [["SET", b"bin\x00\xff", b"\r\n\x00"], ["GET", b"bin\x00\xff"],
                 ["SETRANGE", b"bin\x00\xff", b"10", b"\x00\x01"], ["GET", b"bin\x00\xff"],
                 ["SET", "big", big], ["APPEND", "big", big], ["STRLEN", "big"],
                 ["GETRANGE", "big", "299990", "300010"], ["GETDEL", "big"], ["EXISTS", "big"]]
        r, p = self.connect()
        self.assertEqual(r.call(["FLUSHALL"]), p.call(["FLUSHALL"]))
        for c in lines:
            self.assertEqual(p.call(c), r.call(c), repr(c)[:80])


if __name__ == "__main__":
    unittest.main(verbosity=2)
