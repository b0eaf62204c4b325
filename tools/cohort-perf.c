/*
 * cohort-perf - throughput and latency of cohort, against bare UDP
 * multicast as the baseline.
 *
 *   cohort-perf run [--receivers N] ...   start a sender (--senders: several)
 *                                          and N receivers as processes,
 *                                          print results
 *   cohort-perf table ...                  the whole matrix: sizes x
 *                                {raw, unreliable, fifo, total, safe}
 *   cohort-perf security ...               fifo at sizes x {none, auth,
 *                                          encrypt}: the cost of security
 *   cohort-perf membership ...             how long agreed views take:
 *                                          start, crash, join, leave
 *                                          (perf_members.c)
 *   cohort-perf send ... / recv ...        one role, for use by hand
 *
 * Every message starts with a 32-byte header (magic, type, run id, sender,
 * sequence number, a value: for DATA a checksum); the rest is filler, two
 * samples of it stamped per message (perf_verify.h). Receivers count DATA
 * until an END from every sender; for the reliable modes END is reliable,
 * for unreliable and raw it is repeated and backed by an idle timeout.
 * Receivers check every DATA message (checksum, sample, length, and the
 * whole filler of every 64th) and place it in its sender's sequence:
 * duplicates, late arrivals and missing sequence numbers are counted, and
 * loss is the numbers missing. They also fold (sender, sequence) in
 * delivery order into a hash, which for total and safe must agree at
 * every receiver. A run with corruption or duplicates, or in a reliable
 * mode a gap or a reordering, is INVALID: its row says so and the exit
 * status is 1 (--allow-invalid: 0). The benchmark checks what it measures.
 *
 * Raw and cohort obey one datagram limit (perf_raw.h says how raw cuts a
 * message), and both sides are driven alike: the sender never waits
 * except when its transport pushes back, and a receiver calls poll() only
 * once a pass over its input found nothing.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"
#include "harness_net.h"
#include "perf_members.h"
#include "perf_rpc.h"
#include "perf_plot.h"
#include "perf_raw.h"
#include "perf_verify.h"
#include "progress.h"

#define PERF_HDR_BYTES 32u
#define PERF_MAGIC 0x46525043u        /* "CPRF" */
#define PERF_MAX_SIZES 8
#define PERF_MAX_RECEIVERS 16
#define PERF_MAX_SENDERS 8            /* <= PERF_RAW_MAX_SOURCES */
#define PERF_MAX_SENDER_LISTS 4       /* --senders 1,3: up to 4 counts */
#define PERF_MAX_REPEAT 15
#define PERF_MAX_LAT_COUNT 1000000u
#define PERF_DEFAULT_RTTS 10000u
#define PERF_BUFFER_BYTES (4 << 20)   /* as the library's socket default */
#define PERF_PROCESS_EVERY_BYTES (64u << 10)
#define PERF_END_REPEATS 20
#define PERF_JOIN_WAIT_NS 10000000000ull
#define PERF_SETTLE_NS 300000000ull
#define PERF_STALL_NS 30000000000ull  /* flow control that never opens */
#define PERF_DRAIN_MS 30000
#define PERF_PROGRESS_NS TOOL_PROGRESS_EVERY_NS   /* a child's PROGRESS */
#define PERF_EXIT_TOOBIG 4

enum perf_type { MSG_DATA = 1, MSG_END = 2, MSG_PING = 3, MSG_PONG = 4 };
/* raw: bare UDP cut to the datagram limit; raw1: bare UDP, one datagram
 * per message whatever its size (what a user of plain UDP gets). */
enum perf_kind {
    KIND_RAW = 0, KIND_UNRELIABLE = 1, KIND_FIFO = 2, KIND_TOTAL = 3,
    KIND_SAFE = 4, KIND_RAW1 = 5, KIND__COUNT
};
static const char *const kind_names[] = { "raw", "unreliable", "fifo",
                                          "total", "safe", "raw1" };

static int kind_raw(int kind)
{
    return kind == KIND_RAW || kind == KIND_RAW1;
}

/* Does raw cut a message of size bytes at this datagram limit (so raw1,
 * one datagram per message, is a different workload)? */
static int raw_cuts(size_t size, size_t datagram)
{
    return size + PERF_RAW_HDR_BYTES > datagram;
}

/* The library's mode of a kind (not raw), and back. */
static cohort_mode_t kind_mode(int kind)
{
    static const cohort_mode_t modes[] = {
        [KIND_UNRELIABLE] = COHORT_UNRELIABLE, [KIND_FIFO] = COHORT_FIFO,
        [KIND_TOTAL] = COHORT_TOTAL, [KIND_SAFE] = COHORT_SAFE,
    };
    return modes[kind];
}

static int mode_kind(cohort_mode_t mode)
{
    for (int k = KIND_UNRELIABLE; k <= KIND_SAFE; k++)
        if (kind_mode(k) == mode)
            return k;
    return KIND_FIFO;
}

/* Reliable modes: nothing is lost, the end is waited for. */
static int reliable(cohort_mode_t mode)
{
    return mode != COHORT_UNRELIABLE;
}

enum perf_opt {
    OPT_SIZE = TOOL_OPT__END,
    OPT_COUNT,
    OPT_SECONDS,
    OPT_RAW,
    OPT_LATENCY,
    OPT_REPEAT,
    OPT_JSON,
    OPT_RECEIVERS,
    OPT_MATRIX,
    OPT_QUIET,
    OPT_MACHINE,
    OPT_INDEX,
    OPT_RUN_ID,
    OPT_TIMEOUT,
    OPT_SECMATRIX,
    OPT_ROUND_TRIPS,
    OPT_MEMBERS,
    OPT_MEMBER_TIMEOUT,
    OPT_DIP,
    OPT_DIP_ROLE,
    OPT_DIP_FILE,
    OPT_SENDERS,
    OPT_MODES,
    OPT_PROGRESS,
    OPT_PLOT,
    OPT_STATS_SOCKET,
    OPT_BUSY_POLL,
    OPT_BLOCKING,
    OPT_RAW1,
    OPT_ALLOW_INVALID,
    OPT_INJECT,
    OPT_PARITY,
    OPT_PARITY_EXTRA,
    OPT_NETNS_LOSS,
};

/* --inject (tests of the checks): what a sender does wrong on every
 * PERF_INJECT_EVERY-th message. */
enum perf_inject {
    INJECT_NONE = 0, INJECT_SKIP, INJECT_DUP, INJECT_CORRUPT
};
#define PERF_INJECT_EVERY 1000u
static const char *const inject_names[] = { "none", "skip", "dup",
                                            "corrupt" };

struct perf_opts {
    struct tool_net net;
    const char *role;
    int raw, raw1, latency, json, quiet, machine, matrix, secmatrix;
    int allow_invalid;           /* --allow-invalid: exit 0 even so */
    int inject;                  /* --inject: INJECT_* (senders) */
    int size_given;              /* recv: check the length too */
    uint64_t sizes[PERF_MAX_SIZES];
    size_t nsizes;
    uint64_t count;
    double seconds;
    uint64_t repeat, receivers, index, run_id, rtts;
    uint64_t senders[PERF_MAX_SENDER_LISTS];   /* throughput cells */
    size_t nsenders;
    unsigned kinds;              /* --modes: 1 << KIND_*; 0: not given */
    double timeout_s;
    uint64_t members[PERF_MEMBERS_MAX_SIZES];  /* membership: group sizes */
    size_t nmembers;
    uint64_t member_timeout_ms;  /* membership, member: 0 = default */
    int dip, dip_role;           /* membership --dip; member --dip-role */
    const char *dip_file;        /* member --dip-role=meter */
    int progress;                /* child: PROGRESS lines for the parent */
    const char *plot;            /* --plot FILE (.svg or .png) */
    const char *stats_socket;    /* send, recv: --stats-socket PATH */
    uint64_t busy_poll_us;       /* --busy-poll US: 0 = sleep in the kernel */
    int blocking;                /* --blocking: wait in cohort_wait() */
    uint64_t parity;             /* --parity K: cfg.parity_block (0 off) */
    uint64_t parity_extra;       /* --parity-extra E: cfg.parity_extra */
    uint64_t netns_loss;         /* --netns-loss P: percent, bridge drops */
    int netns;                   /* --netns-loss given: a namespace each */
};

/* run, table, security with --netns-loss: one namespace per process on a
 * bridge (harness_net.h); receivers are members 0..N-1, senders follow.
 * The parent stays in member 0's namespace between spawns, so it sees
 * the interface (and MTU) its children use. */
static struct hn_net g_hn;

/* The status line on a terminal (progress.h); off for children, --quiet
 * and --json. */
static struct tool_progress g_progress;

/* Which cell the parent runs, for its status line. */
static struct {
    size_t cell, cells;
    char what[160];
} g_where;

/* ------------------------------------------------------------------ */
/* Message header                                                      */
/* ------------------------------------------------------------------ */

struct perf_hdr {
    uint8_t type;
    uint32_t run_id;
    uint32_t from;
    uint64_t seq;
    uint64_t value;
};

static void hdr_put(uint8_t *b, const struct perf_hdr *h)
{
    tool_put_le(b, PERF_MAGIC, 4);
    b[4] = h->type;
    b[5] = b[6] = b[7] = 0;
    tool_put_le(b + 8, h->run_id, 4);
    tool_put_le(b + 12, h->from, 4);
    tool_put_le(b + 16, h->seq, 8);
    tool_put_le(b + 24, h->value, 8);
}

/* 0 if b holds a header of this run. */
static int hdr_get(const uint8_t *b, size_t len, uint32_t run_id,
                   struct perf_hdr *h)
{
    if (len < PERF_HDR_BYTES || (uint32_t)tool_get_le(b, 4) != PERF_MAGIC)
        return -1;
    h->type = b[4];
    h->run_id = (uint32_t)tool_get_le(b + 8, 4);
    h->from = (uint32_t)tool_get_le(b + 12, 4);
    h->seq = tool_get_le(b + 16, 8);
    h->value = tool_get_le(b + 24, 8);
    return h->run_id == run_id ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* One transport interface over cohort and bare sockets                */
/* ------------------------------------------------------------------ */

struct perf_io {
    int raw;
    cohort_t *c;
    cohort_mode_t mode;
    struct perf_raw sock;
    const uint8_t *msg;          /* the message io_next() took */
    size_t msg_len;
    int warned;
    uint64_t busy_poll_us;       /* --busy-poll */
    int blocking;                /* --blocking (or busy-poll): cohort_wait() */
    cohort_event_t pending;      /* taken by cohort_wait() (busy-poll), */
    int have_pending;            /* for io_next() */
    uint64_t views, lefts;       /* VIEW events taken; MEMBER_LEFT ones
                                    not graceful (timed out, restarted) */
};

static void raw_address(const struct perf_opts *o, char *buf, size_t len)
{
    unsigned x = (unsigned)(o->run_id >> 8) & 0xffu;
    unsigned y = (unsigned)o->run_id & 0xffu;
    if (o->net.address != NULL)
        snprintf(buf, len, "%s", o->net.address);
    else if (o->net.ipv6)
        snprintf(buf, len, "ff12::c3:%x:%x", x, y);
    else
        snprintf(buf, len, "239.195.%u.%u", x, y);
}

/* The datagram limit of a run: --datagram, else the one the library
 * sizes from the interface's MTU, so the raw baseline is held to the same
 * one. 1400 (the limit before MTU sizing) if the MTU cannot be read: the
 * open that follows then names the reason. */
static size_t datagram_limit(const struct tool_net *net)
{
    struct cohort_config cfg;
    size_t dg = 1400;
    tool_config(net, &cfg);
    (void)cohort_config_datagram(&cfg, &dg);
    return dg;
}

static int io_open(struct perf_io *io, const struct perf_opts *o)
{
    memset(io, 0, sizeof *io);
    io->raw = o->raw;
    io->mode = o->net.mode;
    io->busy_poll_us = o->busy_poll_us;
    io->blocking = o->blocking || o->busy_poll_us != 0;
    if (io->raw) {
        char addr[64];
        size_t largest = (size_t)o->sizes[0];
        int r;
        raw_address(o, addr, sizeof addr);
        r = perf_raw_open(&io->sock, o->net.interface, addr,
                          o->net.port ? o->net.port : 47100, o->net.ipv6,
                          PERF_BUFFER_BYTES,
                          o->raw1 ? PERF_RAW_MAX_WHOLE
                                  : datagram_limit(&o->net),
                          largest > PERF_HDR_BYTES ? largest
                                                   : PERF_HDR_BYTES);
        io->sock.whole = o->raw1;
        /* Each sender's chunks are put together apart from the others'
         * (a receiver's pongs too). */
        io->sock.source = (uint8_t)(strcmp(o->role, "send") == 0
                                        ? o->index
                                        : PERF_MAX_SENDERS + o->index);
        return r;
    }
    /* The path measured is between members: a sender's own copy of each
     * message (self-delivery, the library's default) would cost it a
     * copy per message and could be taken for a ping's echo. */
    struct cohort_config cfg;
    tool_config(&o->net, &cfg);
    cfg.self_delivery = 0;
    cfg.stats_socket = o->stats_socket;   /* for cohort-stat, by hand */
    cfg.busy_poll_us = (uint32_t)o->busy_poll_us;
    cfg.parity_block = (size_t)o->parity;
    cfg.parity_extra = (size_t)o->parity_extra;
    return tool_open(&cfg, &io->c) == 0 ? 0 : -1;
}

static void io_discard(struct perf_io *io);

static void io_close(struct perf_io *io, int drain_ms)
{
    if (io->raw) {
        perf_raw_close(&io->sock);
        return;
    }
    if (io->c != NULL && drain_ms > 0 && reliable(io->mode)) {
        /* Keep taking events while waiting: a member whose event queue is
         * full takes (and acknowledges) nothing more, so senders draining
         * at once without reading would wait on each other until the
         * timeout (seen with three SAFE senders). */
        uint64_t give_up = tool_now_ns() + (uint64_t)drain_ms * 1000000u;
        int r;
        for (;;) {
            io_discard(io);
            r = cohort_drain(io->c, 0);
            if (r != COHORT_ERR_TIMEDOUT || tool_now_ns() >= give_up)
                break;
            if (tool_poll_process(io->c, -1, 5, NULL) < 0)
                break;
        }
        if (r != 0)   /* which process: senders wait longer than receivers */
            tool_err("drain (%s, %d ms): %s", tool_mode_name(io->mode),
                     drain_ms, cohort_strerror(r));
    }
    cohort_close(io->c);
    io->c = NULL;
}

/* 0 sent, 1 try again later, else a negative COHORT_ERR_*. */
static int io_send(struct perf_io *io, const void *data, size_t len)
{
    int r;
    if (io->raw) {
        r = perf_raw_send(&io->sock, data, len);
        return r < 0 ? COHORT_ERR_SYSTEM : r;
    }
    r = cohort_send(io->c, io->mode, data, len);
    return r == COHORT_ERR_AGAIN ? 1 : r;
}

static void io_flush(struct perf_io *io)
{
    if (!io->raw)
        (void)cohort_flush(io->c);
}

/* Wait at most max_ms for input or a timer, then let cohort work. With
 * max_ms 0 there is no poll() at all: cohort_process() reads whatever is
 * waiting, and raw has nothing to do until it reads. */
static int io_wait(struct perf_io *io, int max_ms, int for_write)
{
    int r;
    if (io->raw) {
        /* busy: the caller's loop, back at once to recv(), is the spin */
        if (max_ms > 0 && !(io->busy_poll_us && !for_write))
            perf_raw_wait(&io->sock, for_write, max_ms);
        return 0;
    }
    if (io->blocking && max_ms > 0 && !for_write && !io->have_pending) {
        /* The library's blocking form (and its own spin, with busy-poll):
         * the event it returns is io_next()'s. */
        r = cohort_wait(io->c, &io->pending, max_ms);
        if (r < 0)
            tool_err("wait: %s", cohort_strerror(r));
        io->have_pending = r == 1;
        return r < 0 ? r : 0;
    }
    r = max_ms == 0 ? cohort_process(io->c)
                    : tool_poll_process(io->c, -1, max_ms, NULL);
    if (r < 0)
        tool_err("process: %s", cohort_strerror(r));
    return r < 0 ? r : 0;
}

static void io_note_event(struct perf_io *io, const cohort_event_t *ev)
{
    if (ev->type == COHORT_EVENT_VIEW)
        io->views++;
    else if (ev->type == COHORT_EVENT_MEMBER_LEFT &&
             ev->u.member.reason != COHORT_LEFT_GRACEFULLY)
        io->lefts++;
    if (ev->type == COHORT_EVENT_WARNING && !io->warned) {
        io->warned = 1;
        tool_print_warning(ev);
    }
}

/* Take the next message: 1 (in io->msg), 0 none, -1 error. */
static int io_next(struct perf_io *io)
{
    cohort_event_t ev;
    if (io->raw) {
        ssize_t n = perf_raw_recv(&io->sock, &io->msg);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        io->msg_len = (size_t)n;
        return 1;
    }
    if (io->have_pending) {
        io->have_pending = 0;
        if (io->pending.type == COHORT_EVENT_MESSAGE) {
            io->msg = io->pending.u.message.data;
            io->msg_len = io->pending.u.message.len;
            return 1;
        }
        io_note_event(io, &io->pending);
    }
    /* Bounded by the library's event queue. */
    for (int i = 0; i < 65536 && cohort_next_event(io->c, &ev) == 1; i++) {
        if (ev.type == COHORT_EVENT_MESSAGE) {
            io->msg = ev.u.message.data;
            io->msg_len = ev.u.message.len;
            return 1;
        }
        io_note_event(io, &ev);
    }
    return 0;
}

/* Discard what arrived (a sender only hears membership and echoes). */
static void io_discard(struct perf_io *io)
{
    for (int i = 0; i < 65536 && io_next(io) == 1; i++)
        ;
}

/* Send, riding out flow control: 0 or an error code. Senders drop what
 * arrives meanwhile (membership news); a receiver that answers keeps it
 * (keep_input), since it may be the next ping or the end marker. */
static int io_send_patiently(struct perf_io *io, const void *d, size_t len,
                             int keep_input)
{
    uint64_t give_up = tool_now_ns() + PERF_STALL_NS;
    for (;;) {
        int r = io_send(io, d, len);
        if (r != 1)
            return r;
        if (tool_now_ns() > give_up || tool_stop_requested())
            return COHORT_ERR_TIMEDOUT;
        if (io_wait(io, 5, 1) < 0)
            return COHORT_ERR_SYSTEM;
        if (!io->raw && !keep_input)
            io_discard(io);
    }
}

/* Cohort modes: wait until n others are known, then a little more so
 * they know us too. Raw has no membership (run waits for READY). */
static int io_wait_members(struct perf_io *io, size_t n)
{
    uint64_t start = tool_now_ns();
    uint64_t settle_at = 0;
    if (io->raw)
        return 0;
    while (!tool_stop_requested()) {
        uint64_t now = tool_now_ns();
        if (settle_at == 0 && tool_others(io->c) >= n)
            settle_at = now + PERF_SETTLE_NS;
        if (settle_at != 0 && now >= settle_at)
            return 0;
        if (now - start > PERF_JOIN_WAIT_NS) {
            tool_err("only %zu of %zu receivers appeared within %llu s",
                     tool_others(io->c), n,
                     (unsigned long long)(PERF_JOIN_WAIT_NS / 1000000000u));
            return -1;
        }
        if (io_wait(io, 20, 0) < 0)
            return -1;
        io_discard(io);
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Sender (throughput)                                                 */
/* ------------------------------------------------------------------ */

static void report_error(const struct perf_opts *o, const char *what)
{
    if (o->machine)
        printf("RESULT error=%s\n", what);
}

/* Map a send error to an exit status (and a RESULT line for run). */
static int send_failed(const struct perf_opts *o, int err, size_t size)
{
    /* Under run, these two are the parent's to explain. */
    if (err == COHORT_ERR_NOTSUP) {
        if (!o->machine)
            tool_err("mode %s: not supported by this library",
                     tool_mode_name(o->net.mode));
        report_error(o, "notsup");
        return TOOL_EXIT_NOTSUP;
    }
    if (err == COHORT_ERR_TOOBIG) {
        if (!o->machine)
            tool_err("%zu-byte messages do not fit (unreliable messages "
                     "travel in one datagram: raise --datagram)", size);
        report_error(o, "toobig");
        return PERF_EXIT_TOOBIG;
    }
    tool_err("send: %s", cohort_strerror(err));
    report_error(o, "send");
    return TOOL_EXIT_FAIL;
}

static void send_end_markers(struct perf_io *io, const struct perf_opts *o,
                             uint8_t *buf, uint64_t total)
{
    struct perf_hdr h = { MSG_END, (uint32_t)o->run_id, (uint32_t)o->index,
                          total, total };
    int repeats = reliable(io->mode) && !io->raw ? 1 : PERF_END_REPEATS;
    hdr_put(buf, &h);
    for (int i = 0; i < repeats; i++) {
        if (io_send_patiently(io, buf, PERF_HDR_BYTES, 0) != 0)
            return;
        io_flush(io);
        (void)io_wait(io, 10, 0);
        io_discard(io);
    }
}

/* How far a sender is: under run (--progress) a PROGRESS line for the
 * parent's status line; by hand, the status line itself. */
static void report_progress(const struct perf_opts *o, uint64_t done,
                            uint64_t ns)
{
    char a[16], b[16];
    if (o->machine && o->progress) {
        printf("PROGRESS done=%llu ns=%llu\n", (unsigned long long)done,
               (unsigned long long)ns);
        fflush(stdout);
        return;
    }
    tool_progress_show(&g_progress, 0, "%s: %s %s, %llu bytes: %.1f s, %s "
                       "%s, %s/s", tool_progname(),
                       o->latency ? "ping" : "send",
                       o->raw ? "raw" : tool_mode_name(o->net.mode),
                       (unsigned long long)o->sizes[0], ns / 1e9,
                       tool_progress_si((double)done, a, sizeof a),
                       o->latency ? "round trips" : "messages",
                       tool_progress_si(ns ? done * 1e9 / (double)ns : 0.0, b,
                                        sizeof b));
}

struct send_state {
    uint64_t seq;                /* messages sent */
    uint64_t seqs;               /* sequence numbers used (--inject skip:
                                    more) */
    uint64_t start_ns, end_ns;   /* end_ns 0: count decides */
    uint64_t next_progress_ns;
    size_t unprocessed;
};

/* Time to stop? Checked every few dozen messages: the clock is cheap but
 * not free. */
static int send_done(const struct perf_opts *o, struct send_state *s)
{
    uint64_t now;
    if (o->count != 0 && s->seq >= o->count)
        return 1;
    if ((s->seq & 31u) != 0)
        return 0;
    now = tool_now_ns();
    if (now >= s->next_progress_ns) {
        report_progress(o, s->seq, now - s->start_ns);
        s->next_progress_ns = now + PERF_PROGRESS_NS;
    }
    return (o->count == 0 && now >= s->end_ns) || tool_stop_requested();
}

static int send_loop(struct perf_io *io, const struct perf_opts *o,
                     uint8_t *buf, size_t size, struct send_state *s)
{
    struct perf_hdr h = { MSG_DATA, (uint32_t)o->run_id, (uint32_t)o->index,
                          0, 0 };
    while (!send_done(o, s)) {
        /* --inject, for tests of the checks: on every PERF_INJECT_EVERY-th
         * message flip its last byte (corruption), send it twice (a
         * duplicate) or skip a sequence number after it (a gap). */
        int hit = o->inject != INJECT_NONE &&
                  s->seqs % PERF_INJECT_EVERY == PERF_INJECT_EVERY - 1;
        int r;
        h.seq = s->seqs;
        h.value = perf_verify_stamp(buf, size, PERF_HDR_BYTES, h.run_id,
                                    h.from, h.seq);
        hdr_put(buf, &h);
        if (hit && o->inject == INJECT_CORRUPT)
            buf[size - 1] ^= 0x40;   /* the next stamp rewrites it */
        r = io_send_patiently(io, buf, size, 0);
        if (r == 0 && hit && o->inject == INJECT_DUP)
            r = io_send_patiently(io, buf, size, 0);
        if (r != 0)
            return r;
        s->seqs += hit && o->inject == INJECT_SKIP ? 2 : 1;
        s->seq++;
        s->unprocessed += size;
        /* The library bundles small messages until the application
         * yields, as a real sender's would: yield (cohort_process: read
         * acknowledgements, run timers) only every 64 KiB of payload, i.e.
         * every 1024 messages of 64 bytes or 8 of 8000, and whenever flow
         * control answers AGAIN. Raw has nothing to yield to. */
        if (s->unprocessed >= PERF_PROCESS_EVERY_BYTES) {
            s->unprocessed = 0;
            if (io_wait(io, 0, 0) < 0)
                return COHORT_ERR_SYSTEM;
            if (!io->raw)
                io_discard(io);
        }
    }
    return 0;
}

static void print_send_result(const struct perf_io *io,
                              const struct perf_opts *o, size_t size,
                              const struct send_state *s, uint64_t ns)
{
    uint64_t sent = s->seq;
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (!io->raw)
        (void)cohort_stats(io->c, &st);
    if (o->machine) {
        printf("RESULT role=send sent=%llu seqs=%llu size=%zu start_ns=%llu "
               "ns=%llu would_block=%llu retrans=%llu parity=%llu\n",
               (unsigned long long)sent, (unsigned long long)s->seqs, size,
               (unsigned long long)s->start_ns, (unsigned long long)ns,
               (unsigned long long)st.send_would_block,
               (unsigned long long)st.retransmissions_sent,
               (unsigned long long)st.parity_sent);
        return;
    }
    printf("sent %llu messages of %zu bytes in %.3f s: %.0f msgs/s, "
           "%.2f MB/s (flow-control waits %llu, retransmissions %llu)\n",
           (unsigned long long)sent, size, ns / 1e9,
           ns ? sent * 1e9 / ns : 0.0, ns ? sent * (double)size * 1e3 / ns
                                          : 0.0,
           (unsigned long long)st.send_would_block,
           (unsigned long long)st.retransmissions_sent);
}

static int role_send_throughput(const struct perf_opts *o)
{
    struct perf_io io;
    struct send_state s;
    size_t size = (size_t)o->sizes[0];
    uint8_t *buf = calloc(1, size);
    int r;
    if (buf == NULL || io_open(&io, o) != 0) {
        free(buf);
        report_error(o, "open");
        return TOOL_EXIT_FAIL;
    }
    memset(buf, PERF_VERIFY_FILL, size);
    /* The other senders are members too, and receive this stream. */
    if (io_wait_members(&io, (size_t)(o->receivers + o->senders[0] - 1))
        != 0) {
        io_close(&io, 0);
        free(buf);
        report_error(o, "members");
        return TOOL_EXIT_FAIL;
    }
    memset(&s, 0, sizeof s);
    s.start_ns = tool_now_ns();
    s.end_ns = s.start_ns + (uint64_t)(o->seconds * 1e9);
    s.next_progress_ns = s.start_ns + PERF_PROGRESS_NS;
    r = send_loop(&io, o, buf, size, &s);
    tool_progress_clear(&g_progress);
    if (r == 0) {
        uint64_t ns = tool_now_ns() - s.start_ns;
        send_end_markers(&io, o, buf, s.seqs);
        print_send_result(&io, o, size, &s, ns);
    }
    io_close(&io, r == 0 ? PERF_DRAIN_MS : 0);
    free(buf);
    return r == 0 ? TOOL_EXIT_OK : send_failed(o, r, size);
}

/* ------------------------------------------------------------------ */
/* Sender (latency: ping-pong with receiver 0)                         */
/* ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile num/den of n sorted samples. */
static uint64_t percentile(const uint64_t *v, size_t n, uint64_t num,
                           uint64_t den)
{
    uint64_t rank = (n * num + den - 1) / den;
    if (n == 0)
        return 0;
    return v[rank == 0 ? 0 : (rank > n ? n - 1 : rank - 1)];
}

/* Wait for the pong of seq until deadline; returns 1 if it came. */
static int await_pong(struct perf_io *io, const struct perf_opts *o,
                      uint64_t seq, uint64_t deadline_ns)
{
    struct perf_hdr h;
    while (tool_now_ns() < deadline_ns && !tool_stop_requested()) {
        while (io_next(io) == 1) {
            if (hdr_get(io->msg, io->msg_len, (uint32_t)o->run_id, &h) == 0 &&
                h.type == MSG_PONG && h.seq == seq)
                return 1;
        }
        if (io_wait(io, tool_ms_until(deadline_ns, 100), 0) < 0)
            return 0;
    }
    return 0;
}

struct lat_result {
    uint64_t *rtt_ns;
    size_t n;
    uint64_t lost;
};

static int ping_loop(struct perf_io *io, const struct perf_opts *o,
                     uint8_t *buf, size_t size, struct lat_result *lr)
{
    /* The first round trips warm caches and paths; they are not counted. */
    uint64_t warmup = o->count / 10 < 100 ? o->count / 10 : 100;
    uint64_t wait_ns = reliable(io->mode) && !io->raw ? 1000000000u
                                                          : 100000000u;
    struct perf_hdr h = { MSG_PING, (uint32_t)o->run_id, 0, 0, 0 };
    uint64_t start = tool_now_ns(), next_progress = start;
    for (uint64_t i = 0; i < o->count + warmup && !tool_stop_requested(); i++) {
        uint64_t t0 = tool_now_ns();
        int r;
        if (t0 >= next_progress) {
            report_progress(o, i, t0 - start);
            next_progress = t0 + PERF_PROGRESS_NS;
        }
        h.seq = i;
        h.value = t0;
        hdr_put(buf, &h);
        r = io_send_patiently(io, buf, size, 0);
        if (r != 0)
            return r;
        io_flush(io);
        if (!await_pong(io, o, i, t0 + wait_ns))
            lr->lost += i >= warmup;
        else if (i >= warmup)
            lr->rtt_ns[lr->n++] = tool_now_ns() - t0;
    }
    return 0;
}

static void print_ping_result(const struct perf_opts *o,
                              struct lat_result *lr, size_t size)
{
    uint64_t sum = 0;
    qsort(lr->rtt_ns, lr->n, sizeof lr->rtt_ns[0], cmp_u64);
    for (size_t i = 0; i < lr->n; i++)
        sum += lr->rtt_ns[i];
    if (o->machine) {
        printf("RESULT role=ping samples=%zu lost=%llu min_ns=%llu "
               "p50_ns=%llu p99_ns=%llu p999_ns=%llu max_ns=%llu "
               "mean_ns=%llu\n", lr->n, (unsigned long long)lr->lost,
               (unsigned long long)(lr->n ? lr->rtt_ns[0] : 0),
               (unsigned long long)percentile(lr->rtt_ns, lr->n, 50, 100),
               (unsigned long long)percentile(lr->rtt_ns, lr->n, 99, 100),
               (unsigned long long)percentile(lr->rtt_ns, lr->n, 999, 1000),
               (unsigned long long)(lr->n ? lr->rtt_ns[lr->n - 1] : 0),
               (unsigned long long)(lr->n ? sum / lr->n : 0));
        /* The distribution for --plot: round trips at fixed shares. */
        printf("CDF ns=");
        for (size_t q = 0; q < PERF_PLOT_CDF_POINTS; q++)
            printf("%s%llu", q ? "," : "",
                   (unsigned long long)percentile(
                       lr->rtt_ns, lr->n, perf_plot_cdf_permille(q), 1000));
        printf("\n");
        return;
    }
    printf("%zu round trips of %zu bytes (%llu lost): p50 %.1f us, "
           "p99 %.1f us, p99.9 %.1f us\n", lr->n, size,
           (unsigned long long)lr->lost,
           percentile(lr->rtt_ns, lr->n, 50, 100) / 1e3,
           percentile(lr->rtt_ns, lr->n, 99, 100) / 1e3,
           percentile(lr->rtt_ns, lr->n, 999, 1000) / 1e3);
}

static int role_send_latency(const struct perf_opts *o)
{
    struct perf_io io;
    struct lat_result lr = { NULL, 0, 0 };
    size_t size = (size_t)o->sizes[0];
    uint8_t *buf = calloc(1, size);
    int r = COHORT_ERR_NOMEM;
    lr.rtt_ns = calloc((size_t)o->count, sizeof lr.rtt_ns[0]);
    if (buf == NULL || lr.rtt_ns == NULL || io_open(&io, o) != 0) {
        free(buf);
        free(lr.rtt_ns);
        report_error(o, "open");
        return TOOL_EXIT_FAIL;
    }
    if (io_wait_members(&io, (size_t)o->receivers) == 0) {
        r = ping_loop(&io, o, buf, size, &lr);
        tool_progress_clear(&g_progress);
        if (r == 0) {
            send_end_markers(&io, o, buf, lr.n);
            print_ping_result(o, &lr, size);
        }
    } else {
        report_error(o, "members");
    }
    io_close(&io, r == 0 ? PERF_DRAIN_MS : 0);
    free(buf);
    free(lr.rtt_ns);
    if (r == COHORT_ERR_NOMEM)
        return TOOL_EXIT_FAIL;
    return r == 0 ? TOOL_EXIT_OK : send_failed(o, r, size);
}

/* ------------------------------------------------------------------ */
/* Receiver                                                            */
/* ------------------------------------------------------------------ */

struct recv_state {
    uint64_t msgs, bytes, first_ns, last_ns;   /* every DATA delivered */
    uint64_t sent;               /* from the END markers, summed */
    uint64_t pongs;
    uint64_t partial;            /* raw: messages missing a chunk */
    struct perf_seq *seqs;       /* PERF_MAX_SENDERS: each one's sequence */
    uint64_t corrupt;            /* failed perf_verify_check(), or from no
                                    sender of the run */
    uint64_t order;              /* hash of (sender, seq) in delivery order */
    uint64_t views0, lefts0;     /* io's views and members lost at the
                                    first DATA: what came after them is a
                                    membership change during the run */
    uint64_t views1, lefts1;     /* and when the last END came */
    uint64_t end_seqs[PERF_MAX_SENDERS];   /* sequence numbers each END
                                              says were used */
    unsigned ends;               /* senders whose END came (bits) */
    int got_end;                 /* every sender's */
};

#define PERF_ORDER_SEED 14695981039346656037ull   /* FNV-1a's basis */

/* Fold one delivery into the order hash (FNV-1a over the two numbers). */
static uint64_t order_fold(uint64_t hash, uint32_t from, uint64_t seq)
{
    uint64_t v[2] = { from, seq };
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 64; b += 8)
            hash = (hash ^ ((v[i] >> b) & 0xffu)) * 1099511628211ull;
    return hash;
}

/* Count a DATA message, check it (perf_verify.h) and place it in its
 * sender's sequence: what is counted as what is in print_recv_result. */
static void recv_data(struct perf_io *io, const struct perf_opts *o,
                      const struct perf_hdr *h, struct recv_state *s)
{
    uint64_t now = tool_now_ns();
    if (s->msgs == 0) {
        s->first_ns = now;
        s->views0 = io->views;
        s->lefts0 = io->lefts;
    }
    s->last_ns = now;
    s->msgs++;
    s->bytes += io->msg_len;
    if (h->from >= o->senders[0] || h->from >= PERF_MAX_SENDERS ||
        perf_verify_check(io->msg, io->msg_len, PERF_HDR_BYTES,
                          o->size_given ? (size_t)o->sizes[0] : 0,
                          h->run_id, h->from, h->seq, h->value) != 0) {
        s->corrupt++;
        return;
    }
    (void)perf_seq_take(&s->seqs[h->from], h->seq);
    s->order = order_fold(s->order, h->from, h->seq);
}

/* Why a run delivered wrongly, or NULL: corruption and duplicates in any
 * mode; in a reliable one also a gap or a message out of its sender's
 * order (unreliable and raw: those are loss and reordering the mode
 * allows). A gap across a membership change (changed: the receiver lost
 * a member mid-run, by timeout) is told apart: virtual synchrony allows
 * one where a sender or the receiver was out of a view (an exclusion
 * under load), and the run's figure is void either way. */
static const char *verdict(int reliable_mode, uint64_t corrupt, uint64_t dups,
                           uint64_t late, uint64_t missing, int changed)
{
    if (corrupt != 0)
        return "corrupted messages";
    if (dups != 0)
        return "duplicate deliveries";
    if (reliable_mode && missing != 0)
        return changed ? "gaps in a reliable stream, across a membership "
                         "change"
                       : "gaps in a reliable stream";
    if (reliable_mode && late != 0)
        return "messages out of their sender's order";
    return NULL;
}

/* The sums over the senders: distinct messages, duplicates, late ones,
 * and the sequence numbers missing (below each sender's END, else below
 * the highest seen). */
struct recv_sums {
    uint64_t unique, dups, late, missing;
};

static struct recv_sums recv_sums(const struct recv_state *s)
{
    struct recv_sums t = { 0, 0, 0, 0 };
    for (size_t k = 0; k < PERF_MAX_SENDERS; k++) {
        const struct perf_seq *q = &s->seqs[k];
        uint64_t span = s->end_seqs[k] > q->next ? s->end_seqs[k] : q->next;
        t.unique += q->unique;
        t.dups += q->dups;
        t.late += q->late;
        t.missing += span - q->unique;
    }
    return t;
}

static void recv_one(struct perf_io *io, const struct perf_opts *o,
                     struct recv_state *s)
{
    struct perf_hdr h;
    if (hdr_get(io->msg, io->msg_len, (uint32_t)o->run_id, &h) != 0)
        return;
    if (h.type == MSG_DATA) {
        recv_data(io, o, &h, s);
    } else if (h.type == MSG_END) {
        /* Raw and unreliable repeat it: count each sender's once. */
        if (h.from < PERF_MAX_SENDERS && !(s->ends & 1u << h.from)) {
            s->ends |= 1u << h.from;
            s->sent += h.value;
            s->end_seqs[h.from] = h.value;
        }
        if (!s->got_end &&
            (uint64_t)__builtin_popcount(s->ends) >= o->senders[0]) {
            s->got_end = 1;
            s->views1 = io->views;
            s->lefts1 = io->lefts;
        }
    } else if (h.type == MSG_PING && o->latency && o->index == 0) {
        uint8_t pong[PERF_HDR_BYTES];
        size_t len = io->msg_len;
        h.type = MSG_PONG;
        /* Echo the ping's size: the filler is irrelevant, the length not. */
        uint8_t *copy = len <= PERF_HDR_BYTES ? pong : malloc(len);
        if (copy == NULL)
            return;
        memset(copy, 0, len);
        hdr_put(copy, &h);
        if (io_send_patiently(io, copy, len, 1) == 0)
            s->pongs++;
        io_flush(io);
        if (copy != pong)
            free(copy);
    }
}

static int recv_finished(const struct perf_io *io, const struct perf_opts *o,
                         const struct recv_state *s, uint64_t deadline_ns)
{
    uint64_t now = tool_now_ns();
    int lossy = io->raw || !reliable(io->mode);
    if (s->got_end || now >= deadline_ns || tool_stop_requested())
        return 1;
    /* END may be lost: a long silence after data means it was. */
    return lossy && !o->latency && s->msgs > 0 &&
           now - s->last_ns > 2000000000u;
}

/* msgs: every DATA delivered; unique: distinct sequence numbers among
 * those that passed the check; dup: a sequence number again; late: below
 * a higher one already taken; corrupt: failed the check; missing:
 * sequence numbers never taken. */
/* Views installed and members lost (timed out, not left gracefully)
 * between the first DATA and the last END (or the end of the wait). A
 * sender that ends leaves gracefully after its END; a reliable stream may
 * have gaps only across a loss (a sender, or this receiver, was out of a
 * view), never without one. */
static void recv_membership(const struct perf_io *io,
                            const struct recv_state *s, uint64_t *views,
                            uint64_t *lefts)
{
    *views = *lefts = 0;
    if (s->msgs == 0)
        return;
    *views = (s->got_end ? s->views1 : io->views) - s->views0;
    *lefts = (s->got_end ? s->lefts1 : io->lefts) - s->lefts0;
}

static void print_recv_result(const struct perf_io *io,
                              const struct perf_opts *o,
                              const struct recv_state *s)
{
    double span = (double)(s->last_ns - s->first_ns);
    struct recv_sums t = recv_sums(s);
    uint64_t views, lefts;
    recv_membership(io, s, &views, &lefts);
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (!io->raw)
        (void)cohort_stats(io->c, &st);
    if (o->machine) {
        printf("RESULT role=recv index=%llu msgs=%llu bytes=%llu first_ns=%llu"
               " last_ns=%llu end=%d sent=%llu pongs=%llu partial=%llu"
               " unique=%llu dup=%llu late=%llu corrupt=%llu missing=%llu"
               " order=%llu views=%llu left=%llu nacks=%llu par_rx=%llu"
               " par_rec=%llu drops=%llu\n",
               (unsigned long long)o->index, (unsigned long long)s->msgs,
               (unsigned long long)s->bytes, (unsigned long long)s->first_ns,
               (unsigned long long)s->last_ns, s->got_end,
               (unsigned long long)s->sent, (unsigned long long)s->pongs,
               (unsigned long long)s->partial, (unsigned long long)t.unique,
               (unsigned long long)t.dups, (unsigned long long)t.late,
               (unsigned long long)s->corrupt, (unsigned long long)t.missing,
               (unsigned long long)s->order, (unsigned long long)views,
               (unsigned long long)lefts, (unsigned long long)st.nacks_sent,
               (unsigned long long)st.parity_received,
               (unsigned long long)st.parity_recovered,
               (unsigned long long)st.drops_total);
        return;
    }
    printf("received %llu messages (%llu bytes)%s: %.0f msgs/s, %.2f MB/s\n",
           (unsigned long long)s->msgs, (unsigned long long)s->bytes,
           s->got_end ? "" : ", no end marker",
           span > 0 ? (double)(s->msgs - 1) * 1e9 / span : 0.0,
           span > 0 ? (double)s->bytes * 1e3 / span : 0.0);
    if (o->latency || s->msgs == 0)
        return;
    printf("verified: %llu distinct, %llu duplicates, %llu late, %llu "
           "corrupt; %llu missing%s (%.2f%%)\n",
           (unsigned long long)t.unique, (unsigned long long)t.dups,
           (unsigned long long)t.late, (unsigned long long)s->corrupt,
           (unsigned long long)t.missing,
           s->got_end ? "" : " (to the highest seen)",
           t.unique + t.missing ? 100.0 * (double)t.missing /
                                      (double)(t.unique + t.missing) : 0.0);
    printf("order hash %016llx (compare it across receivers)\n",
           (unsigned long long)s->order);
    if (views != 0 || lefts != 0)
        printf("membership changed during the run: %llu views, %llu "
               "members lost (timed out)\n", (unsigned long long)views,
               (unsigned long long)lefts);
}

static int role_recv(const struct perf_opts *o)
{
    struct perf_io io;
    struct recv_state s;
    uint64_t deadline;
    int idle = 1, rc;
    struct recv_sums sums;
    uint64_t views, lefts;
    const char *bad;
    memset(&s, 0, sizeof s);
    s.seqs = calloc(PERF_MAX_SENDERS, sizeof *s.seqs);
    if (s.seqs == NULL || io_open(&io, o) != 0) {
        free(s.seqs);
        report_error(o, "open");
        return TOOL_EXIT_FAIL;
    }
    s.order = PERF_ORDER_SEED;
    deadline = tool_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    if (o->machine) {
        printf("READY\n");
        fflush(stdout);
    } else if (!o->quiet && !o->json) {
        tool_err("listening (%s, group %s); Ctrl-C ends early",
                 o->raw ? "raw" : tool_mode_name(o->net.mode), o->net.group);
    }
    /* While messages keep coming, go straight back to cohort_process()
     * (raw: recv()); poll() only once a pass found nothing. */
    while (!recv_finished(&io, o, &s, deadline)) {
        int got = 0;
        if (io_wait(&io, idle ? 100 : 0, 0) < 0)
            break;
        for (; got < 100000 && io_next(&io) == 1; got++)
            recv_one(&io, o, &s);
        idle = got == 0;
        if (!o->machine && s.msgs > 0) {
            char a[16], b[16];
            uint64_t span = s.last_ns - s.first_ns;
            tool_progress_show(&g_progress, 0, "%s: recv %s: %s messages, "
                               "%s/s", tool_progname(), o->raw ? "raw"
                               : tool_mode_name(o->net.mode),
                               tool_progress_si((double)s.msgs, a, sizeof a),
                               tool_progress_si(span ? (double)(s.msgs - 1) *
                                                1e9 / (double)span : 0.0, b,
                                                sizeof b));
        }
    }
    tool_progress_clear(&g_progress);
    if (io.raw)
        s.partial = io.sock.partial;
    print_recv_result(&io, o, &s);
    io_close(&io, 2000);
    rc = s.got_end || s.msgs > 0 ? TOOL_EXIT_OK : TOOL_EXIT_TIMEOUT;
    /* By hand the receiver judges itself; under run the parent does. */
    sums = recv_sums(&s);
    recv_membership(&io, &s, &views, &lefts);
    bad = o->machine || o->latency ? NULL
          : verdict(!o->raw && reliable(o->net.mode), s.corrupt, sums.dups,
                    sums.late, sums.missing, lefts != 0);
    if (bad != NULL) {
        printf("INVALID: %s\n", bad);
        if (!o->allow_invalid)
            rc = TOOL_EXIT_FAIL;
    }
    free(s.seqs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* run / table / security: processes, cells, results                   */
/* ------------------------------------------------------------------ */

/* One receiver of one run. msgs: delivered; unique, dups, late, corrupt
 * as its RESULT line says (print_recv_result); missing: the senders'
 * sequence numbers it never took. */
struct rx_result {
    uint64_t msgs, unique, dups, late, corrupt, missing, partial, order;
    uint64_t views, lefts;       /* views installed, members lost (timed
                                    out) during the run */
    uint64_t nacks, par_rx, par_rec, drops;  /* the member's counters */
    double msgs_per_s, mb_per_s, loss;
    int got_end;
};

/* The checks over every run of a cell and all its receivers. */
struct verify_sum {
    uint64_t dups, late, corrupt, missing;
    size_t bad_runs;             /* runs whose delivery was wrong */
    char why[96];                /* the first one's reason */
};

struct cell {
    int kind;
    size_t size;
    size_t datagram;             /* the limit cohort and raw both obey */
    cohort_security_t security;
    int latency;
    size_t senders;              /* sender processes (latency: 1) */
    int order_agreed;            /* total, safe: every receiver's order
                                    hash and count were the same */
    const char *error;           /* NULL: ok */
    const char *invalid;         /* NULL: delivered right (this run) */
    struct verify_sum v;         /* of every run (run_cells) */
    int expected;                /* the error is a known limit, not a fault */
    uint64_t sent, seqs, start_ns, sent_ns, would_block, retrans, parity;
    size_t nrx;
    struct rx_result rx[PERF_MAX_RECEIVERS];
    uint64_t samples, lat_lost, min_ns, p50_ns, p99_ns, p999_ns, max_ns;
    uint64_t cdf_ns[PERF_PLOT_CDF_POINTS];  /* latency: for --plot */
    size_t ncdf;
    double score;                /* what --repeat takes the median of */
    size_t runs;                 /* how many times it ran */
};

/* Latency cells count round trips (--round-trips, else --count, else a
 * default); throughput cells count --count messages or run --seconds. */
static uint64_t round_trips(const struct perf_opts *o)
{
    if (o->rtts != 0)
        return o->rtts;
    return o->count != 0 ? o->count : PERF_DEFAULT_RTTS;
}

static uint64_t cell_count(const struct perf_opts *o, const struct cell *c)
{
    return c->latency ? round_trips(o) : o->count;
}

/* The options a child needs, for one cell. */
static void child_argv(struct tool_argv *a, const struct perf_opts *o,
                       const struct cell *c, const char *role, size_t index,
                       const struct tool_net *net, double timeout_s)
{
    tool_argv_init(a);
    tool_argv_add(a, role);
    tool_argv_add(a, "--machine");
    tool_argv_addf(a, "--index=%zu", index);
    tool_argv_addf(a, "--run-id=%llu", (unsigned long long)o->run_id);
    tool_argv_addf(a, "--size=%zu", c->size);
    tool_argv_addf(a, "--receivers=%llu", (unsigned long long)o->receivers);
    tool_argv_addf(a, "--senders=%zu", c->senders);
    tool_argv_addf(a, "--timeout=%.0f", timeout_s);
    if (cell_count(o, c) != 0)
        tool_argv_addf(a, "--count=%llu",
                       (unsigned long long)cell_count(o, c));
    else
        tool_argv_addf(a, "--seconds=%g", o->seconds);
    if (c->kind == KIND_RAW)
        tool_argv_add(a, "--raw");
    if (c->kind == KIND_RAW1)
        tool_argv_add(a, "--raw1");
    if (o->inject != INJECT_NONE && strcmp(role, "send") == 0)
        tool_argv_addf(a, "--inject=%s", inject_names[o->inject]);
    if (c->latency)
        tool_argv_add(a, "--latency");
    if (o->blocking)
        tool_argv_add(a, "--blocking");
    if (o->busy_poll_us)
        tool_argv_addf(a, "--busy-poll=%llu",
                       (unsigned long long)o->busy_poll_us);
    if (o->parity && !kind_raw(c->kind))
        tool_argv_addf(a, "--parity=%llu", (unsigned long long)o->parity);
    if (o->parity_extra && !kind_raw(c->kind))
        tool_argv_addf(a, "--parity-extra=%llu",
                       (unsigned long long)o->parity_extra);
    if (o->quiet)
        tool_argv_add(a, "--quiet");
    if (g_progress.on && strcmp(role, "send") == 0)
        tool_argv_add(a, "--progress");
    tool_argv_add_net(a, net);
}

static double cell_timeout_s(const struct perf_opts *o, const struct cell *c)
{
    uint64_t count = cell_count(o, c);
    double t = count == 0 ? o->seconds
                          : (double)count / (c->latency ? 2000.0 : 20000.0);
    return t + 60.0;
}

static void parse_rx(struct cell *c, const char *line, size_t i)
{
    struct rx_result *rx = &c->rx[i];
    uint64_t first = 0, last = 0, end = 0;
    (void)tool_field_u64(line, "msgs", &rx->msgs);
    (void)tool_field_u64(line, "unique", &rx->unique);
    (void)tool_field_u64(line, "dup", &rx->dups);
    (void)tool_field_u64(line, "late", &rx->late);
    (void)tool_field_u64(line, "corrupt", &rx->corrupt);
    (void)tool_field_u64(line, "partial", &rx->partial);
    (void)tool_field_u64(line, "first_ns", &first);
    (void)tool_field_u64(line, "last_ns", &last);
    (void)tool_field_u64(line, "end", &end);
    (void)tool_field_u64(line, "order", &rx->order);
    (void)tool_field_u64(line, "views", &rx->views);
    (void)tool_field_u64(line, "left", &rx->lefts);
    (void)tool_field_u64(line, "nacks", &rx->nacks);
    (void)tool_field_u64(line, "par_rx", &rx->par_rx);
    (void)tool_field_u64(line, "par_rec", &rx->par_rec);
    (void)tool_field_u64(line, "drops", &rx->drops);
    rx->got_end = end != 0;
    /* Loss is the sequence numbers never taken, of all the senders used:
     * delivered less sent would let duplicates hide it. */
    rx->missing = c->seqs > rx->unique ? c->seqs - rx->unique : 0;
    /* All processes share the host's monotonic clock: time a receiver from
     * the sender's first message to its own last one. Its own first to
     * last would flatter a receiver that fell behind and then read a full
     * socket buffer in one burst. */
    if (c->start_ns != 0 && c->start_ns < first)
        first = c->start_ns;
    /* Goodput: distinct messages that passed the check. */
    if (last > first && rx->unique > 0) {
        rx->msgs_per_s = (double)rx->unique * 1e9 / (double)(last - first);
        rx->mb_per_s = rx->msgs_per_s * (double)c->size / 1e6;
    }
    if (c->seqs > 0)
        rx->loss = (double)rx->missing / (double)c->seqs;
}

/* A latency sender's "CDF ns=a,b,..." line into the cell. */
static void parse_cdf(struct cell *c, const struct tool_child *snd)
{
    char line[PERF_PLOT_CDF_POINTS * 21 + 16];
    const char *p;
    c->ncdf = 0;
    if (!tool_child_line(snd, "CDF ns=", line, sizeof line))
        return;
    p = line + strlen("CDF ns=");
    while (c->ncdf < PERF_PLOT_CDF_POINTS && *p >= '0' && *p <= '9') {
        char *end;
        c->cdf_ns[c->ncdf++] = strtoull(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
}

/* Add one sender's RESULT line to the cell: counts are summed, the start
 * is the earliest, the send time the longest. Latency: one sender. */
static void parse_sender(struct cell *c, const char *line)
{
    uint64_t sent = 0, seqs = 0, start = 0, ns = 0, wb = 0, rt = 0, par = 0;
    (void)tool_field_u64(line, "sent", &sent);
    (void)tool_field_u64(line, "seqs", &seqs);
    (void)tool_field_u64(line, "start_ns", &start);
    (void)tool_field_u64(line, "ns", &ns);
    (void)tool_field_u64(line, "would_block", &wb);
    (void)tool_field_u64(line, "retrans", &rt);
    (void)tool_field_u64(line, "parity", &par);
    c->sent += sent;
    c->seqs += seqs;
    if (c->start_ns == 0 || (start != 0 && start < c->start_ns))
        c->start_ns = start;
    c->sent_ns = ns > c->sent_ns ? ns : c->sent_ns;
    c->would_block += wb;
    c->retrans += rt;
    c->parity += par;
    (void)tool_field_u64(line, "samples", &c->samples);
    (void)tool_field_u64(line, "lost", &c->lat_lost);
    (void)tool_field_u64(line, "min_ns", &c->min_ns);
    (void)tool_field_u64(line, "p50_ns", &c->p50_ns);
    (void)tool_field_u64(line, "p99_ns", &c->p99_ns);
    (void)tool_field_u64(line, "p999_ns", &c->p999_ns);
    (void)tool_field_u64(line, "max_ns", &c->max_ns);
}

/* Why the sender gave up, or NULL; *expected for limits of the library
 * (a mode it lacks, an unreliable message wider than a datagram) that a
 * table reports but that are no fault of the run. */
static const char *sender_error(const struct tool_child *snd, int *expected)
{
    char line[256];
    *expected = 1;
    if (tool_child_line(snd, "RESULT error=notsup", line, sizeof line))
        return "not supported by this library";
    if (tool_child_line(snd, "RESULT error=toobig", line, sizeof line))
        return "does not fit one datagram (unreliable messages are not "
               "fragmented)";
    *expected = 0;
    if (tool_child_line(snd, "RESULT error=members", line, sizeof line))
        return "receivers did not appear";
    if (!tool_child_line(snd, "RESULT role=", line, sizeof line))
        return "sender failed (see its messages above)";
    return NULL;
}

/* Did this run deliver right (verdict() for each receiver)? total, safe:
 * and did every receiver deliver the same messages in one order (same
 * count, same hash)? Latency cells carry no checked stream. */
static void check_delivery(struct cell *c)
{
    int ordered = c->kind == KIND_TOTAL || c->kind == KIND_SAFE;
    int rel = !kind_raw(c->kind) && c->kind != KIND_UNRELIABLE;
    c->invalid = NULL;
    if (c->latency)
        return;
    for (size_t i = 0; i < c->nrx && c->invalid == NULL; i++) {
        const struct rx_result *rx = &c->rx[i];
        c->invalid = verdict(rel, rx->corrupt, rx->dups, rx->late,
                             rx->missing, rx->lefts != 0);
        if (c->invalid == NULL && ordered &&
            (rx->order != c->rx[0].order || rx->unique != c->rx[0].unique))
            c->invalid = "receivers disagree on the total order";
    }
    c->order_agreed = ordered && c->invalid == NULL;
}

/* ch: nrx receivers, then nsnd senders. */
static void collect(struct cell *c, struct tool_child *ch, size_t nrx,
                    size_t nsnd)
{
    char line[512];
    for (size_t k = 0; k < nsnd; k++) {
        c->error = sender_error(&ch[nrx + k], &c->expected);
        if (c->error != NULL)
            return;
    }
    for (size_t k = 0; k < nsnd; k++)
        parse_sender(c, tool_child_line(&ch[nrx + k], "RESULT role=", line,
                                        sizeof line));
    if (c->latency)
        parse_cdf(c, &ch[nrx]);
    c->nrx = nrx;
    for (size_t i = 0; i < nrx; i++) {
        if (tool_child_line(&ch[i], "RESULT role=recv", line, sizeof line))
            parse_rx(c, line, i);
        else
            c->error = "a receiver failed (see its messages above)";
    }
    if (c->error == NULL)
        check_delivery(c);
}

/* Wait until every receiver printed READY (it has its socket or joined). */
static int await_ready(struct tool_child *ch, size_t n)
{
    uint64_t deadline = tool_now_ns() + PERF_JOIN_WAIT_NS;
    char line[16];
    while (tool_now_ns() < deadline) {
        size_t ready = 0, dead = 0;
        tool_children_pump(ch, n, 50);
        for (size_t i = 0; i < n; i++) {
            ready += tool_child_line(&ch[i], "READY", line, sizeof line) != 0;
            dead += ch[i].eof;
        }
        if (ready == n)
            return 0;
        if (dead > 0)
            return -1;
    }
    return -1;
}

/* A cell's own group, mode, datagram limit and security; the key goes
 * only to cells that use it (a key alone would mean "encrypt"). */
static void cell_net(const struct perf_opts *o, const struct cell *c,
                     struct tool_net *net, char *group, size_t group_len)
{
    *net = o->net;
    snprintf(group, group_len, "perf-%08llx", (unsigned long long)o->run_id);
    net->group = group;
    net->name = NULL;
    if (!kind_raw(c->kind))
        net->mode = kind_mode(c->kind);
    net->max_datagram = c->datagram;
    net->security = c->security;
    if (c->security == COHORT_SECURITY_NONE)
        net->key_file = NULL;
}

/* Take the senders' PROGRESS lines out of their output (so it never
 * fills) and sum the newest of each: done (messages or round trips), the
 * longest time. Returns how many senders reported. */
static size_t take_progress(struct tool_child *snd, size_t nsnd,
                            uint64_t *done, uint64_t *ns)
{
    static const char tag[] = "PROGRESS ";
    size_t reported = 0;
    *done = *ns = 0;
    for (size_t k = 0; k < nsnd; k++) {
        struct tool_child *c = &snd[k];
        uint64_t d = 0, t = 0;
        int seen = 0;
        size_t w = 0, r = 0;
        while (r < c->out_len) {
            char *nl = memchr(c->out + r, '\n', c->out_len - r);
            size_t len = nl != NULL ? (size_t)(nl - (c->out + r)) + 1
                                    : c->out_len - r;
            if (nl != NULL && len > sizeof tag - 1 &&
                memcmp(c->out + r, tag, sizeof tag - 1) == 0) {
                *nl = '\0';
                seen |= tool_field_u64(c->out + r, "done", &d) == 0 &&
                        tool_field_u64(c->out + r, "ns", &t) == 0;
            } else {
                memmove(c->out + w, c->out + r, len);
                w += len;
            }
            r += len;
        }
        c->out_len = w;
        c->out[w] = '\0';
        if (seen) {
            reported++;
            *done += d;
            *ns = t > *ns ? t : *ns;
        }
    }
    return reported;
}

/* The parent's status line while a cell runs: which cell, how far (time
 * or count), the senders' rate so far. */
static void show_cell_progress(const struct perf_opts *o,
                               const struct cell *c, struct tool_child *snd,
                               size_t nsnd)
{
    static uint64_t done, ns;
    char a[16], b[16], far[48];
    uint64_t d, t;
    if (take_progress(snd, nsnd, &d, &t) > 0) {
        done = d;
        ns = t;
    }
    if (cell_count(o, c) != 0)
        snprintf(far, sizeof far, "%s/%s", tool_progress_si((double)done,
                 a, sizeof a), tool_progress_si((double)cell_count(o, c), b,
                 sizeof b));
    else
        snprintf(far, sizeof far, "%.1f/%g s, %s", ns / 1e9, o->seconds,
                 tool_progress_si((double)done, a, sizeof a));
    tool_progress_show(&g_progress, 0, "%s: cell %zu/%zu%s, %s: %s %s, "
                       "%s/s", tool_progname(), g_where.cell, g_where.cells,
                       g_where.what, c->latency ? "latency" : "throughput",
                       far, c->latency ? "round trips" : "sent",
                       tool_progress_si(ns ? done * 1e9 / (double)ns : 0.0,
                                        b, sizeof b));
    if (ns == 0)
        done = 0;
}

/* The senders decide: once they are gone, receivers get a short while to
 * see the end (none if a sender failed) before they are stopped. */
static void reap_cell(const struct perf_opts *o, const struct cell *c,
                      struct tool_child *ch, size_t nrx, size_t nsnd,
                      double timeout_s)
{
    char line[64];
    uint64_t grace_ns = 15000000000ull;
    uint64_t until = tool_now_ns() + (uint64_t)((timeout_s + 5) * 1e9);
    for (int k = 0; k < 1000000 && g_progress.on && tool_now_ns() < until;
         k++) {
        if (tool_children_wait(&ch[nrx], nsnd,
                               tool_now_ns() + TOOL_PROGRESS_EVERY_NS) == 0)
            break;
        show_cell_progress(o, c, &ch[nrx], nsnd);
    }
    (void)take_progress(&ch[nrx], nsnd, &(uint64_t){ 0 }, &(uint64_t){ 0 });
    (void)tool_children_reap(&ch[nrx], nsnd, until);
    for (size_t k = nrx; k < nrx + nsnd; k++)
        if (tool_child_line(&ch[k], "RESULT error", line, sizeof line) ||
            !tool_child_line(&ch[k], "RESULT", line, sizeof line))
            grace_ns = 0;
    (void)tool_children_reap(ch, nrx, tool_now_ns() + grace_ns);
}

/* Start a child; with --netns-loss in namespace member (receivers first,
 * then senders), coming back to member 0's. */
static int spawn_in(struct tool_child *ch, const struct tool_argv *a,
                    uint32_t member)
{
    int r;
    if (g_hn.on && hn_enter(&g_hn, member) != 0) {
        tool_err("cannot enter namespace %u: %s", member, strerror(errno));
        return -1;
    }
    r = tool_spawn(ch, a, NULL, 1);
    if (g_hn.on && hn_enter(&g_hn, 0) != 0) {
        tool_err("cannot return to namespace 0: %s", strerror(errno));
        r = -1;
    }
    return r;
}

static void run_cell_once(struct perf_opts *o, struct cell *c)
{
    static struct tool_child ch[PERF_MAX_RECEIVERS + PERF_MAX_SENDERS];
    struct tool_argv a;
    struct tool_net net;
    char group[32];
    size_t nrx = (size_t)o->receivers, nsnd = c->senders, started = 0;
    double timeout_s = cell_timeout_s(o, c);
    o->run_id = tool_random_u32();
    cell_net(o, c, &net, group, sizeof group);
    c->error = "could not start processes";
    for (; started < nrx; started++) {
        child_argv(&a, o, c, "recv", started, &net, timeout_s);
        if (spawn_in(&ch[started], &a, (uint32_t)started) != 0)
            break;
    }
    if (started == nrx && await_ready(ch, nrx) == 0) {
        for (; started < nrx + nsnd; started++) {
            child_argv(&a, o, c, "send", started - nrx, &net, timeout_s);
            if (spawn_in(&ch[started], &a, (uint32_t)started) != 0)
                break;
        }
        if (started == nrx + nsnd) {
            reap_cell(o, c, ch, nrx, nsnd, timeout_s);
            collect(c, ch, nrx, nsnd);
            return;
        }
    }
    (void)tool_children_reap(ch, started, tool_now_ns());
}

static double cell_score(const struct cell *c)
{
    double sum = 0;
    if (c->error != NULL)
        return -1.0;
    if (c->latency)
        return -(double)c->p50_ns;
    for (size_t i = 0; i < c->nrx; i++)
        sum += c->rx[i].msgs_per_s;
    return c->nrx ? sum / (double)c->nrx : 0.0;
}

static int cmp_score(const void *a, const void *b)
{
    double x = ((const struct cell *)a)->score;
    double y = ((const struct cell *)b)->score;
    return x < y ? -1 : x > y;
}

/* Rows are named by mode; in the security table by security. */
static const char *cell_label(const struct perf_opts *o, const struct cell *c)
{
    return o->secmatrix ? tool_security_name(c->security)
                        : kind_names[c->kind];
}

/* A ratio to the twin: plain in the raw table, a percentage in the
 * security one. */
static void print_ratio(const struct perf_opts *o, double ratio)
{
    if (ratio <= 0)
        printf(" %7s", "-");
    else if (o->secmatrix)
        printf(" %6.1f%%", 100.0 * ratio);
    else
        printf(" %7.2f", ratio);
}

/* Name the cell about to run for the status line: " fifo 1000 B x3 snd
 * (run 2/3)". */
static void where_cell(const struct cell *c, size_t i, size_t n, size_t rep,
                       size_t k, const struct perf_opts *o)
{
    char snd[32] = "", run[56] = "";
    if (c->senders > 1)
        snprintf(snd, sizeof snd, " x%zu snd", c->senders);
    if (k > 1)
        snprintf(run, sizeof run, " (run %zu/%zu)", rep + 1, k);
    g_where.cell = i + 1;
    g_where.cells = n;
    snprintf(g_where.what, sizeof g_where.what, " %s %zu B%s%s",
             cell_label(o, c), c->size, snd, run);
}

/* Add one run's checks to its cell's; say at once when it delivered
 * wrongly, so no figure of it goes unremarked. */
static void tally(struct verify_sum *v, const struct cell *r)
{
    uint64_t dups = 0, late = 0, corrupt = 0, missing = 0;
    uint64_t views = 0, lefts = 0;
    if (r->error != NULL || r->latency)
        return;
    for (size_t i = 0; i < r->nrx; i++) {
        views += r->rx[i].views;
        lefts += r->rx[i].lefts;
        dups += r->rx[i].dups;
        late += r->rx[i].late;
        corrupt += r->rx[i].corrupt;
        missing += r->rx[i].missing;
    }
    v->dups += dups;
    v->late += late;
    v->corrupt += corrupt;
    v->missing += missing;
    if (r->invalid == NULL)
        return;
    if (v->bad_runs++ == 0)
        snprintf(v->why, sizeof v->why, "%s", r->invalid);
    tool_progress_clear(&g_progress);
    tool_err("INVALID run:%s: %s (over %zu receivers: %llu duplicates, %llu "
             "late, %llu corrupt, %llu missing of %llu; %llu views installed "
             "and %llu members lost mid-run)", g_where.what,
             r->invalid, r->nrx, (unsigned long long)dups,
             (unsigned long long)late, (unsigned long long)corrupt,
             (unsigned long long)missing, (unsigned long long)r->seqs,
             (unsigned long long)views, (unsigned long long)lefts);
}

/* Run every cell --repeat times and keep, per cell, the run with the
 * median score. Repeats go round the whole plan rather than one cell K
 * times in a row, so a noisy spell on the machine hits every mode alike
 * and the ratios stay fair. runs holds n * repeat cells. */
static void run_cells(struct perf_opts *o, struct cell *cells, size_t n,
                      struct cell *runs)
{
    size_t k = (size_t)o->repeat;
    for (size_t rep = 0; rep < k && !tool_stop_requested(); rep++) {
        for (size_t i = 0; i < n && !tool_stop_requested(); i++) {
            struct cell *r = &runs[i * k + cells[i].runs];
            if (cells[i].runs > 0 && runs[i * k].expected)
                continue;        /* a limit: no point repeating it */
            where_cell(&cells[i], i, n, rep, k, o);
            tool_progress_show(&g_progress, 1, "%s: cell %zu/%zu%s: "
                               "starting...", tool_progname(), i + 1, n,
                               g_where.what);
            *r = cells[i];
            run_cell_once(o, r);
            r->score = cell_score(r);
            tally(&cells[i].v, r);
            cells[i].runs++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t m = cells[i].runs;
        struct verify_sum v = cells[i].v;
        if (m == 0)
            continue;
        qsort(&runs[i * k], m, sizeof runs[0], cmp_score);
        cells[i] = runs[i * k + m / 2];
        cells[i].runs = m;
        cells[i].v = v;
    }
}

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

/* What a cell is compared with, measured in the same invocation: the
 * cell of its size of kind base (KIND_RAW or KIND_RAW1), or in the
 * security table the cell without security. Where a message fits one raw
 * datagram there is no raw1 cell: raw is one datagram per message there,
 * and stands for raw1. */
static const struct cell *twin_of(const struct perf_opts *o,
                                  const struct cell *cells, size_t n,
                                  const struct cell *c, int base)
{
    const struct cell *raw = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct cell *t = &cells[i];
        int match = t->size == c->size && t->latency == c->latency &&
                    t->senders == c->senders &&
                    t->datagram == c->datagram && t->error == NULL;
        if (match && o->secmatrix && t->kind == c->kind &&
            t->security == COHORT_SECURITY_NONE)
            return t;
        if (match && !o->secmatrix && t->kind == base)
            return t;
        if (match && t->kind == KIND_RAW)
            raw = t;
    }
    if (base == KIND_RAW1 && raw != NULL && !raw_cuts(c->size, c->datagram))
        return raw;
    return NULL;
}

struct tput_sum {
    double msgs_per_s, mb_per_s, slowest, loss;
};

/* Receivers are alike: a cell is their mean rate, its slowest one, and
 * the worst loss. */
static struct tput_sum tput_sum(const struct cell *c)
{
    struct tput_sum t = { 0, 0, 0, 0 };
    for (size_t i = 0; i < c->nrx; i++) {
        const struct rx_result *rx = &c->rx[i];
        t.msgs_per_s += rx->msgs_per_s / (double)c->nrx;
        t.mb_per_s += rx->mb_per_s / (double)c->nrx;
        if (i == 0 || rx->msgs_per_s < t.slowest)
            t.slowest = rx->msgs_per_s;
        if (rx->loss > t.loss)
            t.loss = rx->loss;
    }
    return t;
}

/* c's figure over its twin's (twin_of, base KIND_RAW or KIND_RAW1; the
 * security table: vs none): throughput by rate, latency by p50. 0 when
 * there is no twin to compare with. */
static double ratio_to(const struct perf_opts *o, const struct cell *cells,
                       size_t n, const struct cell *c, int base)
{
    const struct cell *t = twin_of(o, cells, n, c, base);
    double num = c->latency ? (double)c->p50_ns : c->score;
    double den = t == NULL ? 0.0 : c->latency ? (double)t->p50_ns : t->score;
    return den > 0 ? num / den : 0.0;
}

/* How many twins a row is compared with: raw and raw1, or none. */
static int ratio_bases(const struct perf_opts *o)
{
    return o->secmatrix ? 1 : 2;
}

static void print_ratios(const struct perf_opts *o, const struct cell *cells,
                         size_t n, const struct cell *c)
{
    for (int b = 0; b < ratio_bases(o); b++)
        print_ratio(o, ratio_to(o, cells, n, c, b ? KIND_RAW1 : KIND_RAW));
}

/* A cell any of whose runs delivered wrongly: say so on its row. */
static void print_invalid(const struct cell *c)
{
    if (c->v.bad_runs > 0)
        printf("  INVALID (%zu of %zu runs): %s", c->v.bad_runs, c->runs,
               c->v.why);
}

static void print_tput_row(const struct perf_opts *o, const struct cell *cells,
                           size_t n, const struct cell *c)
{
    struct tput_sum t = tput_sum(c);
    printf("%6zu  %-10s %3zu %12.0f %9.2f %12.0f %7.2f%% %5llu %5llu %5llu",
           c->size, cell_label(o, c), c->senders, t.msgs_per_s, t.mb_per_s,
           t.slowest, 100.0 * t.loss, (unsigned long long)c->v.dups,
           (unsigned long long)c->v.late, (unsigned long long)c->v.corrupt);
    print_ratios(o, cells, n, c);
    printf("%s", c->order_agreed ? "  agreed" : "");
    print_invalid(c);
    putchar('\n');
}

static void print_lat_row(const struct perf_opts *o, const struct cell *cells,
                          size_t n, const struct cell *c)
{
    printf("%6zu  %-10s  %8llu %6llu %9.1f %9.1f %9.1f", c->size,
           cell_label(o, c), (unsigned long long)c->samples,
           (unsigned long long)c->lat_lost, c->p50_ns / 1e3, c->p99_ns / 1e3,
           c->p999_ns / 1e3);
    print_ratios(o, cells, n, c);
    putchar('\n');
}

static void print_heading(const struct perf_opts *o, size_t datagram)
{
    printf("cohort-perf: ");
    for (size_t i = 0; i < o->nsenders && (!o->latency || o->matrix); i++)
        printf("%s%llu", i == 0 ? "" : i + 1 < o->nsenders ? ", " : " or ",
               (unsigned long long)o->senders[i]);
    if (!o->latency || o->matrix)
        printf(" sender%s%s",
               o->nsenders == 1 && o->senders[0] == 1 ? "" : "s",
               o->latency ? " (latency: 1)" : "");
    else
        printf("1 sender");
    printf(" -> %llu receiver%s on %s, ",
           (unsigned long long)o->receivers, o->receivers == 1 ? "" : "s",
           o->net.interface);
    if (o->netns)
        printf("a namespace each on a bridge dropping %llu %% per port, ",
               (unsigned long long)o->netns_loss);
    if (o->parity)
        printf("parity blocks of %llu (%llu unasked), ",
               (unsigned long long)o->parity,
               (unsigned long long)o->parity_extra);
    if (!o->latency || o->matrix) {
        if (o->count)
            printf("%llu messages", (unsigned long long)o->count);
        else
            printf("%g s", o->seconds);
    }
    if (o->latency)
        printf("%s%llu round trips", o->matrix ? " or " : "",
               (unsigned long long)round_trips(o));
    printf(" per cell, median of %llu\n", (unsigned long long)o->repeat);
    if (o->secmatrix)
        printf("datagram limit %zu bytes; mode %s; vs none: rate (latency: "
               "p50) as a share of the same size without security\n",
               datagram, tool_mode_name(o->net.mode));
    else
        printf("datagram limit %zu bytes for cohort and raw alike (raw: one "
               "message per datagram, cut into chunks of %zu above that);\n"
               "raw1: plain UDP, one datagram per message whatever its size "
               "(up to %u bytes), measured\nwhere raw cuts (elsewhere raw is "
               "raw1)\n", datagram, datagram - PERF_RAW_HDR_BYTES,
               PERF_RAW_MAX_WHOLE);
    if (!o->secmatrix && o->net.key_file != NULL)
        printf("security: cohort cells run %s, cipher %s\n",
               tool_security_name(o->net.security != COHORT_SECURITY_NONE
                                      ? o->net.security
                                      : COHORT_SECURITY_ENCRYPT),
               tool_cipher_name(o->net.cipher));
    else if (o->secmatrix)
        printf("cipher: %s\n", tool_cipher_name(o->net.cipher));
    if (!o->latency || o->matrix)
        printf("msgs/s and MB/s: mean of the receivers over all senders' "
               "distinct, checked messages\n(MB = 10^6 bytes of payload); "
               "loss: sequence numbers never delivered, worst receiver;\n"
               "dup, late, bad: duplicates, deliveries after a later message "
               "of their sender, and\ncorrupted messages, over every run and "
               "receiver; snd: senders; agreed: every receiver\ndelivered "
               "the same messages in the same order (total, safe); INVALID: "
               "a run delivered\nwrongly (any corruption or duplicate; "
               "reliable modes: any gap or reordering too)\n");
}

static void print_human(const struct perf_opts *o, const struct cell *cells,
                        size_t n)
{
    int header_t = 0, header_l = 0;
    const char *vs = o->secmatrix ? "vs none" : "vs raw";
    const char *vs1 = o->secmatrix ? "" : " vs raw1";
    const char *mode = o->secmatrix ? "security" : "mode";
    print_heading(o, n > 0 ? cells[0].datagram : 0);
    for (size_t i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        if (c->error != NULL) {
            printf("%6zu  %-10s %3zu  %s: %s\n", c->size, cell_label(o, c),
                   c->senders, c->latency ? "latency" : "throughput",
                   c->error);
            continue;
        }
        if (!c->latency && !header_t++)
            printf("\n%6s  %-10s %3s %12s %9s %12s %8s %5s %5s %5s %7s%s\n",
                   "size", mode, "snd", "msgs/s", "MB/s", "slowest rx",
                   "loss", "dup", "late", "bad", vs, vs1);
        if (c->latency && !header_l++)
            printf("\n%6s  %-10s  %8s %6s %9s %9s %9s %7s%s\n", "size", mode,
                   "rtts", "lost", "p50 us", "p99 us", "p99.9 us", vs, vs1);
        if (c->latency)
            print_lat_row(o, cells, n, c);
        else
            print_tput_row(o, cells, n, c);
    }
}

static void json_rx(const struct cell *c, const struct cell *twin, size_t i)
{
    const struct rx_result *rx = &c->rx[i];
    printf("%s{\"msgs\":%llu,\"delivered\":%llu,\"msgs_per_s\":%.0f,"
           "\"mb_per_s\":%.3f,\"loss\":%.6f,\"missing\":%llu,"
           "\"duplicates\":%llu,\"late\":%llu,\"corrupt\":%llu,"
           "\"end_marker\":%s,\"order_hash\":\"%016llx\"", i ? "," : "",
           (unsigned long long)rx->unique, (unsigned long long)rx->msgs,
           rx->msgs_per_s, rx->mb_per_s, rx->loss,
           (unsigned long long)rx->missing, (unsigned long long)rx->dups,
           (unsigned long long)rx->late, (unsigned long long)rx->corrupt,
           rx->got_end ? "true" : "false", (unsigned long long)rx->order);
    if (c->kind == KIND_RAW)
        printf(",\"partial\":%llu", (unsigned long long)rx->partial);
    else if (c->kind != KIND_RAW1)
        printf(",\"views\":%llu,\"members_lost\":%llu,\"nacks_sent\":%llu,"
               "\"parity_received\":%llu,\"parity_recovered\":%llu,"
               "\"drops\":%llu",
               (unsigned long long)rx->views, (unsigned long long)rx->lefts,
               (unsigned long long)rx->nacks, (unsigned long long)rx->par_rx,
               (unsigned long long)rx->par_rec,
               (unsigned long long)rx->drops);
    if (twin != NULL && i < twin->nrx && twin->rx[i].msgs_per_s > 0)
        printf(",\"ratio\":%.3f", rx->msgs_per_s / twin->rx[i].msgs_per_s);
    putchar('}');
}

/* The checks of every run of a cell (throughput). */
static void json_verify(const struct cell *c)
{
    printf(",\"valid\":%s,\"invalid_runs\":%zu", c->v.bad_runs ? "false"
                                                               : "true",
           c->v.bad_runs);
    if (c->v.bad_runs > 0)
        printf(",\"invalid\":\"%s\"", c->v.why);
    printf(",\"verify\":{\"duplicates\":%llu,\"late\":%llu,\"corrupt\":%llu,"
           "\"missing\":%llu}", (unsigned long long)c->v.dups,
           (unsigned long long)c->v.late, (unsigned long long)c->v.corrupt,
           (unsigned long long)c->v.missing);
}

/* "ratio" (latency: "p50_ratio") against raw or none; "..._raw1"
 * against raw1. */
static void json_ratios(const struct perf_opts *o, const struct cell *cells,
                        size_t n, const struct cell *c)
{
    for (int b = 0; b < ratio_bases(o); b++) {
        double r = ratio_to(o, cells, n, c, b ? KIND_RAW1 : KIND_RAW);
        if (r > 0)
            printf(",\"%s%s\":%.3f", c->latency ? "p50_ratio" : "ratio",
                   b ? "_raw1" : "", r);
    }
}

static void json_cell(const struct perf_opts *o, const struct cell *cells,
                      size_t n, const struct cell *c)
{
    const struct cell *twin = twin_of(o, cells, n, c, KIND_RAW);
    printf("{\"mode\":\"%s\",\"security\":\"%s\",\"size\":%zu,"
           "\"datagram\":%zu,\"test\":\"%s\",\"senders\":%zu,"
           "\"runs\":%zu", kind_names[c->kind],
           tool_security_name(c->security), c->size, c->datagram,
           c->latency ? "latency" : "throughput", c->senders, c->runs);
    if (c->error != NULL) {
        printf(",\"error\":\"%s\"}", c->error);
        return;
    }
    if (c->latency) {
        printf(",\"round_trips\":%llu,\"lost\":%llu,\"min_us\":%.1f,"
               "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
               "\"max_us\":%.1f", (unsigned long long)c->samples,
               (unsigned long long)c->lat_lost, c->min_ns / 1e3,
               c->p50_ns / 1e3, c->p99_ns / 1e3, c->p999_ns / 1e3,
               c->max_ns / 1e3);
        json_ratios(o, cells, n, c);
        putchar('}');
        return;
    }
    printf(",\"sent\":%llu,\"seqs\":%llu,\"send_msgs_per_s\":%.0f,"
           "\"msgs_per_s\":%.0f,\"flow_control_waits\":%llu,"
           "\"retransmissions\":%llu,\"parity_sent\":%llu",
           (unsigned long long)c->sent, (unsigned long long)c->seqs,
           c->sent_ns ? c->sent * 1e9 / (double)c->sent_ns : 0.0, c->score,
           (unsigned long long)c->would_block,
           (unsigned long long)c->retrans, (unsigned long long)c->parity);
    json_ratios(o, cells, n, c);
    json_verify(c);
    if (c->kind == KIND_TOTAL || c->kind == KIND_SAFE)
        printf(",\"order_agreed\":%s", c->order_agreed ? "true" : "false");
    printf(",\"receivers\":[");
    for (size_t i = 0; i < c->nrx; i++)
        json_rx(c, twin, i);
    printf("]}");
}

static void print_json(const struct perf_opts *o, const struct cell *cells,
                       size_t n)
{
    printf("{\"tool\":\"cohort-perf\",\"library\":\"%s\",\"receivers\":%llu,"
           "\"interface\":\"%s\",\"datagram\":%zu,\"repeat\":%llu,"
           "\"ratio_of\":\"%s\",\"cipher\":\"%s\",\"parity\":%llu,"
           "\"parity_extra\":%llu,\"netns_loss\":%lld,\"cells\":[",
           cohort_version(), (unsigned long long)o->receivers,
           o->net.interface, n > 0 ? cells[0].datagram : 0,
           (unsigned long long)o->repeat,
           o->secmatrix ? "security none" : "raw",
           tool_cipher_name(o->net.cipher), (unsigned long long)o->parity,
           (unsigned long long)o->parity_extra, o->netns ? (long long)o->netns_loss : -1ll);
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(',');
        json_cell(o, cells, n, &cells[i]);
    }
    printf("]}\n");
}

/* ------------------------------------------------------------------ */
/* Plans: which cells run / table / security measure                   */
/* ------------------------------------------------------------------ */

/* Sizes x kinds x (each sender count, and latency). */
#define PERF_MAX_CELLS \
    (PERF_MAX_SIZES * KIND__COUNT * (PERF_MAX_SENDER_LISTS + 1))

static size_t add_cell(const struct perf_opts *o, struct cell *cells,
                       size_t n, int kind, size_t size, int latency,
                       size_t senders)
{
    assert(n < PERF_MAX_CELLS);
    memset(&cells[n], 0, sizeof cells[n]);
    cells[n].kind = kind;
    cells[n].size = size;
    cells[n].latency = latency;
    cells[n].senders = latency ? 1 : senders;
    cells[n].datagram = datagram_limit(&o->net);
    /* A key without --security means encrypt, as for every tool. */
    cells[n].security = o->net.security;
    if (o->net.key_file != NULL && o->net.security == COHORT_SECURITY_NONE)
        cells[n].security = COHORT_SECURITY_ENCRYPT;
    return n + 1;
}

/* The kind --mode, --raw or --raw1 chose. */
static int chosen_kind(const struct perf_opts *o)
{
    return o->raw1 ? KIND_RAW1 : o->raw ? KIND_RAW : mode_kind(o->net.mode);
}

/* Does a plan without --security-matrix measure this kind at this size?
 * --modes names them (raw, the baseline, always comes too); else table
 * takes all, run the chosen one (and raw for latency). raw1 comes with raw
 * only where raw cuts the message and one datagram can hold it (elsewhere
 * it is raw), unless asked for by name. */
static int kind_planned(const struct perf_opts *o, int k, int lat,
                        size_t size)
{
    int raw1_too = raw_cuts(size, datagram_limit(&o->net));
    int baseline = k == KIND_RAW || (k == KIND_RAW1 && raw1_too);
    if (k == KIND_RAW1 && size > PERF_RAW_MAX_WHOLE)
        return 0;
    if (o->kinds != 0)
        return baseline || (o->kinds & 1u << k) != 0;
    if (o->matrix)
        return k != KIND_RAW1 || raw1_too;
    return k == chosen_kind(o) || (lat && baseline);
}

/* The cells of one size and one test (throughput with `senders` senders,
 * or latency). */
static size_t plan_size(const struct perf_opts *o, struct cell *cells,
                        size_t n, size_t size, int lat, size_t senders)
{
    static const cohort_security_t secs[] = {
        COHORT_SECURITY_NONE, COHORT_SECURITY_AUTH, COHORT_SECURITY_ENCRYPT
    };
    /* The baselines first, then the modes. */
    static const int order[KIND__COUNT] = { KIND_RAW, KIND_RAW1,
                                            KIND_UNRELIABLE, KIND_FIFO,
                                            KIND_TOTAL, KIND_SAFE };
    int chosen = chosen_kind(o);
    if (o->secmatrix) {          /* one cell per security mode */
        for (size_t j = 0; j < sizeof secs / sizeof secs[0]; j++) {
            n = add_cell(o, cells, n, chosen, size, lat, senders);
            cells[n - 1].security = secs[j];
        }
        return n;
    }
    for (int j = 0; j < KIND__COUNT; j++)
        if (kind_planned(o, order[j], lat, size))
            n = add_cell(o, cells, n, order[j], size, lat, senders);
    return n;
}

/* table (or run --matrix): every size x every kind, throughput,
 * plus latency with --latency. security: every size x none/auth/encrypt.
 * run: the chosen mode (and raw as the baseline for --latency). */
static size_t plan(const struct perf_opts *o, struct cell *cells)
{
    size_t n = 0;
    for (int lat = 0; lat < 2; lat++) {
        /* run --latency measures only latency; table adds it. */
        int skip = lat ? !o->latency : (o->latency && !o->matrix);
        /* Throughput for each sender count; latency is one ping-pong. */
        size_t counts = lat ? 1 : o->nsenders;
        for (size_t j = 0; j < counts && !skip; j++)
            for (size_t s = 0; s < o->nsizes; s++)
                n = plan_size(o, cells, n, (size_t)o->sizes[s], lat,
                              (size_t)o->senders[j]);
    }
    return n;
}

/* A series' colour: its mode (raw black), in the security table its
 * security; dashes tell sender counts (throughput) or sizes (latency). */
static int plot_color(const struct perf_opts *o, const struct cell *c)
{
    return o->secmatrix ? (int)c->security + 1 : c->kind;
}

static size_t have_senders_index(const struct perf_opts *o, size_t senders)
{
    for (size_t j = 0; j < o->nsenders; j++)
        if (o->senders[j] == senders)
            return j;
    return 0;
}

static size_t size_index(const struct perf_opts *o, size_t size)
{
    for (size_t j = 0; j < o->nsizes; j++)
        if (o->sizes[j] == size)
            return j;
    return 0;
}

/* --plot: a throughput series per (mode or security, senders), its
 * points the sizes in ascending order; a latency series per latency cell,
 * its points the CDF. Cells that failed are left out. */
static size_t tput_series(const struct perf_opts *o, const struct cell *cells,
                          size_t n, struct perf_plot_series *out, size_t have)
{
    for (size_t i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        struct perf_plot_series *s = NULL;
        char title[64];
        size_t k;
        if (c->latency || c->error != NULL || c->score <= 0)
            continue;
        snprintf(title, sizeof title, "%s%s%.0zu%s", cell_label(o, c),
                 o->nsenders > 1 ? ", " : "", o->nsenders > 1 ? c->senders
                 : 0, o->nsenders > 1 ? (c->senders == 1 ? " sender"
                                                         : " senders") : "");
        for (k = 0; k < have && s == NULL; k++)
            if (!out[k].latency && strcmp(out[k].title, title) == 0)
                s = &out[k];
        if (s == NULL) {
            s = &out[have++];
            snprintf(s->title, sizeof s->title, "%s", title);
            s->color = plot_color(o, c);
            s->dash = 1 + (int)(have_senders_index(o, c->senders) % 4);
        }
        /* insert by size */
        for (k = s->n; k > 0 && s->x[k - 1] > (double)c->size; k--) {
            s->x[k] = s->x[k - 1];
            s->y[k] = s->y[k - 1];
        }
        if (s->n < PERF_PLOT_MAX_POINTS) {
            s->x[k] = (double)c->size;
            s->y[k] = c->score;
            s->n++;
        }
    }
    return have;
}

static int draw_plot(const struct perf_opts *o, const struct cell *cells,
                     size_t n)
{
    struct perf_plot_series *series = calloc(n + 1, sizeof *series);
    struct perf_plot p;
    size_t ns;
    int r;
    if (series == NULL) {
        tool_err("--plot: out of memory");
        return -1;
    }
    ns = tput_series(o, cells, n, series, 0);
    for (size_t i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        struct perf_plot_series *s = &series[ns];
        if (!c->latency || c->error != NULL || c->ncdf == 0 || c->samples == 0)
            continue;
        s->latency = 1;
        s->color = plot_color(o, c);
        s->dash = 1 + (int)(size_index(o, c->size) % 5);
        snprintf(s->title, sizeof s->title, "%s %zu B", cell_label(o, c),
                 c->size);
        for (size_t q = 0; q < c->ncdf; q++) {
            s->x[q] = (double)c->cdf_ns[q] / 1e3;
            s->y[q] = perf_plot_cdf_permille(q) / 1000.0;
        }
        s->n = c->ncdf;
        ns++;
    }
    memset(&p, 0, sizeof p);
    p.file = o->plot;
    p.series = series;
    p.n = ns;
    snprintf(p.title, sizeof p.title, "cohort-perf %s: %llu receiver%s on "
             "%s, datagram limit %zu bytes, cohort %s", o->role,
             (unsigned long long)o->receivers, o->receivers == 1 ? "" : "s",
             o->net.interface, n > 0 ? cells[0].datagram : 0,
             cohort_version());
    r = perf_plot_draw(&p);
    if (r == 0 && !o->quiet && !o->json)
        tool_err("chart written to %s", o->plot);
    free(series);
    return r;
}

/* security without --key: a throw-away key in a private directory. */
struct temp_key {
    char dir[64];
    char path[96];
};

static int temp_key_make(struct temp_key *k)
{
    int r;
    snprintf(k->dir, sizeof k->dir, "/tmp/cohort-perf-XXXXXX");
    k->path[0] = '\0';
    if (mkdtemp(k->dir) == NULL) {
        tool_err("temporary key directory: %s", strerror(errno));
        k->dir[0] = '\0';
        return TOOL_EXIT_FAIL;
    }
    snprintf(k->path, sizeof k->path, "%s/key", k->dir);
    r = cohort_keygen(k->path);
    if (r == 0)
        return TOOL_EXIT_OK;
    tool_err_cohort("temporary key", r);
    return r == COHORT_ERR_NOCRYPTO ? TOOL_EXIT_NOTSUP : TOOL_EXIT_FAIL;
}

static void temp_key_remove(struct temp_key *k)
{
    if (k->path[0] != '\0')
        (void)unlink(k->path);
    if (k->dir[0] != '\0')
        (void)rmdir(k->dir);
}

static int run_plan(struct perf_opts *o)
{
    static struct cell cells[PERF_MAX_CELLS];
    size_t n = plan(o, cells);
    struct cell *runs = calloc(n * (size_t)o->repeat, sizeof *runs);
    size_t invalid = 0;
    int failed = 0;
    if (runs == NULL) {
        tool_err("out of memory");
        return TOOL_EXIT_FAIL;
    }
    run_cells(o, cells, n, runs);
    free(runs);
    for (size_t i = 0; i < n; i++) {
        failed |= cells[i].runs == 0 ||
                  (cells[i].error != NULL && !cells[i].expected);
        invalid += cells[i].v.bad_runs > 0;
    }
    tool_progress_clear(&g_progress);
    if (o->json)
        print_json(o, cells, n);
    else
        print_human(o, cells, n);
    fflush(stdout);
    if (o->plot != NULL && draw_plot(o, cells, n) != 0)
        failed = 1;
    if (invalid > 0)
        tool_err("%zu cell%s delivered wrongly (INVALID)%s", invalid,
                 invalid == 1 ? "" : "s",
                 o->allow_invalid ? "; --allow-invalid: exit 0" : "");
    if (invalid > 0 && !o->allow_invalid)
        failed = 1;
    return failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

static int role_run(struct perf_opts *o)
{
    struct temp_key key;
    int rc;
    memset(&key, 0, sizeof key);
    if (o->secmatrix && o->net.key_file == NULL) {
        rc = temp_key_make(&key);
        if (rc != TOOL_EXIT_OK) {
            temp_key_remove(&key);
            return rc;
        }
        o->net.key_file = key.path;
    }
    if (o->netns) {
        char dir[] = "/tmp/cohort-perf-net.XXXXXX", why[256];
        uint64_t most = 0;
        for (size_t i = 0; i < o->nsenders; i++)
            most = o->senders[i] > most ? o->senders[i] : most;
        if (mkdtemp(dir) == NULL) {
            tool_err("--netns-loss: cannot make a directory: %s",
                     strerror(errno));
            temp_key_remove(&key);
            return TOOL_EXIT_FAIL;
        }
        if (o->receivers + most > HN_MAX_MEMBERS ||
            hn_open(&g_hn, (uint32_t)(o->receivers + most),
                    (unsigned)o->netns_loss, dir, why, sizeof why) != 0 ||
            hn_enter(&g_hn, 0) != 0) {
            tool_err("--netns-loss: %s", o->receivers + most > HN_MAX_MEMBERS
                     ? "at most 16 processes" : why);
            hn_close(&g_hn);
            (void)rmdir(dir);
            temp_key_remove(&key);
            return TOOL_EXIT_FAIL;
        }
        o->net.interface = HN_MEMBER_IFACE;
        rc = run_plan(o);
        hn_close(&g_hn);
        (void)rmdir(dir);
    } else {
        rc = run_plan(o);
    }
    temp_key_remove(&key);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-perf run|table|security|membership|rpc|send|recv [options]\n"
"  run                   start 1 sender and --receivers processes here\n"
"  table                 the full matrix: sizes x raw/unreliable/fifo/\n"
"                        total/safe\n"
"  security              the cost of security: sizes x none/auth/encrypt\n"
"                        (fifo, or --mode); same as table --security-matrix\n"
"  membership            how long agreed views take, with member\n"
"                        processes: N started together, a crash, a\n"
"                        joiner, a graceful leave\n"
"  rpc                   request-reply round trips to one member and\n"
"                        to the group beside raw (cohort-perf rpc --help)\n"
"  send, recv            one role (run them in separate terminals)\n"
"options:\n"
"  --mode unreliable|fifo|total|safe  delivery mode (default: fifo)\n"
"  --raw                 bare UDP multicast, no protocol (the baseline):\n"
"                        one message per datagram, cut into chunks when\n"
"                        larger than the datagram limit\n"
"  --raw1                bare UDP, one datagram per message whatever its\n"
"                        size (up to %u bytes): plain UDP; run and table\n"
"                        add it beside raw where raw cuts\n"
"  --size LIST           message sizes in bytes, e.g. 64,1000,8000\n"
"                        (default: 1000; table, security: 64,1000,8000;\n"
"                        >= 32)\n"
"  --count N             messages per cell (latency: round trips)\n"
"  --seconds S           send for S seconds per cell (default: 3)\n"
"  --latency             ping-pong round trips (p50/p99/p99.9) instead\n"
"                        of throughput; run adds the raw baseline,\n"
"                        table and security add latency cells\n"
"  --round-trips N       round trips per latency cell (default: --count,\n"
"                        else 10000)\n"
"  --receivers N         receiver processes (default: 2; send: waits\n"
"                        for N)\n"
"  --senders LIST        throughput with that many concurrent senders,\n"
"                        each count a cell, e.g. 1,3 (default: 1; 1..%d;\n"
"                        send, recv: one count, the same for all)\n"
"  --modes LIST          run, table: cells of these modes, e.g.\n"
"                        fifo,total,safe; raw, the baseline, always\n"
"                        comes too (and raw1 where raw cuts)\n"
"  --repeat K            run each cell K times (round robin over the\n"
"                        cells), report the median (membership:\n"
"                        default 3)\n"
"  --members LIST        membership: group sizes (default: 2,8,32;\n"
"                        2..%d)\n"
"  --member-timeout-ms MS  membership: the members' member_timeout\n"
"                        (default: the library's, 3000; >= 200)\n"
"  --dip                 membership: instead, the throughput dip of a\n"
"                        FIFO stream (--size, default 1000) while a\n"
"                        member joins, one leaves, one is SIGKILLed\n"
"                        (--members: group sizes >= 3, default 4)\n"
"  --datagram BYTES      datagram limit (cfg.max_datagram; default: the\n"
"                        interface MTU less headers, 65507 on loopback),\n"
"                        obeyed by cohort and raw alike\n"
"  --key FILE            cohort cells authenticated or encrypted;\n"
"                        security: the key to use (default: a temporary\n"
"                        one)\n"
"  --security auth|encrypt  with --key, as cohort-chat\n"
"  --cipher xchacha20poly1305|aes256gcm|fastest  AEAD to seal with\n"
"                        (default fastest: AES-256-GCM unless a member\n"
"                        cannot open it; members open both)\n"
"  --plot FILE.svg|FILE.png  run, table, security: also draw the cells\n"
"                        with gnuplot (Debian: gnuplot-nox): throughput\n"
"                        by message size per mode beside raw, and the\n"
"                        round-trip latency CDF (with --latency)\n"
"  --stats-socket PATH   send, recv: the member's counters on a Unix\n"
"                        socket for cohort-stat(1)\n"
"  --busy-poll US        wait by spinning up to US microseconds before\n"
"                        sleeping: cohort cells wait in cohort_wait() with\n"
"                        config.busy_poll_us = US, raw cells spin on a\n"
"                        non-blocking recv() (every process, every cell)\n"
"  --blocking            cohort cells wait in cohort_wait(), the library's\n"
"                        blocking form, instead of poll() on cohort_fd()\n"
"                        and cohort_process() (raw cells wait in poll())\n"
"  --json                machine-readable output (no progress line)\n"
"  --allow-invalid       exit 0 even when a run delivered wrongly (every\n"
"                        throughput message is checked: sequence per\n"
"                        sender and a checksum; such a run is INVALID)\n"
"  --inject skip|dup|corrupt  senders: every %uth message a gap, a\n"
"                        duplicate or a flipped byte (tests of the checks)\n"
"  --parity K            cohort cells repair by parity over blocks of K\n"
"                        records (cfg.parity_block, 2..64; 0: off, the\n"
"                        default)\n"
"  --parity-extra E      with --parity K: E symbols (<= K) unasked with\n"
"                        each block (cfg.parity_extra)\n"
"  --netns-loss P        run, table, security: each process in a network\n"
"                        namespace of its own on a bridge (veth, Ethernet\n"
"                        MTU, interface ch0), the bridge dropping P %% of\n"
"                        the UDP frames it forwards, each port apart: loss\n"
"                        independent per receiver (needs root, ip, nft);\n"
"                        COHORT_GSO=0 unless set (a drop takes a\n"
"                        segmented run whole there)\n"
"  --quiet               no progress line on stderr (it is drawn only\n"
"                        when stderr is a terminal, in place)\n"
"  --group, --interface (default: lo), --address, --port, --ipv6,\n"
"  --faults SPEC: as cohort-chat\n"
"  --help, --version\n", PERF_RAW_MAX_WHOLE, PERF_MAX_SENDERS,
            PERF_MEMBERS_MAX, PERF_INJECT_EVERY);
}

static const struct option long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "size", required_argument, NULL, OPT_SIZE },
    { "count", required_argument, NULL, OPT_COUNT },
    { "seconds", required_argument, NULL, OPT_SECONDS },
    { "raw", no_argument, NULL, OPT_RAW },
    { "raw1", no_argument, NULL, OPT_RAW1 },
    { "allow-invalid", no_argument, NULL, OPT_ALLOW_INVALID },
    { "inject", required_argument, NULL, OPT_INJECT },
    { "parity", required_argument, NULL, OPT_PARITY },
    { "parity-extra", required_argument, NULL, OPT_PARITY_EXTRA },
    { "netns-loss", required_argument, NULL, OPT_NETNS_LOSS },
    { "latency", no_argument, NULL, OPT_LATENCY },
    { "repeat", required_argument, NULL, OPT_REPEAT },
    { "json", no_argument, NULL, OPT_JSON },
    { "receivers", required_argument, NULL, OPT_RECEIVERS },
    { "matrix", no_argument, NULL, OPT_MATRIX },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "machine", no_argument, NULL, OPT_MACHINE },
    { "index", required_argument, NULL, OPT_INDEX },
    { "run-id", required_argument, NULL, OPT_RUN_ID },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "security-matrix", no_argument, NULL, OPT_SECMATRIX },
    { "round-trips", required_argument, NULL, OPT_ROUND_TRIPS },
    { "members", required_argument, NULL, OPT_MEMBERS },
    { "member-timeout-ms", required_argument, NULL, OPT_MEMBER_TIMEOUT },
    { "dip", no_argument, NULL, OPT_DIP },
    { "dip-role", required_argument, NULL, OPT_DIP_ROLE },
    { "dip-file", required_argument, NULL, OPT_DIP_FILE },
    { "senders", required_argument, NULL, OPT_SENDERS },
    { "modes", required_argument, NULL, OPT_MODES },
    { "progress", no_argument, NULL, OPT_PROGRESS },
    { "plot", required_argument, NULL, OPT_PLOT },
    { "stats-socket", required_argument, NULL, OPT_STATS_SOCKET },
    { "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
    { "blocking", no_argument, NULL, OPT_BLOCKING },
    { NULL, 0, NULL, 0 },
};

/* --modes: names of kinds, comma-separated, into a mask. */
static int parse_modes(const char *arg, unsigned *kinds)
{
    const char *p = arg;
    *kinds = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        int k = KIND__COUNT;
        for (int i = 0; i < KIND__COUNT; i++)
            if (strlen(kind_names[i]) == len &&
                strncmp(p, kind_names[i], len) == 0)
                k = i;
        if (k == KIND__COUNT) {
            tool_err("--modes: expected names from raw, raw1, unreliable, "
                     "fifo, total, safe, got '%s'", arg);
            return -1;
        }
        *kinds |= 1u << k;
        p += len;
        if (*p == ',')
            p++;
    }
    if (*kinds == 0) {
        tool_err("--modes: empty list");
        return -1;
    }
    return 0;
}

static int perf_option(void *ctx, int opt, const char *arg)
{
    struct perf_opts *o = ctx;
    switch (opt) {
    case OPT_SIZE:
        o->size_given = 1;
        return tool_parse_list("size", arg, PERF_HDR_BYTES, 16u << 20,
                               o->sizes, PERF_MAX_SIZES, &o->nsizes);
    case OPT_COUNT:
        return tool_parse_u64("count", arg, 1, 1000000000u, &o->count);
    case OPT_ROUND_TRIPS:
        return tool_parse_u64("round-trips", arg, 1, PERF_MAX_LAT_COUNT,
                              &o->rtts);
    case OPT_SECONDS:
        return tool_parse_seconds("seconds", arg, 3600.0, &o->seconds);
    case OPT_REPEAT:
        return tool_parse_u64("repeat", arg, 1, PERF_MAX_REPEAT, &o->repeat);
    case OPT_RECEIVERS:
        return tool_parse_u64("receivers", arg, 1, PERF_MAX_RECEIVERS,
                              &o->receivers);
    case OPT_SENDERS:
        return tool_parse_list("senders", arg, 1, PERF_MAX_SENDERS,
                               o->senders, PERF_MAX_SENDER_LISTS,
                               &o->nsenders);
    case OPT_MODES:
        return parse_modes(arg, &o->kinds);
    case OPT_INDEX:
        return tool_parse_u64("index", arg, 0, PERF_MAX_RECEIVERS, &o->index);
    case OPT_RUN_ID:
        return tool_parse_u64("run-id", arg, 0, UINT32_MAX, &o->run_id);
    case OPT_TIMEOUT:
        return tool_parse_seconds("timeout", arg, 86400.0, &o->timeout_s);
    case OPT_MEMBERS:
        return tool_parse_list("members", arg, 2, PERF_MEMBERS_MAX,
                               o->members, PERF_MEMBERS_MAX_SIZES,
                               &o->nmembers);
    case OPT_MEMBER_TIMEOUT:
        return tool_parse_u64("member-timeout-ms", arg, 200, 3600000u,
                              &o->member_timeout_ms);
    case OPT_DIP_ROLE:
        if (strcmp(arg, "send") == 0)
            o->dip_role = PM_DIP_SEND;
        else if (strcmp(arg, "recv") == 0)
            o->dip_role = PM_DIP_RECV;
        else if (strcmp(arg, "meter") == 0)
            o->dip_role = PM_DIP_METER;
        else {
            tool_err("--dip-role: send, recv or meter");
            return -1;
        }
        return 0;
    case OPT_DIP_FILE: o->dip_file = arg; return 0;
    case OPT_DIP: o->dip = 1; return 0;
    case OPT_PROGRESS: o->progress = 1; return 0;
    case OPT_PLOT: o->plot = arg; return 0;
    case OPT_STATS_SOCKET: o->stats_socket = arg; return 0;
    case OPT_BLOCKING:
        o->blocking = 1;
        return 0;
    case OPT_BUSY_POLL:
        return tool_parse_u64("busy-poll", arg, 1, 1000000u, &o->busy_poll_us);
    case OPT_PARITY:
        if (tool_parse_u64("parity", arg, 0, 64, &o->parity) != 0)
            return -1;
        if (o->parity == 1) {
            tool_err("--parity: 0 (off) or a block of 2..64 records");
            return -1;
        }
        return 0;
    case OPT_PARITY_EXTRA:
        return tool_parse_u64("parity-extra", arg, 0, 64, &o->parity_extra);
    case OPT_NETNS_LOSS:
        /* The bridge would drop a segmented run whole (it is cut where
         * it is received), not frame by frame as a real network: no
         * segmentation offload here unless asked for. */
        setenv("COHORT_GSO", "0", 0);
        o->netns = 1;
        return tool_parse_u64("netns-loss", arg, 0, 100, &o->netns_loss);
    case OPT_RAW: o->raw = 1; return 0;
    case OPT_RAW1: o->raw = o->raw1 = 1; return 0;
    case OPT_ALLOW_INVALID: o->allow_invalid = 1; return 0;
    case OPT_INJECT:
        for (int i = INJECT_SKIP; i <= INJECT_CORRUPT; i++)
            if (strcmp(arg, inject_names[i]) == 0)
                o->inject = i;
        if (o->inject != INJECT_NONE)
            return 0;
        tool_err("--inject: skip, dup or corrupt");
        return -1;
    case OPT_LATENCY: o->latency = 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_MATRIX: o->matrix = 1; return 0;
    case OPT_SECMATRIX: o->secmatrix = 1; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_MACHINE: o->machine = 1; return 0;
    default: return -1;
    }
}

/* Defaults that depend on the role and on what was given. */
static int finish_options(struct perf_opts *o)
{
    int table = strcmp(o->role, "table") == 0;
    if (strcmp(o->role, "security") == 0)
        o->secmatrix = 1;
    if (strcmp(o->role, "membership") == 0) {
        if (o->nmembers == 0 && o->dip) {
            o->nmembers = 1;
            o->members[0] = 4;
        } else if (o->nmembers == 0) {
            static const uint64_t sizes[] = { 2, 8, 32 };
            o->nmembers = 3;
            memcpy(o->members, sizes, sizeof sizes);
        }
        if (o->repeat == 0)
            o->repeat = 3;
    }
    if (table || o->secmatrix)
        o->matrix = 1;
    if (o->plot != NULL && strcmp(o->role, "run") != 0 && !table &&
        !o->secmatrix) {
        tool_err("--plot: run, table and security draw their cells; %s "
                 "has none", o->role);
        return -1;
    }
    if (o->plot != NULL && perf_plot_check_name(o->plot) != 0)
        return -1;
    if (o->stats_socket != NULL && strcmp(o->role, "send") != 0 &&
        strcmp(o->role, "recv") != 0) {
        tool_err("--stats-socket: for send and recv (one member each)");
        return -1;
    }
    if (o->parity_extra > o->parity) {
        tool_err("--parity-extra: at most --parity (symbols of a block)");
        return -1;
    }
    if (o->netns && strcmp(o->role, "run") != 0 && !table && !o->secmatrix) {
        tool_err("--netns-loss: for run, table and security (they start "
                 "the processes)");
        return -1;
    }
    if (o->secmatrix && o->raw) {
        tool_err("security: measures cohort with and without security; "
                 "--raw and --raw1 have none");
        return -1;
    }
    if (o->secmatrix && o->kinds != 0) {
        tool_err("security: one mode (--mode), not --modes");
        return -1;
    }
    if (o->nsenders == 0) {
        o->nsenders = 1;
        o->senders[0] = 1;
    }
    if (o->nsenders > 1 && (strcmp(o->role, "send") == 0 ||
                            strcmp(o->role, "recv") == 0)) {
        tool_err("--senders: %s takes one count", o->role);
        return -1;
    }
    if (o->latency && o->senders[0] != 1 && (strcmp(o->role, "send") == 0 ||
                                             strcmp(o->role, "recv") == 0)) {
        tool_err("--latency: one sender plays ping-pong");
        return -1;
    }
    if (o->nsizes == 0) {
        static const uint64_t table_sizes[] = { 64, 1000, 8000 };
        o->nsizes = o->matrix ? 3 : 1;
        memcpy(o->sizes, o->matrix ? table_sizes : (const uint64_t[]){ 1000 },
               o->nsizes * sizeof o->sizes[0]);
    }
    if (o->latency && (strcmp(o->role, "send") == 0 ||
                       strcmp(o->role, "recv") == 0))
        o->count = round_trips(o);     /* by hand: the roles count */
    if (o->count == 0 && o->seconds == 0.0)
        o->seconds = 3.0;
    if (o->latency && round_trips(o) > PERF_MAX_LAT_COUNT) {
        tool_err("--latency: at most %u round trips", PERF_MAX_LAT_COUNT);
        return -1;
    }
    if (o->receivers == 0)
        o->receivers = strcmp(o->role, "send") == 0 ? 1 : 2;
    if (o->repeat == 0)
        o->repeat = 1;
    if (o->timeout_s == 0.0 && !o->machine)
        o->timeout_s = 3600.0;       /* by hand: Ctrl-C ends it early */
    if (o->timeout_s == 0.0)
        o->timeout_s = (o->count ? 600.0 : o->seconds + 60.0);
    if (o->run_id == 0 && !o->machine)
        o->run_id = 1;               /* by hand: both roles must agree */
    return tool_net_check(&o->net);
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(void *opts, int argc, char **argv)
{
    struct perf_opts *o = opts;
    int r;
    tool_net_init(&o->net, "perf");
    o->net.ordered_ok = 1;
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--version") == 0 ||
                          strcmp(argv[1], "-V") == 0)) {
            tool_print_version();
            return TOOL_EXIT_OK;
        }
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                          strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return TOOL_EXIT_OK;
        }
        tool_err("a command comes first: run, table, security, "
                 "membership, send or recv (try --help)");
        return TOOL_EXIT_USAGE;
    }
    o->role = argv[1];
    /* The command word stands where getopt expects the program name. */
    r = tool_parse_options(&o->net, argc - 1, argv + 1, long_opts, usage,
                           perf_option, o);
    if (r != TOOL_OPT_NEXT)
        return r;
    return finish_options(o) == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* membership and member take their own, smaller set of options. */
static int role_membership(const struct perf_opts *o, int member)
{
    struct perf_members_opts m;
    memset(&m, 0, sizeof m);
    m.net = o->net;
    memcpy(m.sizes, o->members, sizeof m.sizes);
    m.nsizes = o->nmembers;
    m.repeat = o->repeat;
    m.member_timeout_ms = o->member_timeout_ms;
    m.timeout_s = o->timeout_s;
    m.json = o->json;
    m.quiet = o->quiet;
    m.dip = o->dip;
    m.dip_role = o->dip_role;
    m.dip_file = o->dip_file;
    m.dip_size = o->sizes[0];
    m.progress = &g_progress;
    if (member)
        return perf_members_member(&m);
    return m.dip ? perf_members_dip_run(&m) : perf_members_run(&m);
}

static int run(void *opts)
{
    struct perf_opts *o = opts;
    tool_progress_init(&g_progress, !o->quiet && !o->json && !o->machine);
    /* Before a long run, not after it: is there a way to draw? */
    if (o->plot != NULL && perf_plot_check_gnuplot() != 0)
        return TOOL_EXIT_FAIL;
    if (strcmp(o->role, "membership") == 0 || strcmp(o->role, "member") == 0)
        return role_membership(o, strcmp(o->role, "member") == 0);
    if (strcmp(o->role, "send") == 0)
        return o->latency ? role_send_latency(o) : role_send_throughput(o);
    if (strcmp(o->role, "recv") == 0)
        return role_recv(o);
    if (strcmp(o->role, "run") == 0 || strcmp(o->role, "table") == 0 ||
        strcmp(o->role, "security") == 0)
        return role_run(o);
    tool_err("unknown command '%s': expected run, table, security, "
             "membership, send or recv", o->role);
    return TOOL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static struct perf_opts o;
    if (argc > 1 && strcmp(argv[1], "rpc") == 0) {
        tool_set_progname(argv[0]);
        return perf_rpc_main(argc, argv);
    }
    return tool_main(argc, argv, &o, parse_args, run);
}
