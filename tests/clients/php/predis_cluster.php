<?php
// Predis's redis-cluster connection (Debian's php-predis, `"cluster" => "redis"`) against a
// cluster of three masters: keys spread over every master, one at a time and in a pipeline;
// hash tags with multi-key commands and a script; multi-key commands over slots refused by the
// client; CROSSSLOT from a node; slots moved with CLUSTER SETSLOT NODE on every node, then
// written through the stale slot map (-MOVED followed by a command; a pipeline raises it).
// Predis 1.1 knows no sharded Pub/Sub commands and no MULTI over a cluster.
// Nodes: 127.0.0.1 at the ports in $FERRODIS_CLUSTER (comma-separated).
require "Predis/autoload.php";

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
echo "predis " . Predis\Client::VERSION . " redis-cluster\n";
$rc = new Predis\Client(["tcp://127.0.0.1:" . $ports[0]], ["cluster" => "redis"]);
// Plain connections to each node, to look behind the cluster client's back.
$direct = [];
foreach ($ports as $p) $direct[$p] = new Predis\Client(["host" => "127.0.0.1", "port" => $p]);
$first = $direct[$ports[0]];
$slotOf = fn($key) => $first->executeRaw(["CLUSTER", "KEYSLOT", $key]);
// The node CLUSTER SLOTS names for a slot.
$ownerOf = function ($slot) use ($first) {
    foreach ($first->executeRaw(["CLUSTER", "SLOTS"]) as $r) {
        if ($r[0] <= $slot && $slot <= $r[1]) return $r[2][1];
    }
    return null;
};
$errorstat = function ($node, $code) {
    $info = $node->info("errorstats");
    $line = $info["Errorstats"]["errorstat_$code"] ?? "";
    return preg_match('/count=(\d+)/', $line, $m) ? (int)$m[1] : 0;
};
foreach ($direct as $d) $d->flushall();

// Keys over every slot range, one at a time and in a pipeline (each command to its node).
for ($i = 0; $i < 200; $i++) $rc->set("k:$i", (string)$i);
$got = [];
for ($i = 0; $i < 200; $i++) $got[] = $rc->get("k:$i");
check("set/get over all masters", $got, array_map("strval", range(0, 199)));
$res = $rc->pipeline(function ($p) {
    for ($i = 0; $i < 1000; $i++) $p->set("p:$i", (string)$i);
    for ($i = 0; $i < 1000; $i++) $p->get("p:$i");
});
check("pipeline over all masters", array_slice($res, 1000), array_map("strval", range(0, 999)));
$sizes = array_map(fn($p) => $direct[$p]->dbsize(), $ports);
check("every master holds a share", [min($sizes) > 200, array_sum($sizes)], [true, 1200]);

// Hash tags: multi-key commands and a script; keys of several slots are refused.
check("mset tag", (string)$rc->mset(["{u1}:a" => "1", "{u1}:b" => "2"]), "OK");
check("mget tag", $rc->mget(["{u1}:a", "{u1}:b", "{u1}:none"]), ["1", "2", null]);
$rc->sadd("{u1}:s1", ["a", "b"]);
$rc->sadd("{u1}:s2", ["b", "c"]);
check("sinterstore tag", $rc->sinterstore("{u1}:s3", ["{u1}:s1", "{u1}:s2"]), 1);
// (Predis 1.1's cluster strategy has no RENAME: RPOPLPUSH stands in.)
$rc->rpush("{u1}:l1", ["x", "y"]);
check("rpoplpush tag", [$rc->rpoplpush("{u1}:l1", "{u1}:l2"), $rc->lrange("{u1}:l2", 0, -1)], ["y", ["y"]]);
$rc->set("{u1}:c", "1");
$script = "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])";
check("eval tag", $rc->eval($script, 2, "{u1}:b", "{u1}:c"), "21");
try {
    $rc->mset(["x:1" => "a", "x:2" => "b"]);
    check("keys over slots", "no error", "NotSupportedException");
} catch (Predis\NotSupportedException $e) {
    check("keys over slots", "NotSupportedException", "NotSupportedException");
}
try {
    $first->mset(["x:1" => "a", "x:2" => "b"]);
    check("crossslot from a node", "no error", "CROSSSLOT");
} catch (Predis\Response\ServerException $e) {
    check("crossslot from a node", [$e->getErrorType(), $e->getMessage()],
          ["CROSSSLOT", "CROSSSLOT Keys in request don't hash to the same slot"]);
}

// -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
// first); the client still has the old map, follows the redirection and learns.
$moves = [];
foreach (["{moved1}k", "{moved2}k"] as $key) {
    $slot = $slotOf($key);
    $owner = $ownerOf($slot);
    $target = current(array_filter($ports, fn($p) => $p !== $owner));
    $moves[] = ["key" => $key, "slot" => $slot, "owner" => $owner, "target" => $target,
                "id" => $direct[$target]->executeRaw(["CLUSTER", "MYID"])];
}
check("moved keys absent", [$rc->get($moves[0]["key"]), $rc->get($moves[1]["key"])], [null, null]);
foreach ($moves as $m) {
    $order = array_merge([$m["target"]], array_filter($ports, fn($p) => $p !== $m["target"]));
    foreach ($order as $p) $direct[$p]->executeRaw(["CLUSTER", "SETSLOT", $m["slot"], "NODE", $m["id"]]);
}
[$m1, $m2] = $moves;
try {
    $direct[$m1["owner"]]->get($m1["key"]);
    check("moved error", "no error", "MOVED");
} catch (Predis\Response\ServerException $e) {
    check("moved error", [$e->getErrorType(), $e->getMessage()], ["MOVED", "MOVED {$m1['slot']} 127.0.0.1:{$m1['target']}"]);
}
check("set through MOVED", (string)$rc->set($m1["key"], "v"), "OK");
check("get after MOVED", $rc->get($m1["key"]), "v");
// A pipeline does not follow it (Predis 1.1 raises the -MOVED, with redis-server too); a
// command does, and then the pipeline goes to the new owner.
$before = $errorstat($direct[$m2["owner"]], "MOVED");
$pipe = fn() => $rc->pipeline(function ($p) use ($m2) {
    $p->set($m2["key"], "piped");
    $p->get($m2["key"]);
});
try {
    $pipe();
    check("pipeline through MOVED", "no error", "MOVED");
} catch (Predis\Response\ServerException $e) {
    check("pipeline through MOVED", $e->getMessage(), "MOVED {$m2['slot']} 127.0.0.1:{$m2['target']}");
}
check("pipeline was redirected", $errorstat($direct[$m2["owner"]], "MOVED") > $before, true);
check("get through MOVED", $rc->get($m2["key"]), null);
$res = $pipe();
check("pipeline after MOVED", [(string)$res[0], $res[1]], ["OK", "piped"]);
check("written on the new owner", [$direct[$m1["target"]]->get($m1["key"]), $direct[$m2["target"]]->get($m2["key"])], ["v", "piped"]);

foreach ($direct as $d) $d->flushall();
echo ($fails ? "FAILED" : "PASS") . ": $fails failures\n";
exit($fails ? 1 : 0);
