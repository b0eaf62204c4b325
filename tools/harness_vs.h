/*
 * harness_vs.h - --check-vs of cohort-harness: the members' logs replayed
 * into vs_check (tests/sim/vs_check.c, the simulator's checker of views
 * and virtual synchrony).
 */
#ifndef COHORT_HARNESS_VS_H
#define COHORT_HARNESS_VS_H

#include <stddef.h>

#include "harness_log.h"
#include "vs_check.h"

/* Replay run (scanned, with seen_max filled) into a new checker keeping
 * up to max_texts texts. Each process's lines go in its own order; a
 * delivery waits until its sender's log has reached the "P" line whose
 * range holds the message, so every send comes before its deliveries. A
 * finished process stops at its last "F" line (its final view; later
 * views are the others leaving at the end) and, in a scripted run, the
 * finished ones are the final component; the others are stopped.
 * Returns the checker (the caller frees it), or NULL without memory. */
vs_check_t *hv_replay(const struct hl_run *run, size_t max_texts);

#endif
