"""Celery (with kombu's Redis transport and the Redis result backend) against ferrodis: a worker
started in-process consumes tasks from the broker (BRPOP, its unacked-message bookkeeping),
results come back through the backend (Pub/Sub on the result channel), plus a group, a chord
(the backend's counters and pipelines), a retried task, a failing task, a countdown, and
broadcast control commands (the Pub/Sub fanout).

Usage: celery_tasks.py; the server is 127.0.0.1:$FERRODIS_PORT (broker in db 0, results in db 1).
"""

import logging
import os
import sys
import time

import celery
import kombu
import redis
from celery import Celery, chord, group
from celery.contrib.testing.worker import start_worker

PORT = int(os.environ["FERRODIS_PORT"])
FAILS = []


def check(name, got, want):
    if got != want:
        FAILS.append(name)
        print(f"FAIL {name}: got {got!r}, want {want!r}")
    else:
        print(f"ok   {name}")


print(f"celery {celery.__version__}, kombu {kombu.__version__}, redis-py {redis.__version__}")
logging.getLogger("celery").setLevel(logging.CRITICAL)
redis.Redis(host="127.0.0.1", port=PORT).flushall()
app = Celery(
    "ferrodis",
    broker=f"redis://127.0.0.1:{PORT}/0",
    backend=f"redis://127.0.0.1:{PORT}/1",
)
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=600,
    task_acks_late=True,
)
attempts = []


@app.task
def add(a, b):
    return a + b


@app.task
def total(values):
    return sum(values)


@app.task(bind=True, max_retries=2, default_retry_delay=0.05)
def flaky(self):
    attempts.append(self.request.retries)
    if self.request.retries < 2:
        raise self.retry()
    return "third time"


@app.task
def boom():
    raise ValueError("fails on purpose")


with start_worker(app, pool="solo", perform_ping_check=False, loglevel="CRITICAL", shutdown_timeout=10):
    check("delay and get", add.delay(2, 3).get(timeout=10), 5)
    check("group", group(add.s(i, i) for i in range(5))().get(timeout=10), [0, 2, 4, 6, 8])
    check("chord", chord(add.s(i, 1) for i in range(4))(total.s()).get(timeout=10), 10)
    check("retried task", (flaky.delay().get(timeout=10), attempts), ("third time", [0, 1, 2]))
    failed = boom.delay()
    try:
        failed.get(timeout=10)
        check("failing task", "no error", "ValueError")
    except ValueError as e:
        check("failing task", (str(e), failed.state), ("fails on purpose", "FAILURE"))
    t0 = time.time()
    check("countdown", add.apply_async((1, 1), countdown=0.5).get(timeout=10), 2)
    check("countdown waited", time.time() - t0 >= 0.4, True)
    pongs = app.control.ping(timeout=1)
    check("broadcast ping", len(pongs), 1)
    registered = app.control.inspect(timeout=1).registered() or {}
    check("inspect registered", [sorted(t.rsplit(".", 1)[-1] for t in ts if ".celery." not in t and not t.startswith("celery.")) for ts in registered.values()], [["add", "boom", "flaky", "total"]])

print(f"{'PASS' if not FAILS else 'FAILED'}: {len(FAILS)} failures")
sys.exit(1 if FAILS else 0)
