"""rq (Redis Queue) against ferrodis: enqueue jobs (with retries, dependencies, a pipeline of
many, a schedule, meta data, a cancellation), run a burst worker with its scheduler, read the
results and the registries.

Usage: rq_queue.py; the server is 127.0.0.1:$FERRODIS_PORT. The job functions live in
rq_jobs.py beside this file (a worker imports them by name).
"""

import os
import sys

import redis
import rq
from datetime import datetime, timedelta, timezone

from rq import Queue, Retry, Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rq_jobs  # noqa: E402

PORT = int(os.environ["FERRODIS_PORT"])
print(f"rq {rq.__version__}, redis-py {redis.__version__}")
conn = redis.Redis(host="127.0.0.1", port=PORT)
conn.flushall()
q = Queue("default", connection=conn)
jobs = [q.enqueue(rq_jobs.add, i, 10) for i in range(5)]
bad = q.enqueue(rq_jobs.fail)
# A job retried twice before it fails for good, a dependent job that waits for its parent, jobs
# enqueued in one pipeline, one scheduled in the past (the worker's scheduler moves it), meta
# data, and a cancelled job.
retried = q.enqueue(rq_jobs.fail, retry=Retry(max=2))
parent = q.enqueue(rq_jobs.add, 1, 1)
child = q.enqueue(rq_jobs.add, 2, 2, depends_on=parent)
many = q.enqueue_many([Queue.prepare_data(rq_jobs.add, (i, i)) for i in range(3)])
scheduled = q.enqueue_at(datetime.now(timezone.utc) - timedelta(seconds=1), rq_jobs.add, 50, 50)
meta_job = q.enqueue(rq_jobs.add, 0, 0, meta={"owner": "ferrodis"})
cancelled = q.enqueue(rq_jobs.add, 9, 9)
cancelled.cancel()
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
w.work(burst=True, with_scheduler=True)
fails = []
results = [j.latest_result().return_value if j.latest_result() else None for j in jobs]
if results != [10, 11, 12, 13, 14]:
    fails.append(f"results {results}")
if bad.get_status(refresh=True) != JobStatus.FAILED:
    fails.append(f"failing job status {bad.get_status()}")
if len(q) != 0:
    fails.append(f"queue not drained: {len(q)}")
checks = {
    "retried job failed after retries": (retried.get_status(refresh=True), Job.fetch(retried.id, connection=conn).retries_left),
    "dependent job": (child.latest_result().return_value if child.latest_result() else None),
    "enqueue_many": [j.latest_result().return_value if j.latest_result() else None for j in many],
    "scheduled job": (scheduled.latest_result().return_value if scheduled.latest_result() else None),
    "meta": Job.fetch(meta_job.id, connection=conn).meta,
    "cancelled": cancelled.get_status(refresh=True),
    "finished registry": len(FinishedJobRegistry(queue=q)),
    "failed registry": sorted(FailedJobRegistry(queue=q).get_job_ids()) == sorted([bad.id, retried.id]),
}
wants = {
    "retried job failed after retries": (JobStatus.FAILED, 0),
    "dependent job": 4,
    "enqueue_many": [0, 2, 4],
    "scheduled job": 100,
    "meta": {"owner": "ferrodis"},
    "cancelled": JobStatus.CANCELED,
    "finished registry": 12,
    "failed registry": True,
}
for name, got in checks.items():
    if got != wants[name]:
        fails.append(f"{name}: got {got!r}, want {wants[name]!r}")
    else:
        print("ok  ", name)
conn.flushall()
for f in fails:
    print("FAIL", f)
print(f"{'PASS' if not fails else 'FAILED'}: {len(fails)} failures")
sys.exit(1 if fails else 0)
