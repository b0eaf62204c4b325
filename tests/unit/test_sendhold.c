/*
 * test_sendhold.c - full datagrams wait in the send batch to leave in
 * segmented runs (src/io/cohort.c, co_pump_tx): two members on loopback
 * (interface "lo" given explicitly, so nothing leaves the host) with
 * Ethernet-sized datagrams (max_datagram 1472), a stream of 1000-B FIFO
 * messages (one datagram each). What is held leaves in runs, within
 * bundle_delay_ns through the normal event loop alone, with fault
 * injection on too; where no run can form nothing is held.
 */
#include "config.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cohort.h"
#include "transport.h"

#define MS_NS 1000000ULL
#define MSG_BYTES 1000
#define LOOP_SLACK_MS 20 /* over the bound: scheduling, a loaded machine */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint16_t test_port(unsigned salt)
{
    return (uint16_t)(30000 + (getpid() * 11 + (int)salt) % 20000);
}

static void pair_config(struct cohort_config *cfg, const char *group,
                        unsigned salt)
{
    cohort_config_init(cfg);
    cfg->group = group;
    cfg->interface = "lo";
    cfg->port = test_port(salt);
    cfg->faults = "";
    cfg->heartbeat_interval_ns = 20 * MS_NS;
    cfg->max_datagram = 1472; /* Ethernet's: 44 fit one run */
}

/* Does this kernel segment (UDP_SEGMENT)? Asked of a transport of our
 * own, so a hold that never happens fails the tests rather than skips
 * them. */
static bool kernel_has_gso(void)
{
    co_transport_config_t tc;
    memset(&tc, 0, sizeof tc);
    tc.group_hash = 0x5e4du;
    tc.port = test_port(99);
    tc.interface = "lo";
    tc.loopback = 1;
    tc.max_datagram = 1472;
    tc.gso = 1;
    char why[256];
    co_transport_t *t = NULL;
    if (co_transport_open(&t, &tc, why, sizeof why) != 0)
        fail_msg("transport: %s", why);
    bool on = co_transport_gso(t);
    co_transport_close(t);
    return on;
}

static struct cohort_stats stats_of(const cohort_t *c)
{
    struct cohort_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    assert_int_equal(cohort_stats(c, &s), 0);
    return s;
}

/* Messages b took from a, checked: each carries its number in order. */
typedef struct rx_count {
    uint32_t from;
    unsigned got;
} rx_count_t;

static void take_events(cohort_t *c, rx_count_t *rx)
{
    cohort_event_t ev;
    while (cohort_next_event(c, &ev) == 1) {
        if (rx == NULL || ev.type != COHORT_EVENT_MESSAGE ||
            ev.u.message.sender.id != rx->from)
            continue;
        assert_int_equal(ev.u.message.len, MSG_BYTES);
        unsigned n;
        memcpy(&n, ev.u.message.data, sizeof n);
        assert_int_equal(n, rx->got); /* FIFO: in order, once each */
        rx->got++;
    }
}

/* The application's loop, nothing else: poll both descriptors for what
 * the members' timeouts allow, then cohort_process() each and take their
 * events, until b has want messages of a or timeout_ms passes. */
static bool run_loop(cohort_t *a, cohort_t *b, rx_count_t *rx,
                     unsigned want, int timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * MS_NS;
    for (int guard = 0; guard < 1000000 && rx->got < want; guard++) {
        uint64_t now = now_ns();
        if (now >= end)
            return false;
        int wait = (int)((end - now) / MS_NS) + 1;
        int ta = cohort_timeout_ms(a), tb = cohort_timeout_ms(b);
        if (ta >= 0 && ta < wait)
            wait = ta;
        if (tb >= 0 && tb < wait)
            wait = tb;
        struct pollfd p[2] = {{.fd = cohort_fd(a), .events = POLLIN},
                              {.fd = cohort_fd(b), .events = POLLIN}};
        assert_true(poll(p, 2, wait) >= 0);
        assert_true(cohort_process(a) >= 0);
        assert_true(cohort_process(b) >= 0);
        take_events(a, NULL);
        take_events(b, rx);
    }
    return rx->got >= want;
}

static void open_pair(const struct cohort_config *ca,
                      const struct cohort_config *cb, cohort_t **a,
                      cohort_t **b)
{
    assert_int_equal(cohort_open(a, ca), 0);
    assert_int_equal(cohort_open(b, cb), 0);
    uint64_t end = now_ns() + 5000 * MS_NS;
    while (cohort_view(*a, NULL, NULL, 0) < 2 ||
           cohort_view(*b, NULL, NULL, 0) < 2) {
        assert_true(now_ns() < end);
        cohort_event_t ev;
        (void)cohort_wait(*a, &ev, 5);
        (void)cohort_wait(*b, &ev, 5);
        take_events(*a, NULL);
        take_events(*b, NULL);
    }
}

static void send_numbered(cohort_t *c, unsigned first, unsigned count)
{
    uint8_t msg[MSG_BYTES];
    memset(msg, 0x5a, sizeof msg);
    for (unsigned i = first; i < first + count; i++) {
        memcpy(msg, &i, sizeof i);
        assert_int_equal(cohort_send(c, COHORT_FIFO, msg, sizeof msg), 0);
    }
}

/* 40 messages sent back to back: none leaves while the sends go on (39
 * datagrams in the send batch, the 40th in the bundle), the reported
 * timeout names the bound, and cohort_flush() sends them as runs. */
static void test_full_datagrams_leave_in_runs(void **state)
{
    (void)state;
    if (!kernel_has_gso())
        skip();
    struct cohort_config cfg;
    pair_config(&cfg, "test-sendhold-runs", 1);
    cfg.bundle_delay_ns = 50 * MS_NS; /* room for a slow (sanitized) run */
    cohort_t *a = NULL, *b = NULL;
    open_pair(&cfg, &cfg, &a, &b);
    struct cohort_stats s0 = stats_of(a);
    send_numbered(a, 0, 40);
    struct cohort_stats s1 = stats_of(a);
    assert_int_equal(s1.datagrams_sent, s0.datagrams_sent);
    /* At most the bound; 0 when another timer (a heartbeat, an ack) is
     * due already, as in a slow sanitized run (CI, 2026-12-08). */
    int64_t t = cohort_timeout_ns(a);
    assert_true(t >= 0 && t <= (int64_t)cfg.bundle_delay_ns);
    assert_int_equal(cohort_flush(a), 0);
    struct cohort_stats s2 = stats_of(a);
    assert_int_equal(s2.datagrams_sent - s0.datagrams_sent, 40);
    assert_true(s2.gso_datagrams - s0.gso_datagrams >= 39);
    assert_int_equal(s2.send_errors, 0);
    rx_count_t rx = {.from = cohort_self(a).id};
    assert_true(run_loop(a, b, &rx, 40, 5000));
    cohort_close(a);
    cohort_close(b);
}

/* At the default bundle_delay_ns, held datagrams leave through the loop
 * alone (poll with cohort_timeout_ms(), cohort_process()): three
 * messages, then one alone, each delivered within the delay and a few
 * ms. */
static void test_held_datagrams_leave_within_the_delay(void **state)
{
    (void)state;
    if (!kernel_has_gso())
        skip();
    struct cohort_config cfg;
    pair_config(&cfg, "test-sendhold-delay", 2);
    uint64_t delay = cfg.bundle_delay_ns;
    assert_true(delay > 0);
    cohort_t *a = NULL, *b = NULL;
    open_pair(&cfg, &cfg, &a, &b);
    rx_count_t rx = {.from = cohort_self(a).id};
    struct cohort_stats s0 = stats_of(a);
    uint64_t t0 = now_ns();
    send_numbered(a, 0, 3);
    int64_t t = cohort_timeout_ns(a);
    struct cohort_stats s1 = stats_of(a);
    /* Two held, unless the sends themselves took longer than the delay
     * (then those due went at the last send). */
    assert_true(s1.datagrams_sent - s0.datagrams_sent <= 2);
    if (s1.datagrams_sent == s0.datagrams_sent)
        assert_true(t >= 0 && t <= (int64_t)delay);
    int bound_ms = (int)(delay / MS_NS) + LOOP_SLACK_MS;
    assert_true(run_loop(a, b, &rx, 3, bound_ms));
    assert_true(now_ns() - t0 <= (uint64_t)bound_ms * MS_NS);
    struct cohort_stats s2 = stats_of(a);
    assert_true(s2.datagrams_sent - s0.datagrams_sent >= 3);

    t0 = now_ns();
    send_numbered(a, 3, 1);
    assert_true(run_loop(a, b, &rx, 4, bound_ms));
    assert_true(now_ns() - t0 <= (uint64_t)bound_ms * MS_NS);
    cohort_close(a);
    cohort_close(b);
}

/* With the sender's TX lane dropping, duplicating and reordering, a
 * stream still arrives whole and in order (what the lane holds back and
 * lets go leaves at once; close sends what is held), and runs still
 * form. */
static void test_hold_with_fault_injection(void **state)
{
    (void)state;
    if (!kernel_has_gso())
        skip();
    struct cohort_config ca, cb;
    pair_config(&ca, "test-sendhold-faults", 3);
    pair_config(&cb, "test-sendhold-faults", 3);
    ca.faults = "tx_drop=0.05,tx_dup=0.05,tx_reorder=0.2,seed=11";
    ca.bundle_delay_ns = 20 * MS_NS;
    cohort_t *a = NULL, *b = NULL;
    open_pair(&ca, &cb, &a, &b);
    rx_count_t rx = {.from = cohort_self(a).id};
    for (unsigned i = 0; i < 300; i += 30) {
        send_numbered(a, i, 30);
        assert_true(cohort_process(a) >= 0);
        take_events(a, NULL);
    }
    assert_true(run_loop(a, b, &rx, 300, 10000));
    struct cohort_stats s = stats_of(a);
    assert_true(s.gso_datagrams > 0);
    assert_true(s.drops[COHORT_DROP_INJECTED] > 0);
    cohort_close(a);
    cohort_close(b);
}

/* Datagrams sent while three 'len'-byte messages are sent back to back. */
static uint64_t sent_by_three(const struct cohort_config *cfg, size_t len)
{
    static uint8_t msg[30000];
    assert_true(len <= sizeof msg);
    cohort_t *a = NULL, *b = NULL;
    open_pair(cfg, cfg, &a, &b);
    struct cohort_stats s0 = stats_of(a);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cohort_send(a, COHORT_FIFO, msg, len), 0);
    struct cohort_stats s1 = stats_of(a);
    cohort_close(a);
    cohort_close(b);
    return s1.datagrams_sent - s0.datagrams_sent;
}

/* Nothing is held where no run can form or the application asked for no
 * delay: with COHORT_GSO=0, with datagrams too large for two to fit one
 * run, and with bundle_delay_ns 0, each datagram leaves in the call that
 * finished it. */
static void test_no_hold_without_runs(void **state)
{
    (void)state;
    struct cohort_config cfg;
    pair_config(&cfg, "test-sendhold-none", 4);
    assert_int_equal(setenv("COHORT_GSO", "0", 1), 0);
    assert_int_equal(sent_by_three(&cfg, MSG_BYTES), 2);
    assert_int_equal(unsetenv("COHORT_GSO"), 0);
    if (!kernel_has_gso())
        skip();
    cfg.bundle_delay_ns = 0;
    assert_int_equal(sent_by_three(&cfg, MSG_BYTES), 3);
    pair_config(&cfg, "test-sendhold-none", 5);
    cfg.max_datagram = 40000;
    assert_int_equal(sent_by_three(&cfg, 30000), 2);
    /* and the contrast: at 1472 the same sends hold both */
    pair_config(&cfg, "test-sendhold-none", 6);
    cfg.bundle_delay_ns = 50 * MS_NS;
    assert_int_equal(sent_by_three(&cfg, MSG_BYTES), 0);
}

int main(void)
{
    (void)unsetenv("COHORT_GSO");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_datagrams_leave_in_runs),
        cmocka_unit_test(test_held_datagrams_leave_within_the_delay),
        cmocka_unit_test(test_hold_with_fault_injection),
        cmocka_unit_test(test_no_hold_without_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
