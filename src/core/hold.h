/*
 * hold.h - one sender's messages taken from its stream and not yet given
 * to the application: TOTAL and SAFE messages waiting for their place in
 * the total order, and the FIFO messages sent after them, which wait
 * behind them so that a sender's reliable messages keep its order
 * whatever their modes (total.c).
 *
 * A FIFO ring of entries, each owning its message's payload. The ring is
 * one array, grown by doubling: a hold of a few hundred thousand small
 * messages (a sequencer's ORDER a whole window behind) is walked in
 * memory order, with no allocation per message (a list of nodes, one
 * malloc each, cost a cache miss per delivery at 2-3 M messages/s).
 * Bounded in bytes by the caller (co_hold_fits); nothing here grows on
 * its own.
 */
#ifndef COHORT_HOLD_H
#define COHORT_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Accounting cost of one held message beyond its payload (its entry, and
 * the allocator's header of its payload). */
#define CO_HOLD_OVERHEAD 48

typedef struct co_held {
    uint64_t seq;           /* its LAST record's seq in the sender's stream */
    uint8_t *data;          /* owned; NULL when len is 0 */
    uint32_t len;
    uint8_t cls;            /* enum co_record_class (FIFO, TOTAL, SAFE) */
} co_held_t;

typedef struct co_hold {
    co_held_t *ring;        /* entry i: ring[(head + i) & (cap - 1)] */
    size_t cap;             /* 0 or a power of two */
    size_t head, count;
    size_t reserved;        /* places promised to co_hold_put, not yet used */
    size_t bytes;           /* payload + overhead */
} co_hold_t;

static inline bool co_hold_empty(const co_hold_t *h)
{
    return h->count == 0;
}

/* The oldest entry; NULL when empty. Valid until the hold changes. */
static inline const co_held_t *co_hold_head(const co_hold_t *h)
{
    return h->count ? &h->ring[h->head & (h->cap - 1)] : NULL;
}

/* Room for a message of len bytes within max_bytes? An empty hold always
 * takes one, so a message larger than the bound still moves. */
bool co_hold_fits(const co_hold_t *h, size_t len, size_t max_bytes);

/* Promise a place for one co_hold_put, so that a message is never lost to
 * memory once it has left its stream: reserve before taking it (false out
 * of memory: leave it where it is, unacknowledged, and try again later),
 * then put, which cannot fail. A promise not kept is given back with
 * co_hold_unreserve(). */
bool co_hold_reserve(co_hold_t *h, const co_mem_t *mem);
void co_hold_unreserve(co_hold_t *h);

/* Append a message, taking data (may be NULL when len is 0). reserved:
 * in a place the caller reserved for it (used up; cannot fail); else in
 * one found now, beside every place still promised to others. Returns
 * false only then, out of memory (data stays the caller's). */
bool co_hold_put(co_hold_t *h, const co_mem_t *mem, bool reserved,
                 uint64_t seq, uint8_t cls, uint8_t *data, size_t len);

/* Remove the head; its data becomes the caller's (*data, *len). */
void co_hold_pop(co_hold_t *h, uint8_t **data, size_t *len);

/* Free every message held; the ring and the reservations stay. */
void co_hold_clear(co_hold_t *h, const co_mem_t *mem);

/* co_hold_clear, and the ring too (the hold is not used again). */
void co_hold_free(co_hold_t *h, const co_mem_t *mem);

#endif
