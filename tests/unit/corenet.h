/*
 * corenet.h - an in-test network of sans-IO cores for unit tests
 * (test_vsync, test_total): a FIFO of datagrams delivered one per 10 us
 * step, per-link loss by datagram type, a node cut off, a crash (the core
 * freed, no LEAVE), no clock and no unseeded randomness. Each node's
 * VIEW and MESSAGE events are logged for the test to check.
 */
#ifndef COHORT_TEST_CORENET_H
#define COHORT_TEST_CORENET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define MAXN 5
#define NET_MAX 100000
#define LOG_MAX 4096
#define MSG_MAX 1024 /* message indexes per sender */
#define STEP_NS 10000ULL
#define MS (1000000ULL)

typedef struct pkt {
    int from, to; /* to == -1: the group */
    size_t len;
    uint8_t data[1500];
} pkt_t;

/* One event as a node saw it. Nodes are indexes; member id = 100 + i. */
typedef struct entry {
    cohort_event_type_t type;
    int sender;       /* MESSAGE */
    uint32_t index;   /* MESSAGE: the sender's message number */
    uint64_t view_id; /* MESSAGE: sending view; VIEW: its id */
    uint32_t members; /* VIEW: bit per node */
    cohort_mode_t mode; /* MESSAGE */
    uint64_t order;   /* MESSAGE: TOTAL and SAFE position in its view */
    uint32_t flags;   /* MESSAGE: COHORT_MESSAGE_* */
} entry_t;

typedef struct net net_t;
/* Called for every event a node takes, before it is logged. */
typedef void net_hook_t(net_t *n, int node, const cohort_event_t *ev);

struct net {
    int nodes;
    co_core_t *cores[MAXN];
    int self_delivery[MAXN]; /* for nodes spawned from now on */
    int state_transfer[MAXN]; /* likewise (config.state_transfer) */
    size_t send_window[MAXN]; /* likewise (send_window_bytes; 0: 256 KiB) */
    size_t evq_len[MAXN];    /* likewise (event_queue_len; 0: default) */
    int app_paused[MAXN];    /* 1: step() takes none of its events */
    size_t parity_block[MAXN]; /* likewise (config.parity_block) */
    size_t parity_extra[MAXN]; /* likewise (config.parity_extra) */
    int no_bundle[MAXN];     /* likewise: bundle_delay_ns 0 */
    /* Also lost: the datagrams for which it returns true (NULL: none). */
    bool (*drop_pkt)(const net_t *n, const pkt_t *p, int to);
    net_hook_t *hook;        /* NULL: events are only logged */
    void *app;               /* the hook's */
    pkt_t *q;
    size_t head, count;
    uint64_t now_ns;
    int cut[MAXN];                 /* 1: nothing reaches or leaves it */
    uint32_t drop_types[MAXN][MAXN]; /* [from][to]: bit per type lost */
    uint32_t drop_types_hi[MAXN][MAXN]; /* the same for types 32..63 */
    size_t received[MAXN][64];     /* [to][type] datagrams taken */
    size_t emitted[MAXN][64];      /* [from][type] datagrams put out */
    uint32_t sent[MAXN];           /* messages each node sent */
    entry_t *log[MAXN];
    size_t nlog[MAXN];
};


co_addr_t addr_of(int node);
int node_of(uint32_t member_id);
uint8_t type_of(const uint8_t *d);
void config_for(co_core_config_t *cfg, int node, int self_delivery);
void drain_tx(net_t *n, int node);
void log_event(net_t *n, int node, const cohort_event_t *ev);
void pull_events(net_t *n, int node);
bool link_drops(const net_t *n, const pkt_t *p, int to);
/* Hand the oldest queued datagram to its receivers (drain: and queue
 * their answers); no timer runs. */
void deliver_head(net_t *n, bool drain);
/* Deliver one queued datagram, then run every due timer. */
void step(net_t *n);
void run_for(net_t *n, uint64_t ns);
void spawn(net_t *n, int i);
/* Free the core: no LEAVE, silence from now on. Its log stays. */
void crash(net_t *n, int i);
net_t *net_new(int nodes, int spawned);
void net_free(net_t *n);
uint64_t view_of(const net_t *n, int i, uint32_t *members);
/* Every node in mask is alive and has installed one same view of mask. */
bool converged(const net_t *n, uint32_t mask);
/* Step until the nodes of mask agree on the view of mask; its id. */
uint64_t settle(net_t *n, uint32_t mask, uint64_t max_ns);
/* Node i sends its next message (16 bytes: node, index, filler) in mode,
 * stepping while the core answers AGAIN; its index. */
uint32_t send_mode(net_t *n, int i, cohort_mode_t mode);
/* The same in FIFO. */
uint32_t send_next(net_t *n, int i);
/* Node i tries once to send its next message in FIFO: 0, or the error
 * (COHORT_ERR_AGAIN: its window is full; the index is not used). */
int try_send(net_t *n, int i);

#endif
