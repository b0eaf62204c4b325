/*
 * test_config.c - the public API surface of src/io/cohort.c: defaults,
 * every validation path of cohort_open(), error and drop-reason names,
 * struct_size handling, and real members on loopback (interface "lo" given
 * explicitly, so nothing leaves the host even outside a namespace).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "core.h"

#define MS_NS 1000000ULL

static uint16_t test_port(unsigned salt)
{
    return (uint16_t)(30000 + (getpid() * 7 + (int)salt) % 20000);
}

static void base_config(struct cohort_config *cfg)
{
    cohort_config_init(cfg);
    cfg->group = "test-config";
    cfg->interface = "lo";
    cfg->port = test_port(0);
    cfg->faults = "";
}

/* A group of its own and fast heartbeats, for tests with two members. */
static void group_config(struct cohort_config *cfg, const char *group,
                         unsigned salt)
{
    base_config(cfg);
    cfg->group = group;
    cfg->port = test_port(salt);
    cfg->heartbeat_interval_ns = 20 * MS_NS;
}

/* ------------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    struct cohort_config cfg;
    memset(&cfg, 0xa5, sizeof cfg);
    cohort_config_init(&cfg);
    assert_int_equal(cfg.struct_size, sizeof cfg);
    assert_null(cfg.group);
    assert_null(cfg.address);
    assert_int_equal(cfg.port, 47100);
    assert_null(cfg.interface);
    assert_int_equal(cfg.ttl, 1);
    assert_int_equal(cfg.loopback, 1);
    assert_int_equal(cfg.ipv6, 0);
    assert_null(cfg.name);
    assert_int_equal(cfg.member_id, 0);
    assert_true(cfg.heartbeat_interval_ns == 100 * MS_NS);
    assert_true(cfg.member_timeout_ns == 3000 * MS_NS);
    assert_true(cfg.nack_delay_ns == 5 * MS_NS);
    assert_true(cfg.nack_retry_ns == 40 * MS_NS);
    assert_true(cfg.bundle_delay_ns == 200000);
    assert_int_equal(cfg.max_datagram, 0); /* from the MTU at open */
    assert_int_equal(cfg.max_message, 16u << 20);
    assert_int_equal(cfg.send_window_bytes, 0); /* from max_datagram */
    assert_int_equal(cfg.recv_buffer_bytes, 32u << 20);
    assert_int_equal(cfg.max_members, 64);
    assert_int_equal(cfg.event_queue_len, 4096);
    assert_int_equal(cfg.security, COHORT_SECURITY_NONE);
    assert_null(cfg.key_file);
    assert_null(cfg.key);
    assert_int_equal(cfg.key_id, 0);
    assert_null(cfg.faults);
    assert_true(cfg.seed == 0);
    assert_int_equal(cfg.socket_buffer_bytes, 4 << 20);
    assert_int_equal(cfg.busy_poll_us, 0);
    cohort_config_init(NULL); /* harmless */
}

static void test_strerror(void **state)
{
    (void)state;
    const char *unknown = cohort_strerror(-999);
    assert_non_null(unknown);
    assert_string_equal(cohort_strerror(1), unknown);
    assert_non_null(strstr(cohort_strerror(COHORT_ERR_TOOBIG),
                           "cohort_max_payload"));
    assert_string_equal(cohort_strerror(COHORT_ERR_EXCLUDED - 1), unknown);
    for (int code = COHORT_OK; code >= COHORT_ERR_EXCLUDED; code--) {
        const char *s = cohort_strerror(code);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, unknown);
        for (int other = COHORT_OK; other > code; other--)
            assert_string_not_equal(s, cohort_strerror(other));
    }
}

static void test_version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", COHORT_VERSION_MAJOR,
             COHORT_VERSION_MINOR, COHORT_VERSION_PATCH);
    assert_string_equal(cohort_version(), want);
}

static void test_drop_reason_names(void **state)
{
    (void)state;
    for (int r = 0; r < COHORT_DROP__COUNT; r++) {
        const char *n = cohort_drop_reason_name(r);
        assert_non_null(n);
        assert_string_not_equal(n, "?");
        for (int o = 0; o < r; o++)
            assert_string_not_equal(n, cohort_drop_reason_name(o));
    }
    assert_string_equal(cohort_drop_reason_name(COHORT_DROP_TRUNCATED),
                        "truncated");
    assert_string_equal(cohort_drop_reason_name(COHORT_DROP_INJECTED),
                        "injected");
    assert_string_equal(cohort_drop_reason_name(-1), "?");
    assert_string_equal(cohort_drop_reason_name(COHORT_DROP__COUNT), "?");
}

/* ------------------------------------------------------------------ */
/* validation: one field wrong at a time                               */
/* ------------------------------------------------------------------ */

static const char long64[] =
    "0123456789012345678901234567890123456789012345678901234567890123";
static const uint8_t zero_key[COHORT_KEY_BYTES];

typedef struct bad_case {
    const char *what;
    void (*mutate)(struct cohort_config *cfg);
    int rc;
    const char *text; /* expected in cohort_last_error_text() */
} bad_case_t;

#define MUT(name, body) \
    static void name(struct cohort_config *c) { body; }

MUT(m_size0, c->struct_size = 0)
MUT(m_size_big, c->struct_size = sizeof *c + 8)
MUT(m_size_tiny, c->struct_size = 3)
MUT(m_size_odd, c->struct_size = offsetof(struct cohort_config, port) + 1)
MUT(m_group_null, c->group = NULL)
MUT(m_group_empty, c->group = "")
MUT(m_group_long, c->group = long64)
MUT(m_addr_unicast, c->address = "10.1.2.3")
MUT(m_addr_v6_on_v4, c->address = "ff15::1")
MUT(m_addr_garbage, c->address = "not-an-address")
MUT(m_port0, c->port = 0)
MUT(m_ttl_neg, c->ttl = -1)
MUT(m_ttl_big, c->ttl = 256)
MUT(m_loop2, c->loopback = 2)
MUT(m_ipv6_neg, c->ipv6 = -1)
MUT(m_itf_empty, c->interface = "")
MUT(m_itf_long, c->interface = "abcdefghijklmnopqrstu")
MUT(m_itf_v6_on_v4, c->interface = "::1")
MUT(m_name_long, c->name = long64)
MUT(m_hb0, c->heartbeat_interval_ns = 0)
MUT(m_hb_big, c->heartbeat_interval_ns = 61000 * MS_NS)
MUT(m_timeout_short, c->member_timeout_ns = c->heartbeat_interval_ns)
MUT(m_retry0, c->nack_retry_ns = 0)
MUT(m_delay_big, c->nack_delay_ns = c->nack_retry_ns + 1)
MUT(m_bundle_big, c->bundle_delay_ns = 2000 * MS_NS)
MUT(m_dgram_small, c->max_datagram = 511)
MUT(m_dgram_big, c->max_datagram = 65508)
MUT(m_msg0, c->max_message = 0)
MUT(m_msg_big, c->max_message = ((size_t)1 << 30) + 1)
MUT(m_window_small, c->send_window_bytes = 100)
MUT(m_recvbuf_small, c->recv_buffer_bytes = c->max_message - 1)
MUT(m_members1, c->max_members = 1)
MUT(m_members_big, c->max_members = 5000)
MUT(m_events0, c->event_queue_len = 0)
MUT(m_sockbuf_neg, c->socket_buffer_bytes = -1)
MUT(m_sockbuf_small, c->socket_buffer_bytes = 100)
MUT(m_security_bad, c->security = (cohort_security_t)7)
MUT(m_cipher_bad, c->cipher = (cohort_cipher_t)9)
MUT(m_faults_bad, c->faults = "drop=2")
MUT(m_faults_key, c->faults = "bogus=1")
MUT(m_busy_big, c->busy_poll_us = 1000001)
MUT(m_parity1, c->parity_block = 1)
MUT(m_parity_big, c->parity_block = 65)
MUT(m_extra_alone, c->parity_extra = 1)
MUT(m_extra_big, { c->parity_block = 8; c->parity_extra = 9; })
MUT(m_itf_missing, c->interface = "nosuchif0")
MUT(m_itf_addr_missing, c->interface = "192.0.2.77")

static const bad_case_t bad_cases[] = {
    {"struct_size 0", m_size0, COHORT_ERR_VERSION, "struct_size"},
    {"struct_size too big", m_size_big, COHORT_ERR_VERSION, "struct_size"},
    {"struct_size tiny", m_size_tiny, COHORT_ERR_VERSION, "struct_size"},
    {"struct_size odd", m_size_odd, COHORT_ERR_VERSION, "struct_size"},
    {"group NULL", m_group_null, COHORT_ERR_INVAL, "group"},
    {"group empty", m_group_empty, COHORT_ERR_INVAL, "group"},
    {"group 64 bytes", m_group_long, COHORT_ERR_INVAL, "group"},
    {"unicast address", m_addr_unicast, COHORT_ERR_INVAL, "address"},
    {"v6 address, v4 socket", m_addr_v6_on_v4, COHORT_ERR_INVAL, "address"},
    {"garbage address", m_addr_garbage, COHORT_ERR_INVAL, "address"},
    {"port 0", m_port0, COHORT_ERR_INVAL, "port"},
    {"ttl -1", m_ttl_neg, COHORT_ERR_INVAL, "ttl"},
    {"ttl 256", m_ttl_big, COHORT_ERR_INVAL, "ttl"},
    {"loopback 2", m_loop2, COHORT_ERR_INVAL, "loopback"},
    {"ipv6 -1", m_ipv6_neg, COHORT_ERR_INVAL, "ipv6"},
    {"interface empty", m_itf_empty, COHORT_ERR_INVAL, "interface"},
    {"interface name long", m_itf_long, COHORT_ERR_INVAL, "interface"},
    {"interface v6 on v4", m_itf_v6_on_v4, COHORT_ERR_INVAL, "interface"},
    {"name 64 bytes", m_name_long, COHORT_ERR_INVAL, "name"},
    {"heartbeat 0", m_hb0, COHORT_ERR_INVAL, "heartbeat_interval_ns"},
    {"heartbeat 61 s", m_hb_big, COHORT_ERR_INVAL, "heartbeat_interval_ns"},
    {"timeout < 2 hb", m_timeout_short, COHORT_ERR_INVAL, "member_timeout_ns"},
    {"nack retry 0", m_retry0, COHORT_ERR_INVAL, "nack_retry_ns"},
    {"nack delay > retry", m_delay_big, COHORT_ERR_INVAL, "nack_delay_ns"},
    {"bundle 2 s", m_bundle_big, COHORT_ERR_INVAL, "bundle_delay_ns"},
    {"datagram 511", m_dgram_small, COHORT_ERR_INVAL, "max_datagram"},
    {"datagram 65508", m_dgram_big, COHORT_ERR_INVAL, "max_datagram"},
    {"message 0", m_msg0, COHORT_ERR_INVAL, "max_message"},
    {"message 1 GiB + 1", m_msg_big, COHORT_ERR_INVAL, "max_message"},
    {"window 100", m_window_small, COHORT_ERR_INVAL, "send_window_bytes"},
    {"recv buffer small", m_recvbuf_small, COHORT_ERR_INVAL,
     "recv_buffer_bytes"},
    {"members 1", m_members1, COHORT_ERR_INVAL, "max_members"},
    {"members 5000", m_members_big, COHORT_ERR_INVAL, "max_members"},
    {"event queue 0", m_events0, COHORT_ERR_INVAL, "event_queue_len"},
    {"socket buffer -1", m_sockbuf_neg, COHORT_ERR_INVAL,
     "socket_buffer_bytes"},
    {"socket buffer 100", m_sockbuf_small, COHORT_ERR_INVAL,
     "socket_buffer_bytes"},
    {"security 7", m_security_bad, COHORT_ERR_INVAL, "security"},
    {"cipher 9", m_cipher_bad, COHORT_ERR_INVAL, "cipher"},
    {"faults rate", m_faults_bad, COHORT_ERR_INVAL, "faults"},
    {"faults key", m_faults_key, COHORT_ERR_INVAL, "faults"},
    {"busy-poll over 1 s", m_busy_big, COHORT_ERR_INVAL, "busy_poll_us"},
    {"parity block 1", m_parity1, COHORT_ERR_INVAL, "parity_block"},
    {"parity block 65", m_parity_big, COHORT_ERR_INVAL, "parity_block"},
    {"parity extra without block", m_extra_alone, COHORT_ERR_INVAL,
     "parity_extra"},
    {"parity extra > block", m_extra_big, COHORT_ERR_INVAL, "parity_extra"},
    {"no such interface", m_itf_missing, COHORT_ERR_ADDRESS, "nosuchif0"},
    {"no such local address", m_itf_addr_missing, COHORT_ERR_ADDRESS,
     "192.0.2.77"},
};

static void test_open_rejects_each_bad_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *bc = &bad_cases[i];
        struct cohort_config cfg;
        base_config(&cfg);
        bc->mutate(&cfg);
        cohort_t *c = (cohort_t *)&cfg; /* must be reset to NULL */
        int rc = cohort_open(&c, &cfg);
        if (rc != bc->rc)
            fail_msg("%s: got %d (%s), want %d", bc->what, rc,
                     cohort_last_error_text(), bc->rc);
        assert_null(c);
        if (strstr(cohort_last_error_text(), bc->text) == NULL)
            fail_msg("%s: error text '%s' does not name '%s'", bc->what,
                     cohort_last_error_text(), bc->text);
    }
}

static void test_open_null_arguments(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cohort_t *c = NULL;
    assert_int_equal(cohort_open(NULL, &cfg), COHORT_ERR_INVAL);
    assert_int_equal(cohort_open(&c, NULL), COHORT_ERR_INVAL);
    assert_non_null(cohort_last_error_text());
}

static void test_open_security(void **state)
{
    (void)state;
    struct cohort_config cfg;
    cohort_t *c = NULL;
    base_config(&cfg);
    cfg.security = COHORT_SECURITY_AUTH;
#ifdef HAVE_LIBSODIUM
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_INVAL);
    assert_non_null(strstr(cohort_last_error_text(), "key"));
    cfg.key = zero_key;
    cfg.key_file = "/nonexistent/cohort.key";
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_INVAL);
    cfg.key = NULL;
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_SYSTEM);
    assert_non_null(strstr(cohort_last_error_text(), "key_file"));
#else
    cfg.key = zero_key;
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_NOCRYPTO);
    cfg.security = COHORT_SECURITY_ENCRYPT;
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_NOCRYPTO);
#endif
    assert_null(c);
}

static void test_add_key(void **state)
{
    (void)state;
    static const uint8_t next_key[COHORT_KEY_BYTES] = {7};
    struct cohort_config cfg;
    cohort_t *c = NULL;
    base_config(&cfg);
    cfg.port = test_port(12);
    assert_int_equal(cohort_add_key(NULL, next_key, 2, 0), COHORT_ERR_INVAL);
    assert_int_equal(cohort_open(&c, &cfg), 0);
    /* Without security there is no key to roll. */
    assert_int_equal(cohort_add_key(c, next_key, 2, 0), COHORT_ERR_STATE);
    assert_int_equal(cohort_add_key(c, NULL, 2, 0), COHORT_ERR_INVAL);
    cohort_close(c);
#ifdef HAVE_LIBSODIUM
    cfg.security = COHORT_SECURITY_AUTH;
    cfg.key = zero_key;
    cfg.key_id = 1;
    assert_int_equal(cohort_open(&c, &cfg), 0);
    assert_int_equal(cohort_add_key(c, next_key, 2, 0), 0);
    assert_int_equal(cohort_add_key(c, next_key, 2, 1), 0);
    assert_true(cohort_process(c) >= 0);
    cohort_close(c);
#endif
}

/* A socket buffer smaller than the window: the window is cut to fit and
 * a warning says so, rather than losing every burst in the kernel. */
static void test_window_fits_socket_buffer(void **state)
{
    (void)state;
    struct cohort_config cfg;
    cohort_t *c = NULL;
    base_config(&cfg);
    cfg.port = test_port(13);
    cfg.socket_buffer_bytes = 64 * 1024;
    assert_int_equal(cohort_open(&c, &cfg), 0);
    /* The window cut is the default one: 512 datagrams, at least 4 MiB. */
    size_t dg = 0;
    assert_int_equal(cohort_config_datagram(&cfg, &dg), 0);
    char from[64];
    snprintf(from, sizeof from, "cut from %zu ",
             512 * dg > (4u << 20) ? 512 * dg : (size_t)4 << 20);
    cohort_event_t ev;
    int warned = 0;
    while (cohort_next_event(c, &ev) == 1)
        warned |= ev.type == COHORT_EVENT_WARNING &&
                  strstr(ev.u.warning.text, "send window") != NULL &&
                  strstr(ev.u.warning.text, from) != NULL;
    assert_true(warned);
    cohort_close(c);
}

static void test_faults_from_environment(void **state)
{
    (void)state;
    struct cohort_config cfg;
    cohort_t *c = NULL;
    base_config(&cfg);
    cfg.faults = NULL;
    assert_int_equal(setenv("COHORT_FAULTS", "drop=0.1,what=1", 1), 0);
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_INVAL);
    assert_non_null(strstr(cohort_last_error_text(), "COHORT_FAULTS"));
    /* An explicit "" overrides the environment. */
    cfg.faults = "";
    cfg.port = test_port(11);
    assert_int_equal(cohort_open(&c, &cfg), 0);
    cohort_close(c);
    assert_int_equal(unsetenv("COHORT_FAULTS"), 0);
}

/* ------------------------------------------------------------------ */
/* real members on loopback                                            */
/* ------------------------------------------------------------------ */

static void test_null_handles(void **state)
{
    (void)state;
    cohort_event_t ev;
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_fd(NULL), COHORT_ERR_INVAL);
    assert_int_equal(cohort_timeout_ms(NULL), -1);
    assert_int_equal(cohort_timeout_ns(NULL), -1);
    assert_int_equal(cohort_process(NULL), COHORT_ERR_INVAL);
    assert_int_equal(cohort_next_event(NULL, &ev), COHORT_ERR_INVAL);
    assert_int_equal(cohort_wait(NULL, &ev, 0), COHORT_ERR_INVAL);
    assert_int_equal(cohort_drain(NULL, 0), COHORT_ERR_INVAL);
    assert_int_equal(cohort_flush(NULL), COHORT_ERR_INVAL);
    assert_int_equal(cohort_send(NULL, COHORT_UNRELIABLE, "x", 1),
                     COHORT_ERR_INVAL);
    assert_int_equal(cohort_send_wait(NULL, COHORT_UNRELIABLE, "x", 1, 0),
                     COHORT_ERR_INVAL);
    assert_int_equal(cohort_stats(NULL, &st), COHORT_ERR_INVAL);
    assert_int_equal(cohort_members(NULL, NULL, 0), 0);
    assert_int_equal(cohort_self(NULL).id, 0);
    cohort_close(NULL);
}

static void test_open_close_alone(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(1);
    cfg.member_id = 4242;
    cfg.name = "alone";
    cohort_t *c = NULL;
    int rc = cohort_open(&c, &cfg);
    if (rc != 0)
        fail_msg("open: %s", cohort_last_error_text());
    assert_int_equal(cohort_self(c).id, 4242);
    assert_int_not_equal(cohort_self(c).incarnation, 0);
    assert_true(cohort_fd(c) >= 0);
    cohort_member_t m[4];
    assert_int_equal(cohort_members(c, m, 4), 1);
    assert_int_equal(m[0].id, 4242);
    assert_int_equal(cohort_members(c, NULL, 4), 1);
    /* The heartbeat timer is always armed (100 ms, with some jitter). */
    int ms = cohort_timeout_ms(c);
    if (ms < 0 || ms > 200)
        fail_msg("timeout_ms %d with a 100 ms heartbeat", ms);
    /* the same deadline, finer: never past the millisecond form */
    int64_t ns = cohort_timeout_ns(c);
    if (ns < 0 || ns > (int64_t)ms * 1000000)
        fail_msg("timeout_ns %lld against timeout_ms %d", (long long)ns, ms);
    assert_true(cohort_process(c) >= 0);

    char big[64];
    memset(big, 'b', sizeof big);
    assert_int_equal(cohort_send(c, COHORT_UNRELIABLE, NULL, 1),
                     COHORT_ERR_INVAL);
    assert_int_equal(cohort_send(c, COHORT_TOTAL, big, 1), 0);
    assert_int_equal(cohort_send(c, COHORT_SAFE, big, 1), 0);
    assert_int_equal(cohort_send(c, (cohort_mode_t)9, big, 1),
                     COHORT_ERR_INVAL);
    assert_int_equal(cohort_send(c, COHORT_UNRELIABLE, big, sizeof big), 0);
    assert_int_equal(cohort_send(c, COHORT_UNRELIABLE, NULL, 0), 0);
    assert_int_equal(cohort_flush(c), 0);

    cohort_event_t ev;
    assert_int_equal(cohort_wait(c, &ev, 20), 0); /* nobody else here */
    /* The TOTAL and SAFE messages wait for the first view (alone). */
    assert_int_equal(cohort_drain(c, 5000), 0);
    cohort_close(c);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* With busy_poll_us, cohort_wait() still returns what comes (here its
 * own message, self-delivered in its one-member view) and still times
 * out on time when nothing does. */
static void test_busy_poll_wait(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(14);
    cfg.busy_poll_us = 2000;
    cohort_t *c = NULL;
    if (cohort_open(&c, &cfg) != 0)
        fail_msg("open: %s", cohort_last_error_text());
    cohort_event_t ev;
    int views = 0;
    for (int i = 0; i < 100 && views == 0; i++) {
        int rc = cohort_wait(c, &ev, 100);
        assert_true(rc >= 0);
        views += rc == 1 && ev.type == COHORT_EVENT_VIEW;
    }
    assert_int_equal(views, 1);
    assert_int_equal(cohort_send(c, COHORT_FIFO, "spin", 4), 0);
    int got = 0;
    for (int i = 0; i < 100 && !got; i++) {
        int rc = cohort_wait(c, &ev, 100);
        assert_true(rc >= 0);
        got = rc == 1 && ev.type == COHORT_EVENT_MESSAGE &&
              ev.u.message.len == 4 && memcmp(ev.u.message.data, "spin", 4) == 0;
    }
    assert_true(got);
    uint64_t t0 = now_ns();
    while (cohort_wait(c, &ev, 30) == 1) /* the heartbeat's, if any */
        assert_true(now_ns() - t0 < 1000 * MS_NS);
    uint64_t took = now_ns() - t0;
    assert_true(took >= 30 * MS_NS && took < 1000 * MS_NS);
    cohort_close(c);
}

static void test_stats_struct_size(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(2);
    cohort_t *c = NULL;
    assert_int_equal(cohort_open(&c, &cfg), 0);
    assert_int_equal(cohort_flush(c), 0);

    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(c, &st), 0); /* 0: current size */
    assert_int_equal(st.struct_size, sizeof st);
    assert_true(st.datagrams_sent >= 1); /* the announcement */
    assert_true(st.bytes_sent >= st.datagrams_sent);

    /* An older, shorter struct: only its prefix is written. */
    size_t old = offsetof(struct cohort_stats, bytes_sent);
    memset(&st, 0xee, sizeof st);
    st.struct_size = old;
    assert_int_equal(cohort_stats(c, &st), 0);
    assert_int_equal(st.struct_size, old);
    const uint8_t *tail = (const uint8_t *)&st + old;
    for (size_t i = 0; i < sizeof st - old; i++)
        assert_int_equal(tail[i], 0xee);

    st.struct_size = 2;
    assert_int_equal(cohort_stats(c, &st), COHORT_ERR_INVAL);
    assert_int_equal(cohort_stats(c, NULL), COHORT_ERR_INVAL);
    cohort_close(c);
}

/* A caller built against an older header passes a shorter config: the
 * fields past its end keep their defaults whatever the memory holds. */
static void test_config_prefix(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.struct_size = offsetof(struct cohort_config, port);
    cfg.port = 0;             /* would be invalid, but is not read */
    cfg.interface = "nosuchif0";
    cohort_t *c = NULL;
    int rc = cohort_open(&c, &cfg); /* default port, loopback */
    if (rc != 0)
        fail_msg("open: %s", cohort_last_error_text());
    cohort_close(c);
}

/* A seed repeats the member id, but never the incarnation: the second
 * life is newer (issue 7, points 1 and 2). */
static void test_seed_makes_ids_reproducible(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(3);
    cfg.seed = 12345;
    cohort_t *a = NULL, *b = NULL;
    assert_int_equal(cohort_open(&a, &cfg), 0);
    cohort_member_t ma = cohort_self(a);
    cohort_close(a);
    assert_int_equal(cohort_open(&b, &cfg), 0);
    cohort_member_t mb = cohort_self(b);
    cohort_close(b);
    assert_int_equal(ma.id, mb.id);
    assert_int_not_equal(ma.id, 0);
    assert_true((int32_t)(mb.incarnation - ma.incarnation) > 0);
}

/* Wait for an event of the given type on c, up to timeout_ms. */
static bool wait_for(cohort_t *c, cohort_event_type_t type,
                     cohort_event_t *ev, int timeout_ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int guard = 0; guard < 100000; guard++) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 +
                     (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            return false;
        int rc = cohort_wait(c, ev, (int)(timeout_ms - spent));
        assert_true(rc >= 0);
        if (rc == 1 && ev->type == type)
            return true;
    }
    return false;
}

/* Run a and b (taking their events) until each has a view of count
 * members, up to timeout_ms: messages reach the members of the sender's
 * view, so a program waits for the view before it counts on delivery. */
static bool wait_view(cohort_t *a, cohort_t *b, size_t count, int timeout_ms)
{
    cohort_event_t ev;
    for (int i = 0; i < timeout_ms / 10; i++) {
        if (cohort_view(a, NULL, NULL, 0) >= count &&
            cohort_view(b, NULL, NULL, 0) >= count)
            return true;
        (void)cohort_wait(a, &ev, 5);
        (void)cohort_wait(b, &ev, 5);
    }
    return false;
}

/* Two members in one process: they find each other and exchange one
 * message of each delivery mode. */
static void test_two_members_talk(void **state)
{
    (void)state;
    struct cohort_config cfg;
    group_config(&cfg, "test-config-pair", 4);
    cohort_t *a = NULL, *b = NULL;
    assert_int_equal(cohort_open(&a, &cfg), 0);
    assert_int_equal(cohort_open(&b, &cfg), 0);
    cohort_event_t ev;
    assert_true(wait_for(a, COHORT_EVENT_MEMBER_JOINED, &ev, 3000));
    assert_int_equal(ev.u.member.member.id, cohort_self(b).id);
    assert_true(wait_view(a, b, 2, 5000));

    static const char hello[] = "hello, group";
    assert_int_equal(cohort_send(b, COHORT_UNRELIABLE, hello, sizeof hello),
                     0);
    assert_int_equal(cohort_send(b, COHORT_FIFO, hello, sizeof hello), 0);
    assert_int_equal(cohort_flush(b), 0);
    for (int mode = 0; mode < 2; mode++) {
        /* b must run too, so its heartbeats, acks and retransmissions go. */
        assert_true(cohort_process(b) >= 0);
        assert_true(wait_for(a, COHORT_EVENT_MESSAGE, &ev, 3000));
        assert_int_equal(ev.u.message.sender.id, cohort_self(b).id);
        assert_int_equal(ev.u.message.len, sizeof hello);
        assert_memory_equal(ev.u.message.data, hello, sizeof hello);
    }
    /* b's drain needs a's acks, and a runs only when called: alternate. */
    int drained = COHORT_ERR_TIMEDOUT;
    for (int i = 0; i < 300 && drained != 0; i++) {
        assert_true(cohort_process(a) >= 0);
        drained = cohort_drain(b, 10);
        assert_true(drained == 0 || drained == COHORT_ERR_TIMEDOUT);
    }
    assert_int_equal(drained, 0);
    cohort_member_t m[4];
    assert_int_equal(cohort_members(a, m, 4), 2);
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(a, &st), 0);
    assert_true(st.datagrams_received >= 2);
    cohort_close(b);
    assert_true(wait_for(a, COHORT_EVENT_MEMBER_LEFT, &ev, 3000));
    assert_int_equal(ev.u.member.reason, COHORT_LEFT_GRACEFULLY);
    cohort_close(a);
}

/* The default cipher gives way to a member that cannot open AES-256-GCM
 * (COHORT_AES=0 at its open): the two form one view and talk, and the
 * other's statistics count it. The gauges are current when read: a FIFO
 * message not yet acknowledged is in send_window_used_bytes. */
static void test_default_cipher_gives_way(void **state)
{
    (void)state;
#ifndef HAVE_LIBSODIUM
    skip();
#else
    struct cohort_config ca, cb;
    group_config(&ca, "test-config-giveway", 13);
    assert_int_equal(ca.cipher, COHORT_CIPHER_FASTEST);
    ca.security = COHORT_SECURITY_AUTH;
    ca.key = zero_key;
    cb = ca;
    cohort_t *a = NULL, *b = NULL;
    assert_int_equal(cohort_open(&a, &ca), 0);
    assert_int_equal(setenv("COHORT_AES", "0", 1), 0);
    cb.cipher = COHORT_CIPHER_AES256GCM; /* refused: acting without it */
    assert_int_equal(cohort_open(&b, &cb), COHORT_ERR_NOCRYPTO);
    assert_null(b);
    cb.cipher = COHORT_CIPHER_FASTEST;
    int rc = cohort_open(&b, &cb);
    unsetenv("COHORT_AES");
    assert_int_equal(rc, 0);
    assert_true(wait_view(a, b, 2, 5000));
    static const char msg[] = "to a member without AES-256-GCM";
    assert_int_equal(cohort_send(a, COHORT_FIFO, msg, sizeof msg), 0);
    assert_int_equal(cohort_flush(a), 0);
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(a, &st), 0);
    assert_int_equal(st.members_without_aes, 1);
    assert_true(st.send_window_used_bytes >= sizeof msg); /* b has not run */
    cohort_event_t ev;
    do
        assert_true(wait_for(b, COHORT_EVENT_MESSAGE, &ev, 3000));
    while (ev.u.message.sender.id != cohort_self(a).id);
    assert_memory_equal(ev.u.message.data, msg, sizeof msg);
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(b, &st), 0);
    assert_int_equal(st.members_without_aes, 0);
    /* (Its drops may count a's first heartbeats, sealed before a heard
     * it.) */
    cohort_close(b);
    cohort_close(a);
#endif
}

/* Members sealing with different ciphers form one group and hear each
 * other (each opens both); a cipher this machine lacks is NOCRYPTO. */
static void test_mixed_ciphers_talk(void **state)
{
    (void)state;
    assert_int_equal(cohort_cipher_available((cohort_cipher_t)9),
                     COHORT_ERR_INVAL);
#ifndef HAVE_LIBSODIUM
    assert_int_equal(cohort_cipher_available(COHORT_CIPHER_FASTEST), 0);
    skip();
#else
    assert_int_equal(
        cohort_cipher_available(COHORT_CIPHER_XCHACHA20POLY1305), 1);
    assert_int_equal(cohort_cipher_available(COHORT_CIPHER_FASTEST), 1);
    struct cohort_config ca, cb;
    group_config(&ca, "test-config-ciphers", 13);
    ca.security = COHORT_SECURITY_ENCRYPT;
    ca.key = zero_key;
    cb = ca;
    ca.cipher = COHORT_CIPHER_AES256GCM;
    cohort_t *a = NULL, *b = NULL;
    if (cohort_cipher_available(COHORT_CIPHER_AES256GCM) != 1) {
        assert_int_equal(cohort_open(&a, &ca), COHORT_ERR_NOCRYPTO);
        assert_null(a);
        skip();
    }
    cb.cipher = COHORT_CIPHER_XCHACHA20POLY1305;
    assert_int_equal(cohort_open(&a, &ca), 0);
    assert_int_equal(cohort_open(&b, &cb), 0);
    assert_true(wait_view(a, b, 2, 5000));
    static const char ping[] = "sealed with AES-256-GCM";
    static const char pong[] = "sealed with XChaCha20-Poly1305";
    cohort_event_t ev;
    assert_int_equal(cohort_send(a, COHORT_FIFO, ping, sizeof ping), 0);
    assert_int_equal(cohort_flush(a), 0);
    assert_true(cohort_process(a) >= 0);
    do
        assert_true(wait_for(b, COHORT_EVENT_MESSAGE, &ev, 3000));
    while (ev.u.message.sender.id != cohort_self(a).id);
    assert_int_equal(ev.u.message.len, sizeof ping);
    assert_memory_equal(ev.u.message.data, ping, sizeof ping);
    assert_int_equal(cohort_send(b, COHORT_FIFO, pong, sizeof pong), 0);
    assert_int_equal(cohort_flush(b), 0);
    assert_true(cohort_process(b) >= 0);
    do
        assert_true(wait_for(a, COHORT_EVENT_MESSAGE, &ev, 3000));
    while (ev.u.message.sender.id != cohort_self(b).id);
    assert_memory_equal(ev.u.message.data, pong, sizeof pong);
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(a, &st), 0);
    assert_int_equal(st.drops[COHORT_DROP_SECURITY_MODE], 0);
    assert_int_equal(st.drops[COHORT_DROP_AUTH], 0);
    cohort_close(b);
    cohort_close(a);
#endif
}

/* Issue 7, point 2: a member that left gracefully and opens again with
 * the same seed (so the same member id) is accepted by a member that saw
 * it leave; before, the same (id, incarnation) came back and the
 * tombstone of the graceful leave refused it forever. */
static void test_reopen_same_seed_accepted(void **state)
{
    (void)state;
    struct cohort_config cfg;
    group_config(&cfg, "test-config-reopen", 6);
    cohort_t *watcher = NULL, *b = NULL;
    assert_int_equal(cohort_open(&watcher, &cfg), 0);
    cfg.seed = 4242;
    cohort_event_t ev;
    for (int life = 0; life < 2; life++) {
        assert_int_equal(cohort_open(&b, &cfg), 0);
        cohort_member_t self = cohort_self(b);
        bool joined = false;
        for (int i = 0; i < 20 && !joined; i++) {
            assert_true(cohort_process(b) >= 0);
            joined = wait_for(watcher, COHORT_EVENT_MEMBER_JOINED, &ev, 100) &&
                     ev.u.member.member.id == self.id &&
                     ev.u.member.member.incarnation == self.incarnation;
        }
        assert_true(joined);
        cohort_close(b);
        assert_true(wait_for(watcher, COHORT_EVENT_MEMBER_LEFT, &ev, 3000));
    }
    cohort_close(watcher);
}

/* Issue 7, point 15: one table of defaults and one validator. The public
 * defaults are the core's, and for every field the two share, a value
 * cohort_open() refuses is exactly one the core refuses (before, the core
 * took a receive buffer smaller than max_message and a member timeout
 * over 1 h that cohort_open() refused). */
static void test_defaults_are_the_cores(void **state)
{
    (void)state;
    struct cohort_config cfg;
    co_core_config_t d;
    cohort_config_init(&cfg);
    co_core_config_defaults(&d);
    assert_true(cfg.heartbeat_interval_ns == d.heartbeat_interval_ns);
    assert_true(cfg.member_timeout_ns == d.member_timeout_ns);
    assert_true(cfg.nack_delay_ns == d.nack_delay_ns);
    assert_true(cfg.nack_retry_ns == d.nack_retry_ns);
    assert_true(cfg.bundle_delay_ns == d.bundle_delay_ns);
    /* The one exception: the public default is 0, sized from the MTU at
     * open (the core, fed by a simulator too, has no interface). */
    assert_int_equal(cfg.max_datagram, 0);
    assert_int_equal(d.max_datagram, 1400);
    assert_int_equal(cfg.max_message, d.max_message);
    /* and the window follows it: 512 datagrams, at least the core's */
    assert_int_equal(cfg.send_window_bytes, 0);
    assert_int_equal(d.send_window_bytes, 4u << 20);
    assert_int_equal(cfg.recv_buffer_bytes, d.recv_buffer_bytes);
    assert_int_equal(cfg.max_members, d.max_members);
    assert_int_equal(cfg.event_queue_len, d.event_queue_len);
}

typedef struct rule_case {
    const char *field;
    size_t off_pub, off_core, width; /* offsets of the field; width 8 */
    uint64_t value;
} rule_case_t;

#define RULE(f, v)                                                       \
    {#f, offsetof(struct cohort_config, f), offsetof(co_core_config_t, f), \
     sizeof(((co_core_config_t *)0)->f), (uint64_t)(v)}

static const rule_case_t rule_cases[] = {
    RULE(heartbeat_interval_ns, 999999), RULE(heartbeat_interval_ns, MS_NS),
    RULE(heartbeat_interval_ns, 60000 * MS_NS),
    RULE(heartbeat_interval_ns, 60000 * MS_NS + 1),
    RULE(member_timeout_ns, 200 * MS_NS - 1),
    RULE(member_timeout_ns, 3600000 * MS_NS),
    RULE(member_timeout_ns, 3600000 * MS_NS + 1),
    RULE(nack_retry_ns, 99999), RULE(nack_retry_ns, 10000 * MS_NS + 1),
    RULE(nack_delay_ns, 40 * MS_NS + 1), RULE(bundle_delay_ns, 1000 * MS_NS),
    RULE(bundle_delay_ns, 1000 * MS_NS + 1), RULE(max_datagram, 511),
    RULE(max_datagram, 512), RULE(max_datagram, 65507),
    RULE(max_datagram, 65508), RULE(max_message, 0),
    RULE(max_message, 32u << 20), RULE(max_message, (1u << 30) + 1),
    RULE(send_window_bytes, 4 * 1400 - 1), RULE(send_window_bytes, 4 * 1400),
    RULE(send_window_bytes, 33u << 20), RULE(recv_buffer_bytes, 4u << 20),
    RULE(recv_buffer_bytes, (16u << 20) - 1), RULE(recv_buffer_bytes, 16u << 20),
    RULE(max_members, 1), RULE(max_members, 2), RULE(max_members, 1024),
    RULE(max_members, 1025), RULE(event_queue_len, 0),
    RULE(event_queue_len, 1u << 20), RULE(event_queue_len, (1u << 20) + 1),
};

static void set_field(void *base, size_t off, size_t width, uint64_t v)
{
    if (width == sizeof(uint64_t)) {
        memcpy((char *)base + off, &v, sizeof v);
    } else {
        assert_int_equal(width, sizeof(size_t));
        size_t z = (size_t)v;
        memcpy((char *)base + off, &z, sizeof z);
    }
}

static void test_open_and_core_rules_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const rule_case_t *rc = &rule_cases[i];
        struct cohort_config cfg;
        base_config(&cfg);
        cfg.port = test_port(7);
        cfg.max_datagram = 1400; /* the core's default, not the MTU's */
        set_field(&cfg, rc->off_pub, rc->width, rc->value);
        co_core_config_t cc;
        co_core_config_defaults(&cc);
        cc.member_id = cc.incarnation = 1;
        set_field(&cc, rc->off_core, rc->width, rc->value);
        const char *why = NULL;
        bool core_ok = co_core_config_check(&cc, &why) == 0;
        cohort_t *c = NULL;
        int open_rc = cohort_open(&c, &cfg);
        cohort_close(c);
        if ((open_rc == 0) != core_ok)
            fail_msg("%s = %llu: cohort_open %d (%s), core %s", rc->field,
                     (unsigned long long)rc->value, open_rc,
                     cohort_last_error_text(), core_ok ? "accepts" : why);
        if (!core_ok) {
            assert_int_equal(open_rc, COHORT_ERR_INVAL);
            /* The same validator, so the same text, naming a field. */
            assert_non_null(strstr(cohort_last_error_text(), why));
            assert_non_null(strstr(why, "_"));
        }
    }
}

static uint64_t sent_by(const cohort_t *c)
{
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(c, &st), 0);
    return st.datagrams_sent;
}

/* Issue 7, point 6: what the core queues while the application drains
 * events (acks for held messages that delivery lets move on) leaves from
 * cohort_next_event() itself, not at the next timer; and while anything
 * waits, cohort_timeout_ms() says 0. */
static void test_next_event_sends_what_it_queued(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.group = "test-config-drain";
    cfg.port = test_port(8);
    cfg.max_datagram = 1400; /* both: a's window is four of them */
    cohort_t *a = NULL, *b = NULL;
    assert_int_equal(cohort_open(&b, &cfg), 0);
    cfg.event_queue_len = 1;          /* a holds what it cannot queue */
    cfg.send_window_bytes = 4 * 1400; /* and acks every 1400 bytes */
    cfg.recv_buffer_bytes = cfg.max_message;
    assert_int_equal(cohort_open(&a, &cfg), 0);
    cohort_event_t ev;
    assert_true(wait_for(b, COHORT_EVENT_MEMBER_JOINED, &ev, 3000));
    assert_true(wait_view(a, b, 2, 5000));
    uint8_t msg[1000];
    memset(msg, 7, sizeof msg);
    for (int i = 0; i < 16; i++)
        assert_int_equal(cohort_send(b, COHORT_FIFO, msg, sizeof msg), 0);
    assert_int_equal(cohort_flush(b), 0);
    /* a takes everything in; its queue of one event is full. */
    for (int i = 0; i < 50; i++) {
        assert_true(cohort_process(a) >= 0);
        assert_true(cohort_process(b) >= 0);
        usleep(2000);
    }
    uint64_t before = sent_by(a);
    int messages = 0;
    while (cohort_next_event(a, &ev) == 1) {
        messages += ev.type == COHORT_EVENT_MESSAGE;
    }
    assert_true(messages >= 2);
    assert_true(sent_by(a) > before);
    cohort_close(a);
    cohort_close(b);
}

/* Issue 7, point 11: the largest message of each mode, and that it is
 * exactly where cohort_send() starts saying TOOBIG. */
static size_t max_payload_with(cohort_security_t security, size_t *fifo)
{
    static const uint8_t key[COHORT_KEY_BYTES] = {1, 2, 3};
    static uint8_t buf[2000];
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(9);
    cfg.max_datagram = 1400;
    cfg.security = security;
    cfg.key = security != COHORT_SECURITY_NONE ? key : NULL;
    cohort_t *c = NULL;
    assert_int_equal(cohort_open(&c, &cfg), 0);
    size_t n = cohort_max_payload(c, COHORT_UNRELIABLE);
    *fifo = cohort_max_payload(c, COHORT_FIFO);
    assert_true(n > 0 && n < sizeof buf);
    assert_int_equal(cohort_max_payload(c, COHORT_TOTAL), *fifo);
    assert_int_equal(cohort_max_payload(c, COHORT_SAFE), *fifo);
    assert_int_equal(cohort_max_payload(c, (cohort_mode_t)4), 0);
    assert_int_equal(cohort_send(c, COHORT_UNRELIABLE, buf, n), 0);
    assert_int_equal(cohort_send(c, COHORT_UNRELIABLE, buf, n + 1),
                     COHORT_ERR_TOOBIG);
    cohort_close(c);
    return n;
}

static void test_max_payload(void **state)
{
    (void)state;
    size_t fifo = 0;
    assert_int_equal(max_payload_with(COHORT_SECURITY_NONE, &fifo), 1340);
    assert_int_equal(fifo, 16u << 20);
    assert_int_equal(cohort_max_payload(NULL, COHORT_FIFO), 0);
#ifdef HAVE_LIBSODIUM
    size_t auth = max_payload_with(COHORT_SECURITY_AUTH, &fifo);
    size_t enc = max_payload_with(COHORT_SECURITY_ENCRYPT, &fifo);
    assert_true(auth < 1340);
    assert_true(enc < 1340);
#endif
}

/* The interface's MTU less 28 bytes of IPv4 and UDP headers, from
 * /sys; 0 if it cannot be read. */
static size_t sys_datagram(const char *ifname)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/mtu", ifname);
    FILE *f = fopen(path, "r");
    unsigned long mtu = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu", &mtu) != 1)
        mtu = 0;
    fclose(f);
    if (mtu < 28)
        return 0;
    return mtu - 28 > 65507 ? 65507 : mtu - 28;
}

/* Issue 12: max_datagram 0 (the default) is the interface's MTU less
 * the headers, cut to what the window and reply history allow; an
 * explicit one is kept; cohort_open() uses what cohort_config_datagram()
 * tells. */
static void test_datagram_from_mtu(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(15);
    size_t dg = 0, want = sys_datagram("lo");
    assert_int_equal(cohort_config_datagram(&cfg, &dg), 0);
    assert_true(dg >= 512 && dg <= 65507);
    if (want >= 512)
        assert_int_equal(dg, want);
    /* the same without a group, and for the default interface (lo) */
    cfg.group = NULL;
    cfg.interface = NULL;
    size_t dg2 = 0;
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), 0);
    assert_int_equal(dg2, dg);
    cfg.group = "test-config";
    cfg.interface = "lo";
    /* what an open gets: an UNRELIABLE message fills one datagram */
    cohort_t *c = NULL;
    assert_int_equal(cohort_open(&c, &cfg), 0);
    size_t room = cohort_max_payload(c, COHORT_UNRELIABLE);
    assert_true(room < dg && room + 100 > dg);
    cohort_close(c);
    /* an override is kept as it is */
    cfg.max_datagram = 1400;
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), 0);
    assert_int_equal(dg2, 1400);
    cfg.max_datagram = 0;
    /* the window holds four datagrams, the reply history one */
    cfg.send_window_bytes = 16384;
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), 0);
    assert_int_equal(dg2, dg < 4096 ? dg : 4096);
    cfg.send_window_bytes = 4u << 20;
    cfg.rpc_history_bytes = 3000;
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), 0);
    assert_int_equal(dg2, dg < 3000 ? dg : 3000);
    cfg.rpc_history_bytes = 8u << 20;
    /* errors */
    assert_int_equal(cohort_config_datagram(NULL, &dg2), COHORT_ERR_INVAL);
    assert_int_equal(cohort_config_datagram(&cfg, NULL), COHORT_ERR_INVAL);
    cfg.interface = "nosuchif0";
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), COHORT_ERR_ADDRESS);
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_ADDRESS);
    assert_non_null(strstr(cohort_last_error_text(), "nosuchif0"));
    cfg.interface = "lo";
    cfg.ipv6 = 2;
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), COHORT_ERR_INVAL);
    cfg.ipv6 = 0;
    cfg.struct_size = 3;
    assert_int_equal(cohort_config_datagram(&cfg, &dg2), COHORT_ERR_VERSION);
}

/* A member with a smaller max_datagram drops the larger datagrams of
 * another and says so with a TOOBIG warning naming both sizes. */
static void test_datagram_mismatch_warns(void **state)
{
    (void)state;
    struct cohort_config cfg;
    group_config(&cfg, "test-config-mtu", 16);
    size_t dg = 0;
    assert_int_equal(cohort_config_datagram(&cfg, &dg), 0);
    if (dg < 8000)
        skip(); /* loopback with a small MTU: no larger datagram to send */
    cohort_t *small = NULL, *big = NULL;
    cfg.max_datagram = 1400;
    assert_int_equal(cohort_open(&small, &cfg), 0);
    cfg.max_datagram = 0;
    assert_int_equal(cohort_open(&big, &cfg), 0);
    static char msg[6000];
    memset(msg, 'm', sizeof msg);
    bool warned = false;
    cohort_event_t ev;
    for (int round = 0; round < 100 && !warned; round++) {
        assert_int_equal(cohort_send(big, COHORT_UNRELIABLE, msg, sizeof msg),
                         0);
        assert_int_equal(cohort_flush(big), 0);
        for (int i = 0; i < 50 && !warned; i++) {
            int rc = cohort_wait(small, &ev, 10);
            assert_true(rc >= 0);
            if (rc == 1 && ev.type == COHORT_EVENT_WARNING &&
                ev.u.warning.code == COHORT_ERR_TOOBIG) {
                warned = true;
                assert_non_null(strstr(ev.u.warning.text, "1400"));
            }
            if (rc == 0)
                break;
        }
        (void)cohort_process(big);
    }
    assert_true(warned);
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(small, &st), 0);
    assert_true(st.drops[COHORT_DROP_TRUNCATED] >= 1);
    cohort_close(big);
    cohort_close(small);
}

/* Issue 7, point 12: the documented answers. cohort_members(c, NULL, 0)
 * is the count; cohort_drain(c, 0) answers "is everything I sent stable?"
 * at once, without blocking. */
static void test_documented_answers(void **state)
{
    (void)state;
    struct cohort_config cfg;
    group_config(&cfg, "test-config-answers", 10);
    cohort_t *a = NULL, *b = NULL;
    assert_int_equal(cohort_open(&a, &cfg), 0);
    assert_int_equal(cohort_members(a, NULL, 0), 1);
    cohort_event_t ev;
    /* Sends wait for the first view (a group of one, after discovery). */
    for (int i = 0; i < 300 && cohort_view(a, NULL, NULL, 0) == 0; i++)
        (void)cohort_wait(a, &ev, 10);
    assert_int_equal(cohort_view(a, NULL, NULL, 0), 1);
    assert_int_equal(cohort_send(a, COHORT_FIFO, "x", 1), 0);
    assert_int_equal(cohort_drain(a, 0), 0); /* alone: stable at once */
    assert_int_equal(cohort_open(&b, &cfg), 0);
    assert_true(wait_for(a, COHORT_EVENT_MEMBER_JOINED, &ev, 3000));
    assert_true(wait_view(a, b, 2, 5000)); /* b holds back a's window */
    assert_int_equal(cohort_members(a, NULL, 0), 2);
    assert_int_equal(cohort_send(a, COHORT_FIFO, "y", 1), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(cohort_drain(a, 0), COHORT_ERR_TIMEDOUT); /* b owes an ack */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long spent_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
                    (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(spent_ms < 10);
    int drained = COHORT_ERR_TIMEDOUT;
    for (int i = 0; i < 300 && drained != 0; i++) {
        assert_true(cohort_process(b) >= 0);
        usleep(1000);
        drained = cohort_drain(a, 0);
    }
    assert_int_equal(drained, 0);
    cohort_close(b);
    cohort_close(a);
}

/* State transfer through the public calls, over real sockets: b joins a
 * asking for the state; a provides 100 kB; b gets it whole, then DONE.
 * Also the calls' documented refusals. */
static void test_state_transfer_public(void **state)
{
    (void)state;
    assert_int_equal(cohort_state_request(NULL), COHORT_ERR_INVAL);
    assert_int_equal(cohort_state_send(NULL, 1, "x", 1), COHORT_ERR_INVAL);
    assert_int_equal(cohort_state_end(NULL, 1), COHORT_ERR_INVAL);
    struct cohort_config cfg;
    group_config(&cfg, "test-config-state", 11);
    cohort_t *a = NULL, *b = NULL;
    cfg.state_transfer = 1;
    cfg.self_delivery = 0;
    assert_int_equal(cohort_open(&a, &cfg), COHORT_ERR_INVAL);
    cfg.self_delivery = 1;
    cfg.state_transfer = 0;
    assert_int_equal(cohort_open(&a, &cfg), 0);
    cohort_event_t ev;
    for (int i = 0; i < 300 && cohort_view(a, NULL, NULL, 0) == 0; i++)
        (void)cohort_wait(a, &ev, 10);
    assert_int_equal(cohort_state_send(a, 77, "x", 1), COHORT_ERR_STATE);
    assert_int_equal(cohort_state_end(a, 77), COHORT_ERR_STATE);
    cfg.state_transfer = 1;
    assert_int_equal(cohort_open(&b, &cfg), 0);
    assert_int_equal(cohort_state_request(b), COHORT_ERR_STATE);
    static uint8_t snap[100000], got[100000];
    for (size_t i = 0; i < sizeof snap; i++)
        snap[i] = (uint8_t)(i * 7 + 3);
    uint32_t serving = 0;
    size_t sent = 0, received = 0;
    int done = -1;
    for (int round = 0; round < 20000 && done < 0; round++) {
        while (cohort_next_event(a, &ev) == 1)
            if (ev.type == COHORT_EVENT_STATE_REQUEST) {
                assert_int_equal(ev.abi, COHORT_EVENT_ABI);
                assert_int_equal(ev.u.state.peer.id, cohort_self(b).id);
                serving = ev.u.state.transfer;
            }
        while (cohort_next_event(b, &ev) == 1) {
            if (ev.type == COHORT_EVENT_STATE_CHUNK) {
                assert_int_equal(ev.u.state.offset, received);
                assert_true(received + ev.u.state.len <= sizeof got);
                memcpy(got + received, ev.u.state.data, ev.u.state.len);
                received += ev.u.state.len;
            } else if (ev.type == COHORT_EVENT_STATE_DONE) {
                done = ev.u.state.result;
                assert_int_equal(ev.u.state.offset, received);
                assert_int_equal(ev.u.state.peer.id, cohort_self(a).id);
            }
        }
        while (serving && sent < sizeof snap) {
            size_t n = sizeof snap - sent < 5000 ? sizeof snap - sent : 5000;
            int rc = cohort_state_send(a, serving, snap + sent, n);
            if (rc == COHORT_ERR_AGAIN)
                break;
            assert_int_equal(rc, 0);
            sent += n;
        }
        if (serving && sent == sizeof snap) {
            assert_int_equal(cohort_state_end(a, serving), 0);
            assert_int_equal(cohort_state_end(a, serving), COHORT_ERR_STATE);
            serving = 0;
        }
        assert_true(cohort_process(a) >= 0);
        assert_true(cohort_process(b) >= 0);
        usleep(200);
    }
    assert_int_equal(done, COHORT_STATE_RECEIVED);
    assert_int_equal(received, sizeof snap);
    assert_memory_equal(got, snap, sizeof snap);
    struct cohort_stats st = {.struct_size = sizeof st};
    assert_int_equal(cohort_stats(b, &st), 0);
    assert_int_equal(st.state_transfers_received, 1);
    assert_int_equal(st.state_bytes_received, sizeof snap);
    assert_int_equal(cohort_stats(a, &st), 0);
    assert_int_equal(st.state_transfers_provided, 1);
    cohort_close(b);
    cohort_close(a);
}

/* Issue 7, point 12: keygen never overwrites, and says so with SYSTEM
 * and errno EEXIST. */
static void test_keygen_refuses_existing(void **state)
{
    (void)state;
#ifdef HAVE_LIBSODIUM
    char path[] = "/tmp/cohort-keygen-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    errno = 0;
    assert_int_equal(cohort_keygen(path), COHORT_ERR_SYSTEM);
    assert_int_equal(errno, EEXIST);
    char buf[8] = {0};
    fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof buf), 4);
    close(fd);
    assert_string_equal(buf, "keep");
    unlink(path);
#endif
}

/* Injected loss is counted where cohort_stats() can show it. */
static void test_injected_drops_counted(void **state)
{
    (void)state;
    struct cohort_config cfg;
    base_config(&cfg);
    cfg.port = test_port(5);
    cfg.faults = "tx_drop=1,seed=1";
    cohort_t *c = NULL;
    assert_int_equal(cohort_open(&c, &cfg), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(cohort_send(c, COHORT_UNRELIABLE, "x", 1), 0);
        assert_int_equal(cohort_flush(c), 0);
    }
    struct cohort_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(cohort_stats(c, &st), 0);
    assert_true(st.drops[COHORT_DROP_INJECTED] >= 10);
    assert_true(st.drops_total >= st.drops[COHORT_DROP_INJECTED]);
    assert_int_equal(st.datagrams_sent, 0);
    cohort_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_defaults_are_the_cores),
        cmocka_unit_test(test_open_and_core_rules_agree),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_drop_reason_names),
        cmocka_unit_test(test_open_rejects_each_bad_field),
        cmocka_unit_test(test_open_null_arguments),
        cmocka_unit_test(test_open_security),
        cmocka_unit_test(test_mixed_ciphers_talk),
        cmocka_unit_test(test_default_cipher_gives_way),
        cmocka_unit_test(test_add_key),
        cmocka_unit_test(test_window_fits_socket_buffer),
        cmocka_unit_test(test_faults_from_environment),
        cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_open_close_alone),
        cmocka_unit_test(test_busy_poll_wait),
        cmocka_unit_test(test_stats_struct_size),
        cmocka_unit_test(test_config_prefix),
        cmocka_unit_test(test_seed_makes_ids_reproducible),
        cmocka_unit_test(test_two_members_talk),
        cmocka_unit_test(test_reopen_same_seed_accepted),
        cmocka_unit_test(test_next_event_sends_what_it_queued),
        cmocka_unit_test(test_injected_drops_counted),
        cmocka_unit_test(test_max_payload),
        cmocka_unit_test(test_datagram_from_mtu),
        cmocka_unit_test(test_datagram_mismatch_warns),
        cmocka_unit_test(test_documented_answers),
        cmocka_unit_test(test_state_transfer_public),
        cmocka_unit_test(test_keygen_refuses_existing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
