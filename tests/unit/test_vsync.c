/*
 * test_vsync.c - virtual synchrony of the sans-IO core, pinned one
 * behaviour at a time (src/core/vsync.c states the rules).
 *
 * Up to MAXN cores on an in-test network this file controls: a FIFO of
 * datagrams delivered one per 10 us step, per-link loss by datagram type,
 * a node cut off, a crash (the core freed, no LEAVE), no clock and no
 * unseeded randomness. Every property is checked from the events the
 * cores emit (VIEW, and MESSAGE with its view_id), by check_vs() after
 * each scenario and by the scenario's own assertions.
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
#include "wire.h"

#include "corenet.h"

/* ---- reading the logs ---- */

/* Position of node r's delivery of (s, index) in its log, or -1. */
static long find_msg(const net_t *n, int r, int s, uint32_t index)
{
    for (size_t k = 0; k < n->nlog[r]; k++) {
        const entry_t *e = &n->log[r][k];
        if (e->type == COHORT_EVENT_MESSAGE && e->sender == s &&
            e->index == index)
            return (long)k;
    }
    return -1;
}

/* Position of node r's VIEW event for view_id, or -1. */
static long find_view(const net_t *n, int r, uint64_t view_id)
{
    for (size_t k = 0; k < n->nlog[r]; k++)
        if (n->log[r][k].type == COHORT_EVENT_VIEW &&
            n->log[r][k].view_id == view_id)
            return (long)k;
    return -1;
}

static size_t count_from(const net_t *n, int r, int s)
{
    size_t c = 0;
    for (size_t k = 0; k < n->nlog[r]; k++)
        c += n->log[r][k].type == COHORT_EVENT_MESSAGE &&
             n->log[r][k].sender == s;
    return c;
}

/* The view sender s sent message index in, as its self-delivery tells
 * (0: unknown, self-delivery off or never sent). */
static uint64_t sending_view(const net_t *n, int s, uint32_t index)
{
    if (!n->self_delivery[s])
        return 0;
    long k = find_msg(n, s, s, index);
    return k < 0 ? 0 : n->log[s][k].view_id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The messages r delivered in the view whose VIEW event is at position
 * at, sorted (sender << 32 | index); the next view's id into *next (0:
 * none yet). Returns the count. */
static size_t segment(const net_t *n, int r, size_t at, uint64_t *out,
                      uint64_t *next)
{
    size_t c = 0;
    *next = 0;
    for (size_t k = at + 1; k < n->nlog[r]; k++) {
        const entry_t *e = &n->log[r][k];
        if (e->type == COHORT_EVENT_VIEW) {
            *next = e->view_id;
            break;
        }
        out[c++] = (uint64_t)e->sender << 32 | e->index;
    }
    qsort(out, c, sizeof *out, cmp_u64);
    return c;
}

/* VSYNC_DEBUG=1 in the environment: each node's log on stderr. */
static void dump_logs(const net_t *n)
{
    if (!getenv("VSYNC_DEBUG"))
        return;
    for (int r = 0; r < n->nodes; r++) {
        fprintf(stderr, "node %d:", r);
        for (size_t k = 0; k < n->nlog[r]; k++) {
            const entry_t *e = &n->log[r][k];
            if (e->type == COHORT_EVENT_VIEW)
                fprintf(stderr, "\n  VIEW %llx members %x\n ",
                        (unsigned long long)e->view_id, e->members);
            else
                fprintf(stderr, " %d/%u@%llx", e->sender, e->index,
                        (unsigned long long)(e->view_id >> 32));
        }
        fprintf(stderr, "\n");
    }
}

/* The guarantees every scenario must keep, from the logs alone:
 *  - a message is delivered in a view this node installed and is in
 *    (its VIEW event came first), by a sender of that view, tagged with
 *    that view, which is the view it was sent in; once; FIFO per sender;
 *  - view ids only grow along each node's history;
 *  - two nodes that install the same next view after the same view
 *    delivered the same messages in it (virtual synchrony). */
static void check_vs(const net_t *n)
{
    static uint8_t got[MAXN][MSG_MAX];
    static uint64_t a[LOG_MAX], b[LOG_MAX];
    dump_logs(n);
    for (int r = 0; r < n->nodes; r++) {
        uint64_t cur = 0;
        uint32_t members = 0;
        long last[MAXN];
        memset(got, 0, sizeof got);
        for (int s = 0; s < MAXN; s++)
            last[s] = -1;
        for (size_t k = 0; k < n->nlog[r]; k++) {
            const entry_t *e = &n->log[r][k];
            if (e->type == COHORT_EVENT_VIEW) {
                assert_true(e->view_id > cur);
                assert_true(e->members >> r & 1);
                cur = e->view_id;
                members = e->members;
                continue;
            }
            if (cur == 0 || e->view_id != cur || !(members >> e->sender & 1))
                fail_msg("node %d: message %d/%u tagged view %llx delivered "
                         "in view %llx (members %x)", r, e->sender, e->index,
                         (unsigned long long)e->view_id,
                         (unsigned long long)cur, members);
            uint64_t sv = sending_view(n, e->sender, e->index);
            if (sv != 0 && sv != e->view_id)
                fail_msg("node %d: message %d/%u sent in view %llx "
                         "delivered as of view %llx", r, e->sender, e->index,
                         (unsigned long long)sv,
                         (unsigned long long)e->view_id);
            assert_int_equal(got[e->sender][e->index], 0);
            got[e->sender][e->index] = 1;
            assert_true((long)e->index > last[e->sender]);
            last[e->sender] = (long)e->index;
        }
    }
    for (int i = 0; i < n->nodes; i++)
        for (int j = i + 1; j < n->nodes; j++)
            for (size_t k = 0; k < n->nlog[i]; k++) {
                if (n->log[i][k].type != COHORT_EVENT_VIEW)
                    continue;
                long kj = find_view(n, j, n->log[i][k].view_id);
                if (kj < 0)
                    continue;
                uint64_t ni, nj;
                size_t ca = segment(n, i, k, a, &ni);
                size_t cb = segment(n, j, (size_t)kj, b, &nj);
                if (ni == 0 || ni != nj)
                    continue;
                if (ca != cb || memcmp(a, b, ca * sizeof *a) != 0)
                    fail_msg("nodes %d and %d delivered %zu and %zu "
                             "messages in view %llx before view %llx", i,
                             j, ca, cb,
                             (unsigned long long)n->log[i][k].view_id,
                             (unsigned long long)ni);
            }
}

#define BIT(t) (1u << (t))
#define ALL(k) ((1u << (k)) - 1)

/* Deliveries of sender s by r tagged with view v. */
static size_t count_in_view(const net_t *n, int r, int s, uint64_t v)
{
    size_t c = 0;
    for (size_t k = 0; k < n->nlog[r]; k++) {
        const entry_t *e = &n->log[r][k];
        c += e->type == COHORT_EVENT_MESSAGE && e->sender == s &&
             e->view_id == v;
    }
    return c;
}

/* ---- 1, 2: a sender crashes mid-stream ---- */

/* A (0) sends k messages: B (1) gets them all, every other node all but
 * the last miss (its DATA from A is lost), and for the last `unseen`
 * messages no survivor gets anything. Then A crashes. Returns the old
 * view. */
static uint64_t crash_mid_stream(net_t *n, uint32_t k, uint32_t miss,
                                 uint32_t unseen)
{
    uint64_t v = settle(n, ALL(n->nodes), 2000 * MS);
    for (uint32_t i = 0; i < k - miss; i++)
        send_next(n, 0);
    for (int r = 2; r < n->nodes; r++)
        while (count_from(n, r, 0) < k - miss)
            step(n);
    for (int r = 2; r < n->nodes; r++)
        n->drop_types[0][r] = BIT(CO_TYPE_DATA);
    for (uint32_t i = k - miss; i < k; i++)
        send_next(n, 0);
    while (count_from(n, 1, 0) < k)
        step(n);
    n->drop_types[0][1] = BIT(CO_TYPE_DATA);
    for (uint32_t i = 0; i < unseen; i++)
        send_next(n, 0);
    run_for(n, 5 * MS); /* the heartbeat tells the others of the tail */
    for (int r = 2; r < n->nodes; r++)
        assert_int_equal(count_from(n, r, 0), k - miss);
    assert_int_equal(count_from(n, 1, 0), k);
    crash(n, 0);
    return v;
}

/* A crashes with its last messages held by B alone: C completes A's
 * stream from B's store (FORWARD) in the old view, before the new view. */
static void test_crash_survivors_complete(void **state)
{
    (void)state;
    const uint32_t k = 30, miss = 5;
    net_t *n = net_new(3, 3);
    uint64_t v = crash_mid_stream(n, k, miss, 0);
    size_t fwd_before = n->received[2][CO_TYPE_FORWARD];
    uint64_t w = settle(n, BIT(1) | BIT(2), 3000 * MS);
    assert_true(w > v);
    /* C has what B has of A, every message in the old view, before C's
     * VIEW event of the new one. */
    long cv = find_view(n, 2, w);
    assert_true(cv >= 0);
    for (uint32_t i = 0; i < k; i++) {
        long kb = find_msg(n, 1, 0, i), kc = find_msg(n, 2, 0, i);
        assert_true(kb >= 0 && kc >= 0);
        assert_true(n->log[2][kc].view_id == v);
        assert_true(n->log[1][kb].view_id == v);
        assert_true(kc < cv);
    }
    assert_int_equal(count_from(n, 2, 0), k);
    assert_int_equal(count_from(n, 1, 0), k);
    /* The missed ones came as FORWARD from B's store. */
    assert_true(n->received[2][CO_TYPE_FORWARD] > fwd_before);
    assert_true(n->emitted[1][CO_TYPE_FORWARD] > 0);
    assert_true(co_core_stats(n->cores[1])->retransmissions_sent >= miss);
    assert_int_equal(co_core_stats(n->cores[2])->flushes_abandoned, 0);
    check_vs(n);
    net_free(n);
}

/* A's messages no survivor received are beyond the cut: nobody delivers
 * them, though A's heartbeat announced them. */
static void test_nothing_beyond_the_cut(void **state)
{
    (void)state;
    const uint32_t k = 20, miss = 3, unseen = 4;
    net_t *n = net_new(3, 3);
    uint64_t v = crash_mid_stream(n, k, miss, unseen);
    uint64_t w = settle(n, BIT(1) | BIT(2), 3000 * MS);
    run_for(n, 200 * MS);
    assert_true(w > v);
    /* A delivered all k + unseen to itself; no survivor gets the unseen
     * ones, and both get exactly the first k (the cut), in view v. */
    assert_int_equal(count_from(n, 0, 0), k + unseen);
    for (int r = 1; r <= 2; r++) {
        assert_int_equal(count_from(n, r, 0), k);
        assert_int_equal(count_in_view(n, r, 0, v), k);
        for (uint32_t i = k; i < k + unseen; i++)
            assert_true(find_msg(n, r, 0, i) < 0);
    }
    check_vs(n);
    net_free(n);
}

/* ---- 3: sends held during a change ---- */

/* Sent while holding (answered the PREPARE, not yet installed): every
 * member, the sender by self-delivery, has it in the new view, after
 * that view's VIEW event. */
static void test_held_sends_go_out_in_next_view(void **state)
{
    (void)state;
    net_t *n = net_new(4, 4);
    uint64_t v = settle(n, ALL(4), 2000 * MS);
    for (int i = 0; i < 4; i++)
        send_next(n, i);
    run_for(n, 20 * MS);
    co_core_leave(n->cores[3], n->now_ns);
    drain_tx(n, 3);
    /* Each survivor sends once while it holds for the next view. */
    uint32_t held[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
    uint64_t end = n->now_ns + 1000 * MS;
    int pending = 3;
    while (pending > 0) {
        assert_true(n->now_ns < end);
        step(n);
        for (int i = 0; i < 3; i++)
            if (held[i] == UINT32_MAX && co_core_holding(n->cores[i]) &&
                view_of(n, i, NULL) == v) {
                held[i] = send_next(n, i);
                pending--;
            }
    }
    uint64_t w = settle(n, ALL(3), 2000 * MS);
    run_for(n, 100 * MS);
    assert_true(w > v);
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 3; r++) {
            long km = find_msg(n, r, s, held[s]);
            long kv = find_view(n, r, w);
            if (km < 0)
                fail_msg("node %d never delivered held message of %d", r, s);
            assert_true(n->log[r][km].view_id == w);
            assert_true(kv >= 0 && kv < km);
        }
    check_vs(n);
    net_free(n);
}

/* ---- 4: self-delivery ---- */

/* Own messages come back once each, in order, tagged with the sending
 * view; with self_delivery = 0 never, while the others still get all. */
static void self_delivery_case(int on)
{
    const uint32_t k = 40;
    net_t *n = net_new(3, 0);
    n->self_delivery[0] = on;
    for (int i = 0; i < 3; i++)
        spawn(n, i);
    uint64_t v = settle(n, ALL(3), 2000 * MS);
    for (uint32_t i = 0; i < k; i++) {
        send_next(n, 0);
        if (i % 4 == 0)
            step(n);
    }
    run_for(n, 200 * MS);
    size_t own = 0;
    for (size_t x = 0; x < n->nlog[0]; x++) {
        const entry_t *e = &n->log[0][x];
        if (e->type != COHORT_EVENT_MESSAGE || e->sender != 0)
            continue;
        assert_int_equal(e->index, own); /* once each, in order */
        assert_true(e->view_id == v);
        own++;
    }
    assert_int_equal(own, on ? k : 0);
    for (int r = 1; r < 3; r++)
        assert_int_equal(count_in_view(n, r, 0, v), k);
    check_vs(n);
    net_free(n);
}

static void test_self_delivery_on(void **state)
{
    (void)state;
    self_delivery_case(1);
}

static void test_self_delivery_off(void **state)
{
    (void)state;
    self_delivery_case(0);
}

/* ---- 5: a repair keeps its sending view ---- */

/* A record of view v lost to C and repaired by A after A installed
 * v + 1 is delivered by C as of v, before C's VIEW of v + 1. */
static void test_repair_keeps_sending_view(void **state)
{
    (void)state;
    net_t *n = net_new(4, 4);
    uint64_t v = settle(n, ALL(4), 2000 * MS);
    n->drop_types[0][2] = BIT(CO_TYPE_DATA);
    uint32_t x = send_next(n, 0);
    while (find_msg(n, 1, 0, x) < 0)
        step(n);
    /* A view change starts; C gets nothing of A's DATA until A has
     * installed the next view. */
    co_core_leave(n->cores[3], n->now_ns);
    drain_tx(n, 3);
    uint64_t end = n->now_ns + 1000 * MS;
    while (view_of(n, 0, NULL) == v) {
        assert_true(n->now_ns < end);
        step(n);
    }
    uint64_t w = view_of(n, 0, NULL);
    assert_true(find_msg(n, 2, 0, x) < 0);
    assert_true(view_of(n, 2, NULL) == v); /* C still flushing v */
    size_t retx = co_core_stats(n->cores[0])->retransmissions_sent;
    n->drop_types[0][2] = 0;
    assert_true(settle(n, ALL(3), 2000 * MS) == w);
    /* The repair came from A, in v+1, and names v. */
    assert_true(co_core_stats(n->cores[0])->retransmissions_sent > retx);
    long kc = find_msg(n, 2, 0, x);
    assert_true(kc >= 0);
    assert_true(n->log[2][kc].view_id == v);
    assert_true(kc < find_view(n, 2, w));
    assert_int_equal(count_in_view(n, 2, 0, w), 0);
    assert_int_equal(co_core_stats(n->cores[2])->flushes_abandoned, 0);
    check_vs(n);
    net_free(n);
}

/* ---- 6: a joiner starts after the cut ---- */

/* A joiner delivers nothing sent before its view: of each sender it
 * gets exactly the messages from the first one of its first common view. */
static void test_joiner_starts_after_cut(void **state)
{
    (void)state;
    net_t *n = net_new(4, 3);
    settle(n, ALL(3), 2000 * MS);
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 3; i++)
            send_next(n, i);
    spawn(n, 3);
    /* The old members keep sending through the join. */
    uint64_t end = n->now_ns + 2000 * MS;
    for (int round = 0; !converged(n, ALL(4)) || round < 40; round++) {
        assert_true(n->now_ns < end);
        for (int i = 0; i < 3; i++)
            send_next(n, i);
        run_for(n, 2 * MS);
    }
    run_for(n, 300 * MS);
    /* The first view of D's that holds s, and s's first message in it. */
    for (int s = 0; s < 3; s++) {
        uint64_t first = 0;
        for (size_t k = 0; k < n->nlog[3] && !first; k++)
            if (n->log[3][k].type == COHORT_EVENT_VIEW &&
                (n->log[3][k].members >> s & 1))
                first = n->log[3][k].view_id;
        assert_true(first != 0);
        uint32_t lowest = UINT32_MAX;
        for (uint32_t i = 0; i < n->sent[s]; i++)
            if (sending_view(n, s, i) == first) {
                lowest = i;
                break;
            }
        assert_true(lowest != UINT32_MAX && lowest > 0);
        /* Nothing sent before: D's first of s is s's first of that view. */
        long k0 = -1;
        for (size_t k = 0; k < n->nlog[3] && k0 < 0; k++)
            if (n->log[3][k].type == COHORT_EVENT_MESSAGE &&
                n->log[3][k].sender == s)
                k0 = (long)k;
        assert_true(k0 >= 0);
        assert_int_equal(n->log[3][k0].index, lowest);
        assert_true(n->log[3][k0].view_id == first);
        for (uint32_t i = 0; i < lowest; i++)
            assert_true(find_msg(n, 3, s, i) < 0);
        assert_int_equal(count_from(n, 3, s), n->sent[s] - lowest);
    }
    check_vs(n);
    net_free(n);
}

/* ---- 7: excluded while alive ---- */

/* C cut off long enough to be excluded: it never delivers the messages
 * of the view {A, B} formed without it; after the heal all agree again. */
static void test_excluded_member_never_delivers_new_view(void **state)
{
    (void)state;
    net_t *n = net_new(3, 3);
    uint64_t v = settle(n, ALL(3), 2000 * MS);
    n->cut[2] = 1;
    uint64_t w = settle(n, BIT(0) | BIT(1), 2000 * MS);
    assert_true(w > v);
    for (int r = 0; r < 10; r++) {
        send_next(n, 0);
        send_next(n, 1);
        send_next(n, 2); /* C sends on, in whatever view it has */
        run_for(n, 5 * MS);
    }
    run_for(n, 300 * MS);
    n->cut[2] = 0;
    uint64_t f = settle(n, ALL(3), 3000 * MS);
    assert_true(f > w);
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 3; i++)
            send_next(n, i);
    run_for(n, 300 * MS);
    /* C never delivers a message of {A, B}'s view, nor of any view it
     * did not install. */
    assert_true(find_view(n, 2, w) < 0);
    for (size_t k = 0; k < n->nlog[2]; k++)
        assert_true(n->log[2][k].type != COHORT_EVENT_MESSAGE ||
                    n->log[2][k].view_id != w);
    /* After the merge everyone has everyone's messages of the final view. */
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
            assert_int_equal(count_in_view(n, r, s, f), 5);
    check_vs(n);
    net_free(n);
}

/* ---- 8: an abandoned flush ---- */

/* The only holder of A's tail crashes right after the COMMIT: the flush
 * of the others cannot complete, is abandoned, and they still converge on
 * one view having delivered the same. */
static void test_abandoned_flush_converges(void **state)
{
    (void)state;
    const uint32_t k = 20, miss = 4;
    net_t *n = net_new(4, 4);
    uint64_t v = crash_mid_stream(n, k, miss, 0);
    /* B, the only holder of A's tail, crashes as soon as the COMMIT of
     * the change that leaves A out is on the wire (whoever coordinates). */
    size_t commits = 0;
    for (int i = 0; i < 4; i++)
        commits += n->emitted[i][CO_TYPE_COMMIT];
    uint64_t end = n->now_ns + 2000 * MS;
    for (size_t now = commits; now == commits;) {
        assert_true(n->now_ns < end);
        step(n);
        now = 0;
        for (int i = 0; i < 4; i++)
            now += n->emitted[i][CO_TYPE_COMMIT];
    }
    assert_int_equal(n->emitted[1][CO_TYPE_FORWARD], 0);
    crash(n, 1);
    uint64_t w = settle(n, BIT(2) | BIT(3), 5000 * MS);
    run_for(n, 200 * MS);
    assert_true(w > v);
    for (int r = 2; r <= 3; r++) {
        assert_true(co_core_stats(n->cores[r])->flushes_abandoned > 0);
        /* What they delivered of A is what they had: all in view v. */
        assert_int_equal(count_from(n, r, 0), k - miss);
        assert_int_equal(count_in_view(n, r, 0, v), k - miss);
    }
    check_vs(n);
    net_free(n);
}

/* ---- 9: records of another view, passed over ---- */

/* S answers the change that takes D in but never gets its COMMIT: the
 * others install the view with S in it, S gives the change up and sends
 * on in its old view, and crashes. A and B got those records (passed
 * over: they name a view before theirs), D lost them. The change that
 * leaves S out must not count them as the view's messages: before, A
 * and B reported S's stream through them, D was bound to fetch records
 * nobody kept, and every flush was abandoned (sim heavy 3126). */
static void test_other_view_records_not_in_cut(void **state)
{
    (void)state;
    const int s = 2, d = 3;
    net_t *n = net_new(4, 3);
    uint64_t v = settle(n, ALL(3), 2000 * MS);
    for (int i = 0; i < 4; i++)
        n->drop_types[i][s] = BIT(CO_TYPE_COMMIT) | BIT(CO_TYPE_INSTALLED);
    n->drop_types[s][d] = BIT(CO_TYPE_DATA);
    spawn(n, d);
    /* A, B and D install the view of all four; S only answered it. */
    uint64_t w = 0;
    for (uint64_t end = n->now_ns + 2000 * MS; n->now_ns < end;) {
        step(n);
        uint32_t m0, m1, m3;
        uint64_t a = view_of(n, 0, &m0), b = view_of(n, 1, &m1),
                 c = view_of(n, d, &m3);
        if (a == b && a == c && a > v && m0 == ALL(4) && m1 == ALL(4) &&
            m3 == ALL(4)) {
            w = a;
            break;
        }
    }
    assert_true(w > v);
    assert_int_equal(view_of(n, s, NULL), v);
    size_t before = n->emitted[s][CO_TYPE_DATA];
    for (int k = 0; k < 10; k++)
        send_next(n, s); /* held, then out in v once S gives up */
    for (uint64_t end = n->now_ns + 2000 * MS;
         n->emitted[s][CO_TYPE_DATA] < before + 3 && n->now_ns < end;)
        step(n);
    run_for(n, 2 * MS);
    assert_int_equal(view_of(n, s, NULL), v);
    crash(n, s);
    uint32_t rest = BIT(0) | BIT(1) | BIT(d);
    uint64_t x = settle(n, rest, 5000 * MS);
    assert_true(x > w);
    run_for(n, 100 * MS);
    for (int r = 0; r < 4; r++) {
        if (r == s)
            continue;
        assert_int_equal(co_core_stats(n->cores[r])->flushes_abandoned, 0);
        /* nothing of S's in the view it did not install */
        assert_int_equal(count_in_view(n, r, s, w), 0);
    }
    check_vs(n);
    net_free(n);
}

/* ---- 11: a full store gives way to the members' own reports ---- */

/* C's store of A's records is full of records whose stability it never
 * learned (A's window was pinned by C itself), and A's trail no longer
 * reaches it; then A and B are cut off and C must fetch the rest of A's
 * view-v messages from D. The store is released by what B and D reported
 * in v, so C delivers them all and installs the next view with D (sim
 * heavy 3814; before, C gave the flush up and went on without them). */
static void test_full_store_released_by_reports(void **state)
{
    (void)state;
    const int a = 0, c = 2, d = 3;
    net_t *n = net_new(4, 0);
    for (int i = 0; i < 4; i++) {
        n->send_window[i] = 6144; /* 128 records of 16 bytes */
        spawn(n, i);
    }
    uint64_t v = settle(n, ALL(4), 2000 * MS);
    /* Phase 1: C gets A's records, A never hears that C has them. */
    n->drop_types[c][a] = BIT(CO_TYPE_ACK) | BIT(CO_TYPE_HEARTBEAT);
    while (try_send(n, a) == 0)
        assert_true(n->sent[a] < 500);
    size_t first = n->sent[a];
    assert_true(first >= 20);
    for (uint64_t end = n->now_ns + 50 * MS;
         count_from(n, c, a) < first && n->now_ns < end;)
        step(n);
    assert_int_equal(count_from(n, c, a), first);
    /* Phase 2: A hears C again, C no longer hears A's stream. */
    n->drop_types[c][a] = 0;
    n->drop_types[a][c] = BIT(CO_TYPE_DATA) | BIT(CO_TYPE_HEARTBEAT);
    for (int k = 0; k < 30; k++)
        send_next(n, a);
    for (uint64_t end = n->now_ns + 50 * MS;
         (count_from(n, 1, a) < n->sent[a] || count_from(n, d, a) < n->sent[a])
         && n->now_ns < end;)
        step(n);
    assert_int_equal(count_from(n, d, a), n->sent[a]);
    run_for(n, 50 * MS); /* B's and D's reports reach C */
    assert_int_equal(count_from(n, c, a), first);
    assert_int_equal(view_of(n, c, NULL), v);
    /* Phase 3: A and B go; C fetches the rest of v from D. */
    n->cut[0] = n->cut[1] = 1;
    uint64_t w = settle(n, BIT(c) | BIT(d), 3000 * MS);
    assert_true(w > v);
    assert_int_equal(co_core_stats(n->cores[c])->flushes_abandoned, 0);
    assert_int_equal(count_from(n, c, a), n->sent[a]);
    assert_int_equal(count_in_view(n, c, a, v), n->sent[a]);
    check_vs(n);
    net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_survivors_complete),
        cmocka_unit_test(test_nothing_beyond_the_cut),
        cmocka_unit_test(test_held_sends_go_out_in_next_view),
        cmocka_unit_test(test_self_delivery_on),
        cmocka_unit_test(test_self_delivery_off),
        cmocka_unit_test(test_repair_keeps_sending_view),
        cmocka_unit_test(test_joiner_starts_after_cut),
        cmocka_unit_test(test_excluded_member_never_delivers_new_view),
        cmocka_unit_test(test_abandoned_flush_converges),
        cmocka_unit_test(test_other_view_records_not_in_cut),
        cmocka_unit_test(test_full_store_released_by_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
