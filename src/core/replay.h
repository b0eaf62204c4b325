/*
 * replay.h - anti-replay window over one (sender, incarnation)'s packet_seq
 * (docs/security.md).
 *
 * packet_seq starts at 1 and only grows, so a datagram is fresh iff its seq
 * is above the newest one accepted so far, or within the last
 * CO_REPLAY_WINDOW_BITS seqs and not yet seen. Deeper reordering is refused:
 * the reliability layer recovers such a datagram's records by NACK anyway.
 * seq 0 is never accepted.
 *
 * Use: co_replay_check() before any protocol state is touched, then
 * co_replay_commit() only once the datagram has authenticated, so a forged
 * datagram can never move the window. Fixed size, no allocation. The same
 * window serves any other per-sender counter that must not repeat.
 */
#ifndef COHORT_REPLAY_H
#define COHORT_REPLAY_H

#include <stdint.h>

#define CO_REPLAY_WINDOW_BITS 4096
#define CO_REPLAY_WORDS (CO_REPLAY_WINDOW_BITS / 64)

typedef struct co_replay {
    uint64_t top;                   /* newest accepted seq; 0 before any */
    uint64_t seen[CO_REPLAY_WORDS]; /* bit seq % WINDOW_BITS, for the seqs
                                       in (top - WINDOW_BITS, top] */
} co_replay_t;

/* Empty window: every seq >= 1 is fresh. */
void co_replay_init(co_replay_t *w);

/* 0 if seq would be accepted, else CO_DROP(COHORT_DROP_REPLAY): seq 0, seq
 * already committed, or seq CO_REPLAY_WINDOW_BITS or more below the top.
 * Does not change w. */
int co_replay_check(const co_replay_t *w, uint64_t seq);

/* Record seq as seen. Precondition (asserted): co_replay_check(w, seq) ==
 * 0. A jump ahead forgets the seqs that slide out of the window. */
void co_replay_commit(co_replay_t *w, uint64_t seq);

/* Newest accepted seq, 0 before any. */
uint64_t co_replay_top(const co_replay_t *w);

#endif
