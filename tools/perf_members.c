/*
 * perf_members - cohort-perf membership (see perf_members.h).
 *
 * One round, for a group of N members:
 *   1. converge: N member processes are started together; each one's time
 *      from just before cohort_open() to its first view of N members;
 *   2. crash: a member other than the coordinator is SIGKILLed; each
 *      survivor's time from the kill to its first view of N-1 members that
 *      names a failed one;
 *   3. join: one more process joins the N-1; its time from open to its
 *      first view of N members (and the others' time to see it);
 *   4. leave: a member other than the coordinator gets SIGTERM and closes
 *      gracefully; each survivor's time from just before its
 *      cohort_close() to the first view of N-1 that names a leaver.
 * Every wait has a deadline; a round that misses one is reported as an
 * error, and all its processes are stopped (SIGTERM, SIGKILL a second
 * later) before the next round.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"
#include "perf_members.h"

#define PM_MS 1000000ull
#define PM_S 1000000000ull
#define PM_CONVERGE_NS (20 * PM_S)    /* plus 250 ms per member */
#define PM_STEP_NS (10 * PM_S)        /* join, and after the timeout */
#define PM_MEMBER_LIFE_S 600.0        /* a member exits by itself then */
#define PM_MAX_LINE 160
#define PM_MAX_EVENTS 256             /* taken per pass */
#define PM_SETTLE_NS (500 * PM_MS)    /* quiet time before a kill, join or
                                         close, plus up to a heartbeat */

/* ------------------------------------------------------------------ */
/* The member process                                                  */
/* ------------------------------------------------------------------ */

static void print_view(const cohort_event_t *ev)
{
    /* Short lines: a parent keeps 8 KiB of each member's output. */
    printf("VIEW t=%llu n=%zu j=%zu l=%zu f=%zu c=%u\n",
           (unsigned long long)tool_now_ns(), ev->u.view.count,
           ev->u.view.joined_count, ev->u.view.left_count,
           ev->u.view.failed_count,
           ev->u.view.count ? ev->u.view.members[0].id : 0u);
    fflush(stdout);
}

int perf_members_member(const struct perf_members_opts *o)
{
    struct cohort_config cfg;
    cohort_t *c = NULL;
    uint64_t t_open, deadline;
    pid_t parent = getppid();
    int r;
    tool_config(&o->net, &cfg);
    if (o->member_timeout_ms != 0)
        cfg.member_timeout_ns = o->member_timeout_ms * PM_MS;
    t_open = tool_now_ns();
    r = tool_open(&cfg, &c);
    if (r != 0) {
        printf("ERROR open\n");
        return TOOL_EXIT_FAIL;
    }
    printf("OPEN t=%llu id=%u\n", (unsigned long long)t_open,
           cohort_self(c).id);
    fflush(stdout);
    deadline = t_open + (uint64_t)(o->timeout_s * 1e9);
    /* A parent that died (killed by timeout(1), say) leaves no one to
     * stop us: end with it rather than at the deadline. */
    while (!tool_stop_requested() && tool_now_ns() < deadline &&
           getppid() == parent) {
        cohort_event_t ev;
        r = tool_poll_process(c, -1, tool_ms_until(deadline, 100), NULL);
        if (r < 0) {
            tool_err("process: %s", cohort_strerror(r));
            break;
        }
        for (int i = 0; i < PM_MAX_EVENTS && cohort_next_event(c, &ev) == 1;
             i++) {
            if (ev.type == COHORT_EVENT_VIEW)
                print_view(&ev);
        }
    }
    printf("CLOSE t=%llu\n", (unsigned long long)tool_now_ns());
    fflush(stdout);
    cohort_close(c);
    return r < 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Reading a member's output                                           */
/* ------------------------------------------------------------------ */

struct pm_view {
    uint64_t t, n, joined, left, failed, coord;
};

/* What a view must be to end a wait. */
struct pm_want {
    uint64_t after_ns;           /* installed at or after this */
    uint64_t n;                  /* with exactly this many members */
    int need;                    /* 'j', 'l', 'f' or 0: names one such */
};

static int view_matches(const struct pm_view *v, const struct pm_want *w)
{
    if (v->t < w->after_ns || v->n != w->n)
        return 0;
    switch (w->need) {
    case 'j': return v->joined > 0;
    case 'l': return v->left > 0;
    case 'f': return v->failed > 0;
    default: return 1;
    }
}

/* The first view in ch's output that matches w (into *out): 1, else 0.
 * With w NULL, the last view of all. */
static int find_view(const struct tool_child *ch, const struct pm_want *w,
                     struct pm_view *out)
{
    const char *p = ch->out;
    int found = 0;
    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        char line[PM_MAX_LINE];
        size_t len;
        struct pm_view v;
        if (nl == NULL)
            break;               /* a line still being written */
        len = (size_t)(nl - p) < sizeof line - 1 ? (size_t)(nl - p)
                                                 : sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        if (strncmp(line, "VIEW ", 5) != 0)
            continue;
        memset(&v, 0, sizeof v);
        if (tool_field_u64(line, "t", &v.t) != 0 ||
            tool_field_u64(line, "n", &v.n) != 0)
            continue;
        (void)tool_field_u64(line, "j", &v.joined);
        (void)tool_field_u64(line, "l", &v.left);
        (void)tool_field_u64(line, "f", &v.failed);
        (void)tool_field_u64(line, "c", &v.coord);
        if (w == NULL) {
            *out = v;
            found = 1;
        } else if (view_matches(&v, w)) {
            *out = v;
            return 1;
        }
    }
    return found;
}

/* "KEY t=..." of a member, or 0. */
static uint64_t line_time(const struct tool_child *ch, const char *key)
{
    char line[PM_MAX_LINE];
    uint64_t t = 0;
    if (tool_child_line(ch, key, line, sizeof line) != NULL)
        (void)tool_field_u64(line, "t", &t);
    return t;
}

static uint32_t member_id(const struct tool_child *ch)
{
    char line[PM_MAX_LINE];
    uint64_t id = 0;
    if (tool_child_line(ch, "OPEN ", line, sizeof line) != NULL)
        (void)tool_field_u64(line, "id", &id);
    return (uint32_t)id;
}

/* ------------------------------------------------------------------ */
/* One round                                                           */
/* ------------------------------------------------------------------ */

/* Medians and maxima of one round, in nanoseconds; 0 = not measured. */
struct pm_stat {
    uint64_t p50, max;
};

struct pm_round {
    struct pm_stat converge, crash, join, join_seen, leave;
    uint64_t spread_ns;          /* first open to last open at the start */
    int join_first_full;         /* the joiner's first view held all N */
    const char *error;           /* NULL: complete */
};

struct pm_group {
    const struct perf_members_opts *o;
    struct tool_child ch[PERF_MEMBERS_MAX];
    int live[PERF_MEMBERS_MAX];  /* started and neither killed nor closed */
    size_t n;                    /* slots used */
    uint64_t base_ns[PERF_MEMBERS_MAX];   /* per member: what it is timed
                                             from in the current wait */
    char group[32];
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lower median and maximum of v[0..n) (sorted in place). */
static struct pm_stat stat_of(uint64_t *v, size_t n)
{
    struct pm_stat s = { 0, 0 };
    if (n == 0)
        return s;
    qsort(v, n, sizeof v[0], cmp_u64);
    s.p50 = v[(n - 1) / 2];
    s.max = v[n - 1];
    return s;
}

static int spawn_member(struct pm_group *g, size_t i)
{
    const struct perf_members_opts *o = g->o;
    struct tool_argv a;
    struct tool_net net = o->net;
    net.group = g->group;
    net.name = NULL;
    tool_argv_init(&a);
    tool_argv_add(&a, "member");
    tool_argv_add(&a, "--machine");
    tool_argv_addf(&a, "--timeout=%.0f", PM_MEMBER_LIFE_S);
    if (o->member_timeout_ms != 0)
        tool_argv_addf(&a, "--member-timeout-ms=%llu",
                       (unsigned long long)o->member_timeout_ms);
    tool_argv_add_net(&a, &net);
    if (tool_spawn(&g->ch[i], &a, NULL, 1) != 0)
        return -1;
    g->live[i] = 1;
    return 0;
}

/* Pump output until every live member except skip has a view matching w
 * (timed from base_ns[i]), a live member dies, or deadline. Fills t[] with
 * the times of those members; returns how many, or -1. */
static int await_views(struct pm_group *g, const struct pm_want *w,
                       size_t skip, uint64_t deadline_ns, uint64_t *t)
{
    for (;;) {
        size_t want = 0, have = 0;
        for (size_t i = 0; i < g->n; i++) {
            struct pm_view v;
            if (!g->live[i] || i == skip)
                continue;
            want++;
            if (g->ch[i].eof)
                return -1;
            if (find_view(&g->ch[i], w, &v) && g->base_ns[i] != 0 &&
                v.t >= g->base_ns[i])
                t[have++] = v.t - g->base_ns[i];
        }
        if (have == want)
            return (int)have;
        if (tool_now_ns() >= deadline_ns || tool_stop_requested())
            return -1;
        tool_children_pump(g->ch, g->n, tool_ms_until(deadline_ns, 20));
    }
}

/* Pump until member i printed "KEY t=" (or deadline); its time, or 0. */
static uint64_t await_line(struct pm_group *g, size_t i, const char *key,
                           uint64_t deadline_ns)
{
    uint64_t t;
    while ((t = line_time(&g->ch[i], key)) == 0 &&
           tool_now_ns() < deadline_ns && !g->ch[i].eof)
        tool_children_pump(g->ch, g->n, tool_ms_until(deadline_ns, 20));
    return t != 0 ? t : line_time(&g->ch[i], key);
}

/* A live member that does not coordinate the current view (by member 0's
 * latest view), the last such slot; or n when there is none. */
static size_t pick_victim(const struct pm_group *g)
{
    struct pm_view v;
    uint64_t coord = 0;
    size_t first_live = g->n;
    for (size_t i = 0; i < g->n && first_live == g->n; i++)
        if (g->live[i])
            first_live = i;
    if (first_live < g->n && find_view(&g->ch[first_live], NULL, &v))
        coord = v.coord;
    for (size_t i = g->n; i-- > 0;) {
        if (g->live[i] && member_id(&g->ch[i]) != coord)
            return i;
    }
    return g->n;
}

/* Let the group be quiet for PM_SETTLE_NS and a random part of a
 * heartbeat interval, so a kill or a close does not come right after the
 * last change (when every member has just sent), but at any point of the
 * heartbeat cycle, as in life. Output is read meanwhile. */
static void settle(struct pm_group *g)
{
    struct cohort_config cfg;
    uint64_t until;
    cohort_config_init(&cfg);
    until = tool_now_ns() + PM_SETTLE_NS +
            tool_random_u32() % (cfg.heartbeat_interval_ns + 1);
    while (tool_now_ns() < until && !tool_stop_requested())
        tool_children_pump(g->ch, g->n, tool_ms_until(until, 20));
}

static uint64_t suspicion_ns(const struct perf_members_opts *o)
{
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    return o->member_timeout_ms ? o->member_timeout_ms * PM_MS
                                : cfg.member_timeout_ns;
}

static int phase_converge(struct pm_group *g, size_t n, struct pm_round *r,
                          uint64_t *t)
{
    uint64_t start = tool_now_ns();
    struct pm_want w = { start, n, 0 };
    for (size_t i = 0; i < n; i++) {
        if (spawn_member(g, i) != 0)
            return -1;
        g->n = i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        g->base_ns[i] = await_line(g, i, "OPEN ",
                                   start + PM_CONVERGE_NS);
        if (g->base_ns[i] == 0)
            return -1;
        t[i] = g->base_ns[i];
    }
    {
        struct pm_stat opens = stat_of(t, n);
        uint64_t first = opens.max;
        for (size_t i = 0; i < n; i++)
            first = t[i] < first ? t[i] : first;
        r->spread_ns = opens.max - first;
    }
    if (await_views(g, &w, g->n, start + PM_CONVERGE_NS + n * 250 * PM_MS,
                    t) != (int)n)
        return -1;
    r->converge = stat_of(t, n);
    return 0;
}

static int phase_crash(struct pm_group *g, size_t n, struct pm_round *r,
                       uint64_t *t, size_t *victim)
{
    size_t v = pick_victim(g);
    uint64_t now;
    struct pm_want w;
    int got;
    if (v == g->n)
        return -1;
    settle(g);
    now = tool_now_ns();
    for (size_t i = 0; i < g->n; i++)
        g->base_ns[i] = now;
    w = (struct pm_want){ now, n - 1, 'f' };
    kill(g->ch[v].pid, SIGKILL);
    g->live[v] = 0;
    (void)tool_children_reap(&g->ch[v], 1, now + PM_S);
    got = await_views(g, &w, v, now + suspicion_ns(g->o) + PM_STEP_NS, t);
    if (got != (int)n - 1)
        return -1;
    r->crash = stat_of(t, n - 1);
    *victim = v;
    return 0;
}

static int phase_join(struct pm_group *g, size_t n, size_t slot,
                      struct pm_round *r, uint64_t *t)
{
    uint64_t start = tool_now_ns(), open;
    struct pm_want w = { start, n, 0 };
    struct pm_view first;
    settle(g);
    start = tool_now_ns();
    w.after_ns = start;
    if (spawn_member(g, slot) != 0)
        return -1;
    open = await_line(g, slot, "OPEN ", start + PM_STEP_NS);
    if (open == 0)
        return -1;
    for (size_t i = 0; i < g->n; i++)
        g->base_ns[i] = open;
    /* The joiner's own view: any first view of N members. */
    if (await_views(g, &w, g->n, start + PM_STEP_NS, t) != (int)n)
        return -1;
    if (find_view(&g->ch[slot], &w, &first))
        r->join.p50 = r->join.max = first.t - open;
    {
        struct pm_want any = { start, 0, 0 };
        struct pm_view v0;
        r->join_first_full = 1;
        for (uint64_t k = 1; k < n; k++) {
            any.n = k;
            if (find_view(&g->ch[slot], &any, &v0) && v0.t < first.t)
                r->join_first_full = 0;
        }
    }
    /* The others: from the joiner's open to their view with it. */
    w.need = 'j';
    if (await_views(g, &w, slot, start + PM_STEP_NS, t) != (int)n - 1)
        return -1;
    r->join_seen = stat_of(t, n - 1);
    return 0;
}

static int phase_leave(struct pm_group *g, size_t n, struct pm_round *r,
                       uint64_t *t)
{
    size_t v = pick_victim(g);
    uint64_t now, closed;
    struct pm_want w;
    if (v == g->n)
        return -1;
    settle(g);
    now = tool_now_ns();
    kill(g->ch[v].pid, SIGTERM);
    closed = await_line(g, v, "CLOSE ", now + PM_STEP_NS);
    g->live[v] = 0;
    if (closed == 0)
        return -1;
    for (size_t i = 0; i < g->n; i++)
        g->base_ns[i] = closed;
    w = (struct pm_want){ closed, n - 1, 'l' };
    if (await_views(g, &w, v, now + suspicion_ns(g->o) + PM_STEP_NS, t) !=
        (int)n - 1)
        return -1;
    r->leave = stat_of(t, n - 1);
    return 0;
}

static void run_round(const struct perf_members_opts *o, size_t n,
                      struct pm_round *r)
{
    static struct pm_group g;
    uint64_t t[PERF_MEMBERS_MAX];
    size_t victim = 0;
    memset(&g, 0, sizeof g);
    memset(r, 0, sizeof *r);
    g.o = o;
    snprintf(g.group, sizeof g.group, "perf-m-%08x", tool_random_u32());
    if (phase_converge(&g, n, r, t) != 0)
        r->error = "members did not converge";
    else if (phase_crash(&g, n, r, t, &victim) != 0)
        r->error = "survivors did not drop the killed member";
    else if (phase_join(&g, n, victim, r, t) != 0)
        r->error = "the joiner was not taken in";
    else if (phase_leave(&g, n, r, t) != 0)
        r->error = "survivors did not drop the member that left";
    /* SIGTERM to the rest (they close gracefully), SIGKILL a second on. */
    (void)tool_children_reap(g.ch, g.n, tool_now_ns());
}

/* ------------------------------------------------------------------ */
/* Repeats, table, JSON                                                */
/* ------------------------------------------------------------------ */

struct pm_row {
    size_t n, runs, failed;
    struct pm_round med;          /* medians over the complete repeats */
    size_t join_first_full;       /* repeats whose joiner's first view was
                                     the full one */
    const char *error;            /* of the last failed repeat */
    struct pm_round rounds[16];
};

/* The median, over the complete rounds, of one figure picked by off. */
static uint64_t med_of(const struct pm_row *row, size_t off)
{
    uint64_t v[16];
    size_t k = 0;
    for (size_t i = 0; i < row->runs; i++) {
        const struct pm_round *r = &row->rounds[i];
        if (r->error == NULL)
            v[k++] = *(const uint64_t *)((const char *)r + off);
    }
    return stat_of(v, k).p50;
}

#define MED(row, field) med_of((row), offsetof(struct pm_round, field))

static void summarise(struct pm_row *row)
{
    struct pm_round *m = &row->med;
    m->converge.p50 = MED(row, converge.p50);
    m->converge.max = MED(row, converge.max);
    m->crash.p50 = MED(row, crash.p50);
    m->crash.max = MED(row, crash.max);
    m->join.p50 = MED(row, join.p50);
    m->join_seen.p50 = MED(row, join_seen.p50);
    m->join_seen.max = MED(row, join_seen.max);
    m->leave.p50 = MED(row, leave.p50);
    m->leave.max = MED(row, leave.max);
    m->spread_ns = MED(row, spread_ns);
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void print_table(const struct perf_members_opts *o,
                        const struct pm_row *rows, size_t nrows)
{
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    printf("cohort-perf membership: member processes on %s, heartbeat "
           "%.0f ms, member timeout %.0f ms; median of %llu repeat%s, ms\n",
           o->net.interface, ms(cfg.heartbeat_interval_ns),
           ms(suspicion_ns(o)), (unsigned long long)o->repeat,
           o->repeat == 1 ? "" : "s");
    printf("spread: first to last cohort_open of the N started together\n"
           "converge: open to first view of all N (median / max over the "
           "members)\ncrash: SIGKILL to the survivors' view without it; "
           "leave: cohort_close to theirs\njoin: a joiner of N-1, open to "
           "its first view of N (seen: the others' view with it)\n\n");
    printf("%7s %7s %9s %9s %7s %7s %9s %9s %9s %7s %9s  %s\n",
           "members", "spread", "converge", "conv max", "join", "seen",
           "seen max", "crash", "crash max", "leave", "leave max", "ok");
    for (size_t i = 0; i < nrows; i++) {
        const struct pm_row *r = &rows[i];
        const struct pm_round *m = &r->med;
        if (r->failed == r->runs) {
            printf("%7zu  %s\n", r->n, r->error ? r->error : "not run");
            continue;
        }
        printf("%7zu %7.1f %9.1f %9.1f %7.1f %7.1f %9.1f %9.1f %9.1f %7.1f "
               "%9.1f  %zu/%zu\n", r->n, ms(m->spread_ns),
               ms(m->converge.p50), ms(m->converge.max),
               ms(m->join.p50), ms(m->join_seen.p50), ms(m->join_seen.max),
               ms(m->crash.p50), ms(m->crash.max), ms(m->leave.p50),
               ms(m->leave.max), r->runs - r->failed, r->runs);
        if (r->failed > 0)
            printf("%7s  %zu failed: %s\n", "", r->failed, r->error);
    }
    printf("\ntargets: converge (32) <= 2000 ms; join <= 100 ms after "
           "discovery (%.0f ms);\nleave <= 20 ms; crash <= member timeout "
           "+ verification\n", ms(2 * cfg.heartbeat_interval_ns));
}

static void json_stat(const char *name, struct pm_stat s, int with_max)
{
    printf(",\"%s_ms\":{\"p50\":%.3f", name, ms(s.p50));
    if (with_max)
        printf(",\"max\":%.3f", ms(s.max));
    putchar('}');
}

static void json_round(const struct pm_round *r, int comma)
{
    printf("%s{\"ok\":%s", comma ? "," : "", r->error ? "false" : "true");
    if (r->error != NULL) {
        printf(",\"error\":\"%s\"}", r->error);
        return;
    }
    printf(",\"open_spread_ms\":%.3f", ms(r->spread_ns));
    json_stat("converge", r->converge, 1);
    json_stat("join", r->join, 0);
    printf(",\"join_first_view_full\":%s",
           r->join_first_full ? "true" : "false");
    json_stat("join_seen", r->join_seen, 1);
    json_stat("crash", r->crash, 1);
    json_stat("leave", r->leave, 1);
    putchar('}');
}

static void print_json(const struct perf_members_opts *o,
                       const struct pm_row *rows, size_t nrows)
{
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    printf("{\"tool\":\"cohort-perf\",\"test\":\"membership\","
           "\"library\":\"%s\",\"interface\":\"%s\",\"repeat\":%llu,"
           "\"heartbeat_ms\":%.0f,\"member_timeout_ms\":%.0f,\"groups\":[",
           cohort_version(), o->net.interface,
           (unsigned long long)o->repeat, ms(cfg.heartbeat_interval_ns),
           ms(suspicion_ns(o)));
    for (size_t i = 0; i < nrows; i++) {
        const struct pm_row *r = &rows[i];
        printf("%s{\"members\":%zu,\"runs\":%zu,\"failed\":%zu", i ? "," : "",
               r->n, r->runs, r->failed);
        if (r->failed < r->runs) {
            printf(",\"open_spread_ms\":%.3f", ms(r->med.spread_ns));
            json_stat("converge", r->med.converge, 1);
            json_stat("join", r->med.join, 0);
            json_stat("join_seen", r->med.join_seen, 1);
            json_stat("crash", r->med.crash, 1);
            json_stat("leave", r->med.leave, 1);
        }
        printf(",\"repeats\":[");
        for (size_t k = 0; k < r->runs; k++)
            json_round(&r->rounds[k], k > 0);
        printf("]}");
    }
    printf("]}\n");
}

int perf_members_run(const struct perf_members_opts *o)
{
    static struct pm_row rows[PERF_MEMBERS_MAX_SIZES];
    size_t k = (size_t)o->repeat;
    int failed = 0;
    if (k > sizeof rows[0].rounds / sizeof rows[0].rounds[0]) {
        tool_err("--repeat: at most %zu for membership",
                 sizeof rows[0].rounds / sizeof rows[0].rounds[0]);
        return TOOL_EXIT_USAGE;
    }
    memset(rows, 0, sizeof rows);
    /* Repeats go round the sizes, as run's do round its cells. */
    for (size_t rep = 0; rep < k && !tool_stop_requested(); rep++) {
        for (size_t i = 0; i < o->nsizes && !tool_stop_requested(); i++) {
            struct pm_row *row = &rows[i];
            struct pm_round *r = &row->rounds[row->runs];
            row->n = (size_t)o->sizes[i];
            if (!o->quiet)
                tool_err("membership: %zu members (run %zu of %zu)...",
                         row->n, rep + 1, k);
            run_round(o, row->n, r);
            row->runs++;
            if (r->error != NULL) {
                row->failed++;
                row->error = r->error;
                if (!o->quiet)
                    tool_err("membership: %zu members: %s", row->n,
                             r->error);
            }
        }
    }
    for (size_t i = 0; i < o->nsizes; i++) {
        rows[i].n = (size_t)o->sizes[i];
        summarise(&rows[i]);
        failed |= rows[i].runs == 0 || rows[i].failed > 0;
    }
    if (o->json)
        print_json(o, rows, o->nsizes);
    else
        print_table(o, rows, o->nsizes);
    return failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
