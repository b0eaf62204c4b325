/*
 * store.h - one sender's delivered FIFO records that are not yet
 * group-stable, kept so that survivors can re-send a crashed member's
 * messages to each other during a flush (docs/membership.md, "Repair
 * during a flush").
 *
 * One store per origin (id, incarnation). Records enter in sequence order
 * as they are delivered (co_store_append copies the payload) and leave
 * from the low end once every member of the view has delivered them
 * (co_store_release_through). In between, a repairer reads them in place
 * (co_store_get, co_store_range/co_store_next) to put them in FORWARD
 * datagrams.
 *
 * Layout: a ring of record slots indexed by seq (slot of seq s is
 * ring[s & (cap - 1)]); payloads are copied one after the other into
 * chunks of CO_STORE_CHUNK_BYTES (a payload larger than that gets a chunk
 * of its own size), kept in a queue. Records enter and leave in seq order,
 * so a chunk is freed as soon as the last record in it is released: one
 * allocation per chunk instead of one per record (per-record malloc/free
 * was most of a receiver's time at 64-byte messages), and memory stays
 * proportional to what is held, plus at most a chunk at either end. Chosen
 * over one byte ring because that would need its whole bound (the
 * sender's window, 4 MiB by default) allocated per sender up front, or a
 * growth step that moves wrapped bytes. The ring starts empty (init
 * allocates nothing), is allocated on the first append and doubles when
 * full, never beyond the most records max_bytes allows; it does not
 * shrink. Append is O(1) amortised (O(n) on a doubling), release O(1) per
 * record freed, lookup by seq O(1).
 *
 * Bound: bytes held, counted as payload + CO_TXREC_OVERHEAD per record
 * exactly as the sender counts its window, never exceed max_bytes. The
 * core passes send_window_bytes: a sender cannot have more unstable bytes
 * out, so a full store means only that this member has not yet learned of
 * stability the sender already saw; the caller then stops delivering and
 * acknowledging that sender until stability advances, by the sender's
 * trail or by the members' own reports (events.c: a sender that moved on
 * to another view no longer names this one's), and CO_STORE_FULL is
 * never a silent drop.
 *
 * Not for use from a callback of its own; nothing here is reentrant.
 */
#ifndef COHORT_STORE_H
#define COHORT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "wire.h"

/* What co_store_append returns. Every failure changes nothing. */
enum co_store_result {
    CO_STORE_OK = 0,
    CO_STORE_FULL = -1,     /* would exceed max_bytes: wait for stability */
    CO_STORE_NOMEM = -2,    /* the allocator refused: retry later */
    CO_STORE_NOT_NEXT = -3, /* seq is not highest + 1 (contiguity) */
};

#define CO_STORE_CHUNK_BYTES 16384

/* Payload bytes of records in seq order; freed when live drops to 0. */
typedef struct co_store_chunk {
    struct co_store_chunk *next;  /* the next younger chunk */
    size_t cap, used;             /* data bytes: allocated, filled */
    size_t live;                  /* records held in it */
    uint8_t data[];
} co_store_chunk_t;

/* A held record; its seq is implied by its slot. */
typedef struct co_srec {
    uint8_t *payload;       /* copy inside chunk; NULL when len == 0 */
    co_store_chunk_t *chunk;
    uint32_t total_len;     /* message size when FIRST && !LAST, else 0 */
    uint16_t len;
    uint8_t flags;          /* CO_REC_FIRST / CO_REC_LAST only */
    bool used;
    uint64_t view_id;       /* the view it was delivered in */
} co_srec_t;

typedef struct co_store {
    uint32_t origin_id;
    uint32_t origin_incarnation;
    co_srec_t *ring;        /* NULL until the first append */
    co_store_chunk_t *head, *tail;  /* oldest and youngest payload chunk */
    co_store_chunk_t *spare;        /* one emptied chunk of the standard
                                       size, kept for the next (a malloc
                                       and a free saved per chunk) */
    size_t cap;             /* power of two, 0 before the first append */
    size_t max_records;     /* cap never grows past this */
    uint64_t low;           /* lowest seq held; == next when empty */
    uint64_t next;          /* seq the next append must carry; 0: any */
    size_t bytes;           /* payload + overhead held */
    size_t max_bytes;
    const co_mem_t *mem;
} co_store_t;

/* Prepare s for origin (origin_id, origin_incarnation), both nonzero,
 * holding at most max_bytes (at least CO_TXREC_OVERHEAD). mem: the
 * allocator (NULL: the C library's), borrowed for the store's life.
 * Allocates nothing, cannot fail. */
void co_store_init(co_store_t *s, uint32_t origin_id,
                   uint32_t origin_incarnation, size_t max_bytes,
                   const co_mem_t *mem);

/* Free every record and the ring. s may be re-initialised afterwards. */
void co_store_free(co_store_t *s);

/* Would a record of len payload bytes fit now? */
bool co_store_fits(const co_store_t *s, size_t len);

/* Append the delivered FIFO record r (r->type == CO_REC_FIFO, a record
 * the wire decoder accepted): its payload is copied, r is not kept. The
 * first append may carry any seq; every later one must carry highest + 1,
 * also after everything was released. RETRANSMIT is not kept (it describes
 * the datagram the record came in, not the record).
 * Returns CO_STORE_OK, or, with nothing changed:
 *   CO_STORE_NOT_NEXT  r->seq is not the next seq (a caller bug to report,
 *                      or a record delivered twice);
 *   CO_STORE_FULL      the bytes would exceed max_bytes: stop delivering
 *                      this sender until co_store_release_through frees;
 *   CO_STORE_NOMEM     the ring or a payload chunk could not be allocated.
 */
COHORT_NODISCARD int co_store_append(co_store_t *s, const co_record_t *r);

/* Take back the highest record (the caller could not finish delivering
 * it); the next append must carry its seq again. Nothing held: no-op. */
void co_store_take_back(co_store_t *s);

/* Free every record with seq <= through (any value; beyond highest frees
 * everything). Contiguity is kept: the next append is still highest + 1. */
void co_store_release_through(co_store_t *s, uint64_t through);

/* The record with seq as a wire record (type FIFO) whose payload points
 * into the store: valid until the next append, take-back, release or
 * free. Returns false when seq is not held. */
bool co_store_get(const co_store_t *s, uint64_t seq, co_record_t *out);

/* Iterate the held records with first <= seq <= last, in seq order,
 * without copying: co_store_range then co_store_next until it returns
 * false. The store must not change during the iteration. */
typedef struct co_store_iter {
    uint64_t seq;           /* next to visit */
    uint64_t end;           /* one past the last to visit */
} co_store_iter_t;

void co_store_range(const co_store_t *s, uint64_t first, uint64_t last,
                    co_store_iter_t *it);
bool co_store_next(const co_store_t *s, co_store_iter_t *it,
                   co_record_t *out);

/* Bytes held (payload + CO_TXREC_OVERHEAD per record). */
static inline size_t co_store_bytes(const co_store_t *s) { return s->bytes; }

/* Records held. */
static inline size_t co_store_count(const co_store_t *s)
{
    return (size_t)(s->next - s->low);
}

/* Lowest and highest seq held; 0 when nothing is held. */
static inline uint64_t co_store_lowest(const co_store_t *s)
{
    return co_store_count(s) ? s->low : 0;
}
static inline uint64_t co_store_highest(const co_store_t *s)
{
    return co_store_count(s) ? s->next - 1 : 0;
}

/* The seq the next append must carry; 0 before the first. */
static inline uint64_t co_store_expected(const co_store_t *s)
{
    return s->next;
}

#endif
