/*
 * total.c - TOTAL and SAFE delivery through the sequencer's order list
 * (total.h has the design).
 */
#include "total.h"

#include <string.h>

#include "co_assert.h"
#include "core_internal.h"

/* List entries: enough for every member's run in several ORDER records
 * between two deliveries; merged when the same member comes twice. */
/* Entries in one ORDER record at most; the sequencer's list keeps room
 * for one more record. */
#define ORDER_BATCH CO_ORDER_ENTRIES_MAX

static size_t list_cap(const co_core_t *core)
{
    size_t n = 16 * core->cfg.max_members;
    return n < 1024 ? 1024 : n;
}

int co_total_init(co_core_t *core)
{
    co_total_t *t = &core->total;
    memset(t, 0, sizeof *t);
    t->cap = list_cap(core);
    t->members_cap = core->cfg.max_members;
    /* A receiver takes a TOTAL message into its hold (and acknowledges
     * it) before the sequencer's ORDER for it comes, one hop later; a hold
     * as small as the sender's window stalled the stream for that hop at
     * high rates (60 KiB datagrams: TOTAL 0.58x FIFO). Bounded as the
     * receive window is, per sender. */
    t->hold_max = core->cfg.recv_buffer_bytes;
    t->list = co_calloc(core->mem, t->cap, sizeof *t->list);
    t->members = co_calloc(core->mem, t->members_cap, sizeof *t->members);
    return t->list && t->members ? 0 : -1;
}

void co_total_free(co_core_t *core)
{
    co_total_t *t = &core->total;
    if (!core->mem)
        return;
    co_hold_free(&t->self_hold, core->mem);
    co_free(core->mem, t->list);
    co_free(core->mem, t->members);
    t->list = NULL;
    t->members = NULL;
}

static const co_vmember_t *sequencer(const co_core_t *core)
{
    const co_gms_t *g = &core->gms;
    if (!co_gms_has_view(g) || co_gms_view(g)->count == 0)
        return NULL;
    return &co_gms_view(g)->members[0];
}

bool co_total_is_sequencer(const co_core_t *core)
{
    const co_vmember_t *s = sequencer(core);
    return s && s->id == core->cfg.member_id &&
           s->incarnation == core->cfg.incarnation;
}

static bool is_sequencer_peer(const co_core_t *core, const co_peer_t *peer)
{
    const co_vmember_t *s = sequencer(core);
    return s && s->id == peer->id && s->incarnation == peer->incarnation;
}

/* Append (id, inc, through) to the list, merged into the last entry when
 * it names the same member with the same carrier: the sequencer's own
 * messages (carrier 0, each ordered by its own place), or one ORDER
 * record's. Never across two records: a SAFE message waits until every
 * member holds the record that ordered it, and a merge would move that
 * to the later one, again and again while the member streams (SAFE
 * messages then waited hundreds of ms, until the stream paused). False
 * when the list is full. */
static bool list_add(co_total_t *t, uint32_t id, uint32_t inc,
                     uint64_t through, uint64_t carrier)
{
    if (t->count > 0) {
        co_order_slot_t *last = &t->list[(t->head + t->count - 1) % t->cap];
        if (last->id == id && last->incarnation == inc &&
            last->carrier == carrier) {
            if (through > last->through)
                last->through = through;
            return true;
        }
    }
    if (t->count == t->cap)
        return false;
    t->list[(t->head + t->count) % t->cap] =
        (co_order_slot_t){id, inc, through, carrier};
    t->count++;
    return true;
}

static void t_list_clear(co_total_t *t)
{
    t->head = t->count = 0;
}

static void list_pop(co_total_t *t)
{
    COHORT_ASSERT(t->count > 0);
    t->head = (t->head + 1) % t->cap;
    t->count--;
}

bool co_total_room(co_core_t *core, co_peer_t *peer, uint8_t flags,
                   uint32_t total_len, size_t len)
{
    co_total_t *t = &core->total;
    uint8_t cls = co_record_class(flags);
    bool ok;
    if (cls == CO_CLASS_ORDER) {
        /* One ORDER record adds at most its entries (merging aside);
         * the decoder refuses more than CO_ORDER_ENTRIES_MAX. */
        ok = t->count + CO_ORDER_ENTRIES_MAX <= t->cap;
    } else if (cls == CO_CLASS_FIFO && co_hold_empty(&peer->hold)) {
        if (co_evq_has_room(&core->evq, co_evq_need(flags, total_len, len)))
            return true;
        core->evq.stalled = true;
        return false;
    } else if (core->vs_flushing && peer->rx.next <= peer->cut_limit) {
        /* Through the cut every record must come in or the flush never
         * ends: no ORDER comes for the held ones in this view any more
         * (the sequencer is in the change too), and co_total_end_view
         * orders them only once every sender is through its cut. They
         * are held already, in the receive window, whose bound holds. */
        ok = true;
    } else {
        ok = co_hold_fits(&peer->hold, 0, t->hold_max);
        /* The sequencer's own ordered messages are entries too. */
        if (ok && co_class_ordered(cls) && (flags & CO_REC_LAST) &&
            is_sequencer_peer(core, peer))
            ok = t->count < t->cap;
    }
    if (!ok)
        t->stalled = true;
    return ok;
}

static cohort_mode_t mode_of(uint8_t cls)
{
    switch (co_record_class(cls)) {
    case CO_CLASS_TOTAL: return COHORT_TOTAL;
    case CO_CLASS_SAFE: return COHORT_SAFE;
    default: return COHORT_FIFO;
    }
}

/* A FIFO message out of its sender's stream: a request to the group
 * (CO_REC_REQUEST) goes to rpc.c, the rest to the application. */
static void give(co_core_t *core, cohort_member_t who, const char *name,
                 uint8_t cls, uint8_t *data, size_t len)
{
    if (cls & CO_REC_REQUEST)
        co_rpc_delivered(core, who, mode_of(cls), data, len);
    else
        co_event_ordered(core, who, name, COHORT_FIFO, data, len, 0, 0);
}

/* A message that cannot be held (out of memory) is lost here; the count
 * and a warning say so. Not reached: every caller allocates the node
 * before the message leaves its stream (co_total_holds,
 * co_total_own_holds); kept so that a caller that did not loses one
 * message, counted, rather than corrupting the hold. */
static void lost_one(co_core_t *core, uint32_t id, uint32_t inc,
                     uint8_t *data)
{
    co_free(core->mem, data);
    core->stats.messages_lost++;
    co_event_warning(core, COHORT_ERR_LOST,
                     "out of memory holding a message for the total order",
                     (cohort_member_t){id, inc}, 1);
}

/* A message of class cls waits in hold h (a FIFO one only behind
 * others), rather than going straight to the event queue. */
static bool goes_to_hold(const co_hold_t *h, uint8_t cls)
{
    return co_record_class(cls) != CO_CLASS_FIFO || !co_hold_empty(h);
}

bool co_total_holds(const co_peer_t *peer, uint8_t cls)
{
    return goes_to_hold(&peer->hold, cls);
}

/* Into hold, in the place reserved for it (reserved) or one found now. */
static void hold_put(co_core_t *core, co_hold_t *hold, bool reserved,
                     uint32_t id, uint32_t inc, uint64_t seq, uint8_t cls,
                     uint8_t *data, size_t len)
{
    if (!co_hold_put(hold, core->mem, reserved, seq, cls, data, len)) {
        lost_one(core, id, inc, data);
        return;
    }
    core->total.held++;
    if (co_record_class(cls) == CO_CLASS_FIFO)
        core->total.held_fifo++;
}

void co_total_take(co_core_t *core, co_peer_t *peer, uint64_t seq,
                   uint8_t cls, uint8_t *data, size_t len, bool reserved)
{
    co_total_t *t = &core->total;
    if (!co_total_holds(peer, cls)) {
        if (reserved)
            co_hold_unreserve(&peer->hold);
        give(core, (cohort_member_t){peer->id, peer->incarnation}, peer->name,
             cls, data, len);
        return;
    }
    if (co_class_ordered(cls)) {
        peer->total_taken = seq;
        if (co_record_class(cls) == CO_CLASS_SAFE)
            t->safe_seen = true;
        /* The sequencer's own messages are ordered where they stand in
         * its stream. */
        if (is_sequencer_peer(core, peer) &&
            !list_add(t, peer->id, peer->incarnation, seq, 0))
            t->stalled = true; /* co_total_room keeps this from happening */
    }
    hold_put(core, &peer->hold, reserved, peer->id, peer->incarnation, seq,
             cls, data, len);
}

void co_total_order_record(co_core_t *core, const co_peer_t *peer,
                           uint64_t seq, const uint8_t *data, size_t len)
{
    size_t n;
    if (!is_sequencer_peer(core, peer) || co_order_decode(data, len, &n)) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        co_order_entry_t e = co_order_entry_at(data, i);
        if (!list_add(&core->total, e.member_id, e.incarnation, e.through,
                      seq))
            core->total.stalled = true;
    }
}

bool co_total_own_holds(const co_core_t *core, uint8_t cls)
{
    /* A FIFO message goes to the hold when the hold is not empty as it
     * goes out: it is not empty now, or messages sent before it have not
     * gone out yet (held for the next view), and may be held then. */
    return core->cfg.self_delivery &&
           (goes_to_hold(&core->total.self_hold, cls) ||
            core->held_messages > 0);
}

void co_total_own(co_core_t *core, uint64_t seq, uint8_t cls, uint8_t *data,
                  size_t len, bool reserved)
{
    co_total_t *t = &core->total;
    uint32_t id = core->cfg.member_id, inc = core->cfg.incarnation;
    if (cls == CO_CLASS_ORDER) { /* this member is the sequencer */
        size_t n;
        if (co_order_decode(data, len, &n) == 0)
            for (size_t i = 0; i < n; i++) {
                co_order_entry_t e = co_order_entry_at(data, i);
                (void)list_add(t, e.member_id, e.incarnation, e.through, seq);
            }
        return;
    }
    if (co_class_ordered(cls)) {
        if (co_record_class(cls) == CO_CLASS_SAFE)
            t->safe_seen = true;
        if (co_total_is_sequencer(core))
            (void)list_add(t, id, inc, seq, 0);
    }
    if (!core->cfg.self_delivery) {
        if (reserved)
            co_hold_unreserve(&t->self_hold);
        return;
    }
    if (!goes_to_hold(&t->self_hold, cls)) {
        if (reserved)
            co_hold_unreserve(&t->self_hold);
        give(core, co_core_self(core), core->cfg.name, cls, data, len);
        return;
    }
    hold_put(core, &t->self_hold, reserved, id, inc, seq, cls, data, len);
}

bool co_total_own_room(const co_core_t *core, size_t len)
{
    const co_total_t *t = &core->total;
    /* The sequencer's own ordered messages are entries of its list, which
     * must take every entry its stream gives (it reads its own stream). */
    if (co_total_is_sequencer(core) && t->count + ORDER_BATCH + 1 >= t->cap)
        return false;
    return !core->cfg.self_delivery ||
           co_hold_fits(&t->self_hold, len, t->hold_max);
}

void co_total_sequence(co_core_t *core, uint64_t now_ns)
{
    co_total_t *t = &core->total;
    if (!co_total_is_sequencer(core) || co_vs_holding(core) || core->left ||
        t->count + ORDER_BATCH + 1 >= t->cap)
        return;
    size_t max = (core->record_room - CO_ORDER_FIXED_BYTES) /
                 CO_ORDER_ENTRY_BYTES;
    if (max > ORDER_BATCH)
        max = ORDER_BATCH;
    co_order_entry_t entries[ORDER_BATCH];
    co_peer_t *named[ORDER_BATCH];
    size_t n = 0;
    for (size_t i = 0; i < core->peers.span && n < max; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (p->in_use && p->in_view && p->total_taken > p->total_ordered) {
            named[n] = p;
            entries[n++] = (co_order_entry_t){p->id, p->incarnation,
                                              p->total_taken};
        }
    }
    if (n == 0)
        return;
    uint8_t buf[CO_ORDER_FIXED_BYTES + ORDER_BATCH * CO_ORDER_ENTRY_BYTES];
    size_t len = co_order_encode(buf, entries, n);
    if (co_core_push_order(core, now_ns, buf, len) != 0)
        return; /* no room in the window: the next call tries again */
    core->stats.order_records_sent++;
    for (size_t i = 0; i < n; i++)
        named[i]->total_ordered = entries[i].through;
}

/* The hold of member (id, inc) and its peer entry (NULL for this
 * member); NULL when it is not known in that life. */
static co_hold_t *hold_of(co_core_t *core, uint32_t id, uint32_t inc,
                          co_peer_t **peer)
{
    *peer = NULL;
    if (id == core->cfg.member_id)
        return inc == core->cfg.incarnation ? &core->total.self_hold : NULL;
    co_peer_t *p = co_peers_find(&core->peers, id);
    if (!p || p->incarnation != inc)
        return NULL;
    *peer = p;
    return &p->hold;
}

/* Give the head of h (peer's, or this member's when NULL) to the event
 * queue. False when the queue has no room (noted: retried as events are
 * taken). */
static bool deliver_head(co_core_t *core, co_hold_t *h, co_peer_t *peer,
                         uint32_t flags, uint64_t now_ns)
{
    co_total_t *t = &core->total;
    if (!co_evq_has_room(&core->evq, co_hold_head(h)->len)) {
        core->evq.stalled = true;
        return false;
    }
    uint8_t cls = co_hold_head(h)->cls;
    uint8_t *data;
    size_t len;
    co_hold_pop(h, &data, &len);
    if (t->held > 0)
        t->held--;
    if (co_record_class(cls) == CO_CLASS_FIFO && t->held_fifo > 0)
        t->held_fifo--;
    if (cls & CO_REC_CONTROL) {
        /* The library's own record at its place in the order (a
         * state-transfer request): read here, never given out. */
        co_state_ordered(core, peer, data, len, now_ns);
        t->delivered++;
        return true;
    }
    cohort_member_t who = peer ? (cohort_member_t){peer->id, peer->incarnation}
                               : co_core_self(core);
    if (cls & CO_REC_REQUEST) {
        /* A request to the group at its place: to rpc.c, and no place
         * in the messages' numbering (every member skips it alike). */
        co_rpc_delivered(core, who, mode_of(cls), data, len);
        t->delivered++;
        return true;
    }
    const char *name = peer ? peer->name : core->cfg.name;
    uint64_t order = 0;
    if (co_class_ordered(cls)) {
        order = ++t->order;
        /* After one transitional message, every later one of the view
         * is too: no regular delivery follows a transitional one. */
        if (t->transitional)
            flags |= COHORT_MESSAGE_TRANSITIONAL;
        if (flags & COHORT_MESSAGE_TRANSITIONAL) {
            t->transitional = true;
            core->stats.messages_transitional++;
        }
    } else {
        flags = 0;
    }
    co_event_ordered(core, who, name, mode_of(cls), data, len, order, flags);
    t->delivered++;
    return true;
}

/* Deliver h's FIFO messages at its head. False when the queue is full. */
static bool drain_fifo(co_core_t *core, co_hold_t *h, co_peer_t *peer,
                       uint64_t now_ns)
{
    const co_held_t *m;
    while ((m = co_hold_head(h)) && co_record_class(m->cls) == CO_CLASS_FIFO)
        if (!deliver_head(core, h, peer, 0, now_ns))
            return false;
    return true;
}

/* Every member of the view holds member (id, inc)'s records through seq. */
static bool stable(const co_core_t *core, const co_peer_t *peer,
                   uint64_t seq)
{
    const co_total_t *t = &core->total;
    if (!peer)
        return co_peers_stable_through(&core->peers, core->tx_sent) >= seq;
    if (!co_rxwin_synced(&peer->rx))
        return false;
    co_member_ref_t who = {peer->id, peer->incarnation};
    return co_peers_group_stable(&core->peers, t->members, t->n_members,
                                 core->cfg.member_id, who,
                                 peer->rx.next - 1) >= seq;
}

/* A SAFE message of peer's (seq), ordered by the record at carrier in the
 * sequencer's stream: every member holds both. */
static bool safe_ready(co_core_t *core, const co_peer_t *peer, uint64_t seq,
                       uint64_t carrier)
{
    if (!stable(core, peer, seq))
        return false;
    const co_vmember_t *s = sequencer(core);
    co_peer_t *sp;
    if (!s || !hold_of(core, s->id, s->incarnation, &sp))
        return false;
    return stable(core, sp, carrier);
}

/* Everything of the member's stream through seq has been taken here. */
static bool taken_through(const co_core_t *core, const co_peer_t *peer,
                          uint64_t seq)
{
    if (!peer)
        return core->tx_sent > seq;
    return co_rxwin_synced(&peer->rx) && peer->rx.next > seq;
}

/* Follow the list as far as it goes now. ending: the flush is complete,
 * nothing more will be taken, so an entry is done once its holder's head
 * is past it, and an unconfirmed SAFE message goes transitional. False
 * when the event queue is full. */
static bool follow_list(co_core_t *core, bool ending, uint64_t now_ns)
{
    co_total_t *t = &core->total;
    while (t->count > 0) {
        const co_order_slot_t *e = &t->list[t->head];
        co_peer_t *peer;
        co_hold_t *h = hold_of(core, e->id, e->incarnation, &peer);
        if (!h) {
            /* A member of the view this one does not know in that life
             * (it installed the view late, and never heard it): its
             * messages are not delivered here, so the places of what
             * follows are not the others'. */
            t->transitional = true;
            list_pop(t);
            continue;
        }
        if (!drain_fifo(core, h, peer, now_ns))
            return false;
        const co_held_t *m = co_hold_head(h);
        if (m && co_class_ordered(m->cls) && m->seq <= e->through) {
            uint32_t flags = 0;
            /* Stopped at a state request's place (state.h); at the end
             * of the view the flush goes on (co_total_end_view). */
            if (!ending && co_state_frozen(core))
                return true;
            if (co_record_class(m->cls) == CO_CLASS_SAFE &&
                !safe_ready(core, peer, m->seq,
                            e->carrier ? e->carrier : m->seq)) {
                if (!ending)
                    return true; /* waits for stability */
                flags = COHORT_MESSAGE_TRANSITIONAL;
            }
            if (!deliver_head(core, h, peer, flags, now_ns))
                return false;
            continue;
        }
        if (!taken_through(core, peer, e->through)) {
            if (!ending)
                return true; /* more of its stream to come */
            /* The view ends without some of what the entry ordered (no
             * member moving on holds it): the places of what follows are
             * this member's own, not the others'. */
            t->transitional = true;
        }
        list_pop(t);
    }
    return true;
}

/* The FIFO messages at the head of every hold. */
static bool drain_all_fifo(co_core_t *core, uint64_t now_ns)
{
    if (!drain_fifo(core, &core->total.self_hold, NULL, now_ns))
        return false;
    for (size_t i = 0; i < core->peers.span; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (p->in_use && !drain_fifo(core, &p->hold, p, now_ns))
            return false;
    }
    return true;
}

void co_total_run(co_core_t *core, uint64_t now_ns)
{
    co_total_t *t = &core->total;
    /* Frozen between the answer to a view change and its COMMIT. */
    if (co_vs_holding(core) && !core->vs_flushing)
        return;
    co_state_run(core, now_ns);
    /* Streams that waited for room in a hold or the list move on as
     * messages leave; what they bring may let more go (bounded: each
     * round either delivers or stops). */
    for (int round = 0; round < 8; round++) {
        uint64_t before = t->delivered;
        /* Nothing held (FIFO traffic alone), or no FIFO message held
         * (TOTAL or SAFE traffic alone): no hold to walk. */
        if (t->held_fifo == 0 || drain_all_fifo(core, now_ns))
            (void)follow_list(core, false, now_ns);
        if (!t->stalled || t->delivered == before)
            return;
        t->stalled = false;
        for (size_t i = 0; i < core->peers.span; i++)
            if (core->peers.slots[i].in_use)
                co_deliver_ready(core, &core->peers.slots[i], now_ns);
    }
}

/* The view ends while this member waits for its state: its TOTAL and
 * SAFE messages are dropped (the next snapshot covers them), its FIFO
 * ones delivered as always. */
static bool supersede(co_core_t *core, co_hold_t *h, co_peer_t *peer,
                      uint64_t now_ns)
{
    co_total_t *t = &core->total;
    while (!co_hold_empty(h)) {
        if (co_record_class(co_hold_head(h)->cls) == CO_CLASS_FIFO) {
            if (!deliver_head(core, h, peer, 0, now_ns))
                return false;
            continue;
        }
        uint8_t *data;
        size_t len;
        co_hold_pop(h, &data, &len);
        co_free(core->mem, data);
        if (t->held > 0)
            t->held--;
        core->stats.messages_superseded++;
    }
    return true;
}

bool co_total_end_view(co_core_t *core, uint64_t now_ns)
{
    if (co_state_view_ending(core)) {
        t_list_clear(&core->total);
        if (!supersede(core, &core->total.self_hold, NULL, now_ns))
            return false;
        for (size_t i = 0; i < core->peers.span; i++) {
            co_peer_t *p = &core->peers.slots[i];
            if (p->in_use && !supersede(core, &p->hold, p, now_ns))
                return false;
        }
        return true;
    }
    if (!follow_list(core, true, now_ns))
        return false;
    /* What no entry ordered: members in view order, each in its order. */
    const co_gms_t *g = &core->gms;
    if (co_gms_has_view(g)) {
        const co_view_t *v = co_gms_view(g);
        for (size_t i = 0; i < v->count; i++) {
            co_peer_t *peer;
            co_hold_t *h = hold_of(core, v->members[i].id,
                                   v->members[i].incarnation, &peer);
            while (h && !co_hold_empty(h))
                if (!deliver_head(core, h, peer, COHORT_MESSAGE_TRANSITIONAL, now_ns))
                    return false;
        }
    }
    return true;
}

void co_total_installed(co_core_t *core)
{
    co_total_t *t = &core->total;
    t->head = t->count = 0;
    t->order = 0;
    t->safe_seen = false;
    t->transitional = false;
    const co_view_t *v = co_gms_view(&core->gms);
    t->n_members = 0;
    for (size_t i = 0; i < v->count && i < t->members_cap; i++)
        t->members[t->n_members++] =
            (co_member_ref_t){v->members[i].id, v->members[i].incarnation};
    /* Nothing of the old view is left held (co_total_end_view); what a
     * sender outside this member's old view had taken here is not of
     * any view it delivers. */
    for (size_t i = 0; i < core->peers.span; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use)
            continue;
        co_hold_clear(&p->hold, core->mem);
        p->total_taken = 0;
        p->total_ordered = 0;
    }
    co_hold_clear(&t->self_hold, core->mem);
    t->held = 0; /* also forgets holds freed with their peer (peers.c) */
    t->held_fifo = 0;
}

void co_total_diverged(co_core_t *core)
{
    core->total.transitional = true;
}

bool co_total_acks_to_group(const co_core_t *core)
{
    return core->total.safe_seen;
}

size_t co_total_memory_bytes(const co_core_t *core)
{
    /* What traffic brings: the messages held, each with its overhead.
     * Structure is not counted, as the send window's ring is not: the
     * list's ring is fixed at creation, and a hold's ring (24 bytes an
     * entry, at most one entry per CO_HOLD_OVERHEAD of hold_max) stays
     * when it empties. */
    const co_total_t *t = &core->total;
    size_t n = t->self_hold.bytes;
    for (size_t i = 0; i < core->peers.span; i++)
        if (core->peers.slots[i].in_use)
            n += core->peers.slots[i].hold.bytes;
    return n;
}
