/*
 * payload.c - the bytes of every workload message.
 *
 *  off len field
 *   0   4  magic "CoSm"
 *   4   1  sender node index
 *   5   1  mode (cohort_mode_t)
 *   6   2  zero
 *   8   4  sender generation (incarnation number in the simulator)
 *  12   4  per-sender index (over all generations)
 *  16   4  reliable number within the generation (FIFO, TOTAL, SAFE
 *          share it), from 1; 0 for UNRELIABLE
 *  20   4  total length
 *  24   8  FNV-1a 64 of bytes [0,24) and [32,len)
 *  32  ..  filler derived from (node, gen, index)
 *
 * The filler is a function of the message's identity, so a receiver can
 * tell a corrupted or spliced message from the right one, not only a
 * message whose checksum fails.
 */
#include <string.h>

#include "co_assert.h"
#include "sim.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t payload_sum(const uint8_t *buf, size_t len)
{
    uint64_t h = fnv(FNV_OFFSET, buf, 24);
    return fnv(h, buf + SIM_PAYLOAD_HEADER, len - SIM_PAYLOAD_HEADER);
}

static void filler(uint8_t *out, size_t len, const sim_payload_t *p)
{
    co_rng_t r;
    co_rng_seed(&r, (uint64_t)p->node << 56 ^ (uint64_t)p->gen << 40 ^
                        p->index);
    size_t i = 0;
    while (i < len) {
        uint64_t x = co_rng_next(&r);
        for (int b = 0; b < 8 && i < len; b++, i++)
            out[i] = (uint8_t)(x >> (8 * b));
    }
}

void sim_payload_build(uint8_t *buf, const sim_payload_t *p)
{
    COHORT_ASSERT(p->len >= SIM_PAYLOAD_HEADER);
    COHORT_ASSERT(p->node < 256 && p->mode < SIM_N_MODES);
    memcpy(buf, "CoSm", 4);
    buf[4] = (uint8_t)p->node;
    buf[5] = p->mode;
    buf[6] = buf[7] = 0;
    put32(buf + 8, p->gen);
    put32(buf + 12, p->index);
    put32(buf + 16, p->fifo_seq);
    put32(buf + 20, p->len);
    filler(buf + SIM_PAYLOAD_HEADER, p->len - SIM_PAYLOAD_HEADER, p);
    uint64_t sum = payload_sum(buf, p->len);
    for (int i = 0; i < 8; i++)
        buf[24 + i] = (uint8_t)(sum >> (56 - 8 * i));
}

static bool filler_matches(const uint8_t *body, size_t len,
                           const sim_payload_t *p)
{
    uint8_t chunk[256];
    co_rng_t r;
    co_rng_seed(&r, (uint64_t)p->node << 56 ^ (uint64_t)p->gen << 40 ^
                        p->index);
    size_t i = 0;
    while (i < len) {
        size_t n = len - i < sizeof chunk ? len - i : sizeof chunk;
        for (size_t k = 0; k < n; k += 8) {
            uint64_t x = co_rng_next(&r);
            for (size_t b = 0; b < 8 && k + b < n; b++)
                chunk[k + b] = (uint8_t)(x >> (8 * b));
        }
        if (memcmp(chunk, body + i, n) != 0)
            return false;
        i += n;
    }
    return true;
}

const char *sim_payload_check(const uint8_t *buf, size_t len,
                              sim_payload_t *p)
{
    if (buf == NULL || len < SIM_PAYLOAD_HEADER)
        return "shorter than the payload header";
    if (memcmp(buf, "CoSm", 4) != 0)
        return "bad magic";
    p->node = buf[4];
    p->mode = buf[5];
    p->gen = get32(buf + 8);
    p->index = get32(buf + 12);
    p->fifo_seq = get32(buf + 16);
    p->len = get32(buf + 20);
    if (p->len != len)
        return "length differs from the length written by the sender";
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++)
        sum = sum << 8 | buf[24 + i];
    if (sum != payload_sum(buf, len))
        return "checksum mismatch";
    if (!filler_matches(buf + SIM_PAYLOAD_HEADER, len - SIM_PAYLOAD_HEADER,
                        p))
        return "body is not the one the sender wrote";
    return NULL;
}
