#!/usr/bin/env python3
"""Failed-login timing by kind of user, against the release binary (issue 14, item 5).

A wrong password must take as long for an unknown user, a user with a current hash and
a user whose Werkzeug hash has 1,000 iterations: otherwise the answer time tells which
users exist and which were imported with a cheap hash. This starts `latchkey serve` on
a fresh data dir with one user of each kind, posts wrong passwords to `/auth`
interleaved (each round in another order, each try from its own X-Forwarded-For
address so no lock answers 429), and prints the median of each kind and the max/min
ratio of the medians (the target is at most 1.20).

    cargo build --release
    bench/login_timing.py                     # the hash cost calibrated on this machine
    bench/login_timing.py --iterations 100000 --tries 30 --bin target/release/latchkey

Only the standard library is used.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("unknown", "current", "legacy")
USER = {"unknown": "nobody", "current": "current", "legacy": "legacy"}
CURRENT_PASSWORD = "current-password-12"
LEGACY_PASSWORD = "legacy-password-12"
LEGACY_ITERATIONS = 1000


def werkzeug_hash(password, iterations):
    """What Werkzeug's generate_password_hash(pw, "pbkdf2:sha256:N") stores."""
    alphabet = string.ascii_letters + string.digits
    salt = "".join(secrets.choice(alphabet) for _ in range(16))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2:sha256:{iterations}${salt}${digest.hex()}"


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}


def start_server(binary, data):
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
         "--trusted-proxy", "127.0.0.1", "--max-logins-per-second", "1000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=clean_env(), text=True)
    found = threading.Event()
    where = {}

    def follow():
        # Keeps reading so the event log never fills the pipe.
        for line in proc.stderr:
            m = re.search(r"listening on http://([^/]+)/", line)
            if m and not found.is_set():
                host, port = m.group(1).rsplit(":", 1)
                where["addr"] = (host, int(port))
                found.set()

    threading.Thread(target=follow, daemon=True).start()
    if not found.wait(120):
        proc.kill()
        sys.exit("latchkey never said where it listens")
    return proc, where["addr"]


def auth(addr, forwarded_for, user, password):
    body = json.dumps({"username": user, "password": password})
    headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded_for}
    started = time.perf_counter()
    conn = http.client.HTTPConnection(*addr, timeout=60)
    conn.request("POST", "/auth", body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    took = time.perf_counter() - started
    conn.close()
    return took, resp.status


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "latchkey"))
    ap.add_argument("--tries", type=int, default=30, help="wrong passwords per kind")
    ap.add_argument("--iterations", type=int,
                    help="current hash cost (default: calibrated by latchkey)")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin}: not found; run cargo build --release")

    with tempfile.TemporaryDirectory(prefix="latchkey-timing-") as tmp:
        data = os.path.join(tmp, "data")
        os.mkdir(data, 0o700)
        if args.iterations:
            with open(os.path.join(data, "pbkdf2-iterations"), "w") as f:
                f.write(f"{args.iterations}\n")
        add = subprocess.run(
            [args.bin, "user", "add", USER["current"], "--password-stdin", "--data-dir", data],
            input=CURRENT_PASSWORD + "\n", capture_output=True, text=True, env=clean_env())
        if add.returncode != 0:
            sys.exit(f"user add failed: {add.stderr}")
        with open(os.path.join(data, "pbkdf2-iterations")) as f:
            iterations = int(f.read().strip())
        with open(os.path.join(data, "users"), "a") as f:
            f.write(f"{USER['legacy']} {werkzeug_hash(LEGACY_PASSWORD, LEGACY_ITERATIONS)} 0 -\n")

        proc, addr = start_server(args.bin, data)
        try:
            # One untimed try of each kind first: page faults, the worker's first job.
            for k, kind in enumerate(KINDS):
                auth(addr, f"10.255.0.{k + 1}", USER[kind], "wrong-password")
            times = {kind: [] for kind in KINDS}
            for i in range(args.tries):
                for j in range(len(KINDS)):
                    k = (i + j) % len(KINDS)
                    kind = KINDS[k]
                    ip = f"10.{k}.{i // 250}.{i % 250 + 1}"
                    took, status = auth(addr, ip, USER[kind], "wrong-password")
                    if status != 401:
                        sys.exit(f"{kind}: expected 401, got {status}")
                    times[kind].append(took * 1000)
            _, status = auth(addr, "10.254.0.1", USER["legacy"], LEGACY_PASSWORD)
            with open(os.path.join(data, "users")) as f:
                legacy_line = next(l for l in f if l.startswith(USER["legacy"] + " "))
        finally:
            proc.terminate()
            proc.wait()

    print(f"binary {args.bin}")
    print(f"current cost {iterations} iterations; legacy hash: Werkzeug pbkdf2:sha256 "
          f"with {LEGACY_ITERATIONS}; {args.tries} wrong passwords per kind, interleaved")
    medians = {}
    for kind in KINDS:
        t = sorted(times[kind])
        medians[kind] = median(t)
        print(f"  {kind:8} median {medians[kind]:8.1f} ms   (min {t[0]:.1f}, max {t[-1]:.1f})")
    ratio = max(medians.values()) / min(medians.values())
    print(f"max/min of the medians: {ratio:.2f} ({'within' if ratio <= 1.2 else 'NOT within'} 20 %)")
    upgraded = legacy_line.split(" ")[1].startswith(f"$pbkdf2-sha256$i={iterations},")
    print(f"legacy user, right password: HTTP {status}; hash upgraded: {'yes' if upgraded else 'no'}")


if __name__ == "__main__":
    main()
