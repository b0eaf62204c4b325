/*
 * vs_check.h - the group-membership property checker: feed it a history of
 * what member incarnations did (installed a view, sent, delivered, stopped)
 * and it reports every violated view and virtual-synchrony guarantee.
 *
 * It depends on nothing but cohort_member_t, so the simulator (tests/sim)
 * and the real-process harness (members' logs) can both feed it. All memory
 * is allocated by vs_check_new from the configured bounds; a history that
 * needs more records one "capacity" violation and stops checking, so a
 * truncated check never passes silently and never reports false failures.
 *
 * Same calls in the same order give the same violations, in the same order,
 * with the same texts: nothing iterates in pointer or hash order.
 *
 * What it expects of the history: reliable (FIFO mode) messages only, so
 * a receiver that delivers a sender's message delivered all the sender's
 * earlier messages of that view; vs_check_final after the heal phase has
 * drained, so every message of a final view was delivered by all of it.
 *
 * Reading the history: events for one incarnation are in the order it did
 * them; events of different incarnations may be interleaved in any order
 * that keeps each send before its deliveries. A member is {id,
 * incarnation}; a restarted process is a new member. Texts name members as
 * "id.incarnation", messages as "sender#key" and views by id.
 */
#ifndef COHORT_VS_CHECK_H
#define COHORT_VS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cohort.h"

/* The guarantees, each checked on its own and counted on its own. A text
 * starts with the property's name (vs_check_prop_name) and a colon. */
typedef enum vs_prop {
    VS_PROP_SELF_INCLUSION = 0, /* an installed view contains the installer */
    VS_PROP_MONOTONIC,       /* an incarnation's view ids strictly increase */
    VS_PROP_AGREEMENT,       /* one view id: same members, order, primary */
    VS_PROP_SYNCHRONY,       /* members moving V->W delivered the same set of
                                V's messages */
    VS_PROP_SENDING_VIEW,    /* delivered in the view it was sent in, and
                                tagged with that view */
    VS_PROP_IN_VIEW,         /* no send or delivery outside a view, before
                                the first view or after a stop; the sender
                                is in the receiver's view */
    VS_PROP_EXACTLY_ONCE,    /* no message delivered twice to a receiver */
    VS_PROP_FIFO,            /* a sender's messages of one view delivered in
                                the order sent, without gaps */
    VS_PROP_SELF_DELIVERY,   /* own messages delivered (on) / not (off) */
    VS_PROP_LIVENESS,        /* at the end a component shares one view of
                                exactly its members, all of it delivered */
    VS_PROP_FORGERY,         /* a delivered message that was never sent */
    VS_PROP_TRANSITIONAL,    /* a member a view event reports as coming
                                along (in the installer's previous view
                                and not among those joined) moved to the
                                new view from that same previous view */
    VS_PROP_INPUT,           /* the history itself is malformed: a key sent
                                twice by one incarnation */
    VS_PROP_CAPACITY,        /* the configured bounds were exceeded */
    VS_PROP_COUNT_
} vs_prop_t;

typedef struct vs_check_config {
    size_t max_members;  /* incarnations tracked (also the largest view) */
    size_t max_views;    /* views installed per incarnation */
    size_t max_msgs;     /* messages sent, all senders together */
    size_t max_texts;    /* violations kept with a text (the rest counted) */
    bool self_delivery;  /* members deliver their own messages (cohort's
                            default); false: they must not */
    bool proposer_named; /* views are named by their id and the
                            incarnation of their proposer, the member
                            whose id is the id's low 32 bits (cohort's
                            scheme: a member restarted under the same id
                            may reuse an id of its previous life); default
                            false: by the id alone */
} vs_check_config_t;

typedef struct vs_check vs_check_t;

/* Fill cfg with the defaults: 16 members, 64 views each, 4096 messages,
 * 32 texts, self-delivery on. */
void vs_check_config_init(vs_check_config_t *cfg);

/* Allocate a checker sized by cfg (copied; max_members, max_views and
 * max_msgs at least 1, asserted; max_texts may be 0).
 * Returns 0 and *out, or -1 when memory runs out (*out untouched). */
int vs_check_new(vs_check_t **out, const vs_check_config_t *cfg);
void vs_check_free(vs_check_t *c); /* NULL is fine */

/* who installed view view_id: members (n of them, caller's array, copied)
 * in the view's order, primary flag. Checks self-inclusion, monotonic ids,
 * agreement with earlier installs of view_id, and, when who leaves a view
 * V for this one, virtual synchrony against every member that already
 * moved from V to this view, and that who delivered what it sent in V. */
void vs_check_install(vs_check_t *c, cohort_member_t who, uint64_t view_id,
                      const cohort_member_t *members, size_t n, bool primary);

/* who's view event for view_id (its latest install) named these members
 * as joined (n of them, caller's array). Every other member of view_id
 * that was in who's previous view is thereby reported as coming along
 * from that view; each such member must install view_id with that same
 * previous view (checked now for those that installed it already, and at
 * their install for the others). Not calling it claims nothing. */
void vs_check_joined(vs_check_t *c, cohort_member_t who, uint64_t view_id,
                     const cohort_member_t *joined, size_t n);

/* Whether who installed view view_id: 1 with `other` not among its
 * members, 0 with it, -1 when who never installed it (as far as the
 * history goes). For claims like "other's view does not hold me". */
int vs_check_installed_without(const vs_check_t *c, cohort_member_t who,
                               uint64_t view_id, cohort_member_t other);

/* sender sent message key (unique per sender incarnation) while its view
 * was view_id. view_id 0: a held send (a library that holds sends during
 * a view change sends them in the next view): the message belongs to the
 * view of its first delivery, which every other delivery, the sender's
 * own included, must then agree with. */
void vs_check_sent(vs_check_t *c, cohort_member_t sender, uint64_t key,
                   uint64_t view_id);

/* receiver delivered sender's message key, tagged as sent in view_id. At
 * most one violation per delivery, the first of: in-view (no view,
 * stopped), forgery, exactly-once, sending-view, in-view (sender not in
 * the view), self-delivery (when off), FIFO. */
void vs_check_delivered(vs_check_t *c, cohort_member_t receiver,
                        cohort_member_t sender, uint64_t key,
                        uint64_t view_id);

/* who crashed or closed: its history ends (later events are violations).
 * Unknown or already stopped: nothing happens. */
void vs_check_stopped(vs_check_t *c, cohort_member_t who);

/* End of the run, once per connected component of live members (live, n,
 * caller's array): each has installed the same last view, whose members are
 * exactly live, and has delivered every message sent in it (its own ones
 * when self-delivery is on). */
void vs_check_final(vs_check_t *c, const cohort_member_t *live, size_t n);

/* Violations found so far, all properties, and those of one property. */
size_t vs_check_violations(const vs_check_t *c);
size_t vs_check_count(const vs_check_t *c, vs_prop_t p);
/* Text of violation i (in the order found), NULL when i >= max_texts or
 * i >= vs_check_violations(). Owned by c, valid until vs_check_free. */
const char *vs_check_violation(const vs_check_t *c, size_t i);
/* "self-inclusion", "monotonic", ...: the prefix of the texts. */
const char *vs_check_prop_name(vs_prop_t p);

#endif
