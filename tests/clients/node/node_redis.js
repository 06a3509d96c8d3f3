// node-redis 4 against ferrodis: isolation pool, pipelines (multi/execAsPipeline), WATCH
// retries, Pub/Sub with patterns, blocking pops, scanIterator, streams, defineScript scripts
// with the NOSCRIPT fallback, the errors for WRONGTYPE, NOSCRIPT, BUSY and OOM, and client-side
// caching through a tracking redirect.
// Server: 127.0.0.1:$FERRODIS_PORT.
const { createClient, defineScript, ErrorReply, WatchError } = require("redis");
const { check, finish, waitFor } = require("./check");

const url = `redis://127.0.0.1:${process.env.FERRODIS_PORT}`;

(async () => {
  console.log(`node-redis ${require("redis/package.json").version}`);
  const scripts = {
    incrTwice: defineScript({
      NUMBER_OF_KEYS: 1,
      SCRIPT: "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])",
      transformArguments: (key, by) => [key, String(by)],
      transformReply: (reply) => reply,
    }),
  };
  const r = createClient({ url, isolationPoolOptions: { min: 1, max: 4 }, scripts });
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

  // Scripts: defineScript runs EVALSHA and, on NOSCRIPT (after SCRIPT FLUSH), EVAL; a MULTI
  // sends a script's first use as EVAL.
  check("script", await r.incrTwice("nr:n", 2), 4);
  check("script flush", await r.scriptFlush(), "OK");
  check("script NOSCRIPT fallback", await r.incrTwice("nr:n", 1), 6);
  await r.scriptFlush();
  check("script in multi", await r.multi().incrTwice("nr:n", 1).incrTwice("nr:n", 1).get("nr:n").exec(), [8, 10, "10"]);
  check("eval shapes", await r.eval("return {1, 'two', {3}, redis.status_reply('FINE'), false}"), [1, "two", [3], "FINE", null]);
  const errOf = (p) => p.then(() => "no error", (e) => e);
  const noscript = await errOf(r.evalSha("ffffffffffffffffffffffffffffffffffffffff"));
  check("noscript", [noscript instanceof ErrorReply, noscript.message.split(" ")[0]], [true, "NOSCRIPT"]);

  // BUSY while a script loops on another connection, then SCRIPT KILL.
  await r.configSet("busy-reply-threshold", "100");
  const looping = errOf(other.eval("while true do end"));
  let busy = null;
  await waitFor(async () => {
    busy = await errOf(r.ping());
    return busy !== "no error";
  });
  check("busy error", [busy instanceof ErrorReply, busy.message.split(" ")[0]], [true, "BUSY"]);
  check("script kill", await r.scriptKill(), "OK");
  const killed = await looping;
  check("killed script error", [killed instanceof ErrorReply, /^ERR Script killed by user/.test(killed.message)], [true, true]);
  await r.configSet("busy-reply-threshold", "5000");

  // OOM with a tiny maxmemory and noeviction.
  await r.configSet("maxmemory-policy", "noeviction");
  await r.configSet("maxmemory", "1");
  const oom = await errOf(r.set("nr:oom", "v"));
  check("oom", [oom instanceof ErrorReply, oom.message], [true, "OOM command not allowed when used memory > 'maxmemory'."]);
  await r.configSet("maxmemory", "0");

  // Client-side caching as node-redis 4 (RESP2) users do it: a connection with CLIENT TRACKING
  // redirected to a subscriber of __redis__:invalidate.
  const inval = r.duplicate();
  await inval.connect();
  const invalId = await inval.clientId();
  const invalidated = [];
  await inval.subscribe("__redis__:invalidate", (keys) => invalidated.push(keys));
  const tracked = r.duplicate();
  await tracked.connect();
  check("tracking on", await tracked.sendCommand(["CLIENT", "TRACKING", "ON", "REDIRECT", String(invalId)]), "OK");
  await r.set("nr:csc", "1");
  check("tracked read", await tracked.get("nr:csc"), "1");
  await r.set("nr:csc", "2");
  await waitFor(() => invalidated.length >= 1);
  // (node-redis 4 hands the RESP2 message's array of keys to the listener as it is.)
  check("invalidation", invalidated, [["nr:csc"]]);
  check("tracking off", await tracked.sendCommand(["CLIENT", "TRACKING", "OFF"]), "OK");
  check("bcast on", await tracked.sendCommand(["CLIENT", "TRACKING", "ON", "REDIRECT", String(invalId), "BCAST", "PREFIX", "nr:b:"]), "OK");
  await r.mSet({ "nr:b:1": "x", "nr:other": "y" });
  await waitFor(() => invalidated.length >= 2);
  check("bcast invalidation", invalidated.slice(1), [["nr:b:1"]]);
  await tracked.quit();
  await inval.quit();

  // An ACL user in the URL: NOPERM as an ErrorReply, and WRONGPASS failing connect().
  await r.aclSetUser("app", ["on", ">s3cret", "~nr:app:*", "+@all", "-flushall"]);
  const app = createClient({ url: `redis://app:s3cret@127.0.0.1:${process.env.FERRODIS_PORT}` });
  await app.connect();
  check("acl whoami", await app.aclWhoAmI(), "app");
  check("acl allowed", await app.set("nr:app:k", "1"), "OK");
  const denied = await errOf(app.set("nr:other", "1"));
  check("acl denied", [denied instanceof ErrorReply, denied.message.split(" ")[0]], [true, "NOPERM"]);
  await app.quit();
  const bad = createClient({ url: `redis://app:wrong@127.0.0.1:${process.env.FERRODIS_PORT}`, socket: { reconnectStrategy: false } });
  bad.on("error", () => {});
  const wrong = await errOf(bad.connect());
  check("wrongpass", [wrong instanceof ErrorReply, wrong.message.split(" ")[0]], [true, "WRONGPASS"]);
  await r.aclDelUser("app");

  // Mutual TLS, when the server has a tls-port (tests/clients.rs gives one to this scenario).
  if (process.env.FERRODIS_TLS_PORT) {
    const fs = require("node:fs");
    const d = process.env.FERRODIS_TLS_DIR;
    const t = createClient({
      socket: {
        host: "127.0.0.1",
        port: Number(process.env.FERRODIS_TLS_PORT),
        tls: true,
        ca: fs.readFileSync(`${d}/ca.crt`),
        cert: fs.readFileSync(`${d}/client.crt`),
        key: fs.readFileSync(`${d}/client.key`),
      },
      scripts,
    });
    await t.connect();
    check("tls ping", await t.ping(), "PONG");
    check("tls multi", await t.multi().set("nr:tls", "v").get("nr:tls").incrTwice("nr:tls:n", 2).exec(), ["OK", "v", 4]);
    await t.quit();
  }

  await r.flushAll();
  await other.quit();
  await r.quit();
  finish();
})().catch((e) => {
  console.log("FAIL uncaught", e);
  process.exit(1);
});
