"""pottery against ferrodis: its Redlock (the Redlock algorithm over three masters, here three
databases of one server, through its Lua scripts), the synchronize decorator, AIORedlock, NextID,
and a few of its Redis-backed collections.

Usage: pottery_redlock.py; the server is 127.0.0.1:$FERRODIS_PORT.
"""

import asyncio
import os
import sys
import threading
import time
import warnings
from importlib.metadata import version

import redis
import redis.asyncio as aredis
from pottery import (
    AIORedlock,
    BloomFilter,
    ExtendUnlockedLock,
    InefficientAccessWarning,
    NextID,
    RedisCounter,
    RedisDeque,
    RedisDict,
    RedisList,
    RedisSet,
    Redlock,
    ReleaseUnlockedLock,
    TooManyExtensions,
    synchronize,
)

# The collections warn on every O(n) call, which is what this scenario does on purpose.
warnings.simplefilter("ignore", InefficientAccessWarning)
PORT = int(os.environ["FERRODIS_PORT"])
FAILS = []


def settled(f, want, seconds=5):
    """f() once it returns want, or its last value after `seconds`: Redlock returns as soon
    as a quorum of masters answered, and its calls to the last one may still be in flight."""
    deadline = time.time() + seconds
    got = f()
    while got != want and time.time() < deadline:
        time.sleep(0.01)
        got = f()
    return got


def check(name, got, want):
    if got != want:
        FAILS.append(name)
        print(f"FAIL {name}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {name}")


print(f"pottery {version('pottery')}, redis-py {redis.__version__}")
r = redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=10)
r.flushall()
masters = {redis.Redis(host="127.0.0.1", port=PORT, db=db, socket_timeout=10) for db in (0, 1, 2)}

# Redlock: quorum over the three masters; exclusive, extend (a bounded number of times), release.
lock = Redlock(key="printer", masters=masters, auto_release_time=5, num_extensions=1)
check("acquire", lock.acquire(), True)
check("locked", 0 < lock.locked() <= 5, True)
check("keys on every master", settled(lambda: sorted(m.exists("redlock:printer") for m in masters), [1, 1, 1]), [1, 1, 1])
rival = Redlock(key="printer", masters=masters, auto_release_time=5)
check("contended", rival.acquire(blocking=False), False)
check("contended with timeout", rival.acquire(timeout=0.3), False)
lock.extend()
check("extended", 0 < lock.locked() <= 5, True)
try:
    lock.extend()
    check("too many extensions", "no error", "TooManyExtensions")
except TooManyExtensions:
    check("too many extensions", "TooManyExtensions", "TooManyExtensions")
lock.release()
check("released", lock.locked(), 0)
check("keys gone", settled(lambda: sorted(m.exists("redlock:printer") for m in masters), [0, 0, 0]), [0, 0, 0])
try:
    lock.release()
    check("release unlocked", "no error", "ReleaseUnlockedLock")
except ReleaseUnlockedLock:
    check("release unlocked", "ReleaseUnlockedLock", "ReleaseUnlockedLock")
try:
    Redlock(key="printer", masters=masters).extend()
    check("extend unlocked", "no error", "ExtendUnlockedLock")
except ExtendUnlockedLock:
    check("extend unlocked", "ExtendUnlockedLock", "ExtendUnlockedLock")
check("rival acquires", rival.acquire(blocking=False), True)
# A master that lost the key (here: deleted by hand) still leaves a quorum of two.
settled(lambda: sorted(m.exists("redlock:printer") for m in masters), [1, 1, 1])
next(iter(masters)).delete("redlock:printer")
check("quorum of two", rival.locked() > 0, True)
rival.release()
with Redlock(key="ctx", masters=masters, auto_release_time=5) as held:
    check("context manager", held.locked() > 0, True)
check("context manager released", settled(lambda: r.exists("redlock:ctx"), 0), 0)

# synchronize: threads run the decorated function one at a time.
inside, overlaps = [], []


@synchronize(key="synced", masters=masters, auto_release_time=5)
def critical():
    inside.append(1)
    if len(inside) > 1:
        overlaps.append(1)
    threading.Event().wait(0.02)
    inside.pop()


threads = [threading.Thread(target=critical) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
check("synchronize", overlaps, [])


async def aio():
    amasters = {aredis.Redis(host="127.0.0.1", port=PORT, db=db) for db in (0, 1, 2)}
    alock = AIORedlock(key="aio", masters=amasters, auto_release_time=5)
    got = [await alock.acquire()]
    other = AIORedlock(key="aio", masters=amasters, auto_release_time=5)
    got.append(await other.acquire(blocking=False))
    await alock.release()
    got.append(await other.acquire(blocking=False))
    await other.release()
    for m in amasters:
        await m.aclose()
    return got


check("AIORedlock", asyncio.run(aio()), [True, False, True])

# NextID: monotonically increasing IDs agreed by a quorum.
ids = NextID(key="ids", masters=masters)
got = [next(ids) for _ in range(3)]
check("NextID", got, [1, 2, 3])

# Collections.
d = RedisDict({"a": 1, "b": [1, 2]}, redis=r, key="pot:dict")
d["c"] = {"x": None}
check("RedisDict", (dict(d), len(d)), ({"a": 1, "b": [1, 2], "c": {"x": None}}, 3))
lst = RedisList([1, 2, 3], redis=r, key="pot:list")
lst.insert(1, "x")
lst.append(4)
check("RedisList", list(lst), [1, "x", 2, 3, 4])
check("RedisList slice", lst[1:3], ["x", 2])
s = RedisSet({"a", "b"}, redis=r, key="pot:set")
s.add("c")
check("RedisSet", (sorted(s), "a" in s, s.isdisjoint({"z"})), (["a", "b", "c"], True, True))
c = RedisCounter("hello", redis=r, key="pot:counter")
check("RedisCounter", c.most_common(2), [("l", 2), ("h", 1)])
dq = RedisDeque([1, 2], maxlen=3, redis=r, key="pot:deque")
dq.appendleft(0)
dq.append(3)
check("RedisDeque", list(dq), [1, 2, 3])
bf = BloomFilter(num_elements=100, false_positives=0.01, redis=r, key="pot:bloom")
bf.update({"alpha", "beta"})
check("BloomFilter", ("alpha" in bf, "beta" in bf, len(bf)), (True, True, 2))

r.flushall()
print(f"{'PASS' if not FAILS else 'FAILED'}: {len(FAILS)} failures")
sys.exit(1 if FAILS else 0)
