/*
 * hold.c - a sender's messages waiting for the total order (hold.h).
 */
#include "hold.h"

#include <string.h>

#include "co_assert.h"

#define CO_HOLD_RING_MIN 16
/* An emptied ring larger than this is given back: a burst that once held
 * many does not keep its memory. */
#define CO_HOLD_RING_KEEP 1024

bool co_hold_fits(const co_hold_t *h, size_t len, size_t max_bytes)
{
    return h->count == 0 || h->bytes + len + CO_HOLD_OVERHEAD <= max_bytes;
}

/* Room for want entries, growing the ring (its entries moved to the
 * front, in order). False out of memory, nothing changed. */
static bool ensure(co_hold_t *h, const co_mem_t *mem, size_t want)
{
    if (want <= h->cap)
        return true;
    size_t cap = h->cap ? h->cap : CO_HOLD_RING_MIN;
    while (cap < want) {
        if (cap > SIZE_MAX / 2 / sizeof(co_held_t))
            return false;
        cap *= 2;
    }
    co_held_t *ring = co_malloc(mem, cap * sizeof *ring);
    if (!ring)
        return false;
    for (size_t i = 0; i < h->count; i++)
        ring[i] = h->ring[(h->head + i) & (h->cap - 1)];
    co_free(mem, h->ring);
    h->ring = ring;
    h->cap = cap;
    h->head = 0;
    return true;
}

bool co_hold_reserve(co_hold_t *h, const co_mem_t *mem)
{
    if (!ensure(h, mem, h->count + h->reserved + 1))
        return false;
    h->reserved++;
    return true;
}

void co_hold_unreserve(co_hold_t *h)
{
    COHORT_ASSERT(h->reserved > 0);
    if (h->reserved > 0)
        h->reserved--;
}

bool co_hold_put(co_hold_t *h, const co_mem_t *mem, bool reserved,
                 uint64_t seq, uint8_t cls, uint8_t *data, size_t len)
{
    if (reserved)
        co_hold_unreserve(h); /* its place is kept in the ring */
    else if (!ensure(h, mem, h->count + h->reserved + 1))
        return false;
    COHORT_ASSERT(h->count < h->cap && len <= UINT32_MAX);
    h->ring[(h->head + h->count) & (h->cap - 1)] =
        (co_held_t){.seq = seq, .data = data, .len = (uint32_t)len,
                    .cls = cls};
    h->count++;
    h->bytes += len + CO_HOLD_OVERHEAD;
    return true;
}

void co_hold_pop(co_hold_t *h, uint8_t **data, size_t *len)
{
    COHORT_ASSERT(h->count > 0);
    co_held_t *m = &h->ring[h->head & (h->cap - 1)];
    *data = m->data;
    *len = m->len;
    h->head = (h->head + 1) & (h->cap - 1);
    h->count--;
    h->bytes -= m->len + CO_HOLD_OVERHEAD;
}

static void drop_all(co_hold_t *h, const co_mem_t *mem)
{
    while (h->count > 0) {
        uint8_t *data;
        size_t len;
        co_hold_pop(h, &data, &len);
        co_free(mem, data);
    }
}

void co_hold_clear(co_hold_t *h, const co_mem_t *mem)
{
    drop_all(h, mem);
    if (h->reserved == 0 && h->cap > CO_HOLD_RING_KEEP) {
        co_free(mem, h->ring);
        h->ring = NULL;
        h->cap = 0;
    }
}

void co_hold_free(co_hold_t *h, const co_mem_t *mem)
{
    drop_all(h, mem);
    co_free(mem, h->ring);
    memset(h, 0, sizeof *h);
}
