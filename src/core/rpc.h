/*
 * rpc.h - group request-reply (cohort.h, "Request-reply";
 * docs/protocol.md, "Request-reply").
 *
 * Requester side: a table of requests in flight (config rpc_max_requests).
 * Each names the members it waits for (parties): the target, or the
 * members of the view current at the call (this member too, with
 * self-delivery). A request to the group is a message of the chosen mode
 * whose records carry CO_REC_REQUEST, so it takes the ordinary reliable
 * path and the view-change flush; a request to one member is an RPC REQ
 * stream by unicast. Every reply is an RPC REPLY stream by unicast.
 *
 * A stream (co_rpc_out_t) is a payload cut into pieces of one datagram,
 * at most CO_RPC_WINDOW of them unacknowledged; the receiver takes pieces
 * in order only (co_rpc_in_t) and acknowledges the bytes it holds, the
 * sender resends from there on a timer. A whole request acknowledged is
 * the server's "accepted"; a whole reply acknowledged is RRA.
 *
 * Completion: a party replied, will not reply (it left the view, or said
 * it cannot: its history lost the reply, or had no room), or waits. The
 * request is COMPLETE once the replies reach the number wanted, ends with
 * MEMBERS_LEFT once replies plus waiting parties cannot reach it, and
 * with TIMEDOUT at its deadline.
 *
 * Server side: the reply history (co_rpc_history_t), one entry per request
 * (requester id, incarnation, request id) seen, bounded by
 * rpc_history_len entries and rpc_history_bytes bytes of replies and
 * requests in assembly. Exactly once: a request to the group reaches
 * rpc.c once (the reliable stream delivers a message once), and its
 * entry lives until its reply is acknowledged; a request to one member
 * may come again (the requester repeats it until it is acknowledged), so
 * its entry stays, as a tombstone after RRA, and a repeat is answered
 * from it: "held" while the application has not replied, the stored
 * reply again (RR) after. Each requester says below which id it has no
 * request to one member in flight (its floor, in REQ and REPLY_ACK):
 * entries below it go, and anything below it is a late copy, dropped.
 *
 * Over the byte bound, the oldest reply is dropped and an empty
 * UNANSWERED reply sent in its place (the requester counts that member
 * as one that will not reply), then the oldest request in assembly
 * (its requester sends it again). Over the entry bound the oldest
 * tombstone goes, and its id raises that requester's evicted mark: a
 * request at or below the mark and not in the history is refused
 * (UNANSWERED), never executed. With no tombstone to drop, a new request
 * is refused.
 *
 * The pure parts (history, completion) take no core and have their own
 * tests; the rest calls down to output.c and events.c and is wired by
 * core.c.
 */
#ifndef COHORT_RPC_H
#define COHORT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cohort.h"
#include "mem.h"

typedef struct co_core co_core_t;
typedef struct co_peer co_peer_t;

#define CO_RPC_WINDOW 32   /* pieces of one stream not yet acknowledged */
#define CO_RPC_ACK_EVERY 8 /* pieces between acknowledgements */

/* ---------------------------------------------------------------- */
/* Streams                                                            */
/* ---------------------------------------------------------------- */

typedef struct co_rpc_out {
    uint8_t *data;          /* owned; NULL: nothing to send */
    uint32_t len;
    uint32_t acked;         /* bytes the receiver holds */
    uint32_t sent;          /* bytes sent at least once */
    uint64_t resend_at_ns;  /* 0: nothing unacknowledged */
    uint64_t fast_ok_ns;    /* no resend on a repeated ACK before this */
    unsigned idle_rounds;   /* resends without progress (back-off) */
    uint8_t flags;          /* CO_RPC_F_* of every piece */
    bool started;           /* sent at least once */
    bool complete;          /* the receiver holds it all */
} co_rpc_out_t;

typedef struct co_rpc_in {
    uint8_t *buf;           /* total bytes (NULL while total is 0) */
    uint32_t total;
    uint32_t have;          /* bytes taken, in order */
    bool started;           /* the first piece came */
} co_rpc_in_t;

/* Take a piece at offset off of a payload of total bytes: 1 whole now,
 * 0 taken or ignored (out of order, repeat), -1 out of memory, -2 bad
 * (total changed). */
int co_rpc_in_take(co_rpc_in_t *in, const co_mem_t *mem, uint32_t total,
                   uint32_t off, const uint8_t *p, size_t len);
void co_rpc_in_free(co_rpc_in_t *in, const co_mem_t *mem);

/* ---------------------------------------------------------------- */
/* Completion (pure)                                                  */
/* ---------------------------------------------------------------- */

enum co_rpc_party_state { CO_PARTY_WAITING = 0, CO_PARTY_REPLIED,
                          CO_PARTY_GONE };

/* Replies a request waits for among n parties. */
size_t co_rpc_needed(cohort_want_t want, size_t n);

/* COHORT_REQUEST_COMPLETE or MEMBERS_LEFT when decided, else -1. */
int co_rpc_verdict(size_t needed, size_t replied, size_t waiting);

/* ---------------------------------------------------------------- */
/* Requester                                                          */
/* ---------------------------------------------------------------- */

typedef struct co_rpc_party {
    uint32_t id, inc;
    uint8_t state;          /* enum co_rpc_party_state */
    co_rpc_in_t in;         /* its reply, in assembly */
} co_rpc_party_t;

/* Where cohort_request_wait() collects (replies go there, no events). */
typedef struct co_rpc_sink {
    cohort_reply_t *replies;
    size_t max;
    uint8_t *buf;
    size_t buf_len, buf_used;
    size_t count;           /* entries filled */
    size_t received;        /* replies received, even past max */
    int result;             /* -1 until DONE */
} co_rpc_sink_t;

typedef struct co_rpc_req {
    bool in_use;
    uint32_t rid;
    uint8_t want;           /* cohort_want_t */
    bool to_group;
    uint64_t deadline_ns;   /* UINT64_MAX: none */
    uint64_t view_id;       /* at the call */
    size_t needed, replied, waiting;
    size_t n;
    co_rpc_party_t *party;  /* n */
    co_rpc_out_t out;       /* to one member: the REQ stream */
    uint8_t flags;          /* CO_RPC_F_* sent with it */
    co_rpc_sink_t *sink;    /* NULL: events */
} co_rpc_req_t;

/* ---------------------------------------------------------------- */
/* Server: the reply history (pure)                                   */
/* ---------------------------------------------------------------- */

enum co_rpc_hist_state {
    CO_HIST_ASSEMBLING = 1, /* a request to this member, pieces coming */
    CO_HIST_PENDING,        /* given to the application, no reply yet */
    CO_HIST_REPLIED,        /* the reply is held, sent until RRA */
    CO_HIST_DONE,           /* tombstone: acknowledged, or nothing owed
                               (requests to this member only: a request
                               to the group is never repeated, the
                               reliable stream delivers it once) */
};

typedef struct co_rpc_hist {
    uint32_t req_id, req_inc, rid;
    uint8_t state;          /* enum co_rpc_hist_state; 0: free slot */
    bool noreply;           /* the requester wants none */
    bool to_group;
    uint64_t age;           /* insertion order, for eviction */
    uint64_t heard_ns;      /* ASSEMBLING: when a piece last came */
    co_rpc_in_t in;         /* ASSEMBLING */
    co_rpc_out_t out;       /* REPLIED */
} co_rpc_hist_t;

/* What a requester told this member (bounded by max_members). */
typedef struct co_rpc_floor {
    uint32_t id, inc;
    uint32_t floor;         /* nothing of it in flight below this id */
    uint32_t evicted;       /* highest id whose entry was evicted */
} co_rpc_floor_t;

typedef struct co_rpc_history {
    co_rpc_hist_t *slots;
    size_t cap;             /* rpc_history_len */
    size_t hi;              /* every slot from here on is free: the
                               scans stop here (entries take the lowest
                               free slot) */
    size_t count;
    size_t bytes, max_bytes;/* replies and assemblies held */
    uint64_t next_age;
    co_rpc_floor_t *floors;     /* in the order they came */
    size_t n_floors, floors_cap;
    uint64_t evictions;     /* replies or entries dropped for the bounds */
    const co_mem_t *mem;
} co_rpc_history_t;

int co_rpc_history_init(co_rpc_history_t *h, size_t len, size_t bytes,
                        size_t floors, const co_mem_t *mem);
void co_rpc_history_free(co_rpc_history_t *h);
co_rpc_hist_t *co_rpc_history_find(co_rpc_history_t *h, uint32_t id,
                                   uint32_t inc, uint32_t rid);
/* How a new request (id, inc, rid) not in the history is to be taken:
 * CO_RPC_NEW (an entry may be added), CO_RPC_OLD (below the floor: a
 * late copy, dropped), CO_RPC_EVICTED (at or below the evicted mark:
 * refused, never executed). */
enum { CO_RPC_NEW = 0, CO_RPC_OLD, CO_RPC_EVICTED };
int co_rpc_history_classify(const co_rpc_history_t *h, uint32_t id,
                            uint32_t inc, uint32_t rid);
/* Add an entry of state with need bytes held, evicting for the bounds.
 * NULL: no room (every entry is in use by the application or in
 * assembly, or need alone exceeds the byte bound) or out of memory for
 * the floor table; nothing changed then. */
co_rpc_hist_t *co_rpc_history_add(co_rpc_history_t *h, uint32_t id,
                                  uint32_t inc, uint32_t rid, uint8_t state,
                                  size_t need);
/* Make room for need more bytes (a reply) beside what e holds; false if
 * it cannot be. */
bool co_rpc_history_room(co_rpc_history_t *h, const co_rpc_hist_t *keep,
                         size_t need);
/* The requester's floor moved: entries below it go (not PENDING ones). */
void co_rpc_history_floor(co_rpc_history_t *h, uint32_t id, uint32_t inc,
                          uint32_t floor);
/* The reply of e is acknowledged (RRA): a request to this member leaves
 * a tombstone, one to the group nothing. */
void co_rpc_history_settle(co_rpc_history_t *h, co_rpc_hist_t *e);
void co_rpc_history_remove(co_rpc_history_t *h, co_rpc_hist_t *e);
/* Requesters that fail keep (not in the view) hold no bytes: a reply
 * waiting for them becomes an empty UNANSWERED one (should one come
 * back, it learns that this member will not reply), a request in
 * assembly goes (it sends it again). */
/* Requests in assembly that heard no piece for idle_ns go: a requester
 * that still wants one sends it more often than that, and is told to
 * start again; one that gave up (its deadline passed, it was closed)
 * sends nothing more, and nothing else would free its bytes. Returns the
 * earliest time another one is due (UINT64_MAX: none). */
uint64_t co_rpc_history_expire(co_rpc_history_t *h, uint64_t now_ns,
                               uint64_t idle_ns);
void co_rpc_history_release(co_rpc_history_t *h,
                            bool (*keep)(void *arg, uint32_t id, uint32_t inc),
                            void *arg);
/* Forget requesters that fail keep (not in the view), and their entries
 * (PENDING ones stay until answered), only while more than half of the
 * requester table (2 * max_members) is in use: one that comes back may
 * repeat a request, and only its record keeps that from running twice. */
void co_rpc_history_prune(co_rpc_history_t *h,
                          bool (*keep)(void *arg, uint32_t id, uint32_t inc),
                          void *arg);

/* ---------------------------------------------------------------- */
/* The module                                                         */
/* ---------------------------------------------------------------- */

/* The acknowledgement of a whole reply (RRA), owed: sent a little later,
 * off the path between the reply and the application (rpc.c). */
typedef struct co_rpc_owed {
    uint32_t id, inc;       /* the member that replied */
    uint32_t rid, total;
    uint64_t due_ns;
} co_rpc_owed_t;

#define CO_RPC_OWED 32      /* owed acknowledgements held at once */

typedef struct co_rpc {
    co_rpc_req_t *reqs;     /* rpc_max_requests */
    size_t reqs_cap, n_reqs;
    size_t reqs_hi;         /* every slot from here on is free */
    uint32_t next_rid;      /* from 1, below 2^31 */
    co_rpc_history_t hist;
    size_t piece_room;      /* payload bytes per RPC datagram */
    co_rpc_owed_t owed[CO_RPC_OWED]; /* in the order they became owed */
    size_t n_owed;
} co_rpc_t;

int co_rpc_init(co_core_t *core);
void co_rpc_free(co_core_t *core);

/* cohort_request(): a request id (> 0) or a negative error. */
int co_rpc_request(co_core_t *core, uint64_t now_ns, uint32_t to,
                   cohort_mode_t mode, cohort_want_t want, const void *data,
                   size_t len, uint64_t timeout_ns, co_rpc_sink_t *sink);
int co_rpc_reply(co_core_t *core, uint64_t now_ns, cohort_member_t requester,
                 uint32_t rid, const void *data, size_t len);
/* Stop collecting into sink (the wait ends early); events from now on. */
void co_rpc_unsink(co_core_t *core, uint32_t rid);

/* A group request delivered here (from who, in mode); takes data. */
void co_rpc_delivered(co_core_t *core, cohort_member_t who,
                      cohort_mode_t mode, uint8_t *data, size_t len);
/* An RPC datagram from peer. */
void co_rpc_recv(co_core_t *core, co_peer_t *peer, const uint8_t *body,
                 size_t len, uint64_t now_ns);
void co_rpc_installed(co_core_t *core, uint64_t now_ns);
/* The member leaves: owed acknowledgements go, requests end CLOSED. */
void co_rpc_closed(co_core_t *core, uint64_t now_ns);

/* core is old's next life (co_core_successor): request ids go on from
 * old's, and each request old still had open ends in core, CLOSED (its
 * DONE event, or its sink's result). old is not changed. */
void co_rpc_hand_over(const co_core_t *old, co_core_t *core);
void co_rpc_tick(co_core_t *core, uint64_t now_ns);
uint64_t co_rpc_deadline(const co_core_t *core);
size_t co_rpc_memory_bytes(const co_core_t *core);

#endif
