#!/usr/bin/env bash
# A local multi-host cluster on this machine, for trying swarm out: each host is a network
# namespace with its own address on a bridge, running its own Docker engine and its own swarmd; the
# first host inits the cluster, the next managers and the workers join it, and a demo service runs
# on it. Images come from a busybox-static rootfs imported into every engine (no registry needed).
# Run as root on Debian.
#
#   deploy/local-cluster.sh up      # build, start 3 managers + 2 workers, deploy the demo service,
#                                   # show `swarm node ls` and `swarm service ps demo`
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
IMAGE=swarm-demo/busybox:latest
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
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v curl >/dev/null || need+=(curl)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
  if ((${#need[@]})); then
    apt-get update -qq
    # No package may start its service (a system dockerd would set the FORWARD policy to DROP).
    local own_policy=""
    [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  fi
  [ -d node_modules ] || npm ci --no-audit --no-fund
  npm run --silent build
}

# The demo image: a busybox-static root filesystem, imported into an engine.
rootfs_tarball() {
  local tar=$STATE/busybox-rootfs.tar root=$STATE/rootfs
  [ -f "$tar" ] && return
  rm -rf "$root"
  mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$tar" .
  rm -rf "$root"
}

# One dockerd per host, inside the host's namespace, with its own state under $STATE/hN/docker.
start_engine() { # i
  local i=$1 dir=$STATE/h$1/docker
  mkdir -p "$dir/data" "$dir/exec"
  nsenter --net="/var/run/netns/swlocal-h$i" dockerd --data-root="$dir/data" --exec-root="$dir/exec" \
    --pidfile="$dir/docker.pid" --host="unix://$dir/docker.sock" --bridge=none --iptables=false \
    --ip6tables=false --ip-forward=false --ip-masq=false --userland-proxy=false --shutdown-timeout=2 \
    >"$STATE/h$i/dockerd.log" 2>&1 &
  echo $! >"$STATE/h$i/dockerd.pid"
}

import_image() { # i
  local sock=$STATE/h$1/docker/docker.sock
  for _ in $(seq 150); do curl -sf --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1 && break; sleep 0.2; done
  curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' --data-binary "@$STATE/busybox-rootfs.tar" \
    "http://docker/images/create?fromSrc=-&repo=${IMAGE%:*}&tag=${IMAGE##*:}&changes=CMD%20%5B%22sh%22%5D" >/dev/null
}

stop_pidfiles() { # name
  for pidfile in "$STATE"/h*/"$1".pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$STATE"/h*/"$1".pid; do
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

down() {
  stop_pidfiles swarmd
  # dockerd stops its containers (SIGTERM, then SIGKILL after its 2 s shutdown timeout).
  stop_pidfiles dockerd
  for d in "$STATE"/h*/docker/exec "$STATE"/h*/docker/data; do
    [ -d "$d" ] && grep -o " $d[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  done
  rm -rf "$STATE"
  for ns in $(ip netns list | awk '/^swlocal-h[0-9]+/ {print $1}'); do ip netns del "$ns"; done
  ip link del "$BRIDGE" 2>/dev/null || true
  if command -v iptables >/dev/null; then iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true; fi
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
    start_engine "$i"
  done
  rootfs_tarball
  for i in $(seq "$HOSTS"); do
    local ns=swlocal-h$i addr=$NET.$((10 + i))
    import_image "$i"
    nsenter --net="/var/run/netns/$ns" node dist/daemon/main.js --data-dir "$STATE/h$i/data" -H "unix://$STATE/h$i/swarmd.sock" \
      --listen-addr "$addr:2377" --advertise-addr "$addr" --hostname "h$i" \
      --engine-socket "$STATE/h$i/docker/docker.sock" >"$STATE/h$i/swarmd.log" 2>&1 &
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
  swarm_cli h1 service create --name demo --replicas 6 "$IMAGE" \
    sh -c 'trap "exit 0" TERM; while true; do echo "hello from $(hostname)"; sleep 5; done'
  echo
  swarm_cli h1 node ls
  echo
  swarm_cli h1 service ps demo
  echo
  echo "Try: $0 swarm h1 service ls    |    $0 swarm h1 service logs demo    |    $0 down"
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
