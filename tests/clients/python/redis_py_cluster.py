"""redis-py RedisCluster (sync or asyncio) against a cluster of three masters: keys spread over
every master, one at a time and in a pipeline; hash tags with multi-key commands, a script and
a transaction; CROSSSLOT (refused by the client, and the server's error through one node); a
slot moved with CLUSTER SETSLOT NODE on every node, then written through the stale slot map
(-MOVED followed, for a command and for a pipeline); SSUBSCRIBE/SPUBLISH.

Usage: redis_py_cluster.py [--protocol 2|3] [--asyncio]; the nodes are 127.0.0.1 at the ports
in $FERRODIS_CLUSTER (comma-separated).
"""

import argparse
import asyncio
import inspect
import os
import sys

import redis
import redis.asyncio as aredis
from redis.cluster import RedisCluster
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import ClusterCrossSlotError, MovedError, RedisClusterException, ResponseError

ap = argparse.ArgumentParser()
ap.add_argument("--protocol", type=int, default=3, choices=(2, 3))
ap.add_argument("--asyncio", action="store_true")
opts = ap.parse_args()
PORTS = [int(p) for p in os.environ["FERRODIS_CLUSTER"].split(",")]
FAILS = []


def check(name, got, want):
    if got != want:
        FAILS.append(name)
        print(f"FAIL {name}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {name}")


async def wait(x):
    """The same scenario drives both clients: awaits what the asyncio one returns."""
    return (await x) if inspect.isawaitable(x) else x


def errorstat(node, code):
    """How many times `node` answered an error `code` (INFO errorstats)."""
    return node.info("errorstats").get(f"errorstat_{code}", {}).get("count", 0)


async def main():
    kind = "asyncio RedisCluster" if opts.asyncio else "RedisCluster"
    print(f"redis-py {redis.__version__} {kind}, protocol {opts.protocol}")
    Cluster = AsyncRedisCluster if opts.asyncio else RedisCluster
    rc = Cluster(host="127.0.0.1", port=PORTS[0], protocol=opts.protocol, decode_responses=True)
    if opts.asyncio:
        await rc.initialize()
    # Plain connections to each node, to look behind the cluster client's back.
    direct = {p: redis.Redis(host="127.0.0.1", port=p, decode_responses=True) for p in PORTS}
    check("primaries", sorted(n.port for n in rc.get_primaries()), sorted(PORTS))
    await wait(rc.flushall())

    # Keys over every slot range, one at a time and in a pipeline (split by node).
    for i in range(200):
        await wait(rc.set(f"k:{i}", i))
    got = [await wait(rc.get(f"k:{i}")) for i in range(200)]
    check("set/get over all masters", got, [str(i) for i in range(200)])
    pipe = rc.pipeline()
    for i in range(1000):
        pipe.set(f"p:{i}", i)
    for i in range(1000):
        pipe.get(f"p:{i}")
    res = await wait(pipe.execute())
    check("pipeline", (res[:2], res[1000:1003], len(res)), ([True, True], ["0", "1", "2"], 2000))
    sizes = [direct[p].dbsize() for p in PORTS]
    check("every master holds a share", (all(s > 200 for s in sizes), sum(sizes)), (True, 1200))
    slots = [rc.keyslot(f"k:{i}") for i in range(100)]
    check("keyslot", slots, [direct[PORTS[1]].execute_command("CLUSTER", "KEYSLOT", f"k:{i}") for i in range(100)])
    check("dbsize over the primaries", await wait(rc.dbsize(target_nodes=rc.PRIMARIES)), 1200)

    # Hash tags: multi-key commands, a script and a transaction in one slot.
    check("mset tag", await wait(rc.mset({"{u1}:a": "1", "{u1}:b": "2"})), True)
    check("mget tag", await wait(rc.mget("{u1}:a", "{u1}:b", "{u1}:none")), ["1", "2", None])
    await wait(rc.sadd("{u1}:s1", "a", "b"))
    await wait(rc.sadd("{u1}:s2", "b", "c"))
    check("sinterstore tag", await wait(rc.sinterstore("{u1}:s3", ["{u1}:s1", "{u1}:s2"])), 1)
    check("rename tag", await wait(rc.rename("{u1}:a", "{u1}:c")), True)
    script = "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])"
    check("eval tag", await wait(rc.eval(script, 2, "{u1}:b", "{u1}:c")), "21")
    tx = rc.pipeline(transaction=True)
    tx.incr("{u1}:n")
    tx.incrby("{u1}:n", 5)
    check("transaction tag", await wait(tx.execute()), [1, 6])
    check("mget_nonatomic", await wait(rc.mget_nonatomic(["k:1", "k:2", "p:3"])), ["1", "2", "3"])

    # CROSSSLOT: the cluster client refuses keys of several slots itself; one node answers
    # the server's error.
    try:
        await wait(rc.mset({"x:1": "a", "x:2": "b"}))
        check("crossslot in the client", "no error", "RedisClusterException")
    except RedisClusterException as e:
        check("crossslot in the client", "same key slot" in str(e), True)
    try:
        direct[PORTS[0]].mset({"x:1": "a", "x:2": "b"})
        check("crossslot from a node", "no error", "ClusterCrossSlotError")
    except ResponseError as e:
        check("crossslot from a node", (type(e), str(e)),
              (ClusterCrossSlotError, "Keys in request don't hash to the same slot"))

    # -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
    # first); the client still has the old map, follows the redirection and learns.
    key1, key2 = "{moved1}k", "{moved2}k"
    owner = rc.get_node_from_key(key1).port
    target = next(p for p in PORTS if p != owner)
    target_id = direct[target].execute_command("CLUSTER", "MYID")
    owner2 = rc.get_node_from_key(key2).port
    target2 = next(p for p in PORTS if p != owner2)
    target2_id = direct[target2].execute_command("CLUSTER", "MYID")
    check("moved keys absent", (await wait(rc.get(key1)), await wait(rc.get(key2))), (None, None))
    for key, new, new_id in ((key1, target, target_id), (key2, target2, target2_id)):
        slot = rc.keyslot(key)
        for p in [new] + [p for p in PORTS if p != new]:
            direct[p].execute_command("CLUSTER", "SETSLOT", slot, "NODE", new_id)
    try:
        direct[owner].get(key1)
        check("moved error", "no error", "MovedError")
    except MovedError as e:
        check("moved error", str(e), f"{rc.keyslot(key1)} 127.0.0.1:{target}")
    moved_before = errorstat(direct[owner2], "MOVED")
    pipe = rc.pipeline()
    pipe.set(key2, "piped")
    pipe.get(key2)
    check("pipeline through MOVED", await wait(pipe.execute()), [True, "piped"])
    check("pipeline was redirected", errorstat(direct[owner2], "MOVED") > moved_before, True)
    check("set through MOVED", await wait(rc.set(key1, "v")), True)
    check("get after MOVED", await wait(rc.get(key1)), "v")
    check("written on the new owner", (direct[target].get(key1), direct[target2].get(key2)), ("v", "piped"))
    check("slot map learnt", (rc.get_node_from_key(key1).port, rc.get_node_from_key(key2).port), (target, target2))

    # Sharded Pub/Sub: SSUBSCRIBE goes to the channel's node, SPUBLISH too.
    ps = rc.pubsub()
    await wait(ps.ssubscribe("news{u1}"))
    m = None
    for _ in range(100):
        m = await wait(ps.get_sharded_message(timeout=0.05))
        if m:
            break
    check("ssubscribe", m and (m["type"], m["channel"]), ("ssubscribe", "news{u1}"))
    check("spublish", await wait(rc.spublish("news{u1}", "hello")), 1)
    m = None
    for _ in range(100):
        m = await wait(ps.get_sharded_message(timeout=0.05))
        if m:
            break
    check("smessage", m and (m["type"], m["channel"], m["data"]), ("smessage", "news{u1}", "hello"))
    await wait(ps.aclose() if opts.asyncio else ps.close())

    await wait(rc.flushall())
    await wait(rc.aclose() if opts.asyncio else rc.close())
    for d in direct.values():
        d.close()


asyncio.run(main())
print(f"{'PASS' if not FAILS else 'FAILED'}: {len(FAILS)} failures")
sys.exit(1 if FAILS else 0)
