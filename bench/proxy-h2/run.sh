#!/usr/bin/env bash
# Side-by-side HTTP/2 proxy benchmark: h2load (h2c, prior knowledge) against one HTTP/2 origin
# directly, through nginx as an HTTP/2-to-HTTP/2 proxy (grpc_pass: nginx's only HTTP/2
# upstream), and through meshgate-proxy (HTTP/2 downstream, HTTP/2 upstream pool), in one run,
# with the same core layout. Prints requests/s, latency and the ratios. See bench/README.md.
#
#   bash bench/proxy-h2/run.sh                  # GET, 1 KiB responses from an nginx h2c origin
#   WORKLOAD=grpc bash bench/proxy-h2/run.sh    # unary gRPC calls to meshgate-grpc-echo
#
# Environment (all optional):
#   BUILD_DIR       build tree with bin/meshgate-proxy and bin/meshgate-operator [<repo>/build]
#   PEERS           which targets to measure                     ["direct nginx meshgate"]
#   DURATION        seconds of load per target                   [10]
#   CLIENTS         h2load connections                           [10]
#   STREAMS         h2load concurrent streams per connection     [10]
#   PORT_BASE       first of the loopback ports used             [19080]
#   WORKLOAD        http | grpc                                  [http]
#   KEEP_TMP=1      keep the temp dir with configs and logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
MESHGATE_PROXY=${MESHGATE_PROXY:-$BUILD_DIR/bin/meshgate-proxy}
MESHGATE_OPERATOR=${MESHGATE_OPERATOR:-$BUILD_DIR/bin/meshgate-operator}
PEERS=${PEERS:-"direct nginx meshgate"}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-10}
STREAMS=${STREAMS:-10}
PORT_BASE=${PORT_BASE:-19080}
WORKLOAD=${WORKLOAD:-http}
GRPC_ECHO=${GRPC_ECHO:-$BUILD_DIR/bin/meshgate-grpc-echo}
BODY_BYTES=1024

ORIGIN_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
MESHGATE_PORT=$((PORT_BASE + 3))
OPERATOR_XDS_PORT=$((PORT_BASE + 10))
OPERATOR_ADMIN_PORT=$((PORT_BASE + 11))
PROXY_ADMIN_PORT=$((PORT_BASE + 12))

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
# Temp dir, exit trap, and the core layout: the proxy under test alone on core 1, origin and
# h2load on core 0.
bench_init h2

for tool in nginx h2load curl taskset; do require_binary "$tool" "needed by the benchmark; scripts/deps.sh installs it"; done
require_port_free "$ORIGIN_PORT" origin
require_port_free "$NGINX_PORT" nginx
require_port_free "$MESHGATE_PORT" meshgate
require_port_free "$OPERATOR_XDS_PORT" "operator xDS"
require_port_free "$OPERATOR_ADMIN_PORT" "operator admin"
require_port_free "$PROXY_ADMIN_PORT" "proxy admin"

# wait_h2 URL SECONDS: until an h2c request to URL answers 200 with a BODY_BYTES body.
wait_h2() {
  local url=$1 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if [[ $(curl -s --http2-prior-knowledge -o "$TMP/probe.body" -w '%{http_code}' --max-time 1 \
      "$url" || true) == 200 ]] && [[ $(wc -c <"$TMP/probe.body") -eq $BODY_BYTES ]]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# gRPC: every request is one unary meshgate.demo.Echo/Say call, the same
# length-prefixed EchoRequest (message = 100 x "x") posted with gRPC's headers.
# h2load counts HTTP statuses only, so a real gRPC client checks each target
# before and after the load (wait_grpc).
GRPC_PATH=/meshgate.demo.Echo/Say
LOAD_ARGS=()
if [[ $WORKLOAD == grpc ]]; then
  [[ -x $GRPC_ECHO ]] || die "build meshgate-grpc-echo first ($GRPC_ECHO)"
  python3 -c 'import sys; m = b"\x0a\x64" + b"x" * 100; sys.stdout.buffer.write(b"\x00" + len(m).to_bytes(4, "big") + m)' \
    >"$TMP/say.bin"
  LOAD_ARGS=(-d "$TMP/say.bin" -H "content-type: application/grpc" -H "te: trailers")
elif [[ $WORKLOAD != http ]]; then
  die "WORKLOAD must be http or grpc"
fi

# wait_grpc HOST:PORT SECONDS: until a real gRPC client's Say call succeeds through HOST:PORT.
wait_grpc() {
  local target=$1 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    "$GRPC_ECHO" --call Say --target "$target" --message probe --timeout-ms 1000 \
      >"$TMP/grpc-probe.txt" 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# wait_ready HOST:PORT SECONDS: the workload's readiness probe through HOST:PORT.
wait_ready() {
  if [[ $WORKLOAD == grpc ]]; then wait_grpc "$1" "$2"; else wait_h2 "http://$1/" "$2"; fi
}

if [[ $WORKLOAD == grpc ]]; then
  # The origin: meshgate-grpc-echo (gRPC C++ sync server) on its port.
  start origin "$CLIENT_CORE" "$GRPC_ECHO" --port "$ORIGIN_PORT" --address 127.0.0.1 --version bench
  wait_grpc "127.0.0.1:$ORIGIN_PORT" 10 || die "origin did not answer gRPC: $(tail -5 "$TMP/origin.log")"
else
  # The origin: nginx, one worker, h2c on its port, a 1 KiB body from memory.
  start_origin http2
  wait_h2 "http://127.0.0.1:$ORIGIN_PORT/" 10 || die "origin did not serve h2c: $(tail -5 "$TMP/origin/logs/error.log")"
fi

# nginx as an HTTP/2 proxy: h2c in, HTTP/2 to the origin over a kept-alive grpc_pass upstream.
start_nginx() {
  mkdir -p "$TMP/nginx/logs"
  cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream origin {
    server 127.0.0.1:$ORIGIN_PORT;
    keepalive 64;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT http2 backlog=4096;
    location / { grpc_pass grpc://origin; }
  }
}
EOF
  start nginx "$PROXY_CORE" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx/"
  PEER_ADDRESS="127.0.0.1:$NGINX_PORT"
  wait_ready "$PEER_ADDRESS" 10 || die "nginx did not proxy: $(tail -5 "$TMP/nginx/logs/error.log")"
}

# meshgate: the operator programs a one-worker gateway; the origin's Service port is named
# http2, so the compiler asks for an HTTP/2 upstream (as Istio does).
start_meshgate() {
  [[ -x $MESHGATE_PROXY && -x $MESHGATE_OPERATOR ]] || die "build meshgate-proxy and meshgate-operator first"
  local dir=$TMP/meshgate/config
  # Named grpc or http2: either way the compiler asks for an HTTP/2 upstream.
  local ORIGIN_PORT_NAME=http2
  [[ $WORKLOAD == grpc ]] && ORIGIN_PORT_NAME=grpc
  mkdir -p "$dir" "$TMP/meshgate/state"
  cat >"$dir/mesh.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench-gateway, namespace: bench}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: $MESHGATE_PORT, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: origin, namespace: bench}
spec:
  hosts: ["*"]
  gateways: [bench-gateway]
  http:
  - route: [{destination: {host: origin.bench.svc.cluster.local, port: {number: 80}}}]
---
apiVersion: v1
kind: Service
metadata: {name: origin, namespace: bench}
spec:
  selector: {app: origin}
  ports: [{name: $ORIGIN_PORT_NAME, port: 80, targetPort: $ORIGIN_PORT}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: origin-1, namespace: bench, labels: {kubernetes.io/service-name: origin}}
addressType: IPv4
ports: [{name: $ORIGIN_PORT_NAME, port: $ORIGIN_PORT}]
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
EOF
  start meshgate-operator "$CLIENT_CORE" "$MESHGATE_OPERATOR" --config-dir "$dir" \
    --state-dir "$TMP/meshgate/state" --xds-port "$OPERATOR_XDS_PORT" \
    --admin-port "$OPERATOR_ADMIN_PORT" --log-level warn
  start meshgate-proxy "$PROXY_CORE" "$MESHGATE_PROXY" --xds-address "127.0.0.1:$OPERATOR_XDS_PORT" \
    --node-id bench-h2 --role gateway --namespace bench --labels istio=ingressgateway \
    --admin-port "$PROXY_ADMIN_PORT" --workers 1 --access-log off --log-level warn
  PEER_ADDRESS="127.0.0.1:$MESHGATE_PORT"
  # The origin speaks only h2c on its port: an answer proves the upstream is HTTP/2.
  wait_ready "$PEER_ADDRESS" 30 || die "meshgate did not proxy: $(tail -5 "$TMP/meshgate-proxy.log")"
}

# run_load NAME HOST:PORT: h2load for DURATION seconds; records req/s and mean latency.
declare -A RPS LATENCY
run_load() {
  local name=$1 url="http://$2/" out
  [[ $WORKLOAD == grpc ]] && url="http://$2$GRPC_PATH"
  # A short warm-up, then the measured run.
  taskset -c "$CLIENT_CORE" h2load "${LOAD_ARGS[@]}" -c "$CLIENTS" -m "$STREAMS" -n 2000 "$url" \
    >/dev/null 2>&1 || true
  out=$(taskset -c "$CLIENT_CORE" h2load "${LOAD_ARGS[@]}" -c "$CLIENTS" -m "$STREAMS" \
    -D "$DURATION" "$url" 2>&1)
  echo "$out" >"$TMP/h2load-$name.txt"
  local ok failed
  ok=$(echo "$out" | awk '/^requests:/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "succeeded,") print $i}')
  failed=$(echo "$out" | awk '/^requests:/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "failed,") print $i}')
  RPS[$name]=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); print $4}')
  LATENCY[$name]=$(echo "$out" | awk '/^time for request:/ {print $6}')
  log "$name: ${RPS[$name]} req/s, mean ${LATENCY[$name]}, ${ok:-?} succeeded, ${failed:-?} failed"
  [[ ${failed:-1} == 0 ]] || log "WARNING: $name had failed requests (see KEEP_TMP=1 $TMP/h2load-$name.txt)"
  if [[ $WORKLOAD == grpc ]]; then
    wait_grpc "$2" 5 || log "WARNING: $name: a gRPC call failed after the load: $(cat "$TMP/grpc-probe.txt")"
  fi
}

if [[ $WORKLOAD == grpc ]]; then
  log "cores: proxy on $PROXY_CORE, origin and h2load on $CLIENT_CORE; $CLIENTS connections x $STREAMS streams, ${DURATION}s, unary gRPC Say calls"
else
  log "cores: proxy on $PROXY_CORE, origin and h2load on $CLIENT_CORE; $CLIENTS connections x $STREAMS streams, ${DURATION}s, ${BODY_BYTES}-byte body"
fi
for peer in $PEERS; do
  case $peer in
    direct) run_load direct "127.0.0.1:$ORIGIN_PORT" ;;
    nginx)
      start_nginx
      run_load nginx "$PEER_ADDRESS"
      stop_started "$LAST_PID"
      ;;
    meshgate)
      start_meshgate
      run_load meshgate "$PEER_ADDRESS"
      ;;
    *) die "unknown peer '$peer'" ;;
  esac
done

printf '\n%-10s %14s %14s\n' target "req/s" "mean latency"
for peer in $PEERS; do printf '%-10s %14s %14s\n' "$peer" "${RPS[$peer]:-}" "${LATENCY[$peer]:-}"; done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
if [[ -n ${RPS[meshgate]:-} ]]; then
  printf '\nthroughput ratios\n'
  [[ -n ${RPS[nginx]:-} ]] && printf '  meshgate / nginx (grpc_pass)  %s\n' "$(ratio "${RPS[meshgate]}" "${RPS[nginx]}")"
  [[ -n ${RPS[direct]:-} ]] && printf '  meshgate / direct             %s\n' "$(ratio "${RPS[meshgate]}" "${RPS[direct]}")"
fi
