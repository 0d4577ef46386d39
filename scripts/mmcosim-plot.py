#!/usr/bin/env python3
"""mmcosim-plot.py: the plots of `mmcosim plot` (docs/sweeps.md).

  mmcosim plot DIR/results.csv --x KEY --y STAT [--y STAT2] [--group KEY] [-o FILE.png|.svg]
  mmcosim plot OUT/stats-timeseries.csv --timeseries --y 'system.fw.zone.*.nr_free_pages' [-o FILE]

A sweep's results.csv has one row per run: the axis columns, rep, seed,
status, error, the collected statistics and host_seconds. Runs whose status
is not 0 are left out. Repetitions of a point (same x and group) are drawn
as their mean with a bar from the smallest to the largest. x values that are
all numbers or sizes (64MiB) are placed by value, others in order.

--y also takes a formula of columns in braces, e.g. the share of huge-page
faults that got an order-9 page:
  --y '100 * {system.fw.vmstat.thp_fault_alloc} / ({system.fw.vmstat.thp_fault_alloc} + {system.fw.vmstat.thp_fault_fallback})'
with --ylabel to name it.

stats-timeseries.csv (`mmcosim run --stats-period T`) has time,name,value
rows; --y takes names or shell globs and draws each matching statistic
against simulated time.

Errors are one line on stderr, exit status 2. matplotlib's Agg backend: no
display needed.
"""
import argparse
import csv
import fnmatch
import math
import os
import re
import sys


def fail(message):
    sys.stderr.write("mmcosim: plot: %s\n" % message)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        fail(message)


UNITS = {"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20, "MB": 1 << 20,
         "G": 1 << 30, "GiB": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40, "TB": 1 << 40}


def number(text):
    """A float for '12', '0.5', '64MiB', '0x1000'; None otherwise."""
    t = text.strip()
    if t.lower().startswith("0x"):
        try:
            return float(int(t, 16))
        except ValueError:
            return None
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)", t)
    if not m or m.group(2) not in UNITS:
        return None
    return float(m.group(1)) * UNITS[m.group(2)]


def read_csv(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))
    except csv.Error as e:
        fail("%s: not a CSV file (%s)" % (path, e))
    if not rows:
        fail("%s: no rows" % path)
    return rows


def setup_matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is missing (Debian: apt-get install python3-matplotlib)")
    plt.rcParams.update({"font.size": 11, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 110})
    return plt


def output_path(args, default_name):
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(args.input)), default_name)
    if os.path.splitext(out)[1].lower() not in (".png", ".svg", ".pdf"):
        fail("%s: the output must end in .png, .svg or .pdf" % out)
    return out


def check_columns(path, rows, names):
    columns = list(rows[0].keys())
    for n in names:
        if n and n not in columns:
            fail("%s: no column '%s' (columns: %s)" % (path, n, ", ".join(columns)))


def x_positions(values):
    """Numeric positions of the x labels, and whether they are by value."""
    nums = [number(v) for v in values]
    if all(n is not None for n in nums):
        return nums, True
    order = []
    for v in values:
        if v not in order:
            order.append(v)
    return [float(order.index(v)) for v in values], False


FIELD = re.compile(r"\{([^{}]+)\}")


def columns_of(y):
    """The columns a --y names: itself, or those in braces of a formula."""
    return FIELD.findall(y) if "{" in y else [y]


def y_value(row, y):
    """The value of --y in a row: a column, or a formula of columns; None when missing."""
    if "{" not in y:
        text = row.get(y, "")
        return number(text) if text not in ("", "nan") else None
    values = {}
    for i, name in enumerate(columns_of(y)):
        v = number(row.get(name, "")) if row.get(name, "") not in ("", "nan") else None
        if v is None:
            return None
        values["_c%d" % i] = v
    expr = y
    for i, name in enumerate(columns_of(y)):
        expr = expr.replace("{%s}" % name, "_c%d" % i, 1)
    try:
        return float(eval(expr, {"__builtins__": {}}, values))
    except ZeroDivisionError:
        return None
    except Exception as e:  # a malformed formula: bad input
        fail("--y %s: not a formula of columns (%s)" % (y, e))


def series(rows, args, y):
    """{group: {x label: [values]}} of the successful runs, in file order."""
    out = {}
    for r in rows:
        if r.get("status", "0") != "0":
            continue
        v = y_value(r, y)
        if v is None:
            continue
        g = r[args.group] if args.group else ""
        out.setdefault(g, {}).setdefault(r[args.x], []).append(v)
    return out


def plot_results(args):
    if not args.x or not args.y:
        fail("a results plot needs --x KEY and --y STAT")
    rows = read_csv(args.input)
    check_columns(args.input, rows, [args.x, args.group] + [c for y in args.y for c in columns_of(y)])
    plt = setup_matplotlib()
    fig, axes = plt.subplots(len(args.y), 1, figsize=(8, 3.2 + 2.6 * len(args.y)), squeeze=False, sharex=True)
    all_x = [r[args.x] for r in rows]
    positions, by_value = x_positions(all_x)
    pos_of = dict(zip(all_x, positions))
    markers = "osD^v<>pP*X"
    for ax, y in zip(axes[:, 0], args.y):
        groups = series(rows, args, y)
        if not groups:
            fail("%s: no successful run has a value of '%s'" % (args.input, y))
        for k, (g, points) in enumerate(groups.items()):
            xs = sorted(points, key=lambda label: pos_of[label])
            px = [pos_of[x] for x in xs]
            mean = [sum(points[x]) / len(points[x]) for x in xs]
            lo = [m - min(points[x]) for m, x in zip(mean, xs)]
            hi = [max(points[x]) - m for m, x in zip(mean, xs)]
            label = "%s = %s" % (args.group, g) if args.group else (args.ylabel or y)
            if any(lo) or any(hi):
                ax.errorbar(px, mean, yerr=[lo, hi], marker=markers[k % len(markers)], capsize=3, label=label)
            else:
                ax.plot(px, mean, marker=markers[k % len(markers)], label=label)
        ax.set_ylabel(args.ylabel or (y.split(".")[-1] if len(y) > 40 else y))
        if args.logy:
            ax.set_yscale("log")
        if args.group or len(groups) > 1:
            ax.legend(fontsize=9)
    ax = axes[-1, 0]
    ticks = sorted(set(all_x), key=lambda label: pos_of[label])
    if args.logx and by_value:
        ax.set_xscale("log", base=2)
    ax.set_xticks([pos_of[t] for t in ticks])
    ax.set_xticklabels(ticks, rotation=30 if max(len(t) for t in ticks) > 6 else 0)
    ax.minorticks_off()
    ax.set_xlabel(args.x)
    axes[0, 0].set_title(args.title or "%s" % os.path.basename(os.path.dirname(os.path.abspath(args.input))))
    fig.tight_layout()
    out = output_path(args, "results.png")
    fig.savefig(out)
    print("mmcosim: plot: wrote %s" % out)


def common_prefix(names):
    if len(names) < 2:
        return ""
    p = os.path.commonprefix(names)
    return p[: p.rfind(".") + 1]


def plot_timeseries(args):
    if not args.y:
        fail("a time-series plot needs --y STAT (names or globs, repeatable)")
    rows = read_csv(args.input)
    check_columns(args.input, rows, ["time", "name", "value"])
    data = {}
    for r in rows:
        if any(fnmatch.fnmatchcase(r["name"], pat) for pat in args.y):
            v = number(r["value"]) if r["value"] != "nan" else None
            if v is not None:
                data.setdefault(r["name"], []).append((float(r["time"]), v))
    if not data:
        fail("%s: no statistic matches %s" % (args.input, ", ".join(args.y)))
    if len(data) > 24:
        fail("%s: %d statistics match %s (at most 24 on one plot: narrow the pattern)"
             % (args.input, len(data), ", ".join(args.y)))
    plt = setup_matplotlib()
    fig, ax = plt.subplots(figsize=(9, 5))
    span = max(t for pts in data.values() for t, _ in pts)
    scale, unit = (1e3, "ms") if span >= 1e-3 else (1e6, "us")
    prefix = common_prefix(sorted(data))
    for name, pts in data.items():
        ax.plot([t * scale for t, _ in pts], [v for _, v in pts], marker="." if len(pts) < 60 else None,
                label=name[len(prefix):] or name)
    ax.set_xlabel("simulated time (%s)" % unit)
    ax.set_ylabel(prefix.rstrip(".") or "value")
    if args.logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8, ncol=2 if len(data) > 8 else 1)
    ax.set_title(args.title or os.path.basename(os.path.dirname(os.path.abspath(args.input))))
    fig.tight_layout()
    out = output_path(args, "timeseries.png")
    fig.savefig(out)
    print("mmcosim: plot: wrote %s" % out)


def main():
    p = Parser(prog="mmcosim plot", description="Plot a sweep's results.csv or a run's stats-timeseries.csv")
    p.add_argument("input")
    p.add_argument("--x")
    p.add_argument("--y", action="append", default=[])
    p.add_argument("--group")
    p.add_argument("-o", "--output")
    p.add_argument("--title")
    p.add_argument("--ylabel")
    p.add_argument("--timeseries", action="store_true")
    p.add_argument("--logx", action="store_true")
    p.add_argument("--logy", action="store_true")
    args = p.parse_args()
    if args.timeseries:
        plot_timeseries(args)
    else:
        plot_results(args)


if __name__ == "__main__":
    main()
