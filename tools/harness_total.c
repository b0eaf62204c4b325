/*
 * harness_total.c - replay cohort-harness logs into total_check (see
 * harness_total.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "harness_total.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One line of a process that is *me at that line: who it is (a newer
 * incarnation once it was excluded while alive), a view or an ordered
 * delivery. */
static void feed_line(total_check_t *c, cohort_member_t *me, const char *t)
{
    unsigned long long view = 0, order = 0, key = 0;
    unsigned flags = 0, sid = 0, sinc = 0;
    int mode = 0;
    if (t[0] == 'S' && strchr(t, '.') != NULL &&
        sscanf(t, "S %x.%u", &sid, &sinc) == 2) {
        if (me->id != 0)
            total_check_stopped(c, *me);
        me->id = sid;
        me->incarnation = sinc;
    } else if (t[0] == 'V' && t[1] == ' ') {
        cohort_member_t m[HL_MAX_MEMBERS];
        long n = hl_member_line(t, &view, m);
        if (n >= 0)
            total_check_install(c, *me, view, m, (size_t)n);
    } else if (t[0] == 'O' &&
               sscanf(t, "O %llx %llu %u %d %x.%u %llu", &view, &order,
                      &flags, &mode, &sid, &sinc, &key) == 7) {
        cohort_member_t from = { sid, sinc };
        total_check_delivered(c, *me, from, key, 0, (cohort_mode_t)mode,
                              view, order, flags);
    }
}

total_check_t *ht_replay(const struct hl_run *run, size_t max_texts)
{
    static cohort_member_t live[HL_MAX_LIVES_ALL];
    static char text[HL_VIEW_TEXT + 64];
    total_check_config_t cfg;
    total_check_t *c = NULL;
    size_t views = 1, lines = 1, nlive = 0;
    for (size_t k = 0; k < run->n; k++) {
        views += run->life[k].nviews + 1;
        lines += run->life[k].lines;
    }
    total_check_config_init(&cfg);
    cfg.max_members = run->n > HL_MAX_MEMBERS ? run->n : HL_MAX_MEMBERS;
    cfg.max_views = views;
    cfg.max_entries = 2 * lines + 64;
    cfg.max_texts = max_texts;
    cfg.proposer_named = true;
    cfg.positions_shared = true; /* members deliver their own messages */
    if (total_check_new(&c, &cfg) != 0)
        return NULL;
    for (size_t k = 0; k < run->n; k++) {
        const struct hl_life *l = &run->life[k];
        uint64_t stop_at = run->scripted && l->fate == FATE_ENDED &&
                                   l->have_final
                               ? l->final_line
                               : UINT64_MAX;
        FILE *f = l->have_me ? fopen(l->path, "r") : NULL;
        cohort_member_t me = {0, 0};
        for (uint64_t n = 0; f != NULL && n < stop_at &&
                             hl_next_line(f, text, sizeof text);
             n++)
            feed_line(c, &me, text);
        if (f != NULL)
            fclose(f);
        if (!l->have_me)
            continue;
        if (run->scripted && l->fate == FATE_ENDED)
            live[nlive++] = l->me;
        else
            total_check_stopped(c, l->me);
    }
    if (run->scripted)
        total_check_final(c, live, nlive);
    return c;
}
