// node-redis createCluster against a cluster of three masters: keys spread over every master,
// one at a time and concurrently; a pipeline and MULTI in one slot; hash tags with multi-key
// commands and a script; CROSSSLOT from the server; slots moved with CLUSTER SETSLOT NODE on
// every node, then written through the stale slot map (-MOVED followed, for a command and for
// a pipeline); sSubscribe/sPublish. Nodes: 127.0.0.1 at the ports in $FERRODIS_CLUSTER.
const { createClient, createCluster, defineScript } = require("redis");
const { check, finish, waitFor } = require("./check");

const ports = process.env.FERRODIS_CLUSTER.split(",").map(Number);

(async () => {
  console.log(`node-redis ${require("redis/package.json").version} createCluster (@redis/client ${require("@redis/client/package.json").version})`);
  const rc = createCluster({
    rootNodes: [{ url: `redis://127.0.0.1:${ports[0]}` }],
    scripts: {
      concat2: defineScript({
        NUMBER_OF_KEYS: 2,
        SCRIPT: "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])",
        transformArguments: (a, b) => [a, b],
      }),
    },
  });
  rc.on("error", (e) => console.log(`cluster error: ${e}`));
  await rc.connect();
  // Plain connections to each node, to look behind the cluster client's back.
  const direct = {};
  for (const p of ports) {
    direct[p] = createClient({ url: `redis://127.0.0.1:${p}` });
    await direct[p].connect();
  }
  const slotOf = async (key) => Number(await direct[ports[0]].sendCommand(["CLUSTER", "KEYSLOT", key]));
  const ownerOf = async (key) => rc.slots[await slotOf(key)].master.port;
  await Promise.all(ports.map((p) => direct[p].flushAll()));
  check("masters", rc.masters.map((n) => n.port).sort(), [...ports].sort());

  // Keys over every slot range, one at a time, then concurrently.
  for (let i = 0; i < 200; i++) await rc.set(`k:${i}`, String(i));
  const got = [];
  for (let i = 0; i < 200; i++) got.push(await rc.get(`k:${i}`));
  check("set/get over all masters", got, Array.from({ length: 200 }, (_, i) => String(i)));
  await Promise.all(Array.from({ length: 1000 }, (_, i) => rc.set(`p:${i}`, String(i))));
  const vals = await Promise.all(Array.from({ length: 1000 }, (_, i) => rc.get(`p:${i}`)));
  check("concurrent over all masters", vals.slice(0, 3).concat(vals.length), ["0", "1", "2", 1000]);
  const sizes = await Promise.all(ports.map((p) => direct[p].dbSize()));
  check("every master holds a share", [sizes.every((s) => s > 200), sizes.reduce((a, b) => a + b)], [true, 1200]);

  // A pipeline and MULTI in one slot; hash tags with multi-key commands and a script.
  check("pipeline in one slot", await rc.multi().set("{u1}:p", "1").incr("{u1}:p").get("{u1}:p").execAsPipeline(), ["OK", 2, "2"]);
  check("multi tag", await rc.multi().incr("{u1}:n").incrBy("{u1}:n", 5).exec(), [1, 6]);
  check("mset tag", await rc.mSet(["{u1}:a", "1", "{u1}:b", "2"]), "OK");
  check("mget tag", await rc.mGet(["{u1}:a", "{u1}:b", "{u1}:none"]), ["1", "2", null]);
  await rc.sAdd("{u1}:s1", ["a", "b"]);
  await rc.sAdd("{u1}:s2", ["b", "c"]);
  check("sinterstore tag", await rc.sInterStore("{u1}:s3", ["{u1}:s1", "{u1}:s2"]), 1);
  check("rename tag", await rc.rename("{u1}:a", "{u1}:c"), "OK");
  check("script tag", await rc.concat2("{u1}:b", "{u1}:c"), "21");

  // CROSSSLOT: the command goes to the first key's node, which refuses it.
  try {
    await rc.mSet(["x:1", "a", "x:2", "b"]);
    check("crossslot", "no error", "ErrorReply");
  } catch (e) {
    check("crossslot", [e.constructor.name, e.message], ["ErrorReply", "CROSSSLOT Keys in request don't hash to the same slot"]);
  }

  // -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
  // first); the client still has the old map, follows the redirection and learns.
  const key1 = "{moved1}k";
  const key2 = "{moved2}k";
  const moves = [];
  for (const key of [key1, key2]) {
    const owner = await ownerOf(key);
    const target = ports.find((p) => p !== owner);
    moves.push({ key, owner, target, slot: await slotOf(key), id: await direct[target].sendCommand(["CLUSTER", "MYID"]) });
  }
  for (const m of moves) {
    for (const p of [m.target, ...ports.filter((p) => p !== m.target)]) {
      await direct[p].sendCommand(["CLUSTER", "SETSLOT", String(m.slot), "NODE", m.id]);
    }
  }
  try {
    await direct[moves[0].owner].get(key1);
    check("moved error", "no error", "ErrorReply");
  } catch (e) {
    check("moved error", [e.constructor.name, e.message], ["ErrorReply", `MOVED ${moves[0].slot} 127.0.0.1:${moves[0].target}`]);
  }
  check("set through MOVED", await rc.set(key1, "v"), "OK");
  check("get after MOVED", await rc.get(key1), "v");
  check("slot map learnt", [await ownerOf(key1), await ownerOf(key2)], [moves[0].target, moves[1].target]);
  check("pipeline after MOVED", await rc.multi().set(key2, "piped").get(key2).execAsPipeline(), ["OK", "piped"]);
  check("written on the new owner", [await direct[moves[0].target].get(key1), await direct[moves[1].target].get(key2)], ["v", "piped"]);

  // Sharded Pub/Sub.
  const msgs = [];
  await rc.sSubscribe("news{u1}", (message, channel) => msgs.push([channel, message]));
  check("spublish", await rc.sPublish("news{u1}", "hello"), 1);
  await waitFor(async () => msgs.length > 0);
  check("smessage", msgs, [["news{u1}", "hello"]]);
  await rc.sUnsubscribe("news{u1}");

  await Promise.all(ports.map((p) => direct[p].flushAll()));
  await rc.disconnect();
  for (const d of Object.values(direct)) await d.disconnect();
  finish();
})().catch((e) => {
  console.log(`FAIL: ${e.stack}`);
  process.exit(1);
});
