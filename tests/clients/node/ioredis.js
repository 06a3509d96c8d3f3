// ioredis against ferrodis: pipelines, MULTI/EXEC with WATCH retries, Pub/Sub with patterns and
// a reconnect, blocking pops, scanStream, streams, defineCommand scripts with the NOSCRIPT
// fallback, and the errors for WRONGTYPE, NOSCRIPT, BUSY (SCRIPT KILL) and OOM.
// Server: 127.0.0.1:$FERRODIS_PORT.
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

  // Scripts: defineCommand runs EVALSHA and falls back to EVAL on NOSCRIPT (after SCRIPT FLUSH),
  // in a pipeline too.
  r.defineCommand("incrTwice", { numberOfKeys: 1, lua: "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])" });
  check("defineCommand", await r.incrTwice("io:n", 2), 4);
  check("script flush", await r.script("FLUSH"), "OK");
  check("defineCommand NOSCRIPT fallback", await r.incrTwice("io:n", 1), 6);
  await r.script("FLUSH");
  // A pipeline resends its scripts with EVAL after NOSCRIPT; in MULTI the NOSCRIPT comes back
  // in EXEC's reply (ioredis does the same against redis-server).
  check("defineCommand in pipeline", await r.pipeline().incrTwice("io:n", 1).incrTwice("io:n", 1).exec(), [[null, 8], [null, 10]]);
  check("defineCommand in multi", await r.multi().incrTwice("io:n", 1).get("io:n").exec(), [[null, 12], [null, "12"]]);
  await r.script("FLUSH");
  const m = await r.multi().incrTwice("io:n", 1).exec();
  check("defineCommand in multi after flush", [m.length, m[0][0] && m[0][0].message.split(" ")[0]], [1, "NOSCRIPT"]);
  check("eval shapes", await r.eval("return {1, 'two', {3}, redis.status_reply('FINE'), false}", 0), [1, "two", [3], "FINE", null]);
  try {
    await r.evalsha("ffffffffffffffffffffffffffffffffffffffff", 0);
    check("noscript", "no error", "ReplyError");
  } catch (e) {
    check("noscript", [e.name, e.message.split(" ")[0]], ["ReplyError", "NOSCRIPT"]);
  }

  // BUSY while a script loops on another connection, then SCRIPT KILL.
  await r.config("SET", "busy-reply-threshold", "100");
  const looper = mk();
  const looping = looper.eval("while true do end", 0).then(() => "no error", (e) => e);
  let busy = null;
  await waitFor(async () => {
    try {
      await r.ping();
      return false;
    } catch (e) {
      busy = e;
      return true;
    }
  });
  check("busy error", busy && [busy.name, busy.message.split(" ")[0]], ["ReplyError", "BUSY"]);
  check("script kill", await r.script("KILL"), "OK");
  const killed = await looping;
  check("killed script error", [killed.name, /^ERR Script killed by user/.test(killed.message)], ["ReplyError", true]);
  await r.config("SET", "busy-reply-threshold", "5000");
  looper.disconnect();

  // OOM with a tiny maxmemory and noeviction.
  await r.config("SET", "maxmemory-policy", "noeviction");
  await r.config("SET", "maxmemory", "1");
  try {
    await r.set("io:oom", "v");
    check("oom", "no error", "ReplyError");
  } catch (e) {
    check("oom", [e.name, e.message], ["ReplyError", "OOM command not allowed when used memory > 'maxmemory'."]);
  }
  await r.config("SET", "maxmemory", "0");

  // An ACL user: ioredis authenticates with its username, NOPERM comes back as a ReplyError,
  // and a wrong password fails the connection's AUTH.
  await r.acl("SETUSER", "app", "on", ">s3cret", "~io:app:*", "+@all", "-flushall");
  const app = new Redis({ host: "127.0.0.1", port, username: "app", password: "s3cret", maxRetriesPerRequest: 1 });
  check("acl whoami", await app.acl("WHOAMI"), "app");
  check("acl allowed", await app.set("io:app:k", "1"), "OK");
  const denied = await app.set("io:other", "1").then(() => "no error", (e) => e);
  check("acl denied", [denied.name, denied.message.split(" ")[0]], ["ReplyError", "NOPERM"]);
  app.disconnect();
  const bad = new Redis({ host: "127.0.0.1", port, username: "app", password: "wrong", lazyConnect: true, retryStrategy: () => null });
  // (ioredis reports the failed AUTH as an "error" event, then closes the connection.)
  const authErrors = [];
  bad.on("error", (e) => authErrors.push(e));
  await bad.connect().catch(() => {});
  await waitFor(() => authErrors.length >= 1);
  check("wrongpass", authErrors.slice(0, 1).map((e) => [e.name, e.message.split(" ")[0]]), [["ReplyError", "WRONGPASS"]]);
  bad.disconnect();
  await r.acl("DELUSER", "app");

  // Mutual TLS, when the server has a tls-port (tests/clients.rs gives one to this scenario).
  if (process.env.FERRODIS_TLS_PORT) {
    const fs = require("node:fs");
    const d = process.env.FERRODIS_TLS_DIR;
    const t = new Redis({
      host: "127.0.0.1",
      port: Number(process.env.FERRODIS_TLS_PORT),
      tls: { ca: fs.readFileSync(`${d}/ca.crt`), cert: fs.readFileSync(`${d}/client.crt`), key: fs.readFileSync(`${d}/client.key`), servername: "localhost" },
    });
    check("tls ping", await t.ping(), "PONG");
    t.defineCommand("incrTwice", { numberOfKeys: 1, lua: "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])" });
    const big = "x".repeat(200000);
    const tres = await t.pipeline().set("io:tls", big).strlen("io:tls").incrTwice("io:tls:n", 1).exec();
    check("tls pipeline", tres.map((e) => e[1]), ["OK", 200000, 2]);
    t.disconnect();
  }

  await r.flushall();
  r.disconnect();
  other.disconnect();
  finish();
})().catch((e) => {
  console.log("FAIL uncaught", e);
  process.exit(1);
});
