#!/usr/bin/env python3
"""Client-side caching cost: ferrodis vs redis-server 7.0.15 with CLIENT TRACKING on.

redis-benchmark cannot turn tracking on for its connections, so this script is its own load
generator: N connections (default 50), each switched to RESP3 with CLIENT TRACKING ON, each
keeping P pipelined GETs (default 16) of random existing keys in flight, like
`redis-benchmark -P 16 -r <keys> -t get`. Around each run it reads the server's CPU time from
/proc (as utils/bench.py does) and reports server CPU microseconds per request, medians over
the rounds, with tracking on and, for reference, off. Every GET's key is remembered in the
tracking table, so the "on" runs pay for the table on every request.

With --memory-keys N it also measures the tracking table's memory: a fresh pair with N keys,
one tracking connection reads every key (MGET batches), and the used_memory delta per tracked
key is reported (with INFO tracking_total_keys, which must equal N).

Uses utils/bench.py's server handling. Python 3 standard library only.
"""

import argparse
import os
import selectors
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def enc(*args) -> bytes:
    return bench.resp(*args)


VALUE_SIZE = 3
# A GET of an existing key with a 3-byte value answers `$3\r\nval\r\n` in RESP2 and RESP3.
GET_REPLY_LEN = len(b"$3\r\nval\r\n")


def read_exact_replies(sock: socket.socket, n_bytes: int) -> bytes:
    buf = b""
    while len(buf) < n_bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def setup_conn(port: int, tracking: bool) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # HELLO 3's reply is a RESP3 map (bench.Client speaks RESP2): read up to its last field.
    s.sendall(enc("HELLO", "3"))
    data = b""
    while b"modules" not in data or not data.endswith(b"*0\r\n"):
        data += s.recv(65536)
    if tracking:
        s.sendall(enc("CLIENT", "TRACKING", "ON"))
        assert read_exact_replies(s, 5) == b"+OK\r\n"
    return s


def run_load(port: int, clients: int, pipeline: int, requests: int, keys: int, tracking: bool):
    """Sends `requests` GETs over `clients` connections with `pipeline` in flight each."""
    conns = [setup_conn(port, tracking) for _ in range(clients)]
    # Precomputed batches of random keys (a fixed pseudo-random sequence).
    x = 12345
    batches = []
    for _ in range(4096):
        parts = []
        for _ in range(pipeline):
            x = (x * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
            parts.append(enc("GET", "key:%d" % ((x >> 33) % keys)))
        batches.append(b"".join(parts))
    want = GET_REPLY_LEN * pipeline
    sel = selectors.DefaultSelector()
    pending = {}
    sent = 0
    bi = 0
    for s in conns:
        s.setblocking(False)
        s.sendall(batches[bi % len(batches)])
        bi += 1
        sent += pipeline
        pending[s] = 0
        sel.register(s, selectors.EVENT_READ)
    done = 0
    while done < requests:
        for key, _ in sel.select():
            s = key.fileobj
            data = s.recv(1 << 20)
            if not data:
                raise ConnectionError("server closed a load connection")
            pending[s] += len(data)
            while pending[s] >= want:
                pending[s] -= want
                done += pipeline
                if sent < requests:
                    s.sendall(batches[bi % len(batches)])
                    bi += 1
                    sent += pipeline
    for s in conns:
        s.close()
    return done


def measure(server, args, tracking: bool) -> float:
    before = server.cpu_us()
    n = run_load(server.port, args.clients, args.pipeline, args.requests, args.keys, tracking)
    after = server.cpu_us()
    return (after - before) / n


def memory(binary: str, label: str, n: int, extra):
    srv = bench.Server(label, binary, ["--enable-debug-command", "yes"] + extra)
    try:
        srv.call("DEBUG", "POPULATE", str(n), "key", str(VALUE_SIZE))
        time.sleep(0.5)
        s = setup_conn(srv.port, True)
        s.setblocking(True)
        before = int(srv.info("memory")["used_memory"])
        batch = 100
        for start in range(0, n, batch):
            ks = ["key:%d" % i for i in range(start, min(n, start + batch))]
            s.sendall(enc("MGET", *ks))
            # *<n>\r\n then n GET-style bulks.
            head = b"*%d\r\n" % len(ks)
            read_exact_replies(s, len(head) + GET_REPLY_LEN * len(ks))
        time.sleep(0.3)
        after = int(srv.info("memory")["used_memory"])
        stats = srv.info("stats")
        tracked = int(stats.get("tracking_total_keys", "0"))
        s.close()
        return (after - before) / n, tracked
    finally:
        srv.stop()
        srv.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="target/release/ferrodis-server")
    ap.add_argument("--oracle", default="redis-server")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory-keys", type=int, default=0)
    args = ap.parse_args()
    # The servers run in scratch directories: resolve a relative path now.
    if "/" in args.server:
        args.server = os.path.abspath(args.server)

    servers = [
        bench.Server("ferrodis", args.server, ["--enable-debug-command", "yes"]),
        bench.Server("redis", args.oracle, ["--enable-debug-command", "yes"]),
    ]
    try:
        for srv in servers:
            srv.call("DEBUG", "POPULATE", str(args.keys), "key", str(VALUE_SIZE))
        results = {(s.label, t): [] for s in servers for t in (False, True)}
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for tracking in (True, False):
                for srv in order:
                    us = measure(srv, args, tracking)
                    results[(srv.label, tracking)].append(us)
                    print(
                        "round %d %-8s tracking=%-5s %.3f us/req" % (r, srv.label, tracking, us),
                        flush=True,
                    )
        print()
        print("server CPU us per GET, -P %d, %d clients, median of %d rounds"
              % (args.pipeline, args.clients, args.rounds))
        for tracking in (True, False):
            f = statistics.median(results[("ferrodis", tracking)])
            rd = statistics.median(results[("redis", tracking)])
            print("  tracking %-3s ferrodis %.3f  redis %.3f  ratio %.2f"
                  % ("on" if tracking else "off", f, rd, f / rd))
        for srv in servers:
            info = srv.info("stats")
            print("  %s tracking_total_keys=%s tracking_total_items=%s" % (
                srv.label, info.get("tracking_total_keys"), info.get("tracking_total_items")))
    finally:
        for s in servers:
            s.stop()
            s.cleanup()

    if args.memory_keys:
        fm, ft = memory(args.server, "ferrodis", args.memory_keys, [])
        rm, rt = memory(args.oracle, "redis", args.memory_keys, [])
        print()
        print("tracking table memory, %d keys read by one tracking client" % args.memory_keys)
        print("  ferrodis %.1f bytes/key (tracked %d)" % (fm, ft))
        print("  redis    %.1f bytes/key (tracked %d)" % (rm, rt))
        print("  ratio    %.2f" % (fm / rm))


if __name__ == "__main__":
    main()
