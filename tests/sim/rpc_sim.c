/*
 * rpc_sim.c - request-reply in the simulator (scenario `rpc`).
 *
 * Workload: during the fault phase every member makes requests, to the
 * group (FIFO, TOTAL or SAFE as the core supports them) or to one member
 * of its current view (itself too), wanting NONE, FIRST, MAJORITY or ALL,
 * with a timeout; each carries its requester's node, generation and
 * number and a checkable pattern. Every member serves: it answers at once
 * or holds the reply back a while (and may crash first), with a reply
 * whose length and bytes follow from (server, request).
 *
 * Properties, checked as events are pulled and at the end:
 *  - exactly the replies asked for: a request that ends COMPLETE got
 *    exactly the replies it needed (FIRST 1, MAJORITY n/2+1, ALL n of the
 *    n members asked: the target, or the requester's view at the call,
 *    itself with self-delivery), each from a member asked, once, intact,
 *    none after its DONE;
 *  - or it says why: MEMBERS_LEFT only with fewer replies than needed and
 *    a member asked that did not reply and left the requester's view or
 *    said it will not reply; TIMEDOUT only at or after its timeout; one
 *    DONE per request, and every request of a running member ends;
 *  - no request executed twice at one member incarnation;
 *  - the reply history within rpc_history_len and rpc_history_bytes
 *    after every call into a core.
 * Each has a self-test (rpc-twice, rpc-replies, rpc-history) that breaks
 * it on purpose: the run must fail with the matching complaint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"
#include "wire.h"

#define MS 1000000ULL
#define REQ_HEADER 8 /* node, gen, index(2), len(4) */

bool sim_rpc_test(sim_inject_t k)
{
    return k == SIM_INJECT_RPC_TWICE || k == SIM_INJECT_RPC_REPLIES ||
           k == SIM_INJECT_RPC_HISTORY;
}

void sim_rpc_init(sim_world_t *w)
{
    sim_rpc_t *r = &w->rpc;
    memset(r, 0, sizeof *r);
    if (!w->scn.rpc)
        return;
    co_rng_seed(&r->rng, w->opts.seed ^ 0x79c0ffeeULL);
    r->reqs = calloc(SIM_RPC_MAX, sizeof *r->reqs);
    r->execs = calloc(SIM_RPC_EXECS, sizeof *r->execs);
    COHORT_ASSERT(r->reqs && r->execs);
    for (size_t i = 0; i < SIM_MAX_NODES; i++)
        r->next_ns[i] = UINT64_MAX;
}

void sim_rpc_free(sim_world_t *w)
{
    free(w->rpc.reqs);
    free(w->rpc.execs);
    w->rpc.reqs = NULL;
    w->rpc.execs = NULL;
}

static uint64_t gap(sim_world_t *w)
{
    return 1 + co_rng_below(&w->rpc.rng, 2 * w->scn.rpc_gap_ns);
}

void sim_rpc_started(sim_world_t *w, size_t i)
{
    if (!w->scn.rpc || !w->node[i].member)
        return;
    memset(w->rpc.held[i], 0, sizeof w->rpc.held[i]);
    w->rpc.next_ns[i] = w->healed || w->rpc.made[i] >= w->scn.rpc_per_node
                            ? UINT64_MAX
                            : w->now_ns + gap(w);
}

void sim_rpc_rejoining(sim_world_t *w, size_t i, uint32_t old_gen)
{
    sim_rpc_t *r = &w->rpc;
    if (!w->scn.rpc)
        return;
    for (size_t k = 0; k < r->n_reqs; k++) {
        sim_rpc_req_t *q = &r->reqs[k];
        if (q->node == i && q->gen == old_gen && !q->done) {
            q->gen = w->node[i].gen; /* its DONE comes from the new life */
            q->gone = false;
            q->closing = true;
        }
    }
}

void sim_rpc_stopped(sim_world_t *w, size_t i)
{
    sim_rpc_t *r = &w->rpc;
    if (!w->scn.rpc)
        return;
    /* What it had in flight ends with it: no DONE is owed any more. */
    for (size_t k = 0; k < r->n_reqs; k++)
        if (r->reqs[k].node == i && r->reqs[k].gen == w->node[i].gen)
            r->reqs[k].gone = true;
    memset(r->held[i], 0, sizeof r->held[i]);
    r->next_ns[i] = UINT64_MAX;
}

void sim_rpc_heal(sim_world_t *w)
{
    for (size_t i = 0; i < SIM_MAX_NODES; i++)
        w->rpc.next_ns[i] = UINT64_MAX;
}

/* ------------------------------------------------------------------ */
/* Payloads                                                            */
/* ------------------------------------------------------------------ */

static uint8_t req_byte(size_t node, uint32_t gen, uint32_t idx, size_t i)
{
    return (uint8_t)(i * 13 + node * 7 + gen * 3 + idx);
}

static void req_build(uint8_t *b, size_t len, size_t node, uint32_t gen,
                      uint32_t idx)
{
    COHORT_ASSERT(len >= REQ_HEADER);
    b[0] = (uint8_t)node;
    b[1] = (uint8_t)gen;
    co_put16(b + 2, (uint16_t)idx);
    co_put32(b + 4, (uint32_t)len);
    for (size_t i = REQ_HEADER; i < len; i++)
        b[i] = req_byte(node, gen, idx, i);
}

static bool req_intact(const uint8_t *b, size_t len, size_t node,
                       uint32_t gen)
{
    if (len < REQ_HEADER || b[0] != node || b[1] != (uint8_t)gen ||
        co_get32(b + 4) != len)
        return false;
    uint32_t idx = co_get16(b + 2);
    for (size_t i = REQ_HEADER; i < len; i++)
        if (b[i] != req_byte(node, gen, idx, i))
            return false;
    return true;
}

/* The reply server (node, gen) gives to request rid: its length. */
static size_t reply_len(const sim_world_t *w, size_t node, uint32_t rid)
{
    size_t max = 2 * w->scn.cfg.max_datagram;
    if (max > w->scn.cfg.rpc_history_bytes)
        max = w->scn.cfg.rpc_history_bytes;
    return (rid * 131u + node * 977u) % (max + 1);
}

static uint8_t reply_byte(size_t node, uint32_t gen, uint32_t rid, size_t i)
{
    return (uint8_t)(i * 31 + rid + node * 5 + gen * 11);
}

/* ------------------------------------------------------------------ */
/* Requester                                                           */
/* ------------------------------------------------------------------ */

static sim_rpc_req_t *req_of(sim_world_t *w, size_t node, uint32_t gen,
                             uint32_t rid)
{
    sim_rpc_t *r = &w->rpc;
    for (size_t k = r->n_reqs; k-- > 0;)
        if (r->reqs[k].node == node && r->reqs[k].gen == gen &&
            r->reqs[k].rid == rid)
            return &r->reqs[k];
    return NULL;
}

static uint32_t needed(uint8_t want, uint32_t n)
{
    switch (want) {
    case COHORT_WANT_NONE: return 0;
    case COHORT_WANT_FIRST: return n ? 1 : 0;
    case COHORT_WANT_MAJORITY: return n / 2 + 1;
    default: return n;
    }
}

static void make_request(sim_world_t *w, size_t i)
{
    sim_rpc_t *r = &w->rpc;
    sim_node_t *n = &w->node[i];
    co_rng_t *g = &r->rng;
    cohort_member_t v[SIM_MEMBER_LIST_MAX];
    size_t nv = co_core_view(n->core, NULL, v, SIM_MEMBER_LIST_MAX);
    if (nv == 0 || nv > SIM_MEMBER_LIST_MAX || r->n_reqs >= SIM_RPC_MAX) {
        r->next_ns[i] = w->now_ns + 20 * MS;
        return;
    }
    bool group = co_rng_below(g, 5) < 3;
    cohort_member_t target = v[co_rng_below(g, nv)];
    cohort_mode_t modes[3] = {COHORT_FIFO, COHORT_FIFO, COHORT_FIFO};
    if (w->total)
        modes[1] = COHORT_TOTAL;
    if (w->safe)
        modes[2] = COHORT_SAFE;
    cohort_mode_t mode = group ? modes[co_rng_below(g, 3)] : COHORT_FIFO;
    uint8_t want = (uint8_t)co_rng_below(g, 4);
    size_t len = REQ_HEADER + co_rng_below(g, 2 * w->scn.cfg.max_datagram);
    uint64_t timeout = (100 + co_rng_below(g, 2900)) * MS;
    uint8_t *buf = malloc(len);
    COHORT_ASSERT(buf);
    req_build(buf, len, i, n->gen, (uint32_t)r->made[i]);
    int rc = co_core_request(n->core, sim_local_ns(w, n),
                             group ? COHORT_TO_GROUP : target.id, mode,
                             (cohort_want_t)want, buf, len, timeout, NULL);
    free(buf);
    if (rc == COHORT_ERR_AGAIN) {
        n->acc_again++; /* send_would_block counts it too */
        r->next_ns[i] = w->now_ns + 5 * MS;
        sim_after_call(w, i);
        return;
    }
    if (rc <= 0) {
        sim_fail(w, "rpc: n%zu: co_core_request returned %d", i, rc);
        return;
    }
    sim_rpc_req_t *q = &r->reqs[r->n_reqs++];
    *q = (sim_rpc_req_t){.node = (uint8_t)i, .want = want, .group = group,
                         .gen = n->gen, .rid = (uint32_t)rc,
                         .to = -1, .at_ns = w->now_ns, .timeout_ns = timeout};
    uint32_t parties = 0;
    for (size_t k = 0; k < nv; k++) {
        size_t node;
        uint32_t gen;
        bool self = v[k].id == n->member_id;
        if ((!group && v[k].id != target.id) ||
            (group && self && !w->scn.cfg.self_delivery) ||
            !sim_identity_of(w, v[k], &node, &gen) ||
            node > SIM_MASK_MEMBERS)
            continue;
        q->party_gen1[node] = (uint8_t)(gen + 1);
        parties++;
        if (!group)
            q->to = (int)node;
    }
    q->need = needed(want, parties);
    r->made[i]++;
    sim_trace(w, "rpc  n%zu: request %u to %s want %u of %u (%s, %zu B)", i,
              q->rid, group ? "the group" : "one member", q->need, parties,
              sim_mode_name(mode), len);
    r->next_ns[i] = r->made[i] < w->scn.rpc_per_node && !w->healed
                        ? w->now_ns + gap(w)
                        : UINT64_MAX;
    sim_after_call(w, i);
}

/* Party k of q left the requester's view (what it holds now). */
static bool party_gone(const sim_world_t *w, const sim_rpc_req_t *q,
                       size_t k)
{
    if (q->unanswered >> k & 1)
        return true;
    const sim_node_t *n = &w->node[q->node];
    cohort_member_t v[SIM_MEMBER_LIST_MAX];
    size_t nv = co_core_view(n->core, NULL, v, SIM_MEMBER_LIST_MAX);
    const sim_node_t *p = &w->node[k];
    uint32_t gen = (uint32_t)q->party_gen1[k] - 1;
    for (size_t i = 0; i < nv && i < SIM_MEMBER_LIST_MAX; i++)
        if (v[i].id == p->member_id && v[i].incarnation == p->incarnation[gen])
            return false;
    return true;
}

static void on_reply(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_node_t *n = &w->node[r];
    uint32_t rid = ev->u.request.request;
    sim_rpc_req_t *q = req_of(w, r, n->gen, rid);
    size_t k;
    uint32_t gen;
    if (!q) {
        sim_fail(w, "rpc: n%zu: reply to request %u it never made", r, rid);
        return;
    }
    if (q->done) {
        sim_fail(w, "rpc: n%zu: reply to request %u after its DONE", r, rid);
        return;
    }
    if (!sim_identity_of(w, ev->u.request.peer, &k, &gen) ||
        k > SIM_MASK_MEMBERS || q->party_gen1[k] != gen + 1) {
        sim_fail(w, "rpc: n%zu: reply to request %u from member %u, not "
                    "asked", r, rid, (unsigned)ev->u.request.peer.id);
        return;
    }
    if ((q->replied | q->unanswered) >> k & 1) {
        sim_fail(w, "rpc: n%zu: request %u answered twice by n%zu", r, rid,
                 k);
        return;
    }
    if (ev->u.request.flags & COHORT_REQUEST_UNANSWERED) {
        q->unanswered |= 1u << k;
        w->rpc.refused++;
        return;
    }
    const uint8_t *d = ev->u.request.data;
    bool ok = ev->u.request.len == reply_len(w, k, rid);
    for (size_t i = 0; ok && i < ev->u.request.len; i++)
        ok = d[i] == reply_byte(k, gen, rid, i);
    if (!ok) {
        sim_fail(w, "rpc: n%zu: reply to request %u from n%zu corrupted", r,
                 rid, k);
        return;
    }
    if (w->opts.inject == SIM_INJECT_RPC_REPLIES && !w->injected &&
        q->replies + 1 == q->need) {
        /* Hidden from the checker: the core completes the request with
         * this reply, the checker counts one fewer. */
        w->injected = true;
        sim_trace(w, "self-test: n%zu's reply from n%zu to request %u hidden",
                  r, k, rid);
        return;
    }
    q->replied |= 1u << k;
    q->replies++;
    w->rpc.replies++;
}

static void on_done(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_node_t *n = &w->node[r];
    uint32_t rid = ev->u.request.request;
    sim_rpc_req_t *q = req_of(w, r, n->gen, rid);
    if (!q || q->done) {
        sim_fail(w, "rpc: n%zu: DONE of request %u %s", r, rid,
                 q ? "twice" : "it never made");
        return;
    }
    q->done = true;
    int res = ev->u.request.result;
    sim_trace(w, "rpc  n%zu: request %u ended %d with %u of %u replies", r,
              rid, res, q->replies, q->need);
    if (res == COHORT_REQUEST_COMPLETE) {
        w->rpc.completed++;
        if (q->replies != q->need || ev->u.request.replies != q->need)
            sim_fail(w, "rpc: n%zu: request %u completed with %u replies "
                        "(the core says %u), wanted %u", r, rid, q->replies,
                     ev->u.request.replies, q->need);
    } else if (res == COHORT_REQUEST_MEMBERS_LEFT) {
        w->rpc.left++;
        bool why = false;
        for (size_t k = 0; k <= SIM_MASK_MEMBERS && !why; k++)
            why = q->party_gen1[k] && !(q->replied >> k & 1) &&
                  party_gone(w, q, k);
        if ((q->need > 0 && q->replies >= q->need) || !why)
            sim_fail(w, "rpc: n%zu: request %u ended MEMBERS_LEFT with %u "
                        "of %u replies though %s", r, rid, q->replies,
                     q->need, why ? "enough came" : "no member it waited "
                                                    "for is gone");
    } else if (res == COHORT_REQUEST_TIMEDOUT) {
        w->rpc.timed_out++;
        if (w->now_ns - q->at_ns < q->timeout_ns)
            sim_fail(w, "rpc: n%zu: request %u timed out after %.3f s of "
                        "its %.3f s", r, rid,
                     (double)(w->now_ns - q->at_ns) / 1e9,
                     (double)q->timeout_ns / 1e9);
    } else if (res == COHORT_REQUEST_CLOSED && q->closing) {
        w->rpc.closed++; /* its life ended excluded: the next one ends it */
    } else {
        sim_fail(w, "rpc: n%zu: request %u ended %d", r, rid, res);
    }
    if (q->closing && res != COHORT_REQUEST_CLOSED)
        sim_fail(w, "rpc: n%zu: request %u of an excluded life ended %d, "
                    "not CLOSED", r, rid, res);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

static void answer(sim_world_t *w, size_t i, cohort_member_t to, uint32_t rid)
{
    sim_node_t *n = &w->node[i];
    size_t len = reply_len(w, i, rid);
    uint8_t *b = malloc(len ? len : 1);
    COHORT_ASSERT(b);
    for (size_t k = 0; k < len; k++)
        b[k] = reply_byte(i, n->gen, rid, k);
    int rc = co_core_reply(n->core, sim_local_ns(w, n), to, rid, b, len);
    free(b);
    /* STATE: the requester left the view meanwhile. */
    if (rc != 0 && rc != COHORT_ERR_STATE)
        sim_fail(w, "rpc: n%zu: co_core_reply returned %d", i, rc);
}

static void executed(sim_world_t *w, size_t r, size_t s, uint32_t sgen,
                     uint32_t rid)
{
    sim_rpc_t *x = &w->rpc;
    uint32_t gen = w->node[r].gen;
    for (size_t k = 0; k < x->n_execs; k++) {
        const sim_rpc_exec_t *e = &x->execs[k];
        if (e->server == r && e->sgen == gen && e->requester == s &&
            e->rgen == sgen && e->rid == rid) {
            sim_fail(w, "rpc: n%zu executed request %u of n%zu (gen %u) "
                        "twice", r, rid, s, sgen);
            return;
        }
    }
    if (x->n_execs < SIM_RPC_EXECS)
        x->execs[x->n_execs++] = (sim_rpc_exec_t){
            (uint8_t)r, (uint8_t)s, gen, sgen, rid};
}

static void on_request(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    size_t s;
    uint32_t sgen;
    uint32_t rid = ev->u.request.request;
    if (!sim_identity_of(w, ev->u.request.peer, &s, &sgen)) {
        sim_fail(w, "rpc: n%zu: request %u from unknown member %u", r, rid,
                 (unsigned)ev->u.request.peer.id);
        return;
    }
    if (!req_intact(ev->u.request.data, ev->u.request.len, s, sgen)) {
        sim_fail(w, "rpc: n%zu: request %u of n%zu corrupted", r, rid, s);
        return;
    }
    sim_trace(w, "rpc  n%zu: executes request %u of n%zu%s%s", r, rid, s,
              ev->u.request.flags & COHORT_REQUEST_GROUP ? " (group)" : "",
              ev->u.request.flags & COHORT_REQUEST_NOREPLY ? " (no reply)"
                                                           : "");
    executed(w, r, s, sgen, rid);
    if (w->opts.inject == SIM_INJECT_RPC_TWICE && !w->injected) {
        w->injected = true;
        sim_trace(w, "self-test: n%zu executes request %u again", r, rid);
        executed(w, r, s, sgen, rid);
    }
    if (w->failed || (ev->u.request.flags & COHORT_REQUEST_NOREPLY))
        return;
    sim_rpc_t *x = &w->rpc;
    if (co_rng_double(&x->rng) < w->scn.rpc_delay_share) {
        for (size_t k = 0; k < SIM_RPC_HELD; k++)
            if (!x->held[r][k].on) {
                x->held[r][k] = (sim_rpc_held_t){
                    true, ev->u.request.peer, rid,
                    w->now_ns + (1 + co_rng_below(&x->rng, 300)) * MS};
                return;
            }
    }
    answer(w, r, ev->u.request.peer, rid);
}

void sim_rpc_event(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_hash_u64(w, w->now_ns);
    sim_hash_u64(w, (uint64_t)r << 8 | (uint64_t)ev->type);
    sim_hash_u64(w, (uint64_t)ev->u.request.request << 8 |
                        (uint64_t)ev->u.request.result);
    if (!w->scn.rpc) {
        sim_fail(w, "n%zu: request-reply event %d without requests", r,
                 (int)ev->type);
        return;
    }
    switch (ev->type) {
    case COHORT_EVENT_REQUEST: on_request(w, r, ev); break;
    case COHORT_EVENT_REPLY: on_reply(w, r, ev); break;
    default: on_done(w, r, ev); break;
    }
}

uint64_t sim_rpc_wake(const sim_world_t *w, size_t i)
{
    if (!w->scn.rpc)
        return UINT64_MAX;
    uint64_t t = w->rpc.next_ns[i];
    for (size_t k = 0; k < SIM_RPC_HELD; k++)
        if (w->rpc.held[i][k].on && w->rpc.held[i][k].at_ns < t)
            t = w->rpc.held[i][k].at_ns;
    return t;
}

void sim_rpc_step(sim_world_t *w, size_t i)
{
    sim_rpc_t *x = &w->rpc;
    for (size_t k = 0; k < SIM_RPC_HELD && !w->failed; k++) {
        sim_rpc_held_t *h = &x->held[i][k];
        if (h->on && h->at_ns <= w->now_ns) {
            h->on = false;
            answer(w, i, h->requester, h->rid);
            sim_after_call(w, i);
        }
    }
    if (!w->failed && x->next_ns[i] <= w->now_ns)
        make_request(w, i);
}

void sim_rpc_check_node(sim_world_t *w, size_t r)
{
    sim_node_t *n = &w->node[r];
    if (!w->scn.rpc || !n->up || w->failed)
        return;
    const struct cohort_stats *st = co_core_stats_mut(n->core);
    uint64_t entries = st->rpc_history_entries;
    if (w->opts.inject == SIM_INJECT_RPC_HISTORY && !w->injected &&
        entries > 0) {
        w->injected = true;
        sim_trace(w, "self-test: n%zu's history claims one entry too many",
                  r);
        entries = w->scn.cfg.rpc_history_len + 1;
    }
    if (entries > w->scn.cfg.rpc_history_len ||
        st->rpc_history_bytes > w->scn.cfg.rpc_history_bytes)
        sim_fail(w, "rpc: n%zu: reply history holds %llu entries and %llu "
                    "bytes, bounds %zu and %zu", r,
                 (unsigned long long)entries,
                 (unsigned long long)st->rpc_history_bytes,
                 w->scn.cfg.rpc_history_len, w->scn.cfg.rpc_history_bytes);
}

bool sim_rpc_idle(const sim_world_t *w, char *why, size_t len)
{
    const sim_rpc_t *r = &w->rpc;
    if (!w->scn.rpc)
        return true;
    for (size_t k = 0; k < r->n_reqs; k++) {
        const sim_rpc_req_t *q = &r->reqs[k];
        if (!q->done && !q->gone) {
            snprintf(why, len, "rpc: request %u of n%u not ended", q->rid,
                     (unsigned)q->node);
            return false;
        }
    }
    for (size_t i = 0; i < w->n_nodes; i++)
        for (size_t k = 0; k < SIM_RPC_HELD; k++)
            if (r->held[i][k].on) {
                snprintf(why, len, "rpc: n%zu holds a reply", i);
                return false;
            }
    return true;
}

void sim_rpc_final(sim_world_t *w)
{
    char why[128];
    if (!w->scn.rpc)
        return;
    if (!sim_rpc_idle(w, why, sizeof why))
        sim_fail(w, "liveness: %s", why);
    sim_trace(w, "rpc: %zu requests, %llu complete, %llu members left, %llu "
                 "timed out, %llu replies, %llu unanswered, %zu executions",
              w->rpc.n_reqs, (unsigned long long)w->rpc.completed,
              (unsigned long long)w->rpc.left,
              (unsigned long long)w->rpc.timed_out,
              (unsigned long long)w->rpc.replies,
              (unsigned long long)w->rpc.refused, w->rpc.n_execs);
    if (!w->failed && w->rpc.n_reqs == 0)
        sim_fail(w, "rpc: no request was made");
}
