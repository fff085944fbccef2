#!/usr/bin/env python3
"""The peer of `lookup serve` in the serve benchmark: the minimal Python service one would write.

    serve_py_lmdb.py TABLE [--port 0] [--db data]

http.server's ThreadingHTTPServer (a thread per connection, HTTP/1.1 keep-alive) over py-lmdb:
GET /v1/keys/{key} (percent-encoded) answers 200 with the value or 404, from one read
transaction per request on the table `lookup build` made (opened read-only, no lock file,
like lookup). Prints `listening on http://127.0.0.1:PORT` on stderr once it accepts.
"""
import argparse
import signal
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lmdb

PREFIX = "/v1/keys/"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--db", default="data")
    args = ap.parse_args()
    env = lmdb.open(args.table, subdir=False, readonly=True, lock=False, max_dbs=4)
    db = env.open_db(args.db.encode(), create=False)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold each response about 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def reply(self, status, body, ctype):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if not path.startswith(PREFIX) or len(path) == len(PREFIX):
                return self.reply(404, b'{"error":"no such endpoint"}\n', "application/json")
            key = urllib.parse.unquote_to_bytes(path[len(PREFIX):])
            with env.begin(db=db) as txn:
                value = txn.get(key)
            if value is None:
                return self.reply(404, b'{"error":"key not found"}\n', "application/json")
            self.reply(200, value, "application/octet-stream")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", args.port), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
