/*
 * vsync.c - virtual synchrony in the core: which records may be
 * delivered, when sends go out, and how a view change completes the old
 * view before the new one is installed (docs/membership.md, "One
 * mechanism ...", and docs/guarantees.md).
 *
 * The rules, and why each is needed:
 *
 *  - A record is delivered only in the view it was sent in: the sender
 *    tags every record with its view when it first goes out, and every
 *    datagram that carries it again (a repair, a forward) names that
 *    view. A receiver delivers a sender's records only while the sender
 *    is a member of its installed view and the record's view is that
 *    view. So a member cut off from a view change never delivers what the
 *    others sent in the view that left it out.
 *  - From its FLUSH_OK answer to the COMMIT a member delivers nothing and
 *    sends nothing: its answer says what it delivered, and the cut is the
 *    largest answer per sender, so it can only fall short of the cut,
 *    never go past it.
 *  - Given the COMMIT, it delivers each old-view sender through the cut,
 *    fetching what it misses from the sender (if it is in the new view)
 *    or else from the member the cut names as holding it all (FORWARD
 *    from that member's store). Then it installs: departed senders'
 *    records beyond the cut are dropped (no survivor delivered them),
 *    each member's stream in the new view starts just after its last
 *    record in its own old view, and the held sends go out, tagged with
 *    the new view.
 *  - If the flush cannot complete within vs_flush_ns while the network,
 *    not the application, holds it up, the install is abandoned (gms.h):
 *    this member stays in its old view and joins the next change with
 *    what it has by then. Nothing it delivered is undone.
 *
 * Calls down only: gms state is read, never driven, except through the
 * membership glue; delivery goes through events.c.
 */
#include "core_internal.h"

#include <inttypes.h>
#include <stdio.h>

#include "co_assert.h"

static uint64_t current_view(const co_core_t *core)
{
    return co_membership_view_id(core);
}

bool co_vs_holding(const co_core_t *core)
{
    return co_gms_blocked(&core->gms);
}

bool co_vs_deliverable(const co_core_t *core, const co_peer_t *peer,
                       uint64_t seq, uint64_t view_id)
{
    if (!peer->in_view || view_id == 0 || view_id != current_view(core))
        return false;
    if (core->vs_flushing)
        return seq <= peer->cut_limit;
    return !co_gms_blocked(&core->gms);
}

bool co_vs_unreliable_ok(const co_core_t *core, const co_peer_t *peer,
                         uint64_t view_id)
{
    return peer->in_view && view_id != 0 && view_id == current_view(core) &&
           !co_gms_blocked(&core->gms);
}

/* The peer entry of view member m in that life, or NULL. */
static co_peer_t *member_peer(co_core_t *core, const co_vmember_t *m)
{
    if (m->id == core->cfg.member_id)
        return NULL;
    co_peer_t *p = co_peers_find(&core->peers, m->id);
    return p && p->incarnation == m->incarnation ? p : NULL;
}

void co_vs_restart_stream(co_core_t *core, co_peer_t *peer, uint64_t seq,
                          bool warn)
{
    COHORT_ASSERT(co_rxwin_synced(&peer->rx) && seq > peer->rx.next);
    uint64_t messages = co_rxwin_lost_messages(&peer->rx, seq,
                                               peer->reasm.total != 0);
    uint64_t lost = co_rxwin_skip_to(&peer->rx, seq);
    co_reasm_reset(&peer->reasm);
    co_evq_reserve_follow(core, peer);
    peer->message_start = 0;
    /* The store must stay contiguous: it starts again with the stream. */
    co_store_free(&peer->store);
    co_store_init(&peer->store, peer->id, peer->incarnation,
                  core->peers.store_bytes, core->mem);
    if (!warn || (lost == 0 && messages == 0))
        return;
    core->stats.messages_lost += messages;
    char text[120];
    snprintf(text, sizeof text,
             "member %" PRIu32 " no longer holds %" PRIu64 " messages this "
             "member missed (cut off longer than the timeout)",
             peer->id, messages);
    co_event_warning(core, COHORT_ERR_LOST, text,
                     (cohort_member_t){peer->id, peer->incarnation},
                     messages);
}

void co_vs_flush_begin(co_core_t *core, uint64_t now_ns)
{
    const co_gms_t *g = &core->gms;
    COHORT_ASSERT(co_gms_installing(g) && !core->vs_flushing);
    core->vs_flushing = true;
    core->vs_flush_deadline_ns = now_ns + core->vs_flush_ns;
    if (!co_gms_has_view(g))
        return; /* a fresh member: no old view to complete */
    const co_view_t *old = co_gms_view(g);
    uint32_t pinc = co_view_proposer_inc(old);
    const co_cut_table_t *t = co_gms_commit_cuts(g);
    for (size_t i = 0; i < old->count; i++) {
        const co_vmember_t *m = &old->members[i];
        co_peer_t *p = member_peer(core, m);
        if (!p)
            continue;
        bool synced = co_rxwin_synced(&p->rx);
        uint64_t have = synced ? p->rx.next - 1 : 0;
        const co_cut_t *row =
            co_cut_table_find(t, old->id, pinc, m->id, m->incarnation);
        /* Never heard in this life: nothing of it can be fetched here. */
        p->cut_limit = row && synced ? row->seq : have;
        p->cut_holder = row ? row->holder_id : 0;
        if (p->cut_limit > have) {
            co_rxwin_saw(&p->rx, p->cut_limit);
            p->gap_grew = true;
            p->nack_at_ns = now_ns; /* ask at the next tick */
        }
    }
    for (size_t i = 0; i < old->count; i++) {
        co_peer_t *p = member_peer(core, &old->members[i]);
        if (p)
            co_deliver_ready(core, p, now_ns);
    }
}

bool co_vs_flush_complete(const co_core_t *core)
{
    const co_gms_t *g = &core->gms;
    if (!core->vs_flushing || !co_gms_has_view(g))
        return core->vs_flushing;
    const co_view_t *old = co_gms_view(g);
    for (size_t i = 0; i < old->count; i++) {
        co_peer_t *p = member_peer((co_core_t *)(uintptr_t)core,
                                   &old->members[i]);
        if (p && co_rxwin_synced(&p->rx) && p->rx.next - 1 < p->cut_limit)
            return false;
    }
    return true;
}

void co_vs_poll(co_core_t *core, uint64_t now_ns)
{
    if (!core->vs_flushing || core->left)
        return;
    if (co_vs_flush_complete(core)) {
        co_membership_flush_done(core, now_ns);
        return;
    }
    /* Waiting for the application to take events is not being stuck. */
    if (core->evq.stalled) {
        core->vs_flush_deadline_ns = now_ns + core->vs_flush_ns;
        return;
    }
    if (now_ns < core->vs_flush_deadline_ns)
        return;
    core->vs_flushing = false;
    for (size_t i = 0; i < core->peers.cap; i++) {
        core->peers.slots[i].cut_limit = 0;
        core->peers.slots[i].cut_holder = 0;
    }
    core->stats.flushes_abandoned++;
    co_membership_flush_abandon(core, now_ns);
}

/* Where member (id, incarnation)'s stream starts in the view just
 * installed: after its last record in its own old view, which is the
 * largest cut any old view has for it (its own answer reported all it
 * sent). 0 when the COMMIT does not name it. */
static uint64_t view_start(const co_core_t *core, uint32_t id, uint32_t inc)
{
    const co_cut_table_t *t = co_gms_commit_cuts(&core->gms);
    uint64_t start = 0;
    for (size_t i = 0; i < t->count; i++) {
        const co_cut_t *r = &t->rows[i];
        if (r->id == id && r->incarnation == inc && r->seq + 1 > start)
            start = r->seq + 1;
    }
    return start;
}

/* Peer is a member of the view just installed: start its stream there. */
static void enter(co_core_t *core, co_peer_t *peer)
{
    peer->in_view = true;
    uint64_t start = view_start(core, peer->id, peer->incarnation);
    if (start == 0)
        return; /* unnamed: the trail places it, as before views */
    if (!co_rxwin_synced(&peer->rx))
        co_rxwin_sync(&peer->rx, start);
    else if (peer->rx.next < start)
        /* What lies between is what it sent in a view this member was
         * not in (or, from the old view, beyond its cut): never ours. */
        co_vs_restart_stream(core, peer, start, false);
}

/* Peer was in the old view and is not in the new one: its old view ends
 * at the cut (its unfinished message, if any, with it), and nothing more
 * of it is delivered until a view takes it in again. */
static void depart(co_core_t *core, co_peer_t *peer)
{
    peer->in_view = false;
    co_reasm_reset(&peer->reasm);
    co_evq_reserve_follow(core, peer);
    peer->message_start = 0;
    co_store_release_through(&peer->store, UINT64_MAX);
}

void co_vs_installed(co_core_t *core, uint64_t now_ns)
{
    const co_view_t *v = co_gms_view(&core->gms);
    core->vs_flushing = false;
    for (size_t i = 0; i < core->peers.cap; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use)
            continue;
        bool member = co_view_find(v, p->id, p->incarnation) >= 0;
        if (member)
            enter(core, p);
        else if (p->in_view)
            depart(core, p);
        p->cut_limit = 0;
        p->cut_holder = 0;
    }
    co_core_release_held(core, now_ns);
    for (size_t i = 0; i < core->peers.cap; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (p->in_use && p->in_view)
            co_deliver_ready(core, p, now_ns);
    }
}

void co_vs_admitted(co_core_t *core, co_peer_t *peer)
{
    const co_gms_t *g = &core->gms;
    if (co_gms_has_view(g) &&
        co_view_find(co_gms_view(g), peer->id, peer->incarnation) >= 0)
        enter(core, peer);
}

const co_addr_t *co_vs_nack_dest(co_core_t *core, const co_peer_t *peer)
{
    if (!core->vs_flushing || peer->cut_holder == 0 ||
        peer->cut_holder == core->cfg.member_id ||
        co_view_find(co_gms_answered(&core->gms), peer->id,
                     peer->incarnation) >= 0)
        return &peer->addr;
    const co_peer_t *h = co_peers_find(&core->peers, peer->cut_holder);
    return h ? &h->addr : &peer->addr;
}
