/*
 * events.c - what the core hands to the application: a bounded queue of
 * events, and in-order delivery from each sender's receive window into it.
 *
 * When the queue is full, delivery pauses: records wait in the receive
 * window, this member stops acknowledging them, and the sender's window
 * fills. That is how a slow receiver slows the group instead of losing
 * messages.
 */
#include "core_internal.h"

#include <stdio.h>
#include <string.h>

#include "co_assert.h"

int co_evq_init(co_evq_t *q, size_t data_limit, size_t extra,
                size_t max_bytes, const co_mem_t *mem)
{
    memset(q, 0, sizeof *q);
    q->mem = co_mem_or_libc(mem);
    q->cap = data_limit + extra;
    q->data_limit = data_limit;
    q->max_bytes = max_bytes;
    q->slots = co_calloc(q->mem, q->cap, sizeof *q->slots);
    return q->slots ? 0 : -1;
}

void co_evq_release(co_evq_t *q)
{
    co_free(q->mem, q->handed_out);
    q->handed_out = NULL;
}

void co_evq_free(co_evq_t *q)
{
    if (!q->mem)
        return; /* never initialised (a core whose creation failed) */
    co_evq_release(q);
    for (size_t i = 0; q->slots && i < q->count; i++)
        co_free(q->mem, q->slots[(q->head + i) % q->cap].data);
    co_free(q->mem, q->slots);
    q->slots = NULL;
    q->count = 0;
}

/* Message events leave the extra slots to member and warning events, so
 * those are never lost to a flood of data. A fragmented message counts in
 * full from its FIRST fragment on (reserved), or fragments of several
 * messages, each small, would fill the queue far past the budget.
 *
 * A message waits for room only while the application can make it, that is
 * while message bytes wait in the queue. Reservations alone never hold one
 * back: a message in reassembly completes only when its sender can send
 * the rest, which may wait on another member's acknowledgement, and that
 * member may hold the message held back here in reassembly, waiting for
 * the same thing the other way round (each sender's window full, for
 * good). So with the queue empty a message gets in even past the budget
 * (a message larger than the budget, alone; one beside messages in
 * reassembly, at most one per sender, each <= max_message). */
bool co_evq_has_room(const co_evq_t *q, size_t need)
{
    if (q->count >= q->data_limit)
        return false;
    return need == 0 || q->bytes == 0 ||
           q->bytes + q->reserved + need <= q->max_bytes;
}

size_t co_evq_need(uint8_t flags, uint32_t total_len, size_t len)
{
    if (!(flags & CO_REC_FIRST))
        return 0;
    return (flags & CO_REC_LAST) ? len : total_len;
}

void co_evq_reserve_follow(co_core_t *core, co_peer_t *peer)
{
    co_evq_t *q = &core->evq;
    COHORT_ASSERT(q->reserved >= peer->queue_reserved_bytes);
    q->reserved -= peer->queue_reserved_bytes;
    peer->queue_reserved_bytes = peer->reasm.total;
    q->reserved += peer->queue_reserved_bytes;
}

static co_evslot_t *evq_push_kind(co_core_t *core, bool view)
{
    co_evq_t *q = &core->evq;
    if (q->count + (view ? 0 : CO_EVQ_VIEW_SLOTS) >= q->cap) {
        co_count_drop(core, COHORT_DROP_QUEUE_FULL);
        return NULL;
    }
    co_evslot_t *e = &q->slots[(q->head + q->count) % q->cap];
    memset(e, 0, sizeof *e);
    q->count++;
    return e;
}

static co_evslot_t *evq_push(co_core_t *core)
{
    return evq_push_kind(core, false);
}

/* Members of a that are not in b, appended at out. */
static uint32_t put_minus(const co_view_t *a, const co_view_t *b,
                          cohort_member_t *out, const co_gms_t *g,
                          int only_why)
{
    uint32_t n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const co_vmember_t *m = &a->members[i];
        if (co_view_find(b, m->id, m->incarnation) >= 0)
            continue;
        if (only_why >= 0 &&
            (int)co_gms_departed(g, m->id, m->incarnation) != only_why)
            continue;
        out[n++] = (cohort_member_t){m->id, m->incarnation};
    }
    return n;
}

/* Whether member m of the view just installed came into it from prev,
 * this member's previous view, as this member did. Being in prev is not
 * enough: a member excluded while it was unreachable (stopped, or cut off
 * one way) still has the others in its old view, which they left for one
 * without it. The cut table says who answered from where: each member
 * reports itself as a sender of the view it answers from, and the row of
 * a sender that answered names it as the holder (flush.c, better()). */
static bool came_along(const co_gms_t *g, const co_view_t *prev,
                       const co_vmember_t *m)
{
    if (co_view_find(prev, m->id, m->incarnation) < 0)
        return false;
    const co_cut_t *row = co_cut_table_find(
        co_gms_commit_cuts(g), prev->id, co_view_proposer_inc(prev), m->id,
        m->incarnation);
    return row != NULL && row->holder_id == m->id;
}

/* Members of the new view v that did not come along from prev: fresh, or
 * from another view (a merge), appended at out. */
static uint32_t put_joined(const co_gms_t *g, const co_view_t *v,
                           const co_view_t *prev, cohort_member_t *out)
{
    uint32_t n = 0;
    for (size_t i = 0; i < v->count; i++) {
        const co_vmember_t *m = &v->members[i];
        if (prev->count == 0 || !came_along(g, prev, m))
            out[n++] = (cohort_member_t){m->id, m->incarnation};
    }
    return n;
}

/* The view gms just installed, with what changed since the one before. */
void co_event_view(co_core_t *core)
{
    const co_gms_t *g = &core->gms;
    const co_view_t *v = co_gms_view(g), *prev = co_gms_prev_view(g);
    size_t room = 2 * v->count + prev->count; /* members, joined, departed */
    cohort_member_t *block = co_calloc(core->mem, room ? room : 1,
                                       sizeof *block);
    co_evslot_t *e = block ? evq_push_kind(core, true) : NULL;
    if (!e) { /* cohort_view() still tells; the next view reports again */
        co_free(core->mem, block);
        co_count_drop(core, COHORT_DROP_QUEUE_FULL);
        return;
    }
    e->type = COHORT_EVENT_VIEW;
    e->view_id = v->id;
    e->primary = v->primary;
    e->data = (uint8_t *)block;
    cohort_member_t *p = block;
    for (size_t i = 0; i < v->count; i++)
        p[i] = (cohort_member_t){v->members[i].id, v->members[i].incarnation};
    e->n_members = (uint32_t)v->count;
    p += v->count;
    e->n_joined = put_joined(g, v, prev, p);
    p += e->n_joined;
    e->n_left = put_minus(prev, v, p, g, CO_GMS_LEFT);
    p += e->n_left;
    e->n_failed = put_minus(prev, v, p, g, CO_GMS_FAILED);
    COHORT_ASSERT(e->n_members + e->n_joined + e->n_left + e->n_failed <= room);
}

/* A message event for who (named name), taking data. */
static co_evslot_t *push_message(co_core_t *core, cohort_member_t who,
                                 const char *name, cohort_mode_t mode,
                                 uint8_t *data, size_t len)
{
    co_evslot_t *e = evq_push(core);
    if (!e) {
        co_free(core->mem, data);
        return NULL;
    }
    e->type = COHORT_EVENT_MESSAGE;
    e->who = who;
    memcpy(e->name, name, sizeof e->name);
    e->mode = mode;
    e->data = data;
    e->len = len;
    e->view_id = co_membership_view_id(core);
    core->evq.bytes += len;
    if (mode == COHORT_SAFE)
        core->stats.messages_delivered_safe++;
    else
        core->stats.messages_delivered[mode]++;
    return e;
}

void co_event_message(co_core_t *core, const co_peer_t *peer,
                      cohort_mode_t mode, uint8_t *data, size_t len)
{
    push_message(core, (cohort_member_t){peer->id, peer->incarnation},
                 peer->name, mode, data, len);
}

void co_event_self(co_core_t *core, uint8_t *data, size_t len)
{
    push_message(core, co_core_self(core), core->cfg.name, COHORT_FIFO, data,
                 len);
}

void co_event_ordered(co_core_t *core, cohort_member_t who, const char *name,
                      cohort_mode_t mode, uint8_t *data, size_t len,
                      uint64_t order, uint32_t flags)
{
    co_evslot_t *e = push_message(core, who, name, mode, data, len);
    if (e) {
        e->order = order;
        e->mflags = flags;
    }
}

void co_event_state(co_core_t *core, cohort_event_type_t type,
                    uint32_t transfer, cohort_member_t peer, uint8_t *data,
                    size_t len, uint64_t offset, int result,
                    uint64_t view_id)
{
    co_evslot_t *e = evq_push_kind(core, type != COHORT_EVENT_STATE_CHUNK);
    if (!e) {
        co_free(core->mem, data); /* state.c checked the room first */
        return;
    }
    e->type = type;
    e->transfer = transfer;
    e->who = peer;
    e->data = data;
    e->len = len;
    e->count = offset;
    e->code = result;
    e->view_id = view_id;
    core->evq.bytes += len;
}

void co_event_request(co_core_t *core, cohort_event_type_t type,
                      uint32_t rid, cohort_member_t peer, uint8_t *data,
                      size_t len, cohort_mode_t mode, uint32_t flags,
                      int result, uint32_t replies, uint32_t wanted,
                      uint64_t view_id)
{
    co_evslot_t *e = evq_push_kind(core, type == COHORT_EVENT_REQUEST_DONE);
    if (!e) {
        co_free(core->mem, data); /* rpc.c checked the room first */
        return;
    }
    e->type = type;
    e->transfer = rid;
    e->who = peer;
    e->data = data;
    e->len = len;
    e->mode = mode;
    e->mflags = flags;
    e->code = result;
    e->replies = replies;
    e->wanted = wanted;
    e->view_id = view_id;
    core->evq.bytes += len;
}

void co_event_member(co_core_t *core, const co_peer_t *peer,
                     cohort_event_type_t type, int reason)
{
    co_evslot_t *e = evq_push(core);
    if (!e)
        return;
    e->type = type;
    e->who = (cohort_member_t){peer->id, peer->incarnation};
    memcpy(e->name, peer->name, sizeof e->name);
    e->code = reason;
}

void co_event_warning(co_core_t *core, int code, const char *text,
                      cohort_member_t about, uint64_t count)
{
    co_evslot_t *e = evq_push(core);
    if (!e)
        return;
    e->type = COHORT_EVENT_WARNING;
    e->code = code;
    e->who = about;
    e->count = count;
    snprintf(e->text, sizeof e->text, "%s", text);
}

void co_core_warn(co_core_t *core, int code, const char *text)
{
    co_event_warning(core, code, text, (cohort_member_t){0, 0}, 0);
}

size_t co_core_events_ready(const co_core_t *core)
{
    return core->evq.count;
}

bool co_core_next_event(co_core_t *core, uint64_t now_ns, cohort_event_t *ev)
{
    co_evq_t *q = &core->evq;
    co_txq_release(&core->txq);
    co_evq_release(q);
    /* Room appeared: let held messages move on. Only once the queue is
     * half empty (or empty: a large message may need all of it), so the
     * walk over every member refills it in one go instead of running
     * again for every event taken. */
    if (q->stalled && (q->count == 0 || (q->count <= q->data_limit / 2 &&
                                         q->bytes <= q->max_bytes / 2))) {
        q->stalled = false;
        co_total_run(core, now_ns);
        for (size_t i = 0; i < core->peers.span; i++)
            if (core->peers.slots[i].in_use)
                co_deliver_ready(core, &core->peers.slots[i], now_ns);
        co_total_run(core, now_ns);
        co_vs_poll(core, now_ns);
    }
    if (q->count == 0)
        return false;
    co_evslot_t *e = &q->slots[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    memset(ev, 0, sizeof *ev);
    ev->struct_size = sizeof *ev;
    ev->abi = COHORT_EVENT_ABI;
    ev->type = e->type;
    /* Whatever the slot holds (payload, the view's lists) is handed out
     * with the event and freed on the next call. */
    COHORT_ASSERT(q->bytes >= e->len);
    q->bytes -= e->len;
    q->handed_out = e->data;
    switch (e->type) {
    case COHORT_EVENT_MESSAGE:
        ev->u.message.sender = e->who;
        ev->u.message.sender_name = e->name;
        ev->u.message.mode = e->mode;
        ev->u.message.data = e->data;
        ev->u.message.len = e->len;
        ev->u.message.view_id = e->view_id;
        ev->u.message.order = e->order;
        ev->u.message.flags = e->mflags;
        break;
    case COHORT_EVENT_VIEW: {
        const cohort_member_t *p = (const cohort_member_t *)e->data;
        ev->u.view.view_id = e->view_id;
        ev->u.view.members = p;
        ev->u.view.count = e->n_members;
        ev->u.view.joined = p + e->n_members;
        ev->u.view.joined_count = e->n_joined;
        ev->u.view.left = ev->u.view.joined + e->n_joined;
        ev->u.view.left_count = e->n_left;
        ev->u.view.failed = ev->u.view.left + e->n_left;
        ev->u.view.failed_count = e->n_failed;
        ev->u.view.primary = e->primary;
        break;
    }
    case COHORT_EVENT_STATE_REQUEST:
    case COHORT_EVENT_STATE_CHUNK:
    case COHORT_EVENT_STATE_DONE:
        ev->u.state.transfer = e->transfer;
        ev->u.state.peer = e->who;
        ev->u.state.data = e->data;
        ev->u.state.len = e->len;
        ev->u.state.offset = e->count;
        ev->u.state.result = e->code;
        ev->u.state.view_id = e->view_id;
        break;
    case COHORT_EVENT_REQUEST:
    case COHORT_EVENT_REPLY:
    case COHORT_EVENT_REQUEST_DONE:
        ev->u.request.request = e->transfer;
        ev->u.request.peer = e->who;
        ev->u.request.data = e->data;
        ev->u.request.len = e->len;
        ev->u.request.mode = e->mode;
        ev->u.request.flags = e->mflags;
        ev->u.request.result = e->code;
        ev->u.request.replies = e->replies;
        ev->u.request.wanted = e->wanted;
        ev->u.request.view_id = e->view_id;
        break;
    case COHORT_EVENT_MEMBER_JOINED:
    case COHORT_EVENT_MEMBER_LEFT:
        ev->u.member.member = e->who;
        ev->u.member.name = e->name;
        ev->u.member.reason = e->code;
        break;
    default:
        ev->u.warning.code = e->code;
        ev->u.warning.text = e->text;
        ev->u.warning.member = e->who;
        ev->u.warning.count = e->count;
        break;
    }
    /* The slot's strings stay valid: the slot is reused only by a later
     * push, which happens inside a later call. */
    return true;
}

/* Release from peer's store what every member of the view has delivered,
 * by their own reports (in datagrams of this view; this member has
 * delivered through own). The sender's trail says as much as it moves,
 * but only in a datagram naming this view: a sender that moved on to a
 * view without this member never names it again, and a member that gets
 * its records from holders in a flush, once its store is full, would
 * wait for good for a trail that no longer comes (sim heavy 3814).
 * Returns whether anything was released. */
static bool moved_on(const void *core, uint32_t id, uint32_t incarnation)
{
    return co_membership_moved_on(core, id, incarnation);
}

static bool store_release_held(co_core_t *core, co_peer_t *peer,
                               uint64_t own)
{
    /* Counted over this member's view, less the members heard in a later
     * view: whatever of this view's records they needed, they delivered
     * before they installed it, and a report of theirs naming this view
     * will never come again. Counted, they would hold the store full for
     * good while this member's flush waits for records beyond it (sim
     * heavy 11021: two members, each the only holder of what the other
     * missed, abandoned every view change for seconds). */
    co_member_ref_t sender = {peer->id, peer->incarnation};
    uint64_t held = co_peers_group_stable_but(
        &core->peers, core->total.members, core->total.n_members,
        core->cfg.member_id, sender, own, moved_on, core);
    size_t before = co_store_bytes(&peer->store);
    co_store_release_through(&peer->store, held);
    return co_store_bytes(&peer->store) < before;
}

void co_deliver_store_waiting(co_core_t *core, uint64_t now_ns)
{
    if (!core->store_waits)
        return;
    core->store_waits = false;
    for (size_t i = 0; i < core->peers.span; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (p->in_use && p->store_waits) {
            p->store_waits = false; /* set again if it still waits */
            co_deliver_ready(core, p, now_ns);
        }
    }
}

/* Hand one record to reassembly and the event queue. owned: data is a
 * buffer the reassembler takes; else it is only read. Returns false when
 * memory ran out: the record was not taken (owned stays the caller's) and
 * must not count as delivered, so it is neither acknowledged nor lost. */
static bool deliver_record(co_core_t *core, co_peer_t *peer, uint64_t seq,
                           uint8_t flags, uint32_t total_len,
                           const uint8_t *data, uint8_t *owned, uint16_t len)
{
    /* Kept first, until every member has it, to repair the others if
     * its sender fails (store.h). A full store waits for the sender's
     * trail to move; nothing is taken, so nothing is acknowledged. */
    co_record_t kept = {.type = CO_REC_FIFO, .flags = flags, .len = len,
                        .seq = seq, .total_len = total_len, .payload = data,
                        .view_id = co_membership_view_id(core)};
    int st = co_store_append(&peer->store, &kept);
    if (st == CO_STORE_NOT_NEXT) { /* a stream restarted: so does the store */
        co_store_free(&peer->store);
        co_store_init(&peer->store, peer->id, peer->incarnation,
                      core->peers.store_bytes, core->mem);
        st = co_store_append(&peer->store, &kept);
    }
    if (st == CO_STORE_FULL && store_release_held(core, peer, seq - 1))
        st = co_store_append(&peer->store, &kept);
    if (st == CO_STORE_FULL) { /* tried again as reports come in */
        peer->store_waits = true;
        core->store_waits = true;
    }
    if (st != CO_STORE_OK)
        return false;
    peer->foreign_from = 0;
    uint8_t cls = co_record_class(flags) |
                  (flags & (CO_REC_CONTROL | CO_REC_REQUEST));
    if (cls == CO_CLASS_ORDER) { /* whole (wire.c); not for the application */
        co_total_order_record(core, peer, seq, data, len);
        co_free(core->mem, owned); /* the window's copy: read, done */
        peer->delivered_since_ack += len;
        return true;
    }
    /* A whole message that will wait in the hold gets its place first:
     * out of memory, the record stays in the window, unacknowledged. */
    bool reserved = (flags & CO_REC_LAST) && co_total_holds(peer, cls);
    if (reserved && !co_hold_reserve(&peer->hold, core->mem)) {
        co_store_take_back(&peer->store);
        core->evq.stalled = true; /* try again when events are taken */
        co_evq_reserve_follow(core, peer);
        return false;
    }
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    size_t max = core->cfg.max_message;
    enum co_reasm_result res =
        owned ? co_reasm_feed(&peer->reasm, flags, total_len, owned, len, max,
                              &msg, &msg_len)
              : co_reasm_feed_borrowed(&peer->reasm, flags, total_len, data,
                                       len, max, &msg, &msg_len);
    switch (res) {
    case CO_REASM_NOMEM:
        if (reserved)
            co_hold_unreserve(&peer->hold);
        co_store_take_back(&peer->store);
        core->evq.stalled = true; /* try again when events are taken */
        co_evq_reserve_follow(core, peer);
        return false;
    case CO_REASM_DONE:
        co_total_take(core, peer, seq, cls, msg, msg_len, reserved);
        reserved = false;
        peer->message_start = 0;
        break;
    case CO_REASM_MORE:
        if (flags & CO_REC_FIRST)
            peer->message_start = seq;
        break;
    case CO_REASM_BAD:
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        peer->message_start = 0;
        break;
    default:
        peer->message_start = 0;
        break;
    }
    if (reserved) /* not whole after all (malformed) */
        co_hold_unreserve(&peer->hold);
    peer->delivered_since_ack += len;
    co_evq_reserve_follow(core, peer);
    return true;
}

/* While SAFE messages are about, every member waits for everyone's
 * acknowledgements before it delivers one, so an ACK is latency: it is
 * due at once (sent when the datagrams at hand have been taken, one for
 * them all), but one sender's stream is acknowledged at most once per
 * CO_SAFE_ACK_GAP_NS, a bound on their rate when the core is fed one
 * datagram at a time. cohort-perf, 3 members, 64 B: a gap of 0, 50 and
 * 200 us gave SAFE round trips of 227, 282 and 606 us p50 (an ACK held
 * 200 us, as before: 1.4 ms), with no clear change in throughput.
 * Otherwise an ACK waits an eighth of a heartbeat, or ack_bytes. */
#define CO_SAFE_ACK_GAP_NS (25 * CO_US_NS)

static void schedule_ack(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    if (peer->rx.next - 1 == peer->reported_through)
        return;
    if (peer->delivered_since_ack >= core->ack_bytes) {
        co_send_ack(core, peer, now_ns);
    } else if (co_total_acks_to_group(core)) {
        uint64_t at = peer->acked_at_ns + CO_SAFE_ACK_GAP_NS;
        if (at < now_ns)
            at = now_ns;
        if (peer->ack_at_ns == 0 || at < peer->ack_at_ns)
            peer->ack_at_ns = at;
    } else if (peer->ack_at_ns == 0) {
        peer->ack_at_ns = now_ns + core->ack_delay_ns;
    }
}

/* The common case on a healthy network: the record is the next one due and
 * nothing waits before it. It skips the window (no copy into it) and goes
 * straight to reassembly. Returns false when the window must take it. */
bool co_deliver_in_order(co_core_t *core, co_peer_t *peer,
                         const co_record_t *r, uint64_t now_ns)
{
    co_rxwin_t *w = &peer->rx;
    if (r->seq != w->next || w->count != 0 ||
        !co_vs_deliverable(core, peer, r->seq, r->view_id) ||
        !co_total_room(core, peer, r->flags, r->total_len, r->len))
        return false;
    if (!deliver_record(core, peer, r->seq, r->flags, r->total_len,
                        r->payload, NULL, r->len))
        return false; /* the window holds it for a later try */
    co_rxwin_advance(w);
    schedule_ack(core, peer, now_ns);
    return true;
}

/* Move every record that is next in line from peer's window into the
 * event queue, reassembling fragments, and schedule the ACK it owes. */
void co_deliver_ready(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    const co_rxslot_t *ready;
    if (!co_rxwin_synced(&peer->rx))
        return; /* nothing to deliver or report before the first record */
    while ((ready = co_rxwin_ready(&peer->rx)) != NULL) {
        if (peer->in_view && ready->view_id != 0 &&
            ready->view_id < co_membership_view_id(core)) {
            /* Sent in an earlier view: what this member had to deliver
             * of it was delivered before that view ended. */
            co_rxslot_t gone;
            if (peer->foreign_from == 0)
                peer->foreign_from = peer->rx.next;
            co_free(core->mem, co_rxwin_take(&peer->rx, &gone));
            core->stats.records_not_in_view++;
            continue;
        }
        if (!co_vs_deliverable(core, peer, peer->rx.next, ready->view_id))
            break;
        if (!co_total_room(core, peer, ready->flags, ready->total_len,
                           ready->len))
            break; /* the stall is noted: tried again when room appears */
        /* Fed while the window still holds it: out of memory, it stays
         * there, unacknowledged, for a later try. */
        if (!deliver_record(core, peer, peer->rx.next, ready->flags,
                            ready->total_len, ready->data, ready->data,
                            ready->len))
            break;
        co_rxslot_t taken;
        (void)co_rxwin_take(&peer->rx, &taken); /* reassembly owns it now */
    }
    schedule_ack(core, peer, now_ns);
}
