/*
 * rng.h - the core's only source of randomness: a seeded xoshiro256**
 * generator. Same seed, same sequence, on every platform.
 */
#ifndef COHORT_RNG_H
#define COHORT_RNG_H

#include <stdint.h>

typedef struct co_rng {
    uint64_t s[4];
} co_rng_t;

void co_rng_seed(co_rng_t *r, uint64_t seed);
uint64_t co_rng_next(co_rng_t *r);
/* Uniform in [0, bound); bound 0 gives 0. */
uint64_t co_rng_below(co_rng_t *r, uint64_t bound);
/* Uniform double in [0, 1). */
double co_rng_double(co_rng_t *r);

#endif
