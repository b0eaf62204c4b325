/*
 * state.c - state transfer (state.h has the design).
 */
#include "state.h"

#include <string.h>

#include "co_assert.h"
#include "core_internal.h"

/* Repeats of an answer, GO or piece before giving up on a silent peer
 * (a view change ends a transfer whose peer is gone long before). */
#define OWED_REPEATS 64
#define IDLE_ROUNDS_MAX 256

static uint64_t resend_ns(const co_core_t *core)
{
    uint64_t t = core->cfg.nack_retry_ns / 4;
    return t < CO_MS_NS ? CO_MS_NS : t;
}

int co_state_init(co_core_t *core)
{
    co_state_t *s = &core->state;
    memset(s, 0, sizeof *s);
    s->owed_cap = core->cfg.max_members;
    s->owed = co_calloc(core->mem, s->owed_cap, sizeof *s->owed);
    s->answered = co_calloc(core->mem, core->cfg.max_members, 1);
    s->piece_room = core->body_room - CO_XFER_DATA_BYTES;
    s->next_transfer = 1;
    s->next_handle = 1;
    if (core->cfg.state_transfer)
        s->phase = CO_STATE_WANTED;
    return s->owed && s->answered ? 0 : -1;
}

static void out_free(co_core_t *core, co_xfer_out_t *o)
{
    co_free(core->mem, o->ring);
    co_free(core->mem, o->store);
    memset(o, 0, sizeof *o);
}

void co_state_free(co_core_t *core)
{
    co_state_t *s = &core->state;
    if (!core->mem)
        return;
    for (size_t i = 0; i < CO_XFER_SLOTS; i++)
        out_free(core, &s->out[i]);
    co_free(core->mem, s->owed);
    co_free(core->mem, s->answered);
    s->owed = NULL;
    s->answered = NULL;
}

/* A request out and not yet resolved (answers and pieces are taken
 * from the moment it is out: unicast may overtake the multicast that
 * gives the request its place). */
static bool asking(const co_state_t *s)
{
    return s->phase == CO_STATE_SENT || s->phase == CO_STATE_ASKING ||
           s->phase == CO_STATE_RECEIVING;
}

bool co_state_frozen(const co_core_t *core)
{
    const co_state_t *s = &core->state;
    return s->offering || (asking(s) && s->placed);
}

/* ------------------------------------------------------------------ */
/* Datagrams                                                           */
/* ------------------------------------------------------------------ */

static void send_xfer(co_core_t *core, const co_peer_t *to,
                      const co_xfer_t *x, uint64_t now_ns)
{
    uint8_t *body = co_unicast_begin(core, CO_TYPE_XFER, &to->addr);
    if (!body)
        return; /* as the network might lose it: repeated later */
    co_unicast_finish(core, co_xfer_encode(x, body), now_ns);
}

static void send_simple(co_core_t *core, const co_peer_t *to, uint8_t kind,
                        uint8_t flags, uint32_t transfer, uint64_t now_ns)
{
    co_xfer_t x = {.kind = kind, .flags = flags, .transfer = transfer,
                   .target_id = to->id, .target_inc = to->incarnation};
    send_xfer(core, to, &x, now_ns);
}

/* The view member (id, inc) other than this one, or NULL. */
static co_peer_t *view_peer(co_core_t *core, uint32_t id, uint32_t inc)
{
    co_peer_t *p = co_peers_find(&core->peers, id);
    return p && p->incarnation == inc && p->in_view ? p : NULL;
}

/* ------------------------------------------------------------------ */
/* Requester                                                           */
/* ------------------------------------------------------------------ */

static void request_out(co_core_t *core, uint64_t now_ns)
{
    co_state_t *s = &core->state;
    if (s->phase != CO_STATE_WANTED || core->left ||
        !co_gms_has_view(&core->gms) || co_vs_holding(core))
        return;
    const co_view_t *v = co_gms_view(&core->gms);
    if (v->count <= 1) {
        /* Alone. A member that starts while the group's members are
         * busy may see a view of itself first and merge a moment later:
         * wait a member timeout for others before deciding that no one
         * holds a state. */
        if (s->alone_since_ns == 0)
            s->alone_since_ns = now_ns;
        if (now_ns - s->alone_since_ns < core->cfg.member_timeout_ns)
            return; /* the tick comes back at the deadline */
        s->alone_since_ns = 0;
        s->phase = CO_STATE_IDLE;
        co_event_state(core, COHORT_EVENT_STATE_DONE, s->transfer,
                       (cohort_member_t){0, 0}, NULL, 0, 0,
                       COHORT_STATE_NONE, v->id);
        return;
    }
    s->alone_since_ns = 0;
    if (s->transfer == 0)
        s->transfer = s->next_transfer++;
    uint8_t ctl[CO_CTL_BYTES];
    co_ctl_encode(ctl, CO_CTL_STATE_REQUEST, s->transfer);
    if (co_core_send_control(core, now_ns, ctl, sizeof ctl) != 0)
        return; /* no room: the next tick tries again */
    s->phase = CO_STATE_SENT;
    s->placed = false;
    s->view_id = v->id;
    s->prov_id = s->prov_inc = 0;
    s->rx_next = 1;
    s->rx_bytes = 0;
    s->n_answered = 0;
    s->n_candidates = v->count - 1;
    memset(s->answered, 0, core->cfg.max_members);
}

int co_state_request(co_core_t *core, uint64_t now_ns)
{
    co_state_t *s = &core->state;
    if (core->left)
        return COHORT_ERR_CLOSED;
    if (!core->cfg.self_delivery)
        return COHORT_ERR_NOTSUP;
    if (s->phase != CO_STATE_IDLE)
        return COHORT_ERR_STATE;
    s->phase = CO_STATE_WANTED;
    s->transfer = 0;
    s->ever_asked = true;
    request_out(core, now_ns);
    return 0;
}

bool co_state_wanted_again(const co_core_t *old)
{
    return old->cfg.state_transfer || old->state.ever_asked;
}

void co_state_hand_over(const co_core_t *old, co_core_t *core)
{
    core->state.next_transfer = old->state.next_transfer;
    core->state.ever_asked = old->state.ever_asked;
    /* A request under way is made again by the new life, from the
     * start: the chunks it gives begin again at offset 0. */
    if (old->state.phase != CO_STATE_IDLE)
        core->stats.state_transfers_restarted++;
}

bool co_state_wanted(const co_core_t *core)
{
    return core->state.phase != CO_STATE_IDLE;
}

static void requester_done(co_core_t *core, int result, cohort_member_t from)
{
    co_state_t *s = &core->state;
    if (result == COHORT_STATE_RECEIVED)
        core->stats.state_transfers_received++;
    co_event_state(core, COHORT_EVENT_STATE_DONE, s->transfer, from, NULL, 0,
                   s->rx_bytes, result, s->view_id);
    s->phase = CO_STATE_IDLE;
    s->placed = false;
    s->prov_id = s->prov_inc = 0;
    s->transfer = 0;
}

/* Every candidate said it cannot provide: no one holds a state. */
static void check_none(co_core_t *core)
{
    co_state_t *s = &core->state;
    if (asking(s) && s->prov_id == 0 && s->n_answered >= s->n_candidates)
        requester_done(core, COHORT_STATE_NONE, (cohort_member_t){0, 0});
}

/* This member's own request reached its place in the order. */
static void own_request_placed(co_core_t *core, uint32_t transfer)
{
    co_state_t *s = &core->state;
    if (!asking(s) || s->placed || transfer != s->transfer)
        return; /* an older request's record, made again since */
    /* From here TOTAL and SAFE delivery waits for the state; answers and
     * pieces may have come before (a provider may even be sending). */
    s->placed = true;
    s->phase = s->prov_id ? CO_STATE_RECEIVING : CO_STATE_ASKING;
    check_none(core);
}

static long view_index(const co_core_t *core, uint32_t id, uint32_t inc)
{
    const co_view_t *v = co_gms_view(&core->gms);
    for (size_t i = 0; i < v->count; i++)
        if (v->members[i].id == id && v->members[i].incarnation == inc)
            return (long)i;
    return -1;
}

static void on_status(co_core_t *core, co_peer_t *from, const co_xfer_t *x,
                      uint64_t now_ns)
{
    co_state_t *s = &core->state;
    if (!asking(s) || x->transfer != s->transfer) {
        /* Not (or no longer) asked: let it stop repeating. */
        send_simple(core, from, CO_XFER_CANCEL, 0, x->transfer, now_ns);
        return;
    }
    bool chosen = from->id == s->prov_id && from->incarnation == s->prov_inc;
    if (chosen) {
        if (!(x->flags & CO_XFER_FLAG_YES)) {
            /* It offered, then gave up waiting: ask again. */
            s->phase = CO_STATE_WANTED;
            s->transfer = 0;
            core->stats.state_transfers_restarted++;
            request_out(core, now_ns);
        } else if (s->rx_next == 1) {
            send_simple(core, from, CO_XFER_GO, 0, s->transfer, now_ns);
        }
        return;
    }
    long i = view_index(core, from->id, from->incarnation);
    if (i < 0)
        return;
    if (s->answered[i] == 0) {
        s->answered[i] = (x->flags & CO_XFER_FLAG_YES) ? 2 : 1;
        s->n_answered++;
    }
    if ((x->flags & CO_XFER_FLAG_YES) && s->prov_id == 0) {
        s->prov_id = from->id;
        s->prov_inc = from->incarnation;
        if (s->placed)
            s->phase = CO_STATE_RECEIVING;
        s->go_at_ns = now_ns + resend_ns(core);
        send_simple(core, from, CO_XFER_GO, 0, s->transfer, now_ns);
        return;
    }
    send_simple(core, from, CO_XFER_CANCEL, 0, s->transfer, now_ns);
    check_none(core);
}

static void send_ack(co_core_t *core, const co_peer_t *to, uint32_t transfer,
                     uint64_t next, uint64_t now_ns)
{
    co_xfer_t x = {.kind = CO_XFER_ACK, .transfer = transfer,
                   .target_id = to->id, .target_inc = to->incarnation,
                   .seq = next};
    send_xfer(core, to, &x, now_ns);
}

static void on_data(co_core_t *core, co_peer_t *from, const co_xfer_t *x,
                    uint64_t now_ns)
{
    co_state_t *s = &core->state;
    if (!asking(s) || x->transfer != s->transfer || s->prov_id == 0 ||
        from->id != s->prov_id || from->incarnation != s->prov_inc) {
        /* A finished transfer's last piece again: its ACK was lost. */
        if (s->phase == CO_STATE_IDLE || x->transfer != s->transfer)
            send_ack(core, from, x->transfer, x->seq + 1, now_ns);
        return;
    }
    if (x->seq != s->rx_next || x->offset != s->rx_bytes) {
        /* go-back-N: only the next piece is taken; say which it is */
        if (x->seq != s->rx_next)
            send_ack(core, from, s->transfer, s->rx_next, now_ns);
        return;
    }
    /* The end waits for this member's own place in the order: until
     * then it delivers what was ordered before its request, which the
     * snapshot covers, and STATE_DONE must come after all of that. */
    if ((x->flags & CO_XFER_FLAG_LAST) && !s->placed)
        return; /* not taken: sent again */
    if (!co_evq_has_room(&core->evq, x->len)) {
        core->evq.stalled = true;
        return; /* not taken, not acknowledged: sent again */
    }
    uint8_t *copy = NULL;
    if (x->len) {
        copy = co_malloc(core->mem, x->len);
        if (!copy)
            return; /* as no room */
        memcpy(copy, x->payload, x->len);
    }
    cohort_member_t who = {from->id, from->incarnation};
    if (x->len) /* the last piece may be empty: no chunk for it */
        co_event_state(core, COHORT_EVENT_STATE_CHUNK, s->transfer, who,
                       copy, x->len, s->rx_bytes, 0, s->view_id);
    s->rx_next++;
    s->rx_bytes += x->len;
    core->stats.state_bytes_received += x->len;
    send_ack(core, from, s->transfer, s->rx_next, now_ns);
    if (x->flags & CO_XFER_FLAG_LAST)
        requester_done(core, COHORT_STATE_RECEIVED, who);
}

/* ------------------------------------------------------------------ */
/* Provider                                                            */
/* ------------------------------------------------------------------ */

static bool holds_state(const co_core_t *core)
{
    const co_state_t *s = &core->state;
    if (!core->cfg.state_provider || s->phase != CO_STATE_IDLE)
        return false;
    for (size_t i = 0; i < CO_XFER_SLOTS; i++)
        if (!s->out[i].in_use)
            return true;
    return false; /* busy with as many as it serves at once */
}

static void owe(co_core_t *core, const co_peer_t *req, uint32_t transfer,
                bool yes, uint64_t now_ns)
{
    co_state_t *s = &core->state;
    co_xfer_owed_t *o = NULL;
    for (size_t i = 0; i < s->n_owed; i++)
        if (s->owed[i].req_id == req->id)
            o = &s->owed[i]; /* one request at a time per requester */
    if (!o && s->n_owed < s->owed_cap)
        o = &s->owed[s->n_owed++];
    if (!o)
        o = &s->owed[0]; /* full: the oldest answer gives way */
    *o = (co_xfer_owed_t){req->id, req->incarnation, transfer, yes,
                          now_ns + resend_ns(core), OWED_REPEATS};
    send_simple(core, req, CO_XFER_STATUS, yes ? CO_XFER_FLAG_YES : 0,
                transfer, now_ns);
}

static void owed_drop(co_core_t *core, uint32_t id, uint32_t transfer)
{
    co_state_t *s = &core->state;
    for (size_t i = 0; i < s->n_owed; i++)
        if (s->owed[i].req_id == id && s->owed[i].transfer == transfer) {
            s->owed[i] = s->owed[--s->n_owed];
            return;
        }
}

static void withdraw(co_core_t *core)
{
    co_state_t *s = &core->state;
    s->offering = false;
    s->off_go = false;
}

bool co_state_view_ending(co_core_t *core)
{
    co_state_t *s = &core->state;
    withdraw(core); /* the flush delivers the old view to its end */
    s->ending = true;
    if (asking(s)) {
        /* What this member held after its request is dropped (a new
         * snapshot covers it); pieces still on their way are refused. */
        s->superseding = s->superseding || s->placed;
        s->phase = CO_STATE_WANTED;
        s->transfer = 0;
        s->placed = false;
        s->prov_id = s->prov_inc = 0;
        core->stats.state_transfers_restarted++;
    }
    return s->superseding;
}

/* Another member's request reached its place: answer it. */
static void other_request_placed(co_core_t *core, const co_peer_t *req,
                                 uint32_t transfer, uint64_t now_ns)
{
    co_state_t *s = &core->state;
    COHORT_ASSERT(!s->offering); /* delivery stops while offering */
    bool yes = holds_state(core);
    owe(core, req, transfer, yes, now_ns);
    if (!yes)
        return;
    s->offering = true;
    s->off_go = false;
    s->off_id = req->id;
    s->off_inc = req->incarnation;
    s->off_transfer = transfer;
    s->off_until_ns = now_ns + (uint64_t)OWED_REPEATS * resend_ns(core);
}

static co_xfer_out_t *out_find(co_core_t *core, uint32_t id, uint32_t inc,
                               uint32_t transfer)
{
    for (size_t i = 0; i < CO_XFER_SLOTS; i++) {
        co_xfer_out_t *o = &core->state.out[i];
        if (o->in_use && o->req_id == id && o->req_inc == inc &&
            o->transfer == transfer)
            return o;
    }
    return NULL;
}

static co_xfer_out_t *out_by_handle(co_core_t *core, uint32_t handle)
{
    for (size_t i = 0; i < CO_XFER_SLOTS; i++) {
        co_xfer_out_t *o = &core->state.out[i];
        if (o->in_use && o->handle == handle)
            return o;
    }
    return NULL;
}

/* GO came and the event queue has room: the application gets the
 * request at the place the offer froze delivery, then delivery goes on. */
static void start_providing(co_core_t *core)
{
    co_state_t *s = &core->state;
    if (!s->offering || !s->off_go)
        return;
    if (!co_evq_has_room(&core->evq, 0)) {
        core->evq.stalled = true;
        return;
    }
    co_xfer_out_t *o = NULL;
    for (size_t i = 0; i < CO_XFER_SLOTS && !o; i++)
        if (!s->out[i].in_use)
            o = &s->out[i];
    COHORT_ASSERT(o != NULL); /* holds_state() saw a free slot */
    o->ring = co_calloc(core->mem, CO_XFER_WINDOW, sizeof *o->ring);
    o->store = co_malloc(core->mem, CO_XFER_WINDOW * s->piece_room);
    if (!o->ring || !o->store) {
        out_free(core, o);
        return; /* out of memory: GO is repeated, tried again then */
    }
    for (size_t i = 0; i < CO_XFER_WINDOW; i++)
        o->ring[i].data = o->store + i * s->piece_room;
    o->in_use = true;
    o->started = true;
    o->handle = s->next_handle++;
    if (s->next_handle == 0)
        s->next_handle = 1;
    o->req_id = s->off_id;
    o->req_inc = s->off_inc;
    o->transfer = s->off_transfer;
    o->next_seq = 1;
    o->acked = 1;
    owed_drop(core, s->off_id, s->off_transfer);
    withdraw(core);
    co_event_state(core, COHORT_EVENT_STATE_REQUEST, o->handle,
                   (cohort_member_t){o->req_id, o->req_inc}, NULL, 0, 0, 0,
                   co_membership_view_id(core));
    core->stats.state_transfers_provided++;
}

static void on_go(co_core_t *core, co_peer_t *from, const co_xfer_t *x,
                  uint64_t now_ns)
{
    co_state_t *s = &core->state;
    if (out_find(core, from->id, from->incarnation, x->transfer))
        return; /* a repeat: the pieces answer it */
    if (s->offering && s->off_id == from->id &&
        s->off_inc == from->incarnation && s->off_transfer == x->transfer) {
        s->off_go = true;
        start_providing(core);
        return;
    }
    /* The offer was withdrawn (it waited too long): say so. */
    send_simple(core, from, CO_XFER_STATUS, 0, x->transfer, now_ns);
}

static void on_cancel(co_core_t *core, co_peer_t *from, const co_xfer_t *x)
{
    co_state_t *s = &core->state;
    owed_drop(core, from->id, x->transfer);
    if (s->offering && s->off_id == from->id &&
        s->off_transfer == x->transfer)
        withdraw(core);
}

static void send_piece(co_core_t *core, const co_xfer_out_t *o,
                       const co_xfer_piece_t *p, uint64_t now_ns)
{
    co_peer_t *to = view_peer(core, o->req_id, o->req_inc);
    if (!to)
        return;
    co_xfer_t x = {.kind = CO_XFER_DATA, .flags = p->last ? CO_XFER_FLAG_LAST
                                                          : 0,
                   .transfer = o->transfer, .target_id = o->req_id,
                   .target_inc = o->req_inc, .seq = p->seq,
                   .offset = p->offset, .payload = p->data, .len = p->len};
    send_xfer(core, to, &x, now_ns);
}

static void on_ack(co_core_t *core, co_peer_t *from, const co_xfer_t *x,
                   uint64_t now_ns)
{
    co_xfer_out_t *o = out_find(core, from->id, from->incarnation,
                                x->transfer);
    if (!o || x->seq > o->next_seq)
        return;
    if (x->seq > o->acked) {
        o->acked = x->seq;
        o->idle_rounds = 0;
        o->resend_at_ns = o->acked < o->next_seq ? now_ns + resend_ns(core)
                                                 : 0;
    } else if (o->acked < o->next_seq && now_ns >= o->fast_ok_ns) {
        /* Asked for a piece again (one was lost): from there on, once a
         * round trip at most (every piece after the lost one brings the
         * same ACK, and each must not send the window again). */
        for (uint64_t q = o->acked; q < o->next_seq; q++)
            send_piece(core, o, &o->ring[q % CO_XFER_WINDOW], now_ns);
        o->resend_at_ns = now_ns + resend_ns(core);
        o->fast_ok_ns = now_ns + resend_ns(core) / 4;
    }
    if (o->ended && o->acked == o->next_seq)
        out_free(core, o); /* all there, the last piece too */
}

/* Room for n more pieces in o's window. */
static size_t window_room(const co_xfer_out_t *o)
{
    return CO_XFER_WINDOW - (size_t)(o->next_seq - o->acked);
}

static void push_piece(co_core_t *core, co_xfer_out_t *o, const uint8_t *data,
                       size_t len, bool last, uint64_t now_ns)
{
    co_xfer_piece_t *p = &o->ring[o->next_seq % CO_XFER_WINDOW];
    p->seq = o->next_seq++;
    p->offset = o->offset;
    p->len = (uint16_t)len;
    p->last = last;
    if (len)
        memcpy(p->data, data, len);
    o->offset += len;
    core->stats.state_bytes_sent += len;
    send_piece(core, o, p, now_ns);
    if (o->resend_at_ns == 0)
        o->resend_at_ns = now_ns + resend_ns(core);
}

int co_state_send(co_core_t *core, uint64_t now_ns, uint32_t handle,
                  const uint8_t *data, size_t len)
{
    co_state_t *s = &core->state;
    if (core->left)
        return COHORT_ERR_STATE;
    if (!data && len > 0)
        return COHORT_ERR_INVAL;
    if (len > COHORT_STATE_CHUNK_MAX)
        return COHORT_ERR_TOOBIG;
    co_xfer_out_t *o = out_by_handle(core, handle);
    if (!o || o->ended)
        return COHORT_ERR_STATE;
    size_t pieces = (len + s->piece_room - 1) / s->piece_room;
    /* One piece kept for the last one (co_state_end never waits). */
    if (pieces + 1 > window_room(o) ||
        co_txq_room(&core->txq) < pieces + 2)
        return COHORT_ERR_AGAIN;
    for (size_t off = 0; off < len; off += s->piece_room) {
        size_t n = len - off < s->piece_room ? len - off : s->piece_room;
        push_piece(core, o, data + off, n, false, now_ns);
    }
    return 0;
}

int co_state_end(co_core_t *core, uint64_t now_ns, uint32_t handle)
{
    co_xfer_out_t *o = out_by_handle(core, handle);
    if (core->left || !o || o->ended)
        return COHORT_ERR_STATE;
    COHORT_ASSERT(window_room(o) >= 1);
    o->ended = true;
    push_piece(core, o, NULL, 0, true, now_ns);
    return 0;
}

/* ------------------------------------------------------------------ */
/* In, order, views, time                                              */
/* ------------------------------------------------------------------ */

void co_state_ordered(co_core_t *core, const co_peer_t *from, uint8_t *data,
                      size_t len, uint64_t now_ns)
{
    uint8_t kind;
    uint32_t transfer;
    int rc = co_ctl_decode(data, len, &kind, &transfer);
    co_free(core->mem, data);
    if (rc != 0) {
        co_count_drop(core, co_drop_of(rc));
        return;
    }
    /* Placed while the view ends: the requester asks again in the next
     * one (co_state_installed), where it will be answered. */
    if (core->state.ending)
        return;
    if (!from)
        own_request_placed(core, transfer);
    else
        other_request_placed(core, from, transfer, now_ns);
}

void co_state_recv(co_core_t *core, co_peer_t *peer, uint64_t view_id,
                   const co_xfer_t *x, uint64_t now_ns)
{
    /* Only between members of this view, about this view, for this life
     * of this member. */
    if (!peer->in_view || view_id != co_membership_view_id(core) ||
        x->target_id != core->cfg.member_id ||
        x->target_inc != core->cfg.incarnation || core->left) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return;
    }
    switch (x->kind) {
    case CO_XFER_STATUS: on_status(core, peer, x, now_ns); break;
    case CO_XFER_GO: on_go(core, peer, x, now_ns); break;
    case CO_XFER_CANCEL: on_cancel(core, peer, x); break;
    case CO_XFER_DATA: on_data(core, peer, x, now_ns); break;
    case CO_XFER_ACK: on_ack(core, peer, x, now_ns); break;
    default: COHORT_ASSERT(false); /* co_xfer_decode refused it */
    }
}

void co_state_installed(co_core_t *core, uint64_t now_ns)
{
    co_state_t *s = &core->state;
    /* Every transfer belonged to the view that ended. */
    for (size_t i = 0; i < CO_XFER_SLOTS; i++)
        if (s->out[i].in_use)
            out_free(core, &s->out[i]);
    s->n_owed = 0;
    withdraw(core);
    s->superseding = false;
    s->ending = false;
    if (s->phase != CO_STATE_IDLE && s->phase != CO_STATE_WANTED) {
        core->stats.state_transfers_restarted++;
        s->phase = CO_STATE_WANTED;
        s->transfer = 0;
        s->placed = false;
        s->prov_id = s->prov_inc = 0;
    }
    request_out(core, now_ns);
}

void co_state_run(co_core_t *core, uint64_t now_ns)
{
    start_providing(core);
    request_out(core, now_ns);
}

static void tick_out(co_core_t *core, co_xfer_out_t *o, uint64_t now_ns)
{
    if (!o->in_use || o->resend_at_ns == 0 || now_ns < o->resend_at_ns)
        return;
    if (++o->idle_rounds > IDLE_ROUNDS_MAX || !view_peer(core, o->req_id,
                                                         o->req_inc)) {
        out_free(core, o); /* the requester is gone or silent */
        return;
    }
    for (uint64_t q = o->acked; q < o->next_seq; q++)
        send_piece(core, o, &o->ring[q % CO_XFER_WINDOW], now_ns);
    o->resend_at_ns = now_ns + resend_ns(core);
}

void co_state_tick(co_core_t *core, uint64_t now_ns)
{
    co_state_t *s = &core->state;
    for (size_t i = 0; i < s->n_owed;) {
        co_xfer_owed_t *o = &s->owed[i];
        co_peer_t *to = view_peer(core, o->req_id, o->req_inc);
        if (!to || o->left == 0) {
            *o = s->owed[--s->n_owed];
            continue;
        }
        if (now_ns >= o->at_ns) {
            o->left--;
            o->at_ns = now_ns + resend_ns(core);
            send_simple(core, to, CO_XFER_STATUS,
                        o->yes ? CO_XFER_FLAG_YES : 0, o->transfer, now_ns);
        }
        i++;
    }
    if (s->offering && now_ns >= s->off_until_ns)
        withdraw(core); /* the requester never chose */
    if (asking(s) && s->prov_id && s->rx_next == 1 &&
        now_ns >= s->go_at_ns) {
        co_peer_t *p = view_peer(core, s->prov_id, s->prov_inc);
        if (p)
            send_simple(core, p, CO_XFER_GO, 0, s->transfer, now_ns);
        s->go_at_ns = now_ns + resend_ns(core);
    }
    for (size_t i = 0; i < CO_XFER_SLOTS; i++)
        tick_out(core, &s->out[i], now_ns);
    co_state_run(core, now_ns);
}

static uint64_t earliest(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t co_state_deadline(const co_core_t *core)
{
    const co_state_t *s = &core->state;
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < s->n_owed; i++)
        t = earliest(t, s->owed[i].at_ns);
    if (s->offering)
        t = earliest(t, s->off_until_ns);
    /* Not while a view change holds delivery: request_out() can decide
     * nothing then, so the deadline would stay in the past and the tick
     * spin until the COMMIT (co_total_run asks again once it is over). */
    if (s->phase == CO_STATE_WANTED && s->alone_since_ns && !core->left &&
        !co_vs_holding(core))
        t = earliest(t, s->alone_since_ns + core->cfg.member_timeout_ns);
    if (asking(s) && s->prov_id && s->rx_next == 1)
        t = earliest(t, s->go_at_ns);
    for (size_t i = 0; i < CO_XFER_SLOTS; i++)
        if (s->out[i].in_use && s->out[i].resend_at_ns)
            t = earliest(t, s->out[i].resend_at_ns);
    return t;
}

size_t co_state_memory_bytes(const co_core_t *core)
{
    const co_state_t *s = &core->state;
    size_t n = 0;
    for (size_t i = 0; i < CO_XFER_SLOTS; i++)
        if (s->out[i].in_use)
            n += CO_XFER_WINDOW * (s->piece_room + sizeof(co_xfer_piece_t));
    return n;
}
