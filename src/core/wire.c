/*
 * wire.c - encode and decode the cohort wire format, version 2.
 *
 * Decoders treat their input as hostile: every read is preceded by a length
 * check against the bytes actually present, and a malformed datagram yields a
 * drop code, never an assertion. Assertions here guard only what the caller
 * promised (room for an encoding, counts that fit their fields).
 *
 * Length checks come before value checks so that a datagram cut short is
 * always reported as TRUNCATED, whatever the missing bytes would have held.
 */
#include "wire.h"

#include <stdbool.h>
#include <string.h>

#include "co_assert.h"

/* Largest total_len a FIRST fragment may announce: 2^31 keeps message sizes
 * in the positive range of a 32-bit int on every platform. */
#define CO_TOTAL_LEN_MAX ((uint32_t)1 << 31)

/* ---------------------------------------------------------------- */
/* Header                                                            */
/* ---------------------------------------------------------------- */

void co_header_encode(const co_header_t *h, uint8_t *out)
{
    COHORT_ASSERT(h != NULL && out != NULL);
    COHORT_ASSERT((h->flags & ~CO_FLAG__KNOWN) == 0);
    out[0] = CO_MAGIC0;
    out[1] = CO_MAGIC1;
    out[2] = h->version;
    out[3] = h->type;
    out[4] = h->flags;
    out[5] = h->key_id;
    co_put16(out + 6, h->body_len);
    co_put32(out + 8, h->group_id);
    co_put32(out + 12, h->sender_id);
    co_put32(out + 16, h->incarnation);
    co_put64(out + 20, h->packet_seq);
    co_put64(out + 28, h->view_id);
}

static int co_type_known(uint8_t type)
{
    return (type >= CO_TYPE_DATA && type <= CO_TYPE_PARITY) ||
           co_type_is_membership(type) || type == CO_TYPE_FORWARD ||
           type == CO_TYPE_XFER || type == CO_TYPE_RPC;
}

/* The fields whose meaning does not depend on any other datagram. */
static int co_header_check_fields(const co_header_t *h)
{
    if ((h->flags & ~CO_FLAG__KNOWN) != 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* Ciphertext, or a cipher named, without a tag could never be
     * verified. */
    if ((h->flags & (CO_FLAG_ENCRYPTED | CO_FLAG_AES256GCM |
                     CO_FLAG_NOAES)) &&
        !(h->flags & CO_FLAG_SECURED))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* A sender that cannot open AES-256-GCM cannot seal with it either. */
    if ((h->flags & CO_FLAG_AES256GCM) && (h->flags & CO_FLAG_NOAES))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (h->sender_id == 0 || h->incarnation == 0 || h->packet_seq == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* LEAVE has no decoder of its own, so its empty body is checked here. */
    if ((h->type == CO_TYPE_LEAVE || h->type == CO_TYPE_PROBE) &&
        h->body_len != 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (h->type == CO_TYPE_INSTALLED && h->body_len != 8)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

int co_header_decode(const uint8_t *buf, size_t len, co_header_t *h)
{
    COHORT_ASSERT(h != NULL);
    COHORT_ASSERT(buf != NULL || len == 0);
    if (len < CO_HEADER_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (buf[0] != CO_MAGIC0 || buf[1] != CO_MAGIC1)
        return CO_DROP(COHORT_DROP_BAD_MAGIC);
    h->version = buf[2];
    /* Any other version is a peer we cannot understand: drop and count. */
    if (h->version != CO_WIRE_VERSION)
        return CO_DROP(COHORT_DROP_BAD_VERSION);
    h->type = buf[3];
    if (!co_type_known(h->type))
        return CO_DROP(COHORT_DROP_BAD_TYPE);
    h->flags = buf[4];
    h->key_id = buf[5];
    h->body_len = co_get16(buf + 6);
    h->group_id = co_get32(buf + 8);
    h->sender_id = co_get32(buf + 12);
    h->incarnation = co_get32(buf + 16);
    h->packet_seq = co_get64(buf + 20);
    h->view_id = co_get64(buf + 28);

    size_t trailer = (h->flags & CO_FLAG_SECURED) ? CO_TRAILER_BYTES : 0;
    size_t want = CO_HEADER_BYTES + (size_t)h->body_len + trailer;
    if (len < want)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    int rc = co_header_check_fields(h);
    if (rc != 0)
        return rc;
    /* Trailing bytes would be covered by no MAC and read by no decoder. */
    if (len > want)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

/* ---------------------------------------------------------------- */
/* DATA records                                                      */
/* ---------------------------------------------------------------- */

static int co_record_has_total(uint8_t flags)
{
    return (flags & CO_REC_FIRST) && !(flags & CO_REC_LAST);
}

static int co_record_whole(uint8_t flags)
{
    const uint8_t both = CO_REC_FIRST | CO_REC_LAST;
    return (flags & both) == both;
}

size_t co_record_size(const co_record_t *r)
{
    COHORT_ASSERT(r != NULL);
    size_t total = co_record_has_total(r->flags) ? CO_RECORD_TOTAL_BYTES : 0;
    return CO_RECORD_HEADER_BYTES + total + (size_t)r->len;
}

void co_record_encode(const co_record_t *r, uint8_t *out, size_t *off)
{
    COHORT_ASSERT(r != NULL && out != NULL && off != NULL);
    COHORT_ASSERT(r->payload != NULL || r->len == 0);
    uint8_t *p = out + *off;
    p[0] = r->type;
    p[1] = r->flags;
    co_put16(p + 2, r->len);
    co_put64(p + 4, r->seq);
    size_t at = CO_RECORD_HEADER_BYTES;
    if (co_record_has_total(r->flags)) {
        co_put32(p + at, r->total_len);
        at += CO_RECORD_TOTAL_BYTES;
    }
    if (r->len > 0)
        memcpy(p + at, r->payload, r->len);
    *off += at + r->len;
}

int co_data_trail(const uint8_t *body, size_t body_len, uint64_t *trail)
{
    COHORT_ASSERT(trail != NULL);
    COHORT_ASSERT(body != NULL || body_len == 0);
    if (body_len < CO_DATA_TRAIL_BYTES + CO_RECORD_HEADER_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    *trail = co_get64(body);
    /* FIFO seqs start at 1, so no sender can hold seq 0 for repair. */
    if (*trail == 0 || *trail >= CO_SEQ_LIMIT)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

/* Rules between fields of one record, once all of its fixed part is known. */
static int co_record_check(const co_record_t *r)
{
    if (r->type != CO_REC_UNRELIABLE && r->type != CO_REC_FIFO)
        return CO_DROP(COHORT_DROP_BAD_TYPE);
    if ((r->flags & ~CO_REC__KNOWN) != 0 || r->seq == 0 ||
        r->seq >= CO_SEQ_LIMIT)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* Unreliable messages are never fragmented: a lost piece could not be
     * asked for again, so the whole message would be lost anyway. */
    if (r->type == CO_REC_UNRELIABLE && !co_record_whole(r->flags))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* Classes are for reliable records; an ORDER record is whole. */
    uint8_t cls = co_record_class(r->flags);
    if ((r->type == CO_REC_UNRELIABLE && cls != CO_CLASS_FIFO) ||
        (cls == CO_CLASS_ORDER && !co_record_whole(r->flags)))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* An empty fragment carries nothing and would let a peer make a
     * receiver spin through sequence numbers without bytes. */
    if (r->len == 0 && !co_record_whole(r->flags))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (co_record_has_total(r->flags) &&
        (r->total_len <= r->len || r->total_len > CO_TOTAL_LEN_MAX))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* A control record is a whole TOTAL record of its fixed size. */
    if ((r->flags & CO_REC_CONTROL) &&
        (cls != CO_CLASS_TOTAL || !co_record_whole(r->flags) ||
         r->len != CO_CTL_BYTES))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* A request is an ordinary reliable message marked for rpc.c. */
    if ((r->flags & CO_REC_REQUEST) &&
        (r->type != CO_REC_FIFO || cls == CO_CLASS_ORDER ||
         (r->flags & CO_REC_CONTROL)))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

/* The record at body[*off] of a body whose records start at `start`
 * (after DATA's trail or FORWARD's origin). */
static int co_record_next_from(const uint8_t *body, size_t body_len,
                               size_t start, size_t *off, co_record_t *r)
{
    COHORT_ASSERT(off != NULL && r != NULL);
    COHORT_ASSERT(*off >= start);
    /* A body too short for its fixed part is bad input, not a caller bug,
     * even when the caller skipped the check of that part. */
    if (body_len < start)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    COHORT_ASSERT(*off <= body_len && body != NULL);
    if (*off == body_len) {
        int empty = *off == start;
        return empty ? CO_DROP(COHORT_DROP_BAD_FIELD) : 0;
    }
    const uint8_t *p = body + *off;
    size_t left = body_len - *off;
    if (left < CO_RECORD_HEADER_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    r->type = p[0];
    r->flags = p[1];
    r->len = co_get16(p + 2);
    r->seq = co_get64(p + 4);
    r->total_len = 0;
    size_t at = CO_RECORD_HEADER_BYTES;
    if (co_record_has_total(r->flags)) {
        if (left < at + CO_RECORD_TOTAL_BYTES)
            return CO_DROP(COHORT_DROP_TRUNCATED);
        r->total_len = co_get32(p + at);
        at += CO_RECORD_TOTAL_BYTES;
    }
    if (left - at < r->len)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    int rc = co_record_check(r);
    if (rc != 0)
        return rc;
    r->payload = p + at;
    *off += at + r->len;
    return 1;
}

int co_record_next(const uint8_t *body, size_t body_len, size_t *off,
                   co_record_t *r)
{
    return co_record_next_from(body, body_len, CO_DATA_TRAIL_BYTES, off, r);
}

/* ---------------------------------------------------------------- */
/* PARITY                                                            */
/* ---------------------------------------------------------------- */

size_t co_parity_begin(uint8_t *out, uint64_t first, uint8_t count,
                       uint8_t index)
{
    COHORT_ASSERT(out != NULL && first >= 1 && count >= 2 &&
                  count <= CO_PARITY_K_MAX && index < CO_PARITY_INDEX_MAX);
    co_put64(out, first);
    out[8] = count;
    out[9] = index;
    co_put16(out + 10, 0);
    return CO_PARITY_FIXED_BYTES;
}

int co_parity_decode(const uint8_t *body, size_t len, co_parity_t *out)
{
    COHORT_ASSERT(out != NULL);
    COHORT_ASSERT(body != NULL || len == 0);
    if (len < CO_PARITY_FIXED_BYTES + CO_SYMBOL_MIN_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    out->first = co_get64(body);
    out->count = body[8];
    out->index = body[9];
    if (out->count < 2 || out->count > CO_PARITY_K_MAX ||
        out->index >= CO_PARITY_INDEX_MAX || co_get16(body + 10) != 0 ||
        out->first == 0 || out->first >= CO_SEQ_LIMIT - out->count)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    out->symbol = body + CO_PARITY_FIXED_BYTES;
    out->len = len - CO_PARITY_FIXED_BYTES;
    return 0;
}

size_t co_symbol_header(const co_record_t *r, uint8_t out[8])
{
    COHORT_ASSERT(r != NULL && out != NULL && r->type == CO_REC_FIFO);
    out[0] = r->type;
    out[1] = (uint8_t)(r->flags & ~CO_REC_RETRANSMIT);
    co_put16(out + 2, r->len);
    if (!co_record_has_total(r->flags))
        return CO_SYMBOL_MIN_BYTES;
    co_put32(out + 4, r->total_len);
    return CO_SYMBOL_MIN_BYTES + CO_RECORD_TOTAL_BYTES;
}

size_t co_symbol_size(const co_record_t *r)
{
    return co_record_size(r) - 8; /* no seq */
}

int co_symbol_record(const uint8_t *sym, size_t sym_len, uint64_t seq,
                     co_record_t *r)
{
    COHORT_ASSERT(sym != NULL && r != NULL);
    if (sym_len < CO_SYMBOL_MIN_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    *r = (co_record_t){.type = sym[0], .flags = sym[1],
                       .len = co_get16(sym + 2), .seq = seq};
    size_t at = CO_SYMBOL_MIN_BYTES;
    if (r->type != CO_REC_FIFO || (r->flags & CO_REC_RETRANSMIT))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (co_record_has_total(r->flags)) {
        if (sym_len < at + CO_RECORD_TOTAL_BYTES)
            return CO_DROP(COHORT_DROP_TRUNCATED);
        r->total_len = co_get32(sym + at);
        at += CO_RECORD_TOTAL_BYTES;
    }
    if (sym_len - at < r->len)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    int rc = co_record_check(r);
    if (rc != 0)
        return rc;
    r->payload = sym + at;
    return 1;
}

/* ---------------------------------------------------------------- */
/* FORWARD                                                           */
/* ---------------------------------------------------------------- */

size_t co_forward_begin(uint8_t *out, uint32_t origin_id,
                        uint32_t origin_incarnation)
{
    COHORT_ASSERT(out != NULL && origin_id != 0 && origin_incarnation != 0);
    co_put32(out, origin_id);
    co_put32(out + 4, origin_incarnation);
    return CO_FORWARD_FIXED_BYTES;
}

int co_forward_record_next(const uint8_t *body, size_t body_len, size_t *off,
                           co_record_t *r)
{
    int rc = co_record_next_from(body, body_len, CO_FORWARD_FIXED_BYTES, off,
                                 r);
    /* Only what NACKs can ask for is forwarded: unreliable records are
     * never repaired. */
    if (rc == 1 && r->type != CO_REC_FIFO)
        return CO_DROP(COHORT_DROP_BAD_TYPE);
    return rc;
}

int co_forward_decode(const uint8_t *body, size_t body_len, co_forward_t *f)
{
    COHORT_ASSERT(f != NULL);
    COHORT_ASSERT(body != NULL || body_len == 0);
    if (body_len < CO_FORWARD_FIXED_BYTES + CO_RECORD_HEADER_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    f->origin_id = co_get32(body);
    f->origin_incarnation = co_get32(body + 4);
    /* Records of nobody could be filed under no sender. */
    if (f->origin_id == 0 || f->origin_incarnation == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    size_t off = CO_FORWARD_FIXED_BYTES;
    co_record_t r;
    int rc;
    while ((rc = co_forward_record_next(body, body_len, &off, &r)) == 1)
        ;
    return rc;
}

/* ---------------------------------------------------------------- */
/* Stability entries and NACK ranges                                 */
/* ---------------------------------------------------------------- */

co_ack_entry_t co_ack_entry_at(const uint8_t *entries, size_t i)
{
    COHORT_ASSERT(entries != NULL);
    const uint8_t *p = entries + i * CO_ACK_ENTRY_BYTES;
    co_ack_entry_t e = {
        .member_id = co_get32(p),
        .incarnation = co_get32(p + 4),
        .delivered_seq = co_get64(p + 8),
    };
    return e;
}

co_nack_range_t co_nack_range_at(const uint8_t *ranges, size_t i)
{
    COHORT_ASSERT(ranges != NULL);
    const uint8_t *p = ranges + i * CO_NACK_RANGE_BYTES;
    co_nack_range_t g = {.first = co_get64(p), .last = co_get64(p + 8)};
    return g;
}

static void co_ack_entries_put(uint8_t *out, const co_ack_entry_t *entries,
                               size_t count)
{
    COHORT_ASSERT(entries != NULL || count == 0);
    for (size_t i = 0; i < count; i++) {
        uint8_t *p = out + i * CO_ACK_ENTRY_BYTES;
        co_put32(p, entries[i].member_id);
        co_put32(p + 4, entries[i].incarnation);
        co_put64(p + 8, entries[i].delivered_seq);
    }
}

/* Entries name members, and no member has id or incarnation 0. */
static int co_ack_entries_check(const uint8_t *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        co_ack_entry_t e = co_ack_entry_at(entries, i);
        if (e.member_id == 0 || e.incarnation == 0 ||
            e.delivered_seq >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    return 0;
}

/* The array of count elements of size each must fill exactly left bytes. */
static int co_array_fits(size_t left, size_t count, size_t each)
{
    size_t need = count * each; /* count <= 65535: cannot overflow */
    if (left < need)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (left > need)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

/* ---------------------------------------------------------------- */
/* HEARTBEAT                                                         */
/* ---------------------------------------------------------------- */

/* name_len(1), then after the name: fifo_next(8) fifo_low(8) datagram(2)
 * count(2). */
#define CO_HEARTBEAT_TAIL_BYTES (8 + 8 + 2 + 2)
#define CO_HEARTBEAT_FIXED_BYTES (1 + CO_HEARTBEAT_TAIL_BYTES)

size_t co_heartbeat_size(size_t name_len, size_t count)
{
    return CO_HEARTBEAT_FIXED_BYTES + name_len + count * CO_ACK_ENTRY_BYTES;
}

size_t co_heartbeat_encode(uint8_t *out, const char *name, size_t name_len,
                           uint64_t fifo_next, uint64_t fifo_low,
                           size_t datagram, const co_ack_entry_t *entries,
                           size_t count)
{
    COHORT_ASSERT(out != NULL && (name != NULL || name_len == 0));
    COHORT_ASSERT(name_len <= COHORT_NAME_MAX && count <= UINT16_MAX);
    COHORT_ASSERT(datagram >= CO_WIRE_MIN_DATAGRAM &&
                  datagram <= CO_WIRE_MAX_DATAGRAM);
    size_t at = 0;
    out[at++] = (uint8_t)name_len;
    if (name_len > 0)
        memcpy(out + at, name, name_len);
    at += name_len;
    co_put64(out + at, fifo_next);
    co_put64(out + at + 8, fifo_low);
    co_put16(out + at + 16, (uint16_t)datagram);
    co_put16(out + at + 18, (uint16_t)count);
    at += CO_HEARTBEAT_TAIL_BYTES;
    co_ack_entries_put(out + at, entries, count);
    return at + count * CO_ACK_ENTRY_BYTES;
}

/* fifo_next is the next seq to be assigned, so it starts at 1; nothing
 * below fifo_low can be retransmitted, and nothing at or above fifo_next
 * exists yet. */
static int co_heartbeat_check(const co_heartbeat_t *hb)
{
    if (memchr(hb->name, '\0', hb->name_len) != NULL)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (hb->fifo_next == 0 || hb->fifo_low > hb->fifo_next ||
        hb->fifo_next >= CO_SEQ_LIMIT)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (hb->datagram < CO_WIRE_MIN_DATAGRAM ||
        hb->datagram > CO_WIRE_MAX_DATAGRAM)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return co_ack_entries_check(hb->entries, hb->count);
}

int co_heartbeat_decode(const uint8_t *body, size_t len, co_heartbeat_t *hb)
{
    COHORT_ASSERT(hb != NULL);
    COHORT_ASSERT(body != NULL || len == 0);
    if (len < 1)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    size_t name_len = body[0];
    if (name_len > COHORT_NAME_MAX)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (len < CO_HEARTBEAT_FIXED_BYTES + name_len)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    hb->name_len = (uint8_t)name_len;
    memcpy(hb->name, body + 1, name_len);
    hb->name[name_len] = '\0';
    const uint8_t *p = body + 1 + name_len;
    hb->fifo_next = co_get64(p);
    hb->fifo_low = co_get64(p + 8);
    hb->datagram = co_get16(p + 16);
    hb->count = co_get16(p + 18);
    hb->entries = p + CO_HEARTBEAT_TAIL_BYTES;
    size_t left = len - CO_HEARTBEAT_FIXED_BYTES - name_len;
    int rc = co_array_fits(left, hb->count, CO_ACK_ENTRY_BYTES);
    if (rc != 0)
        return rc;
    return co_heartbeat_check(hb);
}

/* ---------------------------------------------------------------- */
/* ACK                                                               */
/* ---------------------------------------------------------------- */

#define CO_ACK_FIXED_BYTES 2

size_t co_ack_size(size_t count)
{
    return CO_ACK_FIXED_BYTES + count * CO_ACK_ENTRY_BYTES;
}

size_t co_ack_encode(uint8_t *out, const co_ack_entry_t *entries,
                     size_t count)
{
    COHORT_ASSERT(out != NULL && entries != NULL);
    COHORT_ASSERT(count >= 1 && count <= UINT16_MAX);
    co_put16(out, (uint16_t)count);
    co_ack_entries_put(out + CO_ACK_FIXED_BYTES, entries, count);
    return co_ack_size(count);
}

int co_ack_decode(const uint8_t *body, size_t len, co_ack_t *ack)
{
    COHORT_ASSERT(ack != NULL);
    COHORT_ASSERT(body != NULL || len == 0);
    if (len < CO_ACK_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    ack->count = co_get16(body);
    ack->entries = body + CO_ACK_FIXED_BYTES;
    int rc = co_array_fits(len - CO_ACK_FIXED_BYTES, ack->count,
                           CO_ACK_ENTRY_BYTES);
    if (rc != 0)
        return rc;
    /* An ACK exists only to carry entries. */
    if (ack->count == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return co_ack_entries_check(ack->entries, ack->count);
}

/* ---------------------------------------------------------------- */
/* NACK                                                              */
/* ---------------------------------------------------------------- */

size_t co_nack_size(size_t count)
{
    return CO_NACK_FIXED_BYTES + count * CO_NACK_RANGE_BYTES;
}

size_t co_nack_encode(uint8_t *out, uint32_t target_id,
                      uint32_t target_incarnation,
                      const co_nack_range_t *ranges, size_t count)
{
    COHORT_ASSERT(out != NULL && ranges != NULL);
    COHORT_ASSERT(count >= 1 && count <= UINT16_MAX);
    co_put32(out, target_id);
    co_put32(out + 4, target_incarnation);
    co_put16(out + 8, (uint16_t)count);
    for (size_t i = 0; i < count; i++) {
        uint8_t *p = out + CO_NACK_FIXED_BYTES + i * CO_NACK_RANGE_BYTES;
        co_put64(p, ranges[i].first);
        co_put64(p + 8, ranges[i].last);
    }
    return co_nack_size(count);
}

static int co_nack_check(const co_nack_t *nack)
{
    if (nack->target_id == 0 || nack->target_incarnation == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (nack->count == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    for (size_t i = 0; i < nack->count; i++) {
        co_nack_range_t g = co_nack_range_at(nack->ranges, i);
        if (g.first == 0 || g.first > g.last || g.last >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    return 0;
}

int co_nack_decode(const uint8_t *body, size_t len, co_nack_t *nack)
{
    COHORT_ASSERT(nack != NULL);
    COHORT_ASSERT(body != NULL || len == 0);
    if (len < CO_NACK_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    nack->target_id = co_get32(body);
    nack->target_incarnation = co_get32(body + 4);
    nack->count = co_get16(body + 8);
    nack->ranges = body + CO_NACK_FIXED_BYTES;
    int rc = co_array_fits(len - CO_NACK_FIXED_BYTES, nack->count,
                           CO_NACK_RANGE_BYTES);
    if (rc != 0)
        return rc;
    return co_nack_check(nack);
}

/* ---------------------------------------------------------------- */
/* PATH                                                              */
/* ---------------------------------------------------------------- */

size_t co_path_encode(uint8_t *out, size_t body_len, size_t datagram,
                      const char *name, size_t name_len)
{
    COHORT_ASSERT(out != NULL && (name != NULL || name_len == 0));
    COHORT_ASSERT(name_len <= COHORT_NAME_MAX &&
                  body_len >= CO_PATH_FIXED_BYTES + name_len);
    COHORT_ASSERT(datagram >= CO_WIRE_MIN_DATAGRAM &&
                  datagram <= CO_WIRE_MAX_DATAGRAM);
    co_put16(out, (uint16_t)datagram);
    out[2] = (uint8_t)name_len;
    if (name_len > 0)
        memcpy(out + CO_PATH_FIXED_BYTES, name, name_len);
    size_t at = CO_PATH_FIXED_BYTES + name_len;
    memset(out + at, 0, body_len - at);
    return body_len;
}

int co_path_decode(const co_header_t *h, const uint8_t *body, co_path_t *out)
{
    COHORT_ASSERT(h != NULL && out != NULL);
    COHORT_ASSERT(body != NULL || h->body_len == 0);
    if (h->body_len < CO_PATH_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    size_t name_len = body[2];
    if (name_len > COHORT_NAME_MAX)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (h->body_len < CO_PATH_FIXED_BYTES + name_len)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    size_t trailer = (h->flags & CO_FLAG_SECURED) ? CO_TRAILER_BYTES : 0;
    size_t whole = CO_HEADER_BYTES + (size_t)h->body_len + trailer;
    uint16_t named = co_get16(body);
    if (named < CO_WIRE_MIN_DATAGRAM || named > CO_WIRE_MAX_DATAGRAM ||
        whole != named)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    const uint8_t *name = body + CO_PATH_FIXED_BYTES;
    if (memchr(name, '\0', name_len) != NULL)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    /* Padding carries nothing: anything in it is not of our making. */
    uint8_t any = 0;
    for (size_t i = CO_PATH_FIXED_BYTES + name_len; i < h->body_len; i++)
        any |= body[i];
    if (any != 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    out->datagram = named;
    memcpy(out->name, name, name_len);
    out->name[name_len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- */
/* Group id                                                          */
/* ---------------------------------------------------------------- */

#define CO_FNV32_OFFSET 2166136261u
#define CO_FNV32_PRIME 16777619u

uint32_t co_group_id(const char *name, size_t len)
{
    COHORT_ASSERT(name != NULL || len == 0);
    uint32_t h = CO_FNV32_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= CO_FNV32_PRIME;
    }
    /* Callers may use 0 as "unset"; a real group never hashes to it. */
    return h == 0 ? 1 : h;
}

/* ---------------------------------------------------------------- */
/* ORDER                                                             */

size_t co_order_size(size_t count)
{
    return CO_ORDER_FIXED_BYTES + count * CO_ORDER_ENTRY_BYTES;
}

size_t co_order_encode(uint8_t *out, const co_order_entry_t *entries,
                       size_t count)
{
    COHORT_ASSERT(count >= 1 && count <= UINT16_MAX);
    co_put16(out, (uint16_t)count);
    uint8_t *p = out + CO_ORDER_FIXED_BYTES;
    for (size_t i = 0; i < count; i++, p += CO_ORDER_ENTRY_BYTES) {
        co_put32(p, entries[i].member_id);
        co_put32(p + 4, entries[i].incarnation);
        co_put64(p + 8, entries[i].through);
    }
    return co_order_size(count);
}

co_order_entry_t co_order_entry_at(const uint8_t *p, size_t i)
{
    const uint8_t *e = p + CO_ORDER_FIXED_BYTES + i * CO_ORDER_ENTRY_BYTES;
    return (co_order_entry_t){co_get32(e), co_get32(e + 4), co_get64(e + 8)};
}

int co_order_decode(const uint8_t *p, size_t len, size_t *count)
{
    if (len < CO_ORDER_FIXED_BYTES + CO_ORDER_ENTRY_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    size_t n = co_get16(p);
    if (n == 0 || len != co_order_size(n))
        return CO_DROP(n == 0 || len > co_order_size(n)
                           ? COHORT_DROP_BAD_FIELD
                           : COHORT_DROP_TRUNCATED);
    if (n > CO_ORDER_ENTRIES_MAX)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    for (size_t i = 0; i < n; i++) {
        co_order_entry_t e = co_order_entry_at(p, i);
        if (e.member_id == 0 || e.incarnation == 0 || e.through == 0 ||
            e.through >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    *count = n;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Control records and XFER                                          */
/* ---------------------------------------------------------------- */

void co_ctl_encode(uint8_t out[CO_CTL_BYTES], uint8_t kind, uint32_t transfer)
{
    memset(out, 0, CO_CTL_BYTES);
    out[0] = kind;
    co_put32(out + 4, transfer);
}

int co_ctl_decode(const uint8_t *p, size_t len, uint8_t *kind,
                  uint32_t *transfer)
{
    if (len < CO_CTL_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (len != CO_CTL_BYTES || p[0] != CO_CTL_STATE_REQUEST || p[1] || p[2] ||
        p[3] || co_get32(p + 4) == 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    *kind = p[0];
    *transfer = co_get32(p + 4);
    return 0;
}

/* XFER and RPC bodies start alike: kind(1) flags(1) reserved(2) id(4)
 * target_id(4) target_inc(4). */
#define CO_PAIR_HEAD_BYTES 16
typedef struct co_pair_head {
    uint8_t kind, flags;
    uint32_t id, target_id, target_inc;
} co_pair_head_t;

static void co_pair_head_put(uint8_t *out, co_pair_head_t h)
{
    out[0] = h.kind;
    out[1] = h.flags;
    out[2] = out[3] = 0;
    co_put32(out + 4, h.id);
    co_put32(out + 8, h.target_id);
    co_put32(out + 12, h.target_inc);
}

/* The head at body (>= CO_PAIR_HEAD_BYTES); false if the reserved bytes
 * are set or an id or the target is 0. */
static bool co_pair_head_get(const uint8_t *body, co_pair_head_t *h)
{
    *h = (co_pair_head_t){.kind = body[0], .flags = body[1],
                          .id = co_get32(body + 4),
                          .target_id = co_get32(body + 8),
                          .target_inc = co_get32(body + 12)};
    return !body[2] && !body[3] && h->id && h->target_id && h->target_inc;
}

size_t co_xfer_encode(const co_xfer_t *x, uint8_t *out)
{
    COHORT_ASSERT(x && out && x->kind >= CO_XFER_STATUS &&
                  x->kind <= CO_XFER_ACK);
    co_pair_head_put(out, (co_pair_head_t){x->kind, x->flags, x->transfer,
                                           x->target_id, x->target_inc});
    if (x->kind == CO_XFER_ACK) {
        co_put64(out + 16, x->seq);
        return CO_XFER_ACK_BYTES;
    }
    if (x->kind != CO_XFER_DATA)
        return CO_XFER_FIXED_BYTES;
    co_put64(out + 16, x->seq);
    co_put64(out + 24, x->offset);
    if (x->len)
        memcpy(out + CO_XFER_DATA_BYTES, x->payload, x->len);
    return CO_XFER_DATA_BYTES + x->len;
}

int co_xfer_decode(const uint8_t *body, size_t len, co_xfer_t *out)
{
    COHORT_ASSERT(out != NULL);
    if (len < CO_XFER_FIXED_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    memset(out, 0, sizeof *out);
    co_pair_head_t h;
    bool head_ok = co_pair_head_get(body, &h);
    out->kind = h.kind;
    out->flags = h.flags;
    out->transfer = h.id;
    out->target_id = h.target_id;
    out->target_inc = h.target_inc;
    if (out->kind < CO_XFER_STATUS || out->kind > CO_XFER_ACK)
        return CO_DROP(COHORT_DROP_BAD_TYPE);
    if (!head_ok)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    bool flagged = out->kind == CO_XFER_STATUS || out->kind == CO_XFER_DATA;
    if (out->flags & ~(flagged ? 1u : 0u))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    size_t need = out->kind == CO_XFER_DATA  ? CO_XFER_DATA_BYTES
                  : out->kind == CO_XFER_ACK ? CO_XFER_ACK_BYTES
                                             : CO_XFER_FIXED_BYTES;
    if (len < need)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    if (out->kind != CO_XFER_DATA && len != need)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (need > CO_XFER_FIXED_BYTES) {
        out->seq = co_get64(body + 16);
        if (out->seq == 0 || out->seq >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
    }
    if (out->kind == CO_XFER_DATA) {
        out->offset = co_get64(body + 24);
        if (out->offset >= CO_SEQ_LIMIT)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
        out->payload = body + CO_XFER_DATA_BYTES;
        out->len = len - CO_XFER_DATA_BYTES;
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* Request-reply                                                     */
/* ---------------------------------------------------------------- */

static bool co_rpc_id_ok(uint32_t rid)
{
    return rid != 0 && rid <= CO_RPC_ID_MAX;
}

void co_rpc_group_encode(uint8_t out[CO_RPC_GROUP_BYTES], uint32_t rid,
                         uint32_t floor, uint8_t flags)
{
    COHORT_ASSERT(co_rpc_id_ok(rid));
    memset(out, 0, CO_RPC_GROUP_BYTES);
    co_put32(out, rid);
    co_put32(out + 4, floor);
    out[8] = flags;
}

int co_rpc_group_decode(const uint8_t *p, size_t len, uint32_t *rid,
                        uint32_t *floor, uint8_t *flags)
{
    if (len < CO_RPC_GROUP_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    *rid = co_get32(p);
    *floor = co_get32(p + 4);
    *flags = p[8];
    if (!co_rpc_id_ok(*rid) || *floor > CO_RPC_ID_MAX + 1u ||
        (*flags & ~(CO_RPC_F_NOREPLY | CO_RPC_F_NOSELF)) || p[9] || p[10] ||
        p[11])
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}

static bool co_rpcw_has_piece(uint8_t kind)
{
    return kind == CO_RPCW_REQ || kind == CO_RPCW_REPLY;
}

size_t co_rpcw_encode(const co_rpcw_t *w, uint8_t *out)
{
    COHORT_ASSERT(w && out && w->kind >= CO_RPCW_REQ &&
                  w->kind <= CO_RPCW_REPLY_ACK);
    co_pair_head_put(out, (co_pair_head_t){w->kind, w->flags, w->rid,
                                           w->target_id, w->target_inc});
    co_put32(out + 16, w->floor);
    co_put32(out + 20, w->total);
    co_put32(out + 24, w->offset);
    if (!co_rpcw_has_piece(w->kind))
        return CO_RPCW_BYTES;
    if (w->len)
        memcpy(out + CO_RPCW_BYTES, w->piece, w->len);
    return CO_RPCW_BYTES + w->len;
}

int co_rpcw_decode(const uint8_t *body, size_t len, co_rpcw_t *out)
{
    COHORT_ASSERT(out != NULL);
    if (len < CO_RPCW_BYTES)
        return CO_DROP(COHORT_DROP_TRUNCATED);
    memset(out, 0, sizeof *out);
    co_pair_head_t h;
    bool head_ok = co_pair_head_get(body, &h);
    out->kind = h.kind;
    out->flags = h.flags;
    out->rid = h.id;
    out->target_id = h.target_id;
    out->target_inc = h.target_inc;
    out->floor = co_get32(body + 16);
    out->total = co_get32(body + 20);
    out->offset = co_get32(body + 24);
    if (out->kind < CO_RPCW_REQ || out->kind > CO_RPCW_REPLY_ACK)
        return CO_DROP(COHORT_DROP_BAD_TYPE);
    uint8_t allowed = out->kind == CO_RPCW_REQ     ? CO_RPC_F_NOREPLY
                      : out->kind == CO_RPCW_REPLY ? CO_RPC_F_UNANSWERED
                                                   : 0;
    if (!head_ok || !co_rpc_id_ok(out->rid) || (out->flags & ~allowed) ||
        out->floor > CO_RPC_ID_MAX + 1u)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if (!co_rpcw_has_piece(out->kind)) {
        /* An acknowledgement: bytes held, and nothing after it. */
        if (len != CO_RPCW_BYTES || out->total != 0 ||
            out->offset > CO_TOTAL_LEN_MAX)
            return CO_DROP(COHORT_DROP_BAD_FIELD);
        return 0;
    }
    out->piece = body + CO_RPCW_BYTES;
    out->len = len - CO_RPCW_BYTES;
    /* A piece lies inside its payload; only an empty payload has an
     * empty piece. */
    if (out->total > CO_TOTAL_LEN_MAX ||
        (out->total == 0 ? out->offset != 0 || out->len != 0
                         : out->len == 0 || out->offset >= out->total ||
                               out->len > out->total - out->offset))
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    if ((out->flags & CO_RPC_F_UNANSWERED) && out->total != 0)
        return CO_DROP(COHORT_DROP_BAD_FIELD);
    return 0;
}
