/*
 * harness_vs.c - replay cohort-harness logs into vs_check (see
 * harness_vs.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "harness_vs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Where the replay is in one process's log. */
struct vs_cursor {
    FILE *f;
    uint64_t line, stop_at;      /* lines read; a last line to read */
    uint64_t fed_upto;           /* its messages below this were sent */
    size_t range;                /* its next "P" range */
    int done, pending;
    cohort_member_t me;          /* who it is at this line ("S id.inc") */
    char text[HL_VIEW_TEXT + 64];
};

static size_t life_of_member(const struct hl_run *run, cohort_member_t m)
{
    for (size_t k = 0; k < run->n; k++)
        if (hl_is_me(&run->life[k], m))
            return k;
    return SIZE_MAX;
}

/* Feed the pending line of process k; 0 if it must wait for a send. */
static int vs_feed_line(vs_check_t *c, const struct hl_run *run, size_t k,
                        struct vs_cursor *cur, int force)
{
    const struct hl_life *l = &run->life[k];
    struct vs_cursor *cu = &cur[k];
    const char *t = cu->text;
    unsigned long long a = 0, b = 0;
    unsigned id = 0, inc = 0;
    if (!l->have_me)
        return 1;
    if (t[0] == 'S' && strchr(t, '.') != NULL &&
        sscanf(t, "S %x.%u", &id, &inc) == 2) {
        /* Excluded while alive, it goes on under a newer incarnation:
         * the earlier one ended there. */
        if (cu->me.id != 0)
            vs_check_stopped(c, cu->me);
        cu->me.id = id;
        cu->me.incarnation = inc;
    } else if ((t[0] == 'V' || t[0] == 'G') && t[1] == ' ') {
        cohort_member_t m[HL_MAX_MEMBERS];
        long n = hl_member_line(t, &a, m);
        if (n >= 0 && t[0] == 'V')
            vs_check_install(c, cu->me, a, m, (size_t)n, false);
        else if (n >= 0)
            vs_check_joined(c, cu->me, a, m, (size_t)n);
    } else if (t[0] == 'P' && sscanf(t, "P %llu %llx", &a, &b) == 2) {
        if (cu->range < l->nranges) {
            uint64_t end = hl_range_end(l, cu->range);
            for (uint64_t i = a; i < end; i++)
                vs_check_sent(c, cu->me, i, b);
            cu->fed_upto = end;
            cu->range++;
        }
    } else if (t[0] == 'D') {
        unsigned s, life, sid, sinc;
        int ok = 0;
        size_t len, sk;
        cohort_member_t from;
        if (sscanf(t, "D %u %llu %zu %d %u %llx %x.%u", &s, &a, &len, &ok,
                   &life, &b, &sid, &sinc) != 8 || !ok)
            return 1;
        from.id = sid;
        from.incarnation = sinc;
        sk = life_of_member(run, from);
        if (!force && sk != SIZE_MAX && !cur[sk].done && a >= cur[sk].fed_upto)
            return 0;
        vs_check_delivered(c, cu->me, from, a, b);
    }
    return 1;
}

/* The end of process k's log. A process killed before it took its own
 * latest messages back (self-delivery, which writes the "P" lines) left
 * no word of their view, and no summary: what others delivered of it
 * beyond its last range was sent all the same, in a view the checker
 * learns from their first delivery (vs_check_sent's view 0). */
static void vs_log_ended(vs_check_t *c, const struct hl_life *l,
                         struct vs_cursor *cu)
{
    cu->done = 1;
    if (!l->have_me || l->have_sent)
        return;
    for (uint64_t i = cu->fed_upto; i < l->seen_max; i++)
        vs_check_sent(c, l->me, i, 0);
    if (l->seen_max > cu->fed_upto)
        cu->fed_upto = l->seen_max;
}

/* Feed process k's lines until one must wait; how many were fed. */
static size_t vs_advance(vs_check_t *c, const struct hl_run *run, size_t k,
                         struct vs_cursor *cur, int force)
{
    struct vs_cursor *cu = &cur[k];
    size_t n = 0;
    while (!cu->done) {
        if (!cu->pending) {
            if (cu->line >= cu->stop_at ||
                !hl_next_line(cu->f, cu->text, sizeof cu->text)) {
                vs_log_ended(c, &run->life[k], cu);
                break;
            }
            cu->line++;
            cu->pending = 1;
        }
        if (!vs_feed_line(c, run, k, cur, force))
            break;
        force = 0;
        cu->pending = 0;
        n++;
    }
    return n;
}

static void vs_replay(vs_check_t *c, const struct hl_run *run,
                      struct vs_cursor *cur)
{
    uint64_t bound = run->n + 1;
    for (size_t k = 0; k < run->n; k++)
        bound += run->life[k].lines;
    /* each round feeds a line, or forces one waiting delivery */
    for (uint64_t round = 0; round < bound; round++) {
        size_t fed = 0, open = 0;
        for (size_t k = 0; k < run->n; k++) {
            fed += vs_advance(c, run, k, cur, 0);
            open += !cur[k].done;
        }
        if (open == 0)
            return;
        for (size_t k = 0; fed == 0 && k < run->n; k++)
            if (cur[k].pending && !cur[k].done)
                fed = vs_advance(c, run, k, cur, 1);
    }
}

vs_check_t *hv_replay(const struct hl_run *run, size_t max_texts)
{
    static struct vs_cursor cur[HL_MAX_LIVES_ALL];
    static cohort_member_t live[HL_MAX_LIVES_ALL];
    vs_check_config_t cfg;
    vs_check_t *c = NULL;
    size_t views = 1, msgs = 1, nlive = 0;
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *l = &run->life[k];
        if (l->nviews + 1 > views)
            views = l->nviews + 1;
        for (size_t g = 0; g < l->nranges; g++)
            msgs += hl_range_end(l, g) - l->range[g].from;
        if (l->nranges == 0 && !l->have_sent)
            msgs += l->seen_max; /* vs_log_ended */
    }
    vs_check_config_init(&cfg);
    cfg.max_members = run->n > HL_MAX_MEMBERS ? run->n : HL_MAX_MEMBERS;
    cfg.max_views = views;
    cfg.max_msgs = msgs;
    cfg.max_texts = max_texts;
    cfg.self_delivery = true;
    cfg.proposer_named = true;
    if (vs_check_new(&c, &cfg) != 0)
        return NULL;
    memset(cur, 0, sizeof cur);
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *l = &run->life[k];
        cur[k].f = fopen(l->path, "r");
        cur[k].done = cur[k].f == NULL;
        cur[k].stop_at = run->scripted && l->fate == FATE_ENDED &&
                         l->have_final ? l->final_line : UINT64_MAX;
    }
    vs_replay(c, run, cur);
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *l = &run->life[k];
        if (cur[k].f != NULL)
            fclose(cur[k].f);
        if (!l->have_me)
            continue;
        if (run->scripted && l->fate == FATE_ENDED)
            live[nlive++] = l->me;
        else
            vs_check_stopped(c, l->me);
    }
    if (run->scripted)
        vs_check_final(c, live, nlive);
    return c;
}
