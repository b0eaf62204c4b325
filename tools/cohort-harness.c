/*
 * cohort-harness - run N real member processes on loopback, have each send
 * M self-checking messages, and check what every member delivered:
 * nothing lost (fifo), nothing duplicated, each sender's order kept
 * (fifo), nothing corrupted. The simulator (tests/sim) checks the same
 * properties deterministically; this checks them over real sockets, real
 * clocks and real scheduling.
 *
 *   cohort-harness --members 3 --messages 50000 --mode fifo --faults drop=0.2
 *
 * In --mode total and safe each delivery is followed by an O line (view,
 * order, flags, sender, key) and the logs are replayed into
 * tests/sim/total_check.c (harness_total.c): one order at every member.
 *
 * The parent starts the members (this program again, "member" role) and
 * reads the delivery log each writes, one line per delivery:
 *     D <sender> <index> <length> <checksum-ok>
 * plus T (a message this member could not send: too big for unreliable),
 * E (an end marker), X (an undecodable payload), J/L/W (events), S and R
 * (summary) and '#' comments.
 *
 * Payload: magic, sender index, message index, length, type, FNV-1a 64 of
 * the body; the body is a deterministic stream of (sender, index), so a
 * receiver can tell any corruption from the message alone.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"
#include "harness_net.h"
#include "harness_steps.h"
#include "harness_log.h"
#include "harness_total.h"
#include "harness_vs.h"
#include "progress.h"

#define H_HDR_BYTES 32u
#define H_END_BYTES 40u                   /* an end marker: header, then
                                             its ordinal at this sender */
#define H_END_KEY (1ull << 62)            /* O-line keys of end markers */
#define H_MAGIC 0x4e524843u             /* "CHRN" */
#define H_TYPE_DATA 1u
#define H_TYPE_END 2u
#define H_MAX_MEMBERS 16
#define H_MAX_MESSAGES 1000000u
#define H_MAX_SIZES 8
#define H_MAX_VIOLATIONS_SHOWN 20
#define H_JOIN_WAIT_NS 15000000000ull
#define H_SETTLE_NS 500000000ull         /* several heartbeats */
#define H_STALL_NS 30000000000ull
#define H_END_REPEATS 5
#define H_IDLE_AFTER_END_NS 1000000000ull
#define H_IDLE_NO_END_NS 3000000000ull
#define H_DRAIN_MAX_MS 10000
#define H_PROCESS_EVERY_BYTES (32u << 10)
#define H_MIXED_MAX_BYTES 9500u           /* largest size msg_size picks */
#define H_STABLE_NS 1500000000ull         /* scripted: a view this old is
                                             settled enough to finish in */
#define H_HOLD_AFTER_STEPS_NS 1000000000ull
#define H_LIFE_SHIFT 16                   /* payload sender: life << 16 | i */
#define H_MAX_LIVES_ALL HL_MAX_LIVES_ALL
#define H_EXIT_LOGDIR 4                   /* the log directory is missing,
                                             not a directory, or cannot be
                                             made */

/* The verdict is the last line on stdout whatever happens: PASS or FAIL
 * (or SKIP, exit 77), once. verdict_line prints it and notes that it did,
 * so main can print a FAIL for a run that ended without one (a usage or
 * set-up error). */
static int g_verdict_printed;
static struct tool_progress g_progress;

static void verdict_line(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void verdict_line(const char *fmt, ...)
{
    va_list ap;
    tool_progress_clear(&g_progress);
    fflush(stderr);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    g_verdict_printed = 1;
}

enum h_opt {
    OPT_MEMBERS = TOOL_OPT__END,
    OPT_MESSAGES,
    OPT_SIZES,
    OPT_TIMEOUT,
    OPT_KEEP_LOGS,
    OPT_SEED,
    OPT_QUIET,
    OPT_INDEX,
    OPT_LOG,
    OPT_STEP,
    OPT_RATE,
    OPT_NFT_DROP,
    OPT_NETNS,
    OPT_CHECK_VS,
    OPT_SELF_DELIVERY,
    OPT_LIFE,
    OPT_EXPECT,
    OPT_HOLD_UNTIL,
    OPT_SCRIPTED,
    OPT_MEMBER_TIMEOUT,
    OPT_STATS_DIR,
};

struct h_opts {
    struct tool_net net;
    uint64_t members, messages, seed, index;
    uint64_t sizes[H_MAX_SIZES];
    size_t nsizes;                /* 0: mixed */
    double timeout_s;
    const char *keep_logs;
    const char *log;              /* member role */
    const char *faults;           /* --faults or COHORT_FAULTS */
    int quiet, member_role, check_role;
    const char *step_args[HS_MAX_STEPS];
    size_t nstep_args;
    struct hs_script script;      /* parsed --step arguments */
    uint64_t rate;                /* messages per second per member, 0: all */
    uint64_t nft_drop;            /* percent of UDP dropped on the bridge */
    uint64_t member_timeout_ms;   /* 0: the library's default */
    int netns;                    /* a namespace per member (or implied) */
    int check_vs, self_delivery;
    /* member role, scripted runs */
    int scripted;
    uint64_t life, expect, hold_until_ns;
    const char *stats_dir;        /* --stats-dir: member sockets there */
};

/* ------------------------------------------------------------------ */
/* Payloads                                                            */
/* ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Mixed sizes: mostly small, a quarter up to about a datagram, one in
 * twenty several datagrams long (so reliable modes must fragment). */
static size_t msg_size(const struct h_opts *o, uint32_t sender, uint64_t idx)
{
    uint64_t st = ((uint64_t)sender << 40) ^ idx;
    uint64_t h = splitmix64(&st);
    unsigned pick = (unsigned)(h % 100u);
    if (o->nsizes > 0)
        return (size_t)o->sizes[idx % o->nsizes];
    h >>= 8;
    if (pick < 70)
        return 32 + (size_t)(h % 97u);
    if (pick < 95)
        return 129 + (size_t)(h % 1100u);
    return 1500 + (size_t)(h % 8000u);
}

static void fill_message(uint8_t *b, size_t len, uint32_t type,
                         uint32_t sender, uint64_t idx)
{
    uint64_t st = ((uint64_t)sender << 48) ^ (idx * 0x2545f4914f6cdd1dull);
    for (size_t i = H_HDR_BYTES; i < len; i += 8) {
        uint64_t r = splitmix64(&st);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(b + i, &r, n);
    }
    tool_put_le(b, H_MAGIC, 4);
    tool_put_le(b + 4, sender, 4);
    tool_put_le(b + 8, idx, 8);
    tool_put_le(b + 16, (uint32_t)len, 4);
    tool_put_le(b + 20, type, 4);
    tool_put_le(b + 24, fnv1a64(b + H_HDR_BYTES, len - H_HDR_BYTES), 8);
}

/* An end marker: the header over the 8 ordinal bytes the caller wrote at
 * H_HDR_BYTES (the checksum covers them). */
static void fill_end(uint8_t *b, uint32_t sender, uint64_t count)
{
    tool_put_le(b, H_MAGIC, 4);
    tool_put_le(b + 4, sender, 4);
    tool_put_le(b + 8, count, 8);
    tool_put_le(b + 16, H_END_BYTES, 4);
    tool_put_le(b + 20, H_TYPE_END, 4);
    tool_put_le(b + 24, fnv1a64(b + H_HDR_BYTES, H_END_BYTES - H_HDR_BYTES),
                8);
}

struct h_msg {
    uint32_t sender, life, type;
    uint64_t idx;
    int ok;
};

/* 0 if the header is ours (ok tells whether the body is intact). */
static int parse_message(const uint8_t *b, size_t len, uint64_t members,
                         struct h_msg *m)
{
    if (len < H_HDR_BYTES || tool_get_le(b, 4) != H_MAGIC)
        return -1;
    m->sender = (uint32_t)tool_get_le(b + 4, 4);
    m->idx = tool_get_le(b + 8, 8);
    m->type = (uint32_t)tool_get_le(b + 20, 4);
    m->life = m->sender >> H_LIFE_SHIFT;
    m->sender &= (1u << H_LIFE_SHIFT) - 1;
    if (m->sender >= members || m->life >= HS_MAX_LIVES)
        return -1;
    m->ok = tool_get_le(b + 16, 4) == len &&
            tool_get_le(b + 24, 8) == fnv1a64(b + H_HDR_BYTES, len - H_HDR_BYTES);
    /* a restarted member's messages name its life (the payload's sender
     * word), so each life's stream is checked on its own */
    return 0;
}

/* ------------------------------------------------------------------ */
/* Member role                                                         */
/* ------------------------------------------------------------------ */

struct member {
    const struct h_opts *o;
    cohort_t *c;
    FILE *log;
    uint32_t self;
    uint8_t *seen[H_MAX_MEMBERS];    /* bitmaps of delivered indexes */
    uint64_t got[H_MAX_MEMBERS];     /* distinct deliveries per sender */
    uint64_t end_count[H_MAX_MEMBERS];
    int end_seen[H_MAX_MEMBERS];
    uint64_t last_rx_ns, sent, toobig, sent_done_ns;
    uint64_t ends_sent;              /* end markers sent (their ordinals) */
    uint8_t *buf;
    size_t unprocessed;
    uint32_t word;                   /* payload sender word: life, index */
    cohort_member_t me;              /* the identity logged last ("S") */
    /* views and ends, for sending-view logging and scripted finishing */
    uint64_t view_id, view_ns;       /* last view event, and when */
    uint64_t send_view;              /* view of the last "P" line */
    int send_view_logged;
    uint32_t end_inc[H_MAX_MEMBERS]; /* incarnation whose end marker came */
    int done;                        /* "F" logged, done file there */
    cohort_member_t final[H_MAX_MEMBERS];  /* the view of "F" */
    size_t nfinal;
    char done_path[4200];
};

static int ordered_mode(cohort_mode_t mode)
{
    return mode == COHORT_TOTAL || mode == COHORT_SAFE;
}

static int reliable_mode(cohort_mode_t mode)
{
    return mode == COHORT_FIFO || ordered_mode(mode);
}

/* "O view order flags mode sender-id.inc key": a TOTAL or SAFE delivery
 * as total_check takes it (key: the message index, or H_END_KEY plus the
 * ordinal of an end marker). */
static void log_order(struct member *m, const cohort_event_t *ev,
                      const struct h_msg *h)
{
    uint64_t key = h->idx;
    if (!ordered_mode(ev->u.message.mode))
        return;
    if (h->type == H_TYPE_END) {
        const uint8_t *b = ev->u.message.data;
        key = H_END_KEY | (ev->u.message.len >= H_END_BYTES
                               ? tool_get_le(b + H_HDR_BYTES, 8) : 0);
    }
    fprintf(m->log, "O %016llx %llu %u %d %08x.%u %llu\n",
            (unsigned long long)ev->u.message.view_id,
            (unsigned long long)ev->u.message.order,
            (unsigned)ev->u.message.flags, (int)ev->u.message.mode,
            (unsigned)ev->u.message.sender.id,
            (unsigned)ev->u.message.sender.incarnation,
            (unsigned long long)key);
}

static void on_message(struct member *m, const cohort_event_t *ev)
{
    struct h_msg h;
    if (parse_message(ev->u.message.data, ev->u.message.len,
                      m->o->members, &h) != 0) {
        fprintf(m->log, "X %zu\n", ev->u.message.len);
        return;
    }
    m->last_rx_ns = tool_now_ns();
    if (h.ok)
        log_order(m, ev, &h);
    if (h.type == H_TYPE_END && h.ok) {
        fprintf(m->log, "E %u %llu %u\n", h.sender, (unsigned long long)h.idx,
                h.life);
        m->end_seen[h.sender] = 1;
        m->end_count[h.sender] = h.idx;
        m->end_inc[h.sender] = ev->u.message.sender.incarnation;
        return;
    }
    /* "P index view": message index is the first of this member's own
     * in another view than the one before. A member's own message comes
     * back (self-delivery, on in every member) tagged with the view it
     * was really sent in (a send during a view change goes out in the
     * next view), so the P lines come from there, not from the view
     * current at cohort_send. */
    cohort_member_t me = cohort_self(m->c);
    if (ev->u.message.sender.id == me.id &&
        ev->u.message.sender.incarnation == me.incarnation &&
        h.type == H_TYPE_DATA && h.ok &&
        (!m->send_view_logged || ev->u.message.view_id != m->send_view)) {
        fprintf(m->log, "P %llu %016llx\n", (unsigned long long)h.idx,
                (unsigned long long)ev->u.message.view_id);
        m->send_view = ev->u.message.view_id;
        m->send_view_logged = 1;
    }
    /* "D sender index length ok life view sender-id.inc": the last three
     * for restarts and for virtual synchrony (the tag and who sent it) */
    fprintf(m->log, "D %u %llu %zu %d %u %016llx %08x.%u\n", h.sender,
            (unsigned long long)h.idx, ev->u.message.len, h.ok, h.life,
            (unsigned long long)ev->u.message.view_id,
            (unsigned)ev->u.message.sender.id,
            (unsigned)ev->u.message.sender.incarnation);
    if (h.ok && h.idx < m->o->messages && h.life == 0) {
        uint8_t *bits = m->seen[h.sender];
        uint8_t bit = (uint8_t)(1u << (h.idx & 7));
        if (!(bits[h.idx >> 3] & bit)) {
            bits[h.idx >> 3] |= bit;
            m->got[h.sender]++;
        }
    }
}

static void on_event(void *ctx, const cohort_event_t *ev)
{
    struct member *m = ctx;
    switch (ev->type) {
    case COHORT_EVENT_MESSAGE:
        on_message(m, ev);
        break;
    case COHORT_EVENT_MEMBER_JOINED:
        fprintf(m->log, "J %08x %s\n", (unsigned)ev->u.member.member.id,
                ev->u.member.name ? ev->u.member.name : "");
        break;
    case COHORT_EVENT_MEMBER_LEFT:
        fprintf(m->log, "L %08x %s %d\n", (unsigned)ev->u.member.member.id,
                ev->u.member.name ? ev->u.member.name : "",
                ev->u.member.reason);
        break;
    case COHORT_EVENT_VIEW: {
        /* Excluded while alive, the library went on under a newer
         * incarnation: "S id.inc" again, before the first view of it. */
        cohort_member_t me = cohort_self(m->c);
        if (me.id != m->me.id || me.incarnation != m->me.incarnation) {
            fprintf(m->log, "S %08x.%u\n", (unsigned)me.id,
                    (unsigned)me.incarnation);
            m->me = me;
        }
        /* "V id count id.inc ...": the checker compares them (views) */
        fprintf(m->log, "V %016llx %zu",
                (unsigned long long)ev->u.view.view_id, ev->u.view.count);
        for (size_t i = 0; i < ev->u.view.count; i++)
            fprintf(m->log, " %08x.%u", (unsigned)ev->u.view.members[i].id,
                    (unsigned)ev->u.view.members[i].incarnation);
        /* "G id count id.inc ...": who did not come along (transitional
         * set) */
        fprintf(m->log, "\nG %016llx %zu",
                (unsigned long long)ev->u.view.view_id,
                ev->u.view.joined_count);
        for (size_t i = 0; i < ev->u.view.joined_count; i++)
            fprintf(m->log, " %08x.%u", (unsigned)ev->u.view.joined[i].id,
                    (unsigned)ev->u.view.joined[i].incarnation);
        fputc('\n', m->log);
        /* a killed member's log must still hold its views */
        fflush(m->log);
        m->view_id = ev->u.view.view_id;
        m->view_ns = tool_now_ns();
        break;
    }
    case COHORT_EVENT_WARNING: {
        char text[512];
        fprintf(m->log, "W %d %s\n", ev->u.warning.code,
                tool_warning_text(ev, text, sizeof text));
        break;
    }
    default:
        break;
    }
}

static void drain_events(struct member *m)
{
    (void)tool_drain_events(m->c, 1000000, on_event, m);
}

/* Wait for input or timers (at most max_ms), process, log the events. */
static int pump(struct member *m, int max_ms)
{
    int r = max_ms > 0 ? tool_poll_process(m->c, -1, max_ms, NULL)
                       : cohort_process(m->c);
    if (r < 0) {
        fprintf(m->log, "# process: %s\n", cohort_strerror(r));
        return r;
    }
    drain_events(m);
    return 0;
}

static int wait_for_others(struct member *m, uint64_t deadline_ns)
{
    uint64_t until = tool_now_ns() + H_JOIN_WAIT_NS;
    uint64_t settle_at = 0;
    size_t want = m->o->scripted ? (size_t)m->o->expect
                                 : (size_t)m->o->members - 1;
    if (until > deadline_ns)
        until = deadline_ns;
    for (;;) {
        uint64_t now = tool_now_ns();
        /* scripted: in a view with them (virtual synchrony has no
         * sending before the first view) */
        size_t have = m->o->scripted
                          ? cohort_view(m->c, NULL, NULL, 0)
                          : tool_others(m->c) + 1;
        if (settle_at == 0 && have >= want + 1)
            settle_at = now + H_SETTLE_NS;
        if (settle_at != 0 && now >= settle_at)
            return 0;
        if (now >= until || tool_stop_requested()) {
            fprintf(m->log, "# only %zu of %zu others appeared\n",
                    tool_others(m->c), want);
            return -1;
        }
        if (pump(m, 20) != 0)
            return -1;
    }
}

/* Send one message, riding out flow control (processing meanwhile).
 * Returns 0 or a COHORT_ERR_*. */
static int send_one(struct member *m, const void *data, size_t len,
                    uint64_t deadline_ns)
{
    uint64_t give_up = tool_now_ns() + H_STALL_NS;
    for (;;) {
        int r;
        r = cohort_send(m->c, m->o->net.mode, data, len);
        if (r != COHORT_ERR_AGAIN)
            return r;
        if (tool_now_ns() > give_up || tool_now_ns() > deadline_ns ||
            tool_stop_requested())
            return COHORT_ERR_TIMEDOUT;
        if (pump(m, 10) != 0)
            return COHORT_ERR_SYSTEM;
    }
}

/* --rate: wait (processing meanwhile) until message i is due. */
static int pace(struct member *m, uint64_t start_ns, uint64_t i,
                uint64_t deadline_ns)
{
    uint64_t due;
    if (m->o->rate == 0)
        return 0;
    due = start_ns + i * 1000000000ull / m->o->rate;
    for (int k = 0; k < 100000; k++) {
        uint64_t now = tool_now_ns();
        if (now >= due)
            return 0;
        if (now >= deadline_ns || tool_stop_requested())
            return COHORT_ERR_TIMEDOUT;
        if (pump(m, tool_ms_until(due, 20)) != 0)
            return COHORT_ERR_SYSTEM;
    }
    return 0;
}

static int send_all(struct member *m, uint64_t deadline_ns)
{
    uint64_t start = tool_now_ns();
    for (uint64_t i = 0; i < m->o->messages; i++) {
        size_t len = msg_size(m->o, m->self, i);
        int r = pace(m, start, i, deadline_ns);
        if (r != 0)
            return r;
        fill_message(m->buf, len, H_TYPE_DATA, m->word, i);
        r = send_one(m, m->buf, len, deadline_ns);
        if (r == COHORT_ERR_TOOBIG && m->o->net.mode == COHORT_UNRELIABLE) {
            fprintf(m->log, "T %u %llu %zu\n", m->self, (unsigned long long)i,
                    len);
            m->toobig++;
            continue;
        }
        if (r != 0)
            return r;
        m->sent++;
        m->unprocessed += len;
        if (m->unprocessed >= H_PROCESS_EVERY_BYTES) {
            m->unprocessed = 0;
            if (pump(m, 0) != 0)
                return COHORT_ERR_SYSTEM;
        }
    }
    return 0;
}

/* Unreliable: tell the others how many to expect, a few times over. Each
 * marker carries its ordinal after the header, so every one is a message
 * of its own (total_check keys). */
static void send_end(struct member *m, uint64_t deadline_ns)
{
    int repeats = reliable_mode(m->o->net.mode) ? 1 : H_END_REPEATS;
    for (int i = 0; i < repeats; i++) {
        memset(m->buf + H_HDR_BYTES, 0, H_END_BYTES - H_HDR_BYTES);
        tool_put_le(m->buf + H_HDR_BYTES, m->ends_sent, 8);
        fill_end(m->buf, m->word, m->sent);
        if (send_one(m, m->buf, H_END_BYTES, deadline_ns) != 0)
            return;
        m->ends_sent++;
        (void)cohort_flush(m->c);
        (void)pump(m, 50);
    }
}

static int have_everything(const struct member *m, uint64_t now_ns)
{
    uint64_t idle = now_ns - m->last_rx_ns;
    for (uint32_t s = 0; s < m->o->members; s++) {
        if (s == m->self || m->got[s] >= m->o->messages)
            continue;
        if (reliable_mode(m->o->net.mode))
            return 0;
        /* Unreliable: loss is allowed; a sender is done once its end
         * marker came and everything it counted arrived or went quiet. */
        if (m->end_seen[s] && (m->got[s] >= m->end_count[s] ||
                               idle >= H_IDLE_AFTER_END_NS))
            continue;
        if (!m->end_seen[s] && now_ns - m->sent_done_ns >= H_IDLE_NO_END_NS &&
            idle >= H_IDLE_NO_END_NS)
            continue;
        return 0;
    }
    return 1;
}

static int wait_for_everything(struct member *m, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = tool_now_ns();
        if (have_everything(m, now))
            return 0;
        if (now >= deadline_ns || tool_stop_requested())
            return -1;
        if (pump(m, tool_ms_until(deadline_ns, 50)) != 0)
            return -1;
    }
}

static void log_summary(struct member *m, int complete, int drain_r)
{
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    (void)cohort_stats(m->c, &st);
    fprintf(m->log, "S %llu %llu\n", (unsigned long long)m->sent,
            (unsigned long long)m->toobig);
    fprintf(m->log, "R complete=%d drain=%d\n", complete, drain_r);
    fprintf(m->log, "# stats datagrams_sent=%llu datagrams_received=%llu "
            "retrans=%llu nacks_sent=%llu nacks_received=%llu "
            "would_block=%llu drops=%llu injected=%llu not_in_view=%llu "
            "flushes_abandoned=%llu\n",
            (unsigned long long)st.datagrams_sent,
            (unsigned long long)st.datagrams_received,
            (unsigned long long)st.retransmissions_sent,
            (unsigned long long)st.nacks_sent,
            (unsigned long long)st.nacks_received,
            (unsigned long long)st.send_would_block,
            (unsigned long long)st.drops_total,
            (unsigned long long)st.drops[COHORT_DROP_INJECTED],
            (unsigned long long)st.records_not_in_view,
            (unsigned long long)st.flushes_abandoned);
}

static size_t max_size(const struct h_opts *o)
{
    size_t max = o->nsizes == 0 ? H_MIXED_MAX_BYTES : H_END_BYTES;
    for (size_t i = 0; i < o->nsizes; i++)
        max = o->sizes[i] > max ? (size_t)o->sizes[i] : max;
    return max;
}

static int member_setup(struct member *m, const struct h_opts *o)
{
    struct cohort_config cfg;
    char name[32], stats_path[160];
    size_t bitmap = (size_t)(o->messages + 7) / 8;
    m->o = o;
    m->self = (uint32_t)o->index;
    m->word = m->self | (uint32_t)o->life << H_LIFE_SHIFT;
    m->buf = malloc(max_size(o));
    for (uint32_t s = 0; s < o->members; s++)
        m->seen[s] = calloc(1, bitmap);
    m->log = fopen(o->log, "w");
    if (m->log == NULL || m->buf == NULL) {
        tool_err("member %u: cannot start: %s", m->self, strerror(errno));
        return -1;
    }
    setvbuf(m->log, NULL, _IOFBF, 1u << 20);
    fprintf(m->log, "# member %u of %llu, %llu messages, %s\n", m->self,
            (unsigned long long)o->members, (unsigned long long)o->messages,
            tool_mode_name(o->net.mode));
    if (o->scripted)
        fprintf(m->log, "# scripted life %llu\n", (unsigned long long)o->life);
    snprintf(m->done_path, sizeof m->done_path, "%s.done", o->log);
    snprintf(name, sizeof name, "m%u", m->self);
    tool_config(&o->net, &cfg);
    cfg.name = name;
    cfg.member_id = m->self + 1;
    cfg.seed = o->seed != 0 ? o->seed * 1000u + o->life * 20u + m->self + 1
                            : 0;
    if (o->member_timeout_ms > 0)
        cfg.member_timeout_ns = o->member_timeout_ms * 1000000u;
    /* A socket per process (a restarted member is a new life), for
     * cohort-stat while the run goes on. */
    if (o->stats_dir != NULL) {
        snprintf(stats_path, sizeof stats_path, "%s/member-%u.%llu.sock",
                 o->stats_dir, m->self, (unsigned long long)o->life);
        cfg.stats_socket = stats_path;
    }
    if (tool_open(&cfg, &m->c) != 0) {
        fprintf(m->log, "# open failed: %s\n", cohort_last_error_text());
        return -1;
    }
    cohort_member_t me = cohort_self(m->c);
    fprintf(m->log, "S %08x.%u\n", (unsigned)me.id, (unsigned)me.incarnation);
    m->me = me;
    fflush(m->log);
    return 0;
}

static void member_free(struct member *m)
{
    if (m->log != NULL)
        fclose(m->log);
    for (uint32_t s = 0; s < H_MAX_MEMBERS; s++)
        free(m->seen[s]);
    free(m->buf);
}

/* The library refused the mode itself (NOTSUP; INVAL for SAFE from a
 * library older than it) before any message was taken: the run is
 * skipped, not failed. */
static int unsupported(struct member *m, int r)
{
    if (m->sent != 0 || !(r == COHORT_ERR_NOTSUP ||
                          (r == COHORT_ERR_INVAL &&
                           m->o->net.mode == COHORT_SAFE)))
        return 0;
    fprintf(m->log, "# mode %s not supported by this library\n",
            tool_mode_name(m->o->net.mode));
    return 1;
}

/* The body of a member; returns its exit status. */
static int member_run(struct member *m, uint64_t deadline_ns)
{
    int r, complete, drain_r;
    int ms_left;
    if (wait_for_others(m, deadline_ns) != 0)
        fprintf(m->log, "# sending anyway\n");
    r = send_all(m, deadline_ns);
    if (unsupported(m, r))
        return TOOL_EXIT_NOTSUP;
    if (r != 0) {
        fprintf(m->log, "# send failed after %llu: %s\n",
                (unsigned long long)m->sent, cohort_strerror(r));
        tool_err("member %u: send: %s", m->self, cohort_strerror(r));
    }
    send_end(m, deadline_ns);
    m->sent_done_ns = tool_now_ns();
    complete = wait_for_everything(m, deadline_ns) == 0;
    ms_left = tool_ms_until(deadline_ns, H_DRAIN_MAX_MS);
    drain_r = cohort_drain(m->c, ms_left < 2000 ? 2000 : ms_left);
    drain_events(m);
    log_summary(m, complete, drain_r);
    if (r != 0)
        return TOOL_EXIT_FAIL;
    return complete ? TOOL_EXIT_OK : TOOL_EXIT_TIMEOUT;
}

/* Scripted: finished once the steps are over (hold_until), everything
 * is sent, the view has been still for H_STABLE_NS and every other
 * member of it (that incarnation) sent its end marker, which comes after
 * all its messages (FIFO). */
static int scripted_done(struct member *m, uint64_t now_ns)
{
    cohort_member_t view[H_MAX_MEMBERS];
    uint64_t vid = 0;
    size_t n;
    if (now_ns < m->o->hold_until_ns || m->view_ns == 0 ||
        now_ns - m->view_ns < H_STABLE_NS)
        return 0;
    n = cohort_view(m->c, &vid, view, H_MAX_MEMBERS);
    if (n == 0 || n > H_MAX_MEMBERS || vid != m->view_id)
        return 0;
    /* Its own end marker too: its own messages come back (self-delivery)
     * and, in TOTAL or SAFE, only at their place in the order, which may
     * be after the others' end markers. */
    for (size_t k = 0; k < n; k++) {
        uint32_t i = view[k].id - 1;
        if (i >= m->o->members || !m->end_seen[i] ||
            m->end_inc[i] != view[k].incarnation)
            return 0;
    }
    return 1;
}

/* Whether the current view only lost members since "F" (the others
 * stopping at the end: their LEAVE can come before our own stop). */
static int only_shrunk(const struct member *m)
{
    cohort_member_t view[H_MAX_MEMBERS];
    size_t n = cohort_view(m->c, NULL, view, H_MAX_MEMBERS);
    if (n > H_MAX_MEMBERS)
        return 0;
    for (size_t k = 0; k < n; k++) {
        int found = 0;
        for (size_t j = 0; j < m->nfinal && !found; j++)
            found = view[k].id == m->final[j].id &&
                    view[k].incarnation == m->final[j].incarnation;
        if (!found)
            return 0;
    }
    return 1;
}

/* "F view": the view this member finished in (the checker's final view);
 * the done file tells the parent. A later view with a newcomer takes it
 * back (steps are over by then, so one that only shrank is the end). */
static void scripted_finish(struct member *m, uint64_t now_ns)
{
    int d = m->done && only_shrunk(m) ? 1 : scripted_done(m, now_ns);
    if (d && !m->done) {
        size_t n = cohort_view(m->c, NULL, m->final, H_MAX_MEMBERS);
        m->nfinal = n > H_MAX_MEMBERS ? 0 : n;
        FILE *f;
        fprintf(m->log, "F %016llx\n", (unsigned long long)m->view_id);
        fflush(m->log);
        f = fopen(m->done_path, "w");
        if (f != NULL)
            fclose(f);
        m->done = 1;
    } else if (!d && m->done) {
        fprintf(m->log, "# finished view %016llx changed\n",
                (unsigned long long)m->view_id);
        (void)unlink(m->done_path);
        m->done = 0;
    }
}

/* A member of a scripted run: send everything (or until asked to leave),
 * then stay until the parent, seeing every member done, asks all to stop
 * (SIGTERM, as for a leave step). The end marker goes out again in each
 * new view: one sent across a partition may never arrive. */
static int member_run_scripted(struct member *m, uint64_t deadline_ns)
{
    uint64_t end_view = UINT64_MAX;
    int r, drain_r = 0, sent_all;
    if (wait_for_others(m, deadline_ns) != 0)
        fprintf(m->log, "# sending anyway\n");
    r = send_all(m, deadline_ns);
    if (unsupported(m, r))
        return TOOL_EXIT_NOTSUP;
    sent_all = r == 0;
    if (r != 0 && !tool_stop_requested()) {
        fprintf(m->log, "# send failed after %llu: %s\n",
                (unsigned long long)m->sent, cohort_strerror(r));
        tool_err("member %u: send: %s", m->self, cohort_strerror(r));
    }
    while (sent_all && !tool_stop_requested()) {
        uint64_t now = tool_now_ns();
        if (now >= deadline_ns)
            break;
        if (end_view != m->view_id) {
            end_view = m->view_id;
            send_end(m, deadline_ns);
        }
        if (pump(m, 50) != 0)
            break;
        if (!tool_stop_requested())
            scripted_finish(m, tool_now_ns());
    }
    if (tool_stop_requested()) {
        fprintf(m->log, "Q %s\n", m->done ? "end" : "leave");
        if (!m->done)
            drain_r = cohort_drain(m->c, 2000);
        drain_events(m);
    }
    log_summary(m, m->done, drain_r);
    (void)unlink(m->done_path);
    if (tool_stop_requested())
        return TOOL_EXIT_OK;
    return sent_all ? TOOL_EXIT_TIMEOUT : TOOL_EXIT_FAIL;
}

static int member_main(const struct h_opts *o)
{
    static struct member m;
    char err_path[4096];
    uint64_t deadline = tool_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    int rc;
    /* The parent shows a failing member's stderr from here. */
    snprintf(err_path, sizeof err_path, "%s.err", o->log);
    if (freopen(err_path, "w", stderr) == NULL)
        return TOOL_EXIT_FAIL;
    if (member_setup(&m, o) != 0) {
        member_free(&m);
        return TOOL_EXIT_FAIL;
    }
    rc = o->scripted ? member_run_scripted(&m, deadline)
                     : member_run(&m, deadline);
    cohort_close(m.c);
    member_free(&m);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Checking the logs                                                   */
/* ------------------------------------------------------------------ */

struct verdict {
    uint64_t violations;
    uint64_t lost, dup, order, corrupt, unexpected, process, views;
    uint64_t liveness, vs, total;
    size_t lives, killed, left;                 /* processes, by fate */
    char vs_counts[256];                        /* per property */
    uint64_t expected_total, delivered_total;   /* for loss reporting */
    uint64_t retrans, nacks, injected;
    int notsup;
    char shown[H_MAX_VIOLATIONS_SHOWN][200];
    size_t nshown;
};

static void violation(struct verdict *v, uint64_t *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void violation(struct verdict *v, uint64_t *kind, const char *fmt, ...)
{
    va_list ap;
    v->violations++;
    (*kind)++;
    if (v->nshown == H_MAX_VIOLATIONS_SHOWN)
        return;
    va_start(ap, fmt);
    vsnprintf(v->shown[v->nshown++], sizeof v->shown[0], fmt, ap);
    va_end(ap);
}

struct rx_check {
    uint8_t *seen[H_MAX_MEMBERS][HS_MAX_LIVES];
    uint64_t next[H_MAX_MEMBERS][HS_MAX_LIVES];
    uint64_t distinct[H_MAX_MEMBERS][HS_MAX_LIVES];
    size_t bitmap;
};

static uint8_t *rx_bits(struct rx_check *rc, uint32_t s, uint32_t life)
{
    if (rc->seen[s][life] == NULL)
        rc->seen[s][life] = calloc(1, rc->bitmap);
    return rc->seen[s][life];
}

static int rx_has(const struct rx_check *rc, uint32_t s, uint32_t life,
                  uint64_t i)
{
    const uint8_t *bits = rc->seen[s][life];
    return bits != NULL && (bits[i >> 3] & (1u << (i & 7)));
}

/* One "D sender index length ok [life view id.inc]" line of receiver rl.
 * Own messages (self-delivery) are checked like the others' when they
 * come; whether they must come is for the loss checks. */
static void check_delivery(const struct h_opts *o, struct verdict *v,
                           struct rx_check *rc, struct hl_run *run,
                           const struct hl_life *rl, const char *line)
{
    char who[48];
    unsigned s = 0, life = 0;
    unsigned long long idx = 0;
    size_t len = 0;
    int ok = 0;
    uint8_t bit, *bits;
    int n = sscanf(line, "D %u %llu %zu %d %u", &s, &idx, &len, &ok, &life);
    struct hl_life *sl;
    hl_name(rl, who, sizeof who);
    if (n < 4 || s >= o->members || idx >= o->messages ||
        life >= HS_MAX_LIVES) {
        violation(v, &v->unexpected, "%s: unexpected delivery '%s'", who,
                  line);
        return;
    }
    if (!ok) {
        violation(v, &v->corrupt, "%s: corrupt message %u/%llu "
                  "(%zu bytes)", who, s, idx, len);
        return;
    }
    bits = rx_bits(rc, s, life);
    if (bits == NULL) {
        violation(v, &v->process, "%s: out of memory checking", who);
        return;
    }
    bit = (uint8_t)(1u << (idx & 7));
    if (bits[idx >> 3] & bit) {
        violation(v, &v->dup, "%s: duplicate %u/%llu (life %u)", who, s, idx,
                  life);
        return;
    }
    bits[idx >> 3] |= bit;
    rc->distinct[s][life]++;
    sl = hl_find(run, s, life);
    if (sl != NULL && idx + 1 > sl->seen_max)
        sl->seen_max = idx + 1;
    /* Without faults nothing is skipped; with them a view change may
     * skip a stretch (judged by the final-view and VS checks), but a
     * sender's messages never go back. */
    if (reliable_mode(o->net.mode) &&
        (run->scripted ? idx < rc->next[s][life] : idx != rc->next[s][life]))
        violation(v, &v->order, "%s: from %u (life %u) got %llu, expected "
                  "%llu%s", who, s, life, idx,
                  (unsigned long long)rc->next[s][life],
                  run->scripted ? " or later" : "");
    if (idx + 1 > rc->next[s][life])
        rc->next[s][life] = idx + 1;
}

/* Indexes each sender could not send (unreliable, too big): not expected
 * anywhere. Read from the senders' own logs first. */
struct toobig {
    uint64_t count[H_MAX_MEMBERS];
};

static void first_missing(const struct rx_check *rc, uint32_t s,
                          uint32_t life, uint64_t from, uint64_t to,
                          unsigned long long *out)
{
    for (uint64_t i = from; i < to; i++) {
        if (!rx_has(rc, s, life, i)) {
            *out = (unsigned long long)i;
            return;
        }
    }
}

/* A run without steps: every member delivers every message of the
 * others (of its own too with --self-delivery). */
static void check_losses(const struct h_opts *o, struct verdict *v,
                         const struct rx_check *rc, const struct toobig *tb,
                         uint32_t r)
{
    for (uint32_t s = 0; s < o->members; s++) {
        uint64_t expect = o->messages - tb->count[s];
        unsigned long long first = 0;
        if (s == r && !o->self_delivery)
            continue;
        v->expected_total += expect;
        v->delivered_total += rc->distinct[s][0];
        if (!reliable_mode(o->net.mode) || rc->distinct[s][0] >= expect)
            continue;
        first_missing(rc, s, 0, 0, o->messages, &first);
        violation(v, &v->lost, "member %u: lost %llu of %llu from member %u "
                  "(first missing: %llu)", r,
                  (unsigned long long)(expect - rc->distinct[s][0]),
                  (unsigned long long)expect, s, first);
    }
}

/* A scripted run: a process that finished delivered every message sent
 * in its final view by each member of that view (itself too with
 * --self-delivery); earlier views are virtual synchrony's (--check-vs). */
static void check_final_losses(const struct h_opts *o, struct verdict *v,
                               const struct rx_check *rc,
                               const struct hl_run *run,
                               const struct hl_life *rl)
{
    char who[48], from[48], tok[32];
    if (rl->fate != FATE_ENDED || !rl->have_final)
        return;
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *x = &run->life[k];
        if (!x->have_me || (x == rl && !o->self_delivery))
            continue;
        snprintf(tok, sizeof tok, " %08x.%u", (unsigned)x->me.id,
                 (unsigned)x->me.incarnation);
        if (!hl_has_token(rl->final_members, tok))
            continue;
        for (size_t g = 0; g < x->nranges; g++) {
            uint64_t a = x->range[g].from, b = hl_range_end(x, g), miss = 0;
            unsigned long long first = 0;
            if (x->range[g].view != rl->final_view)
                continue;
            for (uint64_t i = a; i < b && i < o->messages; i++)
                miss += !rx_has(rc, x->index, x->life, i);
            v->expected_total += b - a;
            v->delivered_total += b - a - miss;
            if (miss == 0)
                continue;
            first_missing(rc, x->index, x->life, a, b, &first);
            violation(v, &v->lost, "%s: lost %llu of %llu messages %s sent "
                      "in the final view %016llx (first missing: %llu)",
                      hl_name(rl, who, sizeof who),
                      (unsigned long long)miss, (unsigned long long)(b - a),
                      hl_name(x, from, sizeof from),
                      (unsigned long long)rl->final_view, first);
        }
    }
}

static void add_stats(struct verdict *v, const char *line)
{
    uint64_t x = 0;
    if (tool_field_u64(line, "retrans", &x) == 0)
        v->retrans += x;
    if (tool_field_u64(line, "nacks_sent", &x) == 0)
        v->nacks += x;
    if (tool_field_u64(line, "injected", &x) == 0)
        v->injected += x;
}

static void read_toobig(const struct h_opts *o, const char *dir,
                        struct toobig *tb)
{
    char path[4200], line[512];
    memset(tb, 0, sizeof *tb);
    for (uint32_t i = 0; i < o->members; i++) {
        FILE *f;
        hl_log_path(path, sizeof path, dir, i, 0);
        f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            if (line[0] == 'T')
                tb->count[i]++;
        }
        if (f != NULL)
            fclose(f);
    }
}

static void check_member_log(const struct h_opts *o, struct verdict *v,
                             struct hl_run *run, struct hl_life *rl,
                             const struct toobig *tb)
{
    static struct rx_check rc;
    char line[HL_VIEW_TEXT + 64], who[48];
    FILE *f;
    memset(&rc, 0, sizeof rc);
    rc.bitmap = (size_t)(o->messages + 7) / 8;
    f = fopen(rl->path, "r");
    if (f == NULL)
        violation(v, &v->process, "%s: no log (%s)",
                  hl_name(rl, who, sizeof who), rl->path);
    while (hl_next_line(f, line, sizeof line)) {
        if (line[0] == 'D')
            check_delivery(o, v, &rc, run, rl, line);
        else if (line[0] == 'X')
            violation(v, &v->corrupt, "%s: undecodable message (%s)",
                      hl_name(rl, who, sizeof who), line + 2);
        else if (strncmp(line, "# stats", 7) == 0)
            add_stats(v, line);
        else if (strstr(line, "not supported by this library") != NULL)
            v->notsup = 1;
    }
    if (f != NULL)
        fclose(f);
    if (!run->scripted)
        check_losses(o, v, &rc, tb, rl->index);
    else
        check_final_losses(o, v, &rc, run, rl);
    for (uint32_t s = 0; s < o->members; s++)
        for (uint32_t life = 0; life < HS_MAX_LIVES; life++)
            free(rc.seen[s][life]);
}

/* ------------------------------------------------------------------ */
/* Parent                                                              */
/* ------------------------------------------------------------------ */

/* The member processes of a run: one per member, one more per restart,
 * in the order started. */
struct h_procs {
    struct tool_child ch[H_MAX_LIVES_ALL];
    uint32_t index[H_MAX_LIVES_ALL], life[H_MAX_LIVES_ALL];
    int killed[H_MAX_LIVES_ALL];        /* by a kill step */
    char log[H_MAX_LIVES_ALL][4200];
    size_t n;
    uint32_t lives[H_MAX_MEMBERS];      /* processes started per member */
    size_t current[H_MAX_MEMBERS];      /* its running process, or SIZE_MAX */
    uint8_t group[H_MAX_MEMBERS];       /* partition groups, all 0: whole */
    struct hn_net net;
    uint64_t start_ns, hold_until_ns;
};

/* COHORT_FAULTS for member i: the spec, with a seed of its own unless the
 * spec fixes one (so members drop different datagrams, reproducibly). */
static void member_faults(const struct h_opts *o, uint32_t i, uint32_t life,
                          char *buf, size_t len)
{
    buf[0] = '\0';
    if (o->faults == NULL || o->faults[0] == '\0')
        return;
    if (strstr(o->faults, "seed=") != NULL)
        snprintf(buf, len, "COHORT_FAULTS=%s", o->faults);
    else
        snprintf(buf, len, "COHORT_FAULTS=%s,seed=%llu", o->faults,
                 (unsigned long long)(o->seed * 1000u + life * 20u + i + 1));
}

/* Running members in member i's part of the network, i excluded. */
static uint64_t reachable_others(const struct h_procs *p,
                                 const struct h_opts *o, uint32_t i)
{
    uint64_t n = 0;
    for (uint32_t j = 0; j < o->members; j++)
        n += j != i && p->current[j] != SIZE_MAX &&
             p->group[j] == p->group[i];
    return n;
}

/* Start member i's next process (in its namespace when there is one). */
static int spawn_member(const struct h_opts *o, struct h_procs *p,
                        const char *dir, uint32_t i)
{
    struct tool_net net = o->net;
    struct tool_argv a;
    char env[512];
    size_t k = p->n;
    uint32_t life = p->lives[i];
    double left_s = o->timeout_s - (double)(tool_now_ns() - p->start_ns) / 1e9;
    if (k == H_MAX_LIVES_ALL || life >= HS_MAX_LIVES)
        return -1;
    hl_log_path(p->log[k], sizeof p->log[k], dir, i, life);
    tool_argv_init(&a);
    tool_argv_add(&a, "member");
    tool_argv_addf(&a, "--index=%u", i);
    tool_argv_add(&a, "--log");
    tool_argv_add(&a, p->log[k]);
    tool_argv_addf(&a, "--members=%llu", (unsigned long long)o->members);
    tool_argv_addf(&a, "--messages=%llu", (unsigned long long)o->messages);
    tool_argv_addf(&a, "--timeout=%g", left_s > 5.0 ? left_s : 5.0);
    tool_argv_addf(&a, "--seed=%llu", (unsigned long long)o->seed);
    if (o->rate > 0)
        tool_argv_addf(&a, "--rate=%llu", (unsigned long long)o->rate);
    if (o->member_timeout_ms > 0)
        tool_argv_addf(&a, "--member-timeout-ms=%llu",
                       (unsigned long long)o->member_timeout_ms);
    if (o->stats_dir != NULL) {
        tool_argv_add(&a, "--stats-dir");
        tool_argv_add(&a, o->stats_dir);
    }
    if (o->script.n > 0) {
        tool_argv_add(&a, "--scripted");
        tool_argv_addf(&a, "--life=%u", life);
        tool_argv_addf(&a, "--expect=%llu",
                       (unsigned long long)reachable_others(p, o, i));
        tool_argv_addf(&a, "--hold-until=%llu",
                       (unsigned long long)p->hold_until_ns);
    }
    for (size_t s = 0; s < o->nsizes; s++)
        tool_argv_addf(&a, "--sizes=%llu", (unsigned long long)o->sizes[s]);
    if (p->net.on)
        net.interface = HN_MEMBER_IFACE;
    tool_argv_add_net(&a, &net);
    member_faults(o, i, life, env, sizeof env);
    if (p->net.on && hn_enter(&p->net, i) != 0) {
        tool_err("cannot enter member %u's namespace: %s", i, strerror(errno));
        return -1;
    }
    int r = tool_spawn(&p->ch[k], &a, env[0] ? env : NULL, 0);
    if (p->net.on && hn_return(&p->net) != 0) {
        tool_err("cannot return to the bridge namespace: %s", strerror(errno));
        r = -1;
    }
    if (r != 0)
        return -1;
    p->index[k] = i;
    p->life[k] = life;
    p->lives[i]++;
    p->current[i] = k;
    p->n++;
    return 0;
}

static void show_err_file(const char *log, uint32_t i)
{
    char path[4300], line[256];
    FILE *f;
    snprintf(path, sizeof path, "%s.err", log);
    f = fopen(path, "r");
    for (int n = 0; f != NULL && n < 10 && fgets(line, sizeof line, f); n++)
        fprintf(stderr, "  member %u: %s", i, line);
    if (f != NULL)
        fclose(f);
}

static void check_exits(const struct h_procs *p, struct verdict *v)
{
    char why[32];
    for (size_t k = 0; k < p->n; k++) {
        const struct tool_child *c = &p->ch[k];
        int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
        if (p->killed[k] || (c->reaped && code == TOOL_EXIT_OK))
            continue;
        if (c->reaped && code == TOOL_EXIT_NOTSUP) {
            v->notsup = 1;
            continue;
        }
        violation(v, &v->process, "member %u%s%.0u: %s%s", p->index[k],
                  p->life[k] ? " life " : "", p->life[k],
                  tool_child_ending(c, why, sizeof why),
                  code == TOOL_EXIT_TIMEOUT
                      ? " (timed out before receiving everything)" : "");
        show_err_file(p->log[k], p->index[k]);
    }
}

static void print_verdict(const struct h_opts *o, const struct verdict *v,
                          double secs)
{
    const char *mode = tool_mode_name(o->net.mode);
    printf("%.1f s; retransmissions %llu, NACKs sent %llu, injected drops "
           "%llu; seed %llu\n", secs, (unsigned long long)v->retrans,
           (unsigned long long)v->nacks, (unsigned long long)v->injected,
           (unsigned long long)o->seed);
    if (!reliable_mode(o->net.mode) && v->expected_total > 0)
        printf("loss: %llu of %llu deliveries (%.3f%%)\n",
               (unsigned long long)(v->expected_total - v->delivered_total),
               (unsigned long long)v->expected_total,
               100.0 * (double)(v->expected_total - v->delivered_total) /
                   (double)v->expected_total);
    for (size_t i = 0; i < v->nshown; i++)
        printf("  %s\n", v->shown[i]);
    if (v->violations > v->nshown)
        printf("  ... and %llu more\n",
               (unsigned long long)(v->violations - v->nshown));
    if (v->vs_counts[0] != '\0')
        printf("  virtual synchrony (vs_check): %s\n", v->vs_counts);
    if (v->violations > 0)
        printf("  (lost %llu, duplicated %llu, out of order %llu, corrupt "
               "%llu, unexpected %llu, process %llu, liveness %llu, vs "
               "%llu, views %llu, order %llu)\n",
               (unsigned long long)v->lost, (unsigned long long)v->dup,
               (unsigned long long)v->order, (unsigned long long)v->corrupt,
               (unsigned long long)v->unexpected,
               (unsigned long long)v->process,
               (unsigned long long)v->liveness, (unsigned long long)v->vs,
               (unsigned long long)v->views, (unsigned long long)v->total);
    char line[512];
    size_t n = 0;
    n += (size_t)snprintf(line + n, sizeof line - n,
                          "%s: %llu members x %llu messages, %s",
                          v->violations ? "FAIL" : "PASS",
                          (unsigned long long)o->members,
                          (unsigned long long)o->messages, mode);
    if (v->lives > o->members || v->killed > 0 || v->left > 0 ||
        o->script.n > 0)
        n += (size_t)snprintf(line + n, sizeof line - n,
                              "%s%.0zu%s, %zu processes (%zu killed, "
                              "%zu left)", o->script.n > 0 ? ", " : "",
                              o->script.n, o->script.n == 0 ? ""
                              : o->script.n == 1 ? " step" : " steps",
                              v->lives, v->killed, v->left);
    if (o->check_vs && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", vs checked");
    if (ordered_mode(o->net.mode) && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", order checked");
    if (n < sizeof line)
        snprintf(line + n, sizeof line - n, ", %llu violation%s",
                 (unsigned long long)v->violations,
                 v->violations == 1 ? "" : "s");
    verdict_line("%s", line);
}

/* The log directory: --keep-logs DIR (made if missing; its parent must
 * exist) or a fresh temporary one. A directory that cannot be had is an
 * error of its own (H_EXIT_LOGDIR), told apart from a failed run. */
static int make_log_dir(const struct h_opts *o, char *dir, size_t len)
{
    struct stat st;
    if (o->keep_logs != NULL) {
        snprintf(dir, len, "%s", o->keep_logs);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            tool_err("--keep-logs %s: cannot make the log directory: %s%s",
                     dir, strerror(errno), errno == ENOENT
                     ? " (its parent directory must exist)" : "");
            return -1;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            tool_err("--keep-logs %s: not a directory", dir);
            return -1;
        }
        return 0;
    }
    snprintf(dir, len, "/tmp/cohort-harness.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        tool_err("cannot make a log directory in /tmp: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void remove_logs(const struct h_procs *p, const char *dir)
{
    char path[4300];
    for (size_t k = 0; k < p->n; k++) {
        (void)unlink(p->log[k]);
        snprintf(path, sizeof path, "%s.err", p->log[k]);
        (void)unlink(path);
        snprintf(path, sizeof path, "%s.done", p->log[k]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

/* Views from the members' logs: each contains its member, ids grow along
 * each process's log, one id (with its proposer's incarnation) has one
 * member list in every log; without steps every member once had a view
 * of all, with steps the processes that finished share one final view of
 * exactly themselves (liveness). */
#define H_MAX_VIEWS 1024

struct seen_view {
    unsigned long long id;
    char members[HL_VIEW_TEXT];   /* " id.inc id.inc ..." as logged */
};

/* The incarnation of the proposer (the low half of the id) in a list. */
static unsigned long proposer_inc(unsigned long long id, const char *list)
{
    char want[16];
    snprintf(want, sizeof want, " %08x.", (unsigned)(id & 0xffffffffu));
    const char *p = strstr(list, want);
    return p ? strtoul(p + strlen(want), NULL, 10) : 0;
}

static void check_member_views(const struct h_opts *o, struct verdict *v,
                               const struct hl_run *run,
                               const struct hl_life *l,
                               struct seen_view *seen, size_t *nseen)
{
    static char line[HL_VIEW_TEXT + 64];
    char self[32] = "", who[48];
    unsigned long long last = 0;
    int all = 0;
    FILE *f = fopen(l->path, "r");
    hl_name(l, who, sizeof who);
    while (hl_next_line(f, line, sizeof line)) {
        if (line[0] == 'S' && line[1] == ' ')
            snprintf(self, sizeof self, " %.24s", line + 2);
        if (line[0] != 'V' || line[1] != ' ')
            continue;
        unsigned long long id;
        unsigned long count;
        const char *end = hl_view_members(line, &id, &count);
        if (end == NULL)
            continue;
        if (self[0] && !hl_has_token(end, self))
            violation(v, &v->views, "%s: view %016llx without itself",
                      who, id);
        if (id <= last)
            violation(v, &v->views, "%s: view %016llx after %016llx",
                      who, id, last);
        last = id;
        if (count == o->members)
            all = 1;
        size_t k = 0;
        unsigned long pinc = proposer_inc(id, end);
        while (k < *nseen && !(seen[k].id == id &&
                               proposer_inc(id, seen[k].members) == pinc))
            k++;
        if (k < *nseen && strcmp(seen[k].members, end) != 0)
            violation(v, &v->views, "%s: view %016llx is%.40s, "
                      "another member's is%.40s", who, id, end,
                      seen[k].members);
        else if (k == *nseen && *nseen < H_MAX_VIEWS) {
            seen[k].id = id;
            snprintf(seen[k].members, sizeof seen[k].members, "%s", end);
            (*nseen)++;
        }
    }
    if (f != NULL)
        fclose(f);
    if (f != NULL && !all && !run->scripted)
        violation(v, &v->views, "%s: never in a view of all %llu "
                  "members", who, (unsigned long long)o->members);
}

static size_t count_tokens(const char *list)
{
    size_t n = 0;
    for (const char *p = list; *p != '\0'; p++)
        n += *p == ' ' && p[1] != ' ' && p[1] != '\0';
    return n;
}

/* Scripted: the processes still running at the end (each the last life
 * of its member) finished, in one view whose members are exactly them. */
static void check_liveness(struct verdict *v, const struct hl_run *run)
{
    const struct hl_life *ref = NULL;
    char who[48], tok[32], other[48];
    size_t ended = 0;
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *l = &run->life[k];
        hl_name(l, who, sizeof who);
        if (l->fate == FATE_UNFINISHED)
            violation(v, &v->liveness, "%s: never finished (no settled view "
                      "with every member's end marker before its deadline)",
                      who);
        if (l->fate != FATE_ENDED)
            continue;
        ended++;
        if (!l->have_final) {
            violation(v, &v->liveness, "%s: ended without a final view", who);
            continue;
        }
        if (ref == NULL) {
            ref = l;
        } else if (l->final_view != ref->final_view ||
                   strcmp(l->final_members, ref->final_members) != 0) {
            violation(v, &v->liveness, "%s finished in view %016llx,%.60s; "
                      "%s in view %016llx", who,
                      (unsigned long long)l->final_view, l->final_members,
                      hl_name(ref, other, sizeof other),
                      (unsigned long long)ref->final_view);
        }
    }
    if (ended == 0) {
        violation(v, &v->liveness, "no member finished the run");
        return;
    }
    if (ref == NULL)
        return;
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *l = &run->life[k];
        if (l->fate != FATE_ENDED || !l->have_me)
            continue;
        snprintf(tok, sizeof tok, " %08x.%u", (unsigned)l->me.id,
                 (unsigned)l->me.incarnation);
        if (!hl_has_token(ref->final_members, tok))
            violation(v, &v->liveness, "%s (%s) finished but is not in the "
                      "final view %016llx", hl_name(l, who, sizeof who),
                      tok + 1, (unsigned long long)ref->final_view);
    }
    if (count_tokens(ref->final_members) != ended)
        violation(v, &v->liveness, "final view %016llx has %zu members,"
                  "%.60s; %zu finished", (unsigned long long)ref->final_view,
                  count_tokens(ref->final_members), ref->final_members,
                  ended);
}
/* The first few texts of each property (one kind can run to thousands),
 * then the rest counted. */
#define H_VS_TEXTS 4096
#define H_VS_SHOWN_PER_PROP 3

static void vs_results(struct verdict *v, const vs_check_t *c)
{
    size_t n = vs_check_violations(c);
    size_t at = 0, shown[VS_PROP_COUNT_] = { 0 };
    for (size_t i = 0; i < n; i++) {
        const char *t = vs_check_violation(c, i);
        int p = 0;
        while (t != NULL && p < VS_PROP_COUNT_ &&
               strncmp(t, vs_check_prop_name((vs_prop_t)p),
                       strlen(vs_check_prop_name((vs_prop_t)p))) != 0)
            p++;
        if (t != NULL && p < VS_PROP_COUNT_ &&
            shown[p]++ < H_VS_SHOWN_PER_PROP)
            violation(v, &v->vs, "vs %s", t);
        else {
            v->violations++;
            v->vs++;
        }
    }
    for (int p = 0; p < VS_PROP_COUNT_ && at < sizeof v->vs_counts; p++) {
        size_t k = vs_check_count(c, (vs_prop_t)p);
        int w;
        if (k == 0)
            continue;
        w = snprintf(v->vs_counts + at, sizeof v->vs_counts - at, "%s%s %zu",
                     at ? ", " : "", vs_check_prop_name((vs_prop_t)p), k);
        at = w < 0 ? sizeof v->vs_counts : at + (size_t)w;
    }
}

static void check_vs(struct verdict *v, const struct hl_run *run)
{
    vs_check_t *c;
    for (size_t k = 0; k < run->n; k++)
        if (run->life[k].ranges_lost > 0)
            violation(v, &v->vs, "vs: member %u life %u changed sending "
                      "view more than %d times; later sends not checked",
                      run->life[k].index, run->life[k].life, HL_MAX_RANGES);
    c = hv_replay(run, H_VS_TEXTS);
    if (c == NULL) {
        violation(v, &v->process, "--check-vs: no memory for the checker");
        return;
    }
    vs_results(v, c);
    vs_check_free(c);
}

/* TOTAL and SAFE: the logs' O lines into total_check. */
static void check_total(struct verdict *v, const struct hl_run *run)
{
    total_check_t *c = ht_replay(run, H_VS_TEXTS);
    size_t shown[TOTAL_PROP_COUNT_] = { 0 };
    if (c == NULL) {
        violation(v, &v->process, "order: no memory for the checker");
        return;
    }
    for (size_t i = 0; i < total_check_violations(c); i++) {
        const char *t = total_check_violation(c, i);
        int p = 0;
        while (t != NULL && p < TOTAL_PROP_COUNT_ &&
               strncmp(t, total_check_prop_name((total_prop_t)p),
                       strlen(total_check_prop_name((total_prop_t)p))) != 0)
            p++;
        if (t != NULL && p < TOTAL_PROP_COUNT_ &&
            shown[p]++ < H_VS_SHOWN_PER_PROP)
            violation(v, &v->total, "order %s", t);
        else {
            v->violations++;
            v->total++;
        }
    }
    total_check_free(c);
}

static void check_logs(const struct h_opts *o, struct verdict *v,
                       const char *dir)
{
    static struct toobig tb;
    static struct seen_view seen[H_MAX_VIEWS];
    static struct hl_run run;
    size_t nseen = 0;
    read_toobig(o, dir, &tb);
    hl_scan_run((uint32_t)o->members, dir, &run);
    v->lives = run.n;
    for (size_t k = 0; k < run.n; k++) {
        v->killed += run.life[k].fate == FATE_KILLED;
        v->left += run.life[k].fate == FATE_LEFT;
    }
    for (size_t k = 0; k < run.n; k++)
        check_member_log(o, v, &run, &run.life[k], &tb);
    for (size_t k = 0; k < run.n; k++)
        check_member_views(o, v, &run, &run.life[k], seen, &nseen);
    if (run.scripted)
        check_liveness(v, &run);
    if (o->check_vs)
        check_vs(v, &run);
    if (ordered_mode(o->net.mode))
        check_total(v, &run);
}

/* "check": judge the logs of an earlier run kept with --keep-logs again
 * (with the same --members, --messages and --mode). */
static int check_main(const struct h_opts *o)
{
    static struct verdict v;
    struct stat st;
    if (o->keep_logs == NULL) {
        tool_err("check: needs --keep-logs DIR");
        return TOOL_EXIT_USAGE;
    }
    /* Judging a directory that is not there would count every member's
     * log as missing: say what is wrong instead, with an exit status of
     * its own. */
    if (stat(o->keep_logs, &st) != 0) {
        tool_err("check: --keep-logs %s: %s", o->keep_logs, strerror(errno));
        verdict_line("FAIL: no log directory %s: %s", o->keep_logs,
                     strerror(errno));
        return H_EXIT_LOGDIR;
    }
    if (!S_ISDIR(st.st_mode)) {
        tool_err("check: --keep-logs %s: not a directory", o->keep_logs);
        verdict_line("FAIL: %s is not a log directory", o->keep_logs);
        return H_EXIT_LOGDIR;
    }
    check_logs(o, &v, o->keep_logs);
    print_verdict(o, &v, 0.0);
    return v.violations ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* Bytes the members' delivery logs hold so far: one line per delivery,
 * so it grows with the deliveries (stat only, the logs are not read). */
static uint64_t log_bytes(const struct h_procs *p)
{
    struct stat st;
    uint64_t sum = 0;
    for (size_t k = 0; k < p->n; k++)
        if (stat(p->log[k], &st) == 0)
            sum += (uint64_t)st.st_size;
    return sum;
}

/* A long run is silent otherwise: on a terminal, say how far it is (time
 * against the timeout, steps done, members still running, how much the
 * logs hold and how fast they grow), overwritten in place. */
static void show_progress(const struct h_opts *o, const struct h_procs *p,
                          size_t steps_done)
{
    static uint64_t last_bytes, last_ns;
    char size[16], rate[16], steps[32] = "";
    uint64_t now = tool_now_ns(), bytes;
    size_t running = 0;
    if (!g_progress.on || now < g_progress.next_ns)
        return;
    for (size_t k = 0; k < p->n; k++)
        running += !p->ch[k].reaped;
    bytes = log_bytes(p);
    tool_progress_si((double)bytes, size, sizeof size);
    tool_progress_si(last_ns != 0 && now > last_ns && bytes >= last_bytes
                         ? (double)(bytes - last_bytes) * 1e9 /
                               (double)(now - last_ns)
                         : 0.0, rate, sizeof rate);
    last_bytes = bytes;
    last_ns = now;
    if (o->script.n > 0)
        snprintf(steps, sizeof steps, ", step %zu/%zu", steps_done,
                 o->script.n);
    tool_progress_show(&g_progress, 0, "%s: %.1f/%.0f s, %zu/%zu running%s,"
                       " logs %sB (%sB/s)", tool_progname(),
                       (double)(now - p->start_ns) / 1e9, o->timeout_s,
                       running, p->n, steps, size, rate);
}

static void await_members(const struct h_opts *o, struct h_procs *p,
                          uint64_t start)
{
    uint64_t deadline = start + (uint64_t)((o->timeout_s + 20.0) * 1e9);
    size_t n = p->n, running = n;
    while (g_progress.on && running > 0 && tool_now_ns() < deadline) {
        show_progress(o, p, o->script.n);
        running = tool_children_wait(p->ch, n, tool_now_ns() +
                                     TOOL_PROGRESS_EVERY_NS);
    }
    tool_progress_clear(&g_progress);
    (void)tool_children_reap(p->ch, n, deadline);
}

/* Wait (reaping whoever exits) until t_ns. */
static void wait_until(const struct h_opts *o, struct h_procs *p,
                       uint64_t t_ns, size_t steps_done)
{
    for (int k = 0; k < 1000000 && !tool_stop_requested(); k++) {
        uint64_t now = tool_now_ns();
        if (now >= t_ns)
            return;
        show_progress(o, p, steps_done);
        if (tool_children_wait(p->ch, p->n, t_ns) == 0) {
            uint64_t ns = t_ns - tool_now_ns();
            struct timespec ts = { 0, (long)(ns < 20000000 ? ns : 20000000) };
            if (ns < t_ns)
                nanosleep(&ts, NULL);
        }
    }
}

static int run_step(const struct h_opts *o, struct h_procs *p,
                    const char *dir, const struct hs_step *st)
{
    for (uint32_t i = 0; i < o->members; i++) {
        size_t k = p->current[i];
        if (!(st->who & (1u << i)))
            continue;
        if (st->kind == HS_KILL && k != SIZE_MAX) {
            kill(p->ch[k].pid, SIGKILL);
            p->killed[k] = 1;
            p->current[i] = SIZE_MAX;
            (void)tool_children_wait(&p->ch[k], 1, tool_now_ns() + 2000000000u);
        } else if (st->kind == HS_LEAVE && k != SIZE_MAX) {
            kill(p->ch[k].pid, SIGTERM);
            p->current[i] = SIZE_MAX;
        } else if ((st->kind == HS_STOP || st->kind == HS_CONT) &&
                   k != SIZE_MAX) {
            kill(p->ch[k].pid, st->kind == HS_STOP ? SIGSTOP : SIGCONT);
        } else if (st->kind == HS_RESTART && p->lives[i] > 0) {
            /* the left process first finishes leaving (bounded) */
            size_t prev = p->n;
            for (size_t j = 0; j < p->n; j++)
                if (p->index[j] == i)
                    prev = j;
            if (prev < p->n)
                (void)tool_children_wait(&p->ch[prev], 1,
                                         tool_now_ns() + 5000000000u);
            if (spawn_member(o, p, dir, i) != 0)
                return -1;
        }
    }
    if (st->kind == HS_PARTITION) {
        memcpy(p->group, st->group, sizeof p->group);
        return hn_cut(&p->net, p->group);
    }
    if (st->kind == HS_HEAL) {
        memset(p->group, 0, sizeof p->group);
        return hn_cut(&p->net, NULL);
    }
    return 0;
}

static int done_file(const struct h_procs *p, size_t k)
{
    char path[4300];
    struct stat st;
    snprintf(path, sizeof path, "%s.done", p->log[k]);
    return stat(path, &st) == 0;
}

/* The steps at their times, then: once every running process says it is
 * done (or the time is up), all are asked to stop together, so none sees
 * the others leave before it finished. */
static int run_script(const struct h_opts *o, struct h_procs *p,
                      const char *dir)
{
    uint64_t deadline = p->start_ns + (uint64_t)((o->timeout_s + 10.0) * 1e9);
    for (size_t s = 0; s < o->script.n && !tool_stop_requested(); s++) {
        const struct hs_step *st = &o->script.step[s];
        wait_until(o, p, p->start_ns + st->at_ns, s);
        tool_progress_clear(&g_progress);
        if (!o->quiet)
            printf("step %s at %.1f s\n", st->text,
                   (double)(tool_now_ns() - p->start_ns) / 1e9);
        fflush(stdout);
        if (run_step(o, p, dir, st) != 0)
            return -1;
    }
    for (int k = 0; k < 1000000 && !tool_stop_requested(); k++) {
        size_t waiting = 0;
        if (tool_now_ns() >= deadline)
            break;
        for (uint32_t i = 0; i < o->members; i++) {
            size_t c = p->current[i];
            waiting += c != SIZE_MAX && !p->ch[c].reaped && !done_file(p, c);
        }
        if (waiting == 0)
            break;
        show_progress(o, p, o->script.n);
        (void)tool_children_wait(p->ch, p->n, tool_now_ns() + 100000000u);
    }
    for (uint32_t i = 0; i < o->members; i++) {
        size_t c = p->current[i];
        if (c != SIZE_MAX && !p->ch[c].reaped)
            kill(p->ch[c].pid, SIGTERM);
    }
    return 0;
}

static int open_network(const struct h_opts *o, struct h_procs *p,
                        const char *dir)
{
    char why[256];
    if (!o->netns)
        return 0;
    if (hn_open(&p->net, (uint32_t)o->members, (unsigned)o->nft_drop, dir,
                why, sizeof why) != 0) {
        verdict_line("SKIP: %s needs a network namespace per member: %s",
                     o->script.partitions ? "a partition step"
                     : o->nft_drop ? "--nft-drop" : "--netns", why);
        return -1;
    }
    if (!o->quiet)
        printf("network: a namespace per member on a bridge (%s, "
               "10.77.0.0/24), kernel loss %llu%%\n", HN_MEMBER_IFACE,
               (unsigned long long)o->nft_drop);
    return 0;
}

static int parent_main(struct h_opts *o)
{
    static struct h_procs p;
    static struct verdict v;
    char dir[4096];
    int r = 0;
    p.start_ns = tool_now_ns();
    tool_progress_init(&g_progress, !o->quiet);
    if (make_log_dir(o, dir, sizeof dir) != 0) {
        verdict_line("FAIL: no log directory (%s)", o->keep_logs != NULL
                     ? o->keep_logs : "/tmp");
        return H_EXIT_LOGDIR;
    }
    for (uint32_t i = 0; i < H_MAX_MEMBERS; i++)
        p.current[i] = SIZE_MAX;
    if (!o->quiet)
        printf("cohort-harness: %llu members x %llu messages, %s, group %s, "
               "faults '%s', logs in %s\n", (unsigned long long)o->members,
               (unsigned long long)o->messages, tool_mode_name(o->net.mode),
               o->net.group, o->faults ? o->faults : "", dir);
    fflush(stdout);
    if (open_network(o, &p, dir) != 0) {
        remove_logs(&p, dir);
        return TOOL_EXIT_NOTSUP;
    }
    if (o->script.n > 0)
        p.hold_until_ns = p.start_ns +
                          o->script.step[o->script.n - 1].at_ns +
                          H_HOLD_AFTER_STEPS_NS;
    /* each first process waits for all the others */
    for (uint32_t i = 0; i < o->members; i++)
        p.current[i] = H_MAX_LIVES_ALL;
    for (uint32_t i = 0; i < o->members && r == 0; i++)
        r = spawn_member(o, &p, dir, i);
    if (r == 0 && o->script.n > 0)
        r = run_script(o, &p, dir);
    if (r != 0)
        violation(&v, &v.process, "the run could not be carried out");
    await_members(o, &p, p.start_ns);
    hn_close(&p.net);
    check_exits(&p, &v);
    if (v.notsup) {
        verdict_line("SKIP: mode %s is not supported by this library yet",
                     tool_mode_name(o->net.mode));
        if (o->keep_logs == NULL)
            remove_logs(&p, dir);
        return TOOL_EXIT_NOTSUP;
    }
    check_logs(o, &v, dir);
    if (v.violations > 0)
        printf("logs kept in %s\n", dir);
    print_verdict(o, &v, (tool_now_ns() - p.start_ns) / 1e9);
    if (v.violations == 0 && o->keep_logs == NULL)
        remove_logs(&p, dir);
    return v.violations ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-harness --members N --messages M\n"
"                      --mode fifo|unreliable|total|safe\n"
"                      [options]\n"
"       cohort-harness check --keep-logs DIR --members N --messages M\n"
"                      --mode MODE   (judge kept logs again)\n"
"  --members N           member processes (2 to %d; default 3)\n"
"  --messages M          messages each member sends (default 1000)\n"
"  --mode MODE           fifo, unreliable, total or safe (default: fifo);\n"
"                        total and safe also check one order at every\n"
"                        member (tests/sim/total_check.c)\n"
"  --sizes mixed|LIST    message sizes: mixed (default: mostly small,\n"
"                        some fragmented) or e.g. 64 or 64,2000\n"
"  --faults SPEC         fault injection for every member, e.g.\n"
"                        drop=0.2 (default: $COHORT_FAULTS)\n"
"  --seed N              makes fault seeds and ids reproducible\n"
"  --timeout S           per member (default 60)\n"
"  --keep-logs DIR       keep the delivery logs in DIR\n"
"  --rate N              messages per second per member (default: as\n"
"                        fast as flow control allows)\n"
"  --step TIME:ACTION    a fault during the run (repeat; in order), TIME\n"
"                        like 2s or 1500ms from the start, ACTION one of\n"
"                          kill=LIST      SIGKILL those members\n"
"                          restart=LIST   start them again (same id)\n"
"                          leave=LIST     they leave (cohort_close)\n"
"                          stop=LIST      SIGSTOP them (alive, silent)\n"
"                          cont=LIST      SIGCONT them (needed at the end)\n"
"                          partition=LIST/LIST[/...]  cut the network\n"
"                                         between the groups\n"
"                          heal           restore it (needed at the end)\n"
"                        LIST: member indexes, e.g. 1 or 0,2\n"
"  --netns               each member in a network namespace of its own on\n"
"                        a bridge (implied by partition and --nft-drop;\n"
"                        needs root or user namespaces, else exit 77)\n"
"  --nft-drop PCT        nftables drops PCT%% of UDP crossing the bridge\n"
"  --member-timeout-ms N silence before a member is dropped (library\n"
"                        default 3000)\n"
"  --stats-dir DIR       each member's counters on a Unix socket\n"
"                        DIR/member-I.LIFE.sock for cohort-stat(1)\n"
"  --self-delivery       members must deliver their own messages\n"
"  --check-vs            check virtual synchrony and sending views with\n"
"                        vs_check (implies --self-delivery)\n"
"  --key FILE, --security auth|encrypt, --group, --interface (default\n"
"  lo), --address, --port, --ipv6, --datagram: as cohort-chat\n"
"  --quiet, --help, --version\n"
"The last line on stdout is the verdict (PASS:, FAIL: or SKIP:); exit\n"
"status 0 pass, 1 fail, 2 bad usage, 4 no log directory, 77 skipped.\n",
            H_MAX_MEMBERS);
}

static const struct option long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "members", required_argument, NULL, OPT_MEMBERS },
    { "messages", required_argument, NULL, OPT_MESSAGES },
    { "sizes", required_argument, NULL, OPT_SIZES },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "keep-logs", required_argument, NULL, OPT_KEEP_LOGS },
    { "seed", required_argument, NULL, OPT_SEED },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "index", required_argument, NULL, OPT_INDEX },
    { "log", required_argument, NULL, OPT_LOG },
    { "step", required_argument, NULL, OPT_STEP },
    { "rate", required_argument, NULL, OPT_RATE },
    { "nft-drop", required_argument, NULL, OPT_NFT_DROP },
    { "netns", no_argument, NULL, OPT_NETNS },
    { "check-vs", no_argument, NULL, OPT_CHECK_VS },
    { "self-delivery", no_argument, NULL, OPT_SELF_DELIVERY },
    { "life", required_argument, NULL, OPT_LIFE },
    { "expect", required_argument, NULL, OPT_EXPECT },
    { "hold-until", required_argument, NULL, OPT_HOLD_UNTIL },
    { "scripted", no_argument, NULL, OPT_SCRIPTED },
    { "member-timeout-ms", required_argument, NULL, OPT_MEMBER_TIMEOUT },
    { "stats-dir", required_argument, NULL, OPT_STATS_DIR },
    { NULL, 0, NULL, 0 },
};

static int parse_sizes(struct h_opts *o, const char *arg)
{
    uint64_t v[H_MAX_SIZES];
    size_t n = 0;
    if (strcmp(arg, "mixed") == 0) {
        o->nsizes = 0;
        return 0;
    }
    if (tool_parse_list("sizes", arg, H_HDR_BYTES, 16u << 20, v,
                        H_MAX_SIZES - o->nsizes, &n) != 0)
        return -1;
    /* Repeated --sizes (as the parent passes them) accumulate. */
    memcpy(o->sizes + o->nsizes, v, n * sizeof v[0]);
    o->nsizes += n;
    return 0;
}

static int h_option(void *ctx, int opt, const char *arg)
{
    struct h_opts *o = ctx;
    switch (opt) {
    case OPT_MEMBERS:
        return tool_parse_u64("members", arg, 2, H_MAX_MEMBERS, &o->members);
    case OPT_MESSAGES:
        return tool_parse_u64("messages", arg, 1, H_MAX_MESSAGES,
                              &o->messages);
    case OPT_SIZES: return parse_sizes(o, arg);
    case OPT_TIMEOUT:
        return tool_parse_seconds("timeout", arg, 86400.0, &o->timeout_s);
    case OPT_KEEP_LOGS: o->keep_logs = arg; return 0;
    case OPT_SEED:
        return tool_parse_u64("seed", arg, 0, UINT32_MAX, &o->seed);
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_INDEX:
        return tool_parse_u64("index", arg, 0, H_MAX_MEMBERS - 1, &o->index);
    case OPT_LOG: o->log = arg; return 0;
    case OPT_STEP:
        if (o->nstep_args == HS_MAX_STEPS) {
            tool_err("--step: at most %d steps", HS_MAX_STEPS);
            return -1;
        }
        o->step_args[o->nstep_args++] = arg;
        return 0;
    case OPT_RATE:
        return tool_parse_u64("rate", arg, 1, 1000000, &o->rate);
    case OPT_NFT_DROP:
        return tool_parse_u64("nft-drop", arg, 0, 100, &o->nft_drop);
    case OPT_NETNS: o->netns = 1; return 0;
    case OPT_CHECK_VS: o->check_vs = 1; return 0;
    case OPT_SELF_DELIVERY: o->self_delivery = 1; return 0;
    case OPT_LIFE:
        return tool_parse_u64("life", arg, 0, HS_MAX_LIVES - 1, &o->life);
    case OPT_EXPECT:
        return tool_parse_u64("expect", arg, 0, H_MAX_MEMBERS - 1,
                              &o->expect);
    case OPT_HOLD_UNTIL:
        return tool_parse_u64("hold-until", arg, 0, UINT64_MAX,
                              &o->hold_until_ns);
    case OPT_SCRIPTED: o->scripted = 1; return 0;
    case OPT_STATS_DIR: o->stats_dir = arg; return 0;
    case OPT_MEMBER_TIMEOUT:
        return tool_parse_u64("member-timeout-ms", arg, 100, 600000,
                              &o->member_timeout_ms);
    default: return -1;
    }
}

static int finish_options(struct h_opts *o)
{
    static char group[32];
    if (o->net.group == NULL) {
        /* A group of its own, so concurrent runs never meet. */
        snprintf(group, sizeof group, "harness-%08x", tool_random_u32());
        o->net.group = group;
    }
    if (o->seed == 0)
        o->seed = tool_random_u32();
    o->faults = o->net.faults != NULL ? o->net.faults : getenv("COHORT_FAULTS");
    /* Members get faults through COHORT_FAULTS, with their own seeds. */
    o->net.faults = NULL;
    if (o->member_role && (o->log == NULL || o->index >= o->members)) {
        tool_err("member: needs --log and --index below --members");
        return -1;
    }
    for (size_t k = 0; k < o->nstep_args; k++)
        if (hs_add(&o->script, o->step_args[k], (uint32_t)o->members) != 0)
            return -1;
    if (!o->member_role && !o->check_role &&
        hs_check(&o->script, (uint32_t)o->members, o->timeout_s) != 0)
        return -1;
    if (o->stats_dir != NULL && !o->member_role) {
        struct stat st;
        if (stat(o->stats_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            tool_err("--stats-dir %s: not a directory", o->stats_dir);
            return -1;
        }
    }
    o->netns |= o->script.partitions || o->nft_drop > 0;
    o->self_delivery |= o->check_vs;
    if (o->netns && !o->member_role && o->net.ipv6) {
        tool_err("--netns, --nft-drop and partition steps are IPv4 only");
        return -1;
    }
    return tool_net_check(&o->net);
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(void *opts, int argc, char **argv)
{
    struct h_opts *o = opts;
    int r;
    tool_net_init(&o->net, NULL);
    o->net.ordered_ok = 1;
    o->members = 3;
    o->messages = 1000;
    o->timeout_s = 60.0;
    if (argc > 1 && (strcmp(argv[1], "member") == 0 ||
                     strcmp(argv[1], "check") == 0)) {
        o->member_role = argv[1][0] == 'm';
        o->check_role = argv[1][0] == 'c';
        argc--;
        argv++;
    }
    r = tool_parse_options(&o->net, argc, argv, long_opts, usage, h_option,
                           o);
    if (r != TOOL_OPT_NEXT)
        return r;
    return finish_options(o) == 0 ? -1 : TOOL_EXIT_USAGE;
}

static int run(void *opts)
{
    struct h_opts *o = opts;
    if (o->member_role)
        return member_main(o);
    if (o->check_role)
        return check_main(o);
    return parent_main(o);
}

/* A run (or check) that ended without its verdict, by a usage error or
 * one the run could not recover from, still ends with a FAIL line; the
 * member role, --help and --version print none. */
static const char *unjudged_reason(int rc)
{
    switch (rc) {
    case TOOL_EXIT_USAGE: return "bad command line (see the message above)";
    case H_EXIT_LOGDIR: return "no log directory";
    default: return "the run ended with an error (see the messages above)";
    }
}

int main(int argc, char **argv)
{
    static struct h_opts o;
    int rc = tool_main(argc, argv, &o, parse_args, run);
    if (rc != TOOL_EXIT_OK && !o.member_role && !g_verdict_printed)
        verdict_line("FAIL: %s", unjudged_reason(rc));
    return rc;
}
