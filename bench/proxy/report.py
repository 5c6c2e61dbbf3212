#!/usr/bin/env python3
"""Turns run.sh's measurements into the summary table and the JSON result file.

    report.py RESULTS.tsv OUT.json HEADER.txt

RESULTS.tsv has one "peer<TAB>metric<TAB>value" row per measurement; HEADER.txt is the run's
description (machine, pinning), printed above the table and stored in the JSON.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from report_common import Results, fmt, load, notes, table, times, verdict  # noqa: E402

PEER_ORDER = ("direct", "relay", "nginx", "haproxy", "meshgate")
COLUMNS = ("peer", "max req/s", "vCPU/1k rps", "p50 us", "p99 us", "+p50 ms", "+p99 ms",
           "idle RSS MB", "B/conn", "errors")


def sub(a, b):
    return None if a is None or b is None else a - b


def table_rows(r, order):
    rows = []
    for p in order:
        if r.skipped(p):
            rows.append((p, "skipped") + ("",) * (len(COLUMNS) - 2))
            continue
        proxy = p != "direct"
        idle_kb = r.get(p, "idle_rss_kb")
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
            str(r.errors(p)),
        ))
    return rows


def main(argv):
    results_path, json_path, header_path = argv[1:4]
    r = Results(load(results_path))
    with open(header_path) as f:
        header = f.read().rstrip()
    order = [p for p in PEER_ORDER if p in r.targets]

    lines = [header, ""] + table(COLUMNS, table_rows(r, order))
    lines.append("(direct: the origin alone, its vCPU is the origin's; relay: a bare epoll byte "
                 "relay, the least any proxy adds here; +p50/+p99: added over direct; RSS summed "
                 "over the peer's processes)")

    ratios = {
        "throughput_meshgate_over_haproxy": r.ratio("meshgate", "haproxy", "max_rps"),
        "throughput_meshgate_over_nginx": r.ratio("meshgate", "nginx", "max_rps"),
        "throughput_haproxy_over_nginx": r.ratio("haproxy", "nginx", "max_rps"),
        "cpu_meshgate_over_haproxy": r.ratio("meshgate", "haproxy", "vcpu_per_1k_rps"),
        "cpu_meshgate_over_nginx": r.ratio("meshgate", "nginx", "vcpu_per_1k_rps"),
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
    if "relay" in r.targets and not r.skipped("relay"):
        # What the hop itself costs on this machine: a target below it is out of reach for
        # any proxy here, and the distance above it is what meshgate's own work adds.
        lines.append("")
        lines.append(
            "floor (relay): vCPU per 1k req/s "
            f"{fmt(r.get('relay', 'vcpu_per_1k_rps'), '.4f')}, added p50 "
            f"{fmt(r.added_ms('relay', 'latency_p50_us'), '+.3f')} ms, added p99 "
            f"{fmt(r.added_ms('relay', 'latency_p99_us'), '+.3f')} ms; meshgate over the floor: "
            f"vCPU {fmt(sub(r.get('meshgate', 'vcpu_per_1k_rps'), r.get('relay', 'vcpu_per_1k_rps')), '+.4f')}, "
            f"p50 {fmt(sub(r.added_ms('meshgate', 'latency_p50_us'), r.added_ms('relay', 'latency_p50_us')), '+.3f')} ms")
    lines.append("")
    lines.append("meshgate against its targets:")
    for name, value, op, target in targets:
        lines.append(f"  {name:28s} {fmt(value, '.3f'):>10s}   target {op} {target:<6}  "
                     f"{verdict(value, op, target)}")
    lines += notes(r, order)
    print("\n".join(lines))

    with open(json_path, "w") as f:
        json.dump({
            "header": header.splitlines(),
            "peers": r.targets,
            "ratios": ratios,
            "targets": [{"name": n, "value": v, "op": o, "target": t} for n, v, o, t in targets],
        }, f, indent=2)
        f.write("\n")
    print(f"\nresults: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
