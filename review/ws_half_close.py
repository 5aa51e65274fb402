"""WebSocket tunnel over TLS: the client sends data then half-closes (TCP FIN without
close_notify, then with close_notify): the echo must still arrive in full."""
import sys, os, socket
import tlsattack as t
port, tok = int(sys.argv[1]), sys.argv[2]
for notify in (False, True):
    b = t.Bio(port, "127.0.0.2")
    b.send((f"GET /ws HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b.recv_all(until=b"\r\n\r\n")
    print(head.split(b"\r\n")[0])
    data = os.urandom(3_000_000)
    b.send(data)
    if notify:
        try:
            b.obj.unwrap()
        except ssl.SSLWantReadError if False else Exception:
            pass
        b.pump(recv=False)
    b.sock.shutdown(socket.SHUT_WR)
    rest = head.split(b"\r\n\r\n", 1)[1] + b.recv_all()
    print("close_notify" if notify else "FIN only", "sent", len(data), "got back", len(rest), rest == data)
