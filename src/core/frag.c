/* frag.c - reassembly of fragmented messages (see frag.h). */
#include "frag.h"

#include <stdbool.h>
#include <string.h>

#include "co_assert.h"
#include "wire.h"

void co_reasm_init(co_reasm_t *r, const co_mem_t *mem)
{
    memset(r, 0, sizeof *r);
    r->mem = co_mem_or_libc(mem);
}

void co_reasm_reset(co_reasm_t *r)
{
    uint64_t abandoned = r->abandoned;
    const co_mem_t *mem = r->mem;
    co_free(mem, r->buf);
    memset(r, 0, sizeof *r);
    r->abandoned = abandoned;
    r->mem = mem;
}

void co_reasm_free(co_reasm_t *r) { co_reasm_reset(r); }

/* Make room for need bytes, growing geometrically but never past total.
 * On failure nothing changes. */
static int reasm_reserve(co_reasm_t *r, size_t need, size_t total)
{
    if (need <= r->cap)
        return 0;
    /* Up to 64 KiB is taken at once (two reallocs per message cost more
     * than they save); beyond, growth follows what arrived, never what a
     * hostile total_len claims. */
    size_t cap = r->cap ? r->cap : 65536;
    while (cap < need)
        cap *= 2;
    if (cap > total)
        cap = total;
    uint8_t *buf = co_realloc(r->mem, r->buf, cap);
    if (!buf)
        return -1;
    r->buf = buf;
    r->cap = cap;
    return 0;
}

/* A whole message in one record: handed out as it is (owned) or copied. */
static enum co_reasm_result reasm_whole(co_reasm_t *r, const uint8_t *data,
                                        uint8_t *owned, uint16_t len,
                                        size_t max_message, uint8_t **msg,
                                        size_t *msg_len)
{
    if (len > max_message) { /* as for a fragmented one: one rule */
        co_free(r->mem, owned);
        return CO_REASM_BAD;
    }
    if (!owned) {
        if (!(owned = co_malloc(r->mem, len ? len : 1)))
            return CO_REASM_NOMEM;
        if (len)
            memcpy(owned, data, len);
    }
    *msg = owned;
    *msg_len = len;
    return CO_REASM_DONE;
}

/* data is read; owned, when not NULL, is the same bytes in a buffer the
 * reassembler now owns (handed back as the message, or freed) unless the
 * result is CO_REASM_NOMEM. Every check comes before the allocation, and
 * the allocation before any change, so NOMEM leaves all as it was (but a
 * FIRST still abandons a message in progress: that one is lost anyway). */
static enum co_reasm_result reasm_feed(co_reasm_t *r, uint8_t flags,
                                       uint32_t total_len, const uint8_t *data,
                                       uint8_t *owned, uint16_t len,
                                       size_t max_message, uint8_t **msg,
                                       size_t *msg_len)
{
    bool first = flags & CO_REC_FIRST, last = flags & CO_REC_LAST;
    if (first && r->total) { /* a new start abandons the partial message */
        co_reasm_reset(r);
        r->abandoned++;
    }
    if (first && last)
        return reasm_whole(r, data, owned, len, max_message, msg, msg_len);
    if (first && (total_len <= len || total_len > max_message)) {
        co_free(r->mem, owned);
        return CO_REASM_BAD;
    }
    if (!first && !r->total) {
        co_free(r->mem, owned);
        return CO_REASM_SKIPPED;
    }
    size_t total = first ? total_len : r->total;
    size_t after = r->got + len;
    if (after > total || (last ? after != total : after >= total)) {
        co_free(r->mem, owned);
        co_reasm_reset(r);
        return CO_REASM_BAD;
    }
    if (reasm_reserve(r, after, total) != 0)
        return CO_REASM_NOMEM;
    r->total = total;
    if (len) /* memcpy to a NULL buffer is undefined even for 0 bytes */
        memcpy(r->buf + r->got, data, len);
    r->got = after;
    co_free(r->mem, owned);
    if (!last)
        return CO_REASM_MORE;
    COHORT_ASSERT(r->got == r->total && r->cap == r->got);
    *msg = r->buf;
    *msg_len = r->got;
    r->buf = NULL;
    r->cap = r->got = r->total = 0;
    return CO_REASM_DONE;
}

enum co_reasm_result co_reasm_feed(co_reasm_t *r, uint8_t flags,
                                   uint32_t total_len, uint8_t *data,
                                   uint16_t len, size_t max_message,
                                   uint8_t **msg, size_t *msg_len)
{
    return reasm_feed(r, flags, total_len, data, data, len, max_message, msg,
                      msg_len);
}

enum co_reasm_result co_reasm_feed_borrowed(co_reasm_t *r, uint8_t flags,
                                            uint32_t total_len,
                                            const uint8_t *data, uint16_t len,
                                            size_t max_message, uint8_t **msg,
                                            size_t *msg_len)
{
    return reasm_feed(r, flags, total_len, data, NULL, len, max_message, msg,
                      msg_len);
}
