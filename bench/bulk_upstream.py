#!/usr/bin/env python3
"""The bulk upstream of bench/proxy.sh: GET /download?bytes=N answers N zero bytes
(Content-Length, written 1 MiB at a time); POST or PUT /upload reads and discards a
Content-Length or chunked body and answers its length. One thread per connection,
loopback only. Usage: bulk_upstream.py PORT"""

import socketserver
import sys

CHUNK = b"\0" * (1 << 20)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, target = line.decode("latin-1").split(" ")[:2]
            headers = {}
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            received = 0
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b""):
                            pass
                        break
                    left = size
                    while left:
                        got = len(self.rfile.read(min(left, 1 << 20)))
                        if not got:
                            return
                        left -= got
                    received += size
                    self.rfile.readline()
            elif "content-length" in headers:
                left = int(headers["content-length"])
                while left:
                    got = len(self.rfile.read(min(left, 1 << 20)))
                    if not got:
                        return
                    left -= got
                    received += got
            if target.startswith("/download"):
                n = int(target.split("bytes=")[1]) if "bytes=" in target else 0
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
                while n:
                    piece = CHUNK[: min(n, len(CHUNK))]
                    self.wfile.write(piece)
                    n -= len(piece)
            else:
                body = b"len=%d" % received
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
