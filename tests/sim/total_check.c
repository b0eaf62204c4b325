/*
 * total_check.c - the total-order property checker (see total_check.h).
 *
 * Tables, each grown up to its configured bound:
 *   recs   one per member incarnation: its current view, its TOTAL/SAFE
 *          sequence there (position p at [p-1]), the last reliable seq
 *          it delivered of each sender;
 *   views  one per distinct (id, proposer incarnation): members, the
 *          canonical regular sequence (the first member to deliver a
 *          position sets it) and the members that left it for a next
 *          view, each with a copy of its sequence there;
 *   index  open addressing: (view, message) -> canonical position, and
 *          (holder, message) -> held. Lookup only: every loop runs over
 *          the arrays in index order.
 */
#include "total_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TC_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "total_check: assertion failed: %s (%s:%d)\n",    \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define NONE UINT32_MAX
#define TEXT_LEN 300
#define M_FMT "%" PRIu32 ".%" PRIu32
#define M_ARG(m) (m).id, (m).incarnation
#define TAG_POS 1u
#define TAG_HELD 2u

typedef struct tc_ent {
    cohort_member_t sender;
    uint64_t key;
    uint8_t mode, flags;
    uint32_t by; /* canonical: record that set it */
} tc_ent_t;

typedef struct tc_seq {
    tc_ent_t *e;
    uint32_t n, cap;
} tc_seq_t;

typedef struct tc_dep {
    uint32_t rec, next; /* who left, for which view */
    tc_seq_t seq;       /* what it delivered in the view */
} tc_dep_t;

typedef struct tc_view {
    uint64_t id;
    uint32_t pinc;
    cohort_member_t *members;
    uint32_t n;
    tc_seq_t canon;
    tc_dep_t *dep;
    uint32_t ndep, capdep;
} tc_view_t;

typedef struct tc_last {
    cohort_member_t sender;
    uint64_t seq;
} tc_last_t;

typedef struct tc_rec {
    cohort_member_t who;
    bool stopped, transitional;
    bool superseded; /* its current view's sequence is a prefix only */
    uint32_t view; /* NONE before the first */
    tc_seq_t seq;
    tc_last_t *last;
    uint32_t nlast, caplast;
} tc_rec_t;

typedef struct tc_slot {
    uint64_t a, b, key; /* a: tag << 32 | view or record; b: sender */
    uint32_t val;       /* NONE: empty */
} tc_slot_t;

struct total_check {
    total_check_config_t cfg;
    tc_rec_t *recs;
    uint32_t nrecs;
    tc_view_t *views;
    uint32_t nviews;
    size_t entries; /* sequence entries held, all tables */
    tc_slot_t *index;
    size_t index_mask, index_used;
    bool full;
    size_t count;
    size_t counts[TOTAL_PROP_COUNT_];
    char *texts;
};

static const char *const prop_names[TOTAL_PROP_COUNT_] = {
    [TOTAL_PROP_SENDER_ORDER] = "sender order",
    [TOTAL_PROP_NUMBERING] = "numbering",
    [TOTAL_PROP_AGREEMENT] = "total agreement",
    [TOTAL_PROP_TRANSITION] = "total transition",
    [TOTAL_PROP_TRANSITIONAL] = "transitional",
    [TOTAL_PROP_UNIFORM] = "safe uniform",
    [TOTAL_PROP_HELD] = "safe held",
    [TOTAL_PROP_INPUT] = "input",
    [TOTAL_PROP_CAPACITY] = "checker capacity exceeded",
};

const char *total_check_prop_name(total_prop_t p)
{
    TC_ASSERT((unsigned)p < TOTAL_PROP_COUNT_);
    return prop_names[p];
}

/* ------------------------------------------------------------------ */
/* Set-up and reports                                                  */
/* ------------------------------------------------------------------ */
void total_check_config_init(total_check_config_t *cfg)
{
    TC_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->max_members = 64;
    cfg->max_views = 4096;
    cfg->max_entries = (size_t)1 << 20;
    cfg->max_texts = 32;
    cfg->proposer_named = true;
    cfg->positions_shared = true;
}

int total_check_new(total_check_t **out, const total_check_config_t *cfg)
{
    TC_ASSERT(out != NULL && cfg != NULL);
    TC_ASSERT(cfg->max_members >= 1 && cfg->max_views >= 1 &&
              cfg->max_entries >= 1);
    if (cfg->max_members >= NONE || cfg->max_views >= NONE ||
        cfg->max_entries >= ((size_t)1 << 28))
        return -1;
    total_check_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    c->cfg = *cfg;
    size_t slots = 64;
    while (slots < 4 * cfg->max_entries)
        slots *= 2;
    c->index_mask = slots - 1;
    c->recs = calloc(cfg->max_members, sizeof *c->recs);
    c->views = calloc(cfg->max_views, sizeof *c->views);
    c->index = calloc(slots, sizeof *c->index);
    c->texts = calloc(cfg->max_texts ? cfg->max_texts : 1, TEXT_LEN);
    if (c->recs == NULL || c->views == NULL || c->index == NULL ||
        c->texts == NULL) {
        total_check_free(c);
        return -1;
    }
    for (size_t i = 0; i < slots; i++)
        c->index[i].val = NONE;
    *out = c;
    return 0;
}

void total_check_free(total_check_t *c)
{
    if (c == NULL)
        return;
    for (uint32_t r = 0; c->recs && r < c->nrecs; r++) {
        free(c->recs[r].seq.e);
        free(c->recs[r].last);
    }
    for (uint32_t v = 0; c->views && v < c->nviews; v++) {
        free(c->views[v].members);
        free(c->views[v].canon.e);
        for (uint32_t d = 0; d < c->views[v].ndep; d++)
            free(c->views[v].dep[d].seq.e);
        free(c->views[v].dep);
    }
    free(c->recs);
    free(c->views);
    free(c->index);
    free(c->texts);
    free(c);
}

__attribute__((format(printf, 3, 4))) static void
report(total_check_t *c, total_prop_t p, const char *fmt, ...)
{
    TC_ASSERT((unsigned)p < TOTAL_PROP_COUNT_);
    if (c->count < c->cfg.max_texts) {
        char *t = c->texts + c->count * TEXT_LEN;
        int k = snprintf(t, TEXT_LEN, "%s: ", prop_names[p]);
        TC_ASSERT(k > 0 && k < TEXT_LEN);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t + k, TEXT_LEN - (size_t)k, fmt, ap);
        va_end(ap);
    }
    c->count++;
    c->counts[p]++;
}

static void overflow(total_check_t *c, const char *what)
{
    TC_ASSERT(!c->full);
    report(c, TOTAL_PROP_CAPACITY, "%s; checking stopped", what);
    c->full = true;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */
static bool same_member(cohort_member_t a, cohort_member_t b)
{
    return a.id == b.id && a.incarnation == b.incarnation;
}

static bool same_ent(const tc_ent_t *a, const tc_ent_t *b)
{
    return same_member(a->sender, b->sender) && a->key == b->key &&
           a->mode == b->mode;
}

/* Grow *p (n used of *cap elements of size) by one; false when the
 * checker's entry budget or memory runs out (capacity reported). */
static bool grow(total_check_t *c, void **p, uint32_t n, uint32_t *cap,
                 size_t size, bool entry)
{
    if (entry && c->entries >= c->cfg.max_entries) {
        overflow(c, "more TOTAL/SAFE deliveries than max_entries");
        return false;
    }
    if (n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 8;
        void *q = realloc(*p, (size_t)ncap * size);
        if (q == NULL) {
            overflow(c, "out of memory");
            return false;
        }
        *p = q;
        *cap = ncap;
    }
    c->entries += entry;
    return true;
}

static bool seq_push(total_check_t *c, tc_seq_t *s, const tc_ent_t *e)
{
    if (!grow(c, (void **)&s->e, s->n, &s->cap, sizeof *s->e, true))
        return false;
    s->e[s->n++] = *e;
    return true;
}

static uint32_t find_rec(const total_check_t *c, cohort_member_t who)
{
    for (uint32_t r = 0; r < c->nrecs; r++)
        if (same_member(c->recs[r].who, who))
            return r;
    return NONE;
}

static uint32_t rec_of(total_check_t *c, cohort_member_t who)
{
    uint32_t r = find_rec(c, who);
    if (r != NONE || c->full)
        return r;
    if (c->nrecs == c->cfg.max_members) {
        overflow(c, "one member more than max_members");
        return NONE;
    }
    r = c->nrecs++;
    memset(&c->recs[r], 0, sizeof c->recs[r]);
    c->recs[r].who = who;
    c->recs[r].view = NONE;
    return r;
}

static uint64_t mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static tc_slot_t *slot_of(const total_check_t *c, uint64_t a, uint64_t b,
                          uint64_t key)
{
    size_t i = (size_t)mix(a * 0x9e3779b97f4a7c15ull ^ mix(b ^ mix(key))) &
               c->index_mask;
    for (;;) { /* ends: at most a quarter of the slots are used */
        tc_slot_t *s = &c->index[i];
        if (s->val == NONE || (s->a == a && s->b == b && s->key == key))
            return s;
        i = (i + 1) & c->index_mask;
    }
}

static uint64_t member_word(cohort_member_t m)
{
    return (uint64_t)m.id << 32 | m.incarnation;
}

/* Look (a, b, key) up; NONE when absent. */
static uint32_t index_get(const total_check_t *c, uint32_t tag, uint32_t at,
                          cohort_member_t s, uint64_t key)
{
    return slot_of(c, (uint64_t)tag << 32 | at, member_word(s), key)->val;
}

static bool index_put(total_check_t *c, uint32_t tag, uint32_t at,
                      cohort_member_t s, uint64_t key, uint32_t val)
{
    tc_slot_t *sl = slot_of(c, (uint64_t)tag << 32 | at, member_word(s), key);
    if (sl->val == NONE) {
        if (4 * (c->index_used + 1) > c->index_mask + 1) {
            overflow(c, "index full (max_entries)");
            return false;
        }
        c->index_used++;
        sl->a = (uint64_t)tag << 32 | at;
        sl->b = member_word(s);
        sl->key = key;
    }
    sl->val = val;
    return true;
}

static uint32_t proposer_inc(uint64_t id, const cohort_member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].id == (uint32_t)id)
            return m[i].incarnation;
    return 0;
}

/* The entry of view (id, proposer), added with its members if new. */
static uint32_t view_of(total_check_t *c, uint64_t id,
                        const cohort_member_t *m, size_t n)
{
    uint32_t pinc = c->cfg.proposer_named ? proposer_inc(id, m, n) : 0;
    for (uint32_t v = 0; v < c->nviews; v++)
        if (c->views[v].id == id && c->views[v].pinc == pinc)
            return v;
    if (c->nviews == c->cfg.max_views) {
        overflow(c, "one view more than max_views");
        return NONE;
    }
    tc_view_t *e = &c->views[c->nviews];
    memset(e, 0, sizeof *e);
    e->id = id;
    e->pinc = pinc;
    e->members = calloc(n ? n : 1, sizeof *m);
    if (e->members == NULL) {
        overflow(c, "out of memory");
        return NONE;
    }
    if (n)
        memcpy(e->members, m, n * sizeof *m);
    e->n = (uint32_t)n;
    return c->nviews++;
}

static const char *mode_name(uint8_t m)
{
    return m == COHORT_SAFE ? "SAFE" : m == COHORT_TOTAL ? "TOTAL" : "other";
}

/* ------------------------------------------------------------------ */
/* Leaving a view: rules 4 and 5                                       */
/* ------------------------------------------------------------------ */

/* s holds e: at p, where it is when every member holds the same
 * messages, or elsewhere, where a member that lacks one ordered before it
 * (cut off with its sender by a partition) delivers it: uniformity is
 * about the message, the order about pairs (rule 3). */
static bool seq_has(const tc_seq_t *s, const tc_ent_t *e, uint32_t p)
{
    if (p < s->n && same_ent(&s->e[p], e))
        return true;
    for (uint32_t i = 0; i < s->n; i++)
        if (same_ent(&s->e[i], e))
            return true;
    return false;
}

/* x's sequence in view v holds every SAFE message of v's canonical
 * sequence at its position. */
static void check_uniform(total_check_t *c, uint32_t x, uint32_t v,
                          const char *how)
{
    const tc_view_t *vw = &c->views[v];
    const tc_seq_t *s = &c->recs[x].seq;
    if (!c->cfg.positions_shared)
        return;
    for (uint32_t p = 0; p < vw->canon.n; p++) {
        const tc_ent_t *e = &vw->canon.e[p];
        if (e->mode != COHORT_SAFE || seq_has(s, e, p))
            continue;
        report(c, TOTAL_PROP_UNIFORM,
               M_FMT " %s view %" PRIu64 " without SAFE " M_FMT "#%" PRIu64
               " at %" PRIu32 ", which " M_FMT " delivered there",
               M_ARG(c->recs[x].who), how, vw->id, M_ARG(e->sender), e->key,
               p + 1, M_ARG(c->recs[e->by].who));
    }
}

/* The first position where a and b differ, or NONE. Flags may differ:
 * one member may confirm a SAFE message's stability before the view
 * ends (regular) and another only after (transitional). */
static uint32_t first_diff(const tc_seq_t *a, const tc_seq_t *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t p = 0; p < n; p++)
        if (!same_ent(&a->e[p], &b->e[p]))
            return p;
    return a->n == b->n ? NONE : n;
}

static void describe(char *buf, size_t len, const tc_seq_t *s, uint32_t p)
{
    if (p >= s->n) {
        snprintf(buf, len, "nothing");
        return;
    }
    snprintf(buf, len, M_FMT "#%" PRIu64 " %s%s", M_ARG(s->e[p].sender),
             s->e[p].key, mode_name(s->e[p].mode),
             s->e[p].flags & COHORT_MESSAGE_TRANSITIONAL ? " transitional"
                                                          : "");
}

/* x leaves view v for view w: same sequence as the first that did. */
static void depart(total_check_t *c, uint32_t x, uint32_t v, uint32_t w)
{
    tc_view_t *vw = &c->views[v];
    tc_rec_t *r = &c->recs[x];
    check_uniform(c, x, v, "left");
    for (uint32_t d = 0; c->cfg.positions_shared && d < vw->ndep; d++) {
        const tc_dep_t *o = &vw->dep[d];
        if (o->next != w)
            continue;
        uint32_t p = first_diff(&o->seq, &r->seq);
        if (p != NONE) {
            char a[80], b[80];
            describe(a, sizeof a, &r->seq, p);
            describe(b, sizeof b, &o->seq, p);
            report(c, TOTAL_PROP_TRANSITION,
                   M_FMT " and " M_FMT " moved view %" PRIu64 " -> %" PRIu64
                   " with different sequences: at %" PRIu32 " %s (of %" PRIu32
                   ") against %s (of %" PRIu32 ")",
                   M_ARG(r->who), M_ARG(c->recs[o->rec].who), vw->id,
                   c->views[w].id, p + 1, a, r->seq.n, b, o->seq.n);
        }
        break;
    }
    if (!grow(c, (void **)&vw->dep, vw->ndep, &vw->capdep, sizeof *vw->dep,
              false))
        return;
    tc_dep_t *d = &vw->dep[vw->ndep++];
    d->rec = x;
    d->next = w;
    d->seq = r->seq; /* the record's sequence moves here */
    memset(&r->seq, 0, sizeof r->seq);
}

void total_check_install(total_check_t *c, cohort_member_t who,
                         uint64_t view_id, const cohort_member_t *members,
                         size_t n)
{
    TC_ASSERT(c != NULL && (members != NULL || n == 0));
    if (c->full)
        return;
    uint32_t x = rec_of(c, who);
    if (x == NONE)
        return;
    uint32_t w = view_of(c, view_id, members, n);
    if (w == NONE)
        return;
    tc_rec_t *r = &c->recs[x];
    if (r->stopped) {
        report(c, TOTAL_PROP_INPUT, M_FMT " installed view %" PRIu64
               " after it stopped", M_ARG(who), view_id);
        return;
    }
    if (r->view != NONE && !r->superseded)
        depart(c, x, r->view, w);
    r->seq.n = 0;
    r->view = w;
    r->transitional = false;
    r->superseded = false;
}

/* ------------------------------------------------------------------ */
/* Deliveries                                                          */
/* ------------------------------------------------------------------ */
static void check_sender_order(total_check_t *c, uint32_t x,
                               cohort_member_t sender, uint64_t key,
                               uint64_t seq)
{
    tc_rec_t *r = &c->recs[x];
    uint32_t i = 0;
    while (i < r->nlast && !same_member(r->last[i].sender, sender))
        i++;
    if (i == r->nlast) {
        if (!grow(c, (void **)&r->last, r->nlast, &r->caplast,
                  sizeof *r->last, false))
            return;
        r->last[r->nlast].sender = sender;
        r->last[r->nlast].seq = 0;
        r->nlast++;
    }
    if (seq <= r->last[i].seq)
        report(c, TOTAL_PROP_SENDER_ORDER,
               M_FMT " delivered " M_FMT "#%" PRIu64 " (its reliable message %"
               PRIu64 ") after its message %" PRIu64,
               M_ARG(r->who), M_ARG(sender), key, seq, r->last[i].seq);
    else
        r->last[i].seq = seq;
}

/* Numbering and flags of one delivery; false when it cannot be placed. */
static bool check_numbering(total_check_t *c, uint32_t x,
                            const tc_ent_t *e, uint64_t view_id,
                            uint64_t order)
{
    tc_rec_t *r = &c->recs[x];
    const tc_view_t *vw = &c->views[r->view];
    bool ordered = e->mode == COHORT_TOTAL || e->mode == COHORT_SAFE;
    if (e->flags & ~(uint32_t)COHORT_MESSAGE_TRANSITIONAL)
        report(c, TOTAL_PROP_NUMBERING,
               M_FMT " delivered " M_FMT "#%" PRIu64 " with unknown flags %#x",
               M_ARG(r->who), M_ARG(e->sender), e->key, e->flags);
    if (!ordered) {
        if (order != 0 || e->flags != 0)
            report(c, TOTAL_PROP_NUMBERING,
                   M_FMT " delivered " M_FMT "#%" PRIu64
                   " (mode %u) with order %" PRIu64 " flags %#x",
                   M_ARG(r->who), M_ARG(e->sender), e->key, e->mode, order,
                   e->flags);
        return false;
    }
    if (view_id != vw->id)
        report(c, TOTAL_PROP_NUMBERING,
               M_FMT " delivered %s " M_FMT "#%" PRIu64 " tagged view %"
               PRIu64 " in view %" PRIu64,
               M_ARG(r->who), mode_name(e->mode), M_ARG(e->sender), e->key,
               view_id, vw->id);
    if (order != (uint64_t)r->seq.n + 1)
        report(c, TOTAL_PROP_NUMBERING,
               M_FMT " delivered %s " M_FMT "#%" PRIu64 " with order %" PRIu64
               ", its delivery number %" PRIu32 " in view %" PRIu64,
               M_ARG(r->who), mode_name(e->mode), M_ARG(e->sender), e->key,
               order, r->seq.n + 1, vw->id);
    return true;
}

/* A regular delivery at position p (0-based) of view v: one message per
 * position, one position per message. */
static void check_agreement(total_check_t *c, uint32_t x, uint32_t v,
                            uint32_t p, const tc_ent_t *e)
{
    tc_view_t *vw = &c->views[v];
    const tc_rec_t *r = &c->recs[x];
    if (!c->cfg.positions_shared)
        return;
    if (p < vw->canon.n) {
        const tc_ent_t *o = &vw->canon.e[p];
        if (!same_ent(o, e))
            report(c, TOTAL_PROP_AGREEMENT,
                   M_FMT " delivered %s " M_FMT "#%" PRIu64 " at %" PRIu32
                   " of view %" PRIu64 ", where " M_FMT " delivered %s " M_FMT
                   "#%" PRIu64,
                   M_ARG(r->who), mode_name(e->mode), M_ARG(e->sender),
                   e->key, p + 1, vw->id, M_ARG(c->recs[o->by].who),
                   mode_name(o->mode), M_ARG(o->sender), o->key);
        return;
    }
    if (p > vw->canon.n)
        return; /* only after a numbering report: nothing to compare */
    uint32_t at = index_get(c, TAG_POS, v, e->sender, e->key);
    if (at != NONE) {
        report(c, TOTAL_PROP_AGREEMENT,
               M_FMT " delivered " M_FMT "#%" PRIu64 " at %" PRIu32
               " of view %" PRIu64 ", which " M_FMT " delivered at %" PRIu32,
               M_ARG(r->who), M_ARG(e->sender), e->key, p + 1, vw->id,
               M_ARG(c->recs[vw->canon.e[at].by].who), at + 1);
        return;
    }
    tc_ent_t ce = *e;
    ce.by = x;
    if (seq_push(c, &vw->canon, &ce))
        (void)index_put(c, TAG_POS, v, e->sender, e->key, p);
}

/* A SAFE delivery at p of view v: whoever already left v (not by
 * stopping) delivered it there too (rule 5); every member of v held it
 * (rule 6). */
static void check_safe(total_check_t *c, uint32_t x, uint32_t v, uint32_t p,
                       const tc_ent_t *e)
{
    const tc_view_t *vw = &c->views[v];
    const tc_rec_t *r = &c->recs[x];
    for (uint32_t d = 0; c->cfg.positions_shared && d < vw->ndep; d++) {
        const tc_seq_t *s = &vw->dep[d].seq;
        if (seq_has(s, e, p))
            continue;
        report(c, TOTAL_PROP_UNIFORM,
               M_FMT " delivered SAFE " M_FMT "#%" PRIu64 " at %" PRIu32
               " of view %" PRIu64 ", which " M_FMT " left without it",
               M_ARG(r->who), M_ARG(e->sender), e->key, p + 1, vw->id,
               M_ARG(c->recs[vw->dep[d].rec].who));
    }
    for (uint32_t i = 0; c->cfg.check_held && i < vw->n; i++) {
        cohort_member_t m = vw->members[i];
        uint32_t h = find_rec(c, m);
        if (same_member(m, e->sender) ||
            (h != NONE && index_get(c, TAG_HELD, h, e->sender, e->key) != NONE))
            continue;
        report(c, TOTAL_PROP_HELD,
               M_FMT " delivered SAFE " M_FMT "#%" PRIu64 " in view %" PRIu64
               " before " M_FMT " (of that view) held it",
               M_ARG(r->who), M_ARG(e->sender), e->key, vw->id, M_ARG(m));
    }
}

void total_check_delivered(total_check_t *c, cohort_member_t who,
                           cohort_member_t sender, uint64_t key,
                           uint64_t seq, cohort_mode_t mode, uint64_t view_id,
                           uint64_t order, uint32_t flags)
{
    TC_ASSERT(c != NULL);
    if (c->full)
        return;
    uint32_t x = rec_of(c, who);
    if (x == NONE)
        return;
    tc_rec_t *r = &c->recs[x];
    if (r->stopped || r->view == NONE) {
        report(c, TOTAL_PROP_INPUT, M_FMT " delivered " M_FMT "#%" PRIu64
               " %s", M_ARG(who), M_ARG(sender), key,
               r->stopped ? "after it stopped" : "before its first view");
        return;
    }
    if (seq != 0 && mode != COHORT_UNRELIABLE)
        check_sender_order(c, x, sender, key, seq);
    tc_ent_t e = {sender, key, (uint8_t)mode, (uint8_t)flags, x};
    if (!check_numbering(c, x, &e, view_id, order))
        return;
    bool trans = (flags & COHORT_MESSAGE_TRANSITIONAL) != 0;
    uint32_t v = r->view, p = r->seq.n;
    if (!trans && r->transitional)
        report(c, TOTAL_PROP_TRANSITIONAL,
               M_FMT " delivered " M_FMT "#%" PRIu64 " regularly at %" PRIu32
               " of view %" PRIu64 " after a transitional one",
               M_ARG(who), M_ARG(sender), key, p + 1, c->views[v].id);
    r->transitional |= trans;
    if (!seq_push(c, &r->seq, &e))
        return;
    if (!trans)
        check_agreement(c, x, v, p, &e);
    if (!trans && mode == COHORT_SAFE && !c->full)
        check_safe(c, x, v, p, &e);
}

void total_check_held(total_check_t *c, cohort_member_t who,
                      cohort_member_t sender, uint64_t key)
{
    TC_ASSERT(c != NULL);
    if (c->full || !c->cfg.check_held)
        return;
    uint32_t x = rec_of(c, who);
    if (x != NONE)
        (void)index_put(c, TAG_HELD, x, sender, key, 1);
}

void total_check_superseded(total_check_t *c, cohort_member_t who)
{
    TC_ASSERT(c != NULL);
    uint32_t x = find_rec(c, who);
    if (x != NONE && c->recs[x].view != NONE)
        c->recs[x].superseded = true;
}

void total_check_stopped(total_check_t *c, cohort_member_t who)
{
    TC_ASSERT(c != NULL);
    uint32_t x = find_rec(c, who);
    if (x != NONE)
        c->recs[x].stopped = true;
}

void total_check_final(total_check_t *c, const cohort_member_t *live,
                       size_t n)
{
    TC_ASSERT(c != NULL && (live != NULL || n == 0));
    for (size_t i = 0; i < n && !c->full; i++) {
        uint32_t x = find_rec(c, live[i]);
        if (x == NONE || c->recs[x].stopped || c->recs[x].view == NONE ||
            c->recs[x].superseded)
            continue;
        check_uniform(c, x, c->recs[x].view, "ended in");
    }
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */
size_t total_check_violations(const total_check_t *c)
{
    TC_ASSERT(c != NULL);
    return c->count;
}

size_t total_check_count(const total_check_t *c, total_prop_t p)
{
    TC_ASSERT(c != NULL && (unsigned)p < TOTAL_PROP_COUNT_);
    return c->counts[p];
}

const char *total_check_violation(const total_check_t *c, size_t i)
{
    TC_ASSERT(c != NULL);
    if (i >= c->count || i >= c->cfg.max_texts)
        return NULL;
    return c->texts + i * TEXT_LEN;
}
