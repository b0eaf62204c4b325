/*
 * test_transport.c - the sockets layer over loopback: how it counts what
 * the kernel refuses, and runs sent segmented (UDP_SEGMENT).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport.h"

static co_transport_t *open_lo(int gso)
{
    co_transport_config_t tc;
    memset(&tc, 0, sizeof tc);
    tc.group_hash = 0x7e57u;
    tc.port = (uint16_t)(30000 + (getpid() * 7 + 9) % 20000);
    tc.interface = "lo";
    tc.ttl = 0;
    tc.loopback = 1;
    tc.max_datagram = 1400;
    tc.gso = gso;
    char why[256];
    co_transport_t *t = NULL;
    if (co_transport_open(&t, &tc, why, sizeof why) != 0)
        fail_msg("transport: %s", why);
    return t;
}

/* Issue 7, point 14: a datagram the kernel refuses (here the broadcast
 * address without SO_BROADCAST: EACCES) is a send error, not the receive
 * drop reason QUEUE_FULL it used to be counted as. */
static void test_send_refusal_is_a_send_error(void **state)
{
    (void)state;
    co_transport_t *t = open_lo(0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(9);
    sin.sin_addr.s_addr = htonl(INADDR_BROADCAST);
    co_addr_t dest = {.len = sizeof sin};
    memcpy(dest.bytes, &sin, sizeof sin);
    static const uint8_t dgram[32];
    for (int i = 0; i < 3; i++)
        assert_int_equal(co_transport_queue(t, &dest, dgram, sizeof dgram), 0);
    assert_int_equal(co_transport_flush(t), 0);
    struct cohort_stats s;
    memset(&s, 0, sizeof s);
    co_transport_add_stats(t, &s);
    assert_true(s.send_errors == 3);
    assert_true(s.datagrams_sent == 0);
    assert_true(s.drops[COHORT_DROP_QUEUE_FULL] == 0);
    assert_true(s.drops_total == 0);
    co_transport_close(t);
}

/* A plain UDP socket on 127.0.0.1, an ephemeral port, that waits at most
 * two seconds for a datagram; *dest is its endpoint. */
static int open_receiver(co_addr_t *dest)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    struct timeval tv = {2, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv),
                     0);
    memset(dest, 0, sizeof *dest);
    dest->len = (uint8_t)sizeof sin;
    memcpy(dest->bytes, &sin, sizeof sin);
    return fd;
}

/* Datagram i of a test: len bytes that name i and their offset. */
static void fill(uint8_t *buf, size_t len, size_t i)
{
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 31 + k * 7);
}

/* Queue lens[0, n) to dest, flush, and see each arrive at fd as a
 * datagram of its own, in order, with its contents. */
static void send_and_check(co_transport_t *t, int fd, const co_addr_t *dest,
                           const size_t *lens, size_t n)
{
    uint8_t buf[1400], got[2000];
    for (size_t i = 0; i < n; i++) {
        fill(buf, lens[i], i);
        assert_int_equal(co_transport_queue(t, dest, buf, lens[i]), 0);
    }
    assert_int_equal(co_transport_flush(t), 0);
    for (size_t i = 0; i < n; i++) {
        ssize_t r = recv(fd, got, sizeof got, 0);
        assert_int_equal(r, (ssize_t)lens[i]);
        fill(buf, lens[i], i);
        assert_memory_equal(got, buf, lens[i]);
    }
}

/* Three runs: four of 300 bytes, four of 700 (longer: a new run), one of
 * 1 200 alone (no run of one is segmented). */
static const size_t run_lens[] = {300, 300, 300, 300, 700,
                                  700, 700, 700, 1200};
#define RUN_COUNT (sizeof run_lens / sizeof run_lens[0])

static struct cohort_stats stats_of(const co_transport_t *t)
{
    struct cohort_stats s;
    memset(&s, 0, sizeof s);
    co_transport_add_stats(t, &s);
    return s;
}

/* With gso, a run leaves as one message the kernel cuts at the run's
 * length; the receiver still gets the datagrams one by one, in order, as
 * it does without gso. A shorter tail (a message's last fragment) ends a
 * run inside it; a datagram to another destination starts a new one. */
static void test_runs_arrive_as_datagrams(void **state)
{
    (void)state;
    co_addr_t dest, other;
    int fd = open_receiver(&dest), fd2 = open_receiver(&other);
    for (int gso = 0; gso <= 1; gso++) {
        co_transport_t *t = open_lo(gso);
        if (gso && !co_transport_gso(t)) {
            co_transport_close(t);
            close(fd);
            close(fd2);
            skip(); /* the kernel has no UDP_SEGMENT */
        }
        assert_int_equal(co_transport_gso(t), gso);
        send_and_check(t, fd, &dest, run_lens, RUN_COUNT);
        struct cohort_stats s = stats_of(t);
        assert_int_equal(s.datagrams_sent, RUN_COUNT);
        assert_int_equal(s.bytes_sent, 4 * 300 + 4 * 700 + 1200);
        assert_int_equal(s.gso_datagrams, gso ? 8 : 0);
        assert_int_equal(s.send_errors, 0);
        assert_int_equal(co_transport_gso(t), gso);

        /* 500, 500, 200 | (to another) 500, 500 | 500: three runs. */
        static const uint8_t z[500];
        const co_addr_t *to[] = {&dest, &dest, &dest, &other, &other, &dest};
        const size_t len[] = {500, 500, 200, 500, 500, 500};
        for (size_t i = 0; i < 6; i++)
            assert_int_equal(co_transport_queue(t, to[i], z, len[i]), 0);
        assert_int_equal(co_transport_flush(t), 0);
        const size_t at_dest[] = {500, 500, 200, 500};
        for (size_t i = 0; i < 6; i++) {
            uint8_t got[600];
            size_t want = i < 4 ? at_dest[i] : 500;
            assert_int_equal(recv(i < 4 ? fd : fd2, got, sizeof got, 0),
                             (ssize_t)want);
        }
        s = stats_of(t);
        assert_int_equal(s.datagrams_sent, RUN_COUNT + 6);
        assert_int_equal(s.gso_datagrams, gso ? 8 + 5 : 0);
        co_transport_close(t);
    }
    close(fd);
    close(fd2);
}

/* The transport's sending socket: the descriptor of this process bound
 * to its local endpoint. */
static int sending_fd(const co_transport_t *t)
{
    co_addr_t local = co_transport_local(t);
    for (int fd = 0; fd < 1024; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
            len == local.len && memcmp(&ss, local.bytes, len) == 0)
            return fd;
    }
    fail_msg("no socket bound to the transport's endpoint");
    return -1;
}

/* A kernel that refuses a segmented run (here: SO_NO_CHECK, which GSO
 * cannot honour, EINVAL) turns gso off for good; the refused run and the
 * rest go one datagram a message, none lost, none twice. */
static void test_refused_run_falls_back(void **state)
{
    (void)state;
    co_addr_t dest;
    int fd = open_receiver(&dest);
    co_transport_t *t = open_lo(1);
    if (!co_transport_gso(t)) {
        co_transport_close(t);
        close(fd);
        skip();
    }
    int one = 1;
    assert_int_equal(setsockopt(sending_fd(t), SOL_SOCKET, SO_NO_CHECK, &one,
                                sizeof one),
                     0);
    send_and_check(t, fd, &dest, run_lens, RUN_COUNT);
    assert_false(co_transport_gso(t));
    struct cohort_stats s = stats_of(t);
    assert_int_equal(s.datagrams_sent, RUN_COUNT);
    assert_int_equal(s.gso_datagrams, 0);
    assert_int_equal(s.send_errors, 0);
    send_and_check(t, fd, &dest, run_lens, RUN_COUNT); /* still off */
    assert_int_equal(stats_of(t).datagrams_sent, 2 * RUN_COUNT);
    co_transport_close(t);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_refusal_is_a_send_error),
        cmocka_unit_test(test_runs_arrive_as_datagrams),
        cmocka_unit_test(test_refused_run_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
