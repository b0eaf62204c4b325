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
#include "hold.h"
#include "replay.h"
#include "rtt.h"
#include "rxwin.h"
#include "store.h"

/* One sender's position in a peer's stability vector. */
typedef struct co_vec_entry {
    uint32_t id;
    uint32_t incarnation;
    uint64_t delivered_seq;       /* highest reported for (id, incarnation) */
    uint64_t noted;               /* vec_reports when last reported */
} co_vec_entry_t;

/* A member named with its incarnation (a view member, as the caller has
 * it). */
typedef struct co_member_ref {
    uint32_t id;
    uint32_t incarnation;
} co_member_ref_t;

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
    uint64_t retry_at_ns;         /* next round that asks again; 0: the
                                     next NACK starts a cycle */
    uint64_t nack_asked;          /* highest seq asked for in this cycle */
    uint64_t nack_due;            /* the next retry round asks again for
                                     gaps through this seq */
    bool nack_all;                /* the next NACK asks for every gap
                                     again (a flush changed where to) */
    co_rtt_t rtt;                 /* how long its repairs take (rtt.h) */
    uint64_t ack_at_ns;           /* ACK owed to it; 0: none */
    uint64_t acked_at_ns;         /* when an ACK of it last went out */
    uint64_t reported_through;    /* last delivered seq we told it */
    uint64_t message_start;       /* seq of the FIRST of the message being
                                     reassembled (0: none) */
    size_t delivered_since_ack;   /* bytes */
    size_t share_bytes;           /* fresh record bytes since the last
                                     count of the members sending */
    size_t queue_reserved_bytes;  /* its share of evq.reserved */

    /* Its place in the view (vsync.c). in_view: a member of the view
     * installed here with this incarnation; only members' records are
     * delivered and only members hold back our window. During a view
     * change, cut_limit is the last of its records this member delivers
     * in the old view and cut_holder a member that holds them all. */
    bool in_view;
    bool no_aes;                  /* its datagrams say it cannot open
                                     AES-256-GCM (counted in no_aes) */
    bool size_apart;              /* its heartbeat named another
                                     max_datagram: never in a view here
                                     (gms.h, MISMATCH), so no repair is
                                     asked of it or given to it (what it
                                     sends longer than ours we never get,
                                     and the same for it) */
    bool said_leave;              /* LEAVE taken while it was in the view:
                                     reported, kept until the view that
                                     leaves it out (and the others'
                                     flushes) are over */
    uint64_t cut_limit;
    uint32_t cut_holder;
    uint64_t foreign_from;        /* first of its records that named an
                                     earlier view (passed over, never
                                     delivered) since the last one
                                     delivered; 0: none. Its messages of
                                     this view end before it. */
    co_store_t store;             /* its delivered, not yet stable records,
                                   kept to repair others in a flush */
    bool store_waits;             /* its next record waits for room in
                                     the store (co_deliver_store_waiting) */

    /* The total order (total.c), in the installed view. */
    co_hold_t hold;               /* its messages taken, not yet given to
                                     the application */
    uint64_t total_taken;         /* LAST seq of its newest TOTAL or SAFE
                                     message taken in this view; 0: none */
    uint64_t total_ordered;       /* the sequencer's: through which its
                                     TOTAL and SAFE messages are ordered */

    /* What it has of ours. */
    bool reports_us;              /* it has sent a stability entry for us */
    uint64_t delivered_ours;      /* our FIFO seqs it delivered, through */
    uint64_t needs_from;          /* our next seq when we first heard it */

    /* What it has of everyone's: the stability vector it last reported
     * (co_peers_note_vector), one entry per sender id, sorted by id. */
    co_vec_entry_t *vec;          /* vec_cap entries */
    size_t vec_count;
    uint64_t vec_reports;         /* reports noted, the LRU clock */
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
    size_t no_aes;                /* peers with no_aes set */
    size_t span;                  /* slots[span..cap) are all free: walks
                                     over the peers stop at span (every
                                     turn walks them several times) */
    uint16_t *hint;               /* hint_mask + 1 buckets by id hash:
                                     slot index + 1 of an id last found
                                     there (0: none), checked on use */
    size_t hint_mask;
    co_tomb_t *tombs;             /* cap entries */
    uint64_t burials;
    size_t vec_cap;               /* entries per peer vector: cap + 1, the
                                     most senders a member can know */
    size_t store_bytes;           /* bound of each peer's store (the
                                     send window; set before any add) */
    const co_mem_t *mem;          /* for the table and each peer's buffers */
} co_peers_t;

/* mem: the allocator (NULL: the C library's). */
int co_peers_init(co_peers_t *p, size_t cap, const co_mem_t *mem);
void co_peers_free(co_peers_t *p);

/* The entry of member id, or NULL. Usually one probe (a hint by the
 * id's hash, checked), else a walk of the slots, which renews the hint. */
co_peer_t *co_peers_find(co_peers_t *p, uint32_t id);

/* Take a free slot for (id, incarnation); NULL when the table is full or
 * memory ran out. rx_bytes bounds its receive window. */
co_peer_t *co_peers_add(co_peers_t *p, uint32_t id, uint32_t incarnation,
                        size_t rx_bytes);

/* Release a slot and everything it holds. */
void co_peers_remove(co_peers_t *p, co_peer_t *peer);

/* peer's datagrams say it cannot open AES-256-GCM (CO_FLAG_NOAES): count
 * it in p->no_aes until it is removed. Idempotent; true the first time. */
bool co_peers_note_no_aes(co_peers_t *p, co_peer_t *peer);

/* Remember peer in a tomb, then remove it. left: it said LEAVE, so
 * nothing from this incarnation is ever taken again. */
void co_peers_forget(co_peers_t *p, co_peer_t *peer, bool left);

/* A LEAVE from a member this one never tracked: remember that it left, so
 * a replay of its older datagrams cannot bring it in later. A tomb of a
 * newer incarnation of the id is kept. */
void co_peers_bury_left(co_peers_t *p, uint32_t id, uint32_t incarnation,
                        uint64_t packet_seq);

/* The tomb of member id, or NULL. */
co_tomb_t *co_peers_tomb(co_peers_t *p, uint32_t id);

/* Give a re-admitted peer what its tomb remembers, and free the tomb. */
void co_peers_revive(co_peers_t *p, co_peer_t *peer, co_tomb_t *tomb);

/* Our FIFO seq through which every member of the view (in_view) holds our
 * records: the minimum of what each has reported, or, for one that has
 * not reported yet, what it has needed since we first heard it. A sender
 * that is not in the view holds back nothing. our_next - 1 with no
 * members. */
uint64_t co_peers_stable_through(const co_peers_t *p, uint64_t our_next);

/* Record the stability entries peer reported (count of them, wire form
 * as in a HEARTBEAT or an ACK body, already checked by the decoder).
 * Entries are kept per sender id: a newer incarnation of a sender
 * replaces the older one's entry, an older one is ignored, and for the
 * same incarnation the highest delivered_seq wins (delivery never goes
 * back, so a lower value is a report reordered on the way). A heartbeat
 * lists at most cap + 1 senders; when a new sender finds the vector full,
 * the entry reported least recently goes (ties: lowest id). Allocates
 * nothing; callable at any time. */
void co_peers_note_vector(co_peers_t *p, co_peer_t *peer,
                          const uint8_t *entries, size_t count);

/* What peer last reported of sender (id, incarnation): its delivered_seq,
 * or 0 when it has reported nothing about that incarnation. */
uint64_t co_peers_reported(const co_peer_t *peer, uint32_t id,
                           uint32_t incarnation);

/* The seq through which every member in members[0 .. n) has delivered
 * the FIFO records of sender: min(own_delivered, each member's report).
 * A member not in the table with that exact incarnation, or that has not
 * reported that sender, counts as 0 (nothing is stable). The sender
 * itself, if listed, is skipped (it holds all its own records), and so is
 * self_id: this member is never in its own table, and the caller gives
 * its own position as own_delivered. members is the caller's (a view),
 * only read. O(n): each member found by its hint (co_peers_find). */
uint64_t co_peers_group_stable(const co_peers_t *p,
                               const co_member_ref_t *members, size_t n,
                               uint32_t self_id, co_member_ref_t sender,
                               uint64_t own_delivered);

/* The same, leaving out the members for which skip(ctx, id, incarnation)
 * is true (as if they had delivered everything). skip NULL: none. */
typedef bool co_member_skip_fn(const void *ctx, uint32_t id,
                               uint32_t incarnation);
uint64_t co_peers_group_stable_but(const co_peers_t *p,
                                   const co_member_ref_t *members, size_t n,
                                   uint32_t self_id, co_member_ref_t sender,
                                   uint64_t own_delivered,
                                   co_member_skip_fn *skip, const void *ctx);

/* Bytes held in receive windows and reassembly buffers. */
size_t co_peers_rx_bytes(const co_peers_t *p);

/* Bytes held in the peers' stores (each bounded by store_bytes). */
size_t co_peers_store_bytes(const co_peers_t *p);

#endif
