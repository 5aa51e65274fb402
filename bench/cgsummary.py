#!/usr/bin/env python3
"""Summarises a callgrind output file per function, for bench/profile.sh.

Usage: cgsummary.py FILE REQUESTS [TOP]

callgrind_annotate splits a function's cost by the source file of each instruction, so
an inlined function shows up many times; this sums per function name instead. Prints:
instructions per request, the TOP functions by self and by inclusive cost (with calls
per request), and every allocator entry point (malloc, realloc, calloc, free) with its
calls per request and the callers that make them.
"""
import re
import sys
from collections import defaultdict

ALLOC = re.compile(r"^(__libc_)?(malloc|realloc|calloc|free|posix_memalign|aligned_alloc)$")
# Generic code between the allocator and the code that decided to allocate: walked
# through, so that allocations are charged to the first function that is not one.
WRAPPER = re.compile(
    r"^(__rustc::__rust_|__rust_|__rdl_|alloc::|<alloc::|core::ptr::drop_in_place|"
    r"<[^ ]+ as core::ops::drop::Drop>::drop|std::io::Write::write_all|"
    r"<alloc::string::String as core::fmt::Write>|core::fmt::write|<&mut W as core::fmt::Write>|"
    r"core::fmt::Formatter|<core::fmt::Arguments|<str as core::fmt::Display>)")


def origins(calls, callee, n, depth=0):
    """Spreads n calls of callee over its first non-wrapper callers, by call counts."""
    callers = [(c, k) for (c, e), k in calls.items() if e == callee and c != callee]
    total = sum(k for _, k in callers)
    out = defaultdict(float)
    if not total or depth > 12:
        out[callee] += n
        return out
    for caller, k in callers:
        share = n * k / total
        if WRAPPER.match(caller):
            for origin, m in origins(calls, caller, share, depth + 1).items():
                out[origin] += m
        else:
            out[caller] += share
    return out


def parse(path):
    names = {}  # (kind, id) -> name; fn and cfn share one space
    self_cost = defaultdict(int)
    call_cost = defaultdict(int)  # (caller, callee) -> inclusive cost of the calls
    calls = defaultdict(int)  # (caller, callee) -> number of calls
    total = 0
    fn = None
    pending_call = None  # callee whose "calls=" line came just before this cost line

    def name_of(value):
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        key = m.group(1)
        if m.group(2) is not None:
            names[key] = m.group(2)
        return names.get(key, value)

    cfn = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call is not None:
                    call_cost[(fn, pending_call)] += cost
                    pending_call = None
                else:
                    self_cost[fn] += cost
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:])
            elif line.startswith("cfn="):
                cfn = name_of(line[4:])
            elif line.startswith("calls="):
                calls[(fn, cfn)] += int(line[6:].split()[0])
                pending_call = cfn
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
    return self_cost, call_cost, calls, total


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, requests = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    self_cost, call_cost, calls, total = parse(path)
    total = total or sum(self_cost.values())
    incl = defaultdict(int)
    for fn, cost in self_cost.items():
        incl[fn] += cost
    for (caller, callee), cost in call_cost.items():
        if caller != callee:
            incl[caller] += cost
    ncalls = defaultdict(int)
    for (_, callee), n in calls.items():
        ncalls[callee] += n

    def short(name):
        return name if len(name) <= 110 else name[:107] + "..."

    print(f"{total / requests:,.0f} instructions per request ({total:,} in all)\n")
    print("self cost (instructions in the function itself, inlined code included):")
    print(f"{'share':>7} {'Ir/req':>8} {'calls/req':>9}  function")
    for fn, cost in sorted(self_cost.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{cost * 100 / total:6.2f}% {cost / requests:8.0f} {ncalls[fn] / requests:9.2f}  {short(fn)}")
    print("\ninclusive cost (the function and all it calls):")
    print(f"{'share':>7} {'Ir/req':>8} {'calls/req':>9}  function")
    for fn, cost in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{cost * 100 / total:6.2f}% {cost / requests:8.0f} {ncalls[fn] / requests:9.2f}  {short(fn)}")
    print("\nallocator calls per request, by caller:")
    rows = [(n, caller, callee) for (caller, callee), n in calls.items() if ALLOC.match(callee)]
    if not rows:
        print("  none")
    per_fn = defaultdict(int)
    for n, _, callee in rows:
        per_fn[callee] += n
    for callee, n in sorted(per_fn.items(), key=lambda kv: -kv[1]):
        print(f"  {callee}: {n / requests:.2f}/req")
    charged = defaultdict(float)
    for n, caller, callee in rows:
        kind = "free" if callee.endswith("free") else "alloc"
        if WRAPPER.match(caller):
            spread = origins(calls, caller, n)
        else:
            spread = {caller: n}
        for origin, m in spread.items():
            charged[(kind, origin)] += m
    print("charged to the first caller that is not generic allocation code:")
    for (kind, origin), m in sorted(charged.items(), key=lambda kv: -kv[1])[:top]:
        if m / requests >= 0.005:
            print(f"  {m / requests:6.2f}/req  {kind:<5} <- {short(origin)}")


if __name__ == "__main__":
    main()
