#!/usr/bin/env bash
# Runs one client-matrix scenario against the server at 127.0.0.1:$FERRODIS_PORT.
#
#   tests/clients/run.sh --list      the scenario names, one a line
#   tests/clients/run.sh NAME        run one; exit 0 pass, 77 its runtime or library is missing
#                                    (install with tests/clients/install.sh), anything else fail
#
# tests/clients.rs starts a ferrodis per scenario and calls this; by hand, start a server and
# run e.g. `FERRODIS_PORT=6379 tests/clients/run.sh py-sync-resp3`. The *-cluster scenarios
# want a cluster of three masters and its ports in FERRODIS_CLUSTER (comma-separated; the
# first is also FERRODIS_PORT): tests/clients.rs makes one per scenario.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="$here/.venv/bin/python"
node_dir="$here/node"

scenarios=(
  py-sync-resp2 py-sync-resp3 py-hiredis-resp2 py-hiredis-resp3 py-async-resp2 py-async-resp3
  py-rq py-pottery py-celery node-ioredis node-redis node-bullmq c-hiredis ruby-redis ruby-sidekiq php-redis php-predis
  py-cluster py-async-cluster node-ioredis-cluster node-redis-cluster ruby-redis-cluster php-redis-cluster
  php-predis-cluster
)

if [ "${1:-}" = "--list" ]; then printf '%s\n' "${scenarios[@]}"; exit 0; fi
name="${1:?usage: run.sh NAME | --list}"
: "${FERRODIS_PORT:?set FERRODIS_PORT to the port of the server}"

missing() { echo "missing: $*  (install with tests/clients/install.sh)"; exit 77; }

need_py() {
  [ -x "$py" ] || missing "the Python venv $here/.venv"
  "$py" -c "import $1" 2>/dev/null || missing "Python module $1 in $here/.venv"
}
need_node() {  # PACKAGE [DIR]
  local dir="${2:-$node_dir}"
  command -v node >/dev/null || missing "node"
  [ -d "$dir/node_modules/$1" ] || missing "npm package $1 in $dir/node_modules"
}

case "$name" in
  py-sync-resp2) need_py redis; exec "$py" "$here/python/redis_py.py" --protocol 2 --parser python ;;
  py-sync-resp3) need_py redis; exec "$py" "$here/python/redis_py.py" --protocol 3 --parser python ;;
  py-hiredis-resp2) need_py hiredis; exec "$py" "$here/python/redis_py.py" --protocol 2 --parser hiredis ;;
  py-hiredis-resp3) need_py hiredis; exec "$py" "$here/python/redis_py.py" --protocol 3 --parser hiredis ;;
  py-async-resp2) need_py redis; exec "$py" "$here/python/redis_py_async.py" --protocol 2 ;;
  py-async-resp3) need_py redis; exec "$py" "$here/python/redis_py_async.py" --protocol 3 ;;
  py-rq) need_py rq; exec "$py" "$here/python/rq_queue.py" ;;
  py-pottery) need_py pottery; exec "$py" "$here/python/pottery_redlock.py" ;;
  py-celery) need_py celery; cd "$here/python" && exec "$py" celery_tasks.py ;;
  node-ioredis) need_node ioredis; exec node "$node_dir/ioredis.js" ;;
  node-redis) need_node redis; exec node "$node_dir/node_redis.js" ;;
  node-bullmq) need_node bullmq "$here/bullmq"; exec node "$here/bullmq/bullmq.js" ;;
  c-hiredis)
    command -v gcc >/dev/null || missing "gcc"
    [ -f /usr/include/hiredis/hiredis.h ] || missing "libhiredis-dev"
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    gcc -O1 -Wall -Werror -o "$out/hiredis_scenario" "$here/c/hiredis_scenario.c" -lhiredis || exit 1
    "$out/hiredis_scenario"
    ;;
  ruby-redis)
    command -v ruby >/dev/null || missing "ruby"
    ruby -e 'require "redis"' 2>/dev/null || missing "ruby-redis"
    exec ruby "$here/ruby/redis_rb.rb"
    ;;
  ruby-sidekiq)
    command -v ruby >/dev/null || missing "ruby"
    ruby -e 'require "sidekiq"' 2>/dev/null || missing "ruby-sidekiq"
    exec ruby "$here/ruby/sidekiq_jobs.rb"
    ;;
  php-redis)
    command -v php >/dev/null || missing "php-cli"
    php -r 'exit(extension_loaded("redis") ? 0 : 1);' || missing "php-redis"
    exec php "$here/php/phpredis.php"
    ;;
  php-predis)
    command -v php >/dev/null || missing "php-cli"
    php -r 'exit((include "Predis/autoload.php") ? 0 : 1);' 2>/dev/null || missing "php-predis"
    exec php "$here/php/predis.php"
    ;;
  py-cluster) need_py redis; exec "$py" "$here/python/redis_py_cluster.py" --protocol 3 ;;
  py-async-cluster) need_py redis; exec "$py" "$here/python/redis_py_cluster.py" --protocol 2 --asyncio ;;
  node-ioredis-cluster) need_node ioredis; exec node "$node_dir/ioredis_cluster.js" ;;
  node-redis-cluster) need_node redis; exec node "$node_dir/node_redis_cluster.js" ;;
  ruby-redis-cluster)
    command -v ruby >/dev/null || missing "ruby"
    ruby -e 'require "redis"' 2>/dev/null || missing "ruby-redis"
    exec ruby "$here/ruby/redis_rb_cluster.rb"
    ;;
  php-redis-cluster)
    command -v php >/dev/null || missing "php-cli"
    php -r 'exit(extension_loaded("redis") ? 0 : 1);' || missing "php-redis"
    exec php "$here/php/phpredis_cluster.php"
    ;;
  php-predis-cluster)
    command -v php >/dev/null || missing "php-cli"
    php -r 'exit((include "Predis/autoload.php") ? 0 : 1);' 2>/dev/null || missing "php-predis"
    exec php "$here/php/predis_cluster.php"
    ;;
  *) echo "unknown scenario $name (see run.sh --list)"; exit 2 ;;
esac
