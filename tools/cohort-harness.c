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
#include <unistd.h>

#include "cohort.h"
#include "common.h"

#define H_HDR_BYTES 32u
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

struct h_msg {
    uint32_t sender, type;
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
    if (m->sender >= members)
        return -1;
    m->ok = tool_get_le(b + 16, 4) == len &&
            tool_get_le(b + 24, 8) == fnv1a64(b + H_HDR_BYTES, len - H_HDR_BYTES);
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
    uint8_t *buf;
    size_t unprocessed;
};

static void on_message(struct member *m, const cohort_event_t *ev)
{
    struct h_msg h;
    if (parse_message(ev->u.message.data, ev->u.message.len,
                      m->o->members, &h) != 0) {
        fprintf(m->log, "X %zu\n", ev->u.message.len);
        return;
    }
    m->last_rx_ns = tool_now_ns();
    if (h.type == H_TYPE_END && h.ok) {
        fprintf(m->log, "E %u %llu\n", h.sender, (unsigned long long)h.idx);
        m->end_seen[h.sender] = 1;
        m->end_count[h.sender] = h.idx;
        return;
    }
    fprintf(m->log, "D %u %llu %zu %d\n", h.sender, (unsigned long long)h.idx,
            ev->u.message.len, h.ok);
    if (h.ok && h.idx < m->o->messages) {
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
    case COHORT_EVENT_VIEW:
        /* "V id count id.inc ...": the checker compares them (views) */
        fprintf(m->log, "V %016llx %zu",
                (unsigned long long)ev->u.view.view_id, ev->u.view.count);
        for (size_t i = 0; i < ev->u.view.count; i++)
            fprintf(m->log, " %08x.%u", (unsigned)ev->u.view.members[i].id,
                    (unsigned)ev->u.view.members[i].incarnation);
        fputc('\n', m->log);
        break;
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
    size_t want = (size_t)m->o->members - 1;
    if (until > deadline_ns)
        until = deadline_ns;
    for (;;) {
        uint64_t now = tool_now_ns();
        if (settle_at == 0 && tool_others(m->c) >= want)
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
        int r = cohort_send(m->c, m->o->net.mode, data, len);
        if (r != COHORT_ERR_AGAIN)
            return r;
        if (tool_now_ns() > give_up || tool_now_ns() > deadline_ns ||
            tool_stop_requested())
            return COHORT_ERR_TIMEDOUT;
        if (pump(m, 10) != 0)
            return COHORT_ERR_SYSTEM;
    }
}

static int send_all(struct member *m, uint64_t deadline_ns)
{
    for (uint64_t i = 0; i < m->o->messages; i++) {
        size_t len = msg_size(m->o, m->self, i);
        int r;
        fill_message(m->buf, len, H_TYPE_DATA, m->self, i);
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

/* Unreliable: tell the others how many to expect, a few times over. */
static void send_end(struct member *m, uint64_t deadline_ns)
{
    int repeats = m->o->net.mode == COHORT_FIFO ? 1 : H_END_REPEATS;
    fill_message(m->buf, H_HDR_BYTES, H_TYPE_END, m->self, m->sent);
    for (int i = 0; i < repeats; i++) {
        if (send_one(m, m->buf, H_HDR_BYTES, deadline_ns) != 0)
            return;
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
        if (m->o->net.mode == COHORT_FIFO)
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
            "would_block=%llu drops=%llu injected=%llu\n",
            (unsigned long long)st.datagrams_sent,
            (unsigned long long)st.datagrams_received,
            (unsigned long long)st.retransmissions_sent,
            (unsigned long long)st.nacks_sent,
            (unsigned long long)st.nacks_received,
            (unsigned long long)st.send_would_block,
            (unsigned long long)st.drops_total,
            (unsigned long long)st.drops[COHORT_DROP_INJECTED]);
}

static size_t max_size(const struct h_opts *o)
{
    size_t max = o->nsizes == 0 ? H_MIXED_MAX_BYTES : H_HDR_BYTES;
    for (size_t i = 0; i < o->nsizes; i++)
        max = o->sizes[i] > max ? (size_t)o->sizes[i] : max;
    return max;
}

static int member_setup(struct member *m, const struct h_opts *o)
{
    struct cohort_config cfg;
    char name[32];
    size_t bitmap = (size_t)(o->messages + 7) / 8;
    m->o = o;
    m->self = (uint32_t)o->index;
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
    snprintf(name, sizeof name, "m%u", m->self);
    tool_config(&o->net, &cfg);
    cfg.name = name;
    cfg.member_id = m->self + 1;
    cfg.seed = o->seed != 0 ? o->seed * 1000u + m->self + 1 : 0;
    if (tool_open(&cfg, &m->c) != 0) {
        fprintf(m->log, "# open failed: %s\n", cohort_last_error_text());
        return -1;
    }
    cohort_member_t me = cohort_self(m->c);
    fprintf(m->log, "S %08x.%u\n", (unsigned)me.id, (unsigned)me.incarnation);
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

/* The body of a member; returns its exit status. */
static int member_run(struct member *m, uint64_t deadline_ns)
{
    int r, complete, drain_r;
    int ms_left;
    if (wait_for_others(m, deadline_ns) != 0)
        fprintf(m->log, "# sending anyway\n");
    r = send_all(m, deadline_ns);
    if (r == COHORT_ERR_NOTSUP) {
        fprintf(m->log, "# mode %s not supported by this library\n",
                tool_mode_name(m->o->net.mode));
        return TOOL_EXIT_NOTSUP;
    }
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
    rc = member_run(&m, deadline);
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
    uint64_t expected_total, delivered_total;   /* for loss reporting */
    uint64_t retrans, nacks, injected;
    int notsup;
    char shown[H_MAX_VIOLATIONS_SHOWN][160];
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
    uint8_t *seen[H_MAX_MEMBERS];
    uint64_t next[H_MAX_MEMBERS];
    uint64_t distinct[H_MAX_MEMBERS];
};

static void check_delivery(const struct h_opts *o, struct verdict *v,
                           struct rx_check *rc, uint32_t r, const char *line)
{
    unsigned s = 0;
    unsigned long long idx = 0;
    size_t len = 0;
    int ok = 0;
    uint8_t bit;
    if (sscanf(line, "D %u %llu %zu %d", &s, &idx, &len, &ok) != 4 ||
        s >= o->members || idx >= o->messages) {
        violation(v, &v->unexpected, "member %u: unexpected delivery '%s'", r,
                  line);
        return;
    }
    if (!ok) {
        violation(v, &v->corrupt, "member %u: corrupt message %u/%llu "
                  "(%zu bytes)", r, s, idx, len);
        return;
    }
    if (s == r)
        return;                      /* own messages are not expected */
    bit = (uint8_t)(1u << (idx & 7));
    if (rc->seen[s][idx >> 3] & bit) {
        violation(v, &v->dup, "member %u: duplicate %u/%llu", r, s, idx);
        return;
    }
    rc->seen[s][idx >> 3] |= bit;
    rc->distinct[s]++;
    if (o->net.mode == COHORT_FIFO && idx != rc->next[s])
        violation(v, &v->order, "member %u: from %u got %llu, expected %llu",
                  r, s, idx, (unsigned long long)rc->next[s]);
    if (idx + 1 > rc->next[s])
        rc->next[s] = idx + 1;
}

/* Indexes each sender could not send (unreliable, too big): not expected
 * anywhere. Read from the senders' own logs first. */
struct toobig {
    uint64_t count[H_MAX_MEMBERS];
};

static void first_missing(const struct rx_check *rc, uint32_t s,
                          uint64_t messages, unsigned long long *out)
{
    for (uint64_t i = 0; i < messages; i++) {
        if (!(rc->seen[s][i >> 3] & (1u << (i & 7)))) {
            *out = (unsigned long long)i;
            return;
        }
    }
}

static void check_losses(const struct h_opts *o, struct verdict *v,
                         const struct rx_check *rc, const struct toobig *tb,
                         uint32_t r)
{
    for (uint32_t s = 0; s < o->members; s++) {
        uint64_t expect = o->messages - tb->count[s];
        unsigned long long first = 0;
        if (s == r)
            continue;
        v->expected_total += expect;
        v->delivered_total += rc->distinct[s];
        if (o->net.mode != COHORT_FIFO || rc->distinct[s] >= expect)
            continue;
        first_missing(rc, s, o->messages, &first);
        violation(v, &v->lost, "member %u: lost %llu of %llu from member %u "
                  "(first missing: %llu)", r,
                  (unsigned long long)(expect - rc->distinct[s]),
                  (unsigned long long)expect, s, first);
    }
}

static void log_path(char *buf, size_t len, const char *dir, uint32_t i)
{
    snprintf(buf, len, "%s/member-%u.log", dir, i);
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
        log_path(path, sizeof path, dir, i);
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
                             const char *dir, uint32_t r,
                             const struct toobig *tb)
{
    static struct rx_check rc;
    char path[4200], line[512];
    size_t bitmap = (size_t)(o->messages + 7) / 8;
    FILE *f;
    memset(&rc, 0, sizeof rc);
    for (uint32_t s = 0; s < o->members; s++)
        rc.seen[s] = calloc(1, bitmap);
    log_path(path, sizeof path, dir, r);
    f = fopen(path, "r");
    if (f == NULL)
        violation(v, &v->process, "member %u: no log (%s)", r, path);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == 'D')
            check_delivery(o, v, &rc, r, line);
        else if (line[0] == 'X')
            violation(v, &v->corrupt, "member %u: undecodable message (%s)",
                      r, line + 2);
        else if (strncmp(line, "# stats", 7) == 0)
            add_stats(v, line);
        else if (strstr(line, "not supported by this library") != NULL)
            v->notsup = 1;
    }
    if (f != NULL)
        fclose(f);
    check_losses(o, v, &rc, tb, r);
    for (uint32_t s = 0; s < o->members; s++)
        free(rc.seen[s]);
}

/* ------------------------------------------------------------------ */
/* Parent                                                              */
/* ------------------------------------------------------------------ */

/* COHORT_FAULTS for member i: the spec, with a seed of its own unless the
 * spec fixes one (so members drop different datagrams, reproducibly). */
static void member_faults(const struct h_opts *o, uint32_t i, char *buf,
                          size_t len)
{
    buf[0] = '\0';
    if (o->faults == NULL || o->faults[0] == '\0')
        return;
    if (strstr(o->faults, "seed=") != NULL)
        snprintf(buf, len, "COHORT_FAULTS=%s", o->faults);
    else
        snprintf(buf, len, "COHORT_FAULTS=%s,seed=%llu", o->faults,
                 (unsigned long long)(o->seed * 1000u + i + 1));
}

static int spawn_members(const struct h_opts *o, const char *dir,
                         struct tool_child *ch)
{
    static char logs[H_MAX_MEMBERS][4200];
    char env[512];
    struct tool_argv a;
    for (uint32_t i = 0; i < o->members; i++) {
        log_path(logs[i], sizeof logs[i], dir, i);
        tool_argv_init(&a);
        tool_argv_add(&a, "member");
        tool_argv_addf(&a, "--index=%u", i);
        tool_argv_add(&a, "--log");
        tool_argv_add(&a, logs[i]);
        tool_argv_addf(&a, "--members=%llu", (unsigned long long)o->members);
        tool_argv_addf(&a, "--messages=%llu",
                       (unsigned long long)o->messages);
        tool_argv_addf(&a, "--timeout=%g", o->timeout_s);
        tool_argv_addf(&a, "--seed=%llu", (unsigned long long)o->seed);
        for (size_t k = 0; k < o->nsizes; k++)
            tool_argv_addf(&a, "--sizes=%llu", (unsigned long long)o->sizes[k]);
        tool_argv_add_net(&a, &o->net);
        member_faults(o, i, env, sizeof env);
        if (tool_spawn(&ch[i], &a, env[0] ? env : NULL, 0) != 0) {
            (void)tool_children_reap(ch, i, tool_now_ns());
            return -1;
        }
    }
    return 0;
}

static void show_err_file(const char *dir, uint32_t i)
{
    char path[4200], line[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/member-%u.log.err", dir, i);
    f = fopen(path, "r");
    for (int n = 0; f != NULL && n < 10 && fgets(line, sizeof line, f); n++)
        fprintf(stderr, "  member %u: %s", i, line);
    if (f != NULL)
        fclose(f);
}

static void check_exits(const struct h_opts *o, struct verdict *v,
                        const struct tool_child *ch, const char *dir)
{
    char why[32];
    for (uint32_t i = 0; i < o->members; i++) {
        const struct tool_child *c = &ch[i];
        int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
        if (c->reaped && code == TOOL_EXIT_OK)
            continue;
        if (c->reaped && code == TOOL_EXIT_NOTSUP) {
            v->notsup = 1;
            continue;
        }
        violation(v, &v->process, "member %u: %s%s", i,
                  tool_child_ending(c, why, sizeof why),
                  code == TOOL_EXIT_TIMEOUT
                      ? " (timed out before receiving everything)" : "");
        show_err_file(dir, i);
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
    if (o->net.mode != COHORT_FIFO && v->expected_total > 0)
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
    if (v->violations > 0)
        printf("  (lost %llu, duplicated %llu, out of order %llu, corrupt "
               "%llu, unexpected %llu, process %llu, views %llu)\n",
               (unsigned long long)v->lost, (unsigned long long)v->dup,
               (unsigned long long)v->order, (unsigned long long)v->corrupt,
               (unsigned long long)v->unexpected,
               (unsigned long long)v->process, (unsigned long long)v->views);
    printf("%s: %llu members x %llu messages, %s, %llu violation%s\n",
           v->violations ? "FAIL" : "PASS", (unsigned long long)o->members,
           (unsigned long long)o->messages, mode,
           (unsigned long long)v->violations, v->violations == 1 ? "" : "s");
}

static int make_log_dir(const struct h_opts *o, char *dir, size_t len)
{
    if (o->keep_logs != NULL) {
        snprintf(dir, len, "%s", o->keep_logs);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            tool_err("--keep-logs %s: %s", dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    snprintf(dir, len, "/tmp/cohort-harness.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        tool_err("mkdtemp: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void remove_logs(const struct h_opts *o, const char *dir)
{
    char path[4200];
    for (uint32_t i = 0; i < o->members; i++) {
        log_path(path, sizeof path, dir, i);
        (void)unlink(path);
        snprintf(path, sizeof path, "%s/member-%u.log.err", dir, i);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

/* Views from the members' logs: each contains its member, ids grow along
 * each member's log, one id (with its proposer's incarnation) has one
 * member list in every log, and every member once had a view of all. */
#define H_MAX_VIEWS 1024
#define H_VIEW_TEXT 1024

struct seen_view {
    unsigned long long id;
    char members[H_VIEW_TEXT];   /* " id.inc id.inc ..." as logged */
};

/* Whether the list " a b c" holds the token " b" as a whole word. */
static int has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = strstr(list, tok); p; p = strstr(p + 1, tok))
        if (p[n] == ' ' || p[n] == '\0')
            return 1;
    return 0;
}

/* The incarnation of the proposer (the low half of the id) in a list. */
static unsigned long proposer_inc(unsigned long long id, const char *list)
{
    char want[16];
    snprintf(want, sizeof want, " %08x.", (unsigned)(id & 0xffffffffu));
    const char *p = strstr(list, want);
    return p ? strtoul(p + strlen(want), NULL, 10) : 0;
}

static void check_member_views(const struct h_opts *o, struct verdict *v,
                               const char *dir, uint32_t r,
                               struct seen_view *seen, size_t *nseen)
{
    char path[4200], line[H_VIEW_TEXT + 64], self[32] = "";
    unsigned long long last = 0;
    int all = 0;
    log_path(path, sizeof path, dir, r);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == 'S' && line[1] == ' ')
            snprintf(self, sizeof self, " %.24s", line + 2);
        if (line[0] != 'V' || line[1] != ' ')
            continue;
        char *end;
        unsigned long long id = strtoull(line + 2, &end, 16);
        unsigned long count = strtoul(end, &end, 10);
        if (self[0] && !has_token(end, self))
            violation(v, &v->views, "member %u: view %016llx without itself",
                      r, id);
        if (id <= last)
            violation(v, &v->views, "member %u: view %016llx after %016llx",
                      r, id, last);
        last = id;
        if (count == o->members)
            all = 1;
        size_t k = 0;
        unsigned long pinc = proposer_inc(id, end);
        while (k < *nseen && !(seen[k].id == id &&
                               proposer_inc(id, seen[k].members) == pinc))
            k++;
        if (k < *nseen && strcmp(seen[k].members, end) != 0)
            violation(v, &v->views, "member %u: view %016llx is%.40s, "
                      "another member's is%.40s", r, id, end,
                      seen[k].members);
        else if (k == *nseen && *nseen < H_MAX_VIEWS) {
            seen[k].id = id;
            snprintf(seen[k].members, sizeof seen[k].members, "%s", end);
            (*nseen)++;
        }
    }
    if (f != NULL)
        fclose(f);
    if (f != NULL && !all)
        violation(v, &v->views, "member %u: never in a view of all %llu "
                  "members", r, (unsigned long long)o->members);
}

static void check_logs(const struct h_opts *o, struct verdict *v,
                       const char *dir)
{
    static struct toobig tb;
    static struct seen_view seen[H_MAX_VIEWS];
    size_t nseen = 0;
    read_toobig(o, dir, &tb);
    for (uint32_t r = 0; r < o->members; r++)
        check_member_log(o, v, dir, r, &tb);
    for (uint32_t r = 0; r < o->members; r++)
        check_member_views(o, v, dir, r, seen, &nseen);
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
     * log as missing: say what is wrong instead. */
    if (stat(o->keep_logs, &st) != 0) {
        tool_err("check: --keep-logs %s: %s", o->keep_logs, strerror(errno));
        return TOOL_EXIT_FAIL;
    }
    if (!S_ISDIR(st.st_mode)) {
        tool_err("check: --keep-logs %s: not a directory", o->keep_logs);
        return TOOL_EXIT_FAIL;
    }
    check_logs(o, &v, o->keep_logs);
    print_verdict(o, &v, 0.0);
    return v.violations ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* A long run is silent otherwise: on a terminal, say once a second how
 * far it is. The line is overwritten, then cleared. */
static void show_progress(const struct h_opts *o, size_t running,
                          uint64_t start)
{
    fprintf(stderr, "\r%s: %.0f s, %zu of %llu members still running ",
            tool_progname(), (tool_now_ns() - start) / 1e9, running,
            (unsigned long long)o->members);
}

static void await_members(const struct h_opts *o, struct tool_child *ch,
                          uint64_t start)
{
    uint64_t deadline = start + (uint64_t)((o->timeout_s + 20.0) * 1e9);
    size_t n = (size_t)o->members, running = n;
    if (!o->quiet && tool_progress_wanted()) {
        while (running > 0 && tool_now_ns() < deadline) {
            show_progress(o, running, start);
            running = tool_children_wait(ch, n, tool_now_ns() + 1000000000u);
        }
        fprintf(stderr, "\r%*s\r", 60, "");
    }
    (void)tool_children_reap(ch, n, deadline);
}

static int parent_main(struct h_opts *o)
{
    static struct tool_child ch[H_MAX_MEMBERS];
    static struct verdict v;
    char dir[4096];
    uint64_t start = tool_now_ns();
    if (make_log_dir(o, dir, sizeof dir) != 0)
        return TOOL_EXIT_FAIL;
    if (!o->quiet)
        printf("cohort-harness: %llu members x %llu messages, %s, group %s, "
               "faults '%s', logs in %s\n", (unsigned long long)o->members,
               (unsigned long long)o->messages, tool_mode_name(o->net.mode),
               o->net.group, o->faults ? o->faults : "", dir);
    fflush(stdout);
    if (spawn_members(o, dir, ch) != 0)
        return TOOL_EXIT_FAIL;
    await_members(o, ch, start);
    check_exits(o, &v, ch, dir);
    if (v.notsup) {
        printf("SKIP: mode %s is not supported by this library yet\n",
               tool_mode_name(o->net.mode));
        if (o->keep_logs == NULL)
            remove_logs(o, dir);
        return TOOL_EXIT_NOTSUP;
    }
    check_logs(o, &v, dir);
    print_verdict(o, &v, (tool_now_ns() - start) / 1e9);
    if (v.violations == 0 && o->keep_logs == NULL)
        remove_logs(o, dir);
    else if (v.violations > 0)
        printf("logs kept in %s\n", dir);
    return v.violations ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-harness --members N --messages M --mode fifo|unreliable\n"
"                      [options]\n"
"       cohort-harness check --keep-logs DIR --members N --messages M\n"
"                      --mode MODE   (judge kept logs again)\n"
"  --members N           member processes (2 to %d; default 3)\n"
"  --messages M          messages each member sends (default 1000)\n"
"  --mode fifo|unreliable  delivery mode (default: fifo)\n"
"  --sizes mixed|LIST    message sizes: mixed (default: mostly small,\n"
"                        some fragmented) or e.g. 64 or 64,2000\n"
"  --faults SPEC         fault injection for every member, e.g.\n"
"                        drop=0.2 (default: $COHORT_FAULTS)\n"
"  --seed N              makes fault seeds and ids reproducible\n"
"  --timeout S           per member (default 60)\n"
"  --keep-logs DIR       keep the delivery logs in DIR\n"
"  --key FILE, --security auth|encrypt, --group, --interface (default\n"
"  lo), --address, --port, --ipv6, --datagram: as cohort-chat\n"
"  --quiet, --help, --version\n", H_MAX_MEMBERS);
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
    return tool_net_check(&o->net);
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(void *opts, int argc, char **argv)
{
    struct h_opts *o = opts;
    int r;
    tool_net_init(&o->net, NULL);
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

int main(int argc, char **argv)
{
    static struct h_opts o;
    return tool_main(argc, argv, &o, parse_args, run);
}
