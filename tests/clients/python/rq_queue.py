"""rq (Redis Queue) against ferrodis: enqueue jobs, run a burst worker, read the results.

Usage: rq_queue.py; the server is 127.0.0.1:$FERRODIS_PORT. The job functions live in
rq_jobs.py beside this file (a worker imports them by name).
"""

import os
import sys

import redis
import rq
from rq import Queue, Worker
from rq.job import JobStatus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rq_jobs  # noqa: E402

PORT = int(os.environ["FERRODIS_PORT"])
print(f"rq {rq.__version__}, redis-py {redis.__version__}")
conn = redis.Redis(host="127.0.0.1", port=PORT)
conn.flushall()
q = Queue("default", connection=conn)
jobs = [q.enqueue(rq_jobs.add, i, 10) for i in range(5)]
bad = q.enqueue(rq_jobs.fail)
print("queued", len(q))


class BurstWorker(Worker):
    """A Worker without the command channel: with rq 3.0 and redis-py 8.2, stopping the
    channel's listener thread races with its 60 s read and hangs about half the runs, against
    redis-server 7.0.15 exactly as against ferrodis (a client-side race), so the burst run here
    leaves the channel out."""

    def subscribe(self):
        pass

    def unsubscribe(self):
        pass


w = BurstWorker([q], connection=conn)
w.work(burst=True)
fails = []
results = [j.latest_result().return_value if j.latest_result() else None for j in jobs]
if results != [10, 11, 12, 13, 14]:
    fails.append(f"results {results}")
if bad.get_status(refresh=True) != JobStatus.FAILED:
    fails.append(f"failing job status {bad.get_status()}")
if len(q) != 0:
    fails.append(f"queue not drained: {len(q)}")
conn.flushall()
for f in fails:
    print("FAIL", f)
print(f"{'PASS' if not fails else 'FAILED'}: {len(fails)} failures")
sys.exit(1 if fails else 0)
