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

#include <string.h>

#include "co_assert.h"
#include "incarnation.h"

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

/* Unreliable messages carry no agreement: one of this view is delivered
 * in it even during a change (the view it names is still this one). */
bool co_vs_unreliable_ok(const co_core_t *core, const co_peer_t *peer,
                         uint64_t view_id)
{
    return peer->in_view && view_id != 0 && view_id == current_view(core);
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
    peer->foreign_from = 0;
    /* The store must stay contiguous: it starts again with the stream. */
    co_store_free(&peer->store);
    co_store_init(&peer->store, peer->id, peer->incarnation,
                  core->peers.store_bytes, core->mem);
    if (!warn || (lost == 0 && messages == 0))
        return;
    /* Ordered messages may be among them: the places of this member's
     * later TOTAL and SAFE deliveries in this view are its own. */
    co_total_diverged(core);
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
    core->vs_ending = false;
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
            p->nack_all = true;     /* every gap, of the holder now */
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
    /* The held sends are delivered here as the view is installed: their
     * events need room the application has to make first. */
    const co_evq_t *q = &core->evq;
    if (core->cfg.self_delivery &&
        q->count + core->held_messages > q->data_limit) {
        ((co_core_t *)(uintptr_t)core)->evq.stalled = true;
        return false;
    }
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

bool co_vs_end_old_view(co_core_t *core, uint64_t now_ns)
{
    if (!co_vs_flush_complete(core))
        return false;
    /* Set before the first delivery: the end may stop part way for room
     * in the event queue, and what went out of it already binds this
     * member to the install (sim heavy 9124: a member whose flush was
     * complete at the COMMIT gave half of the old view's end in the
     * fixed order, stopped for room, gave the install up at the
     * deadline, and later moved on with a member that held the
     * sequencer's order for those places). */
    core->vs_ending = true;
    return co_total_end_view(core, now_ns);
}

void co_vs_poll(co_core_t *core, uint64_t now_ns)
{
    /* Released without an install (a proposal given up): what was held
     * goes out in the view this member is still in. */
    if (!core->vs_flushing && core->tx_sent < core->tx.next &&
        !co_vs_holding(core))
        co_core_release_held(core, now_ns);
    if (!core->vs_flushing || core->left)
        return;
    /* Every sender is through its cut: the total order of the old view
     * is followed to its end (total.c), then the view goes. */
    if (co_vs_end_old_view(core, now_ns)) {
        co_membership_flush_done(core, now_ns);
        return;
    }
    /* An application that does not take its events holds the flush up
     * too: past the deadline the install is abandoned all the same, or a
     * member that stopped reading would stall every view change of the
     * group (the others install, and take it in again by a later one).
     * Not once the old view's end is going out: its fixed order (what
     * the sequencer never ordered, unconfirmed SAFE messages) is the one
     * the members installing with it give, not the one this view would
     * go on with (the simulator's heavy seed 156: a slow member gave
     * half of it, gave the install up, and moved on later beside the
     * sequencer, in another order). The others do not wait for it. */
    if (now_ns < core->vs_flush_deadline_ns || core->vs_ending)
        return;
    core->vs_flushing = false;
    for (size_t i = 0; i < core->peers.span; i++) {
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
/* Start peer's window over at seq, empty: only for a sender nothing was
 * delivered from since the window's start (not in the view). Out of
 * memory the window stays as it was. */
static void rewind_stream(co_core_t *core, co_peer_t *peer, uint64_t seq)
{
    co_rxwin_t fresh;
    if (co_rxwin_init(&fresh, core->cfg.recv_buffer_bytes, core->mem) != 0)
        return;
    co_rxwin_free(&peer->rx);
    peer->rx = fresh;
    co_rxwin_sync(&peer->rx, seq);
    co_reasm_reset(&peer->reasm);
    co_evq_reserve_follow(core, peer);
    peer->message_start = 0;
    peer->reported_through = seq - 1;
    peer->foreign_from = 0;
    co_store_free(&peer->store);
    co_store_init(&peer->store, peer->id, peer->incarnation,
                  core->peers.store_bytes, core->mem);
}

static void enter(co_core_t *core, co_peer_t *peer)
{
    bool was_in_view = peer->in_view;
    /* A message begun in the old view and not finished there is never
     * finished in it: its sender starts it over in the new view. */
    if (peer->in_view && peer->reasm.total != 0) {
        co_reasm_reset(&peer->reasm);
        co_evq_reserve_follow(core, peer);
        peer->message_start = 0;
    }
    if (!peer->in_view) {
        /* New to this member's view: it needs every record this member
         * sends from now on (the held ones first), whatever it reported
         * before. */
        peer->reports_us = false;
        peer->needs_from = core->tx_sent;
    }
    peer->in_view = true;
    peer->foreign_from = 0; /* passed over in the old view: not this one's */
    uint64_t start = view_start(core, peer->id, peer->incarnation);
    if (start == 0)
        return; /* unnamed: the trail places it, as before views */
    if (!co_rxwin_synced(&peer->rx))
        co_rxwin_sync(&peer->rx, start);
    else if (peer->rx.next < start)
        /* What lies between is what it sent in a view this member was
         * not in (or, from the old view, beyond its cut): never ours. */
        co_vs_restart_stream(core, peer, start, false);
    else if (peer->rx.next > start && !was_in_view)
        /* Its window followed its trail while it was not in our view,
         * past records that are ours now: nothing of it was delivered
         * here, so the window starts over at the view's start and the
         * records are asked for again. */
        rewind_stream(core, peer, start);
}

/* Peer was in the old view and is not in the new one: its old view ends
 * at the cut (its unfinished message, if any, with it), and nothing more
 * of it is delivered until a view takes it in again. */
static void depart(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    peer->in_view = false;
    co_reasm_reset(&peer->reasm);
    co_evq_reserve_follow(core, peer);
    peer->message_start = 0;
    /* A member still completing the old view may have been told (the
     * cut) that this one holds the records of peer it misses, and asks
     * after this install: the entry and its store stay until that flush
     * is over (vs_flush_ns), so the NACK finds them and FORWARD answers.
     * tick_peer forgets a peer out of the view member_timeout after it
     * was last heard; the time is moved, never earlier, to make that
     * the end of the others' flushes. Nothing held: nothing to keep. */
    uint64_t until = now_ns + core->vs_flush_ns;
    if (co_store_bytes(&peer->store) > 0 &&
        until > core->cfg.member_timeout_ns &&
        until - core->cfg.member_timeout_ns > peer->last_heard_ns)
        peer->last_heard_ns = until - core->cfg.member_timeout_ns;
}

/* A member of the view just installed that this member has never heard
 * from in that life (a merge named it, or its datagrams were all lost):
 * it gets its entry now, so that its stream has a start and its view's
 * messages can be fetched in the next flush. Its address is unknown until
 * it is heard, so repair requests for it go to the group. An entry of an
 * earlier life of the id, out of the view, gives way. NULL when the table
 * is full or memory ran out: it is then taken in when first heard. */
static co_peer_t *adopt(co_core_t *core, const co_vmember_t *m,
                        uint64_t now_ns)
{
    co_peers_t *ps = &core->peers;
    co_peer_t *p = co_peers_find(ps, m->id);
    if (p && p->incarnation == m->incarnation)
        return p;
    if (p && p->in_view)
        return NULL;
    if (p && co_incarnation_newer(p->incarnation, m->incarnation)) {
        /* A newer life, heard before this member installed the view that
         * names the older one (which crashed and restarted meanwhile):
         * the older one's messages of this view may still have to be
         * completed, so it takes the entry; the newer life is taken in
         * again from its next datagram once the older one is out (no
         * tomb, so nothing of it is refused then). */
        co_event_member(core, p, COHORT_EVENT_MEMBER_LEFT,
                        COHORT_LEFT_RESTARTED);
        core->stats.members_left++;
        co_reasm_reset(&p->reasm);
        co_evq_reserve_follow(core, p);
        co_peers_remove(ps, p);
        p = NULL;
    }
    if (p) {
        if (!p->said_leave) {
            co_event_member(core, p, COHORT_EVENT_MEMBER_LEFT,
                            COHORT_LEFT_RESTARTED);
            core->stats.members_left++;
        }
        co_reasm_reset(&p->reasm);
        co_evq_reserve_follow(core, p);
        co_peers_forget(ps, p, false);
    }
    co_tomb_t *tomb = co_peers_tomb(ps, m->id);
    if (tomb && co_incarnation_newer(tomb->incarnation, m->incarnation))
        return NULL;
    /* One that said LEAVE before this member installed the view naming it
     * (its LEAVE was reported then) still comes back in for the view's
     * messages to be completed, and goes again once it is out. */
    bool left = tomb && tomb->incarnation == m->incarnation && tomb->left;
    p = co_peers_add(ps, m->id, m->incarnation, core->cfg.recv_buffer_bytes);
    if (!p)
        return NULL;
    p->needs_from = core->tx_sent;
    p->last_heard_ns = now_ns;
    if (tomb && tomb->incarnation == m->incarnation) {
        memcpy(p->name, tomb->name, sizeof p->name);
        co_peers_revive(ps, p, tomb);
    } else if (tomb) {
        memset(tomb, 0, sizeof *tomb);
    }
    if (left) {
        p->said_leave = true;
        return p;
    }
    core->stats.members_joined++;
    co_event_member(core, p, COHORT_EVENT_MEMBER_JOINED, 0);
    return p;
}

void co_vs_installed(co_core_t *core, uint64_t now_ns)
{
    const co_view_t *v = co_gms_view(&core->gms);
    core->vs_flushing = false;
    core->vs_ending = false;
    for (size_t i = 0; i < core->peers.span; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use)
            continue;
        bool member = co_view_find(v, p->id, p->incarnation) >= 0;
        if (member)
            enter(core, p);
        else if (p->in_view)
            depart(core, p, now_ns);
        p->cut_limit = 0;
        p->cut_holder = 0;
    }
    for (size_t i = 0; i < v->count; i++) {
        const co_vmember_t *m = &v->members[i];
        if (m->id == core->cfg.member_id)
            continue;
        co_peer_t *p = adopt(core, m, now_ns);
        if (p && !p->in_view)
            enter(core, p);
    }
    co_total_installed(core);
    co_core_release_held(core, now_ns);
    co_state_installed(core, now_ns);
    co_rpc_installed(core, now_ns);
    for (size_t i = 0; i < core->peers.span; i++) {
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
    static const co_addr_t group = {.len = 0}; /* never heard: the group */
    if (peer->addr.len == 0)
        return &group;
    /* In a flush, the holder the cut names: it delivered the old view's
     * records through the cut in this member's old view, and keeps them.
     * The sender itself may have moved on through another view and let
     * them go (its stability counted that view's members). */
    if (!core->vs_flushing || peer->cut_holder == 0 ||
        peer->cut_holder == core->cfg.member_id)
        return &peer->addr;
    const co_peer_t *h = co_peers_find(&core->peers, peer->cut_holder);
    return h ? &h->addr : &peer->addr;
}
