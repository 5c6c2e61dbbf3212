#!/usr/bin/python3
"""An HTTP/1.1 backend for the meshgate e2e tests that streams large bodies.

Usage: big_backend.py PORT
GET /big/N answers 200 with N bytes of body, written as fast as the peer
reads; any other path answers 200 "ok". Prints "listening" once ready.
"""
import http.server
import socketserver
import sys

BLOCK = b"x" * (64 * 1024)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        size = 2
        if self.path.startswith("/big/"):
            size = int(self.path[5:])
        self.send_response(200)
        self.send_header("content-length", str(size))
        self.end_headers()
        if not self.path.startswith("/big/"):
            self.wfile.write(b"ok")
            return
        left = size
        try:
            while left > 0:
                n = min(left, len(BLOCK))
                self.wfile.write(BLOCK[:n])
                left -= n
        except OSError:
            pass  # the proxy gave up on the response

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
