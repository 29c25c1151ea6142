#!/usr/bin/python3
"""tests/faults/report.py — what a fault run looked like: a text summary and a plot.

  unavailability(ops_csv, min_gap_s)   windows with no successful op for >= min_gap_s
  write_summary(path, run_info, check_result, faults, leader_changes, windows)
  plot(ops_csv, faults, png_path, title)   gnuplot, two panels:
      top     ok ops per second (1 s buckets; fail and info on the right axis)
      bottom  latency of ok ops, p50 and p99 per second (ms, log scale)
      fault intervals shaded in both, labelled in the top one

ops_csv is clients.py's ops.csv: time_s,kind,status,latency_ms,node, where
time_s is the completion time in seconds since the run's origin.  faults
are (start_s, end_s, label) on the same clock.

Command line:  report.py DIR [--faults faults.json]  (writes summary.txt
and plot.png from DIR/ops.csv, DIR/clients.json, DIR/check.json)
"""
import json
import math
import os
import subprocess
import sys
import tempfile

COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]


def read_ops(ops_csv):
    """[(time_s, kind, status, latency_ms, node), ...] from ops.csv."""
    ops = []
    with open(ops_csv) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("time_s") or line.startswith("#"):
                continue
            t, kind, st, lat, node = line.split(",", 4)
            ops.append((float(t), kind, st, float(lat), node))
    return ops


def unavailability(ops_csv, min_gap_s=1.0):
    """Windows (start_s, end_s) with no op completing ok for at least min_gap_s.

    The run spans from the first op's invocation to the last op's completion;
    a gap at either end counts too."""
    ops = read_ops(ops_csv)
    if not ops:
        return []
    span_start = min(t - lat / 1000.0 for t, _, _, lat, _ in ops)
    span_end = max(t for t, _, _, _, _ in ops)
    oks = sorted(t for t, _, st, _, _ in ops if st == "ok")
    marks = [span_start] + oks + [span_end]
    windows = []
    for a, b in zip(marks, marks[1:]):
        if b - a >= min_gap_s:
            windows.append((round(a, 3), round(b, 3)))
    return windows


def _pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[i]


def buckets(ops, width=1.0):
    """Per bucket: [t, ok, fail, info, p50_ms, p99_ms] (latencies of ok ops)."""
    if not ops:
        return []
    n = int(max(t for t, _, _, _, _ in ops) // width) + 1
    rows = [[i * width, 0, 0, 0, []] for i in range(n)]
    for t, _, st, lat, _ in ops:
        i = max(0, int(t // width))
        r = rows[i]
        if st == "ok":
            r[1] += 1
            r[4].append(lat)
        elif st == "fail":
            r[2] += 1
        else:
            r[3] += 1
    out = []
    for t, ok, fl, inf, lats in rows:
        lats.sort()
        out.append([t, ok / width, fl / width, inf / width, _pct(lats, 50), _pct(lats, 99)])
    return out


def _fmt_window(w):
    return "%7.2f s - %7.2f s  (%.2f s)" % (w[0], w[1], w[1] - w[0])


def write_summary(path, run_info, check_result, faults, leader_changes, windows) -> str:
    """Writes the run's text summary to path (if given) and returns it.

    run_info: run_clients()'s summary, or the campaign's own dict with that
    summary under "clients".  leader_changes: an int, or LeaderWatch.stop()'s
    dict (its leaders and no-leader windows are listed too)."""
    c = check_result or {}
    r = dict(run_info or {})
    nested = r.pop("clients", None)
    if isinstance(nested, dict):  # the client summary, one level down
        for k, v in nested.items():
            r.setdefault(k, v)
    lines = []
    title = r.get("title") or r.get("nemesis") or "fault run"
    lines.append("rasputin fault run: %s" % title)
    lines.append("verdict: %s" % c.get("verdict", "?"))
    for why in c.get("reasons", []):
        lines.append("  - %s" % why)
    params = [(k, v) for k, v in sorted(r.items())
              if isinstance(v, (int, float, str)) and k not in ("title", "t0", "begin", "end",
                                                                 "counter_key_base")]
    if params:
        lines.append("run: " + ", ".join("%s=%s" % (k, (round(v, 3) if isinstance(v, float)
                                                          else v)) for k, v in params))
    ops = c.get("ops") or r.get("ops") or 0
    ok, fl, inf = c.get("ok", r.get("ok", 0)), c.get("fail", r.get("fail", 0)), \
        c.get("info", r.get("info", 0))
    total = ok + fl + inf or ops or 0
    pct = (lambda x: 100.0 * x / total) if total else (lambda x: 0.0)
    lines.append("operations: %d  ok %d (%.1f%%)  fail %d (%.1f%%)  info/indeterminate %d "
                 "(%.1f%%)" % (total, ok, pct(ok), fl, pct(fl), inf, pct(inf)))
    by_kind = r.get("by_kind") or {}
    for kind in sorted(by_kind):
        d = by_kind[kind]
        lines.append("  %-6s ok %7d  fail %6d  info %6d" % (kind, d.get("ok", 0),
                                                           d.get("fail", 0), d.get("info", 0)))
    lin = c.get("linearizable", "?")
    hops = c.get("history_ops") or {}
    extra = ""
    if hops:
        extra = " (%d ops in the history: ok %d, fail %d, info %d)" % (
            hops["total"], hops["ok"], hops["fail"], hops["info"])
    if lin == "no":
        extra += "; failing key %s" % (c.get("bad_key_name") or c.get("bad_key"))
    if c.get("budget_exhausted"):
        extra += "; search budget exhausted, no violation found"
    lines.append("linearizable: %s%s" % (lin, extra))
    lines.append("acknowledged fresh keys: %d, read back %d, lost %d" % (
        c.get("acked_keys", 0), c.get("acked_keys_checked", 0), len(c.get("lost_keys", []))))
    lines.append("lost writes: %d   double-applied retried writes: %d" % (
        c.get("lost_writes", 0), c.get("double_applied", 0)))
    counters = c.get("counters") or {}
    lines.append("session counters checked: %d" % c.get("counters_checked", len(counters)))
    for key in sorted(counters):
        d = counters[key]
        lines.append("  %-8s acked %6d  given up %3d  value %s  -> %s" % (
            key, d["acked"], d["given_up"], d["value"], d["result"]))
    lw = leader_changes if isinstance(leader_changes, dict) else None
    lc = lw["leader_changes"] if lw else leader_changes
    lines.append("leader changes: %s" % lc)
    if lw:
        for t, term, leader in lw.get("leaders", []):
            lines.append("  %7.2f s  term %d leader %d" % (t, term, leader))
        nl = lw.get("no_leader_windows", [])
        lines.append("no leader known anywhere: %d windows, %.2f s" % (
            len(nl), sum(b - a for a, b in nl)))
        for w in nl:
            lines.append("  " + _fmt_window(w))
    lines.append("faults: %d" % len(faults or []))
    for f in faults or []:
        lines.append("  %s  %s" % (_fmt_window(f), f[2] if len(f) > 2 else ""))
    windows = windows or []
    lines.append("unavailability (no ok op for >= the gap): %d windows, %.2f s" % (
        len(windows), sum(b - a for a, b in windows)))
    for w in windows:
        lines.append("  " + _fmt_window(w))
    errors = r.get("errors") or {}
    if errors:
        lines.append("error replies and connection failures: " + ", ".join(
            "%s %d" % (k, v) for k, v in sorted(errors.items())))
    unexpected = c.get("unexpected_errors") or r.get("unexpected_errors") or []
    if unexpected:
        lines.append("unexpected error replies (first %d):" % min(10, len(unexpected)))
        lines += ["  " + u for u in unexpected[:10]]
    text = "\n".join(lines) + "\n"
    if path:
        with open(path, "w") as f:
            f.write(text)
    return text


def _q(s):
    """A gnuplot double-quoted string."""
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', "'").replace("\n", " ")


def plot(ops_csv, faults, png_path, title):
    """Writes png_path with gnuplot; raises RuntimeError if gnuplot fails."""
    ops = read_ops(ops_csv)
    rows = buckets(ops)
    xmax = max([r[0] + 1 for r in rows] + [f[1] for f in faults or []] + [1])
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "buckets.dat")
        with open(dat, "w") as f:
            f.write("# t ok/s fail/s info/s p50_ms p99_ms\n")
            for r in rows:
                f.write("%g %g %g %g %s %s\n" % (r[0] + 0.5, r[1], r[2], r[3],
                                                 "NaN" if math.isnan(r[4]) else "%g" % r[4],
                                                 "NaN" if math.isnan(r[5]) else "%g" % r[5]))
        have_latency = any(not math.isnan(r[4]) for r in rows)
        if not rows:
            with open(dat, "a") as f:
                f.write("0 0 0 0 NaN NaN\n")

        def script(terminal, fill):
            s = [terminal, "set output %s" % _q(png_path), "set datafile missing 'NaN'",
                 "set multiplot layout 2,1 title %s" % _q(title),
                 "set xrange [0:%g]" % xmax, "set grid", "set key top right opaque"]
            for i, f in enumerate(faults or []):
                color = COLORS[i % len(COLORS)]
                s.append("set object %d rect from first %g, graph 0 to first %g, graph 1 "
                         "fc rgb '%s' fs %s noborder behind" % (i + 1, f[0], max(f[1], f[0]),
                                                                color, fill))
                label = f[2] if len(f) > 2 else ""
                if label:
                    s.append("set label %d %s at first %g, graph %g front font ',8' "
                             "tc rgb '%s'" % (i + 1, _q(label), f[0], 0.95 - 0.07 * (i % 4),
                                              color))
            # fail and info are usually far fewer than ok: their own axis, on the right
            s += ["set ylabel 'ok ops/s'", "set yrange [0:*]", "set lmargin 10",
                  "set rmargin 10", "set y2label 'fail, info ops/s'", "set y2range [0:*]",
                  "set y2tics", "set ytics nomirror",
                  "plot %s using 1:2 with lines lw 1.5 lc rgb '#2ca02c' title 'ok', "
                  "'' using 1:3 axes x1y2 with lines lw 1 lc rgb '#ff7f0e' title 'fail', "
                  "'' using 1:4 axes x1y2 with lines lw 1 lc rgb '#d62728' title 'info'"
                  % _q(dat),
                  "unset label", "unset y2tics", "unset y2label", "set ytics mirror",
                  "set logscale y",
                  "set ylabel 'latency of ok ops (ms)'", "set xlabel 'time (s)'"]
            if have_latency:
                s += ["set yrange [*:*]",
                      "plot %s using 1:5 with lines lw 1.5 lc rgb '#1f77b4' title 'p50', "
                      "'' using 1:6 with lines lw 1 lc rgb '#9467bd' title 'p99'" % _q(dat)]
            else:  # gnuplot refuses a plot with no valid point
                s += ["set yrange [1:1000]",
                      "set label 99 'no successful operations' at graph 0.5, graph 0.5 center",
                      "plot 0.1 notitle"]
            s += ["unset multiplot", "set output"]
            return "\n".join(s) + "\n"

        last = None
        for terminal, fill in (
                ("set terminal pngcairo noenhanced size 1280,860 font 'Sans,10'",
                 "transparent solid 0.18"),
                ("set terminal png noenhanced size 1280,860", "solid 0.18")):
            p = subprocess.run(["gnuplot"], input=script(terminal, fill), capture_output=True,
                               text=True, timeout=60)
            if p.returncode == 0 and os.path.exists(png_path) and os.path.getsize(png_path):
                return png_path
            last = p.stderr.strip()
        raise RuntimeError("gnuplot failed: %s" % last)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--faults", help="JSON list of [start_s, end_s, label]")
    ap.add_argument("--title", default="rasputin fault run")
    a = ap.parse_args()
    faults = []
    if a.faults:
        with open(a.faults) as f:
            faults = [tuple(x) for x in json.load(f)]

    def load(name):
        try:
            with open(os.path.join(a.dir, name)) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}
    ops_csv = os.path.join(a.dir, "ops.csv")
    windows = unavailability(ops_csv)
    run = load("clients.json")
    run.pop("acked_keys", None)
    leaders = load("leaders.json") or 0
    text = write_summary(os.path.join(a.dir, "summary.txt"), run, load("check.json"), faults,
                         leaders, windows)
    print(text, end="")
    print("plot:", plot(ops_csv, faults, os.path.join(a.dir, "plot.png"), a.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
