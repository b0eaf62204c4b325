/*
 * cohort-stat - the counters of a running member, live, with rates
 * (cohort-stat(1)); Aeron's AeronStat and JGroups' probe are the models.
 *
 *   cohort-stat /run/user/1000/kvd.sock [--interval S] [--count N] [--json]
 *
 * A member opened with cohort_config.stats_socket listens on a Unix socket
 * and writes one text snapshot to each connection, then closes it
 * (docs/api.md "Stats socket"; src/io/statsock.c). This tool connects
 * once per interval, reads the snapshot, and prints the counters with
 * their rates since the previous one (from the member's own clock, so a
 * slow connection does not skew them). It sends nothing: the protocol has
 * no requests, so there is nothing to change a member with.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"

#define ST_MAX_FIELDS 256
#define ST_NAME_MAX 64
#define ST_TEXT_MAX 256
#define ST_READ_MAX 65536           /* a snapshot is ~3 KiB */
#define ST_ANSWER_MS 2000           /* the member answers from its loop */
#define ST_VERSION 1

enum stat_opt { OPT_INTERVAL = TOOL_OPT__END, OPT_COUNT, OPT_JSON };

struct st_field {
    char kind;                  /* c counter, g gauge, s string */
    char name[ST_NAME_MAX];
    uint64_t value;
    char text[ST_TEXT_MAX];     /* s: unescaped */
};

struct st_snap {
    struct st_field f[ST_MAX_FIELDS];
    size_t n;
};

struct st_opts {
    const char *path;
    double interval_s;
    uint64_t count;             /* 0: until interrupted */
    int json;
};

/* ------------------------------------------------------------------ */
/* Reading a snapshot                                                  */
/* ------------------------------------------------------------------ */

/* Connect and read until the member closes. Returns the length, or -1
 * with the reason printed; *timed_out when it never answered. */
static ssize_t fetch(const char *path, char *buf, size_t len, int *timed_out)
{
    struct sockaddr_un sa;
    size_t got = 0;
    uint64_t deadline = tool_now_ns() + ST_ANSWER_MS * 1000000ull;
    int fd;
    *timed_out = 0;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        tool_err("%s: longer than a socket path can be", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tool_err("socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        tool_err("%s: %s%s", path, strerror(e),
                 e == ENOENT ? " (is the member running, with its stats "
                               "socket on?)"
                 : e == EACCES ? " (the socket is its owner's: run as that "
                                 "user, or root)"
                 : e == ECONNREFUSED ? " (no member listens there: it "
                                       "has ended)"
                 : e == ENOTSOCK ? " (not a stats socket)" : "");
        close(fd);
        return -1;
    }
    while (got + 1 < len) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;
        int ms = tool_ms_until(deadline, ST_ANSWER_MS);
        if (ms == 0 || poll(&p, 1, ms) == 0) {
            *timed_out = 1;
            tool_err("%s: no snapshot within %d ms (is the member's loop "
                     "running?)", path, ST_ANSWER_MS);
            close(fd);
            return -1;
        }
        n = read(fd, buf + got, len - 1 - got);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR) {
            tool_err("%s: read: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n > 0)
            got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A string value as the member escaped it (\xHH), back to bytes. */
static void unescape(const char *in, char *out, size_t len)
{
    size_t o = 0;
    if (strcmp(in, "-") == 0)
        in = "";
    for (size_t i = 0; in[i] != '\0' && o + 1 < len; i++) {
        int hi, lo;
        if (in[i] == '\\' && in[i + 1] == 'x' &&
            (hi = hexval(in[i + 2])) >= 0 && (lo = hexval(in[i + 3])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 3;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

/* Parse the text format: version line, "K NAME VALUE" lines, "end".
 * Lines of a kind this reader does not know are skipped (a newer member
 * may add kinds within version 1). Returns 0 or -1 with the reason. */
static int parse(const char *path, char *text, struct st_snap *s)
{
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    int version = 0, ended = 0;
    s->n = 0;
    if (line == NULL || sscanf(line, "cohort-stats %d", &version) != 1) {
        tool_err("%s: not a cohort stats snapshot", path);
        return -1;
    }
    if (version != ST_VERSION) {
        tool_err("%s: snapshot format %d; this cohort-stat reads %d",
                 path, version, ST_VERSION);
        return -1;
    }
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char name[ST_NAME_MAX], value[ST_TEXT_MAX];
        struct st_field *f = &s->f[s->n];
        if (strcmp(line, "end") == 0) {
            ended = 1;
            break;
        }
        if (s->n == ST_MAX_FIELDS || strlen(line) < 4 || line[1] != ' ' ||
            sscanf(line + 2, "%63s %255s", name, value) != 2)
            continue;
        if (line[0] != 'c' && line[0] != 'g' && line[0] != 's')
            continue;
        f->kind = line[0];
        snprintf(f->name, sizeof f->name, "%s", name);
        f->value = f->kind == 's' ? 0 : strtoull(value, NULL, 10);
        if (f->kind == 's')
            unescape(value, f->text, sizeof f->text);
        s->n++;
    }
    if (!ended) {
        tool_err("%s: the snapshot is cut short (no 'end' line)", path);
        return -1;
    }
    return 0;
}

static const struct st_field *find(const struct st_snap *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return &s->f[i];
    return NULL;
}

static uint64_t value_of(const struct st_snap *s, const char *name)
{
    const struct st_field *f = find(s, name);
    return f != NULL ? f->value : 0;
}

static const char *text_of(const struct st_snap *s, const char *name)
{
    const struct st_field *f = find(s, name);
    return f != NULL ? f->text : "";
}

/* ------------------------------------------------------------------ */
/* Printing                                                            */
/* ------------------------------------------------------------------ */

/* Rates need the same member (id and incarnation) a little earlier. */
static double seconds_between(const struct st_snap *prev,
                              const struct st_snap *s)
{
    uint64_t t0, t1;
    if (prev == NULL || value_of(prev, "member_id") != value_of(s, "member_id")
        || value_of(prev, "incarnation") != value_of(s, "incarnation"))
        return 0.0;
    t0 = value_of(prev, "time_ns");
    t1 = value_of(s, "time_ns");
    return t1 > t0 ? (double)(t1 - t0) / 1e9 : 0.0;
}

/* The rate of counter f since prev, or -1 when there is none. */
static double rate_of(const struct st_snap *prev, const struct st_field *f,
                      double dt)
{
    const struct st_field *p = prev != NULL ? find(prev, f->name) : NULL;
    if (f->kind != 'c' || p == NULL || dt <= 0.0 || f->value < p->value)
        return -1.0;
    return (double)(f->value - p->value) / dt;
}

/* Text from the network, for a terminal: control bytes become '?'. */
static void put_safe(const char *s)
{
    for (; *s != '\0'; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void print_human(const struct st_opts *o, const struct st_snap *prev,
                        const struct st_snap *s, int redraw)
{
    double dt = seconds_between(prev, s);
    if (redraw)
        fputs("\033[H\033[J", stdout);
    printf("%s: member ", o->path);
    put_safe(text_of(s, "name"));
    printf(" (%llu.%llu), group ", (unsigned long long)value_of(s, "member_id"),
           (unsigned long long)value_of(s, "incarnation"));
    put_safe(text_of(s, "group"));
    printf(", cohort ");
    put_safe(text_of(s, "library"));
    printf("\nview %llu, %llu members", (unsigned long long)value_of(s,
           "view_id"), (unsigned long long)value_of(s, "view_members"));
    if (dt > 0)
        printf("; rates over the last %.2f s", dt);
    else if (prev != NULL)
        printf("; the member restarted: rates start again");
    printf("\n\n%-34s %16s %14s\n", "counter", "value", "per second");
    for (size_t i = 0; i < s->n; i++) {
        const struct st_field *f = &s->f[i];
        double r = rate_of(prev, f, dt);
        if (f->kind == 's' || strcmp(f->name, "member_id") == 0 ||
            strcmp(f->name, "incarnation") == 0 ||
            strcmp(f->name, "time_ns") == 0 ||
            strcmp(f->name, "view_id") == 0 ||
            strcmp(f->name, "view_members") == 0)
            continue;
        printf("%-34s %16llu", f->name, (unsigned long long)f->value);
        if (r >= 0)
            printf(" %14.1f", r);
        else
            printf(" %14s", f->kind == 'g' ? "(gauge)" : "-");
        putchar('\n');
    }
    if (!redraw)
        putchar('\n');
    fflush(stdout);
}

/* A JSON string from bytes: quotes, backslashes and control bytes
 * escaped; bytes above 0x7e as \u00XX, so the line is always valid. */
static void put_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p > 0x7e)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_group(const struct st_snap *s, char kind)
{
    const char *sep = "";
    putchar('{');
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].kind == kind) {
            printf("%s\"%s\":%llu", sep, s->f[i].name,
                   (unsigned long long)s->f[i].value);
            sep = ",";
        }
    putchar('}');
}

static void print_json(const struct st_opts *o, const struct st_snap *prev,
                       const struct st_snap *s)
{
    double dt = seconds_between(prev, s);
    const char *sep = "";
    printf("{\"path\":");
    put_json_string(o->path);
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].kind == 's') {
            printf(",\"%s\":", s->f[i].name);
            put_json_string(s->f[i].text);
        }
    printf(",\"gauges\":");
    json_group(s, 'g');
    printf(",\"counters\":");
    json_group(s, 'c');
    printf(",\"interval_s\":%.3f,\"rates\":{", dt);
    for (size_t i = 0; i < s->n; i++) {
        double r = rate_of(prev, &s->f[i], dt);
        if (r >= 0) {
            printf("%s\"%s\":%.3f", sep, s->f[i].name, r);
            sep = ",";
        }
    }
    printf("}}\n");
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

/* Sleep s seconds, or until Ctrl-C. */
static void pause_for(double s)
{
    uint64_t until = tool_now_ns() + (uint64_t)(s * 1e9);
    for (int i = 0; i < 100000 && !tool_stop_requested(); i++) {
        uint64_t now = tool_now_ns();
        if (now >= until)
            return;
        uint64_t ns = until - now < 100000000u ? until - now : 100000000u;
        struct timespec ts = { 0, (long)ns };
        nanosleep(&ts, NULL);
    }
}

static int run(const struct st_opts *o)
{
    static struct st_snap snaps[2];
    static char buf[ST_READ_MAX];
    struct st_snap *prev = NULL, *cur = &snaps[0];
    int redraw = !o->json && isatty(STDOUT_FILENO) && o->count != 1;
    for (uint64_t i = 0; o->count == 0 || i < o->count; i++) {
        int timed_out;
        if (i > 0) {
            pause_for(o->interval_s);
            if (tool_stop_requested())
                break;
        }
        ssize_t n = fetch(o->path, buf, sizeof buf, &timed_out);
        if (n < 0)
            return timed_out ? TOOL_EXIT_TIMEOUT : TOOL_EXIT_FAIL;
        if (parse(o->path, buf, cur) != 0)
            return TOOL_EXIT_FAIL;
        if (o->json)
            print_json(o, prev, cur);
        else
            print_human(o, prev, cur, redraw);
        prev = cur;
        cur = cur == &snaps[0] ? &snaps[1] : &snaps[0];
    }
    return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-stat PATH [--interval S] [--count N] [--json]\n"
"       cohort-stat --help | --version\n"
"\n"
"Print the counters of the running member whose stats socket is PATH\n"
"(cohort_config.stats_socket; cohort-kvd --stats-socket), with their\n"
"rates, every S seconds until Ctrl-C or N snapshots.\n"
"  --interval S   seconds between snapshots (default 1)\n"
"  --count N      stop after N snapshots (default: until interrupted;\n"
"                 1: one snapshot, no rates)\n"
"  --json         one JSON object per snapshot, one a line\n"
"Exit status: 0 done, 1 no snapshot (no such socket, permission, not a\n"
"member), 2 bad usage, 3 the member did not answer within 2 s.\n");
}

static const struct option long_opts[] = {
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "count", required_argument, NULL, OPT_COUNT },
    { "json", no_argument, NULL, OPT_JSON },
    { "help", no_argument, NULL, TOOL_OPT_HELP },
    { "version", no_argument, NULL, TOOL_OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

static int parse_args(int argc, char **argv, struct st_opts *o)
{
    struct tool_net unused;
    int opt;
    tool_net_init(&unused, NULL);
    o->interval_s = 1.0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1) {
        int bad = 0;
        if (opt == OPT_INTERVAL)
            bad = tool_parse_seconds("interval", optarg, 3600.0,
                                     &o->interval_s) != 0;
        else if (opt == OPT_COUNT)
            bad = tool_parse_u64("count", optarg, 1, 1000000000u,
                                 &o->count) != 0;
        else if (opt == OPT_JSON)
            o->json = 1;
        else {
            int r = tool_common_option(&unused, opt, optarg, argv, usage);
            if (r != TOOL_OPT_NEXT)
                return r == TOOL_OPT_OWN ? TOOL_EXIT_USAGE : r;
        }
        if (bad)
            return TOOL_EXIT_USAGE;
    }
    if (optind >= argc || argv[optind][0] == '\0') {
        tool_err("needs the PATH of a member's stats socket (try --help)");
        return TOOL_EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        tool_err("unexpected argument '%s': one PATH only (try --help)",
                 argv[optind + 1]);
        return TOOL_EXIT_USAGE;
    }
    o->path = argv[optind];
    return -1;
}

int main(int argc, char **argv)
{
    static struct st_opts o;
    int rc;
    tool_set_progname(argv[0]);
    rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    tool_catch_signals();
    return run(&o);
}
