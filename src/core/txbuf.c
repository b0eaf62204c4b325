/* txbuf.c - the sender's retransmit buffer (see txbuf.h). */
#include "txbuf.h"

#include <string.h>

#include "co_assert.h"

#define CO_TXBUF_INITIAL_CAP 64

int co_txbuf_init(co_txbuf_t *b, size_t max_bytes, const co_mem_t *mem)
{
    memset(b, 0, sizeof *b);
    b->mem = co_mem_or_libc(mem);
    b->max_bytes = max_bytes;
    /* Every record costs at least CO_TXREC_OVERHEAD, so this many records
     * can never be exceeded. */
    size_t want = max_bytes / CO_TXREC_OVERHEAD + 1;
    size_t max = CO_TXBUF_INITIAL_CAP;
    while (max < want)
        max *= 2;
    b->max_records = max;
    b->cap = CO_TXBUF_INITIAL_CAP;
    b->ring = co_calloc(b->mem, b->cap, sizeof *b->ring);
    b->low = b->next = 1;
    return b->ring ? 0 : -1;
}

void co_txbuf_free(co_txbuf_t *b)
{
    if (b->ring)
        co_txbuf_release(b, b->next - 1);
    co_free(b->mem, b->ring);
    b->ring = NULL;
}

bool co_txbuf_fits(const co_txbuf_t *b, size_t len)
{
    return b->bytes + len + CO_TXREC_OVERHEAD <= b->max_bytes;
}

/* Double the ring, moving each held record to its new slot. */
static int txbuf_grow(co_txbuf_t *b)
{
    size_t cap = b->cap * 2;
    if (cap > b->max_records)
        return -1;
    co_txrec_t *ring = co_calloc(b->mem, cap, sizeof *ring);
    if (!ring)
        return -1;
    for (uint64_t s = b->low; s < b->next; s++)
        ring[s & (cap - 1)] = b->ring[s & (b->cap - 1)];
    co_free(b->mem, b->ring);
    b->ring = ring;
    b->cap = cap;
    return 0;
}

uint64_t co_txbuf_push(co_txbuf_t *b, const uint8_t *data, uint16_t len,
                       uint8_t flags, uint32_t total_len)
{
    if (!co_txbuf_fits(b, len))
        return 0;
    if (co_txbuf_count(b) == b->cap && txbuf_grow(b) != 0)
        return 0;
    uint8_t *copy = co_malloc(b->mem, len ? len : 1);
    if (!copy)
        return 0;
    if (len)
        memcpy(copy, data, len);
    uint64_t seq = b->next++;
    co_txrec_t *r = &b->ring[seq & (b->cap - 1)];
    COHORT_ASSERT(r->data == NULL);
    *r = (co_txrec_t){.data = copy, .total_len = total_len, .len = len,
                      .flags = flags};
    b->bytes += (size_t)len + CO_TXREC_OVERHEAD;
    COHORT_ASSERT(b->bytes <= b->max_bytes);
    return seq;
}

co_txrec_t *co_txbuf_get(co_txbuf_t *b, uint64_t seq)
{
    if (seq < b->low || seq >= b->next)
        return NULL;
    co_txrec_t *r = &b->ring[seq & (b->cap - 1)];
    COHORT_ASSERT(r->data != NULL);
    return r;
}

void co_txbuf_release(co_txbuf_t *b, uint64_t through)
{
    while (b->low <= through && b->low < b->next) {
        co_txrec_t *r = &b->ring[b->low & (b->cap - 1)];
        COHORT_ASSERT(r->data != NULL);
        b->bytes -= (size_t)r->len + CO_TXREC_OVERHEAD;
        co_free(b->mem, r->data);
        co_free(b->mem, r->self_copy);
        if (r->self_reserved && b->self_hold)
            co_hold_unreserve(b->self_hold);
        memset(r, 0, sizeof *r);
        b->low++;
    }
    COHORT_ASSERT(b->low <= b->next);
}

void co_txbuf_unpush(co_txbuf_t *b, uint64_t from)
{
    COHORT_ASSERT(from >= b->low && from <= b->next);
    while (b->next > from) {
        co_txrec_t *r = &b->ring[(b->next - 1) & (b->cap - 1)];
        COHORT_ASSERT(r->data != NULL);
        b->bytes -= (size_t)r->len + CO_TXREC_OVERHEAD;
        co_free(b->mem, r->data);
        co_free(b->mem, r->self_copy);
        if (r->self_reserved && b->self_hold)
            co_hold_unreserve(b->self_hold);
        memset(r, 0, sizeof *r);
        b->next--;
    }
}
