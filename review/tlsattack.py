"""Helpers for the TLS attack reproducers (review of issue 17). Python 3 stdlib only."""
import socket, ssl, time, os, sys

HOST = "127.0.0.1"

def ctx(version=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        c.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        c.minimum_version = ssl.TLSVersion.TLSv1_3
    return c

def client_hello(version=None):
    """The bytes of a ClientHello, and the objects to continue the handshake."""
    c = ctx(version)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = c.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read(), obj, inc, out

def connect(port, src="127.0.0.1", timeout=5):
    s = socket.create_connection((HOST, port), timeout=timeout, source_address=(src, 0))
    return s

def tls_connect(port, src="127.0.0.1", version=None, timeout=5):
    s = connect(port, src, timeout)
    return ctx(version).wrap_socket(s, server_hostname="localhost")

def probe(port, src="127.0.0.1", path="/healthz", timeout=5):
    """Seconds for a full HTTPS GET on a new connection, or an exception string."""
    t = time.monotonic()
    try:
        s = tls_connect(port, src, timeout=timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
        return time.monotonic() - t, status
    except Exception as e:
        return time.monotonic() - t, f"ERR {type(e).__name__}: {e}"

class Bio:
    """TLS over a raw socket through MemoryBIOs: the test controls every byte sent."""
    def __init__(self, port, src="127.0.0.1", version=None, timeout=10):
        self.sock = connect(port, src, timeout)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx(version).wrap_bio(self.inc, self.out, server_hostname="localhost")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.pump()
        self.pump(recv=False)

    def pump(self, recv=True):
        data = self.out.read()
        if data:
            self.sock.sendall(data)
        if recv:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.inc.write_eof()
                return False
            self.inc.write(chunk)
        return True

    def send(self, data):
        self.obj.write(data)
        self.pump(recv=False)

    def records(self, data):
        """The ciphertext records for `data`, not sent."""
        self.obj.write(data)
        return self.out.read()

    def recv_all(self, until=None):
        got = b""
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    return got
                got += chunk
                if until and until in got:
                    return got
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return got
            try:
                if not self.pump():
                    try:
                        got += self.obj.read(65536)
                    except Exception:
                        pass
                    return got
            except (socket.timeout, ConnectionError):
                return got
