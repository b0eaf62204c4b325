/*
 * test_fec.c - the GF(2^8) Cauchy erasure code (src/core/fec.c): the
 * constant tables regenerated from the polynomial, the field, known
 * answers from a bit-serial reference, erase-and-recover round trips,
 * and every SIMD loop against the portable one.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fec.h"

/* ---- an independent, slow reference ---- */

/* a * b mod x^8 + x^4 + x^3 + x^2 + 1, bit by bit ("Russian peasant"). */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    unsigned x = a, r = 0;
    while (b != 0) {
        if (b & 1)
            r ^= x;
        x <<= 1;
        if (x & 0x100)
            x ^= 0x11d;
        b >>= 1;
    }
    return (uint8_t)r;
}

/* By search. */
static uint8_t ref_inv(uint8_t a)
{
    for (unsigned x = 1; x < 256; x++)
        if (ref_mul(a, (uint8_t)x) == 1)
            return (uint8_t)x;
    return 0;
}

static uint8_t ref_coef(unsigned j, unsigned i)
{
    return ref_inv((uint8_t)((CO_FEC_K_MAX + j) ^ i));
}

/* Parity j, byte by byte, with the reference arithmetic. */
static void ref_encode(const uint8_t *const *data, const size_t *lens,
                       size_t k, size_t len, unsigned j, uint8_t *out)
{
    memset(out, 0, len);
    for (size_t i = 0; i < k; i++) {
        uint8_t c = ref_coef(j, (unsigned)i);
        for (size_t t = 0; t < lens[i]; t++)
            out[t] ^= ref_mul(c, data[i][t]);
    }
}

/* ---- a fixed-seed generator (splitmix64) ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s;
}

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform enough in [0, n), n >= 1. */
static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

static void rng_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next();
}

/* ---- tables and field ---- */

static void test_tables_match_the_polynomial(void **state)
{
    (void)state;
    const uint8_t *exp, *log, *inv;
    co_fec_tables(&exp, &log, &inv);
    uint8_t x = 1;
    for (unsigned i = 0; i < 510; i++) {
        assert_int_equal(exp[i], x);
        x = ref_mul(x, 2);
    }
    /* 2 generates the group: 255 distinct powers. */
    bool hit[256] = {false};
    for (unsigned i = 0; i < 255; i++) {
        assert_false(hit[exp[i]]);
        hit[exp[i]] = true;
    }
    assert_false(hit[0]);
    for (unsigned a = 1; a < 256; a++) {
        assert_true(log[a] < 255);
        assert_int_equal(exp[log[a]], a);
        assert_int_equal(inv[a], ref_inv((uint8_t)a));
    }
    assert_int_equal(log[0], 0);
    assert_int_equal(inv[0], 0);
}

static void test_field(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            assert_int_equal(co_fec_gf_mul((uint8_t)a, (uint8_t)b),
                             ref_mul((uint8_t)a, (uint8_t)b));
    assert_int_equal(co_fec_gf_inv(0), 0);
    for (unsigned c = 1; c < 256; c++) {
        uint8_t v = co_fec_gf_inv((uint8_t)c);
        assert_int_equal(co_fec_gf_mul((uint8_t)c, v), 1);
        assert_int_equal(ref_mul((uint8_t)c, v), 1);
        assert_int_equal(co_fec_gf_inv(v), c);
    }
    rng_seed(1);
    for (int n = 0; n < 10000; n++) {
        uint8_t a = (uint8_t)rng_next(), b = (uint8_t)rng_next(),
                c = (uint8_t)rng_next();
        assert_int_equal(co_fec_gf_mul(a, b ^ c),
                         co_fec_gf_mul(a, b) ^ co_fec_gf_mul(a, c));
        assert_int_equal(co_fec_gf_mul(a, co_fec_gf_mul(b, c)),
                         co_fec_gf_mul(co_fec_gf_mul(a, b), c));
        assert_int_equal(co_fec_gf_mul(a, b), co_fec_gf_mul(b, a));
    }
}

static void test_coefficients(void **state)
{
    (void)state;
    for (unsigned j = 0; j < CO_FEC_PARITY_MAX; j++)
        for (unsigned i = 0; i < CO_FEC_K_MAX; i++) {
            uint8_t c = co_fec_coef(j, i);
            assert_int_equal(c, ref_coef(j, i));
            assert_true(c >= 2); /* never 0, never a plain XOR */
        }
    /* By hand: x_0 + y_0 = 0x40 = 2^6, so c(0, 0) = 2^(255-6) = 2^249. */
    const uint8_t *exp, *log, *inv;
    co_fec_tables(&exp, &log, &inv);
    assert_int_equal(co_fec_coef(0, 0), exp[249]);
    assert_int_equal(co_fec_coef(0, 0), 0x36);
    assert_int_equal(co_fec_coef(0, 1), 0x5f);
    assert_int_equal(co_fec_coef(191, 63), 0x12);
}

/* ---- known answers ---- */

static void test_known_answers(void **state)
{
    (void)state;
    uint8_t out[8];

    /* k = 1: p_j = c(j, 0) * d_0, zero-padded to len. */
    {
        const uint8_t d0[] = {0x01, 0x02, 0xff};
        const uint8_t *data[] = {d0};
        size_t lens[] = {3};
        for (unsigned j = 0; j < CO_FEC_PARITY_MAX; j++) {
            memset(out, 0xee, sizeof out);
            co_fec_encode(data, lens, 1, 5, j, out);
            uint8_t c = ref_coef(j, 0);
            assert_int_equal(out[0], c);
            assert_int_equal(out[1], ref_mul(c, 2));
            assert_int_equal(out[2], ref_mul(c, 0xff));
            assert_int_equal(out[3], 0);
            assert_int_equal(out[4], 0);
            assert_int_equal(out[5], 0xee); /* past len: untouched */
        }
    }
    /* k = 2, d = {0x01}, {0x02}: p_j = c(j, 0) + 2 c(j, 1). */
    {
        const uint8_t d0[] = {0x01}, d1[] = {0x02};
        const uint8_t *data[] = {d0, d1};
        size_t lens[] = {1, 1};
        for (unsigned j = 0; j < CO_FEC_PARITY_MAX; j++) {
            co_fec_encode(data, lens, 2, 1, j, out);
            assert_int_equal(out[0],
                             ref_coef(j, 0) ^ ref_mul(ref_coef(j, 1), 2));
        }
    }
    /* k = 4 of lengths 4, 2, 0, 4; expected bytes from a separate
     * bit-serial script, pasted. */
    {
        const uint8_t d0[] = {'a', 'b', 'c', 'd'}, d1[] = {'e', 'f'},
                      d3[] = {0x00, 0xff, 0x80, 0x01};
        const uint8_t *data[] = {d0, d1, NULL, d3};
        size_t lens[] = {4, 2, 0, 4};
        static const struct {
            unsigned j;
            uint8_t p[4];
        } want[] = {
            {0, {0xf6, 0x71, 0x13, 0x82}},
            {1, {0x4f, 0xd1, 0x55, 0xe8}},
            {7, {0x16, 0x27, 0x77, 0x1f}},
            {191, {0x8c, 0x94, 0x0c, 0xcb}},
        };
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
            co_fec_encode(data, lens, 4, 4, want[w].j, out);
            assert_memory_equal(out, want[w].p, 4);
        }
    }
}

static void test_encode_matches_reference(void **state)
{
    (void)state;
    rng_seed(2);
    static const size_t ks[] = {1, 2, 5, 17, 64};
    static uint8_t buf[CO_FEC_K_MAX][300];
    uint8_t out[301], want[300];
    for (size_t kk = 0; kk < sizeof ks / sizeof ks[0]; kk++) {
        size_t k = ks[kk];
        const uint8_t *data[CO_FEC_K_MAX];
        size_t lens[CO_FEC_K_MAX];
        size_t len = 1 + rng_below(300);
        for (size_t i = 0; i < k; i++) {
            lens[i] = rng_below(len + 1);
            rng_fill(buf[i], lens[i]);
            data[i] = buf[i];
        }
        for (int n = 0; n < 8; n++) {
            unsigned j = (unsigned)rng_below(CO_FEC_PARITY_MAX);
            out[len] = 0x5a;
            co_fec_encode(data, lens, k, len, j, out);
            ref_encode(data, lens, k, len, j, want);
            assert_memory_equal(out, want, len);
            assert_int_equal(out[len], 0x5a);
        }
    }
}

/* ---- round trips ---- */

/* One block: k symbols of varied lengths (some 0, one == len), and all
 * CO_FEC_PARITY_MAX parity symbols. */
typedef struct block {
    size_t k, len;
    size_t lens[CO_FEC_K_MAX];
    uint8_t *sym[CO_FEC_K_MAX];    /* len bytes, zero past lens[i] */
    uint8_t *par[CO_FEC_PARITY_MAX];
} block_t;

static void block_make(block_t *b, size_t k, size_t len)
{
    b->k = k;
    b->len = len;
    for (size_t i = 0; i < k; i++) {
        size_t r = rng_below(8);
        b->lens[i] = r == 0 ? 0 : r == 1 ? len : rng_below(len + 1);
        b->sym[i] = calloc(len ? len : 1, 1);
        assert_non_null(b->sym[i]);
        rng_fill(b->sym[i], b->lens[i]);
    }
    /* one symbol as long as the block (calloc keeps the others' zero
     * padding true) */
    size_t longest = rng_below(k);
    b->lens[longest] = len;
    rng_fill(b->sym[longest], len);
    const uint8_t *data[CO_FEC_K_MAX];
    for (size_t i = 0; i < k; i++)
        data[i] = b->sym[i];
    for (unsigned j = 0; j < CO_FEC_PARITY_MAX; j++) {
        b->par[j] = malloc(len ? len : 1);
        assert_non_null(b->par[j]);
        co_fec_encode(data, b->lens, k, len, j, b->par[j]);
    }
}

static void block_free(block_t *b)
{
    for (size_t i = 0; i < b->k; i++)
        free(b->sym[i]);
    for (unsigned j = 0; j < CO_FEC_PARITY_MAX; j++)
        free(b->par[j]);
}

/* What parity symbol idx is; an index out of range (a bad packet) gets
 * symbol 0's bytes. */
static const uint8_t *parity_of(const block_t *b, unsigned idx)
{
    return b->par[idx < CO_FEC_PARITY_MAX ? idx : 0];
}

/* Erase the slots in lost (a bit mask over the first 64), decode with the
 * parity symbols idx[0..n); check the result when expect_ok. */
static void erase_and_decode(const block_t *b, uint64_t lost,
                             const unsigned *idx, size_t n, bool expect_ok)
{
    size_t k = b->k, len = b->len;
    uint8_t *data[CO_FEC_K_MAX];
    uint8_t *par[CO_FEC_K_MAX + 4];
    bool present[CO_FEC_K_MAX];
    assert_true(n <= CO_FEC_K_MAX + 4);
    for (size_t i = 0; i < k; i++) {
        present[i] = !(lost >> i & 1);
        data[i] = malloc(len + 1);
        assert_non_null(data[i]);
        if (present[i]) {
            memcpy(data[i], b->sym[i], b->lens[i]);
            /* beyond lens[i] the decoder must not look: poison it */
            memset(data[i] + b->lens[i], 0xa5, len + 1 - b->lens[i]);
        } else {
            memset(data[i], 0xa5, len + 1);
        }
    }
    for (size_t r = 0; r < n; r++) {
        par[r] = malloc(len ? len : 1);
        assert_non_null(par[r]);
        memcpy(par[r], parity_of(b, idx[r]), len);
    }
    /* misaligned scratch: any alignment will do */
    uint8_t *work = malloc(co_fec_work_bytes(k) + 1);
    assert_non_null(work);
    int rc = co_fec_decode(data, b->lens, present, k, len, par, idx, n,
                           work + 1);
    if (expect_ok) {
        assert_int_equal(rc, 0);
        size_t m = 0;
        for (size_t i = 0; i < k; i++) {
            if (present[i]) {
                assert_memory_equal(data[i], b->sym[i], b->lens[i]);
                continue;
            }
            m++;
            assert_memory_equal(data[i], b->sym[i], len);
            assert_int_equal(data[i][len], 0xa5); /* len bytes, no more */
        }
        /* parity past the first m is not touched */
        for (size_t r = m; r < n; r++)
            assert_memory_equal(par[r], parity_of(b, idx[r]), len);
    } else {
        assert_int_equal(rc, -1);
        /* nothing touched */
        for (size_t i = 0; i < k; i++)
            if (!present[i])
                for (size_t t = 0; t <= len; t++)
                    assert_int_equal(data[i][t], 0xa5);
        for (size_t r = 0; r < n; r++)
            assert_memory_equal(par[r], parity_of(b, idx[r]), len);
    }
    free(work);
    for (size_t r = 0; r < n; r++)
        free(par[r]);
    for (size_t i = 0; i < k; i++)
        free(data[i]);
}

static size_t popcount64(uint64_t v)
{
    size_t c = 0;
    for (; v; v &= v - 1)
        c++;
    return c;
}

/* n distinct random indices in [0, CO_FEC_PARITY_MAX). */
static void random_indices(unsigned *idx, size_t n)
{
    bool used[CO_FEC_PARITY_MAX] = {false};
    for (size_t r = 0; r < n; r++) {
        unsigned j;
        do
            j = (unsigned)rng_below(CO_FEC_PARITY_MAX);
        while (used[j]);
        used[j] = true;
        idx[r] = j;
    }
}

static void test_round_trip_small_every_subset(void **state)
{
    (void)state;
    rng_seed(3);
    static const size_t ks[] = {1, 2, 3, 8};
    unsigned idx[CO_FEC_K_MAX + 4];
    for (size_t kk = 0; kk < sizeof ks / sizeof ks[0]; kk++) {
        size_t k = ks[kk];
        block_t b;
        block_make(&b, k, 1 + rng_below(100));
        for (uint64_t lost = 0; lost < (1ull << k); lost++) {
            size_t m = popcount64(lost);
            /* a shifted range of indices, wrapping round */
            unsigned shift = (unsigned)(lost * 37 % CO_FEC_PARITY_MAX);
            for (size_t r = 0; r < m + 2; r++)
                idx[r] = (unsigned)((shift + r) % CO_FEC_PARITY_MAX);
            erase_and_decode(&b, lost, idx, m, true);
            erase_and_decode(&b, lost, idx, m + 2, true);
            if (m > 0)
                erase_and_decode(&b, lost, idx, m - 1, false);
        }
        block_free(&b);
    }
}

static void test_round_trip_large_random_subsets(void **state)
{
    (void)state;
    rng_seed(4);
    static const size_t ks[] = {16, 32, 64};
    unsigned idx[CO_FEC_K_MAX + 4];
    for (size_t kk = 0; kk < sizeof ks / sizeof ks[0]; kk++) {
        size_t k = ks[kk];
        block_t b;
        block_make(&b, k, 1 + rng_below(1500));
        for (int trial = 0; trial < 12; trial++) {
            /* 1, every one, or anything between */
            size_t m = trial == 0 ? 1 : trial == 1 ? k : 1 + rng_below(k);
            uint64_t lost = 0;
            while (popcount64(lost) < m)
                lost |= 1ull << rng_below(k);
            random_indices(idx, m + 3);
            erase_and_decode(&b, lost, idx, m, true);
            erase_and_decode(&b, lost, idx, m + 3, true);
            erase_and_decode(&b, lost, idx, m - 1, false);
        }
        block_free(&b);
    }
}

static void test_decode_edge_cases(void **state)
{
    (void)state;
    rng_seed(5);
    block_t b;
    block_make(&b, 8, 40);
    unsigned idx[10] = {3, 9, 3, 4};
    /* a duplicate index, even one beyond what is needed, is refused */
    erase_and_decode(&b, 0x3, idx, 3, false);
    erase_and_decode(&b, 0x1, idx, 3, false);
    unsigned far[] = {100, 150, 100};
    erase_and_decode(&b, 0x1, far, 3, false);
    /* an index out of range */
    unsigned bad[] = {5, CO_FEC_PARITY_MAX};
    erase_and_decode(&b, 0x1, bad, 2, false);
    /* nothing missing: nothing needed, nothing written */
    erase_and_decode(&b, 0, idx, 0, true);
    uint8_t work[2 * 8 * 8 + 8];
    bool present[8];
    uint8_t *data[8];
    for (int i = 0; i < 8; i++) {
        present[i] = true;
        data[i] = b.sym[i];
    }
    assert_int_equal(co_fec_decode(data, b.lens, present, 8, 40, NULL, NULL,
                                   0, work),
                     0);
    assert_true(co_fec_work_bytes(8) <= sizeof work);
    /* the highest parity indices work as well as the lowest */
    unsigned top[] = {191, 190, 189, 0, 1, 2, 100, 150};
    erase_and_decode(&b, 0xff, top, 8, true);
    block_free(&b);

    /* len 0: a block of empty symbols */
    block_make(&b, 3, 0);
    unsigned z[] = {0, 1, 2};
    erase_and_decode(&b, 0x7, z, 3, true);
    block_free(&b);
}

/* ---- every SIMD loop against the portable one ---- */

static const co_fec_impl_t impls[] = {CO_FEC_IMPL_AUTO, CO_FEC_IMPL_SSSE3,
                                      CO_FEC_IMPL_AVX2};

static void check_impls_at(size_t n, uint8_t *in, uint8_t *o0, uint8_t *o1,
                           uint8_t *o2, size_t cap)
{
    for (unsigned c = 0; c < 256; c++) {
        /* in and out at varied misalignment */
        size_t off_in = rng_below(16), off_out = rng_below(16);
        rng_fill(in, cap);
        rng_fill(o0, cap);
        for (size_t t = 0; t < sizeof impls / sizeof impls[0]; t++) {
            if (!co_fec_impl_available(impls[t]))
                continue;
            memcpy(o1, o0, cap);
            co_fec_addmul_scalar(o1 + off_out, in + off_in, n, (uint8_t)c);
            memcpy(o2, o0, cap);
            co_fec_addmul_impl(impls[t], o2 + off_out, in + off_in, n,
                               (uint8_t)c);
            assert_memory_equal(o1, o2, cap);
            /* in place multiply */
            memcpy(o1, in, cap);
            co_fec_mul_impl(CO_FEC_IMPL_SCALAR, o1 + off_in, n, (uint8_t)c);
            memcpy(o2, in, cap);
            co_fec_mul_impl(impls[t], o2 + off_in, n, (uint8_t)c);
            assert_memory_equal(o1, o2, cap);
        }
        /* and the scalar loop is right: against the reference, with the
         * bytes around untouched */
        memcpy(o1, o0, cap);
        co_fec_addmul_scalar(o1 + off_out, in + off_in, n, (uint8_t)c);
        for (size_t t = 0; t < cap; t++) {
            uint8_t want = o0[t];
            if (t >= off_out && t < off_out + n)
                want ^= ref_mul((uint8_t)c, in[off_in + t - off_out]);
            assert_int_equal(o1[t], want);
        }
        memcpy(o1, in, cap);
        co_fec_mul(o1 + off_in, n, (uint8_t)c);
        for (size_t t = 0; t < cap; t++) {
            uint8_t want = in[t];
            if (t >= off_in && t < off_in + n)
                want = ref_mul((uint8_t)c, in[t]);
            assert_int_equal(o1[t], want);
        }
    }
}

static void test_simd_matches_scalar(void **state)
{
    (void)state;
    rng_seed(6);
    static const size_t large[] = {1400, 4096 + 7, 8000, 65536 + 3};
    size_t cap = 65536 + 3 + 32;
    uint8_t *in = malloc(cap), *o0 = malloc(cap), *o1 = malloc(cap),
            *o2 = malloc(cap);
    assert_non_null(in);
    assert_non_null(o0);
    assert_non_null(o1);
    assert_non_null(o2);
    for (size_t n = 0; n <= 300; n++)
        check_impls_at(n, in, o0, o1, o2, n + 32);
    for (size_t l = 0; l < sizeof large / sizeof large[0]; l++)
        check_impls_at(large[l], in, o0, o1, o2, large[l] + 32);
    /* the same buffer as input and output: (1 + c) * x */
    for (size_t t = 0; t < sizeof impls / sizeof impls[0]; t++) {
        if (!co_fec_impl_available(impls[t]))
            continue;
        rng_fill(in, 1000);
        memcpy(o1, in, 1000);
        co_fec_addmul_impl(impls[t], o1, o1, 1000, 0x53);
        for (size_t i = 0; i < 1000; i++)
            assert_int_equal(o1[i], in[i] ^ ref_mul(0x53, in[i]));
    }
    free(in);
    free(o0);
    free(o1);
    free(o2);
}

static void test_impl_availability(void **state)
{
    (void)state;
    assert_true(co_fec_impl_available(CO_FEC_IMPL_AUTO));
    assert_true(co_fec_impl_available(CO_FEC_IMPL_SCALAR));
    /* AVX2 machines have SSSE3 */
    if (co_fec_impl_available(CO_FEC_IMPL_AVX2))
        assert_true(co_fec_impl_available(CO_FEC_IMPL_SSSE3));
    print_message("fec: ssse3 %s, avx2 %s\n",
                  co_fec_impl_available(CO_FEC_IMPL_SSSE3) ? "yes" : "no",
                  co_fec_impl_available(CO_FEC_IMPL_AVX2) ? "yes" : "no");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_match_the_polynomial),
        cmocka_unit_test(test_field),
        cmocka_unit_test(test_coefficients),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_encode_matches_reference),
        cmocka_unit_test(test_round_trip_small_every_subset),
        cmocka_unit_test(test_round_trip_large_random_subsets),
        cmocka_unit_test(test_decode_edge_cases),
        cmocka_unit_test(test_impl_availability),
        cmocka_unit_test(test_simd_matches_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
