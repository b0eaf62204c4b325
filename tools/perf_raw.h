/*
 * perf_raw.h - bare UDP multicast sockets for cohort-perf's baseline: the
 * same workload with no protocol at all, so the cost of cohort can be read
 * as a ratio.
 *
 * The baseline obeys the same datagram size limit as the library run
 * (cfg.max_datagram): a message that fits goes out as one datagram; a
 * larger one is cut into ceil(len / (limit - PERF_RAW_HDR_BYTES)) datagrams
 * of at most limit bytes each. Every datagram carries a small header
 * (message index, chunk index, chunk count) inside the limit, and costs one
 * sendmsg() call: no batching, no acknowledgement, no retransmission. The
 * receiver delivers a message when its last chunk arrives after all the
 * others in order; a message missing any chunk is lost, not half-counted.
 * Several senders may share the group: the top byte of the message index
 * names the sender (perf_raw.source), and chunks are put together per
 * sender, for PERF_RAW_MAX_SOURCES of them.
 *
 * With whole set (the "raw1" baseline) there is no limit and no header: a
 * message is one datagram of exactly its bytes, as a plain UDP
 * application would send it, up to PERF_RAW_MAX_WHOLE bytes (the largest
 * UDP payload over IPv4); open with max_datagram PERF_RAW_MAX_WHOLE.
 */
#ifndef COHORT_TOOLS_PERF_RAW_H
#define COHORT_TOOLS_PERF_RAW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* u32 message index (top byte: the sender), u16 chunk index, u16 chunk
 * count (little-endian). */
#define PERF_RAW_HDR_BYTES 8u
#define PERF_RAW_MAX_CHUNKS 65535u
#define PERF_RAW_MAX_SOURCES 16u
#define PERF_RAW_MAX_WHOLE 65507u

/* One sender's message being put together. */
struct perf_raw_rx {
    uint8_t *msg;                /* max_message bytes, allocated on need */
    uint32_t index;
    size_t next;                 /* next chunk expected; 0: none open */
    size_t len;
};

struct perf_raw {
    int fd;
    struct sockaddr_storage group;
    socklen_t group_len;
    size_t max_datagram;         /* the limit, header included */
    uint8_t source;              /* this sender's number (set after open;
                                    distinct per sender of one group) */
    int whole;                   /* one datagram per message, no header
                                    (set after open) */
    /* sending: where a message interrupted by a full buffer resumes */
    uint32_t tx_index;
    size_t tx_chunk;
    /* receiving */
    uint8_t *dgram;              /* one datagram, max_datagram bytes */
    size_t max_message;
    struct perf_raw_rx rx[PERF_RAW_MAX_SOURCES];   /* by sender % 16 */
    uint64_t partial;            /* messages abandoned for a lost chunk */
    uint64_t malformed;          /* datagrams dropped as nonsense */
};

/* Open a non-blocking socket bound to address:port, joined to that group
 * on interface ifname (a name such as "lo", or a local IPv4 address), and
 * sending to it there with TTL 1 and loopback on. buffer_bytes sizes
 * SO_RCVBUF/SO_SNDBUF as the library does. max_datagram is the datagram
 * limit (> PERF_RAW_HDR_BYTES); max_message the largest message received.
 * Returns 0 or -1 with a message printed. */
int perf_raw_open(struct perf_raw *r, const char *ifname, const char *address,
                  uint16_t port, int ipv6, int buffer_bytes,
                  size_t max_datagram, size_t max_message);

/* Send one message to the group, in as many datagrams as the limit needs.
 * Returns 0, 1 when the socket buffer is full (call again with the same
 * message after perf_raw_wait: it resumes at the chunk that did not go),
 * or -1 (message printed). */
int perf_raw_send(struct perf_raw *r, const void *data, size_t len);

/* Take the next complete message: returns its length with *msg pointing at
 * it (valid until the next call), 0 when none is complete yet and the
 * socket is empty, or -1 (message printed). */
ssize_t perf_raw_recv(struct perf_raw *r, const uint8_t **msg);

/* Wait at most max_ms for the socket to be readable (or writable with
 * for_write). */
void perf_raw_wait(struct perf_raw *r, int for_write, int max_ms);

void perf_raw_close(struct perf_raw *r);

#endif /* COHORT_TOOLS_PERF_RAW_H */
