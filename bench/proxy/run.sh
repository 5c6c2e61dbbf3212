#!/usr/bin/env bash
# Side-by-side HTTP/1.1 proxy benchmark: the same origin, load generators and core pinning for
# a direct baseline, a bare byte relay (the floor of any proxy here), nginx, HAProxy and
# meshgate-proxy, in one run. See bench/README.md.
#
#   bash bench/proxy/run.sh
#   bash bench/proxy/run.sh --write-meshgate-config DIR   # only write meshgate's config, to DIR
#
# Environment (all optional):
#   BUILD_DIR       build tree with bin/meshgate-loadgen (and meshgate binaries)  [<repo>/build]
#   MESHGATE_PROXY, MESHGATE_OPERATOR   the meshgate binaries  [$BUILD_DIR/bin/...]
#   PEERS           which targets to measure             ["direct relay nginx haproxy meshgate"]
#   DURATION        seconds per load phase                     [10]
#   PORT_BASE       first of the loopback ports used           [18080]
#   RESULTS_DIR     where the JSON result goes                 [$BUILD_DIR/bench/results]
#   REALTIME=1      run origin, proxies, wrk and meshgate-loadgen at SCHED_FIFO priority, so
#                   other work on a shared machine disturbs the latency numbers less
#   KEEP_TMP=1      keep the temp dir with configs and logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
LOADGEN=${LOADGEN:-$BUILD_DIR/bin/meshgate-loadgen}
RELAY=${RELAY:-$BUILD_DIR/bin/meshgate-bench-relay}
MESHGATE_PROXY=${MESHGATE_PROXY:-$BUILD_DIR/bin/meshgate-proxy}
MESHGATE_OPERATOR=${MESHGATE_OPERATOR:-$BUILD_DIR/bin/meshgate-operator}
HOLD_CONNECTIONS="$ROOT/bench/proxy/hold_connections.py"
PEERS=${PEERS:-"direct relay nginx haproxy meshgate"}
DURATION=${DURATION:-10}
PORT_BASE=${PORT_BASE:-18080}
RESULTS_DIR=${RESULTS_DIR:-$BUILD_DIR/bench/results}

THROUGHPUT_CONNECTIONS=50
CPU_RATE=2000
LATENCY_RATE=1000
LOADGEN_CONNECTIONS=8
CLUSTERS=100
IDLE_CONNECTIONS=1000
BODY_BYTES=1024

ORIGIN_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
HAPROXY_PORT=$((PORT_BASE + 2))
MESHGATE_PORT=$((PORT_BASE + 3))
RELAY_PORT=$((PORT_BASE + 4))
OPERATOR_XDS_PORT=$((PORT_BASE + 10))
OPERATOR_ADMIN_PORT=$((PORT_BASE + 11))
PROXY_ADMIN_PORT=$((PORT_BASE + 12))

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_init proxy

# ---------------------------------------------------------------------------------------------
# Configs. Every peer keeps connections alive on both sides and logs nothing.

write_haproxy_config() {
  local i
  mkdir -p "$TMP/haproxy"
  {
    haproxy_global_and_defaults
    cat <<EOF

frontend bench
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend origin

backend origin
  server origin 127.0.0.1:$ORIGIN_PORT
EOF
    for ((i = 1; i < CLUSTERS; i++)); do
      printf '\nbackend extra_%d\n  server origin 127.0.0.1:%d\n' "$i" "$ORIGIN_PORT"
    done
  } >"$TMP/haproxy/haproxy.cfg"
}

# meshgate reads Kubernetes objects: a Gateway for the listener, a VirtualService routing to the
# origin Service, and CLUSTERS Services with EndpointSlices (all pointing at the origin).
write_meshgate_config() {
  local dir=$1 i name
  mkdir -p "$dir"
  cat >"$dir/namespace.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: bench
EOF
  cat >"$dir/gateway.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bench-gateway
  namespace: bench
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: $MESHGATE_PORT
      name: http
      protocol: HTTP
    hosts:
    - "*"
EOF
  cat >"$dir/virtual-service.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: origin
  namespace: bench
spec:
  hosts:
  - "*"
  gateways:
  - bench-gateway
  http:
  - route:
    - destination:
        host: svc-0.bench.svc.cluster.local
        port:
          number: 80
EOF
  for ((i = 0; i < CLUSTERS; i++)); do
    name=svc-$i
    cat <<EOF
---
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: bench
spec:
  selector:
    app: $name
  ports:
  - name: http
    port: 80
    targetPort: $ORIGIN_PORT
    protocol: TCP
    appProtocol: http
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $name-1
  namespace: bench
  labels:
    kubernetes.io/service-name: $name
addressType: IPv4
ports:
- name: http
  port: $ORIGIN_PORT
  protocol: TCP
  appProtocol: http
endpoints:
- addresses:
  - 127.0.0.1
  conditions:
    ready: true
EOF
  done | tail -n +2 >"$dir/services.yaml"
}

# ---------------------------------------------------------------------------------------------
# Peers. start_<peer> sets PEER_URL and PEER_PID (the process tree whose CPU and memory count),
# or returns non-zero with SKIP_REASON set.

start_direct() {
  PEER_URL=$ORIGIN_URL
  PEER_PID=$ORIGIN_PID
}

# The floor: one epoll thread copying bytes between each client connection and an upstream
# connection of its own (bench/proxy/tcp_relay.cc). What it adds is the hop itself.
start_relay() {
  if [[ ! -x $RELAY ]]; then
    SKIP_REASON="$RELAY not found (cmake --build build --target meshgate-bench-relay)"
    return 1
  fi
  start relay "$PROXY_CORE" "${RT[@]}" "$RELAY" --listen "127.0.0.1:$RELAY_PORT" \
    --upstream "127.0.0.1:$ORIGIN_PORT"
  PEER_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$RELAY_PORT/"
  wait_http "$PEER_URL" 10 "$PEER_PID" ||
    die "the relay did not pass $PEER_URL through; log: $(tail -n 5 "$TMP/relay.log")"
}

start_nginx() {
  write_nginx_config
  nginx -t -q -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx/" 2>"$TMP/nginx-check.log" ||
    die "nginx rejects its config: $(cat "$TMP/nginx-check.log")"
  start nginx "$PROXY_CORE" "${RT[@]}" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx/"
  PEER_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$NGINX_PORT/"
  wait_http "$PEER_URL" 10 "$PEER_PID" ||
    die "nginx did not proxy $PEER_URL; log: $(tail -n 5 "$TMP/nginx.log" "$TMP/nginx/logs/error.log")"
}

start_haproxy() {
  write_haproxy_config
  haproxy -c -q -f "$TMP/haproxy/haproxy.cfg" >"$TMP/haproxy-check.log" 2>&1 ||
    die "haproxy rejects its config: $(cat "$TMP/haproxy-check.log")"
  start haproxy "$PROXY_CORE" "${RT[@]}" haproxy -db -f "$TMP/haproxy/haproxy.cfg"
  PEER_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$HAPROXY_PORT/"
  wait_http "$PEER_URL" 10 "$PEER_PID" ||
    die "haproxy did not proxy $PEER_URL; log: $(tail -n 5 "$TMP/haproxy.log")"
}

# Starts meshgate-operator (file mode) and meshgate-proxy (gateway role, one worker). Returns
# non-zero with SKIP_REASON when the binaries are missing or do not come up, so the other
# peers' numbers are still reported.
start_meshgate() {
  local bin ready deadline
  for bin in "$MESHGATE_OPERATOR" "$MESHGATE_PROXY"; do
    if [[ ! -x $bin ]]; then
      SKIP_REASON="$bin not found (build it, or set MESHGATE_PROXY / MESHGATE_OPERATOR)"
      return 1
    fi
  done
  write_meshgate_config "$TMP/meshgate/config"
  # The control plane is not under test: it shares the client core and idles once configured.
  mkdir -p "$TMP/meshgate/state"
  start meshgate-operator "$CLIENT_CORE" "$MESHGATE_OPERATOR" \
    --config-dir "$TMP/meshgate/config" --state-dir "$TMP/meshgate/state" \
    --xds-port "$OPERATOR_XDS_PORT" --admin-port "$OPERATOR_ADMIN_PORT" --log-level warn
  MESHGATE_OPERATOR_PID=$LAST_PID
  start meshgate-proxy "$PROXY_CORE" "${RT[@]}" "$MESHGATE_PROXY" --xds-address "127.0.0.1:$OPERATOR_XDS_PORT" \
    --node-id bench-gateway --role gateway --namespace bench --labels istio=ingressgateway \
    --admin-port "$PROXY_ADMIN_PORT" --workers 1 --access-log off --log-level warn
  PEER_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$MESHGATE_PORT/"
  deadline=$((SECONDS + 20))
  ready=""
  SKIP_REASON=""
  while ((SECONDS < deadline)); do
    if ! kill -0 "$PEER_PID" 2>/dev/null || ! kill -0 "$MESHGATE_OPERATOR_PID" 2>/dev/null; then
      break
    fi
    ready=$(curl -s --max-time 1 "http://127.0.0.1:$PROXY_ADMIN_PORT/ready" || true)
    [[ $ready == LIVE* ]] && break
    sleep 0.1
  done
  if [[ $ready != LIVE* ]]; then
    SKIP_REASON="meshgate-proxy admin /ready said '${ready:-nothing}', not LIVE, within 20 s"
  elif ! wait_http "$PEER_URL" 10 "$PEER_PID"; then
    SKIP_REASON="meshgate-proxy is LIVE but $PEER_URL did not answer 200 with $BODY_BYTES bytes within 10 s"
    SKIP_REASON+=" (last: HTTP $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$PEER_URL"))"
  fi
  if [[ -n $SKIP_REASON ]]; then
    SKIP_REASON+="; last log lines: $(tail -q -n 2 "$TMP/meshgate-operator.log" \
      "$TMP/meshgate-proxy.log" 2>/dev/null | tr '\n' ' ')"
    stop_started "$PEER_PID"
    stop_started "$MESHGATE_OPERATOR_PID"
    return 1
  fi
}

stop_peer() {
  local peer=$1
  case $peer in
    direct) ;;
    meshgate)
      stop_started "$PEER_PID"
      stop_started "$MESHGATE_OPERATOR_PID"
      ;;
    *) stop_started "$PEER_PID" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Measurements. Each writes rows "peer metric value" to $RESULTS.

measure_memory() {
  local peer=$1 pids before after held_pid port idle_pss idle_private idle_anon
  mapfile -t pids < <(tree_pids "$PEER_PID")
  sleep 1
  before=$(rss_kb "${pids[@]}")
  record "$peer" idle_rss_kb "$before"
  idle_pss=$(mem_kb Pss "${pids[@]}")
  idle_private=$(mem_kb Private "${pids[@]}")
  idle_anon=$(mem_kb Anonymous "${pids[@]}")
  record "$peer" idle_pss_kb "$idle_pss"
  record "$peer" idle_private_kb "$idle_private"
  record "$peer" idle_anonymous_kb "$idle_anon"
  port=${PEER_URL#http://127.0.0.1:}
  port=${port%%/*}
  start hold "$CLIENT_CORE" python3 "$HOLD_CONNECTIONS" --host 127.0.0.1 --port "$port" \
    --path / --count "$IDLE_CONNECTIONS" --hold-seconds 120
  held_pid=$LAST_PID
  local deadline=$((SECONDS + 60))
  until grep -q '^held' "$TMP/hold.log" 2>/dev/null; do
    if ! kill -0 "$held_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      die "$peer: could not hold $IDLE_CONNECTIONS connections: $(tail -n 3 "$TMP/hold.log")"
    fi
    sleep 0.1
  done
  sleep 1
  mapfile -t pids < <(tree_pids "$PEER_PID")
  after=$(rss_kb "${pids[@]}")
  stop_started "$held_pid"
  record "$peer" conn_rss_bytes $(((after - before) * 1024 / IDLE_CONNECTIONS))
  log "$peer: idle RSS ${before} KiB (PSS $idle_pss KiB, private $idle_private KiB," \
    "anonymous $idle_anon KiB); +$((after - before)) KiB for $IDLE_CONNECTIONS idle connections"
}

measure_cpu() {
  local peer=$1 pids before after completed errors ticks_per_second cpu_seconds
  mapfile -t pids < <(tree_pids "$PEER_PID")
  ticks_per_second=$(getconf CLK_TCK)
  before=$(cpu_ticks "${pids[@]}")
  run_loadgen "$CPU_RATE" "$TMP/cpu-$peer.json"
  after=$(cpu_ticks "${pids[@]}")
  read -r completed errors < <(json_fields completed errors.total <"$TMP/cpu-$peer.json")
  cpu_seconds=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" 'BEGIN {print t / hz}')
  # CPU seconds per 1000 requests = vCPU needed per 1000 requests/s.
  record "$peer" vcpu_per_1k_rps "$(awk -v c="$cpu_seconds" -v n="$completed" \
    'BEGIN {printf "%.4f", (n > 0 ? c / n * 1000 : 0)}')"
  record "$peer" cpu_run_errors "$errors"
  log "$peer: $cpu_seconds CPU s for $completed requests at $CPU_RATE req/s ($errors errors)"
}

# ---------------------------------------------------------------------------------------------
# Main.

if [[ ${1:-} == --write-meshgate-config ]]; then
  [[ -n ${2:-} ]] || die "--write-meshgate-config needs a directory"
  write_meshgate_config "$2"
  exit 0
fi
(($# == 0)) || die "unknown argument '$1' (configure with environment variables; see the top of $0)"

for tool in nginx haproxy wrk taskset curl python3 ss pgrep getconf "${RT[@]:0:1}"; do
  require_binary "$tool" "needed by the benchmark; scripts/deps.sh installs it"
done
[[ -x $LOADGEN ]] ||
  die "$LOADGEN not found: cmake --build build --target meshgate-loadgen (or set LOADGEN)"
for port in "$ORIGIN_PORT:origin" "$RELAY_PORT:relay" "$NGINX_PORT:nginx" "$HAPROXY_PORT:haproxy" \
  "$MESHGATE_PORT:meshgate listener" "$OPERATOR_XDS_PORT:meshgate-operator xDS" \
  "$OPERATOR_ADMIN_PORT:meshgate-operator admin" "$PROXY_ADMIN_PORT:meshgate-proxy admin"; do
  require_port_free "${port%%:*}" "${port#*:}"
done
needed_fds=$((IDLE_CONNECTIONS * 2 + 200))
if (($(ulimit -n) < needed_fds)); then
  ulimit -n "$needed_fds" 2>/dev/null || die "open-file limit $(ulimit -n) < $needed_fds and cannot be raised"
fi

START_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
  echo "meshgate proxy benchmark, $START_TIME"
  echo "machine: $CORES cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pinning: proxy under test on core $PROXY_CORE; origin, wrk and meshgate-loadgen on core $CLIENT_CORE"
  ((CORES >= 2)) || echo "WARNING: one core only; proxy and clients share it"
  if ((${#RT[@]})); then echo "scheduling: SCHED_FIFO 20 for origin, proxies and load generators"; fi
  echo "origin: nginx, 1 worker, ${BODY_BYTES}-byte body from memory; peers: 1 worker each," \
    "HTTP/1.1 keep-alive on both sides, no access log, $CLUSTERS clusters configured"
  echo "phases per peer: ${DURATION}s wrk -c$THROUGHPUT_CONNECTIONS, ${DURATION}s at $CPU_RATE req/s (CPU)," \
    "${DURATION}s at $LATENCY_RATE req/s (latency), $IDLE_CONNECTIONS idle connections (memory)"
} | tee "$TMP/header.txt" >&2

# shellcheck disable=SC2119  # the plain HTTP/1.1 origin
start_origin
SKIPPED=""
for peer in $PEERS; do
  case $peer in
    direct | relay | nginx | haproxy | meshgate) ;;
    *) die "unknown peer '$peer' in PEERS" ;;
  esac
  SKIP_REASON=""
  log "$peer: starting"
  if ! "start_$peer"; then
    log "$peer: SKIPPED: $SKIP_REASON"
    SKIPPED+="$peer"$'\t'"$SKIP_REASON"$'\n'
    record "$peer" skipped "$SKIP_REASON"
    continue
  fi
  if [[ $peer != direct ]]; then measure_memory "$peer"; fi
  measure_throughput "$peer"
  measure_cpu "$peer"
  measure_latency "$peer"
  stop_peer "$peer"
done

mkdir -p "$RESULTS_DIR"
RESULT_JSON="$RESULTS_DIR/proxy-$(date -u +%Y%m%d-%H%M%S).json"
python3 "$ROOT/bench/proxy/report.py" "$RESULTS" "$RESULT_JSON" "$TMP/header.txt"
