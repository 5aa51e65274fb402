"""64 handshakes in progress from 8 addresses (8 each) fill the server's total: a
newcomer from a ninth address is still served (the heaviest gives up its oldest), and
the attackers cannot take it back by reconnecting."""
import sys, time, threading
import tlsattack as t
port = int(sys.argv[1])
held = [t.connect(port, f"127.0.0.{40 + a}") for a in range(8) for _ in range(8)]
time.sleep(0.3)
print("newcomer from 127.0.0.60:", t.probe(port, "127.0.0.60"))
# The attackers reconnect while a slow legitimate handshake is in progress.
legit = t.connect(port, "127.0.0.61", timeout=15)
hello, obj, inc, out = t.client_hello()
legit.sendall(hello[:10])
time.sleep(0.2)
for a in range(8):
    for _ in range(2):
        held.append(t.connect(port, f"127.0.0.{40 + a}"))
time.sleep(0.3)
legit.sendall(hello[10:])
try:
    r = legit.recv(5)
    print("slow legitimate handshake after the attackers reconnected: server answered", r[:1] == b"\x16")
except Exception as e:
    print("slow legitimate handshake: closed", type(e).__name__)
