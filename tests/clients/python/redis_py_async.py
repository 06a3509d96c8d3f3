"""redis-py asyncio against ferrodis: pooled concurrency, pipelines, WATCH retries, Pub/Sub
patterns, blocking pops, SCAN iterators, streams, scripts with the NOSCRIPT fallback, the error
classes for WRONGTYPE, NOSCRIPT, BUSY and OOM, and the asyncio Lock.

Usage: redis_py_async.py [--protocol 2|3]; the server is 127.0.0.1:$FERRODIS_PORT.
"""

import argparse
import asyncio
import os
import sys

import redis
import redis.asyncio as aredis
from redis.exceptions import (
    LockError,
    NoScriptError,
    OutOfMemoryError,
    ResponseError,
    WatchError,
)

ap = argparse.ArgumentParser()
ap.add_argument("--protocol", type=int, default=2, choices=(2, 3))
opts = ap.parse_args()
PORT = int(os.environ["FERRODIS_PORT"])
FAILS = []


def check(name, got, want):
    if got != want:
        FAILS.append(name)
        print(f"FAIL {name}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {name}")


def client(**kw):
    return aredis.Redis(host="127.0.0.1", port=PORT, protocol=opts.protocol, decode_responses=True, **kw)


async def main():
    print(f"redis-py {redis.__version__} asyncio, protocol {opts.protocol}")
    r = client()
    await r.flushall()
    check("ping", await r.ping(), True)

    # Pool: 50 concurrent tasks over at most 5 connections.
    pool = aredis.BlockingConnectionPool(
        host="127.0.0.1", port=PORT, protocol=opts.protocol, max_connections=5, timeout=10
    )
    pooled = aredis.Redis(connection_pool=pool)
    await asyncio.gather(*(pooled.incr("a:counter") for _ in range(50)))
    check("pool counter", await r.get("a:counter"), "50")
    await pool.disconnect()

    # Pipelines.
    async with r.pipeline(transaction=False) as p:
        for i in range(50):
            p.sadd("a:set", i)
        p.scard("a:set")
        res = await p.execute()
    check("pipeline", res[-1], 50)
    async with r.pipeline(transaction=True) as p:
        res = await p.set("a:tx", 5).incrby("a:tx", 3).get("a:tx").execute()
    check("multi/exec", res, [True, 8, "8"])

    # WATCH with retry.
    other = client()
    await r.set("a:w", 1)
    attempts = 0
    while True:
        async with r.pipeline() as pipe:
            try:
                await pipe.watch("a:w")
                v = int(await pipe.get("a:w"))
                attempts += 1
                if attempts == 1:
                    await other.incr("a:w")
                pipe.multi()
                pipe.set("a:w", v + 100)
                await pipe.execute()
                break
            except WatchError:
                continue
    check("watch retry", (attempts, await r.get("a:w")), (2, "102"))

    # Pub/Sub with patterns.
    ps = client().pubsub(ignore_subscribe_messages=True)
    await ps.subscribe("a:chan")
    await ps.psubscribe("a:p:*")
    for _ in range(100):
        if (await r.pubsub_numpat()) >= 1:
            break
        await asyncio.sleep(0.02)
    await r.publish("a:chan", "one")
    await r.publish("a:p:x", "two")
    msgs = []
    for _ in range(100):
        m = await ps.get_message(timeout=0.1)
        if m:
            msgs.append((m["type"], m["channel"], m["data"]))
        if len(msgs) == 2:
            break
    check("pubsub", msgs, [("message", "a:chan", "one"), ("pmessage", "a:p:x", "two")])
    await ps.aclose()

    # Blocking pops: a timeout, then a wake-up by another connection.
    check("blpop timeout", await r.blpop(["a:empty"], timeout=0.1), None)

    async def later():
        await asyncio.sleep(0.1)
        await other.lpush("a:q", "job")

    task = asyncio.create_task(later())
    got = await r.brpop(["a:q"], timeout=5)
    await task
    check("brpop wakes", list(got), ["a:q", "job"])

    # SCAN iterators.
    await r.mset({f"a:scan:{i}": i for i in range(120)})
    keys = [k async for k in r.scan_iter(match="a:scan:*", count=10)]
    check("scan_iter", sorted(keys), sorted(f"a:scan:{i}" for i in range(120)))
    await r.hset("a:h", mapping={f"f{i}": i for i in range(40)})
    check("hscan_iter", len([x async for x in r.hscan_iter("a:h")]), 40)

    # Streams.
    ids = [await r.xadd("a:s", {"i": i}) for i in range(3)]
    await r.xgroup_create("a:s", "grp", id="0")
    res = await r.xreadgroup("grp", "w", {"a:s": ">"})
    entries = res["a:s"][0] if opts.protocol == 3 else res[0][1]
    check("xreadgroup", [e[0] for e in entries], ids)
    check("xack", await r.xack("a:s", "grp", *ids), 3)

    # Error classes.
    await r.set("a:str", "x")
    try:
        await r.hset("a:str", "f", "v")
        check("wrongtype", "no error", "ResponseError")
    except ResponseError as e:
        check("wrongtype", str(e).split()[0], "WRONGTYPE")

    # Scripts: AsyncScript's EVALSHA falls back to SCRIPT LOAD on NOSCRIPT after SCRIPT FLUSH.
    incr = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    check("script run", await incr(keys=["a:n"], args=[3]), 3)
    await r.script_flush()
    check("script NOSCRIPT fallback", await incr(keys=["a:n"], args=[4]), 7)
    check("script reloaded", await r.script_exists(incr.sha), [True])
    await r.script_flush()
    async with r.pipeline() as p:
        await incr(keys=["a:n"], args=[1], client=p)
        p.get("a:n")
        check("script in pipeline after flush", await p.execute(), [8, "8"])
    try:
        await r.evalsha("ffffffffffffffffffffffffffffffffffffffff", 0)
        check("noscript", "no error", "NoScriptError")
    except NoScriptError:
        check("noscript", "NoScriptError", "NoScriptError")

    # BUSY while a script loops on another connection, until SCRIPT KILL.
    await r.config_set("busy-reply-threshold", 100)
    looper = client()
    loop_task = asyncio.create_task(looper.eval("while true do end", 0))
    busy = None
    for _ in range(500):
        try:
            await r.ping()
            await asyncio.sleep(0.02)
        except ResponseError as e:
            busy = e
            break
    check("busy error", (type(busy).__name__, str(busy).split(" ")[0]), ("ResponseError", "BUSY"))
    check("script kill", await r.script_kill(), True)
    try:
        await loop_task
        check("killed script error", "no error", "ResponseError")
    except ResponseError as e:
        check("killed script error", str(e).startswith("Script killed by user"), True)
    await r.config_set("busy-reply-threshold", 5000)
    await looper.aclose()

    # OOM under a tiny maxmemory with noeviction.
    await r.config_set("maxmemory-policy", "noeviction")
    await r.config_set("maxmemory", 1)
    try:
        await r.set("a:oom", "v")
        check("oom", "no error", "OutOfMemoryError")
    except OutOfMemoryError:
        check("oom", "OutOfMemoryError", "OutOfMemoryError")
    await r.config_set("maxmemory", 0)

    # redis.asyncio's Lock.
    lock = r.lock("a:lock", timeout=5, blocking_timeout=0.2)
    check("lock acquire", await lock.acquire(), True)
    check("lock contended", await r.lock("a:lock", timeout=5, blocking_timeout=0.2).acquire(), False)
    check("lock extend", await lock.extend(5), True)
    await lock.release()
    check("lock released", await r.exists("a:lock"), 0)
    try:
        await lock.release()
        check("release not owned", "no error", "LockError")
    except LockError:
        check("release not owned", "LockError", "LockError")

    # Mutual TLS, when the server has a tls-port (tests/clients.rs gives one to py-async-resp3).
    if os.environ.get("FERRODIS_TLS_PORT"):
        d = os.environ["FERRODIS_TLS_DIR"]
        t = aredis.Redis(
            host="127.0.0.1",
            port=int(os.environ["FERRODIS_TLS_PORT"]),
            protocol=opts.protocol,
            ssl=True,
            ssl_ca_certs=f"{d}/ca.crt",
            ssl_certfile=f"{d}/client.crt",
            ssl_keyfile=f"{d}/client.key",
            decode_responses=True,
        )
        check("tls ping", await t.ping(), True)
        res = await asyncio.gather(*(t.incr("a:tls") for _ in range(100)))
        check("tls concurrent", max(res), 100)
        await t.aclose()

    await r.flushall()
    await r.aclose()
    await other.aclose()


asyncio.run(main())
print(f"{'PASS' if not FAILS else 'FAILED'}: {len(FAILS)} failures")
sys.exit(1 if FAILS else 0)
