/*
 * core.c - the sans-IO protocol core: configuration, life cycle, the send
 * path, the receive dispatcher and the timers. See core.h for the model
 * and docs/protocol.md for the protocol.
 */
#include "core_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "co_assert.h"
#include "incarnation.h"

bool co_addr_equal(const co_addr_t *a, const co_addr_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The one table of defaults: cohort_config_init() copies these too. */
void co_core_config_defaults(co_core_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->heartbeat_interval_ns = 100 * CO_MS_NS;
    cfg->member_timeout_ns = 3 * CO_S_NS;
    cfg->nack_delay_ns = 5 * CO_MS_NS;
    cfg->nack_retry_ns = 40 * CO_MS_NS;
    cfg->bundle_delay_ns = 200 * CO_US_NS;
    cfg->max_datagram = 1400;
    cfg->max_message = 16 * CO_MIB;
    cfg->send_window_bytes = 4 * CO_MIB;
    cfg->recv_buffer_bytes = 32 * CO_MIB;
    cfg->max_members = 64;
    cfg->event_queue_len = 4096;
    cfg->tx_queue_len = 0; /* derived from max_datagram */
    cfg->self_delivery = 1;
    cfg->state_provider = 1;
    cfg->rpc_max_requests = 256;
    cfg->rpc_history_len = 4096;
    cfg->rpc_history_bytes = 8 * CO_MIB;
    cfg->cipher = COHORT_CIPHER_FASTEST;
}

/* Bytes of body that a heartbeat needs to carry a full stability vector. */
static size_t heartbeat_need(const co_core_config_t *cfg)
{
    return co_heartbeat_size(COHORT_NAME_MAX, cfg->max_members - 1);
}

static bool in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi;
}

/* The one validator of the fields cohort_config shares with the core; the
 * texts name the cohort_config fields, as the caller of cohort_open()
 * knows them. */
static const char *check_timing(const co_core_config_t *cfg)
{
    uint64_t hb = cfg->heartbeat_interval_ns;
    if (!in_range(hb, CO_MS_NS, 60 * CO_S_NS))
        return "heartbeat_interval_ns: must be 1 ms..60 s";
    if (!in_range(cfg->member_timeout_ns, 2 * hb, 3600 * CO_S_NS))
        return "member_timeout_ns: must be 2 heartbeat intervals..1 h";
    if (!in_range(cfg->nack_retry_ns, 100 * CO_US_NS, 10 * CO_S_NS))
        return "nack_retry_ns: must be 100 us..10 s";
    if (cfg->nack_delay_ns > cfg->nack_retry_ns)
        return "nack_delay_ns: must be 0..nack_retry_ns";
    if (cfg->bundle_delay_ns > CO_S_NS)
        return "bundle_delay_ns: must be 0..1 s";
    return NULL;
}

static const char *check_sizes(const co_core_config_t *cfg)
{
    if (!in_range(cfg->max_datagram, CO_MIN_DATAGRAM, CO_MAX_DATAGRAM))
        return "max_datagram: must be 512..65507";
    if (!in_range(cfg->max_message, 1, CO_GIB))
        return "max_message: must be 1 B..1 GiB";
    if (!in_range(cfg->send_window_bytes, 4 * cfg->max_datagram, CO_GIB))
        return "send_window_bytes: must be 4 * max_datagram..1 GiB";
    /* A receiver must hold a whole window and a whole message. */
    size_t rb_min = cfg->max_message > cfg->send_window_bytes
                        ? cfg->max_message
                        : cfg->send_window_bytes;
    if (!in_range(cfg->recv_buffer_bytes, rb_min, CO_GIB))
        return "recv_buffer_bytes: must be max(max_message, "
               "send_window_bytes)..1 GiB";
    if (!in_range(cfg->max_members, 2, 1024))
        return "max_members: must be 2..1024";
    if (cfg->expected_members > 1024)
        return "expected_members: must be 0..1024";
    if (cfg->self_delivery != 0 && cfg->self_delivery != 1)
        return "self_delivery: must be 0 or 1";
    if (cfg->state_transfer != 0 && cfg->state_transfer != 1)
        return "state_transfer: must be 0 or 1";
    if (cfg->state_transfer && !cfg->self_delivery)
        return "state_transfer: needs self_delivery";
    if (cfg->state_provider != 0 && cfg->state_provider != 1)
        return "state_provider: must be 0 or 1";
    if (cfg->parity_block == 1 || cfg->parity_block > CO_PARITY_K_MAX)
        return "parity_block: must be 0 (off) or 2..64";
    if (cfg->parity_extra > cfg->parity_block)
        return "parity_extra: must be 0..parity_block (and parity_block "
               "set)";
    if (!in_range(cfg->event_queue_len, 1, (uint64_t)1 << 20))
        return "event_queue_len: must be 1..1048576";
    if (!in_range(cfg->rpc_max_requests, 1, 65536))
        return "rpc_max_requests: must be 1..65536";
    if (!in_range(cfg->rpc_history_len, 16, (uint64_t)1 << 20))
        return "rpc_history_len: must be 16..1048576";
    if (!in_range(cfg->rpc_history_bytes, cfg->max_datagram, CO_GIB))
        return "rpc_history_bytes: must be max_datagram..1 GiB";
    if (cfg->tx_queue_len > 65536)
        return "tx_queue_len: must be at most 65536";
    size_t room = cfg->max_datagram - CO_HEADER_BYTES - CO_TRAILER_BYTES;
    if (heartbeat_need(cfg) > room)
        return "max_members: too large for max_datagram (a heartbeat must "
               "carry one entry per member)";
    return NULL;
}

static const char *check_identity(const co_core_config_t *cfg)
{
    if (cfg->member_id == 0 || cfg->incarnation == 0)
        return "member_id and incarnation must be nonzero";
    if (memchr(cfg->name, 0, sizeof cfg->name) == NULL)
        return "name: must be NUL-terminated";
    if (cfg->security > COHORT_SECURITY_ENCRYPT)
        return "security: no such mode";
    if (cfg->cipher != COHORT_CIPHER_XCHACHA20POLY1305 &&
        cfg->cipher != COHORT_CIPHER_AES256GCM &&
        cfg->cipher != COHORT_CIPHER_FASTEST)
        return "cipher: no such cipher";
    if (cfg->packet_seq_start > CO_PACKET_SEQ_START_MAX)
        return "packet_seq_start: must be 0..2^62";
    return NULL;
}

int co_core_config_check(const co_core_config_t *cfg, const char **why)
{
    *why = check_identity(cfg);
    if (*why == NULL)
        *why = check_timing(cfg);
    if (*why == NULL)
        *why = check_sizes(cfg);
    return *why == NULL ? 0 : COHORT_ERR_INVAL;
}

static void derive_limits(co_core_t *core)
{
    co_core_config_t *cfg = &core->cfg;
    if (cfg->tx_queue_len == 0) {
        size_t n = (4u << 20) / cfg->max_datagram;
        cfg->tx_queue_len = n < 64 ? 64 : n > 4096 ? 4096 : n;
    }
    core->body_room = cfg->max_datagram - CO_HEADER_BYTES -
                      co_crypto_overhead(&core->crypto);
    core->record_room = core->body_room - CO_DATA_TRAIL_BYTES -
                        CO_RECORD_HEADER_BYTES - CO_RECORD_TOTAL_BYTES;
    if (core->record_room > UINT16_MAX)
        core->record_room = UINT16_MAX;
    core->ack_bytes = cfg->send_window_bytes / 4;
    core->data_window = cfg->send_window_bytes;
    core->stats.send_window_share_bytes = core->data_window;
    core->ack_delay_ns = cfg->heartbeat_interval_ns / 8;
    core->leave_spacing_ns = cfg->heartbeat_interval_ns / 20;
    if (core->leave_spacing_ns > CO_LEAVE_SPACING_MAX_NS)
        core->leave_spacing_ns = CO_LEAVE_SPACING_MAX_NS;
    core->probe_delay_ns = cfg->nack_retry_ns / 4;
}

int co_core_new(co_core_t **out, const co_core_config_t *cfg, uint64_t now_ns)
{
    const char *why;
    *out = NULL;
    int rc = co_core_config_check(cfg, &why);
    if (rc != 0)
        return rc;
    const co_mem_t *mem = co_mem_or_libc(cfg->mem);
    co_core_t *core = co_calloc(mem, 1, sizeof *core);
    if (!core)
        return COHORT_ERR_NOMEM;
    core->cfg = *cfg;
    core->mem = mem;
    core->stats.struct_size = sizeof core->stats;
    co_rng_seed(&core->rng, cfg->seed);
    rc = co_crypto_init(&core->crypto, cfg->security, cfg->key, cfg->key_id);
    if (rc == 0 && cfg->aes_off)
        co_crypto_disable_aes(&core->crypto);
    if (rc == 0 && cfg->security != COHORT_SECURITY_NONE)
        rc = co_crypto_use_cipher(&core->crypto, cfg->cipher);
    /* The crypto state holds the key now; keep no second copy around. */
    co_crypto_wipe_bytes(core->cfg.key, sizeof core->cfg.key);
    if (rc != 0) {
        co_crypto_wipe(&core->crypto);
        co_free(mem, core);
        return rc;
    }
    derive_limits(core);
    co_parity_init(core);
    if (co_txbuf_init(&core->tx, cfg->send_window_bytes, mem) != 0 ||
        co_peers_init(&core->peers, cfg->max_members - 1, mem) != 0 ||
        co_output_init(core) != 0 ||
        co_evq_init(&core->evq, cfg->event_queue_len,
                    2 * cfg->max_members + 16 + CO_EVQ_VIEW_SLOTS,
                    cfg->recv_buffer_bytes, mem) != 0 ||
        !(core->flush_entries = co_calloc(mem, cfg->max_members,
                                          sizeof *core->flush_entries)) ||
        co_total_init(core) != 0 || co_state_init(core) != 0 ||
        co_rpc_init(core) != 0 ||
        co_membership_init(core, now_ns) != 0) {
        co_core_free(core);
        return COHORT_ERR_NOMEM;
    }
    core->peers.store_bytes = cfg->send_window_bytes;
    core->tx.self_hold = &core->total.self_hold;
    core->tx_sent = core->tx.next;
    core->bundle_out_below = core->tx_sent;
    /* packet_seq starts at a random point of a 2^62 range: even if a
     * restarted member reuses an (id, incarnation) pair, the nonces
     * (id, incarnation, packet_seq) of its two lives do not meet. The IO
     * edge draws the start from the system, whatever the seed. */
    core->packet_seq = cfg->packet_seq_start != 0
                           ? cfg->packet_seq_start - 1
                           : co_rng_below(&core->rng, CO_PACKET_SEQ_START_MAX);
    core->heartbeat_at_ns = now_ns; /* announce ourselves at once */
    *out = core;
    return 0;
}

void co_core_free(co_core_t *core)
{
    if (!core)
        return;
    co_crypto_wipe(&core->crypto);
    co_txbuf_free(&core->tx);
    co_peers_free(&core->peers);
    co_output_free(core);
    co_evq_free(&core->evq);
    co_membership_free(core);
    co_total_free(core);
    co_state_free(core);
    co_rpc_free(core);
    co_parity_free(core);
    co_free(core->mem, core->flush_entries);
    co_free(core->mem, core->pending.data);
    co_free(core->mem, core);
}

int co_core_successor(co_core_t *old, co_core_t **out, uint32_t incarnation,
                      uint64_t packet_seq_start, uint64_t now_ns)
{
    *out = NULL;
    if (!co_incarnation_newer(incarnation, old->cfg.incarnation) ||
        packet_seq_start > CO_PACKET_SEQ_START_MAX)
        return COHORT_ERR_INVAL;
    co_core_config_t cfg = old->cfg; /* its key was wiped: crypto below */
    cfg.incarnation = incarnation;
    cfg.packet_seq_start = packet_seq_start;
    cfg.seed = co_rng_next(&old->rng);
    /* A life that took the state takes the group's again: what it holds
     * is that of a view the others left it out of. */
    cfg.state_transfer = co_state_wanted_again(old);
    co_core_t *core;
    int rc = co_core_new(&core, &cfg, now_ns);
    if (rc != 0)
        return rc;
    co_crypto_wipe(&core->crypto);
    core->crypto = old->crypto; /* every key, rolled over ones too */
    core->stats = old->stats;
    core->stats.rejoins++;
    core->stats.send_window_share_bytes = core->data_window;
    co_rpc_hand_over(old, core);
    co_state_hand_over(old, core);
    *out = core;
    return 0;
}

/* Every entry point first lets go of what the previous call handed out. */
static void release_handed_out(co_core_t *core)
{
    co_txq_release(&core->txq);
    co_evq_release(&core->evq);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* Free what every member now holds. Cheap enough to run whenever the
 * window looks full: with no other member, nothing else would free it. */
static void release_stable_before(co_core_t *core, uint64_t seq)
{
    uint64_t stable = co_peers_stable_through(&core->peers, core->tx_sent);
    if (stable >= seq)
        stable = seq - 1;
    /* With parity on, a block leaves whole (parity.h: a NACK for one of
     * its records is answered from all of them), unless all that went
     * out is stable; the trail follows, so receivers' stores keep the
     * blocks whole too. */
    size_t k = core->cfg.parity_block;
    if (k >= 2 && stable + 1 < core->tx_sent)
        stable = stable / k * k;
    if (stable >= core->tx.low)
        co_txbuf_release(&core->tx, stable);
}

static void release_stable(co_core_t *core)
{
    release_stable_before(core, core->tx.next);
}

/* Room for an application record of len bytes in its part of the window
 * (ORDER records may use the whole: co_core_push_order). */
static bool data_fits(const co_core_t *core, size_t len)
{
    return co_txbuf_fits(&core->tx, len) &&
           core->tx.bytes + len + CO_TXREC_OVERHEAD <= core->data_window;
}

/* Copy p's message, from p->off, into the window as records while it has
 * room and the queue could take their datagrams (one each, and two kept
 * spare). Returns false when some are left: no room, or out of memory. */
static bool records_push(co_core_t *core, co_pending_t *p)
{
    size_t room = co_txq_room(&core->txq), pushed = 0;
    uint64_t first = core->tx.next;
    while (p->off < p->len || (p->len == 0 && p->off == 0)) {
        if (room <= pushed + 2)
            return false;
        size_t chunk = p->len - p->off;
        if (chunk > core->record_room)
            chunk = core->record_room;
        /* Never what this call pushed: it is not out yet. */
        if (!data_fits(core, chunk))
            release_stable_before(core, first);
        if (!data_fits(core, chunk))
            return false;
        uint8_t flags = (p->off == 0 ? CO_REC_FIRST : 0) |
                        (p->off + chunk == p->len ? CO_REC_LAST : 0);
        uint32_t total = (flags == CO_REC_FIRST) ? (uint32_t)p->len : 0;
        flags |= p->cls;
        uint64_t seq = co_txbuf_push(&core->tx, p->data + p->off,
                                     (uint16_t)chunk, flags, total);
        if (seq == 0)
            return false;
        pushed++;
        p->off += chunk;
        if (p->len == 0)
            break; /* the one empty record of an empty message */
    }
    return true;
}

/* Bundle every record pushed and not yet out, in the current view, and
 * deliver this member's own messages as their LAST record goes, from the
 * copy taken when it was sent (the message held back for room, pending,
 * is delivered from its own copy when done). While a view change is in progress nothing goes out: the
 * records wait in the window for the next view (vsync.c). Nothing here
 * allocates, so what was pushed always goes out. */
static void records_emit(co_core_t *core, uint64_t now_ns)
{
    if (co_vs_holding(core))
        return;
    uint64_t view = co_membership_view_id(core);
    for (; core->tx_sent < core->tx.next; core->tx_sent++) {
        uint64_t seq = core->tx_sent;
        co_txrec_t *t = co_txbuf_get(&core->tx, seq);
        t->view_id = view;
        co_record_t r = {.type = CO_REC_FIFO, .flags = t->flags,
                         .len = t->len, .seq = seq,
                         .total_len = t->total_len, .payload = t->data};
        co_bundle_add(core, &r, now_ns);
        /* A whole message, or an ORDER record, is out: its place in this
         * member's own stream is known (self-delivery from the copy taken
         * at send time, which cannot fail now; the total order). */
        uint8_t cls = co_record_class(t->flags) |
                      (t->flags & (CO_REC_CONTROL | CO_REC_REQUEST));
        if (cls == CO_CLASS_ORDER) {
            co_total_own(core, seq, cls, t->data, t->len, NULL);
        } else if (t->flags & CO_REC_LAST) {
            co_total_own(core, seq, cls, t->self_copy, t->self_len,
                         t->self_reserved);
            t->self_copy = NULL;
            t->self_reserved = false;
        }
    }
    core->held_messages = 0;
    co_parity_proactive(core, now_ns);
}

/* Let the message held back for room move on (not during a view change:
 * its records would only wait). Done, it is delivered here too. */
static void pending_progress(co_core_t *core, uint64_t now_ns)
{
    co_pending_t *p = &core->pending;
    if (!p->data || co_vs_holding(core))
        return;
    /* A message is sent in one view: one begun in an earlier view starts
     * over, whole, in this one (the receivers drop the part they got of
     * it when they install this view, vsync.c). */
    uint64_t view = co_membership_view_id(core);
    if (p->off > 0 && p->view_id != view)
        p->off = 0;
    if (p->off == 0)
        p->view_id = view;
    if (!records_push(core, p)) {
        records_emit(core, now_ns);
        return;
    }
    /* All pushed: the copy is the message's own delivery, from its LAST
     * record as it goes out. */
    co_txrec_t *last = co_txbuf_get(&core->tx, core->tx.next - 1);
    if (core->cfg.self_delivery) {
        last->self_copy = p->data;
        last->self_len = p->len;
        last->self_reserved = p->reserved;
    } else {
        co_free(core->mem, p->data);
        if (p->reserved)
            co_hold_unreserve(&core->total.self_hold);
    }
    memset(p, 0, sizeof *p);
    records_emit(core, now_ns);
}

void co_core_release_held(co_core_t *core, uint64_t now_ns)
{
    records_emit(core, now_ns);
    pending_progress(core, now_ns);
}

/* With self-delivery, a message is taken only when the event queue has
 * room for it beside the messages held for the next view, so that its
 * own delivery is never the one dropped. */
static bool self_room(const co_core_t *core, size_t len)
{
    if (!core->cfg.self_delivery)
        return true;
    const co_evq_t *q = &core->evq;
    return q->count + core->held_messages < q->data_limit &&
           co_evq_has_room(q, len);
}

static size_t fragments_of(const co_core_t *core, size_t len)
{
    return len == 0 ? 1 : (len + core->record_room - 1) / core->record_room;
}

static int send_fifo(co_core_t *core, uint64_t now_ns, uint8_t cls,
                     const void *data, size_t len)
{
    static const uint8_t empty[1];
    pending_progress(core, now_ns);
    if (core->pending.data || !self_room(core, len) ||
        (co_class_ordered(cls) && !co_total_own_room(core, len)))
        return COHORT_ERR_AGAIN;
    size_t frags = fragments_of(core, len);
    size_t need = len + frags * CO_TXREC_OVERHEAD;
    if (core->tx.bytes + need > core->data_window)
        release_stable(core);
    bool fits = core->tx.bytes + need <= core->data_window &&
                co_txq_room(&core->txq) > frags + 2;
    /* A single record waits for room; a fragmented message is taken now
     * (copied, at most one at a time) and fed out as room appears, so a
     * message may be larger than the window. */
    if (!fits && frags == 1)
        return COHORT_ERR_AGAIN;
    /* The place in the hold its own delivery will wait in, if it will:
     * reserved now, so that delivery cannot fail when the message goes
     * out. */
    co_hold_t *self_hold = &core->total.self_hold;
    bool reserved = co_total_own_holds(core, cls);
    if (reserved && !co_hold_reserve(self_hold, core->mem))
        return COHORT_ERR_NOMEM;
    if (fits) { /* the common case: records straight from the caller */
        co_pending_t direct = {.data = len ? (uint8_t *)(uintptr_t)data
                                           : (uint8_t *)(uintptr_t)empty,
                               .len = len, .cls = cls};
        /* All or nothing: out of memory part-way, take back what was
         * pushed, so no sequence number is used and nothing is sent. */
        uint64_t first = core->tx.next;
        uint8_t *self = NULL;
        if (core->cfg.self_delivery &&
            !(self = co_malloc(core->mem, len ? len : 1))) {
            if (reserved)
                co_hold_unreserve(self_hold);
            return COHORT_ERR_NOMEM;
        }
        if (!records_push(core, &direct)) {
            co_txbuf_unpush(&core->tx, first);
            co_free(core->mem, self);
            if (reserved)
                co_hold_unreserve(self_hold);
            return COHORT_ERR_NOMEM;
        }
        if (self) {
            if (len)
                memcpy(self, data, len);
            co_txrec_t *last = co_txbuf_get(&core->tx, core->tx.next - 1);
            last->self_copy = self;
            last->self_len = len;
            last->self_reserved = reserved; /* reserved: self-delivery */
        }
        if (co_vs_holding(core))
            core->held_messages++;
        records_emit(core, now_ns);
        return 0;
    }
    uint8_t *copy = co_malloc(core->mem, len);
    if (!copy) {
        if (reserved)
            co_hold_unreserve(self_hold);
        return COHORT_ERR_NOMEM;
    }
    memcpy(copy, data, len);
    core->pending = (co_pending_t){.data = copy, .len = len, .off = 0,
                                   .cls = cls, .reserved = reserved};
    pending_progress(core, now_ns);
    return 0;
}

static int send_unreliable(co_core_t *core, uint64_t now_ns,
                           const void *data, size_t len)
{
    if (len > core->record_room)
        return COHORT_ERR_TOOBIG;
    if (co_txq_room(&core->txq) < 2)
        return COHORT_ERR_AGAIN;
    co_record_t r = {.type = CO_REC_UNRELIABLE,
                     .flags = CO_REC_FIRST | CO_REC_LAST,
                     .len = (uint16_t)len, .seq = ++core->unreliable_seq,
                     .payload = data};
    co_bundle_add(core, &r, now_ns);
    return 0;
}

int co_core_send(co_core_t *core, uint64_t now_ns, cohort_mode_t mode,
                 const void *data, size_t len)
{
    release_handed_out(core);
    if (core->left)
        return COHORT_ERR_CLOSED;
    if ((!data && len > 0) || (unsigned)mode > COHORT_SAFE)
        return COHORT_ERR_INVAL;
    if (len > core->cfg.max_message)
        return COHORT_ERR_TOOBIG;
    static const uint8_t class_of[] = {
        [COHORT_FIFO] = CO_CLASS_FIFO,
        [COHORT_TOTAL] = CO_CLASS_TOTAL,
        [COHORT_SAFE] = CO_CLASS_SAFE,
    };
    int rc = mode == COHORT_UNRELIABLE
                 ? send_unreliable(core, now_ns, data, len)
                 : send_fifo(core, now_ns, class_of[mode], data, len);
    if (rc == 0 && mode == COHORT_SAFE)
        core->stats.messages_sent_safe++;
    else if (rc == 0)
        core->stats.messages_sent[mode]++;
    else if (rc == COHORT_ERR_AGAIN)
        core->stats.send_would_block++;
    if (rc == 0 && mode != COHORT_UNRELIABLE)
        co_total_run(core, now_ns);
    return rc;
}

int co_core_send_control(co_core_t *core, uint64_t now_ns,
                         const uint8_t *data, size_t len)
{
    if (core->left)
        return COHORT_ERR_CLOSED;
    if (co_vs_holding(core))
        return COHORT_ERR_AGAIN; /* its place is in the view it asks in */
    return send_fifo(core, now_ns, CO_CLASS_TOTAL | CO_REC_CONTROL, data,
                     len);
}

int co_core_send_request(co_core_t *core, uint64_t now_ns,
                         cohort_mode_t mode, const void *data, size_t len)
{
    static const uint8_t class_of[] = {
        [COHORT_FIFO] = CO_CLASS_FIFO,
        [COHORT_TOTAL] = CO_CLASS_TOTAL,
        [COHORT_SAFE] = CO_CLASS_SAFE,
    };
    COHORT_ASSERT(mode >= COHORT_FIFO && mode <= COHORT_SAFE);
    return send_fifo(core, now_ns, class_of[mode] | CO_REC_REQUEST, data,
                     len);
}

int co_core_request(co_core_t *core, uint64_t now_ns, uint32_t to,
                    cohort_mode_t mode, cohort_want_t want, const void *data,
                    size_t len, uint64_t timeout_ns, co_rpc_sink_t *sink)
{
    release_handed_out(core);
    int rc = co_rpc_request(core, now_ns, to, mode, want, data, len,
                            timeout_ns, sink);
    if (rc == COHORT_ERR_AGAIN) /* counted as the caller sees it */
        core->stats.send_would_block++;
    if (rc > 0 && to == COHORT_TO_GROUP) {
        /* A request waits for its answers: it does not wait to share a
         * datagram with what may come after it. */
        co_core_flush(core, now_ns);
    }
    if (rc > 0)
        co_total_run(core, now_ns);
    return rc;
}

int co_core_reply(co_core_t *core, uint64_t now_ns, cohort_member_t requester,
                  uint32_t request, const void *data, size_t len)
{
    release_handed_out(core);
    return co_rpc_reply(core, now_ns, requester, request, data, len);
}

void co_core_unsink(co_core_t *core, uint32_t request)
{
    co_rpc_unsink(core, request);
}

int co_core_state_request(co_core_t *core, uint64_t now_ns)
{
    release_handed_out(core);
    int rc = co_state_request(core, now_ns);
    co_total_run(core, now_ns);
    return rc;
}

int co_core_state_send(co_core_t *core, uint64_t now_ns, uint32_t transfer,
                       const uint8_t *data, size_t len)
{
    release_handed_out(core);
    return co_state_send(core, now_ns, transfer, data, len);
}

int co_core_state_end(co_core_t *core, uint64_t now_ns, uint32_t transfer)
{
    release_handed_out(core);
    return co_state_end(core, now_ns, transfer);
}

int co_core_push_order(co_core_t *core, uint64_t now_ns, const uint8_t *data,
                       size_t len)
{
    if (len > core->record_room || co_vs_holding(core))
        return COHORT_ERR_AGAIN;
    if (!co_txbuf_fits(&core->tx, len))
        release_stable(core);
    if (!co_txbuf_fits(&core->tx, len) || co_txq_room(&core->txq) < 3)
        return COHORT_ERR_AGAIN;
    /* Between the fragments of a message being fed out, if need be:
     * receivers take ORDER records apart from reassembly. */
    uint64_t seq = co_txbuf_push(&core->tx, data, (uint16_t)len,
                                 CO_REC_FIRST | CO_REC_LAST | CO_CLASS_ORDER,
                                 0);
    if (seq == 0)
        return COHORT_ERR_AGAIN;
    records_emit(core, now_ns);
    return 0;
}

int co_core_add_key(co_core_t *core, const uint8_t key[COHORT_KEY_BYTES],
                    uint8_t key_id, bool use_for_send)
{
    release_handed_out(core);
    if (core->crypto.mode == COHORT_SECURITY_NONE)
        return COHORT_ERR_STATE;
    return co_crypto_add_key(&core->crypto, key, key_id, use_for_send);
}

void co_core_flush_bundle(co_core_t *core, uint64_t now_ns)
{
    co_builder_finish(core, &core->bundle, now_ns);
    core->bundle_deadline_ns = 0;
    co_parity_proactive(core, now_ns);
}

void co_core_flush(co_core_t *core, uint64_t now_ns)
{
    release_handed_out(core);
    co_core_flush_bundle(core, now_ns);
}

void co_core_leave(co_core_t *core, uint64_t now_ns)
{
    release_handed_out(core);
    if (core->left)
        return;
    co_builder_finish(core, &core->bundle, now_ns);
    co_rpc_closed(core, now_ns); /* owed acknowledgements go first */
    co_send_leave(core, now_ns);
    co_membership_leave(core, now_ns);
    core->left = true;
    core->leave_copies_left = CO_LEAVE_COPIES - 1;
    core->leave_at_ns = now_ns + core->leave_spacing_ns;
}

bool co_core_leaving(const co_core_t *core)
{
    return core->leave_copies_left > 0;
}

/* The next copy of LEAVE, if one is due. */
static void leave_repeat(co_core_t *core, uint64_t now_ns)
{
    if (core->leave_copies_left == 0 || now_ns < core->leave_at_ns)
        return;
    co_send_leave(core, now_ns);
    core->leave_copies_left--;
    core->leave_at_ns =
        core->leave_copies_left ? now_ns + core->leave_spacing_ns : 0;
}

bool co_core_drained(const co_core_t *core)
{
    /* Stable, not yet released, counts: a member alone has nothing owed. */
    return core->pending.data == NULL && !core->bundle.open &&
           core->tx_sent == core->tx.next &&
           co_peers_stable_through(&core->peers, core->tx_sent) ==
               core->tx_sent - 1;
}

/* ------------------------------------------------------------------ */
/* Members                                                             */
/* ------------------------------------------------------------------ */

/* Free what every member now holds and let a pending message, or a
 * record waiting for room in a store, move on. */
static void stability_advance(co_core_t *core, uint64_t now_ns)
{
    release_stable(core);
    pending_progress(core, now_ns);
    co_deliver_store_waiting(core, now_ns);
}

static void member_left(co_core_t *core, co_peer_t *peer, int reason,
                        uint64_t now_ns)
{
    if (!peer->said_leave) { /* else reported when its LEAVE came */
        co_event_member(core, peer, COHORT_EVENT_MEMBER_LEFT, reason);
        core->stats.members_left++;
    }
    co_reasm_reset(&peer->reasm); /* its partial message goes with it */
    co_evq_reserve_follow(core, peer);
    co_peers_forget(&core->peers, peer,
                    reason == COHORT_LEFT_GRACEFULLY || peer->said_leave);
    stability_advance(core, now_ns);
}

/* A member that said LEAVE while in the view, once out of it: forgotten
 * for good (its LEAVE was reported when it came). */
static void forget_left(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    co_reasm_reset(&peer->reasm);
    co_evq_reserve_follow(core, peer);
    co_peers_forget(&core->peers, peer, true);
    stability_advance(core, now_ns);
}

/* A stability report of peer's, in a datagram that names view_id. What it
 * says of our records counts only when it names our view: a member that
 * is not yet in it (or reports from another view) reports where its
 * window stands, which may be past records it never delivered and that
 * it will need once our view takes it in. */
static void note_stability(co_core_t *core, co_peer_t *peer,
                           const uint8_t *entries, size_t count,
                           uint64_t view_id)
{
    if (view_id == 0 || view_id != co_membership_view_id(core))
        return;
    /* Every entry, for group-wide stability (SAFE delivery, total.c):
     * only from a datagram of this view, or a member that moved on to
     * another would seem to hold records of this one that its stream
     * skipped when it installed that view. */
    co_peers_note_vector(&core->peers, peer, entries, count);
    for (size_t i = 0; i < count; i++) {
        co_ack_entry_t e = co_ack_entry_at(entries, i);
        if (e.member_id != core->cfg.member_id ||
            e.incarnation != core->cfg.incarnation)
            continue;
        /* Never believe a report of records we have not sent. */
        uint64_t seq = e.delivered_seq < core->tx_sent ? e.delivered_seq
                                                       : core->tx_sent - 1;
        if (!peer->reports_us || seq > peer->delivered_ours)
            peer->delivered_ours = seq;
        peer->reports_us = true;
    }
}

/* Start or move a sender's window to where it now retransmits from
 * (its trail, in a datagram that names view_id). Below its trail every
 * member of the sender's view has its records. For a sender of this
 * member's view, that says something only when the datagram names this
 * view too: a sender that moved on to a view without this member counts
 * only that view's members, and what it released may be exactly what a
 * flush here must still fetch from a holder (so neither the window nor
 * the store may follow it). Any other sender's records were never ours:
 * its window follows its trail silently. Nor does the trail of a repair
 * datagram (repair): it names its records' view, which may be older than
 * the one its sender's stability now counts over. */
static void follow_trail(co_core_t *core, co_peer_t *peer, uint64_t trail,
                         uint64_t view_id, bool repair)
{
    /* A window starts at the first trail heard, whatever it says: a
     * record can only be taken into a started window. */
    if (!co_rxwin_synced(&peer->rx)) {
        co_rxwin_sync(&peer->rx, trail);
        return;
    }
    if (repair || (peer->in_view && view_id != co_membership_view_id(core)))
        return;
    co_store_release_through(&peer->store, trail - 1);
    if (peer->rx.next >= trail)
        return;
    co_vs_restart_stream(core, peer, trail, peer->in_view);
}

/* A gap is asked for after a random delay in [0, nack_delay] (it spreads
 * receivers' NACKs and lets reordered records arrive), then again every
 * retry interval while it lasts (send_nacks). A gap that opens while a
 * retry is pending is asked for just as soon, not at the retry: under
 * steady loss every lost record would otherwise wait out the retry and
 * the oldest would pin the sender's window. */
static void schedule_nack(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    bool grew = peer->gap_grew;
    peer->gap_grew = false;
    co_rtt_passed(&peer->rtt, peer->rx.next);
    if (!co_rxwin_has_gap(&peer->rx) || peer->size_apart) {
        peer->nack_at_ns = 0;
        peer->retry_at_ns = 0;
        peer->nack_asked = 0;
        return;
    }
    if (peer->nack_at_ns != 0 && !grew)
        return;
    uint64_t at = now_ns + co_rng_below(&core->rng, core->cfg.nack_delay_ns + 1);
    if (peer->nack_at_ns == 0 || at < peer->nack_at_ns)
        peer->nack_at_ns = at;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

typedef union co_body {
    co_heartbeat_t hb;
    co_ack_t ack;
    co_nack_t nack;
    uint64_t trail;
    co_parity_t parity;
    co_forward_t fwd;
    co_xfer_t xfer;
    co_mbody_t m;
} co_body_t;

/* Check the whole body before any state changes, so a malformed tail
 * cannot half-apply a datagram. */
static int decode_body(const co_header_t *h, const uint8_t *body,
                       co_body_t *out)
{
    switch (h->type) {
    case CO_TYPE_DATA: {
        int rc = co_data_trail(body, h->body_len, &out->trail);
        size_t off = CO_DATA_TRAIL_BYTES;
        co_record_t r;
        while (rc == 0 && (rc = co_record_next(body, h->body_len, &off, &r)) == 1)
            rc = 0;
        return rc;
    }
    case CO_TYPE_HEARTBEAT:
        return co_heartbeat_decode(body, h->body_len, &out->hb);
    case CO_TYPE_ACK:
        return co_ack_decode(body, h->body_len, &out->ack);
    case CO_TYPE_NACK:
        return co_nack_decode(body, h->body_len, &out->nack);
    case CO_TYPE_LEAVE:
        return h->body_len == 0 ? 0 : CO_DROP(COHORT_DROP_BAD_FIELD);
    case CO_TYPE_FORWARD:
        return co_forward_decode(body, h->body_len, &out->fwd);
    case CO_TYPE_PARITY:
        return co_parity_decode(body, h->body_len, &out->parity);
    case CO_TYPE_XFER:
        return co_xfer_decode(body, h->body_len, &out->xfer);
    case CO_TYPE_RPC: {
        co_rpcw_t w;
        return co_rpcw_decode(body, h->body_len, &w);
    }
    default:
        return co_membership_decode(h, body, &out->m);
    }
}

/* A sender holds at most its send window: no more than this many records
 * lie between its trail (fifo_low) and fifo_next. The group shares one
 * configuration and recv_buffer_bytes >= send_window_bytes, so a claim
 * beyond our own receive buffer is forged or broken, not late. */
static bool heartbeat_plausible(const co_core_t *core,
                                const co_heartbeat_t *hb)
{
    uint64_t max_records = core->cfg.recv_buffer_bytes / CO_TXREC_OVERHEAD;
    return hb->fifo_next < hb->fifo_low ||
           hb->fifo_next - hb->fifo_low <= max_records;
}

/* An unreliable record is taken at most once; out of memory it is lost
 * as the network might lose it, and not marked seen. */
static void on_unreliable(co_core_t *core, co_peer_t *peer,
                          const co_record_t *r)
{
    if (co_replay_check(&peer->unreliable, r->seq) != 0) {
        co_count_drop(core, COHORT_DROP_DUPLICATE);
        return;
    }
    if (!co_vs_unreliable_ok(core, peer, r->view_id)) {
        co_replay_commit(&peer->unreliable, r->seq);
        core->stats.records_not_in_view++;
        return;
    }
    if (!co_evq_has_room(&core->evq, r->len)) {
        co_replay_commit(&peer->unreliable, r->seq);
        co_count_drop(core, COHORT_DROP_QUEUE_FULL);
        return;
    }
    uint8_t *copy = co_malloc(core->mem, r->len ? r->len : 1);
    if (!copy)
        return;
    co_replay_commit(&peer->unreliable, r->seq);
    if (r->len)
        memcpy(copy, r->payload, r->len);
    co_event_message(core, peer, COHORT_UNRELIABLE, copy, r->len);
}

/* One FIFO record of peer's, from DATA or FORWARD. A record names the
 * view it was sent in, and no FIFO record is sent before a first view:
 * one that names none is malformed. */
static void take_fifo(co_core_t *core, co_peer_t *peer, const co_record_t *r,
                      uint64_t now_ns)
{
    if (r->view_id == 0) {
        co_count_drop(core, COHORT_DROP_BAD_FIELD);
        return;
    }
    if (!co_rxwin_synced(&peer->rx)) { /* no start yet (DATA always has) */
        co_count_drop(core, COHORT_DROP_NO_BUFFER);
        return;
    }
    co_rtt_arrived(&peer->rtt, r->seq, r->flags & CO_REC_RETRANSMIT, now_ns,
                   core->cfg.nack_retry_ns);
    if (co_deliver_in_order(core, peer, r, now_ns))
        return;
    if (r->seq > peer->rx.highest + 1)
        peer->gap_grew = true;
    switch (co_rxwin_insert(&peer->rx, r)) {
    case CO_RXWIN_DUPLICATE:
        co_count_drop(core, COHORT_DROP_DUPLICATE);
        break;
    case CO_RXWIN_NO_ROOM:
        co_count_drop(core, COHORT_DROP_NO_BUFFER);
        break;
    default:
        break;
    }
}

/* The records of a DATA body, each in the view its header names. */
static void on_data(co_core_t *core, co_peer_t *peer, const co_header_t *h,
                    const uint8_t *body, uint64_t trail, uint64_t now_ns)
{
    size_t off = CO_DATA_TRAIL_BYTES;
    co_record_t r;
    /* A repair datagram names the view of its records, which may be an
     * earlier view than its sender's: its trail (the sender's stability
     * now, counted over its current view) says nothing about that view.
     * Fresh data and heartbeats carry the trail that counts. */
    bool repair = co_record_next(body, h->body_len, &off, &r) == 1 &&
                  (r.flags & CO_REC_RETRANSMIT);
    off = CO_DATA_TRAIL_BYTES;
    follow_trail(core, peer, trail, h->view_id, repair);
    while (co_record_next(body, h->body_len, &off, &r) == 1) {
        r.view_id = h->view_id;
        /* What the member sends, for the window's share (not repairs,
         * nor the sequencer's ORDER records). */
        if (!repair && !(r.type != CO_REC_UNRELIABLE &&
                         co_record_class(r.flags) == CO_CLASS_ORDER))
            peer->share_bytes += r.len;
        if (r.type == CO_REC_UNRELIABLE)
            on_unreliable(core, peer, &r);
        else
            take_fifo(core, peer, &r, now_ns);
    }
    co_deliver_ready(core, peer, now_ns);
    schedule_nack(core, peer, now_ns);
}

/* A parity symbol of peer's: the records it rebuilds (parity.c) are
 * taken as retransmissions. */
static void take_rebuilt(co_core_t *core, co_peer_t *peer, size_t n,
                         uint64_t now_ns)
{
    for (size_t i = 0; i < n; i++) {
        co_record_t r = core->parity.recovered[i];
        r.flags |= CO_REC_RETRANSMIT;
        take_fifo(core, peer, &r, now_ns);
    }
}

static void on_parity(co_core_t *core, co_peer_t *peer, const co_header_t *h,
                      const co_parity_t *p, uint64_t now_ns)
{
    take_rebuilt(core, peer, co_parity_recv(core, peer, p, h->view_id),
                 now_ns);
    co_deliver_ready(core, peer, now_ns);
    schedule_nack(core, peer, now_ns);
}

/* Another member's records, forwarded by a holder during a flush: taken
 * as if their origin had sent them, for an origin this member still
 * tracks in that life (its window is where they go). */
static void on_forward(co_core_t *core, const co_header_t *h,
                       const uint8_t *body, const co_forward_t *f,
                       uint64_t now_ns)
{
    co_peer_t *origin = co_peers_find(&core->peers, f->origin_id);
    if (!origin || origin->incarnation != f->origin_incarnation ||
        f->origin_id == h->sender_id || !co_rxwin_synced(&origin->rx)) {
        co_count_drop(core, COHORT_DROP_UNKNOWN_MEMBER);
        return;
    }
    size_t off = CO_FORWARD_FIXED_BYTES;
    co_record_t r;
    while (co_forward_record_next(body, h->body_len, &off, &r) == 1) {
        r.view_id = h->view_id;
        take_fifo(core, origin, &r, now_ns);
    }
    co_deliver_ready(core, origin, now_ns);
    schedule_nack(core, origin, now_ns);
}

static void on_heartbeat(co_core_t *core, co_peer_t *peer,
                         const co_heartbeat_t *hb, uint64_t view_id,
                         uint64_t now_ns)
{
    memcpy(peer->name, hb->name, sizeof peer->name);
    if (hb->fifo_low >= 1 && hb->fifo_low <= hb->fifo_next) {
        follow_trail(core, peer, hb->fifo_low, view_id, false);
        if (hb->fifo_next - 1 > co_rxwin_top(&peer->rx))
            peer->gap_grew = true; /* the tail went missing */
        co_rxwin_claim(&peer->rx, hb->fifo_next - 1);
    }
    note_stability(core, peer, hb->entries, hb->count, view_id);
    stability_advance(core, now_ns);
    co_deliver_ready(core, peer, now_ns);
    schedule_nack(core, peer, now_ns);
}

/* Find the sender's entry, replacing an older incarnation; NULL drops the
 * datagram (counted), or, with *wait set, leaves it for later (a new
 * life of a member whose old life is still in the view). datagram: the
 * size a heartbeat names, else 0. */
static co_peer_t *sender_of(co_core_t *core, const co_header_t *h,
                            size_t datagram, uint64_t now_ns, bool *wait)
{
    co_peer_t *peer = co_peers_find(&core->peers, h->sender_id);
    if (peer && co_incarnation_newer(peer->incarnation, h->incarnation)) {
        co_count_drop(core, COHORT_DROP_STALE);
        return NULL;
    }
    if (peer && co_incarnation_newer(h->incarnation, peer->incarnation)) {
        if (peer->in_view) {
            /* The old life is still in the view: its state stays until
             * the view that drops it is installed, since its last
             * messages may still have to be completed. Membership hears
             * the new life (and so replaces the old); its datagrams are
             * taken from the install on. */
            if (!core->left)
                co_membership_heard(core, h, datagram, now_ns);
            *wait = true;
            return NULL;
        }
        member_left(core, peer, COHORT_LEFT_RESTARTED, now_ns);
        peer = NULL;
    }
    const co_replay_t *window = peer ? &peer->packets : NULL;
    co_tomb_t *tomb = peer ? NULL : co_peers_tomb(&core->peers, h->sender_id);
    if (tomb && co_incarnation_newer(tomb->incarnation, h->incarnation)) {
        co_count_drop(core, COHORT_DROP_STALE);
        return NULL;
    }
    if (tomb && h->incarnation == tomb->incarnation) {
        /* Only a datagram it sent after we forgot it may bring it back:
         * a replay of an older one (even one we never saw, such as a
         * unicast to another member) must not revive it, nor anything
         * once it said LEAVE. */
        if (tomb->left && h->type == CO_TYPE_LEAVE)
            return NULL; /* a repeat of the LEAVE already taken */
        if (tomb->left || h->packet_seq <= co_replay_top(&tomb->packets)) {
            co_count_drop(core, h->flags & CO_FLAG_SECURED
                                    ? COHORT_DROP_REPLAY
                                    : COHORT_DROP_STALE);
            return NULL;
        }
        window = &tomb->packets;
    }
    if (window && co_replay_check(window, h->packet_seq) != 0) {
        co_count_drop(core, h->flags & CO_FLAG_SECURED ? COHORT_DROP_REPLAY
                                                       : COHORT_DROP_DUPLICATE);
        return NULL;
    }
    return peer;
}

static co_peer_t *admit_sender(co_core_t *core, const co_header_t *h,
                               const co_body_t *b, const co_addr_t *from,
                               uint64_t now_ns)
{
    co_peer_t *peer = co_peers_add(&core->peers, h->sender_id, h->incarnation,
                                   core->cfg.recv_buffer_bytes);
    if (!peer) {
        co_count_drop(core, COHORT_DROP_UNKNOWN_MEMBER);
        return NULL;
    }
    peer->needs_from = core->tx.next;
    peer->addr = *from;
    co_tomb_t *tomb = co_peers_tomb(&core->peers, h->sender_id);
    /* So the join event has a name: the heartbeat's or the PATH's (sent
     * together: one lost, the other may be the first to arrive), else the
     * one remembered of this member (this life's, or its previous
     * life's). */
    if (h->type == CO_TYPE_HEARTBEAT)
        memcpy(peer->name, b->hb.name, sizeof peer->name);
    else if (h->type == CO_TYPE_PATH)
        memcpy(peer->name, b->m.path.name, sizeof peer->name);
    else if (tomb)
        memcpy(peer->name, tomb->name, sizeof peer->name);
    if (tomb && tomb->incarnation == h->incarnation)
        co_peers_revive(&core->peers, peer, tomb); /* back after a cut */
    else if (tomb)
        memset(tomb, 0, sizeof *tomb);            /* a newer life */
    core->stats.members_joined++;
    co_event_member(core, peer, COHORT_EVENT_MEMBER_JOINED, 0);
    co_vs_admitted(core, peer);
    return peer;
}

/* Tell the application, at most once a heartbeat interval, that traffic
 * with another key or mode is arriving: such members never form a group
 * with this one, and silence would hide why. */
static void warn_security(co_core_t *core, int reason, uint8_t flags,
                          uint64_t now_ns)
{
    bool aes = reason == COHORT_DROP_SECURITY_MODE &&
               (flags & CO_FLAG_AES256GCM) && !core->crypto.aes_ok;
    if (aes) {
        /* A member whose cipher is FASTEST seals so until it hears this
         * one (whose datagrams say CO_FLAG_NOAES): a heartbeat interval
         * of them is expected when this member comes. Only a stream that
         * goes on for a member timeout is another member's setting. */
        if (!core->aes_drop_at_ns ||
            now_ns > core->aes_drop_at_ns + core->cfg.member_timeout_ns)
            core->aes_drops_since_ns = now_ns;
        core->aes_drop_at_ns = now_ns;
        if (now_ns < core->aes_drops_since_ns + core->cfg.member_timeout_ns)
            return;
    }
    if (core->warned_at_ns &&
        now_ns < core->warned_at_ns + core->cfg.member_timeout_ns)
        return;
    core->warned_at_ns = now_ns;
    static const cohort_member_t nobody = {0, 0};
    if (aes)
        co_event_warning(core, COHORT_ERR_SECURITY_MODE,
                         "datagrams sealed with AES-256-GCM, which this "
                         "member cannot open, are dropped (cipher "
                         "AES256GCM, not FASTEST?)", nobody, 0);
    else if (reason == COHORT_DROP_SECURITY_MODE)
        co_event_warning(core, COHORT_ERR_SECURITY_MODE,
                         "datagrams from a member using another security "
                         "mode are dropped", nobody, 0);
    else if (reason == COHORT_DROP_KEY_UNKNOWN)
        co_event_warning(core, COHORT_ERR_KEY_UNKNOWN,
                         "datagrams sealed with a key id this member does "
                         "not hold are dropped", nobody, 0);
    else
        co_event_warning(core, COHORT_ERR_AUTH,
                         "datagrams failing authentication are dropped "
                         "(another key, or forged)", nobody, 0);
}

/* A member that cannot open AES-256-GCM, heard by one set to seal with
 * nothing else: it hears nothing of this one, which is to it as if cut
 * off one way. Told once a life of it. */
static void warn_deaf(co_core_t *core, const co_peer_t *peer)
{
    char text[200]; /* the event keeps 119 bytes: the name comes last */
    snprintf(text, sizeof text,
             "member %" PRIu32 " cannot open AES-256-GCM, which this one "
             "seals with: it hears none of it (cipher FASTEST?) (%s)",
             peer->id, peer->name[0] != '\0' ? peer->name : "?");
    co_event_warning(core, COHORT_ERR_SECURITY_MODE, text,
                     (cohort_member_t){peer->id, peer->incarnation}, 0);
}

static int recv_one(co_core_t *core, uint64_t now_ns, const co_addr_t *from,
                    const uint8_t *data, size_t len)
{
    co_header_t h;
    /* No UDP datagram is longer; a header could claim up to 65 587 bytes,
     * which the decryption buffer must never be asked to hold. */
    int rc = len > CO_MAX_DATAGRAM ? CO_DROP(COHORT_DROP_BAD_FIELD)
                                   : co_header_decode(data, len, &h);
    if (rc == 0 && h.group_id != core->cfg.group_id)
        rc = CO_DROP(COHORT_DROP_OTHER_GROUP);
    if (rc == 0 && h.sender_id == core->cfg.member_id)
        rc = CO_DROP(COHORT_DROP_SELF);
    if (rc != 0) {
        co_count_drop(core, co_drop_of(rc));
        return 0;
    }
    /* Only decryption writes (in place), and the caller's buffer is const:
     * decrypt a private copy, verify anything else where it lies. */
    uint8_t *dgram = (uint8_t *)(uintptr_t)data;
    if (h.flags & CO_FLAG_ENCRYPTED) {
        memcpy(core->rxbuf, data, len);
        dgram = core->rxbuf;
    }
    rc = co_crypto_open(&core->crypto, &h, dgram, len);
    if (rc != 0) {
        co_count_drop(core, co_drop_of(rc));
        warn_security(core, co_drop_of(rc), h.flags, now_ns);
        return 0;
    }
    const uint8_t *body = dgram + CO_HEADER_BYTES;
    co_body_t b;
    rc = decode_body(&h, body, &b);
    if (rc == 0 && h.type == CO_TYPE_HEARTBEAT &&
        !heartbeat_plausible(core, &b.hb))
        rc = CO_DROP(COHORT_DROP_BAD_FIELD);
    if (rc != 0) {
        co_count_drop(core, co_drop_of(rc));
        return 0;
    }
    uint64_t drops = core->stats.drops_total;
    bool wait = false;
    size_t datagram = h.type == CO_TYPE_HEARTBEAT ? b.hb.datagram : 0;
    co_peer_t *peer = sender_of(core, &h, datagram, now_ns, &wait);
    if (!peer && wait && co_type_is_membership(h.type) && !core->left) {
        /* Its answers are what lets the view that replaces its old life
         * be installed. */
        co_membership_recv(core, &h, &b.m, now_ns);
        co_vs_poll(core, now_ns);
        return 0;
    }
    if (!peer && (wait || core->stats.drops_total != drops))
        return 0; /* stale or replayed: counted; or a new life waiting */
    if (!peer && h.type == CO_TYPE_LEAVE) {
        /* Never tracked, now gone: remember it, or a replay of an older
         * datagram of it would bring it in as if new. */
        co_peers_bury_left(&core->peers, h.sender_id, h.incarnation,
                           h.packet_seq);
        return 0;
    }
    if (!peer && !(peer = admit_sender(core, &h, &b, from, now_ns)))
        return 0;
    if ((h.flags & CO_FLAG_NOAES) &&
        co_peers_note_no_aes(&core->peers, peer) &&
        co_crypto_pinned_aes(&core->crypto))
        warn_deaf(core, peer);
    /* Liveness and the reply address follow only datagrams newer than any
     * seen: an old one the replay window never saw (reordered, or replayed
     * by an outsider) must neither keep a dead member alive nor point its
     * address elsewhere. */
    if (h.packet_seq > co_replay_top(&peer->packets)) {
        peer->last_heard_ns = now_ns;
        peer->addr = *from;
    }
    co_replay_commit(&peer->packets, h.packet_seq);
    /* Every accepted datagram tells membership that its sender lives and
     * which view it is in; a member that is leaving takes no more part. */
    if (!core->left && h.type == CO_TYPE_LEAVE)
        co_membership_left(core, &h, now_ns);
    else if (!core->left)
        co_membership_heard(core, &h, datagram, now_ns);
    if (co_type_is_membership(h.type)) {
        if (!core->left)
            co_membership_recv(core, &h, &b.m, now_ns);
        co_vs_poll(core, now_ns);
        return 0;
    }
    switch (h.type) {
    case CO_TYPE_DATA:
        on_data(core, peer, &h, body, b.trail, now_ns);
        break;
    case CO_TYPE_FORWARD:
        on_forward(core, &h, body, &b.fwd, now_ns);
        break;
    case CO_TYPE_PARITY:
        on_parity(core, peer, &h, &b.parity, now_ns);
        break;
    case CO_TYPE_HEARTBEAT:
        on_heartbeat(core, peer, &b.hb, h.view_id, now_ns);
        break;
    case CO_TYPE_XFER:
        co_state_recv(core, peer, h.view_id, &b.xfer, now_ns);
        break;
    case CO_TYPE_RPC:
        co_rpc_recv(core, peer, body, h.body_len, now_ns);
        break;
    case CO_TYPE_ACK:
        note_stability(core, peer, b.ack.entries, b.ack.count, h.view_id);
        stability_advance(core, now_ns);
        break;
    case CO_TYPE_NACK:
        core->stats.nacks_received++;
        if (peer->size_apart)
            break; /* never in a view with us: owed nothing */
        if (b.nack.target_id == core->cfg.member_id &&
            b.nack.target_incarnation == core->cfg.incarnation)
            co_retransmit(core, peer, &b.nack, now_ns);
        else
            co_forward_repair(core, peer, &b.nack, now_ns);
        break;
    case CO_TYPE_LEAVE:
        if (peer->in_view) {
            /* Reported now, but its state stays: the view change it
             * starts completes the view it leaves from its records. */
            if (!peer->said_leave) {
                co_event_member(core, peer, COHORT_EVENT_MEMBER_LEFT,
                                COHORT_LEFT_GRACEFULLY);
                core->stats.members_left++;
                peer->said_leave = true;
            }
            break;
        }
        if (peer->said_leave) {
            forget_left(core, peer, now_ns); /* a repeat, once out */
            break;
        }
        member_left(core, peer, COHORT_LEFT_GRACEFULLY, now_ns);
        break;
    default:
        COHORT_ASSERT(false); /* decode_body rejected it */
    }
    co_vs_poll(core, now_ns);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */
/* ------------------------------------------------------------------ */

static uint64_t jittered(co_core_t *core, uint64_t interval_ns)
{
    /* +-10 %, so members started together do not beat in step. */
    uint64_t spread = interval_ns / 5;
    return interval_ns - spread / 2 + co_rng_below(&core->rng, spread + 1);
}

int co_core_recv(co_core_t *core, uint64_t now_ns, const co_addr_t *from,
                 const uint8_t *data, size_t len)
{
    release_handed_out(core);
    int rc = recv_one(core, now_ns, from, data, len);
    /* The sequencer orders what came in once per tick, not per datagram:
     * one ORDER record then covers every datagram of a turn (fewer
     * records for every member to take), and the tick is due at once. */
    if (core->sequence_at_ns == 0 && co_total_is_sequencer(core))
        core->sequence_at_ns = now_ns ? now_ns : 1;
    /* What this datagram brought may be delivered now. */
    co_total_run(core, now_ns);
    return rc;
}

/* A NACK round for peer's gaps. Each round asks for the gaps never asked
 * for yet; a retry round (one retry interval after the last, the
 * interval from the measured repair time, rtt.h) asks again for those
 * asked before the last retry round and still missing. Gaps asked for a
 * moment ago are not asked again before their repair could be back. */
static void send_nacks(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    /* Blocks that the parity held now rebuilds need no asking. */
    size_t rebuilt = 0;
    for (size_t n; rebuilt < CO_PARITY_POOL_MAX &&
                   (n = co_parity_retry(core, peer)) > 0;
         rebuilt += n)
        take_rebuilt(core, peer, n, now_ns);
    if (rebuilt > 0)
        co_deliver_ready(core, peer, now_ns);
    const co_addr_t *dest = co_vs_nack_dest(core, peer);
    bool retry = peer->nack_all ||
                 (peer->retry_at_ns != 0 && now_ns >= peer->retry_at_ns);
    if (retry) {
        co_rtt_round(&peer->rtt);
        uint64_t through = peer->nack_all ? UINT64_MAX : peer->nack_due;
        co_rtt_asked_again(&peer->rtt, through);
        uint64_t last = co_send_nack(core, peer, dest, peer->rx.next,
                                     through, now_ns);
        if (last > peer->nack_asked)
            peer->nack_asked = last;
        peer->nack_all = false;
    }
    uint64_t from = peer->nack_asked + 1;
    if (from < peer->rx.next)
        from = peer->rx.next;
    uint64_t last = co_send_nack(core, peer, dest, from, UINT64_MAX, now_ns);
    if (last != 0) {
        co_rtt_arm(&peer->rtt, last, now_ns);
        peer->nack_asked = last;
    }
    if (retry || peer->retry_at_ns == 0) {
        peer->nack_due = peer->nack_asked;
        peer->retry_at_ns =
            now_ns + co_rtt_retry_ns(&peer->rtt, core->cfg.nack_retry_ns);
    }
    peer->nack_at_ns = co_rxwin_has_gap(&peer->rx) ? peer->retry_at_ns : 0;
}

static void tick_peer(co_core_t *core, co_peer_t *peer, uint64_t now_ns)
{
    /* A silent member of the view keeps its state until the view that
     * leaves it out is installed: a flush may still need its records. */
    bool expired = now_ns >= peer->last_heard_ns + core->cfg.member_timeout_ns;
    if (!peer->in_view && peer->said_leave &&
        (expired || co_store_bytes(&peer->store) == 0)) {
        forget_left(core, peer, now_ns);
        return;
    }
    if (!peer->in_view && expired) {
        member_left(core, peer, COHORT_LEFT_TIMEOUT, now_ns);
        return;
    }
    if (peer->nack_at_ns && now_ns >= peer->nack_at_ns)
        send_nacks(core, peer, now_ns);
    if (peer->ack_at_ns && now_ns >= peer->ack_at_ns)
        co_send_ack(core, peer, now_ns);
}

/* A window the library chose is shared by the members sending at the
 * moment: a receiver's buffers take every sender's window at once, and N
 * whole windows queued in its socket make each datagram wait behind
 * them. With three senders of 8 000-B messages at 64 KiB datagrams (3 x
 * 32 MiB), SAFE messages waited 100-250 ms for the acknowledgements that
 * make them safe, every hold filled, and SAFE ran at 0.16-0.35x FIFO;
 * at a third of the window each, 0.6-0.8x, FIFO faster too
 * (docs/performance.md). A member counts as sending when it sent at
 * least one datagram's worth of fresh records in the last period; this
 * member's own sending is assumed (the share matters only then). The
 * sequencer's ORDER records may still use the whole window. */
#define CO_SHARE_PERIOD_NS (100 * CO_MS_NS)

static void share_window(co_core_t *core, uint64_t now_ns)
{
    if (core->cfg.window_share_min == 0 || now_ns < core->share_at_ns)
        return;
    core->share_at_ns = now_ns + CO_SHARE_PERIOD_NS;
    size_t senders = 1;
    for (size_t i = 0; i < core->peers.span; i++) {
        co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use)
            continue;
        if (p->in_view && p->share_bytes >= core->cfg.max_datagram)
            senders++;
        p->share_bytes = 0;
    }
    /* Each sender's window is a share of its own: acknowledge each
     * stream after a quarter of a share, as a lone sender's window is
     * acknowledged after a quarter of it. */
    core->ack_bytes = core->cfg.send_window_bytes / 4 /
                      (senders > 1 ? senders - 1 : 1);
    size_t w = core->cfg.send_window_bytes / senders;
    if (w < core->cfg.window_share_min)
        w = core->cfg.window_share_min;
    if (w > core->cfg.send_window_bytes)
        w = core->cfg.send_window_bytes;
    core->data_window = w;
    core->stats.send_window_share_bytes = w;
}

void co_core_tick(co_core_t *core, uint64_t now_ns)
{
    release_handed_out(core);
    share_window(core, now_ns);
    release_stable(core);
    if (core->bundle_deadline_ns && now_ns >= core->bundle_deadline_ns)
        co_core_flush(core, now_ns);
    for (size_t i = 0; i < core->peers.span; i++)
        if (core->peers.slots[i].in_use)
            tick_peer(core, &core->peers.slots[i], now_ns);
    leave_repeat(core, now_ns);
    if (core->left)
        return;
    co_membership_tick(core, now_ns);
    co_vs_poll(core, now_ns);
    co_state_tick(core, now_ns);
    co_rpc_tick(core, now_ns);
    core->sequence_at_ns = 0;
    co_total_sequence(core, now_ns);
    co_total_run(core, now_ns);
    if (now_ns >= core->heartbeat_at_ns ||
        (core->probe_at_ns && now_ns >= core->probe_at_ns)) {
        co_send_heartbeat(core, now_ns);
        /* With any heartbeat, regular or asked for by a PROBE (those
         * move the regular one on, so a member probed often would
         * otherwise never send one: sim heavy 454). */
        if (now_ns >= core->path_at_ns &&
            co_membership_path_wanted(core, now_ns)) {
            co_send_path(core, now_ns);
            /* Half an interval: a jittered regular heartbeat (-10 %)
             * still carries the next one. */
            core->path_at_ns = now_ns + core->cfg.heartbeat_interval_ns / 2;
        }
        core->heartbeat_at_ns =
            now_ns + jittered(core, core->cfg.heartbeat_interval_ns);
        core->probe_at_ns = 0;
    }
    pending_progress(core, now_ns);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    return a < b ? a : b;
}

uint64_t co_core_deadline(const co_core_t *core)
{
    uint64_t at = UINT64_MAX;
    if (!core->left) {
        at = core->heartbeat_at_ns;
        at = earliest(core->probe_at_ns, at);
        at = earliest(co_membership_deadline(core), at);
        if (core->vs_flushing && !core->vs_ending)
            at = earliest(core->vs_flush_deadline_ns, at);
        at = earliest(co_state_deadline(core), at);
        at = earliest(co_rpc_deadline(core), at);
        at = earliest(core->sequence_at_ns, at);
    }
    at = earliest(core->bundle_deadline_ns, at);
    at = earliest(core->leave_at_ns, at);
    for (size_t i = 0; i < core->peers.span; i++) {
        const co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use)
            continue;
        at = earliest(p->nack_at_ns, at);
        at = earliest(p->ack_at_ns, at);
        if (!p->in_view)
            at = earliest(p->last_heard_ns + core->cfg.member_timeout_ns, at);
    }
    return at;
}

/* ------------------------------------------------------------------ */
/* Output and introspection                                            */
/* ------------------------------------------------------------------ */

bool co_core_next_tx(co_core_t *core, co_tx_t *out)
{
    co_txq_t *q = &core->txq;
    if (q->popped == q->count)
        return false;
    size_t slot = (q->head + q->popped) % q->cap;
    q->popped++;
    out->kind = q->kinds[slot];
    out->dest = q->dests[slot];
    out->data = q->bufs[slot];
    out->len = q->lens[slot];
    out->send_by_ns = q->send_by[slot];
    return true;
}

size_t co_core_tx_ready(const co_core_t *core)
{
    return core->txq.count - core->txq.popped;
}

bool co_core_state_wanted(const co_core_t *core)
{
    return co_state_wanted(core);
}

cohort_member_t co_core_self(const co_core_t *core)
{
    return (cohort_member_t){core->cfg.member_id, core->cfg.incarnation};
}

size_t co_core_members(const co_core_t *core, cohort_member_t *out,
                       size_t max)
{
    size_t n = 0;
    if (max > 0)
        out[0] = co_core_self(core);
    n = 1;
    for (size_t i = 0; i < core->peers.span; i++) {
        const co_peer_t *p = &core->peers.slots[i];
        if (!p->in_use)
            continue;
        if (n < max)
            out[n] = (cohort_member_t){p->id, p->incarnation};
        n++;
    }
    return n;
}

const struct cohort_stats *co_core_stats(const co_core_t *core)
{
    return &core->stats;
}

struct cohort_stats *co_core_stats_mut(co_core_t *core)
{
    core->stats.send_window_used_bytes = core->tx.bytes;
    core->stats.recv_buffered_bytes = co_peers_rx_bytes(&core->peers);
    core->stats.members_without_aes = core->peers.no_aes;
    core->stats.rpc_history_bytes = core->rpc.hist.bytes;
    core->stats.rpc_history_entries = core->rpc.hist.count;
    core->stats.rpc_history_evictions = core->rpc.hist.evictions;
    return &core->stats;
}

size_t co_core_memory_bytes(const co_core_t *core)
{
    return core->tx.bytes + co_peers_rx_bytes(&core->peers) +
           co_peers_store_bytes(&core->peers) + core->evq.bytes +
           core->pending.len + co_total_memory_bytes(core) +
           co_state_memory_bytes(core) + co_rpc_memory_bytes(core);
}

void co_core_secret_region(co_core_t *core, void **ptr, size_t *len)
{
    *ptr = &core->crypto;
    *len = sizeof core->crypto;
}

bool co_core_holding(const co_core_t *core)
{
    return co_vs_holding(core);
}

bool co_core_feeding(const co_core_t *core)
{
    return core->pending.data != NULL;
}

size_t co_core_max_unreliable(const co_core_t *core)
{
    return core->record_room;
}
