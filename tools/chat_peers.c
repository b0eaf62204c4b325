/*
 * chat_peers.c - cohort-chat's table of members (chat_peers.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <string.h>

#include "chat_peers.h"
#include "chat_term.h"

struct chat_peer *chat_peers_find(struct chat_peers *ps, uint32_t id)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->p[i].id == id) {
            ps->p[i].used = ++ps->clock;
            return &ps->p[i];
        }
    }
    return NULL;
}

struct chat_peer *chat_peers_get(struct chat_peers *ps, uint32_t id)
{
    struct chat_peer *e = chat_peers_find(ps, id);
    if (e != NULL)
        return e;
    if (ps->n < CHAT_PEERS_MAX) {
        e = &ps->p[ps->n++];
    } else {
        e = &ps->p[0];
        for (size_t i = 1; i < ps->n; i++)
            if (ps->p[i].used < e->used)
                e = &ps->p[i];
    }
    memset(e, 0, sizeof *e);
    e->id = id;
    e->used = ++ps->clock;
    return e;
}

int chat_peers_set_name(struct chat_peers *ps, uint32_t id,
                        const char *name, size_t len)
{
    char clean[CHAT_NAME_MAX + 1];
    struct chat_peer *e;
    if (len == 0)
        return 0;
    chat_sanitize(name, len, clean, sizeof clean);
    e = chat_peers_get(ps, id);
    if (strcmp(e->name, clean) == 0)
        return 0;
    memcpy(e->name, clean, sizeof clean);
    return 1;
}

int chat_peer_color(uint32_t id)
{
    /* Mix the bits so that nearby ids get different colours. */
    uint32_t h = id * 2654435761u;
    return (int)((h >> 16) % CHAT_COLORS);
}
