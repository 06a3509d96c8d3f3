# Sidekiq (Debian's ruby-sidekiq) against ferrodis: jobs pushed by the client, a Launcher
# (fetcher with BRPOP, processors, heartbeat) running them, a failing job landing in the retry
# set, then killed into the dead set, scheduled jobs moved by the scheduler's Lua script (with
# its NOSCRIPT reload after SCRIPT FLUSH), and the stats and process API.
# Server: 127.0.0.1:$FERRODIS_PORT.
require "sidekiq"
require "sidekiq/api"
require "sidekiq/launcher"
require "sidekiq/scheduled"

$fails = 0
def check(name, got, want)
  if got == want
    puts "ok   #{name}"
  else
    $fails += 1
    puts "FAIL #{name}: got #{got.inspect}, want #{want.inspect}"
  end
end

def wait_for(seconds = 10)
  deadline = Time.now + seconds
  until yield
    return false if Time.now > deadline
    sleep 0.05
  end
  true
end

port = Integer(ENV.fetch("FERRODIS_PORT"))
puts "sidekiq #{Sidekiq::VERSION}, redis-rb #{Redis::VERSION}"
redis_config = { url: "redis://127.0.0.1:#{port}/0" }
Sidekiq.configure_client { |c| c.redis = redis_config }
Sidekiq.configure_server { |c| c.redis = redis_config }
Sidekiq.logger.level = Logger::FATAL
Redis.silence_deprecations = true  # sidekiq 6.4 calls redis-rb 4.8 in ways 5.0 will change
Sidekiq.redis(&:flushall)

class AddJob
  include Sidekiq::Worker
  def perform(a, b)
    Sidekiq.redis { |c| c.rpush("sk:results", (a + b).to_s) }
  end
end

class FailJob
  include Sidekiq::Worker
  sidekiq_options retry: 1
  def perform
    raise "fails on purpose"
  end
end

5.times { |i| AddJob.perform_async(i, 10) }
FailJob.perform_async
Sidekiq::Client.push_bulk("class" => AddJob, "args" => [[1, 1], [2, 2]])
check("queue size", Sidekiq::Queue.new("default").size, 8)
check("queues", Sidekiq::Queue.all.map(&:name), ["default"])

# Scheduled jobs: the scheduler's Enq pops due jobs with its Lua script (EVALSHA; after SCRIPT
# FLUSH it gets NOSCRIPT and loads the script again).
AddJob.perform_in(3600, 50, 50)
AddJob.perform_in(3600, 60, 60)
scheduled = Sidekiq::ScheduledSet.new
check("scheduled set", scheduled.size, 2)
enq = Sidekiq::Scheduled::Enq.new
enq.enqueue_jobs
check("not due yet", scheduled.size, 2)
scheduled.to_a[0].reschedule(Time.now.to_f - 1)
enq.enqueue_jobs
check("due job enqueued", [scheduled.size, Sidekiq::Queue.new("default").size], [1, 9])
Sidekiq.redis { |c| c.script(:flush) }
scheduled.to_a[0].reschedule(Time.now.to_f - 1)
enq.enqueue_jobs
check("enqueued after SCRIPT FLUSH", [scheduled.size, Sidekiq::Queue.new("default").size], [0, 10])

# A Launcher runs them all.
Sidekiq.options[:queues] = ["default"]
Sidekiq.options[:concurrency] = 2
Sidekiq.options[:timeout] = 1
launcher = Sidekiq::Launcher.new(Sidekiq.options)
launcher.run
wait_for { Sidekiq.redis { |c| c.llen("sk:results") } >= 9 && Sidekiq::RetrySet.new.size >= 1 }
check("process registered", wait_for { Sidekiq::ProcessSet.new.size == 1 }, true)
launcher.quiet
launcher.stop
results = Sidekiq.redis { |c| c.lrange("sk:results", 0, -1) }.map(&:to_i).sort
check("results", results, [2, 4, 10, 11, 12, 13, 14, 100, 120])
check("queue drained", Sidekiq::Queue.new("default").size, 0)
retries = Sidekiq::RetrySet.new
check("retry set", [retries.size, retries.first&.item&.fetch("error_message"), retries.first&.item&.fetch("retry_count")], [1, "fails on purpose", 0])
stats = Sidekiq::Stats.new
check("stats", [stats.enqueued, stats.retry_size, stats.scheduled_size, stats.queues], [0, 1, 0, { "default" => 0 }])
retries.first.kill
check("dead set", [Sidekiq::RetrySet.new.size, Sidekiq::DeadSet.new.size], [0, 1])
Sidekiq::DeadSet.new.first.retry
check("retried from dead set", Sidekiq::Queue.new("default").map(&:klass), ["FailJob"])
Sidekiq::Queue.new("default").clear
check("queue cleared", Sidekiq::Queue.new("default").size, 0)

Sidekiq.redis(&:flushall)
puts "#{$fails.zero? ? 'PASS' : 'FAILED'}: #{$fails} failures"
exit($fails.zero? ? 0 : 1)
