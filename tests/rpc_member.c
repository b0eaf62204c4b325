/*
 * rpc_member.c - one member of the request-reply test between real
 * processes (tests/request-reply.sh). Only the public header is used.
 *
 *   rpc_member --id N --members K [--port P] [--requests R]
 *              [--key FILE] [--timeout-ms T] [--interval-ms I]
 *
 * Every member serves: each REQUEST is answered with its own id and the
 * request's bytes, and it remembers each (requester, request id) it
 * executed, so an execution twice is seen (dup). The member with
 * --requests R > 0 is the client: once its view holds K members it sends
 * R requests, up to 8 in flight, cycling through the group in FIFO,
 * TOTAL and SAFE with want ALL, MAJORITY and FIRST, one member of the
 * current view, and every fourth one through cohort_request_wait(), one
 * every I ms (default 5).
 * Each REQUEST_DONE is checked: COMPLETE must come with exactly the
 * replies wanted (REPLY events counted), every reply must echo the
 * request; MEMBERS_LEFT is counted (expected only around a kill). Then a
 * group request "stop" (want NONE) ends the servers. One line each:
 *   CLIENT sent=R complete=C left=L timedout=T closed=X bad=B mismatch=M
 *          dup=D shrunk_at=S (requests sent when its view first lost a
 *          member; -1: never)
 *   SERVER id=N served=S dup=D
 * Exit: 0 when the member ran to its end, 1 on an API error, 2 on a
 * timeout (each loop is bounded by --timeout-ms, default 60000).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cohort.h"

#define MAX_REQ 4096
#define MAX_MEMBERS 16
#define IN_FLIGHT 8

typedef struct ask {
    uint32_t seq;          /* our number, echoed in the payload */
    uint32_t rid;
    int replies;
    bool bad;
} ask_t;

typedef struct member {
    cohort_t *c;
    uint32_t id;
    uint64_t deadline_ns;
    /* server */
    uint32_t served, dup;
    uint8_t *seen;         /* [requester id][rid], small ids only */
    bool stop;
    /* client */
    ask_t asks[MAX_REQ];
    uint32_t n_asks, in_flight;
    uint32_t complete, left, timedout, closed, bad, mismatch;
    uint32_t members;      /* the view it waited for */
    uint32_t shrunk_at;    /* requests sent when the view first shrank */
    bool full;             /* a view held all members */
} member_t;

#define SEEN_IDS 64
#define SEEN_RIDS (MAX_REQ + 16)

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "rpc_member: %s: %s\n", what, cohort_strerror(rc));
    exit(1);
}

static void timed_out(const member_t *m, const char *what)
{
    if (now_ns() > m->deadline_ns) {
        fprintf(stderr, "rpc_member %u: timed out %s\n", m->id, what);
        exit(2);
    }
}

static void serve(member_t *m, const cohort_event_t *ev)
{
    uint32_t from = ev->u.request.peer.id, rid = ev->u.request.request;
    if (from < SEEN_IDS && rid < SEEN_RIDS) {
        uint8_t *s = &m->seen[from * SEEN_RIDS + rid];
        if (*s)
            m->dup++;
        *s = 1;
    }
    m->served++;
    if (ev->u.request.len == 4 && memcmp(ev->u.request.data, "stop", 4) == 0)
        m->stop = true;
    if (ev->u.request.flags & COHORT_REQUEST_NOREPLY)
        return;
    uint8_t out[512];
    size_t len = ev->u.request.len < sizeof out - 4 ? ev->u.request.len
                                                    : sizeof out - 4;
    memcpy(out, &m->id, 4);
    memcpy(out + 4, ev->u.request.data, len);
    int rc = cohort_reply(m->c, ev->u.request.peer, rid, out, len + 4);
    if (rc != 0 && rc != COHORT_ERR_STATE) /* STATE: the requester left */
        die("cohort_reply", rc);
}

static ask_t *ask_of(member_t *m, uint32_t rid)
{
    for (uint32_t i = 0; i < m->n_asks; i++)
        if (m->asks[i].rid == rid)
            return &m->asks[i];
    return NULL;
}

static bool echo_ok(const ask_t *a, uint32_t from, const void *data,
                    size_t len)
{
    uint8_t want[12];
    memcpy(want, &from, 4);
    memcpy(want + 4, &a->seq, 4);
    memcpy(want + 8, "pay!", 4);
    return len == sizeof want && memcmp(data, want, len) == 0;
}

static void done(member_t *m, ask_t *a, int result, uint32_t replies,
                 uint32_t wanted)
{
    switch (result) {
    case COHORT_REQUEST_COMPLETE:
        m->complete++;
        if ((uint32_t)a->replies != wanted || replies != wanted)
            m->mismatch++;
        break;
    case COHORT_REQUEST_MEMBERS_LEFT: m->left++; break;
    case COHORT_REQUEST_TIMEDOUT: m->timedout++; break;
    default: m->closed++; break;
    }
    if (a->bad)
        m->bad++;
    m->in_flight--;
}

static void handle(member_t *m, const cohort_event_t *ev)
{
    ask_t *a;
    switch (ev->type) {
    case COHORT_EVENT_REQUEST:
        serve(m, ev);
        break;
    case COHORT_EVENT_REPLY:
        if (!(a = ask_of(m, ev->u.request.request)))
            break;
        if (ev->u.request.flags & COHORT_REQUEST_UNANSWERED)
            break;
        a->replies++;
        if (!echo_ok(a, ev->u.request.peer.id, ev->u.request.data,
                     ev->u.request.len))
            a->bad = true;
        break;
    case COHORT_EVENT_REQUEST_DONE:
        if ((a = ask_of(m, ev->u.request.request)))
            done(m, a, ev->u.request.result, ev->u.request.replies,
                 ev->u.request.wanted);
        break;
    default:
        break;
    }
}

static void pump(member_t *m, int ms)
{
    cohort_event_t ev;
    int rc = cohort_wait(m->c, &ev, ms);
    if (rc < 0)
        die("cohort_wait", rc);
    while (rc == 1) {
        handle(m, &ev);
        if (ev.type == COHORT_EVENT_VIEW && ev.u.view.count >= m->members)
            m->full = true;
        else if (ev.type == COHORT_EVENT_VIEW && m->full &&
                 m->shrunk_at == UINT32_MAX)
            m->shrunk_at = m->n_asks; /* after the whole group was in */
        rc = cohort_next_event(m->c, &ev);
    }
}

static size_t view_now(const member_t *m, cohort_member_t *out)
{
    size_t n = cohort_view(m->c, NULL, out, MAX_MEMBERS);
    return n > MAX_MEMBERS ? MAX_MEMBERS : n;
}

/* Request number seq: its target, mode and want by seq. */
static void send_one(member_t *m, uint32_t seq)
{
    static const cohort_mode_t modes[] = {COHORT_FIFO, COHORT_TOTAL,
                                          COHORT_SAFE};
    static const cohort_want_t wants[] = {COHORT_WANT_ALL,
                                          COHORT_WANT_MAJORITY,
                                          COHORT_WANT_FIRST};
    cohort_member_t v[MAX_MEMBERS];
    size_t n = view_now(m, v);
    uint32_t to = COHORT_TO_GROUP;
    cohort_mode_t mode = modes[seq % 3];
    cohort_want_t want = wants[(seq / 3) % 3];
    if (seq % 5 == 4 && n > 1) { /* one member, not itself */
        to = v[1 + seq % (n - 1)].id;
        if (to == m->id)
            to = v[0].id;
        mode = COHORT_FIFO;
    }
    uint8_t pay[8];
    memcpy(pay, &seq, 4);
    memcpy(pay + 4, "pay!", 4);
    ask_t *a = &m->asks[m->n_asks];
    *a = (ask_t){.seq = seq};
    if (seq % 4 == 3) { /* the blocking form */
        cohort_reply_t r[MAX_MEMBERS];
        uint8_t buf[MAX_MEMBERS * 16];
        struct cohort_replies out = {.replies = r, .max = MAX_MEMBERS,
                                     .buf = buf, .buf_len = sizeof buf};
        int rc;
        while ((rc = cohort_request_wait(m->c, to, mode, want, pay, 8, 10000,
                                         &out)) == COHORT_ERR_AGAIN) {
            timed_out(m, "sending");
            pump(m, 1);
        }
        if (rc == COHORT_ERR_INVAL && to != COHORT_TO_GROUP)
            return; /* the target just left the view */
        if (rc < 0)
            die("cohort_request_wait", rc);
        a->rid = out.request;
        m->n_asks++;
        m->in_flight++;
        for (size_t i = 0; i < out.count; i++)
            if (!(r[i].flags & COHORT_REQUEST_UNANSWERED)) {
                a->replies++;
                if (!echo_ok(a, r[i].member.id, r[i].data, r[i].len))
                    a->bad = true;
            }
        uint32_t wanted = (uint32_t)a->replies;
        if (rc == COHORT_REQUEST_COMPLETE) {
            size_t k = to ? 1 : n - 1; /* not itself: it blocks */
            wanted = want == COHORT_WANT_FIRST ? 1
                     : want == COHORT_WANT_MAJORITY ? (uint32_t)(k / 2 + 1)
                                                    : (uint32_t)k;
        }
        done(m, a, rc, (uint32_t)out.received, wanted);
        return;
    }
    int rc;
    while ((rc = cohort_request(m->c, to, mode, want, pay, 8, 10000)) ==
           COHORT_ERR_AGAIN) {
        timed_out(m, "sending");
        pump(m, 1);
    }
    if (rc == COHORT_ERR_INVAL && to != COHORT_TO_GROUP)
        return;
    if (rc < 0)
        die("cohort_request", rc);
    a->rid = (uint32_t)rc;
    m->n_asks++;
    m->in_flight++;
}

int main(int argc, char **argv)
{
    uint32_t id = 0, members = 3, requests = 0;
    unsigned port = 47330;
    const char *key = NULL;
    long timeout_ms = 60000, interval_ms = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--id"))
            id = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--members"))
            members = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--port"))
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--requests"))
            requests = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout-ms"))
            timeout_ms = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--interval-ms"))
            interval_ms = strtol(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "rpc_member: unknown option %s\n", argv[i]);
            return 64;
        }
    }
    if (id == 0 || id >= SEEN_IDS || requests > MAX_REQ - 2 ||
        members < 1 || members > MAX_MEMBERS) {
        fprintf(stderr, "usage: rpc_member --id N (1..63) --members K "
                        "[--port P] [--requests R] [--key FILE]\n");
        return 64;
    }
    static member_t m;
    m.id = id;
    m.members = members;
    m.shrunk_at = UINT32_MAX;
    m.deadline_ns = now_ns() + (uint64_t)timeout_ms * 1000000u;
    m.seen = calloc(SEEN_IDS * SEEN_RIDS, 1);
    if (!m.seen)
        return 1;
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    cfg.group = "rpc-test";
    cfg.port = (uint16_t)port;
    cfg.member_id = id;
    cfg.heartbeat_interval_ns = 50000000u;
    cfg.member_timeout_ns = 1000000000u;
    if (key) {
        cfg.security = COHORT_SECURITY_ENCRYPT;
        cfg.key_file = key;
    }
    int rc = cohort_open(&m.c, &cfg);
    if (rc != 0) {
        fprintf(stderr, "rpc_member: open: %s (%s)\n", cohort_strerror(rc),
                cohort_last_error_text());
        return 1;
    }
    cohort_member_t v[MAX_MEMBERS];
    while (view_now(&m, v) < members) {
        timed_out(&m, "waiting for the view");
        pump(&m, 20);
    }
    if (requests > 0) {
        printf("STARTED\n");
        fflush(stdout);
        for (uint32_t seq = 0; seq < requests; seq++) {
            while (m.in_flight >= IN_FLIGHT) {
                timed_out(&m, "waiting for replies");
                pump(&m, 5);
            }
            send_one(&m, seq);
            /* Paced, so that a run spans the kill and the view change. */
            uint64_t next = now_ns() + (uint64_t)interval_ms * 1000000u;
            do
                pump(&m, interval_ms > 0 ? 1 : 0);
            while (now_ns() < next);
        }
        while (m.in_flight > 0) {
            timed_out(&m, "waiting for the last replies");
            pump(&m, 5);
        }
        rc = cohort_request(m.c, COHORT_TO_GROUP, COHORT_FIFO,
                            COHORT_WANT_NONE, "stop", 4, -1);
        if (rc < 0)
            die("stop", rc);
        (void)cohort_drain(m.c, 3000);
        printf("CLIENT sent=%u complete=%u left=%u timedout=%u closed=%u "
               "bad=%u mismatch=%u dup=%u shrunk_at=%ld\n",
               m.n_asks, m.complete, m.left, m.timedout, m.closed, m.bad,
               m.mismatch, m.dup,
               m.shrunk_at == UINT32_MAX ? -1L : (long)m.shrunk_at);
    } else {
        while (!m.stop) {
            timed_out(&m, "serving");
            pump(&m, 20);
        }
        /* Replies still out wait for their acknowledgement. */
        uint64_t end = now_ns() + 500000000u;
        while (now_ns() < end)
            pump(&m, 20);
        printf("SERVER id=%u served=%u dup=%u\n", m.id, m.served, m.dup);
    }
    fflush(stdout);
    struct cohort_stats st = {.struct_size = sizeof st};
    if (cohort_stats(m.c, &st) == 0)
        fprintf(stderr, "rpc_member %u: requests_sent=%" PRIu64
                " served=%" PRIu64 " duplicates=%" PRIu64
                " history_evictions=%" PRIu64 "\n",
                m.id, st.requests_sent, st.requests_served,
                st.requests_duplicate, st.rpc_history_evictions);
    cohort_close(m.c);
    free(m.seen);
    return 0;
}
