/*
 * transport.c - the sockets: multicast receive, unicast send/receive, epoll.
 */
#include "config.h"

#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "co_assert.h"

#define CO_SEND_EINTR_RETRIES 4

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* Linux 4.18 (<linux/udp.h>); whether the running
                           kernel has it is asked at open */
#endif

/* A segmented run: at most this many datagrams (the kernel's limit,
 * UDP_MAX_SEGMENTS, was 64 until Linux 6.9 and is 128 since), at most
 * CO_MAX_DATAGRAM bytes in all (one UDP payload before the cut). */
#define CO_GSO_SEGMENTS_MAX 64

/* Room for one UDP_SEGMENT control message, aligned as a cmsghdr. */
typedef union co_gso_cmsg {
    char bytes[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} co_gso_cmsg_t;

typedef struct co_iface {
    unsigned ifindex;
    struct sockaddr_storage addr; /* the local address to bind, port 0 */
    socklen_t addr_len;
    char name[IF_NAMESIZE];
} co_iface_t;

struct co_transport {
    int family;
    int mc_fd; /* bound to group:port, joined */
    int uc_fd; /* bound to interface address, ephemeral port; sends */
    int ep_fd;
    co_iface_t iface;
    struct sockaddr_storage group;
    socklen_t group_len;
    char group_text[INET6_ADDRSTRLEN];
    co_addr_t local;
    bool self_filtered; /* the kernel drops our own looped-back datagrams */

    size_t slot_bytes; /* max_datagram */
    size_t batch;      /* slots per direction */

    uint8_t *tx_buf;
    struct mmsghdr *tx_msgs;
    struct iovec *tx_iov;
    struct sockaddr_storage *tx_dest;
    size_t tx_count;
    bool gso;                  /* runs go out segmented (co_transport_gso) */
    struct mmsghdr *gso_msgs;  /* the queue as runs, while flushing */
    co_gso_cmsg_t *gso_cmsg;   /* each run's segment size */

    uint8_t *rx_buf;
    struct mmsghdr *rx_msgs;
    struct iovec *rx_iov;
    struct sockaddr_storage *rx_from;
    co_rx_dgram_t *rx_out;
    unsigned rx_turn; /* which socket is read first, alternating */
    unsigned ready;   /* CO_READY_* bits: sockets that may hold datagrams */
    bool ready_known; /* ready came from epoll and is still current */
    int extra_fd;     /* another descriptor in the epoll set (the stats
                         socket), or -1 */
    bool extra_ready; /* epoll said it is readable */

    co_transport_counters_t counters;
};

__attribute__((format(printf, 3, 4))) static void
co_tp_fail(char *why, size_t why_len, const char *fmt, ...)
{
    int saved = errno;
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    errno = saved;
}

/* ------------------------------------------------------------------ */
/* addresses                                                           */
/* ------------------------------------------------------------------ */

/* Peers compare endpoints byte for byte, so only the fields that name the
 * endpoint are kept (no flow label, no padding garbage). */
static co_addr_t co_addr_of_sockaddr(const struct sockaddr_storage *ss)
{
    co_addr_t a;
    memset(&a, 0, sizeof a);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        struct sockaddr_in n;
        memset(&n, 0, sizeof n);
        n.sin_family = AF_INET;
        n.sin_port = in->sin_port;
        n.sin_addr = in->sin_addr;
        memcpy(a.bytes, &n, sizeof n);
        a.len = (uint8_t)sizeof n;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        struct sockaddr_in6 n;
        memset(&n, 0, sizeof n);
        n.sin6_family = AF_INET6;
        n.sin6_port = in6->sin6_port;
        n.sin6_addr = in6->sin6_addr;
        n.sin6_scope_id = in6->sin6_scope_id;
        memcpy(a.bytes, &n, sizeof n);
        a.len = (uint8_t)sizeof n;
    }
    return a;
}

_Static_assert(sizeof(struct sockaddr_in6) <= CO_ADDR_MAX,
               "co_addr_t must hold a sockaddr_in6");

static socklen_t co_sockaddr_of_addr(const co_transport_t *t,
                                     const co_addr_t *a,
                                     struct sockaddr_storage *ss)
{
    /* The core only hands back endpoints this transport produced. */
    COHORT_ASSERT(a->len > 0 && a->len <= sizeof *ss);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, a->bytes, a->len);
    COHORT_ASSERT(ss->ss_family == t->family);
    return (socklen_t)a->len;
}

void co_transport_derive_address(uint32_t group_hash, int ipv6, char *buf,
                                 size_t buf_len)
{
    COHORT_ASSERT(buf != NULL && buf_len > 0);
    if (ipv6) {
        snprintf(buf, buf_len, "ff15::c0:%x:%x",
                 (unsigned)(group_hash >> 16), (unsigned)(group_hash & 0xffff));
    } else {
        /* Mix all four hash bytes into the two that vary. */
        unsigned x = ((group_hash >> 24) ^ (group_hash >> 8)) & 0xff;
        unsigned y = ((group_hash >> 16) ^ group_hash) & 0xff;
        snprintf(buf, buf_len, "239.193.%u.%u", x, y);
    }
}

bool co_transport_is_multicast_literal(const char *text, int ipv6)
{
    if (text == NULL)
        return false;
    if (ipv6) {
        struct in6_addr a6;
        return inet_pton(AF_INET6, text, &a6) == 1 &&
               IN6_IS_ADDR_MULTICAST(&a6);
    }
    struct in_addr a4;
    return inet_pton(AF_INET, text, &a4) == 1 &&
           IN_MULTICAST(ntohl(a4.s_addr));
}

static int co_group_sockaddr(co_transport_t *t,
                             const co_transport_config_t *cfg, char *why,
                             size_t why_len)
{
    char derived[INET6_ADDRSTRLEN];
    const char *text = cfg->group_address;
    if (text == NULL) {
        co_transport_derive_address(cfg->group_hash, cfg->ipv6, derived,
                                    sizeof derived);
        text = derived;
    }
    if (!co_transport_is_multicast_literal(text, cfg->ipv6)) {
        co_tp_fail(why, why_len, "address: '%s' is not an IPv%d multicast "
                   "address", text, cfg->ipv6 ? 6 : 4);
        return COHORT_ERR_ADDRESS;
    }
    snprintf(t->group_text, sizeof t->group_text, "%s", text);
    memset(&t->group, 0, sizeof t->group);
    if (cfg->ipv6) {
        struct sockaddr_in6 *g = (struct sockaddr_in6 *)&t->group;
        g->sin6_family = AF_INET6;
        g->sin6_port = htons(cfg->port);
        (void)inet_pton(AF_INET6, text, &g->sin6_addr);
        /* Interface- and link-scoped groups only make sense on one link. */
        if (IN6_IS_ADDR_MC_LINKLOCAL(&g->sin6_addr) ||
            IN6_IS_ADDR_MC_NODELOCAL(&g->sin6_addr))
            g->sin6_scope_id = t->iface.ifindex;
        t->group_len = sizeof *g;
    } else {
        struct sockaddr_in *g = (struct sockaddr_in *)&t->group;
        g->sin_family = AF_INET;
        g->sin_port = htons(cfg->port);
        (void)inet_pton(AF_INET, text, &g->sin_addr);
        t->group_len = sizeof *g;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* interface                                                           */
/* ------------------------------------------------------------------ */

typedef struct co_iface_want {
    const char *spec;  /* NULL: loopback */
    int family;
    bool by_address;
    struct sockaddr_storage literal;
} co_iface_want_t;

static bool co_iface_matches(const co_iface_want_t *w,
                             const struct ifaddrs *ifa)
{
    if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != w->family)
        return false;
    if (w->spec == NULL)
        return (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    if (!w->by_address)
        return strcmp(ifa->ifa_name, w->spec) == 0;
    if (w->family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ifa->ifa_addr;
        const struct sockaddr_in *b = (const struct sockaddr_in *)&w->literal;
        return a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ifa->ifa_addr;
    const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&w->literal;
    return memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
}

/* Lower is better: a global IPv6 address over a link-local one, so replies
 * need no scope. */
static int co_iface_rank(const struct ifaddrs *ifa)
{
    if (ifa->ifa_addr->sa_family != AF_INET6)
        return 0;
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ifa->ifa_addr;
    return IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) ? 1 : 0;
}

static void co_iface_take(co_iface_t *out, const struct ifaddrs *ifa)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", ifa->ifa_name);
    out->ifindex = if_nametoindex(ifa->ifa_name);
    size_t len = ifa->ifa_addr->sa_family == AF_INET
                     ? sizeof(struct sockaddr_in)
                     : sizeof(struct sockaddr_in6);
    memcpy(&out->addr, ifa->ifa_addr, len);
    out->addr_len = (socklen_t)len;
    if (ifa->ifa_addr->sa_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;
        a->sin6_port = 0;
        a->sin6_flowinfo = 0;
        a->sin6_scope_id =
            IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) ? out->ifindex : 0;
    } else {
        ((struct sockaddr_in *)&out->addr)->sin_port = 0;
    }
}

static int co_iface_want_init(co_iface_want_t *w, const char *spec,
                              int family, char *why, size_t why_len)
{
    memset(w, 0, sizeof *w);
    w->spec = spec;
    w->family = family;
    if (spec == NULL)
        return 0;
    struct in_addr a4;
    struct in6_addr a6;
    bool is4 = inet_pton(AF_INET, spec, &a4) == 1;
    bool is6 = inet_pton(AF_INET6, spec, &a6) == 1;
    if ((is4 && family != AF_INET) || (is6 && family != AF_INET6)) {
        co_tp_fail(why, why_len, "interface: address '%s' is not IPv%d as "
                   "the ipv6 setting asks", spec, family == AF_INET6 ? 6 : 4);
        return COHORT_ERR_ADDRESS;
    }
    w->by_address = is4 || is6;
    w->literal.ss_family = (sa_family_t)family;
    if (is4)
        ((struct sockaddr_in *)&w->literal)->sin_addr = a4;
    if (is6)
        ((struct sockaddr_in6 *)&w->literal)->sin6_addr = a6;
    return 0;
}

static int co_iface_resolve(const char *spec, int family, co_iface_t *out,
                            char *why, size_t why_len)
{
    co_iface_want_t want;
    int rc = co_iface_want_init(&want, spec, family, why, why_len);
    if (rc != 0)
        return rc;
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) {
        co_tp_fail(why, why_len, "getifaddrs: %s", strerror(errno));
        return COHORT_ERR_SYSTEM;
    }
    const struct ifaddrs *best = NULL;
    for (const struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
        if (co_iface_matches(&want, ifa) &&
            (best == NULL || co_iface_rank(ifa) < co_iface_rank(best)))
            best = ifa;
    }
    bool up = best != NULL && (best->ifa_flags & IFF_UP) != 0;
    if (best != NULL)
        co_iface_take(out, best);
    freeifaddrs(list);
    const char *name = spec != NULL ? spec : "loopback";
    if (best == NULL) {
        co_tp_fail(why, why_len, "interface: no IPv%d interface or address "
                   "'%s' on this host", family == AF_INET6 ? 6 : 4, name);
        return COHORT_ERR_ADDRESS;
    }
    if (!up || out->ifindex == 0) {
        co_tp_fail(why, why_len, "interface: '%s' is down", name);
        return COHORT_ERR_ADDRESS;
    }
    return 0;
}

/* SIOCGIFMTU: the interface's own MTU. A lower path MTU further on (a
 * router, a tunnel) is not seen here; max_datagram is the override. */
int co_transport_path_datagram(const char *interface, int ipv6, size_t *out,
                               char *why, size_t why_len)
{
    COHORT_ASSERT(out != NULL);
    int family = ipv6 ? AF_INET6 : AF_INET;
    co_iface_t iface;
    int rc = co_iface_resolve(interface, family, &iface, why, why_len);
    if (rc != 0)
        return rc;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        co_tp_fail(why, why_len, "socket: %s", strerror(errno));
        return COHORT_ERR_SYSTEM;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface.name);
    rc = ioctl(fd, SIOCGIFMTU, &ifr);
    int err = errno;
    close(fd);
    if (rc != 0) {
        co_tp_fail(why, why_len, "MTU of %s: %s", iface.name, strerror(err));
        return COHORT_ERR_SYSTEM;
    }
    size_t headers = ipv6 ? 48 : 28;
    size_t mtu = ifr.ifr_mtu > 0 ? (size_t)ifr.ifr_mtu : 0;
    if (mtu < CO_MIN_DATAGRAM + headers) {
        co_tp_fail(why, why_len, "interface %s: MTU %zu is below the %zu "
                   "bytes a datagram needs (set max_datagram to send "
                   "fragmented datagrams)", iface.name, mtu,
                   CO_MIN_DATAGRAM + headers);
        return COHORT_ERR_ADDRESS;
    }
    size_t dg = mtu - headers;
    *out = dg > CO_MAX_DATAGRAM ? CO_MAX_DATAGRAM : dg;
    return 0;
}

/* ------------------------------------------------------------------ */
/* sockets                                                             */
/* ------------------------------------------------------------------ */

static int co_setopt_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value);
}

static void co_set_buffers(int fd, int bytes)
{
    if (bytes <= 0)
        return;
    /* The FORCE forms pass rmem_max/wmem_max when we have the privilege;
     * without it the plain forms give what the system allows. */
    if (co_setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) != 0)
        (void)co_setopt_int(fd, SOL_SOCKET, SO_RCVBUF, bytes);
    if (co_setopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes) != 0)
        (void)co_setopt_int(fd, SOL_SOCKET, SO_SNDBUF, bytes);
}

static int co_socket(int family, char *why, size_t why_len)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        co_tp_fail(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    if (family == AF_INET6 && co_setopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                                            1) != 0) {
        co_tp_fail(why, why_len, "setsockopt IPV6_V6ONLY: %s",
                   strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int co_join(const co_transport_t *t, int fd)
{
    if (t->family == AF_INET6) {
        const struct sockaddr_in6 *g = (const struct sockaddr_in6 *)&t->group;
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        m.ipv6mr_multiaddr = g->sin6_addr;
        m.ipv6mr_interface = t->iface.ifindex;
        return setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
    }
    struct ip_mreqn m;
    memset(&m, 0, sizeof m);
    m.imr_multiaddr = ((const struct sockaddr_in *)&t->group)->sin_addr;
    m.imr_ifindex = (int)t->iface.ifindex;
    return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
}

/* Only the groups this socket joined, not every group any socket on the
 * host joined (Linux's default for sockets sharing a port). */
static void co_multicast_all_off(int fd, int family)
{
#ifdef IP_MULTICAST_ALL
    if (family == AF_INET)
        (void)co_setopt_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
#endif
#ifdef IPV6_MULTICAST_ALL
    if (family == AF_INET6)
        (void)co_setopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
#endif
    (void)fd;
    (void)family;
}

static int co_open_multicast(co_transport_t *t,
                             const co_transport_config_t *cfg, char *why,
                             size_t why_len)
{
    t->mc_fd = co_socket(t->family, why, why_len);
    if (t->mc_fd < 0)
        return COHORT_ERR_SYSTEM;
    if (co_setopt_int(t->mc_fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
        co_tp_fail(why, why_len, "SO_REUSEADDR: %s", strerror(errno));
        return COHORT_ERR_SYSTEM;
    }
#ifdef SO_REUSEPORT
    (void)co_setopt_int(t->mc_fd, SOL_SOCKET, SO_REUSEPORT, 1);
#endif
    co_multicast_all_off(t->mc_fd, t->family);
    co_set_buffers(t->mc_fd, cfg->socket_buffer_bytes);
    /* Bound to the group address, the socket sees only this group's
     * traffic even when other groups share the port. */
    if (bind(t->mc_fd, (const struct sockaddr *)&t->group, t->group_len) != 0) {
        co_tp_fail(why, why_len, "bind %s port %u: %s", t->group_text,
                   (unsigned)cfg->port, strerror(errno));
        return COHORT_ERR_ADDRESS;
    }
    if (co_join(t, t->mc_fd) != 0) {
        co_tp_fail(why, why_len, "join %s on %s: %s", t->group_text,
                   t->iface.name, strerror(errno));
        return COHORT_ERR_ADDRESS;
    }
    return 0;
}

static int co_multicast_send_opts(const co_transport_t *t,
                                  const co_transport_config_t *cfg)
{
    int fd = t->uc_fd;
    if (t->family == AF_INET6) {
        unsigned idx = t->iface.ifindex;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx,
                       sizeof idx) != 0 ||
            co_setopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
                          cfg->ttl) != 0 ||
            co_setopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP,
                          cfg->loopback ? 1 : 0) != 0)
            return -1;
        return 0;
    }
    struct ip_mreqn m;
    memset(&m, 0, sizeof m);
    m.imr_ifindex = (int)t->iface.ifindex;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) != 0 ||
        co_setopt_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, cfg->ttl) != 0 ||
        co_setopt_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP,
                      cfg->loopback ? 1 : 0) != 0)
        return -1;
    return 0;
}

/*
 * Members on one host need multicast loop on, so every datagram a member
 * sends also lands on its own multicast socket, where the core would only
 * drop it as COHORT_DROP_SELF: a wake-up, a copy and a receive call per
 * datagram sent. A classic BPF filter on the multicast socket drops, in the
 * kernel, datagrams whose source is our own unicast endpoint (address and
 * port). For a UDP socket the filter sees the UDP header at offset 0 and
 * the IP header at SKF_NET_OFF. Best effort: if the kernel refuses the
 * filter, the core still drops them.
 */
static void co_filter_own_datagrams(co_transport_t *t, const struct sockaddr_storage *self)
{
    struct sock_filter prog[12];
    unsigned n = 0;
    uint16_t port;
    if (self->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)self;
        port = ntohs(in->sin_port);
        uint32_t addr = ntohl(in->sin_addr.s_addr);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0);
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 3);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12);
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, addr, 0, 1);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)self;
        port = ntohs(in6->sin6_port);
        const uint8_t *a = in6->sin6_addr.s6_addr;
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0);
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 9);
        for (unsigned w = 0; w < 4; w++) { /* source address: 4 words */
            uint32_t word = (uint32_t)a[4 * w] << 24 | (uint32_t)a[4 * w + 1] << 16 |
                            (uint32_t)a[4 * w + 2] << 8 | a[4 * w + 3];
            prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                     (uint32_t)SKF_NET_OFF + 8 + 4 * w);
            prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word, 0,
                                                     (uint8_t)(7 - 2 * w));
        }
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    }
    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    if (setsockopt(t->mc_fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) == 0)
        t->self_filtered = true;
}

static int co_open_unicast(co_transport_t *t, const co_transport_config_t *cfg,
                           char *why, size_t why_len)
{
    t->uc_fd = co_socket(t->family, why, why_len);
    if (t->uc_fd < 0)
        return COHORT_ERR_SYSTEM;
    co_set_buffers(t->uc_fd, cfg->socket_buffer_bytes);
    if (bind(t->uc_fd, (const struct sockaddr *)&t->iface.addr,
             t->iface.addr_len) != 0) {
        co_tp_fail(why, why_len, "bind to %s's address: %s", t->iface.name,
                   strerror(errno));
        return COHORT_ERR_ADDRESS;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(t->uc_fd, (struct sockaddr *)&ss, &len) != 0) {
        co_tp_fail(why, why_len, "getsockname: %s", strerror(errno));
        return COHORT_ERR_SYSTEM;
    }
    t->local = co_addr_of_sockaddr(&ss);
    co_filter_own_datagrams(t, &ss);
    if (co_multicast_send_opts(t, cfg) != 0) {
        co_tp_fail(why, why_len, "multicast send options on %s: %s",
                   t->iface.name, strerror(errno));
        return COHORT_ERR_ADDRESS;
    }
    return 0;
}

/* Does the kernel segment UDP (UDP_SEGMENT, Linux 4.18)? One without it
 * would not refuse the control message but skip it, and send a run as one
 * long datagram; only a kernel that has it answers this option. */
static bool co_gso_supported(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &v, &len) == 0;
}

static int co_open_epoll(co_transport_t *t, char *why, size_t why_len)
{
    t->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (t->ep_fd < 0) {
        co_tp_fail(why, why_len, "epoll_create1: %s", strerror(errno));
        return COHORT_ERR_SYSTEM;
    }
    int fds[2] = {t->mc_fd, t->uc_fd};
    for (size_t i = 0; i < 2; i++) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.fd = fds[i];
        if (epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fds[i], &ev) != 0) {
            co_tp_fail(why, why_len, "epoll_ctl: %s", strerror(errno));
            return COHORT_ERR_SYSTEM;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* buffers                                                             */
/* ------------------------------------------------------------------ */

static int co_alloc_buffers(co_transport_t *t, size_t max_datagram)
{
    COHORT_ASSERT(max_datagram >= CO_MIN_DATAGRAM);
    COHORT_ASSERT(max_datagram <= CO_MAX_DATAGRAM);
    t->slot_bytes = max_datagram;
    size_t batch = CO_TRANSPORT_BATCH_BYTES / max_datagram;
    t->batch = batch > CO_TRANSPORT_BATCH_MAX ? CO_TRANSPORT_BATCH_MAX
               : batch < 1                    ? 1
                                              : batch;
    size_t n = t->batch;
    t->tx_buf = malloc(n * t->slot_bytes);
    t->tx_msgs = calloc(n, sizeof *t->tx_msgs);
    t->tx_iov = calloc(n, sizeof *t->tx_iov);
    t->tx_dest = calloc(n, sizeof *t->tx_dest);
    t->gso_msgs = calloc(n, sizeof *t->gso_msgs);
    t->gso_cmsg = calloc(n, sizeof *t->gso_cmsg);
    t->rx_buf = malloc(n * t->slot_bytes);
    t->rx_msgs = calloc(n, sizeof *t->rx_msgs);
    t->rx_iov = calloc(n, sizeof *t->rx_iov);
    t->rx_from = calloc(n, sizeof *t->rx_from);
    t->rx_out = calloc(n, sizeof *t->rx_out);
    if (t->tx_buf == NULL || t->tx_msgs == NULL || t->tx_iov == NULL ||
        t->tx_dest == NULL || t->gso_msgs == NULL || t->gso_cmsg == NULL ||
        t->rx_buf == NULL || t->rx_msgs == NULL ||
        t->rx_iov == NULL || t->rx_from == NULL || t->rx_out == NULL)
        return COHORT_ERR_NOMEM;
    return 0;
}

static co_transport_t *co_transport_alloc(void)
{
    co_transport_t *t = calloc(1, sizeof *t);
    if (t != NULL) {
        t->mc_fd = -1;
        t->uc_fd = -1;
        t->ep_fd = -1;
        t->extra_fd = -1;
    }
    return t;
}

int co_transport_open(co_transport_t **out, const co_transport_config_t *cfg,
                      char *why, size_t why_len)
{
    COHORT_ASSERT(out != NULL && cfg != NULL);
    COHORT_ASSERT(cfg->port != 0);
    *out = NULL;
    co_transport_t *t = co_transport_alloc();
    if (t == NULL)
        return COHORT_ERR_NOMEM;
    t->family = cfg->ipv6 ? AF_INET6 : AF_INET;
    int rc = co_alloc_buffers(t, cfg->max_datagram);
    if (rc == 0)
        rc = co_iface_resolve(cfg->interface, t->family, &t->iface, why,
                              why_len);
    if (rc == 0)
        rc = co_group_sockaddr(t, cfg, why, why_len);
    if (rc == 0)
        rc = co_open_multicast(t, cfg, why, why_len);
    if (rc == 0)
        rc = co_open_unicast(t, cfg, why, why_len);
    if (rc == 0)
        rc = co_open_epoll(t, why, why_len);
    if (rc == 0)
        t->gso = cfg->gso && co_gso_supported(t->uc_fd);
    if (rc != 0) {
        if (rc == COHORT_ERR_NOMEM)
            co_tp_fail(why, why_len, "out of memory for socket buffers");
        co_transport_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void co_transport_close(co_transport_t *t)
{
    if (t == NULL)
        return;
    int fds[3] = {t->ep_fd, t->mc_fd, t->uc_fd};
    for (size_t i = 0; i < 3; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    free(t->tx_buf);
    free(t->tx_msgs);
    free(t->tx_iov);
    free(t->tx_dest);
    free(t->gso_msgs);
    free(t->gso_cmsg);
    free(t->rx_buf);
    free(t->rx_msgs);
    free(t->rx_iov);
    free(t->rx_from);
    free(t->rx_out);
    free(t);
}

void co_transport_truncated(const co_transport_t *t, uint64_t *count,
                            size_t *largest)
{
    *count = t->counters.recv_truncated;
    *largest = t->counters.largest_truncated;
}

size_t co_transport_rcvbuf(const co_transport_t *t)
{
    size_t least = SIZE_MAX;
    int fds[2] = {t->mc_fd, t->uc_fd};
    for (int i = 0; i < 2; i++) {
        int v = 0;
        socklen_t len = sizeof v;
        if (getsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && v > 0 &&
            (size_t)v < least)
            least = (size_t)v;
    }
    return least;
}

int co_transport_fd(const co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    return t->ep_fd;
}

void co_transport_add_stats(const co_transport_t *t, struct cohort_stats *s)
{
    COHORT_ASSERT(t != NULL && s != NULL);
    const co_transport_counters_t *tc = &t->counters;
    s->datagrams_sent = tc->datagrams_sent;
    s->datagrams_received = tc->datagrams_received;
    s->bytes_sent = tc->bytes_sent;
    s->bytes_received = tc->bytes_received;
    s->send_errors += tc->send_errors;
    s->drops[COHORT_DROP_TRUNCATED] += tc->recv_truncated;
    s->drops_total += tc->recv_truncated;
    s->gso_datagrams = tc->gso_datagrams;
}

bool co_transport_gso(const co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    return t->gso;
}

size_t co_transport_queued(const co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    return t->tx_count;
}

co_addr_t co_transport_local(const co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    return t->local;
}

const char *co_transport_group_text(const co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    return t->group_text;
}

/* ------------------------------------------------------------------ */
/* sending                                                             */
/* ------------------------------------------------------------------ */

/* Errors that only a bug in this file can cause; anything else (full
 * buffer, unreachable peer, a firewall saying no) loses one datagram. */
static bool co_send_error_fatal(int err)
{
    return err == EBADF || err == ENOTSOCK || err == EFAULT ||
           err == EINVAL || err == EDESTADDRREQ || err == EAFNOSUPPORT;
}

static bool co_send_buffer_full(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* What the kernel says to a segmented run it will not send (a segment
 * longer than the route's MTU allows, a route without checksum offload,
 * no UDP_SEGMENT): the same datagrams one by one may still go. */
static bool co_gso_refused(int err)
{
    return err == EINVAL || err == EIO || err == EMSGSIZE ||
           err == EOPNOTSUPP || err == ENOPROTOOPT;
}

/* The queued datagram a message starts with: its first iovec's slot. */
static size_t co_msg_first(const co_transport_t *t, const struct mmsghdr *m)
{
    return (size_t)(m->msg_hdr.msg_iov - t->tx_iov);
}

/* Send from msgs[0] on, at most count messages; returns how many went, or
 * -1 with errno. Each carries msg_iovlen queued datagrams. */
#ifdef HAVE_SENDMMSG
static int co_send_some(co_transport_t *t, struct mmsghdr *msgs, size_t count)
{
    int n = sendmmsg(t->uc_fd, msgs, (unsigned)count, 0);
    for (int k = 0; k < n; k++)
        t->counters.bytes_sent += msgs[k].msg_len;
    return n;
}
#else
static int co_send_some(co_transport_t *t, struct mmsghdr *msgs, size_t count)
{
    (void)count;
    ssize_t n = sendmsg(t->uc_fd, &msgs[0].msg_hdr, 0);
    if (n < 0)
        return -1;
    t->counters.bytes_sent += (uint64_t)n;
    return 1;
}
#endif

static void co_count_sent(co_transport_t *t, const struct mmsghdr *msgs,
                          int n)
{
    for (int k = 0; k < n; k++) {
        size_t dgrams = msgs[k].msg_hdr.msg_iovlen;
        t->counters.datagrams_sent += dgrams;
        if (dgrams > 1)
            t->counters.gso_datagrams += dgrams;
    }
}

/*
 * Send msgs[0, count), messages made of consecutive queued datagrams,
 * to the end of the queue. A datagram is sent or counted in send_errors,
 * never both. When the kernel refuses a segmented message and resume is
 * not NULL, gso goes off and *resume is that message's first datagram:
 * it and the rest are left to the caller. Returns 0 or
 * COHORT_ERR_SYSTEM.
 */
static int co_send_msgs(co_transport_t *t, struct mmsghdr *msgs,
                        size_t count, size_t *resume)
{
    size_t m = 0;
    unsigned eintr = 0;
    /* Each turn sends at least one message or gives one up, so the loop
     * ends after at most count turns plus a few interruptions. */
    while (m < count) {
        int n = co_send_some(t, msgs + m, count - m);
        if (n > 0) {
            co_count_sent(t, msgs + m, n);
            m += (size_t)n;
            continue;
        }
        size_t left = t->tx_count - co_msg_first(t, &msgs[m]);
        if (n < 0 && errno == EINTR && eintr++ < CO_SEND_EINTR_RETRIES)
            continue;
        if (n < 0 && resume != NULL && msgs[m].msg_hdr.msg_iovlen > 1 &&
            co_gso_refused(errno)) {
            t->gso = false;
            *resume = co_msg_first(t, &msgs[m]);
            return 0;
        }
        if (n < 0 && co_send_error_fatal(errno)) {
            t->counters.send_errors += left;
            return COHORT_ERR_SYSTEM;
        }
        if (n < 0 && co_send_buffer_full(errno)) {
            /* The rest would meet the same full buffer. */
            t->counters.send_errors += left;
            return 0;
        }
        t->counters.send_errors += msgs[m].msg_hdr.msg_iovlen;
        m++;
    }
    return 0;
}

/* May queued datagram j join a run that starts at i, with seg bytes a
 * segment and total bytes so far? */
static bool co_run_takes(const co_transport_t *t, size_t i, size_t j,
                         size_t seg, size_t total)
{
    const struct msghdr *a = &t->tx_msgs[i].msg_hdr;
    const struct msghdr *b = &t->tx_msgs[j].msg_hdr;
    size_t len = t->tx_iov[j].iov_len;
    return j - i < CO_GSO_SEGMENTS_MAX && len > 0 && len <= seg &&
           total + len <= CO_MAX_DATAGRAM && a->msg_namelen == b->msg_namelen &&
           memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0;
}

/* Message k of the plan: the run of the queued datagrams [i, j), one
 * message with j - i iovecs over their slots (no copy); a run of more
 * than one carries its segment size, the first datagram's length. */
static void co_plan_run(co_transport_t *t, size_t k, size_t i, size_t j)
{
    struct msghdr *h = &t->gso_msgs[k].msg_hdr;
    *h = t->tx_msgs[i].msg_hdr;
    h->msg_iovlen = j - i;
    t->gso_msgs[k].msg_len = 0;
    if (j - i < 2)
        return;
    co_gso_cmsg_t *c = &t->gso_cmsg[k];
    memset(c, 0, sizeof *c);
    h->msg_control = c->bytes;
    h->msg_controllen = sizeof c->bytes;
    struct cmsghdr *cm = CMSG_FIRSTHDR(h);
    cm->cmsg_level = IPPROTO_UDP; /* SOL_UDP */
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)t->tx_iov[i].iov_len;
    memcpy(CMSG_DATA(cm), &seg, sizeof seg);
}

/* Cut the queue into runs, in order: consecutive datagrams to one
 * destination, all as long as the first but the last, which may be
 * shorter (a message's tail fragment). Returns how many messages. */
static size_t co_plan_runs(co_transport_t *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->tx_count; k++) {
        size_t seg = t->tx_iov[i].iov_len;
        size_t total = seg, j = i + 1;
        while (seg > 0 && j < t->tx_count &&
               co_run_takes(t, i, j, seg, total)) {
            total += t->tx_iov[j].iov_len;
            if (t->tx_iov[j++].iov_len < seg)
                break;
        }
        co_plan_run(t, k, i, j);
        i = j;
    }
    return k;
}

/* Send the queue as runs. Returns 0 or COHORT_ERR_SYSTEM, with *resume
 * the first datagram not yet dealt with: tx_count, or after a refusal
 * the first of the refused run. */
static int co_flush_gso(co_transport_t *t, size_t *resume)
{
    *resume = t->tx_count;
    size_t count = co_plan_runs(t);
    if (count == t->tx_count) /* no run formed: send the plain messages */
        return co_send_msgs(t, t->tx_msgs, t->tx_count, NULL);
    return co_send_msgs(t, t->gso_msgs, count, resume);
}

int co_transport_flush(co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    COHORT_ASSERT(t->tx_count <= t->batch);
    size_t from = 0;
    int rc = 0;
    if (t->gso && t->tx_count > 1)
        rc = co_flush_gso(t, &from);
    if (rc == 0 && from < t->tx_count)
        rc = co_send_msgs(t, t->tx_msgs + from, t->tx_count - from, NULL);
    t->tx_count = 0;
    return rc;
}

int co_transport_queue(co_transport_t *t, const co_addr_t *dest,
                       const uint8_t *data, size_t len)
{
    COHORT_ASSERT(t != NULL && data != NULL);
    COHORT_ASSERT(len <= t->slot_bytes);
    if (t->tx_count == t->batch) {
        int rc = co_transport_flush(t);
        if (rc != 0)
            return rc;
    }
    size_t i = t->tx_count++;
    uint8_t *slot = t->tx_buf + i * t->slot_bytes;
    memcpy(slot, data, len);
    socklen_t name_len;
    if (dest == NULL) {
        memcpy(&t->tx_dest[i], &t->group, t->group_len);
        name_len = t->group_len;
    } else {
        name_len = co_sockaddr_of_addr(t, dest, &t->tx_dest[i]);
    }
    t->tx_iov[i].iov_base = slot;
    t->tx_iov[i].iov_len = len;
    struct msghdr *h = &t->tx_msgs[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &t->tx_dest[i];
    h->msg_namelen = name_len;
    h->msg_iov = &t->tx_iov[i];
    h->msg_iovlen = 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */
/* ------------------------------------------------------------------ */

static void co_rx_prepare(co_transport_t *t, size_t first, size_t count)
{
    for (size_t i = first; i < first + count; i++) {
        t->rx_iov[i].iov_base = t->rx_buf + i * t->slot_bytes;
        t->rx_iov[i].iov_len = t->slot_bytes;
        struct msghdr *h = &t->rx_msgs[i].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &t->rx_from[i];
        h->msg_namelen = sizeof t->rx_from[i];
        h->msg_iov = &t->rx_iov[i];
        h->msg_iovlen = 1;
        t->rx_msgs[i].msg_len = 0;
    }
}

#ifdef HAVE_RECVMMSG
static int co_recv_call(co_transport_t *t, int fd, size_t first, size_t room)
{
    /* MSG_TRUNC: msg_len is a datagram's real length, also when it was
     * longer than its slot (then cut, and dropped below). */
    return recvmmsg(fd, t->rx_msgs + first, (unsigned)room,
                    MSG_DONTWAIT | MSG_TRUNC, NULL);
}
#else
static int co_recv_call(co_transport_t *t, int fd, size_t first, size_t room)
{
    (void)room;
    ssize_t n = recvmsg(fd, &t->rx_msgs[first].msg_hdr,
                        MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0)
        return -1;
    t->rx_msgs[first].msg_len = (unsigned)n;
    return 1;
}
#endif

/* Receive into slots [first, first + room). Returns the count or -1 on an
 * error that is not "nothing to read". */
static int co_recv_some(co_transport_t *t, int fd, size_t first, size_t room)
{
    COHORT_ASSERT(first + room <= t->batch);
    if (room == 0)
        return 0;
    co_rx_prepare(t, first, room);
    int n = co_recv_call(t, fd, first, room);
    if (n >= 0)
        return n;
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR ||
        err == ENOMEM || err == ECONNREFUSED || err == ENOBUFS)
        return 0;
    return -1;
}

#define CO_READY_MC 1u
#define CO_READY_UC 2u

/* Record which sockets epoll reports readable. */
static void co_note_ready(co_transport_t *t, const struct epoll_event *evs,
                          int n)
{
    t->ready = 0;
    for (int i = 0; i < n; i++) {
        if (t->extra_fd >= 0 && evs[i].data.fd == t->extra_fd)
            t->extra_ready = true;
        else
            t->ready |= evs[i].data.fd == t->mc_fd ? CO_READY_MC
                                                   : CO_READY_UC;
    }
    t->ready_known = true;
}

int co_transport_watch(co_transport_t *t, int fd)
{
    COHORT_ASSERT(t != NULL && fd >= 0 && t->extra_fd < 0);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return COHORT_ERR_SYSTEM;
    t->extra_fd = fd;
    return 0;
}

bool co_transport_take_extra(co_transport_t *t)
{
    COHORT_ASSERT(t != NULL);
    bool ready = t->extra_ready;
    t->extra_ready = false;
    return ready;
}

int co_transport_wait(co_transport_t *t, int timeout_ms)
{
    COHORT_ASSERT(t != NULL);
    struct epoll_event evs[3];
    int n = epoll_wait(t->ep_fd, evs, 3, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : COHORT_ERR_SYSTEM;
    co_note_ready(t, evs, n);
    return n;
}

int co_transport_wait_ns(co_transport_t *t, int64_t timeout_ns)
{
    COHORT_ASSERT(t != NULL);
#ifdef HAVE_EPOLL_PWAIT2
    static bool no_pwait2; /* the kernel predates it (Linux < 5.11) */
    if (!no_pwait2) {
        struct epoll_event evs[2];
        struct timespec ts = {(time_t)(timeout_ns / 1000000000),
                              (long)(timeout_ns % 1000000000)};
        int n = epoll_pwait2(t->ep_fd, evs, 2, timeout_ns < 0 ? NULL : &ts,
                             NULL);
        if (n >= 0) {
            co_note_ready(t, evs, n);
            return n;
        }
        if (errno == EINTR)
            return 0;
        if (errno != ENOSYS)
            return COHORT_ERR_SYSTEM;
        no_pwait2 = true;
    }
#endif
    if (timeout_ns < 0)
        return co_transport_wait(t, -1);
    int64_t ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
    return co_transport_wait(t, ms > INT_MAX ? INT_MAX : (int)ms);
}

bool co_transport_more(const co_transport_t *t)
{
    return t->ready_known && t->ready != 0;
}

/*
 * Read only the sockets epoll says are readable, and count a socket as
 * drained when it returns less than was asked for: reading until EAGAIN
 * would cost an empty system call per socket per turn, which on a
 * ping-pong is most of the library's overhead over bare UDP.
 */
int co_transport_recv(co_transport_t *t, const co_rx_dgram_t **out)
{
    COHORT_ASSERT(t != NULL && out != NULL);
    size_t filled = 0;
    if (!t->ready_known && co_transport_wait(t, 0) < 0)
        return COHORT_ERR_SYSTEM;
    for (unsigned k = 0; k < 2 && filled < t->batch; k++) {
        bool uc = ((t->rx_turn + k) & 1) != 0;
        unsigned bit = uc ? CO_READY_UC : CO_READY_MC;
        if ((t->ready & bit) == 0)
            continue;
        size_t room = t->batch - filled;
        int n = co_recv_some(t, uc ? t->uc_fd : t->mc_fd, filled, room);
        if (n < 0)
            return COHORT_ERR_SYSTEM;
        filled += (size_t)n;
        if ((size_t)n < room)
            t->ready &= ~bit;
    }
    if (t->ready == 0)
        t->ready_known = false; /* ask epoll next time */
    t->rx_turn ^= 1;
    size_t good = 0;
    for (size_t i = 0; i < filled; i++) {
        const struct mmsghdr *m = &t->rx_msgs[i];
        t->counters.datagrams_received++;
        t->counters.bytes_received += m->msg_len;
        if ((m->msg_hdr.msg_flags & MSG_TRUNC) != 0 ||
            m->msg_len > t->slot_bytes) {
            t->counters.recv_truncated++;
            if (m->msg_len > t->counters.largest_truncated)
                t->counters.largest_truncated = m->msg_len;
            continue;
        }
        co_rx_dgram_t *d = &t->rx_out[good++];
        d->data = t->rx_buf + i * t->slot_bytes;
        d->len = m->msg_len;
        d->from = co_addr_of_sockaddr(&t->rx_from[i]);
    }
    *out = t->rx_out;
    return (int)good;
}
