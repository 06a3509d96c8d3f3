// ioredis against ferrodis: pipelines, MULTI/EXEC with WATCH retries, Pub/Sub with patterns and
// a reconnect, blocking pops, scanStream, streams, error classes. Server: 127.0.0.1:$FERRODIS_PORT.
const Redis = require("ioredis");
const { check, finish, sleep, waitFor } = require("./check");

const port = Number(process.env.FERRODIS_PORT);
const mk = () => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, lazyConnect: false });

(async () => {
  console.log(`ioredis ${require("ioredis/package.json").version}`);
  const r = mk();
  const other = mk();
  await r.flushall();
  check("ping", await r.ping(), "PONG");

  // Many concurrent commands on one auto-pipelined connection and on a small set of connections.
  const conns = [mk(), mk(), mk()];
  await Promise.all(Array.from({ length: 300 }, (_, i) => conns[i % 3].incr("io:counter")));
  check("concurrent incr", await r.get("io:counter"), "300");
  conns.forEach((c) => c.disconnect());
  const auto = new Redis({ host: "127.0.0.1", port, enableAutoPipelining: true });
  const vals = await Promise.all(Array.from({ length: 100 }, (_, i) => auto.set(`io:ap:${i}`, i).then(() => auto.get(`io:ap:${i}`))));
  check("auto pipelining", vals[99], "99");
  auto.disconnect();

  // Pipelines and transactions.
  const pres = await r.pipeline().set("io:p", "1").incr("io:p").lpush("io:p", "x").get("io:p").exec();
  check("pipeline results", [pres[0][1], pres[1][1], pres[2][0] && pres[2][0].message.split(" ")[0], pres[3][1]], ["OK", 2, "WRONGTYPE", "2"]);
  const mres = await r.multi().set("io:m", "a").append("io:m", "b").get("io:m").exec();
  check("multi/exec", mres, [[null, "OK"], [null, 2], [null, "ab"]]);

  // WATCH with retry: the first EXEC is aborted (null) because another client wrote the key.
  await r.set("io:w", "5");
  let attempts = 0;
  let done = null;
  while (done === null) {
    attempts++;
    await r.watch("io:w");
    const v = Number(await r.get("io:w"));
    if (attempts === 1) await other.incr("io:w");
    done = await r.multi().set("io:w", String(v * 10)).exec();
  }
  check("watch retry", [attempts, await r.get("io:w")], [2, "60"]);

  // Pub/Sub with a pattern subscription.
  const sub = mk();
  const got = [];
  sub.on("message", (ch, msg) => got.push(["message", ch, msg]));
  sub.on("pmessage", (pat, ch, msg) => got.push(["pmessage", pat, ch, msg]));
  await sub.subscribe("io:news");
  await sub.psubscribe("io:ev:*");
  check("publish", await r.publish("io:news", "hi"), 1);
  await r.publish("io:ev:1", "there");
  await waitFor(() => got.length >= 2);
  check("pubsub messages", got, [["message", "io:news", "hi"], ["pmessage", "io:ev:*", "io:ev:1", "there"]]);
  check("punsubscribe", await sub.punsubscribe("io:ev:*"), 1);
  // Reconnect: the server drops the subscriber; ioredis reconnects and subscribes again.
  let readies = 0;
  sub.on("ready", () => readies++);
  check("client kill pubsub", await r.client("KILL", "TYPE", "pubsub"), 1);
  await waitFor(async () => readies >= 1 && (await r.pubsub("NUMSUB", "io:news"))[1] === 1);
  check("resubscribed", await r.publish("io:news", "again"), 1);
  await waitFor(() => got.length >= 3);
  check("message after reconnect", got[2], ["message", "io:news", "again"]);
  sub.disconnect();

  // Blocking pops.
  const t0 = Date.now();
  check("blpop timeout", await r.blpop("io:empty", 0.2), null);
  check("blpop waited", Date.now() - t0 >= 150, true);
  setTimeout(() => other.rpush("io:q", "job"), 100);
  check("brpop wakes", await r.brpop("io:q", 5), ["io:q", "job"]);
  setTimeout(() => other.zadd("io:z", 7, "m"), 100);
  check("bzpopmax wakes", await r.bzpopmax("io:z", 5), ["io:z", "m", "7"]);

  // scanStream.
  await r.mset(Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`io:scan:${i}`, i])));
  const keys = [];
  await new Promise((res, rej) => {
    const s = r.scanStream({ match: "io:scan:*", count: 40 });
    s.on("data", (batch) => keys.push(...batch));
    s.on("end", res);
    s.on("error", rej);
  });
  check("scanStream", new Set(keys).size, 250);
  await r.hset("io:h", Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${i}`, i])));
  const fields = [];
  await new Promise((res) => {
    const s = r.hscanStream("io:h", { count: 10 });
    s.on("data", (b) => fields.push(...b));
    s.on("end", res);
  });
  check("hscanStream", fields.length, 120);

  // Streams.
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await r.xadd("io:s", "*", "i", String(i)));
  check("xgroup create", await r.xgroup("CREATE", "io:s", "g", "0"), "OK");
  const rg = await r.xreadgroup("GROUP", "g", "c", "COUNT", 2, "STREAMS", "io:s", ">");
  check("xreadgroup", rg[0][1].map((e) => e[0]), ids.slice(0, 2));
  check("xreadgroup fields", rg[0][1][0][1], ["i", "0"]);
  check("xack", await r.xack("io:s", "g", ids[0]), 1);
  const pend = await r.xpending("io:s", "g");
  check("xpending", pend[0], 1);
  const rest = await r.xreadgroup("GROUP", "g", "c", "STREAMS", "io:s", ">");
  check("xreadgroup rest", rest[0][1].map((e) => e[0]), ids.slice(2));
  setTimeout(() => other.xadd("io:s", "*", "late", "1"), 100);
  const br = await r.xreadgroup("GROUP", "g", "c", "BLOCK", 5000, "STREAMS", "io:s", ">");
  check("xreadgroup block wakes", br[0][1][0][1], ["late", "1"]);
  check("xreadgroup block timeout", await r.xreadgroup("GROUP", "g", "c", "BLOCK", 100, "STREAMS", "io:s", ">"), null);

  // Error classes.
  await r.set("io:str", "v");
  try {
    await r.lpush("io:str", "x");
    check("wrongtype", "no error", "ReplyError");
  } catch (e) {
    check("wrongtype", [e.name, e.message.split(" ")[0]], ["ReplyError", "WRONGTYPE"]);
  }
  try {
    await r.xgroup("CREATE", "io:s", "g", "0");
  } catch (e) {
    check("busygroup", e.message.split(" ")[0], "BUSYGROUP");
  }

  await r.flushall();
  r.disconnect();
  other.disconnect();
  finish();
})().catch((e) => {
  console.log("FAIL uncaught", e);
  process.exit(1);
});
