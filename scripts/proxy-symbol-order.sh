#!/usr/bin/env bash
# Regenerates proxy/symbol-order.txt: every function meshgate-proxy runs from start-up until it
# serves requests, in the order callgrind first meets them. The static link
# (cmake/StaticProxy.cmake) hands the file to lld, which lays those functions out first and side by
# side. Idle memory is mostly code pages, and the kernel maps code around each touched page: code
# run at start-up and on the request path, packed together, costs a few megabytes less than the
# same code spread over the whole binary. Functions missing from the file still work; they are
# only placed among the cold code. Rerun after larger changes to the proxy:
#
#   bash scripts/proxy-symbol-order.sh     # needs valgrind, nginx, wrk; takes about three minutes
#
# What runs, in two profiles merged in this order:
#  1. the gateway: the side-by-side benchmark's config (bench/proxy/run.sh, 100 clusters) from a
#     meshgate-operator started after the proxy, an nginx origin, and the proxy under callgrind
#     while it starts, retries the control plane, applies the config, answers keep-alive and
#     new-connection requests, and serves its admin pages;
#  2. the mesh: the two-proxy mTLS benchmark (bench/proxy-mtls/run.sh) with both proxies under
#     callgrind: CSR to the built-in CA, SDS secrets, mTLS handshakes both ways, load through
#     the pair. Without it the TLS path sits among the cold code and a sidecar maps ~3 MB more.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
MESHGATE_PROXY=${MESHGATE_PROXY:-$BUILD_DIR/bin/meshgate-proxy}
MESHGATE_OPERATOR=${MESHGATE_OPERATOR:-$BUILD_DIR/bin/meshgate-operator}
OUT=${OUT:-$ROOT/proxy/symbol-order.txt}
PORT_BASE=${PORT_BASE:-38180}
MTLS_PORT_BASE=${MTLS_PORT_BASE:-38280}
BODY_BYTES=1024
ORIGIN_PORT=$PORT_BASE
GATEWAY_PORT=$((PORT_BASE + 3))
XDS_PORT=$((PORT_BASE + 10))
OPERATOR_ADMIN_PORT=$((PORT_BASE + 11))
PROXY_ADMIN_PORT=$((PORT_BASE + 12))

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_init symbol-order
for tool in valgrind nginx curl wrk; do require_binary "$tool" "apt-get install $tool"; done
[[ -x $MESHGATE_PROXY && -x $MESHGATE_OPERATOR ]] ||
  die "build meshgate-proxy and meshgate-operator first (cmake --build build)"
for port in $ORIGIN_PORT $GATEWAY_PORT $XDS_PORT $OPERATOR_ADMIN_PORT $PROXY_ADMIN_PORT; do
  require_port_free "$port" "set PORT_BASE"
done

# shellcheck disable=SC2119  # the plain HTTP/1.1 origin
start_origin
PORT_BASE=$PORT_BASE bash "$ROOT/bench/proxy/run.sh" --write-meshgate-config "$TMP/config"
mkdir -p "$TMP/state"
start proxy "$PROXY_CORE" valgrind --tool=callgrind --demangle=no \
  --callgrind-out-file="$TMP/callgrind.out" "$MESHGATE_PROXY" \
  --xds-address "127.0.0.1:$XDS_PORT" --node-id bench-gateway --role gateway --namespace bench \
  --labels istio=ingressgateway --admin-port "$PROXY_ADMIN_PORT" --workers 1 --access-log off \
  --log-level warn
PROXY_PID=$LAST_PID
# The control plane comes up after the proxy, as it often does in a cluster: the proxy's first
# attempts fail, and its reconnect and logging paths run too.
deadline=$((SECONDS + 120))
until grep -q reconnecting "$TMP/proxy.log"; do
  kill -0 "$PROXY_PID" 2>/dev/null ||
    die "the proxy under callgrind exited: $(tail -n 5 "$TMP/proxy.log")"
  ((SECONDS < deadline)) ||
    die "the proxy under callgrind never tried the control plane: $(tail -n 5 "$TMP/proxy.log")"
  sleep 0.2
done
start operator "$CLIENT_CORE" "$MESHGATE_OPERATOR" --config-dir "$TMP/config" \
  --state-dir "$TMP/state" --xds-port "$XDS_PORT" --admin-port "$OPERATOR_ADMIN_PORT" \
  --log-level warn
wait_http "http://127.0.0.1:$GATEWAY_PORT/" 120 "$PROXY_PID" ||
  die "the proxy under callgrind did not serve: $(tail -n 5 "$TMP/proxy.log")"

url="http://127.0.0.1:$GATEWAY_PORT/"
keep_alive=()
for _ in $(seq 200); do keep_alive+=("$url"); done
curl -s "${keep_alive[@]}" >/dev/null  # one connection, kept alive
for _ in $(seq 20); do curl -s -o /dev/null "$url"; done
for page in ready stats/prometheus clusters config_dump listeners; do
  curl -s -o /dev/null "http://127.0.0.1:$PROXY_ADMIN_PORT/$page"
done
# A clean exit, however long callgrind takes to write its profile.
kill -TERM "$PROXY_PID"
for _ in $(seq 600); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done
wait "$PROXY_PID" 2>/dev/null || true
[[ -s $TMP/callgrind.out ]] || die "callgrind wrote no profile: $(tail -n 5 "$TMP/proxy.log")"


# (2) The mesh path, through the mTLS benchmark with a proxy binary that is callgrind around the
# real one. Its verdicts mean nothing under callgrind; only the profiles are kept.
mkdir -p "$TMP/mesh"
printf '#!/bin/sh\nexec valgrind --tool=callgrind --demangle=no --callgrind-out-file=%q %q "$@"\n' \
  "$TMP/mesh/callgrind.%p" "$MESHGATE_PROXY" >"$TMP/proxy-under-callgrind"
chmod +x "$TMP/proxy-under-callgrind"
log "profiling the mesh path (bench/proxy-mtls/run.sh; its output goes to $TMP/mesh.log)"
MESHGATE_PROXY=$TMP/proxy-under-callgrind PEERS=meshgate DURATION=2 PORT_BASE=$MTLS_PORT_BASE \
  STOP_GRACE=120 RESULTS_DIR=$TMP/mesh REALTIME=0 bash "$ROOT/bench/proxy-mtls/run.sh" \
  >"$TMP/mesh.log" 2>&1 || die "the mTLS benchmark failed: $(tail -n 5 "$TMP/mesh.log")"
mapfile -t mesh_profiles < <(find "$TMP/mesh" -name 'callgrind.*' -size +0 | sort)
((${#mesh_profiles[@]} == 2)) || die "expected two mesh profiles (edge and sidecar)," \
  "found ${#mesh_profiles[@]}: $(tail -n 5 "$TMP/mesh.log")"

# callgrind names each function once, as "fn=(ID) NAME" or "cfn=(ID) NAME" (a callee), and by ID
# afterwards; recursion levels carry a 'N suffix. Addresses without a symbol are left out. The
# gateway's order comes first; the mesh profiles add what the gateway never ran.
python3 - "$OUT" "$TMP/callgrind.out" "${mesh_profiles[@]}" <<'PYEOF'
import re
import sys

out, profiles = sys.argv[1], sys.argv[2:]
seen, order = set(), []
for profile in profiles:
    names = {}
    with open(profile, errors="replace") as f:
        for line in f:
            m = re.match(r"^c?fn=\((\d+)\) (.+)$", line.rstrip("\n"))
            if m:
                names.setdefault(m.group(1), re.sub(r"'\d+$", "", m.group(2)))
    for name in names.values():
        if not name.startswith("0x") and name not in seen:
            seen.add(name)
            order.append(name)
with open(out, "w") as f:
    f.write("# Generated by scripts/proxy-symbol-order.sh: the functions meshgate-proxy runs from\n"
            "# start-up to serving as a gateway, then those only the mesh (mTLS) path runs; first\n"
            "# ones first, lld lays them out in this order.\n")
    f.write("\n".join(order) + "\n")
print(f"{out}: {len(order)} functions from {len(profiles)} profiles")
PYEOF
