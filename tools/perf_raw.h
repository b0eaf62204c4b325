/*
 * perf_raw.h - bare UDP multicast sockets for cohort-perf's baseline: the
 * same workload with no protocol at all, one message per datagram, so the
 * cost of cohort can be read as a ratio.
 */
#ifndef COHORT_TOOLS_PERF_RAW_H
#define COHORT_TOOLS_PERF_RAW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct perf_raw {
    int fd;
    struct sockaddr_storage group;
    socklen_t group_len;
};

/* Open a non-blocking socket bound to address:port, joined to that group
 * on interface ifname (a name such as "lo", or a local IPv4 address), and
 * sending to it there with TTL 1 and loopback on. buffer_bytes sizes
 * SO_RCVBUF/SO_SNDBUF. Returns 0 or -1 with a message printed. */
int perf_raw_open(struct perf_raw *r, const char *ifname, const char *address,
                  uint16_t port, int ipv6, int buffer_bytes);

/* Send one datagram to the group. Returns 0, 1 when the socket buffer is
 * full (try again after perf_raw_wait), or -1 (message printed). */
int perf_raw_send(struct perf_raw *r, const void *data, size_t len);

/* Take one waiting datagram. Returns its length, 0 when none is waiting,
 * or -1 (message printed). */
ssize_t perf_raw_recv(struct perf_raw *r, void *buf, size_t cap);

/* Wait at most max_ms for the socket to be readable (or writable with
 * for_write). */
void perf_raw_wait(struct perf_raw *r, int for_write, int max_ms);

void perf_raw_close(struct perf_raw *r);

#endif /* COHORT_TOOLS_PERF_RAW_H */
