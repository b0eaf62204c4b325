/*
 * wire.h - the cohort wire format, version 2 (docs/protocol.md).
 *
 * Every field is written and read byte by byte in network byte order with an
 * explicit bounds check; no packet is ever cast onto a struct. Decoders take
 * a buffer and its length and return 0 or a negative enum cohort_drop_reason
 * value (-(reason+1)) so the caller can count why it dropped the datagram.
 *
 * Datagram = header (36 bytes) | body (body_len bytes) | trailer.
 * The trailer is present iff CO_FLAG_SECURED: CO_TRAILER_BYTES of MAC/tag.
 *
 *  off len field
 *   0   2  magic        0x43 0x48 ("CH")
 *   2   1  version      1
 *   3   1  type         enum co_type
 *   4   1  flags        CO_FLAG_*; unknown bits must be 0
 *   5   1  key_id       which group key sealed it (0 when not secured)
 *   6   2  body_len     bytes of body; 36 + body_len + trailer == datagram
 *   8   4  group_id     hash of the group name
 *  12   4  sender_id    member id, nonzero
 *  16   4  incarnation  nonzero, new for every open of the member
 *  20   8  packet_seq   per (sender, incarnation) datagram counter, nonzero,
 *                       from a random start in 1..2^62,
 *                       strictly increasing, never reused: the AEAD nonce
 *                       and the anti-replay window
 *  28   8  view_id      0 until agreed views exist (membership issue)
 */
#ifndef COHORT_WIRE_H
#define COHORT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cohort.h"

#define CO_MAGIC0 0x43
#define CO_MAGIC1 0x48
#define CO_WIRE_VERSION 2
#define CO_HEADER_BYTES 36
#define CO_TRAILER_BYTES 16
/* The range of a member's max_datagram (a heartbeat names its own): 512
 * up to the largest UDP payload over IPv4. */
#define CO_WIRE_MIN_DATAGRAM 512
#define CO_WIRE_MAX_DATAGRAM 65507

enum co_flag {
    CO_FLAG_SECURED = 0x01,   /* trailer present (MAC or AEAD tag) */
    CO_FLAG_ENCRYPTED = 0x02, /* body is ciphertext; needs SECURED */
    CO_FLAG_AES256GCM = 0x04, /* sealed with AES-256-GCM, not
                                 XChaCha20-Poly1305; needs SECURED */
    CO_FLAG_NOAES = 0x08,     /* the sender cannot open AES-256-GCM (its
                                 CPU lacks the instructions): members
                                 whose cipher is FASTEST seal with
                                 XChaCha20-Poly1305 while one is heard;
                                 needs SECURED, never with AES256GCM */
    CO_FLAG__KNOWN = 0x0f,
};

/* Datagram types. Gaps are reserved for later issues: 16..31 membership
 * (join, view proposal, flush), 32..47 total order. */
enum co_type {
    CO_TYPE_DATA = 1,       /* records: messages and fragments */
    CO_TYPE_HEARTBEAT = 2,  /* liveness, name, send state, stability vector */
    CO_TYPE_NACK = 3,       /* request to retransmit seq ranges */
    CO_TYPE_ACK = 4,        /* stability vector only (flow control) */
    CO_TYPE_LEAVE = 5,      /* graceful leave; empty body */
    CO_TYPE_PARITY = 6,     /* a parity symbol of a block of FIFO
                               records (co_parity_t; parity.h) */
    /* Membership (docs/membership.md; bodies in view.h and flush.h). */
    CO_TYPE_PREPARE = 16,   /* a proposed view, in chunks (co_vchunk) */
    CO_TYPE_FLUSH_OK = 17,  /* an answer to PREPARE (co_flush_ok) */
    CO_TYPE_COMMIT = 18,    /* the cut table, in chunks (co_cut_chunk) */
    CO_TYPE_INSTALLED = 19, /* proposal_id(8): the COMMIT is applied */
    CO_TYPE_PROBE = 20,     /* "are you there?"; empty body */
    CO_TYPE_FORWARD = 21,   /* another member's FIFO records (repair);
                               not accepted by co_header_decode yet */
    CO_TYPE_PATH = 22,      /* datagram(2), name, zero padding, the whole
                               datagram exactly that long: the path
                               carries the sender's longest (PATH body
                               below) */
    CO_TYPE_XFER = 32,      /* state transfer, one member to another
                               (co_xfer; state.h) */
    CO_TYPE_RPC = 33,       /* request-reply, one member to another
                               (co_rpcw; rpc.h) */
};

/* Whether a type is one of the membership types above. */
static inline int co_type_is_membership(uint8_t type)
{
    return (type >= CO_TYPE_PREPARE && type <= CO_TYPE_PROBE) ||
           type == CO_TYPE_PATH;
}

typedef struct co_header {
    uint8_t version;
    uint8_t type;
    uint8_t flags;
    uint8_t key_id;
    uint16_t body_len;
    uint32_t group_id;
    uint32_t sender_id;
    uint32_t incarnation;
    uint64_t packet_seq;
    uint64_t view_id;
} co_header_t;

/* Encode h into out[CO_HEADER_BYTES]. */
void co_header_encode(const co_header_t *h, uint8_t *out);

/* Decode and check the header of a datagram of len bytes: magic, version,
 * known type, known flags (ENCRYPTED needs SECURED), nonzero sender and
 * incarnation, and that len == header + body_len + trailer exactly.
 * Returns 0 or -(COHORT_DROP_x + 1). */
int co_header_decode(const uint8_t *buf, size_t len, co_header_t *h);

/* Every FIFO sequence number on the wire (record seq, trail, fifo_next,
 * fifo_low, delivered_seq, NACK ranges) is below CO_SEQ_LIMIT: at a
 * billion records a second that lasts 146 years, and it keeps hostile
 * values far from where window arithmetic would wrap. Larger: BAD_FIELD. */
#define CO_SEQ_LIMIT (1ULL << 62)

/* Turn a decoder's negative return into the drop reason. */
static inline int co_drop_of(int rc) { return -rc - 1; }
#define CO_DROP(reason) (-((int)(reason) + 1))

/* ---------------------------------------------------------------- */
/* DATA body: trail(8) then one or more records back to back, filling  */
/* body_len. trail = the sender's fifo_low: the oldest FIFO seq it can */
/* still retransmit (as PGM's ODATA trail), so a receiver that first    */
/* hears a sender through data knows where to start (>= 1).             */
#define CO_DATA_TRAIL_BYTES 8
/* Records, after the trail:
 *
 *  off len field
 *   0   1  rtype     enum co_record_type
 *   1   1  rflags    CO_REC_* ; unknown bits must be 0
 *   2   2  len       payload bytes of this record
 *   4   8  seq       FIFO: per-sender reliable sequence, from 1.
 *                    UNRELIABLE: per-sender unreliable counter, from 1.
 *  12   4  total_len present iff FIRST set and LAST clear: the size of the
 *                    whole message (> len, <= 2^31)
 *   .  len payload
 * A record with FIRST|LAST is a whole message. UNRELIABLE records are
 * always whole (FIRST|LAST). seq 0 is invalid.
 */
enum co_record_type {
    CO_REC_UNRELIABLE = 1,
    CO_REC_FIFO = 2,
};

enum co_record_flag {
    CO_REC_FIRST = 0x01,
    CO_REC_LAST = 0x02,
    CO_REC_RETRANSMIT = 0x04, /* informational: sent again after a NACK */
    /* The class of a FIFO record (two bits; UNRELIABLE records: 0), the
     * same in every fragment of a message (docs/protocol.md, "Total
     * order"): a FIFO message, a TOTAL or SAFE one (delivered in the
     * order the view's sequencer gives), or an ORDER record of the
     * sequencer's (whole, never given to the application). */
    CO_REC_CLASS_MASK = 0x18,
    /* A TOTAL record the library reads itself, never given to the
     * application: a state-transfer request at its place in the order
     * (whole; payload co_ctl, state.h). */
    CO_REC_CONTROL = 0x20,
    /* A message that is a request to the group (rpc.h): its payload is
     * the request header (CO_RPC_GROUP_BYTES) then the application's
     * data; given to rpc.c, never as a MESSAGE event. FIFO records only,
     * in every fragment of the message, never with CONTROL or ORDER. */
    CO_REC_REQUEST = 0x40,
    CO_REC__KNOWN = 0x7f,
};

enum co_record_class {
    CO_CLASS_FIFO = 0x00,
    CO_CLASS_TOTAL = 0x08,
    CO_CLASS_SAFE = 0x10,
    CO_CLASS_ORDER = 0x18,
};

static inline uint8_t co_record_class(uint8_t flags)
{
    return (uint8_t)(flags & CO_REC_CLASS_MASK);
}

/* A class the total order delivers (TOTAL or SAFE); CO_REC_CONTROL may
 * be set beside it. */
static inline int co_class_ordered(uint8_t cls)
{
    cls &= CO_REC_CLASS_MASK;
    return cls == CO_CLASS_TOTAL || cls == CO_CLASS_SAFE;
}

/* ---------------------------------------------------------------- */
/* Control record payload (CO_REC_CONTROL, class TOTAL, whole):         */
/*  off len field                                                      */
/*   0   1  kind         1: state request                              */
/*   1   3  reserved     0                                             */
/*   4   4  transfer     the requester's transfer id, nonzero          */
#define CO_CTL_BYTES 8
enum co_ctl_kind { CO_CTL_STATE_REQUEST = 1 };
void co_ctl_encode(uint8_t out[CO_CTL_BYTES], uint8_t kind,
                   uint32_t transfer);
/* 0, or BAD_FIELD / TRUNCATED as a negative drop code. */
int co_ctl_decode(const uint8_t *p, size_t len, uint8_t *kind,
                  uint32_t *transfer);

/* ---------------------------------------------------------------- */
/* XFER body (state transfer between two members, unicast):            */
/*  off len field                                                      */
/*   0   1  kind         enum co_xfer_kind                             */
/*   1   1  flags        STATUS: 1 = can provide; DATA: 1 = last       */
/*   2   2  reserved     0                                             */
/*   4   4  transfer     the requester's transfer id, nonzero          */
/*   8   4  target_id    the member it is for (nonzero)                */
/*  12   4  target_inc   and its incarnation (nonzero)                 */
/*  16   8  seq          DATA: from 1; ACK: next seq expected          */
/*  24   8  offset       DATA only: byte offset of the payload         */
/*  32   .  payload      DATA only                                     */
/* STATUS, GO and CANCEL end at 16 bytes, ACK at 24.                   */
enum co_xfer_kind {
    CO_XFER_STATUS = 1, /* provider candidate -> requester: can / cannot */
    CO_XFER_GO = 2,     /* requester -> the candidate it chose */
    CO_XFER_CANCEL = 3, /* requester -> a candidate it does not need */
    CO_XFER_DATA = 4,   /* provider -> requester: a piece of the state */
    CO_XFER_ACK = 5,    /* requester -> provider: next seq expected */
};
#define CO_XFER_FIXED_BYTES 16
#define CO_XFER_DATA_BYTES 32
#define CO_XFER_ACK_BYTES 24
#define CO_XFER_FLAG_YES 0x01
#define CO_XFER_FLAG_LAST 0x01

typedef struct co_xfer {
    uint8_t kind, flags;
    uint32_t transfer;
    uint32_t target_id, target_inc;
    uint64_t seq, offset;
    const uint8_t *payload; /* DATA: into the decoded buffer */
    size_t len;
} co_xfer_t;

/* Encode x into out (room for its fixed part plus x->len); returns the
 * body length. */
size_t co_xfer_encode(const co_xfer_t *x, uint8_t *out);
/* 0, or a negative drop code (TRUNCATED, BAD_FIELD, BAD_TYPE). */
int co_xfer_decode(const uint8_t *body, size_t len, co_xfer_t *out);

/* ---------------------------------------------------------------- */
/* Group request header (payload of a CO_REC_REQUEST message):         */
/*  off len field                                                      */
/*   0   4  request      the requester's request id, 1..2^31-1         */
/*   4   4  floor        the requester has nothing in flight below it  */
/*   8   1  flags        CO_RPC_F_*                                    */
/*   9   3  reserved     0                                             */
/*  12   .  the application's data                                     */
#define CO_RPC_GROUP_BYTES 12
#define CO_RPC_ID_MAX 0x7fffffffu
enum co_rpc_flag {
    CO_RPC_F_NOREPLY = 0x01, /* REQ, group header: no reply wanted */
    CO_RPC_F_UNANSWERED = 0x02, /* REPLY: this member will not reply
                                   (reply lost to the history bound, or
                                   no room); empty */
    CO_RPC_F_NOSELF = 0x04,  /* group header: the requester does not
                                serve it (it blocks in
                                cohort_request_wait) */
};
void co_rpc_group_encode(uint8_t out[CO_RPC_GROUP_BYTES], uint32_t rid,
                         uint32_t floor, uint8_t flags);
/* 0, or TRUNCATED / BAD_FIELD as a negative drop code. */
int co_rpc_group_decode(const uint8_t *p, size_t len, uint32_t *rid,
                        uint32_t *floor, uint8_t *flags);

/* RPC body (request-reply between two members, unicast):              */
/*  off len field                                                      */
/*   0   1  kind         enum co_rpcw_kind                             */
/*   1   1  flags        CO_RPC_F_* (REQ: NOREPLY; REPLY: UNANSWERED)  */
/*   2   2  reserved     0                                             */
/*   4   4  request      the requester's request id, 1..2^31-1         */
/*   8   4  target_id    the member it is for (nonzero)                */
/*  12   4  target_inc   and its incarnation (nonzero)                 */
/*  16   4  floor        REQ, REPLY_ACK: the requester has nothing in */
/*                       flight below this id (0..2^31); else 0        */
/*  20   4  total        REQ, REPLY: bytes of the whole payload        */
/*                       (<= 2^31); ACKs: 0                            */
/*  24   4  offset       REQ, REPLY: where this piece starts (< total, */
/*                       or 0 when total is 0); ACKs: bytes held, in   */
/*                       order (total held = accepted / RRA)           */
/*  28   .  piece        REQ, REPLY only                               */
enum co_rpcw_kind {
    CO_RPCW_REQ = 1,       /* requester -> member: a piece of a request */
    CO_RPCW_REQ_ACK = 2,   /* member -> requester: bytes of it held */
    CO_RPCW_REPLY = 3,     /* member -> requester: a piece of a reply */
    CO_RPCW_REPLY_ACK = 4, /* requester -> member: bytes held (RRA) */
};
#define CO_RPCW_BYTES 28

typedef struct co_rpcw {
    uint8_t kind, flags;
    uint32_t rid;
    uint32_t target_id, target_inc;
    uint32_t floor;
    uint32_t total, offset;
    const uint8_t *piece;   /* into the decoded buffer */
    size_t len;
} co_rpcw_t;

/* Encode w into out (room for CO_RPCW_BYTES plus w->len); returns the
 * body length. */
size_t co_rpcw_encode(const co_rpcw_t *w, uint8_t *out);
/* 0, or a negative drop code (TRUNCATED, BAD_FIELD, BAD_TYPE). */
int co_rpcw_decode(const uint8_t *body, size_t len, co_rpcw_t *out);

#define CO_RECORD_HEADER_BYTES 12
#define CO_RECORD_TOTAL_BYTES 4

typedef struct co_record {
    uint8_t type;
    uint8_t flags;
    uint16_t len;
    uint64_t seq;
    uint32_t total_len;      /* 0 unless FIRST && !LAST */
    const uint8_t *payload;  /* points into the decoded buffer */
    uint64_t view_id;        /* the view it was sent in: not encoded per
                                record; a receiver takes it from the header
                                of the datagram that carried it (a sender
                                groups records by view, see co_retransmit) */
} co_record_t;

/* Bytes a record takes on the wire. */
size_t co_record_size(const co_record_t *r);

/* Append r at out[*off], advancing *off. The caller has checked the room
 * with co_record_size(). */
void co_record_encode(const co_record_t *r, uint8_t *out, size_t *off);

/* Read the trail of a DATA body: 0 or a negative drop code (body shorter
 * than the trail plus one record header: TRUNCATED; trail 0: BAD_FIELD). */
int co_data_trail(const uint8_t *body, size_t body_len, uint64_t *trail);

/* Iterate the records of a DATA body: call with *off = CO_DATA_TRAIL_BYTES
 * (records start after the trail); returns 1 and
 * fills *r while records remain, 0 at the clean end of the body, or a
 * negative drop code for a malformed record (truncated, unknown type or
 * flags, seq 0, len 0 with no FIRST|LAST, total_len out of range, an
 * UNRELIABLE fragment). A body that holds zero records is malformed. */
int co_record_next(const uint8_t *body, size_t body_len, size_t *off,
                   co_record_t *r);

/* ---------------------------------------------------------------- */
/* ORDER record payload (class CO_CLASS_ORDER, FIRST|LAST, in the FIFO  */
/* stream of the view's sequencer):                                    */
/*  off len field                                                      */
/*   0   2  count        entries that follow, >= 1                     */
/*   2  16* member_id(4) incarnation(4) through(8)                     */
/* Each entry orders, next in the view's total order, every TOTAL and  */
/* SAFE message of that member whose LAST record has seq <= through    */
/* and that no earlier entry ordered (through >= 1). The sequencer's   */
/* own TOTAL and SAFE messages are ordered by their place in its       */
/* stream, without an entry.                                           */
#define CO_ORDER_FIXED_BYTES 2
#define CO_ORDER_ENTRY_BYTES 16
/* Entries in one record at most: a receiver keeps room in its list for
 * one record's entries before it takes the record, so the bound must not
 * grow with the datagram (a 64 KiB datagram would hold 4 000). */
#define CO_ORDER_ENTRIES_MAX 64

typedef struct co_order_entry {
    uint32_t member_id;
    uint32_t incarnation;
    uint64_t through;
} co_order_entry_t;

size_t co_order_size(size_t count);
/* Write count entries (room checked by the caller with co_order_size). */
size_t co_order_encode(uint8_t *out, const co_order_entry_t *entries,
                       size_t count);
/* Check an ORDER payload: 0 and *count, or a negative drop code (exact
 * length, count in 1..CO_ORDER_ENTRIES_MAX, ids and incarnations
 * nonzero, through in 1..CO_SEQ_LIMIT-1: else BAD_FIELD; too short:
 * TRUNCATED). */
int co_order_decode(const uint8_t *p, size_t len, size_t *count);
/* Entry i (< count) of a checked payload. */
co_order_entry_t co_order_entry_at(const uint8_t *p, size_t i);

/* ---------------------------------------------------------------- */
/* PARITY body: one parity symbol of a block of the sender's FIFO       */
/* records (docs/protocol.md, "Parity repair").                        */
/*  off len field                                                      */
/*   0   8  first      seq of the block's first record (>= 1)          */
/*   8   1  count      records in the block, k: seqs first..first+k-1  */
/*                     (2..CO_PARITY_K_MAX)                            */
/*   9   1  index      which parity symbol, j (< CO_PARITY_INDEX_MAX)  */
/*  10   2  reserved   0                                               */
/*  12   .  symbol     p_j = sum_i c(j,i) * s_i over GF(2^8) (fec.h),  */
/*                     s_i the symbol of record first+i zero-padded to */
/*                     the longest of the block; at least 4 bytes      */
/* The symbol of a record is the record as in DATA without its seq     */
/* (which its place in the block gives) and without RETRANSMIT:        */
/* rtype(1) rflags(1) len(2) [total_len(4)] payload(len).              */
#define CO_PARITY_FIXED_BYTES 12
#define CO_PARITY_K_MAX 64
#define CO_PARITY_INDEX_MAX 192
#define CO_SYMBOL_MIN_BYTES 4

typedef struct co_parity {
    uint64_t first;
    uint8_t count;
    uint8_t index;
    const uint8_t *symbol;   /* into the decoded buffer */
    size_t len;
} co_parity_t;

/* Write the fixed part (the symbol follows at out + CO_PARITY_FIXED_BYTES,
 * written by the caller); returns CO_PARITY_FIXED_BYTES. */
size_t co_parity_begin(uint8_t *out, uint64_t first, uint8_t count,
                       uint8_t index);
/* 0, or a negative drop code (shorter than the fixed part plus a symbol
 * header: TRUNCATED; first 0 or past CO_SEQ_LIMIT - count, count or index
 * out of range, reserved not 0: BAD_FIELD). */
int co_parity_decode(const uint8_t *body, size_t len, co_parity_t *out);

/* The symbol header of r (FIFO) into out[0..8): returns its length, 4 or
 * 8; the payload follows it in the symbol. */
size_t co_symbol_header(const co_record_t *r, uint8_t out[8]);
/* The symbol's size: header plus payload. */
size_t co_symbol_size(const co_record_t *r);
/* Read the record a recovered symbol of sym_len bytes (zero-padded past
 * its end) holds, as record seq: 1 and *r (payload into sym), or a
 * negative drop code when it breaks a DATA record rule or is not FIFO
 * (a corrupt or forged parity). */
int co_symbol_record(const uint8_t *sym, size_t sym_len, uint64_t seq,
                     co_record_t *r);

/* ---------------------------------------------------------------- */
/* FORWARD body: a member re-sends FIFO records of another member, the  */
/* origin, during a flush (docs/membership.md, "Repair during a flush").*/
/*  off len field                                                       */
/*   0   4  origin_id           the member that sent the records, != 0 */
/*   4   4  origin_incarnation  its incarnation, != 0                  */
/*   8   .  records             one or more, exactly as in DATA (no    */
/*                              trail), FIFO records only              */
/* Every DATA record rule applies; an UNRELIABLE record is BAD_TYPE     */
/* (it is never repaired, so never forwarded).                          */
#define CO_FORWARD_FIXED_BYTES 8

typedef struct co_forward {
    uint32_t origin_id;
    uint32_t origin_incarnation;
} co_forward_t;

/* Write the origin at out[0 .. CO_FORWARD_FIXED_BYTES) and return
 * CO_FORWARD_FIXED_BYTES; the records follow through co_record_encode
 * (FIFO records only), room checked by the caller with co_record_size. */
size_t co_forward_begin(uint8_t *out, uint32_t origin_id,
                        uint32_t origin_incarnation);

/* Decode the origin of a FORWARD body and check every record, so that no
 * state is touched for a body with a bad tail: 0 or a negative drop code
 * (shorter than origin plus one record header, a truncated record:
 * TRUNCATED; origin id or incarnation 0, no record, a record breaking a
 * DATA rule: BAD_FIELD; unknown or UNRELIABLE rtype: BAD_TYPE). */
int co_forward_decode(const uint8_t *body, size_t body_len, co_forward_t *f);

/* Iterate the records of a FORWARD body: call with
 * *off = CO_FORWARD_FIXED_BYTES; returns 1 and fills *r (payload points
 * into body) while records remain, 0 at the clean end, or a negative drop
 * code as co_forward_decode. */
int co_forward_record_next(const uint8_t *body, size_t body_len, size_t *off,
                           co_record_t *r);

/* ---------------------------------------------------------------- */
/* Stability vector entries (HEARTBEAT and ACK bodies).               */
/*   off len  member_id(4) incarnation(4) delivered_seq(8)            */
/* delivered_seq: every FIFO record from that sender up to and        */
/* including it has been delivered here.                              */
#define CO_ACK_ENTRY_BYTES 16
typedef struct co_ack_entry {
    uint32_t member_id;
    uint32_t incarnation;
    uint64_t delivered_seq;
} co_ack_entry_t;

/* HEARTBEAT body:
 *  off len field
 *   0   1  name_len   <= COHORT_NAME_MAX
 *   1   n  name       UTF-8, not NUL-terminated
 *   .   8  fifo_next  next FIFO seq this member will assign (>= 1)
 *   .   8  fifo_low   lowest FIFO seq it can still retransmit (<= fifo_next)
 *   .   2  datagram   its max_datagram: the longest datagram it sends and
 *                     accepts, CO_WIRE_MIN_DATAGRAM..CO_WIRE_MAX_DATAGRAM
 *   .   2  count      stability entries that follow
 *   .  16* entries
 */
typedef struct co_heartbeat {
    uint8_t name_len;
    char name[COHORT_NAME_MAX + 1]; /* NUL-terminated copy on decode */
    uint64_t fifo_next;
    uint64_t fifo_low;
    uint16_t datagram;
    uint16_t count;
    const uint8_t *entries;          /* count * 16 bytes, in the buffer */
} co_heartbeat_t;

/* PATH body (a member's check that the path carries its datagrams):
 *  off len field
 *   0   2  datagram   the sender's max_datagram, CO_WIRE_MIN_DATAGRAM..
 *                     CO_WIRE_MAX_DATAGRAM
 *   2   1  name_len   <= COHORT_NAME_MAX
 *   3   n  name       as in its HEARTBEAT (a PATH may be the first of
 *                     its datagrams to arrive)
 *   .   .  padding    zero bytes, so that header, body and trailer are
 *                     exactly `datagram` bytes long
 */
#define CO_PATH_FIXED_BYTES 3
typedef struct co_path {
    uint16_t datagram;
    char name[COHORT_NAME_MAX + 1]; /* NUL-terminated copy on decode */
} co_path_t;

/* ACK body: count(2) then count entries (count >= 1). */
typedef struct co_ack {
    uint16_t count;
    const uint8_t *entries;
} co_ack_t;

/* NACK body:
 *  off len field
 *   0   4  target_id          the sender whose records are missing
 *   4   4  target_incarnation
 *   8   2  count              ranges that follow, >= 1
 *  10  16* first_seq(8) last_seq(8), inclusive, 1 <= first <= last
 */
typedef struct co_nack_range {
    uint64_t first;
    uint64_t last;
} co_nack_range_t;

typedef struct co_nack {
    uint32_t target_id;
    uint32_t target_incarnation;
    uint16_t count;
    const uint8_t *ranges;           /* count * 16 bytes, in the buffer */
} co_nack_t;

#define CO_NACK_RANGE_BYTES 16
#define CO_NACK_FIXED_BYTES 10

/* Body decoders: 0 or a negative drop code (exact length required: any
 * trailing or missing byte is malformed). */
int co_heartbeat_decode(const uint8_t *body, size_t len, co_heartbeat_t *hb);
int co_ack_decode(const uint8_t *body, size_t len, co_ack_t *ack);
int co_nack_decode(const uint8_t *body, size_t len, co_nack_t *nack);
/* h: the decoded header (its body_len and SECURED flag give the
 * datagram's length); out->datagram: the size it names, which the whole
 * datagram must be. Shorter than its fixed part and name: TRUNCATED; a
 * size out of range, another length, a name too long or with a NUL, or
 * padding not zero: BAD_FIELD. */
int co_path_decode(const co_header_t *h, const uint8_t *body,
                   co_path_t *out);

/* Entry accessors for the decoded arrays (i < count). */
co_ack_entry_t co_ack_entry_at(const uint8_t *entries, size_t i);
co_nack_range_t co_nack_range_at(const uint8_t *ranges, size_t i);

/* Body encoders: write into out (room checked by the caller with the
 * matching *_size function) and return the bytes written. */
size_t co_heartbeat_size(size_t name_len, size_t count);
size_t co_heartbeat_encode(uint8_t *out, const char *name, size_t name_len,
                           uint64_t fifo_next, uint64_t fifo_low,
                           size_t datagram, const co_ack_entry_t *entries,
                           size_t count);
/* body_len: the room left by the header and the trailer in a datagram of
 * `datagram` bytes (>= CO_PATH_FIXED_BYTES + name_len). */
size_t co_path_encode(uint8_t *out, size_t body_len, size_t datagram,
                      const char *name, size_t name_len);
size_t co_ack_size(size_t count);
size_t co_ack_encode(uint8_t *out, const co_ack_entry_t *entries,
                     size_t count);
size_t co_nack_size(size_t count);
size_t co_nack_encode(uint8_t *out, uint32_t target_id,
                      uint32_t target_incarnation,
                      const co_nack_range_t *ranges, size_t count);

/* Byte helpers, big-endian. */
static inline void co_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void co_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void co_put64(uint8_t *p, uint64_t v)
{
    co_put32(p, (uint32_t)(v >> 32));
    co_put32(p + 4, (uint32_t)v);
}
static inline uint16_t co_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t co_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t co_get64(const uint8_t *p)
{
    return ((uint64_t)co_get32(p) << 32) | co_get32(p + 4);
}

/* FNV-1a 32 of the group name; never 0. */
uint32_t co_group_id(const char *name, size_t len);

#endif /* COHORT_WIRE_H */
