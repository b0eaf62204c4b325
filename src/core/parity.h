/*
 * parity.h - parity repair: one multicast parity symbol repairs different
 * losses at different receivers (docs/protocol.md, "Parity repair"; the
 * idea of NORM's, RFC 5740, with the code of fec.h).
 *
 * A sender with parity_block k (2..CO_PARITY_K_MAX) cuts its FIFO stream
 * into blocks of k records, seqs 1..k, k+1..2k, and so on. When a NACK
 * asks for m records of a block that is wholly out, in one view, and
 * still held, the sender multicasts m parity symbols of that block
 * (fresh indices) instead of the m records: every receiver that misses
 * at most m records of the block more than the symbols it holds rebuilds
 * them. NACKs from other receivers within the hold-off top the round up
 * to the most any asked for; a later NACK for the block starts another
 * round; after CO_PARITY_ROUNDS rounds the block is repaired record by
 * record as without parity (so a receiver that cannot use parity, one
 * that joined within a block say, is never stuck). A record the NACK asks
 * for in a block that does not qualify (the newest, still filling; one
 * that straddles a view; one partly released) is retransmitted as before.
 * With parity_extra e, each block also gets e symbols unasked as its last
 * record goes out (proactive parity).
 *
 * A receiver needs no configuration: it takes the block's records from
 * what it holds out of order (rxwin) and what it delivered and still
 * keeps for the flush (store), keeps parity symbols that came before
 * enough of the block, and gives the records it rebuilt to the core as
 * retransmissions. Its NACKs leave out as many gaps of a block as it
 * holds symbols for it (co_parity_trim), so they ask for what is short,
 * and it rebuilds a block when records retransmitted one by one make the
 * symbols enough (co_parity_retry). Memory: up to CO_PARITY_POOL_MAX
 * symbols, each buffer its symbol's length, in at most an eighth of
 * recv_buffer_bytes (and at least CO_PARITY_K_MAX datagram bodies), and
 * one block of scratch (CO_PARITY_K_MAX datagram bodies), allocated when
 * the first parity datagram arrives.
 */
#ifndef COHORT_PARITY_H
#define COHORT_PARITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define CO_PARITY_POOL_MAX 1024 /* parity symbols a receiver keeps, at most */
#define CO_PARITY_ROUNDS 4    /* parity rounds a block gets at most */
#define CO_PARITY_NACK_BLOCKS 16 /* blocks one NACK can get parity for */

struct co_core;
struct co_peer;

typedef struct co_parity_slot {
    uint32_t peer_id, peer_inc;  /* 0: free */
    uint64_t first;
    uint8_t count, index;
    uint16_t len;                /* symbol bytes */
    uint64_t view_id;
    uint64_t stamp;              /* arrival order (eviction); 0: free */
    uint8_t *buf;                /* cap bytes, allocated on use */
    uint16_t cap;
} co_parity_slot_t;

typedef struct co_parity_rx {
    co_parity_slot_t *pool;      /* CO_PARITY_POOL_MAX, on first use */
    size_t bytes, budget;        /* symbol buffers held, and at most */
    uint64_t stamp;
    size_t sym_room;             /* body_room - CO_PARITY_FIXED_BYTES */
    uint8_t *rows;               /* CO_PARITY_K_MAX * sym_room, on use */
    uint8_t *work;               /* co_fec_work_bytes(CO_PARITY_K_MAX) */
    co_record_t recovered[CO_PARITY_K_MAX]; /* payloads into rows */
    size_t nrecovered;
} co_parity_rx_t;

void co_parity_init(struct co_core *core);
void co_parity_free(struct co_core *core);

/* Sender: the parity part of answering nack (for this member's own
 * records). Sends what it can within *budget datagrams (decremented) and
 * writes the first seq of every block it took care of, ascending, to
 * done[0..CO_PARITY_NACK_BLOCKS); returns how many. The caller
 * retransmits the other records the NACK names as usual. */
size_t co_parity_on_nack(struct co_core *core, const co_nack_t *nack,
                         uint64_t now_ns, size_t *budget, uint64_t *done);

/* Whether seq lies in one of the n blocks in done (co_parity_on_nack). */
bool co_parity_done_has(const struct co_core *core, const uint64_t *done,
                        size_t n, uint64_t seq);

/* Receiver: a PARITY datagram p from peer, in view view_id. Returns how
 * many records it rebuilt, in core->parity.recovered[0..n) (payloads
 * valid until the next call; flags without RETRANSMIT): the caller takes
 * them as retransmissions. Drops are counted here. */
size_t co_parity_recv(struct co_core *core, struct co_peer *peer,
                      const co_parity_t *p, uint64_t view_id);

/* Receiver, before asking peer for its gaps: rebuild one block whose
 * symbols held are now enough (records arrived meanwhile, retransmitted
 * one by one). Returns as co_parity_recv; call until 0. */
size_t co_parity_retry(struct co_core *core, struct co_peer *peer);

/* Receiver: take out of the NACK ranges[0..n) (at most max) the gaps that
 * the parity symbols held for peer's blocks stand for, h symbols of a
 * block its last h gaps; the NACK then asks for what is still short, and
 * the sender answers that many fresh symbols. Returns the new count (0:
 * nothing to ask). */
size_t co_parity_trim(const struct co_core *core, const struct co_peer *peer,
                      co_nack_range_t *ranges, size_t n, size_t max);

/* Sender with parity_extra: multicast that many parity symbols, unasked,
 * of every block whose records have all gone out (queued below
 * core->bundle_out_below, or all sent when no bundle is open). */
void co_parity_proactive(struct co_core *core, uint64_t now_ns);

#endif
