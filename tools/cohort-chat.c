/*
 * cohort-chat - a line-oriented group chat, and the smallest complete
 * example of an application built on cohort's event-loop API:
 *
 *     poll(cohort_fd + stdin, cohort_timeout_ms)  ->  cohort_process
 *     ->  cohort_next_event ...
 *
 * Lines read from stdin (or from --script) are sent to the group; other
 * members' lines are printed as "[name] text"; membership changes as
 * "* name joined" / "* name left (timeout)", agreed views as "* view ...";
 * the line "/members" lists the current view and "/mode NAME" switches
 * the delivery mode of the lines that follow (unreliable, fifo, total:
 * one order at every member, safe: delivered once every member holds it).
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

#define CHAT_LINE_MAX 4096           /* longer input is sent in pieces */
#define CHAT_SCRIPT_MAX_BYTES (1u << 20)
#define CHAT_SCRIPT_MAX_LINES 10000
#define CHAT_DRAIN_MS 3000           /* bounded graceful leave */
#define CHAT_SEND_WAIT_MS 5000       /* flow control: give up after this */
#define CHAT_WAIT_MEMBERS_MS 10000   /* --wait-members gives up after this */
#define CHAT_SETTLE_NS 300000000u    /* let the others hear us, too */
#define CHAT_POLL_CAP_MS 1000

enum chat_opt {
    OPT_SCRIPT = TOOL_OPT__END,
    OPT_EXIT_AFTER,
    OPT_QUIET,
    OPT_DELAY,
    OPT_WAIT_MEMBERS,
};

struct chat_opts {
    struct tool_net net;
    const char *script;          /* file or "-"; NULL: interactive */
    double exit_after_s;         /* 0: none */
    uint64_t delay_ms;           /* between script lines */
    uint64_t wait_members;       /* others to wait for before the script */
    int quiet;
};

/* A script, read whole at start so reading it never blocks the loop. */
struct chat_script {
    char *text;
    size_t len, pos;
    uint64_t next_ns;
    int done;
};

struct chat {
    struct chat_opts o;
    cohort_t *c;
    cohort_mode_t mode;
    struct chat_script script;
    int stdin_open;
    char line[CHAT_LINE_MAX];
    size_t line_len;
    uint64_t exit_at_ns;         /* 0: none */
    uint64_t start_ns;
    int waiting_members;         /* the script waits for --wait-members */
    uint64_t members_deadline_ns;
    int failed;
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-chat [options]\n"
"  --group NAME          group to join (default: chat)\n"
"  --name NAME           name shown to others (default: host:pid)\n"
"  --interface IF        interface or local address (default: lo)\n"
"  --address ADDR        multicast address (default: derived from group)\n"
"  --port P              UDP port (default: the library's, 47100)\n"
"  --ipv6                use IPv6\n"
"  --mode unreliable|fifo|total|safe  delivery mode (default: fifo;\n"
"                        the line /mode NAME switches it)\n"
"  --key FILE            key from cohort-keygen\n"
"  --security auth|encrypt  protection (needs --key)\n"
"  --datagram BYTES      largest UDP payload\n"
"  --faults SPEC         fault injection (testing), as COHORT_FAULTS\n"
"  --script FILE|-       send the lines of FILE instead of reading a\n"
"                        terminal, then wait --exit-after seconds\n"
"  --delay MS            pause between script lines (default: 200)\n"
"  --wait-members N      before the script, wait (at most 10 s) until\n"
"                        N other members are known\n"
"  --exit-after SECONDS  leave after this long (script: after the last\n"
"                        line; default 2 with --script)\n"
"  --quiet               print only messages and errors\n"
"  --help, --version\n");
}

static const struct option long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "script", required_argument, NULL, OPT_SCRIPT },
    { "exit-after", required_argument, NULL, OPT_EXIT_AFTER },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "delay", required_argument, NULL, OPT_DELAY },
    { "wait-members", required_argument, NULL, OPT_WAIT_MEMBERS },
    { NULL, 0, NULL, 0 },
};

static int chat_option(void *ctx, int opt, const char *arg)
{
    struct chat_opts *o = ctx;
    switch (opt) {
    case OPT_SCRIPT: o->script = arg; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_EXIT_AFTER:
        return tool_parse_seconds("exit-after", arg, 86400.0,
                                  &o->exit_after_s);
    case OPT_DELAY:
        return tool_parse_u64("delay", arg, 0, 60000, &o->delay_ms);
    case OPT_WAIT_MEMBERS:
        return tool_parse_u64("wait-members", arg, 0, 1000,
                              &o->wait_members);
    default:
        return -1;
    }
}

/* opts is the struct chat. Returns -1 to continue, else an exit status. */
static int parse_args(void *opts, int argc, char **argv)
{
    struct chat_opts *o = &((struct chat *)opts)->o;
    int r;
    tool_net_init(&o->net, "chat");
    o->net.ordered_ok = 1;
    o->delay_ms = 200;
    r = tool_parse_options(&o->net, argc, argv, long_opts, usage,
                           chat_option, o);
    if (r != TOOL_OPT_NEXT)
        return r;
    if (o->script != NULL && o->exit_after_s == 0.0)
        o->exit_after_s = 2.0;
    return tool_net_check(&o->net) == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* Print untrusted bytes without letting them drive the terminal. */
static void print_sanitized(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        putchar(ch == '\t' || ch >= 0x20 ? (ch == 0x7f ? '?' : ch) : '?');
    }
}

static void print_who(const char *name, cohort_member_t m)
{
    if (name != NULL && name[0] != '\0')
        print_sanitized(name, strlen(name));
    else
        printf("%08x", (unsigned)m.id);
}

static void print_message(const cohort_event_t *ev)
{
    size_t len = ev->u.message.len;
    const char *text = ev->u.message.data;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    putchar('[');
    print_who(ev->u.message.sender_name, ev->u.message.sender);
    printf("] ");
    print_sanitized(text, len);
    putchar('\n');
}

static const char *leave_reason(int reason)
{
    switch (reason) {
    case COHORT_LEFT_GRACEFULLY: return "";
    case COHORT_LEFT_TIMEOUT: return " (timeout)";
    case COHORT_LEFT_RESTARTED: return " (restarted)";
    default: return " (?)";
    }
}

static void print_list(const char *what, const cohort_member_t *m, size_t n)
{
    if (n == 0)
        return;
    printf("; %s", what);
    for (size_t i = 0; i < n; i++)
        printf("%s %08x", i ? "," : "", m[i].id);
}

/* "* view 3.1a2b3c4d: 3 members (primary); joined 5e6f7a8b; failed ..." */
static void print_view(const cohort_event_t *ev)
{
    uint64_t id = ev->u.view.view_id;
    printf("* view %u.%08x: %zu member%s%s", (unsigned)(id >> 32),
           (unsigned)(uint32_t)id, ev->u.view.count,
           ev->u.view.count == 1 ? "" : "s",
           ev->u.view.primary ? "" : " (not primary: writes should wait)");
    print_list("joined", ev->u.view.joined, ev->u.view.joined_count);
    print_list("left", ev->u.view.left, ev->u.view.left_count);
    print_list("failed (crashed or cut off)", ev->u.view.failed,
               ev->u.view.failed_count);
    putchar('\n');
}

static void print_event(const struct chat *ch, const cohort_event_t *ev)
{
    switch (ev->type) {
    case COHORT_EVENT_MESSAGE:
        print_message(ev);
        return;
    case COHORT_EVENT_MEMBER_JOINED:
        if (ch->o.quiet)
            return;
        printf("* ");
        print_who(ev->u.member.name, ev->u.member.member);
        printf(" joined\n");
        return;
    case COHORT_EVENT_MEMBER_LEFT:
        if (ch->o.quiet)
            return;
        printf("* ");
        print_who(ev->u.member.name, ev->u.member.member);
        printf(" left%s\n", leave_reason(ev->u.member.reason));
        return;
    case COHORT_EVENT_VIEW:
        if (!ch->o.quiet)
            print_view(ev);
        return;
    case COHORT_EVENT_WARNING:
        tool_print_warning(ev);
        return;
    default:
        return;
    }
}

static void on_event(void *ctx, const cohort_event_t *ev)
{
    print_event(ctx, ev);
}

static void drain_events(struct chat *ch)
{
    /* Bounded by the library's event queue length. */
    (void)tool_drain_events(ch->c, 100000, on_event, ch);
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* "/members": the current view, oldest first (the first coordinates). */
static void show_members(const struct chat *ch)
{
    cohort_member_t m[256];
    uint64_t id = 0;
    size_t n = cohort_view(ch->c, &id, m, 256);
    if (n == 0) {
        printf("* no view yet (still looking for the group)\n");
        return;
    }
    printf("* view %u.%08x, %zu member%s:", (unsigned)(id >> 32),
           (unsigned)(uint32_t)id, n, n == 1 ? "" : "s");
    cohort_member_t self = cohort_self(ch->c);
    for (size_t i = 0; i < n && i < 256; i++)
        printf(" %08x%s", m[i].id, m[i].id == self.id ? " (you)" : "");
    printf("%s\n", n > 256 ? " ..." : "");
}

static int send_line(struct chat *ch, const char *text, size_t len)
{
    if (len == 8 && memcmp(text, "/members", 8) == 0) {
        show_members(ch);
        return 0;
    }
    if (len > 6 && memcmp(text, "/mode ", 6) == 0) {
        char name[16];
        cohort_mode_t mode;
        size_t n = len - 6 < sizeof name - 1 ? len - 6 : sizeof name - 1;
        memcpy(name, text + 6, n);
        name[n] = '\0';
        if (tool_parse_mode(name, &mode) != 0)
            printf("* /mode: expected unreliable, fifo, total or safe\n");
        else
            printf("* mode %s\n", tool_mode_name(ch->mode = mode));
        fflush(stdout);
        return 0;
    }
    int r = cohort_send(ch->c, ch->mode, text, len);
    if (r == COHORT_ERR_NOTSUP && ch->mode == COHORT_FIFO) {
        tool_err("note: this library does not support fifo yet; "
                 "using unreliable");
        ch->mode = COHORT_UNRELIABLE;
        r = cohort_send(ch->c, ch->mode, text, len);
    }
    if (r == COHORT_ERR_AGAIN)
        r = cohort_send_wait(ch->c, ch->mode, text, len, CHAT_SEND_WAIT_MS);
    if (r == 0)
        r = cohort_flush(ch->c);
    if (r == COHORT_ERR_TOOBIG || r == COHORT_ERR_TIMEDOUT) {
        /* This line is lost, the chat goes on. */
        tool_err("line not sent: %s%s", cohort_strerror(r),
                 r == COHORT_ERR_TOOBIG && ch->mode == COHORT_UNRELIABLE
                     ? " (unreliable lines must fit one datagram)" : "");
    } else if (r != 0) {
        tool_err_cohort("send", r);
        ch->failed = 1;
    }
    return r;
}

/* Send the complete lines in the input buffer; with flush_all, the
 * unterminated rest too (EOF, or a line longer than the buffer). */
static void send_buffered_lines(struct chat *ch, int flush_all)
{
    size_t start = 0;
    for (size_t i = 0; i < ch->line_len; i++) {
        if (ch->line[i] != '\n')
            continue;
        if (i > start)
            send_line(ch, ch->line + start, i - start);
        start = i + 1;
    }
    if (flush_all && start < ch->line_len) {
        send_line(ch, ch->line + start, ch->line_len - start);
        start = ch->line_len;
    }
    memmove(ch->line, ch->line + start, ch->line_len - start);
    ch->line_len -= start;
}

static void read_stdin(struct chat *ch)
{
    ssize_t r = read(STDIN_FILENO, ch->line + ch->line_len,
                     sizeof ch->line - ch->line_len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        send_buffered_lines(ch, 1);
        ch->stdin_open = 0;
        return;
    }
    ch->line_len += (size_t)r;
    send_buffered_lines(ch, ch->line_len == sizeof ch->line);
}

/* ------------------------------------------------------------------ */
/* Script                                                              */
/* ------------------------------------------------------------------ */

static int script_load(struct chat_script *s, const char *path)
{
    FILE *f;
    size_t lines = 0;
    s->text = malloc(CHAT_SCRIPT_MAX_BYTES + 1);
    if (s->text == NULL) {
        tool_err("out of memory");
        return -1;
    }
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        tool_err("--script %s: %s", path, strerror(errno));
        return -1;
    }
    s->len = fread(s->text, 1, CHAT_SCRIPT_MAX_BYTES + 1, f);
    if (f != stdin)
        fclose(f);
    if (s->len > CHAT_SCRIPT_MAX_BYTES) {
        tool_err("--script %s: larger than %u bytes", path,
                 CHAT_SCRIPT_MAX_BYTES);
        return -1;
    }
    for (size_t i = 0; i < s->len; i++)
        lines += s->text[i] == '\n';
    if (lines > CHAT_SCRIPT_MAX_LINES) {
        tool_err("--script %s: more than %d lines", path,
                 CHAT_SCRIPT_MAX_LINES);
        return -1;
    }
    return 0;
}

/* Send the next script line if its time has come; start the exit timer
 * after the last one. */
static void script_step(struct chat *ch, uint64_t now_ns)
{
    struct chat_script *s = &ch->script;
    if (s->done || ch->waiting_members || now_ns < s->next_ns)
        return;
    while (s->pos < s->len) {
        const char *p = s->text + s->pos;
        const char *nl = memchr(p, '\n', s->len - s->pos);
        size_t len = nl ? (size_t)(nl - p) : s->len - s->pos;
        s->pos += len + (nl != NULL);
        if (len == 0)
            continue;                  /* blank lines are not sent */
        if (!ch->o.quiet) {
            printf("> ");
            print_sanitized(p, len);
            putchar('\n');
            fflush(stdout);
        }
        send_line(ch, p, len);
        s->next_ns = now_ns + ch->o.delay_ms * 1000000u;
        return;
    }
    s->done = 1;
    ch->exit_at_ns = now_ns + (uint64_t)(ch->o.exit_after_s * 1e9);
}

/* --wait-members: the script starts when enough others are known, or
 * when the wait bound passes (with a note). */
static void check_members(struct chat *ch, uint64_t now_ns)
{
    size_t others;
    if (!ch->waiting_members)
        return;
    others = tool_others(ch->c);
    if (others >= ch->o.wait_members) {
        ch->waiting_members = 0;
        ch->script.next_ns = now_ns + CHAT_SETTLE_NS;
    } else if (now_ns >= ch->members_deadline_ns) {
        tool_err("note: only %zu of %llu other members appeared; "
                 "starting anyway", others,
                 (unsigned long long)ch->o.wait_members);
        ch->waiting_members = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Main loop                                                           */
/* ------------------------------------------------------------------ */

static int next_timeout_ms(const struct chat *ch)
{
    int t = CHAT_POLL_CAP_MS;
    if (ch->o.script != NULL && !ch->script.done && !ch->waiting_members)
        t = tool_ms_until(ch->script.next_ns, t);
    if (ch->waiting_members)
        t = t > 50 ? 50 : t;
    if (ch->exit_at_ns != 0)
        t = tool_ms_until(ch->exit_at_ns, t);
    return t;
}

static int should_stop(const struct chat *ch, uint64_t now_ns)
{
    if (tool_stop_requested() || ch->failed)
        return 1;
    if (ch->exit_at_ns != 0 && now_ns >= ch->exit_at_ns)
        return 1;
    /* Interactive: EOF on stdin is the way out, unless --exit-after
     * says how long to stay (a listener fed from /dev/null). */
    return ch->o.script == NULL && !ch->stdin_open && ch->exit_at_ns == 0;
}

static int run_loop(struct chat *ch)
{
    for (;;) {
        short rev = 0;
        uint64_t now;
        int r = tool_poll_process(ch->c, ch->stdin_open ? STDIN_FILENO : -1,
                                  next_timeout_ms(ch), &rev);
        if (r < 0) {
            tool_err_cohort("process", r);
            return TOOL_EXIT_FAIL;
        }
        drain_events(ch);
        if (rev & (POLLIN | POLLHUP | POLLERR))
            read_stdin(ch);
        now = tool_now_ns();
        check_members(ch, now);
        if (ch->o.script != NULL)
            script_step(ch, now);
        if (should_stop(ch, now))
            return ch->failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
    }
}

static void leave(struct chat *ch)
{
    int r;
    if (!ch->o.quiet) {
        printf("* leaving\n");
        fflush(stdout);
    }
    r = cohort_drain(ch->c, CHAT_DRAIN_MS);
    if (r == COHORT_ERR_TIMEDOUT)
        tool_err("note: not every member confirmed our last messages "
                 "within %d ms", CHAT_DRAIN_MS);
    else if (r != 0)
        tool_err_cohort("drain", r);
    drain_events(ch);
    cohort_close(ch->c);
    ch->c = NULL;
}

static int chat_start(struct chat *ch)
{
    uint64_t now = tool_now_ns();
    if (tool_open_net(&ch->o.net, &ch->c) != 0)
        return -1;
    ch->mode = ch->o.net.mode;
    ch->start_ns = now;
    /* A script runs unattended: stdin is not a second input then. */
    ch->stdin_open = ch->o.script == NULL;
    if (ch->o.script == NULL && ch->o.exit_after_s > 0.0)
        ch->exit_at_ns = now + (uint64_t)(ch->o.exit_after_s * 1e9);
    ch->waiting_members = ch->o.script != NULL && ch->o.wait_members > 0;
    ch->members_deadline_ns = now + CHAT_WAIT_MEMBERS_MS * 1000000ull;
    if (!ch->o.quiet) {
        cohort_member_t self = cohort_self(ch->c);
        printf("* joined group '%s' as %s (id %08x, %s)\n", ch->o.net.group,
               ch->o.net.name ? ch->o.net.name : "host:pid",
               (unsigned)self.id, tool_mode_name(ch->mode));
        fflush(stdout);
    }
    return 0;
}

static int run(void *opts)
{
    struct chat *ch = opts;
    int rc;
    if (ch->o.script != NULL && script_load(&ch->script, ch->o.script) != 0)
        return TOOL_EXIT_FAIL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (chat_start(ch) != 0)
        return TOOL_EXIT_FAIL;
    rc = run_loop(ch);
    leave(ch);
    free(ch->script.text);
    return rc;
}

int main(int argc, char **argv)
{
    static struct chat ch;
    return tool_main(argc, argv, &ch, parse_args, run);
}
