/*
 * chat_term.c - cohort-chat's terminal side (chat_term.h).
 *
 * Editing uses libedit's readline emulation in callback mode. To print a
 * line while the user types, the input line is taken off the screen (the
 * cursor goes back to where the prompt starts and the rest of the screen
 * is cleared), the line is printed, and libedit redraws the prompt and
 * the typed text with the cursor where it was
 * (rl_forced_update_display). Nothing of the typed text is lost: it
 * lives in libedit's buffer, not on the screen.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "chat_msg.h"
#include "chat_term.h"

/* The callback interface passes no context: one terminal per process. */
static struct chat_term *g_term;

/* ---------------- output lines ---------------- */

void chat_out_init(struct chat_out *o, const struct chat_term *t)
{
    o->n = 0;
    o->b[0] = '\0';
    o->color = t->color;
}

static void out_bytes(struct chat_out *o, const char *s, size_t len)
{
    if (len > sizeof o->b - 1 - o->n)
        len = sizeof o->b - 1 - o->n;
    memcpy(o->b + o->n, s, len);
    o->n += len;
    o->b[o->n] = '\0';
}

void chat_out_str(struct chat_out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

void chat_out_fmt(struct chat_out *o, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = vsnprintf(o->b + o->n, sizeof o->b - o->n, fmt, ap);
    va_end(ap);
    if (r > 0)
        o->n += (size_t)r < sizeof o->b - o->n ? (size_t)r
                                               : sizeof o->b - 1 - o->n;
}

void chat_out_untrusted(struct chat_out *o, const char *s, size_t len)
{
    o->n += chat_sanitize(s, len, o->b + o->n, sizeof o->b - o->n);
}

void chat_out_color(struct chat_out *o, int c)
{
    /* Six hues, normal then bright: readable on dark and light
     * backgrounds alike (no black, no white). */
    static const char *const k_sgr[CHAT_COLORS] = {
        "31", "32", "33", "34", "35", "36",
        "91", "92", "93", "94", "95", "96",
    };
    if (!o->color)
        return;
    if (c < 0)
        chat_out_str(o, "\033[1m");
    else
        chat_out_fmt(o, "\033[%sm", k_sgr[c % CHAT_COLORS]);
}

void chat_out_plain(struct chat_out *o)
{
    if (o->color)
        chat_out_str(o, "\033[0m");
}

/* ---------------- the input line on screen ---------------- */
#ifdef HAVE_LIBEDIT

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Columns text takes on screen (bytes it cannot decode count one). */
static size_t text_width(const char *s, size_t len)
{
    mbstate_t st;
    size_t w = 0;
    memset(&st, 0, sizeof st);
    while (len > 0) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s, len, &st);
        int cw;
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
            memset(&st, 0, sizeof st);
            n = 1;
            cw = 1;
        } else {
            cw = wcwidth(wc);
            if (cw < 0)
                cw = 1;
        }
        w += (size_t)cw;
        s += n;
        len -= n;
    }
    return w;
}

/* Move the cursor to where the prompt starts and clear from there. The
 * cursor is after width columns of prompt and text. */
static void erase_from_prompt(size_t width, int below)
{
    size_t cols = (size_t)term_columns();
    size_t row = width / cols + (size_t)below;
    fputs("\r", stdout);
    if (row > 0)
        printf("\033[%zuA", row);
    fputs("\033[J", stdout);
}

static void hide_input(struct chat_term *t)
{
    size_t w = text_width(t->prompt, strlen(t->prompt));
    int cols = term_columns();
    if (cols != t->columns) {
        /* The window was resized (we keep SIGWINCH from libedit). */
        t->columns = cols;
        rl_resize_terminal();
    }
    if (rl_line_buffer != NULL && rl_point > 0)
        w += text_width(rl_line_buffer, (size_t)rl_point);
    erase_from_prompt(w, 0);
}

static void show_input(void)
{
    rl_forced_update_display();
}

static void editing_stop(void)
{
    rl_callback_handler_remove();
}

/* ---------------- libedit ---------------- */

static void on_readline(char *line)
{
    struct chat_term *t = g_term;
    size_t len, w, cols;
    if (t == NULL) {
        free(line);
        return;
    }
    if (line == NULL) {
        /* Ctrl-D on an empty line: libedit shows it as "^D" after the
         * prompt; take the line away, "* leaving" follows there. */
        erase_from_prompt(text_width(t->prompt, strlen(t->prompt)) + 2, 0);
        t->eof = 1;
        rl_callback_handler_remove();
        return;
    }
    len = strlen(line);
    if (len > 0)
        add_history(line);
    /* libedit left "prompt text" on screen and moved to the next line:
     * take it away. A line said to the group comes back in its place
     * among the others'; a command is echoed by the chat. */
    w = text_width(t->prompt, strlen(t->prompt)) + text_width(line, len);
    cols = (size_t)term_columns();
    erase_from_prompt(w - (w > 0 && w % cols == 0), 1);
    t->in_handler = 1;
    t->on_line(t->ctx, line, len);
    t->in_handler = 0;
    free(line);
    /* Start the next line (libedit leaves unbuffered mode after one). */
    if (!t->eof)
        rl_callback_handler_install(t->prompt, on_readline);
    fflush(stdout);
}

static int editing_open(struct chat_term *t)
{
    setlocale(LC_CTYPE, "");
    rl_readline_name = "cohort-chat";
    /* Our own SIGINT/SIGTERM handlers stay; libedit must not replace
     * them. */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_inhibit_completion = 1;
    using_history();
    stifle_history(500);
    g_term = t;
    t->columns = term_columns();
    rl_callback_handler_install(t->prompt, on_readline);
    return 0;
}

static void editing_read(void)
{
    rl_callback_read_char();
}

static void editing_prompt(const char *prompt)
{
    rl_set_prompt(prompt);
}
#else /* !HAVE_LIBEDIT: plain lines only */
static void hide_input(struct chat_term *t) { (void)t; }
static void show_input(void) {}
static void editing_stop(void) {}
static void editing_read(void) {}
static void editing_prompt(const char *prompt) { (void)prompt; }
static int editing_open(struct chat_term *t)
{
    (void)t;
    return -1;
}
#endif

/* ---------------- public ---------------- */

static int want_color(enum chat_color_when when)
{
    const char *nc;
    if (when != CHAT_COLOR_AUTO)
        return when == CHAT_COLOR_ALWAYS;
    nc = getenv("NO_COLOR");
    if (nc != NULL && nc[0] != '\0')
        return 0;
    return isatty(STDOUT_FILENO);
}

int chat_term_open(struct chat_term *t, int editing_wanted,
                   enum chat_color_when color, int timestamps,
                   chat_line_fn on_line, void *ctx)
{
    t->on_line = on_line;
    t->ctx = ctx;
    t->color = want_color(color);
    t->timestamps = timestamps;
    t->eof = 0;
    t->len = 0;
    if (t->prompt[0] == '\0')
        snprintf(t->prompt, sizeof t->prompt, "> ");
    t->editing = editing_wanted && isatty(STDIN_FILENO) &&
                 isatty(STDOUT_FILENO);
    if (t->editing && editing_open(t) != 0) {
        t->editing = 0;
        return -1;
    }
    return 0;
}

void chat_term_set_prompt(struct chat_term *t, const char *prompt)
{
    char clean[sizeof t->prompt];
    chat_sanitize(prompt, strlen(prompt), clean, sizeof clean);
    if (!t->editing) {
        snprintf(t->prompt, sizeof t->prompt, "%s", clean);
        return;
    }
    hide_input(t);
    snprintf(t->prompt, sizeof t->prompt, "%s", clean);
    editing_prompt(t->prompt);
    show_input();
    fflush(stdout);
}

int chat_term_fd(const struct chat_term *t)
{
    return t->eof ? -1 : STDIN_FILENO;
}

/* Plain mode: hand over the complete lines in the buffer; with all, the
 * unterminated rest too (end of input, or a line longer than the
 * buffer). */
static void plain_lines(struct chat_term *t, int all)
{
    size_t start = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->buf[i] != '\n')
            continue;
        t->on_line(t->ctx, t->buf + start, i - start);
        start = i + 1;
    }
    if (all && start < t->len) {
        t->on_line(t->ctx, t->buf + start, t->len - start);
        start = t->len;
    }
    memmove(t->buf, t->buf + start, t->len - start);
    t->len -= start;
}

static void plain_input(struct chat_term *t)
{
    ssize_t r = read(STDIN_FILENO, t->buf + t->len, sizeof t->buf - t->len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        plain_lines(t, 1);
        t->eof = 1;
        return;
    }
    t->len += (size_t)r;
    plain_lines(t, t->len == sizeof t->buf);
}

void chat_term_input(struct chat_term *t, short revents)
{
    if (t->eof)
        return;
    if (!t->editing) {
        plain_input(t);
        return;
    }
    if (!(revents & POLLIN)) {
        /* The terminal hung up. */
        t->eof = 1;
        editing_stop();
        return;
    }
    editing_read();
    fflush(stdout);
}

static int live_input(const struct chat_term *t)
{
    return t->editing && !t->eof && !t->in_handler;
}

static void put_timestamp(void)
{
    char ts[16];
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) != NULL &&
        strftime(ts, sizeof ts, "%H:%M:%S ", &tm) > 0)
        fputs(ts, stdout);
}

void chat_term_print(struct chat_term *t, const struct chat_out *o)
{
    int live = live_input(t);
    if (live)
        hide_input(t);
    if (t->timestamps)
        put_timestamp();
    fwrite(o->b, 1, o->n, stdout);
    fputs("\n", stdout);
    if (live)
        show_input();
    fflush(stdout);
}

void chat_term_pause(struct chat_term *t)
{
    fflush(stdout);
    if (live_input(t))
        hide_input(t);
    fflush(stdout);
}

void chat_term_resume(struct chat_term *t)
{
    fflush(stderr);
    if (live_input(t))
        show_input();
    fflush(stdout);
}

void chat_term_close(struct chat_term *t)
{
    if (t->editing && !t->eof) {
        editing_stop();
        fputs("\n", stdout);
        fflush(stdout);
    }
    t->eof = 1;
    g_term = NULL;
}

void chat_term_echo(struct chat_term *t, const char *line, size_t len)
{
    struct chat_out o;
    if (!t->editing)
        return;
    chat_out_init(&o, t);
    chat_out_str(&o, t->prompt);
    chat_out_untrusted(&o, line, len);
    chat_term_print(t, &o);
}
