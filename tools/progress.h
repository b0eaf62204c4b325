/*
 * progress.h - one status line on a terminal, overwritten in place, for
 * the tools' long runs (cohort-perf cells, cohort-harness members).
 *
 * The line goes to stderr only when stderr is a terminal and the caller
 * did not ask for quiet (--quiet, --json): logs, pipes and scripts never
 * see it. It is redrawn at most a few times a second, cut to the width of
 * the terminal (so it never wraps and can always be overwritten), and
 * cleared before anything else is written to stderr and at the end.
 */
#ifndef COHORT_TOOLS_PROGRESS_H
#define COHORT_TOOLS_PROGRESS_H

#include <stdint.h>
#include <stddef.h>

#define TOOL_PROGRESS_EVERY_NS 250000000ull   /* redraw at most 4 per s */
#define TOOL_PROGRESS_DELAY_NS 1000000000ull  /* none in the first second */
#define TOOL_PROGRESS_MAX 160                 /* longest line drawn */

struct tool_progress {
    int on;                      /* stderr is a terminal and not quiet */
    int shown;                   /* a line is on the screen */
    size_t width;                /* columns to use (terminal - 1) */
    uint64_t next_ns;            /* no redraw before this */
};

/* Decide once whether progress is shown: wanted (not --quiet, --json) and
 * stderr a terminal. */
void tool_progress_init(struct tool_progress *p, int wanted);

/* Draw the line (printf-style) unless one was drawn less than
 * TOOL_PROGRESS_EVERY_NS ago; force redraws at once. */
void tool_progress_show(struct tool_progress *p, int force, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

/* Remove the line, if one is shown (before other output, and at the end). */
void tool_progress_clear(struct tool_progress *p);

/* "12.3k", "4.56M": a rate or count in few columns. Returns buf. */
const char *tool_progress_si(double v, char *buf, size_t len);

#endif /* COHORT_TOOLS_PROGRESS_H */
