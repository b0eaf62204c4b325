/*
 * faults.h - seeded fault injection at the IO edge (testing only).
 *
 * Sits between the sockets and the core, once per direction ("lane"): every
 * datagram sent or received is admitted to its lane, which decides from its
 * own seeded generator whether to drop it, pass it once or twice, and
 * whether to hold one copy back so later datagrams overtake it. Held copies
 * are released after a few later datagrams or a short time bound, whichever
 * comes first, so reordering never turns into loss.
 *
 * Spec strings, e.g. "drop=0.1,dup=0.01,reorder=0.05,seed=7": drop, dup and
 * reorder apply to both directions; tx_drop, rx_drop, tx_dup, rx_dup,
 * tx_reorder and rx_reorder set one direction and win over the plain key.
 * Rates are probabilities in [0, 1]. The empty string means no faults.
 *
 * Same seed and same sequence of admit/release calls, same decisions.
 */
#ifndef COHORT_FAULTS_H
#define COHORT_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "rng.h"

#define CO_FAULTS_HOLD_MAX 8              /* datagrams held back per lane */
#define CO_FAULTS_HOLD_AFTER_MAX 4        /* released after 1..4 later ones */
#define CO_FAULTS_HOLD_MAX_NS 4000000ULL  /* or after at most 4 ms */
#define CO_FAULTS_SPEC_MAX 512            /* longest accepted spec, bytes */

typedef enum co_fault_dir {
    CO_FAULT_TX = 0,
    CO_FAULT_RX = 1,
} co_fault_dir_t;

typedef struct co_fault_rates {
    double drop;
    double dup;
    double reorder;
} co_fault_rates_t;

typedef struct co_faults_spec {
    co_fault_rates_t rate[2]; /* by co_fault_dir_t */
    bool has_seed;
    uint64_t seed;
} co_faults_spec_t;

/* Parse spec (NULL or "" means no faults). Returns 0, or COHORT_ERR_INVAL
 * with a description of the first bad item written to why. */
int co_faults_parse(const char *spec, co_faults_spec_t *out, char *why,
                    size_t why_len);

/* True when any rate of direction dir is nonzero. */
bool co_faults_active(const co_faults_spec_t *spec, co_fault_dir_t dir);

/* One datagram going through a lane: rx carries its source in addr, tx its
 * destination (kind is a co_dest_kind_t; addr unused for CO_DEST_GROUP). */
typedef struct co_fault_dgram {
    const uint8_t *data;
    size_t len;
    int kind;
    co_addr_t addr;
} co_fault_dgram_t;

typedef struct co_fault_held {
    bool used;
    uint8_t *buf;        /* slot_bytes, owned by the lane */
    size_t len;
    int kind;
    co_addr_t addr;
    uint64_t order;      /* admission order, for deterministic release */
    uint32_t after;      /* later datagrams still to pass before release */
    uint64_t release_ns; /* release at the latest then */
} co_fault_held_t;

typedef struct co_fault_lane {
    co_fault_rates_t rate;
    co_rng_t rng;
    size_t slot_bytes;
    uint64_t admitted;
    co_fault_held_t held[CO_FAULTS_HOLD_MAX];
    /* counters */
    uint64_t dropped;
    uint64_t duplicated;
    uint64_t reordered;
} co_fault_lane_t;

/* Prepare a lane for datagrams of at most slot_bytes. Returns 0 or
 * COHORT_ERR_NOMEM (the lane is then safe to free). */
int co_fault_lane_init(co_fault_lane_t *lane, const co_fault_rates_t *rate,
                       uint64_t seed, size_t slot_bytes);
void co_fault_lane_free(co_fault_lane_t *lane);

/* Decide the fate of d at now_ns. Returns how many copies the caller passes
 * on at once (0, 1 or 2); one more may have been copied into the lane to be
 * released later. d->len must be <= slot_bytes. */
unsigned co_fault_admit(co_fault_lane_t *lane, uint64_t now_ns,
                        const co_fault_dgram_t *d);

/* Take the oldest held datagram that is due at now_ns (any, when force).
 * Returns false when none is. out->data points into the lane and stays valid
 * until the next co_fault_admit() on this lane. */
bool co_fault_release(co_fault_lane_t *lane, uint64_t now_ns, bool force,
                      co_fault_dgram_t *out);

/* Earliest release time of a held datagram; UINT64_MAX if none. */
uint64_t co_fault_deadline(const co_fault_lane_t *lane);

/* Datagrams the lane holds now. */
size_t co_fault_held_count(const co_fault_lane_t *lane);

#endif
