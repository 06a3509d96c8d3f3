# redis-rb (Debian's ruby-redis) against ferrodis: pipelines, MULTI/EXEC with WATCH and a retry,
# Pub/Sub with a pattern, blocking pops with timeouts, scan_each, streams and error classes.
# Server: 127.0.0.1:$FERRODIS_PORT.
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

port = Integer(ENV.fetch("FERRODIS_PORT"))
mk = -> { Redis.new(host: "127.0.0.1", port: port, timeout: 10) }
puts "redis-rb #{Redis::VERSION}"
r = mk.call
other = mk.call
r.flushall
check("ping", r.ping, "PONG")

res = r.pipelined do |p|
  100.times { |i| p.rpush("rb:l", i) }
  p.lrange("rb:l", 0, 1)
end
check("pipelined", res.last, %w[0 1])
check("multi", r.multi { |m| m.set("rb:m", "a"); m.append("rb:m", "b"); m.get("rb:m") }, ["OK", 2, "ab"])

r.set("rb:w", "2")
attempts = 0
loop do
  attempts += 1
  res = r.watch("rb:w") do
    v = r.get("rb:w").to_i
    other.incr("rb:w") if attempts == 1
    r.multi { |m| m.set("rb:w", (v * 3).to_s) }
  end
  break unless res.nil?
end
check("watch retry", [attempts, r.get("rb:w")], [2, "9"])

check("blpop timeout", r.blpop("rb:empty", timeout: 0.1), nil)
t = Thread.new { sleep 0.1; other.rpush("rb:q", "job") }
check("brpop wakes", r.brpop("rb:q", timeout: 5), ["rb:q", "job"])
t.join

200.times { |i| r.set("rb:scan:#{i}", i) }
check("scan_each", r.scan_each(match: "rb:scan:*", count: 20).to_a.uniq.size, 200)
r.hset("rb:h", *(0...50).flat_map { |i| ["f#{i}", i] })
check("hscan_each", r.hscan_each("rb:h").to_a.size, 50)

id1 = r.xadd("rb:st", { "a" => "1" })
r.xadd("rb:st", { "a" => "2" })
check("xgroup", r.xgroup(:create, "rb:st", "g", "0"), "OK")
got = r.xreadgroup("g", "c", "rb:st", ">", count: 1)
check("xreadgroup", got, { "rb:st" => [[id1, { "a" => "1" }]] })
check("xack", r.xack("rb:st", "g", id1), 1)

r.set("rb:str", "x")
begin
  r.lpush("rb:str", "y")
  check("wrongtype", "no error", "Redis::CommandError")
rescue Redis::CommandError => e
  check("wrongtype", e.message.split.first, "WRONGTYPE")
end

received = []
sub = mk.call
thr = Thread.new do
  sub.psubscribe("rb:ev:*") do |on|
    on.pmessage do |pat, ch, msg|
      received << [pat, ch, msg]
      sub.punsubscribe
    end
  end
end
50.times do
  break if r.pubsub("numpat") >= 1
  sleep 0.05
end
check("publish", r.publish("rb:ev:1", "hi"), 1)
thr.join(5)
check("pmessage", received, [["rb:ev:*", "rb:ev:1", "hi"]])

r.flushall
puts "#{$fails.zero? ? 'PASS' : 'FAILED'}: #{$fails} failures"
exit($fails.zero? ? 0 : 1)
