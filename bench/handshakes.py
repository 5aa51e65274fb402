#!/usr/bin/env python3
"""Full TLS handshakes, one new connection per request, for a fixed time.

Usage: handshakes.py HOST PORT SECONDS PROCESSES SOURCES [PATH]
Each of PROCESSES worker processes loops: connect (from the next address of SOURCES, a
comma-separated list such as 127.0.0.2,127.0.0.3, or "-" for the kernel's choice), TLS
handshake (no session resumption: a new context per worker that never keeps a session,
and no tickets asked for), one `GET PATH` with `Connection: close`, read the status line,
close. It prints one line:
  HANDSHAKE_RESULT done=N failed=N seconds=S rate=R p50_ms=A p99_ms=B
where done counts answered requests, failed counts connections refused, reset or
closed before an answer (a server's handshake limits show up here), and the latencies
are connect to status line of the answered ones.
wrk keeps connections open and h2load makes one connection per client, so neither
measures handshakes; openssl s_time -new does, but one at a time and from one address,
while latchkey caps handshakes per address (see bench/tls.sh).
"""
import multiprocessing
import socket
import ssl
import sys
import time


def worker(host, port, seconds, sources, index, path, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.options |= ssl.OP_NO_TICKET
    ctx.set_alpn_protocols(["http/1.1"])
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    done = failed = 0
    latencies = []
    n = index
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        source = sources[n % len(sources)]
        n += 1
        started = time.monotonic()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(10)
            if source != "-":
                sock.bind((source, 0))
            sock.connect((host, port))
            with ctx.wrap_socket(sock, server_hostname=None) as tls:
                tls.sendall(request)
                head = b""
                while b"\r\n" not in head:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    head += chunk
            if head.startswith(b"HTTP/1.1 "):
                done += 1
                latencies.append(time.monotonic() - started)
            else:
                failed += 1
        except (OSError, ssl.SSLError):
            failed += 1
            try:
                sock.close()
            except OSError:
                pass
    out.put((done, failed, latencies))


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    host, port, seconds, processes = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    sources = sys.argv[5].split(",")
    path = sys.argv[6] if len(sys.argv) > 6 else "/"
    out = multiprocessing.Queue()
    started = time.monotonic()
    workers = [multiprocessing.Process(target=worker, args=(host, port, seconds, sources, i, path, out))
               for i in range(processes)]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    done = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    latencies = sorted(l for r in results for l in r[2])
    print(f"HANDSHAKE_RESULT done={done} failed={failed} seconds={elapsed:.2f} rate={done / elapsed:.0f} "
          f"p50_ms={percentile(latencies, 50) * 1000:.2f} p99_ms={percentile(latencies, 99) * 1000:.2f}")


if __name__ == "__main__":
    main()
