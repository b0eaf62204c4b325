/*
 * core_internal.h - the state of a core, shared by core.c (input and
 * timers), output.c (datagrams out) and events.c (events out).
 */
#ifndef COHORT_CORE_INTERNAL_H
#define COHORT_CORE_INTERNAL_H

#include "core.h"
#include "crypto.h"
#include "gms.h"
#include "parity.h"
#include "peers.h"
#include "rng.h"
#include "rpc.h"
#include "state.h"
#include "total.h"
#include "txbuf.h"
#include "wire.h"

/* A datagram under construction: header room, then body. */
typedef struct co_builder {
    uint8_t *buf;            /* max_datagram bytes */
    size_t body_len;
    bool open;               /* begun and not yet finished */
    uint8_t type;
    co_dest_kind_t kind;
    co_addr_t dest;
    bool has_fifo;           /* carries FIFO records (tail probe needed) */
    uint64_t view_id;        /* the header's: the current view at begin;
                                a repair names the view of its records */
    uint32_t origin_id;      /* FORWARD: whose records (set before begin) */
    uint32_t origin_inc;
    uint64_t begun_ns;       /* the bundle: when its first record came */
} co_builder_t;

/* Datagrams waiting for the caller. Slots head .. head+popped-1 were
 * handed out and stay valid until the next non-co_core_next_tx call. */
typedef struct co_txq {
    uint8_t **bufs;
    size_t *lens;
    co_dest_kind_t *kinds;
    co_addr_t *dests;
    uint64_t *send_by;       /* co_tx_t.send_by_ns */
    size_t cap, head, count, popped;
} co_txq_t;

/* One queued event with owned storage. */
typedef struct co_evslot {
    cohort_event_type_t type;
    cohort_member_t who;
    char name[COHORT_NAME_MAX + 1];
    cohort_mode_t mode;
    uint8_t *data;
    size_t len;
    int code;
    uint64_t count;          /* WARNING: messages lost (COHORT_ERR_LOST) */
    char text[120];
    /* VIEW: data holds members, joined, left, failed back to back */
    uint64_t view_id;
    uint32_t n_members, n_joined, n_left, n_failed;
    bool primary;
    uint64_t order;          /* MESSAGE: TOTAL and SAFE position */
    uint32_t mflags;         /* MESSAGE: COHORT_MESSAGE_* */
    uint32_t transfer;       /* STATE_*: the transfer id; REQUEST, REPLY,
                                REQUEST_DONE: the request id */
    uint32_t replies, wanted;/* REQUEST_DONE */
} co_evslot_t;

/* Slots only VIEW events may take, so that a flood of other events never
 * costs a view report. */
#define CO_EVQ_VIEW_SLOTS 8

typedef struct co_evq {
    co_evslot_t *slots;
    size_t cap, head, count;
    size_t data_limit;       /* message events admitted while count < it */
    size_t bytes, max_bytes; /* message payload bytes queued */
    size_t reserved;         /* total_len of messages in reassembly, taken
                                from the budget when their FIRST got in */
    uint8_t *handed_out;     /* payload of the last event given out */
    bool stalled;            /* delivery paused for room */
    const co_mem_t *mem;
} co_evq_t;

/* A message larger than the window takes its fragments out as room
 * appears; one at a time, bounded by max_message. */
typedef struct co_pending {
    uint8_t *data;
    size_t len, off;
    uint64_t view_id;        /* the view its first records went out in */
    uint8_t cls;             /* enum co_record_class of its records */
    bool reserved;           /* a place in the own hold was reserved for
                                its own delivery (co_hold_reserve) */
} co_pending_t;

/* A decoded membership body (membership.c). */
typedef union co_mbody {
    co_vchunk_t vchunk;
    co_flush_ok_t flush;
    co_cut_chunk_t cut;
    uint64_t pid;
    co_path_t path;
} co_mbody_t;

struct co_core {
    co_core_config_t cfg;
    const co_mem_t *mem;     /* cfg.mem, or the C library's */
    co_rng_t rng;
    co_crypto_t crypto;
    struct cohort_stats stats;
    bool left;

    size_t body_room;        /* body bytes per datagram */
    size_t record_room;      /* payload bytes per record */
    size_t ack_bytes;        /* delivered bytes that trigger an ACK */
    size_t data_window;      /* bytes the application's records may hold
                                in the window now: send_window_bytes, or
                                its share (window_share_min) */
    uint64_t share_at_ns;    /* next count of the members sending */
    uint64_t ack_delay_ns;
    uint64_t probe_delay_ns;

    uint64_t packet_seq;     /* last assigned */
    uint64_t unreliable_seq; /* last assigned */
    co_txbuf_t tx;
    co_pending_t pending;
    co_peers_t peers;

    co_builder_t bundle;
    uint64_t bundle_deadline_ns; /* 0: nothing bundled */
    uint64_t sequence_at_ns;     /* sequencer: datagrams came in since the
                                    last ORDER record (0: none); the
                                    next tick orders them all at once */
    co_builder_t scratch;        /* control datagrams */
    co_builder_t retx_group;     /* retransmissions to the group */
    co_builder_t retx_unicast;   /* retransmissions to one member */
    uint64_t tx_sent;            /* first seq not yet out: records from
                                    here to tx.next - 1 are held while a
                                    view change is in progress (vsync.c) */
    uint64_t bundle_out_below;   /* records below it are queued, when
                                    the bundle was last finished */
    uint64_t parity_pro_next;    /* parity_extra: first block not yet
                                    given its unasked symbols (0: from
                                    the first block held) */
    size_t held_messages;        /* whole messages among them */
    bool store_waits;            /* some peer's store_waits is set */
    bool vs_flushing;            /* delivering the old view through the
                                    cuts of a COMMIT (vsync.c) */
    bool vs_ending;              /* the old view's end is being given
                                    out (co_total_end_view began): from
                                    then on the install is never given
                                    up, since what went out of the old
                                    view's end in a fixed order matches
                                    only a member that installs too */
    uint64_t vs_flush_deadline_ns;
    uint64_t vs_flush_ns;        /* the longest a flush may take while the
                                    network, not the application, holds
                                    it up; then the install is abandoned */
    uint8_t *rxbuf;              /* mutable copy for in-place decryption */
    co_ack_entry_t *entries;     /* a heartbeat's stability vector */
    co_txq_t txq;
    co_evq_t evq;

    uint64_t heartbeat_at_ns;
    uint64_t probe_at_ns;        /* 0: none */
    uint64_t path_at_ns;         /* no PATH before this (one every half
                                    heartbeat interval at most) */
    uint64_t warned_at_ns;       /* last security warning event */
    uint64_t aes_drops_since_ns; /* AES-256-GCM datagrams this member
                                    cannot open have come since then */
    uint64_t aes_drop_at_ns;     /* ... the last of them (0: none yet) */

    co_gms_t gms;                /* agreed views (membership.c) */
    co_total_t total;            /* TOTAL and SAFE delivery (total.c) */
    co_state_t state;            /* state transfer (state.c) */
    co_rpc_t rpc;                /* request-reply (rpc.c) */
    co_parity_rx_t parity;       /* parity symbols received (parity.c) */
    co_flush_entry_t *flush_entries; /* max_members: a FLUSH_OK vector */
    uint64_t leave_spacing_ns;   /* between copies of LEAVE */
    uint64_t leave_at_ns;        /* next copy of LEAVE; 0: none left */
    unsigned leave_copies_left;
};

/* output.c */
int co_output_init(co_core_t *core);
void co_output_free(co_core_t *core);
void co_txq_release(co_txq_t *q);
size_t co_txq_room(const co_txq_t *q);
void co_builder_begin(co_core_t *core, co_builder_t *b, uint8_t type,
                      co_dest_kind_t kind, const co_addr_t *dest);
/* Append a record to b, closing b first when it is full. */
void co_builder_add_record(co_core_t *core, co_builder_t *b,
                           const co_record_t *r, uint64_t now_ns);
/* Seal b and queue it; b becomes empty. */
void co_builder_finish(co_core_t *core, co_builder_t *b, uint64_t now_ns);
/* A unicast datagram of type to dest (state transfer, request-reply):
 * begin returns where its body goes (core->body_room bytes), or NULL
 * when the queue has no room for it (the caller's timer repeats it, as
 * if the network had lost it); finish seals and queues it. */
uint8_t *co_unicast_begin(co_core_t *core, uint8_t type,
                          const co_addr_t *dest);
void co_unicast_finish(co_core_t *core, size_t body_len, uint64_t now_ns);
void co_bundle_add(co_core_t *core, const co_record_t *r, uint64_t now_ns);
void co_send_heartbeat(co_core_t *core, uint64_t now_ns);
/* A PATH: exactly max_datagram long, to the group. */
void co_send_path(co_core_t *core, uint64_t now_ns);
void co_send_ack(co_core_t *core, co_peer_t *peer, uint64_t now_ns);
/* NACKs for peer's gaps in [from, through], sent to dest (peer's own
 * address, or in a flush the member that holds its records). Returns the
 * highest seq asked for, 0 when none was. */
uint64_t co_send_nack(co_core_t *core, co_peer_t *peer,
                      const co_addr_t *dest, uint64_t from, uint64_t through,
                      uint64_t now_ns);
/* Answer a NACK for another member's records from its store (FORWARD). */
void co_forward_repair(co_core_t *core, co_peer_t *asker,
                       const co_nack_t *nack, uint64_t now_ns);
void co_send_leave(co_core_t *core, uint64_t now_ns);
void co_retransmit(co_core_t *core, co_peer_t *asker,
                   const co_nack_t *nack, uint64_t now_ns);
void co_count_drop(co_core_t *core, int reason);

/* membership.c */
int co_membership_init(co_core_t *core, uint64_t now_ns);
void co_membership_free(co_core_t *core);
uint64_t co_membership_view_id(const co_core_t *core);
/* Member (id, incarnation) was heard in a view after this member's: it
 * installed that view, so it needs no record of this view or an earlier
 * one again (a store need not keep them for it). */
bool co_membership_moved_on(const co_core_t *core, uint32_t id,
                            uint32_t incarnation);
int co_membership_decode(const co_header_t *h, const uint8_t *body,
                         co_mbody_t *out);
/* A PATH should go with this heartbeat (co_gms_path_wanted). */
bool co_membership_path_wanted(const co_core_t *core, uint64_t now_ns);
/* Any datagram accepted from h's sender; datagram: the max_datagram its
 * heartbeat names (0: not a heartbeat). */
void co_membership_heard(co_core_t *core, const co_header_t *h,
                         size_t datagram, uint64_t now_ns);
void co_membership_recv(co_core_t *core, const co_header_t *h,
                        const co_mbody_t *b, uint64_t now_ns);
void co_membership_left(co_core_t *core, const co_header_t *h,
                        uint64_t now_ns);
void co_membership_leave(co_core_t *core, uint64_t now_ns);
void co_membership_tick(co_core_t *core, uint64_t now_ns);
uint64_t co_membership_deadline(const co_core_t *core);

/* membership.c: the flush delivery is complete; install the view. */
void co_membership_flush_done(co_core_t *core, uint64_t now_ns);
void co_membership_flush_abandon(co_core_t *core, uint64_t now_ns);

/* vsync.c - virtual synchrony: what may be delivered and sent when. */
/* May the FIFO record seq of peer, sent in view_id, be delivered now? */
bool co_vs_deliverable(const co_core_t *core, const co_peer_t *peer,
                       uint64_t seq, uint64_t view_id);
/* May an unreliable record of peer sent in view_id be delivered now? */
bool co_vs_unreliable_ok(const co_core_t *core, const co_peer_t *peer,
                         uint64_t view_id);
/* Sends are held: no view yet, or a view change is in progress. */
bool co_vs_holding(const co_core_t *core);
/* A COMMIT is to be applied: deliver the old view through its cuts. */
void co_vs_flush_begin(co_core_t *core, uint64_t now_ns);
/* Every sender of the old view is delivered through its cut. */
bool co_vs_flush_complete(const co_core_t *core);
/* Once the flush is complete, deliver the old view's end (the total
 * order to its end, then what nothing ordered, in the fixed order): true
 * when all of it is out and the view may be installed. From its first
 * call on the install is never abandoned. */
bool co_vs_end_old_view(co_core_t *core, uint64_t now_ns);
/* After a delivery, a datagram or a tick: install once complete, or
 * abandon the install when the flush is stuck past its deadline. */
void co_vs_poll(co_core_t *core, uint64_t now_ns);
/* The view was installed (its event queued): members' streams start or
 * end at the cuts, held sends go out. */
void co_vs_installed(co_core_t *core, uint64_t now_ns);
/* A sender just admitted: if the view names it, its stream starts where
 * the view change said. */
void co_vs_admitted(co_core_t *core, co_peer_t *peer);
/* Where peer's NACKs go: to it, or during a flush of a departed sender
 * to the member named as holding its records. */
const co_addr_t *co_vs_nack_dest(co_core_t *core, const co_peer_t *peer);
/* Restart peer's stream at seq, giving up what lies before (with a LOST
 * warning when warn). */
void co_vs_restart_stream(co_core_t *core, co_peer_t *peer, uint64_t seq,
                          bool warn);

/* core.c: put an ORDER record (payload data) in this member's stream, as
 * the sequencer. 0, or AGAIN when the window or queue has no room. */
int co_core_push_order(co_core_t *core, uint64_t now_ns, const uint8_t *data,
                       size_t len);

/* core.c: put out held records (after an install); co_core_flush_bundle
 * (core.h) seals what is bundled now. */
void co_core_release_held(co_core_t *core, uint64_t now_ns);

/* events.c */
void co_event_view(co_core_t *core);
int co_evq_init(co_evq_t *q, size_t data_limit, size_t extra,
                size_t max_bytes, const co_mem_t *mem);
void co_evq_free(co_evq_t *q);
/* Room for a message event adding need bytes (co_evq_need()): within the
 * budget, or the queue holds no message bytes (reservations alone never
 * hold a message back; see events.c). */
bool co_evq_has_room(const co_evq_t *q, size_t need);
/* Bytes of the budget a FIFO record takes: a whole message its length, a
 * FIRST fragment its message's total_len, any other fragment nothing (its
 * message was counted at FIRST). */
size_t co_evq_need(uint8_t flags, uint32_t total_len, size_t len);
/* Hold peer's reassembly in progress against the budget (after every
 * change to peer->reasm, and 0 before peer goes). */
void co_evq_reserve_follow(co_core_t *core, co_peer_t *peer);
void co_evq_release(co_evq_t *q);
void co_event_message(co_core_t *core, const co_peer_t *peer,
                      cohort_mode_t mode, uint8_t *data, size_t len);
/* This member's own FIFO message (self-delivery); takes data. */
void co_event_self(co_core_t *core, uint8_t *data, size_t len);
/* A message out of a hold (total.c), with its order and flags; takes
 * data. */
void co_event_ordered(co_core_t *core, cohort_member_t who, const char *name,
                      cohort_mode_t mode, uint8_t *data, size_t len,
                      uint64_t order, uint32_t flags);
/* A STATE_* event (state.c); takes data (CHUNK). REQUEST and DONE use
 * the slots kept for views: they are never dropped. */
void co_event_state(co_core_t *core, cohort_event_type_t type,
                    uint32_t transfer, cohort_member_t peer, uint8_t *data,
                    size_t len, uint64_t offset, int result,
                    uint64_t view_id);
/* The state-transfer request record into this member's stream (a TOTAL
 * record the library reads itself). 0 or AGAIN, NOMEM. */
int co_core_send_control(co_core_t *core, uint64_t now_ns,
                         const uint8_t *data, size_t len);
/* A REQUEST, REPLY or REQUEST_DONE event (rpc.c); takes data. DONE uses
 * the slots kept for views: it is never dropped. */
void co_event_request(co_core_t *core, cohort_event_type_t type,
                      uint32_t rid, cohort_member_t peer, uint8_t *data,
                      size_t len, cohort_mode_t mode, uint32_t flags,
                      int result, uint32_t replies, uint32_t wanted,
                      uint64_t view_id);
/* A request to the group into this member's stream: a message of mode
 * whose records carry CO_REC_REQUEST (rpc.c). Errors as co_core_send. */
int co_core_send_request(co_core_t *core, uint64_t now_ns,
                         cohort_mode_t mode, const void *data, size_t len);
void co_event_member(co_core_t *core, const co_peer_t *peer,
                     cohort_event_type_t type, int reason);
/* about: the member concerned ({0, 0}: none); count: see warning.count. */
void co_event_warning(co_core_t *core, int code, const char *text,
                      cohort_member_t about, uint64_t count);
void co_deliver_ready(co_core_t *core, co_peer_t *peer, uint64_t now_ns);
/* Try again the members whose next record waits for room in their store
 * (a stability report may have made some). */
void co_deliver_store_waiting(co_core_t *core, uint64_t now_ns);
bool co_deliver_in_order(co_core_t *core, co_peer_t *peer,
                         const co_record_t *r, uint64_t now_ns);

#endif
