/*
 * sim.c - nodes and the main loop of the simulator.
 *
 * Each node's core is driven exactly like the IO edge drives it: every
 * arriving datagram goes to co_core_recv, co_core_tick runs at
 * co_core_deadline, the tx queue is drained onto the virtual network after
 * every call, events are pulled (at a limited rate on slow receivers) and
 * co_core_flush runs when the application yields. The loop always advances
 * to the earliest of: the next queued item (datagram arrival, fault, heal),
 * the next node wake-up, the next liveness check; ties go to queued items
 * in insertion order, then to nodes in index order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"

#define MS 1000000ULL
#define CHECK_EVERY_NS (20 * MS)
#define START_SPREAD_NS (300 * MS)
#define RETRY_MAX_NS (5 * MS)
#define QUEUE_MAX_ITEMS (4u << 20)
#define MAX_STEPS 50000000ULL
#define MAX_TX_PER_CALL 100000
#define MAX_EVENTS_PER_CALL 1000000
#define TICK_LIVELOCK 1000
#ifndef SIM_WAKE_AUDIT
#define SIM_WAKE_AUDIT 0 /* 1: assert the cached wakes at every step */
#endif
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* ------------------------------------------------------------------ */
/* Trace, failures, trace hash                                         */
/* ------------------------------------------------------------------ */

void sim_trace(sim_world_t *w, const char *fmt, ...)
{
    if (!w->opts.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("%10.6f ", (double)w->now_ns / 1e9);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

void sim_fail(sim_world_t *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why, sizeof w->why, fmt, ap);
    va_end(ap);
    w->failed = true;
    w->fail_ns = w->now_ns;
    sim_trace(w, "FAIL %s", w->why);
}

void sim_hash(sim_world_t *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        w->hash ^= p[i];
        w->hash *= FNV_PRIME;
    }
}

void sim_hash_u64(sim_world_t *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    sim_hash(w, b, sizeof b);
}

static const char *err_name(int rc)
{
    static const char *const names[] = {
        "OK",     "INVAL",  "NOMEM",    "AGAIN",    "NOTSUP",
        "SYSTEM", "TOOBIG", "CLOSED",   "TIMEDOUT", "NOCRYPTO",
        "KEY",    "ADDRESS", "VERSION", "STATE",    "MALFORMED"};
    if (rc > 0 || -rc >= (int)(sizeof names / sizeof names[0]))
        return "?";
    return names[-rc];
}

/* ------------------------------------------------------------------ */
/* Probing what the core supports                                      */
/* ------------------------------------------------------------------ */

static void probe_config(co_core_config_t *c, cohort_security_t sec)
{
    co_core_config_defaults(c);
    c->group_id = 1;
    c->member_id = 1;
    c->incarnation = 1;
    strcpy(c->name, "probe");
    c->security = sec;
    memset(c->key, 0x5a, sizeof c->key);
    c->key_id = 1;
    c->seed = 1;
}

const char *sim_mode_name(unsigned mode)
{
    static const char *const names[SIM_N_MODES] = {"UNREL", "FIFO", "TOTAL",
                                                   "SAFE"};
    return mode < SIM_N_MODES ? names[mode] : "?";
}

/* TOTAL and SAFE are supported when a send is taken (held before the first
 * view, as FIFO's is) rather than refused with NOTSUP or INVAL. */
void sim_probe_ordered(bool *total, bool *safe)
{
    static bool done, have_total, have_safe;
    if (!done) {
        co_core_config_t cfg;
        co_core_t *c = NULL;
        probe_config(&cfg, COHORT_SECURITY_NONE);
        if (co_core_new(&c, &cfg, 0) == 0) {
            int rt = co_core_send(c, 0, COHORT_TOTAL, "probe", 5);
            int rs = co_core_send(c, 0, COHORT_SAFE, "probe", 5);
            have_total = rt != COHORT_ERR_NOTSUP && rt != COHORT_ERR_INVAL;
            have_safe = rs != COHORT_ERR_NOTSUP && rs != COHORT_ERR_INVAL;
            co_core_free(c);
        }
        done = true;
    }
    *total = have_total;
    *safe = have_safe;
}

void sim_probe_core(bool *fifo, bool *secure)
{
    static bool done, have_fifo, have_secure;
    if (!done) {
        co_core_config_t cfg;
        co_core_t *c = NULL;
        probe_config(&cfg, COHORT_SECURITY_NONE);
        if (co_core_new(&c, &cfg, 0) == 0) {
            have_fifo = co_core_send(c, 0, COHORT_FIFO, "probe", 5) !=
                        COHORT_ERR_NOTSUP;
            co_core_free(c);
        }
        probe_config(&cfg, COHORT_SECURITY_AUTH);
        c = NULL;
        if (co_core_new(&c, &cfg, 0) == 0) {
            have_secure = true;
            co_core_free(c);
        }
        done = true;
    }
    *fifo = have_fifo;
    *secure = have_secure;
}

/* ------------------------------------------------------------------ */
/* Driving one core                                                    */
/* ------------------------------------------------------------------ */

/* Each node's clock has its own origin (the core may use any monotonic
 * origin); node 0's starts at 0, the edge case of "time 0". */
uint64_t sim_local_ns(const sim_world_t *w, const sim_node_t *n)
{
    return w->now_ns + n->clock_ns;
}

/* The core's deadline on the simulator's clock. */
static uint64_t deadline_ns(const sim_node_t *n)
{
    uint64_t d = co_core_deadline(n->core);
    if (d == UINT64_MAX)
        return d;
    return d > n->clock_ns ? d - n->clock_ns : 0;
}

static bool slow_now(const sim_world_t *w, const sim_node_t *n)
{
    return n->slow && !w->healed;
}

static void drain_tx(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    co_tx_t tx;
    for (size_t k = 0; co_core_next_tx(n->core, &tx); k++) {
        if (k >= MAX_TX_PER_CALL) {
            sim_fail(w, "n%zu: tx queue does not run dry", i);
            return;
        }
        n->acc_tx++;
        sim_net_send(w, i, &tx);
    }
}

/* ------------------------------------------------------------------ */
/* Events into the checkers (and the checker self-tests)               */
/* ------------------------------------------------------------------ */

/* Whether ev is a FIFO delivery owed to member r (the self-test target). */
static bool owed_fifo(const sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_payload_t p;
    if (ev->type != COHORT_EVENT_MESSAGE || !w->node[r].member ||
        sim_payload_check(ev->u.message.data, ev->u.message.len, &p) ||
        p.mode != COHORT_FIFO || p.node >= w->scn.members ||
        p.index >= w->n_msgs[p.node])
        return false;
    return sim_owed(w, p.node, &w->msgs[p.node][p.index], r);
}

/* A later FIFO message of the same sender went out in the same view: a
 * lost delivery of this one shows as a gap when that one arrives (a gap
 * is judged within a sending view). */
static bool followed_in_view(const sim_world_t *w, const cohort_event_t *ev)
{
    sim_payload_t p;
    if (sim_payload_check(ev->u.message.data, ev->u.message.len, &p))
        return false;
    const sim_msg_t *m = &w->msgs[p.node][p.index];
    for (size_t i = p.index + 1; i < w->n_msgs[p.node]; i++) {
        const sim_msg_t *o = &w->msgs[p.node][i];
        if (o->gen == m->gen && o->mode == COHORT_FIFO &&
            o->view_id == m->view_id)
            return true;
    }
    return false;
}

/* What the app would see if the core accepted a forged DATA record: a
 * well-formed payload in a real member's name that it never sent. */
static void inject_forged(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_payload_t p;
    const char *bad =
        sim_payload_check(ev->u.message.data, ev->u.message.len, &p);
    COHORT_ASSERT(bad == NULL);
    p.index = (uint32_t)w->n_msgs[p.node] + 1;
    uint8_t *fake = malloc(p.len);
    COHORT_ASSERT(fake != NULL);
    sim_payload_build(fake, &p);
    cohort_event_t forged = *ev;
    forged.u.message.data = fake;
    sim_trace(w, "self-test: n%zu gets a forged n%u#%u", r, p.node, p.index);
    sim_check_event(w, r, &forged);
    free(fake);
}

static void inject(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    w->injected = true;
    if (w->opts.inject == SIM_INJECT_FORGE) {
        inject_forged(w, r, ev);
        return;
    }
    if (w->opts.inject == SIM_INJECT_DROP) {
        sim_trace(w, "self-test: n%zu loses this delivery", r);
        return;
    }
    if (w->opts.inject == SIM_INJECT_DUP) {
        sim_check_event(w, r, ev);
        sim_check_event(w, r, ev);
        return;
    }
    COHORT_ASSERT(w->opts.inject == SIM_INJECT_CORRUPT);
    cohort_event_t bad = *ev;
    uint8_t *copy = malloc(ev->u.message.len);
    COHORT_ASSERT(copy != NULL);
    memcpy(copy, ev->u.message.data, ev->u.message.len);
    copy[ev->u.message.len - 1] ^= 0x10; /* in the filler */
    bad.u.message.data = copy;
    sim_check_event(w, r, &bad);
    free(copy);
}

/* Does view event ev name as joined a member that was in the view the
 * application at n had before (it left that view for another, or was
 * partitioned away, and came back)? Only then can the transitional-set
 * checker tell a view that names no one joined from the truth: a member
 * that was not in the previous view cannot have come along anyway. */
static bool joined_was_member(const sim_node_t *n, const cohort_event_t *ev)
{
    for (size_t i = 0; i < ev->u.view.joined_count; i++)
        for (size_t k = 0; k < n->app_nmembers; k++)
            if (n->app_members[k].id == ev->u.view.joined[i].id &&
                n->app_members[k].incarnation ==
                    ev->u.view.joined[i].incarnation)
                return true;
    return false;
}

static void to_checker(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_inject_t k = w->opts.inject;
    sim_state_pulled(w, r);
    if (ev->type == COHORT_EVENT_REQUEST || ev->type == COHORT_EVENT_REPLY ||
        ev->type == COHORT_EVENT_REQUEST_DONE) {
        sim_rpc_event(w, r, ev);
        return;
    }
    if (ev->type == COHORT_EVENT_STATE_REQUEST ||
        ev->type == COHORT_EVENT_STATE_CHUNK ||
        ev->type == COHORT_EVENT_STATE_DONE) {
        sim_state_event(w, r, ev);
        return;
    }
    bool on_delivery = k == SIM_INJECT_DROP || k == SIM_INJECT_DUP ||
                       k == SIM_INJECT_CORRUPT || k == SIM_INJECT_FORGE;
    if (on_delivery && !w->injected && owed_fifo(w, r, ev) &&
        (k != SIM_INJECT_DROP || followed_in_view(w, ev))) {
        inject(w, r, ev);
        return;
    }
    if (k == SIM_INJECT_VIEW && !w->injected &&
        ev->type == COHORT_EVENT_VIEW && ev->u.view.count >= 2) {
        /* The same view id with its first two members swapped: whoever
         * else installs this view disagrees. */
        cohort_member_t m[SIM_MAX_NODES];
        size_t n = ev->u.view.count;
        COHORT_ASSERT(n <= SIM_MAX_NODES);
        memcpy(m, ev->u.view.members, n * sizeof m[0]);
        cohort_member_t t = m[0];
        m[0] = m[1];
        m[1] = t;
        cohort_event_t bad = *ev;
        bad.u.view.members = m;
        w->injected = true;
        sim_trace(w, "self-test: n%zu sees view %016llx in another order", r,
                  (unsigned long long)ev->u.view.view_id);
        sim_check_event(w, r, &bad);
        return;
    }
    if (k == SIM_INJECT_TRANSITIONAL && ev->type == COHORT_EVENT_VIEW &&
        w->node[r].app_view_id != 0 && joined_was_member(&w->node[r], ev)) {
        cohort_event_t bad = *ev;
        bad.u.view.joined_count = 0;
        w->injected = true;
        sim_trace(w, "self-test: n%zu's view %016llx names no one joined",
                  r, (unsigned long long)ev->u.view.view_id);
        sim_check_event(w, r, &bad);
        return;
    }
    sim_check_event(w, r, ev);
    if (ev->type == COHORT_EVENT_WARNING &&
        ev->u.warning.code == COHORT_ERR_EXCLUDED) {
        w->node[r].rejoin_due = true;
        w->node[r].warned_inc = sim_incarnation(&w->node[r]);
    }
    if (ev->type == COHORT_EVENT_VIEW && !w->failed)
        sim_state_view(w, r, ev);
    if (k == SIM_INJECT_EXCLUDED && !w->injected && !w->failed &&
        ev->type == COHORT_EVENT_VIEW && ev->u.view.count >= 2) {
        /* "the first other member is in this very view, without me" */
        const cohort_member_t *m = ev->u.view.members;
        cohort_member_t other = m[0].id == w->node[r].member_id ? m[1] : m[0];
        char text[128];
        snprintf(text, sizeof text, "member %u is in view %016llx, which "
                 "does not hold this member", (unsigned)other.id,
                 (unsigned long long)ev->u.view.view_id);
        cohort_event_t bad;
        memset(&bad, 0, sizeof bad);
        bad.type = COHORT_EVENT_WARNING;
        bad.u.warning.code = COHORT_ERR_EXCLUDED;
        bad.u.warning.text = text;
        bad.u.warning.member = other;
        w->injected = true;
        sim_trace(w, "self-test: n%zu told EXCLUDED by its own view", r);
        sim_check_event(w, r, &bad);
    }
    if (k == SIM_INJECT_EVICT && !w->injected && !w->failed &&
        ev->type == COHORT_EVENT_MEMBER_JOINED) {
        cohort_event_t left = *ev;
        left.type = COHORT_EVENT_MEMBER_LEFT;
        left.u.member.reason = COHORT_LEFT_GRACEFULLY;
        w->injected = true;
        sim_trace(w, "self-test: n%zu sees a member leave that did not", r);
        sim_check_event(w, r, &left);
    }
}

static void pull_all(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    cohort_event_t ev;
    for (size_t k = 0; !w->failed; k++) {
        if (k >= MAX_EVENTS_PER_CALL) {
            sim_fail(w, "n%zu: event queue does not run dry", i);
            return;
        }
        if (!co_core_next_event(n->core, sim_local_ns(w, n), &ev))
            break;
        to_checker(w, i, &ev);
        if (n->rejoin_due)
            return; /* the rest dies with this life */
    }
    n->maybe_events = false;
}

static void node_rejoin(sim_world_t *w, size_t i);

/* After every call into node i's core. */
void sim_after_call(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    n->maybe_events = true;
    drain_tx(w, i);
    if (!slow_now(w, n)) {
        pull_all(w, i);
        /* Taking events may release held messages and send acks. */
        drain_tx(w, i);
    }
    sim_check_node(w, i);
    sim_rpc_check_node(w, i);
    sim_state_check_node(w, i);
    if (n->rejoin_due)
        node_rejoin(w, i);
}

static void pull_one(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    cohort_event_t ev;
    n->next_pull_ns = w->now_ns + n->pull_gap_ns;
    if (!co_core_next_event(n->core, sim_local_ns(w, n), &ev)) {
        n->maybe_events = false;
        return;
    }
    to_checker(w, i, &ev);
    drain_tx(w, i);
    sim_check_node(w, i);
    if (n->rejoin_due)
        node_rejoin(w, i);
}

static void tick(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    if (n->tick_ns == w->now_ns) {
        if (++n->ticks_same_ns > TICK_LIVELOCK) {
            sim_fail(w, "n%zu: co_core_deadline stays at or before now after "
                        "%d ticks", i, TICK_LIVELOCK);
            return;
        }
    } else {
        n->tick_ns = w->now_ns;
        n->ticks_same_ns = 0;
    }
    co_core_tick(n->core, sim_local_ns(w, n));
    sim_after_call(w, i);
}

/* ------------------------------------------------------------------ */
/* The application: scripted sends                                     */
/* ------------------------------------------------------------------ */

static size_t draw_len(co_rng_t *r, size_t max, size_t dgram)
{
    size_t small = max < 200 ? max : 200;
    size_t mid = max < dgram ? max : dgram;
    uint64_t u = co_rng_below(r, 10);
    if (u < 6)
        return SIM_PAYLOAD_HEADER +
               co_rng_below(r, small - SIM_PAYLOAD_HEADER + 1);
    if (u < 9)
        return small + co_rng_below(r, mid - small + 1);
    return mid + co_rng_below(r, max - mid + 1);
}

static bool draw_message(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    co_rng_t *r = &n->work_rng;
    if (n->drawn >= w->scn.msgs_per_node || w->healed)
        return false;
    unsigned modes = w->opts.modes ? w->opts.modes : SIM_MODES_DEFAULT;
    bool fifo = w->fifo && co_rng_double(r) < w->scn.fifo_share;
    if (!(modes & SIM_MODE_BIT(COHORT_UNRELIABLE)))
        fifo = w->fifo;
    unsigned mode = fifo ? COHORT_FIFO : COHORT_UNRELIABLE;
    if (fifo && (modes & SIM_MODES_ORDERED)) {
        /* One more draw only in a mix with TOTAL or SAFE, so the default
         * mix keeps every old seed's workload. */
        unsigned pick[3], k = 0;
        for (unsigned m = COHORT_FIFO; m <= COHORT_SAFE; m++)
            if (modes & SIM_MODE_BIT(m))
                pick[k++] = m;
        mode = pick[co_rng_below(r, k)];
    }
    size_t max = w->scn.size_max;
    if (!fifo && co_core_max_unreliable(n->core) < max)
        max = co_core_max_unreliable(n->core);
    if (max < SIM_PAYLOAD_HEADER) {
        sim_fail(w, "co_core_max_unreliable is %zu, below the %d-byte "
                    "payload header", max, SIM_PAYLOAD_HEADER);
        return false;
    }
    sim_payload_t *p = &n->pending_p;
    p->node = (uint32_t)i;
    p->gen = n->gen;
    p->index = (uint32_t)w->n_msgs[i];
    p->fifo_seq = fifo ? n->fifo_next : 0;
    p->mode = (uint8_t)mode;
    p->len = (uint32_t)draw_len(r, max, w->scn.cfg.max_datagram);
    sim_payload_build(n->buf, p);
    n->pending = true;
    n->drawn++;
    return true;
}

static void next_burst(sim_world_t *w, sim_node_t *n)
{
    co_rng_t *r = &n->work_rng;
    n->burst_left = 1 + co_rng_below(r, w->scn.burst_max);
    n->next_send_ns = w->now_ns + 1 + co_rng_below(r, 2 * w->scn.burst_gap_ns);
}

static void sent_ok(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    const sim_payload_t *p = &n->pending_p;
    sim_check_sent(w, i, p);
    sim_vs_sent(w, i, p);
    n->acc_sent[p->mode]++;
    w->tot.sent[p->mode]++;
    n->pending = false;
    n->again_since_ns = 0;
    if (sim_reliable(p->mode))
        n->fifo_next++;
    sim_trace(w, "app  n%zu: sent #%u %s %uB", i, p->index,
              sim_mode_name(p->mode), p->len);
    if (n->burst_left > 1) {
        n->burst_left--;
        n->next_send_ns = w->now_ns;
        return;
    }
    /* End of a burst: the application yields, so it flushes (or leaves
     * bundling to the core's deadline). */
    if (co_rng_double(&n->work_rng) < w->scn.flush_share)
        co_core_flush(n->core, sim_local_ns(w, n));
    next_burst(w, n);
}

static void app_send(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    if (!n->pending && !draw_message(w, i)) {
        n->next_send_ns = UINT64_MAX;
        return;
    }
    if (w->scn.vs && n->app_view_id == 0) {
        /* A message is sent in a view: before its first one the
         * application waits (vs_check would call the send out of view). */
        n->next_send_ns = w->now_ns + RETRY_MAX_NS;
        return;
    }
    const sim_payload_t *p = &n->pending_p;
    int rc = co_core_send(n->core, sim_local_ns(w, n), (cohort_mode_t)p->mode,
                          n->buf, p->len);
    if (rc == COHORT_ERR_AGAIN) {
        n->acc_again++;
        w->tot.again++;
        if (n->again_since_ns == 0)
            n->again_since_ns = w->now_ns;
        n->next_send_ns =
            w->now_ns + 1 + co_rng_below(&n->work_rng, RETRY_MAX_NS);
        co_core_flush(n->core, sim_local_ns(w, n));
    } else if (rc != 0) {
        sim_fail(w, "co_core_send(n%zu, %s, %uB) returned %s", i,
                 sim_mode_name(p->mode), p->len, err_name(rc));
        return;
    } else {
        sent_ok(w, i);
    }
    sim_after_call(w, i);
}

/* ------------------------------------------------------------------ */
/* Node life cycle                                                     */
/* ------------------------------------------------------------------ */

bool sim_node_aes_off(const sim_world_t *w, size_t idx)
{
    return idx < 32 && (w->scn.noaes_mask >> idx & 1u);
}

static void node_config(const sim_world_t *w, const sim_node_t *n,
                        co_core_config_t *cfg)
{
    *cfg = w->scn.cfg;
    cfg->group_id = n->group_id;
    cfg->member_id = n->member_id;
    cfg->incarnation = sim_incarnation(n);
    snprintf(cfg->name, sizeof cfg->name, "n%zu", n->idx);
    memcpy(cfg->key, n->key, sizeof cfg->key);
    bool aes = n->idx < 32 && (w->scn.aes_mask >> n->idx & 1u);
    cfg->aes_off = sim_node_aes_off(w, n->idx);
    cfg->cipher = cfg->aes_off || (aes && w->scn.noaes_mask)
                      ? COHORT_CIPHER_FASTEST
                  : aes ? COHORT_CIPHER_AES256GCM
                        : COHORT_CIPHER_XCHACHA20POLY1305;
    cfg->seed = n->core_seed + n->gen * 0x9e3779b97f4a7c15ULL;
    /* The misfit's size; with its self-test it is configured with the
     * members' (so it names theirs and is taken in) while the network
     * still drops what is longer than its own (sim_node_datagram). */
    if (!n->member && w->scn.misfit &&
        w->opts.inject != SIM_INJECT_MISFIT)
        cfg->max_datagram = w->scn.misfit_datagram;
    sim_state_config(w, n, cfg);
}

bool sim_same_group(const sim_world_t *w, size_t a, size_t b)
{
    return w->node[a].member == w->node[b].member || w->scn.misfit ||
           w->scn.narrow;
}

bool sim_link_drops(sim_world_t *w, size_t node, const uint8_t *d,
                    size_t len)
{
    if (!w->scn.narrow || node >= w->n_nodes || w->node[node].member ||
        len <= w->scn.narrow_path)
        return false;
    if (w->opts.inject == SIM_INJECT_NARROW && len > 3 &&
        d[3] == CO_TYPE_PATH) {
        if (!w->injected) {
            w->injected = true;
            sim_trace(w, "self-test: a %zu-byte PATH passes the narrow link "
                         "of n%zu", len, node);
        }
        return false;
    }
    w->tot.narrowed++;
    return true;
}

size_t sim_node_datagram(const sim_world_t *w, size_t i)
{
    return !w->node[i].member && w->scn.misfit ? w->scn.misfit_datagram
                                               : w->scn.cfg.max_datagram;
}

/* What cohort_open() does: the incarnation from the real-time clock, and
 * no open before the previous one's tick is over (cohort_open waits for
 * it; here the new open is taken to happen at the end of that wait). */
static void node_incarnation(sim_world_t *w, sim_node_t *n)
{
    uint64_t rt = w->now_ns + n->realtime_ns;
    if (rt < n->hold_ns)
        rt = n->hold_ns;
    n->incarnation[n->gen] = co_incarnation_choose(rt);
    n->hold_ns = co_incarnation_hold_until_ns(rt);
    COHORT_ASSERT(n->gen == 0 ||
                  co_incarnation_newer(n->incarnation[n->gen],
                                       n->incarnation[n->gen - 1]));
}

static void node_start(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    co_core_config_t cfg;
    const char *why = "?";
    node_incarnation(w, n);
    node_config(w, n, &cfg);
    if (co_core_config_check(&cfg, &why) != 0) {
        sim_fail(w, "simulator made a bad core config: %s", why);
        return;
    }
    w->roster_epoch++;
    int rc;
    if (n->rejoining) {
        /* What the IO edge does when its application took EXCLUDED. */
        rc = co_core_successor(n->successor_of, &n->core,
                               sim_incarnation(n), 0, sim_local_ns(w, n));
        if (rc == 0) {
            /* Its counters go on from the old life's; the checks here
             * count per life. */
            struct cohort_stats *st = co_core_stats_mut(n->core);
            uint64_t rejoins = st->rejoins;
            memset(st, 0, sizeof *st);
            st->struct_size = sizeof *st;
            st->rejoins = rejoins;
        }
    } else {
        rc = co_core_new(&n->core, &cfg, sim_local_ns(w, n));
    }
    if (rc != 0) {
        sim_fail(w, "co_core_%s(n%zu) returned %s",
                 n->rejoining ? "successor" : "new", i, err_name(rc));
        return;
    }
    n->started = n->up = true;
    memset(n->acc_sent, 0, sizeof n->acc_sent);
    memset(n->acc_pulled, 0, sizeof n->acc_pulled);
    n->acc_again = n->acc_tx = n->acc_fed = n->acc_fed_foreign = 0;
    n->peak_mem = 0;
    n->tick_ns = UINT64_MAX;
    n->next_pull_ns = w->now_ns;
    n->pending = false;
    n->fifo_next = 1;
    n->app_view_id = n->app_prev_view_id = 0;
    n->warned_inc = 0;
    n->app_nmembers = 0;
    n->app_views = 0;
    n->ord_cur = n->ord_prev = 0;
    sim_check_reset_node(w, i);
    sim_rpc_started(w, i);
    sim_state_started(w, i);
    /* A new life after EXCLUDED keeps the application's schedule (the
     * process did not restart; node_rejoin put it back): a draw here would
     * shift the whole workload, and the attack twin compares workloads. */
    if (!n->rejoining)
        next_burst(w, n);
    if (n->drawn >= w->scn.msgs_per_node || w->healed)
        n->next_send_ns = UINT64_MAX;
    sim_trace(w, "node n%zu up: gen %u member %08x/%u", i, n->gen,
              n->member_id, sim_incarnation(n));
    sim_hash_u64(w, (uint64_t)i << 32 | n->gen);
    sim_after_call(w, i);
}

static void node_stop_keep(sim_world_t *w, size_t i, bool graceful,
                           bool keep);

static void node_stop(sim_world_t *w, size_t i, bool graceful)
{
    node_stop_keep(w, i, graceful, false);
}

/* Its app took EXCLUDED: this life ends as a crash would (what it had
 * queued after the warning dies with it), and the next begins at once as
 * the successor of its core, under a newer incarnation. With no gen left
 * (SIM_MAX_GENS) it stays, and the merge takes it back. */
static void node_rejoin(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    n->rejoin_due = false;
    if (!n->up || w->failed)
        return;
    if (n->gen + 1 >= SIM_MAX_GENS || w->tot.rejoins >= SIM_MAX_REJOINS ||
        sim_state_self_test_life(w, i)) {
        n->warned_inc = 0; /* as out of memory at the IO edge: it stays */
        return;
    }
    if (w->opts.inject == SIM_INJECT_REJOIN && !w->injected) {
        w->injected = true;
        sim_trace(w, "self-test: n%zu goes on in its old life", i);
        return;
    }
    co_core_t *old = n->core;
    uint32_t old_gen = n->gen;
    size_t burst_left = n->burst_left;
    uint64_t next_send_ns = n->next_send_ns;
    sim_trace(w, "node n%zu rejoins: excluded while alive", i);
    node_stop_keep(w, i, false, true);
    n->burst_left = burst_left;
    n->next_send_ns = next_send_ns;
    n->gen++;
    n->life++;
    sim_rpc_rejoining(w, i, old_gen);
    n->rejoining = true;
    n->successor_of = old;
    w->tot.rejoins++;
    node_start(w, i);
    n->rejoining = false;
    n->successor_of = NULL;
    co_core_free(old);
}

static void node_stop_keep(sim_world_t *w, size_t i, bool graceful, bool keep)
{
    sim_node_t *n = &w->node[i];
    if (!n->up)
        return;
    sim_check_stats(w, i);
    sim_collect_stats(w, i);
    if (graceful) {
        uint64_t now = sim_local_ns(w, n);
        co_core_leave(n->core, now);
        drain_tx(w, i);
        /* As cohort_close(): the core's repeats of LEAVE go out too (here
         * all at once, though the core spaces them a few ms apart), so the
         * others take every copy. Bounded: a few timers at most fire. */
        for (int k = 0; k < 64 && co_core_leaving(n->core); k++) {
            uint64_t at = co_core_deadline(n->core);
            now = at > now ? at : now;
            co_core_tick(n->core, now);
            drain_tx(w, i);
        }
        COHORT_ASSERT(!co_core_leaving(n->core));
    } else {
        n->life++; /* what it had in flight dies with it */
    }
    sim_view_stopped(w, i);
    sim_rpc_stopped(w, i);
    sim_state_stopped(w, i);
    w->roster_epoch++;
    if (!keep)
        co_core_free(n->core);
    n->core = NULL;
    n->up = false;
    n->paused_until_ns = 0;
    n->pending = false;
    n->next_send_ns = UINT64_MAX;
    sim_trace(w, "node n%zu %s", i, graceful ? "left" : "crashed");
    sim_hash_u64(w, (uint64_t)i << 32 | 0xdead);
}

static void node_restart(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    if (n->up)
        return;
    if (n->started) {
        COHORT_ASSERT(n->gen + 1 < SIM_MAX_GENS);
        n->gen++;
        n->life++;
    }
    node_start(w, i);
}

/* A paused node whose pause is over runs again. */
static void resume_if_due(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    if (n->paused_until_ns == 0 || n->paused_until_ns > w->now_ns)
        return;
    n->paused_until_ns = 0;
    sim_trace(w, "node n%zu resumes (%zu datagrams waited)", i,
              n->paused_queued);
    sim_hash_u64(w, (uint64_t)i << 32 | 0x9a05e);
    n->paused_queued = 0;
}

static uint64_t node_wake(const sim_world_t *w, const sim_node_t *n)
{
    if (!n->up)
        return UINT64_MAX;
    if (n->paused_until_ns != 0)
        return n->paused_until_ns; /* it resumes, every timer overdue */
    uint64_t t = deadline_ns(n);
    if (n->next_send_ns < t)
        t = n->next_send_ns;
    uint64_t rpc = sim_rpc_wake(w, n->idx);
    if (rpc < t)
        t = rpc;
    uint64_t st = sim_state_wake(w, n->idx);
    if (st < t)
        t = st;
    if (slow_now(w, n) && n->maybe_events && n->next_pull_ns < t)
        t = n->next_pull_ns;
    return t;
}

static void node_step(sim_world_t *w, size_t i)
{
    sim_node_t *n = &w->node[i];
    resume_if_due(w, i);
    COHORT_ASSERT(n->paused_until_ns == 0);
    if (deadline_ns(n) <= w->now_ns)
        tick(w, i);
    if (n->up && !w->failed && n->next_send_ns <= w->now_ns)
        app_send(w, i);
    if (n->up && !w->failed && sim_rpc_wake(w, i) <= w->now_ns)
        sim_rpc_step(w, i);
    if (n->up && !w->failed && sim_state_wake(w, i) <= w->now_ns)
        sim_state_step(w, i);
    if (n->up && !w->failed && slow_now(w, n) && n->maybe_events &&
        n->next_pull_ns <= w->now_ns)
        pull_one(w, i);
}

/* ------------------------------------------------------------------ */
/* Queued items                                                        */
/* ------------------------------------------------------------------ */

/* What the network brought the receiver, so a replay of something older
 * can be told apart (attack.c). */
static void note_heard(sim_node_t *d, const sim_node_t *s, const uint8_t *h)
{
    uint32_t inc = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 |
                   (uint32_t)h[18] << 8 | h[19];
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | h[20 + i];
    for (uint32_t g = 0; g <= s->gen && g < SIM_MAX_GENS; g++)
        if (s->incarnation[g] == inc &&
            seq > d->heard_seq[s->idx * SIM_MAX_GENS + g])
            d->heard_seq[s->idx * SIM_MAX_GENS + g] = seq;
}

static void arrive(sim_world_t *w, const sim_item_t *it)
{
    sim_node_t *d = &w->node[it->dst];
    const sim_node_t *s = &w->node[it->src];
    if (!d->up || d->life != it->dst_life || s->life != it->src_life ||
        !sim_net_connected(w, it->src, it->dst)) {
        w->tot.cut++;
        return;
    }
    sim_hash_u64(w, w->now_ns);
    sim_hash_u64(w, (uint64_t)it->dst << 32 | it->len);
    if (w->opts.verbose) {
        char desc[400];
        sim_describe(it->data, it->len, desc, sizeof desc);
        sim_trace(w, "recv n%u<-n%u %s%s", it->dst, it->src, desc,
                  it->arg ? " (corrupted)" : "");
    }
    if (it->len > sim_node_datagram(w, it->dst)) {
        /* Its socket would truncate it, and the IO edge drop it. */
        w->tot.too_long++;
        if (w->opts.inject == SIM_INJECT_MISFIT && !w->injected &&
            !d->member) {
            w->injected = true;
            sim_trace(w, "self-test: misfit n%u drops a %u-byte datagram "
                         "while configured as the members are", it->dst,
                      (unsigned)it->len);
        }
        return;
    }
    if (it->src != it->dst &&
        sim_link_drops(w, it->dst, it->data, it->len))
        return; /* on the narrow link into it */
    w->tot.dgrams_delivered++;
    if (!it->arg && s->member && d->member && it->len >= 28)
        note_heard(d, s, it->data);
    d->acc_fed++;
    if (it->src == it->dst || !sim_same_group(w, it->src, it->dst) ||
        it->arg)
        d->acc_fed_foreign++;
    co_addr_t from;
    sim_addr_of(it->src, &from);
    int rc =
        co_core_recv(d->core, sim_local_ns(w, d), &from, it->data, it->len);
    if (rc != 0) {
        sim_fail(w, "co_core_recv(n%u) returned %s", it->dst, err_name(rc));
        return;
    }
    sim_after_call(w, it->dst);
}

static void heal(sim_world_t *w)
{
    w->healed = true;
    w->partitioned = false;
    sim_trace(w, "heal: faults off");
    sim_rpc_heal(w);
    sim_state_heal(w);
    for (size_t i = 0; i < w->n_nodes && !w->failed; i++) {
        sim_node_t *n = &w->node[i];
        if (!n->up) {
            node_restart(w, i);
            continue;
        }
        if (!n->pending)
            n->next_send_ns = UINT64_MAX;
        /* Slow receivers catch up now. */
        sim_after_call(w, i);
    }
}

/* A stopped process's socket buffer: what reaches a paused node waits
 * until it resumes (then arrives in the order it came), up to a bound
 * past which the kernel would drop it. True when it was kept. */
#define SIM_PAUSE_QUEUE 256
static bool hold_for_pause(sim_world_t *w, sim_item_t *it)
{
    if (it->kind != SIM_ITEM_DGRAM && it->kind != SIM_ITEM_ATK_DGRAM)
        return false;
    sim_node_t *d = &w->node[it->dst];
    resume_if_due(w, it->dst);
    if (d->paused_until_ns == 0)
        return false;
    if (d->paused_queued >= SIM_PAUSE_QUEUE) {
        w->tot.cut++;
        free(it->data);
        return true;
    }
    d->paused_queued++;
    sim_item_t later = *it;
    later.at_ns = d->paused_until_ns;
    bool ok = sim_queue_push(&w->q, &later);
    COHORT_ASSERT(ok);
    return true;
}

static void pause_node(sim_world_t *w, size_t i, const sim_episode_t *e)
{
    sim_node_t *n = &w->node[i];
    if (!n->up || w->healed)
        return;
    n->paused_until_ns = e->end_ns;
    n->paused_queued = 0;
    sim_trace(w, "node n%zu paused until %.3fs", i, (double)e->end_ns / 1e9);
    sim_hash_u64(w, (uint64_t)i << 32 | 0x9a05);
}

static void handle_item(sim_world_t *w, sim_item_t *it)
{
    const sim_scn_t *s = &w->scn;
    if (hold_for_pause(w, it))
        return;
    switch (it->kind) {
    case SIM_ITEM_DGRAM:
        arrive(w, it);
        break;
    case SIM_ITEM_PART_START:
        w->partitioned = true;
        w->side_mask = s->partition[it->arg].arg;
        w->oneway = s->partition[it->arg].oneway;
        sim_trace(w, "partition: side mask %#x%s", w->side_mask,
                  w->oneway ? ", one way (side 0 -> 1 cut)" : "");
        sim_hash_u64(w, w->side_mask);
        break;
    case SIM_ITEM_PART_END:
        w->partitioned = false;
        sim_trace(w, "partition healed");
        break;
    case SIM_ITEM_CRASH:
        node_stop(w, it->dst, s->crash[it->arg].graceful);
        break;
    case SIM_ITEM_RESTART:
        node_restart(w, it->dst);
        break;
    case SIM_ITEM_HEAL:
        heal(w);
        break;
    case SIM_ITEM_PAUSE:
        pause_node(w, it->dst, &s->pause[it->arg]);
        break;
    case SIM_ITEM_ATTACK:
    case SIM_ITEM_ATK_DGRAM:
        sim_attack_item(w, it);
        break;
    }
    free(it->data);
}

static void schedule(sim_world_t *w, sim_item_kind_t kind, uint64_t at_ns,
                     size_t node, uint32_t arg)
{
    sim_item_t it;
    memset(&it, 0, sizeof it);
    it.kind = kind;
    it.at_ns = at_ns;
    it.dst = (uint8_t)node;
    it.arg = arg;
    bool ok = sim_queue_push(&w->q, &it);
    COHORT_ASSERT(ok);
}

bool sim_schedule_crash(sim_world_t *w, size_t i, uint64_t at_ns,
                        uint64_t down_ns, bool graceful)
{
    sim_scn_t *s = &w->scn;
    if (s->n_crashes >= SIM_MAX_EPISODES)
        return false;
    uint32_t k = (uint32_t)s->n_crashes++;
    s->crash[k] = (sim_episode_t){.start_ns = at_ns,
                                  .end_ns = at_ns + down_ns,
                                  .arg = (uint32_t)i,
                                  .graceful = graceful};
    schedule(w, SIM_ITEM_CRASH, at_ns, i, k);
    schedule(w, SIM_ITEM_RESTART, at_ns + down_ns, i, k);
    return true;
}

static void schedule_all(sim_world_t *w, co_rng_t *r)
{
    const sim_scn_t *s = &w->scn;
    for (size_t i = 0; i < w->n_nodes; i++) {
        uint64_t at = i == 0 ? 0 : co_rng_below(r, START_SPREAD_NS);
        /* `state`: joiners start later, and ask for the state */
        if (s->state && i < s->members && i >= s->state_founders)
            at = s->join_ns[i];
        schedule(w, SIM_ITEM_RESTART, at, i, 0);
    }
    for (uint32_t k = 0; k < s->n_partitions; k++) {
        schedule(w, SIM_ITEM_PART_START, s->partition[k].start_ns, 0, k);
        schedule(w, SIM_ITEM_PART_END, s->partition[k].end_ns, 0, k);
    }
    for (uint32_t k = 0; k < s->n_crashes; k++) {
        size_t node = s->crash[k].arg;
        schedule(w, SIM_ITEM_CRASH, s->crash[k].start_ns, node, k);
        schedule(w, SIM_ITEM_RESTART, s->crash[k].end_ns, node, k);
    }
    for (uint32_t k = 0; k < s->n_pauses; k++)
        schedule(w, SIM_ITEM_PAUSE, s->pause[k].start_ns, s->pause[k].arg, k);
    schedule(w, SIM_ITEM_HEAL, s->fault_ns, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static uint32_t fresh_id(const sim_world_t *w, size_t upto, co_rng_t *r)
{
    for (;;) {
        uint32_t id = 1 + (uint32_t)co_rng_below(r, 0xfffffffeu);
        bool taken = false;
        for (size_t k = 0; k < upto; k++)
            taken = taken || w->node[k].member_id == id;
        if (!taken)
            return id;
    }
}

static void setup_node(sim_world_t *w, size_t i, uint32_t group, co_rng_t *r)
{
    sim_node_t *n = &w->node[i];
    const sim_scn_t *s = &w->scn;
    n->idx = i;
    n->member = i < s->members;
    n->member_id = fresh_id(w, i, r);
    n->group_id = group;
    memcpy(n->key, s->cfg.key, sizeof n->key);
    if (!n->member) {
        /* The outsider may even reuse a member's id: only the group id (or
         * the key, for the intruder) keeps it out. Not the misfit or the
         * narrow one, which are of the group: it would be that member's
         * restart. (The draws are made alike, so the rest of the seed is
         * as before.) */
        bool of_group = s->misfit || s->narrow;
        if (co_rng_below(r, 2)) {
            size_t twin = co_rng_below(r, s->members);
            if (!of_group)
                n->member_id = w->node[twin].member_id;
        }
        if (s->intruder)
            n->key[0] ^= 0xff;
        else if (!of_group)
            n->group_id = group ^ 0x5a5a5a5au;
    }
    /* Incarnations come from a virtual real-time clock through the IO
     * edge's policy (node_incarnation). Origins 2^26 ticks (12 days)
     * apart keep them distinct across nodes; node 0 starts up to 16 s
     * before the 2^32 wrap, so restarts cross it. */
    uint64_t ticks = (1ULL << 32) - 1 - co_rng_below(r, 1024) +
                     ((uint64_t)i << 26) + (co_rng_below(r, 4) << 32);
    n->realtime_ns = ticks * CO_INCARNATION_TICK_NS +
                     co_rng_below(r, CO_INCARNATION_TICK_NS);
    sim_addr_of(i, &n->addr);
    n->core_seed = co_rng_next(r);
    n->clock_ns = i == 0 ? 0 : co_rng_below(r, 1ULL << 51);
    co_rng_seed(&n->work_rng, co_rng_next(r));
    n->buf = malloc(s->size_max);
    COHORT_ASSERT(n->buf != NULL);
    /* Masks cover the first 32 nodes; the large scenario has none. */
    n->slow = i < 32 && ((s->slow_mask >> i) & 1u);
    n->pull_gap_ns = s->slow_pull_ns[i];
    n->next_send_ns = UINT64_MAX;
    w->msgs[i] = calloc(s->msgs_per_node, sizeof(sim_msg_t));
    n->rx = calloc(w->n_nodes * SIM_MAX_GENS, sizeof n->rx[0]);
    n->heard_seq = calloc(w->n_nodes * SIM_MAX_GENS, sizeof n->heard_seq[0]);
    n->seen_list = calloc(SIM_MEMBER_LIST_MAX, sizeof n->seen_list[0]);
    n->seen_listed = calloc(w->n_nodes, sizeof n->seen_listed[0]);
    COHORT_ASSERT(w->msgs[i] != NULL && n->rx != NULL &&
                  n->heard_seq != NULL && n->seen_list != NULL &&
                  n->seen_listed != NULL);
    for (size_t g = 0; g < SIM_MAX_GENS; g++)
        w->gen_first[i][g] = SIZE_MAX;
}

static void setup(sim_world_t *w, const sim_opts_t *opts)
{
    bool fifo, secure;
    memset(w, 0, sizeof *w);
    w->opts = *opts;
    sim_probe_core(&fifo, &secure);
    sim_probe_ordered(&w->total, &w->safe);
    w->fifo = fifo;
    sim_scenario_draw(&w->scn, opts, fifo, secure);
    w->hash = FNV_OFFSET;
    w->n_nodes = w->scn.members + (w->scn.outsider ? 1 : 0);
    /* `state` is about TOTAL and SAFE: always in its mix; by default
     * with FIFO, so that the sweep with all four modes (sim-seeds.sh)
     * runs each seed once more, with UNRELIABLE too */
    if (w->scn.state)
        w->opts.modes = w->opts.modes
                            ? w->opts.modes | SIM_MODES_ORDERED
                            : SIM_MODE_BIT(COHORT_FIFO) | SIM_MODES_ORDERED;
    sim_view_init(w);
    sim_total_init(w);
    sim_rpc_init(w);
    sim_state_init(w);
    co_rng_t r;
    co_rng_seed(&r, opts->seed ^ 0x51d0c0de5eedULL);
    co_rng_seed(&w->net_rng, co_rng_next(&r));
    uint32_t group = 1 + (uint32_t)co_rng_below(&r, 0xfffffffeu);
    for (size_t i = 0; i < w->n_nodes; i++)
        setup_node(w, i, group, &r);
    sim_identity_index(w);
    sim_queue_init(&w->q, QUEUE_MAX_ITEMS);
    sim_net_init(w);
    schedule_all(w, &r);
    sim_attack_init(w);
    w->mem_bound = sim_memory_bound(&w->scn.cfg);
    w->tot.mem_bound = w->mem_bound;
    w->heal_ns = w->scn.fault_ns;
    w->end_ns = w->heal_ns + w->scn.heal_max_ns;
    w->max_steps = MAX_STEPS;
}

/* ------------------------------------------------------------------ */
/* Main loop                                                           */
/* ------------------------------------------------------------------ */

/* view_bound_ns: the first time every member is up and all share one view
 * of all of them; failing when the bound passes first. */
static void watch_views(sim_world_t *w)
{
    char why[256] = "not every member has started";
    bool all_up = true;
    for (size_t i = 0; i < w->scn.members && all_up; i++)
        all_up = w->node[i].up;
    if (all_up && sim_views_converged(w, why, sizeof why)) {
        w->views_agreed_ns = w->now_ns;
        sim_trace(w, "all %zu members share one view", w->scn.members);
    } else if (w->now_ns > w->scn.view_bound_ns) {
        sim_fail(w, "liveness: %zu members do not share one view %.3fs "
                    "after the first start: %s", w->scn.members,
                 (double)w->scn.view_bound_ns / 1e9, why);
    }
}

/* Which nodes a step may have acted on: a datagram's receiver, the node
 * that stepped; every node after anything else (faults, heal, the
 * attacker's actions). */
static void refresh_wakes(sim_world_t *w, size_t one)
{
    if (one != SIZE_MAX) {
        w->wake_ns[one] = node_wake(w, &w->node[one]);
        return;
    }
    for (size_t i = 0; i < w->n_nodes; i++)
        w->wake_ns[i] = node_wake(w, &w->node[i]);
}

static size_t item_node(const sim_item_t *it)
{
    if (it->kind == SIM_ITEM_DGRAM || it->kind == SIM_ITEM_ATK_DGRAM)
        return it->dst;
    return SIZE_MAX;
}

static void run_loop(sim_world_t *w)
{
    uint64_t next_check = UINT64_MAX;
    char why[256] = "not checked yet";
    refresh_wakes(w, SIZE_MAX);
    while (!w->failed) {
        if (++w->steps > w->max_steps) {
            sim_fail(w, "step budget of %llu exhausted (livelock?)",
                     (unsigned long long)w->max_steps);
            return;
        }
        uint64_t tq = sim_queue_peek_ns(&w->q);
        uint64_t tn = UINT64_MAX;
        size_t best = 0;
        for (size_t i = 0; i < w->n_nodes; i++) {
            uint64_t t = w->wake_ns[i];
            COHORT_ASSERT(!SIM_WAKE_AUDIT || t == node_wake(w, &w->node[i]));
            if (t < tn) {
                tn = t;
                best = i;
            }
        }
        bool watch = w->scn.view_bound_ns != 0 && w->views_agreed_ns == 0;
        if ((w->healed || watch) && next_check == UINT64_MAX)
            next_check = w->now_ns + CHECK_EVERY_NS;
        uint64_t t = tq < tn ? tq : tn;
        if (next_check < t)
            t = next_check;
        if (t == UINT64_MAX) {
            sim_fail(w, "simulator ran out of things to do");
            return;
        }
        if (t > w->end_ns) {
            sim_fail(w, "liveness: %.3fs after the heal: %s",
                     (double)(w->end_ns - w->heal_ns) / 1e9, why);
            return;
        }
        if (t > w->now_ns)
            w->now_ns = t; /* a deadline in the past runs now */
        if (tq == t) {
            sim_item_t it;
            sim_queue_pop(&w->q, &it);
            size_t one = item_node(&it);
            handle_item(w, &it);
            refresh_wakes(w, one);
        } else if (tn == t) {
            node_step(w, best);
            refresh_wakes(w, best);
        } else {
            if (watch)
                watch_views(w);
            if (w->failed)
                return;
            if (w->healed && sim_converged(w, why, sizeof why) &&
                sim_rpc_idle(w, why, sizeof why) &&
                sim_state_idle(w, why, sizeof why)) {
                sim_trace(w, "converged");
                return;
            }
            next_check = w->now_ns + CHECK_EVERY_NS;
        }
    }
}

int sim_run(sim_world_t *w, const sim_opts_t *opts)
{
    setup(w, opts);
    run_loop(w);
    for (size_t i = 0; i < w->n_nodes; i++) {
        sim_check_stats(w, i);
        sim_collect_stats(w, i);
    }
    w->tot.owed = sim_count_owed(w);
    if (!w->failed)
        sim_view_final(w);
    if (!w->failed)
        sim_total_final(w);
    if (!w->failed)
        sim_rpc_final(w);
    if (!w->failed)
        sim_state_final(w);
    if (!w->failed)
        sim_attack_finish(w);
    if (!w->failed && w->scn.attack_strict)
        sim_check_member_events(w);
    if (!w->failed && w->opts.inject != SIM_INJECT_NONE)
        sim_fail(w, "self-test: %s", w->injected
                                         ? "the injected fault went unnoticed"
                                         : "nothing to inject into");
    return w->failed ? 1 : 0;
}

void sim_world_free(sim_world_t *w)
{
    for (size_t i = 0; i < w->n_nodes; i++) {
        co_core_free(w->node[i].core);
        w->node[i].core = NULL;
        free(w->node[i].buf);
        free(w->node[i].rx);
        free(w->node[i].heard_seq);
        free(w->node[i].seen_list);
        free(w->node[i].seen_listed);
        w->node[i].rx = NULL;
        w->node[i].heard_seq = NULL;
        w->node[i].seen_list = NULL;
        w->node[i].seen_listed = NULL;
        free(w->msgs[i]);
        w->msgs[i] = NULL;
    }
    sim_queue_free(&w->q);
    sim_attack_free(w);
    sim_view_free(w);
    sim_total_free(w);
    sim_rpc_free(w);
    sim_state_free(w);
}
