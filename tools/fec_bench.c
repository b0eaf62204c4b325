/*
 * fec_bench.c - throughput of the erasure code (src/core/fec.c), and of
 * Intel ISA-L's ec_encode_data on the same shapes when built with it.
 * Not part of the default build; from the top of the tree:
 *
 *   gcc -O2 -std=gnu11 -I . -I include -I src/core tools/fec_bench.c \
 *       src/core/fec.c -o /tmp/fec_bench
 *   gcc -O2 -std=gnu11 -DHAVE_ISAL -I . -I include -I src/core \
 *       tools/fec_bench.c src/core/fec.c -lisal -o /tmp/fec_bench_isal
 *
 * Encode: one parity symbol of k data symbols of len bytes, MB/s of data
 * symbols read (k * len per parity symbol; MB = 10^6 bytes). Decode: 4 of
 * 32 data symbols of 1400 bytes lost, rebuilt from 4 parity symbols, MB/s
 * of block (32 * 1400) per decode, restoring the parity buffers (which
 * co_fec_decode overwrites) included. Best of 5 runs of >= 0.2 s each.
 * ISA-L's tables (ec_init_tables) are built once for encoding, as its
 * callers do; for decoding the matrix inversion and tables are built on
 * every decode, since they depend on which symbols were lost.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fec.h"

#ifdef HAVE_ISAL
#include <isa-l/erasure_code.h>
/* Exported by libisal but not declared in its header. */
void ec_encode_data_avx512(int len, int k, int rows, unsigned char *g_tbls,
                           unsigned char **data, unsigned char **coding);
#endif

#define MB 1e6

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x1234567;

static uint8_t rnd8(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

static uint8_t *alloc_fill(size_t n)
{
    uint8_t *p = malloc(n);
    if (p == NULL) {
        perror("malloc");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = rnd8();
    return p;
}

/* Run fn(arg) in batches for >= 0.2 s, five times; the best rate in
 * MB/s for bytes per call. */
static double measure(void (*fn)(void *), void *arg, double bytes)
{
    double best = 0;
    for (int run = 0; run < 5; run++) {
        uint64_t calls = 0;
        double t0 = now_s(), t;
        do {
            for (int i = 0; i < 64; i++)
                fn(arg);
            calls += 64;
            t = now_s();
        } while (t - t0 < 0.2);
        double rate = bytes * (double)calls / (t - t0) / MB;
        if (rate > best)
            best = rate;
    }
    return best;
}

/* ---- encode ---- */

typedef struct enc {
    size_t k, len;
    uint8_t **data;
    size_t *lens;
    uint8_t *out;
    co_fec_impl_t impl;
#ifdef HAVE_ISAL
    uint8_t *tbls;
    void (*isal)(int, int, int, unsigned char *, unsigned char **,
                 unsigned char **);
#endif
} enc_t;

/* co_fec_encode's loop through one implementation. */
static void enc_impl(void *arg)
{
    enc_t *e = arg;
    memset(e->out, 0, e->len);
    for (size_t i = 0; i < e->k; i++)
        co_fec_addmul_impl(e->impl, e->out, e->data[i], e->len,
                           co_fec_coef(0, (unsigned)i));
}

static void enc_auto(void *arg)
{
    enc_t *e = arg;
    co_fec_encode((const uint8_t *const *)e->data, e->lens, e->k, e->len, 0,
                  e->out);
}

#ifdef HAVE_ISAL
static void enc_isal(void *arg)
{
    enc_t *e = arg;
    e->isal((int)e->len, (int)e->k, 1, e->tbls, e->data, &e->out);
}
#endif

static const struct {
    co_fec_impl_t impl;
    const char *name;
} impls[] = {
    {CO_FEC_IMPL_SCALAR, "scalar"},
    {CO_FEC_IMPL_SSSE3, "ssse3"},
    {CO_FEC_IMPL_AVX2, "avx2"},
};

static void bench_encode(size_t k, size_t len, bool isal_only)
{
    enc_t e = {.k = k, .len = len};
    e.data = malloc(k * sizeof *e.data);
    e.lens = malloc(k * sizeof *e.lens);
    e.out = malloc(len);
    if (e.data == NULL || e.lens == NULL || e.out == NULL)
        exit(1);
    for (size_t i = 0; i < k; i++) {
        e.data[i] = alloc_fill(len);
        e.lens[i] = len;
    }
    double bytes = (double)(k * len);
    printf("encode, one parity symbol of k=%zu x %zu bytes:\n", k, len);
    for (size_t t = 0; !isal_only && t < sizeof impls / sizeof impls[0]; t++) {
        if (!co_fec_impl_available(impls[t].impl)) {
            printf("  cohort %-8s  not available\n", impls[t].name);
            continue;
        }
        e.impl = impls[t].impl;
        printf("  cohort %-8s %8.0f MB/s\n", impls[t].name,
               measure(enc_impl, &e, bytes));
    }
    if (!isal_only)
        printf("  cohort %-8s %8.0f MB/s  (co_fec_encode)\n", "auto",
               measure(enc_auto, &e, bytes));
#ifdef HAVE_ISAL
    if (!isal_only)
        goto done;
    uint8_t *mine = malloc(len);
    if (mine == NULL)
        exit(1);
    enc_auto(&e);
    memcpy(mine, e.out, len);
    uint8_t coefs[CO_FEC_K_MAX];
    for (size_t i = 0; i < k; i++)
        coefs[i] = co_fec_coef(0, (unsigned)i);
    e.tbls = malloc(32 * k);
    if (e.tbls == NULL)
        exit(1);
    ec_init_tables((int)k, 1, coefs, e.tbls);
    static const struct {
        const char *name;
        void (*fn)(int, int, int, unsigned char *, unsigned char **,
                   unsigned char **);
    } isal[] = {
        {"base", ec_encode_data_base}, {"sse", ec_encode_data_sse},
        {"avx2", ec_encode_data_avx2}, {"avx512", ec_encode_data_avx512},
        {"auto", ec_encode_data},
    };
    for (size_t t = 0; t < sizeof isal / sizeof isal[0]; t++) {
        if ((strcmp(isal[t].name, "avx2") == 0 &&
             !__builtin_cpu_supports("avx2")) ||
            (strcmp(isal[t].name, "avx512") == 0 &&
             !__builtin_cpu_supports("avx512bw")))
            continue;
        e.isal = isal[t].fn;
        memset(e.out, 0, len);
        enc_isal(&e);
        const char *same = memcmp(e.out, mine, len) == 0 ? "same parity"
                                                         : "PARITY DIFFERS";
        printf("  isa-l  %-8s %8.0f MB/s  (%s)\n", isal[t].name,
               measure(enc_isal, &e, bytes), same);
    }
    free(e.tbls);
    free(mine);
done:
#endif
    for (size_t i = 0; i < k; i++)
        free(e.data[i]);
    free(e.data);
    free(e.lens);
    free(e.out);
}

/* ---- decode: 4 of 32 lost ---- */

#define DK 32
#define DLEN 1400
#define DM 4

typedef struct dec {
    uint8_t *orig[DK];      /* the data */
    uint8_t *data[DK];      /* what the receiver holds */
    size_t lens[DK];
    bool present[DK];
    uint8_t *par_sent[DM];  /* the parity as it came */
    uint8_t *par[DM];       /* the buffers co_fec_decode overwrites */
    unsigned idx[DM];
    uint8_t *work;
} dec_t;

static void dec_cohort(void *arg)
{
    dec_t *d = arg;
    for (size_t r = 0; r < DM; r++)
        memcpy(d->par[r], d->par_sent[r], DLEN);
    if (co_fec_decode(d->data, d->lens, d->present, DK, DLEN, d->par, d->idx,
                      DM, d->work) != 0)
        abort();
}

#ifdef HAVE_ISAL
/* The usual ISA-L decode: invert the k x k matrix of the surviving
 * symbols' generator rows, keep the lost symbols' rows, build tables,
 * run ec_encode_data over the k survivors. */
static uint8_t *isal_src[DK], *isal_dst[DM];
static uint8_t isal_tbls[32 * DK * DM];

static void dec_isal(void *arg)
{
    dec_t *d = arg;
    uint8_t gen[DK * DK], inv[DK * DK], rows[DM * DK];
    uint8_t **src = isal_src, **dst = isal_dst, *tbls = isal_tbls;
    size_t s = 0, r = 0, miss[DM];
    for (size_t i = 0; i < DK; i++) {
        if (d->present[i]) {
            memset(gen + s * DK, 0, DK);
            gen[s * DK + i] = 1;
            src[s++] = d->data[i];
        } else {
            miss[r] = i;
            dst[r++] = d->data[i];
        }
    }
    for (size_t p = 0; s < DK; p++, s++) {
        for (size_t i = 0; i < DK; i++)
            gen[s * DK + i] = co_fec_coef(d->idx[p], (unsigned)i);
        src[s] = d->par_sent[p];
    }
    if (gf_invert_matrix(gen, inv, DK) != 0)
        abort();
    for (r = 0; r < DM; r++)
        memcpy(rows + r * DK, inv + miss[r] * DK, DK);
    ec_init_tables(DK, DM, rows, tbls);
    ec_encode_data(DLEN, DK, DM, tbls, src, dst);
}

/* The data part alone, with the tables dec_isal built last. */
static void dec_isal_prebuilt(void *arg)
{
    (void)arg;
    ec_encode_data(DLEN, DK, DM, isal_tbls, isal_src, isal_dst);
}
#endif

static void bench_decode(bool isal_only)
{
    static dec_t d;
    static const size_t lost[DM] = {3, 11, 20, 31};
    for (size_t i = 0; i < DK; i++) {
        d.orig[i] = alloc_fill(DLEN);
        d.data[i] = malloc(DLEN);
        if (d.data[i] == NULL)
            exit(1);
        memcpy(d.data[i], d.orig[i], DLEN);
        d.lens[i] = DLEN;
        d.present[i] = true;
    }
    for (size_t r = 0; r < DM; r++) {
        d.present[lost[r]] = false;
        memset(d.data[lost[r]], 0, DLEN);
        d.idx[r] = (unsigned)(5 + 7 * r);
        d.par_sent[r] = malloc(DLEN);
        d.par[r] = malloc(DLEN);
        if (d.par_sent[r] == NULL || d.par[r] == NULL)
            exit(1);
        co_fec_encode((const uint8_t *const *)d.orig, d.lens, DK, DLEN,
                      d.idx[r], d.par_sent[r]);
    }
    d.work = malloc(co_fec_work_bytes(DK));
    if (d.work == NULL)
        exit(1);
    printf("decode, %d of %d x %d bytes lost, from %d parity symbols:\n", DM,
           DK, DLEN, DM);
    if (isal_only)
        goto isal;
    dec_cohort(&d);
    for (size_t r = 0; r < DM; r++)
        if (memcmp(d.data[lost[r]], d.orig[lost[r]], DLEN) != 0) {
            fprintf(stderr, "cohort decode wrong\n");
            exit(1);
        }
    printf("  cohort %-8s %8.0f MB/s\n", "auto",
           measure(dec_cohort, &d, (double)(DK * DLEN)));
isal:
#ifdef HAVE_ISAL
    if (!isal_only)
        return;
    for (size_t r = 0; r < DM; r++)
        memset(d.data[lost[r]], 0, DLEN);
    dec_isal(&d);
    for (size_t r = 0; r < DM; r++)
        if (memcmp(d.data[lost[r]], d.orig[lost[r]], DLEN) != 0) {
            fprintf(stderr, "isa-l decode wrong\n");
            exit(1);
        }
    printf("  isa-l  %-8s %8.0f MB/s  (inversion and tables per decode)\n",
           "auto", measure(dec_isal, &d, (double)(DK * DLEN)));
    printf("  isa-l  %-8s %8.0f MB/s  (ec_encode_data alone, tables "
           "prebuilt)\n",
           "auto", measure(dec_isal_prebuilt, &d, (double)(DK * DLEN)));
#endif
}

int main(void)
{
    printf("cpu: ssse3 %s, avx2 %s\n",
           co_fec_impl_available(CO_FEC_IMPL_SSSE3) ? "yes" : "no",
           co_fec_impl_available(CO_FEC_IMPL_AVX2) ? "yes" : "no");
    /* cohort first: after ISA-L's AVX-512 code the legacy-SSE (SSSE3)
     * loop ran at a fifth of its speed on the machine measured */
    bench_encode(32, 1400, false);
    bench_encode(16, 8000, false);
    bench_decode(false);
#ifdef HAVE_ISAL
    printf("ISA-L:\n");
    bench_encode(32, 1400, true);
    bench_encode(16, 8000, true);
    bench_decode(true);
#endif
    return 0;
}
