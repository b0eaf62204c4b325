/*
 * perf_raw.c - bare UDP multicast sockets (the cohort-perf baseline).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "perf_raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static int fail(struct perf_raw *r, const char *what)
{
    tool_err("raw socket: %s: %s", what, strerror(errno));
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    return -1;
}

static int setopt(int fd, int level, int name, const void *v, socklen_t len)
{
    return setsockopt(fd, level, name, v, len);
}

static int open4(struct perf_raw *r, const char *ifname, const char *address,
                 uint16_t port)
{
    struct sockaddr_in *g = (struct sockaddr_in *)&r->group;
    struct ip_mreqn mreq;
    unsigned char ttl = 1, loop = 1;
    int all = 0;
    memset(&mreq, 0, sizeof mreq);
    g->sin_family = AF_INET;
    g->sin_port = htons(port);
    if (inet_pton(AF_INET, address, &g->sin_addr) != 1 ||
        !IN_MULTICAST(ntohl(g->sin_addr.s_addr))) {
        errno = EINVAL;
        return fail(r, "not an IPv4 multicast address");
    }
    r->group_len = sizeof *g;
    mreq.imr_multiaddr = g->sin_addr;
    mreq.imr_ifindex = (int)if_nametoindex(ifname);
    if (mreq.imr_ifindex == 0 &&
        inet_pton(AF_INET, ifname, &mreq.imr_address) != 1) {
        errno = ENODEV;
        return fail(r, ifname);
    }
    if (bind(r->fd, (struct sockaddr *)g, sizeof *g) != 0)
        return fail(r, "bind");
    if (setopt(r->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) ||
        setopt(r->fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) ||
        setopt(r->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) ||
        setopt(r->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop))
        return fail(r, "join");
    /* Only the group we joined, not every group bound to this port. */
    (void)setopt(r->fd, IPPROTO_IP, IP_MULTICAST_ALL, &all, sizeof all);
    return 0;
}

static int open6(struct perf_raw *r, const char *ifname, const char *address,
                 uint16_t port)
{
    struct sockaddr_in6 *g = (struct sockaddr_in6 *)&r->group;
    struct ipv6_mreq mreq;
    int hops = 1, loop = 1;
    unsigned ifindex = if_nametoindex(ifname);
    memset(&mreq, 0, sizeof mreq);
    g->sin6_family = AF_INET6;
    g->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address, &g->sin6_addr) != 1 ||
        !IN6_IS_ADDR_MULTICAST(&g->sin6_addr)) {
        errno = EINVAL;
        return fail(r, "not an IPv6 multicast address");
    }
    if (ifindex == 0) {
        errno = ENODEV;
        return fail(r, ifname);
    }
    g->sin6_scope_id = ifindex;
    r->group_len = sizeof *g;
    mreq.ipv6mr_multiaddr = g->sin6_addr;
    mreq.ipv6mr_interface = ifindex;
    if (bind(r->fd, (struct sockaddr *)g, sizeof *g) != 0)
        return fail(r, "bind");
    if (setopt(r->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) ||
        setopt(r->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
               sizeof ifindex) ||
        setopt(r->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) ||
        setopt(r->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop))
        return fail(r, "join");
    return 0;
}

int perf_raw_open(struct perf_raw *r, const char *ifname, const char *address,
                  uint16_t port, int ipv6, int buffer_bytes)
{
    int one = 1;
    memset(r, 0, sizeof *r);
    r->fd = socket(ipv6 ? AF_INET6 : AF_INET,
                   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0)
        return fail(r, "socket");
    /* Several receivers on one host share the port. */
    if (setopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return fail(r, "SO_REUSEADDR");
    (void)setopt(r->fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes,
                 sizeof buffer_bytes);
    (void)setopt(r->fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes,
                 sizeof buffer_bytes);
    return ipv6 ? open6(r, ifname, address, port)
                : open4(r, ifname, address, port);
}

int perf_raw_send(struct perf_raw *r, const void *data, size_t len)
{
    ssize_t n = sendto(r->fd, data, len, 0, (struct sockaddr *)&r->group,
                       r->group_len);
    if (n == (ssize_t)len)
        return 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                  errno == ENOBUFS || errno == EINTR))
        return 1;
    tool_err("raw socket: sendto: %s", n < 0 ? strerror(errno) : "short");
    return -1;
}

ssize_t perf_raw_recv(struct perf_raw *r, void *buf, size_t cap)
{
    ssize_t n = recv(r->fd, buf, cap, MSG_DONTWAIT);
    if (n >= 0)
        return n == 0 ? 0 : n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    tool_err("raw socket: recv: %s", strerror(errno));
    return -1;
}

void perf_raw_wait(struct perf_raw *r, int for_write, int max_ms)
{
    struct pollfd p;
    p.fd = r->fd;
    p.events = for_write ? POLLOUT : POLLIN;
    p.revents = 0;
    (void)poll(&p, 1, max_ms);
}

void perf_raw_close(struct perf_raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}
