/*
 * perf_verify.h - cheap receive-side checks for cohort-perf's messages, so
 * that no figure is quoted for a run that delivered wrongly.
 *
 * Payload: a benchmark message is a header of hdr_bytes (cohort-perf's,
 * with run id, sender and sequence number) and filler. The sender stamps
 * two sample windows of the filler, its first PERF_VERIFY_SAMPLE bytes and
 * its last PERF_VERIFY_SAMPLE bytes after those, with a pattern of the
 * sequence number, and puts in the header a 64-bit checksum of (run id,
 * sender, sequence, length); the receiver checks both (the samples
 * against the pattern they must hold). The rest of the filler is
 * PERF_VERIFY_FILL; the receiver checks all of it on every
 * PERF_VERIFY_FULL_EVERY-th sequence number only, so the check costs a few
 * word operations per message whatever its size.
 *
 * Sequence: per sender, a window of the last PERF_VERIFY_WINDOW sequence
 * numbers below the highest one seen tells a duplicate from a late
 * (reordered) arrival and from a gap. The number of distinct sequence
 * numbers taken, against the number the sender sent, is the loss: sent
 * minus received would let duplicates hide losses.
 */
#ifndef COHORT_TOOLS_PERF_VERIFY_H
#define COHORT_TOOLS_PERF_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#define PERF_VERIFY_SAMPLE 16u
#define PERF_VERIFY_FULL_EVERY 64u
#define PERF_VERIFY_FILL 0xa5u
#define PERF_VERIFY_WINDOW 65536u      /* sequence numbers, a power of 2 */

/* What one delivery was, for its sender's sequence. */
enum perf_seq_kind {
    PERF_SEQ_NEXT = 0,           /* the next one expected */
    PERF_SEQ_JUMP,               /* beyond it: the ones between are missing
                                    (for now) */
    PERF_SEQ_LATE,               /* a missing one, arriving after a higher
                                    one: out of order */
    PERF_SEQ_DUP,                /* already taken */
    PERF_SEQ_OLD,                /* below the window: cannot tell a
                                    duplicate from a late one; counted late,
                                    not taken back from the loss */
};

/* One sender's sequence as a receiver saw it. Zero it to start. */
struct perf_seq {
    uint64_t next;               /* highest taken + 1 */
    uint64_t unique;             /* distinct sequence numbers taken */
    uint64_t dups, late;         /* late: LATE and OLD */
    uint64_t bits[PERF_VERIFY_WINDOW / 64];   /* by seq % window */
};

/* Classify seq and record it. Never fails. */
enum perf_seq_kind perf_seq_take(struct perf_seq *s, uint64_t seq);

/* Sender: stamp the sample windows of msg (len bytes, the first hdr_bytes
 * of them its header, the filler PERF_VERIFY_FILL) for seq, and return the
 * checksum that goes into the header. */
uint64_t perf_verify_stamp(uint8_t *msg, size_t len, size_t hdr_bytes,
                           uint32_t run_id, uint32_t from, uint64_t seq);

/* Receiver: 0 if msg (len bytes) is what the sender stamped for (run_id,
 * from, seq) with that checksum and expected_len bytes (0: any length,
 * the checksum covers it); -1 if not (length,
 * checksum, sample or, on every PERF_VERIFY_FULL_EVERY-th seq, filler). */
int perf_verify_check(const uint8_t *msg, size_t len, size_t hdr_bytes,
                      size_t expected_len, uint32_t run_id, uint32_t from,
                      uint64_t seq, uint64_t sum);

#endif /* COHORT_TOOLS_PERF_VERIFY_H */
