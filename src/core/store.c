/* store.c - a sender's delivered records until group-stable (see store.h). */
#include "store.h"

#include <string.h>

#include "co_assert.h"
#include "txbuf.h"

#define CO_STORE_INITIAL_CAP 16

void co_store_init(co_store_t *s, uint32_t origin_id,
                   uint32_t origin_incarnation, size_t max_bytes,
                   const co_mem_t *mem)
{
    COHORT_ASSERT(s != NULL && origin_id != 0 && origin_incarnation != 0);
    COHORT_ASSERT(max_bytes >= CO_TXREC_OVERHEAD);
    memset(s, 0, sizeof *s);
    s->origin_id = origin_id;
    s->origin_incarnation = origin_incarnation;
    s->mem = co_mem_or_libc(mem);
    s->max_bytes = max_bytes;
    /* Every record costs at least CO_TXREC_OVERHEAD, so no more than this
     * many can ever be held at once. */
    size_t want = max_bytes / CO_TXREC_OVERHEAD;
    size_t max = CO_STORE_INITIAL_CAP;
    while (max < want)
        max *= 2;
    s->max_records = max;
}

void co_store_free(co_store_t *s)
{
    COHORT_ASSERT(s != NULL && s->mem != NULL);
    if (s->ring)
        co_store_release_through(s, UINT64_MAX);
    COHORT_ASSERT(s->bytes == 0);
    while (s->head) {
        co_store_chunk_t *next = s->head->next;
        COHORT_ASSERT(s->head->live == 0);
        co_free(s->mem, s->head);
        s->head = next;
    }
    s->tail = NULL;
    co_free(s->mem, s->spare);
    s->spare = NULL;
    co_free(s->mem, s->ring);
    s->ring = NULL;
    s->cap = 0;
}

bool co_store_fits(const co_store_t *s, size_t len)
{
    return len <= s->max_bytes - CO_TXREC_OVERHEAD &&
           s->bytes <= s->max_bytes - CO_TXREC_OVERHEAD - len;
}

static co_srec_t *slot_of(const co_store_t *s, uint64_t seq)
{
    return &s->ring[seq & (s->cap - 1)];
}

/* Allocate the ring, or double it moving each held record to its slot. */
static int store_grow(co_store_t *s)
{
    size_t cap = s->cap ? s->cap * 2 : CO_STORE_INITIAL_CAP;
    COHORT_ASSERT(cap <= s->max_records);
    co_srec_t *ring = co_calloc(s->mem, cap, sizeof *ring);
    if (!ring)
        return -1;
    for (uint64_t q = s->low; q < s->next; q++)
        ring[q & (cap - 1)] = *slot_of(s, q);
    co_free(s->mem, s->ring);
    s->ring = ring;
    s->cap = cap;
    return 0;
}

/* A chunk no longer in use: the spare if there is none, else freed. */
static void chunk_done(co_store_t *s, co_store_chunk_t *ch)
{
    if (ch && !s->spare && ch->cap == CO_STORE_CHUNK_BYTES) {
        ch->next = NULL;
        s->spare = ch;
        return;
    }
    co_free(s->mem, ch);
}

int co_store_append(co_store_t *s, const co_record_t *r)
{
    COHORT_ASSERT(s != NULL && r != NULL && r->type == CO_REC_FIFO);
    COHORT_ASSERT(r->seq != 0 && r->seq < CO_SEQ_LIMIT);
    COHORT_ASSERT(r->payload != NULL || r->len == 0);
    if (s->next != 0 && r->seq != s->next)
        return CO_STORE_NOT_NEXT;
    if (!co_store_fits(s, r->len))
        return CO_STORE_FULL;
    /* Room for the payload first: a refused chunk then leaves even the
     * ring as it was. */
    co_store_chunk_t *ch = NULL, *fresh = NULL;
    bool from_spare = false;
    if (r->len > 0) {
        ch = s->tail;
        if (ch && ch->live == 0)
            ch->used = 0;   /* empty: start it over */
        if (!ch || ch->cap - ch->used < r->len) {
            size_t cap = r->len > CO_STORE_CHUNK_BYTES ? r->len
                                                       : CO_STORE_CHUNK_BYTES;
            if (cap == CO_STORE_CHUNK_BYTES && s->spare) {
                fresh = s->spare;
                s->spare = NULL;
                from_spare = true;
            } else if (!(fresh = co_malloc(s->mem, sizeof *fresh + cap))) {
                return CO_STORE_NOMEM;
            }
            *fresh = (co_store_chunk_t){.cap = cap};
            ch = fresh;
        }
    }
    /* The byte bound caps the count below max_records, so a full ring can
     * always double. */
    if (co_store_count(s) == s->cap && store_grow(s) != 0) {
        if (from_spare)
            s->spare = fresh; /* as it was */
        else
            co_free(s->mem, fresh);
        return CO_STORE_NOMEM;
    }
    uint8_t *copy = NULL;
    if (fresh) {
        if (s->tail)
            s->tail->next = fresh;
        else
            s->head = fresh;
        s->tail = fresh;
    }
    if (ch) {
        copy = ch->data + ch->used;
        memcpy(copy, r->payload, r->len);
        ch->used += r->len;
        ch->live++;
    }
    if (s->next == 0)
        s->low = s->next = r->seq;
    co_srec_t *slot = slot_of(s, s->next);
    COHORT_ASSERT(!slot->used);
    /* Everything but RETRANSMIT: a repair must be the record itself
     * (its class, and whether the library reads it: CONTROL, REQUEST). */
    uint8_t flags = r->flags & (CO_REC_FIRST | CO_REC_LAST | CO_REC_CLASS_MASK |
                                CO_REC_CONTROL | CO_REC_REQUEST);
    bool has_total = (flags & CO_REC_FIRST) && !(flags & CO_REC_LAST);
    *slot = (co_srec_t){.payload = copy, .chunk = ch, .len = r->len,
                        .flags = flags,
                        .total_len = has_total ? r->total_len : 0,
                        .used = true, .view_id = r->view_id};
    s->next++;
    s->bytes += (size_t)r->len + CO_TXREC_OVERHEAD;
    COHORT_ASSERT(s->bytes <= s->max_bytes && co_store_count(s) <= s->cap);
    return CO_STORE_OK;
}

/* Free the chunks at the old end that hold nothing any more (all but the
 * youngest, which is kept for the next appends). */
static void store_trim(co_store_t *s)
{
    while (s->head && s->head->live == 0 && s->head != s->tail) {
        co_store_chunk_t *next = s->head->next;
        chunk_done(s, s->head);
        s->head = next;
    }
    if (s->head && s->head == s->tail && s->head->live == 0)
        s->head->used = 0;
}

/* Forget the record in slot, and free its chunk when it was the last one
 * in it. */
static void store_drop(co_store_t *s, co_srec_t *slot)
{
    COHORT_ASSERT(slot->used);
    COHORT_ASSERT(s->bytes >= (size_t)slot->len + CO_TXREC_OVERHEAD);
    s->bytes -= (size_t)slot->len + CO_TXREC_OVERHEAD;
    co_store_chunk_t *ch = slot->chunk;
    if (ch) {
        COHORT_ASSERT(ch->live > 0);
        if (--ch->live == 0)
            store_trim(s);
    }
    memset(slot, 0, sizeof *slot);
}

void co_store_take_back(co_store_t *s)
{
    if (co_store_count(s) == 0)
        return;
    co_srec_t *last = slot_of(s, s->next - 1);
    co_store_chunk_t *ch = last->chunk;
    /* The youngest payload is the end of the youngest chunk: give the
     * bytes back for the retry. */
    if (ch && ch == s->tail && last->payload + last->len == ch->data + ch->used)
        ch->used -= last->len;
    store_drop(s, last);
    s->next--;
    COHORT_ASSERT(s->low <= s->next);
}

void co_store_release_through(co_store_t *s, uint64_t through)
{
    COHORT_ASSERT(s != NULL);
    while (s->low < s->next && s->low <= through) {
        store_drop(s, slot_of(s, s->low));
        s->low++;
    }
    COHORT_ASSERT(s->low <= s->next);
    COHORT_ASSERT(co_store_count(s) > 0 || s->bytes == 0);
}

bool co_store_get(const co_store_t *s, uint64_t seq, co_record_t *out)
{
    COHORT_ASSERT(s != NULL && out != NULL);
    if (seq < s->low || seq >= s->next)
        return false;
    const co_srec_t *slot = slot_of(s, seq);
    COHORT_ASSERT(slot->used);
    *out = (co_record_t){.type = CO_REC_FIFO, .flags = slot->flags,
                         .len = slot->len, .seq = seq,
                         .total_len = slot->total_len,
                         .payload = slot->payload,
                         .view_id = slot->view_id};
    return true;
}

void co_store_range(const co_store_t *s, uint64_t first, uint64_t last,
                    co_store_iter_t *it)
{
    COHORT_ASSERT(s != NULL && it != NULL);
    uint64_t lo = first > s->low ? first : s->low;
    uint64_t end = last < s->next ? last + 1 : s->next;
    it->seq = lo;
    it->end = end > lo ? end : lo;
}

bool co_store_next(const co_store_t *s, co_store_iter_t *it,
                   co_record_t *out)
{
    COHORT_ASSERT(it != NULL && it->seq <= it->end);
    if (it->seq == it->end)
        return false;
    bool held = co_store_get(s, it->seq, out);
    COHORT_ASSERT(held); /* the store changed during the iteration */
    it->seq++;
    return true;
}
