/*
 * test_frag.c - reassembly of one sender's fragmented messages: whole
 * messages, FIRST/middle/LAST, fragments of a message never started,
 * every inconsistent length, max_message at its edge, abandonment by a new
 * FIRST, UINT16_MAX fragments, memory never above the message's size, and
 * a seeded run of mixed good and broken messages against a model.
 *
 * Every fragment is a fresh heap copy, as the receive window hands them
 * out, so the sanitizer build checks that the reassembler frees or hands
 * back each one exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failmem.h"
#include "frag.h"
#include "rng.h"
#include "wire.h"

#define F CO_REC_FIRST
#define L CO_REC_LAST
#define MAX_MSG (1u << 20)

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

/* Byte i of message m. */
static uint8_t msg_byte(uint64_t m, size_t i)
{
    return (uint8_t)(m * 131 + i * 7 + (i >> 8));
}

/* A heap fragment holding bytes [off, off + len) of message m. */
static uint8_t *frag_of(uint64_t m, size_t off, uint16_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = msg_byte(m, off + i);
    return p;
}

typedef struct out {
    uint8_t *msg;
    size_t len;
} out_t;

static enum co_reasm_result feed(co_reasm_t *r, uint8_t flags,
                                 uint32_t total_len, uint64_t m, size_t off,
                                 uint16_t len, size_t max_message, out_t *o)
{
    o->msg = NULL;
    o->len = 0;
    return co_reasm_feed(r, flags, total_len, frag_of(m, off, len), len,
                         max_message, &o->msg, &o->len);
}

static void check_msg(uint64_t m, out_t *o, size_t len)
{
    assert_non_null(o->msg);
    assert_int_equal(o->len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(o->msg[i], msg_byte(m, i));
    free(o->msg);
    o->msg = NULL;
}

/* Nothing in progress and nothing held. */
static void assert_idle(const co_reasm_t *r)
{
    assert_int_equal(r->total, 0);
    assert_int_equal(r->got, 0);
    assert_int_equal(co_reasm_bytes(r), 0);
    assert_null(r->buf);
}

/* ---------------------------------------------------------------- */
/* Whole messages                                                    */
/* ---------------------------------------------------------------- */

static void whole_message_is_handed_back(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    assert_idle(&r);
    uint8_t *data = frag_of(1, 0, 100);
    uint8_t *msg = NULL;
    size_t len = 0;
    /* total_len means nothing on a whole record. */
    assert_int_equal(co_reasm_feed(&r, F | L, 777, data, 100, MAX_MSG, &msg,
                                   &len),
                     CO_REASM_DONE);
    assert_ptr_equal(msg, data); /* no copy */
    out_t o = {msg, len};
    check_msg(1, &o, 100);
    assert_idle(&r);
    assert_true(r.abandoned == 0);
    co_reasm_free(&r);
}

static void zero_length_message(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F | L, 0, 2, 0, 0, MAX_MSG, &o), CO_REASM_DONE);
    assert_non_null(o.msg);
    assert_int_equal(o.len, 0);
    free(o.msg);
    assert_idle(&r);
    co_reasm_free(&r);
}

static void uint16_max_whole_message(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F | L, 0, 3, 0, UINT16_MAX, MAX_MSG, &o),
                     CO_REASM_DONE);
    check_msg(3, &o, UINT16_MAX);
    assert_idle(&r);
    co_reasm_free(&r);
}

/* ---------------------------------------------------------------- */
/* Fragmented messages                                               */
/* ---------------------------------------------------------------- */

static void two_fragments(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F, 300, 4, 0, 100, MAX_MSG, &o), CO_REASM_MORE);
    assert_null(o.msg);
    assert_int_equal(r.total, 300);
    assert_int_equal(r.got, 100);
    assert_int_equal(co_reasm_bytes(&r), 300); /* never above total */
    assert_int_equal(feed(&r, L, 0, 4, 100, 200, MAX_MSG, &o), CO_REASM_DONE);
    check_msg(4, &o, 300);
    assert_idle(&r);
    co_reasm_free(&r);
}

static void first_middles_last(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    /* Two messages in a row through the same reassembler. */
    for (uint64_t m = 5; m <= 6; m++) {
        uint32_t total = 5 * 1000 + 1;
        assert_int_equal(feed(&r, F, total, m, 0, 1000, MAX_MSG, &o),
                         CO_REASM_MORE);
        for (size_t i = 1; i < 5; i++) {
            assert_int_equal(feed(&r, 0, 0, m, i * 1000, 1000, MAX_MSG, &o),
                             CO_REASM_MORE);
            assert_int_equal(r.got, (i + 1) * 1000);
            assert_true(co_reasm_bytes(&r) <= total);
        }
        assert_int_equal(feed(&r, L, 0, m, 5000, 1, MAX_MSG, &o),
                         CO_REASM_DONE);
        check_msg(m, &o, total);
        assert_idle(&r);
    }
    assert_true(r.abandoned == 0);
    co_reasm_free(&r);
}

static void total_exactly_max_message(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F, 10, 7, 0, 4, 10, &o), CO_REASM_MORE);
    assert_int_equal(co_reasm_bytes(&r), 10);
    assert_int_equal(feed(&r, L, 0, 7, 4, 6, 10, &o), CO_REASM_DONE);
    check_msg(7, &o, 10);
    co_reasm_free(&r);
}

static void uint16_max_fragments(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    uint32_t total = 3u * UINT16_MAX;
    assert_int_equal(feed(&r, F, total, 8, 0, UINT16_MAX, total, &o),
                     CO_REASM_MORE);
    assert_true(co_reasm_bytes(&r) >= UINT16_MAX);
    assert_true(co_reasm_bytes(&r) <= total);
    assert_int_equal(feed(&r, 0, 0, 8, UINT16_MAX, UINT16_MAX, total, &o),
                     CO_REASM_MORE);
    assert_true(co_reasm_bytes(&r) <= total);
    assert_int_equal(feed(&r, L, 0, 8, 2u * UINT16_MAX, UINT16_MAX, total, &o),
                     CO_REASM_DONE);
    check_msg(8, &o, total);
    assert_idle(&r);
    co_reasm_free(&r);
}

/* The buffer grows with what arrived, not with what total_len claims: the
 * first allocation takes at most 64 KiB (a whole small message at once),
 * and beyond that it at most doubles what is held. */
static void memory_follows_arrivals(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    uint32_t total = 1u << 20;
    assert_int_equal(feed(&r, F, total, 9, 0, 10, total, &o), CO_REASM_MORE);
    assert_true(co_reasm_bytes(&r) <= 65536);
    size_t got = 10;
    for (int i = 0; i < 200; i++) { /* well past the first 64 KiB */
        assert_int_equal(feed(&r, 0, 0, 9, got, 1000, total, &o),
                         CO_REASM_MORE);
        got += 1000;
        /* At most double what is held, never above total. */
        assert_true(co_reasm_bytes(&r) >= got);
        assert_true(co_reasm_bytes(&r) <= 2 * got + 65536);
        assert_true(co_reasm_bytes(&r) <= total);
    }
    co_reasm_free(&r); /* a partial message is released */
    assert_idle(&r);
}

/*
 * Regression: an empty FIRST fragment (FIRST without LAST, len 0,
 * total_len > 0), or an empty middle right after it, must not memcpy to a
 * NULL buffer (undefined behaviour, caught by UBSan). The wire decoder
 * refuses empty fragments, but frag.h does not, so the module must be safe
 * on its own. */
static void empty_fragments_are_defined(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    enum co_reasm_result rc = feed(&r, F, 10, 24, 0, 0, MAX_MSG, &o);
    assert_true(rc == CO_REASM_MORE || rc == CO_REASM_BAD);
    if (rc == CO_REASM_MORE) {
        rc = feed(&r, 0, 0, 24, 0, 0, MAX_MSG, &o);
        assert_true(rc == CO_REASM_MORE || rc == CO_REASM_BAD);
    }
    if (rc == CO_REASM_MORE) {
        assert_int_equal(feed(&r, L, 0, 24, 0, 10, MAX_MSG, &o),
                         CO_REASM_DONE);
        check_msg(24, &o, 10);
    }
    co_reasm_free(&r);
}

/* ---------------------------------------------------------------- */
/* Fragments of a message never started                              */
/* ---------------------------------------------------------------- */

static void middle_or_last_without_first(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, 0, 0, 10, 0, 50, MAX_MSG, &o),
                     CO_REASM_SKIPPED);
    assert_null(o.msg);
    assert_int_equal(feed(&r, L, 0, 10, 50, 50, MAX_MSG, &o),
                     CO_REASM_SKIPPED);
    assert_int_equal(feed(&r, 0, 0, 10, 0, 0, MAX_MSG, &o), CO_REASM_SKIPPED);
    assert_idle(&r);
    assert_true(r.abandoned == 0);
    /* The next message goes through. */
    assert_int_equal(feed(&r, F, 20, 11, 0, 10, MAX_MSG, &o), CO_REASM_MORE);
    assert_int_equal(feed(&r, L, 0, 11, 10, 10, MAX_MSG, &o), CO_REASM_DONE);
    check_msg(11, &o, 20);
    co_reasm_free(&r);
}

static void reset_drops_partial(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    r.abandoned = 5;
    assert_int_equal(feed(&r, F, 200, 12, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    co_reasm_reset(&r);
    assert_idle(&r);
    assert_true(r.abandoned == 5); /* a skip is not an abandonment */
    assert_int_equal(feed(&r, L, 0, 12, 100, 100, MAX_MSG, &o),
                     CO_REASM_SKIPPED);
    co_reasm_reset(&r); /* idle reset is harmless */
    assert_idle(&r);
    co_reasm_free(&r);
}

/* ---------------------------------------------------------------- */
/* Inconsistent fragments                                            */
/* ---------------------------------------------------------------- */

static void first_with_bad_total(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    /* total_len must exceed the first fragment. */
    assert_int_equal(feed(&r, F, 100, 13, 0, 100, MAX_MSG, &o), CO_REASM_BAD);
    assert_int_equal(feed(&r, F, 99, 13, 0, 100, MAX_MSG, &o), CO_REASM_BAD);
    assert_int_equal(feed(&r, F, 0, 13, 0, 100, MAX_MSG, &o), CO_REASM_BAD);
    assert_int_equal(feed(&r, F, 0, 13, 0, 0, MAX_MSG, &o), CO_REASM_BAD);
    assert_null(o.msg);
    assert_idle(&r);
    /* total_len above max_message, by one and by a lot. */
    assert_int_equal(feed(&r, F, 1001, 13, 0, 100, 1000, &o), CO_REASM_BAD);
    assert_int_equal(feed(&r, F, UINT32_MAX, 13, 0, 100, MAX_MSG, &o),
                     CO_REASM_BAD);
    assert_idle(&r);
    /* The rest of a refused message is then skipped. */
    assert_int_equal(feed(&r, L, 0, 13, 100, 100, MAX_MSG, &o),
                     CO_REASM_SKIPPED);
    assert_true(r.abandoned == 0);
    co_reasm_free(&r);
}

static void middle_overruns_total(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F, 150, 14, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, 0, 0, 14, 100, 51, MAX_MSG, &o), CO_REASM_BAD);
    assert_idle(&r);
    assert_int_equal(feed(&r, L, 0, 14, 151, 1, MAX_MSG, &o),
                     CO_REASM_SKIPPED);
    co_reasm_free(&r);
}

static void middle_reaches_total(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    /* A middle that completes the message without LAST is inconsistent. */
    assert_int_equal(feed(&r, F, 150, 15, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, 0, 0, 15, 100, 50, MAX_MSG, &o), CO_REASM_BAD);
    assert_idle(&r);
    co_reasm_free(&r);
}

static void last_short_or_long(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F, 150, 16, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, L, 0, 16, 100, 49, MAX_MSG, &o), CO_REASM_BAD);
    assert_idle(&r);
    assert_int_equal(feed(&r, F, 150, 16, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, L, 0, 16, 100, 51, MAX_MSG, &o), CO_REASM_BAD);
    assert_idle(&r);
    /* An empty LAST after a middle that already reached total. */
    assert_int_equal(feed(&r, F, 150, 16, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, L, 0, 16, 100, 0, MAX_MSG, &o), CO_REASM_BAD);
    assert_true(r.abandoned == 0);
    co_reasm_free(&r);
}

/* ---------------------------------------------------------------- */
/* Abandonment                                                       */
/* ---------------------------------------------------------------- */

static void new_first_abandons_partial(void **state)
{
    (void)state;
    co_reasm_t r;
    co_reasm_init(&r, NULL);
    out_t o;
    assert_int_equal(feed(&r, F, 300, 17, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, 0, 0, 17, 100, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    /* A new fragmented message. */
    assert_int_equal(feed(&r, F, 30, 18, 0, 10, MAX_MSG, &o), CO_REASM_MORE);
    assert_true(r.abandoned == 1);
    assert_int_equal(r.got, 10);
    assert_true(co_reasm_bytes(&r) <= 30);
    assert_int_equal(feed(&r, L, 0, 18, 10, 20, MAX_MSG, &o), CO_REASM_DONE);
    check_msg(18, &o, 30);

    /* A whole message also abandons a partial one. */
    assert_int_equal(feed(&r, F, 300, 19, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, F | L, 0, 20, 0, 7, MAX_MSG, &o),
                     CO_REASM_DONE);
    check_msg(20, &o, 7);
    assert_true(r.abandoned == 2);
    assert_idle(&r);

    /* So does a refused FIRST: the partial is gone and so is the new one. */
    assert_int_equal(feed(&r, F, 300, 21, 0, 100, MAX_MSG, &o),
                     CO_REASM_MORE);
    assert_int_equal(feed(&r, F, 100, 22, 0, 100, MAX_MSG, &o), CO_REASM_BAD);
    assert_true(r.abandoned == 3);
    assert_idle(&r);

    /* A FIRST with nothing in progress abandons nothing. */
    assert_int_equal(feed(&r, F, 20, 23, 0, 10, MAX_MSG, &o), CO_REASM_MORE);
    assert_true(r.abandoned == 3);
    co_reasm_free(&r);
    assert_true(r.abandoned == 3); /* free keeps the counter readable */
}

/* ---------------------------------------------------------------- */
/* Seeded run against a model                                        */
/* ---------------------------------------------------------------- */

enum kind {
    K_WHOLE,    /* one record */
    K_OK,       /* fragmented, intact */
    K_TRUNC,    /* tail never comes; the next FIRST abandons it */
    K_RESET,    /* tail lost and the sender moves on: reset */
    K_HEADLESS, /* head lost, reset, the rest arrives */
    K_LIE_LOW,  /* total_len below the real size */
    K_LIE_HIGH, /* total_len above the real size */
    K_TOO_BIG,  /* total_len above max_message */
    K_NO_LAST,  /* the last fragment lost its LAST flag */
    K_COUNT
};

#define MAX_PIECES 12

typedef struct spec {
    int busy;
    size_t total, got;
} spec_t;

/* What the header promises for one record, from the spec state alone. */
static enum co_reasm_result spec_feed(spec_t *s, uint64_t *abandoned,
                                      uint8_t flags, uint32_t total_len,
                                      uint16_t len, size_t max)
{
    int first = (flags & F) != 0, last = (flags & L) != 0;
    if (first && s->busy) {
        (*abandoned)++;
        s->busy = 0;
    }
    if (first && last)
        return CO_REASM_DONE;
    if (first) {
        if (total_len <= len || total_len > max)
            return CO_REASM_BAD;
        *s = (spec_t){.busy = 1, .total = total_len, .got = 0};
    } else if (!s->busy) {
        return CO_REASM_SKIPPED;
    }
    size_t after = s->got + len;
    if (after > s->total || (last ? after != s->total : after == s->total)) {
        s->busy = 0;
        return CO_REASM_BAD;
    }
    s->got = after;
    if (!last)
        return CO_REASM_MORE;
    s->busy = 0;
    return CO_REASM_DONE;
}

typedef struct run {
    co_reasm_t r;
    spec_t spec;
    uint64_t spec_abandoned;
    size_t max_message;
    size_t done, bad, skipped, more;
} run_t;

/* Feed one record to both, compare, and check the delivered bytes when a
 * message must come out intact. */
static void run_feed(run_t *x, uint64_t m, uint8_t flags, uint32_t total_len,
                     size_t off, uint16_t len, size_t want_len)
{
    enum co_reasm_result want = spec_feed(&x->spec, &x->spec_abandoned, flags,
                                          total_len, len, x->max_message);
    out_t o;
    enum co_reasm_result got = feed(&x->r, flags, total_len, m, off, len,
                                    x->max_message, &o);
    assert_int_equal(got, want);
    assert_true(x->r.abandoned == x->spec_abandoned);
    if (got == CO_REASM_DONE) {
        check_msg(m, &o, want_len);
        x->done++;
    } else {
        assert_null(o.msg);
    }
    x->bad += got == CO_REASM_BAD;
    x->skipped += got == CO_REASM_SKIPPED;
    x->more += got == CO_REASM_MORE;
    if (x->spec.busy) {
        assert_int_equal(x->r.total, x->spec.total);
        assert_int_equal(x->r.got, x->spec.got);
        assert_true(co_reasm_bytes(&x->r) >= x->r.got);
        assert_true(co_reasm_bytes(&x->r) <= x->r.total);
    } else {
        assert_idle(&x->r);
    }
}

/* One message of the given kind; returns how many intact messages it
 * must deliver (0 or 1). */
static size_t run_message(run_t *x, uint64_t m, enum kind k, co_rng_t *rng,
                          uint16_t piece_max)
{
    uint16_t lens[MAX_PIECES];
    size_t n = k == K_WHOLE ? 1 : 2 + (size_t)co_rng_below(rng, MAX_PIECES - 1);
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        lens[i] = (uint16_t)co_rng_below(rng, (uint64_t)piece_max + 1);
        if (n > 1 && lens[i] == 0)
            lens[i] = 1; /* the wire layer never carries empty fragments */
        size += lens[i];
    }
    uint32_t total = (uint32_t)size;
    if (k == K_LIE_LOW && size - lens[0] >= 2)
        total = (uint32_t)(lens[0] + 1 + co_rng_below(rng, size - lens[0] - 1));
    else if (k == K_LIE_HIGH || k == K_LIE_LOW)
        total = (uint32_t)(size + 1 + co_rng_below(rng, 100));
    else if (k == K_TOO_BIG)
        total = (uint32_t)(x->max_message + 1 + co_rng_below(rng, 1000));
    size_t from = 0, to = n;
    if (k == K_TRUNC || k == K_RESET)
        to = 1 + (size_t)co_rng_below(rng, n - 1);
    if (k == K_HEADLESS) {
        co_reasm_reset(&x->r);
        x->spec.busy = 0;
        from = 1 + (size_t)co_rng_below(rng, n - 1);
    }
    size_t off = 0;
    for (size_t i = 0; i < from; i++)
        off += lens[i];
    for (size_t i = from; i < to; i++) {
        uint8_t flags = (uint8_t)((i == 0 ? F : 0) | (i == n - 1 ? L : 0));
        if (k == K_NO_LAST)
            flags &= (uint8_t)~L;
        run_feed(x, m, flags, i == 0 && n > 1 ? total : 0, off, lens[i], size);
        off += lens[i];
    }
    if (k == K_RESET) {
        co_reasm_reset(&x->r);
        x->spec.busy = 0;
    }
    /* A whole record never exceeds max_message here (piece_max is below
     * it), so only fragmented sizes are checked against the limit. */
    return k == K_WHOLE || (k == K_OK && size <= x->max_message) ? 1 : 0;
}

static void model_random_messages(void **state)
{
    (void)state;
    co_rng_t rng;
    co_rng_seed(&rng, 0xF4A6u); /* fixed: a failure replays exactly */
    size_t totals[4] = {0, 0, 0, 0};
    uint64_t abandoned_total = 0;
    for (int round = 0; round < 16; round++) {
        run_t x;
        memset(&x, 0, sizeof x);
        co_reasm_init(&x.r, NULL);
        static const uint16_t piece_maxes[] = {1, 8, 300, 1400, UINT16_MAX};
        uint16_t piece_max = piece_maxes[round % 5];
        x.max_message = (size_t)piece_max * (4 + co_rng_below(&rng, 8));
        size_t want_done = 0;
        size_t messages = piece_max == UINT16_MAX ? 40 : 300;
        for (uint64_t m = 0; m < messages; m++) {
            enum kind k = co_rng_below(&rng, 2) ? K_OK
                                             : (enum kind)co_rng_below(&rng,
                                                                   K_COUNT);
            want_done += run_message(&x, m + 1000 * (uint64_t)round, k, &rng,
                                     piece_max);
        }
        /* Every intact message came out, and nothing else did. */
        assert_int_equal(x.done, want_done);
        totals[0] += x.done;
        totals[1] += x.bad;
        totals[2] += x.skipped;
        totals[3] += x.more;
        abandoned_total += x.r.abandoned;
        co_reasm_free(&x.r);
    }
    for (int i = 0; i < 4; i++)
        assert_true(totals[i] > 0);
    assert_true(abandoned_total > 0);
}

/* Point 3: out of memory, a fragment is not taken: NOMEM, the buffer
 * stays the caller's, nothing changes, and feeding it again works. */
static void nomem_leaves_fragment_with_caller(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_reasm_t r;
    co_reasm_init(&r, &fm.mem);
    uint8_t *msg = NULL;
    size_t len = 0;
    uint8_t *a = frag_of(1, 0, 1000), *b = frag_of(1, 1000, 1000);
    fm.fail_at = fm.calls + 1;
    assert_int_equal(co_reasm_feed(&r, F, 2000, a, 1000, MAX_MSG, &msg, &len),
                     CO_REASM_NOMEM);
    assert_true(r.total == 0 && r.got == 0 && r.buf == NULL);
    assert_int_equal(a[0], msg_byte(1, 0)); /* still ours, intact */
    assert_int_equal(co_reasm_feed(&r, F, 2000, a, 1000, MAX_MSG, &msg, &len),
                     CO_REASM_MORE);
    assert_int_equal(co_reasm_feed(&r, L, 0, b, 1000, MAX_MSG, &msg, &len),
                     CO_REASM_DONE);
    assert_int_equal(len, 2000);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(msg[i], msg_byte(1, i));
    co_free(&fm.mem, msg);
    /* A whole message copied from borrowed bytes. */
    uint8_t whole[10] = {1, 2, 3};
    fm.fail_at = fm.calls + 1;
    assert_int_equal(co_reasm_feed_borrowed(&r, F | L, 0, whole, 10, MAX_MSG,
                                            &msg, &len),
                     CO_REASM_NOMEM);
    assert_int_equal(co_reasm_feed_borrowed(&r, F | L, 0, whole, 10, MAX_MSG,
                                            &msg, &len),
                     CO_REASM_DONE);
    co_free(&fm.mem, msg);
    co_reasm_free(&r);
    assert_true(r.abandoned == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_message_is_handed_back),
        cmocka_unit_test(nomem_leaves_fragment_with_caller),
        cmocka_unit_test(zero_length_message),
        cmocka_unit_test(uint16_max_whole_message),
        cmocka_unit_test(two_fragments),
        cmocka_unit_test(first_middles_last),
        cmocka_unit_test(total_exactly_max_message),
        cmocka_unit_test(uint16_max_fragments),
        cmocka_unit_test(memory_follows_arrivals),
        cmocka_unit_test(empty_fragments_are_defined),
        cmocka_unit_test(middle_or_last_without_first),
        cmocka_unit_test(reset_drops_partial),
        cmocka_unit_test(first_with_bad_total),
        cmocka_unit_test(middle_overruns_total),
        cmocka_unit_test(middle_reaches_total),
        cmocka_unit_test(last_short_or_long),
        cmocka_unit_test(new_first_abandons_partial),
        cmocka_unit_test(model_random_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
