/*
 * rtt.c - repair round-trip estimate and NACK retry interval (rtt.h).
 */
#include "config.h"

#include "rtt.h"

void co_rtt_arm(co_rtt_t *r, uint64_t seq, uint64_t now_ns)
{
    if (r->probe_seq != 0 || seq == 0)
        return;
    r->probe_seq = seq;
    r->probe_ns = now_ns;
}

bool co_rtt_arrived(co_rtt_t *r, uint64_t seq, bool retransmit,
                    uint64_t now_ns, uint64_t ceiling_ns)
{
    if (retransmit)
        r->answered = true;
    if (r->probe_seq == 0 || seq != r->probe_seq)
        return false;
    r->probe_seq = 0;
    if (!retransmit || now_ns < r->probe_ns)
        return false;
    uint64_t s = now_ns - r->probe_ns;
    if (s > ceiling_ns)
        s = ceiling_ns;
    if (r->samples++ == 0)
        r->srtt_ns = s;
    else
        r->srtt_ns = (7 * r->srtt_ns + s) / 8;
    return true;
}

/* 2^CO_RTT_BACKOFF_MAX times the floor is past any ceiling (10 s). */
#define CO_RTT_BACKOFF_MAX 14

void co_rtt_round(co_rtt_t *r)
{
    if (r->answered)
        r->backoff = 0;
    else if (r->backoff < CO_RTT_BACKOFF_MAX)
        r->backoff++;
    r->answered = false;
}

uint64_t co_rtt_retry_ns(const co_rtt_t *r, uint64_t ceiling_ns)
{
    if (r->samples == 0)
        return ceiling_ns;
    uint64_t floor = CO_RTT_FLOOR_NS < ceiling_ns ? CO_RTT_FLOOR_NS
                                                  : ceiling_ns;
    uint64_t t = r->srtt_ns;
    if (t < floor)
        t = floor;
    t <<= r->backoff; /* t <= 10 s, backoff <= 14: no overflow */
    if (t > ceiling_ns)
        t = ceiling_ns;
    return t;
}
