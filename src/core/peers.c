/* peers.c - the member table (see peers.h). */
#include "peers.h"

#include <string.h>

#include "co_assert.h"
#include "incarnation.h"

int co_peers_init(co_peers_t *p, size_t cap, const co_mem_t *mem)
{
    memset(p, 0, sizeof *p);
    p->mem = co_mem_or_libc(mem);
    p->slots = co_calloc(p->mem, cap, sizeof *p->slots);
    p->tombs = co_calloc(p->mem, cap, sizeof *p->tombs);
    p->cap = cap;
    return p->slots && p->tombs ? 0 : -1;
}

void co_peers_free(co_peers_t *p)
{
    if (!p->mem)
        return; /* never initialised (a core whose creation failed) */
    for (size_t i = 0; i < p->cap && p->slots; i++)
        if (p->slots[i].in_use)
            co_peers_remove(p, &p->slots[i]);
    co_free(p->mem, p->slots);
    co_free(p->mem, p->tombs);
    p->slots = NULL;
    p->tombs = NULL;
}

co_peer_t *co_peers_find(co_peers_t *p, uint32_t id)
{
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i].in_use && p->slots[i].id == id)
            return &p->slots[i];
    return NULL;
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
        if (co_rxwin_init(&peer->rx, rx_bytes, p->mem) != 0)
            return NULL;
        co_reasm_init(&peer->reasm, p->mem);
        co_replay_init(&peer->packets);
        co_replay_init(&peer->unreliable);
        peer->in_use = true;
        peer->id = id;
        peer->incarnation = incarnation;
        p->count++;
        return peer;
    }
    return NULL;
}

void co_peers_remove(co_peers_t *p, co_peer_t *peer)
{
    COHORT_ASSERT(peer->in_use && p->count > 0);
    co_rxwin_free(&peer->rx);
    co_reasm_free(&peer->reasm);
    memset(peer, 0, sizeof *peer);
    p->count--;
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
    for (size_t i = 0; i < p->cap; i++) {
        const co_peer_t *peer = &p->slots[i];
        if (!peer->in_use)
            continue;
        uint64_t has = peer->reports_us ? peer->delivered_ours
                                        : peer->needs_from - 1;
        if (has < stable)
            stable = has;
    }
    return stable;
}

size_t co_peers_rx_bytes(const co_peers_t *p)
{
    size_t bytes = 0;
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i].in_use)
            bytes += p->slots[i].rx.bytes + co_reasm_bytes(&p->slots[i].reasm);
    return bytes;
}
