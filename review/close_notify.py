"""A request followed at once by close_notify (and FIN), for TLS 1.2 and 1.3: the
answer still comes; data after close_notify is refused without harm."""
import sys, ssl, socket
import tlsattack as t
port = int(sys.argv[1])
req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
for v in ("1.2", "1.3"):
    for fin in (False, True):
        b = t.Bio(port, "127.0.0.2", version=v)
        wire = b.records(req)
        try: b.obj.unwrap()
        except ssl.SSLWantReadError: pass
        wire += b.out.read()
        b.sock.sendall(wire)
        if fin: b.sock.shutdown(socket.SHUT_WR)
        got = b.recv_all()
        print(v, "FIN" if fin else "no FIN", "->", got.split(b"\r\n")[0])
    # data after close_notify
    b = t.Bio(port, "127.0.0.2", version=v)
    b2 = t.Bio(port, "127.0.0.2", version=v)
    try: b.obj.unwrap()
    except ssl.SSLWantReadError: pass
    b.sock.sendall(b.out.read() + b"\x17\x03\x03\x00\x20" + b"x" * 32)
    print(v, "after close_notify ->", b.recv_all()[:30], "; probe", t.probe(port, "127.0.0.3"))
