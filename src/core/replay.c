/*
 * replay.c - sliding bitmap of recently accepted packet_seqs.
 *
 * Bit (seq % CO_REPLAY_WINDOW_BITS) stands for seq while seq is in the
 * window (top - CO_REPLAY_WINDOW_BITS, top]. Moving top forward clears the
 * bits of the seqs that enter the window, which are the same bits as those
 * of the seqs that leave it.
 */
#include "config.h"

#include <string.h>

#include "co_assert.h"
#include "replay.h"
#include "wire.h"

_Static_assert(CO_REPLAY_WINDOW_BITS % 64 == 0 && CO_REPLAY_WINDOW_BITS > 0,
               "window is whole 64-bit words");

static size_t word_of(uint64_t seq)
{
    return (size_t)((seq % CO_REPLAY_WINDOW_BITS) / 64);
}

static uint64_t mask_of(uint64_t seq)
{
    return (uint64_t)1 << (seq % 64);
}

void co_replay_init(co_replay_t *w)
{
    COHORT_ASSERT(w != NULL);
    memset(w, 0, sizeof *w);
}

uint64_t co_replay_top(const co_replay_t *w)
{
    return w->top;
}

int co_replay_check(const co_replay_t *w, uint64_t seq)
{
    COHORT_ASSERT(w != NULL);
    if (seq == 0)
        return CO_DROP(COHORT_DROP_REPLAY);
    if (seq > w->top)
        return 0;
    if (w->top - seq >= CO_REPLAY_WINDOW_BITS)
        return CO_DROP(COHORT_DROP_REPLAY);
    if (w->seen[word_of(seq)] & mask_of(seq))
        return CO_DROP(COHORT_DROP_REPLAY);
    return 0;
}

/* Clear the bits of seqs first..last (inclusive, fewer than a window),
 * whole words where the range covers them. */
static void clear_range(co_replay_t *w, uint64_t first, uint64_t last)
{
    COHORT_ASSERT(first <= last && last - first < CO_REPLAY_WINDOW_BITS);
    uint64_t s = first;
    /* At most 63 single bits on each side and WORDS whole words. */
    for (int i = 0; i < CO_REPLAY_WINDOW_BITS && s <= last; i++) {
        if (s % 64 == 0 && last - s >= 63) {
            w->seen[word_of(s)] = 0;
            s += 64;
        } else {
            w->seen[word_of(s)] &= ~mask_of(s);
            s++;
        }
        if (s == 0)
            break; /* wrapped past UINT64_MAX */
    }
}

void co_replay_commit(co_replay_t *w, uint64_t seq)
{
    COHORT_ASSERT(co_replay_check(w, seq) == 0);
    if (seq > w->top) {
        if (seq - w->top >= CO_REPLAY_WINDOW_BITS)
            memset(w->seen, 0, sizeof w->seen);
        else
            clear_range(w, w->top + 1, seq);
        w->top = seq;
    }
    w->seen[word_of(seq)] |= mask_of(seq);
    COHORT_ASSERT(co_replay_check(w, seq) != 0);
}
