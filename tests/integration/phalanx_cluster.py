"""Start, stop, kill and inspect real `phalanx` processes on loopback.

Used by the integration tests. Every process is started by this harness and
stopped by its PID; ports are chosen free at run time; every wait is bounded.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (also free for UDP in practice)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks += [s, u]
            ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


def toml_value(v):
    """A TOML value for a str, int, bool or list of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: the same escapes as JSON's
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError("no TOML form for %r" % (v,))


def node_toml(sections):
    """The text of a node's TOML configuration: {section: {key: value}} in
    order, one "[section]" and its "key = value" lines each (keys whose value
    is None left out), the last line ending in a newline. The one way the
    tests write a node's configuration (test_binary.py edits this text to
    make bad ones)."""
    lines = []
    for name, keys in sections.items():
        lines.append("[%s]" % name)
        lines += ["%s = %s" % (k, toml_value(v)) for k, v in keys.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


def write_node_config(path, sections):
    """Writes node_toml(sections) to path."""
    with open(path, "w") as f:
        f.write(node_toml(sections))


def binary():
    path = os.environ.get("PHALANX_BIN")
    if not path or not os.path.exists(path):
        raise RuntimeError("set PHALANX_BIN to the phalanx binary (CTest does)")
    return path


class Node:
    def __init__(self, cluster, name, resp_port, raft_port, swim_port):
        self.cluster = cluster
        self.name = name
        self.resp_port = resp_port
        self.raft_port = raft_port
        self.swim_port = swim_port
        self.proc = None
        self.log_path = os.path.join(cluster.dir, name + ".log")
        self.config_path = os.path.join(cluster.dir, name + ".toml")
        self.data_dir = os.path.join(cluster.dir, "data", name)

    def config(self, initial_cluster):
        """The harness's configuration of this node, as node_toml() takes it."""
        c = self.cluster
        return {
            "node": {"id": self.name, "data_dir": self.data_dir, "log_level": "info"},
            "resp": {"listen": "127.0.0.1:%d" % self.resp_port, "threads": 2},
            "raft": {
                "listen": "127.0.0.1:%d" % self.raft_port,
                "initial_cluster": list(initial_cluster),
                "tick_ms": c.tick_ms,
                "election_ticks": c.election_ticks,
                "request_timeout_ms": c.request_timeout_ms,
                "snapshot_entries": c.snapshot_entries,
            },
            "membership": {"listen": "127.0.0.1:%d" % self.swim_port},
        }

    def write_config(self, initial_cluster, **sections):
        """Writes config() to config_path with `sections` merged over it, e.g.
        write_config(members, raft={"fault_injection": True}); a key set to
        None is left out (the node's default applies)."""
        config = self.config(initial_cluster)
        for name, keys in sections.items():
            config.setdefault(name, {}).update(keys)
        write_node_config(self.config_path, config)

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary(), "--config", self.config_path],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """kill -9: no chance to flush anything."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout=20):
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def client(self, timeout=10):
        return redis.Redis(host="127.0.0.1", port=self.resp_port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def raft_info(self):
        try:
            return self.client(timeout=2).info("raft")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ResponseError):
            return None

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Cluster:
    """n nodes named n1..nN with one shared initial_cluster."""

    def __init__(self, n, tick_ms=50, election_ticks=10, request_timeout_ms=5000,
                 snapshot_entries=10000, keep=False):
        self.dir = tempfile.mkdtemp(prefix="phalanx-it-")
        self.tick_ms = tick_ms
        self.election_ticks = election_ticks
        self.request_timeout_ms = request_timeout_ms
        self.snapshot_entries = snapshot_entries
        self.keep = keep
        ports = free_ports(3 * n)
        self.nodes = [Node(self, "n%d" % (i + 1), ports[3 * i], ports[3 * i + 1], ports[3 * i + 2])
                      for i in range(n)]
        members = ["%s=127.0.0.1:%d" % (x.name, x.raft_port) for x in self.nodes]
        for x in self.nodes:
            x.write_config(members)

    def election_timeout_s(self):
        return self.tick_ms * self.election_ticks / 1000.0

    def start(self):
        for x in self.nodes:
            x.start()
        return self

    def node(self, name):
        return next(x for x in self.nodes if x.name == name)

    def wait_ready(self, timeout=30):
        """Wait until every live node answers and all agree on one leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = [x.raft_info() for x in self.nodes if x.alive()]
            if infos and all(i is not None for i in infos):
                leaders = {i.get("leader_id") for i in infos}
                if len(leaders) == 1 and "" not in leaders and None not in leaders:
                    return self.node(str(leaders.pop()))
            time.sleep(0.05)
        raise TimeoutError("cluster did not elect a leader in %ss; logs in %s" % (timeout, self.dir))

    def leader(self, timeout=30):
        return self.wait_ready(timeout)

    def teardown(self):
        for x in self.nodes:
            try:
                x.kill()
            except Exception:
                pass
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def retry(fn, timeout=15, interval=0.05, what="condition"):
    """Calls fn until it returns a truthy value without raising; bounded."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ResponseError) as e:
            last = e
        time.sleep(interval)
    raise TimeoutError("%s not reached in %ss (last error: %r)" % (what, timeout, last))
