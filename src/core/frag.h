/*
 * frag.h - fragmentation arithmetic and reassembly of one sender's
 * messages.
 *
 * A message larger than one record is sent as consecutive FIFO records:
 * FIRST (carrying total_len), middles, LAST. Records reach the reassembler
 * in sequence order (the receive window sees to that), so reassembly is a
 * running buffer, grown as fragments arrive (never trusting total_len for a
 * large allocation up front) and bounded by max_message.
 */
#ifndef COHORT_FRAG_H
#define COHORT_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

typedef struct co_reasm {
    uint8_t *buf;
    size_t cap;
    size_t got;
    size_t total;           /* 0: no message in progress */
    uint64_t abandoned;     /* partial messages dropped by a new FIRST */
    const co_mem_t *mem;
} co_reasm_t;

enum co_reasm_result {
    CO_REASM_MORE = 0,      /* record taken, message not complete */
    CO_REASM_DONE = 1,      /* *msg holds a whole message (caller owns) */
    CO_REASM_SKIPPED = 2,   /* a fragment of a message we never started */
    CO_REASM_BAD = 3,       /* inconsistent fragment; message dropped */
    CO_REASM_NOMEM = 4,     /* out of memory: the record was not taken
                               (an owned buffer stays the caller's) and
                               nothing changed, so it can be fed again */
};

/* mem: the allocator (NULL: the C library's). */
void co_reasm_init(co_reasm_t *r, const co_mem_t *mem);
void co_reasm_free(co_reasm_t *r);

/* Feed the next record in sequence. data is owned by the reassembler from
 * here on (freed or handed back as *msg). */
enum co_reasm_result co_reasm_feed(co_reasm_t *r, uint8_t flags,
                                   uint32_t total_len, uint8_t *data,
                                   uint16_t len, size_t max_message,
                                   uint8_t **msg, size_t *msg_len);

/* The same, with data only borrowed (read during the call): a fragment
 * is appended straight from it, a whole message is copied. */
enum co_reasm_result co_reasm_feed_borrowed(co_reasm_t *r, uint8_t flags,
                                            uint32_t total_len,
                                            const uint8_t *data, uint16_t len,
                                            size_t max_message, uint8_t **msg,
                                            size_t *msg_len);

/* Drop a message in progress (the sender skipped ahead). */
void co_reasm_reset(co_reasm_t *r);

/* Bytes held. */
static inline size_t co_reasm_bytes(const co_reasm_t *r) { return r->cap; }

#endif
