/* peers.c - the member table (see peers.h). */
#include "peers.h"

#include <stdlib.h>
#include <string.h>

#include "co_assert.h"

int co_peers_init(co_peers_t *p, size_t cap)
{
    memset(p, 0, sizeof *p);
    p->slots = calloc(cap, sizeof *p->slots);
    p->cap = cap;
    return p->slots ? 0 : -1;
}

void co_peers_free(co_peers_t *p)
{
    for (size_t i = 0; i < p->cap && p->slots; i++)
        if (p->slots[i].in_use)
            co_peers_remove(p, &p->slots[i]);
    free(p->slots);
    p->slots = NULL;
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
        if (co_rxwin_init(&peer->rx, rx_bytes) != 0)
            return NULL;
        co_reasm_init(&peer->reasm);
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
