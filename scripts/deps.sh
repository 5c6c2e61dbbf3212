#!/usr/bin/env bash
# Installs what building and testing meshgate needs, and nothing that is
# already there. Idempotent and non-interactive; run by `make deps`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  lld  # meshgate-proxy's link lays out its start-up and request-path code together
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libabsl-dev
  libssl-dev openssl libyaml-cpp-dev libspdlog-dev libfmt-dev libcpprest-dev nlohmann-json3-dev
  libre2-dev libnghttp2-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhttp-parser-dev  # peer of bench/proxy/http1_parse_bench only, never linked into meshgate
  clang-format clang-tidy
  nodejs npm
  curl wrk nghttp2-client nginx-light haproxy python3 python3-h2 python3-yaml iproute2 kubectl
  iptables  # iptables-restore: `meshgate-proxy iptables` and the capture e2e test
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Tools that may come from elsewhere than Debian on a developer's machine: a
# binary on PATH is enough.
for tool in kubectl nodejs:node npm; do
  pkg=${tool%%:*} cmd=${tool##*:}
  if command -v "$cmd" >/dev/null 2>&1; then
    for i in "${!missing[@]}"; do [ "${missing[$i]}" = "$pkg" ] && unset 'missing[i]'; done
  fi
done
missing=("${missing[@]}")

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Envoy API .proto files, pinned by third_party/npm/package-lock.json.
if [ ! -f third_party/npm/node_modules/@grpc/grpc-js-xds/package.json ] ||
   [ third_party/npm/package-lock.json -nt third_party/npm/node_modules/.package-lock.json ]; then
  echo "deps: installing pinned npm packages (Envoy API protos)"
  (cd third_party/npm && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
