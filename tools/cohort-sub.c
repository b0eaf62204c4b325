/*
 * cohort-sub - print the events cohort-pub publishes to a group, one a
 * line, as text or as JSON lines, filtered by topic at this receiver
 * (every member of the group receives every event; the filter only
 * decides what is printed).
 *
 * Traffic the library refuses (another key, key id or security mode)
 * arrives as WARNING events: they are said on stderr, and a run that
 * printed nothing while such traffic was heard ends with its own exit
 * status, so a script can tell "wrong key" from "no events".
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cohort.h"
#include "common.h"
#include "escape.h"
#include "topic.h"

#define SUB_PATTERNS_MAX 32
#define SUB_POLL_CAP_MS 1000
#define SUB_EVENTS_PER_TURN 1000

/* Exit statuses beyond the shared ones (common.h). */
#define SUB_EXIT_REFUSED 4   /* nothing printed; the group's traffic was
                                refused (key, key id or security mode) */

enum sub_opt {
    OPT_FORMAT = TOOL_OPT__END,
    OPT_TIMEOUT,
};

enum sub_format { FORMAT_TEXT, FORMAT_JSON };

struct sub_opts {
    struct tool_net net;
    const char *patterns[SUB_PATTERNS_MAX];
    size_t n_patterns;
    enum sub_format format;
    uint64_t count;              /* -C; 0: no limit */
    double timeout_s;            /* 0: none */
    int verbose;
};

struct sub {
    struct sub_opts o;
    cohort_t *c;
    uint64_t printed;
    uint64_t not_events;         /* messages that are not cohort-pub's */
    uint64_t refused_warnings;   /* AUTH, KEY_UNKNOWN, SECURITY_MODE */
    uint64_t aes_hints;          /* of those, about AES-256-GCM */
    int output_failed;
    int output_closed;           /* the reader went away (EPIPE) */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-sub [options]\n"
"  -t, --topic PATTERN   print only events whose topic matches PATTERN\n"
"                        (repeatable: any of them; default: #). A level\n"
"                        '*' matches exactly one level, a last level '#'\n"
"                        matches zero or more levels: a/* matches a/b,\n"
"                        a/# matches a, a/b and a/b/c\n"
"  --format text|json    text (default): TOPIC PAYLOAD, one line, bytes\n"
"                        that could drive a terminal escaped (\\n, \\xHH);\n"
"                        json: one object per line (sender, sender_id,\n"
"                        incarnation, topic, received, encoding, payload)\n"
"  -C, --count COUNT     exit after COUNT events printed\n"
"  --timeout SECONDS     exit after this long\n"
"  -v, --verbose         say on stderr who joins and leaves, and at the\n"
"                        end what was received and repaired\n");
    tool_usage_net(f, "events", "accepted for symmetry with cohort-pub:\n"
                   "                        events of either mode are printed");
    fprintf(f,
"  -h, --help, -V, --version\n"
"exit status: 0 COUNT events printed (or, without -C, the timeout or a\n"
"signal ended it), 1 error, 2 bad usage, 3 timeout before COUNT events,\n"
"4 nothing printed while the group's traffic was refused (another key,\n"
"key id or security mode: see stderr)\n");
}

static const struct option long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "topic", required_argument, NULL, 't' },
    { "count", required_argument, NULL, 'C' },
    { "verbose", no_argument, NULL, 'v' },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { NULL, 0, NULL, 0 },
};

static int add_pattern(struct sub_opts *o, const char *arg)
{
    int r = topic_check(arg, strlen(arg), 1);
    if (r != TOPIC_OK) {
        tool_err("--topic '%s': %s", arg, topic_error_text(r));
        return -1;
    }
    if (o->n_patterns == SUB_PATTERNS_MAX) {
        tool_err("--topic: at most %d patterns", SUB_PATTERNS_MAX);
        return -1;
    }
    o->patterns[o->n_patterns++] = arg;
    return 0;
}

static int sub_option(void *ctx, int opt, const char *arg)
{
    struct sub_opts *o = ctx;
    switch (opt) {
    case 't':
        return add_pattern(o, arg);
    case 'C':
        return tool_parse_u64("count", arg, 1, UINT64_MAX, &o->count);
    case 'v':
        o->verbose = 1;
        return 0;
    case OPT_TIMEOUT:
        return tool_parse_seconds("timeout", arg, 86400.0 * 365,
                                  &o->timeout_s);
    case OPT_FORMAT:
        if (strcmp(arg, "text") == 0)
            o->format = FORMAT_TEXT;
        else if (strcmp(arg, "json") == 0)
            o->format = FORMAT_JSON;
        else {
            tool_err("--format: expected text or json, got '%s'", arg);
            return -1;
        }
        return 0;
    default:
        return -1;
    }
}

static int parse_args(void *opts, int argc, char **argv)
{
    struct sub_opts *o = &((struct sub *)opts)->o;
    int r;
    tool_net_init(&o->net, "events");
    r = tool_parse_options_short(&o->net, argc, argv, "t:C:v", long_opts,
                                 usage, sub_option, o);
    if (r != TOOL_OPT_NEXT)
        return r;
    if (o->n_patterns == 0)
        o->patterns[o->n_patterns++] = "#";
    return tool_net_check(&o->net) == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static int selected(const struct sub *s, const struct topic_event *te)
{
    for (size_t i = 0; i < s->o.n_patterns; i++) {
        const char *p = s->o.patterns[i];
        if (topic_match(p, strlen(p), te->topic, te->topic_len))
            return 1;
    }
    return 0;
}

/* "2026-12-02T16:49:31.123Z": the wall-clock time, UTC, to the ms. */
static void format_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    size_t n;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void print_json(const cohort_event_t *ev, const struct topic_event *te)
{
    const char *name = ev->u.message.sender_name;
    char when[40];
    int text = esc_utf8_valid(te->payload, te->payload_len);
    format_now(when, sizeof when);
    fputs("{\"sender\":", stdout);
    esc_json_string(stdout, (const uint8_t *)(name ? name : ""),
                    name ? strlen(name) : 0);
    printf(",\"sender_id\":\"%08x\",\"incarnation\":%u,\"topic\":",
           (unsigned)ev->u.message.sender.id,
           (unsigned)ev->u.message.sender.incarnation);
    esc_json_string(stdout, (const uint8_t *)te->topic, te->topic_len);
    printf(",\"received\":\"%s\",\"encoding\":\"%s\",\"payload\":", when,
           text ? "text" : "base64");
    if (text) {
        esc_json_string(stdout, te->payload, te->payload_len);
    } else {
        putchar('"');
        esc_base64(stdout, te->payload, te->payload_len);
        putchar('"');
    }
    fputs("}\n", stdout);
}

static void print_text(const struct topic_event *te)
{
    fwrite(te->topic, 1, te->topic_len, stdout);
    putchar(' ');
    esc_text(stdout, te->payload, te->payload_len);
    putchar('\n');
}

static void on_message(struct sub *s, const cohort_event_t *ev)
{
    struct topic_event te;
    int r = topic_decode(ev->u.message.data, ev->u.message.len, &te);
    if (r != TOPIC_OK) {
        /* Another application in the group (cohort-chat, ...): skip it,
         * and say so once. */
        if (s->not_events++ == 0)
            tool_err("note: skipping messages that are not cohort-pub "
                     "events (the first, from %08x: %s)",
                     (unsigned)ev->u.message.sender.id, topic_error_text(r));
        return;
    }
    if (!selected(s, &te))
        return;
    if (s->o.format == FORMAT_JSON)
        print_json(ev, &te);
    else
        print_text(&te);
    s->printed++;
}

static int refused_code(int code)
{
    return code == COHORT_ERR_AUTH || code == COHORT_ERR_KEY_UNKNOWN ||
           code == COHORT_ERR_SECURITY_MODE;
}

static void on_member(const struct sub *s, const cohort_event_t *ev)
{
    const char *name = ev->u.member.name;
    if (!s->o.verbose)
        return;
    tool_err("%08x (%s) %s", (unsigned)ev->u.member.member.id,
             name && name[0] ? name : "no name",
             ev->type == COHORT_EVENT_MEMBER_JOINED ? "joined" : "left");
}

static int done(const struct sub *s)
{
    return s->output_failed || s->output_closed ||
           (s->o.count != 0 && s->printed >= s->o.count);
}

static void on_event(void *ctx, const cohort_event_t *ev)
{
    struct sub *s = ctx;
    if (done(s))
        return;                  /* -C reached: print no more */
    switch (ev->type) {
    case COHORT_EVENT_MESSAGE:
        on_message(s, ev);
        return;
    case COHORT_EVENT_WARNING:
        tool_print_warning(ev);
        if (!refused_code(ev->u.warning.code))
            return;
        /* The core's texts name AES-256-GCM when it is the cause: here
         * ("datagrams sealed with AES-256-GCM, which this member cannot
         * open"), or at another member, which then refuses nothing here
         * ("... which this one seals with"). */
        const char *t = ev->u.warning.text ? ev->u.warning.text : "";
        if (strstr(t, "which this one seals with") != NULL)
            return;
        if (strstr(t, "datagrams sealed with AES-256-GCM") != NULL) {
            if (s->aes_hints++ == 0)
                tool_err("hint: this machine cannot open AES-256-GCM; give "
                         "the member set to --cipher aes256gcm the "
                         "default, fastest, which gives way to such "
                         "members");
        } else if (s->refused_warnings - s->aes_hints == 0) {
            tool_err("hint: traffic of this group is refused here; if "
                     "events are missing, check --key and --security "
                     "against the publisher's");
        }
        s->refused_warnings++;
        return;
    case COHORT_EVENT_MEMBER_JOINED:
    case COHORT_EVENT_MEMBER_LEFT:
        on_member(s, ev);
        return;
    default:
        return;
    }
}

static void flush_output(struct sub *s)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return;
    if (errno == EPIPE) {
        s->output_closed = 1;    /* e.g. "| head -n 1": end quietly */
        return;
    }
    tool_err("writing to stdout: %s", strerror(errno));
    s->output_failed = 1;
}

/* ------------------------------------------------------------------ */
/* Main loop                                                           */
/* ------------------------------------------------------------------ */

/* How a run that did not fail ends: see the exit statuses in usage(). */
static int ending(const struct sub *s, int timed_out)
{
    struct cohort_stats st;
    uint64_t auth, key_id, mode;
    int plain = timed_out && s->o.count != 0 ? TOOL_EXIT_TIMEOUT
                                             : TOOL_EXIT_OK;
    if (s->printed > 0 || s->output_closed)
        return plain;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    (void)cohort_stats(s->c, &st);
    auth = st.drops[COHORT_DROP_AUTH];
    key_id = st.drops[COHORT_DROP_KEY_UNKNOWN];
    mode = st.drops[COHORT_DROP_SECURITY_MODE];
    if (s->refused_warnings > 0 || auth + key_id + mode > 0) {
        tool_err("no events: datagrams of the group were refused (%llu "
                 "failed authentication, %llu sealed with a key id not "
                 "held, %llu in another security mode): is --key the "
                 "publisher's key, with the same --security?",
                 (unsigned long long)auth, (unsigned long long)key_id,
                 (unsigned long long)mode);
        return SUB_EXIT_REFUSED;
    }
    return plain;
}

static int run_loop(struct sub *s)
{
    uint64_t deadline = 0;
    if (s->o.timeout_s > 0.0)
        deadline = tool_now_ns() + (uint64_t)(s->o.timeout_s * 1e9);
    for (;;) {
        int ms = deadline ? tool_ms_until(deadline, SUB_POLL_CAP_MS)
                          : SUB_POLL_CAP_MS;
        int r = tool_poll_process(s->c, -1, ms, NULL);
        if (r < 0) {
            tool_err_cohort("process", r);
            return TOOL_EXIT_FAIL;
        }
        /* Bounded by the library's event queue; more come next turn. */
        (void)tool_drain_events(s->c, SUB_EVENTS_PER_TURN, on_event, s);
        flush_output(s);
        if (s->output_failed)
            return TOOL_EXIT_FAIL;
        if (done(s) || tool_stop_requested())
            return ending(s, 0);
        if (deadline && tool_now_ns() >= deadline) {
            if (s->o.count != 0)
                tool_err("timeout: %llu of %llu events within %g s",
                         (unsigned long long)s->printed,
                         (unsigned long long)s->o.count, s->o.timeout_s);
            return ending(s, 1);
        }
    }
}

/* -v: what this subscriber received and how much loss it repaired. */
static void print_summary(const struct sub *s)
{
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (cohort_stats(s->c, &st) != 0)
        return;
    tool_err("%llu event%s printed, %llu other message%s skipped; %llu "
             "datagrams received, %llu NACKs sent, %llu datagrams dropped",
             (unsigned long long)s->printed, s->printed == 1 ? "" : "s",
             (unsigned long long)s->not_events,
             s->not_events == 1 ? "" : "s",
             (unsigned long long)st.datagrams_received,
             (unsigned long long)st.nacks_sent,
             (unsigned long long)st.drops_total);
}

static int run(void *opts)
{
    struct sub *s = opts;
    struct cohort_config cfg;
    int rc;
    tool_config(&s->o.net, &cfg);
    if (tool_open(&cfg, &s->c) != 0)
        return TOOL_EXIT_FAIL;
    rc = run_loop(s);
    if (s->o.verbose)
        print_summary(s);
    cohort_close(s->c);
    return rc;
}

int main(int argc, char **argv)
{
    static struct sub s;
    return tool_main(argc, argv, &s, parse_args, run);
}
