#!/usr/bin/env python3
"""Turns run.sh's measurements into the summary table and the JSON result file.

    report.py RESULTS.tsv OUT.json HEADER.txt

RESULTS.tsv has one "peer<TAB>metric<TAB>value" row per measurement; HEADER.txt is the run's
description (machine, pinning), printed above the table and stored in the JSON.
"""
import json
import sys

PEER_ORDER = ("direct", "nginx", "haproxy", "meshgate")
COLUMNS = ("peer", "max req/s", "vCPU/1k rps", "p50 us", "p99 us", "+p50 ms", "+p99 ms",
           "idle RSS MB", "B/conn", "errors")
# When 1 % of the requests left the generator this late, the generator itself was descheduled:
# the machine, not the proxy, made the p99.
NOISY_SEND_LAG_US = 250
ERROR_METRICS = ("max_rps_errors", "cpu_run_errors", "latency_errors")


def load(path):
    peers = {}
    with open(path) as f:
        for line in f:
            peer, metric, value = line.rstrip("\n").split("\t", 2)
            try:
                value = float(value)
            except ValueError:
                pass
            peers.setdefault(peer, {})[metric] = value
    return peers


class Results:
    def __init__(self, peers):
        self.peers = peers

    def get(self, peer, metric):
        value = self.peers.get(peer, {}).get(metric)
        return value if isinstance(value, float) else None

    def skipped(self, peer):
        return self.peers.get(peer, {}).get("skipped")

    def added_ms(self, peer, metric):
        """The peer's latency percentile minus the direct one, in milliseconds."""
        value, direct = self.get(peer, metric), self.get("direct", metric)
        return None if value is None or direct is None else (value - direct) / 1000

    def ratio(self, metric, a, b):
        x, y = self.get(a, metric), self.get(b, metric)
        return None if x is None or not y else x / y


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def times(value):
    return "n/a" if value is None else f"{value:.2f}x"


def table_rows(r, order):
    rows = []
    for p in order:
        if r.skipped(p):
            rows.append((p, "skipped") + ("",) * (len(COLUMNS) - 2))
            continue
        proxy = p != "direct"
        idle_kb = r.get(p, "idle_rss_kb")
        errors = sum(int(r.get(p, m) or 0) for m in ERROR_METRICS)
        rows.append((
            p,
            fmt(r.get(p, "max_rps"), ".0f"),
            fmt(r.get(p, "vcpu_per_1k_rps"), ".4f"),
            fmt(r.get(p, "latency_p50_us"), ".0f"),
            fmt(r.get(p, "latency_p99_us"), ".0f"),
            fmt(r.added_ms(p, "latency_p50_us"), "+.3f") if proxy else "",
            fmt(r.added_ms(p, "latency_p99_us"), "+.3f") if proxy else "",
            fmt(None if idle_kb is None else idle_kb / 1024, ".1f") if proxy else "",
            fmt(r.get(p, "conn_rss_bytes"), ".0f") if proxy else "",
            str(errors),
        ))
    return rows


def main(argv):
    results_path, json_path, header_path = argv[1:4]
    r = Results(load(results_path))
    with open(header_path) as f:
        header = f.read().rstrip()
    order = [p for p in PEER_ORDER if p in r.peers]

    rows = table_rows(r, order)
    widths = [max(len(str(row[i])) for row in rows + [COLUMNS]) for i in range(len(COLUMNS))]
    lines = [header, ""]
    for row in [COLUMNS] + rows:
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths)))
    lines.append("(direct: the origin alone, its vCPU is the origin's; +p50/+p99: added over "
                 "direct; RSS summed over the peer's processes)")

    ratios = {
        "throughput_meshgate_over_haproxy": r.ratio("max_rps", "meshgate", "haproxy"),
        "throughput_meshgate_over_nginx": r.ratio("max_rps", "meshgate", "nginx"),
        "throughput_haproxy_over_nginx": r.ratio("max_rps", "haproxy", "nginx"),
        "cpu_meshgate_over_haproxy": r.ratio("vcpu_per_1k_rps", "meshgate", "haproxy"),
        "cpu_meshgate_over_nginx": r.ratio("vcpu_per_1k_rps", "meshgate", "nginx"),
    }
    lines.append("")
    lines.append(
        "throughput ratios: meshgate/HAProxy "
        f"{times(ratios['throughput_meshgate_over_haproxy'])}, meshgate/nginx "
        f"{times(ratios['throughput_meshgate_over_nginx'])}, HAProxy/nginx "
        f"{times(ratios['throughput_haproxy_over_nginx'])}")
    lines.append(
        "CPU ratios:        meshgate/HAProxy "
        f"{times(ratios['cpu_meshgate_over_haproxy'])}, meshgate/nginx "
        f"{times(ratios['cpu_meshgate_over_nginx'])}")

    idle_kb = r.get("meshgate", "idle_rss_kb")
    targets = [
        ("throughput / HAProxy", ratios["throughput_meshgate_over_haproxy"], ">=", 1.0),
        ("throughput / nginx", ratios["throughput_meshgate_over_nginx"], ">=", 1.2),
        ("vCPU per 1k req/s", r.get("meshgate", "vcpu_per_1k_rps"), "<=", 0.06),
        ("added p50 ms", r.added_ms("meshgate", "latency_p50_us"), "<=", 0.1),
        ("added p99 ms", r.added_ms("meshgate", "latency_p99_us"), "<=", 0.5),
        ("idle RSS MB", None if idle_kb is None else idle_kb / 1024, "<=", 10),
        ("bytes per idle connection", r.get("meshgate", "conn_rss_bytes"), "<=", 8192),
    ]
    lines.append("")
    lines.append("meshgate against its targets:")
    for name, value, op, target in targets:
        if value is None:
            verdict = "n/a"
        elif (value >= target) if op == ">=" else (value <= target):
            verdict = "ok"
        else:
            verdict = "MISSED"
        lines.append(f"  {name:28s} {fmt(value, '.3f'):>10s}   target {op} {target:<6}  {verdict}")
    for p in order:
        if r.skipped(p):
            lines.append(f"{p} skipped: {r.skipped(p)}")
        lag = r.get(p, "loadgen_p99_send_lag_us")
        if lag is not None and lag > NOISY_SEND_LAG_US:
            lines.append(f"WARNING: {p}'s latency run was disturbed: 1 % of the requests left the "
                         f"load generator {lag:.0f} us or more late, so its p99 measures the "
                         "machine (try REALTIME=1, or a quieter machine)")
    print("\n".join(lines))

    with open(json_path, "w") as f:
        json.dump({
            "header": header.splitlines(),
            "peers": r.peers,
            "ratios": ratios,
            "targets": [{"name": n, "value": v, "op": o, "target": t} for n, v, o, t in targets],
        }, f, indent=2)
        f.write("\n")
    print(f"\nresults: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
