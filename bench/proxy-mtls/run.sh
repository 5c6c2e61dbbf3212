#!/usr/bin/env bash
# Two-proxy mutual-TLS benchmark: the mesh's request path (an edge proxy, mTLS between proxies, a
# sidecar in front of the app) built from meshgate and from nginx (and HAProxy), measured in one
# run against the same origin, load generators and core layout. See bench/README.md.
#
#   bash bench/proxy-mtls/run.sh
#
#   direct    loadgen -> origin (nginx, 1 KB body)
#   meshgate  loadgen -> meshgate-proxy gateway (HTTP/1.1) == mTLS, ISTIO_MUTUAL ==>
#             meshgate-proxy sidecar (interception mode NONE on $MESHGATE_POD_IP, STRICT) -> origin
#             Both proxies hold identities the operator's CA issued from their own CSRs (over SDS).
#   nginx     loadgen -> nginx edge (proxy_pass https, client certificate, verify) == mTLS ==>
#             nginx sidecar (ssl_verify_client on) -> origin
#   haproxy   the same with two HAProxy instances
#   relay     loadgen -> relay -> relay -> origin: two bare epoll byte relays, plaintext
#             (bench/proxy/tcp_relay.cc). The floor of the two hops without TLS: what any pair
#             of proxies adds here before doing any work of its own
# The peers' ECDSA P-256 certificates are minted by this script with `openssl`.
#
# Environment (all optional):
#   BUILD_DIR       build tree with bin/meshgate-loadgen, meshgate-proxy, meshgate-operator [<repo>/build]
#   MESHGATE_PROXY, MESHGATE_OPERATOR, LOADGEN   the binaries                     [$BUILD_DIR/bin/...]
#   PEERS           which targets to measure            ["direct relay nginx haproxy meshgate"]
#   MESHGATE_BASELINE  another meshgate-proxy binary (e.g. built from the previous commit): adds
#                   the target meshgate-baseline, the same path with that binary on both hops
#   DURATION        seconds per load phase                    [10]
#   PORT_BASE       first of the loopback ports used          [18280]
#   RESULTS_DIR     where the JSON result goes                [$BUILD_DIR/bench/results]
#   REALTIME=1      origin, proxies, wrk and meshgate-loadgen at SCHED_FIFO priority 20
#   REALTIME_PRIORITY  that priority instead of 20
#   PROFILE=SECONDS record `perf record -g` of each meshgate proxy for SECONDS during an extra
#                   run at the CPU phase's rate; reports land in the temp dir (use KEEP_TMP=1)
#   KEEP_TMP=1      keep the temp dir with configs, certificates and logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
LOADGEN=${LOADGEN:-$BUILD_DIR/bin/meshgate-loadgen}
MESHGATE_PROXY=${MESHGATE_PROXY:-$BUILD_DIR/bin/meshgate-proxy}
MESHGATE_OPERATOR=${MESHGATE_OPERATOR:-$BUILD_DIR/bin/meshgate-operator}
PEERS=${PEERS:-"direct relay nginx haproxy meshgate"}
RELAY=${RELAY:-$BUILD_DIR/bin/meshgate-bench-relay}
MESHGATE_BASELINE=${MESHGATE_BASELINE:-}
if [[ -n $MESHGATE_BASELINE && $PEERS != *meshgate-baseline* ]]; then PEERS+=" meshgate-baseline"; fi
DURATION=${DURATION:-10}
PORT_BASE=${PORT_BASE:-18280}
RESULTS_DIR=${RESULTS_DIR:-$BUILD_DIR/bench/results}
PROFILE=${PROFILE:-0}

THROUGHPUT_CONNECTIONS=50
CPU_RATE=2000
LATENCY_RATE=1000
LOADGEN_CONNECTIONS=8
BODY_BYTES=1024

# The origin listens on 127.0.0.1; each sidecar on its own loopback "pod IP", on the origin's
# port, as a sidecar in interception mode NONE does.
ORIGIN_PORT=$PORT_BASE
MESHGATE_POD_IP=127.0.0.31
NGINX_POD_IP=127.0.0.32
HAPROXY_POD_IP=127.0.0.33
MESHGATE_EDGE_PORT=$((PORT_BASE + 1))
NGINX_EDGE_PORT=$((PORT_BASE + 2))
HAPROXY_EDGE_PORT=$((PORT_BASE + 3))
RELAY_EDGE_PORT=$((PORT_BASE + 4))
RELAY_SIDECAR_PORT=$((PORT_BASE + 5))
OPERATOR_XDS_PORT=$((PORT_BASE + 10))
OPERATOR_ADMIN_PORT=$((PORT_BASE + 11))
OPERATOR_CA_PORT=$((PORT_BASE + 12))
GATEWAY_ADMIN_PORT=$((PORT_BASE + 13))
SIDECAR_ADMIN_PORT=$((PORT_BASE + 14))

TRUST_DOMAIN=cluster.local
NAMESPACE=bench
ORIGIN_HOST=origin.$NAMESPACE.svc.$TRUST_DOMAIN
GATEWAY_ID=spiffe://$TRUST_DOMAIN/ns/$NAMESPACE/sa/gateway
ORIGIN_ID=spiffe://$TRUST_DOMAIN/ns/$NAMESPACE/sa/origin

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_init proxy-mtls

# ---------------------------------------------------------------------------------------------
# Certificates for the nginx and HAProxy paths: one ECDSA P-256 root, an edge (client) and a
# sidecar (server) leaf, with the SPIFFE URI SANs a mesh would give them.

PKI="$TMP/pki"

# mint_leaf NAME SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE
mint_leaf() {
  local name=$1
  cat >"$PKI/$name.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $3
subjectAltName = $2
EOF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench-$name" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>>"$PKI/openssl.log"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -sha256 -extfile "$PKI/$name.ext" \
    -out "$PKI/$name.pem" 2>>"$PKI/openssl.log"
  # HAProxy wants certificate and key in one file.
  cat "$PKI/$name.pem" "$PKI/$name.key" >"$PKI/$name.full.pem"
}

mint_peer_certificates() {
  mkdir -p "$PKI"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -sha256 \
    -subj /CN=bench-peer-root -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$PKI/ca.key" -out "$PKI/ca.pem" 2>>"$PKI/openssl.log" ||
    die "openssl could not make the peers' root: $(tail -n 3 "$PKI/openssl.log")"
  mint_leaf edge "URI:$GATEWAY_ID" clientAuth ||
    die "openssl could not make the edge certificate: $(tail -n 3 "$PKI/openssl.log")"
  # The edge checks the sidecar by DNS name (nginx's proxy_ssl_name, HAProxy's verifyhost).
  mint_leaf sidecar "URI:$ORIGIN_ID, DNS:$ORIGIN_HOST" serverAuth ||
    die "openssl could not make the sidecar certificate: $(tail -n 3 "$PKI/openssl.log")"
}

# ---------------------------------------------------------------------------------------------
# Configs. Every process keeps connections alive on both sides and logs no requests. The
# origin's /xfcc answers with the x-forwarded-client-cert header its caller sent: the proof that
# the sidecar saw a verified client certificate.

write_nginx_configs() {
  mkdir -p "$TMP/nginx-edge/logs" "$TMP/nginx-sidecar/logs"
  {
    nginx_main nginx-edge
    cat <<EOF
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream sidecar {
    server $NGINX_POD_IP:$ORIGIN_PORT;
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$NGINX_EDGE_PORT backlog=4096;
    location / {
      proxy_pass https://sidecar;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate $PKI/edge.pem;
      proxy_ssl_certificate_key $PKI/edge.key;
      proxy_ssl_trusted_certificate $PKI/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name $ORIGIN_HOST;
      proxy_ssl_server_name on;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_session_reuse on;
    }
  }
}
EOF
  } >"$TMP/nginx-edge/nginx.conf"
  {
    nginx_main nginx-sidecar
    cat <<EOF
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream app {
    server 127.0.0.1:$ORIGIN_PORT;
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
  server {
    listen $NGINX_POD_IP:$ORIGIN_PORT ssl backlog=4096;
    ssl_certificate $PKI/sidecar.pem;
    ssl_certificate_key $PKI/sidecar.key;
    ssl_client_certificate $PKI/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header x-forwarded-client-cert "Subject=\"\$ssl_client_s_dn\";Verify=\$ssl_client_verify";
    }
  }
}
EOF
  } >"$TMP/nginx-sidecar/nginx.conf"
}

write_haproxy_configs() {
  mkdir -p "$TMP/haproxy"
  local defaults
  defaults=$(haproxy_global_and_defaults)
  cat >"$TMP/haproxy/edge.cfg" <<EOF
$defaults

frontend edge
  bind 127.0.0.1:$HAPROXY_EDGE_PORT
  default_backend sidecar

backend sidecar
  server sidecar $HAPROXY_POD_IP:$ORIGIN_PORT ssl crt $PKI/edge.full.pem ca-file $PKI/ca.pem verify required verifyhost $ORIGIN_HOST sni str($ORIGIN_HOST)
EOF
  cat >"$TMP/haproxy/sidecar.cfg" <<EOF
$defaults

frontend sidecar
  bind $HAPROXY_POD_IP:$ORIGIN_PORT ssl crt $PKI/sidecar.full.pem ca-file $PKI/ca.pem verify required
  http-request set-header x-forwarded-client-cert "Subject=\"%[ssl_c_s_dn]\";Verify=%[ssl_c_verify]"
  default_backend app

backend app
  server app 127.0.0.1:$ORIGIN_PORT
EOF
}

# The mesh as Kubernetes objects: the origin is a Service whose one pod (IP MESHGATE_POD_IP,
# service account "origin") runs a sidecar; a Gateway and VirtualService route the edge to it;
# DestinationRule ISTIO_MUTUAL and PeerAuthentication STRICT make the hop mutual TLS.
write_meshgate_config() {
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/mesh.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bench-gateway
  namespace: $NAMESPACE
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: $MESHGATE_EDGE_PORT
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: origin
  namespace: $NAMESPACE
spec:
  hosts:
  - "*"
  gateways:
  - bench-gateway
  http:
  - route:
    - destination:
        host: $ORIGIN_HOST
        port:
          number: 80
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: origin
  namespace: $NAMESPACE
spec:
  host: $ORIGIN_HOST
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: $NAMESPACE
spec:
  mtls:
    mode: STRICT
---
apiVersion: v1
kind: Service
metadata:
  name: origin
  namespace: $NAMESPACE
spec:
  selector:
    app: origin
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
  name: origin-1
  namespace: $NAMESPACE
  labels:
    kubernetes.io/service-name: origin
addressType: IPv4
ports:
- name: http
  port: $ORIGIN_PORT
  protocol: TCP
  appProtocol: http
endpoints:
- addresses:
  - $MESHGATE_POD_IP
  conditions:
    ready: true
  targetRef:
    kind: Pod
    namespace: $NAMESPACE
    name: origin
---
apiVersion: v1
kind: Pod
metadata:
  name: origin
  namespace: $NAMESPACE
  labels:
    app: origin
spec:
  serviceAccountName: origin
  containers:
  - name: origin
    image: nginx
    ports:
    - name: http
      containerPort: $ORIGIN_PORT
status:
  phase: Running
  podIP: $MESHGATE_POD_IP
EOF
}

# ---------------------------------------------------------------------------------------------
# Targets. start_<target> sets PEER_URL, EDGE_PID and SIDECAR_PID (the process trees whose CPU
# counts; for direct both are the origin), or returns non-zero with SKIP_REASON set.

start_direct() {
  PEER_URL=$ORIGIN_URL
  EDGE_PID=$ORIGIN_PID
  SIDECAR_PID=$ORIGIN_PID
}

# start_nginx_instance NAME: checks and starts $TMP/NAME/nginx.conf on the proxy core.
start_nginx_instance() {
  nginx -t -q -c "$TMP/$1/nginx.conf" -p "$TMP/$1/" 2>"$TMP/$1-check.log" ||
    die "$1 rejects its config: $(cat "$TMP/$1-check.log")"
  start "$1" "$PROXY_CORE" "${RT[@]}" nginx -c "$TMP/$1/nginx.conf" -p "$TMP/$1/"
}

# Two relays in a chain, on the proxy core like the proxies: the floor of two hops.
start_relay() {
  if [[ ! -x $RELAY ]]; then
    SKIP_REASON="$RELAY not found (cmake --build build --target meshgate-bench-relay)"
    return 1
  fi
  start relay-sidecar "$PROXY_CORE" "${RT[@]}" "$RELAY" --listen "127.0.0.1:$RELAY_SIDECAR_PORT" \
    --upstream "127.0.0.1:$ORIGIN_PORT"
  SIDECAR_PID=$LAST_PID
  start relay-edge "$PROXY_CORE" "${RT[@]}" "$RELAY" --listen "127.0.0.1:$RELAY_EDGE_PORT" \
    --upstream "127.0.0.1:$RELAY_SIDECAR_PORT"
  EDGE_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$RELAY_EDGE_PORT/"
  wait_http "$PEER_URL" 10 "$EDGE_PID" ||
    die "the relays did not pass $PEER_URL through; logs: $(tail -n 5 "$TMP"/relay-*.log)"
}

start_nginx() {
  write_nginx_configs
  start_nginx_instance nginx-sidecar
  SIDECAR_PID=$LAST_PID
  start_nginx_instance nginx-edge
  EDGE_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$NGINX_EDGE_PORT/"
  SIDECAR_ADDRESS=$NGINX_POD_IP:$ORIGIN_PORT
  wait_http "$PEER_URL" 10 "$EDGE_PID" ||
    die "nginx did not proxy $PEER_URL; logs: $(tail -n 5 "$TMP"/nginx-*/logs/error.log)"
}

start_haproxy() {
  write_haproxy_configs
  local which
  for which in sidecar edge; do
    haproxy -c -q -f "$TMP/haproxy/$which.cfg" >"$TMP/haproxy-$which-check.log" 2>&1 ||
      die "haproxy ($which) rejects its config: $(cat "$TMP/haproxy-$which-check.log")"
  done
  start haproxy-sidecar "$PROXY_CORE" "${RT[@]}" haproxy -db -f "$TMP/haproxy/sidecar.cfg"
  SIDECAR_PID=$LAST_PID
  start haproxy-edge "$PROXY_CORE" "${RT[@]}" haproxy -db -f "$TMP/haproxy/edge.cfg"
  EDGE_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$HAPROXY_EDGE_PORT/"
  SIDECAR_ADDRESS=$HAPROXY_POD_IP:$ORIGIN_PORT
  wait_http "$PEER_URL" 10 "$EDGE_PID" ||
    die "haproxy did not proxy $PEER_URL; logs: $(tail -n 5 "$TMP"/haproxy-*.log)"
}

# wait_ready ADMIN_PORT PID SECONDS: until the proxy's admin /ready says LIVE.
wait_ready() {
  local port=$1 pid=$2 deadline=$((SECONDS + $3)) ready=""
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || break
    ready=$(curl -s --max-time 1 "http://127.0.0.1:$port/ready" || true)
    [[ $ready == LIVE* ]] && return 0
    sleep 0.1
  done
  SKIP_REASON="meshgate-proxy (admin port $port) /ready said '${ready:-nothing}', not LIVE, within $3 s"
  return 1
}

# The production path: meshgate-operator in file mode with its CA; each proxy proves its
# identity to the CA with a bootstrap token, sends a CSR for its own key, and serves the issued
# certificate as SDS secret `default`, with the CA's root as `ROOTCA`.
start_meshgate() { start_meshgate_with "$MESHGATE_PROXY"; }
start_meshgate-baseline() { start_meshgate_with "$MESHGATE_BASELINE"; }

# start_meshgate_with PROXY_BINARY
start_meshgate_with() {
  local proxy=$1 bin state=$TMP/meshgate/state token_gateway token_origin deadline
  rm -rf "$TMP/meshgate"
  for bin in "$MESHGATE_OPERATOR" "$proxy"; do
    if [[ ! -x $bin ]]; then
      SKIP_REASON="$bin not found (build it, or set MESHGATE_PROXY / MESHGATE_OPERATOR)"
      return 1
    fi
  done
  write_meshgate_config "$TMP/meshgate/config"
  mkdir -p "$state"
  token_gateway=$(openssl rand -hex 16)
  token_origin=$(openssl rand -hex 16)
  echo "$token_gateway" >"$state/gateway.token"
  echo "$token_origin" >"$state/origin.token"
  printf '%s %s\n%s %s\n' "$token_gateway" "$GATEWAY_ID" "$token_origin" "$ORIGIN_ID" >"$state/ca-tokens"

  # The control plane is not under test: it shares the client core and idles once configured.
  start meshgate-operator "$CLIENT_CORE" "$MESHGATE_OPERATOR" \
    --config-dir "$TMP/meshgate/config" --state-dir "$state" --ca-tokens "$state/ca-tokens" \
    --xds-port "$OPERATOR_XDS_PORT" --admin-port "$OPERATOR_ADMIN_PORT" \
    --ca-port "$OPERATOR_CA_PORT" --trust-domain "$TRUST_DOMAIN" --log-level warn
  MESHGATE_OPERATOR_PID=$LAST_PID
  deadline=$((SECONDS + 20))
  until [[ -s $state/ca/root-cert.pem ]] && ss -Htln "( sport = :$OPERATOR_CA_PORT )" | grep -q .; do
    if ! kill -0 "$MESHGATE_OPERATOR_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      SKIP_REASON="meshgate-operator's CA did not serve on :$OPERATOR_CA_PORT within 20 s;"
      SKIP_REASON+=" log: $(tail -n 3 "$TMP/meshgate-operator.log" | tr '\n' ' ')"
      stop_started "$MESHGATE_OPERATOR_PID"
      return 1
    fi
    sleep 0.1
  done

  local common=(--xds-address "127.0.0.1:$OPERATOR_XDS_PORT" --namespace "$NAMESPACE"
    --workers 1 --access-log off --log-level warn --trust-domain "$TRUST_DOMAIN"
    --ca-address "127.0.0.1:$OPERATOR_CA_PORT" --ca-root-file "$state/ca/root-cert.pem")
  start meshgate-sidecar "$PROXY_CORE" "${RT[@]}" "$proxy" "${common[@]}" \
    --node-id bench-origin --role sidecar --service-account origin --labels app=origin \
    --interception-mode NONE --instance-ip "$MESHGATE_POD_IP" \
    --admin-port "$SIDECAR_ADMIN_PORT" --token-file "$state/origin.token"
  SIDECAR_PID=$LAST_PID
  start meshgate-gateway "$PROXY_CORE" "${RT[@]}" "$proxy" "${common[@]}" \
    --node-id bench-gateway --role gateway --service-account gateway \
    --labels istio=ingressgateway --admin-port "$GATEWAY_ADMIN_PORT" \
    --token-file "$state/gateway.token"
  EDGE_PID=$LAST_PID
  PEER_URL="http://127.0.0.1:$MESHGATE_EDGE_PORT/"
  SIDECAR_ADDRESS=$MESHGATE_POD_IP:$ORIGIN_PORT

  SKIP_REASON=""
  if wait_ready "$SIDECAR_ADMIN_PORT" "$SIDECAR_PID" 20 && wait_ready "$GATEWAY_ADMIN_PORT" "$EDGE_PID" 20; then
    if ! wait_http "$PEER_URL" 10 "$EDGE_PID"; then
      SKIP_REASON="the proxies are LIVE but $PEER_URL did not answer 200 with $BODY_BYTES bytes within 10 s"
      SKIP_REASON+=" (last: HTTP $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$PEER_URL"))"
    fi
  fi
  if [[ -n $SKIP_REASON ]]; then
    SKIP_REASON+="; last log lines: $(tail -q -n 2 "$TMP/meshgate-operator.log" \
      "$TMP/meshgate-sidecar.log" "$TMP/meshgate-gateway.log" 2>/dev/null | tr '\n' ' ')"
    stop_peer meshgate
    return 1
  fi
}

stop_peer() {
  case $1 in
    direct) ;;
    meshgate | meshgate-baseline)
      stop_started "$EDGE_PID"
      stop_started "$SIDECAR_PID"
      stop_started "$MESHGATE_OPERATOR_PID"
      ;;
    *)
      stop_started "$EDGE_PID"
      stop_started "$SIDECAR_PID"
      ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Before measuring: the hop between the proxies must really be mutual TLS. Three checks, each
# fatal: the origin sees the sidecar's record of a verified client certificate naming the edge;
# the sidecar's port refuses plaintext HTTP; a TLS client without a certificate gets no answer.

# verify_mtls TARGET EXPECTED_XFCC_SUBSTRING
verify_mtls() {
  local peer=$1 expected=$2 xfcc plain tls_reply
  xfcc=$(curl -s --max-time 2 "${PEER_URL}xfcc" || true)
  [[ $xfcc == *"$expected"* ]] ||
    die "$peer: the origin saw x-forwarded-client-cert '$xfcc', not one naming '$expected':" \
      "the hop between the proxies is not verified mutual TLS"
  plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$SIDECAR_ADDRESS/" || true)
  [[ $plain != 200 ]] ||
    die "$peer: the sidecar at $SIDECAR_ADDRESS answered plaintext HTTP with 200"
  tls_reply=$(printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$ORIGIN_HOST" |
    timeout 5 openssl s_client -quiet -connect "$SIDECAR_ADDRESS" -servername "$ORIGIN_HOST" \
      2>/dev/null | head -c 200 || true)
  [[ $tls_reply != *" 200 "* ]] ||
    die "$peer: the sidecar at $SIDECAR_ADDRESS answered a TLS client without a certificate with 200"
  log "$peer: mTLS verified: origin saw x-forwarded-client-cert '$xfcc'; the sidecar" \
    "refused plaintext (HTTP ${plain:-none}) and a client without certificate" \
    "($(head -n 1 <<<"${tls_reply:-no answer}" | tr -d '\r'))"
  record "$peer" mtls_verified "x-forwarded-client-cert: $xfcc"
}


# ---------------------------------------------------------------------------------------------
# Measurements. Each writes rows "target metric value" to $RESULTS.

measure_cpu() {
  local peer=$1 edge_pids sidecar_pids edge_before sidecar_before edge_after sidecar_after
  local completed errors hz
  mapfile -t edge_pids < <(tree_pids "$EDGE_PID")
  mapfile -t sidecar_pids < <(tree_pids "$SIDECAR_PID")
  hz=$(getconf CLK_TCK)
  edge_before=$(cpu_ticks "${edge_pids[@]}")
  sidecar_before=$(cpu_ticks "${sidecar_pids[@]}")
  run_loadgen "$CPU_RATE" "$TMP/cpu-$peer.json"
  edge_after=$(cpu_ticks "${edge_pids[@]}")
  sidecar_after=$(cpu_ticks "${sidecar_pids[@]}")
  read -r completed errors < <(json_fields completed errors.total <"$TMP/cpu-$peer.json")
  record "$peer" cpu_run_errors "$errors"
  record "$peer" cpu_run_completed "$completed"
  # CPU seconds per 1000 requests = vCPU needed per 1000 requests/s.
  per_1k() {
    awk -v t="$1" -v hz="$hz" -v n="$completed" 'BEGIN {printf "%.4f", (n > 0 ? t / hz / n * 1000 : 0)}'
  }
  if [[ $peer == direct ]]; then
    record "$peer" origin_vcpu_per_1k_rps "$(per_1k $((edge_after - edge_before)))"
  else
    record "$peer" edge_vcpu_per_1k_rps "$(per_1k $((edge_after - edge_before)))"
    record "$peer" sidecar_vcpu_per_1k_rps "$(per_1k $((sidecar_after - sidecar_before)))"
  fi
  log "$peer: CPU ticks edge $((edge_after - edge_before)), sidecar $((sidecar_after - sidecar_before))" \
    "(${hz}/s) for $completed requests at $CPU_RATE req/s ($errors errors)"
}

# Each proxy's resident memory once it serves (after the mTLS checks, before any load): the
# sidecar holds its workload certificate, the trust bundle and the mTLS contexts.
measure_memory() {
  local peer=$1 edge_pids sidecar_pids
  mapfile -t edge_pids < <(tree_pids "$EDGE_PID")
  mapfile -t sidecar_pids < <(tree_pids "$SIDECAR_PID")
  record "$peer" edge_rss_kb "$(rss_kb "${edge_pids[@]}")"
  record "$peer" sidecar_rss_kb "$(rss_kb "${sidecar_pids[@]}")"
  record "$peer" edge_pss_kb "$(mem_kb Pss "${edge_pids[@]}")"
  record "$peer" sidecar_pss_kb "$(mem_kb Pss "${sidecar_pids[@]}")"
}

# An extra fixed-rate run with `perf record -g` attached to both meshgate proxies.
profile_meshgate() {
  local which pid perf_pids=()
  require_binary perf "PROFILE needs linux-perf"
  for which in edge sidecar; do
    [[ $which == edge ]] && pid=$EDGE_PID || pid=$SIDECAR_PID
    perf record -g -F 999 -p "$pid" -o "$TMP/perf-$which.data" -- sleep "$PROFILE" \
      >"$TMP/perf-$which.log" 2>&1 &
    perf_pids+=($!)
  done
  DURATION_SAVED=$DURATION
  DURATION=$PROFILE
  run_loadgen "$CPU_RATE" "$TMP/profile-meshgate.json"
  DURATION=$DURATION_SAVED
  wait "${perf_pids[@]}" || true
  for which in edge sidecar; do
    # Self time by library, then by symbol (call graphs stay in the .data for `perf report`).
    {
      perf report -i "$TMP/perf-$which.data" --no-children -g none --stdio --sort dso 2>/dev/null
      perf report -i "$TMP/perf-$which.data" --no-children -g none --stdio --sort dso,symbol \
        --percent-limit 0.5 2>/dev/null
    } | grep -E '^ +[0-9.]+%' | sed 's/ *$//' | cut -c1-150 >"$TMP/perf-$which.txt" || true
    log "meshgate $which profile (self time by library, then the top symbols; $TMP/perf-$which.txt):"
    head -n 30 "$TMP/perf-$which.txt" >&2
  done
}

# ---------------------------------------------------------------------------------------------
# Main.

(($# == 0)) || die "unknown argument '$1' (configure with environment variables; see the top of $0)"

for tool in nginx haproxy wrk taskset curl openssl python3 ss pgrep getconf timeout "${RT[@]:0:1}"; do
  require_binary "$tool" "needed by the benchmark; scripts/deps.sh installs it"
done
[[ -x $LOADGEN ]] ||
  die "$LOADGEN not found: cmake --build build --target meshgate-loadgen (or set LOADGEN)"
for port in "$ORIGIN_PORT:origin and sidecars" "$MESHGATE_EDGE_PORT:meshgate gateway" \
  "$NGINX_EDGE_PORT:nginx edge" "$HAPROXY_EDGE_PORT:haproxy edge" "$RELAY_EDGE_PORT:relay edge" \
  "$RELAY_SIDECAR_PORT:relay sidecar" \
  "$OPERATOR_XDS_PORT:meshgate-operator xDS" "$OPERATOR_ADMIN_PORT:meshgate-operator admin" \
  "$OPERATOR_CA_PORT:meshgate-operator CA" "$GATEWAY_ADMIN_PORT:meshgate gateway admin" \
  "$SIDECAR_ADMIN_PORT:meshgate sidecar admin"; do
  require_port_free "${port%%:*}" "${port#*:}"
done

START_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
  echo "meshgate two-proxy mTLS benchmark, $START_TIME"
  echo "machine: $CORES cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pinning: both proxies of the path on core $PROXY_CORE; origin, wrk and meshgate-loadgen on core $CLIENT_CORE"
  ((CORES >= 2)) || echo "WARNING: one core only; proxies and clients share it"
  if ((${#RT[@]})); then
    echo "scheduling: SCHED_FIFO ${RT[2]} for origin, proxies and load generators"
    others=$(foreign_realtime_processes | tr '\n' ';')
    [[ -z $others ]] || echo "WARNING: other real-time processes run (pid priority name): ${others%;}"
  fi
  echo "path: edge (HTTP/1.1 in) -> mTLS, ECDSA P-256, keep-alive -> sidecar -> origin (nginx," \
    "1 worker, ${BODY_BYTES}-byte body); each proxy 1 worker, no access log"
  echo "phases per target: ${DURATION}s wrk -c$THROUGHPUT_CONNECTIONS, ${DURATION}s at $CPU_RATE req/s (CPU)," \
    "${DURATION}s at $LATENCY_RATE req/s on $LOADGEN_CONNECTIONS connections (latency)"
} | tee "$TMP/header.txt" >&2

mint_peer_certificates
# The origin also echoes the x-forwarded-client-cert it got, to check what the sidecar sends.
# shellcheck disable=SC2016  # $http_x_forwarded_client_cert is nginx's variable
start_origin "" '    location = /xfcc {
      default_type text/plain;
      return 200 "$http_x_forwarded_client_cert";
    }'
for peer in $PEERS; do
  case $peer in
    direct | relay | nginx | haproxy | meshgate | meshgate-baseline) ;;
    *) die "unknown target '$peer' in PEERS" ;;
  esac
  SKIP_REASON=""
  log "$peer: starting"
  if ! "start_$peer"; then
    log "$peer: SKIPPED: $SKIP_REASON"
    record "$peer" skipped "$SKIP_REASON"
    continue
  fi
  case $peer in
    direct | relay) ;;
    meshgate*) verify_mtls "$peer" "URI=$GATEWAY_ID" ;;
    *) verify_mtls "$peer" "CN=bench-edge" ;;
  esac
  [[ $peer == direct ]] || measure_memory "$peer"
  measure_throughput "$peer"
  measure_cpu "$peer"
  measure_latency "$peer"
  if [[ $peer == meshgate && $PROFILE != 0 ]]; then profile_meshgate; fi
  stop_peer "$peer"
done

mkdir -p "$RESULTS_DIR"
RESULT_JSON="$RESULTS_DIR/proxy-mtls-$(date -u +%Y%m%d-%H%M%S).json"
python3 "$ROOT/bench/proxy-mtls/report.py" "$RESULTS" "$RESULT_JSON" "$TMP/header.txt"
