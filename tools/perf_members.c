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
#include <stddef.h>
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

static int dip_member(const struct perf_members_opts *o);

int perf_members_member(const struct perf_members_opts *o)
{
    struct cohort_config cfg;
    cohort_t *c = NULL;
    uint64_t t_open, deadline;
    pid_t parent = getppid();
    int r;
    if (o->dip_role != PM_DIP_NONE)
        return dip_member(o);
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

static int spawn_member_as(struct pm_group *g, size_t i, int dip_role,
                           const char *dip_file)
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
    if (dip_role != PM_DIP_NONE) {
        static const char *const roles[] = { "", "send", "recv", "meter" };
        tool_argv_addf(&a, "--dip-role=%s", roles[dip_role]);
        tool_argv_addf(&a, "--size=%llu", (unsigned long long)o->dip_size);
        if (dip_file != NULL)
            tool_argv_addf(&a, "--dip-file=%s", dip_file);
    }
    tool_argv_add_net(&a, &net);
    if (tool_spawn(&g->ch[i], &a, NULL, 1) != 0)
        return -1;
    g->live[i] = 1;
    return 0;
}

static int spawn_member(struct pm_group *g, size_t i)
{
    return spawn_member_as(g, i, PM_DIP_NONE, NULL);
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
            tool_progress_show(o->progress, 1, "%s: membership, %zu members "
                               "(size %zu of %zu, run %zu of %zu)...",
                               tool_progname(), row->n, i + 1, o->nsizes,
                               rep + 1, k);
            run_round(o, row->n, r);
            row->runs++;
            if (r->error != NULL) {
                row->failed++;
                row->error = r->error;
                tool_progress_clear(o->progress);
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

/* ------------------------------------------------------------------ */
/* --dip: the throughput dip of a FIFO stream across a view change     */
/* ------------------------------------------------------------------ */

#define PM_DIP_BUCKET_NS (10 * PM_MS)
#define PM_DIP_MAX_BUCKETS 60000u     /* 600 s of 10 ms buckets */
#define PM_DIP_STEADY_NS (1500 * PM_MS)   /* after converging, before 1st */
#define PM_DIP_PRE_NS (1000 * PM_MS)  /* steady: the second before an event */
#define PM_DIP_POST_NS (500 * PM_MS)  /* window: event .. meter's view + this */
#define PM_DIP_GAP_NS (1500 * PM_MS)  /* event window end to the next event */
#define PM_DIP_BATCH_BYTES 65536u     /* sender yields every 64 KiB */
#define PM_DIP_EVENTS 3

static void dip_print_events(cohort_t *c, uint64_t *bk, uint64_t t0,
                             size_t *delivered)
{
    cohort_event_t ev;
    uint64_t now = 0;
    *delivered = 0;
    for (int i = 0; i < 65536 && cohort_next_event(c, &ev) == 1; i++) {
        if (ev.type == COHORT_EVENT_VIEW) {
            print_view(&ev);
        } else if (ev.type == COHORT_EVENT_MESSAGE) {
            (*delivered)++;
            if (bk != NULL) {
                uint64_t k;
                if (now == 0)
                    now = tool_now_ns();
                k = (now - t0) / PM_DIP_BUCKET_NS;
                if (k < PM_DIP_MAX_BUCKETS)
                    bk[k] += ev.u.message.len;
            }
        }
    }
}

/* Buckets as text: "t0=NS bucket_ns=NS n=N", then one count a line. */
static int dip_write(const char *path, const uint64_t *bk, uint64_t t0,
                     uint64_t end_ns)
{
    FILE *f = fopen(path, "w");
    uint64_t n = (end_ns - t0) / PM_DIP_BUCKET_NS + 1;
    if (f == NULL)
        return -1;
    if (n > PM_DIP_MAX_BUCKETS)
        n = PM_DIP_MAX_BUCKETS;
    fprintf(f, "t0=%llu bucket_ns=%llu n=%llu\n", (unsigned long long)t0,
            (unsigned long long)PM_DIP_BUCKET_NS, (unsigned long long)n);
    for (uint64_t k = 0; k < n; k++)
        fprintf(f, "%llu\n", (unsigned long long)bk[k]);
    return fclose(f) == 0 ? 0 : -1;
}

/* A --dip member: the sender streams FIFO messages as fast as flow control
 * lets it (yielding every 64 KiB, as cohort-perf send does); receivers take
 * every event; the meter also counts delivered bytes per 10 ms and writes
 * them to --dip-file when stopped. All print OPEN, VIEW and CLOSE. */
static int dip_member(const struct perf_members_opts *o)
{
    struct cohort_config cfg;
    cohort_t *c = NULL;
    uint64_t t_open, deadline, *bk = NULL;
    pid_t parent = getppid();
    uint8_t *buf;
    size_t size = o->dip_size ? (size_t)o->dip_size : 1000, got = 0;
    int r = 0, rc = TOOL_EXIT_OK;
    tool_config(&o->net, &cfg);
    cfg.self_delivery = 0;
    if (o->member_timeout_ms != 0)
        cfg.member_timeout_ns = o->member_timeout_ms * PM_MS;
    buf = calloc(1, size);
    if (o->dip_role == PM_DIP_METER)
        bk = calloc(PM_DIP_MAX_BUCKETS, sizeof bk[0]);
    if (buf == NULL || (o->dip_role == PM_DIP_METER && bk == NULL)) {
        printf("ERROR memory\n");
        return TOOL_EXIT_FAIL;
    }
    t_open = tool_now_ns();
    if (tool_open(&cfg, &c) != 0) {
        printf("ERROR open\n");
        free(buf);
        free(bk);
        return TOOL_EXIT_FAIL;
    }
    printf("OPEN t=%llu id=%u\n", (unsigned long long)t_open,
           cohort_self(c).id);
    fflush(stdout);
    deadline = t_open + (uint64_t)(o->timeout_s * 1e9);
    while (!tool_stop_requested() && tool_now_ns() < deadline &&
           getppid() == parent) {
        if (o->dip_role == PM_DIP_SEND) {
            size_t batch = 0;
            int s = 0;
            while (batch < PM_DIP_BATCH_BYTES &&
                   (s = cohort_send(c, COHORT_FIFO, buf, size)) == 0)
                batch += size;
            /* Flow control, a view change holding sends, or nobody to
             * send to yet: wait a little, as cohort-perf send does. */
            r = s == 0 ? cohort_process(c)
                       : tool_poll_process(c, -1, 5, NULL);
        } else {
            r = got > 0 ? cohort_process(c)
                        : tool_poll_process(c, -1,
                                            tool_ms_until(deadline, 50),
                                            NULL);
        }
        if (r < 0) {
            tool_err("process: %s", cohort_strerror(r));
            rc = TOOL_EXIT_FAIL;
            break;
        }
        dip_print_events(c, bk, t_open, &got);
    }
    if (bk != NULL && o->dip_file != NULL &&
        dip_write(o->dip_file, bk, t_open, tool_now_ns()) != 0)
        rc = TOOL_EXIT_FAIL;
    printf("CLOSE t=%llu\n", (unsigned long long)tool_now_ns());
    fflush(stdout);
    cohort_close(c);
    free(buf);
    free(bk);
    return rc;
}

/* One event's figures. */
struct pm_dip_ev {
    uint64_t t_ev, t_view;       /* the parent's action; the meter's view */
    double steady;               /* bytes/s in the second before t_ev */
    double low;                  /* lowest bucket in the window / steady */
    double below_ms;             /* window time in buckets < 50 % steady */
    double lost;                 /* bytes short of steady over the window */
    double lost_to;              /* lost / (member_timeout x steady) */
    double view_ms, window_ms;
};

struct pm_dip_round {
    struct pm_dip_ev ev[PM_DIP_EVENTS];   /* join, leave, crash */
    const char *error;
};

static const char *const dip_names[PM_DIP_EVENTS] = { "join", "leave",
                                                      "crash" };

static void pump_for(struct pm_group *g, uint64_t ns)
{
    uint64_t until = tool_now_ns() + ns;
    while (tool_now_ns() < until && !tool_stop_requested())
        tool_children_pump(g->ch, g->n, tool_ms_until(until, 20));
}

/* A live receiver (slot >= 2: not the sender, not the meter) that does not
 * coordinate the meter's current view, else any live receiver; or g->n. */
static size_t pick_dip_victim(const struct pm_group *g)
{
    struct pm_view v;
    uint64_t coord = 0;
    size_t any = g->n;
    if (find_view(&g->ch[1], NULL, &v))
        coord = v.coord;
    for (size_t i = g->n; i-- > 2;) {
        if (!g->live[i])
            continue;
        if (member_id(&g->ch[i]) != coord)
            return i;
        any = i;
    }
    return any;
}

/* The meter's first view matching w (timed by it): its time, or 0. */
static uint64_t meter_view(struct pm_group *g, const struct pm_want *w)
{
    struct pm_view v;
    return find_view(&g->ch[1], w, &v) ? v.t : 0;
}

/* Read the meter's buckets: 0, or -1. *bk is malloc'ed. */
static int dip_read(const char *path, uint64_t **bk, uint64_t *n,
                    uint64_t *t0)
{
    FILE *f = fopen(path, "r");
    unsigned long long a, b, c;
    if (f == NULL)
        return -1;
    if (fscanf(f, "t0=%llu bucket_ns=%llu n=%llu", &a, &b, &c) != 3 ||
        b != PM_DIP_BUCKET_NS || c == 0 || c > PM_DIP_MAX_BUCKETS) {
        fclose(f);
        return -1;
    }
    *t0 = a;
    *n = c;
    *bk = calloc(c, sizeof (*bk)[0]);
    if (*bk == NULL) {
        fclose(f);
        return -1;
    }
    for (uint64_t k = 0; k < c; k++) {
        unsigned long long x;
        if (fscanf(f, "%llu", &x) != 1)
            break;
        (*bk)[k] = x;
    }
    fclose(f);
    return 0;
}

/* Figures of one event from the buckets. */
static void dip_figures(const uint64_t *bk, uint64_t n, uint64_t t0,
                        uint64_t timeout_ns, struct pm_dip_ev *e)
{
    const double bsec = (double)PM_DIP_BUCKET_NS / 1e9;
    uint64_t pre0, i0, i1, sum = 0, low = UINT64_MAX, below = 0;
    e->view_ms = ms(e->t_view - e->t_ev);
    if (e->t_ev < t0 + PM_DIP_PRE_NS)
        return;                  /* cannot happen: 1.5 s of stream first */
    i0 = (e->t_ev - t0) / PM_DIP_BUCKET_NS;
    pre0 = i0 - PM_DIP_PRE_NS / PM_DIP_BUCKET_NS;
    i1 = (e->t_view + PM_DIP_POST_NS - t0 + PM_DIP_BUCKET_NS - 1) /
         PM_DIP_BUCKET_NS;
    if (i1 > n)
        i1 = n;
    if (i0 >= i1)
        return;                  /* the meter stopped before the window */
    for (uint64_t k = pre0; k < i0; k++)
        sum += bk[k];
    e->steady = (double)sum / ((double)(i0 - pre0) * bsec);
    sum = 0;
    for (uint64_t k = i0; k < i1; k++) {
        sum += bk[k];
        low = bk[k] < low ? bk[k] : low;
        if ((double)bk[k] < 0.5 * e->steady * bsec)
            below++;
    }
    e->window_ms = (double)(i1 - i0) * bsec * 1e3;
    e->low = e->steady > 0 ? (double)low / (e->steady * bsec) : 0;
    e->below_ms = (double)below * bsec * 1e3;
    e->lost = e->steady * (double)(i1 - i0) * bsec - (double)sum;
    e->lost_to = e->steady > 0 ? e->lost / (e->steady * (double)timeout_ns /
                                            1e9)
                               : 0;
}

/* Wait for the views after event ev at time t (skip: a member not to wait
 * for), note the meter's, then let the stream run on before the next. */
static int dip_event_views(struct pm_group *g, const struct pm_want *w,
                           size_t skip, uint64_t deadline,
                           struct pm_dip_ev *e)
{
    uint64_t t[PERF_MEMBERS_MAX + 1];
    size_t want = 0;
    for (size_t i = 0; i < g->n; i++) {
        want += g->live[i] && i != skip;
        g->base_ns[i] = w->after_ns;
    }
    if (await_views(g, w, skip, deadline, t) != (int)want)
        return -1;
    e->t_view = meter_view(g, w);
    if (e->t_view == 0)
        return -1;
    pump_for(g, e->t_view + PM_DIP_POST_NS + PM_DIP_GAP_NS > tool_now_ns()
                    ? e->t_view + PM_DIP_POST_NS + PM_DIP_GAP_NS -
                          tool_now_ns()
                    : 0);
    return 0;
}

static void dip_round(const struct perf_members_opts *o, size_t n,
                      struct pm_dip_round *r)
{
    static struct pm_group g;
    char path[256];
    const char *tmp = getenv("TMPDIR");
    uint64_t start, now, *bk = NULL, nb = 0, t0 = 0;
    uint64_t timeout_ns = suspicion_ns(o);
    struct pm_want w;
    size_t v;
    uint64_t t[PERF_MEMBERS_MAX + 1];
    memset(&g, 0, sizeof g);
    memset(r, 0, sizeof *r);
    g.o = o;
    snprintf(g.group, sizeof g.group, "perf-d-%08x", tool_random_u32());
    snprintf(path, sizeof path, "%s/cohort-dip-%d-%08x.txt",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (int)getpid(),
             tool_random_u32());
    /* 0: the sender, 1: the meter, 2..n-1: receivers; n: the joiner. */
    start = tool_now_ns();
    for (size_t i = 0; i < n; i++) {
        int role = i == 0 ? PM_DIP_SEND : i == 1 ? PM_DIP_METER
                                                  : PM_DIP_RECV;
        if (spawn_member_as(&g, i, role, i == 1 ? path : NULL) != 0) {
            r->error = "spawn";
            goto out;
        }
        g.n = i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        g.base_ns[i] = await_line(&g, i, "OPEN ", start + PM_CONVERGE_NS);
        if (g.base_ns[i] == 0) {
            r->error = "a member did not open";
            goto out;
        }
    }
    w = (struct pm_want){ start, n, 0 };
    if (await_views(&g, &w, g.n, start + PM_CONVERGE_NS + n * 250 * PM_MS,
                    t) != (int)n) {
        r->error = "members did not converge";
        goto out;
    }
    pump_for(&g, PM_DIP_STEADY_NS);

    /* (a) a member joins: N+1. */
    now = tool_now_ns();
    r->ev[0].t_ev = now;
    if (spawn_member_as(&g, n, PM_DIP_RECV, NULL) != 0) {
        r->error = "spawn";
        goto out;
    }
    g.n = n + 1;
    w = (struct pm_want){ now, n + 1, 'j' };
    if (dip_event_views(&g, &w, n, now + PM_STEP_NS + timeout_ns,
                        &r->ev[0]) != 0) {
        r->error = "the joiner was not taken in";
        goto out;
    }

    /* (b) a receiver leaves gracefully (SIGTERM: cohort_close): N. */
    v = pick_dip_victim(&g);
    now = tool_now_ns();
    r->ev[1].t_ev = now;
    kill(g.ch[v].pid, SIGTERM);
    if (await_line(&g, v, "CLOSE ", now + PM_STEP_NS) == 0) {
        r->error = "the leaver did not close";
        goto out;
    }
    g.live[v] = 0;
    w = (struct pm_want){ now, n, 'l' };
    if (dip_event_views(&g, &w, v, now + PM_STEP_NS + timeout_ns,
                        &r->ev[1]) != 0) {
        r->error = "survivors did not drop the member that left";
        goto out;
    }

    /* (c) a receiver is SIGKILLed: N-1. */
    v = pick_dip_victim(&g);
    now = tool_now_ns();
    r->ev[2].t_ev = now;
    kill(g.ch[v].pid, SIGKILL);
    g.live[v] = 0;
    (void)tool_children_reap(&g.ch[v], 1, now + PM_S);
    w = (struct pm_want){ now, n - 1, 'f' };
    if (dip_event_views(&g, &w, v, now + PM_STEP_NS + timeout_ns,
                        &r->ev[2]) != 0) {
        r->error = "survivors did not drop the killed member";
        goto out;
    }

    /* Stop the meter: it writes its buckets. */
    now = tool_now_ns();
    kill(g.ch[1].pid, SIGTERM);
    if (await_line(&g, 1, "CLOSE ", now + PM_STEP_NS) == 0 ||
        (tool_children_reap(&g.ch[1], 1, tool_now_ns() + 2 * PM_S),
         dip_read(path, &bk, &nb, &t0)) != 0) {
        r->error = "no buckets from the meter";
        goto out;
    }
    g.live[1] = 0;
    for (int e = 0; e < PM_DIP_EVENTS; e++) {
        dip_figures(bk, nb, t0, timeout_ns, &r->ev[e]);
        if (r->ev[e].steady <= 0)
            r->error = "the stream did not run before an event";
    }
out:
    (void)tool_children_reap(g.ch, g.n, tool_now_ns());
    (void)unlink(path);
    free(bk);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Lower median over the complete rounds of the double at off in event e. */
static double dip_med(const struct pm_dip_round *rs, size_t k, int e,
                      size_t off)
{
    double v[16];
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (rs[i].error == NULL)
            v[m++] = *(const double *)((const char *)&rs[i].ev[e] + off);
    if (m == 0)
        return 0;
    qsort(v, m, sizeof v[0], cmp_double);
    return v[(m - 1) / 2];
}

#define DMED(rs, k, e, f) dip_med((rs), (k), (e), \
                                  offsetof(struct pm_dip_ev, f))

int perf_members_dip_run(const struct perf_members_opts *o)
{
    static struct pm_dip_round rounds[PERF_MEMBERS_MAX_SIZES][16];
    size_t k = (size_t)o->repeat, ok[PERF_MEMBERS_MAX_SIZES] = { 0 };
    uint64_t timeout_ns = suspicion_ns(o);
    int failed = 0;
    if (k > 16) {
        tool_err("--repeat: at most 16 for membership --dip");
        return TOOL_EXIT_USAGE;
    }
    for (size_t i = 0; i < o->nsizes; i++) {
        if (o->sizes[i] < 3 || o->sizes[i] >= PERF_MEMBERS_MAX) {
            tool_err("--dip: group sizes 3..%d (a sender, the meter and "
                     "a receiver to leave or crash)", PERF_MEMBERS_MAX - 1);
            return TOOL_EXIT_USAGE;
        }
    }
    for (size_t rep = 0; rep < k && !tool_stop_requested(); rep++) {
        for (size_t i = 0; i < o->nsizes && !tool_stop_requested(); i++) {
            struct pm_dip_round *r = &rounds[i][rep];
            tool_progress_show(o->progress, 1, "%s: membership --dip, %llu "
                               "members (size %zu of %zu, run %zu of %zu)...",
                               tool_progname(),
                               (unsigned long long)o->sizes[i], i + 1,
                               o->nsizes, rep + 1, k);
            dip_round(o, (size_t)o->sizes[i], r);
            if (r->error != NULL) {
                failed = 1;
                tool_progress_clear(o->progress);
                if (!o->quiet)
                    tool_err("membership --dip: %s", r->error);
            } else {
                ok[i]++;
            }
        }
    }
    if (o->json) {
        printf("{\"tool\":\"cohort-perf\",\"test\":\"membership-dip\","
               "\"library\":\"%s\",\"interface\":\"%s\",\"repeat\":%zu,"
               "\"size\":%llu,\"bucket_ms\":%.0f,\"member_timeout_ms\":%.0f,"
               "\"groups\":[", cohort_version(), o->net.interface, k,
               (unsigned long long)o->dip_size, ms(PM_DIP_BUCKET_NS),
               ms(timeout_ns));
        for (size_t i = 0; i < o->nsizes; i++) {
            printf("%s{\"members\":%llu,\"runs\":%zu,\"failed\":%zu",
                   i ? "," : "", (unsigned long long)o->sizes[i], k,
                   k - ok[i]);
            for (int e = 0; e < PM_DIP_EVENTS; e++) {
                const struct pm_dip_round *rs = rounds[i];
                printf(",\"%s\":{\"steady_MBps\":%.2f,\"view_ms\":%.1f,"
                       "\"window_ms\":%.0f,\"lowest_pct\":%.1f,"
                       "\"below_half_ms\":%.0f,\"lost_MB\":%.3f,"
                       "\"lost_timeouts\":%.3f,\"repeats\":[",
                       dip_names[e], DMED(rs, k, e, steady) / 1e6,
                       DMED(rs, k, e, view_ms), DMED(rs, k, e, window_ms),
                       100 * DMED(rs, k, e, low), DMED(rs, k, e, below_ms),
                       DMED(rs, k, e, lost) / 1e6, DMED(rs, k, e, lost_to));
                for (size_t j = 0; j < k; j++)
                    printf("%s%.3f", j ? "," : "",
                           rs[j].error ? -1.0 : rs[j].ev[e].lost_to);
                printf("]}");
            }
            printf("}");
        }
        printf("]}\n");
        return failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
    }
    printf("cohort-perf membership --dip: one FIFO sender at full speed, "
           "%llu-byte messages,\nreal member processes on %s, member "
           "timeout %.0f ms, %.0f ms buckets at one receiver;\nmedian of %zu "
           "repeat%s. steady: MB/s in the second before the event; window: "
           "event to\nthe meter's new view + %.0f ms; lost: steady x window "
           "- delivered, also in\ntimeouts' worth (member timeout x steady)"
           "\n\n", (unsigned long long)o->dip_size, o->net.interface,
           ms(timeout_ns), ms(PM_DIP_BUCKET_NS), k, k == 1 ? "" : "s",
           ms(PM_DIP_POST_NS));
    printf("%7s %6s %8s %8s %8s %8s %9s %8s %9s  %s\n", "members", "event",
           "steady", "view ms", "window", "lowest", "<50% ms", "lost MB",
           "timeouts", "ok");
    for (size_t i = 0; i < o->nsizes; i++) {
        const struct pm_dip_round *rs = rounds[i];
        for (int e = 0; e < PM_DIP_EVENTS; e++) {
            if (ok[i] == 0) {
                printf("%7llu %6s  failed\n",
                       (unsigned long long)o->sizes[i], dip_names[e]);
                continue;
            }
            printf("%7llu %6s %8.1f %8.1f %8.0f %7.0f%% %9.0f %8.2f %9.2f"
                   "  %zu/%zu\n", (unsigned long long)o->sizes[i],
                   dip_names[e], DMED(rs, k, e, steady) / 1e6,
                   DMED(rs, k, e, view_ms), DMED(rs, k, e, window_ms),
                   100 * DMED(rs, k, e, low), DMED(rs, k, e, below_ms),
                   DMED(rs, k, e, lost) / 1e6, DMED(rs, k, e, lost_to),
                   ok[i], k);
        }
    }
    printf("\ntarget: a crash costs at most one timeout's worth (timeouts "
           "<= 1.00)\n");
    return failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
