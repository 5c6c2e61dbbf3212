# shellcheck shell=bash disable=SC2034  # sourced: the globals set here are used by the caller
# Shell functions shared by the side-by-side proxy benchmarks (bench/proxy/run.sh,
# bench/proxy/compare.sh, bench/proxy-mtls/run.sh, bench/proxy-h2/run.sh). Source it after `set -euo pipefail`; then call bench_init NAME, which
# makes the temp dir $TMP (removed on exit unless KEEP_TMP=1), installs the exit trap that stops
# every process started with `start`, and sets the core layout and $RT.
#
# Globals the caller provides: BODY_BYTES (what wait_http expects), DURATION, LOADGEN, and for the
# measure_* helpers PEER_URL, THROUGHPUT_CONNECTIONS, LOADGEN_CONNECTIONS, LATENCY_RATE.
# Globals this file sets: TMP, STARTED_PIDS, LAST_PID, CORES, PROXY_CORE, CLIENT_CORE, RT, RESULTS.
# STOP_GRACE (seconds, default 2.5) is how long a process gets between SIGTERM and SIGKILL; a
# proxy under a profiler that writes its profile on exit needs longer.

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# bench_init NAME: temp dir, exit trap, core layout, scheduling class, results file.
bench_init() {
  TMP=$(mktemp -d "/tmp/meshgate-bench-$1.XXXXXX")
  STARTED_PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM

  # Two cores: the proxies under test get core 1; the origin and the load generators share
  # core 0. On a one-core machine everything shares core 0 (and the output says so).
  CORES=$(nproc)
  if ((CORES >= 2)); then
    PROXY_CORE=1
    CLIENT_CORE=0
  else
    PROXY_CORE=0
    CLIENT_CORE=0
  fi
  RT=()
  if [[ ${REALTIME:-0} == 1 ]]; then RT=(chrt -f "${REALTIME_PRIORITY:-20}"); fi

  RESULTS="$TMP/results.tsv"
  : >"$RESULTS"
}

# Real-time processes this run did not start, one "pid priority command" line each: at the same
# SCHED_FIFO priority they take a core from the processes under test for as long as they run.
foreign_realtime_processes() {
  local mine=" ${STARTED_PIDS[*]-} "
  # Kernel threads (children of kthreadd, pid 2) are left out.
  ps -eo pid=,ppid=,cls=,rtprio=,comm= | awk -v mine="$mine" '($3 == "FF" || $3 == "RR") &&
    $2 != 2 && $1 != 2 && index(mine, " " $1 " ") == 0 { print $1, $4, $5 }'
}

# ---------------------------------------------------------------------------------------------
# Processes: everything started here is recorded and stopped on exit, whatever the exit path.

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq "$(awk -v s="${STOP_GRACE:-2.5}" 'BEGIN { print int(s * 20) }')"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${STARTED_PIDS[i]}"
  done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
}

# start NAME CORE COMMAND...: runs COMMAND pinned to CORE in the background, output to
# $TMP/NAME.log; sets LAST_PID. taskset execs the command, so the pid is the command's.
start() {
  local name=$1 core=$2
  shift 2
  taskset -c "$core" "$@" >"$TMP/$name.log" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
}

stop_started() {
  local pid=$1 kept=() p
  stop_pid "$pid"
  for p in "${STARTED_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  STARTED_PIDS=("${kept[@]+"${kept[@]}"}")
}

require_port_free() {
  if ss -Htln "( sport = :$1 )" | grep -q .; then
    die "port $1 ($2) is busy on this machine; stop what uses it or set PORT_BASE"
  fi
}

require_binary() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found ($2)"
}

# wait_http URL SECONDS PID: until URL answers 200 with a BODY_BYTES body.
wait_http() {
  local url=$1 pid=$3 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ $(curl -s -o "$TMP/probe.body" -w '%{http_code}' --max-time 1 "$url" || true) == 200 ]] &&
      [[ $(wc -c <"$TMP/probe.body") -eq $BODY_BYTES ]]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Peer configs.

# nginx_main NAME: the part of $TMP/NAME/nginx.conf every nginx here shares: one worker, in the
# foreground, its pid and error log under $TMP/NAME.
nginx_main() {
  cat <<EOF
worker_processes 1;
daemon off;
pid $TMP/$1/nginx.pid;
error_log $TMP/$1/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
EOF
}

# write_origin_config [LISTEN_OPTIONS [SERVER_LINES]]: $TMP/origin/nginx.conf, an nginx answering
# every path on ORIGIN_PORT with 200 and BODY_BYTES of 'x' from memory. LISTEN_OPTIONS go on the
# listen line (e.g. "http2" for h2c); SERVER_LINES are added inside its server block.
write_origin_config() {
  local listen_options=${1:-} server_lines=${2:-} body
  body=$(head -c "$BODY_BYTES" /dev/zero | tr '\0' 'x')
  mkdir -p "$TMP/origin/logs"
  {
    nginx_main origin
    cat <<EOF
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$ORIGIN_PORT ${listen_options:+$listen_options }backlog=4096;
    location / {
      default_type text/plain;
      return 200 "$body";
    }
$server_lines
  }
}
EOF
  } >"$TMP/origin/nginx.conf"
}

# start_origin [LISTEN_OPTIONS [SERVER_LINES]]: writes the origin config and starts it on the
# client core; sets ORIGIN_URL and ORIGIN_PID. Waits for an HTTP/1.1 answer, so an h2c-only
# origin ("http2") is for the caller to wait for.
start_origin() {
  ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT/"
  write_origin_config "$@"
  start origin "$CLIENT_CORE" "${RT[@]}" nginx -c "$TMP/origin/nginx.conf" -p "$TMP/origin/"
  ORIGIN_PID=$LAST_PID
  [[ ${1:-} == http2 ]] && return 0
  wait_http "$ORIGIN_URL" 10 "$ORIGIN_PID" ||
    die "origin nginx did not serve $ORIGIN_URL; log: $(tail -n 5 "$TMP/origin.log" "$TMP/origin/logs/error.log" 2>/dev/null)"
}

# write_nginx_config: $TMP/nginx/nginx.conf, nginx as the HTTP/1.1 keep-alive proxy peer on
# NGINX_PORT in front of the origin, with CLUSTERS upstreams (one used) like meshgate's config.
write_nginx_config() {
  local i upstreams=""
  mkdir -p "$TMP/nginx/logs"
  for ((i = 1; i < ${CLUSTERS:-1}; i++)); do
    upstreams+="  upstream extra_$i { server 127.0.0.1:$ORIGIN_PORT; keepalive 64; }"$'\n'
  done
  {
    nginx_main nginx
    cat <<EOF
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream origin {
    server 127.0.0.1:$ORIGIN_PORT;
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
$upstreams
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } >"$TMP/nginx/nginx.conf"
}

# The global and defaults sections every HAProxy peer runs with: one thread, keep-alive on both
# sides with connection reuse, and timeouts longer than any run.
haproxy_global_and_defaults() {
  cat <<EOF
global
  nbthread 1
  maxconn 8000

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
EOF
}

# ---------------------------------------------------------------------------------------------
# /proc readers.

# The pid and all its descendants (nginx: master and worker).
tree_pids() {
  local pid=$1 child
  echo "$pid"
  for child in $(pgrep -P "$pid" || true); do tree_pids "$child"; done
}

# Sum of utime+stime, in clock ticks, over the given pids (threads included).
cpu_ticks() {
  local total=0 pid fields
  for pid in "$@"; do
    # The command name may hold spaces; the fields after its closing parenthesis do not.
    fields=$(sed 's/.*) //' "/proc/$pid/stat")
    total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
  done
  echo "$total"
}

rss_kb() {
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
  done
  echo "$total"
}

# mem_kb FIELD PID...: the sum of FIELD (a /proc/PID/smaps_rollup line, e.g. Pss, or Private for
# Private_Clean + Private_Dirty) over the pids. VmRSS counts every mapped page of the shared
# libraries and of the binary; PSS divides shared pages among their users and Private is what
# this process alone holds.
mem_kb() {
  local field=$1 total=0 pid
  shift
  for pid in "$@"; do
    total=$((total + $(awk -v f="$field" '
      f == "Private" && /^Private_(Clean|Dirty):/ {n += $2}
      $1 == f ":" {n += $2}
      END {print n + 0}' "/proc/$pid/smaps_rollup")))
  done
  echo "$total"
}

# ---------------------------------------------------------------------------------------------
# Results: rows "peer<TAB>metric<TAB>value" in $RESULTS, turned into a table by a report.py.

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }

# json_fields KEY... < JSON: the values of dotted KEYs, space-separated (one python start, which
# is slow on a busy machine).
json_fields() {
  python3 -c 'import functools, json, sys
d = json.load(sys.stdin)
print(" ".join(str(functools.reduce(lambda v, k: v[k], key.split("."), d)) for key in sys.argv[1:]))' "$@"
}

# ---------------------------------------------------------------------------------------------
# Load phases against $PEER_URL.

measure_throughput() {
  local peer=$1 out rps errors
  out=$(taskset -c "$CLIENT_CORE" "${RT[@]}" wrk -t1 -c"$THROUGHPUT_CONNECTIONS" -d"${DURATION}s" "$PEER_URL")
  printf '%s\n' "$out" >"$TMP/wrk-$peer.log"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  [[ -n $rps ]] || die "$peer: wrk printed no Requests/sec: $out"
  errors=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i } END {print n + 0}' <<<"$out")
  record "$peer" max_rps "$rps"
  record "$peer" max_rps_errors "$errors"
  log "$peer: wrk -t1 -c$THROUGHPUT_CONNECTIONS: $rps req/s ($errors errors)"
}

# run_loadgen RATE OUT.json: meshgate-loadgen at a fixed RATE for DURATION against PEER_URL.
run_loadgen() {
  local rate=$1 out=$2
  taskset -c "$CLIENT_CORE" "${RT[@]}" "$LOADGEN" --rate "$rate" --duration "${DURATION}s" \
    --connections "$LOADGEN_CONNECTIONS" --url "$PEER_URL" --json >"$out" || true
  [[ -s $out ]] || die "meshgate-loadgen produced no result for $PEER_URL"
}

measure_latency() {
  local peer=$1 p50 p90 p99 p999 max errors achieved lag lag99
  local f="$TMP/latency-$peer.json"
  run_loadgen "$LATENCY_RATE" "$f"
  read -r p50 p90 p99 p999 max errors achieved lag lag99 < <(json_fields latency_us.p50 latency_us.p90 \
    latency_us.p99 latency_us.p99_9 latency_us.max errors.total achieved_rate send_lag_us.max \
    send_lag_us.p99 <"$f")
  record "$peer" latency_p50_us "$p50"
  record "$peer" latency_p90_us "$p90"
  record "$peer" latency_p99_us "$p99"
  record "$peer" latency_p99_9_us "$p999"
  record "$peer" latency_max_us "$max"
  record "$peer" latency_errors "$errors"
  record "$peer" latency_achieved_rps "$achieved"
  record "$peer" loadgen_max_send_lag_us "$lag"
  record "$peer" loadgen_p99_send_lag_us "$lag99"
  log "$peer: at $LATENCY_RATE req/s p50 $p50 us, p90 $p90 us, p99 $p99 us, p99.9 $p999 us," \
    "max $max us; $errors errors; generator send lag p99 $lag99 us, max $lag us"
}
