<?php
// phpredis (Debian's php-redis) against ferrodis: pipelines, MULTI/EXEC with WATCH and a retry,
// blocking pops with timeouts, the SCAN iterator, streams, a pattern subscription, evalSha with
// the NOSCRIPT fallback to eval, and the errors for WRONGTYPE, NOSCRIPT, BUSY and OOM.
// Server: 127.0.0.1:$FERRODIS_PORT.
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
$port = (int)getenv("FERRODIS_PORT");
function mk($port) {
    $r = new Redis();
    $r->connect("127.0.0.1", $port, 5.0);
    return $r;
}
echo "phpredis " . phpversion("redis") . "\n";
$r = mk($port);
$o = mk($port);
$r->flushAll();
check("ping", $r->ping(), true);

$p = $r->pipeline();
for ($i = 0; $i < 100; $i++) $p->rPush("php:l", (string)$i);
$p->lRange("php:l", 0, 1);
$res = $p->exec();
check("pipeline", end($res), ["0", "1"]);
check("multi", $r->multi()->set("php:m", "a")->append("php:m", "b")->get("php:m")->exec(), [true, 2, "ab"]);

$r->set("php:w", "4");
$attempts = 0;
do {
    $attempts++;
    $r->watch("php:w");
    $v = (int)$r->get("php:w");
    if ($attempts == 1) $o->incr("php:w");
    $res = $r->multi()->set("php:w", (string)($v * 2))->exec();
} while ($res === false && $attempts < 5);
check("watch retry", [$attempts, $r->get("php:w")], [2, "10"]);

check("blpop timeout", $r->blPop(["php:empty"], 1), []);
$o->rPush("php:q", "job");
check("brpop", $r->brPop(["php:q"], 1), ["php:q", "job"]);

for ($i = 0; $i < 150; $i++) $r->set("php:scan:$i", "x");
$r->setOption(Redis::OPT_SCAN, Redis::SCAN_RETRY);
$it = null;
$seen = [];
while ($keys = $r->scan($it, "php:scan:*", 20)) foreach ($keys as $k) $seen[$k] = 1;
check("scan iterator", count($seen), 150);

$id1 = $r->xAdd("php:st", "*", ["a" => "1"]);
$r->xAdd("php:st", "*", ["a" => "2"]);
check("xgroup", $r->xGroup("CREATE", "php:st", "g", "0"), true);
check("xreadgroup", $r->xReadGroup("g", "c", ["php:st" => ">"], 1), ["php:st" => [$id1 => ["a" => "1"]]]);
check("xack", $r->xAck("php:st", "g", [$id1]), 1);

$r->set("php:str", "x");
check("wrongtype", $r->lPush("php:str", "y"), false);
check("wrongtype error", explode(" ", (string)$r->getLastError())[0], "WRONGTYPE");
$r->clearLastError();

// A pattern subscription: phpredis blocks inside psubscribe, so the publisher is a forked child
// that waits until the subscription shows in PUBSUB NUMPAT. phpredis 5.3 offers no way out of
// the loop from the callback (punsubscribe there and returning false both keep it reading, with
// redis-server 7.0.15 as with ferrodis), so the loop ends with the read timeout's exception.
if (!function_exists("pcntl_fork")) {
    echo "skip pattern subscription: no pcntl\n";
} else {
    $pid = pcntl_fork();
    if ($pid === 0) {
        $c = mk($port);
        for ($i = 0; $i < 250 && $c->pubsub("numpat") < 1; $i++) usleep(20000);
        $c->publish("php:ev:1", "hello");
        exit(0);
    }
    $s = mk($port);
    $s->setOption(Redis::OPT_READ_TIMEOUT, 2);
    $got = [];
    try {
        $s->psubscribe(["php:ev:*"], function ($redis, $pat, $ch, $msg) use (&$got) {
            $got[] = [$pat, $ch, $msg];
        });
    } catch (RedisException $e) {
        // The read timeout after the message.
    }
    pcntl_waitpid($pid, $status);
    check("pmessage", $got, [["php:ev:*", "php:ev:1", "hello"]]);
}

// Scripts: evalSha with the usual fallback to eval on NOSCRIPT (after SCRIPT FLUSH), in a
// pipeline and a transaction too.
$src = "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])";
$sha = $r->script("load", $src);
check("script load", $sha, sha1($src));
$run = function ($keys, $argv) use ($r, $src, $sha) {
    $res = $r->evalSha($sha, array_merge($keys, $argv), count($keys));
    if ($res === false && strpos((string)$r->getLastError(), "NOSCRIPT") === 0) {
        $r->clearLastError();
        $res = $r->eval($src, array_merge($keys, $argv), count($keys));
    }
    return $res;
};
check("evalSha", $run(["php:n"], ["2"]), 4);
check("script exists", $r->script("exists", $sha), [1]);
check("script flush", $r->script("flush"), true);
check("script exists after flush", $r->script("exists", $sha), [0]);
check("NOSCRIPT fallback", $run(["php:n"], ["1"]), 6);
check("last error cleared", $r->getLastError(), null);
check("eval in pipeline", $r->pipeline()->eval($src, ["php:n", "1"], 1)->evalSha($sha, ["php:n", "1"], 1)->exec(), [8, 10]);
check("evalSha in multi", $r->multi()->evalSha($sha, ["php:n", "1"], 1)->get("php:n")->exec(), [12, "12"]);
check("eval shapes", $r->eval("return {1, 'two', {3}, redis.status_reply('FINE'), false}"), [1, "two", [3], true, false]);
check("noscript", $r->evalSha("ffffffffffffffffffffffffffffffffffffffff"), false);
check("noscript error", $r->getLastError(), "NOSCRIPT No matching script. Please use EVAL.");
$r->clearLastError();

// BUSY while a script loops on another connection (a forked child), then SCRIPT KILL.
if (function_exists("pcntl_fork")) {
    $r->config("SET", "busy-reply-threshold", "100");
    $pid = pcntl_fork();
    if ($pid === 0) {
        $c = mk($port);
        $c->setOption(Redis::OPT_READ_TIMEOUT, 10);
        $res = $c->eval("while true do end");
        exit($res === false && strpos((string)$c->getLastError(), "ERR Script killed by user") === 0 ? 0 : 1);
    }
    // phpredis returns false for ERR, NOSCRIPT, WRONGTYPE, BUSYGROUP and NOGROUP errors and
    // throws a RedisException with the message for the others (BUSY, OOM, LOADING, ...).
    $busy = null;
    for ($i = 0; $i < 250 && $busy === null; $i++) {
        try {
            $r->get("php:n");
            usleep(20000);
        } catch (RedisException $e) {
            $busy = $e;
        }
    }
    check("busy error", $busy ? [get_class($busy), explode(" ", $busy->getMessage())[0]] : null, ["RedisException", "BUSY"]);
    $r->clearLastError();
    check("script kill", $r->script("kill"), true);
    pcntl_waitpid($pid, $status);
    check("killed script error (in the child)", pcntl_wexitstatus($status), 0);
    $r->config("SET", "busy-reply-threshold", "5000");
}

// OOM with a tiny maxmemory and noeviction.
$r->config("SET", "maxmemory-policy", "noeviction");
$r->config("SET", "maxmemory", "1");
try {
    $r->set("php:oom", "v");
    check("oom", "no error", "RedisException");
} catch (RedisException $e) {
    check("oom", $e->getMessage(), "OOM command not allowed when used memory > 'maxmemory'.");
}
$r->clearLastError();
$r->config("SET", "maxmemory", "0");

// A unix socket, when the server has one (tests/clients.rs gives every server one).
if (getenv("FERRODIS_SOCKET")) {
    $u = new Redis();
    $u->connect(getenv("FERRODIS_SOCKET"));
    $u->set("php:unix", "v");
    preg_match("/ flags=(\\S+) /", $u->client("info"), $m);
    check("unix socket", [$u->get("php:unix"), $m[1] ?? null], ["v", "U"]);
    $u->close();
}

// Mutual TLS, when the server has a tls-port (tests/clients.rs gives one to this scenario).
if (getenv("FERRODIS_TLS_PORT")) {
    $d = getenv("FERRODIS_TLS_DIR");
    $t = new Redis();
    $t->connect("tls://127.0.0.1", (int)getenv("FERRODIS_TLS_PORT"), 5.0, null, 0, 0,
        ["stream" => ["cafile" => "$d/ca.crt", "local_cert" => "$d/client.crt", "local_pk" => "$d/client.key", "peer_name" => "localhost"]]);
    check("tls ping", $t->ping(), true);
    check("tls pipeline", $t->pipeline()->set("php:tls", str_repeat("v", 100000))->strlen("php:tls")->exec(), [true, 100000]);
    $t->close();
}

$r->flushAll();
echo ($fails ? "FAILED" : "PASS") . ": $fails failures\n";
exit($fails ? 1 : 0);
