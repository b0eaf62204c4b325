/*
 * sim.h - the deterministic simulator (cohort-sim).
 *
 * Many cores run in one process against a virtual clock and a virtual
 * network. Everything random (scenario parameters, link behaviour, faults,
 * workload, the cores' own seeds) comes from one 64-bit seed, and nothing
 * iterates in pointer or hash order, so a seed replays the same run byte for
 * byte. Each node's core is driven the way the IO edge drives it: recv per
 * datagram, tick at the deadline, drain the tx queue after every call, pull
 * events, flush when the application yields.
 *
 * Files: queue.c (event queue), net.c (network model), payload.c (message
 * contents), scenario.c (parameters drawn from the seed), check.c (property
 * checkers), attack.c (the attacker without the key), attack_check.c (what
 * its datagrams may do), sim.c (nodes and the main loop), sim_main.c
 * (command line), view_check.c (views and virtual synchrony into
 * vs_check.c), vs_twin.c (its self-tests).
 */
#ifndef COHORT_SIM_H
#define COHORT_SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "incarnation.h"
#include "rng.h"
#include "total_check.h"
#include "vs_check.h"

#define SIM_MAX_MEMBERS 128
#define SIM_MAX_NODES (SIM_MAX_MEMBERS + 1) /* members + the outsider */
#define SIM_DRAW_MEMBERS 8    /* largest group a seed draws */
#define SIM_MASK_MEMBERS 31   /* largest group with partitions or slow
                                 receivers (nodes are bits of a mask) */
#define SIM_MAX_EXCLUDED 64   /* EXCLUDED warnings checked per run */
#define SIM_MAX_GENS 24       /* incarnations per node (1 + restarts) */
#define SIM_MAX_REJOINS 16    /* new lives after exclusions, in a run: past
                                 it an excluded member is merged back */
#define SIM_MAX_EPISODES 6    /* partitions or crashes per run */
#define SIM_NAME_MAX 16
#define SIM_PAYLOAD_HEADER 32 /* bytes every workload message starts with */
#define SIM_MEMBER_LIST_MAX (SIM_MAX_MEMBERS + 16)

/* ------------------------------------------------------------------ */
/* Options from the command line.                                      */
/* ------------------------------------------------------------------ */
/* Checker self-tests: the simulator breaks a guarantee itself, on purpose,
 * and the run must fail. Proves the checkers are not vacuous. */
typedef enum sim_inject {
    SIM_INJECT_NONE = 0,
    SIM_INJECT_DROP,    /* the app loses one owed FIFO delivery */
    SIM_INJECT_DUP,     /* the app sees one FIFO delivery twice */
    SIM_INJECT_CORRUPT, /* one delivered payload has a flipped bit */
    SIM_INJECT_CUT,     /* the link n1 -> n0 is dead, heal or not */
    SIM_INJECT_FORGE,   /* the app gets a message its sender never sent */
    SIM_INJECT_ACCEPT,  /* an altered attacker datagram vanishes uncounted */
    SIM_INJECT_EVICT,   /* the app sees a member leave that did not */
    SIM_INJECT_VIEW,    /* one view event lists its members out of order */
    /* the message properties of vs_check, against a twin checker
     * (vs_twin.c); these turn --vs on */
    SIM_INJECT_SYNCHRONY,    /* a delivery vanishes just before a view */
    SIM_INJECT_SENDING_VIEW, /* a delivery tagged with the wrong view */
    SIM_INJECT_SELF_DELIVERY, /* a member misses one of its own messages */
    SIM_INJECT_SELF_DELIVERY_OFF, /* ... delivers one though told not to */
    /* the total-order properties of total_check, against a twin checker
     * (total_twin.c); these need TOTAL or SAFE in --modes */
    SIM_INJECT_TOTAL_SWAP,     /* two ordered deliveries change places */
    SIM_INJECT_TOTAL_RENUMBER, /* one ordered delivery numbered one more */
    SIM_INJECT_TOTAL_DROP,     /* a member's last ordered delivery of a
                                  view vanishes before it moves on */
    SIM_INJECT_SAFE_DROP,      /* ... a SAFE one that someone delivered */
    SIM_INJECT_TRANSITIONAL,   /* view events name no one as joined after
                                  the first: members that come from
                                  another view are claimed to come along */
    SIM_INJECT_EXCLUDED,       /* a member is warned EXCLUDED by a view
                                  that holds it */
    SIM_INJECT_REJOIN,         /* a member told EXCLUDED goes on in its
                                  old life instead of rejoining */
    /* request-reply (rpc_sim.c, scenario `rpc`) */
    SIM_INJECT_RPC_TWICE,      /* a member executes a request twice */
    SIM_INJECT_RPC_REPLIES,    /* the requester misses one reply of a
                                  request that then completes */
    SIM_INJECT_RPC_HISTORY,    /* a reply history claims one entry more
                                  than its bound */
    /* state transfer (state_sim.c, scenario `state`) */
    SIM_INJECT_STATE_DIGEST,   /* a received snapshot's digest is off */
    SIM_INJECT_STATE_PLACE,    /* a joiner took one ordered message more
                                  before its snapshot than its provider */
    SIM_INJECT_STATE_SKIP,     /* a joiner's state misses one ordered
                                  message after its snapshot */
    SIM_INJECT_STATE_DUP,      /* ... applies one twice */
    SIM_INJECT_STATE_HANDOVER, /* a transfer that restarts in a new view
                                  (its provider gone) is never completed */
    SIM_INJECT_STATE_NONE,     /* a received snapshot is taken as NONE */
    SIM_INJECT_STATE_MEMORY,   /* a provider claims more transfer memory
                                  than its bound */
    /* datagram size (scenario.c, the misfit outsider) */
    SIM_INJECT_MISFIT,         /* the misfit is configured with the
                                  members' max_datagram, so it names that
                                  size and is taken in, while the network
                                  still drops what it cannot receive */
    SIM_INJECT_NARROW,         /* the narrow outsider's link lets its
                                  PATHs through (and only those of its
                                  long datagrams), so it is taken in */
} sim_inject_t;

/* Bits of sim_opts_t.modes, one per cohort_mode_t. */
#define SIM_MODE_BIT(m) (1u << (unsigned)(m))
#define SIM_MODES_DEFAULT                                                      \
    (SIM_MODE_BIT(COHORT_UNRELIABLE) | SIM_MODE_BIT(COHORT_FIFO))
#define SIM_MODES_ORDERED                                                      \
    (SIM_MODE_BIT(COHORT_TOTAL) | SIM_MODE_BIT(COHORT_SAFE))
#define SIM_N_MODES 4

/* The reliable modes: FIFO, TOTAL, SAFE share the sender's stream. */
static inline bool sim_reliable(unsigned mode)
{
    return mode == COHORT_FIFO || mode == COHORT_TOTAL || mode == COHORT_SAFE;
}

static inline bool sim_ordered(unsigned mode)
{
    return mode == COHORT_TOTAL || mode == COHORT_SAFE;
}

/* "UNREL", "FIFO", "TOTAL", "SAFE". */
const char *sim_mode_name(unsigned mode);

typedef struct sim_opts {
    uint64_t seed;
    char scenario[SIM_NAME_MAX]; /* a concrete scenario (not "all") */
    int members;                 /* 0: drawn from the seed */
    bool verbose;                /* print the trace */
    bool no_loopback;            /* do not loop group datagrams to self */
    sim_inject_t inject;
    bool no_attack;              /* the twin: everything but the attacker */
    double attack_rate_hz;       /* > 0: attacker on at this rate; < 0: off;
                                    0: as the scenario draws it */
    bool strict_replay;          /* fail on replay revivals too (attack.c) */
    bool vs;                     /* feed sends and deliveries to vs_check */
    bool no_self_delivery;       /* with vs: members told not to deliver
                                    their own messages */
    unsigned modes;              /* SIM_MODE_BIT()s the workload draws;
                                    0: SIM_MODES_DEFAULT */
} sim_opts_t;

/* ------------------------------------------------------------------ */
/* Scenario parameters, all drawn from the seed (scenario.c).          */
/* ------------------------------------------------------------------ */
typedef struct sim_episode {
    uint64_t start_ns;
    uint64_t end_ns;
    uint32_t arg;   /* partition: bit mask of side 1; crash, pause: node
                       index */
    bool graceful;  /* crash: leave with co_core_leave() first */
    bool oneway;    /* partition: only side 0 -> side 1 is cut */
} sim_episode_t;

typedef struct sim_scn {
    char name[SIM_NAME_MAX];
    size_t members;            /* group members, 2..SIM_MAX_MEMBERS */
    uint64_t view_bound_ns;    /* > 0: by then (virtual time, faults or
                                  not) every member shares one view of
                                  all of them (`large`) */
    bool outsider;             /* one more node in another group */
    bool intruder;             /* outsider shares group_id, not the key */
    bool misfit;               /* outsider shares group_id and key, but its
                                  max_datagram is misfit_datagram: it must
                                  never share a view with the members */
    size_t misfit_datagram;    /* below cfg.max_datagram */
    bool narrow;               /* outsider shares group_id, key and
                                  max_datagram, but the link to and from
                                  it drops datagrams longer than
                                  narrow_path (a port of a lower MTU): it
                                  must never share a view with them */
    size_t narrow_path;        /* below cfg.max_datagram */
    bool lossless;             /* no fault at all: UNRELIABLE is owed too */

    uint64_t fault_ns;         /* length of the fault phase */
    uint64_t heal_max_ns;      /* liveness bound after the heal */

    /* network during the fault phase */
    double loss_max;           /* each link's loss is drawn in [0, this] */
    double dup;
    double reorder;            /* chance of an extra holdback */
    double corrupt;            /* bit flips; only with security on */
    double burst_loss;         /* chance a datagram starts a loss burst */
    size_t burst_len_max;      /* datagrams a burst drops on that link */
    uint64_t latency_min_ns, latency_max_ns;
    uint64_t jitter_ns;
    uint64_t holdback_max_ns;

    size_t n_partitions;
    sim_episode_t partition[SIM_MAX_EPISODES];
    size_t n_crashes;
    sim_episode_t crash[SIM_MAX_EPISODES];
    size_t n_pauses;           /* a node stopped as by SIGSTOP: no timer, no
                                  receive; what reaches it waits in a
                                  bounded socket buffer until it resumes */
    sim_episode_t pause[SIM_MAX_EPISODES];
    uint32_t slow_mask;        /* nodes that pull events at a limited rate */
    uint32_t aes_mask;         /* secured: nodes that seal with AES-256-GCM
                                  (the others XChaCha20-Poly1305; 0 where
                                  the CPU has no AES instructions) */
    uint32_t noaes_mask;       /* secured: nodes acting as CPUs without
                                  AES-256-GCM (aes_off); where any is, the
                                  aes_mask nodes are set to FASTEST, which
                                  seals with it only while none is heard */
    uint64_t slow_pull_ns[SIM_MAX_NODES];

    /* workload */
    size_t msgs_per_node;
    double fifo_share;         /* chance a message is reliable (FIFO, or
                                  TOTAL/SAFE when --modes has them) */
    size_t size_max;           /* largest FIFO message */
    uint64_t burst_gap_ns;     /* mean gap between bursts */
    size_t burst_max;
    double flush_share;        /* chance the app flushes after a burst */

    /* the attacker (attack.c), drawn from a stream of its own so the other
     * parameters of a seed do not depend on it */
    double attack_hz;          /* datagrams it injects per second; 0: none */
    bool attack_forge;         /* alters and forges too (secured groups) */
    double attack_tap_unicast; /* share of unicast datagrams it overhears */
    bool attack_strict;        /* `attack`: no partition, crash or timeout,
                                  so member events are known exactly */

    /* virtual synchrony (view_check.c): FIFO sends and deliveries go to
     * vs_check too; off by default (not drawn, from the options) */
    bool vs;
    bool self_delivery;        /* cfg.self_delivery: only with vs */

    /* request-reply (rpc_sim.c): `rpc` only */
    bool rpc;
    size_t rpc_per_node;       /* requests each member makes */
    uint64_t rpc_gap_ns;       /* mean gap between two of a member's */
    double rpc_delay_share;    /* replies held back a while (the server
                                  may crash before it answers) */

    /* state transfer (state_sim.c): `state` only */
    bool state;
    size_t state_founders;     /* nodes below this start at once, holding
                                  a state; the others join later and ask */
    uint64_t join_ns[SIM_MASK_MEMBERS + 1]; /* when each joiner starts */
    uint32_t state_noprov_mask;/* members with state_provider 0 */
    size_t state_kills;        /* providers crashed mid-transfer, at most
                                  (crash episodes drawn as they provide) */
    double state_kill_share;   /* chance a STATE_REQUEST draws one */
    double state_rerequest_share; /* members that ask again once */
    double state_large_share;  /* snapshots of 64-200 datagrams */

    co_core_config_t cfg;      /* template for every node's core */
} sim_scn_t;

/* The concrete scenarios, in the order "all" runs them. */
extern const char *const sim_scenarios[];
extern const size_t sim_n_scenarios;
/* ... and after them, those "all" runs but "mixed" does not pick. */
extern const char *const sim_all_extra[];
extern const size_t sim_n_all_extra;

bool sim_scenario_known(const char *name);
/* Whether the scenario may draw partitions or slow receivers, so its
 * group is at most SIM_MASK_MEMBERS (all but `large`). */
bool sim_scenario_masked(const char *name);
/* Pick the scenario "mixed" uses for this seed. */
const char *sim_scenario_for_seed(uint64_t seed);
/* Draw every parameter of scenario opts->scenario from opts->seed.
 * fifo: whether the core supports FIFO (the workload depends on it);
 * secure_ok: whether the core was built with crypto. */
void sim_scenario_draw(sim_scn_t *scn, const sim_opts_t *opts, bool fifo,
                       bool secure_ok);

/* ------------------------------------------------------------------ */
/* Event queue ordered by (time, insertion counter) (queue.c).         */
/* ------------------------------------------------------------------ */
typedef enum sim_item_kind {
    SIM_ITEM_DGRAM = 0,
    SIM_ITEM_PART_START,
    SIM_ITEM_PART_END,
    SIM_ITEM_CRASH,
    SIM_ITEM_RESTART,
    SIM_ITEM_HEAL,
    SIM_ITEM_PAUSE,      /* dst stops until its pause episode ends */
    SIM_ITEM_ATTACK,     /* the attacker acts */
    SIM_ITEM_ATK_DGRAM,  /* an attacker datagram arrives at dst */
} sim_item_kind_t;

typedef struct sim_item {
    uint64_t at_ns;
    uint64_t seq;        /* breaks ties deterministically */
    sim_item_kind_t kind;
    uint8_t src, dst;
    uint32_t src_life, dst_life;
    uint32_t arg;        /* episode index; datagrams: 1 if corrupted;
                            attacker datagrams: sim_atk_kind_t */
    uint8_t *data;       /* owned by the item (datagrams) */
    size_t len;
} sim_item_t;

typedef struct sim_queue {
    sim_item_t *heap;
    size_t len, cap, max;
    uint64_t next_seq;
} sim_queue_t;

void sim_queue_init(sim_queue_t *q, size_t max_items);
void sim_queue_free(sim_queue_t *q);
/* Copies it (the data pointer moves into the queue). False when full. */
bool sim_queue_push(sim_queue_t *q, sim_item_t *it);
bool sim_queue_pop(sim_queue_t *q, sim_item_t *out);
uint64_t sim_queue_peek_ns(const sim_queue_t *q); /* UINT64_MAX if empty */

/* ------------------------------------------------------------------ */
/* The world.                                                          */
/* ------------------------------------------------------------------ */

/* The identity every workload message carries (payload.c). */
typedef struct sim_payload {
    uint32_t node, gen, index, fifo_seq, len;
    uint8_t mode;
} sim_payload_t;


/* One sent message as the checkers remember it. */
typedef struct sim_msg {
    uint64_t sent_ns;
    uint32_t gen;          /* sender incarnation (generation) */
    uint32_t fifo_seq;     /* place in the sender's reliable stream
                              (FIFO, TOTAL, SAFE); 0 for UNRELIABLE */
    uint32_t len;
    uint8_t mode;
    uint64_t view_id;      /* the sender's view when it went out; 0: held
                              or fed out later (view not known yet) */
    bool owed_any;         /* some receiver must get it (FIFO) */
    uint8_t owed_gen1[SIM_MAX_NODES]; /* receiver gen + 1 it is owed to */
    uint8_t got_gen1[SIM_MAX_NODES]; /* receiver gen + 1 that got it */
    uint16_t got_views[SIM_MAX_NODES]; /* views its app had pulled then */
} sim_msg_t;

/* What a receiver incarnation knows of one sender incarnation's FIFO
 * stream. */
typedef struct sim_rx_track {
    bool active;
    uint32_t last_seq;
    size_t last_index;
} sim_rx_track_t;

typedef struct sim_node {
    size_t idx;
    bool member;           /* false for the outsider */
    bool started;
    bool up;
    uint32_t gen;          /* 0 first, +1 per restart */
    uint32_t life;         /* +1 per crash or restart: kills in-flight */
    uint64_t paused_until_ns; /* 0: running; else stopped until then */
    size_t paused_queued;  /* datagrams waiting for it meanwhile */
    uint32_t member_id;
    uint32_t incarnation[SIM_MAX_GENS]; /* set when that gen starts */
    uint64_t realtime_ns;  /* origin of its real-time clock: now + this */
    uint64_t hold_ns;      /* real time its last open held (incarnation.h) */
    uint32_t group_id;
    uint8_t key[COHORT_KEY_BYTES];
    co_addr_t addr;
    co_core_t *core;
    uint64_t core_seed;
    uint64_t clock_ns;     /* origin of its clock: local = now + this */

    /* workload */
    co_rng_t work_rng;
    size_t drawn;          /* messages drawn so far (<= msgs_per_node) */
    bool pending;          /* a drawn message not yet accepted */
    uint8_t *buf;          /* its bytes (size_max) */
    sim_payload_t pending_p;
    uint64_t next_send_ns; /* UINT64_MAX: nothing to send */
    size_t burst_left;
    uint32_t fifo_next;    /* number the next reliable message gets */
    uint64_t again_since_ns;

    uint64_t app_view_id;  /* last view the app pulled (0: none yet) */
    uint64_t app_prev_view_id; /* the one before it */
    cohort_member_t app_members[SIM_MAX_MEMBERS]; /* app_view_id's */
    uint16_t app_nmembers;
    uint16_t app_views;    /* views it pulled (this incarnation) */
    uint32_t ord_cur, ord_prev; /* TOTAL/SAFE it delivered in the current
                                   view and in the one before */

    /* event pulling */
    bool slow;
    uint64_t pull_gap_ns;
    uint64_t next_pull_ns;
    bool maybe_events;
    bool rejoin_due;       /* its app took COHORT_ERR_EXCLUDED: the next
                              life begins after this call (as the IO
                              edge does at the next one) */
    bool rejoining;        /* node_start makes the successor of
                              successor_of */
    co_core_t *successor_of;
    uint32_t warned_inc;   /* this incarnation took EXCLUDED: it must
                              install no other view (0: none, or it may:
                              no rejoin was possible) */

    /* what this incarnation did, for the stats checks */
    uint64_t acc_sent[SIM_N_MODES], acc_again, acc_pulled[SIM_N_MODES];
    uint64_t acc_tx, acc_fed, acc_fed_foreign;
    size_t peak_mem;
    uint64_t tick_ns;
    uint32_t ticks_same_ns;

    /* checker state of this receiver incarnation */
    sim_rx_track_t *rx;    /* [sender node * SIM_MAX_GENS + gen], n_nodes */
    uint32_t joined[SIM_MAX_NODES]; /* bit g: gen g of that node joined */
    uint32_t joined_ev[SIM_MAX_NODES], left_ev[SIM_MAX_NODES]; /* counts */
    uint32_t knew[SIM_MAX_NODES];   /* bit g: gen g of that node ever joined */
    /* highest packet_seq of each sender incarnation the network brought:
     * [sender node * SIM_MAX_GENS + gen], n_nodes */
    uint64_t *heard_seq;
    /* its member list as check_list last judged it, and which nodes that
     * listed: the same list under the same roster_epoch is not judged
     * again (most calls leave the list as it was) */
    cohort_member_t *seen_list; /* SIM_MEMBER_LIST_MAX */
    size_t seen_n;
    uint64_t seen_epoch;
    bool *seen_listed;          /* n_nodes */
} sim_node_t;

typedef struct sim_totals {
    uint64_t dgrams_sent, dgrams_delivered, lost, dups, held, corrupted;
    uint64_t cut;          /* dropped by partition or crash */
    uint64_t too_long;     /* longer than the receiver's max_datagram:
                              dropped as its socket would (truncated) */
    uint64_t narrowed;     /* longer than the narrow outsider's link
                              carries: dropped on the way */
    uint64_t sent[SIM_N_MODES], delivered[SIM_N_MODES], again;
    uint64_t rejoins;      /* new lives begun after an exclusion */
    uint64_t transitional;  /* deliveries flagged transitional */
    uint64_t retrans, nacks, drops;
    size_t peak_mem, mem_bound;
    uint64_t max_fifo_latency_ns;
    /* latency of owed FIFO deliveries (the twin comparison) */
    uint64_t owed_latency_sum_ns, owed_deliveries, owed_latency_max_ns;
    uint64_t owed;         /* (message, receiver) pairs checked at the end */
    uint64_t twin_ns, twin_heal_ns; /* the twin's end and heal (0: none) */
} sim_totals_t;

/* ------------------------------------------------------------------ */
/* The attacker (attack.c): no key, sees the wire, sends anything.     */
/* ------------------------------------------------------------------ */
#define SIM_ATK_RECENT 128  /* the latest datagrams it overheard */
#define SIM_ATK_SAMPLE 128  /* a uniform sample of everything it overheard */
#define SIM_ATK_CAP (SIM_ATK_RECENT + SIM_ATK_SAMPLE)
#define SIM_ATK_IDS 32      /* (member id, incarnation) pairs it noted */
#define SIM_ATK_BURST_MAX 8
#define SIM_ATK_SRC 0xff    /* item src: the attacker's own address */

typedef enum sim_atk_kind {
    SIM_ATK_REPLAY = 0, /* a recorded datagram, byte for byte */
    SIM_ATK_BURST,      /* several of one sender, shuffled (byte for byte) */
    SIM_ATK_FLIP,       /* one or more bits flipped */
    SIM_ATK_TRUNCATE,
    SIM_ATK_EXTEND,
    SIM_ATK_FIELD,      /* one header field rewritten */
    SIM_ATK_FORGE,      /* made up: valid header, made-up tag */
    SIM_ATK__COUNT
} sim_atk_kind_t;

typedef struct sim_atk_cap {
    uint8_t *data;      /* max_datagram bytes, owned */
    size_t len;         /* 0: slot empty */
    uint8_t src;        /* node that emitted it */
} sim_atk_cap_t;

typedef struct sim_atk_id {
    uint32_t id, incarnation;
    uint64_t top_seq;   /* highest packet_seq seen from it */
} sim_atk_id_t;

typedef struct sim_attack {
    bool on, forge;
    uint64_t gap_ns;    /* mean time between two actions */
    double tap_unicast;
    co_rng_t rng;       /* its own stream: the twin run stays comparable */
    sim_atk_cap_t cap[SIM_ATK_CAP];
    uint64_t overheard; /* datagrams captured, drives the sample */
    size_t recent_next;
    sim_atk_id_t ids[SIM_ATK_IDS];
    size_t n_ids;
    /* what happened, for the summary and the end-of-run checks */
    uint64_t sent[SIM_ATK__COUNT]; /* datagram copies injected */
    uint64_t arrived;   /* fed to a running core */
    uint64_t accepted;  /* recorded datagrams a core took as new */
    uint64_t drops[COHORT_DROP__COUNT]; /* what the cores counted for them */
    uint64_t early_joins, stolen;
    uint64_t ghosts;    /* gone incarnations listed again because of it */
    uint64_t revived;   /* ... of which the receiver had known and dropped */
    uint64_t revived_old; /* ... by a packet_seq below one it had heard */
    uint64_t messages;  /* deliveries that followed its datagrams */
} sim_attack_t;

/* The twin checker of the message self-tests (vs_twin.c). */
typedef struct sim_hold {
    bool on;               /* node's latest delivery, not given to it yet */
    cohort_member_t tx;
    size_t s;              /* sender node */
    uint32_t index;        /* payload index */
    uint64_t key, view;
} sim_hold_t;

typedef struct sim_twin {
    vs_check_t *vs;        /* NULL unless sim_twin_test(opts.inject) */
    sim_hold_t *hold;      /* per node (synchrony) */
} sim_twin_t;

/* One ordered delivery as the total-order glue keeps it (total_sim.c). */
typedef struct sim_odel {
    bool on;
    cohort_member_t tx;
    size_t s;              /* sender node */
    uint32_t index, seq;
    uint8_t mode;
    uint64_t view, order;
    uint32_t flags;
} sim_odel_t;

/* Highest order delivered regularly in a view, by node (self-tests). */
typedef struct sim_vmax {
    uint64_t view;
    uint64_t max[SIM_MASK_MEMBERS + 1];
} sim_vmax_t;
#define SIM_VMAX 64

/* The total-order checker and its self-test twin (total_sim.c,
 * total_twin.c). */
typedef struct sim_total {
    total_check_t *tc;     /* NULL unless TOTAL or SAFE is in the mix */
    size_t reported;
    total_check_t *twin;   /* NULL unless sim_total_test(opts.inject) */
    sim_odel_t *hold;      /* per node: delivery held from the twin */
    sim_vmax_t vmax[SIM_VMAX];
    size_t n_vmax;
} sim_total_t;

/* Request-reply (rpc_sim.c). */
#define SIM_RPC_MAX 1024       /* requests per run */
#define SIM_RPC_EXECS 16384    /* executions remembered */
#define SIM_RPC_HELD 8         /* replies a member holds back */
typedef struct sim_rpc_req {
    uint8_t node;              /* requester */
    uint8_t want;
    bool group;
    bool done, gone;           /* DONE seen; the requester stopped */
    bool closing;              /* its life ended excluded: CLOSED owed */
    uint32_t gen, rid;
    int to;                    /* target node; -1: the group */
    uint64_t at_ns, timeout_ns;
    uint32_t need, replies;
    uint8_t party_gen1[SIM_MASK_MEMBERS + 1]; /* gen + 1 of each party */
    uint32_t replied;          /* bit per party node */
    uint32_t unanswered;       /* bit per party node that said so */
} sim_rpc_req_t;

typedef struct sim_rpc_exec {
    uint8_t server, requester;
    uint32_t sgen, rgen, rid;
} sim_rpc_exec_t;

typedef struct sim_rpc_held {
    bool on;
    cohort_member_t requester;
    uint32_t rid;
    uint64_t at_ns;
} sim_rpc_held_t;

typedef struct sim_rpc {
    co_rng_t rng;
    sim_rpc_req_t *reqs;       /* SIM_RPC_MAX */
    size_t n_reqs;
    sim_rpc_exec_t *execs;     /* SIM_RPC_EXECS */
    size_t n_execs;
    uint64_t next_ns[SIM_MAX_NODES];
    size_t made[SIM_MAX_NODES];
    sim_rpc_held_t held[SIM_MAX_NODES][SIM_RPC_HELD];
    uint64_t completed, left, timed_out, refused, replies, closed;
    bool hid_reply;            /* self-test rpc-replies: done */
} sim_rpc_t;

/* State transfer (state_sim.c). */
#define SIM_STATE_XFERS 512    /* transfers started per run */
#define SIM_STATE_OUTS 4       /* a provider's at once (CO_XFER_SLOTS) */
#define SIM_STATE_CUTS 64     /* lineage cuts of one incarnation */
#define SIM_STATE_HEADER 48    /* bytes every snapshot starts with */

/* One ordered delivery applied to an application state. */
typedef struct sim_state_ent {
    uint64_t view, order, digest;
    bool trans;
} sim_state_ent_t;

/* The application state of one member incarnation: a hash chain and a
 * count of the TOTAL and SAFE messages applied, in delivery order. */
typedef struct sim_state_life {
    uint64_t digest, count;
    bool waiting;              /* asked, no STATE_DONE yet */
    bool held;                 /* it has held a state (founder, or a
                                  STATE_DONE came) */
    uint64_t wait_from_ns, wait_until_ns;
    uint64_t view;             /* the app's current view */
    uint64_t in_view;          /* ordered deliveries applied in it */
    uint64_t done_view, done_place; /* the last snapshot's point */
    cohort_member_t members[SIM_MASK_MEMBERS + 1]; /* of its view */
    size_t n_members;
    sim_state_ent_t *log;      /* every ordered delivery applied */
    size_t n_log, cap_log;
    uint64_t *views;           /* every view installed, in order */
    size_t n_views, cap_views;
    size_t cuts[SIM_STATE_CUTS]; /* n_log where its state stopped following
                                  the one before: a snapshot taken, or
                                  held messages superseded */
    size_t n_cuts;
    /* the snapshot coming in */
    bool rx_on;
    size_t rx_node;
    uint32_t rx_gen;
    uint64_t rx_off, rx_view;
    uint8_t hdr[SIM_STATE_HEADER];
    int rx_prev_node;          /* provider of the attempt before, or -1 */
    bool ignore;               /* self-test handover: deaf to this one */
    uint64_t superseded;       /* messages_superseded last seen */
    uint64_t slots_full_ns;    /* last time every transfer slot was busy */
    bool rerequest;            /* asks again once, at rerequest_ns */
    uint64_t rerequest_ns;
} sim_state_life_t;

/* A snapshot a provider application is sending. */
typedef struct sim_state_out {
    bool on;
    uint32_t handle;
    size_t xfer;               /* index in sim_state_t.xfers */
    uint64_t sent, next_ns;
    bool ended;
} sim_state_out_t;

/* One STATE_REQUEST a provider got, and how it ended. */
typedef struct sim_state_xfer {
    uint8_t prov, req;
    uint32_t pgen, rgen, handle;
    uint64_t view, place, digest, count, size, at_ns;
    size_t prov_log;           /* provider's n_log at the request */
    size_t prov_cuts;          /* ... and its n_cuts */
    bool received;             /* its requester's DONE came */
    size_t req_log;            /* requester's n_log at DONE */
    size_t req_cuts;           /* ... and its n_cuts after it */
} sim_state_xfer_t;

typedef struct sim_state {
    co_rng_t rng;
    sim_state_life_t *life[SIM_MASK_MEMBERS + 1][SIM_MAX_GENS];
    sim_state_out_t out[SIM_MASK_MEMBERS + 1][SIM_STATE_OUTS];
    sim_state_xfer_t *xfers;   /* SIM_STATE_XFERS */
    size_t n_xfers;
    uint8_t *buf;              /* COHORT_STATE_CHUNK_MAX, for sending */
    size_t kills;
    uint64_t asked, received, none, restarts, handovers, provided;
    uint64_t bytes, compared;
    size_t slot_bytes;         /* one transfer slot's memory (seen) */
    size_t injected_at;        /* skip/dup: requester log index; else 0 */
    size_t inject_xfer;
} sim_state_t;

typedef struct sim_world {
    sim_opts_t opts;
    sim_scn_t scn;
    bool fifo;             /* the core supports FIFO */
    size_t n_nodes;        /* members + outsider */
    sim_node_t node[SIM_MAX_NODES];
    sim_msg_t *msgs[SIM_MAX_NODES];
    size_t n_msgs[SIM_MAX_NODES];
    size_t gen_first[SIM_MAX_NODES][SIM_MAX_GENS]; /* first index of a gen */

    uint64_t now_ns;
    sim_queue_t q;
    co_rng_t net_rng;

    double loss[SIM_MAX_NODES][SIM_MAX_NODES];
    uint32_t burst_left[SIM_MAX_NODES][SIM_MAX_NODES];
    uint64_t latency_ns[SIM_MAX_NODES][SIM_MAX_NODES];
    uint32_t side_mask;    /* nodes on side 1 while partitioned */
    bool partitioned;
    bool oneway;           /* the partition cuts side 0 -> side 1 only */
    bool healed;
    uint64_t heal_ns;
    vs_check_t *vs;          /* views: agreement, self-inclusion, growth,
                                liveness (view_check.c) */
    size_t vs_reported;      /* violations already turned into failures */
    /* COHORT_ERR_EXCLUDED warnings, checked at the end: the member named
     * did install that view, without the warned member */
    struct {
        cohort_member_t warned, named;
        uint64_t view_id;
    } excluded[SIM_MAX_EXCLUDED];
    size_t n_excluded;
    sim_twin_t twin;
    bool total, safe;        /* the core supports TOTAL, SAFE */
    sim_total_t ord;         /* total order (total_sim.c) */
    uint64_t end_ns;

    /* last time subject's current incarnation was missing from observer's
     * member list: obligations need continuous mutual membership */
    uint64_t absent_ns[SIM_MAX_NODES][SIM_MAX_NODES];

    /* member ids in order, for sim_identity_of */
    struct { uint32_t id, node; } by_id[SIM_MAX_NODES];
    uint64_t views_agreed_ns; /* first time every member shared a view
                                 of all of them (view_bound_ns); 0: not yet */

    /* node_wake() of each node, as of the last call into it: a node's wake
     * changes only when the simulator acts on it, and co_core_deadline
     * is far too costly to ask every node at every step of a group of
     * 128 (sim.c run_loop) */
    uint64_t wake_ns[SIM_MAX_NODES];
    uint64_t roster_epoch; /* +1 whenever a node starts or stops */

    size_t mem_bound;
    uint64_t steps, max_steps;
    uint64_t hash;
    sim_totals_t tot;

    bool injected;
    sim_attack_t atk;
    sim_rpc_t rpc;
    sim_state_t st;

    bool failed;
    char why[512];
    uint64_t fail_ns;
} sim_world_t;

/* sim.c */
/* Run one scenario; returns 0 when every property held, 1 otherwise (with
 * w->why set). w is filled for the summary; call sim_world_free() after. */
int sim_run(sim_world_t *w, const sim_opts_t *opts);
void sim_world_free(sim_world_t *w);
/* Probe the core once: FIFO support and crypto support. */
void sim_probe_core(bool *fifo, bool *secure);
/* ... and TOTAL and SAFE support. */
void sim_probe_ordered(bool *total, bool *safe);
void sim_trace(sim_world_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_fail(sim_world_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_hash(sim_world_t *w, const void *data, size_t len);
void sim_hash_u64(sim_world_t *w, uint64_t v);

/* net.c */
void sim_net_init(sim_world_t *w);
/* Put one datagram the core of node src emitted on the network. */
void sim_net_send(sim_world_t *w, size_t src, const co_tx_t *tx);
/* The longest datagram node i receives (its max_datagram: a misfit's is
 * smaller than the members'); longer ones are dropped on arrival. */
size_t sim_node_datagram(const sim_world_t *w, size_t i);
/* Whether nodes a and b are of one group (same group id and key), so
 * each hears the other as a member (member events, member lists): the
 * members among themselves, and the misfit with them too, which is kept
 * out of their views only. */
bool sim_same_group(const sim_world_t *w, size_t a, size_t b);
/* Node idx acts as a CPU without AES-256-GCM (scn.noaes_mask). */
bool sim_node_aes_off(const sim_world_t *w, size_t idx);
/* Whether node's own link drops datagram d of len bytes on its way to or
 * from it: the narrow outsider's link, for one longer than narrow_path
 * (counted in tot.narrowed). A node's own loopback does not cross it. */
bool sim_link_drops(sim_world_t *w, size_t node, const uint8_t *d,
                    size_t len);
/* True when a datagram from a can reach b now (partitions). */
bool sim_net_connected(const sim_world_t *w, size_t a, size_t b);
void sim_addr_of(size_t idx, co_addr_t *out);
/* Node index of an endpoint, or -1. */
int sim_addr_node(const sim_world_t *w, const co_addr_t *a);

/* Node i's clock, and what follows every call into its core (sim.c). */
uint64_t sim_local_ns(const sim_world_t *w, const sim_node_t *n);
void sim_after_call(sim_world_t *w, size_t i);

/* attack.c */
void sim_attack_init(sim_world_t *w);
void sim_attack_free(sim_world_t *w);
/* The attacker overhears a datagram node src emitted. */
void sim_attack_tap(sim_world_t *w, size_t src, const co_tx_t *tx);
/* A queued SIM_ITEM_ATTACK or SIM_ITEM_ATK_DGRAM. */
void sim_attack_item(sim_world_t *w, sim_item_t *it);
/* The attacker's own endpoint. */
void sim_attack_addr(co_addr_t *out);
bool sim_attack_is_addr(const co_addr_t *a);

/* attack_check.c: one attacker datagram, before and after the core saw it */
typedef struct sim_atk_snap {
    size_t dst;
    sim_atk_kind_t kind;
    bool exact;            /* byte for byte a recorded datagram */
    int want;              /* the drop the wire rules give; -1: replay rules */
    uint64_t seq;          /* its packet_seq (0 without a header) */
    bool xfer;             /* a state transfer datagram (CO_TYPE_XFER) */
    size_t emitter;        /* the node whose datagram it is (or copies) */
    size_t n_members;
    cohort_member_t members[SIM_MEMBER_LIST_MAX];
    uint64_t drops[COHORT_DROP__COUNT];
} sim_atk_snap_t;

void sim_atk_check_before(const sim_world_t *w, size_t r,
                          sim_atk_kind_t kind, size_t emitter,
                          const uint8_t *d, size_t len, sim_atk_snap_t *snap);
void sim_atk_check_after(sim_world_t *w, const sim_atk_snap_t *snap);
/* End of run: the attack happened and was counted (fails otherwise). */
void sim_attack_finish(sim_world_t *w);
bool sim_atk_exact(sim_atk_kind_t k);
uint8_t sim_attack_mode_flags(const sim_world_t *w);
const char *sim_drop_name(int reason);
const char *sim_atk_kind_name(sim_atk_kind_t k);

/* decode.c: a one-line description of a datagram for the trace. */
void sim_describe(const uint8_t *data, size_t len, char *buf, size_t room);

/* payload.c */
/* Write a message of p->len (>= SIM_PAYLOAD_HEADER) bytes into buf. */
void sim_payload_build(uint8_t *buf, const sim_payload_t *p);
/* Parse and verify one; returns NULL when intact, else what is wrong. */
const char *sim_payload_check(const uint8_t *buf, size_t len,
                              sim_payload_t *p);

/* view_check.c */
void sim_view_init(sim_world_t *w);
void sim_view_free(sim_world_t *w);
void sim_view_event(sim_world_t *w, size_t r, const cohort_event_t *ev);
void sim_view_stopped(sim_world_t *w, size_t r);
/* With scn.vs: node s's application sent FIFO message p (accepted by
 * co_core_send); node r's pulled the delivery ev of p (integrity checked). */
void sim_vs_sent(sim_world_t *w, size_t s, const sim_payload_t *p);
void sim_vs_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                      const sim_payload_t *p);
bool sim_views_converged(sim_world_t *w, char *why, size_t len);
void sim_view_final(sim_world_t *w);
/* A COHORT_ERR_EXCLUDED warning at node r (judged by sim_view_final). */
void sim_view_excluded(sim_world_t *w, size_t r, const cohort_event_t *ev);

/* vs_twin.c: the same calls as vs_check's, to the twin */
bool sim_twin_test(sim_inject_t k);
void sim_twin_report(sim_world_t *w);
void sim_twin_install(sim_world_t *w, size_t r, uint64_t view_id,
                      const cohort_member_t *m, size_t n, bool primary);
void sim_twin_sent(sim_world_t *w, size_t s, uint64_t key, uint64_t view_id);
bool sim_twin_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                        const sim_payload_t *p);
void sim_twin_stopped(sim_world_t *w, size_t r);
void sim_twin_final(sim_world_t *w, const cohort_member_t *live, size_t n);

/* total_sim.c: every delivery, view and stop into total_check */
void sim_total_init(sim_world_t *w);
void sim_total_free(sim_world_t *w);
void sim_total_install(sim_world_t *w, size_t r, const cohort_event_t *ev);
void sim_total_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                         const sim_payload_t *p);
void sim_total_stopped(sim_world_t *w, size_t r);
/* Node r's core dropped the ordered messages it held past its state
 * request's place in its current view (a superseded state transfer). */
void sim_total_superseded(sim_world_t *w, size_t r);
void sim_total_final(sim_world_t *w);
/* Turn new findings into a failure of the run. */
void sim_total_report(sim_world_t *w);

/* total_twin.c: the self-tests of total_check */
bool sim_total_test(sim_inject_t k);
/* The twin gets this delivery, or a perturbed one, or not yet. */
void sim_total_twin_delivered(sim_world_t *w, size_t r,
                              const sim_odel_t *d);
void sim_total_twin_install(sim_world_t *w, size_t r, uint64_t view_id,
                            const cohort_member_t *m, size_t n);
void sim_total_twin_stopped(sim_world_t *w, size_t r);
void sim_total_twin_final(sim_world_t *w, const cohort_member_t *live,
                          size_t n);
void sim_total_twin_report(sim_world_t *w);

/* rpc_sim.c: the request-reply workload and its checkers */
bool sim_rpc_test(sim_inject_t k);
void sim_rpc_init(sim_world_t *w);
void sim_rpc_free(sim_world_t *w);
/* Node i started (or restarted) / stops. */
void sim_rpc_started(sim_world_t *w, size_t i);
void sim_rpc_stopped(sim_world_t *w, size_t i);
/* Node i's life old_gen ends excluded and its next (gen now) begins:
 * the requests old_gen had open are owed a CLOSED DONE by the new one. */
void sim_rpc_rejoining(sim_world_t *w, size_t i, uint32_t old_gen);
/* A REQUEST, REPLY or REQUEST_DONE event node r pulled. */
void sim_rpc_event(sim_world_t *w, size_t r, const cohort_event_t *ev);
/* When node i's application has request-reply work, and doing it. */
uint64_t sim_rpc_wake(const sim_world_t *w, size_t i);
void sim_rpc_step(sim_world_t *w, size_t i);
/* After every core call: the reply history within its bounds. */
void sim_rpc_check_node(sim_world_t *w, size_t r);
/* The heal: no new requests. */
void sim_rpc_heal(sim_world_t *w);
/* Every request of a running member ended; else *why says which not. */
bool sim_rpc_idle(const sim_world_t *w, char *why, size_t len);
void sim_rpc_final(sim_world_t *w);

/* state_sim.c: the application state, state transfer and its checkers */
bool sim_state_test(sim_inject_t k);
void sim_state_init(sim_world_t *w);
void sim_state_free(sim_world_t *w);
/* Node n's core config: whether it asks, whether it provides. */
void sim_state_config(const sim_world_t *w, const sim_node_t *n,
                      co_core_config_t *cfg);
void sim_state_started(sim_world_t *w, size_t i);
/* Node i's life is the one the state-handover self-test made deaf: kept
 * (no rejoin), so that its unended wait is seen. */
bool sim_state_self_test_life(sim_world_t *w, size_t i);
void sim_state_stopped(sim_world_t *w, size_t i);
/* Before node r's application takes any event (what the core dropped
 * for a superseded state), and the STATE_* and VIEW events it takes. */
void sim_state_pulled(sim_world_t *w, size_t r);
void sim_state_event(sim_world_t *w, size_t r, const cohort_event_t *ev);
void sim_state_view(sim_world_t *w, size_t r, const cohort_event_t *ev);
/* An intact TOTAL or SAFE delivery p at node r. */
void sim_state_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                         const sim_payload_t *p);
uint64_t sim_state_wake(const sim_world_t *w, size_t i);
void sim_state_step(sim_world_t *w, size_t i);
void sim_state_check_node(sim_world_t *w, size_t r);
void sim_state_heal(sim_world_t *w);
bool sim_state_idle(const sim_world_t *w, char *why, size_t len);
void sim_state_final(sim_world_t *w);

/* sim.c: node i crashes (or leaves) at at_ns and restarts down_ns later;
 * false when no episode is left for it. */
bool sim_schedule_crash(sim_world_t *w, size_t i, uint64_t at_ns,
                        uint64_t down_ns, bool graceful);

/* check.c */
/* Remember an accepted message and whom it is owed to. */
void sim_check_sent(sim_world_t *w, size_t s, const sim_payload_t *p);
/* A node pulled an event. */
void sim_check_event(sim_world_t *w, size_t r, const cohort_event_t *ev);
/* After every core call on node r: member list, memory. */
void sim_check_node(sim_world_t *w, size_t r);
/* Counters of node r's core against what the simulator saw. */
void sim_check_stats(sim_world_t *w, size_t r);
/* Add node r's counters to the run's totals (before its core goes). */
void sim_collect_stats(sim_world_t *w, size_t r);
/* Memory bound derived from the configuration. */
size_t sim_memory_bound(const co_core_config_t *cfg);
/* Heal phase: true when everything owed has arrived and every view
 * agrees; otherwise *why (static or w-owned) says what is missing. */
bool sim_converged(sim_world_t *w, char *why, size_t why_len);
/* Whether message m of node s must reach receiver r's current incarnation. */
bool sim_owed(const sim_world_t *w, size_t s, const sim_msg_t *m, size_t r);
/* How many (message, receiver) pairs are owed now. */
uint64_t sim_count_owed(const sim_world_t *w);
/* Node r's core dropped what it held of view's TOTAL and SAFE messages
 * (a state transfer superseded there): they are owed no more. */
void sim_check_superseded(sim_world_t *w, size_t r, uint64_t view);
/* A node restarted or crashed: forget the old incarnation's checker state. */
void sim_check_reset_node(sim_world_t *w, size_t r);
/* Sort the member ids once every node has its own (setup). */
void sim_identity_index(sim_world_t *w);
/* Which node and generation a member identity belongs to; false if none. */
bool sim_identity_of(const sim_world_t *w, cohort_member_t m, size_t *node,
                     uint32_t *gen);
/* `attack` scenario, converged: member events exactly as without it. */
void sim_check_member_events(sim_world_t *w);

static inline uint32_t sim_incarnation(const sim_node_t *n)
{
    return n->incarnation[n->gen];
}

#endif /* COHORT_SIM_H */
