/*
 * test_transport.c - the sockets layer over loopback: how it counts what
 * the kernel refuses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport.h"

static co_transport_t *open_lo(void)
{
    co_transport_config_t tc;
    memset(&tc, 0, sizeof tc);
    tc.group_hash = 0x7e57u;
    tc.port = (uint16_t)(30000 + (getpid() * 7 + 9) % 20000);
    tc.interface = "lo";
    tc.ttl = 0;
    tc.loopback = 1;
    tc.max_datagram = 1400;
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
    co_transport_t *t = open_lo();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_refusal_is_a_send_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
