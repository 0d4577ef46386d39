#!/usr/bin/env python3
"""A generated valgrind lackey trace for the replay row of scripts/bench.sh.

The sample program's own trace repeats itself (four copies of it compress
71:1 with xz, which makes `xz -dc`, the row's baseline, unusually fast). This
one is written the way `valgrind --tool=lackey --trace-mem=yes` writes
records ("I  %08x,%d" for an instruction, then " L", " S" or " M" and
"%08x,%d" for each data access it makes), from a deterministic program model
that is not periodic: a fixed code layout of 600 functions (each instruction
with its own length and, for six in ten, one data access of a fixed kind and
size), run as loops of a few to a few hundred iterations, hot functions more
often. A data access goes to the stack at a fixed offset from the stack
pointer, to the function's array with its stride, or anywhere in a 48 MiB
heap (pointer chasing). `xz -3` compresses it about 20:1 (as scripts/bench.sh
does).

Usage: gen_lackey_trace.py RECORDS [SEED] > trace
"""
import random
import sys

TEXT = 0x04000000
STACK_TOP = 0x1FFF000800
HEAP = 0x04A00000
HEAP_BYTES = 48 << 20


def make_code(rng, nfuncs):
    """Functions: (instructions, array stride); an instruction is (pc, len, access) where
    access is None or (kind, where, size, stack offset)."""
    funcs = []
    pc = TEXT
    for _ in range(nfuncs):
        body = []
        for _ in range(rng.randrange(4, 120)):
            ilen = rng.choice((1, 2, 3, 3, 4, 4, 5, 5, 7))
            access = None
            if rng.random() < 0.6:
                kind = rng.choice("LLLLLLSSSM")
                where = rng.choice(("stack", "stack", "stack", "array", "array", "array", "heap"))
                size = 8 if where != "heap" else rng.choice((1, 2, 4, 8, 8, 16))
                access = (kind, where, size, rng.randrange(-64, 256, 8))
            body.append((pc, ilen, access))
            pc += ilen
        pc = (pc + 15) & ~15
        funcs.append((body, rng.choice((4, 8, 8, 16, 64, 4096))))
    return funcs


def generate(records, seed, out):
    rng = random.Random(seed)
    funcs = make_code(rng, 600)
    sp = STACK_TOP - 0x400
    lines = []
    n = 0
    while n < records:
        # Hot functions more often (a skewed pick), each a loop.
        body, stride = funcs[min(int(rng.paretovariate(1.2)) - 1, len(funcs) - 1) if rng.random() < 0.7
                             else rng.randrange(len(funcs))]
        iterations = rng.choice((1, 2, 4, 16, 64, 256))
        array = HEAP + rng.randrange(0, HEAP_BYTES - (1 << 20)) & ~0x3F
        sp = min(STACK_TOP - 0x100, max(STACK_TOP - 0x8000, sp + rng.randrange(-512, 513, 16)))
        for _ in range(iterations):
            for pc, ilen, access in body:
                lines.append("I  %08x,%d\n" % (pc, ilen))
                n += 1
                if access is None:
                    continue
                kind, where, size, off = access
                if where == "stack":
                    addr = sp + off
                elif where == "array":
                    addr = array
                    array += stride
                else:
                    addr = HEAP + rng.randrange(0, HEAP_BYTES) & ~(size - 1)
                lines.append(" %s %08x,%d\n" % (kind, addr, size))
                n += 1
            if n >= records:
                break
        if len(lines) >= 65536:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-1])
    generate(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 1, sys.stdout)
