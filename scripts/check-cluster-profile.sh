#!/usr/bin/env bash
# The compose `cluster` profile's topology on this machine, without Docker: a 3-master Redis
# Cluster, three compiled servers (node dist/main.js, REDIS_CLUSTER_NODES) and HAProxy with
# deploy/haproxy.cfg (its server addresses rewritten to the local ports). Clients connect through
# HAProxy over websocket and over HTTP long-polling (which fails without sticky sessions), join one
# room from different servers and must all get one chat message (scripts/cluster-smoke.mjs).
# Then the same with the cookie line removed from the config, which must fail: the check can fail.
#
# Needs redis-server, redis-cli and haproxy (apt-get install haproxy, or HAPROXY=/path/to/haproxy)
# and a build (npm run build). Not part of CI. Usage: bash scripts/check-cluster-profile.sh
# REDIS_MODE=single: one plain redis-server instead of the cluster (checks only the proxy part).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node24.sh
HAPROXY="${HAPROXY:-haproxy}"
log() { printf '[check-cluster] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
command -v "$HAPROXY" >/dev/null || die "haproxy not found (apt-get install haproxy, or set HAPROXY)"
[[ -f dist/main.js ]] || die "no dist/main.js: run npm run build"

work="$(mktemp -d /tmp/check-cluster.XXXXXX)"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((status == 0)); then rm -rf "$work"; else log "logs kept in $work"; fi
}
trap cleanup EXIT
source scripts/lib/check-kit.sh

if [[ "${REDIS_MODE:-cluster}" == single ]]; then
  p="$(free_port)"
  redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
  pids+=($!)
  wait_for "$work/redis.log" 'Ready to accept connections' 20 || die "redis-server did not start"
  redis_env=(REDIS_URL="redis://127.0.0.1:$p")
  log "one Redis on $p (REDIS_MODE=single)"
else
  # Redis Cluster: three masters, no persistence.
  redis_ports=()
  for i in 1 2 3; do
    p="$(free_port)"; redis_ports+=("$p"); mkdir -p "$work/redis-$i"
    (cd "$work/redis-$i" && exec redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file nodes.conf --save '' --appendonly no >redis.log 2>&1) &
    pids+=($!)
    wait_for "$work/redis-$i/redis.log" 'Ready to accept connections' 20 || die "redis-server $i did not start"
  done
  echo yes | redis-cli --cluster create "${redis_ports[@]/#/127.0.0.1:}" --cluster-replicas 0 >"$work/cluster-create.log" 2>&1 ||
    { cat "$work/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
  for _ in $(seq 100); do redis-cli -p "${redis_ports[0]}" cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
  redis-cli -p "${redis_ports[0]}" cluster info | grep -q cluster_state:ok || die "the cluster did not reach cluster_state:ok"
  seeds="$(printf '127.0.0.1:%s,' "${redis_ports[@]}")"; seeds="${seeds%,}"
  log "Redis Cluster: $seeds"
  redis_env=(REDIS_CLUSTER_NODES="$seeds")
fi

# Three servers on it, as the compose file runs them.
app_ports=()
for i in 1 2 3; do
  p="$(free_port)"; app_ports+=("$p")
  env "${redis_env[@]}" PORT="$p" HOST=127.0.0.1 JWT_SECRET=check-cluster-secret-0123456789 DEV_TOKENS=true TRUST_PROXY_HOPS=1 \
    MEDIA_ENABLED=false NODE_OPTIONS= node --max-semi-space-size=64 dist/main.js >"$work/app-$i.log" 2>&1 &
  pids+=($!)
  wait_for "$work/app-$i.log" 'listening|failed to start|invalid configuration' 60 || die "server $i did not start"
  grep -q listening "$work/app-$i.log" || { cat "$work/app-$i.log" >&2; die "server $i did not start"; }
done
log "servers: ${app_ports[*]}"

# run_proxy CONFIG: start HAProxy on it, wait until all three servers pass its /readyz check.
proxy_port="$(free_port)"
stats_port="$(free_port)"
render() {
  sed -e 's/^\(\s*maxconn\) [0-9]*/\1 2000/' -e "s/^\(\s*bind\) :8080/\1 127.0.0.1:$proxy_port/" -e "s/^\(\s*bind\) :8404/\1 127.0.0.1:$stats_port/" \
    -e '/^resolvers docker/,/^$/d' -e 's/ resolvers docker//' \
    -e "s/app-1:3000/127.0.0.1:${app_ports[0]}/" -e "s/app-2:3000/127.0.0.1:${app_ports[1]}/" -e "s/app-3:3000/127.0.0.1:${app_ports[2]}/" \
    deploy/haproxy.cfg
}
run_proxy() {
  "$HAPROXY" -c -f "$1" >"$work/haproxy-check.log" 2>&1 || { cat "$work/haproxy-check.log" >&2; die "haproxy -c rejected $1"; }
  "$HAPROXY" -db -f "$1" >"$work/haproxy.log" 2>&1 &
  proxy_pid=$!
  pids+=("$proxy_pid")
  for _ in $(seq 100); do
    up="$(curl -fsS "http://127.0.0.1:$stats_port/;csv" 2>/dev/null | awk -F, '$1=="servers" && $18=="UP"' | wc -l)" || true
    ((up == 3)) && return 0
    sleep 0.1
  done
  die "HAProxy did not see three healthy servers"
}
stop_proxy() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; }

render >"$work/haproxy.cfg"
run_proxy "$work/haproxy.cfg"
log "HAProxy on 127.0.0.1:$proxy_port (deploy/haproxy.cfg), all three servers UP by /readyz"
node scripts/cluster-smoke.mjs "http://127.0.0.1:$proxy_port" 9 || die "clients through HAProxy failed"
stop_proxy

# Control: without the sticky cookie, polling clients must break (the check above can fail).
render | sed -e '/^\s*cookie lc_node/d' -e 's/ cookie app-[123]//' -e 's/balance leastconn/balance roundrobin/' >"$work/haproxy-nosticky.cfg"
run_proxy "$work/haproxy-nosticky.cfg"
if node scripts/cluster-smoke.mjs "http://127.0.0.1:$proxy_port" 9 >"$work/nosticky.log" 2>&1; then
  die "polling clients worked without sticky sessions: this check cannot tell"
fi
log "control without the sticky cookie: failed as it must ($(grep -m1 FAILED "$work/nosticky.log"))"
stop_proxy
log "OK"
