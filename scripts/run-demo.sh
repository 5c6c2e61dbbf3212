#!/usr/bin/env bash
# The embedded demo, on loopback: meshgate-operator in file mode on
# examples/demo/, two versions of the sample backend (meshgate-echo), and a
# gateway meshgate-proxy on port 8080 programmed over xDS. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin="$build/bin"
state=$(mktemp -d -t meshgate-demo.XXXXXX)

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT INT TERM

for port in 8080 9101 9102 15000 15010 15012 15014; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "meshgate demo: port $port is already in use; stop whatever holds it and retry" >&2
    exit 1
  fi
done

# v1 fails every 4th request on purpose: the routes retry on 5xx, so clients never see it.
"$bin/meshgate-echo" --port 9101 --version v1 --fail-every 4 >"$state/echo-v1.log" 2>&1 &
pids+=($!)
"$bin/meshgate-echo" --port 9102 --version v2 >"$state/echo-v2.log" 2>&1 &
pids+=($!)
"$bin/meshgate-operator" --config-dir examples/demo --state-dir "$state" \
  >"$state/operator.log" 2>&1 &
pids+=($!)
# The gateway's labels are what Gateway.spec.selector matches (as Istio
# matches the gateway pod's labels); they reach the control plane in the
# node metadata LABELS.
"$bin/meshgate-proxy" --xds-address 127.0.0.1:15010 --node-id demo-gateway --role gateway \
  --namespace demo --labels istio=ingressgateway --admin-port 15000 \
  --access-log "$state/access.log" >"$state/proxy.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if [ "$(curl -s -m 1 http://127.0.0.1:15000/ready 2>/dev/null)" = "LIVE" ]; then break; fi
  sleep 0.1
done
if [ "$(curl -s -m 1 http://127.0.0.1:15000/ready 2>/dev/null)" != "LIVE" ]; then
  echo "meshgate demo: the gateway did not become ready; logs:" >&2
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
  # what the control plane sent, and what the proxy ACKed
  curl -s localhost:15014/debug/syncz
  # access log (one JSON line per request)
  tail -n 3 $state/access.log
MSG
wait -n "${pids[@]}"
