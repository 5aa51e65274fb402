#!/usr/bin/env python3
"""Exec to first answered request, measured many times.

Usage: startup.py RUNS HOST PORT PATH -- COMMAND [ARGS...]

Each run takes the clock, starts COMMAND (fork + exec), connects to HOST:PORT
as soon as it accepts (polling every 0.2 ms), sends `GET PATH`, and stops the
clock when the whole 200 answer's head has arrived. The server is then sent
SIGTERM and waited for before the next run. Prints one line:
STARTUP_RESULT runs=N median_ms=.. min_ms=.. p90_ms=.. max_ms=.. spawn_ms=..
where spawn_ms is the median time to start and reap /bin/true the same way
(the share of the number that is the fork + exec, not the server).
"""
import signal
import socket
import statistics
import subprocess
import sys
import time


def spawn_cost(runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        subprocess.Popen(["/bin/true"]).wait()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples)


def once(cmd, host, port, path):
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = t0 + 10e9
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before answering")
            if time.perf_counter_ns() > deadline:
                raise RuntimeError("no answer within 10 s")
            try:
                sock = socket.create_connection((host, port), timeout=5)
            except OSError:
                time.sleep(0.0002)
                continue
            with sock:
                sock.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            t1 = time.perf_counter_ns()
            if not data.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {data[:60]!r}")
            return (t1 - t0) / 1e6
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    if len(sys.argv) < 7 or sys.argv[5] != "--":
        sys.exit(__doc__)
    runs, host, port, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    cmd = sys.argv[6:]
    once(cmd, host, port, path)  # not counted: warms the page cache
    samples = sorted(once(cmd, host, port, path) for _ in range(runs))
    p90 = samples[min(len(samples) - 1, int(round(0.9 * (len(samples) - 1))))]
    print(f"STARTUP_RESULT runs={runs} median_ms={statistics.median(samples):.2f} "
          f"min_ms={samples[0]:.2f} p90_ms={p90:.2f} max_ms={samples[-1]:.2f} "
          f"spawn_ms={spawn_cost(runs):.2f}")


if __name__ == "__main__":
    main()
