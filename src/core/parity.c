/*
 * parity.c - parity repair (parity.h).
 */
#include "parity.h"

#include <string.h>

#include "co_assert.h"
#include "core_internal.h"
#include "fec.h"

void co_parity_init(co_core_t *core)
{
    co_parity_rx_t *px = &core->parity;
    memset(px, 0, sizeof *px);
    COHORT_ASSERT(core->body_room > CO_PARITY_FIXED_BYTES);
    px->sym_room = core->body_room - CO_PARITY_FIXED_BYTES;
}

void co_parity_free(co_core_t *core)
{
    co_parity_rx_t *px = &core->parity;
    for (size_t i = 0; i < CO_PARITY_POOL; i++)
        co_free(core->mem, px->pool[i].buf);
    co_free(core->mem, px->rows);
    co_free(core->mem, px->work);
    memset(px, 0, sizeof *px);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static uint64_t block_of(uint64_t seq, size_t k)
{
    return (seq - 1) / k * k + 1;
}

static co_record_t txrec_record(const co_txrec_t *rec, uint64_t seq)
{
    return (co_record_t){.type = CO_REC_FIFO, .flags = rec->flags,
                         .len = rec->len, .seq = seq,
                         .total_len = rec->total_len, .payload = rec->data};
}

/* Multicast parity symbol index of the block at first (k records, all
 * held, sent in view_id, symbols at most len bytes). */
static void send_symbol(co_core_t *core, uint64_t first, size_t k,
                        uint64_t view_id, size_t len, uint8_t index,
                        uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    co_builder_begin(core, b, CO_TYPE_PARITY, CO_DEST_GROUP, NULL);
    b->view_id = view_id;
    uint8_t *body = b->buf + CO_HEADER_BYTES;
    size_t at = co_parity_begin(body, first, (uint8_t)k, index);
    uint8_t *sym = body + at;
    memset(sym, 0, len);
    for (size_t i = 0; i < k; i++) {
        co_txrec_t *rec = co_txbuf_get(&core->tx, first + i);
        COHORT_ASSERT(rec != NULL);
        co_record_t r = txrec_record(rec, first + i);
        uint8_t hdr[8];
        size_t hl = co_symbol_header(&r, hdr);
        uint8_t c = co_fec_coef(index, (unsigned)i);
        co_fec_addmul(sym, hdr, hl, c);
        co_fec_addmul(sym + hl, rec->data, rec->len, c);
    }
    b->body_len = at + len;
    co_builder_finish(core, b, now_ns);
    core->stats.parity_sent++;
}

/* Answer a NACK for m records of the block at first with parity, if the
 * block qualifies. Returns whether the block is taken care of. */
static bool block_repair(co_core_t *core, uint64_t first, size_t m,
                         uint64_t now_ns, size_t *budget)
{
    size_t k = core->cfg.parity_block;
    if (first < core->tx.low || first + k > core->tx_sent)
        return false; /* partly released, or not all out yet */
    co_txrec_t *head = co_txbuf_get(&core->tx, first);
    if (head == NULL || head->view_id == 0)
        return false;
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        co_txrec_t *rec = co_txbuf_get(&core->tx, first + i);
        if (rec == NULL || rec->view_id != head->view_id)
            return false;
        co_record_t r = txrec_record(rec, first + i);
        size_t size = co_symbol_size(&r);
        if (size > len)
            len = size;
    }
    if (len + CO_PARITY_FIXED_BYTES > core->body_room)
        return false;
    if (m > k)
        m = k;
    /* Receivers ask again one retry interval after asking: a NACK
     * within the hold-off answers the same loss (its parity is on the
     * way) or a receiver that misses more of the block than the first
     * asker (top up); a later one means the parity was lost too, or did
     * not serve: a new round, then record by record. */
    uint64_t hold = co_rtt_hold_ns(core->cfg.nack_retry_ns);
    size_t send;
    if (head->par_at_ns != 0 && now_ns - head->par_at_ns < hold) {
        if (m <= head->par_need)
            return true;
        send = m - head->par_need;
    } else if (head->par_rounds < CO_PARITY_ROUNDS) {
        send = m;
        head->par_need = 0;
        head->par_rounds++;
        head->par_at_ns = now_ns;
    } else {
        return false;
    }
    if ((size_t)head->par_next + send > CO_PARITY_INDEX_MAX)
        return false;
    for (size_t j = 0; j < send && *budget > 2; j++) {
        send_symbol(core, first, k, head->view_id, len, head->par_next,
                    now_ns);
        head->par_next++;
        head->par_need++;
        (*budget)--;
    }
    return true;
}

size_t co_parity_on_nack(co_core_t *core, const co_nack_t *nack,
                         uint64_t now_ns, size_t *budget, uint64_t *done)
{
    size_t k = core->cfg.parity_block;
    if (k < 2)
        return 0;
    /* Records asked for per block, over every range; a hostile range is
     * clipped to what was sent, and only the first blocks count. */
    uint64_t blocks[CO_PARITY_NACK_BLOCKS];
    size_t need[CO_PARITY_NACK_BLOCKS];
    size_t nb = 0;
    for (size_t i = 0; i < nack->count; i++) {
        co_nack_range_t r = co_nack_range_at(nack->ranges, i);
        uint64_t lo = r.first > core->tx.low ? r.first : core->tx.low;
        uint64_t hi = r.last < core->tx_sent ? r.last : core->tx_sent - 1;
        while (lo <= hi && lo != 0) {
            uint64_t b = block_of(lo, k);
            uint64_t end = b + k - 1 < hi ? b + k - 1 : hi;
            size_t j = 0;
            while (j < nb && blocks[j] != b)
                j++;
            if (j == nb) {
                if (nb == CO_PARITY_NACK_BLOCKS)
                    break;
                blocks[nb] = b;
                need[nb++] = 0;
            }
            need[j] += (size_t)(end - lo + 1);
            lo = end + 1;
        }
    }
    size_t n = 0;
    for (size_t j = 0; j < nb; j++) {
        if (*budget <= 2)
            break;
        if (block_repair(core, blocks[j], need[j], now_ns, budget))
            done[n++] = blocks[j];
    }
    /* Ascending, for the caller's walk (ranges may come in any order). */
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && done[b - 1] > done[b]; b--) {
            uint64_t t = done[b];
            done[b] = done[b - 1];
            done[b - 1] = t;
        }
    return n;
}

bool co_parity_done_has(const co_core_t *core, const uint64_t *done,
                        size_t n, uint64_t seq)
{
    size_t k = core->cfg.parity_block;
    if (n == 0 || k < 2)
        return false;
    uint64_t b = block_of(seq, k);
    for (size_t i = 0; i < n; i++)
        if (done[i] == b)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

/* Forget the symbols of blocks this member no longer needs: of a peer's
 * life that is not (id, inc), or wholly below its next record. */
static void purge(co_parity_rx_t *px, const co_peer_t *peer)
{
    for (size_t i = 0; i < CO_PARITY_POOL; i++) {
        co_parity_slot_t *s = &px->pool[i];
        if (s->peer_id != peer->id)
            continue;
        if (s->peer_inc != peer->incarnation ||
            s->first + s->count <= peer->rx.next)
            s->peer_id = 0;
    }
}

static bool same_block(const co_parity_slot_t *s, const co_peer_t *peer,
                       const co_parity_t *p, uint64_t view_id)
{
    return s->peer_id == peer->id && s->peer_inc == peer->incarnation &&
           s->first == p->first && s->count == p->count &&
           s->len == p->len && s->view_id == view_id;
}

/* A slot for a new symbol: a free one, else the oldest. */
static co_parity_slot_t *take_slot(co_core_t *core)
{
    co_parity_rx_t *px = &core->parity;
    co_parity_slot_t *pick = NULL;
    for (size_t i = 0; i < CO_PARITY_POOL; i++) {
        co_parity_slot_t *s = &px->pool[i];
        if (s->peer_id == 0) {
            pick = s;
            break;
        }
        if (pick == NULL || s->stamp < pick->stamp)
            pick = s;
    }
    if (pick->buf == NULL)
        pick->buf = co_malloc(core->mem, px->sym_room);
    return pick->buf ? pick : NULL;
}

/* The symbol of record seq of peer's as this member holds it, into row
 * (sym_room bytes, zero-padded to len); false when it holds no copy. */
static bool held_symbol(co_peer_t *peer, uint64_t seq, uint8_t *row,
                        size_t len, bool *too_long)
{
    co_record_t r;
    if (seq < peer->rx.next) {
        if (!co_store_get(&peer->store, seq, &r))
            return false;
    } else {
        const co_rxslot_t *s = co_rxwin_get(&peer->rx, seq);
        if (s == NULL)
            return false;
        r = (co_record_t){.type = CO_REC_FIFO, .flags = s->flags,
                          .len = s->len, .seq = seq,
                          .total_len = s->total_len, .payload = s->data};
    }
    size_t size = co_symbol_size(&r);
    if (size > len) {
        *too_long = true;
        return false;
    }
    size_t hl = co_symbol_header(&r, row);
    if (r.len)
        memcpy(row + hl, r.payload, r.len);
    memset(row + size, 0, len - size);
    return true;
}

size_t co_parity_recv(co_core_t *core, co_peer_t *peer, const co_parity_t *p,
                      uint64_t view_id)
{
    co_parity_rx_t *px = &core->parity;
    px->nrecovered = 0;
    core->stats.parity_received++;
    if (!co_rxwin_synced(&peer->rx) || view_id == 0) {
        co_count_drop(core, COHORT_DROP_NO_BUFFER);
        return 0;
    }
    if (p->len > px->sym_room || p->count > CO_PARITY_K_MAX) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return 0;
    }
    purge(px, peer);
    uint64_t next = peer->rx.next;
    if (p->first + p->count <= next) {
        co_count_drop(core, COHORT_DROP_DUPLICATE); /* all delivered */
        return 0;
    }
    if (p->first > next && p->first - next >= peer->rx.max_slots) {
        co_count_drop(core, COHORT_DROP_NO_BUFFER);
        return 0;
    }
    /* Missing records of the block: the ones not held. */
    size_t k = p->count, missing = 0, useful = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t seq = p->first + i;
        bool held = seq < next ? co_store_get(&peer->store, seq,
                                              &(co_record_t){0})
                               : co_rxwin_get(&peer->rx, seq) != NULL;
        if (!held) {
            missing++;
            if (seq >= next)
                useful++;
        }
    }
    if (useful == 0) {
        co_count_drop(core, COHORT_DROP_DUPLICATE);
        return 0;
    }
    /* Keep it, once: the same index twice is a duplicate. */
    size_t have = 0;
    co_parity_slot_t *mine[CO_PARITY_K_MAX];
    for (size_t i = 0; i < CO_PARITY_POOL; i++) {
        co_parity_slot_t *s = &px->pool[i];
        if (!same_block(s, peer, p, view_id))
            continue;
        if (s->index == p->index) {
            co_count_drop(core, COHORT_DROP_DUPLICATE);
            return 0;
        }
        if (have < CO_PARITY_K_MAX)
            mine[have++] = s;
    }
    co_parity_slot_t *slot = take_slot(core);
    if (slot == NULL)
        return 0; /* out of memory: the NACKs go on */
    *slot = (co_parity_slot_t){.peer_id = peer->id,
                               .peer_inc = peer->incarnation,
                               .first = p->first, .count = p->count,
                               .index = p->index, .len = (uint16_t)p->len,
                               .view_id = view_id, .stamp = ++px->stamp,
                               .buf = slot->buf};
    memcpy(slot->buf, p->symbol, p->len);
    if (have < CO_PARITY_K_MAX)
        mine[have++] = slot;
    if (have < missing)
        return 0; /* wait for more */

    if (px->rows == NULL)
        px->rows = co_malloc(core->mem, CO_PARITY_K_MAX * px->sym_room);
    if (px->work == NULL)
        px->work = co_malloc(core->mem, co_fec_work_bytes(CO_PARITY_K_MAX));
    if (px->rows == NULL || px->work == NULL)
        return 0;
    uint8_t *data[CO_PARITY_K_MAX];
    size_t lens[CO_PARITY_K_MAX];
    bool present[CO_PARITY_K_MAX];
    uint8_t *par[CO_PARITY_K_MAX];
    unsigned idx[CO_PARITY_K_MAX];
    size_t held = 0;
    for (size_t i = 0; i < k; i++) {
        data[i] = px->rows + i * px->sym_room;
        lens[i] = p->len;
        bool too_long = false;
        present[i] = held_symbol(peer, p->first + i, data[i], p->len,
                                 &too_long);
        if (too_long) { /* not a parity of the records held here */
            co_count_drop(core, COHORT_DROP_BAD_FIELD);
            slot->peer_id = 0;
            return 0;
        }
        held += present[i];
    }
    COHORT_ASSERT(k - held == missing);
    for (size_t i = 0; i < missing; i++) {
        par[i] = mine[i]->buf;
        idx[i] = mine[i]->index;
    }
    int rc = co_fec_decode(data, lens, present, k, p->len, par, idx, missing,
                           px->work);
    /* Used or not, the block's symbols are spent (decode overwrote
     * them). */
    for (size_t i = 0; i < have; i++)
        mine[i]->peer_id = 0;
    if (rc != 0) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        uint64_t seq = p->first + i;
        if (present[i] || seq < next)
            continue;
        co_record_t r;
        int st = co_symbol_record(data[i], p->len, seq, &r);
        if (st != 1) {
            co_count_drop(core, co_drop_of(st));
            continue;
        }
        r.view_id = view_id;
        px->recovered[px->nrecovered++] = r;
    }
    core->stats.parity_recovered += px->nrecovered;
    return px->nrecovered;
}
