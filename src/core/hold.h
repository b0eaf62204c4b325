/*
 * hold.h - one sender's messages taken from its stream and not yet given
 * to the application: TOTAL and SAFE messages waiting for their place in
 * the total order, and the FIFO messages sent after them, which wait
 * behind them so that a sender's reliable messages keep its order
 * whatever their modes (total.c).
 *
 * A FIFO queue of whole messages, each owning its payload. Bounded in
 * bytes by the caller (co_hold_fits); nothing here grows on its own.
 */
#ifndef COHORT_HOLD_H
#define COHORT_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Accounting cost of one held message beyond its payload. */
#define CO_HOLD_OVERHEAD 48

typedef struct co_held {
    struct co_held *next;
    uint64_t seq;           /* its LAST record's seq in the sender's stream */
    uint8_t cls;            /* enum co_record_class (FIFO, TOTAL, SAFE) */
    uint8_t *data;          /* owned; NULL when len is 0 */
    size_t len;
} co_held_t;

typedef struct co_hold {
    co_held_t *head, *tail;
    size_t count;
    size_t bytes;           /* payload + overhead */
} co_hold_t;

static inline bool co_hold_empty(const co_hold_t *h)
{
    return h->head == NULL;
}

/* Room for a message of len bytes within max_bytes? An empty hold always
 * takes one, so a message larger than the bound still moves. */
bool co_hold_fits(const co_hold_t *h, size_t len, size_t max_bytes);

/* Append a message, taking data (may be NULL when len is 0). Returns
 * false out of memory (data stays the caller's). */
bool co_hold_push(co_hold_t *h, const co_mem_t *mem, uint64_t seq,
                  uint8_t cls, uint8_t *data, size_t len);

/* The same in two steps, so that a message is never lost to memory once
 * it has left its stream: co_hold_node() before taking it (NULL out of
 * memory: leave it where it is, unacknowledged, and try again later),
 * co_hold_put() with that node, which cannot fail. A node not put is
 * freed with co_free(). */
co_held_t *co_hold_node(const co_mem_t *mem);
void co_hold_put(co_hold_t *h, co_held_t *node, uint64_t seq, uint8_t cls,
                 uint8_t *data, size_t len);

/* Remove the head; its data becomes the caller's (*data, *len). */
void co_hold_pop(co_hold_t *h, const co_mem_t *mem, uint8_t **data,
                 size_t *len);

/* Free everything held. */
void co_hold_clear(co_hold_t *h, const co_mem_t *mem);

#endif
