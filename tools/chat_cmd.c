/*
 * chat_cmd.c - parsing the lines typed into cohort-chat (chat_cmd.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <string.h>

#include "chat_cmd.h"
#include "chat_msg.h"

enum arg_rule { ARG_NONE, ARG_NEEDED, ARG_OPTIONAL };

struct cmd_def {
    const char *word;
    enum chat_cmd_kind kind;
    enum arg_rule arg;
    const char *usage;            /* "needs ..." / "takes no argument" */
};

static const struct cmd_def k_cmds[] = {
    { "help", CHAT_CMD_HELP, ARG_NONE, "/help takes no argument" },
    { "who", CHAT_CMD_WHO, ARG_NONE, "/who takes no argument" },
    { "members", CHAT_CMD_WHO, ARG_NONE, "/members takes no argument" },
    { "nick", CHAT_CMD_NICK, ARG_NEEDED, "/nick needs a NAME" },
    { "mode", CHAT_CMD_MODE, ARG_OPTIONAL, NULL },
    { "me", CHAT_CMD_ME, ARG_NEEDED, "/me needs an ACTION" },
    { "stats", CHAT_CMD_STATS, ARG_NONE, "/stats takes no argument" },
    { "call", CHAT_CMD_CALL, ARG_NEEDED, "/call needs a QUESTION" },
    { "quit", CHAT_CMD_QUIT, ARG_NONE, "/quit takes no argument" },
};

static int is_space(char c) { return c == ' ' || c == '\t'; }

static int all_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(s[i]))
            return 0;
    return 1;
}

static void refuse(struct chat_cmd *out, const char *why)
{
    out->kind = CHAT_CMD_ERROR;
    out->error = why;
    out->arg = NULL;
    out->arg_len = 0;
}

/* The argument of a command: the rest of the line after the word, with
 * the spaces around it removed. */
static void take_arg(const char *p, size_t len, struct chat_cmd *out)
{
    while (len > 0 && is_space(p[0])) {
        p++;
        len--;
    }
    while (len > 0 && is_space(p[len - 1]))
        len--;
    out->arg = p;
    out->arg_len = len;
}

static void parse_command(const char *line, size_t len, struct chat_cmd *out)
{
    const char *w = line + 1;
    size_t wl = 0;
    while (wl < len - 1 && !is_space(w[wl]))
        wl++;
    out->word = w;
    out->word_len = wl;
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++) {
        const struct cmd_def *d = &k_cmds[i];
        if (strlen(d->word) != wl || memcmp(d->word, w, wl) != 0)
            continue;
        out->kind = d->kind;
        take_arg(w + wl, len - 1 - wl, out);
        if (d->arg == ARG_NONE && out->arg_len > 0)
            refuse(out, d->usage);
        else if (d->arg == ARG_NEEDED && out->arg_len == 0)
            refuse(out, d->usage);
        else if (d->kind == CHAT_CMD_NICK &&
                 !chat_name_ok(out->arg, out->arg_len))
            refuse(out, "/nick: a name is 1 to 63 bytes of UTF-8 text "
                        "without control characters");
        return;
    }
    refuse(out, wl == 0 ? "a command name must follow '/' (// sends a "
                          "line starting with '/')"
                        : "unknown command (not sent; /help lists them, "
                          "// sends a line starting with '/')");
}

void chat_cmd_parse(const char *line, size_t len, struct chat_cmd *out)
{
    memset(out, 0, sizeof *out);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len == 0 || all_space(line, len)) {
        out->kind = CHAT_CMD_EMPTY;
        return;
    }
    if (line[0] != '/') {
        out->kind = CHAT_CMD_SAY;
        out->arg = line;
        out->arg_len = len;
        return;
    }
    if (len >= 2 && line[1] == '/') {
        out->kind = CHAT_CMD_SAY;
        out->arg = line + 1;
        out->arg_len = len - 1;
        return;
    }
    parse_command(line, len, out);
}

const char *chat_cmd_help(void)
{
    return "commands (not sent to the group):\n"
           "  /who             the members of the view: name, id, "
           "coordinator, primary\n"
           "  /nick NAME       change your name; the others see it\n"
           "  /me ACTION       say what you do (* alice waves)\n"
           "  /mode [MODE]     show or set the delivery mode: unreliable, "
           "fifo, total, safe\n"
           "  /stats           the library's counters, short\n"
           "  /call QUESTION   ask every member (a group request); "
           "shows who answered\n"
           "  /help            this text\n"
           "  /quit            leave the group (also Ctrl-D)\n"
           "  //text           send a line that starts with '/'\n"
           "keys: arrows and Ctrl-P/Ctrl-N for history, Ctrl-R to search "
           "it, Ctrl-A/Ctrl-E, Ctrl-W, Ctrl-U to edit";
}
