/*
 * hold.c - a sender's messages waiting for the total order (hold.h).
 */
#include "hold.h"

#include "co_assert.h"

bool co_hold_fits(const co_hold_t *h, size_t len, size_t max_bytes)
{
    return h->head == NULL || h->bytes + len + CO_HOLD_OVERHEAD <= max_bytes;
}

co_held_t *co_hold_node(const co_mem_t *mem)
{
    return co_malloc(mem, sizeof(co_held_t));
}

bool co_hold_push(co_hold_t *h, const co_mem_t *mem, uint64_t seq,
                  uint8_t cls, uint8_t *data, size_t len)
{
    co_held_t *m = co_hold_node(mem);
    if (!m)
        return false;
    co_hold_put(h, m, seq, cls, data, len);
    return true;
}

void co_hold_put(co_hold_t *h, co_held_t *m, uint64_t seq, uint8_t cls,
                 uint8_t *data, size_t len)
{
    COHORT_ASSERT(m != NULL);
    *m = (co_held_t){.seq = seq, .cls = cls, .data = data, .len = len};
    if (h->tail)
        h->tail->next = m;
    else
        h->head = m;
    h->tail = m;
    h->count++;
    h->bytes += len + CO_HOLD_OVERHEAD;
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
