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
  const events = new QueueEvents("jobs", { connection });
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

  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  finish();
})().catch((e) => {
  console.log("FAIL uncaught", e);
  process.exit(1);
});
