/* hiredis (Debian's libhiredis-dev) against ferrodis: pipelined commands, MULTI/EXEC with WATCH
 * and a retry, Pub/Sub with a pattern, a blocking pop with a timeout, a SCAN loop, streams and
 * the WRONGTYPE error reply. Server: 127.0.0.1:$FERRODIS_PORT. tests/clients/run.sh compiles it. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

    freeReplyObject(cmd(c, "FLUSHALL"));
    redisFree(c);
    redisFree(o);
    printf("%s: %d failures\n", fails ? "FAILED" : "PASS", fails);
    return fails ? 1 : 0;
}
