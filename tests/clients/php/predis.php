<?php
// Predis (Debian's php-predis, pure PHP) against ferrodis: pipelines, a CAS transaction with
// WATCH and retries, the Keyspace SCAN iterator, blocking pops, a ScriptCommand (EVALSHA with
// Predis's own EVAL fallback on NOSCRIPT), raw stream commands, a pattern subscription through
// pubSubLoop, and ServerException error types for WRONGTYPE, NOSCRIPT, BUSY and OOM.
// Server: 127.0.0.1:$FERRODIS_PORT.
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
function error_type(callable $f) {
    try {
        $f();
        return "no error";
    } catch (Predis\Response\ServerException $e) {
        return $e->getErrorType();
    }
}
$port = (int)getenv("FERRODIS_PORT");
function mk($port) {
    return new Predis\Client(["host" => "127.0.0.1", "port" => $port, "read_write_timeout" => 10]);
}
echo "predis " . Predis\Client::VERSION . "\n";
$r = mk($port);
$r->flushall();
check("ping", (string)$r->ping(), "PONG");

$res = $r->pipeline(function ($p) {
    for ($i = 0; $i < 100; $i++) $p->rpush("pd:l", $i);
    $p->lrange("pd:l", 0, 1);
});
check("pipeline", end($res), ["0", "1"]);
check("multi", $r->transaction(function ($tx) { $tx->set("pd:m", "a"); $tx->append("pd:m", "b"); $tx->get("pd:m"); }) [2], "ab");

// A CAS transaction: WATCH, read, MULTI, write; another client spoils the first attempt and
// Predis retries.
$o = mk($port);
$r->set("pd:w", "4");
$attempts = 0;
$r->transaction(["watch" => "pd:w", "cas" => true, "retry" => 3], function ($tx) use (&$attempts, $o) {
    $attempts++;
    $v = (int)$tx->get("pd:w");
    if ($attempts == 1) $o->incr("pd:w");
    $tx->multi();
    $tx->set("pd:w", (string)($v * 2));
});
check("cas retry", [$attempts, $r->get("pd:w")], [2, "10"]);

for ($i = 0; $i < 150; $i++) $r->set("pd:scan:$i", "x");
$seen = [];
foreach (new Predis\Collection\Iterator\Keyspace($r, "pd:scan:*", 20) as $k) $seen[$k] = 1;
check("keyspace iterator", count($seen), 150);
$r->hmset("pd:h", ["a" => "1", "b" => "2"]);
$fields = [];
foreach (new Predis\Collection\Iterator\HashKey($r, "pd:h") as $f => $v) $fields[$f] = $v;
check("hash iterator", $fields, ["a" => "1", "b" => "2"]);

check("blpop timeout", $r->blpop(["pd:empty"], 1), null);
$o->rpush("pd:q", "job");
check("brpop", $r->brpop(["pd:q"], 1), ["pd:q", "job"]);

// A script command: Predis sends EVALSHA and, on NOSCRIPT, EVAL.
class IncrTwice extends Predis\Command\ScriptCommand {
    public function getKeysCount() { return 1; }
    public function getScript() {
        return "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])";
    }
}
$r->getProfile()->defineCommand("incrtwice", "IncrTwice");
check("script (NOSCRIPT, then EVAL)", $r->incrtwice("pd:n", 2), 4);
check("script exists after EVAL", $r->script("exists", sha1((new IncrTwice())->getScript())), [1]);
check("script (EVALSHA)", $r->incrtwice("pd:n", 1), 6);
$r->script("flush");
check("script after SCRIPT FLUSH", $r->incrtwice("pd:n", 1), 8);
check("eval shapes", $r->eval("return {1, 'two', {3}, false}", 0), [1, "two", [3], null]);

// Streams through raw commands (Predis 1.1 has no stream helpers).
$id1 = $r->executeRaw(["XADD", "pd:st", "*", "a", "1"]);
$r->executeRaw(["XADD", "pd:st", "*", "a", "2"]);
check("xgroup", (string)$r->executeRaw(["XGROUP", "CREATE", "pd:st", "g", "0"]), "OK");
check("xreadgroup", $r->executeRaw(["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "pd:st", ">"]), [["pd:st", [[$id1, ["a", "1"]]]]]);
check("xack", $r->executeRaw(["XACK", "pd:st", "g", $id1]), 1);

// Error types.
$r->set("pd:str", "x");
check("wrongtype", error_type(function () use ($r) { $r->lpush("pd:str", "y"); }), "WRONGTYPE");
check("noscript", error_type(function () use ($r) { $r->evalsha("ffffffffffffffffffffffffffffffffffffffff", 0); }), "NOSCRIPT");
$reply = $r->executeRaw(["XGROUP", "CREATE", "pd:st", "g", "0"], $error);
check("busygroup (raw)", [$error, explode(" ", (string)$reply)[0]], [true, "BUSYGROUP"]);

if (function_exists("pcntl_fork")) {
    // BUSY while a forked child's script loops, then SCRIPT KILL.
    $r->config("SET", "busy-reply-threshold", "100");
    $pid = pcntl_fork();
    if ($pid === 0) {
        $c = mk($port);
        exit(error_type(function () use ($c) { $c->eval("while true do end", 0); }) === "ERR" ? 0 : 1);
    }
    $busy = "no error";
    for ($i = 0; $i < 250 && $busy === "no error"; $i++) {
        $busy = error_type(function () use ($r) { $r->get("pd:n"); });
        if ($busy === "no error") usleep(20000);
    }
    check("busy", $busy, "BUSY");
    check("script kill", (string)$r->script("kill"), "OK");
    pcntl_waitpid($pid, $status);
    check("killed script error (in the child)", pcntl_wexitstatus($status), 0);
    $r->config("SET", "busy-reply-threshold", "5000");

    // A pattern subscription; a forked child publishes once it shows in PUBSUB NUMPAT.
    $pid = pcntl_fork();
    if ($pid === 0) {
        $c = mk($port);
        for ($i = 0; $i < 250 && $c->pubsub("numpat") < 1; $i++) usleep(20000);
        $c->publish("pd:ev:1", "hello");
        exit(0);
    }
    $s = mk($port);
    $loop = $s->pubSubLoop();
    $loop->psubscribe("pd:ev:*");
    $got = [];
    foreach ($loop as $msg) {
        if ($msg->kind === "pmessage") {
            $got[] = [$msg->pattern, $msg->channel, $msg->payload];
            $loop->stop();
        }
    }
    pcntl_waitpid($pid, $status);
    check("pmessage", $got, [["pd:ev:*", "pd:ev:1", "hello"]]);
}

$r->config("SET", "maxmemory-policy", "noeviction");
$r->config("SET", "maxmemory", "1");
check("oom", error_type(function () use ($r) { $r->set("pd:oom", "v"); }), "OOM");
$r->config("SET", "maxmemory", "0");

$r->flushall();
echo ($fails ? "FAILED" : "PASS") . ": $fails failures\n";
exit($fails ? 1 : 0);
