/*
 * cohort-pub - publish events to a group from a shell script: one message
 * (-m), a file (-f) or every line of stdin (-l), each under a topic, then
 * wait until every member of the view holds them (cohort_drain) and leave.
 *
 * Every event is a cohort message whose payload starts with the small
 * header of topic.h (docs/protocol.md, "Events of cohort-pub"); cohort-sub
 * decodes it and filters on the topic. Filtering happens at the receiver:
 * every member of the group receives every event.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cohort.h"
#include "common.h"
#include "topic.h"

#define PUB_DEFAULT_TOPIC "events"
#define PUB_DEFAULT_TIMEOUT_S 10.0
#define PUB_FILE_MAX (16u << 20)     /* -f: the library's default
                                        max_message, header included */
#define PUB_LINE_MAX 65536           /* -l: longest line */
#define PUB_POLL_CAP_MS 100
#define PUB_EVENTS_PER_TURN 1000     /* events taken between sends */

enum pub_opt {
    OPT_TIMEOUT = TOOL_OPT__END,
    OPT_WAIT_MEMBERS,
    OPT_LINE_TOPICS,
};

enum pub_source { SRC_NONE, SRC_MESSAGE, SRC_FILE, SRC_LINES };

struct pub_opts {
    struct tool_net net;
    enum pub_source source;
    const char *message;         /* -m */
    const char *file;            /* -f, "-" for stdin */
    const char *topic;
    double timeout_s;
    uint64_t wait_members;
    int verbose;
    int line_topics;             /* -l: each line starts with its topic */
    int sources_given;
};

struct pub {
    struct pub_opts o;
    cohort_t *c;
    uint8_t *buf;                /* header + one event's payload */
    size_t file_len;             /* -f: the payload's length */
    size_t buf_cap;
    size_t header_len;
    uint64_t sent;               /* events accepted by cohort_send */
    size_t others_max;           /* most other members seen in the view
                                    while publishing */
    char line[PUB_LINE_MAX + 1];
    size_t line_len;
    uint64_t line_no;
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-pub [options] (-m TEXT | -f FILE | -l)\n"
"  -m, --message TEXT    publish TEXT as one event\n"
"  -f, --file FILE       publish the contents of FILE (- for stdin) as one\n"
"                        event\n"
"  -l, --lines           publish every line of stdin as its own event (the\n"
"                        newline is not sent; empty lines are skipped)\n"
"  --line-topics         with -l: each line is TOPIC, a space, and the\n"
"                        payload (so one publisher serves many topics)\n"
"  -t, --topic TOPIC     topic of the events (default: events); levels\n"
"                        separated by '/', no spaces, '*' or '#'\n"
"  --timeout SECONDS     wait at most this long for the group at start,\n"
"                        for room to send each event, and for the events\n"
"                        to be held by every member at the end (default 10)\n"
"  --wait-members N      before publishing, wait until N other members are\n"
"                        in the view (default 0: the first view will do)\n"
"  -v, --verbose         say on stderr what was published to whom\n");
    tool_usage_net(f, "events", NULL);
    fprintf(f,
"  -h, --help, -V, --version\n"
"exit status: 0 every event is held by every member of the view, 1 error,\n"
"2 bad usage, 3 timeout (the group, room to send, or stability)\n");
}

static const struct option long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "message", required_argument, NULL, 'm' },
    { "file", required_argument, NULL, 'f' },
    { "lines", no_argument, NULL, 'l' },
    { "topic", required_argument, NULL, 't' },
    { "verbose", no_argument, NULL, 'v' },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "wait-members", required_argument, NULL, OPT_WAIT_MEMBERS },
    { "line-topics", no_argument, NULL, OPT_LINE_TOPICS },
    { NULL, 0, NULL, 0 },
};

static int check_topic(const char *opt, const char *t, int pattern)
{
    int r = topic_check(t, strlen(t), pattern);
    if (r != TOPIC_OK) {
        tool_err("%s '%s': %s", opt, t, topic_error_text(r));
        return -1;
    }
    return 0;
}

static int pub_option(void *ctx, int opt, const char *arg)
{
    struct pub_opts *o = ctx;
    switch (opt) {
    case 'm': o->source = SRC_MESSAGE; o->message = arg; break;
    case 'f': o->source = SRC_FILE; o->file = arg; break;
    case 'l': o->source = SRC_LINES; break;
    case 'v': o->verbose = 1; return 0;
    case OPT_LINE_TOPICS: o->line_topics = 1; return 0;
    case 't':
        o->topic = arg;
        return check_topic("--topic", arg, 0);
    case OPT_TIMEOUT:
        return tool_parse_seconds("timeout", arg, 86400.0, &o->timeout_s);
    case OPT_WAIT_MEMBERS:
        return tool_parse_u64("wait-members", arg, 0, 1000,
                              &o->wait_members);
    default:
        return -1;
    }
    o->sources_given++;
    return 0;
}

static int parse_args(void *opts, int argc, char **argv)
{
    struct pub_opts *o = &((struct pub *)opts)->o;
    int r;
    tool_net_init(&o->net, "events");
    o->topic = PUB_DEFAULT_TOPIC;
    o->timeout_s = PUB_DEFAULT_TIMEOUT_S;
    r = tool_parse_options_short(&o->net, argc, argv, "m:f:lt:v", long_opts,
                                 usage, pub_option, o);
    if (r != TOOL_OPT_NEXT)
        return r;
    if (o->sources_given != 1) {
        tool_err("%s (try --help)", o->sources_given == 0
                     ? "nothing to publish: give -m TEXT, -f FILE or -l"
                     : "give only one of -m, -f and -l");
        return TOOL_EXIT_USAGE;
    }
    if (o->line_topics && o->source != SRC_LINES) {
        tool_err("--line-topics goes with -l (try --help)");
        return TOOL_EXIT_USAGE;
    }
    return tool_net_check(&o->net) == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* The group                                                           */
/* ------------------------------------------------------------------ */

static uint64_t timeout_ns(const struct pub *p)
{
    return (uint64_t)(p->o.timeout_s * 1e9);
}

static void on_event(void *ctx, const cohort_event_t *ev)
{
    (void)ctx;
    /* A publisher delivers nothing (self-delivery is off); what it hears
     * that matters to the user is a warning (another key, lost data). */
    if (ev->type == COHORT_EVENT_WARNING)
        tool_print_warning(ev);
}

static void take_events(struct pub *p)
{
    size_t others;
    (void)tool_drain_events(p->c, PUB_EVENTS_PER_TURN, on_event, p);
    others = tool_others(p->c);
    if (p->sent > 0 && others > p->others_max)
        p->others_max = others;
}

static int in_view(const struct pub *p)
{
    return cohort_view(p->c, NULL, NULL, 0) > 0;
}

/* Wait, bounded by --timeout, for the first view with --wait-members
 * others in it. */
static int wait_for_group(struct pub *p)
{
    uint64_t deadline = tool_now_ns() + timeout_ns(p);
    while (!in_view(p) || tool_others(p->c) < p->o.wait_members) {
        int r;
        if (tool_stop_requested())
            return TOOL_EXIT_FAIL;
        if (tool_now_ns() >= deadline) {
            if (!in_view(p))
                tool_err("timeout: no view of group '%s' within %g s; "
                         "nothing published", p->o.net.group, p->o.timeout_s);
            else
                tool_err("timeout: %zu of %llu other members in the view "
                         "within %g s; nothing published", tool_others(p->c),
                         (unsigned long long)p->o.wait_members,
                         p->o.timeout_s);
            return TOOL_EXIT_TIMEOUT;
        }
        r = tool_poll_process(p->c, -1, tool_ms_until(deadline,
                                                      PUB_POLL_CAP_MS), NULL);
        if (r < 0) {
            tool_err_cohort("process", r);
            return TOOL_EXIT_FAIL;
        }
        take_events(p);
    }
    return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Publishing                                                          */
/* ------------------------------------------------------------------ */

/* Put the header for topic at the start of buf. */
static int set_topic(struct pub *p, const char *topic, size_t len)
{
    p->header_len = topic_header_encode(p->buf, p->buf_cap, topic, len);
    if (p->header_len == 0) {
        tool_err("internal: no room for the topic");
        return -1;
    }
    return 0;
}

/* Room for the header and payload_max bytes, with the header of --topic
 * in place. */
static int buf_init(struct pub *p, size_t payload_max)
{
    p->buf_cap = TOPIC_HEADER_MAX + payload_max;
    p->buf = malloc(p->buf_cap);
    if (p->buf == NULL) {
        tool_err("out of memory");
        return -1;
    }
    return set_topic(p, p->o.topic, strlen(p->o.topic));
}

/* -f: read the whole file (or stdin) after the header before joining, so
 * a slow producer cannot keep the member silent (and dropped from the
 * view) while it waits. Grows buf up to PUB_FILE_MAX. */
static int load_file(struct pub *p)
{
    int is_stdin = strcmp(p->o.file, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(p->o.file, "rb");
    int rc = 0;
    if (f == NULL) {
        tool_err("-f %s: %s", p->o.file, strerror(errno));
        return -1;
    }
    if (buf_init(p, 65536) != 0)
        rc = -1;
    p->file_len = 0;
    while (rc == 0) {
        size_t room = p->buf_cap - p->header_len - p->file_len;
        size_t n = fread(p->buf + p->header_len + p->file_len, 1, room, f);
        p->file_len += n;
        if (n < room)
            break;
        if (p->buf_cap == PUB_FILE_MAX) {
            if (getc(f) == EOF)
                break;           /* it fits exactly */
            tool_err("-f %s: larger than %u bytes with its header",
                     p->o.file, PUB_FILE_MAX);
            rc = -1;
        } else {
            size_t cap = p->buf_cap * 2 > PUB_FILE_MAX ? PUB_FILE_MAX
                                                       : p->buf_cap * 2;
            uint8_t *grown = realloc(p->buf, cap);
            if (grown == NULL) {
                tool_err("out of memory");
                rc = -1;
            } else {
                p->buf = grown;
                p->buf_cap = cap;
            }
        }
    }
    if (rc == 0 && ferror(f)) {
        tool_err("-f %s: %s", p->o.file, strerror(errno));
        rc = -1;
    }
    if (!is_stdin)
        fclose(f);
    return rc;
}

/* Send the event whose payload is in buf after the header. */
static int publish(struct pub *p, size_t payload_len)
{
    size_t len = p->header_len + payload_len;
    int ms = (int)(p->o.timeout_s * 1000.0);
    int r = cohort_send_wait(p->c, p->o.net.mode, p->buf, len, ms);
    if (r == 0)
        r = cohort_flush(p->c);
    take_events(p);
    if (r == 0) {
        if (p->sent++ == 0)
            p->others_max = tool_others(p->c);
        return TOOL_EXIT_OK;
    }
    if (r == COHORT_ERR_TIMEDOUT) {
        tool_err("timeout: no room to send event %llu within %g s (the "
                 "slowest member is too far behind)",
                 (unsigned long long)p->sent + 1, p->o.timeout_s);
        return TOOL_EXIT_TIMEOUT;
    }
    if (r == COHORT_ERR_TOOBIG)
        tool_err("event %llu: %zu bytes with its header; %s events hold "
                 "at most %zu", (unsigned long long)p->sent + 1, len,
                 tool_mode_name(p->o.net.mode),
                 cohort_max_payload(p->c, p->o.net.mode));
    else
        tool_err_cohort("send", r);
    return TOOL_EXIT_FAIL;
}

static int publish_bytes(struct pub *p, const void *data, size_t len)
{
    /* buf holds the longest -m or -l payload (buf_init). */
    if (len > p->buf_cap - p->header_len) {
        tool_err("internal: event larger than its buffer");
        return TOOL_EXIT_FAIL;
    }
    memcpy(p->buf + p->header_len, data, len);
    return publish(p, len);
}

/* -l: one line (without its newline) as an event; empty lines are
 * skipped. */
static int publish_line(struct pub *p, const char *s, size_t len)
{
    const char *space;
    size_t tlen;
    int r;
    p->line_no++;
    if (len > 0 && s[len - 1] == '\r')
        len--;                           /* CRLF input */
    if (len == 0)
        return TOOL_EXIT_OK;
    if (!p->o.line_topics)
        return publish_bytes(p, s, len);
    space = memchr(s, ' ', len);
    tlen = space ? (size_t)(space - s) : len;
    r = topic_check(s, tlen, 0);
    if (r != TOPIC_OK) {
        tool_err("-l: line %llu: the topic before the first space: %s",
                 (unsigned long long)p->line_no, topic_error_text(r));
        return TOOL_EXIT_FAIL;
    }
    if (set_topic(p, s, tlen) != 0)
        return TOOL_EXIT_FAIL;
    return space ? publish_bytes(p, space + 1, len - tlen - 1)
                 : publish_bytes(p, s + len, 0);
}

/* -l: send the complete lines in p->line; with at_eof the unterminated
 * rest too. */
static int publish_lines(struct pub *p, int at_eof)
{
    size_t start = 0;
    int rc = TOOL_EXIT_OK;
    for (size_t i = 0; i < p->line_len && rc == TOOL_EXIT_OK; i++) {
        if (p->line[i] != '\n')
            continue;
        rc = publish_line(p, p->line + start, i - start);
        start = i + 1;
    }
    if (rc == TOOL_EXIT_OK && at_eof && start < p->line_len) {
        rc = publish_line(p, p->line + start, p->line_len - start);
        start = p->line_len;
    }
    memmove(p->line, p->line + start, p->line_len - start);
    p->line_len -= start;
    if (rc == TOOL_EXIT_OK && p->line_len == PUB_LINE_MAX) {
        tool_err("-l: line %llu is longer than %d bytes (use -f for large "
                 "events)", (unsigned long long)p->line_no + 1, PUB_LINE_MAX);
        rc = TOOL_EXIT_FAIL;
    }
    return rc;
}

/* -l: read stdin while keeping the group running, until EOF. */
static int publish_stdin_lines(struct pub *p)
{
    for (;;) {
        short rev = 0;
        ssize_t n;
        int r = tool_poll_process(p->c, STDIN_FILENO, PUB_POLL_CAP_MS, &rev);
        if (r < 0) {
            tool_err_cohort("process", r);
            return TOOL_EXIT_FAIL;
        }
        take_events(p);
        if (tool_stop_requested())
            return publish_lines(p, 1);
        if (!(rev & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = read(STDIN_FILENO, p->line + p->line_len,
                 PUB_LINE_MAX - p->line_len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            tool_err("-l: reading stdin: %s", strerror(errno));
            return TOOL_EXIT_FAIL;
        }
        if (n == 0)
            return publish_lines(p, 1);
        p->line_len += (size_t)n;
        r = publish_lines(p, 0);
        if (r != TOOL_EXIT_OK)
            return r;
    }
}

/* ------------------------------------------------------------------ */
/* Stability                                                           */
/* ------------------------------------------------------------------ */

/* Wait, bounded by --timeout, until every member of the view holds
 * everything sent (unreliable events are never waited for). */
static int wait_stable(struct pub *p)
{
    uint64_t deadline = tool_now_ns() + timeout_ns(p);
    /* A signal that ended -l's input is its EOF: still wait (bounded). */
    int stopped_before = tool_stop_requested();
    for (;;) {
        int r = cohort_drain(p->c, tool_ms_until(deadline, PUB_POLL_CAP_MS));
        take_events(p);
        if (r == 0)
            return TOOL_EXIT_OK;
        if (r != COHORT_ERR_TIMEDOUT) {
            tool_err_cohort("drain", r);
            return TOOL_EXIT_FAIL;
        }
        if (!stopped_before && tool_stop_requested()) {
            tool_err("interrupted before every member held the events");
            return TOOL_EXIT_FAIL;
        }
        if (tool_now_ns() >= deadline) {
            struct cohort_stats st;
            memset(&st, 0, sizeof st);
            st.struct_size = sizeof st;
            (void)cohort_stats(p->c, &st);
            tool_err("timeout: %llu event%s sent, but after %g s not every "
                     "member of the view (%zu other%s) holds them (%llu "
                     "bytes unconfirmed)", (unsigned long long)p->sent,
                     p->sent == 1 ? "" : "s", p->o.timeout_s,
                     tool_others(p->c), tool_others(p->c) == 1 ? "" : "s",
                     (unsigned long long)st.send_window_used_bytes);
            return TOOL_EXIT_TIMEOUT;
        }
    }
}

static int publish_all(struct pub *p)
{
    switch (p->o.source) {
    case SRC_MESSAGE:
        return publish_bytes(p, p->o.message, strlen(p->o.message));
    case SRC_FILE:
        return publish(p, p->file_len);
    case SRC_LINES:
        return publish_stdin_lines(p);
    default:
        return TOOL_EXIT_USAGE;
    }
}

/* What -m, -f or -l need before joining: the buffer, and -f's bytes. */
static int prepare(struct pub *p)
{
    if (p->o.source == SRC_FILE)
        return load_file(p);
    return buf_init(p, p->o.source == SRC_MESSAGE ? strlen(p->o.message)
                                                   : PUB_LINE_MAX);
}

static int run(void *opts)
{
    struct pub *p = opts;
    struct cohort_config cfg;
    int rc;
    if (prepare(p) != 0) {
        free(p->buf);
        return TOOL_EXIT_FAIL;
    }
    tool_config(&p->o.net, &cfg);
    cfg.self_delivery = 0;       /* a publisher does not read its events */
    if (tool_open(&cfg, &p->c) != 0) {
        free(p->buf);
        return TOOL_EXIT_FAIL;
    }
    rc = wait_for_group(p);
    if (rc == TOOL_EXIT_OK)
        rc = publish_all(p);
    if (rc == TOOL_EXIT_OK)
        rc = wait_stable(p);
    if (rc == TOOL_EXIT_OK && p->sent > 0 && p->others_max == 0)
        tool_err("note: no other member was in the view: nobody received "
                 "the events (--wait-members N waits for subscribers)");
    else if (rc == TOOL_EXIT_OK && p->o.verbose)
        tool_err("%llu event%s held by every member of the view (up to "
                 "%zu other%s while publishing)", (unsigned long long)p->sent,
                 p->sent == 1 ? "" : "s", p->others_max,
                 p->others_max == 1 ? "" : "s");
    cohort_close(p->c);
    free(p->buf);
    return rc;
}

int main(int argc, char **argv)
{
    static struct pub p;
    return tool_main(argc, argv, &p, parse_args, run);
}
