/*
 * cohort.h - reliable group communication over IP multicast.
 *
 * One header, the whole public API. Conventions:
 *  - every public name starts with cohort_ / COHORT_;
 *  - functions that can fail return 0 (or a count) on success and a negative
 *    COHORT_ERR_* code on failure; cohort_strerror() names it;
 *  - the library never calls back into the application: events are pulled
 *    with cohort_next_event(), so nothing here may be called "from a
 *    callback" and there is no re-entrancy to reason about;
 *  - a cohort_t is not thread-safe: use one handle from one thread at a time
 *    (several handles may be used from several threads);
 *  - time is in milliseconds at this boundary (poll-style) and nanoseconds
 *    inside the library.
 *
 * Event-loop integration (epoll, libuv, libevent, poll):
 *     int fd = cohort_fd(c);                 watch it for readability
 *     int ms = cohort_timeout_ms(c);         and wake up after at most ms
 *     cohort_process(c);                     on either, then drain events:
 *     while (cohort_next_event(c, &ev) == 1) { ... }
 * Simple programs use the blocking form cohort_wait() instead.
 */
#ifndef COHORT_H
#define COHORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(COHORT_BUILDING) && defined(__GNUC__)
#define COHORT_API __attribute__((visibility("default")))
#else
#define COHORT_API
#endif

#if defined(__GNUC__)
#define COHORT_NODISCARD __attribute__((warn_unused_result))
#else
#define COHORT_NODISCARD
#endif

/* Library version, also returned at run time by cohort_version(). */
#define COHORT_VERSION_MAJOR 0
#define COHORT_VERSION_MINOR 2
#define COHORT_VERSION_PATCH 0

/* ------------------------------------------------------------------ */
/* Error codes. Every one is negative; 0 is success.                   */
/* ------------------------------------------------------------------ */
enum cohort_error {
    COHORT_OK = 0,
    COHORT_ERR_INVAL = -1,       /* a bad argument or configuration field */
    COHORT_ERR_NOMEM = -2,       /* allocation failed */
    COHORT_ERR_AGAIN = -3,       /* would block: flow-control window full */
    COHORT_ERR_NOTSUP = -4,      /* not supported (yet, or in this build) */
    COHORT_ERR_SYSTEM = -5,      /* a system call failed; errno is kept */
    COHORT_ERR_TOOBIG = -6,      /* message larger than its mode allows
                                    (see cohort_max_payload()); in a
                                    warning, datagrams too long for a
                                    member or a path (max_datagram) */
    COHORT_ERR_CLOSED = -7,      /* the member has left the group */
    COHORT_ERR_TIMEDOUT = -8,    /* a bounded wait expired */
    COHORT_ERR_NOCRYPTO = -9,    /* built without libsodium, or a cipher
                                    this CPU lacks */
    COHORT_ERR_KEY = -10,        /* key file unreadable, malformed or too open */
    COHORT_ERR_ADDRESS = -11,    /* address or interface cannot be used */
    COHORT_ERR_VERSION = -12,    /* config struct from an incompatible ABI */
    COHORT_ERR_STATE = -13,      /* call not valid in the current state */
    COHORT_ERR_MALFORMED = -14,  /* a datagram failed to decode (internal) */
    /* Codes of WARNING events (never returned by a call): */
    COHORT_ERR_LOST = -15,       /* a sender's messages could not be
                                    recovered (cut off longer than the
                                    sender keeps them); the event names the
                                    sender and how many were lost */
    COHORT_ERR_AUTH = -16,       /* datagrams failing authentication
                                    (another key, or forged) */
    COHORT_ERR_KEY_UNKNOWN = -17, /* datagrams sealed with a key id this
                                     member does not hold */
    COHORT_ERR_SECURITY_MODE = -18, /* datagrams from a member using
                                       another security mode */
    COHORT_ERR_EXCLUDED = -19,   /* members of this member's view are heard
                                    in a view without it: it was excluded
                                    while alive (stopped, or cut off one
                                    way); the event names one of them.
                                    The next call after it is taken ends
                                    this life and joins again under a
                                    newer incarnation (cohort_self();
                                    docs/api.md, "Excluded while alive") */
};

/* A short, static, human-readable description of an error code. Never NULL;
 * unknown codes get a generic text. */
COHORT_API const char *cohort_strerror(int err);

/* "major.minor.patch" of the library actually linked. */
COHORT_API const char *cohort_version(void);

/* ------------------------------------------------------------------ */
/* Delivery modes                                                      */
/* ------------------------------------------------------------------ */
typedef enum cohort_mode {
    /* Best effort: may be lost, duplicated never, reordered possibly. */
    COHORT_UNRELIABLE = 0,
    /* Reliable, exactly once, in each sender's order. */
    COHORT_FIFO = 1,
    /* Reliable, and in one order at every member of the view, the
     * sender's own copy included (docs/guarantees.md, "Total order"). */
    COHORT_TOTAL = 2,
    /* Totally ordered, and delivered only once every member of the view
     * holds the message and its place in the order, so a delivered SAFE
     * message survives the crash of any member (uniform). */
    COHORT_SAFE = 3,
} cohort_mode_t;

/* Flags of a MESSAGE event (cohort_event_t.u.message.flags, abi >= 2). */
enum cohort_message_flag {
    /* Delivered while its view ends (during the view change, before the
     * next VIEW event) and ordered by no record of the sequencer that this
     * member holds: members that move to the next view together deliver
     * it at the same place, but a member cut off from them by a partition
     * may have delivered it elsewhere in its order (TOTAL only; as the
     * messages of Spread's transitional configuration). */
    COHORT_MESSAGE_TRANSITIONAL = 0x1,
};

/* Security mode of a group; every member must use the same mode and key. */
typedef enum cohort_security {
    COHORT_SECURITY_NONE = 0,     /* no protection */
    COHORT_SECURITY_AUTH = 1,     /* every datagram carries a MAC */
    COHORT_SECURITY_ENCRYPT = 2,  /* AEAD: confidential and authenticated */
} cohort_security_t;

/* The AEAD a member seals its datagrams with (AUTH and ENCRYPT alike).
 * Every datagram says which one sealed it, and a member opens either, so
 * members configured differently still form one group. A member that
 * cannot open AES-256-GCM (no hardware support) says so in every datagram
 * it sends; FASTEST members seal with XChaCha20-Poly1305 while they hear
 * one. It drops AES-256-GCM datagrams (counted under security_mode) and,
 * if they keep coming for a member timeout (a member set to AES256GCM), a
 * WARNING event tells (docs/security.md, "Ciphers"). */
typedef enum cohort_cipher {
    COHORT_CIPHER_XCHACHA20POLY1305 = 0, /* everywhere libsodium is */
    COHORT_CIPHER_AES256GCM = 1,   /* faster where the CPU has AES
                                      instructions (x86-64 AES-NI with
                                      PCLMUL, or ARMv8 crypto):
                                      cohort_cipher_available() */
    COHORT_CIPHER_FASTEST = 2,     /* default since 0.9: AES256GCM while
                                      this CPU and every member heard can
                                      open it, else XCHACHA20POLY1305;
                                      decided anew for every datagram */
} cohort_cipher_t;

/* 1 if this build and CPU can seal and open with cipher, 0 if not (no
 * libsodium, or AES256GCM without the instructions); FASTEST is always
 * available where libsodium is. Errors: INVAL (no such cipher). */
COHORT_API int cohort_cipher_available(cohort_cipher_t cipher);

#define COHORT_KEY_BYTES 32
#define COHORT_NAME_MAX 63  /* longest member name, bytes, no NUL */

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */
/*
 * Fill with cohort_config_init(), then change what you need. The struct only
 * grows at the end between versions; struct_size tells the library which
 * fields the caller knows. Strings are copied by cohort_open(); the caller
 * keeps ownership of every pointer here.
 */
struct cohort_config {
    size_t struct_size;          /* set by cohort_config_init() */

    /* --- where --- */
    const char *group;           /* group name (required, 1..63 bytes) */
    const char *address;         /* multicast address; NULL: derived from
                                    the group name (239.193.x.y or
                                    ff15::c0:x:y) */
    uint16_t port;               /* UDP port; default 47100 */
    const char *interface;       /* interface name ("lo", ...) or local
                                    address; NULL: loopback, so nothing leaves
                                    the host until you choose an interface */
    int ttl;                     /* multicast TTL / hop limit; default 1 */
    int loopback;                /* deliver to members on this host; default 1 */
    int ipv6;                    /* 0: IPv4 (default), 1: IPv6. Linux
                                    does not loop IPv6 multicast over
                                    "lo": IPv6 needs a real or veth
                                    interface (the tests make a veth pair
                                    in their own namespace) */

    /* --- who --- */
    const char *name;            /* member name shown to others; NULL:
                                    "host:pid" */
    uint32_t member_id;          /* 0: random; else a stable id */

    /* --- timing (nanoseconds) --- */
    uint64_t heartbeat_interval_ns; /* default 100 ms */
    uint64_t member_timeout_ns;     /* silence before a member is dropped;
                                       default 3 s */
    uint64_t nack_delay_ns;         /* max random delay before a NACK;
                                       default 5 ms */
    uint64_t nack_retry_ns;         /* longest wait before asking again for
                                       missing data (the wait follows the
                                       measured repair time, at least
                                       1 ms); default 40 ms */
    uint64_t bundle_delay_ns;       /* max time a small message waits to share
                                       a datagram, and with segmentation
                                       offload a full datagram waits to
                                       leave in a run with the next ones
                                       (the bound counts from the send, for
                                       both together; cohort_process,
                                       cohort_wait, cohort_flush end it);
                                       default 200 us; 0: none */

    /* --- limits (bytes or counts); every buffer is bounded by these --- */
    size_t max_datagram;         /* largest UDP payload sent; default 0:
                                    from the interface's MTU at open, less
                                    the IP and UDP headers (65 507 on
                                    loopback, 1 472 on Ethernet, 8 972 on
                                    jumbo frames; cut to a send_window_bytes
                                    set / 4 and rpc_history_bytes), so no
                                    datagram is fragmented at that hop.
                                    Else 512..65507, an override (a path
                                    with a lower MTU further on). It is
                                    also the longest datagram accepted,
                                    so members share a view only with
                                    members of the same size (heartbeats
                                    name it; another size is kept apart
                                    with a TOOBIG warning): same MTU, or
                                    the same override (see
                                    cohort_config_datagram()) */
    size_t max_message;          /* largest message; default 16 MiB */
    size_t send_window_bytes;    /* unacknowledged reliable bytes a sender may
                                    have outstanding; default 0: 512
                                    datagrams, at least 4 MiB (4 MiB at
                                    1 472-B datagrams, 32 MiB at 65 507:
                                    a window must cover the sending done
                                    while a loss is repaired), shared by
                                    the members sending at the moment
                                    (each at least 4 MiB; stats
                                    send_window_share_bytes); a window
                                    set here is the sender's whole. Cut at
                                    open to half the socket receive buffer
                                    the kernel grants (net.core.rmem_max
                                    unless root), with a WARNING event */
    size_t recv_buffer_bytes;    /* per sender: records held out of order
                                    (plus one message being reassembled,
                                    <= max_message); and, apart, TOTAL
                                    and SAFE messages waiting for their
                                    place (the hold); also bounds the bytes
                                    of queued message events (a fragmented
                                    one counts in full from its first
                                    fragment), passed only while the queue
                                    holds none; default 32 MiB,
                                    >= send_window_bytes */
    size_t max_members;          /* default 64 */
    size_t event_queue_len;      /* events held before delivery pauses;
                                    default 4096 */

    /* --- security --- */
    cohort_security_t security;  /* default COHORT_SECURITY_NONE */
    const char *key_file;        /* key written by cohort-keygen; or */
    const uint8_t *key;          /* COHORT_KEY_BYTES of key material */
    uint8_t key_id;              /* id carried in every datagram */

    /* --- testing --- */
    const char *faults;          /* fault injection, e.g.
                                    "drop=0.1,dup=0.01,reorder=0.05,seed=7";
                                    NULL: the COHORT_FAULTS environment
                                    variable; "" : none */
    uint64_t seed;               /* 0: random; else deterministic ids/jitter */
    int socket_buffer_bytes;     /* SO_RCVBUF/SO_SNDBUF; default 4 MiB,
                                    raised at open to twice a window
                                    sized from max_datagram when that is
                                    more */

    /* --- since 0.2: agreed views --- */
    size_t expected_members;     /* a view is primary when it holds more
                                    than half this many members (as
                                    votequorum's expected_votes); 0
                                    (default): every view is primary */
    int self_delivery;           /* 1 (default): a member delivers its own
                                    FIFO messages in their place in its
                                    stream, as everyone else does; 0: it
                                    delivers only others' messages */
    /* --- since 0.5: state transfer --- */
    int state_transfer;          /* 1: at its first view with other
                                    members, ask the group for its state
                                    (cohort_state_request(); needs
                                    self_delivery); default 0 */
    int state_provider;          /* 1 (default): this member may be asked
                                    to provide its state
                                    (COHORT_EVENT_STATE_REQUEST); 0: it
                                    always declines */
    /* --- since 0.6: request-reply --- */
    size_t rpc_max_requests;     /* this member's requests in flight at
                                    once (cohort_request() answers AGAIN
                                    beyond); default 256, 1..65536 */
    size_t rpc_history_len;      /* requests of others remembered (reply
                                    history, tombstones included), so a
                                    repeat is never executed twice;
                                    default 4096, 16..1048576 */
    size_t rpc_history_bytes;    /* bytes of replies held for repeats
                                    and of requests in assembly; default
                                    8 MiB, max_datagram..1 GiB */
    /* --- since 0.6: stats socket --- */
    const char *stats_socket;    /* NULL (default): off. Else the path of
                                    a Unix socket this member makes (mode
                                    0600, in a directory others cannot
                                    write to, or a sticky one as /tmp) and
                                    removes at close: each connection to
                                    it gets one text snapshot of
                                    cohort_stats() and the view, then is
                                    closed (read by cohort-stat(1); format
                                    in docs/api.md "Stats socket"). Read
                                    only: nothing is read from a client.
                                    Served from cohort_process() and
                                    cohort_wait(), at most 4 a turn; only
                                    this uid and root may connect. At most
                                    107 bytes */
    /* --- since 0.7: busy-poll --- */
    uint32_t busy_poll_us;       /* 0 (default): cohort_wait() sleeps in
                                    the kernel until a socket is readable
                                    or a timer is due. Else it first spins
                                    that many microseconds (asking the
                                    kernel without sleeping) before it
                                    sleeps: CPU traded for latency, the
                                    wake-up of a sleeping process saved
                                    (docs/performance.md, "Busy-poll").
                                    Never past the wait's deadline or the
                                    next timer. 0..1000000 */
    /* --- since 0.7: cipher --- */
    cohort_cipher_t cipher;      /* with security AUTH or ENCRYPT: the
                                    AEAD this member seals with; default
                                    COHORT_CIPHER_FASTEST (since 0.9;
                                    before, XCHACHA20POLY1305).
                                    AES256GCM where the CPU lacks it:
                                    NOCRYPTO at cohort_open() */
    /* --- since 0.8: parity repair --- */
    size_t parity_block;         /* 0 (default): lost records are sent
                                    again one by one. 2..64: this member's
                                    reliable records form blocks of that
                                    many, and a NACK for some records of
                                    a block that is out is answered with
                                    as many parity symbols, multicast: one
                                    symbol repairs a different loss at
                                    each receiver (docs/protocol.md,
                                    "Parity repair"). Receivers use parity
                                    whatever their own setting. Memory: a
                                    receiver keeps parity symbols in an
                                    eighth of recv_buffer_bytes (at least
                                    64 datagram bodies) and a block of
                                    scratch, once parity arrives */
    size_t parity_extra;         /* 0 (default): parity only when asked.
                                    1..parity_block: as well, that many
                                    parity symbols multicast unasked with
                                    each block as it goes out, for lossy
                                    links: a receiver that lost at most
                                    that many records of the block
                                    rebuilds them without a NACK's round
                                    trip. More than parity_block, or set
                                    without it: INVAL */
};

/* Fill *cfg with defaults (group NULL: must be set). */
COHORT_API void cohort_config_init(struct cohort_config *cfg);

/* The max_datagram cohort_open() would use with cfg, into *out: the
 * field itself when set, else the one sized from the MTU of cfg's
 * interface (cfg->group need not be set). Errors: INVAL (cfg or out
 * NULL, a bad interface or ipv6 field), VERSION (struct_size),
 * ADDRESS (no such interface, down, or an MTU too small), SYSTEM. */
COHORT_API int cohort_config_datagram(const struct cohort_config *cfg,
                                      size_t *out);

/* ------------------------------------------------------------------ */
/* Members and events                                                  */
/* ------------------------------------------------------------------ */
typedef struct cohort cohort_t;  /* opaque member handle */

/* A member is its id plus the incarnation of the process that holds it; a
 * restarted member keeps its id and gets a new incarnation. */
typedef struct cohort_member {
    uint32_t id;
    uint32_t incarnation;
} cohort_member_t;

typedef enum cohort_event_type {
    COHORT_EVENT_NONE = 0,
    COHORT_EVENT_MESSAGE = 1,       /* a delivered message */
    COHORT_EVENT_MEMBER_JOINED = 2, /* first heard from a member; the
                                       name is its heartbeat's, or, when a
                                       data datagram admits it first, the
                                       name last heard from that member id
                                       (this incarnation before a cut, or
                                       the previous one); "" only for a
                                       member never heard by heartbeat */
    COHORT_EVENT_MEMBER_LEFT = 3,   /* a member left or timed out */
    COHORT_EVENT_WARNING = 4,       /* e.g. traffic with another key/mode */
    COHORT_EVENT_VIEW = 5,          /* a new agreed view is installed (abi
                                       >= 1); never dropped */
    COHORT_EVENT_STATE_REQUEST = 6, /* abi >= 3: send your state to
                                       u.state.peer (cohort_state_send) */
    COHORT_EVENT_STATE_CHUNK = 7,   /* abi >= 3: a piece of the state
                                       this member asked for */
    COHORT_EVENT_STATE_DONE = 8,    /* abi >= 3: the state transfer this
                                       member asked for ended
                                       (u.state.result) */
    COHORT_EVENT_REQUEST = 9,       /* abi >= 4: a request to this member
                                       (u.request; answer with
                                       cohort_reply()) */
    COHORT_EVENT_REPLY = 10,        /* abi >= 4: a reply to a request of
                                       this member's (u.request) */
    COHORT_EVENT_REQUEST_DONE = 11, /* abi >= 4: a request of this
                                       member's ended (u.request.result);
                                       no REPLY of it follows */
} cohort_event_type_t;

enum cohort_leave_reason {
    COHORT_LEFT_GRACEFULLY = 0,
    COHORT_LEFT_TIMEOUT = 1,
    COHORT_LEFT_RESTARTED = 2,      /* a newer incarnation appeared */
};

/* Layout version of cohort_event_t filled by this library (ev->abi). A
 * field documented "abi >= N" is valid only when ev->abi >= N. */
#define COHORT_EVENT_ABI 4

/*
 * A tagged event. Pointers in it are owned by the library and stay valid
 * until the next call that takes this handle (cohort_next_event,
 * cohort_process, cohort_wait, cohort_send*, cohort_close); copy what you
 * keep.
 *
 * ABI: the struct has a fixed size on each platform (256 bytes on LP64)
 * in every version; new fields are added only inside the union's reserved
 * room, never by growing the struct, so a program built against an older
 * header stays correct with a newer library and the other way round. The
 * library sets struct_size (sizeof of its own cohort_event_t) and abi
 * (its COHORT_EVENT_ABI); a newer program checks abi before reading a
 * field an older library does not fill. Fields the library does not fill
 * are zero.
 */
typedef struct cohort_event {
    uint32_t struct_size;              /* set by the library */
    uint32_t abi;                      /* set by the library */
    cohort_event_type_t type;
    union {
        struct {
            cohort_member_t sender;
            const char *sender_name;   /* NUL-terminated, may be "" */
            cohort_mode_t mode;
            const void *data;
            size_t len;
            uint64_t view_id;          /* the view it was sent in, which
                                          is the receiver's current view
                                          (virtual synchrony) */
            uint64_t order;            /* TOTAL and SAFE: position in the
                                          view's total order, from 1 in
                                          each view, one more at each
                                          TOTAL or SAFE delivery; 0 for
                                          other modes */
            uint32_t flags;            /* abi >= 2: COHORT_MESSAGE_* */
        } message;
        struct {
            cohort_member_t member;
            const char *name;          /* NUL-terminated, may be "" */
            int reason;                /* enum cohort_leave_reason */
        } member;
        struct {
            int code;                  /* COHORT_ERR_*: LOST, AUTH,
                                          KEY_UNKNOWN, SECURITY_MODE,
                                          SYSTEM, or INVAL for a
                                          configuration adjusted at open;
                                          TOOBIG: datagrams longer than
                                          max_datagram arrived and were
                                          dropped, or a member named
                                          another max_datagram and is
                                          kept out of this member's views
                                          (member: that one; once a life
                                          of it): give all the same; or
                                          a member of this size whose
                                          PATHs (datagrams of
                                          max_datagram bytes) never
                                          arrive: the path between is
                                          narrower, so it is kept apart
                                          (member: that one; once a life
                                          of it): set max_datagram to
                                          what the path carries */
            const char *text;          /* NUL-terminated description */
            cohort_member_t member;    /* the member concerned (LOST,
                                          EXCLUDED, TOOBIG for another
                                          size or a narrow path), or
                                          {0, 0} */
            uint64_t count;            /* LOST: messages lost; else 0 */
        } warning;
        struct {
            uint64_t view_id;          /* grows with every view along
                                          this member's history; the
                                          counter is the high 32 bits, the
                                          low 32 the proposer's member id */
            const cohort_member_t *members; /* oldest first; members[0]
                                               coordinates */
            size_t count;              /* >= 1; this member is one */
            const cohort_member_t *joined;  /* did not come from this
                                               member's previous view
                                               with it: fresh, or from
                                               another side (even one its
                                               previous view listed); the
                                               rest came along with it */
            size_t joined_count;
            const cohort_member_t *left;    /* said LEAVE */
            size_t left_count;
            const cohort_member_t *failed;  /* stopped answering: crashed,
                                               or cut off by a partition
                                               (they cannot be told apart) */
            size_t failed_count;
            int primary;               /* 1: holds a majority of
                                          expected_members (or it is 0) */
        } view;
        struct {                       /* abi >= 3: STATE_* events */
            uint32_t transfer;         /* the transfer's id (REQUEST:
                                          pass it to cohort_state_send) */
            cohort_member_t peer;      /* REQUEST: the requester;
                                          CHUNK, DONE: the provider
                                          ({0, 0} for DONE with
                                          COHORT_STATE_NONE) */
            const void *data;          /* CHUNK: the bytes */
            size_t len;
            uint64_t offset;           /* CHUNK: where data starts in the
                                          state; 0 begins a transfer
                                          (discard any chunks before it:
                                          an interrupted transfer starts
                                          over); DONE: the state's size */
            int result;                /* DONE: enum cohort_state_result */
            uint64_t view_id;          /* the view the snapshot was
                                          taken in */
        } state;
        struct {                       /* abi >= 4: REQUEST, REPLY,
                                          REQUEST_DONE */
            uint32_t request;          /* the id cohort_request()
                                          returned at the requester */
            cohort_member_t peer;      /* REQUEST: the requester (pass
                                          it to cohort_reply); REPLY: the
                                          member that replied; DONE:
                                          {0, 0} */
            const void *data;          /* REQUEST, REPLY: the payload */
            size_t len;
            cohort_mode_t mode;        /* REQUEST: FIFO, TOTAL or SAFE
                                          for a request to the group (its
                                          order among the messages), FIFO
                                          for one to this member alone */
            uint32_t flags;            /* COHORT_REQUEST_* */
            int result;                /* DONE: enum
                                          cohort_request_result */
            uint32_t replies;          /* DONE: replies received */
            uint32_t wanted;           /* DONE: replies it waited for */
            uint64_t view_id;          /* REQUEST, REPLY: this member's
                                          view when it came; DONE: the
                                          view at the call */
        } request;
        unsigned char reserved_[240];  /* room to grow; keep zero */
    } u;
} cohort_event_t;

/* How a state transfer this member asked for ended
 * (COHORT_EVENT_STATE_DONE, u.state.result). */
enum cohort_state_result {
    /* The chunks since the last one at offset 0 are the state of the
     * group at the snapshot point: load them in place of your own. The
     * TOTAL and SAFE messages after this event are exactly those ordered
     * after that point. */
    COHORT_STATE_RECEIVED = 0,
    /* No other member could provide a state (this member was alone in
     * its view for a member timeout, or every other one is still waiting
     * for its own): keep your own. The TOTAL and SAFE messages go on
     * where they stopped. */
    COHORT_STATE_NONE = 1,
};

/* How a request ends (COHORT_EVENT_REQUEST_DONE, u.request.result; the
 * value cohort_request_wait() returns). */
enum cohort_request_result {
    COHORT_REQUEST_COMPLETE = 0,     /* the replies wanted came */
    COHORT_REQUEST_TIMEDOUT = 1,     /* its timeout passed first */
    COHORT_REQUEST_MEMBERS_LEFT = 2, /* it can no longer complete: members
                                        it waited for left the view (or
                                        said they will not reply) */
    COHORT_REQUEST_CLOSED = 3,       /* this member left the group, or
                                        the life that made the request
                                        ended excluded (a new one began:
                                        COHORT_ERR_EXCLUDED) */
};

/* Flags of REQUEST and REPLY events (u.request.flags). */
enum cohort_request_flag {
    COHORT_REQUEST_NOREPLY = 0x1,    /* REQUEST: the requester wants no
                                        reply (COHORT_WANT_NONE):
                                        cohort_reply() is not needed */
    COHORT_REQUEST_GROUP = 0x2,      /* REQUEST: sent to the whole group */
    COHORT_REQUEST_UNANSWERED = 0x4, /* REPLY (no data): this member will
                                        not reply: it no longer holds
                                        the reply (history bound) or had
                                        no room for the request; it
                                        counts as a member that left */
    COHORT_REQUEST_TRUNCATED = 0x8,  /* cohort_reply_t: the caller's
                                        buffer held only len bytes */
};

/* Largest data one cohort_state_send() call takes. */
#define COHORT_STATE_CHUNK_MAX 65536

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/* Validate cfg, open the sockets, join the group and announce this member.
 * The others are not known yet when this returns: see the start-up rule at
 * cohort_members() before sending reliable messages.
 * On success *out owns a new handle (free with cohort_close()); on failure
 * *out is NULL. cfg and the strings and key it points to are the caller's
 * and only read during the call. Takes up to 1/64 s: it returns only once
 * the real-time tick its incarnation was drawn from is over, so a restart
 * with the same member_id is always newer (docs/protocol.md).
 * Errors: INVAL (NULL argument, or a bad field: cohort_last_error_text()
 * names it; also stats_socket empty, longer than 107 bytes, or in a
 * directory that others can write to and is not sticky, or that belongs
 * to another user; or a limit the MTU-sized max_datagram is too small
 * for, e.g. max_members), VERSION (struct_size), NOMEM, ADDRESS
 * (interface or group address unusable, or with max_datagram 0 an
 * interface MTU below 540), SYSTEM (socket or getrandom; errno kept; for
 * stats_socket: EADDRINUSE when a running member listens at the path,
 * EEXIST when something other than a socket of this user's is there,
 * never replaced, or what stat, bind, chmod or listen said, e.g. ENOENT
 * for a missing directory), NOCRYPTO (security without libsodium, or
 * cipher AES256GCM on a CPU without it), KEY (key_file unreadable,
 * malformed or too open); INVAL also for a cipher that is none of
 * cohort_cipher_t's. */
COHORT_API COHORT_NODISCARD int cohort_open(cohort_t **out,
                                            const struct cohort_config *cfg);

/* A one-line description of why the last cohort_open() on this thread
 * failed (which field, which system call). Static storage; never NULL. */
COHORT_API const char *cohort_last_error_text(void);

/* Leave the group (a LEAVE datagram is sent so others drop this member at
 * once), close the sockets, wipe keys and free c. c may be NULL. Reliable
 * messages not yet received by everyone may be lost: call cohort_drain()
 * first to wait for them. Returns at once, except when this member
 * proposed a view change that is committed and not yet installed by
 * every member of it: it first goes on processing (the events it makes
 * are dropped) until they all have, at most two flush timeouts (640 ms
 * with the default nack_retry_ns), or the members that missed the
 * COMMIT would be split from those that installed it. */
COHORT_API void cohort_close(cohort_t *c);

/* Process until every reliable message this member sent is held by every
 * member it knows, or timeout_ms passes (-1: no limit). timeout_ms 0 never
 * blocks: it processes once and answers "is everything I sent stable?"
 * (0: yes, TIMEDOUT: not yet). Events keep queueing meanwhile and are not
 * taken by this call; once the event queue is full this member takes (and
 * acknowledges) no more messages, so members that drain at the same time
 * while others' messages still arrive should call it with timeout 0 in
 * their own loop and keep reading events between calls, or they wait on
 * each other until the timeout.
 * Errors: TIMEDOUT, INVAL (c NULL), SYSTEM (from cohort_process()). */
COHORT_API int cohort_drain(cohort_t *c, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* Queue a message for the group. The data is the caller's and is copied
 * before the call returns. Small messages may wait up to
 * config.bundle_delay_ns to share a datagram, and with segmentation
 * offload full datagrams wait within the same bound to leave in runs
 * (docs/api.md, "Segmentation offload"); the next cohort_process() or
 * cohort_wait() sends them, cohort_flush() at once. Never blocks.
 * Returns 0 once the message is accepted, and then never an error: a
 * datagram the kernel refuses afterwards is counted in stats.send_errors
 * (FIFO records are repaired by retransmission; UNRELIABLE ones are lost,
 * as that mode allows), so a caller must not retry a send that returned 0.
 * A FIFO message larger than the free window is fed out piece by piece as
 * the window frees; until it is all out, the next send returns AGAIN.
 * TOTAL and SAFE messages are FIFO messages that every member also
 * delivers in one order (the sender's own copy at its place in it).
 * A FIFO message goes to the members of the view it is sent in. Before
 * the first view, and during a view change (from this member's answer to
 * the proposal until it installs the next view), FIFO messages are taken
 * and held in the window, then sent in the next view; the application
 * need not stop sending. With config.self_delivery (default on) the
 * message also comes back to this member as a MESSAGE event, in its place
 * in the stream (after the VIEW event of the view it is sent in).
 * Errors (nothing was accepted): INVAL (c NULL, NULL data with len > 0,
 * bad mode), TOOBIG (len > cohort_max_payload(c, mode)),
 * AGAIN (flow control: the slowest member of the view is
 * send_window_bytes behind, a large message is still being fed out,
 * recv_buffer_bytes of this member's own TOTAL or SAFE messages wait for
 * their place in the order, or,
 * with self-delivery, this member's own event queue is full: take events
 * with cohort_next_event(), call cohort_process() and retry, or use
 * cohort_send_wait()), NOMEM (copying a message that must wait, or its
 * copy for self-delivery), CLOSED. */
COHORT_API COHORT_NODISCARD int cohort_send(cohort_t *c, cohort_mode_t mode,
                                            const void *data, size_t len);

/* Like cohort_send() but processes the group until the message fits or
 * timeout_ms passes (-1: no limit). Events that arrive meanwhile are queued
 * for cohort_next_event(). Errors as cohort_send(), plus TIMEDOUT. */
COHORT_API COHORT_NODISCARD int cohort_send_wait(cohort_t *c,
                                                 cohort_mode_t mode,
                                                 const void *data, size_t len,
                                                 int timeout_ms);

/* Send any bundled messages now. Errors: INVAL (c NULL), SYSTEM (a
 * socket error that is not transient; transient refusals only count in
 * stats.send_errors). */
COHORT_API int cohort_flush(cohort_t *c);

/* ------------------------------------------------------------------ */
/* State transfer (docs/api.md, "State transfer")                      */
/* ------------------------------------------------------------------ */
/*
 * A member that joins a running group often needs its state. It asks
 * (config.state_transfer, or cohort_state_request()); the request takes
 * a place in the total order. There, one member that holds a state (not
 * itself waiting for one, and with config.state_provider set; the first
 * to offer) gets COHORT_EVENT_STATE_REQUEST in its event stream after
 * every TOTAL and SAFE message ordered before that place and before any
 * ordered after it: the state it has then is the snapshot. It sends the
 * snapshot in pieces with cohort_state_send() and ends with
 * cohort_state_end(); the library carries them to the requester over a
 * reliable unicast stream with its own flow control (a bounded window),
 * so a state of any size passes through bounded memory.
 *
 * The requester keeps delivering until its request's place; from there
 * it holds later TOTAL and SAFE messages (bounded per sender: when full,
 * senders wait, so a long transfer slows the group rather than growing
 * memory), gets the snapshot as COHORT_EVENT_STATE_CHUNK events, then
 * COHORT_EVENT_STATE_DONE, then exactly the TOTAL and SAFE messages
 * ordered after the snapshot point: none before it, none missing. FIFO
 * and UNRELIABLE messages are not part of the snapshot and keep flowing.
 *
 * If the view changes before the transfer is done (the provider crashed
 * or left, or anyone joined), the held messages are dropped (the next
 * snapshot covers them) and the request is made again in the new view,
 * where another member may provide: the chunks start again at offset 0.
 * The provider's cohort_state_send() then answers STATE.
 *
 * Needs config.self_delivery (the request's place is found in this
 * member's own delivery of the order).
 */

/* Ask the group for its state (see above). Before the first view the
 * request waits for it. Errors: INVAL (c NULL), STATE (a request of this
 * member is still in progress), NOTSUP (self_delivery is off), CLOSED. */
COHORT_API int cohort_state_request(cohort_t *c);

/* Provider: append len bytes (at most COHORT_STATE_CHUNK_MAX) to the
 * state of transfer (u.state.transfer of a STATE_REQUEST event). The data
 * is copied. Never blocks. Take the snapshot as it was at the
 * STATE_REQUEST event: send from a copy, or take no further events until
 * cohort_state_end() (cohort_state_send_wait() processes the group
 * without taking events from you).
 * Errors: INVAL (c NULL, NULL data with len > 0), TOOBIG (len >
 * COHORT_STATE_CHUNK_MAX), AGAIN (the transfer's window is full: call
 * cohort_process() and retry, or use cohort_state_send_wait()), STATE
 * (no such transfer here: it ended, or the view changed and the
 * requester asks again), NOMEM. */
COHORT_API COHORT_NODISCARD int cohort_state_send(cohort_t *c,
                                                  uint32_t transfer,
                                                  const void *data,
                                                  size_t len);

/* Like cohort_state_send() but processes the group until the data fits
 * or timeout_ms passes (-1: no limit). Events that arrive meanwhile are
 * queued. Errors as cohort_state_send(), plus TIMEDOUT and SYSTEM. */
COHORT_API COHORT_NODISCARD int cohort_state_send_wait(cohort_t *c,
                                                       uint32_t transfer,
                                                       const void *data,
                                                       size_t len,
                                                       int timeout_ms);

/* Provider: the state of transfer is complete. The library finishes
 * sending it (the requester's STATE_DONE follows its delivery).
 * Errors: INVAL (c NULL), STATE (no such transfer here). */
COHORT_API int cohort_state_end(cohort_t *c, uint32_t transfer);

/* ------------------------------------------------------------------ */
/* Request-reply (docs/api.md, "Request-reply")                        */
/* ------------------------------------------------------------------ */
/*
 * A member asks one member or the whole group something and collects
 * answers: cohort_request() returns a request id; each member asked gets
 * COHORT_EVENT_REQUEST and answers with cohort_reply(); the requester
 * gets COHORT_EVENT_REPLY for each reply, then one
 * COHORT_EVENT_REQUEST_DONE saying why it ended. cohort_request_wait()
 * does all of it in one blocking call.
 *
 * "The group" is the view current at the call: its members, this one
 * too when config.self_delivery is on (it serves its own request like
 * any member). A request to the group travels as a message in the mode
 * chosen (FIFO, TOTAL or SAFE: a member's REQUEST event takes that
 * message's place among its messages) and follows the virtual-synchrony
 * rules of messages; a request to one member, and every reply, travel by
 * reliable unicast, cut in pieces when large.
 *
 * Exactly once: a member executes (gets a REQUEST event for) each request
 * at most once. Repeats of a request are answered from its reply history
 * (bounded by config.rpc_history_len and rpc_history_bytes); the
 * requester's acknowledgement of a reply frees it there. A member whose
 * history no longer holds a reply answers a repeat "unanswered" rather
 * than execute the request again.
 *
 * A member the request waits for that leaves the view (crashed, left, or
 * cut off) counts as "will not reply": once the replies wanted can no
 * longer come, the request ends with COHORT_REQUEST_MEMBERS_LEFT at once,
 * without waiting for the timeout.
 */

/* How many replies a request waits for (n: the members asked). */
typedef enum cohort_want {
    COHORT_WANT_NONE = 0,     /* none (R): DONE as soon as it is sent to
                                 the group, or accepted by the member */
    COHORT_WANT_FIRST = 1,    /* the first reply */
    COHORT_WANT_MAJORITY = 2, /* n / 2 + 1 replies */
    COHORT_WANT_ALL = 3,      /* every member asked */
} cohort_want_t;

/* cohort_request()'s to: the whole group. */
#define COHORT_TO_GROUP 0u

/* Send a request to member id `to` (a member of the current view; this
 * member itself too) or to COHORT_TO_GROUP, in mode (COHORT_FIFO,
 * COHORT_TOTAL or COHORT_SAFE for the group; COHORT_FIFO for one
 * member), waiting for want replies at most timeout_ms (-1: no limit;
 * the request still ends when the members it waits for leave). The data
 * is copied. Never blocks.
 * Returns the request id (1..2^31-1, never reused by this handle), which
 * the REPLY and REQUEST_DONE events name.
 * Errors (nothing was sent): INVAL (c NULL, NULL data with len > 0, bad
 * mode or want, timeout_ms < -1, to not in the current view, TOTAL or
 * SAFE to one member), TOOBIG (len > cohort_max_payload(c, COHORT_FIFO)
 * less 12 bytes), STATE (before the first view), AGAIN (rpc_max_requests
 * requests in flight, or a request to the group met the flow control of
 * cohort_send(): take events, process and retry), NOMEM, CLOSED. */
COHORT_API COHORT_NODISCARD int cohort_request(cohort_t *c, uint32_t to,
                                               cohort_mode_t mode,
                                               cohort_want_t want,
                                               const void *data, size_t len,
                                               int timeout_ms);

/* Answer request `request` of `requester` (u.request.request and
 * u.request.peer of a COHORT_EVENT_REQUEST). The data is copied and kept
 * in the reply history until the requester acknowledges it. Never
 * blocks; at most one reply per request.
 * Errors: INVAL (c NULL, NULL data with len > 0), TOOBIG (len larger
 * than rpc_history_bytes or cohort_max_payload(c, COHORT_FIFO)), STATE
 * (no such request waits for a reply here: answered already, it wanted
 * none, or the requester left the view), NOMEM, CLOSED. */
COHORT_API COHORT_NODISCARD int cohort_reply(cohort_t *c,
                                             cohort_member_t requester,
                                             uint32_t request,
                                             const void *data, size_t len);

/* One reply as cohort_request_wait() collects it. */
typedef struct cohort_reply {
    cohort_member_t member;  /* who replied */
    const void *data;        /* into the caller's buf */
    size_t len;
    uint32_t flags;          /* COHORT_REQUEST_UNANSWERED, _TRUNCATED */
} cohort_reply_t;

/* Where cohort_request_wait() puts the replies: the caller's arrays. */
struct cohort_replies {
    cohort_reply_t *replies; /* room for max entries (may be NULL if 0) */
    size_t max;
    void *buf;               /* reply bytes, back to back (may be NULL
                                if buf_len is 0) */
    size_t buf_len;
    /* filled by the call: */
    size_t count;            /* entries filled (<= max) */
    size_t received;         /* replies received (may exceed max) */
    uint32_t request;        /* the request's id */
};

/* cohort_request() and process until it ends; replies go to *out and not
 * to the event queue (other events wait there). A blocking caller cannot
 * answer itself: it is not one of the members asked (a request to the
 * group asks the others, and this member gets no REQUEST event for it;
 * to = this member is INVAL). Returns enum cohort_request_result (>= 0).
 * Errors: as cohort_request() (AGAIN included), INVAL (out NULL, or a
 * NULL array with room), SYSTEM (from cohort_process(); the request goes
 * on, reported by events). */
COHORT_API COHORT_NODISCARD int cohort_request_wait(cohort_t *c, uint32_t to,
                                                    cohort_mode_t mode,
                                                    cohort_want_t want,
                                                    const void *data,
                                                    size_t len,
                                                    int timeout_ms,
                                                    struct cohort_replies *out);

/* ------------------------------------------------------------------ */
/* Event-loop integration                                              */
/* ------------------------------------------------------------------ */

/* A file descriptor that becomes readable when cohort_process() has work.
 * Owned by c; do not read or close it. Errors: INVAL (c NULL). */
COHORT_API int cohort_fd(const cohort_t *c);

/* Milliseconds until cohort_process() must run even if cohort_fd() stays
 * quiet: 0 means now (a timer is due, or datagrams wait to be sent); -1
 * means no timer is pending (or c is NULL). Datagrams held to leave in a
 * run count as a timer (due bundle_delay_ns after their first message
 * was sent). Never fails. */
COHORT_API int cohort_timeout_ms(const cohort_t *c);

/* The same in nanoseconds (since 0.3), for loops that can wait that
 * finely (ppoll, epoll_pwait2, timerfd): some timers are far shorter than
 * a millisecond (an ACK 200 µs after a SAFE message arrives, the bundling
 * delay), and cohort_timeout_ms() rounds them up to 1 ms. 0 means now;
 * -1 means no timer is pending (or c is NULL). Never fails. */
COHORT_API int64_t cohort_timeout_ns(const cohort_t *c);

/* Read every datagram waiting on the sockets, run due timers, send what the
 * protocol produced. Returns the number of events ready (>= 0).
 * Errors: INVAL (c NULL), SYSTEM (a socket error that is not transient). */
COHORT_API int cohort_process(cohort_t *c);

/* Take the next event. Returns 1 and fills *ev (its pointers are the
 * library's, see cohort_event_t), or 0 when none is ready. Also sends what
 * taking the event made the protocol queue (acks), so a loop that only
 * drains events does not delay them. Errors: INVAL (c or ev NULL). */
COHORT_API int cohort_next_event(cohort_t *c, cohort_event_t *ev);

/* Blocking form: process until an event is ready or timeout_ms passes
 * (-1: no limit). Returns 1 with *ev filled, 0 on timeout.
 * Errors: INVAL (c or ev NULL), SYSTEM (from cohort_process() or the
 * wait). */
COHORT_API int cohort_wait(cohort_t *c, cohort_event_t *ev, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Introspection                                                       */
/* ------------------------------------------------------------------ */

/* This member's own id and incarnation; {0, 0} if c is NULL. The
 * incarnation changes once the member was excluded while alive (the call
 * after the COHORT_ERR_EXCLUDED warning is taken begins a new life). */
COHORT_API cohort_member_t cohort_self(const cohort_t *c);

/* Largest message cohort_send() accepts in mode: config.max_message for
 * FIFO; for UNRELIABLE one datagram's payload room, which depends on
 * max_datagram and the security mode (1 340 B with security none at a
 * max_datagram of 1 400). 0 for a mode this build does not
 * support. Never fails. */
COHORT_API size_t cohort_max_payload(const cohort_t *c, cohort_mode_t mode);

/* The current agreed view: its id into *view_id (may be NULL) and up to
 * max of its members, oldest first, into out (the caller's array).
 * Returns the number of members (may exceed max), or 0 before the first
 * view (a fresh member listens for a group for about two heartbeat
 * intervals first). Never fails; 0 if c is NULL. */
COHORT_API size_t cohort_view(const cohort_t *c, uint64_t *view_id,
                              cohort_member_t *out, size_t max);

/* Copy up to max members of the current view (this one included, oldest
 * first, as cohort_view()) into out (the caller's array); before the
 * first view, this member alone. Returns how many there are (may exceed
 * max), so cohort_members(c, NULL, 0) is the count. 0 if c is NULL.
 * (MEMBER_JOINED / MEMBER_LEFT events report the senders this member
 * hears, usually a little before a view takes them in.)
 *
 * Start-up rule: a message goes to the members of the view it is sent in,
 * and nothing is sent before the first view, so members that start
 * together and must all receive the first messages wait, bounded, until
 * the view (cohort_view(), cohort_members(), or COHORT_EVENT_VIEW) holds
 * them all before sending (see the README example). */
COHORT_API size_t cohort_members(const cohort_t *c, cohort_member_t *out,
                                 size_t max);

/* Why a received datagram was dropped. */
enum cohort_drop_reason {
    COHORT_DROP_TRUNCATED = 0,   /* shorter than its header says */
    COHORT_DROP_BAD_MAGIC,
    COHORT_DROP_BAD_VERSION,
    COHORT_DROP_BAD_TYPE,
    COHORT_DROP_BAD_FIELD,       /* a field out of range */
    COHORT_DROP_OTHER_GROUP,     /* another group sharing the address */
    COHORT_DROP_SELF,            /* our own multicast looped back */
    COHORT_DROP_DUPLICATE,       /* data already received */
    COHORT_DROP_STALE,           /* older incarnation of a member */
    COHORT_DROP_AUTH,            /* MAC / AEAD verification failed */
    COHORT_DROP_REPLAY,          /* replayed datagram */
    COHORT_DROP_KEY_UNKNOWN,     /* key id we do not hold */
    COHORT_DROP_SECURITY_MODE,   /* other security mode than ours */
    COHORT_DROP_NO_BUFFER,       /* beyond the receive window/buffer */
    COHORT_DROP_UNKNOWN_MEMBER,  /* member table full */
    COHORT_DROP_INJECTED,        /* fault injection (testing) */
    COHORT_DROP_QUEUE_FULL,      /* local queue bound reached */
    COHORT_DROP__COUNT
};

/* Static name of a drop reason ("truncated", ...); "?" if out of range. */
COHORT_API const char *cohort_drop_reason_name(int reason);

/* Counters since open. Grows only at the end (struct_size). */
struct cohort_stats {
    size_t struct_size;
    uint64_t datagrams_sent, datagrams_received;
    uint64_t bytes_sent, bytes_received;
    uint64_t messages_sent[3];        /* by cohort_mode_t (SAFE: below) */
    uint64_t messages_delivered[3];
    uint64_t retransmissions_sent;    /* data records sent again */
    uint64_t nacks_sent, nacks_received;
    uint64_t send_would_block;        /* AGAIN returned by cohort_send or
                                         cohort_request */
    uint64_t drops[COHORT_DROP__COUNT];
    uint64_t drops_total;
    uint64_t members_joined, members_left;
    uint64_t send_window_used_bytes;  /* reliable bytes not yet stable */
    uint64_t recv_buffered_bytes;     /* out-of-order + reassembly, total */
    /* --- since 0.2 --- */
    uint64_t send_errors;             /* datagrams the kernel refused to
                                         send (ENOBUFS, EPERM, ...); FIFO
                                         records among them are repaired
                                         by retransmission */
    uint64_t messages_lost;           /* FIFO messages given up (see the
                                         COHORT_ERR_LOST warning): held
                                         records are grouped into messages
                                         by their fragment flags; a record
                                         never received counts as one
                                         message (its boundaries are
                                         unknown), so a lost fragmented
                                         message may count once per
                                         missing fragment */
    /* --- since 0.3 --- */
    uint64_t records_not_in_view;     /* records set aside, not dropped:
                                         sent in a view this member is not
                                         in (or in an earlier one), so
                                         never delivered here (virtual
                                         synchrony) */
    uint64_t flushes_abandoned;       /* view changes this member could not
                                         complete in time (what it missed
                                         was held by no one it could
                                         reach): it stayed in its view and
                                         took part in the next change */
    /* --- since 0.4 --- */
    uint64_t messages_sent_safe;      /* COHORT_SAFE (messages_sent[] holds
                                         the first three modes) */
    uint64_t messages_delivered_safe;
    uint64_t order_records_sent;      /* sequencer: ordering records put in
                                         its stream (each orders many
                                         messages) */
    uint64_t messages_transitional;   /* delivered with
                                         COHORT_MESSAGE_TRANSITIONAL */
    /* --- since 0.5 --- */
    uint64_t state_transfers_provided; /* snapshots this member sent */
    uint64_t state_transfers_received; /* DONE events: RECEIVED */
    uint64_t state_transfers_restarted;/* requests made again after a
                                          view change */
    uint64_t state_bytes_sent, state_bytes_received;
    uint64_t messages_superseded;     /* TOTAL or SAFE messages a
                                         requester dropped because a
                                         snapshot covers them */
    /* --- since 0.3: exclusion --- */
    uint64_t exclusions_seen;         /* times this member learned that
                                         the others went on in a view
                                         without it (COHORT_ERR_EXCLUDED) */
    /* --- since 0.6: request-reply --- */
    uint64_t requests_sent;           /* cohort_request() calls accepted */
    uint64_t requests_completed;      /* DONE: COMPLETE */
    uint64_t requests_timed_out;      /* DONE: TIMEDOUT */
    uint64_t requests_failed;         /* DONE: MEMBERS_LEFT or CLOSED */
    uint64_t replies_received;        /* replies taken (REPLY events or
                                         collected by cohort_request_wait) */
    uint64_t requests_served;         /* REQUEST events given (executed) */
    uint64_t replies_sent;            /* cohort_reply() calls accepted */
    uint64_t requests_duplicate;      /* repeats answered from the history
                                         (RR), never executed again */
    uint64_t requests_refused;        /* answered "unanswered": the reply
                                         was evicted, or no room */
    uint64_t rpc_history_evictions;   /* replies or entries dropped from
                                         the reply history for its bounds */
    uint64_t rpc_history_bytes;       /* bytes it holds now */
    uint64_t rpc_history_entries;     /* entries it holds now */
    /* --- since 0.6: stats socket --- */
    uint64_t stats_socket_served;     /* snapshots written to clients */
    uint64_t stats_socket_refused;    /* connections closed unserved: a
                                         peer of another uid (not root),
                                         or one that could not take the
                                         snapshot at once */
    /* --- since 0.7 --- */
    uint64_t rejoins;                 /* new lives begun after an
                                         exclusion (COHORT_ERR_EXCLUDED
                                         taken): a newer incarnation */
    uint64_t send_window_share_bytes; /* reliable bytes this member's
                                         messages may have unacknowledged
                                         now: send_window_bytes, or with
                                         it left 0 to the library, its
                                         share among the members sending
                                         (at least 4 MiB) */
    /* --- since 0.8: parity repair --- */
    uint64_t parity_sent;             /* parity symbols multicast in
                                         answer to NACKs (parity_block) */
    uint64_t parity_received;         /* parity symbols that arrived */
    uint64_t parity_recovered;        /* records rebuilt from parity,
                                         not retransmitted */
    /* --- since 0.9: datagram size --- */
    uint64_t datagram_mismatches;     /* members heard whose heartbeat
                                         named another max_datagram: kept
                                         out of this member's views (a
                                         COHORT_ERR_TOOBIG warning each) */
    uint64_t narrow_paths;            /* members of this one's size heard
                                         outside its view whose PATHs (a
                                         datagram of max_datagram bytes)
                                         never arrived: the path drops
                                         datagrams that long, so they are
                                         kept apart (a COHORT_ERR_TOOBIG
                                         warning each) */
    /* --- since 0.9: segmentation offload --- */
    uint64_t gso_datagrams;           /* of datagrams_sent, those that
                                         left in a run the kernel cut
                                         into datagrams (UDP_SEGMENT;
                                         0 with COHORT_GSO=0) */
    /* --- since 0.9: cipher negotiation --- */
    uint64_t members_without_aes;     /* gauge: members heard (this life
                                         of theirs) that cannot open
                                         AES-256-GCM; while > 0, cipher
                                         FASTEST seals with
                                         XChaCha20-Poly1305 */
};

/* Fill *out, the caller's (set out->struct_size = sizeof *out first; 0
 * means current). Errors: INVAL (c or out NULL, struct_size out of
 * range). */
COHORT_API int cohort_stats(const cohort_t *c, struct cohort_stats *out);

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

/* Write a new random key to path (mode 0600). Never overwrites: an
 * existing file, or a symlink, at path gives SYSTEM with errno EEXIST (or
 * ELOOP) and leaves it untouched.
 * Errors: INVAL (path NULL or ""), NOCRYPTO, SYSTEM (errno kept). */
COHORT_API int cohort_keygen(const char *path);

/* Read a key file into key[COHORT_KEY_BYTES] (the caller's buffer). Refuses
 * a file that group or others can read (as ssh does).
 * Errors: INVAL (NULL argument), NOCRYPTO, KEY (malformed, not a regular
 * file, or too open), SYSTEM (errno kept). */
COHORT_API int cohort_key_load(const char *path,
                               uint8_t key[COHORT_KEY_BYTES]);

/* Key rollover without stopping the group: install a second key with its
 * id. Datagrams sealed with either key are accepted; with use_for_send this
 * member seals with the new key from now on. Roll a group in two steps:
 * every member adds the new key (use_for_send 0), then every member
 * switches (use_for_send 1); members then reopen or keep both until the old
 * key id is no longer seen. At most two keys are held: adding a third
 * replaces the one not used for sending. The key is copied.
 * Errors: INVAL, STATE (security is COHORT_SECURITY_NONE), NOCRYPTO. */
COHORT_API int cohort_add_key(cohort_t *c, const uint8_t key[COHORT_KEY_BYTES],
                              uint8_t key_id, int use_for_send);

#ifdef __cplusplus
}
#endif
#endif /* COHORT_H */
