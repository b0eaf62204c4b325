/*
 * hold.c - a sender's messages waiting for the total order (hold.h).
 */
#include "hold.h"

#include "co_assert.h"

bool co_hold_fits(const co_hold_t *h, size_t len, size_t max_bytes)
{
    return h->head == NULL || h->bytes + len + CO_HOLD_OVERHEAD <= max_bytes;
}

bool co_hold_push(co_hold_t *h, const co_mem_t *mem, uint64_t seq,
                  uint8_t cls, uint8_t *data, size_t len)
{
    co_held_t *m = co_malloc(mem, sizeof *m);
    if (!m)
        return false;
    *m = (co_held_t){.seq = seq, .cls = cls, .data = data, .len = len};
    if (h->tail)
        h->tail->next = m;
    else
        h->head = m;
    h->tail = m;
    h->count++;
    h->bytes += len + CO_HOLD_OVERHEAD;
    return true;
}

void co_hold_pop(co_hold_t *h, const co_mem_t *mem, uint8_t **data,
                 size_t *len)
{
    co_held_t *m = h->head;
    COHORT_ASSERT(m != NULL);
    h->head = m->next;
    if (!h->head)
        h->tail = NULL;
    h->count--;
    h->bytes -= m->len + CO_HOLD_OVERHEAD;
    *data = m->data;
    *len = m->len;
    co_free(mem, m);
}

void co_hold_clear(co_hold_t *h, const co_mem_t *mem)
{
    while (h->head) {
        uint8_t *data;
        size_t len;
        co_hold_pop(h, mem, &data, &len);
        co_free(mem, data);
    }
}
