/*
 * state_sim.c - state transfer in the simulator (scenario `state`).
 *
 * The application: every member keeps a state, a hash chain (digest) and
 * a count of the TOTAL and SAFE messages it applied, in delivery order.
 * Founders start with an empty state; joiners (members that start during
 * the fault phase) and every restarted incarnation ask for the state at
 * their first view (config.state_transfer); some members ask again once
 * (co_core_state_request). A provider answers STATE_REQUEST by sending,
 * from a copy, a snapshot of SIM_STATE_HEADER bytes (magic, provider,
 * handle, digest, count, size, view) and a filler that follows from
 * them, one datagram to 200 in all (past the 64-datagram window, so flow
 * control holds it back), in pieces of random size, retrying on AGAIN,
 * then ends it. Some providers crash or leave while they send.
 *
 * Properties, checked as events are pulled and at the end:
 *  (a) snapshot: a STATE_DONE RECEIVED follows chunks from offset 0, in
 *      order, intact, from the member it names, as long as the state;
 *      their digest and count are the provider's state at its
 *      STATE_REQUEST, and the place agrees: the requester applied exactly
 *      as many ordered messages of that view before STATE_DONE as the
 *      provider had before STATE_REQUEST, in the same view;
 *  (b) the rest: after the snapshot the requester's state equals its
 *      provider's at every (view, order) both delivered while they
 *      stayed in the same views (the end of the run included), and it
 *      delivers nothing of that view at or before the snapshot's place;
 *  (c) through failures: every request of a running member ends (after
 *      the heal, with its provider crashed or gone, another provides);
 *      STATE_DONE NONE only when no other member of the view could
 *      provide (alone, or every other one waits for its own, provides
 *      nothing, is gone, or has every transfer slot busy); a provider's
 *      send for a transfer of a view that ended answers STATE;
 *  (d) bounded: a provider has at most CO_XFER_SLOTS transfers at once
 *      and at most CO_XFER_SLOTS x CO_XFER_WINDOW datagrams of them held
 *      (co_state_memory_bytes) after every call into its core.
 * A view that ends while a requester waits supersedes what it held
 * (docs/guarantees.md, "State transfer"): check.c and total_check are
 * told, so they do not count those TOTAL and SAFE messages as owed.
 * Each property has a self-test (state-digest, state-place, state-skip,
 * state-dup, state-handover, state-none, state-memory) that breaks it on
 * purpose: the run must fail with the matching complaint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"
#include "state.h"
#include "wire.h"

#define MS 1000000ULL
#define SEND_ROUNDS 32 /* co_core_state_send calls in one step */
static const uint8_t MAGIC[4] = {'C', 'S', 'T', '1'};

bool sim_state_test(sim_inject_t k)
{
    return k >= SIM_INJECT_STATE_DIGEST && k <= SIM_INJECT_STATE_MEMORY;
}

static bool on(const sim_world_t *w, size_t i)
{
    return w->scn.state && i < w->scn.members && i <= SIM_MASK_MEMBERS;
}

static sim_state_life_t *cur(sim_world_t *w, size_t i)
{
    return w->st.life[i][w->node[i].gen];
}

void sim_state_init(sim_world_t *w)
{
    sim_state_t *st = &w->st;
    memset(st, 0, sizeof *st);
    if (!w->scn.state)
        return;
    co_rng_seed(&st->rng, w->opts.seed ^ 0x57a7e5eedULL);
    st->xfers = calloc(SIM_STATE_XFERS, sizeof *st->xfers);
    st->buf = malloc(COHORT_STATE_CHUNK_MAX);
    COHORT_ASSERT(st->xfers && st->buf);
}

void sim_state_free(sim_world_t *w)
{
    sim_state_t *st = &w->st;
    for (size_t i = 0; i <= SIM_MASK_MEMBERS; i++)
        for (size_t g = 0; g < SIM_MAX_GENS; g++) {
            sim_state_life_t *l = st->life[i][g];
            if (l) {
                free(l->log);
                free(l->views);
                free(l);
            }
            st->life[i][g] = NULL;
        }
    free(st->xfers);
    free(st->buf);
    st->xfers = NULL;
    st->buf = NULL;
}

void sim_state_config(const sim_world_t *w, const sim_node_t *n,
                      co_core_config_t *cfg)
{
    if (!on(w, n->idx))
        return;
    cfg->state_transfer = n->idx >= w->scn.state_founders || n->gen > 0;
    cfg->state_provider = !(w->scn.state_noprov_mask >> n->idx & 1u);
}

static uint64_t between(co_rng_t *r, uint64_t lo, uint64_t hi)
{
    return lo + co_rng_below(r, hi - lo + 1);
}

void sim_state_started(sim_world_t *w, size_t i)
{
    sim_state_t *st = &w->st;
    sim_node_t *n = &w->node[i];
    if (!on(w, i))
        return;
    COHORT_ASSERT(st->life[i][n->gen] == NULL);
    sim_state_life_t *l = calloc(1, sizeof *l);
    COHORT_ASSERT(l);
    st->life[i][n->gen] = l;
    /* A life begun after an exclusion asks again only if the one
     * before asked (co_core_successor). */
    l->waiting = n->rejoining ? co_core_state_wanted(n->core)
                              : i >= w->scn.state_founders || n->gen > 0;
    l->held = !l->waiting;
    l->wait_from_ns = w->now_ns;
    l->rx_prev_node = -1;
    l->slots_full_ns = 0;
    if (l->waiting)
        st->asked++;
    uint64_t end = w->scn.fault_ns * 9 / 10;
    if (!w->healed && w->now_ns + 100 * MS < end &&
        co_rng_double(&st->rng) < w->scn.state_rerequest_share) {
        l->rerequest = true;
        l->rerequest_ns = between(&st->rng, w->now_ns + 100 * MS, end);
    }
    memset(st->out[i], 0, sizeof st->out[i]);
}

bool sim_state_self_test_life(sim_world_t *w, size_t i)
{
    return on(w, i) && w->node[i].up && cur(w, i)->ignore;
}

void sim_state_stopped(sim_world_t *w, size_t i)
{
    if (!on(w, i))
        return;
    sim_state_life_t *l = cur(w, i);
    if (l->waiting) {
        l->waiting = false;
        l->wait_until_ns = w->now_ns;
    }
    l->rerequest = false;
    memset(w->st.out[i], 0, sizeof w->st.out[i]);
}

void sim_state_heal(sim_world_t *w)
{
    for (size_t i = 0; on(w, i); i++)
        if (w->node[i].up)
            cur(w, i)->rerequest = false;
}

/* ------------------------------------------------------------------ */
/* The state and its log                                               */
/* ------------------------------------------------------------------ */

static uint64_t chain(uint64_t d, const sim_payload_t *p)
{
    uint64_t x = (uint64_t)p->node << 48 ^ (uint64_t)p->gen << 32 ^
                 p->index ^ (uint64_t)p->mode << 56;
    d ^= x + 0x9e3779b97f4a7c15ULL + (d << 6) + (d >> 2);
    d *= 0xbf58476d1ce4e5b9ULL;
    return d ^ (d >> 31);
}

static void grow(void **p, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return;
    *cap = *cap ? 2 * *cap : 64;
    *p = realloc(*p, *cap * size);
    COHORT_ASSERT(*p != NULL);
}

void sim_state_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                         const sim_payload_t *p)
{
    sim_state_t *st = &w->st;
    if (!on(w, r))
        return;
    sim_state_life_t *l = cur(w, r);
    uint64_t order = ev->u.message.order;
    uint64_t view = ev->u.message.view_id;
    if (!l->waiting && l->n_cuts > 0 && view == l->done_view &&
        order <= l->done_place) {
        sim_fail(w, "state (b): n%zu delivered order %llu of view %016llx "
                    "after its snapshot, which covers it (place %llu)", r,
                 (unsigned long long)order, (unsigned long long)view,
                 (unsigned long long)l->done_place);
        return;
    }
    int times = 1;
    sim_inject_t k = w->opts.inject;
    if ((k == SIM_INJECT_STATE_SKIP || k == SIM_INJECT_STATE_DUP) &&
        !w->injected && st->inject_xfer != 0 &&
        st->xfers[st->inject_xfer - 1].req == r && !l->waiting) {
        w->injected = true;
        st->injected_at = l->n_log + 1;
        times = k == SIM_INJECT_STATE_SKIP ? 0 : 2;
        sim_trace(w, "self-test: n%zu's state %s n%u#%u", r,
                  times ? "applies twice" : "skips", p->node, p->index);
    }
    for (int t = 0; t < times; t++) {
        l->digest = chain(l->digest, p);
        l->count++;
    }
    l->in_view++;
    if (times == 0)
        return;
    grow((void **)&l->log, l->n_log, &l->cap_log, sizeof *l->log);
    l->log[l->n_log++] = (sim_state_ent_t){
        view, order, l->digest,
        (ev->u.message.flags & COHORT_MESSAGE_TRANSITIONAL) != 0};
}

/* ------------------------------------------------------------------ */
/* Provider                                                            */
/* ------------------------------------------------------------------ */

static uint8_t filler(uint64_t digest, uint32_t handle, uint64_t pos)
{
    return (uint8_t)((digest >> (8 * (pos & 7))) ^ (pos * 131) ^
                     ((pos >> 8) * 7) ^ handle);
}

static void header(uint8_t *h, const sim_state_xfer_t *x)
{
    memcpy(h, MAGIC, 4);
    h[4] = x->prov;
    h[5] = (uint8_t)x->pgen;
    h[6] = h[7] = 0;
    co_put32(h + 8, x->handle);
    co_put32(h + 12, 0);
    co_put64(h + 16, x->digest);
    co_put64(h + 24, x->count);
    co_put64(h + 32, x->size);
    co_put64(h + 40, x->view);
}

/* Bytes [from, from + len) of x's snapshot. */
static void snapshot_bytes(const sim_state_xfer_t *x, uint64_t from,
                           uint8_t *out, size_t len)
{
    uint8_t h[SIM_STATE_HEADER];
    header(h, x);
    for (size_t i = 0; i < len; i++) {
        uint64_t pos = from + i;
        out[i] = pos < SIM_STATE_HEADER ? h[pos]
                                        : filler(x->digest, x->handle, pos);
    }
}

static uint64_t snapshot_size(sim_world_t *w)
{
    co_rng_t *r = &w->st.rng;
    uint64_t dg = w->scn.cfg.max_datagram;
    if (co_rng_double(r) < w->scn.state_large_share)
        return between(r, 64 * dg, 200 * dg);
    if (co_rng_below(r, 3))
        return between(r, SIM_STATE_HEADER, 3 * dg);
    return between(r, 3 * dg, 40 * dg);
}

/* Some providers crash or leave while they send. */
static void maybe_kill(sim_world_t *w, size_t r)
{
    sim_state_t *st = &w->st;
    if (w->healed || st->kills >= w->scn.state_kills ||
        co_rng_double(&st->rng) >= w->scn.state_kill_share)
        return;
    uint64_t at = w->now_ns + between(&st->rng, 200000, 40 * MS);
    uint64_t down = between(&st->rng, 50 * MS,
                            2 * w->scn.cfg.member_timeout_ns);
    bool graceful = co_rng_below(&st->rng, 3) == 0;
    if (at + down >= w->scn.fault_ns * 19 / 20)
        return;
    if (sim_schedule_crash(w, r, at, down, graceful)) {
        st->kills++;
        sim_trace(w, "state: n%zu will %s at %.6fs, while it provides", r,
                  graceful ? "leave" : "crash", (double)at / 1e9);
    }
}

static void on_request(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_state_t *st = &w->st;
    sim_node_t *n = &w->node[r];
    sim_state_life_t *l = cur(w, r);
    size_t q;
    uint32_t qgen;
    /* One that asks again may still be asked: it held a state at the
     * other request's place, which came before its own. */
    if ((l->waiting && !l->held) ||
        !sim_identity_of(w, ev->u.state.peer, &q, &qgen) ||
        !on(w, q) || ev->u.state.view_id != l->view) {
        sim_fail(w, "state: n%zu got STATE_REQUEST %u from member %08x of "
                    "view %016llx %s", r, ev->u.state.transfer,
                 ev->u.state.peer.id,
                 (unsigned long long)ev->u.state.view_id,
                 l->waiting && !l->held ? "before it ever held a state"
                 : ev->u.state.view_id != l->view ? "in another view"
                                                  : "(no such member)");
        return;
    }
    sim_state_out_t *o = NULL;
    for (size_t k = 0; k < SIM_STATE_OUTS && !o; k++)
        if (!st->out[r][k].on)
            o = &st->out[r][k];
    if (!o) {
        sim_fail(w, "state (d): n%zu got a STATE_REQUEST while it sends "
                    "%d snapshots (CO_XFER_SLOTS)", r, CO_XFER_SLOTS);
        return;
    }
    if (st->n_xfers >= SIM_STATE_XFERS) {
        sim_fail(w, "state: more than %d transfers (simulator bound)",
                 SIM_STATE_XFERS);
        return;
    }
    sim_state_xfer_t *x = &st->xfers[st->n_xfers];
    *x = (sim_state_xfer_t){
        .prov = (uint8_t)r, .req = (uint8_t)q, .pgen = n->gen, .rgen = qgen,
        .handle = ev->u.state.transfer, .view = l->view, .place = l->in_view,
        .digest = l->digest, .count = l->count, .size = snapshot_size(w),
        .at_ns = w->now_ns, .prov_log = l->n_log, .prov_cuts = l->n_cuts};
    *o = (sim_state_out_t){.on = true, .handle = x->handle,
                           .xfer = st->n_xfers++, .next_ns = w->now_ns};
    /* now and then a slow application: the transfer starts late */
    if (co_rng_below(&st->rng, 4) == 0)
        o->next_ns += between(&st->rng, 1, 30) * MS;
    st->provided++;
    sim_trace(w, "state: n%zu provides %llu B to n%zu (handle %u, place %llu "
                 "of view %016llx, digest %016llx)", r,
              (unsigned long long)x->size, q, x->handle,
              (unsigned long long)x->place, (unsigned long long)x->view,
              (unsigned long long)x->digest);
    maybe_kill(w, r);
}

static size_t chunk_len(sim_world_t *w, uint64_t left)
{
    static const size_t caps[] = {100, 1500, 4096, 16384,
                                  COHORT_STATE_CHUNK_MAX};
    size_t cap = caps[co_rng_below(&w->st.rng, 5)];
    size_t n = 1 + co_rng_below(&w->st.rng, cap);
    return n < left ? n : (size_t)left;
}

/* Send what fits of o's snapshot; true when o is over. */
static bool provide(sim_world_t *w, size_t i, sim_state_out_t *o)
{
    sim_state_t *st = &w->st;
    sim_node_t *n = &w->node[i];
    const sim_state_xfer_t *x = &st->xfers[o->xfer];
    for (int k = 0; k < SEND_ROUNDS && o->sent < x->size; k++) {
        size_t len = chunk_len(w, x->size - o->sent);
        snapshot_bytes(x, o->sent, st->buf, len);
        int rc = co_core_state_send(n->core, sim_local_ns(w, n), o->handle,
                                    st->buf, len);
        if (rc == COHORT_ERR_AGAIN) {
            o->next_ns = w->now_ns + between(&st->rng, 1, 3) * MS / 2;
            return false;
        }
        if (rc == COHORT_ERR_STATE) {
            sim_trace(w, "state: n%zu's transfer %u is over (STATE) at %llu "
                         "of %llu B", i, o->handle,
                      (unsigned long long)o->sent,
                      (unsigned long long)x->size);
            return true;
        }
        if (rc != 0) {
            sim_fail(w, "state: n%zu: co_core_state_send returned %d", i, rc);
            return true;
        }
        o->sent += len;
    }
    if (o->sent < x->size) {
        o->next_ns = w->now_ns;
        return false;
    }
    int rc = co_core_state_end(n->core, sim_local_ns(w, n), o->handle);
    if (rc != 0 && rc != COHORT_ERR_STATE)
        sim_fail(w, "state: n%zu: co_core_state_end returned %d", i, rc);
    return true;
}

static void rerequest(sim_world_t *w, size_t i, sim_state_life_t *l)
{
    sim_node_t *n = &w->node[i];
    if (l->waiting) {
        l->rerequest_ns = w->now_ns + 100 * MS;
        return;
    }
    l->rerequest = false;
    int rc = co_core_state_request(n->core, sim_local_ns(w, n));
    if (rc != 0) {
        sim_fail(w, "state (c): n%zu: co_core_state_request returned %d "
                    "with no request in progress", i, rc);
        return;
    }
    l->waiting = true;
    l->wait_from_ns = w->now_ns;
    l->rx_on = false;
    l->rx_prev_node = -1;
    w->st.asked++;
    sim_trace(w, "state: n%zu asks for the state again", i);
}

uint64_t sim_state_wake(const sim_world_t *w, size_t i)
{
    if (!on(w, i) || !w->node[i].up)
        return UINT64_MAX;
    const sim_state_life_t *l = w->st.life[i][w->node[i].gen];
    uint64_t t = l->rerequest ? l->rerequest_ns : UINT64_MAX;
    for (size_t k = 0; k < SIM_STATE_OUTS; k++)
        if (w->st.out[i][k].on && w->st.out[i][k].next_ns < t)
            t = w->st.out[i][k].next_ns;
    return t;
}

void sim_state_step(sim_world_t *w, size_t i)
{
    sim_state_life_t *l = cur(w, i);
    for (size_t k = 0; k < SIM_STATE_OUTS && !w->failed; k++) {
        sim_state_out_t *o = &w->st.out[i][k];
        if (o->on && o->next_ns <= w->now_ns) {
            if (provide(w, i, o))
                o->on = false;
            sim_after_call(w, i);
        }
    }
    if (!w->failed && w->node[i].up && l->rerequest &&
        l->rerequest_ns <= w->now_ns) {
        rerequest(w, i, l);
        sim_after_call(w, i);
    }
}

/* ------------------------------------------------------------------ */
/* Requester                                                           */
/* ------------------------------------------------------------------ */

/* A STATE_CHUNK or STATE_DONE comes only while r waits; false when this
 * one is not to be taken (failed, or deaf to it: self-test handover). */
static bool expected(sim_world_t *w, size_t r, const sim_state_life_t *l,
                     const char *what)
{
    if (!l->waiting) {
        sim_fail(w, "state (%s): n%zu got a %s with no request",
                 what[6] == 'C' ? "a" : "c", r, what);
        return false;
    }
    return !l->ignore;
}

static void on_chunk(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_state_t *st = &w->st;
    sim_state_life_t *l = cur(w, r);
    size_t p;
    uint32_t pgen;
    uint64_t off = ev->u.state.offset;
    if (!expected(w, r, l, "STATE_CHUNK"))
        return;
    if (!sim_identity_of(w, ev->u.state.peer, &p, &pgen) || !on(w, p) ||
        ev->u.state.view_id != l->view) {
        sim_fail(w, "state (a): n%zu got a chunk from member %08x of view "
                    "%016llx (its view %016llx)", r, ev->u.state.peer.id,
                 (unsigned long long)ev->u.state.view_id,
                 (unsigned long long)l->view);
        return;
    }
    if (off == 0) {
        if (l->rx_on) {
            st->restarts++;
            if (p != l->rx_node)
                st->handovers++;
            l->rx_prev_node = (int)l->rx_node;
            if (w->opts.inject == SIM_INJECT_STATE_HANDOVER &&
                !w->injected) {
                w->injected = true;
                l->ignore = true;
                sim_trace(w, "self-test: n%zu ignores the restarted "
                             "transfer from n%zu", r, p);
                return;
            }
        }
        l->rx_on = true;
        l->rx_node = p;
        l->rx_gen = pgen;
        l->rx_off = 0;
        l->rx_view = l->view;
    } else if (!l->rx_on || p != l->rx_node || pgen != l->rx_gen ||
               off != l->rx_off) {
        sim_fail(w, "state (a): n%zu got a chunk at offset %llu from n%zu, "
                    "expected %llu from n%zu", r, (unsigned long long)off,
                 p, (unsigned long long)l->rx_off, l->rx_node);
        return;
    }
    const uint8_t *d = ev->u.state.data;
    uint32_t handle = 0;
    uint64_t digest = 0;
    for (size_t i = 0; i < ev->u.state.len; i++) {
        uint64_t pos = off + i;
        if (pos < SIM_STATE_HEADER) {
            l->hdr[pos] = d[i];
            continue;
        }
        if (pos == SIM_STATE_HEADER || i == 0) {
            handle = co_get32(l->hdr + 8);
            digest = co_get64(l->hdr + 16);
        }
        if (d[i] != filler(digest, handle, pos)) {
            sim_fail(w, "state (a): n%zu: byte %llu of the snapshot from "
                        "n%zu is corrupted", r, (unsigned long long)pos, p);
            return;
        }
    }
    l->rx_off += ev->u.state.len;
    st->bytes += ev->u.state.len;
}

/* The view member m of requester r could have provided: it is up in
 * that incarnation, may provide, holds a state (it did not wait at any
 * time since r asked) and had a transfer slot free. */
static bool could_provide(sim_world_t *w, size_t r, cohort_member_t m,
                          uint64_t since_ns, size_t *k_out)
{
    size_t k;
    uint32_t g;
    if (!sim_identity_of(w, m, &k, &g) || !on(w, k) || k == r)
        return false;
    *k_out = k;
    const sim_state_life_t *l = w->st.life[k][g];
    if (!l || !w->node[k].up || w->node[k].gen != g ||
        (w->scn.state_noprov_mask >> k & 1u))
        return false;
    if (l->waiting || l->wait_until_ns >= since_ns)
        return false;
    return l->slots_full_ns < since_ns;
}

/* A member of r's view that could have provided (its node index in *k),
 * or false. */
static bool any_could_provide(sim_world_t *w, size_t r,
                              const sim_state_life_t *l, size_t *k)
{
    for (size_t i = 0; i < l->n_members; i++)
        if (could_provide(w, r, l->members[i], l->wait_from_ns, k))
            return true;
    return false;
}

static void check_none(sim_world_t *w, size_t r, sim_state_life_t *l)
{
    size_t k = 0;
    if (any_could_provide(w, r, l, &k))
        sim_fail(w, "state (c): n%zu got STATE_DONE NONE in view %016llx "
                    "though n%zu (gen %u) holds a state and may provide",
                 r, (unsigned long long)l->view, k, w->node[k].gen);
}

static sim_state_xfer_t *xfer_of(sim_world_t *w, const uint8_t *h)
{
    for (size_t k = w->st.n_xfers; k-- > 0;) {
        sim_state_xfer_t *x = &w->st.xfers[k];
        if (x->prov == h[4] && (uint8_t)x->pgen == h[5] &&
            x->handle == co_get32(h + 8))
            return x;
    }
    return NULL;
}

static void received(sim_world_t *w, size_t r, sim_state_life_t *l,
                     const cohort_event_t *ev)
{
    sim_state_t *st = &w->st;
    size_t p;
    uint32_t pgen;
    if (!l->rx_on || l->rx_off < SIM_STATE_HEADER ||
        memcmp(l->hdr, MAGIC, 4) != 0) {
        sim_fail(w, "state (a): n%zu got STATE_DONE RECEIVED after %llu "
                    "bytes of a snapshot", r,
                 (unsigned long long)(l->rx_on ? l->rx_off : 0));
        return;
    }
    sim_state_xfer_t *x = xfer_of(w, l->hdr);
    uint64_t digest = co_get64(l->hdr + 16), count = co_get64(l->hdr + 24);
    uint64_t size = co_get64(l->hdr + 32);
    if (!x || x->req != r || x->rgen != w->node[r].gen ||
        !sim_identity_of(w, ev->u.state.peer, &p, &pgen) ||
        p != l->rx_node || pgen != l->rx_gen || p != x->prov ||
        size != x->size || l->rx_off != size ||
        ev->u.state.offset != size) {
        sim_fail(w, "state (a): n%zu: STATE_DONE of %llu bytes from member "
                    "%08x does not end the snapshot n%zu sent it (%llu of "
                    "%llu bytes came)", r,
                 (unsigned long long)ev->u.state.offset,
                 ev->u.state.peer.id, l->rx_node,
                 (unsigned long long)l->rx_off, (unsigned long long)size);
        return;
    }
    if (w->opts.inject == SIM_INJECT_STATE_DIGEST && !w->injected) {
        w->injected = true;
        digest ^= 1;
        sim_trace(w, "self-test: n%zu's snapshot digest is off", r);
    }
    uint64_t place = l->in_view;
    if (w->opts.inject == SIM_INJECT_STATE_PLACE && !w->injected) {
        w->injected = true;
        place++;
        sim_trace(w, "self-test: n%zu took one message more", r);
    }
    if (digest != x->digest || count != x->count) {
        sim_fail(w, "state (a): n%zu got the state %016llx/%llu from n%zu, "
                    "which held %016llx/%llu at its STATE_REQUEST", r,
                 (unsigned long long)digest, (unsigned long long)count, p,
                 (unsigned long long)x->digest,
                 (unsigned long long)x->count);
        return;
    }
    if (place != x->place || l->view != x->view ||
        ev->u.state.view_id != x->view) {
        sim_fail(w, "state (a): n%zu's snapshot is at place %llu of view "
                    "%016llx at n%zu, but n%zu delivered %llu of view "
                    "%016llx before STATE_DONE", r,
                 (unsigned long long)x->place, (unsigned long long)x->view,
                 p, r, (unsigned long long)place,
                 (unsigned long long)l->view);
        return;
    }
    l->digest = digest;
    l->count = count;
    l->done_view = x->view;
    l->done_place = x->place;
    COHORT_ASSERT(l->n_cuts < SIM_STATE_CUTS);
    l->cuts[l->n_cuts++] = l->n_log;
    x->received = true;
    x->req_log = l->n_log;
    x->req_cuts = l->n_cuts;
    st->received++;
    if ((w->opts.inject == SIM_INJECT_STATE_SKIP ||
         w->opts.inject == SIM_INJECT_STATE_DUP) && st->inject_xfer == 0)
        st->inject_xfer = (size_t)(x - st->xfers) + 1;
    sim_trace(w, "state: n%zu has n%zu's state %016llx/%llu (%llu B)", r, p,
              (unsigned long long)digest, (unsigned long long)count,
              (unsigned long long)size);
}

static void on_done(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_state_life_t *l = cur(w, r);
    int res = ev->u.state.result;
    if (!expected(w, r, l, "STATE_DONE"))
        return;
    if (ev->u.state.view_id != l->view) {
        sim_fail(w, "state (c): n%zu got STATE_DONE of view %016llx in "
                    "view %016llx", r,
                 (unsigned long long)ev->u.state.view_id,
                 (unsigned long long)l->view);
        return;
    }
    size_t k_any = 0;
    /* The self-test lies about a transfer the checker must judge: one
     * where another member could have provided (not one whose every other
     * member waited or had its slots full since r asked, which the seed
     * may draw first). */
    if (res == COHORT_STATE_RECEIVED &&
        w->opts.inject == SIM_INJECT_STATE_NONE && !w->injected &&
        l->n_members > 1 && any_could_provide(w, r, l, &k_any)) {
        w->injected = true;
        res = COHORT_STATE_NONE;
        sim_trace(w, "self-test: n%zu takes its snapshot as NONE", r);
    }
    if (res == COHORT_STATE_RECEIVED) {
        received(w, r, l, ev);
    } else if (res == COHORT_STATE_NONE) {
        w->st.none++;
        check_none(w, r, l);
        sim_trace(w, "state: n%zu: no one holds a state (NONE), keeps its "
                     "own", r);
    } else {
        sim_fail(w, "state: n%zu got STATE_DONE with result %d", r, res);
    }
    l->waiting = false;
    l->held = true;
    l->wait_until_ns = w->now_ns;
    l->rx_on = false;
    l->rx_prev_node = -1;
}

void sim_state_event(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_hash_u64(w, w->now_ns);
    sim_hash_u64(w, (uint64_t)r << 8 | (uint64_t)ev->type);
    sim_hash_u64(w, ev->u.state.offset << 8 | (uint64_t)ev->u.state.result);
    if (!on(w, r)) {
        sim_fail(w, "n%zu: state transfer event %d outside `state`", r,
                 (int)ev->type);
        return;
    }
    switch (ev->type) {
    case COHORT_EVENT_STATE_REQUEST: on_request(w, r, ev); break;
    case COHORT_EVENT_STATE_CHUNK: on_chunk(w, r, ev); break;
    default: on_done(w, r, ev); break;
    }
}

/* A view change ends every transfer (cohort.h): the provider's send
 * answers STATE from then on. */
static void reap(sim_world_t *w, size_t r, uint64_t view)
{
    sim_node_t *n = &w->node[r];
    for (size_t k = 0; k < SIM_STATE_OUTS && !w->failed; k++) {
        sim_state_out_t *o = &w->st.out[r][k];
        if (!o->on || w->st.xfers[o->xfer].view == view)
            continue;
        int rc = co_core_state_send(n->core, sim_local_ns(w, n), o->handle,
                                    NULL, 0);
        if (rc != COHORT_ERR_STATE)
            sim_fail(w, "state (c): n%zu's transfer %u of view %016llx "
                        "outlived it (co_core_state_send returned %d)", r,
                     o->handle,
                     (unsigned long long)w->st.xfers[o->xfer].view, rc);
        o->on = false;
    }
}

void sim_state_view(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    if (!on(w, r))
        return;
    sim_state_life_t *l = cur(w, r);
    l->view = ev->u.view.view_id;
    l->in_view = 0;
    l->n_members = 0;
    for (size_t i = 0; i < ev->u.view.count && i <= SIM_MASK_MEMBERS; i++)
        l->members[l->n_members++] = ev->u.view.members[i];
    grow((void **)&l->views, l->n_views, &l->cap_views, sizeof *l->views);
    l->views[l->n_views++] = l->view;
    reap(w, r, l->view);
}

void sim_state_pulled(sim_world_t *w, size_t r)
{
    if (!on(w, r))
        return;
    sim_state_life_t *l = cur(w, r);
    uint64_t n = co_core_stats(w->node[r].core)->messages_superseded;
    if (n == l->superseded)
        return;
    /* What it held past its request's place in this view went: the next
     * snapshot covers it; no checker may count it as owed. */
    l->superseded = n;
    /* its state no longer follows the snapshot it had */
    COHORT_ASSERT(l->n_cuts < SIM_STATE_CUTS);
    l->cuts[l->n_cuts++] = l->n_log;
    sim_check_superseded(w, r, l->view);
    sim_total_superseded(w, r);
    sim_trace(w, "state: n%zu superseded its held messages of view %016llx",
              r, (unsigned long long)l->view);
}

/* ------------------------------------------------------------------ */
/* Bounds, liveness, the end                                           */
/* ------------------------------------------------------------------ */

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void sim_state_check_node(sim_world_t *w, size_t r)
{
    sim_state_t *st = &w->st;
    if (!on(w, r) || !w->node[r].up || w->failed)
        return;
    size_t m = co_state_memory_bytes(w->node[r].core);
    size_t slot = CO_XFER_WINDOW *
                  (w->scn.cfg.max_datagram + sizeof(co_xfer_piece_t));
    size_t bound = CO_XFER_SLOTS * slot;
    if (m && w->opts.inject == SIM_INJECT_STATE_MEMORY && !w->injected) {
        w->injected = true;
        m = bound + 1;
        sim_trace(w, "self-test: n%zu claims %zu bytes for transfers", r, m);
    }
    if (m > bound) {
        sim_fail(w, "state (d): n%zu holds %zu bytes for state transfers, "
                    "bound %zu (%d transfers of %d datagrams)", r, m, bound,
                 CO_XFER_SLOTS, CO_XFER_WINDOW);
        return;
    }
    /* Every slot holds the same: the smallest amount seen is one slot's
     * (slots are taken one per call), a multiple of it how many. */
    if (m == 0)
        return;
    st->slot_bytes = st->slot_bytes ? gcd(st->slot_bytes, m) : m;
    if (m / st->slot_bytes >= CO_XFER_SLOTS)
        cur(w, r)->slots_full_ns = w->now_ns;
}

bool sim_state_idle(const sim_world_t *w, char *why, size_t len)
{
    for (size_t i = 0; on(w, i); i++) {
        if (!w->node[i].up)
            continue;
        const sim_state_life_t *l = w->st.life[i][w->node[i].gen];
        if (l->waiting) {
            snprintf(why, len, "state: n%zu (gen %u) has waited for its "
                               "state since %.3fs", i, w->node[i].gen,
                     (double)l->wait_from_ns / 1e9);
            return false;
        }
        for (size_t k = 0; k < SIM_STATE_OUTS; k++)
            if (w->st.out[i][k].on) {
                snprintf(why, len, "state: n%zu still sends a snapshot", i);
                return false;
            }
    }
    return true;
}

/* The end of a lineage in l's log: its first cut after the first `cuts`
 * (a snapshot taken, or held messages superseded), or the end. */
static size_t lineage_end(const sim_state_life_t *l, size_t cuts)
{
    return cuts < l->n_cuts ? l->cuts[cuts] : l->n_log;
}

static size_t view_index(const sim_state_life_t *l, uint64_t view)
{
    for (size_t i = 0; i < l->n_views; i++)
        if (l->views[i] == view)
            return i;
    return SIZE_MAX;
}

/* (b) for one completed transfer: the requester's state equals the
 * provider's at every (view, order) both delivered while in the same
 * views, from the snapshot on. */
static void compare(sim_world_t *w, const sim_state_xfer_t *x)
{
    sim_state_t *st = &w->st;
    const sim_state_life_t *j = st->life[x->req][x->rgen];
    const sim_state_life_t *p = st->life[x->prov][x->pgen];
    size_t jv = view_index(j, x->view), pv = view_index(p, x->view);
    COHORT_ASSERT(jv != SIZE_MAX && pv != SIZE_MAX);
    size_t common = 0;
    while (jv + common < j->n_views && pv + common < p->n_views &&
           j->views[jv + common] == p->views[pv + common])
        common++;
    const uint64_t *cv = j->views + jv;
    size_t ji = x->req_log, je = lineage_end(j, x->req_cuts);
    size_t pi = x->prov_log, pe = lineage_end(p, x->prov_cuts);
    size_t jc = 0, pc = 0; /* index in cv of the entries' views */
    for (; ji < je && !w->failed; ji++) {
        const sim_state_ent_t *e = &j->log[ji];
        while (jc < common && cv[jc] != e->view)
            jc++;
        if (jc == common)
            return; /* past the views they shared */
        for (; pi < pe; pi++) {
            const sim_state_ent_t *f = &p->log[pi];
            while (pc < common && cv[pc] != f->view)
                pc++;
            if (pc > jc || (pc == jc && f->order >= e->order))
                break;
        }
        if (pi == pe)
            return;
        const sim_state_ent_t *f = &p->log[pi];
        bool last = jc + 1 == common;
        if (pc != jc || f->order != e->order ||
            (last && (e->trans || f->trans)))
            continue;
        st->compared++;
        if (st->injected_at && ji + 1 >= st->injected_at)
            st->injected_at = SIZE_MAX; /* the fault had a witness */
        if (e->digest != f->digest)
            sim_fail(w, "state (b): n%zu (gen %u) and its provider n%u (gen "
                        "%u) hold different states after order %llu of "
                        "view %016llx (%016llx, %016llx), though both "
                        "stayed in the same views since the snapshot",
                     (size_t)x->req, x->rgen, x->prov, x->pgen,
                     (unsigned long long)e->order,
                     (unsigned long long)e->view,
                     (unsigned long long)e->digest,
                     (unsigned long long)f->digest);
    }
}

void sim_state_final(sim_world_t *w)
{
    sim_state_t *st = &w->st;
    char why[160];
    if (!w->scn.state)
        return;
    if (!sim_state_idle(w, why, sizeof why))
        sim_fail(w, "liveness: %s", why);
    for (size_t k = 0; k < st->n_xfers && !w->failed; k++)
        if (st->xfers[k].received)
            compare(w, &st->xfers[k]);
    /* skip, dup: a fault no later common point could show was not
     * injected into anything */
    if (!w->failed && st->injected_at && st->injected_at != SIZE_MAX)
        w->injected = false;
    sim_trace(w, "state: %llu asked, %llu received, %llu none, %llu "
                 "provided, %llu restarts, %llu handovers, %llu B, %llu "
                 "points compared", (unsigned long long)st->asked,
              (unsigned long long)st->received, (unsigned long long)st->none,
              (unsigned long long)st->provided,
              (unsigned long long)st->restarts,
              (unsigned long long)st->handovers,
              (unsigned long long)st->bytes,
              (unsigned long long)st->compared);
    if (!w->failed && st->asked == 0)
        sim_fail(w, "state: no member asked for the state");
}
