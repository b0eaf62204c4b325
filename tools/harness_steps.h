/*
 * harness_steps.h - the fault script of cohort-harness: --step TIME:ACTION,
 * parsed and checked as a whole before anything runs.
 *
 *   TIME    seconds from the start of the run: 2s, 2.5s, 1500ms (a bare
 *           number is seconds); steps run in the order given, so times
 *           must not go down
 *   ACTION  kill=LIST        SIGKILL those members (they must be running)
 *           restart=LIST     start them again (killed or left before); a
 *                            new process, same member id, new incarnation
 *           leave=LIST       ask them to leave (SIGTERM: cohort_close)
 *           stop=LIST        SIGSTOP them (running, not stopped): alive
 *                            but silent, as a stalled process; held past
 *                            the member timeout they are excluded while
 *                            alive
 *           cont=LIST        SIGCONT them (stopped before)
 *           partition=G/G... cut the network between groups; each G is a
 *                            LIST, every member in exactly one group
 *           heal             restore the whole network
 *   LIST    member indexes separated by commas: 1 or 0,2
 */
#ifndef COHORT_HARNESS_STEPS_H
#define COHORT_HARNESS_STEPS_H

#include <stddef.h>
#include <stdint.h>

#define HS_MAX_STEPS 32
#define HS_MAX_MEMBERS 16
#define HS_MAX_LIVES 8          /* processes per member over one run */

enum hs_kind {
    HS_KILL, HS_RESTART, HS_LEAVE, HS_PARTITION, HS_HEAL, HS_STOP, HS_CONT
};

struct hs_step {
    uint64_t at_ns;                 /* from the start of the run */
    enum hs_kind kind;
    uint32_t who;                   /* kill, restart, leave: bit i = member i */
    uint8_t group[HS_MAX_MEMBERS];  /* partition: member i's group */
    const char *text;               /* as given (points into argv) */
};

struct hs_script {
    struct hs_step step[HS_MAX_STEPS];
    size_t n;
    int partitions;                 /* some step partitions: namespaces */
};

/* Parse one --step argument into s (appended). Checks the syntax and the
 * indexes against members; the order is checked by hs_check. Returns 0 or
 * -1 with a message printed. */
int hs_add(struct hs_script *s, const char *arg, uint32_t members);

/* The script as a whole: times in order and below timeout_s; each kill
 * and leave of a running member, each restart of a stopped one (at most
 * HS_MAX_LIVES processes per member); heal only while partitioned and the
 * network whole at the end (liveness is judged on one final view); stop
 * only a running member that is not stopped, cont only a stopped one, kill
 * a stopped one (it dies), none stopped at the end.
 * Returns 0 or -1 with a message printed. */
int hs_check(const struct hs_script *s, uint32_t members, double timeout_s);

#endif
