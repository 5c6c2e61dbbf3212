#!/usr/bin/env python3
"""Turns bench/proxy-mtls/run.sh's measurements into the summary table and the JSON result file.

    report.py RESULTS.tsv OUT.json HEADER.txt

RESULTS.tsv has one "target<TAB>metric<TAB>value" row per measurement; HEADER.txt is the run's
description (machine, pinning, load average), printed above the table and stored in the JSON.
Each two-proxy target has an edge and a sidecar process; their CPU is reported apart, because
the targets are per proxy.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import report_common  # noqa: E402
from report_common import fmt, load, notes, table, times, verdict  # noqa: E402

ORDER = ("direct", "relay", "nginx", "haproxy", "meshgate-baseline", "meshgate")
COLUMNS = ("target", "max req/s", "edge vCPU", "sidecar vCPU", "p50 us", "p90 us", "p99 us",
           "+p50 ms", "+p90 ms", "+p99 ms", "RSS MB edge/sidecar", "errors")
# The targets, per proxy; Istio's sidecar needs 0.20 vCPU per 1k req/s.
TARGET_VCPU_PER_PROXY = 0.10
TARGET_ADDED_P50_MS = 0.2
TARGET_ADDED_P99_MS = 1.0


class Results(report_common.Results):
    def total_vcpu(self, target):
        edge, sidecar = (self.get(target, "edge_vcpu_per_1k_rps"),
                         self.get(target, "sidecar_vcpu_per_1k_rps"))
        return None if edge is None or sidecar is None else edge + sidecar


def rss_pair(r, target):
    edge, sidecar = r.get(target, "edge_rss_kb"), r.get(target, "sidecar_rss_kb")
    if edge is None or sidecar is None:
        return "n/a"
    return f"{edge / 1024:.1f}/{sidecar / 1024:.1f}"


def table_rows(r, order):
    rows = []
    for t in order:
        if r.skipped(t):
            rows.append((t, "skipped") + ("",) * (len(COLUMNS) - 2))
            continue
        proxied = t != "direct"
        rows.append((
            t,
            fmt(r.get(t, "max_rps"), ".0f"),
            fmt(r.get(t, "edge_vcpu_per_1k_rps"), ".4f") if proxied else "",
            fmt(r.get(t, "sidecar_vcpu_per_1k_rps"), ".4f") if proxied else "",
            fmt(r.get(t, "latency_p50_us"), ".0f"),
            fmt(r.get(t, "latency_p90_us"), ".0f"),
            fmt(r.get(t, "latency_p99_us"), ".0f"),
            fmt(r.added_ms(t, "latency_p50_us"), "+.3f") if proxied else "",
            fmt(r.added_ms(t, "latency_p90_us"), "+.3f") if proxied else "",
            fmt(r.added_ms(t, "latency_p99_us"), "+.3f") if proxied else "",
            rss_pair(r, t) if proxied else "",
            str(r.errors(t)),
        ))
    return rows


def main(argv):
    results_path, json_path, header_path = argv[1:4]
    r = Results(load(results_path))
    with open(header_path) as f:
        header = f.read().rstrip()
    order = [t for t in ORDER if t in r.targets]

    lines = [header, ""] + table(COLUMNS, table_rows(r, order))
    origin_vcpu = r.get("direct", "origin_vcpu_per_1k_rps")
    lines.append("(vCPU: CPU-seconds per 1,000 requests = vCPU per 1k req/s, per proxy process, at "
                 "the fixed rate; +p50/+p90/+p99: added over direct at 1,000 req/s; the origin "
                 f"itself costs {fmt(origin_vcpu, '.4f')} vCPU per 1k req/s)")

    def get(metric):
        return lambda t: r.get(t, metric)

    ratios = {}
    for peer in ("nginx", "haproxy", "meshgate-baseline"):
        key = peer.replace("-", "_")
        ratios[f"throughput_meshgate_over_{key}"] = r.ratio("meshgate", peer, get("max_rps"))
        ratios[f"edge_cpu_meshgate_over_{key}"] = r.ratio(
            "meshgate", peer, get("edge_vcpu_per_1k_rps"))
        ratios[f"sidecar_cpu_meshgate_over_{key}"] = r.ratio(
            "meshgate", peer, get("sidecar_vcpu_per_1k_rps"))
        ratios[f"total_cpu_meshgate_over_{key}"] = r.ratio("meshgate", peer, r.total_vcpu)
        ratios[f"added_p50_meshgate_over_{key}"] = r.ratio(
            "meshgate", peer, lambda t: r.added_ms(t, "latency_p50_us"))
        ratios[f"added_p99_meshgate_over_{key}"] = r.ratio(
            "meshgate", peer, lambda t: r.added_ms(t, "latency_p99_us"))
    lines.append("")
    for peer, name in (("nginx", "nginx"), ("haproxy", "HAProxy"),
                       ("meshgate-baseline", "baseline")):
        if peer not in r.targets or r.skipped(peer):
            continue
        key = peer.replace("-", "_")
        lines.append(
            f"meshgate/{name}: throughput {times(ratios[f'throughput_meshgate_over_{key}'])}, "
            f"CPU edge {times(ratios[f'edge_cpu_meshgate_over_{key}'])}, "
            f"sidecar {times(ratios[f'sidecar_cpu_meshgate_over_{key}'])}, "
            f"both {times(ratios[f'total_cpu_meshgate_over_{key}'])}; "
            f"added p50 {times(ratios[f'added_p50_meshgate_over_{key}'])}, "
            f"added p99 {times(ratios[f'added_p99_meshgate_over_{key}'])}")

    if "relay" in r.targets and not r.skipped("relay"):
        # Two plaintext hops doing nothing: what any pair of proxies adds here.
        lines.append(
            "floor (two plaintext relays): added p50 "
            f"{fmt(r.added_ms('relay', 'latency_p50_us'), '+.3f')} ms, added p99 "
            f"{fmt(r.added_ms('relay', 'latency_p99_us'), '+.3f')} ms, vCPU per relay "
            f"{fmt(r.get('relay', 'edge_vcpu_per_1k_rps'), '.4f')} / "
            f"{fmt(r.get('relay', 'sidecar_vcpu_per_1k_rps'), '.4f')}")

    targets = [
        ("edge vCPU per 1k req/s", r.get("meshgate", "edge_vcpu_per_1k_rps"), "<=",
         TARGET_VCPU_PER_PROXY),
        ("sidecar vCPU per 1k req/s", r.get("meshgate", "sidecar_vcpu_per_1k_rps"), "<=",
         TARGET_VCPU_PER_PROXY),
        ("added p50 ms", r.added_ms("meshgate", "latency_p50_us"), "<=", TARGET_ADDED_P50_MS),
        ("added p99 ms", r.added_ms("meshgate", "latency_p99_us"), "<=", TARGET_ADDED_P99_MS),
    ]
    lines.append("")
    lines.append("meshgate against its targets (Istio's sidecar: 0.20 vCPU per 1k req/s):")
    for name, value, op, target in targets:
        lines.append(f"  {name:28s} {fmt(value, '.3f'):>10s}   target {op} {target:<6}  "
                     f"{verdict(value, op, target)}")
    lines += notes(r, order)
    print("\n".join(lines))

    with open(json_path, "w") as f:
        json.dump({
            "header": header.splitlines(),
            "targets": r.targets,
            "ratios": ratios,
            "goals": [{"name": n, "value": v, "op": o, "target": t} for n, v, o, t in targets],
        }, f, indent=2)
        f.write("\n")
    print(f"\nresults: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
