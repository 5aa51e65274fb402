#!/usr/bin/env python3
"""Sends N requests, one after another on one keep-alive connection, and checks each answer.

Usage: client.py N HOST PORT PATH STATUS [HEADER...]
A fixed, countable load for profilers (bench/profile.sh), where wrk's fixed duration
would not do. Exits 1 on the first answer whose status is not STATUS.
"""
import socket
import sys


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    n, host, port, path, want = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                 sys.argv[4], sys.argv[5].encode())
    extra = "".join(f"{h}\r\n" for h in sys.argv[6:])
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"User-Agent: peer-bench/1\r\n{extra}\r\n").encode()
    sock = socket.create_connection((host, port), timeout=60)
    buf = b""
    for i in range(n):
        sock.sendall(request)
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                sys.exit(f"connection closed after {i} answers")
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        if status != want:
            sys.exit(f"answer {i}: status {status.decode()}, wanted {want.decode()}")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(buf) < length:
            chunk = sock.recv(65536)
            if not chunk:
                sys.exit("connection closed mid-body")
            buf += chunk
        buf = buf[length:]
    sock.close()


if __name__ == "__main__":
    main()
