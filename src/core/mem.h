/*
 * mem.h - the allocator every allocation in src/core goes through.
 *
 * As ngtcp2 passes its ngtcp2_mem, the caller may pass a co_mem_t in the
 * core config (NULL: the C library's). Tests use it to make any single
 * allocation fail and check that running out of memory never aborts and
 * never leaves state half-changed.
 */
#ifndef COHORT_MEM_H
#define COHORT_MEM_H

#include <stddef.h>

typedef struct co_mem {
    void *user; /* passed to every function */
    void *(*malloc)(size_t size, void *user);
    void *(*calloc)(size_t count, size_t size, void *user);
    void *(*realloc)(void *ptr, size_t size, void *user);
    void (*free)(void *ptr, void *user); /* ptr may be NULL */
} co_mem_t;

/* The C library's allocator. */
const co_mem_t *co_mem_libc(void);

/* mem, or the C library's when mem is NULL. */
static inline const co_mem_t *co_mem_or_libc(const co_mem_t *mem)
{
    return mem ? mem : co_mem_libc();
}

static inline void *co_malloc(const co_mem_t *m, size_t size)
{
    return m->malloc(size, m->user);
}

static inline void *co_calloc(const co_mem_t *m, size_t count, size_t size)
{
    return m->calloc(count, size, m->user);
}

static inline void *co_realloc(const co_mem_t *m, void *ptr, size_t size)
{
    return m->realloc(ptr, size, m->user);
}

static inline void co_free(const co_mem_t *m, void *ptr)
{
    m->free(ptr, m->user);
}

#endif
