#!/usr/bin/env python3
"""The load balancer in front of the replicas, for ha_replicas.sh.

    tcp_lb.py PORT BACKENDS-FILE

Listens on 127.0.0.1:PORT and hands each connection to the next backend
(HOST:PORT, one a line in BACKENDS-FILE, read again for every connection,
so a test picks where the next request goes by rewriting it), round robin;
a backend that refuses the connection is skipped, as any TCP balancer's
health check would.  Bytes are copied both ways untouched: no stickiness,
no HTTP parsing.
"""
import socket
import sys
import threading

PORT, BACKENDS = int(sys.argv[1]), sys.argv[2]
turn = [0]
lock = threading.Lock()


def backends():
    try:
        with open(BACKENDS) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []


def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            s.shutdown(how)
        except OSError:
            pass


def serve(client):
    bs = backends()
    with lock:
        first = turn[0]
        turn[0] += 1
    for k in range(len(bs)):
        host, port = bs[(first + k) % len(bs)].rsplit(":", 1)
        try:
            up = socket.create_connection((host, int(port)), timeout=2)
            up.settimeout(None)
            break
        except OSError:
            continue
    else:
        client.close()
        return
    t = threading.Thread(target=pipe, args=(up, client), daemon=True)
    t.start()
    pipe(client, up)
    t.join()
    client.close()
    up.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", PORT))
ls.listen(128)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
