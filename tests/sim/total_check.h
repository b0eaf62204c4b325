/*
 * total_check.h - the total-order property checker: feed it what member
 * incarnations did (installed a view, delivered a message with its mode,
 * order and flags, first held a message, stopped) and it reports every
 * violated guarantee of COHORT_TOTAL and COHORT_SAFE (docs/guarantees.md,
 * "Total order"):
 *
 *  1. sender order: per (receiver, sender) the reliable messages (FIFO,
 *     TOTAL, SAFE) come in the order sent (the caller's seq, from 1);
 *  2. numbering: TOTAL/SAFE deliveries carry order 1, 2, 3, ... in each
 *     view at each member, and the view_id of the view they are delivered
 *     in; other modes carry order 0 and no flag; no unknown flag;
 *  3. agreement: one (view, order) names one message at every member that
 *     delivered it regularly (not COHORT_MESSAGE_TRANSITIONAL), and one
 *     message has one position in a view, crashed members included; so the
 *     regular sequences of a view are prefixes of one another;
 *  4. transition: members that move from view V to the same next view W
 *     delivered exactly the same TOTAL/SAFE sequence in V, regular and
 *     transitional, with the same flags; transitional deliveries come only
 *     after the last regular one of the view, and only in TOTAL;
 *  5. uniform: a SAFE message delivered in V at position p by anyone (even
 *     a member that crashes right after) is delivered at p in V by every
 *     member that installs its next view from V or ends the run in V,
 *     unless it stopped in V first;
 *  6. held (when told what members held, total_check_held): a SAFE
 *     message is delivered only once every member of the view held it.
 *
 * It depends on nothing but cohort.h, so the simulator (tests/sim) and
 * the harness (members' logs) both feed it. The history may interleave
 * members in any order that keeps each member's own events in order; a
 * member's held events must come before the deliveries that need them.
 * Its tables grow with the history up to the configured bounds; a history
 * beyond them records one "capacity" violation and stops checking, so a
 * truncated check never passes silently. Same calls, same texts, in the
 * same order: nothing iterates in hash order.
 */
#ifndef COHORT_TOTAL_CHECK_H
#define COHORT_TOTAL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cohort.h"

typedef enum total_prop {
    TOTAL_PROP_SENDER_ORDER = 0, /* rule 1 */
    TOTAL_PROP_NUMBERING,        /* rule 2 */
    TOTAL_PROP_AGREEMENT,        /* rule 3 */
    TOTAL_PROP_TRANSITION,       /* rule 4: same sequence moving V->W */
    TOTAL_PROP_TRANSITIONAL,     /* rule 4: transitional at the end, TOTAL */
    TOTAL_PROP_UNIFORM,          /* rule 5 */
    TOTAL_PROP_HELD,             /* rule 6 */
    TOTAL_PROP_INPUT,            /* the history itself is malformed */
    TOTAL_PROP_CAPACITY,         /* the configured bounds were exceeded */
    TOTAL_PROP_COUNT_
} total_prop_t;

typedef struct total_check_config {
    size_t max_members;    /* incarnations tracked (and largest view) */
    size_t max_views;      /* distinct views, all members together */
    size_t max_entries;    /* TOTAL/SAFE deliveries, all members together */
    size_t max_texts;      /* violations kept with a text */
    bool proposer_named;   /* views named by id and the incarnation of the
                              member whose id is the id's low 32 bits (as
                              vs_check_config_t) */
    bool check_held;       /* rule 6: held events are fed */
    bool positions_shared; /* members deliver their own messages too
                              (self-delivery), so positions are comparable
                              across members (rules 3, 4, 5); false: only
                              rules 1, 2 and the transitional part of 4 */
} total_check_config_t;

typedef struct total_check total_check_t;

/* Defaults: 64 members, 4096 views, 1 << 20 entries, 32 texts, proposer
 * named, held not checked, positions shared. */
void total_check_config_init(total_check_config_t *cfg);

/* Returns 0 and *out, or -1 when memory runs out (*out untouched). */
int total_check_new(total_check_t **out, const total_check_config_t *cfg);
void total_check_free(total_check_t *c); /* NULL is fine */

/* who installed view_id with members (n, caller's array, copied). Leaving
 * its previous view V for this one checks rules 4 and 5 for V. */
void total_check_install(total_check_t *c, cohort_member_t who,
                         uint64_t view_id, const cohort_member_t *members,
                         size_t n);

/* who delivered sender's message key (unique per sender incarnation and
 * mode stream) in mode, tagged view_id, order and flags as the event
 * said. seq: the message's place in the sender's reliable stream, from 1
 * (rule 1); 0: not known (not checked). */
void total_check_delivered(total_check_t *c, cohort_member_t who,
                           cohort_member_t sender, uint64_t key,
                           uint64_t seq, cohort_mode_t mode, uint64_t view_id,
                           uint64_t order, uint32_t flags);

/* who's core first held sender's message key (all of it): rule 6. A
 * sender holds its own messages from the start. */
void total_check_held(total_check_t *c, cohort_member_t who,
                      cohort_member_t sender, uint64_t key);

/* who's view ended while it waited for a state transfer placed in it
 * (cohort.h, "State transfer"): the core dropped the TOTAL and SAFE
 * messages it held past the request's place (messages_superseded), so
 * its sequence of that view is a prefix only: rules 4 and 5 do not hold
 * it to the others' when it installs its next view (rule 3 still does). */
void total_check_superseded(total_check_t *c, cohort_member_t who);

/* who crashed or closed: it owes nothing more (rule 5). */
void total_check_stopped(total_check_t *c, cohort_member_t who);

/* End of the run: live (n, caller's array) end in their current views,
 * which must hold every SAFE message delivered there (rule 5). */
void total_check_final(total_check_t *c, const cohort_member_t *live,
                       size_t n);

size_t total_check_violations(const total_check_t *c);
size_t total_check_count(const total_check_t *c, total_prop_t p);
/* Text of violation i, NULL past max_texts or the count. Owned by c. */
const char *total_check_violation(const total_check_t *c, size_t i);
/* "sender order", "numbering", ...: the prefix of the texts. */
const char *total_check_prop_name(total_prop_t p);

#endif
