/*
 * perf_members - cohort-perf membership: how long agreed views take, with
 * real member processes (cohort-perf member) on one host.
 *
 * Every process reads the same clock (CLOCK_MONOTONIC is system-wide on
 * Linux), so a member's "OPEN t=" and "VIEW t=" lines on its stdout can be
 * set against each other and against the moment the parent killed or
 * stopped a member.
 */
#ifndef COHORT_TOOLS_PERF_MEMBERS_H
#define COHORT_TOOLS_PERF_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define PERF_MEMBERS_MAX_SIZES 8
#define PERF_MEMBERS_MAX 48           /* processes per group; pump <= 64 */

struct perf_members_opts {
    struct tool_net net;
    uint64_t sizes[PERF_MEMBERS_MAX_SIZES];   /* group sizes, each >= 2 */
    size_t nsizes;
    uint64_t repeat;                  /* >= 1 */
    uint64_t member_timeout_ms;       /* 0: the library's default */
    double timeout_s;                 /* member: exit after this long */
    int json, quiet;
};

/* membership: for each group size, --repeat times: start the members
 * together, kill one, add a joiner, close one; print the table (or JSON).
 * Returns a TOOL_EXIT_* status. */
int perf_members_run(const struct perf_members_opts *o);

/* member: one member that prints OPEN and VIEW lines until SIGTERM (then
 * CLOSE and a graceful cohort_close) or its timeout. */
int perf_members_member(const struct perf_members_opts *o);

#endif /* COHORT_TOOLS_PERF_MEMBERS_H */
