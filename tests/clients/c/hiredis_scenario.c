/* hiredis (Debian's libhiredis-dev) against ferrodis: pipelined commands, MULTI/EXEC with WATCH
 * and a retry, Pub/Sub with a pattern, a blocking pop with a timeout, a SCAN loop, streams,
 * EVALSHA with the NOSCRIPT fallback to EVAL, the WRONGTYPE, NOSCRIPT, BUSY and OOM error
 * replies, and an invalidation through a tracking redirect. Server: 127.0.0.1:$FERRODIS_PORT.
 * tests/clients/run.sh compiles it. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fails = 0;

static void check(const char *name, int ok, const char *detail) {
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, ok ? "" : ": ", ok ? "" : detail);
    if (!ok) fails++;
}

static redisContext *connect_or_die(int port) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        printf("FAIL connect: %s\n", c ? c->errstr : "no context");
        exit(1);
    }
    return c;
}

/* Runs a command and returns the reply; exits on a connection error. */
static redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        printf("FAIL connection: %s\n", c->errstr);
        exit(1);
    }
    return r;
}

static int is_str(redisReply *r, const char *s) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && strcmp(r->str, s) == 0;
}

int main(void) {
    const char *p = getenv("FERRODIS_PORT");
    if (!p) { printf("FAIL FERRODIS_PORT unset\n"); return 1; }
    int port = atoi(p);
    printf("hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    redisContext *c = connect_or_die(port), *o = connect_or_die(port);
    redisReply *r;

    freeReplyObject(cmd(c, "FLUSHALL"));
    r = cmd(c, "PING");
    check("ping", is_str(r, "PONG"), "not PONG");
    freeReplyObject(r);

    /* Pipeline: 1000 appended commands, then read every reply. */
    for (int i = 0; i < 1000; i++) redisAppendCommand(c, "RPUSH c:list %d", i);
    int pipe_ok = 1;
    for (int i = 0; i < 1000; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) { pipe_ok = 0; break; }
        if (r->type != REDIS_REPLY_INTEGER || r->integer != i + 1) pipe_ok = 0;
        freeReplyObject(r);
    }
    check("pipeline 1000", pipe_ok, "wrong reply");

    /* Binary-safe values. */
    char bin[5] = {'a', 0, 'b', '\r', '\n'};
    freeReplyObject(cmd(c, "SET c:bin %b", bin, (size_t)5));
    r = cmd(c, "GET c:bin");
    check("binary value", r->type == REDIS_REPLY_STRING && r->len == 5 && memcmp(r->str, bin, 5) == 0, "differs");
    freeReplyObject(r);

    /* WATCH with a retry: another connection spoils the first attempt. */
    freeReplyObject(cmd(c, "SET c:w 1"));
    int attempts = 0, done = 0;
    while (!done && attempts < 5) {
        attempts++;
        freeReplyObject(cmd(c, "WATCH c:w"));
        r = cmd(c, "GET c:w");
        long v = atol(r->str);
        freeReplyObject(r);
        if (attempts == 1) freeReplyObject(cmd(o, "INCR c:w"));
        freeReplyObject(cmd(c, "MULTI"));
        r = cmd(c, "SET c:w %ld", v * 7);
        check("queued", is_str(r, "QUEUED"), "not QUEUED");
        freeReplyObject(r);
        r = cmd(c, "EXEC");
        done = r->type == REDIS_REPLY_ARRAY;
        freeReplyObject(r);
    }
    r = cmd(c, "GET c:w");
    check("watch retry", attempts == 2 && is_str(r, "14"), "wrong attempts or value");
    freeReplyObject(r);

    /* Blocking pop with a timeout: a nil reply. */
    r = cmd(c, "BLPOP c:empty 0.1");
    check("blpop timeout", r->type == REDIS_REPLY_NIL, "not nil");
    freeReplyObject(r);

    /* SCAN until the cursor comes back to 0. */
    for (int i = 0; i < 200; i++) freeReplyObject(cmd(c, "SET c:scan:%d x", i));
    long seen = 0;
    char cursor[32] = "0";
    do {
        r = cmd(c, "SCAN %s MATCH c:scan:* COUNT 30", cursor);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        seen += (long)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    check("scan loop", seen == 200, "wrong count");

    /* Streams with a consumer group. */
    freeReplyObject(cmd(c, "XADD c:st * k v1"));
    freeReplyObject(cmd(c, "XADD c:st * k v2"));
    r = cmd(c, "XGROUP CREATE c:st g 0");
    check("xgroup create", is_str(r, "OK"), "not OK");
    freeReplyObject(r);
    r = cmd(c, "XREADGROUP GROUP g c1 COUNT 10 STREAMS c:st >");
    check("xreadgroup", r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->element[1]->elements == 2,
          "wrong shape");
    freeReplyObject(r);

    /* Error reply for WRONGTYPE. */
    r = cmd(c, "LPUSH c:bin x");
    check("wrongtype", r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0, "not WRONGTYPE");
    freeReplyObject(r);

    /* Pub/Sub with a pattern: the subscriber gets a pmessage. */
    redisContext *s = connect_or_die(port);
    freeReplyObject(cmd(s, "PSUBSCRIBE c:ev:*"));
    r = cmd(c, "PUBLISH c:ev:1 hello");
    check("publish", r->type == REDIS_REPLY_INTEGER && r->integer == 1, "not 1 receiver");
    freeReplyObject(r);
    if (redisGetReply(s, (void **)&r) == REDIS_OK) {
        check("pmessage", r->type == REDIS_REPLY_ARRAY && r->elements == 4 && is_str(r->element[0], "pmessage") &&
                              is_str(r->element[2], "c:ev:1") && is_str(r->element[3], "hello"),
              "wrong frame");
        freeReplyObject(r);
    } else {
        check("pmessage", 0, s->errstr);
    }
    redisFree(s);

    /* Scripts: EVALSHA, and EVAL when it answers NOSCRIPT (after SCRIPT FLUSH). */
    const char *src = "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])";
    r = cmd(c, "SCRIPT LOAD %s", src);
    char sha[41] = "";
    if (r->type == REDIS_REPLY_STRING && r->len == 40) memcpy(sha, r->str, 41);
    check("script load", sha[0] != 0, "no sha");
    freeReplyObject(r);
    r = cmd(c, "EVALSHA %s 1 c:n 2", sha);
    check("evalsha", r->type == REDIS_REPLY_INTEGER && r->integer == 4, "not 4");
    freeReplyObject(r);
    freeReplyObject(cmd(c, "SCRIPT FLUSH"));
    r = cmd(c, "EVALSHA %s 1 c:n 1", sha);
    int noscript = r->type == REDIS_REPLY_ERROR && strcmp(r->str, "NOSCRIPT No matching script. Please use EVAL.") == 0;
    check("noscript", noscript, r->str ? r->str : "not an error");
    freeReplyObject(r);
    if (noscript) {
        r = cmd(c, "EVAL %s 1 c:n 1", src);
        check("eval fallback", r->type == REDIS_REPLY_INTEGER && r->integer == 6, "not 6");
        freeReplyObject(r);
    }
    r = cmd(c, "EVAL %s 0", "return {1, 'two', {3}, redis.status_reply('FINE'), false}");
    check("eval shapes",
          r->type == REDIS_REPLY_ARRAY && r->elements == 5 && r->element[0]->integer == 1 && is_str(r->element[1], "two") &&
              r->element[2]->type == REDIS_REPLY_ARRAY && r->element[3]->type == REDIS_REPLY_STATUS &&
              is_str(r->element[3], "FINE") && r->element[4]->type == REDIS_REPLY_NIL,
          "wrong shape");
    freeReplyObject(r);

    /* BUSY: one connection sends a looping script without waiting for its reply; another gets
     * -BUSY until SCRIPT KILL, and the first then reads the kill error. */
    freeReplyObject(cmd(c, "CONFIG SET busy-reply-threshold 100"));
    redisContext *l = connect_or_die(port);
    redisAppendCommand(l, "EVAL %s 0", "while true do end");
    int written = 0;
    while (!written)
        if (redisBufferWrite(l, &written) != REDIS_OK) { printf("FAIL write: %s\n", l->errstr); exit(1); }
    int busy = 0;
    for (int i = 0; i < 500 && !busy; i++) {
        r = cmd(c, "GET c:n");
        busy = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSY ", 5) == 0;
        freeReplyObject(r);
        if (!busy) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    check("busy", busy, "no BUSY error");
    r = cmd(c, "SCRIPT KILL");
    check("script kill", is_str(r, "OK"), "not OK");
    freeReplyObject(r);
    if (redisGetReply(l, (void **)&r) == REDIS_OK) {
        check("killed script error",
              r->type == REDIS_REPLY_ERROR && strncmp(r->str, "ERR Script killed by user", 25) == 0, "wrong reply");
        freeReplyObject(r);
    } else {
        check("killed script error", 0, l->errstr);
    }
    redisFree(l);
    freeReplyObject(cmd(c, "CONFIG SET busy-reply-threshold 5000"));

    /* OOM under a tiny maxmemory with noeviction. */
    freeReplyObject(cmd(c, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(cmd(c, "CONFIG SET maxmemory 1"));
    r = cmd(c, "SET c:oom v");
    check("oom", r->type == REDIS_REPLY_ERROR && strcmp(r->str, "OOM command not allowed when used memory > 'maxmemory'.") == 0,
          r->str ? r->str : "not an error");
    freeReplyObject(r);
    freeReplyObject(cmd(c, "CONFIG SET maxmemory 0"));

    /* Client-side caching: tracking redirected to a subscriber of __redis__:invalidate. */
    redisContext *inv = connect_or_die(port), *t = connect_or_die(port);
    r = cmd(inv, "CLIENT ID");
    long long inv_id = r->integer;
    freeReplyObject(r);
    freeReplyObject(cmd(inv, "SUBSCRIBE __redis__:invalidate"));
    r = cmd(t, "CLIENT TRACKING ON REDIRECT %lld", inv_id);
    check("tracking on", is_str(r, "OK"), "not OK");
    freeReplyObject(r);
    freeReplyObject(cmd(c, "SET c:csc 1"));
    freeReplyObject(cmd(t, "GET c:csc"));
    freeReplyObject(cmd(c, "SET c:csc 2"));
    if (redisGetReply(inv, (void **)&r) == REDIS_OK) {
        check("invalidation",
              r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_str(r->element[0], "message") &&
                  is_str(r->element[1], "__redis__:invalidate") && r->element[2]->type == REDIS_REPLY_ARRAY &&
                  r->element[2]->elements == 1 && is_str(r->element[2]->element[0], "c:csc"),
              "wrong frame");
        freeReplyObject(r);
    } else {
        check("invalidation", 0, inv->errstr);
    }
    redisFree(t);
    redisFree(inv);

    /* A unix socket, when the server has one (tests/clients.rs gives every server one). */
    const char *sock = getenv("FERRODIS_SOCKET");
    if (sock) {
        redisContext *u = redisConnectUnix(sock);
        if (u == NULL || u->err) {
            check("unix socket connect", 0, u ? u->errstr : "no context");
        } else {
            r = cmd(u, "CLIENT INFO");
            check("unix socket", r->type == REDIS_REPLY_STRING && strstr(r->str, " flags=U ") != NULL, "no U flag");
            freeReplyObject(r);
        }
        if (u) redisFree(u);
    }

    freeReplyObject(cmd(c, "FLUSHALL"));
    redisFree(c);
    redisFree(o);
    printf("%s: %d failures\n", fails ? "FAILED" : "PASS", fails);
    return fails ? 1 : 0;
}
