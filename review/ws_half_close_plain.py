"""The same half-close as ws_half_close.py, over plain HTTP, for comparison."""
import sys, os, socket, threading
port, tok = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0), timeout=10)
s.sendall((f"GET /ws HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0])
data = os.urandom(3_000_000)
got = bytearray()
def reader():
    while True:
        try:
            c = s.recv(1 << 20)
        except Exception:
            return
        if not c: return
        got.extend(c)
th = threading.Thread(target=reader); th.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
th.join()
print("plain FIN: sent", len(data), "got back", len(got), bytes(got) == data)
