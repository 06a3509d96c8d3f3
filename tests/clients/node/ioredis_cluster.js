// ioredis Cluster against a cluster of three masters: keys spread over every master, one at a
// time and auto-pipelined; a pipeline in one slot and the client's refusal of one that spans
// nodes; hash tags with multi-key commands, a script and MULTI; CROSSSLOT from the server;
// slots moved with CLUSTER SETSLOT NODE on every node, then written through the stale slot map
// (-MOVED followed, for a command and for a pipeline); SSUBSCRIBE/SPUBLISH with sharded
// subscribers. Nodes: 127.0.0.1 at the ports in $FERRODIS_CLUSTER (comma-separated).
const Redis = require("ioredis");
const { check, finish, waitFor } = require("./check");

const ports = process.env.FERRODIS_CLUSTER.split(",").map(Number);

(async () => {
  console.log(`ioredis ${require("ioredis/package.json").version} Cluster`);
  const startup = [{ host: "127.0.0.1", port: ports[0] }];
  const rc = new Redis.Cluster(startup, { shardedSubscribers: true });
  // Plain connections to each node, to look behind the cluster client's back.
  const direct = Object.fromEntries(ports.map((p) => [p, new Redis({ host: "127.0.0.1", port: p })]));
  const slotOf = async (key) => Number(await direct[ports[0]].cluster("KEYSLOT", key));
  // The node the client's slot map names for `key`.
  const ownerOf = async (key) => {
    await rc.get(key); // the map is loaded
    const [host, port] = rc.slots[await slotOf(key)][0].split(":");
    return Number(port);
  };
  await Promise.all(ports.map((p) => direct[p].flushall()));

  // Keys over every slot range, one at a time, then concurrently on an auto-pipelined cluster.
  for (let i = 0; i < 200; i++) await rc.set(`k:${i}`, i);
  const got = [];
  for (let i = 0; i < 200; i++) got.push(await rc.get(`k:${i}`));
  check("masters", rc.nodes("master").map((n) => n.options.port).sort(), [...ports].sort());
  check("set/get over all masters", got, Array.from({ length: 200 }, (_, i) => String(i)));
  const auto = new Redis.Cluster(startup, { enableAutoPipelining: true });
  await Promise.all(Array.from({ length: 1000 }, (_, i) => auto.set(`p:${i}`, i)));
  const vals = await Promise.all(Array.from({ length: 1000 }, (_, i) => auto.get(`p:${i}`)));
  check("auto-pipelining over all masters", vals.slice(0, 3).concat(vals.length), ["0", "1", "2", 1000]);
  auto.disconnect();
  const sizes = await Promise.all(ports.map((p) => direct[p].dbsize()));
  check("every master holds a share", [sizes.every((s) => s > 200), sizes.reduce((a, b) => a + b)], [true, 1200]);

  // A pipeline in one slot; one spanning nodes is refused by the client.
  const pres = await rc.pipeline().set("{u1}:p", "1").incr("{u1}:p").get("{u1}:p").exec();
  check("pipeline in one slot", pres, [[null, "OK"], [null, 2], [null, "2"]]);
  try {
    await rc.pipeline().set("k:1", "a").set("k:2", "b").set("k:3", "c").exec();
    check("pipeline over nodes", "no error", "refused");
  } catch (e) {
    check("pipeline over nodes", /same slots allocation group/.test(e.message), true);
  }

  // Hash tags: multi-key commands, a script and MULTI in one slot.
  check("mset tag", await rc.mset("{u1}:a", "1", "{u1}:b", "2"), "OK");
  check("mget tag", await rc.mget("{u1}:a", "{u1}:b", "{u1}:none"), ["1", "2", null]);
  await rc.sadd("{u1}:s1", "a", "b");
  await rc.sadd("{u1}:s2", "b", "c");
  check("sinterstore tag", await rc.sinterstore("{u1}:s3", "{u1}:s1", "{u1}:s2"), 1);
  check("rename tag", await rc.rename("{u1}:a", "{u1}:c"), "OK");
  rc.defineCommand("concat2", { numberOfKeys: 2, lua: "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])" });
  check("script tag", await rc.concat2("{u1}:b", "{u1}:c"), "21");
  check("multi tag", await rc.multi().incr("{u1}:n").incrby("{u1}:n", 5).exec(), [[null, 1], [null, 6]]);

  // CROSSSLOT: the command goes to the first key's node, which refuses it.
  try {
    await rc.mset("x:1", "a", "x:2", "b");
    check("crossslot", "no error", "ReplyError");
  } catch (e) {
    check("crossslot", [e.name, e.message], ["ReplyError", "CROSSSLOT Keys in request don't hash to the same slot"]);
  }

  // -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
  // first); the client still has the old map, follows the redirection and learns.
  const key1 = "{moved1}k";
  const key2 = "{moved2}k";
  const moves = [];
  for (const key of [key1, key2]) {
    const owner = await ownerOf(key);
    const target = ports.find((p) => p !== owner);
    moves.push({ key, owner, target, slot: await slotOf(key), id: await direct[target].cluster("MYID") });
  }
  for (const m of moves) {
    for (const p of [m.target, ...ports.filter((p) => p !== m.target)]) {
      await direct[p].cluster("SETSLOT", m.slot, "NODE", m.id);
    }
  }
  try {
    await direct[moves[0].owner].get(key1);
    check("moved error", "no error", "ReplyError");
  } catch (e) {
    check("moved error", [e.name, e.message], ["ReplyError", `MOVED ${moves[0].slot} 127.0.0.1:${moves[0].target}`]);
  }
  const movedCount = async (p) => {
    const m = /errorstat_MOVED:count=(\d+)/.exec(await direct[p].info("errorstats"));
    return m ? Number(m[1]) : 0;
  };
  const before = await movedCount(moves[1].owner);
  check("pipeline through MOVED", await rc.pipeline().set(key2, "piped").get(key2).exec(), [[null, "OK"], [null, "piped"]]);
  check("pipeline was redirected", (await movedCount(moves[1].owner)) > before, true);
  check("set through MOVED", await rc.set(key1, "v"), "OK");
  check("get after MOVED", await rc.get(key1), "v");
  check("written on the new owner", [await direct[moves[0].target].get(key1), await direct[moves[1].target].get(key2)], ["v", "piped"]);
  await waitFor(async () => (await ownerOf(key1)) === moves[0].target && (await ownerOf(key2)) === moves[1].target);
  check("slot map learnt", [await ownerOf(key1), await ownerOf(key2)], [moves[0].target, moves[1].target]);

  // Sharded Pub/Sub.
  const msgs = [];
  rc.on("smessage", (channel, message) => msgs.push([channel, message]));
  check("ssubscribe", await rc.ssubscribe("news{u1}"), 1);
  check("spublish", await rc.spublish("news{u1}", "hello"), 1);
  await waitFor(async () => msgs.length > 0);
  check("smessage", msgs, [["news{u1}", "hello"]]);
  await rc.sunsubscribe("news{u1}");

  await Promise.all(ports.map((p) => direct[p].flushall()));
  rc.disconnect();
  Object.values(direct).forEach((d) => d.disconnect());
  finish();
})().catch((e) => {
  console.log(`FAIL: ${e.stack}`);
  process.exit(1);
});
