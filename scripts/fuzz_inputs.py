#!/usr/bin/env python3
"""Mutation fuzzer of mmcosim's input paths.

Mutates the scenarios of tb/scenarios (and lackey traces) -- values swapped
for hostile ones, lines dropped, doubled or cut, bytes flipped, aliases
nested -- and runs each mutant with a time limit. Every run must end with
exit status 0, 1 or 2; status 2 with exactly one line on stderr; never a
signal, never a hang (the time limit: bad input must be named well within
it). Prints the failures, one block each, and exits 1 if there was any.

    fuzz_inputs.py MMCOSIM SOURCE_DIR [--count N] [--seed S] [--mode params|run|both]
                   [--timeout SECONDS] [--workdir DIR]

`params` elaborates without running (fast: it reaches every loader check);
`run` also runs the mutant (valid mutants then take their time: they are
given --set platform.sim.max_time so the run stays short).
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

HOSTILE = [
    "", "-1", "0", "1e18", "1000000000000000000", "18446744073709551615", "18446744073709551616",
    "0xffffffffffffffff", "0x10000000000000000", "99999999999TiB", "16384TiB", "abc", "[1, 2]", "{a: 1}",
    "null", "~", "true", "1.5", ".nan", "-.inf", '"a\\nb"', "'\\x00'", "x" * 5000, "[[[[[[[[[[]]]]]]]]]]",
    "*undefined_alias", "!!binary AAAA", "0b101", "1_000", "4KiB", "3", "1GiB", "0.5ns", "2**64", "\u00e9\u00e8",
]


def scalar_spans(text):
    """(start, end) of values after 'key: ' on each line and of flow items."""
    spans = []
    for m in re.finditer(r"(?m)(?<=: )[^\n{}\[\],#]+", text):
        spans.append((m.start(), m.end()))
    return spans


def mutate(text, rng):
    lines = text.split("\n")
    op = rng.randrange(10)
    if op <= 2:  # a value swapped for a hostile one
        spans = scalar_spans(text)
        if spans:
            s, e = rng.choice(spans)
            return text[:s] + rng.choice(HOSTILE) + text[e:]
    if op == 3 and len(lines) > 1:  # a line dropped
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines)
    if op == 4:  # a line doubled (duplicate keys, repeated ops)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines)
    if op == 5:  # cut short
        return text[: rng.randrange(len(text) + 1)]
    if op == 6:  # random bytes
        b = bytearray(text.encode())
        for _ in range(rng.randint(1, 8)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        return b.decode("latin-1")
    if op == 7:  # indentation broken
        i = rng.randrange(len(lines))
        lines[i] = " " * rng.choice([1, 3, 7]) + lines[i]
        return "\n".join(lines)
    if op == 8:  # an unknown or misplaced key
        i = rng.randrange(len(lines))
        indent = len(lines[i]) - len(lines[i].lstrip())
        lines.insert(i, " " * indent + rng.choice(["bogus: 1", "size: 1MiB", "ops: []", "cores: 2", "- mmap: {}"]))
        return "\n".join(lines)
    # nested aliases of random depth and fan-out
    depth, fan = rng.randint(2, 9), rng.randint(2, 9)
    al = ["a0: &a0 [x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i-1}'] * fan)}]" for i in range(1, depth)]
    return "\n".join(al) + "\n" + text


def mutate_trace(rng):
    base = ["I  00400000,4", " L 7ff000808,8", " S 0040e3c8,4", " M 0421d7b8,4"] * 4
    choice = rng.randrange(6)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
    if choice == 1:
        return ("\n".join(base))[: rng.randrange(60)].encode()
    lines = list(base)
    i = rng.randrange(len(lines))
    lines[i] = rng.choice([" L ffffffffffffffff,8", " L 12345678901234567,8", " L 400000,99999999",
                           " X 400000,8", " L 400000,0", "I 400000,4 junk", " L ,8", "", "==1== note",
                           " S 7ffffffffff8,16", " L 100,8"])
    return ("\n".join(lines) + "\n").encode()


def check(mm, args, timeout, cwd):
    start = time.monotonic()
    try:
        p = subprocess.run([mm] + args, capture_output=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout} s", None
    took = time.monotonic() - start
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        return f"killed by signal {-p.returncode}", err
    if p.returncode not in (0, 1, 2):
        return f"exit status {p.returncode}", err
    lines = err.splitlines()
    if p.returncode == 2 and (len(lines) != 1 or not lines[0].startswith("mmcosim: ")):
        return f"exit 2 with {len(lines)} lines on stderr", err
    if p.returncode == 1 and not all(l.startswith("mmcosim: ") for l in lines):
        return "exit 1 with a line not from mmcosim", err
    if took > 1.0 and p.returncode == 2:
        return f"bad input named after {took:.1f} s", err
    return None, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mmcosim")
    ap.add_argument("source")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=["params", "run", "both"], default="params")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    a.mmcosim = os.path.abspath(a.mmcosim)
    rng = random.Random(a.seed)
    scen_dir = os.path.join(a.source, "tb", "scenarios")
    seeds = []
    for root, _, files in os.walk(scen_dir):
        for f in sorted(files):
            if f.endswith(".yaml"):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    seeds.append(fh.read())
    work = a.workdir or tempfile.mkdtemp(prefix="mmcosim-fuzz-")
    os.makedirs(work, exist_ok=True)
    failures, statuses = 0, {}
    for i in range(a.count):
        trace_case = rng.randrange(8) == 0
        if trace_case:
            with open(os.path.join(work, "t.trace"), "wb") as fh:
                fh.write(mutate_trace(rng))
            text = ("platform: {memory: {size: 256MiB}}\nworkload:\n  processes:\n    - name: r\n      ops:\n"
                    "        - replay: {file: t.trace}\n")
        else:
            text = rng.choice(seeds)
            for _ in range(rng.randint(1, 3)):
                text = mutate(text, rng)
        path = os.path.join(work, f"case{i}.yaml")
        with open(path, "w", encoding="latin-1", errors="replace") as fh:
            fh.write(text)
        modes = ["params", "run"] if a.mode == "both" else [a.mode]
        for mode in modes:
            args = [mode, path]
            if mode == "run":
                args += ["--outdir", os.path.join(work, "out"), "-q", "--no-progress",
                         "--set", "platform.sim.max_time=2ms"]
            problem, err = check(a.mmcosim, args, a.timeout, work)
            if problem:
                failures += 1
                print(f"FAIL {path} ({mode}): {problem}\n{(err or '')[:2000]}\n---")
            else:
                statuses[mode] = statuses.get(mode, 0) + 1
    print(f"{a.count} mutants, {failures} failures ({statuses}); cases in {work}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
