/*
 * state.h - state transfer (cohort.h, "State transfer"; docs/protocol.md,
 * "State transfer").
 *
 * The requester puts a control record (CO_REC_CONTROL, class TOTAL) in
 * its own stream; the sequencer orders it like any TOTAL message, so it
 * has one place in the view's order at every member. Where a member
 * delivers it:
 *
 *  - the requester stops delivering TOTAL and SAFE messages (they wait in
 *    their holds, which are bounded and push back on their senders);
 *  - every other member answers the requester by unicast (XFER STATUS):
 *    "I can provide" (it holds a state: it is not itself waiting for one,
 *    and config.state_provider is set) or "I cannot". One that can also
 *    stops delivering TOTAL and SAFE messages there, so its state stays
 *    the state at that place, until the requester says GO or CANCEL;
 *  - the requester takes the first "can" (the quickest: an idle member
 *    before a busy one), says GO to it and CANCEL to the rest. If every
 *    other member of the view says "cannot", no one holds a state: DONE
 *    with COHORT_STATE_NONE, and the requester goes on with its own;
 *  - on GO the provider's application gets STATE_REQUEST at exactly that
 *    place and sends its snapshot (co_core_state_send), which travels as
 *    XFER DATA over a go-back-N unicast stream with cumulative ACKs and a
 *    window of CO_XFER_WINDOW datagrams, resent on a timer;
 *  - the requester gives each piece to its application (STATE_CHUNK) as
 *    it comes in order and its event queue has room, then STATE_DONE at
 *    the last piece, and delivers what it held: exactly the TOTAL and
 *    SAFE messages ordered after its request.
 *
 * Every answer is repeated until acknowledged (GO and CANCEL acknowledge
 * STATUS; DATA acknowledges GO; ACK acknowledges DATA), so loss only
 * delays. A view change ends every transfer: the requester drops what it
 * held (a new snapshot covers it) and asks again in the new view; the
 * provider's co_core_state_send() answers STATE.
 *
 * Bounded: CO_XFER_SLOTS outgoing transfers of CO_XFER_WINDOW datagrams
 * each, one incoming, and at most max_members answers owed.
 *
 * Calls down only: the event queue (events.c), datagrams out (output.c),
 * the core's send path for the request record (co_core_send_control).
 */
#ifndef COHORT_STATE_H
#define COHORT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct co_core co_core_t;
typedef struct co_peer co_peer_t;

#define CO_XFER_SLOTS 4    /* transfers one member provides at once */
#define CO_XFER_WINDOW 64  /* datagrams of one transfer not yet acked */

/* A piece of a snapshot sent and not yet acknowledged. */
typedef struct co_xfer_piece {
    uint64_t seq, offset;
    uint16_t len;
    bool last;
    uint8_t *data;          /* piece_room bytes, allocated with the slot */
} co_xfer_piece_t;

/* One snapshot this member provides. */
typedef struct co_xfer_out {
    bool in_use;
    bool started;           /* STATE_REQUEST given to the application */
    bool ended;             /* co_core_state_end() called */
    uint32_t handle;        /* the application's id (u.state.transfer) */
    uint32_t req_id, req_inc, transfer; /* the requester's */
    uint64_t next_seq;      /* of the next piece */
    uint64_t acked;         /* pieces below this one are held there */
    uint64_t offset;        /* bytes given so far */
    uint64_t resend_at_ns;  /* 0: nothing unacknowledged */
    uint64_t fast_ok_ns;    /* no resend on a repeated ACK before this */
    unsigned idle_rounds;   /* resends with no progress */
    co_xfer_piece_t *ring;  /* CO_XFER_WINDOW pieces, by seq % window */
    uint8_t *store;         /* their data */
} co_xfer_out_t;

/* An answer owed to a requester, repeated until acknowledged. */
typedef struct co_xfer_owed {
    uint32_t req_id, req_inc, transfer;
    bool yes;
    uint64_t at_ns;         /* next repeat */
    unsigned left;          /* repeats left */
} co_xfer_owed_t;

typedef enum co_state_phase {
    CO_STATE_IDLE = 0,      /* holds a state (or never asked) */
    CO_STATE_WANTED,        /* asked: the request record is not out yet */
    CO_STATE_SENT,          /* the record is out: waiting for its place
                               (answers and pieces are taken already) */
    CO_STATE_ASKING,        /* at its place: collecting answers */
    CO_STATE_RECEIVING,     /* at its place, a provider chosen */
} co_state_phase_t;

typedef struct co_state {
    /* As requester. */
    co_state_phase_t phase;
    uint32_t transfer;      /* the current request's id */
    uint32_t next_transfer; /* ids, from 1 */
    bool ever_asked;        /* co_state_request() was called once */
    uint64_t alone_since_ns;/* wanted while alone in the view: since */
    bool ending;            /* the view's flush is delivering its end */
    bool superseding;       /* the view ends without the state: drop
                               what was held (until the next install) */
    bool placed;            /* its request reached its place here:
                               TOTAL and SAFE delivery waits */
    uint32_t prov_id, prov_inc; /* the chosen provider, 0 before */
    uint64_t go_at_ns;      /* next GO repeat */
    uint64_t rx_next;       /* next piece expected */
    uint64_t rx_bytes;
    uint64_t view_id;       /* of the request */
    uint8_t *answered;      /* per view member index: 0 none, 1 no, 2 yes */
    size_t n_answered, n_candidates;
    /* As provider candidate: frozen at a request's place. */
    bool offering;
    uint32_t off_id, off_inc, off_transfer;
    uint64_t off_until_ns;  /* withdraw after this */
    bool off_go;            /* GO came: give STATE_REQUEST when room */
    co_xfer_out_t out[CO_XFER_SLOTS];
    uint32_t next_handle;
    co_xfer_owed_t *owed;   /* max_members */
    size_t n_owed, owed_cap;
    size_t piece_room;      /* payload bytes per DATA datagram */
} co_state_t;

int co_state_init(co_core_t *core);
void co_state_free(co_core_t *core);

/* Whether old's next life asks for the state at its first view with
 * others: old did (config.state_transfer) or was asked to. */
bool co_state_wanted_again(const co_core_t *old);

/* core is old's next life (co_core_successor): transfer ids go on from
 * old's. old is not changed. */
void co_state_hand_over(const co_core_t *old, co_core_t *core);

/* A state is asked for and not yet DONE. */
bool co_state_wanted(const co_core_t *core);

/* Ordered delivery must stop here (a requester at its request's place,
 * or a candidate that offered and waits for the requester's choice). */
bool co_state_frozen(const co_core_t *core);

/* A control record of from's (NULL: this member's own) reached its place
 * in the order. Takes data. */
void co_state_ordered(co_core_t *core, const co_peer_t *from,
                      uint8_t *data, size_t len, uint64_t now_ns);

/* The flush is delivering the end of the view: offers are withdrawn. True
 * when this member was waiting for its state: its held TOTAL and SAFE
 * messages are to be dropped (the next view's snapshot covers them), and
 * it asks again once the next view is installed. */
bool co_state_view_ending(co_core_t *core);

/* A view was installed: every transfer ends; a pending request is made
 * again (or, alone in the view, resolved as NONE). */
void co_state_installed(co_core_t *core, uint64_t now_ns);

/* An XFER datagram from peer (decoded), sent in view_id. */
void co_state_recv(co_core_t *core, co_peer_t *peer, uint64_t view_id,
                   const co_xfer_t *x, uint64_t now_ns);

void co_state_tick(co_core_t *core, uint64_t now_ns);
uint64_t co_state_deadline(const co_core_t *core);

/* Give out what waits for room in the event queue (STATE_REQUEST after
 * GO, pieces). */
void co_state_run(co_core_t *core, uint64_t now_ns);

int co_state_request(co_core_t *core, uint64_t now_ns);
int co_state_send(co_core_t *core, uint64_t now_ns, uint32_t handle,
                  const uint8_t *data, size_t len);
int co_state_end(co_core_t *core, uint64_t now_ns, uint32_t handle);

/* Bytes held for transfers (pieces not yet acknowledged). */
size_t co_state_memory_bytes(const co_core_t *core);

#endif
