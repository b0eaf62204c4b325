/*
 * test_kvd_cmd.c - cohort-kvd's command layer (replies and errors as
 * Redis gives them, check mode, time from the message) and its
 * replication message codec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvd_cmd.h"
#include "kvd_msg.h"

static struct kvd_store g_store;
static struct kvd_buf g_out;
static char g_words[1024];

static int setup(void **state)
{
    (void)state;
    kvd_buf_init(&g_out, 0);
    return kvd_store_init(&g_store, 42);
}

static int teardown(void **state)
{
    (void)state;
    kvd_buf_free(&g_out);
    kvd_store_free(&g_store);
    return 0;
}

/* Split line at spaces into args (no quoting: tests use plain words). */
static size_t split(const char *line, struct kvd_arg *v, size_t max)
{
    size_t n = 0;
    char *p = g_words;
    snprintf(g_words, sizeof g_words, "%s", line);
    while (*p != '\0' && n < max) {
        char *sp = strchr(p, ' ');
        v[n].p = p;
        v[n].len = sp ? (size_t)(sp - p) : strlen(p);
        n++;
        if (sp == NULL)
            break;
        p = sp + 1;
    }
    return n;
}

/* Run line as a replica applies it, at time_ms; the reply as a string. */
static const char *run_at(const char *line, uint64_t time_ms)
{
    struct kvd_arg v[32];
    size_t n = split(line, v, 32);
    const struct kvd_cmd_def *d = kvd_cmd_find(&v[0]);
    g_out.len = 0;
    if (d == NULL)
        kvd_cmd_unknown(&g_out, n, v);
    else if (kvd_cmd_arity(d, n, &g_out) == 0) {
        struct kvd_exec x = { &g_store, time_ms, &g_out };
        kvd_cmd_run(d, &x, n, v);
    }
    kvd_buf_put(&g_out, "", 1);
    g_out.len--;
    return g_out.data;
}

static const char *run(const char *line) { return run_at(line, 1000); }

static void test_strings(void **state)
{
    (void)state;
    assert_string_equal(run("SET k v"), "+OK\r\n");
    assert_string_equal(run("get k"), "$1\r\nv\r\n");
    assert_string_equal(run("GET nope"), "$-1\r\n");
    assert_string_equal(run("SET k w NX"), "$-1\r\n");
    assert_string_equal(run("SET n w XX"), "$-1\r\n");
    assert_string_equal(run("SET k w XX GET"), "$1\r\nv\r\n");
    assert_string_equal(run("SET k v NX XX"), "-ERR syntax error\r\n");
    assert_string_equal(run("SET k v EX"), "-ERR syntax error\r\n");
    assert_string_equal(run("SET k v EX 0"),
                        "-ERR invalid expire time in 'set' command\r\n");
    assert_string_equal(run("SET k v EX x"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run("APPEND k abc"), ":4\r\n");
    assert_string_equal(run("STRLEN k"), ":4\r\n");
    assert_string_equal(run("MSET a 1 b 2"), "+OK\r\n");
    assert_string_equal(run("MSET a 1 b"),
                        "-ERR wrong number of arguments for 'mset' command\r\n");
    assert_string_equal(run("MGET a x b"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
    assert_string_equal(run("DEL a x b"), ":2\r\n");
    assert_string_equal(run("EXISTS k k x"), ":2\r\n");
}

static void test_counters(void **state)
{
    (void)state;
    assert_string_equal(run("INCR c"), ":1\r\n");
    assert_string_equal(run("INCRBY c 41"), ":42\r\n");
    assert_string_equal(run("DECR c"), ":41\r\n");
    assert_string_equal(run("DECRBY c 50"), ":-9\r\n");
    assert_string_equal(run("INCRBY c x"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run("SET c 9223372036854775807"), "+OK\r\n");
    assert_string_equal(run("INCR c"),
                        "-ERR increment or decrement would overflow\r\n");
    assert_string_equal(run("SET c 007"), "+OK\r\n");
    assert_string_equal(run("INCR c"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run("DECRBY c -9223372036854775808"),
                        "-ERR decrement would overflow\r\n");
}

/* Relative expiries count from the message's time; the key goes when
 * the ordered time passes it, and TTL reads the ordered time. */
static void test_expiry(void **state)
{
    (void)state;
    kvd_store_advance(&g_store, 1000);
    assert_string_equal(run_at("SET t v EX 10", 1500), "+OK\r\n");
    assert_string_equal(run("PTTL t"), ":10500\r\n");
    assert_string_equal(run("TTL t"), ":11\r\n");
    assert_string_equal(run("TTL nope"), ":-2\r\n");
    assert_string_equal(run("SET p v"), "+OK\r\n");
    assert_string_equal(run("TTL p"), ":-1\r\n");
    assert_string_equal(run_at("EXPIRE p 5 XX", 1000), ":0\r\n");
    assert_string_equal(run_at("EXPIRE p 5", 1000), ":1\r\n");
    assert_string_equal(run_at("EXPIRE p 50 LT", 1000), ":0\r\n");
    assert_string_equal(run_at("PEXPIRE p 20000 GT", 1000), ":1\r\n");
    assert_string_equal(run("PERSIST p"), ":1\r\n");
    assert_string_equal(run("TTL p"), ":-1\r\n");
    kvd_store_advance(&g_store, 11499);
    assert_string_equal(run("GET t"), "$1\r\nv\r\n");
    kvd_store_advance(&g_store, 11500);
    assert_string_equal(run("GET t"), "$-1\r\n");
    assert_string_equal(run_at("EXPIRE p -1", 11500), ":1\r\n");
    assert_string_equal(run("EXISTS p"), ":0\r\n");
    assert_string_equal(run_at("SET k v PXAT 5", 11500), "+OK\r\n");
    assert_string_equal(run("EXISTS k"), ":0\r\n");
}

static void test_keys_scan(void **state)
{
    char line[64];
    (void)state;
    run("FLUSHALL");
    for (int i = 0; i < 50; i++) {
        snprintf(line, sizeof line, "SET user:%d x", i);
        run(line);
    }
    run("SET other x");
    assert_string_equal(run("DBSIZE"), ":51\r\n");
    assert_true(strncmp(run("KEYS user:4?"), "*10\r\n", 5) == 0);
    assert_true(strncmp(run("KEYS *"), "*51\r\n", 5) == 0);
    {
        /* SCAN to the end finds each key (maybe twice): count them. */
        char cur[32] = "0";
        int found = 0, rounds = 0;
        do {
            const char *r;
            snprintf(line, sizeof line, "SCAN %s MATCH user:* COUNT 7", cur);
            r = run(line);
            assert_true(sscanf(r, "*2\r\n$%*d\r\n%31[0-9]", cur) == 1);
            for (const char *p = r; (p = strstr(p, "user:")); p++)
                found++;
        } while (strcmp(cur, "0") != 0 && ++rounds < 1000);
        assert_int_equal(found, 50);
    }
    assert_string_equal(run("SCAN x"), "-ERR invalid cursor\r\n");
    assert_string_equal(run("SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
    {
        const char *r = run("SCAN 0 TYPE list");   /* strings only here */
        assert_string_equal(r + strlen(r) - 4, "*0\r\n");
    }
    assert_string_equal(run("FLUSHDB"), "+OK\r\n");
    assert_string_equal(run("FLUSHALL now"), "-ERR syntax error\r\n");
    assert_string_equal(run("DBSIZE"), ":0\r\n");
}

static void test_errors_and_local(void **state)
{
    (void)state;
    assert_string_equal(run("foo a b"),
                        "-ERR unknown command 'foo', with args beginning "
                        "with: 'a' 'b' \r\n");
    assert_string_equal(run("GET"),
                        "-ERR wrong number of arguments for 'get' command\r\n");
    assert_string_equal(run("PING"), "+PONG\r\n");
    assert_string_equal(run("PING hi"), "$2\r\nhi\r\n");
    assert_string_equal(run("ECHO x"), "$1\r\nx\r\n");
    assert_string_equal(run("SELECT 0"), "+OK\r\n");
    assert_string_equal(run("SELECT 1"), "-ERR DB index is out of range\r\n");
    assert_true(strncmp(run("COMMAND COUNT"), ":", 1) == 0);
    assert_string_equal(run("COMMAND DOCS"), "*0\r\n");
    assert_true(strncmp(run("COMMAND INFO get nope"), "*2\r\n*10\r\n", 9) == 0);
    assert_true(strncmp(run("COMMAND"), "*", 1) == 0);
}

/* Check mode refuses bad syntax and never touches a store. */
static void test_check_mode(void **state)
{
    struct kvd_arg v[8];
    size_t n;
    (void)state;
    n = split("SET k v EX nope", v, 8);
    g_out.len = 0;
    assert_int_equal(kvd_cmd_check(kvd_cmd_find(&v[0]), n, v, &g_out), -1);
    n = split("SET k v EX 10", v, 8);
    g_out.len = 0;
    assert_int_equal(kvd_cmd_check(kvd_cmd_find(&v[0]), n, v, &g_out), 0);
    assert_int_equal(g_out.len, 0);
    n = split("INCRBY k z", v, 8);
    assert_int_equal(kvd_cmd_check(kvd_cmd_find(&v[0]), n, v, &g_out), -1);
    n = split("GET k", v, 8);                 /* not a write: nothing */
    g_out.len = 0;
    assert_int_equal(kvd_cmd_check(kvd_cmd_find(&v[0]), n, v, &g_out), 0);
}

/* got's header fields are want's. */
static void header_is(const struct kvd_msg *got, const struct kvd_msg *want)
{
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->origin_id, want->origin_id);
    assert_int_equal(got->origin_incarnation, want->origin_incarnation);
    assert_int_equal(got->request_id, want->request_id);
    assert_int_equal(got->time_ms, want->time_ms);
}

static void test_msg_round_trip(void **state)
{
    struct kvd_buf b;
    struct kvd_args a;
    struct kvd_msg m = { KVD_MSG_COMMAND, 0xdeadbeef, 7, 99, 123456, 0 }, got;
    struct kvd_arg v[3] = { { "SET", 3 }, { "k", 1 }, { "", 0 } };
    (void)state;
    kvd_buf_init(&b, 0);
    kvd_args_init(&a);
    kvd_msg_encode(&b, &m, 3, v);
    assert_false(b.failed);
    assert_int_equal(b.len, KVD_MSG_HEADER_BYTES + 3 * 4 + 4);
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), 0);
    header_is(&got, &m);
    assert_int_equal(a.n, 3);
    assert_memory_equal(a.v[0].p, "SET", 3);
    assert_int_equal(a.v[2].len, 0);
    /* Every truncation, every extension and a bad version fail. */
    for (size_t len = 0; len < b.len; len++)
        assert_int_equal(kvd_msg_decode(b.data, len, &got, &a), -1);
    kvd_buf_put(&b, "x", 1);
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    b.len--;
    b.data[2] = 9;
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    /* A time message has no arguments. */
    b.len = 0;
    m.type = KVD_MSG_TIME;
    kvd_msg_encode(&b, &m, 0, NULL);
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), 0);
    assert_int_equal(got.type, KVD_MSG_TIME);
    /* So has a catch-up message; no other type decodes. */
    b.data[1] = KVD_MSG_CATCHUP;
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), 0);
    assert_int_equal(got.type, KVD_MSG_CATCHUP);
    assert_int_equal(got.request_id, 99);
    b.data[1] = KVD_MSG_BATCH;     /* a batch of no commands */
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    b.data[1] = 5;
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    /* A huge argc in a short message is refused before any push. */
    b.data[1] = KVD_MSG_COMMAND;
    memset(b.data + 28, 0xff, 4);
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    kvd_args_free(&a);
    kvd_buf_free(&b);
}

/* A batch carries several commands of one origin, request ids in a run
 * from its header's; it decodes only whole. */
static void test_msg_batch(void **state)
{
    struct kvd_buf b;
    struct kvd_args a;
    struct kvd_msg m = { KVD_MSG_BATCH, 0xabcd, 3, 1000, 555, 0 }, got;
    struct kvd_arg set[3] = { { "SET", 3 }, { "key", 3 }, { "v", 1 } };
    struct kvd_arg del[2] = { { "DEL", 3 }, { "key", 3 } };
    struct kvd_arg incr[2] = { { "INCR", 4 }, { "", 0 } };
    size_t at = KVD_MSG_HEADER_BYTES;
    (void)state;
    kvd_buf_init(&b, 0);
    kvd_args_init(&a);
    assert_int_equal(kvd_msg_command_bytes(3, set), 4 + 3 * 4 + 7);
    kvd_msg_batch_begin(&b);
    kvd_msg_batch_add(&b, 3, set);
    kvd_msg_batch_add(&b, 2, del);
    kvd_msg_batch_add(&b, 2, incr);
    kvd_msg_batch_end(&b, &m, 3);
    assert_false(b.failed);
    assert_int_equal(b.len, KVD_MSG_HEADER_BYTES +
                                kvd_msg_command_bytes(3, set) +
                                kvd_msg_command_bytes(2, del) +
                                kvd_msg_command_bytes(2, incr));
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), 0);
    header_is(&got, &m);
    assert_int_equal(got.count, 3);
    assert_int_equal(a.n, 0);
    assert_int_equal(kvd_msg_batch_next(b.data, b.len, &at, &a), 0);
    assert_int_equal(a.n, 3);
    assert_memory_equal(a.v[2].p, "v", 1);
    assert_int_equal(kvd_msg_batch_next(b.data, b.len, &at, &a), 0);
    assert_int_equal(a.n, 2);
    assert_memory_equal(a.v[0].p, "DEL", 3);
    assert_int_equal(kvd_msg_batch_next(b.data, b.len, &at, &a), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.v[1].len, 0);
    assert_int_equal(at, b.len);
    assert_int_equal(kvd_msg_batch_next(b.data, b.len, &at, &a), -1);
    /* Every truncation, an extension, a wrong count and a command of no
     * arguments fail as a whole. */
    for (size_t len = 0; len < b.len; len++)
        assert_int_equal(kvd_msg_decode(b.data, len, &got, &a), -1);
    kvd_buf_put(&b, "\0\0\0\0", 4);
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    b.len -= 4;
    b.data[28] = 4;
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    b.data[28] = 2;
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    b.data[28] = 3;
    b.data[KVD_MSG_HEADER_BYTES] = 0;  /* the first command's argc */
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    /* A request id run that would wrap is refused. */
    b.data[KVD_MSG_HEADER_BYTES] = 3;
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), 0);
    memset(b.data + 12, 0xff, 8);
    assert_int_equal(kvd_msg_decode(b.data, b.len, &got, &a), -1);
    /* A batch begun again starts empty. */
    kvd_msg_batch_begin(&b);
    assert_int_equal(b.len, KVD_MSG_HEADER_BYTES);
    kvd_args_free(&a);
    kvd_buf_free(&b);
}

/* The lookup is a binary search: every command is found, in any case,
 * and nothing else is (prefixes, extensions, names between two). */
static void test_find_every_command(void **state)
{
    (void)state;
    static const char *const names[] = {
        "append", "client", "command", "config", "dbsize", "decr",
        "decrby", "del", "echo", "exists", "expire", "flushall", "flushdb",
        "get", "incr", "incrby", "info", "keys", "kvd.digest", "mget",
        "mset", "persist", "pexpire", "ping", "pttl", "quit", "scan",
        "select", "set", "strlen", "ttl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct kvd_arg a = {names[i], strlen(names[i])};
        const struct kvd_cmd_def *d = kvd_cmd_find(&a);
        assert_non_null(d);
        assert_string_equal(d->name, names[i]);
        char upper[32];
        size_t n = strlen(names[i]);
        for (size_t k = 0; k <= n; k++)
            upper[k] = (char)(names[i][k] >= 'a' && names[i][k] <= 'z'
                                  ? names[i][k] - 32 : names[i][k]);
        struct kvd_arg u = {upper, n};
        assert_ptr_equal(kvd_cmd_find(&u), d);
    }
    static const char *const not[] = {"", "a", "appendx", "se", "sett",
                                      "zzz", "kvd", "kvd.digests", "ge",
                                      "b"};
    for (size_t i = 0; i < sizeof not / sizeof not[0]; i++) {
        struct kvd_arg a = {not[i], strlen(not[i])};
        assert_null(kvd_cmd_find(&a));
    }
    struct kvd_arg nul = {"set\0", 4};
    assert_null(kvd_cmd_find(&nul));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_keys_scan),
        cmocka_unit_test(test_errors_and_local),
        cmocka_unit_test(test_check_mode),
        cmocka_unit_test(test_msg_round_trip),
        cmocka_unit_test(test_msg_batch),
        cmocka_unit_test(test_find_every_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
