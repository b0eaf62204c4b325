/*
 * vs_check.c - the group-membership property checker (see vs_check.h).
 *
 * Layout, all allocated in vs_check_new from the bounds:
 *   recs   one record per incarnation, in the order first seen;
 *   insts  max_views install slots per record (record r, slot s at
 *          r * max_views + s), each naming a distinct view and linked to the
 *          next install of the same view;
 *   views  the distinct (id, members, primary) seen, at most one per
 *          install; a second member list for one id is a second entry
 *          (after an agreement violation), so each install keeps its own;
 *   msgs   the sent messages in send order, each linked to the next one
 *          sent in the same view and to its sender's previous one there;
 *   dv     per record and message: 1 + the slot of the view the record
 *          delivered it in, 0 if it did not;
 *   index  open addressing (sender record, key) -> message, lookup only.
 * Every loop runs over those arrays in index order, never in hash order, so
 * the texts come out the same for the same calls.
 */
#include "vs_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VS_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "vs_check: assertion failed: %s (%s:%d)\n", #cond, \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define NONE UINT32_MAX
#define TEXT_LEN 256
#define LIST_LEN 96 /* a member list inside a text */
#define M_FMT "%" PRIu32 ".%" PRIu32
#define M_ARG(m) (m).id, (m).incarnation

typedef struct vs_rec {
    cohort_member_t who;
    uint32_t nviews;    /* install slots used */
    uint32_t last_sent; /* message index, NONE */
    bool stopped;
} vs_rec_t;

typedef struct vs_inst {
    uint32_t view; /* index in views */
    uint32_t next; /* next install of the same view entry, NONE */
    bool claims;   /* vs_check_joined told which members came along (in
                      `along`, by position in the view) */
} vs_inst_t;

typedef struct vs_view {
    uint64_t id;
    size_t first; /* in pool */
    uint32_t n;
    bool primary;
    uint32_t inst_head, inst_tail; /* installs, in install order */
    uint32_t msg_head, msg_tail;   /* messages sent in it, in send order */
} vs_view_t;

typedef struct vs_msg {
    uint64_t key;
    uint64_t view_id;   /* as the sender said */
    uint32_t sender;    /* record */
    uint32_t view;      /* entry the sender was in, NONE */
    uint32_t next;      /* next message sent in view, NONE */
    uint32_t prev_fifo; /* sender's previous message in view, NONE */
} vs_msg_t;

struct vs_check {
    vs_check_config_t cfg;
    vs_rec_t *recs;
    uint32_t nrecs;
    vs_inst_t *insts;
    vs_view_t *views;
    uint32_t nviews;
    cohort_member_t *pool; /* view member lists */
    size_t npool;
    vs_msg_t *msgs;
    uint32_t nmsgs;
    uint32_t *dv;
    uint32_t *index;
    size_t index_mask;
    uint32_t *peers; /* scratch: records moving V->W with the installer */
    uint32_t *peer_slots;
    uint8_t *along; /* per install, max_members flags: position k of its
                       view came along from the installer's previous view */
    bool full; /* capacity exceeded: checking stopped */
    size_t count;
    size_t counts[VS_PROP_COUNT_];
    char *texts; /* max_texts * TEXT_LEN */
};

static const char *const prop_names[VS_PROP_COUNT_] = {
    [VS_PROP_SELF_INCLUSION] = "self-inclusion",
    [VS_PROP_MONOTONIC] = "monotonic",
    [VS_PROP_AGREEMENT] = "view agreement",
    [VS_PROP_SYNCHRONY] = "virtual synchrony",
    [VS_PROP_SENDING_VIEW] = "sending view",
    [VS_PROP_IN_VIEW] = "in view",
    [VS_PROP_EXACTLY_ONCE] = "exactly once",
    [VS_PROP_FIFO] = "fifo",
    [VS_PROP_SELF_DELIVERY] = "self-delivery",
    [VS_PROP_LIVENESS] = "liveness",
    [VS_PROP_FORGERY] = "forgery",
    [VS_PROP_TRANSITIONAL] = "transitional set",
    [VS_PROP_INPUT] = "input",
    [VS_PROP_CAPACITY] = "checker capacity exceeded",
};

const char *vs_check_prop_name(vs_prop_t p)
{
    VS_ASSERT((unsigned)p < VS_PROP_COUNT_);
    return prop_names[p];
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */
void vs_check_config_init(vs_check_config_t *cfg)
{
    VS_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->max_members = 16;
    cfg->max_views = 64;
    cfg->max_msgs = 4096;
    cfg->max_texts = 32;
    cfg->self_delivery = true;
}

/* a * b, or SIZE_MAX on overflow (calloc then fails). */
static size_t mul(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return SIZE_MAX;
    return a * b;
}

/* One table; refused above 1 GiB, which no test needs, so an absurd
 * configuration fails here rather than in an allocator that aborts
 * (ASan's does by default). */
static void *alloc(size_t n, size_t size)
{
    if (n == SIZE_MAX || (n != 0 && size > ((size_t)1 << 30) / n))
        return NULL;
    return calloc(n == 0 ? 1 : n, size);
}

int vs_check_new(vs_check_t **out, const vs_check_config_t *cfg)
{
    VS_ASSERT(out != NULL && cfg != NULL);
    VS_ASSERT(cfg->max_members >= 1 && cfg->max_views >= 1);
    VS_ASSERT(cfg->max_msgs >= 1);
    /* indices are uint32_t with NONE reserved */
    size_t installs = mul(cfg->max_members, cfg->max_views);
    if (installs >= NONE || cfg->max_msgs >= NONE / 2)
        return -1;
    vs_check_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    c->cfg = *cfg;
    size_t slots = 1;
    while (slots < 2 * cfg->max_msgs)
        slots *= 2;
    c->index_mask = slots - 1;
    c->recs = alloc(cfg->max_members, sizeof *c->recs);
    c->insts = alloc(installs, sizeof *c->insts);
    c->views = alloc(installs, sizeof *c->views);
    c->pool = alloc(mul(installs, cfg->max_members), sizeof *c->pool);
    c->msgs = alloc(cfg->max_msgs, sizeof *c->msgs);
    c->dv = alloc(mul(cfg->max_members, cfg->max_msgs), sizeof *c->dv);
    c->index = alloc(slots, sizeof *c->index);
    c->peers = alloc(cfg->max_members, sizeof *c->peers);
    c->peer_slots = alloc(cfg->max_members, sizeof *c->peer_slots);
    c->texts = alloc(mul(cfg->max_texts, TEXT_LEN), 1);
    c->along = alloc(mul(installs, cfg->max_members), 1);
    if (c->along == NULL || c->recs == NULL || c->insts == NULL || c->views == NULL ||
        c->pool == NULL || c->msgs == NULL || c->dv == NULL ||
        c->index == NULL || c->peers == NULL || c->peer_slots == NULL ||
        c->texts == NULL) {
        vs_check_free(c);
        return -1;
    }
    memset(c->index, 0xff, slots * sizeof *c->index);
    *out = c;
    return 0;
}

void vs_check_free(vs_check_t *c)
{
    if (c == NULL)
        return;
    free(c->recs);
    free(c->insts);
    free(c->views);
    free(c->pool);
    free(c->msgs);
    free(c->dv);
    free(c->index);
    free(c->peers);
    free(c->peer_slots);
    free(c->along);
    free(c->texts);
    free(c);
}

/* ------------------------------------------------------------------ */
/* Reports                                                             */
/* ------------------------------------------------------------------ */
__attribute__((format(printf, 3, 4))) static void
report(vs_check_t *c, vs_prop_t p, const char *fmt, ...)
{
    VS_ASSERT((unsigned)p < VS_PROP_COUNT_);
    if (c->count < c->cfg.max_texts) {
        char *t = c->texts + c->count * TEXT_LEN;
        int k = snprintf(t, TEXT_LEN, "%s: ", prop_names[p]);
        VS_ASSERT(k > 0 && k < TEXT_LEN);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t + k, TEXT_LEN - (size_t)k, fmt, ap);
        va_end(ap);
    }
    c->count++;
    c->counts[p]++;
}

/* Capacity: one report, then every call returns at once. */
__attribute__((format(printf, 2, 3))) static void
overflow(vs_check_t *c, const char *fmt, ...)
{
    VS_ASSERT(!c->full);
    char what[TEXT_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    report(c, VS_PROP_CAPACITY, "%s; checking stopped", what);
    c->full = true;
}

static void fmt_members(char *buf, size_t len, const cohort_member_t *m,
                        size_t n)
{
    VS_ASSERT(len > 8);
    size_t at = 0;
    buf[at++] = '[';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + at, len - at, "%s" M_FMT, i ? " " : "",
                         M_ARG(m[i]));
        if (k < 0 || (size_t)k >= len - at - 5) {
            snprintf(buf + at, len - at, " ...]");
            return;
        }
        at += (size_t)k;
    }
    snprintf(buf + at, len - at, "]");
}

/* ------------------------------------------------------------------ */
/* Look-ups                                                            */
/* ------------------------------------------------------------------ */
static bool same_member(cohort_member_t a, cohort_member_t b)
{
    return a.id == b.id && a.incarnation == b.incarnation;
}

static bool contains(const cohort_member_t *m, size_t n, cohort_member_t who)
{
    for (size_t i = 0; i < n; i++)
        if (same_member(m[i], who))
            return true;
    return false;
}

static uint32_t find_rec(const vs_check_t *c, cohort_member_t who)
{
    for (uint32_t r = 0; r < c->nrecs; r++)
        if (same_member(c->recs[r].who, who))
            return r;
    return NONE;
}

/* The record of who, added if new; NONE (capacity reported) when full. */
static uint32_t rec_of(vs_check_t *c, cohort_member_t who)
{
    uint32_t r = find_rec(c, who);
    if (r != NONE)
        return r;
    if (c->nrecs == c->cfg.max_members) {
        overflow(c, "member " M_FMT " is one more than max_members %zu",
                 M_ARG(who), c->cfg.max_members);
        return NONE;
    }
    r = c->nrecs++;
    c->recs[r].who = who;
    c->recs[r].nviews = 0;
    c->recs[r].last_sent = NONE;
    c->recs[r].stopped = false;
    return r;
}

static vs_inst_t *inst_at(const vs_check_t *c, uint32_t rec, uint32_t slot)
{
    VS_ASSERT(rec < c->nrecs && slot < c->recs[rec].nviews);
    return &c->insts[(size_t)rec * c->cfg.max_views + slot];
}

static const vs_view_t *cur_view(const vs_check_t *c, uint32_t rec)
{
    const vs_rec_t *r = &c->recs[rec];
    VS_ASSERT(r->nviews > 0);
    return &c->views[inst_at(c, rec, r->nviews - 1)->view];
}

static const cohort_member_t *members_of(const vs_check_t *c,
                                         const vs_view_t *v)
{
    return c->pool + v->first;
}

static uint32_t *dv_at(const vs_check_t *c, uint32_t rec, uint32_t msg)
{
    VS_ASSERT(rec < c->nrecs && msg < c->nmsgs);
    return &c->dv[(size_t)rec * c->cfg.max_msgs + msg];
}

static size_t hash(uint32_t rec, uint64_t key)
{
    uint64_t x = key ^ ((uint64_t)rec << 40) ^ 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return (size_t)(x ^ (x >> 31));
}

/* Slot of (rec, key) in the index: holding it, or the empty one to use. */
static size_t index_slot(const vs_check_t *c, uint32_t rec, uint64_t key)
{
    size_t i = hash(rec, key) & c->index_mask;
    for (;;) { /* ends: at most half the slots are used */
        uint32_t m = c->index[i];
        if (m == NONE || (c->msgs[m].sender == rec && c->msgs[m].key == key))
            return i;
        i = (i + 1) & c->index_mask;
    }
}

static uint32_t find_msg(const vs_check_t *c, uint32_t rec, uint64_t key)
{
    return c->index[index_slot(c, rec, key)];
}

/* ------------------------------------------------------------------ */
/* Install                                                             */
/* ------------------------------------------------------------------ */
static bool same_view(const vs_check_t *c, const vs_view_t *v,
                      const cohort_member_t *m, size_t n, bool primary)
{
    if (v->n != n || v->primary != primary)
        return false;
    const cohort_member_t *vm = members_of(c, v);
    for (size_t i = 0; i < n; i++)
        if (!same_member(vm[i], m[i]))
            return false;
    return true;
}

/* The entry of (id, members, primary), added if new; reports a different
 * earlier entry with the same id. */
/* The incarnation of the member whose id is the view id's low half; 0 if
 * the list does not name it. */
static uint32_t proposer_inc(uint64_t id, const cohort_member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].id == (uint32_t)id)
            return m[i].incarnation;
    return 0;
}

static uint32_t view_of(vs_check_t *c, cohort_member_t who, uint64_t id,
                        const cohort_member_t *m, size_t n, bool primary)
{
    uint32_t other = NONE;
    uint32_t pinc = proposer_inc(id, m, n);
    for (uint32_t v = 0; v < c->nviews; v++) {
        if (c->views[v].id != id)
            continue;
        if (c->cfg.proposer_named &&
            proposer_inc(id, members_of(c, &c->views[v]), c->views[v].n) !=
                pinc)
            continue; /* another life's view of the same id */
        if (same_view(c, &c->views[v], m, n, primary))
            return v;
        if (other == NONE)
            other = v;
    }
    if (other != NONE) {
        const vs_view_t *o = &c->views[other];
        uint32_t first = o->inst_head;
        cohort_member_t by = c->recs[first / c->cfg.max_views].who;
        char a[LIST_LEN], b[LIST_LEN];
        fmt_members(a, sizeof a, m, n);
        fmt_members(b, sizeof b, members_of(c, o), o->n);
        report(c, VS_PROP_AGREEMENT,
               "view %" PRIu64 " installed by " M_FMT " as %s%s, by " M_FMT
               " as %s%s",
               id, M_ARG(who), a, primary ? " primary" : "", M_ARG(by), b,
               o->primary ? " primary" : "");
    }
    /* one entry per install at most, and each fits max_members */
    VS_ASSERT(c->nviews < c->cfg.max_members * c->cfg.max_views);
    VS_ASSERT(c->npool + n <= (size_t)(c->nviews + 1) * c->cfg.max_members);
    uint32_t v = c->nviews++;
    vs_view_t *e = &c->views[v];
    e->id = id;
    e->first = c->npool;
    e->n = (uint32_t)n;
    e->primary = primary;
    e->inst_head = e->inst_tail = NONE;
    e->msg_head = e->msg_tail = NONE;
    if (n > 0)
        memcpy(c->pool + c->npool, m, n * sizeof *m);
    c->npool += n;
    return v;
}

/* Does x's delivery of msg count for the set of the view in slot? */
static bool delivered_in(const vs_check_t *c, uint32_t x, uint32_t slot,
                         uint32_t msg)
{
    if (!c->cfg.self_delivery && c->msgs[msg].sender == x)
        return false; /* reported at delivery, not part of the set */
    return *dv_at(c, x, msg) == slot + 1;
}

/* rec moved from the view in slot-1 (V) to the one in slot (W): compare the
 * V messages it delivered with those delivered by the members that moved
 * V->W before it. Each member missing a message the others delivered is
 * reported once: when it moves, or when the first one that has it moves. */
static void check_synchrony(vs_check_t *c, uint32_t rec, uint32_t slot)
{
    VS_ASSERT(slot > 0);
    uint32_t vi = inst_at(c, rec, slot - 1)->view;
    uint32_t wi = inst_at(c, rec, slot)->view;
    const vs_view_t *v = &c->views[vi];
    const vs_view_t *w = &c->views[wi];
    size_t np = 0;
    for (uint32_t i = v->inst_head; i != NONE; i = c->insts[i].next) {
        uint32_t q = (uint32_t)(i / c->cfg.max_views);
        uint32_t qs = (uint32_t)(i % c->cfg.max_views);
        if (q == rec || qs + 1 >= c->recs[q].nviews)
            continue;
        if (inst_at(c, q, qs + 1)->view != wi)
            continue;
        /* a member that went V->W twice (a monotonic violation) counts once,
         * so the peers are distinct records and fit */
        bool seen = false;
        for (size_t k = 0; k < np && !seen; k++)
            seen = c->peers[k] == q;
        if (seen)
            continue;
        VS_ASSERT(np < c->cfg.max_members);
        c->peers[np] = q;
        c->peer_slots[np] = qs;
        np++;
    }
    cohort_member_t me = c->recs[rec].who;
    for (uint32_t m = v->msg_head; m != NONE; m = c->msgs[m].next) {
        const vs_msg_t *msg = &c->msgs[m];
        cohort_member_t s = c->recs[msg->sender].who;
        size_t holder = np;
        for (size_t k = 0; k < np && holder == np; k++)
            if (delivered_in(c, c->peers[k], c->peer_slots[k], m))
                holder = k;
        bool mine = delivered_in(c, rec, slot - 1, m);
        if (holder < np && !mine && msg->sender != rec) {
            report(c, VS_PROP_SYNCHRONY,
                   M_FMT " moved view %" PRIu64 " -> %" PRIu64
                   " without delivering " M_FMT "#%" PRIu64
                   " that " M_FMT " delivered in view %" PRIu64,
                   M_ARG(me), v->id, w->id, M_ARG(s), msg->key,
                   M_ARG(c->recs[c->peers[holder]].who), v->id);
        } else if (holder == np && mine) {
            for (size_t k = 0; k < np; k++) {
                if (c->peers[k] == msg->sender)
                    continue; /* its own message: self-delivery's report */
                report(c, VS_PROP_SYNCHRONY,
                       M_FMT " moved view %" PRIu64 " -> %" PRIu64
                       " without delivering " M_FMT "#%" PRIu64
                       " that " M_FMT " delivered in view %" PRIu64,
                       M_ARG(c->recs[c->peers[k]].who), v->id, w->id,
                       M_ARG(s), msg->key, M_ARG(me), v->id);
            }
        }
    }
}

/* rec left the view in slot-1: it must have delivered what it sent there. */
static void check_self_sent(vs_check_t *c, uint32_t rec, uint32_t slot)
{
    if (!c->cfg.self_delivery)
        return;
    const vs_view_t *v = &c->views[inst_at(c, rec, slot - 1)->view];
    const vs_view_t *w = &c->views[inst_at(c, rec, slot)->view];
    for (uint32_t m = v->msg_head; m != NONE; m = c->msgs[m].next) {
        if (c->msgs[m].sender != rec || *dv_at(c, rec, m) == slot)
            continue;
        report(c, VS_PROP_SELF_DELIVERY,
               M_FMT " sent #%" PRIu64 " in view %" PRIu64
               " and moved to view %" PRIu64 " without delivering it",
               M_ARG(c->recs[rec].who), c->msgs[m].key, v->id, w->id);
    }
}

/* ------------------------------------------------------------------ */
/* Transitional sets                                                   */
/* ------------------------------------------------------------------ */
static uint8_t *along_of(const vs_check_t *c, uint32_t rec, uint32_t slot)
{
    VS_ASSERT(rec < c->nrecs && slot < c->recs[rec].nviews);
    return c->along + ((size_t)rec * c->cfg.max_views + slot) *
                          c->cfg.max_members;
}

/* The slot in which rec installed view entry vi, or NONE. */
static uint32_t slot_of(const vs_check_t *c, uint32_t rec, uint32_t vi)
{
    for (uint32_t s = 0; s < c->recs[rec].nviews; s++)
        if (inst_at(c, rec, s)->view == vi)
            return s;
    return NONE;
}

/* rec (install slot) said q came along from its previous view into the
 * view of that slot; q installed it in slot qs. */
static void check_claim(vs_check_t *c, uint32_t rec, uint32_t slot,
                        uint32_t q, uint32_t qs)
{
    uint32_t from = inst_at(c, rec, slot - 1)->view;
    if (qs > 0 && inst_at(c, q, qs - 1)->view == from)
        return;
    const vs_view_t *w = &c->views[inst_at(c, rec, slot)->view];
    char other[48];
    if (qs == 0)
        snprintf(other, sizeof other, "no view (its first)");
    else
        snprintf(other, sizeof other, "view %" PRIu64,
                 c->views[inst_at(c, q, qs - 1)->view].id);
    report(c, VS_PROP_TRANSITIONAL,
           M_FMT " reported " M_FMT " as coming along from view %" PRIu64
           " into view %" PRIu64 ", but it came from %s",
           M_ARG(c->recs[rec].who), M_ARG(c->recs[q].who),
           c->views[from].id, w->id, other);
}

/* rec just installed slot: check what those who installed the same view
 * before it said of it. */
static void check_claims_about(vs_check_t *c, uint32_t rec, uint32_t slot)
{
    uint32_t wi = inst_at(c, rec, slot)->view;
    const vs_view_t *w = &c->views[wi];
    uint32_t k = 0;
    while (k < w->n && !same_member(members_of(c, w)[k], c->recs[rec].who))
        k++;
    if (k == w->n)
        return; /* not in it: self-inclusion's report */
    for (uint32_t i = w->inst_head; i != NONE; i = c->insts[i].next) {
        uint32_t p = (uint32_t)(i / c->cfg.max_views);
        uint32_t ps = (uint32_t)(i % c->cfg.max_views);
        if (p != rec && c->insts[i].claims && along_of(c, p, ps)[k])
            check_claim(c, p, ps, rec, slot);
    }
}

void vs_check_install(vs_check_t *c, cohort_member_t who, uint64_t view_id,
                      const cohort_member_t *members, size_t n, bool primary)
{
    VS_ASSERT(c != NULL && (members != NULL || n == 0));
    if (c->full)
        return;
    if (n > c->cfg.max_members) {
        overflow(c, "view %" PRIu64 " has %zu members, more than max_members %zu",
                 view_id, n, c->cfg.max_members);
        return;
    }
    uint32_t rec = rec_of(c, who);
    if (rec == NONE)
        return;
    vs_rec_t *r = &c->recs[rec];
    if (r->stopped) {
        report(c, VS_PROP_IN_VIEW,
               M_FMT " installed view %" PRIu64 " after it stopped",
               M_ARG(who), view_id);
        return;
    }
    if (r->nviews == c->cfg.max_views) {
        overflow(c, M_FMT " installed view %" PRIu64
                 ", one more than max_views %zu", M_ARG(who), view_id,
                 c->cfg.max_views);
        return;
    }
    if (!contains(members, n, who)) {
        char list[LIST_LEN];
        fmt_members(list, sizeof list, members, n);
        report(c, VS_PROP_SELF_INCLUSION,
               M_FMT " installed view %" PRIu64 " %s without itself",
               M_ARG(who), view_id, list);
    }
    if (r->nviews > 0 && view_id <= cur_view(c, rec)->id)
        report(c, VS_PROP_MONOTONIC,
               M_FMT " installed view %" PRIu64 " after view %" PRIu64,
               M_ARG(who), view_id, cur_view(c, rec)->id);
    uint32_t vi = view_of(c, who, view_id, members, n, primary);
    uint32_t slot = r->nviews++;
    uint32_t ii = (uint32_t)((size_t)rec * c->cfg.max_views + slot);
    c->insts[ii].view = vi;
    c->insts[ii].next = NONE;
    c->insts[ii].claims = false;
    vs_view_t *v = &c->views[vi];
    if (v->inst_tail == NONE)
        v->inst_head = ii;
    else
        c->insts[v->inst_tail].next = ii;
    v->inst_tail = ii;
    if (slot > 0) {
        check_synchrony(c, rec, slot);
        check_self_sent(c, rec, slot);
    }
    check_claims_about(c, rec, slot);
}

int vs_check_installed_without(const vs_check_t *c, cohort_member_t who,
                               uint64_t view_id, cohort_member_t other)
{
    VS_ASSERT(c != NULL);
    uint32_t rec = find_rec(c, who);
    for (uint32_t s = 0; rec != NONE && s < c->recs[rec].nviews; s++) {
        const vs_view_t *v = &c->views[inst_at(c, rec, s)->view];
        if (v->id == view_id)
            return contains(members_of(c, v), v->n, other) ? 0 : 1;
    }
    return -1;
}

void vs_check_joined(vs_check_t *c, cohort_member_t who, uint64_t view_id,
                     const cohort_member_t *joined, size_t n)
{
    VS_ASSERT(c != NULL && (joined != NULL || n == 0));
    if (c->full)
        return;
    uint32_t rec = find_rec(c, who);
    if (rec == NONE || c->recs[rec].nviews == 0 ||
        cur_view(c, rec)->id != view_id) {
        report(c, VS_PROP_INPUT,
               M_FMT " reported who joined view %" PRIu64
               ", which is not its latest install", M_ARG(who), view_id);
        return;
    }
    uint32_t slot = c->recs[rec].nviews - 1;
    vs_inst_t *in = inst_at(c, rec, slot);
    if (slot == 0 || in->claims)
        return; /* a first view comes from nowhere: it claims nothing */
    const vs_view_t *v = &c->views[inst_at(c, rec, slot - 1)->view];
    const vs_view_t *w = &c->views[in->view];
    uint8_t *along = along_of(c, rec, slot);
    const cohort_member_t *wm = members_of(c, w);
    for (uint32_t k = 0; k < w->n; k++)
        along[k] = !same_member(wm[k], who) &&
                   contains(members_of(c, v), v->n, wm[k]) &&
                   !contains(joined, n, wm[k]);
    in->claims = true;
    for (uint32_t k = 0; k < w->n; k++) {
        uint32_t q = along[k] ? find_rec(c, wm[k]) : NONE;
        uint32_t qs = q == NONE ? NONE : slot_of(c, q, in->view);
        if (qs != NONE)
            check_claim(c, rec, slot, q, qs);
    }
}

/* ------------------------------------------------------------------ */
/* Send, deliver, stop                                                 */
/* ------------------------------------------------------------------ */
void vs_check_sent(vs_check_t *c, cohort_member_t sender, uint64_t key,
                   uint64_t view_id)
{
    VS_ASSERT(c != NULL);
    if (c->full)
        return;
    uint32_t rec = rec_of(c, sender);
    if (rec == NONE)
        return;
    vs_rec_t *r = &c->recs[rec];
    uint32_t vi = NONE;
    if (r->stopped)
        report(c, VS_PROP_IN_VIEW, M_FMT " sent #%" PRIu64 " after it stopped",
               M_ARG(sender), key);
    else if (view_id == 0)
        ; /* held: its view is the one it is first delivered in */
    else if (r->nviews == 0)
        report(c, VS_PROP_IN_VIEW,
               M_FMT " sent #%" PRIu64 " before its first view",
               M_ARG(sender), key);
    else if (cur_view(c, rec)->id != view_id)
        report(c, VS_PROP_IN_VIEW,
               M_FMT " sent #%" PRIu64 " tagged view %" PRIu64
               " while in view %" PRIu64,
               M_ARG(sender), key, view_id, cur_view(c, rec)->id);
    else
        vi = inst_at(c, rec, r->nviews - 1)->view;
    size_t at = index_slot(c, rec, key);
    if (c->index[at] != NONE) {
        report(c, VS_PROP_INPUT, M_FMT " sent #%" PRIu64 " twice",
               M_ARG(sender), key);
        return;
    }
    if (c->nmsgs == c->cfg.max_msgs) {
        overflow(c, M_FMT "#%" PRIu64 " is one more than max_msgs %zu",
                 M_ARG(sender), key, c->cfg.max_msgs);
        return;
    }
    uint32_t m = c->nmsgs++;
    vs_msg_t *msg = &c->msgs[m];
    msg->key = key;
    msg->view_id = view_id;
    msg->sender = rec;
    msg->view = vi;
    msg->next = NONE;
    msg->prev_fifo = NONE;
    if (vi != NONE) {
        if (r->last_sent != NONE && c->msgs[r->last_sent].view == vi)
            msg->prev_fifo = r->last_sent;
        vs_view_t *v = &c->views[vi];
        if (v->msg_tail == NONE)
            v->msg_head = m;
        else
            c->msgs[v->msg_tail].next = m;
        v->msg_tail = m;
    }
    if (view_id != 0)
        r->last_sent = m;
    c->index[at] = m;
}

/* A held send (view 0) is placed in the view of its first delivery: that
 * receiver's current view, when it has the id the delivery names (else
 * it stays outside every view, and the delivery is judged as such). It
 * follows the sender's last message already placed in that view. */
static void place_held(vs_check_t *c, uint32_t m, uint32_t rec,
                       uint64_t view_id)
{
    vs_msg_t *msg = &c->msgs[m];
    msg->view_id = view_id;
    if (c->recs[rec].nviews == 0 || cur_view(c, rec)->id != view_id)
        return;
    uint32_t vi = inst_at(c, rec, c->recs[rec].nviews - 1)->view;
    vs_view_t *v = &c->views[vi];
    msg->view = vi;
    /* In send order (keys grow with it) among the sender's messages of
     * that view, some of which may have been placed since it was sent. */
    uint32_t succ = NONE;
    for (uint32_t k = v->msg_head; k != NONE; k = c->msgs[k].next) {
        const vs_msg_t *o = &c->msgs[k];
        if (o->sender != msg->sender)
            continue;
        if (o->key < msg->key &&
            (msg->prev_fifo == NONE || o->key > c->msgs[msg->prev_fifo].key))
            msg->prev_fifo = k;
        if (o->key > msg->key && (succ == NONE || o->key < c->msgs[succ].key))
            succ = k;
    }
    if (succ != NONE && (c->msgs[succ].prev_fifo == NONE ||
                         c->msgs[c->msgs[succ].prev_fifo].key < msg->key))
        c->msgs[succ].prev_fifo = m;
    if (v->msg_tail == NONE)
        v->msg_head = m;
    else
        c->msgs[v->msg_tail].next = m;
    v->msg_tail = m;
}

void vs_check_delivered(vs_check_t *c, cohort_member_t receiver,
                        cohort_member_t sender, uint64_t key,
                        uint64_t view_id)
{
    VS_ASSERT(c != NULL);
    if (c->full)
        return;
    uint32_t rec = find_rec(c, receiver);
    if (rec == NONE || c->recs[rec].nviews == 0 || c->recs[rec].stopped) {
        report(c, VS_PROP_IN_VIEW,
               M_FMT " delivered " M_FMT "#%" PRIu64 " %s", M_ARG(receiver),
               M_ARG(sender), key,
               rec != NONE && c->recs[rec].stopped ? "after it stopped"
                                                   : "before its first view");
        return;
    }
    uint32_t srec = find_rec(c, sender);
    uint32_t m = srec == NONE ? NONE : find_msg(c, srec, key);
    if (m == NONE) {
        report(c, VS_PROP_FORGERY,
               M_FMT " delivered " M_FMT "#%" PRIu64 " (view %" PRIu64
               "), which was never sent",
               M_ARG(receiver), M_ARG(sender), key, view_id);
        return;
    }
    if (c->msgs[m].view_id == 0 && c->msgs[m].view == NONE)
        place_held(c, m, rec, view_id);
    const vs_msg_t *msg = &c->msgs[m];
    const vs_view_t *cur = cur_view(c, rec);
    uint32_t *d = dv_at(c, rec, m);
    if (*d != 0) {
        report(c, VS_PROP_EXACTLY_ONCE,
               M_FMT " delivered " M_FMT "#%" PRIu64
               " again in view %" PRIu64 " (first in view %" PRIu64 ")",
               M_ARG(receiver), M_ARG(sender), key, cur->id,
               c->views[inst_at(c, rec, *d - 1)->view].id);
        return;
    }
    *d = c->recs[rec].nviews; /* 1 + current slot */
    if (view_id != msg->view_id || cur->id != msg->view_id) {
        report(c, VS_PROP_SENDING_VIEW,
               M_FMT " delivered " M_FMT "#%" PRIu64 " in view %" PRIu64
               ", tagged view %" PRIu64 ", sent in view %" PRIu64,
               M_ARG(receiver), M_ARG(sender), key, cur->id, view_id,
               msg->view_id);
        return;
    }
    if (srec != rec && !contains(members_of(c, cur), cur->n, sender)) {
        report(c, VS_PROP_IN_VIEW,
               M_FMT " delivered " M_FMT "#%" PRIu64 " in view %" PRIu64
               ", which does not contain " M_FMT,
               M_ARG(receiver), M_ARG(sender), key, cur->id, M_ARG(sender));
        return;
    }
    if (srec == rec && !c->cfg.self_delivery) {
        report(c, VS_PROP_SELF_DELIVERY,
               M_FMT " delivered its own #%" PRIu64
               " though self-delivery is off",
               M_ARG(receiver), key);
        return;
    }
    if (msg->prev_fifo != NONE && *dv_at(c, rec, msg->prev_fifo) == 0)
        report(c, VS_PROP_FIFO,
               M_FMT " delivered " M_FMT "#%" PRIu64 " before " M_FMT
               "#%" PRIu64 ", sent before it in view %" PRIu64,
               M_ARG(receiver), M_ARG(sender), key, M_ARG(sender),
               c->msgs[msg->prev_fifo].key, msg->view_id);
}

void vs_check_stopped(vs_check_t *c, cohort_member_t who)
{
    VS_ASSERT(c != NULL);
    if (c->full)
        return;
    uint32_t rec = find_rec(c, who);
    if (rec != NONE)
        c->recs[rec].stopped = true;
}

/* ------------------------------------------------------------------ */
/* End of run                                                          */
/* ------------------------------------------------------------------ */
/* live[i]'s record if it is alive with a view, else NONE (reported). */
static uint32_t live_rec(vs_check_t *c, cohort_member_t who)
{
    uint32_t rec = find_rec(c, who);
    if (rec == NONE || c->recs[rec].nviews == 0) {
        report(c, VS_PROP_LIVENESS,
               M_FMT " is live at the end but never installed a view",
               M_ARG(who));
        return NONE;
    }
    if (c->recs[rec].stopped) {
        report(c, VS_PROP_LIVENESS, M_FMT " is called live but it stopped",
               M_ARG(who));
        return NONE;
    }
    return rec;
}

/* Every live member at view vi delivered each message sent in it. */
static void check_drained(vs_check_t *c, const cohort_member_t *live,
                          size_t n, uint32_t vi)
{
    const vs_view_t *v = &c->views[vi];
    for (uint32_t m = v->msg_head; m != NONE; m = c->msgs[m].next) {
        const vs_msg_t *msg = &c->msgs[m];
        cohort_member_t s = c->recs[msg->sender].who;
        for (size_t i = 0; i < n; i++) {
            uint32_t rec = find_rec(c, live[i]);
            if (rec == NONE || c->recs[rec].nviews == 0 ||
                c->recs[rec].stopped)
                continue;
            uint32_t slot = c->recs[rec].nviews - 1;
            if (inst_at(c, rec, slot)->view != vi)
                continue;
            if (*dv_at(c, rec, m) == slot + 1)
                continue;
            if (msg->sender != rec)
                report(c, VS_PROP_LIVENESS,
                       M_FMT " never delivered " M_FMT "#%" PRIu64
                       " sent in its final view %" PRIu64,
                       M_ARG(live[i]), M_ARG(s), msg->key, v->id);
            else if (c->cfg.self_delivery)
                report(c, VS_PROP_SELF_DELIVERY,
                       M_FMT " never delivered its own #%" PRIu64
                       " sent in its final view %" PRIu64,
                       M_ARG(live[i]), msg->key, v->id);
        }
    }
}

void vs_check_final(vs_check_t *c, const cohort_member_t *live, size_t n)
{
    VS_ASSERT(c != NULL && (live != NULL || n == 0));
    if (c->full || n == 0)
        return;
    /* the newest last view among them is the one all should share */
    uint32_t best = NONE;
    size_t best_i = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t rec = live_rec(c, live[i]);
        if (rec == NONE)
            continue;
        const vs_view_t *v = cur_view(c, rec);
        if (best == NONE || v->id > c->views[best].id) {
            best = inst_at(c, rec, c->recs[rec].nviews - 1)->view;
            best_i = i;
        }
    }
    if (best == NONE)
        return;
    const vs_view_t *bv = &c->views[best];
    for (size_t i = 0; i < n; i++) {
        uint32_t rec = find_rec(c, live[i]);
        if (rec == NONE || c->recs[rec].nviews == 0 || c->recs[rec].stopped)
            continue;
        uint32_t vi = inst_at(c, rec, c->recs[rec].nviews - 1)->view;
        if (vi != best)
            report(c, VS_PROP_LIVENESS,
                   M_FMT " ended in view %" PRIu64 ", " M_FMT
                   " in view %" PRIu64,
                   M_ARG(live[i]), c->views[vi].id, M_ARG(live[best_i]),
                   bv->id);
    }
    const cohort_member_t *bm = members_of(c, bv);
    for (size_t i = 0; i < bv->n; i++)
        if (!contains(live, n, bm[i]))
            report(c, VS_PROP_LIVENESS,
                   "final view %" PRIu64 " lists " M_FMT
                   ", which is not in the live component",
                   bv->id, M_ARG(bm[i]));
    for (size_t i = 0; i < n; i++)
        if (!contains(bm, bv->n, live[i]))
            report(c, VS_PROP_LIVENESS,
                   M_FMT " is live and connected but not in final view %" PRIu64,
                   M_ARG(live[i]), bv->id);
    check_drained(c, live, n, best);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */
size_t vs_check_violations(const vs_check_t *c)
{
    VS_ASSERT(c != NULL);
    return c->count;
}

size_t vs_check_count(const vs_check_t *c, vs_prop_t p)
{
    VS_ASSERT(c != NULL && (unsigned)p < VS_PROP_COUNT_);
    return c->counts[p];
}

const char *vs_check_violation(const vs_check_t *c, size_t i)
{
    VS_ASSERT(c != NULL);
    if (i >= c->count || i >= c->cfg.max_texts)
        return NULL;
    return c->texts + i * TEXT_LEN;
}
