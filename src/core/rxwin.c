/* rxwin.c - a receiver's window over one sender's records (see rxwin.h). */
#include "rxwin.h"

#include <string.h>

#include "co_assert.h"

#define CO_RXWIN_INITIAL_CAP 64

int co_rxwin_init(co_rxwin_t *w, size_t max_bytes, const co_mem_t *mem)
{
    memset(w, 0, sizeof *w);
    w->mem = co_mem_or_libc(mem);
    w->max_bytes = max_bytes;
    size_t want = max_bytes / CO_RXREC_OVERHEAD + 1;
    size_t max = CO_RXWIN_INITIAL_CAP;
    while (max < want)
        max *= 2;
    w->max_slots = max;
    w->cap = CO_RXWIN_INITIAL_CAP;
    w->ring = co_calloc(w->mem, w->cap, sizeof *w->ring);
    return w->ring ? 0 : -1;
}

static void slot_clear(co_rxwin_t *w, co_rxslot_t *s)
{
    if (!s->present)
        return;
    w->bytes -= (size_t)s->len + CO_RXREC_OVERHEAD;
    w->count--;
    co_free(w->mem, s->data);
    memset(s, 0, sizeof *s);
}

void co_rxwin_free(co_rxwin_t *w)
{
    if (!w->ring)
        return;
    for (size_t i = 0; i < w->cap; i++)
        slot_clear(w, &w->ring[i]);
    COHORT_ASSERT(w->bytes == 0 && w->count == 0);
    co_free(w->mem, w->ring);
    w->ring = NULL;
}

void co_rxwin_sync(co_rxwin_t *w, uint64_t seq)
{
    COHORT_ASSERT(w->next == 0 && w->count == 0);
    COHORT_ASSERT(seq != 0);
    w->next = seq;
    if (w->highest < seq - 1)
        w->highest = seq - 1;
}

void co_rxwin_saw(co_rxwin_t *w, uint64_t seq)
{
    if (seq > w->highest)
        w->highest = seq;
}

/* Grow the ring so that seq fits; seq - next < max_slots was checked. */
static int rxwin_grow(co_rxwin_t *w, uint64_t seq)
{
    size_t cap = w->cap;
    while (seq - w->next >= cap)
        cap *= 2;
    COHORT_ASSERT(cap <= w->max_slots);
    co_rxslot_t *ring = co_calloc(w->mem, cap, sizeof *ring);
    if (!ring)
        return -1;
    /* Every present slot lies in [next, next + old cap). */
    for (uint64_t s = w->next; s < w->next + w->cap; s++)
        ring[s & (cap - 1)] = w->ring[s & (w->cap - 1)];
    co_free(w->mem, w->ring);
    w->ring = ring;
    w->cap = cap;
    return 0;
}

enum co_rxwin_result co_rxwin_insert(co_rxwin_t *w, const co_record_t *r)
{
    COHORT_ASSERT(w->next != 0);
    if (r->seq < w->next ||
        (r->seq - w->next < w->cap && w->ring[r->seq & (w->cap - 1)].present))
        return CO_RXWIN_DUPLICATE;
    /* The record next in line may exceed the byte budget by itself: if the
     * budget were full of records beyond a gap, refusing the one that fills
     * the gap would stall this sender for good. */
    bool over_budget = w->bytes + r->len + CO_RXREC_OVERHEAD > w->max_bytes;
    if (r->seq - w->next >= w->max_slots || (over_budget && r->seq != w->next))
        return CO_RXWIN_NO_ROOM;
    if (r->seq - w->next >= w->cap && rxwin_grow(w, r->seq) != 0)
        return CO_RXWIN_NO_ROOM;
    co_rxslot_t *s = &w->ring[r->seq & (w->cap - 1)];
    COHORT_ASSERT(!s->present);
    uint8_t *copy = co_malloc(w->mem, r->len ? r->len : 1);
    if (!copy)
        return CO_RXWIN_NO_ROOM;
    if (r->len)
        memcpy(copy, r->payload, r->len);
    *s = (co_rxslot_t){.data = copy, .total_len = r->total_len,
                       .len = r->len, .flags = r->flags, .present = 1,
                       .view_id = r->view_id};
    w->bytes += (size_t)r->len + CO_RXREC_OVERHEAD;
    w->count++;
    co_rxwin_saw(w, r->seq);
    return CO_RXWIN_NEW;
}

const co_rxslot_t *co_rxwin_ready(const co_rxwin_t *w)
{
    if (w->next == 0 || w->count == 0)
        return NULL;
    const co_rxslot_t *s = &w->ring[w->next & (w->cap - 1)];
    return s->present ? s : NULL;
}

const co_rxslot_t *co_rxwin_get(const co_rxwin_t *w, uint64_t seq)
{
    if (w->next == 0 || w->count == 0 || w->cap == 0 || seq < w->next ||
        seq - w->next >= w->cap)
        return NULL;
    const co_rxslot_t *s = &w->ring[seq & (w->cap - 1)];
    return s->present ? s : NULL;
}

uint8_t *co_rxwin_take(co_rxwin_t *w, co_rxslot_t *out)
{
    co_rxslot_t *s = &w->ring[w->next & (w->cap - 1)];
    COHORT_ASSERT(s->present);
    *out = *s;
    w->bytes -= (size_t)s->len + CO_RXREC_OVERHEAD;
    w->count--;
    memset(s, 0, sizeof *s);
    w->next++;
    return out->data;
}

void co_rxwin_advance(co_rxwin_t *w)
{
    COHORT_ASSERT(w->next != 0);
    COHORT_ASSERT(!w->ring[w->next & (w->cap - 1)].present);
    w->next++;
    co_rxwin_saw(w, w->next - 1);
}

uint64_t co_rxwin_lost_messages(const co_rxwin_t *w, uint64_t seq,
                                bool in_message)
{
    if (w->next == 0 || seq <= w->next)
        return 0;
    uint64_t messages = in_message ? 1 : 0;
    uint64_t s = w->next;
    /* Beyond the ring nothing is held: every seq there is missing. */
    uint64_t ring_end = seq - w->next > w->cap ? w->next + w->cap : seq;
    for (; s < ring_end; s++) {
        const co_rxslot_t *slot = &w->ring[s & (w->cap - 1)];
        if (!slot->present) {
            messages++;
            in_message = true; /* later fragments may be its own */
            continue;
        }
        if ((slot->flags & CO_REC_FIRST) || !in_message)
            messages++;
        in_message = !(slot->flags & CO_REC_LAST);
    }
    return messages + (seq - s);
}

uint64_t co_rxwin_skip_to(co_rxwin_t *w, uint64_t seq)
{
    uint64_t skipped = 0;
    while (w->next < seq) {
        co_rxslot_t *s = &w->ring[w->next & (w->cap - 1)];
        if (!s->present)
            skipped++;
        slot_clear(w, s);
        w->next++;
        if (w->count == 0 && w->next < seq) {
            skipped += seq - w->next;
            w->next = seq;
        }
    }
    if (w->highest < w->next - 1)
        w->highest = w->next - 1;
    return skipped;
}

size_t co_rxwin_gaps(const co_rxwin_t *w, co_nack_range_t *out, size_t max)
{
    return co_rxwin_gaps_from(w, w->next, out, max);
}

size_t co_rxwin_gaps_from(const co_rxwin_t *w, uint64_t from,
                          co_nack_range_t *out, size_t max)
{
    size_t n = 0;
    if (!co_rxwin_has_gap(w))
        return 0;
    /* Only seqs the ring can hold are worth asking for now. */
    uint64_t end = co_rxwin_top(w);
    if (end - w->next >= w->max_slots)
        end = w->next + w->max_slots - 1;
    uint64_t s = from > w->next ? from : w->next;
    while (s <= end && n < max) {
        bool held = s - w->next < w->cap &&
                    w->ring[s & (w->cap - 1)].present;
        if (held) {
            s++;
            continue;
        }
        uint64_t first = s;
        while (s <= end) {
            if (s - w->next >= w->cap) {
                s = end + 1; /* nothing beyond the ring is held */
                break;
            }
            if (w->ring[s & (w->cap - 1)].present)
                break;
            s++;
        }
        out[n++] = (co_nack_range_t){.first = first, .last = s - 1};
    }
    return n;
}
