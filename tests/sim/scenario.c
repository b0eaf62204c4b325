/*
 * scenario.c - every parameter of a run, drawn from its seed.
 *
 * A scenario names which faults are active; the seed picks their strength
 * (loss 0-40 %, duplication, reordering, jitter, partitions, crashes, slow
 * receivers), the node count, the protocol timings, the buffer sizes and the
 * workload. A sweep over a range of seeds therefore sweeps the space. The
 * scenario name is mixed into the seed so that "lossy 7" and "crash 7" are
 * unrelated runs. The attacker's parameters come from a stream of their
 * own, so adding it left every other parameter of the older scenarios'
 * seeds as it was.
 */
#include <string.h>

#include "co_assert.h"
#include "crypto.h"
#include "sim.h"

#define MS 1000000ULL
#define US 1000ULL

const char *const sim_scenarios[] = {"basic", "lossy", "partition", "crash",
                                     "slow",  "heavy", "attack"};
const size_t sim_n_scenarios = sizeof sim_scenarios / sizeof sim_scenarios[0];

/* "all" runs these after sim_scenarios; "mixed" does not pick them, so
 * its seeds stay as they were. */
const char *const sim_all_extra[] = {"state"};
const size_t sim_n_all_extra = sizeof sim_all_extra / sizeof sim_all_extra[0];

/* Run by name only: not in "all" or "mixed" (whose seeds stay as they
 * were), since one run costs seconds rather than milliseconds. */
static const char *const named_only[] = {"large", "rpc", "jumbo"};

bool sim_scenario_known(const char *name)
{
    for (size_t i = 0; i < sim_n_scenarios; i++)
        if (strcmp(name, sim_scenarios[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof named_only / sizeof named_only[0]; i++)
        if (strcmp(name, named_only[i]) == 0)
            return true;
    for (size_t i = 0; i < sim_n_all_extra; i++)
        if (strcmp(name, sim_all_extra[i]) == 0)
            return true;
    return false;
}

bool sim_scenario_masked(const char *name)
{
    return strcmp(name, "large") != 0;
}

const char *sim_scenario_for_seed(uint64_t seed)
{
    co_rng_t r;
    co_rng_seed(&r, seed ^ 0x5ce7a210ULL);
    return sim_scenarios[co_rng_below(&r, sim_n_scenarios)];
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Uniform in [lo, hi]. */
static uint64_t between(co_rng_t *r, uint64_t lo, uint64_t hi)
{
    COHORT_ASSERT(lo <= hi);
    return lo + co_rng_below(r, hi - lo + 1);
}

static double between_d(co_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * co_rng_double(r);
}

static void draw_config(sim_scn_t *s, co_rng_t *r, bool secure_ok)
{
    static const uint64_t hb_ms[] = {20, 50, 100};
    static const uint64_t bundle_us[] = {0, 100, 200, 1000};
    static const size_t dgram[] = {512, 1200, 1400, 1400, 1472};
    co_core_config_t *c = &s->cfg;

    co_core_config_defaults(c);
    c->heartbeat_interval_ns = hb_ms[co_rng_below(r, 3)] * MS;
    c->member_timeout_ns = c->heartbeat_interval_ns * between(r, 10, 30);
    c->nack_delay_ns = between(r, 1, 5) * MS;
    c->nack_retry_ns = between(r, 10, 40) * MS;
    c->bundle_delay_ns = bundle_us[co_rng_below(r, 4)] * US;
    c->max_datagram = dgram[co_rng_below(r, 5)];
    c->max_message = between(r, 16, 256) * 1024;
    c->send_window_bytes = between(r, 64, 256) * 1024;
    /* Half the seeds share the window among the members sending, as a
     * window left to the library does (core.c, share_window): taken from
     * the draw above, so that no seed's later draws move. */
    if ((c->send_window_bytes / 1024) % 2)
        c->window_share_min = 4 * c->max_datagram;
    /* Half the seeds repair with parity (parity.h), blocks of 2 to 64
     * records; likewise taken from a draw above. */
    static const size_t par_k[] = {2, 3, 8, 16, 32, 64};
    size_t mm_kib = c->max_message / 1024;
    if (mm_kib % 2 == 0)
        c->parity_block = par_k[(mm_kib / 2) % 6];
    /* Half of those send some parity unasked too (proactive): 1 symbol
     * a block up to all of them. */
    if (c->parity_block && (mm_kib / 12) % 2)
        c->parity_extra = 1 + (mm_kib / 24) % c->parity_block;
    /* The core requires recv_buffer_bytes >= send_window_bytes. */
    c->recv_buffer_bytes = c->send_window_bytes > c->max_message
                               ? c->send_window_bytes
                               : c->max_message;
    c->recv_buffer_bytes += between(r, 0, 256) * 1024;
    /* Room for every member (the outsider never joins); spare slots vary
     * so the memory bound varies with them. */
    c->max_members = s->members + between(r, 0, 8);
    c->event_queue_len = between(r, 16, 256);
    c->security = COHORT_SECURITY_NONE;
    if (secure_ok)
        c->security = (cohort_security_t)co_rng_below(r, 3);
    c->key_id = 1;
    for (size_t i = 0; i < COHORT_KEY_BYTES; i++)
        c->key[i] = (uint8_t)co_rng_next(r);
}

static void draw_network(sim_scn_t *s, co_rng_t *r, double loss_max)
{
    s->loss_max = between_d(r, 0, loss_max);
    s->latency_min_ns = between(r, 20, 200) * US;
    s->latency_max_ns = s->latency_min_ns + between(r, 0, 2000) * US;
    s->jitter_ns = between(r, 0, 200) * US;
}

static void draw_chaos(sim_scn_t *s, co_rng_t *r, double loss_max)
{
    draw_network(s, r, loss_max);
    s->dup = between_d(r, 0, 0.05);
    s->reorder = between_d(r, 0, 0.2);
    s->jitter_ns = between(r, 0, 5000) * US;
    s->holdback_max_ns = between(r, 5, 50) * MS;
    /* Loss comes in bursts too (a queue overflowing somewhere). */
    s->burst_loss = between_d(r, 0, 0.02);
    s->burst_len_max = between(r, 2, 30);
    if (s->cfg.security != COHORT_SECURITY_NONE)
        s->corrupt = between_d(r, 0, 0.02);
}

/* Nonoverlapping episodes inside the fault phase, one after the other. */
static void draw_partitions(sim_scn_t *s, co_rng_t *r, size_t n)
{
    uint64_t t = s->fault_ns / 20;
    uint64_t to = s->cfg.member_timeout_ns;
    size_t nodes = s->members + (s->outsider ? 1 : 0);
    COHORT_ASSERT(s->members <= SIM_MASK_MEMBERS);
    uint32_t all = (1u << s->members) - 1;
    for (size_t i = 0; i < n && i < SIM_MAX_EPISODES; i++) {
        sim_episode_t *e = &s->partition[s->n_partitions];
        e->start_ns = t + between(r, 0, s->fault_ns / 4);
        /* Short ones must be repaired without anyone being dropped; long
         * ones make members time out and rejoin. */
        uint64_t d = co_rng_below(r, 2) ? between(r, to / 5, to * 4 / 5)
                                        : between(r, to * 3 / 2, to * 3);
        e->end_ns = e->start_ns + d;
        if (e->end_ns > s->fault_ns * 19 / 20)
            break;
        uint32_t side = (uint32_t)between(r, 1, all - 1);
        if (s->outsider && co_rng_below(r, 2))
            side |= 1u << (nodes - 1);
        e->arg = side;
        /* One-way cuts: one side hears the other but is not heard. */
        e->oneway = co_rng_below(r, 3) == 0;
        s->n_partitions++;
        t = e->end_ns + between(r, 1, 200) * MS;
    }
}

static void draw_crashes(sim_scn_t *s, co_rng_t *r, size_t n)
{
    uint64_t t = s->fault_ns / 20;
    uint64_t to = s->cfg.member_timeout_ns;
    for (size_t i = 0; i < n && i < SIM_MAX_EPISODES; i++) {
        sim_episode_t *e = &s->crash[s->n_crashes];
        e->start_ns = t + between(r, 0, s->fault_ns / 4);
        /* Some restarts come back within a few ms, while datagrams of the
         * old incarnation may still be in flight (after a graceful leave). */
        uint64_t down = co_rng_below(r, 4) == 0 ? between(r, 1, 5) * MS
                                                : between(r, 50 * MS, 2 * to);
        e->end_ns = e->start_ns + down;
        if (e->end_ns > s->fault_ns * 19 / 20)
            break;
        e->arg = (uint32_t)co_rng_below(r, s->members);
        e->graceful = co_rng_below(r, 3) == 0;
        s->n_crashes++;
        t = e->end_ns + between(r, 1, 200) * MS;
    }
}

/* Pauses, as SIGSTOP or a long stall makes them: a node that stops for
 * longer than the member timeout is excluded while it is alive, then
 * resumes with its old view and every timer overdue, and must be merged
 * back. Drawn from a stream of their own, after everything else, so the
 * other parameters of a seed stay as they were. */
static void draw_pauses(sim_scn_t *s, const sim_opts_t *o, size_t max)
{
    co_rng_t r;
    co_rng_seed(&r, o->seed ^ name_hash(o->scenario) ^ 0x9a05e5ULL);
    size_t n = co_rng_below(&r, max + 1);
    uint64_t t = s->fault_ns / 10;
    uint64_t to = s->cfg.member_timeout_ns;
    for (size_t i = 0; i < n && i < SIM_MAX_EPISODES; i++) {
        sim_episode_t *e = &s->pause[s->n_pauses];
        e->start_ns = t + between(&r, 0, s->fault_ns / 4);
        /* Short ones must pass unnoticed; long ones exclude it. */
        uint64_t d = co_rng_below(&r, 3) == 0 ? between(&r, to / 5, to / 2)
                                              : between(&r, to * 3 / 2, to * 3);
        e->end_ns = e->start_ns + d;
        if (e->end_ns > s->fault_ns * 19 / 20)
            break;
        e->arg = (uint32_t)co_rng_below(&r, s->members);
        s->n_pauses++;
        t = e->end_ns + between(&r, 1, 200) * MS;
    }
}

/* A slow receiver fills its event queue, delivery pauses, its acks stop
 * and the senders' windows fill: flow control must hold them back (AGAIN)
 * without losing anything. Small windows make that happen often. */
static void draw_slow(sim_scn_t *s, co_rng_t *r, size_t n)
{
    COHORT_ASSERT(s->members <= SIM_MASK_MEMBERS);
    for (size_t i = 0; i < n; i++) {
        size_t k = co_rng_below(r, s->members);
        s->slow_mask |= 1u << k;
        s->slow_pull_ns[k] = between(r, 2, 100) * MS;
    }
    s->cfg.event_queue_len = between(r, 1, 32);
    size_t floor_kib = (4 * s->cfg.max_datagram + 1023) / 1024;
    s->cfg.send_window_bytes = between(r, floor_kib, 32) * 1024;
}

static void draw_workload(sim_scn_t *s, co_rng_t *r, bool fifo, size_t lo,
                          size_t hi, size_t size_cap)
{
    s->msgs_per_node = between(r, lo, hi);
    s->fifo_share = fifo ? between_d(r, 0.5, 0.9) : 0.0;
    s->burst_max = between(r, 1, 6);
    double bursts = (double)s->msgs_per_node * 2.0 / (double)(s->burst_max + 1);
    s->burst_gap_ns = (uint64_t)((double)s->fault_ns * 0.85 / bursts);
    s->flush_share = between_d(r, 0.3, 1.0);
    if (size_cap < s->cfg.max_datagram)
        size_cap = s->cfg.max_datagram;
    s->size_max = between(r, s->cfg.max_datagram, size_cap);
}

/* The attacker: strong in `attack`, moderate in half of the runs of the
 * scenarios with faults, absent from `basic` (the reference run with nothing
 * but latency). It alters and forges only where a key makes that
 * detectable; an unsecured group has no defence against it by design. */
static void draw_attack(sim_scn_t *s, const sim_opts_t *o)
{
    co_rng_t r;
    co_rng_seed(&r, o->seed ^ name_hash(o->scenario) ^ 0xa77ac4ed5eedULL);
    s->attack_forge = s->cfg.security != COHORT_SECURITY_NONE;
    s->attack_tap_unicast = between_d(&r, 0.2, 1.0);
    s->attack_strict = strcmp(s->name, "attack") == 0;
    if (s->attack_strict)
        s->attack_hz = (double)between(&r, 500, 3000);
    else if (s->view_bound_ns != 0)
        s->attack_hz = 0; /* `large` is about size */
    else if (!s->lossless && co_rng_below(&r, 2))
        s->attack_hz = (double)between(&r, 20, 200);
    if (o->attack_rate_hz > 0)
        s->attack_hz = o->attack_rate_hz;
    else if (o->attack_rate_hz < 0)
        s->attack_hz = 0;
}

/* `state` (state_sim.c): founders start at once and hold a state (a
 * hash chain of the TOTAL and SAFE messages they delivered); the others
 * join during the fault phase and ask for it, and so does every
 * restarted incarnation; some members ask again once later. Providers
 * crash or leave while they send (up to state_kills of them, drawn as
 * they get STATE_REQUEST), on top of the drawn crashes, a partition and
 * the network of `lossy` at half strength. Snapshots span one datagram
 * to 200 (past the transfer window of 64). */
static void draw_state(sim_scn_t *s, co_rng_t *r, bool fifo)
{
    draw_chaos(s, r, 0.15);
    draw_crashes(s, r, between(r, 0, 2));
    draw_partitions(s, r, between(r, 0, 1));
    draw_workload(s, r, fifo, 20, 60, 2 * s->cfg.max_datagram);
    s->state = true;
    s->state_founders = between(r, 1, s->members - 1);
    for (size_t k = s->state_founders; k < s->members; k++)
        s->join_ns[k] = between(r, s->fault_ns / 10, s->fault_ns * 3 / 4);
    for (size_t k = 1; k < s->members; k++)
        if (co_rng_below(r, 6) == 0)
            s->state_noprov_mask |= 1u << k;
    s->state_kills = between(r, 0, 3);
    if (s->state_kills > SIM_MAX_EPISODES - s->n_crashes)
        s->state_kills = SIM_MAX_EPISODES - s->n_crashes;
    s->state_kill_share = between_d(r, 0.2, 0.8);
    s->state_rerequest_share = between_d(r, 0, 0.4);
    s->state_large_share = between_d(r, 0, 0.3);
}

static void draw_scenario(sim_scn_t *s, co_rng_t *r, bool fifo)
{
    const char *n = s->name;
    size_t dg = s->cfg.max_datagram;
    if (strcmp(n, "basic") == 0) {
        draw_network(s, r, 0.0);
        s->lossless = true;
        draw_workload(s, r, fifo, 20, 60, 3 * dg);
    } else if (strcmp(n, "lossy") == 0) {
        draw_chaos(s, r, 0.4);
        draw_workload(s, r, fifo, 20, 80, 4 * dg);
    } else if (strcmp(n, "partition") == 0) {
        draw_network(s, r, 0.05);
        draw_partitions(s, r, between(r, 1, 3));
        draw_workload(s, r, fifo, 30, 80, 3 * dg);
    } else if (strcmp(n, "crash") == 0) {
        draw_network(s, r, 0.05);
        draw_crashes(s, r, between(r, 1, 3));
        draw_workload(s, r, fifo, 30, 80, 3 * dg);
    } else if (strcmp(n, "slow") == 0) {
        draw_network(s, r, 0.05);
        draw_slow(s, r, between(r, 1, 2));
        draw_workload(s, r, fifo, 60, 150, 4 * dg);
    } else if (strcmp(n, "attack") == 0) {
        /* Nothing but the attacker and a little loss: no partition, crash
         * or slow receiver, so every member event is known in advance. */
        draw_network(s, r, 0.05);
        draw_workload(s, r, fifo, 30, 100, 3 * dg);
    } else if (strcmp(n, "jumbo") == 0) {
        /* Datagrams as large as loopback carries (the other scenarios
         * stay at Ethernet sizes), under loss, duplication, reordering,
         * a crash and a partition: one bundle or one repair holds
         * dozens of messages, and no room a receiver keeps (for an
         * ORDER record, say) may grow with the datagram. */
        static const size_t big[] = {8192, 32768, 61440, 65507};
        co_core_config_t *c = &s->cfg;
        c->max_datagram = big[co_rng_below(r, 4)];
        if (c->send_window_bytes < 4 * c->max_datagram)
            c->send_window_bytes = 4 * c->max_datagram +
                                   between(r, 0, 256) * 1024;
        if (c->max_message < 3 * c->max_datagram)
            c->max_message = 3 * c->max_datagram;
        if (c->recv_buffer_bytes < c->send_window_bytes + c->max_message)
            c->recv_buffer_bytes = c->send_window_bytes + c->max_message;
        if (c->rpc_history_bytes < c->max_datagram)
            c->rpc_history_bytes = c->max_datagram;
        dg = c->max_datagram;
        draw_chaos(s, r, 0.1);
        draw_crashes(s, r, between(r, 0, 1));
        draw_partitions(s, r, between(r, 0, 1));
        draw_workload(s, r, fifo, 60, 200, 2 * dg);
    } else if (strcmp(n, "rpc") == 0) {
        /* Requests under loss, duplication and reordering, members that
         * crash (before or after they reply: replies are held back at
         * random), requesters that crash, and the view changes of all
         * that with requests in flight; small histories and request
         * tables, so their bounds are met. */
        draw_chaos(s, r, 0.2);
        draw_crashes(s, r, between(r, 1, 2));
        draw_partitions(s, r, between(r, 0, 1));
        draw_workload(s, r, fifo, 5, 20, 2 * dg);
        s->rpc = true;
        s->rpc_per_node = between(r, 20, 60);
        s->rpc_gap_ns = s->fault_ns * 85 / 100 / s->rpc_per_node;
        s->rpc_delay_share = between_d(r, 0.1, 0.5);
        s->cfg.rpc_max_requests = between(r, 1, 16);
        s->cfg.rpc_history_len = between(r, 16, 64);
        s->cfg.rpc_history_bytes = between(r, dg, 16 * dg);
    } else if (strcmp(n, "state") == 0) {
        draw_state(s, r, fifo);
    } else {
        COHORT_ASSERT(strcmp(n, "heavy") == 0);
        draw_chaos(s, r, 0.2);
        draw_partitions(s, r, between(r, 0, 2));
        draw_crashes(s, r, between(r, 0, 2));
        if (co_rng_below(r, 2))
            draw_slow(s, r, 1);
        /* Now and then a few messages up to max_message: they are taken
         * whole and fed out as the window drains. */
        draw_workload(s, r, fifo, 100, 250,
                      co_rng_below(r, 4) ? 16 * 1024 : s->cfg.max_message);
    }
}

/*
 * `large`: LARGE_MEMBERS members (or --nodes) start within 300 ms of each
 * other, under light loss (each link up to 2 %, some bursts), and must all
 * share one view of all of them within LARGE_VIEW_BOUND_NS of virtual time
 * from the first start, while the loss is still on, then deliver a light
 * FIFO workload. One membership heartbeat carries an entry per member, so
 * max_datagram is 8192 (a 1472-byte datagram fits about 90 entries).
 * Timings are the defaults' order: heartbeats 100 ms, timeout 2-3 s.
 */
#define LARGE_MEMBERS 128
#ifndef LARGE_VIEW_BOUND_NS
#define LARGE_VIEW_BOUND_NS (5000 * MS)
#endif

static void draw_large(sim_scn_t *s, co_rng_t *r, bool fifo)
{
    co_core_config_t *c = &s->cfg;
    s->outsider = false;
    s->intruder = false;
    s->view_bound_ns = LARGE_VIEW_BOUND_NS;
    s->fault_ns = LARGE_VIEW_BOUND_NS + 1000 * MS; /* the loss lasts past
                                                     the bound */
    c->heartbeat_interval_ns = 100 * MS;
    c->member_timeout_ns = between(r, 20, 30) * c->heartbeat_interval_ns;
    c->max_datagram = 8192;
    c->max_message = 64 * 1024;
    c->send_window_bytes = 256 * 1024;
    c->recv_buffer_bytes = 256 * 1024;
    c->max_members = s->members + 8;
    c->event_queue_len = 256;
    draw_network(s, r, 0.02);
    s->burst_loss = between_d(r, 0, 0.002);
    s->burst_len_max = between(r, 2, 8);
    s->jitter_ns = between(r, 0, 500) * US;
    draw_workload(s, r, fifo, 2, 6, 2 * c->max_datagram);
}

/* The config of an outsider of the members' own group (same group id and
 * key) into *c, and the max_members that leaves room for it, or 0 where
 * the config cannot take it. It is heard, so it takes a slot of every
 * member's table: room for it beside every member (else the last member
 * to come finds the tables full, as it would in a real group). */
static size_t outsider_of_group(const sim_scn_t *s, co_core_config_t *c)
{
    *c = s->cfg;
    c->member_id = 1; /* as a node's (sim.c, node_config) */
    c->incarnation = 1;
    c->group_id = 1;
    const char *why = NULL;
    if (c->max_members < s->members + 1)
        c->max_members = s->members + 1;
    return co_core_config_check(c, &why) == 0 ? c->max_members : 0;
}

/* A third of the runs whose outsider is in another group have it in the
 * members' group instead, with their key, but a smaller max_datagram: it
 * names its size in its heartbeats and must stay in a view of its own
 * (docs/membership.md, "Partitions and merges"); view_check holds it to
 * that as it holds any outsider. From the seed apart, so the draws before
 * are those of every seed from before. Not with sizes under 1 KiB (no
 * smaller size leaves a heartbeat room), nor where the config would not
 * take the smaller size. */
static void draw_misfit(sim_scn_t *s, const sim_opts_t *opts)
{
    co_rng_t m;
    co_rng_seed(&m, opts->seed ^ 0x3a1f17d5ULL);
    bool want = opts->inject == SIM_INJECT_MISFIT || co_rng_below(&m, 3) == 0;
    if (!s->outsider || s->intruder || !want || s->cfg.max_datagram < 1024 ||
        opts->inject == SIM_INJECT_NARROW)
        return;
    co_core_config_t c;
    size_t max_members = outsider_of_group(s, &c);
    if (max_members == 0)
        return;
    const char *why = NULL;
    /* Up to a quarter smaller; closer where a heartbeat for max_members
     * needs the room. */
    size_t least = s->cfg.max_datagram - s->cfg.max_datagram / 4;
    for (c.max_datagram = least + co_rng_below(&m, s->cfg.max_datagram / 8);
         c.max_datagram < s->cfg.max_datagram; c.max_datagram += 8) {
        if (co_core_config_check(&c, &why) == 0) {
            s->misfit = true;
            s->misfit_datagram = c.max_datagram;
            s->cfg.max_members = max_members;
            return;
        }
    }
}

/* Of the runs whose outsider is in another group still, a third have it
 * in the members' group, with their key and size, behind a link that
 * drops datagrams longer than up to a quarter below that size, both
 * ways (a switch port of a lower MTU): its heartbeats arrive, its PATHs
 * do not, and it must stay in a view of its own (docs/membership.md,
 * "The path"). From the seed apart, as the misfit. */
static void draw_narrow(sim_scn_t *s, const sim_opts_t *opts)
{
    co_rng_t m;
    co_rng_seed(&m, opts->seed ^ 0x6e4a77b3ULL);
    bool want = opts->inject == SIM_INJECT_NARROW || co_rng_below(&m, 3) == 0;
    if (!s->outsider || s->intruder || s->misfit || !want ||
        s->cfg.max_datagram < 1024)
        return;
    co_core_config_t c;
    size_t max_members = outsider_of_group(s, &c);
    if (max_members == 0)
        return;
    s->narrow = true;
    s->narrow_path = s->cfg.max_datagram - 1 -
                     co_rng_below(&m, s->cfg.max_datagram / 4);
    s->cfg.max_members = max_members;
}

void sim_scenario_draw(sim_scn_t *s, const sim_opts_t *opts, bool fifo,
                       bool secure_ok)
{
    COHORT_ASSERT(sim_scenario_known(opts->scenario));
    co_rng_t r;
    co_rng_seed(&r, opts->seed ^ name_hash(opts->scenario));
    memset(s, 0, sizeof *s);
    strcpy(s->name, opts->scenario);
    bool large = strcmp(s->name, "large") == 0;

    if (opts->members)
        s->members = (size_t)opts->members;
    else if (large)
        s->members = LARGE_MEMBERS;
    else
        s->members = (size_t)between(&r, 2, SIM_DRAW_MEMBERS);
    COHORT_ASSERT(s->members >= 2 && s->members <= SIM_MAX_MEMBERS);
    COHORT_ASSERT(s->members <= SIM_MASK_MEMBERS ||
                  !sim_scenario_masked(s->name));
    s->outsider = co_rng_below(&r, 8) != 0;
    s->fault_ns = between(&r, 2000, 4000) * MS;
    draw_config(s, &r, secure_ok);
    /* The attack scenario is mostly about a secured group; a fifth of its
     * runs keep the replay-only attacker of an unsecured one. */
    if (strcmp(s->name, "attack") == 0 && secure_ok && co_rng_below(&r, 5))
        s->cfg.security = (cohort_security_t)between(&r, 1, 2);
    s->intruder = s->outsider && s->cfg.security != COHORT_SECURITY_NONE &&
                  co_rng_below(&r, 3) == 0;
    if (large)
        draw_large(s, &r, fifo);
    else
        draw_scenario(s, &r, fifo);
    s->heal_max_ns = 4 * s->cfg.member_timeout_ns + 4000 * MS;
    draw_attack(s, opts);
    if (strcmp(s->name, "crash") == 0 || strcmp(s->name, "heavy") == 0)
        draw_pauses(s, opts, strcmp(s->name, "crash") == 0 ? 2 : 1);
    /* Not drawn: the seed's run is the same with and without --vs, except
     * that members are told to deliver their own messages. Without --vs
     * they are told not to, which check.c holds them to. */
    s->vs = opts->vs;
    /* Members of one group seal with either cipher (each opens both).
     * From the seed apart, so the draws above are those of every seed
     * before ciphers were mixed. */
    if (s->cfg.security != COHORT_SECURITY_NONE &&
        co_crypto_cipher_available(COHORT_CIPHER_AES256GCM)) {
        co_rng_t c;
        co_rng_seed(&c, opts->seed ^ 0xae5256aeULL);
        s->aes_mask = (uint32_t)co_rng_next(&c);
        /* A quarter of them mix in members without AES-256-GCM. */
        if (co_rng_next(&c) % 4 == 0)
            s->noaes_mask = (uint32_t)co_rng_next(&c);
    }
    draw_misfit(s, opts);
    draw_narrow(s, opts);
    s->self_delivery = opts->vs && !opts->no_self_delivery;
    s->cfg.self_delivery = s->self_delivery ? 1 : 0;
    /* State transfer needs self-delivery (the request's place is found
     * in the requester's own delivery of the order). */
    if (s->state) {
        s->self_delivery = true;
        s->cfg.self_delivery = 1;
    }
}
