/*
 * cohort-chat - a group chat for people at a terminal (and for scripts),
 * and a complete example of an application on cohort's event-loop API:
 *
 *     poll(cohort_fd + stdin, cohort_timeout_ms)  ->  cohort_process
 *     ->  cohort_next_event ...
 *
 * At a terminal, lines are edited with libedit (history, search) and what
 * arrives is printed above the line being typed (chat_term.c). Lines
 * starting with '/' are commands, parsed in chat_cmd.c and never sent;
 * what is sent carries the sender's chosen name (chat_msg.h), so /nick
 * reaches everyone. Views are told in words: who joined, left, stopped
 * answering, merged back, and whether this side is the primary
 * component.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_cmd.h"
#include "chat_msg.h"
#include "chat_peers.h"
#include "chat_term.h"
#include "cohort.h"
#include "common.h"

#define CHAT_SCRIPT_MAX_BYTES (1u << 20)
#define CHAT_SCRIPT_MAX_LINES 10000
#define CHAT_DRAIN_MS 3000           /* bounded graceful leave */
#define CHAT_SEND_WAIT_MS 5000       /* flow control: give up after this */
#define CHAT_WAIT_MEMBERS_MS 10000   /* --wait-members gives up after this */
#define CHAT_SETTLE_NS 300000000u    /* let the others hear us, too */
#define CHAT_POLL_CAP_MS 1000
#define CHAT_VIEW_MAX 256            /* members listed by /who */
#define CHAT_ROSTER_WAIT_NS 1500000000u /* first view: wait for names */

enum chat_opt {
    OPT_SCRIPT = TOOL_OPT__END,
    OPT_EXIT_AFTER,
    OPT_QUIET,
    OPT_DELAY,
    OPT_WAIT_MEMBERS,
    OPT_COLOR,
    OPT_TIMESTAMPS,
    OPT_PLAIN,
    OPT_EXPECTED,
};

struct chat_opts {
    struct tool_net net;
    const char *script;          /* file or "-"; NULL: interactive */
    double exit_after_s;         /* 0: none */
    uint64_t delay_ms;           /* between script lines */
    uint64_t wait_members;       /* others to wait for before the script */
    uint64_t expected_members;   /* config.expected_members */
    enum chat_color_when color;
    int timestamps;
    int plain;                   /* no line editing */
    int quiet;
};

/* A script, read whole at start so reading it never blocks the loop. */
struct chat_script {
    char *text;
    size_t len, pos;
    uint64_t next_ns;
    int done;
};

#define CHAT_CALL_TIMEOUT_MS 3000 /* /call waits this long for answers */

struct chat {
    struct chat_opts o;
    cohort_t *c;
    cohort_member_t self;
    cohort_mode_t mode;
    struct chat_script script;
    struct chat_term term;
    struct chat_peers peers;
    char base_name[CHAT_NAME_MAX + 1];  /* the library's name for us */
    char nick[CHAT_NAME_MAX + 1];       /* the name in our messages */
    uint64_t exit_at_ns;         /* 0: none */
    int waiting_members;         /* the script waits for --wait-members */
    uint64_t members_deadline_ns;
    int have_view, primary;
    uint64_t roster_due_ns;      /* first view shown then; 0: done */
    uint64_t view_id;
    uint64_t views_seen;
    uint64_t ignored;            /* messages refused by chat_msg_decode */
    int quit;                    /* /quit */
    int failed;
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: cohort-chat [options]\n"
"  --group NAME          group to join (default: chat)\n"
"  --name NAME           your name (default: login@host; /nick changes it)\n"
"  --interface IF        interface or local address (default: lo)\n"
"  --address ADDR        multicast address (default: derived from group)\n"
"  --port P              UDP port (default: the library's, 47100)\n"
"  --ipv6                use IPv6\n"
"  --mode unreliable|fifo|total|safe  delivery mode (default: fifo;\n"
"                        /mode NAME switches it)\n"
"  --key FILE            key from cohort-keygen\n"
"  --security auth|encrypt  protection (needs --key)\n"
"  --cipher xchacha20poly1305|aes256gcm|fastest  AEAD to seal with\n"
"                        (default fastest: AES-256-GCM unless a member\n"
"                        cannot open it; members open both)\n"
"  --datagram BYTES      largest UDP payload (default: the interface MTU\n"
"                        less IP and UDP headers; 65507 on loopback)\n"
"  --expected-members N  a view is primary with more than N/2 members\n"
"                        (default 0: every view is primary)\n"
"  --color=auto|always|never  colour names (auto: when stdout is a\n"
"                        terminal and NO_COLOR is not set)\n"
"  --timestamps          print the time before every line\n"
"  --plain               no line editing, even at a terminal\n"
"  --faults SPEC         fault injection (testing), as COHORT_FAULTS\n"
"  --script FILE|-       send the lines of FILE instead of reading a\n"
"                        terminal, then wait --exit-after seconds\n"
"  --delay MS            pause between script lines (default: 200)\n"
"  --wait-members N      before the script, wait (at most 10 s) until\n"
"                        N other members are known\n"
"  --exit-after SECONDS  leave after this long (script: after the last\n"
"                        line; default 2 with --script)\n"
"  --quiet               print only messages and errors\n"
"  --help, --version\n"
"End of input (Ctrl-D) or /quit leaves; with --exit-after and input\n"
"that is not a terminal, end of input waits for the time instead.\n"
"Commands: /help /who /nick NAME /me ACTION /mode [MODE] /stats /quit;\n"
"//text sends a line starting with '/'. Details: man cohort-chat.\n");
}

static const struct option long_opts[] = {
    TOOL_NET_LONGOPTS,
    { "script", required_argument, NULL, OPT_SCRIPT },
    { "exit-after", required_argument, NULL, OPT_EXIT_AFTER },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "delay", required_argument, NULL, OPT_DELAY },
    { "wait-members", required_argument, NULL, OPT_WAIT_MEMBERS },
    { "color", optional_argument, NULL, OPT_COLOR },
    { "colour", optional_argument, NULL, OPT_COLOR },
    { "timestamps", no_argument, NULL, OPT_TIMESTAMPS },
    { "plain", no_argument, NULL, OPT_PLAIN },
    { "expected-members", required_argument, NULL, OPT_EXPECTED },
    { NULL, 0, NULL, 0 },
};

static int parse_color(const char *arg, enum chat_color_when *out)
{
    if (arg == NULL || strcmp(arg, "always") == 0)
        *out = CHAT_COLOR_ALWAYS;
    else if (strcmp(arg, "auto") == 0)
        *out = CHAT_COLOR_AUTO;
    else if (strcmp(arg, "never") == 0)
        *out = CHAT_COLOR_NEVER;
    else {
        tool_err("--color: expected auto, always or never, got '%s'", arg);
        return -1;
    }
    return 0;
}

static int chat_option(void *ctx, int opt, const char *arg)
{
    struct chat_opts *o = ctx;
    switch (opt) {
    case OPT_SCRIPT: o->script = arg; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_TIMESTAMPS: o->timestamps = 1; return 0;
    case OPT_PLAIN: o->plain = 1; return 0;
    case OPT_COLOR: return parse_color(arg, &o->color);
    case OPT_EXIT_AFTER:
        return tool_parse_seconds("exit-after", arg, 86400.0,
                                  &o->exit_after_s);
    case OPT_DELAY:
        return tool_parse_u64("delay", arg, 0, 60000, &o->delay_ms);
    case OPT_WAIT_MEMBERS:
        return tool_parse_u64("wait-members", arg, 0, 1000,
                              &o->wait_members);
    case OPT_EXPECTED:
        return tool_parse_u64("expected-members", arg, 0, 1000,
                              &o->expected_members);
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
    o->color = CHAT_COLOR_AUTO;
    r = tool_parse_options(&o->net, argc, argv, long_opts, usage,
                           chat_option, o);
    if (r != TOOL_OPT_NEXT)
        return r;
    if (o->script != NULL && o->exit_after_s == 0.0)
        o->exit_after_s = 2.0;
    return tool_net_check(&o->net) == 0 ? -1 : TOOL_EXIT_USAGE;
}

/* login@host, cut to CHAT_NAME_MAX bytes (on a character boundary). */
static void default_name(char *out, size_t cap)
{
    char host[256] = "";
    const char *login = getlogin();
    struct passwd *pw;
    char both[CHAT_NAME_MAX * 4 + 8];
    if (login == NULL || login[0] == '\0') {
        pw = getpwuid(geteuid());
        login = pw != NULL && pw->pw_name[0] != '\0' ? pw->pw_name : "user";
    }
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(both, sizeof both, "%.100s@%.100s", login, host);
    chat_sanitize(both, strlen(both), out, cap);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void say(struct chat *ch, struct chat_out *o)
{
    chat_term_print(&ch->term, o);
}

/* "* text": a notice from this program. */
static void notice(struct chat *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void notice(struct chat *ch, const char *fmt, ...)
{
    struct chat_out o;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    chat_out_init(&o, &ch->term);
    chat_out_str(&o, "* ");
    chat_out_str(&o, text);
    say(ch, &o);
}

/* Append member id's name (or its id, if no name is known), coloured. */
static void out_member(struct chat *ch, struct chat_out *o, uint32_t id)
{
    const struct chat_peer *p = chat_peers_find(&ch->peers, id);
    int own = id == ch->self.id;
    chat_out_color(o, own ? -1 : chat_peer_color(id));
    if (own)
        chat_out_str(o, ch->nick);
    else if (p != NULL && p->name[0] != '\0')
        chat_out_str(o, p->name);
    else
        chat_out_fmt(o, "%08x", (unsigned)id);
    if (own)
        chat_out_str(o, " (you)");
    chat_out_plain(o);
}

/* "alice, bob and carol" */
static void out_members(struct chat *ch, struct chat_out *o,
                        const cohort_member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            chat_out_str(o, i + 1 == n ? " and " : ", ");
        out_member(ch, o, m[i].id);
    }
}

/* ------------------------------------------------------------------ */
/* Received messages                                                   */
/* ------------------------------------------------------------------ */

static void show_text(struct chat *ch, uint32_t id, enum chat_msg_kind kind,
                      const char *text, size_t len)
{
    struct chat_out o;
    chat_out_init(&o, &ch->term);
    if (kind == CHAT_MSG_ME) {
        chat_out_str(&o, "* ");
        out_member(ch, &o, id);
        chat_out_str(&o, " ");
    } else {
        chat_out_str(&o, "[");
        out_member(ch, &o, id);
        chat_out_str(&o, "] ");
    }
    chat_out_untrusted(&o, text, len);
    say(ch, &o);
}

static void on_message(struct chat *ch, const cohort_event_t *ev)
{
    struct chat_msg m;
    uint32_t id = ev->u.message.sender.id;
    int own = id == ch->self.id;
    const char *hb = ev->u.message.sender_name;
    char old[CHAT_NAME_MAX + 1];
    struct chat_peer *p;

    if (chat_msg_decode(ev->u.message.data, ev->u.message.len, &m) ==
        CHAT_MSG_BAD) {
        ch->ignored++;
        return;
    }
    p = chat_peers_get(&ch->peers, id);
    if (p->name[0] == '\0' && hb != NULL)
        chat_peers_set_name(&ch->peers, id, hb, strlen(hb));
    snprintf(old, sizeof old, "%s", p->name);
    if (m.kind == CHAT_MSG_PLAIN) {
        show_text(ch, id, CHAT_MSG_SAY, m.text, m.text_len);
        return;
    }
    if (!own && chat_peers_set_name(&ch->peers, id, m.name, m.name_len) &&
        old[0] != '\0' && m.kind != CHAT_MSG_NICK && !ch->o.quiet) {
        /* Someone we knew by another name (a NAME announcement, or a
         * rename we missed while cut off). */
        struct chat_out o;
        chat_out_init(&o, &ch->term);
        chat_out_fmt(&o, "* %s is now known as ", old);
        out_member(ch, &o, id);
        say(ch, &o);
    }
    switch (m.kind) {
    case CHAT_MSG_SAY:
    case CHAT_MSG_ME:
        show_text(ch, id, m.kind, m.text, m.text_len);
        return;
    case CHAT_MSG_NICK:
        if (!ch->o.quiet) {
            struct chat_out o;
            chat_out_init(&o, &ch->term);
            if (own) {
                chat_out_fmt(&o, "* you are now known as %s", ch->nick);
            } else {
                chat_out_str(&o, "* ");
                if (old[0] != '\0')
                    chat_out_str(&o, old);
                else
                    chat_out_untrusted(&o, m.text, m.text_len);
                chat_out_str(&o, " is now known as ");
                out_member(ch, &o, id);
            }
            say(ch, &o);
        }
        return;
    default:
        return;                       /* NAME: learnt, nothing to show */
    }
}

/* ------------------------------------------------------------------ */
/* Views, in words                                                     */
/* ------------------------------------------------------------------ */

static void view_line(struct chat *ch, const char *lead,
                      const cohort_member_t *m, size_t n, const char *tail)
{
    struct chat_out o;
    if (n == 0)
        return;
    chat_out_init(&o, &ch->term);
    chat_out_str(&o, lead);
    out_members(ch, &o, m, n);
    chat_out_str(&o, tail);
    say(ch, &o);
}

/* Joined members are "merged back" when this side lost them before (a
 * partition healed, or a member excluded while alive came back). */
static void show_joined(struct chat *ch, const cohort_event_t *ev)
{
    cohort_member_t fresh[CHAT_VIEW_MAX], back[CHAT_VIEW_MAX];
    size_t nf = 0, nb = 0;
    for (size_t i = 0; i < ev->u.view.joined_count; i++) {
        cohort_member_t m = ev->u.view.joined[i];
        struct chat_peer *p = chat_peers_get(&ch->peers, m.id);
        if (m.id == ch->self.id)
            continue;
        if ((p->lost || p->in_view) && nb < CHAT_VIEW_MAX)
            back[nb++] = m;
        else if (nf < CHAT_VIEW_MAX)
            fresh[nf++] = m;
        p->lost = 0;
    }
    view_line(ch, "* ", fresh, nf, " joined");
    view_line(ch, "* ", back, nb, " merged back");
}

static void mark_view(struct chat *ch, const cohort_event_t *ev)
{
    for (size_t i = 0; i < ch->peers.n; i++)
        ch->peers.p[i].in_view = 0;
    for (size_t i = 0; i < ev->u.view.count; i++)
        chat_peers_get(&ch->peers, ev->u.view.members[i].id)->in_view = 1;
    for (size_t i = 0; i < ev->u.view.left_count; i++)
        chat_peers_get(&ch->peers, ev->u.view.left[i].id)->lost = 1;
    for (size_t i = 0; i < ev->u.view.failed_count; i++)
        chat_peers_get(&ch->peers, ev->u.view.failed[i].id)->lost = 1;
}

/* The first view's members, once their names are known (they announce
 * them as the view forms) or CHAT_ROSTER_WAIT_NS has passed. */
static void check_roster(struct chat *ch, uint64_t now_ns)
{
    cohort_member_t m[CHAT_VIEW_MAX];
    size_t n;
    int named = 1;
    if (ch->roster_due_ns == 0)
        return;
    n = cohort_view(ch->c, NULL, m, CHAT_VIEW_MAX);
    if (n > CHAT_VIEW_MAX)
        n = CHAT_VIEW_MAX;
    for (size_t i = 0; i < n && named; i++) {
        const struct chat_peer *p = chat_peers_find(&ch->peers, m[i].id);
        named = m[i].id == ch->self.id || (p != NULL && p->name[0] != '\0');
    }
    if (!named && now_ns < ch->roster_due_ns)
        return;
    ch->roster_due_ns = 0;
    view_line(ch, "* in the group: ", m, n, "");
}

static void show_changes(struct chat *ch, const cohort_event_t *ev)
{
    int first = !ch->have_view;
    if (first && ev->u.view.count > 1)
        ch->roster_due_ns = tool_now_ns() + CHAT_ROSTER_WAIT_NS;
    else if (first)
        notice(ch, "you are alone in the group so far");
    if (!first && ch->roster_due_ns == 0) {
        /* (While the roster waits, it will show this view whole.) */
        show_joined(ch, ev);
        view_line(ch, "* ", ev->u.view.left, ev->u.view.left_count,
                  " left");
        view_line(ch, "* ", ev->u.view.failed, ev->u.view.failed_count,
                  " stopped answering: crashed, or cut off by a "
                  "partition");
    }
    if (first ? !ev->u.view.primary : ev->u.view.primary != ch->primary)
        notice(ch, ev->u.view.primary
                       ? "this side is the primary component again"
                       : "this side is NOT the primary component "
                         "(a minority: the rest may go on without it)");
}

static void show_view(struct chat *ch, const cohort_event_t *ev)
{
    if (!ch->o.quiet)
        show_changes(ch, ev);
    mark_view(ch, ev);
    ch->have_view = 1;
    ch->primary = ev->u.view.primary;
    ch->view_id = ev->u.view.view_id;
    ch->views_seen++;
}

/* Members that just joined learn our chosen name: the library's
 * MEMBER_JOINED may come before any heartbeat told them our base name,
 * and /nick changes it anyway. One small FIFO message per join. */
static int send_payload(struct chat *ch, cohort_mode_t mode,
                        enum chat_msg_kind kind, const char *text,
                        size_t len);

static void announce_name(struct chat *ch, const cohort_event_t *ev,
                          int first)
{
    if (ev->u.view.count < 2 || (!first && ev->u.view.joined_count == 0))
        return;
    (void)send_payload(ch, COHORT_FIFO, CHAT_MSG_NAME, "", 0);
}

static void on_warning(struct chat *ch, const cohort_event_t *ev)
{
    if (ev->u.warning.code == COHORT_ERR_EXCLUDED) {
        notice(ch, "the others went on without you (you were cut off or "
                   "stopped); you rejoin the group as a new member");
        return;
    }
    chat_term_pause(&ch->term);
    tool_print_warning(ev);
    chat_term_resume(&ch->term);
}

/* /call: a request to the group (issue 10's request-reply). Every member
 * answers with its name; the caller sees who answered and how it ended. */
static void cmd_call(struct chat *ch, const struct chat_cmd *cmd)
{
    int r = cohort_request(ch->c, COHORT_TO_GROUP, COHORT_FIFO,
                           COHORT_WANT_ALL, cmd->arg, cmd->arg_len,
                           CHAT_CALL_TIMEOUT_MS);
    if (r < 0)
        notice(ch, "/call: %s", cohort_strerror(r));
    else
        notice(ch, "call %d: asking every member", r);
}

static void on_request(struct chat *ch, const cohort_event_t *ev)
{
    struct chat_out o;
    chat_out_init(&o, &ch->term);
    chat_out_str(&o, "* ");
    out_member(ch, &o, ev->u.request.peer.id);
    chat_out_str(&o, " asks: ");
    chat_out_untrusted(&o, ev->u.request.data, ev->u.request.len);
    say(ch, &o);
    if (ev->u.request.flags & COHORT_REQUEST_NOREPLY)
        return;
    int r = cohort_reply(ch->c, ev->u.request.peer, ev->u.request.request,
                         ch->nick, strlen(ch->nick));
    if (r < 0)
        notice(ch, "reply: %s", cohort_strerror(r));
}

static void on_reply(struct chat *ch, const cohort_event_t *ev)
{
    struct chat_out o;
    chat_out_init(&o, &ch->term);
    chat_out_str(&o, "* call ");
    char id[16];
    snprintf(id, sizeof id, "%u", (unsigned)ev->u.request.request);
    chat_out_str(&o, id);
    chat_out_str(&o, ": ");
    if (ev->u.request.flags & COHORT_REQUEST_UNANSWERED) {
        out_member(ch, &o, ev->u.request.peer.id);
        chat_out_str(&o, " could not answer");
    } else {
        chat_out_str(&o, "answered by ");
        chat_out_untrusted(&o, ev->u.request.data, ev->u.request.len);
    }
    say(ch, &o);
}

static void on_request_done(struct chat *ch, const cohort_event_t *ev)
{
    static const char *const why[] = {"complete", "timed out",
                                      "members left", "closed"};
    int res = ev->u.request.result;
    notice(ch, "call %u: %s, %u of %u answered",
           (unsigned)ev->u.request.request,
           res >= 0 && res < 4 ? why[res] : "ended",
           (unsigned)ev->u.request.replies, (unsigned)ev->u.request.wanted);
}

static void on_event(void *ctx, const cohort_event_t *ev)
{
    struct chat *ch = ctx;
    switch (ev->type) {
    case COHORT_EVENT_REQUEST:
        on_request(ch, ev);
        return;
    case COHORT_EVENT_REPLY:
        on_reply(ch, ev);
        return;
    case COHORT_EVENT_REQUEST_DONE:
        on_request_done(ch, ev);
        return;
    case COHORT_EVENT_MESSAGE:
        on_message(ch, ev);
        return;
    case COHORT_EVENT_MEMBER_JOINED:
        /* Heard: learn the name (the view says who is in). */
        if (ev->u.member.name != NULL) {
            struct chat_peer *p = chat_peers_get(&ch->peers,
                                                 ev->u.member.member.id);
            if (p->name[0] == '\0')
                chat_peers_set_name(&ch->peers, p->id, ev->u.member.name,
                                    strlen(ev->u.member.name));
        }
        return;
    case COHORT_EVENT_VIEW: {
        int first = !ch->have_view;
        show_view(ch, ev);
        announce_name(ch, ev, first);
        return;
    }
    case COHORT_EVENT_WARNING:
        on_warning(ch, ev);
        return;
    default:
        return;
    }
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

static int send_bytes(struct chat *ch, cohort_mode_t mode, const void *b,
                      size_t len)
{
    int r = cohort_send(ch->c, mode, b, len);
    if (r == COHORT_ERR_AGAIN)
        r = cohort_send_wait(ch->c, mode, b, len, CHAT_SEND_WAIT_MS);
    if (r == 0)
        r = cohort_flush(ch->c);
    if (r == 0)
        return 0;
    chat_term_pause(&ch->term);
    if (r == COHORT_ERR_TOOBIG || r == COHORT_ERR_TIMEDOUT ||
        r == COHORT_ERR_NOTSUP) {
        /* This line is lost, the chat goes on. */
        tool_err("line not sent: %s%s", cohort_strerror(r),
                 r == COHORT_ERR_TOOBIG && mode == COHORT_UNRELIABLE
                     ? " (unreliable lines must fit one datagram)" : "");
    } else if (r != 0) {
        tool_err_cohort("send", r);
        ch->failed = 1;
    }
    chat_term_resume(&ch->term);
    return r;
}

static int send_payload(struct chat *ch, cohort_mode_t mode,
                        enum chat_msg_kind kind, const char *text,
                        size_t len)
{
    size_t cap = CHAT_MSG_HEADER_BYTES + CHAT_NAME_MAX + len;
    uint8_t *b = malloc(cap);
    size_t n;
    int r;
    if (b == NULL) {
        notice(ch, "line not sent: out of memory");
        return COHORT_ERR_NOMEM;
    }
    n = chat_msg_encode(b, cap, kind, ch->nick, strlen(ch->nick), text,
                        len);
    r = n == 0 ? COHORT_ERR_INVAL : send_bytes(ch, mode, b, n);
    free(b);
    /* Unreliable messages do not come back to their sender. */
    if (r == 0 && mode == COHORT_UNRELIABLE &&
        (kind == CHAT_MSG_SAY || kind == CHAT_MSG_ME))
        show_text(ch, ch->self.id, kind, text, len);
    return r;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static void cmd_who(struct chat *ch)
{
    cohort_member_t m[CHAT_VIEW_MAX];
    uint64_t id = 0;
    size_t n = cohort_view(ch->c, &id, m, CHAT_VIEW_MAX);
    if (n == 0) {
        notice(ch, "no view yet (still looking for the group)");
        return;
    }
    notice(ch, "view %u.%08x: %zu member%s, %s", (unsigned)(id >> 32),
           (unsigned)(uint32_t)id, n, n == 1 ? "" : "s",
           ch->primary ? "primary component"
                       : "NOT the primary component");
    for (size_t i = 0; i < n && i < CHAT_VIEW_MAX; i++) {
        struct chat_out o, name;
        /* The name column, padded without its colour. */
        chat_out_init(&name, &ch->term);
        name.color = 0;
        out_member(ch, &name, m[i].id);
        chat_out_init(&o, &ch->term);
        chat_out_str(&o, "*   ");
        out_member(ch, &o, m[i].id);
        chat_out_fmt(&o, "%*s  id %08x%s",
                     name.n < 24 ? (int)(24 - name.n) : 0, "",
                     (unsigned)m[i].id, i == 0 ? "  coordinator" : "");
        say(ch, &o);
    }
    if (n > CHAT_VIEW_MAX)
        notice(ch, "  ... and %zu more", n - CHAT_VIEW_MAX);
}

static void cmd_stats(struct chat *ch)
{
    struct cohort_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    if (cohort_stats(ch->c, &s) != 0) {
        notice(ch, "no stats");
        return;
    }
    notice(ch, "messages sent %llu (unreliable %llu, fifo %llu, total %llu,"
               " safe %llu), delivered %llu",
           (unsigned long long)(s.messages_sent[0] + s.messages_sent[1] +
                                s.messages_sent[2] + s.messages_sent_safe),
           (unsigned long long)s.messages_sent[0],
           (unsigned long long)s.messages_sent[1],
           (unsigned long long)s.messages_sent[2],
           (unsigned long long)s.messages_sent_safe,
           (unsigned long long)(s.messages_delivered[0] +
                                s.messages_delivered[1] +
                                s.messages_delivered[2] +
                                s.messages_delivered_safe));
    notice(ch, "datagrams out %llu (%llu B), in %llu (%llu B); "
               "dropped %llu",
           (unsigned long long)s.datagrams_sent,
           (unsigned long long)s.bytes_sent,
           (unsigned long long)s.datagrams_received,
           (unsigned long long)s.bytes_received,
           (unsigned long long)s.drops_total);
    notice(ch, "repairs: nacks out %llu, in %llu, retransmitted %llu; "
               "lost %llu",
           (unsigned long long)s.nacks_sent,
           (unsigned long long)s.nacks_received,
           (unsigned long long)s.retransmissions_sent,
           (unsigned long long)s.messages_lost);
    notice(ch, "members joined %llu, left %llu; views %llu; exclusions "
               "%llu; chat messages ignored %llu",
           (unsigned long long)s.members_joined,
           (unsigned long long)s.members_left,
           (unsigned long long)ch->views_seen,
           (unsigned long long)s.exclusions_seen,
           (unsigned long long)ch->ignored);
}

static void cmd_mode(struct chat *ch, const struct chat_cmd *cmd)
{
    char name[16];
    cohort_mode_t mode;
    size_t n = cmd->arg_len < sizeof name - 1 ? cmd->arg_len
                                              : sizeof name - 1;
    if (cmd->arg_len == 0) {
        notice(ch, "mode %s", tool_mode_name(ch->mode));
        return;
    }
    memcpy(name, cmd->arg, n);
    name[n] = '\0';
    if (tool_parse_mode(name, &mode) != 0 || cmd->arg_len >= sizeof name) {
        notice(ch, "/mode: expected unreliable, fifo, total or safe");
        return;
    }
    if (cohort_max_payload(ch->c, mode) == 0) {
        notice(ch, "/mode: this library does not support %s",
               tool_mode_name(mode));
        return;
    }
    ch->mode = mode;
    notice(ch, "mode %s", tool_mode_name(mode));
}

static void cmd_nick(struct chat *ch, const struct chat_cmd *cmd)
{
    char old[CHAT_NAME_MAX + 1];
    snprintf(old, sizeof old, "%s", ch->nick);
    memcpy(ch->nick, cmd->arg, cmd->arg_len);
    ch->nick[cmd->arg_len] = '\0';
    if (strcmp(old, ch->nick) == 0) {
        notice(ch, "you are already %s", old);
        return;
    }
    /* FIFO: every member of the view learns it, whatever the mode. */
    (void)send_payload(ch, COHORT_FIFO, CHAT_MSG_NICK, old, strlen(old));
    if (ch->term.editing) {
        char prompt[CHAT_NAME_MAX + 4];
        snprintf(prompt, sizeof prompt, "%s> ", ch->nick);
        chat_term_set_prompt(&ch->term, prompt);
    }
}

/* One line typed or read from the script. */
static void handle_line(struct chat *ch, const char *line, size_t len)
{
    struct chat_cmd cmd;
    chat_cmd_parse(line, len, &cmd);
    if (cmd.kind != CHAT_CMD_SAY && cmd.kind != CHAT_CMD_EMPTY)
        chat_term_echo(&ch->term, line, len);
    switch (cmd.kind) {
    case CHAT_CMD_EMPTY:
        return;
    case CHAT_CMD_SAY:
        (void)send_payload(ch, ch->mode, CHAT_MSG_SAY, cmd.arg, cmd.arg_len);
        return;
    case CHAT_CMD_ME:
        (void)send_payload(ch, ch->mode, CHAT_MSG_ME, cmd.arg, cmd.arg_len);
        return;
    case CHAT_CMD_NICK: cmd_nick(ch, &cmd); return;
    case CHAT_CMD_MODE: cmd_mode(ch, &cmd); return;
    case CHAT_CMD_WHO: cmd_who(ch); return;
    case CHAT_CMD_STATS: cmd_stats(ch); return;
    case CHAT_CMD_CALL: cmd_call(ch, &cmd); return;
    case CHAT_CMD_QUIT: ch->quit = 1; return;
    case CHAT_CMD_HELP: {
        const char *h = chat_cmd_help();
        while (*h != '\0') {
            const char *nl = strchr(h, '\n');
            size_t n = nl ? (size_t)(nl - h) : strlen(h);
            notice(ch, "%.*s", (int)n, h);
            h += n + (nl != NULL);
        }
        return;
    }
    case CHAT_CMD_ERROR:
    default: {
        struct chat_out o;
        chat_out_init(&o, &ch->term);
        chat_out_str(&o, "* ");
        if (cmd.word_len > 0) {
            chat_out_str(&o, "/");
            chat_out_untrusted(&o, cmd.word, cmd.word_len);
            chat_out_str(&o, ": ");
        }
        chat_out_str(&o, cmd.error);
        say(ch, &o);
        return;
    }
    }
}

static void on_line(void *ctx, const char *line, size_t len)
{
    handle_line(ctx, line, len);
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
            struct chat_out o;
            chat_out_init(&o, &ch->term);
            chat_out_str(&o, "> ");
            chat_out_untrusted(&o, p, len);
            say(ch, &o);
        }
        handle_line(ch, p, len);
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
    if (ch->waiting_members || ch->roster_due_ns != 0)
        t = t > 50 ? 50 : t;
    if (ch->exit_at_ns != 0)
        t = tool_ms_until(ch->exit_at_ns, t);
    return t;
}

/* End of input leaves, except that a listener whose input is not a
 * terminal (fed from /dev/null, say) stays for its --exit-after. */
static int input_ended_leaves(const struct chat *ch)
{
    if (ch->o.script != NULL || !ch->term.eof)
        return 0;
    return ch->term.editing || isatty(STDIN_FILENO) || ch->exit_at_ns == 0;
}

static int should_stop(const struct chat *ch, uint64_t now_ns)
{
    if (tool_stop_requested() || ch->failed || ch->quit)
        return 1;
    if (ch->exit_at_ns != 0 && now_ns >= ch->exit_at_ns)
        return 1;
    return input_ended_leaves(ch);
}

static int run_loop(struct chat *ch)
{
    for (;;) {
        short rev = 0;
        uint64_t now;
        int in_fd = ch->o.script == NULL ? chat_term_fd(&ch->term) : -1;
        int r = tool_poll_process(ch->c, in_fd, next_timeout_ms(ch), &rev);
        if (r < 0) {
            tool_err_cohort("process", r);
            return TOOL_EXIT_FAIL;
        }
        drain_events(ch);
        if (in_fd >= 0 && (rev & (POLLIN | POLLHUP | POLLERR)))
            chat_term_input(&ch->term, rev);
        now = tool_now_ns();
        check_members(ch, now);
        check_roster(ch, now);
        if (ch->o.script != NULL)
            script_step(ch, now);
        if (should_stop(ch, now))
            return ch->failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
    }
}

static void leave(struct chat *ch)
{
    int r;
    /* What has arrived already comes before the goodbye. */
    if (cohort_process(ch->c) >= 0)
        drain_events(ch);
    if (!ch->o.quiet)
        notice(ch, "leaving");
    chat_term_close(&ch->term);
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

static int chat_open(struct chat *ch)
{
    struct cohort_config cfg;
    if (ch->o.net.name != NULL)
        snprintf(ch->base_name, sizeof ch->base_name, "%s", ch->o.net.name);
    else
        default_name(ch->base_name, sizeof ch->base_name);
    memcpy(ch->nick, ch->base_name, sizeof ch->nick);
    tool_config(&ch->o.net, &cfg);
    cfg.name = ch->base_name;
    cfg.expected_members = (size_t)ch->o.expected_members;
    return tool_open(&cfg, &ch->c) == 0 ? 0 : -1;
}

static int chat_start(struct chat *ch)
{
    uint64_t now = tool_now_ns();
    char prompt[CHAT_NAME_MAX + 4];
    if (chat_open(ch) != 0)
        return -1;
    ch->self = cohort_self(ch->c);
    ch->mode = ch->o.net.mode;
    snprintf(prompt, sizeof prompt, "%s> ", ch->nick);
    snprintf(ch->term.prompt, sizeof ch->term.prompt, "%s", prompt);
    /* A script runs unattended: stdin is not a second input then. */
    chat_term_open(&ch->term, ch->o.script == NULL && !ch->o.plain,
                   ch->o.color, ch->o.timestamps, on_line, ch);
    if (ch->o.script == NULL && ch->o.exit_after_s > 0.0)
        ch->exit_at_ns = now + (uint64_t)(ch->o.exit_after_s * 1e9);
    ch->waiting_members = ch->o.script != NULL && ch->o.wait_members > 0;
    ch->members_deadline_ns = now + CHAT_WAIT_MEMBERS_MS * 1000000ull;
    if (!ch->o.quiet) {
        notice(ch, "joined group '%s' as %s (id %08x, %s)%s",
               ch->o.net.group, ch->nick, (unsigned)ch->self.id,
               tool_mode_name(ch->mode),
               ch->term.editing ? "; /help lists the commands" : "");
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
