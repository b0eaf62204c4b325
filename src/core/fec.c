/*
 * fec.c - the Cauchy erasure code over GF(2^8) (see fec.h).
 *
 * Multiplying a buffer by a constant c uses c's two nibble tables,
 * lo[x] = c * x and hi[x] = c * (x << 4) for x < 16, since c * b =
 * lo[b & 15] ^ hi[b >> 4] (multiplication by c is linear over GF(2)).
 * The SIMD loops build both in registers and look them up with pshufb,
 * 16 or 32 bytes at a time (the last < 16 bytes through a zero-padded
 * copy); the portable loop expands them into a 256-entry row for long
 * buffers and goes 8 bytes at a time. The tables below were generated once from the
 * polynomial (tests/unit/test_fec.c regenerates and compares them).
 */
#include "config.h"

#include "fec.h"

#include <string.h>

#include "co_assert.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CO_FEC_X86 1
#include <immintrin.h>
#else
#define CO_FEC_X86 0
#endif

/* exp[i] = 2^i in GF(2^8) mod x^8 + x^4 + x^3 + x^2 + 1 (0x11d), for
 * i < 510: exp[log a + log b] needs no reduction mod 255. */
static const uint8_t co_gf_exp[510] = {
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1d, 0x3a, 0x74, 0xe8,
    0xcd, 0x87, 0x13, 0x26, 0x4c, 0x98, 0x2d, 0x5a, 0xb4, 0x75, 0xea, 0xc9,
    0x8f, 0x03, 0x06, 0x0c, 0x18, 0x30, 0x60, 0xc0, 0x9d, 0x27, 0x4e, 0x9c,
    0x25, 0x4a, 0x94, 0x35, 0x6a, 0xd4, 0xb5, 0x77, 0xee, 0xc1, 0x9f, 0x23,
    0x46, 0x8c, 0x05, 0x0a, 0x14, 0x28, 0x50, 0xa0, 0x5d, 0xba, 0x69, 0xd2,
    0xb9, 0x6f, 0xde, 0xa1, 0x5f, 0xbe, 0x61, 0xc2, 0x99, 0x2f, 0x5e, 0xbc,
    0x65, 0xca, 0x89, 0x0f, 0x1e, 0x3c, 0x78, 0xf0, 0xfd, 0xe7, 0xd3, 0xbb,
    0x6b, 0xd6, 0xb1, 0x7f, 0xfe, 0xe1, 0xdf, 0xa3, 0x5b, 0xb6, 0x71, 0xe2,
    0xd9, 0xaf, 0x43, 0x86, 0x11, 0x22, 0x44, 0x88, 0x0d, 0x1a, 0x34, 0x68,
    0xd0, 0xbd, 0x67, 0xce, 0x81, 0x1f, 0x3e, 0x7c, 0xf8, 0xed, 0xc7, 0x93,
    0x3b, 0x76, 0xec, 0xc5, 0x97, 0x33, 0x66, 0xcc, 0x85, 0x17, 0x2e, 0x5c,
    0xb8, 0x6d, 0xda, 0xa9, 0x4f, 0x9e, 0x21, 0x42, 0x84, 0x15, 0x2a, 0x54,
    0xa8, 0x4d, 0x9a, 0x29, 0x52, 0xa4, 0x55, 0xaa, 0x49, 0x92, 0x39, 0x72,
    0xe4, 0xd5, 0xb7, 0x73, 0xe6, 0xd1, 0xbf, 0x63, 0xc6, 0x91, 0x3f, 0x7e,
    0xfc, 0xe5, 0xd7, 0xb3, 0x7b, 0xf6, 0xf1, 0xff, 0xe3, 0xdb, 0xab, 0x4b,
    0x96, 0x31, 0x62, 0xc4, 0x95, 0x37, 0x6e, 0xdc, 0xa5, 0x57, 0xae, 0x41,
    0x82, 0x19, 0x32, 0x64, 0xc8, 0x8d, 0x07, 0x0e, 0x1c, 0x38, 0x70, 0xe0,
    0xdd, 0xa7, 0x53, 0xa6, 0x51, 0xa2, 0x59, 0xb2, 0x79, 0xf2, 0xf9, 0xef,
    0xc3, 0x9b, 0x2b, 0x56, 0xac, 0x45, 0x8a, 0x09, 0x12, 0x24, 0x48, 0x90,
    0x3d, 0x7a, 0xf4, 0xf5, 0xf7, 0xf3, 0xfb, 0xeb, 0xcb, 0x8b, 0x0b, 0x16,
    0x2c, 0x58, 0xb0, 0x7d, 0xfa, 0xe9, 0xcf, 0x83, 0x1b, 0x36, 0x6c, 0xd8,
    0xad, 0x47, 0x8e, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1d,
    0x3a, 0x74, 0xe8, 0xcd, 0x87, 0x13, 0x26, 0x4c, 0x98, 0x2d, 0x5a, 0xb4,
    0x75, 0xea, 0xc9, 0x8f, 0x03, 0x06, 0x0c, 0x18, 0x30, 0x60, 0xc0, 0x9d,
    0x27, 0x4e, 0x9c, 0x25, 0x4a, 0x94, 0x35, 0x6a, 0xd4, 0xb5, 0x77, 0xee,
    0xc1, 0x9f, 0x23, 0x46, 0x8c, 0x05, 0x0a, 0x14, 0x28, 0x50, 0xa0, 0x5d,
    0xba, 0x69, 0xd2, 0xb9, 0x6f, 0xde, 0xa1, 0x5f, 0xbe, 0x61, 0xc2, 0x99,
    0x2f, 0x5e, 0xbc, 0x65, 0xca, 0x89, 0x0f, 0x1e, 0x3c, 0x78, 0xf0, 0xfd,
    0xe7, 0xd3, 0xbb, 0x6b, 0xd6, 0xb1, 0x7f, 0xfe, 0xe1, 0xdf, 0xa3, 0x5b,
    0xb6, 0x71, 0xe2, 0xd9, 0xaf, 0x43, 0x86, 0x11, 0x22, 0x44, 0x88, 0x0d,
    0x1a, 0x34, 0x68, 0xd0, 0xbd, 0x67, 0xce, 0x81, 0x1f, 0x3e, 0x7c, 0xf8,
    0xed, 0xc7, 0x93, 0x3b, 0x76, 0xec, 0xc5, 0x97, 0x33, 0x66, 0xcc, 0x85,
    0x17, 0x2e, 0x5c, 0xb8, 0x6d, 0xda, 0xa9, 0x4f, 0x9e, 0x21, 0x42, 0x84,
    0x15, 0x2a, 0x54, 0xa8, 0x4d, 0x9a, 0x29, 0x52, 0xa4, 0x55, 0xaa, 0x49,
    0x92, 0x39, 0x72, 0xe4, 0xd5, 0xb7, 0x73, 0xe6, 0xd1, 0xbf, 0x63, 0xc6,
    0x91, 0x3f, 0x7e, 0xfc, 0xe5, 0xd7, 0xb3, 0x7b, 0xf6, 0xf1, 0xff, 0xe3,
    0xdb, 0xab, 0x4b, 0x96, 0x31, 0x62, 0xc4, 0x95, 0x37, 0x6e, 0xdc, 0xa5,
    0x57, 0xae, 0x41, 0x82, 0x19, 0x32, 0x64, 0xc8, 0x8d, 0x07, 0x0e, 0x1c,
    0x38, 0x70, 0xe0, 0xdd, 0xa7, 0x53, 0xa6, 0x51, 0xa2, 0x59, 0xb2, 0x79,
    0xf2, 0xf9, 0xef, 0xc3, 0x9b, 0x2b, 0x56, 0xac, 0x45, 0x8a, 0x09, 0x12,
    0x24, 0x48, 0x90, 0x3d, 0x7a, 0xf4, 0xf5, 0xf7, 0xf3, 0xfb, 0xeb, 0xcb,
    0x8b, 0x0b, 0x16, 0x2c, 0x58, 0xb0, 0x7d, 0xfa, 0xe9, 0xcf, 0x83, 0x1b,
    0x36, 0x6c, 0xd8, 0xad, 0x47, 0x8e,
};

/* log[a]: 2^log[a] = a, a != 0; log[0] is unused. */
static const uint8_t co_gf_log[256] = {
    0x00, 0x00, 0x01, 0x19, 0x02, 0x32, 0x1a, 0xc6, 0x03, 0xdf, 0x33, 0xee,
    0x1b, 0x68, 0xc7, 0x4b, 0x04, 0x64, 0xe0, 0x0e, 0x34, 0x8d, 0xef, 0x81,
    0x1c, 0xc1, 0x69, 0xf8, 0xc8, 0x08, 0x4c, 0x71, 0x05, 0x8a, 0x65, 0x2f,
    0xe1, 0x24, 0x0f, 0x21, 0x35, 0x93, 0x8e, 0xda, 0xf0, 0x12, 0x82, 0x45,
    0x1d, 0xb5, 0xc2, 0x7d, 0x6a, 0x27, 0xf9, 0xb9, 0xc9, 0x9a, 0x09, 0x78,
    0x4d, 0xe4, 0x72, 0xa6, 0x06, 0xbf, 0x8b, 0x62, 0x66, 0xdd, 0x30, 0xfd,
    0xe2, 0x98, 0x25, 0xb3, 0x10, 0x91, 0x22, 0x88, 0x36, 0xd0, 0x94, 0xce,
    0x8f, 0x96, 0xdb, 0xbd, 0xf1, 0xd2, 0x13, 0x5c, 0x83, 0x38, 0x46, 0x40,
    0x1e, 0x42, 0xb6, 0xa3, 0xc3, 0x48, 0x7e, 0x6e, 0x6b, 0x3a, 0x28, 0x54,
    0xfa, 0x85, 0xba, 0x3d, 0xca, 0x5e, 0x9b, 0x9f, 0x0a, 0x15, 0x79, 0x2b,
    0x4e, 0xd4, 0xe5, 0xac, 0x73, 0xf3, 0xa7, 0x57, 0x07, 0x70, 0xc0, 0xf7,
    0x8c, 0x80, 0x63, 0x0d, 0x67, 0x4a, 0xde, 0xed, 0x31, 0xc5, 0xfe, 0x18,
    0xe3, 0xa5, 0x99, 0x77, 0x26, 0xb8, 0xb4, 0x7c, 0x11, 0x44, 0x92, 0xd9,
    0x23, 0x20, 0x89, 0x2e, 0x37, 0x3f, 0xd1, 0x5b, 0x95, 0xbc, 0xcf, 0xcd,
    0x90, 0x87, 0x97, 0xb2, 0xdc, 0xfc, 0xbe, 0x61, 0xf2, 0x56, 0xd3, 0xab,
    0x14, 0x2a, 0x5d, 0x9e, 0x84, 0x3c, 0x39, 0x53, 0x47, 0x6d, 0x41, 0xa2,
    0x1f, 0x2d, 0x43, 0xd8, 0xb7, 0x7b, 0xa4, 0x76, 0xc4, 0x17, 0x49, 0xec,
    0x7f, 0x0c, 0x6f, 0xf6, 0x6c, 0xa1, 0x3b, 0x52, 0x29, 0x9d, 0x55, 0xaa,
    0xfb, 0x60, 0x86, 0xb1, 0xbb, 0xcc, 0x3e, 0x5a, 0xcb, 0x59, 0x5f, 0xb0,
    0x9c, 0xa9, 0xa0, 0x51, 0x0b, 0xf5, 0x16, 0xeb, 0x7a, 0x75, 0x2c, 0xd7,
    0x4f, 0xae, 0xd5, 0xe9, 0xe6, 0xe7, 0xad, 0xe8, 0x74, 0xd6, 0xf4, 0xea,
    0xa8, 0x50, 0x58, 0xaf,
};

/* inv[a] * a = 1, a != 0; inv[0] is 0. */
static const uint8_t co_gf_inv[256] = {
    0x00, 0x01, 0x8e, 0xf4, 0x47, 0xa7, 0x7a, 0xba, 0xad, 0x9d, 0xdd, 0x98,
    0x3d, 0xaa, 0x5d, 0x96, 0xd8, 0x72, 0xc0, 0x58, 0xe0, 0x3e, 0x4c, 0x66,
    0x90, 0xde, 0x55, 0x80, 0xa0, 0x83, 0x4b, 0x2a, 0x6c, 0xed, 0x39, 0x51,
    0x60, 0x56, 0x2c, 0x8a, 0x70, 0xd0, 0x1f, 0x4a, 0x26, 0x8b, 0x33, 0x6e,
    0x48, 0x89, 0x6f, 0x2e, 0xa4, 0xc3, 0x40, 0x5e, 0x50, 0x22, 0xcf, 0xa9,
    0xab, 0x0c, 0x15, 0xe1, 0x36, 0x5f, 0xf8, 0xd5, 0x92, 0x4e, 0xa6, 0x04,
    0x30, 0x88, 0x2b, 0x1e, 0x16, 0x67, 0x45, 0x93, 0x38, 0x23, 0x68, 0x8c,
    0x81, 0x1a, 0x25, 0x61, 0x13, 0xc1, 0xcb, 0x63, 0x97, 0x0e, 0x37, 0x41,
    0x24, 0x57, 0xca, 0x5b, 0xb9, 0xc4, 0x17, 0x4d, 0x52, 0x8d, 0xef, 0xb3,
    0x20, 0xec, 0x2f, 0x32, 0x28, 0xd1, 0x11, 0xd9, 0xe9, 0xfb, 0xda, 0x79,
    0xdb, 0x77, 0x06, 0xbb, 0x84, 0xcd, 0xfe, 0xfc, 0x1b, 0x54, 0xa1, 0x1d,
    0x7c, 0xcc, 0xe4, 0xb0, 0x49, 0x31, 0x27, 0x2d, 0x53, 0x69, 0x02, 0xf5,
    0x18, 0xdf, 0x44, 0x4f, 0x9b, 0xbc, 0x0f, 0x5c, 0x0b, 0xdc, 0xbd, 0x94,
    0xac, 0x09, 0xc7, 0xa2, 0x1c, 0x82, 0x9f, 0xc6, 0x34, 0xc2, 0x46, 0x05,
    0xce, 0x3b, 0x0d, 0x3c, 0x9c, 0x08, 0xbe, 0xb7, 0x87, 0xe5, 0xee, 0x6b,
    0xeb, 0xf2, 0xbf, 0xaf, 0xc5, 0x64, 0x07, 0x7b, 0x95, 0x9a, 0xae, 0xb6,
    0x12, 0x59, 0xa5, 0x35, 0x65, 0xb8, 0xa3, 0x9e, 0xd2, 0xf7, 0x62, 0x5a,
    0x85, 0x7d, 0xa8, 0x3a, 0x29, 0x71, 0xc8, 0xf6, 0xf9, 0x43, 0xd7, 0xd6,
    0x10, 0x73, 0x76, 0x78, 0x99, 0x0a, 0x19, 0x91, 0x14, 0x3f, 0xe6, 0xf0,
    0x86, 0xb1, 0xe2, 0xf1, 0xfa, 0x74, 0xf3, 0xb4, 0x6d, 0x21, 0xb2, 0x6a,
    0xe3, 0xe7, 0xb5, 0xea, 0x03, 0x8f, 0xd3, 0xc9, 0x42, 0xd4, 0xe8, 0x75,
    0x7f, 0xff, 0x7e, 0xfd,
};

/* ---- field arithmetic ---- */

uint8_t co_fec_gf_mul(uint8_t a, uint8_t b)
{
    if (a == 0 || b == 0)
        return 0;
    return co_gf_exp[co_gf_log[a] + co_gf_log[b]];
}

uint8_t co_fec_gf_inv(uint8_t a)
{
    return co_gf_inv[a];
}

uint8_t co_fec_coef(unsigned parity_index, unsigned data_index)
{
    COHORT_ASSERT(parity_index < CO_FEC_PARITY_MAX);
    COHORT_ASSERT(data_index < CO_FEC_K_MAX);
    /* x_j + y_i, x_j >= CO_FEC_K_MAX > y_i: never 0. */
    return co_gf_inv[(CO_FEC_K_MAX + parity_index) ^ data_index];
}

void co_fec_tables(const uint8_t **exp, const uint8_t **log,
                   const uint8_t **inv)
{
    *exp = co_gf_exp;
    *log = co_gf_log;
    *inv = co_gf_inv;
}

/* a * 2 */
static inline uint8_t xtime(uint8_t a)
{
    return (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
}

/* lo[x] = c * x, hi[x] = c * (x << 4), x < 16. */
static void nibble_tables(uint8_t c, uint8_t lo[16], uint8_t hi[16])
{
    uint8_t c16 = xtime(xtime(xtime(xtime(c))));
    lo[0] = 0;
    hi[0] = 0;
    for (unsigned x = 1; x < 16; x++) {
        if (x & 1) {
            lo[x] = lo[x - 1] ^ c;
            hi[x] = hi[x - 1] ^ c16;
        } else {
            lo[x] = xtime(lo[x / 2]);
            hi[x] = xtime(hi[x / 2]);
        }
    }
}

/* ---- the portable loop ---- */

/* Below this many bytes the 256-entry row costs more than it saves. */
#define CO_FEC_ROW_MIN 64

/* out[0..n) = (acc ? out : 0) ^ c * in[0..n), byte by byte. */
static void nibble_loop(uint8_t *out, const uint8_t *in, size_t n,
                        const uint8_t lo[16], const uint8_t hi[16], bool acc)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t p = lo[in[i] & 15] ^ hi[in[i] >> 4];
        out[i] = acc ? out[i] ^ p : p;
    }
}

#define CO_FEC_ROW8(w)                                                      \
    ((uint64_t)row[(w) & 0xff] | (uint64_t)row[((w) >> 8) & 0xff] << 8 |    \
     (uint64_t)row[((w) >> 16) & 0xff] << 16 |                              \
     (uint64_t)row[((w) >> 24) & 0xff] << 24 |                              \
     (uint64_t)row[((w) >> 32) & 0xff] << 32 |                              \
     (uint64_t)row[((w) >> 40) & 0xff] << 40 |                              \
     (uint64_t)row[((w) >> 48) & 0xff] << 48 | (uint64_t)row[(w) >> 56] << 56)

static void scalar_loop(uint8_t *out, const uint8_t *in, size_t n, uint8_t c,
                        bool acc)
{
    uint8_t lo[16], hi[16];
    nibble_tables(c, lo, hi);
    if (n < CO_FEC_ROW_MIN) {
        nibble_loop(out, in, n, lo, hi, acc);
        return;
    }
    uint8_t row[256];
    for (unsigned x = 0; x < 256; x++)
        row[x] = lo[x & 15] ^ hi[x >> 4];
    /* Bytes are taken out of a word and put back at the same shifts, so
     * this is right for either byte order. */
    size_t i = 0;
    if (acc) {
        for (; i + 8 <= n; i += 8) {
            uint64_t w, o;
            memcpy(&w, in + i, 8);
            memcpy(&o, out + i, 8);
            o ^= CO_FEC_ROW8(w);
            memcpy(out + i, &o, 8);
        }
        for (; i < n; i++)
            out[i] ^= row[in[i]];
    } else {
        for (; i + 8 <= n; i += 8) {
            uint64_t w, o;
            memcpy(&w, in + i, 8);
            o = CO_FEC_ROW8(w);
            memcpy(out + i, &o, 8);
        }
        for (; i < n; i++)
            out[i] = row[in[i]];
    }
}

/* ---- x86-64: split-nibble pshufb ---- */

#if CO_FEC_X86

/* 2 * v in every byte. */
__attribute__((target("ssse3"))) static inline __m128i xtime128(__m128i v)
{
    __m128i top = _mm_cmplt_epi8(v, _mm_setzero_si128());
    return _mm_xor_si128(_mm_add_epi8(v, v),
                         _mm_and_si128(top, _mm_set1_epi8(0x1d)));
}

/* c's nibble tables, built in registers: the table in memory would be
 * written byte by byte and read back at once, a chain through memory
 * that cost more than a whole 1400-byte pass. lo = c * {0..15} and
 * hi = c * {0x00, 0x10, .., 0xf0}, bit by bit of c. */
__attribute__((target("ssse3"))) static inline void
tables128(uint8_t c, __m128i *lo, __m128i *hi)
{
    __m128i xl = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                               14, 15);
    __m128i xh = _mm_slli_epi64(xl, 4);
    __m128i cc = _mm_set1_epi8((char)c);
    __m128i al = _mm_setzero_si128(), ah = _mm_setzero_si128();
    for (int b = 0; b < 8; b++) {
        __m128i bit = _mm_set1_epi8((char)(1 << b));
        __m128i take = _mm_cmpeq_epi8(_mm_and_si128(cc, bit), bit);
        al = _mm_xor_si128(al, _mm_and_si128(xl, take));
        ah = _mm_xor_si128(ah, _mm_and_si128(xh, take));
        xl = xtime128(xl);
        xh = xtime128(xh);
    }
    *lo = al;
    *hi = ah;
}

/* c * x, 16 bytes. */
__attribute__((target("ssse3"))) static inline __m128i
product128(__m128i x, __m128i tlo, __m128i thi)
{
    const __m128i mask = _mm_set1_epi8(0x0f);
    return _mm_xor_si128(
        _mm_shuffle_epi8(tlo, _mm_and_si128(x, mask)),
        _mm_shuffle_epi8(thi, _mm_and_si128(_mm_srli_epi64(x, 4), mask)));
}

/* The last n < 16 bytes through a zero-padded copy. */
__attribute__((target("ssse3"))) static inline void
tail128(uint8_t *out, const uint8_t *in, size_t n, __m128i tlo, __m128i thi,
        bool acc)
{
    uint8_t a[16] = {0}, b[16] = {0};
    if (n == 0)
        return;
    memcpy(a, in, n);
    __m128i p = product128(_mm_loadu_si128((const void *)a), tlo, thi);
    if (acc) {
        memcpy(b, out, n);
        p = _mm_xor_si128(p, _mm_loadu_si128((const void *)b));
    }
    _mm_storeu_si128((void *)b, p);
    memcpy(out, b, n);
}

__attribute__((target("ssse3"))) static void
ssse3_loop(uint8_t *out, const uint8_t *in, size_t n, uint8_t c, bool acc)
{
    __m128i tlo, thi;
    tables128(c, &tlo, &thi);
    size_t i = 0;
    if (acc) {
        for (; i + 16 <= n; i += 16) {
            __m128i p = product128(_mm_loadu_si128((const void *)(in + i)),
                                   tlo, thi);
            p = _mm_xor_si128(p, _mm_loadu_si128((const void *)(out + i)));
            _mm_storeu_si128((void *)(out + i), p);
        }
    } else {
        for (; i + 16 <= n; i += 16) {
            __m128i p = product128(_mm_loadu_si128((const void *)(in + i)),
                                   tlo, thi);
            _mm_storeu_si128((void *)(out + i), p);
        }
    }
    tail128(out + i, in + i, n - i, tlo, thi, acc);
}

/* c * x, 32 bytes. */
__attribute__((target("avx2"))) static inline __m256i
product256(__m256i x, __m256i tlo, __m256i thi)
{
    const __m256i mask = _mm256_set1_epi8(0x0f);
    return _mm256_xor_si256(
        _mm256_shuffle_epi8(tlo, _mm256_and_si256(x, mask)),
        _mm256_shuffle_epi8(thi,
                            _mm256_and_si256(_mm256_srli_epi64(x, 4), mask)));
}

/* 64 bytes a step, then 32, then 16, then the tail. */
__attribute__((target("avx2"))) static void
avx2_loop(uint8_t *out, const uint8_t *in, size_t n, uint8_t c, bool acc)
{
    __m128i tlo128, thi128;
    tables128(c, &tlo128, &thi128);
    const __m256i tlo = _mm256_broadcastsi128_si256(tlo128);
    const __m256i thi = _mm256_broadcastsi128_si256(thi128);
    size_t i = 0;
#define CO_FEC_LOAD256(p) _mm256_loadu_si256((const void *)(p))
    if (acc) {
        for (; i + 64 <= n; i += 64) {
            __m256i p0 = product256(CO_FEC_LOAD256(in + i), tlo, thi);
            __m256i p1 = product256(CO_FEC_LOAD256(in + i + 32), tlo, thi);
            p0 = _mm256_xor_si256(p0, CO_FEC_LOAD256(out + i));
            p1 = _mm256_xor_si256(p1, CO_FEC_LOAD256(out + i + 32));
            _mm256_storeu_si256((void *)(out + i), p0);
            _mm256_storeu_si256((void *)(out + i + 32), p1);
        }
        if (i + 32 <= n) {
            __m256i p = product256(CO_FEC_LOAD256(in + i), tlo, thi);
            p = _mm256_xor_si256(p, CO_FEC_LOAD256(out + i));
            _mm256_storeu_si256((void *)(out + i), p);
            i += 32;
        }
    } else {
        for (; i + 64 <= n; i += 64) {
            __m256i p0 = product256(CO_FEC_LOAD256(in + i), tlo, thi);
            __m256i p1 = product256(CO_FEC_LOAD256(in + i + 32), tlo, thi);
            _mm256_storeu_si256((void *)(out + i), p0);
            _mm256_storeu_si256((void *)(out + i + 32), p1);
        }
        if (i + 32 <= n) {
            __m256i p = product256(CO_FEC_LOAD256(in + i), tlo, thi);
            _mm256_storeu_si256((void *)(out + i), p);
            i += 32;
        }
    }
#undef CO_FEC_LOAD256
    if (i + 16 <= n) {
        __m128i p = product128(_mm_loadu_si128((const void *)(in + i)),
                               tlo128, thi128);
        if (acc)
            p = _mm_xor_si128(p, _mm_loadu_si128((const void *)(out + i)));
        _mm_storeu_si128((void *)(out + i), p);
        i += 16;
    }
    tail128(out + i, in + i, n - i, tlo128, thi128, acc);
}

#endif /* CO_FEC_X86 */

/* ---- dispatch: asked of the CPU on every call, nothing cached ---- */

bool co_fec_impl_available(co_fec_impl_t impl)
{
    switch (impl) {
    case CO_FEC_IMPL_AUTO:
    case CO_FEC_IMPL_SCALAR:
        return true;
#if CO_FEC_X86
    case CO_FEC_IMPL_SSSE3:
        return __builtin_cpu_supports("ssse3");
    case CO_FEC_IMPL_AVX2:
        return __builtin_cpu_supports("avx2");
#else
    case CO_FEC_IMPL_SSSE3:
    case CO_FEC_IMPL_AVX2:
        return false;
#endif
    }
    return false;
}

/* What AUTO means for n bytes: below 16 the byte loop (the SIMD loops
 * would only run their padded tail), else the widest loop the CPU has. */
static co_fec_impl_t pick(size_t n)
{
#if CO_FEC_X86
    if (n < 16)
        return CO_FEC_IMPL_SCALAR;
    if (__builtin_cpu_supports("avx2"))
        return CO_FEC_IMPL_AVX2;
    if (__builtin_cpu_supports("ssse3"))
        return CO_FEC_IMPL_SSSE3;
#else
    (void)n;
#endif
    return CO_FEC_IMPL_SCALAR;
}

/* out[0..n) = (acc ? out : 0) ^ c * in[0..n); right for any c, used for
 * c >= 2. out == in works (each step reads before it writes). */
static void mul_loop(co_fec_impl_t impl, uint8_t *out, const uint8_t *in,
                     size_t n, uint8_t c, bool acc)
{
    if (impl == CO_FEC_IMPL_AUTO)
        impl = pick(n);
    else
        COHORT_ASSERT(co_fec_impl_available(impl));
    if (impl == CO_FEC_IMPL_SCALAR) {
        scalar_loop(out, in, n, c, acc);
        return;
    }
#if CO_FEC_X86
    if (impl == CO_FEC_IMPL_AVX2)
        avx2_loop(out, in, n, c, acc);
    else
        ssse3_loop(out, in, n, c, acc);
#endif
}

static void xor_loop(uint8_t *out, const uint8_t *in, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, o;
        memcpy(&w, in + i, 8);
        memcpy(&o, out + i, 8);
        o ^= w;
        memcpy(out + i, &o, 8);
    }
    for (; i < n; i++)
        out[i] ^= in[i];
}

void co_fec_addmul_impl(co_fec_impl_t impl, uint8_t *out, const uint8_t *in,
                        size_t in_len, uint8_t c)
{
    if (c == 0 || in_len == 0)
        return;
    COHORT_ASSERT(out != NULL && in != NULL);
    if (c == 1)
        xor_loop(out, in, in_len);
    else
        mul_loop(impl, out, in, in_len, c, true);
}

void co_fec_mul_impl(co_fec_impl_t impl, uint8_t *buf, size_t len, uint8_t c)
{
    if (c == 1 || len == 0)
        return;
    COHORT_ASSERT(buf != NULL);
    if (c == 0)
        memset(buf, 0, len);
    else
        mul_loop(impl, buf, buf, len, c, false);
}

/* out[0..n) = c * in[0..n), out and in apart. */
static void mulcopy(uint8_t *out, const uint8_t *in, size_t n, uint8_t c)
{
    if (n == 0)
        return;
    if (c == 0)
        memset(out, 0, n);
    else if (c == 1)
        memcpy(out, in, n);
    else
        mul_loop(CO_FEC_IMPL_AUTO, out, in, n, c, false);
}

void co_fec_addmul(uint8_t *out, const uint8_t *in, size_t in_len, uint8_t c)
{
    co_fec_addmul_impl(CO_FEC_IMPL_AUTO, out, in, in_len, c);
}

void co_fec_mul(uint8_t *buf, size_t len, uint8_t c)
{
    co_fec_mul_impl(CO_FEC_IMPL_AUTO, buf, len, c);
}

/* ---- the code ---- */

void co_fec_encode(const uint8_t *const *data, const size_t *lens,
                   size_t k, size_t len, unsigned j, uint8_t *out)
{
    COHORT_ASSERT(k >= 1 && k <= CO_FEC_K_MAX);
    COHORT_ASSERT(j < CO_FEC_PARITY_MAX);
    COHORT_ASSERT(len == 0 || out != NULL);
    /* The first symbol is multiplied straight into out, saving a pass
     * that clears it. */
    COHORT_ASSERT(lens[0] <= len);
    mulcopy(out, data[0], lens[0], co_fec_coef(j, 0));
    if (lens[0] < len)
        memset(out + lens[0], 0, len - lens[0]);
    for (size_t i = 1; i < k; i++) {
        COHORT_ASSERT(lens[i] <= len);
        co_fec_addmul(out, data[i], lens[i], co_fec_coef(j, (unsigned)i));
    }
}

size_t co_fec_work_bytes(size_t k)
{
    COHORT_ASSERT(k >= 1 && k <= CO_FEC_K_MAX);
    /* The m x m system, its inverse being built beside it, and the
     * list of missing slots; m <= k. */
    return 2 * k * k + k;
}

/* Invert the m x m matrix a (row-major, destroyed) into b by Gauss-Jordan
 * elimination; the row operations are co_fec_addmul over m bytes. a is a
 * square submatrix of a Cauchy matrix, itself a Cauchy matrix, and so are
 * its leading square submatrices: their determinants are never 0, which
 * is what elimination without row swaps needs (each pivot is a ratio of
 * two of them). */
static void invert(uint8_t *a, uint8_t *b, size_t m)
{
    memset(b, 0, m * m);
    for (size_t r = 0; r < m; r++)
        b[r * m + r] = 1;
    for (size_t t = 0; t < m; t++) {
        COHORT_ASSERT(a[t * m + t] != 0);
        uint8_t inv = co_gf_inv[a[t * m + t]];
        co_fec_mul(a + t * m, m, inv);
        co_fec_mul(b + t * m, m, inv);
        for (size_t r = 0; r < m; r++) {
            uint8_t f = a[r * m + t];
            if (r == t || f == 0)
                continue;
            co_fec_addmul(a + r * m, a + t * m, m, f);
            co_fec_addmul(b + r * m, b + t * m, m, f);
        }
    }
}

int co_fec_decode(uint8_t *const *data, const size_t *lens,
                  const bool *present, size_t k, size_t len,
                  uint8_t *const *parity, const unsigned *idx, size_t n,
                  void *work)
{
    COHORT_ASSERT(k >= 1 && k <= CO_FEC_K_MAX);
    COHORT_ASSERT(work != NULL);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (!present[i])
            m++;
    if (m == 0)
        return 0;
    if (n < m)
        return -1;
    uint8_t seen[CO_FEC_PARITY_MAX / 8] = {0};
    for (size_t r = 0; r < n; r++) {
        if (idx[r] >= CO_FEC_PARITY_MAX)
            return -1;
        if (seen[idx[r] / 8] & (1u << (idx[r] % 8)))
            return -1;
        seen[idx[r] / 8] |= (uint8_t)(1u << (idx[r] % 8));
    }

    uint8_t *a = work;
    uint8_t *b = a + m * m;
    uint8_t *miss = b + m * m;
    size_t t = 0;
    for (size_t i = 0; i < k; i++)
        if (!present[i])
            miss[t++] = (uint8_t)i;

    /* s_r = p_{idx[r]} - sum over present i of c(idx[r], i) d_i
     *     = sum over missing t of c(idx[r], miss[t]) d_miss[t]. */
    for (size_t r = 0; r < m; r++) {
        COHORT_ASSERT(len == 0 || parity[r] != NULL);
        for (size_t i = 0; i < k; i++) {
            if (!present[i])
                continue;
            COHORT_ASSERT(lens[i] <= len);
            co_fec_addmul(parity[r], data[i], lens[i],
                          co_fec_coef(idx[r], (unsigned)i));
        }
        for (t = 0; t < m; t++)
            a[r * m + t] = co_fec_coef(idx[r], miss[t]);
    }
    invert(a, b, m);
    /* d_miss[t] = sum_r b[t][r] s_r */
    for (t = 0; t < m; t++) {
        uint8_t *d = data[miss[t]];
        COHORT_ASSERT(len == 0 || d != NULL);
        if (len == 0)
            continue;
        mulcopy(d, parity[0], len, b[t * m]);
        for (size_t r = 1; r < m; r++)
            co_fec_addmul(d, parity[r], len, b[t * m + r]);
    }
    return 0;
}
