/*
 * test_rpc.c - group request-reply (rpc.c): the completion rules and the
 * reply history on their own, then requests between cores on the in-test
 * network of corenet.h (group and one member, FIRST / MAJORITY / ALL /
 * NONE, large payloads, loss that forces repeats, a server that crashes,
 * a timeout), out of memory, and the RPC codecs' bad input.
 *
 * The application of every node answers each REQUEST with its node
 * number and the request's bytes, unless told to stay silent; it counts
 * how often it executed each (requester, request id), which must never
 * exceed one.
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
#include "core_internal.h" /* white box: the rpc state */
#include "rpc.h"
#include "wire.h"

#include "corenet.h"
#include "failmem.h"

#define ALL(k) ((1u << (k)) - 1)
#define RID_MAX 64
#define BIT_RPC (1u << (CO_TYPE_RPC - 32))

typedef struct app {
    int silent[MAXN];                  /* do not reply */
    int execs[MAXN][MAXN][RID_MAX];    /* [server][requester][rid] */
    int replies[MAXN][RID_MAX];        /* [requester][rid] REPLY events */
    int unanswered[MAXN][RID_MAX];
    int done[MAXN][RID_MAX];           /* DONE events */
    int result[MAXN][RID_MAX];
    uint32_t done_replies[MAXN][RID_MAX];
    uint64_t done_at[MAXN][RID_MAX];
    size_t reply_len[MAXN][RID_MAX];   /* of the last reply */
    int bad_reply;                     /* a reply that is not the echo */
    cohort_member_t pending_from[MAXN]; /* a silent node's last request */
    uint32_t pending_rid[MAXN];
} app_t;

static void hook(net_t *n, int node, const cohort_event_t *ev)
{
    app_t *a = n->app;
    if (ev->type == COHORT_EVENT_REQUEST) {
        uint32_t rid = ev->u.request.request;
        int from = node_of(ev->u.request.peer.id);
        assert_true(rid < RID_MAX);
        a->execs[node][from][rid]++;
        if (ev->u.request.flags & COHORT_REQUEST_NOREPLY)
            return;
        if (a->silent[node]) {
            a->pending_from[node] = ev->u.request.peer;
            a->pending_rid[node] = rid;
            return;
        }
        size_t len = ev->u.request.len + 1;
        uint8_t *r = malloc(len);
        assert_non_null(r);
        r[0] = (uint8_t)node;
        if (ev->u.request.len)
            memcpy(r + 1, ev->u.request.data, ev->u.request.len);
        int rc = co_core_reply(n->cores[node], n->now_ns, ev->u.request.peer,
                               rid, r, len);
        assert_true(rc == 0 || rc == COHORT_ERR_NOMEM); /* failmem */
        /* Once only. */
        if (rc == 0)
            assert_int_equal(co_core_reply(n->cores[node], n->now_ns,
                                           ev->u.request.peer, rid, r, len),
                             COHORT_ERR_STATE);
        free(r);
    } else if (ev->type == COHORT_EVENT_REPLY) {
        uint32_t rid = ev->u.request.request;
        assert_true(rid < RID_MAX);
        if (ev->u.request.flags & COHORT_REQUEST_UNANSWERED) {
            a->unanswered[node][rid]++;
            return;
        }
        a->replies[node][rid]++;
        a->reply_len[node][rid] = ev->u.request.len;
        const uint8_t *d = ev->u.request.data;
        if (ev->u.request.len < 1 ||
            d[0] != node_of(ev->u.request.peer.id))
            a->bad_reply++;
        for (size_t i = 1; i < ev->u.request.len; i++)
            if (d[i] != (uint8_t)(i * 7 + rid)) {
                a->bad_reply++;
                break;
            }
    } else if (ev->type == COHORT_EVENT_REQUEST_DONE) {
        uint32_t rid = ev->u.request.request;
        assert_true(rid < RID_MAX);
        a->done[node][rid]++;
        a->result[node][rid] = ev->u.request.result;
        a->done_replies[node][rid] = ev->u.request.replies;
        a->done_at[node][rid] = n->now_ns;
    }
}

static net_t *group(int nodes, app_t *a)
{
    memset(a, 0, sizeof *a);
    net_t *n = net_new(nodes, nodes);
    n->app = a;
    n->hook = hook;
    settle(n, ALL(nodes), 5000 * MS);
    return n;
}

/* A request whose payload byte i is i * 7 + rid (checked in replies). */
static int ask(net_t *n, int node, uint32_t to, cohort_mode_t mode,
               cohort_want_t want, size_t len, uint64_t timeout_ns)
{
    co_core_t *c = n->cores[node];
    uint32_t rid = c->rpc.next_rid; /* (white box: the id to come) */
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((i + 1) * 7 + rid); /* the echo is shifted by 1 */
    int rc = co_core_request(c, n->now_ns, to, mode, want, p, len,
                             timeout_ns, NULL);
    free(p);
    drain_tx(n, node);
    if (rc > 0)
        assert_int_equal((uint32_t)rc, rid);
    return rc;
}

static void run_until_done(net_t *n, int node, int rid, uint64_t max_ns)
{
    app_t *a = n->app;
    uint64_t end = n->now_ns + max_ns;
    while (!a->done[node][rid]) {
        assert_true(n->now_ns < end);
        step(n);
    }
}

static void no_double_execution(const app_t *a)
{
    for (int s = 0; s < MAXN; s++)
        for (int r = 0; r < MAXN; r++)
            for (int k = 0; k < RID_MAX; k++)
                assert_true(a->execs[s][r][k] <= 1);
    assert_int_equal(a->bad_reply, 0);
}

/* ------------------------------------------------------------------ */
/* Pure parts                                                          */
/* ------------------------------------------------------------------ */

static void test_completion_rules(void **state)
{
    (void)state;
    assert_int_equal(co_rpc_needed(COHORT_WANT_NONE, 5), 0);
    assert_int_equal(co_rpc_needed(COHORT_WANT_FIRST, 5), 1);
    assert_int_equal(co_rpc_needed(COHORT_WANT_MAJORITY, 5), 3);
    assert_int_equal(co_rpc_needed(COHORT_WANT_MAJORITY, 4), 3);
    assert_int_equal(co_rpc_needed(COHORT_WANT_MAJORITY, 1), 1);
    assert_int_equal(co_rpc_needed(COHORT_WANT_ALL, 5), 5);
    /* needed, replied, waiting */
    assert_int_equal(co_rpc_verdict(3, 3, 0), COHORT_REQUEST_COMPLETE);
    assert_int_equal(co_rpc_verdict(3, 2, 1), -1);
    assert_int_equal(co_rpc_verdict(3, 2, 0), COHORT_REQUEST_MEMBERS_LEFT);
    assert_int_equal(co_rpc_verdict(1, 0, 0), COHORT_REQUEST_MEMBERS_LEFT);
    assert_int_equal(co_rpc_verdict(1, 1, 4), COHORT_REQUEST_COMPLETE);
    assert_int_equal(co_rpc_verdict(0, 0, 0), COHORT_REQUEST_COMPLETE);
}

static co_rpc_hist_t *replied(co_rpc_history_t *h, uint32_t id,
                              uint32_t rid, size_t len)
{
    co_rpc_hist_t *e = co_rpc_history_add(h, id, 1, rid, CO_HIST_PENDING, 0);
    assert_non_null(e);
    assert_true(co_rpc_history_room(h, e, len));
    e->out.data = malloc(len);
    assert_non_null(e->out.data);
    e->out.len = (uint32_t)len;
    h->bytes += len;
    e->state = CO_HIST_REPLIED;
    return e;
}

static void test_history_bounds(void **state)
{
    (void)state;
    co_rpc_history_t h;
    assert_int_equal(co_rpc_history_init(&h, 16, 3000, 4, co_mem_libc()), 0);
    /* Bytes: the third 1000-byte reply pushes out... nothing; the fourth
     * makes the oldest an empty UNANSWERED reply, its entry kept. */
    co_rpc_hist_t *first = replied(&h, 7, 1, 1000);
    replied(&h, 7, 2, 1000);
    replied(&h, 7, 3, 1000);
    assert_int_equal(h.bytes, 3000);
    assert_int_equal(h.evictions, 0);
    replied(&h, 7, 4, 1000);
    assert_true(h.bytes <= 3000);
    assert_int_equal(h.evictions, 1);
    assert_int_equal(first->state, CO_HIST_REPLIED);
    assert_int_equal(first->out.len, 0);
    assert_int_equal(first->out.flags, CO_RPC_F_UNANSWERED);
    /* Larger than the whole bound: never. */
    assert_false(co_rpc_history_room(&h, NULL, 3001));
    assert_null(co_rpc_history_add(&h, 7, 1, 99, CO_HIST_ASSEMBLING, 3001));
    /* Entries: settle the four (tombstones), fill up with pending ones. */
    for (uint32_t rid = 1; rid <= 4; rid++)
        co_rpc_history_settle(&h, co_rpc_history_find(&h, 7, 1, rid));
    assert_int_equal(h.bytes, 0);
    for (uint32_t rid = 5; rid <= 16; rid++)
        assert_non_null(co_rpc_history_add(&h, 7, 1, rid, CO_HIST_PENDING, 0));
    assert_int_equal(h.count, 16);
    /* The 17th evicts the oldest tombstone (rid 1): a repeat of rid 1 is
     * refused from now on, never executed. */
    assert_int_equal(co_rpc_history_classify(&h, 7, 1, 1), CO_RPC_NEW);
    assert_non_null(co_rpc_history_add(&h, 7, 1, 17, CO_HIST_PENDING, 0));
    assert_int_equal(h.count, 16);
    assert_null(co_rpc_history_find(&h, 7, 1, 1));
    assert_int_equal(co_rpc_history_classify(&h, 7, 1, 1), CO_RPC_EVICTED);
    assert_int_equal(co_rpc_history_classify(&h, 7, 1, 18), CO_RPC_NEW);
    for (uint32_t rid = 18; rid <= 20; rid++)
        assert_non_null(co_rpc_history_add(&h, 7, 1, rid, CO_HIST_PENDING, 0));
    /* Only pending entries: no room, nothing changed. */
    assert_null(co_rpc_history_add(&h, 7, 1, 21, CO_HIST_PENDING, 0));
    assert_int_equal(h.count, 16);
    /* The requester's floor frees what lies below it (not pending). */
    co_rpc_hist_t *e5 = co_rpc_history_find(&h, 7, 1, 5);
    co_rpc_history_settle(&h, e5);
    co_rpc_history_floor(&h, 7, 1, 6);
    assert_null(co_rpc_history_find(&h, 7, 1, 5));
    assert_int_equal(co_rpc_history_classify(&h, 7, 1, 5), CO_RPC_OLD);
    assert_int_equal(h.count, 15);
    /* A new life of the requester starts afresh. */
    assert_non_null(co_rpc_history_add(&h, 7, 2, 1, CO_HIST_PENDING, 0));
    assert_int_equal(co_rpc_history_classify(&h, 7, 2, 2), CO_RPC_NEW);
    /* The scans stop at the last slot in use: it falls as the highest
     * entries go, and every entry stays below it. */
    assert_int_equal(h.hi, 16);
    for (uint32_t rid = 6; rid <= 20; rid++) {
        co_rpc_hist_t *e = co_rpc_history_find(&h, 7, 1, rid);
        if (e)
            co_rpc_history_remove(&h, e);
    }
    assert_int_equal(h.count, 1);
    assert_true(h.hi >= 1 && h.slots[h.hi - 1].state != 0);
    for (size_t i = h.hi; i < h.cap; i++)
        assert_int_equal(h.slots[i].state, 0);
    assert_non_null(co_rpc_history_find(&h, 7, 2, 1));
    co_rpc_history_remove(&h, co_rpc_history_find(&h, 7, 2, 1));
    assert_int_equal(h.hi, 0);
    co_rpc_history_free(&h);
}

static bool keep_none(void *arg, uint32_t id, uint32_t inc)
{
    (void)arg, (void)id, (void)inc;
    return false;
}

static void test_history_prune_and_oom(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_rpc_history_t h;
    fm.fail_at = 1;
    assert_int_not_equal(co_rpc_history_init(&h, 16, 4096, 4, &fm.mem), 0);
    co_rpc_history_free(&h);
    assert_int_equal(fm.live, 0);
    failmem_init(&fm);
    assert_int_equal(co_rpc_history_init(&h, 16, 4096, 4, &fm.mem), 0);
    co_rpc_hist_t *e = co_rpc_history_add(&h, 9, 1, 1, CO_HIST_ASSEMBLING,
                                          100);
    assert_non_null(e);
    /* The assembly buffer cannot be had: nothing taken, -1. */
    uint8_t piece[10] = {0};
    fm.fail_at = fm.calls + 1;
    assert_int_equal(co_rpc_in_take(&e->in, &fm.mem, 100, 0, piece, 10), -1);
    assert_false(e->in.started);
    assert_int_equal(co_rpc_in_take(&e->in, &fm.mem, 100, 0, piece, 10), 0);
    assert_true(e->in.started);
    h.bytes += 100;
    /* Out of order and changed totals are not taken. */
    assert_int_equal(co_rpc_in_take(&e->in, &fm.mem, 100, 50, piece, 10), 0);
    assert_int_equal(co_rpc_in_take(&e->in, &fm.mem, 99, 10, piece, 10), -2);
    assert_int_equal(e->in.have, 10);
    /* A prune forgets departed requesters only while more than half of
     * the requester table (4 here) is in use: with one requester, none. */
    co_rpc_hist_t *p = co_rpc_history_add(&h, 9, 1, 2, CO_HIST_PENDING, 0);
    assert_non_null(p);
    co_rpc_history_prune(&h, keep_none, NULL);
    assert_int_equal(h.count, 2);
    /* Three: the earliest goes, its pending entry stays. */
    assert_non_null(co_rpc_history_add(&h, 10, 1, 1, CO_HIST_PENDING, 0));
    co_rpc_hist_t *t = co_rpc_history_add(&h, 11, 1, 1, CO_HIST_PENDING, 0);
    assert_non_null(t);
    co_rpc_history_settle(&h, t);
    assert_int_equal(h.n_floors, 3);
    co_rpc_history_prune(&h, keep_none, NULL);
    assert_int_equal(h.n_floors, 2);
    assert_int_equal(h.count, 3); /* 9's assembly gone, its pending kept */
    assert_int_equal(h.bytes, 0);
    assert_non_null(co_rpc_history_find(&h, 9, 1, 2));
    assert_non_null(co_rpc_history_find(&h, 11, 1, 1));
    co_rpc_history_free(&h);
    assert_int_equal(fm.live, 0);
}

/* ------------------------------------------------------------------ */
/* Between cores                                                       */
/* ------------------------------------------------------------------ */

static void test_group_want(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(3, &a);
    static const cohort_mode_t modes[] = {COHORT_FIFO, COHORT_TOTAL,
                                          COHORT_SAFE};
    for (int m = 0; m < 3; m++) {
        int all = ask(n, 0, COHORT_TO_GROUP, modes[m], COHORT_WANT_ALL, 40,
                      5000 * MS);
        int maj = ask(n, 1, COHORT_TO_GROUP, modes[m], COHORT_WANT_MAJORITY,
                      40, 5000 * MS);
        int first = ask(n, 2, COHORT_TO_GROUP, modes[m], COHORT_WANT_FIRST,
                        0, 5000 * MS);
        assert_true(all > 0 && maj > 0 && first > 0);
        run_until_done(n, 0, all, 1000 * MS);
        run_until_done(n, 1, maj, 1000 * MS);
        run_until_done(n, 2, first, 1000 * MS);
        assert_int_equal(a.result[0][all], COHORT_REQUEST_COMPLETE);
        assert_int_equal(a.done_replies[0][all], 3);
        assert_int_equal(a.replies[0][all], 3);
        assert_int_equal(a.result[1][maj], COHORT_REQUEST_COMPLETE);
        assert_int_equal(a.done_replies[1][maj], 2);
        assert_int_equal(a.result[2][first], COHORT_REQUEST_COMPLETE);
        assert_int_equal(a.done_replies[2][first], 1);
        /* Executed once at every member, the requester too. */
        for (int s = 0; s < 3; s++) {
            assert_int_equal(a.execs[s][0][all], 1);
            assert_int_equal(a.execs[s][1][maj], 1);
            assert_int_equal(a.execs[s][2][first], 1);
        }
    }
    run_for(n, 200 * MS);
    /* Replies after DONE bring no event; every reply was acknowledged
     * (RRA), so no history holds a reply any more. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(n->cores[i]->rpc.hist.bytes, 0);
        assert_int_equal(n->cores[i]->rpc.n_reqs, 0);
        assert_int_equal(co_core_stats(n->cores[i])->requests_completed, 3);
    }
    /* NONE: DONE at once, executed everywhere, nothing kept. */
    int none = ask(n, 0, COHORT_TO_GROUP, COHORT_TOTAL, COHORT_WANT_NONE, 8,
                   UINT64_MAX);
    run_for(n, 200 * MS);
    assert_int_equal(a.result[0][none], COHORT_REQUEST_COMPLETE);
    for (int s = 0; s < 3; s++)
        assert_int_equal(a.execs[s][0][none], 1);
    assert_int_equal(n->cores[1]->rpc.hist.count, 0);
    no_double_execution(&a);
    net_free(n);
}

static void test_one_member_large(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(3, &a);
    /* Fragmented both ways: 20 kB out, 20 kB + 1 back. */
    int rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_ALL, 20000, 5000 * MS);
    assert_true(rid > 0);
    run_until_done(n, 0, rid, 1000 * MS);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_COMPLETE);
    assert_int_equal(a.replies[0][rid], 1);
    assert_int_equal(a.reply_len[0][rid], 20001);
    assert_int_equal(a.execs[1][0][rid], 1);
    assert_int_equal(a.execs[2][0][rid], 0);
    /* To itself, without the network. */
    int self = ask(n, 0, 100, COHORT_FIFO, COHORT_WANT_FIRST, 10, 5000 * MS);
    run_until_done(n, 0, self, 10 * MS);
    assert_int_equal(a.result[0][self], COHORT_REQUEST_COMPLETE);
    /* NONE to one member: DONE once it is accepted there. */
    int none = ask(n, 0, 102, COHORT_FIFO, COHORT_WANT_NONE, 10, 5000 * MS);
    run_until_done(n, 0, none, 1000 * MS);
    assert_int_equal(a.result[0][none], COHORT_REQUEST_COMPLETE);
    assert_int_equal(a.execs[2][0][none], 1);
    /* Bad calls. */
    co_core_t *c = n->cores[0];
    assert_int_equal(co_core_request(c, n->now_ns, 103, COHORT_FIFO,
                                     COHORT_WANT_ALL, "x", 1, MS, NULL),
                     COHORT_ERR_INVAL); /* not in the view */
    assert_int_equal(co_core_request(c, n->now_ns, 101, COHORT_TOTAL,
                                     COHORT_WANT_ALL, "x", 1, MS, NULL),
                     COHORT_ERR_INVAL); /* one member has no order */
    assert_int_equal(co_core_request(c, n->now_ns, 0, COHORT_UNRELIABLE,
                                     COHORT_WANT_ALL, "x", 1, MS, NULL),
                     COHORT_ERR_INVAL);
    assert_int_equal(co_core_request(c, n->now_ns, 0, COHORT_FIFO,
                                     (cohort_want_t)9, "x", 1, MS, NULL),
                     COHORT_ERR_INVAL);
    assert_int_equal(co_core_request(c, n->now_ns, 0, COHORT_FIFO,
                                     COHORT_WANT_ALL, NULL, 1, MS, NULL),
                     COHORT_ERR_INVAL);
    assert_int_equal(co_core_request(c, n->now_ns, 0, COHORT_FIFO,
                                     COHORT_WANT_ALL, "x",
                                     c->cfg.max_message, MS, NULL),
                     COHORT_ERR_TOOBIG);
    assert_int_equal(co_core_reply(c, n->now_ns, (cohort_member_t){101, 7},
                                   999, "x", 1),
                     COHORT_ERR_STATE);
    no_double_execution(&a);
    net_free(n);
}

static void test_loss_repeats_answered_from_history(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(2, &a);
    /* Everything RPC from 1 to 0 is lost for a while: 0 repeats its
     * request, 1 must answer the repeats from its history (RR). */
    n->drop_types_hi[1][0] = BIT_RPC;
    int rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 3000,
                  5000 * MS);
    run_for(n, 300 * MS);
    assert_int_equal(a.execs[1][0][rid], 1);
    assert_int_equal(a.done[0][rid], 0);
    assert_true(co_core_stats(n->cores[1])->requests_duplicate > 0);
    assert_true(n->cores[1]->rpc.hist.bytes > 0); /* the reply waits */
    n->drop_types_hi[1][0] = 0;
    run_until_done(n, 0, rid, 1000 * MS);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_COMPLETE);
    assert_int_equal(a.replies[0][rid], 1);
    run_for(n, 100 * MS);
    assert_int_equal(a.execs[1][0][rid], 1);
    /* RRA freed the reply; a tombstone stays until the floor passes. */
    assert_int_equal(n->cores[1]->rpc.hist.bytes, 0);
    /* The other way: the request's acknowledgement and the RRA lost. */
    n->drop_types_hi[0][1] = BIT_RPC;
    int rid2 = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_ALL, 10, 5000 * MS);
    run_for(n, 50 * MS);
    assert_int_equal(a.execs[1][0][rid2], 0);
    n->drop_types_hi[0][1] = 0;
    run_until_done(n, 0, rid2, 1000 * MS);
    assert_int_equal(a.result[0][rid2], COHORT_REQUEST_COMPLETE);
    run_for(n, 100 * MS);
    assert_int_equal(a.execs[1][0][rid2], 1);
    no_double_execution(&a);
    net_free(n);
}

static void test_members_leave(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(3, &a);
    a.silent[2] = 1;
    /* ALL of three, one silent: it crashes, so the request cannot
     * complete, and says so at the view change, long before its timeout. */
    int all = ask(n, 0, COHORT_TO_GROUP, COHORT_TOTAL, COHORT_WANT_ALL, 5,
                  60000 * MS);
    /* MAJORITY of three with the same silent member completes. */
    int maj = ask(n, 1, COHORT_TO_GROUP, COHORT_FIFO, COHORT_WANT_MAJORITY, 5,
                  60000 * MS);
    /* One member, the silent one. */
    int one = ask(n, 0, 102, COHORT_FIFO, COHORT_WANT_FIRST, 5, 60000 * MS);
    run_until_done(n, 1, maj, 1000 * MS);
    assert_int_equal(a.result[1][maj], COHORT_REQUEST_COMPLETE);
    run_for(n, 50 * MS);
    assert_int_equal(a.done[0][all], 0);
    assert_int_equal(a.execs[2][0][one], 1);
    uint64_t t0 = n->now_ns;
    crash(n, 2);
    run_until_done(n, 0, all, 2000 * MS);
    run_until_done(n, 0, one, 10 * MS);
    assert_int_equal(a.result[0][all], COHORT_REQUEST_MEMBERS_LEFT);
    assert_int_equal(a.done_replies[0][all], 2);
    assert_int_equal(a.result[0][one], COHORT_REQUEST_MEMBERS_LEFT);
    assert_true(a.done_at[0][all] - t0 < 2000 * MS);
    /* A request to a member no longer in the view is refused. */
    assert_int_equal(co_core_request(n->cores[0], n->now_ns, 102, COHORT_FIFO,
                                     COHORT_WANT_ALL, "x", 1, MS, NULL),
                     COHORT_ERR_INVAL);
    no_double_execution(&a);
    net_free(n);
}

static void test_timeout_and_close(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(2, &a);
    a.silent[1] = 1;
    int rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 5, 50 * MS);
    run_until_done(n, 0, rid, 200 * MS);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_TIMEDOUT);
    assert_int_equal(co_core_stats(n->cores[0])->requests_timed_out, 1);
    /* The late reply is acknowledged and brings no event. */
    assert_int_equal(co_core_reply(n->cores[1], n->now_ns, a.pending_from[1],
                                   a.pending_rid[1], "late", 4),
                     0);
    drain_tx(n, 1);
    run_for(n, 100 * MS);
    assert_int_equal(a.replies[0][rid], 0);
    assert_int_equal(n->cores[1]->rpc.hist.bytes, 0);
    /* Leaving ends what is in flight: CLOSED. */
    int open = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 5, 5000 * MS);
    co_core_leave(n->cores[0], n->now_ns);
    pull_events(n, 0);
    assert_int_equal(a.result[0][open], COHORT_REQUEST_CLOSED);
    assert_int_equal(co_core_request(n->cores[0], n->now_ns, 0, COHORT_FIFO,
                                     COHORT_WANT_ALL, "x", 1, MS, NULL),
                     COHORT_ERR_CLOSED);
    net_free(n);
}

/* The request of node 0 to node 1 in assembly there, or NULL. */
static const co_rpc_hist_t *assembling(net_t *n)
{
    const co_rpc_history_t *h = &n->cores[1]->rpc.hist;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slots[i].state == CO_HIST_ASSEMBLING)
            return &h->slots[i];
    return NULL;
}

static const co_rpc_req_t *in_flight(net_t *n, int rid)
{
    const co_rpc_t *r = &n->cores[0]->rpc;
    for (size_t i = 0; i < r->reqs_cap; i++)
        if (r->reqs[i].in_use && r->reqs[i].rid == (uint32_t)rid)
            return &r->reqs[i];
    return NULL;
}

static void test_abandoned_assembly_expires(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(2, &a);
    const co_rpc_history_t *h = &n->cores[1]->rpc.hist;
    /* Acknowledgements lost: member 1 gets the first window of a request
     * too large for one, and its requester gives up at its deadline. */
    n->drop_types_hi[1][0] = BIT_RPC;
    int rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 60000,
                  100 * MS);
    run_until_done(n, 0, rid, 300 * MS);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_TIMEDOUT);
    assert_non_null(assembling(n));
    assert_int_equal(h->bytes, 60000);
    /* Nothing more comes for it: after two member timeouts (150 ms
     * here) its bytes are free, nothing was executed or evicted. */
    run_for(n, 2 * 150 * MS + 20 * MS);
    assert_null(assembling(n));
    assert_int_equal(h->bytes, 0);
    assert_int_equal(h->evictions, 0);
    assert_int_equal(a.execs[1][0][rid], 0);
    n->drop_types_hi[1][0] = 0;

    /* A requester that still sends: member 1 lets the idle assembly go,
     * says it holds none of it, and the requester starts again. */
    rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 60000, 5000 * MS);
    const co_rpc_req_t *q = in_flight(n, rid);
    assert_non_null(q);
    uint64_t end = n->now_ns + 100 * MS;
    while (q->out.acked == 0 || q->out.acked == q->out.len) {
        assert_true(n->now_ns < end);
        step(n);
    }
    assert_non_null(assembling(n));
    n->drop_types_hi[0][1] = BIT_RPC;
    run_for(n, 2 * 150 * MS + 20 * MS);
    assert_null(assembling(n));
    assert_int_equal(h->bytes, 0);
    assert_int_equal(a.done[0][rid], 0);
    n->drop_types_hi[0][1] = 0;
    run_until_done(n, 0, rid, 1000 * MS);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_COMPLETE);
    assert_int_equal(a.replies[0][rid], 1);
    assert_int_equal(a.reply_len[0][rid], 60001);
    assert_int_equal(a.execs[1][0][rid], 1);
    no_double_execution(&a);
    net_free(n);
}

static void test_refused_at_once_done_once(void **state)
{
    (void)state;
    app_t a;
    memset(&a, 0, sizeof a);
    net_t *n = net_new(1, 0);
    n->app = &a;
    n->hook = hook;
    co_core_config_t cfg;
    config_for(&cfg, 0, 1);
    cfg.rpc_history_len = 16;
    assert_int_equal(co_core_new(&n->cores[0], &cfg, n->now_ns), 0);
    settle(n, ALL(1), 5000 * MS);
    co_core_t *c = n->cores[0];
    /* Sixteen requests to itself that its application does not answer
     * fill the history; the next one is refused at once, inside the
     * call: one DONE, and the request table stays right. */
    a.silent[0] = 1;
    for (int k = 0; k < 16; k++)
        assert_true(ask(n, 0, 100, COHORT_FIFO, COHORT_WANT_FIRST, 4,
                        5000 * MS) > 0);
    pull_events(n, 0);
    assert_int_equal(c->rpc.n_reqs, 16);
    int none = ask(n, 0, 100, COHORT_FIFO, COHORT_WANT_NONE, 4, 5000 * MS);
    int first = ask(n, 0, 100, COHORT_FIFO, COHORT_WANT_FIRST, 4, 5000 * MS);
    assert_true(none > 0 && first > 0);
    pull_events(n, 0);
    assert_int_equal(a.done[0][none], 1);
    assert_int_equal(a.done[0][first], 1);
    assert_int_equal(a.result[0][first], COHORT_REQUEST_MEMBERS_LEFT);
    assert_int_equal(a.unanswered[0][first], 1);
    assert_int_equal(c->rpc.n_reqs, 16);
    net_free(n); /* frees the 16 in flight: counted right */
}

/* The acknowledgement of a whole reply goes a little after the reply
 * reached the application, off its path: the member holds the reply
 * until then, and does not resend it meanwhile. */
static void test_reply_ack_later(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(2, &a);
    size_t replies_sent = n->emitted[1][CO_TYPE_RPC];
    int rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 5, 5000 * MS);
    run_until_done(n, 0, rid, 100 * MS);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_COMPLETE);
    assert_int_equal(n->cores[0]->rpc.n_owed, 1);
    assert_true(n->cores[1]->rpc.hist.bytes > 0);
    run_for(n, 2 * MS);
    assert_int_equal(n->cores[0]->rpc.n_owed, 0);
    assert_int_equal(n->cores[1]->rpc.hist.bytes, 0);
    assert_int_equal(n->emitted[1][CO_TYPE_RPC], replies_sent + 1);
    /* A next request to that member covers it: its floor frees the
     * reply there, and no acknowledgement goes at all. */
    rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 5, 5000 * MS);
    run_until_done(n, 0, rid, 100 * MS);
    size_t acks = n->emitted[0][CO_TYPE_RPC];
    int next = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 5, 5000 * MS);
    assert_int_equal(n->cores[0]->rpc.n_owed, 0);
    assert_int_equal(n->emitted[0][CO_TYPE_RPC], acks + 1); /* the REQ */
    run_until_done(n, 0, next, 100 * MS);
    assert_int_equal(n->cores[1]->rpc.hist.count, 1); /* next's reply */
    assert_int_equal(a.execs[1][0][rid], 1);
    assert_int_equal(a.execs[1][0][next], 1);
    run_for(n, 2 * MS);
    /* Owed ones go out when the member leaves. */
    rid = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_FIRST, 5, 5000 * MS);
    run_until_done(n, 0, rid, 100 * MS);
    assert_int_equal(n->cores[0]->rpc.n_owed, 1);
    size_t sent = n->emitted[0][CO_TYPE_RPC];
    co_core_leave(n->cores[0], n->now_ns);
    drain_tx(n, 0);
    assert_int_equal(n->cores[0]->rpc.n_owed, 0);
    assert_int_equal(n->emitted[0][CO_TYPE_RPC], sent + 1);
    net_free(n);
}

/* Node 0 is excluded while alive and its application took the warning:
 * its next life (co_core_successor) ends the request the old one had
 * open (CLOSED, its first event), goes on with request ids and counters
 * where the old one stopped, asks for the state again as the old one had,
 * and joins the others under its newer incarnation, which they list in
 * place of the old one. */
static void test_successor_ends_requests_and_rejoins(void **state)
{
    (void)state;
    app_t a;
    net_t *n = group(3, &a);
    a.silent[1] = a.silent[2] = 1;
    int rid = ask(n, 0, COHORT_TO_GROUP, COHORT_FIFO, COHORT_WANT_ALL, 10,
                  5000 * MS);
    assert_true(rid > 0);
    run_for(n, 50 * MS);
    assert_int_equal(a.done[0][rid], 0);
    co_core_t *old = n->cores[0];
    assert_int_equal(co_core_state_request(old, n->now_ns), 0);
    pull_events(n, 0);
    uint64_t sent = co_core_stats(old)->requests_sent;

    co_core_t *next = NULL;
    assert_int_equal(co_core_successor(old, &next, 7, 0, n->now_ns),
                     COHORT_ERR_INVAL); /* not newer */
    assert_null(next);
    assert_int_equal(co_core_successor(old, &next, 8, 0, n->now_ns), 0);
    co_core_free(old);
    n->cores[0] = next;
    assert_int_equal(co_core_self(next).incarnation, 8);
    assert_true(co_core_state_wanted(next));
    const struct cohort_stats *st = co_core_stats(next);
    assert_int_equal(st->rejoins, 1);
    assert_int_equal(st->requests_sent, sent);
    assert_int_equal(st->requests_failed, 1);
    pull_events(n, 0);
    assert_int_equal(a.done[0][rid], 1);
    assert_int_equal(a.result[0][rid], COHORT_REQUEST_CLOSED);
    assert_true(next->rpc.next_rid > (uint32_t)rid); /* (white box) */

    settle(n, ALL(3), 5000 * MS);
    for (int k = 0; k < 3; k++) {
        cohort_member_t m[MAXN];
        size_t cnt = co_core_view(n->cores[k], NULL, m, MAXN);
        assert_int_equal(cnt, 3);
        bool found = false;
        for (size_t j = 0; j < cnt; j++)
            if (m[j].id == 100) {
                assert_int_equal(m[j].incarnation, 8);
                found = true;
            }
        assert_true(found);
    }
    /* the old life's request is not ended twice */
    assert_int_equal(a.done[0][rid], 1);
    net_free(n);
}

static void test_request_table_bound_and_oom(void **state)
{
    (void)state;
    app_t a;
    memset(&a, 0, sizeof a);
    net_t *n = net_new(2, 0);
    n->app = &a;
    n->hook = hook;
    /* Node 0 with a failing allocator and two requests at most. */
    failmem_t fm;
    failmem_init(&fm);
    co_core_config_t cfg;
    config_for(&cfg, 0, 1);
    cfg.rpc_max_requests = 2;
    cfg.mem = &fm.mem;
    assert_int_equal(co_core_new(&n->cores[0], &cfg, n->now_ns), 0);
    spawn(n, 1);
    settle(n, ALL(2), 5000 * MS);
    co_core_t *c = n->cores[0];
    /* Out of memory at each allocation a request makes: NOMEM, and
     * nothing changed (no id used, nothing in flight). */
    uint32_t next = c->rpc.next_rid;
    size_t inflight = c->rpc.n_reqs;
    for (uint64_t k = 1; k <= 3; k++) {
        fm.fail_at = fm.calls + k;
        int rc = ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_ALL, 3, 5000 * MS);
        if (rc > 0) /* past the allocations it makes */
            break;
        assert_int_equal(rc, COHORT_ERR_NOMEM);
        assert_int_equal(c->rpc.next_rid, next);
        assert_int_equal(c->rpc.n_reqs, inflight);
    }
    fm.fail_at = 0;
    drain_tx(n, 0);
    while (c->rpc.n_reqs < 2)
        assert_true(ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_ALL, 3,
                        5000 * MS) > 0);
    assert_int_equal(co_core_request(c, n->now_ns, 101, COHORT_FIFO,
                                     COHORT_WANT_ALL, "abc", 3, 5000 * MS,
                                     NULL),
                     COHORT_ERR_AGAIN);
    drain_tx(n, 0);
    run_for(n, 300 * MS);
    assert_int_equal(c->rpc.n_reqs, 0);
    /* Every N-th allocation refused while requests flow both ways: no
     * crash, no leak, none executed twice. */
    fm.fail_every = 7;
    for (int i = 0; i < 10; i++) {
        (void)ask(n, 0, 101, COHORT_FIFO, COHORT_WANT_ALL, 3000, 200 * MS);
        (void)ask(n, 1, i % 2 ? 100 : COHORT_TO_GROUP, COHORT_FIFO,
                  COHORT_WANT_ALL, 3000, 200 * MS);
        run_for(n, 20 * MS);
    }
    fm.fail_every = 0;
    run_for(n, 2000 * MS);
    assert_int_equal(c->rpc.n_reqs, 0);
    no_double_execution(&a);
    co_core_free(n->cores[0]);
    n->cores[0] = NULL;
    assert_int_equal(fm.live, 0);
    net_free(n);
}

static void test_codecs(void **state)
{
    (void)state;
    uint8_t buf[64];
    co_rpcw_t w = {.kind = CO_RPCW_REPLY, .rid = 5, .target_id = 1,
                   .target_inc = 2, .total = 10, .offset = 4,
                   .piece = (const uint8_t *)"abcdef", .len = 6};
    size_t len = co_rpcw_encode(&w, buf);
    co_rpcw_t d;
    assert_int_equal(co_rpcw_decode(buf, len, &d), 0);
    assert_int_equal(d.rid, 5);
    assert_int_equal(d.offset, 4);
    assert_int_equal(d.len, 6);
    assert_memory_equal(d.piece, "abcdef", 6);
    /* Truncated; piece past its total; bad kind; rid 0; reserved set. */
    assert_int_equal(co_rpcw_decode(buf, 10, &d),
                     CO_DROP(COHORT_DROP_TRUNCATED));
    assert_int_equal(co_rpcw_decode(buf, len + 1, &d),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    buf[0] = 9;
    assert_int_equal(co_rpcw_decode(buf, len, &d),
                     CO_DROP(COHORT_DROP_BAD_TYPE));
    buf[0] = CO_RPCW_REPLY;
    buf[7] = 0;
    assert_int_equal(co_rpcw_decode(buf, len, &d),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    buf[7] = 5;
    buf[2] = 1;
    assert_int_equal(co_rpcw_decode(buf, len, &d),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    buf[2] = 0;
    /* An acknowledgement carries nothing after its fixed part. */
    co_rpcw_t ack = {.kind = CO_RPCW_REPLY_ACK, .rid = 5, .target_id = 1,
                     .target_inc = 2, .offset = 10, .floor = 3};
    len = co_rpcw_encode(&ack, buf);
    assert_int_equal(len, CO_RPCW_BYTES);
    assert_int_equal(co_rpcw_decode(buf, len, &d), 0);
    assert_int_equal(d.floor, 3);
    buf[1] = CO_RPC_F_UNANSWERED; /* not an ACK flag */
    assert_int_equal(co_rpcw_decode(buf, len, &d),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    /* Group header. */
    uint8_t g[CO_RPC_GROUP_BYTES];
    uint32_t rid, floor;
    uint8_t flags;
    co_rpc_group_encode(g, 9, 4, CO_RPC_F_NOREPLY);
    assert_int_equal(co_rpc_group_decode(g, sizeof g, &rid, &floor, &flags),
                     0);
    assert_int_equal(rid, 9);
    assert_int_equal(floor, 4);
    assert_int_equal(flags, CO_RPC_F_NOREPLY);
    assert_int_equal(co_rpc_group_decode(g, 11, &rid, &floor, &flags),
                     CO_DROP(COHORT_DROP_TRUNCATED));
    g[8] = 0x80;
    assert_int_equal(co_rpc_group_decode(g, sizeof g, &rid, &floor, &flags),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_rules),
        cmocka_unit_test(test_history_bounds),
        cmocka_unit_test(test_history_prune_and_oom),
        cmocka_unit_test(test_group_want),
        cmocka_unit_test(test_one_member_large),
        cmocka_unit_test(test_loss_repeats_answered_from_history),
        cmocka_unit_test(test_members_leave),
        cmocka_unit_test(test_timeout_and_close),
        cmocka_unit_test(test_abandoned_assembly_expires),
        cmocka_unit_test(test_refused_at_once_done_once),
        cmocka_unit_test(test_reply_ack_later),
        cmocka_unit_test(test_request_table_bound_and_oom),
        cmocka_unit_test(test_successor_ends_requests_and_rejoins),
        cmocka_unit_test(test_codecs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
