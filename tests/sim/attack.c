/*
 * attack.c - an attacker without the group key (docs/testing.md).
 *
 * It sits on the wire. It overhears every datagram as it is sent (all group
 * multicast, and a share of unicast drawn from the seed) and keeps a bounded
 * record: the latest SIM_ATK_RECENT, and a uniform sample of everything
 * since the start, so it can still replay traffic of member incarnations
 * that have since left, crashed or been replaced. At random times, at a rate
 * drawn from the seed, it sends, past every partition, from its own address
 * or from the address of the node it imitates:
 *  - recorded datagrams byte for byte, to one node or to all of them, and
 *    bursts of one sender's recorded datagrams in shuffled order;
 *  - in secured groups only: copies with bits flipped (header, body,
 *    trailer), cut short, lengthened, with one header field rewritten, and
 *    datagrams made up from scratch with a valid header for the group (its
 *    group id, member ids and incarnations it overheard, fresh packet_seqs)
 *    and a zero or random tag. A group without a key has no defence against
 *    these by design (docs/security.md), so there it only replays.
 *
 * Every datagram it gets into a running core is judged at once, the drop
 * the core counts and any change to its member list (attack_check.c);
 * whatever it makes a core deliver is checked like every other delivery
 * (check.c): the sender's log, at most once, FIFO order.
 *
 * It draws only from its own random stream and its datagrams go straight
 * into the event queue, so the run without it (sim_main.c's twin) differs
 * only by what the cores do with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"
#include "wire.h"

#define US 1000ULL
#define MS 1000000ULL
#define ATK_LATENCY_MIN_NS (20 * US)
#define ATK_LATENCY_MAX_NS (2 * MS)
#define ATK_BURST_GAP_NS (30 * US)
#define ATK_TRIES 16        /* bounded searches of the record */
#define ATK_EXTEND_MAX 64   /* bytes appended to a lengthened copy */
#define ATK_FLIPS_MAX 8
#define ATK_ADDR_TAG 0xA7   /* net.c's endpoints use another tag */
#define ATK_FAKE_INDEX 0x7fff0000u /* no workload sends this many */

void sim_attack_addr(co_addr_t *out)
{
    memset(out, 0, sizeof *out);
    out->len = 2;
    out->bytes[0] = ATK_ADDR_TAG;
    out->bytes[1] = SIM_ATK_SRC;
}

bool sim_attack_is_addr(const co_addr_t *a)
{
    return a->len == 2 && a->bytes[0] == ATK_ADDR_TAG &&
           a->bytes[1] == SIM_ATK_SRC;
}

static uint64_t below(sim_world_t *w, uint64_t n)
{
    return co_rng_below(&w->atk.rng, n);
}

static uint32_t group_of(const sim_world_t *w)
{
    return w->node[0].group_id;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static void schedule_action(sim_world_t *w)
{
    sim_item_t it;
    memset(&it, 0, sizeof it);
    it.kind = SIM_ITEM_ATTACK;
    it.at_ns = w->now_ns + 1 + below(w, 2 * w->atk.gap_ns);
    bool ok = sim_queue_push(&w->q, &it);
    COHORT_ASSERT(ok);
}

void sim_attack_init(sim_world_t *w)
{
    sim_attack_t *a = &w->atk;
    memset(a, 0, sizeof *a);
    if (w->opts.no_attack || w->scn.attack_hz <= 0)
        return;
    COHORT_ASSERT(w->scn.attack_hz <= 1e6);
    a->on = true;
    a->forge = w->scn.attack_forge;
    a->tap_unicast = w->scn.attack_tap_unicast;
    a->gap_ns = (uint64_t)(1e9 / w->scn.attack_hz);
    uint64_t mix = 0xa77ac4edULL;
    for (const char *p = w->scn.name; *p; p++)
        mix = (mix ^ (uint8_t)*p) * 0x100000001b3ULL;
    co_rng_seed(&a->rng, w->opts.seed * 0x9e3779b97f4a7c15ULL ^ mix);
    size_t room = w->scn.cfg.max_datagram;
    uint8_t *pool = malloc(SIM_ATK_CAP * room);
    COHORT_ASSERT(pool != NULL);
    for (size_t i = 0; i < SIM_ATK_CAP; i++)
        a->cap[i].data = pool + i * room;
    schedule_action(w);
}

void sim_attack_free(sim_world_t *w)
{
    free(w->atk.cap[0].data); /* the pool */
    memset(w->atk.cap, 0, sizeof w->atk.cap);
    w->atk.on = false;
}

/* ------------------------------------------------------------------ */
/* Overhearing                                                         */
/* ------------------------------------------------------------------ */

/* Remember who talks in the group, for forgeries that look plausible. */
static void note_ids(sim_world_t *w, const uint8_t *d, size_t len)
{
    sim_attack_t *a = &w->atk;
    co_header_t h;
    if (co_header_decode(d, len, &h) != 0 || h.group_id != group_of(w))
        return;
    for (size_t i = 0; i < a->n_ids; i++) {
        sim_atk_id_t *e = &a->ids[i];
        if (e->id == h.sender_id && e->incarnation == h.incarnation) {
            if (h.packet_seq > e->top_seq)
                e->top_seq = h.packet_seq;
            return;
        }
    }
    size_t slot = a->n_ids < SIM_ATK_IDS ? a->n_ids++
                                         : (size_t)below(w, SIM_ATK_IDS);
    a->ids[slot] = (sim_atk_id_t){h.sender_id, h.incarnation, h.packet_seq};
}

static void keep(sim_atk_cap_t *c, size_t src, const co_tx_t *tx)
{
    memcpy(c->data, tx->data, tx->len);
    c->len = tx->len;
    c->src = (uint8_t)src;
}

void sim_attack_tap(sim_world_t *w, size_t src, const co_tx_t *tx)
{
    sim_attack_t *a = &w->atk;
    if (!a->on)
        return;
    if (tx->kind == CO_DEST_UNICAST &&
        co_rng_double(&a->rng) >= a->tap_unicast)
        return;
    COHORT_ASSERT(tx->len <= w->scn.cfg.max_datagram);
    note_ids(w, tx->data, tx->len);
    keep(&a->cap[a->recent_next], src, tx);
    a->recent_next = (a->recent_next + 1) % SIM_ATK_RECENT;
    /* Reservoir sampling: the k-th datagram stays with chance SAMPLE/k, so
     * the sample spans the whole run, old incarnations included. */
    a->overheard++;
    uint64_t j = a->overheard <= SIM_ATK_SAMPLE ? a->overheard - 1
                                                : below(w, a->overheard);
    if (j < SIM_ATK_SAMPLE)
        keep(&a->cap[SIM_ATK_RECENT + j], src, tx);
}

/* ------------------------------------------------------------------ */
/* Choosing what to send, and to whom                                  */
/* ------------------------------------------------------------------ */

/* Whether a recorded datagram belongs to an incarnation that is gone. */
static bool of_the_past(const sim_world_t *w, const sim_atk_cap_t *c)
{
    const sim_node_t *n = &w->node[c->src];
    return !n->up || co_get32(c->data + 16) != sim_incarnation(n);
}

/* A recorded datagram (now and then one of an incarnation that is gone,
 * to replay across a crash or a leave), or NULL if it has none yet. */
static const sim_atk_cap_t *pick(sim_world_t *w)
{
    bool past = below(w, 4) == 0;
    const sim_atk_cap_t *found = NULL;
    for (int i = 0; i < ATK_TRIES; i++) {
        const sim_atk_cap_t *c = &w->atk.cap[below(w, SIM_ATK_CAP)];
        if (c->len < CO_HEADER_BYTES)
            continue;
        if (!past || of_the_past(w, c))
            return c;
        if (!found)
            found = c;
    }
    return found;
}

/* -1: every node (as a multicast copy), else one node, seldom the one
 * whose datagram it imitates (that one only counts SELF). */
static int pick_target(sim_world_t *w, size_t emitter)
{
    if (below(w, 4) == 0)
        return -1;
    size_t t = (size_t)below(w, w->n_nodes);
    if (t == emitter && below(w, 5) != 0)
        t = (t + 1 + (size_t)below(w, w->n_nodes - 1)) % w->n_nodes;
    return (int)t;
}

/* The source address: usually the imitated node's, else its own. */
static uint8_t pick_from(sim_world_t *w, size_t emitter)
{
    if (emitter < w->n_nodes && below(w, 10) < 7)
        return (uint8_t)emitter;
    return SIM_ATK_SRC;
}

static void queue_copy(sim_world_t *w, sim_atk_kind_t kind, size_t emitter,
                       uint8_t from, size_t dst, const uint8_t *d,
                       size_t len, uint64_t at_ns)
{
    sim_item_t it;
    memset(&it, 0, sizeof it);
    it.kind = SIM_ITEM_ATK_DGRAM;
    it.at_ns = at_ns;
    it.src = from;
    it.dst = (uint8_t)dst;
    it.dst_life = w->node[dst].life;
    it.arg = (uint32_t)kind | (uint32_t)emitter << 8;
    it.data = malloc(len ? len : 1);
    COHORT_ASSERT(it.data != NULL);
    memcpy(it.data, d, len);
    it.len = len;
    w->atk.sent[kind]++;
    if (!sim_queue_push(&w->q, &it)) {
        free(it.data);
        sim_fail(w, "simulator queue overflow (attacker)");
    }
}

static uint64_t latency(sim_world_t *w)
{
    return ATK_LATENCY_MIN_NS +
           below(w, ATK_LATENCY_MAX_NS - ATK_LATENCY_MIN_NS);
}

/* Send d to the target (one node, or every node that is up), delay_ns
 * from now on top of the attacker's own latency. */
static void inject(sim_world_t *w, sim_atk_kind_t kind, size_t emitter,
                   const uint8_t *d, size_t len, int target, uint8_t from,
                   uint64_t delay_ns)
{
    if (target >= 0) {
        queue_copy(w, kind, emitter, from, (size_t)target, d, len,
                   w->now_ns + delay_ns + latency(w));
        return;
    }
    for (size_t j = 0; j < w->n_nodes; j++)
        if (w->node[j].up)
            queue_copy(w, kind, emitter, from, j, d, len,
                       w->now_ns + delay_ns + latency(w));
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

static void act_replay(sim_world_t *w)
{
    const sim_atk_cap_t *c = pick(w);
    if (c)
        inject(w, SIM_ATK_REPLAY, c->src, c->data, c->len,
               pick_target(w, c->src),
               pick_from(w, c->src), 0);
}

/* Several recorded datagrams of one sender, in shuffled order. */
static void act_burst(sim_world_t *w)
{
    const sim_atk_cap_t *first = pick(w);
    const sim_atk_cap_t *set[SIM_ATK_BURST_MAX];
    size_t n = 0;
    if (!first)
        return;
    uint32_t sender = co_get32(first->data + 12);
    size_t start = (size_t)below(w, SIM_ATK_CAP);
    for (size_t i = 0; i < SIM_ATK_CAP && n < SIM_ATK_BURST_MAX; i++) {
        const sim_atk_cap_t *c = &w->atk.cap[(start + i) % SIM_ATK_CAP];
        if (c->len >= CO_HEADER_BYTES && c->src == first->src &&
            co_get32(c->data + 12) == sender)
            set[n++] = c;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)below(w, i);
        const sim_atk_cap_t *t = set[i - 1];
        set[i - 1] = set[j];
        set[j] = t;
    }
    int target = pick_target(w, first->src);
    uint8_t from = pick_from(w, first->src);
    for (size_t i = 0; i < n; i++)
        inject(w, SIM_ATK_BURST, set[i]->src, set[i]->data, set[i]->len,
               target, from, i * ATK_BURST_GAP_NS);
}

/* A copy of a recorded datagram in buf (room for ATK_EXTEND_MAX more). */
static size_t copy_of(sim_world_t *w, uint8_t *buf, size_t *emitter)
{
    const sim_atk_cap_t *c = pick(w);
    if (!c)
        return 0;
    memcpy(buf, c->data, c->len);
    *emitter = c->src;
    return c->len;
}

static void flip_bits(sim_world_t *w, uint8_t *d, size_t len)
{
    size_t body = co_get16(d + 6);
    size_t lo = 0, hi = len; /* bits flipped in [lo, hi) bytes */
    switch (below(w, 4)) {
    case 0:
        hi = CO_HEADER_BYTES;
        break;
    case 1:
        if (body > 0 && CO_HEADER_BYTES + body <= len) {
            lo = CO_HEADER_BYTES;
            hi = CO_HEADER_BYTES + body;
        }
        break;
    case 2:
        if (d[4] & CO_FLAG_SECURED && len >= CO_TRAILER_BYTES)
            lo = len - CO_TRAILER_BYTES;
        break;
    default:
        break;
    }
    /* Distinct bits: flipping one twice would undo it. */
    size_t bits[ATK_FLIPS_MAX], n = below(w, 2) ? 1 : 2 + below(w, 7);
    for (size_t i = 0; i < n; i++) {
        size_t b = lo * 8 + below(w, (hi - lo) * 8);
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup = dup || bits[k] == b;
        bits[i] = dup ? SIZE_MAX : b;
        if (!dup)
            d[b / 8] ^= (uint8_t)(1u << (b % 8));
    }
}

static void act_mutate(sim_world_t *w, sim_atk_kind_t kind)
{
    uint8_t buf[CO_MAX_DATAGRAM + ATK_EXTEND_MAX];
    size_t emitter = 0;
    size_t len = copy_of(w, buf, &emitter);
    if (len == 0)
        return;
    if (kind == SIM_ATK_FLIP) {
        flip_bits(w, buf, len);
    } else if (kind == SIM_ATK_TRUNCATE) {
        len = (size_t)below(w, len);
    } else {
        COHORT_ASSERT(kind == SIM_ATK_EXTEND);
        size_t more = 1 + (size_t)below(w, ATK_EXTEND_MAX);
        for (size_t i = 0; i < more; i++)
            buf[len + i] = (uint8_t)below(w, 256);
        len += more;
    }
    inject(w, kind, emitter, buf, len, pick_target(w, emitter),
           pick_from(w, emitter), 0);
}

/* A value of a 32-bit id field other than cur: another id it overheard,
 * zero, or anything. */
static uint32_t other_id(sim_world_t *w, uint32_t cur, bool incarnation)
{
    const sim_attack_t *a = &w->atk;
    uint32_t v = cur;
    uint64_t u = below(w, 10);
    if (u == 0)
        v = 0;
    else if (u < 5 && a->n_ids > 0) {
        const sim_atk_id_t *e = &a->ids[below(w, a->n_ids)];
        v = incarnation ? e->incarnation + (uint32_t)below(w, 2) : e->id;
    } else if (incarnation && u < 7) {
        v = cur + 1;
    } else {
        v = (uint32_t)below(w, 1ULL << 32);
    }
    return v == cur ? cur ^ (1u + (uint32_t)below(w, 0xfffffffeu)) : v;
}

/* Rewrite one header field to a different value. */
static void rewrite_field(sim_world_t *w, uint8_t *d)
{
    switch (below(w, 11)) {
    case 0: /* magic */
        d[below(w, 2)] ^= (uint8_t)(1 + below(w, 255));
        break;
    case 1: { /* version: 0, or any other than this build's */
        uint8_t v = below(w, 2) ? 0 : (uint8_t)(1 + below(w, 254));
        d[2] = v != 0 && v >= CO_WIRE_VERSION ? (uint8_t)(v + 1) : v;
        break;
    }
    case 2: { /* type: another known one, or an unknown one */
        uint8_t t = below(w, 3) ? (uint8_t)(1 + below(w, CO_TYPE_PARITY))
                                : (uint8_t)(CO_TYPE_PARITY + 1 + below(w, 249));
        d[3] = t == d[3] ? (uint8_t)(t == CO_TYPE_DATA ? CO_TYPE_ACK
                                                       : CO_TYPE_DATA)
                         : t;
        break;
    }
    case 3: /* flags */
        d[4] ^= (uint8_t)(1 + below(w, 255));
        break;
    case 4: /* key id */
        d[5] ^= (uint8_t)(1 + below(w, 255));
        break;
    case 5: { /* body_len */
        uint16_t v = co_get16(d + 6);
        uint16_t delta = (uint16_t)(1 + below(w, 64));
        co_put16(d + 6, below(w, 2) ? (uint16_t)(v + delta)
                                    : (uint16_t)(v - delta));
        break;
    }
    case 6: /* group id */
        co_put32(d + 8,
                 co_get32(d + 8) ^ (uint32_t)(1 + below(w, 0xfffffffeu)));
        break;
    case 7: /* sender id */
        co_put32(d + 12, other_id(w, co_get32(d + 12), false));
        break;
    case 8: /* incarnation */
        co_put32(d + 16, other_id(w, co_get32(d + 16), true));
        break;
    case 9: { /* packet_seq: ahead (fresh), zero, or anything */
        uint64_t cur = co_get64(d + 20), u = below(w, 10);
        uint64_t v = u < 5 ? cur + 1 + below(w, 5000)
                     : u == 5 ? 0
                              : co_rng_next(&w->atk.rng);
        co_put64(d + 20, v == cur ? cur + 1 : v);
        break;
    }
    default: /* view id */
        co_put64(d + 28, co_get64(d + 28) ^ (1 + below(w, UINT64_MAX - 1)));
        break;
    }
}

static void act_field(sim_world_t *w)
{
    uint8_t buf[CO_MAX_DATAGRAM];
    size_t emitter = 0;
    size_t len = copy_of(w, buf, &emitter);
    if (len == 0)
        return;
    rewrite_field(w, buf);
    inject(w, SIM_ATK_FIELD, emitter, buf, len, pick_target(w, emitter),
           pick_from(w, emitter), 0);
}

/* ------------------------------------------------------------------ */
/* Forgeries from scratch                                              */
/* ------------------------------------------------------------------ */

/* A DATA body whose message, if it were ever delivered, is a well-formed
 * workload payload in a real member's name that it never sent: the
 * checkers would name it as forged. */
static size_t forge_data(sim_world_t *w, uint8_t *body, size_t room)
{
    uint8_t msg[200];
    size_t k = (size_t)below(w, w->scn.members);
    sim_payload_t p = {.node = (uint32_t)k,
                       .gen = w->node[k].gen,
                       .index = ATK_FAKE_INDEX + (uint32_t)below(w, 1000),
                       .fifo_seq = (uint32_t)(1 + below(w, 100)),
                       .len = (uint32_t)(SIM_PAYLOAD_HEADER +
                                         below(w, sizeof msg -
                                                      SIM_PAYLOAD_HEADER)),
                       .mode = COHORT_FIFO};
    uint64_t trail = 1 + below(w, 100);
    co_record_t r = {.type = CO_REC_FIFO,
                     .flags = CO_REC_FIRST | CO_REC_LAST,
                     .len = (uint16_t)p.len,
                     .seq = trail + below(w, 8),
                     .payload = msg};
    if (below(w, 3) == 0) {
        p.mode = COHORT_UNRELIABLE;
        p.fifo_seq = 0;
        r.type = CO_REC_UNRELIABLE;
        r.seq = 1 + below(w, 1u << 20);
    }
    sim_payload_build(msg, &p);
    if (CO_DATA_TRAIL_BYTES + co_record_size(&r) > room)
        return 0;
    co_put64(body, trail);
    size_t off = CO_DATA_TRAIL_BYTES;
    co_record_encode(&r, body, &off);
    return off;
}

/* Stability entries claiming everything was delivered, in the names it
 * overheard: believed, they would let senders drop what is still owed. */
static size_t claims(sim_world_t *w, co_ack_entry_t *e, size_t max)
{
    const sim_attack_t *a = &w->atk;
    size_t n = 0;
    for (size_t i = 0; i < a->n_ids && n < max; i++)
        e[n++] = (co_ack_entry_t){a->ids[i].id, a->ids[i].incarnation,
                                  CO_SEQ_LIMIT - 1 - below(w, 1000)};
    if (n == 0)
        e[n++] = (co_ack_entry_t){1, 1, 1};
    return n;
}

static size_t forge_body(sim_world_t *w, uint8_t type, uint8_t *body,
                         size_t room, const sim_atk_id_t *victim)
{
    co_ack_entry_t e[4];
    size_t n;
    switch (type) {
    case CO_TYPE_DATA:
        return forge_data(w, body, room);
    case CO_TYPE_HEARTBEAT: { /* "skip ahead": nothing below is sent */
        n = claims(w, e, 4);
        uint64_t next = CO_SEQ_LIMIT - 1 - below(w, 1000);
        if (co_heartbeat_size(7, n) > room)
            return 0;
        /* The group's datagram size half the time, another the rest. */
        size_t dg = (next & 1) ? w->scn.cfg.max_datagram
                               : CO_MIN_DATAGRAM + next % 60000;
        return co_heartbeat_encode(body, "mallory", 7, next, next, dg, e, n);
    }
    case CO_TYPE_NACK: { /* make a member retransmit everything */
        co_nack_range_t g = {1, 1 + below(w, 100000)};
        if (co_nack_size(1) > room)
            return 0;
        return co_nack_encode(body, victim->id, victim->incarnation, &g, 1);
    }
    case CO_TYPE_ACK:
        n = claims(w, e, 4);
        if (co_ack_size(n) > room)
            return 0;
        return co_ack_encode(body, e, n);
    default: /* LEAVE in a live member's name */
        return 0;
    }
}

static void act_forge(sim_world_t *w)
{
    const sim_attack_t *a = &w->atk;
    uint8_t buf[CO_MAX_DATAGRAM];
    size_t max = w->scn.cfg.max_datagram;
    sim_atk_id_t fresh = {1 + (uint32_t)below(w, 0xfffffffeu),
                          1 + (uint32_t)below(w, 0xfffffffeu), 0};
    const sim_atk_id_t *who =
        a->n_ids > 0 && below(w, 5) ? &a->ids[below(w, a->n_ids)] : &fresh;
    const sim_atk_id_t *victim =
        a->n_ids > 0 ? &a->ids[below(w, a->n_ids)] : &fresh;
    co_header_t h = {.version = CO_WIRE_VERSION,
                     .type = (uint8_t)(CO_TYPE_DATA + below(w, 5)),
                     .flags = sim_attack_mode_flags(w),
                     .key_id = (uint8_t)(below(w, 10) ? w->scn.cfg.key_id
                                                      : w->scn.cfg.key_id + 1),
                     .group_id = group_of(w),
                     .sender_id = who->id,
                     .incarnation = who->incarnation,
                     .packet_seq = below(w, 10) < 7
                                       ? who->top_seq + 1 + below(w, 16)
                                       : 1 + below(w, CO_SEQ_LIMIT)};
    size_t room = max - CO_HEADER_BYTES - CO_TRAILER_BYTES;
    size_t body = forge_body(w, h.type, buf + CO_HEADER_BYTES, room, victim);
    if (body == 0 && h.type != CO_TYPE_LEAVE)
        return;
    h.body_len = (uint16_t)body;
    co_header_encode(&h, buf);
    uint8_t *tag = buf + CO_HEADER_BYTES + body;
    bool zero = below(w, 2) == 0;
    for (size_t i = 0; i < CO_TRAILER_BYTES; i++)
        tag[i] = zero ? 0 : (uint8_t)below(w, 256);
    inject(w, SIM_ATK_FORGE, SIM_ATK_SRC,
           buf, CO_HEADER_BYTES + body + CO_TRAILER_BYTES,
           pick_target(w, SIM_ATK_SRC),
           pick_from(w, (size_t)below(w, w->n_nodes)), 0);
}

static void act(sim_world_t *w)
{
    /* Weights in percent: replays everywhere; alterations and forgeries
     * only where a key can tell them apart. */
    static const uint8_t forge_w[SIM_ATK__COUNT] = {30, 10, 18, 8, 6, 16, 12};
    static const uint8_t replay_w[SIM_ATK__COUNT] = {75, 25, 0, 0, 0, 0, 0};
    const uint8_t *wt = w->atk.forge ? forge_w : replay_w;
    uint64_t u = below(w, 100);
    int k = 0;
    while (k < SIM_ATK__COUNT - 1 && u >= wt[k])
        u -= wt[k++];
    switch ((sim_atk_kind_t)k) {
    case SIM_ATK_REPLAY:
        act_replay(w);
        break;
    case SIM_ATK_BURST:
        act_burst(w);
        break;
    case SIM_ATK_FIELD:
        act_field(w);
        break;
    case SIM_ATK_FORGE:
        act_forge(w);
        break;
    default:
        act_mutate(w, (sim_atk_kind_t)k);
        break;
    }
}

static void trace_arrival(sim_world_t *w, const sim_item_t *it,
                          const sim_atk_snap_t *snap)
{
    char desc[400], from[16];
    if (!w->opts.verbose)
        return;
    sim_describe(it->data, it->len, desc, sizeof desc);
    if (it->src == SIM_ATK_SRC)
        snprintf(from, sizeof from, "attacker");
    else
        snprintf(from, sizeof from, "as n%u", it->src);
    sim_trace(w, "atk  n%u<-%s %s: %s; expect %s", it->dst, from,
              sim_atk_kind_name(snap->kind), desc,
              snap->want >= 0 ? sim_drop_name(snap->want)
                              : "REPLAY, STALE or taken as new");
}

/* The checker self-test: as if the core took it without a word. */
static bool vanish(sim_world_t *w, const sim_item_t *it,
                   const sim_atk_snap_t *snap)
{
    if (w->opts.inject != SIM_INJECT_ACCEPT || w->injected || snap->exact)
        return false;
    w->injected = true;
    sim_trace(w, "self-test: n%u does not see this datagram", it->dst);
    return true;
}

/* Messages delivered so far in the run, every mode. */
static uint64_t delivered_all(const sim_world_t *w)
{
    uint64_t n = 0;
    for (unsigned m = 0; m < SIM_N_MODES; m++)
        n += w->tot.delivered[m];
    return n;
}

static void arrive(sim_world_t *w, const sim_item_t *it)
{
    sim_node_t *d = &w->node[it->dst];
    if (!d->up || d->life != it->dst_life)
        return;
    if (it->len > sim_node_datagram(w, it->dst)) {
        /* Longer than its socket takes (the misfit): the IO edge drops
         * it as truncated before the core sees it. */
        w->tot.too_long++;
        return;
    }
    if (it->src != it->dst &&
        sim_link_drops(w, it->dst, it->data, it->len))
        return; /* on the narrow link into it (from the attacker too) */
    sim_atk_snap_t snap;
    sim_atk_check_before(w, it->dst, (sim_atk_kind_t)(it->arg & 0xff),
                         (it->arg >> 8) & 0xff, it->data, it->len, &snap);
    trace_arrival(w, it, &snap);
    sim_hash_u64(w, w->now_ns);
    sim_hash_u64(w, (uint64_t)it->dst << 32 | it->len | 1ULL << 63);
    co_addr_t from;
    if (it->src == SIM_ATK_SRC)
        sim_attack_addr(&from);
    else
        sim_addr_of(it->src, &from);
    w->atk.arrived++;
    d->acc_fed++;
    if (!vanish(w, it, &snap)) {
        d->acc_fed_foreign += snap.want >= 0;
        int rc = co_core_recv(d->core, sim_local_ns(w, d), &from, it->data,
                              it->len);
        if (rc != 0) {
            sim_fail(w, "co_core_recv(n%u) returned %d for an attacker "
                        "datagram", it->dst, rc);
            return;
        }
    }
    sim_atk_check_after(w, &snap);
    uint64_t got = delivered_all(w);
    if (!w->failed)
        sim_after_call(w, it->dst);
    w->atk.messages += delivered_all(w) - got;
}

void sim_attack_item(sim_world_t *w, sim_item_t *it)
{
    if (!w->atk.on)
        return;
    if (it->kind == SIM_ITEM_ATK_DGRAM) {
        arrive(w, it);
        return;
    }
    COHORT_ASSERT(it->kind == SIM_ITEM_ATTACK);
    act(w);
    schedule_action(w);
}
