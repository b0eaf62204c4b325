/*
 * chat_term.h - the terminal side of cohort-chat: reading lines (edited
 * with libedit's readline interface, with history, when standard input
 * and output are a terminal; plain lines otherwise) and printing output
 * lines above the line being typed, which stays intact.
 *
 * libedit is driven through its callback interface, so the chat keeps
 * one poll loop: chat_term_fd() is polled beside cohort_fd(), and
 * chat_term_input() is called when it is readable.
 */
#ifndef COHORT_TOOLS_CHAT_TERM_H
#define COHORT_TOOLS_CHAT_TERM_H

#include <stddef.h>

#define CHAT_TERM_LINE_MAX 4096      /* longer plain input goes in pieces */
#define CHAT_OUT_MAX 8192            /* one output line, escapes included */

enum chat_color_when { CHAT_COLOR_AUTO, CHAT_COLOR_ALWAYS, CHAT_COLOR_NEVER };

/* Called with each line typed (len bytes, no newline). When editing, the
 * typed line has been taken off the screen: a line said to the group
 * comes back in its place among the others'; chat_term_echo() shows a
 * command again. */
typedef void (*chat_line_fn)(void *ctx, const char *line, size_t len);

struct chat_term {
    int editing;                 /* libedit in use */
    int color;                   /* output lines may carry colours */
    int timestamps;              /* "HH:MM:SS " before every line */
    int eof;                     /* input ended */
    int in_handler;              /* inside on_line (editing) */
    chat_line_fn on_line;
    void *ctx;
    char buf[CHAT_TERM_LINE_MAX];  /* plain mode: a partial line */
    size_t len;
    char prompt[96];
    int columns;                 /* terminal width libedit was told */
};

/* An output line being built. */
struct chat_out {
    char b[CHAT_OUT_MAX];
    size_t n;
    int color;                   /* copied from the terminal */
};

/* Set up input and output. editing_wanted 0 forces plain lines. Colours:
 * ALWAYS, NEVER, or AUTO (when stdout is a terminal and NO_COLOR is
 * unset or empty). Returns 0, or -1 if editing was wanted at a terminal
 * but this build has no libedit (plain lines are used then). */
int chat_term_open(struct chat_term *t, int editing_wanted,
                   enum chat_color_when color, int timestamps,
                   chat_line_fn on_line, void *ctx);

/* The prompt shown before the typed line (editing only). */
void chat_term_set_prompt(struct chat_term *t, const char *prompt);

/* The descriptor to poll for input, or -1 once input has ended. */
int chat_term_fd(const struct chat_term *t);

/* Input is readable (or hung up: revents from poll): take it; may call
 * on_line any number of times, and set t->eof. */
void chat_term_input(struct chat_term *t, short revents);

/* Print o as one line above the input line. */
void chat_term_print(struct chat_term *t, const struct chat_out *o);

/* Editing: print the prompt and line again as an output line (a command
 * the user typed, before its answer). Plain mode: nothing. */
void chat_term_echo(struct chat_term *t, const char *line, size_t len);

/* Around writing to stderr directly (tool_err): take the input line off
 * the screen, then draw it again. No-ops when not editing. */
void chat_term_pause(struct chat_term *t);
void chat_term_resume(struct chat_term *t);

/* Restore the terminal. Safe to call twice. */
void chat_term_close(struct chat_term *t);

/* ---- building output lines ---- */
void chat_out_init(struct chat_out *o, const struct chat_term *t);
/* Trusted text (ours). */
void chat_out_str(struct chat_out *o, const char *s);
void chat_out_fmt(struct chat_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Text from the network: neutralised (chat_sanitize). */
void chat_out_untrusted(struct chat_out *o, const char *s, size_t len);
/* Start colour number c (0..CHAT_COLORS-1), or bold for c < 0; end it. */
#define CHAT_COLORS 12
void chat_out_color(struct chat_out *o, int c);
void chat_out_plain(struct chat_out *o);

#endif /* COHORT_TOOLS_CHAT_TERM_H */
