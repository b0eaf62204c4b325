/*
 * core.h - the sans-IO protocol core.
 *
 * The core is a deterministic state machine. It is fed datagrams with the
 * time they arrived and the endpoint they came from, messages to send, and
 * timer ticks; it emits datagrams to send and events (deliveries, member
 * changes). It never reads a clock, touches a socket or asks the system for
 * randomness: the caller passes `now_ns` (any monotonic origin) and a seed.
 * The same inputs in the same order give the same outputs, byte for byte;
 * that is what the simulator in tests/sim relies on.
 *
 * Ownership: every pointer returned by the core points into core-owned
 * memory that stays valid until the next call on the same core (datagrams
 * from co_core_next_tx(): until the next call of another function).
 *
 * Memory: bounded by the configuration (see co_core_config); nothing grows
 * with traffic beyond those limits.
 */
#ifndef COHORT_CORE_H
#define COHORT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cohort.h"
#include "mem.h"
#include "rpc.h"
#include "wire.h"

/* An endpoint as the caller names it. The core only compares and copies the
 * bytes: the IO edge stores a sockaddr, the simulator a node number. */
#define CO_ADDR_MAX 28
typedef struct co_addr {
    uint8_t len;
    uint8_t bytes[CO_ADDR_MAX];
} co_addr_t;

bool co_addr_equal(const co_addr_t *a, const co_addr_t *b);

/* Where an emitted datagram goes. */
typedef enum co_dest_kind {
    CO_DEST_GROUP = 0,   /* multicast to the whole group */
    CO_DEST_UNICAST = 1, /* to one member's endpoint (dest) */
} co_dest_kind_t;

typedef struct co_tx {
    co_dest_kind_t kind;
    co_addr_t dest;        /* valid when kind == CO_DEST_UNICAST */
    const uint8_t *data;   /* core-owned: see co_core_next_tx() */
    size_t len;
    /* 0: send it now. Else the latest time to send it: the caller may
     * keep it until then, to send it together with later ones (cohort.c,
     * segmentation offload). Set on bundled DATA: when its first record
     * came into it plus bundle_delay_ns, so the delay's bound holds for
     * bundle and caller together. */
    uint64_t send_by_ns;
} co_tx_t;

/* Everything the core needs, already validated and resolved by the caller
 * (the IO edge turns a struct cohort_config into this). */
typedef struct co_core_config {
    uint32_t group_id;         /* hash of the group name */
    uint32_t member_id;        /* nonzero */
    /* Nonzero, from co_incarnation_choose() (incarnation.h) fed with the
     * real-time clock at open; the caller must not open this member_id
     * again before co_incarnation_hold_until_ns() of that time, so each
     * life's incarnation is serially newer than the last. The core
     * assumes only that, and orders incarnations with
     * co_incarnation_newer() everywhere. */
    uint32_t incarnation;
    char name[COHORT_NAME_MAX + 1];

    uint64_t heartbeat_interval_ns;
    uint64_t member_timeout_ns;
    uint64_t nack_delay_ns;
    uint64_t nack_retry_ns;
    uint64_t bundle_delay_ns;

    size_t max_datagram;       /* bytes of UDP payload, >= CO_MIN_DATAGRAM */
    size_t max_message;
    size_t send_window_bytes;
    /* Nonzero: send_window_bytes was chosen by the library, and the
     * members sending at the moment share it, each at least this many
     * bytes (co_core_tick; 0: the window is the application's, whole). */
    size_t window_share_min;
    size_t recv_buffer_bytes;
    size_t max_members;
    size_t event_queue_len;
    size_t tx_queue_len;       /* datagrams held for the caller to send */
    size_t parity_block;       /* records per parity block: NACKs for a
                                  block are answered with parity symbols
                                  (parity.h); 0: off; 2..64 */
    size_t parity_extra;       /* parity symbols multicast unasked with
                                  each block; 0..parity_block */

    cohort_security_t security;
    cohort_cipher_t cipher;    /* XCHACHA20POLY1305, AES256GCM or
                                  FASTEST (AES-256-GCM while every member
                                  heard can open it: crypto.h) */
    int aes_off;               /* act as a CPU without AES-256-GCM (the
                                  IO edge: COHORT_AES=0; tests) */
    uint8_t key[COHORT_KEY_BYTES];
    uint8_t key_id;

    size_t expected_members;   /* primary rule (cohort_config); 0: all */
    int self_delivery;         /* deliver own FIFO messages (default 1) */
    int state_transfer;        /* ask for the state at the first view with
                                  others (default 0; needs self_delivery) */
    int state_provider;        /* may provide the state (default 1) */
    size_t rpc_max_requests;   /* requests in flight (cohort_config) */
    size_t rpc_history_len;    /* reply history entries */
    size_t rpc_history_bytes;  /* reply history bytes */

    uint64_t seed;             /* drives every random choice in the core */
    /* First packet_seq of this life, 1..CO_PACKET_SEQ_START_MAX; 0 draws
     * it from seed. With security on, the caller must take it from the
     * system's randomness (the IO edge does, even when a seed is given):
     * AEAD nonces are (member id, incarnation, packet_seq), and a seed
     * reused under one key must not repeat them. */
    uint64_t packet_seq_start;

    /* Every allocation of the core goes through it (NULL: the C
     * library's); it must outlive the core. See mem.h. */
    const co_mem_t *mem;
} co_core_config_t;

#define CO_PACKET_SEQ_START_MAX (1ULL << 62)

/* Units, for the defaults and the bounds. */
#define CO_US_NS 1000ULL
#define CO_MS_NS 1000000ULL
#define CO_S_NS 1000000000ULL
#define CO_MIB ((size_t)1 << 20)
#define CO_GIB ((size_t)1 << 30)

#define CO_MIN_DATAGRAM CO_WIRE_MIN_DATAGRAM
#define CO_MAX_DATAGRAM CO_WIRE_MAX_DATAGRAM

typedef struct co_core co_core_t;

/* Fill cfg with the defaults; the one table of them (cohort_config_init()
 * copies the shared fields from here). Ids, name, key and seed are 0. */
void co_core_config_defaults(co_core_config_t *cfg);

/* The one validator of every field the core uses (cohort_open() relies on
 * it and checks only what the IO edge alone knows: group, address,
 * interface, ttl, sockets, key source). Returns 0 or COHORT_ERR_INVAL with
 * *why set to a static text that starts with the cohort_config field name
 * ("max_datagram: must be 512..65507"). */
int co_core_config_check(const co_core_config_t *cfg, const char **why);

/* Create a core at time now_ns. Errors: INVAL, NOMEM, NOCRYPTO (on any
 * error nothing is left allocated and *out is NULL). */
int co_core_new(co_core_t **out, const co_core_config_t *cfg, uint64_t now_ns);

/* Free the core and wipe its keys. core may be NULL. */
void co_core_free(co_core_t *core);

/* The next life of this member, at now_ns, once it was excluded while
 * alive (the application took the COHORT_ERR_EXCLUDED warning): a core of
 * the same configuration, keys and statistics, under incarnation
 * (newer than old's) from packet_seq_start (0: drawn from the core's
 * generator), with no view yet. What old still owed the application
 * carries over: its open requests end (REQUEST_DONE, CLOSED, the first
 * events of the new core), request and transfer ids go on where they
 * stopped, and a life that asked for the state (config.state_transfer or
 * a call) asks for the group's at the new life's first view with
 * others. Nothing else of old's does: not its view, its streams, its
 * queued events or datagrams. Of old only the generator moves on (the
 * new seed); free old after. Errors: INVAL (incarnation not newer),
 * NOMEM (*out NULL). */
int co_core_successor(co_core_t *old, co_core_t **out, uint32_t incarnation,
                      uint64_t packet_seq_start, uint64_t now_ns);

/* Feed one received datagram. Malformed, foreign or hostile input is dropped
 * and counted in the stats; it never fails the call. Out of memory, a
 * record is neither delivered nor acknowledged: it stays in the receive
 * window (or is asked for again) and is retried when events are taken or
 * more arrives from its sender. Returns 0. */
int co_core_recv(co_core_t *core, uint64_t now_ns, const co_addr_t *from,
                 const uint8_t *data, size_t len);

/* Queue a message. Errors: INVAL, TOOBIG, NOTSUP, AGAIN, CLOSED, NOMEM
 * (nothing was sent and no sequence number used: retry later). */
int co_core_send(co_core_t *core, uint64_t now_ns, cohort_mode_t mode,
                 const void *data, size_t len);

/* Key rollover: accept datagrams sealed with key_id too, and seal with it
 * from now on when use_for_send. Up to two keys are held; adding a third
 * replaces the one not used for sending. Errors: STATE (security mode
 * none), INVAL, NOCRYPTO. */
int co_core_add_key(co_core_t *core, const uint8_t key[COHORT_KEY_BYTES],
                    uint8_t key_id, bool use_for_send);

/* Close the datagram being bundled so it can be sent now. */
void co_core_flush(co_core_t *core, uint64_t now_ns);
/* The same, leaving the event last handed out valid. */
void co_core_flush_bundle(co_core_t *core, uint64_t now_ns);

/* Run every timer due at now_ns (heartbeats, NACKs, acks, member timeouts,
 * bundling deadline). Calling it early is harmless. */
void co_core_tick(co_core_t *core, uint64_t now_ns);

/* State transfer (cohort.h, "State transfer"; state.h). Errors as the
 * public calls: STATE, NOTSUP, CLOSED; AGAIN, TOOBIG, NOMEM for send. */
int co_core_state_request(co_core_t *core, uint64_t now_ns);
int co_core_state_send(co_core_t *core, uint64_t now_ns, uint32_t transfer,
                       const uint8_t *data, size_t len);
int co_core_state_end(co_core_t *core, uint64_t now_ns, uint32_t transfer);

/* Request-reply (cohort.h, "Request-reply"; rpc.h). timeout_ns
 * UINT64_MAX: none. sink: collect the replies and the result there
 * instead of events (cohort_request_wait), until co_core_unsink. Errors
 * as the public calls. */
int co_core_request(co_core_t *core, uint64_t now_ns, uint32_t to,
                    cohort_mode_t mode, cohort_want_t want, const void *data,
                    size_t len, uint64_t timeout_ns, co_rpc_sink_t *sink);
int co_core_reply(co_core_t *core, uint64_t now_ns, cohort_member_t requester,
                  uint32_t request, const void *data, size_t len);
void co_core_unsink(co_core_t *core, uint32_t request);

/* The earliest time co_core_tick() has work; UINT64_MAX if none. */
uint64_t co_core_deadline(const co_core_t *core);

/* Take the next datagram to send. Returns true and fills *out, or false.
 * The data of every datagram taken stays valid until the next call to any
 * core function other than co_core_next_tx(), so a caller can take a whole
 * batch and hand it to sendmmsg() at once. */
bool co_core_next_tx(co_core_t *core, co_tx_t *out);

/* Datagrams queued and not yet taken with co_core_next_tx(). Any call may
 * queue some (co_core_next_event() too: delivering held messages sends
 * acks), so the caller checks after each. */
size_t co_core_tx_ready(const co_core_t *core);

/* Take the next event. Returns true and fills *ev, or false. Delivering an
 * event frees room in the event queue, which lets held messages move on. */
bool co_core_next_event(co_core_t *core, uint64_t now_ns, cohort_event_t *ev);

/* Queue a warning event (the IO edge reports what only it can see). */
void co_core_warn(co_core_t *core, int code, const char *text);

/* Events ready for co_core_next_event(). */
size_t co_core_events_ready(const co_core_t *core);

/* Send LEAVE and refuse further sends (CLOSED). LEAVE goes out
 * CO_LEAVE_COPIES times, the copies a few ms apart (heartbeat_interval/20,
 * at most CO_LEAVE_SPACING_MAX_NS) and driven by co_core_tick() and
 * co_core_deadline(), so one lost datagram does not leave the others
 * waiting out member_timeout. Receivers take the repeats as one. */
#define CO_LEAVE_COPIES 3
#define CO_LEAVE_SPACING_MAX_NS 10000000ULL
void co_core_leave(co_core_t *core, uint64_t now_ns);

/* True while a view change this member proposed is committed and not yet
 * installed by every member of it (co_gms_committing): a member closing
 * then goes on processing until it is, or until *until_ns (if not NULL),
 * before co_core_leave(), or the members that missed the COMMIT would be
 * split from those that installed it. */
bool co_core_committing(const co_core_t *core, uint64_t *until_ns);

/* True while copies of LEAVE remain to be sent (at most
 * (CO_LEAVE_COPIES - 1) * CO_LEAVE_SPACING_MAX_NS after co_core_leave()). */
bool co_core_leaving(const co_core_t *core);

/* True when every reliable message this member sent is held by every member
 * it knows (nothing left to retransmit). */
bool co_core_drained(const co_core_t *core);

/* This member, and the members it knows (itself first). */
cohort_member_t co_core_self(const co_core_t *core);

/* A state transfer is asked for (cohort_state_request(), or
 * config.state_transfer at the first view) and its DONE not yet given. */
bool co_core_state_wanted(const co_core_t *core);
size_t co_core_members(const co_core_t *core, cohort_member_t *out,
                       size_t max);

/* Live counters (the caller adds its own IO-edge counts on top). */
const struct cohort_stats *co_core_stats(const co_core_t *core);
struct cohort_stats *co_core_stats_mut(co_core_t *core);

/* Bytes held by the core in every buffer, for bound checks in tests. */
size_t co_core_memory_bytes(const co_core_t *core);

/* The memory that holds key material, so the IO edge can lock it out of
 * swap (the core itself makes no system calls). Valid for the core's life;
 * co_core_free() wipes it. */
void co_core_secret_region(co_core_t *core, void **ptr, size_t *len);

/* The current agreed view: its id into *view_id (may be NULL) and up to
 * max members into out; returns the count, 0 before the first view. */
size_t co_core_view(const co_core_t *core, uint64_t *view_id,
                    cohort_member_t *out, size_t max);

/* True while sends are held for the next view: before the first view,
 * and from this member's answer to a view change until it installs the
 * next view. A FIFO message sent now is sent in that next view. */
bool co_core_holding(const co_core_t *core);

/* True while a message larger than the window room is being fed out (one
 * at a time, taken whole by co_core_send): its view is the one its last
 * fragment goes out in, which may be a later one. */
bool co_core_feeding(const co_core_t *core);

/* Largest payload one UNRELIABLE message may have with this config. */
size_t co_core_max_unreliable(const co_core_t *core);

#endif /* COHORT_CORE_H */
