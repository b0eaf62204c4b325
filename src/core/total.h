/*
 * total.h - TOTAL and SAFE delivery (docs/protocol.md, "Total order";
 * docs/guarantees.md, "Total order").
 *
 * A TOTAL or SAFE message travels once, in its sender's reliable FIFO
 * stream, tagged with its class. The view's sequencer (its coordinator,
 * members[0]) puts ORDER records into its own stream: "member M, through
 * its seq X", each ordering every TOTAL and SAFE message of M up to X not
 * ordered before; its own such messages are ordered by their place in its
 * stream. Every member reads the sequencer's stream in FIFO order, so all
 * follow one list, and repairs, flow control and the view-change flush
 * come from the FIFO machinery unchanged.
 *
 * Taken messages wait in their sender's hold (hold.h) until their turn;
 * a FIFO message sent after a waiting one waits behind it, so each
 * sender's reliable messages stay in its order whatever their modes. A
 * SAFE message also waits until every member of the view holds it and
 * the record that ordered it (the stability vectors; acks go to the
 * group while SAFE messages are about).
 *
 * When the view ends, once the flush has delivered every sender through
 * its cut, the list is followed to its end and what no entry ordered is
 * delivered in a fixed order (view members in view order, each in its
 * stream order), flagged COHORT_MESSAGE_TRANSITIONAL, as is a SAFE
 * message whose stability was never confirmed: members that move on
 * together hold the same messages and the same list, so they deliver the
 * same sequence.
 *
 * Calls down only: peers, holds, the event queue (events.c), and the
 * core's send path for ORDER records (co_core_push_order).
 */
#ifndef COHORT_TOTAL_H
#define COHORT_TOTAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hold.h"
#include "peers.h"

typedef struct co_core co_core_t;

/* One entry of the view's order list. */
typedef struct co_order_slot {
    uint32_t id, incarnation;
    uint64_t through;        /* its messages with LAST seq <= through */
    uint64_t carrier;        /* seq of the sequencer's record that gave it
                                (SAFE waits until every member holds it);
                                0: the sequencer's own messages, each
                                ordered by its own place */
} co_order_slot_t;

typedef struct co_total {
    co_order_slot_t *list;   /* ring of cap */
    size_t cap, head, count;
    co_hold_t self_hold;     /* this member's own messages (self-delivery) */
    uint64_t order;          /* TOTAL and SAFE deliveries in this view */
    uint64_t delivered;      /* messages given out of holds, ever */
    size_t held;             /* messages in holds (0: nothing to walk; a
                                hold freed with its peer is forgotten at
                                the next install, never undercounted) */
    size_t held_fifo;        /* of them FIFO ones, counted alike: 0, no
                                hold has one at its head to drain */
    co_member_ref_t *members;/* the installed view (SAFE stability) */
    size_t n_members, members_cap;
    size_t hold_max;         /* bytes each sender's hold may take
                                (recv_buffer_bytes) */
    bool stalled;            /* a stream waits for room in a hold or the
                                list: retried as messages leave */
    bool transitional;       /* a transitional message was delivered in
                                this view: all later ones are too */
    bool safe_seen;          /* SAFE messages in this view: acks go to the
                                group so every member learns stability */
} co_total_t;

int co_total_init(co_core_t *core);
void co_total_free(co_core_t *core);

/* The installed view's sequencer is this member. */
bool co_total_is_sequencer(const co_core_t *core);

/* May peer's next record (flags, total_len, len) be taken now? FIFO
 * records of a sender with nothing held go straight to the event queue
 * (its room); the others need room in the sender's hold, and ORDER
 * records room in the list. When not, the stall is noted, so that the
 * stream is tried again when room appears. */
bool co_total_room(co_core_t *core, co_peer_t *peer, uint8_t flags,
                   uint32_t total_len, size_t len);

/* Will a whole message of class cls from peer go to its hold (rather
 * than straight to the event queue)? Then the caller reserves its place
 * (co_hold_reserve) before it takes the message from the stream. */
bool co_total_holds(const co_peer_t *peer, uint8_t cls);

/* A whole message of peer's, its LAST record seq, class cls: to the
 * event queue, or to its hold. Takes data; reserved: a place in peer's
 * hold was reserved for it (used, or given back). */
void co_total_take(co_core_t *core, co_peer_t *peer, uint64_t seq,
                   uint8_t cls, uint8_t *data, size_t len, bool reserved);

/* An ORDER record of peer's (its seq), payload data: entries for the
 * list when peer is the view's sequencer (else dropped and counted). */
void co_total_order_record(co_core_t *core, const co_peer_t *peer,
                           uint64_t seq, const uint8_t *data, size_t len);

/* This member's own record seq of class cls went out in the installed
 * view; data (owned, NULL without self-delivery) is the whole message
 * when seq is a LAST record, or an ORDER record's payload (only read);
 * reserved: a place in this member's own hold was reserved for it at send
 * time (used, or given back). */
void co_total_own(co_core_t *core, uint64_t seq, uint8_t cls, uint8_t *data,
                  size_t len, bool reserved);

/* Will this member's own next message of class cls go to its hold when
 * it goes out (so its place is reserved when it is sent)? */
bool co_total_own_holds(const co_core_t *core, uint8_t cls);

/* Room to take one more own TOTAL or SAFE message of len bytes. */
bool co_total_own_room(const co_core_t *core, size_t len);

/* Sequencer: put an ORDER record in the stream for what was taken and
 * not yet ordered (not while sends are held). */
void co_total_sequence(co_core_t *core, uint64_t now_ns);

/* Deliver what the list allows now. */
void co_total_run(co_core_t *core, uint64_t now_ns);

/* The flush delivered every sender through its cut: follow the list to
 * its end and deliver the rest (transitional). True when nothing of the
 * view is left held; false while the event queue is full. */
bool co_total_end_view(co_core_t *core, uint64_t now_ns);

/* A view was installed: a new list, numbering and sequencer. */
void co_total_installed(co_core_t *core);

/* Ordered messages of this view will not be delivered here (records its
 * stream skipped): the places of its later deliveries are its own, so
 * they are transitional. */
void co_total_diverged(co_core_t *core);

/* Acks should go to the whole group (SAFE in this view). */
bool co_total_acks_to_group(const co_core_t *core);

/* Bytes held in holds (the list's ring is a fixed allocation). */
size_t co_total_memory_bytes(const co_core_t *core);

#endif
