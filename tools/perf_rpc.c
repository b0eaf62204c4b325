/*
 * perf_rpc.c - cohort-perf rpc: request-reply round trips beside the raw
 * UDP ping-pong, in one invocation.
 *
 *   cohort-perf rpc [--size B] [--round-trips N] [--members M]
 *                   [--repeat K] [--port P] [--interface IF]
 *
 * Each repeat: the raw baseline (cohort-perf run --raw --latency, one
 * receiver, a child of this process), then M - 1 server processes (each a
 * cohort member answering every request with its payload) and this
 * process as the requester: N round trips with cohort_request_wait() to
 * one member, then to the group wanting FIRST, MAJORITY and ALL (the
 * group is the M - 1 servers: a blocking requester does not serve its
 * own request). Prints p50 and p99 of each, medians over the repeats,
 * and the p50 against raw's.
 */
#include "perf_rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"

#define RPC_MAX_MEMBERS 16
#define RPC_MAX_REPEAT 9
#define RPC_CELLS 4

typedef struct rpc_opts {
    size_t size;
    size_t round_trips;
    size_t members;
    size_t repeat;
    unsigned port;
    const char *interface;
    const char *self;
} rpc_opts_t;

static const char *const cell_names[RPC_CELLS] = {
    "one member", "group first", "group majority", "group all"};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, unsigned p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof v[0], cmp_u64);
    size_t i = (n * p) / 100;
    return v[i < n ? i : n - 1];
}

static double median(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) /* n <= RPC_MAX_REPEAT */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : 0;
}

static int open_member(const rpc_opts_t *o, const char *name, cohort_t **c)
{
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    cfg.group = "perf-rpc";
    cfg.port = (uint16_t)o->port;
    cfg.interface = o->interface;
    cfg.name = name;
    int rc = cohort_open(c, &cfg);
    if (rc != 0)
        tool_err("open: %s (%s)", cohort_strerror(rc),
                 cohort_last_error_text());
    return rc;
}

/* A server: answer every request with its payload until SIGTERM. */
static int serve(const rpc_opts_t *o)
{
    cohort_t *c;
    if (open_member(o, "rpc-server", &c) != 0)
        return TOOL_EXIT_FAIL;
    cohort_event_t ev;
    while (!tool_stop_requested()) {
        int rc = cohort_wait(c, &ev, 100);
        if (rc < 0)
            break;
        for (; rc == 1; rc = cohort_next_event(c, &ev))
            if (ev.type == COHORT_EVENT_REQUEST &&
                !(ev.u.request.flags & COHORT_REQUEST_NOREPLY) &&
                cohort_reply(c, ev.u.request.peer, ev.u.request.request,
                             ev.u.request.data, ev.u.request.len) != 0)
                tool_err("reply: the requester left");
    }
    cohort_close(c);
    return TOOL_EXIT_OK;
}

/* The raw ping-pong of this repeat: p50 and p99 in us, from cohort-perf
 * run --raw --latency. */
static int raw_baseline(const rpc_opts_t *o, double *p50, double *p99)
{
    char cmd[4800];
    snprintf(cmd, sizeof cmd,
             "'%s' run --raw --latency --size %zu --round-trips %zu "
             "--receivers 1 --quiet --port %u --interface '%s'",
             o->self, o->size, o->round_trips, o->port + 7, o->interface);
    FILE *p = popen(cmd, "r");
    if (!p) {
        tool_err("raw baseline: %s", strerror(errno));
        return -1;
    }
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        size_t size;
        char mode[32];
        unsigned long rtts, lost;
        if (sscanf(line, " %zu %31s %lu %lu %lf %lf", &size, mode, &rtts,
                   &lost, p50, p99) == 6 &&
            strcmp(mode, "raw") == 0)
            found = 1;
    }
    int st = pclose(p);
    if (!found || st != 0) {
        tool_err("raw baseline: no result (exit %d)", st);
        return -1;
    }
    return 0;
}

static int wait_view(cohort_t *c, size_t n)
{
    cohort_event_t ev;
    for (int i = 0; i < 300 && cohort_view(c, NULL, NULL, 0) < n; i++)
        if (cohort_wait(c, &ev, 100) < 0)
            return -1;
    return cohort_view(c, NULL, NULL, 0) >= n ? 0 : -1;
}

/* N round trips of one cell; p50 and p99 in us. */
static int measure(cohort_t *c, const rpc_opts_t *o, int cell, uint8_t *buf,
                   uint64_t *rtt, double *p50, double *p99)
{
    static const cohort_want_t wants[RPC_CELLS] = {
        COHORT_WANT_FIRST, COHORT_WANT_FIRST, COHORT_WANT_MAJORITY,
        COHORT_WANT_ALL};
    cohort_member_t v[RPC_MAX_MEMBERS];
    size_t nv = cohort_view(c, NULL, v, RPC_MAX_MEMBERS);
    uint32_t to = COHORT_TO_GROUP;
    for (size_t i = 0; cell == 0 && i < nv; i++)
        if (v[i].id != cohort_self(c).id)
            to = v[i].id;
    cohort_reply_t r[RPC_MAX_MEMBERS];
    static uint8_t rbuf[RPC_MAX_MEMBERS * 65536];
    for (size_t k = 0; k < o->round_trips; k++) {
        struct cohort_replies out = {.replies = r, .max = RPC_MAX_MEMBERS,
                                     .buf = rbuf, .buf_len = sizeof rbuf};
        uint64_t t0 = tool_now_ns();
        int rc = cohort_request_wait(c, to, COHORT_FIFO, wants[cell], buf,
                                     o->size, 5000, &out);
        if (rc != COHORT_REQUEST_COMPLETE) {
            tool_err("%s: request %zu: %s", cell_names[cell], k,
                     rc < 0 ? cohort_strerror(rc) : "did not complete");
            return -1;
        }
        rtt[k] = tool_now_ns() - t0;
    }
    *p50 = (double)pct(rtt, o->round_trips, 50) / 1e3;
    *p99 = (double)pct(rtt, o->round_trips, 99) / 1e3;
    return 0;
}

static int one_repeat(const rpc_opts_t *o, double raw[2],
                      double res[RPC_CELLS][2])
{
    if (raw_baseline(o, &raw[0], &raw[1]) != 0)
        return -1;
    pid_t kids[RPC_MAX_MEMBERS];
    size_t nk = 0;
    int rc = 0;
    for (; nk + 1 < o->members; nk++) {
        fflush(NULL);
        pid_t p = fork();
        if (p == 0)
            _exit(serve(o));
        if (p < 0) {
            tool_err("fork: %s", strerror(errno));
            rc = -1;
            break;
        }
        kids[nk] = p;
    }
    cohort_t *c = NULL;
    uint8_t *buf = calloc(1, o->size ? o->size : 1);
    uint64_t *rtt = calloc(o->round_trips, sizeof *rtt);
    if (rc == 0 && (!buf || !rtt || open_member(o, "rpc-requester", &c)))
        rc = -1;
    if (rc == 0 && wait_view(c, o->members) != 0) {
        tool_err("the view never held %zu members", o->members);
        rc = -1;
    }
    for (int k = 0; rc == 0 && k < RPC_CELLS; k++)
        rc = measure(c, o, k, buf, rtt, &res[k][0], &res[k][1]);
    cohort_close(c);
    for (size_t i = 0; i < nk; i++)
        kill(kids[i], SIGTERM);
    for (size_t i = 0; i < nk; i++)
        waitpid(kids[i], NULL, 0);
    free(buf);
    free(rtt);
    return rc;
}

static int parse(rpc_opts_t *o, int argc, char **argv)
{
    *o = (rpc_opts_t){.size = 64, .round_trips = 2000, .members = 4,
                      .repeat = 3, .port = 47400, .interface = "lo"};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            printf("usage: cohort-perf rpc [--size B] [--round-trips N] "
                   "[--members M] [--repeat K]\n"
                   "                       [--port P] [--interface IF]\n"
                   "request-reply round trips (p50/p99) to one member and "
                   "to the group\n(first, majority, all) beside the raw "
                   "UDP ping-pong, medians of K repeats\n"
                   "(defaults: 64 B, 2000, 4 members, 3 repeats, port "
                   "47400, lo)\n");
            return TOOL_EXIT_OK;
        }
        if (!v) {
            tool_err("rpc: %s needs a value (try --help)", a);
            return TOOL_EXIT_USAGE;
        }
        unsigned long long n = strtoull(v, NULL, 10);
        if (strcmp(a, "--size") == 0 && n <= 65536)
            o->size = (size_t)n;
        else if (strcmp(a, "--round-trips") == 0 && n >= 10 && n <= 1000000)
            o->round_trips = (size_t)n;
        else if (strcmp(a, "--members") == 0 && n >= 2 &&
                 n <= RPC_MAX_MEMBERS)
            o->members = (size_t)n;
        else if (strcmp(a, "--repeat") == 0 && n >= 1 && n <= RPC_MAX_REPEAT)
            o->repeat = (size_t)n;
        else if (strcmp(a, "--port") == 0 && n >= 1 && n <= 65000)
            o->port = (unsigned)n;
        else if (strcmp(a, "--interface") == 0)
            o->interface = v;
        else {
            tool_err("rpc: bad option %s %s (try --help)", a, v);
            return TOOL_EXIT_USAGE;
        }
        i++;
    }
    return -1;
}

int perf_rpc_main(int argc, char **argv)
{
    rpc_opts_t o;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    /* The raw baseline runs this very program (popen: resolve it here,
     * not in the shell). */
    static char self[4096 - 512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        tool_err("rpc: /proc/self/exe: %s", strerror(errno));
        return TOOL_EXIT_FAIL;
    }
    self[n] = '\0';
    o.self = self;
    tool_catch_signals();
    double raw[RPC_MAX_REPEAT][2], res[RPC_MAX_REPEAT][RPC_CELLS][2];
    for (size_t r = 0; r < o.repeat; r++) {
        fprintf(stderr, "cohort-perf rpc: repeat %zu of %zu\n", r + 1,
                o.repeat);
        if (one_repeat(&o, raw[r], res[r]) != 0)
            return TOOL_EXIT_FAIL;
    }
    double col[RPC_MAX_REPEAT];
    printf("cohort-perf rpc: %zu B, %zu round trips per cell, %zu members "
           "(%zu servers), median of %zu\n\n", o.size, o.round_trips,
           o.members, o.members - 1, o.repeat);
    printf("  %-16s %9s %9s %8s\n", "cell", "p50 us", "p99 us", "vs raw");
    double raw50, raw99;
    for (size_t r = 0; r < o.repeat; r++)
        col[r] = raw[r][0];
    raw50 = median(col, o.repeat);
    for (size_t r = 0; r < o.repeat; r++)
        col[r] = raw[r][1];
    raw99 = median(col, o.repeat);
    printf("  %-16s %9.1f %9.1f %8.2f\n", "raw ping-pong", raw50, raw99, 1.0);
    for (int k = 0; k < RPC_CELLS; k++) {
        double p50, p99;
        for (size_t r = 0; r < o.repeat; r++)
            col[r] = res[r][k][0];
        p50 = median(col, o.repeat);
        for (size_t r = 0; r < o.repeat; r++)
            col[r] = res[r][k][1];
        p99 = median(col, o.repeat);
        /* The ratio of each repeat to its own raw run, then the median. */
        for (size_t r = 0; r < o.repeat; r++)
            col[r] = raw[r][0] > 0 ? res[r][k][0] / raw[r][0] : 0;
        printf("  %-16s %9.1f %9.1f %8.2f\n", cell_names[k], p50, p99,
               median(col, o.repeat));
    }
    return TOOL_EXIT_OK;
}
