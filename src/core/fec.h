/*
 * fec.h - a systematic erasure code over GF(2^8) for repairing lost
 * records without a retransmission (forward error correction, in the
 * manner of RFC 5510's Reed-Solomon codes and NORM's parity repair).
 *
 * A block is k data symbols d_0..d_{k-1} (1 <= k <= CO_FEC_K_MAX), byte
 * strings of up to len bytes; a shorter symbol counts as zero-padded to
 * len. Parity symbol j (0 <= j < CO_FEC_PARITY_MAX) is
 *
 *     p_j = sum_i c(j, i) * d_i            over GF(2^8), polynomial 0x11d
 *
 * with the Cauchy coefficient c(j, i) = 1 / (x_j + y_i), x_j =
 * CO_FEC_K_MAX + j, y_i = i (addition is XOR). All x and y are distinct,
 * so every square submatrix of the generator [I; C] is invertible: any k
 * of the k + n data and parity symbols give back the data. c(j, i) does
 * not depend on k, so parity j of a block is the same whatever k is, and
 * a sender may send as many parity symbols as it likes, in any order.
 *
 * The field tables are constants (no initialisation, safe from any
 * thread). The hot loop is co_fec_addmul: a portable 8-bytes-a-step
 * table loop, and on x86-64 an SSSE3 (16 bytes a step) and an AVX2
 * (32 bytes a step) split-nibble pshufb loop, chosen on every call from
 * what the CPU supports, so nothing is cached in global state and the
 * build flags stay as they are. Nothing here allocates: co_fec_decode
 * takes the caller's scratch (co_fec_work_bytes).
 */
#ifndef COHORT_FEC_H
#define COHORT_FEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Data symbols a block holds at most. */
#define CO_FEC_K_MAX 64
/* Distinct parity symbols a block can have: the field has 256 elements,
 * CO_FEC_K_MAX of them are the y_i. */
#define CO_FEC_PARITY_MAX (256 - CO_FEC_K_MAX)

/* Field arithmetic (GF(2^8), 0x11d). inv(0) is 0 (there is none). */
uint8_t co_fec_gf_mul(uint8_t a, uint8_t b);
uint8_t co_fec_gf_inv(uint8_t a);

/* The coefficient c(parity_index, data_index); parity_index <
 * CO_FEC_PARITY_MAX, data_index < CO_FEC_K_MAX. Never 0. */
uint8_t co_fec_coef(unsigned parity_index, unsigned data_index);

/* out[0..in_len) ^= c * in[0..in_len): the bytes of out past in_len are
 * untouched, as if in were zero-padded. c == 0 does nothing, c == 1 is a
 * plain XOR. out and in must not overlap unless they are equal (then the
 * result is (1 + c) * in). */
void co_fec_addmul(uint8_t *out, const uint8_t *in, size_t in_len,
                   uint8_t c);

/* buf[0..len) *= c, in place. */
void co_fec_mul(uint8_t *buf, size_t len, uint8_t c);

/* Parity symbol j (< CO_FEC_PARITY_MAX) of the k data symbols data[i],
 * lens[i] <= len bytes each (data[i] may be NULL when lens[i] == 0):
 * out[0..len) is written in full. out must not overlap any data[i]. */
void co_fec_encode(const uint8_t *const *data, const size_t *lens,
                   size_t k, size_t len, unsigned j, uint8_t *out);

/* Bytes of scratch co_fec_decode needs for a block of k symbols. */
size_t co_fec_work_bytes(size_t k);

/* Recover the missing data symbols of a block of k.
 *
 * present[i]: data[i] holds symbol i, lens[i] (<= len) bytes of it, the
 * rest counting as zeros. For every missing i, data[i] points to a
 * writable buffer of len bytes that gets the symbol, zero-padded to len
 * (lens[i] is not read). parity[0..n) are parity symbols of len bytes
 * with indices idx[0..n). work is co_fec_work_bytes(k) bytes of scratch,
 * any alignment.
 *
 * Only the first m parity symbols are used, m the number of missing
 * slots, and THOSE m BUFFERS ARE OVERWRITTEN (the present symbols'
 * share is subtracted from them in place, which saves a copy); the
 * others are not touched. No buffer may overlap another.
 *
 * Returns 0 (nothing to do when m == 0; parity may then be NULL), or -1,
 * with no buffer touched, when n < m, or an index is >= CO_FEC_PARITY_MAX
 * or appears twice among idx[0..n). */
int co_fec_decode(uint8_t *const *data, const size_t *lens,
                  const bool *present, size_t k, size_t len,
                  uint8_t *const *parity, const unsigned *idx, size_t n,
                  void *work);

/* ---- for the tests and tools/fec_bench.c ---- */

/* The implementations of co_fec_addmul / co_fec_mul. AUTO is what those
 * use: the fastest one the CPU has. */
typedef enum co_fec_impl {
    CO_FEC_IMPL_AUTO = 0,
    CO_FEC_IMPL_SCALAR,
    CO_FEC_IMPL_SSSE3,
    CO_FEC_IMPL_AVX2,
} co_fec_impl_t;

/* Whether impl was compiled in and the CPU can run it (AUTO, SCALAR:
 * always). */
bool co_fec_impl_available(co_fec_impl_t impl);

/* co_fec_addmul / co_fec_mul through one implementation; impl must be
 * available. */
void co_fec_addmul_impl(co_fec_impl_t impl, uint8_t *out, const uint8_t *in,
                        size_t in_len, uint8_t c);
void co_fec_mul_impl(co_fec_impl_t impl, uint8_t *buf, size_t len,
                     uint8_t c);

/* The portable loop alone. */
static inline void co_fec_addmul_scalar(uint8_t *out, const uint8_t *in,
                                        size_t in_len, uint8_t c)
{
    co_fec_addmul_impl(CO_FEC_IMPL_SCALAR, out, in, in_len, c);
}

/* The constant tables, for the test that regenerates them: exp[510]
 * (exp[i] = 2^i, twice round so exp[log a + log b] needs no reduction),
 * log[256] (log[0] is 0, meaningless) and inv[256] (inv[0] is 0). */
void co_fec_tables(const uint8_t **exp, const uint8_t **log,
                   const uint8_t **inv);

#endif
