/*
 * txbuf.h - a sender's retransmit buffer for FIFO records.
 *
 * Holds every reliable record from the oldest one some member may still
 * need (low) to the newest assigned (next - 1). Records leave from the low
 * end only, when every member has delivered them (stability). The bytes
 * held are bounded by max_bytes: that bound IS the flow-control window.
 */
#ifndef COHORT_TXBUF_H
#define COHORT_TXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hold.h"
#include "mem.h"

/* Accounting cost of one record beyond its payload, so that a window of
 * empty records is still bounded. */
#define CO_TXREC_OVERHEAD 32

typedef struct co_txrec {
    uint8_t *data;          /* owned copy of the payload */
    uint32_t total_len;     /* message size when FIRST && !LAST */
    uint16_t len;
    uint8_t flags;          /* CO_REC_FIRST / CO_REC_LAST */
    uint32_t retx_to;       /* member last sent a retransmission; 0: group */
    uint64_t retx_at_ns;    /* when; 0: never */
    uint64_t view_id;       /* the view it went out in; 0: held, not sent */
    /* On the first record of a parity block (parity.c): */
    uint64_t par_at_ns;     /* the current round of parity began; 0: none */
    uint8_t par_next;       /* next parity index to send */
    uint8_t par_need;       /* symbols sent in the current round */
    uint8_t par_rounds;     /* rounds so far */
    uint8_t *self_copy;     /* on a LAST record: the whole message, for
                               the sender's own delivery when it goes out
                               (owned; freed with the record if never) */
    size_t self_len;
    bool self_reserved;     /* and a place reserved for it in self_hold
                               (co_hold_reserve), when it will wait there;
                               given back with the record if never used */
} co_txrec_t;

typedef struct co_txbuf {
    co_txrec_t *ring;       /* slot of seq s is ring[s & (cap - 1)] */
    size_t cap;             /* power of two */
    size_t max_records;     /* cap never grows past this */
    uint64_t low;           /* oldest seq held; == next when empty */
    uint64_t next;          /* next seq to assign, from 1 */
    size_t bytes;           /* payload + overhead held */
    size_t max_bytes;
    co_hold_t *self_hold;   /* where self_reserved places are (may be NULL) */
    const co_mem_t *mem;
} co_txbuf_t;

/* mem: the allocator (NULL: the C library's). */
int co_txbuf_init(co_txbuf_t *b, size_t max_bytes, const co_mem_t *mem);
void co_txbuf_free(co_txbuf_t *b);

/* Room for a record of len payload bytes? */
bool co_txbuf_fits(const co_txbuf_t *b, size_t len);

/* Append a record (payload copied); returns its seq, or 0 when it does not
 * fit or memory ran out. */
uint64_t co_txbuf_push(co_txbuf_t *b, const uint8_t *data, uint16_t len,
                       uint8_t flags, uint32_t total_len);

/* Take back every record with seq >= from (from >= low), newest first:
 * a message whose records could not all be pushed is not sent at all. */
void co_txbuf_unpush(co_txbuf_t *b, uint64_t from);

/* The record with seq, or NULL if it is not held (stable or not sent). */
co_txrec_t *co_txbuf_get(co_txbuf_t *b, uint64_t seq);

/* Free every record with seq <= through. */
void co_txbuf_release(co_txbuf_t *b, uint64_t through);

static inline size_t co_txbuf_count(const co_txbuf_t *b)
{
    return (size_t)(b->next - b->low);
}

#endif
