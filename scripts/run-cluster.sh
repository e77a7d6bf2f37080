#!/usr/bin/env bash
# The README's run command: installs the dependencies, builds Release, and runs
# a 3-node Phalanx cluster on loopback until Ctrl-C. Data lives in
# data/local-cluster/ and survives the next run.
#
# RESP ports are 6379, 6380, 6381 unless one is taken; then free ones are used
# and printed. Raft and gossip ports are chosen on the first run and kept (the
# cluster's membership records them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPHALANX_BUILD_TESTS=OFF -DPHALANX_BUILD_BENCH=OFF >/dev/null
cmake --build build-release --target phalanx -j "$(nproc)"
bin="$root/build-release/phalanx"

dir="$root/data/local-cluster"
mkdir -p "$dir"

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Raft/gossip ports: kept from the first run.
if [ ! -f "$dir/ports" ]; then
  : >"$dir/ports"
  for i in 1 2 3; do
    raft=$((7378 + i)); swim=$((7945 + i))
    port_taken "$raft" && raft=$(free_port)
    port_taken "$swim" && swim=$(free_port)
    echo "n$i $raft $swim" >>"$dir/ports"
  done
fi

members=""
seed=""  # n1's gossip address: every node joins SWIM through it
while read -r name raft swim; do
  members+="${members:+, }\"$name=127.0.0.1:$raft\""
  [ -n "$seed" ] || seed="127.0.0.1:$swim"
done <"$dir/ports"

pids=()
resp_ports=()
stop() {
  trap - INT TERM
  echo
  echo "stopping the cluster (data kept in $dir)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit 0
}
trap stop INT TERM

i=0
while read -r name raft swim; do
  i=$((i + 1))
  resp=$((6378 + i))
  if port_taken "$resp"; then
    taken=$resp
    resp=$(free_port)
    echo "port $taken is taken; $name serves RESP on $resp instead"
  fi
  resp_ports+=("$resp")
  cat >"$dir/$name.toml" <<TOML
[node]
id = "$name"
data_dir = "$dir/$name"

[resp]
listen = "127.0.0.1:$resp"

[raft]
listen = "127.0.0.1:$raft"
initial_cluster = [$members]

[membership]
listen = "127.0.0.1:$swim"
seeds = ["$seed"]
TOML
  "$bin" --config "$dir/$name.toml" >>"$dir/$name.log" 2>&1 &
  pids+=("$!")
done <"$dir/ports"

# From here on a failing command must not exit and leave the nodes running.
set +e

# Wait (bounded) for a leader.
leader=""
for _ in $(seq 1 100); do
  leader=$(redis-cli -p "${resp_ports[0]}" INFO raft 2>/dev/null | tr -d '\r' | sed -n 's/^leader_id://p' || true)
  [ -n "$leader" ] && break
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a node exited; see $dir/*.log"; tail -n 5 "$dir"/*.log; stop
    fi
  done
  sleep 0.1
done

echo
echo "Phalanx: 3 nodes up (leader: ${leader:-electing}). Logs: $dir/n*.log"
for idx in 0 1 2; do echo "  n$((idx + 1)): redis-cli -p ${resp_ports[$idx]}"; done
echo "Try: redis-cli -p ${resp_ports[0]} SET k v && redis-cli -p ${resp_ports[1]} GET k"
echo "Ctrl-C stops the cluster."
wait
