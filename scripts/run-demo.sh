#!/usr/bin/env bash
# The embedded demo, on loopback and without root: meshgate-operator in file
# mode on examples/demo/ (control plane and CA), two versions of the sample
# HTTP backend (meshgate-echo) and a gRPC backend (meshgate-grpc-echo), each
# behind its own sidecar meshgate-proxy, and a gateway meshgate-proxy on port
# 8080. Every proxy holds a CA-issued SPIFFE identity; gateway -> sidecar
# traffic is mutual TLS (auto mTLS to the sidecar-labelled pods, PeerAuthentication
# STRICT).
#
# Without iptables nothing redirects traffic to a sidecar, so the sidecars
# run in Istio's interception mode NONE: each pod has its own loopback IP
# (127.0.0.11, .12, .13), the sidecar binds PODIP:PORT and forwards to the
# app on 127.0.0.1:PORT. Ctrl-C stops everything this script started.
#
# Usage: scripts/run-demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ ! -d "$build/bin" ]; then
  echo "meshgate demo: no binaries in $build/bin; build first (make run does)" >&2
  exit 1
fi
bin="$(cd "$build" && pwd)/bin"
state=$(mktemp -d -t meshgate-demo.XXXXXX)

pids=()
cleanup() {
  # A second Ctrl-C must not cut the cleanup short.
  trap '' INT TERM
  trap - EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Give them 5 s to exit cleanly, then make sure.
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT INT TERM

busy=()
for addr in 127.0.0.1:8080 127.0.0.1:9101 127.0.0.1:9102 127.0.0.1:9103 127.0.0.11:9101 \
  127.0.0.12:9102 127.0.0.13:9103 127.0.0.1:15000 127.0.0.1:15010 127.0.0.1:15012 \
  127.0.0.1:15014 127.0.0.1:15101 127.0.0.1:15102 127.0.0.1:15103; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then busy+=("$addr"); fi
done
if [ ${#busy[@]} -gt 0 ]; then
  echo "meshgate demo: already in use: ${busy[*]}; stop whatever holds them and retry" >&2
  exit 1
fi

# Bootstrap tokens, fresh for every run: each proxy proves with its token
# which identity the CA may issue it (`TOKEN SPIFFE_ID` lines).
for sa in gateway echo grpc-echo; do
  token=$(openssl rand -hex 16)
  echo "$token" >"$state/$sa.token"
  echo "$token spiffe://cluster.local/ns/demo/sa/$sa" >>"$state/ca-tokens"
done

"$bin/meshgate-operator" --config-dir examples/demo --state-dir "$state" \
  --ca-tokens "$state/ca-tokens" >"$state/operator.log" 2>&1 &
operator=$!
pids+=($operator)
root="$state/ca/root-cert.pem"
ca_serving() { grep -q "CA serving" "$state/operator.log" && [ -s "$root" ]; }
for _ in $(seq 1 100); do
  if ca_serving || ! kill -0 "$operator" 2>/dev/null; then break; fi
  sleep 0.1
done
if ! ca_serving; then
  echo "meshgate demo: the CA did not start; logs:" >&2
  tail -n 20 "$state/operator.log" >&2
  exit 1
fi

# The apps listen on 127.0.0.1 only; their pods' IPs belong to the sidecars.
# v1 fails every 4th request on purpose: the routes retry on 5xx, so clients never see it.
"$bin/meshgate-echo" --port 9101 --version v1 --fail-every 4 >"$state/echo-v1.log" 2>&1 &
pids+=($!)
"$bin/meshgate-echo" --port 9102 --version v2 >"$state/echo-v2.log" 2>&1 &
pids+=($!)
"$bin/meshgate-grpc-echo" --port 9103 --version v1 >"$state/grpc-echo.log" 2>&1 &
pids+=($!)

ca=(--ca-address 127.0.0.1:15012 --ca-root-file "$root")
# sidecar NAME SERVICE_ACCOUNT POD_IP ADMIN_PORT LABELS
sidecar() {
  "$bin/meshgate-proxy" --xds-address 127.0.0.1:15010 --node-id "$1" --role sidecar \
    --namespace demo --service-account "$2" --labels "$5" \
    --interception-mode NONE --instance-ip "$3" --admin-port "$4" \
    "${ca[@]}" --token-file "$state/$2.token" \
    --access-log "$state/$1.access.log" >"$state/$1.log" 2>&1 &
  pids+=($!)
}
sidecar echo-v1 echo 127.0.0.11 15101 app=echo,version=v1
sidecar echo-v2 echo 127.0.0.12 15102 app=echo,version=v2
sidecar grpc-echo-v1 grpc-echo 127.0.0.13 15103 app=grpc-echo,version=v1
# The gateway's labels are what Gateway.spec.selector matches (as Istio
# matches the gateway pod's labels); they reach the control plane in the
# node metadata LABELS.
"$bin/meshgate-proxy" --xds-address 127.0.0.1:15010 --node-id demo-gateway --role gateway \
  --namespace demo --service-account gateway --labels istio=ingressgateway --admin-port 15000 \
  "${ca[@]}" --token-file "$state/gateway.token" \
  --access-log "$state/access.log" >"$state/proxy.log" 2>&1 &
pids+=($!)

ready() { [ "$(curl -s -m 1 "http://127.0.0.1:$1/ready" 2>/dev/null)" = "LIVE" ]; }
all_ready() { ready 15000 && ready 15101 && ready 15102 && ready 15103; }
for _ in $(seq 1 150); do
  if all_ready; then break; fi
  sleep 0.1
done
if ! all_ready; then
  echo "meshgate demo: the proxies did not become ready; logs:" >&2
  tail -n 20 "$state"/*.log >&2
  exit 1
fi

cat <<MSG
meshgate demo is running (Ctrl-C stops it). Logs: $state

  # 90/10 split between v1 and v2 (count the versions):
  for i in \$(seq 20); do curl -s localhost:8080/ | grep -o '"version":"v[12]"'; done | sort | uniq -c
  # header-matched route: always v2
  curl -s -H 'x-canary: true' localhost:8080/
  # rewrite: /api/hello reaches the backend as /hello
  curl -s localhost:8080/api/hello
  # retries: v1 fails every 4th request with 503; the gateway retries, clients see 200s
  for i in \$(seq 12); do curl -s -o /dev/null -w '%{http_code} ' localhost:8080/; done; echo
  curl -s localhost:15000/stats/prometheus | grep upstream_rq_retry
  # mesh mTLS: the echo sees the gateway's SPIFFE ID in x-forwarded-client-cert
  curl -s localhost:8080/ | grep -o '"peer_identity":"[^"]*"'
  # gRPC through the gateway, by authority; the reply names the gateway as peer
  $bin/meshgate-grpc-echo --call Say --target 127.0.0.1:8080 --authority grpc-echo.demo.svc.cluster.local
  # PeerAuthentication STRICT: a plaintext connection to a sidecar is closed unanswered
  curl -sS http://127.0.0.11:9101/; echo "curl exit code \$?"
  # what the control plane sent, and what the proxies ACKed
  curl -s localhost:15014/debug/syncz
  # access log (one JSON line per request)
  tail -n 3 $state/access.log
MSG
wait -n "${pids[@]}"
