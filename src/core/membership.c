/*
 * membership.c - the core's side of agreed views: membership datagrams in
 * and out, the gms state machine's actions carried out with the output
 * builders, FLUSH_OK vectors from the receive state, and installed views
 * reported as events (docs/membership.md).
 *
 * gms.c decides; this file only translates. It reads core state and calls
 * the output and event functions; gms.c never sees the core.
 *
 * The flush itself (what is delivered when, held sends, the install
 * once the old view is complete) is vsync.c's.
 */
#include "core_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "co_assert.h"

int co_membership_init(co_core_t *core, uint64_t now_ns)
{
    const co_core_config_t *c = &core->cfg;
    uint64_t verify = 3 * c->nack_retry_ns;
    if (verify < c->heartbeat_interval_ns)
        verify = c->heartbeat_interval_ns;
    uint64_t flush = 8 * c->nack_retry_ns;
    if (flush < 2 * c->heartbeat_interval_ns)
        flush = 2 * c->heartbeat_interval_ns;
    /* PREPARE and COMMIT are resent four times a NACK retry: a proposed
     * member must answer within the flush timeout, and a round (PREPARE
     * there, FLUSH_OK back) gets through with (1-p)^2 at loss p each
     * way. At eight rounds a live member at 40 % loss is left out of a
     * change, and excluded while alive, once in 36 (0.64^8); at 32 once
     * in a million. A resend is one multicast datagram (a few for a large
     * view) while some member has not answered. */
    uint64_t retry = c->nack_retry_ns / 4;
    uint64_t retry_floor = c->nack_retry_ns < CO_MS_NS ? c->nack_retry_ns
                                                       : CO_MS_NS;
    if (retry < retry_floor)
        retry = retry_floor;
    uint64_t batch = c->heartbeat_interval_ns / 20;
    if (batch > 5 * CO_MS_NS)
        batch = 5 * CO_MS_NS;
    co_gms_config_t g = {
        .mem = c->mem,
        .self_id = c->member_id,
        .self_incarnation = c->incarnation,
        .max_members = c->max_members,
        .expected_members = c->expected_members,
        .discovery_ns = 2 * c->heartbeat_interval_ns,
        .suspect_ns = c->member_timeout_ns,
        .verify_ns = verify,
        .batch_ns = batch,
        .retry_ns = retry,
        .flush_timeout_ns = flush,
        .datagram = c->max_datagram,
        /* Sixteen heartbeats: each goes with a PATH while one is
         * wanted (co_membership_path_wanted). */
        .path_wait_ns = 16 * c->heartbeat_interval_ns,
    };
    core->vs_flush_ns = 2 * flush;
    return co_gms_init(&core->gms, &g, now_ns) == 0 ? 0 : COHORT_ERR_NOMEM;
}

void co_membership_free(co_core_t *core)
{
    co_gms_free(&core->gms);
}

uint64_t co_membership_view_id(const co_core_t *core)
{
    return co_gms_has_view(&core->gms) ? co_gms_view(&core->gms)->id : 0;
}

bool co_membership_moved_on(const co_core_t *core, uint32_t id,
                            uint32_t incarnation)
{
    const co_gms_peer_t *p = co_gms_peer(&core->gms, id);
    return p && p->incarnation == incarnation &&
           p->view_id > co_membership_view_id(core);
}

/* ------------------------------------------------------------------ */
/* Out                                                                 */
/* ------------------------------------------------------------------ */

static void begin_to(co_core_t *core, co_builder_t *b, uint8_t type,
                     uint32_t to)
{
    const co_peer_t *p = to ? co_peers_find(&core->peers, to) : NULL;
    if (p && p->addr.len) /* else never heard: by the group */
        co_builder_begin(core, b, type, CO_DEST_UNICAST, &p->addr);
    else
        co_builder_begin(core, b, type, CO_DEST_GROUP, NULL);
}

static void send_view_chunks(co_core_t *core, const co_view_t *v,
                             uint64_t now_ns)
{
    size_t per = co_vchunk_fits(core->body_room);
    COHORT_ASSERT(per >= 1);
    for (size_t first = 0; first < v->count; first += per) {
        size_t count = v->count - first < per ? v->count - first : per;
        co_builder_t *b = &core->scratch;
        co_builder_begin(core, b, CO_TYPE_PREPARE, CO_DEST_GROUP, NULL);
        b->body_len = co_vchunk_encode(b->buf + CO_HEADER_BYTES, v, 0, first,
                                       count);
        co_builder_finish(core, b, now_ns);
    }
}

static void send_cut_chunks(co_core_t *core, uint64_t pid, uint64_t now_ns)
{
    const co_cut_table_t *t = co_gms_cuts(&core->gms);
    size_t per = co_cut_chunk_fits(core->body_room);
    COHORT_ASSERT(per >= 1);
    for (size_t first = 0; first < t->count; first += per) {
        size_t count = t->count - first < per ? t->count - first : per;
        co_builder_t *b = &core->scratch;
        co_builder_begin(core, b, CO_TYPE_COMMIT, CO_DEST_GROUP, NULL);
        b->body_len = co_cut_chunk_encode(b->buf + CO_HEADER_BYTES, pid, t,
                                          first, count);
        co_builder_finish(core, b, now_ns);
    }
}

/* What this member has of each sender of its view (itself: what it
 * sent), by id as the wire wants. */
static size_t my_vector(co_core_t *core, co_flush_entry_t *out)
{
    const co_gms_t *g = &core->gms;
    size_t n = 0;
    if (!co_gms_has_view(g)) {
        out[n++] = (co_flush_entry_t){core->cfg.member_id,
                                      core->cfg.incarnation,
                                      core->tx_sent - 1};
        return n;
    }
    const co_view_t *v = co_gms_view(g);
    for (size_t i = 0; i < v->count; i++) {
        const co_vmember_t *m = &v->members[i];
        uint64_t seq = 0;
        if (m->id == core->cfg.member_id) {
            seq = core->tx_sent - 1; /* what went out: held ones wait */
        } else {
            const co_peer_t *p = co_peers_find(&core->peers, m->id);
            if (p && p->incarnation == m->incarnation &&
                co_rxwin_synced(&p->rx))
                seq = p->rx.next - 1;
            /* Records passed over as another view's are not this view's
             * messages: counted, they would bind the others to fetch
             * what nobody kept (its sender, which never installed this
             * view, may be gone: sim heavy 3126, a flush retried for
             * ever). A sender's records name views in growing order, so
             * all of this view's lie before the first passed over. */
            if (p && p->foreign_from && p->foreign_from - 1 < seq)
                seq = p->foreign_from - 1;
        }
        out[n++] = (co_flush_entry_t){m->id, m->incarnation, seq};
    }
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && out[b - 1].id > out[b].id; b--) {
            co_flush_entry_t t = out[b];
            out[b] = out[b - 1];
            out[b - 1] = t;
        }
    return n;
}

static void answer(co_core_t *core, const co_gms_action_t *a,
                   uint64_t now_ns)
{
    /* What is bundled goes out first: from the answer on nothing more is
     * sent or delivered in this view beyond the vector. */
    co_core_flush_bundle(core, now_ns);
    co_flush_entry_t *e = core->flush_entries;
    size_t n = my_vector(core, e);
    const co_gms_t *g = &core->gms;
    uint64_t old = co_membership_view_id(core);
    uint32_t pinc = co_gms_has_view(g) ? co_view_proposer_inc(co_gms_view(g))
                                       : 0;
    if (a->to == core->cfg.member_id) {
        co_gms_on_flush_ok(&core->gms, now_ns, a->to, a->proposal_id, old,
                           pinc, e, n);
        return;
    }
    co_builder_t *b = &core->scratch;
    /* To the group, not to the proposer's address: that address is only
     * what the last datagram from it said, and a replayed one (from
     * anywhere) can point it elsewhere; a view change must not depend on
     * it. The others ignore an answer to a proposal not theirs. */
    begin_to(core, b, CO_TYPE_FLUSH_OK, 0);
    COHORT_ASSERT(co_flush_ok_size(n) <= core->body_room);
    b->body_len = co_flush_ok_encode(b->buf + CO_HEADER_BYTES, a->proposal_id,
                                     old, pinc, e, n);
    co_builder_finish(core, b, now_ns);
}

static void send_installed(co_core_t *core, const co_gms_action_t *a,
                           uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    begin_to(core, b, CO_TYPE_INSTALLED, 0); /* as FLUSH_OK: by the group */
    co_put64(b->buf + CO_HEADER_BYTES, a->proposal_id);
    b->body_len = 8;
    co_builder_finish(core, b, now_ns);
}

static void send_probe(co_core_t *core, uint32_t to, uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    begin_to(core, b, CO_TYPE_PROBE, to);
    co_builder_finish(core, b, now_ns);
}

/* Carry out what gms asked for. Installing may ask for more (the view
 * report, the INSTALLED answer): the loop takes those too. */
/* Told once a view: the others went on without this member. */
static void excluded(co_core_t *core, const co_gms_action_t *a)
{
    const co_gms_peer_t *p = co_gms_peer(&core->gms, a->to);
    COHORT_ASSERT(p != NULL);
    core->stats.exclusions_seen++;
    char text[160];
    snprintf(text, sizeof text,
             "member %" PRIu32 " is in view %016" PRIx64 ", which does "
             "not hold this member", a->to, a->proposal_id);
    co_event_warning(core, COHORT_ERR_EXCLUDED, text,
                     (cohort_member_t){p->id, p->incarnation}, 0);
}

/* A sender whose heartbeat names another max_datagram than ours: one of
 * us would drop the other's longest datagrams, so no view holds both. */
static void mismatch(co_core_t *core, const co_gms_action_t *a)
{
    const co_gms_peer_t *p = co_gms_peer(&core->gms, a->to);
    COHORT_ASSERT(p != NULL);
    core->stats.datagram_mismatches++;
    co_peer_t *peer = co_peers_find(&core->peers, a->to);
    if (peer && peer->incarnation == p->incarnation && !peer->in_view)
        peer->size_apart = true;
    const char *name = peer && peer->name[0] != '\0' ? peer->name : "?";
    char text[200]; /* the event keeps 119 bytes: the name comes last */
    snprintf(text, sizeof text,
             "kept in separate views: max_datagram %" PRIu32 " at member %"
             PRIu32 ", %zu here (%s)",
             p->datagram, a->to, core->cfg.max_datagram, name);
    co_event_warning(core, COHORT_ERR_TOOBIG, text,
                     (cohort_member_t){p->id, p->incarnation}, 0);
}

/* A sender of our size, outside our view, whose PATHs never arrive: the
 * path between drops datagrams that long (an MTU lower on the way than
 * at either end), so it is not taken in. */
static void narrow(co_core_t *core, const co_gms_action_t *a)
{
    const co_gms_peer_t *p = co_gms_peer(&core->gms, a->to);
    COHORT_ASSERT(p != NULL);
    const co_peer_t *peer = co_peers_find(&core->peers, a->to);
    /* It sends no PATH because it hears no one, and it was told why
     * (warn_deaf in core.c): apart, but not for the path's sake. */
    if (peer && peer->no_aes && co_crypto_pinned_aes(&core->crypto))
        return;
    core->stats.narrow_paths++;
    const char *name = peer && peer->name[0] != '\0' ? peer->name : "?";
    char text[200]; /* the event keeps 119 bytes: the name comes last */
    snprintf(text, sizeof text,
             "datagrams of %zu bytes from member %" PRIu32
             " do not arrive: kept apart (set max_datagram?) (%s)",
             core->cfg.max_datagram, a->to, name);
    co_event_warning(core, COHORT_ERR_TOOBIG, text,
                     (cohort_member_t){p->id, p->incarnation}, 0);
}

static void run_actions(co_core_t *core, uint64_t now_ns)
{
    co_gms_action_t a;
    while (co_gms_next_action(&core->gms, &a)) {
        switch (a.kind) {
        case CO_GMS_ACT_PREPARE:
            send_view_chunks(core, co_gms_proposal(&core->gms), now_ns);
            break;
        case CO_GMS_ACT_FLUSH_OK:
            answer(core, &a, now_ns);
            break;
        case CO_GMS_ACT_COMMIT:
            send_cut_chunks(core, a.proposal_id, now_ns);
            break;
        case CO_GMS_ACT_INSTALL:
            co_vs_flush_begin(core, now_ns);
            if (co_vs_end_old_view(core, now_ns))
                co_gms_installed(&core->gms, now_ns);
            break;
        case CO_GMS_ACT_INSTALLED:
            send_installed(core, &a, now_ns);
            break;
        case CO_GMS_ACT_PROBE:
            send_probe(core, a.to, now_ns);
            break;
        case CO_GMS_ACT_VIEW:
            co_event_view(core);
            co_vs_installed(core, now_ns);
            break;
        case CO_GMS_ACT_EXCLUDED:
            excluded(core, &a);
            break;
        case CO_GMS_ACT_MISMATCH:
            mismatch(core, &a);
            break;
        case CO_GMS_ACT_NARROW:
            narrow(core, &a);
            break;
        default:
            COHORT_ASSERT(false);
        }
    }
}

/* ------------------------------------------------------------------ */
/* In                                                                  */
/* ------------------------------------------------------------------ */

int co_membership_decode(const co_header_t *h, const uint8_t *body,
                         co_mbody_t *out)
{
    switch (h->type) {
    case CO_TYPE_PREPARE:
        return co_vchunk_decode(body, h->body_len, &out->vchunk);
    case CO_TYPE_FLUSH_OK:
        return co_flush_ok_decode(body, h->body_len, &out->flush);
    case CO_TYPE_COMMIT:
        return co_cut_chunk_decode(body, h->body_len, &out->cut);
    case CO_TYPE_INSTALLED:
        out->pid = co_get64(body); /* the header checked the length */
        return co_view_counter(out->pid) != 0 ? 0
                                              : CO_DROP(COHORT_DROP_BAD_FIELD);
    case CO_TYPE_PROBE:
        return 0;
    case CO_TYPE_PATH:
        return co_path_decode(h, body, &out->path);
    default:
        return CO_DROP(COHORT_DROP_BAD_TYPE);
    }
}

bool co_membership_path_wanted(const co_core_t *core, uint64_t now_ns)
{
    return co_gms_path_wanted(&core->gms, now_ns);
}

void co_membership_heard(co_core_t *core, const co_header_t *h,
                         size_t datagram, uint64_t now_ns)
{
    co_gms_heard(&core->gms, now_ns, h->sender_id, h->incarnation,
                 h->view_id);
    if (datagram != 0)
        co_gms_heard_datagram(&core->gms, now_ns, h->sender_id,
                              h->incarnation, datagram);
    run_actions(core, now_ns);
}

void co_membership_recv(co_core_t *core, const co_header_t *h,
                        const co_mbody_t *b, uint64_t now_ns)
{
    co_gms_t *g = &core->gms;
    co_flush_entry_t *e = core->flush_entries;
    switch (h->type) {
    case CO_TYPE_PREPARE:
        co_gms_on_prepare(g, now_ns, h->sender_id, h->incarnation,
                          &b->vchunk);
        break;
    case CO_TYPE_FLUSH_OK:
        /* The decoder bounds count by the datagram; the gms table by
         * max_members: more entries than members is malformed here. */
        if (b->flush.count > core->cfg.max_members) {
            co_count_drop(core, COHORT_DROP_BAD_FIELD);
            return;
        }
        for (size_t i = 0; i < b->flush.count; i++)
            e[i] = co_flush_ok_entry(&b->flush, i);
        co_gms_on_flush_ok(g, now_ns, h->sender_id, b->flush.proposal_id,
                           b->flush.old_view_id, b->flush.old_proposer_inc, e,
                           b->flush.count);
        break;
    case CO_TYPE_COMMIT:
        co_gms_on_commit(g, now_ns, h->sender_id, h->incarnation, &b->cut);
        break;
    case CO_TYPE_INSTALLED:
        co_gms_on_installed(g, now_ns, h->sender_id, b->pid);
        break;
    case CO_TYPE_PROBE:
        core->heartbeat_at_ns = now_ns; /* answer with a heartbeat now */
        break;
    case CO_TYPE_PATH:
        co_gms_heard_path(g, now_ns, h->sender_id, h->incarnation);
        break;
    default:
        COHORT_ASSERT(false);
    }
    run_actions(core, now_ns);
}

void co_membership_left(co_core_t *core, const co_header_t *h,
                        uint64_t now_ns)
{
    co_gms_on_leave(&core->gms, now_ns, h->sender_id, h->incarnation);
    run_actions(core, now_ns);
}

void co_membership_flush_done(co_core_t *core, uint64_t now_ns)
{
    co_gms_installed(&core->gms, now_ns);
    run_actions(core, now_ns);
}

void co_membership_flush_abandon(co_core_t *core, uint64_t now_ns)
{
    co_gms_install_abandon(&core->gms, now_ns);
    run_actions(core, now_ns);
}

bool co_core_committing(const co_core_t *core, uint64_t *until_ns)
{
    return co_gms_committing(&core->gms, until_ns);
}

void co_membership_leave(co_core_t *core, uint64_t now_ns)
{
    co_gms_leave(&core->gms, now_ns);
}

void co_membership_tick(co_core_t *core, uint64_t now_ns)
{
    co_gms_tick(&core->gms, now_ns);
    run_actions(core, now_ns);
}

uint64_t co_membership_deadline(const co_core_t *core)
{
    return co_gms_deadline(&core->gms);
}

size_t co_core_view(const co_core_t *core, uint64_t *view_id,
                    cohort_member_t *out, size_t max)
{
    const co_gms_t *g = &core->gms;
    if (view_id)
        *view_id = co_membership_view_id(core);
    if (!co_gms_has_view(g))
        return 0;
    const co_view_t *v = co_gms_view(g);
    for (size_t i = 0; i < v->count && i < max; i++)
        out[i] = (cohort_member_t){v->members[i].id,
                                   v->members[i].incarnation};
    return v->count;
}
