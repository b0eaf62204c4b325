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
    /* An eighth of one peer's receive buffer, and room for a block of
     * the largest symbols whatever that is. */
    px->budget = core->cfg.recv_buffer_bytes / 8;
    if (px->budget < CO_PARITY_K_MAX * px->sym_room)
        px->budget = CO_PARITY_K_MAX * px->sym_room;
}

void co_parity_free(co_core_t *core)
{
    co_parity_rx_t *px = &core->parity;
    for (size_t i = 0; px->pool != NULL && i < CO_PARITY_POOL_MAX; i++)
        co_free(core->mem, px->pool[i].buf);
    co_free(core->mem, px->pool);
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

/* The first block that starts at seq or after it. */
static uint64_t block_from(uint64_t seq, size_t k)
{
    return block_of(seq + k - 1, k);
}

/* Add first to list[0..*n) unless there (or full): whether it was added. */
static bool add_once(uint64_t *list, size_t *n, size_t cap, uint64_t first)
{
    for (size_t j = 0; j < *n; j++)
        if (list[j] == first)
            return false;
    if (*n == cap)
        return false;
    list[(*n)++] = first;
    return true;
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

/* The symbol length of the block at first if it can have parity: all
 * its k records out (below `below`), held, in one view, a symbol fits a
 * datagram, and every record went in a datagram of its own (more than
 * half a body, or no bundling at all). Parity pays where a lost datagram is one lost record: a symbol
 * takes a datagram, so for records bundled r to a datagram it would cost
 * r datagrams to repair what one retransmitted datagram repairs (on
 * loopback's 64 KiB datagrams, records of 1 000 bytes went 60 to one).
 * 0 if not; *head its first record. */
static size_t block_symbol_len(co_core_t *core, uint64_t first, size_t k,
                               uint64_t below, co_txrec_t **head)
{
    if (first < core->tx.low || first + k > below)
        return 0; /* partly released, or not all out yet */
    *head = co_txbuf_get(&core->tx, first);
    if (*head == NULL || (*head)->view_id == 0)
        return 0;
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        co_txrec_t *rec = co_txbuf_get(&core->tx, first + i);
        if (rec == NULL || rec->view_id != (*head)->view_id)
            return 0;
        co_record_t r = txrec_record(rec, first + i);
        if (core->cfg.bundle_delay_ns != 0 &&
            2 * co_record_size(&r) <= core->body_room)
            return 0; /* bundled with others: retransmit instead */
        size_t size = co_symbol_size(&r);
        if (size > len)
            len = size;
    }
    if (len + CO_PARITY_FIXED_BYTES > core->body_room)
        return 0;
    return len;
}

/* Answer a NACK for m records of the block at first with parity, if the
 * block qualifies. Returns whether the block is taken care of. */
static bool block_repair(co_core_t *core, uint64_t first, size_t m,
                         uint64_t now_ns, size_t *budget)
{
    size_t k = core->cfg.parity_block;
    co_txrec_t *head = NULL;
    size_t len = block_symbol_len(core, first, k, core->tx_sent, &head);
    if (len == 0)
        return false;
    if (m > k)
        m = k;
    /* The asker lost m of k: its symbols are likely lost as often, so
     * send m k / (k - m), rounded (1 of 32: 1; 13 of 32: 22). */
    if (m < k)
        m = (m * k + (k - m) / 2) / (k - m);
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

void co_parity_proactive(co_core_t *core, uint64_t now_ns)
{
    size_t k = core->cfg.parity_block, extra = core->cfg.parity_extra;
    if (k < 2 || extra == 0)
        return;
    uint64_t below = core->bundle.open ? core->bundle_out_below
                                       : core->tx_sent;
    uint64_t first = core->parity_pro_next;
    if (first < core->tx.low) /* the first block, or one released */
        first = block_from(core->tx.low, k);
    /* Each block once, when it is out; the queue keeps room for the
     * open bundle and two spare. Bounded per call. */
    for (int n = 0; n < 64 && first + k <= below &&
                    co_txq_room(&core->txq) > extra + 3;
         n++, first += k) {
        co_txrec_t *head = NULL;
        size_t len = block_symbol_len(core, first, k, below, &head);
        if (len == 0 || head->par_next != 0)
            continue; /* straddles a view, too large, or already asked */
        for (size_t j = 0; j < extra; j++) {
            send_symbol(core, first, k, head->view_id, len, head->par_next,
                        now_ns);
            head->par_next++;
        }
    }
    core->parity_pro_next = first;
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

static void slot_clear(co_parity_slot_t *s)
{
    s->peer_id = 0;
    s->stamp = 0;
}

/* Forget the symbols of blocks this member no longer needs: of a peer's
 * life that is not (id, inc), or wholly below its next record. */
static void purge(co_parity_rx_t *px, const co_peer_t *peer)
{
    for (size_t i = 0; px->pool != NULL && i < CO_PARITY_POOL_MAX; i++) {
        co_parity_slot_t *s = &px->pool[i];
        if (s->peer_id != peer->id)
            continue;
        if (s->peer_inc != peer->incarnation ||
            s->first + s->count <= peer->rx.next)
            slot_clear(s);
    }
}

static bool same_block(const co_parity_slot_t *s, const co_peer_t *peer,
                       uint64_t first, size_t count, size_t len,
                       uint64_t view_id)
{
    return s->peer_id == peer->id && s->peer_inc == peer->incarnation &&
           s->first == first && s->count == count && s->len == len &&
           s->view_id == view_id;
}

/* The slot used longest ago, free ones first; skip excepted. With
 * need_buf, only one that holds a buffer. */
static co_parity_slot_t *oldest(co_parity_rx_t *px,
                                const co_parity_slot_t *skip, bool need_buf)
{
    co_parity_slot_t *pick = NULL;
    for (size_t i = 0; i < CO_PARITY_POOL_MAX; i++) {
        co_parity_slot_t *s = &px->pool[i];
        if (s == skip || (need_buf && s->buf == NULL))
            continue;
        if (pick == NULL || s->stamp < pick->stamp)
            pick = s;
        if (pick->stamp == 0 && (!need_buf || pick->buf != NULL))
            break;
    }
    return pick;
}

/* A slot with a buffer of at least len bytes for a new symbol: a free
 * one, else the oldest; within the byte budget, older symbols give way.
 * NULL when out of memory. */
static co_parity_slot_t *take_slot(co_core_t *core, size_t len)
{
    co_parity_rx_t *px = &core->parity;
    if (px->pool == NULL) {
        px->pool = co_malloc(core->mem,
                             CO_PARITY_POOL_MAX * sizeof *px->pool);
        if (px->pool == NULL)
            return NULL;
        memset(px->pool, 0, CO_PARITY_POOL_MAX * sizeof *px->pool);
    }
    co_parity_slot_t *pick = oldest(px, NULL, false);
    slot_clear(pick);
    if (pick->cap >= len)
        return pick;
    co_free(core->mem, pick->buf);
    px->bytes -= pick->cap;
    pick->buf = NULL;
    pick->cap = 0;
    while (px->bytes + len > px->budget) {
        co_parity_slot_t *v = oldest(px, pick, true);
        if (v == NULL)
            break;
        co_free(core->mem, v->buf);
        px->bytes -= v->cap;
        v->buf = NULL;
        v->cap = 0;
        slot_clear(v);
    }
    if (px->bytes + len > px->budget)
        return NULL;
    pick->buf = co_malloc(core->mem, len);
    if (pick->buf == NULL)
        return NULL;
    pick->cap = (uint16_t)len;
    px->bytes += len;
    return pick;
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

static bool record_held(co_peer_t *peer, uint64_t seq)
{
    return seq < peer->rx.next
               ? co_store_get(&peer->store, seq, &(co_record_t){0})
               : co_rxwin_get(&peer->rx, seq) != NULL;
}

/* Rebuild the block (first, count, symbols of len, view) of peer's from
 * the symbols held for it, if there are enough. Returns how many records
 * it rebuilt into px->recovered (0: not yet, or nothing to do). */
static size_t try_block(co_core_t *core, co_peer_t *peer, uint64_t first,
                        size_t k, size_t len, uint64_t view_id)
{
    co_parity_rx_t *px = &core->parity;
    uint64_t next = peer->rx.next;
    size_t missing = 0, useful = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t seq = first + i;
        if (!record_held(peer, seq)) {
            missing++;
            useful += seq >= next;
        }
    }
    co_parity_slot_t *mine[CO_PARITY_K_MAX];
    size_t have = 0;
    for (size_t i = 0; i < CO_PARITY_POOL_MAX && have < CO_PARITY_K_MAX;
         i++)
        if (same_block(&px->pool[i], peer, first, k, len, view_id))
            mine[have++] = &px->pool[i];
    if (useful == 0) { /* repaired meanwhile: the symbols are spent */
        for (size_t i = 0; i < have; i++)
            slot_clear(mine[i]);
        return 0;
    }
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
    for (size_t i = 0; i < k; i++) {
        data[i] = px->rows + i * px->sym_room;
        lens[i] = len;
        bool too_long = false;
        present[i] = held_symbol(peer, first + i, data[i], len, &too_long);
        if (too_long) { /* not parity of the records held here */
            co_count_drop(core, COHORT_DROP_BAD_FIELD);
            for (size_t j = 0; j < have; j++)
                slot_clear(mine[j]);
            return 0;
        }
    }
    for (size_t i = 0; i < missing; i++) {
        par[i] = mine[i]->buf;
        idx[i] = mine[i]->index;
    }
    int rc = co_fec_decode(data, lens, present, k, len, par, idx, missing,
                           px->work);
    /* Used or not, the block's symbols are spent (decode overwrote
     * them). */
    for (size_t i = 0; i < have; i++)
        slot_clear(mine[i]);
    if (rc != 0) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        uint64_t seq = first + i;
        if (present[i] || seq < next)
            continue;
        co_record_t r;
        int st = co_symbol_record(data[i], len, seq, &r);
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
    size_t k = p->count;
    bool useful = false;
    for (size_t i = 0; i < k && !useful; i++)
        useful = p->first + i >= next && !record_held(peer, p->first + i);
    if (!useful) {
        co_count_drop(core, COHORT_DROP_DUPLICATE);
        return 0;
    }
    /* Keep it, once: the same index twice is a duplicate. */
    for (size_t i = 0; px->pool != NULL && i < CO_PARITY_POOL_MAX; i++) {
        const co_parity_slot_t *s = &px->pool[i];
        if (same_block(s, peer, p->first, k, p->len, view_id) &&
            s->index == p->index) {
            co_count_drop(core, COHORT_DROP_DUPLICATE);
            return 0;
        }
    }
    co_parity_slot_t *slot = take_slot(core, p->len);
    if (slot == NULL)
        return 0; /* out of memory: the NACKs go on */
    slot->peer_id = peer->id;
    slot->peer_inc = peer->incarnation;
    slot->first = p->first;
    slot->count = p->count;
    slot->index = p->index;
    slot->len = (uint16_t)p->len;
    slot->view_id = view_id;
    slot->stamp = ++px->stamp;
    memcpy(slot->buf, p->symbol, p->len);
    return try_block(core, peer, p->first, k, p->len, view_id);
}

size_t co_parity_retry(co_core_t *core, co_peer_t *peer)
{
    co_parity_rx_t *px = &core->parity;
    px->nrecovered = 0;
    if (px->pool == NULL)
        return 0;
    purge(px, peer);
    /* Each block once (try_block walks the pool): at most 64 a call. */
    uint64_t tried[64];
    size_t ntried = 0;
    for (size_t i = 0; i < CO_PARITY_POOL_MAX && ntried < 64; i++) {
        const co_parity_slot_t *s = &px->pool[i];
        if (s->peer_id != peer->id || !add_once(tried, &ntried, 64, s->first))
            continue;
        size_t n = try_block(core, peer, s->first, s->count, s->len,
                             s->view_id);
        if (n > 0)
            return n;
    }
    return 0;
}

/* Symbols held for the block at first of peer's (any length or view:
 * an estimate for the NACK). */
static size_t held_for(const co_parity_rx_t *px, const co_peer_t *peer,
                       uint64_t first)
{
    size_t n = 0;
    for (size_t i = 0; i < CO_PARITY_POOL_MAX; i++) {
        const co_parity_slot_t *s = &px->pool[i];
        n += s->peer_id == peer->id && s->peer_inc == peer->incarnation &&
             s->first == first;
    }
    return n;
}

size_t co_parity_trim(const co_core_t *core, const co_peer_t *peer,
                      co_nack_range_t *ranges, size_t n, size_t max)
{
    const co_parity_rx_t *px = &core->parity;
    if (px->pool == NULL || n == 0)
        return n;
    /* Blocks with symbols held, each once, in the span asked. */
    uint64_t lo = ranges[0].first, hi = ranges[n - 1].last;
    uint64_t seen[CO_PARITY_NACK_BLOCKS];
    size_t nseen = 0;
    for (size_t i = 0; i < CO_PARITY_POOL_MAX; i++) {
        const co_parity_slot_t *s = &px->pool[i];
        if (s->peer_id != peer->id || s->peer_inc != peer->incarnation ||
            s->first > hi || s->first + s->count <= lo ||
            !add_once(seen, &nseen, CO_PARITY_NACK_BLOCKS, s->first))
            continue;
        size_t h = held_for(px, peer, s->first);
        uint64_t bf = s->first, bl = s->first + s->count - 1;
        /* Leave out the block's last h gaps: the symbols held stand for
         * them, the rest are asked for (as parity, by the sender). */
        for (size_t r = n; r-- > 0 && h > 0;) {
            co_nack_range_t *g = &ranges[r];
            if (g->last < bf || g->first > bl)
                continue;
            uint64_t olo = g->first > bf ? g->first : bf;
            uint64_t ohi = g->last < bl ? g->last : bl;
            uint64_t t = ohi - olo + 1 < h ? ohi - olo + 1 : h;
            uint64_t cut_lo = ohi - t + 1;
            bool left = g->first < cut_lo, right = g->last > ohi;
            if (left && right) {
                if (n == max)
                    break; /* no room to split: ask for more */
                memmove(&ranges[r + 2], &ranges[r + 1],
                        (n - r - 1) * sizeof *ranges);
                ranges[r + 1] = (co_nack_range_t){ohi + 1, g->last};
                g->last = cut_lo - 1;
                n++;
            } else if (left) {
                g->last = cut_lo - 1;
            } else if (right) {
                g->first = ohi + 1;
            } else {
                memmove(&ranges[r], &ranges[r + 1],
                        (n - r - 1) * sizeof *ranges);
                n--;
            }
            h -= (size_t)t;
        }
    }
    return n;
}
