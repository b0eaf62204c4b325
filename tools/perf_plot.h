/*
 * perf_plot.h - cohort-perf --plot: its table as a chart, drawn by
 * gnuplot (Debian gnuplot-nox): throughput by message size, one line per
 * mode beside raw, and the round-trip latency distribution (CDF), one
 * line per mode and size.
 *
 * cohort-perf fills the series from its cells; this module writes a
 * gnuplot script with the numbers inline (datablocks) and pipes it to
 * gnuplot, which writes FILE as SVG or PNG by its extension. Nothing is
 * drawn by hand.
 */
#ifndef COHORT_TOOLS_PERF_PLOT_H
#define COHORT_TOOLS_PERF_PLOT_H

#include <stddef.h>
#include <stdio.h>

/* The latency distribution a latency cell reports: round trips at 0.0 %,
 * 1 %, ... 99 %, 99.5 %, 99.9 % and 100 % of its samples. */
#define PERF_PLOT_CDF_POINTS 103
#define PERF_PLOT_MAX_POINTS PERF_PLOT_CDF_POINTS

/* The share (in per mille) of CDF point q < PERF_PLOT_CDF_POINTS. */
unsigned perf_plot_cdf_permille(size_t q);

struct perf_plot_series {
    char title[64];
    int latency;                 /* 0: x size (bytes), y msgs/s;
                                    1: x round trip (us), y share 0..1 */
    int color;                   /* by mode: 0 (raw, black) .. 7 */
    int dash;                    /* 1 solid, 2.. dashed (by size) */
    size_t n;
    double x[PERF_PLOT_MAX_POINTS], y[PERF_PLOT_MAX_POINTS];
};

struct perf_plot {
    const char *file;            /* ends in .svg or .png */
    char title[200];
    const struct perf_plot_series *series;
    size_t n;
};

/* Is FILE a name gnuplot can be asked for (.svg or .png)? Returns 0, or
 * -1 with the reason printed. */
int perf_plot_check_name(const char *file);

/* Is gnuplot on PATH? Returns 0, or -1 with the reason printed (how to
 * install it). Asked before a long run, not after it. */
int perf_plot_check_gnuplot(void);

/* The gnuplot script that draws p into p->file. */
void perf_plot_script(FILE *f, const struct perf_plot *p);

/* Run gnuplot on that script. Returns 0, or -1 with the reason printed. */
int perf_plot_draw(const struct perf_plot *p);

#endif /* COHORT_TOOLS_PERF_PLOT_H */
