/*
 * test_kvd_store.c - cohort-kvd's keyspace: set/get/delete, expiry by
 * the ordered time only, SCAN covering every key across resizes, the
 * digest, glob matching, and the streaming snapshot round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvd_store.h"

static void set_str(struct kvd_store *s, const char *k, const char *v,
                    uint64_t exp)
{
    assert_int_equal(kvd_store_set(s, k, strlen(k), v, strlen(v), exp), 0);
}

static const struct kvd_entry *get_str(struct kvd_store *s, const char *k)
{
    return kvd_store_get(s, k, strlen(k));
}

static void test_basic(void **state)
{
    struct kvd_store s;
    const struct kvd_entry *e;
    (void)state;
    assert_int_equal(kvd_store_init(&s, 1), 0);
    set_str(&s, "a", "1", 0);
    set_str(&s, "b", "", 0);
    set_str(&s, "a", "22", 0);
    assert_int_equal(s.count, 2);
    e = get_str(&s, "a");
    assert_non_null(e);
    assert_int_equal(e->vlen, 2);
    assert_memory_equal(e->val, "22", 2);
    assert_int_equal(get_str(&s, "b")->vlen, 0);
    assert_null(get_str(&s, "c"));
    assert_int_equal(kvd_store_append(&s, (struct kvd_entry *)e, "x", 1), 0);
    assert_memory_equal(get_str(&s, "a")->val, "22x", 3);
    assert_int_equal(kvd_store_del(&s, "a", 1), 1);
    assert_int_equal(kvd_store_del(&s, "a", 1), 0);
    assert_int_equal(s.count, 1);
    kvd_store_clear(&s);
    assert_int_equal(s.count, 0);
    kvd_store_free(&s);
}

/* Keys expire only when the ordered time passes them, in any order of
 * setting, and an expiry already past removes the key at once. */
static void test_expiry_by_ordered_time(void **state)
{
    struct kvd_store s;
    char key[16];
    uint32_t x = 7;
    uint64_t exp[500];
    (void)state;
    assert_int_equal(kvd_store_init(&s, 2), 0);
    kvd_store_advance(&s, 1000);
    for (int i = 0; i < 500; i++) {
        x = x * 1103515245u + 12345u;
        exp[i] = 1001 + (x >> 16) % 1000;
        snprintf(key, sizeof key, "k%d", i);
        set_str(&s, key, "v", exp[i]);
    }
    set_str(&s, "forever", "v", 0);
    assert_int_equal(kvd_store_expires(&s), 500);
    /* Re-setting without expiry takes a key out of the heap. */
    set_str(&s, "k0", "v", 0);
    exp[0] = UINT64_MAX;
    uint64_t last = 0;
    for (uint64_t t = 1000; t <= 2100; t += 37) {
        last = t;
        size_t live = 1;
        kvd_store_advance(&s, t);
        for (int i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "k%d", i);
            live += exp[i] > t;
            assert_int_equal(get_str(&s, key) != NULL, exp[i] > t);
        }
        assert_int_equal(s.count, live);
    }
    assert_int_equal(s.count, 2);
    /* Time never goes back. */
    assert_int_equal(kvd_store_advance(&s, 5), 0);
    assert_int_equal(s.now_ms, last);
    /* A past expiry removes the key. */
    set_str(&s, "k0", "v", last - 1);
    assert_null(get_str(&s, "k0"));
    assert_int_equal(s.count, 1);
    set_str(&s, "z", "v", 3000);
    assert_int_equal(kvd_store_expire(&s, (struct kvd_entry *)get_str(&s, "z"),
                                      5000), 1);
    assert_int_equal(kvd_store_advance(&s, 4000), 0);
    assert_non_null(get_str(&s, "z"));
    assert_int_equal(kvd_store_expire(&s, (struct kvd_entry *)get_str(&s, "z"),
                                      10), 0);
    assert_null(get_str(&s, "z"));
    kvd_store_free(&s);
}

struct seen {
    unsigned char *hit;
    size_t n;
};

static void mark(void *ctx, const struct kvd_entry *e)
{
    struct seen *sn = ctx;
    int i;
    if (sscanf(e->key, "k%d", &i) == 1 && (size_t)i < sn->n)
        sn->hit[i] = 1;
}

/* Keys present for the whole scan are all returned though the table
 * grows eightfold, then shrinks, in the middle of it. */
static void test_scan_across_resizes(void **state)
{
    struct kvd_store s;
    struct seen sn;
    char key[24];
    uint64_t cursor = 0;
    int steps = 0;
    (void)state;
    assert_int_equal(kvd_store_init(&s, 3), 0);
    sn.n = 1000;
    sn.hit = calloc(sn.n, 1);
    for (size_t i = 0; i < sn.n; i++) {
        snprintf(key, sizeof key, "k%zu", i);
        set_str(&s, key, "v", 0);
    }
    do {
        cursor = kvd_store_scan(&s, cursor, mark, &sn);
        steps++;
        if (steps == 100)
            for (int i = 0; i < 8000; i++) {
                snprintf(key, sizeof key, "extra%d", i);
                set_str(&s, key, "v", 0);
            }
        if (steps == 3000)
            for (int i = 0; i < 8000; i++) {
                snprintf(key, sizeof key, "extra%d", i);
                kvd_store_del(&s, key, strlen(key));
            }
    } while (cursor != 0 && steps < 1000000);
    assert_int_equal(cursor, 0);
    for (size_t i = 0; i < sn.n; i++)
        if (!sn.hit[i])
            fail_msg("key k%zu missed by SCAN", i);
    free(sn.hit);
    kvd_store_free(&s);
}

static void test_digest(void **state)
{
    struct kvd_store a, b;
    uint8_t da[16], db[16];
    char key[16];
    (void)state;
    assert_int_equal(kvd_store_init(&a, 11), 0);
    assert_int_equal(kvd_store_init(&b, 99), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "k%d", i);
        set_str(&a, key, key, i % 3 ? 0 : 5000);
        snprintf(key, sizeof key, "k%d", 299 - i);
        set_str(&b, key, key, (299 - i) % 3 ? 0 : 5000);
    }
    kvd_store_digest(&a, da);
    kvd_store_digest(&b, db);
    assert_memory_equal(da, db, 16);
    set_str(&b, "k1", "other", 0);
    kvd_store_digest(&b, db);
    assert_memory_not_equal(da, db, 16);
    kvd_store_free(&a);
    kvd_store_free(&b);
}

static int glob(const char *p, const char *s)
{
    return kvd_glob_match(p, strlen(p), s, strlen(s));
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(glob("*", ""));
    assert_true(glob("*", "abc"));
    assert_true(glob("a*c", "abbbc"));
    assert_false(glob("a*c", "abbbd"));
    assert_true(glob("h?llo", "hello"));
    assert_false(glob("h?llo", "hllo"));
    assert_true(glob("h[ae]llo", "hallo"));
    assert_false(glob("h[ae]llo", "hillo"));
    assert_true(glob("h[^e]llo", "hallo"));
    assert_false(glob("h[^e]llo", "hello"));
    assert_true(glob("h[a-c]llo", "hbllo"));
    assert_true(glob("a\\*b", "a*b"));
    assert_false(glob("a\\*b", "axb"));
    assert_true(glob("user:*:name", "user:42:name"));
    assert_false(glob("abc", "abcd"));
    /* A pattern that is exponential for naive recursion. */
    assert_false(glob("*a*a*a*a*a*a*a*a*a*a*a*a*b",
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

/* Write a snapshot through a buffer of chunk bytes into a loader. */
static void round_trip(struct kvd_store *src, struct kvd_store *dst,
                       size_t chunk)
{
    struct kvd_snap_writer w;
    struct kvd_snap_loader l;
    uint8_t *buf = malloc(chunk);
    long n;
    kvd_snap_writer_init(&w, src);
    kvd_snap_loader_init(&l, dst);
    while ((n = kvd_snap_write(&w, buf, chunk)) > 0)
        assert_int_equal(kvd_snap_load(&l, buf, (size_t)n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kvd_snap_load_end(&l), 0);
    free(buf);
}

static void fill(struct kvd_store *s)
{
    char key[24], val[64];
    kvd_store_advance(s, 777);
    set_str(s, "", "", 0);           /* empty key and value */
    set_str(s, "empty", "", 900);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        snprintf(val, sizeof val, "value-%d-%0*d", i, i % 40, 0);
        set_str(s, key, val, i % 5 ? 0 : 10000 + (uint64_t)i);
    }
    {
        size_t n = 300000;
        char *big = malloc(n);
        memset(big, 'B', n);
        assert_int_equal(kvd_store_set(s, "big", 3, big, n, 0), 0);
        free(big);
    }
}

static void test_snapshot_round_trip(void **state)
{
    static const size_t chunks[] = { 1, 7, 24, 25, 4096, 1 << 20 };
    struct kvd_store src, dst;
    uint8_t d1[16], d2[16];
    (void)state;
    assert_int_equal(kvd_store_init(&src, 5), 0);
    fill(&src);
    kvd_store_digest(&src, d1);
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        assert_int_equal(kvd_store_init(&dst, 1000 + i), 0);
        set_str(&dst, "stale", "gone after load", 0);
        round_trip(&src, &dst, chunks[i]);
        kvd_store_digest(&dst, d2);
        assert_memory_equal(d1, d2, 16);
        assert_int_equal(dst.count, src.count);
        assert_int_equal(dst.now_ms, 777);
        assert_int_equal(kvd_store_expires(&dst), kvd_store_expires(&src));
        assert_null(get_str(&dst, "stale"));
        assert_int_equal(get_str(&dst, "big")->vlen, 300000);
        kvd_store_free(&dst);
    }
    /* An empty store too. */
    {
        struct kvd_store e;
        assert_int_equal(kvd_store_init(&e, 1), 0);
        assert_int_equal(kvd_store_init(&dst, 2), 0);
        round_trip(&e, &dst, 3);
        assert_int_equal(dst.count, 0);
        kvd_store_free(&e);
        kvd_store_free(&dst);
    }
    kvd_store_free(&src);
}

/* Whole stream into memory, for the damage tests. */
static uint8_t *snapshot_bytes(struct kvd_store *s, size_t *len)
{
    struct kvd_snap_writer w;
    size_t cap = 1 << 22;
    uint8_t *buf = malloc(cap);
    long n;
    *len = 0;
    kvd_snap_writer_init(&w, s);
    while ((n = kvd_snap_write(&w, buf + *len, 4096)) > 0)
        *len += (size_t)n;
    assert_true(*len < cap);
    return buf;
}

static int load_all(const uint8_t *p, size_t len)
{
    struct kvd_store d;
    struct kvd_snap_loader l;
    int r;
    assert_int_equal(kvd_store_init(&d, 9), 0);
    kvd_snap_loader_init(&l, &d);
    r = kvd_snap_load(&l, p, len);
    if (kvd_snap_load_end(&l) != 0)
        r = -1;
    kvd_store_free(&d);
    return r;
}

static void test_snapshot_damage(void **state)
{
    struct kvd_store s;
    size_t len;
    uint8_t *b;
    (void)state;
    assert_int_equal(kvd_store_init(&s, 5), 0);
    set_str(&s, "a", "1", 0);
    set_str(&s, "b", "2", 0);
    b = snapshot_bytes(&s, &len);
    assert_int_equal(load_all(b, len), 0);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(load_all(b, cut), -1);        /* truncated */
    for (size_t i = 0; i < len; i++) {
        b[i] ^= 0x40;
        assert_int_equal(load_all(b, len), -1);        /* any byte flipped */
        b[i] ^= 0x40;
    }
    {
        uint8_t *more = malloc(len + 1);
        memcpy(more, b, len);
        more[len] = 0;
        assert_int_equal(load_all(more, len + 1), -1); /* trailing bytes */
        free(more);
    }
    /* A length far beyond the limit is refused, not allocated. */
    memset(b + KVD_SNAP_HEADER_BYTES, 0xff, 8);
    assert_int_equal(load_all(b, len), -1);
    free(b);
    kvd_store_free(&s);
}

static void test_snapshot_store_changed(void **state)
{
    struct kvd_store s;
    struct kvd_snap_writer w;
    uint8_t buf[8];
    (void)state;
    assert_int_equal(kvd_store_init(&s, 5), 0);
    set_str(&s, "a", "1", 0);
    kvd_snap_writer_init(&w, &s);
    assert_int_equal(kvd_snap_write(&w, buf, sizeof buf), 8);
    set_str(&s, "b", "2", 0);
    assert_int_equal(kvd_snap_write(&w, buf, sizeof buf), -1);
    kvd_store_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_expiry_by_ordered_time),
        cmocka_unit_test(test_scan_across_resizes),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_damage),
        cmocka_unit_test(test_snapshot_store_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
