/*
 * chat_peers.h - what cohort-chat knows of the other members: the name
 * each one announced (heartbeat, then the chat messages' NAME field,
 * which /nick changes), a colour, and whether it was lost from a view
 * (so its return reads "merged back", not "joined").
 *
 * Bounded: at most CHAT_PEERS_MAX members; past that the least recently
 * heard one is forgotten.
 */
#ifndef COHORT_TOOLS_CHAT_PEERS_H
#define COHORT_TOOLS_CHAT_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "chat_msg.h"

#define CHAT_PEERS_MAX 256

struct chat_peer {
    uint32_t id;
    char name[CHAT_NAME_MAX + 1];   /* as shown; "" if never told */
    int lost;                       /* failed or left a view of ours,
                                       not back yet */
    int in_view;                    /* in the current view */
    uint64_t used;                  /* last time touched (a counter) */
};

struct chat_peers {
    struct chat_peer p[CHAT_PEERS_MAX];
    size_t n;
    uint64_t clock;
};

/* The entry of id, made if needed (never NULL). */
struct chat_peer *chat_peers_get(struct chat_peers *ps, uint32_t id);

/* The entry of id, or NULL. Both calls count as a use of the entry. */
struct chat_peer *chat_peers_find(struct chat_peers *ps, uint32_t id);

/* Set id's name from len bytes (cut at CHAT_NAME_MAX, on a UTF-8
 * boundary; sanitised). Returns 1 if the name changed. */
int chat_peers_set_name(struct chat_peers *ps, uint32_t id,
                        const char *name, size_t len);

/* A stable colour index for id (0..CHAT_COLORS-1 in chat_term.h). */
int chat_peer_color(uint32_t id);

#endif /* COHORT_TOOLS_CHAT_PEERS_H */
