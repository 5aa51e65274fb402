"""An upload through --upstream over TLS in 1-byte records (TLS 1.2 and 1.3, two
connections): the server keeps reading it, and another client's latency is watched."""
import sys, time, threading
import tlsattack as t
port, tok = int(sys.argv[1]), sys.argv[2]
stop = time.monotonic() + 6
def flood(v):
    b = t.Bio(port, "127.0.0.2", version=v)
    b.send(f"POST /echo HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100000000\r\n\r\n".encode())
    sent = 0
    b.sock.settimeout(2)
    try:
        while time.monotonic() < stop:
            # Fresh records each time (each has its own sequence number).
            chunk = b"".join(b.records(b"x") for _ in range(2000))
            b.sock.sendall(chunk); sent += 2000
    except Exception as e:
        print(v, type(e).__name__)
    print(v, "plaintext bytes sent in 1-byte records:", sent)
ths = [threading.Thread(target=flood, args=(v,)) for v in ("1.2", "1.3")]
[x.start() for x in ths]
time.sleep(0.5)
worst = 0
for _ in range(10):
    d, st = t.probe(port, "127.0.0.3")
    worst = max(worst, d)
    time.sleep(0.4)
print("worst probe latency", round(worst, 3), "s, last", st)
[x.join() for x in ths]
