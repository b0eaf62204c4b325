/*
 * view.c - agreed views: canonical order, differences, the primary rule and
 * the chunked member list (see view.h and docs/membership.md).
 */
#include "view.h"

#include <string.h>

#include "co_assert.h"
#include "wire.h"

static int cmp32(uint32_t a, uint32_t b)
{
    return a < b ? -1 : a > b;
}

int co_vmember_cmp(const co_vmember_t *a, const co_vmember_t *b)
{
    int c = cmp32(a->since, b->since);
    if (c == 0)
        c = cmp32(a->id, b->id);
    if (c == 0)
        c = cmp32(a->incarnation, b->incarnation);
    return c;
}

void co_view_init(co_view_t *v, co_vmember_t *storage, size_t cap)
{
    COHORT_ASSERT(storage != NULL || cap == 0);
    memset(v, 0, sizeof *v);
    v->members = storage;
    v->cap = cap;
}

void co_view_copy(co_view_t *to, const co_view_t *from)
{
    COHORT_ASSERT(to->cap >= from->count);
    to->id = from->id;
    to->primary = from->primary;
    to->count = from->count;
    if (from->count)
        memmove(to->members, from->members,
                from->count * sizeof *from->members);
}

void co_view_sort(co_view_t *v)
{
    for (size_t i = 1; i < v->count; i++) {
        co_vmember_t m = v->members[i];
        size_t j = i;
        while (j > 0 && co_vmember_cmp(&v->members[j - 1], &m) > 0) {
            v->members[j] = v->members[j - 1];
            j--;
        }
        v->members[j] = m;
    }
}

bool co_view_canonical(const co_view_t *v)
{
    for (size_t i = 0; i < v->count; i++) {
        const co_vmember_t *m = &v->members[i];
        if (m->id == 0 || m->incarnation == 0)
            return false;
        if (i > 0 && co_vmember_cmp(&v->members[i - 1], m) >= 0)
            return false;
        /* Ids are not the sort key's first part, so a repeat can be far
         * away; views are small enough (max_members) for the square. */
        for (size_t j = 0; j < i; j++)
            if (v->members[j].id == m->id)
                return false;
    }
    return true;
}

long co_view_find_id(const co_view_t *v, uint32_t id)
{
    for (size_t i = 0; i < v->count; i++)
        if (v->members[i].id == id)
            return (long)i;
    return -1;
}

long co_view_find(const co_view_t *v, uint32_t id, uint32_t incarnation)
{
    long i = co_view_find_id(v, id);
    return i >= 0 && v->members[i].incarnation == incarnation ? i : -1;
}

int co_view_add(co_view_t *v, co_vmember_t m)
{
    COHORT_ASSERT(m.id != 0 && m.incarnation != 0);
    if (v->count == v->cap || co_view_find_id(v, m.id) >= 0)
        return -1;
    size_t at = v->count;
    while (at > 0 && co_vmember_cmp(&v->members[at - 1], &m) > 0) {
        v->members[at] = v->members[at - 1];
        at--;
    }
    v->members[at] = m;
    v->count++;
    return 0;
}

bool co_view_remove(co_view_t *v, uint32_t id, uint32_t incarnation)
{
    long i = co_view_find(v, id, incarnation);
    if (i < 0)
        return false;
    memmove(&v->members[i], &v->members[i + 1],
            (v->count - (size_t)i - 1) * sizeof *v->members);
    v->count--;
    return true;
}

uint32_t co_view_proposer_inc(const co_view_t *v)
{
    long i = co_view_find_id(v, co_view_coord_id(v->id));
    return i < 0 ? 0 : v->members[i].incarnation;
}

const co_vmember_t *co_view_coordinator(const co_view_t *v)
{
    return v->count ? &v->members[0] : NULL;
}

size_t co_view_minus(const co_view_t *a, const co_view_t *b,
                     co_vmember_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const co_vmember_t *m = &a->members[i];
        if (co_view_find(b, m->id, m->incarnation) >= 0)
            continue;
        if (n < max)
            out[n] = *m;
        n++;
    }
    return n;
}

bool co_view_is_primary(size_t count, size_t expected_members)
{
    return expected_members == 0 || 2 * count > expected_members;
}

bool co_view_next_counter(uint32_t max_counter, uint32_t *out)
{
    if (max_counter == UINT32_MAX)
        return false;
    *out = max_counter + 1;
    return true;
}

/* ------------------------------------------------------------------ */
/* Chunks                                                              */
/* ------------------------------------------------------------------ */

size_t co_vchunk_size(size_t count)
{
    return CO_VCHUNK_FIXED_BYTES + count * CO_VCHUNK_ENTRY_BYTES;
}

size_t co_vchunk_fits(size_t room)
{
    if (room < co_vchunk_size(1))
        return 0;
    size_t n = (room - CO_VCHUNK_FIXED_BYTES) / CO_VCHUNK_ENTRY_BYTES;
    return n > UINT16_MAX ? UINT16_MAX : n;
}

size_t co_vchunk_encode(uint8_t *out, const co_view_t *v, uint32_t attempt,
                        size_t first, size_t count)
{
    COHORT_ASSERT(count >= 1 && first + count <= v->count);
    COHORT_ASSERT(v->count <= UINT16_MAX);
    co_put64(out, v->id);
    co_put32(out + 8, attempt);
    co_put16(out + 12, (uint16_t)v->count);
    co_put16(out + 14, (uint16_t)first);
    co_put16(out + 16, (uint16_t)count);
    out[18] = v->primary ? CO_VCHUNK_PRIMARY : 0;
    out[19] = 0;
    uint8_t *p = out + CO_VCHUNK_FIXED_BYTES;
    for (size_t i = 0; i < count; i++, p += CO_VCHUNK_ENTRY_BYTES) {
        const co_vmember_t *m = &v->members[first + i];
        co_put32(p, m->id);
        co_put32(p + 4, m->incarnation);
        co_put32(p + 8, m->since);
    }
    return co_vchunk_size(count);
}

co_vmember_t co_vchunk_entry(const co_vchunk_t *c, size_t i)
{
    COHORT_ASSERT(i < c->count);
    const uint8_t *p = c->entries + i * CO_VCHUNK_ENTRY_BYTES;
    return (co_vmember_t){co_get32(p), co_get32(p + 4), co_get32(p + 8)};
}

int co_vchunk_decode(const uint8_t *body, size_t len, co_vchunk_t *c)
{
    if (len < CO_VCHUNK_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    c->view_id = co_get64(body);
    c->attempt = co_get32(body + 8);
    c->total = co_get16(body + 12);
    c->first = co_get16(body + 14);
    c->count = co_get16(body + 16);
    c->flags = body[18];
    c->entries = body + CO_VCHUNK_FIXED_BYTES;
    if (len != co_vchunk_size(c->count))
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (co_view_counter(c->view_id) == 0 || co_view_coord_id(c->view_id) == 0 ||
        (c->flags & ~CO_VCHUNK__KNOWN) || body[19] != 0 || c->count == 0 ||
        (size_t)c->first + c->count > c->total)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    for (size_t i = 0; i < c->count; i++) {
        co_vmember_t m = co_vchunk_entry(c, i);
        if (m.id == 0 || m.incarnation == 0)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
        if (i > 0) {
            co_vmember_t prev = co_vchunk_entry(c, i - 1);
            if (co_vmember_cmp(&prev, &m) >= 0)
                return CO_DROP(COHORT_DROP_BAD_FIELD);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Assembly                                                            */
/* ------------------------------------------------------------------ */

void co_vasm_init(co_vasm_t *a, co_vmember_t *storage, size_t cap)
{
    memset(a, 0, sizeof *a);
    co_view_init(&a->view, storage, cap);
    co_vasm_reset(a); /* empty slots are how feed knows what it lacks */
}

void co_vasm_reset(co_vasm_t *a)
{
    if (a->view.cap)
        memset(a->view.members, 0, a->view.cap * sizeof *a->view.members);
    a->view.id = 0;
    a->view.count = 0;
    a->view.primary = false;
    a->attempt = 0;
    a->have = 0;
    a->started = false;
}

int co_vasm_feed(co_vasm_t *a, const co_vchunk_t *c)
{
    co_view_t *v = &a->view;
    bool primary = (c->flags & CO_VCHUNK_PRIMARY) != 0;
    if (!a->started) {
        if (c->total > v->cap)
            return CO_DROP(COHORT_DROP_NO_BUFFER);
        a->started = true;
        v->id = c->view_id;
        v->count = c->total;
        v->primary = primary;
        a->attempt = c->attempt;
    } else if (c->view_id != v->id || c->attempt != a->attempt ||
               c->total != v->count || primary != v->primary) {
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    if (a->have == v->count)
        return 0; /* complete already: a repeat */
    for (size_t i = 0; i < c->count; i++) {
        co_vmember_t m = co_vchunk_entry(c, i);
        co_vmember_t *slot = &v->members[c->first + i];
        if (slot->id == 0) {
            *slot = m;
            a->have++;
        } else if (!co_vmember_same(slot, &m) || slot->since != m.since) {
            return CO_DROP(COHORT_DROP_BAD_FIELD);
        }
    }
    if (a->have < v->count)
        return 0;
    if (!co_view_canonical(v)) {
        co_vasm_reset(a);
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    return 1;
}
