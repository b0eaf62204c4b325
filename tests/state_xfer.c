/*
 * state_xfer.c - a large state transfer between two real processes, for
 * tests/state-transfer.sh. Only the public header is used.
 *
 *   state_xfer --bytes N [--port P] [--traffic K] [--timeout-ms T]
 *
 * Forks: the parent provides, the child asks (config.state_transfer).
 * The state is N bytes of a pattern the requester checks byte for byte
 * at its offset. With --traffic K the provider also sends K TOTAL
 * messages while it streams the state (each carrying its number; those
 * the window refuses are skipped); the requester must deliver exactly
 * the ones ordered after its request, in order, after STATE_DONE and
 * never before it. Each process prints one line:
 *   PROVIDER bytes=N sent_total=K after_request=J maxrss_kb=R
 *   REQUESTER bytes=N secs=S mib_per_s=X ordered_after=J first=F
 *             early=E bad=B maxrss_kb=R
 * and the parent exits 0 only when both succeeded and agree.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cohort.h"

#define CHUNK 65536

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint8_t pattern(uint64_t off)
{
    uint64_t x = (off / 8) * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off % 8)));
}

static long maxrss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static cohort_t *open_member(uint16_t port, int want_state)
{
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    cfg.group = "state-xfer";
    cfg.port = port;
    cfg.state_transfer = want_state;
    cfg.name = want_state ? "requester" : "provider";
    cohort_t *c;
    int rc = cohort_open(&c, &cfg);
    if (rc != 0) {
        fprintf(stderr, "state_xfer: open: %s (%s)\n", cohort_strerror(rc),
                cohort_last_error_text());
        exit(2);
    }
    return c;
}

static int provider(uint16_t port, uint64_t bytes, long traffic,
                    uint64_t deadline)
{
    cohort_t *c = open_member(port, 0);
    static uint8_t buf[CHUNK];
    long sent_total = 0, after = 0;
    uint64_t off = 0;
    uint32_t transfer = 0;
    bool ended = false;
    cohort_event_t ev;
    while (now_ns() < deadline && !ended) {
        if (cohort_wait(c, &ev, 20) == 1 &&
            ev.type == COHORT_EVENT_STATE_REQUEST) {
            transfer = ev.u.state.transfer;
            off = 0;
            /* Stream the state; between pieces, some TOTAL traffic. */
            while (off < bytes && now_ns() < deadline) {
                size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
                for (size_t i = 0; i < n; i++)
                    buf[i] = pattern(off + i);
                int rc = cohort_state_send_wait(c, transfer, buf, n, 5000);
                if (rc != 0) {
                    fprintf(stderr, "state_xfer: provider: %s\n",
                            cohort_strerror(rc));
                    break;
                }
                off += n;
                if (sent_total < traffic) {
                    char msg[24];
                    snprintf(msg, sizeof msg, "%ld", sent_total);
                    if (cohort_send(c, COHORT_TOTAL, msg, strlen(msg) + 1) ==
                        0) {
                        sent_total++;
                        after++;
                    }
                }
            }
            ended = off == bytes && cohort_state_end(c, transfer) == 0;
        }
    }
    /* Let the last pieces and messages reach the requester. */
    for (uint64_t end = now_ns() + 3000000000ULL; now_ns() < end;)
        if (cohort_wait(c, &ev, 50) < 0)
            break;
    (void)cohort_drain(c, 2000);
    printf("PROVIDER bytes=%" PRIu64 " sent_total=%ld after_request=%ld "
           "maxrss_kb=%ld\n", off, sent_total, after, maxrss_kb());
    fflush(stdout);
    cohort_close(c);
    return ended ? 0 : 1;
}

static int requester(uint16_t port, uint64_t bytes, long traffic,
                     uint64_t deadline)
{
    cohort_t *c = open_member(port, 1);
    uint64_t got = 0, start = 0, finished = 0;
    long ordered_after = 0, early = 0, bad = 0, first = -1, expect = -1;
    bool done = false;
    cohort_event_t ev;
    uint64_t quiet_until = 0;
    while (now_ns() < deadline) {
        if (done && now_ns() > quiet_until)
            break;
        if (cohort_wait(c, &ev, 20) != 1)
            continue;
        switch (ev.type) {
        case COHORT_EVENT_STATE_CHUNK: {
            if (start == 0)
                start = now_ns();
            if (ev.u.state.offset == 0)
                got = 0;
            if (ev.u.state.offset != got) {
                bad++;
                break;
            }
            const uint8_t *d = ev.u.state.data;
            for (size_t i = 0; i < ev.u.state.len; i++)
                if (d[i] != pattern(got + i)) {
                    bad++;
                    break;
                }
            got += ev.u.state.len;
            break;
        }
        case COHORT_EVENT_STATE_DONE:
            done = ev.u.state.result == COHORT_STATE_RECEIVED &&
                   ev.u.state.offset == got;
            finished = now_ns();
            quiet_until = finished + (traffic ? 4000000000ULL : 0);
            if (!done)
                bad++;
            break;
        case COHORT_EVENT_MESSAGE: {
            if (ev.u.message.mode != COHORT_TOTAL)
                break;
            long k = strtol(ev.u.message.data, NULL, 10);
            if (!finished) {
                /* Ordered before the request (it delivered those) or a
                 * breach (after it): a breach shows as a gap below. */
                early++;
                expect = k + 1;
                break;
            }
            if (first < 0)
                first = k;
            if (expect >= 0 && k != expect)
                bad++; /* a message missing or twice across the point */
            expect = k + 1;
            ordered_after++;
            break;
        }
        default:
            break;
        }
    }
    double secs = finished > start ? (double)(finished - start) / 1e9 : 0;
    printf("REQUESTER bytes=%" PRIu64 " secs=%.3f mib_per_s=%.1f "
           "ordered_after=%ld first=%ld early=%ld bad=%ld maxrss_kb=%ld\n",
           got, secs, secs > 0 ? (double)got / secs / 1048576.0 : 0.0,
           ordered_after, first, early, bad, maxrss_kb());
    fflush(stdout);
    cohort_close(c);
    return done && bad == 0 && got == bytes ? 0 : 1;
}

int main(int argc, char **argv)
{
    uint64_t bytes = 64ull << 20;
    long traffic = 0, timeout_ms = 120000;
    uint16_t port = 47300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--bytes") == 0)
            bytes = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--port") == 0)
            port = (uint16_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--traffic") == 0)
            traffic = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            timeout_ms = atol(argv[i + 1]);
        else {
            fprintf(stderr, "usage: state_xfer --bytes N [--port P] "
                    "[--traffic K] [--timeout-ms T]\n");
            return 2;
        }
    }
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return 2;
    if (child == 0) {
        usleep(300000); /* the provider forms the group first */
        _exit(requester(port, bytes, traffic, deadline));
    }
    int prc = provider(port, bytes, traffic, deadline);
    int status;
    if (waitpid(child, &status, 0) != child)
        return 2;
    int rrc = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
    return prc == 0 && rrc == 0 ? 0 : 1;
}
