#!/usr/bin/env python3
"""Client connections the way an attacker or a sloppy client holds them, for
tests/integration/api_flood.sh.  Loopback only.

  conns.py hold PORT N STOP  N idle TCP connections; prints "open N" once all
                             are connected, then waits for the file STOP to
                             exist and prints "still-open K" (how many the
                             server kept open).
  conns.py close-after PORT MODE LIMIT
                             one connection; MODE is
                               silent     connect, send nothing
                               slow       a request line, then one header byte
                                          every 0.5 s, never the blank line
                               slowtls    the same over TLS (after a prompt
                                          handshake)
                               slowbody   whole headers of a POST with a 1000
                                          byte body, then a byte every 0.5 s
                               keepalive  one whole request (keep-alive), its
                                          answer read, then nothing
                             prints "closed SECONDS" when the server closes it,
                             or "open" if it is still open after LIMIT seconds.
"""
import os
import select
import socket
import ssl
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(False)
    return s


def is_closed(s):
    """True when the server has closed (EOF or reset) this socket."""
    try:  # non-blocking: nothing to read means open (no select: fds > 1023)
        return s.recv(4096, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def hold(port, n, stop):
    socks = []
    for _ in range(n):
        socks.append(connect(port))
    print("open %d" % len(socks), flush=True)
    t0 = time.monotonic()
    while not os.path.exists(stop) and time.monotonic() - t0 < 120:
        time.sleep(0.1)
    kept = sum(1 for s in socks if not is_closed(s))
    print("still-open %d" % kept, flush=True)


def drain(s):
    """Reads whatever the server sent; False when it closed."""
    while True:
        try:
            b = s.recv(65536)
        except BlockingIOError:
            return True
        except (ConnectionResetError, OSError):
            return False
        if b == b"":
            return False


def slow_tls(port, limit):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw)
    t0 = time.monotonic()
    s.settimeout(0.1)
    s.send(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    next_byte = t0 + 0.5
    while time.monotonic() - t0 < limit:
        try:
            if s.recv(4096) == b"":
                break
        except (socket.timeout, TimeoutError):
            pass
        except (ssl.SSLError, OSError):
            break
        if time.monotonic() >= next_byte:
            next_byte += 0.5
            try:
                s.send(b"a")
            except (ssl.SSLError, OSError):
                break
    else:
        print("open", flush=True)
        return
    print("closed %.2f" % (time.monotonic() - t0), flush=True)


def close_after(port, mode, limit):
    if mode == "slowtls":
        return slow_tls(port, limit)
    s = connect(port)
    t0 = time.monotonic()
    if mode == "slow":
        s.send(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    elif mode == "slowbody":
        s.send(b"POST /api/v1/namespaces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
    elif mode == "keepalive":
        s.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    next_byte = t0 + 0.5
    while time.monotonic() - t0 < limit:
        select.select([s], [], [], 0.1)
        if not drain(s):
            print("closed %.2f" % (time.monotonic() - t0), flush=True)
            return
        if mode in ("slow", "slowbody") and time.monotonic() >= next_byte:
            next_byte += 0.5
            try:
                s.send(b"a")
            except OSError:
                print("closed %.2f" % (time.monotonic() - t0), flush=True)
                return
    print("open", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        close_after(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
