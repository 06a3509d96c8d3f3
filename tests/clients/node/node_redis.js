// node-redis 4 against ferrodis: isolation pool, pipelines (multi/execAsPipeline), WATCH
// retries, Pub/Sub with patterns, blocking pops, scanIterator, streams, error classes.
// Server: 127.0.0.1:$FERRODIS_PORT.
const { createClient, WatchError } = require("redis");
const { check, finish, waitFor } = require("./check");

const url = `redis://127.0.0.1:${process.env.FERRODIS_PORT}`;

(async () => {
  console.log(`node-redis ${require("redis/package.json").version}`);
  const r = createClient({ url, isolationPoolOptions: { min: 1, max: 4 } });
  r.on("error", (e) => console.log("client error", e.message));
  await r.connect();
  const other = r.duplicate();
  await other.connect();
  await r.flushAll();
  check("ping", await r.ping(), "PONG");

  // Isolated commands on the pool (blocking ones must not block the shared connection).
  await Promise.all(Array.from({ length: 40 }, () => r.executeIsolated((c) => c.incr("nr:counter"))));
  check("isolation pool", await r.get("nr:counter"), "40");

  // Pipelines and transactions.
  check("execAsPipeline", await r.multi().set("nr:p", "1").incr("nr:p").get("nr:p").execAsPipeline(), ["OK", 2, "2"]);
  check("multi/exec", await r.multi().rPush("nr:l", ["a", "b"]).lRange("nr:l", 0, -1).exec(), [2, ["a", "b"]]);

  // WATCH with retry on an isolated connection.
  await r.set("nr:w", "3");
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      await r.executeIsolated(async (c) => {
        await c.watch("nr:w");
        const v = Number(await c.get("nr:w"));
        if (attempts === 1) await other.incr("nr:w");
        await c.multi().set("nr:w", String(v + 1)).exec();
      });
      break;
    } catch (e) {
      if (!(e instanceof WatchError)) throw e;
    }
  }
  check("watch retry", [attempts, await r.get("nr:w")], [2, "5"]);

  // Pub/Sub with a pattern.
  const sub = r.duplicate();
  await sub.connect();
  const got = [];
  await sub.subscribe("nr:news", (m, ch) => got.push([ch, m]));
  await sub.pSubscribe("nr:ev:*", (m, ch) => got.push([ch, m]));
  check("publish", await r.publish("nr:news", "a"), 1);
  await r.publish("nr:ev:9", "b");
  await waitFor(() => got.length >= 2);
  check("pubsub", got, [["nr:news", "a"], ["nr:ev:9", "b"]]);
  await sub.pUnsubscribe("nr:ev:*");
  await r.publish("nr:ev:9", "after");
  await r.publish("nr:news", "c");
  await waitFor(() => got.length >= 3);
  check("after pUnsubscribe", got.slice(2), [["nr:news", "c"]]);
  await sub.disconnect();

  // Blocking pops.
  check("blPop timeout", await r.executeIsolated((c) => c.blPop("nr:empty", 0.1)), null);
  setTimeout(() => other.rPush("nr:q", "job"), 100);
  check("brPop wakes", await r.executeIsolated((c) => c.brPop("nr:q", 5)), { key: "nr:q", element: "job" });

  // scanIterator.
  await r.mSet(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`nr:scan:${i}`, String(i)])));
  const keys = [];
  for await (const k of r.scanIterator({ MATCH: "nr:scan:*", COUNT: 25 })) keys.push(k);
  check("scanIterator", new Set(keys).size, 150);
  await r.sAdd("nr:s", Array.from({ length: 70 }, (_, i) => String(i)));
  const members = [];
  for await (const m of r.sScanIterator("nr:s")) members.push(m);
  check("sScanIterator", new Set(members).size, 70);

  // Streams.
  const id1 = await r.xAdd("nr:st", "*", { a: "1" });
  await r.xAdd("nr:st", "*", { a: "2" });
  check("xGroupCreate", await r.xGroupCreate("nr:st", "g", "0"), "OK");
  const rg = await r.xReadGroup("g", "c", { key: "nr:st", id: ">" }, { COUNT: 1 });
  check("xReadGroup", JSON.parse(JSON.stringify(rg)), [{ name: "nr:st", messages: [{ id: id1, message: { a: "1" } }] }]);
  check("xAck", await r.xAck("nr:st", "g", id1), 1);
  const info = await r.xInfoStream("nr:st");
  check("xInfoStream", [info.length, info.groups], [2, 1]);

  // Error classes.
  await r.set("nr:str", "x");
  try {
    await r.lPush("nr:str", "y");
    check("wrongtype", "no error", "ErrorReply");
  } catch (e) {
    check("wrongtype", [e.constructor.name, e.message.split(" ")[0]], ["ErrorReply", "WRONGTYPE"]);
  }

  await r.flushAll();
  await other.quit();
  await r.quit();
  finish();
})().catch((e) => {
  console.log("FAIL uncaught", e);
  process.exit(1);
});
