#!/usr/bin/env python3
"""Cache hit rate of ferrodis against redis-server 7.0.15 under maxmemory eviction.

The workload is a cache-aside client: GET a key, and on a miss SET it. Key popularity follows a
Zipf distribution (exponent --zipf) over a keyspace four times (--keyspace-factor) what the
reference server holds at --maxmemory, with one seeded random sequence for both servers. The
two servers run side by side and receive the same batches alternately, so the 1-second LRU
clock and the 1-minute LFU decay advance alike for both. The first --warmup fraction of the
operations fills the caches and is not counted.

used_memory is not the same for the two servers at the same maxmemory (different allocators,
start-up footprint and per-key structures), so at the same limit they hold different numbers
of keys. Two comparisons are therefore reported per policy:

  same maxmemory   both servers at --maxmemory: what a user configuring the limit gets
                   (ferrodis, which holds more keys per byte, has an advantage here)
  same key count   ferrodis' maxmemory is lowered until it holds as many keys as redis-server
                   does at --maxmemory: this isolates the eviction algorithm (sampling, pool,
                   LRU clock, LFU counter) from memory efficiency

For each, the hit rate, the keys held at the end and the evictions are printed.

    utils/hitrate.py target/release/ferrodis-server
    utils/hitrate.py --policies allkeys-lru --ops 500000 --json hitrate.json

Python 3 standard library only (it borrows bench.py's server and client helpers).
"""

import argparse
import bisect
import json
import os
import random
import sys
import time
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (utils/bench.py: Server, Client, parse_info)


def parse_size(text: str) -> int:
    """'16mb' -> bytes, with Redis's units (k/kb/m/mb/g/gb: 1000 vs 1024 as in redis.conf)."""
    t = text.strip().lower()
    units = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 10**9), ("m", 10**6),
             ("k", 1000), ("b", 1)]
    for suffix, mult in units:
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * mult)
    return int(t)


class Pipe:
    """A raw pipelining connection that understands just the replies this workload gets."""

    def __init__(self, port: int):
        self.c = bench.Client(port, timeout=120)

    def close(self):
        self.c.close()

    def send(self, payload: bytes):
        self.c.sock.sendall(payload)

    def read_many(self, n: int) -> List[Optional[bytes]]:
        return [self._reply() for _ in range(n)]

    def _reply(self):
        r = self.c.read()
        if isinstance(r, bench.RespError):
            raise r
        return r

    def call(self, *args):
        return self.c.call(*args)


def zipf_cdf(n: int, s: float) -> List[float]:
    acc = 0.0
    out = []
    for i in range(1, n + 1):
        acc += 1.0 / (i ** s)
        out.append(acc)
    return [x / acc for x in out]


def key_name(rank: int, perm: List[int]) -> bytes:
    return b"key:%d" % perm[rank]


def value_bytes(size: int) -> bytes:
    return (b"v" * size)[:size]


def load(p: Pipe, first: int, count: int, value: bytes, batch: int = 100):
    """SETs fill:first .. fill:first+count-1 in pipelined batches (small, like the workload's,
    so the client buffers counted in used_memory are alike)."""
    for start in range(first, first + count, batch):
        m = min(batch, first + count - start)
        p.send(b"".join(bench.resp("SET", b"fill:%d" % (start + i), value) for i in range(m)))
        p.read_many(m)


def reset(p: Pipe):
    p.call("FLUSHALL")
    p.call("CONFIG", "RESETSTAT")


def steady_count(server: bench.Server, value: bytes) -> int:
    """Keys the server holds at its maxmemory once evicting: keys are written until the first
    eviction, then half as many again; the keys are then flushed."""
    p = Pipe(server.port)
    try:
        n = 0
        while int(server.info("stats").get("evicted_keys", "0")) == 0:
            load(p, n, 1000, value)
            n += 1000
        load(p, n, n // 2, value)
        held = p.call("DBSIZE")
        reset(p)
        return held
    finally:
        p.close()


def used_for_keys(server: bench.Server, count: int, value: bytes) -> int:
    """used_memory of a server without a limit holding `count` such keys."""
    p = Pipe(server.port)
    try:
        load(p, 0, count, value)
        # Let serverCron finish an incremental rehash, during which both tables are allocated.
        time.sleep(1.0)
        used = int(server.info("memory")["used_memory"])
        reset(p)
        return used
    finally:
        p.close()


class Side:
    """One server under test: its connection and counters."""

    def __init__(self, label: str, server: bench.Server):
        self.label = label
        self.server = server
        self.pipe = Pipe(server.port)
        self.hits = 0
        self.gets = 0

    def run_batch(self, keys: List[bytes], value: bytes, count: bool):
        self.pipe.send(b"".join(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in keys))
        replies = self.pipe.read_many(len(keys))
        misses = [k for k, r in zip(keys, replies) if r is None]
        if count:
            self.gets += len(keys)
            self.hits += len(keys) - len(misses)
        if misses:
            self.pipe.send(b"".join(
                b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(value), value)
                for k in misses))
            for r in self.pipe.read_many(len(misses)):
                if r != "OK":
                    raise RuntimeError("%s: SET replied %r" % (self.label, r))

    def result(self) -> dict:
        mem = self.server.info("memory")
        stats = self.server.info("stats")
        return {
            "hit_rate": self.hits / self.gets if self.gets else 0.0,
            "gets": self.gets,
            "keys_held": self.pipe.call("DBSIZE"),
            "used_memory": int(mem.get("used_memory", 0)),
            "maxmemory": int(mem.get("maxmemory", 0)),
            "evicted_keys": int(stats.get("evicted_keys", 0)),
        }


def run_workload(opts, sides: List[Side], keyspace: int):
    """The same seeded Zipf sequence, batch by batch, alternating the servers."""
    rng = random.Random(opts.seed)
    perm = list(range(keyspace))
    rng.shuffle(perm)
    cdf = zipf_cdf(keyspace, opts.zipf)
    value = value_bytes(opts.value_size)
    warm = int(opts.ops * opts.warmup)
    done = 0
    t0 = time.time()
    while done < opts.ops:
        n = min(opts.batch, opts.ops - done)
        keys = [key_name(bisect.bisect_left(cdf, rng.random()), perm) for _ in range(n)]
        count = done >= warm
        # Alternate which server goes first so neither is always a batch ahead.
        order = sides if (done // opts.batch) % 2 == 0 else list(reversed(sides))
        for side in order:
            side.run_batch(keys, value, count)
        done += n
        if not opts.quiet and done % (opts.batch * 200) == 0:
            print("  %d/%d ops, %.0f s" % (done, opts.ops, time.time() - t0), file=sys.stderr)


def start(label: str, binary: str, args: List[str]) -> bench.Server:
    return bench.Server(label, binary, args)


def compare(opts, policy: str) -> dict:
    value = value_bytes(opts.value_size)
    base = ["--maxmemory-policy", policy, "--maxmemory-samples", str(opts.samples)]
    servers = []
    try:
        # The keyspace is sized on the reference: four times what redis holds at the limit.
        ref = start("redis", opts.redis_server, base + ["--maxmemory", str(opts.maxmemory)])
        servers.append(ref)
        held_redis = steady_count(ref, value)
        keyspace = held_redis * opts.keyspace_factor
        # ferrodis at the same limit, and at the limit where it holds as many keys.
        same = start("ferrodis", opts.server, base + ["--maxmemory", str(opts.maxmemory)])
        servers.append(same)
        probe = start("probe", opts.server, [])
        servers.append(probe)
        equal_limit = used_for_keys(probe, held_redis, value)
        probe.cleanup()
        servers.remove(probe)
        equal = start("ferrodis-eqkeys", opts.server, base + ["--maxmemory", str(equal_limit)])
        servers.append(equal)
        if not opts.quiet:
            print("%s: redis holds %d keys at maxmemory %d; keyspace %d keys; ferrodis holds "
                  "as many at maxmemory %d" % (policy, held_redis, opts.maxmemory, keyspace,
                                               equal_limit), file=sys.stderr)
        sides = [Side("redis", ref), Side("ferrodis", same), Side("ferrodis-eqkeys", equal)]
        run_workload(opts, sides, keyspace)
        out = {"policy": policy, "keyspace": keyspace, "redis_keys_at_limit": held_redis,
               "ferrodis_equal_keys_maxmemory": equal_limit}
        for s in sides:
            out[s.label] = s.result()
            s.pipe.close()
        return out
    finally:
        for s in servers:
            s.cleanup()


def print_results(opts, results: List[dict]):
    print()
    print("Cache-aside Zipf(%.2f) workload, keyspace %dx what redis holds at maxmemory %d, "
          "%d ops (%.0f%% warm-up), %d-byte values, seed %d"
          % (opts.zipf, opts.keyspace_factor, opts.maxmemory, opts.ops, opts.warmup * 100,
             opts.value_size, opts.seed))
    head = "%-13s %-16s %11s %9s %10s %12s %12s" % (
        "policy", "server", "maxmemory", "hit rate", "keys held", "used_memory", "evicted")
    print(head)
    print("-" * len(head))
    for r in results:
        for label in ("redis", "ferrodis", "ferrodis-eqkeys"):
            s = r[label]
            print("%-13s %-16s %11d %8.2f%% %10d %12d %12d" % (
                r["policy"], label, s["maxmemory"], s["hit_rate"] * 100, s["keys_held"],
                s["used_memory"], s["evicted_keys"]))
        d_same = (r["ferrodis"]["hit_rate"] - r["redis"]["hit_rate"]) * 100
        d_eq = (r["ferrodis-eqkeys"]["hit_rate"] - r["redis"]["hit_rate"]) * 100
        print("%-13s ferrodis - redis: %+.2f points at the same maxmemory, %+.2f points at the "
              "same key count" % (r["policy"], d_same, d_eq))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Hit rate of ferrodis vs redis-server under eviction (Zipf cache-aside).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("server", nargs="?", default="target/release/ferrodis-server")
    p.add_argument("--redis-server", default="redis-server")
    p.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    p.add_argument("--maxmemory", type=parse_size, default=parse_size("8mb"))
    p.add_argument("--keyspace-factor", type=int, default=4)
    p.add_argument("--ops", type=int, default=3000000)
    p.add_argument("--warmup", type=float, default=0.25, help="fraction of ops not counted")
    p.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent")
    p.add_argument("--value-size", type=int, default=100)
    p.add_argument("--samples", type=int, default=5, help="maxmemory-samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=500, help="GETs per pipelined batch")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--quiet", action="store_true")
    opts = p.parse_args(sys.argv[1:] if argv is None else argv)
    results = []
    try:
        for policy in [x for x in opts.policies.split(",") if x]:
            results.append(compare(opts, policy))
    except (RuntimeError, bench.RespError, ConnectionError) as e:
        print("hitrate failed: %s" % e, file=sys.stderr)
        return 1
    print_results(opts, results)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"options": {k: v for k, v in vars(opts).items()}, "results": results},
                      f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
