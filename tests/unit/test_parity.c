/*
 * test_parity.c - parity repair (src/core/parity.c) between real cores:
 * one multicast parity symbol repairs a different loss at each receiver,
 * a block that parity cannot serve falls back to retransmission, and a
 * parity datagram that does not match what a receiver holds is dropped
 * and counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core.h"
#include "corenet.h"
#include "wire.h"

#define BIT(t) (1u << (t))
#define K 8

static size_t count_from(const net_t *n, int r, int s)
{
    size_t c = 0;
    for (size_t k = 0; k < n->nlog[r]; k++)
        c += n->log[r][k].type == COHORT_EVENT_MESSAGE &&
             n->log[r][k].sender == s;
    return c;
}

/* Node r delivered node s's messages 0..count-1, each once, in order. */
static void assert_all_in_order(const net_t *n, int r, int s, uint32_t count)
{
    uint32_t next = 0;
    for (size_t k = 0; k < n->nlog[r]; k++) {
        const entry_t *e = &n->log[r][k];
        if (e->type != COHORT_EVENT_MESSAGE || e->sender != s)
            continue;
        assert_int_equal(e->index, next);
        next++;
    }
    assert_int_equal(next, count);
}

/* Which fresh (not retransmitted) FIFO seqs of node 0 each receiver
 * loses; seq 0 ends a list. */
static uint64_t g_lose[MAXN][8];
static bool g_lose_parity[MAXN];
/* Parity datagrams a receiver gets before it loses the rest (with
 * g_lose_parity), and how many it loses before it gets the rest. */
static int g_parity_pass[MAXN], g_parity_skip[MAXN];

static bool holds_seq(const pkt_t *p, const uint64_t *list)
{
    co_header_t h;
    if (co_header_decode(p->data, p->len, &h) != 0 || h.type != CO_TYPE_DATA)
        return false;
    const uint8_t *body = p->data + CO_HEADER_BYTES;
    size_t off = CO_DATA_TRAIL_BYTES;
    co_record_t r;
    while (co_record_next(body, h.body_len, &off, &r) == 1) {
        if (r.type != CO_REC_FIFO || (r.flags & CO_REC_RETRANSMIT))
            continue;
        for (size_t i = 0; i < 8 && list[i]; i++)
            if (list[i] == r.seq)
                return true;
    }
    return false;
}

static uint64_t g_last_pseq; /* node 0's newest packet_seq seen */

static bool lose(const net_t *n, const pkt_t *p, int to)
{
    (void)n;
    if (p->from != 0)
        return false;
    co_header_t h;
    if (co_header_decode(p->data, p->len, &h) == 0 && h.packet_seq > g_last_pseq)
        g_last_pseq = h.packet_seq;
    if (type_of(p->data) == CO_TYPE_PARITY) {
        if (g_parity_skip[to] > 0) {
            g_parity_skip[to]--;
            return true;
        }
        if (g_lose_parity[to] && g_parity_pass[to] > 0) {
            g_parity_pass[to]--;
            return false;
        }
        return g_lose_parity[to];
    }
    return holds_seq(p, g_lose[to]);
}

/* Three members, every one with parity blocks of K records, one record a
 * datagram, node 0 sending extra0 symbols of each block unasked; node
 * 0's first FIFO seq is 1. */
static net_t *trio_extra(size_t extra0)
{
    memset(g_lose, 0, sizeof g_lose);
    memset(g_lose_parity, 0, sizeof g_lose_parity);
    memset(g_parity_pass, 0, sizeof g_parity_pass);
    memset(g_parity_skip, 0, sizeof g_parity_skip);
    net_t *n = net_new(3, 0);
    for (int i = 0; i < 3; i++) {
        n->parity_block[i] = K;
        n->no_bundle[i] = 1;
        n->parity_extra[i] = i == 0 ? extra0 : 0;
        spawn(n, i);
    }
    settle(n, BIT(0) | BIT(1) | BIT(2), 3000 * MS);
    n->drop_pkt = lose;
    return n;
}

static net_t *trio(void)
{
    return trio_extra(0);
}

static const struct cohort_stats *st(const net_t *n, int i)
{
    return co_core_stats(n->cores[i]);
}

/* Node 1 loses one record, node 2 two others of the same block: parity
 * symbols, not the records, repair both, and nothing is retransmitted. */
static void test_parity_repairs_different_losses(void **state)
{
    (void)state;
    net_t *n = trio();
    g_lose[1][0] = 3;
    g_lose[2][0] = 5;
    g_lose[2][1] = 6;
    for (int i = 0; i < 2 * K; i++)
        send_next(n, 0);
    run_for(n, 300 * MS);
    for (int r = 1; r < 3; r++)
        assert_all_in_order(n, r, 0, 2 * K);
    assert_int_equal(st(n, 0)->retransmissions_sent, 0);
    assert_true(st(n, 0)->parity_sent >= 2);
    assert_true(st(n, 0)->parity_sent <= 4);
    assert_int_equal(st(n, 1)->parity_recovered, 1);
    assert_int_equal(st(n, 2)->parity_recovered, 2);
    assert_true(n->emitted[0][CO_TYPE_PARITY] == st(n, 0)->parity_sent);
    net_free(n);
}

/* Node 1 loses every parity datagram: after CO_PARITY_ROUNDS rounds the
 * record is retransmitted, and it still arrives. */
static void test_lost_parity_falls_back(void **state)
{
    (void)state;
    net_t *n = trio();
    g_lose[1][0] = 2;
    g_lose_parity[1] = true;
    for (int i = 0; i < 2 * K; i++)
        send_next(n, 0);
    run_for(n, 500 * MS);
    assert_all_in_order(n, 1, 0, 2 * K);
    assert_all_in_order(n, 2, 0, 2 * K);
    assert_true(st(n, 0)->parity_sent >= 2);
    assert_true(st(n, 0)->retransmissions_sent >= 1);
    assert_int_equal(st(n, 1)->parity_recovered, 0);
    net_free(n);
}

/* A loss in the block still filling (the newest, K - 1 of K records out)
 * is retransmitted as without parity. */
static void test_open_block_is_retransmitted(void **state)
{
    (void)state;
    net_t *n = trio();
    g_lose[1][0] = K + 2;
    for (int i = 0; i < K + 4; i++)
        send_next(n, 0);
    run_for(n, 300 * MS);
    assert_all_in_order(n, 1, 0, K + 4);
    assert_int_equal(st(n, 0)->parity_sent, 0);
    assert_true(st(n, 0)->retransmissions_sent >= 1);
    net_free(n);
}

/* Parity off at the sender: plain retransmission, no parity datagram. */
static void test_parity_off(void **state)
{
    (void)state;
    memset(g_lose, 0, sizeof g_lose);
    memset(g_lose_parity, 0, sizeof g_lose_parity);
    net_t *n = net_new(3, 0);
    for (int i = 0; i < 3; i++) {
        n->no_bundle[i] = 1;
        spawn(n, i);
    }
    settle(n, BIT(0) | BIT(1) | BIT(2), 3000 * MS);
    n->drop_pkt = lose;
    g_lose[1][0] = 3;
    for (int i = 0; i < 2 * K; i++)
        send_next(n, 0);
    run_for(n, 300 * MS);
    assert_all_in_order(n, 1, 0, 2 * K);
    assert_int_equal(st(n, 0)->parity_sent, 0);
    assert_int_equal(n->emitted[0][CO_TYPE_PARITY], 0);
    assert_true(st(n, 0)->retransmissions_sent >= 1);
    net_free(n);
}

/* A parity datagram whose symbol is garbage, in node 0's name: a
 * receiver missing a record of that block rebuilds nothing valid from
 * it, counts the drop, and the record still comes by repair. */
static void test_garbage_parity_dropped(void **state)
{
    (void)state;
    net_t *n = trio();
    g_lose[1][0] = 4;
    /* Block 1 goes out with seq 4 lost at node 1; the NACK is not sent
     * yet when the forged symbol arrives (nack_delay). */
    n->drop_types[1][0] |= BIT(CO_TYPE_NACK);
    for (int i = 0; i < K; i++)
        send_mode(n, 0, COHORT_FIFO);
    run_for(n, 5 * MS);
    /* Forge a datagram of node 0's, as an unauthenticated group allows. */
    uint8_t dg[CO_HEADER_BYTES + CO_PARITY_FIXED_BYTES + 40];
    co_header_t h = {.version = CO_WIRE_VERSION, .type = CO_TYPE_PARITY,
                     .body_len = CO_PARITY_FIXED_BYTES + 40,
                     .group_id = co_group_id("vsync", 5), .sender_id = 100,
                     .incarnation = 7, .packet_seq = g_last_pseq + 1,
                     .view_id = 0};
    uint32_t members;
    h.view_id = view_of(n, 1, &members);
    co_header_encode(&h, dg);
    co_parity_begin(dg + CO_HEADER_BYTES, 1, K, 100);
    memset(dg + CO_HEADER_BYTES + CO_PARITY_FIXED_BYTES, 0xEE, 40);
    co_addr_t from = addr_of(0);
    uint64_t drops = st(n, 1)->drops[COHORT_DROP_BAD_FIELD] +
                     st(n, 1)->drops[COHORT_DROP_TRUNCATED];
    assert_int_equal(co_core_recv(n->cores[1], n->now_ns, &from, dg,
                                  sizeof dg), 0);
    drain_tx(n, 1);
    assert_true(st(n, 1)->drops[COHORT_DROP_BAD_FIELD] +
                    st(n, 1)->drops[COHORT_DROP_TRUNCATED] >
                drops);
    assert_int_equal(st(n, 1)->parity_recovered, 0);
    n->drop_types[1][0] &= ~BIT(CO_TYPE_NACK);
    for (int i = 0; i < K; i++)
        send_next(n, 0);
    run_for(n, 300 * MS);
    assert_all_in_order(n, 1, 0, 2 * K);
    assert_int_equal(count_from(n, 2, 0), 2 * K);
    /* The real symbol rebuilt it. */
    assert_int_equal(st(n, 1)->parity_recovered, 1);
    net_free(n);
}

/* Proactive parity (parity_extra 2): node 1 loses two records of the
 * first block, node 2 one: the symbols sent unasked with each block
 * rebuild them, and no receiver asks at all. */
static void test_proactive_repairs_without_nack(void **state)
{
    (void)state;
    net_t *n = trio_extra(2);
    g_lose[1][0] = 3;
    g_lose[1][1] = 5;
    g_lose[2][0] = 6;
    uint64_t nacks1 = st(n, 1)->nacks_sent, nacks2 = st(n, 2)->nacks_sent;
    for (int i = 0; i < 2 * K; i++)
        send_next(n, 0);
    run_for(n, 300 * MS);
    for (int r = 1; r < 3; r++)
        assert_all_in_order(n, r, 0, 2 * K);
    assert_int_equal(st(n, 0)->parity_sent, 4); /* 2 blocks x 2 */
    assert_int_equal(st(n, 0)->retransmissions_sent, 0);
    assert_int_equal(st(n, 1)->parity_recovered, 2);
    assert_int_equal(st(n, 2)->parity_recovered, 1);
    assert_int_equal(st(n, 1)->nacks_sent, nacks1);
    assert_int_equal(st(n, 2)->nacks_sent, nacks2);
    net_free(n);
}

/* Node 1 loses 4 records of a block, and 6 of the 8 symbols that answer
 * its NACK (4 of 8 lost: 4 x 8 / 4 sent): its next NACK asks for the 2
 * still short (the symbols it holds stand for the rest), answered with
 * 2 x 8 / 6 = 3 fresh symbols; without that it would ask for 4 again
 * and get 8. */
static void test_nack_asks_only_what_is_short(void **state)
{
    (void)state;
    net_t *n = trio();
    for (int i = 0; i < 4; i++)
        g_lose[1][i] = (uint64_t)(2 + i);
    g_parity_skip[1] = 6;
    for (int i = 0; i < 2 * K; i++)
        send_next(n, 0);
    run_for(n, 500 * MS);
    assert_all_in_order(n, 1, 0, 2 * K);
    assert_all_in_order(n, 2, 0, 2 * K);
    assert_int_equal(st(n, 0)->retransmissions_sent, 0);
    assert_int_equal(st(n, 0)->parity_sent, 11);
    assert_int_equal(st(n, 1)->parity_recovered, 4);
    net_free(n);
}

/* Node 1 loses 2 records and every symbol but the first: its NACKs ask
 * for one record (the symbol stands for the other); when the parity
 * rounds are spent that record comes retransmitted, and the symbol held
 * then rebuilds the last one without asking for it. */
static void test_symbol_held_rebuilds_after_retransmission(void **state)
{
    (void)state;
    net_t *n = trio();
    g_lose[1][0] = 2;
    g_lose[1][1] = 3;
    g_lose_parity[1] = true;
    g_parity_pass[1] = 1;
    for (int i = 0; i < 2 * K; i++)
        send_next(n, 0);
    run_for(n, 1000 * MS);
    assert_all_in_order(n, 1, 0, 2 * K);
    assert_int_equal(st(n, 1)->parity_recovered, 1);
    assert_int_equal(st(n, 0)->retransmissions_sent, 1);
    net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_repairs_different_losses),
        cmocka_unit_test(test_lost_parity_falls_back),
        cmocka_unit_test(test_proactive_repairs_without_nack),
        cmocka_unit_test(test_nack_asks_only_what_is_short),
        cmocka_unit_test(test_symbol_held_rebuilds_after_retransmission),
        cmocka_unit_test(test_open_block_is_retransmitted),
        cmocka_unit_test(test_parity_off),
        cmocka_unit_test(test_garbage_parity_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
