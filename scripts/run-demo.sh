#!/usr/bin/env bash
# Starts the embedded demo on loopback: the control plane in file mode on
# examples/demo/. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin="$build/bin"
state=$(mktemp -d -t meshgate-demo.XXXXXX)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT INT TERM

"$bin/meshgate-operator" --config-dir examples/demo --state-dir "$state" &
pids+=($!)

echo "meshgate demo: control plane running on examples/demo (Ctrl-C to stop)"
wait -n "${pids[@]}"
