/*
 * peers.h - the member table: every other member this one has heard from,
 * with what it needs from us and what we hold of it.
 *
 * Until agreed views exist (membership issue) "the group" is this table:
 * a member enters on its first authenticated datagram and leaves on LEAVE,
 * on silence longer than member_timeout_ns, or when a newer incarnation of
 * it appears. The reliability code asks only co_peers_stable_through() and
 * walks the table; views will replace how entries come and go, not that.
 *
 * Slots are walked in index order, so iteration never depends on pointer
 * or hash order (same seed, same trace).
 */
#ifndef COHORT_PEERS_H
#define COHORT_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cohort.h"
#include "core.h"
#include "frag.h"
#include "replay.h"
#include "rxwin.h"

typedef struct co_peer {
    bool in_use;
    uint32_t id;
    uint32_t incarnation;
    co_addr_t addr;               /* its unicast endpoint (datagram source) */
    char name[COHORT_NAME_MAX + 1];
    uint64_t last_heard_ns;

    /* What we receive from it. */
    co_rxwin_t rx;
    co_reasm_t reasm;
    co_replay_t packets;          /* packet_seq anti-replay window */
    co_replay_t unreliable;       /* unreliable record de-duplication */
    uint64_t nack_at_ns;          /* next NACK for its gaps; 0: none due */
    bool gap_grew;                /* a new gap opened since the last NACK */
    uint64_t ack_at_ns;           /* ACK owed to it; 0: none */
    uint64_t reported_through;    /* last delivered seq we told it */
    uint64_t message_start;       /* seq of the FIRST of the message being
                                     reassembled (0: none) */
    size_t delivered_since_ack;   /* bytes */
    size_t queue_reserved_bytes;  /* its share of evq.reserved */

    /* What it has of ours. */
    bool reports_us;              /* it has sent a stability entry for us */
    uint64_t delivered_ours;      /* our FIFO seqs it delivered, through */
    uint64_t needs_from;          /* our next seq when we first heard it */
} co_peer_t;

/* What is remembered of a member after it was forgotten (timeout, leave),
 * so that if the same incarnation is heard again nothing is delivered twice
 * and none of its old datagrams replays, and an older incarnation of it is
 * recognised as stale. Bounded: the oldest is evicted. */
typedef struct co_tomb {
    bool in_use;
    uint32_t id;
    uint32_t incarnation;
    uint64_t resume_seq;          /* first FIFO seq not yet delivered whole */
    uint64_t buried_order;        /* eviction order */
    bool left;                    /* it said LEAVE: never to return */
    char name[COHORT_NAME_MAX + 1]; /* its last heartbeat's, so it comes
                                       back named even if a DATA datagram
                                       readmits it before any heartbeat */
    co_replay_t packets;
    co_replay_t unreliable;
} co_tomb_t;

typedef struct co_peers {
    co_peer_t *slots;
    size_t cap;
    size_t count;
    co_tomb_t *tombs;             /* cap entries */
    uint64_t burials;
    const co_mem_t *mem;          /* for the table and each peer's buffers */
} co_peers_t;

/* mem: the allocator (NULL: the C library's). */
int co_peers_init(co_peers_t *p, size_t cap, const co_mem_t *mem);
void co_peers_free(co_peers_t *p);

co_peer_t *co_peers_find(co_peers_t *p, uint32_t id);

/* Take a free slot for (id, incarnation); NULL when the table is full or
 * memory ran out. rx_bytes bounds its receive window. */
co_peer_t *co_peers_add(co_peers_t *p, uint32_t id, uint32_t incarnation,
                        size_t rx_bytes);

/* Release a slot and everything it holds. */
void co_peers_remove(co_peers_t *p, co_peer_t *peer);

/* Remember peer in a tomb, then remove it. left: it said LEAVE, so
 * nothing from this incarnation is ever taken again. */
void co_peers_forget(co_peers_t *p, co_peer_t *peer, bool left);

/* The tomb of member id, or NULL. */
co_tomb_t *co_peers_tomb(co_peers_t *p, uint32_t id);

/* Give a re-admitted peer what its tomb remembers, and free the tomb. */
void co_peers_revive(co_peers_t *p, co_peer_t *peer, co_tomb_t *tomb);

/* Our FIFO seq through which every member holds our records: the minimum of
 * what each has reported, or, for one that has not reported yet, what it
 * has needed since we first heard it. our_next - 1 with no members. */
uint64_t co_peers_stable_through(const co_peers_t *p, uint64_t our_next);

/* Bytes held in receive windows and reassembly buffers. */
size_t co_peers_rx_bytes(const co_peers_t *p);

#endif
