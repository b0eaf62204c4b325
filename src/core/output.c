/*
 * output.c - everything the core sends: building datagrams (bundling many
 * records into one), sealing them, and the queue the caller drains with
 * co_core_next_tx(). Control datagrams (heartbeat, ACK, NACK, LEAVE) and
 * retransmissions are built here too, so every datagram type goes through
 * the same header and sealing path.
 */
#include "core_internal.h"

#include <string.h>

#include "co_assert.h"

void co_count_drop(co_core_t *core, int reason)
{
    COHORT_ASSERT(reason >= 0 && reason < COHORT_DROP__COUNT);
    core->stats.drops[reason]++;
    core->stats.drops_total++;
}

static int txq_init(const co_mem_t *m, co_txq_t *q, size_t cap,
                    size_t datagram)
{
    memset(q, 0, sizeof *q);
    q->bufs = co_calloc(m, cap, sizeof *q->bufs);
    q->lens = co_calloc(m, cap, sizeof *q->lens);
    q->kinds = co_calloc(m, cap, sizeof *q->kinds);
    q->dests = co_calloc(m, cap, sizeof *q->dests);
    q->send_by = co_calloc(m, cap, sizeof *q->send_by);
    if (!q->bufs || !q->lens || !q->kinds || !q->dests || !q->send_by)
        return -1;
    q->cap = cap;
    for (size_t i = 0; i < cap; i++)
        if (!(q->bufs[i] = co_malloc(m, datagram)))
            return -1;
    return 0;
}

static void txq_free(const co_mem_t *m, co_txq_t *q)
{
    for (size_t i = 0; q->bufs && i < q->cap; i++)
        co_free(m, q->bufs[i]);
    co_free(m, q->bufs);
    co_free(m, q->lens);
    co_free(m, q->kinds);
    co_free(m, q->dests);
    co_free(m, q->send_by);
    memset(q, 0, sizeof *q);
}

void co_txq_release(co_txq_t *q)
{
    COHORT_ASSERT(q->popped <= q->count);
    q->head = (q->head + q->popped) % q->cap;
    q->count -= q->popped;
    q->popped = 0;
}

size_t co_txq_room(const co_txq_t *q) { return q->cap - q->count; }

int co_output_init(co_core_t *core)
{
    const co_mem_t *m = core->mem;
    size_t dg = core->cfg.max_datagram;
    core->bundle.buf = co_malloc(m, dg);
    core->scratch.buf = co_malloc(m, dg);
    core->retx_group.buf = co_malloc(m, dg);
    core->retx_unicast.buf = co_malloc(m, dg);
    core->rxbuf = co_malloc(m, CO_MAX_DATAGRAM);
    core->entries = co_calloc(m, core->cfg.max_members, sizeof *core->entries);
    if (!core->entries || !core->bundle.buf || !core->scratch.buf || !core->retx_group.buf ||
        !core->retx_unicast.buf || !core->rxbuf)
        return -1;
    return txq_init(m, &core->txq, core->cfg.tx_queue_len, dg);
}

void co_output_free(co_core_t *core)
{
    const co_mem_t *m = core->mem;
    co_free(m, core->bundle.buf);
    co_free(m, core->scratch.buf);
    co_free(m, core->retx_group.buf);
    co_free(m, core->retx_unicast.buf);
    co_free(m, core->rxbuf);
    co_free(m, core->entries);
    txq_free(m, &core->txq);
}

void co_builder_begin(co_core_t *core, co_builder_t *b, uint8_t type,
                      co_dest_kind_t kind, const co_addr_t *dest)
{
    COHORT_ASSERT(!b->open);
    /* A member whose address is not known yet (taken in by a view before
     * any datagram of it arrived) is reached through the group. */
    if (kind == CO_DEST_UNICAST && (dest == NULL || dest->len == 0)) {
        kind = CO_DEST_GROUP;
        dest = NULL;
    }
    b->open = true;
    b->type = type;
    b->kind = kind;
    if (dest)
        b->dest = *dest;
    b->has_fifo = false;
    b->view_id = co_membership_view_id(core);
    /* A DATA body starts with the trail, written when sealing; a FORWARD
     * body with its records' origin. */
    b->body_len = type == CO_TYPE_DATA ? CO_DATA_TRAIL_BYTES : 0;
    if (type == CO_TYPE_FORWARD)
        b->body_len = co_forward_begin(b->buf + CO_HEADER_BYTES, b->origin_id,
                                       b->origin_inc);
}

uint8_t *co_unicast_begin(co_core_t *core, uint8_t type,
                          const co_addr_t *dest)
{
    if (co_txq_room(&core->txq) < 2)
        return NULL;
    co_builder_t *b = &core->scratch;
    co_builder_begin(core, b, type, CO_DEST_UNICAST, dest);
    return b->buf + CO_HEADER_BYTES;
}

void co_unicast_finish(co_core_t *core, size_t body_len, uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    COHORT_ASSERT(b->open && body_len <= core->body_room);
    b->body_len = body_len;
    co_builder_finish(core, b, now_ns);
}

/* Write the header, seal, and move the datagram into the queue (by
 * swapping buffers: no copy). A full queue drops it, as the network
 * might; reliable records come back through NACKs. */
void co_builder_finish(co_core_t *core, co_builder_t *b, uint64_t now_ns)
{
    if (!b->open)
        return;
    uint8_t *body = b->buf + CO_HEADER_BYTES;
    if (b->type == CO_TYPE_DATA)
        co_put64(body, core->tx.low);
    /* FASTEST seals with AES-256-GCM only while no member heard says it
     * cannot open it; a retransmission is sealed anew, so a record lost
     * to such a member comes back in the cipher it opens. */
    co_crypto_members_without_aes(&core->crypto, core->peers.no_aes);
    co_header_t h = {
        .version = CO_WIRE_VERSION,
        .type = b->type,
        .flags = co_crypto_flags(&core->crypto),
        .key_id = co_crypto_send_key_id(&core->crypto),
        .body_len = (uint16_t)b->body_len,
        .group_id = core->cfg.group_id,
        .sender_id = core->cfg.member_id,
        .incarnation = core->cfg.incarnation,
        .packet_seq = ++core->packet_seq,
        .view_id = b->view_id,
    };
    COHORT_ASSERT(b->body_len <= core->body_room);
    co_header_encode(&h, b->buf);
    size_t len = co_crypto_seal(&core->crypto, b->buf,
                                CO_HEADER_BYTES + b->body_len);
    COHORT_ASSERT(len <= core->cfg.max_datagram);
    if (b->has_fifo)
        core->probe_at_ns = now_ns + core->probe_delay_ns;
    b->body_len = 0;
    b->open = false;
    if (b == &core->bundle)
        core->bundle_out_below = core->tx_sent;
    co_txq_t *q = &core->txq;
    if (q->count == q->cap) {
        co_count_drop(core, COHORT_DROP_QUEUE_FULL);
        return;
    }
    size_t slot = (q->head + q->count) % q->cap;
    uint8_t *spare = q->bufs[slot];
    q->bufs[slot] = b->buf;
    b->buf = spare;
    q->lens[slot] = len;
    q->kinds[slot] = b->kind;
    q->dests[slot] = b->dest;
    /* Bundled records may wait bundle_delay_ns from the first one's
     * coming, in the bundle and then in the caller's send batch. */
    q->send_by[slot] = b == &core->bundle && core->cfg.bundle_delay_ns != 0
                           ? b->begun_ns + core->cfg.bundle_delay_ns
                           : 0;
    q->count++;
}

void co_builder_add_record(co_core_t *core, co_builder_t *b,
                           const co_record_t *r, uint64_t now_ns)
{
    size_t size = co_record_size(r);
    COHORT_ASSERT(size + CO_DATA_TRAIL_BYTES <= core->body_room);
    if (b->body_len + size > core->body_room) {
        uint8_t type = b->type;
        co_dest_kind_t kind = b->kind;
        co_addr_t dest = b->dest;
        uint64_t view = b->view_id;
        co_builder_finish(core, b, now_ns);
        co_builder_begin(core, b, type, kind, &dest);
        b->view_id = view;
        b->begun_ns = now_ns;
    }
    co_record_encode(r, b->buf + CO_HEADER_BYTES, &b->body_len);
    if (r->type == CO_REC_FIFO)
        b->has_fifo = true;
}

void co_bundle_add(co_core_t *core, const co_record_t *r, uint64_t now_ns)
{
    co_builder_t *b = &core->bundle;
    /* A datagram names one view for all its records: one begun in an
     * earlier view goes out before records of this one join. */
    if (b->open && b->view_id != co_membership_view_id(core)) {
        co_builder_finish(core, b, now_ns);
        core->bundle_deadline_ns = 0;
    }
    if (!b->open) {
        co_builder_begin(core, b, CO_TYPE_DATA, CO_DEST_GROUP, NULL);
        core->bundle_deadline_ns = now_ns + core->cfg.bundle_delay_ns;
        b->begun_ns = now_ns;
    }
    co_builder_add_record(core, b, r, now_ns);
    if (core->cfg.bundle_delay_ns == 0) {
        co_builder_finish(core, b, now_ns);
        core->bundle_deadline_ns = 0;
    }
}

void co_send_heartbeat(co_core_t *core, uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    co_builder_begin(core, b, CO_TYPE_HEARTBEAT, CO_DEST_GROUP, NULL);
    size_t name_len = strlen(core->cfg.name);
    /* The config check made sure a full vector fits one datagram. */
    size_t n = 0;
    for (size_t i = 0; i < core->peers.span; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use || !co_rxwin_synced(&p->rx))
            continue;
        COHORT_ASSERT(n < core->cfg.max_members);
        core->entries[n++] =
            (co_ack_entry_t){p->id, p->incarnation, p->rx.next - 1};
        p->reported_through = p->rx.next - 1;
        p->delivered_since_ack = 0;
        p->ack_at_ns = 0;
    }
    COHORT_ASSERT(co_heartbeat_size(name_len, n) <= core->body_room);
    b->body_len = co_heartbeat_encode(b->buf + CO_HEADER_BYTES, core->cfg.name,
                                      name_len, core->tx_sent, core->tx.low,
                                      core->cfg.max_datagram, core->entries,
                                      n);
    co_builder_finish(core, b, now_ns);
}

void co_send_path(co_core_t *core, uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    co_builder_begin(core, b, CO_TYPE_PATH, CO_DEST_GROUP, NULL);
    b->body_len = co_path_encode(b->buf + CO_HEADER_BYTES, core->body_room,
                                 core->cfg.max_datagram, core->cfg.name,
                                 strlen(core->cfg.name));
    co_builder_finish(core, b, now_ns);
}

void co_send_ack(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    COHORT_ASSERT(co_rxwin_synced(&peer->rx)); /* else next - 1 wraps */
    if (peer->addr.len == 0) { /* never heard: the next heartbeat tells it */
        peer->ack_at_ns = 0;
        return;
    }
    co_builder_t *b = &core->scratch;
    /* With SAFE messages about, every member must learn what every other
     * holds (total.c): the ack goes to the group. */
    if (co_total_acks_to_group(core))
        co_builder_begin(core, b, CO_TYPE_ACK, CO_DEST_GROUP, NULL);
    else
        co_builder_begin(core, b, CO_TYPE_ACK, CO_DEST_UNICAST, &peer->addr);
    co_ack_entry_t e = {peer->id, peer->incarnation, peer->rx.next - 1};
    b->body_len = co_ack_encode(b->buf + CO_HEADER_BYTES, &e, 1);
    peer->reported_through = e.delivered_seq;
    peer->delivered_since_ack = 0;
    peer->ack_at_ns = 0;
    peer->acked_at_ns = now_ns;
    co_builder_finish(core, b, now_ns);
}

/* Ranges in one NACK (also bounded by the datagram), and NACKs one
 * round may send for one sender: 16 x 64 gaps, more than a send window
 * of the default size can have at a loss rate the protocol still
 * repairs. */
#define CO_NACK_RANGES_MAX 64
#define CO_NACKS_PER_ROUND 16

uint64_t co_send_nack(co_core_t *core, co_peer_t *peer,
                      const co_addr_t *dest, uint64_t from, uint64_t through,
                      uint64_t now_ns)
{
    size_t max = (core->body_room - CO_NACK_FIXED_BYTES) / CO_NACK_RANGE_BYTES;
    if (max > CO_NACK_RANGES_MAX)
        max = CO_NACK_RANGES_MAX;
    co_nack_range_t ranges[CO_NACK_RANGES_MAX];
    /* Every gap of [from, through] is asked for, in as many NACKs as it
     * takes (at most CO_NACKS_PER_ROUND, two queue slots kept spare):
     * with only the lowest ranges asked, a receiver many losses behind (a
     * send window at 20% loss is about a thousand gaps) repaired one
     * datagram of ranges per retry, slower than the view change that
     * waits for it gives up (a flush abandoned, the member left out). */
    uint64_t asked = 0;
    for (size_t k = 0; k < CO_NACKS_PER_ROUND && co_txq_room(&core->txq) > 2;
         k++) {
        if (from > through)
            break;
        size_t n = co_rxwin_gaps_from(&peer->rx, from, ranges, max);
        bool more = n == max;
        while (n > 0 && ranges[n - 1].first > through) {
            n--;
            more = false;
        }
        if (n == 0)
            break;
        if (ranges[n - 1].last > through) {
            ranges[n - 1].last = through;
            more = false;
        }
        uint64_t upto = ranges[n - 1].last;
        n = co_parity_trim(core, peer, ranges, n, max);
        if (n == 0) { /* the parity held stands for every gap */
            asked = upto;
            if (!more)
                break;
            from = upto + 1;
            continue;
        }
        co_builder_t *b = &core->scratch;
        /* To a member never heard (no address yet) the NACK goes to the
         * group: the target answers it (co_vs_nack_dest). */
        co_builder_begin(core, b, CO_TYPE_NACK,
                         dest->len ? CO_DEST_UNICAST : CO_DEST_GROUP,
                         dest->len ? dest : NULL);
        b->body_len = co_nack_encode(b->buf + CO_HEADER_BYTES, peer->id,
                                     peer->incarnation, ranges, n);
        core->stats.nacks_sent++;
        co_builder_finish(core, b, now_ns);
        asked = upto;
        if (!more)
            break;
        from = upto + 1;
    }
    return asked;
}

void co_send_leave(co_core_t *core, uint64_t now_ns)
{
    co_builder_t *b = &core->scratch;
    co_builder_begin(core, b, CO_TYPE_LEAVE, CO_DEST_GROUP, NULL);
    co_builder_finish(core, b, now_ns); /* the header is the message */
}

/* Who gets a retransmission of rec: the first member to ask gets it by
 * unicast; a second, different member asking within nack_retry means
 * several miss it, so it goes to the group; repeats inside the hold-off
 * are ignored (NACK implosion control at the sender). Returns false to
 * skip. */
static bool retx_choose(co_core_t *core, co_txrec_t *rec, uint32_t asker,
                        uint64_t now_ns, co_dest_kind_t *kind)
{
    uint64_t retry = core->cfg.nack_retry_ns;
    /* Receivers ask again one retry interval after asking (at least
     * CO_RTT_FLOOR_NS, rtt.h): a repeat sooner than half that is a
     * duplicate, the answer is on its way. */
    uint64_t hold = co_rtt_hold_ns(retry);
    bool recent = rec->retx_at_ns && now_ns < rec->retx_at_ns + retry;
    uint64_t since = now_ns - rec->retx_at_ns;
    if (rec->retx_at_ns && (rec->retx_to == asker || rec->retx_to == 0) &&
        since < hold)
        return false;
    /* Multicast within nack_retry: a member still missing it gets it by
     * unicast, not the whole group again (NACKs sent before the copy
     * reached them, and the retries of those that lost it). Multicast
     * again at once, the simulator's slow members in `heavy` fell behind
     * (4 in 3 700 seeds never installed a view); ignored for
     * nack_retry / 2, as before, goodput at 20 % loss on lo (where the
     * receivers lose a multicast together) stayed at 35-39 % of lossless. */
    if (recent && rec->retx_to == 0) {
        *kind = CO_DEST_UNICAST;
        return true; /* retx_at_ns stays: the multicast's */
    }
    if (recent && rec->retx_to != asker) {
        *kind = CO_DEST_GROUP;
        rec->retx_to = 0;
    } else {
        *kind = CO_DEST_UNICAST;
        rec->retx_to = asker;
    }
    rec->retx_at_ns = now_ns;
    return true;
}

/* A repair datagram names the view its records were sent in, not the
 * current one: receivers deliver a record only in its own view. Records
 * of another view than b's so far close b and start a new datagram. */
static void retx_in_view(co_core_t *core, co_builder_t *b, uint64_t view_id,
                         uint64_t now_ns)
{
    if (b->view_id == view_id)
        return;
    if (b->body_len > CO_DATA_TRAIL_BYTES) {
        co_dest_kind_t kind = b->kind;
        co_addr_t dest = b->dest;
        co_builder_finish(core, b, now_ns);
        co_builder_begin(core, b, CO_TYPE_DATA, kind, &dest);
    }
    b->view_id = view_id;
}

void co_retransmit(co_core_t *core, co_peer_t *asker, const co_nack_t *nack,
                   uint64_t now_ns)
{
    /* Bound the work one NACK can cause by the queue room left. */
    size_t budget = co_txq_room(&core->txq);
    co_builder_t *group = &core->retx_group, *uni = &core->retx_unicast;
    /* Blocks that parity repairs first (parity.c); their records are not
     * sent again one by one. */
    uint64_t parity_done[CO_PARITY_NACK_BLOCKS];
    size_t nparity = co_parity_on_nack(core, nack, now_ns, &budget,
                                       parity_done);
    co_builder_begin(core, group, CO_TYPE_DATA, CO_DEST_GROUP, NULL);
    co_builder_begin(core, uni, CO_TYPE_DATA, CO_DEST_UNICAST, &asker->addr);
    for (size_t i = 0; i < nack->count && budget > 2; i++) {
        co_nack_range_t r = co_nack_range_at(nack->ranges, i);
        for (uint64_t s = r.first; s <= r.last && budget > 2; s++) {
            if (nparity && co_parity_done_has(core, parity_done, nparity, s))
                continue;
            co_txrec_t *rec = co_txbuf_get(&core->tx, s);
            if (rec && rec->view_id == 0)
                break; /* held for the next view: not out yet */
            if (!rec) {
                if (s < core->tx.low) {
                    s = core->tx.low - 1; /* stable already: jump ahead */
                    continue;
                }
                break; /* beyond what was sent: stale or hostile */
            }
            co_dest_kind_t kind;
            if (!retx_choose(core, rec, asker->id, now_ns, &kind))
                continue;
            co_record_t out = {
                .type = CO_REC_FIFO,
                .flags = (uint8_t)(rec->flags | CO_REC_RETRANSMIT),
                .len = rec->len, .seq = s, .total_len = rec->total_len,
                .payload = rec->data,
            };
            size_t before = core->txq.count;
            co_builder_t *b = kind == CO_DEST_GROUP ? group : uni;
            retx_in_view(core, b, rec->view_id, now_ns);
            co_builder_add_record(core, b, &out, now_ns);
            budget -= core->txq.count - before;
            core->stats.retransmissions_sent++;
        }
    }
    /* An empty retransmission datagram is not worth sending. */
    if (group->body_len == CO_DATA_TRAIL_BYTES)
        group->open = false;
    if (uni->body_len == CO_DATA_TRAIL_BYTES)
        uni->open = false;
    co_builder_finish(core, group, now_ns);
    co_builder_finish(core, uni, now_ns);
}

/* A member asks this one for records of another (the origin, in the
 * NACK's target), as in a flush after the origin crashed: answer from
 * the origin's store, what is held of the ranges, in FORWARD datagrams
 * to the asker, each naming the view its records were delivered in. No
 * hold-off as in co_retransmit: only a flush asks a holder, once per
 * nack_retry. */
void co_forward_repair(co_core_t *core, co_peer_t *asker,
                       const co_nack_t *nack, uint64_t now_ns)
{
    co_peer_t *origin = co_peers_find(&core->peers, nack->target_id);
    if (!origin || origin->incarnation != nack->target_incarnation ||
        origin == asker)
        return;
    size_t budget = co_txq_room(&core->txq);
    co_builder_t *b = &core->retx_unicast;
    b->origin_id = origin->id;
    b->origin_inc = origin->incarnation;
    co_builder_begin(core, b, CO_TYPE_FORWARD, CO_DEST_UNICAST, &asker->addr);
    size_t empty = b->body_len;
    bool any = false;
    for (size_t i = 0; i < nack->count && budget > 2; i++) {
        co_nack_range_t r = co_nack_range_at(nack->ranges, i);
        co_store_iter_t it;
        co_record_t rec;
        co_store_range(&origin->store, r.first, r.last, &it);
        while (budget > 2 && co_store_next(&origin->store, &it, &rec)) {
            if (b->view_id != rec.view_id) {
                if (b->body_len > empty) {
                    co_builder_finish(core, b, now_ns);
                    co_builder_begin(core, b, CO_TYPE_FORWARD,
                                     CO_DEST_UNICAST, &asker->addr);
                }
                b->view_id = rec.view_id;
            }
            rec.flags |= CO_REC_RETRANSMIT;
            size_t before = core->txq.count;
            co_builder_add_record(core, b, &rec, now_ns);
            budget -= core->txq.count - before;
            core->stats.retransmissions_sent++;
            any = true;
        }
    }
    if (!any || b->body_len == empty)
        b->open = false;
    co_builder_finish(core, b, now_ns);
}
