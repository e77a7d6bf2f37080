"""Runs a client program against a real 1-node phalanx: starts the node (on
free ports, through phalanx_cluster), runs `program <resp-port>` with a
bounded time, stops the node by PID and exits with the program's status.

    run_with_node.py <program> [timeout-seconds]
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from phalanx_cluster import Cluster  # noqa: E402


def main():
    program = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 120
    cluster = Cluster(1).start()
    try:
        node = cluster.wait_ready()
        return subprocess.run([program, str(node.resp_port)], timeout=timeout).returncode
    finally:
        cluster.teardown()


if __name__ == "__main__":
    sys.exit(main())
