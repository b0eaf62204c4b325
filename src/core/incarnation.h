/*
 * incarnation.h - the one incarnation policy: how a member picks the
 * incarnation of a new life, and how two incarnations are ordered.
 *
 * An incarnation is the real-time clock in ticks of 1/64 s, modulo 2^32
 * (0 is skipped: it means "none" on the wire). Incarnations are compared
 * as serial numbers (RFC 1982): a is newer than b iff (int32_t)(a - b) > 0,
 * so the order holds across the wrap (every 2.1 years) for lives less than
 * about a year apart. A restarted member with a stable member_id therefore
 * draws a newer incarnation than its previous life, as long as
 *  - the previous open returned only after its tick had ended (the IO edge
 *    waits for that, at most 1/64 s, in cohort_open), and
 *  - the real-time clock did not step back between the two opens by more
 *    than the time between them.
 * When the clock did step back, the new life is serially older: members
 * that still remember the old life (as a live member or a tombstone) drop
 * its datagrams as STALE, and it is accepted only by those that never knew
 * the old one or have evicted its tombstone. Use member_id 0 (a random id
 * per open) where clocks may step back.
 *
 * Pure functions: no clock is read here; the caller passes the time.
 */
#ifndef COHORT_INCARNATION_H
#define COHORT_INCARNATION_H

#include <stdbool.h>
#include <stdint.h>

/* Nanoseconds per incarnation tick (1/64 s). */
#define CO_INCARNATION_TICK_NS 15625000ULL

/* The incarnation of a life opened at realtime_ns (nanoseconds since the
 * Unix epoch, CLOCK_REALTIME or a virtual one). Never 0. */
uint32_t co_incarnation_choose(uint64_t realtime_ns);

/* The real time before which an open at realtime_ns must not return: the
 * start of the next tick, so that any later open draws a newer value. */
uint64_t co_incarnation_hold_until_ns(uint64_t realtime_ns);

/* True iff incarnation a is newer than b in serial-number order. */
bool co_incarnation_newer(uint32_t a, uint32_t b);

#endif /* COHORT_INCARNATION_H */
