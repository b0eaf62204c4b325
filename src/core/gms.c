/*
 * gms.c - group membership state machine (see gms.h and
 * docs/membership.md).
 */
#include "gms.h"

#include <string.h>

#include "co_assert.h"

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

static void *zalloc(const co_mem_t *m, size_t n, size_t size, bool *ok)
{
    void *p = co_calloc(m, n ? n : 1, size);
    if (!p)
        *ok = false;
    return p;
}

int co_gms_init(co_gms_t *g, const co_gms_config_t *cfg, uint64_t now_ns)
{
    COHORT_ASSERT(cfg->self_id != 0 && cfg->self_incarnation != 0);
    COHORT_ASSERT(cfg->max_members >= 2 && cfg->max_members <= UINT16_MAX);
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    g->mem = co_mem_or_libc(cfg->mem);
    const co_mem_t *m = g->mem;
    g->discovery_at_ns = now_ns + cfg->discovery_ns;
    size_t n = cfg->max_members;
    bool ok = true;
    co_vmember_t *v = zalloc(m, n, sizeof *v, &ok);
    co_vmember_t *pv = zalloc(m, n, sizeof *pv, &ok);
    co_vmember_t *pr = zalloc(m, n, sizeof *pr, &ok);
    co_vmember_t *in = zalloc(m, n, sizeof *in, &ok);
    co_vmember_t *av = zalloc(m, n, sizeof *av, &ok);
    /* One row per (old view, sender): members from four old views of
     * full size fit; past that the member whose answer overflows waits
     * for a later change (co_gms_on_flush_ok). */
    co_cut_t *cuts = zalloc(m, CO_GMS_CUT_ROWS(n), sizeof *cuts, &ok);
    co_cut_t *ccuts = zalloc(m, CO_GMS_CUT_ROWS(n), sizeof *ccuts, &ok);
    co_gms_peer_t *peers = zalloc(m, 2 * n, sizeof *peers, &ok);
    bool *answered = zalloc(m, n, sizeof *answered, &ok);
    bool *acked = zalloc(m, n, sizeof *acked, &ok);
    if (!ok) {
        void *all[] = {v, pv, pr, in, av, cuts, ccuts, peers, answered, acked};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            co_free(m, all[i]);
        memset(g, 0, sizeof *g);
        return -1;
    }
    g->peers = peers;
    g->answered = answered;
    g->acked = acked;
    co_view_init(&g->view, v, n);
    co_view_init(&g->prev, pv, n);
    co_view_init(&g->proposal, pr, n);
    co_vasm_init(&g->proposal_in, in, n);
    co_view_init(&g->answered_view, av, n);
    co_cut_table_init(&g->cuts, cuts, CO_GMS_CUT_ROWS(n));
    co_cut_table_init(&g->commit_cuts, ccuts, CO_GMS_CUT_ROWS(n));
    g->peer_cap = 2 * n;
    return 0;
}

void co_gms_free(co_gms_t *g)
{
    const co_mem_t *m = g->mem;
    if (!m)
        return; /* never set up */
    co_free(m, g->view.members);
    co_free(m, g->prev.members);
    co_free(m, g->proposal.members);
    co_free(m, g->proposal_in.view.members);
    co_free(m, g->answered_view.members);
    co_free(m, g->cuts.rows);
    co_free(m, g->commit_cuts.rows);
    co_free(m, g->peers);
    co_free(m, g->answered);
    co_free(m, g->acked);
    memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

static void emit(co_gms_t *g, co_gms_action_kind_t kind, uint64_t pid,
                 uint32_t to)
{
    /* The caller drains after every call; a full queue is a bug. */
    COHORT_ASSERT(g->act_count < CO_GMS_ACTIONS);
    size_t i = (g->act_head + g->act_count) % CO_GMS_ACTIONS;
    g->act[i] = (co_gms_action_t){.kind = kind, .proposal_id = pid,
                                  .to = to};
    g->act_count++;
}

bool co_gms_next_action(co_gms_t *g, co_gms_action_t *out)
{
    if (g->act_count == 0)
        return false;
    *out = g->act[g->act_head];
    g->act_head = (g->act_head + 1) % CO_GMS_ACTIONS;
    g->act_count--;
    return true;
}

/* ------------------------------------------------------------------ */
/* Peers                                                               */
/* ------------------------------------------------------------------ */

static co_gms_peer_t *peer_find(co_gms_t *g, uint32_t id)
{
    for (size_t i = 0; i < g->peer_used; i++)
        if (g->peers[i].in_use && g->peers[i].id == id)
            return &g->peers[i];
    return NULL;
}

static bool in_view(const co_view_t *v, uint32_t id, uint32_t inc)
{
    return co_view_find(v, id, inc) >= 0;
}

/* A slot for a new sender: a free one, else the longest silent one that
 * is in no view this member is working with. */
static co_gms_peer_t *peer_slot(co_gms_t *g)
{
    if (g->peer_used < g->peer_cap)
        return &g->peers[g->peer_used++];
    co_gms_peer_t *victim = NULL;
    for (size_t i = 0; i < g->peer_cap; i++) {
        co_gms_peer_t *p = &g->peers[i];
        if (in_view(&g->view, p->id, p->incarnation) ||
            in_view(&g->proposal, p->id, p->incarnation))
            continue;
        if (!victim || p->heard_ns < victim->heard_ns)
            victim = p;
    }
    return victim;
}

static co_gms_peer_t *peer_get(co_gms_t *g, uint32_t id, uint32_t inc,
                               uint64_t now_ns)
{
    co_gms_peer_t *p = peer_find(g, id);
    if (p && p->incarnation == inc)
        return p;
    if (!p)
        p = peer_slot(g);
    if (!p)
        return NULL;
    /* A new member, or a new life of one (the core refuses older lives
     * before they get here). */
    *p = (co_gms_peer_t){.id = id, .incarnation = inc, .heard_ns = now_ns,
                         .in_use = true};
    return p;
}

/* The entry of a view member, created (heard now) when there is none;
 * NULL when a newer life of its id is known or the table is full. */
static co_gms_peer_t *peer_of_member(co_gms_t *g, const co_vmember_t *m,
                                     uint64_t now_ns)
{
    co_gms_peer_t *p = peer_find(g, m->id);
    if (p)
        return p->incarnation == m->incarnation ? p : NULL;
    return peer_get(g, m->id, m->incarnation, now_ns);
}

/* Suspected and verified: silent through the probes, or said LEAVE. */
static bool is_gone(const co_gms_peer_t *p, uint64_t now_ns)
{
    return p->leaving || (p->suspected && now_ns >= p->suspect_at_ns);
}

/* Suspected (verified or not) or leaving. */
static bool doubted(const co_gms_peer_t *p)
{
    return p->suspected || p->leaving;
}

/* A view member is gone when verified suspected, when it left, or when a
 * newer life of its id has been heard (the core passes only lives newer
 * than any it saw, so another incarnation here is a newer one). */
static bool member_gone(co_gms_t *g, const co_vmember_t *m, uint64_t now_ns)
{
    co_gms_peer_t *p = peer_find(g, m->id);
    if (p && p->incarnation != m->incarnation)
        return true;
    return p && is_gone(p, now_ns);
}

static bool member_suspected(co_gms_t *g, const co_vmember_t *m)
{
    co_gms_peer_t *p = peer_find(g, m->id);
    return p && (p->incarnation != m->incarnation || doubted(p));
}

/* ------------------------------------------------------------------ */
/* Who coordinates                                                     */
/* ------------------------------------------------------------------ */

static bool self_id(const co_gms_t *g, uint32_t id)
{
    return id == g->cfg.self_id;
}

static bool discovery_over(const co_gms_t *g, uint64_t now_ns)
{
    return g->discovery_at_ns == 0 || now_ns >= g->discovery_at_ns;
}

/* A proposal this member answered still binds it while its proposer is
 * alive, the proposal is not installed, and its COMMIT may still come
 * (the proposer may have given it up for a higher one that left this
 * member out). It stays blocked either way; only who may propose
 * changes. */
static bool bound_by_answer(co_gms_t *g)
{
    if (g->answered_id == 0 || g->answered_id <= g->view.id ||
        self_id(g, g->answered_to) || g->answer_expires_ns == 0)
        return false;
    co_gms_peer_t *p = peer_find(g, g->answered_to);
    return !(p && doubted(p));
}

static bool lagging(const co_gms_t *g, const co_gms_peer_t *p);

/* A member of our view that is still heard, lately (within two heartbeat
 * intervals), in an older one after the lag check: it is alive and did
 * not install our view (it missed the COMMIT, or could not complete its
 * flush and gave the install up). A silent one is left to suspicion and
 * its timeout: being quiet is not lagging. */
static bool member_lagging(co_gms_t *g, const co_vmember_t *m,
                           uint64_t now_ns)
{
    co_gms_peer_t *p = peer_find(g, m->id);
    return p && p->incarnation == m->incarnation && lagging(g, p) &&
           now_ns < p->heard_ns + g->cfg.discovery_ns;
}

/* The oldest member of our view that is neither suspected nor lagging
 * coordinates: one that did not install the view (even its proposer, if
 * it gave its own install up) cannot act for it, and the next one takes
 * it in again. */
static bool acting_coordinator(co_gms_t *g, uint64_t now_ns)
{
    if (bound_by_answer(g) || g->installing)
        return false;
    if (!g->has_view)
        return discovery_over(g, now_ns);
    /* Its own proposal committed, then its install given up (the flush
     * ran out of time): it cannot go back to its view, since others may
     * have installed the proposal, and no one else knows it waits (it
     * still names its view), so it proposes again whoever coordinates. */
    if (g->answered_id > g->view.id && self_id(g, g->answered_to))
        return true;
    for (size_t i = 0; i < g->view.count; i++) {
        const co_vmember_t *m = &g->view.members[i];
        if (self_id(g, m->id))
            return true;
        if (!member_suspected(g, m) && !member_lagging(g, m, now_ns))
            return false;
    }
    return false;
}

static uint64_t my_view_id(const co_gms_t *g)
{
    return g->has_view ? g->view.id : 0;
}

/* A sender this member's side takes in: heard lately, not in the view,
 * and in an older view than ours (a fresh one: view 0; between fresh
 * members the lowest id leads, so the proposer is the oldest). */
static bool absorbable(co_gms_t *g, const co_gms_peer_t *p, uint64_t now_ns)
{
    if (!p->in_use || self_id(g, p->id) || p->suspected || p->leaving ||
        now_ns >= p->heard_ns + g->cfg.suspect_ns)
        return false;
    if (g->cfg.datagram != 0 && (p->datagram != g->cfg.datagram || !p->path))
        return false; /* not heard the size yet, another size, or the
                         path has not carried a datagram that long */
    uint64_t mine = my_view_id(g);
    if (g->has_view && in_view(&g->view, p->id, p->incarnation))
        return false; /* a member already; see lagging() */
    if (p->view_id < mine)
        return true;
    if (p->view_id == 0 && mine == 0)
        return p->id > g->cfg.self_id;
    return p->view_id == mine; /* names our view but is not in it */
}

/* ------------------------------------------------------------------ */
/* Proposing                                                           */
/* ------------------------------------------------------------------ */

static uint32_t counter_floor(const co_gms_t *g)
{
    uint32_t c = g->max_counter;
    if (co_view_counter(g->view.id) > c)
        c = co_view_counter(g->view.id);
    if (co_view_counter(g->answered_id) > c)
        c = co_view_counter(g->answered_id);
    if (co_view_counter(g->proposal_id) > c)
        c = co_view_counter(g->proposal_id);
    return c;
}

/* A member of our view that still names an older view after the lag
 * check missed the COMMIT, and its proposer stopped resending: it is
 * taken in again by a new change. */
static bool lagging(const co_gms_t *g, const co_gms_peer_t *p)
{
    return g->has_view && g->lag_check_at_ns == 0 && p->in_use &&
           !self_id(g, p->id) && !p->suspected && !p->leaving &&
           in_view(&g->view, p->id, p->incarnation) && p->view_id < g->view.id;
}

static bool change_needed(co_gms_t *g, uint64_t now_ns)
{
    if (!g->has_view)
        return true; /* discovery is over: form or join a view */
    if (g->answered_id > g->view.id)
        return true; /* blocked by an answer no one will complete */
    for (size_t i = 0; i < g->view.count; i++) {
        const co_vmember_t *m = &g->view.members[i];
        if (!self_id(g, m->id) && member_gone(g, m, now_ns))
            return true;
    }
    for (size_t i = 0; i < g->peer_used; i++)
        if (absorbable(g, &g->peers[i], now_ns))
            return true;
    for (size_t i = 0; i < g->peer_used; i++)
        if (lagging(g, &g->peers[i]))
            return true;
    return false;
}

/* p took part in a change (answered it, or proposed one naming this
 * member): no longer suspected, unheeded or not. Silence is suspected
 * afresh from when it was last heard. */
static void heeded(co_gms_peer_t *p)
{
    p->suspected = false;
    p->suspect_at_ns = 0;
    p->probe_at_ns = 0;
    p->unheeded_until_ns = 0;
}

static void add_member(co_view_t *v, co_vmember_t m)
{
    if (v->count < v->cap)
        (void)co_view_add(v, m);
}

/* The answer to another member's proposal stops binding (it expired, or
 * this member, its proposer doubted, proposes instead): that proposal,
 * and any below it, is never answered again. This member may now send in
 * its view past what the answer said, so a second answer (a PREPARE
 * resent to another member, or one that waited in a socket while this
 * process was stopped) would let in a COMMIT whose cut was taken from the
 * first. */
static void give_up_answer(co_gms_t *g)
{
    if (g->answered_id <= my_view_id(g) || self_id(g, g->answered_to) ||
        g->answered_id < g->given_up_id)
        return;
    g->given_up_id = g->answered_id;
    g->given_up_inc = co_view_proposer_inc(&g->answered_view);
}

static void start_proposal(co_gms_t *g, uint64_t now_ns)
{
    uint32_t counter;
    g->propose_at_ns = 0;
    if (!co_view_next_counter(counter_floor(g), &counter))
        return; /* 2^32 changes: nothing more can be formed */
    /* An answer still outstanding is given up by proposing: its proposer
     * is doubted (bound_by_answer). Forgotten, that proposal's COMMIT
     * would be refused but its view taken for one that left this member
     * out (sim heavy 6678: a false EXCLUDED), and a resent PREPARE of it
     * answered again. */
    give_up_answer(g);
    co_view_t *p = &g->proposal;
    p->count = 0;
    uint32_t self_since = counter;
    if (g->has_view) {
        for (size_t i = 0; i < g->view.count; i++) {
            const co_vmember_t *m = &g->view.members[i];
            if (self_id(g, m->id)) {
                self_since = m->since;
                continue;
            }
            co_gms_peer_t *peer = peer_find(g, m->id);
            bool elsewhere = peer && peer->view_id > g->view.id;
            if (!member_gone(g, m, now_ns) && !elsewhere)
                add_member(p, *m);
        }
    }
    add_member(p, (co_vmember_t){g->cfg.self_id, g->cfg.self_incarnation,
                                 self_since});
    for (size_t i = 0; i < g->peer_used; i++) {
        const co_gms_peer_t *q = &g->peers[i];
        if (absorbable(g, q, now_ns))
            add_member(p, (co_vmember_t){q->id, q->incarnation, counter});
    }
    p->id = co_view_make_id(counter, g->cfg.self_id);
    g->max_counter = counter; /* never propose this id twice */
    p->primary = co_view_is_primary(p->count, g->cfg.expected_members);
    COHORT_ASSERT(co_view_canonical(p));
    g->proposal_id = p->id;
    g->proposal_started_ns = now_ns;
    g->committed = false;
    co_cut_table_clear(&g->cuts);
    memset(g->answered, 0, g->cfg.max_members * sizeof *g->answered);
    memset(g->acked, 0, g->cfg.max_members * sizeof *g->acked);
    emit(g, CO_GMS_ACT_PREPARE, p->id, 0);
    g->resend_at_ns = now_ns + g->cfg.retry_ns;
    /* The proposer answers its own proposal like everyone. */
    co_view_copy(&g->answered_view, p);
    g->answered_id = p->id;
    g->answered_to = g->cfg.self_id;
    emit(g, CO_GMS_ACT_FLUSH_OK, p->id, g->cfg.self_id);
}

/* Give up this member's own proposal before any COMMIT. Only the proposer
 * commits, so no one can have installed it: this member may go back to
 * its view (the others that answered wait for a newer proposal). */
static void abandon_own(co_gms_t *g)
{
    COHORT_ASSERT(!g->committed);
    if (g->answered_id == g->proposal_id && self_id(g, g->answered_to))
        g->answered_id = 0;
    g->proposal_id = 0;
}

static void maybe_schedule(co_gms_t *g, uint64_t now_ns)
{
    if (g->proposal_id != 0 || g->propose_at_ns != 0 ||
        !acting_coordinator(g, now_ns) || !change_needed(g, now_ns))
        return;
    g->propose_at_ns = now_ns + g->cfg.batch_ns;
}

/* ------------------------------------------------------------------ */
/* Inputs                                                              */
/* ------------------------------------------------------------------ */

const co_gms_peer_t *co_gms_peer(const co_gms_t *g, uint32_t id)
{
    return peer_find((co_gms_t *)(uintptr_t)g, id);
}

/* p says it is in a view above every proposal this member ever
 * answered. A view is installed only once every member of it answered its
 * proposal, so that view cannot hold this member: p went on without it. */
static bool went_on_without_us(const co_gms_t *g, const co_gms_peer_t *p)
{
    uint64_t v = p->view_id;
    return v > g->view.id && v > g->answered_id && v > g->given_up_id &&
           v > g->abandoned_id;
}

/* p, of this member's view, went on without it, and so did more than
 * half of the others of its view: this member was excluded while alive
 * (stopped, or cut off one way). One member alone taken into another
 * view (a proposer from outside that took it, as in a start-up race or a
 * merge from the other side of a partition) leaves this member's view as
 * it is, to change by a view change as usual (sim attack 196: three
 * members of a view of four were told, and began new lives for nothing).
 * True once a view of ours; names p, the one heard last. */
static bool excluded_by(co_gms_t *g, const co_gms_peer_t *p)
{
    if (!g->has_view || g->installing || g->excluded_in == g->view.id ||
        !went_on_without_us(g, p) ||
        co_view_find(&g->view, p->id, p->incarnation) < 0)
        return false;
    size_t others = 0, gone = 0;
    for (size_t i = 0; i < g->view.count; i++) {
        const co_vmember_t *m = &g->view.members[i];
        if (self_id(g, m->id))
            continue;
        others++;
        const co_gms_peer_t *q = peer_find(g, m->id);
        gone += q && q->incarnation == m->incarnation &&
                went_on_without_us(g, q);
    }
    if (2 * gone <= others)
        return false;
    g->excluded_in = g->view.id;
    return true;
}

void co_gms_heard(co_gms_t *g, uint64_t now_ns, uint32_t id,
                  uint32_t incarnation, uint64_t view_id)
{
    if (self_id(g, id))
        return;
    const co_gms_peer_t *known = peer_find(g, id);
    bool fresh = !known || known->incarnation != incarnation;
    co_gms_peer_t *p = peer_get(g, id, incarnation, now_ns);
    if (!p)
        return;
    /* Every datagram passes here: only news (a new sender, another view,
     * a suspicion cleared) can start a change, so only news pays for the
     * look over the view and the senders. */
    bool unheeded = now_ns < p->unheeded_until_ns;
    bool news = fresh || p->view_id != view_id || (p->suspected && !unheeded);
    p->heard_ns = now_ns;
    p->view_id = view_id;
    if (!unheeded) {
        p->suspected = false;
        p->suspect_at_ns = 0;
        p->probe_at_ns = 0;
    }
    if (co_view_counter(view_id) > g->max_counter)
        g->max_counter = co_view_counter(view_id);
    if (news)
        maybe_schedule(g, now_ns);
    if (news && excluded_by(g, p))
        emit(g, CO_GMS_ACT_EXCLUDED, view_id, id);
}

/* Heard outside our view and of our size, with no PATH through: how
 * long. Past path_wait_ns its PATHs are taken to be dropped on the way
 * (at 40 % loss, sixteen in a row lost are one chance in 2 million). */
static void check_narrow(co_gms_t *g, co_gms_peer_t *p, uint64_t now_ns)
{
    bool apart = g->cfg.datagram != 0 && g->cfg.path_wait_ns != 0 &&
                 p->datagram == g->cfg.datagram && !p->path && !p->leaving &&
                 !(g->has_view && in_view(&g->view, p->id, p->incarnation));
    if (!apart) {
        p->apart_ns = 0;
        return;
    }
    if (p->apart_ns == 0)
        p->apart_ns = now_ns;
    if (!p->narrow_told && now_ns >= p->apart_ns + g->cfg.path_wait_ns) {
        p->narrow_told = true;
        emit(g, CO_GMS_ACT_NARROW, 0, p->id);
    }
}

void co_gms_heard_datagram(co_gms_t *g, uint64_t now_ns, uint32_t id,
                           uint32_t incarnation, size_t datagram)
{
    co_gms_peer_t *p = peer_find(g, id);
    if (!p || p->incarnation != incarnation || datagram == 0 ||
        datagram > UINT32_MAX)
        return;
    /* A life names one size: the first heard stands (a datagram naming
     * another later is not this member's doing, or a bug). */
    if (p->datagram == 0) {
        p->datagram = (uint32_t)datagram;
        if (g->cfg.datagram != 0 && datagram != g->cfg.datagram)
            emit(g, CO_GMS_ACT_MISMATCH, 0, id);
        else if (g->cfg.datagram != 0)
            maybe_schedule(g, now_ns); /* it may be taken in now */
    }
    check_narrow(g, p, now_ns);
}

void co_gms_heard_path(co_gms_t *g, uint64_t now_ns, uint32_t id,
                       uint32_t incarnation)
{
    co_gms_peer_t *p = peer_find(g, id);
    if (!p || p->incarnation != incarnation || p->path)
        return;
    p->path = true;
    p->apart_ns = 0;
    maybe_schedule(g, now_ns); /* it may be taken in now */
}

bool co_gms_path_wanted(const co_gms_t *g, uint64_t now_ns)
{
    if (g->cfg.datagram == 0 || g->left)
        return false;
    if (!g->has_view)
        return true;
    for (size_t i = 0; i < g->peer_used; i++) {
        const co_gms_peer_t *p = &g->peers[i];
        if (!p->in_use || self_id(g, p->id) || p->leaving ||
            now_ns >= p->heard_ns + g->cfg.suspect_ns ||
            (p->datagram != 0 && p->datagram != g->cfg.datagram))
            continue;
        if (!in_view(&g->view, p->id, p->incarnation) ||
            p->view_id != g->view.id)
            return true;
    }
    return false;
}

void co_gms_on_leave(co_gms_t *g, uint64_t now_ns, uint32_t id,
                     uint32_t incarnation)
{
    co_gms_peer_t *p = peer_find(g, id);
    if (!p || p->incarnation != incarnation)
        return;
    p->leaving = true;
    p->suspected = true;
    p->suspect_at_ns = now_ns;
    /* No more probes: a leaving member's suspicion is verified, and the
     * tick skips leaving members, so a probe time left set would stay
     * due for ever (sim heavy 1746, 2828). */
    p->probe_at_ns = 0;
    maybe_schedule(g, now_ns);
    /* A leave is news to act on now, not after a batch delay. */
    if (g->propose_at_ns > now_ns)
        g->propose_at_ns = now_ns;
}

/* A proposal from outside this member's view, made on news older than
 * the view: it takes this member away from view members it hears well.
 * The start-up race: three members start at once, two form a view while
 * the third, having heard one of them still fresh, proposes to take it
 * alone; answered, the view just formed splits and the one left out is
 * excluded while alive. Refused (for a flush timeout after the install
 * only, so that a proposer that cannot hear everyone is answered in the
 * end), the proposer gives up, and this side, whose view is newer, takes
 * it in with every member. */
static bool splits_new_view(co_gms_t *g, const co_view_t *p, uint32_t from,
                            uint32_t from_inc, uint64_t now_ns)
{
    if (!g->has_view || in_view(&g->view, from, from_inc) ||
        now_ns >= g->installed_ns + g->cfg.flush_timeout_ns)
        return false;
    for (size_t i = 0; i < g->view.count; i++) {
        const co_vmember_t *m = &g->view.members[i];
        if (!self_id(g, m->id) && !member_gone(g, m, now_ns) &&
            !member_suspected(g, m) &&
            co_view_find(p, m->id, m->incarnation) < 0)
            return true;
    }
    return false;
}

void co_gms_on_prepare(co_gms_t *g, uint64_t now_ns, uint32_t from,
                       uint32_t from_inc, const co_vchunk_t *chunk)
{
    uint64_t pid = chunk->view_id;
    /* While a COMMIT is being applied the proposal in hand must stay as
     * it is; a newer proposer resends, and is answered after the
     * install. */
    if (g->installing)
        return;
    if (g->left || from != co_view_coord_id(pid) ||
        pid <= my_view_id(g) || pid < g->answered_id) {
        g->dropped++;
        return;
    }
    /* The same id from another life of its proposer (restarted under the
     * same member id, its counters forgotten) is another proposal: never
     * taken for the one answered. */
    if (pid < g->given_up_id ||
        (pid == g->given_up_id && from_inc == g->given_up_inc))
        return; /* not an attack: an old copy, or a resend to others */
    if (pid == g->answered_id &&
        co_view_proposer_inc(&g->answered_view) != from_inc) {
        g->dropped++;
        return;
    }
    if (pid == g->answered_id) { /* our FLUSH_OK was lost: again */
        emit(g, CO_GMS_ACT_FLUSH_OK, pid, from);
        return;
    }
    co_vasm_t *a = &g->proposal_in;
    if (a->started && a->view.id != pid) {
        if (pid < a->view.id && a->view.id > g->answered_id)
            return; /* a newer one is being assembled */
        co_vasm_reset(a);
    }
    int rc = co_vasm_feed(a, chunk);
    if (rc < 0) {
        g->dropped++;
        co_vasm_reset(a);
        return;
    }
    if (rc == 0)
        return;
    if (co_view_find(&a->view, g->cfg.self_id, g->cfg.self_incarnation) < 0 ||
        co_view_proposer_inc(&a->view) == 0) {
        co_vasm_reset(a); /* not for us, or not a proposal at all */
        return;
    }
    if (co_view_counter(pid) > g->max_counter)
        g->max_counter = co_view_counter(pid);
    if (splits_new_view(g, &a->view, from, from_inc, now_ns)) {
        co_vasm_reset(a);
        g->refused++;
        return;
    }
    /* A higher proposal than our own wins: stop proposing, answer. */
    if (g->proposal_id != 0 && !g->committed) {
        g->proposal_id = 0;
        g->propose_at_ns = 0;
    }
    co_view_copy(&g->answered_view, &a->view);
    co_vasm_reset(a);
    g->answered_id = pid;
    g->answered_to = from;
    /* Its proposer takes part: a suspicion of it left by an attempt of
     * ours it let time out (unheeded) is over, or the answer would not
     * bind (bound_by_answer) and this member, acting coordinator, would
     * give it up for a view without the proposer. */
    co_gms_peer_t *pp = peer_find(g, from);
    if (pp && pp->incarnation == from_inc && !pp->leaving)
        heeded(pp);
    g->answer_expires_ns = now_ns + 2 * g->cfg.flush_timeout_ns;
    emit(g, CO_GMS_ACT_FLUSH_OK, pid, from);
    (void)now_ns;
}

static long proposal_index(const co_gms_t *g, uint32_t id)
{
    return co_view_find_id(&g->proposal, id);
}

static bool all_set(const bool *flags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!flags[i])
            return false;
    return true;
}

static void commit(co_gms_t *g, uint64_t now_ns)
{
    g->committed = true;
    g->resend_at_ns = now_ns + g->cfg.retry_ns;
    emit(g, CO_GMS_ACT_COMMIT, g->proposal_id, 0);
    /* The proposer takes its own COMMIT at once. */
    co_cut_table_clear(&g->commit_cuts);
    for (size_t i = 0; i < g->cuts.count; i++)
        g->commit_cuts.rows[i] = g->cuts.rows[i];
    g->commit_cuts.count = g->cuts.count;
    g->installing = true;
    emit(g, CO_GMS_ACT_INSTALL, g->proposal_id, 0);
}

void co_gms_on_flush_ok(co_gms_t *g, uint64_t now_ns, uint32_t from,
                        uint64_t proposal_id, uint64_t old_view_id,
                        uint32_t old_proposer_inc,
                        const co_flush_entry_t *entries, size_t count)
{
    if (proposal_id != g->proposal_id || g->proposal_id == 0 ||
        g->committed)
        return;
    long i = proposal_index(g, from);
    if (i < 0 || g->answered[i])
        return;
    if (co_cut_table_fold(&g->cuts, from, old_view_id, old_proposer_inc,
                          entries, count) != 0) {
        /* More old senders than the table holds: give this attempt up,
         * and leave the member whose answer did not fit out of the next
         * one (it comes in by a later change, from a view of its own), so
         * the next attempt is smaller and does not fail the same way. */
        g->dropped++;
        co_gms_peer_t *p = peer_find(g, from);
        if (p && !self_id(g, from)) {
            p->suspected = true;
            p->suspect_at_ns = now_ns;
            p->unheeded_until_ns = now_ns + g->cfg.suspect_ns;
        }
        abandon_own(g);
        maybe_schedule(g, now_ns);
        return;
    }
    g->answered[i] = true;
    if (all_set(g->answered, g->proposal.count))
        commit(g, now_ns);
}

/* Place a COMMIT chunk's rows; true when the table is complete. */
static bool commit_rows(co_gms_t *g, const co_cut_chunk_t *c)
{
    co_cut_table_t *t = &g->commit_cuts;
    if (c->total > t->cap)
        return false;
    if (g->commit_total != c->total || g->commit_pid != c->proposal_id) {
        g->commit_pid = c->proposal_id;
        memset(t->rows, 0, t->cap * sizeof *t->rows);
        t->count = 0;
        g->commit_total = c->total;
    }
    for (size_t i = 0; i < c->count; i++) {
        co_cut_t r = co_cut_chunk_row(c, i);
        co_cut_t *slot = &t->rows[c->first + i];
        if (slot->id == 0) {
            *slot = r;
            t->count++;
        }
    }
    if (t->count < c->total)
        return false;
    for (size_t i = 1; i < t->count; i++) {
        if (co_cut_cmp(&t->rows[i - 1], &t->rows[i]) >= 0) {
            g->dropped++;
            g->commit_total = 0; /* start over from the next copy */
            return false;
        }
    }
    return true;
}

void co_gms_on_commit(co_gms_t *g, uint64_t now_ns, uint32_t from,
                      uint32_t from_inc, const co_cut_chunk_t *chunk)
{
    (void)now_ns;
    /* Only the COMMIT of the proposal answered, from the life of its
     * proposer that made it: a restarted proposer may reuse the id. */
    if (chunk->proposal_id != g->answered_id || from != g->answered_to ||
        self_id(g, from) ||
        co_view_proposer_inc(&g->answered_view) != from_inc)
        return;
    if (g->has_view && g->view.id == chunk->proposal_id) {
        emit(g, CO_GMS_ACT_INSTALLED, chunk->proposal_id, from); /* lost */
        return;
    }
    if (g->installing || !commit_rows(g, chunk))
        return;
    g->installing = true;
    emit(g, CO_GMS_ACT_INSTALL, chunk->proposal_id, 0);
}

void co_gms_on_installed(co_gms_t *g, uint64_t now_ns, uint32_t from,
                         uint64_t proposal_id)
{
    if (proposal_id != g->proposal_id || !g->committed)
        return;
    long i = proposal_index(g, from);
    if (i < 0)
        return;
    g->acked[i] = true;
    if (all_set(g->acked, g->proposal.count)) {
        g->proposal_id = 0; /* done: whatever waited for it may go now */
        maybe_schedule(g, now_ns);
    }
}

void co_gms_leave(co_gms_t *g, uint64_t now_ns)
{
    (void)now_ns;
    g->left = true;
    g->proposal_id = 0;
    g->propose_at_ns = 0;
}

void co_gms_installed(co_gms_t *g, uint64_t now_ns)
{
    COHORT_ASSERT(g->installing);
    co_view_t *next = &g->answered_view;
    COHORT_ASSERT(next->id == g->answered_id && next->id > my_view_id(g));
    COHORT_ASSERT(co_view_find(next, g->cfg.self_id,
                               g->cfg.self_incarnation) >= 0);
    co_view_copy(&g->prev, &g->view);
    if (!g->has_view)
        g->prev.count = 0;
    co_view_copy(&g->view, next);
    g->has_view = true;
    g->installing = false;
    g->answer_expires_ns = 0;
    g->commit_total = 0;
    g->installed_ns = now_ns;
    g->lag_check_at_ns = now_ns + g->cfg.flush_timeout_ns;
    /* A member never heard directly (named by a merge) starts with a
     * full timeout of trust. Every member of the view answered its
     * proposal, so a suspicion left by an earlier attempt it let time
     * out (unheeded) is over: kept, it would have this member, acting
     * coordinator as the others look suspected, leave them all out again
     * at once (a start-up race: the losing proposer alone in a view of
     * its own for a member timeout). */
    for (size_t i = 0; i < g->view.count; i++) {
        if (self_id(g, g->view.members[i].id))
            continue;
        co_gms_peer_t *p = peer_of_member(g, &g->view.members[i], now_ns);
        if (p && !p->leaving)
            heeded(p);
    }
    emit(g, CO_GMS_ACT_VIEW, g->view.id, 0);
    if (!self_id(g, g->answered_to))
        emit(g, CO_GMS_ACT_INSTALLED, g->view.id, g->answered_to);
    else
        co_gms_on_installed(g, now_ns, g->cfg.self_id, g->view.id);
    maybe_schedule(g, now_ns);
}

void co_gms_install_abandon(co_gms_t *g, uint64_t now_ns)
{
    COHORT_ASSERT(g->installing);
    g->installing = false;
    g->commit_total = 0;
    /* The COMMIT went out: the others may install that view, with this
     * member in it. Hearing them there later is no sign of exclusion,
     * even once the answer is forgotten (sim heavy 11746: the proposer,
     * its application not taking events, gave its own committed view up,
     * proposed again and abandoned that one, and was told EXCLUDED by the
     * view it had committed). They take it in again by a later view. */
    if (g->answered_id > g->abandoned_id)
        g->abandoned_id = g->answered_id;
    /* Bound to nothing: free to coordinate, and released after a flush
     * timeout if no one proposes meanwhile. */
    g->answer_expires_ns = now_ns + g->cfg.flush_timeout_ns;
    if (g->proposal_id != 0 && g->proposal_id == g->answered_id) {
        g->proposal_id = 0;   /* our own committed proposal: given up */
        g->committed = false;
    }
    maybe_schedule(g, now_ns);
}

co_gms_why_t co_gms_departed(const co_gms_t *g, uint32_t id,
                             uint32_t incarnation)
{
    for (size_t i = 0; i < g->peer_used; i++) {
        const co_gms_peer_t *p = &g->peers[i];
        if (p->in_use && p->id == id && p->incarnation == incarnation)
            return p->leaving ? CO_GMS_LEFT : CO_GMS_FAILED;
    }
    return CO_GMS_FAILED;
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */
/* ------------------------------------------------------------------ */

static void tick_suspicion(co_gms_t *g, uint64_t now_ns)
{
    for (size_t i = 0; i < g->view.count; i++) {
        const co_vmember_t *m = &g->view.members[i];
        if (self_id(g, m->id))
            continue;
        co_gms_peer_t *p = peer_of_member(g, m, now_ns);
        if (!p || p->leaving)
            continue;
        if (!p->suspected && now_ns >= p->heard_ns + g->cfg.suspect_ns) {
            p->suspected = true;
            p->suspect_at_ns = now_ns + g->cfg.verify_ns;
            p->probe_at_ns = now_ns;
        }
        if (p->suspected && p->probe_at_ns && now_ns >= p->probe_at_ns) {
            if (now_ns < p->suspect_at_ns) {
                emit(g, CO_GMS_ACT_PROBE, 0, p->id);
                uint64_t next = now_ns + g->cfg.verify_ns / 3 + 1;
                p->probe_at_ns = next < p->suspect_at_ns ? next
                                                         : p->suspect_at_ns;
            } else {
                p->probe_at_ns = 0; /* verified: maybe_schedule acts */
            }
        }
    }
}

static void tick_proposal(co_gms_t *g, uint64_t now_ns)
{
    if (g->proposal_id == 0)
        return;
    bool late = now_ns >= g->proposal_started_ns + g->cfg.flush_timeout_ns;
    if (!g->committed && late) {
        /* Leave out whoever did not answer; a new attempt follows. */
        for (size_t i = 0; i < g->proposal.count; i++) {
            const co_vmember_t *m = &g->proposal.members[i];
            if (g->answered[i] || self_id(g, m->id))
                continue;
            co_gms_peer_t *p = peer_of_member(g, m, now_ns);
            if (p) {
                p->suspected = true;
                p->suspect_at_ns = now_ns;
                p->unheeded_until_ns = now_ns + g->cfg.suspect_ns;
            }
        }
        abandon_own(g);
        return;
    }
    if (g->committed && now_ns >= g->proposal_started_ns +
                                      2 * g->cfg.flush_timeout_ns) {
        g->proposal_id = 0; /* non-ackers are taken in again later */
        return;
    }
    if (now_ns >= g->resend_at_ns) {
        emit(g, g->committed ? CO_GMS_ACT_COMMIT : CO_GMS_ACT_PREPARE,
             g->proposal_id, 0);
        g->resend_at_ns = now_ns + g->cfg.retry_ns;
    }
}

void co_gms_tick(co_gms_t *g, uint64_t now_ns)
{
    if (g->left)
        return;
    if (g->discovery_at_ns && now_ns >= g->discovery_at_ns)
        g->discovery_at_ns = 0;
    if (g->lag_check_at_ns && now_ns >= g->lag_check_at_ns)
        g->lag_check_at_ns = 0;
    if (g->answer_expires_ns && now_ns >= g->answer_expires_ns) {
        g->answer_expires_ns = 0;
        /* No COMMIT came for the answer in time (the proposer gave it up,
         * or it was committed and this member missed every copy): stop
         * waiting, back in the view it answered from. Safe for virtual
         * synchrony: that COMMIT is refused from now on (it no longer
         * matches answered_id), so this member never installs a view
         * whose cut it may have delivered past; if the others installed
         * it, they see this member lagging and take it in again. */
        if (!g->installing && g->answered_id > my_view_id(g) &&
            !self_id(g, g->answered_to)) {
            give_up_answer(g);
            g->answered_id = my_view_id(g);
        }
    }
    if (g->has_view)
        tick_suspicion(g, now_ns);
    tick_proposal(g, now_ns);
    maybe_schedule(g, now_ns);
    if (g->propose_at_ns && now_ns >= g->propose_at_ns) {
        /* Looked at again: what called for the change (a fresh member
         * heard before a PREPARE took it in, say) may be over. */
        if (acting_coordinator(g, now_ns) && g->proposal_id == 0 &&
            change_needed(g, now_ns))
            start_proposal(g, now_ns);
        else
            g->propose_at_ns = 0;
    }
}

static uint64_t earliest(uint64_t at, uint64_t t)
{
    return t != 0 && t < at ? t : at;
}

uint64_t co_gms_deadline(const co_gms_t *g)
{
    if (g->left)
        return UINT64_MAX;
    /* Only times that a tick moves on once passed, so a caller that
     * ticks at the deadline never spins. */
    uint64_t at = UINT64_MAX;
    at = earliest(at, g->discovery_at_ns);
    at = earliest(at, g->lag_check_at_ns);
    at = earliest(at, g->answer_expires_ns);
    at = earliest(at, g->propose_at_ns);
    if (g->proposal_id) {
        at = earliest(at, g->resend_at_ns);
        at = earliest(at, g->proposal_started_ns +
                              (g->committed ? 2 : 1) * g->cfg.flush_timeout_ns);
    }
    for (size_t i = 0; i < g->peer_used; i++) {
        const co_gms_peer_t *p = &g->peers[i];
        if (!p->in_use || !in_view(&g->view, p->id, p->incarnation))
            continue;
        if (!p->suspected && !p->leaving)
            at = earliest(at, p->heard_ns + g->cfg.suspect_ns);
        at = earliest(at, p->probe_at_ns);
    }
    return at;
}
