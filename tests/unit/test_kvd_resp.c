/*
 * test_kvd_resp.c - cohort-kvd's RESP2 parser and writer: well-formed
 * requests (multibulk, inline, pipelined), every malformed form, every
 * truncation of a valid pipeline, and random bytes.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvd_resp.h"

struct parsed {
    int r;
    size_t used, need;
    const char *err;
    struct kvd_args a;
};

static void parse(const char *in, size_t len, struct parsed *p, char *copy)
{
    memcpy(copy, in, len);
    kvd_args_init(&p->a);
    p->used = p->need = 0;
    p->r = kvd_resp_parse(copy, len, &p->a, &p->used, &p->need, &p->err);
}

static int arg_eq(const struct kvd_arg *a, const char *s)
{
    return a->len == strlen(s) && memcmp(a->p, s, a->len) == 0;
}

static void test_multibulk(void **state)
{
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
    char buf[sizeof in];
    struct parsed p;
    (void)state;
    parse(in, sizeof in - 1, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_DONE);
    assert_int_equal(p.used, sizeof in - 1);
    assert_int_equal(p.a.n, 3);
    assert_true(arg_eq(&p.a.v[0], "SET"));
    assert_true(arg_eq(&p.a.v[1], "k"));
    assert_true(arg_eq(&p.a.v[2], ""));
    kvd_args_free(&p.a);
}

static void test_binary_and_pipelined(void **state)
{
    static const char in[] = "*1\r\n$4\r\na\r\nb\r\n*1\r\n$4\r\nPING\r\n";
    char buf[sizeof in];
    struct parsed p;
    (void)state;
    parse(in, sizeof in - 1, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_DONE);
    assert_int_equal(p.a.n, 1);
    assert_int_equal(p.a.v[0].len, 4);
    assert_memory_equal(p.a.v[0].p, "a\r\nb", 4);
    assert_int_equal(p.used, 14);
    kvd_args_free(&p.a);
    parse(in + 14, sizeof in - 15, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_DONE);
    assert_true(arg_eq(&p.a.v[0], "PING"));
    kvd_args_free(&p.a);
}

static void test_inline(void **state)
{
    static const char in[] =
        "  set \"a b\\n\\x41\" 'it''s' \"q\\\"\"  plain\r\n";
    char buf[sizeof in];
    struct parsed p;
    (void)state;
    parse(in, sizeof in - 1, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_ERROR);   /* 'it''s': quote not ended */
    kvd_args_free(&p.a);
    {
        static const char ok[] = "set \"a b\\n\\x41\" 'it\\'s' \"q\\\"\" x\n";
        char b2[sizeof ok];
        parse(ok, sizeof ok - 1, &p, b2);
        assert_int_equal(p.r, KVD_PARSE_DONE);
        assert_int_equal(p.used, sizeof ok - 1);
        assert_int_equal(p.a.n, 5);
        assert_true(arg_eq(&p.a.v[1], "a b\nA"));
        assert_true(arg_eq(&p.a.v[2], "it's"));
        assert_true(arg_eq(&p.a.v[3], "q\""));
        assert_true(arg_eq(&p.a.v[4], "x"));
        kvd_args_free(&p.a);
    }
}

static void test_empty_commands(void **state)
{
    char buf[16];
    struct parsed p;
    (void)state;
    parse("\r\n", 2, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_DONE);
    assert_int_equal(p.a.n, 0);
    assert_int_equal(p.used, 2);
    kvd_args_free(&p.a);
    parse("*0\r\n", 4, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_DONE);
    assert_int_equal(p.a.n, 0);
    kvd_args_free(&p.a);
    parse("*-1\r\n", 5, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_DONE);
    assert_int_equal(p.a.n, 0);
    kvd_args_free(&p.a);
    parse("", 0, &p, buf);
    assert_int_equal(p.r, KVD_PARSE_MORE);
    kvd_args_free(&p.a);
}

struct bad_case {
    const char *in;
    const char *err;    /* a substring of the error */
};

static void test_malformed(void **state)
{
    static const struct bad_case cases[] = {
        { "*abc\r\n", "invalid multibulk length" },
        { "*\r\n", "invalid multibulk length" },
        { "*1x\r\n", "invalid multibulk length" },
        { "*99999999999\r\n", "invalid multibulk length" },
        { "*1048577\r\n", "invalid multibulk length" },
        { "*1234567890123456789012\r\n", "invalid multibulk length" },
        { "*2\r\n:1\r\n", "expected '$', got ':'" },
        { "*1\r\n$-1\r\n", "invalid bulk length" },
        { "*1\r\n$\r\n", "invalid bulk length" },
        { "*1\r\n$12a\r\n", "invalid bulk length" },
        { "*1\r\n$536870913\r\n", "invalid bulk length" },
        { "*1\r\n$99999999999999\r\n", "invalid bulk length" },
        { "*1\r\n$3\r\nabcXY", "expected CRLF" },
        { "*1\n", "too big mbulk" },
        { "*1\r\n$3\nabc\r\n", "invalid bulk length" },
        { "get \"abc\r\n", "unbalanced quotes" },
        { "get \"abc\"def\r\n", "unbalanced quotes" },
        { "get 'abc\r\n", "unbalanced quotes" },
    };
    char buf[64];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct parsed p;
        parse(cases[i].in, strlen(cases[i].in), &p, buf);
        if (p.r != KVD_PARSE_ERROR || strstr(p.err, cases[i].err) == NULL)
            fail_msg("case %zu '%s': r=%d err=%s", i, cases[i].in, p.r,
                     p.err ? p.err : "(none)");
        assert_true(strncmp(p.err, "ERR ", 4) == 0);
        kvd_args_free(&p.a);
    }
}

/* A header line that never ends is refused once it passes the bound,
 * not buffered for ever; a claimed length is never allocated. */
static void test_long_lines(void **state)
{
    size_t n = KVD_RESP_MAX_INLINE_BYTES + 8;
    char *big = malloc(n), *copy = malloc(n);
    struct parsed p;
    (void)state;
    memset(big, 'a', n);
    parse(big, n, &p, copy);
    assert_int_equal(p.r, KVD_PARSE_ERROR);
    assert_non_null(strstr(p.err, "too big inline request"));
    kvd_args_free(&p.a);
    big[0] = '*';
    parse(big, n, &p, copy);
    assert_int_equal(p.r, KVD_PARSE_ERROR);
    assert_non_null(strstr(p.err, "too big mbulk count"));
    kvd_args_free(&p.a);
    memcpy(big, "*1\r\n$", 5);
    parse(big, n, &p, copy);
    assert_int_equal(p.r, KVD_PARSE_ERROR);
    kvd_args_free(&p.a);
    /* 512 MiB claimed, nothing sent: MORE, needing it all. */
    parse("*1\r\n$536870912\r\n", 16, &p, copy);
    assert_int_equal(p.r, KVD_PARSE_MORE);
    assert_int_equal(p.need, 16 + ((size_t)512 << 20) + 2);
    kvd_args_free(&p.a);
    /* A million arguments claimed: no vector of a million. */
    parse("*1048576\r\n$1\r\na\r\n", 17, &p, copy);
    assert_int_equal(p.r, KVD_PARSE_MORE);
    assert_true(p.a.cap < 64);
    kvd_args_free(&p.a);
    free(big);
    free(copy);
}

/* Every strict prefix of a valid pipeline is MORE (or DONE with the
 * commands wholly inside it), never an error; need grows past len. */
static void test_truncations(void **state)
{
    static const char in[] =
        "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n"
        "PING\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    char buf[sizeof in];
    (void)state;
    for (size_t len = 0; len < sizeof in - 1; len++) {
        size_t at = 0;
        for (;;) {
            struct parsed p;
            parse(in + at, len - at, &p, buf);
            assert_int_not_equal(p.r, KVD_PARSE_ERROR);
            if (p.r == KVD_PARSE_MORE) {
                assert_true(p.need > len - at);
                assert_true(p.need <= sizeof in - 1 - at);
                kvd_args_free(&p.a);
                break;
            }
            at += p.used;
            kvd_args_free(&p.a);
        }
    }
}

/* Random bytes, and valid requests with random bytes flipped: any
 * result, but bounded and never a crash (run under ASan). */
static void test_random(void **state)
{
    static const char good[] = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
    char in[256], buf[256];
    uint32_t x = 12345;
    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 64);
        struct parsed p;
        if (round % 2 == 0) {
            for (size_t i = 0; i < len; i++) {
                x = x * 1103515245u + 12345u;
                in[i] = "*$\r\n0123-9abc \"'\\x"[(x >> 16) % 19];
            }
        } else {
            len = sizeof good - 1;
            memcpy(in, good, len);
            x = x * 1103515245u + 12345u;
            in[(x >> 16) % len] = (char)(x >> 8);
            len -= (x >> 24) % 4;
        }
        parse(in, len, &p, buf);
        assert_true(p.r >= -1 && p.r <= 1);
        if (p.r == KVD_PARSE_DONE) {
            assert_true(p.used > 0 && p.used <= len);
            for (size_t i = 0; i < p.a.n; i++)
                assert_true(p.a.v[i].p >= buf &&
                            p.a.v[i].p + p.a.v[i].len <= buf + len);
        }
        if (p.r == KVD_PARSE_ERROR)
            assert_non_null(p.err);
        kvd_args_free(&p.a);
    }
}

static void test_writer(void **state)
{
    struct kvd_buf b;
    (void)state;
    kvd_buf_init(&b, 0);
    kvd_resp_simple(&b, "OK");
    kvd_resp_error(&b, "ERR bad '%s'", "a\r\nb");
    kvd_resp_int(&b, -42);
    kvd_resp_bulk(&b, "hi", 2);
    kvd_resp_null(&b);
    kvd_resp_array(&b, 3);
    kvd_buf_put(&b, "", 0);
    static const char want[] =
        "+OK\r\n-ERR bad 'a  b'\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n*3\r\n";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, b.len);
    kvd_buf_free(&b);
}

/* The numbers every reply header carries, formatted by hand: the edges
 * of int64 and size_t, beside what printf gives. */
static void test_writer_numbers(void **state)
{
    struct kvd_buf b;
    char want[256];
    (void)state;
    kvd_buf_init(&b, 0);
    kvd_resp_int(&b, 0);
    kvd_resp_int(&b, INT64_MAX);
    kvd_resp_int(&b, INT64_MIN);
    kvd_resp_int(&b, -1);
    kvd_resp_array(&b, 0);
    kvd_resp_bulk(&b, "", 0);
    kvd_resp_array(&b, (size_t)SIZE_MAX);
    int n = snprintf(want, sizeof want,
                     ":0\r\n:%" PRId64 "\r\n:%" PRId64 "\r\n:-1\r\n*0\r\n"
                     "$0\r\n\r\n*%zu\r\n", INT64_MAX, INT64_MIN,
                     (size_t)SIZE_MAX);
    assert_int_equal(b.len, (size_t)n);
    assert_memory_equal(b.data, want, b.len);
    kvd_buf_free(&b);
}

/* Words match whole and case-blind, never a prefix either way, and a
 * NUL inside an argument is a byte like any other. */
static void test_arg_is(void **state)
{
    (void)state;
    struct kvd_arg set = {"SeT", 3}, se = {"se", 2}, sets = {"sets", 4},
                   nul = {"s\0t", 3}, empty = {"", 0}, px = {"PX", 2};
    assert_true(kvd_arg_is(&set, "set"));
    assert_true(kvd_arg_is(&set, "SET"));
    assert_false(kvd_arg_is(&se, "set"));
    assert_false(kvd_arg_is(&sets, "set"));
    assert_false(kvd_arg_is(&nul, "s"));
    assert_false(kvd_arg_is(&nul, "sat"));
    assert_true(kvd_arg_is(&empty, ""));
    assert_false(kvd_arg_is(&empty, "x"));
    assert_true(kvd_arg_is(&px, "px"));
    assert_false(kvd_arg_is(&px, "pxat"));
}

static void test_buf_bound(void **state)
{
    struct kvd_buf b;
    (void)state;
    kvd_buf_init(&b, 100);
    kvd_buf_put(&b, "0123456789", 10);
    assert_false(b.failed);
    for (int i = 0; i < 20; i++)
        kvd_buf_put(&b, "0123456789", 10);
    assert_true(b.failed);
    assert_true(b.len <= 100);
    assert_true(b.cap <= 100);
    kvd_buf_consume(&b, 10);
    kvd_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk),
        cmocka_unit_test(test_binary_and_pipelined),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_empty_commands),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_numbers),
        cmocka_unit_test(test_arg_is),
        cmocka_unit_test(test_buf_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
