/*
 * incarnation.c - the incarnation policy; see incarnation.h.
 */
#include "incarnation.h"

uint32_t co_incarnation_choose(uint64_t realtime_ns)
{
    uint32_t v = (uint32_t)(realtime_ns / CO_INCARNATION_TICK_NS);
    /* 0 is "none" on the wire; tick 0 borrows its successor's value, which
     * only meets itself once every 2.1 years. */
    return v != 0 ? v : 1;
}

uint64_t co_incarnation_hold_until_ns(uint64_t realtime_ns)
{
    return (realtime_ns / CO_INCARNATION_TICK_NS + 1) * CO_INCARNATION_TICK_NS;
}

bool co_incarnation_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
