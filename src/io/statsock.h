/*
 * statsock.h - the stats socket: a member's counters for cohort-stat, on a
 * local Unix socket (cohort_config.stats_socket; off by default).
 *
 * Read-only by construction: the member never reads from a connection.
 * It accepts one, writes one snapshot (the text format of
 * docs/api.md "Stats socket": a version line, "c|g|s name value" lines,
 * "end"), and closes it. No connection outlives the cohort_process() turn
 * that accepted it, so nothing a client does can hold memory or change
 * state; at most CO_STATSOCK_ACCEPT_MAX are served a turn, the kernel
 * holds at most CO_STATSOCK_BACKLOG more.
 *
 * The socket file is made with mode 0600 before the socket listens (no
 * moment when another user could connect), in a directory that others
 * cannot write to (or a sticky one, as /tmp); a peer whose uid is neither
 * ours nor root's is refused (SO_PEERCRED) even if the mode was widened.
 * Only IO-edge code: src/core knows nothing of it.
 */
#ifndef COHORT_IO_STATSOCK_H
#define COHORT_IO_STATSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "cohort.h"

#define CO_STATSOCK_VERSION 1               /* the first line's number */
#define CO_STATSOCK_SNAPSHOT_MAX 8192       /* bytes of one snapshot */
#define CO_STATSOCK_ACCEPT_MAX 4            /* connections served a turn */
#define CO_STATSOCK_BACKLOG 8               /* listen() backlog */
#define CO_STATSOCK_LOOK_NS 1000000ull      /* cohort_process(): look for
                                               a connection once a ms */

/* What a snapshot says besides the counters. */
typedef struct co_statsock_meta {
    const char *version;         /* the library's */
    const char *group;           /* group name */
    const char *name;            /* member name */
    cohort_member_t self;
    uint64_t view_id;            /* 0: no view yet */
    size_t view_members;
    uint64_t now_ns;             /* the member's monotonic clock */
} co_statsock_meta_t;

/* Write the snapshot of s and m as text into buf (len bytes, NUL added).
 * Returns its length (without the NUL), or -1 if len is too small. Pure:
 * no system call, no global state. */
int co_statsock_encode(const struct cohort_stats *s,
                       const co_statsock_meta_t *m, char *buf, size_t len);

typedef struct co_statsock co_statsock_t;

/* Make the socket at path and listen. A socket left at path by a member
 * that died is replaced; anything else there is refused. Returns 0, or
 * INVAL (path empty, too long for sun_path, its directory writable by
 * others and not sticky), SYSTEM (errno kept: EADDRINUSE a live member
 * listens there, EEXIST not a socket or not ours, or what socket(),
 * bind(), chmod() or listen() said), NOMEM; why says what in words. */
int co_statsock_open(co_statsock_t **out, const char *path, char *why,
                     size_t why_len);

/* The listening descriptor (for the member's epoll set). */
int co_statsock_fd(const co_statsock_t *s);

/* Builds a snapshot into buf (CO_STATSOCK_SNAPSHOT_MAX bytes); returns its
 * length or -1. */
typedef int (*co_statsock_fill_fn)(void *ctx, char *buf, size_t len);

/* Accept what is waiting (at most CO_STATSOCK_ACCEPT_MAX), write each a
 * snapshot from fill (built once a turn, only if someone connected),
 * close each. Never blocks. Returns how many were served. */
size_t co_statsock_serve(co_statsock_t *s, co_statsock_fill_fn fill,
                         void *ctx);

/* Connections served, and refused (another uid, or the snapshot did not
 * fit in the socket buffer at once). */
uint64_t co_statsock_served(const co_statsock_t *s);
uint64_t co_statsock_refused(const co_statsock_t *s);

/* Close and remove the socket file (only if it is still the one made). */
void co_statsock_close(co_statsock_t *s);

#endif /* COHORT_IO_STATSOCK_H */
