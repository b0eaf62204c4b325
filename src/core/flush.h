/*
 * flush.h - the view-change agreement on what each old view delivers
 * (docs/membership.md, "One mechanism ...").
 *
 * Every proposed member answers a PREPARE with FLUSH_OK: its current view
 * and, for each sender of that view, the FIFO sequence through which it
 * has delivered (for itself: the last sequence it sent). The coordinator
 * folds the answers into a cut table: per (old view, sender) the largest
 * sequence any member of that old view holds, and one member that holds
 * it, so the others can fetch from it. COMMIT carries the table; each
 * member delivers exactly through the cut of its old view's senders.
 *
 * Bodies on the wire (network order, lengths exact):
 *   FLUSH_OK: proposal_id(8) old_view_id(8) old_proposer_inc(4) count(2)
 *             count x { id(4) incarnation(4) seq(8) }
 *   CUT chunk (in COMMIT): proposal_id(8) total(2) first(2) count(2)
 *             count x { old_view_id(8) old_proposer_inc(4) id(4)
 *                       incarnation(4) seq(8) holder_id(4) }
 *
 * An old view is named by its id and its proposer's incarnation: a member
 * restarted with the same member id while cut off from everyone may form a
 * view whose id an earlier life of it used; the incarnation keeps the two
 * apart (co_view_proposer_inc in view.h).
 *
 * Nothing allocates: the table's storage belongs to the caller.
 */
#ifndef COHORT_FLUSH_H
#define COHORT_FLUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One sender's position as a member reports it. */
typedef struct co_flush_entry {
    uint32_t id;
    uint32_t incarnation;
    uint64_t seq;            /* delivered through (0: nothing) */
} co_flush_entry_t;

/* One row of the cut table. */
typedef struct co_cut {
    uint64_t old_view_id;
    uint32_t old_proposer_inc;
    uint32_t id;
    uint32_t incarnation;
    uint64_t seq;            /* every member of old_view delivers through */
    uint32_t holder_id;      /* a member that holds everything up to seq */
} co_cut_t;

typedef struct co_cut_table {
    co_cut_t *rows;          /* sorted by (old view, id, incarnation) */
    size_t count, cap;
    uint64_t overflow;       /* rows refused for want of room */
} co_cut_table_t;

void co_cut_table_init(co_cut_table_t *t, co_cut_t *storage, size_t cap);
void co_cut_table_clear(co_cut_table_t *t);

/* Fold one FLUSH_OK answer from member `from` (in old view old_view_id)
 * into the table. Returns 0, or -1 when a row did not fit (counted in
 * overflow; the caller must not commit an incomplete table). */
int co_cut_table_fold(co_cut_table_t *t, uint32_t from, uint64_t old_view_id,
                      uint32_t old_proposer_inc,
                      const co_flush_entry_t *entries, size_t count);

/* Table order of two rows: <0, 0, >0. */
int co_cut_cmp(const co_cut_t *a, const co_cut_t *b);

/* The row for (old view, sender), or NULL. */
const co_cut_t *co_cut_table_find(const co_cut_table_t *t,
                                  uint64_t old_view_id,
                                  uint32_t old_proposer_inc, uint32_t id,
                                  uint32_t incarnation);

/* Add a decoded row (a member assembling a COMMIT's table). Rows must
 * arrive in table order without repeats; returns 0 or -1 (out of order,
 * repeat, or no room). */
int co_cut_table_append(co_cut_table_t *t, const co_cut_t *row);

/* ---------------------------------------------------------------- */
#define CO_FLUSH_OK_FIXED_BYTES 22
#define CO_FLUSH_ENTRY_BYTES 16
#define CO_CUT_FIXED_BYTES 14
#define CO_CUT_ROW_BYTES 32

typedef struct co_flush_ok {
    uint64_t proposal_id;
    uint64_t old_view_id;
    uint32_t old_proposer_inc;
    uint16_t count;
    const uint8_t *entries;  /* count * 16 bytes, in the buffer */
} co_flush_ok_t;

typedef struct co_cut_chunk {
    uint64_t proposal_id;
    uint16_t total, first, count;
    const uint8_t *rows;     /* count * 32 bytes, in the buffer */
} co_cut_chunk_t;

size_t co_flush_ok_size(size_t count);
size_t co_flush_ok_encode(uint8_t *out, uint64_t proposal_id,
                          uint64_t old_view_id, uint32_t old_proposer_inc,
                          const co_flush_entry_t *entries, size_t count);
/* 0 or a negative drop code: exact length; proposal id with a nonzero
 * counter; entries with nonzero ids, sequences below CO_SEQ_LIMIT, and
 * ids strictly increasing (one entry a sender). */
int co_flush_ok_decode(const uint8_t *body, size_t len, co_flush_ok_t *f);
co_flush_entry_t co_flush_ok_entry(const co_flush_ok_t *f, size_t i);

size_t co_cut_chunk_size(size_t count);
size_t co_cut_chunk_fits(size_t room);
size_t co_cut_chunk_encode(uint8_t *out, uint64_t proposal_id,
                           const co_cut_table_t *t, size_t first,
                           size_t count);
/* 0 or a negative drop code: exact length, 1 <= count, first + count <=
 * total, rows in table order, nonzero ids, sequences below the limit. */
int co_cut_chunk_decode(const uint8_t *body, size_t len, co_cut_chunk_t *c);
co_cut_t co_cut_chunk_row(const co_cut_chunk_t *c, size_t i);

#endif /* COHORT_FLUSH_H */
