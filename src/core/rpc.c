/*
 * rpc.c - group request-reply (rpc.h has the design).
 */
#include "rpc.h"

#include <string.h>

#include "co_assert.h"
#include "core_internal.h"

/* ------------------------------------------------------------------ */
/* Streams in                                                          */
/* ------------------------------------------------------------------ */

int co_rpc_in_take(co_rpc_in_t *in, const co_mem_t *mem, uint32_t total,
                   uint32_t off, const uint8_t *p, size_t len)
{
    if (in->started && total != in->total)
        return -2;
    if (!in->started) {
        if (off != 0)
            return 0; /* the first piece leads */
        if (total > 0 && !(in->buf = co_malloc(mem, total)))
            return -1;
        in->total = total;
        in->started = true;
    }
    if (off != in->have || (len == 0 && total != 0))
        return 0; /* in order only: the sender goes back to `have` */
    COHORT_ASSERT(len <= in->total - in->have);
    if (len)
        memcpy(in->buf + off, p, len);
    in->have += (uint32_t)len;
    return in->have == in->total ? 1 : 0;
}

void co_rpc_in_free(co_rpc_in_t *in, const co_mem_t *mem)
{
    co_free(mem, in->buf);
    memset(in, 0, sizeof *in);
}

static void out_free(co_rpc_out_t *o, const co_mem_t *mem)
{
    co_free(mem, o->data);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------ */
/* Completion                                                          */
/* ------------------------------------------------------------------ */

size_t co_rpc_needed(cohort_want_t want, size_t n)
{
    switch (want) {
    case COHORT_WANT_NONE: return 0;
    case COHORT_WANT_FIRST: return n > 0 ? 1 : 0;
    case COHORT_WANT_MAJORITY: return n / 2 + 1;
    default: return n;
    }
}

int co_rpc_verdict(size_t needed, size_t replied, size_t waiting)
{
    if (replied >= needed)
        return COHORT_REQUEST_COMPLETE;
    if (replied + waiting < needed)
        return COHORT_REQUEST_MEMBERS_LEFT;
    return -1;
}

/* ------------------------------------------------------------------ */
/* The reply history                                                   */
/* ------------------------------------------------------------------ */

int co_rpc_history_init(co_rpc_history_t *h, size_t len, size_t bytes,
                        size_t floors, const co_mem_t *mem)
{
    memset(h, 0, sizeof *h);
    h->mem = mem;
    h->cap = len;
    h->max_bytes = bytes;
    h->floors_cap = floors;
    h->slots = co_calloc(mem, len, sizeof *h->slots);
    h->floors = co_calloc(mem, floors, sizeof *h->floors);
    return h->slots && h->floors ? 0 : -1;
}

static size_t held_bytes(const co_rpc_hist_t *e)
{
    return e->in.total + e->out.len;
}

static void entry_clear(co_rpc_history_t *h, co_rpc_hist_t *e)
{
    COHORT_ASSERT(h->bytes >= held_bytes(e) && h->count > 0);
    h->bytes -= held_bytes(e);
    co_rpc_in_free(&e->in, h->mem);
    out_free(&e->out, h->mem);
    memset(e, 0, sizeof *e);
    h->count--;
    while (h->hi > 0 && !h->slots[h->hi - 1].state)
        h->hi--;
}

void co_rpc_history_free(co_rpc_history_t *h)
{
    if (!h->mem)
        return;
    for (size_t i = 0; h->slots && i < h->cap; i++)
        if (h->slots[i].state)
            entry_clear(h, &h->slots[i]);
    co_free(h->mem, h->slots);
    co_free(h->mem, h->floors);
    h->slots = NULL;
    h->floors = NULL;
}

co_rpc_hist_t *co_rpc_history_find(co_rpc_history_t *h, uint32_t id,
                                   uint32_t inc, uint32_t rid)
{
    for (size_t i = 0; i < h->hi; i++) {
        co_rpc_hist_t *e = &h->slots[i];
        if (e->state && e->rid == rid && e->req_id == id &&
            e->req_inc == inc)
            return e;
    }
    return NULL;
}

static co_rpc_floor_t *floor_find(const co_rpc_history_t *h, uint32_t id,
                                  uint32_t inc)
{
    for (size_t i = 0; i < h->n_floors; i++)
        if (h->floors[i].id == id && h->floors[i].inc == inc)
            return &h->floors[i];
    return NULL;
}

/* The requester's record, made (a newer life replaces an older one). */
static co_rpc_floor_t *floor_get(co_rpc_history_t *h, uint32_t id,
                                 uint32_t inc)
{
    co_rpc_floor_t *f = floor_find(h, id, inc);
    if (f)
        return f;
    for (size_t i = 0; i < h->n_floors && !f; i++)
        if (h->floors[i].id == id)
            f = &h->floors[i];
    if (!f && h->n_floors < h->floors_cap)
        f = &h->floors[h->n_floors++];
    if (f)
        *f = (co_rpc_floor_t){.id = id, .inc = inc, .floor = 1};
    return f;
}

int co_rpc_history_classify(const co_rpc_history_t *h, uint32_t id,
                            uint32_t inc, uint32_t rid)
{
    const co_rpc_floor_t *f = floor_find(h, id, inc);
    if (!f)
        return CO_RPC_NEW;
    if (rid < f->floor)
        return CO_RPC_OLD;
    return rid <= f->evicted ? CO_RPC_EVICTED : CO_RPC_NEW;
}

/* The oldest entry in state (0: none). */
static co_rpc_hist_t *oldest(co_rpc_history_t *h, uint8_t state,
                             const co_rpc_hist_t *keep)
{
    co_rpc_hist_t *best = NULL;
    for (size_t i = 0; i < h->hi; i++) {
        co_rpc_hist_t *e = &h->slots[i];
        if (e->state == state && e != keep &&
            (state != CO_HIST_REPLIED || e->out.len > 0) &&
            (!best || e->age < best->age))
            best = e;
    }
    return best;
}

/* Drop a tombstone for good: a repeat of its id is refused from now on. */
static void evict_tombstone(co_rpc_history_t *h, co_rpc_hist_t *e)
{
    co_rpc_floor_t *f = floor_find(h, e->req_id, e->req_inc);
    if (f && e->rid > f->evicted)
        f->evicted = e->rid;
    entry_clear(h, e);
    h->evictions++;
}

/* The reply of e goes; an empty UNANSWERED one takes its place. */
static void drop_reply(co_rpc_history_t *h, co_rpc_hist_t *e)
{
    h->bytes -= e->out.len;
    out_free(&e->out, h->mem);
    e->out.flags = CO_RPC_F_UNANSWERED;
    h->evictions++;
}

bool co_rpc_history_room(co_rpc_history_t *h, const co_rpc_hist_t *keep,
                         size_t need)
{
    if (need > h->max_bytes)
        return false;
    while (h->bytes + need > h->max_bytes) {
        co_rpc_hist_t *e = oldest(h, CO_HIST_REPLIED, keep);
        if (e) {
            /* The reply goes; the requester is told it will not get one
             * (an empty UNANSWERED reply in its place). */
            drop_reply(h, e);
            continue;
        }
        e = oldest(h, CO_HIST_ASSEMBLING, keep);
        if (!e)
            return false;
        entry_clear(h, e); /* its requester sends it again */
        h->evictions++;
    }
    return true;
}

co_rpc_hist_t *co_rpc_history_add(co_rpc_history_t *h, uint32_t id,
                                  uint32_t inc, uint32_t rid, uint8_t state,
                                  size_t need)
{
    COHORT_ASSERT(state == CO_HIST_ASSEMBLING || state == CO_HIST_PENDING);
    if (need > h->max_bytes || !floor_get(h, id, inc))
        return NULL;
    if (h->count == h->cap) {
        co_rpc_hist_t *t = oldest(h, CO_HIST_DONE, NULL);
        if (!t)
            return NULL; /* every entry still owes something */
        evict_tombstone(h, t);
    }
    if (!co_rpc_history_room(h, NULL, need))
        return NULL;
    co_rpc_hist_t *e = NULL;
    for (size_t i = 0; i < h->cap && !e; i++)
        if (!h->slots[i].state)
            e = &h->slots[i];
    COHORT_ASSERT(e != NULL);
    if ((size_t)(e - h->slots) >= h->hi)
        h->hi = (size_t)(e - h->slots) + 1;
    *e = (co_rpc_hist_t){.req_id = id, .req_inc = inc, .rid = rid,
                         .state = state, .age = ++h->next_age};
    h->count++;
    return e;
}

void co_rpc_history_floor(co_rpc_history_t *h, uint32_t id, uint32_t inc,
                          uint32_t floor)
{
    co_rpc_floor_t *f = floor_find(h, id, inc);
    if (!f || floor <= f->floor)
        return;
    f->floor = floor;
    for (size_t i = 0; i < h->hi; i++) {
        co_rpc_hist_t *e = &h->slots[i];
        if (e->state && !e->to_group && e->req_id == id &&
            e->req_inc == inc && e->rid < floor &&
            e->state != CO_HIST_PENDING)
            entry_clear(h, e);
    }
}

void co_rpc_history_settle(co_rpc_history_t *h, co_rpc_hist_t *e)
{
    COHORT_ASSERT(e->state == CO_HIST_REPLIED ||
                  e->state == CO_HIST_PENDING);
    if (e->to_group) {
        entry_clear(h, e);
        return;
    }
    h->bytes -= held_bytes(e);
    co_rpc_in_free(&e->in, h->mem);
    out_free(&e->out, h->mem);
    e->state = CO_HIST_DONE;
}

void co_rpc_history_remove(co_rpc_history_t *h, co_rpc_hist_t *e)
{
    entry_clear(h, e);
}

uint64_t co_rpc_history_expire(co_rpc_history_t *h, uint64_t now_ns,
                               uint64_t idle_ns)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < h->hi; i++) {
        co_rpc_hist_t *e = &h->slots[i];
        if (e->state != CO_HIST_ASSEMBLING)
            continue;
        uint64_t due = e->heard_ns + idle_ns;
        if (due < e->heard_ns)
            due = UINT64_MAX;
        if (now_ns >= due)
            entry_clear(h, e); /* not an eviction: nothing was refused */
        else if (due < next)
            next = due;
    }
    return next;
}

void co_rpc_history_release(co_rpc_history_t *h,
                            bool (*keep)(void *arg, uint32_t id, uint32_t inc),
                            void *arg)
{
    for (size_t i = 0; i < h->hi; i++) {
        co_rpc_hist_t *e = &h->slots[i];
        if (!e->state || keep(arg, e->req_id, e->req_inc))
            continue;
        if (e->state == CO_HIST_ASSEMBLING)
            entry_clear(h, e);
        else if (e->state == CO_HIST_REPLIED && e->out.len > 0)
            drop_reply(h, e);
    }
}

void co_rpc_history_prune(co_rpc_history_t *h,
                          bool (*keep)(void *arg, uint32_t id, uint32_t inc),
                          void *arg)
{
    /* A requester out of the view may come back (a partition heals, or
     * it was only cut off one way) and repeat a request: its record and
     * entries are what keep that from running twice, so they go only
     * when the table is more than half full, the earliest first. */
    for (size_t i = 0; i < h->n_floors && h->n_floors > h->floors_cap / 2;) {
        co_rpc_floor_t f = h->floors[i];
        if (keep(arg, f.id, f.inc)) {
            i++;
            continue;
        }
        for (size_t k = 0; k < h->hi; k++) {
            co_rpc_hist_t *e = &h->slots[k];
            if (e->state && e->state != CO_HIST_PENDING && e->req_id == f.id &&
                e->req_inc == f.inc)
                entry_clear(h, e);
        }
        memmove(&h->floors[i], &h->floors[i + 1],
                (h->n_floors - i - 1) * sizeof h->floors[0]);
        h->n_floors--;
    }
}

/* ------------------------------------------------------------------ */
/* Module life                                                         */
/* ------------------------------------------------------------------ */

int co_rpc_init(co_core_t *core)
{
    co_rpc_t *r = &core->rpc;
    memset(r, 0, sizeof *r);
    r->reqs_cap = core->cfg.rpc_max_requests;
    r->reqs = co_calloc(core->mem, r->reqs_cap, sizeof *r->reqs);
    r->next_rid = 1;
    r->piece_room = core->body_room - CO_RPCW_BYTES;
    if (!r->reqs)
        return -1;
    return co_rpc_history_init(&r->hist, core->cfg.rpc_history_len,
                               core->cfg.rpc_history_bytes,
                               2 * core->cfg.max_members, core->mem);
}

static void req_free(co_core_t *core, co_rpc_req_t *q)
{
    for (size_t i = 0; q->party && i < q->n; i++)
        co_rpc_in_free(&q->party[i].in, core->mem);
    co_free(core->mem, q->party);
    out_free(&q->out, core->mem);
    memset(q, 0, sizeof *q);
    co_rpc_t *r = &core->rpc;
    COHORT_ASSERT(r->n_reqs > 0);
    r->n_reqs--;
    while (r->reqs_hi > 0 && !r->reqs[r->reqs_hi - 1].in_use)
        r->reqs_hi--;
}

void co_rpc_free(co_core_t *core)
{
    co_rpc_t *r = &core->rpc;
    if (!core->mem)
        return;
    for (size_t i = 0; r->reqs && i < r->reqs_cap; i++)
        if (r->reqs[i].in_use)
            req_free(core, &r->reqs[i]);
    co_free(core->mem, r->reqs);
    r->reqs = NULL;
    co_rpc_history_free(&r->hist);
}

/* ------------------------------------------------------------------ */
/* Datagrams                                                           */
/* ------------------------------------------------------------------ */

static uint64_t resend_ns(const co_core_t *core, unsigned idle)
{
    uint64_t t = core->cfg.nack_retry_ns / 4;
    if (t < CO_MS_NS)
        t = CO_MS_NS;
    /* Back off while the other side says nothing (it may be gone: the
     * view change tells), to an eighth of the member timeout. */
    t <<= idle < 6 ? idle : 6;
    uint64_t cap = core->cfg.member_timeout_ns / 8;
    return t > cap && cap > 0 ? cap : t;
}

static bool send_rpcw(co_core_t *core, const co_peer_t *to,
                      const co_rpcw_t *w, uint64_t now_ns)
{
    uint8_t *body = co_unicast_begin(core, CO_TYPE_RPC, &to->addr);
    if (!body)
        return false; /* as the network might lose it: repeated later */
    co_unicast_finish(core, co_rpcw_encode(w, body), now_ns);
    return true;
}

static void send_ack(co_core_t *core, const co_peer_t *to, uint8_t kind,
                     uint32_t rid, uint32_t have, uint32_t floor,
                     uint64_t now_ns)
{
    co_rpcw_t w = {.kind = kind, .rid = rid, .target_id = to->id,
                   .target_inc = to->incarnation, .floor = floor,
                   .offset = have};
    (void)send_rpcw(core, to, &w, now_ns);
}

/* A whole reply to a request to one member is acknowledged a little
 * later (RRA), unless a next request to that member comes first: its
 * floor frees the reply there as well (the implicit acknowledgement of
 * classic RPC), and a run of round trips sends no acknowledgement at
 * all, one datagram and one system call less a round trip. The member
 * holds the reply until then, and resends it only after resend_ns(), at
 * least a millisecond: CO_RPC_ACK_LATER_NS stays well below that.
 * Replies to a group request are acknowledged at once (the group's
 * floor does not free them). */
#define CO_RPC_ACK_LATER_NS (200 * CO_US_NS)

static void owed_send(co_core_t *core, size_t i, uint64_t now_ns);

static void owe_ack(co_core_t *core, const co_peer_t *to, uint32_t rid,
                    uint32_t total, uint64_t now_ns)
{
    co_rpc_t *r = &core->rpc;
    if (r->n_owed == CO_RPC_OWED)
        owed_send(core, 0, now_ns); /* the oldest goes now */
    r->owed[r->n_owed++] = (co_rpc_owed_t){
        .id = to->id, .inc = to->incarnation, .rid = rid, .total = total,
        .due_ns = now_ns + CO_RPC_ACK_LATER_NS};
}

static co_peer_t *view_peer(co_core_t *core, uint32_t id, uint32_t inc);
static uint32_t own_floor(const co_core_t *core);

/* Send owed acknowledgement i (to a member still in the view) and drop
 * it from the list. */
static void owed_send(co_core_t *core, size_t i, uint64_t now_ns)
{
    co_rpc_t *r = &core->rpc;
    COHORT_ASSERT(i < r->n_owed);
    co_rpc_owed_t o = r->owed[i];
    memmove(&r->owed[i], &r->owed[i + 1],
            (r->n_owed - i - 1) * sizeof r->owed[0]);
    r->n_owed--;
    co_peer_t *p = view_peer(core, o.id, o.inc);
    if (p)
        send_ack(core, p, CO_RPCW_REPLY_ACK, o.rid, o.total, own_floor(core),
                 now_ns);
}

/* A request to p goes: its floor is past every reply of p's this member
 * took (none is in flight below it), which frees them at p as RRA would
 * (co_rpc_history_floor): the owed acknowledgements are not needed. */
static void owed_covered(co_core_t *core, const co_peer_t *p)
{
    co_rpc_t *r = &core->rpc;
    uint32_t floor = own_floor(core);
    size_t k = 0;
    for (size_t i = 0; i < r->n_owed; i++) {
        const co_rpc_owed_t *o = &r->owed[i];
        if (o->id == p->id && o->inc == p->incarnation && o->rid < floor)
            continue;
        r->owed[k++] = *o;
    }
    r->n_owed = k;
}

static void owed_tick(co_core_t *core, uint64_t now_ns)
{
    co_rpc_t *r = &core->rpc;
    while (r->n_owed > 0 && now_ns >= r->owed[0].due_ns)
        owed_send(core, 0, now_ns);
}

/* Send o's pieces from its acknowledged edge (again) or from what was
 * not sent yet, within the window. */
static void out_pump(co_core_t *core, const co_peer_t *to, uint8_t kind,
                     uint32_t rid, uint32_t floor, co_rpc_out_t *o,
                     bool again, uint64_t now_ns)
{
    size_t room = core->rpc.piece_room;
    uint64_t limit = (uint64_t)o->acked + CO_RPC_WINDOW * room;
    if (limit > o->len)
        limit = o->len;
    uint32_t off = again || !o->started ? o->acked : o->sent;
    co_rpcw_t w = {.kind = kind, .flags = o->flags, .rid = rid,
                   .target_id = to->id, .target_inc = to->incarnation,
                   .floor = floor, .total = o->len};
    while (!o->complete && (off < limit || (o->len == 0 && !o->started) ||
                            (o->len == 0 && again))) {
        size_t n = o->len - off < room ? o->len - off : room;
        w.offset = off;
        w.piece = o->data ? o->data + off : NULL;
        w.len = n;
        if (!send_rpcw(core, to, &w, now_ns))
            break;
        o->started = true;
        off += (uint32_t)n;
        if (off > o->sent)
            o->sent = off;
        if (o->len == 0)
            break;
    }
    if (!o->complete)
        o->resend_at_ns = now_ns + resend_ns(core, o->idle_rounds);
}

/* An acknowledgement of have bytes of o; true when it is all there. */
static bool out_acked(co_core_t *core, const co_peer_t *to, uint8_t kind,
                      uint32_t rid, uint32_t floor, co_rpc_out_t *o,
                      uint32_t have, uint64_t now_ns)
{
    if (o->complete || have > o->len || !o->started)
        return o->complete;
    if (have == 0 && o->acked > 0) {
        /* The receiver holds none of it any more (it let an idle
         * assembly go, or made room): from the start again. Nothing
         * else says 0 once a piece was taken. */
        o->acked = 0;
        o->sent = 0;
        o->idle_rounds = 0;
        out_pump(core, to, kind, rid, floor, o, true, now_ns);
        return false;
    }
    if (have == o->len) {
        o->acked = have;
        o->complete = true;
        o->resend_at_ns = 0;
        return true;
    }
    if (have > o->acked) {
        o->acked = have;
        o->idle_rounds = 0;
        out_pump(core, to, kind, rid, floor, o, false, now_ns);
    } else if (have == o->acked && now_ns >= o->fast_ok_ns) {
        /* A repeat: a piece was lost. Go back, at most once a quarter
         * resend interval (every piece after it brings the same ACK). */
        out_pump(core, to, kind, rid, floor, o, true, now_ns);
        o->fast_ok_ns = now_ns + resend_ns(core, 0) / 4;
    }
    return false;
}

static bool out_due(const co_rpc_out_t *o, uint64_t now_ns)
{
    return o->started && !o->complete && o->resend_at_ns &&
           now_ns >= o->resend_at_ns;
}

/* The view member (id, inc) other than this one, or NULL. */
static co_peer_t *view_peer(co_core_t *core, uint32_t id, uint32_t inc)
{
    co_peer_t *p = co_peers_find(&core->peers, id);
    return p && p->incarnation == inc && p->in_view ? p : NULL;
}

static bool is_self(const co_core_t *core, uint32_t id, uint32_t inc)
{
    return id == core->cfg.member_id && inc == core->cfg.incarnation;
}

/* Acknowledge a piece taken (rc of co_rpc_in_take) when it completes
 * the payload, was not the next one, or every CO_RPC_ACK_EVERY pieces. */
static bool ack_due(const co_core_t *core, int rc, bool took,
                    const co_rpc_in_t *in)
{
    size_t piece = core->rpc.piece_room * CO_RPC_ACK_EVERY;
    return rc == 1 || !took || (in->have % piece) < core->rpc.piece_room;
}

/* ------------------------------------------------------------------ */
/* Requester                                                           */
/* ------------------------------------------------------------------ */

static co_rpc_req_t *req_find(co_core_t *core, uint32_t rid)
{
    co_rpc_t *r = &core->rpc;
    for (size_t i = 0; i < r->reqs_hi; i++)
        if (r->reqs[i].in_use && r->reqs[i].rid == rid)
            return &r->reqs[i];
    return NULL;
}

/* Nothing of this member's to one member is in flight below this id. */
static uint32_t own_floor(const co_core_t *core)
{
    const co_rpc_t *r = &core->rpc;
    uint32_t f = r->next_rid;
    for (size_t i = 0; i < r->reqs_hi; i++) {
        const co_rpc_req_t *q = &r->reqs[i];
        if (q->in_use && !q->to_group && q->rid < f)
            f = q->rid;
    }
    return f;
}

static co_rpc_party_t *party_of(co_rpc_req_t *q, uint32_t id, uint32_t inc)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->party[i].id == id && q->party[i].inc == inc)
            return &q->party[i];
    return NULL;
}

static void req_done(co_core_t *core, co_rpc_req_t *q, int result)
{
    COHORT_ASSERT(q->in_use);
    struct cohort_stats *s = &core->stats;
    if (result == COHORT_REQUEST_COMPLETE)
        s->requests_completed++;
    else if (result == COHORT_REQUEST_TIMEDOUT)
        s->requests_timed_out++;
    else
        s->requests_failed++;
    if (q->sink)
        q->sink->result = result;
    else
        co_event_request(core, COHORT_EVENT_REQUEST_DONE, q->rid,
                         (cohort_member_t){0, 0}, NULL, 0, COHORT_FIFO, 0,
                         result, (uint32_t)q->replied, (uint32_t)q->needed,
                         q->view_id);
    req_free(core, q);
}

static void req_check(co_core_t *core, co_rpc_req_t *q)
{
    int v = co_rpc_verdict(q->needed, q->replied, q->waiting);
    if (v >= 0 && q->want != COHORT_WANT_NONE)
        req_done(core, q, v);
    else if (q->want == COHORT_WANT_NONE && q->waiting == 0)
        req_done(core, q, COHORT_REQUEST_MEMBERS_LEFT);
}

static void party_gone(co_core_t *core, co_rpc_req_t *q, co_rpc_party_t *p)
{
    if (p->state != CO_PARTY_WAITING)
        return;
    p->state = CO_PARTY_GONE;
    co_rpc_in_free(&p->in, core->mem);
    q->waiting--;
}

/* A whole reply from p (data taken; NULL with flags UNANSWERED). */
static void reply_in(co_core_t *core, co_rpc_req_t *q, co_rpc_party_t *p,
                     uint8_t *data, size_t len, uint32_t flags)
{
    cohort_member_t who = {p->id, p->inc};
    if (flags & COHORT_REQUEST_UNANSWERED) {
        party_gone(core, q, p);
    } else {
        p->state = CO_PARTY_REPLIED;
        q->waiting--;
        q->replied++;
        core->stats.replies_received++;
    }
    co_rpc_sink_t *k = q->sink;
    if (!k) {
        co_event_request(core, COHORT_EVENT_REPLY, q->rid, who, data, len,
                         COHORT_FIFO, flags, 0, 0, 0,
                         co_membership_view_id(core));
    } else {
        k->received++;
        if (k->count < k->max) {
            size_t fit = k->buf_len - k->buf_used;
            if (fit > len)
                fit = len;
            if (fit)
                memcpy(k->buf + k->buf_used, data, fit);
            k->replies[k->count++] = (cohort_reply_t){
                .member = who, .data = k->buf ? k->buf + k->buf_used : NULL,
                .len = fit,
                .flags = flags | (fit < len ? COHORT_REQUEST_TRUNCATED : 0)};
            k->buf_used += fit;
        }
        co_free(core->mem, data);
    }
    req_check(core, q);
}

static void on_reply(co_core_t *core, co_peer_t *from, const co_rpcw_t *w,
                     uint64_t now_ns)
{
    co_rpc_req_t *q = req_find(core, w->rid);
    co_rpc_party_t *p = q ? party_of(q, from->id, from->incarnation) : NULL;
    if (!p || p->state != CO_PARTY_WAITING) {
        /* Done with it (or never asked): let it stop sending. */
        send_ack(core, from, CO_RPCW_REPLY_ACK, w->rid, w->total,
                 own_floor(core), now_ns);
        return;
    }
    if (w->flags & CO_RPC_F_UNANSWERED) {
        send_ack(core, from, CO_RPCW_REPLY_ACK, w->rid, 0, own_floor(core),
                 now_ns);
        reply_in(core, q, p, NULL, 0, COHORT_REQUEST_UNANSWERED);
        return;
    }
    /* A reply holds its request: no need to send that again. */
    q->out.complete = true;
    q->out.resend_at_ns = 0;
    bool last = w->offset + w->len == w->total && w->offset == p->in.have;
    if (last && !q->sink && !co_evq_has_room(&core->evq, w->total)) {
        core->evq.stalled = true;
        return; /* not taken, not acknowledged: sent again */
    }
    int rc = co_rpc_in_take(&p->in, core->mem, w->total, w->offset, w->piece,
                            w->len);
    if (rc == -1)
        return; /* as lost */
    if (rc == -2) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return;
    }
    bool took = rc == 1 || (p->in.started && w->offset + w->len == p->in.have);
    if (rc == 1 && !q->to_group)
        owe_ack(core, from, w->rid, p->in.have, now_ns);
    else if (ack_due(core, rc, took, &p->in))
        send_ack(core, from, CO_RPCW_REPLY_ACK, w->rid, p->in.have,
                 own_floor(core), now_ns);
    if (rc == 1) {
        uint8_t *data = p->in.buf;
        size_t len = p->in.total;
        p->in.buf = NULL;
        co_rpc_in_free(&p->in, core->mem);
        reply_in(core, q, p, data, len, 0);
    }
}

static void on_req_ack(co_core_t *core, co_peer_t *from, const co_rpcw_t *w,
                       uint64_t now_ns)
{
    co_rpc_req_t *q = req_find(core, w->rid);
    if (!q || q->to_group || q->n != 1 || q->party[0].id != from->id ||
        q->party[0].inc != from->incarnation)
        return;
    if (out_acked(core, from, CO_RPCW_REQ, q->rid, own_floor(core), &q->out,
                  w->offset, now_ns) &&
        q->want == COHORT_WANT_NONE) {
        q->replied = 0;
        req_done(core, q, COHORT_REQUEST_COMPLETE); /* accepted: R */
    }
}

static co_rpc_req_t *req_slot(co_core_t *core)
{
    co_rpc_t *r = &core->rpc;
    if (r->n_reqs >= r->reqs_cap)
        return NULL;
    for (size_t i = 0; i < r->reqs_cap; i++)
        if (!r->reqs[i].in_use)
            return &r->reqs[i];
    return NULL;
}

static uint32_t take_rid(co_rpc_t *r)
{
    uint32_t rid = r->next_rid++;
    if (r->next_rid > CO_RPC_ID_MAX)
        r->next_rid = 1;
    return rid;
}

/* The parties of a request: the target, or the view (this member only
 * with self-delivery, as only then does it deliver its own request, and
 * not when the caller blocks for the replies: its own REQUEST event
 * waits in the queue meanwhile). */
static co_rpc_party_t *parties(co_core_t *core, uint32_t to, bool sink,
                               size_t *n)
{
    const co_view_t *v = co_gms_view(&core->gms);
    co_rpc_party_t *p = co_calloc(core->mem, to ? 1 : v->count,
                                  sizeof *p);
    *n = 0;
    if (!p)
        return NULL;
    for (size_t i = 0; i < v->count; i++) {
        const co_vmember_t *m = &v->members[i];
        bool self = is_self(core, m->id, m->incarnation);
        if ((to && m->id != to) ||
            (!to && self && (!core->cfg.self_delivery || sink)))
            continue;
        p[(*n)++] = (co_rpc_party_t){.id = m->id, .inc = m->incarnation};
    }
    return p;
}

static bool in_view(const co_core_t *core, uint32_t id)
{
    const co_view_t *v = co_gms_view(&core->gms);
    for (size_t i = 0; i < v->count; i++)
        if (v->members[i].id == id)
            return true;
    return false;
}

static void serve_local(co_core_t *core, uint32_t rid, cohort_mode_t mode,
                        uint8_t flags, bool to_group, uint8_t *data,
                        size_t len);

static int request_check(co_core_t *core, uint32_t to, cohort_mode_t mode,
                         cohort_want_t want, const void *data, size_t len)
{
    if (core->left)
        return COHORT_ERR_CLOSED;
    if ((!data && len > 0) || (unsigned)want > COHORT_WANT_ALL ||
        mode < COHORT_FIFO || mode > COHORT_SAFE ||
        (to && mode != COHORT_FIFO))
        return COHORT_ERR_INVAL;
    if (len > core->cfg.max_message - CO_RPC_GROUP_BYTES ||
        len > CO_RPC_ID_MAX)
        return COHORT_ERR_TOOBIG;
    if (!co_gms_has_view(&core->gms))
        return COHORT_ERR_STATE;
    if (to && !in_view(core, to))
        return COHORT_ERR_INVAL;
    return 0;
}

/* A blocking caller cannot answer itself. */
static bool sink_ok(const co_core_t *core, uint32_t to,
                    const co_rpc_sink_t *sink)
{
    return !sink || to != core->cfg.member_id;
}

/* A request to the group: a message in mode marked CO_REC_REQUEST. */
static int send_group(co_core_t *core, uint64_t now_ns, cohort_mode_t mode,
                      uint32_t rid, uint8_t flags, const void *data,
                      size_t len)
{
    uint8_t *m = co_malloc(core->mem, CO_RPC_GROUP_BYTES + len);
    if (!m)
        return COHORT_ERR_NOMEM;
    co_rpc_group_encode(m, rid, own_floor(core), flags);
    if (len)
        memcpy(m + CO_RPC_GROUP_BYTES, data, len);
    int rc = co_core_send_request(core, now_ns, mode, m,
                                  CO_RPC_GROUP_BYTES + len);
    co_free(core->mem, m);
    return rc;
}

int co_rpc_request(co_core_t *core, uint64_t now_ns, uint32_t to,
                   cohort_mode_t mode, cohort_want_t want, const void *data,
                   size_t len, uint64_t timeout_ns, co_rpc_sink_t *sink)
{
    int rc = request_check(core, to, mode, want, data, len);
    if (rc != 0)
        return rc;
    if (!sink_ok(core, to, sink))
        return COHORT_ERR_INVAL;
    co_rpc_t *r = &core->rpc;
    co_rpc_req_t *q = req_slot(core);
    if (!q)
        return COHORT_ERR_AGAIN;
    uint8_t flags = want == COHORT_WANT_NONE ? CO_RPC_F_NOREPLY : 0;
    size_t n;
    co_rpc_party_t *party = parties(core, to, sink != NULL, &n);
    uint8_t *copy = NULL;
    bool local = to && to == core->cfg.member_id;
    if (party && to && !local && !(copy = co_malloc(core->mem, len ? len : 1)))
        co_free(core->mem, party), party = NULL;
    if (!party)
        return COHORT_ERR_NOMEM;
    uint32_t rid = r->next_rid;
    if (!to) {
        rc = send_group(core, now_ns, mode, rid,
                        flags | (sink ? CO_RPC_F_NOSELF : 0), data, len);
        if (rc != 0) {
            co_free(core->mem, party);
            return rc;
        }
    }
    (void)take_rid(r);
    core->stats.requests_sent++;
    *q = (co_rpc_req_t){.in_use = true, .rid = rid, .want = (uint8_t)want,
                        .to_group = !to, .view_id = co_membership_view_id(core),
                        .n = n, .party = party, .waiting = n, .flags = flags,
                        .sink = sink,
                        .needed = co_rpc_needed(want, n)};
    q->deadline_ns = timeout_ns == UINT64_MAX ? UINT64_MAX
                                              : now_ns + timeout_ns;
    r->n_reqs++;
    if ((size_t)(q - r->reqs) >= r->reqs_hi)
        r->reqs_hi = (size_t)(q - r->reqs) + 1;
    if (to && !local) {
        if (len)
            memcpy(copy, data, len);
        q->out = (co_rpc_out_t){.data = copy, .len = (uint32_t)len,
                                .flags = flags};
        co_peer_t *p = view_peer(core, party[0].id, party[0].inc);
        if (p) {
            owed_covered(core, p);
            out_pump(core, p, CO_RPCW_REQ, rid, own_floor(core), &q->out,
                     false, now_ns);
        } else {
            q->out.resend_at_ns = now_ns; /* address unknown yet */
        }
    } else if (local) {
        uint8_t *mine = co_malloc(core->mem, len ? len : 1);
        if (mine && len)
            memcpy(mine, data, len);
        if (mine)
            serve_local(core, rid, COHORT_FIFO, flags, false, mine, len);
        else
            party_gone(core, q, &party[0]); /* as a member without room */
    }
    if (!q->in_use || q->rid != rid)
        return (int)rid; /* refused here at once: its DONE is queued */
    if (want == COHORT_WANT_NONE && (!to || local))
        req_done(core, q, COHORT_REQUEST_COMPLETE);
    else
        req_check(core, q);
    return (int)rid;
}

void co_rpc_unsink(co_core_t *core, uint32_t rid)
{
    co_rpc_req_t *q = req_find(core, rid);
    if (q)
        q->sink = NULL;
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

/* The application gets the request (data taken) and e waits for its
 * reply; nothing to wait for when the requester wants none. */
static void give_request(co_core_t *core, co_rpc_hist_t *e,
                         cohort_mode_t mode, uint8_t flags, uint8_t *data,
                         size_t len)
{
    co_rpc_history_t *h = &core->rpc.hist;
    e->noreply = flags & CO_RPC_F_NOREPLY;
    e->state = CO_HIST_PENDING;
    core->stats.requests_served++;
    uint32_t ev = (e->noreply ? COHORT_REQUEST_NOREPLY : 0) |
                  (e->to_group ? COHORT_REQUEST_GROUP : 0);
    co_event_request(core, COHORT_EVENT_REQUEST, e->rid,
                     (cohort_member_t){e->req_id, e->req_inc}, data, len, mode,
                     ev, 0, 0, 0, co_membership_view_id(core));
    if (e->noreply) {
        if (e->to_group)
            co_rpc_history_remove(h, e);
        else
            co_rpc_history_settle(h, e);
    }
}

/* Refuse (never execute) a request: its requester counts this member
 * as one that will not reply. One datagram: a repeat is refused again. */
static void refuse(co_core_t *core, const co_peer_t *to, uint32_t rid,
                   uint64_t now_ns)
{
    core->stats.requests_refused++;
    co_rpcw_t w = {.kind = CO_RPCW_REPLY, .flags = CO_RPC_F_UNANSWERED,
                   .rid = rid, .target_id = to->id,
                   .target_inc = to->incarnation};
    (void)send_rpcw(core, to, &w, now_ns);
}

/* A requester this member serves locally (itself) has its reply or
 * refusal handed over directly. */
static void local_reply(co_core_t *core, uint32_t rid, uint8_t *data,
                        size_t len, uint32_t flags)
{
    co_rpc_req_t *q = req_find(core, rid);
    co_rpc_party_t *p = q ? party_of(q, core->cfg.member_id,
                                     core->cfg.incarnation)
                          : NULL;
    if (!p || p->state != CO_PARTY_WAITING) {
        co_free(core->mem, data);
        return;
    }
    reply_in(core, q, p, data, len, flags);
}

static void serve_local(co_core_t *core, uint32_t rid, cohort_mode_t mode,
                        uint8_t flags, bool to_group, uint8_t *data,
                        size_t len)
{
    co_rpc_history_t *h = &core->rpc.hist;
    uint32_t id = core->cfg.member_id, inc = core->cfg.incarnation;
    co_rpc_hist_t *e = co_rpc_history_find(h, id, inc, rid);
    if (e) {
        co_free(core->mem, data); /* once only */
        core->stats.requests_duplicate++;
        return;
    }
    e = co_rpc_history_add(h, id, inc, rid, CO_HIST_PENDING, 0);
    if (!e) {
        co_free(core->mem, data);
        core->stats.requests_refused++;
        local_reply(core, rid, NULL, 0, COHORT_REQUEST_UNANSWERED);
        return;
    }
    e->to_group = to_group;
    give_request(core, e, mode, flags, data, len);
}

void co_rpc_delivered(co_core_t *core, cohort_member_t who,
                      cohort_mode_t mode, uint8_t *data, size_t len)
{
    uint32_t rid, floor;
    uint8_t flags;
    int rc = co_rpc_group_decode(data, len, &rid, &floor, &flags);
    if (rc != 0) {
        co_free(core->mem, data);
        co_count_drop(core, co_drop_of(rc));
        return;
    }
    len -= CO_RPC_GROUP_BYTES;
    memmove(data, data + CO_RPC_GROUP_BYTES, len);
    if (core->left) {
        co_free(core->mem, data);
        return;
    }
    if (is_self(core, who.id, who.incarnation)) {
        if (flags & CO_RPC_F_NOSELF)
            co_free(core->mem, data); /* not asked: it blocks */
        else
            serve_local(core, rid, mode, flags, true, data, len);
        return;
    }
    co_rpc_history_t *h = &core->rpc.hist;
    co_peer_t *from = co_peers_find(&core->peers, who.id);
    co_rpc_hist_t *e = co_rpc_history_find(h, who.id, who.incarnation, rid);
    if (e || !from || from->incarnation != who.incarnation) {
        /* The reliable stream delivers a message once: a request seen
         * again is a broken sender, and one from a member no longer
         * known has no one to answer. */
        co_free(core->mem, data);
        co_count_drop(core, COHORT_DROP_DUPLICATE);
        return;
    }
    e = (flags & CO_RPC_F_NOREPLY)
            ? NULL
            : co_rpc_history_add(h, who.id, who.incarnation, rid,
                                 CO_HIST_PENDING, 0);
    if (!e && !(flags & CO_RPC_F_NOREPLY)) {
        co_free(core->mem, data);
        refuse(core, from, rid, 0);
        return;
    }
    if (!e) { /* nothing to answer: given, not kept */
        core->stats.requests_served++;
        co_event_request(core, COHORT_EVENT_REQUEST, rid, who, data, len,
                         mode, COHORT_REQUEST_NOREPLY | COHORT_REQUEST_GROUP,
                         0, 0, 0, co_membership_view_id(core));
        return;
    }
    e->to_group = true;
    give_request(core, e, mode, flags, data, len);
}

/* A piece of a request to this member. */
static void on_req(co_core_t *core, co_peer_t *from, const co_rpcw_t *w,
                   uint64_t now_ns)
{
    co_rpc_history_t *h = &core->rpc.hist;
    co_rpc_history_floor(h, from->id, from->incarnation, w->floor);
    co_rpc_hist_t *e = co_rpc_history_find(h, from->id, from->incarnation,
                                           w->rid);
    if (e && e->state != CO_HIST_ASSEMBLING) {
        /* A repeat: never executed again. Say it is held, and send the
         * stored reply again (RR). */
        core->stats.requests_duplicate++;
        if (e->state == CO_HIST_DONE)
            return; /* its reply was acknowledged: a late copy */
        send_ack(core, from, CO_RPCW_REQ_ACK, w->rid, w->total, 0, now_ns);
        if (e->state == CO_HIST_REPLIED)
            out_pump(core, from, CO_RPCW_REPLY, e->rid, 0, &e->out, true,
                     now_ns);
        return;
    }
    if (!e) {
        int c = co_rpc_history_classify(h, from->id, from->incarnation,
                                        w->rid);
        if (c == CO_RPC_OLD) {
            co_count_drop(core, COHORT_DROP_DUPLICATE);
            return;
        }
        if (c == CO_RPC_EVICTED || w->total > h->max_bytes) {
            refuse(core, from, w->rid, now_ns);
            return;
        }
        if (w->offset != 0) {
            /* The first piece leads. This one follows pieces this member
             * no longer holds (an idle assembly expired, or went for
             * room): the requester is told to start again. */
            send_ack(core, from, CO_RPCW_REQ_ACK, w->rid, 0, 0, now_ns);
            return;
        }
        e = co_rpc_history_add(h, from->id, from->incarnation, w->rid,
                               CO_HIST_ASSEMBLING, w->total);
        if (!e) {
            refuse(core, from, w->rid, now_ns);
            return;
        }
    }
    bool last = w->offset + w->len == w->total && w->offset == e->in.have;
    if (last && !co_evq_has_room(&core->evq, w->total)) {
        core->evq.stalled = true;
        return; /* not taken: sent again */
    }
    bool was = e->in.started;
    e->heard_ns = now_ns;
    int rc = co_rpc_in_take(&e->in, core->mem, w->total, w->offset, w->piece,
                            w->len);
    if (!was && e->in.started)
        h->bytes += e->in.total; /* room was made by co_rpc_history_add */
    if (rc == -1 || rc == -2) {
        if (!e->in.started)
            co_rpc_history_remove(h, e); /* nothing taken: never seen */
        if (rc == -2)
            co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return;
    }
    bool took = rc == 1 || w->offset + w->len == e->in.have;
    /* Whole, it is acknowledged by its reply (a round trip saved, and
     * the requester woken once); only a request that wants none, or a
     * repeat, is told "held" at once. */
    bool answered_later = rc == 1 && !(w->flags & CO_RPC_F_NOREPLY);
    if (!answered_later && ack_due(core, rc, took, &e->in))
        send_ack(core, from, CO_RPCW_REQ_ACK, w->rid, e->in.have, 0, now_ns);
    if (rc == 1) {
        uint8_t *data = e->in.buf;
        size_t len = e->in.total;
        e->in.buf = NULL;
        h->bytes -= len;
        co_rpc_in_free(&e->in, core->mem);
        if (!data)
            data = co_malloc(core->mem, 1);
        if (!data) { /* an empty request, and no byte for it */
            co_rpc_history_remove(h, e);
            return;
        }
        give_request(core, e, COHORT_FIFO, w->flags, data, len);
    }
}

static void on_reply_ack(co_core_t *core, co_peer_t *from, const co_rpcw_t *w,
                         uint64_t now_ns)
{
    co_rpc_history_t *h = &core->rpc.hist;
    co_rpc_hist_t *e = co_rpc_history_find(h, from->id, from->incarnation,
                                           w->rid);
    if (e && e->state == CO_HIST_REPLIED &&
        out_acked(core, from, CO_RPCW_REPLY, e->rid, 0, &e->out, w->offset,
                  now_ns))
        co_rpc_history_settle(h, e); /* RRA: the history lets it go */
    co_rpc_history_floor(h, from->id, from->incarnation, w->floor);
}

int co_rpc_reply(co_core_t *core, uint64_t now_ns, cohort_member_t requester,
                 uint32_t rid, const void *data, size_t len)
{
    if (core->left)
        return COHORT_ERR_CLOSED;
    if (!data && len > 0)
        return COHORT_ERR_INVAL;
    co_rpc_history_t *h = &core->rpc.hist;
    co_rpc_hist_t *e = co_rpc_history_find(h, requester.id,
                                           requester.incarnation, rid);
    if (!e || e->state != CO_HIST_PENDING || e->noreply)
        return COHORT_ERR_STATE;
    if (len > core->cfg.max_message || len > h->max_bytes)
        return COHORT_ERR_TOOBIG;
    bool self = is_self(core, requester.id, requester.incarnation);
    co_peer_t *to = self ? NULL
                         : view_peer(core, requester.id,
                                     requester.incarnation);
    if (!self && !to) {
        /* The requester left the view. It may come back and repeat the
         * request: the entry stays (never executed again), with an empty
         * UNANSWERED reply for it then. */
        e->state = CO_HIST_REPLIED;
        e->out = (co_rpc_out_t){.flags = CO_RPC_F_UNANSWERED};
        return COHORT_ERR_STATE;
    }
    uint8_t *copy = co_malloc(core->mem, len ? len : 1);
    if (!copy)
        return COHORT_ERR_NOMEM;
    if (len)
        memcpy(copy, data, len);
    core->stats.replies_sent++;
    if (self) {
        co_rpc_history_settle(h, e);
        local_reply(core, rid, copy, len, 0);
        return 0;
    }
    if (!co_rpc_history_room(h, e, len)) {
        co_free(core->mem, copy);
        core->stats.replies_sent--;
        return COHORT_ERR_TOOBIG;
    }
    e->out = (co_rpc_out_t){.data = copy, .len = (uint32_t)len};
    h->bytes += len;
    e->state = CO_HIST_REPLIED;
    out_pump(core, to, CO_RPCW_REPLY, rid, 0, &e->out, false, now_ns);
    return 0;
}

/* ------------------------------------------------------------------ */
/* In, views, time                                                     */
/* ------------------------------------------------------------------ */

void co_rpc_recv(co_core_t *core, co_peer_t *peer, const uint8_t *body,
                 size_t len, uint64_t now_ns)
{
    co_rpcw_t w;
    int rc = co_rpcw_decode(body, len, &w);
    if (rc != 0) {
        co_count_drop(core, co_drop_of(rc));
        return;
    }
    /* Only between members of this view, for this life of this member.
     * Others are authentic datagrams that are not for it (a member that
     * just left the view, a previous life's, or a copy of another
     * member's): ignored, not counted as bad. */
    if (!peer->in_view || w.target_id != core->cfg.member_id ||
        w.target_inc != core->cfg.incarnation || core->left)
        return;
    switch (w.kind) {
    case CO_RPCW_REQ: on_req(core, peer, &w, now_ns); break;
    case CO_RPCW_REQ_ACK: on_req_ack(core, peer, &w, now_ns); break;
    case CO_RPCW_REPLY: on_reply(core, peer, &w, now_ns); break;
    case CO_RPCW_REPLY_ACK: on_reply_ack(core, peer, &w, now_ns); break;
    default: COHORT_ASSERT(false); /* co_rpcw_decode refused it */
    }
}

static bool keep_member(void *arg, uint32_t id, uint32_t inc)
{
    co_core_t *core = arg;
    return is_self(core, id, inc) || view_peer(core, id, inc) != NULL;
}

void co_rpc_installed(co_core_t *core, uint64_t now_ns)
{
    co_rpc_t *r = &core->rpc;
    (void)now_ns;
    for (size_t i = 0; i < r->reqs_hi; i++) {
        co_rpc_req_t *q = &r->reqs[i];
        if (!q->in_use)
            continue;
        for (size_t k = 0; k < q->n; k++)
            if (!keep_member(core, q->party[k].id, q->party[k].inc))
                party_gone(core, q, &q->party[k]);
        req_check(core, q);
    }
    co_rpc_history_release(&r->hist, keep_member, core);
    co_rpc_history_prune(&r->hist, keep_member, core);
}

void co_rpc_closed(co_core_t *core, uint64_t now_ns)
{
    co_rpc_t *r = &core->rpc;
    while (r->n_owed > 0)
        owed_send(core, 0, now_ns);
    for (size_t i = 0; i < r->reqs_hi; i++)
        if (r->reqs[i].in_use)
            req_done(core, &r->reqs[i], COHORT_REQUEST_CLOSED);
}

void co_rpc_hand_over(const co_core_t *old, co_core_t *core)
{
    const co_rpc_t *r = &old->rpc;
    core->rpc.next_rid = r->next_rid;
    core->rpc.hist.evictions = r->hist.evictions;
    for (size_t i = 0; i < r->reqs_hi; i++) {
        const co_rpc_req_t *q = &r->reqs[i];
        if (!q->in_use)
            continue;
        core->stats.requests_failed++;
        if (q->sink)
            q->sink->result = COHORT_REQUEST_CLOSED;
        else
            co_event_request(core, COHORT_EVENT_REQUEST_DONE, q->rid,
                             (cohort_member_t){0, 0}, NULL, 0, COHORT_FIFO,
                             0, COHORT_REQUEST_CLOSED, (uint32_t)q->replied,
                             (uint32_t)q->needed, q->view_id);
    }
}

/* A requester that still sends a request resends within an eighth of
 * the member timeout (resend_ns): one silent for two member timeouts
 * gave it up. */
static uint64_t assembly_idle_ns(const co_core_t *core)
{
    return 2 * core->cfg.member_timeout_ns;
}

static void tick_req(co_core_t *core, co_rpc_req_t *q, uint64_t now_ns)
{
    if (now_ns >= q->deadline_ns) {
        req_done(core, q, COHORT_REQUEST_TIMEDOUT);
        return;
    }
    if (q->to_group || q->out.complete || q->n != 1 ||
        q->party[0].state != CO_PARTY_WAITING ||
        !q->out.resend_at_ns || now_ns < q->out.resend_at_ns)
        return;
    co_peer_t *p = view_peer(core, q->party[0].id, q->party[0].inc);
    if (!p) {
        q->out.resend_at_ns = now_ns + resend_ns(core, 0);
        return;
    }
    if (q->out.started)
        q->out.idle_rounds++;
    out_pump(core, p, CO_RPCW_REQ, q->rid, own_floor(core), &q->out, true,
             now_ns);
}

void co_rpc_tick(co_core_t *core, uint64_t now_ns)
{
    co_rpc_t *r = &core->rpc;
    owed_tick(core, now_ns);
    /* Both tables are scanned whole: only when they hold something (the
     * core asks on every call, most members never use request-reply). */
    for (size_t i = 0; r->n_reqs > 0 && i < r->reqs_hi; i++)
        if (r->reqs[i].in_use)
            tick_req(core, &r->reqs[i], now_ns);
    co_rpc_history_t *h = &r->hist;
    (void)co_rpc_history_expire(h, now_ns, assembly_idle_ns(core));
    for (size_t i = 0; i < h->hi; i++) {
        co_rpc_hist_t *e = &h->slots[i];
        if (e->state != CO_HIST_REPLIED)
            continue;
        if ((!e->out.started && now_ns >= e->out.resend_at_ns) ||
            out_due(&e->out, now_ns)) {
            co_peer_t *p = view_peer(core, e->req_id, e->req_inc);
            if (!p) {
                /* Out of the view: it may come back (and then takes the
                 * reply); until then, look again now and then. */
                e->out.resend_at_ns = now_ns + resend_ns(core, 6);
                continue;
            }
            if (e->out.started)
                e->out.idle_rounds++;
            out_pump(core, p, CO_RPCW_REPLY, e->rid, 0, &e->out, true,
                     now_ns);
        }
    }
}

static uint64_t earliest(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t co_rpc_deadline(const co_core_t *core)
{
    const co_rpc_t *r = &core->rpc;
    uint64_t t = r->n_owed > 0 ? r->owed[0].due_ns : UINT64_MAX;
    for (size_t i = 0; r->n_reqs > 0 && i < r->reqs_hi; i++) {
        const co_rpc_req_t *q = &r->reqs[i];
        if (!q->in_use)
            continue;
        t = earliest(t, q->deadline_ns);
        if (!q->to_group && !q->out.complete && q->out.resend_at_ns)
            t = earliest(t, q->out.resend_at_ns);
    }
    const co_rpc_history_t *h = &r->hist;
    for (size_t i = 0; i < h->hi; i++) {
        const co_rpc_hist_t *e = &h->slots[i];
        if (e->state == CO_HIST_ASSEMBLING)
            t = earliest(t, e->heard_ns + assembly_idle_ns(core));
        if (e->state == CO_HIST_REPLIED && !e->out.complete)
            t = earliest(t, e->out.resend_at_ns ? e->out.resend_at_ns : 1);
    }
    return t;
}

size_t co_rpc_memory_bytes(const co_core_t *core)
{
    const co_rpc_t *r = &core->rpc;
    size_t n = r->hist.bytes;
    for (size_t i = 0; i < r->reqs_hi; i++) {
        const co_rpc_req_t *q = &r->reqs[i];
        if (!q->in_use)
            continue;
        n += q->out.len;
        for (size_t k = 0; k < q->n; k++)
            n += q->party[k].in.total;
    }
    return n;
}
