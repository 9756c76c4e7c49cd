#!/usr/bin/env bash
# A local multi-host cluster on this machine, for trying swarm out: each host is a network
# namespace with its own address on a bridge, running its own swarmd; the first host inits the
# cluster, the next managers and the workers join it. Run as root on Debian.
#
#   deploy/local-cluster.sh up      # build, start 3 managers + 2 workers, show `swarm node ls`
#   deploy/local-cluster.sh down    # stop every swarmd, remove namespaces, bridge and state
#   deploy/local-cluster.sh swarm h1 node ls   # run the CLI against host h1's swarmd
#
# MANAGERS and WORKERS change the counts; STATE (default /tmp/swarm-local) holds data and logs.
set -euo pipefail
cd "$(dirname "$0")/.."

MANAGERS=${MANAGERS:-3}
WORKERS=${WORKERS:-2}
STATE=${STATE:-/tmp/swarm-local}
BRIDGE=swlocal0
NET=10.79.0
HOSTS=$((MANAGERS + WORKERS))

swarm_cli() { # host, args...
  local h=$1
  shift
  node dist/cli/main.js -H "unix://$STATE/$h/swarmd.sock" "$@"
}

setup_packages() {
  local need=()
  command -v ip >/dev/null || need+=(iproute2)
  command -v nsenter >/dev/null || need+=(util-linux)
  command -v node >/dev/null || need+=(nodejs npm)
  if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
  [ -d node_modules ] || npm ci --no-audit --no-fund
  npm run --silent build
}

down() {
  for pidfile in "$STATE"/h*/swarmd.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$STATE"/h*/swarmd.pid; do
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for ns in $(ip netns list | awk '/^swlocal-h[0-9]+/ {print $1}'); do ip netns del "$ns"; done
  ip link del "$BRIDGE" 2>/dev/null || true
  if command -v iptables >/dev/null; then iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true; fi
  rm -rf "$STATE"
}

up() {
  setup_packages
  down
  mkdir -p "$STATE"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  if command -v iptables >/dev/null; then iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT; fi
  for i in $(seq "$HOSTS"); do
    local ns=swlocal-h$i addr=$NET.$((10 + i))
    ip netns add "$ns"
    ip link add "swlocal-v$i" type veth peer name eth0 netns "$ns"
    ip link set "swlocal-v$i" master "$BRIDGE" up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    mkdir -p "$STATE/h$i"
    nsenter --net="/var/run/netns/$ns" node dist/daemon/main.js --data-dir "$STATE/h$i/data" -H "unix://$STATE/h$i/swarmd.sock" \
      --listen-addr "$addr:2377" --advertise-addr "$addr" --hostname "h$i" >"$STATE/h$i/swarmd.log" 2>&1 &
    echo $! >"$STATE/h$i/swarmd.pid"
  done
  for i in $(seq "$HOSTS"); do
    for _ in $(seq 100); do [ -S "$STATE/h$i/swarmd.sock" ] && break; sleep 0.1; done
  done
  swarm_cli h1 init
  local manager_token worker_token
  manager_token=$(swarm_cli h1 join-token -q manager)
  worker_token=$(swarm_cli h1 join-token -q worker)
  for i in $(seq 2 "$MANAGERS"); do swarm_cli "h$i" join --token "$manager_token" "$NET.11:2377"; done
  for i in $(seq $((MANAGERS + 1)) "$HOSTS"); do swarm_cli "h$i" join --token "$worker_token" "$NET.11:2377"; done
  for _ in $(seq 100); do
    [ "$(swarm_cli h1 node ls --format '{{.Status}}' | grep -c Ready)" = "$HOSTS" ] && break
    sleep 0.2
  done
  swarm_cli h1 node ls
  echo
  echo "Try: $0 swarm h1 info    |    $0 down"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  swarm)
    shift
    swarm_cli "$@"
    ;;
  *)
    echo "usage: $0 up|down|swarm HOST ARGS..." >&2
    exit 1
    ;;
esac
