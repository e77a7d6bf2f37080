#!/usr/bin/env python3
"""Regenerates resp/command_docs.inc: the COMMAND INFO and COMMAND DOCS
entries of every command Phalanx implements, taken from a running Redis 7
(Debian's redis-server 7.0.15) in RESP3, with container commands' subcommand
lists cut down to the subcommands Phalanx has.

    redis-server --port 16379 --save '' &
    python3 resp/tools/gen_command_docs.py 16379 > resp/command_docs.inc

Commands Redis 7.0 lacks (CLIENT SETINFO, added in 7.2) are written by hand
below in the same shape.
"""
import socket
import sys

# Keep in sync with the command table in resp/commands.cc.
COMMANDS = """ping echo quit reset hello auth select client command config info dbsize time
readonly readwrite flushall flushdb set get getset setnx setex psetex mset msetnx mget del
getdel getex unlink exists incr incrby decr decrby incrbyfloat append setrange strlen getrange
expire pexpire expireat pexpireat ttl pttl expiretime pexpiretime persist type keys scan
randomkey""".split()
SUBCOMMANDS = {
    "client": ["client|setname", "client|getname", "client|id", "client|info", "client|list",
               "client|help"],
    "command": ["command|count", "command|docs", "command|info", "command|list", "command|help"],
    "config": ["config|get", "config|set", "config|resetstat", "config|help"],
}


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(1 << 16)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def value(self):
        ln = self.line()
        t, rest = chr(ln[0]), ln[1:]
        if t in "+-:_#,":
            return (t, rest)
        if t in "$=":
            return (t, self.exact(int(rest)))
        if t in "*~":
            return (t, [self.value() for _ in range(int(rest))])
        if t == "%":
            return (t, [(self.value(), self.value()) for _ in range(int(rest))])
        raise ValueError("unexpected type " + t)


def encode(v):
    t, x = v
    if t in "+-:_#,":
        return t.encode() + x + b"\r\n"
    if t in "$=":
        return t.encode() + str(len(x)).encode() + b"\r\n" + x + b"\r\n"
    if t in "*~":
        return t.encode() + str(len(x)).encode() + b"\r\n" + b"".join(encode(e) for e in x)
    if t == "%":
        return (b"%" + str(len(x)).encode() + b"\r\n" +
                b"".join(encode(k) + encode(w) for k, w in x))
    raise ValueError(t)


def request(sock, reader, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return reader.value()


def cxx_literal(b):
    out = []
    for ch in b.decode("latin1"):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ord(ch) > 126:
            out.append("\\x%02x\"\"" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def bulk(s):
    return ("$", s.encode())


# CLIENT SETINFO as Redis 7.2 describes it.
SETINFO_INFO = ("*", [bulk("client|setinfo"), (":", b"4"),
                      ("~", [("+", b"noscript"), ("+", b"loading"), ("+", b"stale")]),
                      (":", b"0"), (":", b"0"), (":", b"0"),
                      ("~", [("+", b"@slow"), ("+", b"@connection")]),
                      ("~", []), ("~", []), ("~", [])])
SETINFO_DOCS = ("%", [
    (bulk("summary"), bulk("Sets information specific to the client or connection.")),
    (bulk("since"), bulk("7.2.0")),
    (bulk("group"), bulk("connection")),
    (bulk("complexity"), bulk("O(1)")),
    (bulk("arguments"), ("*", [("%", [
        (bulk("name"), bulk("attr")), (bulk("type"), bulk("oneof")),
        (bulk("arguments"), ("*", [
            ("%", [(bulk("name"), bulk("libname")), (bulk("type"), bulk("string")),
                   (bulk("token"), bulk("LIB-NAME"))]),
            ("%", [(bulk("name"), bulk("libver")), (bulk("type"), bulk("string")),
                   (bulk("token"), bulk("LIB-VER"))])]))])])),
])


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    sock = socket.create_connection(("127.0.0.1", port))
    reader = Reader(sock)
    request(sock, reader, "HELLO", "3")
    version = request(sock, reader, "INFO", "server")[1].decode()
    redis_version = [l for l in version.split("\r\n") if l.startswith("redis_version:")][0]
    entries = []
    for name in COMMANDS:
        info = request(sock, reader, "COMMAND", "INFO", name)[1][0]
        docs_map = request(sock, reader, "COMMAND", "DOCS", name)[1]
        docs = docs_map[0][1]
        if name in SUBCOMMANDS:
            keep = SUBCOMMANDS[name]
            subs = [s for s in info[1][9][1] if s[1][0][1].decode() in keep]
            subs.sort(key=lambda s: keep.index(s[1][0][1].decode()))
            if name == "client":
                subs.insert(keep.index("client|info"), SETINFO_INFO)
            info[1][9] = (info[1][9][0], subs)
            fields = []
            for k, v in docs[1]:
                if k[1] == b"subcommands":
                    sub_docs = [(sk, sv) for sk, sv in v[1] if sk[1].decode() in keep]
                    sub_docs.sort(key=lambda e: keep.index(e[0][1].decode()))
                    if name == "client":
                        sub_docs.insert(keep.index("client|info"),
                                        (bulk("client|setinfo"), SETINFO_DOCS))
                    v = (v[0], sub_docs)
                fields.append((k, v))
            docs = ("%", fields)
        entries.append((name, encode(info), encode(docs)))
    print("// Generated by resp/tools/gen_command_docs.py from Redis %s." %
          redis_version.split(":")[1])
    print("// Do not edit by hand: COMMAND INFO and COMMAND DOCS entries in RESP3 form,")
    print("// converted to RESP2 at reply time for RESP2 clients.")
    print("// clang-format off")
    for name, info, docs in entries:
        print("{%s,\n %s,\n %s}," % (cxx_literal(name.encode()), cxx_literal(info),
                                     cxx_literal(docs)))
    print("// clang-format on")


if __name__ == "__main__":
    main()
