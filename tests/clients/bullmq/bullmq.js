// BullMQ against ferrodis: a queue, a worker and its completed jobs (all of BullMQ's state moves
// are Lua scripts run through ioredis), a retried job that fails for good, a delayed job, job
// progress, a flow whose parent runs after its children, and the queue's counts.
// Server: 127.0.0.1:$FERRODIS_PORT.
const { Queue, Worker, QueueEvents, FlowProducer } = require("bullmq");
const { check, finish, waitFor } = require("../node/check");

const connection = { host: "127.0.0.1", port: Number(process.env.FERRODIS_PORT), maxRetriesPerRequest: null };

(async () => {
  console.log(`bullmq ${require("bullmq/package.json").version}, ioredis ${require("ioredis/package.json").version}`);
  const queue = new Queue("jobs", { connection });
  await queue.obliterate({ force: true });
  // Each QueueEvents reads its (new, empty) events stream from the start: waitUntilReady()
  // only means connected, and its first XREAD with "$" can reach the server after the first
  // job already completed, whose "completed" event waitUntilFinished then never sees (see
  // the rate limiter below).
  const events = new QueueEvents("jobs", { connection, lastEventId: "0-0" });
  await events.waitUntilReady();

  const progress = [];
  const worker = new Worker(
    "jobs",
    async (job) => {
      if (job.name === "fail") throw new Error(`fails on attempt ${job.attemptsMade + 1}`);
      if (job.name === "progress") {
        await job.updateProgress(50);
        await job.updateProgress(100);
      }
      if (job.name === "parent") return Object.values(await job.getChildrenValues()).sort();
      return job.data.a + job.data.b;
    },
    { connection, concurrency: 4 },
  );
  worker.on("progress", (job, p) => progress.push(p));
  await worker.waitUntilReady();

  // Jobs added one by one and in bulk, each awaited through QueueEvents.
  const job = await queue.add("sum", { a: 1, b: 2 });
  check("completed job", await job.waitUntilFinished(events, 10000), 3);
  const bulk = await queue.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: "sum", data: { a: i, b: 100 } })));
  const results = await Promise.all(bulk.map((j) => j.waitUntilFinished(events, 10000)));
  check("bulk results", results, Array.from({ length: 10 }, (_, i) => i + 100));
  const done = await queue.getJob(job.id);
  check("returnvalue stored", [done.returnvalue, await done.isCompleted()], [3, true]);

  // A job retried with a backoff, then failed for good.
  const bad = await queue.add("fail", {}, { attempts: 2, backoff: { type: "fixed", delay: 50 } });
  let failure = null;
  try {
    await bad.waitUntilFinished(events, 10000);
  } catch (e) {
    failure = e.message;
  }
  check("failed job", failure, "fails on attempt 2");
  const failed = await queue.getJob(bad.id);
  check("attempts made", [failed.attemptsMade, await failed.isFailed()], [2, true]);

  // A delayed job runs once its delay is over.
  const t0 = Date.now();
  const delayed = await queue.add("sum", { a: 5, b: 5 }, { delay: 300 });
  check("delayed state", await delayed.getState(), "delayed");
  check("delayed job", await delayed.waitUntilFinished(events, 10000), 10);
  check("delay honoured", Date.now() - t0 >= 250, true);

  // Progress reported by the worker.
  const pj = await queue.add("progress", { a: 0, b: 0 });
  await pj.waitUntilFinished(events, 10000);
  await waitFor(() => progress.length >= 2);
  check("progress", progress, [50, 100]);

  // A flow: the parent waits for its children and reads their values.
  const flows = new FlowProducer({ connection });
  const tree = await flows.add({
    name: "parent",
    queueName: "jobs",
    children: [
      { name: "sum", queueName: "jobs", data: { a: 1, b: 1 } },
      { name: "sum", queueName: "jobs", data: { a: 2, b: 2 } },
    ],
  });
  check("flow parent", await tree.job.waitUntilFinished(events, 10000), [2, 4]);
  await flows.close();

  const counts = await queue.getJobCounts("completed", "failed", "waiting", "delayed", "active");
  check("job counts", counts, { completed: 16, failed: 1, waiting: 0, delayed: 0, active: 0 });

  // Jobs logs, data updates, a repeatable job scheduler, deduplication, clean and retryJobs.
  await done.log("first line");
  await done.log("second line");
  check("job logs", await queue.getJobLogs(done.id), { logs: ["first line", "second line"], count: 2 });
  await done.updateData({ a: 40, b: 2 });
  check("updateData", (await queue.getJob(done.id)).data, { a: 40, b: 2 });
  // (The scheduler adds its first job at once; the worker completes it.)
  await queue.upsertJobScheduler("every", { every: 60000 }, { name: "sum", data: { a: 7, b: 7 } });
  check("job schedulers", (await queue.getJobSchedulers()).map((s) => [s.key, s.every]), [["every", 60000]]);
  await queue.removeJobScheduler("every");
  check("job scheduler removed", await queue.getJobSchedulersCount(), 0);
  const d1 = await queue.add("sum", { a: 0, b: 1 }, { deduplication: { id: "dd" }, delay: 5000 });
  const d2 = await queue.add("sum", { a: 0, b: 2 }, { deduplication: { id: "dd" }, delay: 5000 });
  check("deduplicated", [d2.id, await queue.getDeduplicationJobId("dd")], [d1.id, d1.id]);
  await d1.remove();
  await queue.retryJobs({ state: "failed" });
  await waitFor(async () => (await queue.getJob(bad.id)).attemptsMade >= 3 && (await queue.getJob(bad.id)).isFailed());
  check("retried failed job", (await queue.getJob(bad.id)).failedReason, "fails on attempt 3");
  await waitFor(async () => (await queue.getJobCounts("completed")).completed === 17);
  const cleaned = await queue.clean(0, 100, "completed");
  check("clean completed (with the scheduler's first job)", cleaned.length, 17);

  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();

  // Manual processing (getNextJob, moveToCompleted/Failed with a lock token) shows the order
  // BullMQ's scripts hand jobs out: LIFO, then the wait list, then by priority; and pause,
  // promote, changePriority and extendLock.
  const mq = new Queue("manual", { connection });
  await mq.add("a", {});
  await mq.add("b", {}, { priority: 5 });
  await mq.add("c", {}, { priority: 1 });
  await mq.add("d", {}, { lifo: true });
  const e1 = await mq.add("e", {}, { jobId: "fixed" });
  const e2 = await mq.add("e-again", {}, { jobId: "fixed" });
  check("duplicate jobId", [e1.id, e2.id, (await mq.getJob("fixed")).name], ["fixed", "fixed", "e"]);
  const later = await mq.add("f", {}, { delay: 60000 });
  check("counts before", await mq.getJobCounts("waiting", "prioritized", "delayed"), { waiting: 3, prioritized: 2, delayed: 1 });
  await later.promote();
  const bJob = (await mq.getJobs(["prioritized"])).find((j) => j.name === "b");
  await bJob.changePriority({ priority: 0 });
  await mq.pause();
  check("paused", await mq.isPaused(), true);
  const mw = new Worker("manual", null, { connection, autorun: false });
  check("nothing while paused", await mw.getNextJob("tok", { block: false }), undefined);
  await mq.resume();
  const order = [];
  for (;;) {
    const j = await mw.getNextJob("tok", { block: false });
    if (!j) break;
    order.push(j.name);
    if (j.name === "c") {
      await j.extendLock("tok", 30000);
      await j.moveToFailed(new Error("no c"), "tok", false);
    } else {
      await j.moveToCompleted(`done ${j.name}`, "tok", false);
    }
  }
  check("processing order", order, ["d", "a", "e", "f", "b", "c"]);
  check("counts after", await mq.getJobCounts("completed", "failed", "waiting", "prioritized"), { completed: 5, failed: 1, waiting: 0, prioritized: 0 });
  check("completed jobs", (await mq.getJobs(["completed"], 0, -1, true)).map((j) => j.returnvalue).sort(), ["done a", "done b", "done d", "done e", "done f"]);
  await mw.close();
  await mq.obliterate({ force: true });
  await mq.close();

  // A stalled job: its worker took it and let its lock (a key with a PX expiry) lapse; the
  // stalled check marks it on one pass and moves it back to wait on the next. Then metrics.
  const sq = new Queue("stall", { connection });
  const sw = new Worker("stall", null, { connection, autorun: false, lockDuration: 200, stalledInterval: 100, maxStalledCount: 1, metrics: { maxDataPoints: 10 } });
  const stalledIds = [];
  sw.on("stalled", (id) => stalledIds.push(id));
  const sj = await sq.add("s", { a: 1, b: 2 });
  const taken = await sw.getNextJob("tok1", { block: false });
  check("taken", [taken.id, await taken.getState()], [sj.id, "active"]);
  await sw.moveStalledJobsToWait();
  await new Promise((res) => setTimeout(res, 400));
  await sw.moveStalledJobsToWait();
  check("stalled", [stalledIds, await sj.getState()], [[sj.id], "waiting"]);
  const again = await sw.getNextJob("tok2", { block: false });
  await again.moveToCompleted("finally", "tok2", false);
  check("completed after stalling", [(await sq.getJob(sj.id)).returnvalue, (await sq.getJob(sj.id)).stalledCounter], ["finally", 1]);
  check("metrics", (await sq.getMetrics("completed")).meta.count, 1);
  await sw.close();
  await sq.obliterate({ force: true });
  await sq.close();

  // A rate limiter: at most one job per 150 ms.
  const rq = new Queue("limited", { connection });
  const rw = new Worker("limited", async () => Date.now(), { connection, limiter: { max: 1, duration: 150 } });
  // Its QueueEvents reads from the stream's start: with "$" its first XREAD (sent after its
  // CLIENT SETNAME is answered) could come after job 1 completed, in a few runs in a hundred
  // with either server, and job 1's waitUntilFinished timed out with all three completed.
  const rev = new QueueEvents("limited", { connection, lastEventId: "0-0" });
  await rev.waitUntilReady();
  const limited = await rq.addBulk([1, 2, 3].map((i) => ({ name: "t", data: { i } })));
  let times = [0, 0, 0];
  try {
    times = await Promise.all(limited.map((j) => j.waitUntilFinished(rev, 10000)));
  } catch (e) {
    // Say where the jobs were if a notification is ever missed again.
    const states = await Promise.all(limited.map((j) => j.getState()));
    check("rate limited jobs finish", [e.message, states, await rq.getJobCounts()], "all finished");
  }
  times.sort();
  check("rate limited", times[2] - times[0] >= 250, true);
  await rw.close();
  await rev.close();
  await rq.obliterate({ force: true });
  await rq.close();
  finish();
})().catch((e) => {
  console.log("FAIL uncaught", e);
  process.exit(1);
});
