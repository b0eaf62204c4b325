/*
 * progress.c - the in-place status line (progress.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"
#include "progress.h"

void tool_progress_init(struct tool_progress *p, int wanted)
{
    struct winsize ws;
    memset(p, 0, sizeof *p);
    p->on = wanted && isatty(STDERR_FILENO);
    p->width = 79;
    /* A short run shows nothing: the first line waits a second. */
    p->next_ns = tool_now_ns() + TOOL_PROGRESS_DELAY_NS;
    if (p->on && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        p->width = ws.ws_col - 1u;
    if (p->width >= TOOL_PROGRESS_MAX)
        p->width = TOOL_PROGRESS_MAX - 1;
}

void tool_progress_show(struct tool_progress *p, int force, const char *fmt,
                        ...)
{
    char line[TOOL_PROGRESS_MAX];
    uint64_t now;
    va_list ap;
    int n;
    if (!p->on)
        return;
    now = tool_now_ns();
    if (!force && now < p->next_ns)
        return;
    p->next_ns = now + TOOL_PROGRESS_EVERY_NS;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > p->width)
        line[p->width] = '\0';
    /* \r to the start, the text, then erase what a longer line left. */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->shown = 1;
}

void tool_progress_clear(struct tool_progress *p)
{
    if (!p->on || !p->shown)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->shown = 0;
    p->next_ns = 0;
}

const char *tool_progress_si(double v, char *buf, size_t len)
{
    if (v >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
    return buf;
}
