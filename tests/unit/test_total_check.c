/*
 * test_total_check.c - the total-order checker (tests/sim/total_check.c).
 *
 * A good history (a view of three with TOTAL and SAFE messages, the
 * sequencer crashing, the others moving on with a transitional tail, a
 * join, a final view) must pass with no violation at all; each broken
 * history must fail with its property's text and no other property. So
 * every rule of the checker is shown able to fail.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "total_check.h"

static const cohort_member_t P = {1, 1}, Q = {2, 1}, R = {3, 1}, S = {4, 1};
#define T COHORT_TOTAL
#define SF COHORT_SAFE
#define TR COHORT_MESSAGE_TRANSITIONAL

static void dump(const total_check_t *c)
{
    size_t n = total_check_violations(c);
    for (size_t i = 0; i < n; i++) {
        const char *t = total_check_violation(c, i);
        if (t == NULL) {
            fprintf(stderr, "  ... %zu more\n", n - i);
            break;
        }
        fprintf(stderr, "  %s\n", t);
    }
}

static total_check_t *mk(bool held)
{
    total_check_config_t cfg;
    total_check_config_init(&cfg);
    cfg.check_held = held;
    total_check_t *c = NULL;
    assert_int_equal(total_check_new(&c, &cfg), 0);
    assert_non_null(c);
    return c;
}

static void expect_clean(total_check_t *c)
{
    if (total_check_violations(c) != 0)
        dump(c);
    assert_int_equal(total_check_violations(c), 0);
    total_check_free(c);
}

/* Every violation is of property p (at least one), the first text holds
 * word. */
static void expect_only(total_check_t *c, total_prop_t p, const char *word)
{
    size_t n = total_check_violations(c);
    const char *t = total_check_violation(c, 0);
    const char *name = total_check_prop_name(p);
    bool ok = n > 0 && total_check_count(c, p) == n && t != NULL &&
              strncmp(t, name, strlen(name)) == 0 &&
              (word == NULL || strstr(t, word) != NULL);
    if (!ok) {
        fprintf(stderr, "expected only '%s' with '%s', got %zu:\n", name,
                word ? word : "", n);
        dump(c);
    }
    assert_true(ok);
    total_check_free(c);
}

static void install_all(total_check_t *c, uint64_t id,
                        const cohort_member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        total_check_install(c, m[i], id, m, n);
}

/* who delivers sender#key (its reliable seq = key) at order in view. */
static void dl(total_check_t *c, cohort_member_t who, cohort_member_t sender,
               uint64_t key, cohort_mode_t mode, uint64_t view,
               uint64_t order, uint32_t flags)
{
    total_check_delivered(c, who, sender, key, key, mode, view, order, flags);
}

/* Each of rx delivers the same sequence of n messages regularly. */
static void dl_all(total_check_t *c, const cohort_member_t *rx, size_t nrx,
                   const cohort_member_t *snd, const uint64_t *key,
                   const cohort_mode_t *mode, size_t n, uint64_t view)
{
    for (size_t i = 0; i < nrx; i++)
        for (size_t k = 0; k < n; k++)
            dl(c, rx[i], snd[k], key[k], mode[k], view, k + 1, 0);
}

static void hold_all(total_check_t *c, const cohort_member_t *m, size_t n,
                     cohort_member_t sender, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        total_check_held(c, m[i], sender, key);
}

/* ------------------------------------------------------------------ */
/* The good history                                                    */
/* ------------------------------------------------------------------ */
static void good_history(total_check_t *c)
{
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {Q, R}, g3[] = {Q, R, S};
    const cohort_member_t snd[] = {Q, R, P};
    const uint64_t key[] = {1, 1, 1};
    const cohort_mode_t mode[] = {T, SF, T};
    install_all(c, 1, g1, 3);
    hold_all(c, g1, 3, Q, 1);
    hold_all(c, g1, 3, R, 1);
    hold_all(c, g1, 3, P, 1);
    dl_all(c, g1, 3, snd, key, mode, 3, 1);
    /* FIFO beside: order 0, sender order kept across modes */
    total_check_delivered(c, Q, P, 100, 2, COHORT_FIFO, 1, 0, 0);
    /* P (the sequencer) delivers one more and crashes */
    hold_all(c, g1, 3, Q, 2);
    dl(c, P, Q, 2, T, 1, 4, 0);
    total_check_stopped(c, P);
    /* Q and R settle Q#2 and R#2 (unordered) transitionally */
    hold_all(c, g2, 2, R, 2);
    dl(c, Q, Q, 2, T, 1, 4, 0);
    dl(c, Q, R, 2, T, 1, 5, TR);
    dl(c, R, Q, 2, T, 1, 4, 0);
    dl(c, R, R, 2, T, 1, 5, TR);
    install_all(c, 2, g2, 2);
    /* a SAFE in view 2, then S joins */
    hold_all(c, g2, 2, Q, 3);
    dl(c, R, Q, 3, SF, 2, 1, 0);
    dl(c, Q, Q, 3, SF, 2, 1, 0);
    install_all(c, 3, g3, 3);
    hold_all(c, g3, 3, S, 1);
    dl(c, Q, S, 1, SF, 3, 1, 0);
    dl(c, S, S, 1, SF, 3, 1, 0);
    dl(c, R, S, 1, SF, 3, 1, 0);
}

static void test_good(void **state)
{
    (void)state;
    total_check_t *c = mk(true);
    good_history(c);
    const cohort_member_t g3[] = {Q, R, S};
    total_check_final(c, g3, 3);
    expect_clean(c);
}

/* ------------------------------------------------------------------ */
/* Each rule can fail                                                  */
/* ------------------------------------------------------------------ */
static void test_sender_order(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    /* a FIFO message sent after a TOTAL one overtakes it */
    total_check_delivered(c, P, Q, 2, 2, COHORT_FIFO, 1, 0, 0);
    total_check_delivered(c, P, Q, 1, 1, T, 1, 1, 0);
    expect_only(c, TOTAL_PROP_SENDER_ORDER, "reliable message 1");
}

static void test_numbering_gap(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    dl(c, P, Q, 1, T, 1, 1, 0);
    dl(c, P, Q, 2, T, 1, 3, 0); /* 2 skipped */
    expect_only(c, TOTAL_PROP_NUMBERING, "with order 3");
}

static void test_numbering_no_reset(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    dl(c, P, Q, 1, T, 1, 1, 0);
    total_check_install(c, P, 2, g, 2);
    dl(c, P, Q, 2, T, 2, 2, 0); /* the new view starts at 1 */
    expect_only(c, TOTAL_PROP_NUMBERING, "with order 2");
}

static void test_numbering_view_tag(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    dl(c, P, Q, 1, T, 7, 1, 0);
    expect_only(c, TOTAL_PROP_NUMBERING, "tagged view 7");
}

static void test_numbering_fifo_order(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    total_check_delivered(c, P, Q, 1, 1, COHORT_FIFO, 1, 1, 0);
    expect_only(c, TOTAL_PROP_NUMBERING, "(mode 1) with order 1");
}

static void test_agreement_swap(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q, R};
    install_all(c, 1, g, 3);
    dl(c, P, Q, 1, T, 1, 1, 0);
    dl(c, P, R, 1, T, 1, 2, 0);
    dl(c, Q, R, 1, T, 1, 1, 0); /* swapped at Q */
    dl(c, Q, Q, 1, T, 1, 2, 0);
    expect_only(c, TOTAL_PROP_AGREEMENT, "where 1.1 delivered");
}

static void test_agreement_crashed(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q, R};
    install_all(c, 1, g, 3);
    /* R's regular delivery counts though it crashes at once */
    dl(c, R, Q, 1, T, 1, 1, 0);
    total_check_stopped(c, R);
    dl(c, P, P, 1, T, 1, 1, 0);
    expect_only(c, TOTAL_PROP_AGREEMENT, "where 3.1 delivered");
}

static void test_agreement_two_positions(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q, R};
    install_all(c, 1, g, 3);
    dl(c, P, Q, 1, T, 1, 1, 0);
    /* Q has the same message later, on top of a position nobody had */
    dl(c, Q, Q, 1, T, 1, 1, 0);
    dl(c, R, P, 1, T, 1, 1, TR); /* transitional: not in agreement */
    dl(c, P, R, 1, T, 1, 2, 0);
    dl(c, P, Q, 9, T, 1, 3, 0);
    dl(c, R, Q, 9, T, 1, 2, TR);
    /* position 4: a new position, but Q#1 already is at 1 */
    total_check_t *d = mk(false);
    install_all(d, 1, g, 3);
    dl(d, P, Q, 1, T, 1, 1, 0);
    dl(d, Q, P, 5, T, 1, 1, 0);
    expect_clean(c);
    expect_only(d, TOTAL_PROP_AGREEMENT, "where 1.1 delivered");
    d = mk(false);
    install_all(d, 1, g, 3);
    dl(d, P, Q, 1, T, 1, 1, 0);
    dl(d, Q, Q, 1, T, 1, 1, 0);
    /* again, at a new position (seq unknown: only agreement) */
    total_check_delivered(d, Q, Q, 1, 0, T, 1, 2, 0);
    expect_only(d, TOTAL_PROP_AGREEMENT, "which 1.1 delivered at 1");
}

static void test_transition_missing(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    dl(c, P, R, 1, T, 1, 1, 0);
    dl(c, P, R, 2, T, 1, 2, TR);
    dl(c, Q, R, 1, T, 1, 1, 0); /* Q moves on without R#2 */
    total_check_stopped(c, R);
    install_all(c, 2, g2, 2);
    expect_only(c, TOTAL_PROP_TRANSITION, "different sequences");
}

/* A state transfer superseded in view 1 (cohort.h, "State transfer"):
 * Q held what came after its request's place and the core dropped it,
 * so Q's sequence of view 1 is a prefix only; that excuses rules 4 and 5
 * for that view alone, not rule 3, and not the next view. */
static void test_superseded_prefix(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    const cohort_member_t R2 = {3, 2};
    install_all(c, 1, g1, 3);
    dl(c, P, R, 1, T, 1, 1, 0);
    dl(c, P, R, 2, SF, 1, 2, 0);
    dl(c, Q, R, 1, T, 1, 1, 0); /* Q's request was placed here */
    total_check_superseded(c, Q);
    total_check_stopped(c, R);
    install_all(c, 2, g2, 2);
    total_check_final(c, g2, 2);
    expect_clean(c);

    /* ... but the next view is judged as always */
    c = mk(false);
    const cohort_member_t h2[] = {P, Q, R2};
    install_all(c, 1, g1, 3);
    dl(c, P, R, 1, T, 1, 1, 0);
    dl(c, P, R, 2, T, 1, 2, 0);
    dl(c, Q, R, 1, T, 1, 1, 0);
    total_check_superseded(c, Q);
    total_check_stopped(c, R);
    total_check_install(c, P, 2, h2, 3);
    total_check_install(c, Q, 2, h2, 3);
    dl(c, P, R2, 1, T, 2, 1, 0);
    total_check_install(c, P, 4, g2, 2);
    total_check_install(c, Q, 4, g2, 2); /* without R2#1 */
    expect_only(c, TOTAL_PROP_TRANSITION, "different sequences");

    /* ... and a superseded member still agrees on what it delivered */
    c = mk(false);
    install_all(c, 1, g1, 3);
    dl(c, P, R, 1, T, 1, 1, 0);
    dl(c, Q, R, 2, T, 1, 1, 0);
    total_check_superseded(c, Q);
    expect_only(c, TOTAL_PROP_AGREEMENT, NULL);
}

static void test_transition_flags(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    /* Same place, other flag: one member confirmed what the other
     * could not before the view ended. The sequences are the same. */
    dl(c, P, R, 1, SF, 1, 1, 0);
    dl(c, Q, R, 1, SF, 1, 1, TR);
    total_check_stopped(c, R);
    install_all(c, 2, g2, 2);
    expect_clean(c);
}

static void test_transitional_safe(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    /* A SAFE message whose stability the view's end came before. */
    dl(c, P, Q, 1, SF, 1, 1, TR);
    expect_clean(c);
}

static void test_transitional_then_regular(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    dl(c, P, Q, 1, T, 1, 1, TR);
    dl(c, P, Q, 2, T, 1, 2, 0);
    expect_only(c, TOTAL_PROP_TRANSITIONAL, "after a transitional");
}

static void test_uniform_crashed_deliverer(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    /* R delivers a SAFE message and crashes; P and Q move on without it
     * (agreeing with each other: only uniformity is broken) */
    dl(c, R, Q, 1, SF, 1, 1, 0);
    total_check_stopped(c, R);
    install_all(c, 2, g2, 2);
    expect_only(c, TOTAL_PROP_UNIFORM, "which 3.1 delivered there");
}

static void test_uniform_late(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    install_all(c, 2, g2, 2);
    /* R delivers it after P and Q left view 1 */
    dl(c, R, Q, 1, SF, 1, 1, 0);
    expect_only(c, TOTAL_PROP_UNIFORM, "left without it");
}

static void test_uniform_final(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    dl(c, P, Q, 1, SF, 1, 1, 0);
    total_check_final(c, g, 2);
    expect_only(c, TOTAL_PROP_UNIFORM, "ended in view 1");
}

static void test_uniform_excuses_stopped(void **state)
{
    (void)state;
    total_check_t *c = mk(false);
    const cohort_member_t g1[] = {P, Q, R}, g2[] = {P, Q};
    install_all(c, 1, g1, 3);
    dl(c, P, Q, 1, SF, 1, 1, 0);
    dl(c, Q, Q, 1, SF, 1, 1, 0);
    total_check_stopped(c, R); /* R never delivered it: it crashed */
    install_all(c, 2, g2, 2);
    total_check_final(c, g2, 2);
    expect_clean(c);
}

static void test_held(void **state)
{
    (void)state;
    total_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q, R};
    install_all(c, 1, g, 3);
    total_check_held(c, P, Q, 1); /* R never held it */
    dl(c, P, Q, 1, SF, 1, 1, 0);
    expect_only(c, TOTAL_PROP_HELD, "before 3.1");
}

static void test_held_total_exempt(void **state)
{
    (void)state;
    total_check_t *c = mk(true);
    const cohort_member_t g[] = {P, Q, R};
    install_all(c, 1, g, 3);
    dl(c, P, Q, 1, T, 1, 1, 0); /* TOTAL needs no one else to hold it */
    expect_clean(c);
}

static void test_capacity(void **state)
{
    (void)state;
    total_check_config_t cfg;
    total_check_config_init(&cfg);
    cfg.max_entries = 2;
    total_check_t *c = NULL;
    assert_int_equal(total_check_new(&c, &cfg), 0);
    const cohort_member_t g[] = {P, Q};
    install_all(c, 1, g, 2);
    dl(c, P, Q, 1, T, 1, 1, 0);
    dl(c, P, Q, 2, T, 1, 2, 0); /* canon + P's: four entries */
    dl(c, P, Q, 3, T, 1, 3, 0);
    expect_only(c, TOTAL_PROP_CAPACITY, "max_entries");
    (void)S;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_sender_order),
        cmocka_unit_test(test_numbering_gap),
        cmocka_unit_test(test_numbering_no_reset),
        cmocka_unit_test(test_numbering_view_tag),
        cmocka_unit_test(test_numbering_fifo_order),
        cmocka_unit_test(test_agreement_swap),
        cmocka_unit_test(test_agreement_crashed),
        cmocka_unit_test(test_agreement_two_positions),
        cmocka_unit_test(test_transition_missing),
        cmocka_unit_test(test_superseded_prefix),
        cmocka_unit_test(test_transition_flags),
        cmocka_unit_test(test_transitional_safe),
        cmocka_unit_test(test_transitional_then_regular),
        cmocka_unit_test(test_uniform_crashed_deliverer),
        cmocka_unit_test(test_uniform_late),
        cmocka_unit_test(test_uniform_final),
        cmocka_unit_test(test_uniform_excuses_stopped),
        cmocka_unit_test(test_held),
        cmocka_unit_test(test_held_total_exempt),
        cmocka_unit_test(test_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
