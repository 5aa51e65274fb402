"""After a handshake and nothing more, the server closes at the idle timeout (15 s);
after a partial request, at the request deadline."""
import sys, time, socket
import tlsattack as t
port = int(sys.argv[1])
for partial in (b"", b"GET / HTTP/1.1\r\n"):
    b = t.Bio(port, "127.0.0.2", timeout=60)
    if partial: b.send(partial)
    start = time.monotonic()
    got = b.recv_all()
    print(repr(partial), "closed after", round(time.monotonic() - start, 1), "s, got", got[:40])
