#!/usr/bin/env python3
"""An HTTP source that says what it serves, for ha_replicas.sh.

    slow_www.py DIR PORT RATE LOG

Serves the files of DIR on 127.0.0.1:PORT (one thread a request).  A path
under /slow/ names DIR/<the rest> and is sent at RATE bytes/s (each request
on its own); any other path is sent at once.  Every GET writes one line to
LOG when it starts and one when it ends, so a test can tell how many GETs
of one path were in flight at any moment:

    start SEQ PATH UNIX-TIME
    end SEQ PATH UNIX-TIME BYTES-SENT ok|cut

("cut": the client went away first, as a killed importer's socket does).
"""
import http.server
import os
import sys
import threading
import time

ROOT, PORT, RATE, LOG = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
CHUNK = 16384
log = open(LOG, "a", buffering=1)
lock = threading.Lock()
seq = [0]


def emit(*words):
    with lock:
        log.write(" ".join(str(w) for w in words) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        slow = path.startswith("/slow/")
        name = path[len("/slow/"):] if slow else path.lstrip("/")
        file = os.path.join(ROOT, os.path.normpath("/" + name).lstrip("/"))
        if not os.path.isfile(file):
            self.send_error(404)
            return
        with lock:
            seq[0] += 1
            n = seq[0]
        emit("start", n, path, "%.3f" % time.time())
        sent, how = 0, "ok"
        try:
            with open(file, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            t0 = time.monotonic()
            while sent < len(data):
                piece = data[sent:sent + CHUNK]
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
                if slow and sent < len(data):
                    # pace to RATE from the start: sleeping after each piece
                    # would add the write's own time to every chunk
                    ahead = t0 + sent / RATE - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            how = "cut"
        emit("end", n, path, "%.3f" % time.time(), sent, how)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
