/*
 * harness_total.h - cohort-harness in --mode total and safe: the members'
 * logs (V and O lines) replayed into total_check (tests/sim/total_check.c,
 * the simulator's total-order checker).
 */
#ifndef COHORT_HARNESS_TOTAL_H
#define COHORT_HARNESS_TOTAL_H

#include <stddef.h>

#include "harness_log.h"
#include "total_check.h"

/* Replay run into a new checker keeping up to max_texts texts: each
 * process's log whole, one after the other (total_check takes members in
 * any interleaving). A process that finished stops at its last "F" line;
 * in a scripted run the finished ones end in their final views (SAFE
 * uniformity is judged there), every other process stopped. Checked:
 * sender order is the harness's own per-sender check, so rules 2-5 here.
 * Returns the checker (the caller frees it), or NULL without memory. */
total_check_t *ht_replay(const struct hl_run *run, size_t max_texts);

#endif
