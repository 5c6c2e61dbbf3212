#!/usr/bin/env bash
# Before/after comparison of meshgate-proxy builds (and nginx) in one run: one origin, one
# operator, the same core layout as run.sh, and the targets measured in alternation, ROUNDS times,
# so that a busy machine shows up as a range instead of a difference. See bench/README.md.
#
#   bash bench/proxy/compare.sh old=/tmp/meshgate-proxy.old new=build/bin/meshgate-proxy nginx
#
# Each argument is LABEL=PROXY_BINARY, or `nginx` (the run.sh nginx config) or `direct` (the
# origin alone). Per round and target it prints: wrk -c50 requests/s; the target's CPU share
# during that run and the idle share of each core (is the proxy core the bound?); vCPU per
# 1k requests/s at 2,000 requests/s; p50/p99 at 1,000 requests/s (open loop).
#
# Environment: ROUNDS [3], DURATION seconds per phase [8], PORT_BASE [28180], BUILD_DIR,
# MESHGATE_OPERATOR, LOADGEN, PROXY_CORE [1], CLIENT_CORE [0], REALTIME [1] (SCHED_FIFO 20 for
# origin, targets and load generators; needs root), KEEP_TMP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
LOADGEN=${LOADGEN:-$BUILD_DIR/bin/meshgate-loadgen}
MESHGATE_OPERATOR=${MESHGATE_OPERATOR:-$BUILD_DIR/bin/meshgate-operator}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
PORT_BASE=${PORT_BASE:-28180}
BODY_BYTES=1024
ORIGIN_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
MESHGATE_PORT=$((PORT_BASE + 3))
XDS_PORT=$((PORT_BASE + 10))
OPERATOR_ADMIN_PORT=$((PORT_BASE + 11))
PROXY_ADMIN_PORT=$((PORT_BASE + 12))

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
# bench_init picks the core layout and the scheduling class; this script lets the caller pin
# the cores and runs real-time unless told otherwise.
requested_proxy_core=${PROXY_CORE-}
requested_client_core=${CLIENT_CORE-}
REALTIME=${REALTIME:-1}
bench_init compare
PROXY_CORE=${requested_proxy_core:-$PROXY_CORE}
CLIENT_CORE=${requested_client_core:-$CLIENT_CORE}

(($# > 0)) || die "usage: compare.sh LABEL=PROXY_BINARY... [nginx] [direct]"
for target in "$@"; do
  case $target in
    nginx | direct) ;;
    *=*) [[ -x ${target#*=} ]] || die "${target#*=} is not an executable (target '$target')" ;;
    *) die "target '$target' is neither LABEL=BINARY, nginx nor direct" ;;
  esac
done
[[ -x $LOADGEN ]] || die "$LOADGEN not found: cmake --build build --target meshgate-loadgen"
[[ -x $MESHGATE_OPERATOR ]] || die "$MESHGATE_OPERATOR not found (set MESHGATE_OPERATOR)"

idle_ticks() { awk -v c="cpu$1" '$1 == c {print $5 + $6}' /proc/stat; }

mkdir -p "$TMP/state"
CLUSTERS=100 # as many upstreams in nginx as run.sh's meshgate config has clusters
write_nginx_config
# shellcheck disable=SC2119  # the plain HTTP/1.1 origin
start_origin
PORT_BASE=$PORT_BASE bash "$ROOT/bench/proxy/run.sh" --write-meshgate-config "$TMP/config"
start operator "$CLIENT_CORE" "$MESHGATE_OPERATOR" --config-dir "$TMP/config" \
  --state-dir "$TMP/state" --xds-port "$XDS_PORT" --admin-port "$OPERATOR_ADMIN_PORT" --log-level warn

printf '%-8s %5s %9s %8s %10s %10s %12s %6s %6s\n' target round 'req/s' 'cpu%' \
  'core0 idle' 'core1 idle' 'vCPU/1k rps' p50us p99us
for round in $(seq "$ROUNDS"); do
  for target in "$@"; do
    label=${target%%=*}
    case $target in
      direct)
        pid=$ORIGIN_PID
        port=$ORIGIN_PORT
        ;;
      nginx)
        start nginx "$PROXY_CORE" "${RT[@]}" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx/"
        pid=$LAST_PID
        port=$NGINX_PORT
        ;;
      *)
        start "$label" "$PROXY_CORE" "${RT[@]}" "${target#*=}" --xds-address "127.0.0.1:$XDS_PORT" \
          --node-id bench-gateway --role gateway --namespace bench --labels istio=ingressgateway \
          --admin-port "$PROXY_ADMIN_PORT" --workers 1 --access-log off --log-level warn
        pid=$LAST_PID
        port=$MESHGATE_PORT
        ;;
    esac
    url="http://127.0.0.1:$port/"
    wait_http "$url" 20 "$pid" || die "$label did not answer $url: $(tail -n 3 "$TMP/$label.log" 2>/dev/null)"
    mapfile -t pids < <(tree_pids "$pid")
    t0=$(cpu_ticks "${pids[@]}")
    i0=$(idle_ticks 0)
    i1=$(idle_ticks 1)
    rps=$(taskset -c "$CLIENT_CORE" "${RT[@]}" wrk -t1 -c50 -d"${DURATION}s" "$url" |
      awk '/^Requests\/sec:/ {print $2}')
    t1=$(cpu_ticks "${pids[@]}")
    i0=$(($(idle_ticks 0) - i0))
    i1=$(($(idle_ticks 1) - i1))
    taskset -c "$CLIENT_CORE" "${RT[@]}" "$LOADGEN" --rate 2000 --duration "${DURATION}s" \
      --connections 8 --url "$url" --json >"$TMP/cpu.json" || true
    t2=$(cpu_ticks "${pids[@]}")
    taskset -c "$CLIENT_CORE" "${RT[@]}" "$LOADGEN" --rate 1000 --duration "${DURATION}s" \
      --connections 8 --url "$url" --json >"$TMP/latency.json" || true
    read -r completed p50 p99 < <(python3 -c 'import json, sys
cpu = json.load(open(sys.argv[1])); lat = json.load(open(sys.argv[2]))
print(cpu["completed"], lat["latency_us"]["p50"], lat["latency_us"]["p99"])' "$TMP/cpu.json" \
      "$TMP/latency.json")
    hz=$(getconf CLK_TCK)
    awk -v l="$label" -v r="$round" -v rps="${rps:-0}" -v busy=$((t1 - t0)) -v i0="$i0" \
      -v i1="$i1" -v d="$DURATION" -v hz="$hz" -v cpu=$((t2 - t1)) -v n="$completed" \
      -v p50="$p50" -v p99="$p99" 'BEGIN {
        printf "%-8s %5d %9.0f %7.1f%% %9.1f%% %9.1f%% %12.4f %6d %6d\n", l, r, rps,
          100 * busy / hz / d, 100 * i0 / hz / d, 100 * i1 / hz / d,
          (n > 0 ? cpu / hz / n * 1000 : 0), p50, p99 }'
    [[ $target == direct ]] || stop_started "$pid"
  done
done
