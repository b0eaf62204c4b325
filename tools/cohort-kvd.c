/*
 * cohort-kvd - a replicated in-memory key-value server that speaks the
 * Redis protocol (RESP2), and the model of a server built on cohort
 * (docs/replicated-server.md walks through this file).
 *
 *   epoll(listen socket, clients, cohort_fd; cohort_timeout_ms)
 *     -> read clients, parse commands (kvd_resp), run reads at once
 *        (kvd_cmd), multicast writes in the total order (kvd_msg)
 *     -> cohort_process -> cohort_next_event: apply every delivered write
 *        to the store (kvd_store) in delivery order; answer the client
 *        when the write is this replica's own
 *     -> the view's coordinator multicasts the time, so keys expire at
 *        the same point of the order everywhere
 *     -> a replica that joins (or comes back into the primary component)
 *        takes the store by state transfer and answers -LOADING until it
 *        has it; a replica asked for its state streams a snapshot
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"
#include "kvd_cmd.h"
#include "kvd_msg.h"
#include "kvd_resp.h"
#include "kvd_store.h"

/* COHORT_SAFE is being added to cohort_mode_t; its number is fixed. */
#define KVD_MODE_SAFE ((cohort_mode_t)3)

#define KVD_MAX_CLIENTS_DEFAULT 10000
#define KVD_QUERY_MAX_DEFAULT ((uint64_t)64 << 20)
#define KVD_OUTPUT_MAX_DEFAULT ((uint64_t)64 << 20)
#define KVD_READ_CHUNK 65536            /* per client per wake-up */
#define KVD_PENDING_MAX 65536           /* writes in flight, all clients */
#define KVD_EPOLL_BATCH 256
#define KVD_BATCH_BYTES_MAX 65536      /* one batch of writes, at most */
#define KVD_BATCH_SLACK 64             /* a datagram's room less this */
#define KVD_BATCH_COMMANDS_MAX 4096    /* commands in one batch */
#define KVD_EVENTS_PER_ROUND 100000     /* deliveries applied per wake-up */
#define KVD_MEMBERS_MAX 256
#define KVD_TICK_NS 100000000u          /* time message, keys with expiry */
#define KVD_IDLE_TICK_NS 1000000000u    /* time message, none */
#define KVD_ACCEPT_PAUSE_NS 100000000u  /* out of descriptors: wait */
#define KVD_POLL_CAP_MS 1000
#define KVD_DRAIN_MS 2000
#define KVD_NAME_MAX 64
#define KVD_STATE_SEND_WAIT_MS 1000     /* one wait for window room */
#define KVD_STATE_RETRIES 3             /* snapshots that fail their check
                                           in a row before giving up */

#define TAG_LISTEN UINT64_MAX
#define TAG_COHORT (UINT64_MAX - 1)

enum kvd_opt {
    OPT_TCP_PORT = TOOL_OPT__END,
    OPT_BIND,
    OPT_EXPECTED,
    OPT_SAFE,
    OPT_LINEARIZABLE,
    OPT_MAX_CLIENTS,
    OPT_MAX_QUERY,
    OPT_MAX_OUTPUT,
    OPT_QUIET,
    OPT_NO_STATE_TRANSFER,
    OPT_STATS_SOCKET,
};

struct kvd_opts {
    struct tool_net net;
    uint16_t tcp_port;
    const char *bind;
    uint64_t expected;
    int safe, linearizable, quiet, no_state_transfer;
    const char *stats_socket;   /* --stats-socket PATH (cohort-stat) */
    uint64_t max_clients, max_query, max_output;
};

struct conn {
    int fd;
    uint32_t slot, gen;
    uint64_t id;
    struct kvd_buf in, out;
    size_t in_pos, out_pos;     /* parsed input, written output */
    size_t need;                /* unparsed bytes needed before parsing */
    struct kvd_args args;
    unsigned pending;           /* writes multicast, not yet delivered */
    uint32_t interest;          /* epoll events registered */
    int closing;                /* close once the output is written */
    int queued;                 /* in the run list */
    char name[KVD_NAME_MAX + 1];
};

struct pending {
    uint64_t request_id;
    uint32_t slot, gen;
};

struct counters {
    uint64_t writes_sent, own_applied, remote_applied, ordered_reads;
    uint64_t time_sent, time_applied, expired, refused_noquorum;
    uint64_t send_again, malformed, lost, clients_total, clients_rejected;
    uint64_t state_requests, state_loaded, state_none, state_failed;
    uint64_t state_provided, state_cancelled, refused_loading;
    uint64_t state_bytes_sent, state_bytes_received;
    uint64_t catchup_sent, catchup_taken, catchup_ignored, uncertain;
    uint64_t rejoins, batches_sent, send_failed;
};

/* Loading a snapshot (the requester's side of a state transfer). */
struct kvd_loading {
    int loading;                /* 1: the store is not known to be the
                                   group's: reads and writes -LOADING */
    int active, failed;         /* a load is under way; it went wrong */
    uint64_t fed;               /* bytes given to the loader */
    int ever_ready;             /* it has served since it started */
    uint64_t ready_view;        /* the view it became ready in */
    uint64_t catchup_view;      /* the view it was last told to catch up
                                   in (one request per view) */
    uint64_t prev_primary;      /* the primary view it was in last before
                                   the current one (0: none) */
    cohort_member_t tell[KVD_MEMBERS_MAX]; /* catch-up messages to send */
    size_t n_tell;
    unsigned failures;          /* snapshots in a row that failed */
    struct kvd_store staging;   /* the snapshot being loaded (buckets
                                   NULL while none is) */
    struct kvd_snap_loader loader;
};

struct kvd {
    struct kvd_opts o;
    cohort_t *c;
    int cohort_readable;        /* epoll reported the group's socket */
    int sent, sent_before;      /* cohort_send this round, the last one */
    cohort_member_t self;
    cohort_mode_t mode;
    int lfd, ep;
    struct conn **conns;        /* by slot, max_clients of them */
    uint32_t *free_slots;
    size_t n_free, n_conns;
    uint32_t *runq, *runq_next; /* slots to run this round, next round */
    size_t runq_len, runq_next_len;
    struct pending *ring;       /* own writes in flight, in sending order */
    size_t ring_head, ring_len;
    struct kvd_store store;
    struct kvd_loading st;
    uint8_t *snap_buf;          /* COHORT_STATE_CHUNK_MAX: one chunk out */
    struct kvd_buf msg, scratch;
    struct kvd_buf batch;       /* writes taken this round (kvd_msg.h) */
    uint32_t batch_n;           /* commands in it (0: none) */
    uint64_t batch_first, batch_time_ms; /* its first request id, time */
    size_t batch_max;           /* its largest size (batch_limit()) */
    struct kvd_args margs;
    int have_view, primary, coordinator;
    uint64_t view_id;
    cohort_member_t members[KVD_MEMBERS_MAX];
    size_t n_members;
    uint64_t next_request, next_client_id;
    uint64_t next_tick_ns, accept_paused_until_ns, start_ns;
    struct counters n;
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-kvd --port PORT [options]\n"
"  --port PORT           TCP port for Redis clients (required)\n"
"  --bind ADDR           IPv4 address to listen on (default 127.0.0.1)\n"
"  --group NAME          group of the replicas (default: kvd)\n"
"  --name NAME           member name (default: host:pid)\n"
"  --interface IF        interface or local address for the group\n"
"                        (default: lo)\n"
"  --address ADDR        multicast address (default: from the group)\n"
"  --cohort-port P       UDP port of the group (default: the library's)\n"
"  --ipv6                use IPv6 for the group\n"
"  --key FILE            group key from cohort-keygen (encrypts)\n"
"  --security auth|encrypt  protection (needs --key)\n"
"  --cipher xchacha20poly1305|aes256gcm|fastest  AEAD to seal with\n"
"                        (default fastest: AES-256-GCM unless a member\n"
"                        cannot open it; members open both)\n"
"  --datagram BYTES      largest UDP payload (default: the interface MTU\n"
"                        less IP and UDP headers; 65507 on loopback)\n"
"  --faults SPEC         fault injection (testing), as COHORT_FAULTS\n"
"  --expected N          replicas expected: writes need a view of more\n"
"                        than N/2 (default 0: every view is primary)\n"
"  --safe                writes in SAFE order (held by every replica\n"
"                        before they apply) instead of TOTAL\n"
"  --linearizable-reads  reads go through the total order too\n"
"  --no-state-transfer   start with an empty store and never take (or\n"
"                        give) the group's state\n""  --stats-socket PATH   serve the library's counters on a Unix socket\n"
"                        at PATH (mode 0600) for cohort-stat(1)\n"
"  --max-clients N       client connections (default 10000)\n"
"  --max-query-bytes N   unparsed input a client may send ahead\n"
"                        (default 64 MiB)\n"
"  --max-output-bytes N  replies a client may leave unread before it is\n"
"                        disconnected (default 64 MiB)\n"
"  --quiet               print only errors\n"
"  --help, --version\n");
}

static const struct option long_opts[] = {
    { "group", required_argument, NULL, TOOL_OPT_GROUP },
    { "name", required_argument, NULL, TOOL_OPT_NAME },
    { "interface", required_argument, NULL, TOOL_OPT_INTERFACE },
    { "address", required_argument, NULL, TOOL_OPT_ADDRESS },
    { "cohort-port", required_argument, NULL, TOOL_OPT_PORT },
    { "ipv6", no_argument, NULL, TOOL_OPT_IPV6 },
    { "key", required_argument, NULL, TOOL_OPT_KEY },
    { "security", required_argument, NULL, TOOL_OPT_SECURITY },
    { "cipher", required_argument, NULL, TOOL_OPT_CIPHER },
    { "datagram", required_argument, NULL, TOOL_OPT_DATAGRAM },
    { "faults", required_argument, NULL, TOOL_OPT_FAULTS },
    { "help", no_argument, NULL, TOOL_OPT_HELP },
    { "version", no_argument, NULL, TOOL_OPT_VERSION },
    { "port", required_argument, NULL, OPT_TCP_PORT },
    { "bind", required_argument, NULL, OPT_BIND },
    { "expected", required_argument, NULL, OPT_EXPECTED },
    { "safe", no_argument, NULL, OPT_SAFE },
    { "linearizable-reads", no_argument, NULL, OPT_LINEARIZABLE },
    { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
    { "max-query-bytes", required_argument, NULL, OPT_MAX_QUERY },
    { "max-output-bytes", required_argument, NULL, OPT_MAX_OUTPUT },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "no-state-transfer", no_argument, NULL, OPT_NO_STATE_TRANSFER },
    { "stats-socket", required_argument, NULL, OPT_STATS_SOCKET },
    { NULL, 0, NULL, 0 },
};

static int kvd_option(void *ctx, int opt, const char *arg)
{
    struct kvd_opts *o = ctx;
    uint64_t v = 0;
    switch (opt) {
    case OPT_TCP_PORT:
        if (tool_parse_u64("port", arg, 1, 65535, &v) != 0)
            return -1;
        o->tcp_port = (uint16_t)v;
        return 0;
    case OPT_BIND: o->bind = arg; return 0;
    case OPT_SAFE: o->safe = 1; return 0;
    case OPT_LINEARIZABLE: o->linearizable = 1; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_NO_STATE_TRANSFER: o->no_state_transfer = 1; return 0;
    case OPT_STATS_SOCKET: o->stats_socket = arg; return 0;
    case OPT_EXPECTED:
        return tool_parse_u64("expected", arg, 0, 1000, &o->expected);
    case OPT_MAX_CLIENTS:
        return tool_parse_u64("max-clients", arg, 1, 1000000,
                              &o->max_clients);
    case OPT_MAX_QUERY:
        return tool_parse_u64("max-query-bytes", arg, 1024,
                              (uint64_t)1 << 30, &o->max_query);
    case OPT_MAX_OUTPUT:
        return tool_parse_u64("max-output-bytes", arg, 1024,
                              (uint64_t)1 << 30, &o->max_output);
    default:
        return -1;
    }
}

static int parse_args(void *opts, int argc, char **argv)
{
    struct kvd_opts *o = &((struct kvd *)opts)->o;
    struct in_addr a;
    int r;
    tool_net_init(&o->net, "kvd");
    o->bind = "127.0.0.1";
    o->max_clients = KVD_MAX_CLIENTS_DEFAULT;
    o->max_query = KVD_QUERY_MAX_DEFAULT;
    o->max_output = KVD_OUTPUT_MAX_DEFAULT;
    r = tool_parse_options(&o->net, argc, argv, long_opts, usage, kvd_option,
                           o);
    if (r != TOOL_OPT_NEXT)
        return r;
    if (o->tcp_port == 0) {
        tool_err("--port PORT is required (try --help)");
        return TOOL_EXIT_USAGE;
    }
    if (inet_pton(AF_INET, o->bind, &a) != 1) {
        tool_err("--bind: expected an IPv4 address, got '%s'", o->bind);
        return TOOL_EXIT_USAGE;
    }
    return tool_net_check(&o->net) == 0 ? -1 : TOOL_EXIT_USAGE;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static uint64_t conn_tag(const struct conn *cn)
{
    return ((uint64_t)cn->gen << 32) | cn->slot;
}

static struct conn *conn_by_tag(struct kvd *k, uint64_t tag)
{
    uint32_t slot = (uint32_t)tag;
    struct conn *cn = slot < k->o.max_clients ? k->conns[slot] : NULL;
    return cn != NULL && cn->gen == (uint32_t)(tag >> 32) ? cn : NULL;
}

/* Run cn in this round (reads, replies) or, with next, in the next one
 * (a write the library's window had no room for). */
static void conn_queue(struct kvd *k, struct conn *cn, int next)
{
    if (next) {
        if (k->runq_next_len < 2 * k->o.max_clients)
            k->runq_next[k->runq_next_len++] = cn->slot;
        return;
    }
    if (cn->queued || k->runq_len == 2 * k->o.max_clients)
        return;
    cn->queued = 1;
    k->runq[k->runq_len++] = cn->slot;
}

static void conn_close(struct kvd *k, struct conn *cn)
{
    close(cn->fd);
    kvd_buf_free(&cn->in);
    kvd_buf_free(&cn->out);
    kvd_args_free(&cn->args);
    k->conns[cn->slot] = NULL;
    k->free_slots[k->n_free++] = cn->slot;
    k->n_conns--;
    /* Writes in flight still apply; their replies find no one (gen). */
    free(cn);
}

static void conn_interest(struct kvd *k, struct conn *cn)
{
    uint32_t want = 0;
    struct epoll_event ev;
    if (!cn->closing && cn->out.len - cn->out_pos < k->o.max_output / 4 &&
        cn->in.len - cn->in_pos < k->o.max_query)
        want |= EPOLLIN;
    if (cn->out.len > cn->out_pos)
        want |= EPOLLOUT;
    if (want == cn->interest)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = want;
    ev.data.u64 = conn_tag(cn);
    if (epoll_ctl(k->ep, EPOLL_CTL_MOD, cn->fd, &ev) == 0)
        cn->interest = want;
}

/* Write what is buffered; 0, or -1 if the connection was closed. */
static int conn_flush(struct kvd *k, struct conn *cn)
{
    while (cn->out.len > cn->out_pos) {
        ssize_t w = write(cn->fd, cn->out.data + cn->out_pos,
                          cn->out.len - cn->out_pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0) {
            conn_close(k, cn);
            return -1;
        }
        cn->out_pos += (size_t)w;
    }
    if (cn->out_pos == cn->out.len) {
        cn->out.len = 0;
        cn->out_pos = 0;
        if (cn->closing) {
            conn_close(k, cn);
            return -1;
        }
    }
    return 0;
}

static void accept_clients(struct kvd *k)
{
    for (;;) {
        struct conn *cn;
        struct epoll_event ev;
        int one = 1;
        int fd = accept4(k->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                errno == ENOBUFS) {
                /* Level-triggered: stop asking for a while, or spin. */
                epoll_ctl(k->ep, EPOLL_CTL_DEL, k->lfd, NULL);
                k->accept_paused_until_ns = tool_now_ns() +
                                            KVD_ACCEPT_PAUSE_NS;
            }
            return;
        }
        if (k->n_free == 0 || (cn = calloc(1, sizeof *cn)) == NULL) {
            static const char full[] =
                "-ERR max number of clients reached\r\n";
            if (write(fd, full, sizeof full - 1) < 0)
                (void)0;
            close(fd);
            k->n.clients_rejected++;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cn->fd = fd;
        cn->slot = k->free_slots[--k->n_free];
        cn->gen = (uint32_t)(k->next_client_id * 2654435761u) | 1u;
        cn->id = ++k->next_client_id;
        kvd_buf_init(&cn->in, (size_t)k->o.max_query + KVD_READ_CHUNK);
        kvd_buf_init(&cn->out, (size_t)k->o.max_output);
        kvd_args_init(&cn->args);
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.u64 = conn_tag(cn);
        if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            k->free_slots[k->n_free++] = cn->slot;
            free(cn);
            continue;
        }
        cn->interest = EPOLLIN;
        k->conns[cn->slot] = cn;
        k->n_conns++;
        k->n.clients_total++;
    }
}

/* Read what the client sent (bounded per wake-up). -1: closed. */
static int conn_read(struct kvd *k, struct conn *cn)
{
    ssize_t r;
    if (cn->in_pos > 0) {
        kvd_buf_consume(&cn->in, cn->in_pos);
        cn->in_pos = 0;
    }
    if (kvd_buf_reserve(&cn->in, KVD_READ_CHUNK) != 0) {
        conn_close(k, cn);
        return -1;
    }
    r = read(cn->fd, cn->in.data + cn->in.len, KVD_READ_CHUNK);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0) {
        /* EOF, perhaps mid-command: what it sent whole is still
         * answered by nobody, so just go. */
        conn_close(k, cn);
        return -1;
    }
    cn->in.len += (size_t)r;
    conn_queue(k, cn, 0);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Server commands: INFO, CLIENT, QUIT, CONFIG                         */
/* ------------------------------------------------------------------ */

static int info_section(const struct kvd_arg *want, const char *name)
{
    return want == NULL || kvd_arg_is(want, name) ||
           kvd_arg_is(want, "all") || kvd_arg_is(want, "everything") ||
           kvd_arg_is(want, "default");
}

static void info_cohort(struct kvd *k, struct kvd_buf *b)
{
    kvd_buf_printf(b, "# Cohort\r\nview_id:%u.%08x\r\nmembers:%zu\r\n",
                   (unsigned)(k->view_id >> 32), (unsigned)k->view_id,
                   k->n_members);
    kvd_buf_printf(b, "member_ids:");
    for (size_t i = 0; i < k->n_members; i++)
        kvd_buf_printf(b, "%s%08x", i ? "," : "", (unsigned)k->members[i].id);
    kvd_buf_printf(b, "\r\nself_id:%08x\r\nprimary:%d\r\ncoordinator:%d\r\n"
                      "order:%s\r\nlinearizable_reads:%d\r\n",
                   (unsigned)k->self.id, k->have_view && k->primary,
                   k->coordinator, k->o.safe ? "safe" : "total",
                   k->o.linearizable);
    kvd_buf_printf(b, "writes_sent:%llu\r\nwrites_applied_own:%llu\r\n"
                      "writes_applied_remote:%llu\r\nreads_ordered:%llu\r\n"
                      "writes_in_flight:%zu\r\nwrite_batches_sent:%llu\r\n"
                      "send_failed:%llu\r\n",
                   (unsigned long long)k->n.writes_sent,
                   (unsigned long long)k->n.own_applied,
                   (unsigned long long)k->n.remote_applied,
                   (unsigned long long)k->n.ordered_reads, k->ring_len,
                   (unsigned long long)k->n.batches_sent,
                   (unsigned long long)k->n.send_failed);
    kvd_buf_printf(b, "time_sent:%llu\r\ntime_applied:%llu\r\n"
                      "ordered_time_ms:%llu\r\nkeys_expired:%llu\r\n"
                      "refused_noquorum:%llu\r\nsend_would_block:%llu\r\n"
                      "messages_malformed:%llu\r\nwrites_lost:%llu\r\n",
                   (unsigned long long)k->n.time_sent,
                   (unsigned long long)k->n.time_applied,
                   (unsigned long long)k->store.now_ms,
                   (unsigned long long)k->n.expired,
                   (unsigned long long)k->n.refused_noquorum,
                   (unsigned long long)k->n.send_again,
                   (unsigned long long)k->n.malformed,
                   (unsigned long long)k->n.lost);
    kvd_buf_printf(b, "state_transfer:%d\r\nloading:%d\r\n"
                      "state_requests:%llu\r\nstate_loaded:%llu\r\n"
                      "state_none:%llu\r\nstate_failed:%llu\r\n"
                      "state_provided:%llu\r\nstate_cancelled:%llu\r\n"
                      "state_bytes_sent:%llu\r\n"
                      "state_bytes_received:%llu\r\n"
                      "refused_loading:%llu\r\ncatchup_sent:%llu\r\n"
                      "catchup_taken:%llu\r\ncatchup_ignored:%llu\r\n"
                      "writes_uncertain:%llu\r\nrejoins:%llu\r\n"
                      "\r\n",
                   !k->o.no_state_transfer, k->st.loading,
                   (unsigned long long)k->n.state_requests,
                   (unsigned long long)k->n.state_loaded,
                   (unsigned long long)k->n.state_none,
                   (unsigned long long)k->n.state_failed,
                   (unsigned long long)k->n.state_provided,
                   (unsigned long long)k->n.state_cancelled,
                   (unsigned long long)k->n.state_bytes_sent,
                   (unsigned long long)k->n.state_bytes_received,
                   (unsigned long long)k->n.refused_loading,
                   (unsigned long long)k->n.catchup_sent,
                   (unsigned long long)k->n.catchup_taken,
                   (unsigned long long)k->n.catchup_ignored,
                   (unsigned long long)k->n.uncertain,
                   (unsigned long long)k->n.rejoins);
}

static void cmd_info(struct kvd *k, struct conn *cn, size_t argc,
                     const struct kvd_arg *v)
{
    struct kvd_buf b;
    const struct kvd_arg *want = argc > 1 ? &v[1] : NULL;
    kvd_buf_init(&b, 0);
    if (info_section(want, "server"))
        kvd_buf_printf(&b, "# Server\r\nredis_version:7.0.0\r\n"
                           "redis_mode:standalone\r\nkvd_version:%s\r\n"
                           "cohort_version:%s\r\nos:Linux\r\n"
                           "process_id:%ld\r\ntcp_port:%u\r\n"
                           "uptime_in_seconds:%llu\r\n\r\n",
                       PACKAGE_VERSION, cohort_version(), (long)getpid(),
                       (unsigned)k->o.tcp_port,
                       (unsigned long long)((tool_now_ns() - k->start_ns) /
                                            1000000000u));
    if (info_section(want, "clients"))
        kvd_buf_printf(&b, "# Clients\r\nconnected_clients:%zu\r\n"
                           "maxclients:%llu\r\ntotal_connections:%llu\r\n"
                           "rejected_connections:%llu\r\n\r\n",
                       k->n_conns, (unsigned long long)k->o.max_clients,
                       (unsigned long long)k->n.clients_total,
                       (unsigned long long)k->n.clients_rejected);
    if (info_section(want, "persistence"))
        kvd_buf_printf(&b, "# Persistence\r\nloading:%d\r\n\r\n",
                       k->st.loading);
    if (info_section(want, "cohort") || info_section(want, "replication"))
        info_cohort(k, &b);
    if (info_section(want, "keyspace")) {
        kvd_buf_printf(&b, "# Keyspace\r\n");
        if (k->store.count > 0)
            kvd_buf_printf(&b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n",
                           k->store.count, kvd_store_expires(&k->store));
    }
    if (b.failed)
        kvd_resp_error(&cn->out, "ERR out of memory");
    else
        kvd_resp_bulk(&cn->out, b.data, b.len);
    kvd_buf_free(&b);
}

static void cmd_client(struct kvd *k, struct conn *cn, size_t argc,
                       const struct kvd_arg *v)
{
    (void)k;
    if (kvd_arg_is(&v[1], "setname") && argc == 3) {
        for (size_t i = 0; i < v[2].len; i++) {
            if (v[2].p[i] <= ' ' || v[2].p[i] > '~') {
                kvd_resp_error(&cn->out, "ERR Client names cannot contain "
                               "spaces, newlines or special characters.");
                return;
            }
        }
        snprintf(cn->name, sizeof cn->name, "%.*s",
                 (int)(v[2].len > KVD_NAME_MAX ? KVD_NAME_MAX : v[2].len),
                 v[2].p);
        kvd_resp_simple(&cn->out, "OK");
    } else if (kvd_arg_is(&v[1], "getname") && argc == 2) {
        if (cn->name[0] == '\0')
            kvd_resp_null(&cn->out);
        else
            kvd_resp_bulk_str(&cn->out, cn->name);
    } else if (kvd_arg_is(&v[1], "id") && argc == 2) {
        kvd_resp_int(&cn->out, (int64_t)cn->id);
    } else if (kvd_arg_is(&v[1], "setinfo") && argc == 4) {
        kvd_resp_simple(&cn->out, "OK");   /* client libraries send it */
    } else {
        kvd_resp_error(&cn->out, "ERR unknown subcommand or wrong number of "
                       "arguments for '%.*s'. Try CLIENT HELP.",
                       (int)(v[1].len > 64 ? 64 : v[1].len), v[1].p);
    }
}

/* CONFIG GET: what redis-benchmark asks; nothing else is configurable. */
static void cmd_config(struct conn *cn, size_t argc, const struct kvd_arg *v)
{
    if (!kvd_arg_is(&v[1], "get") || argc != 3) {
        kvd_resp_error(&cn->out, "ERR CONFIG %.*s is not supported",
                       (int)(v[1].len > 64 ? 64 : v[1].len), v[1].p);
        return;
    }
    if (kvd_arg_is(&v[2], "save") || kvd_arg_is(&v[2], "appendonly")) {
        kvd_resp_array(&cn->out, 2);
        kvd_resp_bulk(&cn->out, v[2].p, v[2].len);
        kvd_resp_bulk_str(&cn->out, kvd_arg_is(&v[2], "save") ? "" : "no");
    } else {
        kvd_resp_array(&cn->out, 0);
    }
}

static void run_server_cmd(struct kvd *k, struct conn *cn,
                           const struct kvd_cmd_def *d, size_t argc,
                           const struct kvd_arg *v)
{
    switch (d->id) {
    case KVD_ID_INFO: cmd_info(k, cn, argc, v); return;
    case KVD_ID_CLIENT: cmd_client(k, cn, argc, v); return;
    case KVD_ID_CONFIG: cmd_config(cn, argc, v); return;
    case KVD_ID_QUIT:
        kvd_resp_simple(&cn->out, "OK");
        cn->closing = 1;
        return;
    case KVD_ID_OTHER:
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Commands from clients                                               */
/* ------------------------------------------------------------------ */

enum dispatch { DISPATCH_DONE, DISPATCH_WAIT, DISPATCH_RETRY };

/* The largest batch: what one datagram carries (a batch is never cut
 * into fragments), within what the mode takes and KVD_BATCH_BYTES_MAX. */
static size_t batch_limit(const struct kvd *k)
{
    size_t one = cohort_max_payload(k->c, COHORT_UNRELIABLE);
    size_t most = cohort_max_payload(k->c, k->mode);
    size_t lim = one > 2 * KVD_BATCH_SLACK ? one - KVD_BATCH_SLACK : one;
    if (lim > most)
        lim = most;
    return lim < KVD_BATCH_BYTES_MAX ? lim : KVD_BATCH_BYTES_MAX;
}

/* Send the batch of writes taken so far, if any. 0: sent, or there was
 * none; -1: not sent (the window is full, or the send failed): it is
 * kept as it is and tried again, in its place, next round. */
static int batch_flush(struct kvd *k)
{
    struct kvd_msg m;
    int r;
    if (k->batch_n == 0)
        return 0;
    memset(&m, 0, sizeof m);
    m.origin_id = k->self.id;
    m.origin_incarnation = k->self.incarnation;
    m.request_id = k->batch_first;
    m.time_ms = k->batch_time_ms;
    kvd_msg_batch_end(&k->batch, &m, k->batch_n);
    r = cohort_send(k->c, k->mode, k->batch.data, k->batch.len);
    if (r != 0) {
        if (r == COHORT_ERR_AGAIN)
            k->n.send_again++;
        else
            k->n.send_failed++;
        return -1;
    }
    k->sent = 1;
    k->n.batches_sent++;
    k->batch_n = 0;
    return 0;
}

/* Send one command that does not fit in a batch as a message of its own
 * (the batch is empty). 0: sent; COHORT_ERR_AGAIN: the window is full;
 * another negative code: not sent, and the client answered with it. */
static int send_alone(struct kvd *k, struct conn *cn, size_t argc,
                      const struct kvd_arg *v)
{
    struct kvd_msg m;
    int r;
    memset(&m, 0, sizeof m);
    m.type = KVD_MSG_COMMAND;
    m.origin_id = k->self.id;
    m.origin_incarnation = k->self.incarnation;
    m.request_id = k->next_request;
    m.time_ms = wall_ms();
    k->msg.len = 0;
    k->msg.failed = 0;
    kvd_msg_encode(&k->msg, &m, argc, v);
    if (k->msg.failed) {
        kvd_resp_error(&cn->out, "ERR out of memory");
        return COHORT_ERR_NOMEM;
    }
    r = cohort_send(k->c, k->mode, k->msg.data, k->msg.len);
    k->sent |= r == 0;
    if (r == COHORT_ERR_AGAIN)
        k->n.send_again++;
    else if (r == COHORT_ERR_TOOBIG)
        kvd_resp_error(&cn->out, "ERR command too large to replicate "
                       "(%zu bytes; the group takes %zu)", k->msg.len,
                       cohort_max_payload(k->c, k->mode));
    else if (r != 0)
        kvd_resp_error(&cn->out, "ERR replication failed: %s",
                       cohort_strerror(r));
    return r;
}

/* Multicast a write (or an ordered read). It goes into this round's
 * batch (sent at the end of the round, batch_flush()), or alone if it is
 * too large for one. DONE: taken (the reply comes at delivery) or
 * answered with an error; RETRY: the window is full. */
static enum dispatch replicate(struct kvd *k, struct conn *cn, size_t argc,
                               const struct kvd_arg *v)
{
    size_t bytes;
    if (!k->have_view || !k->primary) {
        k->n.refused_noquorum++;
        kvd_resp_error(&cn->out, "NOQUORUM not in the primary component");
        return DISPATCH_DONE;
    }
    if (k->ring_len == KVD_PENDING_MAX)
        return DISPATCH_RETRY;
    bytes = kvd_msg_command_bytes(argc, v);
    /* A batch is sent as it was begun: the next command waits for it. */
    if (k->batch_n > 0 &&
        (bytes > k->batch_max - k->batch.len ||
         k->batch_n == KVD_BATCH_COMMANDS_MAX) &&
        batch_flush(k) != 0)
        return DISPATCH_RETRY;
    if (k->batch_max > KVD_MSG_HEADER_BYTES &&
        bytes <= k->batch_max - KVD_MSG_HEADER_BYTES) {
        if (k->batch_n == 0) {
            kvd_msg_batch_begin(&k->batch);  /* room kept: cannot fail */
            k->batch_first = k->next_request;
            k->batch_time_ms = wall_ms();
        }
        kvd_msg_batch_add(&k->batch, argc, v);
        k->batch_n++;
    } else {
        int r = send_alone(k, cn, argc, v);
        if (r == COHORT_ERR_AGAIN)
            return DISPATCH_RETRY;
        if (r != 0)
            return DISPATCH_DONE;  /* answered with the error */
    }
    k->ring[(k->ring_head + k->ring_len) % KVD_PENDING_MAX] =
        (struct pending){ k->next_request, cn->slot, cn->gen };
    k->ring_len++;
    k->next_request++;
    k->n.writes_sent++;
    cn->pending++;
    return DISPATCH_DONE;
}

/*
 * One parsed command. Replies go out in command order, and a write is
 * answered only at its delivery, so while a client has writes in flight
 * its next command may only be another write (WAIT otherwise: it stays
 * in the buffer until they are answered).
 */
static enum dispatch dispatch(struct kvd *k, struct conn *cn, size_t argc,
                              const struct kvd_arg *v)
{
    const struct kvd_cmd_def *d;
    int ordered;
    size_t before = cn->out.len;
    if (argc == 0)
        return DISPATCH_DONE;
    d = kvd_cmd_find(&v[0]);
    ordered = d != NULL &&
              ((d->flags & KVD_CMD_WRITE) ||
               (k->o.linearizable && (d->flags & KVD_CMD_READ)));
    if (!ordered && cn->pending > 0)
        return DISPATCH_WAIT;
    if (d == NULL) {
        kvd_cmd_unknown(&cn->out, argc, v);
        return DISPATCH_DONE;
    }
    if (k->st.loading && (d->flags & (KVD_CMD_WRITE | KVD_CMD_READ))) {
        /* The store may lack writes the group has: neither read it nor
         * answer a write from it (INCR's result) until it is loaded. */
        if (cn->pending > 0)
            return DISPATCH_WAIT;  /* answer it in its turn */
        k->n.refused_loading++;
        kvd_resp_error(&cn->out, "LOADING kvd is loading the group's "
                                 "state");
        return DISPATCH_DONE;
    }
    if (kvd_cmd_arity(d, argc, &cn->out) != 0 ||
        (ordered && kvd_cmd_check(d, argc, v, &cn->out) != 0)) {
        if (cn->pending > 0) {     /* answer it in its turn */
            cn->out.len = before;
            return DISPATCH_WAIT;
        }
        return DISPATCH_DONE;
    }
    if (ordered) {
        enum dispatch r = replicate(k, cn, argc, v);
        if (cn->out.len != before && cn->pending > 0) {
            cn->out.len = before;
            return DISPATCH_WAIT;
        }
        return r;
    }
    if (d->flags & KVD_CMD_SERVER) {
        run_server_cmd(k, cn, d, argc, v);
    } else {
        struct kvd_exec x = { &k->store, wall_ms(), &cn->out };
        kvd_cmd_run(d, &x, argc, v);
    }
    return DISPATCH_DONE;
}

static void protocol_error(struct conn *cn, const char *err)
{
    kvd_resp_error(&cn->out, "%s", err);
    cn->closing = 1;
}

/* Parse and dispatch what cn has buffered, in order, until it waits. */
static void conn_run(struct kvd *k, struct conn *cn)
{
    while (!cn->closing && cn->out.len - cn->out_pos < k->o.max_output / 4) {
        size_t avail = cn->in.len - cn->in_pos, used = 0, need = 0;
        const char *err = NULL;
        enum dispatch d;
        int r;
        if (avail == 0 || avail < cn->need)
            return;
        /* An inline command's quoted words are unescaped in place, so it
         * is parsed only when it can be dispatched at once. */
        if (cn->pending > 0 && cn->in.data[cn->in_pos] != '*')
            return;
        r = kvd_resp_parse(cn->in.data + cn->in_pos, avail, &cn->args, &used,
                           &need, &err);
        if (r == KVD_PARSE_MORE) {
            if (need > k->o.max_query) {
                if (cn->pending == 0)
                    protocol_error(cn, "ERR Protocol error: query buffer "
                                       "limit exceeded");
                return;
            }
            cn->need = need;
            return;
        }
        if (r == KVD_PARSE_ERROR) {
            if (cn->pending == 0)
                protocol_error(cn, err);
            return;
        }
        cn->need = 0;
        d = dispatch(k, cn, cn->args.n, cn->args.v);
        if (d == DISPATCH_RETRY) {
            conn_queue(k, cn, 1);
            return;
        }
        if (d == DISPATCH_WAIT)
            return;
        cn->in_pos += used;
        if (cn->out.failed) {
            cn->closing = 1;      /* over --max-output-bytes */
            cn->out.len = cn->out_pos = 0;
            return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Deliveries                                                          */
/* ------------------------------------------------------------------ */

/* The client waiting for this replica's own request rid, or NULL (it has
 * gone). Requests come back in sending order; an older one still queued
 * was not delivered (its view ended without it) and is answered so. */
static struct conn *take_own(struct kvd *k, uint64_t rid)
{
    while (k->ring_len > 0) {
        struct pending p = k->ring[k->ring_head];
        struct conn *cn;
        if (p.request_id > rid)
            return NULL;
        k->ring_head = (k->ring_head + 1) % KVD_PENDING_MAX;
        k->ring_len--;
        cn = conn_by_tag(k, ((uint64_t)p.gen << 32) | p.slot);
        if (cn != NULL) {
            cn->pending--;
            conn_queue(k, cn, 0);
        }
        if (p.request_id == rid)
            return cn;
        k->n.lost++;
        if (cn != NULL)
            kvd_resp_error(&cn->out, "ERR write lost in a view change; it "
                                     "was not applied");
    }
    return NULL;
}

static void on_catchup(struct kvd *k, const struct kvd_msg *m);

/* A write or ordered read delivered as its view ended, ordered by no
 * sequencer record this replica holds (COHORT_MESSAGE_TRANSITIONAL): the
 * replicas that move on with this one apply it at the same place, but if
 * this one was cut off, the primary component went on without it and the
 * write is not there (the catch-up then replaces this store). It is
 * applied, but not acknowledged as done. */
static int uncertain(const cohort_event_t *ev)
{
    return ev->abi >= 2 &&
           (ev->u.message.flags & COHORT_MESSAGE_TRANSITIONAL) != 0;
}

static void answer_uncertain(struct kvd *k, struct conn *cn)
{
    k->n.uncertain++;
    kvd_resp_error(&cn->out, "ERR delivered as the view changed: the "
                             "outcome is unknown (it may be lost)");
}

/* One delivered command (alone, or of a batch: m->request_id is its
 * own), in k->margs. */
static void on_command(struct kvd *k, const cohort_event_t *ev,
                       const struct kvd_msg *mp)
{
    struct kvd_msg m = *mp;
    const struct kvd_cmd_def *d;
    struct conn *cn = NULL;
    int own;
    own = ev->u.message.sender.id == k->self.id &&
          ev->u.message.sender.incarnation == k->self.incarnation &&
          m.origin_id == k->self.id &&
          m.origin_incarnation == k->self.incarnation;
    if (own)
        cn = take_own(k, m.request_id);
    d = kvd_cmd_find(&k->margs.v[0]);
    if (d == NULL || (d->flags & (KVD_CMD_WRITE | KVD_CMD_READ)) == 0 ||
        kvd_cmd_arity(d, k->margs.n, &k->scratch) != 0) {
        k->scratch.len = 0;
        k->n.malformed++;
        return;
    }
    if (!(d->flags & KVD_CMD_WRITE)) {
        /* An ordered read: only its origin needs to run it. */
        if (cn != NULL && uncertain(ev)) {
            answer_uncertain(k, cn);
        } else if (cn != NULL) {
            struct kvd_exec x = { &k->store, m.time_ms, &cn->out };
            kvd_cmd_run(d, &x, k->margs.n, k->margs.v);
        }
        k->n.ordered_reads += own;
        return;
    }
    {
        int sure = cn != NULL && !uncertain(ev);
        struct kvd_exec x = { &k->store, m.time_ms,
                              sure ? &cn->out : &k->scratch };
        kvd_cmd_run(d, &x, k->margs.n, k->margs.v);
        k->scratch.len = 0;
        k->scratch.failed = 0;
        if (cn != NULL && !sure)
            answer_uncertain(k, cn);
    }
    if (own)
        k->n.own_applied++;
    else
        k->n.remote_applied++;
}

static void on_message(struct kvd *k, const cohort_event_t *ev)
{
    const void *data = ev->u.message.data;
    size_t len = ev->u.message.len, at = KVD_MSG_HEADER_BYTES;
    struct kvd_msg m;
    if (kvd_msg_decode(data, len, &m, &k->margs) != 0) {
        k->n.malformed++;
        return;
    }
    switch (m.type) {
    case KVD_MSG_TIME:
        k->n.expired += kvd_store_advance(&k->store, m.time_ms);
        k->n.time_applied++;
        return;
    case KVD_MSG_CATCHUP:
        on_catchup(k, &m);
        return;
    case KVD_MSG_COMMAND:
        on_command(k, ev, &m);
        return;
    case KVD_MSG_BATCH:
        /* Checked whole by the decode: each command is there. */
        for (uint32_t i = 0; i < m.count; i++) {
            struct kvd_msg one = m;
            one.request_id = m.request_id + i;
            if (kvd_msg_batch_next(data, len, &at, &k->margs) != 0) {
                k->n.malformed++;
                return;
            }
            on_command(k, ev, &one);
        }
        return;
    }
}

/* ------------------------------------------------------------------ */
/* State transfer                                                      */
/* ------------------------------------------------------------------ */

/* Multicast a message without arguments (time, catch-up) in the order;
 * from_view: a catch-up's (kvd_msg.h). 0, or -1 if the window is full
 * (try again next round). */
static int send_control(struct kvd *k, enum kvd_msg_type type,
                        uint64_t request_id, uint64_t from_view)
{
    struct kvd_msg m;
    if (batch_flush(k) != 0)       /* in its place, before this */
        return -1;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.origin_id = k->self.id;
    m.origin_incarnation = k->self.incarnation;
    m.request_id = request_id;
    /* CATCHUP: the primary view its sender came from (kvd_msg.h) */
    m.time_ms = type == KVD_MSG_CATCHUP ? from_view : wall_ms();
    k->msg.len = 0;
    k->msg.failed = 0;
    kvd_msg_encode(&k->msg, &m, 0, NULL);
    if (k->msg.failed ||
        cohort_send(k->c, k->mode, k->msg.data, k->msg.len) != 0)
        return -1;
    k->sent = 1;
    return 0;
}

/* Ask the group for its state; until it comes the replica is LOADING.
 * STATE (a request of this member is already under way, such as the one
 * config.state_transfer makes at the first view with others) is as good
 * as a new one: its STATE_DONE ends the loading. */
static void state_request(struct kvd *k, const char *why)
{
    int r = cohort_state_request(k->c);
    if (r != 0 && r != COHORT_ERR_STATE) {
        tool_err_cohort("state request", r);
        return;
    }
    k->st.loading = 1;
    k->n.state_requests += r == 0;
    if (!k->o.quiet && r == 0)
        printf("* state: asking the group for its state (%s)\n", why);
}

static void state_ready(struct kvd *k)
{
    k->st.loading = 0;
    k->st.ever_ready = 1;
    k->st.failures = 0;
    k->st.ready_view = k->view_id;
}

/* A replica that moved from the previous primary view to this one tells
 * each member it did not have there (k->st.tell, from the VIEW event's
 * joined list) that it may lack that view's writes. Sent from the main
 * loop, as many as the window takes; the rest next round. */
static void send_catchups(struct kvd *k)
{
    while (k->st.n_tell > 0) {
        cohort_member_t to = k->st.tell[k->st.n_tell - 1];
        if (send_control(k, KVD_MSG_CATCHUP,
                         (uint64_t)to.id << 32 | to.incarnation,
                         k->st.prev_primary) != 0)
            return;                /* window full: next round */
        k->n.catchup_sent++;
        k->st.n_tell--;
    }
}

/* Told (in the order) that this replica was not in the previous primary
 * view: unless it is loading already, or took its state in this view,
 * it asks for the state, once per view. Not when the primary view it
 * came from itself is as recent as the teller's (the counter of its id,
 * which grows with every view): a replica paused past the member timeout
 * may come back from its old primary view straight into a merge with
 * the others, who went through a newer primary view meanwhile; it sees
 * them join and tells them, as they tell it, and the one that missed
 * writes must not be the one that provides (tests/kvd-converge.sh). */
static void on_catchup(struct kvd *k, const struct kvd_msg *m)
{
    uint64_t me = (uint64_t)k->self.id << 32 | k->self.incarnation;
    if (m->request_id != me || k->o.no_state_transfer || k->st.loading ||
        k->st.ready_view == k->view_id || k->st.catchup_view == k->view_id)
        return;
    if (k->st.prev_primary != 0 &&
        (m->time_ms >> 32) <= (k->st.prev_primary >> 32)) {
        k->n.catchup_ignored++;
        if (!k->o.quiet)
            printf("* state: %08x says this replica missed a primary view, "
                   "but it came from an older one (%u, this one from %u)\n",
                   (unsigned)m->origin_id, (unsigned)(m->time_ms >> 32),
                   (unsigned)(k->st.prev_primary >> 32));
        return;
    }
    k->st.catchup_view = k->view_id;
    k->n.catchup_taken++;
    if (!k->o.quiet)
        printf("* state: %08x says this replica missed a primary view\n",
               (unsigned)m->origin_id);
    state_request(k, "missed a primary view");
}

/* A view. The catch-up rule: a replica that enters a primary view from
 * a non-primary one (or that has no state yet) may lack the writes of a
 * primary component it was not in (virtual synchrony carries no message
 * across a merge), so it asks for the state. One that moves from a
 * primary view to the next delivered all of the old one: it stays as it
 * is (it may provide), and tells the members it did not have there that
 * they may have missed it (a replica paused past the member timeout
 * comes back from its old primary view straight into a new one, and only
 * the others know). A request under way is made again by the library in
 * the new view (STATE here). Alone, there is no one to ask: the library
 * waits a while for others and then answers NONE. */
static void state_on_view(struct kvd *k, const cohort_event_t *ev,
                          int was_primary)
{
    k->st.n_tell = 0;              /* those of an older view are moot */
    if (k->o.no_state_transfer || !k->primary)
        return;
    if (was_primary && !k->st.loading) {
        for (size_t i = 0; i < ev->u.view.joined_count &&
                           k->st.n_tell < KVD_MEMBERS_MAX; i++)
            k->st.tell[k->st.n_tell++] = ev->u.view.joined[i];
    }
    if (k->n_members == 1)
        return;                    /* a request waits for others, then
                                      NONE: the own store is the state */
    if (k->st.loading || !was_primary)
        state_request(k, k->st.loading ? "joining"
                                       : "back in the primary component");
}

/* Send one chunk, waiting for window room as long as it takes (the
 * library ends the wait with STATE when the requester goes away). */
static int state_send_chunk(struct kvd *k, uint32_t transfer, size_t len)
{
    int r;
    do {
        r = cohort_state_send_wait(k->c, transfer, k->snap_buf, len,
                                   KVD_STATE_SEND_WAIT_MS);
    } while (r == COHORT_ERR_TIMEDOUT && !tool_stop_requested());
    return r;
}

/* Provider: stream the store as it is at this event. send_wait
 * processes the group without handing out events, so nothing is applied
 * (and the writer's check cannot fail) until the snapshot is out. */
static void on_state_request(struct kvd *k, const cohort_event_t *ev)
{
    uint32_t transfer = ev->u.state.transfer;
    cohort_member_t peer = ev->u.state.peer;
    struct kvd_snap_writer w;
    uint64_t sent = 0;
    int r;
    kvd_snap_writer_init(&w, &k->store);
    for (;;) {
        long n = kvd_snap_write(&w, k->snap_buf, COHORT_STATE_CHUNK_MAX);
        if (n <= 0) {
            /* n < 0 (the store changed) cannot happen here; the
             * requester's digest check would refuse the stream. */
            if (n < 0)
                tool_err("state: the store changed under the snapshot");
            break;
        }
        r = state_send_chunk(k, transfer, (size_t)n);
        if (r == COHORT_ERR_STATE) {
            k->n.state_cancelled++;   /* the view changed: asked again */
            if (!k->o.quiet)
                printf("* state: transfer to %08x cancelled\n",
                       (unsigned)peer.id);
            return;
        }
        if (r != 0) {
            tool_err_cohort("state send", r);
            return;
        }
        sent += (uint64_t)n;
        k->n.state_bytes_sent += (uint64_t)n;
    }
    r = cohort_state_end(k->c, transfer);
    k->sent = 1;                    /* the library has datagrams to send */
    if (r != 0) {
        if (r == COHORT_ERR_STATE)
            k->n.state_cancelled++;
        else
            tool_err_cohort("state end", r);
        return;
    }
    k->n.state_provided++;
    if (!k->o.quiet)
        printf("* state: sent %zu keys (%llu bytes) to %08x\n",
               k->store.count, (unsigned long long)sent, (unsigned)peer.id);
}

/* Requester: a chunk at offset 0 starts the snapshot over (an earlier
 * transfer was interrupted); the others continue it. */
static void on_state_chunk(struct kvd *k, const cohort_event_t *ev)
{
    struct kvd_loading *st = &k->st;
    if (ev->u.state.offset == 0) {
        if (st->active)
            (void)kvd_snap_load_end(&st->loader);
        st->active = 1;
        st->failed = 0;
        st->fed = 0;
        if (st->staging.buckets == NULL &&
            kvd_store_init(&st->staging, tool_random_u32()) != 0) {
            st->failed = 1;
            return;
        }
        kvd_snap_loader_init(&st->loader, &st->staging);
    }
    if (!st->active || st->failed)
        return;
    if (ev->u.state.offset != st->fed ||
        kvd_snap_load(&st->loader, ev->u.state.data, ev->u.state.len) != 0) {
        st->failed = 1;
        return;
    }
    st->fed += ev->u.state.len;
    k->n.state_bytes_received += ev->u.state.len;
}

/* Requester: the transfer ended. RECEIVED: the loaded snapshot replaces
 * the store, and the deliveries after this event are exactly those
 * ordered after it. NONE: nobody could provide; the own store stays. */
static void on_state_done(struct kvd *k, const cohort_event_t *ev)
{
    struct kvd_loading *st = &k->st;
    int ok = st->active && !st->failed && st->fed == ev->u.state.offset;
    if (st->active && kvd_snap_load_end(&st->loader) != 0)
        ok = 0;
    st->active = 0;
    if (ev->u.state.result != COHORT_STATE_RECEIVED) {
        /* No one holds a state here. In a primary view (or for a replica
         * that had one), the own store is as good as any; a fresh replica
         * outside the primary has none and asks again when it enters it. */
        k->n.state_none++;
        kvd_store_free(&st->staging);
        if (k->primary || st->ever_ready)
            state_ready(k);
        if (!k->o.quiet)
            printf("* state: no replica could provide one; %s (%zu "
                   "keys)\n", st->loading ? "still loading" : "serving own",
                   k->store.count);
        return;
    }
    if (!ok) {
        k->n.state_failed++;
        kvd_store_free(&st->staging);
        tool_err("state from %08x failed its check (%llu of %llu bytes)",
                 (unsigned)ev->u.state.peer.id, (unsigned long long)st->fed,
                 (unsigned long long)ev->u.state.offset);
        if (++st->failures < KVD_STATE_RETRIES)
            state_request(k, "the last one failed its check");
        else
            tool_err("state: %u snapshots failed; staying LOADING",
                     st->failures);
        return;
    }
    {
        struct kvd_store old = k->store;
        k->store = st->staging;
        st->staging = old;
        kvd_store_free(&st->staging);
    }
    state_ready(k);
    k->n.state_loaded++;
    if (!k->o.quiet)
        printf("* state: loaded %zu keys (%llu bytes) from %08x\n",
               k->store.count, (unsigned long long)st->fed,
               (unsigned)ev->u.state.peer.id);
}

/* Excluded while alive, the library began a new life of this replica
 * under a newer incarnation (this is its first view). The writes the old
 * life sent and did not see come back may or may not have been applied
 * by the others before they left it out: their clients are told so. The
 * store is that of a view the others left it out of: the replica loads
 * the group's, as a starting one does (the library asks for it at this
 * life's first view with others). */
static void new_life(struct kvd *k, cohort_member_t me)
{
    if (!k->o.quiet)
        printf("* this replica was excluded while alive: it rejoins as "
               "%08x.%u\n", (unsigned)me.id, (unsigned)me.incarnation);
    k->self = me;
    k->batch_n = 0;                /* not sent; its writes answered below */
    while (k->ring_len > 0) {
        struct pending p = k->ring[k->ring_head];
        struct conn *cn = conn_by_tag(k, ((uint64_t)p.gen << 32) | p.slot);
        k->ring_head = (k->ring_head + 1) % KVD_PENDING_MAX;
        k->ring_len--;
        if (cn != NULL) {
            cn->pending--;
            conn_queue(k, cn, 0);
            answer_uncertain(k, cn);
        }
    }
    k->have_view = 0;
    k->coordinator = 0;
    k->st.n_tell = 0;
    if (!k->o.no_state_transfer)
        k->st.loading = 1;
    k->n.rejoins++;
}

static void on_view(struct kvd *k, const cohort_event_t *ev)
{
    size_t n = ev->u.view.count;
    cohort_member_t me = cohort_self(k->c);
    if (me.id != k->self.id || me.incarnation != k->self.incarnation)
        new_life(k, me);
    int was = k->coordinator;
    int was_primary = k->have_view && k->primary;
    if (was_primary)
        k->st.prev_primary = k->view_id;
    k->have_view = 1;
    k->view_id = ev->u.view.view_id;
    k->primary = ev->u.view.primary;
    k->n_members = n < KVD_MEMBERS_MAX ? n : KVD_MEMBERS_MAX;
    memcpy(k->members, ev->u.view.members,
           k->n_members * sizeof k->members[0]);
    k->coordinator = n > 0 && ev->u.view.members[0].id == k->self.id &&
                     ev->u.view.members[0].incarnation == k->self.incarnation;
    if (k->coordinator && !was)
        k->next_tick_ns = 0;
    if (!k->o.quiet) {
        printf("* view %u.%08x: %zu member%s%s%s\n",
               (unsigned)(k->view_id >> 32), (unsigned)k->view_id, n,
               n == 1 ? "" : "s",
               k->primary ? "" : " (not primary: writes refused)",
               k->coordinator ? " (coordinator)" : "");
    }
    state_on_view(k, ev, was_primary);
}

static void on_event(void *ctx, const cohort_event_t *ev)
{
    struct kvd *k = ctx;
    switch (ev->type) {
    case COHORT_EVENT_MESSAGE: on_message(k, ev); return;
    case COHORT_EVENT_VIEW: on_view(k, ev); return;
    case COHORT_EVENT_STATE_REQUEST: on_state_request(k, ev); return;
    case COHORT_EVENT_STATE_CHUNK: on_state_chunk(k, ev); return;
    case COHORT_EVENT_STATE_DONE: on_state_done(k, ev); return;
    case COHORT_EVENT_WARNING: tool_print_warning(ev); return;
    default: return;
    }
}

/* The coordinator of a primary view tells the time through the order. */
static void tick(struct kvd *k, uint64_t now_ns)
{
    if (!k->coordinator || !k->primary || now_ns < k->next_tick_ns)
        return;
    if (send_control(k, KVD_MSG_TIME, 0, 0) != 0)
        return;                   /* window full: next round */
    k->n.time_sent++;
    k->next_tick_ns = now_ns + (kvd_store_expires(&k->store) > 0
                                    ? KVD_TICK_NS : KVD_IDLE_TICK_NS);
}

/* ------------------------------------------------------------------ */
/* Main loop                                                           */
/* ------------------------------------------------------------------ */

static int listen_tcp(const struct kvd_opts *o)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tool_err("socket: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o->tcp_port);
    inet_pton(AF_INET, o->bind, &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(fd, 511) != 0) {
        tool_err("listen on %s:%u: %s", o->bind, (unsigned)o->tcp_port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Enough descriptors for --max-clients, if the hard limit allows. */
static void raise_fd_limit(uint64_t clients)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < clients + 64) {
        rl.rlim_cur = clients + 64 < rl.rlim_max ? clients + 64 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int kvd_alloc(struct kvd *k)
{
    size_t n = (size_t)k->o.max_clients;
    k->conns = calloc(n, sizeof *k->conns);
    k->free_slots = calloc(n, sizeof *k->free_slots);
    /* A client is queued once, but a closed one's stale entry may stand
     * beside its slot's next client: 2n bounds both lists. */
    k->runq = calloc(2 * n, sizeof *k->runq);
    k->runq_next = calloc(2 * n, sizeof *k->runq_next);
    k->ring = calloc(KVD_PENDING_MAX, sizeof *k->ring);
    k->snap_buf = malloc(COHORT_STATE_CHUNK_MAX);
    if (!k->conns || !k->free_slots || !k->runq || !k->runq_next ||
        !k->ring || !k->snap_buf ||
        kvd_store_init(&k->store, tool_random_u32()) != 0) {
        tool_err("out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        k->free_slots[i] = (uint32_t)(n - 1 - i);
    k->n_free = n;
    kvd_buf_init(&k->msg, 0);
    kvd_buf_init(&k->scratch, 0);
    kvd_buf_init(&k->batch, 0);
    kvd_args_init(&k->margs);
    /* The batch's room is kept from the start: adding never fails. */
    if (kvd_buf_reserve(&k->batch, KVD_BATCH_BYTES_MAX) != 0) {
        tool_err("out of memory");
        return -1;
    }
    return 0;
}

static int kvd_start(struct kvd *k)
{
    struct cohort_config cfg;
    k->start_ns = tool_now_ns();
    k->next_request = 1;
    k->mode = k->o.safe ? KVD_MODE_SAFE : COHORT_TOTAL;
    raise_fd_limit(k->o.max_clients);
    if (kvd_alloc(k) != 0)
        return TOOL_EXIT_FAIL;
    k->lfd = listen_tcp(&k->o);
    if (k->lfd < 0)
        return TOOL_EXIT_FAIL;
    tool_config(&k->o.net, &cfg);
    cfg.expected_members = (size_t)k->o.expected;
    cfg.self_delivery = 1;         /* a client's reply waits for it */
    /* The library asks for the state at the first view (NONE when no
     * one else holds one); a replica that takes none gives none either
     * (its store may lack writes). */
    cfg.state_transfer = !k->o.no_state_transfer;
    cfg.state_provider = !k->o.no_state_transfer;
    cfg.stats_socket = k->o.stats_socket;
    k->st.loading = !k->o.no_state_transfer;
    k->st.ever_ready = k->o.no_state_transfer;
    if (tool_open(&cfg, &k->c) != 0)
        return TOOL_EXIT_FAIL;
    if (cohort_max_payload(k->c, k->mode) == 0) {
        tool_err("this library does not support %s order yet",
                 k->o.safe ? "safe" : "total");
        return TOOL_EXIT_NOTSUP;
    }
    k->self = cohort_self(k->c);
    k->batch_max = batch_limit(k);
    k->ep = epoll_create1(EPOLL_CLOEXEC);
    if (k->ep < 0 || epoll_add(k->ep, k->lfd, TAG_LISTEN) != 0 ||
        epoll_add(k->ep, cohort_fd(k->c), TAG_COHORT) != 0) {
        tool_err("epoll: %s", strerror(errno));
        return TOOL_EXIT_FAIL;
    }
    if (!k->o.quiet)
        printf("* cohort-kvd: group '%s', member %08x, listening on "
               "%s:%u\n", k->o.net.group, (unsigned)k->self.id, k->o.bind,
               (unsigned)k->o.tcp_port);
    return TOOL_EXIT_OK;
}

static int loop_timeout_ms(struct kvd *k)
{
    int t = cohort_timeout_ms(k->c);
    if (t < 0 || t > KVD_POLL_CAP_MS)
        t = KVD_POLL_CAP_MS;
    if (k->coordinator && k->primary)
        t = tool_ms_until(k->next_tick_ns, t);
    if (k->accept_paused_until_ns != 0)
        t = tool_ms_until(k->accept_paused_until_ns, t);
    if (k->runq_len > 0 || k->batch_n > 0)
        t = t > 1 ? 1 : t;         /* writes wait for window room */
    return t;
}

static void socket_events(struct kvd *k, const struct epoll_event *ev,
                          int n)
{
    for (int i = 0; i < n; i++) {
        struct conn *cn;
        if (ev[i].data.u64 == TAG_LISTEN) {
            accept_clients(k);
            continue;
        }
        if (ev[i].data.u64 == TAG_COHORT) {
            k->cohort_readable = 1;
            continue;
        }
        cn = conn_by_tag(k, ev[i].data.u64);
        if (cn == NULL)
            continue;
        if ((ev[i].events & EPOLLOUT) && conn_flush(k, cn) != 0)
            continue;
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            conn_read(k, cn);
    }
}

/* Run every queued client: parse what came, send what is answered. */
static void run_clients(struct kvd *k)
{
    size_t n;
    for (size_t i = 0; i < k->runq_len; i++) {
        struct conn *cn = k->conns[k->runq[i]];
        if (cn == NULL)
            continue;
        cn->queued = 0;
        conn_run(k, cn);
        if (conn_flush(k, cn) == 0)
            conn_interest(k, cn);
    }
    k->runq_len = 0;
    (void)batch_flush(k);          /* the round's writes, in one message */
    /* Writes that found the window full are tried again next round. */
    n = k->runq_next_len;
    k->runq_next_len = 0;
    for (size_t i = 0; i < n; i++) {
        struct conn *cn = k->conns[k->runq_next[i]];
        if (cn != NULL)
            conn_queue(k, cn, 0);
    }
}

static int kvd_loop(struct kvd *k)
{
    struct epoll_event ev[KVD_EPOLL_BATCH];
    while (!tool_stop_requested()) {
        uint64_t now;
        int r, n = epoll_wait(k->ep, ev, KVD_EPOLL_BATCH, loop_timeout_ms(k));
        if (n < 0 && errno != EINTR) {
            tool_err("epoll_wait: %s", strerror(errno));
            return TOOL_EXIT_FAIL;
        }
        socket_events(k, ev, n > 0 ? n : 0);
        /* The library has work only when its socket is readable, a timer
         * is due, or this replica sent (its own writes come back): a
         * round of reads alone costs it nothing. */
        if (k->cohort_readable || k->sent_before ||
            cohort_timeout_ms(k->c) == 0) {
            r = cohort_process(k->c);
            if (r < 0) {
                tool_err_cohort("process", r);
                return TOOL_EXIT_FAIL;
            }
            (void)tool_drain_events(k->c, KVD_EVENTS_PER_ROUND, on_event, k);
        }
        k->cohort_readable = 0;
        run_clients(k);
        now = tool_now_ns();
        tick(k, now);
        send_catchups(k);
        if (k->accept_paused_until_ns != 0 &&
            now >= k->accept_paused_until_ns) {
            k->accept_paused_until_ns = 0;
            epoll_add(k->ep, k->lfd, TAG_LISTEN);
        }
        if (k->sent)
            (void)cohort_flush(k->c);
        k->sent_before = k->sent;
        k->sent = 0;
        fflush(stdout);
    }
    return TOOL_EXIT_OK;
}

static void kvd_stop(struct kvd *k)
{
    if (k->conns != NULL) {
        for (size_t i = 0; i < k->o.max_clients; i++)
            if (k->conns[i] != NULL)
                conn_close(k, k->conns[i]);
    }
    if (k->c != NULL) {
        (void)batch_flush(k);
        (void)cohort_drain(k->c, KVD_DRAIN_MS);
        cohort_close(k->c);
    }
    if (k->lfd > 0)
        close(k->lfd);
    if (k->ep > 0)
        close(k->ep);
    kvd_store_free(&k->store);
    if (k->st.active)
        (void)kvd_snap_load_end(&k->st.loader);
    kvd_store_free(&k->st.staging);
    free(k->snap_buf);
    kvd_buf_free(&k->msg);
    kvd_buf_free(&k->scratch);
    kvd_buf_free(&k->batch);
    kvd_args_free(&k->margs);
    free(k->conns);
    free(k->free_slots);
    free(k->runq);
    free(k->runq_next);
    free(k->ring);
}

static int run(void *opts)
{
    struct kvd *k = opts;
    int rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    k->lfd = k->ep = -1;
    rc = kvd_start(k);
    if (rc == TOOL_EXIT_OK)
        rc = kvd_loop(k);
    kvd_stop(k);
    return rc;
}

int main(int argc, char **argv)
{
    static struct kvd k;
    return tool_main(argc, argv, &k, parse_args, run);
}
