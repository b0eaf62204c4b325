/*
 * flush.c - the cut table of a view change and its wire forms (flush.h).
 */
#include "flush.h"

#include <string.h>

#include "co_assert.h"
#include "view.h"
#include "wire.h"

void co_cut_table_init(co_cut_table_t *t, co_cut_t *storage, size_t cap)
{
    COHORT_ASSERT(storage != NULL || cap == 0);
    t->rows = storage;
    t->cap = cap;
    co_cut_table_clear(t);
}

void co_cut_table_clear(co_cut_table_t *t)
{
    t->count = 0;
    t->overflow = 0;
}

/* The table's order: old view (id, proposer incarnation), then sender. */
typedef struct co_cut_key {
    uint64_t view;
    uint32_t pinc, id, inc;
} co_cut_key_t;

static co_cut_key_t key_of(const co_cut_t *r)
{
    return (co_cut_key_t){r->old_view_id, r->old_proposer_inc, r->id,
                          r->incarnation};
}

static int cmp64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int key_cmp(co_cut_key_t a, const co_cut_t *b)
{
    int c = cmp64(a.view, b->old_view_id);
    if (c == 0)
        c = cmp64(a.pinc, b->old_proposer_inc);
    if (c == 0)
        c = cmp64(a.id, b->id);
    if (c == 0)
        c = cmp64(a.inc, b->incarnation);
    return c;
}

int co_cut_cmp(const co_cut_t *a, const co_cut_t *b)
{
    return key_cmp(key_of(a), b);
}

/* Index of the first row not before the key. */
static size_t lower_bound(const co_cut_table_t *t, co_cut_key_t k)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(k, &t->rows[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const co_cut_t *co_cut_table_find(const co_cut_table_t *t,
                                  uint64_t old_view_id,
                                  uint32_t old_proposer_inc, uint32_t id,
                                  uint32_t incarnation)
{
    co_cut_key_t k = {old_view_id, old_proposer_inc, id, incarnation};
    size_t i = lower_bound(t, k);
    if (i < t->count && key_cmp(k, &t->rows[i]) == 0)
        return &t->rows[i];
    return NULL;
}

/* Whether a report (seq, from) should replace the row's holder: more
 * wins; at equal sequences the sender itself (it holds its own records
 * until they are stable), then the lower id, so the table depends on the
 * set of answers, not on their arrival order. */
static bool better(const co_cut_t *row, uint64_t seq, uint32_t from)
{
    if (seq != row->seq)
        return seq > row->seq;
    if ((from == row->id) != (row->holder_id == row->id))
        return from == row->id;
    return from < row->holder_id;
}

int co_cut_table_fold(co_cut_table_t *t, uint32_t from, uint64_t old_view_id,
                      uint32_t old_proposer_inc,
                      const co_flush_entry_t *entries, size_t count)
{
    int rc = 0;
    for (size_t k = 0; k < count; k++) {
        const co_flush_entry_t *e = &entries[k];
        co_cut_key_t key = {old_view_id, old_proposer_inc, e->id,
                            e->incarnation};
        size_t i = lower_bound(t, key);
        co_cut_t *row = &t->rows[i];
        if (i < t->count && key_cmp(key, row) == 0) {
            if (better(row, e->seq, from)) {
                row->seq = e->seq;
                row->holder_id = from;
            }
            continue;
        }
        if (t->count == t->cap) {
            t->overflow++;
            rc = -1;
            continue;
        }
        memmove(row + 1, row, (t->count - i) * sizeof *row);
        *row = (co_cut_t){.old_view_id = old_view_id,
                          .old_proposer_inc = old_proposer_inc, .id = e->id,
                          .incarnation = e->incarnation, .seq = e->seq,
                          .holder_id = from};
        t->count++;
    }
    return rc;
}

int co_cut_table_append(co_cut_table_t *t, const co_cut_t *row)
{
    if (t->count == t->cap)
        return -1;
    if (t->count > 0 && key_cmp(key_of(row), &t->rows[t->count - 1]) <= 0)
        return -1;
    t->rows[t->count++] = *row;
    return 0;
}

/* ------------------------------------------------------------------ */
/* FLUSH_OK                                                            */
/* ------------------------------------------------------------------ */

size_t co_flush_ok_size(size_t count)
{
    return CO_FLUSH_OK_FIXED_BYTES + count * CO_FLUSH_ENTRY_BYTES;
}

size_t co_flush_ok_encode(uint8_t *out, uint64_t proposal_id,
                          uint64_t old_view_id, uint32_t old_proposer_inc,
                          const co_flush_entry_t *entries, size_t count)
{
    COHORT_ASSERT(count <= UINT16_MAX);
    co_put64(out, proposal_id);
    co_put64(out + 8, old_view_id);
    co_put32(out + 16, old_proposer_inc);
    co_put16(out + 20, (uint16_t)count);
    uint8_t *p = out + CO_FLUSH_OK_FIXED_BYTES;
    for (size_t i = 0; i < count; i++, p += CO_FLUSH_ENTRY_BYTES) {
        co_put32(p, entries[i].id);
        co_put32(p + 4, entries[i].incarnation);
        co_put64(p + 8, entries[i].seq);
    }
    return co_flush_ok_size(count);
}

co_flush_entry_t co_flush_ok_entry(const co_flush_ok_t *f, size_t i)
{
    COHORT_ASSERT(i < f->count);
    const uint8_t *p = f->entries + i * CO_FLUSH_ENTRY_BYTES;
    return (co_flush_entry_t){co_get32(p), co_get32(p + 4), co_get64(p + 8)};
}

int co_flush_ok_decode(const uint8_t *body, size_t len, co_flush_ok_t *f)
{
    if (len < CO_FLUSH_OK_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    f->proposal_id = co_get64(body);
    f->old_view_id = co_get64(body + 8);
    f->old_proposer_inc = co_get32(body + 16);
    f->count = co_get16(body + 20);
    f->entries = body + CO_FLUSH_OK_FIXED_BYTES;
    if (len != co_flush_ok_size(f->count))
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (co_view_counter(f->proposal_id) == 0 ||
        co_view_coord_id(f->proposal_id) == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    for (size_t i = 0; i < f->count; i++) {
        co_flush_entry_t e = co_flush_ok_entry(f, i);
        if (e.id == 0 || e.incarnation == 0 || e.seq >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
        if (i > 0 && co_flush_ok_entry(f, i - 1).id >= e.id)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Cut chunks                                                          */
/* ------------------------------------------------------------------ */

size_t co_cut_chunk_size(size_t count)
{
    return CO_CUT_FIXED_BYTES + count * CO_CUT_ROW_BYTES;
}

size_t co_cut_chunk_fits(size_t room)
{
    if (room < co_cut_chunk_size(1))
        return 0;
    size_t n = (room - CO_CUT_FIXED_BYTES) / CO_CUT_ROW_BYTES;
    return n > UINT16_MAX ? UINT16_MAX : n;
}

size_t co_cut_chunk_encode(uint8_t *out, uint64_t proposal_id,
                           const co_cut_table_t *t, size_t first,
                           size_t count)
{
    COHORT_ASSERT(count >= 1 && first + count <= t->count);
    COHORT_ASSERT(t->count <= UINT16_MAX);
    co_put64(out, proposal_id);
    co_put16(out + 8, (uint16_t)t->count);
    co_put16(out + 10, (uint16_t)first);
    co_put16(out + 12, (uint16_t)count);
    uint8_t *p = out + CO_CUT_FIXED_BYTES;
    for (size_t i = 0; i < count; i++, p += CO_CUT_ROW_BYTES) {
        const co_cut_t *r = &t->rows[first + i];
        co_put64(p, r->old_view_id);
        co_put32(p + 8, r->old_proposer_inc);
        co_put32(p + 12, r->id);
        co_put32(p + 16, r->incarnation);
        co_put64(p + 20, r->seq);
        co_put32(p + 28, r->holder_id);
    }
    return co_cut_chunk_size(count);
}

co_cut_t co_cut_chunk_row(const co_cut_chunk_t *c, size_t i)
{
    COHORT_ASSERT(i < c->count);
    const uint8_t *p = c->rows + i * CO_CUT_ROW_BYTES;
    return (co_cut_t){.old_view_id = co_get64(p),
                      .old_proposer_inc = co_get32(p + 8),
                      .id = co_get32(p + 12), .incarnation = co_get32(p + 16),
                      .seq = co_get64(p + 20), .holder_id = co_get32(p + 28)};
}

int co_cut_chunk_decode(const uint8_t *body, size_t len, co_cut_chunk_t *c)
{
    if (len < CO_CUT_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    c->proposal_id = co_get64(body);
    c->total = co_get16(body + 8);
    c->first = co_get16(body + 10);
    c->count = co_get16(body + 12);
    c->rows = body + CO_CUT_FIXED_BYTES;
    if (len != co_cut_chunk_size(c->count))
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (co_view_counter(c->proposal_id) == 0 ||
        co_view_coord_id(c->proposal_id) == 0 || c->count == 0 ||
        (size_t)c->first + c->count > c->total)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    for (size_t i = 0; i < c->count; i++) {
        co_cut_t r = co_cut_chunk_row(c, i);
        if (r.id == 0 || r.incarnation == 0 || r.holder_id == 0 ||
            r.seq >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
        if (i > 0) {
            co_cut_t prev = co_cut_chunk_row(c, i - 1);
            if (key_cmp(key_of(&r), &prev) <= 0)
                return CO_DROP(COHORT_DROP_BAD_FIELD);
        }
    }
    return 0;
}
