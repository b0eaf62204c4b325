/*
 * fuzz_core.c - feed arbitrary datagrams into a core that has live state.
 *
 * The core under test (member 100) is first brought to a realistic state:
 * two peers (101, 102) announced by heartbeats, some FIFO data from each
 * held out of order, and FIFO messages of its own in the retransmit buffer,
 * so NACKs, ACKs and data from the input reach real windows. Then the input
 * is cut into datagrams:
 *
 *   byte 0        mode: bit 0 selects COHORT_SECURITY_AUTH (key of 0x11s);
 *                 with it, bit 1 makes the peers seal with AES-256-GCM
 *                 (where the CPU has it; the target opens both); bit 2
 *                 gives every core parity blocks of 4 records (and no
 *                 bundling), and the target and its peers share a view
 *                 first, so NACKs in the input reach the target's parity
 *                 sender and captured PARITY datagrams its receiver
 *   then repeated len(2, big-endian) datagram(len) from(1: peer 1 or 2)
 *
 * Each datagram is fed at an advancing time, timers run, every output is
 * drained; invariants are checked throughout. The same entry serves
 * libFuzzer (LLVMFuzzerTestOneInput), AFL++ and the corpus replay that
 * make check runs (replay_main.c).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "core.h"
#include "fuzz_core.h"
#include "wire.h"

#ifdef HAVE_LIBSODIUM
#include <sodium.h>
#endif

#define FUZZ_MAX_DATAGRAMS 256

static void fuzz_config(co_core_config_t *cfg, uint32_t id, int mode)
{
    int auth = mode & 1, aes = mode & 2;
    co_core_config_defaults(cfg);
    cfg->group_id = co_group_id("fuzz", 4);
    cfg->member_id = id;
    cfg->incarnation = 5;
    cfg->seed = id;
    cfg->send_window_bytes = 64 * 1024;
    cfg->recv_buffer_bytes = 256 * 1024;
    cfg->max_message = 128 * 1024;
    cfg->event_queue_len = 64;
    cfg->parity_block = mode & 4 ? 4 : 0;
    if (mode & 4) /* one record a datagram: blocks qualify for parity */
        cfg->bundle_delay_ns = 0;
    cfg->security = auth ? COHORT_SECURITY_AUTH : COHORT_SECURITY_NONE;
#ifdef HAVE_LIBSODIUM
    /* The core leaves sodium_init() to its caller (it reads randomness). */
    if (auth && sodium_init() < 0)
        abort();
#endif
    memset(cfg->key, 0x11, sizeof cfg->key);
    cfg->name[0] = 'f';
    /* Each input names its cipher, whatever the default. */
    cfg->cipher = COHORT_CIPHER_XCHACHA20POLY1305;
#ifdef HAVE_LIBSODIUM
    if (aes && auth && crypto_aead_aes256gcm_is_available())
        cfg->cipher = COHORT_CIPHER_AES256GCM;
#else
    /* No security without libsodium: the secured inputs run unsecured
     * (their datagrams are then dropped as another mode). */
    cfg->security = COHORT_SECURITY_NONE;
    (void)aes;
#endif
}

static co_addr_t fuzz_addr(uint8_t node)
{
    co_addr_t a = {.len = 1};
    a.bytes[0] = node;
    return a;
}

/* Drain every output of core; check the bounds that must always hold. */
static void drain(co_core_t *core, uint64_t now_ns, size_t bound)
{
    co_tx_t tx;
    cohort_event_t ev;
    for (int i = 0; i < 100000 && co_core_next_tx(core, &tx); i++)
        COHORT_ASSERT(tx.len >= CO_HEADER_BYTES && tx.len <= CO_MAX_DATAGRAM);
    for (int i = 0; i < 100000 && co_core_next_event(core, now_ns, &ev); i++)
        COHORT_ASSERT(ev.type != COHORT_EVENT_MESSAGE ||
                      ev.u.message.data != NULL || ev.u.message.len == 0);
    COHORT_ASSERT(co_core_memory_bytes(core) <= bound);
}

/* Pass every datagram `from` emits to `to`. */
static void relay(co_core_t *from, uint8_t from_node, co_core_t *to,
                  uint64_t now_ns)
{
    co_tx_t tx;
    co_addr_t a = fuzz_addr(from_node);
    while (co_core_next_tx(from, &tx))
        co_core_recv(to, now_ns, &a, tx.data, tx.len);
}

/* The three cores (target at address 0, peers at 1 and 2) talk until
 * they share a view: a sender answers NACKs only from members of its
 * view. Deterministic, so the parity capture and the fuzz entry reach the
 * same view and the captured datagrams are the target's next ones. */
static void settle(co_core_t *cores[3], uint64_t *now_ns)
{
    for (int t = 0; t < 400; t++) {
        *now_ns += 10000000;
        for (int i = 0; i < 3; i++) {
            co_tx_t tx;
            co_addr_t from = fuzz_addr((uint8_t)i);
            co_core_tick(cores[i], *now_ns);
            while (co_core_next_tx(cores[i], &tx))
                for (int j = 0; j < 3; j++)
                    if (j != i)
                        co_core_recv(cores[j], *now_ns, &from, tx.data,
                                     tx.len);
            cohort_event_t ev;
            while (co_core_next_event(cores[i], *now_ns, &ev))
                ;
        }
    }
}

/* Peers announce themselves and send some data; the target sends too, and
 * a few peer datagrams are held back so the target has gaps. */
static void warm_up(co_core_t *target, co_core_t *peers[2], uint64_t *now_ns)
{
    uint8_t msg[3000];
    memset(msg, 0xab, sizeof msg);
    for (int round = 0; round < 6; round++) {
        *now_ns += 1000000;
        for (int p = 0; p < 2; p++) {
            co_core_tick(peers[p], *now_ns);
            if (co_core_send(peers[p], *now_ns, COHORT_FIFO, msg,
                             (size_t)(100 + round * 500)) != 0)
                continue;
            co_core_flush(peers[p], *now_ns);
            if (round == 2) { /* lost: leaves a gap at the target */
                co_tx_t tx;
                while (co_core_next_tx(peers[p], &tx))
                    ;
            }
            relay(peers[p], (uint8_t)(p + 1), target, *now_ns);
        }
        (void)co_core_send(target, *now_ns, COHORT_FIFO, msg, 700);
        co_core_tick(target, *now_ns);
        co_tx_t tx;
        while (co_core_next_tx(target, &tx))
            ;
    }
}

int cohort_fuzz_one(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] & 7;
    co_core_config_t cfg;
    co_core_t *target = NULL, *peers[2] = {NULL, NULL};
    uint64_t now_ns = 1000000000ULL;
    fuzz_config(&cfg, 100, mode & ~2);
    COHORT_ASSERT(co_core_new(&target, &cfg, now_ns) == 0);
    for (int p = 0; p < 2; p++) {
        fuzz_config(&cfg, (uint32_t)(101 + p), mode);
        COHORT_ASSERT(co_core_new(&peers[p], &cfg, now_ns) == 0);
    }
    if (mode & 4) {
        co_core_t *all[3] = {target, peers[0], peers[1]};
        settle(all, &now_ns);
    } else {
        warm_up(target, peers, &now_ns);
    }
    /* Send window + each peer's receive budget and one reassembly + the
     * event queue's byte budget + one pending message. */
    size_t bound = 64 * 1024 + 2 * (256 * 1024 + 128 * 1024) + 256 * 1024 +
                   128 * 1024;
    drain(target, now_ns, bound);

    size_t off = 1;
    for (int n = 0; n < FUZZ_MAX_DATAGRAMS && off + 3 <= size; n++) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off - 1)
            len = size - off - 1;
        co_addr_t from = fuzz_addr((uint8_t)(1 + (data[off + len] & 1)));
        now_ns += 100000 * (1 + (data[off + len] >> 1));
        co_core_recv(target, now_ns, &from, data + off, len);
        co_core_tick(target, now_ns);
        drain(target, now_ns, bound);
        off += len + 1;
    }
    /* Time passes: every timer path runs against the state left behind. */
    for (int i = 0; i < 50; i++) {
        now_ns += 100000000ULL;
        co_core_tick(target, now_ns);
        drain(target, now_ns, bound);
    }
    co_core_free(target);
    co_core_free(peers[0]);
    co_core_free(peers[1]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return cohort_fuzz_one(data, size);
}

/* Append one datagram from peer p (1 or 2) to the input being built,
 * emitting it first when full. */
static void capture_add(uint8_t *input, size_t *len, int mode,
                        const co_tx_t *tx, int p, int round, size_t *written,
                        void (*emit)(const uint8_t *, size_t, void *),
                        void *arg)
{
    if (*len + 3 + tx->len > 65536) {
        emit(input, *len, arg);
        (*written)++;
        *len = 1;
        input[0] = (uint8_t)mode;
    }
    input[(*len)++] = (uint8_t)(tx->len >> 8);
    input[(*len)++] = (uint8_t)tx->len;
    memcpy(input + *len, tx->data, tx->len);
    *len += tx->len;
    input[(*len)++] = (uint8_t)(p - 1 + 2 * (round & 7));
}

/* Emit what is left of the input, free it and the cores; returns the
 * inputs written in all. */
static size_t capture_finish(uint8_t *input, size_t len, size_t written,
                             co_core_t *cores[3],
                             void (*emit)(const uint8_t *, size_t, void *),
                             void *arg)
{
    if (len > 1) {
        emit(input, len, arg);
        written++;
    }
    free(input);
    for (int i = 0; i < 3; i++)
        co_core_free(cores[i]);
    return written;
}

/* Capture: run the warm-up with a third member and record what the target
 * receives, as corpus inputs in the format above (mode: byte 0 of each).
 * Returns the number of inputs written through emit(). */
size_t cohort_fuzz_capture(int mode, void (*emit)(const uint8_t *, size_t,
                                                  void *),
                           void *arg)
{
    co_core_config_t cfg;
    co_core_t *cores[3];
    uint64_t now_ns = 1000000000ULL;
    for (int i = 0; i < 3; i++) {
        fuzz_config(&cfg, (uint32_t)(100 + i), i > 0 ? mode : mode & ~2);
        COHORT_ASSERT(co_core_new(&cores[i], &cfg, now_ns) == 0);
    }
    uint8_t *input = malloc(65536);
    size_t written = 0, len = 1;
    input[0] = (uint8_t)mode;
    uint8_t msg[5000];
    memset(msg, 0x5a, sizeof msg);
    for (int round = 0; round < 40; round++) {
        now_ns += 3000000;
        for (int p = 1; p < 3; p++) {
            co_core_tick(cores[p], now_ns);
            (void)co_core_send(cores[p], now_ns,
                               round % 3 ? COHORT_FIFO : COHORT_UNRELIABLE,
                               msg, (size_t)(round * 97 % 1300));
            if (round % 5 == 0)
                (void)co_core_send(cores[p], now_ns, COHORT_FIFO, msg,
                                   sizeof msg);
            co_core_flush(cores[p], now_ns);
            co_tx_t tx;
            while (co_core_next_tx(cores[p], &tx)) {
                if (len + 3 + tx.len > 65536 || (round % 8 == 7 && len > 1)) {
                    emit(input, len, arg);
                    written++;
                    len = 1;
                }
                input[len++] = (uint8_t)(tx.len >> 8);
                input[len++] = (uint8_t)tx.len;
                memcpy(input + len, tx.data, tx.len);
                len += tx.len;
                input[len++] = (uint8_t)(p - 1 + 2 * (round & 7));
            }
        }
    }
    return capture_finish(input, len, written, cores, emit, arg);
}

size_t cohort_fuzz_capture_parity(void (*emit)(const uint8_t *, size_t,
                                                void *),
                                  void *arg)
{
    const int mode = 4;
    co_core_config_t cfg;
    co_core_t *cores[3];
    uint64_t now_ns = 1000000000ULL;
    for (int i = 0; i < 3; i++) {
        fuzz_config(&cfg, (uint32_t)(100 + i), mode);
        COHORT_ASSERT(co_core_new(&cores[i], &cfg, now_ns) == 0);
    }
    uint8_t *input = malloc(65536);
    size_t written = 0, len = 1;
    COHORT_ASSERT(input != NULL);
    input[0] = (uint8_t)mode;
    uint8_t msg[1200];
    memset(msg, 0x3c, sizeof msg);
    co_addr_t target_addr = fuzz_addr(0);
    settle(cores, &now_ns);
    for (int round = 0; round < 48; round++) {
        now_ns += 3000000;
        for (int p = 1; p < 3; p++) {
            co_core_tick(cores[p], now_ns);
            /* a few records a round: blocks of 4 fill and close */
            for (int k = 0; k < 3 && round < 32; k++)
                (void)co_core_send(cores[p], now_ns, COHORT_FIFO, msg,
                                   (size_t)(200 + (round * 7 + k * 131) %
                                                      900));
            co_core_flush(cores[p], now_ns);
            co_tx_t tx;
            int n = 0;
            co_addr_t from = fuzz_addr((uint8_t)p);
            while (co_core_next_tx(cores[p], &tx)) {
                /* the target loses some first sends (never repairs):
                 * those the NACKs below ask for, by parity */
                co_header_t h;
                int lose = co_header_decode(tx.data, tx.len, &h) == 0 &&
                           h.type == CO_TYPE_DATA && round < 32 &&
                           (round + p + n) % 5 == 0;
                n++;
                co_core_recv(cores[3 - p], now_ns, &from, tx.data, tx.len);
                if (lose)
                    continue;
                capture_add(input, &len, mode, &tx, p, round, &written,
                            emit, arg);
                co_core_recv(cores[0], now_ns, &from, tx.data, tx.len);
            }
        }
        co_core_tick(cores[0], now_ns);
        co_tx_t tx;
        while (co_core_next_tx(cores[0], &tx))
            for (int p = 1; p < 3; p++)
                co_core_recv(cores[p], now_ns, &target_addr, tx.data,
                             tx.len);
        for (int i = 0; i < 3; i++) {
            cohort_event_t ev;
            while (co_core_next_event(cores[i], now_ns, &ev))
                ;
        }
    }
    return capture_finish(input, len, written, cores, emit, arg);
}
