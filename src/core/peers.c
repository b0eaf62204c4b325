/* peers.c - the member table (see peers.h). */
#include "peers.h"

#include <string.h>

#include "co_assert.h"
#include "incarnation.h"

int co_peers_init(co_peers_t *p, size_t cap, const co_mem_t *mem)
{
    COHORT_ASSERT(cap > 0 && cap < UINT16_MAX);
    memset(p, 0, sizeof *p);
    p->mem = co_mem_or_libc(mem);
    p->slots = co_calloc(p->mem, cap, sizeof *p->slots);
    p->tombs = co_calloc(p->mem, cap, sizeof *p->tombs);
    p->cap = cap;
    p->vec_cap = cap + 1;
    size_t buckets = 4;
    while (buckets < 4 * cap) /* few ids share a bucket */
        buckets *= 2;
    p->hint = co_calloc(p->mem, buckets, sizeof *p->hint);
    p->hint_mask = buckets - 1;
    return p->slots && p->tombs && p->hint ? 0 : -1;
}

static size_t hint_of(const co_peers_t *p, uint32_t id)
{
    return (size_t)((id * 2654435761u) >> 7) & p->hint_mask;
}

/* The slot of id by its hint, or NULL when the hint names another. */
static co_peer_t *by_hint(const co_peers_t *p, uint32_t id)
{
    uint16_t h = p->hint[hint_of(p, id)];
    co_peer_t *peer = h ? &p->slots[h - 1] : NULL;
    return peer && peer->in_use && peer->id == id ? peer : NULL;
}

static co_peer_t *by_walk(const co_peers_t *p, uint32_t id)
{
    for (size_t i = 0; i < p->span; i++)
        if (p->slots[i].in_use && p->slots[i].id == id)
            return &p->slots[i];
    return NULL;
}

/* co_peers_find without renewing the hint. */
static const co_peer_t *lookup(const co_peers_t *p, uint32_t id)
{
    const co_peer_t *peer = by_hint(p, id);
    return peer ? peer : by_walk(p, id);
}

void co_peers_free(co_peers_t *p)
{
    if (!p->mem)
        return; /* never initialised (a core whose creation failed) */
    for (size_t i = 0; i < p->span && p->slots; i++)
        if (p->slots[i].in_use)
            co_peers_remove(p, &p->slots[i]);
    co_free(p->mem, p->slots);
    co_free(p->mem, p->tombs);
    co_free(p->mem, p->hint);
    p->slots = NULL;
    p->tombs = NULL;
    p->hint = NULL;
}

co_peer_t *co_peers_find(co_peers_t *p, uint32_t id)
{
    co_peer_t *peer = by_hint(p, id);
    if (peer)
        return peer;
    if ((peer = by_walk(p, id)))
        p->hint[hint_of(p, id)] = (uint16_t)(peer - p->slots + 1);
    return peer;
}

co_peer_t *co_peers_add(co_peers_t *p, uint32_t id, uint32_t incarnation,
                        size_t rx_bytes)
{
    COHORT_ASSERT(co_peers_find(p, id) == NULL);
    for (size_t i = 0; i < p->cap; i++) {
        co_peer_t *peer = &p->slots[i];
        if (peer->in_use)
            continue;
        memset(peer, 0, sizeof *peer);
        peer->vec = co_calloc(p->mem, p->vec_cap, sizeof *peer->vec);
        if (!peer->vec)
            return NULL;
        if (co_rxwin_init(&peer->rx, rx_bytes, p->mem) != 0) {
            co_free(p->mem, peer->vec);
            peer->vec = NULL;
            return NULL;
        }
        co_reasm_init(&peer->reasm, p->mem);
        co_store_init(&peer->store, id, incarnation,
                      p->store_bytes ? p->store_bytes : rx_bytes, p->mem);
        co_replay_init(&peer->packets);
        co_replay_init(&peer->unreliable);
        peer->in_use = true;
        peer->id = id;
        peer->incarnation = incarnation;
        p->count++;
        if (p->span < i + 1)
            p->span = i + 1;
        p->hint[hint_of(p, id)] = (uint16_t)(i + 1);
        return peer;
    }
    return NULL;
}

void co_peers_remove(co_peers_t *p, co_peer_t *peer)
{
    COHORT_ASSERT(peer->in_use && p->count > 0);
    co_rxwin_free(&peer->rx);
    co_reasm_free(&peer->reasm);
    co_store_free(&peer->store);
    co_hold_free(&peer->hold, p->mem);
    co_free(p->mem, peer->vec);
    if (peer->no_aes) {
        COHORT_ASSERT(p->no_aes > 0);
        p->no_aes--;
    }
    memset(peer, 0, sizeof *peer);
    p->count--;
    while (p->span > 0 && !p->slots[p->span - 1].in_use)
        p->span--;
}

bool co_peers_note_no_aes(co_peers_t *p, co_peer_t *peer)
{
    COHORT_ASSERT(peer->in_use);
    if (peer->no_aes)
        return false;
    peer->no_aes = true;
    p->no_aes++;
    COHORT_ASSERT(p->no_aes <= p->count);
    return true;
}

co_tomb_t *co_peers_tomb(co_peers_t *p, uint32_t id)
{
    for (size_t i = 0; i < p->cap; i++)
        if (p->tombs[i].in_use && p->tombs[i].id == id)
            return &p->tombs[i];
    return NULL;
}

/* The tomb to write for id: its own, a free one, or the oldest. */
static co_tomb_t *tomb_slot(co_peers_t *p, uint32_t id)
{
    co_tomb_t *t = co_peers_tomb(p, id), *oldest = NULL;
    if (t)
        return t;
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->tombs[i].in_use)
            return &p->tombs[i];
        if (!oldest || p->tombs[i].buried_order < oldest->buried_order)
            oldest = &p->tombs[i];
    }
    return oldest;
}

void co_peers_forget(co_peers_t *p, co_peer_t *peer, bool left)
{
    co_tomb_t *t = tomb_slot(p, peer->id);
    COHORT_ASSERT(t != NULL);
    /* A newer incarnation already remembered wins. */
    if (!(t->in_use && t->id == peer->id &&
          co_incarnation_newer(t->incarnation, peer->incarnation)))
        *t = (co_tomb_t){
            .in_use = true, .id = peer->id, .incarnation = peer->incarnation,
            .resume_seq = peer->message_start ? peer->message_start
                                              : peer->rx.next,
            .buried_order = ++p->burials, .packets = peer->packets,
            .unreliable = peer->unreliable, .left = left,
        };
    if (t->id == peer->id && t->incarnation == peer->incarnation)
        memcpy(t->name, peer->name, sizeof t->name);
    co_peers_remove(p, peer);
}

void co_peers_bury_left(co_peers_t *p, uint32_t id, uint32_t incarnation,
                        uint64_t packet_seq)
{
    co_tomb_t *t = tomb_slot(p, id);
    COHORT_ASSERT(t != NULL);
    if (t->in_use && t->id == id &&
        co_incarnation_newer(t->incarnation, incarnation))
        return;
    if (!(t->in_use && t->id == id && t->incarnation == incarnation)) {
        *t = (co_tomb_t){.in_use = true, .id = id, .incarnation = incarnation,
                         .buried_order = ++p->burials};
        co_replay_init(&t->packets);
        co_replay_init(&t->unreliable);
    }
    if (co_replay_check(&t->packets, packet_seq) == 0) /* repeats: once */
        co_replay_commit(&t->packets, packet_seq);
    t->left = true;
}

void co_peers_revive(co_peers_t *p, co_peer_t *peer, co_tomb_t *tomb)
{
    COHORT_ASSERT(tomb->in_use && tomb->id == peer->id);
    COHORT_ASSERT(tomb->incarnation == peer->incarnation);
    if (tomb->resume_seq)
        co_rxwin_sync(&peer->rx, tomb->resume_seq);
    peer->packets = tomb->packets;
    peer->unreliable = tomb->unreliable;
    memset(tomb, 0, sizeof *tomb);
    (void)p;
}

uint64_t co_peers_stable_through(const co_peers_t *p, uint64_t our_next)
{
    uint64_t stable = our_next - 1;
    for (size_t i = 0; i < p->span; i++) {
        const co_peer_t *peer = &p->slots[i];
        if (!peer->in_use || !peer->in_view)
            continue;
        uint64_t has = peer->reports_us ? peer->delivered_ours
                                        : peer->needs_from - 1;
        if (has < stable)
            stable = has;
    }
    return stable;
}

/* Index of the first entry with id >= id (binary search; sorted by id). */
static size_t vec_lower_bound(const co_peer_t *peer, uint32_t id)
{
    size_t lo = 0, hi = peer->vec_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (peer->vec[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Make room for a new id at index *at: evict the least recently noted
 * entry when full (never one noted in the current report while an older
 * one exists). */
static void vec_make_room(const co_peers_t *p, co_peer_t *peer, size_t *at)
{
    if (peer->vec_count < p->vec_cap)
        return;
    size_t victim = 0;
    for (size_t i = 1; i < peer->vec_count; i++)
        if (peer->vec[i].noted < peer->vec[victim].noted)
            victim = i;
    memmove(&peer->vec[victim], &peer->vec[victim + 1],
            (peer->vec_count - victim - 1) * sizeof *peer->vec);
    peer->vec_count--;
    if (victim < *at)
        (*at)--;
}

static void vec_note(const co_peers_t *p, co_peer_t *peer,
                     const co_ack_entry_t *e)
{
    size_t at = vec_lower_bound(peer, e->member_id);
    co_vec_entry_t *v = &peer->vec[at];
    if (at < peer->vec_count && v->id == e->member_id) {
        if (co_incarnation_newer(v->incarnation, e->incarnation))
            return; /* about a life of that sender already replaced */
        if (v->incarnation != e->incarnation)
            v->delivered_seq = 0; /* a restarted sender: a new stream */
        v->incarnation = e->incarnation;
        if (e->delivered_seq > v->delivered_seq)
            v->delivered_seq = e->delivered_seq;
        v->noted = peer->vec_reports;
        return;
    }
    vec_make_room(p, peer, &at);
    COHORT_ASSERT(peer->vec_count < p->vec_cap && at <= peer->vec_count);
    memmove(&peer->vec[at + 1], &peer->vec[at],
            (peer->vec_count - at) * sizeof *peer->vec);
    peer->vec[at] = (co_vec_entry_t){.id = e->member_id,
                                     .incarnation = e->incarnation,
                                     .delivered_seq = e->delivered_seq,
                                     .noted = peer->vec_reports};
    peer->vec_count++;
}

void co_peers_note_vector(co_peers_t *p, co_peer_t *peer,
                          const uint8_t *entries, size_t count)
{
    COHORT_ASSERT(peer != NULL && peer->in_use && peer->vec != NULL);
    COHORT_ASSERT(entries != NULL || count == 0);
    peer->vec_reports++;
    for (size_t i = 0; i < count; i++) {
        co_ack_entry_t e = co_ack_entry_at(entries, i);
        COHORT_ASSERT(e.member_id != 0 && e.incarnation != 0);
        vec_note(p, peer, &e);
    }
    COHORT_ASSERT(peer->vec_count <= p->vec_cap);
}

uint64_t co_peers_reported(const co_peer_t *peer, uint32_t id,
                           uint32_t incarnation)
{
    size_t at = vec_lower_bound(peer, id);
    if (at < peer->vec_count && peer->vec[at].id == id &&
        peer->vec[at].incarnation == incarnation)
        return peer->vec[at].delivered_seq;
    return 0;
}

uint64_t co_peers_group_stable(const co_peers_t *p,
                               const co_member_ref_t *members, size_t n,
                               uint32_t self_id, co_member_ref_t sender,
                               uint64_t own_delivered)
{
    return co_peers_group_stable_but(p, members, n, self_id, sender,
                                     own_delivered, NULL, NULL);
}

uint64_t co_peers_group_stable_but(const co_peers_t *p,
                                   const co_member_ref_t *members, size_t n,
                                   uint32_t self_id, co_member_ref_t sender,
                                   uint64_t own_delivered,
                                   co_member_skip_fn *skip, const void *ctx)
{
    COHORT_ASSERT(members != NULL || n == 0);
    COHORT_ASSERT(sender.id != 0 && sender.incarnation != 0);
    uint64_t stable = own_delivered;
    for (size_t i = 0; i < n && stable > 0; i++) {
        const co_member_ref_t *m = &members[i];
        if (m->id == self_id ||
            (m->id == sender.id && m->incarnation == sender.incarnation) ||
            (skip && skip(ctx, m->id, m->incarnation)))
            continue;
        const co_peer_t *peer = lookup(p, m->id);
        uint64_t has = peer && peer->incarnation == m->incarnation
                           ? co_peers_reported(peer, sender.id,
                                               sender.incarnation)
                           : 0;
        if (has < stable)
            stable = has;
    }
    return stable;
}

size_t co_peers_rx_bytes(const co_peers_t *p)
{
    size_t bytes = 0;
    for (size_t i = 0; i < p->span; i++)
        if (p->slots[i].in_use)
            bytes += p->slots[i].rx.bytes + co_reasm_bytes(&p->slots[i].reasm);
    return bytes;
}

size_t co_peers_store_bytes(const co_peers_t *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->span; i++)
        if (p->slots[i].in_use)
            n += co_store_bytes(&p->slots[i].store);
    return n;
}
