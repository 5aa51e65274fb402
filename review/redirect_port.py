"""What --redirect-http answers to odd Host values and targets (raw requests)."""
import sys, socket
port = int(sys.argv[1])
def raw(req, src="127.0.0.2"):
    s = socket.create_connection(("127.0.0.1", port), timeout=3, source_address=(src, 0))
    s.sendall(req)
    s.shutdown(socket.SHUT_WR)
    got = b""
    try:
        while True:
            c = s.recv(65536)
            if not c: break
            got += c
    except Exception as e:
        got += f"<{type(e).__name__}>".encode()
    return got
def brief(resp):
    lines = resp.split(b"\r\n")
    keep = [l for l in lines if l.startswith(b"HTTP/") or l.lower().startswith((b"location", b"set-cookie", b"strict"))]
    return b" | ".join(keep).decode(errors="replace")
if __name__ == "__main__":
    for h in ["router.lan", "router.lan:99", "[::1]:80", "evil.com@x", "a.b/c", "", "1.2.3.4:80", "-", ".", "....", "host:", "a b", "a\tb", "x" * 300, "[::1", "[fe80::1%eth0]"]:
        print(f"Host {h[:20]!r:24}", brief(raw(f"GET /x?y=1 HTTP/1.1\r\nHost: {h}\r\n\r\n".encode())))
    for tgt in ["http://evil.com/x", "//evil.com/x", "*", "/\\evil.com", "/%0d%0aSet-Cookie:x=1", "/../../etc", "/a#frag"]:
        print(f"target {tgt!r:24}", brief(raw(f"GET {tgt} HTTP/1.1\r\nHost: ok.lan\r\n\r\n".encode())))
    print("no Host 1.0:", brief(raw(b"GET / HTTP/1.0\r\n\r\n")))
    print("two Hosts:", brief(raw(b"GET / HTTP/1.1\r\nHost: a.lan\r\nHost: b.lan\r\n\r\n")))
    print("OPTIONS *:", brief(raw(b"OPTIONS * HTTP/1.1\r\nHost: a.lan\r\n\r\n")))
    print("CONNECT:", brief(raw(b"CONNECT a.lan:443 HTTP/1.1\r\nHost: a.lan:443\r\n\r\n")))
    print("POST /login with form:", brief(raw(b"POST /login HTTP/1.1\r\nHost: a.lan\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\nusername=admin&password=xxxxx")))
    print("CL+TE:", brief(raw(b"POST / HTTP/1.1\r\nHost: a.lan\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.lan\r\n\r\n")))
    print("pipelined x3:", brief(raw(b"GET /1 HTTP/1.1\r\nHost: a.lan\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.lan\r\n\r\nGET /3 HTTP/1.1\r\nHost: a.lan\r\n\r\n")))
    print("huge header:", brief(raw(b"GET / HTTP/1.1\r\nHost: a.lan\r\nX: " + b"a" * 100000 + b"\r\n\r\n")))
    print("TLS on the plain port:", raw(__import__("tlsattack").client_hello()[0])[:60])
