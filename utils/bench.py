#!/usr/bin/env python3
"""Compare ferrodis with the real redis-server (7.0.15): throughput, server CPU, and memory.

`make bench` runs this script. It starts both servers side by side on free ports (no
persistence), then for several rounds runs redis-benchmark against each, alternating which
server goes first so that neither always gets the warmer machine. Around each run it reads the
server's CPU time (utime + stime from /proc/<pid>/stat) to get server CPU microseconds per
request, and takes requests/s from redis-benchmark's CSV. It reports medians over the rounds and
the ratios ferrodis/redis, as a table and optionally as JSON (--json FILE).

With --memory (or --only-memory) it also starts a fresh pair, loads a dataset (default: 1,000,000
keys `key:N` -> `value:N`) into each through `redis-cli --pipe`, and reports VmRSS and INFO
used_memory, bytes per key and ratios.

What is benchmarked is pluggable: a *suite* is a function returning BenchCase objects (see
SUITES) and a *dataset* is a function yielding RESP bytes (see DATASETS). Later work adds suites
and datasets for lists, hashes, sets... by writing one function and registering it.

During development the "ferrodis" side may be any server, e.g.
    utils/bench.py --server redis-server --rounds 1
compares redis with itself, which shows how noisy the machine is.

Python 3 standard library only.
"""

import argparse
import atexit
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

# ------------------------------------------------------------------------------------------------
# Minimal RESP client (PING, INFO, DBSIZE, FLUSHALL are all the script needs)
# ------------------------------------------------------------------------------------------------


def resp(*args) -> bytes:
    """Encodes one command as a RESP multibulk; args may be str, bytes or int."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespError(Exception):
    """An error reply (-ERR ...) from the server."""


class Client:
    """A blocking RESP2 client, just enough to manage and inspect the servers."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError("unexpected reply %r" % line[:80])

    def call(self, *args):
        self.sock.sendall(resp(*args))
        reply = self.read()
        if isinstance(reply, RespError):
            raise reply
        return reply


# ------------------------------------------------------------------------------------------------
# Server processes
# ------------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port nobody listens on right now (the server start retries if it gets taken)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server child process on a free port, in its own scratch directory, with its log."""

    def __init__(self, label: str, binary: str, extra_args: List[str], dir: Optional[str] = None):
        self.label = label
        self.binary = binary
        self.dir = dir or tempfile.mkdtemp(prefix="ferrodis-bench-%s-" % label)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        last_error = ""
        for _ in range(5):
            self.port = free_port()
            args = [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"]
            args += extra_args
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    args, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            ok, last_error = self._wait_ready()
            if ok:
                return
            self.stop()
            if "already in use" not in last_error:
                break
        tail = self.log_tail()
        self.cleanup()
        raise RuntimeError(
            "%s (%s) did not start: %s\n--- log ---\n%s"
            % (label, binary, last_error, tail)
        )

    def _wait_ready(self) -> Tuple[bool, str]:
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with %s; %s" % (self.proc.returncode, self.log_tail())
            try:
                c = Client(self.port, timeout=2)
            except OSError:
                time.sleep(0.02)
                continue
            try:
                try:
                    c.call("PING")
                except RespError as e:
                    if str(e).startswith(("LOADING", "BUSY")):
                        time.sleep(0.05)
                        continue
                try:
                    info = c.call("INFO", "server")
                    pid = parse_info(info).get("process_id")
                except (RespError, ConnectionError, ValueError):
                    pid = None
                if pid is not None and int(pid) != self.proc.pid:
                    return False, "port %d already in use by pid %s" % (self.port, pid)
                time.sleep(0.05)
                if self.proc.poll() is not None:
                    return False, "exited after start (port already in use?)"
                return True, ""
            except (OSError, ConnectionError):
                time.sleep(0.05)
            finally:
                c.close()
        return False, "no answer to PING within 30 s"

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_us(self) -> float:
        """User + system CPU time of the whole process (all threads), in microseconds."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            stat = f.read()
        # The command name (field 2) may contain spaces; fields after it are space separated,
        # starting with field 3 (state). utime and stime are fields 14 and 15.
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks * 1e6 / CLK_TCK

    def rss_bytes(self) -> int:
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS for pid %d" % self.proc.pid)

    def info(self, section: str) -> Dict[str, str]:
        """INFO fields, or {} when the server does not implement INFO (early ferrodis)."""
        c = Client(self.port)
        try:
            return parse_info(c.call("INFO", section))
        except (RespError, ConnectionError):
            return {}
        finally:
            c.close()

    def call(self, *args):
        c = Client(self.port, timeout=120)
        try:
            return c.call(*args)
        finally:
            c.close()

    def version(self) -> str:
        try:
            out = subprocess.run(
                [self.binary, "--version"], capture_output=True, text=True, timeout=10
            )
            return (out.stdout or out.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            return "unknown (%s)" % e

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        for other in getattr(self, "companions", []):
            other.cleanup()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_info(text) -> Dict[str, str]:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    if not isinstance(text, str):
        return {}
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


# ------------------------------------------------------------------------------------------------
# Suites: what redis-benchmark runs
# ------------------------------------------------------------------------------------------------


@dataclass
class BenchCase:
    """One redis-benchmark invocation. `args` are appended to the common options: either
    ['-t', 'set'] for a built-in test or a command line like ['HSET', 'h', '__rand_int__', 'v']
    (redis-benchmark replaces __rand_int__ when -r is given). `name` labels the result."""

    name: str
    args: List[str]
    # Extra redis-benchmark options for this case only (e.g. ['-r', '100000', '-d', '100']).
    options: List[str] = field(default_factory=list)
    # Run on each server before every measured run of this case, outside the measurement
    # (e.g. configure maxmemory and fill the dataset up to it): setup(opts, server).
    setup: Optional[Callable[..., None]] = None


DEFAULT_TESTS = ["ping_inline", "ping_mbulk", "set", "get", "incr", "mset"]


def suite_default(opts) -> List[BenchCase]:
    """The issue's list: -t ping_inline,ping_mbulk,set,get,incr,mset (or --tests)."""
    tests = opts.tests or DEFAULT_TESTS
    return [BenchCase(name=t.upper(), args=["-t", t]) for t in tests]


def suite_sets(opts) -> List[BenchCase]:
    """Sets: redis-benchmark's sadd and spop tests (`SADD myset element:__rand_int__`, then
    `SPOP myset`). `-r 100000000` makes nearly every SADD add a new member, so the set holds
    about as many members as the SPOPs that follow take: they pop real members from a big
    hashtable set instead of answering nil once it is empty."""
    rnd = ["-r", "100000000"]
    return [
        BenchCase(name="SADD", args=["-t", "sadd"], options=rnd),
        BenchCase(name="SPOP", args=["-t", "spop"], options=rnd),
    ]


# Random keys over a space far bigger than what maxmemory holds, 100-byte values: nearly
# every SET creates a key.
EVICT_KEYS = ["-r", "100000000", "-d", "100"]


def evict_fill(opts, server: "Server", policy: str, limit: int):
    """Sets maxmemory and the policy, then writes random keys until the server is evicting,
    so that every measured SET adds a key and makes the server evict about one."""
    server.call("CONFIG", "SET", "maxmemory-policy", policy)
    server.call("CONFIG", "SET", "maxmemory", str(limit))
    for _ in range(50):
        evicted = int(server.info("stats").get("evicted_keys", "0"))
        used = int(server.info("memory").get("used_memory", "0"))
        if evicted > 0 and used >= limit * 0.95:
            return
        cmd = [opts.redis_benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-c", "50",
               "-n", "500000", "-P", "16", "-q", "-t", "set"] + EVICT_KEYS
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0 or not server.alive():
            raise RuntimeError("filling %s up to maxmemory failed:\n%s\n%s"
                               % (server.label, out.stderr[-2000:], server.log_tail()))
    raise RuntimeError("%s did not start evicting at maxmemory %d" % (server.label, limit))


def suite_evict(opts) -> List[BenchCase]:
    """SET with maxmemory reached and allkeys-lru evicting about one key per SET (the
    eviction issue's benchmark; --evict-maxmemory sets the limit, default 64 MiB)."""
    limit = opts.evict_maxmemory

    def setup(o, server):
        evict_fill(o, server, "allkeys-lru", limit)

    return [BenchCase(name="SET_EVICT_LRU", args=["-t", "set"], options=list(EVICT_KEYS),
                      setup=setup)]


# A subscriber for the pubsub suite: subscribes, then reads and discards until EOF (the
# server's exit), as fast as the kernel hands data over, so it is never the bottleneck.
PUBSUB_SUBSCRIBER = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
ch = sys.argv[2].encode()
s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(ch), ch))
buf = bytearray(1 << 20)
while s.recv_into(buf):
    pass
"""

PUBSUB_CHANNEL = "bench:pubsub"
PUBSUB_SUBSCRIBERS = 10
_subscriber_procs: List[subprocess.Popen] = []


def pubsub_subscribers(opts, server: "Server"):
    """Makes sure PUBSUB_SUBSCRIBERS reading clients are subscribed to PUBSUB_CHANNEL on
    `server` (started on the first run, kept for the next ones; they exit when the server
    does)."""
    def count() -> int:
        reply = server.call("PUBSUB", "NUMSUB", PUBSUB_CHANNEL)
        return int(reply[1])

    missing = PUBSUB_SUBSCRIBERS - count()
    if missing not in (0, PUBSUB_SUBSCRIBERS):
        raise RuntimeError("%s: a subscriber of %s disconnected during the last run (output "
                           "buffer limit?)" % (server.label, PUBSUB_CHANNEL))
    if not _subscriber_procs:
        atexit.register(lambda: [p.kill() for p in _subscriber_procs])
    for _ in range(missing):
        _subscriber_procs.append(subprocess.Popen(
            [sys.executable, "-c", PUBSUB_SUBSCRIBER, str(server.port), PUBSUB_CHANNEL],
            stdin=subprocess.DEVNULL))
    deadline = time.time() + 30
    while count() != PUBSUB_SUBSCRIBERS:
        if time.time() > deadline:
            raise RuntimeError("%s: %d subscribers on %s, expected %d (one was cut off by the "
                               "output buffer limit?)" % (server.label, count(), PUBSUB_CHANNEL,
                                                          PUBSUB_SUBSCRIBERS))
        time.sleep(0.05)


def suite_pubsub(opts) -> List[BenchCase]:
    """PUBLISH of a 16-byte message to a channel with 10 subscribers (the Pub/Sub issue's
    benchmark: run with --pipeline 16). Server CPU per request includes writing the message
    to the 10 subscribers."""
    return [BenchCase(name="PUBLISH_10SUBS",
                      args=["PUBLISH", PUBSUB_CHANNEL, "0123456789abcdef"],
                      setup=pubsub_subscribers)]


def suite_hashes(opts) -> List[BenchCase]:
    """Hashes: redis-benchmark's hset test (`HSET myhash element:__rand_int__ xxx`) twice:
    without -r every request rewrites the same field of a one-field listpack hash; with
    `-r 100000` the fields spread over 100,000 names, so the hash is a hashtable and most
    requests overwrite a field that exists (after the first ~100,000 add new ones)."""
    return [
        BenchCase(name="HSET", args=["-t", "hset"]),
        BenchCase(name="HSET_HT", args=["-t", "hset"], options=["-r", "100000"]),
    ]


def suite_zsets(opts) -> List[BenchCase]:
    """Sorted sets: redis-benchmark's zadd and zpopmin tests (`ZADD myzset __rand_int__
    element:__rand_int__`, then `ZPOPMIN myzset`) with `-r 100000000`, so ZADDs add members and
    the ZPOPMINs pop real ones from a big skiplist; then ZADD of 1,000,000 random members into
    one fresh key `bigzset` (deleted before each round) and ZRANGEBYSCORE over it (a random
    minimum, LIMIT 0 10). Run it with `--pipeline 16`; `--tests zadd,zpopmin` with the default
    suite measures the same commands on a one-member set."""
    rnd = ["-r", "100000000"]

    def fresh_bigzset(o, server):
        server.call("DEL", "bigzset")

    return [
        BenchCase(name="ZADD", args=["-t", "zadd"], options=rnd),
        BenchCase(name="ZPOPMIN", args=["-t", "zpopmin"], options=rnd),
        BenchCase(name="ZADD_1M", args=["ZADD", "bigzset", "__rand_int__", "member:__rand_int__"],
                  options=rnd + ["-n", "1000000"], setup=fresh_bigzset),
        BenchCase(name="ZRANGEBYSCORE_1M",
                  args=["ZRANGEBYSCORE", "bigzset", "__rand_int__", "+inf", "LIMIT", "0", "10"],
                  options=rnd + ["-n", "1000000"]),
    ]


# Register new suites here: name -> function(opts) -> [BenchCase].
def lists_prefill(opts, server):
    """A fresh `mylist` of 1,000 elements "xxx" for the LRANGE cases."""
    server.call("DEL", "mylist")
    server.call("RPUSH", "mylist", *(["xxx"] * 1000))


def suite_lists(opts) -> List[BenchCase]:
    """Lists: redis-benchmark's LPUSH RPUSH LPOP RPOP tests (all on `mylist`, so the pops
    take what the pushes left), then LRANGE of the first 100/300/600 elements of `mylist`
    holding 1,000 elements "xxx", as redis-benchmark's lrange_N tests do but with the prefill
    done outside the measurement (their built-in LPUSH prefill would be measured too)."""
    cases = [BenchCase(name=t.upper(), args=["-t", t]) for t in ("lpush", "rpush", "lpop", "rpop")]
    for n in (100, 300, 600):
        cases.append(
            BenchCase(
                name="LRANGE_%d" % n,
                args=["LRANGE", "mylist", "0", str(n - 1)],
                setup=lists_prefill,
            )
        )
    return cases


def hll_prefill(opts, server):
    """Two dense HyperLogLogs `hll1` and `hll2` of 50,000 elements each (half shared), built
    once per server, for the PFCOUNT cases."""
    if server.call("EXISTS", "hll1") == 1:
        return
    for key, base in (("hll1", 0), ("hll2", 25000)):
        for start in range(base, base + 50000, 5000):
            server.call("PFADD", key, *["e:%d" % i for i in range(start, start + 5000)])


def geo_prefill(opts, server):
    """`geo1m`: 1,000,000 points spread over the whole map (a fixed pseudo-random sequence, so
    both servers hold the same set), loaded once per server."""
    if server.call("EXISTS", "geo1m") == 1:
        return
    x = 12345
    batch = []
    for i in range(1000000):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        lon = (x >> 11) / float(1 << 53) * 360.0 - 180.0
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        lat = (x >> 11) / float(1 << 53) * 170.0 - 85.0
        batch += ["%.6f" % lon, "%.6f" % lat, "p%d" % i]
        if len(batch) >= 30000:
            server.call("GEOADD", "geo1m", *batch)
            batch = []
    if batch:
        server.call("GEOADD", "geo1m", *batch)


def suite_hllgeo(opts) -> List[BenchCase]:
    """HyperLogLog and geo (issue 19): PFADD of random elements into one HLL (sparse at
    first, dense after a few thousand), PFCOUNT of a dense HLL (answered from its cached
    cardinality) and of the union of two (merged and estimated on every call), then
    GEOSEARCH over 1,000,000 points around a random integer (lon, lat) in [0, 80) with a
    100 km radius (about a dozen results), and GEOADD of random points. Run with
    `--pipeline 16`."""
    rnd = ["-r", "100000000"]
    return [
        BenchCase(name="PFADD", args=["PFADD", "hll", "element:__rand_int__"], options=rnd),
        BenchCase(name="PFCOUNT", args=["PFCOUNT", "hll1"], setup=hll_prefill),
        BenchCase(name="PFCOUNT_UNION", args=["PFCOUNT", "hll1", "hll2"], setup=hll_prefill,
                  options=["-n", "200000"]),
        BenchCase(name="GEOSEARCH_1M",
                  args=["GEOSEARCH", "geo1m", "FROMLONLAT", "__rand_int__", "__rand_int__",
                        "BYRADIUS", "100", "km"],
                  options=["-r", "80", "-n", "300000"], setup=geo_prefill),
        BenchCase(name="GEOADD", args=["GEOADD", "geoadd", "__rand_int__", "__rand_int__",
                                       "m:__rand_int__"], options=["-r", "80"]),
    ]


def pipe_into(opts, server: "Server", chunks: Iterable[bytes]):
    """Sends RESP commands to `server` through `redis-cli --pipe` (outside any measurement)."""
    out = subprocess.run(
        [opts.redis_cli, "-h", "127.0.0.1", "-p", str(server.port), "--pipe"],
        input=b"".join(chunks),
        capture_output=True,
    )
    summary = out.stdout.decode(errors="replace").strip().splitlines()[-1:] or [""]
    if out.returncode != 0 or "errors: 0," not in summary[0]:
        raise RuntimeError("piping into %s failed (exit %s):\n%s\n%s"
                           % (server.label, out.returncode, summary[0],
                              out.stderr[-2000:].decode(errors="replace")))


def stream_fill(key: bytes, n: int) -> Iterator[bytes]:
    """XADD key <i>-1 f <i> for i in 0..n: entry IDs a benchmark can name with
    `__rand_int__-1` (redis-benchmark pads it to 12 digits; the ID parser reads the zeros)."""
    batch = []
    for i in range(n):
        batch.append(_resp_cmd([b"XADD", key, b"%d-1" % i, b"f", b"%d" % i]))
        if len(batch) == 10000:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


# The entries XRANGE_10 reads from, and how many the group cases need: one per request.
STREAM_RANGE_ENTRIES = 100000


def streams_range_prefill(opts, server):
    """`xrange` of STREAM_RANGE_ENTRIES entries `<i>-1 f <i>`, built once per server."""
    if server.call("EXISTS", "xrange") == 1:
        return
    pipe_into(opts, server, stream_fill(b"xrange", STREAM_RANGE_ENTRIES))


def streams_group_entries(opts) -> int:
    return max(n for _, n in opts.configs)


def streams_group_prefill(opts, server):
    """A fresh `xgroup` holding one entry per request of the largest --requests, and a
    group `g` that has read none of them."""
    n = streams_group_entries(opts)
    server.call("DEL", "xgroup")
    pipe_into(opts, server, stream_fill(b"xgroup", n))
    server.call("XGROUP", "CREATE", "xgroup", "g", "0")


def streams_pending_prefill(opts, server):
    """`xgroup` as XREADGROUP leaves it: every entry delivered once (by redis-benchmark
    itself, -P 16, not measured), so every entry is in the group's PEL."""
    streams_group_prefill(opts, server)
    n = streams_group_entries(opts)
    cmd = [opts.redis_benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-c", "50",
           "-n", str(n), "-P", "16", "-q"] + STREAM_XREADGROUP
    out = subprocess.run(cmd, capture_output=True, text=True)
    pending = server.call("XPENDING", "xgroup", "g")[0]
    if out.returncode != 0 or pending != n:
        raise RuntimeError("%s: %s pending entries after delivering %d:\n%s"
                           % (server.label, pending, n, out.stderr[-2000:]))


STREAM_XREADGROUP = ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "xgroup",
                     ">"]


def suite_streams(opts) -> List[BenchCase]:
    """Streams (issue 18), to run with `--pipeline 16`:
    - XADD of one small entry (`XADD xadd * field value`) into a stream emptied before each
      run, so it grows node by node as a producer's stream does;
    - XRANGE_10: `XRANGE xrange <random ms> + COUNT 10` over 100,000 entries (a seek in the
      rax, then ten entries of one or two listpack nodes);
    - XREADGROUP: `XREADGROUP GROUP g alice COUNT 1 STREAMS xgroup >`, one new entry per
      request (the stream holds one per request, the group has read none), each added to
      the group's and alice's PEL;
    - XACK: `XACK xgroup g <random ID>-1` with every entry pending (delivered beforehand, not
      measured): the second half of the read-and-acknowledge flow. The IDs are random over
      the pending range, so about 63% of the requests acknowledge an entry and the rest find
      it acknowledged already (XACK answers 0), on both servers alike."""
    n = streams_group_entries(opts)
    return [
        BenchCase(name="XADD", args=["XADD", "xadd", "*", "field", "value"],
                  setup=lambda o, server: server.call("DEL", "xadd")),
        BenchCase(name="XRANGE_10",
                  args=["XRANGE", "xrange", "__rand_int__", "+", "COUNT", "10"],
                  options=["-r", str(STREAM_RANGE_ENTRIES)], setup=streams_range_prefill),
        BenchCase(name="XREADGROUP", args=list(STREAM_XREADGROUP),
                  setup=streams_group_prefill),
        BenchCase(name="XACK", args=["XACK", "xgroup", "g", "__rand_int__-1"],
                  options=["-r", str(n)], setup=streams_pending_prefill),
    ]


def suite_aof(opts) -> List[BenchCase]:
    """Writes with the AOF on (appendonly yes, appendfsync everysec: see SUITE_SERVER_ARGS):
    SET and LPUSH, or --tests."""
    tests = opts.tests or ["set", "lpush"]
    return [BenchCase(name=t.upper() + " (aof)", args=["-t", t]) for t in tests]


def suite_repl(opts) -> List[BenchCase]:
    """Writes on a master with one replica of its own kind attached and in sync (see
    attach_replicas): SET and LPUSH, or --tests. CPU is the master's."""
    tests = opts.tests or ["set", "lpush"]
    return [BenchCase(name=t.upper() + " (1 replica)", args=["-t", t]) for t in tests]
# The scripts of the scripts suite: one command, and ten commands on the same key.
SCRIPT_ONE = "return redis.call('incr', KEYS[1])"
SCRIPT_TEN = ("for i = 1, 9 do redis.call('incr', KEYS[1]) end\n"
              "return redis.call('get', KEYS[1])")


def scripts_load(opts, server):
    """Caches both scripts (SCRIPT LOAD) so EVALSHA finds them."""
    for body in (SCRIPT_ONE, SCRIPT_TEN):
        server.call("SCRIPT", "LOAD", body)


def suite_scripts(opts) -> List[BenchCase]:
    """Scripting (issue 17): EVALSHA of a script calling one command (INCR of a random key)
    and of one calling ten (nine INCRs and a GET of the same key), the scripts cached by
    SCRIPT LOAD outside the measurement. Run with `--pipeline 16`."""
    import hashlib

    rnd = ["-r", "100000"]
    cases = []
    for name, body, n in (("EVALSHA_1CMD", SCRIPT_ONE, None), ("EVALSHA_10CMD", SCRIPT_TEN, "500000")):
        sha = hashlib.sha1(body.encode()).hexdigest()
        cases.append(BenchCase(name=name, args=["EVALSHA", sha, "1", "key:__rand_int__"],
                               options=rnd + (["-n", n] if n else []), setup=scripts_load))
    return cases


def suite_cluster(opts) -> List[BenchCase]:
    """Cluster mode (issue 22): `redis-benchmark --cluster` SET and GET (or --tests) against
    a six-node cluster of each kind, three masters and three replicas made by
    `redis-cli --cluster create` (see ClusterGroup). CPU is the sum over the six nodes."""
    tests = opts.tests or ["set", "get"]
    return [BenchCase(name=t.upper() + " (cluster)", args=["-t", t], options=["--cluster"])
            for t in tests]


def make_tls_files(dir: str) -> Dict[str, str]:
    """A CA and one certificate it signs, for both the server and redis-benchmark (both
    usages, IP 127.0.0.1), made with the openssl command in `dir`."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=dir, check=True, capture_output=True)

    openssl("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "30", "-subj", "/CN=bench-ca")
    with open(os.path.join(dir, "cert.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n")
    openssl("req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", "cert.key", "-out",
            "cert.csr", "-subj", "/CN=bench")
    openssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "cert.crt", "-days", "30", "-extfile", "cert.ext")
    return {k: os.path.join(dir, f) for k, f in
            (("ca", "ca.crt"), ("cert", "cert.crt"), ("key", "cert.key"))}


def suite_tls(opts) -> List[BenchCase]:
    """TLS (issue 20): SET and GET (or --tests) through `redis-benchmark --tls` with a client
    certificate (mutual TLS) on each server's tls-port; the certificates are made at start."""
    tests = opts.tests or ["set", "get"]
    f = opts.tls_files
    tls = ["--tls", "--cacert", f["ca"], "--cert", f["cert"], "--key", f["key"]]
    return [BenchCase(name=t.upper() + " (tls)", args=["-t", t], options=tls) for t in tests]


ACL_USER = ["bench", "on", ">bench-pass", "~key:*", "+@string"]


def acl_user(opts, server):
    """The acl suite's user, limited to the keys key:* and the string commands."""
    server.call("ACL", "SETUSER", *ACL_USER)


def suite_acl(opts) -> List[BenchCase]:
    """ACL (issue 20): SET and GET (or --tests) as a user limited to `~key:* +@string`
    (redis-benchmark --user), so every request passes the command and key checks."""
    tests = opts.tests or ["set", "get"]
    auth = ["--user", ACL_USER[0], "-a", ACL_USER[2][1:]]
    return [BenchCase(name=t.upper() + " (acl)", args=["-t", t], options=auth, setup=acl_user)
            for t in tests]


SUITES: Dict[str, Callable] = {
    "tls": suite_tls,
    "acl": suite_acl,
    "aof": suite_aof,
    "repl": suite_repl,
    "scripts": suite_scripts,
    "cluster": suite_cluster,
    "hllgeo": suite_hllgeo,
    "lists": suite_lists,
    "hashes": suite_hashes,
    "pubsub": suite_pubsub,
    "default": suite_default,
    "zsets": suite_zsets,
    "evict": suite_evict,
    "sets": suite_sets,
    "streams": suite_streams,
}


# Server options a suite needs, added to --server-args on both servers.
SUITE_SERVER_ARGS: Dict[str, List[str]] = {
    "aof": ["--appendonly", "yes", "--appendfsync", "everysec"],
}


class ClusterGroup:
    """Six nodes of one kind joined by `redis-cli --cluster create --cluster-replicas 1`; it
    stands in for a Server in the throughput run: `port` is the first master's (where
    redis-benchmark --cluster starts), `cpu_us` is the sum over all six processes."""

    def __init__(self, opts, label: str, binary: str, extra_args: List[str]):
        self.label = label
        self.binary = binary
        self.nodes: List[Server] = []
        try:
            for i in range(6):
                args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-port", str(free_port()), "--cluster-node-timeout", "5000"]
                self.nodes.append(Server("%s-%d" % (label, i), binary, args + extra_args))
            cmd = [opts.redis_cli, "--cluster", "create"]
            cmd += ["127.0.0.1:%d" % n.port for n in self.nodes]
            cmd += ["--cluster-replicas", "1", "--cluster-yes"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise RuntimeError("%s: cluster create failed:\n%s%s"
                                   % (label, out.stdout[-2000:], out.stderr[-2000:]))
            self._wait_ok()
        except BaseException:
            self.cleanup()
            raise
        self.port = self.nodes[0].port

    def _wait_ok(self, timeout: float = 60.0):
        """Until every node says cluster_state:ok and every replica's link is up."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            ready = True
            for n in self.nodes:
                if parse_info(n.call("CLUSTER", "INFO")).get("cluster_state") != "ok":
                    ready = False
                    break
                r = n.info("replication")
                if r.get("role") == "slave" and r.get("master_link_status") != "up":
                    ready = False
                    break
            if ready:
                return
            time.sleep(0.1)
        raise RuntimeError("%s: the cluster did not become ok in %d s" % (self.label, timeout))

    def cpu_us(self) -> float:
        return sum(n.cpu_us() for n in self.nodes)

    def alive(self) -> bool:
        return all(n.alive() for n in self.nodes)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join("--- %s ---\n%s" % (n.label, n.log_tail(lines // 3)) for n in self.nodes)

    def call(self, *args):
        return self.nodes[0].call(*args)

    def version(self) -> str:
        return self.nodes[0].version() if self.nodes else "unknown"

    def cleanup(self):
        for n in self.nodes:
            n.cleanup()


def wait_replica_synced(master: Server, replica: Server, keys: Optional[int] = None,
                        timeout: float = 600.0) -> float:
    """Polls every 5 ms until `replica`'s link is up, it has processed everything `master`
    produced, and (with `keys`) it holds that many keys; returns the seconds it took."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        r = replica.info("replication")
        if r.get("master_link_status") == "up":
            m = master.info("replication")
            if m.get("master_repl_offset") == r.get("slave_repl_offset") and (
                keys is None or replica.call("DBSIZE") == keys
            ):
                return time.time() - t0
        time.sleep(0.005)
    raise RuntimeError("%s: replica did not sync in %d s\n%s"
                       % (master.label, timeout, replica.log_tail()))


def attach_replicas(opts, servers: List[Server]):
    """The repl suite: each master gets a replica of its own kind, synced before measuring.
    The replica is cleaned up with its master."""
    for m in servers:
        r = Server(m.label + "-replica", m.binary,
                   ["--replicaof", "127.0.0.1", str(m.port)] + opts.server_args)
        m.companions = [r]
        wait_replica_synced(m, r)


def run_repl_sync(opts) -> List[dict]:
    """A full sync of a dataset (--dataset, --keys): a master of each kind holds it; per round
    a fresh empty replica of the same kind is started and timed from its start until it has
    every key and the master's whole stream. The masters' snapshot goes to the replica as
    their configuration says (repl-diskless-sync yes by default, with no delay here; pass
    --server-args '--repl-diskless-sync no' for the dump file)."""
    dataset = DATASETS[opts.dataset](opts.keys)
    fd, path = tempfile.mkstemp(prefix="ferrodis-bench-dataset-", suffix=".resp")
    args = ["--repl-diskless-sync-delay", "0"] + opts.server_args
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in dataset.chunks:
                f.write(chunk)
        entry = {"dataset": opts.dataset, "keys": dataset.keys,
                 "diskless": "--repl-diskless-sync no" not in " ".join(opts.server_args)}
        masters = [Server("ferrodis", opts.server, args), Server("redis", opts.redis_server, args)]
        try:
            for m in masters:
                load_dataset(opts, m, path, dataset.keys)
                entry[m.label] = {"sync_s": []}
            for rnd in range(opts.rounds):
                for m in (masters if rnd % 2 == 0 else masters[::-1]):
                    t0 = time.time()
                    r = Server(m.label + "-replica", m.binary,
                               ["--replicaof", "127.0.0.1", str(m.port)] + opts.server_args)
                    try:
                        wait_replica_synced(m, r, dataset.keys)
                        took = time.time() - t0
                    finally:
                        r.cleanup()
                    entry[m.label]["sync_s"].append(took)
                    log(opts, "full sync %-9s round %d: %.2f s" % (m.label, rnd + 1, took))
        finally:
            for m in masters:
                m.cleanup()
        for side in ("ferrodis", "redis"):
            entry[side]["sync_median_s"] = median(entry[side]["sync_s"])
        entry["ratio_sync"] = ratio(entry["ferrodis"]["sync_median_s"],
                                    entry["redis"]["sync_median_s"])
        return [entry]
    finally:
        os.unlink(path)


def print_repl_sync(results: List[dict]):
    for e in results:
        print()
        print("Full sync to a new replica, %d keys (%s), %s, median seconds"
              % (e["keys"], e["dataset"], "diskless" if e["diskless"] else "through the dump file"))
        for side in ("ferrodis", "redis"):
            print("%-10s %10.3f" % (side, e[side]["sync_median_s"]))
        print("%-10s %10s" % ("ratio", fmt_ratio(e["ratio_sync"])))


# ------------------------------------------------------------------------------------------------
# Datasets: what memory mode loads
# ------------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """RESP commands to pipe into redis-cli --pipe, and how many keys they create."""

    chunks: Iterable[bytes]
    keys: int
    description: str
    # What "per key" divides by: the keys, or for one big key its elements.
    items: Optional[int] = None


def dataset_strings(n: int) -> Dataset:
    """n string keys `key:N` -> `value:N` (SET)."""

    def gen() -> Iterator[bytes]:
        batch = []
        for i in range(n):
            k = b"key:%d" % i
            v = b"value:%d" % i
            batch.append(
                b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
            )
            if len(batch) == 10000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), n, "%d keys key:N -> value:N" % n)


def dataset_sets(n: int) -> Dataset:
    """n set keys `set:N`, each 10 distinct integers below 10000 (one SADD each), so both
    servers hold them intset-encoded. The issue's memory check is `--dataset sets --keys
    100000`. The members come from a fixed seed: every run loads the same data."""
    import random

    rng = random.Random(20240601)

    def gen() -> Iterator[bytes]:
        batch = []
        for i in range(n):
            k = b"set:%d" % i
            members = [b"%d" % m for m in rng.sample(range(10000), 10)]
            parts = [b"SADD", k] + members
            batch.append(
                b"*%d\r\n" % len(parts)
                + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
            )
            if len(batch) == 10000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), n, "%d sets set:N of 10 integers < 10000" % n)


def dataset_hashes(n: int) -> Dataset:
    """n hash keys `hash:N`, each with 10 fields `field:0`..`field:9` -> `value:N:J`, written
    by one HSET per key, so both servers hold them listpack-encoded. The issue's memory check
    is `--dataset hashes --keys 100000`."""

    def gen() -> Iterator[bytes]:
        batch = []
        for i in range(n):
            parts = [b"HSET", b"hash:%d" % i]
            for j in range(10):
                parts.append(b"field:%d" % j)
                parts.append(b"value:%d:%d" % (i, j))
            batch.append(
                b"*%d\r\n" % len(parts)
                + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
            )
            if len(batch) == 10000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), n, "%d hashes hash:N of 10 fields field:J -> value:N:J" % n)


def _resp_cmd(parts: List[bytes]) -> bytes:
    """One command as RESP bytes."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def dataset_zset_big(n: int) -> Dataset:
    """One sorted set `bigzset` of n members `member:I` with score I (100 pairs per ZADD), so
    both servers hold it skiplist-encoded. The issue's check is `--dataset zset_big --keys
    1000000`; "per key" figures are then for the whole set (DBSIZE is 1)."""

    def gen() -> Iterator[bytes]:
        batch = []
        for start in range(0, n, 100):
            parts = [b"ZADD", b"bigzset"]
            for i in range(start, min(n, start + 100)):
                parts += [b"%d" % i, b"member:%d" % i]
            batch.append(_resp_cmd(parts))
            if len(batch) == 1000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), 1, "1 sorted set of %d members member:I -> I" % n, n)


def dataset_zsets(n: int) -> Dataset:
    """n sorted sets `zset:N` of 10 members `member:J` with score J (one ZADD each), so both
    servers hold them listpack-encoded. The issue's check is `--dataset zsets --keys 100000`."""

    def gen() -> Iterator[bytes]:
        batch = []
        for i in range(n):
            parts = [b"ZADD", b"zset:%d" % i]
            for j in range(10):
                parts += [b"%d" % j, b"member:%d" % j]
            batch.append(_resp_cmd(parts))
            if len(batch) == 10000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), n, "%d sorted sets zset:N of 10 members member:J -> J" % n)


# Register new datasets here: name -> function(n) -> Dataset.
def dataset_lists(n: int) -> Dataset:
    """n lists `list:N` of 1,000 short elements `element:J` each, pushed 100 per RPUSH.
    The lists issue's memory check is `--dataset lists --keys 1000`."""

    def gen() -> Iterator[bytes]:
        for i in range(n):
            k = b"list:%d" % i
            for start in range(0, 1000, 100):
                elems = [b"element:%d" % j for j in range(start, start + 100)]
                out = [b"*%d\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n" % (len(elems) + 2, len(k), k)]
                out += [b"$%d\r\n%s\r\n" % (len(e), e) for e in elems]
                yield b"".join(out)

    return Dataset(gen(), n, "%d lists of 1,000 elements element:J" % n)


def dataset_lists_small(n: int) -> Dataset:
    """n lists `list:N` of 10 short elements `element:J` (one RPUSH each): what small lists
    cost, one quicklist node each on both servers. The issue's check is `--dataset
    lists_small --keys 100000`."""

    def gen() -> Iterator[bytes]:
        batch = []
        for i in range(n):
            parts = [b"RPUSH", b"list:%d" % i] + [b"element:%d" % j for j in range(10)]
            batch.append(_resp_cmd(parts))
            if len(batch) == 10000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), n, "%d lists list:N of 10 elements element:J" % n)


def dataset_stream(n: int) -> Dataset:
    """One stream `stream` of n small entries (`XADD stream <i+1>-0 f <i>`, explicit IDs so
    both servers hold the same nodes). The streams issue's check is `--dataset stream --keys
    1000000`; "per key" figures are then for the whole stream (DBSIZE is 1)."""

    def gen() -> Iterator[bytes]:
        batch = []
        for i in range(n):
            batch.append(_resp_cmd([b"XADD", b"stream", b"%d-0" % (i + 1), b"f", b"%d" % i]))
            if len(batch) == 10000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return Dataset(gen(), 1, "1 stream of %d entries f -> I" % n)


def _batched(cmds: Iterator[bytes], per: int = 1000) -> Iterator[bytes]:
    """Joins RESP commands into chunks of `per` commands."""
    batch = []
    for c in cmds:
        batch.append(c)
        if len(batch) == per:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


def _collections(cmd: bytes, prefix: bytes, n: int, size: int, elem, per_cmd: int = 100):
    """n keys `<prefix>:N`, each filled with `size` elements by `cmd` commands carrying up to
    `per_cmd` elements; elem(i, j) gives element j of key i as a list of arguments (a member,
    a field and its value, a score and its member)."""

    def gen() -> Iterator[bytes]:
        for i in range(n):
            k = prefix + b":%d" % i if n > 1 else prefix
            for start in range(0, size, per_cmd):
                parts = [cmd, k]
                for j in range(start, min(size, start + per_cmd)):
                    parts += elem(i, j)
                yield _resp_cmd(parts)

    return _batched(gen())


def dataset_strings_expire(n: int) -> Dataset:
    """n string keys `key:N` -> `value:N`, each with a TTL (SET .. EX 100000): the keyspace
    entry plus the expires entry."""

    def gen() -> Iterator[bytes]:
        for i in range(n):
            yield _resp_cmd([b"SET", b"key:%d" % i, b"value:%d" % i, b"EX", b"100000"])

    return Dataset(_batched(gen(), 10000), n, "%d keys key:N -> value:N with EX" % n)


def dataset_strings_key20(n: int) -> Dataset:
    """n string keys of 20 bytes `session:NNNNNNNNNNNN` -> `value:N`: keys past the 15 bytes
    an `Sds` holds inline, so each key costs ferrodis one heap block."""

    def gen() -> Iterator[bytes]:
        for i in range(n):
            yield _resp_cmd([b"SET", b"session:%012d" % i, b"value:%d" % i])

    return Dataset(_batched(gen(), 10000), n, "%d keys session:NNNNNNNNNNNN -> value:N" % n)


def dataset_hashes_ht(n: int) -> Dataset:
    """n hashes `hash:N` of 1,000 fields `field:J` -> `value:J` (hashtable on both servers:
    past hash-max-listpack-entries 128)."""
    return Dataset(_collections(b"HSET", b"hash", n, 1000,
                                lambda i, j: [b"field:%d" % j, b"value:%d" % j]),
                   n, "%d hashes of 1,000 fields field:J -> value:J (hashtable)" % n)


def dataset_hash_big(n: int) -> Dataset:
    """One hash `bighash` of n fields `field:J` -> `value:J` (hashtable)."""
    return Dataset(_collections(b"HSET", b"bighash", 1, n,
                                lambda i, j: [b"field:%d" % j, b"value:%d" % j]),
                   1, "1 hash of %d fields field:J -> value:J (hashtable)" % n, n)


def dataset_sets_str(n: int) -> Dataset:
    """n sets `set:N` of 10 short strings `member:J` (one SADD each): hashtable-encoded on
    both servers (7.0 sets are intset or hashtable)."""
    return Dataset(_collections(b"SADD", b"set", n, 10, lambda i, j: [b"member:%d" % j]),
                   n, "%d sets of 10 strings member:J (hashtable)" % n)


def dataset_sets_big(n: int) -> Dataset:
    """n sets `set:N` of 1,000 strings `member:J` (hashtable)."""
    return Dataset(_collections(b"SADD", b"set", n, 1000, lambda i, j: [b"member:%d" % j]),
                   n, "%d sets of 1,000 strings member:J (hashtable)" % n)


def dataset_set_big(n: int) -> Dataset:
    """One set `bigset` of n strings `member:J` (hashtable)."""
    return Dataset(_collections(b"SADD", b"bigset", 1, n, lambda i, j: [b"member:%d" % j]),
                   1, "1 set of %d strings member:J (hashtable)" % n, n)


def dataset_intsets_big(n: int) -> Dataset:
    """n sets `set:N` of the 500 integers 0..499 (intset: at set-max-intset-entries 512)."""
    return Dataset(_collections(b"SADD", b"set", n, 500, lambda i, j: [b"%d" % j]),
                   n, "%d sets of 500 integers (intset)" % n)


def dataset_zsets_big(n: int) -> Dataset:
    """n sorted sets `zset:N` of 1,000 members `member:J` with score J (skiplist)."""
    return Dataset(_collections(b"ZADD", b"zset", n, 1000,
                                lambda i, j: [b"%d" % j, b"member:%d" % j]),
                   n, "%d sorted sets of 1,000 members member:J -> J (skiplist)" % n)


def dataset_list_big(n: int) -> Dataset:
    """One list `biglist` of n elements `element:J` (quicklist of many nodes)."""
    return Dataset(_collections(b"RPUSH", b"biglist", 1, n, lambda i, j: [b"element:%d" % j]),
                   1, "1 list of %d elements element:J" % n, n)


DATASETS: Dict[str, Callable[[int], Dataset]] = {
    "stream": dataset_stream,
    "strings_expire": dataset_strings_expire,
    "strings_key20": dataset_strings_key20,
    "hashes_ht": dataset_hashes_ht,
    "hash_big": dataset_hash_big,
    "sets_str": dataset_sets_str,
    "sets_big": dataset_sets_big,
    "set_big": dataset_set_big,
    "intsets_big": dataset_intsets_big,
    "zsets_big": dataset_zsets_big,
    "list_big": dataset_list_big,
    "lists": dataset_lists,
    "lists_small": dataset_lists_small,
    "hashes": dataset_hashes,
    "strings": dataset_strings,
    "zset_big": dataset_zset_big,
    "zsets": dataset_zsets,
    "sets": dataset_sets,
}


# The memory suite (`--suite memory`): one row per (dataset, keys), every encoding of every
# type, the keyspace entry, and large collections. `--datasets a,b` keeps some rows.
MEMORY_SUITE: List[Tuple[str, int, str]] = [
    ("strings", 1000000, "strings (keyspace entry)"),
    ("strings_expire", 1000000, "strings with TTL (+ expires)"),
    ("strings_key20", 1000000, "strings, 20-byte keys"),
    ("lists_small", 100000, "lists x10 (quicklist, 1 node)"),
    ("lists", 1000, "lists x1000 (quicklist)"),
    ("list_big", 1000000, "list of 1M (quicklist)"),
    ("hashes", 100000, "hashes x10 (listpack)"),
    ("hashes_ht", 1000, "hashes x1000 (hashtable)"),
    ("hash_big", 1000000, "hash of 1M (hashtable)"),
    ("sets", 100000, "sets x10 (intset)"),
    ("intsets_big", 1000, "sets x500 (intset)"),
    ("sets_str", 100000, "sets x10 (hashtable)"),
    ("sets_big", 1000, "sets x1000 (hashtable)"),
    ("set_big", 1000000, "set of 1M (hashtable)"),
    ("zsets", 100000, "zsets x10 (listpack)"),
    ("zsets_big", 1000, "zsets x1000 (skiplist)"),
    ("zset_big", 1000000, "zset of 1M (skiplist)"),
]


# ------------------------------------------------------------------------------------------------
# Throughput
# ------------------------------------------------------------------------------------------------


def run_case(
    opts, server: Server, case: BenchCase, pipeline: int, requests: int
) -> Tuple[float, float]:
    """Runs one redis-benchmark; returns (requests/s, server CPU µs per request)."""
    cmd = [
        opts.redis_benchmark,
        "-h",
        "127.0.0.1",
        "-p",
        str(getattr(server, "bench_port", server.port)),
        "-c",
        str(opts.clients),
        "-n",
        str(requests),
        "-P",
        str(pipeline),
        "--csv",
        "-q",
    ]
    cmd += opts.benchmark_args + case.options + case.args
    # A case may set its own request count (-n after the common one wins).
    extra = opts.benchmark_args + case.options
    if "-n" in extra:
        requests = int(extra[len(extra) - 1 - extra[::-1].index("-n") + 1])
    if case.setup is not None:
        case.setup(opts, server)
    before = server.cpu_us()
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = server.cpu_us()
    if out.returncode != 0 or not server.alive():
        raise RuntimeError(
            "%s failed on %s (exit %s, server %s):\n%s\n%s\n--- server log ---\n%s"
            % (
                " ".join(shlex.quote(c) for c in cmd),
                server.label,
                out.returncode,
                "alive" if server.alive() else "DEAD",
                out.stdout[-2000:],
                out.stderr[-2000:],
                server.log_tail(),
            )
        )
    rows = [
        line.split('","')
        for line in out.stdout.splitlines()
        if line.startswith('"') and not line.startswith('"test"')
    ]
    if len(rows) != 1:
        raise RuntimeError(
            "expected one CSV row from %s, got:\n%s\n(each case must run exactly one test, "
            "e.g. ping_inline rather than ping, lrange_100 rather than lrange)"
            % (" ".join(cmd), out.stdout)
        )
    rps = float(rows[0][1].strip('"'))
    return rps, (after - before) / requests


def median(xs: List[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0 or a != a or b != b:
        return None
    return a / b


def run_throughput(opts, servers: List[Server]) -> List[dict]:
    cases = SUITES[opts.suite](opts)
    results = []
    # results[(config, case)] -> label -> {"rps": [...], "cpu": [...]}
    samples: Dict[Tuple[int, int, str], Dict[str, Dict[str, List[float]]]] = {}
    for rnd in range(opts.rounds):
        order = servers if rnd % 2 == 0 else list(reversed(servers))
        for pipeline, requests in opts.configs:
            for case in cases:
                key = (pipeline, requests, case.name)
                for server in order:
                    rps, cpu = run_case(opts, server, case, pipeline, requests)
                    slot = samples.setdefault(key, {}).setdefault(
                        server.label, {"rps": [], "cpu": []}
                    )
                    slot["rps"].append(rps)
                    slot["cpu"].append(cpu)
                    log(
                        opts,
                        "round %d/%d  -P %-3d %-16s %-9s %12.0f req/s %8.3f us/req"
                        % (rnd + 1, opts.rounds, pipeline, case.name, server.label, rps, cpu),
                    )
    for pipeline, requests in opts.configs:
        for case in cases:
            per = samples[(pipeline, requests, case.name)]
            entry = {
                "test": case.name,
                "pipeline": pipeline,
                "clients": opts.clients,
                "requests": requests,
            }
            for label in ("ferrodis", "redis"):
                s = per[label]
                entry[label] = {
                    "rps": s["rps"],
                    "cpu_us_per_req": s["cpu"],
                    "rps_median": median(s["rps"]),
                    "cpu_us_per_req_median": median(s["cpu"]),
                }
            entry["ratio_rps"] = ratio(
                entry["ferrodis"]["rps_median"], entry["redis"]["rps_median"]
            )
            entry["ratio_cpu"] = ratio(
                entry["ferrodis"]["cpu_us_per_req_median"],
                entry["redis"]["cpu_us_per_req_median"],
            )
            results.append(entry)
    return results


def fmt_ratio(r: Optional[float]) -> str:
    return "n/a" if r is None else "%.2f" % r


def print_throughput(opts, results: List[dict]):
    print()
    print(
        "Throughput: %d clients, %d round(s), medians; ratio = ferrodis/redis "
        "(rps: higher is better, cpu: lower is better)" % (opts.clients, opts.rounds)
    )
    head = "%-16s %3s %9s %13s %13s %7s %11s %11s %7s" % (
        "test",
        "P",
        "requests",
        "ferrodis rps",
        "redis rps",
        "rps f/r",
        "ferrodis us",
        "redis us",
        "cpu f/r",
    )
    print(head)
    print("-" * len(head))
    for e in results:
        print(
            "%-16s %3d %9d %13.0f %13.0f %7s %11.3f %11.3f %7s"
            % (
                e["test"][:16],
                e["pipeline"],
                e["requests"],
                e["ferrodis"]["rps_median"],
                e["redis"]["rps_median"],
                fmt_ratio(e["ratio_rps"]),
                e["ferrodis"]["cpu_us_per_req_median"],
                e["redis"]["cpu_us_per_req_median"],
                fmt_ratio(e["ratio_cpu"]),
            )
        )


# ------------------------------------------------------------------------------------------------
# Memory
# ------------------------------------------------------------------------------------------------


def memory_snapshot(server: Server) -> dict:
    used = server.info("memory").get("used_memory")
    return {"rss": server.rss_bytes(), "used_memory": int(used) if used else None}


def load_dataset(opts, server: Server, path: str, keys: int):
    with open(path, "rb") as f:
        out = subprocess.run(
            [opts.redis_cli, "-h", "127.0.0.1", "-p", str(server.port), "--pipe"],
            stdin=f,
            capture_output=True,
            text=True,
        )
    summary = out.stdout.strip().splitlines()[-1:] or [""]
    if out.returncode != 0 or "errors: 0," not in summary[0]:
        raise RuntimeError(
            "loading into %s failed (exit %s):\n%s\n%s\n--- server log ---\n%s"
            % (server.label, out.returncode, out.stdout[-2000:], out.stderr[-2000:],
               server.log_tail())
        )
    dbsize = server.call("DBSIZE")
    if dbsize != keys:
        raise RuntimeError("%s has %s keys after loading, expected %d" % (server.label, dbsize, keys))


def measure_dataset(opts, make_servers, name: str, keys: int) -> dict:
    """Loads dataset `name` of size `keys` into a fresh pair of servers, waits --settle
    seconds once both are loaded, and returns the row: RSS and used_memory before and after,
    per key, and the ratios ferrodis/redis."""
    dataset = DATASETS[name](keys)
    fd, path = tempfile.mkstemp(prefix="ferrodis-bench-dataset-", suffix=".resp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in dataset.chunks:
                f.write(chunk)
        servers = make_servers()
        try:
            entry = {"dataset": name, "description": dataset.description,
                     "keys": dataset.keys, "size": keys}
            sides = {}
            for server in servers:
                before = memory_snapshot(server)
                t0 = time.time()
                load_dataset(opts, server, path, dataset.keys)
                sides[server.label] = {"before": before, "load_seconds": time.time() - t0}
                log(opts, "memory %-15s %-9s loaded in %.1f s"
                    % (name, server.label, sides[server.label]["load_seconds"]))
            # Both servers run jemalloc with a background thread that returns freed pages
            # (the load's query buffers) after its decay time (10 s); measure both once that
            # has passed for both.
            time.sleep(opts.settle)
            for server in servers:
                side = sides[server.label]
                before = side["before"]
                after = side["after"] = memory_snapshot(server)
                per = dataset.items or dataset.keys
                side["rss_per_key"] = (after["rss"] - before["rss"]) / per
                if after["used_memory"] is not None and before["used_memory"] is not None:
                    side["used_memory_per_key"] = (
                        after["used_memory"] - before["used_memory"]
                    ) / per
                else:
                    side["used_memory_per_key"] = None
                entry[server.label] = side
            f, r = entry["ferrodis"], entry["redis"]
            entry["ratio_rss"] = ratio(f["after"]["rss"], r["after"]["rss"])
            entry["ratio_used_memory"] = ratio(
                f["after"]["used_memory"], r["after"]["used_memory"]
            )
            entry["ratio_rss_per_key"] = ratio(f["rss_per_key"], r["rss_per_key"])
            entry["ratio_used_memory_per_key"] = ratio(
                f["used_memory_per_key"], r["used_memory_per_key"]
            )
            return entry
        finally:
            for s in servers:
                s.cleanup()
    finally:
        os.unlink(path)


def run_memory(opts, make_servers) -> List[dict]:
    return [measure_dataset(opts, make_servers, opts.dataset, opts.keys)]


def run_memory_suite(opts, make_servers) -> List[dict]:
    rows = []
    for name, keys, label in MEMORY_SUITE:
        if opts.datasets and name not in opts.datasets:
            continue
        entry = measure_dataset(opts, make_servers, name, keys)
        entry["label"] = label
        rows.append(entry)
    return rows


def print_memory_suite(results: List[dict]):
    print()
    print("Memory: fresh servers per row, loaded through redis-cli --pipe, sampled after the "
          "settle; RSS = VmRSS of the whole process, per key = (after - before) / keys "
          "(per element for one big key); ratio = ferrodis/redis")
    head = "%-31s %9s %9s %6s %10s %10s %6s %10s %10s %6s" % (
        "dataset", "f RSS", "r RSS", "RSS", "f RSS/key", "r RSS/key", "/key",
        "f used/key", "r used/key", "used")
    print(head)
    print("-" * len(head))
    for e in results:
        f, r = e["ferrodis"], e["redis"]
        print("%-31s %9s %9s %6s %10.1f %10.1f %6s %10.1f %10.1f %6s" % (
            e.get("label", e["dataset"])[:31],
            mib(f["after"]["rss"]), mib(r["after"]["rss"]), fmt_ratio(e["ratio_rss"]),
            f["rss_per_key"], r["rss_per_key"], fmt_ratio(e["ratio_rss_per_key"]),
            f["used_memory_per_key"] or 0.0, r["used_memory_per_key"] or 0.0,
            fmt_ratio(e["ratio_used_memory_per_key"])))


def wait_rewrite_done(server: Server, timeout: float = 600.0) -> float:
    """Polls INFO persistence every 5 ms until no rewrite runs or is scheduled; returns the
    seconds it took."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        info = server.info("persistence")
        if info.get("aof_rewrite_in_progress") == "0" and info.get("aof_rewrite_scheduled") == "0":
            return time.time() - t0
        time.sleep(0.005)
    raise RuntimeError("%s: rewrite did not finish in %d s" % (server.label, timeout))


def run_aof_rewrite(opts) -> List[dict]:
    """BGREWRITEAOF of a dataset and loading the result, on both servers: a fresh pair with
    appendonly yes, the dataset (--dataset, --keys) piped in, then per round BGREWRITEAOF
    (time until INFO says it finished), and a restart on the same directory (time until the
    server answers PING, i.e. the AOF is loaded)."""
    dataset = DATASETS[opts.dataset](opts.keys)
    fd, path = tempfile.mkstemp(prefix="ferrodis-bench-dataset-", suffix=".resp")
    args = ["--appendonly", "yes", "--appendfsync", "everysec"] + opts.server_args
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in dataset.chunks:
                f.write(chunk)
        entry = {"dataset": opts.dataset, "keys": dataset.keys}
        servers = [Server("ferrodis", opts.server, args), Server("redis", opts.redis_server, args)]
        try:
            for s in servers:
                load_dataset(opts, s, path, dataset.keys)
                entry[s.label] = {"rewrite_s": [], "load_s": []}
            for rnd in range(opts.rounds):
                order = servers if rnd % 2 == 0 else servers[::-1]
                for i, s in enumerate(order):
                    s.call("BGREWRITEAOF")
                    took = wait_rewrite_done(s)
                    entry[s.label]["rewrite_s"].append(took)
                    # Restart on the same directory: SHUTDOWN writes nothing (no save points)
                    # but flushes the AOF; the new process loads base + incr.
                    try:
                        s.call("SHUTDOWN", "NOSAVE")
                    except (ConnectionError, OSError, RespError):
                        pass
                    s.proc.wait(timeout=60)
                    t0 = time.time()
                    fresh = Server(s.label, s.binary, args, dir=s.dir)
                    load = time.time() - t0
                    if fresh.call("DBSIZE") != dataset.keys:
                        raise RuntimeError("%s lost keys across the restart" % s.label)
                    entry[s.label]["load_s"].append(load)
                    servers[servers.index(s)] = fresh
                    log(opts, "aof %-9s round %d: rewrite %.2f s, load %.2f s"
                        % (s.label, rnd + 1, took, load))
        finally:
            for s in servers:
                s.cleanup()
        for side in ("ferrodis", "redis"):
            entry[side]["rewrite_median_s"] = median(entry[side]["rewrite_s"])
            entry[side]["load_median_s"] = median(entry[side]["load_s"])
        entry["ratio_rewrite"] = ratio(entry["ferrodis"]["rewrite_median_s"],
                                       entry["redis"]["rewrite_median_s"])
        entry["ratio_load"] = ratio(entry["ferrodis"]["load_median_s"],
                                    entry["redis"]["load_median_s"])
        return [entry]
    finally:
        os.unlink(path)


def print_aof_rewrite(results: List[dict]):
    for e in results:
        print()
        print("AOF rewrite and load, %d keys (%s), median seconds" % (e["keys"], e["dataset"]))
        print("%-10s %12s %12s" % ("", "BGREWRITEAOF", "load"))
        for side in ("ferrodis", "redis"):
            print("%-10s %12.3f %12.3f" % (side, e[side]["rewrite_median_s"],
                                           e[side]["load_median_s"]))
        print("%-10s %12s %12s" % ("ratio", fmt_ratio(e["ratio_rewrite"]),
                                   fmt_ratio(e["ratio_load"])))


def mib(n: Optional[float]) -> str:
    return "n/a" if n is None else "%.1f MiB" % (n / 1048576)


def per_key(n: Optional[float]) -> str:
    return "n/a" if n is None else "%.1f B" % n


def print_memory(results: List[dict]):
    for e in results:
        print()
        print("Memory: dataset %s (%s)" % (e["dataset"], e["description"]))
        head = "%-22s %14s %14s %7s" % ("", "ferrodis", "redis", "f/r")
        print(head)
        print("-" * len(head))
        f, r = e["ferrodis"], e["redis"]
        rows = [
            ("VmRSS", mib(f["after"]["rss"]), mib(r["after"]["rss"]), e["ratio_rss"]),
            ("used_memory", mib(f["after"]["used_memory"]), mib(r["after"]["used_memory"]),
             e["ratio_used_memory"]),
            ("RSS bytes/key", per_key(f["rss_per_key"]), per_key(r["rss_per_key"]),
             e["ratio_rss_per_key"]),
            ("used_memory bytes/key", per_key(f["used_memory_per_key"]),
             per_key(r["used_memory_per_key"]), e["ratio_used_memory_per_key"]),
            ("load time", "%.1f s" % f["load_seconds"], "%.1f s" % r["load_seconds"],
             ratio(f["load_seconds"], r["load_seconds"])),
        ]
        for name, a, b, q in rows:
            print("%-22s %14s %14s %7s" % (name, a, b, fmt_ratio(q)))


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def log(opts, msg: str):
    if not opts.quiet:
        print(msg, file=sys.stderr, flush=True)


def int_list(text: str) -> List[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers: %r" % text)
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers: %r" % text)
    return values


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Benchmark ferrodis against redis-server (throughput, CPU/request, memory).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("server", nargs="?", default="target/release/ferrodis-server",
                   help="the ferrodis binary (any Redis-compatible server works)")
    p.add_argument("--redis-server", default="redis-server", help="the reference server")
    p.add_argument("--redis-benchmark", default="redis-benchmark")
    p.add_argument("--redis-cli", default="redis-cli")
    p.add_argument("--suite", default="default", choices=sorted(list(SUITES) + ["memory"]),
                   help="which list of benchmark cases to run; `memory` runs only the memory "
                        "table (MEMORY_SUITE: every type and encoding, small and large)")
    p.add_argument("--datasets", type=lambda s: [t for t in s.split(",") if t], default=[],
                   help="with --suite memory: only these rows (dataset names)")
    p.add_argument("--tests", type=lambda s: [t for t in s.split(",") if t],
                   help="redis-benchmark -t tests for the default suite "
                        "(default: %s)" % ",".join(DEFAULT_TESTS))
    p.add_argument("--pipeline", type=int_list, default=[16, 1],
                   help="comma-separated -P values, each one a configuration")
    p.add_argument("--requests", type=int_list, default=[2000000, 100000],
                   help="-n per pipeline value (one value applies to all)")
    p.add_argument("--clients", type=int, default=50, help="-c")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--benchmark-args", type=shlex.split, default=[],
                   help="extra redis-benchmark options, e.g. '-r 100000 -d 64'")
    p.add_argument("--server-args", type=shlex.split, default=[],
                   help="extra config arguments for both servers")
    p.add_argument("--memory", action="store_true", help="also run the memory comparison")
    p.add_argument("--only-memory", action="store_true", help="run only the memory comparison")
    p.add_argument("--aof-rewrite", action="store_true",
                   help="only time BGREWRITEAOF of the dataset and loading the result")
    p.add_argument("--repl-sync", action="store_true",
                   help="only time a full sync of the dataset to a new replica")
    p.add_argument("--dataset", default="strings", choices=sorted(DATASETS))
    p.add_argument("--keys", type=int, default=1000000, help="dataset size for memory mode")
    p.add_argument("--settle", type=float, default=12.0,
                   help="seconds to wait after loading before sampling memory (both servers)")
    p.add_argument("--evict-maxmemory", type=int, default=64 << 20,
                   help="maxmemory in bytes for the evict suite")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    opts = p.parse_args(argv)
    if len(opts.requests) == 1:
        opts.requests = opts.requests * len(opts.pipeline)
    if len(opts.requests) != len(opts.pipeline):
        p.error("--requests needs one value, or one per --pipeline value")
    opts.configs = list(zip(opts.pipeline, opts.requests))
    if opts.rounds < 1 or opts.clients < 1 or opts.keys < 1:
        p.error("--rounds, --clients and --keys must be positive")
    return opts


def check_tools(opts):
    missing = []
    for tool in (opts.server, opts.redis_server, opts.redis_benchmark, opts.redis_cli):
        if shutil.which(tool) is None:
            missing.append(tool)
    if missing:
        sys.exit(
            "missing: %s (build ferrodis with `make`; install Redis 7.0.15 with "
            "`apt-get install redis-server redis-tools`)" % ", ".join(missing)
        )


def main(argv=None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    check_tools(opts)
    # Turn SIGTERM into an exception so the servers are always killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    suite_args = SUITE_SERVER_ARGS.get(opts.suite, [])
    tls_dir = None
    if opts.suite == "tls":
        import atexit

        tls_dir = tempfile.mkdtemp(prefix="ferrodis-bench-tls-")
        atexit.register(shutil.rmtree, tls_dir, True)
        opts.tls_files = make_tls_files(tls_dir)
        f = opts.tls_files
        suite_args = ["--tls-cert-file", f["cert"], "--tls-key-file", f["key"],
                      "--tls-ca-cert-file", f["ca"]]

    def make_servers() -> List[Server]:
        started = []
        try:
            if opts.suite == "cluster":
                started.append(ClusterGroup(opts, "ferrodis", opts.server,
                                            suite_args + opts.server_args))
                started.append(ClusterGroup(opts, "redis", opts.redis_server,
                                            suite_args + opts.server_args))
                return started
            for label, binary in (("ferrodis", opts.server), ("redis", opts.redis_server)):
                extra = []
                if opts.suite == "tls":
                    extra = ["--tls-port", str(free_port())]
                started.append(Server(label, binary, suite_args + extra + opts.server_args))
                if extra:
                    started[-1].bench_port = int(extra[1])
        except BaseException:
            for s in started:
                s.cleanup()
            raise
        return started

    report = {
        "meta": {
            "ferrodis_binary": opts.server,
            "redis_binary": opts.redis_server,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": socket.gethostname(),
            "cpus": os.cpu_count(),
            "rounds": opts.rounds,
            "clients": opts.clients,
            "suite": opts.suite,
            "configs": [{"pipeline": p, "requests": n} for p, n in opts.configs],
        }
    }
    try:
        if opts.suite == "memory":
            report["memory"] = run_memory_suite(opts, make_servers)
            print_memory_suite(report["memory"])
        elif opts.aof_rewrite:
            report["aof_rewrite"] = run_aof_rewrite(opts)
            print_aof_rewrite(report["aof_rewrite"])
        elif opts.repl_sync:
            report["repl_sync"] = run_repl_sync(opts)
            print_repl_sync(report["repl_sync"])
        elif not opts.only_memory:
            servers = make_servers()
            try:
                report["meta"]["ferrodis_version"] = servers[0].version()
                report["meta"]["redis_version"] = servers[1].version()
                if opts.suite == "repl":
                    attach_replicas(opts, servers)
                report["throughput"] = run_throughput(opts, servers)
            finally:
                for s in servers:
                    s.cleanup()
            print_throughput(opts, report["throughput"])
        if (opts.memory or opts.only_memory) and opts.suite != "memory":
            report["memory"] = run_memory(opts, make_servers)
            print_memory(report["memory"])
    except RuntimeError as e:
        print("bench failed: %s" % e, file=sys.stderr)
        return 1
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        log(opts, "wrote %s" % opts.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
