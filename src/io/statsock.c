/*
 * statsock.c - the stats socket (statsock.h): the snapshot's text format
 * and the listening Unix socket that hands it out.
 */
#include "config.h"

#include "statsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "co_assert.h"

/* ------------------------------------------------------------------ */
/* the snapshot                                                        */
/* ------------------------------------------------------------------ */

/* The counters, by name, as struct cohort_stats holds them. 'c': a
 * counter that only grows (readers show its rate), 'g': a gauge. */
struct co_stat_field {
    char kind;
    const char *name;
    size_t offset;
};

#define CO_C(f) { 'c', #f, offsetof(struct cohort_stats, f) }
#define CO_G(f) { 'g', #f, offsetof(struct cohort_stats, f) }
#define CO_MODE(f, i, n) \
    { 'c', #f "." n, offsetof(struct cohort_stats, f) + (i) * sizeof(uint64_t) }

static const struct co_stat_field co_stat_fields[] = {
    CO_C(datagrams_sent), CO_C(datagrams_received),
    CO_C(bytes_sent), CO_C(bytes_received),
    CO_MODE(messages_sent, 0, "unreliable"), CO_MODE(messages_sent, 1, "fifo"),
    CO_MODE(messages_sent, 2, "total"), CO_C(messages_sent_safe),
    CO_MODE(messages_delivered, 0, "unreliable"),
    CO_MODE(messages_delivered, 1, "fifo"),
    CO_MODE(messages_delivered, 2, "total"), CO_C(messages_delivered_safe),
    CO_C(retransmissions_sent), CO_C(nacks_sent), CO_C(nacks_received),
    CO_C(send_would_block), CO_C(send_errors), CO_C(drops_total),
    CO_C(members_joined), CO_C(members_left),
    CO_G(send_window_used_bytes), CO_G(recv_buffered_bytes),
    CO_C(messages_lost), CO_C(records_not_in_view), CO_C(flushes_abandoned),
    CO_C(order_records_sent), CO_C(messages_transitional),
    CO_C(state_transfers_provided), CO_C(state_transfers_received),
    CO_C(state_transfers_restarted), CO_C(state_bytes_sent),
    CO_C(state_bytes_received), CO_C(messages_superseded),
    CO_C(exclusions_seen),
    CO_C(requests_sent), CO_C(requests_completed), CO_C(requests_timed_out),
    CO_C(requests_failed), CO_C(replies_received), CO_C(requests_served),
    CO_C(replies_sent), CO_C(requests_duplicate), CO_C(requests_refused),
    CO_C(rpc_history_evictions), CO_G(rpc_history_bytes),
    CO_G(rpc_history_entries),
    CO_C(stats_socket_served), CO_C(stats_socket_refused), CO_C(rejoins),
    CO_G(send_window_share_bytes),
    CO_C(parity_sent), CO_C(parity_received), CO_C(parity_recovered),
    CO_C(datagram_mismatches), CO_C(narrow_paths), CO_C(gso_datagrams),
    CO_G(members_without_aes),
};

struct co_out {
    char *buf;
    size_t len, used;
    bool full;
};

__attribute__((format(printf, 2, 3))) static void co_put(struct co_out *o,
                                                         const char *fmt, ...)
{
    va_list ap;
    if (o->full)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->len - o->used)
        o->full = true;
    else
        o->used += (size_t)n;
}

/* A string value: printable ASCII but space and backslash as is, every
 * other byte as \xHH, so a value is one word and the line one line. */
static void co_put_string(struct co_out *o, const char *name,
                          const char *value)
{
    co_put(o, "s %s ", name);
    if (value == NULL || value[0] == '\0')
        co_put(o, "-");
    for (const unsigned char *p = (const unsigned char *)value;
         p != NULL && *p != '\0' && !o->full; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '\\')
            co_put(o, "%c", *p);
        else
            co_put(o, "\\x%02x", *p);
    }
    co_put(o, "\n");
}

int co_statsock_encode(const struct cohort_stats *s,
                       const co_statsock_meta_t *m, char *buf, size_t len)
{
    COHORT_ASSERT(s != NULL && m != NULL && buf != NULL);
    struct co_out o = {buf, len, 0, len == 0};
    co_put(&o, "cohort-stats %d\n", CO_STATSOCK_VERSION);
    co_put_string(&o, "library", m->version);
    co_put_string(&o, "group", m->group);
    co_put_string(&o, "name", m->name);
    co_put(&o, "g member_id %lu\ng incarnation %lu\n",
           (unsigned long)m->self.id, (unsigned long)m->self.incarnation);
    co_put(&o, "g time_ns %llu\ng view_id %llu\ng view_members %zu\n",
           (unsigned long long)m->now_ns, (unsigned long long)m->view_id,
           m->view_members);
    const unsigned char *base = (const unsigned char *)s;
    for (size_t i = 0; i < sizeof co_stat_fields / sizeof co_stat_fields[0];
         i++) {
        const struct co_stat_field *f = &co_stat_fields[i];
        uint64_t v;
        memcpy(&v, base + f->offset, sizeof v);
        co_put(&o, "%c %s %llu\n", f->kind, f->name, (unsigned long long)v);
    }
    for (int r = 0; r < COHORT_DROP__COUNT; r++)
        co_put(&o, "c drops.%s %llu\n", cohort_drop_reason_name(r),
               (unsigned long long)s->drops[r]);
    co_put(&o, "end\n");
    return o.full ? -1 : (int)o.used;
}

/* ------------------------------------------------------------------ */
/* the socket                                                          */
/* ------------------------------------------------------------------ */

struct co_statsock {
    int fd;
    dev_t dev;                   /* the socket file made, to remove only */
    ino_t ino;                   /* that one at close */
    uint64_t served, refused;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

__attribute__((format(printf, 3, 4))) static int
co_ss_fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return COHORT_ERR_SYSTEM;
}

/* The directory must not let others swap the socket file for theirs:
 * owned by us or root, not writable by group or others unless sticky. */
static int co_ss_check_dir(const char *path, char *why, size_t why_len)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct stat st;
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0)
        return co_ss_fail(why, why_len, "stats_socket: directory %s: %s",
                          dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return co_ss_fail(why, why_len, "stats_socket: %s is not a "
                          "directory", dir);
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
        (st.st_mode & S_ISVTX) == 0) {
        snprintf(why, why_len, "stats_socket: directory %s is writable by "
                 "others (and not sticky): choose one only you can write",
                 dir);
        return COHORT_ERR_INVAL;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(why, why_len, "stats_socket: directory %s belongs to "
                 "another user", dir);
        return COHORT_ERR_INVAL;
    }
    return 0;
}

/* What is at path already: nothing (0), a socket of ours no one listens
 * on, removed (0), or a refusal. */
static int co_ss_clear_stale(const struct sockaddr_un *sa, char *why,
                             size_t why_len)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) != 0)
        return errno == ENOENT ? 0
                               : co_ss_fail(why, why_len, "stats_socket: "
                                            "%s: %s", sa->sun_path,
                                            strerror(errno));
    if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
        errno = EEXIST;
        return co_ss_fail(why, why_len, "stats_socket: %s exists and is "
                          "not a socket of this user's: not replaced",
                          sa->sun_path);
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return co_ss_fail(why, why_len, "socket: %s", strerror(errno));
    int rc = connect(probe, (const struct sockaddr *)sa, sizeof *sa);
    int err = errno;
    close(probe);
    if (rc == 0) {
        errno = EADDRINUSE;
        return co_ss_fail(why, why_len, "stats_socket: %s: a running "
                          "member listens there", sa->sun_path);
    }
    if (err != ECONNREFUSED) {
        errno = err;
        return co_ss_fail(why, why_len, "stats_socket: %s: %s",
                          sa->sun_path, strerror(err));
    }
    /* Left by a member that died: no one listens. */
    if (unlink(sa->sun_path) != 0 && errno != ENOENT)
        return co_ss_fail(why, why_len, "stats_socket: cannot remove the "
                          "stale %s: %s", sa->sun_path, strerror(errno));
    return 0;
}

/* bind, 0600, check, then listen: before listen() a connect is refused,
 * so no one connects while the mode is still the umask's. */
static int co_ss_bind(co_statsock_t *s, const struct sockaddr_un *sa,
                      char *why, size_t why_len)
{
    struct stat st;
    if (bind(s->fd, (const struct sockaddr *)sa, sizeof *sa) != 0)
        return co_ss_fail(why, why_len, "stats_socket: bind %s: %s",
                          sa->sun_path, strerror(errno));
    if (chmod(sa->sun_path, S_IRUSR | S_IWUSR) != 0 ||
        lstat(sa->sun_path, &st) != 0) {
        int rc = co_ss_fail(why, why_len, "stats_socket: chmod %s: %s",
                            sa->sun_path, strerror(errno));
        (void)unlink(sa->sun_path);
        return rc;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    if (!S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0600) {
        errno = EPERM;
        return co_ss_fail(why, why_len, "stats_socket: %s did not become "
                          "a private socket", sa->sun_path);
    }
    if (listen(s->fd, CO_STATSOCK_BACKLOG) != 0)
        return co_ss_fail(why, why_len, "stats_socket: listen: %s",
                          strerror(errno));
    return 0;
}

int co_statsock_open(co_statsock_t **out, const char *path, char *why,
                     size_t why_len)
{
    struct sockaddr_un sa;
    COHORT_ASSERT(out != NULL && why != NULL);
    *out = NULL;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = path != NULL ? strnlen(path, sizeof sa.sun_path) : 0;
    if (len == 0 || len >= sizeof sa.sun_path) {
        snprintf(why, why_len, "stats_socket: %s", len == 0 ? "empty path"
                 : "path longer than 107 bytes");
        return COHORT_ERR_INVAL;
    }
    memcpy(sa.sun_path, path, len);
    int rc = co_ss_check_dir(sa.sun_path, why, why_len);
    if (rc == 0)
        rc = co_ss_clear_stale(&sa, why, why_len);
    if (rc != 0)
        return rc;
    co_statsock_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(why, why_len, "out of memory");
        return COHORT_ERR_NOMEM;
    }
    memcpy(s->path, sa.sun_path, sizeof s->path);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rc = s->fd < 0 ? co_ss_fail(why, why_len, "socket: %s", strerror(errno))
                   : co_ss_bind(s, &sa, why, why_len);
    if (rc != 0) {
        int err = errno;
        co_statsock_close(s);
        errno = err;
        return rc;
    }
    *out = s;
    return 0;
}

int co_statsock_fd(const co_statsock_t *s)
{
    COHORT_ASSERT(s != NULL);
    return s->fd;
}

/* Ours or root's: a widened mode does not widen who may read. */
static bool co_ss_peer_ok(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return false;
    return cred.uid == geteuid() || cred.uid == 0;
}

size_t co_statsock_serve(co_statsock_t *s, co_statsock_fill_fn fill,
                         void *ctx)
{
    char buf[CO_STATSOCK_SNAPSHOT_MAX];
    int len = -2; /* not built yet */
    size_t served = 0;
    COHORT_ASSERT(s != NULL && fill != NULL);
    for (int i = 0; i < CO_STATSOCK_ACCEPT_MAX; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break; /* EAGAIN: no one; anything else: try next turn */
        if (len == -2)
            len = fill(ctx, buf, sizeof buf);
        /* One write: a fresh socket's buffer holds a snapshot many times
         * over; a peer that cannot take it at once is not waited for. */
        bool ok = co_ss_peer_ok(fd) && len > 0 &&
                  send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
                      (ssize_t)len;
        close(fd);
        if (ok) {
            s->served++;
            served++;
        } else {
            s->refused++;
        }
    }
    return served;
}

uint64_t co_statsock_served(const co_statsock_t *s)
{
    return s != NULL ? s->served : 0;
}

uint64_t co_statsock_refused(const co_statsock_t *s)
{
    return s != NULL ? s->refused : 0;
}

void co_statsock_close(co_statsock_t *s)
{
    struct stat st;
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    /* Remove the file made at open, not one that replaced it since. */
    if (s->ino != 0 && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
        st.st_ino == s->ino)
        (void)unlink(s->path);
    free(s);
}
