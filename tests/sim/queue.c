/*
 * queue.c - the simulator's event queue: a binary min-heap on
 * (at_ns, seq). The insertion counter makes ties break the same way on
 * every run, whatever the heap's internal shuffling.
 */
#include <stdlib.h>

#include "co_assert.h"
#include "sim.h"

static bool item_before(const sim_item_t *a, const sim_item_t *b)
{
    if (a->at_ns != b->at_ns)
        return a->at_ns < b->at_ns;
    return a->seq < b->seq;
}

void sim_queue_init(sim_queue_t *q, size_t max_items)
{
    COHORT_ASSERT(max_items > 0);
    q->heap = NULL;
    q->len = 0;
    q->cap = 0;
    q->max = max_items;
    q->next_seq = 0;
}

void sim_queue_free(sim_queue_t *q)
{
    for (size_t i = 0; i < q->len; i++)
        free(q->heap[i].data);
    free(q->heap);
    q->heap = NULL;
    q->len = q->cap = 0;
}

static bool queue_grow(sim_queue_t *q)
{
    size_t cap = q->cap ? q->cap * 2 : 1024;
    if (cap > q->max)
        cap = q->max;
    if (cap <= q->cap)
        return false;
    sim_item_t *h = realloc(q->heap, cap * sizeof *h);
    COHORT_ASSERT(h != NULL);
    q->heap = h;
    q->cap = cap;
    return true;
}

bool sim_queue_push(sim_queue_t *q, sim_item_t *it)
{
    if (q->len == q->cap && !queue_grow(q))
        return false;
    it->seq = q->next_seq++;
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!item_before(it, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = *it;
    return true;
}

bool sim_queue_pop(sim_queue_t *q, sim_item_t *out)
{
    if (q->len == 0)
        return false;
    *out = q->heap[0];
    sim_item_t last = q->heap[--q->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->len)
            break;
        if (c + 1 < q->len && item_before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!item_before(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->len > 0)
        q->heap[i] = last;
    COHORT_ASSERT(q->len < q->cap);
    return true;
}

uint64_t sim_queue_peek_ns(const sim_queue_t *q)
{
    return q->len ? q->heap[0].at_ns : UINT64_MAX;
}
