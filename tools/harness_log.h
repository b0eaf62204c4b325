/*
 * harness_log.h - the members' logs of a cohort-harness run, as the
 * checker reads them: one record per process (a member's life: 0, then
 * one per restart) with what its log says about it.
 *
 * A log that ends without its summary (R) is a killed process's: only
 * its complete lines count (next_line drops a last line cut short).
 */
#ifndef COHORT_HARNESS_LOG_H
#define COHORT_HARNESS_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "cohort.h"
#include "harness_steps.h"

#define HL_MAX_MEMBERS HS_MAX_MEMBERS
#define HL_MAX_LIVES_ALL (HS_MAX_MEMBERS * HS_MAX_LIVES)
#define HL_MAX_RANGES 256          /* sending views per process */
#define HL_VIEW_TEXT 1024          /* a view's member list as logged */
#define HL_MAX_REJOINS 16          /* new incarnations within a process */

enum hl_fate {
    FATE_KILLED,          /* no summary: the log ends abruptly */
    FATE_LEFT,            /* "Q leave": asked to leave */
    FATE_ENDED,           /* "Q end": finished, stopped by the parent */
    FATE_UNFINISHED,      /* summary but no Q: gave up (deadline) */
};

struct hl_range {
    uint64_t from, view;          /* "P from view" */
};

struct hl_life {
    uint32_t index, life;
    char path[4200];
    int have_log, scripted;
    cohort_member_t me;           /* "S id.inc": the last one */
    int have_me;
    /* The earlier ones: a process excluded while alive goes on under a
     * newer incarnation (a new "S id.inc" line before its next view). */
    cohort_member_t was[HL_MAX_REJOINS];
    size_t nwas;
    uint64_t sent;                /* "S sent toobig", when have_sent */
    int have_sent, have_summary, q_end, q_leave;
    enum hl_fate fate;
    uint64_t seen_max;            /* 1 + highest index anyone delivered
                                     (filled by the delivery checks) */
    struct hl_range range[HL_MAX_RANGES];
    size_t nranges, nviews, ranges_lost;
    uint64_t lines;               /* complete lines */
    int have_final;
    uint64_t final_view, final_line;       /* last "F", its line number */
    char final_members[HL_VIEW_TEXT];      /* " id.inc ..." of that view */
};

/* The identity of l that is or was (id, incarnation). */
int hl_is_me(const struct hl_life *l, cohort_member_t m);

struct hl_run {
    struct hl_life life[HL_MAX_LIVES_ALL];
    size_t n;
    int scripted;                 /* a log says "# scripted" */
};

/* dir/member-I.log for life 0, dir/member-I-L.log after. */
void hl_log_path(char *buf, size_t len, const char *dir, uint32_t i,
                 uint32_t life);

/* "member 1", "member 1 life 2" into buf; returns buf. */
const char *hl_name(const struct hl_life *l, char *buf, size_t len);

/* The next complete line of f (may be NULL) into line, newline removed;
 * 0 at the end or at a last line cut short. */
int hl_next_line(FILE *f, char *line, size_t len);

/* A "V id count members..." line: id and count, and where the members
 * start (" id.inc ..."), or NULL if malformed. */
const char *hl_view_members(const char *line, unsigned long long *id,
                            unsigned long *count);

/* The members of a list " id.inc id.inc ..." (as a V line logs them)
 * into out, at most max; returns how many. */
size_t hl_parse_members(const char *list, cohort_member_t *out, size_t max);

/* A "V id count members..." line (or a "G" line, same shape: the members
 * of view id that did not come along): id into *id and the members into
 * out (at most HL_MAX_MEMBERS); how many, or -1 if malformed. */
long hl_member_line(const char *line, unsigned long long *id,
                    cohort_member_t out[HL_MAX_MEMBERS]);

/* Whether the list " a b c" holds the token " b" as a whole word. */
int hl_has_token(const char *list, const char *tok);

/* Read every process's log in dir (members 0..members-1, each life while
 * its log exists) into run. */
void hl_scan_run(uint32_t members, const char *dir, struct hl_run *run);

/* The record of member index's life, or NULL. */
struct hl_life *hl_find(struct hl_run *run, uint32_t index, uint32_t life);

/* End of l's sending range k: where the next starts, else what l sent
 * (or, for a killed process, what anyone delivered of it). */
uint64_t hl_range_end(const struct hl_life *l, size_t k);

#endif
