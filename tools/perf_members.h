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
#include "progress.h"

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
    /* --dip: the throughput dip of a FIFO stream while a member joins,
     * leaves and crashes (perf_members_dip_run). */
    int dip;
    int dip_role;                     /* member: PM_DIP_* */
    const char *dip_file;             /* member, meter: buckets go here */
    uint64_t dip_size;                /* message size, bytes */
    struct tool_progress *progress;   /* the status line (progress.h) */
};

enum { PM_DIP_NONE, PM_DIP_SEND, PM_DIP_RECV, PM_DIP_METER };

/* membership: for each group size, --repeat times: start the members
 * together, kill one, add a joiner, close one; print the table (or JSON).
 * Returns a TOOL_EXIT_* status. */
int perf_members_run(const struct perf_members_opts *o);

/* member: one member that prints OPEN and VIEW lines until SIGTERM (then
 * CLOSE and a graceful cohort_close) or its timeout. */
int perf_members_member(const struct perf_members_opts *o);

/* membership --dip: one sender streams FIFO at full speed to the others
 * while a member joins, one leaves gracefully and one is SIGKILLed; a
 * receiver (the meter) counts delivered bytes in 10 ms buckets. Per event:
 * steady rate, the lowest bucket, time below half of steady, and the bytes
 * lost against steady in units of member_timeout x steady rate. */
int perf_members_dip_run(const struct perf_members_opts *o);

#endif /* COHORT_TOOLS_PERF_MEMBERS_H */
