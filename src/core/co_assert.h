/*
 * co_assert.h - invariant checks that stay on in release builds.
 *
 * A failed COHORT_ASSERT is a bug in cohort, never bad input: network input
 * is dropped and counted, bad arguments get COHORT_ERR_INVAL. Aborting keeps
 * a broken invariant from corrupting a replicated service silently.
 */
#ifndef COHORT_CO_ASSERT_H
#define COHORT_CO_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define COHORT_ASSERT(cond)                                                  \
    do {                                                                     \
        if (__builtin_expect(!(cond), 0)) {                                  \
            fprintf(stderr, "cohort: assertion failed: %s (%s:%d)\n", #cond, \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

#endif
