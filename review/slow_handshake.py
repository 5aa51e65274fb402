"""Slowloris handshakes: ClientHello one byte at a time from 127.0.0.2; another
address must still be served, and the slow ones must be closed at ~10 s."""
import sys, time, threading, socket
import tlsattack as t
port = int(sys.argv[1])
hello, *_ = t.client_hello()
closed_at = {}
def slow(i):
    s = t.connect(port, "127.0.0.2", timeout=30)
    start = time.monotonic()
    try:
        for b in hello:
            s.send(bytes([b]))
            time.sleep(0.2)
        r = s.recv(10)
        closed_at[i] = ("got", r[:5], time.monotonic() - start)
    except Exception as e:
        closed_at[i] = (type(e).__name__, time.monotonic() - start)
ths = [threading.Thread(target=slow, args=(i,)) for i in range(12)]
[th.start() for th in ths]
time.sleep(1)
for _ in range(5):
    print("probe 127.0.0.3", t.probe(port, "127.0.0.3"))
    time.sleep(0.5)
[th.join() for th in ths]
print(closed_at)
print("after: probe 127.0.0.2", t.probe(port, "127.0.0.2"))
