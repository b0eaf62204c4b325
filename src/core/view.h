/*
 * view.h - agreed views: identity, canonical member order, differences,
 * the primary rule, and the chunked wire form of a member list
 * (docs/membership.md).
 *
 * Nothing here allocates: a view's member array belongs to the caller, who
 * sizes it from the configuration (max_members). Every function is pure,
 * so the view-change protocol above it can be tested against it alone.
 */
#ifndef COHORT_VIEW_H
#define COHORT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view member. `since` is the counter of the view in which it joined:
 * its age. Members are ordered oldest first by (since, id, incarnation). */
typedef struct co_vmember {
    uint32_t id;          /* nonzero */
    uint32_t incarnation; /* nonzero */
    uint32_t since;
} co_vmember_t;

typedef struct co_view {
    uint64_t id;              /* counter << 32 | coordinator member id */
    bool primary;
    size_t count;             /* members[0 .. count-1] in canonical order */
    size_t cap;               /* room in members */
    co_vmember_t *members;    /* caller-owned, cap entries */
} co_view_t;

/* View ids: a counter that grows with every change, and the coordinator's
 * member id, which keeps ids of views formed at once on two sides of a
 * partition apart. */
static inline uint64_t co_view_make_id(uint32_t counter, uint32_t coord_id)
{
    return (uint64_t)counter << 32 | coord_id;
}
static inline uint32_t co_view_counter(uint64_t view_id)
{
    return (uint32_t)(view_id >> 32);
}
static inline uint32_t co_view_coord_id(uint64_t view_id)
{
    return (uint32_t)view_id;
}

/* The incarnation of the member that proposed v (its id is the low half
 * of v's id; a proposer is always in its own view); 0 if absent. With
 * the id it names a view uniquely, even across restarts of the
 * proposer (docs/membership.md, "View identity"). */
uint32_t co_view_proposer_inc(const co_view_t *v);

/* Order of members: <0, 0, >0 as a sorts before, with, after b. */
int co_vmember_cmp(const co_vmember_t *a, const co_vmember_t *b);

/* Whether two entries name the same member incarnation. */
static inline bool co_vmember_same(const co_vmember_t *a,
                                   const co_vmember_t *b)
{
    return a->id == b->id && a->incarnation == b->incarnation;
}

/* Bind an empty view to caller storage of cap entries. */
void co_view_init(co_view_t *v, co_vmember_t *storage, size_t cap);

/* Copy from's id, flag and members into to (to->cap >= from->count). */
void co_view_copy(co_view_t *to, const co_view_t *from);

/* Put the members in canonical order (insertion sort: deterministic and
 * fast for the nearly sorted lists views are). */
void co_view_sort(co_view_t *v);

/* True when ids and incarnations are nonzero, the order is canonical and
 * no member id appears twice (a member has one incarnation in a view). */
bool co_view_canonical(const co_view_t *v);

/* Index of the member with this id (any incarnation), or -1. */
long co_view_find_id(const co_view_t *v, uint32_t id);

/* Index of this member incarnation, or -1. */
long co_view_find(const co_view_t *v, uint32_t id, uint32_t incarnation);

/* Add m in its place. Returns 0, or -1 when the view is full or already
 * holds a member with m's id (the caller decides which incarnation
 * stays). */
int co_view_add(co_view_t *v, co_vmember_t m);

/* Remove the member incarnation; returns whether it was there. */
bool co_view_remove(co_view_t *v, uint32_t id, uint32_t incarnation);

/* The coordinator (the oldest member); NULL for an empty view. */
const co_vmember_t *co_view_coordinator(const co_view_t *v);

/* The members of a that are not in b, in a's order, up to max into out
 * (out may be NULL with max 0); returns how many there are in all. With
 * a = old view, b = new view these are the members that left; with the
 * views swapped, the ones that joined. */
size_t co_view_minus(const co_view_t *a, const co_view_t *b,
                     co_vmember_t *out, size_t max);

/* Primary rule: more than half of expected_members; every view is
 * primary when expected_members is 0. */
bool co_view_is_primary(size_t count, size_t expected_members);

/* The counter for a view formed from views whose largest counter is
 * max_counter. Returns false when the counter space is used up (2^32
 * changes; the group must be restarted). */
bool co_view_next_counter(uint32_t max_counter, uint32_t *out);

/* ---------------------------------------------------------------- */
/* Wire form of a member list, in chunks (docs/membership.md):        */
/*   view_id(8) attempt(4) total(2) first(2) count(2) flags(1) rsv(1)  */
/*   count x { member_id(4) incarnation(4) since(4) }                   */
#define CO_VCHUNK_FIXED_BYTES 20
#define CO_VCHUNK_ENTRY_BYTES 12
#define CO_VCHUNK_PRIMARY 0x01
#define CO_VCHUNK__KNOWN 0x01

typedef struct co_vchunk {
    uint64_t view_id;
    uint32_t attempt;
    uint16_t total;           /* members in the whole list, >= 1 */
    uint16_t first;           /* index of the first entry here */
    uint16_t count;           /* entries here, >= 1 */
    uint8_t flags;
    const uint8_t *entries;   /* count * 12 bytes, in the buffer */
} co_vchunk_t;

/* Bytes of a chunk of count entries. */
size_t co_vchunk_size(size_t count);

/* How many entries fit in room bytes (0 if not even the fixed part). */
size_t co_vchunk_fits(size_t room);

/* Encode members first .. first+count-1 of v (count >= 1, within v). */
size_t co_vchunk_encode(uint8_t *out, const co_view_t *v, uint32_t attempt,
                        size_t first, size_t count);

/* Decode and check a chunk of exactly len bytes: 0 or a negative drop
 * code (see wire.h). Checks: view id with a nonzero counter and
 * coordinator, known flags, 1 <= count, first + count <= total, entries
 * nonzero, in canonical order, no id twice within the chunk. */
int co_vchunk_decode(const uint8_t *body, size_t len, co_vchunk_t *c);

co_vmember_t co_vchunk_entry(const co_vchunk_t *c, size_t i);

/* Assembles one list from its chunks, into caller storage. */
typedef struct co_vasm {
    co_view_t view;           /* members[i].id == 0: not received yet */
    uint32_t attempt;
    size_t have;              /* entries received */
    bool started;
} co_vasm_t;

void co_vasm_init(co_vasm_t *a, co_vmember_t *storage, size_t cap);

/* Start over (a new list is expected). */
void co_vasm_reset(co_vasm_t *a);

/* Feed a decoded chunk. Returns 1 when the list is complete and
 * canonical (a->view holds it), 0 when more chunks are needed or the
 * chunk was a repeat, or a negative drop code: the chunk disagrees with
 * the list being assembled (another view or attempt: the caller resets
 * and feeds again if it wants the newer one), holds more members than
 * cap, contradicts an entry already received, or completes a list that is
 * not canonical (then the assembly is reset). */
int co_vasm_feed(co_vasm_t *a, const co_vchunk_t *c);

#endif /* COHORT_VIEW_H */
