/*
 * perf_verify.c - cohort-perf's sequence window and payload checksum (see
 * perf_verify.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "perf_verify.h"

#include <assert.h>
#include <string.h>

#define WORDS (PERF_VERIFY_WINDOW / 64)

static int bit_get(const struct perf_seq *s, uint64_t seq)
{
    uint64_t i = seq % PERF_VERIFY_WINDOW;
    return (int)(s->bits[i / 64] >> (i % 64) & 1u);
}

static void bit_set(struct perf_seq *s, uint64_t seq)
{
    uint64_t i = seq % PERF_VERIFY_WINDOW;
    s->bits[i / 64] |= 1ull << (i % 64);
}

/* Forget what the window said of [from, to): those numbers are missing. */
static void bits_clear(struct perf_seq *s, uint64_t from, uint64_t to)
{
    if (to - from >= PERF_VERIFY_WINDOW) {
        memset(s->bits, 0, sizeof s->bits);
        return;
    }
    /* Whole words where they fit, bits at the ends: bounded by the
     * window. */
    for (uint64_t q = from; q < to;) {
        uint64_t i = q % PERF_VERIFY_WINDOW;
        if (i % 64 == 0 && to - q >= 64) {
            s->bits[i / 64] = 0;
            q += 64;
        } else {
            s->bits[i / 64] &= ~(1ull << (i % 64));
            q++;
        }
    }
}

enum perf_seq_kind perf_seq_take(struct perf_seq *s, uint64_t seq)
{
    if (seq == s->next) {            /* the common case */
        bit_set(s, seq);
        s->next++;
        s->unique++;
        return PERF_SEQ_NEXT;
    }
    if (seq > s->next) {
        bits_clear(s, s->next, seq);
        bit_set(s, seq);
        s->next = seq + 1;
        s->unique++;
        return PERF_SEQ_JUMP;
    }
    if (s->next - seq > PERF_VERIFY_WINDOW) {
        s->late++;
        return PERF_SEQ_OLD;
    }
    if (bit_get(s, seq)) {
        s->dups++;
        return PERF_SEQ_DUP;
    }
    bit_set(s, seq);
    s->unique++;
    s->late++;
    assert(s->unique <= s->next);
    return PERF_SEQ_LATE;
}

/* One step of the checksum: cheap, and every input bit reaches the top
 * and bottom halves. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ h >> 32;
}

/* The sample windows: the first up to PERF_VERIFY_SAMPLE bytes of the
 * filler (*a of them) and the last up to PERF_VERIFY_SAMPLE after those
 * (*b), the second starting at len - *b. */
static void windows(size_t len, size_t hdr, size_t *a, size_t *b)
{
    size_t plen = len > hdr ? len - hdr : 0;
    *a = plen < PERF_VERIFY_SAMPLE ? plen : PERF_VERIFY_SAMPLE;
    plen -= *a;
    *b = plen < PERF_VERIFY_SAMPLE ? plen : PERF_VERIFY_SAMPLE;
}

static void put_le64(uint8_t *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &w, 8);            /* one store */
#else
    for (unsigned k = 0; k < 8; k++)
        p[k] = (uint8_t)(w >> (8 * k));
#endif
}

/* What seq's windows hold: four words of a pattern of seq (the first
 * window the first two, the second the last two), little-endian; returns
 * the checksum of the header fields. The words are independent of each
 * other and the checksum three steps, so the sender and the receiver pay
 * a few nanoseconds a message. */
static uint64_t pattern(uint8_t out[2 * PERF_VERIFY_SAMPLE], size_t len,
                        uint32_t run_id, uint32_t from, uint64_t seq)
{
    static const uint64_t salt[4] = {
        0x243f6a8885a308d3ull, 0x13198a2e03707344ull,
        0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull,
    };
    uint64_t base = seq * 0xd6e8feb86659fd93ull;
    for (unsigned i = 0; i < 4; i++)
        put_le64(out + 8 * i, base ^ salt[i]);
    return mix(mix(mix(0x636f686f72742d70ull,         /* "cohort-p" */
                       (uint64_t)run_id << 32 | from), seq), (uint64_t)len);
}

uint64_t perf_verify_stamp(uint8_t *msg, size_t len, size_t hdr_bytes,
                           uint32_t run_id, uint32_t from, uint64_t seq)
{
    uint8_t p[2 * PERF_VERIFY_SAMPLE];
    size_t a, b;
    uint64_t sum = pattern(p, len, run_id, from, seq);
    windows(len, hdr_bytes, &a, &b);
    if (a == PERF_VERIFY_SAMPLE && b == PERF_VERIFY_SAMPLE) {
        /* The usual case, in fixed-size copies the compiler inlines. */
        memcpy(msg + hdr_bytes, p, PERF_VERIFY_SAMPLE);
        memcpy(msg + len - PERF_VERIFY_SAMPLE, p + PERF_VERIFY_SAMPLE,
               PERF_VERIFY_SAMPLE);
    } else {
        memcpy(msg + hdr_bytes, p, a);
        memcpy(msg + len - b, p + PERF_VERIFY_SAMPLE, b);
    }
    return sum;
}

/* Every byte of [from, to) is the filler. */
static int filler_ok(const uint8_t *p, size_t from, size_t to)
{
    static const uint64_t fill = 0x0101010101010101ull * PERF_VERIFY_FILL;
    size_t i = from;
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != fill)
            return 0;
    }
    for (; i < to; i++)
        if (p[i] != PERF_VERIFY_FILL)
            return 0;
    return 1;
}

int perf_verify_check(const uint8_t *msg, size_t len, size_t hdr_bytes,
                      size_t expected_len, uint32_t run_id, uint32_t from,
                      uint64_t seq, uint64_t sum)
{
    uint8_t p[2 * PERF_VERIFY_SAMPLE];
    size_t a, b;
    if ((expected_len != 0 && len != expected_len) || len < hdr_bytes)
        return -1;
    if (pattern(p, len, run_id, from, seq) != sum)
        return -1;
    windows(len, hdr_bytes, &a, &b);
    if (a == PERF_VERIFY_SAMPLE && b == PERF_VERIFY_SAMPLE) {
        /* The usual case, in fixed-size compares the compiler inlines. */
        if (memcmp(msg + hdr_bytes, p, PERF_VERIFY_SAMPLE) != 0 ||
            memcmp(msg + len - PERF_VERIFY_SAMPLE, p + PERF_VERIFY_SAMPLE,
                   PERF_VERIFY_SAMPLE) != 0)
            return -1;
    } else if (memcmp(msg + hdr_bytes, p, a) != 0 ||
               memcmp(msg + len - b, p + PERF_VERIFY_SAMPLE, b) != 0) {
        return -1;
    }
    if (seq % PERF_VERIFY_FULL_EVERY == 0 &&
        !filler_ok(msg, hdr_bytes + a, len - b))
        return -1;
    return 0;
}
