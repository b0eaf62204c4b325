/*
 * test_vs_check.c - the view and virtual-synchrony checker
 * (tests/sim/vs_check.c).
 *
 * Good histories must pass with no violation at all; each broken history
 * must fail with its property's text and no other property. Then a seeded
 * model of a group (views, crashes, joins, restarts, partitions, merges,
 * messages, each view change flushed the virtually synchronous way)
 * generates histories that must pass, and one mutation each (drop, move
 * into the next view, duplicate, reorder, forge) must make them fail with
 * the property the mutation breaks. The seed is printed on failure.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "vs_check.h"

static const cohort_member_t P = {1, 1}, Q = {2, 1}, R = {3, 1}, S = {4, 1};
static const cohort_member_t P2 = {1, 2}; /* P restarted */
static const cohort_member_t Q2 = {2, 2}; /* Q restarted */

static void dump(const vs_check_t *c)
{
    size_t n = vs_check_violations(c);
    for (size_t i = 0; i < n; i++) {
        const char *t = vs_check_violation(c, i);
        if (t == NULL) {
            fprintf(stderr, "  ... %zu more\n", n - i);
            break;
        }
        fprintf(stderr, "  %s\n", t);
    }
}

static vs_check_t *mk(bool self_delivery)
{
    vs_check_config_t cfg;
    vs_check_config_init(&cfg);
    cfg.self_delivery = self_delivery;
    vs_check_t *c = NULL;
    assert_int_equal(vs_check_new(&c, &cfg), 0);
    assert_non_null(c);
    return c;
}

static void expect_clean(vs_check_t *c)
{
    if (vs_check_violations(c) != 0)
        dump(c);
    assert_int_equal(vs_check_violations(c), 0);
    vs_check_free(c);
}

/* Fails unless every violation is of property p, there are `count` of them
 * (0: at least one), and the first text contains each of the words. */
static void expect_only_n(vs_check_t *c, vs_prop_t p, size_t count,
                          const char *word1, const char *word2)
{
    size_t n = vs_check_violations(c);
    bool ok = n > 0 && vs_check_count(c, p) == n && (count == 0 || n == count);
    const char *t = vs_check_violation(c, 0);
    const char *name = vs_check_prop_name(p);
    ok = ok && t != NULL && strncmp(t, name, strlen(name)) == 0;
    ok = ok && (word1 == NULL || strstr(t, word1) != NULL);
    ok = ok && (word2 == NULL || strstr(t, word2) != NULL);
    if (!ok) {
        fprintf(stderr, "expected only '%s' (%zu) with '%s' '%s', got %zu:\n",
                name, count, word1 ? word1 : "", word2 ? word2 : "", n);
        dump(c);
    }
    assert_true(ok);
    vs_check_free(c);
}

static void expect_only(vs_check_t *c, vs_prop_t p, const char *w1,
                        const char *w2)
{
    expect_only_n(c, p, 0, w1, w2);
}

/* Every member of the list installs the view. */
static void install_all(vs_check_t *c, uint64_t id, const cohort_member_t *m,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        vs_check_install(c, m[i], id, m, n, true);
}

/* Each receiver delivers sender#key tagged view. */
static void deliver_to(vs_check_t *c, const cohort_member_t *rx, size_t n,
                       cohort_member_t sender, uint64_t key, uint64_t view)
{
    for (size_t i = 0; i < n; i++)
        vs_check_delivered(c, rx[i], sender, key, view);
}

/* sender sends key in view and all of rx deliver it at once. */
static void bcast(vs_check_t *c, const cohort_member_t *rx, size_t n,
                  cohort_member_t sender, uint64_t key, uint64_t view)
{
    vs_check_sent(c, sender, key, view);
    deliver_to(c, rx, n, sender, key, view);
}

/* ------------------------------------------------------------------ */
/* Good histories                                                      */
/* ------------------------------------------------------------------ */
static void test_good_one_view(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q, R};
    install_all(c, 1, g, 3);
    vs_check_sent(c, P, 1, 1);
    vs_check_sent(c, P, 2, 1);
    vs_check_sent(c, Q, 1, 1);
    deliver_to(c, g, 3, Q, 1, 1);
    deliver_to(c, g, 3, P, 1, 1);
    deliver_to(c, g, 3, P, 2, 1);
    bcast(c, g, 3, R, 7, 1);
    vs_check_final(c, g, 3);
    expect_clean(c);
}

static void test_good_join(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q}, g2[] = {P, Q, R}, g3[] = {P, Q, R, S};
    install_all(c, 1, g1, 2);
    bcast(c, g1, 2, P, 1, 1);
    install_all(c, 2, g2, 3);
    bcast(c, g2, 3, R, 1, 2);
    install_all(c, 3, g3, 4);
    bcast(c, g3, 4, S, 1, 3);
    bcast(c, g3, 4, P, 2, 3);
    vs_check_final(c, g3, 4);
    expect_clean(c);
}

/* R crashes after some of its messages reached everyone, one reached only
 * P and Q before it died, one reached nobody: P and Q agree. */
static void test_good_crash(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    bcast(c, g1, 3, R, 1, 1);
    vs_check_sent(c, R, 2, 1);
    vs_check_sent(c, R, 3, 1);
    vs_check_delivered(c, P, R, 2, 1);
    vs_check_stopped(c, R);
    vs_check_delivered(c, Q, R, 2, 1); /* the flush gives it to Q too */
    install_all(c, 2, g2, 2);
    bcast(c, g2, 2, Q, 1, 2);
    vs_check_final(c, g2, 2);
    expect_clean(c);
}

/* {P Q R S} splits into {P Q} (view 2) and {R S} (view 3), each side goes
 * on, they merge into view 4 above both. */
static void test_good_partition_merge(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t all[] = {P, Q, R, S}, a[] = {P, Q}, b[] = {R, S};
    install_all(c, 1, all, 4);
    bcast(c, all, 4, S, 1, 1);
    vs_check_sent(c, P, 1, 1); /* reaches side a only */
    deliver_to(c, a, 2, P, 1, 1);
    install_all(c, 2, a, 2);
    install_all(c, 3, b, 2);
    bcast(c, a, 2, Q, 1, 2);
    vs_check_sent(c, S, 2, 3);
    deliver_to(c, b, 2, S, 2, 3);
    install_all(c, 4, all, 4);
    bcast(c, all, 4, R, 1, 4);
    vs_check_final(c, all, 4);
    expect_clean(c);
}

/* A restarted P is a new member: P.1's history ends, P.2 joins. */
static void test_good_restart(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q}, g2[] = {Q}, g3[] = {Q, P2};
    install_all(c, 1, g1, 2);
    bcast(c, g1, 2, P, 1, 1);
    vs_check_stopped(c, P);
    install_all(c, 2, g2, 1);
    install_all(c, 3, g3, 2);
    bcast(c, g3, 2, P2, 1, 3); /* same key, new incarnation: a new message */
    bcast(c, g3, 2, Q, 1, 3);
    vs_check_final(c, g3, 2);
    expect_clean(c);
}

/* Messages sent just before a view change are delivered by all survivors
 * before they install the next view, even after Q installed it. */
static void test_good_sent_before_change(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    vs_check_sent(c, P, 1, 1);
    vs_check_sent(c, R, 1, 1);
    vs_check_sent(c, P, 2, 1);
    vs_check_stopped(c, R);
    deliver_to(c, g2, 2, P, 1, 1);
    deliver_to(c, g2, 2, R, 1, 1);
    deliver_to(c, g2, 2, P, 2, 1);
    vs_check_install(c, Q, 2, g2, 2, true);
    vs_check_sent(c, Q, 1, 2); /* Q is in view 2 already */
    vs_check_install(c, P, 2, g2, 2, true);
    deliver_to(c, g2, 2, Q, 1, 2);
    vs_check_final(c, g2, 2);
    expect_clean(c);
}

/* The excluded-while-alive story: P, Q, R in view 1; Q and R go on to
 * view 2 without P (P was stopped); view 3 merges them. P must report Q
 * and R as joined (they come from view 2, not from its view 1); Q reports
 * R as coming along and P as joined. */
static void merge_history(vs_check_t *c, bool p_claims_along, bool p_first)
{
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {Q, R}, g3[] = {P, Q, R};
    const cohort_member_t qr[] = {Q, R}, p[] = {P};
    install_all(c, 1, g1, 3);
    install_all(c, 2, g2, 2);
    if (p_first) {
        vs_check_install(c, P, 3, g3, 3, true);
        vs_check_joined(c, P, 3, qr, p_claims_along ? 0 : 2);
    }
    vs_check_install(c, Q, 3, g3, 3, true);
    vs_check_joined(c, Q, 3, p, 1);
    vs_check_install(c, R, 3, g3, 3, true);
    vs_check_joined(c, R, 3, p, 1);
    if (!p_first) {
        vs_check_install(c, P, 3, g3, 3, true);
        vs_check_joined(c, P, 3, qr, p_claims_along ? 0 : 2);
    }
}

static void test_good_transitional(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    merge_history(c, false, true);
    expect_clean(c);
    c = mk(true);
    merge_history(c, false, false);
    expect_clean(c);
}

/* P says Q and R came along from view 1: caught whether they install the
 * merged view before P reports it or after. */
static void test_bad_transitional(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    merge_history(c, true, true);
    expect_only_n(c, VS_PROP_TRANSITIONAL, 2, "reported 2.1 as coming along",
                  "came from view 2");
    c = mk(true);
    merge_history(c, true, false);
    expect_only_n(c, VS_PROP_TRANSITIONAL, 2, "reported 2.1 as coming along",
                  "came from view 2");
}

/* A member claimed to come along whose merged view is its first. */
static void test_bad_transitional_fresh(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q}, g2[] = {P, Q2};
    install_all(c, 1, g1, 2);
    vs_check_stopped(c, Q);
    vs_check_install(c, P, 2, g2, 2, true);
    vs_check_joined(c, P, 2, NULL, 0); /* Q2 is not Q: not in view 1 */
    vs_check_install(c, Q2, 2, g2, 2, true);
    vs_check_joined(c, Q2, 2, NULL, 0);
    expect_clean(c);
    c = mk(true);
    const cohort_member_t h1[] = {P, R}, h2[] = {P, R};
    vs_check_install(c, P, 1, h1, 2, true);
    vs_check_install(c, P, 2, h2, 2, true);
    vs_check_joined(c, P, 2, NULL, 0);
    vs_check_install(c, R, 2, h2, 2, true); /* R never installed view 1 */
    expect_only_n(c, VS_PROP_TRANSITIONAL, 1, "reported 3.1", "no view");
}

static void test_good_self_delivery_off(void **state)
{
    (void)state;
    vs_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q}, g2[] = {P, Q, R};
    install_all(c, 1, g1, 2);
    vs_check_sent(c, P, 1, 1);
    vs_check_delivered(c, Q, P, 1, 1);
    install_all(c, 2, g2, 3);
    vs_check_sent(c, R, 1, 2);
    vs_check_delivered(c, P, R, 1, 2);
    vs_check_delivered(c, Q, R, 1, 2);
    vs_check_final(c, g2, 3);
    expect_clean(c);
}

/* Two components at the end, each checked on its own. */
static void test_good_two_components(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t all[] = {P, Q, R}, a[] = {P}, b[] = {Q, R};
    install_all(c, 1, all, 3);
    install_all(c, 2, a, 1);
    install_all(c, 3, b, 2);
    bcast(c, b, 2, Q, 1, 3);
    vs_check_final(c, a, 1);
    vs_check_final(c, b, 2);
    expect_clean(c);
}

/* ------------------------------------------------------------------ */
/* One broken history per property                                     */
/* ------------------------------------------------------------------ */
static void test_bad_self_inclusion(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {Q, R};
    vs_check_install(c, P, 1, g, 2, true);
    expect_only_n(c, VS_PROP_SELF_INCLUSION, 1, "1.1 installed view 1",
                  "[2.1 3.1]");
}

static void test_bad_monotonic(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P};
    vs_check_install(c, P, 5, g, 1, true);
    vs_check_install(c, P, 3, g, 1, true);
    vs_check_install(c, P, 3, g, 1, true); /* equal is not an increase */
    expect_only_n(c, VS_PROP_MONOTONIC, 2, "view 3 after view 5", NULL);
}

/* Q goes 1 -> 2 three times: reported as monotonic, and P's move 1 -> 2
 * compares with Q once (the checker must not overrun its peer list). */
static void test_bad_monotonic_repeated_views(void **state)
{
    (void)state;
    vs_check_config_t cfg;
    vs_check_config_init(&cfg);
    cfg.max_members = 2;
    cfg.max_views = 8;
    vs_check_t *c = NULL;
    assert_int_equal(vs_check_new(&c, &cfg), 0);
    const cohort_member_t g[] = {P, Q};
    for (int i = 0; i < 3; i++) {
        vs_check_install(c, Q, 1, g, 2, true);
        vs_check_install(c, Q, 2, g, 2, true);
    }
    vs_check_install(c, P, 1, g, 2, true);
    vs_check_install(c, P, 2, g, 2, true);
    expect_only_n(c, VS_PROP_MONOTONIC, 2, "2.1 installed view 1 after view 2",
                  NULL);
}

static void test_bad_agreement_order(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q}, h[] = {Q, P};
    vs_check_install(c, P, 1, g, 2, true);
    vs_check_install(c, Q, 1, h, 2, true);
    expect_only_n(c, VS_PROP_AGREEMENT, 1, "view 1 installed by 2.1 as [2.1 1.1]",
                  "by 1.1 as [1.1 2.1]");
}

static void test_bad_agreement_members_primary(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q}, h[] = {P, Q, R};
    vs_check_install(c, P, 1, g, 2, true);
    vs_check_install(c, Q, 1, g, 2, false);
    vs_check_install(c, R, 1, h, 3, true);
    expect_only_n(c, VS_PROP_AGREEMENT, 2, "as [1.1 2.1], by 1.1", "primary");
}

/* Named by (id, proposer incarnation): two lives of member 7 may each
 * form view 1:7 alone; by the id alone that is a disagreement. The same
 * proposer life with two lists is one still. */
static void test_proposer_named(void **state)
{
    (void)state;
    const uint64_t id = (uint64_t)1 << 32 | 7;
    const cohort_member_t a = {7, 1}, b = {7, 2}, q = {8, 1};
    for (int named = 0; named < 2; named++) {
        vs_check_config_t cfg;
        vs_check_config_init(&cfg);
        cfg.proposer_named = named;
        vs_check_t *c = NULL;
        assert_int_equal(vs_check_new(&c, &cfg), 0);
        vs_check_install(c, a, id, &a, 1, true);
        vs_check_install(c, b, id, &b, 1, true);
        if (named)
            expect_clean(c);
        else
            expect_only_n(c, VS_PROP_AGREEMENT, 1, "installed by 7.2", NULL);
    }
    vs_check_config_t cfg;
    vs_check_config_init(&cfg);
    cfg.proposer_named = true;
    vs_check_t *c = NULL;
    assert_int_equal(vs_check_new(&c, &cfg), 0);
    const cohort_member_t g[] = {a, q};
    vs_check_install(c, a, id, g, 2, true);
    vs_check_install(c, q, id, &q, 1, true); /* no proposer: another view */
    const cohort_member_t r = {9, 1}, h[] = {a, r};
    vs_check_install(c, r, id, h, 2, true); /* same proposer life, other list */
    expect_only_n(c, VS_PROP_AGREEMENT, 1, "installed by 9.1", NULL);
}

/* P and Q move 1 -> 2 but Q misses R's message that P delivered in 1. */
static void test_bad_synchrony(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    vs_check_sent(c, R, 9, 1);
    vs_check_delivered(c, P, R, 9, 1);
    vs_check_stopped(c, R);
    install_all(c, 2, g2, 2);
    vs_check_final(c, g2, 2);
    expect_only_n(c, VS_PROP_SYNCHRONY, 1,
                  "2.1 moved view 1 -> 2 without delivering 3.1#9",
                  "that 1.1 delivered");
}

/* The one that has the message moves last: the ones before it are named. */
static void test_bad_synchrony_reported_late(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q, R, S}, g2[] = {P, Q, R};
    install_all(c, 1, g1, 4);
    vs_check_sent(c, S, 9, 1);
    vs_check_delivered(c, R, S, 9, 1);
    vs_check_stopped(c, S);
    install_all(c, 2, g2, 3); /* P, Q, then R, which has it */
    expect_only_n(c, VS_PROP_SYNCHRONY, 2, "1.1 moved view 1 -> 2", "3.1 delivered");
}

/* R sent 9 in view 1 and crashed; P delivers it in view 2. */
static void test_bad_sending_view_later(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    vs_check_sent(c, R, 9, 1);
    vs_check_stopped(c, R);
    install_all(c, 2, g2, 2);
    vs_check_delivered(c, P, R, 9, 1);
    vs_check_final(c, g2, 2);
    expect_only_n(c, VS_PROP_SENDING_VIEW, 1,
                  "1.1 delivered 3.1#9 in view 2", "sent in view 1");
}

/* Delivered in the right view but the event names another one. */
static void test_bad_sending_view_tag(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    vs_check_sent(c, P, 1, 1);
    vs_check_delivered(c, P, P, 1, 1);
    vs_check_delivered(c, Q, P, 1, 7);
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_SENDING_VIEW, 1, "tagged view 7", NULL);
}

static void test_bad_in_view_before_first(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P};
    install_all(c, 1, g, 1);
    bcast(c, g, 1, P, 1, 1);
    vs_check_delivered(c, Q, P, 1, 1);
    vs_check_sent(c, R, 1, 5); /* (view 0 would be a held send: legal) */
    expect_only_n(c, VS_PROP_IN_VIEW, 2, "2.1 delivered 1.1#1 before its first view",
                  NULL);
}

static void test_bad_in_view_after_stop(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    vs_check_sent(c, P, 1, 1);
    vs_check_stopped(c, Q);
    vs_check_delivered(c, Q, P, 1, 1);
    vs_check_install(c, Q, 2, g, 2, true);
    expect_only_n(c, VS_PROP_IN_VIEW, 2, "after it stopped", NULL);
}

static void test_bad_in_view_sent_tag(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P};
    install_all(c, 1, g, 1);
    vs_check_sent(c, P, 1, 2);
    expect_only_n(c, VS_PROP_IN_VIEW, 1, "1.1 sent #1 tagged view 2 while in view 1",
                  NULL);
}

/* Q is told P is not in view 1 (a broken install), then delivers from P. */
static void test_bad_in_view_sender_outside(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q}, h[] = {Q};
    vs_check_install(c, P, 1, g, 2, true);
    vs_check_install(c, Q, 1, h, 1, true); /* agreement: expected */
    vs_check_sent(c, P, 1, 1);
    vs_check_delivered(c, P, P, 1, 1);
    vs_check_delivered(c, Q, P, 1, 1);
    assert_int_equal(vs_check_count(c, VS_PROP_AGREEMENT), 1);
    assert_int_equal(vs_check_count(c, VS_PROP_IN_VIEW), 1);
    assert_int_equal(vs_check_violations(c), 2);
    assert_non_null(strstr(vs_check_violation(c, 1), "does not contain 1.1"));
    vs_check_free(c);
}

static void test_bad_duplicate(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    bcast(c, g, 2, P, 1, 1);
    vs_check_delivered(c, Q, P, 1, 1);
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_EXACTLY_ONCE, 1, "2.1 delivered 1.1#1 again", NULL);
}

static void test_bad_fifo_inversion(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    vs_check_sent(c, P, 1, 1);
    vs_check_sent(c, P, 2, 1);
    vs_check_delivered(c, P, P, 1, 1);
    vs_check_delivered(c, P, P, 2, 1);
    vs_check_delivered(c, Q, P, 2, 1);
    vs_check_delivered(c, Q, P, 1, 1);
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_FIFO, 1, "2.1 delivered 1.1#2 before 1.1#1", NULL);
}

/* A gap that is never filled is a FIFO violation too. */
static void test_bad_fifo_gap(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {Q};
    install_all(c, 1, g1, 3);
    vs_check_sent(c, P, 1, 1);
    vs_check_sent(c, P, 2, 1);
    vs_check_stopped(c, P);
    vs_check_stopped(c, R);
    vs_check_delivered(c, Q, P, 2, 1);
    install_all(c, 2, g2, 1);
    vs_check_final(c, g2, 1);
    expect_only_n(c, VS_PROP_FIFO, 1, "before 1.1#1", NULL);
}

static void test_bad_self_delivery_missing(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    vs_check_sent(c, P, 1, 1);
    vs_check_delivered(c, Q, P, 1, 1);
    install_all(c, 2, g, 2);
    vs_check_sent(c, P, 2, 2);
    vs_check_delivered(c, Q, P, 2, 2);
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_SELF_DELIVERY, 2,
                  "1.1 sent #1 in view 1 and moved to view 2 without", NULL);
}

static void test_bad_self_delivery_when_off(void **state)
{
    (void)state;
    vs_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    bcast(c, g, 2, P, 1, 1);
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_SELF_DELIVERY, 1, "its own #1 though self-delivery is off",
                  NULL);
}

static void test_bad_liveness_stuck(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g1[] = {P, Q}, g2[] = {P, Q};
    install_all(c, 1, g1, 2);
    vs_check_install(c, P, 2, g2, 2, true);
    vs_check_final(c, g1, 2);
    expect_only_n(c, VS_PROP_LIVENESS, 1, "2.1 ended in view 1, 1.1 in view 2", NULL);
}

static void test_bad_liveness_component(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q, R}, live[] = {P, Q, S};
    install_all(c, 1, g, 3);
    const cohort_member_t s[] = {S};
    install_all(c, 2, s, 1);
    vs_check_final(c, live, 2); /* R listed, not live */
    vs_check_final(c, live, 3); /* and S live, in another view */
    expect_only_n(c, VS_PROP_LIVENESS, 5,
                  "final view 1 lists 3.1, which is not in the live", NULL);
}

static void test_bad_liveness_undelivered(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    vs_check_sent(c, P, 1, 1);
    vs_check_delivered(c, P, P, 1, 1);
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_LIVENESS, 1,
                  "2.1 never delivered 1.1#1 sent in its final view 1", NULL);
}

static void test_bad_liveness_never_joined(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P}, live[] = {P, Q};
    install_all(c, 1, g, 1);
    vs_check_final(c, live, 2);
    assert_true(vs_check_violations(c) >= 1);
    expect_only(c, VS_PROP_LIVENESS, "2.1 is live at the end but never installed",
                NULL);
}

static void test_bad_forgery(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    bcast(c, g, 2, P, 1, 1);
    vs_check_delivered(c, Q, P, 99, 1); /* unknown key */
    vs_check_delivered(c, Q, R, 1, 1);  /* unknown sender */
    vs_check_final(c, g, 2);
    expect_only_n(c, VS_PROP_FORGERY, 2,
                  "2.1 delivered 1.1#99 (view 1), which was never sent", NULL);
}

static void test_bad_input_key_twice(void **state)
{
    (void)state;
    vs_check_t *c = mk(true);
    const cohort_member_t g[] = {P};
    install_all(c, 1, g, 1);
    bcast(c, g, 1, P, 1, 1);
    vs_check_sent(c, P, 1, 1);
    vs_check_final(c, g, 1);
    expect_only_n(c, VS_PROP_INPUT, 1, "1.1 sent #1 twice", NULL);
}

/* ------------------------------------------------------------------ */
/* Capacity                                                            */
/* ------------------------------------------------------------------ */
static vs_check_t *mk_small(size_t members, size_t views, size_t msgs)
{
    vs_check_config_t cfg;
    vs_check_config_init(&cfg);
    cfg.max_members = members;
    cfg.max_views = views;
    cfg.max_msgs = msgs;
    vs_check_t *c = NULL;
    assert_int_equal(vs_check_new(&c, &cfg), 0);
    return c;
}

static void test_capacity_members(void **state)
{
    (void)state;
    vs_check_t *c = mk_small(2, 4, 4);
    const cohort_member_t g[] = {P, Q, R};
    const cohort_member_t two[] = {P, Q};
    install_all(c, 1, two, 2);
    vs_check_install(c, R, 2, g, 3, true); /* view too large */
    vs_check_install(c, P, 1, g, 1, true); /* ignored from now on */
    vs_check_final(c, g, 3);
    expect_only_n(c, VS_PROP_CAPACITY, 1, "more than max_members 2",
                  "checking stopped");
    c = mk_small(2, 4, 4);
    install_all(c, 1, two, 2);
    vs_check_sent(c, R, 1, 1); /* a third incarnation */
    expect_only_n(c, VS_PROP_CAPACITY, 1, "member 3.1 is one more", NULL);
}

static void test_capacity_views_msgs(void **state)
{
    (void)state;
    vs_check_t *c = mk_small(2, 2, 4);
    const cohort_member_t g[] = {P};
    for (uint64_t v = 1; v <= 3; v++)
        vs_check_install(c, P, v, g, 1, true);
    expect_only_n(c, VS_PROP_CAPACITY, 1, "one more than max_views 2", NULL);
    c = mk_small(2, 2, 2);
    install_all(c, 1, g, 1);
    for (uint64_t k = 1; k <= 3; k++)
        bcast(c, g, 1, P, k, 1);
    vs_check_final(c, g, 1);
    expect_only_n(c, VS_PROP_CAPACITY, 1, "1.1#3 is one more than max_msgs 2",
                  NULL);
}

/* No memory: -1, *out untouched, nothing leaked (also under ASan). */
static void test_new_fails(void **state)
{
    (void)state;
    vs_check_config_t cfg;
    vs_check_config_init(&cfg);
    assert_int_equal(cfg.max_members, 16);
    assert_true(cfg.self_delivery);
    vs_check_t *c = (vs_check_t *)&cfg;
    cfg.max_members = (size_t)1 << 20;
    cfg.max_views = (size_t)1 << 11; /* the view member pool: 2^54 bytes */
    assert_int_equal(vs_check_new(&c, &cfg), -1);
    assert_ptr_equal(c, (vs_check_t *)&cfg);
    vs_check_config_init(&cfg);
    cfg.max_msgs = SIZE_MAX / 2; /* more than 32-bit indices hold */
    assert_int_equal(vs_check_new(&c, &cfg), -1);
    assert_ptr_equal(c, (vs_check_t *)&cfg);
    vs_check_free(NULL);
}

/* Only max_texts texts are kept; all are counted. */
static void test_texts_bounded(void **state)
{
    (void)state;
    vs_check_config_t cfg;
    vs_check_config_init(&cfg);
    cfg.max_texts = 3;
    vs_check_t *c = NULL;
    assert_int_equal(vs_check_new(&c, &cfg), 0);
    const cohort_member_t g[] = {P};
    install_all(c, 1, g, 1);
    for (uint64_t k = 1; k <= 10; k++)
        vs_check_delivered(c, P, P, k, 1);
    assert_int_equal(vs_check_violations(c), 10);
    assert_int_equal(vs_check_count(c, VS_PROP_FORGERY), 10);
    assert_non_null(vs_check_violation(c, 2));
    assert_null(vs_check_violation(c, 3));
    assert_null(vs_check_violation(c, 10));
    vs_check_free(c);
}

/* ------------------------------------------------------------------ */
/* The seeded model                                                    */
/* ------------------------------------------------------------------ */
/* A group of G_IDS member ids, at most G_MAX_INC incarnations each. Every
 * live member is in exactly one view; a view change flushes the old view
 * for the members that move together the virtually synchronous way: each
 * delivers, per sender, up to the same prefix of the sender's messages
 * (all of them for a sender that moves along, at least what any of them
 * delivered for one that does not), then all install the new view. */
#define G_IDS 5
#define G_MAX_INC 3
#define G_MAX_VIEWS 40
#define G_MAX_PER 12 /* messages per sender per view */
#define G_MAX_EVS 4096
#define G_SEEDS 400

typedef enum { EV_INSTALL, EV_SENT, EV_DELIVERED, EV_STOPPED } ev_type_t;

typedef struct ev {
    ev_type_t type;
    cohort_member_t who;
    cohort_member_t sender; /* DELIVERED */
    uint64_t key;           /* SENT, DELIVERED */
    uint64_t view_id;       /* INSTALL, SENT, DELIVERED (the tag) */
    cohort_member_t members[G_IDS]; /* INSTALL */
    size_t n;
    bool primary;
} ev_t;

typedef struct gview {
    uint64_t id;
    bool primary;
    size_t n;
    cohort_member_t mem[G_IDS];
    size_t cnt[G_IDS]; /* messages mem[i] sent in it */
    uint64_t keys[G_IDS][G_MAX_PER];
} gview_t;

typedef struct gmem {
    uint32_t inc; /* 0: never started */
    bool up;
    size_t view, pos;
    uint64_t next_key;
    size_t dcnt[G_IDS]; /* delivered from each position of its view */
    bool flushing;      /* leaving its view: deliver up to flush first */
    size_t flush[G_IDS];
} gmem_t;

typedef struct gen {
    co_rng_t rng;
    bool self;
    gmem_t m[G_IDS];
    gview_t v[G_MAX_VIEWS + 4];
    size_t nviews;
    ev_t ev[G_MAX_EVS];
    size_t nev;
    cohort_member_t live[G_IDS];
    size_t nlive;
    size_t splits, merges, joins, crashes;
} gen_t;

static cohort_member_t g_who(const gen_t *g, size_t id)
{
    cohort_member_t w = {(uint32_t)id + 1, g->m[id].inc};
    return w;
}

static ev_t *g_emit(gen_t *g, ev_type_t type, cohort_member_t who)
{
    assert_true(g->nev < G_MAX_EVS);
    ev_t *e = &g->ev[g->nev++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->who = who;
    return e;
}

/* Up members of view vi, in the view's order, into ids. */
static size_t g_ups(const gen_t *g, size_t vi, size_t *ids)
{
    size_t n = 0;
    const gview_t *v = &g->v[vi];
    for (size_t p = 0; p < v->n; p++) {
        size_t id = v->mem[p].id - 1;
        if (g->m[id].up && g->m[id].inc == v->mem[p].incarnation &&
            g->m[id].view == vi)
            ids[n++] = id;
    }
    return n;
}

/* Views with an up member, in index order. */
static size_t g_active(const gen_t *g, size_t *vis)
{
    size_t n = 0, ids[G_IDS];
    for (size_t vi = 0; vi < g->nviews; vi++)
        if (g_ups(g, vi, ids) > 0)
            vis[n++] = vi;
    return n;
}

static void g_deliver_one(gen_t *g, size_t id, size_t pos)
{
    gmem_t *m = &g->m[id];
    gview_t *v = &g->v[m->view];
    assert_true(m->dcnt[pos] < v->cnt[pos]);
    if (!g->self && pos == m->pos) {
        m->dcnt[pos]++;
        return;
    }
    ev_t *e = g_emit(g, EV_DELIVERED, g_who(g, id));
    e->sender = v->mem[pos];
    e->key = v->keys[pos][m->dcnt[pos]++];
    e->view_id = v->id;
}

static void g_send_by(gen_t *g, size_t id)
{
    gmem_t *m = &g->m[id];
    gview_t *v = &g->v[m->view];
    if (v->cnt[m->pos] == G_MAX_PER)
        return;
    ev_t *e = g_emit(g, EV_SENT, g_who(g, id));
    e->key = ++m->next_key;
    e->view_id = v->id;
    v->keys[m->pos][v->cnt[m->pos]++] = e->key;
}

/* The members ids install a new view, one at a time in a random order:
 * each first delivers what its flush owes, and those already in the new
 * view may send and deliver in it while the others are still in theirs. */
static void g_install(gen_t *g, const size_t *ids, size_t n)
{
    assert_true(g->nviews < G_MAX_VIEWS + 4 && n > 0 && n <= G_IDS);
    size_t vi = g->nviews++;
    gview_t *v = &g->v[vi];
    memset(v, 0, sizeof *v);
    v->id = vi == 0 ? 1 : g->v[vi - 1].id + 1 + co_rng_below(&g->rng, 3);
    v->primary = co_rng_below(&g->rng, 2) == 0;
    v->n = n;
    for (size_t i = 0; i < n; i++)
        v->mem[i] = g_who(g, ids[i]);
    size_t order[G_IDS];
    for (size_t i = 0; i < n; i++) {
        size_t j = co_rng_below(&g->rng, i + 1);
        order[i] = order[j];
        order[j] = i;
    }
    for (size_t k = 0; k < n; k++) {
        size_t pos = order[k];
        gmem_t *m = &g->m[ids[pos]];
        if (m->flushing)
            for (size_t p = 0; p < g->v[m->view].n; p++)
                while (m->dcnt[p] < m->flush[p])
                    g_deliver_one(g, ids[pos], p);
        m->flushing = false;
        m->view = vi;
        m->pos = pos;
        memset(m->dcnt, 0, sizeof m->dcnt);
        ev_t *e = g_emit(g, EV_INSTALL, v->mem[pos]);
        e->view_id = v->id;
        memcpy(e->members, v->mem, n * sizeof v->mem[0]);
        e->n = n;
        e->primary = v->primary;
        for (size_t x = 0; x <= k && co_rng_below(&g->rng, 3) == 0; x++) {
            size_t in = ids[order[co_rng_below(&g->rng, k + 1)]];
            size_t from = co_rng_below(&g->rng, n);
            if (co_rng_below(&g->rng, 2))
                g_send_by(g, in);
            else if (g->m[in].dcnt[from] < v->cnt[from] &&
                     (g->self || from != g->m[in].pos))
                g_deliver_one(g, in, from);
        }
    }
}

/* The members ids (all up, all in view vi) leave vi together: each will
 * deliver, per sender, up to the same prefix (g_install does it). */
static void g_flush(gen_t *g, size_t vi, const size_t *ids, size_t n)
{
    const gview_t *v = &g->v[vi];
    size_t f[G_IDS];
    for (size_t p = 0; p < v->n; p++) {
        bool along = false;
        size_t most = 0;
        for (size_t i = 0; i < n; i++) {
            along = along || (v->mem[p].id == ids[i] + 1 &&
                              v->mem[p].incarnation == g->m[ids[i]].inc);
            if (g->m[ids[i]].dcnt[p] > most)
                most = g->m[ids[i]].dcnt[p];
        }
        f[p] = along ? v->cnt[p]
                     : most + co_rng_below(&g->rng, v->cnt[p] - most + 1);
    }
    for (size_t i = 0; i < n; i++) {
        gmem_t *m = &g->m[ids[i]];
        assert_true(m->up && m->view == vi && !m->flushing);
        m->flushing = true;
        memcpy(m->flush, f, sizeof f);
    }
}

static size_t g_pick_up(gen_t *g, size_t *ids)
{
    size_t n = 0;
    for (size_t id = 0; id < G_IDS; id++)
        if (g->m[id].up)
            ids[n++] = id;
    return n;
}

static void g_send(gen_t *g)
{
    size_t ids[G_IDS], n = g_pick_up(g, ids);
    g_send_by(g, ids[co_rng_below(&g->rng, n)]);
}

static void g_deliver(gen_t *g)
{
    size_t ids[G_IDS], n = g_pick_up(g, ids);
    size_t id = ids[co_rng_below(&g->rng, n)];
    gmem_t *m = &g->m[id];
    size_t pos = co_rng_below(&g->rng, g->v[m->view].n);
    if (m->dcnt[pos] < g->v[m->view].cnt[pos] && (g->self || pos != m->pos))
        g_deliver_one(g, id, pos);
}

static void g_crash(gen_t *g)
{
    size_t ids[G_IDS], n = g_pick_up(g, ids);
    if (n < 2)
        return;
    size_t id = ids[co_rng_below(&g->rng, n)];
    g->m[id].up = false;
    g_emit(g, EV_STOPPED, g_who(g, id));
    g->crashes++;
}

static void g_view_change(gen_t *g)
{
    size_t vis[G_MAX_VIEWS + 4], nv = g_active(g, vis);
    size_t vi = vis[co_rng_below(&g->rng, nv)];
    size_t ids[G_IDS], n = g_ups(g, vi, ids);
    size_t kind = co_rng_below(&g->rng, 4);
    if (kind == 1 && n >= 2) { /* partition */
        size_t a[G_IDS], b[G_IDS], na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            bool to_a = i == 0 || (i != 1 && co_rng_below(&g->rng, 2));
            if (to_a)
                a[na++] = ids[i];
            else
                b[nb++] = ids[i];
        }
        g_flush(g, vi, a, na);
        g_flush(g, vi, b, nb);
        g_install(g, a, na);
        g_install(g, b, nb);
        g->splits++;
        return;
    }
    if (kind == 2) { /* a member starts or restarts and joins */
        for (size_t id = 0; id < G_IDS; id++) {
            if (g->m[id].up || g->m[id].inc == G_MAX_INC)
                continue;
            g_flush(g, vi, ids, n);
            g->m[id].inc++;
            g->m[id].up = true;
            g->m[id].next_key = 0;
            ids[n++] = id;
            g_install(g, ids, n);
            g->joins++;
            return;
        }
    }
    if (kind == 3 && nv >= 2) { /* merge with another side */
        size_t wi = vis[0] == vi ? vis[1] : vis[0];
        size_t more[G_IDS], nm = g_ups(g, wi, more);
        g_flush(g, vi, ids, n);
        g_flush(g, wi, more, nm);
        memcpy(ids + n, more, nm * sizeof more[0]);
        g_install(g, ids, n + nm);
        g->merges++;
        return;
    }
    g_flush(g, vi, ids, n); /* the same members, or without the crashed */
    g_install(g, ids, n);
}

/* Faults stop: one view of everyone up, all of it delivered. */
static void g_heal(gen_t *g)
{
    size_t vis[G_MAX_VIEWS + 4], nv = g_active(g, vis);
    size_t all[G_IDS] = {0}, n = 0;
    bool whole = nv == 1;
    for (size_t k = 0; k < nv; k++) {
        size_t ids[G_IDS], ni = g_ups(g, vis[k], ids);
        whole = whole && ni == g->v[vis[k]].n;
        memcpy(all + n, ids, ni * sizeof ids[0]);
        n += ni;
    }
    if (!whole) {
        size_t at = 0;
        for (size_t k = 0; k < nv; k++) {
            size_t ids[G_IDS], ni = g_ups(g, vis[k], ids);
            g_flush(g, vis[k], ids, ni);
            at += ni;
        }
        assert_int_equal(at, n);
        g_install(g, all, n);
    }
    for (size_t i = 0; i < n; i++) {
        gmem_t *m = &g->m[all[i]];
        for (size_t p = 0; p < g->v[m->view].n; p++)
            while (m->dcnt[p] < g->v[m->view].cnt[p])
                g_deliver_one(g, all[i], p);
        g->live[i] = g_who(g, all[i]);
    }
    g->nlive = n;
}

static void g_run(gen_t *g, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    co_rng_seed(&g->rng, seed);
    g->self = co_rng_below(&g->rng, 4) != 0;
    size_t ids[G_IDS], n0 = 1 + co_rng_below(&g->rng, 3);
    for (size_t id = 0; id < n0; id++) {
        g->m[id].inc = 1;
        g->m[id].up = true;
        ids[id] = id;
    }
    g_install(g, ids, n0);
    size_t steps = 20 + co_rng_below(&g->rng, 200);
    for (size_t s = 0; s < steps; s++) {
        uint64_t r = co_rng_below(&g->rng, 100);
        if (r < 40)
            g_send(g);
        else if (r < 85)
            g_deliver(g);
        else if (r < 90)
            g_crash(g);
        else if (g->nviews + 2 < G_MAX_VIEWS)
            g_view_change(g);
    }
    g_heal(g);
}

static vs_check_t *replay(const ev_t *e, size_t n, bool self,
                          const cohort_member_t *live, size_t nlive)
{
    vs_check_t *c = mk(self);
    for (size_t i = 0; i < n; i++) {
        switch (e[i].type) {
        case EV_INSTALL:
            vs_check_install(c, e[i].who, e[i].view_id, e[i].members, e[i].n,
                             e[i].primary);
            break;
        case EV_SENT:
            vs_check_sent(c, e[i].who, e[i].key, e[i].view_id);
            break;
        case EV_DELIVERED:
            vs_check_delivered(c, e[i].who, e[i].sender, e[i].key,
                               e[i].view_id);
            break;
        case EV_STOPPED:
            vs_check_stopped(c, e[i].who);
            break;
        }
    }
    vs_check_final(c, live, nlive);
    return c;
}

static bool same_m(cohort_member_t a, cohort_member_t b)
{
    return a.id == b.id && a.incarnation == b.incarnation;
}

/* Index of who's first install after i, or n. */
static size_t next_install(const ev_t *e, size_t n, size_t i,
                           cohort_member_t who)
{
    for (size_t j = i + 1; j < n; j++)
        if (e[j].type == EV_INSTALL && same_m(e[j].who, who))
            return j;
    return n;
}

/* Does someone other than the receiver of delivery i also move from view
 * e[i].view_id to view w, having delivered the same message? */
static bool peer_has_it(const ev_t *e, size_t n, size_t i, uint64_t w)
{
    for (size_t j = 0; j < n; j++) {
        if (e[j].type != EV_INSTALL || e[j].view_id != e[i].view_id ||
            same_m(e[j].who, e[i].who))
            continue;
        size_t k = next_install(e, n, j, e[j].who);
        if (k == n || e[k].view_id != w)
            continue;
        for (size_t d = 0; d < n; d++)
            if (e[d].type == EV_DELIVERED && same_m(e[d].who, e[j].who) &&
                same_m(e[d].sender, e[i].sender) && e[d].key == e[i].key)
                return true;
    }
    return false;
}

/* The receiver's next delivery from the same sender in the same view. */
static size_t next_from_sender(const ev_t *e, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++)
        if (e[j].type == EV_DELIVERED && same_m(e[j].who, e[i].who) &&
            same_m(e[j].sender, e[i].sender) && e[j].view_id == e[i].view_id)
            return j;
    return n;
}

static bool is_live(const gen_t *g, cohort_member_t who)
{
    for (size_t i = 0; i < g->nlive; i++)
        if (same_m(g->live[i], who))
            return true;
    return false;
}

typedef enum { MUT_DROP, MUT_MOVE, MUT_DUP, MUT_REORDER, MUT_FORGE,
               MUT_COUNT } mut_t;
static const char *const mut_names[MUT_COUNT] = {
    "drop a delivery", "move a delivery into the next view",
    "duplicate a delivery", "deliver one after its successor",
    "deliver a message never sent"};

/* Can delivery i be mutated this way so that the checker must notice? */
static bool eligible(const gen_t *g, mut_t k, size_t i)
{
    const ev_t *e = g->ev;
    size_t n = g->nev;
    if (e[i].type != EV_DELIVERED)
        return false;
    size_t w = next_install(e, n, i, e[i].who);
    size_t after = next_from_sender(e, n, i);
    switch (k) {
    case MUT_DROP:
        if (after < n && (w == n || after < w))
            return true; /* fifo: the next one has a gap */
        if (w == n)
            return is_live(g, e[i].who); /* liveness: final view drained */
        if (g->self && same_m(e[i].who, e[i].sender))
            return true; /* self-delivery */
        return peer_has_it(e, n, i, e[w].view_id); /* virtual synchrony */
    case MUT_MOVE:
        return w < n;
    case MUT_REORDER:
        return after < n && (w == n || after < w);
    default:
        return true;
    }
}

/* Copy g's events into out with delivery i mutated; returns the count. */
static size_t mutate(const gen_t *g, mut_t k, size_t i, ev_t *out)
{
    const ev_t *e = g->ev;
    size_t n = g->nev, o = 0;
    size_t w = next_install(e, n, i, e[i].who);
    size_t after = next_from_sender(e, n, i);
    for (size_t j = 0; j < n; j++) {
        if (j != i || k == MUT_DUP || k == MUT_FORGE)
            out[o++] = e[j];
        if (j == i && k == MUT_DUP)
            out[o++] = e[i];
        if (j == i && k == MUT_FORGE) {
            out[o] = e[i];
            out[o++].key += 1000000;
        }
        if ((k == MUT_MOVE && j == w) || (k == MUT_REORDER && j == after))
            out[o++] = e[i];
    }
    assert_int_equal(o, n + (k == MUT_DUP || k == MUT_FORGE ? 1 : 0) -
                            (k == MUT_DROP ? 1 : 0));
    return o;
}

/* Properties each mutation must raise (at least one of `must`) and may
 * raise (`may`, a superset). */
static void mut_props(mut_t k, unsigned *must, unsigned *may)
{
#define B(p) (1u << (p))
    switch (k) {
    case MUT_DROP:
        *must = *may = B(VS_PROP_SYNCHRONY) | B(VS_PROP_LIVENESS) |
                       B(VS_PROP_SELF_DELIVERY) | B(VS_PROP_FIFO);
        break;
    case MUT_MOVE:
        *must = B(VS_PROP_SENDING_VIEW);
        *may = *must | B(VS_PROP_SYNCHRONY) | B(VS_PROP_FIFO) |
               B(VS_PROP_SELF_DELIVERY);
        break;
    case MUT_DUP:
        *must = *may = B(VS_PROP_EXACTLY_ONCE);
        break;
    case MUT_REORDER:
        *must = *may = B(VS_PROP_FIFO);
        break;
    default:
        *must = *may = B(VS_PROP_FORGERY);
        break;
    }
#undef B
}

static bool mutation_caught(const vs_check_t *c, mut_t k)
{
    unsigned must, may, seen = 0;
    mut_props(k, &must, &may);
    for (unsigned p = 0; p < VS_PROP_COUNT_; p++)
        if (vs_check_count(c, (vs_prop_t)p) > 0)
            seen |= 1u << p;
    return (seen & must) != 0 && (seen & ~may) == 0;
}

static void print_history(const ev_t *e, size_t n)
{
    static const char *const names[] = {"install", "sent", "delivered",
                                        "stopped"};
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %4zu %s %u.%u view %" PRIu64 " %u.%u#%" PRIu64
                        " n=%zu\n",
                i, names[e[i].type], e[i].who.id, e[i].who.incarnation,
                e[i].view_id, e[i].sender.id, e[i].sender.incarnation,
                e[i].key, e[i].n);
}

static void test_model_seeds(void **state)
{
    (void)state;
    gen_t *g = malloc(sizeof *g);
    ev_t *out = malloc((G_MAX_EVS + 1) * sizeof *out);
    assert_non_null(g);
    assert_non_null(out);
    uint64_t first = 1, count = G_SEEDS;
    const char *one = getenv("VS_CHECK_SEED");
    if (one != NULL) {
        first = strtoull(one, NULL, 10);
        count = 1;
    }
    size_t tried[MUT_COUNT] = {0}, events = 0;
    size_t splits = 0, merges = 0, joins = 0, crashes = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        g_run(g, seed);
        events += g->nev;
        splits += g->splits;
        merges += g->merges;
        joins += g->joins;
        crashes += g->crashes;
        vs_check_t *c = replay(g->ev, g->nev, g->self, g->live, g->nlive);
        if (vs_check_violations(c) != 0) {
            fprintf(stderr, "seed %" PRIu64 ": a valid history failed:\n",
                    seed);
            dump(c);
            print_history(g->ev, g->nev);
        }
        assert_int_equal(vs_check_violations(c), 0);
        vs_check_free(c);
        co_rng_t pick;
        co_rng_seed(&pick, seed ^ 0x5eedull);
        for (unsigned k = 0; k < MUT_COUNT; k++) {
            size_t cand = 0, at = g->nev;
            for (size_t i = 0; i < g->nev; i++)
                if (eligible(g, (mut_t)k, i) && co_rng_below(&pick, ++cand) == 0)
                    at = i; /* uniform among the eligible */
            if (at == g->nev)
                continue;
            tried[k]++;
            size_t n = mutate(g, (mut_t)k, at, out);
            c = replay(out, n, g->self, g->live, g->nlive);
            bool ok = mutation_caught(c, (mut_t)k);
            if (!ok) {
                fprintf(stderr,
                        "seed %" PRIu64 ": mutation '%s' at event %zu: "
                        "wrong or no violation (VS_CHECK_SEED=%" PRIu64
                        " replays):\n",
                        seed, mut_names[k], at, seed);
                dump(c);
                print_history(out, n);
            }
            assert_true(ok);
            vs_check_free(c);
        }
    }
    if (one == NULL) {
        /* the model reaches every kind of history and mutation */
        fprintf(stderr,
                "model: %" PRIu64 " seeds, %zu events, %zu splits, %zu merges, "
                "%zu joins, %zu crashes; mutations tried: %zu %zu %zu %zu %zu\n",
                count, events, splits, merges, joins, crashes, tried[0],
                tried[1], tried[2], tried[3], tried[4]);
        assert_true(splits > 0 && merges > 0 && joins > 0 && crashes > 0);
        for (unsigned k = 0; k < MUT_COUNT; k++)
            assert_true(tried[k] >= count / 2);
    }
    free(out);
    free(g);
}

/* Same calls, same texts. */
static void test_model_deterministic(void **state)
{
    (void)state;
    gen_t *g = malloc(sizeof *g);
    ev_t *out = malloc((G_MAX_EVS + 1) * sizeof *out);
    assert_non_null(g);
    assert_non_null(out);
    g_run(g, 77);
    size_t at = 0;
    while (at < g->nev && !eligible(g, MUT_MOVE, at))
        at++;
    assert_true(at < g->nev);
    size_t n = mutate(g, MUT_MOVE, at, out);
    vs_check_t *a = replay(out, n, g->self, g->live, g->nlive);
    vs_check_t *b = replay(out, n, g->self, g->live, g->nlive);
    assert_true(vs_check_violations(a) > 0);
    assert_int_equal(vs_check_violations(a), vs_check_violations(b));
    for (size_t i = 0; vs_check_violation(a, i) != NULL; i++)
        assert_string_equal(vs_check_violation(a, i), vs_check_violation(b, i));
    vs_check_free(a);
    vs_check_free(b);
    free(out);
    free(g);
}

#define MODEL_TESTS                                                            \
    cmocka_unit_test(test_model_seeds), cmocka_unit_test(test_model_deterministic)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_one_view),
        cmocka_unit_test(test_good_join),
        cmocka_unit_test(test_good_crash),
        cmocka_unit_test(test_good_partition_merge),
        cmocka_unit_test(test_good_restart),
        cmocka_unit_test(test_good_sent_before_change),
        cmocka_unit_test(test_good_self_delivery_off),
        cmocka_unit_test(test_good_two_components),
        cmocka_unit_test(test_bad_self_inclusion),
        cmocka_unit_test(test_bad_monotonic),
        cmocka_unit_test(test_bad_monotonic_repeated_views),
        cmocka_unit_test(test_bad_agreement_order),
        cmocka_unit_test(test_bad_agreement_members_primary),
        cmocka_unit_test(test_proposer_named),
        cmocka_unit_test(test_bad_synchrony),
        cmocka_unit_test(test_bad_synchrony_reported_late),
        cmocka_unit_test(test_bad_sending_view_later),
        cmocka_unit_test(test_bad_sending_view_tag),
        cmocka_unit_test(test_bad_in_view_before_first),
        cmocka_unit_test(test_bad_in_view_after_stop),
        cmocka_unit_test(test_bad_in_view_sent_tag),
        cmocka_unit_test(test_bad_in_view_sender_outside),
        cmocka_unit_test(test_bad_duplicate),
        cmocka_unit_test(test_bad_fifo_inversion),
        cmocka_unit_test(test_bad_fifo_gap),
        cmocka_unit_test(test_bad_self_delivery_missing),
        cmocka_unit_test(test_bad_self_delivery_when_off),
        cmocka_unit_test(test_bad_liveness_stuck),
        cmocka_unit_test(test_bad_liveness_component),
        cmocka_unit_test(test_bad_liveness_undelivered),
        cmocka_unit_test(test_bad_liveness_never_joined),
        cmocka_unit_test(test_bad_forgery),
        cmocka_unit_test(test_bad_input_key_twice),
        cmocka_unit_test(test_good_transitional),
        cmocka_unit_test(test_bad_transitional),
        cmocka_unit_test(test_bad_transitional_fresh),
        cmocka_unit_test(test_capacity_members),
        cmocka_unit_test(test_capacity_views_msgs),
        cmocka_unit_test(test_new_fails),
        cmocka_unit_test(test_texts_bounded),
        MODEL_TESTS
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
