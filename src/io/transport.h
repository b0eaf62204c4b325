/*
 * transport.h - UDP multicast sockets for one member (IPv4 or IPv6).
 *
 * Two sockets per member:
 *  - a receive socket bound to group:port, shared by every member on the
 *    host (SO_REUSEADDR/SO_REUSEPORT) and joined to the group on one
 *    interface;
 *  - a unicast socket bound to an ephemeral port on the interface address.
 *    Every datagram is sent from it, to the group or to one member, so the
 *    source of anything a member receives is that member's unicast endpoint,
 *    which is where point-to-point replies go.
 * One epoll descriptor watches both, so the caller polls a single fd.
 *
 * Sends are queued into a batch (copied) and written with sendmmsg();
 * receives are read in batches with recvmmsg(). A full socket buffer drops
 * the datagram and counts it: the protocol above recovers from loss.
 * With segmentation offload (gso), a run of queued datagrams to one
 * destination, all of one length but the last, leaves as one message the
 * kernel cuts into those datagrams (UDP_SEGMENT, Linux 4.18): one trip
 * down the stack for the run instead of one per datagram.
 */
#ifndef COHORT_TRANSPORT_H
#define COHORT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define CO_TRANSPORT_BATCH_MAX 64        /* datagrams per system call */
#define CO_TRANSPORT_BATCH_BYTES (1 << 20) /* bound on one batch's buffers */

typedef struct co_transport_config {
    int ipv6;                  /* 0: IPv4, 1: IPv6 */
    const char *group_address; /* multicast literal; NULL: derived */
    uint32_t group_hash;       /* hash of the group name, for deriving */
    uint16_t port;
    const char *interface;     /* name or local address; NULL: loopback */
    int ttl;
    int loopback;
    int socket_buffer_bytes;   /* 0: leave the system default */
    size_t max_datagram;       /* largest datagram sent or accepted */
    int gso;                   /* 1: send runs of datagrams segmented by
                                  the kernel where it can (cohort.c sets
                                  it unless COHORT_GSO=0); 0: one message
                                  a datagram */
} co_transport_config_t;

/* A received datagram; data stays valid until the next co_transport_recv. */
typedef struct co_rx_dgram {
    const uint8_t *data;
    size_t len;
    co_addr_t from;
} co_rx_dgram_t;

typedef struct co_transport_counters {
    uint64_t datagrams_sent;
    uint64_t bytes_sent;
    uint64_t datagrams_received;
    uint64_t bytes_received;
    uint64_t send_errors;    /* the kernel refused them or had no room */
    uint64_t recv_truncated; /* larger than max_datagram */
    size_t largest_truncated; /* the longest of those, bytes */
    uint64_t gso_datagrams;  /* of datagrams_sent, those that left in a
                                segmented run */
} co_transport_counters_t;

typedef struct co_transport co_transport_t;

/* Open both sockets and join the group. Errors: ADDRESS (interface or
 * address unusable), SYSTEM, NOMEM, with a one-line reason in why. */
int co_transport_open(co_transport_t **out, const co_transport_config_t *cfg,
                      char *why, size_t why_len);

/* The largest UDP payload that leaves through the interface (NULL:
 * loopback; else a name or local address, as co_transport_open takes it)
 * without IP fragmentation: its MTU less the IP and UDP headers (28 bytes
 * for IPv4, 48 for IPv6), at most CO_MAX_DATAGRAM. Errors: ADDRESS (no
 * such interface, down, or an MTU below CO_MIN_DATAGRAM plus headers),
 * SYSTEM, with a one-line reason in why. */
int co_transport_path_datagram(const char *interface, int ipv6, size_t *out,
                               char *why, size_t why_len);

/* Close the sockets and free t (queued datagrams are not sent). t may be
 * NULL. */
void co_transport_close(co_transport_t *t);

/* The epoll descriptor that is readable when either socket is. */
int co_transport_fd(const co_transport_t *t);

/* The smaller receive buffer of the two sockets, as the kernel reports it
 * (which counts its own overhead: about half is payload). */
size_t co_transport_rcvbuf(const co_transport_t *t);

/* Datagrams dropped as longer than max_datagram so far, and the longest
 * (a member of the group sends larger ones than this one accepts). */
void co_transport_truncated(const co_transport_t *t, uint64_t *count,
                            size_t *largest);

/* Queue one datagram (copied) to dest, or to the group when dest is NULL.
 * A full batch is sent at once. Returns 0 or COHORT_ERR_SYSTEM (a socket
 * error that is not transient). len <= max_datagram. */
int co_transport_queue(co_transport_t *t, const co_addr_t *dest,
                       const uint8_t *data, size_t len);

/* Send every queued datagram. Returns 0 or COHORT_ERR_SYSTEM. With gso,
 * runs go out segmented; when the kernel refuses that (EINVAL, EIO,
 * EMSGSIZE, EOPNOTSUPP, ENOPROTOOPT: a segment longer than the path's
 * MTU allows, no offload on the route), gso is off for good and the rest
 * of the queue, the refused run first, goes one message a datagram. */
int co_transport_flush(co_transport_t *t);

/* True while runs are sent segmented: gso asked for, the kernel has
 * UDP_SEGMENT, and it has not refused a run yet. */
bool co_transport_gso(const co_transport_t *t);

/* Datagrams queued and not yet sent (at most one batch: the queue sends
 * itself when full). */
size_t co_transport_queued(const co_transport_t *t);

/* Read up to one batch of waiting datagrams, from both sockets in turn.
 * Returns how many (0: none waiting) and points *out at them, or
 * COHORT_ERR_SYSTEM. */
int co_transport_recv(co_transport_t *t, const co_rx_dgram_t **out);

/* Block up to timeout_ms (0: just look; -1: no limit) until a socket is
 * readable, and remember which, so the next co_transport_recv() reads only
 * those. Returns how many are readable (0 on timeout or EINTR) or
 * COHORT_ERR_SYSTEM. */
int co_transport_wait(co_transport_t *t, int timeout_ms);
/* The same with a timeout in nanoseconds (< 0: none), kept to the
 * microsecond where the kernel can (epoll_pwait2), else rounded up to
 * the millisecond: the core's short timers (a 200 µs ACK while SAFE
 * messages wait, the bundling delay) must not become 1 ms waits. */
int co_transport_wait_ns(co_transport_t *t, int64_t timeout_ns);

/* True when a socket read last time may still hold datagrams (its batch
 * came back full). */
bool co_transport_more(const co_transport_t *t);

/* Add fd (one, at most; the stats socket) to the epoll set behind
 * co_transport_fd(), so a connection wakes the member's loop. Returns 0
 * or SYSTEM (errno kept). */
int co_transport_watch(co_transport_t *t, int fd);

/* Did the last co_transport_wait() see that fd readable? Clears it. */
bool co_transport_take_extra(co_transport_t *t);

/* Put the socket-level counts into s: datagram and byte counts, send
 * refusals in send_errors (they are no receive drop), datagrams cut
 * short on receive as COHORT_DROP_TRUNCATED, and gso_datagrams. */
void co_transport_add_stats(const co_transport_t *t, struct cohort_stats *s);

/* This member's unicast endpoint, as peers will see it. */
co_addr_t co_transport_local(const co_transport_t *t);

/* The multicast address the group uses, as text (for diagnostics). */
const char *co_transport_group_text(const co_transport_t *t);

/* The address derived from a group hash when none is configured:
 * 239.193.x.y or ff15::c0:x:y. Writes text into buf. */
void co_transport_derive_address(uint32_t group_hash, int ipv6, char *buf,
                                 size_t buf_len);

/* Parse a multicast literal of the given family. Returns true on success. */
bool co_transport_is_multicast_literal(const char *text, int ipv6);

#endif
