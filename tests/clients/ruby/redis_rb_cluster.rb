# redis-rb's cluster client (Debian's ruby-redis 4.8: `Redis.new(cluster: ...)`; the separate
# redis-clustering gem of redis-rb 5 is not packaged by Debian) against a cluster of three
# masters: keys spread over every master; pipelined and multi in one slot and the client's
# refusal of a pipeline over nodes; hash tags with multi-key commands and a script; CROSSSLOT
# from the server; slots moved with CLUSTER SETSLOT NODE on every node, then written through
# the stale slot map (-MOVED followed, for a command and for a pipeline); SPUBLISH routed by
# its channel. redis-rb 4.8 has no sharded subscribe.
# Nodes: 127.0.0.1 at the ports in $FERRODIS_CLUSTER (comma-separated).
require "redis"

$fails = 0
def check(name, got, want)
  if got == want
    puts "ok   #{name}"
  else
    $fails += 1
    puts "FAIL #{name}: got #{got.inspect}, want #{want.inspect}"
  end
end

ports = ENV.fetch("FERRODIS_CLUSTER").split(",").map { |p| Integer(p) }
puts "redis-rb #{Redis::VERSION} cluster"
rc = Redis.new(cluster: ["redis://127.0.0.1:#{ports[0]}"], timeout: 10)
# Plain connections to each node, to look behind the cluster client's back.
direct = ports.to_h { |p| [p, Redis.new(host: "127.0.0.1", port: p, timeout: 10)] }
slot_of = ->(key) { direct[ports[0]].cluster("keyslot", key) }
# The node CLUSTER SLOTS names for a slot, as seen by `node`.
owner_of = lambda do |slot, node|
  range = node.cluster("slots").find { |r| r[0] <= slot && slot <= r[1] }
  range[2][1]
end
errorstat = ->(node, code) { node.info("errorstats")["errorstat_#{code}"].to_s[/count=(\d+)/, 1].to_i }
rc.flushall

# Keys over every slot range, one at a time.
300.times { |i| rc.set("k:#{i}", i) }
check("set/get over all masters", (0...300).map { |i| rc.get("k:#{i}") }, (0...300).map(&:to_s))
sizes = ports.map { |p| direct[p].dbsize }
check("every master holds a share", [sizes.all? { |s| s > 50 }, sizes.sum], [true, 300])
check("dbsize over the cluster", rc.dbsize, 300)

# Pipelined and multi in one slot; a pipeline over nodes is refused by the client.
res = rc.pipelined do |p|
  100.times { |i| p.rpush("{u1}:l", i) }
  p.lrange("{u1}:l", 0, 1)
end
check("pipelined in one slot", res.last, %w[0 1])
check("multi in one slot", rc.multi { |m| m.incr("{u1}:n"); m.incrby("{u1}:n", 5) }, [1, 6])
begin
  rc.pipelined { |p| 10.times { |i| p.set("k:#{i}", i) } }
  check("pipelined over nodes", "no error", "CrossSlotPipeliningError")
rescue Redis::Cluster::CrossSlotPipeliningError
  check("pipelined over nodes", "CrossSlotPipeliningError", "CrossSlotPipeliningError")
end

# Hash tags: multi-key commands and a script.
check("mset tag", rc.mset("{u1}:a", "1", "{u1}:b", "2"), "OK")
check("mget tag", rc.mget("{u1}:a", "{u1}:b", "{u1}:none"), ["1", "2", nil])
rc.sadd("{u1}:s1", %w[a b])
rc.sadd("{u1}:s2", %w[b c])
check("sinterstore tag", rc.sinterstore("{u1}:s3", "{u1}:s1", "{u1}:s2"), 1)
check("rename tag", rc.rename("{u1}:a", "{u1}:c"), "OK")
script = "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])"
check("eval tag", rc.eval(script, keys: ["{u1}:b", "{u1}:c"]), "21")

# CROSSSLOT: the command goes to the first key's node, which refuses it.
begin
  rc.mset("x:1", "a", "x:2", "b")
  check("crossslot", "no error", "Redis::CommandError")
rescue Redis::CommandError => e
  check("crossslot", [e.class, e.message], [Redis::CommandError, "CROSSSLOT Keys in request don't hash to the same slot"])
end

# -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
# first); the client still has the old map, follows the redirection and learns.
moves = ["{moved1}k", "{moved2}k"].map do |key|
  slot = slot_of.(key)
  owner = owner_of.(slot, direct[ports[0]])
  target = ports.find { |p| p != owner }
  { key: key, slot: slot, owner: owner, target: target, id: direct[target].cluster("myid") }
end
check("moved keys absent", moves.map { |m| rc.get(m[:key]) }, [nil, nil])
moves.each do |m|
  ([m[:target]] + ports.reject { |p| p == m[:target] }).each do |p|
    direct[p].cluster("setslot", m[:slot], "node", m[:id])
  end
end
m1, m2 = moves
begin
  direct[m1[:owner]].get(m1[:key])
  check("moved error", "no error", "Redis::CommandError")
rescue Redis::CommandError => e
  check("moved error", e.message, "MOVED #{m1[:slot]} 127.0.0.1:#{m1[:target]}")
end
check("set through MOVED", rc.set(m1[:key], "v"), "OK")
check("get after MOVED", rc.get(m1[:key]), "v")
before = errorstat.(direct[m2[:owner]], "MOVED")
check("pipelined through MOVED", rc.pipelined { |p| p.set(m2[:key], "piped"); p.get(m2[:key]) }, ["OK", "piped"])
check("pipelined was redirected", errorstat.(direct[m2[:owner]], "MOVED") > before, true)
check("written on the new owner", [direct[m1[:target]].get(m1[:key]), direct[m2[:target]].get(m2[:key])], ["v", "piped"])

# SPUBLISH goes to the channel's node (no sharded subscriber in this client: a plain
# connection to that node subscribes, reading replies with the client's call_loop).
channel = "news{u1}"
owner = owner_of.(slot_of.(channel), direct[ports[0]])
got = nil
sub = Thread.new do
  s = Redis.new(host: "127.0.0.1", port: owner, timeout: 10)
  s._client.call_loop([:ssubscribe, channel]) { |msg| (got = msg) && break if msg[0] == "smessage" }
end
n = 0
100.times do
  n = rc.call([:spublish, channel, "hello"])
  break if n == 1
  sleep 0.02
end
check("spublish", n, 1)
sub.join(5)
check("smessage", got, ["smessage", channel, "hello"])

rc.flushall
puts "#{$fails.zero? ? 'PASS' : 'FAILED'}: #{$fails} failures"
exit($fails.zero? ? 0 : 1)
