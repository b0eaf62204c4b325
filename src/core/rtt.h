/*
 * rtt.h - a receiver's estimate of how long a repair takes to come back
 * from one sender, and the NACK retry interval it gives (docs/protocol.md,
 * "Receiving: loss detection and NACKs").
 *
 * A sample is the time from the NACK that first asked for a record to
 * the retransmission of that record: one probe at a time, armed on a NACK
 * that asks for records for the first time and cancelled when the record
 * is asked for again or arrives otherwise (Karn's rule: a sample of a
 * record asked for twice cannot say which NACK it answers). The estimate
 * is the smoothed mean of RFC 6298 (gain 1/8), and the retry interval that
 * mean within [floor, ceiling], the ceiling (nack_retry_ns) until the
 * first sample. Not RFC 6298's srtt + 4 * rttvar: a retry round asks again
 * only for the gaps asked before the previous round (send_nacks in
 * core.c), so a record is asked again one to two intervals after it was
 * asked, and a repair that is late costs a duplicate, not a stall; with
 * the deviation added, goodput at 20 % loss fell from 93 % to 61 % of
 * lossless (docs/performance.md, "Throughput under loss").
 *
 * A sender that does not answer (it no longer holds the records, it is
 * gone, or it is not listening to this member) must not be asked every
 * millisecond for ever: each retry round after which no retransmission at
 * all came from it doubles the interval, up to the ceiling; the first
 * retransmission brings it back. Fixed size, no allocation, no clock:
 * the caller passes the times.
 */
#ifndef COHORT_RTT_H
#define COHORT_RTT_H

#include <stdbool.h>
#include <stdint.h>

/* The shortest retry interval: below it a sender's hold-off against
 * repeated NACKs (co_rtt_hold_ns) would swallow the retries. */
#define CO_RTT_FLOOR_NS 1000000ull

typedef struct co_rtt {
    uint64_t srtt_ns;             /* smoothed repair time */
    uint64_t probe_seq;           /* the record timed; 0: none */
    uint64_t probe_ns;            /* when it was first asked for */
    uint64_t samples;             /* 0: no estimate yet */
    uint8_t backoff;              /* the interval is doubled this often */
    bool answered;                /* a retransmission came since the last
                                     retry round */
} co_rtt_t;

/* Time seq from now, unless a probe is already running. seq >= 1. */
void co_rtt_arm(co_rtt_t *r, uint64_t seq, uint64_t now_ns);

/* The gaps through seq are asked for again: a probe among them ends
 * without a sample (it could not tell which NACK it answers). */
static inline void co_rtt_asked_again(co_rtt_t *r, uint64_t through)
{
    if (r->probe_seq != 0 && r->probe_seq <= through)
        r->probe_seq = 0;
}

/* Record seq arrived, as a retransmission or not. A retransmission of the
 * probe's record is a sample (taken as at most ceiling_ns); any other
 * arrival of that record ends the probe without one. Any retransmission
 * counts as an answer (co_rtt_round). Returns true when a sample was
 * taken. */
bool co_rtt_arrived(co_rtt_t *r, uint64_t seq, bool retransmit,
                    uint64_t now_ns, uint64_t ceiling_ns);

/* The probe's record fell below next (delivered, skipped, given up): it
 * will never be timed. */
static inline void co_rtt_passed(co_rtt_t *r, uint64_t next)
{
    if (r->probe_seq != 0 && r->probe_seq < next)
        r->probe_seq = 0;
}

/* A retry round is being sent: without an answer since the previous one
 * the interval doubles (up to the ceiling), with one it is the estimate
 * again. */
void co_rtt_round(co_rtt_t *r);

/* How long to wait before asking again for what is still missing. */
uint64_t co_rtt_retry_ns(const co_rtt_t *r, uint64_t ceiling_ns);

/* A sender's hold-off: a repeat NACK for a record from the member it was
 * just retransmitted to, sooner than this, is ignored (the repair is on
 * its way). Half the shortest retry interval, so no retry is swallowed. */
static inline uint64_t co_rtt_hold_ns(uint64_t ceiling_ns)
{
    uint64_t floor = CO_RTT_FLOOR_NS < ceiling_ns ? CO_RTT_FLOOR_NS
                                                  : ceiling_ns;
    return floor / 2;
}

#endif
