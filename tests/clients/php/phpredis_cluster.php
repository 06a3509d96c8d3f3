<?php
// phpredis RedisCluster (Debian's php-redis) against a cluster of three masters: keys spread
// over every master; MSET/MGET/DEL over slots (the client splits them per node); MULTI in one
// slot; hash tags with multi-key commands and a script; CROSSSLOT from the server; slots
// moved with CLUSTER SETSLOT NODE on every node, then written through the stale slot map
// (-MOVED followed, also by a split MSET); SPUBLISH routed by its channel through rawCommand.
// RedisCluster has no pipeline() and 5.3 no sharded subscribe.
// Nodes: 127.0.0.1 at the ports in $FERRODIS_CLUSTER (comma-separated).
$fails = 0;
function check($name, $got, $want) {
    global $fails;
    if ($got === $want) {
        echo "ok   $name\n";
    } else {
        $fails++;
        echo "FAIL $name: got " . json_encode($got) . ", want " . json_encode($want) . "\n";
    }
}
$ports = array_map("intval", explode(",", getenv("FERRODIS_CLUSTER")));
echo "phpredis " . phpversion("redis") . " RedisCluster\n";
$rc = new RedisCluster(null, ["127.0.0.1:" . $ports[0]], 5.0, 5.0);
// Plain connections to each node, to look behind the cluster client's back.
$direct = [];
foreach ($ports as $p) {
    $direct[$p] = new Redis();
    $direct[$p]->connect("127.0.0.1", $p, 5.0);
}
$first = $direct[$ports[0]];
$slotOf = fn($key) => $first->rawCommand("CLUSTER", "KEYSLOT", $key);
// The node CLUSTER SLOTS names for a slot.
$ownerOf = function ($slot) use ($first) {
    foreach ($first->rawCommand("CLUSTER", "SLOTS") as $r) {
        if ($r[0] <= $slot && $slot <= $r[1]) return $r[2][1];
    }
    return null;
};
$errorstat = function ($node, $code) {
    $info = $node->info("errorstats");
    return preg_match('/count=(\d+)/', $info["errorstat_$code"] ?? "", $m) ? (int)$m[1] : 0;
};
foreach ($rc->_masters() as $m) $rc->flushAll($m);
$masters = array_map(fn($m) => (int)$m[1], $rc->_masters());
sort($masters);
$want = $ports;
sort($want);
check("masters", $masters, $want);

// Keys over every slot range, one at a time, then MSET/MGET/DEL split per node by the client.
for ($i = 0; $i < 200; $i++) $rc->set("k:$i", (string)$i);
$got = [];
for ($i = 0; $i < 200; $i++) $got[] = $rc->get("k:$i");
check("set/get over all masters", $got, array_map("strval", range(0, 199)));
$pairs = [];
for ($i = 0; $i < 1000; $i++) $pairs["p:$i"] = (string)$i;
check("mset over slots", $rc->mset($pairs), true);
check("mget over slots", $rc->mget(array_keys($pairs)), array_values($pairs));
$sizes = array_map(fn($p) => $direct[$p]->dbSize(), $ports);
check("every master holds a share", [min($sizes) > 200, array_sum($sizes)], [true, 1200]);
check("del over slots", $rc->del(array_map(fn($i) => "p:$i", range(0, 99))), 100);

// MULTI in one slot (5.3's EXEC over several slots fails against redis-server too).
check("multi tag", $rc->multi()->incr("{u1}:n")->incrBy("{u1}:n", 5)->exec(), [1, 6]);

// Hash tags: multi-key commands and a script.
check("mset tag", $rc->mset(["{u1}:a" => "1", "{u1}:b" => "2"]), true);
check("mget tag", $rc->mget(["{u1}:a", "{u1}:b", "{u1}:none"]), ["1", "2", false]);
$rc->sAdd("{u1}:s1", "a", "b");
$rc->sAdd("{u1}:s2", "b", "c");
check("sinterstore tag", $rc->sInterStore("{u1}:s3", "{u1}:s1", "{u1}:s2"), 1);
check("rename tag", $rc->rename("{u1}:a", "{u1}:c"), true);
$script = "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])";
check("eval tag", $rc->eval($script, ["{u1}:b", "{u1}:c"], 2), "21");

// CROSSSLOT: the client refuses a script over two slots itself (a warning and false); a raw
// MSET goes to its first key's node, which refuses it.
check("crossslot in the client", @$rc->eval("return 1", ["x:1", "x:2"], 2), false);
$rc->clearLastError();
check("crossslot", $rc->rawCommand("x:1", "MSET", "x:1", "a", "x:2", "b"), false);
check("crossslot error", $rc->getLastError(), "CROSSSLOT Keys in request don't hash to the same slot");

// -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
// first); the client still has the old map, follows the redirection and learns.
$moves = [];
foreach (["{moved1}k", "{moved2}k"] as $key) {
    $slot = $slotOf($key);
    $owner = $ownerOf($slot);
    $target = current(array_filter($ports, fn($p) => $p !== $owner));
    $moves[] = ["key" => $key, "slot" => $slot, "owner" => $owner, "target" => $target,
                "id" => $direct[$target]->rawCommand("CLUSTER", "MYID")];
}
check("moved keys absent", [$rc->get($moves[0]["key"]), $rc->get($moves[1]["key"])], [false, false]);
foreach ($moves as $m) {
    $order = array_merge([$m["target"]], array_filter($ports, fn($p) => $p !== $m["target"]));
    foreach ($order as $p) $direct[$p]->rawCommand("CLUSTER", "SETSLOT", $m["slot"], "NODE", $m["id"]);
}
[$m1, $m2] = $moves;
$old = $direct[$m1["owner"]];
try {
    $old->get($m1["key"]);
    check("moved error", "no error", "RedisException");
} catch (RedisException $e) {
    check("moved error", $e->getMessage(), "MOVED {$m1['slot']} 127.0.0.1:{$m1['target']}");
}
check("set through MOVED", $rc->set($m1["key"], "v"), true);
check("get after MOVED", $rc->get($m1["key"]), "v");
$before = $errorstat($direct[$m2["owner"]], "MOVED");
check("mset through MOVED", $rc->mset([$m2["key"] => "m", "k:1" => "1", "k:2" => "2"]), true);
check("mset was redirected", $errorstat($direct[$m2["owner"]], "MOVED") > $before, true);
// (MULTI refuses to follow a redirection, "when cluster is resharding": now the map is known.)
check("multi after MOVED", $rc->multi()->append($m2["key"], "x")->get($m2["key"])->exec(), [2, "mx"]);
check("written on the new owner", [$direct[$m1["target"]]->get($m1["key"]), $direct[$m2["target"]]->get($m2["key"])], ["v", "mx"]);

// SPUBLISH goes to the channel's node (rawCommand routes by its first argument).
check("spublish", $rc->rawCommand("news{u1}", "SPUBLISH", "news{u1}", "hello"), 0);
check("spublish on the owner", $direct[$ownerOf($slotOf("news{u1}"))]->rawCommand("PUBSUB", "SHARDNUMSUB", "news{u1}"), ["news{u1}", 0]);

foreach ($rc->_masters() as $m) $rc->flushAll($m);
echo ($fails ? "FAILED" : "PASS") . ": $fails failures\n";
exit($fails ? 1 : 0);
