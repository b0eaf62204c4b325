/*
 * chat_cmd.h - what a line typed into cohort-chat asks for.
 *
 * A line that does not start with '/' is said to the group. "//text"
 * says "/text". Otherwise the first word names a command; an unknown one
 * is refused here and never sent. Parsing has no side effects, so the
 * rules are tested alone (tests/unit/test_chat_cmd.c).
 */
#ifndef COHORT_TOOLS_CHAT_CMD_H
#define COHORT_TOOLS_CHAT_CMD_H

#include <stddef.h>

enum chat_cmd_kind {
    CHAT_CMD_EMPTY = 0,   /* blank line: nothing to do */
    CHAT_CMD_SAY,         /* arg: the text to send */
    CHAT_CMD_ME,          /* /me ACTION; arg: the action */
    CHAT_CMD_NICK,        /* /nick NAME; arg: the new name */
    CHAT_CMD_MODE,        /* /mode [NAME]; arg: the mode, or empty to show */
    CHAT_CMD_WHO,         /* /who (also /members) */
    CHAT_CMD_STATS,       /* /stats */
    CHAT_CMD_CALL,        /* /call QUESTION; arg: the question */
    CHAT_CMD_HELP,        /* /help */
    CHAT_CMD_QUIT,        /* /quit */
    CHAT_CMD_ERROR,       /* refused: error says why (unknown command,
                             missing or extra argument, bad name) */
};

struct chat_cmd {
    enum chat_cmd_kind kind;
    const char *arg;      /* points into the line; not NUL-terminated */
    size_t arg_len;
    const char *error;    /* CHAT_CMD_ERROR: a static sentence */
    const char *word;     /* the command word as typed (after '/') */
    size_t word_len;
};

/* Parse one line (len bytes, without its newline). */
void chat_cmd_parse(const char *line, size_t len, struct chat_cmd *out);

/* The /help text: one line per command, '\n'-separated. Static. */
const char *chat_cmd_help(void);

#endif /* COHORT_TOOLS_CHAT_CMD_H */
