#!/bin/sh
# Regenerates the README's observatory screenshots (docs/observatory/*.png): starts a ferrodis
# and ferrodis-observatory on spare ports, builds one key of each kind, and photographs the page
# with headless Chromium (Debian: apt-get install -y chromium). Run from the repository root
# after `cargo build`.
set -eu
BIN=${BIN:-target/debug}
PORT=${PORT:-7461}
WEB=${WEB:-7462}
OUT=docs/observatory
mkdir -p "$OUT"
"$BIN/ferrodis-server" --port "$PORT" --save '' --enable-debug-command yes >/dev/null 2>&1 &
SERVER=$!
"$BIN/ferrodis-observatory" --port "$PORT" --listen "127.0.0.1:$WEB" --refresh 0 >/dev/null 2>&1 &
OBS=$!
trap 'kill $OBS $SERVER 2>/dev/null' EXIT
sleep 1
cli() { redis-cli -p "$PORT" "$@" >/dev/null; }

# A listpack hash with a string, a 13-bit, a 24-bit and a 64-bit integer, and a long string.
cli HSET user:1 name Ada born 1815 id 70000 ns 1700000000000000000 \
    motto "That brain of mine is something more than merely mortal"
# A quicklist of 4-entry nodes whose inner nodes are LZF-compressed.
cli CONFIG SET list-max-listpack-size 4
cli CONFIG SET list-compress-depth 1
i=1; while [ $i -le 18 ]; do cli RPUSH queue "job-$i:resize-image:bucket/photos/$i.jpg"; i=$((i+1)); done
# A skiplist sorted set.
cli CONFIG SET zset-max-listpack-entries 8
i=1; while [ $i -le 16 ]; do cli ZADD board $((i * 7 % 23)) "player$i"; i=$((i+1)); done
# A hash caught mid-rehash: 33 fields grow its 32 buckets to 64, three reads move 3 buckets.
cli CONFIG SET hash-max-listpack-entries 16
i=1; while [ $i -le 33 ]; do cli HSET sessions "sess:$i" "$i"; i=$((i+1)); done
cli HGET sessions sess:1; cli HGET sessions sess:2; cli HGET sessions sess:3

shot() { # key file height
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="1280,$3" --screenshot="$OUT/$2.png" \
        "http://127.0.0.1:$WEB/?key=$1" >/dev/null 2>&1
}
shot user:1 listpack-hash 430
shot queue quicklist 880
shot board skiplist-zset 640
shot sessions rehashing-dict 900
echo "screenshots in $OUT"
