/*
 * net.c - the virtual network.
 *
 * Every link (ordered pair of nodes) has its own base latency and loss rate,
 * drawn from the seed. During the fault phase a datagram copy may be lost
 * (independently, or in a burst of consecutive losses on its link),
 * duplicated, delayed by jitter, held back (which reorders it past later
 * ones), or, when the group is secured, corrupted; a partition cuts links
 * between its two sides (or, for a one-way partition, from one side to the
 * other only), both when a datagram is sent and when it would arrive.
 * After the heal only the base latency is left. A node's own group
 * datagrams loop back to it, as the kernel does for multicast; that path is
 * never lossy. The attacker (attack.c) overhears datagrams as they are
 * sent, before any of this, and injects its own past every partition.
 */
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"

#define SELF_LATENCY_NS 5000ULL
#define ADDR_TAG 0xC0

void sim_addr_of(size_t idx, co_addr_t *out)
{
    COHORT_ASSERT(idx < SIM_MAX_NODES);
    memset(out, 0, sizeof *out);
    out->len = 2;
    out->bytes[0] = ADDR_TAG;
    out->bytes[1] = (uint8_t)idx;
}

int sim_addr_node(const sim_world_t *w, const co_addr_t *a)
{
    if (a->len != 2 || a->bytes[0] != ADDR_TAG || a->bytes[1] >= w->n_nodes)
        return -1;
    return a->bytes[1];
}

void sim_net_init(sim_world_t *w)
{
    const sim_scn_t *s = &w->scn;
    COHORT_ASSERT(w->n_nodes <= SIM_MAX_NODES);
    for (size_t i = 0; i < w->n_nodes; i++) {
        for (size_t j = 0; j < w->n_nodes; j++) {
            uint64_t spread = s->latency_max_ns - s->latency_min_ns;
            w->latency_ns[i][j] =
                s->latency_min_ns + co_rng_below(&w->net_rng, spread + 1);
            w->loss[i][j] = s->loss_max * co_rng_double(&w->net_rng);
        }
        w->latency_ns[i][i] = SELF_LATENCY_NS;
        w->loss[i][i] = 0.0;
    }
}

bool sim_net_connected(const sim_world_t *w, size_t a, size_t b)
{
    if (!w->partitioned)
        return true;
    uint32_t side_a = (w->side_mask >> a) & 1u;
    uint32_t side_b = (w->side_mask >> b) & 1u;
    if (side_a == side_b)
        return true;
    return w->oneway && side_a == 1;
}

static void corrupt_copy(sim_world_t *w, uint8_t *data, size_t *len)
{
    co_rng_t *r = &w->net_rng;
    if (co_rng_below(r, 4) == 0 && *len > 1) {
        *len = 1 + co_rng_below(r, *len - 1); /* truncated */
    } else {
        size_t bit = co_rng_below(r, *len * 8);
        data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    w->tot.corrupted++;
}

static void schedule_copy(sim_world_t *w, size_t src, size_t dst,
                          const uint8_t *data, size_t len, uint64_t delay_ns)
{
    sim_item_t it;
    memset(&it, 0, sizeof it);
    it.kind = SIM_ITEM_DGRAM;
    it.at_ns = w->now_ns + delay_ns;
    it.src = (uint8_t)src;
    it.dst = (uint8_t)dst;
    it.src_life = w->node[src].life;
    it.dst_life = w->node[dst].life;
    it.data = malloc(len);
    COHORT_ASSERT(it.data != NULL);
    memcpy(it.data, data, len);
    it.len = len;
    if (!w->healed && src != dst &&
        co_rng_double(&w->net_rng) < w->scn.corrupt) {
        corrupt_copy(w, it.data, &it.len);
        it.arg = 1;
    }
    if (!sim_queue_push(&w->q, &it)) {
        free(it.data);
        sim_fail(w, "simulator network queue overflow (%zu items)", w->q.max);
    }
}

static uint64_t fault_delay(sim_world_t *w)
{
    const sim_scn_t *s = &w->scn;
    uint64_t d = co_rng_below(&w->net_rng, s->jitter_ns + 1);
    if (co_rng_double(&w->net_rng) < s->reorder) {
        d += 1 + co_rng_below(&w->net_rng, s->holdback_max_ns);
        w->tot.held++;
    }
    return d;
}

static void send_copy(sim_world_t *w, size_t src, size_t dst,
                      const uint8_t *data, size_t len)
{
    uint64_t base = w->latency_ns[src][dst];
    if (w->opts.inject == SIM_INJECT_CUT && src == 1 && dst == 0) {
        w->injected = true;
        return;
    }
    if (w->healed || src == dst) {
        schedule_copy(w, src, dst, data, len, base);
        return;
    }
    if (w->burst_left[src][dst] == 0 &&
        co_rng_double(&w->net_rng) < w->scn.burst_loss)
        w->burst_left[src][dst] =
            1 + (uint32_t)co_rng_below(&w->net_rng, w->scn.burst_len_max);
    bool burst = w->burst_left[src][dst] > 0;
    if (burst)
        w->burst_left[src][dst]--;
    if (burst || co_rng_double(&w->net_rng) < w->loss[src][dst]) {
        w->tot.lost++;
        sim_trace(w, "net  n%zu->n%zu lost %zuB", src, dst, len);
        return;
    }
    schedule_copy(w, src, dst, data, len, base + fault_delay(w));
    if (co_rng_double(&w->net_rng) < w->scn.dup) {
        w->tot.dups++;
        schedule_copy(w, src, dst, data, len, base + fault_delay(w));
    }
}

static bool reachable(sim_world_t *w, size_t src, size_t dst)
{
    if (!w->node[dst].up)
        return false;
    if (!sim_net_connected(w, src, dst)) {
        w->tot.cut++;
        return false;
    }
    return true;
}

static void trace_send(sim_world_t *w, size_t src, int dst,
                       const co_tx_t *tx)
{
    char d[400];
    if (!w->opts.verbose)
        return;
    sim_describe(tx->data, tx->len, d, sizeof d);
    if (dst == SIM_ATK_SRC)
        sim_trace(w, "send n%zu->attacker %s", src, d);
    else if (dst < 0)
        sim_trace(w, "send n%zu->group %s", src, d);
    else
        sim_trace(w, "send n%zu->n%d %s", src, dst, d);
}

void sim_net_send(sim_world_t *w, size_t src, const co_tx_t *tx)
{
    size_t limit = w->opts.inject == SIM_INJECT_MISFIT
                       ? w->scn.cfg.max_datagram /* as configured */
                       : sim_node_datagram(w, src);
    if (tx->len > limit || tx->len == 0 || !tx->data) {
        sim_fail(w, "n%zu emitted a datagram of %zu bytes (max_datagram %zu)",
                 src, tx->len, limit);
        return;
    }
    sim_hash_u64(w, w->now_ns);
    sim_hash_u64(w, (uint64_t)src << 8 | (uint64_t)tx->kind);
    sim_hash(w, tx->data, tx->len);
    w->tot.dgrams_sent++;
    /* The narrow outsider's long datagrams are lost on its own link,
     * before any other node, the attacker too, could see them; only its
     * own loopback copy, which does not cross the link, arrives. */
    if (sim_link_drops(w, src, tx->data, tx->len)) {
        trace_send(w, src, -1, tx);
        if (tx->kind == CO_DEST_GROUP && !w->opts.no_loopback &&
            reachable(w, src, src))
            send_copy(w, src, src, tx->data, tx->len);
        return;
    }
    sim_attack_tap(w, src, tx);
    if (tx->kind == CO_DEST_UNICAST) {
        int dst = sim_addr_node(w, &tx->dest);
        if (dst < 0 && w->atk.on && sim_attack_is_addr(&tx->dest)) {
            /* A replay from the attacker's own address made the core take
             * it for the member's endpoint: this datagram is lost to the
             * member (the tap above kept it). */
            trace_send(w, src, SIM_ATK_SRC, tx);
            w->atk.stolen++;
            return;
        }
        if (dst < 0) {
            sim_fail(w, "n%zu sent a unicast datagram to an endpoint no node "
                        "has (len %u)", src, (unsigned)tx->dest.len);
            return;
        }
        trace_send(w, src, dst, tx);
        if (reachable(w, src, (size_t)dst))
            send_copy(w, src, (size_t)dst, tx->data, tx->len);
        return;
    }
    if (tx->kind != CO_DEST_GROUP) {
        sim_fail(w, "n%zu emitted a datagram with destination kind %d", src,
                 (int)tx->kind);
        return;
    }
    trace_send(w, src, -1, tx);
    for (size_t j = 0; j < w->n_nodes; j++) {
        if (j == src && w->opts.no_loopback)
            continue;
        if (reachable(w, src, j))
            send_copy(w, src, j, tx->data, tx->len);
    }
}
