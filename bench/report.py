"""report.py: the Markdown report of bench/run from its raw results.

Usage: python3 report.py RESULTS ENV

RESULTS holds one line per run: "variant=V round=R key=value ...", as bench/run and
bench/driver.c write them; ENV a few lines about the machine, copied under the tables.
Every figure is the median over the rounds, with the lowest and highest in brackets; a
ratio is taken round by round (the runs of one round ran one after the other) and then the
median of those is shown.
"""
import statistics
import sys

LABELS = {
    "passthrough": "passthrough (C, librdkafka only)",
    "python": "Python loop (naive)",
    "python-flush": "Python loop (flush + commit per batch)",
    "json+linear": "**symtask json + linear**",
    "json+linear+eos": "symtask json + linear, exactly once",
    "json+linear+2w": "symtask json + linear, `sml.task.workers = 2`",
    "csv+linear": "symtask csv + linear",
    "json+xgboost": "symtask json + xgboost",
    "json+symetryml": "symtask json + symetryml (a SymetryML server that answers at once)",
    "json+symetryml+5ms": "symtask json + symetryml, the server answering after 5 ms",
    "passthrough+avro": "passthrough of the Avro records",
    "avro+linear": "symtask avro + linear (Avro records)",
    "json+xgboost-lib": "symtask json + xgboost, `sml.predictor.engine = xgboost`",
    "api-symtaskd": "**symtaskd**: signed `GET /tasks/{tid}`",
    "api-nginx-1": "nginx, 1 worker: static file",
    "api-nginx-auto": "nginx, `worker_processes auto` (a worker per core): static file",
}
KAFKA = ["passthrough", "python", "python-flush", "json+linear", "json+linear+2w",
         "json+linear+eos", "csv+linear",
         "json+xgboost", "json+xgboost-lib", "json+symetryml", "json+symetryml+5ms",
         "passthrough+avro", "avro+linear"]
API = ["api-symtaskd", "api-nginx-1", "api-nginx-auto"]


def load(path):
    runs = {}
    with open(path) as f:
        for line in f:
            kv = dict(item.split("=", 1) for item in line.split())
            variant, rnd = kv.pop("variant"), int(kv.pop("round"))
            kv.pop("cycles", None)  # the throughput of each cycle, for the curious
            runs.setdefault(variant, {})[rnd] = {k: float(v) for k, v in kv.items()}
    return runs


def spread(values, fmt):
    values = [v for v in values if v is not None and v >= 0]
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return "%s (%s–%s)" % (fmt(med), fmt(min(values)), fmt(max(values)))


def column(runs, variant, key):
    return [r.get(key) for _, r in sorted(runs.get(variant, {}).items())]


def ratios(runs, variant, base, key):
    a, b = runs.get(variant, {}), runs.get(base, {})
    return [a[r][key] / b[r][key] for r in sorted(a) if r in b and b[r][key] > 0]


def kilo(v):
    return "%.0fk" % (v / 1000) if v >= 10000 else "%.1fk" % (v / 1000)


def main():
    runs = load(sys.argv[1])
    with open(sys.argv[2]) as f:
        env = f.read().strip().splitlines()
    x = lambda v: "%.2f×" % v
    out = []
    if any(v in runs for v in KAFKA):
        out.append("| processor | records/s | ÷ passthrough | ÷ Python | latency p50 / p99 (ms) "
                   "| RSS idle / peak (MiB) | start → first output (s) |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for v in KAFKA:
            if v not in runs:
                continue
            lat = "—"
            p50, p99 = column(runs, v, "lat_p50_ms"), column(runs, v, "lat_p99_ms")
            if any(p is not None and p >= 0 for p in p50):
                lat = "%s / %s" % (spread(p50, lambda t: "%.0f" % t), spread(p99, lambda t: "%.0f" % t))
            mib = lambda k: "%.1f" % (k / 1024)
            rss = "%s / %s" % (spread(column(runs, v, "rss_idle_kib"), mib),
                               spread(column(runs, v, "rss_hwm_kib"), mib))
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                LABELS[v], spread(column(runs, v, "tput"), kilo),
                spread(ratios(runs, v, "passthrough", "tput"), x) if v != "passthrough" else "1",
                spread(ratios(runs, v, "python", "tput"), x) if v != "python" else "1",
                lat, rss, spread(column(runs, v, "start_s"), lambda t: "%.2f" % t)))
    if any(v in runs for v in API):
        if out:
            out.append("")
        out.append("| API server | requests/s | ÷ nginx, 1 worker | ÷ nginx, auto |")
        out.append("| --- | --- | --- | --- |")
        for v in API:
            if v not in runs:
                continue
            out.append("| %s | %s | %s | %s |" % (
                LABELS[v], spread(column(runs, v, "rps"), kilo),
                spread(ratios(runs, v, "api-nginx-1", "rps"), x),
                spread(ratios(runs, v, "api-nginx-auto", "rps"), x)))

    if "xgb-micro" in runs:
        if out:
            out.append("")
        out.append("| xgboost evaluator (1 thread, batches of 500 rows) | rows/s | µs per row "
                   "| ÷ XGBoost |")
        out.append("| --- | --- | --- | --- |")
        us = lambda v: "%.2f" % (1e6 / v) if v > 0 else "—"
        native, lib = column(runs, "xgb-micro", "native_rps"), column(runs, "xgb-micro", "xgboost_rps")
        ratio = [n / l for n, l in zip(native, lib) if n and l]
        out.append("| **native engine** (`xgb_forest_predict`) | %s | %s | %s |" % (
            spread(native, kilo), spread(native, us), spread(ratio, x)))
        out.append("| XGBoost 1.7 (`XGBoosterPredictFromDense`) | %s | %s | 1 |" % (
            spread(lib, kilo), spread(lib, us)))

    targets = []

    def target(name, values, goal):
        if values:
            med = statistics.median(values)
            targets.append("- %s: %.2f× (target ≥ %g×): %s" % (
                name, med, goal, "met" if med >= goal else "**missed**"))

    target("symtask json + linear ÷ passthrough",
           ratios(runs, "json+linear", "passthrough", "tput"), 0.70)
    target("symtask json + linear, exactly once ÷ at least once",
           ratios(runs, "json+linear+eos", "json+linear", "tput"), 0.5)
    target("symtask json + linear ÷ Python loop",
           ratios(runs, "json+linear", "python", "tput"), 2.5)
    target("symtask avro + linear ÷ json + linear",
           ratios(runs, "avro+linear", "json+linear", "tput"), 0.8)
    workers = ratios(runs, "json+linear+2w", "json+linear", "tput")
    if workers:
        targets.append("- symtask json + linear, 2 workers ÷ 1 worker (one node, the embedded "
                       "cluster on the same cores): %s" % spread(workers, x))
    avro = ratios(runs, "avro+linear", "passthrough+avro", "tput")
    if avro:
        targets.append("- symtask avro + linear ÷ the passthrough of the same Avro records: %s"
                       % spread(avro, x))
    target("symtask json + xgboost ÷ passthrough",
           ratios(runs, "json+xgboost", "passthrough", "tput"), 0.80)
    target("symtaskd ÷ nginx (1 worker), requests/s",
           ratios(runs, "api-symtaskd", "api-nginx-1", "rps"), 1.0)
    target("symtaskd ÷ nginx (auto), requests/s",
           ratios(runs, "api-symtaskd", "api-nginx-auto", "rps"), 1.0)
    if targets:
        out.append("")
        out.extend(targets)
    out.append("")
    out.extend("- " + line for line in env)
    print("\n".join(out))


if __name__ == "__main__":
    main()
