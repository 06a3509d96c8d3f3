"""redis-py (sync) against ferrodis: pools, pipelines, WATCH retries, Pub/Sub, blocking pops,
SCAN iterators, RESP3 types, streams, scripts (register_script and its NOSCRIPT fallback),
the error classes for WRONGTYPE, NOSCRIPT, BUSY (and SCRIPT KILL) and OOM, client-side caching
(CLIENT TRACKING through an invalidation push handler or a redirect) and redis-py's Lock.

Usage: redis_py.py [--protocol 2|3] [--parser python|hiredis]; the server is 127.0.0.1:$FERRODIS_PORT.
"""

import argparse
import os
import sys
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    LockError,
    LockNotOwnedError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ResponseError,
    WatchError,
)
from redis.retry import Retry

ap = argparse.ArgumentParser()
ap.add_argument("--protocol", type=int, default=2, choices=(2, 3))
ap.add_argument("--parser", default="python", choices=("python", "hiredis"))
opts = ap.parse_args()

PORT = int(os.environ["FERRODIS_PORT"])
FAILS = []


def check(name, got, want):
    if got != want:
        FAILS.append(name)
        print(f"FAIL {name}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {name}")


def kwargs():
    kw = dict(host="127.0.0.1", port=PORT, protocol=opts.protocol, socket_timeout=10)
    if opts.parser == "hiredis":
        from redis._parsers import _HiredisParser

        kw["parser_class"] = _HiredisParser
    else:
        from redis._parsers import _RESP2Parser, _RESP3Parser

        kw["parser_class"] = _RESP3Parser if opts.protocol == 3 else _RESP2Parser
    return kw


def client(single_connection_client=False, **extra):
    kw = kwargs()
    kw.update(extra)
    return redis.Redis(
        connection_pool=redis.ConnectionPool(**kw), single_connection_client=single_connection_client
    )


print(f"redis-py {redis.__version__}, protocol {opts.protocol}, parser {opts.parser}", end="")
if opts.parser == "hiredis":
    import hiredis

    print(f" (hiredis {hiredis.__version__})", end="")
print()

r = client(decode_responses=True)
if os.environ.get("FERRODIS_FIRST_CLIENT_ID"):
    # A fresh server numbers its first connection after its internal clients (tests/clients.rs).
    check("first client id", r.client_id(), int(os.environ["FERRODIS_FIRST_CLIENT_ID"]))
r.flushall()
check("ping", r.ping(), True)
check("hello proto", r.execute_command("HELLO")["proto"] if opts.protocol == 3 else 2, opts.protocol)

# Connection pool: 8 threads share 4 connections.
pool = redis.BlockingConnectionPool(max_connections=4, timeout=10, **kwargs())
pooled = redis.Redis(connection_pool=pool)
errors = []


def incr_many():
    try:
        for _ in range(200):
            pooled.incr("pool:counter")
    except Exception as e:  # noqa: BLE001
        errors.append(e)


threads = [threading.Thread(target=incr_many) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check("pool errors", errors, [])
check("pool counter", r.get("pool:counter"), "1600")
check("pool size bounded", len(pool._connections) <= 4, True)
pool.disconnect()

# Pipelines, with and without MULTI.
p = r.pipeline(transaction=False)
for i in range(100):
    p.rpush("pipe:list", i)
p.lrange("pipe:list", 0, 2)
p.llen("pipe:list")
res = p.execute()
check("pipeline replies", res[-2:], [["0", "1", "2"], 100])
p = r.pipeline(transaction=True)
p.set("tx:a", 1).incr("tx:a").get("tx:a")
check("multi/exec pipeline", p.execute(), [True, 2, "2"])
p = r.pipeline(transaction=False)
p.set("pipe:s", "x").lpush("pipe:s", 1).get("pipe:s")
res = p.execute(raise_on_error=False)
check("pipeline error in place", (res[0], type(res[1]).__name__, res[2]), (True, "ResponseError", "x"))

# WATCH with retry: the first attempt is spoiled by another client and must be retried.
r.set("watch:k", 10)
attempts = []
other = client()


def txn(pipe):
    v = int(pipe.get("watch:k"))
    attempts.append(v)
    if len(attempts) == 1:
        other.incr("watch:k")
    pipe.multi()
    pipe.set("watch:k", v * 2)


r.transaction(txn, "watch:k")
check("watch retry attempts", attempts, [10, 11])
check("watch retry result", r.get("watch:k"), "22")
with r.pipeline() as pipe:
    pipe.watch("watch:k")
    other.set("watch:k", 0)
    pipe.multi()
    pipe.set("watch:k", 1)
    try:
        pipe.execute()
        check("watch error", "no error", "WatchError")
    except WatchError:
        check("watch error", "WatchError", "WatchError")
check("watch aborted value", r.get("watch:k"), "0")

# Pub/Sub with channel and pattern subscriptions.
ps = client(decode_responses=True).pubsub(ignore_subscribe_messages=True)
ps.subscribe("news")
ps.psubscribe("ev:*")
deadline = time.time() + 5
while r.pubsub_numpat() < 1 and time.time() < deadline:
    ps.get_message(timeout=0.05)
check("numsub", r.pubsub_numsub("news"), [("news", 1)])
check("publish channel", r.publish("news", "hello"), 1)
check("publish pattern", r.publish("ev:login", "bob"), 1)


def next_msg():
    deadline = time.time() + 5
    while time.time() < deadline:
        m = ps.get_message(timeout=0.2)
        if m is not None:
            return m
    return None


m = next_msg()
check("message", (m["type"], m["channel"], m["data"]), ("message", "news", "hello"))
m = next_msg()
check("pmessage", (m["type"], m["pattern"], m["channel"], m["data"]), ("pmessage", "ev:*", "ev:login", "bob"))
got = []
ps2 = client(decode_responses=True).pubsub()
ps2.psubscribe(**{"t:*": lambda msg: got.append(msg["data"])})
thread = ps2.run_in_thread(sleep_time=0.05)
deadline = time.time() + 5
while r.pubsub_numpat() < 2 and time.time() < deadline:
    time.sleep(0.02)
r.publish("t:1", "a")
r.publish("t:2", "b")
deadline = time.time() + 5
while len(got) < 2 and time.time() < deadline:
    time.sleep(0.02)
thread.stop()
thread.join(5)
check("pattern handler thread", got, ["a", "b"])
ps.unsubscribe()
ps.punsubscribe()
ps.close()
ps2.close()

# Blocking pops with timeouts.
t0 = time.time()
check("blpop timeout", r.blpop(["bl:empty"], timeout=0.2), None)
check("blpop waited", time.time() - t0 >= 0.15, True)
pusher = client()
threading.Timer(0.2, lambda: pusher.rpush("bl:q", "job1")).start()
check("blpop wakes", r.blpop(["bl:none", "bl:q"], timeout=5), ("bl:q", "job1") if opts.protocol == 2 else ["bl:q", "job1"])
threading.Timer(0.2, lambda: pusher.zadd("bl:z", {"m": 3})).start()
bz = r.bzpopmin("bl:z", timeout=5)
check("bzpopmin wakes", (bz[0], bz[1], float(bz[2])), ("bl:z", "m", 3.0))
check("blmove timeout", r.blmove("bl:empty", "bl:dst", 0.1), None)

# SCAN iterators.
r.mset({f"scan:{i}": i for i in range(300)})
check("scan_iter", sorted(r.scan_iter(match="scan:*", count=50)), sorted(f"scan:{i}" for i in range(300)))
check("scan_iter type", list(r.scan_iter(_type="list", match="pipe:*")), ["pipe:list"])
r.hset("scan:h", mapping={f"f{i}": i for i in range(200)})
check("hscan_iter", len(dict(r.hscan_iter("scan:h", count=20))), 200)
r.sadd("scan:s", *range(150))
check("sscan_iter", len(set(r.sscan_iter("scan:s", match="1*"))), 61)
r.zadd("scan:z", {f"m{i}": i for i in range(200)})
check("zscan_iter", sum(s for _, s in r.zscan_iter("scan:z")), float(sum(range(200))))

# RESP3 types (maps, sets, doubles) as the client decodes them.
r.hset("r3:h", mapping={"a": "1", "b": "2"})
check("hgetall dict", r.hgetall("r3:h"), {"a": "1", "b": "2"})
r.sadd("r3:s", "x", "y")
check("smembers set", r.smembers("r3:s"), {"x", "y"})
r.zadd("r3:z", {"p": 1.5})
check("zscore double", r.zscore("r3:z", "p"), 1.5)
check("zrange withscores", r.zrange("r3:z", 0, -1, withscores=True), [("p", 1.5)] if opts.protocol == 2 else [["p", 1.5]])
check("config get", r.config_get("maxmemory-policy"), {"maxmemory-policy": "noeviction"})

# Streams with a consumer group.
ids = [r.xadd("st:s", {"n": i}) for i in range(5)]
check("xlen", r.xlen("st:s"), 5)
check("xgroup create", r.xgroup_create("st:s", "g", id="0"), True)
res = r.xreadgroup("g", "c1", {"st:s": ">"}, count=3)
if opts.protocol == 3:
    entries = res["st:s"][0]
else:
    entries = res[0][1]
check("xreadgroup ids", [e[0] for e in entries], ids[:3])
check("xreadgroup fields", entries[0][1], {"n": "0"})
check("xack", r.xack("st:s", "g", *ids[:2]), 2)
check("xpending count", r.xpending("st:s", "g")["pending"], 1)
cl = r.xautoclaim("st:s", "g", "c2", 0, start_id="0-0")
check("xautoclaim", [e[0] for e in cl[1]], [ids[2]])
check("xinfo groups", [(g["name"], g["consumers"]) for g in r.xinfo_groups("st:s")], [("g", 2)])
t0 = time.time()
check("xreadgroup block timeout", r.xreadgroup("g", "c1", {"st:s": ">"}, count=10, block=100) is not None, True)
empty = r.xreadgroup("g", "c1", {"st:s": ">"}, block=100)
check("xreadgroup block empty", empty in (None, [], {}), True)
threading.Timer(0.2, lambda: pusher.xadd("st:s", {"late": "1"})).start()
res = r.xread({"st:s": "$"}, block=5000)
check("xread block wakes", (res["st:s"][0] if opts.protocol == 3 else res[0][1])[0][1], {"late": "1"})

# Scripts: register_script runs EVALSHA and, after SCRIPT FLUSH, falls back on NOSCRIPT to
# SCRIPT LOAD and EVALSHA again; in a pipeline, SCRIPT EXISTS then SCRIPT LOAD before EXEC.
incrby = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
check("script run", incrby(keys=["sc:n"], args=[5]), 5)
check("script exists", r.script_exists(incrby.sha), [True])
check("script flush", r.script_flush(), True)
check("script gone", r.script_exists(incrby.sha), [False])
check("script NOSCRIPT fallback", incrby(keys=["sc:n"], args=[2]), 7)
check("script reloaded", r.script_exists(incrby.sha), [True])
r.script_flush()
p = r.pipeline()
incrby(keys=["sc:n"], args=[1], client=p)
p.get("sc:n")
check("script in pipeline after flush", p.execute(), [8, "8"])
shapes = r.register_script(
    "return {1, 'two', {3, 'four'}, redis.status_reply('FINE'), tonumber(ARGV[1]) * 2, false}"
)
check("script reply shapes", shapes(args=[21]), [1, "two", [3, "four"], "FINE", 42, None])
check("eval", r.eval("return redis.call('GET', KEYS[1])", 1, "sc:n"), "8")
check("script load", r.script_load("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
check("evalsha", r.evalsha("e0e1f9fabfc9d4800c877a703b823ac0578ff8db", 0), 1)
# RESP3 replies from a script that asks for them (redis.setresp(3)): on RESP2 they come down
# to RESP2 forms, on RESP3 the client decodes maps, sets, doubles, booleans and nulls.
resp3 = r.register_script(
    "redis.setresp(3); redis.call('HSET', KEYS[1], 'f', 'v'); redis.call('SADD', KEYS[2], 'm');"
    "return {redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[2]),"
    " redis.call('ZSCORE', KEYS[3], 'x'), {double=3.5}, {map={k='v'}}, {set={s=true}}, true, false}"
)
r.zadd("sc:z", {"x": 2.5})
got = resp3(keys=["sc:h", "sc:s", "sc:z"])
if opts.protocol == 3:
    want = [{"f": "v"}, ["m"], 2.5, 3.5, {"k": "v"}, ["s"], True, False]  # (sets nested in a list decode as lists)
else:
    want = [["f", "v"], ["m"], "2.5", "3.5", ["k", "v"], ["s"], 1, 0]
check("script RESP3 replies", got, want)
check("eval_ro", r.eval_ro("return redis.call('GET', KEYS[1])", 1, "sc:n"), "8")
try:
    r.eval_ro("return redis.call('SET', KEYS[1], 1)", 1, "sc:n")
    check("eval_ro write", "no error", "ResponseError")
except ResponseError as e:
    check("eval_ro write", str(e).startswith("Write commands are not allowed from read-only scripts"), True)
err = r.register_script("return redis.error_reply('MYERR went wrong')")
try:
    err()
    check("script error_reply", "no error", "ResponseError")
except ResponseError as e:
    check("script error_reply", (type(e).__name__, str(e)), ("ResponseError", "MYERR went wrong"))

# More stream helpers, whose parsers depend on the exact reply shapes.
r.delete("st:x")
xids = [r.xadd("st:x", {"f": i}, id=f"1-{i}") for i in range(1, 6)]
check("xadd ids", xids, [f"1-{i}" for i in range(1, 6)])
check("xrange", [e[0] for e in r.xrange("st:x", min="1-2", max="1-3")], ["1-2", "1-3"])
check("xrevrange count", [e[0] for e in r.xrevrange("st:x", count=2)], ["1-5", "1-4"])
r.xgroup_create("st:x", "g", id="0")
r.xreadgroup("g", "alice", {"st:x": ">"}, count=4)
pend = r.xpending_range("st:x", "g", min="-", max="+", count=10)
check("xpending_range", [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pend], [(f"1-{i}", "alice", 1) for i in range(1, 5)])
check("xpending consumers", r.xpending("st:x", "g")["consumers"], [{"name": "alice", "pending": 4}])
check("xclaim justid", r.xclaim("st:x", "g", "bob", 0, ["1-1", "1-2"], justid=True), ["1-1", "1-2"])
claimed = r.xclaim("st:x", "g", "bob", 0, ["1-3"])
check("xclaim", claimed, [("1-3", {"f": "3"})])
r.xdel("st:x", "1-4")
ac = r.xautoclaim("st:x", "g", "carol", 0, start_id="0-0", count=10)
check("xautoclaim deleted ids", (ac[0], [e[0] for e in ac[1]], ac[2]), ("0-0", ["1-1", "1-2", "1-3"], ["1-4"]))
check("xautoclaim justid", r.xautoclaim("st:x", "g", "dave", 0, start_id="0-0", justid=True), ["1-1", "1-2", "1-3"])
info = r.xinfo_stream("st:x")
check("xinfo stream", (info["length"], info["groups"], info["first-entry"][0], info["last-entry"][0]), (4, 1, "1-1", "1-5"))
full = r.xinfo_stream("st:x", full=True)
check("xinfo stream full", (len(full["entries"]), full["groups"][0]["name"], full["groups"][0]["pel-count"]), (4, "g", 3))
check("xinfo consumers", sorted(c["name"] for c in r.xinfo_consumers("st:x", "g")), ["alice", "bob", "carol", "dave"])
check("xgroup delconsumer", r.xgroup_delconsumer("st:x", "g", "alice"), 0)
check("xgroup setid", r.xgroup_setid("st:x", "g", "1-5", entries_read=4), True)
check("xtrim minid", r.xtrim("st:x", minid="1-3", approximate=False), 2)
check("xadd maxlen", (r.xadd("st:x", {"f": 6}, id="1-6", maxlen=2, approximate=False), r.xlen("st:x")), ("1-6", 2))
check("xadd nomkstream", r.xadd("st:none", {"f": 1}, nomkstream=True), None)
check("xgroup destroy", r.xgroup_destroy("st:x", "g"), 1)

# Error classes, as users catch them.
r.set("err:str", "v")
try:
    r.lpush("err:str", 1)
    check("wrongtype", "no error", "ResponseError")
except ResponseError as e:
    check("wrongtype", (type(e).__name__, str(e).startswith("WRONGTYPE")), ("ResponseError", True))
try:
    r.execute_command("NOSUCHCMD")
except ResponseError as e:
    check("unknown command", str(e).startswith("unknown command"), True)
try:
    r.incr("err:str")
except ResponseError as e:
    check("not an integer", str(e), "value is not an integer or out of range")
try:
    r.xgroup_create("st:s", "g", id="0")
except ResponseError as e:
    check("busygroup", str(e).startswith("BUSYGROUP"), True)
try:
    r.evalsha("ffffffffffffffffffffffffffffffffffffffff", 0)
    check("noscript", "no error", "NoScriptError")
except NoScriptError as e:
    check("noscript", str(e), "No matching script. Please use EVAL.")

# A protected command (MODULE LOAD, with enable-module-command no) is refused before MULTI
# queues it: the transaction is aborted, and INFO commandstats counts a rejected call.
p = r.pipeline(transaction=True)
p.set("err:tx", 1)
p.module_load("/nonexistent.so")
try:
    p.execute()
    check("protected command in multi", "no error", "ExecAbortError")
except ResponseError as e:
    # redis-py names the command the server refused while queueing.
    check("protected command in multi", (type(e).__name__, "caused error: MODULE command not allowed" in str(e)), ("ResponseError", True))
check("aborted transaction", r.exists("err:tx"), 0)
stats = r.info("commandstats")["cmdstat_module|load"]
check("rejected call", (stats["calls"], stats["rejected_calls"], stats["failed_calls"]), (0, 1, 0))

# BUSY: a script loops past busy-reply-threshold; another connection gets -BUSY until SCRIPT
# KILL ends it, and the script's caller gets the kill as an error.
r.config_set("busy-reply-threshold", 100)
looper = client()
outcome = []


def loop_script():
    try:
        looper.eval("while true do end", 0)
        outcome.append("no error")
    except ResponseError as e:
        outcome.append(e)


th = threading.Thread(target=loop_script)
th.start()
busy = None
deadline = time.time() + 10
while busy is None and time.time() < deadline:
    try:
        r.ping()
        time.sleep(0.02)
    except ResponseError as e:
        busy = e
check("busy error", (type(busy).__name__, str(busy).split(" ")[0]), ("ResponseError", "BUSY"))
check("script kill", r.script_kill(), True)
th.join(10)
check(
    "killed script error",
    (type(outcome[0]).__name__, str(outcome[0]).startswith("Script killed by user with SCRIPT KILL")),
    ("ResponseError", True),
)
check("ping after kill", r.ping(), True)
r.config_set("busy-reply-threshold", 5000)
looper.close()

# OOM: maxmemory far below what is used, with noeviction: writes fail, reads still work.
r.config_set("maxmemory-policy", "noeviction")
r.config_set("maxmemory", 1)
try:
    r.set("oom:k", "v")
    check("oom", "no error", "OutOfMemoryError")
except OutOfMemoryError as e:
    check("oom", str(e), "command not allowed when used memory > 'maxmemory'.")
try:
    incrby(keys=["oom:n"], args=[1])
    check("oom in script", "no error", "OutOfMemoryError")
except OutOfMemoryError as e:
    check("oom in script", str(e).startswith("command not allowed when used memory"), True)
check("read under oom", r.get("sc:n"), "8")
check("no-writes script under oom", r.eval("#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", 1, "sc:n"), "8")
try:
    r.eval("#!lua\nreturn 1", 0)
    check("flagged script under oom", "no error", "OutOfMemoryError")
except OutOfMemoryError as e:
    check("flagged script under oom", str(e), "command not allowed when used memory > 'maxmemory'.")
r.config_set("maxmemory", 0)
check("write after oom", r.set("oom:k", "v"), True)

# Client-side caching. redis-py's own cache (cache_config) refuses every server older than 7.4
# ("client-side caching is supported by Redis 7.4 or later"), redis-server 7.0.15 as well, so
# the tracking is driven as its users do without it: on RESP3 an invalidation push handler on
# the connection, on RESP2 a Pub/Sub connection on __redis__:invalidate that the tracked
# connection redirects to.
invalidated = []
tracked = client(decode_responses=True, single_connection_client=True)
tracked.set("csc:a", "1")
if opts.protocol == 3:
    tracked.connection._parser.set_invalidation_push_handler(lambda m: invalidated.append(m[1]))
    check("tracking on", tracked.client_tracking_on(), "OK")
else:
    inval = client(decode_responses=True).pubsub()
    inval.subscribe("__redis__:invalidate")
    check("invalidate subscribed", inval.get_message(timeout=5)["type"], "subscribe")
    inval_id = [c["id"] for c in r.client_list(_type="pubsub")]
    check("one pubsub client", len(inval_id), 1)
    check("tracking on", tracked.client_tracking_on(clientid=inval_id[0]), "OK")
check("tracked read", tracked.get("csc:a"), "1")
info = tracked.client_trackinginfo()
if isinstance(info, list):  # RESP2: a flat list of pairs
    info = dict(zip(info[::2], info[1::2]))
check("tracking info", (info["flags"], info["redirect"]), (["on"], 0 if opts.protocol == 3 else int(inval_id[0])))
r.set("csc:a", "2")


def next_invalidation():
    deadline = time.time() + 5
    while time.time() < deadline:
        if opts.protocol == 3:
            tracked.ping()  # the push is read ahead of this reply
            if invalidated:
                return invalidated.pop(0)
        else:
            m = inval.get_message(timeout=0.1)
            if m and m["type"] == "message":
                return m["data"]
        time.sleep(0.02)
    return "no invalidation"


check("invalidation", next_invalidation(), ["csc:a"])
r.set("csc:a", "3")
check("re-read", tracked.get("csc:a"), "3")
if opts.protocol == 3:
    check("no second invalidation before a read", invalidated, [])
else:
    check("no second invalidation before a read", inval.get_message(timeout=0.2), None)
r.delete("csc:a")
check("invalidation after re-read", next_invalidation(), ["csc:a"])
tracked.get("csc:b")
r.eval("redis.call('SET', KEYS[1], 'by script')", 1, "csc:b")
check("invalidation by a script's write", next_invalidation(), ["csc:b"])
tracked.get("csc:c")
tracked.get("csc:d")
r.flushall()
check("invalidation by FLUSHALL", next_invalidation(), None)
if opts.protocol == 3:
    # NOLOOP: the tracked connection's own writes invalidate nothing for itself; OPTIN: only
    # reads after CLIENT CACHING yes are tracked; BCAST: every write under a prefix.
    tracked.client_tracking_off()
    check("noloop", tracked.client_tracking_on(noloop=True), "OK")
    tracked.get("csc:e")
    tracked.set("csc:e", "mine")
    r.set("csc:f", "x")  # not tracked: no push
    tracked.ping()
    check("noloop no push", invalidated, [])
    tracked.client_tracking_off()
    check("optin", tracked.client_tracking_on(optin=True), "OK")
    tracked.get("csc:g")
    tracked.execute_command("CLIENT", "CACHING", "YES")
    tracked.get("csc:h")
    r.mset({"csc:g": "1", "csc:h": "1"})
    check("optin invalidation", next_invalidation(), ["csc:h"])
    tracked.ping()
    check("optin nothing else", invalidated, [])
    tracked.client_tracking_off()
    check("bcast", tracked.client_tracking_on(bcast=True, prefix=["csc:p:", "csc:q:"]), "OK")
    r.mset({"csc:p:1": "1", "csc:x": "1"})
    check("bcast invalidation", next_invalidation(), ["csc:p:1"])
    r.set("csc:q:2", "1")
    check("bcast second prefix", next_invalidation(), ["csc:q:2"])
tracked.client_tracking_off()
tracked.close()
if opts.protocol == 2:
    inval.close()

# ACL users as redis-py connects with them (HELLO/AUTH with a username), the NOPERM and
# WRONGPASS error classes, and the ACL helpers' parsers.
check(
    "acl setuser",
    r.acl_setuser(
        "app", enabled=True, passwords=["+s3cret"], commands=["+@all", "-flushall"], keys=["app:*"], channels=["app:*"]
    ),
    True,
)
app = client(username="app", password="s3cret", decode_responses=True)
check("acl whoami", app.acl_whoami(), "app")
check("acl allowed write", app.set("app:k", 1), True)
for name, call in [("key", lambda: app.set("other:k", 1)), ("command", lambda: app.flushall()), ("channel", lambda: app.publish("news", "x"))]:
    try:
        call()
        check(f"acl denied {name}", "no error", "NoPermissionError")
    except NoPermissionError as e:
        check(f"acl denied {name}", str(e).startswith("this user has no permissions"), True)
try:
    client(username="app", password="wrong").ping()
    check("wrongpass", "no error", "AuthenticationError")
except AuthenticationError as e:
    check("wrongpass", str(e), "invalid username-password pair or user is disabled.")
log = r.acl_log(count=10)
check(
    "acl log",
    [(e["reason"], e["object"], e["username"]) for e in log],
    [
        ("auth", "AUTH" if opts.protocol == 2 else "HELLO", "app"),  # RESP3 authenticates in HELLO
        ("channel", "news", "app"),
        ("command", "flushall", "app"),
        ("key", "other:k", "app"),
    ],
)
user = r.acl_getuser("app")
check("acl getuser", (user["enabled"], user["keys"], user["channels"], len(user["passwords"])), (True, ["~app:*"], ["&app:*"], 1))
check("acl list", [u.split(" ")[1] for u in r.acl_list()], ["app", "default"])
check("acl log reset", r.acl_log_reset(), True)
app.close()
check("acl deluser", r.acl_deluser("app"), 1)

# redis-py's Lock (its scripts): exclusive, extend, reacquire, release; and the owner check.
lock = r.lock("lk:res", timeout=5, blocking_timeout=0.2)
check("lock acquire", lock.acquire(), True)
check("lock owned", lock.owned(), True)
rival = r.lock("lk:res", timeout=5, blocking_timeout=0.2)
check("lock contended", rival.acquire(), False)
check("lock extend", lock.extend(10), True)
check("lock ttl", 5000 < r.pttl("lk:res") <= 15000, True)
check("lock reacquire", lock.reacquire(), True)
check("lock ttl after reacquire", 0 < r.pttl("lk:res") <= 5000, True)
lock.release()
check("lock released", r.exists("lk:res"), 0)
check("rival acquires", rival.acquire(blocking=False), True)
try:
    lock.release()
    check("release not owned", "no error", "LockError")
except LockError as e:
    check("release not owned", type(e).__name__, "LockError")
r.set("lk:res", "someone else")
try:
    rival.release()
    check("release stolen", "no error", "LockNotOwnedError")
except LockNotOwnedError:
    check("release stolen", "LockNotOwnedError", "LockNotOwnedError")
with r.lock("lk:ctx", timeout=5):
    check("lock context", r.exists("lk:ctx"), 1)
check("lock context released", r.exists("lk:ctx"), 0)

# A unix socket, when the server has one (tests/clients.rs gives every server one).
if os.environ.get("FERRODIS_SOCKET"):
    u = redis.Redis(unix_socket_path=os.environ["FERRODIS_SOCKET"], protocol=opts.protocol, decode_responses=True)
    check("unix socket", (u.set("unix:k", "v"), u.get("unix:k"), u.client_info()["flags"]), (True, "v", "U"))
    check("unix socket address", u.client_info()["addr"], os.environ["FERRODIS_SOCKET"] + ":0")
    u.close()

# Mutual TLS, when the server has a tls-port (tests/clients.rs gives one to this scenario).
if os.environ.get("FERRODIS_TLS_PORT"):
    tls_dir = os.environ["FERRODIS_TLS_DIR"]
    tls = dict(
        host="127.0.0.1",
        port=int(os.environ["FERRODIS_TLS_PORT"]),
        protocol=opts.protocol,
        ssl=True,
        ssl_ca_certs=f"{tls_dir}/ca.crt",
        socket_timeout=10,
        decode_responses=True,
    )
    t = redis.Redis(ssl_certfile=f"{tls_dir}/client.crt", ssl_keyfile=f"{tls_dir}/client.key", **tls)
    check("tls ping", t.ping(), True)
    p = t.pipeline(transaction=False)
    for i in range(200):
        p.set(f"tls:{i}", str(i) * 500)
    p.execute()
    check("tls pipeline and big values", [len(v) for v in t.mget(["tls:1", "tls:199"])], [500, 1500])
    check("tls script", incrby(keys=["tls:n"], args=[3], client=t), 3)
    tps = t.pubsub(ignore_subscribe_messages=True)
    tps.subscribe("tls:chan")
    tps.get_message(timeout=1)
    r.publish("tls:chan", "over tls")
    m = None
    for _ in range(50):
        m = tps.get_message(timeout=0.1)
        if m:
            break
    check("tls pubsub", m and m["data"], "over tls")
    tps.close()
    t.close()
    try:
        redis.Redis(retry=Retry(NoBackoff(), 0), **tls).ping()  # (no retries with backoff)
        check("tls without a client certificate", "no error", "ConnectionError")
    except redis.exceptions.ConnectionError:
        check("tls without a client certificate", "ConnectionError", "ConnectionError")

r.flushall()
r.close()
other.close()
pusher.close()
print(f"{'PASS' if not FAILS else 'FAILED'}: {len(FAILS)} failures")
sys.exit(1 if FAILS else 0)
