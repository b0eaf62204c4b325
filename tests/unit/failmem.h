/*
 * failmem.h - a co_mem_t for tests that refuses chosen allocations: the
 * Nth one (fail_at), and/or every Nth one (fail_every). It counts calls,
 * refusals and blocks held, so a test can also check that nothing leaks.
 */
#ifndef COHORT_TEST_FAILMEM_H
#define COHORT_TEST_FAILMEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"

typedef struct failmem {
    co_mem_t mem;           /* pass &fm->mem as the allocator */
    uint64_t calls;         /* allocations asked for (malloc/calloc/realloc) */
    uint64_t fail_at;       /* refuse call number fail_at (1-based); 0: no */
    uint64_t fail_every;    /* refuse every fail_every-th call; 0: no */
    uint64_t failed;        /* refusals so far */
    long live;              /* blocks held */
} failmem_t;

static bool failmem_refuse(failmem_t *fm)
{
    fm->calls++;
    bool no = (fm->fail_at && fm->calls == fm->fail_at) ||
              (fm->fail_every && fm->calls % fm->fail_every == 0);
    fm->failed += no;
    return no;
}

static void *failmem_malloc(size_t size, void *user)
{
    failmem_t *fm = user;
    void *p = failmem_refuse(fm) ? NULL : malloc(size);
    fm->live += p != NULL;
    return p;
}

static void *failmem_calloc(size_t count, size_t size, void *user)
{
    failmem_t *fm = user;
    void *p = failmem_refuse(fm) ? NULL : calloc(count, size);
    fm->live += p != NULL;
    return p;
}

static void *failmem_realloc(void *ptr, size_t size, void *user)
{
    failmem_t *fm = user;
    void *p = failmem_refuse(fm) ? NULL : realloc(ptr, size);
    fm->live += ptr == NULL && p != NULL;
    return p;
}

static void failmem_free(void *ptr, void *user)
{
    failmem_t *fm = user;
    fm->live -= ptr != NULL;
    free(ptr);
}

static void failmem_init(failmem_t *fm)
{
    *fm = (failmem_t){.mem = {.user = fm, .malloc = failmem_malloc,
                              .calloc = failmem_calloc,
                              .realloc = failmem_realloc,
                              .free = failmem_free}};
}

#endif
