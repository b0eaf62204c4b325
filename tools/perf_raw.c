/*
 * perf_raw.c - bare UDP multicast sockets (the cohort-perf baseline):
 * messages cut to the datagram limit, one system call per datagram.
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
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

static int fail(struct perf_raw *r, const char *what)
{
    tool_err("raw socket: %s: %s", what, strerror(errno));
    perf_raw_close(r);
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

/* As the library sizes its buffers: past rmem_max when allowed, so both
 * sides of the comparison get the same room. */
static void set_buffers(int fd, int bytes)
{
    if (setopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (setopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

int perf_raw_open(struct perf_raw *r, const char *ifname, const char *address,
                  uint16_t port, int ipv6, int buffer_bytes,
                  size_t max_datagram, size_t max_message)
{
    int one = 1;
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (max_datagram <= PERF_RAW_HDR_BYTES || max_message == 0) {
        errno = EINVAL;
        return fail(r, "datagram limit too small");
    }
    r->max_datagram = max_datagram;
    r->max_message = max_message;
    r->dgram = malloc(max_datagram);
    if (r->dgram == NULL)
        return fail(r, "buffers");
    r->fd = socket(ipv6 ? AF_INET6 : AF_INET,
                   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0)
        return fail(r, "socket");
    /* Several receivers on one host share the port. */
    if (setopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return fail(r, "SO_REUSEADDR");
    set_buffers(r->fd, buffer_bytes);
    return ipv6 ? open6(r, ifname, address, port)
                : open4(r, ifname, address, port);
}

static void put_hdr(uint8_t *b, uint32_t index, size_t chunk, size_t chunks)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(index >> (8 * i));
    b[4] = (uint8_t)chunk;
    b[5] = (uint8_t)(chunk >> 8);
    b[6] = (uint8_t)chunks;
    b[7] = (uint8_t)(chunks >> 8);
}

/* What sendmsg() said of a datagram of want bytes: 0 sent, 1 full, -1
 * error. */
static int sent_result(ssize_t sent, size_t want)
{
    if (sent == (ssize_t)want)
        return 0;
    /* A firewall rule on output said no (tests/netns.sh with
     * COHORT_NFT_DROP_OUTPUT): the datagram is lost, as on a lossy network,
     * and the receiver counts. */
    if (sent < 0 && errno == EPERM)
        return 0;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                     errno == ENOBUFS || errno == EINTR))
        return 1;
    tool_err("raw socket: sendmsg: %s", sent < 0 ? strerror(errno) : "short");
    return -1;
}

/* One datagram: the header and a slice of the caller's message, gathered
 * by the kernel (no copy here). 0 sent, 1 full, -1 error. */
static int send_chunk(struct perf_raw *r, const uint8_t *data, size_t len,
                      size_t chunk, size_t chunks)
{
    size_t room = r->max_datagram - PERF_RAW_HDR_BYTES;
    size_t off = chunk * room;
    size_t n = len - off < room ? len - off : room;
    uint8_t hdr[PERF_RAW_HDR_BYTES];
    struct iovec iov[2];
    struct msghdr mh;
    ssize_t sent;
    put_hdr(hdr, (uint32_t)r->source << 24 | (r->tx_index & 0xffffffu), chunk,
            chunks);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof hdr;
    iov[1].iov_base = (void *)(uintptr_t)(data + off);
    iov[1].iov_len = n;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &r->group;
    mh.msg_namelen = r->group_len;
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    sent = sendmsg(r->fd, &mh, 0);
    return sent_result(sent, n + sizeof hdr);
}

int perf_raw_send(struct perf_raw *r, const void *data, size_t len)
{
    size_t room = r->max_datagram - PERF_RAW_HDR_BYTES;
    size_t chunks = len == 0 ? 1 : (len + room - 1) / room;
    if (r->whole) {
        if (len > r->max_datagram) {
            tool_err("raw socket: %zu bytes do not fit one datagram (at "
                     "most %zu)", len, r->max_datagram);
            return -1;
        }
        return sent_result(sendto(r->fd, data, len, 0,
                                  (const struct sockaddr *)&r->group,
                                  r->group_len), len);
    }
    if (chunks > PERF_RAW_MAX_CHUNKS) {
        tool_err("raw socket: %zu bytes need more than %u datagrams of %zu",
                 len, PERF_RAW_MAX_CHUNKS, r->max_datagram);
        return -1;
    }
    for (; r->tx_chunk < chunks; r->tx_chunk++) {
        int rc = send_chunk(r, data, len, r->tx_chunk, chunks);
        if (rc != 0)
            return rc;
    }
    r->tx_chunk = 0;
    r->tx_index++;
    return 0;
}

/* Close the message being put together, counting it lost if it was. */
static void abandon(struct perf_raw *r, struct perf_raw_rx *x)
{
    if (x->next != 0)
        r->partial++;
    x->next = 0;
    x->len = 0;
}

/* Add one datagram (already past the size check) to its source's
 * reassembly. Returns the message length when it completes one, else 0. */
static size_t take_chunk(struct perf_raw *r, const uint8_t *p, size_t n,
                         const uint8_t **msg)
{
    uint32_t index = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    struct perf_raw_rx *x = &r->rx[(index >> 24) % PERF_RAW_MAX_SOURCES];
    size_t chunk = (size_t)p[4] | (size_t)p[5] << 8;
    size_t chunks = (size_t)p[6] | (size_t)p[7] << 8;
    size_t len = n - PERF_RAW_HDR_BYTES;
    if (chunks == 0 || chunk >= chunks) {
        r->malformed++;
        return 0;
    }
    if (chunk == 0)
        abandon(r, x);
    else if (x->next == 0 || index != x->index || chunk != x->next) {
        abandon(r, x);           /* a chunk before this one went missing */
        return 0;
    }
    if (chunks == 1 && len > 0) {
        *msg = p + PERF_RAW_HDR_BYTES;   /* the common case: no copy */
        return len;
    }
    if (x->msg == NULL && (x->msg = malloc(r->max_message)) == NULL) {
        tool_err("raw socket: out of memory");
        return 0;
    }
    if (len > r->max_message - x->len) {
        r->malformed++;
        abandon(r, x);
        return 0;
    }
    memcpy(x->msg + x->len, p + PERF_RAW_HDR_BYTES, len);
    x->index = index;
    x->len += len;
    x->next = chunk + 1;
    if (x->next < chunks || x->len == 0)
        return 0;
    len = x->len;
    x->next = 0;
    x->len = 0;
    *msg = x->msg;
    return len;
}

ssize_t perf_raw_recv(struct perf_raw *r, const uint8_t **msg)
{
    /* Bounded: a caller that gets 0 with data still waiting just polls
     * (which returns at once) and calls again. */
    for (unsigned i = 0; i < 4 * PERF_RAW_MAX_CHUNKS; i++) {
        ssize_t n = recv(r->fd, r->dgram, r->max_datagram,
                         MSG_DONTWAIT | MSG_TRUNC);
        size_t len;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            tool_err("raw socket: recv: %s", strerror(errno));
            return -1;
        }
        if (r->whole && (size_t)n <= r->max_datagram && n > 0) {
            *msg = r->dgram;
            return n;
        }
        if (r->whole || (size_t)n < PERF_RAW_HDR_BYTES ||
            (size_t)n > r->max_datagram) {
            r->malformed++;
            continue;
        }
        len = take_chunk(r, r->dgram, (size_t)n, msg);
        if (len > 0)
            return (ssize_t)len;
    }
    return 0;
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
    free(r->dgram);
    r->dgram = NULL;
    for (size_t i = 0; i < PERF_RAW_MAX_SOURCES; i++) {
        free(r->rx[i].msg);
        r->rx[i].msg = NULL;
    }
}
