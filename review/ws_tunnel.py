"""A WebSocket tunnel over TLS through --upstream: bytes sent come back unchanged."""
import sys, os, time, threading, hashlib
import tlsattack as t
port, tok, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = t.tls_connect(port, "127.0.0.2", timeout=30)
s.sendall((f"GET /ws HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0])
data = os.urandom(size)
def writer():
    for i in range(0, len(data), 60000):
        s.sendall(data[i:i+60000])
th = threading.Thread(target=writer); th.start()
got = bytearray(); start = time.monotonic()
while len(got) < size:
    c = s.recv(1 << 20)
    if not c: break
    got += c
th.join()
print("sent", size, "got", len(got), "equal", bytes(got) == data, round(time.monotonic() - start, 2), "s")
