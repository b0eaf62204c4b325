/*
 * test_store.c - a sender's delivered records until group-stable
 * (src/core/store.h): append, release and lookup; the byte bound;
 * contiguity; take-back; NOMEM on every allocation (state unchanged, the
 * retry succeeds, nothing leaks); a seeded model test against a plain
 * reference array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failmem.h"
#include "store.h"
#include "txbuf.h"
#include "wire.h"

#define ORIGIN 42
#define ORIGIN_INC 7

static uint8_t g_bytes[65536];

/* The payload byte i of record seq: recognisable after a copy. */
static uint8_t byte_of(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 31 + i * 7 + 1);
}

static const uint8_t *payload_of(uint64_t seq, uint16_t len)
{
    for (size_t i = 0; i < len; i++)
        g_bytes[i] = byte_of(seq, i);
    return g_bytes;
}

static co_record_t rec(uint64_t seq, uint16_t len)
{
    return (co_record_t){.type = CO_REC_FIFO,
                         .flags = CO_REC_FIRST | CO_REC_LAST,
                         .len = len,
                         .seq = seq,
                         .payload = payload_of(seq, len)};
}

static void append_ok(co_store_t *s, uint64_t seq, uint16_t len)
{
    co_record_t r = rec(seq, len);
    assert_int_equal(co_store_append(s, &r), CO_STORE_OK);
}

static void check_held(const co_store_t *s, uint64_t seq, uint16_t len)
{
    co_record_t r;
    assert_true(co_store_get(s, seq, &r));
    assert_int_equal(r.type, CO_REC_FIFO);
    assert_int_equal(r.seq, seq);
    assert_int_equal(r.len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(r.payload[i], byte_of(seq, i));
}

static size_t cost(size_t len) { return len + CO_TXREC_OVERHEAD; }

/* ---------------------------------------------------------------- */

static void empty_store(void **state)
{
    (void)state;
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 4096, NULL);
    assert_int_equal(s.origin_id, ORIGIN);
    assert_int_equal(s.origin_incarnation, ORIGIN_INC);
    assert_int_equal(co_store_bytes(&s), 0);
    assert_int_equal(co_store_count(&s), 0);
    assert_int_equal(co_store_lowest(&s), 0);
    assert_int_equal(co_store_highest(&s), 0);
    assert_int_equal(co_store_expected(&s), 0);
    co_record_t r;
    assert_false(co_store_get(&s, 1, &r));
    co_store_iter_t it;
    co_store_range(&s, 1, 100, &it);
    assert_false(co_store_next(&s, &it, &r));
    co_store_release_through(&s, 10); /* nothing to do */
    co_store_take_back(&s);
    assert_null(s.ring); /* init and an empty life allocate nothing */
    co_store_free(&s);
}

static void append_release_lookup(void **state)
{
    (void)state;
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 1 << 20, NULL);
    for (uint64_t q = 1; q <= 100; q++)
        append_ok(&s, q, (uint16_t)(q % 9));
    assert_int_equal(co_store_count(&s), 100);
    assert_int_equal(co_store_lowest(&s), 1);
    assert_int_equal(co_store_highest(&s), 100);
    assert_int_equal(co_store_expected(&s), 101);
    size_t bytes = 0;
    for (uint64_t q = 1; q <= 100; q++) {
        check_held(&s, q, (uint16_t)(q % 9));
        bytes += cost(q % 9);
    }
    assert_int_equal(co_store_bytes(&s), bytes);
    co_record_t r;
    assert_false(co_store_get(&s, 0, &r));
    assert_false(co_store_get(&s, 101, &r));

    co_store_release_through(&s, 40);
    for (uint64_t q = 1; q <= 40; q++)
        bytes -= cost(q % 9);
    assert_int_equal(co_store_bytes(&s), bytes);
    assert_int_equal(co_store_lowest(&s), 41);
    assert_false(co_store_get(&s, 40, &r));
    check_held(&s, 41, 41 % 9);
    co_store_release_through(&s, 30); /* behind low: nothing */
    assert_int_equal(co_store_lowest(&s), 41);

    /* A range is clamped to what is held and visited in order. */
    co_store_iter_t it;
    co_store_range(&s, 10, 45, &it);
    uint64_t want = 41;
    while (co_store_next(&s, &it, &r)) {
        assert_int_equal(r.seq, want);
        check_held(&s, want, r.len);
        want++;
    }
    assert_int_equal(want, 46);
    co_store_range(&s, 99, UINT64_MAX, &it);
    assert_true(co_store_next(&s, &it, &r) && r.seq == 99);
    assert_true(co_store_next(&s, &it, &r) && r.seq == 100);
    assert_false(co_store_next(&s, &it, &r));
    co_store_range(&s, 60, 50, &it); /* empty range */
    assert_false(co_store_next(&s, &it, &r));
    co_store_range(&s, 101, 200, &it); /* above highest */
    assert_false(co_store_next(&s, &it, &r));

    /* Released beyond highest: empty, still contiguous. */
    co_store_release_through(&s, 1000);
    assert_int_equal(co_store_count(&s), 0);
    assert_int_equal(co_store_bytes(&s), 0);
    assert_int_equal(co_store_lowest(&s), 0);
    assert_int_equal(co_store_highest(&s), 0);
    assert_int_equal(co_store_expected(&s), 101);
    co_record_t late = rec(102, 1);
    assert_int_equal(co_store_append(&s, &late), CO_STORE_NOT_NEXT);
    append_ok(&s, 101, 3);
    check_held(&s, 101, 3);
    co_store_free(&s);
}

/* Fragments keep their flags and total_len; RETRANSMIT is not kept. */
static void fragments_kept(void **state)
{
    (void)state;
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 4096, NULL);
    co_record_t first = rec(5, 10);
    first.flags = CO_REC_FIRST | CO_REC_RETRANSMIT;
    first.total_len = 25;
    assert_int_equal(co_store_append(&s, &first), CO_STORE_OK);
    co_record_t mid = rec(6, 10);
    mid.flags = 0;
    assert_int_equal(co_store_append(&s, &mid), CO_STORE_OK);
    co_record_t last = rec(7, 5);
    last.flags = CO_REC_LAST | CO_REC_RETRANSMIT;
    assert_int_equal(co_store_append(&s, &last), CO_STORE_OK);
    co_record_t empty = rec(8, 0);
    assert_int_equal(co_store_append(&s, &empty), CO_STORE_OK);
    co_record_t r;
    assert_true(co_store_get(&s, 5, &r));
    assert_int_equal(r.flags, CO_REC_FIRST);
    assert_int_equal(r.total_len, 25);
    assert_true(co_store_get(&s, 6, &r));
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.total_len, 0);
    assert_true(co_store_get(&s, 7, &r));
    assert_int_equal(r.flags, CO_REC_LAST);
    assert_true(co_store_get(&s, 8, &r));
    assert_int_equal(r.len, 0);
    assert_int_equal(r.flags, CO_REC_FIRST | CO_REC_LAST);
    /* What get returns encodes as a record again, byte for byte. */
    uint8_t out[64];
    size_t off = 0;
    assert_true(co_store_get(&s, 5, &r));
    co_record_encode(&r, out, &off);
    assert_int_equal(off, co_record_size(&r));
    assert_int_equal(out[1], CO_REC_FIRST);
    assert_int_equal(co_get32(out + 12), 25);
    assert_int_equal(co_store_bytes(&s), cost(10) + cost(10) + cost(5) +
                                             cost(0));
    co_store_free(&s);
}

/* The first append may start anywhere; every later one is highest + 1. */
static void contiguity(void **state)
{
    (void)state;
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 4096, NULL);
    append_ok(&s, 1000, 4);
    assert_int_equal(co_store_lowest(&s), 1000);
    co_record_t r = rec(1000, 4);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_NOT_NEXT); /* twice */
    r = rec(999, 4);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_NOT_NEXT); /* back */
    r = rec(1002, 4);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_NOT_NEXT); /* gap */
    assert_int_equal(co_store_count(&s), 1);
    assert_int_equal(co_store_bytes(&s), cost(4));
    append_ok(&s, 1001, 4);
    assert_int_equal(co_store_highest(&s), 1001);

    /* Take-back: the newest goes, and its seq is next again. */
    co_store_take_back(&s);
    assert_int_equal(co_store_highest(&s), 1000);
    assert_int_equal(co_store_expected(&s), 1001);
    assert_int_equal(co_store_bytes(&s), cost(4));
    append_ok(&s, 1001, 6);
    check_held(&s, 1001, 6);
    co_store_take_back(&s);
    co_store_take_back(&s);
    assert_int_equal(co_store_count(&s), 0);
    assert_int_equal(co_store_bytes(&s), 0);
    assert_int_equal(co_store_expected(&s), 1000);
    r = rec(1001, 1);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_NOT_NEXT);
    append_ok(&s, 1000, 1);
    co_store_free(&s);
}

/* Bytes (payload + overhead) never pass max_bytes; FULL changes nothing
 * and a release makes room again. */
static void byte_bound(void **state)
{
    (void)state;
    const size_t max = 10 * cost(100);
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, max, NULL);
    for (uint64_t q = 1; q <= 10; q++) {
        assert_true(co_store_fits(&s, 100));
        append_ok(&s, q, 100);
    }
    assert_int_equal(co_store_bytes(&s), max);
    assert_false(co_store_fits(&s, 0));
    co_record_t r = rec(11, 0);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_FULL);
    assert_int_equal(co_store_bytes(&s), max);
    assert_int_equal(co_store_expected(&s), 11);
    co_store_release_through(&s, 1);
    assert_false(co_store_fits(&s, 101));
    assert_true(co_store_fits(&s, 100));
    r = rec(11, 101);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_FULL);
    append_ok(&s, 11, 100);
    assert_int_equal(co_store_bytes(&s), max);
    co_store_free(&s);

    /* Empty records are bounded too: max / overhead of them. */
    co_store_init(&s, ORIGIN, ORIGIN_INC, 1000 * CO_TXREC_OVERHEAD + 5, NULL);
    uint64_t q = 1;
    for (; q <= 1000; q++)
        append_ok(&s, q, 0);
    r = rec(q, 0);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_FULL);
    assert_true(s.cap <= s.max_records);
    co_store_free(&s);

    /* A record larger than the whole bound never fits. */
    co_store_init(&s, ORIGIN, ORIGIN_INC, CO_TXREC_OVERHEAD + 10, NULL);
    r = rec(1, 11);
    assert_int_equal(co_store_append(&s, &r), CO_STORE_FULL);
    assert_int_equal(co_store_expected(&s), 0);
    append_ok(&s, 1, 10);
    co_store_free(&s);
}

/* The ring grows across the wrap without moving a record's content. */
static void ring_growth_across_wrap(void **state)
{
    (void)state;
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 1 << 20, NULL);
    uint64_t q = 1;
    for (; q <= 12; q++)
        append_ok(&s, q, 8);
    co_store_release_through(&s, 10);
    for (; q <= 300; q++)
        append_ok(&s, q, (uint16_t)(q % 50));
    assert_true(s.cap >= 290);
    for (uint64_t k = 11; k < q; k++)
        check_held(&s, k, k <= 12 ? 8 : (uint16_t)(k % 50));
    co_store_free(&s);
}

typedef struct snapshot {
    size_t bytes, count;
    uint64_t low, high, expected;
} snapshot_t;

static snapshot_t snap(const co_store_t *s)
{
    return (snapshot_t){co_store_bytes(s), co_store_count(s),
                        co_store_lowest(s), co_store_highest(s),
                        co_store_expected(s)};
}

static void assert_same(snapshot_t a, snapshot_t b)
{
    assert_int_equal(a.bytes, b.bytes);
    assert_int_equal(a.count, b.count);
    assert_int_equal(a.low, b.low);
    assert_int_equal(a.high, b.high);
    assert_int_equal(a.expected, b.expected);
}

/* Every allocation an append makes (the ring, each doubling, each
 * payload chunk) refused in turn: NOMEM, nothing changed, the retry works,
 * nothing leaks. */
static void nomem_every_allocation(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 1 << 20, &fm.mem);
    assert_int_equal(fm.calls, 0);
    uint64_t refused = 0;
    for (uint64_t q = 1; q <= 200; q++) {
        uint16_t len = (uint16_t)(q % 4 == 0 ? 0 : q % 300);
        co_record_t r = rec(q, len);
        for (uint64_t j = 1;; j++) {
            fm.fail_at = fm.calls + j;
            uint64_t failed = fm.failed;
            snapshot_t before = snap(&s);
            long live = fm.live;
            int rc = co_store_append(&s, &r);
            if (fm.failed == failed) {
                assert_int_equal(rc, CO_STORE_OK);
                break;
            }
            refused++;
            assert_int_equal(rc, CO_STORE_NOMEM);
            assert_same(before, snap(&s));
            assert_int_equal(fm.live, live);
        }
        fm.fail_at = 0;
        if (q % 50 == 0)
            co_store_release_through(&s, q - 20);
    }
    /* The ring, its doublings and each payload chunk: all tried (about
     * 20 KiB of payloads: a few 16 KiB chunks, as releases free them). */
    assert_true(refused >= 4);
    for (uint64_t q = 181; q <= 200; q++)
        check_held(&s, q, (uint16_t)(q % 4 == 0 ? 0 : q % 300));
    co_store_free(&s);
    assert_int_equal(fm.live, 0);
}

/* Seeded model test: random appends (some out of order, some too big),
 * releases, take-backs and lookups against a plain array of what should
 * be held. */
/* A steady stream, released as it goes: once warm, the store allocates
 * nothing (an emptied chunk is kept for the next), and it frees all. */
static void steady_stream_reuses_chunks(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_store_t s;
    co_store_init(&s, ORIGIN, ORIGIN_INC, 1 << 20, &fm.mem);
    uint64_t warm = 0;
    for (uint64_t q = 1; q <= 20000; q++) {
        co_record_t r = rec(q, 1000);
        assert_int_equal(co_store_append(&s, &r), CO_STORE_OK);
        if (q > 100)
            co_store_release_through(&s, q - 100);
        if (q == 1000)
            warm = fm.calls;
    }
    assert_int_equal(fm.calls, warm);
    co_store_free(&s);
    assert_int_equal(fm.live, 0);
}

#define MODEL_MAX 4096
typedef struct model {
    uint64_t low, next; /* held: [low, next); next 0 before the first */
    uint16_t len[MODEL_MAX];
    size_t bytes;
} model_t;

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void model_check(const co_store_t *s, const model_t *m)
{
    size_t count = (size_t)(m->next - m->low);
    assert_int_equal(co_store_count(s), count);
    assert_int_equal(co_store_bytes(s), m->bytes);
    assert_int_equal(co_store_expected(s), m->next);
    assert_int_equal(co_store_lowest(s), count ? m->low : 0);
    assert_int_equal(co_store_highest(s), count ? m->next - 1 : 0);
}

static void model_step(co_store_t *s, model_t *m, uint64_t *x,
                       size_t max_bytes)
{
    uint64_t op = xorshift(x) % 100;
    if (op < 60) {
        uint64_t seq = m->next ? m->next : 1 + xorshift(x) % 1000;
        if (xorshift(x) % 10 == 0)
            seq += 1 + xorshift(x) % 3; /* a gap: refused */
        uint16_t len = (uint16_t)(xorshift(x) % 700);
        co_record_t r = rec(seq, len);
        int rc = co_store_append(s, &r);
        int want = CO_STORE_OK;
        if (m->next && seq != m->next)
            want = CO_STORE_NOT_NEXT;
        else if (m->bytes + cost(len) > max_bytes)
            want = CO_STORE_FULL;
        assert_int_equal(rc, want);
        if (rc == CO_STORE_OK) {
            if (!m->next)
                m->low = m->next = seq;
            m->len[m->next % MODEL_MAX] = len;
            m->next++;
            m->bytes += cost(len);
        }
    } else if (op < 80) {
        uint64_t through = m->low + xorshift(x) % 20;
        co_store_release_through(s, through);
        while (m->low < m->next && m->low <= through)
            m->bytes -= cost(m->len[m->low++ % MODEL_MAX]);
    } else if (op < 85) {
        co_store_take_back(s);
        if (m->next > m->low)
            m->bytes -= cost(m->len[--m->next % MODEL_MAX]);
    } else {
        uint64_t first = m->low + xorshift(x) % 30;
        uint64_t last = first + xorshift(x) % 30;
        first = first > 3 ? first - 3 : 0;
        co_store_iter_t it;
        co_store_range(s, first, last, &it);
        co_record_t r;
        uint64_t want = first > m->low ? first : m->low;
        while (co_store_next(s, &it, &r)) {
            assert_int_equal(r.seq, want);
            assert_int_equal(r.len, m->len[want % MODEL_MAX]);
            for (size_t i = 0; i < r.len; i++)
                assert_int_equal(r.payload[i], byte_of(want, i));
            want++;
        }
        uint64_t end = last + 1 < m->next ? last + 1 : m->next;
        assert_true(want == end || (want == (first > m->low ? first : m->low)
                                    && end <= want));
    }
    model_check(s, m);
}

static void model_seeded(void **state)
{
    (void)state;
    static model_t m;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t x = seed * 0x9E3779B97F4A7C15ULL;
        size_t max_bytes = 2000 + (size_t)(xorshift(&x) % 20000);
        failmem_t fm;
        failmem_init(&fm);
        co_store_t s;
        co_store_init(&s, ORIGIN, ORIGIN_INC, max_bytes, &fm.mem);
        memset(&m, 0, sizeof m);
        for (int i = 0; i < 3000; i++)
            model_step(&s, &m, &x, max_bytes);
        co_store_free(&s);
        assert_int_equal(fm.live, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_store),
        cmocka_unit_test(append_release_lookup),
        cmocka_unit_test(fragments_kept),
        cmocka_unit_test(contiguity),
        cmocka_unit_test(byte_bound),
        cmocka_unit_test(ring_growth_across_wrap),
        cmocka_unit_test(nomem_every_allocation),
        cmocka_unit_test(steady_stream_reuses_chunks),
        cmocka_unit_test(model_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
