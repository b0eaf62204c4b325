/*
 * replay.h - anti-replay window over one (sender, incarnation)'s packet_seq.
 *
 * A sliding bitmap: a packet_seq is accepted once, if it is newer than the
 * newest seen or within the last CO_REPLAY_WINDOW_BITS of it and not seen
 * before. Check before any protocol state is touched; commit only after the
 * datagram authenticated. seq 0 is never accepted. No allocation.
 */
#ifndef COHORT_REPLAY_H
#define COHORT_REPLAY_H

#include <stdint.h>

#define CO_REPLAY_WINDOW_BITS 4096

typedef struct co_replay {
    uint64_t top;                              /* newest accepted seq */
    uint64_t seen[CO_REPLAY_WINDOW_BITS / 64];
} co_replay_t;

void co_replay_init(co_replay_t *w);

/* 0 if seq would be accepted, else CO_DROP(COHORT_DROP_REPLAY). */
int co_replay_check(const co_replay_t *w, uint64_t seq);

/* Record seq as seen (it must pass co_replay_check). */
void co_replay_commit(co_replay_t *w, uint64_t seq);

/* Newest accepted seq, 0 before any. */
uint64_t co_replay_top(const co_replay_t *w);

#endif
