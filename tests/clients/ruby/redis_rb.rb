# redis-rb (Debian's ruby-redis) against ferrodis: pipelines, MULTI/EXEC with WATCH and a retry,
# Pub/Sub with a pattern, blocking pops with timeouts, scan_each, streams, EVALSHA with the
# NOSCRIPT fallback to EVAL, the errors for WRONGTYPE, NOSCRIPT, BUSY and OOM, and client-side
# caching through a tracking redirect.
# Server: 127.0.0.1:$FERRODIS_PORT.
require "digest"
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

# Scripts: EVALSHA with the usual fallback to EVAL on NOSCRIPT (after SCRIPT FLUSH); scripts in
# pipelined and multi blocks.
src = "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])"
sha = r.script(:load, src)
check("script load", sha, Digest::SHA1.hexdigest(src))
run_script = lambda do |keys, argv|
  r.evalsha(sha, keys: keys, argv: argv)
rescue Redis::CommandError => e
  raise unless e.message.start_with?("NOSCRIPT")
  r.eval(src, keys: keys, argv: argv)
end
check("evalsha", run_script.call(["rb:n"], [2]), 4)
check("script exists", r.script(:exists, sha), true)
check("script flush", r.script(:flush), "OK")
check("script exists after flush", r.script(:exists, [sha]), [false])
check("NOSCRIPT fallback", run_script.call(["rb:n"], [1]), 6)
check("eval in pipelined", r.pipelined { |p| p.eval(src, keys: ["rb:n"], argv: [1]); p.evalsha(sha, keys: ["rb:n"], argv: [1]) }, [8, 10])
check("eval in multi", r.multi { |m| m.evalsha(sha, keys: ["rb:n"], argv: [1]); m.get("rb:n") }, [12, "12"])
check("eval shapes", r.eval("return {1, 'two', {3}, redis.status_reply('FINE'), false}"), [1, "two", [3], "FINE", nil])
begin
  r.evalsha("ffffffffffffffffffffffffffffffffffffffff")
  check("noscript", "no error", "Redis::CommandError")
rescue Redis::CommandError => e
  check("noscript", [e.class, e.message], [Redis::CommandError, "NOSCRIPT No matching script. Please use EVAL."])
end

# BUSY while a script loops on another connection, then SCRIPT KILL.
r.config(:set, "busy-reply-threshold", "100")
looper = mk.call
loop_result = nil
th = Thread.new do
  looper.eval("while true do end")
  loop_result = "no error"
rescue Redis::CommandError => e
  loop_result = e
end
busy = nil
250.times do
  begin
    r.ping
    sleep 0.02
  rescue Redis::CommandError => e
    busy = e
    break
  end
end
check("busy error", [busy.class, busy&.message&.split&.first], [Redis::CommandError, "BUSY"])
check("script kill", r.script(:kill), "OK")
th.join(10)
check("killed script error", [loop_result.class, loop_result.message.start_with?("ERR Script killed by user")], [Redis::CommandError, true])
r.config(:set, "busy-reply-threshold", "5000")
looper.close

# OOM with a tiny maxmemory and noeviction.
r.config(:set, "maxmemory-policy", "noeviction")
r.config(:set, "maxmemory", "1")
begin
  r.set("rb:oom", "v")
  check("oom", "no error", "Redis::CommandError")
rescue Redis::CommandError => e
  check("oom", [e.class, e.message], [Redis::CommandError, "OOM command not allowed when used memory > 'maxmemory'."])
end
r.config(:set, "maxmemory", "0")

# Client-side caching through a tracking redirect to a subscriber of __redis__:invalidate.
inval = mk.call
inval_id = inval.call(%w[CLIENT ID])
invalidated = Queue.new
inval_thr = Thread.new do
  inval.subscribe("__redis__:invalidate") do |on|
    on.message { |_ch, keys| invalidated << keys }
  end
end
50.times do
  break if r.pubsub("numsub", "__redis__:invalidate")[1] == 1
  sleep 0.05
end
tracked = mk.call
check("tracking on", tracked.call(["CLIENT", "TRACKING", "ON", "REDIRECT", inval_id.to_s]), "OK")
r.set("rb:csc", "1")
check("tracked read", tracked.get("rb:csc"), "1")
r.set("rb:csc", "2")
got = nil
100.times do
  break unless (got = (invalidated.pop(true) rescue nil)).nil?
  sleep 0.05
end
check("invalidation", got, ["rb:csc"])
tracked.close
inval_thr.kill
inval_thr.join
inval.close

# A unix socket, when the server has one (tests/clients.rs gives every server one).
if ENV["FERRODIS_SOCKET"]
  u = Redis.new(path: ENV.fetch("FERRODIS_SOCKET"), timeout: 10)
  check("unix socket", [u.set("rb:unix", "v"), u.get("rb:unix"), u.call(%w[CLIENT INFO])[/ flags=(\S+) /, 1]], ["OK", "v", "U"])
  u.close
end

# Mutual TLS, when the server has a tls-port (tests/clients.rs gives one to this scenario).
if ENV["FERRODIS_TLS_PORT"]
  require "openssl"
  d = ENV.fetch("FERRODIS_TLS_DIR")
  t = Redis.new(
    host: "127.0.0.1", port: Integer(ENV.fetch("FERRODIS_TLS_PORT")), timeout: 10, ssl: true,
    ssl_params: {
      ca_file: "#{d}/ca.crt",
      cert: OpenSSL::X509::Certificate.new(File.read("#{d}/client.crt")),
      key: OpenSSL::PKey.read(File.read("#{d}/client.key"))
    }
  )
  check("tls ping", t.ping, "PONG")
  check("tls pipelined", t.pipelined { |p| p.set("rb:tls", "v" * 100_000); p.strlen("rb:tls") }, ["OK", 100_000])
  t.close
end

r.flushall
puts "#{$fails.zero? ? 'PASS' : 'FAILED'}: #{$fails} failures"
exit($fails.zero? ? 0 : 1)
