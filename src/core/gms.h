/*
 * gms.h - group membership: who is in the view, who coordinates, when a
 * view change starts, and the PREPARE / FLUSH_OK / COMMIT / INSTALLED
 * exchange that moves every member from its view to the next one
 * (docs/membership.md).
 *
 * A pure state machine, as the rest of the core: it is told what was heard
 * (co_gms_heard), what membership datagrams said (co_gms_on_*), and the
 * time (co_gms_tick); it answers with actions the caller performs
 * (co_gms_next_action). It never sees message data: the caller builds
 * FLUSH_OK vectors from its receive state, runs the flush delivery a
 * COMMIT asks for, and then calls co_gms_installed(). Nothing allocates
 * after co_gms_init(); every table is bounded by max_members.
 *
 * Roles. The coordinator of a view is its oldest member (view.h). A member
 * acts as coordinator when every member before it in its view is
 * suspected (or, with no view yet, once its discovery time is over). The
 * acting coordinator proposes a change when a member is suspected and the
 * suspicion is verified, a member leaves, or it hears a member whose view
 * is older than its own (a joiner, a member of a merging side, or a member
 * that missed a COMMIT). Between sides that hear each other the side with
 * the higher view id leads the merge; the others only answer.
 *
 * A member that answers a proposal stops sending (co_gms_blocked) until it
 * installs a view; it never goes back to the view it answered from, except
 * a proposer that gives up its own proposal before committing it (no one
 * can have installed it).
 */
#ifndef COHORT_GMS_H
#define COHORT_GMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flush.h"
#include "mem.h"
#include "view.h"

typedef struct co_gms_config {
    const co_mem_t *mem;         /* NULL: the C library's */
    uint32_t self_id;
    uint32_t self_incarnation;
    size_t max_members;          /* view size bound, >= 2 */
    size_t expected_members;     /* primary rule; 0: every view primary */
    uint64_t discovery_ns;       /* a fresh member waits this long to be
                                    taken into a group before it forms one
                                    of its own */
    uint64_t suspect_ns;         /* silence before a member is suspected */
    uint64_t verify_ns;          /* probing of a suspect before exclusion */
    uint64_t batch_ns;           /* wait after a first trigger so that
                                    concurrent joins share a change */
    uint64_t retry_ns;           /* resend PREPARE / COMMIT / INSTALLED */
    uint64_t flush_timeout_ns;   /* a proposed member that does not answer
                                    within this is left out (new attempt) */
    size_t datagram;             /* this member's max_datagram: a sender
                                    is taken in only once its heartbeat
                                    named the same (co_gms_heard_datagram)
                                    and a PATH of it, a datagram of that
                                    size, reached this member
                                    (co_gms_heard_path); 0: no such check */
    uint64_t path_wait_ns;       /* a sender of our size heard outside our
                                    view this long with no PATH arriving
                                    is told of (NARROW); 0: never */
} co_gms_config_t;

/* Why a member is no longer in the view (co_gms_departed). */
typedef enum co_gms_why {
    CO_GMS_LEFT = 0,             /* it said LEAVE */
    CO_GMS_FAILED = 1,           /* suspected: crashed or cut off */
} co_gms_why_t;

typedef enum co_gms_action_kind {
    CO_GMS_ACT_NONE = 0,
    CO_GMS_ACT_PREPARE,          /* multicast co_gms_proposal() */
    CO_GMS_ACT_FLUSH_OK,         /* answer proposal_id to `to` with this
                                    member's delivery vector of its view;
                                    from the first answer on, deliver
                                    nothing more until INSTALL (a sender's
                                    own report may count in another old
                                    view, so only the frozen vector is
                                    sure to be covered by the cut; to ==
                                    self: feed it to co_gms_on_flush_ok) */
    CO_GMS_ACT_COMMIT,           /* multicast co_gms_cuts() for proposal_id */
    CO_GMS_ACT_INSTALL,          /* deliver the old view through the cuts
                                    (co_gms_commit_cuts), then call
                                    co_gms_installed() */
    CO_GMS_ACT_INSTALLED,        /* tell `to` that proposal_id is installed */
    CO_GMS_ACT_PROBE,            /* ask `to` for a unicast heartbeat */
    CO_GMS_ACT_VIEW,             /* a view was installed: report it */
    CO_GMS_ACT_EXCLUDED,         /* `to`, of this member's view, is heard
                                    in view proposal_id, which cannot hold
                                    this member (it never answered it):
                                    tell the application, once a view */
    CO_GMS_ACT_MISMATCH,         /* `to` named another max_datagram: it is
                                    never taken in (co_gms_peer(to)->
                                    datagram); once a life of it */
    CO_GMS_ACT_NARROW,           /* `to` names our size and is heard
                                    outside our view, but none of its
                                    PATHs arrived for path_wait_ns: the
                                    path drops datagrams that long, so it
                                    is not taken in; once a life of it */
} co_gms_action_kind_t;

typedef struct co_gms_action {
    co_gms_action_kind_t kind;
    uint64_t proposal_id;
    uint32_t to;                 /* member id, for unicast actions */
} co_gms_action_t;

/* A known sender: liveness and the view it says it is in. */
typedef struct co_gms_peer {
    uint32_t id, incarnation;
    uint64_t heard_ns;
    uint64_t view_id;            /* from its latest datagram; 0: none */
    uint32_t datagram;           /* max_datagram its heartbeat named; 0:
                                    no heartbeat heard yet */
    uint64_t apart_ns;           /* since when it is heard outside our
                                    view, of our size, with no PATH; 0:
                                    not so */
    bool path;                   /* a PATH of this life arrived */
    bool narrow_told;            /* NARROW emitted for this life */
    uint64_t probe_at_ns;        /* next probe or the end of the
                                    verification; 0: nothing due */
    uint64_t suspect_at_ns;      /* verification ends; 0: not suspected */
    uint64_t unheeded_until_ns;  /* it let a proposal time out: until then
                                    hearing it does not clear the
                                    suspicion (it is alive but cannot take
                                    part, e.g. its application does not
                                    take events), so the next attempt
                                    leaves it out instead of waiting for
                                    it again; then it is taken in again */
    bool suspected;
    bool leaving;
    bool in_use;
} co_gms_peer_t;

#define CO_GMS_ACTIONS 16
#define CO_GMS_CUT_ROWS(max_members) (4 * (max_members))

typedef struct co_gms {
    co_gms_config_t cfg;
    const co_mem_t *mem;
    uint64_t discovery_at_ns;    /* end of discovery; 0: passed */
    uint64_t installed_ns;       /* when the view was installed */
    uint64_t lag_check_at_ns;    /* look for members that missed the
                                    last COMMIT; 0: none due */
    bool has_view;
    bool left;                   /* co_gms_leave() was called */
    co_view_t view;
    co_view_t prev;              /* the view before, for the report */

    co_gms_peer_t *peers;        /* 2 * max_members */
    size_t peer_cap;
    size_t peer_used;            /* peers[0 .. peer_used) are in use: slots
                                    are taken in order and never freed,
                                    only reused (peer_slot), so the walks
                                    done every turn stop there */

    /* participant side */
    uint64_t answered_id;        /* highest proposal answered; 0: none */
    uint32_t answered_to;
    uint64_t answer_expires_ns;  /* the answer stops binding (no COMMIT
                                    came); 0: passed or none */
    uint64_t given_up_id;        /* the highest answer given up (it
                                    expired, or this member proposed
                                    instead): it and every proposal below
                                    it are never answered again */
    uint32_t given_up_inc;       /* ... from that life of its proposer */
    uint64_t abandoned_id;       /* the highest view whose install this
                                    member gave up after its COMMIT: the
                                    others may be in it, holding this
                                    member (co_gms_install_abandon) */
    uint64_t excluded_in;        /* the view in which EXCLUDED was told */
    co_vasm_t proposal_in;       /* a proposal being assembled */
    co_view_t answered_view;     /* the proposal answered (answered_id) */
    co_cut_table_t commit_cuts;  /* the cut table of a COMMIT received */
    uint16_t commit_total;
    uint64_t commit_pid;         /* the proposal commit_cuts is filled for */
    bool installing;             /* INSTALL handed out, installed() due */
    uint32_t max_counter;        /* largest view counter heard of */

    /* coordinator side */
    uint64_t propose_at_ns;      /* 0: no change pending */
    uint64_t proposal_id;        /* 0: not proposing */
    uint64_t proposal_started_ns;
    co_view_t proposal;
    bool *answered;              /* per proposal member */
    bool *acked;                 /* per proposal member, after COMMIT */
    co_cut_table_t cuts;
    bool committed;
    uint64_t resend_at_ns;

    co_gms_action_t act[CO_GMS_ACTIONS];
    size_t act_head, act_count;
    uint64_t dropped;            /* membership datagrams refused */
    uint64_t refused;            /* proposals refused: they split a view
                                    just installed (splits_new_view) */
} co_gms_t;

/* Set up with storage for every table. Returns 0, or -1 when an
 * allocation failed (then nothing is held). */
int co_gms_init(co_gms_t *g, const co_gms_config_t *cfg, uint64_t now_ns);
void co_gms_free(co_gms_t *g);

/* Any authenticated datagram from (id, incarnation) whose header says
 * view_id: liveness, and where its sender stands. */
void co_gms_heard(co_gms_t *g, uint64_t now_ns, uint32_t id,
                  uint32_t incarnation, uint64_t view_id);

/* A heartbeat of (id, incarnation), just heard (co_gms_heard), named
 * datagram as its max_datagram (the first a life names stands). With
 * cfg.datagram set, a sender is taken into a view only once it named the
 * same: a member drops datagrams longer than its own limit, so two that
 * differ cannot share a view (MISMATCH says so, once). */
void co_gms_heard_datagram(co_gms_t *g, uint64_t now_ns, uint32_t id,
                           uint32_t incarnation, size_t datagram);

/* A PATH of (id, incarnation) arrived, just heard (co_gms_heard): the
 * path from it carries datagrams of its max_datagram, so it may be taken
 * in. */
void co_gms_heard_path(co_gms_t *g, uint64_t now_ns, uint32_t id,
                       uint32_t incarnation);

/* Whether this member should multicast a PATH now (the caller sends one
 * with a heartbeat, at most one every half interval): it has no view, or
 * hears a sender that may join it (of its size, or of a size not yet
 * heard) outside its view, or a member of its view in another view. A
 * settled group sends none. */
bool co_gms_path_wanted(const co_gms_t *g, uint64_t now_ns);

/* A member said LEAVE. */
void co_gms_on_leave(co_gms_t *g, uint64_t now_ns, uint32_t id,
                     uint32_t incarnation);

/* One PREPARE chunk from `from`. */
/* from_inc: the sender's incarnation (a proposal is its proposer's life's). */
void co_gms_on_prepare(co_gms_t *g, uint64_t now_ns, uint32_t from,
                       uint32_t from_inc, const co_vchunk_t *chunk);

/* A FLUSH_OK: from (id) in old view (old_view_id, old_proposer_inc; both
 * 0 for a member without a view) with its vector. */
void co_gms_on_flush_ok(co_gms_t *g, uint64_t now_ns, uint32_t from,
                        uint64_t proposal_id, uint64_t old_view_id,
                        uint32_t old_proposer_inc,
                        const co_flush_entry_t *entries, size_t count);

/* One COMMIT cut chunk. */
void co_gms_on_commit(co_gms_t *g, uint64_t now_ns, uint32_t from,
                      uint32_t from_inc, const co_cut_chunk_t *chunk);

/* An INSTALLED from `from`. */
void co_gms_on_installed(co_gms_t *g, uint64_t now_ns, uint32_t from,
                         uint64_t proposal_id);

/* This member leaves: it stops coordinating and answering. */
void co_gms_leave(co_gms_t *g, uint64_t now_ns);

/* The flush delivery of the INSTALL action is done. */
void co_gms_installed(co_gms_t *g, uint64_t now_ns);

/* The flush delivery of the INSTALL action cannot finish (what is
 * missing is held by no one reachable): the committed view is not
 * installed here. This member stays in its view, blocked, and answers
 * the next proposal with what it has delivered by then; a proposer
 * gives its committed proposal up. Nothing is lost to the other members:
 * those that installed the view take this one in again by a later change
 * (it names an older view), each side with its own cut. */
void co_gms_install_abandon(co_gms_t *g, uint64_t now_ns);

void co_gms_tick(co_gms_t *g, uint64_t now_ns);
uint64_t co_gms_deadline(const co_gms_t *g);

bool co_gms_next_action(co_gms_t *g, co_gms_action_t *out);

/* State for the caller. */
static inline bool co_gms_has_view(const co_gms_t *g) { return g->has_view; }
static inline const co_view_t *co_gms_view(const co_gms_t *g)
{
    return &g->view;
}
/* The previous view (for what changed), valid after a VIEW action. */
static inline const co_view_t *co_gms_prev_view(const co_gms_t *g)
{
    return &g->prev;
}
/* Sends and deliveries are held: no view yet, or a proposal was answered
 * and no view installed since. */
static inline bool co_gms_blocked(const co_gms_t *g)
{
    return !g->has_view || g->answered_id > g->view.id;
}
/* An INSTALL was handed out and neither installed nor abandoned yet. */
static inline bool co_gms_installing(const co_gms_t *g)
{
    return g->installing;
}
/* This member's own proposal is committed and some member of it (this
 * one too) has not said INSTALLED yet: the COMMIT is still being resent,
 * until *until_ns (if not NULL) at the latest. A member that leaves
 * meanwhile would split the view: those that missed every copy give
 * their answer up and go on from the old view without those that
 * installed. False once left: co_gms_leave() drops the proposal. */
static inline bool co_gms_committing(const co_gms_t *g, uint64_t *until_ns)
{
    if (g->proposal_id == 0 || !g->committed)
        return false;
    if (until_ns)
        *until_ns = g->proposal_started_ns + 2 * g->cfg.flush_timeout_ns;
    return true;
}
/* The proposal this member answered (members listed), for the freeze. */
static inline const co_view_t *co_gms_answered(const co_gms_t *g)
{
    return &g->answered_view;
}
static inline const co_view_t *co_gms_proposal(const co_gms_t *g)
{
    return &g->proposal;
}
static inline const co_cut_table_t *co_gms_cuts(const co_gms_t *g)
{
    return &g->cuts;
}
/* The sender id as last heard, or NULL. */
const co_gms_peer_t *co_gms_peer(const co_gms_t *g, uint32_t id);

static inline const co_cut_table_t *co_gms_commit_cuts(const co_gms_t *g)
{
    return &g->commit_cuts;
}
/* Why a member of the previous view is not in the new one. */
co_gms_why_t co_gms_departed(const co_gms_t *g, uint32_t id,
                             uint32_t incarnation);

#endif /* COHORT_GMS_H */
