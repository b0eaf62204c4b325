/*
 * perf_plot.c - cohort-perf --plot through gnuplot (perf_plot.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "perf_plot.h"

unsigned perf_plot_cdf_permille(size_t q)
{
    static const unsigned tail[] = { 995, 999, 1000 };
    if (q < 100)
        return (unsigned)q * 10u;
    return tail[q - 100 < 3 ? q - 100 : 2];
}

static const char *extension(const char *file)
{
    const char *dot = strrchr(file, '.');
    return dot != NULL && strchr(dot, '/') == NULL ? dot + 1 : "";
}

/* Is there an executable gnuplot in a PATH directory? */
static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char dir[4096], exe[4200];
    while (path != NULL && *path != '\0') {
        size_t len = strcspn(path, ":");
        if (len > 0 && len < sizeof dir) {
            memcpy(dir, path, len);
            dir[len] = '\0';
            snprintf(exe, sizeof exe, "%s/gnuplot", dir);
            if (access(exe, X_OK) == 0)
                return 1;
        }
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

int perf_plot_check_name(const char *file)
{
    const char *ext = extension(file);
    if (strcmp(ext, "svg") != 0 && strcmp(ext, "png") != 0) {
        tool_err("--plot %s: the file name must end in .svg or .png", file);
        return -1;
    }
    return 0;
}

int perf_plot_check_gnuplot(void)
{
    if (have_gnuplot())
        return 0;
    tool_err("--plot: gnuplot is not installed (not found on PATH); on "
             "Debian: apt-get install gnuplot-nox");
    return -1;
}

/* A gnuplot single-quoted string: a quote inside is written twice. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n')
            fputc(*s, f);
    }
    fputc('\'', f);
}

static size_t count_kind(const struct perf_plot *p, int latency)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->series[i].latency == latency && p->series[i].n > 0;
    return n;
}

static void put_data(FILE *f, const struct perf_plot *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct perf_plot_series *s = &p->series[i];
        fprintf(f, "$s%zu << EOD\n", i);
        for (size_t k = 0; k < s->n; k++)
            fprintf(f, "%.6g %.6g\n", s->x[k], s->y[k]);
        fprintf(f, "EOD\n");
    }
}

static void put_plot(FILE *f, const struct perf_plot *p, int latency)
{
    /* The baseline in black, then colours that stay apart in print. */
    static const char *const colors[] = { "#000000", "#0072b2", "#d55e00",
                                          "#009e73", "#cc79a7", "#e69f00",
                                          "#56b4e9", "#7f7f7f" };
    const char *sep = "plot ";
    for (size_t i = 0; i < p->n; i++) {
        const struct perf_plot_series *s = &p->series[i];
        if (s->latency != latency || s->n == 0)
            continue;
        fprintf(f, "%s$s%zu using 1:2 with %s lw 2 lc rgb '%s' dt %d "
                   "title ", sep, i,
                latency ? "steps" : "linespoints pt 7 ps 0.8",
                colors[(unsigned)s->color % 8u], s->dash > 0 ? s->dash : 1);
        put_quoted(f, s->title);
        sep = ", \\\n     ";
    }
    fputc('\n', f);
}

void perf_plot_script(FILE *f, const struct perf_plot *p)
{
    size_t nt = count_kind(p, 0), nl = count_kind(p, 1);
    int svg = strcmp(extension(p->file), "svg") == 0;
    int panels = (nt > 0) + (nl > 0);
    fprintf(f, "# cohort-perf --plot: gnuplot script (numbers inline)\n");
    fprintf(f, "set terminal %s size %d,%d noenhanced font 'sans,%d' "
               "background rgb 'white'\n", svg ? "svg" : "pngcairo",
            panels > 1 ? 1280 : 720, 520, svg ? 11 : 10);
    fprintf(f, "set output ");
    put_quoted(f, p->file);
    fputc('\n', f);
    put_data(f, p);
    fprintf(f, "set grid\n");
    fprintf(f, "set multiplot layout 1,%d title ", panels > 0 ? panels : 1);
    put_quoted(f, p->title);
    fputc('\n', f);
    if (nt > 0) {
        fprintf(f, "set title 'Throughput by message size (mean of the "
                   "receivers)'\n"
                   "set xlabel 'message size (bytes)'\n"
                   "set ylabel 'messages per second'\n"
                   "set logscale xy\nset format y '%%.0s%%c'\n"
                   "set key top right inside box opaque\n");
        put_plot(f, p, 0);
        fprintf(f, "unset logscale\nset format y '%%g'\n");
    }
    if (nl > 0) {
        fprintf(f, "set title 'Round-trip latency (CDF)'\n"
                   "set xlabel 'round trip (microseconds)'\n"
                   "set ylabel 'share of round trips'\n"
                   "set logscale x\nset yrange [0:1]\n"
                   "set key bottom right inside box opaque\n");
        put_plot(f, p, 1);
    }
    if (panels == 0)
        fprintf(f, "set title 'no cell measured'\nunset border\n"
                   "unset tics\nset xrange [0:1]\nset yrange [0:1]\n"
                   "plot 2 notitle\n");
    fprintf(f, "unset multiplot\nset output\n");
}

int perf_plot_draw(const struct perf_plot *p)
{
    struct stat st;
    FILE *f;
    int status;
    (void)unlink(p->file);
    f = popen("gnuplot", "w");
    if (f == NULL) {
        tool_err("--plot: cannot run gnuplot: %s", strerror(errno));
        return -1;
    }
    perf_plot_script(f, p);
    status = pclose(f);
    if (status != 0) {
        tool_err("--plot: gnuplot failed (%s %d; its messages are above)",
                 WIFEXITED(status) ? "exit" : "status",
                 WIFEXITED(status) ? WEXITSTATUS(status) : status);
        return -1;
    }
    if (stat(p->file, &st) != 0 || st.st_size == 0) {
        tool_err("--plot %s: gnuplot wrote nothing", p->file);
        return -1;
    }
    return 0;
}
