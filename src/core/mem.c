/* mem.c - the C library's allocator behind co_mem_t (see mem.h). */
#include "mem.h"

#include <stdlib.h>

static void *libc_malloc(size_t size, void *user)
{
    (void)user;
    return malloc(size);
}

static void *libc_calloc(size_t count, size_t size, void *user)
{
    (void)user;
    return calloc(count, size);
}

static void *libc_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static const co_mem_t co_mem_libc_ = {
    .user = NULL, .malloc = libc_malloc, .calloc = libc_calloc,
    .realloc = libc_realloc, .free = libc_free,
};

const co_mem_t *co_mem_libc(void) { return &co_mem_libc_; }
