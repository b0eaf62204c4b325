/*
 * rxwin.h - a receiver's window over one sender's FIFO records.
 *
 * Records arrive in any order, duplicated or not at all; the window keeps
 * those ahead of the next one to deliver, reports which are missing (for
 * NACKs), and hands them out in sequence. Memory is bounded by max_bytes
 * (payload + per-record overhead) and by max_slots.
 */
#ifndef COHORT_RXWIN_H
#define COHORT_RXWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "wire.h"

#define CO_RXREC_OVERHEAD 32

typedef struct co_rxslot {
    uint8_t *data;          /* owned payload copy; NULL: missing */
    uint32_t total_len;
    uint16_t len;
    uint8_t flags;
    uint8_t present;
    uint64_t view_id;       /* the view it was sent in (co_record_t) */
} co_rxslot_t;

typedef struct co_rxwin {
    co_rxslot_t *ring;      /* slot of seq s is ring[s & (cap - 1)] */
    size_t cap;
    size_t max_slots;
    uint64_t next;          /* next seq to deliver; 0 until synchronised */
    uint64_t highest;       /* highest seq seen in data from it */
    uint64_t claimed;       /* highest seq its latest heartbeat says
                               exists: replaced by each heartbeat, never
                               kept as a maximum, so a false claim lasts
                               only until the next true one */
    size_t bytes;
    size_t max_bytes;
    size_t count;           /* present records */
    const co_mem_t *mem;
} co_rxwin_t;

enum co_rxwin_result {
    CO_RXWIN_NEW = 0,
    CO_RXWIN_DUPLICATE = 1, /* already held or already delivered */
    CO_RXWIN_NO_ROOM = 2,   /* beyond the window or the byte budget */
};

/* mem: the allocator (NULL: the C library's). */
int co_rxwin_init(co_rxwin_t *w, size_t max_bytes, const co_mem_t *mem);
void co_rxwin_free(co_rxwin_t *w);

/* Start delivering at seq (first contact with a sender). */
void co_rxwin_sync(co_rxwin_t *w, uint64_t seq);

static inline bool co_rxwin_synced(const co_rxwin_t *w) { return w->next != 0; }

/* Hold a copy of record r. */
enum co_rxwin_result co_rxwin_insert(co_rxwin_t *w, const co_record_t *r);

/* A sender said records up to seq exist (data seen, or its heartbeat). */
void co_rxwin_saw(co_rxwin_t *w, uint64_t seq);

/* The record at w->next if it has arrived, else NULL. */
const co_rxslot_t *co_rxwin_ready(const co_rxwin_t *w);

/* The record held for seq, or NULL (not arrived, delivered already, or
 * outside the window). */
const co_rxslot_t *co_rxwin_get(const co_rxwin_t *w, uint64_t seq);

/* Take the ready record: returns its payload (the caller now owns it) and
 * advances next. */
uint8_t *co_rxwin_take(co_rxwin_t *w, co_rxslot_t *out);

/* The record at next was consumed without being held (in-order fast
 * path): move on. Nothing may be held at next. */
void co_rxwin_advance(co_rxwin_t *w);

/* How many messages co_rxwin_skip_to(w, seq) gives up, as well as the
 * window can tell: records held are grouped into messages by their
 * FIRST/LAST flags; a record never received counts as one message, since
 * nothing says where its message starts or ends (so a lost fragmented
 * message may count once per missing fragment). in_message: a message
 * begun before next is being reassembled (it is lost too). */
uint64_t co_rxwin_lost_messages(const co_rxwin_t *w, uint64_t seq,
                                bool in_message);

/* Give up on everything below seq (the sender no longer holds it). Returns
 * how many records were skipped. */
uint64_t co_rxwin_skip_to(co_rxwin_t *w, uint64_t seq);

/* The sender's heartbeat says records up to seq exist (see claimed). */
static inline void co_rxwin_claim(co_rxwin_t *w, uint64_t seq)
{
    w->claimed = seq;
}

/* The highest seq believed to exist: seen, or claimed. */
static inline uint64_t co_rxwin_top(const co_rxwin_t *w)
{
    return w->highest > w->claimed ? w->highest : w->claimed;
}

/* True when some record in [next, top] is missing. */
static inline bool co_rxwin_has_gap(const co_rxwin_t *w)
{
    uint64_t top = co_rxwin_top(w);
    return w->next != 0 && top >= w->next &&
           w->count < (size_t)(top - w->next + 1);
}

/* Write up to max missing ranges, lowest first; returns how many.
 */
size_t co_rxwin_gaps(const co_rxwin_t *w, co_nack_range_t *out, size_t max);

/* The same from seq `from` on (none below next): the ranges after a
 * previous call's last one, from its last + 1. */
size_t co_rxwin_gaps_from(const co_rxwin_t *w, uint64_t from,
                          co_nack_range_t *out, size_t max);

#endif
