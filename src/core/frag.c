/* frag.c - reassembly of fragmented messages (see frag.h). */
#include "frag.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "wire.h"

void co_reasm_init(co_reasm_t *r) { memset(r, 0, sizeof *r); }

void co_reasm_reset(co_reasm_t *r)
{
    uint64_t abandoned = r->abandoned;
    free(r->buf);
    memset(r, 0, sizeof *r);
    r->abandoned = abandoned;
}

void co_reasm_free(co_reasm_t *r) { co_reasm_reset(r); }

/* Append len bytes, growing geometrically but never past total. */
static int reasm_append(co_reasm_t *r, const uint8_t *data, size_t len)
{
    COHORT_ASSERT(r->got + len <= r->total);
    if (r->got + len > r->cap) {
        /* Up to 64 KiB is taken at once (two reallocs per message cost
         * more than they save); beyond, growth follows what arrived, never
         * what a hostile total_len claims. */
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->got + len)
            cap *= 2;
        if (cap > r->total)
            cap = r->total;
        uint8_t *buf = realloc(r->buf, cap);
        if (!buf)
            return -1;
        r->buf = buf;
        r->cap = cap;
    }
    if (len) /* memcpy to a NULL buffer is undefined even for 0 bytes */
        memcpy(r->buf + r->got, data, len);
    r->got += len;
    return 0;
}

/* data is read; owned, when not NULL, is the same bytes in a buffer the
 * reassembler now owns (handed back as the message, or freed). */
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
    if (first && last) {
        if (len > max_message) { /* as for a fragmented one: one rule */
            free(owned);
            return CO_REASM_BAD;
        }
        if (!owned && (owned = malloc(len ? len : 1)) != NULL && len)
            memcpy(owned, data, len);
        if (!owned)
            return CO_REASM_BAD;
        *msg = owned;
        *msg_len = len;
        return CO_REASM_DONE;
    }
    if (first) {
        if (total_len <= len || total_len > max_message) {
            free(owned);
            return CO_REASM_BAD;
        }
        r->total = total_len;
    } else if (!r->total) {
        free(owned);
        return CO_REASM_SKIPPED;
    }
    size_t after = r->got + len;
    bool ok = after <= r->total && (last ? after == r->total
                                         : after < r->total) &&
              reasm_append(r, data, len) == 0;
    free(owned);
    if (!ok) {
        co_reasm_reset(r);
        return CO_REASM_BAD;
    }
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
