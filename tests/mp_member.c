/*
 * mp_member.c - one member process for tests/multiprocess.sh.
 *
 * Joins a group on loopback (or the interface given), waits until it sees
 * --peers other members in its view, sends --count messages with a checksum in each,
 * and keeps receiving until it holds every message of every peer or the
 * linger time runs out. It prints one line per fact for the script to check:
 *   SELF <id>            JOINED <id>          LEFT <id>
 *   MSG <sender> <seq> <ok>   (ok: 1 when the checksum and sender match)
 *   STATS <key>=<value> ...
 *   DONE
 * Only the public header is used, as an application would.
 *
 * Run without arguments it opens and closes one member on loopback: a smoke
 * test of the real sockets for make check.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"

#define MP_MAGIC 0x4d505431u /* "MPT1" */
#define MP_HEADER_BYTES 16
#define MP_FILLER_MAX 400
#define MP_PAYLOAD_MAX (MP_HEADER_BYTES + MP_FILLER_MAX + 4)
#define MP_PEERS_MAX 16
#define MP_COUNT_MAX 100000

typedef struct mp_opts {
    struct tool_net net;         /* --group, --port, --interface, --ipv6 */
    int peers;
    int count;
    int pace_ms;
    int join_timeout_ms;
    int linger_ms;
} mp_opts_t;

typedef struct mp_peer {
    uint32_t id;
    int distinct;
    uint8_t *seen; /* count + 1 flags */
} mp_peer_t;

typedef struct mp_state {
    const mp_opts_t *o;
    cohort_t *c;
    uint32_t self;
    int joined;
    mp_peer_t peer[MP_PEERS_MAX];
    int npeer;
} mp_state_t;

static uint64_t mp_now_ms(void) { return tool_now_ns() / 1000000u; }

static uint32_t mp_fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static void mp_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t mp_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* magic | sender | seq | filler length | filler | fnv1a of all before */
static size_t mp_build(uint8_t *buf, uint32_t self, uint32_t seq)
{
    uint32_t filler = (seq * 37u) % MP_FILLER_MAX;
    mp_put32(buf, MP_MAGIC);
    mp_put32(buf + 4, self);
    mp_put32(buf + 8, seq);
    mp_put32(buf + 12, filler);
    uint32_t x = self ^ (seq * 2654435761u);
    for (uint32_t i = 0; i < filler; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[MP_HEADER_BYTES + i] = (uint8_t)x;
    }
    size_t n = MP_HEADER_BYTES + filler;
    mp_put32(buf + n, mp_fnv1a(buf, n));
    return n + 4;
}

/* Returns the sequence number, or 0 when the payload is not intact. */
static uint32_t mp_check(const uint8_t *p, size_t len, uint32_t sender)
{
    if (len < MP_HEADER_BYTES + 4 || mp_get32(p) != MP_MAGIC)
        return 0;
    uint32_t filler = mp_get32(p + 12);
    if (filler >= MP_FILLER_MAX || len != MP_HEADER_BYTES + filler + 4)
        return 0;
    if (mp_get32(p + 4) != sender)
        return 0;
    if (mp_fnv1a(p, len - 4) != mp_get32(p + len - 4))
        return 0;
    return mp_get32(p + 8);
}

static mp_peer_t *mp_peer(mp_state_t *s, uint32_t id)
{
    for (int i = 0; i < s->npeer; i++) {
        if (s->peer[i].id == id)
            return &s->peer[i];
    }
    if (s->npeer == MP_PEERS_MAX)
        return NULL;
    mp_peer_t *p = &s->peer[s->npeer++];
    p->id = id;
    p->seen = calloc((size_t)s->o->count + 1, 1);
    return p->seen != NULL ? p : NULL;
}

static void mp_on_message(mp_state_t *s, const cohort_event_t *ev)
{
    uint32_t sender = ev->u.message.sender.id;
    uint32_t seq = mp_check(ev->u.message.data, ev->u.message.len, sender);
    printf("MSG %" PRIu32 " %" PRIu32 " %d\n", sender, seq, seq != 0);
    mp_peer_t *p = mp_peer(s, sender);
    if (p != NULL && seq >= 1 && seq <= (uint32_t)s->o->count &&
        !p->seen[seq]) {
        p->seen[seq] = 1;
        p->distinct++;
    }
}

static void mp_on_event(mp_state_t *s, const cohort_event_t *ev)
{
    switch (ev->type) {
    case COHORT_EVENT_MESSAGE:
        mp_on_message(s, ev);
        break;
    case COHORT_EVENT_MEMBER_JOINED:
        printf("JOINED %" PRIu32 "\n", ev->u.member.member.id);
        s->joined++;
        break;
    case COHORT_EVENT_MEMBER_LEFT:
        printf("LEFT %" PRIu32 " %d\n", ev->u.member.member.id,
               ev->u.member.reason);
        break;
    case COHORT_EVENT_WARNING: {
        char text[512];
        printf("WARNING %d %s\n", ev->u.warning.code,
               tool_warning_text(ev, text, sizeof text));
        break;
    }
    default:
        break;
    }
}

/* Handle events until until_ms; returns 0 or a negative cohort error. */
static int mp_pump(mp_state_t *s, uint64_t until_ms)
{
    for (int guard = 0; guard < 1000000; guard++) {
        uint64_t now = mp_now_ms();
        int left = now >= until_ms ? 0 : (int)(until_ms - now);
        cohort_event_t ev;
        int rc = cohort_wait(s->c, &ev, left);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return 0;
        mp_on_event(s, &ev);
    }
    return 0;
}

static bool mp_all_received(const mp_state_t *s)
{
    int complete = 0;
    for (int i = 0; i < s->npeer; i++)
        complete += s->peer[i].distinct == s->o->count;
    return complete >= s->o->peers;
}

/* Every peer heard and in the agreed view: a message is delivered only
 * in the view it was sent in, so one sent after the JOINED events (first
 * heard) but before the view holds everyone reaches no one (the start-up
 * rule in README.md). Under load that stretch outlasted the 10% margin. */
static bool mp_all_in_view(const mp_state_t *s)
{
    return s->joined >= s->o->peers &&
           cohort_view(s->c, NULL, NULL, 0) >= (size_t)s->o->peers + 1;
}

static int mp_join(mp_state_t *s)
{
    uint64_t deadline = mp_now_ms() + (uint64_t)s->o->join_timeout_ms;
    while (!mp_all_in_view(s) && mp_now_ms() < deadline) {
        int rc = mp_pump(s, mp_now_ms() + 20);
        if (rc < 0)
            return rc;
    }
    return mp_all_in_view(s) ? 0 : COHORT_ERR_TIMEDOUT;
}

static int mp_send_all(mp_state_t *s)
{
    uint8_t buf[MP_PAYLOAD_MAX];
    uint64_t next = mp_now_ms();
    for (int seq = 1; seq <= s->o->count; seq++) {
        size_t len = mp_build(buf, s->self, (uint32_t)seq);
        int rc = cohort_send_wait(s->c, s->o->net.mode, buf, len, 5000);
        if (rc != 0)
            return rc;
        next += (uint64_t)s->o->pace_ms;
        rc = mp_pump(s, next);
        if (rc < 0)
            return rc;
    }
    return cohort_flush(s->c);
}

static void mp_print_stats(const mp_state_t *s)
{
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (cohort_stats(s->c, &st) != 0)
        return;
    printf("STATS datagrams_sent=%" PRIu64 " datagrams_received=%" PRIu64
           " drops_total=%" PRIu64,
           st.datagrams_sent, st.datagrams_received, st.drops_total);
    for (int r = 0; r < COHORT_DROP__COUNT; r++) {
        if (st.drops[r] != 0)
            printf(" drop_%s=%" PRIu64, cohort_drop_reason_name(r),
                   st.drops[r]);
    }
    printf("\n");
}

static int mp_open(mp_state_t *s)
{
    struct cohort_config cfg;
    char name[32];
    snprintf(name, sizeof name, "mp-%ld", (long)getpid());
    tool_config(&s->o->net, &cfg);
    cfg.name = name;
    cfg.heartbeat_interval_ns = 50 * 1000000ull;
    int rc = tool_open(&cfg, &s->c);
    if (rc != 0)
        return rc;
    s->self = cohort_self(s->c).id;
    printf("SELF %" PRIu32 "\n", s->self);
    return 0;
}

static int mp_run(const mp_opts_t *o)
{
    mp_state_t s;
    memset(&s, 0, sizeof s);
    s.o = o;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = mp_open(&s);
    if (rc == COHORT_ERR_ADDRESS || rc == COHORT_ERR_SYSTEM)
        return 77; /* this host cannot do multicast here: skip */
    if (rc != 0)
        return 2;
    rc = mp_join(&s);
    if (rc != 0)
        fprintf(stderr, "mp_member %" PRIu32 ": saw %d of %d peers\n", s.self,
                s.joined, o->peers);
    if (rc == 0)
        rc = mp_send_all(&s);
    uint64_t deadline = mp_now_ms() + (uint64_t)o->linger_ms;
    while (rc == 0 && !mp_all_received(&s) && mp_now_ms() < deadline)
        rc = mp_pump(&s, mp_now_ms() + 20);
    /* A little longer, so a duplicate arriving late would be seen. */
    if (rc == 0)
        rc = mp_pump(&s, mp_now_ms() + 200);
    if (rc != 0)
        fprintf(stderr, "mp_member: %s\n", cohort_strerror(rc));
    mp_print_stats(&s);
    printf("DONE\n");
    cohort_close(s.c);
    for (int i = 0; i < s.npeer; i++)
        free(s.peer[i].seen);
    return rc == 0 ? 0 : 1;
}

/* make check runs every check program: without arguments, open and close
 * one member on loopback and check the event-loop surface. */
static int mp_smoke(void)
{
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    cfg.group = "mp-smoke";
    cfg.interface = "lo";
    cfg.port = (uint16_t)(40000 + getpid() % 20000);
    cohort_t *c = NULL;
    int rc = cohort_open(&c, &cfg);
    if (rc != 0) {
        fprintf(stderr, "mp_member: smoke open: %s (%s)\n",
                cohort_strerror(rc), cohort_last_error_text());
        return rc == COHORT_ERR_ADDRESS ? 77 : 1;
    }
    int ok = cohort_fd(c) >= 0 && cohort_timeout_ms(c) >= 0 &&
             cohort_process(c) >= 0 && cohort_members(c, NULL, 0) >= 1;
    cohort_event_t ev;
    ok = ok && cohort_wait(c, &ev, 50) >= 0;
    cohort_close(c);
    return ok ? 0 : 1;
}

enum mp_opt {
    OPT_PEERS = TOOL_OPT__END,
    OPT_COUNT,
    OPT_PACE_MS,
    OPT_JOIN_TIMEOUT_MS,
    OPT_LINGER_MS,
    OPT_FIFO,
};

static void mp_usage(FILE *f)
{
    fprintf(f, "usage: mp_member --group G --port P --peers K --count N "
            "[--iface IF] [--ipv6] [--pace-ms MS] [--fifo] "
            "[--join-timeout-ms MS] [--linger-ms MS]\n");
}

static const struct option mp_long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "iface", required_argument, NULL, TOOL_OPT_INTERFACE },
    { "peers", required_argument, NULL, OPT_PEERS },
    { "count", required_argument, NULL, OPT_COUNT },
    { "pace-ms", required_argument, NULL, OPT_PACE_MS },
    { "join-timeout-ms", required_argument, NULL, OPT_JOIN_TIMEOUT_MS },
    { "linger-ms", required_argument, NULL, OPT_LINGER_MS },
    { "fifo", no_argument, NULL, OPT_FIFO },
    { NULL, 0, NULL, 0 },
};

/* An int option in [lo, hi]: 0, or -1 with a message printed. */
static int mp_int(const char *opt, const char *arg, uint64_t lo, uint64_t hi,
                  int *out)
{
    uint64_t v = 0;
    if (tool_parse_u64(opt, arg, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int mp_option(void *ctx, int opt, const char *arg)
{
    mp_opts_t *o = ctx;
    switch (opt) {
    case OPT_PEERS: return mp_int("peers", arg, 1, MP_PEERS_MAX, &o->peers);
    case OPT_COUNT: return mp_int("count", arg, 1, MP_COUNT_MAX, &o->count);
    case OPT_PACE_MS:
        return mp_int("pace-ms", arg, 0, MP_COUNT_MAX, &o->pace_ms);
    case OPT_JOIN_TIMEOUT_MS:
        return mp_int("join-timeout-ms", arg, 0, MP_COUNT_MAX,
                      &o->join_timeout_ms);
    case OPT_LINGER_MS:
        return mp_int("linger-ms", arg, 0, MP_COUNT_MAX, &o->linger_ms);
    case OPT_FIFO: o->net.mode = COHORT_FIFO; return 0;
    default: return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return mp_smoke();
    tool_set_progname(argv[0]);
    mp_opts_t o = {.pace_ms = 2, .join_timeout_ms = 10000,
                   .linger_ms = 3000};
    tool_net_init(&o.net, NULL);
    o.net.mode = COHORT_UNRELIABLE;
    int rc = tool_parse_options(&o.net, argc, argv, mp_long_opts, mp_usage,
                                mp_option, &o);
    if (rc != TOOL_OPT_NEXT)
        return rc;
    if (o.net.group == NULL || o.net.port == 0 || o.peers == 0 ||
        o.count == 0) {
        mp_usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    return mp_run(&o);
}
