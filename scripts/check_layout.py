#!/usr/bin/env python3
"""Checks the source layout rules (DESIGN.md, "Dependency rule"; STYLE.md).

    scripts/check_layout.py [ROOT] [--limit N]

Prints one line per violation, `path:line: what`, and exits 1 if there is
any (0 otherwise). Run by ctest as `top_layout_check`.

Function rule: no function in hw/, sw/, tb/top/ or tb/workload/ (tests
aside) has a body over N lines (120), counted from the line of its opening
brace to the line of its closing one. Exceptions: a function whose comment
just above it says it is a "data table", or that it "mirrors Linux" (a
documented sequence mirrored from a Linux function, as
__alloc_pages_slowpath).

Include rules (quoted includes rooted at hw/, sw/, tb/ or rtl/):
  - hw/ includes only hw/ and sw/hal/;
  - sw/ includes only sw/, and from the system only freestanding headers
    (sw/hal/host, the host HAL the firmware's unit tests run on, may use the
    C++ library);
  - only tb/ includes tb/;
  - firmware internals (sw/ other than sw/hal/) are included only by tb/top
    (the composition root) and tests;
  - the monitor and the outputs writer (tb/top/monitor*, tb/top/outputs*,
    tb/top/stream_sink.h) include nothing of sw/ but sw/hal/;
  - tb/workload reaches the machine through interfaces: from hw/ it includes
    only hw/base/ and hw/cpu/user_program.h (never hw/cpu/core.h).
"""
import argparse
import os
import re
import sys

SOURCE_EXT = ('.cpp', '.cc', '.h', '.hpp')
PROJECT_ROOTS = ('hw', 'sw', 'tb', 'rtl')
FUNCTION_ROOTS = ('hw', 'sw', 'tb/top', 'tb/workload')
# The comment just above a long function that allows it.
LONG_OK = re.compile(r'data table|mirrors Linux', re.I)
FREESTANDING = {
    'stddef.h', 'stdint.h', 'stdarg.h', 'stdbool.h', 'limits.h', 'float.h', 'stdalign.h', 'stdnoreturn.h',
    'iso646.h', 'cstddef', 'cstdint', 'cstdarg', 'climits', 'cfloat', 'limits', 'type_traits', 'new',
    'initializer_list', 'atomic', 'bit', 'version', 'compare', 'concepts', 'utility',
}
MONITOR_FILES = re.compile(r'^tb/top/(monitor[^/]*|outputs[^/]*|stream_sink\.h)$')
CONTROL = {'if', 'for', 'while', 'switch', 'catch'}


def is_test(path):
    """Tests and benchmarks: everything under tb/ but the program (tb/top) and tb/workload, and *_test files."""
    name = os.path.basename(path)
    if re.search(r'(_test|_tests|^bench_[^/]*)\.(cpp|h)$', name) or name.startswith('bench_'):
        return True
    return path.startswith('tb/') and not path.startswith(('tb/top/', 'tb/workload/'))


def source_files(root, dirs):
    for d in dirs:
        top = os.path.join(root, d)
        for dp, dn, fn in os.walk(top):
            dn.sort()
            for f in sorted(fn):
                if f.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(dp, f), root)


# ---------------------------------------------------------------------------
# Functions

def blank(text):
    """The text with every non-newline character replaced by a space (keeps offsets and lines)."""
    return re.sub(r'[^\n]', ' ', text)


def strip_code(src):
    """Comments, string and character literals (raw strings too) and preprocessor lines blanked out."""
    token = re.compile(r'''
        (?P<raw>R"(?P<delim>[^(\s]{0,16})\((?:.|\n)*?\)(?P=delim)")
      | (?P<line>//[^\n]*)
      | (?P<block>/\*(?:.|\n)*?\*/)
      | (?P<str>"(?:\\.|[^"\\\n])*")
      | (?P<chr>'(?:\\.|[^'\\\n])*')
      | (?P<pp>^[ \t]*\#(?:[^\n]*\\\n)*[^\n]*)
    ''', re.X | re.M)

    def repl(m):
        if m.group('str') or m.group('raw'):
            return '""' + blank(m.group(0))[2:]
        if m.group('chr'):
            return "''" + blank(m.group(0))[2:]
        return blank(m.group(0))
    return token.sub(repl, src)


FN_TAIL = re.compile(r'\)\s*(?:(?:const|volatile|override|final|mutable|noexcept|&&|&)\s*)*'
                     r'(?:->\s*[^;{}()]+)?\s*$')
INIT_LIST = re.compile(r'\)\s*(?:noexcept\s*)?:(?!:)')
NAME = re.compile(r'(operator\s*[^\s(]+|~?[A-Za-z_][\w:]*(?:<[^()]*>)?)\s*\(')


def is_function_head(head):
    h = head.strip()
    if not h or re.search(r'=\s*$', h):
        return False
    if FN_TAIL.search(h) or INIT_LIST.search(h):
        m = NAME.search(h)
        return not (m and m.group(1) in CONTROL)
    return False


def function_name(head):
    m = NAME.search(head)
    if not m:
        return 'lambda' if '[' in head else ' '.join(head.split())[:60]
    name = m.group(1)
    if name in ('TEST', 'TEST_F', 'TEST_P', 'TYPED_TEST'):
        return ' '.join(head[m.start():].split())
    return name


def preceding_comment(lines, first_line):
    """The comment block just above line `first_line` (1-based), as one string."""
    out = []
    i = first_line - 2
    while i >= 0:
        s = lines[i].strip()
        if s.startswith(('//', '/*', '*')) or s.endswith('*/'):
            out.append(s)
            i -= 1
        elif s.startswith('template'):
            i -= 1
        else:
            break
    return ' '.join(reversed(out))


def functions(path, src):
    """(first line of the declaration, body lines, name, allowed) for every outermost function."""
    code = strip_code(src)
    lines = src.split('\n')
    out = []
    stack = []          # 'fn', 'init' (a brace initialiser in a constructor's init list) or 'scope'
    head_start = 0
    line_at = [0]
    for i, c in enumerate(code):
        if c == '\n':
            line_at.append(i + 1)
    def line_of(pos):
        lo, hi = 0, len(line_at) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_at[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    in_fn = 0
    for i, c in enumerate(code):
        if c == '{':
            if in_fn:
                stack.append(('blk', i, None))
                continue
            head = code[head_start:i]
            prev = head.rstrip()[-1:] if head.strip() else ''
            if INIT_LIST.search(head) and (prev.isalnum() or prev in '_>'):
                stack.append(('init', i, None))
                continue
            if is_function_head(head):
                # The declaration starts at its first token after any access specifier.
                lead = re.match(r'(?:\s|(?:public|private|protected)\s*:(?!:))*', head).end()
                stack.append(('fn', i, head_start + lead))
                in_fn += 1
            else:
                stack.append(('scope', i, None))
                head_start = i + 1
        elif c == '}':
            if not stack:
                continue
            kind, start, decl = stack.pop()
            if kind == 'fn':
                in_fn -= 1
                first = line_of(decl)
                body = line_of(i) - line_of(start) + 1
                name = function_name(code[decl:start])
                allowed = bool(LONG_OK.search(preceding_comment(lines, first)))
                out.append((first, body, name, allowed))
                head_start = i + 1
            elif kind == 'scope':
                head_start = i + 1
        elif c == ';' and not in_fn and not (stack and stack[-1][0] == 'init'):
            head_start = i + 1
    return out


def check_functions(root, limit):
    problems = []
    for path in source_files(root, FUNCTION_ROOTS):
        if is_test(path):
            continue
        with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
            src = f.read()
        for first, body, name, allowed in functions(path, src):
            if body > limit and not allowed:
                problems.append((path, first, f'function {name} is {body} lines (limit {limit}; a longer one '
                                               f'needs a comment saying it is a data table or mirrors Linux)'))
    return problems


# ---------------------------------------------------------------------------
# Includes

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)


def include_problem(path, kind, inc):
    """Why `path` may not include `inc` ("" if it may)."""
    top = inc.split('/')[0]
    rooted = kind == '"' and top in PROJECT_ROOTS and '/' in inc
    fw_internal = rooted and top == 'sw' and not inc.startswith('sw/hal/')
    if rooted and top == 'tb' and not path.startswith('tb/'):
        return 'only tb/ includes tb/'
    if path.startswith('hw/'):
        if rooted and not inc.startswith(('hw/', 'sw/hal/')):
            return 'hw/ includes only hw/ and sw/hal/'
    elif path.startswith('sw/'):
        if rooted and top != 'sw':
            return 'sw/ includes nothing outside sw/'
        if kind == '<' and inc not in FREESTANDING and not path.startswith('sw/hal/host/'):
            return 'the firmware is freestanding: no host library headers'
    elif fw_internal and not (path.startswith('tb/top/') or is_test(path)):
        return 'firmware internals are included only by tb/top (the composition root) and tests'
    if MONITOR_FILES.match(path) and fw_internal:
        return 'the monitor and the outputs read the firmware through sw/hal/debug.h only'
    if path.startswith('tb/workload/') and not is_test(path) and rooted and top == 'hw' \
            and not (inc.startswith('hw/base/') or inc == 'hw/cpu/user_program.h'):
        return 'tb/workload reaches the machine through hw/cpu/user_program.h, not model internals'
    return ''


def check_includes(root):
    problems = []
    for path in source_files(root, PROJECT_ROOTS):
        with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
            src = f.read()
        for m in INCLUDE.finditer(src):
            why = include_problem(path, m.group(1), m.group(2))
            if why:
                line = src.count('\n', 0, m.start()) + 1
                inc = m.group(1) + m.group(2) + ('>' if m.group(1) == '<' else '"')
                problems.append((path, line, f'includes {inc}: {why}'))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('root', nargs='?', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    ap.add_argument('--limit', type=int, default=120, help='longest function body allowed, in lines')
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    problems = check_includes(root) + check_functions(root, args.limit)
    for path, line, what in sorted(problems):
        print(f'{path}:{line}: {what}')
    if problems:
        print(f'{len(problems)} layout problem(s)')
        return 1
    print('layout: every include and function follows the rules')
    return 0


if __name__ == '__main__':
    sys.exit(main())
