#!/usr/bin/env python3
"""Open N keep-alive HTTP/1.1 connections, send one request on each, and hold them idle.

Used by run.sh to measure a proxy's memory per idle downstream connection. Requests go one at a
time, so the proxy needs only one upstream connection for all of them. Prints "held N" once every
connection has had its response, then sleeps until SIGTERM/SIGINT (or --hold-seconds) and exits.

    hold_connections.py --host 127.0.0.1 --port 8080 --path / --count 1000 [--hold-seconds 60]
"""

import argparse
import signal
import socket
import sys
import time


def read_response(sock, deadline):
    """Reads one response (Content-Length or chunked) and returns its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += recv_some(sock, deadline)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"content-length" in headers:
        need = int(headers[b"content-length"])
        while len(body) < need:
            body += recv_some(sock, deadline)
    elif headers.get(b"transfer-encoding", b"").endswith(b"chunked"):
        while not body.endswith(b"0\r\n\r\n"):
            body += recv_some(sock, deadline)
    return status


def recv_some(sock, deadline):
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("connection closed before the response ended")
    return chunk


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--hold-seconds", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=30, help="for opening all connections")
    args = parser.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    request = (f"GET {args.path} HTTP/1.1\r\nhost: {args.host}:{args.port}\r\n"
               "user-agent: meshgate-bench-hold\r\n\r\n").encode()
    deadline = time.monotonic() + args.timeout
    held = []
    try:
        for i in range(args.count):
            if stop:
                return 1
            sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            status = read_response(sock, deadline)
            if status // 100 != 2:
                print(f"connection {i}: HTTP status {status}", file=sys.stderr)
                return 1
            held.append(sock)
    except (OSError, ValueError, IndexError) as error:
        print(f"connection {len(held)}: {error}", file=sys.stderr)
        return 1
    print(f"held {len(held)}", flush=True)
    end = time.monotonic() + args.hold_seconds
    while not stop and time.monotonic() < end:
        time.sleep(0.05)
    for sock in held:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
