/*
 * corenet.c - the in-test network of cores (corenet.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corenet.h"
#include "wire.h"

co_addr_t addr_of(int node)
{
    co_addr_t a = {.len = 1};
    a.bytes[0] = (uint8_t)node;
    return a;
}

int node_of(uint32_t member_id)
{
    int i = (int)member_id - 100;
    assert_true(i >= 0 && i < MAXN);
    return i;
}

uint8_t type_of(const uint8_t *d)
{
    return d[3];
}

void config_for(co_core_config_t *cfg, int node, int self_delivery)
{
    co_core_config_defaults(cfg);
    cfg->group_id = co_group_id("vsync", 5);
    cfg->member_id = 100 + (uint32_t)node;
    cfg->incarnation = 7;
    cfg->seed = 2000 + (uint64_t)node;
    cfg->self_delivery = self_delivery;
    /* Short timers keep the view changes a few hundred ms of net time. */
    cfg->heartbeat_interval_ns = 20 * MS;
    cfg->member_timeout_ns = 150 * MS;
    cfg->nack_delay_ns = 2 * MS;
    cfg->nack_retry_ns = 10 * MS;
    cfg->send_window_bytes = 256 * 1024;
    cfg->recv_buffer_bytes = 1u << 20;
    cfg->max_message = 64 * 1024;
    snprintf(cfg->name, sizeof cfg->name, "node%d", node);
}

void drain_tx(net_t *n, int node)
{
    co_tx_t tx;
    while (co_core_next_tx(n->cores[node], &tx)) {
        assert_true(tx.len <= 1500 && tx.len > 3);
        assert_true(n->count < NET_MAX);
        n->emitted[node][type_of(tx.data) & 63]++;
        pkt_t *p = &n->q[(n->head + n->count) % NET_MAX];
        p->from = node;
        p->to = tx.kind == CO_DEST_GROUP ? -1 : tx.dest.bytes[0];
        p->len = tx.len;
        memcpy(p->data, tx.data, tx.len);
        n->count++;
    }
}

void log_event(net_t *n, int node, const cohort_event_t *ev)
{
    assert_true(n->nlog[node] < LOG_MAX);
    entry_t *e = &n->log[node][n->nlog[node]];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    if (ev->type == COHORT_EVENT_MESSAGE) {
        const uint8_t *d = ev->u.message.data;
        assert_int_equal(ev->u.message.len, 16);
        e->sender = d[0];
        assert_int_equal(e->sender, node_of(ev->u.message.sender.id));
        e->index = (uint32_t)d[1] << 24 | (uint32_t)d[2] << 16 |
                   (uint32_t)d[3] << 8 | d[4];
        assert_true(e->index < MSG_MAX);
        e->view_id = ev->u.message.view_id;
        e->mode = ev->u.message.mode;
        e->order = ev->u.message.order;
        e->flags = ev->u.message.flags;
    } else if (ev->type == COHORT_EVENT_VIEW) {
        e->view_id = ev->u.view.view_id;
        for (size_t i = 0; i < ev->u.view.count; i++)
            e->members |= 1u << node_of(ev->u.view.members[i].id);
    } else {
        return; /* joins, leaves, warnings: not logged */
    }
    n->nlog[node]++;
}

void pull_events(net_t *n, int node)
{
    cohort_event_t ev;
    while (co_core_next_event(n->cores[node], n->now_ns, &ev)) {
        if (n->hook)
            n->hook(n, node, &ev);
        log_event(n, node, &ev);
    }
    drain_tx(n, node);
}

bool link_drops(const net_t *n, const pkt_t *p, int to)
{
    uint8_t t = type_of(p->data);
    if (n->drop_pkt && n->drop_pkt(n, p, to))
        return true;
    if (t < 32)
        return n->drop_types[p->from][to] >> t & 1;
    return t < 64 && (n->drop_types_hi[p->from][to] >> (t - 32) & 1);
}

/* Hand the oldest queued datagram to every node it reaches; drain: take
 * what each receiver sends in answer at once. A datagram of a node that
 * crashed after sending it still arrives. */
void deliver_head(net_t *n, bool drain)
{
    if (n->count == 0)
        return;
    pkt_t *p = &n->q[n->head];
    n->head = (n->head + 1) % NET_MAX;
    n->count--;
    for (int to = 0; to < n->nodes; to++) {
        if (!n->cores[to] || to == p->from || (p->to >= 0 && p->to != to))
            continue;
        if (n->cut[to] || n->cut[p->from] || link_drops(n, p, to))
            continue;
        n->received[to][type_of(p->data) & 63]++;
        co_addr_t from = addr_of(p->from);
        co_core_recv(n->cores[to], n->now_ns, &from, p->data, p->len);
        if (drain)
            drain_tx(n, to);
    }
}

/* Deliver one queued datagram, then run every due timer. */
void step(net_t *n)
{
    n->now_ns += STEP_NS;
    deliver_head(n, true);
    for (int i = 0; i < n->nodes; i++) {
        if (!n->cores[i])
            continue;
        if (co_core_deadline(n->cores[i]) <= n->now_ns) {
            co_core_tick(n->cores[i], n->now_ns);
            drain_tx(n, i);
        }
        if (!n->app_paused[i])
            pull_events(n, i);
    }
}

void run_for(net_t *n, uint64_t ns)
{
    uint64_t end = n->now_ns + ns;
    while (n->now_ns < end)
        step(n);
}

void spawn(net_t *n, int i)
{
    co_core_config_t cfg;
    assert_null(n->cores[i]);
    config_for(&cfg, i, n->self_delivery[i]);
    cfg.state_transfer = n->state_transfer[i];
    if (n->send_window[i])
        cfg.send_window_bytes = n->send_window[i];
    if (n->evq_len[i])
        cfg.event_queue_len = n->evq_len[i];
    cfg.parity_block = n->parity_block[i];
    cfg.parity_extra = n->parity_extra[i];
    if (n->no_bundle[i])
        cfg.bundle_delay_ns = 0;
    assert_int_equal(co_core_new(&n->cores[i], &cfg, n->now_ns), 0);
    drain_tx(n, i);
}

/* Free the core: no LEAVE, silence from now on. Its log stays. */
void crash(net_t *n, int i)
{
    pull_events(n, i);
    co_core_free(n->cores[i]);
    n->cores[i] = NULL;
}

net_t *net_new(int nodes, int spawned)
{
    net_t *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->q = calloc(NET_MAX, sizeof *n->q);
    assert_non_null(n->q);
    n->nodes = nodes;
    n->now_ns = 1000000000ULL;
    for (int i = 0; i < nodes; i++) {
        n->self_delivery[i] = 1;
        n->log[i] = calloc(LOG_MAX, sizeof *n->log[i]);
        assert_non_null(n->log[i]);
    }
    for (int i = 0; i < spawned; i++)
        spawn(n, i);
    return n;
}

void net_free(net_t *n)
{
    for (int i = 0; i < n->nodes; i++) {
        co_core_free(n->cores[i]);
        free(n->log[i]);
    }
    free(n->q);
    free(n);
}

uint64_t view_of(const net_t *n, int i, uint32_t *members)
{
    uint64_t id = 0;
    cohort_member_t m[MAXN + 4];
    size_t count = co_core_view(n->cores[i], &id, m, MAXN + 4);
    uint32_t mask = 0;
    for (size_t k = 0; k < count; k++)
        mask |= 1u << node_of(m[k].id);
    if (members)
        *members = mask;
    return id;
}

/* Every node in mask is alive, has installed one same view of exactly
 * mask, and holds nothing for a next one. */
bool converged(const net_t *n, uint32_t mask)
{
    uint64_t id = 0;
    for (int i = 0; i < n->nodes; i++) {
        if (!(mask >> i & 1))
            continue;
        uint32_t members;
        if (!n->cores[i])
            return false;
        uint64_t v = view_of(n, i, &members);
        if (v == 0 || members != mask || co_core_holding(n->cores[i]) ||
            (id != 0 && v != id))
            return false;
        id = v;
    }
    return true;
}

/* Step until the nodes of mask agree on the view of mask; its id. */
uint64_t settle(net_t *n, uint32_t mask, uint64_t max_ns)
{
    uint64_t end = n->now_ns + max_ns;
    while (!converged(n, mask)) {
        assert_true(n->now_ns < end);
        step(n);
    }
    for (int i = 0; i < n->nodes; i++)
        if (mask >> i & 1)
            return view_of(n, i, NULL);
    return 0;
}

/* Node i sends its next message (FIFO, 16 bytes: node, index, filler). */
static void message_of(uint8_t buf[16], int i, uint32_t index)
{
    assert_true(index < MSG_MAX);
    buf[0] = (uint8_t)i;
    buf[1] = (uint8_t)(index >> 24);
    buf[2] = (uint8_t)(index >> 16);
    buf[3] = (uint8_t)(index >> 8);
    buf[4] = (uint8_t)index;
    memset(buf + 5, 0xA5, 16 - 5);
}

int try_send(net_t *n, int i)
{
    uint8_t buf[16];
    message_of(buf, i, n->sent[i]);
    int rc = co_core_send(n->cores[i], n->now_ns, COHORT_FIFO, buf,
                          sizeof buf);
    if (rc == 0) {
        n->sent[i]++;
        co_core_flush(n->cores[i], n->now_ns);
        drain_tx(n, i);
        pull_events(n, i);
    }
    return rc;
}

uint32_t send_mode(net_t *n, int i, cohort_mode_t mode)
{
    uint8_t buf[16];
    uint32_t index = n->sent[i]++;
    message_of(buf, i, index);
    int rc, tries = 0;
    while ((rc = co_core_send(n->cores[i], n->now_ns, mode, buf,
                              sizeof buf)) == COHORT_ERR_AGAIN) {
        assert_true(++tries < 100000);
        step(n);
    }
    assert_int_equal(rc, 0);
    co_core_flush(n->cores[i], n->now_ns);
    drain_tx(n, i);
    pull_events(n, i);
    return index;
}

uint32_t send_next(net_t *n, int i)
{
    return send_mode(n, i, COHORT_FIFO);
}
