#!/usr/bin/env python3
"""Writes a lld --symbol-ordering-file for BIN from callgrind runs of it (mangled names).

usage: link_order.py BIN CALLGRIND_OUT...   (the list goes to stdout)

Functions of BIN that ran in the first callgrind file come first (start-up and the first
login: what the idle server keeps mapped), then those that ran only in the next file, and
so on (the request hot path, then shutdown); each group sorted by name, so a rerun only
shows real changes. C start-up objects, and what runs natively at login but not in the
callgrind run, are added to the first group by name.
"""
import re
import subprocess
import sys

# crt1.o/crtbeginS.o code run at start-up; locals are fine, lld orders them too.
START = ["_start", "deregister_tm_clones", "register_tm_clones", "frame_dummy", "__do_global_dtors_aux"]
# Run at login natively but missed by callgrind: the SHA-NI backend (valgrind's CPU has no
# SHA extensions), and String's write_char, which the log line's number formatting only
# calls when a value needs padding (found with perf record -e page-faults --call-graph).
NATIVE_ONLY = re.compile(r"x86_sha|shani|5alloc6string.*5Write10write_char$")


def ran_in(run, obj):
    """Names of the functions of the object ending in `obj` that have costs in `run`."""
    objs, fns, cur, ran = {}, {}, None, set()
    for line in open(run):
        m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        kind, ident, name = m.groups()
        table = objs if kind.endswith("ob") else fns
        if name is not None:
            table[ident] = name
        if kind == "ob":
            cur = objs[ident]
        elif kind == "fn" and cur and cur.endswith(obj):
            ran.add(re.sub(r"'\d+$", "", fns[ident]))  # callgrind's recursion-depth suffix
    return ran


def main():
    binary, runs = sys.argv[1], sys.argv[2:]
    obj = "/" + binary.rsplit("/", 1)[-1]
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
    code = {p[2] for p in (l.split() for l in nm.stdout.splitlines()) if len(p) == 3 and p[1] in "tTwW"}
    groups = [START]
    for i, run in enumerate(runs):
        ran = ran_in(run, obj)
        if i == 0:
            ran |= {name for name in code if NATIVE_ONLY.search(name)}
        groups.append(sorted(ran))
    seen = set()
    for group in groups:
        for name in group:
            if name in code and name not in seen:
                seen.add(name)
                print(name)


main()
