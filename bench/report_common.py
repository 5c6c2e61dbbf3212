"""What the side-by-side benchmarks' report.py scripts share: reading run.sh's results file,
looking values up, formatting them and judging them against a target.

RESULTS.tsv has one "target<TAB>metric<TAB>value" row per measurement; a value that is not a
number (such as the reason a target was skipped) is kept as text.
"""

# When 1 % of the requests left the generator this late, the generator itself was descheduled:
# the machine, not the proxy, made the p99.
NOISY_SEND_LAG_US = 250
ERROR_METRICS = ("max_rps_errors", "cpu_run_errors", "latency_errors")


def load(path):
    """{target: {metric: float or str}} from a results file."""
    targets = {}
    with open(path) as f:
        for line in f:
            target, metric, value = line.rstrip("\n").split("\t", 2)
            try:
                value = float(value)
            except ValueError:
                pass
            targets.setdefault(target, {})[metric] = value
    return targets


class Results:
    def __init__(self, targets):
        self.targets = targets

    def get(self, target, metric):
        value = self.targets.get(target, {}).get(metric)
        return value if isinstance(value, float) else None

    def skipped(self, target):
        return self.targets.get(target, {}).get("skipped")

    def errors(self, target):
        return sum(int(self.get(target, m) or 0) for m in ERROR_METRICS)

    def added_ms(self, target, metric):
        """The target's latency percentile minus the direct one, in milliseconds."""
        value, direct = self.get(target, metric), self.get("direct", metric)
        return None if value is None or direct is None else (value - direct) / 1000

    def ratio(self, a, b, value_of):
        """value_of(a) / value_of(b); value_of is a metric name or a function of the target."""
        if isinstance(value_of, str):
            metric = value_of
            value_of = lambda t: self.get(t, metric)  # noqa: E731
        x, y = value_of(a), value_of(b)
        return None if x is None or not y else x / y


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def times(value):
    return "n/a" if value is None else f"{value:.2f}x"


def verdict(value, op, target):
    if value is None:
        return "n/a"
    return "ok" if ((value >= target) if op == ">=" else (value <= target)) else "MISSED"


def table(columns, rows):
    """The rows under their column names, right-aligned, one line each."""
    widths = [max(len(str(row[i])) for row in rows + [columns]) for i in range(len(columns))]
    return ["  ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in [columns] + rows]


def notes(r, order):
    """Lines naming the skipped targets and the latency runs the machine disturbed."""
    lines = []
    for t in order:
        if r.skipped(t):
            lines.append(f"{t} skipped: {r.skipped(t)}")
        lag = r.get(t, "loadgen_p99_send_lag_us")
        if lag is not None and lag > NOISY_SEND_LAG_US:
            lines.append(f"WARNING: {t}'s latency run was disturbed: 1 % of the requests left the "
                         f"load generator {lag:.0f} us or more late, so its p99 measures the "
                         "machine (try REALTIME=1, or a quieter machine)")
    return lines
