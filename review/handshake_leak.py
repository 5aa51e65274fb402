"""Handshakes that end every which way (RST mid-handshake, garbage, plain HTTP, EOF,
bad record, wrong version, ALPN h2 only, close after ServerHello) must all give back
their count: afterwards an address can still have 8 handshakes in progress."""
import sys, time, socket, struct, threading
import tlsattack as t
port = int(sys.argv[1])
hello, obj, inc, out = t.client_hello()

def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

def ways(src):
    def w0():  # RST after half a ClientHello
        s = t.connect(port, src); s.sendall(hello[:50]); time.sleep(0.05); rst(s)
    def w1():  # garbage
        s = t.connect(port, src); s.sendall(b"\x00" * 100); s.recv(100); s.close()
    def w2():  # plain HTTP
        s = t.connect(port, src); s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); s.recv(1000); s.close()
    def w3():  # EOF at once
        s = t.connect(port, src); s.shutdown(socket.SHUT_WR); s.recv(10); s.close()
    def w4():  # full ClientHello then RST
        s = t.connect(port, src); s.sendall(hello); s.recv(10); rst(s)
    def w5():  # record claiming 16 KiB + more, then close
        s = t.connect(port, src); s.sendall(b"\x16\x03\x01\xff\xff" + b"\x01" * 70000); 
        try: s.recv(100)
        except Exception: pass
        s.close()
    def w6():  # FIN after full ClientHello, server flight unread
        s = t.connect(port, src); s.sendall(hello); s.shutdown(socket.SHUT_WR); time.sleep(0.05); s.close()
    def w7():  # only h2 in ALPN: refused with an alert
        import ssl
        c = t.ctx(); c.set_alpn_protocols(["h2"])
        try: c.wrap_socket(t.connect(port, src), server_hostname="localhost").close()
        except Exception: pass
    return [w0, w1, w2, w3, w4, w5, w6, w7]

def abuse(src, n):
    fs = ways(src)
    for i in range(n):
        try: fs[i % len(fs)]()
        except Exception as e: pass
        time.sleep(0.08)  # under the 16/s rate

addrs = [f"127.0.0.{i}" for i in range(20, 26)]
ths = [threading.Thread(target=abuse, args=(a, 48)) for a in addrs]
[x.start() for x in ths]; [x.join() for x in ths]
time.sleep(1.5)
bad = 0
for a in addrs:
    idle = [t.connect(port, a) for _ in range(7)]
    time.sleep(0.1)
    r = t.probe(port, a)
    ok = r[1].startswith("HTTP/1.1 200")
    bad += not ok
    print(a, "7 handshakes pending + 1 real:", r)
    for s in idle: s.close()
print("LEAK" if bad else "no leak")
