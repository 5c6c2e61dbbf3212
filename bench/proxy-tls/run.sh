#!/usr/bin/env bash
# TLS handshakes per second per core: meshgate-proxy (one worker) against
# nginx (one worker process), both serving the same ECDSA P-256 certificate
# and pinned to the same CPU, measured in the same run by the same client
# (meshgate-tls-handshakes, pinned to another CPU when there is one).
# meshgate-proxy gets its certificate the production way: a Gateway in TLS
# SIMPLE mode whose credentialName Secret meshgate-operator serves over SDS.
#
#   bench/proxy-tls/run.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [ROUNDS]
#
# Prints each side's median rate over ROUNDS alternating runs (so both see
# the same background load) and the ratio proxy/nginx, for TLS 1.3 and 1.2.
set -euo pipefail

BUILD=${1:-build}
SECS=${2:-5}
CONNS=${3:-4}
ROUNDS=${4:-3}
BIN="$BUILD/bin"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

pick_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
SERVER_CPU=0
CLIENT_CPUS=0
if [ "$(nproc)" -gt 1 ]; then CLIENT_CPUS=1-$(($(nproc) - 1)); fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=bench.example.com -addext subjectAltName=DNS:bench.example.com \
  -addext extendedKeyUsage=serverAuth -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

PROXY_PORT=$(pick_port)
NGINX_PORT=$(pick_port)
XDS_PORT=$(pick_port)
ADMIN_PORT=$(pick_port)
mkdir -p "$WORK/config" "$WORK/state" "$WORK/nginx"
{
  cat <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: bench}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: $PROXY_PORT, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: bench-cred}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench, namespace: bench}
spec:
  hosts: [bench.example.com]
  gateways: [bench]
  http:
  - directResponse: {status: 200, body: {string: "ok"}}
---
apiVersion: v1
kind: Secret
metadata: {name: bench-cred, namespace: bench}
type: kubernetes.io/tls
stringData:
  tls.crt: |
EOF
  sed 's/^/    /' "$WORK/cert.pem"
  echo "  tls.key: |"
  sed 's/^/    /' "$WORK/key.pem"
} > "$WORK/config/bench.yaml"

"$BIN/meshgate-operator" --config-dir "$WORK/config" --state-dir "$WORK/state" \
  --xds-port "$XDS_PORT" --admin-port 0 --ca-port 0 --log-level warn &
PIDS+=($!)
taskset -c "$SERVER_CPU" "$BIN/meshgate-proxy" --xds-address "127.0.0.1:$XDS_PORT" \
  --node-id bench-gw --role gateway --namespace bench --labels istio=ingressgateway \
  --admin-port "$ADMIN_PORT" --workers 1 --access-log off --log-level warn >/dev/null &
PIDS+=($!)
for _ in $(seq 1 300); do
  if [ "$(curl -s -m 1 "http://127.0.0.1:$ADMIN_PORT/ready" || true)" = "LIVE" ]; then break; fi
  sleep 0.1
done
curl -s -m 2 --cacert "$WORK/cert.pem" --resolve "bench.example.com:$PROXY_PORT:127.0.0.1" \
  "https://bench.example.com:$PROXY_PORT/" | grep -q ok || { echo "proxy not serving TLS" >&2; exit 1; }

cat > "$WORK/nginx/nginx.conf" <<EOF
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    location / { return 200 "ok"; }
  }
}
EOF
taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.5  # nginx has no readiness endpoint

rate() {  # PORT VERSION-FLAG
  taskset -c "$CLIENT_CPUS" "$BIN/meshgate-tls-handshakes" --target "127.0.0.1:$1" \
    --seconds "$SECS" --connections "$CONNS" "$2" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'
}
echo "TLS handshakes/s, one server core, ECDSA P-256, $CONNS client connections," \
  "median of $ROUNDS alternating ${SECS}s runs"
for version in --tls13 --tls12; do
  proxy_rates=()
  nginx_rates=()
  for _ in $(seq 1 "$ROUNDS"); do
    proxy_rates+=("$(rate "$PROXY_PORT" "$version")")
    nginx_rates+=("$(rate "$NGINX_PORT" "$version")")
  done
  python3 - "${version#--}" "${proxy_rates[*]}" "${nginx_rates[*]}" <<'EOF'
import statistics, sys
proxy = statistics.median(float(x) for x in sys.argv[2].split())
nginx = statistics.median(float(x) for x in sys.argv[3].split())
print(f"{sys.argv[1]}  meshgate-proxy {proxy:8.1f}  nginx {nginx:8.1f}  ratio {proxy / nginx:.2f}"
      f"   (runs: proxy {sys.argv[2]} / nginx {sys.argv[3]})")
EOF
done
