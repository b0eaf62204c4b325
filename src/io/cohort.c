/*
 * cohort.c - the public API: configuration, the clock, and the loop that
 * moves datagrams between the sockets (transport.c), the fault layer
 * (faults.c) and the sans-IO core.
 */
#include "config.h"

#include "cohort.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSODIUM
#include <sodium.h>
#endif

#include "co_assert.h"
#include "core.h"
#include "crypto.h"
#include "faults.h"
#include "incarnation.h"
#include "rng.h"
#include "statsock.h"
#include "transport.h"
#include "wire.h"

/* ------------------------------------------------------------------ */
/* limits                                                              */
/* ------------------------------------------------------------------ */

#define CO_DEFAULT_PORT 47100
#define CO_SOCKET_BUFFER_DEFAULT ((int)(4 * CO_MIB))
#define CO_SOCKET_BUFFER_MIN 4096
#define CO_SOCKET_BUFFER_MAX (1 << 30)
#define CO_STATS_SIZE_MAX ((size_t)1 << 20)

#define CO_ERROR_TEXT_MAX 256
#define CO_TRUNCATED_WARN_NS (10 * CO_S_NS)
#define CO_WINDOW_DATAGRAMS 512
#define CO_WINDOW_MIN_BYTES (4 * CO_MIB)
#define CO_WARNING_TEXT_MAX 160
#define CO_RX_ROUNDS_MAX 16     /* receive batches per cohort_process() */
#define CO_RANDOM_TRIES_MAX 16
#define CO_TX_QUEUE_GUESS 4096  /* datagrams per send pump, at most */

/* Smallest struct cohort_config a caller may pass: one that ends with the
 * only required field. */
#define CO_CONFIG_MIN_SIZE \
    (offsetof(struct cohort_config, group) + sizeof(const char *))

/* The event ABI (docs/api.md): a fixed size, with reserved room, so that
 * later versions add fields without moving any. */
#if defined(__LP64__)
_Static_assert(sizeof(cohort_event_t) == 256,
               "cohort_event_t must stay 256 bytes on LP64 (event ABI 1)");
#endif

static _Thread_local char co_error_text[CO_ERROR_TEXT_MAX] = "no error";

/* ------------------------------------------------------------------ */
/* the handle                                                          */
/* ------------------------------------------------------------------ */

struct cohort {
    co_core_t *core;
    co_transport_t *tp;
    bool fault_on[2]; /* by co_fault_dir_t */
    co_fault_lane_t lane[2];
    size_t tx_pump_max; /* datagrams taken from the core per pump */
    bool tx_backlog;    /* the last pump stopped at its bound */
    size_t max_message;
    bool secret_locked; /* the core's key memory is mlock()ed */
    co_statsock_t *stats;      /* cfg.stats_socket, or NULL */
    uint64_t stats_look_ns;    /* cohort_process(): next accept() try */
    char group[COHORT_NAME_MAX + 1];
    char name[COHORT_NAME_MAX + 1];
    uint64_t busy_poll_ns;     /* cfg.busy_poll_us */
    bool rejoin_due;           /* COHORT_ERR_EXCLUDED was handed out: the
                                  next call begins a new life */
    size_t max_datagram;       /* the one in use (sized from the MTU) */
    bool hold_ok;              /* two such datagrams fit one segmented
                                  run: full ones may wait to form runs
                                  (co_pump_tx) */
    uint64_t hold_until_ns;    /* while the send batch holds datagrams:
                                  when the first of them must leave */
    uint64_t truncated_told;   /* oversized datagrams a WARNING named */
    uint64_t truncated_warn_ns; /* when (one a CO_TRUNCATED_WARN_NS) */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static int co_fail(int code,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(co_error_text, sizeof co_error_text, fmt, ap);
    va_end(ap);
    return code;
}

static uint64_t co_now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    COHORT_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * CO_S_NS + (uint64_t)ts.tv_nsec;
}

static int co_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    for (int i = 0; i < CO_RANDOM_TRIES_MAX && got < len; i++) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    return got == len ? 0 : COHORT_ERR_SYSTEM;
}

static int co_ms_of_ns(uint64_t ns)
{
    uint64_t ms = ns / CO_MS_NS + (ns % CO_MS_NS != 0 ? 1 : 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static uint64_t co_deadline_after_ms(uint64_t now_ns, int timeout_ms)
{
    if (timeout_ms < 0)
        return UINT64_MAX;
    return now_ns + (uint64_t)timeout_ms * CO_MS_NS;
}

/* ------------------------------------------------------------------ */
/* error texts and names                                               */
/* ------------------------------------------------------------------ */

COHORT_API const char *cohort_strerror(int err)
{
    switch (err) {
    case COHORT_OK: return "success";
    case COHORT_ERR_INVAL: return "invalid argument or configuration field";
    case COHORT_ERR_NOMEM: return "out of memory";
    case COHORT_ERR_AGAIN:
        return "would block: flow-control window full, process and retry";
    case COHORT_ERR_NOTSUP: return "not supported";
    case COHORT_ERR_SYSTEM: return "system call failed (see errno)";
    case COHORT_ERR_TOOBIG:
        return "too large: a message for its mode (see cohort_max_payload), "
               "or a datagram for a member or a path (see max_datagram)";
    case COHORT_ERR_CLOSED: return "member has left the group";
    case COHORT_ERR_TIMEDOUT: return "timed out";
    case COHORT_ERR_NOCRYPTO:
        return "security mode needs libsodium, which this build lacks";
    case COHORT_ERR_KEY: return "key file unreadable, malformed or too open";
    case COHORT_ERR_ADDRESS: return "address or interface cannot be used";
    case COHORT_ERR_VERSION: return "config struct from an incompatible ABI";
    case COHORT_ERR_STATE: return "call not valid in the current state";
    case COHORT_ERR_MALFORMED: return "malformed datagram";
    case COHORT_ERR_LOST:
        return "a sender's messages were given up: they can no longer be "
               "repaired";
    case COHORT_ERR_AUTH: return "datagrams failed authentication (wrong key?)";
    case COHORT_ERR_KEY_UNKNOWN:
        return "datagrams sealed with a key id this member does not hold";
    case COHORT_ERR_SECURITY_MODE:
        return "datagrams from a member using another security mode";
    case COHORT_ERR_EXCLUDED:
        return "the others went on in a view without this member (it was "
               "excluded while alive); it rejoins under a new incarnation";
    default: return "unknown error";
    }
}

#define CO_STR2(x) #x
#define CO_STR(x) CO_STR2(x)

COHORT_API int cohort_cipher_available(cohort_cipher_t cipher)
{
    if (cipher != COHORT_CIPHER_XCHACHA20POLY1305 &&
        cipher != COHORT_CIPHER_AES256GCM && cipher != COHORT_CIPHER_FASTEST)
        return COHORT_ERR_INVAL;
#ifdef HAVE_LIBSODIUM
    if (sodium_init() < 0)
        return 0;
#endif
    return co_crypto_cipher_available(cipher);
}

COHORT_API const char *cohort_version(void)
{
    return CO_STR(COHORT_VERSION_MAJOR) "." CO_STR(
        COHORT_VERSION_MINOR) "." CO_STR(COHORT_VERSION_PATCH);
}

static const char *const co_drop_names[COHORT_DROP__COUNT] = {
    [COHORT_DROP_TRUNCATED] = "truncated",
    [COHORT_DROP_BAD_MAGIC] = "bad_magic",
    [COHORT_DROP_BAD_VERSION] = "bad_version",
    [COHORT_DROP_BAD_TYPE] = "bad_type",
    [COHORT_DROP_BAD_FIELD] = "bad_field",
    [COHORT_DROP_OTHER_GROUP] = "other_group",
    [COHORT_DROP_SELF] = "self",
    [COHORT_DROP_DUPLICATE] = "duplicate",
    [COHORT_DROP_STALE] = "stale",
    [COHORT_DROP_AUTH] = "auth",
    [COHORT_DROP_REPLAY] = "replay",
    [COHORT_DROP_KEY_UNKNOWN] = "key_unknown",
    [COHORT_DROP_SECURITY_MODE] = "security_mode",
    [COHORT_DROP_NO_BUFFER] = "no_buffer",
    [COHORT_DROP_UNKNOWN_MEMBER] = "unknown_member",
    [COHORT_DROP_INJECTED] = "injected",
    [COHORT_DROP_QUEUE_FULL] = "queue_full",
};
_Static_assert(COHORT_DROP_QUEUE_FULL + 1 == COHORT_DROP__COUNT,
               "a drop reason has no name");

COHORT_API const char *cohort_drop_reason_name(int reason)
{
    if (reason < 0 || reason >= COHORT_DROP__COUNT ||
        co_drop_names[reason] == NULL)
        return "?";
    return co_drop_names[reason];
}

COHORT_API const char *cohort_last_error_text(void)
{
    return co_error_text;
}

/* ------------------------------------------------------------------ */
/* configuration                                                       */
/* ------------------------------------------------------------------ */

/* The fields struct cohort_config shares with the core's config: their
 * defaults and their rules are the core's (co_core_config_defaults,
 * co_core_config_check). */
#define CO_SHARED_FIELDS(X)                                                 \
    X(heartbeat_interval_ns) X(member_timeout_ns) X(nack_delay_ns)          \
    X(nack_retry_ns) X(bundle_delay_ns) X(max_datagram) X(max_message)      \
    X(send_window_bytes) X(recv_buffer_bytes) X(max_members)                \
    X(event_queue_len) X(security) X(expected_members)         \
    X(self_delivery) X(state_transfer) X(state_provider)                 \
    X(rpc_max_requests) X(rpc_history_len) X(rpc_history_bytes) X(cipher)     \
    X(parity_block) X(parity_extra)

COHORT_API void cohort_config_init(struct cohort_config *cfg)
{
    if (cfg == NULL)
        return;
    co_core_config_t d;
    co_core_config_defaults(&d);
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->port = CO_DEFAULT_PORT;
    cfg->ttl = 1;
    cfg->loopback = 1;
#define CO_FROM_CORE(f) cfg->f = d.f;
    CO_SHARED_FIELDS(CO_FROM_CORE)
#undef CO_FROM_CORE
    cfg->socket_buffer_bytes = CO_SOCKET_BUFFER_DEFAULT;
    cfg->max_datagram = 0;      /* from the interface's MTU at open */
    cfg->send_window_bytes = 0; /* from max_datagram at open */
}

/* Callers built against an older header pass a shorter struct: its fields
 * are a prefix of ours, and the rest keep their defaults. */
static int co_config_copy(const struct cohort_config *in,
                          struct cohort_config *out)
{
    size_t size = in->struct_size;
    cohort_config_init(out);
    if (size == 0)
        return co_fail(COHORT_ERR_VERSION, "struct_size: 0 (call "
                       "cohort_config_init() first)");
    if (size > sizeof *out)
        return co_fail(COHORT_ERR_VERSION, "struct_size: %zu, larger than "
                       "this library's %zu (newer header than library?)",
                       size, sizeof *out);
    if (size < CO_CONFIG_MIN_SIZE ||
        size % _Alignof(struct cohort_config) != 0)
        return co_fail(COHORT_ERR_VERSION, "struct_size: %zu is no version "
                       "of struct cohort_config", size);
    memcpy(out, in, size);
    out->struct_size = sizeof *out;
    return 0;
}

static int co_check_group(const struct cohort_config *cfg)
{
    if (cfg->group == NULL)
        return co_fail(COHORT_ERR_INVAL, "group: required (NULL)");
    size_t len = strnlen(cfg->group, COHORT_NAME_MAX + 1);
    if (len == 0)
        return co_fail(COHORT_ERR_INVAL, "group: empty");
    if (len > COHORT_NAME_MAX)
        return co_fail(COHORT_ERR_INVAL, "group: longer than %d bytes",
                       COHORT_NAME_MAX);
    if (cfg->address != NULL &&
        !co_transport_is_multicast_literal(cfg->address, cfg->ipv6))
        return co_fail(COHORT_ERR_INVAL, "address: '%.64s' is not an IPv%d "
                       "multicast address", cfg->address, cfg->ipv6 ? 6 : 4);
    if (cfg->port == 0)
        return co_fail(COHORT_ERR_INVAL, "port: 0 (must be 1..65535)");
    return 0;
}

static int co_check_interface(const struct cohort_config *cfg)
{
    const char *itf = cfg->interface;
    if (itf == NULL)
        return 0;
    size_t len = strnlen(itf, INET6_ADDRSTRLEN);
    if (len == 0)
        return co_fail(COHORT_ERR_INVAL, "interface: empty (NULL means "
                       "loopback)");
    if (len >= INET6_ADDRSTRLEN)
        return co_fail(COHORT_ERR_INVAL, "interface: longer than %d bytes",
                       INET6_ADDRSTRLEN - 1);
    uint8_t a[sizeof(struct in6_addr)];
    bool is4 = inet_pton(AF_INET, itf, a) == 1;
    bool is6 = inet_pton(AF_INET6, itf, a) == 1;
    if ((is4 && cfg->ipv6 == 1) || (is6 && cfg->ipv6 == 0))
        return co_fail(COHORT_ERR_INVAL, "interface: '%s' is an IPv%d "
                       "address but ipv6 is %d", itf, is6 ? 6 : 4, cfg->ipv6);
    if (!is4 && !is6 && len >= IF_NAMESIZE)
        return co_fail(COHORT_ERR_INVAL, "interface: name '%s' longer than "
                       "%d bytes", itf, IF_NAMESIZE - 1);
    return 0;
}

static int co_check_where(const struct cohort_config *cfg)
{
    int rc = co_check_group(cfg);
    if (rc != 0)
        return rc;
    rc = co_check_interface(cfg);
    if (rc != 0)
        return rc;
    if (cfg->ttl < 0 || cfg->ttl > 255)
        return co_fail(COHORT_ERR_INVAL, "ttl: %d (must be 0..255)", cfg->ttl);
    if (cfg->loopback != 0 && cfg->loopback != 1)
        return co_fail(COHORT_ERR_INVAL, "loopback: %d (must be 0 or 1)",
                       cfg->loopback);
    if (cfg->ipv6 != 0 && cfg->ipv6 != 1)
        return co_fail(COHORT_ERR_INVAL, "ipv6: %d (must be 0 or 1)",
                       cfg->ipv6);
    if (cfg->name != NULL && strnlen(cfg->name, COHORT_NAME_MAX + 1) >
                                 COHORT_NAME_MAX)
        return co_fail(COHORT_ERR_INVAL, "name: longer than %d bytes",
                       COHORT_NAME_MAX);
    if (cfg->busy_poll_us > 1000000)
        return co_fail(COHORT_ERR_INVAL, "busy_poll_us: %u (must be "
                       "0..1000000)", (unsigned)cfg->busy_poll_us);
    return 0;
}

/* Only what the core does not see; the core checks every other field. */
static int co_check_sockets(const struct cohort_config *cfg)
{
    int sb = cfg->socket_buffer_bytes;
    if (sb != 0 && (sb < CO_SOCKET_BUFFER_MIN || sb > CO_SOCKET_BUFFER_MAX))
        return co_fail(COHORT_ERR_INVAL, "socket_buffer_bytes: %d (must be 0 "
                       "or %d..%d)", sb, CO_SOCKET_BUFFER_MIN,
                       CO_SOCKET_BUFFER_MAX);
    return 0;
}

/* An environment switch set to "0" (COHORT_GSO, COHORT_AES). */
static bool co_env_off(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && strcmp(v, "0") == 0;
}

static int co_check_security(const struct cohort_config *cfg)
{
    cohort_security_t s = cfg->security;
    if (s != COHORT_SECURITY_NONE && s != COHORT_SECURITY_AUTH &&
        s != COHORT_SECURITY_ENCRYPT)
        return co_fail(COHORT_ERR_INVAL, "security: %d is no mode", (int)s);
    if (cfg->cipher != COHORT_CIPHER_XCHACHA20POLY1305 &&
        cfg->cipher != COHORT_CIPHER_AES256GCM &&
        cfg->cipher != COHORT_CIPHER_FASTEST)
        return co_fail(COHORT_ERR_INVAL, "cipher: %d is no cipher",
                       (int)cfg->cipher);
    if (s == COHORT_SECURITY_NONE)
        return 0;
#ifndef HAVE_LIBSODIUM
    return co_fail(COHORT_ERR_NOCRYPTO, "security: mode %d needs libsodium; "
                   "this build has none", (int)s);
#else
    if (cfg->key == NULL && cfg->key_file == NULL)
        return co_fail(COHORT_ERR_INVAL, "security: this mode needs key or "
                       "key_file");
    if (cfg->key != NULL && cfg->key_file != NULL)
        return co_fail(COHORT_ERR_INVAL, "security: set key or key_file, "
                       "not both");
    /* Here, not in the core: it reads the system's randomness. Idempotent
     * and thread-safe. */
    if (sodium_init() < 0)
        return co_fail(COHORT_ERR_NOCRYPTO, "security: sodium_init() "
                       "failed");
    if (cfg->cipher == COHORT_CIPHER_AES256GCM &&
        !co_crypto_cipher_available(COHORT_CIPHER_AES256GCM))
        return co_fail(COHORT_ERR_NOCRYPTO, "cipher: AES-256-GCM needs CPU "
                       "support (AES-NI and PCLMUL, or ARMv8 crypto) that "
                       "this machine lacks");
    if (cfg->cipher == COHORT_CIPHER_AES256GCM && co_env_off("COHORT_AES"))
        return co_fail(COHORT_ERR_NOCRYPTO, "cipher: AES-256-GCM, but "
                       "COHORT_AES=0 says to act as a machine without it");
    return 0;
#endif
}

static int co_check_config(const struct cohort_config *cfg)
{
    int rc = co_check_where(cfg);
    if (rc == 0)
        rc = co_check_sockets(cfg);
    if (rc == 0)
        rc = co_check_security(cfg);
    return rc;
}

static int co_parse_faults(const struct cohort_config *cfg,
                           co_faults_spec_t *spec)
{
    const char *text = cfg->faults;
    const char *origin = "";
    if (text == NULL) {
        text = getenv("COHORT_FAULTS");
        origin = " (from the COHORT_FAULTS environment variable)";
    }
    char why[CO_ERROR_TEXT_MAX - 64];
    if (co_faults_parse(text, spec, why, sizeof why) != 0)
        return co_fail(COHORT_ERR_INVAL, "%s%s", why, origin);
    return 0;
}

/* ------------------------------------------------------------------ */
/* opening                                                             */
/* ------------------------------------------------------------------ */

static void co_default_name(char *out, size_t out_len)
{
    char host[COHORT_NAME_MAX + 1];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    snprintf(out, out_len, "%.40s:%ld", host, (long)getpid());
}

static uint32_t co_nonzero32(uint64_t x)
{
    uint32_t v = (uint32_t)(x ^ (x >> 32));
    return v != 0 ? v : 1;
}

static uint64_t co_realtime_ns(void)
{
    struct timespec ts;
    /* CLOCK_REALTIME cannot fail with a valid clock id and pointer. */
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    COHORT_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * CO_S_NS + (uint64_t)ts.tv_nsec;
}

/* Ids and the core's seed: from cfg->seed when given, so a run can be
 * repeated, else from the system. The incarnation comes from the real-time
 * clock and the first packet_seq from the system whatever the seed: a seed
 * reused under one key must never repeat an AEAD nonce, and a restarted
 * member must be newer than its previous life (incarnation.h). *hold_ns
 * is the real time the open must wait for before it returns. */
static int co_choose_ids(const struct cohort_config *cfg, co_core_config_t *cc,
                         uint64_t *hold_ns)
{
    uint64_t r[2], seq;
    if (cfg->seed != 0) {
        co_rng_t g;
        co_rng_seed(&g, cfg->seed);
        for (size_t i = 0; i < 2; i++)
            r[i] = co_rng_next(&g);
    } else if (co_random_bytes(r, sizeof r) != 0) {
        return co_fail(COHORT_ERR_SYSTEM, "getrandom: %s", strerror(errno));
    }
    if (co_random_bytes(&seq, sizeof seq) != 0)
        return co_fail(COHORT_ERR_SYSTEM, "getrandom: %s", strerror(errno));
    cc->seed = cfg->seed != 0 ? cfg->seed : r[0];
    cc->member_id = cfg->member_id != 0 ? cfg->member_id : co_nonzero32(r[1]);
    uint64_t now = co_realtime_ns();
    cc->incarnation = co_incarnation_choose(now);
    *hold_ns = co_incarnation_hold_until_ns(now);
    cc->packet_seq_start = 1 + seq % CO_PACKET_SEQ_START_MAX;
    return 0;
}

/* Return from an open only once its incarnation tick is over, so the next
 * open of this member id, in any process, draws a newer one (at most
 * 1/64 s). */
static void co_hold_incarnation(uint64_t hold_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(hold_ns / CO_S_NS),
                          .tv_nsec = (long)(hold_ns % CO_S_NS)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
        continue;
}

static int co_load_key(const struct cohort_config *cfg, co_core_config_t *cc)
{
    cc->security = cfg->security;
    cc->key_id = cfg->key_id;
    if (cfg->security == COHORT_SECURITY_NONE)
        return 0;
    if (cfg->key != NULL) {
        memcpy(cc->key, cfg->key, COHORT_KEY_BYTES);
        return 0;
    }
    int rc = cohort_key_load(cfg->key_file, cc->key);
    if (rc != 0)
        return co_fail(rc, "key_file '%.128s': %s%s%s", cfg->key_file,
                       cohort_strerror(rc), rc == COHORT_ERR_SYSTEM ? ": " : "",
                       rc == COHORT_ERR_SYSTEM ? strerror(errno) : "");
    return 0;
}

static int co_core_config_of(const struct cohort_config *cfg,
                             co_core_config_t *cc, uint64_t *hold_ns)
{
    co_core_config_defaults(cc);
    size_t glen = strlen(cfg->group);
    cc->group_id = co_group_id(cfg->group, glen);
    if (cfg->name != NULL)
        snprintf(cc->name, sizeof cc->name, "%s", cfg->name);
    else
        co_default_name(cc->name, sizeof cc->name);
#define CO_TO_CORE(f) cc->f = cfg->f;
    CO_SHARED_FIELDS(CO_TO_CORE)
#undef CO_TO_CORE
    /* COHORT_AES=0: act as a CPU without AES-256-GCM (tests of a mixed
     * group; docs/security.md, "Ciphers"). */
    cc->aes_off = co_env_off("COHORT_AES");
    int rc = co_choose_ids(cfg, cc, hold_ns);
    const char *why = NULL;
    if (rc == 0 && co_core_config_check(cc, &why) != 0)
        rc = co_fail(COHORT_ERR_INVAL, "%s", why);
    if (rc == 0)
        rc = co_load_key(cfg, cc);
    return rc;
}

static int co_open_transport(cohort_t *c, const struct cohort_config *cfg,
                             uint32_t group_id)
{
    co_transport_config_t tc;
    memset(&tc, 0, sizeof tc);
    tc.ipv6 = cfg->ipv6;
    tc.group_address = cfg->address;
    tc.group_hash = group_id;
    tc.port = cfg->port;
    tc.interface = cfg->interface;
    tc.ttl = cfg->ttl;
    tc.loopback = cfg->loopback;
    tc.socket_buffer_bytes = cfg->socket_buffer_bytes;
    tc.max_datagram = cfg->max_datagram;
    /* Segmentation offload unless COHORT_GSO=0 (docs/api.md,
     * "Segmentation offload"). */
    tc.gso = !co_env_off("COHORT_GSO");
    char why[CO_ERROR_TEXT_MAX];
    snprintf(why, sizeof why, "transport failed");
    int rc = co_transport_open(&c->tp, &tc, why, sizeof why);
    if (rc != 0)
        return co_fail(rc, "%s", why);
    return 0;
}

/* The member id is mixed in so that members started with one fault seed
 * do not all lose the same datagrams in lockstep; with cfg->seed set the id
 * is itself deterministic, so a run still repeats. */
static int co_open_faults(cohort_t *c, const co_faults_spec_t *spec,
                          const co_core_config_t *cc, size_t slot_bytes)
{
    uint64_t seed = spec->has_seed ? spec->seed : cc->seed;
    seed ^= (uint64_t)cc->member_id << 32;
    for (int d = CO_FAULT_TX; d <= CO_FAULT_RX; d++) {
        if (!co_faults_active(spec, (co_fault_dir_t)d))
            continue;
        /* Directions draw from separate streams of the same seed. */
        uint64_t lane_seed = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(d + 1);
        if (co_fault_lane_init(&c->lane[d], &spec->rate[d], lane_seed,
                               slot_bytes) != 0) {
            co_fault_lane_free(&c->lane[d]);
            return co_fail(COHORT_ERR_NOMEM, "faults: out of memory");
        }
        c->fault_on[d] = true;
    }
    return 0;
}

static void co_lock_secret(cohort_t *c, bool lock)
{
    void *secret;
    size_t len;
    co_core_secret_region(c->core, &secret, &len);
    if (lock) {
        c->secret_locked = mlock(secret, len) == 0;
    } else if (c->secret_locked) {
        (void)munlock(secret, len);
        c->secret_locked = false;
    }
}

static void co_free_handle(cohort_t *c)
{
    if (c == NULL)
        return;
    co_statsock_close(c->stats);
    co_transport_close(c->tp);
    if (c->core != NULL)
        co_lock_secret(c, false);
    co_core_free(c->core); /* wipes the keys */
    for (int d = CO_FAULT_TX; d <= CO_FAULT_RX; d++) {
        if (c->fault_on[d])
            co_fault_lane_free(&c->lane[d]);
    }
    co_crypto_wipe_bytes(c, sizeof *c);
    free(c);
}

/* How a send pump ends (co_pump_tx). */
typedef enum co_tx_how {
    CO_TX_HOLD,  /* datagrams the core lets wait may stay in the send
                    batch, to leave in segmented runs with later ones */
    CO_TX_SEND,  /* the send batch leaves now */
    CO_TX_FORCE, /* and what fault injection holds back goes too */
} co_tx_how_t;

static int co_pump_tx(cohort_t *c, uint64_t now_ns, co_tx_how_t how);

/* send_window_bytes 0: CO_WINDOW_DATAGRAMS datagrams, at least
 * CO_WINDOW_MIN_BYTES. Loss is repaired one round trip and more after it
 * happened, and the window must cover that much sending or the sender
 * stalls: counted in datagrams, since loss strikes datagrams (at 64 KiB
 * datagrams a 4 MiB window is 64 of them, a few milliseconds at full
 * speed, and 20 % loss cut goodput to a fifth of lossless; at 256
 * datagrams to 0.6, at 512 to 0.97: docs/performance.md). A socket
 * buffer left at its default is raised to twice such a window, so the
 * kernel holds what the window lets out. Such a window is shared by the
 * members sending at the moment (co_prepare sets window_share_min; the
 * core's share_window). */
static void co_size_window(struct cohort_config *cfg)
{
    if (cfg->send_window_bytes != 0)
        return;
    size_t w = CO_WINDOW_DATAGRAMS * cfg->max_datagram;
    if (w < CO_WINDOW_MIN_BYTES)
        w = CO_WINDOW_MIN_BYTES;
    cfg->send_window_bytes = w;
    if (cfg->socket_buffer_bytes == CO_SOCKET_BUFFER_DEFAULT &&
        2 * w > (size_t)CO_SOCKET_BUFFER_DEFAULT)
        cfg->socket_buffer_bytes = 2 * w > CO_SOCKET_BUFFER_MAX
                                       ? CO_SOCKET_BUFFER_MAX
                                       : (int)(2 * w);
}

/* max_datagram 0: the largest datagram the interface sends unfragmented,
 * cut so that the limits that are multiples of it still hold (a send
 * window of four datagrams, a reply history of one); then a window 0
 * follows it. */
static int co_size_datagram(struct cohort_config *cfg)
{
    if (cfg->max_datagram != 0) {
        co_size_window(cfg);
        return 0;
    }
    size_t dg;
    char why[CO_ERROR_TEXT_MAX];
    snprintf(why, sizeof why, "interface MTU unknown");
    int rc = co_transport_path_datagram(cfg->interface, cfg->ipv6, &dg, why,
                                        sizeof why);
    if (rc != 0)
        return co_fail(rc, "max_datagram from the MTU: %s", why);
    if (cfg->send_window_bytes != 0 && dg > cfg->send_window_bytes / 4)
        dg = cfg->send_window_bytes / 4;
    if (dg > cfg->rpc_history_bytes)
        dg = cfg->rpc_history_bytes;
    if (dg < CO_MIN_DATAGRAM)
        dg = CO_MIN_DATAGRAM; /* the check then names the small window */
    cfg->max_datagram = dg;
    co_size_window(cfg);
    return 0;
}

COHORT_API int cohort_config_datagram(const struct cohort_config *cfg,
                                      size_t *out)
{
    if (cfg == NULL || out == NULL)
        return co_fail(COHORT_ERR_INVAL, "config or out: NULL");
    struct cohort_config copy;
    int rc = co_config_copy(cfg, &copy);
    if (rc == 0 && copy.max_datagram == 0)
        rc = co_check_interface(&copy);
    if (rc == 0 && copy.ipv6 != 0 && copy.ipv6 != 1)
        rc = co_fail(COHORT_ERR_INVAL, "ipv6: %d (must be 0 or 1)", copy.ipv6);
    if (rc == 0)
        rc = co_size_datagram(&copy);
    if (rc == 0)
        *out = copy.max_datagram;
    return rc;
}

/* Everything that can fail before a socket is opened, in the order the
 * caller is most likely to want to hear about it. */
static int co_prepare(const struct cohort_config *user,
                      struct cohort_config *cfg, co_faults_spec_t *faults,
                      co_core_config_t *cc, uint64_t *hold_ns)
{
    int rc = co_config_copy(user, cfg);
    /* A window left to the library is shared by the members sending at
     * the moment (core.c, share_window); one the application set is its. */
    bool auto_window = rc == 0 && cfg->send_window_bytes == 0;
    if (rc == 0)
        rc = co_check_config(cfg);
    if (rc == 0)
        rc = co_size_datagram(cfg);
    if (rc == 0)
        rc = co_parse_faults(cfg, faults);
    if (rc == 0)
        rc = co_core_config_of(cfg, cc, hold_ns);
    if (rc == 0 && auto_window)
        cc->window_share_min = CO_WINDOW_MIN_BYTES;
    /* A limit the MTU's datagram is too small for: say where it came
     * from, so the fix (a smaller max_members, say) is plain. */
    size_t end = offsetof(struct cohort_config, max_datagram) +
                 sizeof user->max_datagram;
    bool sized = user->struct_size < end || user->max_datagram == 0;
    if (rc == COHORT_ERR_INVAL && sized && cfg->max_datagram != 0) {
        size_t len = strlen(co_error_text);
        snprintf(co_error_text + len, sizeof co_error_text - len,
                 " (max_datagram %zu, from the interface's MTU)",
                 cfg->max_datagram);
    }
    return rc;
}

static int co_start(cohort_t *c, const struct cohort_config *cfg,
                    const co_faults_spec_t *faults, const co_core_config_t *cc)
{
    int rc = co_open_transport(c, cfg, cc->group_id);
    if (rc == 0)
        rc = co_open_faults(c, faults, cc, cfg->max_datagram);
    if (rc != 0)
        return rc;
    /* A window the receive buffers cannot hold turns every burst into
     * kernel drops and retransmissions; members on one kind of host have
     * similar buffers, so size the window to ours and say so. */
    co_core_config_t sized = *cc;
    size_t usable = co_transport_rcvbuf(c->tp) / 2;
    size_t floor = 4 * sized.max_datagram;
    bool shrunk = usable < sized.send_window_bytes;
    if (shrunk)
        sized.send_window_bytes = usable > floor ? usable : floor;
    uint64_t now = co_now_ns();
    rc = co_core_new(&c->core, &sized, now);
    co_crypto_wipe_bytes(sized.key, sizeof sized.key);
    if (rc != 0)
        return co_fail(rc, "core: %s", cohort_strerror(rc));
    if (shrunk) {
        char text[160];
        snprintf(text, sizeof text,
                 "send window cut from %zu to %zu bytes to fit the socket "
                 "receive buffer; raise net.core.rmem_max for more",
                 cc->send_window_bytes, sized.send_window_bytes);
        co_core_warn(c->core, COHORT_ERR_SYSTEM, text);
    }
    /* Keep key material out of swap; best effort (RLIMIT_MEMLOCK). */
    if (cc->security != COHORT_SECURITY_NONE)
        co_lock_secret(c, true);
    /* Announce at once rather than at the first heartbeat. */
    co_core_tick(c->core, now);
    rc = co_pump_tx(c, now, CO_TX_SEND);
    if (rc != 0)
        return co_fail(rc, "send: %s", strerror(errno));
    return 0;
}

/* The stats socket, before any datagram goes out: a path that cannot be
 * used fails the open without the group ever seeing this member. */
static int co_open_stats(cohort_t *c, const struct cohort_config *cfg,
                         const char *name)
{
    char why[CO_ERROR_TEXT_MAX];
    snprintf(c->group, sizeof c->group, "%s", cfg->group);
    snprintf(c->name, sizeof c->name, "%s", name);
    if (cfg->stats_socket == NULL)
        return 0;
    int rc = co_statsock_open(&c->stats, cfg->stats_socket, why, sizeof why);
    return rc == 0 ? 0 : co_fail(rc, "%s", why);
}

COHORT_API int cohort_open(cohort_t **out, const struct cohort_config *user)
{
    snprintf(co_error_text, sizeof co_error_text, "no error");
    if (out == NULL || user == NULL)
        return co_fail(COHORT_ERR_INVAL, "cohort_open: NULL %s",
                       out == NULL ? "out" : "cfg");
    *out = NULL;
    struct cohort_config cfg;
    co_faults_spec_t faults;
    co_core_config_t cc;
    memset(&cc, 0, sizeof cc);
    uint64_t hold_ns = 0;
    int rc = co_prepare(user, &cfg, &faults, &cc, &hold_ns);
    cohort_t *c = NULL;
    if (rc == 0) {
        c = calloc(1, sizeof *c);
        rc = c != NULL ? 0 : co_fail(COHORT_ERR_NOMEM, "out of memory");
    }
    if (rc == 0) {
        c->max_message = cfg.max_message;
        c->max_datagram = cfg.max_datagram;
        c->hold_ok = 2 * cfg.max_datagram <= CO_MAX_DATAGRAM;
        c->busy_poll_ns = (uint64_t)cfg.busy_poll_us * 1000;
        /* tx_queue_len 0 lets the core size its queue, at most
         * CO_TX_QUEUE_GUESS datagrams. */
        size_t q = cc.tx_queue_len != 0 ? cc.tx_queue_len : CO_TX_QUEUE_GUESS;
        c->tx_pump_max = q + 64;
        rc = co_open_stats(c, &cfg, cc.name);
    }
    if (rc == 0)
        rc = co_start(c, &cfg, &faults, &cc);
    if (rc == 0 && c->stats != NULL &&
        co_transport_watch(c->tp, co_statsock_fd(c->stats)) != 0)
        rc = co_fail(COHORT_ERR_SYSTEM, "stats_socket: epoll_ctl: %s",
                     strerror(errno));
    co_crypto_wipe_bytes(&cc, sizeof cc);
    if (rc != 0) {
        co_free_handle(c);
        return rc;
    }
    co_hold_incarnation(hold_ns);
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------ */
/* moving datagrams                                                    */
/* ------------------------------------------------------------------ */

/* Queue d in the send batch; send_by_ns as co_tx_t's (0: at once).
 * hold_until_ns follows the batch: the first datagram of a batch (a
 * full one sends itself before the next is queued) sets it. */
static int co_emit(cohort_t *c, const co_fault_dgram_t *d,
                   uint64_t send_by_ns)
{
    const co_addr_t *dest = d->kind == CO_DEST_UNICAST ? &d->addr : NULL;
    int rc = co_transport_queue(c->tp, dest, d->data, d->len);
    if (rc == 0 && (co_transport_queued(c->tp) == 1 ||
                    send_by_ns < c->hold_until_ns))
        c->hold_until_ns = send_by_ns;
    return rc;
}

/* What the TX lane held back and now lets go leaves at once, so the
 * lane's timing stays its own. */
static int co_tx_release(cohort_t *c, uint64_t now_ns, bool force)
{
    if (!c->fault_on[CO_FAULT_TX])
        return 0;
    co_fault_dgram_t h;
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX &&
                       co_fault_release(&c->lane[CO_FAULT_TX], now_ns, force,
                                        &h);
         i++) {
        int rc = co_emit(c, &h, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int co_tx_one(cohort_t *c, uint64_t now_ns, const co_fault_dgram_t *d,
                     uint64_t send_by_ns)
{
    if (!c->fault_on[CO_FAULT_TX])
        return co_emit(c, d, send_by_ns);
    unsigned copies = co_fault_admit(&c->lane[CO_FAULT_TX], now_ns, d);
    for (unsigned i = 0; i < copies; i++) {
        int rc = co_emit(c, d, send_by_ns);
        if (rc != 0)
            return rc;
    }
    return co_tx_release(c, now_ns, false);
}

/* May the send batch keep what it holds? Only where segmentation offload
 * is on and two datagrams fit one run, and only until the first of them
 * is due (co_tx_t.send_by_ns: bundled DATA, bundle_delay_ns after its
 * first record came; anything else is due at once). */
static bool co_may_hold(const cohort_t *c, uint64_t now_ns)
{
    return c->hold_ok && co_transport_queued(c->tp) > 0 &&
           c->hold_until_ns > now_ns && co_transport_gso(c->tp);
}

/* Send what the core produced: every datagram is copied into the send
 * batch before the next core call, which may reuse its memory. With
 * CO_TX_HOLD the batch may keep full datagrams a little (co_may_hold):
 * a stream of messages each about a datagram long then leaves in
 * segmented runs rather than one datagram a call. They leave when the
 * batch fills (CO_TRANSPORT_BATCH_MAX), when the first is due (the
 * deadline co_next_deadline reports), or at the next pump that is not a
 * HOLD: the application yielding to its loop (cohort_process,
 * cohort_wait), cohort_flush, close. */
static int co_pump_tx(cohort_t *c, uint64_t now_ns, co_tx_how_t how)
{
    co_tx_t tx;
    size_t n = 0;
    for (; n < c->tx_pump_max && co_core_next_tx(c->core, &tx); n++) {
        co_fault_dgram_t d;
        memset(&d, 0, sizeof d);
        d.data = tx.data;
        d.len = tx.len;
        d.kind = (int)tx.kind;
        d.addr = tx.dest;
        int rc = co_tx_one(c, now_ns, &d, tx.send_by_ns);
        if (rc != 0)
            return rc;
    }
    c->tx_backlog = n == c->tx_pump_max;
    int rc = co_tx_release(c, now_ns, how == CO_TX_FORCE);
    if (rc != 0)
        return rc;
    if (how == CO_TX_HOLD && co_may_hold(c, now_ns))
        return 0;
    return co_transport_flush(c->tp);
}

static void co_rx_release(cohort_t *c, uint64_t now_ns)
{
    if (!c->fault_on[CO_FAULT_RX])
        return;
    co_fault_dgram_t h;
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX &&
                       co_fault_release(&c->lane[CO_FAULT_RX], now_ns, false,
                                        &h);
         i++)
        (void)co_core_recv(c->core, now_ns, &h.addr, h.data, h.len);
}

static void co_rx_one(cohort_t *c, uint64_t now_ns, const co_rx_dgram_t *r)
{
    if (!c->fault_on[CO_FAULT_RX]) {
        (void)co_core_recv(c->core, now_ns, &r->from, r->data, r->len);
        return;
    }
    co_fault_dgram_t d;
    memset(&d, 0, sizeof d);
    d.data = r->data;
    d.len = r->len;
    d.addr = r->from;
    unsigned copies = co_fault_admit(&c->lane[CO_FAULT_RX], now_ns, &d);
    for (unsigned i = 0; i < copies; i++)
        (void)co_core_recv(c->core, now_ns, &r->from, r->data, r->len);
    co_rx_release(c, now_ns);
}

/* A member that sends datagrams longer than this one accepts is cut off
 * from it as by a lost link: say why, at most once a CO_TRUNCATED_WARN_NS. */
static void co_warn_truncated(cohort_t *c, uint64_t now_ns)
{
    uint64_t count;
    size_t largest;
    co_transport_truncated(c->tp, &count, &largest);
    if (count == c->truncated_told ||
        (c->truncated_warn_ns != 0 &&
         now_ns - c->truncated_warn_ns < CO_TRUNCATED_WARN_NS))
        return;
    char text[160];
    snprintf(text, sizeof text,
             "%llu datagrams of up to %zu bytes dropped: longer than this "
             "member's max_datagram of %zu; give every member the same",
             (unsigned long long)(count - c->truncated_told), largest,
             c->max_datagram);
    co_core_warn(c->core, COHORT_ERR_TOOBIG, text);
    c->truncated_told = count;
    c->truncated_warn_ns = now_ns;
}

/* Read what is waiting, a bounded number of batches: the descriptor stays
 * readable if more is left, so the caller comes back for it. */
static int co_drain_sockets(cohort_t *c)
{
    for (unsigned round = 0; round < CO_RX_ROUNDS_MAX; round++) {
        const co_rx_dgram_t *dg = NULL;
        int n = co_transport_recv(c->tp, &dg);
        if (n < 0)
            return co_fail(n, "receive: %s", strerror(errno));
        uint64_t now = co_now_ns();
        for (int i = 0; i < n; i++)
            co_rx_one(c, now, &dg[i]);
        co_warn_truncated(c, now);
        /* Replies (NACKs, retransmissions) leave the core's bounded send
         * queue before the next batch, so it never overflows; they are
         * due at once and go (DATA its window let out may wait for the
         * end of co_process()). */
        int rc = co_pump_tx(c, now, CO_TX_HOLD);
        if (rc != 0)
            return rc;
        if (!co_transport_more(c->tp))
            break;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* a new life                                                          */
/* ------------------------------------------------------------------ */

/* The application took COHORT_ERR_EXCLUDED (the others went on without
 * this member while it was alive): the first call after that, before
 * anything else, ends this life and begins the next on the same sockets,
 * under a newer incarnation, as a restart would but keeping the
 * configuration, keys, statistics and what the application still waits
 * for (co_core_successor). What the old life had queued after the
 * warning is dropped with it. Out of memory, the old life goes on (the
 * merge takes it back) and a warning says so. */
static void co_settle(cohort_t *c)
{
    if (!c->rejoin_due)
        return;
    c->rejoin_due = false;
    uint64_t rt = co_realtime_ns();
    uint32_t old_inc = co_core_self(c->core).incarnation;
    uint32_t inc = co_incarnation_choose(rt);
    if (!co_incarnation_newer(inc, old_inc))
        inc = old_inc + 1 != 0 ? old_inc + 1 : 1; /* the clock went back */
    uint64_t seq = 0;
    if (co_random_bytes(&seq, sizeof seq) != 0)
        seq = 0; /* the core's generator draws it */
    else
        seq = 1 + seq % CO_PACKET_SEQ_START_MAX;
    /* As at the open: this life's tick is over before anything is sent
     * under it, so the next one, in any process, draws a newer one. */
    co_hold_incarnation(co_incarnation_hold_until_ns(rt));
    uint64_t now = co_now_ns();
    co_core_t *next;
    int rc = co_core_successor(c->core, &next, inc, seq, now);
    if (rc != 0) {
        co_core_warn(c->core, rc, "excluded, but no new life could begin "
                                  "(out of memory): this one waits to be "
                                  "merged back");
        return;
    }
    bool locked = c->secret_locked;
    co_lock_secret(c, false);
    co_core_free(c->core);
    c->core = next;
    if (locked)
        co_lock_secret(c, true);
    co_core_tick(c->core, now); /* announce at once */
    (void)co_pump_tx(c, now, CO_TX_SEND);
}

/* ------------------------------------------------------------------ */
/* events                                                              */
/* ------------------------------------------------------------------ */

COHORT_API int cohort_next_event(cohort_t *c, cohort_event_t *ev)
{
    if (c == NULL || ev == NULL)
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    bool got = co_core_next_event(c->core, now, ev);
    if (got && ev->type == COHORT_EVENT_WARNING &&
        ev->u.warning.code == COHORT_ERR_EXCLUDED)
        c->rejoin_due = true;
    /* Taking an event can let held messages move on, which queues acks:
     * send them now rather than at the next timer. co_core_next_tx()
     * keeps ev's data valid; a failure is counted in stats.send_errors
     * and shows again in the next cohort_process(). */
    if (co_core_tx_ready(c->core) > 0)
        (void)co_pump_tx(c, now, CO_TX_HOLD);
    return got ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */
/* ------------------------------------------------------------------ */

COHORT_API int cohort_fd(const cohort_t *c)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    return co_transport_fd(c->tp);
}

static uint64_t co_next_deadline(const cohort_t *c)
{
    uint64_t t = co_core_deadline(c->core);
    if (co_transport_queued(c->tp) > 0 && c->hold_until_ns < t)
        t = c->hold_until_ns; /* the send batch holds datagrams */
    for (int d = CO_FAULT_TX; d <= CO_FAULT_RX; d++) {
        if (c->fault_on[d]) {
            uint64_t f = co_fault_deadline(&c->lane[d]);
            t = f < t ? f : t;
        }
    }
    return t;
}

/* How long until something is due: -1 none, 0 now, else nanoseconds. */
static int64_t co_timeout_ns(const cohort_t *c)
{
    if (c->tx_backlog || co_core_tx_ready(c->core) > 0)
        return 0;
    uint64_t deadline = co_next_deadline(c);
    if (deadline == UINT64_MAX)
        return -1;
    uint64_t now = co_now_ns();
    if (deadline <= now)
        return 0;
    uint64_t left = deadline - now;
    return left > INT64_MAX ? INT64_MAX : (int64_t)left;
}

COHORT_API int64_t cohort_timeout_ns(const cohort_t *c)
{
    return c == NULL ? -1 : co_timeout_ns(c);
}

COHORT_API int cohort_timeout_ms(const cohort_t *c)
{
    if (c == NULL)
        return -1;
    int64_t ns = co_timeout_ns(c);
    /* Rounded up: waking a little early would find nothing due and spin. */
    return ns <= 0 ? (int)ns : co_ms_of_ns((uint64_t)ns);
}

/* A snapshot for a stats socket client (co_statsock_fill_fn). */
static int co_fill_snapshot(void *ctx, char *buf, size_t len)
{
    const cohort_t *c = ctx;
    struct cohort_stats st;
    co_statsock_meta_t m;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (cohort_stats(c, &st) != 0)
        return -1;
    memset(&m, 0, sizeof m);
    m.version = cohort_version();
    m.group = c->group;
    m.name = c->name;
    m.self = co_core_self(c->core);
    m.view_members = co_core_view(c->core, &m.view_id, NULL, 0);
    m.now_ns = co_now_ns();
    return co_statsock_encode(&st, &m, buf, len);
}

/* Serve stats socket clients: when epoll saw one, or (look: the caller
 * polled by itself, so readiness is unknown) at most once a millisecond. */
static void co_serve_stats(cohort_t *c, uint64_t now_ns, bool look)
{
    if (c->stats == NULL)
        return;
    bool ready = co_transport_take_extra(c->tp);
    if (!ready && !(look && now_ns >= c->stats_look_ns))
        return;
    c->stats_look_ns = now_ns + CO_STATSOCK_LOOK_NS;
    (void)co_statsock_serve(c->stats, co_fill_snapshot, c);
}

/* One turn of the loop. look: find out which sockets are readable if no
 * wait has said so yet (cohort_process); cohort_wait passes false because
 * its blocking wait tells it, and returns at once if data is waiting. */
static int co_process(cohort_t *c, bool look)
{
    co_settle(c);
    uint64_t now = co_now_ns();
    /* The caller yielding to its event loop is the signal that what is
     * bundled will not grow any more this turn: the bundle and what the
     * send batch held go now. */
    co_core_flush(c->core, now);
    int rc = co_pump_tx(c, now, CO_TX_SEND);
    if (rc == 0 && (look || co_transport_more(c->tp)))
        rc = co_drain_sockets(c);
    if (rc != 0)
        return rc;
    now = co_now_ns();
    co_rx_release(c, now);
    co_core_tick(c->core, now);
    /* What the datagrams taken this turn made (the sequencer's ORDER
     * records above all: every member's TOTAL messages wait for them)
     * goes out now, not at the next turn or the bundle delay. */
    co_core_flush_bundle(c->core, now);
    rc = co_pump_tx(c, now, CO_TX_SEND);
    if (rc != 0)
        return rc;
    co_serve_stats(c, now, look);
    size_t ready = co_core_events_ready(c->core);
    return ready > INT32_MAX ? INT32_MAX : (int)ready;
}

COHORT_API int cohort_process(cohort_t *c)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    return co_process(c, true);
}

/* Sleep until a socket is readable, a timer is due, or deadline_ns passes;
 * the transport remembers which sockets woke it. */
static int co_block(cohort_t *c, uint64_t deadline_ns)
{
    int64_t ns = co_timeout_ns(c);
    if (deadline_ns != UINT64_MAX) {
        uint64_t now = co_now_ns();
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        if (left > INT64_MAX)
            left = INT64_MAX;
        ns = (ns < 0 || (int64_t)left < ns) ? (int64_t)left : ns;
    }
    int rc = co_transport_wait_ns(c->tp, ns);
    return rc < 0 ? rc : 0;
}

/* Busy-poll: ask the kernel, without sleeping, whether a socket is
 * readable, until one is, a timer is due, deadline_ns passes or the
 * configured spin is over. Returns 1 when something is to be done now,
 * 0 when the caller should sleep, or an error. */
static int co_spin(cohort_t *c, uint64_t deadline_ns)
{
    uint64_t now = co_now_ns();
    uint64_t end = now + c->busy_poll_ns;
    if (end > deadline_ns)
        end = deadline_ns;
    while (now < end) {
        int rc = co_transport_wait_ns(c->tp, 0);
        if (rc != 0)
            return rc < 0 ? rc : 1;
        if (co_timeout_ns(c) == 0)
            return 1;
        now = co_now_ns();
    }
    return 0;
}

COHORT_API int cohort_wait(cohort_t *c, cohort_event_t *ev, int timeout_ms)
{
    if (c == NULL || ev == NULL)
        return COHORT_ERR_INVAL;
    uint64_t deadline = co_deadline_after_ms(co_now_ns(), timeout_ms);
    /* Bounded by the deadline; timeout_ms -1 is the caller asking for no
     * bound. */
    for (;;) {
        if (cohort_next_event(c, ev) == 1)
            return 1;
        int rc = co_process(c, false);
        if (rc < 0)
            return rc;
        if (rc > 0)
            continue;
        if (co_now_ns() >= deadline)
            return 0;
        rc = c->busy_poll_ns ? co_spin(c, deadline) : 0;
        if (rc < 0)
            return rc;
        if (rc == 0 && (rc = co_block(c, deadline)) != 0)
            return rc;
    }
}

COHORT_API int cohort_drain(cohort_t *c, int timeout_ms)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    uint64_t deadline = co_deadline_after_ms(co_now_ns(), timeout_ms);
    for (;;) {
        int rc = cohort_process(c);
        if (rc < 0)
            return rc;
        if (co_core_drained(c->core))
            return 0;
        if (co_now_ns() >= deadline)
            return COHORT_ERR_TIMEDOUT;
        rc = co_block(c, deadline);
        if (rc != 0)
            return rc;
    }
}

/* ------------------------------------------------------------------ */
/* sending                                                             */
/* ------------------------------------------------------------------ */

COHORT_API int cohort_send(cohort_t *c, cohort_mode_t mode, const void *data,
                           size_t len)
{
    if (c == NULL || (data == NULL && len > 0))
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    int rc = co_core_send(c->core, now, mode, data, len);
    if (rc != 0)
        return rc;
    /* Accepted: from here the message is the core's, and a retry would
     * send it twice. A datagram the kernel refuses now is counted in
     * stats.send_errors; FIFO records are repaired by retransmission,
     * unreliable ones are lost (as UNRELIABLE allows). A broken socket
     * shows in the next cohort_process(). */
    (void)co_pump_tx(c, now, CO_TX_HOLD);
    return 0;
}

/* The blocking forms: try, and while the answer is AGAIN, wait for the
 * sockets or a timer and process, until deadline_ms passes. */
typedef struct co_attempt {
    int (*fn)(cohort_t *c, const struct co_attempt *a);
    cohort_mode_t mode;
    uint32_t transfer;
    const void *data;
    size_t len;
} co_attempt_t;

static int co_retry_until(cohort_t *c, const co_attempt_t *a, int timeout_ms)
{
    uint64_t deadline = co_deadline_after_ms(co_now_ns(), timeout_ms);
    for (;;) {
        int rc = a->fn(c, a);
        if (rc != COHORT_ERR_AGAIN)
            return rc;
        if (co_now_ns() >= deadline)
            return COHORT_ERR_TIMEDOUT;
        rc = co_block(c, deadline);
        if (rc == 0)
            rc = cohort_process(c);
        if (rc < 0)
            return rc;
    }
}

static int co_try_send(cohort_t *c, const co_attempt_t *a)
{
    return cohort_send(c, a->mode, a->data, a->len);
}

COHORT_API int cohort_send_wait(cohort_t *c, cohort_mode_t mode,
                                const void *data, size_t len, int timeout_ms)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    co_attempt_t a = {.fn = co_try_send, .mode = mode, .data = data,
                      .len = len};
    return co_retry_until(c, &a, timeout_ms);
}

COHORT_API int cohort_state_request(cohort_t *c)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    int rc = co_core_state_request(c->core, now);
    (void)co_pump_tx(c, now, CO_TX_HOLD);
    return rc;
}

COHORT_API int cohort_state_send(cohort_t *c, uint32_t transfer,
                                 const void *data, size_t len)
{
    if (c == NULL || (data == NULL && len > 0))
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    int rc = co_core_state_send(c->core, now, transfer, data, len);
    if (rc == 0)
        (void)co_pump_tx(c, now, CO_TX_HOLD);
    return rc;
}

static int co_try_state_send(cohort_t *c, const co_attempt_t *a)
{
    return cohort_state_send(c, a->transfer, a->data, a->len);
}

COHORT_API int cohort_state_send_wait(cohort_t *c, uint32_t transfer,
                                      const void *data, size_t len,
                                      int timeout_ms)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    co_attempt_t a = {.fn = co_try_state_send, .transfer = transfer,
                      .data = data, .len = len};
    return co_retry_until(c, &a, timeout_ms);
}

COHORT_API int cohort_state_end(cohort_t *c, uint32_t transfer)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    int rc = co_core_state_end(c->core, now, transfer);
    if (rc == 0)
        (void)co_pump_tx(c, now, CO_TX_HOLD);
    return rc;
}

/* ------------------------------------------------------------------ */
/* request-reply                                                       */
/* ------------------------------------------------------------------ */

static int co_request_now(cohort_t *c, uint32_t to, cohort_mode_t mode,
                          cohort_want_t want, const void *data, size_t len,
                          int timeout_ms, co_rpc_sink_t *sink)
{
    if (c == NULL || (data == NULL && len > 0) || timeout_ms < -1)
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    uint64_t timeout_ns = timeout_ms < 0 ? UINT64_MAX
                                         : (uint64_t)timeout_ms * CO_MS_NS;
    int rc = co_core_request(c->core, now, to, mode, want, data, len,
                             timeout_ns, sink);
    if (rc > 0)
        (void)co_pump_tx(c, now, CO_TX_HOLD);
    return rc;
}

COHORT_API int cohort_request(cohort_t *c, uint32_t to, cohort_mode_t mode,
                              cohort_want_t want, const void *data,
                              size_t len, int timeout_ms)
{
    return co_request_now(c, to, mode, want, data, len, timeout_ms, NULL);
}

COHORT_API int cohort_reply(cohort_t *c, cohort_member_t requester,
                            uint32_t request, const void *data, size_t len)
{
    if (c == NULL || (data == NULL && len > 0))
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    int rc = co_core_reply(c->core, now, requester, request, data, len);
    if (rc == 0)
        (void)co_pump_tx(c, now, CO_TX_HOLD);
    return rc;
}

COHORT_API int cohort_request_wait(cohort_t *c, uint32_t to,
                                   cohort_mode_t mode, cohort_want_t want,
                                   const void *data, size_t len,
                                   int timeout_ms, struct cohort_replies *out)
{
    if (out == NULL || (out->max > 0 && out->replies == NULL) ||
        (out->buf_len > 0 && out->buf == NULL))
        return COHORT_ERR_INVAL;
    co_rpc_sink_t sink = {.replies = out->replies, .max = out->max,
                          .buf = out->buf, .buf_len = out->buf_len,
                          .result = -1};
    out->count = out->received = 0;
    out->request = 0;
    int rc = co_request_now(c, to, mode, want, data, len, timeout_ms, &sink);
    if (rc < 0)
        return rc;
    out->request = (uint32_t)rc;
    /* The request's own timeout ends it (or its members leaving); the
     * loop is bounded by that, plus a margin for the last tick. */
    uint64_t deadline = timeout_ms < 0
                            ? UINT64_MAX
                            : co_deadline_after_ms(co_now_ns(), timeout_ms) +
                                  CO_S_NS;
    while (sink.result < 0) {
        rc = co_block(c, deadline);
        if (rc == 0)
            rc = co_process(c, true);
        if (rc < 0 || (sink.result < 0 && co_now_ns() >= deadline)) {
            co_core_unsink(c->core, out->request); /* events from now on */
            out->count = sink.count;
            out->received = sink.received;
            return rc < 0 ? rc : COHORT_ERR_TIMEDOUT;
        }
    }
    out->count = sink.count;
    out->received = sink.received;
    return sink.result;
}

COHORT_API int cohort_add_key(cohort_t *c, const uint8_t key[COHORT_KEY_BYTES],
                              uint8_t key_id, int use_for_send)
{
    if (c == NULL || key == NULL)
        return COHORT_ERR_INVAL;
    return co_core_add_key(c->core, key, key_id, use_for_send != 0);
}

COHORT_API int cohort_flush(cohort_t *c)
{
    if (c == NULL)
        return COHORT_ERR_INVAL;
    co_settle(c);
    uint64_t now = co_now_ns();
    co_core_flush(c->core, now);
    return co_pump_tx(c, now, CO_TX_SEND);
}

/* Let the core's repeats of LEAVE out before the sockets close. The core
 * bounds them (a few copies a few ms apart); CO_CLOSE_LINGER_NS bounds
 * this wait whatever the core reports. */
#define CO_CLOSE_LINGER_NS (50 * CO_MS_NS)
static void co_close_linger(cohort_t *c, uint64_t now_ns)
{
    uint64_t end = now_ns + CO_CLOSE_LINGER_NS;
    while (co_core_leaving(c->core) && now_ns < end) {
        uint64_t at = co_core_deadline(c->core);
        if (at > end)
            at = end;
        if (at > now_ns) {
            struct timespec ts = {.tv_sec = (time_t)((at - now_ns) / CO_S_NS),
                                  .tv_nsec = (long)((at - now_ns) % CO_S_NS)};
            (void)nanosleep(&ts, NULL); /* EINTR: the loop re-checks */
        }
        now_ns = co_now_ns();
        co_core_tick(c->core, now_ns);
        (void)co_pump_tx(c, now_ns, CO_TX_FORCE);
    }
}

/* A view change this member proposed and committed is seen through
 * before it says LEAVE: members that missed every copy of the COMMIT
 * would give their answer up and go on from the old view without those
 * that installed, and exclude them (cohort-perf --netns-loss 40
 * --receivers 6: receivers closing one by one after the end marker, the
 * coordinator among them). So the member goes on as usual, the events it
 * makes dropped (the application is done with them), until every member
 * of the change said INSTALLED, or the COMMIT's resend time is over (two
 * flush timeouts from the proposal; CO_CLOSE_COMMIT_MAX_NS bounds it
 * whatever the core says). Nothing to do in nearly every close. */
#define CO_CLOSE_COMMIT_MAX_NS (10 * CO_S_NS)
static void co_close_commit(cohort_t *c)
{
    uint64_t until, now = co_now_ns();
    if (!co_core_committing(c->core, &until))
        return;
    if (until > now + CO_CLOSE_COMMIT_MAX_NS)
        until = now + CO_CLOSE_COMMIT_MAX_NS;
    cohort_event_t ev;
    while (co_core_committing(c->core, NULL) && co_now_ns() < until) {
        if (co_block(c, until) != 0 || co_process(c, true) < 0)
            return;
        while (cohort_next_event(c, &ev) == 1)
            ;
    }
}

COHORT_API void cohort_close(cohort_t *c)
{
    if (c == NULL)
        return;
    co_close_commit(c);
    uint64_t now = co_now_ns();
    co_core_leave(c->core, now);
    /* Held-back datagrams go too: reordering must not turn into loss. */
    (void)co_pump_tx(c, now, CO_TX_FORCE);
    co_close_linger(c, now);
    co_free_handle(c);
}

/* ------------------------------------------------------------------ */
/* introspection                                                       */
/* ------------------------------------------------------------------ */

COHORT_API cohort_member_t cohort_self(const cohort_t *c)
{
    if (c == NULL) {
        cohort_member_t none = {0, 0};
        return none;
    }
    return co_core_self(c->core);
}

COHORT_API size_t cohort_max_payload(const cohort_t *c, cohort_mode_t mode)
{
    if (c == NULL)
        return 0;
    switch (mode) {
    case COHORT_FIFO:
    case COHORT_TOTAL:
    case COHORT_SAFE: return c->max_message;
    case COHORT_UNRELIABLE: {
        size_t room = co_core_max_unreliable(c->core);
        return room < c->max_message ? room : c->max_message;
    }
    default: return 0; /* no such mode */
    }
}

COHORT_API size_t cohort_view(const cohort_t *c, uint64_t *view_id,
                              cohort_member_t *out, size_t max)
{
    if (c == NULL)
        return 0;
    return co_core_view(c->core, view_id, out, out ? max : 0);
}

COHORT_API size_t cohort_members(const cohort_t *c, cohort_member_t *out,
                                 size_t max)
{
    if (c == NULL)
        return 0;
    /* The members of the view, once there is one: that is who messages
     * go to. Before the first view, this member alone. */
    size_t n = co_core_view(c->core, NULL, out, out != NULL ? max : 0);
    if (n > 0)
        return n;
    if (out != NULL && max > 0)
        out[0] = co_core_self(c->core);
    return 1;
}

static void co_count_drops(struct cohort_stats *s, int reason, uint64_t n)
{
    COHORT_ASSERT(reason >= 0 && reason < COHORT_DROP__COUNT);
    s->drops[reason] += n;
    s->drops_total += n;
}

/* The core counts what it sees; the socket-level counts are ours. */
static void co_add_io_stats(const cohort_t *c, struct cohort_stats *s)
{
    co_transport_add_stats(c->tp, s);
    s->stats_socket_served = co_statsock_served(c->stats);
    s->stats_socket_refused = co_statsock_refused(c->stats);
    for (int d = CO_FAULT_TX; d <= CO_FAULT_RX; d++) {
        if (c->fault_on[d])
            co_count_drops(s, COHORT_DROP_INJECTED, c->lane[d].dropped);
    }
}

COHORT_API int cohort_stats(const cohort_t *c, struct cohort_stats *out)
{
    if (c == NULL || out == NULL)
        return COHORT_ERR_INVAL;
    size_t want = out->struct_size == 0 ? sizeof *out : out->struct_size;
    if (want < sizeof(size_t) || want > CO_STATS_SIZE_MAX)
        return COHORT_ERR_INVAL;
    /* The gauges are computed now (co_core_stats_mut); before 2026-12-08
     * this read co_core_stats(), whose gauges were never filled. */
    struct cohort_stats s = *co_core_stats_mut(c->core);
    co_add_io_stats(c, &s);
    size_t n = want < sizeof s ? want : sizeof s;
    s.struct_size = n;
    memcpy(out, &s, n);
    return 0;
}
