/*
 * decode.c - one-line descriptions of datagrams for the --verbose trace.
 *
 * Uses the core's own wire decoders. Encrypted bodies are shown by type
 * only; anything that fails to decode is shown as such (the core will drop
 * and count it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "wire.h"

typedef struct out {
    char *p;
    size_t room;
} out_t;

static void put(out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(out_t *o, const char *fmt, ...)
{
    if (o->room <= 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p, o->room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t used = (size_t)n < o->room ? (size_t)n : o->room - 1;
    o->p += used;
    o->room -= used;
}

static void describe_data(out_t *o, const uint8_t *body, size_t len)
{
    uint64_t trail = 0;
    if (co_data_trail(body, len, &trail) != 0) {
        put(o, " bad-trail");
        return;
    }
    put(o, " trail=%llu", (unsigned long long)trail);
    size_t off = CO_DATA_TRAIL_BYTES;
    co_record_t r;
    int rc;
    for (int i = 0; (rc = co_record_next(body, len, &off, &r)) == 1; i++) {
        if (i == 12) {
            put(o, " ...");
            return;
        }
        put(o, " %c%llu%s%s%s/%u", r.type == CO_REC_FIFO ? 'F' : 'U',
            (unsigned long long)r.seq, r.flags & CO_REC_FIRST ? "<" : "",
            r.flags & CO_REC_LAST ? ">" : "",
            r.flags & CO_REC_RETRANSMIT ? "r" : "", (unsigned)r.len);
    }
    if (rc < 0)
        put(o, " bad-record");
}

static void describe_entries(out_t *o, const uint8_t *entries, size_t count)
{
    for (size_t i = 0; i < count && i < 12; i++) {
        co_ack_entry_t e = co_ack_entry_at(entries, i);
        put(o, " %08x:%llu", e.member_id,
            (unsigned long long)e.delivered_seq);
    }
}

static void describe_body(out_t *o, const co_header_t *h, const uint8_t *body)
{
    co_heartbeat_t hb;
    co_ack_t ack;
    co_nack_t nack;
    switch (h->type) {
    case CO_TYPE_DATA:
        describe_data(o, body, h->body_len);
        return;
    case CO_TYPE_HEARTBEAT:
        if (co_heartbeat_decode(body, h->body_len, &hb) == 0) {
            put(o, " next=%llu low=%llu acks",
                (unsigned long long)hb.fifo_next,
                (unsigned long long)hb.fifo_low);
            describe_entries(o, hb.entries, hb.count);
        }
        return;
    case CO_TYPE_ACK:
        if (co_ack_decode(body, h->body_len, &ack) == 0)
            describe_entries(o, ack.entries, ack.count);
        return;
    case CO_TYPE_NACK:
        if (co_nack_decode(body, h->body_len, &nack) == 0) {
            put(o, " for %08x", nack.target_id);
            for (size_t i = 0; i < nack.count && i < 8; i++) {
                co_nack_range_t g = co_nack_range_at(nack.ranges, i);
                put(o, " %llu-%llu", (unsigned long long)g.first,
                    (unsigned long long)g.last);
            }
        }
        return;
    default:
        return;
    }
}

void sim_describe(const uint8_t *data, size_t len, char *buf, size_t room)
{
    static const char *const types[] = {"?",    "DATA", "HB",   "NACK",
                                        "ACK",  "LEAVE", "PARITY"};
    static const char *const gms_types[] = {"PREPARE",   "FLUSH_OK",
                                            "COMMIT",    "INSTALLED",
                                            "PROBE",     "FORWARD",
                                            "PATH"};
    out_t o = {buf, room};
    co_header_t h;
    buf[0] = '\0';
    if (co_header_decode(data, len, &h) != 0) {
        put(&o, "undecodable %zuB", len);
        return;
    }
    const char *name = h.type < 7 ? types[h.type] : "?";
    if (h.type >= CO_TYPE_PREPARE && h.type <= CO_TYPE_PATH)
        name = gms_types[h.type - CO_TYPE_PREPARE];
    else if (h.type == CO_TYPE_XFER)
        name = "XFER";
    else if (h.type == CO_TYPE_RPC)
        name = "RPC";
    put(&o, "%s %zuB from %08x/%u #%llu", name, len,
        h.sender_id, h.incarnation, (unsigned long long)h.packet_seq);
    if (h.flags & CO_FLAG_ENCRYPTED)
        return;
    if (h.type >= CO_TYPE_PREPARE && h.type <= CO_TYPE_INSTALLED &&
        len >= CO_HEADER_BYTES + 8) {
        uint64_t pid = 0; /* every body starts with the proposal's id */
        for (int i = 0; i < 8; i++)
            pid = pid << 8 | data[CO_HEADER_BYTES + i];
        put(&o, " view %016llx", (unsigned long long)pid);
        return;
    }
    describe_body(&o, &h, data + CO_HEADER_BYTES);
}
